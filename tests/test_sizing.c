/* Tests of vg_sizing: the pool counts the runtime creates and the planner
 * plans, the bytes of one stream and of what streams share, and the
 * estimate of an uncalibrated model that the planner plans and the
 * residency manager admits with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "models/model_gen.h"
#include "vigil/plan.h"
#include "vigil/residency.h"
#include "vigil/sizing.h"

#define MIB (1024ull * 1024ull)

static void test_stream_pools_follow_the_queue_depth(void **state)
{
    vg_stream_pools p;
    (void)state;
    /* 0: the default depth */
    vg_sizing_stream_pools(0, &p);
    assert_int_equal(p.queue_depth, VG_SIZING_QUEUE_DEPTH_DEFAULT);
    assert_int_equal(p.tensors, VG_SIZING_QUEUE_DEPTH_DEFAULT + 2);
    assert_int_equal(p.pictures, 2 * VG_SIZING_QUEUE_DEPTH_DEFAULT + 3);
    /* tensors: the decode queue + decoding + inferring; pictures: both
     * queues + one in each of the three threads */
    vg_sizing_stream_pools(1, &p);
    assert_int_equal(p.queue_depth, 1);
    assert_int_equal(p.tensors, 3);
    assert_int_equal(p.pictures, 5);
    vg_sizing_stream_pools(8, &p);
    assert_int_equal(p.tensors, 10);
    assert_int_equal(p.pictures, 19);
    assert_int_equal(vg_sizing_queue_depth(0), VG_SIZING_QUEUE_DEPTH_DEFAULT);
    assert_int_equal(vg_sizing_queue_depth(7), 7);
}

static void test_detect_and_staged_pools(void **state)
{
    vg_stream_pools p;
    (void)state;
    vg_sizing_detect_pools(3, &p);
    assert_int_equal(p.tensors, 5);
    assert_int_equal(p.pictures, 0);
    vg_sizing_staged_pools(1, &p);
    assert_int_equal(p.tensors, VG_SIZING_STAGED_POOL);
    assert_int_equal(p.pictures, 0);
    vg_sizing_staged_pools(0, &p);
    assert_int_equal(p.pictures, VG_SIZING_STAGED_POOL);
}

static void
test_picture_rows_are_aligned_as_the_source_aligns_them(void **state)
{
    (void)state;
    /* 768 x 3 = 2304 = 36 x 64: no padding */
    assert_int_equal(vg_sizing_picture_bytes(768, 576), 768ull * 3 * 576);
    /* 10 x 3 = 30 bytes a row, padded to 64 */
    assert_int_equal(vg_sizing_picture_bytes(10, 10), 64ull * 10);
    assert_int_equal(vg_sizing_picture_bytes(0, 10), 0);
    assert_int_equal(vg_sizing_tensor_bytes(3, 416, 416), 3ull * 416 * 416 * 4);
    assert_int_equal(vg_sizing_tensor_bytes(3, -1, 416), 0);
}

static vg_sizing_stream vtest_stream(void)
{
    vg_sizing_stream s;
    memset(&s, 0, sizeof(s));
    s.width = 768;
    s.height = 576;
    s.codec = "msmpeg4";
    s.decoder_threads = 1;
    s.tensor_bytes = vg_sizing_tensor_bytes(3, 416, 416);
    s.queue_depth = 4;
    s.video = 1;
    s.video_preset = "ultrafast";
    s.tracker_bytes = 1000;
    return s;
}

static void test_stream_bytes_add_up(void **state)
{
    vg_sizing_stream s = vtest_stream();
    vg_stream_bytes b, deeper;
    (void)state;
    vg_sizing_stream_bytes(&s, &b);
    assert_int_equal(b.tensor_pool, 6 * s.tensor_bytes);
    assert_int_equal(b.picture_pool, 11 * vg_sizing_picture_bytes(768, 576));
    assert_int_equal(b.decoder,
                     vg_sizing_decoder_bytes("msmpeg4", 768, 576, 1));
    assert_int_equal(b.encoder,
                     vg_sizing_encoder_bytes("ultrafast", 768, 576,
                                             VG_SIZING_VIDEO_THREADS));
    assert_int_equal(b.tables, VG_SIZING_STREAM_TABLES_BYTES + 1000);
    assert_int_equal(b.threads, VG_SIZING_STREAM_THREADS_BYTES);
    assert_int_equal(b.total, b.tensor_pool + b.picture_pool + b.decoder +
                                  b.encoder + b.tables + b.threads);
    /* each extra queue slot: one tensor and two pictures */
    s.queue_depth = 5;
    vg_sizing_stream_bytes(&s, &deeper);
    assert_int_equal(deeper.total - b.total,
                     s.tensor_bytes + 2 * vg_sizing_picture_bytes(768, 576));
    /* no video: no encoder */
    s.video = 0;
    vg_sizing_stream_bytes(&s, &b);
    assert_int_equal(b.encoder, 0);
}

