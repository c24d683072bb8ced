/*
 * Tests of the face stages: vg_face_crop on synthetic pictures, BlazeFace
 * decoding on hand-made output tensors (directly and through generated
 * models whose outputs are those constants), shape checks on wrong models,
 * and BlazeFace + MobileFaceNet on real frames of Megamind.avi (skipped when
 * $VIGIL_CACHE lacks the models or the video).
 */
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

#include "models/model_gen.h"
#include "support/io_fixtures.h"
#include "vigil/face.h"
#include "vigil/source.h"

#define BF 256 /* BlazeFace input side */
#define EMB_CAP 512

/* Frames of Megamind.avi used by the real-model tests: Roxanne on 20..99 and
 * 160..199, Bernard on 100..159 and 200..269 (one face in close-up each);
 * frame 0 is black. */
static const int video_frames[] = {0,   20,  21,  40,  60,  80,  100, 120,
                                   121, 140, 160, 180, 200, 220, 221, 240};
#define N_VIDEO_FRAMES (sizeof(video_frames) / sizeof(video_frames[0]))

typedef struct picture {
    int index;
    int w, h, stride;
    uint8_t *rgb;
} picture;

typedef struct fixture {
    model_dir dir;
    char bf_const[512];   /* BlazeFace shapes, outputs from face_truth */
    char bf_nchw[512];    /* input [1,3,256,256] */
    char bf_missing[512]; /* no stride-32 boxes */
    char bf_dynamic[512]; /* input [N,256,256,3] */
    char emb_const[512];  /* [1,112,112,3] -> [1,8] constant */
    char emb_3d[512];     /* output [1,2,3] */
    char bf_real[1024], mfn_real[1024];
    int have_real; /* models and video found */
    picture frames[N_VIDEO_FRAMES];
    vg_context *ctx;
} fixture;

/* ---- synthetic BlazeFace outputs ----------------------------------------- */

/* One anchor set in the hand-made outputs. anchor: global index (stride-16
 * anchors 0..511, stride-32 512..895). */
typedef struct face_truth {
    int anchor;
    float logit;
    float dx, dy, w, h;
    float kp[6][2];
} face_truth;

/* Stride 16, cell (row 5, col 9), second anchor: centre (152, 88).
 * Stride 32, cell (row 2, col 6), fifth anchor: centre (208, 80). */
#define A16 (2 * (5 * 16 + 9) + 1)
#define A32 (512 + 6 * (2 * 8 + 6) + 4)
static const face_truth truths[] = {
    /* score 0.953: box centre (156, 82), 40 x 50 */
    {A16,
     3.0f,
     4,
     -6,
     40,
     50,
     {{-10, -8}, {10, -8}, {0, 0}, {0, 12}, {-20, -4}, {20, -4}}},
    /* score 0.881, overlaps the first (IoU 0.71): suppressed by NMS */
    {A16 - 1, 2.0f, 8, -2, 40, 50, {{0}}},
    /* score 0.5: under the 0.75 threshold */
    {A16 + 40, 0.0f, 0, 0, 30, 30, {{0}}},
    /* score 0.982: box centre (200, 90), 60 x 40 */
    {A32,
     4.0f,
     -8,
     10,
     60,
     40,
     {{-15, 5}, {15, 5}, {0, 10}, {0, 20}, {-30, 8}, {30, 8}}},
    /* NaN logit: ignored */
    {A32 + 1, NAN, 0, 0, 60, 40, {{0}}},
};
#define N_TRUTHS (sizeof(truths) / sizeof(truths[0]))

typedef struct bf_outputs {
    float s16[512], s32[384], b16[512 * 16], b32[384 * 16];
} bf_outputs;

static void fill_outputs(bf_outputs *o)
{
    for (int i = 0; i < 512; i++)
        o->s16[i] = -10.0f;
    for (int i = 0; i < 384; i++)
        o->s32[i] = -10.0f;
    memset(o->b16, 0, sizeof(o->b16));
    memset(o->b32, 0, sizeof(o->b32));
    for (size_t t = 0; t < N_TRUTHS; t++) {
        const face_truth *f = &truths[t];
        float *b = f->anchor < 512 ? o->b16 + f->anchor * 16
                                   : o->b32 + (f->anchor - 512) * 16;
        if (f->anchor < 512)
            o->s16[f->anchor] = f->logit;
        else
            o->s32[f->anchor - 512] = f->logit;
        b[0] = f->dx;
        b[1] = f->dy;
        b[2] = f->w;
        b[3] = f->h;
        for (int k = 0; k < 6; k++) {
            b[4 + 2 * k] = f->kp[k][0];
            b[5 + 2 * k] = f->kp[k][1];
        }
    }
}

/* ---- model generation -----------------------------------------------------
 */

static int make_models(fixture *fx)
{
    static bf_outputs o;
    static const float eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    char all[3000] = "", missing[3000] = "", small[1000] = "";
    fill_outputs(&o);
    model_path(&fx->dir, "bf.onnx", fx->bf_const, sizeof(fx->bf_const));
    model_path(&fx->dir, "bf_nchw.onnx", fx->bf_nchw, sizeof(fx->bf_nchw));
    model_path(&fx->dir, "bf_missing.onnx", fx->bf_missing,
               sizeof(fx->bf_missing));
    model_path(&fx->dir, "bf_dyn.onnx", fx->bf_dynamic, sizeof(fx->bf_dynamic));
    model_path(&fx->dir, "emb.onnx", fx->emb_const, sizeof(fx->emb_const));
    model_path(&fx->dir, "emb3d.onnx", fx->emb_3d, sizeof(fx->emb_3d));
    /* boxes first: the detector must find its tensors by shape */
    if (model_add_output(&fx->dir, all, sizeof(all), "boxes_s32", "1,384,16",
                         o.b32, 384 * 16) != 0 ||
        model_add_output(&fx->dir, all, sizeof(all), "scores_s16", "1,512,1",
                         o.s16, 512) != 0 ||
        model_add_output(&fx->dir, all, sizeof(all), "boxes_s16", "1,512,16",
                         o.b16, 512 * 16) != 0 ||
        model_add_output(&fx->dir, all, sizeof(all), "scores_s32", "1,384,1",
                         o.s32, 384) != 0)
        return -1;
    if (model_add_output(&fx->dir, missing, sizeof(missing), "scores_s16",
                         "1,512,1", o.s16, 512) != 0 ||
        model_add_output(&fx->dir, missing, sizeof(missing), "scores_s32",
                         "1,384,1", o.s32, 384) != 0 ||
        model_add_output(&fx->dir, missing, sizeof(missing), "boxes_s16",
                         "1,512,16", o.b16, 512 * 16) != 0)
        return -1;
    if (model_add_output(&fx->dir, small, sizeof(small), "embeddings", "1,8",
                         eight, 8) != 0)
        return -1;
    if (model_make_const(fx->bf_const, "1,256,256,3", all) != 0 ||
        model_make_const(fx->bf_nchw, "1,3,256,256", all) != 0 ||
        model_make_const(fx->bf_missing, "1,256,256,3", missing) != 0 ||
        model_make_const(fx->bf_dynamic, "-1,256,256,3", all) != 0 ||
        model_make_const(fx->emb_const, "1,112,112,3", small) != 0)
        return -1;
    small[0] = '\0';
    if (model_add_output(&fx->dir, small, sizeof(small), "embeddings", "1,2,4",
                         eight, 8) != 0 ||
        model_make_const(fx->emb_3d, "1,112,112,3", small) != 0)
        return -1;
    return 0;
}

