/*
 * Tests of vg_detector_run_batch: several frames in one model run give each
 * frame the detections it gets alone. The models (tests/models/make_models.py
 * *_rows) output their input's own values rearranged, so different frames
 * give different detections and row i of every output comes from frame i
 * only.
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

#define SIDE 32
#define TENSOR_FLOATS (3 * SIDE * SIDE)
#define FRAMES 5
#define CAP 64
#define BOX_TOL 1e-3f

typedef struct fixture {
    model_dir dir;
    char v5[512], v8[512], nanodet[512], v5_fixed3[512], v5_fixed1[512];
    char const_dyn[512];
    vg_context *ctx;
    vg_pool *pool, *small_pool;
    vg_frame frames[FRAMES];
} fixture;

/* Frame k: pseudo-random values in [0,1) and a letterbox of its own (a
 * source of 64 + 16k by 48 + 8k pixels stretched into the tensor). */
static void fill_frame(vg_frame *f, int k)
{
    float *v = vg_buf_data(f->tensor);
    uint32_t x = 2463534242u + 7919u * (uint32_t)k;
    for (int i = 0; i < TENSOR_FLOATS; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v[i] = (float)(x >> 8) / 16777216.0f;
    }
    f->index = k;
    memset(&f->lb, 0, sizeof(f->lb));
    f->lb.src_w = 64 + 16 * k;
    f->lb.src_h = 48 + 8 * k;
    f->lb.dst_w = SIDE;
    f->lb.dst_h = SIDE;
    f->lb.scale_x = (float)SIDE / (float)f->lb.src_w;
    f->lb.scale_y = (float)SIDE / (float)f->lb.src_h;
    f->lb.scale = f->lb.scale_x < f->lb.scale_y ? f->lb.scale_x : f->lb.scale_y;
}

static int group_setup(void **state)
{
    static fixture fx;
    char outs[1000], one[256];
    float zeros[7 * 50];
    memset(&fx, 0, sizeof(fx));
    memset(zeros, 0, sizeof(zeros));
    if (model_dir_create(&fx.dir) != 0)
        return -1;
    model_path(&fx.dir, "v5.onnx", fx.v5, sizeof(fx.v5));
    model_path(&fx.dir, "v8.onnx", fx.v8, sizeof(fx.v8));
    model_path(&fx.dir, "nanodet.onnx", fx.nanodet, sizeof(fx.nanodet));
    model_path(&fx.dir, "v5_fixed3.onnx", fx.v5_fixed3, sizeof(fx.v5_fixed3));
    model_path(&fx.dir, "v5_fixed1.onnx", fx.v5_fixed1, sizeof(fx.v5_fixed1));
    model_path(&fx.dir, "const_dyn.onnx", fx.const_dyn, sizeof(fx.const_dyn));
    struct {
        const char *kind, *path;
        int batch;
    } rows[] = {{"yolov5_rows", fx.v5, 0},
                {"yolov8_rows", fx.v8, 0},
                {"nanodet_rows", fx.nanodet, 0},
                {"yolov5_rows", fx.v5_fixed3, 3},
                {"yolov5_rows", fx.v5_fixed1, 1}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(one, sizeof(one), "%s '%s' --batch %d", rows[i].kind,
                 rows[i].path, rows[i].batch);
        if (model_make(one) != 0)
            return -1;
    }
    /* a dynamic input batch whose outputs stay [1,7,50]: no batching */
    outs[0] = '\0';
    if (model_add_output(&fx.dir, outs, sizeof(outs), "c", "1,7,50", zeros,
                         350) != 0 ||
        model_make_const(fx.const_dyn, "-1,3,32,32", outs) != 0)
        return -1;
    *state = &fx;
    return 0;
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
    if (vg_pool_create(fx->ctx, "tensor", TENSOR_FLOATS * sizeof(float), FRAMES,
                       &fx->pool) != 0 ||
        vg_pool_create(fx->ctx, "small", (TENSOR_FLOATS - 1) * sizeof(float), 1,
                       &fx->small_pool) != 0)
        return -1;
    for (int k = 0; k < FRAMES; k++) {
        memset(&fx->frames[k], 0, sizeof(fx->frames[k]));
        if (vg_pool_get(fx->pool, 0, &fx->frames[k].tensor) != 0)
            return -1;
        fill_frame(&fx->frames[k], k);
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    for (int k = 0; k < FRAMES; k++)
        vg_buf_unref(&fx->frames[k].tensor);
    vg_pool_destroy(&fx->pool);
    vg_pool_destroy(&fx->small_pool);
    vg_context_alloc_stats(fx->ctx, &st);
    vg_context_destroy(&fx->ctx);
    return st.allocs == st.frees ? 0 : -1;
}

static vg_detector *make(fixture *fx, const char *path, int max_batch)
{
    vg_detector_opts o;
    vg_detector *d = NULL;
    vg_detector_opts_default(&o);
    o.max_batch = max_batch;
    assert_int_equal(vg_detector_create(fx->ctx, path, &o, &d), 0);
    return d;
}

static void assert_same_detections(const vg_detection *a, int na,
                                   const vg_detection *b, int nb)
{
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_int_equal(a[i].class_id, b[i].class_id);
        assert_float_equal(a[i].score, b[i].score, 1e-6f);
        assert_float_equal(a[i].box.x, b[i].box.x, BOX_TOL);
        assert_float_equal(a[i].box.y, b[i].box.y, BOX_TOL);
        assert_float_equal(a[i].box.w, b[i].box.w, BOX_TOL);
        assert_float_equal(a[i].box.h, b[i].box.h, BOX_TOL);
    }
}

