/*
 * Compact tensors: a source opened with compact_tensor hands out the scaled
 * 8-bit picture, and vg_tensor_expand turns it into exactly the floats the
 * float path writes (bit for bit), for every layout, channel order and
 * resize mode, with the padding where the float path puts it; the compact
 * pool is about a quarter of the float pool, sized by
 * vg_source_tensor_bytes.
 */
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
#include "vigil/tensor.h"

struct fx {
    vg_context *ctx;
    char *dir;
    char wide[1024]; /* 333x187, 8 frames, odd sizes */
    char tall[1024]; /* 187x333, 8 frames */
};

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char args[4096];

    if (!f || !(f->dir = io_tmpdir_create()))
        return -1;
    io_path(f->wide, sizeof(f->wide), f->dir, "wide.mkv");
    io_path(f->tall, sizeof(f->tall), f->dir, "tall.mkv");
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc2=size=320x240:rate=25 -vf scale=333:187 "
             "-frames:v 8 -c:v ffv1 -pix_fmt yuv444p '%s'",
             f->wide);
    if (io_ffmpeg(args) != 0)
        return -1;
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc2=size=320x240:rate=25 -vf scale=187:333 "
             "-frames:v 8 -c:v ffv1 -pix_fmt yuv444p '%s'",
             f->tall);
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

/* NanoDet's normalisation (BGR means and scales) on a w x h tensor. */
static vg_tensor_spec nanodet_spec(int w, int h, int layout, int channels,
                                   int resize)
{
    static const float mean[3] = {103.53f, 116.28f, 123.675f};
    static const float scale[3] = {0.017429f, 0.017507f, 0.017125f};
    vg_tensor_spec t;

    memset(&t, 0, sizeof(t));
    t.width = w;
    t.height = h;
    t.layout = layout;
    t.channels = channels;
    t.resize = resize;
    t.pad_value = 114.0f;
    for (int c = 0; c < 3; c++) {
        t.mean[c] = mean[c];
        t.scale[c] = scale[c];
    }
    return t;
}

static void open_pair(struct fx *f, const char *url, const vg_tensor_spec *t,
                      vg_source **flt, vg_source **cmp)
{
    vg_source_opts o;

    vg_source_opts_default(&o);
    o.tensor = *t;
    assert_int_equal(vg_source_open(f->ctx, url, &o, flt), 0);
    o.compact_tensor = 1;
    assert_int_equal(vg_source_open(f->ctx, url, &o, cmp), 0);
}

/* Reads up to frames frames from both sources and checks that expanding the
 * compact frame gives the float frame's bytes. Returns the frames compared;
 * *pad_x / *pad_y get the first frame's padding. */
static int compare_sources(const vg_tensor_spec *t, vg_source *flt,
                           vg_source *cmp, int frames, int *pad_x, int *pad_y)
{
    size_t n = vg_tensor_float_count(t);
    float *out = malloc(n * sizeof(float));
    vg_frame a, b;
    int i;

    assert_non_null(out);
    for (i = 0; i < frames; i++) {
        int ra = vg_source_read(flt, &a), rb = vg_source_read(cmp, &b);
        assert_int_equal(ra, rb);
        if (ra != 0)
            break;
        assert_false(a.tensor_compact);
        assert_true(b.tensor_compact);
        assert_int_equal(b.tensor_w + 2 * (int)b.lb.pad_x <= t->width, 1);
        assert_true(b.tensor_stride >= 3 * b.tensor_w);
        assert_memory_equal(&a.lb, &b.lb, sizeof(a.lb));
        if (i == 0) {
            *pad_x = (int)b.lb.pad_x;
            *pad_y = (int)b.lb.pad_y;
        }
        memset(out, 0xA5, n * sizeof(float));
        assert_int_equal(vg_tensor_expand(t, &b, out, n), 0);
        if (memcmp(out, vg_buf_data(a.tensor), n * sizeof(float)) != 0) {
            const float *ref = vg_buf_data(a.tensor);
            for (size_t k = 0; k < n; k++)
                if (memcmp(&out[k], &ref[k], sizeof(float)) != 0)
                    fail_msg("frame %d float %zu: %.9g, float path %.9g", i, k,
                             out[k], ref[k]);
        }
        vg_frame_release(&a);
        vg_frame_release(&b);
    }
    free(out);
    return i;
}