/* ---- real frames ----------------------------------------------------------
 */

static void free_frames(fixture *fx)
{
    for (size_t i = 0; i < N_VIDEO_FRAMES; i++) {
        free(fx->frames[i].rgb);
        fx->frames[i].rgb = NULL;
    }
}

/* Decodes Megamind.avi and copies the pictures of video_frames. */
static int load_frames(fixture *fx, const char *video)
{
    vg_context *ctx;
    vg_source_opts so;
    vg_source *src;
    vg_frame f;
    size_t next = 0;
    int rc;
    if (vg_context_create(&ctx) != 0)
        return -1;
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    vg_source_opts_default(&so);
    so.keep_image = 1; /* no tensor: decode only, keep the RGB24 picture */
    if (vg_source_open(ctx, video, &so, &src) != 0) {
        vg_context_destroy(&ctx);
        return -1;
    }
    while (next < N_VIDEO_FRAMES && (rc = vg_source_read(src, &f)) == 0) {
        if (f.index == video_frames[next]) {
            picture *p = &fx->frames[next];
            size_t size = (size_t)f.image_stride * (size_t)f.height;
            p->index = (int)f.index;
            p->w = f.width;
            p->h = f.height;
            p->stride = f.image_stride;
            p->rgb = malloc(size);
            if (p->rgb != NULL)
                memcpy(p->rgb, vg_buf_data(f.image), size);
            next++;
        }
        vg_frame_release(&f);
    }
    vg_source_close(&src);
    vg_context_destroy(&ctx);
    for (size_t i = 0; i < N_VIDEO_FRAMES; i++)
        if (fx->frames[i].rgb == NULL)
            return -1;
    return 0;
}

static const picture *frame_at(const fixture *fx, int index)
{
    for (size_t i = 0; i < N_VIDEO_FRAMES; i++)
        if (fx->frames[i].index == index && fx->frames[i].rgb != NULL)
            return &fx->frames[i];
    fail_msg("frame %d was not loaded", index);
    return NULL;
}

static void find_real(fixture *fx)
{
    const char *cache = getenv("VIGIL_CACHE");
    char video[1024];
    if (cache == NULL || cache[0] == '\0' ||
        !io_cache_video(video, sizeof(video), "Megamind.avi"))
        return;
    snprintf(fx->bf_real, sizeof(fx->bf_real), "%s/models/blazeface.onnx",
             cache);
    snprintf(fx->mfn_real, sizeof(fx->mfn_real), "%s/models/mobilefacenet.onnx",
             cache);
    if (access(fx->bf_real, R_OK) != 0 || access(fx->mfn_real, R_OK) != 0)
        return;
    if (load_frames(fx, video) != 0) {
        free_frames(fx);
        return;
    }
    fx->have_real = 1;
}

/* ---- fixture --------------------------------------------------------------
 */

static int group_setup(void **state)
{
    static fixture fx;
    memset(&fx, 0, sizeof(fx));
    *state = &fx; /* the group teardown cleans up after a failure too */
    if (model_dir_create(&fx.dir) != 0 || make_models(&fx) != 0)
        return -1;
    find_real(&fx);
    if (!fx.have_real)
        fprintf(stderr, "test_face: blazeface.onnx, mobilefacenet.onnx or "
                        "Megamind.avi missing under $VIGIL_CACHE: the "
                        "real-model tests are skipped\n");
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixture *fx = *state;
    model_dir_remove(&fx->dir);
    free_frames(fx);
    return 0;
}

static int setup(void **state)
{
    fixture *fx = *state;
    if (vg_context_create(&fx->ctx) != 0)
        return -1;
    vg_context_set_log_level(fx->ctx, VG_LOG_QUIET);
    return 0;
}

/* Destroys the context after checking vigil freed all it allocated. */
static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(fx->ctx, &st);
    vg_context_destroy(&fx->ctx);
    return st.allocs == st.frees ? 0 : -1;
}

static vg_session *load(fixture *fx, const char *path)
{
    vg_session_opts so;
    vg_session *s = NULL;
    vg_session_opts_default(&so);
    so.intra_threads = 2;
    assert_int_equal(vg_session_create(fx->ctx, path, &so, &s), 0);
    return s;
}

static uint64_t allocs(fixture *fx)
{
    vg_alloc_stats st;
    vg_context_alloc_stats(fx->ctx, &st);
    return st.allocs;
}

/* ---- crop -----------------------------------------------------------------
 */

/* Distinct pixel values: channel c of (x, y). */
static uint8_t pix(int x, int y, int c)
{
    return (uint8_t)(x * 20 + y * 3 + c * 70 + 1);
}

/* A w x h picture with 5 bytes of row padding filled with 255s, which must
 * never show up in a crop. */
