/* Tests of vg_residency: measurement and calibration, admission, eviction
 * order, policies, sharing, the out-of-memory ladder and fault injection
 * along a model load and an inference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "models/model_gen.h"
#include "vigil/residency.h"

#define MIB (1024ull * 1024ull)

typedef struct fixture {
    model_dir dir;
    char w[3][512];  /* weights models of 8, 3 and 5 MiB, dynamic batch */
    char calib[512]; /* calibration file of the test */
    char nanodet[512];
    vg_context *ctx;
    double clock;      /* fake time, seconds */
    int ort_allocator; /* residency option of the next make() */
} fixture;

static double fake_now(void *user)
{
    return ((fixture *)user)->clock;
}

static int group_setup(void **state)
{
    static fixture fx; /* test-local; cmocka state */
    static const double mib[3] = {8, 3, 5};
    const char *cache = getenv("VIGIL_CACHE");
    char args[1200];
    memset(&fx, 0, sizeof(fx));
    if (model_dir_create(&fx.dir) != 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "w%d.onnx", i);
        model_path(&fx.dir, name, fx.w[i], sizeof(fx.w[i]));
        snprintf(args, sizeof(args), "weights '%s' --mib %g", fx.w[i], mib[i]);
        if (model_make(args) != 0)
            return -1;
    }
    model_path(&fx.dir, "calibration.tsv", fx.calib, sizeof(fx.calib));
    snprintf(fx.nanodet, sizeof(fx.nanodet), "%s/models/nanodet.onnx",
             cache && cache[0] ? cache : "/nonexistent");
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
    unlink(fx->calib);
    fx->clock = 1000.0;
    fx->ort_allocator = 0;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    vg_context_fail_alloc(fx->ctx, 0, 0);
    vg_context_alloc_stats(fx->ctx, &st);
    vg_context_destroy(&fx->ctx);
    return st.allocs == st.frees ? 0 : -1;
}

static void decl(fixture *fx, vg_model_decl *d, const char *name,
                 const char *path, int policy)
{
    vg_model_decl_default(d);
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->path, sizeof(d->path), "%s", path);
    d->policy = policy;
    d->kind = VG_MODEL_OTHER;
    d->session.graph_opt = 0; /* keep the weights: no constant folding */
    d->session.intra_threads = 1;
    (void)fx;
}

static vg_residency *make(fixture *fx, uint64_t host_budget, double margin)
{
    vg_residency_opts o;
    vg_residency *r = NULL;
    vg_residency_opts_default(&o);
    o.budget.host_bytes = host_budget;
    o.budget.margin = margin;
    snprintf(o.budget.calibration, sizeof(o.budget.calibration), "%s",
             fx->calib);
    o.now = fake_now;
    o.now_user = fx;
    o.ort_allocator = fx->ort_allocator;
    assert_int_equal(vg_residency_create(fx->ctx, &o, &r), 0);
    return r;
}

/* Writes a calibration line for d with the given footprint. */
static void calibrate(fixture *fx, const vg_model_decl *d, uint64_t weights,
                      uint64_t work)
{
    char key[2048];
    vg_calibration c;
    memset(&c, 0, sizeof(c));
    c.weights_bytes = weights;
    c.work_bytes = work;
    c.batch = d->batch;
    c.load_ms = 10;
    snprintf(c.provider, sizeof(c.provider), "cpu");
    assert_int_equal(vg_calibration_key(d, key, sizeof(key)), 0);
    assert_int_equal(vg_calibration_store(fx->ctx, fx->calib, key, &c), 0);
}

static vg_model_stats stats_of(vg_residency *r, int i)
{
    vg_model_stats s;
    assert_int_equal(vg_residency_model_stats(r, i, &s), 0);
    return s;
}

/* Runs the acquired session once on zeros at batch 1. */
static int run_once(vg_session *s)
{
    static const int64_t dims[4] = {1, 3, 8, 8};
    float in[192] = {0};
    const float *outs[VG_MAX_OUTPUTS];
    vg_tensor_info ti;
    vg_session_input(s, &ti);
    if (ti.dims[0] != 1)
        vg_session_set_input_shape(s, dims);
    return vg_session_run(s, in, outs);
}