static void
test_vtest_compact_expands_to_the_float_tensor_bit_for_bit(void **state)
{
    struct fx *f = *state;
    const vg_tensor_spec specs[] = {
        nanodet_spec(416, 416, VG_LAYOUT_NCHW, VG_CHANNELS_BGR,
                     VG_RESIZE_LETTERBOX),
        nanodet_spec(320, 320, VG_LAYOUT_NHWC, VG_CHANNELS_RGB,
                     VG_RESIZE_LETTERBOX),
        nanodet_spec(416, 416, VG_LAYOUT_NCHW, VG_CHANNELS_RGB,
                     VG_RESIZE_STRETCH),
    };
    char path[1024];

    if (!io_cache_video(path, sizeof(path), "vtest.avi"))
        skip();
    for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
        vg_source *flt, *cmp;
        int px = -1, py = -1;
        open_pair(f, path, &specs[k], &flt, &cmp);
        assert_int_equal(compare_sources(&specs[k], flt, cmp, 20, &px, &py),
                         20);
        assert_int_equal(px, 0);
        /* 768x576 letterboxed: rows of padding above and below */
        assert_true(specs[k].resize == VG_RESIZE_STRETCH ? py == 0 : py > 0);
        vg_source_close(&flt);
        vg_source_close(&cmp);
    }
}

static void
test_odd_sizes_expand_bit_for_bit_with_padding_on_each_axis(void **state)
{
    struct fx *f = *state;
    struct {
        const char *url;
        vg_tensor_spec spec;
        int pad_x, pad_y; /* expected non-zero */
    } cases[] = {
        /* 333x187 into 97x81: 97x54, rows of padding (13 above) */
        {f->wide,
         nanodet_spec(97, 81, VG_LAYOUT_NCHW, VG_CHANNELS_RGB,
                      VG_RESIZE_LETTERBOX),
         0, 1},
        {f->wide,
         nanodet_spec(97, 81, VG_LAYOUT_NHWC, VG_CHANNELS_BGR,
                      VG_RESIZE_LETTERBOX),
         0, 1},
        /* 187x333 into 97x81: 45x81, columns of padding */
        {f->tall,
         nanodet_spec(97, 81, VG_LAYOUT_NCHW, VG_CHANNELS_BGR,
                      VG_RESIZE_LETTERBOX),
         1, 0},
        {f->tall,
         nanodet_spec(97, 81, VG_LAYOUT_NHWC, VG_CHANNELS_RGB,
                      VG_RESIZE_LETTERBOX),
         1, 0},
        /* upscaled: 187x333 into 501x403 */
        {f->tall,
         nanodet_spec(501, 403, VG_LAYOUT_NHWC, VG_CHANNELS_BGR,
                      VG_RESIZE_LETTERBOX),
         1, 0},
        /* stretch: no padding, separate scales */
        {f->wide,
         nanodet_spec(97, 81, VG_LAYOUT_NCHW, VG_CHANNELS_RGB,
                      VG_RESIZE_STRETCH),
         0, 0},
        {f->tall,
         nanodet_spec(97, 81, VG_LAYOUT_NHWC, VG_CHANNELS_BGR,
                      VG_RESIZE_STRETCH),
         0, 0},
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        vg_source *flt, *cmp;
        int px = -1, py = -1;
        open_pair(f, cases[k].url, &cases[k].spec, &flt, &cmp);
        assert_int_equal(
            compare_sources(&cases[k].spec, flt, cmp, 100, &px, &py), 8);
        assert_int_equal(px > 0, cases[k].pad_x);
        assert_int_equal(py > 0, cases[k].pad_y);
        vg_source_close(&flt);
        vg_source_close(&cmp);
    }
}