/* Runs frames[0..n) alone on single and in one batch on batched; checks
 * both agree and that the frames do not all give the same detections. */
static void batch_matches_single_runs(fixture *fx, vg_detector *single,
                                      vg_detector *batched, int n)
{
    static vg_detection alone[FRAMES][CAP], together[FRAMES][CAP];
    const vg_frame *frames[FRAMES] = {0};
    vg_detection *out[FRAMES] = {0};
    int n_alone[FRAMES], n_together[FRAMES], differ = 0;
    for (int k = 0; k < n; k++) {
        assert_int_equal(
            vg_detector_run(single, &fx->frames[k], alone[k], CAP, &n_alone[k]),
            0);
        assert_true(n_alone[k] > 0);
        frames[k] = &fx->frames[k];
        out[k] = together[k];
    }
    assert_int_equal(
        vg_detector_run_batch(batched, frames, n, out, CAP, n_together), 0);
    for (int k = 0; k < n; k++) {
        assert_same_detections(alone[k], n_alone[k], together[k],
                               n_together[k]);
        if (k > 0 && (n_alone[k] != n_alone[0] ||
                      alone[k][0].box.x != alone[0][0].box.x))
            differ = 1;
    }
    assert_true(differ);
}

static void batch_matches_single_runs_of(fixture *fx, const char *path)
{
    vg_detector *d = make(fx, path, 4);
    assert_int_equal(vg_detector_max_batch(d), 4);
    batch_matches_single_runs(fx, d, d, 4);
    batch_matches_single_runs(fx, d, d, 3); /* a smaller batch after */
    vg_detector_destroy(&d);
}

static void test_yolov5_batch_gives_each_frame_its_single_run(void **state)
{
    fixture *fx = *state;
    batch_matches_single_runs_of(fx, fx->v5);
}

static void test_yolov8_batch_gives_each_frame_its_single_run(void **state)
{
    fixture *fx = *state;
    batch_matches_single_runs_of(fx, fx->v8);
}

static void test_nanodet_batch_gives_each_frame_its_single_run(void **state)
{
    fixture *fx = *state;
    batch_matches_single_runs_of(fx, fx->nanodet);
}

static void test_batch_of_one_equals_run(void **state)
{
    fixture *fx = *state;
    vg_detector *d = make(fx, fx->nanodet, 0);
    vg_detection a[CAP], b[CAP];
    vg_detection *out[1] = {b};
    const vg_frame *frames[1] = {&fx->frames[2]};
    int na = -1, nb = -1;
    assert_int_equal(vg_detector_max_batch(d), VG_DETECTOR_DEFAULT_BATCH);
    assert_int_equal(vg_detector_run(d, &fx->frames[2], a, CAP, &na), 0);
    assert_int_equal(vg_detector_run_batch(d, frames, 1, out, CAP, &nb), 0);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof(a[0]));
    vg_detector_destroy(&d);
}

