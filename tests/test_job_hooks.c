/*
 * The job's hooks for vigil serve (include/vigil/jobrun.h): viewers and the
 * latest annotated picture, rules replaced while a camera runs, live
 * figures, and looping file cameras.
 *
 * The detector is a constant model (tests/models/make_models.py const): one
 * person, always at the same place, so one track that stays in one zone;
 * the clip is 1 s of vtest.avi at 384x288, looped, so a camera runs until
 * the test stops it. Synchronisation is on the job's progress callback
 * (a condition variable signalled per frame), never on sleeps.
 */
/* ctest-cost: 30 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "models/model_gen.h"
#include "support/io_fixtures.h"
#include "vigil/jobrun.h"
#include "vigil/overlay.h"
#include "vigil/residency.h"
#include "vigil/rules.h"
#include "vigil/source.h"

#define W 384
#define H 288
#define CLIP_FRAMES 10 /* 1 s at 10 fps */

typedef struct fx {
    vg_context *ctx;
    vg_residency *res;
    model_dir dir;
    char *tmp;
    char clip[512];
    char model[512];
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int64_t frames[VG_JOB_MAX_STREAMS];
} fx;

static fx g_fx; /* built once for the group */

static void on_progress(void *user, int stream, int64_t frames)
{
    fx *f = user;
    pthread_mutex_lock(&f->mu);
    f->frames[stream] = frames;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static int64_t frames_of(fx *f, int index)
{
    int64_t n;
    pthread_mutex_lock(&f->mu);
    n = f->frames[index];
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Waits (bounded: 120 s) until stream index has done at least n frames;
 * fails the test when it ends first. */
static void wait_frames(fx *f, vg_job *j, int index, int64_t n)
{
    for (int waited = 0; waited < 120; waited++) {
        vg_job_stream_status st;
        struct timespec ts;
        pthread_mutex_lock(&f->mu);
        if (f->frames[index] >= n) {
            pthread_mutex_unlock(&f->mu);
            return;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&f->cond, &f->mu, &ts);
        pthread_mutex_unlock(&f->mu);
        assert_int_equal(vg_job_stream_get(j, index, &st), 0);
        if (st.state != VG_JOB_STREAM_RUNNING &&
            st.state != VG_JOB_STREAM_ADDED) {
            fprintf(stderr, "stream ended: %s\n", st.message);
            fail();
        }
    }
    fail_msg("stream %d did not reach %lld frames", index, (long long)n);
}

static int group_setup(void **state)
{
    const char *cache = getenv("VIGIL_CACHE");
    char src[512], args[3000], outs[1000], cal[600];
    float rows[100 * 85];
    vg_residency_opts ro;
    vg_model_decl d;
    fx *f = &g_fx;

    memset(f, 0, sizeof(*f));
    *state = f;
    if (!cache || !io_cache_video(src, sizeof(src), "vtest.avi"))
        return 0;
    f->tmp = io_tmpdir_create();
    if (!f->tmp || model_dir_create(&f->dir) != 0)
        return -1;
    io_path(f->clip, sizeof(f->clip), f->tmp, "clip.avi");
    snprintf(args, sizeof(args),
             "-i '%s' -t 1 -vf scale=%d:%d -c:v mpeg4 -q:v 5 -an '%s'", src, W,
             H, f->clip);
    if (io_ffmpeg(args) != 0)
        return -1;
    /* YOLOv5 rows on a 64x64 input: one person at tensor (32, 32.17) of
     * 8 x 15, i.e. source box x 168..216, y 100..190 (feet at 192, 190) */
    memset(rows, 0, sizeof(rows));
    rows[0] = 32.0f;
    rows[1] = 32.0f + 1.0f / 6.0f;
    rows[2] = 8.0f;
    rows[3] = 15.0f;
    rows[4] = 0.9f;
    rows[5] = 0.9f;
    outs[0] = '\0';
    model_path(&f->dir, "person.onnx", f->model, sizeof(f->model));
    if (model_add_output(&f->dir, outs, sizeof(outs), "output0", "1,100,85",
                         rows, 100 * 85) != 0 ||
        model_make_const(f->model, "1,3,64,64", outs) != 0)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (vg_context_create(&f->ctx) != 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    vg_residency_opts_default(&ro);
    snprintf(cal, sizeof(cal), "%s/calibration.tsv", f->tmp);
    snprintf(ro.budget.calibration, sizeof(ro.budget.calibration), "%s", cal);
    if (vg_residency_create(f->ctx, &ro, &f->res) != 0)
        return -1;
    vg_model_decl_default(&d);
    snprintf(d.name, sizeof(d.name), "detector");
    snprintf(d.path, sizeof(d.path), "%.900s", f->model);
    d.policy = VG_POLICY_PINNED;
    d.session.intra_threads = 1;
    d.session.spin = 0;
    return vg_residency_add(f->res, &d) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    fx *f = *state;
    if (f->ctx) {
        vg_residency_destroy(&f->res);
        vg_context_destroy(&f->ctx);
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->mu);
    }
    model_dir_remove(&f->dir);
    if (f->tmp)
        io_tmpdir_remove(f->tmp);
    return 0;
}

static vg_job *make_job(fx *f, const char *sub, const vg_rules_config *rules)
{
    vg_job_opts o;
    vg_job *j = NULL;
    char dir[1200];
    snprintf(dir, sizeof(dir), "%s/%s", f->tmp, sub);
    vg_job_opts_default(&o);
    o.out_dir = dir;
    o.rules = rules;
    o.residency = f->res;
    o.model_name = "detector";
    o.model_path = f->model;
    o.run.write_video = 0;
    o.run.write_snapshots = 0;
    o.run.events.max_delay_ms = 50;
    o.progress = on_progress;
    o.user = f;
    memset(f->frames, 0, sizeof(f->frames));
    assert_int_equal(vg_job_create(f->ctx, &o, &j), 0);
    return j;
}

static int add_camera(fx *f, vg_job *j, const char *name, int loop,
                      const vg_run_opts *run)
{
    vg_job_stream_opts so;
    int index = -1;
    memset(&so, 0, sizeof(so));
    so.input = f->clip;
    so.name = name;
    so.loop = loop;
    so.run = run;
    assert_int_equal(vg_job_add_stream(j, &so, &index), 0);
    return index;
}

/* A zone around the person's feet, or one reaching outside the picture. */
static void add_zone(vg_rules_config *c, int outside)
{
    vg_zone_def z;
    memset(&z, 0, sizeof(z));
    snprintf(z.name, sizeof(z.name), "door");
    z.kind = VG_ZONE_POLYGON;
    z.units = VG_UNITS_PIXELS;
    z.n_points = 4;
    z.points[0] = (vg_point){150, 150};
    z.points[1] = (vg_point){outside ? 450.0f : 250.0f, 150};
    z.points[2] = (vg_point){outside ? 450.0f : 250.0f, 250};
    z.points[3] = (vg_point){150, 250};
    assert_int_equal(vg_rules_config_add_zone(g_fx.ctx, c, &z), 0);
}

static void add_rule(vg_rules_config *c, const char *name, int kind,
                     double seconds)
{
    vg_rule_def r;
    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "%s", name);
    snprintf(r.zone, sizeof(r.zone), "door");
    r.kind = kind;
    r.seconds = seconds;
    r.cooldown_s = -1; /* the config's: 10 s, longer than any test */
    assert_int_equal(vg_rules_config_add_rule(g_fx.ctx, c, &r), 0);
}

static int64_t events_of_rule(fx *f, const char *sub, const char *rule)
{
    char p[1200];
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;
    snprintf(p, sizeof(p), "%s/%s/events.db", f->tmp, sub);
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, "select count(*) from events where rule = ?", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, rule, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* Whether the picture (full size) shows the person's track box: pixels of
 * its track's colour on the box's left edge (x 168, y 100..190). */
static int has_track_box(const uint8_t *rgb)
{
    uint8_t c[3];
    int hits = 0;
    vg_overlay_track_color(1, c);
    for (int x = 164; x <= 172; x++) {
        const uint8_t *p = rgb + ((size_t)145 * W + (size_t)x) * 3;
        hits += p[0] == c[0] && p[1] == c[1] && p[2] == c[2];
    }
    return hits >= 2;
}

/* Polls frame_get until a picture newer than *seq comes (bounded). */
static void next_picture(fx *f, vg_job *j, int max_width, uint64_t *seq,
                         uint8_t *buf, size_t cap, int *w, int *h)
{
    for (int k = 0; k < 2000; k++) {
        int64_t n = frames_of(f, 0);
        int rc = vg_job_frame_get(j, "cam", max_width, seq, buf, cap, w, h);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1)
            return;
        wait_frames(f, j, 0, n + 1);
    }
    fail_msg("no new picture");
}

/* Watch counts, VG_ENOENT, pictures while watched (newer, increasing
 * sequence numbers, scaled), VG_ERANGE, nothing copied once unwatched. */
static void test_watch_and_latest_frame(void **state)
{
    fx *f = *state;
    size_t cap = (size_t)W * H * 3;
    uint8_t *buf;
    uint64_t seq = 0, seq1, seq_after;
    int w = 0, h = 0, nonzero = 0;
    vg_job *j;

    if (!f->ctx)
        skip();
    buf = malloc(cap);
    assert_non_null(buf);
    j = make_job(f, "watch", NULL);
    assert_int_equal(add_camera(f, j, "cam", 1, NULL), 0);
    assert_int_equal(vg_job_watch(j, "nobody", 1), VG_ENOENT);
    assert_int_equal(vg_job_frame_get(j, "nobody", 0, &seq, buf, cap, &w, &h),
                     VG_ENOENT);
    assert_int_equal(vg_job_start(j), 0);
    wait_frames(f, j, 0, 5);
    /* nobody watches: nothing was copied */
    assert_int_equal(vg_job_frame_get(j, "cam", 0, &seq, buf, cap, &w, &h), 0);
    assert_int_equal(vg_job_watch(j, "cam", 1), 1);
    assert_int_equal(vg_job_watch(j, "cam", 1), 2);
    assert_int_equal(vg_job_watch(j, "cam", -1), 1);

    next_picture(f, j, 0, &seq, buf, cap, &w, &h);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    assert_true(seq >= 1);
    for (size_t i = 0; i < cap; i++)
        nonzero += buf[i] != 0;
    assert_true(nonzero > (int)(cap / 2));
    seq1 = seq;
    next_picture(f, j, 0, &seq, buf, cap, &w, &h);
    assert_true(seq > seq1);
    /* annotated in the slot (no video: the frame itself is not drawn on) */
    assert_true(has_track_box(buf));

    /* scaled down, aspect kept */
    seq1 = 0;
    assert_int_equal(vg_job_frame_get(j, "cam", 100, &seq1, buf, cap, &w, &h),
                     1);
    assert_int_equal(w, 100);
    assert_int_equal(h, 75);
    /* wider than the picture: full size */
    seq1 = 0;
    assert_int_equal(vg_job_frame_get(j, "cam", 2000, &seq1, buf, cap, &w, &h),
                     1);
    assert_int_equal(w, W);
    /* a buffer too small, at full size and scaled */
    seq1 = 0;
    assert_int_equal(vg_job_frame_get(j, "cam", 0, &seq1, buf, cap - 1, &w, &h),
                     VG_ERANGE);
    assert_int_equal(
        vg_job_frame_get(j, "cam", 100, &seq1, buf, 100 * 75 * 3 - 1, &w, &h),
        VG_ERANGE);
    assert_int_equal(seq1, 0);

    /* unwatched: after the frames in flight to the sink thread (at most a
     * queue's depth behind), no more pictures */
    assert_int_equal(vg_job_watch(j, "cam", -1), 0);
    assert_int_equal(vg_job_watch(j, "cam", -1), 0); /* never below 0 */
    wait_frames(f, j, 0, frames_of(f, 0) + 2 * CLIP_FRAMES);
    seq_after = 0;
    assert_int_equal(
        vg_job_frame_get(j, "cam", 0, &seq_after, buf, cap, &w, &h), 1);
    wait_frames(f, j, 0, frames_of(f, 0) + 2 * CLIP_FRAMES);
    assert_int_equal(
        vg_job_frame_get(j, "cam", 0, &seq_after, buf, cap, &w, &h), 0);

    assert_int_equal(vg_job_stop(j), 0);
    vg_job_destroy(&j);
    free(buf);
}

/* The same with the video written: the picture annotated in place for the
 * video is the one copied. */
static void test_latest_frame_with_video(void **state)
{
    fx *f = *state;
    size_t cap = (size_t)W * H * 3;
    uint8_t *buf;
    uint64_t seq = 0;
    int w = 0, h = 0;
    vg_run_opts run;
    vg_job *j;

    if (!f->ctx)
        skip();
    buf = malloc(cap);
    assert_non_null(buf);
    j = make_job(f, "video", NULL);
    vg_run_opts_default(&run);
    run.write_video = 1;
    run.video.crf = 40;
    run.write_snapshots = 0;
    assert_int_equal(add_camera(f, j, "cam", 1, &run), 0);
    assert_int_equal(vg_job_watch(j, "cam", 1), 1);
    assert_int_equal(vg_job_start(j), 0);
    wait_frames(f, j, 0, CLIP_FRAMES);
    next_picture(f, j, 0, &seq, buf, cap, &w, &h);
    assert_true(has_track_box(buf)); /* as drawn for the video */
    next_picture(f, j, 160, &seq, buf, cap, &w, &h);
    assert_int_equal(w, 160);
    assert_int_equal(h, 120);
    assert_int_equal(vg_job_stop(j), 0);
    vg_job_destroy(&j);
    free(buf);
}

/* Rules given before the start are used from the first frame; replaced
 * while running: an unchanged rule keeps its state (its dwell alarm is not
 * raised again), a new rule fires, a changed one starts afresh; a config
 * with a zone outside the picture is refused and the rules in force stay. */
static void test_set_rules_while_running(void **state)
{
    fx *f = *state;
    vg_rules_config r1, r2, r3, bad;
    vg_job_stream_status st;
    vg_job *j;
    int64_t n;

    if (!f->ctx)
        skip();
    vg_rules_config_init(&r1);
    add_zone(&r1, 0);
    add_rule(&r1, "stay", VG_EVENT_DWELL, 0.3);
    vg_rules_config_init(&r2);
    add_zone(&r2, 0);
    add_rule(&r2, "stay", VG_EVENT_DWELL, 0.3); /* unchanged */
    add_rule(&r2, "enter", VG_EVENT_INTRUSION, 0);
    vg_rules_config_init(&r3);
    add_zone(&r3, 0);
    add_rule(&r3, "stay", VG_EVENT_DWELL, 0.5); /* changed */
    add_rule(&r3, "enter", VG_EVENT_INTRUSION, 0);
    vg_rules_config_init(&bad);
    add_zone(&bad, 1);
    add_rule(&bad, "stay", VG_EVENT_DWELL, 0.3);

    j = make_job(f, "rules", NULL); /* the job has no rules of its own */
    assert_int_equal(add_camera(f, j, "cam", 1, NULL), 0);
    assert_int_equal(vg_job_set_rules(j, "nobody", &r1), VG_ENOENT);
    /* before the start (size unknown): kept for the start */
    assert_int_equal(vg_job_set_rules(j, "cam", &r1), 0);
    vg_rules_config_free(f->ctx, &r1); /* copied */
    assert_int_equal(vg_job_start(j), 0);
    wait_frames(f, j, 0, 2 * CLIP_FRAMES);

    /* outside the 384x288 picture: refused, naming the camera */
    assert_int_equal(vg_job_set_rules(j, "cam", &bad), VG_ECONFIG);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "cam"));
    assert_null(strchr(vg_context_errmsg(f->ctx), '\n'));

    assert_int_equal(vg_job_set_rules(j, "cam", &r2), 0);
    n = frames_of(f, 0);
    wait_frames(f, j, 0, n + 2 * CLIP_FRAMES);
    /* the figures while it runs */
    assert_int_equal(vg_job_stream_get(j, 0, &st), 0);
    assert_int_equal(st.state, VG_JOB_STREAM_RUNNING);
    assert_int_equal(st.stats.n_rules, 0); /* only once ended */

    assert_int_equal(vg_job_set_rules(j, "cam", &r3), 0);
    n = frames_of(f, 0);
    wait_frames(f, j, 0, n + 2 * CLIP_FRAMES);
    assert_int_equal(vg_job_stop(j), 0);
    assert_int_equal(vg_job_stream_get(j, 0, &st), 0);
    assert_int_equal(st.end_code, 0);
    assert_int_equal(st.stats.n_rules, 2);
    assert_string_equal(st.stats.rule[0].name, "stay");
    assert_string_equal(st.stats.rule[1].name, "enter");
    assert_int_equal(st.stats.rule[1].fired, 1); /* kept through r3 */
    vg_job_destroy(&j);
    /* stay: once under r1 (kept, not raised again under r2), once more
     * under r3 (changed: afresh); enter: once, new in r2 */
    assert_int_equal(events_of_rule(f, "rules", "stay"), 2);
    assert_int_equal(events_of_rule(f, "rules", "enter"), 1);
    vg_rules_config_free(f->ctx, &r2);
    vg_rules_config_free(f->ctx, &r3);
    vg_rules_config_free(f->ctx, &bad);
}

