#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/source.h"

/* fixtures, made once for the group */
struct fx {
    vg_context *ctx;
    char *dir;
    char clip[1024];  /* 320x240, 25 fps, 50 frames, mpeg4 in mp4 */
    char green[1024]; /* 64x48 PNG of RGB (0x20, 0xC0, 0x40) */
};

static const uint8_t GREEN[3] = {0x20, 0xC0, 0x40};

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char args[4096];

    if (!f || !(f->dir = io_tmpdir_create()))
        return -1;
    io_path(f->clip, sizeof(f->clip), f->dir, "clip.mp4");
    io_path(f->green, sizeof(f->green), f->dir, "green.png");
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc=size=320x240:rate=25 -frames:v 50 "
             "-c:v mpeg4 -pix_fmt yuv420p '%s'",
             f->clip);
    if (io_ffmpeg(args) != 0)
        return -1;
    snprintf(args, sizeof(args),
             "-f lavfi -i color=c=0x20C040:size=64x48 -frames:v 1 "
             "-pix_fmt rgb24 '%s'",
             f->green);
    if (io_ffmpeg(args) != 0)
        return -1;
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    io_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static int setup(void **state)
{
    struct fx *f = *state;
    if (vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    return 0;
}

static vg_source_opts tensor_opts(int w, int h)
{
    vg_source_opts o;
    vg_source_opts_default(&o);
    o.tensor.width = w;
    o.tensor.height = h;
    o.tensor.pad_value = 114.0f;
    for (int c = 0; c < 3; c++) {
        o.tensor.mean[c] = 0.0f;
        o.tensor.scale[c] = 1.0f / 255.0f;
    }
    return o;
}

static void assert_close(float a, float b, float tol)
{
    if (fabsf(a - b) > tol)
        fail_msg("%f is not within %f of %f", a, tol, b);
}

static void test_info_reports_size_fps_and_frame_count(void **state)
{
    struct fx *f = *state;
    vg_source *src;
    vg_source_info in;

    assert_int_equal(vg_source_open(f->ctx, f->clip, NULL, &src), 0);
    vg_source_get_info(src, &in);
    assert_int_equal(in.width, 320);
    assert_int_equal(in.height, 240);
    assert_close((float)in.fps, 25.0f, 0.01f);
    assert_int_equal(in.frame_count, 50);
    assert_close((float)in.duration_s, 2.0f, 0.1f);
    assert_string_equal(in.codec, "mpeg4");
    assert_non_null(strstr(in.format, "mp4"));
    assert_false(in.is_image);
    assert_false(in.is_live);
    vg_source_close(&src);
    assert_null(src);
    vg_source_close(&src); /* NULL accepted */
}

static void test_reads_every_frame_then_eof(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(128, 128);
    vg_source *src;
    vg_frame fr;
    int rc, n = 0;
    double last = -1.0;

    assert_int_equal(vg_source_open(f->ctx, f->clip, &o, &src), 0);
    while ((rc = vg_source_read(src, &fr)) == 0) {
        assert_int_equal(fr.index, n);
        assert_true(fr.time_s > last);
        if (n == 1)
            assert_close((float)fr.time_s, 0.04f, 0.001f);
        last = fr.time_s;
        assert_non_null(fr.tensor);
        assert_null(fr.image);
        vg_frame_release(&fr);
        assert_null(fr.tensor);
        n++;
    }
    assert_int_equal(rc, VG_EOF);
    assert_int_equal(n, 50);
    assert_int_equal(vg_source_read(src, &fr), VG_EOF); /* stays at end */
    vg_source_close(&src);
}

static void test_letterbox_is_centred_with_padding(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(416, 416);
    vg_source *src;
    vg_frame fr;
    const float *t;
    float pad = 114.0f / 255.0f, sx, sy;
    int padded_rows_ok = 1, picture_row_differs = 0;

    assert_int_equal(vg_source_open(f->ctx, f->clip, &o, &src), 0);
    assert_int_equal(vg_source_read(src, &fr), 0);
    /* 320x240 -> 416x312, centred: 52 rows above and below */
    assert_close(fr.lb.scale, 1.3f, 1e-4f);
    assert_close(fr.lb.pad_x, 0.0f, 0.0f);
    assert_close(fr.lb.pad_y, 52.0f, 0.0f);
    assert_int_equal(fr.lb.src_w, 320);
    assert_int_equal(fr.lb.dst_h, 416);
    vg_letterbox_unmap(&fr.lb, 0.0f, 52.0f, &sx, &sy);
    assert_close(sx, 0.0f, 1e-3f);
    assert_close(sy, 0.0f, 1e-3f);
    vg_letterbox_unmap(&fr.lb, 416.0f, 364.0f, &sx, &sy);
    assert_close(sx, 320.0f, 1e-3f);
    assert_close(sy, 240.0f, 1e-3f);
    t = vg_buf_data(fr.tensor);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 416; y++) {
            if (y >= 52 && y < 364)
                continue;
            for (int x = 0; x < 416; x++)
                if (fabsf(t[(size_t)c * 416 * 416 + (size_t)y * 416 + x] -
                          pad) > 1e-6f)
                    padded_rows_ok = 0;
        }
    assert_true(padded_rows_ok);
    for (int x = 0; x < 416; x++)
        if (fabsf(t[(size_t)100 * 416 + x] - pad) > 1e-3f)
            picture_row_differs = 1;
    assert_true(picture_row_differs);
    vg_frame_release(&fr);
    vg_source_close(&src);
}

