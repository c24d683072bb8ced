/* ByteTrack over a fixed track store, step by step as the authors'
 * reference (ifzhang/ByteTrack, yolox/tracker/byte_tracker.py), with
 * conditional re-identification: see include/vigil/track.h and
 * docs/tracking.md (every step and constant). */
#include <math.h>
#include <stdalign.h>
#include <string.h>

#include "track/track_internal.h"
#include "vigil/track.h"

/* Cost of a pair that may not match (other class): above every gate. */
#define FORBIDDEN_COST 2.0f
#define MAX_SIZE_OPT 65536
/* remove_duplicate_stracks: a tracked and a lost track closer than this
 * IoU distance are one object; the one tracked longer stays. */
#define DUPLICATE_IOU_DISTANCE 0.15f
/* ReID: tracks' embeddings are an EMA with this weight on the past (as
 * FairMOT / BoT-SORT); "about to cross" looks this many frames ahead. */
#define REID_EMA 0.9f
#define REID_LOOKAHEAD 2.0f
#define REID_MAX_DIM 4096

typedef struct track_slot {
    vgi_kalman kf;
    vg_box pred; /* box of the filter's state, after this frame's step */
    vg_box det_box;
    int64_t id; /* 0 while tentative */
    int64_t start_frame, last_frame, hits;
    int64_t lost_frame; /* the update that made it lost */
    float score;
    int class_id;
    int state;
    int has_emb;  /* emb (ReID) holds an average */
    int reid_ran; /* its detection of the last update was embedded */
    int risk;     /* this update: its box overlaps another track's */
    int dup;      /* this update: a duplicate to drop */
} track_slot;

struct vg_tracker {
    vg_context *ctx;
    vg_tracker_opts o;
    int max_lost_frames;
    void *arena;
    size_t bytes;

    track_slot *slots;
    int *active; /* slot indices in creation order */
    int n_active;
    int *free_slots; /* stack */
    int n_free;
    int *pool, *pool2;
    int64_t *removed;
    int n_removed;
    float *cost;
    int *row_to_col, *col_to_row;
    int *high, *low;
    unsigned char *det_used;
    void *lap;

    /* ReID (vg_tracker_set_reid): one heap block, NULL while off */
    int reid_on;
    vg_reid_opts ro;
    void *reid_arena;
    size_t reid_bytes;
    float *track_emb;            /* max_tracks x dim */
    float *det_emb;              /* max_detections x dim */
    unsigned char *det_embedded; /* per detection */
    float *cost_iou; /* the first association by IoU alone, to compare */
    int *row_to_col_iou, *col_to_row_iou;
    int reid_error;

    int64_t frame, next_id;
    int64_t created, removed_total, evicted, refused, duplicates;
    int64_t reid_detections, reid_embedded, reid_rescued, reid_failed;
};

void vg_tracker_opts_default(vg_tracker_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->high_thresh = 0.5f;
    o->low_thresh = 0.1f;
    o->new_track_thresh = 0.6f;
    o->match_thresh = 0.8f;
    o->low_match_thresh = 0.5f;
    o->new_match_thresh = 0.7f;
    o->fps = 30.0;
    o->lost_seconds = 3.0;
    o->max_tracks = 512;
    o->max_detections = 512;
    o->class_agnostic = 0;
    o->fuse_score = 1;
}

void vg_reid_opts_default(vg_reid_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->dim = 128;
    o->weight = 0.5f;
    o->max_cos_distance = 0.5f;
    o->risk_iou = 0.3f;
}

static int check_unit(vg_context *ctx, const char *name, float v)
{
    if (!(v >= 0.0f && v <= 1.0f))
        return vg_fail(ctx, VG_EINVAL,
                       "tracker option %s = %g: expected a value in [0, 1]",
                       name, (double)v);
    return 0;
}