static uint8_t *make_picture(int w, int h, int *stride)
{
    uint8_t *p;
    *stride = 3 * w + 5;
    p = malloc((size_t)*stride * (size_t)h);
    assert_non_null(p);
    memset(p, 255, (size_t)*stride * (size_t)h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                p[(size_t)y * (size_t)*stride + (size_t)x * 3 + (size_t)c] =
                    pix(x, y, c);
    return p;
}

static float at(const float *t, int tw, int u, int v, int c)
{
    return t[((size_t)v * (size_t)tw + (size_t)u) * 3 + (size_t)c];
}

static void test_crop_at_scale_one_copies_pixels_exactly(void **state)
{
    int stride;
    uint8_t *pic = make_picture(8, 6, &stride);
    float out[4 * 4 * 3];
    vg_letterbox lb;
    float px, py;
    (void)state;
    assert_int_equal(vg_face_crop(pic, 8, 6, stride, 2, 1, 6, 5, 4, 4,
                                  VG_FACE_NORM_01, out, &lb),
                     0);
    for (int v = 0; v < 4; v++)
        for (int u = 0; u < 4; u++)
            for (int c = 0; c < 3; c++)
                assert_true(at(out, 4, u, v, c) ==
                            (float)pix(u + 2, v + 1, c) / 255.0f);
    assert_int_equal(vg_face_crop(pic, 8, 6, stride, 2, 1, 6, 5, 4, 4,
                                  VG_FACE_NORM_PM1, out, &lb),
                     0);
    for (int v = 0; v < 4; v++)
        for (int u = 0; u < 4; u++)
            for (int c = 0; c < 3; c++)
                assert_true(at(out, 4, u, v, c) ==
                            (float)pix(u + 2, v + 1, c) / 127.5f - 1.0f);
    /* the mapping includes the crop origin */
    assert_float_equal(lb.scale_x, 1.0f, 1e-6);
    assert_float_equal(lb.scale_y, 1.0f, 1e-6);
    assert_int_equal(lb.src_w, 8);
    assert_int_equal(lb.src_h, 6);
    assert_int_equal(lb.dst_w, 4);
    vg_letterbox_unmap(&lb, 0.5f, 3.5f, &px, &py);
    assert_float_equal(px, 2.5f, 1e-5);
    assert_float_equal(py, 4.5f, 1e-5);
    free(pic);
}

static void test_crop_halving_averages_pixel_pairs(void **state)
{
    int stride;
    uint8_t *pic = make_picture(8, 8, &stride);
    float out[4 * 4 * 3];
    vg_letterbox lb;
    float px, py;
    (void)state;
    assert_int_equal(vg_face_crop(pic, 8, 8, stride, 0, 0, 8, 8, 4, 4,
                                  VG_FACE_NORM_01, out, &lb),
                     0);
    for (int v = 0; v < 4; v++)
        for (int u = 0; u < 4; u++)
            for (int c = 0; c < 3; c++) {
                float sum = (float)pix(2 * u, 2 * v, c) +
                            (float)pix(2 * u + 1, 2 * v, c) +
                            (float)pix(2 * u, 2 * v + 1, c) +
                            (float)pix(2 * u + 1, 2 * v + 1, c);
                assert_true(at(out, 4, u, v, c) == sum / 4.0f / 255.0f);
            }
    assert_float_equal(lb.scale, 0.5f, 1e-6);
    vg_letterbox_unmap(&lb, 4.0f, 1.0f, &px, &py);
    assert_float_equal(px, 8.0f, 1e-5);
    assert_float_equal(py, 2.0f, 1e-5);
    free(pic);
}

static void test_crop_letterboxes_wide_region_with_black(void **state)
{
    int stride;
    uint8_t *pic = make_picture(12, 8, &stride);
    float out[4 * 4 * 3];
    vg_letterbox lb;
    float px, py;
    (void)state;
    /* 8 x 4 region at (2, 3) into 4 x 4: scale 0.5, 4 x 2 content, one row
     * of padding above and below */
    assert_int_equal(vg_face_crop(pic, 12, 8, stride, 2, 3, 10, 7, 4, 4,
                                  VG_FACE_NORM_PM1, out, &lb),
                     0);
    for (int u = 0; u < 4; u++)
        for (int c = 0; c < 3; c++) {
            assert_true(at(out, 4, u, 0, c) == -1.0f);
            assert_true(at(out, 4, u, 3, c) == -1.0f);
            /* content row 1 = average of picture rows 3 and 4 */
            float sum =
                (float)pix(2 + 2 * u, 3, c) + (float)pix(3 + 2 * u, 3, c) +
                (float)pix(2 + 2 * u, 4, c) + (float)pix(3 + 2 * u, 4, c);
            assert_float_equal(at(out, 4, u, 1, c), sum / 4.0f / 127.5f - 1.0f,
                               1e-6);
        }
    assert_float_equal(lb.scale_x, 0.5f, 1e-6);
    assert_float_equal(lb.scale_y, 0.5f, 1e-6);
    /* tensor (0, 1) is the region's top-left corner, (4, 3) its bottom-right */
    vg_letterbox_unmap(&lb, 0.0f, 1.0f, &px, &py);
    assert_float_equal(px, 2.0f, 1e-5);
    assert_float_equal(py, 3.0f, 1e-5);
    vg_letterbox_unmap(&lb, 4.0f, 3.0f, &px, &py);
    assert_float_equal(px, 10.0f, 1e-5);
    assert_float_equal(py, 7.0f, 1e-5);
    /* the same in 0..1: padding is 0 */
    assert_int_equal(vg_face_crop(pic, 12, 8, stride, 2, 3, 10, 7, 4, 4,
                                  VG_FACE_NORM_01, out, NULL),
                     0);
    assert_true(at(out, 4, 2, 0, 1) == 0.0f);
    free(pic);
}

static void test_crop_clamps_region_to_picture(void **state)
{
    int stride;
    uint8_t *pic = make_picture(8, 8, &stride);
    float out[4 * 4 * 3], ref[4 * 4 * 3];
    vg_letterbox lb;
    float px, py;
    (void)state;
    /* [-4, 4) x [-4, 4) is [0, 4) x [0, 4): a 1:1 copy */
    assert_int_equal(vg_face_crop(pic, 8, 8, stride, -4, -4, 4, 4, 4, 4,
                                  VG_FACE_NORM_01, out, &lb),
                     0);
    for (int v = 0; v < 4; v++)
        for (int u = 0; u < 4; u++)
            assert_true(at(out, 4, u, v, 2) == (float)pix(u, v, 2) / 255.0f);
    assert_float_equal(lb.pad_x, 0.0f, 1e-6);
    /* [5, 100) x [5, 100) is [5, 8) x [5, 8): the right and bottom edges
     * repeat the last pixel, never the row padding (255) */
    assert_int_equal(vg_face_crop(pic, 8, 8, stride, 5, 5, 100, 100, 4, 4,
                                  VG_FACE_NORM_01, out, &lb),
                     0);
    assert_int_equal(vg_face_crop(pic, 8, 8, stride, 5, 5, 8, 8, 4, 4,
                                  VG_FACE_NORM_01, ref, NULL),
                     0);
    assert_memory_equal(out, ref, sizeof(out));
    assert_true(at(out, 4, 3, 3, 0) == (float)pix(7, 7, 0) / 255.0f);
    vg_letterbox_unmap(&lb, 4.0f, 4.0f, &px, &py);
    assert_float_equal(px, 8.0f, 1e-5);
    assert_float_equal(py, 8.0f, 1e-5);
    free(pic);
}

static void test_crop_rejects_empty_or_outside_regions(void **state)
{
    int stride;
    uint8_t *pic = make_picture(8, 8, &stride);
    float out[4 * 4 * 3];
    (void)state;
    for (size_t i = 0; i < 4 * 4 * 3; i++)
        out[i] = 42.0f;
#define CROP(x0, y0, x1, y1)                                                   \
    vg_face_crop(pic, 8, 8, stride, x0, y0, x1, y1, 4, 4, VG_FACE_NORM_01,     \
                 out, NULL)
    assert_int_equal(CROP(10, 0, 20, 8), VG_EINVAL);   /* right of it */
    assert_int_equal(CROP(-9, -9, -1, -1), VG_EINVAL); /* above-left */
    assert_int_equal(CROP(3, 3, 3, 6), VG_EINVAL);     /* zero width */
    assert_int_equal(CROP(5, 3, 2, 6), VG_EINVAL);     /* reversed */
    assert_int_equal(CROP(NAN, 0, 4, 4), VG_EINVAL);
    assert_int_equal(CROP(0, 0, INFINITY, 4), VG_EINVAL);
#undef CROP
    assert_int_equal(vg_face_crop(pic, 8, 8, 20, 0, 0, 4, 4, 4, 4,
                                  VG_FACE_NORM_01, out, NULL),
                     VG_EINVAL); /* stride < 3 * w */
    assert_int_equal(
        vg_face_crop(pic, 8, 8, stride, 0, 0, 4, 4, 4, 4, 7, out, NULL),
        VG_EINVAL); /* unknown normalisation */
    assert_int_equal(vg_face_crop(NULL, 8, 8, stride, 0, 0, 4, 4, 4, 4,
                                  VG_FACE_NORM_01, out, NULL),
                     VG_EINVAL);
    assert_int_equal(vg_face_crop(pic, 8, 8, stride, 0, 0, 4, 4, 0, 4,
                                  VG_FACE_NORM_01, out, NULL),
                     VG_EINVAL);
    for (size_t i = 0; i < 4 * 4 * 3; i++)
        assert_true(out[i] == 42.0f); /* untouched */
    free(pic);
}

/* ---- decoding -------------------------------------------------------------
 */

static void expect_first_truth(const vg_face *f, const vg_letterbox *lb)
{
    /* anchor (152, 88) + (4, -6) = centre (156, 82), 40 x 50 in the tensor */
    float x0 = 136, y0 = 57, x1 = 176, y1 = 107, kx = 142, ky = 80;
    if (lb != NULL) {
        vg_letterbox_unmap(lb, x0, y0, &x0, &y0);
        vg_letterbox_unmap(lb, x1, y1, &x1, &y1);
        vg_letterbox_unmap(lb, kx, ky, &kx, &ky);
    }
    assert_float_equal(f->score, 1.0f / (1.0f + expf(-3.0f)), 1e-6);
    assert_float_equal(f->box.x, x0, 1e-3);
    assert_float_equal(f->box.y, y0, 1e-3);
    assert_float_equal(f->box.w, x1 - x0, 1e-3);
    assert_float_equal(f->box.h, y1 - y0, 1e-3);
    /* right eye: anchor + (-10, -8) */
    assert_float_equal(f->keypoints[VG_FACE_RIGHT_EYE][0], kx, 1e-3);
    assert_float_equal(f->keypoints[VG_FACE_RIGHT_EYE][1], ky, 1e-3);
}

static void expect_second_truth(const vg_face *f, const vg_letterbox *lb)
{
    /* anchor (208, 80) + (-8, 10) = centre (200, 90), 60 x 40 */
    float x0 = 170, y0 = 70, x1 = 230, y1 = 110, kx = 208, ky = 100;
    if (lb != NULL) {
        vg_letterbox_unmap(lb, x0, y0, &x0, &y0);
        vg_letterbox_unmap(lb, x1, y1, &x1, &y1);
        vg_letterbox_unmap(lb, kx, ky, &kx, &ky);
    }
    assert_float_equal(f->score, 1.0f / (1.0f + expf(-4.0f)), 1e-6);
    assert_float_equal(f->box.x, x0, 1e-3);
    assert_float_equal(f->box.y, y0, 1e-3);
    assert_float_equal(f->box.w, x1 - x0, 1e-3);
    assert_float_equal(f->box.h, y1 - y0, 1e-3);
    /* mouth: anchor + (0, 20) */
    assert_float_equal(f->keypoints[VG_FACE_MOUTH][0], kx, 1e-3);
    assert_float_equal(f->keypoints[VG_FACE_MOUTH][1], ky, 1e-3);
}

static void test_decode_places_boxes_at_anchor_plus_offset(void **state)
{
    static bf_outputs o;
    static vg_detection scratch[VG_FACE_ANCHORS];
    vg_face_detector_opts opts;
    vg_face faces[8];
    int n = -1;
    (void)state;
    fill_outputs(&o);
    vg_face_detector_opts_default(&opts);
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, NULL, &opts,
                                    scratch, faces, 8, &n),
                     0);
    /* the 0.881 duplicate is suppressed, 0.5 and NaN are under threshold */
    assert_int_equal(n, 2);
    expect_second_truth(&faces[0], NULL); /* best first */
    expect_first_truth(&faces[1], NULL);

    /* a lower threshold lets the 0.5 candidate in; a looser NMS keeps the
     * duplicate */
    opts.score_threshold = 0.4f;
    opts.nms_iou = 0.9f;
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, NULL, &opts,
                                    scratch, faces, 8, &n),
                     0);
    assert_int_equal(n, 4);
    assert_float_equal(faces[3].score, 0.5f, 1e-6);

    /* cap and max_faces bound the count, best kept */
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, NULL, &opts,
                                    scratch, faces, 1, &n),
                     0);
    assert_int_equal(n, 1);
    expect_second_truth(&faces[0], NULL);
    opts.max_faces = 3;
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, NULL, &opts,
                                    scratch, faces, 8, &n),
                     0);
    assert_int_equal(n, 3);
}

