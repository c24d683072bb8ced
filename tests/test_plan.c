/* Tests of vg_plan: sums from a calibration file written by the test, the
 * staged schedule's max over stages, policies, budgets with their margin,
 * the item to cut, calibrated against estimated footprints, precision
 * variants, shared instances, the model file's input, and stream buffers. */
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
#include "support/io_fixtures.h"
#include "vigil/plan.h"
#include "vigil/sizing.h"
#include "vigil/source.h"

#define MIB (1024ull * 1024ull)

typedef struct fixture {
    model_dir dir;
    char file[4][512];  /* model files of 1000, 2000, 3000, 4000 bytes */
    char calib[512];    /* the test's calibration file */
    char onnx[512];     /* an ONNX model with input [1, 3, 96, 128] */
    char dynamic[512];  /* an ONNX model with input [1, 3, h, w] */
    char clip[512];     /* 320x240 MPEG-4 video */
    char clip_big[512]; /* 640x480 MPEG-4 video */
    int have_onnx, have_clips;
    vg_context *ctx;
    vg_settings settings;
    vg_job_config job;
} fixture;

static int write_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        fputc((int)(i * 7 + 3) & 0xff, f);
    return fclose(f) == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
    static fixture fx;
    char args[1400];
    memset(&fx, 0, sizeof(fx));
    if (model_dir_create(&fx.dir) != 0)
        return -1;
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%d.bin", i);
        model_path(&fx.dir, name, fx.file[i], sizeof(fx.file[i]));
        if (write_bytes(fx.file[i], 1000u * (size_t)(i + 1)) != 0)
            return -1;
    }
    model_path(&fx.dir, "calibration.tsv", fx.calib, sizeof(fx.calib));
    model_path(&fx.dir, "input.onnx", fx.onnx, sizeof(fx.onnx));
    model_path(&fx.dir, "dynamic.onnx", fx.dynamic, sizeof(fx.dynamic));
    {
        char data[600];
        float one = 1.0f;
        model_path(&fx.dir, "one.bin", data, sizeof(data));
        if (model_write_floats(data, &one, 1) != 0)
            return -1;
        snprintf(args, sizeof(args),
                 "const '%s' --input 1,3,96,128 --output y=1:'%s' "
                 ">/dev/null 2>&1",
                 fx.onnx, data);
        fx.have_onnx = model_make(args) == 0;
        snprintf(args, sizeof(args),
                 "const '%s' --input 1,3,0,0 --output y=1:'%s' "
                 ">/dev/null 2>&1",
                 fx.dynamic, data);
        fx.have_onnx &= model_make(args) == 0;
    }
    model_path(&fx.dir, "clip.avi", fx.clip, sizeof(fx.clip));
    model_path(&fx.dir, "clip_big.avi", fx.clip_big, sizeof(fx.clip_big));
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc=size=320x240:rate=25 -frames:v 5 "
             "-c:v mpeg4 '%s'",
             fx.clip);
    fx.have_clips = io_ffmpeg(args) == 0;
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc=size=640x480:rate=25 -frames:v 5 "
             "-c:v mpeg4 '%s'",
             fx.clip_big);
    fx.have_clips &= io_ffmpeg(args) == 0;
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
    unlink(fx->calib);
    vg_settings_builtin(&fx->settings);
    vg_job_config_default(&fx->job);
    snprintf(fx->job.budget.calibration, sizeof(fx->job.budget.calibration),
             "%s", fx->calib);
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    vg_context_destroy(&fx->ctx);
    return 0;
}

/* Declares model i of the job: file f, kind, policy, stage; input 64x32. */
static vg_model_decl *add_model(fixture *fx, const char *name, int f, int kind,
                                int policy, int stage)
{
    vg_model_decl *d = &fx->job.models[fx->job.n_models++];
    char file[VG_PATH_MAX]; /* fx holds both: copy through a local */
    vg_model_decl_default(d);
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(file, sizeof(file), "%s", f >= 0 ? fx->file[f] : "");
    snprintf(d->path, sizeof(d->path), "%s", file);
    d->kind = kind;
    d->policy = policy;
    d->stage = stage;
    d->input_w = 64;
    d->input_h = 32;
    return d;
}