static int check_opts(vg_context *ctx, const vg_tracker_opts *o)
{
    int rc;
    if ((rc = check_unit(ctx, "high_thresh", o->high_thresh)) < 0 ||
        (rc = check_unit(ctx, "low_thresh", o->low_thresh)) < 0 ||
        (rc = check_unit(ctx, "new_track_thresh", o->new_track_thresh)) < 0 ||
        (rc = check_unit(ctx, "match_thresh", o->match_thresh)) < 0 ||
        (rc = check_unit(ctx, "low_match_thresh", o->low_match_thresh)) < 0 ||
        (rc = check_unit(ctx, "new_match_thresh", o->new_match_thresh)) < 0)
        return rc;
    if (o->low_thresh > o->high_thresh)
        return vg_fail(
            ctx, VG_EINVAL,
            "tracker option low_thresh = %g is above high_thresh = %g",
            (double)o->low_thresh, (double)o->high_thresh);
    if (!(o->fps > 0) || !isfinite(o->fps))
        return vg_fail(ctx, VG_EINVAL,
                       "tracker option fps = %g: expected a positive number",
                       o->fps);
    if (!(o->lost_seconds >= 0) || !isfinite(o->lost_seconds) ||
        o->lost_seconds * o->fps > 1e9)
        return vg_fail(ctx, VG_EINVAL,
                       "tracker option lost_seconds = %g: expected a number "
                       ">= 0 (at most 1e9 frames)",
                       o->lost_seconds);
    if (o->max_tracks < 1 || o->max_tracks > MAX_SIZE_OPT)
        return vg_fail(ctx, VG_EINVAL,
                       "tracker option max_tracks = %d: expected 1..%d",
                       o->max_tracks, MAX_SIZE_OPT);
    if (o->max_detections < 1 || o->max_detections > MAX_SIZE_OPT)
        return vg_fail(ctx, VG_EINVAL,
                       "tracker option max_detections = %d: expected 1..%d",
                       o->max_detections, MAX_SIZE_OPT);
    return 0;
}

/* Reserves size bytes at *off in the arena plan, aligned for any field. */
static size_t take(size_t *off, size_t size)
{
    size_t a = alignof(max_align_t), at = (*off + a - 1) / a * a;
    *off = at + size;
    return at;
}

static void free_all_slots(vg_tracker *t)
{
    t->n_active = 0;
    t->n_free = 0;
    for (int i = t->o.max_tracks - 1; i >= 0; i--) {
        t->slots[i].state = VG_TRACK_REMOVED;
        t->free_slots[t->n_free++] = i;
    }
}

int vg_tracker_create(vg_context *ctx, const vg_tracker_opts *opts,
                      vg_tracker **out)
{
    vg_tracker_opts def;
    vg_tracker *t = NULL;
    size_t off = 0, o_slots, o_active, o_free, o_pool, o_pool2, o_removed,
           o_cost, o_r2c, o_c2r, o_high, o_low, o_used, o_lap;
    size_t nt, nd;
    unsigned char *base;
    int rc;

    if (!out)
        return VG_EINVAL;
    *out = NULL;
    if (!opts) {
        vg_tracker_opts_default(&def);
        opts = &def;
    }
    if ((rc = check_opts(ctx, opts)) < 0)
        return rc;
    nt = (size_t)opts->max_tracks;
    nd = (size_t)opts->max_detections;
    o_slots = take(&off, nt * sizeof(track_slot));
    o_active = take(&off, nt * sizeof(int));
    o_free = take(&off, nt * sizeof(int));
    o_pool = take(&off, nt * sizeof(int));
    o_pool2 = take(&off, nt * sizeof(int));
    o_removed = take(&off, nt * sizeof(int64_t));
    o_cost = take(&off, nt * nd * sizeof(float));
    o_r2c = take(&off, nt * sizeof(int));
    o_c2r = take(&off, nd * sizeof(int));
    o_high = take(&off, nd * sizeof(int));
    o_low = take(&off, nd * sizeof(int));
    o_used = take(&off, nd);
    o_lap = take(&off, vgi_lap_scratch_bytes((int)nt, (int)nd));

    t = vg_calloc(ctx, 1, sizeof(*t));
    if (!t) {
        rc = vg_fail(ctx, VG_ENOMEM, "tracker: out of memory");
        goto fail;
    }
    t->arena = vg_calloc(ctx, 1, off);
    if (!t->arena) {
        rc = vg_fail(ctx, VG_ENOMEM,
                     "tracker: out of memory reserving %zu bytes for %d "
                     "tracks x %d detections",
                     off, opts->max_tracks, opts->max_detections);
        goto fail;
    }
    base = t->arena;
    t->ctx = ctx;
    t->o = *opts;
    t->bytes = sizeof(*t) + off;
    t->max_lost_frames = (int)lround(opts->lost_seconds * opts->fps);
    t->slots = (track_slot *)(base + o_slots);
    t->active = (int *)(base + o_active);
    t->free_slots = (int *)(base + o_free);
    t->pool = (int *)(base + o_pool);
    t->pool2 = (int *)(base + o_pool2);
    t->removed = (int64_t *)(base + o_removed);
    t->cost = (float *)(base + o_cost);
    t->row_to_col = (int *)(base + o_r2c);
    t->col_to_row = (int *)(base + o_c2r);
    t->high = (int *)(base + o_high);
    t->low = (int *)(base + o_low);
    t->det_used = base + o_used;
    t->lap = base + o_lap;
    t->next_id = 1;
    free_all_slots(t);
    *out = t;
    return 0;

fail:
    vg_free(ctx, t);
    return rc;
}

