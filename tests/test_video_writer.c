#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "support/io_fixtures.h"
#include "vigil/video_writer.h"

#define W 160
#define H 120
#define STRIDE (W * 3 + 32)
#define FPS 25.0

struct fx {
    vg_context *ctx;
    char dir[512];
    char path[600];
    uint8_t *rgb;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char *d = io_tmpdir_create();
    if (!f || !d || vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    av_log_set_level(AV_LOG_ERROR);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    snprintf(f->path, sizeof(f->path), "%s/annotated.mp4", d);
    free(d);
    f->rgb = calloc(1, (size_t)STRIDE * H);
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
    unlink(f->path);
    rmdir(f->dir);
    free(f->rgb);
    free(f);
    return 0;
}

/* A moving white square on a blue ground. */
static void draw_frame(uint8_t *rgb, int i)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + y * STRIDE + x * 3;
            int in = x >= 4 * i % W && x < 4 * i % W + 20 && y >= 40 && y < 60;
            p[0] = in ? 255 : 20;
            p[1] = in ? 255 : 40;
            p[2] = in ? 255 : 160;
        }
}

struct probe {
    int frames, width, height;
    double duration_s;
    char codec[32];
    uint8_t centre[3]; /* RGB-ish of the first frame's luma at the square */
};

/* Decodes every frame of path with libavformat/libavcodec. 0 or -1. */
static int probe_file(const char *path, struct probe *pr)
{
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    const AVCodec *codec;
    AVStream *st;
    int idx, ret = -1;

    memset(pr, 0, sizeof(*pr));
    if (!pkt || !fr || avformat_open_input(&fmt, path, NULL, NULL) < 0 ||
        avformat_find_stream_info(fmt, NULL) < 0)
        goto out;
    idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (idx < 0)
        goto out;
    st = fmt->streams[idx];
    dec = avcodec_alloc_context3(codec);
    if (!dec || avcodec_parameters_to_context(dec, st->codecpar) < 0 ||
        avcodec_open2(dec, codec, NULL) < 0)
        goto out;
    snprintf(pr->codec, sizeof(pr->codec), "%s", codec->name);
    pr->width = st->codecpar->width;
    pr->height = st->codecpar->height;
    if (fmt->duration > 0)
        pr->duration_s = (double)fmt->duration / AV_TIME_BASE;
    for (;;) {
        int r = av_read_frame(fmt, pkt);
        if (r >= 0 && pkt->stream_index != idx) {
            av_packet_unref(pkt);
            continue;
        }
        avcodec_send_packet(dec, r >= 0 ? pkt : NULL);
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, fr) == 0) {
            if (pr->frames == 0)
                pr->centre[0] = fr->data[0][50 * fr->linesize[0] + 10];
            pr->frames++;
            av_frame_unref(fr);
        }
        if (r < 0)
            break;
    }
    ret = 0;
out:
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    av_packet_free(&pkt);
    av_frame_free(&fr);
    return ret;
}

static void test_written_frames_decode_back(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw;
    vg_video_writer_stats st;
    struct probe pr;

    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W, H, FPS, NULL, &vw), 0);
    print_message("encoder: %s\n", vg_video_writer_codec(vw));
    for (int i = 0; i < 30; i++) {
        draw_frame(f->rgb, i);
        assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, i), 0);
    }
    assert_int_equal(vg_video_writer_close(vw), 0);
    vg_video_writer_stats_get(vw, &st);
    assert_int_equal(st.frames, 30);
    assert_true(st.packets == 30);
    vg_video_writer_destroy(&vw);
    assert_null(vw);

    assert_int_equal(probe_file(f->path, &pr), 0);
    assert_int_equal(pr.frames, 30);
    assert_int_equal(pr.width, W);
    assert_int_equal(pr.height, H);
    assert_true(pr.duration_s > 30 / FPS - 0.1 &&
                pr.duration_s < 30 / FPS + 0.1);
    assert_string_equal(
        pr.codec, avcodec_find_encoder_by_name("libx264") ? "h264" : "mpeg4");
    /* first frame: the square is at x 0..19, its luma is bright */
    assert_true(pr.centre[0] > 200);
}

