/* vg_motion: the motion gate on synthetic pictures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/motion.h"

#define W 320
#define H 240
#define STRIDE (3 * W + 16) /* padded rows */
#define SEC 1000000000LL

typedef struct fixture {
    vg_context *ctx;
    uint8_t pic[STRIDE * H];
    uint32_t noise;
} fixture;

static int setup(void **state)
{
    static fixture fx;
    memset(&fx, 0, sizeof(fx));
    if (vg_context_create(&fx.ctx) < 0)
        return -1;
    vg_context_set_log_level(fx.ctx, VG_LOG_QUIET);
    fx.noise = 12345;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(fx->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&fx->ctx);
    return 0;
}

static int clamp(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* A textured scene (values 30..170) plus brightness, with sensor noise of
 * +-6 per pixel that changes from frame to frame. */
static void scene(fixture *fx, int brightness)
{
    for (int y = 0; y < H; y++) {
        uint8_t *row = fx->pic + (size_t)y * STRIDE;
        for (int x = 0; x < W; x++) {
            int base = 30 + (x * 7 + y * 3) % 90 + ((x / 16 + y / 16) % 2) * 50;
            fx->noise = fx->noise * 1103515245u + 12345u;
            int n = (int)((fx->noise >> 16) % 13) - 6;
            int v = clamp(base + brightness + n);
            row[3 * x] = (uint8_t)clamp(v + 10);
            row[3 * x + 1] = (uint8_t)v;
            row[3 * x + 2] = (uint8_t)clamp(v - 10);
        }
    }
}

static void square(fixture *fx, int x0, int y0, int size, int value)
{
    for (int y = y0; y < y0 + size && y < H; y++)
        for (int x = x0; x < x0 + size && x < W; x++)
            memset(fx->pic + (size_t)y * STRIDE + 3 * x, value, 3);
}

static vg_motion *make(fixture *fx, const vg_motion_opts *o)
{
    vg_motion *m;
    assert_int_equal(vg_motion_create(fx->ctx, o, &m), 0);
    return m;
}

static vg_motion_opts defaults(void)
{
    vg_motion_opts o = vg_motion_defaults();
    o.width = W;
    o.height = H;
    return o;
}

static void feed(fixture *fx, vg_motion *m, vg_motion_result *r)
{
    assert_int_equal(vg_motion_update(m, fx->pic, W, H, STRIDE, r), 0);
}

/* n still frames after the seed; asserts none has motion. */
static void warm_up(fixture *fx, vg_motion *m, int n)
{
    vg_motion_result r;
    for (int i = 0; i < n; i++) {
        scene(fx, 0);
        feed(fx, m, &r);
        assert_int_equal(r.motion, 0);
    }
}

static void test_still_frames_have_no_motion(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion *m = make(fx, &o);
    vg_motion_result r;
    vg_motion_stats st;

    scene(fx, 0);
    feed(fx, m, &r);
    assert_int_equal(r.reset, 1); /* the first picture seeds */
    assert_int_equal(r.motion, 0);
    for (int i = 0; i < 100; i++) {
        scene(fx, 0);
        feed(fx, m, &r);
        assert_int_equal(r.motion, 0);
        assert_int_equal(r.reset, 0);
        assert_true(r.changed == 0);
    }
    vg_motion_stats_get(m, &st);
    assert_int_equal(st.frames_seen, 101);
    assert_int_equal(st.frames_motion, 0);
    assert_int_equal(st.grey_height, 120);
    assert_int_equal(st.grey_width, 160);
    assert_int_equal(st.counted_pixels, 160 * 120);
    vg_motion_destroy(&m);
    assert_null(m);
}

static void test_moving_square_is_motion_with_a_box_around_it(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion *m = make(fx, &o);
    vg_motion_result r;

    warm_up(fx, m, 20);
    for (int i = 0; i < 25; i++) {
        int sx = 40 + 8 * i, sy = 100 - 2 * i;
        scene(fx, 0);
        square(fx, sx, sy, 40, 250);
        feed(fx, m, &r);
        assert_int_equal(r.motion, 1);
        assert_true(r.changed > o.min_area);
        /* the box holds the square and not much more (blur: 1 grey px) */
        assert_true(r.x0 <= sx && r.x1 >= sx + 40);
        assert_true(r.y0 <= sy && r.y1 >= sy + 40);
        assert_true(r.x0 >= sx - 6 && r.x1 <= sx + 40 + 6);
        assert_true(r.y0 >= sy - 6 && r.y1 <= sy + 40 + 6);
    }
    /* the square leaves: the scene is still again */
    scene(fx, 0);
    feed(fx, m, &r);
    assert_int_equal(r.motion, 0);
    vg_motion_destroy(&m);
}

/* A 1280x720 picture: grey cells are 6x6 source pixels, so the sampled
 * average (cell_samples 4) and the exact one (0) take different pixels. */
static void big_scene(uint8_t *pic, int w, int h, int sx, int sy, uint32_t *rs)
{
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int v = 30 + (x * 5 + y * 3) % 90 + ((x / 24 + y / 24) % 2) * 50;
            *rs = *rs * 1103515245u + 12345u;
            v += (int)((*rs >> 16) % 13) - 6;
            if (x >= sx && x < sx + 96 && y >= sy && y < sy + 96)
                v = 250;
            memset(pic + ((size_t)y * w + x) * 3, clamp(v), 3);
        }
    }
}