static void test_parse_bytes(void **state)
{
    uint64_t b;
    (void)state;
    assert_int_equal(vg_parse_bytes("64MiB", &b), 0);
    assert_true(b == 64 * MIB);
    assert_int_equal(vg_parse_bytes("1.5GiB", &b), 0);
    assert_true(b == 1536 * MIB);
    assert_int_equal(vg_parse_bytes("500MB", &b), 0);
    assert_true(b == 500000000ull);
    assert_int_equal(vg_parse_bytes("123", &b), 0);
    assert_true(b == 123);
    assert_int_equal(vg_parse_bytes("2g", &b), 0);
    assert_true(b == 2048 * MIB);
    assert_int_equal(vg_parse_bytes("12XB", &b), VG_EINVAL);
    assert_int_equal(vg_parse_bytes("-1MiB", &b), VG_EINVAL);
    assert_int_equal(vg_parse_bytes("", &b), VG_EINVAL);
}

/* A first load measures the model and writes the calibration file; a second
 * manager reads the footprint back instead of measuring. */
static void test_dry_run_measures_and_calibrates(void **state)
{
    fixture *fx = *state;
    vg_residency *r;
    vg_model_decl d;
    vg_session *s;
    vg_calibration c;
    vg_model_stats ms;
    vg_residency_stats rs;
    char key[2048];

    if (access(fx->nanodet, R_OK) != 0)
        skip();
    r = make(fx, 0, 0.05);
    decl(fx, &d, "detector", fx->nanodet, VG_POLICY_KEEP_ALIVE);
    d.session.graph_opt = 3;
    assert_int_equal(vg_residency_add(r, &d), 0);
    assert_int_equal(vg_residency_acquire(r, "detector", &s), 0);
    assert_non_null(s);
    ms = stats_of(r, 0);
    assert_int_equal(ms.state, VG_MODEL_RESIDENT);
    assert_int_equal(ms.calibrated, 1);
    assert_int_equal(vg_calibration_key(&d, key, sizeof(key)), 0);
    assert_int_equal(vg_calibration_lookup(fx->ctx, fx->calib, key, &c), 0);
    /* 15 MB of weights on file: the session holds at least 10 MiB of them;
     * the warm-up at 416x416 needs several MiB of activations. */
    assert_true(c.weights_bytes > 10 * MIB);
    assert_true(c.work_bytes > 2 * MIB);
    assert_true(ms.host_bytes == c.weights_bytes + c.work_bytes);
    vg_residency_stats_get(r, &rs);
    assert_true(rs.resident_host_bytes == ms.host_bytes);
    vg_residency_release(r, "detector");
    /* Unloading gives the weights back to the system. */
    assert_int_equal(vg_residency_unload(r, "detector"), 0);
    ms = stats_of(r, 0);
    assert_int_equal(ms.state, VG_MODEL_UNLOADED);
#ifndef VG_SANITIZE
    /* (ASan's quarantine keeps freed memory: RSS says nothing there.) */
    assert_true(ms.not_returned_bytes == 0);
    vg_residency_stats_get(r, &rs);
    assert_true(rs.unload_leaks == 0);
#endif
    vg_residency_stats_get(r, &rs);
    assert_true(rs.resident_host_bytes == 0);
    vg_residency_destroy(&r);

    /* The calibration is now what a new manager charges. */
    c.weights_bytes = 77 * MIB;
    c.work_bytes = 3 * MIB;
    assert_int_equal(vg_calibration_store(fx->ctx, fx->calib, key, &c), 0);
    r = make(fx, 0, 0.05);
    assert_int_equal(vg_residency_add(r, &d), 0);
    assert_int_equal(vg_residency_acquire(r, "detector", &s), 0);
    ms = stats_of(r, 0);
    assert_true(ms.host_bytes == 80 * MIB);
    vg_residency_release(r, "detector");
    vg_residency_destroy(&r);
}

/* A model the budget cannot hold is refused before anything is allocated. */
static void test_admission_refuses_before_allocating(void **state)
{
    fixture *fx = *state;
    vg_residency *r = make(fx, 20 * MIB, 0.0);
    vg_model_decl d;
    vg_session *s = (vg_session *)1;
    vg_residency_stats rs;
    vg_alloc_stats a0, a1;

    decl(fx, &d, "big", fx->w[0], VG_POLICY_KEEP_ALIVE);
    calibrate(fx, &d, 30 * MIB, 2 * MIB);
    assert_int_equal(vg_residency_add(r, &d), 0);
    vg_context_alloc_stats(fx->ctx, &a0);
    assert_int_equal(vg_residency_acquire(r, "big", &s), VG_ENOMEM);
    vg_context_alloc_stats(fx->ctx, &a1);
    assert_null(s);
    assert_true(a1.allocs == a0.allocs); /* not a byte taken */
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "big"));
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "calibrated"));
    assert_int_equal(stats_of(r, 0).state, VG_MODEL_FAILED);
    vg_residency_stats_get(r, &rs);
    assert_true(rs.refusals == 1 && rs.loads == 0);
    vg_residency_destroy(&r);
}

