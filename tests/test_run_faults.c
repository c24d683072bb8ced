/*
 * Fault injection along the frame path of the CCTV job and along the staged
 * job, in the manner of SQLite's test_malloc: the Nth allocation vigil makes
 * (or a fault point stands for: each inference, ONNX Runtime's allocations)
 * from the start of the run fails, once, twice in a row or persistently.
 * Each run must end with a clean error (message, no crash) or, where the
 * residency's ladder can absorb it (an inference out of memory), a complete
 * run; in every case vigil frees everything it took (checked here and by
 * ASan) and the job still works afterwards.
 *
 * Which N: a census run without faults counts the run's points (the
 * context's allocs + failures + fault_points) and notes where each step
 * starts: each model load and unload and each log line (residency, sources,
 * stages), each frame (progress and stop polls). The points between two such
 * marks are one step. VIGIL_FULL_SWEEP=1 runs every N (SQLite's full sweep,
 * for a release); by default every step is sampled, deterministically
 * (VIGIL_FAULT_SEED, default 1): a step of up to SMALL_STEP points is run
 * whole (a frame's inference is such a step), a longer one at one point in
 * every few (CCTV_STRIDE, STAGED_STRIDE) drawn at random, a different draw for
 * each part. So every step (each model load, each source open, each stage, each
 * frame's inference) meets at least one fault in every mode, while a loaded
 * 2-core machine under ASan runs each part in a few minutes.
 * VIGIL_FAULTS_VERBOSE=1 prints the census and each outcome.
 *
 * One ctest test per part (CMakeLists.txt reads the lines below); the program
 * without an argument runs them all.
 */
/* ctest-cost: 320 */
/* ctest-part: cctv_once */
/* ctest-part: cctv_persistent */
/* ctest-part: staged_once */
/* ctest-part: staged_twice */
/* ctest-part: staged_persistent */
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
#define MAX_MARKS 4096
#define MAX_POINTS 65536
#define SMALL_STEP 2 /* steps this short are run whole */
/* Longer steps: one random point in every STRIDE points. The CCTV job's
 * runs are cheap (its model stays loaded), the staged job loads three. */
#define CCTV_STRIDE 4
/* The staged job's steps: one point in 64 of a long one (every step still
 * meets a fault; a different draw per part and per VIGIL_FAULT_SEED); most
 * of its steps are short and run whole. `make faults-full` runs every
 * point. */
#define STAGED_STRIDE 64

/* ---- census and sample ------------------------------------------------- */

typedef struct census {
    vg_context *ctx;
    uint64_t base; /* injector position when the run started */
    int verbose;
    int n_marks;
    uint64_t marks[MAX_MARKS]; /* positions (1-based N) where a step starts */
} census;

/* Points the injector has seen in ctx so far. */
static uint64_t position(vg_context *ctx)
{
    vg_alloc_stats a;
    vg_context_alloc_stats(ctx, &a);
    return a.allocs + a.failures + a.fault_points;
}

/* A step starts at the next point (N = points so far + 1). */
static void mark(census *c, const char *why)
{
    uint64_t n = position(c->ctx) - c->base + 1;
    if (c->n_marks > 0 && c->marks[c->n_marks - 1] == n)
        return;
    if (c->n_marks < MAX_MARKS)
        c->marks[c->n_marks++] = n;
    if (c->verbose)
        printf("census: step at N=%llu: %s\n", (unsigned long long)n, why);
}

static void census_log(void *user, int level, const char *line)
{
    (void)level;
    mark(user, line);
}

static void census_progress(void *user, int64_t frames)
{
    (void)frames;
    mark(user, "frame");
}

static int census_should_stop(void *user)
{
    mark(user, "stop poll");
    return 0;
}

static void census_begin(census *c, vg_context *ctx)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->verbose = getenv("VIGIL_FAULTS_VERBOSE") != NULL;
    c->base = position(ctx);
    c->marks[c->n_marks++] = 1;
    vg_context_set_log_level(ctx, VG_LOG_DEBUG);
    vg_context_set_log_fn(ctx, census_log, c);
}

/* Ends the census; returns the run's number of points. */
static uint64_t census_end(census *c)
{
    uint64_t total = position(c->ctx) - c->base;
    vg_context_set_log_fn(c->ctx, NULL, NULL);
    vg_context_set_log_level(c->ctx, VG_LOG_QUIET);
    return total;
}

