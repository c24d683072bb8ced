/*
 * Tests of vg_detector's heads over generated models whose outputs are
 * constants chosen here, so that decoding, mapping through a letterbox,
 * filtering and NMS can be checked exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "models/model_gen.h"
#include "vigil/detect.h"
#include "vigil/pool.h"

#define V5_N 200
#define V8_N 300
#define COCO 80
#define ND_SIZE 416
#define TOL 1e-2

/* YOLO candidates in 640x640 tensor pixels, at anchor index anchor. */
typedef struct truth {
    int anchor;
    float cx, cy, w, h, obj, cls_score;
    int class_id;
} truth;

static const truth yolo_truth[] = {
    {10, 320, 320, 100, 200, 0.9f, 0.8f, 0}, /* person 0.72 */
    {11, 324, 324, 100, 200, 0.9f, 0.5f, 0}, /* person 0.45, IoU .89 */
    {12, 320, 320, 100, 200, 0.9f, 0.7f, 2}, /* car 0.63, same box */
    {13, 100, 500, 50, 50, 0.9f, 0.2f, 5},   /* bus 0.18: low */
    {14, 20, 100, 80, 40, 1.0f, 0.6f, 16},   /* dog 0.6, off the left */
};
#define N_TRUTH (sizeof(yolo_truth) / sizeof(yolo_truth[0]))

/* 768x576 source letterboxed into 640x640: scale 5/6, 80 rows of padding. */
static const vg_letterbox lb640 = {.scale = 640.0f / 768.0f,
                                   .pad_x = 0,
                                   .pad_y = 80,
                                   .src_w = 768,
                                   .src_h = 576,
                                   .dst_w = 640,
                                   .dst_h = 640};

/* The same source into 416x416: scale 416/768, 52 rows of padding. */
static const vg_letterbox lb416 = {.scale = 416.0f / 768.0f,
                                   .pad_x = 0,
                                   .pad_y = 52,
                                   .src_w = 768,
                                   .src_h = 576,
                                   .dst_w = 416,
                                   .dst_h = 416};

/* NanoDet: (stride, row, col, class, score, left/top/right/bottom bins). */
typedef struct nd_truth {
    int stride, row, col, class_id;
    float score;
    int bins[4][2]; /* each side: up to two bins with equal high logits */
} nd_truth;

static const nd_truth nanodet_truth[] = {
    {16, 10, 12, 0, 0.8f, {{2, 4}, {2, 2}, {4, 4}, {5, 5}}}, /* d = 3,2,4,5 */
    {32, 3, 5, 2, 0.5f, {{1, 1}, {1, 1}, {1, 1}, {1, 1}}},
    {8, 20, 20, 7, 0.2f, {{1, 1}, {1, 1}, {1, 1}, {1, 1}}}, /* low */
};
#define N_ND_TRUTH (sizeof(nanodet_truth) / sizeof(nanodet_truth[0]))

typedef struct fixture {
    model_dir dir;
    char v5[512], v8[512], v5dyn[512], v8c3[512], nanodet[512], bad[512];
    char text[512];
    vg_context *ctx;
} fixture;

static void fill_v5(float *o)
{
    memset(o, 0, sizeof(float) * V5_N * 85);
    for (size_t i = 0; i < N_TRUTH; i++) {
        const truth *t = &yolo_truth[i];
        float *row = o + t->anchor * 85;
        row[0] = t->cx;
        row[1] = t->cy;
        row[2] = t->w;
        row[3] = t->h;
        row[4] = t->obj;
        row[5 + t->class_id] = t->cls_score;
    }
}

static void fill_v8(float *o, int n, int classes)
{
    memset(o, 0, sizeof(float) * (size_t)n * (size_t)(4 + classes));
    for (size_t i = 0; i < N_TRUTH; i++) {
        const truth *t = &yolo_truth[i];
        if (t->class_id >= classes)
            continue;
        o[0 * n + t->anchor] = t->cx;
        o[1 * n + t->anchor] = t->cy;
        o[2 * n + t->anchor] = t->w;
        o[3 * n + t->anchor] = t->h;
        o[(4 + t->class_id) * n + t->anchor] = t->obj * t->cls_score;
    }
}