static void test_batch_larger_than_max_batch_is_einval(void **state)
{
    fixture *fx = *state;
    vg_detector *d = make(fx, fx->v8, 4);
    static vg_detection dets[FRAMES][CAP];
    const vg_frame *frames[FRAMES] = {0};
    vg_detection *out[FRAMES] = {0};
    int counts[FRAMES];
    for (int k = 0; k < FRAMES; k++) {
        frames[k] = &fx->frames[k];
        out[k] = dets[k];
        counts[k] = 9;
    }
    assert_int_equal(vg_detector_run_batch(d, frames, FRAMES, out, CAP, counts),
                     VG_EINVAL);
    for (int k = 0; k < FRAMES; k++)
        assert_int_equal(counts[k], 0);
    assert_non_null(strstr(vg_detector_errmsg(d), "at most 4"));
    assert_int_equal(vg_detector_run_batch(d, frames, 0, out, CAP, counts),
                     VG_EINVAL);
    vg_detector_destroy(&d);
}

static void test_fixed_batch_one_model_refuses_two_frames(void **state)
{
    fixture *fx = *state;
    vg_detector *d = make(fx, fx->v5_fixed1, 8);
    vg_detection a[CAP], b[CAP];
    vg_detection *out[2] = {a, b};
    const vg_frame *frames[2] = {&fx->frames[0], &fx->frames[1]};
    int counts[2];
    assert_int_equal(vg_detector_max_batch(d), 1);
    assert_int_equal(vg_detector_run_batch(d, frames, 2, out, CAP, counts),
                     VG_EINVAL);
    assert_int_equal(vg_detector_run_batch(d, frames, 1, out, CAP, counts), 0);
    assert_true(counts[0] > 0);
    vg_detector_destroy(&d);
}

static void test_fixed_batch_three_model_runs_one_to_three_frames(void **state)
{
    fixture *fx = *state;
    vg_detector *dynamic = make(fx, fx->v5, 0);
    vg_detector *fixed = make(fx, fx->v5_fixed3, 8); /* max_batch ignored */
    assert_int_equal(vg_detector_max_batch(fixed), 3);
    batch_matches_single_runs(fx, dynamic, fixed, 3);
    batch_matches_single_runs(fx, dynamic, fixed, 2);
    batch_matches_single_runs(fx, fixed, fixed, 3); /* run pads to 3 rows */
    vg_detector_destroy(&fixed);
    vg_detector_destroy(&dynamic);
}

static void
test_dynamic_input_whose_outputs_ignore_the_batch_takes_one_frame(void **state)
{
    fixture *fx = *state;
    vg_detector *d = make(fx, fx->const_dyn, 8);
    assert_int_equal(vg_detector_max_batch(d), 1);
    vg_detector_destroy(&d);
}

static void test_frame_with_wrong_size_tensor_in_batch_is_einval(void **state)
{
    fixture *fx = *state;
    vg_detector *d = make(fx, fx->nanodet, 4);
    vg_frame bad;
    vg_detection dets[3][CAP];
    vg_detection *out[3] = {dets[0], dets[1], dets[2]};
    const vg_frame *frames[3] = {&fx->frames[0], &bad, &fx->frames[2]};
    int counts[3] = {5, 5, 5};
    memset(&bad, 0, sizeof(bad));
    bad.index = 41;
    assert_int_equal(vg_pool_get(fx->small_pool, 0, &bad.tensor), 0);
    assert_int_equal(vg_detector_run_batch(d, frames, 3, out, CAP, counts),
                     VG_EINVAL);
    assert_int_equal(counts[0] + counts[1] + counts[2], 0);
    assert_non_null(strstr(vg_detector_errmsg(d), "frame 41"));
    vg_buf_unref(&bad.tensor);
    frames[1] = NULL;
    assert_int_equal(vg_detector_run_batch(d, frames, 3, out, CAP, counts),
                     VG_EINVAL);
    vg_detector_destroy(&d);
}