static uint64_t next_random(uint64_t *s)
{
    /* splitmix64: the same sequence for the same seed on every machine */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Fills pts with the N to run for a census of total points, sorted and
 * distinct; returns how many. salt varies the draw between parts. */
static int sample(const census *c, uint64_t total, uint64_t stride,
                  uint64_t salt, uint64_t *pts)
{
    const char *full = getenv("VIGIL_FULL_SWEEP");
    const char *seed_env = getenv("VIGIL_FAULT_SEED");
    uint64_t seed =
        (seed_env ? strtoull(seed_env, NULL, 10) : 1) * 1000003u + salt;
    int n = 0, k = 0;

    if (full && strcmp(full, "1") == 0) {
        for (uint64_t i = 1; i <= total && n < MAX_POINTS; i++)
            pts[n++] = i;
        return n;
    }
    for (int m = 0; m < c->n_marks; m++) {
        uint64_t a = c->marks[m];
        uint64_t b = m + 1 < c->n_marks ? c->marks[m + 1] : total + 1;
        if (b > total + 1)
            b = total + 1;
        if (a >= b)
            continue;
        if (b - a <= SMALL_STEP) {
            for (uint64_t i = a; i < b && n < MAX_POINTS; i++)
                pts[n++] = i;
            continue;
        }
        for (uint64_t lo = a; lo < b && n < MAX_POINTS; lo += stride) {
            uint64_t hi = lo + stride < b ? lo + stride : b;
            pts[n++] = lo + next_random(&seed) % (hi - lo);
        }
    }
    qsort(pts, (size_t)n, sizeof(*pts), cmp_u64);
    for (int i = 0; i < n; i++)
        if (k == 0 || pts[k - 1] != pts[i])
            pts[k++] = pts[i];
    return k;
}

/* ---- the CCTV job ------------------------------------------------------ */

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

/* One CCTV run; c not NULL: the census run, which marks each frame. */
static int run(fx *f, int n, census *c, vg_run_stats *st)
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
    if (c) {
        o.progress = census_progress;
        o.should_stop = census_should_stop;
        o.user = c;
    }
    return vg_run_stream(f->ctx, f->video, f->det, &o, st);
}

typedef struct part {
    const char *name;
    uint64_t count; /* failures in a row from N on: 1, 2 or UINT64_MAX */
} part;

static const part parts[] = {
    {"cctv_once", 1},    {"cctv_persistent", UINT64_MAX},   {"staged_once", 1},
    {"staged_twice", 2}, {"staged_persistent", UINT64_MAX},
};

