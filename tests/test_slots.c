/* The split-screen job's pure pieces: slot assignment on synthetic tracks
 * (crossing, leaving and coming back, a third face), the crop boxes and the
 * resize, the `faces:` config section, and the person colour histogram. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/faces.h"
#include "vigil/hist.h"

/* ---- slots ----------------------------------------------------------------
 */

static vg_slot_face face(int64_t id, float cx, float size)
{
    vg_slot_face f;
    f.id = id;
    f.box.x = cx - 0.5f * size;
    f.box.y = 200.0f;
    f.box.w = size;
    f.box.h = size;
    f.score = 0.9f;
    return f;
}

static void start(vg_slots *s)
{
    vg_slots_opts o;
    vg_slots_opts_default(&o);
    o.frame_width = 1280;
    o.fps = 25.0;
    o.release_s = 4.0; /* 100 frames */
    o.min_frames = 3;
    assert_int_equal(vg_slots_init(s, &o), 0);
}

static void test_crossing_faces_keep_their_slots(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 60; f++) {
        /* A walks right from 200, B left from 1080: they cross at f 30 */
        vg_slot_face in[2] = {face(1, 200.0f + 15.0f * (f - 1), 100.0f),
                              face(2, 1080.0f - 15.0f * (f - 1), 100.0f)};
        assert_int_equal(vg_slots_update(&s, in, 2, out), 0);
        if (f < 3) {
            assert_int_equal(out[0].id, 0);
            assert_int_equal(out[1].id, 0);
        } else {
            assert_int_equal(out[0].id, 1);
            assert_int_equal(out[1].id, 2);
            assert_true(out[0].present && out[1].present);
            assert_int_equal(out[0].face, 0);
            assert_int_equal(out[1].face, 1);
        }
    }
    assert_int_equal(s.stats.assignments, 2);
    assert_int_equal(s.stats.swaps, 0);
}

static void test_crossing_with_input_order_reversed_keeps_slots(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 60; f++) {
        vg_slot_face a = face(1, 200.0f + 15.0f * (f - 1), 100.0f);
        vg_slot_face b = face(2, 1080.0f - 15.0f * (f - 1), 100.0f);
        vg_slot_face in[2];
        in[0] = f % 2 ? a : b; /* the tracker's order is not the slots' */
        in[1] = f % 2 ? b : a;
        assert_int_equal(vg_slots_update(&s, in, 2, out), 0);
        if (f >= 3) {
            assert_int_equal(out[0].id, 1);
            assert_int_equal(out[1].id, 2);
            assert_int_equal(in[out[0].face].id, 1);
        }
    }
    assert_int_equal(s.stats.swaps, 0);
}

static void test_person_leaving_2s_and_coming_back_keeps_slot(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 150; f++) {
        vg_slot_face in[2];
        int n = 0;
        /* A stays; B is away for frames 51..100 (2 s at 25 fps) and comes
         * back on the left, A having moved right */
        in[n++] = face(1, f <= 100 ? 300.0f : 800.0f, 100.0f);
        if (f <= 50)
            in[n++] = face(2, 900.0f, 100.0f);
        else if (f > 100)
            in[n++] = face(2, 400.0f, 100.0f);
        assert_int_equal(vg_slots_update(&s, in, n, out), 0);
        if (f < 3)
            continue;
        assert_int_equal(out[0].id, 1);
        assert_int_equal(out[1].id, 2);
        assert_true(out[0].present);
        if (f > 50 && f <= 100) {
            assert_false(out[1].present);
            assert_int_equal(out[1].face, -1);
            assert_int_equal(out[1].absent, f - 50);
        } else {
            assert_true(out[1].present);
            assert_int_equal(out[1].absent, 0);
        }
    }
    assert_int_equal(s.stats.assignments, 2);
    assert_int_equal(s.stats.releases, 0);
    assert_int_equal(s.stats.swaps, 0);
}