static void test_sampled_and_exact_average_see_the_same_square(void **state)
{
    fixture *fx = *state;
    const int w = 1280, h = 720;
    uint8_t *pic = test_malloc((size_t)w * h * 3);
    uint32_t rs = 7;

    for (int samples = 0; samples <= 4; samples += 2) {
        vg_motion_opts o = vg_motion_defaults();
        vg_motion *m;
        vg_motion_result r;
        vg_motion_stats st;
        o.width = w;
        o.height = h;
        o.cell_samples = samples;
        assert_int_equal(vg_motion_create(fx->ctx, &o, &m), 0);
        vg_motion_stats_get(m, &st);
        assert_int_equal(st.grey_width, 213);
        assert_int_equal(st.grey_height, 120);
        for (int i = 0; i < 5; i++) {
            big_scene(pic, w, h, -1000, -1000, &rs);
            assert_int_equal(vg_motion_update(m, pic, w, h, 3 * w, &r), 0);
            assert_int_equal(r.motion, 0);
        }
        for (int i = 0; i < 5; i++) {
            int sx = 300 + 40 * i, sy = 200 + 12 * i;
            big_scene(pic, w, h, sx, sy, &rs);
            assert_int_equal(vg_motion_update(m, pic, w, h, 3 * w, &r), 0);
            assert_int_equal(r.motion, 1);
            /* within a grey pixel and the blur (2 cells, ~13 px) */
            assert_true(r.x0 <= sx + 6 && r.x0 >= sx - 14);
            assert_true(r.x1 >= sx + 96 - 6 && r.x1 <= sx + 96 + 14);
            assert_true(r.y0 <= sy + 6 && r.y0 >= sy - 14);
            assert_true(r.y1 >= sy + 96 - 6 && r.y1 <= sy + 96 + 14);
        }
        vg_motion_destroy(&m);
    }
    test_free(pic);
}

static void test_motion_inside_a_mask_is_ignored(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion_result r;
    vg_motion_stats st;

    /* left half masked */
    o.mask_count = 1;
    o.masks[0] = (vg_motion_polygon){
        .n = 4, .points = {{0, 0}, {0.5f, 0}, {0.5f, 1}, {0, 1}}};
    vg_motion *m = make(fx, &o);
    vg_motion_stats_get(m, &st);
    assert_int_equal(st.counted_pixels, 80 * 120);
    warm_up(fx, m, 10);
    for (int i = 0; i < 10; i++) {
        scene(fx, 0);
        square(fx, 20 + 8 * i, 60, 40, 250); /* x < 140 < 160 */
        feed(fx, m, &r);
        assert_int_equal(r.motion, 0);
        assert_true(r.changed == 0);
    }
    /* the same square in the open half is seen */
    scene(fx, 0);
    square(fx, 220, 60, 40, 250);
    feed(fx, m, &r);
    assert_int_equal(r.motion, 1);
    assert_true(r.x0 >= 160);
    vg_motion_destroy(&m);
}