/* Writes one output's data and appends "--output name=shape:file" to args. */
static int make_nanodet(fixture *fx)
{
    static const int strides[3] = {8, 16, 32};
    /* deliberately not in stride order, boxes and classes interleaved */
    static const char *const order[6] = {"box8",  "cls32", "cls8",
                                         "box16", "box32", "cls16"};
    char outs[3000] = "";
    int rc = 0;
    for (int k = 0; k < 6 && rc == 0; k++) {
        int is_box = order[k][0] == 'b', s = atoi(order[k] + 3);
        int g = ND_SIZE / s, cells = g * g, last = is_box ? 44 : COCO;
        size_t n = (size_t)cells * (size_t)last;
        float *v = calloc(n, sizeof(float));
        char shape[64];
        if (v == NULL)
            return -1;
        (void)strides;
        for (size_t t = 0; t < N_ND_TRUTH; t++) {
            const nd_truth *tr = &nanodet_truth[t];
            int cell = tr->row * g + tr->col;
            if (tr->stride != s)
                continue;
            if (!is_box) {
                v[(size_t)cell * COCO + (size_t)tr->class_id] = tr->score;
                continue;
            }
            for (int side = 0; side < 4; side++)
                for (int b = 0; b < 2; b++)
                    v[(size_t)cell * 44 +
                      (size_t)(side * 11 + tr->bins[side][b])] = 30.0f;
        }
        snprintf(shape, sizeof(shape), "1,%d,%d", cells, last);
        rc = model_add_output(&fx->dir, outs, sizeof(outs), order[k], shape, v,
                              n);
        free(v);
    }
    if (rc != 0)
        return rc;
    return model_make_const(fx->nanodet, "1,3,416,416", outs);
}

static int group_setup(void **state)
{
    static fixture fx;
    char outs[1000];
    float *v5 = malloc(sizeof(float) * V5_N * 85);
    float *v8 = malloc(sizeof(float) * V8_N * 84);
    float small[7 * 50], seven[7] = {1, 2, 3, 4, 5, 6, 7};
    int rc = -1;
    memset(&fx, 0, sizeof(fx));
    if (v5 == NULL || v8 == NULL || model_dir_create(&fx.dir) != 0)
        goto done;
    model_path(&fx.dir, "v5.onnx", fx.v5, sizeof(fx.v5));
    model_path(&fx.dir, "v8.onnx", fx.v8, sizeof(fx.v8));
    model_path(&fx.dir, "v5dyn.onnx", fx.v5dyn, sizeof(fx.v5dyn));
    model_path(&fx.dir, "v8c3.onnx", fx.v8c3, sizeof(fx.v8c3));
    model_path(&fx.dir, "nanodet.onnx", fx.nanodet, sizeof(fx.nanodet));
    model_path(&fx.dir, "bad.onnx", fx.bad, sizeof(fx.bad));
    model_path(&fx.dir, "notes.txt", fx.text, sizeof(fx.text));
    fill_v5(v5);
    fill_v8(v8, V8_N, COCO);
    fill_v8(small, 50, 3);
    outs[0] = '\0';
    if (model_add_output(&fx.dir, outs, sizeof(outs), "v5", "1,200,85", v5,
                         V5_N * 85) != 0 ||
        model_make_const(fx.v5, "1,3,640,640", outs) != 0)
        goto done;
    outs[0] = '\0';
    if (model_add_output(&fx.dir, outs, sizeof(outs), "v5dyn", "1,~200,85", v5,
                         V5_N * 85) != 0 ||
        model_make_const(fx.v5dyn, "1,3,-1,-1", outs) != 0)
        goto done;
    outs[0] = '\0';
    if (model_add_output(&fx.dir, outs, sizeof(outs), "v8", "1,84,300", v8,
                         V8_N * 84) != 0 ||
        model_make_const(fx.v8, "1,3,640,640", outs) != 0)
        goto done;
    outs[0] = '\0';
    if (model_add_output(&fx.dir, outs, sizeof(outs), "v8c3", "1,7,50", small,
                         350) != 0 ||
        model_make_const(fx.v8c3, "1,3,640,640", outs) != 0)
        goto done;
    outs[0] = '\0';
    if (model_add_output(&fx.dir, outs, sizeof(outs), "seven", "1,7", seven,
                         7) != 0 ||
        model_make_const(fx.bad, "1,3,64,64", outs) != 0)
        goto done;
    if (make_nanodet(&fx) != 0 ||
        model_write_text(fx.text, "not a model at all\n") != 0)
        goto done;
    *state = &fx;
    rc = 0;
done:
    free(v5);
    free(v8);
    return rc;
}

