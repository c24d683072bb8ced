/* Tests of the ByteTrack tracker over synthetic trajectories. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/track.h"

#define CAP 64

typedef struct fixture {
    vg_context *ctx;
    vg_tracker *t;
    vg_tracker_opts o;
    vg_track out[CAP];
    int n_out;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    if (!fx || vg_context_create(&fx->ctx) < 0)
        return -1;
    vg_tracker_opts_default(&fx->o);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    vg_tracker_destroy(&fx->t);
    vg_context_alloc_stats(fx->ctx, &st);
    vg_context_destroy(&fx->ctx);
    free(fx);
    return st.allocs == st.frees ? 0 : -1;
}

static void make(fixture *fx)
{
    assert_int_equal(vg_tracker_create(fx->ctx, &fx->o, &fx->t), 0);
}

static vg_detection det(float x, float y, float w, float h, float score,
                        int class_id)
{
    vg_detection d;
    d.box.x = x;
    d.box.y = y;
    d.box.w = w;
    d.box.h = h;
    d.score = score;
    d.class_id = class_id;
    return d;
}

static void step(fixture *fx, const vg_detection *d, int n)
{
    assert_int_equal(vg_tracker_update(fx->t, d, n, fx->out, CAP, &fx->n_out),
                     0);
}

/* The output track nearest to (cx, cy), or NULL when none within 30 px. */
static const vg_track *near(const fixture *fx, float cx, float cy)
{
    const vg_track *best = NULL;
    float bd = 30.0f;
    for (int i = 0; i < fx->n_out; i++) {
        const vg_box *b = &fx->out[i].box;
        float d = hypotf(b->x + b->w / 2 - cx, b->y + b->h / 2 - cy);
        if (d < bd) {
            bd = d;
            best = &fx->out[i];
        }
    }
    return best;
}

static void test_crossing_objects_keep_their_ids(void **state)
{
    fixture *fx = *state;
    int64_t id_a = 0, id_b = 0;
    make(fx);
    for (int f = 0; f < 80; f++) {
        /* A goes right, B goes left, both 40x80, crossing at frame 40 */
        float ax = 10.0f + 5.0f * (float)f, bx = 410.0f - 5.0f * (float)f;
        vg_detection d[2] = {det(ax, 100, 40, 80, 0.9f, 0),
                             det(bx, 104, 40, 80, 0.85f, 0)};
        const vg_track *a, *b;
        step(fx, d, 2);
        if (f == 0) {
            assert_int_equal(fx->n_out, 0); /* tentative until seen twice */
            continue;
        }
        assert_int_equal(fx->n_out, 2);
        a = near(fx, ax + 20, 140);
        b = near(fx, bx + 20, 144);
        assert_non_null(a);
        assert_non_null(b);
        if (f == 1) {
            id_a = a->id;
            id_b = b->id;
            assert_true(id_a != id_b);
            continue;
        }
        if (f > 38 && f < 42)
            continue; /* boxes coincide: "nearest" is ambiguous */
        assert_int_equal(a->id, id_a);
        assert_int_equal(b->id, id_b);
    }
    {
        vg_tracker_stats st;
        vg_tracker_stats_get(fx->t, &st);
        assert_int_equal(st.confirmed, 2);
    }
}

static void test_ids_start_at_one(void **state)
{
    fixture *fx = *state;
    vg_detection d = det(50, 50, 30, 60, 0.9f, 0);
    make(fx);
    step(fx, &d, 1);
    step(fx, &d, 1);
    assert_int_equal(fx->n_out, 1);
    assert_int_equal(fx->out[0].id, 1);
    assert_int_equal(fx->out[0].state, VG_TRACK_TRACKED);
    assert_int_equal(fx->out[0].hits, 2);
    assert_int_equal(fx->out[0].age, 2);
}

/* Object moving right at 2 px/frame, visible on frames [0, on) and
 * [on + gap, on + gap + 5); returns the ids seen before and after. */