/* Reads the first frame of the green picture with spec o. */
static void read_green(struct fx *f, vg_source_opts *o, vg_frame *fr,
                       vg_source **src)
{
    assert_int_equal(vg_source_open(f->ctx, f->green, o, src), 0);
    assert_int_equal(vg_source_read(*src, fr), 0);
}

static void test_rgb_nchw_values_are_normalised(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(64, 48);
    vg_source *src;
    vg_frame fr;
    const float *t;

    o.tensor.mean[0] = 10.0f;
    o.tensor.mean[1] = 20.0f;
    o.tensor.mean[2] = 30.0f;
    o.tensor.scale[0] = 0.5f;
    o.tensor.scale[1] = 0.25f;
    o.tensor.scale[2] = 2.0f;
    read_green(f, &o, &fr, &src);
    t = vg_buf_data(fr.tensor);
    for (int c = 0; c < 3; c++)
        assert_close(t[(size_t)c * 64 * 48 + 20 * 64 + 30],
                     (GREEN[c] - o.tensor.mean[c]) * o.tensor.scale[c],
                     2.0f * fabsf(o.tensor.scale[c]));
    vg_frame_release(&fr);
    vg_source_close(&src);
}

static void test_bgr_order_swaps_channels(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(64, 48);
    vg_source *src;
    vg_frame fr;
    const float *t;

    o.tensor.channels = VG_CHANNELS_BGR;
    o.tensor.scale[0] = o.tensor.scale[1] = o.tensor.scale[2] = 1.0f;
    read_green(f, &o, &fr, &src);
    t = vg_buf_data(fr.tensor);
    assert_close(t[0 * 64 * 48 + 500], GREEN[2], 2.0f);
    assert_close(t[1 * 64 * 48 + 500], GREEN[1], 2.0f);
    assert_close(t[2 * 64 * 48 + 500], GREEN[0], 2.0f);
    vg_frame_release(&fr);
    vg_source_close(&src);
}

static void test_nhwc_layout_interleaves_channels(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(64, 64);
    vg_source *src;
    vg_frame fr;
    const float *t;

    o.tensor.layout = VG_LAYOUT_NHWC;
    o.tensor.scale[0] = o.tensor.scale[1] = o.tensor.scale[2] = 1.0f;
    read_green(f, &o, &fr, &src);
    /* 64x48 in 64x64: rows 0..7 padding, picture in 8..55 */
    assert_close(fr.lb.pad_y, 8.0f, 0.0f);
    t = vg_buf_data(fr.tensor);
    for (int c = 0; c < 3; c++) {
        assert_close(t[((size_t)30 * 64 + 10) * 3 + c], GREEN[c], 2.0f);
        assert_close(t[((size_t)2 * 64 + 10) * 3 + c], 114.0f, 0.0f);
    }
    vg_frame_release(&fr);
    vg_source_close(&src);
}

static void test_stretch_fills_tensor_with_separate_scales(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(32, 32);
    vg_source *src;
    vg_frame fr;
    const float *t;
    float sx, sy;

    o.tensor.resize = VG_RESIZE_STRETCH;
    read_green(f, &o, &fr, &src);
    assert_close(fr.lb.scale_x, 0.5f, 1e-6f);
    assert_close(fr.lb.scale_y, 32.0f / 48.0f, 1e-6f);
    assert_close(fr.lb.pad_x, 0.0f, 0.0f);
    assert_close(fr.lb.pad_y, 0.0f, 0.0f);
    vg_letterbox_unmap(&fr.lb, 32.0f, 32.0f, &sx, &sy);
    assert_close(sx, 64.0f, 1e-3f);
    assert_close(sy, 48.0f, 1e-3f);
    t = vg_buf_data(fr.tensor);
    for (int i = 0; i < 32 * 32; i++) /* no padding anywhere */
        assert_close(t[32 * 32 + i], GREEN[1] / 255.0f, 2.0f / 255.0f);
    vg_frame_release(&fr);
    vg_source_close(&src);
}

static void test_keep_image_gives_full_size_rgb_picture(void **state)
{
    struct fx *f = *state;
    vg_source_opts o;
    vg_source *src;
    vg_frame fr;
    const uint8_t *px;

    vg_source_opts_default(&o);
    o.keep_image = 1;
    read_green(f, &o, &fr, &src);
    assert_null(fr.tensor);
    assert_non_null(fr.image);
    assert_int_equal(fr.width, 64);
    assert_int_equal(fr.height, 48);
    assert_true(fr.image_stride >= 64 * 3);
    assert_true(vg_buf_size(fr.image) >= (size_t)fr.image_stride * 48);
    px = (const uint8_t *)vg_buf_data(fr.image) + 40 * fr.image_stride + 50 * 3;
    for (int c = 0; c < 3; c++)
        assert_true(abs(px[c] - GREEN[c]) <= 2);
    vg_frame_release(&fr);
    vg_source_close(&src);
}

