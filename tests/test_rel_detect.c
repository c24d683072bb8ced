/*
 * Reliability cases of the detector, the session and the face stages against
 * models whose outputs are not what vigil reads: outputs of another element
 * type (float16, uint8, int32, float64, bool, int64) in the YOLOv5, YOLOv8,
 * NanoDet and embedder shapes are refused at load with one line naming the
 * file, the output and the type; outputs whose size disagrees with their
 * declared shape never get read past their end; inf/NaN scores and boxes
 * are dropped before NMS and counted.
 */
/* ctest-cost: 90 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "models/model_gen.h"
#include "vigil/detect.h"
#include "vigil/face.h"
#include "vigil/pool.h"

#define V5_N 1000
#define V8_N 1000
#define ND_SIZE 64 /* grids 8x8, 4x4, 2x2 */

static const char *const bad_types[] = {"float16", "uint8", "int32",
                                        "float64", "bool",  "int64"};
#define N_TYPES (sizeof(bad_types) / sizeof(bad_types[0]))

enum { SHAPE_V5, SHAPE_V8, SHAPE_NANODET, SHAPE_EMBED, N_SHAPES };

typedef struct fixture {
    model_dir dir;
    char typed[N_SHAPES][N_TYPES][512];
    char v5_lie[512]; /* declared [1,1000,85], really [1,10,85] */
    char v8_lie[512]; /* declared [1,84,1000], really [1,84,100] */
    char nonfinite[512];
    char nonfinite_v8[512];
    char nonfinite_nd[512];
    vg_context *ctx;
    int warnings;
} fixture;

static float *zeros(size_t n)
{
    return calloc(n, sizeof(float));
}

/* One YOLOv5-style output named output0, typed when type is not NULL. */
static int make_yolo(fixture *fx, const char *path, const char *shape,
                     const char *type, const float *v, size_t n)
{
    char outs[1000] = "", name[64];
    snprintf(name, sizeof(name), "output0%s%s", type ? "@" : "",
             type ? type : "");
    if (model_add_output(&fx->dir, outs, sizeof(outs), name, shape, v, n) != 0)
        return -1;
    return model_make_const(path, "1,3,640,640", outs);
}

/* A 64x64 NanoDet (3 classes, reg_max 7): cls8 typed when type is set;
 * cls values from cls (per level, may be NULL: zeros), boxes from box. */
static int make_nanodet(fixture *fx, const char *path, const char *type,
                        float *const cls[3], float *const box[3])
{
    static const int strides[3] = {8, 16, 32};
    char outs[3000] = "";
    for (int l = 0; l < 3; l++) {
        int g = ND_SIZE / strides[l], cells = g * g;
        char name[64], shape[64];
        float *z = zeros((size_t)cells * 32);
        int rc;
        if (z == NULL)
            return -1;
        snprintf(name, sizeof(name), "cls%d%s%s", strides[l],
                 (type && l == 0) ? "@" : "", (type && l == 0) ? type : "");
        snprintf(shape, sizeof(shape), "1,%d,3", cells);
        rc = model_add_output(&fx->dir, outs, sizeof(outs), name, shape,
                              cls && cls[l] ? cls[l] : z, (size_t)cells * 3);
        snprintf(name, sizeof(name), "box%d", strides[l]);
        snprintf(shape, sizeof(shape), "1,%d,32", cells);
        if (rc == 0)
            rc = model_add_output(&fx->dir, outs, sizeof(outs), name, shape,
                                  box && box[l] ? box[l] : z,
                                  (size_t)cells * 32);
        free(z);
        if (rc != 0)
            return -1;
    }
    return model_make_const(path, "1,3,64,64", outs);
}

static int make_embedder(fixture *fx, const char *path, const char *type)
{
    char outs[1000] = "", name[64];
    float v[192];
    for (int i = 0; i < 192; i++)
        v[i] = (float)i;
    snprintf(name, sizeof(name), "embedding@%s", type);
    if (model_add_output(&fx->dir, outs, sizeof(outs), name, "1,192", v, 192) !=
        0)
        return -1;
    return model_make_const(path, "1,112,112,3", outs);
}

