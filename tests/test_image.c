#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "support/io_fixtures.h"
#include "vigil/image.h"

#define W 160
#define H 120
#define STRIDE (W * 3 + 16) /* rows padded, as pooled pictures are */

struct fx {
    vg_context *ctx;
    char *dir;
    uint8_t *rgb;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f || !(f->dir = io_tmpdir_create()) || vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    f->rgb = calloc(1, (size_t)STRIDE * H); /* black */
    *state = f;
    return f->rgb ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    io_tmpdir_remove(f->dir);
    free(f->rgb);
    free(f);
    return 0;
}

static const uint8_t *px(const uint8_t *rgb, int stride, int x, int y)
{
    return rgb + (size_t)y * stride + (size_t)x * 3;
}

/* Decodes a JPEG file into a tightly packed RGB buffer (caller frees). */
static uint8_t *read_jpeg(const char *path, int *w, int *h)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr err;
    FILE *fp = fopen(path, "rb");
    uint8_t *out;

    if (!fp)
        return NULL;
    d.err = jpeg_std_error(&err);
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    out = malloc((size_t)*w * *h * 3);
    while (out && d.output_scanline < d.output_height) {
        JSAMPROW row = out + (size_t)d.output_scanline * *w * 3;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    fclose(fp);
    return out;
}

static int near(const uint8_t *p, int r, int g, int b, int tol)
{
    return abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
}

static void test_rect_outline_has_the_colour_and_hollow_inside(void **state)
{
    struct fx *f = *state;

    vg_image_draw_rect(f->rgb, W, H, STRIDE, 20, 30, 50, 40, 3, 200, 10, 20);
    assert_true(near(px(f->rgb, STRIDE, 20, 30), 200, 10, 20, 0));
    assert_true(near(px(f->rgb, STRIDE, 22, 50), 200, 10, 20, 0));
    assert_true(near(px(f->rgb, STRIDE, 69, 69), 200, 10, 20, 0));
    assert_true(near(px(f->rgb, STRIDE, 45, 50), 0, 0, 0, 0)); /* inside */
    assert_true(near(px(f->rgb, STRIDE, 70, 50), 0, 0, 0, 0)); /* right of */
    assert_true(near(px(f->rgb, STRIDE, 19, 30), 0, 0, 0, 0)); /* left of */
}

static void test_jpeg_round_trip_keeps_size_and_colours(void **state)
{
    struct fx *f = *state;
    char path[1024], tmp[1100];
    uint8_t *back;
    int w = 0, h = 0;

    vg_image_fill_rect(f->rgb, W, H, STRIDE, 0, 0, W, H, 255, 255, 255);
    vg_image_draw_rect(f->rgb, W, H, STRIDE, 20, 20, 100, 80, 8, 220, 30, 30);
    io_path(path, sizeof(path), f->dir, "snap.jpg");
    assert_int_equal(
        vg_image_write_jpeg(f->ctx, path, f->rgb, W, H, STRIDE, 90), 0);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0); /* renamed away */
    back = read_jpeg(path, &w, &h);
    assert_non_null(back);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    /* middle of the left edge of the rectangle, and of the white around */
    assert_true(near(px(back, W * 3, 24, 60), 220, 30, 30, 40));
    assert_true(near(px(back, W * 3, 60, 60), 255, 255, 255, 40));
    assert_true(near(px(back, W * 3, 5, 5), 255, 255, 255, 40));
    free(back);
}

/* In memory (the live views): a buffer too small is replaced by libjpeg's,
 * one large enough is kept; the JPEG decodes back to the picture. */
static void test_jpeg_in_memory_grows_then_reuses_the_buffer(void **state)
{
    struct fx *f = *state;
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr err;
    uint8_t *buf = malloc(16), *first, *back;
    size_t cap = 16;
    long n;

    assert_non_null(buf);
    vg_image_fill_rect(f->rgb, W, H, STRIDE, 0, 0, W, H, 20, 200, 40);
    n = vg_image_encode_jpeg(f->rgb, W, H, STRIDE, 90, &buf, &cap);
    assert_true(n > 16);
    assert_true(cap >= (size_t)n);
    first = buf;
    /* the grown buffer is large enough for the same picture again */
    assert_int_equal(vg_image_encode_jpeg(f->rgb, W, H, STRIDE, 90, &buf, &cap),
                     n);
    assert_ptr_equal(buf, first);
    d.err = jpeg_std_error(&err);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, buf, (unsigned long)n);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    assert_int_equal(d.output_width, W);
    assert_int_equal(d.output_height, H);
    back = malloc((size_t)W * H * 3);
    assert_non_null(back);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = back + (size_t)d.output_scanline * W * 3;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    assert_true(near(px(back, W * 3, W / 2, H / 2), 20, 200, 40, 8));
    free(back);
    free(buf);
    /* no buffer yet: libjpeg's */
    buf = NULL;
    cap = 0;
    assert_int_equal(vg_image_encode_jpeg(f->rgb, W, H, STRIDE, 90, &buf, &cap),
                     n);
    assert_non_null(buf);
    assert_int_equal(
        vg_image_encode_jpeg(f->rgb, W, H, W * 3 - 1, 90, &buf, &cap),
        VG_EINVAL);
    assert_int_equal(vg_image_encode_jpeg(NULL, W, H, STRIDE, 90, &buf, &cap),
                     VG_EINVAL);
    free(buf);
}

