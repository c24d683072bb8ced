/*
 * Fault injection along the frame path of the CCTV job: for every N, the Nth
 * allocation vigil makes (or a fault point stands for: each inference) from
 * the start of vg_run_stream fails, once and then persistently. Each run
 * must end with a clean error (message, no crash) or, where the residency's
 * ladder can absorb it (an inference out of memory), a complete run; in
 * every case vigil frees everything it took (checked here and by ASan) and
 * the detector still works afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/residency.h"
#include "vigil/rules.h"
#include "vigil/run.h"
#include "vigil/staged.h"

#define FRAMES 4

typedef struct fx {
    vg_context *ctx;
    vg_residency *res;
    vg_detector *det;
    vg_rules_config rules;
    char video[1024];
    char out[64];
} fx;

static int setup(fx *f)
{
    const char *cache = getenv("VIGIL_CACHE");
    const char *src_root = getenv("VIGIL_SRC");
    char model[1024], config[1024], cal[128];
    vg_residency_opts ro;
    vg_model_decl d;
    vg_detector_opts dopts;
    vg_session *s;

    memset(f, 0, sizeof(*f));
    if (!cache || !src_root ||
        !io_cache_video(f->video, sizeof(f->video), "vtest.avi"))
        return 1;
    snprintf(model, sizeof(model), "%s/models/nanodet.onnx", cache);
    snprintf(config, sizeof(config), "%s/examples/site.yaml", src_root);
    if (access(model, R_OK) != 0)
        return 1;
    snprintf(f->out, sizeof(f->out), "/tmp/vigil-faults-XXXXXX");
    assert_non_null(mkdtemp(f->out));
    assert_int_equal(vg_context_create(&f->ctx), 0);
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    vg_residency_opts_default(&ro);
    snprintf(cal, sizeof(cal), "%s/calibration.tsv", f->out);
    snprintf(ro.budget.calibration, sizeof(ro.budget.calibration), "%s", cal);
    assert_int_equal(vg_residency_create(f->ctx, &ro, &f->res), 0);
    vg_model_decl_default(&d);
    snprintf(d.name, sizeof(d.name), "detector");
    snprintf(d.path, sizeof(d.path), "%s", model);
    d.policy = VG_POLICY_PINNED;
    d.session.intra_threads = 2;
    d.session.spin = 0;
    assert_int_equal(vg_residency_add(f->res, &d), 0);
    assert_int_equal(vg_residency_acquire(f->res, "detector", &s), 0);
    vg_detector_opts_default(&dopts);
    dopts.classes_keep[0] = 0;
    dopts.n_classes_keep = 1;
    assert_int_equal(vg_detector_create_on(f->ctx, s, model, &dopts, &f->det),
                     0);
    assert_int_equal(vg_rules_load(f->ctx, config, &f->rules), 0);
    return 0;
}

static void teardown(fx *f)
{
    char cmd[128];
    vg_rules_config_free(f->ctx, &f->rules);
    vg_detector_destroy(&f->det);
    vg_residency_release(f->res, "detector");
    vg_residency_destroy(&f->res);
    vg_context_destroy(&f->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->out);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->out);
}

static int run(fx *f, int n, vg_run_stats *st)
{
    vg_run_opts o;
    char suffix[16];
    vg_run_opts_default(&o);
    snprintf(suffix, sizeof(suffix), "-%d", n);
    o.out_dir = f->out;
    o.suffix = suffix;
    o.rules = &f->rules;
    o.max_frames = FRAMES;
    o.write_video = 1;
    o.write_snapshots = 1;
    o.residency = f->res;
    o.model_name = "detector";
    return vg_run_stream(f->ctx, f->video, f->det, &o, st);
}

static void test_every_fault_along_the_frame_path(void **state)
{
    fx f;
    vg_alloc_stats a0, a1;
    vg_run_stats st;
    int n, clean_errors = 0, absorbed = 0;
    (void)state;

    if (setup(&f) != 0)
        skip();
    for (n = 1;; n++) {
        int rc;
        for (int persist = 0; persist <= 1; persist++) {
            vg_context_alloc_stats(f.ctx, &a0);
            vg_context_clear_error(f.ctx);
            vg_context_fail_alloc(f.ctx, (uint64_t)n, persist);
            rc = run(&f, n, &st);
            vg_context_fail_alloc(f.ctx, 0, 0);
            vg_context_alloc_stats(f.ctx, &a1);
            /* everything the run took is given back */
            assert_true(a1.allocs - a0.allocs == a1.frees - a0.frees);
            if (a1.failures == a0.failures) {
                /* the run made fewer than n allocations: done */
                assert_int_equal(rc, 0);
                assert_int_equal((int)st.frames, FRAMES);
                goto done;
            }
            if (rc == 0) {
                /* absorbed: an inference retried after the ladder */
                assert_int_equal((int)st.frames, FRAMES);
                absorbed++;
            } else {
                assert_true(strlen(vg_context_errmsg(f.ctx)) > 0);
                clean_errors++;
            }
        }
    }