static void calibrate(fixture *fx, const vg_model_decl *d, uint64_t weights,
                      uint64_t work, uint64_t device)
{
    vg_calibration c;
    char key[2048];
    memset(&c, 0, sizeof(c));
    c.weights_bytes = weights;
    c.work_bytes = work;
    c.device_bytes = device;
    c.batch = d->batch;
    snprintf(c.provider, sizeof(c.provider), "cpu");
    assert_int_equal(vg_calibration_key(d, key, sizeof(key)), 0);
    assert_int_equal(vg_calibration_store(fx->ctx, fx->calib, key, &c), 0);
}

static void calibrate_runtime(fixture *fx, const char *job, uint64_t bytes)
{
    vg_calibration c;
    char key[64];
    memset(&c, 0, sizeof(c));
    c.weights_bytes = bytes;
    snprintf(key, sizeof(key), "runtime:%s", job);
    assert_int_equal(vg_calibration_store(fx->ctx, fx->calib, key, &c), 0);
}

static vg_plan *build(fixture *fx, const char *const *inputs, int n,
                      const vg_plan_opts *o)
{
    vg_plan *p = NULL;
    int rc = vg_plan_build(fx->ctx, &fx->job, &fx->settings, inputs, n, o, &p);
    if (rc != 0)
        fail_msg("vg_plan_build: %s (%s)", vg_context_errmsg(fx->ctx),
                 vg_errname(rc));
    assert_non_null(p);
    return p;
}