static void run_gap(fixture *fx, int on, int gap, int64_t *before,
                    int64_t *after)
{
    *before = *after = 0;
    for (int f = 0; f < on + gap + 5; f++) {
        vg_detection d = det(100.0f + 2.0f * (float)f, 50, 40, 80, 0.9f, 0);
        int visible = f < on || f >= on + gap;
        step(fx, &d, visible ? 1 : 0);
        if (!visible) {
            assert_int_equal(fx->n_out, 0);
            continue;
        }
        if (fx->n_out == 0)
            continue;
        assert_int_equal(fx->n_out, 1);
        if (f < on)
            *before = fx->out[0].id;
        else
            *after = fx->out[0].id;
    }
}

static void test_gap_shorter_than_lost_buffer_keeps_the_id(void **state)
{
    fixture *fx = *state;
    int64_t before, after;
    fx->o.fps = 10;
    fx->o.lost_seconds = 1.0; /* 10 frames */
    make(fx);
    run_gap(fx, 10, 9, &before, &after);
    assert_int_equal(before, 1);
    assert_int_equal(after, before);
}

static void test_gap_longer_than_lost_buffer_ends_the_track(void **state)
{
    fixture *fx = *state;
    int64_t before, after;
    const int64_t *gone;
    int n_gone, seen_removed = 0;
    fx->o.fps = 10;
    fx->o.lost_seconds = 1.0;
    make(fx);
    /* run by hand to watch for the removal */
    for (int f = 0; f < 10 + 15; f++) {
        vg_detection d = det(100.0f + 2.0f * (float)f, 50, 40, 80, 0.9f, 0);
        step(fx, &d, f < 10 ? 1 : 0);
        vg_tracker_removed(fx->t, &gone, &n_gone);
        if (n_gone) {
            assert_int_equal(n_gone, 1);
            assert_int_equal(gone[0], 1);
            /* last seen on frame index 9: removed once 11 frames missing */
            assert_int_equal(f, 9 + 11);
            seen_removed++;
        }
    }
    assert_int_equal(seen_removed, 1);
    vg_tracker_destroy(&fx->t);
    make(fx);
    run_gap(fx, 10, 15, &before, &after);
    assert_int_equal(before, 1);
    assert_true(after > before);
}

static void test_low_score_detections_keep_a_track_alive(void **state)
{
    fixture *fx = *state;
    fx->o.fps = 10;
    fx->o.lost_seconds = 0.5; /* 5 frames */
    make(fx);
    for (int f = 0; f < 40; f++) {
        float score = f < 5 ? 0.9f : 0.3f; /* below high, above low */
        vg_detection d = det(100.0f + 3.0f * (float)f, 80, 40, 80, score, 0);
        step(fx, &d, 1);
        if (f == 0)
            continue;
        assert_int_equal(fx->n_out, 1);
        assert_int_equal(fx->out[0].id, 1);
        assert_float_equal(fx->out[0].score, score, 0);
    }
}

static void test_low_score_detections_alone_start_no_track(void **state)
{
    fixture *fx = *state;
    vg_tracker_stats st;
    make(fx);
    for (int f = 0; f < 10; f++) {
        vg_detection d = det(100, 80, 40, 80, 0.4f, 0);
        step(fx, &d, 1);
        assert_int_equal(fx->n_out, 0);
    }
    vg_tracker_stats_get(fx->t, &st);
    assert_int_equal(st.created, 0);
}

static void test_flickering_detection_keeps_one_id(void **state)
{
    fixture *fx = *state;
    vg_tracker_stats st;
    make(fx);
    for (int f = 0; f < 60; f++) {
        vg_detection d = det(200, 100, 50, 100, 0.8f, 0);
        int visible = f < 3 || f % 2 == 0;
        step(fx, &d, visible);
        for (int i = 0; i < fx->n_out; i++)
            assert_int_equal(fx->out[i].id, 1);
        if (visible && f > 0)
            assert_int_equal(fx->n_out, 1);
    }
    vg_tracker_stats_get(fx->t, &st);
    assert_int_equal(st.confirmed, 1);
    assert_int_equal(st.created, 1);
}