static void test_person_gone_past_release_frees_slot_for_new_id(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 200; f++) {
        vg_slot_face in[2];
        int n = 0;
        in[n++] = face(1, 300.0f, 100.0f);
        if (f <= 50)
            in[n++] = face(2, 900.0f, 100.0f);
        else if (f >= 176) /* back after 5 s, under a new track id */
            in[n++] = face(3, 900.0f, 100.0f);
        assert_int_equal(vg_slots_update(&s, in, n, out), 0);
        if (f < 3)
            continue;
        assert_int_equal(out[0].id, 1);
        if (f <= 150)
            assert_int_equal(out[1].id, 2); /* held: 100 frames */
        else if (f < 178)
            assert_int_equal(out[1].id, 0); /* released at 151 */
        else
            assert_int_equal(out[1].id, 3); /* 3 frames seen at 178 */
        if (f > 3)
            assert_int_equal(out[1].changed, f == 178);
    }
    assert_int_equal(s.stats.releases, 1);
    assert_int_equal(s.stats.assignments, 3);
    assert_int_equal(s.stats.swaps, 0);
}

static void test_third_face_displaces_nobody(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 300; f++) {
        vg_slot_face in[3];
        int n = 0;
        if (f <= 150)
            in[n++] = face(1, 300.0f, 100.0f);
        in[n++] = face(2, 900.0f, 100.0f);
        if (f > 50) /* a larger face in the middle */
            in[n++] = face(3, 640.0f, 200.0f);
        assert_int_equal(vg_slots_update(&s, in, n, out), 0);
        if (f < 3)
            continue;
        assert_int_equal(out[1].id, 2);
        if (f <= 250) {
            /* A holds the left slot, present or away up to 100 frames */
            assert_int_equal(out[0].id, 1);
            assert_int_equal(out[0].present, f <= 150);
        } else {
            /* released at 251, the third face takes it in the same frame */
            assert_int_equal(out[0].id, 3);
            assert_true(out[0].present);
            assert_int_equal(out[0].changed, f == 251);
        }
    }
    assert_int_equal(s.stats.releases, 1);
    assert_int_equal(s.stats.swaps, 0);
}

static void test_single_face_takes_the_slot_of_its_side(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 10; f++) {
        vg_slot_face in[1] = {face(7, 1000.0f, 120.0f)};
        assert_int_equal(vg_slots_update(&s, in, 1, out), 0);
        assert_int_equal(out[0].id, 0);
        assert_int_equal(out[1].id, f >= 3 ? 7 : 0);
    }
}

static void test_one_frame_false_face_takes_no_slot(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 10; f++) {
        vg_slot_face in[2] = {face(1, 300.0f, 100.0f),
                              face(40 + f, 900.0f, 100.0f)};
        assert_int_equal(vg_slots_update(&s, in, 2, out), 0);
        assert_int_equal(out[0].id, f >= 3 ? 1 : 0);
        assert_int_equal(out[1].id, 0);
    }
}

static void test_the_most_principal_faces_win_two_free_slots(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 5; f++) {
        /* a small face at the far left loses to two larger ones */
        vg_slot_face in[3] = {face(1, 100.0f, 40.0f), face(2, 700.0f, 150.0f),
                              face(3, 500.0f, 160.0f)};
        assert_int_equal(vg_slots_update(&s, in, 3, out), 0);
    }
    assert_int_equal(out[0].id, 3); /* further left of the two */
    assert_int_equal(out[1].id, 2);
}

static void test_person_moving_to_other_slot_counts_a_swap(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    (void)state;
    start(&s);
    for (int f = 1; f <= 10; f++) {
        vg_slot_face in[1] = {face(1, 300.0f, 100.0f)};
        vg_slots_update(&s, in, 1, out);
    }
    assert_int_equal(out[0].id, 1);
    for (int f = 0; f < 101; f++)
        vg_slots_update(&s, NULL, 0, out); /* away past release */
    assert_int_equal(out[0].id, 0);
    for (int f = 0; f < 3; f++) {
        vg_slot_face in[1] = {face(1, 1000.0f, 100.0f)};
        vg_slots_update(&s, in, 1, out);
    }
    assert_int_equal(out[1].id, 1);
    assert_int_equal(s.stats.swaps, 1);
}