/* YUV 4:2:0 planes go to the encoder as they are: a flat luma of 180 on
 * the left half and 40 on the right decodes back to those values. */
static void test_yuv420_planes_decode_back(void **state)
{
    struct fx *f = *state;
    enum { YS = W + 16, CS = W / 2 + 8 };
    static uint8_t y[H][YS], u[H / 2][CS], v[H / 2][CS];
    const uint8_t *planes[3] = {&y[0][0], &u[0][0], &v[0][0]};
    const int strides[3] = {YS, CS, CS};
    const uint8_t *no_planes[3] = {&y[0][0], NULL, &v[0][0]};
    const int narrow[3] = {W - 2, CS, CS};
    vg_video_writer *vw;
    struct probe pr;

    for (int r = 0; r < H; r++)
        for (int x = 0; x < YS; x++)
            y[r][x] = x < W / 2 ? 180 : 40;
    memset(u, 90, sizeof(u));
    memset(v, 200, sizeof(v));
    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W, H, FPS, NULL, &vw), 0);
    assert_int_equal(vg_video_writer_write_yuv420(vw, no_planes, strides, 0),
                     VG_EINVAL);
    assert_int_equal(vg_video_writer_write_yuv420(vw, planes, narrow, 0),
                     VG_EINVAL);
    assert_non_null(strstr(vg_video_writer_errmsg(vw), "YUV"));
    for (int i = 0; i < 10; i++)
        assert_int_equal(vg_video_writer_write_yuv420(vw, planes, strides, i),
                         0);
    /* the indices rule holds here too */
    assert_int_equal(vg_video_writer_write_yuv420(vw, planes, strides, 9),
                     VG_EINVAL);
    assert_int_equal(vg_video_writer_close(vw), 0);
    assert_int_equal(vg_video_writer_write_yuv420(vw, planes, strides, 10),
                     VG_ECLOSED);
    vg_video_writer_destroy(&vw);
    assert_int_equal(probe_file(f->path, &pr), 0);
    assert_int_equal(pr.frames, 10);
    /* probe_file samples the luma at x 10, y 50: the left half */
    assert_true(pr.centre[0] >= 176 && pr.centre[0] <= 184);
}

static void test_default_encoder_is_libx264(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw;

    if (!avcodec_find_encoder_by_name("libx264"))
        skip();
    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W, H, FPS, NULL, &vw), 0);
    assert_string_equal(vg_video_writer_codec(vw), "libx264");
    vg_video_writer_destroy(&vw);
}

static void test_close_after_no_frames_leaves_no_file(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw;
    struct stat sb;

    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W, H, FPS, NULL, &vw), 0);
    assert_int_equal(vg_video_writer_close(vw), 0);
    assert_int_equal(stat(f->path, &sb), -1);
    vg_video_writer_destroy(&vw);
}

static void test_close_is_idempotent_and_later_writes_fail(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw;
    struct probe pr;

    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W, H, FPS, NULL, &vw), 0);
    for (int i = 0; i < 5; i++) {
        draw_frame(f->rgb, i);
        assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, -1), 0);
    }
    assert_int_equal(vg_video_writer_close(vw), 0);
    assert_int_equal(vg_video_writer_close(vw), 0);
    assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, -1), VG_ECLOSED);
    vg_video_writer_destroy(&vw);
    vg_video_writer_destroy(&vw);
    assert_int_equal(vg_video_writer_close(NULL), 0);
    assert_int_equal(probe_file(f->path, &pr), 0);
    assert_int_equal(pr.frames, 5);
}

static void test_destroy_without_close_finalises(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw;
    struct probe pr;

    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W, H, FPS, NULL, &vw), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, i), 0);
    vg_video_writer_destroy(&vw);
    assert_int_equal(probe_file(f->path, &pr), 0);
    assert_int_equal(pr.frames, 8);
}