static void test_detections_only_match_tracks_of_their_class(void **state)
{
    fixture *fx = *state;
    make(fx);
    for (int f = 0; f < 5; f++) {
        vg_detection d = det(100, 100, 40, 80, 0.9f, f < 3 ? 0 : 2);
        step(fx, &d, 1);
    }
    /* the class-2 detections started a track of their own */
    assert_int_equal(fx->n_out, 1);
    assert_int_equal(fx->out[0].class_id, 2);
    assert_int_equal(fx->out[0].id, 2);
}

static void test_class_agnostic_matching_crosses_classes(void **state)
{
    fixture *fx = *state;
    fx->o.class_agnostic = 1;
    make(fx);
    for (int f = 0; f < 5; f++) {
        vg_detection d = det(100, 100, 40, 80, 0.9f, f < 3 ? 0 : 2);
        step(fx, &d, 1);
    }
    assert_int_equal(fx->n_out, 1);
    assert_int_equal(fx->out[0].id, 1);
    assert_int_equal(fx->out[0].class_id, 2);
}

static void
test_output_box_is_filtered_and_det_box_is_the_detection(void **state)
{
    fixture *fx = *state;
    make(fx);
    for (int f = 0; f < 20; f++) {
        /* jitter of +-4 px around a still box */
        float jx = (f % 2) ? 4.0f : -4.0f;
        vg_detection d = det(100 + jx, 100, 40, 80, 0.9f, 0);
        step(fx, &d, 1);
        if (f < 10)
            continue;
        assert_int_equal(fx->n_out, 1);
        assert_float_equal(fx->out[0].det_box.x, 100 + jx, 0);
        assert_true(fabsf(fx->out[0].box.x - 100) < 4.0f);
    }
}

static void test_full_store_refuses_then_evicts_lost_tracks(void **state)
{
    fixture *fx = *state;
    vg_tracker_stats st;
    const int64_t *gone;
    int n_gone;
    fx->o.max_tracks = 2;
    make(fx);
    {
        vg_detection d[3] = {det(0, 0, 20, 40, 0.9f, 0),
                             det(100, 0, 20, 40, 0.9f, 0),
                             det(200, 0, 20, 40, 0.9f, 0)};
        step(fx, d, 3);
        step(fx, d, 3);
    }
    vg_tracker_stats_get(fx->t, &st);
    assert_int_equal(st.tracked, 2);
    assert_int_equal(st.refused, 2); /* the third, on both frames */
    {
        /* the first two vanish (lost); a new one takes the longest lost */
        vg_detection d = det(400, 0, 20, 40, 0.9f, 0);
        step(fx, &d, 1);
        vg_tracker_removed(fx->t, &gone, &n_gone);
        assert_int_equal(n_gone, 1);
        assert_true(gone[0] == 1 || gone[0] == 2);
    }
    vg_tracker_stats_get(fx->t, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.lost, 1);
    assert_int_equal(st.tentative, 1);
}

static void test_reset_ends_every_track_and_ids_keep_counting(void **state)
{
    fixture *fx = *state;
    const int64_t *gone;
    int n_gone;
    vg_detection d[2] = {det(0, 0, 20, 40, 0.9f, 0),
                         det(100, 0, 20, 40, 0.9f, 0)};
    make(fx);
    step(fx, d, 2);
    step(fx, d, 2);
    vg_tracker_reset(fx->t);
    vg_tracker_removed(fx->t, &gone, &n_gone);
    assert_int_equal(n_gone, 2);
    assert_true(gone[0] != gone[1]);
    assert_int_equal(vg_tracker_tracks(fx->t, NULL, 0), 0);
    step(fx, d, 1);
    step(fx, d, 1);
    assert_int_equal(fx->n_out, 1);
    assert_int_equal(fx->out[0].id, 3);
}