static int group_teardown(void **state)
{
    fixture *fx = *state;
    model_dir_remove(&fx->dir);
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

static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(fx->ctx, &st);
    vg_context_destroy(&fx->ctx);
    return st.allocs == st.frees ? 0 : -1;
}

/* Creates a detector, runs the model once on zeros and decodes with lb. */
static int detect(fixture *fx, const char *path, const vg_detector_opts *o,
                  const vg_letterbox *lb, vg_detection *dets, int cap)
{
    vg_detector *d;
    vg_session *s;
    vg_tensor_info in;
    const float *outs[VG_MAX_OUTPUTS];
    float *zeros;
    size_t count = 1;
    int n = -1;
    assert_int_equal(vg_detector_create(fx->ctx, path, o, &d), 0);
    s = vg_detector_session(d);
    assert_int_equal(vg_session_input(s, &in), 0);
    for (int k = 0; k < in.ndim; k++)
        count *= (size_t)in.dims[k];
    zeros = calloc(count, sizeof(float));
    assert_non_null(zeros);
    assert_int_equal(vg_session_run(s, zeros, outs), 0);
    assert_int_equal(vg_detector_decode(d, outs, lb, dets, cap, &n), 0);
    free(zeros);
    vg_detector_destroy(&d);
    return n;
}

static void assert_det(const vg_detection *d, int class_id, float score,
                       float x, float y, float w, float h)
{
    assert_int_equal(d->class_id, class_id);
    assert_float_equal(d->score, score, 1e-5);
    assert_float_equal(d->box.x, x, TOL);
    assert_float_equal(d->box.y, y, TOL);
    assert_float_equal(d->box.w, w, TOL);
    assert_float_equal(d->box.h, h, TOL);
}

/* Expected YOLO result at default settings, in 768x576 source pixels:
 * the 100x200 box at (320,320) maps to x 270..370 -> 324..444 and
 * y (220-80)..(420-80) -> 168..408; the dog box x -20..60 clips to 0..72,
 * y 80..120 -> 0..48. */
static void assert_default_yolo(const vg_detection *dets, int n)
{
    assert_int_equal(n, 3);
    assert_det(&dets[0], 0, 0.72f, 324, 168, 120, 240);
    assert_det(&dets[1], 2, 0.63f, 324, 168, 120, 240);
    assert_det(&dets[2], 16, 0.6f, 0, 0, 72, 48);
}

static void test_yolov5_boxes_map_to_source_pixels(void **state)
{
    fixture *fx = *state;
    vg_detection dets[16];
    int n = detect(fx, fx->v5, NULL, &lb640, dets, 16);
    assert_default_yolo(dets, n);
}

static void test_yolov8_boxes_map_to_source_pixels(void **state)
{
    fixture *fx = *state;
    vg_detection dets[16];
    int n = detect(fx, fx->v8, NULL, &lb640, dets, 16);
    assert_default_yolo(dets, n);
}

static void test_scores_below_threshold_are_dropped(void **state)
{
    fixture *fx = *state;
    vg_detector_opts o;
    vg_detection dets[16];
    vg_detector_opts_default(&o);
    o.score_threshold = 0.65f;
    assert_int_equal(detect(fx, fx->v5, &o, &lb640, dets, 16), 1);
    assert_int_equal(dets[0].class_id, 0);
    o.score_threshold = 0.1f; /* the bus (0.18) appears now */
    assert_int_equal(detect(fx, fx->v8, &o, &lb640, dets, 16), 4);
    assert_int_equal(dets[3].class_id, 5);
    assert_float_equal(dets[3].score, 0.18f, 1e-5);
}

