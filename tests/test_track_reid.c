/* Tests of the tracker's conditional re-identification: embeddings are asked
 * for only when identity is at risk, and appearance keeps identities that
 * IoU and constant-velocity motion alone would swap. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/track.h"

#define CAP 16
#define DIM 8

/* The detections of the frame in progress and who they show (0 or 1). */
typedef struct scene {
    int who[CAP];
    int calls;
    int fail;
} scene;

static int embed(void *user, int det_index, float *out, int dim)
{
    scene *sc = user;
    sc->calls++;
    if (sc->fail)
        return VG_EIO;
    for (int i = 0; i < dim; i++)
        out[i] = 0;
    out[sc->who[det_index] % dim] = 1; /* orthogonal identities */
    return 0;
}

static vg_detection det(float x, float y, float score)
{
    vg_detection d;
    memset(&d, 0, sizeof(d));
    d.box.x = x;
    d.box.y = y;
    d.box.w = 40;
    d.box.h = 80;
    d.score = score;
    return d;
}

/* Two people walk towards each other, overlap, and walk back the way they
 * came: constant-velocity motion predicts that they carry on, so IoU alone
 * gives each the other's id. Returns the id that object 0 has at the end
 * and the id it had before they met. */
static void bounce(vg_tracker *t, scene *sc, int64_t *before, int64_t *after)
{
    vg_track out[CAP];
    int n;
    *before = *after = 0;
    for (int f = 0; f < 40; f++) {
        /* positions: approach 6 px/frame for 20 frames, then go back */
        float step = f < 20 ? (float)f : (float)(40 - f);
        float xa = 100 + 6 * step, xb = 260 - 6 * step;
        vg_detection d[2];
        int first = f % 2; /* the order within a frame changes */
        d[first] = det(xa, 100, 0.9f);
        d[1 - first] = det(xb, 100, 0.9f);
        sc->who[first] = 0;
        sc->who[1 - first] = 1;
        assert_true(vg_tracker_update(t, d, 2, out, CAP, &n) >= 0);
        for (int i = 0; i < n; i++) {
            if (out[i].det_box.x != xa)
                continue;
            if (f == 10)
                *before = out[i].id;
            if (f == 39)
                *after = out[i].id;
        }
    }
}

static void test_iou_alone_swaps_ids_when_people_turn_back(void **state)
{
    vg_context *ctx;
    vg_tracker *t;
    scene sc = {0};
    int64_t before, after;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_tracker_create(ctx, NULL, &t), 0);
    bounce(t, &sc, &before, &after);
    assert_true(before > 0);
    assert_true(after > 0);
    assert_true(after != before); /* the failure ReID is there for */
    vg_tracker_destroy(&t);
    vg_context_destroy(&ctx);
}

static void test_reid_keeps_ids_when_people_turn_back(void **state)
{
    vg_context *ctx;
    vg_tracker *t;
    vg_reid_opts ro;
    vg_tracker_stats st;
    scene sc = {0};
    int64_t before, after;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_tracker_create(ctx, NULL, &t), 0);
    vg_reid_opts_default(&ro);
    ro.dim = DIM;
    ro.embed = embed;
    ro.user = &sc;
    assert_int_equal(vg_tracker_set_reid(t, &ro), 0);
    bounce(t, &sc, &before, &after);
    assert_true(before > 0);
    assert_int_equal(after, before);
    vg_tracker_stats_get(t, &st);
    assert_int_equal(st.reid_detections, 80);
    assert_int_equal(st.reid_embedded, sc.calls);
    assert_true(st.reid_embedded > 0);
    assert_true(st.reid_embedded < 40); /* only around the meeting */
    assert_true(st.reid_rescued >= 1);
    assert_int_equal(st.reid_failed, 0);
    assert_int_equal(st.confirmed, 2);
    vg_tracker_destroy(&t);
    vg_context_destroy(&ctx);
}