static void test_decode_maps_through_letterbox_and_clips(void **state)
{
    static bf_outputs o;
    static vg_detection scratch[VG_FACE_ANCHORS];
    vg_face_detector_opts opts;
    vg_face faces[8];
    /* a 400 x 400 crop at (100, 50) of an 800 x 450 picture: scale 0.64 */
    vg_letterbox lb = {.scale = 0.64f,
                       .scale_x = 0.64f,
                       .scale_y = 0.64f,
                       .pad_x = -100 * 0.64f,
                       .pad_y = -50 * 0.64f,
                       .src_w = 800,
                       .src_h = 450,
                       .dst_w = BF,
                       .dst_h = BF};
    int n;
    (void)state;
    fill_outputs(&o);
    vg_face_detector_opts_default(&opts);
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, &lb, &opts,
                                    scratch, faces, 8, &n),
                     0);
    assert_int_equal(n, 2);
    expect_second_truth(&faces[0], &lb);
    expect_first_truth(&faces[1], &lb);
    /* picture x = tensor x / 0.64 + 100 */
    assert_float_equal(faces[1].box.x, 136.0f / 0.64f + 100.0f, 1e-3);

    /* the picture ends at y = 200: the first box (y 139..217) is clipped,
     * the second (159..222) too */
    lb.src_h = 200;
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, &lb, &opts,
                                    scratch, faces, 8, &n),
                     0);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++)
        assert_float_equal(faces[i].box.y + faces[i].box.h, 200.0f, 1e-3);
    /* a picture ending above both boxes keeps none */
    lb.src_h = 100;
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, &lb, &opts,
                                    scratch, faces, 8, &n),
                     0);
    assert_int_equal(n, 0);

    /* bad arguments */
    lb.scale = lb.scale_x = lb.scale_y = 0.0f;
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, &lb, &opts,
                                    scratch, faces, 8, &n),
                     VG_EINVAL);
    assert_int_equal(vg_face_decode(o.s16, NULL, o.b16, o.b32, BF, NULL, &opts,
                                    scratch, faces, 8, &n),
                     VG_EINVAL);
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, NULL, &opts,
                                    NULL, faces, 8, &n),
                     VG_EINVAL);
    opts.nms_iou = 2.0f;
    assert_int_equal(vg_face_decode(o.s16, o.s32, o.b16, o.b32, BF, NULL, &opts,
                                    scratch, faces, 8, &n),
                     VG_EINVAL);
    assert_int_equal(n, 0);
}

