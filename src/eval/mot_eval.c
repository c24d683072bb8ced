/* MOTA, IDF1 and HOTA with TrackEval's definitions (trackeval/metrics/
 * clear.py, identity.py, hota.py) on box IoU: see include/vigil/mot.h and
 * docs/tracking.md. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "track/track_internal.h"
#include "vigil/mot.h"

#define CLEAR_THRESHOLD 0.5 /* CLEAR and Identity: IoU >= 0.5 is a match */
#define EPS DBL_EPSILON
#define CLEAR_CONTINUE_BONUS 1000.0

typedef struct ev {
    vg_context *ctx;
    /* ids: sorted unique values, rows mapped to dense indices */
    int *gt_ids, *trk_ids;
    int n_gt_ids, n_trk_ids;
    int *gt_of, *trk_of;       /* per row: dense id */
    int *gt_order, *trk_order; /* row indices sorted by frame */
    int max_frame, max_g, max_t;
    /* per frame */
    int *fg, *ft; /* rows of the frame */
    double *sim;  /* max_g x max_t */
    double *row_sum, *col_sum;
    float *cost;
    int *r2c, *c2r;
    void *lap;
    /* per identity pair */
    double *hota_pot;  /* G x T */
    int *id_pot;       /* G x T, frames with IoU >= 0.5 */
    int *match_counts; /* VG_MOT_ALPHAS x G x T */
    int *gt_count, *trk_count;
    int *prev_id, *prev_step_id; /* per gt id: tracker id or -1 */
} ev;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* rows, for sorting indices by frame (stable by index) */
typedef struct sort_key {
    int frame, index;
} sort_key;

static int cmp_key(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->frame != y->frame)
        return (x->frame > y->frame) - (x->frame < y->frame);
    return (x->index > y->index) - (x->index < y->index);
}

static int check_rows(vg_context *ctx, const char *side, const vg_mot_row *r,
                      int n)
{
    for (int i = 0; i < n; i++) {
        const vg_box *b = &r[i].box;
        if (r[i].frame < 1)
            return vg_fail(ctx, VG_EINVAL,
                           "mot evaluate: %s row %d: frame %d, expected >= 1",
                           side, i, r[i].frame);
        if (!isfinite(b->x) || !isfinite(b->y) || !isfinite(b->w) ||
            !isfinite(b->h) || b->w < 0 || b->h < 0)
            return vg_fail(ctx, VG_EINVAL,
                           "mot evaluate: %s row %d: box not finite or of "
                           "negative size",
                           side, i);
    }
    return 0;
}

/* Sorted unique ids of rows into *ids, the dense index of each row into
 * of[], and the row order by frame into order[]. */