/* A compact frame made by hand, padded on both axes, against the formula. */
static void test_expand_pads_both_axes_of_a_hand_made_frame(void **state)
{
    struct fx *f = *state;
    enum { W = 11, H = 9, PW = 5, PH = 4, PX = 3, PY = 2, STRIDE = 17 };
    vg_tensor_spec t[2] = {
        nanodet_spec(W, H, VG_LAYOUT_NCHW, VG_CHANNELS_RGB,
                     VG_RESIZE_LETTERBOX),
        nanodet_spec(W, H, VG_LAYOUT_NHWC, VG_CHANNELS_RGB,
                     VG_RESIZE_LETTERBOX),
    };
    float out[3 * W * H];
    vg_pool *pool;
    vg_frame fr;
    uint8_t *px;

    assert_int_equal(vg_pool_create(f->ctx, "hand", STRIDE * PH, 1, &pool), 0);
    memset(&fr, 0, sizeof(fr));
    assert_int_equal(vg_pool_get(pool, 0, &fr.tensor), 0);
    px = vg_buf_data(fr.tensor);
    for (int i = 0; i < STRIDE * PH; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    fr.tensor_compact = 1;
    fr.tensor_w = PW;
    fr.tensor_h = PH;
    fr.tensor_stride = STRIDE;
    fr.lb.pad_x = PX;
    fr.lb.pad_y = PY;
    fr.lb.dst_w = W;
    fr.lb.dst_h = H;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(vg_tensor_expand(&t[k], &fr, out, 3 * W * H), 0);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int in = x >= PX && x < PX + PW && y >= PY && y < PY + PH;
                    float v =
                        in ? (float)px[(y - PY) * STRIDE + (x - PX) * 3 + c]
                           : t[k].pad_value;
                    float want = (v - t[k].mean[c]) * t[k].scale[c];
                    size_t at = t[k].layout == VG_LAYOUT_NCHW
                                    ? ((size_t)c * H + y) * W + x
                                    : ((size_t)y * W + x) * 3 + c;
                    if (memcmp(&out[at], &want, sizeof(float)) != 0)
                        fail_msg("layout %d c %d (%d, %d): %.9g, want %.9g", k,
                                 c, x, y, out[at], want);
                }
    }
    vg_frame_release(&fr);
    vg_pool_destroy(&pool);
}

static void test_compact_pool_holds_a_quarter_of_the_bytes(void **state)
{
    struct fx *f = *state;
    vg_tensor_spec t = nanodet_spec(416, 416, VG_LAYOUT_NCHW, VG_CHANNELS_BGR,
                                    VG_RESIZE_LETTERBOX);
    vg_source *flt, *cmp;
    vg_pool *pf, *pc, *img;
    vg_pool_stats sf, sc;
    vg_frame fr;
    char path[1024];

    if (!io_cache_video(path, sizeof(path), "vtest.avi"))
        skip();
    open_pair(f, path, &t, &flt, &cmp);
    vg_source_pools(flt, &pf, &img);
    vg_source_pools(cmp, &pc, &img);
    assert_null(img);
    vg_pool_stats_get(pf, &sf);
    vg_pool_stats_get(pc, &sc);
    assert_int_equal(sf.count, sc.count);
    assert_int_equal(sf.buf_size, 3 * 416 * 416 * sizeof(float));
    assert_int_equal(sf.buf_size, vg_source_tensor_bytes(&t, 768, 576, 0));
    /* 768x576 -> 416x312, rows of 416 * 3 bytes padded to 1280 */
    assert_int_equal(sc.buf_size, 1280 * 312);
    assert_int_equal(sc.buf_size, vg_source_tensor_bytes(&t, 768, 576, 1));
    assert_true(sc.buf_size * 4 <= sf.buf_size);
    /* the frames come from the compact pool, and fit in its buffers */
    assert_int_equal(vg_source_read(cmp, &fr), 0);
    assert_int_equal(vg_buf_size(fr.tensor), sc.buf_size);
    assert_int_equal((size_t)fr.tensor_stride * fr.tensor_h, sc.buf_size);
    vg_frame_release(&fr);
    vg_source_close(&flt);
    vg_source_close(&cmp);
}