void vg_tracker_destroy(vg_tracker **tp)
{
    vg_tracker *t;
    if (!tp || !*tp)
        return;
    t = *tp;
    vg_free(t->ctx, t->reid_arena);
    vg_free(t->ctx, t->arena);
    vg_free(t->ctx, t);
    *tp = NULL;
}

/* ---- boxes and the filter ---------------------------------------------------
 */

static void box_to_z(const vg_box *b, double z[4])
{
    z[0] = (double)b->x + 0.5 * (double)b->w;
    z[1] = (double)b->y + 0.5 * (double)b->h;
    z[2] = (double)b->w / (double)b->h;
    z[3] = (double)b->h;
}

static vg_box state_box(const vgi_kalman *k)
{
    vg_box b;
    double w = k->mean[2] * k->mean[3];
    b.x = (float)(k->mean[0] - 0.5 * w);
    b.y = (float)(k->mean[1] - 0.5 * k->mean[3]);
    b.w = (float)w;
    b.h = (float)k->mean[3];
    return b;
}

static int valid_det(const vg_detection *d)
{
    return isfinite(d->score) && isfinite(d->box.x) && isfinite(d->box.y) &&
           isfinite(d->box.w) && isfinite(d->box.h) && d->box.w > 0 &&
           d->box.h > 0;
}

static void fill_track(const vg_tracker *t, const track_slot *s, vg_track *o)
{
    o->id = s->id;
    o->box = s->pred;
    o->det_box = s->det_box;
    o->score = s->score;
    o->class_id = s->class_id;
    o->state = s->state;
    o->age = t->frame - s->start_frame + 1;
    o->hits = s->hits;
    o->time_since_update = t->frame - s->last_frame;
    o->reid_ran = s->reid_ran && s->last_frame == t->frame;
}

/* ---- association ------------------------------------------------------------
 */

static float dot(const float *a, const float *b, int dim)
{
    float sum = 0;
    for (int i = 0; i < dim; i++)
        sum += a[i] * b[i];
    return sum;
}

static void apply_match(vg_tracker *t, track_slot *s, int slot,
                        const vg_detection *dets, int di)
{
    const vg_detection *d = &dets[di];
    double z[4];
    box_to_z(&d->box, z);
    if (vgi_kalman_update(&s->kf, z) < 0)
        vgi_kalman_init(&s->kf, z); /* degenerate covariance: start over */
    s->pred = state_box(&s->kf);
    s->det_box = d->box;
    s->score = d->score;
    if (t->o.class_agnostic)
        s->class_id = d->class_id;
    s->last_frame = t->frame;
    s->hits++;
    if (s->state == VG_TRACK_NEW)
        s->id = t->next_id++;
    s->state = VG_TRACK_TRACKED;
    s->reid_ran = 0;
    if (t->reid_on && t->det_embedded[di]) {
        int dim = t->ro.dim;
        float *e = t->track_emb + (size_t)slot * (size_t)dim;
        const float *de = t->det_emb + (size_t)di * (size_t)dim;
        float norm = 0;
        s->reid_ran = 1;
        if (!s->has_emb) {
            memcpy(e, de, (size_t)dim * sizeof(float));
            s->has_emb = 1;
            return;
        }
        for (int i = 0; i < dim; i++) {
            e[i] = REID_EMA * e[i] + (1.0f - REID_EMA) * de[i];
            norm += e[i] * e[i];
        }
        norm = sqrtf(norm);
        if (norm > 0)
            for (int i = 0; i < dim; i++)
                e[i] /= norm;
    }
}