/* The victim is chosen by bytes freed and idle time: with equal reload
 * costs, the larger model idle longer goes; a recently used one stays. */
static void test_eviction_prefers_large_and_idle(void **state)
{
    fixture *fx = *state;
    vg_residency *r = make(fx, 45 * MIB, 0.0);
    vg_model_decl a, b, c;
    vg_session *s;

    decl(fx, &a, "a", fx->w[0], VG_POLICY_KEEP_ALIVE);
    decl(fx, &b, "b", fx->w[1], VG_POLICY_KEEP_ALIVE);
    decl(fx, &c, "c", fx->w[2], VG_POLICY_KEEP_ALIVE);
    calibrate(fx, &a, 30 * MIB, 0);
    calibrate(fx, &b, 10 * MIB, 0);
    calibrate(fx, &c, 20 * MIB, 0);
    assert_int_equal(vg_residency_add(r, &a), 0);
    assert_int_equal(vg_residency_add(r, &b), 0);
    assert_int_equal(vg_residency_add(r, &c), 0);

    assert_int_equal(vg_residency_acquire(r, "a", &s), 0);
    vg_residency_release(r, "a"); /* a idle since 1000 */
    fx->clock = 1050;
    assert_int_equal(vg_residency_acquire(r, "b", &s), 0);
    vg_residency_release(r, "b"); /* b idle since 1050 */
    fx->clock = 1100;
    /* c (20) needs 15 more than the 5 left: a scores 30*101, b 10*51. */
    assert_int_equal(vg_residency_acquire(r, "c", &s), 0);
    assert_int_equal(stats_of(r, 0).state, VG_MODEL_UNLOADED);
    assert_int_equal((int)stats_of(r, 0).evictions, 1);
    assert_int_equal(stats_of(r, 1).state, VG_MODEL_RESIDENT);
    vg_residency_release(r, "c");

    /* Now a is wanted again (30): resident b 10 + c 20; b was idle 50 s
     * longer but c is twice its size and idle 0: 10*(1+60)=610 vs
     * 20*(1+10)=220 at t=1110 -> b goes first, then c is still needed. */
    fx->clock = 1110;
    assert_int_equal(vg_residency_acquire(r, "a", &s), 0);
    assert_int_equal((int)stats_of(r, 1).evictions, 1);
    assert_int_equal(stats_of(r, 2).state, VG_MODEL_UNLOADED);
    vg_residency_release(r, "a");
    vg_residency_destroy(&r);
}

/* Pinned and in-use models are never victims: the load is refused. */
static void test_pinned_and_busy_are_not_evicted(void **state)
{
    fixture *fx = *state;
    vg_residency *r = make(fx, 55 * MIB, 0.0);
    vg_model_decl a, b, c;
    vg_session *s;

    decl(fx, &a, "pinned", fx->w[0], VG_POLICY_PINNED);
    decl(fx, &b, "busy", fx->w[1], VG_POLICY_KEEP_ALIVE);
    decl(fx, &c, "third", fx->w[2], VG_POLICY_KEEP_ALIVE);
    calibrate(fx, &a, 30 * MIB, 0);
    calibrate(fx, &b, 10 * MIB, 0);
    calibrate(fx, &c, 20 * MIB, 0);
    assert_int_equal(vg_residency_add(r, &a), 0);
    assert_int_equal(vg_residency_add(r, &b), 0);
    assert_int_equal(vg_residency_add(r, &c), 0);
    assert_int_equal(vg_residency_acquire(r, "pinned", &s), 0);
    vg_residency_release(r, "pinned");
    assert_int_equal(vg_residency_acquire(r, "busy", &s), 0); /* held */
    fx->clock += 1000;
    assert_int_equal(vg_residency_acquire(r, "third", &s), VG_ENOMEM);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "pinned"));
    assert_int_equal(stats_of(r, 0).state, VG_MODEL_RESIDENT);
    assert_int_equal(stats_of(r, 1).state, VG_MODEL_RESIDENT);
    assert_int_equal(vg_residency_unload(r, "busy"), VG_EBUSY);
    vg_residency_release(r, "busy");
    /* Released, busy can go now and third fits. */
    assert_int_equal(vg_residency_acquire(r, "third", &s), 0);
    assert_int_equal(stats_of(r, 1).state, VG_MODEL_UNLOADED);
    vg_residency_release(r, "third");
    vg_residency_destroy(&r);
}