static void test_decoder_and_encoder_grow_with_the_picture(void **state)
{
    (void)state;
    assert_true(vg_sizing_decoder_bytes("h264", 1920, 1080, 3) >
                vg_sizing_decoder_bytes("h264", 640, 360, 3));
    assert_true(vg_sizing_decoder_bytes("h264", 1920, 1080, 3) >
                vg_sizing_decoder_bytes("h264", 1920, 1080, 1));
    assert_true(vg_sizing_encoder_bytes("medium", 1920, 1080, 1) >
                vg_sizing_encoder_bytes("ultrafast", 1920, 1080, 1));
    assert_int_equal(vg_sizing_decoder_family("hevc"),
                     VG_SIZING_DECODER_LONG_REFERENCE);
    assert_int_equal(vg_sizing_decoder_family("mpeg4"),
                     VG_SIZING_DECODER_OTHER);
    assert_int_equal(vg_sizing_decoder_family(NULL), VG_SIZING_DECODER_OTHER);
}

static void test_job_shared_counts_each_family_once(void **state)
{
    vg_sizing_stream s[3] = {vtest_stream(), vtest_stream(), vtest_stream()};
    vg_job_shared one, three;
    (void)state;
    vg_sizing_job_shared(s, 1, &one);
    assert_int_equal(one.decoders, vg_sizing_decoder_shared_bytes("msmpeg4"));
    assert_int_equal(one.encoder, vg_sizing_encoder_shared_bytes("ultrafast"));
    assert_int_equal(one.events, VG_SIZING_EVENTS_BYTES);
    assert_int_equal(one.total, one.decoders + one.encoder + one.events);
    /* three MPEG-4 streams share one family's tables */
    vg_sizing_job_shared(s, 3, &three);
    assert_int_equal(three.total, one.total);
    /* an H.264 stream adds its family's */
    s[2].codec = "h264";
    vg_sizing_job_shared(s, 3, &three);
    assert_int_equal(three.decoders,
                     vg_sizing_decoder_shared_bytes("msmpeg4") +
                         vg_sizing_decoder_shared_bytes("h264"));
    /* no stream writes video: no encoder */
    for (int i = 0; i < 3; i++)
        s[i].video = 0;
    vg_sizing_job_shared(s, 3, &three);
    assert_int_equal(three.encoder, 0);
    /* no stream: nothing */
    vg_sizing_job_shared(s, 0, &three);
    assert_int_equal(three.total, 0);
}

/* The model file's input, the declaration winning; and the one estimate
 * that the planner plans and the residency manager admits with. */
typedef struct model_fixture {
    model_dir dir;
    char onnx[512]; /* input [1, 3, 96, 128] */
    char calib[512];
} model_fixture;

static int make_onnx(model_fixture *mf)
{
    char data[600], args[1400];
    float one = 1.0f;
    if (model_dir_create(&mf->dir) != 0)
        return -1;
    model_path(&mf->dir, "input.onnx", mf->onnx, sizeof(mf->onnx));
    model_path(&mf->dir, "calibration.tsv", mf->calib, sizeof(mf->calib));
    model_path(&mf->dir, "one.bin", data, sizeof(data));
    if (model_write_floats(data, &one, 1) != 0)
        return -1;
    snprintf(args, sizeof(args),
             "const '%s' --input 1,3,96,128 --output y=1:'%s' "
             ">/dev/null 2>&1",
             mf->onnx, data);
    return model_make(args);
}

static void test_model_input_from_the_file_or_the_declaration(void **state)
{
    model_fixture mf;
    vg_model_decl d;
    vg_model_input in;
    (void)state;
    if (make_onnx(&mf) != 0) {
        model_dir_remove(&mf.dir);
        skip();
    }
    vg_model_decl_default(&d);
    vg_sizing_model_input(&d, mf.onnx, &in);
    assert_int_equal(in.channels, 3);
    assert_int_equal(in.height, 96);
    assert_int_equal(in.width, 128);
    assert_true(in.known);
    d.input_w = 200;
    d.input_h = 100;
    vg_sizing_model_input(&d, mf.onnx, &in);
    assert_int_equal(in.width, 200);
    assert_int_equal(in.height, 100);
    /* no readable file and no size declared: the default side */
    d.input_w = d.input_h = 0;
    vg_sizing_model_input(&d, "/nonexistent/model.onnx", &in);
    assert_false(in.known);
    assert_int_equal(in.width, VG_SIZING_DEFAULT_INPUT_SIDE);
    assert_int_equal(in.height, VG_SIZING_DEFAULT_INPUT_SIDE);
    model_dir_remove(&mf.dir);
}

