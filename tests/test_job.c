/*
 * vg_job: several cameras at once with one shared detector. Cameras are
 * added and removed while the job runs; bad additions are refused with one
 * line and leave the running cameras alone; every camera's events land in
 * the one event store, named by camera; a stop of the whole job ends every
 * camera with its outputs finished.
 *
 * Synchronisation is on the job's own progress callback (a condition
 * variable signalled per frame), never on sleeps.
 */
/* ctest-cost: 80 */
/* ctest-timeout: 600 */
#include <pthread.h>
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
#include <sqlite3.h>

#include "support/io_fixtures.h"
#include "vigil/jobrun.h"
#include "vigil/residency.h"
#include "vigil/rules.h"

typedef struct fx {
    vg_context *ctx;
    vg_residency *res;
    vg_rules_config rules;
    char video[1024];
    char model[1024];
    char out[64];
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int64_t frames[VG_JOB_MAX_STREAMS];
    int n_watch;           /* streams the allocation window watches */
    uint64_t allocs_at[2]; /* vigil's allocations when every watched
                              stream passed 20, then 50 frames */
    int allocs_taken[2];
} fx;

static void on_progress(void *user, int stream, int64_t frames)
{
    fx *f = user;
    pthread_mutex_lock(&f->mu);
    f->frames[stream] = frames;
    if (f->n_watch > 0) {
        int64_t least = f->frames[0];
        for (int i = 1; i < f->n_watch; i++)
            if (f->frames[i] < least)
                least = f->frames[i];
        for (int k = 0; k < 2; k++)
            if (!f->allocs_taken[k] && least >= (k ? 50 : 20)) {
                vg_alloc_stats a;
                vg_context_alloc_stats(f->ctx, &a);
                f->allocs_at[k] = a.allocs;
                f->allocs_taken[k] = 1;
            }
    }
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

/* Waits until stream index has done at least n frames or has ended. */
static void wait_frames(fx *f, vg_job *j, int index, int64_t n)
{
    for (;;) {
        vg_job_stream_status st;
        struct timespec ts;
        assert_int_equal(vg_job_stream_get(j, index, &st), 0);
        if (st.state == VG_JOB_STREAM_ENDED)
            return;
        pthread_mutex_lock(&f->mu);
        if (f->frames[index] >= n) {
            pthread_mutex_unlock(&f->mu);
            return;
        }
        /* a bounded wait, then the state is looked at again (a stream that
         * ended signals nothing) */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&f->cond, &f->mu, &ts);
        pthread_mutex_unlock(&f->mu);
    }
}

static int setup(void **state)
{
    const char *cache = getenv("VIGIL_CACHE");
    const char *src_root = getenv("VIGIL_SRC");
    char config[1024], cal[160];
    vg_residency_opts ro;
    vg_model_decl d;
    fx *f = calloc(1, sizeof(*f));

    *state = f;
    if (!f || !cache || !src_root ||
        !io_cache_video(f->video, sizeof(f->video), "vtest.avi"))
        return 0;
    snprintf(f->model, sizeof(f->model), "%s/models/nanodet.onnx", cache);
    if (access(f->model, R_OK) != 0) {
        f->model[0] = '\0';
        return 0;
    }
    snprintf(config, sizeof(config), "%s/examples/site.yaml", src_root);
    snprintf(f->out, sizeof(f->out), "/tmp/vigil-job-XXXXXX");
    assert_non_null(mkdtemp(f->out));
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    assert_int_equal(vg_context_create(&f->ctx), 0);
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    vg_residency_opts_default(&ro);
    snprintf(cal, sizeof(cal), "%s/calibration.tsv", f->out);
    snprintf(ro.budget.calibration, sizeof(ro.budget.calibration), "%s", cal);
    assert_int_equal(vg_residency_create(f->ctx, &ro, &f->res), 0);
    vg_model_decl_default(&d);
    snprintf(d.name, sizeof(d.name), "detector");
    snprintf(d.path, sizeof(d.path), "%s", f->model);
    d.policy = VG_POLICY_PINNED;
    d.session.intra_threads = 2;
    d.session.spin = 0;
    assert_int_equal(vg_residency_add(f->res, &d), 0);
    assert_int_equal(vg_rules_load(f->ctx, config, &f->rules), 0);
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    if (f && f->ctx) {
        vg_rules_config_free(f->ctx, &f->rules);
        vg_residency_destroy(&f->res);
        vg_context_destroy(&f->ctx);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->out);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", f->out);
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->mu);
    }
    free(f);
    return 0;
}