/* Matches tracks slots[rows[0..nr)] to dets[cols[0..nc)] by 1 - IoU (times
 * the detection's score with fuse: ByteTrack's fuse_score), plus appearance
 * where both sides have an embedding when reid is set, gated at gate (lapjv's
 * cost_limit); applies the matches and marks the detections used. */
static void associate(vg_tracker *t, const int *rows, int nr, const int *cols,
                      int nc, const vg_detection *dets, float gate, int fuse,
                      int reid)
{
    int appearance = 0;
    if (nr == 0 || nc == 0)
        return;
    reid = reid && t->reid_on;
    for (int r = 0; r < nr; r++) {
        const track_slot *s = &t->slots[rows[r]];
        float *line = t->cost + (size_t)r * (size_t)nc;
        float *line_iou = reid ? t->cost_iou + (size_t)r * (size_t)nc : NULL;
        for (int c = 0; c < nc; c++) {
            const vg_detection *d = &dets[cols[c]];
            float iou, cost;
            if (!t->o.class_agnostic && d->class_id != s->class_id) {
                line[c] = FORBIDDEN_COST;
                if (line_iou)
                    line_iou[c] = FORBIDDEN_COST;
                continue;
            }
            iou = vg_box_iou(&s->pred, &d->box);
            cost = 1.0f - (fuse ? iou * d->score : iou);
            line[c] = cost;
            if (!line_iou)
                continue;
            line_iou[c] = cost;
            if (s->has_emb && t->det_embedded[cols[c]] && iou > 0) {
                int dim = t->ro.dim;
                float cd = 1.0f - dot(t->track_emb + (size_t)rows[r] * dim,
                                      t->det_emb + (size_t)cols[c] * dim, dim);
                appearance = 1;
                if (cd > t->ro.max_cos_distance)
                    line[c] = FORBIDDEN_COST; /* another person's look */
                else
                    line[c] = (1.0f - t->ro.weight) * cost + t->ro.weight * cd;
            }
        }
    }
    vgi_lap_solve(t->cost, nr, nc, gate, t->row_to_col, t->col_to_row, t->lap);
    if (appearance) {
        /* the swaps appearance prevented: where IoU alone matched otherwise */
        vgi_lap_solve(t->cost_iou, nr, nc, gate, t->row_to_col_iou,
                      t->col_to_row_iou, t->lap);
        for (int r = 0; r < nr; r++)
            if (t->row_to_col[r] != t->row_to_col_iou[r] &&
                t->row_to_col[r] >= 0) {
                t->reid_rescued++;
            }
    }
    for (int r = 0; r < nr; r++) {
        int c = t->row_to_col[r];
        if (c < 0)
            continue;
        apply_match(t, &t->slots[rows[r]], rows[r], dets, cols[c]);
        t->det_used[cols[c]] = 1;
    }
}

static void end_track(vg_tracker *t, int slot, int report)
{
    track_slot *s = &t->slots[slot];
    if (report && s->id > 0) {
        t->removed[t->n_removed++] = s->id;
        t->removed_total++;
    }
    s->state = VG_TRACK_REMOVED;
    t->free_slots[t->n_free++] = slot;
}

static void compact_active(vg_tracker *t)
{
    int k = 0;
    for (int i = 0; i < t->n_active; i++)
        if (t->slots[t->active[i]].state != VG_TRACK_REMOVED)
            t->active[k++] = t->active[i];
    t->n_active = k;
}

/* A free slot for a new track: from the free stack, else the lost track that
 * has been missing longest. -1 when every slot is busy. */
static int take_slot(vg_tracker *t)
{
    int best = -1;
    int64_t best_last = 0;
    if (t->n_free > 0)
        return t->free_slots[--t->n_free];
    for (int k = 0; k < t->n_active; k++) {
        track_slot *s = &t->slots[t->active[k]];
        if (s->state == VG_TRACK_LOST &&
            (best < 0 || s->last_frame < best_last)) {
            best = t->active[k];
            best_last = s->last_frame;
        }
    }
    if (best < 0)
        return -1;
    end_track(t, best, 1);
    t->evicted++;
    compact_active(t); /* the slot's old position goes; it comes back last */
    return t->free_slots[--t->n_free];
}

/* Predicts the confirmed tracks one frame on (STrack.multi_predict over the
 * tracked and lost pool; a tentative track is not predicted); a track not
 * tracked does not keep growing or shrinking. */