static void test_unload_after_stage_and_keep_alive(void **state)
{
    fixture *fx = *state;
    vg_residency *r = make(fx, 0, 0.05);
    vg_model_decl a, b;
    vg_session *s;

    decl(fx, &a, "stage", fx->w[1], VG_POLICY_UNLOAD_AFTER_STAGE);
    decl(fx, &b, "idle", fx->w[2], VG_POLICY_KEEP_ALIVE);
    b.keep_alive_s = 30;
    assert_int_equal(vg_residency_add(r, &a), 0);
    assert_int_equal(vg_residency_add(r, &b), 0);

    assert_int_equal(vg_residency_acquire(r, "stage", &s), 0);
    assert_int_equal(run_once(s), 0);
    assert_int_equal(stats_of(r, 0).state, VG_MODEL_RESIDENT);
    vg_residency_release(r, "stage");
    assert_int_equal(stats_of(r, 0).state, VG_MODEL_UNLOADED);
    assert_int_equal((int)stats_of(r, 0).unloads, 1);

    assert_int_equal(vg_residency_acquire(r, "idle", &s), 0);
    vg_residency_release(r, "idle");
    fx->clock += 29;
    assert_int_equal(vg_residency_tick(r), 0);
    assert_int_equal(stats_of(r, 1).state, VG_MODEL_RESIDENT);
    fx->clock += 2;
    assert_int_equal(vg_residency_tick(r), 1);
    assert_int_equal(stats_of(r, 1).state, VG_MODEL_UNLOADED);
    /* Used again, it comes back (second load). */
    assert_int_equal(vg_residency_acquire(r, "idle", &s), 0);
    assert_int_equal((int)stats_of(r, 1).loads, 2);
    vg_residency_release(r, "idle");
    vg_residency_destroy(&r);
}

/* Two names for the same file and options share one loaded instance. */
static void test_same_model_is_shared(void **state)
{
    fixture *fx = *state;
    vg_residency *r = make(fx, 0, 0.05);
    vg_model_decl a, b, c;
    vg_session *s1, *s2, *s3;
    vg_residency_stats rs;

    decl(fx, &a, "cam1", fx->w[1], VG_POLICY_KEEP_ALIVE);
    decl(fx, &b, "cam2", fx->w[1], VG_POLICY_KEEP_ALIVE);
    decl(fx, &c, "cam3", fx->w[1], VG_POLICY_KEEP_ALIVE);
    c.session.intra_threads = 2; /* other options: its own instance */
    assert_int_equal(vg_residency_add(r, &a), 0);
    assert_int_equal(vg_residency_add(r, &b), 0);
    assert_int_equal(vg_residency_add(r, &c), 0);
    assert_int_equal(vg_residency_add(r, &a), VG_EEXIST);
    assert_int_equal(vg_residency_acquire(r, "cam1", &s1), 0);
    assert_int_equal(vg_residency_acquire(r, "cam2", &s2), 0);
    assert_int_equal(vg_residency_acquire(r, "cam3", &s3), 0);
    assert_ptr_equal(s1, s2);
    assert_ptr_not_equal(s1, s3);
    assert_int_equal(stats_of(r, 1).shared_with, 0);
    assert_int_equal(stats_of(r, 0).users, 2);
    vg_residency_stats_get(r, &rs);
    assert_true(rs.loads == 2);
    vg_residency_release(r, "cam1");
    vg_residency_release(r, "cam2");
    vg_residency_release(r, "cam3");
    vg_residency_destroy(&r);
}

/* Fault injection along a whole load: for every N, the Nth allocation
 * (vigil's own or ONNX Runtime's, through vigil's allocator) fails once.
 * The ladder's release-and-retry turns each into a correct load; with every
 * allocation from the Nth on failing, the load ends in a clean VG_ENOMEM.
 * Nothing leaks (the teardown and ASan check). */