static void test_tensor_bytes_follow_the_geometry(void **state)
{
    vg_tensor_spec t = nanodet_spec(97, 81, VG_LAYOUT_NHWC, VG_CHANNELS_RGB,
                                    VG_RESIZE_LETTERBOX);
    (void)state;

    assert_int_equal(vg_tensor_float_count(&t), 3 * 97 * 81);
    assert_int_equal(vg_source_tensor_bytes(&t, 333, 187, 0),
                     3 * 97 * 81 * sizeof(float));
    /* 333x187 -> 97x54: 291 bytes a row, padded to 320 */
    assert_int_equal(vg_source_tensor_bytes(&t, 333, 187, 1), 320 * 54);
    t.resize = VG_RESIZE_STRETCH; /* the whole tensor: 97x81 */
    assert_int_equal(vg_source_tensor_bytes(&t, 333, 187, 1), 320 * 81);
    assert_int_equal(vg_source_tensor_bytes(NULL, 333, 187, 1), 0);
    assert_int_equal(vg_source_tensor_bytes(&t, 0, 187, 1), 0);
    t.width = 0;
    assert_int_equal(vg_source_tensor_bytes(&t, 333, 187, 0), 0);
    assert_int_equal(vg_tensor_float_count(&t), 0);
}

static void test_expand_refuses_sizes_that_disagree(void **state)
{
    struct fx *f = *state;
    vg_tensor_spec t = nanodet_spec(97, 81, VG_LAYOUT_NCHW, VG_CHANNELS_RGB,
                                    VG_RESIZE_LETTERBOX);
    vg_tensor_spec other = t;
    size_t n = vg_tensor_float_count(&t);
    float *out = malloc((n + 1) * sizeof(float));
    vg_source *flt, *cmp;
    vg_frame a, b, bad;

    assert_non_null(out);
    open_pair(f, f->wide, &t, &flt, &cmp);
    assert_int_equal(vg_source_read(flt, &a), 0);
    assert_int_equal(vg_source_read(cmp, &b), 0);
    for (size_t k = 0; k <= n; k++)
        out[k] = -7.0f;
    /* destination one float short: refused, untouched */
    assert_int_equal(vg_tensor_expand(&t, &b, out, n - 1), VG_EINVAL);
    assert_int_equal(vg_tensor_expand(&t, &a, out, n - 1), VG_EINVAL);
    for (size_t k = 0; k <= n; k++)
        assert_true(out[k] == -7.0f);
    /* a frame made for another tensor size */
    other.width = 96;
    assert_int_equal(vg_tensor_expand(&other, &b, out, n), VG_EINVAL);
    assert_int_equal(vg_tensor_expand(&other, &a, out, n), VG_EINVAL);
    /* a compact picture that does not fit its tensor or its buffer */
    bad = b;
    bad.tensor_w = 98;
    assert_int_equal(vg_tensor_expand(&t, &bad, out, n), VG_EINVAL);
    bad = b;
    bad.lb.pad_y = 40.0f;
    assert_int_equal(vg_tensor_expand(&t, &bad, out, n), VG_EINVAL);
    bad = b;
    bad.lb.pad_y = NAN;
    assert_int_equal(vg_tensor_expand(&t, &bad, out, n), VG_EINVAL);
    bad = b;
    bad.tensor_stride = 3 * b.tensor_w - 1;
    assert_int_equal(vg_tensor_expand(&t, &bad, out, n), VG_EINVAL);
    bad = b;
    bad.tensor_stride *= 2;
    assert_int_equal(vg_tensor_expand(&t, &bad, out, n), VG_EINVAL);
    for (size_t k = 0; k <= n; k++)
        assert_true(out[k] == -7.0f);
    /* NULLs, no tensor */
    assert_int_equal(vg_tensor_expand(NULL, &b, out, n), VG_EINVAL);
    assert_int_equal(vg_tensor_expand(&t, NULL, out, n), VG_EINVAL);
    assert_int_equal(vg_tensor_expand(&t, &b, NULL, n), VG_EINVAL);
    bad = b;
    bad.tensor = NULL;
    assert_int_equal(vg_tensor_expand(&t, &bad, out, n), VG_EINVAL);
    /* the exact size is enough, for both kinds */
    assert_int_equal(vg_tensor_expand(&t, &b, out, n), 0);
    assert_true(out[n] == -7.0f);
    assert_int_equal(vg_tensor_expand(&t, &a, out, n), 0);
    assert_memory_equal(out, vg_buf_data(a.tensor), n * sizeof(float));
    vg_frame_release(&a);
    vg_frame_release(&b);
    vg_source_close(&flt);
    vg_source_close(&cmp);
    free(out);
}