static void predict_all(vg_tracker *t)
{
    for (int k = 0; k < t->n_active; k++) {
        track_slot *s = &t->slots[t->active[k]];
        if (s->state == VG_TRACK_NEW)
            continue;
        if (s->state != VG_TRACK_TRACKED)
            s->kf.mean[7] = 0;
        vgi_kalman_predict(&s->kf);
        s->pred = state_box(&s->kf);
    }
}

/* Ends the lost tracks unmatched for more than max_lost_frames frames; a
 * track lost in this very update is not checked (as the reference, which
 * checks the lost set before merging this frame's lost tracks into it). */
static void end_expired(vg_tracker *t)
{
    for (int k = 0; k < t->n_active; k++) {
        track_slot *s = &t->slots[t->active[k]];
        if (s->state == VG_TRACK_LOST && s->lost_frame != t->frame &&
            t->frame - s->last_frame > t->max_lost_frames)
            end_track(t, t->active[k], 1);
    }
    compact_active(t);
}

static int may_match(const vg_tracker *t, const track_slot *a,
                     const track_slot *b)
{
    return t->o.class_agnostic || a->class_id == b->class_id;
}

/* remove_duplicate_stracks: a tracked (or tentative) track and a lost one
 * within DUPLICATE_IOU_DISTANCE are one object; the one tracked for fewer
 * frames (last match - start) goes, the tracked one on a tie. */
static void remove_duplicates(vg_tracker *t)
{
    int nl = 0, any = 0;
    for (int i = 0; i < t->n_active; i++) {
        track_slot *q = &t->slots[t->active[i]];
        q->dup = 0;
        if (q->state == VG_TRACK_LOST)
            t->pool2[nl++] = t->active[i];
    }
    if (nl == 0)
        return;
    for (int i = 0; i < t->n_active; i++) {
        track_slot *p = &t->slots[t->active[i]];
        if (p->state != VG_TRACK_TRACKED && p->state != VG_TRACK_NEW)
            continue;
        for (int k = 0; k < nl; k++) {
            track_slot *q = &t->slots[t->pool2[k]];
            const vg_box *a = &p->pred, *b = &q->pred;
            /* disjoint boxes first: the common case, without the IoU */
            if (a->x >= b->x + b->w || b->x >= a->x + a->w ||
                a->y >= b->y + b->h || b->y >= a->y + a->h ||
                !may_match(t, p, q))
                continue;
            if (1.0f - vg_box_iou(a, b) >= DUPLICATE_IOU_DISTANCE)
                continue;
            if (p->last_frame - p->start_frame > q->last_frame - q->start_frame)
                q->dup = 1;
            else
                p->dup = 1;
            any = 1;
        }
    }
    if (!any)
        return;
    for (int i = 0; i < t->n_active; i++) {
        if (t->slots[t->active[i]].dup) {
            end_track(t, t->active[i], 1);
            t->duplicates++;
        }
    }
    compact_active(t);
}

int vg_tracker_predict(vg_tracker *t, vg_track *out, int cap, int *n_out)
{
    int nout = 0;

    if (n_out)
        *n_out = 0;
    if (!t || cap < 0 || (cap > 0 && !out))
        return VG_EINVAL;
    t->frame++;
    t->n_removed = 0;
    predict_all(t);
    end_expired(t);
    for (int k = 0; k < t->n_active; k++) {
        const track_slot *s = &t->slots[t->active[k]];
        if (s->state == VG_TRACK_TRACKED && nout < cap)
            fill_track(t, s, &out[nout++]);
    }
    if (n_out)
        *n_out = nout;
    return 0;
}

/* The box b moved on by its track's velocity for REID_LOOKAHEAD frames. */
static vg_box ahead(const track_slot *s)
{
    vg_box b = s->pred;
    b.x += (float)(REID_LOOKAHEAD * s->kf.mean[4]);
    b.y += (float)(REID_LOOKAHEAD * s->kf.mean[5]);
    return b;
}

/* Conditional ReID: marks the tracked tracks whose predicted boxes overlap
 * (now or REID_LOOKAHEAD frames ahead) more than risk_iou, then embeds the
 * high detections that overlap such a track's or a lost track's prediction
 * by more than 1 - match_thresh (those IoU could give it). */