static void test_slots_refuse_bad_arguments(void **state)
{
    vg_slots s;
    vg_slots_opts o;
    vg_slot out[VG_SLOTS];
    vg_slot_face bad = face(0, 10.0f, 10.0f);
    (void)state;
    vg_slots_opts_default(&o);
    o.fps = 0.0;
    assert_int_equal(vg_slots_init(&s, &o), VG_EINVAL);
    start(&s);
    assert_int_equal(vg_slots_update(&s, &bad, 1, out), VG_EINVAL);
    assert_int_equal(vg_slots_update(&s, NULL, 1, out), VG_EINVAL);
    assert_int_equal(vg_slots_update(&s, NULL, -1, out), VG_EINVAL);
}

/* ---- crop boxes and resize
 * --------------------------------------------------- */

static void test_crop_target_keeps_aspect_and_stays_inside(void **state)
{
    vg_box f = {10.0f, 20.0f, 40.0f, 50.0f}, c;
    (void)state;
    vg_faces_crop_target(&f, 640.0f / 720.0f, 2.0f, 720, 528, &c);
    assert_float_equal(c.h, 100.0f, 1e-3);
    assert_float_equal(c.w, 100.0f * 640.0f / 720.0f, 1e-3);
    assert_float_equal(c.x, 0.0f, 1e-3); /* shifted inside */
    assert_float_equal(c.y, 0.0f, 1e-3);
    /* larger than the picture: shrunk to fit */
    vg_faces_crop_target(&f, 640.0f / 720.0f, 20.0f, 720, 528, &c);
    assert_float_equal(c.h, 528.0f, 1e-3);
    assert_true(c.x >= 0.0f && c.x + c.w <= 720.0f + 1e-3f);
}

static void test_crop_ema_moves_alpha_of_the_way(void **state)
{
    vg_box s = {0.0f, 0.0f, 100.0f, 100.0f}, t = {100.0f, 40.0f, 200.0f, 0.0f};
    (void)state;
    vg_faces_crop_ema(&s, &t, 0.25f);
    assert_float_equal(s.x, 25.0f, 1e-4);
    assert_float_equal(s.y, 10.0f, 1e-4);
    assert_float_equal(s.w, 125.0f, 1e-4);
    assert_float_equal(s.h, 75.0f, 1e-4);
    vg_faces_crop_ema(&s, &t, 1.0f);
    assert_float_equal(s.x, 100.0f, 1e-4);
}

static void test_rgb_to_yuv_is_bt601_limited_range(void **state)
{
    /* the float formulas of BT.601 (limited range), to within 1 */
    static const uint8_t colours[][3] = {
        {0, 0, 0},   {255, 255, 255}, {255, 0, 0},   {0, 255, 0},
        {0, 0, 255}, {128, 128, 128}, {200, 90, 17}, {12, 240, 99}};
    (void)state;
    for (size_t i = 0; i < sizeof(colours) / sizeof(colours[0]); i++) {
        double r = colours[i][0], g = colours[i][1], b = colours[i][2];
        double y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0;
        double u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
        double v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
        uint8_t yuv[3];
        vg_faces_rgb_to_yuv(colours[i], yuv);
        assert_true(fabs(yuv[0] - y) <= 1.0);
        assert_true(fabs(yuv[1] - u) <= 1.0);
        assert_true(fabs(yuv[2] - v) <= 1.0);
    }
}

