/*
 * Motion gating and the detection rate in the per-stream run, on
 * still_moving.mp4 (tests/fixtures/make_fixtures.py: 8 s of the empty scene,
 * 10 s of vtest.avi's walkers, 8 s of the empty scene again, 10 fps, 260
 * frames) with the real person detector. The detector is called through
 * vg_run_opts.detect, which records the frames it ran on.
 *
 * The fixture is built once into $VIGIL_BUILD/fixtures (about 20 s); the
 * parts skip without the model, vtest.avi, ffmpeg or numpy.
 */
/* ctest-cost: 150 */
/* ctest-part: idle_stretches_skip_the_detector */
/* ctest-part: events_with_gating_match_events_without */
/* ctest-part: detect_fps_runs_one_frame_in_five */
/* ctest-part: gated_run_allocates_nothing_per_frame */
/* ctest-part: motion_masks_in_pixels_are_checked */
/* ctest-part: gated_run_survives_each_allocation_failing */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
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

#include "support/io_fixtures.h"
#include "vigil/coco.h"
#include "vigil/run.h"

#define FRAMES 260
#define STILL1_END 80  /* frames 0..79: the empty scene */
#define MOVING_END 180 /* 80..179: walkers; 180..259: empty again */
#define MAX_IDLE_S 2.0
#define FPS 10

typedef struct fx {
    vg_context *ctx;
    vg_detector *det;
    char video[1200];
    char *dir;
    vg_rules_config rules;
    /* the detect hook's record */
    unsigned char detected[FRAMES];
    int calls;
    int64_t max_frames; /* 0: the whole video */
} fx;

/* still_moving.mp4 under $VIGIL_BUILD/fixtures, made when missing (into a
 * temporary name, then renamed: parts running at once may both make it). */