static void test_configure_switches_an_open_source_to_compact(void **state)
{
    struct fx *f = *state;
    vg_tensor_spec t = nanodet_spec(97, 81, VG_LAYOUT_NCHW, VG_CHANNELS_RGB,
                                    VG_RESIZE_LETTERBOX);
    vg_source_opts o;
    vg_source *src;
    vg_pool *pool;
    vg_pool_stats st;
    vg_frame fr;

    vg_source_opts_default(&o);
    assert_int_equal(vg_source_open(f->ctx, f->wide, &o, &src), 0);
    o.tensor = t;
    o.compact_tensor = 1;
    assert_int_equal(vg_source_configure(src, &o), 0);
    vg_source_pools(src, &pool, NULL);
    vg_pool_stats_get(pool, &st);
    assert_int_equal(st.buf_size, vg_source_tensor_bytes(&t, 333, 187, 1));
    assert_int_equal(vg_source_read(src, &fr), 0);
    assert_true(fr.tensor_compact);
    assert_int_equal(fr.tensor_w, 97);
    assert_int_equal(fr.tensor_h, 54);
    vg_frame_release(&fr);
    vg_source_close(&src);
}

static void test_compact_open_fails_cleanly_at_every_allocation(void **state)
{
    struct fx *f = *state;
    vg_source_opts o;
    vg_alloc_stats st;
    vg_source *src;
    uint64_t n;
    int rc;

    vg_source_opts_default(&o);
    o.tensor = nanodet_spec(97, 81, VG_LAYOUT_NCHW, VG_CHANNELS_RGB,
                            VG_RESIZE_LETTERBOX);
    o.compact_tensor = 1;
    for (n = 1; n < 200; n++) {
        vg_context_fail_alloc(f->ctx, n, 0);
        rc = vg_source_open(f->ctx, f->wide, &o, &src);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc == 0)
            break;
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(src);
        vg_context_alloc_stats(f->ctx, &st);
        assert_int_equal(st.allocs, st.frees);
    }
    assert_true(n > 3 && n < 200);
    vg_source_close(&src);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_vtest_compact_expands_to_the_float_tensor_bit_for_bit),
        T(test_odd_sizes_expand_bit_for_bit_with_padding_on_each_axis),
        T(test_expand_pads_both_axes_of_a_hand_made_frame),
        T(test_compact_pool_holds_a_quarter_of_the_bytes),
        T(test_tensor_bytes_follow_the_geometry),
        T(test_expand_refuses_sizes_that_disagree),
        T(test_configure_switches_an_open_source_to_compact),
        T(test_compact_open_fails_cleanly_at_every_allocation),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