static void embed_at_risk(vg_tracker *t, const vg_detection *dets,
                          const int *high, int nh)
{
    int dim = t->ro.dim;
    for (int i = 0; i < t->n_active; i++)
        t->slots[t->active[i]].risk = 0;
    for (int i = 0; i < t->n_active; i++) {
        track_slot *a = &t->slots[t->active[i]];
        vg_box aa;
        if (a->state != VG_TRACK_TRACKED)
            continue;
        aa = ahead(a);
        for (int j = i + 1; j < t->n_active; j++) {
            track_slot *b = &t->slots[t->active[j]];
            vg_box ba;
            if (b->state != VG_TRACK_TRACKED || !may_match(t, a, b))
                continue;
            if (vg_box_iou(&a->pred, &b->pred) > t->ro.risk_iou) {
                a->risk = b->risk = 1;
                continue;
            }
            ba = ahead(b);
            if (vg_box_iou(&aa, &ba) > t->ro.risk_iou)
                a->risk = b->risk = 1;
        }
    }
    for (int k = 0; k < nh; k++) {
        int di = high[k], risk = 0;
        const vg_detection *d = &dets[di];
        float *e, norm = 0;
        int rc;
        for (int i = 0; i < t->n_active && !risk; i++) {
            const track_slot *s = &t->slots[t->active[i]];
            if (!(s->risk || s->state == VG_TRACK_LOST))
                continue;
            if (!t->o.class_agnostic && s->class_id != d->class_id)
                continue;
            /* the detections IoU could give to a lost track or to a
             * track at risk (a pair farther apart cannot match) */
            risk = vg_box_iou(&s->pred, &d->box) > 1.0f - t->o.match_thresh;
        }
        if (!risk)
            continue;
        e = t->det_emb + (size_t)di * (size_t)dim;
        rc = t->ro.embed(t->ro.user, di, e, dim);
        if (rc < 0) {
            t->reid_failed++;
            if (t->reid_error == 0)
                t->reid_error = rc;
            continue;
        }
        for (int i = 0; i < dim; i++)
            norm += e[i] * e[i];
        if (!(norm > 0) || !isfinite(norm))
            continue;
        norm = sqrtf(norm);
        for (int i = 0; i < dim; i++)
            e[i] /= norm;
        t->det_embedded[di] = 1;
        t->reid_embedded++;
    }
}