static void test_all_resident_is_the_exact_sum(void **state)
{
    fixture *fx = *state;
    vg_model_decl *a =
        add_model(fx, "detector", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_model_decl *b =
        add_model(fx, "other", 1, VG_MODEL_OTHER, VG_POLICY_KEEP_ALIVE, 0);
    vg_plan *p;
    calibrate(fx, a, 30 * MIB, 7 * MIB, 0);
    calibrate(fx, b, 11 * MIB, 2 * MIB, 0);
    calibrate_runtime(fx, "cctv", 40 * MIB);

    p = build(fx, NULL, 0, NULL);
    assert_int_equal(p->schedule, VG_PLAN_ALL_RESIDENT);
    assert_int_equal(p->n_models, 2);
    assert_true(p->runtime_calibrated);
    assert_int_equal(p->runtime_baseline_bytes, 40 * MIB);
    assert_int_equal(p->runtime_bytes, 40 * MIB + VG_PLAN_ORT_ENV_BYTES);
    assert_true(p->models[0].calibrated && p->models[1].calibrated);
    assert_int_equal(p->models[0].host_bytes, 37 * MIB);
    assert_int_equal(p->models[1].host_bytes, 13 * MIB);
    assert_int_equal(p->host_peak_all_resident,
                     40 * MIB + VG_PLAN_ORT_ENV_BYTES + 50 * MIB);
    /* a cctv job has no stages */
    assert_int_equal(p->host_peak_staged, p->host_peak_all_resident);
    assert_int_equal(p->host_peak, p->host_peak_all_resident);
    assert_true(p->fits && p->fits_all_resident && p->fits_staged);
    assert_false(p->cut.needed);
    vg_plan_destroy(&p);
    assert_null(p);
}

static void test_staged_peak_is_the_largest_stage(void **state)
{
    fixture *fx = *state;
    vg_model_decl *d0, *d1, *d2, *pin;
    vg_plan *p;
    fx->job.kind = VG_JOB_STAGED;
    d0 = add_model(fx, "persons", 0, VG_MODEL_DETECTOR,
                   VG_POLICY_UNLOAD_AFTER_STAGE, 0);
    d1 = add_model(fx, "faces", 1, VG_MODEL_FACE_DETECTOR,
                   VG_POLICY_UNLOAD_AFTER_STAGE, 1);
    d2 = add_model(fx, "embed", 2, VG_MODEL_FACE_EMBEDDER,
                   VG_POLICY_UNLOAD_AFTER_STAGE, 2);
    pin = add_model(fx, "pinned", 3, VG_MODEL_OTHER, VG_POLICY_PINNED, 1);
    calibrate(fx, d0, 20 * MIB, 5 * MIB, 0);
    calibrate(fx, d1, 50 * MIB, 10 * MIB, 0);
    calibrate(fx, d2, 8 * MIB, 1 * MIB, 0);
    calibrate(fx, pin, 3 * MIB, 1 * MIB, 0);
    calibrate_runtime(fx, "staged", 30 * MIB);

    p = build(fx, NULL, 0, NULL);
    assert_int_equal(p->schedule, VG_PLAN_STAGED);
    assert_int_equal(p->n_stages, 3);
    {
        uint64_t rt = 30 * MIB + VG_PLAN_ORT_ENV_BYTES;
        /* the pinned model is resident in every stage */
        assert_int_equal(p->stages[0].host_bytes, rt + 25 * MIB + 4 * MIB);
        assert_int_equal(p->stages[1].host_bytes, rt + 60 * MIB + 4 * MIB);
        assert_int_equal(p->stages[2].host_bytes, rt + 9 * MIB + 4 * MIB);
        assert_int_equal(p->peak_stage, 1);
        assert_int_equal(p->host_peak_staged, rt + 64 * MIB);
        assert_int_equal(p->host_peak_all_resident, rt + 98 * MIB);
    }
    assert_int_equal(p->host_peak, p->host_peak_staged);
    vg_plan_destroy(&p);
}

static void test_keep_alive_stays_resident_in_later_stages(void **state)
{
    fixture *fx = *state;
    vg_model_decl *d0, *d1;
    vg_plan *p;
    fx->job.kind = VG_JOB_STAGED;
    d0 = add_model(fx, "first", 0, VG_MODEL_DETECTOR, VG_POLICY_KEEP_ALIVE, 0);
    d1 = add_model(fx, "second", 1, VG_MODEL_OTHER,
                   VG_POLICY_UNLOAD_AFTER_STAGE, 1);
    calibrate(fx, d0, 10 * MIB, 0, 0);
    calibrate(fx, d1, 20 * MIB, 0, 0);
    p = build(fx, NULL, 0, NULL);
    assert_false(p->runtime_calibrated);
    assert_int_equal(p->runtime_baseline_bytes, VG_PLAN_RUNTIME_ESTIMATE_BYTES);
    assert_int_equal(p->stages[1].models_host_bytes, 30 * MIB);
    assert_int_equal(p->stages[0].models_host_bytes, 10 * MIB);
    /* every model is needed at once here: staged == all resident */
    assert_int_equal(p->host_peak_staged, p->host_peak_all_resident);
    vg_plan_destroy(&p);
}

static void test_budget_margin_and_the_item_to_cut(void **state)
{
    fixture *fx = *state;
    vg_model_decl *a =
        add_model(fx, "big", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_model_decl *b =
        add_model(fx, "small", 1, VG_MODEL_OTHER, VG_POLICY_PINNED, 0);
    vg_plan_opts o;
    vg_plan *p;
    uint64_t peak;
    calibrate(fx, a, 60 * MIB, 0, 0);
    calibrate(fx, b, 10 * MIB, 0, 0);
    calibrate_runtime(fx, "cctv", 10 * MIB);
    fx->job.budget.margin = 0.10;
    peak = 10 * MIB + VG_PLAN_ORT_ENV_BYTES + 70 * MIB;

    /* usable = budget - 10 %: exactly the peak fits */
    vg_plan_opts_default(&o);
    o.host_budget_bytes = (int64_t)(peak * 10 / 9) + 1;
    p = build(fx, NULL, 0, &o);
    assert_int_equal(p->host_peak, peak);
    assert_true(p->host_usable >= peak);
    assert_true(p->fits);
    assert_false(p->cut.needed);
    vg_plan_destroy(&p);

    /* 5 MiB short: cutting the largest model is enough */
    o.host_budget_bytes = (int64_t)((peak - 5 * MIB) * 10 / 9) + 1;
    p = build(fx, NULL, 0, &o);
    assert_false(p->fits);
    assert_false(p->fits_all_resident);
    assert_true(p->cut.needed);
    assert_string_equal(p->cut.resource, "host");
    assert_int_equal(p->cut.model, 0);
    assert_string_equal(p->cut.item, "model big");
    assert_int_equal(p->cut.bytes, 60 * MIB);
    assert_true(p->cut.over_bytes > 4 * MIB && p->cut.over_bytes <= 5 * MIB);
    assert_true(p->cut.enough);
    vg_plan_destroy(&p);

    /* a budget smaller than the runtime: the cut is not enough */
    o.host_budget_bytes = (int64_t)(5 * MIB);
    p = build(fx, NULL, 0, &o);
    assert_true(p->cut.needed);
    assert_int_equal(p->cut.model, 0);
    assert_false(p->cut.enough);
    vg_plan_destroy(&p);

    /* the config's budget is used when the options leave it (-1) */
    fx->job.budget.host_bytes = 1 * MIB;
    p = build(fx, NULL, 0, NULL);
    assert_int_equal(p->host_budget, 1 * MIB);
    assert_false(p->fits);
    vg_plan_destroy(&p);
    /* 0 on the command line: no budget */
    o.host_budget_bytes = 0;
    p = build(fx, NULL, 0, &o);
    assert_int_equal(p->host_budget, 0);
    assert_true(p->fits);
    vg_plan_destroy(&p);
}

static void test_estimated_when_not_calibrated(void **state)
{
    fixture *fx = *state;
    vg_model_decl *a =
        add_model(fx, "measured", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_model_decl *b =
        add_model(fx, "never", 2, VG_MODEL_OTHER, VG_POLICY_PINNED, 0);
    vg_calibration est;
    vg_plan *p;
    char *json = NULL;
    size_t len = 0;
    FILE *f;
    b->batch = 4;
    calibrate(fx, a, 9 * MIB, 1 * MIB, 0);
    p = build(fx, NULL, 0, NULL);
    assert_true(p->models[0].calibrated);
    assert_false(p->models[1].calibrated);
    vg_calibration_estimate(b, 3000, 3 * 64 * 32, &est);
    assert_int_equal(p->models[1].file_bytes, 3000);
    assert_int_equal(p->models[1].weights_bytes, est.weights_bytes);
    assert_int_equal(p->models[1].work_bytes, est.work_bytes);
    assert_int_equal(p->models[1].batch, 4);
    /* both labels reach the table and the JSON */
    f = open_memstream(&json, &len);
    assert_non_null(f);
    assert_int_equal(vg_plan_print_json(p, f), 0);
    fclose(f);
    assert_non_null(strstr(json, "\"source\": \"calibrated\""));
    assert_non_null(strstr(json, "\"source\": \"estimated\""));
    assert_non_null(strstr(json, "\"schedule\": \"all_resident\""));
    assert_non_null(strstr(json, "\"cut\": null"));
    free(json);
    f = open_memstream(&json, &len);
    assert_int_equal(vg_plan_print(p, f), 0);
    fclose(f);
    assert_non_null(strstr(json, "calibrated"));
    assert_non_null(strstr(json, "estimated"));
    free(json);
    vg_plan_destroy(&p);
}

static void test_variants_are_listed_not_counted(void **state)
{
    fixture *fx = *state;
    vg_model_decl *a =
        add_model(fx, "detector", 3, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_model_decl v;
    vg_plan_opts o;
    vg_plan *p;
    snprintf(a->variants[0].precision, sizeof(a->variants[0].precision),
             "int8");
    snprintf(a->variants[0].path, sizeof(a->variants[0].path), "%s",
             fx->file[0]);
    snprintf(a->variants[1].precision, sizeof(a->variants[1].precision),
             "fp16");
    model_path(&fx->dir, "absent.onnx", a->variants[1].path,
               sizeof(a->variants[1].path));
    a->n_variants = 2;
    calibrate(fx, a, 40 * MIB, 4 * MIB, 0);
    /* the int8 file measured under the same options */
    vg_model_decl_copy(&v, a);
    snprintf(v.path, sizeof(v.path), "%s", fx->file[0]);
    calibrate(fx, &v, 10 * MIB, 2 * MIB, 0);
    calibrate_runtime(fx, "cctv", 10 * MIB);

    vg_plan_opts_default(&o);
    o.host_budget_bytes = (int64_t)(40 * MIB);
    p = build(fx, NULL, 0, &o);
    assert_int_equal(p->n_models, 3);
    assert_false(p->models[0].variant);
    assert_true(p->models[1].variant);
    assert_string_equal(p->models[1].precision, "int8");
    assert_int_equal(p->models[1].of, 0);
    assert_true(p->models[1].calibrated);
    assert_int_equal(p->models[1].host_bytes, 12 * MIB);
    assert_true(p->models[2].variant);
    assert_true(p->models[2].missing);
    assert_int_equal(p->models[2].host_bytes, 0);
    /* variants do not add to the peak */
    assert_int_equal(p->host_peak, 10 * MIB + VG_PLAN_ORT_ENV_BYTES + 44 * MIB);
    /* over budget: cut the detector, or run its int8 variant */
    assert_true(p->cut.needed);
    assert_int_equal(p->cut.model, 0);
    assert_int_equal(p->cut.variant, 1);
    assert_int_equal(p->cut.variant_saves, 32 * MIB);
    vg_plan_destroy(&p);
}

static void test_shared_instance_counts_once(void **state)
{
    fixture *fx = *state;
    vg_model_decl *a =
        add_model(fx, "one", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_model_decl *b =
        add_model(fx, "two", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_plan *p;
    (void)b;
    calibrate(fx, a, 20 * MIB, 0, 0);
    calibrate_runtime(fx, "cctv", 10 * MIB);
    p = build(fx, NULL, 0, NULL);
    assert_int_equal(p->models[1].host_bytes, 20 * MIB);
    assert_int_equal(p->host_peak, 10 * MIB + VG_PLAN_ORT_ENV_BYTES + 20 * MIB);
    vg_plan_destroy(&p);
}

static void test_device_budget_and_gpu_estimate(void **state)
{
    fixture *fx = *state;
    vg_model_decl *a =
        add_model(fx, "gpu", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_model_decl *b =
        add_model(fx, "cpu", 1, VG_MODEL_OTHER, VG_POLICY_PINNED, 0);
    const char *cuda[] = {"cuda", "cpu"};
    vg_plan_opts o;
    vg_plan *p;
    vg_model_decl_set_providers(b, cuda, 2); /* never measured */
    calibrate(fx, a, 5 * MIB, 1 * MIB, 300 * MIB);
    vg_plan_opts_default(&o);
    o.device_budget_bytes = (int64_t)(200 * MIB);
    p = build(fx, NULL, 0, &o);
    /* an estimated model on a GPU provider takes device memory too */
    assert_int_equal(p->models[1].device_bytes,
                     p->models[1].weights_bytes + p->models[1].work_bytes);
    assert_int_equal(p->device_peak, 300 * MIB + p->models[1].device_bytes);
    assert_false(p->fits);
    assert_true(p->cut.needed);
    assert_string_equal(p->cut.resource, "device");
    assert_int_equal(p->cut.model, 0);
    assert_int_equal(p->cut.bytes, 300 * MIB);
    assert_true(p->cut.enough);
    vg_plan_destroy(&p);
}

static void test_input_is_read_from_the_model_file(void **state)
{
    fixture *fx = *state;
    vg_model_decl *a =
        add_model(fx, "fixed", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_model_decl *b =
        add_model(fx, "dyn", 0, VG_MODEL_OTHER, VG_POLICY_PINNED, 0);
    vg_model_decl *c =
        add_model(fx, "dyn_default", 0, VG_MODEL_OTHER, VG_POLICY_PINNED, 0);
    vg_plan *p;
    if (!fx->have_onnx)
        skip();
    snprintf(a->path, sizeof(a->path), "%s", fx->onnx);
    a->input_w = a->input_h = 0; /* as the file declares */
    snprintf(b->path, sizeof(b->path), "%s", fx->dynamic);
    b->input_w = 200; /* the config's size fills dynamic dimensions */
    b->input_h = 100;
    snprintf(c->path, sizeof(c->path), "%s", fx->dynamic);
    c->input_w = c->input_h = 0;
    c->batch = 2; /* different options: not shared with b */
    p = build(fx, NULL, 0, NULL);
    assert_int_equal(p->models[0].input_c, 3);
    assert_int_equal(p->models[0].input_h, 96);
    assert_int_equal(p->models[0].input_w, 128);
    assert_true(p->models[0].input_known);
    assert_int_equal(p->models[1].input_w, 200);
    assert_int_equal(p->models[1].input_h, 100);
    assert_true(p->models[1].input_known);
    /* dynamic and not configured: vg_detector's default side */
    assert_int_equal(p->models[2].input_w, 640);
    assert_false(p->models[2].input_known);
    {
        vg_calibration est;
        struct stat sb;
        assert_int_equal(stat(fx->onnx, &sb), 0);
        vg_calibration_estimate(a, (uint64_t)sb.st_size, 3 * 96 * 128, &est);
        assert_int_equal(p->models[0].work_bytes, est.work_bytes);
    }
    vg_plan_destroy(&p);
}

static void test_stream_buffers_cctv(void **state)
{
    fixture *fx = *state;
    const char *inputs[3];
    vg_plan_opts o;
    vg_plan *p;
    vg_model_decl *a =
        add_model(fx, "detector", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    uint64_t tensor = 3 * 64 * 32 * 4, depth = 3;
    vg_stream_pools pools;
    if (!fx->have_clips)
        skip();
    calibrate(fx, a, 20 * MIB, 0, 0);
    calibrate_runtime(fx, "cctv", 10 * MIB);
    fx->settings.queue_depth = (int)depth;
    inputs[0] = fx->clip;
    inputs[1] = fx->clip_big;
    inputs[2] = "/nonexistent/vigil-plan-test.avi";
    vg_plan_opts_default(&o);
    o.video = 0;
    o.assume_width = 160;
    o.assume_height = 120;
    p = build(fx, inputs, 3, &o);
    assert_int_equal(p->n_streams, 3);
    assert_true(p->streams[0].opened);
    assert_int_equal(p->streams[0].width, 320);
    assert_int_equal(p->streams[0].height, 240);
    /* the counts the runtime creates its pools with */
    vg_sizing_stream_pools((unsigned)depth, &pools);
    assert_int_equal(pools.tensors, depth + 2);
    assert_int_equal(pools.pictures, 2 * depth + 3);
    /* the job's cameras hold 8-bit tensors, sized as the source sizes them */
    {
        vg_tensor_spec sp;
        memset(&sp, 0, sizeof(sp));
        sp.width = p->models[0].input_w;
        sp.height = p->models[0].input_h;
        sp.resize = VG_RESIZE_LETTERBOX;
        tensor = vg_source_tensor_bytes(&sp, 320, 240, 1);
        assert_true(tensor > 0 && tensor < 3 * 64 * 32 * 4);
    }
    assert_int_equal(p->streams[0].tensor_pool_bytes, pools.tensors * tensor);
    assert_int_equal(p->streams[0].picture_pool_bytes,
                     pools.pictures * 320 * 240 * 3);
    assert_int_equal(p->streams[0].encoder_bytes, 0);
    assert_int_equal(p->streams[0].decoder_bytes,
                     vg_sizing_decoder_bytes(p->streams[0].codec, 320, 240,
                                             p->streams[0].decoder_threads));
    assert_int_equal(p->streams[0].threads_bytes,
                     VG_SIZING_STREAM_THREADS_BYTES);
    assert_int_equal(
        p->streams[0].host_bytes,
        p->streams[0].tensor_pool_bytes + p->streams[0].picture_pool_bytes +
            p->streams[0].decoder_bytes + p->streams[0].other_bytes +
            p->streams[0].threads_bytes);
    /* the input that cannot be opened is planned at the assumed size */
    assert_false(p->streams[2].opened);
    assert_true(p->streams[2].error[0] != '\0');
    assert_int_equal(p->streams[2].width, 160);
    vg_plan_destroy(&p);

    /* video on: the encoder of the stream's size is added */
    o.video = 1;
    p = build(fx, inputs, 1, &o);
    assert_int_equal(p->streams[0].encoder_bytes,
                     vg_sizing_encoder_bytes(fx->settings.video_preset, 320,
                                             240, VG_SIZING_VIDEO_THREADS));
    assert_true(p->streams[0].encoder_bytes > 0);
    vg_plan_destroy(&p);
}

static void test_concurrent_streams_add_up_and_share_once(void **state)
{
    fixture *fx = *state;
    const char *inputs[4];
    vg_plan_opts o;
    vg_plan *one, *four;
    vg_model_decl *a =
        add_model(fx, "detector", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    uint64_t base = 10 * MIB + VG_PLAN_ORT_ENV_BYTES + 1 * MIB, stream;
    if (!fx->have_clips)
        skip();
    calibrate(fx, a, 1 * MIB, 0, 0); /* smaller than a stream */
    calibrate_runtime(fx, "cctv", 10 * MIB);
    for (int i = 0; i < 4; i++)
        inputs[i] = fx->clip;
    vg_plan_opts_default(&o);
    assert_true(o.concurrent); /* the multi-camera job's default */
    o.video = 1;
    one = build(fx, inputs, 1, &o);
    four = build(fx, inputs, 4, &o);
    assert_true(one->concurrent && four->concurrent);
    stream = one->streams[0].host_bytes;
    /* one decoder family, one encoder, one event store: shared once */
    assert_int_equal(one->shared.decoders,
                     vg_sizing_decoder_shared_bytes(one->streams[0].codec));
    assert_int_equal(one->shared.encoder,
                     vg_sizing_encoder_shared_bytes(fx->settings.video_preset));
    assert_int_equal(one->shared.events, VG_SIZING_EVENTS_BYTES);
    assert_int_equal(four->shared_bytes, one->shared_bytes);
    assert_int_equal(one->host_peak, base + one->shared_bytes + stream);
    /* the models and the runtime once, every stream's buffers */
    assert_int_equal(four->host_peak, base + one->shared_bytes + 4 * stream);
    assert_int_equal(four->host_peak - one->host_peak, 3 * stream);
    assert_int_equal(four->stages[0].stream_bytes,
                     four->shared_bytes + 4 * stream);

    /* a budget for three and a half streams: the item to cut is one
     * stream (its own bytes, not the sum), and cutting it is enough */
    vg_plan_destroy(&four);
    o.host_budget_bytes =
        (int64_t)((double)(base + one->shared_bytes + 7 * stream / 2) /
                  (1.0 - fx->job.budget.margin));
    vg_plan_destroy(&one);
    four = build(fx, inputs, 4, &o);
    assert_false(four->fits);
    assert_int_equal(four->cut.stream, 0);
    assert_int_equal(four->cut.model, -1);
    assert_int_equal(four->cut.bytes, stream);
    assert_true(four->cut.enough);
    vg_plan_destroy(&four);
}

static void test_sequential_streams_take_the_largest(void **state)
{
    fixture *fx = *state;
    const char *inputs[2];
    vg_plan_opts o;
    vg_plan *p;
    vg_model_decl *a =
        add_model(fx, "detector", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    if (!fx->have_clips)
        skip();
    calibrate(fx, a, 20 * MIB, 0, 0);
    calibrate_runtime(fx, "cctv", 10 * MIB);
    inputs[0] = fx->clip;
    inputs[1] = fx->clip_big;
    vg_plan_opts_default(&o);
    o.video = 0;
    o.concurrent = 0;
    p = build(fx, inputs, 2, &o);
    assert_false(p->concurrent);
    assert_true(p->streams[1].host_bytes > p->streams[0].host_bytes);
    assert_int_equal(p->host_peak, 10 * MIB + VG_PLAN_ORT_ENV_BYTES + 20 * MIB +
                                       p->shared_bytes +
                                       p->streams[1].host_bytes);
    vg_plan_destroy(&p);
}

static void test_stream_buffers_staged(void **state)
{
    fixture *fx = *state;
    const char *inputs[1];
    vg_model_decl *d0, *d1, *d2;
    vg_plan *p;
    if (!fx->have_clips)
        skip();
    fx->job.kind = VG_JOB_STAGED;
    d0 = add_model(fx, "persons", 0, VG_MODEL_DETECTOR,
                   VG_POLICY_UNLOAD_AFTER_STAGE, 0);
    d1 = add_model(fx, "faces", 1, VG_MODEL_FACE_DETECTOR,
                   VG_POLICY_UNLOAD_AFTER_STAGE, 1);
    d2 = add_model(fx, "embed", 2, VG_MODEL_FACE_EMBEDDER,
                   VG_POLICY_UNLOAD_AFTER_STAGE, 2);
    d1->input_w = d1->input_h = 256;
    d2->input_w = d2->input_h = 112;
    calibrate(fx, d0, 1 * MIB, 0, 0);
    calibrate(fx, d1, 1 * MIB, 0, 0);
    calibrate(fx, d2, 1 * MIB, 0, 0);
    inputs[0] = fx->clip_big;
    p = build(fx, inputs, 1, NULL);
    {
        const vg_plan_stream *s = &p->streams[0];
        uint64_t dec = s->decoder_bytes;
        uint64_t faces = (256 * 256 * 3 + 112 * 112 * 3) * 4;
        uint64_t stage0 = 3 * (3 * 64 * 32 * 4) + dec;
        uint64_t later = 3 * (640 * 480 * 3) + dec + faces;
        assert_int_equal(s->encoder_bytes, 0);
        assert_true(s->stage_bytes[0] >= stage0);
        assert_true(s->stage_bytes[0] - stage0 < (1u << 20));
        assert_true(s->stage_bytes[1] >= later);
        assert_true(s->stage_bytes[1] - later < (1u << 20));
        assert_int_equal(s->stage_bytes[1], s->stage_bytes[2]);
        /* the breakdown shown is the largest stage's: pictures */
        assert_int_equal(s->tensor_pool_bytes, 0);
        assert_int_equal(s->picture_pool_bytes, 3 * 640 * 480 * 3);
        assert_int_equal(p->stages[1].stream_bytes, s->stage_bytes[1]);
    }
    vg_plan_destroy(&p);
}

/* tracker.reid with an ONNX reid_model: the planner loads the model to
 * learn its embedding length, unless the caller says what it learnt (the
 * CLI's check before any frame): then the file is not loaded again. */
static void test_reid_facts_spare_a_second_load(void **state)
{
    fixture *fx = *state;
    const char *inputs[1];
    char junk[VG_PATH_MAX];
    vg_plan_opts o;
    vg_plan *p = NULL;
    uint64_t dim8, dim64;
    if (!fx->have_clips)
        skip();
    add_model(fx, "detector", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    inputs[0] = fx->clip;
    snprintf(junk, sizeof(junk), "%s", fx->file[1]); /* not a model */
    fx->settings.reid_enabled = 1;
    snprintf(fx->settings.reid_model, sizeof(fx->settings.reid_model), "%s",
             junk);
    vg_plan_opts_default(&o);
    o.video = 0;
    /* loaded: the file is refused */
    assert_true(
        vg_plan_build(fx->ctx, &fx->job, &fx->settings, inputs, 1, &o, &p) < 0);
    assert_null(p);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), junk));
    vg_context_clear_error(fx->ctx);
    /* told: not loaded; the embedding storage follows the length given and
     * the input is counted */
    o.reid_dim = 8;
    o.reid_input_bytes = 4096;
    p = build(fx, inputs, 1, &o);
    dim8 = p->streams[0].reid_bytes;
    vg_plan_destroy(&p);
    o.reid_dim = 64;
    p = build(fx, inputs, 1, &o);
    dim64 = p->streams[0].reid_bytes;
    vg_plan_destroy(&p);
    assert_true(dim8 > 4096);
    assert_true(dim64 > dim8);
}

static void test_bad_arguments(void **state)
{
    fixture *fx = *state;
    const char *inputs[VG_PLAN_MAX_STREAMS + 1];
    vg_plan *p = (vg_plan *)&p; /* not NULL: must be cleared */
    add_model(fx, "detector", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    for (int i = 0; i <= VG_PLAN_MAX_STREAMS; i++)
        inputs[i] = fx->clip;
    assert_int_equal(
        vg_plan_build(fx->ctx, NULL, &fx->settings, NULL, 0, NULL, &p),
        VG_EINVAL);
    assert_null(p);
    assert_int_equal(
        vg_plan_build(fx->ctx, &fx->job, &fx->settings, NULL, 1, NULL, &p),
        VG_EINVAL);
    assert_int_equal(vg_plan_build(fx->ctx, &fx->job, &fx->settings, inputs,
                                   VG_PLAN_MAX_STREAMS + 1, NULL, &p),
                     VG_ERANGE);
    assert_null(p);
    vg_plan_destroy(NULL);
    vg_plan_destroy(&p);
}

static void test_out_of_memory_is_reported(void **state)
{
    fixture *fx = *state;
    vg_plan *p = NULL;
    add_model(fx, "detector", 0, VG_MODEL_DETECTOR, VG_POLICY_PINNED, 0);
    vg_context_fail_alloc(fx->ctx, 1, 1);
    assert_int_equal(
        vg_plan_build(fx->ctx, &fx->job, &fx->settings, NULL, 0, NULL, &p),
        VG_ENOMEM);
    assert_null(p);
    vg_context_fail_alloc(fx->ctx, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_resident_is_the_exact_sum,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_staged_peak_is_the_largest_stage,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_keep_alive_stays_resident_in_later_stages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_margin_and_the_item_to_cut,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_estimated_when_not_calibrated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_variants_are_listed_not_counted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_instance_counts_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_device_budget_and_gpu_estimate,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_is_read_from_the_model_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_buffers_cctv, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_concurrent_streams_add_up_and_share_once, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sequential_streams_take_the_largest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reid_facts_spare_a_second_load,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_buffers_staged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory_is_reported, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