static void fault_injection_along_load(fixture *fx)
{
    uint64_t n;
    int reached_end = 0;

    for (n = 1; n < 400 && !reached_end; n++) {
        vg_residency *r = make(fx, 0, 0.05);
        vg_model_decl d;
        vg_session *s = NULL;
        vg_residency_stats rs;
        vg_alloc_stats a0, a1;
        int rc;

        decl(fx, &d, "m", fx->w[1], VG_POLICY_KEEP_ALIVE);
        assert_int_equal(vg_residency_add(r, &d), 0);
        vg_context_alloc_stats(fx->ctx, &a0);
        vg_context_fail_alloc(fx->ctx, n, 0);
        rc = vg_residency_acquire(r, "m", &s);
        vg_context_alloc_stats(fx->ctx, &a1);
        vg_context_fail_alloc(fx->ctx, 0, 0);
        assert_int_equal(rc, 0);
        assert_int_equal(run_once(s), 0);
        vg_residency_stats_get(r, &rs);
        if (a1.failures == a0.failures)
            reached_end = 1; /* the load makes fewer than n allocations */
        else
            assert_true(rs.ladder_retries == 1);
        vg_residency_release(r, "m");
        vg_residency_destroy(&r);

        /* Persistent failure from the Nth on: a clean refusal. */
        if (!reached_end) {
            r = make(fx, 0, 0.05);
            assert_int_equal(vg_residency_add(r, &d), 0);
            vg_context_fail_alloc(fx->ctx, n, 1);
            rc = vg_residency_acquire(r, "m", &s);
            vg_context_fail_alloc(fx->ctx, 0, 0);
            assert_int_equal(rc, VG_ENOMEM);
            assert_null(s);
            assert_true(strlen(vg_context_errmsg(fx->ctx)) > 0);
            assert_int_equal(stats_of(r, 0).state, VG_MODEL_FAILED);
            vg_residency_destroy(&r);
        }
        unlink(fx->calib); /* measure again next time */
    }
    assert_true(reached_end);
    assert_true(n > 5); /* the load did pass several fault points */
}

/* Both with ONNX Runtime's allocations reachable (vigil's allocator) and
 * with its arena (vigil's allocations and the inference fault point). */
static void test_fault_injection_along_load(void **state)
{
    fixture *fx = *state;
    fx->ort_allocator = 1;
    fault_injection_along_load(fx);
    fx->ort_allocator = 0;
    fault_injection_along_load(fx);
}

/* Two failures in a row get past the retry; the ladder then halves the
 * batch of a dynamic-batch model, and the model loads at batch 2. */
static void test_ladder_halves_the_batch(void **state)
{
    fixture *fx = *state;
    vg_residency *r = make(fx, 0, 0.05);
    vg_model_decl d;
    vg_session *s;
    vg_residency_stats rs;
    vg_tensor_info ti;

    decl(fx, &d, "batched", fx->w[1], VG_POLICY_KEEP_ALIVE);
    d.batch = 4;
    assert_int_equal(vg_residency_add(r, &d), 0);
    vg_context_fail_alloc_run(fx->ctx, 1, 2);
    assert_int_equal(vg_residency_acquire(r, "batched", &s), 0);
    vg_context_fail_alloc(fx->ctx, 0, 0);
    vg_residency_stats_get(r, &rs);
    assert_true(rs.ladder_retries == 1);
    assert_true(rs.ladder_smaller_batch == 1);
    assert_int_equal(vg_residency_batch(r, "batched"), 2);
    vg_session_input(s, &ti);
    assert_true(ti.dims[0] == 2);
    vg_residency_release(r, "batched");
    vg_residency_destroy(&r);
}

/* The frame path: an inference that runs out of memory is retried once
 * after releasing idle models; when it keeps failing on the CPU the stream
 * is told to stop. Fault injection at every allocation along a frame. */