/* A 1 s clip looped: more than twice its frames, one continuous track,
 * live figures while it runs, rules given to a camera that had none, stopped
 * by vg_job_stop. */
static void test_loop_and_figures(void **state)
{
    fx *f = *state;
    vg_job_stream_status st;
    vg_job *j;
    char path[1200];
    FILE *tf;
    long long frame, id, last = 0, max_id = 0, lines = 0;
    int have_fps = 0;
    vg_rules_config r;

    if (!f->ctx)
        skip();
    j = make_job(f, "loop", NULL);
    assert_int_equal(add_camera(f, j, "cam", 1, NULL), 0);
    assert_int_equal(vg_job_start(j), 0);
    wait_frames(f, j, 0, 3 * CLIP_FRAMES);
    /* fps over a window of the monotonic clock: polled until the window
     * holds two samples */
    for (int k = 0; k < 400 && !have_fps; k++) {
        assert_int_equal(vg_job_stream_get(j, 0, &st), 0);
        assert_int_equal(st.state, VG_JOB_STREAM_RUNNING);
        have_fps = st.fps > 0 && st.detect_fps > 0;
        if (!have_fps)
            wait_frames(f, j, 0, frames_of(f, 0) + 1);
    }
    assert_true(have_fps);
    assert_true(st.frames >= 3 * CLIP_FRAMES);
    assert_true(st.memory_bytes > (int64_t)W * H * 3);
    assert_int_equal(st.live_state, -1);
    assert_int_equal(st.width, W);
    assert_int_equal(st.height, H);
    assert_int_equal(st.frames_dropped, 0);
    assert_int_equal(st.reconnects, 0);
    assert_string_equal(vg_job_out_dir(j) + strlen(vg_job_out_dir(j)) - 5,
                        "/loop");
    /* a camera without rules gets some while running: they fire */
    vg_rules_config_init(&r);
    add_zone(&r, 0);
    add_rule(&r, "enter", VG_EVENT_INTRUSION, 0);
    assert_int_equal(vg_job_set_rules(j, "cam", &r), 0);
    vg_rules_config_free(f->ctx, &r);
    wait_frames(f, j, 0, frames_of(f, 0) + CLIP_FRAMES);
    assert_int_equal(vg_job_stop(j), 0);
    assert_int_equal(vg_job_stream_get(j, 0, &st), 0);
    assert_int_equal(st.state, VG_JOB_STREAM_ENDED);
    assert_int_equal(st.end_code, 0);
    assert_true(st.stats.frames > 2 * CLIP_FRAMES);
    assert_true(st.fps == 0); /* not running */
    assert_int_equal(st.stats.n_rules, 1);
    vg_job_destroy(&j);
    assert_int_equal(events_of_rule(f, "loop", "enter"), 1);
    /* tracks.txt: frame numbers never go back, one track throughout (the
     * tracker saw continuous time across the loops) */
    snprintf(path, sizeof(path), "%s/loop/cam/tracks.txt", f->tmp);
    tf = fopen(path, "r");
    assert_non_null(tf);
    while (fscanf(tf, "%lld,%lld,%*[^\n]\n", &frame, &id) == 2) {
        assert_true(frame > last);
        last = frame;
        if (id > max_id)
            max_id = id;
        lines++;
    }
    fclose(tf);
    assert_true(lines > 2 * CLIP_FRAMES - 5);
    assert_int_equal(max_id, 1);
}