static vg_job *make_job(fx *f, const char *sub, int64_t max_frames)
{
    vg_job_opts o;
    vg_job *j = NULL;
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/%s", f->out, sub);
    vg_job_opts_default(&o);
    o.out_dir = dir;
    o.rules = &f->rules;
    o.residency = f->res;
    o.model_name = "detector";
    o.model_path = f->model;
    o.detector.classes_keep[0] = 0;
    o.detector.n_classes_keep = 1;
    o.run.max_frames = max_frames;
    o.run.write_video = 1;
    o.run.video.crf = 35;
    o.progress = on_progress;
    o.user = f;
    memset(f->frames, 0, sizeof(f->frames));
    assert_int_equal(vg_job_create(f->ctx, &o, &j), 0);
    return j;
}

static int add(vg_job *j, const char *input, const char *name, int *index)
{
    vg_job_stream_opts so;
    memset(&so, 0, sizeof(so));
    so.input = input;
    so.name = name;
    return vg_job_add_stream(j, &so, index);
}

static int file_size_ok(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* events per camera in DIR/events.db */
static int64_t events_of(const char *dir, const char *camera)
{
    char p[512];
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;
    snprintf(p, sizeof(p), "%s/events.db", dir);
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, "select count(*) from events where stream = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* Two cameras at once: both run to their end through the one detector,
 * each writes under its own directory, the events of both are in the one
 * store and name their camera. */
static void test_two_cameras(void **state)
{
    fx *f = *state;
    vg_job *j;
    vg_job_stream_status a, b;
    vg_job_stats js;
    char dir[256];

    if (!f->model[0])
        skip();
    j = make_job(f, "two", 60);
    f->n_watch = 2;
    assert_int_equal(add(j, f->video, "north", NULL), 0);
    assert_int_equal(add(j, f->video, "south", NULL), 0);
    {
        /* a camera with its own settings: fewer frames, no video */
        vg_job_stream_opts so;
        vg_run_opts own;
        vg_run_opts_default(&own);
        own.max_frames = 15;
        own.write_video = 0;
        memset(&so, 0, sizeof(so));
        so.input = f->video;
        so.name = "short";
        so.run = &own;
        assert_int_equal(vg_job_add_stream(j, &so, NULL), 0);
    }
    assert_int_equal(vg_job_stream_count(j), 3);
    assert_int_equal(vg_job_start(j), 0);
    assert_int_equal(vg_job_start(j), VG_EBUSY);
    vg_job_wait(j);
    assert_int_equal(vg_job_stop(j), 0);
    assert_int_equal(vg_job_stream_get(j, 0, &a), 0);
    assert_int_equal(vg_job_stream_get(j, 1, &b), 0);
    assert_int_equal(a.state, VG_JOB_STREAM_ENDED);
    assert_int_equal(b.state, VG_JOB_STREAM_ENDED);
    assert_int_equal(a.end_code, 0);
    assert_int_equal(a.stats.frames, 60);
    assert_int_equal(b.stats.frames, 60);
    /* the same frames give the same tracks and events */
    assert_int_equal(a.stats.detections, b.stats.detections);
    assert_int_equal(a.stats.events, b.stats.events);
    assert_true(a.stats.events > 0);
    vg_job_stats_get(j, &js);
    assert_int_equal(js.batcher.requests, 135);
    /* steady state: frames 20..50 of both cameras took nothing from vigil's
     * heap (streams' threads, the batcher and the shared store; child
     * contexts count in their root) */
    assert_true(f->allocs_taken[0] && f->allocs_taken[1]);
    assert_int_equal(f->allocs_at[1], f->allocs_at[0]);
    {
        vg_job_stream_status c;
        assert_int_equal(vg_job_stream_get(j, 2, &c), 0);
        assert_int_equal(c.stats.frames, 15);
        assert_int_equal(c.stats.video_frames, 0);
        assert_int_equal(js.store.written,
                         (uint64_t)(a.stats.events * 2 + c.stats.events));
    }
    snprintf(dir, sizeof(dir), "%s/two", f->out);
    assert_true(file_size_ok(dir, "north/tracks.txt"));
    assert_true(file_size_ok(dir, "south/tracks.txt"));
    assert_true(file_size_ok(dir, "north/annotated.mp4"));
    assert_false(file_size_ok(dir, "short/annotated.mp4"));
    assert_true(file_size_ok(dir, "short/tracks.txt"));
    assert_true(file_size_ok(dir, "events.jsonl"));
    vg_job_destroy(&j);
    assert_int_equal(events_of(dir, "north"), a.stats.events);
    assert_int_equal(events_of(dir, "south"), b.stats.events);
}

/* Bad additions: one line each, nothing changes, the running camera goes
 * on to its end. */
static void test_bad_additions(void **state)
{
    fx *f = *state;
    static const struct {
        const char *input, *name;
        int code;
        const char *words;
    } bad[] = {
        {"rtsp://", "c1", VG_EINVAL, "no host"},
        {"rtsp:///live", "c2", VG_EINVAL, "no host"},
        {"gopher://cam/live", "c3", VG_EINVAL, "unsupported scheme"},
        {"rtsp://cam one/live", "c4", VG_EINVAL, "malformed URL"},
        {"/nonexistent/cam.mp4", "c5", VG_ENOENT, "/nonexistent/cam.mp4"},
        {"", "c6", VG_EINVAL, "empty"},
        {NULL, "front", VG_EEXIST, "already"}, /* duplicate name */
        {NULL, "bad name!", VG_EINVAL, "camera name"},
    };
    vg_job *j;
    vg_job_stream_status st;
    int index = 99;

    if (!f->model[0])
        skip();
    j = make_job(f, "bad", 40);
    assert_int_equal(add(j, f->video, "front", NULL), 0);
    assert_int_equal(vg_job_start(j), 0);
    wait_frames(f, j, 0, 2);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *in = bad[i].input ? bad[i].input : f->video;
        int rc = add(j, in, bad[i].name, &index);
        const char *msg = vg_context_errmsg(f->ctx);
        assert_int_equal(rc, bad[i].code);
        assert_int_equal(index, -1);
        assert_non_null(strstr(msg, bad[i].words));
        assert_null(strchr(msg, '\n'));
        assert_int_equal(vg_job_stream_count(j), 1);
    }
    /* removing a camera that is not there, or twice */
    assert_int_equal(vg_job_remove_stream(j, "nobody"), VG_ENOENT);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "nobody"));
    vg_job_wait(j);
    assert_int_equal(vg_job_stream_get(j, 0, &st), 0);
    assert_int_equal(st.state, VG_JOB_STREAM_ENDED);
    assert_int_equal(st.end_code, 0);
    assert_int_equal(st.stats.frames, 40);
    assert_int_equal(vg_job_remove_stream(j, "front"), 0);
    assert_int_equal(vg_job_remove_stream(j, "front"), VG_ENOENT);
    assert_int_equal(vg_job_stream_get(j, 0, &st), 0);
    assert_int_equal(st.state, VG_JOB_STREAM_REMOVED);
    assert_int_equal(st.stats.frames, 40);
    vg_job_destroy(&j);
}