static void test_class_filter_keeps_only_listed_classes(void **state)
{
    fixture *fx = *state;
    vg_detector_opts o;
    vg_detection dets[16];
    vg_detector_opts_default(&o);
    o.classes_keep[0] = 2;
    o.classes_keep[1] = 16;
    o.n_classes_keep = 2;
    assert_int_equal(detect(fx, fx->v5, &o, &lb640, dets, 16), 2);
    assert_int_equal(dets[0].class_id, 2);
    assert_int_equal(dets[1].class_id, 16);
}

static void test_nms_removes_overlapping_same_class_box(void **state)
{
    fixture *fx = *state;
    vg_detector_opts o;
    vg_detection dets[16];
    vg_detector_opts_default(&o);
    o.nms_iou = 1.0f; /* NMS that keeps everything: the shifted box shows */
    assert_int_equal(detect(fx, fx->v5, &o, &lb640, dets, 16), 4);
    assert_det(&dets[3], 0, 0.45f, 328.8f, 172.8f, 120, 240);
}

static void test_agnostic_nms_suppresses_across_classes(void **state)
{
    fixture *fx = *state;
    vg_detector_opts o;
    vg_detection dets[16];
    vg_detector_opts_default(&o);
    o.class_agnostic_nms = 1;
    assert_int_equal(detect(fx, fx->v8, &o, &lb640, dets, 16), 2);
    assert_int_equal(dets[0].class_id, 0);
    assert_int_equal(dets[1].class_id, 16);
}

static void test_max_detections_and_cap_limit_the_output(void **state)
{
    fixture *fx = *state;
    vg_detector_opts o;
    vg_detection dets[16];
    vg_detector_opts_default(&o);
    o.max_detections = 1;
    assert_int_equal(detect(fx, fx->v5, &o, &lb640, dets, 16), 1);
    assert_float_equal(dets[0].score, 0.72f, 1e-5);
    assert_int_equal(detect(fx, fx->v5, NULL, &lb640, dets, 2), 2);
    assert_int_equal(dets[1].class_id, 2);
}

/* NanoDet person at stride 16, cell (row 10, col 12): centre at the cell's
 * middle (200,168) by default, distances 3,2,4,5 strides -> tensor box
 * 152..264 x 136..248; source x = t * 768/416, y = (t - 52) * 768/416. */
static void test_nanodet_decodes_distribution_boxes(void **state)
{
    fixture *fx = *state;
    const float k = 768.0f / 416.0f;
    vg_detection dets[16];
    int n = detect(fx, fx->nanodet, NULL, &lb416, dets, 16);
    assert_int_equal(n, 2);
    assert_det(&dets[0], 0, 0.8f, 152 * k, 84 * k, 112 * k, 112 * k);
    /* car at stride 32, cell (3,5): centre (176,112), all distances 1 */
    assert_det(&dets[1], 2, 0.5f, 144 * k, 28 * k, 64 * k, 64 * k);
}

static void test_nanodet_center_offset_option_shifts_half_a_cell(void **state)
{
    fixture *fx = *state;
    const float k = 768.0f / 416.0f;
    vg_detector_opts o;
    vg_detection dets[16];
    vg_detector_opts_default(&o);
    o.nanodet_center_offset = 0; /* cell corners: centre (192,160) */
    assert_int_equal(detect(fx, fx->nanodet, &o, &lb416, dets, 16), 2);
    assert_det(&dets[0], 0, 0.8f, 144 * k, 76 * k, 112 * k, 112 * k);
}