/* The generated model returns the hand-made outputs for any input, so a
 * detection on a known crop lands where the decoding and the crop's mapping
 * say, in picture pixels. */
static void test_detect_on_crop_returns_picture_coordinates(void **state)
{
    fixture *fx = *state;
    vg_session *s = load(fx, fx->bf_const);
    vg_face_detector *fd = NULL;
    vg_face faces[8];
    uint8_t *pic = calloc(600 * 800 * 3, 1);
    vg_letterbox lb;
    float *scratch = malloc(sizeof(float) * BF * BF * 3);
    uint64_t before;
    int n;
    assert_non_null(pic);
    assert_non_null(scratch);
    assert_int_equal(vg_face_detector_create(fx->ctx, s, NULL, &fd), 0);
    assert_int_equal(vg_face_detector_input_size(fd), BF);
    before = allocs(fx);
    /* a 400 x 200 region at (300, 100): letterboxed, 64 rows of padding */
    assert_int_equal(vg_face_detect(fd, pic, 800, 600, 800 * 3, 300, 100, 700,
                                    300, faces, 8, &n),
                     0);
    assert_int_equal(allocs(fx), before); /* nothing allocated per call */
    assert_int_equal(n, 2);
    assert_int_equal(vg_face_crop(pic, 800, 600, 800 * 3, 300, 100, 700, 300,
                                  BF, BF, VG_FACE_NORM_PM1, scratch, &lb),
                     0);
    assert_float_equal(lb.pad_y, 64.0f - 100.0f * 0.64f, 1e-4);
    expect_second_truth(&faces[0], &lb);
    expect_first_truth(&faces[1], &lb);
    assert_float_equal(faces[1].box.x, 300.0f + 136.0f / 0.64f, 1e-2);
    assert_float_equal(faces[1].box.y, 100.0f + (57.0f - 64.0f) / 0.64f, 1e-2);
    /* bad regions */
    assert_int_equal(vg_face_detect(fd, pic, 800, 600, 800 * 3, 900, 0, 1000,
                                    100, faces, 8, &n),
                     VG_EINVAL);
    assert_int_equal(n, 0);
    assert_true(strlen(vg_face_detector_errmsg(fd)) > 0);
    assert_int_equal(vg_face_detect(fd, pic, 800, 600, 800 * 3, 10, 10, 10, 100,
                                    faces, 8, &n),
                     VG_EINVAL);
    vg_face_detector_destroy(&fd);
    assert_null(fd);
    vg_face_detector_destroy(&fd); /* NULL is fine */
    vg_session_destroy(&s);
    free(pic);
    free(scratch);
}