static int fixture_video(char *out, size_t size)
{
    const char *build = getenv("VIGIL_BUILD"), *src = getenv("VIGIL_SRC");
    const char *py = getenv("VIGIL_PYTHON");
    char vtest[1024], dir[1100], tmp[1300], cmd[4200];

    if (!build || !src || !io_cache_video(vtest, sizeof(vtest), "vtest.avi"))
        return -1;
    snprintf(dir, sizeof(dir), "%s/fixtures", build);
    snprintf(out, size, "%s/still_moving.mp4", dir);
    if (access(out, R_OK) == 0)
        return 0;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s/still_moving.%ld.mp4", dir, (long)getpid());
    snprintf(cmd, sizeof(cmd),
             "'%s' '%s/tests/fixtures/make_fixtures.py' still_moving '%s' "
             "'%s'",
             py ? py : "/usr/bin/python3", src, tmp, vtest);
    if (system(cmd) != 0 || rename(tmp, out) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

static const char rules_yaml[] =
    "zones:\n"
    "  - name: road\n"
    "    polygon: [[250, 140], [740, 140], [740, 300], [250, 300]]\n"
    "  - name: crossing\n"
    "    line: [[480, 120], [480, 320]]\n"
    "rules:\n"
    "  - name: road_intrusion\n"
    "    kind: intrusion\n"
    "    zone: road\n"
    "    classes: [person]\n"
    "  - name: road_crossing\n"
    "    kind: line_crossing\n"
    "    zone: crossing\n"
    "    direction: both\n"
    "    classes: [person]\n";

static int setup(void **state)
{
    const char *cache = getenv("VIGIL_CACHE");
    char model[1024], path[1300];
    vg_detector_opts dopts;
    fx *f;

    if (!cache)
        return 0;
    snprintf(model, sizeof(model), "%s/models/nanodet.onnx", cache);
    if (access(model, R_OK) != 0)
        return 0;
    f = calloc(1, sizeof(*f));
    assert_non_null(f);
    if (fixture_video(f->video, sizeof(f->video)) != 0) {
        free(f);
        return 0; /* no fixture: the part skips */
    }
    assert_int_equal(vg_context_create(&f->ctx), 0);
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    vg_detector_opts_default(&dopts);
    dopts.session.intra_threads = 2;
    dopts.session.spin = 0;
    dopts.classes_keep[0] = vg_coco_class_id("person");
    dopts.n_classes_keep = 1;
    assert_int_equal(vg_detector_create(f->ctx, model, &dopts, &f->det), 0);
    f->dir = io_tmpdir_create();
    assert_non_null(f->dir);
    io_path(path, sizeof(path), f->dir, "rules.yaml");
    assert_int_equal(io_write_file(path, rules_yaml, strlen(rules_yaml)), 0);
    assert_int_equal(vg_rules_load(f->ctx, path, &f->rules), 0);
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (!f)
        return 0;
    vg_rules_config_free(f->ctx, &f->rules);
    vg_detector_destroy(&f->det);
    vg_context_destroy(&f->ctx);
    if (f->dir)
        nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->dir);
    free(f);
    return 0;
}

static int detect_hook(void *user, const vg_frame *frame, vg_detection *dets,
                       int cap, int *n)
{
    fx *f = user;
    int rc = vg_detector_run(f->det, frame, dets, cap, n);
    if (frame->index >= 0 && frame->index < FRAMES)
        f->detected[frame->index] = 1;
    f->calls++;
    if (rc < 0)
        vg_fail(f->ctx, rc, "%s", vg_detector_errmsg(f->det));
    return rc;
}

/* Runs the video into DIR/name with the hook; the detector's record is
 * reset first. */
static void run(fx *f, const char *name, double detect_fps, int gating,
                vg_run_stats *st)
{
    char out[1300];
    vg_run_opts o;
    vg_settings s;

    vg_settings_builtin(&s);
    vg_run_opts_from_settings(&s, &o);
    io_path(out, sizeof(out), f->dir, name);
    o.out_dir = out;
    o.rules = &f->rules;
    o.write_video = 0;
    o.write_snapshots = 0;
    o.detect = detect_hook;
    o.detect_user = f;
    o.detect_fps = detect_fps;
    o.motion_enabled = gating;
    o.motion.max_idle_s = MAX_IDLE_S;
    o.max_frames = f->max_frames;
    memset(f->detected, 0, sizeof(f->detected));
    f->calls = 0;
    assert_int_equal(vg_run_stream(f->ctx, f->video, f->det, &o, st), 0);
    assert_int_equal(st->frames, f->max_frames ? f->max_frames : FRAMES);
    assert_int_equal(st->frames_detected, f->calls);
    assert_int_equal(st->frames_detected + st->frames_skipped_rate +
                         st->frames_skipped_idle,
                     st->frames);
}

static int count(const fx *f, int from, int to)
{
    int n = 0;
    for (int i = from; i < to; i++)
        n += f->detected[i];
    return n;
}

static void assert_latency_ordered(const vg_latency_stats *l, int64_t n)
{
    assert_int_equal(l->count, n);
    if (n == 0)
        return;
    assert_true(l->p50_ms > 0);
    assert_true(l->p50_ms <= l->p99_ms);
    assert_true(l->p99_ms <= l->max_ms);
}

/* With gating, the detector runs on the walkers' stretch and on a few
 * frames of the still ones: the first frame, one every max_idle_s, and
 * while the tracks of the walkers who left are kept (lost_seconds). */
static void test_idle_stretches_skip_the_detector(void **state)
{
    fx *f = *state;
    vg_run_stats st;
    int last = -1, idle_s = (int)(MAX_IDLE_S * FPS);
    vg_tracker_opts to;

    if (!f)
        skip();
    vg_tracker_opts_default(&to);
    run(f, "gated", 0, 1, &st);
    assert_int_equal(st.motion_enabled, 1);
    assert_true(st.detect_fps == 0);
    assert_int_equal(st.frames_skipped_rate, 0);
    assert_true(st.frames_skipped_idle > 0);
    print_message("detector runs: still %d/80, moving %d/100, still %d/80; "
                  "skipped idle %lld, forced %lld\n",
                  count(f, 0, STILL1_END), count(f, STILL1_END, MOVING_END),
                  count(f, MOVING_END, FRAMES),
                  (long long)st.frames_skipped_idle,
                  (long long)st.motion_forced);
    /* the first still stretch: frame 0, then one every max_idle_s */
    assert_int_equal(count(f, 0, STILL1_END), STILL1_END / idle_s);
    for (int i = 0; i < STILL1_END; i += idle_s)
        assert_int_equal(f->detected[i], 1);
    /* the walkers: (essentially) every frame */
    assert_true(count(f, STILL1_END, MOVING_END) >= 95);
    /* the second: the tracks left behind are kept lost_seconds, then the
     * forced ones only */
    assert_true(count(f, MOVING_END, FRAMES) <=
                (int)(to.lost_seconds * FPS) + 2 +
                    (FRAMES - MOVING_END) / idle_s);
    assert_true(count(f, FRAMES - 30, FRAMES) <= 30 / idle_s + 1);
    /* never longer than max_idle_s without a detection */
    for (int i = 0; i < FRAMES; i++) {
        if (!f->detected[i])
            continue;
        if (last >= 0)
            assert_true(i - last <= idle_s);
        last = i;
    }
    assert_true(FRAMES - 1 - last < idle_s);
    assert_true(st.motion_forced >= STILL1_END / idle_s - 1);
    assert_latency_ordered(&st.latency_frame, st.frames);
}

typedef struct ev {
    char rule[64];
    long long track, frame;
} ev;

/* The events of DIR/name/events.jsonl (compact JSON: "key":value). */
static int read_events(const fx *f, const char *name, ev *out, int cap)
{
    char path[1400], line[4096];
    int n = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s/events.jsonl", f->dir, name);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (n < cap && fgets(line, sizeof(line), fp)) {
        const char *r = strstr(line, "\"rule\":\""),
                   *t = strstr(line, "\"track_id\":"),
                   *fr = strstr(line, "\"frame\":");
        assert_non_null(r);
        assert_non_null(t);
        assert_non_null(fr);
        assert_int_equal(sscanf(r + 8, "%63[^\"]", out[n].rule), 1);
        out[n].track = atoll(t + 11);
        out[n].frame = atoll(fr + 8);
        n++;
    }
    fclose(fp);
    return n;
}