static void test_resize_keeps_a_uniform_colour_and_a_gradient(void **state)
{
    enum { SW = 64, SH = 32, DW = 40, DH = 50 };
    static uint8_t src[SH][SW * 3], y[DH][DW], u[DH / 2][DW / 2],
        v[DH / 2][DW / 2];
    vg_faces_yuv dst = {&y[0][0], &u[0][0], &v[0][0], DW, DW / 2};
    vg_box all = {0.0f, 0.0f, SW, SH}, part = {10.5f, 3.0f, 20.0f, 25.0f};
    uint8_t grey[3] = {200, 90, 17}, want[3];
    (void)state;
    /* a uniform colour stays that colour, on every plane */
    for (int r = 0; r < SH; r++)
        for (int x = 0; x < SW; x++)
            memcpy(&src[r][3 * x], grey, 3);
    vg_faces_rgb_to_yuv(grey, want);
    assert_int_equal(
        vg_faces_resize_yuv420(&src[0][0], SW, SH, SW * 3, &part, DW, DH, &dst),
        0);
    for (int r = 0; r < DH; r++)
        for (int x = 0; x < DW; x++)
            assert_int_equal(y[r][x], want[0]);
    for (int r = 0; r < DH / 2; r++)
        for (int x = 0; x < DW / 2; x++) {
            assert_int_equal(u[r][x], want[1]);
            assert_int_equal(v[r][x], want[2]);
        }
    /* green rising left to right: luma rises, Cb and Cr fall */
    for (int r = 0; r < SH; r++)
        for (int x = 0; x < SW; x++)
            src[r][3 * x + 1] = (uint8_t)(4 * x);
    assert_int_equal(
        vg_faces_resize_yuv420(&src[0][0], SW, SH, SW * 3, &all, DW, DH, &dst),
        0);
    assert_true(y[0][DW - 1] > y[0][0] + 100);
    for (int r = 0; r < DH; r++)
        for (int x = 1; x < DW; x++) {
            assert_true(y[r][x] >= y[r][x - 1]);
            assert_int_equal(y[r][x], y[0][x]); /* no change down a column */
        }
    for (int r = 0; r < DH / 2; r++)
        for (int x = 1; x < DW / 2; x++) {
            assert_true(u[r][x] <= u[r][x - 1]);
            assert_true(v[r][x] <= v[r][x - 1]);
        }
    {
        /* a one-pixel picture fills the crop with its colour */
        vg_box dot = {0.0f, 0.0f, 1.0f, 1.0f};
        assert_int_equal(
            vg_faces_resize_yuv420(grey, 1, 1, 3, &dot, DW, DH, &dst), 0);
        assert_int_equal(y[DH - 1][DW - 1], want[0]);
        assert_int_equal(u[DH / 2 - 1][0], want[1]);
        assert_int_equal(v[0][DW / 2 - 1], want[2]);
    }
    {
        vg_box none = {SW + 5.0f, 0.0f, 10.0f, 10.0f};
        assert_int_equal(vg_faces_resize_yuv420(&src[0][0], SW, SH, SW * 3,
                                                &none, DW, DH, &dst),
                         VG_EINVAL);
        /* 4:2:0 wants even sides */
        assert_int_equal(vg_faces_resize_yuv420(&src[0][0], SW, SH, SW * 3,
                                                &all, DW - 1, DH, &dst),
                         VG_EINVAL);
        assert_int_equal(vg_faces_resize_yuv420(&src[0][0], SW, SH, SW * 3,
                                                &all, DW, DH - 1, &dst),
                         VG_EINVAL);
    }
}

/* ---- the faces: section
 * --------------------------------------------------------- */

static char cfg_path[64];