/* A camera is added while another runs, then the first is removed: it
 * stops with its outputs finished and its events kept; the second runs on
 * to its end. */
static void test_add_remove_running(void **state)
{
    fx *f = *state;
    vg_job *j;
    vg_job_stream_status st1, st2;
    int i1 = -1, i2 = -1;
    char dir[256];

    if (!f->model[0])
        skip();
    j = make_job(f, "live", 0);
    assert_int_equal(add(j, f->video, "first", &i1), 0);
    assert_int_equal(vg_job_start(j), 0);
    wait_frames(f, j, i1, 5);
    assert_int_equal(add(j, f->video, "second", &i2), 0);
    assert_int_equal(i2, 1);
    wait_frames(f, j, i2, 3);
    assert_int_equal(vg_job_stream_get(j, i1, &st1), 0);
    assert_int_equal(st1.state, VG_JOB_STREAM_RUNNING);
    assert_int_equal(vg_job_remove_stream(j, "first"), 0);
    assert_int_equal(vg_job_stream_get(j, i1, &st1), 0);
    assert_int_equal(st1.state, VG_JOB_STREAM_REMOVED);
    assert_true(st1.stats.frames >= 5);
    assert_true(st1.stats.frames < 795); /* stopped, not run to its end */
    assert_int_equal(st1.stats.stopped, 1);
    snprintf(dir, sizeof(dir), "%s/live", f->out);
    assert_true(file_size_ok(dir, "first/tracks.txt"));
    assert_true(file_size_ok(dir, "first/annotated.mp4"));
    /* the name is free again once removed */
    assert_int_equal(vg_job_stream_get(j, i2, &st2), 0);
    assert_int_equal(st2.state, VG_JOB_STREAM_RUNNING);
    /* the second is stopped with the whole job (a signal would do this) */
    wait_frames(f, j, i2, 10);
    vg_context_request_stop(f->ctx);
    vg_job_wait(j);
    assert_int_equal(vg_job_stop(j), 0);
    vg_context_clear_stop(f->ctx);
    assert_int_equal(vg_job_stream_get(j, i2, &st2), 0);
    assert_int_equal(st2.state, VG_JOB_STREAM_ENDED);
    assert_int_equal(st2.stats.stopped, 1);
    assert_true(st2.stats.frames >= 10);
    assert_true(file_size_ok(dir, "second/annotated.mp4"));
    vg_job_destroy(&j);
    assert_int_equal(events_of(dir, "first"), st1.stats.events);
    assert_int_equal(events_of(dir, "second"), st2.stats.events);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_cameras, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_additions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_remove_running, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