static void test_planner_and_residency_use_one_estimate(void **state)
{
    model_fixture mf;
    vg_context *ctx = NULL;
    vg_model_decl d;
    vg_calibration est, gpu;
    vg_job_config *job;
    vg_settings settings;
    vg_plan *p = NULL;
    vg_residency_opts ro;
    vg_residency *r = NULL;
    vg_session *s = NULL;
    struct stat sb;
    char need[32];
    const char *cuda[] = {"cuda", "cpu"};
    (void)state;
    if (make_onnx(&mf) != 0) {
        model_dir_remove(&mf.dir);
        skip();
    }
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    assert_int_equal(stat(mf.onnx, &sb), 0);
    vg_model_decl_default(&d);
    snprintf(d.name, sizeof(d.name), "never_measured");
    snprintf(d.path, sizeof(d.path), "%s", mf.onnx);
    d.kind = VG_MODEL_OTHER;
    d.batch = 2;
    vg_sizing_model_estimate(&d, d.path, (uint64_t)sb.st_size, &est);
    /* the file's input (3 x 96 x 128) at batch 2 */
    assert_int_equal(est.work_bytes, 3ull * 96 * 128 * 4 * 2 * 10);
    assert_int_equal(est.weights_bytes,
                     (uint64_t)sb.st_size + (uint64_t)sb.st_size / 4);
    assert_int_equal(est.device_bytes, 0);

    /* the planner plans it */
    job = calloc(1, sizeof(*job));
    assert_non_null(job);
    vg_job_config_default(job);
    snprintf(job->budget.calibration, sizeof(job->budget.calibration), "%s",
             mf.calib);
    vg_model_decl_copy(&job->models[0], &d);
    job->n_models = 1;
    vg_settings_builtin(&settings);
    assert_int_equal(vg_plan_build(ctx, job, &settings, NULL, 0, NULL, &p), 0);
    assert_false(p->models[0].calibrated);
    assert_int_equal(p->models[0].host_bytes,
                     est.weights_bytes + est.work_bytes);
    vg_plan_destroy(&p);

    /* the residency manager admits it with the same figure: a budget one
     * byte short refuses it, naming what it needs */
    vg_residency_opts_default(&ro);
    ro.budget.host_bytes = est.weights_bytes + est.work_bytes - 1;
    ro.budget.margin = 0;
    snprintf(ro.budget.calibration, sizeof(ro.budget.calibration), "%s",
             mf.calib);
    assert_int_equal(vg_residency_create(ctx, &ro, &r), 0);
    assert_int_equal(vg_residency_add(r, &d), 0);
    assert_int_equal(vg_residency_acquire(r, d.name, &s), VG_ENOMEM);
    vg_format_bytes(est.weights_bytes + est.work_bytes, need, sizeof(need));
    assert_non_null(strstr(vg_context_errmsg(ctx), need));
    assert_non_null(strstr(vg_context_errmsg(ctx), "estimated"));
    vg_residency_destroy(&r);

    /* on a GPU provider the estimate takes device memory as well */
    vg_model_decl_set_providers(&d, cuda, 2);
    vg_sizing_model_estimate(&d, d.path, (uint64_t)sb.st_size, &gpu);
    assert_int_equal(gpu.device_bytes, gpu.weights_bytes + gpu.work_bytes);

    free(job);
    vg_context_destroy(&ctx);
    model_dir_remove(&mf.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_pools_follow_the_queue_depth),
        cmocka_unit_test(test_detect_and_staged_pools),
        cmocka_unit_test(
            test_picture_rows_are_aligned_as_the_source_aligns_them),
        cmocka_unit_test(test_stream_bytes_add_up),
        cmocka_unit_test(test_decoder_and_encoder_grow_with_the_picture),
        cmocka_unit_test(test_job_shared_counts_each_family_once),
        cmocka_unit_test(test_model_input_from_the_file_or_the_declaration),
        cmocka_unit_test(test_planner_and_residency_use_one_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
