/* Tests of the MOT evaluator (TrackEval's CLEAR, Identity and HOTA) on small
 * cases worked out by hand, of the scene generator, and floors for the
 * tracker on the benchmark scenes (plain ByteTrack and conditional ReID). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/mot.h"

static vg_mot_row row(int frame, int id, float x, float w)
{
    vg_mot_row r;
    r.frame = frame;
    r.id = id;
    r.box.x = x;
    r.box.y = 0;
    r.box.w = w;
    r.box.h = 10;
    r.score = 1;
    return r;
}

static void eval(const vg_mot_row *gt, int ng, const vg_mot_row *trk, int nt,
                 vg_mot_metrics *m)
{
    vg_context *ctx;
    vg_alloc_stats st;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_mot_evaluate(ctx, gt, ng, trk, nt, m), 0);
    vg_context_alloc_stats(ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&ctx);
}

/* Two people over five frames, tracked exactly (rows in any order, any
 * ids): every figure is 1. */
static void test_perfect_tracking_scores_one(void **state)
{
    vg_mot_row gt[10], trk[10];
    vg_mot_metrics m;
    (void)state;
    for (int f = 1; f <= 5; f++) {
        gt[2 * (f - 1)] = row(f, 1, 10.0f * f, 10);
        gt[2 * (f - 1) + 1] = row(f, 2, 100, 10);
        trk[10 - 2 * f] = row(f, 77, 100, 10);
        trk[11 - 2 * f] = row(f, 5, 10.0f * f, 10);
    }
    eval(gt, 10, trk, 10, &m);
    assert_float_equal(m.mota, 1.0, 1e-12);
    assert_float_equal(m.idf1, 1.0, 1e-12);
    assert_float_equal(m.hota, 1.0, 1e-12);
    assert_float_equal(m.deta, 1.0, 1e-12);
    assert_float_equal(m.assa, 1.0, 1e-12);
    assert_int_equal(m.tp, 10);
    assert_int_equal(m.fp + m.fn + m.idsw, 0);
    assert_int_equal(m.gt_ids, 2);
    assert_int_equal(m.trk_ids, 2);
}

/* One person over four frames; the tracker calls it 10 in frames 1-2 and
 * 20 in frames 3-4, boxes exact.
 * CLEAR: TP 4, FP 0, FN 0, one switch: MOTA = (4 - 0 - 1) / 4 = 0.75.
 * Identity: the best id matching gives gt 1 <-> 10 (2 frames): IDTP 2,
 * IDFN 4 - 2 = 2, IDFP 4 - 2 = 2: IDF1 = 2 / (2 + 1 + 1) = 0.5.
 * HOTA (every alpha alike, IoU 1): DetA = 4 / 4 = 1. Each pair (1,10) and
 * (1,20) has 2 matches; its A = 2 / (4 + 2 - 2) = 0.5; AssA = sum over
 * matches of A / TP = (2 x 0.5 + 2 x 0.5) / 4 = 0.5; HOTA = sqrt(1 x 0.5). */
static void test_id_switch(void **state)
{
    vg_mot_row gt[4], trk[4];
    vg_mot_metrics m;
    (void)state;
    for (int f = 1; f <= 4; f++) {
        gt[f - 1] = row(f, 1, 10, 10);
        trk[f - 1] = row(f, f <= 2 ? 10 : 20, 10, 10);
    }
    eval(gt, 4, trk, 4, &m);
    assert_int_equal(m.tp, 4);
    assert_int_equal(m.idsw, 1);
    assert_float_equal(m.mota, 0.75, 1e-12);
    assert_int_equal(m.idtp, 2);
    assert_int_equal(m.idfn, 2);
    assert_int_equal(m.idfp, 2);
    assert_float_equal(m.idf1, 0.5, 1e-12);
    assert_float_equal(m.deta, 1.0, 1e-12);
    assert_float_equal(m.assa, 0.5, 1e-12);
    assert_float_equal(m.hota, sqrt(0.5), 1e-12);
}

/* Two people over two frames; in frame 2 the tracker misses person 2 and
 * reports a box where nobody is. CLEAR: TP 3, FN 1, FP 1, no switch: MOTA =
 * (3 - 1 - 0) / 4 = 0.5. Identity: 1 <-> 1 (2), 2 <-> 2 (1): IDTP 3, IDFN 1,
 * IDFP 1: IDF1 = 3 / (3 + 0.5 + 0.5) = 0.75. */
static void test_false_positive_and_miss(void **state)
{
    vg_mot_row gt[4] = {row(1, 1, 0, 10), row(1, 2, 50, 10), row(2, 1, 0, 10),
                        row(2, 2, 50, 10)};
    vg_mot_row trk[4] = {row(1, 1, 0, 10), row(1, 2, 50, 10), row(2, 1, 0, 10),
                         row(2, 3, 300, 10)};
    vg_mot_metrics m;
    (void)state;
    eval(gt, 4, trk, 4, &m);
    assert_int_equal(m.tp, 3);
    assert_int_equal(m.fn, 1);
    assert_int_equal(m.fp, 1);
    assert_int_equal(m.idsw, 0);
    assert_float_equal(m.mota, 0.5, 1e-12);
    assert_float_equal(m.idf1, 0.75, 1e-12);
}