static void test_reid_embeds_nothing_while_tracks_are_apart(void **state)
{
    vg_context *ctx;
    vg_tracker *t;
    vg_reid_opts ro;
    vg_tracker_stats st;
    vg_track out[CAP];
    scene sc = {0};
    int n;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_tracker_create(ctx, NULL, &t), 0);
    vg_reid_opts_default(&ro);
    ro.dim = DIM;
    ro.embed = embed;
    ro.user = &sc;
    assert_int_equal(vg_tracker_set_reid(t, &ro), 0);
    for (int f = 0; f < 30; f++) {
        vg_detection d[2] = {det(100 + 2 * (float)f, 100, 0.9f),
                             det(400 - 2 * (float)f, 300, 0.9f)};
        sc.who[1] = 1;
        assert_int_equal(vg_tracker_update(t, d, 2, out, CAP, &n), 0);
        for (int i = 0; i < n; i++)
            assert_int_equal(out[i].reid_ran, 0);
    }
    vg_tracker_stats_get(t, &st);
    assert_int_equal(sc.calls, 0);
    assert_int_equal(st.reid_embedded, 0);
    assert_int_equal(st.reid_detections, 60);
    vg_tracker_destroy(&t);
    vg_context_destroy(&ctx);
}

static void test_embed_errors_are_counted_and_returned(void **state)
{
    vg_context *ctx;
    vg_tracker *t;
    vg_reid_opts ro;
    vg_tracker_stats st;
    vg_track out[CAP];
    scene sc = {0};
    int n, rc, errors = 0;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_tracker_create(ctx, NULL, &t), 0);
    vg_reid_opts_default(&ro);
    ro.dim = DIM;
    ro.embed = embed;
    ro.user = &sc;
    sc.fail = 1;
    assert_int_equal(vg_tracker_set_reid(t, &ro), 0);
    for (int f = 0; f < 20; f++) {
        /* two overlapping people standing side by side */
        vg_detection d[2] = {det(100, 100, 0.9f), det(120, 100, 0.9f)};
        sc.who[1] = 1;
        rc = vg_tracker_update(t, d, 2, out, CAP, &n);
        assert_true(rc == 0 || rc == VG_EIO);
        errors += rc == VG_EIO;
        if (f > 0)
            assert_int_equal(n, 2); /* still tracked by IoU */
    }
    vg_tracker_stats_get(t, &st);
    assert_true(errors > 0);
    assert_int_equal(st.reid_failed, sc.calls);
    assert_int_equal(st.reid_embedded, 0);
    vg_tracker_destroy(&t);
    vg_context_destroy(&ctx);
}

static void test_bad_reid_options_are_rejected(void **state)
{
    vg_context *ctx;
    vg_tracker *t;
    vg_reid_opts ro;
    vg_tracker_stats st0, st;
    scene sc = {0};
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_tracker_create(ctx, NULL, &t), 0);
    vg_tracker_stats_get(t, &st0);
    vg_reid_opts_default(&ro);
    assert_int_equal(vg_tracker_set_reid(t, &ro), VG_EINVAL); /* no embed */
    assert_non_null(strstr(vg_context_errmsg(ctx), "embed"));
    ro.embed = embed;
    ro.user = &sc;
    ro.dim = 0;
    assert_int_equal(vg_tracker_set_reid(t, &ro), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "dim"));
    ro.dim = DIM;
    ro.weight = 1.5f;
    assert_int_equal(vg_tracker_set_reid(t, &ro), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "weight"));
    ro.weight = 0.5f;
    ro.risk_iou = 1.0f;
    assert_int_equal(vg_tracker_set_reid(t, &ro), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "risk_iou"));
    ro.risk_iou = 0;
    assert_int_equal(vg_tracker_set_reid(t, &ro), 0);
    vg_tracker_stats_get(t, &st);
    assert_true(st.bytes_held > st0.bytes_held);
    assert_int_equal(vg_tracker_set_reid(t, NULL), 0); /* off: freed */
    vg_tracker_stats_get(t, &st);
    assert_int_equal(st.bytes_held, st0.bytes_held);
    assert_int_equal(vg_tracker_set_reid(NULL, &ro), VG_EINVAL);
    vg_tracker_destroy(&t);
    vg_context_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iou_alone_swaps_ids_when_people_turn_back),
        cmocka_unit_test(test_reid_keeps_ids_when_people_turn_back),
        cmocka_unit_test(test_reid_embeds_nothing_while_tracks_are_apart),
        cmocka_unit_test(test_embed_errors_are_counted_and_returned),
        cmocka_unit_test(test_bad_reid_options_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