/* v5 rows: a good person at anchor 1; NaN objectness at 2, +inf score at 3,
 * a NaN class score at 4, an infinite width at 5, a NaN x at 6; -inf
 * objectness (simply below threshold) at 7. */
static void fill_v5_nonfinite(float *o)
{
    memset(o, 0, sizeof(float) * V5_N * 85);
    for (int a = 1; a <= 7; a++) {
        float *row = o + a * 85;
        row[0] = 100.0f + 60.0f * (float)a;
        row[1] = 300.0f;
        row[2] = 40.0f;
        row[3] = 80.0f;
        row[4] = 0.9f;
        row[5] = 0.9f;
    }
    o[2 * 85 + 4] = NAN;
    o[3 * 85 + 4] = INFINITY;
    o[4 * 85 + 5 + 3] = NAN;
    o[5 * 85 + 2] = INFINITY;
    o[6 * 85 + 0] = NAN;
    o[7 * 85 + 4] = -INFINITY;
}

static int group_setup(void **state)
{
    static fixture fx;
    float *big = zeros((size_t)V5_N * 85);
    float *v8 = zeros((size_t)V8_N * 84);
    int rc = -1;
    memset(&fx, 0, sizeof(fx));
    if (big == NULL || v8 == NULL || model_dir_create(&fx.dir) != 0)
        goto done;
    for (size_t t = 0; t < N_TYPES; t++) {
        char name[64];
        snprintf(name, sizeof(name), "v5_%s.onnx", bad_types[t]);
        model_path(&fx.dir, name, fx.typed[SHAPE_V5][t], 512);
        snprintf(name, sizeof(name), "v8_%s.onnx", bad_types[t]);
        model_path(&fx.dir, name, fx.typed[SHAPE_V8][t], 512);
        snprintf(name, sizeof(name), "nd_%s.onnx", bad_types[t]);
        model_path(&fx.dir, name, fx.typed[SHAPE_NANODET][t], 512);
        snprintf(name, sizeof(name), "emb_%s.onnx", bad_types[t]);
        model_path(&fx.dir, name, fx.typed[SHAPE_EMBED][t], 512);
        if (make_yolo(&fx, fx.typed[SHAPE_V5][t], "1,1000,85", bad_types[t],
                      big, (size_t)V5_N * 85) != 0 ||
            make_yolo(&fx, fx.typed[SHAPE_V8][t], "1,84,1000", bad_types[t], v8,
                      (size_t)V8_N * 84) != 0 ||
            make_nanodet(&fx, fx.typed[SHAPE_NANODET][t], bad_types[t], NULL,
                         NULL) != 0 ||
            make_embedder(&fx, fx.typed[SHAPE_EMBED][t], bad_types[t]) != 0)
            goto done;
    }
    model_path(&fx.dir, "v5_lie.onnx", fx.v5_lie, sizeof(fx.v5_lie));
    model_path(&fx.dir, "v8_lie.onnx", fx.v8_lie, sizeof(fx.v8_lie));
    if (make_yolo(&fx, fx.v5_lie, "1,1000/10,85", NULL, big, 10 * 85) != 0 ||
        make_yolo(&fx, fx.v8_lie, "1,84,1000/100", NULL, v8, 84 * 100) != 0)
        goto done;
    model_path(&fx.dir, "nonfinite.onnx", fx.nonfinite, sizeof(fx.nonfinite));
    fill_v5_nonfinite(big);
    if (make_yolo(&fx, fx.nonfinite, "1,1000,85", NULL, big,
                  (size_t)V5_N * 85) != 0)
        goto done;
    /* v8: anchor 1 good, 2 +inf score, 3 NaN score, 4 NaN height */
    for (int a = 1; a <= 4; a++) {
        v8[0 * V8_N + a] = 100.0f * (float)a;
        v8[1 * V8_N + a] = 300.0f;
        v8[2 * V8_N + a] = 40.0f;
        v8[3 * V8_N + a] = 80.0f;
        v8[4 * V8_N + a] = 0.8f;
    }
    v8[4 * V8_N + 2] = INFINITY;
    v8[(4 + 7) * V8_N + 3] = NAN;
    v8[3 * V8_N + 4] = NAN;
    model_path(&fx.dir, "nonfinite_v8.onnx", fx.nonfinite_v8,
               sizeof(fx.nonfinite_v8));
    if (make_yolo(&fx, fx.nonfinite_v8, "1,84,1000", NULL, v8,
                  (size_t)V8_N * 84) != 0)
        goto done;
    {
        /* NanoDet stride 8: cell 0 good, cell 1 NaN class score, cell 2 a
         * box bin of +inf */
        float cls8[64 * 3] = {0}, box8[64 * 32] = {0};
        float *cls[3] = {cls8, NULL, NULL}, *box[3] = {box8, NULL, NULL};
        cls8[0 * 3 + 0] = 0.9f;
        cls8[1 * 3 + 1] = NAN;
        cls8[2 * 3 + 2] = 0.9f;
        box8[2 * 32 + 5] = INFINITY;
        model_path(&fx.dir, "nonfinite_nd.onnx", fx.nonfinite_nd,
                   sizeof(fx.nonfinite_nd));
        if (make_nanodet(&fx, fx.nonfinite_nd, NULL, cls, box) != 0)
            goto done;
    }
    *state = &fx;
    rc = 0;
done:
    free(big);
    free(v8);
    return rc;
}