/* One person over ten frames; the tracker follows it as id 1 for frames
 * 1-6 and as id 2 for frames 7-10. Identity keeps the longer: IDTP 6, IDFN
 * 4, IDFP 4: IDF1 = 6 / (6 + 2 + 2) = 0.6, while MOTA = (10 - 1) / 10. A
 * frame with no ground truth and a tracker box there is a plain FP. */
static void test_idf1_keeps_the_longest_identity(void **state)
{
    vg_mot_row gt[10], trk[11];
    vg_mot_metrics m;
    (void)state;
    for (int f = 1; f <= 10; f++) {
        gt[f - 1] = row(f, 4, 5.0f * f, 10);
        trk[f - 1] = row(f, f <= 6 ? 1 : 2, 5.0f * f, 10);
    }
    trk[10] = row(11, 2, 0, 10);
    eval(gt, 10, trk, 11, &m);
    assert_int_equal(m.idtp, 6);
    assert_int_equal(m.idfn, 4);
    assert_int_equal(m.idfp, 5);
    assert_float_equal(m.idf1, 6.0 / (6.0 + 2.5 + 2.0), 1e-12);
    assert_int_equal(m.fp, 1);
    assert_float_equal(m.mota, (10.0 - 1 - 1) / 10.0, 1e-12);
}

/* One person in one frame; the tracker's box is 6.2 wide where the person's
 * is 10 (same left edge, same height): IoU = 62 / 100 = 0.62. HOTA matches
 * it at alpha 0.05 .. 0.60 (12 of the 19 alphas) with DetA = AssA = 1, and
 * at 0.65 .. 0.95 not at all (TP 0, FN 1, FP 1: DetA 0), so HOTA = 12 / 19;
 * LocA is 0.62 where matched and, by TrackEval's max(1e-10, .) / max(1e-10,
 * .), 1 where nothing matched: (12 x 0.62 + 7) / 19. CLEAR matches at IoU >=
 * 0.5: MOTA 1, MOTP 0.62. */
static void test_hota_over_alphas(void **state)
{
    vg_mot_row gt[1] = {row(1, 1, 0, 10)};
    vg_mot_row trk[1] = {row(1, 9, 0, 6.2f)};
    vg_mot_metrics m;
    (void)state;
    eval(gt, 1, trk, 1, &m);
    for (int a = 0; a < VG_MOT_ALPHAS; a++)
        assert_float_equal(m.hota_alpha[a], a < 12 ? 1.0 : 0.0, 1e-12);
    assert_float_equal(m.hota, 12.0 / 19.0, 1e-12);
    assert_float_equal(m.loca, (12 * 0.62 + 7) / 19, 1e-6);
    assert_float_equal(m.mota, 1.0, 1e-12);
    assert_float_equal(m.motp, 0.62, 1e-6);
}

/* CLEAR keeps last frame's match while its IoU is >= 0.5 even when another
 * box fits better (TrackEval's 1000 bonus): no switch is counted. */
static void test_clear_keeps_the_previous_match(void **state)
{
    vg_mot_row gt[2] = {row(1, 1, 0, 10), row(2, 1, 0, 10)};
    vg_mot_row trk[3] = {row(1, 1, 0, 10), row(2, 1, 2, 10), row(2, 2, 0, 10)};
    vg_mot_metrics m;
    (void)state;
    eval(gt, 2, trk, 3, &m);
    assert_int_equal(m.idsw, 0);
    assert_int_equal(m.tp, 2);
    assert_int_equal(m.fp, 1);
}

static void test_bad_rows_are_rejected(void **state)
{
    vg_context *ctx;
    vg_mot_metrics m;
    vg_mot_row gt[2] = {row(1, 1, 0, 10), row(1, 1, 20, 10)};
    vg_mot_row bad = row(0, 1, 0, 10);
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_mot_evaluate(ctx, gt, 2, gt, 1, &m), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "twice"));
    assert_int_equal(vg_mot_evaluate(ctx, &bad, 1, gt, 1, &m), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "frame 0"));
    assert_int_equal(vg_mot_evaluate(ctx, NULL, 1, gt, 1, &m), VG_EINVAL);
    vg_context_destroy(&ctx);
}

