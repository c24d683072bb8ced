/* Tests of vg_job_config: the job, inputs, memory, models and staged
 * sections, and every error naming FILE:LINE:COL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/job.h"

typedef struct fx {
    vg_context *ctx;
    char dir[64];
    char cfg[128];
    char model[128];
    vg_settings s;
    vg_job_config job;
} fx;

static int setup(void **state)
{
    static fx f;
    FILE *m;
    memset(&f, 0, sizeof(f));
    snprintf(f.dir, sizeof(f.dir), "/tmp/vigil-job-XXXXXX");
    if (mkdtemp(f.dir) == NULL || vg_context_create(&f.ctx) != 0)
        return -1;
    vg_context_set_log_level(f.ctx, VG_LOG_QUIET);
    snprintf(f.cfg, sizeof(f.cfg), "%s/job.yaml", f.dir);
    snprintf(f.model, sizeof(f.model), "%s/m.onnx", f.dir);
    m = fopen(f.model, "w"); /* the loader only checks the file exists */
    if (m == NULL)
        return -1;
    fputs("x", m);
    fclose(m);
    vg_settings_builtin(&f.s);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    vg_context_destroy(&f->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int load(fx *f, const char *text)
{
    FILE *c = fopen(f->cfg, "w");
    assert_non_null(c);
    fputs(text, c);
    fclose(c);
    vg_job_config_default(&f->job);
    return vg_job_config_load(f->ctx, f->cfg, &f->s, &f->job);
}

static void test_full_config(void **state)
{
    fx *f = *state;
    char text[1024];
    snprintf(text, sizeof(text),
             "job: staged\n"
             "memory: {host: 1.5GiB, device: 512MB, margin: 0.1}\n"
             "models:\n"
             "  - {name: det, kind: detector, path: m.onnx, policy: pinned}\n"
             "  - name: face\n"
             "    kind: face_detector\n"
             "    path: %s\n"
             "    policy: keep_alive\n"
             "    keep_alive: 12\n"
             "    stage: 1\n"
             "    batch: 4\n"
             "    input: [256, 128]\n"
             "    providers: [cuda, cpu]\n"
             "    variants: {fp16: m16.onnx}\n"
             "  - {name: emb, kind: face_embedder, path: m.onnx, "
             "policy: unload_after_stage, stage: 2}\n"
             "staged: {frame_step: 3, max_frames: 50, max_faces: 2}\n",
             f->model);
    assert_int_equal(load(f, text), 0);
    assert_int_equal(f->job.kind, VG_JOB_STAGED);
    assert_true(f->job.budget.host_bytes == 1536ull << 20);
    assert_true(f->job.budget.device_bytes == 512000000ull);
    assert_true(f->job.budget.margin > 0.099 && f->job.budget.margin < 0.101);
    assert_int_equal(f->job.n_models, 3);
    /* relative paths are found beside the config */
    assert_string_equal(f->job.models[0].path, f->model);
    assert_int_equal(f->job.models[0].policy, VG_POLICY_PINNED);
    assert_int_equal(f->job.models[1].kind, VG_MODEL_FACE_DETECTOR);
    assert_true(f->job.models[1].keep_alive_s == 12.0);
    assert_int_equal(f->job.models[1].batch, 4);
    assert_int_equal(f->job.models[1].input_w, 256);
    assert_int_equal(f->job.models[1].input_h, 128);
    assert_int_equal(f->job.models[1].session.n_providers, 2);
    assert_string_equal(f->job.models[1].session.providers[0], "cuda");
    assert_int_equal(f->job.models[1].n_variants, 1);
    assert_string_equal(f->job.models[1].variants[0].precision, "fp16");
    assert_int_equal(f->job.models[2].policy, VG_POLICY_UNLOAD_AFTER_STAGE);
    assert_int_equal(f->job.staged.frame_step, 3);
    assert_int_equal((int)f->job.staged.max_frames, 50);
    assert_int_equal(f->job.staged.max_faces, 2);
    assert_int_equal(vg_job_config_finish(f->ctx, &f->job, &f->s, f->cfg), 0);
}

static void test_cctv_gets_a_pinned_detector(void **state)
{
    fx *f = *state;
    assert_int_equal(load(f, "detector: {classes: [person]}\n"), 0);
    assert_int_equal(f->job.kind, VG_JOB_CCTV);
    assert_int_equal(f->job.n_models, 0);
    assert_int_equal(vg_job_config_finish(f->ctx, &f->job, &f->s, f->cfg), 0);
    assert_int_equal(f->job.n_models, 1);
    assert_string_equal(f->job.models[0].name, "detector");
    assert_int_equal(f->job.models[0].policy, VG_POLICY_PINNED);
    assert_string_equal(f->job.models[0].path, f->s.model);
}

/* Every bad value is VG_ECONFIG with FILE:LINE:COL and what was expected. */
static void test_errors_name_the_place(void **state)
{
    fx *f = *state;
    static const struct {
        const char *text;
        const char *line_col; /* ":LINE:COL:" */
        const char *says;
    } cases[] = {
        {"job: batch\n", ":1:6:", "cctv or staged"},
        {"memory: {host: 12XB}\n", ":1:16:", "512MiB"},
        {"memory:\n  margin: 2\n", ":2:11:", "[0, 0.9]"},
        {"memory: {bogus: 1}\n", ":1:10:", "unknown key 'bogus'"},
        {"models:\n  - {name: a, path: nowhere.onnx}\n", ":2:21:", "not found"},
        {"models:\n  - {name: a, path: m.onnx, policy: lazy}\n",
         ":2:37:", "unknown policy 'lazy'"},
        {"models:\n  - {name: a, path: m.onnx, kind: car}\n",
         ":2:35:", "unknown kind 'car'"},
        {"models:\n  - {name: a, path: m.onnx}\n  - {name: a, path: "
         "m.onnx}\n",
         ":3:5:", "used twice"},
        {"models:\n  - {path: m.onnx}\n", ":2:5:", "needs a 'name'"},
        {"models:\n  - {name: a, path: m.onnx, batch: 0}\n",
         ":2:36:", "[1, 1024]"},
        {"models:\n  - {name: a, path: m.onnx, input: [3]}\n",
         ":2:36:", "[width, height]"},
        {"models:\n  - {name: a, path: m.onnx, providers: [tpu]}\n",
         ":2:41:", "unknown provider 'tpu'"},
        {"staged: {frame_step: 0}\n", ":1:22:", "[1, 100000]"},
        {"inputs: [no-such-video.avi]\n", ":1:10:", "not found"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *msg;
        int rc = load(f, cases[i].text);
        msg = vg_context_errmsg(f->ctx);
        if (rc != VG_ECONFIG || strstr(msg, f->cfg) != msg ||
            strstr(msg, cases[i].line_col) == NULL ||
            strstr(msg, cases[i].says) == NULL)
            fail_msg("case %zu: rc %d, message '%s' (want %s and '%s')", i, rc,
                     msg, cases[i].line_col, cases[i].says);
    }
    /* A staged job without its face models is refused by finish. */
    assert_int_equal(load(f, "job: staged\nmodels:\n  - {name: d, path: "
                             "m.onnx}\n"),
                     0);
    assert_int_equal(vg_job_config_finish(f->ctx, &f->job, &f->s, f->cfg),
                     VG_ECONFIG);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "face_detector"));
    assert_int_equal(load(f, "missing: [\n"), VG_ECONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_cctv_gets_a_pinned_detector),
        cmocka_unit_test(test_errors_name_the_place),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