static void test_triangle_mask_counts_only_outside(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion_stats st;

    o.mask_count = 2;
    /* lower-left triangle, and a square overlapping it */
    o.masks[0] =
        (vg_motion_polygon){.n = 3, .points = {{0, 0}, {1, 1}, {0, 1}}};
    o.masks[1] = (vg_motion_polygon){
        .n = 4, .points = {{0, 0.5f}, {0.25f, 0.5f}, {0.25f, 1}, {0, 1}}};
    vg_motion *m = make(fx, &o);
    vg_motion_stats_get(m, &st);
    /* about half the picture is left (pixel centres on the diagonal) */
    assert_true(st.counted_pixels > 160 * 120 / 2 - 200);
    assert_true(st.counted_pixels < 160 * 120 / 2 + 200);
    vg_motion_destroy(&m);
}

static void test_slow_lighting_drift_is_not_motion(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion *m = make(fx, &o);
    vg_motion_result r;

    warm_up(fx, m, 10);
    for (int i = 0; i < 120; i++) { /* 0 -> +60 over 120 frames */
        scene(fx, i / 2);
        feed(fx, m, &r);
        assert_int_equal(r.motion, 0);
    }
    for (int i = 120; i > 0; i -= 2) { /* back down */
        scene(fx, i / 2);
        feed(fx, m, &r);
        assert_int_equal(r.motion, 0);
    }
    vg_motion_destroy(&m);
}

static void test_sudden_global_brightness_step_is_not_motion(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion *m = make(fx, &o);
    vg_motion_result r;

    warm_up(fx, m, 10);
    for (int i = 0; i < 10; i++) {
        scene(fx, 40);
        feed(fx, m, &r);
        assert_int_equal(r.motion, 0);
        assert_int_equal(r.reset, 0); /* compensated, not reseeded */
        assert_true(r.changed == 0);
    }
    /* and motion is still seen on top of the brighter scene */
    scene(fx, 40);
    square(fx, 100, 100, 40, 0);
    feed(fx, m, &r);
    assert_int_equal(r.motion, 1);
    vg_motion_destroy(&m);
}

static void test_whole_scene_change_reseeds_the_background(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    o.lightning_fraction = 0.6;
    vg_motion *m = make(fx, &o);
    vg_motion_result r;
    vg_motion_stats st;

    warm_up(fx, m, 5);
    /* a different scene everywhere (the camera turned): reseed */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            memset(fx->pic + (size_t)y * STRIDE + 3 * x,
                   ((x / 32 + y / 32) % 2) ? 250 : 0, 3);
    feed(fx, m, &r);
    assert_int_equal(r.motion, 0);
    assert_int_equal(r.reset, 1);
    assert_true(r.changed > o.lightning_fraction);
    assert_int_equal(vg_motion_should_detect(m, 0, 0), 1); /* first */
    /* a changed scene is worth a look even within max_idle_s */
    assert_int_equal(vg_motion_should_detect(m, 0, 1), 1);
    feed(fx, m, &r); /* the new scene is the background now */
    assert_int_equal(r.motion, 0);
    assert_int_equal(r.reset, 0);
    assert_int_equal(vg_motion_should_detect(m, 0, 2), 0);
    vg_motion_stats_get(m, &st);
    assert_int_equal(st.resets, 2);
    vg_motion_destroy(&m);
}

static void test_small_change_below_min_area_is_not_motion(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion_result r;

    o.min_area = 0.01; /* 192 grey pixels */
    vg_motion *m = make(fx, &o);
    warm_up(fx, m, 5);
    scene(fx, 0);
    square(fx, 100, 100, 16, 250); /* ~ 8x8 grey pixels */
    feed(fx, m, &r);
    assert_true(r.changed > 0);
    assert_true(r.changed <= 0.01);
    assert_int_equal(r.motion, 0);
    assert_true(r.x1 > r.x0); /* the box is still given */
    vg_motion_destroy(&m);

    o.min_area = 0.001;
    m = make(fx, &o);
    warm_up(fx, m, 5);
    scene(fx, 0);
    square(fx, 100, 100, 16, 250);
    feed(fx, m, &r);
    assert_int_equal(r.motion, 1);
    vg_motion_destroy(&m);
}