/* Every event raised without gating is raised with it: the same rule, the
 * same track, within one detection interval (one frame here). */
static void test_events_with_gating_match_events_without(void **state)
{
    fx *f = *state;
    vg_run_stats plain, gated;
    ev a[64], b[64];
    int na, nb;

#ifdef VG_SANITIZE
    /* Two whole runs of the clip compared event by event: a property of the
     * gate's decisions, not of memory. The gated run's code runs under the
     * sanitizers in this program's other parts. */
    (void)state, (void)plain, (void)gated, (void)a, (void)b, (void)na, (void)nb;
    skip();
#endif
    if (!f)
        skip();
    run(f, "plain", 0, 0, &plain);
    assert_int_equal(plain.frames_detected, FRAMES);
    assert_int_equal(plain.frames_skipped_idle, 0);
    assert_int_equal(plain.motion_enabled, 0);
    run(f, "gated", 0, 1, &gated);
    print_message("detector runs: %lld without gating, %lld with; wall %.2f "
                  "s / %.2f s\n",
                  (long long)plain.frames_detected,
                  (long long)gated.frames_detected, plain.wall_s, gated.wall_s);
    assert_true(gated.frames_detected < plain.frames_detected);
    na = read_events(f, "plain", a, 64);
    nb = read_events(f, "gated", b, 64);
    assert_true(na > 0);
    assert_int_equal(na, plain.events);
    for (int i = 0; i < na; i++) {
        int found = 0;
        for (int k = 0; k < nb && !found; k++)
            found = !strcmp(a[i].rule, b[k].rule) && a[i].track == b[k].track &&
                    llabs(a[i].frame - b[k].frame) <= 1;
        if (!found)
            fail_msg("event %s track %lld frame %lld: not raised with gating",
                     a[i].rule, a[i].track, a[i].frame);
    }
    /* latencies: every frame, every event, ordered percentiles */
    assert_latency_ordered(&plain.latency_frame, plain.frames);
    assert_latency_ordered(&plain.latency_event, plain.events);
    assert_latency_ordered(&gated.latency_event, gated.events);
    assert_int_equal(plain.frames_dropped, 0); /* a file loses nothing */
}

/* detect.fps 2 on the 10 fps video: the detector runs on frames 0, 5, 10,
 * ...; the tracker predicts the four frames in between, whose tracks are
 * still written (tracks.txt covers them). */