static void test_faults_along_the_frame_path(void **state)
{
    const part *p = *state;
    census *c = calloc(1, sizeof(*c));
    uint64_t *pts = calloc(MAX_POINTS, sizeof(*pts));
    int verbose = getenv("VIGIL_FAULTS_VERBOSE") != NULL;
    uint64_t total;
    fx f;
    vg_alloc_stats a0, a1;
    vg_run_stats st;
    int n_pts, clean_errors = 0, absorbed = 0;

    assert_non_null(c);
    assert_non_null(pts);
    if (setup(&f) != 0) {
        free(c);
        free(pts);
        skip();
    }
    census_begin(c, f.ctx);
    assert_int_equal(run(&f, 0, c, &st), 0);
    total = census_end(c);
    assert_int_equal((int)st.frames, FRAMES);
    n_pts = sample(c, total, CCTV_STRIDE, p->count, pts);
    for (int i = 0; i < n_pts; i++) {
        int rc;
        vg_context_alloc_stats(f.ctx, &a0);
        vg_context_clear_error(f.ctx);
        vg_context_fail_alloc_run(f.ctx, pts[i], p->count);
        rc = run(&f, (int)pts[i], NULL, &st);
        vg_context_fail_alloc(f.ctx, 0, 0);
        vg_context_alloc_stats(f.ctx, &a1);
        if (verbose)
            printf("N=%llu rc=%d %s\n", (unsigned long long)pts[i], rc,
                   rc < 0 ? vg_context_errmsg(f.ctx) : "");
        /* everything the run took is given back */
        assert_true(a1.allocs - a0.allocs == a1.frees - a0.frees);
        if (a1.failures == a0.failures) {
            /* fewer points than the census counted (a thread's timing):
             * nothing failed, so the run must have completed */
            assert_int_equal(rc, 0);
            continue;
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
    printf("%s: %d of %llu fault points in %d steps along the frame path: "
           "%d clean errors, %d absorbed by the ladder\n",
           p->name, n_pts, (unsigned long long)total, c->n_marks, clean_errors,
           absorbed);
    assert_true(total > 10);
    assert_true(clean_errors > 0);
    if (p->count == 1)
        assert_true(absorbed > 0); /* single inference faults are retried */
    /* one past the last point: nothing fails, the run completes */
    vg_context_alloc_stats(f.ctx, &a0);
    vg_context_fail_alloc_run(f.ctx, total + 1, p->count);
    assert_int_equal(run(&f, 0, NULL, &st), 0);
    vg_context_fail_alloc(f.ctx, 0, 0);
    vg_context_alloc_stats(f.ctx, &a1);
    assert_true(a1.failures == a0.failures);
    /* the detector is intact */
    assert_int_equal((int)st.frames, FRAMES);
    teardown(&f);
    free(c);
    free(pts);
}

/* The staged job (three models loaded and unloaded per run, six frames of
 * each of two inputs): once, persistently, or twice in a row. A double
 * failure at a stage-0 inference goes down the ladder and stops only that
 * input: the other input completes. */
static void test_faults_along_the_staged_job(void **state)
{
    const part *p = *state;
    const char *src_root = getenv("VIGIL_SRC");
    int verbose = getenv("VIGIL_FAULTS_VERBOSE") != NULL;
    char cfg[1024], out[64], cal[128], cmd[128];
    census *c;
    uint64_t *pts, total;
    vg_context *ctx;
    vg_settings s;
    vg_job_config job;
    vg_residency_opts ro;
    vg_residency *r;
    vg_staged_stats st;
    vg_alloc_stats a0, a1;

    /* Where each mode of the staged job's sample runs (every mode runs in
     * both builds with VIGIL_FULL_SWEEP, `make faults-full`): once in the
     * sanitizer build, where every failure path is also checked for leaks
     * and bad accesses inside ONNX Runtime and FFmpeg; twice and
     * persistently in the normal build (three model loads per run cost
     * several times more under ASan), where the context's counters check
     * that vigil frees what it took. */
    {
#ifdef VG_SANITIZE
        const int here = p->count == 1;
#else
        const int here = p->count != 1;
#endif
        if (!here && !getenv("VIGIL_FULL_SWEEP")) {
            (void)src_root, (void)verbose;
            skip();
        }
    }
    const char *in[2];
    int n_pts, errors = 0, one_input_stopped = 0;

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
    c = calloc(1, sizeof(*c));
    pts = calloc(MAX_POINTS, sizeof(*pts));
    assert_non_null(c);
    assert_non_null(pts);
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

    census_begin(c, ctx);
    assert_int_equal(
        vg_staged_run(ctx, r, &job, in, 2, out, census_should_stop, c, &st), 0);
    total = census_end(c);
    n_pts = sample(c, total, STAGED_STRIDE, p->count + 7, pts);
    for (int i = 0; i < n_pts; i++) {
        int rc;
        vg_context_alloc_stats(ctx, &a0);
        vg_context_clear_error(ctx);
        vg_context_fail_alloc_run(ctx, pts[i], p->count);
        rc = vg_staged_run(ctx, r, &job, in, 2, out, NULL, NULL, &st);
        vg_context_fail_alloc(ctx, 0, 0);
        vg_context_alloc_stats(ctx, &a1);
        if (verbose)
            printf("N=%llu rc=%d %s\n", (unsigned long long)pts[i], rc,
                   rc < 0 ? vg_context_errmsg(ctx) : "");
        assert_true(a1.allocs - a0.allocs == a1.frees - a0.frees);
        if (a1.failures == a0.failures) {
            assert_int_equal(rc, 0); /* fewer points than the census */
            continue;
        }
        if (rc < 0) {
            assert_true(strlen(vg_context_errmsg(ctx)) > 0);
            errors++;
        }
        if (rc == VG_ENOMEM && st.input[0].end_code == VG_ENOMEM &&
            st.input[1].end_code == 0 && st.input[1].frames_used == 2)
            one_input_stopped++;
    }
    printf("%s: %d of %llu fault points in %d steps along the staged job: "
           "%d clean errors, %d faults that stopped one input only\n",
           p->name, n_pts, (unsigned long long)total, c->n_marks, errors,
           one_input_stopped);
    assert_true(total > 20);
    assert_true(errors > 0);
    if (p->count == 2)
        assert_true(one_input_stopped > 0);
    /* one past the last point: nothing fails, the job completes */
    vg_context_alloc_stats(ctx, &a0);
    vg_context_fail_alloc_run(ctx, total + 1, p->count);
    assert_int_equal(vg_staged_run(ctx, r, &job, in, 2, out, NULL, NULL, &st),
                     0);
    vg_context_fail_alloc(ctx, 0, 0);
    vg_context_alloc_stats(ctx, &a1);
    assert_true(a1.failures == a0.failures);
    vg_residency_destroy(&r);
    vg_context_destroy(&ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", out);
    free(c);
    free(pts);
}

/* With an argument, runs that part only (one ctest test each). */
int main(int argc, char **argv)
{
    struct CMUnitTest tests[sizeof(parts) / sizeof(parts[0])];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (argc > 1 && strcmp(argv[1], parts[i].name) != 0)
            continue;
        memset(&tests[n], 0, sizeof(tests[n]));
        tests[n].name = parts[i].name;
        tests[n].test_func = strncmp(parts[i].name, "cctv", 4) == 0
                                 ? test_faults_along_the_frame_path
                                 : test_faults_along_the_staged_job;
        tests[n].initial_state = (void *)&parts[i];
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "%s: no part named %s\n", argv[0], argv[1]);
        return 2;
    }
    return _cmocka_run_group_tests("test_run_faults", tests, n, NULL, NULL);
}