static void test_detector_fixes_dynamic_batch(void **state)
{
    fixture *fx = *state;
    vg_session *s = load(fx, fx->bf_dynamic);
    vg_face_detector *fd = NULL;
    vg_face faces[8];
    uint8_t pic[64 * 64 * 3] = {0};
    int n;
    assert_int_equal(vg_face_detector_create(fx->ctx, s, NULL, &fd), 0);
    assert_int_equal(
        vg_face_detect(fd, pic, 64, 64, 64 * 3, 0, 0, 64, 64, faces, 8, &n), 0);
    assert_int_equal(n, 2);
    vg_face_detector_destroy(&fd);
    vg_session_destroy(&s);
}

/* ---- wrong models ---------------------------------------------------------
 */

static void expect_model_error(fixture *fx, int rc, const char *needle)
{
    const char *msg = vg_context_errmsg(fx->ctx);
    assert_int_equal(rc, VG_EMODEL);
    if (strstr(msg, needle) == NULL)
        fail_msg("message \"%s\" does not mention \"%s\"", msg, needle);
}

static void test_detector_rejects_wrong_shapes(void **state)
{
    fixture *fx = *state;
    vg_session *s;
    vg_face_detector *fd = (vg_face_detector *)&fd; /* not NULL */
    vg_face_detector_opts o;

    s = load(fx, fx->bf_nchw);
    expect_model_error(fx, vg_face_detector_create(fx->ctx, s, NULL, &fd),
                       "[1,3,256,256]");
    assert_null(fd);
    vg_session_destroy(&s);

    s = load(fx, fx->bf_missing);
    expect_model_error(fx, vg_face_detector_create(fx->ctx, s, NULL, &fd),
                       "stride-32 boxes");
    assert_null(fd);
    vg_session_destroy(&s);

    s = load(fx, fx->emb_const); /* an embedder is no detector */
    expect_model_error(fx, vg_face_detector_create(fx->ctx, s, NULL, &fd),
                       "stride-16 scores");
    vg_session_destroy(&s);

    s = load(fx, fx->bf_const);
    vg_face_detector_opts_default(&o);
    o.score_threshold = 1.5f;
    assert_int_equal(vg_face_detector_create(fx->ctx, s, &o, &fd), VG_EINVAL);
    assert_null(fd);
    assert_int_equal(vg_face_detector_create(fx->ctx, NULL, NULL, &fd),
                     VG_EINVAL);
    vg_session_destroy(&s);
}

static void test_embedder_rejects_wrong_shapes(void **state)
{
    fixture *fx = *state;
    vg_session *s;
    vg_face_embedder *fe = (vg_face_embedder *)&fe;

    s = load(fx, fx->bf_const); /* four outputs */
    expect_model_error(fx, vg_face_embedder_create(fx->ctx, s, &fe),
                       "one output");
    assert_null(fe);
    vg_session_destroy(&s);

    s = load(fx, fx->emb_3d);
    expect_model_error(fx, vg_face_embedder_create(fx->ctx, s, &fe), "[1,2,4]");
    assert_null(fe);
    vg_session_destroy(&s);

    s = load(fx, fx->bf_nchw);
    expect_model_error(fx, vg_face_embedder_create(fx->ctx, s, &fe), "NHWC");
    vg_session_destroy(&s);
}

/* The generated embedder returns the same vector for every picture, which is
 * its own reference: embedding must say so rather than divide by zero. */
static void test_embed_rejects_bad_boxes_and_degenerate_output(void **state)
{
    fixture *fx = *state;
    vg_session *s = load(fx, fx->emb_const);
    vg_face_embedder *fe = NULL;
    uint8_t pic[64 * 48 * 3];
    vg_face face = {.box = {10, 10, 20, 20}};
    float emb[EMB_CAP];
    int dim = -1;
    memset(pic, 90, sizeof(pic));
    assert_int_equal(vg_face_embedder_create(fx->ctx, s, &fe), 0);
    assert_int_equal(vg_face_embedder_dim(fe), 8);
    assert_int_equal(
        vg_face_embed(fe, pic, 64, 48, 64 * 3, &face, emb, 4, &dim), VG_ERANGE);
    assert_int_equal(dim, 0);
    assert_int_equal(
        vg_face_embed(fe, pic, 64, 48, 64 * 3, &face, emb, EMB_CAP, &dim),
        VG_EINFER);
    assert_true(strlen(vg_face_embedder_errmsg(fe)) > 0);
    face.box.w = 0;
    assert_int_equal(
        vg_face_embed(fe, pic, 64, 48, 64 * 3, &face, emb, EMB_CAP, &dim),
        VG_EINVAL);
    face.box = (vg_box){200, 10, 20, 20}; /* right of the picture */
    assert_int_equal(
        vg_face_embed(fe, pic, 64, 48, 64 * 3, &face, emb, EMB_CAP, &dim),
        VG_EINVAL);
    face.box = (vg_box){NAN, 10, 20, 20};
    assert_int_equal(
        vg_face_embed(fe, pic, 64, 48, 64 * 3, &face, emb, EMB_CAP, &dim),
        VG_EINVAL);
    vg_face_embedder_destroy(&fe);
    assert_null(fe);
    vg_session_destroy(&s);
}

static void test_create_survives_every_allocation_failure(void **state)
{
    fixture *fx = *state;
    vg_session *s = load(fx, fx->bf_const);
    vg_session *e = load(fx, fx->emb_const);
    int failed = 0;
    for (uint64_t nth = 1; nth < 10; nth++) {
        vg_face_detector *fd = NULL;
        vg_face_embedder *fe = NULL;
        int rd, re;
        vg_context_fail_alloc(fx->ctx, nth, 0);
        rd = vg_face_detector_create(fx->ctx, s, NULL, &fd);
        vg_context_fail_alloc(fx->ctx, nth, 0);
        re = vg_face_embedder_create(fx->ctx, e, &fe);
        vg_context_fail_alloc(fx->ctx, 0, 0);
        assert_true(rd == 0 || rd == VG_ENOMEM);
        assert_true(re == 0 || re == VG_ENOMEM);
        assert_true((rd == 0) == (fd != NULL));
        assert_true((re == 0) == (fe != NULL));
        failed += (rd < 0) + (re < 0);
        vg_face_detector_destroy(&fd);
        vg_face_embedder_destroy(&fe);
    }
    assert_true(failed >= 4); /* 3 allocations each, all tried */
    vg_session_destroy(&s);
    vg_session_destroy(&e);
}