static void test_detect_fps_runs_one_frame_in_five(void **state)
{
    fx *f = *state;
    vg_run_stats st;
    static unsigned char rows[FRAMES + 2][64];
    char path[1400], line[256];
    FILE *fp;
    int checked = 0;

    if (!f)
        skip();
    run(f, "rate", 2.0, 0, &st);
    assert_true(st.detect_fps == 2.0);
    for (int i = 0; i < FRAMES; i++)
        assert_int_equal(f->detected[i], i % 5 == 0);
    assert_int_equal(st.frames_detected, FRAMES / 5);
    assert_int_equal(st.frames_skipped_rate, FRAMES - FRAMES / 5);
    assert_int_equal(st.frames_skipped_idle, 0);
    assert_true(st.events > 0);
    assert_latency_ordered(&st.latency_frame, st.frames);
    assert_latency_ordered(&st.latency_event, st.events);

    memset(rows, 0, sizeof(rows));
    snprintf(path, sizeof(path), "%s/rate/tracks.txt", f->dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        long long frame, id;
        assert_int_equal(sscanf(line, "%lld,%lld,", &frame, &id), 2);
        assert_true(frame >= 1 && frame <= FRAMES);
        if (id < 64)
            rows[frame][id] = 1;
    }
    fclose(fp);
    /* a track seen at two detections 5 frames apart is written on each
     * frame between (tracks.txt frames count from 1) */
    for (int fr = 1; fr + 5 <= FRAMES; fr += 5)
        for (int id = 1; id < 64; id++) {
            if (!rows[fr][id] || !rows[fr + 5][id])
                continue;
            for (int k = 1; k < 5; k++)
                assert_int_equal(rows[fr + k][id], 1);
            checked++;
        }
    /* Pairs bridged on this clip: 8 with ByteTrack's score fusion in the
     * first association (the default, as published), 31 without it: at
     * 2 detections a second the predicted box overlaps the next detection
     * less, and IoU x score more often misses match_thresh
     * (docs/tracking.md). */
    printf("track pairs 5 frames apart, filled between: %d\n", checked);
    assert_true(checked >= 5);
}

/* vigil's own allocations (through the context) are the same for a short
 * and a long gated run at a detection rate: the motion gate, the
 * prediction and the latency histograms take nothing per frame. */
static void test_gated_run_allocates_nothing_per_frame(void **state)
{
    fx *f = *state;
    vg_run_stats st;
    vg_alloc_stats a0, a1, a2;

    if (!f)
        skip();
    f->max_frames = 60; /* the still scene only */
    vg_context_alloc_stats(f->ctx, &a0);
    run(f, "short", 5.0, 1, &st);
    vg_context_alloc_stats(f->ctx, &a1);
    f->max_frames = 0; /* still, walkers, still: events, tracks */
    run(f, "long", 5.0, 1, &st);
    vg_context_alloc_stats(f->ctx, &a2);
    assert_true(st.events > 0);
    assert_true(st.frames_skipped_rate > 0 && st.frames_skipped_idle > 0);
    print_message("vigil allocations: %llu for 60 frames, %llu for %d\n",
                  (unsigned long long)(a1.allocs - a0.allocs),
                  (unsigned long long)(a2.allocs - a1.allocs), FRAMES);
    assert_int_equal(a2.allocs - a1.allocs, a1.allocs - a0.allocs);
    assert_int_equal(a2.frees - a2.allocs, a0.frees - a0.allocs);
}

/* Masks in pixels are scaled to the picture when the stream starts; one
 * beyond the picture, or masks hiding all of it, stop the stream before
 * its first frame with a message naming the mask. */