done:
    printf("%d fault points along the frame path: %d clean errors, %d "
           "absorbed by the ladder\n",
           n - 1, clean_errors, absorbed);
    assert_true(n > 10);
    assert_true(clean_errors > 0);
    assert_true(absorbed > 0); /* single inference faults are retried */
    /* the detector is intact */
    assert_int_equal(run(&f, 0, &st), 0);
    assert_int_equal((int)st.frames, FRAMES);
    teardown(&f);
}

/* The staged job (three models loaded and unloaded per run, six frames of
 * each of two inputs): every N, once, persistently, and twice in a row. A
 * double failure at a stage-0 inference goes down the ladder and stops only
 * that input: the other input completes. */
static void test_every_fault_along_the_staged_job(void **state)
{
    const char *src_root = getenv("VIGIL_SRC");
    char cfg[1024], out[64], cal[128], cmd[128];
    vg_context *ctx;
    vg_settings s;
    vg_job_config job;
    vg_residency_opts ro;
    vg_residency *r;
    const char *in[2];
    int n, errors = 0, one_input_stopped = 0;
    (void)state;

    if (src_root == NULL || getenv("VIGIL_CACHE") == NULL)
        skip();
    snprintf(cfg, sizeof(cfg), "%s/examples/staged.yaml", src_root);
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    vg_settings_builtin(&s);
    vg_job_config_default(&job);
    if (vg_job_config_load(ctx, cfg, &s, &job) < 0) {
        vg_context_destroy(&ctx); /* models or videos not bootstrapped */
        skip();
    }
    assert_int_equal(vg_job_config_finish(ctx, &job, &s, cfg), 0);
    job.staged.max_frames = 6;
    job.staged.frame_step = 3;
    in[0] = job.inputs[0];
    in[1] = job.inputs[1];
    snprintf(out, sizeof(out), "/tmp/vigil-staged-faults-XXXXXX");
    assert_non_null(mkdtemp(out));
    vg_residency_opts_default(&ro);
    snprintf(cal, sizeof(cal), "%s/calibration.tsv", out);
    snprintf(ro.budget.calibration, sizeof(ro.budget.calibration), "%s", cal);
    assert_int_equal(vg_residency_create(ctx, &ro, &r), 0);
    for (int i = 0; i < job.n_models; i++)
        assert_int_equal(vg_residency_add(r, &job.models[i]), 0);

    for (n = 1;; n++) {
        int done = 0;
        for (int mode = 0; mode < 3; mode++) {
            static const uint64_t counts[3] = {1, 2, UINT64_MAX};
            vg_alloc_stats a0, a1;
            vg_staged_stats st;
            int rc;
            vg_context_alloc_stats(ctx, &a0);
            vg_context_clear_error(ctx);
            vg_context_fail_alloc_run(ctx, (uint64_t)n, counts[mode]);
            rc = vg_staged_run(ctx, r, &job, in, 2, out, NULL, NULL, &st);
            vg_context_fail_alloc(ctx, 0, 0);
            vg_context_alloc_stats(ctx, &a1);
            assert_true(a1.allocs - a0.allocs == a1.frees - a0.frees);
            if (a1.failures == a0.failures) {
                assert_int_equal(rc, 0);
                done = 1;
                break;
            }
            if (rc < 0) {
                assert_true(strlen(vg_context_errmsg(ctx)) > 0);
                errors++;
            }
            if (rc == VG_ENOMEM && st.input[0].end_code == VG_ENOMEM &&
                st.input[1].end_code == 0 && st.input[1].frames_used == 2)
                one_input_stopped++;
        }
        if (done)
            break;
    }
    printf("%d fault points along the staged job: %d clean errors, %d "
           "double inference faults that stopped one input only\n",
           n - 1, errors, one_input_stopped);
    assert_true(n > 20);
    assert_true(errors > 0);
    assert_true(one_input_stopped > 0);
    vg_residency_destroy(&r);
    vg_context_destroy(&ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_fault_along_the_frame_path),
        cmocka_unit_test(test_every_fault_along_the_staged_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