static void test_cosine_of_known_vectors(void **state)
{
    const float a[3] = {1, 0, 0}, b[3] = {0, 2, 0}, c[3] = {-3, 0, 0};
    const float d[3] = {1, 1, 0}, z[3] = {0, 0, 0};
    (void)state;
    assert_float_equal(vg_face_cosine(a, a, 3), 1.0f, 1e-6);
    assert_float_equal(vg_face_cosine(a, b, 3), 0.0f, 1e-6);
    assert_float_equal(vg_face_cosine(a, c, 3), -1.0f, 1e-6);
    assert_float_equal(vg_face_cosine(a, d, 3), 1.0f / sqrtf(2.0f), 1e-6);
    assert_float_equal(vg_face_cosine(a, z, 3), 0.0f, 0);
    assert_float_equal(vg_face_cosine(a, b, 0), 0.0f, 0);
}

/* ---- real models ----------------------------------------------------------
 */

static int detect_best(vg_face_detector *fd, const picture *p, float x0,
                       float y0, float x1, float y1, vg_face *best)
{
    vg_face faces[8];
    int n = 0;
    assert_int_equal(vg_face_detect(fd, p->rgb, p->w, p->h, p->stride, x0, y0,
                                    x1, y1, faces, 8, &n),
                     0);
    if (n > 0)
        *best = faces[0];
    return n;
}

static void test_blazeface_finds_the_face_in_megamind_frames(void **state)
{
    fixture *fx = *state;
    vg_session *s;
    vg_face_detector *fd = NULL;
    int with_face = 0, tried = 0;
    uint64_t before;
    vg_face f;
    if (!fx->have_real)
        skip();
    s = load(fx, fx->bf_real);
    assert_int_equal(vg_face_detector_create(fx->ctx, s, NULL, &fd), 0);
    before = allocs(fx);
    for (size_t i = 0; i < N_VIDEO_FRAMES; i++) {
        const picture *p = &fx->frames[i];
        int n;
        if (p->index == 0)
            continue; /* black */
        tried++;
        n = detect_best(fd, p, 0, 0, (float)p->w, (float)p->h, &f);
        if (n == 0) {
            printf("frame %3d: no face\n", p->index);
            continue;
        }
        printf("frame %3d: %d face(s), best %.3f at %.0f,%.0f %.0fx%.0f\n",
               p->index, n, (double)f.score, (double)f.box.x, (double)f.box.y,
               (double)f.box.w, (double)f.box.h);
        assert_true(f.score >= 0.75f);
        /* inside the picture, 40..420 px (the faces are 60..280 px) */
        assert_true(f.box.x >= 0 && f.box.y >= 0 &&
                    f.box.x + f.box.w <= (float)p->w &&
                    f.box.y + f.box.h <= (float)p->h);
        assert_true(f.box.w > 40 && f.box.w < 420);
        assert_true(f.box.h > 40 && f.box.h < 420);
        /* roughly square, eyes above the mouth, the person's right eye on
         * the picture's left, both eyes inside the box */
        assert_true(f.box.w / f.box.h > 0.7f && f.box.w / f.box.h < 1.4f);
        assert_true(f.keypoints[VG_FACE_RIGHT_EYE][0] <
                    f.keypoints[VG_FACE_LEFT_EYE][0]);
        assert_true(f.keypoints[VG_FACE_RIGHT_EYE][1] <
                    f.keypoints[VG_FACE_MOUTH][1]);
        for (int k = VG_FACE_RIGHT_EYE; k <= VG_FACE_MOUTH; k++) {
            assert_true(f.keypoints[k][0] > f.box.x &&
                        f.keypoints[k][0] < f.box.x + f.box.w);
            assert_true(f.keypoints[k][1] > f.box.y &&
                        f.keypoints[k][1] < f.box.y + f.box.h);
        }
        with_face++;
    }
    printf("faces found on %d of %d frames\n", with_face, tried);
    assert_true(with_face * 10 >= tried * 8);
    /* the black frame has none */
    assert_int_equal(detect_best(fd, frame_at(fx, 0), 0, 0, 720, 528, &f), 0);
    assert_int_equal(allocs(fx), before);
    vg_face_detector_destroy(&fd);
    vg_session_destroy(&s);
}

/* Decoding errors (anchor offsets, a flipped axis, a wrong crop origin)
 * would move boxes found on a mirrored picture or on a sub-region. */
static void test_blazeface_boxes_follow_mirror_and_crop(void **state)
{
    fixture *fx = *state;
    const int frames[] = {40, 120, 220};
    vg_session *s;
    vg_face_detector *fd = NULL;
    if (!fx->have_real)
        skip();
    s = load(fx, fx->bf_real);
    assert_int_equal(vg_face_detector_create(fx->ctx, s, NULL, &fd), 0);
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        const picture *p = frame_at(fx, frames[i]);
        picture m = *p;
        vg_face f, g, c;
        vg_box mirrored;
        float cx, cy, side;
        m.rgb = malloc((size_t)p->stride * (size_t)p->h);
        assert_non_null(m.rgb);
        for (int y = 0; y < p->h; y++)
            for (int x = 0; x < p->w; x++)
                memcpy(m.rgb + (size_t)y * (size_t)p->stride +
                           (size_t)(p->w - 1 - x) * 3,
                       p->rgb + (size_t)y * (size_t)p->stride + (size_t)x * 3,
                       3);
        assert_true(detect_best(fd, p, 0, 0, (float)p->w, (float)p->h, &f) > 0);
        assert_true(detect_best(fd, &m, 0, 0, (float)p->w, (float)p->h, &g) >
                    0);
        mirrored = g.box;
        mirrored.x = (float)p->w - g.box.x - g.box.w;
        /* a square region twice the face's size around it */
        cx = f.box.x + f.box.w / 2;
        cy = f.box.y + f.box.h / 2;
        side = 2.0f * (f.box.w > f.box.h ? f.box.w : f.box.h);
        assert_true(detect_best(fd, p, cx - side / 2, cy - side / 2,
                                cx + side / 2, cy + side / 2, &c) > 0);
        printf("frame %3d: mirrored IoU %.3f (x %+.1f px, w %+.1f px), "
               "crop IoU %.3f (x %+.1f, y %+.1f px)\n",
               p->index, (double)vg_box_iou(&f.box, &mirrored),
               (double)(mirrored.x - f.box.x), (double)(mirrored.w - f.box.w),
               (double)vg_box_iou(&f.box, &c.box), (double)(c.box.x - f.box.x),
               (double)(c.box.y - f.box.y));
        assert_true(vg_box_iou(&f.box, &mirrored) > 0.8f);
        assert_true(vg_box_iou(&f.box, &c.box) > 0.7f);
        /* the mirrored picture's right eye is the original's left one */
        assert_float_equal((float)p->w - g.keypoints[VG_FACE_RIGHT_EYE][0],
                           f.keypoints[VG_FACE_LEFT_EYE][0], 0.1f * f.box.w);
        free(m.rgb);
    }
    vg_face_detector_destroy(&fd);
    vg_session_destroy(&s);
}