static void test_jpeg_to_missing_directory_is_eio(void **state)
{
    struct fx *f = *state;
    char path[1024];

    io_path(path, sizeof(path), f->dir, "no/such/dir/snap.jpg");
    assert_int_equal(
        vg_image_write_jpeg(f->ctx, path, f->rgb, W, H, STRIDE, 80), VG_EIO);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), path));
}

static void test_jpeg_rejects_bad_stride(void **state)
{
    struct fx *f = *state;
    char path[1024];

    io_path(path, sizeof(path), f->dir, "bad.jpg");
    assert_int_equal(
        vg_image_write_jpeg(f->ctx, path, f->rgb, W, H, W * 3 - 1, 80),
        VG_EINVAL);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_rect_off_picture_is_clipped(void **state)
{
    struct fx *f = *state;
    uint8_t *copy = malloc((size_t)STRIDE * H);

    assert_non_null(copy);
    memcpy(copy, f->rgb, (size_t)STRIDE * H);
    /* wholly outside: nothing changes (ASan checks bounds) */
    vg_image_draw_rect(f->rgb, W, H, STRIDE, -500, -500, 100, 100, 4, 9, 9, 9);
    vg_image_draw_rect(f->rgb, W, H, STRIDE, W + 10, 10, 30, 30, 2, 9, 9, 9);
    vg_image_draw_rect(f->rgb, W, H, STRIDE, 10, H, 30, 30, 2, 9, 9, 9);
    assert_memory_equal(copy, f->rgb, (size_t)STRIDE * H);
    /* partly outside: the visible part is drawn */
    vg_image_draw_rect(f->rgb, W, H, STRIDE, -10, -10, 30, 30, 2, 9, 9, 9);
    assert_true(near(px(f->rgb, STRIDE, 18, 5), 9, 9, 9, 0));
    assert_true(near(px(f->rgb, STRIDE, 5, 5), 0, 0, 0, 0));
    vg_image_draw_rect(f->rgb, W, H, STRIDE, W - 5, H - 5, 1000, 1000, 2, 9, 9,
                       9);
    assert_true(near(px(f->rgb, STRIDE, W - 5, H - 1), 9, 9, 9, 0));
    free(copy);
}

static void test_text_draws_glyph_pixels_within_its_box(void **state)
{
    struct fx *f = *state;
    int tw = vg_image_text_width("person 0.87", 2);
    int th = vg_image_text_height(2);
    int inside = 0, outside = 0;

    assert_int_equal(tw, 11 * 12 - 2);
    assert_int_equal(th, 14);
    vg_image_draw_text_scaled(f->rgb, W, H, STRIDE, 10, 20, "person 0.87", 2,
                              255, 255, 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int lit = px(f->rgb, STRIDE, x, y)[0] != 0;
            int in = x >= 10 && x < 10 + tw && y >= 20 && y < 20 + th;
            inside += lit && in;
            outside += lit && !in;
        }
    assert_true(inside > 50);
    assert_int_equal(outside, 0);
    /* 'P' has its top-left pixel set; the glyph for 'p' is the same */
    assert_true(near(px(f->rgb, STRIDE, 10, 20), 255, 255, 0, 0));
    /* text running off the picture is clipped */
    vg_image_draw_text_scaled(f->rgb, W, H, STRIDE, W - 8, H - 4, "WIDE TEXT",
                              3, 1, 2, 3);
    vg_image_draw_text(f->rgb, W, H, STRIDE, -3, -3, "CLIP", 1, 2, 3);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_rect_outline_has_the_colour_and_hollow_inside),
        T(test_jpeg_round_trip_keeps_size_and_colours),
        T(test_jpeg_in_memory_grows_then_reuses_the_buffer),
        T(test_jpeg_to_missing_directory_is_eio),
        T(test_jpeg_rejects_bad_stride),
        T(test_rect_off_picture_is_clipped),
        T(test_text_draws_glyph_pixels_within_its_box),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