static int group_teardown(void **state)
{
    fixture *fx = *state;
    model_dir_remove(&fx->dir);
    return 0;
}

static void count_warnings(void *user, int level, const char *line)
{
    fixture *fx = user;
    (void)line;
    if (level <= VG_LOG_WARN) /* warnings and errors */
        fx->warnings++;
}

static int setup(void **state)
{
    fixture *fx = *state;
    if (vg_context_create(&fx->ctx) != 0)
        return -1;
    vg_context_set_log_level(fx->ctx, VG_LOG_WARN);
    vg_context_set_log_fn(fx->ctx, count_warnings, fx);
    fx->warnings = 0;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(fx->ctx, &st);
    vg_context_destroy(&fx->ctx);
    return st.allocs == st.frees ? 0 : -1;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* The context's message is one line naming the file, output and type. */
static void assert_type_message(vg_context *ctx, const char *path,
                                const char *output, const char *type)
{
    const char *msg = vg_context_errmsg(ctx);
    char want[256];
    assert_non_null(strstr(msg, base_name(path)));
    snprintf(want, sizeof(want), "output '%s' is %s; vigil reads float32",
             output, type);
    if (strstr(msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", msg, want);
    assert_null(strchr(msg, '\n'));
    assert_null(strchr(msg, '\r'));
}

static void test_yolov5_output_of_another_type_is_refused_at_load(void **state)
{
    fixture *fx = *state;
    for (size_t t = 0; t < N_TYPES; t++) {
        vg_detector *d = (vg_detector *)fx;
        assert_int_equal(
            vg_detector_create(fx->ctx, fx->typed[SHAPE_V5][t], NULL, &d),
            VG_ENOTSUP);
        assert_null(d);
        assert_type_message(fx->ctx, fx->typed[SHAPE_V5][t], "output0",
                            bad_types[t]);
    }
}

static void test_yolov8_output_of_another_type_is_refused_at_load(void **state)
{
    fixture *fx = *state;
    for (size_t t = 0; t < N_TYPES; t++) {
        vg_detector_opts o;
        vg_detector *d = NULL;
        vg_detector_opts_default(&o);
        o.head = VG_HEAD_YOLOV8;
        assert_int_equal(
            vg_detector_create(fx->ctx, fx->typed[SHAPE_V8][t], &o, &d),
            VG_ENOTSUP);
        assert_null(d);
        assert_type_message(fx->ctx, fx->typed[SHAPE_V8][t], "output0",
                            bad_types[t]);
    }
}

static void test_nanodet_output_of_another_type_is_refused_at_load(void **state)
{
    fixture *fx = *state;
    for (size_t t = 0; t < N_TYPES; t++) {
        vg_detector *d = NULL;
        assert_int_equal(
            vg_detector_create(fx->ctx, fx->typed[SHAPE_NANODET][t], NULL, &d),
            VG_ENOTSUP);
        assert_null(d);
        assert_type_message(fx->ctx, fx->typed[SHAPE_NANODET][t], "cls8",
                            bad_types[t]);
    }
}

static void test_session_refuses_embedder_of_another_type(void **state)
{
    fixture *fx = *state;
    for (size_t t = 0; t < N_TYPES; t++) {
        vg_session *s = NULL;
        assert_int_equal(
            vg_session_create(fx->ctx, fx->typed[SHAPE_EMBED][t], NULL, &s),
            VG_ENOTSUP);
        assert_null(s);
        assert_type_message(fx->ctx, fx->typed[SHAPE_EMBED][t], "embedding",
                            bad_types[t]);
    }
}

static void test_type_names_cover_the_onnx_types(void **state)
{
    (void)state;
    assert_string_equal(vg_tensor_type_name(1), "float32");
    assert_string_equal(vg_tensor_type_name(10), "float16");
    assert_string_equal(vg_tensor_type_name(2), "uint8");
    assert_string_equal(vg_tensor_type_name(6), "int32");
    assert_string_equal(vg_tensor_type_name(7), "int64");
    assert_string_equal(vg_tensor_type_name(9), "bool");
    assert_string_equal(vg_tensor_type_name(11), "float64");
    assert_string_equal(vg_tensor_type_name(16), "bfloat16");
    assert_non_null(vg_tensor_type_name(-5));
    assert_non_null(vg_tensor_type_name(999));
}

/* Runs d once on a zero frame; returns vg_detector_run's code. */
static int run_once(fixture *fx, vg_detector *d, int w, int h,
                    vg_detection *dets, int cap, int *n)
{
    vg_pool *pool;
    vg_frame frame;
    int rc;
    assert_int_equal(vg_pool_create(fx->ctx, "tensor",
                                    3 * (size_t)w * (size_t)h * sizeof(float),
                                    1, &pool),
                     0);
    memset(&frame, 0, sizeof(frame));
    assert_int_equal(vg_pool_get(pool, 0, &frame.tensor), 0);
    memset(vg_buf_data(frame.tensor), 0, vg_buf_size(frame.tensor));
    frame.lb.scale = 1.0f;
    frame.lb.src_w = w;
    frame.lb.src_h = h;
    frame.lb.dst_w = w;
    frame.lb.dst_h = h;
    rc = vg_detector_run(d, &frame, dets, cap, n);
    vg_buf_unref(&frame.tensor);
    vg_pool_destroy(&pool);
    return rc;
}

/* A model declaring a bigger output than it produces: ONNX Runtime's shape
 * inference reports the real shape (warning about the declared one, which
 * goes to the debug log), so the head is chosen for, and reads, what is
 * really there; never past its end (the sanitizer build checks). */
static void assert_real_shape_is_read(fixture *fx, const char *path,
                                      size_t real)
{
    vg_detector *d = NULL;
    vg_detection dets[8];
    int n = -1;
    assert_int_equal(vg_detector_create(fx->ctx, path, NULL, &d), 0);
    assert_int_equal(vg_session_output_elements(vg_detector_session(d), 0),
                     real);
    assert_int_equal(run_once(fx, d, 640, 640, dets, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vg_session_output_elements(vg_detector_session(d), 0),
                     real);
    vg_detector_destroy(&d);
}

static void test_output_smaller_than_declared_is_never_read(void **state)
{
    fixture *fx = *state;
    assert_real_shape_is_read(fx, fx->v5_lie, 10 * 85);
    assert_real_shape_is_read(fx, fx->v8_lie, 84 * 100);
}

/* A borrowed session replaced by one whose output is smaller than what the
 * head was set up for: the run fails with VG_EINFER and a one-line message
 * naming the output instead of reading past the end. */
static void test_swapped_session_with_smaller_output_is_einfer(void **state)
{
    fixture *fx = *state;
    vg_session *big = NULL, *small = NULL;
    vg_detector *d = NULL;
    vg_detection dets[8];
    int n = -1;
    assert_int_equal(vg_session_create(fx->ctx, fx->nonfinite_v8, NULL, &big),
                     0);
    assert_int_equal(vg_session_create(fx->ctx, fx->v8_lie, NULL, &small), 0);
    assert_int_equal(
        vg_detector_create_on(fx->ctx, big, fx->nonfinite_v8, NULL, &d), 0);
    vg_detector_set_session(d, small);
    assert_int_equal(run_once(fx, d, 640, 640, dets, 8, &n), VG_EINFER);
    assert_int_equal(n, 0);
    assert_non_null(strstr(vg_detector_errmsg(d), "output0"));
    assert_null(strchr(vg_detector_errmsg(d), '\n'));
    vg_detector_destroy(&d);
    vg_session_destroy(&small);
    vg_session_destroy(&big);
}

static void assert_all_finite(const vg_detection *dets, int n)
{
    for (int i = 0; i < n; i++) {
        assert_true(isfinite(dets[i].score));
        assert_true(isfinite(dets[i].box.x) && isfinite(dets[i].box.y) &&
                    isfinite(dets[i].box.w) && isfinite(dets[i].box.h));
    }
}

static void
test_yolov5_nonfinite_detections_are_dropped_and_counted(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    vg_detector_stats st;
    vg_detection dets[16];
    int n = -1;
    assert_int_equal(vg_detector_create(fx->ctx, fx->nonfinite, NULL, &d), 0);
    assert_int_equal(vg_detector_stats_get(d, &st), 0);
    assert_int_equal(st.nonfinite_dropped, 0);
    assert_int_equal(run_once(fx, d, 640, 640, dets, 16, &n), 0);
    assert_int_equal(n, 1); /* anchor 1 only */
    assert_all_finite(dets, n);
    assert_int_equal(dets[0].class_id, 0);
    assert_float_equal(dets[0].box.x, 140.0f, 1e-3);
    assert_int_equal(vg_detector_stats_get(d, &st), 0);
    assert_int_equal(st.nonfinite_dropped, 5);
    assert_int_equal(fx->warnings, 1);
    assert_int_equal(run_once(fx, d, 640, 640, dets, 16, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(vg_detector_stats_get(d, &st), 0);
    assert_int_equal(st.nonfinite_dropped, 10);
    assert_int_equal(fx->warnings, 1); /* logged once */
    assert_int_equal(vg_detector_stats_get(NULL, &st), VG_EINVAL);
    assert_int_equal(vg_detector_stats_get(d, NULL), VG_EINVAL);
    vg_detector_destroy(&d);
}

static void
test_yolov8_nonfinite_detections_are_dropped_and_counted(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    vg_detector_stats st;
    vg_detection dets[16];
    int n = -1;
    assert_int_equal(vg_detector_create(fx->ctx, fx->nonfinite_v8, NULL, &d),
                     0);
    assert_int_equal(vg_detector_head(d), VG_HEAD_YOLOV8);
    assert_int_equal(run_once(fx, d, 640, 640, dets, 16, &n), 0);
    assert_int_equal(n, 1);
    assert_all_finite(dets, n);
    assert_float_equal(dets[0].box.x, 80.0f, 1e-3);
    assert_int_equal(vg_detector_stats_get(d, &st), 0);
    assert_int_equal(st.nonfinite_dropped, 3);
    assert_int_equal(fx->warnings, 1);
    vg_detector_destroy(&d);
}

static void
test_nanodet_nonfinite_detections_are_dropped_and_counted(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    vg_detector_stats st;
    vg_detection dets[16];
    int n = -1;
    assert_int_equal(vg_detector_create(fx->ctx, fx->nonfinite_nd, NULL, &d),
                     0);
    assert_int_equal(vg_detector_head(d), VG_HEAD_NANODET);
    assert_int_equal(run_once(fx, d, ND_SIZE, ND_SIZE, dets, 16, &n), 0);
    assert_int_equal(n, 1);
    assert_all_finite(dets, n);
    assert_int_equal(dets[0].class_id, 0);
    assert_int_equal(vg_detector_stats_get(d, &st), 0);
    assert_int_equal(st.nonfinite_dropped, 2);
    assert_int_equal(fx->warnings, 1);
    vg_detector_destroy(&d);
}

static void test_face_decode_drops_nonfinite_boxes_and_keypoints(void **state)
{
    float s16[VG_FACE_ANCHORS_S16], s32[VG_FACE_ANCHORS_S32];
    float b16[VG_FACE_ANCHORS_S16 * 16] = {0}, b32[VG_FACE_ANCHORS_S32 * 16];
    vg_detection scratch[VG_FACE_ANCHORS];
    vg_face faces[8];
    vg_face_detector_opts o;
    int n = -1;
    (void)state;
    vg_face_detector_opts_default(&o);
    for (int i = 0; i < VG_FACE_ANCHORS_S16; i++)
        s16[i] = -20.0f;
    for (int i = 0; i < VG_FACE_ANCHORS_S32; i++)
        s32[i] = -20.0f;
    memset(b32, 0, sizeof(b32));
    /* three far-apart anchors: finite, infinite width, NaN keypoint */
    for (int k = 0; k < 3; k++) {
        int a = k * 200;
        s16[a] = 5.0f;
        b16[a * 16 + 2] = 20.0f;
        b16[a * 16 + 3] = 20.0f;
    }
    b16[200 * 16 + 2] = INFINITY;
    b16[400 * 16 + 9] = NAN;
    assert_int_equal(vg_face_decode(s16, s32, b16, b32, 256, NULL, &o, scratch,
                                    faces, 8, &n),
                     0);
    assert_int_equal(n, 1);
    assert_true(isfinite(faces[0].box.w));
    for (int k = 0; k < VG_FACE_KEYPOINTS; k++)
        assert_true(isfinite(faces[0].keypoints[k][0]) &&
                    isfinite(faces[0].keypoints[k][1]));
}

/* A load error is one line even when ONNX Runtime's message and the path
 * itself carry newlines. */
static void test_load_error_is_one_line(void **state)
{
    fixture *fx = *state;
    char path[600];
    vg_session *s = NULL;
    vg_detector *d = NULL;
    const char *msg;
    model_path(&fx->dir, "two\nlines.onnx", path, sizeof(path));
    assert_int_equal(model_write_text(path, "not\na model\n"), 0);
    assert_int_equal(vg_session_create(fx->ctx, path, NULL, &s), VG_EMODEL);
    assert_null(s);
    msg = vg_context_errmsg(fx->ctx);
    assert_non_null(strstr(msg, "two lines.onnx"));
    assert_null(strchr(msg, '\n'));
    assert_int_equal(vg_detector_create(fx->ctx, path, NULL, &d), VG_EMODEL);
    assert_null(strchr(vg_context_errmsg(fx->ctx), '\n'));
    assert_int_equal(fx->warnings, 0); /* ONNX Runtime logged nothing */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_yolov5_output_of_another_type_is_refused_at_load),
        T(test_yolov8_output_of_another_type_is_refused_at_load),
        T(test_nanodet_output_of_another_type_is_refused_at_load),
        T(test_session_refuses_embedder_of_another_type),
        T(test_type_names_cover_the_onnx_types),
        T(test_output_smaller_than_declared_is_never_read),
        T(test_swapped_session_with_smaller_output_is_einfer),
        T(test_yolov5_nonfinite_detections_are_dropped_and_counted),
        T(test_yolov8_nonfinite_detections_are_dropped_and_counted),
        T(test_nanodet_nonfinite_detections_are_dropped_and_counted),
        T(test_face_decode_drops_nonfinite_boxes_and_keypoints),
        T(test_load_error_is_one_line),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