static void embed_best(fixture *fx, vg_face_detector *fd, vg_face_embedder *fe,
                       int index, float *emb, vg_face *face)
{
    const picture *p = frame_at(fx, index);
    int dim = 0;
    double norm = 0.0;
    assert_true(detect_best(fd, p, 0, 0, (float)p->w, (float)p->h, face) > 0);
    assert_int_equal(vg_face_embed(fe, p->rgb, p->w, p->h, p->stride, face, emb,
                                   EMB_CAP, &dim),
                     0);
    assert_int_equal(dim, 192);
    for (int i = 0; i < dim; i++)
        norm += (double)emb[i] * (double)emb[i];
    assert_float_equal(norm, 1.0, 1e-4);
}

static void test_mobilefacenet_tells_characters_apart(void **state)
{
    fixture *fx = *state;
    /* consecutive frames of one character */
    static const int same[][2] = {{20, 21}, {120, 121}, {220, 221}};
    /* the other character */
    static const int other[][2] = {
        {20, 120}, {21, 220}, {40, 200}, {180, 240}, {160, 140}};
    static float a[EMB_CAP], b[EMB_CAP], bg[EMB_CAP];
    vg_session *s, *e;
    vg_face_detector *fd = NULL;
    vg_face_embedder *fe = NULL;
    float min_same = 2.0f, max_other = -2.0f, max_bg = -2.0f;
    uint64_t before;
    vg_face fa, fb;
    int dim;
    if (!fx->have_real)
        skip();
    s = load(fx, fx->bf_real);
    e = load(fx, fx->mfn_real);
    assert_int_equal(vg_face_detector_create(fx->ctx, s, NULL, &fd), 0);
    assert_int_equal(vg_face_embedder_create(fx->ctx, e, &fe), 0);
    assert_int_equal(vg_face_embedder_dim(fe), 192);
    before = allocs(fx);
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        float cs;
        embed_best(fx, fd, fe, same[i][0], a, &fa);
        embed_best(fx, fd, fe, same[i][1], b, &fb);
        cs = vg_face_cosine(a, b, 192);
        printf("same character, frames %3d/%3d: cosine %.3f\n", same[i][0],
               same[i][1], (double)cs);
        min_same = cs < min_same ? cs : min_same;
        /* a background patch of the face's size in the top-left corner */
        {
            const picture *p = frame_at(fx, same[i][0]);
            vg_face patch = fa;
            float cb;
            patch.box.x = 8;
            patch.box.y = 8;
            patch.box.w = patch.box.h = 90;
            assert_int_equal(vg_face_embed(fe, p->rgb, p->w, p->h, p->stride,
                                           &patch, bg, EMB_CAP, &dim),
                             0);
            cb = vg_face_cosine(a, bg, 192);
            printf("face/background, frame %3d: cosine %.3f\n", same[i][0],
                   (double)cb);
            max_bg = cb > max_bg ? cb : max_bg;
        }
    }
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        float co;
        embed_best(fx, fd, fe, other[i][0], a, &fa);
        embed_best(fx, fd, fe, other[i][1], b, &fb);
        co = vg_face_cosine(a, b, 192);
        printf("other character, frames %3d/%3d: cosine %.3f\n", other[i][0],
               other[i][1], (double)co);
        max_other = co > max_other ? co : max_other;
    }
    printf("min same %.3f, max other %.3f, max background %.3f\n",
           (double)min_same, (double)max_other, (double)max_bg);
    assert_int_equal(allocs(fx), before);
    assert_true(min_same > 0.85f);
    assert_true(min_same > max_other + 0.15f);
    assert_true(min_same > max_bg + 0.4f);
    vg_face_embedder_destroy(&fe);
    vg_face_detector_destroy(&fd);
    vg_session_destroy(&e);
    vg_session_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crop_at_scale_one_copies_pixels_exactly),
        cmocka_unit_test(test_crop_halving_averages_pixel_pairs),
        cmocka_unit_test(test_crop_letterboxes_wide_region_with_black),
        cmocka_unit_test(test_crop_clamps_region_to_picture),
        cmocka_unit_test(test_crop_rejects_empty_or_outside_regions),
        cmocka_unit_test(test_decode_places_boxes_at_anchor_plus_offset),
        cmocka_unit_test(test_decode_maps_through_letterbox_and_clips),
        cmocka_unit_test(test_cosine_of_known_vectors),
        cmocka_unit_test_setup_teardown(
            test_detect_on_crop_returns_picture_coordinates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detector_fixes_dynamic_batch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_detector_rejects_wrong_shapes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_embedder_rejects_wrong_shapes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_embed_rejects_bad_boxes_and_degenerate_output, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_create_survives_every_allocation_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_blazeface_finds_the_face_in_megamind_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_blazeface_boxes_follow_mirror_and_crop, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_mobilefacenet_tells_characters_apart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