static void test_scene_is_deterministic(void **state)
{
    vg_context *ctx;
    vg_mot_scene_opts o;
    vg_mot_scene *a, *b, *c;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_mot_scene_preset("crossing", &o), 0);
    o.frames = 60;
    assert_int_equal(vg_mot_scene_generate(ctx, &o, &a), 0);
    assert_int_equal(vg_mot_scene_generate(ctx, &o, &b), 0);
    o.seed++;
    assert_int_equal(vg_mot_scene_generate(ctx, &o, &c), 0);
    assert_true(a->n_gt > 60 * 10);
    assert_true(a->n_det > 0 && a->n_det < a->n_gt + 60 * 5);
    assert_int_equal(a->n_gt, b->n_gt);
    assert_int_equal(a->n_det, b->n_det);
    assert_memory_equal(a->gt, b->gt, (size_t)a->n_gt * sizeof(vg_mot_row));
    assert_memory_equal(a->det, b->det, (size_t)a->n_det * sizeof(vg_mot_row));
    assert_memory_equal(a->appearance, b->appearance,
                        (size_t)a->n_det * a->appearance_dim * sizeof(float));
    assert_true(a->n_det != c->n_det ||
                memcmp(a->det, c->det, (size_t)a->n_det * sizeof(vg_mot_row)));
    assert_int_equal(a->frame_start[60], a->n_det);
    assert_int_equal(vg_mot_scene_preset("nope", &o), VG_EINVAL);
    vg_mot_scene_destroy(ctx, &b);
    o.walkers = 0;
    assert_int_equal(vg_mot_scene_generate(ctx, &o, &b), VG_EINVAL);
    assert_null(b);
    assert_non_null(strstr(vg_context_errmsg(ctx), "walkers"));
    vg_mot_scene_destroy(ctx, &a);
    vg_mot_scene_destroy(ctx, &c);
    vg_context_destroy(&ctx);
}

static void run(const char *preset, int reid, vg_mot_run_result *r)
{
    vg_context *ctx;
    vg_mot_scene_opts o;
    vg_mot_scene *sc;
    vg_reid_opts ro;
    vg_alloc_stats st;
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_mot_scene_preset(preset, &o), 0);
    assert_int_equal(vg_mot_scene_generate(ctx, &o, &sc), 0);
    vg_reid_opts_default(&ro);
    assert_int_equal(vg_mot_run(ctx, sc, NULL, reid ? &ro : NULL, 1, r), 0);
    assert_int_equal(r->update_allocs, 0); /* none per frame */
    vg_mot_scene_destroy(ctx, &sc);
    vg_context_alloc_stats(ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&ctx);
}

/* Floors: slightly below the first measurement (docs/tracking.md,
 * bench/README.md); the scenes are deterministic, so a drop is a change in
 * the tracker or the evaluator. */
static void test_bytetrack_stays_above_its_floors(void **state)
{
    static const struct {
        const char *preset;
        double mota, idf1, hota;
    } floors[] = {
        {"easy", 0.93, 0.91, 0.87},
        {"crowded", 0.80, 0.83, 0.68},
        {"crossing", 0.80, 0.80, 0.69},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(floors) / sizeof(floors[0]); i++) {
        vg_mot_run_result r;
        run(floors[i].preset, 0, &r);
        print_message("%-8s MOTA %.3f IDF1 %.3f HOTA %.3f IDSW %lld\n",
                      floors[i].preset, r.m.mota, r.m.idf1, r.m.hota,
                      (long long)r.m.idsw);
        assert_true(r.m.mota >= floors[i].mota);
        assert_true(r.m.idf1 >= floors[i].idf1);
        assert_true(r.m.hota >= floors[i].hota);
    }
}

/* On the crossing-heavy scene, conditional ReID switches identities less
 * than plain ByteTrack (14 -> 6, IDF1 0.823 -> 0.839) while embedding a
 * small fraction of the detections (0.136 with risk_iou 0.3 and only the
 * detections that could match a track at risk; 0.38 with the first rule). */
static void test_reid_lowers_id_switches_on_crossings(void **state)
{
    vg_mot_run_result plain, reid;
    (void)state;
    run("crossing", 0, &plain);
    run("crossing", 1, &reid);
    print_message("plain IDSW %lld IDF1 %.3f; reid IDSW %lld IDF1 %.3f "
                  "activation %.3f rescued %lld\n",
                  (long long)plain.m.idsw, plain.m.idf1, (long long)reid.m.idsw,
                  reid.m.idf1, reid.activation,
                  (long long)reid.stats.reid_rescued);
    assert_true(reid.m.idsw * 2 <= plain.m.idsw);
    assert_true(reid.m.idf1 >= plain.m.idf1);
    assert_true(reid.activation > 0 && reid.activation < 0.2);
    assert_true(reid.stats.reid_rescued > 0);
    assert_int_equal(plain.stats.reid_embedded, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perfect_tracking_scores_one),
        cmocka_unit_test(test_id_switch),
        cmocka_unit_test(test_false_positive_and_miss),
        cmocka_unit_test(test_idf1_keeps_the_longest_identity),
        cmocka_unit_test(test_hota_over_alphas),
        cmocka_unit_test(test_clear_keeps_the_previous_match),
        cmocka_unit_test(test_bad_rows_are_rejected),
        cmocka_unit_test(test_scene_is_deterministic),
        cmocka_unit_test(test_bytetrack_stays_above_its_floors),
        cmocka_unit_test(test_reid_lowers_id_switches_on_crossings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
