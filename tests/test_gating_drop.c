/*
 * The decode -> inference queue's policy: a live input's decoder never waits
 * for the consumer (the oldest frame in the full queue is evicted, its
 * buffers back in their pools, the end still delivered), a file's decoder
 * waits and loses nothing. Driven on vtest.avi with a consumer that pops
 * only once the decoder is done (synchronised on the queue's counters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pipeline/pipeline_internal.h"
#include "support/io_fixtures.h"

#define FRAMES 40
#define DEPTH 2

static vg_source *open_video(vg_context *ctx, vg_source_opts *so)
{
    char video[1024];
    vg_source *src = NULL;
    if (!io_cache_video(video, sizeof(video), "vtest.avi"))
        return NULL;
    vg_source_opts_default(so);
    so->keep_image = 1;
    so->pool_size = DEPTH + 2; /* far fewer than FRAMES */
    so->image_pool_size = DEPTH + 2;
    assert_int_equal(vg_source_open(ctx, video, so, &src), 0);
    return src;
}

/* Waits until the decoder has pushed `pushes` items (or 120 s pass: then
 * the test fails rather than hangs). */
static void wait_pushed(vg_queue *q, unsigned long long pushes)
{
    struct timespec ts = {0, 2000000};
    for (int i = 0; i < 60000; i++) {
        vg_queue_stats st;
        vg_queue_stats_get(q, &st);
        if (st.pushed >= pushes)
            return;
        nanosleep(&ts, NULL);
    }
    fail_msg("the decoder did not push %llu items", pushes);
}

static void assert_pools_idle(vg_source *src)
{
    vg_pool *tensor = NULL, *image = NULL;
    vg_pool_stats ps;
    vg_source_pools(src, &tensor, &image);
    if (tensor) {
        vg_pool_stats_get(tensor, &ps);
        assert_int_equal(ps.in_use, 0);
    }
    assert_non_null(image);
    vg_pool_stats_get(image, &ps);
    assert_int_equal(ps.in_use, 0);
    assert_true(ps.gets >= FRAMES);
}

static void
test_live_queue_drops_the_oldest_and_returns_its_buffers(void **state)
{
    vg_context *ctx;
    vg_source_opts so;
    vg_source *src;
    vgi_decoder dec;
    vgi_frame_item it;
    int64_t last = -1;
    int frames = 0, ended = 0;
    (void)state;

    assert_int_equal(vg_context_create(&ctx), 0);
    src = open_video(ctx, &so);
    if (!src) {
        vg_context_destroy(&ctx);
        skip();
    }
    /* live, without reconnection (rc NULL): the policy alone */
    assert_int_equal(vgi_decoder_start_live(ctx, &dec, src, DEPTH, FRAMES, NULL,
                                            &so, NULL, "vtest", 768, 576, 10.0),
                     0);
    /* every frame and the end went in, though nobody popped: the decoder
     * was never held back (with the pools far smaller than FRAMES, it
     * would have stalled had an evicted frame kept its buffers) */
    wait_pushed(dec.q, FRAMES + 1);
    while (vg_queue_pop(dec.q, &it, 0) == 0) {
        if (it.end_code != 0) {
            assert_int_equal(it.end_code, VG_EOF);
            ended = 1;
            continue;
        }
        assert_int_equal(it.marker, VGI_MARK_FRAME);
        assert_true(it.frame.index > last); /* the newest, in order */
        assert_true(it.arrival_ns > 0);
        last = it.frame.index;
        frames++;
        vg_frame_release(&it.frame);
    }
    assert_int_equal(ended, 1);
    assert_int_equal(last, FRAMES - 1);
    vgi_decoder_finish(&dec);
    assert_int_equal(dec.dropped, FRAMES - frames);
    assert_true(frames < DEPTH + 1);
    assert_pools_idle(src);
    vg_source_close(&src);
    vg_context_destroy(&ctx);
}

static void test_file_queue_blocks_and_loses_nothing(void **state)
{
    vg_context *ctx;
    vg_source_opts so;
    vg_source *src;
    vgi_decoder dec;
    vgi_frame_item it;
    int frames = 0;
    (void)state;

    assert_int_equal(vg_context_create(&ctx), 0);
    src = open_video(ctx, &so);
    if (!src) {
        vg_context_destroy(&ctx);
        skip();
    }
    assert_int_equal(vgi_decoder_start(ctx, &dec, src, DEPTH, FRAMES), 0);
    wait_pushed(dec.q, DEPTH); /* full: the decoder now waits */
    while (vg_queue_pop(dec.q, &it, -1) == 0 && it.end_code == 0) {
        assert_int_equal(it.frame.index, frames);
        assert_true(it.arrival_ns > 0);
        frames++;
        vg_frame_release(&it.frame);
    }
    assert_int_equal(frames, FRAMES);
    vgi_decoder_finish(&dec);
    assert_int_equal(dec.dropped, 0);
    assert_pools_idle(src);
    vg_source_close(&src);
    vg_context_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_live_queue_drops_the_oldest_and_returns_its_buffers),
        cmocka_unit_test(test_file_queue_blocks_and_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