static vg_context *load(const char *yaml, vg_faces_config *c, int *rc)
{
    vg_context *ctx = NULL;
    FILE *f;
    int fd;
    snprintf(cfg_path, sizeof(cfg_path), "/tmp/vg_faces_cfgXXXXXX");
    fd = mkstemp(cfg_path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(yaml, f);
    fclose(f);
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_faces_config_default(c);
    *rc = vg_faces_config_load(ctx, cfg_path, c);
    unlink(cfg_path);
    return ctx;
}

/* The message is one line "PATH:LINE:COL: ..." containing what. */
static void expect_error(const char *yaml, const char *where, const char *what)
{
    vg_faces_config c;
    int rc;
    vg_context *ctx = load(yaml, &c, &rc);
    const char *m = vg_context_errmsg(ctx);
    char prefix[128];
    assert_int_equal(rc, VG_ECONFIG);
    snprintf(prefix, sizeof(prefix), "%s:%s: ", cfg_path, where);
    if (strncmp(m, prefix, strlen(prefix)) != 0 || strstr(m, what) == NULL ||
        strchr(m, '\n') != NULL)
        fail_msg("message '%s' (expected '%s...%s')", m, prefix, what);
    vg_context_destroy(&ctx);
}

static void test_config_reads_the_faces_section(void **state)
{
    vg_faces_config c;
    int rc;
    vg_context *ctx;
    (void)state;
    ctx = load("detector:\n  model: x.onnx\nfaces:\n  out_width: 640\n"
               "  out_height: 362\n  alpha: 0.5\n  hold_s: 2\n"
               "  empty: black\n  encoder: h264_nvenc\n  crf: 30\n"
               "  preset: veryfast\n  reid: false\n",
               &c, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(c.out_width, 640);
    assert_int_equal(c.out_height, 362);
    assert_float_equal(c.alpha, 0.5f, 1e-6);
    assert_float_equal(c.hold_s, 2.0, 1e-9);
    assert_int_equal(c.empty, VG_FACES_EMPTY_BLACK);
    assert_string_equal(c.encoder, "h264_nvenc");
    assert_int_equal(c.crf, 30);
    assert_string_equal(c.preset, "veryfast");
    assert_int_equal(c.reid, 0);
    assert_int_equal(vg_faces_config_check(ctx, &c), 0);
    vg_context_destroy(&ctx);
}

static void test_config_refuses_bad_sizes_and_alpha_at_their_place(void **s)
{
    (void)s;
    expect_error("faces:\n  out_width: 641\n", "2:14", "even");
    expect_error("faces:\n  out_width: 642\n", "2:14", "multiple of 4");
    expect_error("faces:\n  out_height: 0\n", "2:15", "positive");
    expect_error("faces:\n  out_width: 100000\n", "2:14", "above");
    expect_error("faces:\n  out_width: -2\n", "2:14", "positive");
    expect_error("faces:\n  alpha: 1.5\n", "2:10", "(0, 1]");
    expect_error("faces:\n  alpha: 0\n", "2:10", "(0, 1]");
    expect_error("faces:\n  alpha: fast\n", "2:10", "alpha");
    expect_error("faces:\n  colour: red\n", "2:3", "unknown key 'colour'");
    expect_error("faces:\n  empty: pink\n", "2:10", "grey or black");
    expect_error("faces:\n  out_widht: 640\n", "2:3",
                 "did you mean 'out_width'?");
    expect_error("faces:\n  zoom: 25\n", "2:9", "'zoom' expects a number in");
    expect_error("faces:\n  crf: 52\n", "2:8", "'crf' expects an integer");
    expect_error("faces:\n  reid: maybe\n", "2:9", "true or false");
}

static void test_config_check_refuses_what_the_loader_would(void **state)
{
    vg_faces_config c;
    vg_context *ctx = NULL;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    /* the defaults come from the schema table and pass the check */
    vg_faces_config_default(&c);
    assert_int_equal(c.out_width, 1280);
    assert_int_equal(c.out_height, 720);
    assert_float_equal(c.zoom, 2.6f, 1e-6);
    assert_int_equal(c.empty, VG_FACES_EMPTY_GREY);
    assert_int_equal(c.reid, 1);
    assert_string_equal(c.preset, "superfast");
    assert_non_null(strstr(c.detector_model, "/models/blazeface.onnx"));
    assert_non_null(strstr(c.embedder_model, "/models/mobilefacenet.onnx"));
    assert_int_equal(vg_faces_config_check(ctx, &c), 0);
    c.out_width = 1279;
    assert_int_equal(vg_faces_config_check(ctx, &c), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "out_width 1279"));
    vg_faces_config_default(&c);
    c.alpha = 0.0f;
    assert_int_equal(vg_faces_config_check(ctx, &c), VG_EINVAL);
    /* every other key against its schema row */
    vg_faces_config_default(&c);
    c.zoom = 25.0f;
    assert_int_equal(vg_faces_config_check(ctx, &c), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "faces: 'zoom'"));
    vg_faces_config_default(&c);
    c.encoder[0] = '\0';
    assert_int_equal(vg_faces_config_check(ctx, &c), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "'encoder'"));
    vg_faces_config_default(&c);
    c.empty = 7;
    assert_int_equal(vg_faces_config_check(ctx, &c), VG_EINVAL);
    vg_context_destroy(&ctx);
}