static void test_auto_selection_picks_each_head(void **state)
{
    fixture *fx = *state;
    const char *paths[3] = {fx->v5, fx->v8, fx->nanodet};
    const int heads[3] = {VG_HEAD_YOLOV5, VG_HEAD_YOLOV8, VG_HEAD_NANODET};
    const char *names[3] = {"yolov5", "yolov8", "nanodet"};
    const int sizes[3] = {640, 640, 416};
    const float pads[3] = {114.0f, 114.0f, 0.0f};
    for (int i = 0; i < 3; i++) {
        vg_detector *d;
        vg_tensor_spec spec;
        assert_int_equal(vg_detector_create(fx->ctx, paths[i], NULL, &d), 0);
        assert_int_equal(vg_detector_head(d), heads[i]);
        assert_string_equal(vg_detector_head_name(d), names[i]);
        assert_int_equal(vg_detector_class_count(d), COCO);
        vg_detector_input_spec(d, &spec);
        assert_int_equal(spec.width, sizes[i]);
        assert_int_equal(spec.height, sizes[i]);
        assert_int_equal(spec.layout, VG_LAYOUT_NCHW);
        assert_int_equal(spec.channels, VG_CHANNELS_RGB);
        assert_float_equal(spec.pad_value, pads[i], 0.0);
        assert_float_equal(spec.scale[0], 1.0f / 255.0f, 1e-9);
        vg_detector_destroy(&d);
        assert_null(d);
    }
}

static void test_non_coco_class_count_gets_generic_names(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v8c3, NULL, &d), 0);
    assert_int_equal(vg_detector_head(d), VG_HEAD_YOLOV8);
    assert_int_equal(vg_detector_class_count(d), 3);
    assert_string_equal(vg_detector_class_name(d, 2), "class2");
    vg_detector_destroy(&d);
}

static void test_coco_names_are_looked_up(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    assert_int_equal(vg_coco_class_id("person"), 0);
    assert_int_equal(vg_coco_class_id("car"), 2);
    assert_int_equal(vg_coco_class_id("toothbrush"), 79);
    assert_int_equal(vg_coco_class_id("unicorn"), -1);
    assert_int_equal(vg_coco_class_id(NULL), -1);
    assert_int_equal(vg_detector_create(fx->ctx, fx->v5, NULL, &d), 0);
    assert_string_equal(vg_detector_class_name(d, 16), "dog");
    vg_detector_destroy(&d);
}

static void test_forced_head_that_does_not_fit_is_ehead(void **state)
{
    fixture *fx = *state;
    vg_detector_opts o;
    vg_detector *d;
    vg_detector_opts_default(&o);
    o.head = VG_HEAD_YOLOV8;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v5, &o, &d), VG_EHEAD);
    assert_null(d);
    o.head = VG_HEAD_NANODET;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v8, &o, &d), VG_EHEAD);
    o.head = VG_HEAD_YOLOV5;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v5, &o, &d), 0);
    vg_detector_destroy(&d);
}

static void test_unknown_outputs_are_ehead_listing_shapes(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    char want[800];
    assert_int_equal(vg_detector_create(fx->ctx, fx->bad, NULL, &d), VG_EHEAD);
    assert_null(d);
    snprintf(want, sizeof(want),
             "%s: outputs [1,7] match no detection head (nanodet, yolov5 "
             "[1,N,5+C], yolov8 [1,4+C,N])",
             fx->bad);
    assert_string_equal(vg_context_errmsg(fx->ctx), want);
}

static void test_text_file_is_emodel(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    assert_int_equal(vg_detector_create(fx->ctx, fx->text, NULL, &d),
                     VG_EMODEL);
    assert_null(d);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "not an ONNX model"));
}

static void test_dynamic_input_takes_input_size(void **state)
{
    fixture *fx = *state;
    vg_detector_opts o;
    vg_detector *d;
    vg_tensor_spec spec;
    vg_tensor_info in;
    vg_detection dets[16];
    vg_detector_opts_default(&o);
    o.input_size = 320;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v5dyn, &o, &d), 0);
    assert_int_equal(vg_detector_head(d), VG_HEAD_YOLOV5);
    vg_detector_input_spec(d, &spec);
    assert_int_equal(spec.width, 320);
    assert_int_equal(spec.height, 320);
    assert_int_equal(vg_session_input(vg_detector_session(d), &in), 0);
    assert_int_equal(in.dims[2], 320);
    vg_detector_destroy(&d);
    assert_default_yolo(dets, detect(fx, fx->v5dyn, NULL, &lb640, dets, 16));
}