static void test_bad_options_and_oversized_frames_are_rejected(void **state)
{
    fixture *fx = *state;
    vg_tracker *t = NULL;
    vg_detection d[3];
    int n;
    fx->o.low_thresh = 0.7f; /* above high */
    assert_int_equal(vg_tracker_create(fx->ctx, &fx->o, &t), VG_EINVAL);
    assert_null(t);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "low_thresh"));
    vg_tracker_opts_default(&fx->o);
    fx->o.fps = 0;
    assert_int_equal(vg_tracker_create(fx->ctx, &fx->o, &t), VG_EINVAL);
    vg_tracker_opts_default(&fx->o);
    fx->o.max_detections = 2;
    make(fx);
    for (int i = 0; i < 3; i++)
        d[i] = det(50.0f * (float)i, 0, 20, 40, 0.9f, 0);
    assert_int_equal(vg_tracker_update(fx->t, d, 3, fx->out, CAP, &n),
                     VG_ERANGE);
    assert_int_equal(vg_tracker_update(fx->t, d, -1, fx->out, CAP, &n),
                     VG_EINVAL);
    {
        vg_tracker_stats st;
        vg_tracker_stats_get(fx->t, &st);
        assert_int_equal(st.frames, 0);
    }
}

static void test_degenerate_detections_are_ignored(void **state)
{
    fixture *fx = *state;
    vg_tracker_stats st;
    vg_detection d[3] = {det(0, 0, 0, 40, 0.9f, 0), det(0, 0, 20, -1, 0.9f, 0),
                         det(NAN, 0, 20, 40, 0.9f, 0)};
    make(fx);
    step(fx, d, 3);
    step(fx, d, 3);
    vg_tracker_stats_get(fx->t, &st);
    assert_int_equal(st.created, 0);
}

static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* 100,000 objects, each alive 2..5 frames at a random place: the store
 * fills with lost tracks, then evicts; memory never moves. */
static void
test_footprint_stays_flat_over_100000_short_lived_objects(void **state)
{
    enum { OBJECTS = 100000, LIVE = 24 };
    fixture *fx = *state;
    struct obj {
        float x, y;
        int left;
    } live[LIVE];
    vg_detection d[LIVE];
    vg_alloc_stats a0, a1;
    vg_tracker_stats st0, st;
    uint32_t seed = 0x9e3779b9u;
    int spawned = 0, n_live = 0;
    int64_t max_id = 0, prev_max;
    make(fx);
    vg_tracker_stats_get(fx->t, &st0);
    vg_context_alloc_stats(fx->ctx, &a0);
    while (spawned < OBJECTS || n_live > 0) {
        int n = 0;
        /* retire and spawn */
        for (int i = 0; i < n_live;) {
            if (live[i].left == 0)
                live[i] = live[--n_live];
            else
                i++;
        }
        while (n_live < LIVE && spawned < OBJECTS) {
            live[n_live].x = (float)(next_rand(&seed) % 20000);
            live[n_live].y = (float)(next_rand(&seed) % 20000);
            live[n_live].left = 2 + (int)(next_rand(&seed) % 4);
            n_live++;
            spawned++;
        }
        for (int i = 0; i < n_live; i++) {
            d[n++] = det(live[i].x, live[i].y, 30, 60, 0.9f, 0);
            live[i].left--;
        }
        step(fx, d, n);
        prev_max = max_id;
        for (int i = 0; i < fx->n_out; i++) {
            assert_true(fx->out[i].id >= 1);
            /* a track confirmed now has an id above every id seen so far */
            if (fx->out[i].hits == 2 && fx->out[i].age == 2)
                assert_true(fx->out[i].id > prev_max);
            if (fx->out[i].id > max_id)
                max_id = fx->out[i].id;
        }
        vg_tracker_stats_get(fx->t, &st);
        assert_true(st.tentative + st.tracked + st.lost <= fx->o.max_tracks);
        assert_int_equal(st.bytes_held, st0.bytes_held);
    }
    vg_context_alloc_stats(fx->ctx, &a1);
    assert_int_equal(a1.allocs, a0.allocs);
    assert_int_equal(a1.frees, a0.frees);
    assert_int_equal(a1.failures, a0.failures);
    vg_tracker_stats_get(fx->t, &st);
    /* an object spawned over an old lost track may revive it instead */
    assert_true(st.created + st.refused <= OBJECTS);
    /* nearly every object became a track of its own with a fresh id */
    assert_true(st.confirmed > OBJECTS * 95 / 100);
    assert_int_equal(max_id, st.confirmed);
    assert_true(st.evicted > 0); /* the bound was reached and held */
}

