/*
 * Each broken input gives its own error code and a message naming it;
 * nothing leaks (run under ASan).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/source.h"

struct fx {
    vg_context *ctx;
    char *dir;
    char path[1024];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f || !(f->dir = io_tmpdir_create()))
        return -1;
    if (vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    io_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static vg_source_opts opts(void)
{
    vg_source_opts o;
    vg_source_opts_default(&o);
    o.tensor.width = 64;
    o.tensor.height = 64;
    return o;
}

/* Opens url and checks the failure code and that the message names url. */
static void assert_open_fails(struct fx *f, const char *url,
                              const vg_source_opts *o, int code)
{
    vg_source *src = (vg_source *)1;
    int rc = vg_source_open(f->ctx, url, o, &src);
    if (rc != code)
        fail_msg("%s: got %s (%s), want %s", url, vg_errname(rc),
                 vg_context_errmsg(f->ctx), vg_errname(code));
    assert_null(src);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), url));
    assert_null(strchr(vg_context_errmsg(f->ctx), '\n'));
}

static void test_missing_file_is_enoent(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    io_path(f->path, sizeof(f->path), f->dir, "missing.mp4");
    assert_open_fails(f, f->path, &o, VG_ENOENT);
}

static void test_empty_file_is_eformat(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    io_path(f->path, sizeof(f->path), f->dir, "empty.mp4");
    assert_int_equal(io_write_file(f->path, "", 0), 0);
    assert_open_fails(f, f->path, &o, VG_EFORMAT);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "empty file"));
}

static void test_text_file_named_mp4_is_eformat(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    const char *text = "this is not a video, just some words in a file\n";
    io_path(f->path, sizeof(f->path), f->dir, "notes.mp4");
    assert_int_equal(io_write_file(f->path, text, strlen(text)), 0);
    assert_open_fails(f, f->path, &o, VG_EFORMAT);
}

static void test_video_cut_in_half_delivers_frames_then_etruncated(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source *src;
    vg_frame fr;
    char vtest[1024];
    int rc, n = 0;

    if (!io_cache_video(vtest, sizeof(vtest), "vtest.avi"))
        skip();
    io_path(f->path, sizeof(f->path), f->dir, "half.avi");
    assert_int_equal(io_copy_prefix(vtest, f->path, 0.5), 0);
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), 0);
    while ((rc = vg_source_read(src, &fr)) == 0) {
        vg_frame_release(&fr);
        n++;
    }
    assert_int_equal(rc, VG_ETRUNCATED);
    assert_true(n > 100); /* the first half came out */
    assert_non_null(strstr(vg_source_errmsg(src), f->path));
    vg_source_close(&src);
}

static void test_unknown_codec_is_ecodec_naming_it(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    char vtest[1024];

    if (!io_cache_video(vtest, sizeof(vtest), "vtest.avi"))
        skip();
    io_path(f->path, sizeof(f->path), f->dir, "zzzz.avi");
    assert_int_equal(io_copy_prefix(vtest, f->path, 1.0), 0);
    assert_int_equal(io_patch_avi_fourcc(f->path, "ZZZZ"), 0);
    assert_open_fails(f, f->path, &o, VG_ECODEC);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "ZZZZ"));
}

static void test_one_pixel_image_is_erange(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    char args[4096], raw[1024];
    const uint8_t red[3] = {255, 0, 0};

    io_path(raw, sizeof(raw), f->dir, "dot.rgb");
    assert_int_equal(io_write_file(raw, red, sizeof(red)), 0);
    io_path(f->path, sizeof(f->path), f->dir, "dot.png");
    snprintf(args, sizeof(args),
             "-f rawvideo -pix_fmt rgb24 -s 1x1 -i '%s' -frames:v 1 '%s'", raw,
             f->path);
    assert_int_equal(io_ffmpeg(args), 0);
    assert_open_fails(f, f->path, &o, VG_ERANGE);
}

static void test_huge_image_is_erange_before_decoding(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();

    io_path(f->path, sizeof(f->path), f->dir, "huge.png");
    assert_int_equal(io_write_png_header_only(f->path, 20000, 20000), 0);
    assert_open_fails(f, f->path, &o, VG_ERANGE);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "20000x20000"));
}

static void test_image_over_configured_limit_is_erange(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    char args[2048];

    io_path(f->path, sizeof(f->path), f->dir, "wide.png");
    snprintf(args, sizeof(args),
             "-f lavfi -i color=c=blue:size=200x40 -frames:v 1 '%s'", f->path);
    assert_int_equal(io_ffmpeg(args), 0);
    o.max_width = 100;
    assert_open_fails(f, f->path, &o, VG_ERANGE);
}

static void test_refused_rtsp_connection_is_enet(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    o.timeout_ms = 3000;
    assert_open_fails(f, "rtsp://127.0.0.1:1/x", &o, VG_ENET);
}

static void test_silent_rtsp_server_times_out(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    char url[128];
    int port, fd;

    fd = io_silent_server_open(&port);
    assert_true(fd >= 0);
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/live", port);
    o.timeout_ms = 1000;
    /* VG_ETIMEOUT is the deadline firing (the server never answers nor
     * closes); a deadline that never fired would hang until ctest's limit.
     * No wall-clock bound: a loaded machine may take any time. */
    assert_open_fails(f, url, &o, VG_ETIMEOUT);
    close(fd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_missing_file_is_enoent),
        T(test_empty_file_is_eformat),
        T(test_text_file_named_mp4_is_eformat),
        T(test_video_cut_in_half_delivers_frames_then_etruncated),
        T(test_unknown_codec_is_ecodec_naming_it),
        T(test_one_pixel_image_is_erange),
        T(test_huge_image_is_erange_before_decoding),
        T(test_image_over_configured_limit_is_erange),
        T(test_refused_rtsp_connection_is_enet),
        T(test_silent_rtsp_server_times_out),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