static void test_detection_is_forced_every_max_idle(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion_result r;
    vg_motion_stats st;
    int said[21];

    o.max_idle_s = 5;
    vg_motion *m = make(fx, &o);
    for (int t = 0; t <= 20; t++) { /* one still frame a second */
        scene(fx, 0);
        feed(fx, m, &r);
        said[t] = vg_motion_should_detect(m, 0, t * SEC);
    }
    for (int t = 0; t <= 20; t++)
        assert_int_equal(said[t], t % 5 == 0);
    vg_motion_stats_get(m, &st);
    assert_int_equal(st.decisions, 21);
    assert_int_equal(st.detections, 5);
    assert_int_equal(st.forced, 4); /* the first is not forced */
    assert_int_equal(st.frames_skipped_idle, 16);

    /* active tracks detect on every frame and restart the idle clock */
    assert_int_equal(vg_motion_should_detect(m, 1, 21 * SEC), 1);
    assert_int_equal(vg_motion_should_detect(m, 0, 25 * SEC), 0);
    assert_int_equal(vg_motion_should_detect(m, 0, 26 * SEC), 1);
    /* motion detects at once */
    scene(fx, 0);
    square(fx, 100, 100, 40, 250);
    feed(fx, m, &r);
    assert_int_equal(r.motion, 1);
    assert_int_equal(vg_motion_should_detect(m, 0, 26 * SEC + 1), 1);
    vg_motion_stats_get(m, &st);
    assert_int_equal(st.forced, 5);
    vg_motion_destroy(&m);
}

static void test_zero_max_idle_detects_every_frame(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    o.max_idle_s = 0;
    vg_motion *m = make(fx, &o);
    vg_motion_result r;
    for (int t = 0; t < 5; t++) {
        scene(fx, 0);
        feed(fx, m, &r);
        assert_int_equal(vg_motion_should_detect(m, 0, t), 1);
    }
    vg_motion_destroy(&m);
}

static void test_update_allocates_nothing(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    o.mask_count = 1;
    o.masks[0] = (vg_motion_polygon){
        .n = 4, .points = {{0, 0}, {0.2f, 0}, {0.2f, 0.2f}, {0, 0.2f}}};
    vg_motion *m = make(fx, &o);
    vg_motion_result r;
    vg_alloc_stats a0, a1;

    vg_context_alloc_stats(fx->ctx, &a0);
    for (int i = 0; i < 50; i++) {
        scene(fx, i % 7);
        if (i % 3)
            square(fx, 3 * i, 2 * i, 30, 250);
        feed(fx, m, &r);
        vg_motion_should_detect(m, i % 5 == 0, i * SEC / 10);
    }
    vg_context_alloc_stats(fx->ctx, &a1);
    assert_int_equal(a1.allocs, a0.allocs);
    assert_int_equal(a1.frees, a0.frees);
    vg_motion_destroy(&m);
}

static void test_picture_of_another_size_is_refused(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    vg_motion *m = make(fx, &o);
    vg_motion_result r;
    vg_motion_stats st;

    scene(fx, 0);
    assert_int_equal(vg_motion_update(m, fx->pic, W - 2, H, STRIDE, &r),
                     VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "318x240"));
    assert_int_equal(vg_motion_update(m, fx->pic, W, H + 1, STRIDE, &r),
                     VG_EINVAL);
    assert_int_equal(vg_motion_update(m, fx->pic, W, H, 3 * W - 1, &r),
                     VG_EINVAL);
    assert_int_equal(vg_motion_update(m, NULL, W, H, STRIDE, &r), VG_EINVAL);
    vg_motion_stats_get(m, &st);
    assert_int_equal(st.frames_seen, 0);
    vg_motion_destroy(&m);
}