static void test_ids_are_never_reused(void **state)
{
    fixture *fx = *state;
    int64_t last = 0;
    fx->o.fps = 10;
    fx->o.lost_seconds = 0.2;
    make(fx);
    for (int k = 0; k < 50; k++) {
        /* one object per round, always at the same place, gone long enough
         * to be removed before the next */
        for (int f = 0; f < 6; f++) {
            vg_detection d = det(10, 10, 30, 60, 0.9f, 0);
            step(fx, &d, f < 2 ? 1 : 0);
            if (fx->n_out == 1 && fx->out[0].id != last) {
                assert_true(fx->out[0].id > last);
                last = fx->out[0].id;
            }
        }
    }
    assert_int_equal(last, 50);
}

static void test_create_under_allocation_failure_leaks_nothing(void **state)
{
    fixture *fx = *state;
    int ok = 0;
    for (uint64_t nth = 1; nth < 20 && !ok; nth++) {
        vg_tracker *t = NULL;
        vg_alloc_stats a;
        int rc;
        vg_context_fail_alloc(fx->ctx, nth, 1);
        rc = vg_tracker_create(fx->ctx, &fx->o, &t);
        vg_context_fail_alloc(fx->ctx, 0, 0);
        if (rc == 0) {
            vg_detection d = det(1, 1, 10, 10, 0.9f, 0);
            int n;
            assert_int_equal(vg_tracker_update(t, &d, 1, NULL, 0, &n), 0);
            vg_tracker_destroy(&t);
            assert_null(t);
            ok = 1;
        } else {
            assert_int_equal(rc, VG_ENOMEM);
            assert_null(t);
        }
        vg_context_alloc_stats(fx->ctx, &a);
        assert_int_equal(a.allocs, a.frees);
    }
    assert_true(ok);
}

static void predict(fixture *fx)
{
    assert_int_equal(vg_tracker_predict(fx->t, fx->out, CAP, &fx->n_out), 0);
}

/* Frames the detector skips: the track stays TRACKED, keeps its id and its
 * box moves on with the filter's velocity. */
static void test_predicted_frames_move_the_track_on(void **state)
{
    fixture *fx = *state;
    int64_t id;
    make(fx);
    for (int f = 0; f < 10; f++) {
        vg_detection d = det(100.0f + 4.0f * (float)f, 50, 40, 80, 0.9f, 0);
        step(fx, &d, 1);
    }
    assert_int_equal(fx->n_out, 1);
    id = fx->out[0].id;
    for (int k = 1; k <= 4; k++) {
        float cx;
        predict(fx);
        assert_int_equal(fx->n_out, 1);
        assert_int_equal(fx->out[0].id, id);
        assert_int_equal(fx->out[0].state, VG_TRACK_TRACKED);
        assert_int_equal(fx->out[0].time_since_update, k);
        cx = fx->out[0].box.x + fx->out[0].box.w / 2;
        /* the object's centre would be at 120 + 4 * (9 + k) */
        assert_true(fabsf(cx - (120.0f + 4.0f * (float)(9 + k))) < 2.0f);
    }
    {
        vg_detection d = det(100.0f + 4.0f * 14.0f, 50, 40, 80, 0.9f, 0);
        step(fx, &d, 1);
    }
    assert_int_equal(fx->n_out, 1);
    assert_int_equal(fx->out[0].id, id);
    assert_int_equal(fx->out[0].time_since_update, 0);
}

/* Detection on one frame in five, prediction between: one id throughout,
 * and every frame after confirmation has the track. */