/* ---- person colour histogram
 * ----------------------------------------------------- */

enum { PW = 40, PH = 80 };

/* A person: top colour above half height, bottom colour below. */
static void person(uint8_t *rgb, const uint8_t top[3], const uint8_t bot[3])
{
    for (int y = 0; y < PH; y++)
        for (int x = 0; x < PW; x++)
            memcpy(rgb + 3 * (y * PW + x), y < PH / 2 ? top : bot, 3);
}

static void test_hist_tells_clothes_apart(void **state)
{
    static uint8_t a[PH * PW * 3], b[PH * PW * 3], c[PH * PW * 3];
    const uint8_t red[3] = {200, 30, 30}, blue[3] = {30, 40, 200},
                  grey[3] = {90, 90, 90};
    float ea[VG_HIST_DIM], eb[VG_HIST_DIM], ec[VG_HIST_DIM], e2[VG_HIST_DIM];
    vg_box box = {0.0f, 0.0f, PW, PH};
    (void)state;
    person(a, red, blue);
    person(b, blue, red); /* same colours, the other way up */
    person(c, red, grey);
    assert_int_equal(vg_hist_embed(a, PW, PH, PW * 3, &box, ea, VG_HIST_DIM),
                     VG_HIST_DIM);
    assert_int_equal(vg_hist_embed(a, PW, PH, PW * 3, &box, e2, VG_HIST_DIM),
                     VG_HIST_DIM);
    assert_int_equal(vg_hist_embed(b, PW, PH, PW * 3, &box, eb, VG_HIST_DIM),
                     VG_HIST_DIM);
    assert_int_equal(vg_hist_embed(c, PW, PH, PW * 3, &box, ec, VG_HIST_DIM),
                     VG_HIST_DIM);
    assert_float_equal(vg_hist_cosine(ea, e2, VG_HIST_DIM), 1.0f, 1e-5);
    assert_true(vg_hist_cosine(ea, eb, VG_HIST_DIM) < 0.1f);
    assert_float_equal(vg_hist_cosine(ea, ec, VG_HIST_DIM), 0.5f, 0.05f);
    assert_int_equal(vg_hist_embed(a, PW, PH, PW * 3, &box, ea, 10), VG_ERANGE);
    box.x = 1000.0f;
    assert_int_equal(vg_hist_embed(a, PW, PH, PW * 3, &box, ea, VG_HIST_DIM),
                     VG_EINVAL);
}

/* ---- re-identification at the slots ----------------------------------------
 */

enum { DIM = 4 };
static const float e_a[DIM] = {1, 0, 0, 0}, e_b[DIM] = {0, 1, 0, 0},
                   e_b2[DIM] = {0.1f, 0.95f, 0.1f, 0}, e_c[DIM] = {0, 0, 1, 0};

static void start_reid(vg_slots *s)
{
    vg_slots_opts o;
    vg_slots_opts_default(&o);
    o.frame_width = 1280;
    o.fps = 25.0;
    o.embed_dim = DIM;
    assert_int_equal(vg_slots_init(s, &o), 0);
}

/* One frame: faces with embeddings given only where vg_slots_want says. */
static void step(vg_slots *s, vg_slot_face *in, int n, const float *const *e,
                 vg_slot *out, int *wanted)
{
    int want[8];
    *wanted = vg_slots_want(s, in, n, want);
    for (int i = 0; i < n; i++)
        in[i].embedding = want[i] ? e[i] : NULL;
    assert_int_equal(vg_slots_update(s, in, n, out), 0);
}