int vg_tracker_update(vg_tracker *t, const vg_detection *dets, int n,
                      vg_track *out, int cap, int *n_out)
{
    int nh = 0, nl = 0, np = 0, np2 = 0, nout = 0;

    if (n_out)
        *n_out = 0;
    if (!t || n < 0 || (n > 0 && !dets) || cap < 0 || (cap > 0 && !out))
        return VG_EINVAL;
    if (n > t->o.max_detections)
        return vg_fail(t->ctx, VG_ERANGE,
                       "tracker: %d detections in one frame, more than "
                       "max_detections = %d",
                       n, t->o.max_detections);
    t->frame++;
    t->n_removed = 0;
    t->reid_error = 0;

    /* detections: high above high_thresh (the reference's track_thresh),
     * low in (low_thresh, high_thresh); strict bounds as the reference */
    for (int i = 0; i < n; i++) {
        t->det_used[i] = 0;
        if (t->reid_on)
            t->det_embedded[i] = 0;
        if (!valid_det(&dets[i]) || !(dets[i].score > t->o.low_thresh))
            continue;
        if (t->reid_on)
            t->reid_detections++;
        if (dets[i].score > t->o.high_thresh)
            t->high[nh++] = i;
        else if (dets[i].score < t->o.high_thresh)
            t->low[nl++] = i;
    }

    predict_all(t);
    if (t->reid_on)
        embed_at_risk(t, dets, t->high, nh);

    /* 1: high-score detections against confirmed tracks, tracked and lost */
    for (int k = 0; k < t->n_active; k++) {
        int st = t->slots[t->active[k]].state;
        if (st == VG_TRACK_TRACKED || st == VG_TRACK_LOST)
            t->pool[np++] = t->active[k];
    }
    associate(t, t->pool, np, t->high, nh, dets, t->o.match_thresh,
              t->o.fuse_score, 1);

    /* 2: low-score detections against the tracked ones still unmatched (by
     * IoU alone); those left unmatched become lost */
    for (int k = 0; k < np; k++) {
        track_slot *s = &t->slots[t->pool[k]];
        if (s->state == VG_TRACK_TRACKED && s->last_frame != t->frame)
            t->pool2[np2++] = t->pool[k];
    }
    associate(t, t->pool2, np2, t->low, nl, dets, t->o.low_match_thresh, 0, 0);
    for (int k = 0; k < np2; k++) {
        track_slot *s = &t->slots[t->pool2[k]];
        if (s->last_frame != t->frame) {
            s->state = VG_TRACK_LOST;
            s->lost_frame = t->frame;
        }
    }

    /* 3: tentative tracks against the high detections left; a tentative
     * track not matched now is dropped */
    np = 0;
    for (int k = 0; k < t->n_active; k++)
        if (t->slots[t->active[k]].state == VG_TRACK_NEW)
            t->pool[np++] = t->active[k];
    {
        int nrest = 0;
        for (int k = 0; k < nh; k++)
            if (!t->det_used[t->high[k]])
                t->high[nrest++] = t->high[k];
        nh = nrest;
    }
    associate(t, t->pool, np, t->high, nh, dets, t->o.new_match_thresh,
              t->o.fuse_score, 0);
    for (int k = 0; k < np; k++)
        if (t->slots[t->pool[k]].state == VG_TRACK_NEW)
            end_track(t, t->pool[k], 0);

    /* 4: lost too long (the reference's step 5; first here so that the
     * slots free up for the new tracks) */
    end_expired(t);

    /* 5: new tracks from the high detections left scoring new_track_thresh
     * (det_thresh) or more */
    for (int k = 0; k < nh; k++) {
        int di = t->high[k];
        const vg_detection *d = &dets[di];
        track_slot *s;
        double z[4];
        int slot;
        if (t->det_used[di] || d->score < t->o.new_track_thresh)
            continue;
        slot = take_slot(t);
        if (slot < 0) {
            t->refused++;
            continue;
        }
        s = &t->slots[slot];
        memset(s, 0, sizeof(*s));
        box_to_z(&d->box, z);
        vgi_kalman_init(&s->kf, z);
        s->pred = d->box;
        s->det_box = d->box;
        s->score = d->score;
        s->class_id = d->class_id;
        s->state = VG_TRACK_NEW;
        s->start_frame = s->last_frame = t->frame;
        s->hits = 1;
        if (t->reid_on && t->det_embedded[di]) {
            memcpy(t->track_emb + (size_t)slot * (size_t)t->ro.dim,
                   t->det_emb + (size_t)di * (size_t)t->ro.dim,
                   (size_t)t->ro.dim * sizeof(float));
            s->has_emb = 1;
            s->reid_ran = 1;
        }
        t->active[t->n_active++] = slot;
        t->created++;
    }

    /* 6: duplicates between the tracked and the lost sets */
    remove_duplicates(t);

    for (int k = 0; k < t->n_active; k++) {
        const track_slot *s = &t->slots[t->active[k]];
        if (s->state != VG_TRACK_TRACKED || s->last_frame != t->frame)
            continue;
        if (nout < cap)
            fill_track(t, s, &out[nout++]);
    }
    if (n_out)
        *n_out = nout;
    return t->reid_error;
}

/* ---- re-identification setup --------------------------------------------- */

static void reid_off(vg_tracker *t)
{
    vg_free(t->ctx, t->reid_arena);
    t->reid_arena = NULL;
    t->reid_bytes = 0;
    t->reid_on = 0;
    t->track_emb = t->det_emb = t->cost_iou = NULL;
    t->det_embedded = NULL;
    t->row_to_col_iou = t->col_to_row_iou = NULL;
    for (int i = 0; i < t->o.max_tracks; i++)
        t->slots[i].has_emb = 0;
}