static void test_detection_every_fifth_frame_keeps_one_id(void **state)
{
    fixture *fx = *state;
    vg_tracker_stats st;
    make(fx);
    for (int f = 0; f < 60; f++) {
        if (f % 5 == 0) {
            vg_detection d = det(50.0f + 3.0f * (float)f, 60, 40, 80, 0.9f, 0);
            step(fx, &d, 1);
        } else {
            predict(fx);
        }
        if (f >= 5) {
            assert_int_equal(fx->n_out, 1);
            assert_int_equal(fx->out[0].id, 1);
        }
    }
    vg_tracker_stats_get(fx->t, &st);
    assert_int_equal(st.confirmed, 1);
    assert_int_equal(st.frames, 60);
}

/* A skipped frame is not a missed detection: a tentative track waits over
 * predicted frames and is confirmed by the next detection, where frames
 * with an empty detection set would have dropped it. */
static void test_predict_does_not_count_as_a_miss(void **state)
{
    fixture *fx = *state;
    vg_detection d = det(100, 50, 40, 80, 0.9f, 0);
    make(fx);
    step(fx, &d, 1); /* tentative */
    for (int k = 0; k < 4; k++) {
        predict(fx);
        assert_int_equal(fx->n_out, 0); /* not confirmed yet */
    }
    step(fx, &d, 1);
    assert_int_equal(fx->n_out, 1);
    assert_int_equal(fx->out[0].id, 1);
    vg_tracker_destroy(&fx->t);

    make(fx);
    step(fx, &d, 1);
    for (int k = 0; k < 4; k++)
        step(fx, NULL, 0); /* detector ran, saw nothing: dropped */
    step(fx, &d, 1);
    assert_int_equal(fx->n_out, 0);
}

/* The lost buffer is time: predicted frames count towards lost_seconds and
 * a lost track expires on one of them (listed as removed). */
static void test_lost_track_expires_over_predicted_frames(void **state)
{
    fixture *fx = *state;
    const int64_t *gone;
    int n_gone, removed_at = -1;
    fx->o.fps = 10;
    fx->o.lost_seconds = 1.0; /* 10 frames */
    make(fx);
    for (int f = 0; f < 10; f++) {
        vg_detection d = det(100.0f + 2.0f * (float)f, 50, 40, 80, 0.9f, 0);
        step(fx, &d, 1);
    }
    step(fx, NULL, 0); /* frame 10: missed, lost */
    for (int f = 11; f < 30; f++) {
        predict(fx);
        assert_int_equal(fx->n_out, 0); /* lost tracks are not written */
        vg_tracker_removed(fx->t, &gone, &n_gone);
        if (n_gone) {
            assert_int_equal(n_gone, 1);
            assert_int_equal(gone[0], 1);
            removed_at = f;
        }
    }
    /* last seen on frame 9: removed once 11 frames missing, as with updates */
    assert_int_equal(removed_at, 9 + 11);
    assert_int_equal(vg_tracker_predict(NULL, fx->out, CAP, &n_gone),
                     VG_EINVAL);
}

/* ByteTrack's fuse_score: in the first association the cost is 1 - IoU x
 * score, so a confident detection beats a slightly better-placed doubtful
 * one (A: IoU 0.8, score 0.55, cost 0.56; B: IoU 0.7, score 0.95, cost
 * 0.335). Without it (MOT20 mode) IoU alone decides. */
static void test_fuse_score_prefers_the_confident_detection(void **state)
{
    fixture *fx = *state;
    vg_detection d = det(100, 50, 40, 80, 0.9f, 0);
    /* IoU of a 40-wide box shifted by s: (40 - s) / (40 + s) */
    vg_detection two[2] = {det(100 + 40 * 0.2f / 1.8f, 50, 40, 80, 0.55f, 0),
                           det(100 - 40 * 0.3f / 1.7f, 50, 40, 80, 0.95f, 0)};
    for (int fuse = 1; fuse >= 0; fuse--) {
        fx->o.fuse_score = fuse;
        make(fx);
        for (int f = 0; f < 3; f++)
            step(fx, &d, 1);
        step(fx, two, 2);
        assert_int_equal(fx->n_out, 1);
        assert_int_equal(fx->out[0].id, 1);
        assert_float_equal(fx->out[0].det_box.x,
                           fuse ? two[1].box.x : two[0].box.x, 1e-4);
        vg_tracker_destroy(&fx->t);
    }
}