static void test_frame_indices_must_increase(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw;
    struct probe pr;

    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W, H, FPS, NULL, &vw), 0);
    assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, 0), 0);
    assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, 19), 0);
    assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, 19), VG_EINVAL);
    assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, 3), VG_EINVAL);
    assert_int_equal(vg_video_writer_close(vw), 0);
    vg_video_writer_destroy(&vw);
    /* the gap is kept in time: index 19 ends at 20 / fps */
    assert_int_equal(probe_file(f->path, &pr), 0);
    assert_int_equal(pr.frames, 2);
    assert_true(pr.duration_s > 20 / FPS - 0.1 &&
                pr.duration_s < 20 / FPS + 0.1);
}

static void test_steady_state_writes_do_not_allocate(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw;
    vg_alloc_stats a, b;

    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W, H, FPS, NULL, &vw), 0);
    vg_context_alloc_stats(f->ctx, &a);
    for (int i = 0; i < 10; i++)
        assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, i), 0);
    vg_context_alloc_stats(f->ctx, &b);
    assert_int_equal(a.allocs, b.allocs);
    vg_video_writer_destroy(&vw);
}

static void test_invalid_arguments_are_refused(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw = (vg_video_writer *)1;
    vg_video_writer_opts o;
    struct stat sb;

    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W + 1, H, FPS, NULL, &vw),
        VG_EINVAL);
    assert_null(vw);
    vg_video_writer_opts_default(&o);
    snprintf(o.encoder, sizeof(o.encoder), "no-such-encoder");
    assert_int_equal(vg_video_writer_open(f->ctx, f->path, W, H, FPS, &o, &vw),
                     VG_ECODEC);
    assert_int_equal(stat(f->path, &sb), -1);
}

static void test_mpeg4_fallback_encoder_works(void **state)
{
    struct fx *f = *state;
    vg_video_writer_opts o;
    vg_video_writer *vw;
    struct probe pr;

    vg_video_writer_opts_default(&o);
    snprintf(o.encoder, sizeof(o.encoder), "mpeg4");
    assert_int_equal(vg_video_writer_open(f->ctx, f->path, W, H, FPS, &o, &vw),
                     0);
    for (int i = 0; i < 12; i++) {
        draw_frame(f->rgb, i);
        assert_int_equal(vg_video_writer_write(vw, f->rgb, STRIDE, i), 0);
    }
    vg_video_writer_destroy(&vw);
    assert_int_equal(probe_file(f->path, &pr), 0);
    assert_string_equal(pr.codec, "mpeg4");
    assert_int_equal(pr.frames, 12);
}

static void test_fragmented_file_plays_after_a_crash(void **state)
{
    struct fx *f = *state;
    struct probe pr;
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        vg_video_writer_opts o;
        vg_video_writer *vw;
        vg_video_writer_opts_default(&o);
        o.fragmented = 1;
        o.gop = 10;
        if (vg_video_writer_open(f->ctx, f->path, W, H, FPS, &o, &vw) < 0)
            _exit(2);
        for (int i = 0; i < 45; i++) {
            draw_frame(f->rgb, i);
            if (vg_video_writer_write(vw, f->rgb, STRIDE, i) < 0)
                _exit(3);
        }
        _exit(0); /* dies without closing */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(probe_file(f->path, &pr), 0);
    /* every fragment completed before the crash decodes */
    assert_true(pr.frames >= 20);
    print_message("fragmented MP4 after crash: %d of 45 frames\n", pr.frames);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_written_frames_decode_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_default_encoder_is_libx264, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_close_after_no_frames_leaves_no_file, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_close_is_idempotent_and_later_writes_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_without_close_finalises,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_indices_must_increase, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_steady_state_writes_do_not_allocate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yuv420_planes_decode_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arguments_are_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_mpeg4_fallback_encoder_works,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_fragmented_file_plays_after_a_crash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