static void test_motion_masks_in_pixels_are_checked(void **state)
{
    fx *f = *state;
    char out[1300];
    vg_run_opts o;
    vg_run_stats st;
    vg_motion_polygon band = {.n = 4,
                              .points = {{0, 0}, {768, 0}, {768, 60}, {0, 60}}};
    vg_motion_polygon whole = {
        .n = 4, .points = {{-1, -1}, {769, -1}, {769, 577}, {-1, 577}}};
    vg_motion_polygon beyond = {.n = 3, .points = {{0, 0}, {900, 0}, {0, 100}}};

    if (!f)
        skip();
    vg_run_opts_default(&o);
    io_path(out, sizeof(out), f->dir, "masks");
    o.out_dir = out;
    o.write_video = 0;
    o.write_snapshots = 0;
    o.motion_enabled = 1;
    o.motion.mask_count = 1;
    o.motion_mask_pixels[0] = 1;
    o.max_frames = 20;

    o.motion.masks[0] = band;
    assert_int_equal(vg_run_stream(f->ctx, f->video, f->det, &o, &st), 0);
    assert_int_equal(st.frames, 20);
    assert_int_equal(st.motion_enabled, 1);

    o.motion.masks[0] = beyond;
    assert_int_equal(vg_run_stream(f->ctx, f->video, f->det, &o, &st),
                     VG_EINVAL);
    assert_int_equal(st.frames, 0);
    assert_non_null(strstr(vg_context_errmsg(f->ctx),
                           "motion mask 1 point 2 (900, 0) lies outside the "
                           "768x576 picture"));

    o.motion.masks[0] = whole;
    assert_int_equal(vg_run_stream(f->ctx, f->video, f->det, &o, &st),
                     VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "cover the whole"));
}

/* Every allocation of a gated run at a detection rate failing in turn (the
 * motion gate's among them): the run fails cleanly or goes on, and holds
 * nothing afterwards. */
static void test_gated_run_survives_each_allocation_failing(void **state)
{
    fx *f = *state;
    char out[1300];
    vg_run_opts o;
    vg_run_stats st;
    vg_alloc_stats a0, a1;
    uint64_t points, failed = 0;

    if (!f)
        skip();
    vg_run_opts_default(&o);
    io_path(out, sizeof(out), f->dir, "faults");
    o.out_dir = out;
    o.write_video = 0;
    o.write_snapshots = 0;
    o.rules = &f->rules;
    o.motion_enabled = 1;
    o.detect_fps = 5;
    o.max_frames = 6;
    vg_context_alloc_stats(f->ctx, &a0);
    assert_int_equal(vg_run_stream(f->ctx, f->video, f->det, &o, &st), 0);
    vg_context_alloc_stats(f->ctx, &a1);
    points = (a1.allocs + a1.failures + a1.fault_points) -
             (a0.allocs + a0.failures + a0.fault_points);
    assert_true(points > 10);
    for (uint64_t n = 1; n <= points; n++) {
        vg_alloc_stats b0, b1;
        int rc;
        vg_context_alloc_stats(f->ctx, &b0);
        vg_context_fail_alloc(f->ctx, n, 0);
        rc = vg_run_stream(f->ctx, f->video, f->det, &o, &st);
        vg_context_fail_alloc(f->ctx, 0, 0);
        vg_context_alloc_stats(f->ctx, &b1);
        if (rc < 0) {
            failed++;
            assert_true(vg_context_errmsg(f->ctx)[0] != '\0');
        }
        if (b1.allocs - b1.frees != b0.allocs - b0.frees)
            fail_msg(
                "allocation %llu failing: %lld blocks left held",
                (unsigned long long)n,
                (long long)((b1.allocs - b1.frees) - (b0.allocs - b0.frees)));
        vg_context_clear_error(f->ctx);
    }
    print_message("%llu of %llu allocation points failing stopped the run\n",
                  (unsigned long long)failed, (unsigned long long)points);
    assert_true(failed > 0);
}

static const struct {
    const char *name;
    CMUnitTestFunction fn;
} parts[] = {
    {"idle_stretches_skip_the_detector", test_idle_stretches_skip_the_detector},
    {"events_with_gating_match_events_without",
     test_events_with_gating_match_events_without},
    {"detect_fps_runs_one_frame_in_five",
     test_detect_fps_runs_one_frame_in_five},
    {"gated_run_allocates_nothing_per_frame",
     test_gated_run_allocates_nothing_per_frame},
    {"motion_masks_in_pixels_are_checked",
     test_motion_masks_in_pixels_are_checked},
    {"gated_run_survives_each_allocation_failing",
     test_gated_run_survives_each_allocation_failing},
};

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
        tests[n].test_func = parts[i].fn;
        tests[n].setup_func = setup;
        tests[n].teardown_func = teardown;
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "%s: no part named %s\n", argv[0], argv[1]);
        return 1;
    }
    return _cmocka_run_group_tests("test_gating", tests, n, NULL, NULL);
}