static void test_picture_pool_may_be_larger_than_tensor_pool(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(64, 48);
    vg_source *src;
    vg_frame fr;
    vg_pool *tensor, *image;
    vg_pool_stats ts, is;

    o.keep_image = 1;
    o.pool_size = 2;
    o.image_pool_size = 5;
    read_green(f, &o, &fr, &src);
    vg_source_pools(src, &tensor, &image);
    assert_non_null(tensor);
    assert_non_null(image);
    vg_pool_stats_get(tensor, &ts);
    vg_pool_stats_get(image, &is);
    assert_int_equal(ts.count, 2);
    assert_int_equal(is.count, 5);
    assert_int_equal(ts.in_use, 1);
    assert_int_equal(is.in_use, 1);
    vg_frame_release(&fr);
    vg_source_close(&src);
}

static void test_image_file_gives_one_frame_then_eof(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(64, 64);
    vg_source *src;
    vg_source_info in;
    vg_frame fr;

    assert_int_equal(vg_source_open(f->ctx, f->green, &o, &src), 0);
    vg_source_get_info(src, &in);
    assert_true(in.is_image);
    assert_int_equal(in.frame_count, 1);
    assert_int_equal(vg_source_read(src, &fr), 0);
    vg_frame_release(&fr);
    assert_int_equal(vg_source_read(src, &fr), VG_EOF);
    vg_source_close(&src);
}

static void test_frames_outlive_their_closed_source(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(64, 64);
    vg_source *src;
    vg_frame a, b;

    o.keep_image = 1;
    o.pool_size = 2;
    assert_int_equal(vg_source_open(f->ctx, f->clip, &o, &src), 0);
    assert_int_equal(vg_source_read(src, &a), 0);
    assert_int_equal(vg_source_read(src, &b), 0);
    assert_true(vg_buf_data(a.tensor) != vg_buf_data(b.tensor));
    vg_source_close(&src);
    /* still readable (ASan checks) */
    assert_true(((float *)vg_buf_data(a.tensor))[0] > -1e9f);
    assert_true(((uint8_t *)vg_buf_data(b.image))[0] <= 255);
    vg_frame_release(&a);
    vg_frame_release(&b);
}

static void test_open_fails_cleanly_at_every_allocation(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(64, 64);
    vg_alloc_stats st;
    vg_source *src;
    uint64_t n;
    int rc;

    o.keep_image = 1;
    for (n = 1; n < 200; n++) {
        vg_context_fail_alloc(f->ctx, n, 0);
        rc = vg_source_open(f->ctx, f->clip, &o, &src);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc == 0)
            break;
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(src);
        assert_non_null(strstr(vg_context_errmsg(f->ctx), f->clip));
        vg_context_alloc_stats(f->ctx, &st);
        assert_int_equal(st.allocs, st.frees);
    }
    assert_true(n > 3);
    vg_source_close(&src);
}

static void test_invalid_tensor_spec_is_refused(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(64, 64);
    vg_source *src;

    o.tensor.layout = 7;
    assert_int_equal(vg_source_open(f->ctx, f->clip, &o, &src), VG_EINVAL);
    assert_null(src);
    o = tensor_opts(-3, 64);
    assert_int_equal(vg_source_open(f->ctx, f->clip, &o, &src), VG_EINVAL);
}

static void test_vtest_decodes_to_a_clean_end(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = tensor_opts(160, 160);
    vg_source_info in;
    vg_source *src;
    vg_frame fr;
    char path[1024];
    int rc;
    int64_t n = 0;

    if (!io_cache_video(path, sizeof(path), "vtest.avi"))
        skip();
    assert_int_equal(vg_source_open(f->ctx, path, &o, &src), 0);
    vg_source_get_info(src, &in);
    assert_int_equal(in.width, 768);
    assert_int_equal(in.height, 576);
    assert_string_equal(in.format, "avi");
    while ((rc = vg_source_read(src, &fr)) == 0) {
        vg_frame_release(&fr);
        n++;
    }
    assert_int_equal(rc, VG_EOF);
    assert_true(n > 0 && n <= in.frame_count);
    assert_true(n + in.frame_count / 50 >= in.frame_count);
    vg_source_close(&src);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_info_reports_size_fps_and_frame_count),
        T(test_reads_every_frame_then_eof),
        T(test_letterbox_is_centred_with_padding),
        T(test_rgb_nchw_values_are_normalised),
        T(test_bgr_order_swaps_channels),
        T(test_nhwc_layout_interleaves_channels),
        T(test_stretch_fills_tensor_with_separate_scales),
        T(test_keep_image_gives_full_size_rgb_picture),
        T(test_picture_pool_may_be_larger_than_tensor_pool),
        T(test_image_file_gives_one_frame_then_eof),
        T(test_frames_outlive_their_closed_source),
        T(test_open_fails_cleanly_at_every_allocation),
        T(test_invalid_tensor_spec_is_refused),
        T(test_vtest_decodes_to_a_clean_end),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