static void test_repeated_batches_allocate_nothing(void **state)
{
    fixture *fx = *state;
    static const int sizes[] = {4, 2, 4, 1, 3, 4, 1};
    vg_detector *d = make(fx, fx->v8, 4);
    static vg_detection dets[FRAMES][CAP];
    const vg_frame *frames[FRAMES] = {0};
    vg_detection *out[FRAMES] = {0};
    vg_alloc_stats before, after;
    int counts[FRAMES];
    for (int k = 0; k < FRAMES; k++) {
        frames[k] = &fx->frames[k];
        out[k] = dets[k];
    }
    assert_int_equal(vg_detector_run_batch(d, frames, 4, out, CAP, counts), 0);
    vg_context_alloc_stats(fx->ctx, &before);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        assert_int_equal(
            vg_detector_run_batch(d, frames, sizes[i], out, CAP, counts), 0);
    vg_context_alloc_stats(fx->ctx, &after);
    assert_int_equal(after.allocs, before.allocs);
    vg_detector_destroy(&d);
}

static void
test_injected_inference_failure_is_enomem_then_recovers(void **state)
{
    fixture *fx = *state;
    vg_detector *d = make(fx, fx->v5, 4);
    static vg_detection dets[2][CAP];
    vg_detection *out[2] = {dets[0], dets[1]};
    const vg_frame *frames[2] = {&fx->frames[0], &fx->frames[1]};
    int counts[2] = {3, 3};
    vg_context_fail_alloc(fx->ctx, 1, 0); /* the run's fault point */
    assert_int_equal(vg_detector_run_batch(d, frames, 2, out, CAP, counts),
                     VG_ENOMEM);
    assert_int_equal(counts[0] + counts[1], 0);
    assert_non_null(strstr(vg_detector_errmsg(d), "out of memory"));
    assert_int_equal(vg_detector_run_batch(d, frames, 2, out, CAP, counts), 0);
    assert_true(counts[0] > 0 && counts[1] > 0);
    vg_detector_destroy(&d);
}

static void test_max_batch_option_out_of_range_is_einval(void **state)
{
    fixture *fx = *state;
    vg_detector_opts o;
    vg_detector *d = NULL;
    vg_detector_opts_default(&o);
    o.max_batch = VG_DETECTOR_MAX_BATCH + 1;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v5, &o, &d), VG_EINVAL);
    assert_null(d);
    o.max_batch = -1;
    assert_int_equal(vg_detector_create(fx->ctx, fx->v5, &o, &d), VG_EINVAL);
    assert_int_equal(vg_detector_max_batch(NULL), VG_EINVAL);
}

/* Every allocation of create (the batch input among them) fails in turn:
 * VG_ENOMEM, nothing held. */
static void
test_allocation_failures_in_create_are_enomem_without_leaks(void **state)
{
    fixture *fx = *state;
    const char *paths[] = {fx->nanodet, fx->v5_fixed3};
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        int failures = 0;
        for (uint64_t nth = 1; nth < 200; nth++) {
            vg_detector *d = NULL;
            vg_alloc_stats before, after;
            int rc;
            vg_context_alloc_stats(fx->ctx, &before);
            vg_context_fail_alloc(fx->ctx, nth, 1);
            rc = vg_detector_create(fx->ctx, paths[p], NULL, &d);
            vg_context_fail_alloc(fx->ctx, 0, 0);
            if (rc == 0) {
                vg_detector_destroy(&d);
                break;
            }
            failures++;
            assert_int_equal(rc, VG_ENOMEM);
            assert_null(d);
            vg_context_alloc_stats(fx->ctx, &after);
            assert_int_equal(after.allocs - before.allocs,
                             after.frees - before.frees);
        }
        assert_true(failures >= 5);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_yolov5_batch_gives_each_frame_its_single_run),
        T(test_yolov8_batch_gives_each_frame_its_single_run),
        T(test_nanodet_batch_gives_each_frame_its_single_run),
        T(test_batch_of_one_equals_run),
        T(test_batch_larger_than_max_batch_is_einval),
        T(test_fixed_batch_one_model_refuses_two_frames),
        T(test_fixed_batch_three_model_runs_one_to_three_frames),
        T(test_dynamic_input_whose_outputs_ignore_the_batch_takes_one_frame),
        T(test_frame_with_wrong_size_tensor_in_batch_is_einval),
        T(test_repeated_batches_allocate_nothing),
        T(test_injected_inference_failure_is_enomem_then_recovers),
        T(test_max_batch_option_out_of_range_is_einval),
        T(test_allocation_failures_in_create_are_enomem_without_leaks),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