static int index_rows(ev *e, const vg_mot_row *r, int n, int **ids, int *nids,
                      int *of, int *order, int *max_per_frame)
{
    int *v = vg_malloc(e->ctx, (size_t)(n ? n : 1) * sizeof(int));
    sort_key *k = vg_malloc(e->ctx, (size_t)(n ? n : 1) * sizeof(sort_key));
    int m = 0, run = 0;
    if (!v || !k) {
        vg_free(e->ctx, v);
        vg_free(e->ctx, k);
        return VG_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        v[i] = r[i].id;
    qsort(v, (size_t)n, sizeof(int), cmp_int);
    for (int i = 0; i < n; i++)
        if (m == 0 || v[m - 1] != v[i])
            v[m++] = v[i];
    for (int i = 0; i < n; i++) {
        int *p = bsearch(&r[i].id, v, (size_t)m, sizeof(int), cmp_int);
        of[i] = (int)(p - v);
        k[i].frame = r[i].frame;
        k[i].index = i;
        if (r[i].frame > e->max_frame)
            e->max_frame = r[i].frame;
    }
    qsort(k, (size_t)n, sizeof(sort_key), cmp_key);
    *max_per_frame = 0;
    for (int i = 0; i < n; i++) {
        order[i] = k[i].index;
        run = (i > 0 && k[i].frame == k[i - 1].frame) ? run + 1 : 1;
        if (run > *max_per_frame)
            *max_per_frame = run;
    }
    vg_free(e->ctx, k);
    *ids = v;
    *nids = m;
    return 0;
}

static double box_iou(const vg_box *a, const vg_box *b)
{
    double x0 = fmax(a->x, b->x), y0 = fmax(a->y, b->y);
    double x1 = fmin((double)a->x + a->w, (double)b->x + b->w);
    double y1 = fmin((double)a->y + a->h, (double)b->y + b->h);
    double inter = fmax(0, x1 - x0) * fmax(0, y1 - y0);
    double uni = (double)a->w * a->h + (double)b->w * b->h - inter;
    return uni > 0 ? inter / uni : 0;
}

static void ev_free(ev *e)
{
    void *p[] = {e->gt_ids,   e->trk_ids,   e->gt_of,   e->trk_of,
                 e->gt_order, e->trk_order, e->fg,      e->ft,
                 e->sim,      e->cost,      e->r2c,     e->c2r,
                 e->lap,      e->hota_pot,  e->id_pot,  e->match_counts,
                 e->gt_count, e->trk_count, e->prev_id, e->prev_step_id,
                 e->row_sum,  e->col_sum};
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
        vg_free(e->ctx, p[i]);
}

/* Frame f's rows: gt rows e->fg[0..*ng), tracker rows e->ft[0..*nt), and
 * their IoU in e->sim. *gi and *ti walk the sorted orders. */
static void frame_rows(ev *e, int f, const vg_mot_row *gt, int n_gt,
                       const vg_mot_row *trk, int n_trk, int *gi, int *ti,
                       int *ng, int *nt)
{
    *ng = *nt = 0;
    while (*gi < n_gt && gt[e->gt_order[*gi]].frame == f)
        e->fg[(*ng)++] = e->gt_order[(*gi)++];
    while (*ti < n_trk && trk[e->trk_order[*ti]].frame == f)
        e->ft[(*nt)++] = e->trk_order[(*ti)++];
    for (int i = 0; i < *ng; i++)
        for (int j = 0; j < *nt; j++)
            e->sim[i * *nt + j] =
                box_iou(&gt[e->fg[i]].box, &trk[e->ft[j]].box);
}

static int check_unique(ev *e, const char *side, const int *rows, int n,
                        const int *of, int f)
{
    /* ids of one frame: n is small; quadratic is fine */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (of[rows[i]] == of[rows[j]])
                return vg_fail(e->ctx, VG_EINVAL,
                               "mot evaluate: %s rows %d and %d: the same id "
                               "twice in frame %d",
                               side, rows[i], rows[j], f);
    return 0;
}

int vg_mot_evaluate(vg_context *ctx, const vg_mot_row *gt, int n_gt,
                    const vg_mot_row *trk, int n_trk, vg_mot_metrics *out)
{
    ev e;
    int rc, G, T, gi, ti, ng, nt;
    size_t gt_pairs;
    int64_t hota_tp[VG_MOT_ALPHAS] = {0}, hota_fn[VG_MOT_ALPHAS] = {0},
            hota_fp[VG_MOT_ALPHAS] = {0};
    double loca[VG_MOT_ALPHAS] = {0}, motp_sum = 0;

    if (!out || n_gt < 0 || n_trk < 0 || (n_gt > 0 && !gt) ||
        (n_trk > 0 && !trk))
        return VG_EINVAL;
    memset(out, 0, sizeof(*out));
    if ((rc = check_rows(ctx, "ground truth", gt, n_gt)) < 0 ||
        (rc = check_rows(ctx, "tracker", trk, n_trk)) < 0)
        return rc;
    memset(&e, 0, sizeof(e));
    e.ctx = ctx;
    rc = VG_ENOMEM;
    e.gt_of = vg_malloc(ctx, (size_t)(n_gt + 1) * sizeof(int));
    e.trk_of = vg_malloc(ctx, (size_t)(n_trk + 1) * sizeof(int));
    e.gt_order = vg_malloc(ctx, (size_t)(n_gt + 1) * sizeof(int));
    e.trk_order = vg_malloc(ctx, (size_t)(n_trk + 1) * sizeof(int));
    if (!e.gt_of || !e.trk_of || !e.gt_order || !e.trk_order)
        goto fail;
    if (index_rows(&e, gt, n_gt, &e.gt_ids, &e.n_gt_ids, e.gt_of, e.gt_order,
                   &e.max_g) < 0 ||
        index_rows(&e, trk, n_trk, &e.trk_ids, &e.n_trk_ids, e.trk_of,
                   e.trk_order, &e.max_t) < 0)
        goto fail;
    G = e.n_gt_ids;
    T = e.n_trk_ids;
    gt_pairs = (size_t)(G ? G : 1) * (size_t)(T ? T : 1);
    e.fg = vg_malloc(ctx, (size_t)(e.max_g + 1) * sizeof(int));
    e.ft = vg_malloc(ctx, (size_t)(e.max_t + 1) * sizeof(int));
    e.sim = vg_malloc(ctx, (size_t)(e.max_g + 1) * (size_t)(e.max_t + 1) *
                               sizeof(double));
    e.cost = vg_malloc(ctx, (size_t)(e.max_g + 1) * (size_t)(e.max_t + 1) *
                                sizeof(float));
    e.r2c = vg_malloc(ctx, (size_t)(e.max_g + 1) * sizeof(int));
    e.row_sum = vg_malloc(ctx, (size_t)(e.max_g + 1) * sizeof(double));
    e.col_sum = vg_malloc(ctx, (size_t)(e.max_t + 1) * sizeof(double));
    e.c2r = vg_malloc(ctx, (size_t)(e.max_t + 1) * sizeof(int));
    e.lap = vg_malloc(ctx, vgi_lap_scratch_bytes(e.max_g + 1, e.max_t + 1));
    e.hota_pot = vg_calloc(ctx, gt_pairs, sizeof(double));
    e.id_pot = vg_calloc(ctx, gt_pairs, sizeof(int));
    e.match_counts = vg_calloc(ctx, gt_pairs * VG_MOT_ALPHAS, sizeof(int));
    e.gt_count = vg_calloc(ctx, (size_t)(G + 1), sizeof(int));
    e.trk_count = vg_calloc(ctx, (size_t)(T + 1), sizeof(int));
    e.prev_id = vg_malloc(ctx, (size_t)(G + 1) * sizeof(int));
    e.prev_step_id = vg_malloc(ctx, (size_t)(G + 1) * sizeof(int));
    if (!e.row_sum || !e.col_sum || !e.fg || !e.ft || !e.sim || !e.cost ||
        !e.r2c || !e.c2r || !e.lap || !e.hota_pot || !e.id_pot ||
        !e.match_counts || !e.gt_count || !e.trk_count || !e.prev_id ||
        !e.prev_step_id) {
        rc =
            vg_fail(ctx, VG_ENOMEM,
                    "mot evaluate: out of memory for %d x %d identities", G, T);
        goto fail;
    }
    for (int g = 0; g < G; g++)
        e.prev_id[g] = e.prev_step_id[g] = -1;

    /* pass 1: CLEAR, Identity's potential matches, HOTA's global alignment */
    gi = ti = 0;
    for (int f = 1; f <= e.max_frame; f++) {
        int matched = 0;
        frame_rows(&e, f, gt, n_gt, trk, n_trk, &gi, &ti, &ng, &nt);
        if ((rc = check_unique(&e, "ground truth", e.fg, ng, e.gt_of, f)) < 0 ||
            (rc = check_unique(&e, "tracker", e.ft, nt, e.trk_of, f)) < 0)
            goto fail;
        for (int i = 0; i < ng; i++)
            e.gt_count[e.gt_of[e.fg[i]]]++;
        for (int j = 0; j < nt; j++)
            e.trk_count[e.trk_of[e.ft[j]]]++;
        out->gt_dets += ng;
        out->trk_dets += nt;
        if (ng == 0 || nt == 0) {
            /* as TrackEval: counted, and last frame's matches are kept */
            out->fp += nt;
            out->fn += ng;
            continue;
        }
        /* HOTA: sim_iou = sim / (row sum + column sum - sim) */
        for (int i = 0; i < ng; i++) {
            e.row_sum[i] = 0;
            for (int j = 0; j < nt; j++)
                e.row_sum[i] += e.sim[i * nt + j];
        }
        for (int j = 0; j < nt; j++) {
            e.col_sum[j] = 0;
            for (int i = 0; i < ng; i++)
                e.col_sum[j] += e.sim[i * nt + j];
        }
        for (int i = 0; i < ng; i++) {
            for (int j = 0; j < nt; j++) {
                double s = e.sim[i * nt + j],
                       den = e.row_sum[i] + e.col_sum[j] - s;
                size_t pair =
                    (size_t)e.gt_of[e.fg[i]] * T + (size_t)e.trk_of[e.ft[j]];
                if (den > EPS)
                    e.hota_pot[pair] += s / den;
                if (s >= CLEAR_THRESHOLD)
                    e.id_pot[pair]++; /* Identity: every pair, no matching */
            }
        }
        /* CLEAR: a pair matched in the previous frame scores 1000 + IoU,
         * others IoU; IoU < 0.5 scores 0 and is never a match */
        for (int i = 0; i < ng; i++) {
            int g = e.gt_of[e.fg[i]];
            for (int j = 0; j < nt; j++) {
                double s = e.sim[i * nt + j], v = 0;
                if (s >= CLEAR_THRESHOLD - EPS)
                    v = s + (e.prev_step_id[g] == e.trk_of[e.ft[j]]
                                 ? CLEAR_CONTINUE_BONUS
                                 : 0);
                e.cost[i * nt + j] = (float)(CLEAR_CONTINUE_BONUS + 1.0 - v);
            }
        }
        /* a pair of score 0 (cost bonus + 1) is never a match: leaving it
         * out of the problem (cost limit just below) changes no result and
         * spares the solver its ties */
        vgi_lap_solve(e.cost, ng, nt,
                      nextafterf((float)(CLEAR_CONTINUE_BONUS + 1.0), 0.0f),
                      e.r2c, e.c2r, e.lap);
        for (int i = 0; i < ng; i++) {
            int j = e.r2c[i], g = e.gt_of[e.fg[i]], tid;
            if (j >= 0 && e.sim[i * nt + j] < CLEAR_THRESHOLD - EPS)
                e.r2c[i] = -1; /* assigned at score 0: not a match */
            if (e.r2c[i] < 0)
                continue;
            tid = e.trk_of[e.ft[j]];
            if (e.prev_id[g] >= 0 && e.prev_id[g] != tid)
                out->idsw++;
            if (e.prev_step_id[g] < 0)
                out->frag++; /* TrackEval's Frag: tracked again */
            motp_sum += e.sim[i * nt + j];
            matched++;
        }
        for (int g = 0; g < G; g++)
            e.prev_step_id[g] = -1;
        for (int i = 0; i < ng; i++) {
            int g = e.gt_of[e.fg[i]];
            if (e.r2c[i] < 0)
                continue;
            e.prev_id[g] = e.prev_step_id[g] = e.trk_of[e.ft[e.r2c[i]]];
        }
        out->tp += matched;
        out->fn += ng - matched;
        out->fp += nt - matched;
    }

    /* Identity: the id-to-id matching with the most potential matches */
    if (G > 0 && T > 0) {
        float *cost = vg_malloc(ctx, gt_pairs * sizeof(float));
        int *r2c = vg_malloc(ctx, (size_t)G * sizeof(int));
        int *c2r = vg_malloc(ctx, (size_t)T * sizeof(int));
        void *lap = vg_malloc(ctx, vgi_lap_scratch_bytes(G, T));
        if (!cost || !r2c || !c2r || !lap) {
            vg_free(ctx, cost);
            vg_free(ctx, r2c);
            vg_free(ctx, c2r);
            vg_free(ctx, lap);
            rc = vg_fail(ctx, VG_ENOMEM,
                         "mot evaluate: out of memory for the identity "
                         "matching");
            goto fail;
        }
        {
            int top = 0;
            for (size_t i = 0; i < gt_pairs; i++)
                if (e.id_pot[i] > top)
                    top = e.id_pot[i];
            for (size_t i = 0; i < gt_pairs; i++)
                cost[i] = (float)(top - e.id_pot[i]);
        }
        vgi_lap_solve(cost, G, T, INFINITY, r2c, c2r, lap);
        for (int g = 0; g < G; g++)
            if (r2c[g] >= 0)
                out->idtp += e.id_pot[(size_t)g * T + r2c[g]];
        vg_free(ctx, cost);
        vg_free(ctx, r2c);
        vg_free(ctx, c2r);
        vg_free(ctx, lap);
    }
    out->idfn = out->gt_dets - out->idtp;
    out->idfp = out->trk_dets - out->idtp;

    /* HOTA: global alignment score per identity pair */
    for (int g = 0; g < G; g++)
        for (int t = 0; t < T; t++) {
            double *p = &e.hota_pot[(size_t)g * T + t];
            double den = e.gt_count[g] + e.trk_count[t] - *p;
            *p = den > 0 ? *p / den : 0;
        }
    /* pass 2: per frame, match on alignment x IoU, then per alpha */
    gi = ti = 0;
    for (int f = 1; f <= e.max_frame; f++) {
        frame_rows(&e, f, gt, n_gt, trk, n_trk, &gi, &ti, &ng, &nt);
        if (ng == 0 || nt == 0) {
            for (int a = 0; a < VG_MOT_ALPHAS; a++) {
                hota_fp[a] += nt;
                hota_fn[a] += ng;
            }
            continue;
        }
        {
            /* score = alignment * sim, maximised */
            double top = 0;
            for (int i = 0; i < ng; i++)
                for (int j = 0; j < nt; j++) {
                    double v = e.hota_pot[(size_t)e.gt_of[e.fg[i]] * T +
                                          e.trk_of[e.ft[j]]] *
                               e.sim[i * nt + j];
                    if (v > top)
                        top = v;
                }
            for (int i = 0; i < ng; i++)
                for (int j = 0; j < nt; j++)
                    e.cost[i * nt + j] =
                        (float)(top - e.hota_pot[(size_t)e.gt_of[e.fg[i]] * T +
                                                 e.trk_of[e.ft[j]]] *
                                          e.sim[i * nt + j]);
            /* pairs of score 0 (IoU 0) never pass an alpha: out of the
             * problem, as in CLEAR */
            vgi_lap_solve(e.cost, ng, nt, nextafterf((float)top, 0.0f), e.r2c,
                          e.c2r, e.lap);
        }
        for (int a = 0; a < VG_MOT_ALPHAS; a++) {
            double alpha = 0.05 * (a + 1);
            int m = 0;
            for (int i = 0; i < ng; i++) {
                int j = e.r2c[i];
                if (j < 0 || e.sim[i * nt + j] < alpha - EPS)
                    continue;
                m++;
                loca[a] += e.sim[i * nt + j];
                e.match_counts[(size_t)a * gt_pairs +
                               (size_t)e.gt_of[e.fg[i]] * T +
                               e.trk_of[e.ft[j]]]++;
            }
            hota_tp[a] += m;
            hota_fn[a] += ng - m;
            hota_fp[a] += nt - m;
        }
    }
    for (int a = 0; a < VG_MOT_ALPHAS; a++) {
        double assa = 0, deta, hota;
        const int *mc = e.match_counts + (size_t)a * gt_pairs;
        for (int g = 0; g < G; g++)
            for (int t = 0; t < T; t++) {
                double m = mc[(size_t)g * T + t], den;
                if (m == 0)
                    continue;
                den = fmax(1, e.gt_count[g] + e.trk_count[t] - m);
                assa += m * (m / den);
            }
        assa /= fmax(1, (double)hota_tp[a]);
        deta = (double)hota_tp[a] /
               fmax(1, (double)(hota_tp[a] + hota_fn[a] + hota_fp[a]));
        hota = sqrt(deta * assa);
        out->hota_alpha[a] = hota;
        out->hota += hota / VG_MOT_ALPHAS;
        out->deta += deta / VG_MOT_ALPHAS;
        out->assa += assa / VG_MOT_ALPHAS;
        out->loca += fmax(1e-10, loca[a]) / fmax(1e-10, (double)hota_tp[a]) /
                     VG_MOT_ALPHAS;
    }

    out->mota = (double)(out->tp - out->fp - out->idsw) /
                fmax(1, (double)(out->tp + out->fn));
    out->motp = out->tp > 0 ? motp_sum / (double)out->tp : 0;
    out->idf1 = (double)out->idtp /
                fmax(1, (double)out->idtp + 0.5 * (double)out->idfp +
                            0.5 * (double)out->idfn);
    out->gt_ids = G;
    out->trk_ids = T;
    rc = 0;
fail:
    ev_free(&e);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}