static void test_frame_path_recovery(void **state)
{
    fixture *fx = *state;
    vg_residency *r = make(fx, 0, 0.05);
    vg_model_decl a, idle;
    vg_session *s, *si;
    vg_residency_stats rs;

    decl(fx, &a, "det", fx->w[1], VG_POLICY_PINNED);
    decl(fx, &idle, "idle", fx->w[2], VG_POLICY_KEEP_ALIVE);
    assert_int_equal(vg_residency_add(r, &a), 0);
    assert_int_equal(vg_residency_add(r, &idle), 0);
    assert_int_equal(vg_residency_acquire(r, "idle", &si), 0);
    vg_residency_release(r, "idle");
    assert_int_equal(vg_residency_acquire(r, "det", &s), 0);
    assert_int_equal(run_once(s), 0);

    /* One failure: retry after releasing the idle model, then success. */
    vg_context_fail_alloc(fx->ctx, 1, 0);
    assert_int_equal(run_once(s), VG_ENOMEM);
    assert_int_equal(vg_residency_recover(r, "det", &s), 0);
    assert_int_equal(stats_of(r, 1).state, VG_MODEL_UNLOADED);
    assert_int_equal(run_once(s), 0);
    vg_residency_recovered(r, "det");

    /* It keeps failing: the second report on the CPU gives up. */
    vg_context_fail_alloc(fx->ctx, 1, 1);
    assert_int_equal(run_once(s), VG_ENOMEM);
    assert_int_equal(vg_residency_recover(r, "det", &s), 0);
    assert_int_equal(run_once(s), VG_ENOMEM);
    assert_int_equal(vg_residency_recover(r, "det", &s), VG_ENOMEM);
    vg_context_fail_alloc(fx->ctx, 0, 0);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "stopping"));
    vg_residency_stats_get(r, &rs);
    assert_true(rs.ladder_retries == 2);
    assert_true(rs.ladder_gave_up == 1);
    /* The model itself is intact. */
    assert_int_equal(run_once(s), 0);
    vg_residency_release(r, "det");
    vg_residency_destroy(&r);
}

/* The calibration file is bounded and drops lines that cannot match. */
static void test_calibration_file_is_bounded(void **state)
{
    fixture *fx = *state;
    vg_calibration c, got;
    char key[64], line[4096];
    FILE *f;
    int lines = 0, stale = 0;

    memset(&c, 0, sizeof(c));
    c.weights_bytes = 1;
    assert_int_equal(vg_calibration_store(fx->ctx, fx->calib,
                                          "v2|/nonexistent/m.onnx|1|2|cpu", &c),
                     0);
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof(key), "runtime:test%d", i);
        c.weights_bytes = (uint64_t)i;
        assert_int_equal(vg_calibration_store(fx->ctx, fx->calib, key, &c), 0);
    }
    f = fopen(fx->calib, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        lines += line[0] != '#';
        stale += strstr(line, "/nonexistent/") != NULL;
    }
    fclose(f);
    assert_true(lines <= 512);
    assert_int_equal(stale, 0);
    /* the newest are kept, the oldest went */
    assert_int_equal(
        vg_calibration_lookup(fx->ctx, fx->calib, "runtime:test599", &got), 0);
    assert_true(got.weights_bytes == 599);
    assert_int_equal(
        vg_calibration_lookup(fx->ctx, fx->calib, "runtime:test0", &got),
        VG_ENOENT);
}

static void test_bad_declarations(void **state)
{
    fixture *fx = *state;
    vg_residency *r = make(fx, 0, 0.05);
    vg_model_decl d;
    vg_session *s;
    vg_residency_opts o;
    vg_residency *bad = (vg_residency *)1;

    decl(fx, &d, "", fx->w[1], VG_POLICY_KEEP_ALIVE);
    assert_int_equal(vg_residency_add(r, &d), VG_EINVAL);
    decl(fx, &d, "missing", "/nonexistent/model.onnx", VG_POLICY_KEEP_ALIVE);
    assert_int_equal(vg_residency_add(r, &d), 0);
    assert_int_equal(vg_residency_acquire(r, "missing", &s), VG_ENOENT);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "/nonexistent"));
    assert_int_equal(vg_residency_acquire(r, "undeclared", &s), VG_ENOENT);
    vg_residency_destroy(&r);
    vg_residency_opts_default(&o);
    o.budget.margin = 1.5;
    assert_int_equal(vg_residency_create(fx->ctx, &o, &bad), VG_EINVAL);
    assert_null(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_bytes),
        cmocka_unit_test_setup_teardown(test_dry_run_measures_and_calibrates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_admission_refuses_before_allocating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_prefers_large_and_idle,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned_and_busy_are_not_evicted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_after_stage_and_keep_alive,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_model_is_shared, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fault_injection_along_load, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ladder_halves_the_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_frame_path_recovery, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_calibration_file_is_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_declarations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