int vg_tracker_set_reid(vg_tracker *t, const vg_reid_opts *o)
{
    size_t off = 0, o_temb, o_demb, o_flag, o_cost, o_r2c, o_c2r;
    size_t nt, nd, dim;
    unsigned char *base;

    if (!t)
        return VG_EINVAL;
    reid_off(t);
    if (!o)
        return 0;
    if (!o->embed)
        return vg_fail(t->ctx, VG_EINVAL,
                       "tracker reid: embed is NULL: expected a function");
    if (o->dim < 1 || o->dim > REID_MAX_DIM)
        return vg_fail(t->ctx, VG_EINVAL,
                       "tracker reid option dim = %d: expected 1..%d", o->dim,
                       REID_MAX_DIM);
    if (!(o->weight >= 0 && o->weight <= 1))
        return vg_fail(t->ctx, VG_EINVAL,
                       "tracker reid option weight = %g: expected [0, 1]",
                       (double)o->weight);
    if (!(o->max_cos_distance >= 0 && o->max_cos_distance <= 2))
        return vg_fail(t->ctx, VG_EINVAL,
                       "tracker reid option max_cos_distance = %g: expected "
                       "[0, 2]",
                       (double)o->max_cos_distance);
    if (!(o->risk_iou >= 0 && o->risk_iou < 1))
        return vg_fail(t->ctx, VG_EINVAL,
                       "tracker reid option risk_iou = %g: expected [0, 1)",
                       (double)o->risk_iou);
    nt = (size_t)t->o.max_tracks;
    nd = (size_t)t->o.max_detections;
    dim = (size_t)o->dim;
    o_temb = take(&off, nt * dim * sizeof(float));
    o_demb = take(&off, nd * dim * sizeof(float));
    o_flag = take(&off, nd);
    o_cost = take(&off, nt * nd * sizeof(float));
    o_r2c = take(&off, nt * sizeof(int));
    o_c2r = take(&off, nd * sizeof(int));
    t->reid_arena = vg_calloc(t->ctx, 1, off);
    if (!t->reid_arena)
        return vg_fail(t->ctx, VG_ENOMEM,
                       "tracker reid: out of memory reserving %zu bytes for "
                       "%d-float embeddings",
                       off, o->dim);
    base = t->reid_arena;
    t->reid_bytes = off;
    t->track_emb = (float *)(base + o_temb);
    t->det_emb = (float *)(base + o_demb);
    t->det_embedded = base + o_flag;
    t->cost_iou = (float *)(base + o_cost);
    t->row_to_col_iou = (int *)(base + o_r2c);
    t->col_to_row_iou = (int *)(base + o_c2r);
    t->ro = *o;
    t->reid_on = 1;
    return 0;
}

void vg_tracker_removed(const vg_tracker *t, const int64_t **ids, int *n)
{
    if (ids)
        *ids = t ? t->removed : NULL;
    if (n)
        *n = t ? t->n_removed : 0;
}

int vg_tracker_tracks(const vg_tracker *t, vg_track *out, int cap)
{
    int count = 0;
    if (!t)
        return 0;
    for (int k = 0; k < t->n_active; k++) {
        const track_slot *s = &t->slots[t->active[k]];
        if (s->state != VG_TRACK_TRACKED && s->state != VG_TRACK_LOST)
            continue;
        if (out && count < cap)
            fill_track(t, s, &out[count]);
        count++;
    }
    return count;
}

void vg_tracker_stats_get(const vg_tracker *t, vg_tracker_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!t)
        return;
    for (int k = 0; k < t->n_active; k++) {
        switch (t->slots[t->active[k]].state) {
        case VG_TRACK_NEW:
            out->tentative++;
            break;
        case VG_TRACK_TRACKED:
            out->tracked++;
            break;
        case VG_TRACK_LOST:
            out->lost++;
            break;
        default:
            break;
        }
    }
    out->frames = t->frame;
    out->created = t->created;
    out->confirmed = t->next_id - 1;
    out->removed = t->removed_total;
    out->evicted = t->evicted;
    out->refused = t->refused;
    out->bytes_held = t->bytes;
    out->max_lost_frames = t->max_lost_frames;
    out->bytes_held += t->reid_bytes;
    out->duplicates = t->duplicates;
    out->reid_detections = t->reid_detections;
    out->reid_embedded = t->reid_embedded;
    out->reid_rescued = t->reid_rescued;
    out->reid_failed = t->reid_failed;
}

void vg_tracker_reset(vg_tracker *t)
{
    if (!t)
        return;
    t->n_removed = 0;
    for (int k = 0; k < t->n_active; k++) {
        const track_slot *s = &t->slots[t->active[k]];
        if (s->id > 0 && s->state != VG_TRACK_REMOVED) {
            t->removed[t->n_removed++] = s->id;
            t->removed_total++;
        }
    }
    free_all_slots(t);
    t->frame = 0;
}