static void test_small_and_odd_pictures_work(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = vg_motion_defaults();
    vg_motion *m;
    vg_motion_result r;
    vg_motion_stats st;
    static uint8_t pic[3 * 37 * 23];

    /* smaller than frame_height: the grey frame is the picture's size */
    o.width = 37;
    o.height = 23;
    o.frame_height = 16;
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), 0);
    vg_motion_stats_get(m, &st);
    assert_int_equal(st.grey_height, 16);
    assert_int_equal(st.grey_width, 26);
    memset(pic, 100, sizeof(pic));
    assert_int_equal(vg_motion_update(m, pic, 37, 23, 3 * 37, &r), 0);
    for (int y = 5; y < 15; y++)
        memset(pic + (size_t)y * 3 * 37 + 3 * 20, 250, 3 * 10);
    assert_int_equal(vg_motion_update(m, pic, 37, 23, 3 * 37, &r), 0);
    assert_int_equal(r.motion, 1);
    assert_true(r.x0 <= 20 && r.x1 >= 30 && r.x1 <= 37);
    assert_true(r.y0 <= 5 && r.y1 >= 15 && r.y1 <= 23);
    vg_motion_destroy(&m);

    /* a tall, thin picture */
    o.width = 1;
    o.height = 200;
    o.frame_height = 120;
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), 0);
    vg_motion_stats_get(m, &st);
    assert_int_equal(st.grey_width, 1);
    assert_int_equal(st.grey_height, 120);
    vg_motion_destroy(&m);
}

static void test_bad_options_are_refused(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o;
    vg_motion *m = (vg_motion *)&o;

    o = defaults();
    o.width = 0;
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), VG_EINVAL);
    assert_null(m);
    o = defaults();
    o.pixel_threshold = 0;
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), VG_EINVAL);
    o = defaults();
    o.min_area = 1.5;
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), VG_EINVAL);
    o = defaults();
    o.frame_height = 8;
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), VG_EINVAL);
    o = defaults();
    o.mask_count = 1;
    o.masks[0].n = 2;
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "mask 0 has 2"));
    o.masks[0] =
        (vg_motion_polygon){.n = 3, .points = {{0, 0}, {1.5f, 0}, {0, 1}}};
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), VG_EINVAL);
    o.mask_count = VG_MOTION_MAX_POLYGONS + 1;
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), VG_EINVAL);
    /* a mask over everything leaves nothing to watch */
    o.mask_count = 1;
    o.masks[0] =
        (vg_motion_polygon){.n = 4, .points = {{0, 0}, {1, 0}, {1, 1}, {0, 1}}};
    assert_int_equal(vg_motion_create(fx->ctx, &o, &m), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "whole"));
    assert_int_equal(vg_motion_create(fx->ctx, NULL, &m), VG_EINVAL);
}

static void test_create_fails_cleanly_at_every_allocation(void **state)
{
    fixture *fx = *state;
    vg_motion_opts o = defaults();
    int failed = 0;
    for (uint64_t n = 1; n < 20; n++) {
        vg_motion *m;
        vg_context_fail_alloc(fx->ctx, n, 0);
        int rc = vg_motion_create(fx->ctx, &o, &m);
        vg_context_fail_alloc(fx->ctx, 0, 0);
        if (rc == 0) {
            vg_motion_destroy(&m);
            break;
        }
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(m);
        failed++;
    }
    assert_int_equal(failed, 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_still_frames_have_no_motion),
        T(test_moving_square_is_motion_with_a_box_around_it),
        T(test_sampled_and_exact_average_see_the_same_square),
        T(test_motion_inside_a_mask_is_ignored),
        T(test_triangle_mask_counts_only_outside),
        T(test_slow_lighting_drift_is_not_motion),
        T(test_sudden_global_brightness_step_is_not_motion),
        T(test_whole_scene_change_reseeds_the_background),
        T(test_small_change_below_min_area_is_not_motion),
        T(test_detection_is_forced_every_max_idle),
        T(test_zero_max_idle_detects_every_frame),
        T(test_update_allocates_nothing),
        T(test_picture_of_another_size_is_refused),
        T(test_small_and_odd_pictures_work),
        T(test_bad_options_are_refused),
        T(test_create_fails_cleanly_at_every_allocation),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