static void test_run_decodes_frame_tensor_without_allocating(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    vg_pool *pool;
    vg_frame frame;
    vg_detection dets[16];
    vg_alloc_stats before, after;
    int n = -1;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v8, NULL, &d), 0);
    assert_int_equal(vg_pool_create(fx->ctx, "tensor",
                                    3 * 640 * 640 * sizeof(float), 1, &pool),
                     0);
    memset(&frame, 0, sizeof(frame));
    assert_int_equal(vg_pool_get(pool, 0, &frame.tensor), 0);
    memset(vg_buf_data(frame.tensor), 0, vg_buf_size(frame.tensor));
    frame.lb = lb640;
    assert_int_equal(vg_detector_run(d, &frame, dets, 16, &n), 0);
    assert_default_yolo(dets, n);
    vg_context_alloc_stats(fx->ctx, &before);
    assert_int_equal(vg_detector_run(d, &frame, dets, 16, &n), 0);
    vg_context_alloc_stats(fx->ctx, &after);
    assert_int_equal(n, 3);
    assert_int_equal(after.allocs, before.allocs);
    vg_buf_unref(&frame.tensor);
    vg_pool_destroy(&pool);
    vg_detector_destroy(&d);
}

static void test_run_without_tensor_is_einval(void **state)
{
    fixture *fx = *state;
    vg_detector *d;
    vg_frame frame;
    vg_detection dets[4];
    int n = 7;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v5, NULL, &d), 0);
    memset(&frame, 0, sizeof(frame));
    assert_int_equal(vg_detector_run(d, &frame, dets, 4, &n), VG_EINVAL);
    assert_int_equal(n, 0);
    assert_non_null(strstr(vg_detector_errmsg(d), "tensor"));
    vg_detector_destroy(&d);
}

static void create_under_fault_injection(fixture *fx, const char *path)
{
    int failures = 0;
    for (uint64_t nth = 1; nth < 200; nth++) {
        vg_detector *d = NULL;
        vg_alloc_stats st;
        int rc;
        vg_context_fail_alloc(fx->ctx, nth, 1);
        rc = vg_detector_create(fx->ctx, path, NULL, &d);
        vg_context_fail_alloc(fx->ctx, 0, 0);
        if (rc == 0) {
            vg_detector_destroy(&d);
            break;
        }
        failures++;
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(d);
        vg_context_alloc_stats(fx->ctx, &st);
        assert_int_equal(st.allocs, st.frees);
    }
    assert_true(failures >= 5);
}

static void
test_allocation_failures_in_create_are_enomem_without_leaks(void **state)
{
    fixture *fx = *state;
    create_under_fault_injection(fx, fx->v5);
    create_under_fault_injection(fx, fx->v5dyn);
    create_under_fault_injection(fx, fx->v8c3);
    create_under_fault_injection(fx, fx->nanodet);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_yolov5_boxes_map_to_source_pixels),
        T(test_yolov8_boxes_map_to_source_pixels),
        T(test_scores_below_threshold_are_dropped),
        T(test_class_filter_keeps_only_listed_classes),
        T(test_nms_removes_overlapping_same_class_box),
        T(test_agnostic_nms_suppresses_across_classes),
        T(test_max_detections_and_cap_limit_the_output),
        T(test_nanodet_decodes_distribution_boxes),
        T(test_nanodet_center_offset_option_shifts_half_a_cell),
        T(test_auto_selection_picks_each_head),
        T(test_non_coco_class_count_gets_generic_names),
        T(test_coco_names_are_looked_up),
        T(test_forced_head_that_does_not_fit_is_ehead),
        T(test_unknown_outputs_are_ehead_listing_shapes),
        T(test_text_file_is_emodel),
        T(test_dynamic_input_takes_input_size),
        T(test_run_decodes_frame_tensor_without_allocating),
        T(test_run_without_tensor_is_einval),
        T(test_allocation_failures_in_create_are_enomem_without_leaks),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