/* remove_duplicate_stracks: two tracks on one person (IoU 0.9); when the
 * detector reports the person once, one track is matched and the other
 * lost, and the pair (IoU distance < 0.15) is one object: the track tracked
 * for fewer frames goes at once instead of lingering in the lost buffer. */
static void test_duplicate_lost_track_is_removed(void **state)
{
    fixture *fx = *state;
    vg_detection pair[2] = {det(100, 50, 40, 80, 0.9f, 0),
                            det(102, 50, 40, 80, 0.9f, 0)};
    vg_tracker_stats st;
    const int64_t *gone;
    int n_gone;
    make(fx);
    step(fx, pair, 2);
    step(fx, pair, 2);
    assert_int_equal(fx->n_out, 2);
    step(fx, pair, 1); /* only the box at x = 100 */
    assert_int_equal(fx->n_out, 1);
    assert_int_equal(fx->out[0].id, 1);
    vg_tracker_removed(fx->t, &gone, &n_gone);
    assert_int_equal(n_gone, 1);
    assert_int_equal(gone[0], 2); /* lost, and tracked for fewer frames */
    vg_tracker_stats_get(fx->t, &st);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.lost, 0);
}

/* ... and when the matched one is the younger, the older lost one stays and
 * the younger goes, as the reference (it keeps the longer history). */
static void test_duplicate_keeps_the_older_track(void **state)
{
    fixture *fx = *state;
    vg_detection old_box = det(102, 50, 40, 80, 0.9f, 0);
    vg_detection both[2] = {det(100, 50, 40, 80, 0.9f, 0), old_box};
    vg_tracker_stats st;
    const int64_t *gone;
    int n_gone;
    make(fx);
    for (int f = 0; f < 3; f++)
        step(fx, &old_box, 1); /* id 1 from frame 1 */
    for (int f = 0; f < 3; f++)
        step(fx, both, 2); /* id 2 at x = 100 from frame 4 */
    assert_int_equal(fx->n_out, 2);
    step(fx, both, 1); /* x = 100 only: id 2 matched, id 1 lost */
    assert_int_equal(fx->n_out, 0);
    vg_tracker_removed(fx->t, &gone, &n_gone);
    assert_int_equal(n_gone, 1);
    assert_int_equal(gone[0], 2);
    vg_tracker_stats_get(fx->t, &st);
    assert_int_equal(st.lost, 1);
    step(fx, both, 1);
    assert_int_equal(fx->n_out, 1);
    assert_int_equal(fx->out[0].id, 1); /* the older one comes back */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_crossing_objects_keep_their_ids),
        T(test_ids_start_at_one),
        T(test_gap_shorter_than_lost_buffer_keeps_the_id),
        T(test_gap_longer_than_lost_buffer_ends_the_track),
        T(test_low_score_detections_keep_a_track_alive),
        T(test_low_score_detections_alone_start_no_track),
        T(test_flickering_detection_keeps_one_id),
        T(test_detections_only_match_tracks_of_their_class),
        T(test_class_agnostic_matching_crosses_classes),
        T(test_output_box_is_filtered_and_det_box_is_the_detection),
        T(test_full_store_refuses_then_evicts_lost_tracks),
        T(test_reset_ends_every_track_and_ids_keep_counting),
        T(test_bad_options_and_oversized_frames_are_rejected),
        T(test_degenerate_detections_are_ignored),
        T(test_footprint_stays_flat_over_100000_short_lived_objects),
        T(test_ids_are_never_reused),
        T(test_create_under_allocation_failure_leaks_nothing),
        T(test_predicted_frames_move_the_track_on),
        T(test_detection_every_fifth_frame_keeps_one_id),
        T(test_predict_does_not_count_as_a_miss),
        T(test_lost_track_expires_over_predicted_frames),
        T(test_fuse_score_prefers_the_confident_detection),
        T(test_duplicate_lost_track_is_removed),
        T(test_duplicate_keeps_the_older_track),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