/* The source itself: frames go on past the end with increasing indexes and
 * times, one frame step across the seam. */
static void test_source_loop_times(void **state)
{
    fx *f = *state;
    vg_source_opts so;
    vg_source *src = NULL;
    vg_frame fr;
    double last = -1, step;
    vg_source_info si;

    if (!f->ctx)
        skip();
    vg_source_opts_default(&so);
    so.loop = 1;
    assert_int_equal(vg_source_open(f->ctx, f->clip, &so, &src), 0);
    vg_source_get_info(src, &si);
    step = 1.0 / si.fps;
    for (int i = 0; i < 3 * CLIP_FRAMES + 5; i++) {
        assert_int_equal(vg_source_read(src, &fr), 0);
        assert_int_equal(fr.index, i);
        assert_true(fr.time_s > last);
        if (i > 0)
            assert_true(fr.time_s - last < 1.5 * step);
        last = fr.time_s;
        vg_frame_release(&fr);
    }
    vg_source_close(&src);
    /* without loop: the end */
    so.loop = 0;
    assert_int_equal(vg_source_open(f->ctx, f->clip, &so, &src), 0);
    for (int i = 0; i < CLIP_FRAMES; i++) {
        assert_int_equal(vg_source_read(src, &fr), 0);
        vg_frame_release(&fr);
    }
    assert_int_equal(vg_source_read(src, &fr), VG_EOF);
    vg_source_close(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_loop_times),
        cmocka_unit_test(test_watch_and_latest_frame),
        cmocka_unit_test(test_latest_frame_with_video),
        cmocka_unit_test(test_set_rules_while_running),
        cmocka_unit_test(test_loop_and_figures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