static void test_person_back_under_new_id_is_reidentified(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    int wanted, total = 0;
    (void)state;
    start_reid(&s);
    for (int f = 1; f <= 150; f++) {
        vg_slot_face in[3];
        const float *e[3];
        int n = 0;
        in[n] = face(1, 300.0f, 100.0f);
        e[n++] = e_a;
        if (f <= 50) {
            in[n] = face(2, 900.0f, 100.0f);
            e[n++] = e_b;
        } else if (f > 60) {
            /* a stranger from frame 61, B back under id 9 from frame 81 */
            in[n] = face(3, 640.0f, 150.0f);
            e[n++] = e_c;
            if (f > 80) {
                in[n] = face(9, 1000.0f, 100.0f);
                e[n++] = e_b2;
            }
        }
        step(&s, in, n, e, out, &wanted);
        total += wanted;
        if (f < 3)
            continue;
        assert_int_equal(out[0].id, 1);
        if (f <= 80)
            assert_int_equal(out[1].id, 2); /* the stranger is not B */
        else
            assert_int_equal(out[1].id, 9); /* at once, same slot */
        assert_int_equal(out[1].reidentified, f == 81);
        assert_int_equal(out[1].present, f <= 50 || f > 80);
    }
    assert_int_equal(s.stats.reidentified, 1);
    assert_int_equal(s.stats.swaps, 0);
    assert_int_equal(s.stats.releases, 0);
    /* embeddings only where identity was at stake: the slots' faces once a
     * second, the stranger twice a second while B was away, B once */
    assert_int_equal(s.stats.embeddings, total);
    assert_true(total < 30);
}

static void test_want_asks_nothing_without_embeddings_or_risk(void **state)
{
    vg_slots s;
    vg_slot out[VG_SLOTS];
    vg_slot_face in[2] = {face(1, 300.0f, 100.0f), face(2, 900.0f, 100.0f)};
    int want[2];
    const float *e[2] = {e_a, e_b};
    int wanted;
    (void)state;
    start(&s); /* embed_dim 0 */
    assert_int_equal(vg_slots_want(&s, in, 2, want), 0);
    start_reid(&s);
    for (int f = 1; f <= 3; f++)
        step(&s, in, 2, e, out, &wanted);
    /* assigned at frame 3 (nothing at stake before): embed them once */
    assert_int_equal(vg_slots_want(&s, in, 2, want), 2);
    step(&s, in, 2, e, out, &wanted);
    for (int f = 5; f <= 27; f++) {
        assert_int_equal(vg_slots_want(&s, in, 2, want), 0);
        step(&s, in, 2, e, out, &wanted);
    }
    step(&s, in, 2, e, out, &wanted); /* frame 28 */
    /* refreshed once a second (frame 29 is 25 frames after frame 4) */
    assert_int_equal(vg_slots_want(&s, in, 2, want), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crossing_faces_keep_their_slots),
        cmocka_unit_test(test_crossing_with_input_order_reversed_keeps_slots),
        cmocka_unit_test(test_person_leaving_2s_and_coming_back_keeps_slot),
        cmocka_unit_test(test_person_gone_past_release_frees_slot_for_new_id),
        cmocka_unit_test(test_third_face_displaces_nobody),
        cmocka_unit_test(test_single_face_takes_the_slot_of_its_side),
        cmocka_unit_test(test_one_frame_false_face_takes_no_slot),
        cmocka_unit_test(test_the_most_principal_faces_win_two_free_slots),
        cmocka_unit_test(test_person_moving_to_other_slot_counts_a_swap),
        cmocka_unit_test(test_slots_refuse_bad_arguments),
        cmocka_unit_test(test_crop_target_keeps_aspect_and_stays_inside),
        cmocka_unit_test(test_crop_ema_moves_alpha_of_the_way),
        cmocka_unit_test(test_rgb_to_yuv_is_bt601_limited_range),
        cmocka_unit_test(test_resize_keeps_a_uniform_colour_and_a_gradient),
        cmocka_unit_test(test_config_reads_the_faces_section),
        cmocka_unit_test(
            test_config_refuses_bad_sizes_and_alpha_at_their_place),
        cmocka_unit_test(test_config_check_refuses_what_the_loader_would),
        cmocka_unit_test(test_hist_tells_clothes_apart),
        cmocka_unit_test(test_person_back_under_new_id_is_reidentified),
        cmocka_unit_test(test_want_asks_nothing_without_embeddings_or_risk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
