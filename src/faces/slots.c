/* vg_slots: which two tracked faces the split screen shows, and on which
 * side (include/vigil/faces.h). Pure: ids and boxes in, slots out. */
#include <math.h>
#include <string.h>

#include "vigil/faces.h"

void vg_slots_opts_default(vg_slots_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->frame_width = 1280;
    o->fps = 25.0;
    o->release_s = 4.0;
    o->min_frames = 3;
    o->persist_s = 2.0;
    o->min_relative_size = 0.6f;
    o->embed_dim = 0;
    o->reid_threshold = 0.75f;
    o->refresh_s = 1.0;
    o->check_s = 0.5;
    o->break_threshold = 0.72f;
}

int vg_slots_init(vg_slots *s, const vg_slots_opts *o)
{
    vg_slots_opts d;
    if (s == NULL)
        return VG_EINVAL;
    if (o == NULL) {
        vg_slots_opts_default(&d);
        o = &d;
    }
    if (!(o->fps > 0.0) || !(o->release_s >= 0.0) || o->min_frames < 1 ||
        o->frame_width < 1 || !(o->persist_s >= 0.0) || o->embed_dim < 0 ||
        o->embed_dim > VG_SLOTS_MAX_DIM || !(o->refresh_s >= 0.0) ||
        !(o->check_s >= 0.0) || !(o->min_relative_size >= 0.0f) ||
        !(o->min_relative_size <= 1.0f))
        return VG_EINVAL;
    memset(s, 0, sizeof(*s));
    s->o = *o;
    for (int k = 0; k < VG_SLOTS; k++)
        s->slot[k].face = -1;
    return 0;
}

static vg_slots_candidate *find(vg_slots *s, int64_t id)
{
    for (int i = 0; i < s->n_cand; i++)
        if (s->cand[i].id == id)
            return &s->cand[i];
    return NULL;
}

/* The entry for id, made when new (taking the one unseen longest when the
 * table is full, never one a slot holds). */
static vg_slots_candidate *touch(vg_slots *s, int64_t id)
{
    vg_slots_candidate *c = find(s, id);
    if (c != NULL)
        return c;
    if (s->n_cand < VG_SLOTS_MAX_CANDIDATES) {
        c = &s->cand[s->n_cand++];
    } else {
        for (int i = 0; i < s->n_cand; i++) {
            vg_slots_candidate *e = &s->cand[i];
            int held = 0;
            for (int k = 0; k < VG_SLOTS; k++)
                held |= s->slot[k].id == e->id;
            if (!held && (c == NULL || e->last_frame < c->last_frame))
                c = e;
        }
    }
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->first_frame = s->frame;
    c->last_slot = -1;
    return c;
}

static double priority(const vg_slots *s, const vg_slots_candidate *c)
{
    double cap = s->o.persist_s * s->o.fps;
    double seen = (double)c->seen;
    if (cap >= 1.0 && seen > cap)
        seen = cap;
    return (double)c->area * seen;
}

static float cosine(const float *a, const float *b, int dim)
{
    float ab = 0.0f, aa = 0.0f, bb = 0.0f;
    for (int i = 0; i < dim; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return aa > 0.0f && bb > 0.0f ? ab / sqrtf(aa * bb) : 0.0f;
}

static void take_ref(vg_slots *s, int k, const vg_slot_face *f)
{
    if (s->o.embed_dim > 0 && f->embedding != NULL) {
        memcpy(s->ref[k], f->embedding, (size_t)s->o.embed_dim * sizeof(float));
        s->ref_frame[k] = s->frame;
    }
}

static int64_t frames_of(const vg_slots *s, double seconds)
{
    int64_t n = (int64_t)llround(seconds * s->o.fps);
    return n < 1 ? 1 : n;
}

static float iou(const vg_box *a, const vg_box *b)
{
    float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
    float x1 = fminf(a->x + a->w, b->x + b->w);
    float y1 = fminf(a->y + a->h, b->y + b->h);
    float inter = fmaxf(x1 - x0, 0.0f) * fmaxf(y1 - y0, 0.0f);
    float uni = a->w * a->h + b->w * b->h - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

static int holder(const vg_slots *s, int64_t id)
{
    for (int k = 0; k < VG_SLOTS; k++)
        if (s->slot[k].id == id)
            return k;
    return -1;
}

int vg_slots_want(const vg_slots *s, const vg_slot_face *faces, int n,
                  int *want)
{
    int64_t next = s->frame + 1;
    int away = 0, count = 0;
    if (n <= 0)
        return 0;
    for (int i = 0; i < n; i++)
        want[i] = 0;
    if (s->o.embed_dim <= 0)
        return 0;
    for (int k = 0; k < VG_SLOTS; k++) {
        int here = 0;
        if (s->ref_frame[k] == 0 || (s->slot[k].id == 0 && !s->waiting[k]))
            continue;
        for (int i = 0; i < n; i++)
            here |= s->slot[k].id != 0 && faces[i].id == s->slot[k].id;
        away |= !here;
    }
    for (int i = 0; i < n; i++) {
        int k = holder(s, faces[i].id);
        if (k >= 0) {
            /* a jump of the box (a cut, an id switch) is checked at once */
            want[i] = s->ref_frame[k] == 0 ||
                      next - s->ref_frame[k] >= frames_of(s, s->o.refresh_s) ||
                      iou(&s->slot[k].box, &faces[i].box) < 0.5f;
        } else if (away) {
            const vg_slots_candidate *c = NULL;
            for (int e = 0; e < s->n_cand; e++)
                if (s->cand[e].id == faces[i].id)
                    c = &s->cand[e];
            want[i] = c == NULL || c->checked_frame == 0 ||
                      next - c->checked_frame >= frames_of(s, s->o.check_s);
        }
        count += want[i];
    }
    return count;
}

static void assign(vg_slots *s, int k, const vg_slot_face *f, int index)
{
    vg_slots_candidate *c = find(s, f->id);
    vg_slot *sl = &s->slot[k];
    if (c != NULL) {
        if (c->last_slot >= 0 && c->last_slot != k)
            s->stats.swaps++;
        c->last_slot = k;
    }
    sl->id = f->id;
    sl->present = 1;
    sl->face = index;
    sl->box = f->box;
    sl->absent = 0;
    sl->changed = 1;
    s->waiting[k] = 0;
    s->last_seen[k] = s->frame;
    s->ref_frame[k] = 0; /* the embedding was the last person's */
    take_ref(s, k, f);
    s->stats.assignments++;
}

int vg_slots_update(vg_slots *s, const vg_slot_face *faces, int n, vg_slot *out)
{
    int used[VG_SLOTS_MAX_CANDIDATES]; /* faces' slot, -1 none */
    int limit;
    float largest = 0.0f; /* smoothed area of the frame's largest face */

    if (s == NULL || out == NULL || n < 0 || (n > 0 && faces == NULL))
        return VG_EINVAL;
    for (int i = 0; i < n; i++)
        if (faces[i].id < 1)
            return VG_EINVAL;
    s->frame++;
    s->stats.frames++;
    /* faces beyond the table are not candidates (only the first ones) */
    limit = n < VG_SLOTS_MAX_CANDIDATES ? n : VG_SLOTS_MAX_CANDIDATES;
    for (int i = 0; i < limit; i++) {
        vg_slots_candidate *c = touch(s, faces[i].id);
        float area = faces[i].box.w * faces[i].box.h;
        if (!isfinite(area) || area < 0.0f)
            area = 0.0f;
        c->area = c->seen == 0 ? area : 0.7f * c->area + 0.3f * area;
        c->seen++;
        c->last_frame = s->frame;
        used[i] = -1;
        if (s->o.embed_dim > 0 && faces[i].embedding != NULL)
            s->stats.embeddings++;
    }

    /* 1. slots keep their people */
    for (int k = 0; k < VG_SLOTS; k++) {
        vg_slot *sl = &s->slot[k];
        sl->changed = 0;
        sl->reidentified = 0;
        sl->present = 0;
        sl->face = -1;
        if (sl->id == 0 && s->waiting[k] &&
            (double)(s->frame - s->last_seen[k]) > s->o.release_s * s->o.fps) {
            s->waiting[k] = 0;
            s->ref_frame[k] = 0;
            s->stats.releases++;
        }
        sl->waiting = s->waiting[k];
        sl->absent = sl->waiting ? s->frame - s->last_seen[k] : 0;
        if (sl->id == 0)
            continue;
        for (int i = 0; i < n; i++)
            if (faces[i].id == sl->id) {
                sl->present = 1;
                sl->face = i;
                sl->box = faces[i].box;
                if (i < limit)
                    used[i] = k;
                break;
            }
        if (sl->present && s->o.embed_dim > 0 && s->ref_frame[k] != 0 &&
            faces[sl->face].embedding != NULL &&
            cosine(s->ref[k], faces[sl->face].embedding, s->o.embed_dim) <
                s->o.break_threshold) {
            /* the track became someone else: let it go, keep the person */
            vg_slots_candidate *c = find(s, sl->id);
            if (c != NULL)
                c->last_slot = -1;
            if (sl->face < limit)
                used[sl->face] = -1;
            sl->id = 0;
            sl->present = 0;
            sl->face = -1;
            s->waiting[k] = sl->waiting = 1;
            sl->absent = s->frame - s->last_seen[k];
            s->stats.identity_breaks++;
            continue;
        }
        if (sl->present) {
            s->last_seen[k] = s->frame;
            take_ref(s, k, &faces[sl->face]);
        } else if ((double)(s->frame - s->last_seen[k]) >
                   s->o.release_s * s->o.fps) {
            sl->id = 0;
            s->ref_frame[k] = 0;
            s->stats.releases++;
        }
        sl->absent = sl->id ? s->frame - s->last_seen[k] : 0;
    }

    /* 1b. a slot whose person is away finds them under a new id */
    for (int k = 0; k < VG_SLOTS && s->o.embed_dim > 0; k++) {
        vg_slot *sl = &s->slot[k];
        int best = -1;
        float best_cos = s->o.reid_threshold;
        if ((sl->id == 0 && !s->waiting[k]) || sl->present ||
            s->ref_frame[k] == 0)
            continue;
        for (int i = 0; i < limit; i++) {
            float cs;
            if (used[i] >= 0 || faces[i].embedding == NULL)
                continue;
            cs = cosine(s->ref[k], faces[i].embedding, s->o.embed_dim);
            if (cs >= best_cos) {
                best_cos = cs;
                best = i;
            }
        }
        if (best < 0)
            continue;
        {
            vg_slots_candidate *c = find(s, faces[best].id);
            if (c != NULL)
                c->last_slot = k;
        }
        sl->id = faces[best].id;
        sl->present = 1;
        sl->face = best;
        sl->box = faces[best].box;
        sl->absent = 0;
        sl->reidentified = 1;
        sl->waiting = s->waiting[k] = 0;
        s->last_seen[k] = s->frame;
        take_ref(s, k, &faces[best]);
        used[best] = k;
        s->stats.reidentified++;
    }
    for (int i = 0; i < limit; i++)
        if (used[i] < 0 && faces[i].embedding != NULL) {
            vg_slots_candidate *c = find(s, faces[i].id);
            if (c != NULL)
                c->checked_frame = s->frame;
        }

    /* 2. free slots take the most principal faces */
    for (int i = 0; i < limit; i++) {
        const vg_slots_candidate *c = find(s, faces[i].id);
        if (c != NULL && c->area > largest)
            largest = c->area;
    }
    for (;;) {
        int free_slots[VG_SLOTS], n_free = 0, best = -1, second = -1;
        double pb = -1.0, ps = -1.0;
        for (int k = 0; k < VG_SLOTS; k++)
            if (s->slot[k].id == 0 && !s->waiting[k])
                free_slots[n_free++] = k;
        if (n_free == 0)
            break;
        for (int i = 0; i < limit; i++) {
            const vg_slots_candidate *c;
            double p;
            if (used[i] >= 0)
                continue;
            c = find(s, faces[i].id);
            if (c == NULL || c->seen < s->o.min_frames ||
                sqrtf(c->area) < s->o.min_relative_size * sqrtf(largest))
                continue;
            p = priority(s, c);
            if (p > pb) {
                second = best;
                ps = pb;
                best = i;
                pb = p;
            } else if (p > ps) {
                second = i;
                ps = p;
            }
        }
        if (best < 0)
            break;
        if (n_free == 2 && second >= 0) {
            float cb = faces[best].box.x + 0.5f * faces[best].box.w;
            float cs = faces[second].box.x + 0.5f * faces[second].box.w;
            int left = cb <= cs ? best : second;
            int right = left == best ? second : best;
            assign(s, 0, &faces[left], left);
            assign(s, 1, &faces[right], right);
            used[left] = 0;
            used[right] = 1;
            break;
        }
        if (n_free == 2) {
            float cx = faces[best].box.x + 0.5f * faces[best].box.w;
            int k = cx < 0.5f * (float)s->o.frame_width ? 0 : 1;
            assign(s, k, &faces[best], best);
            used[best] = k;
            continue; /* the other slot may take nobody now */
        }
        assign(s, free_slots[0], &faces[best], best);
        used[best] = free_slots[0];
    }

    for (int k = 0; k < VG_SLOTS; k++)
        out[k] = s->slot[k];
    return 0;
}

void vg_slots_stats_get(const vg_slots *s, vg_slots_stats *out)
{
    *out = s->stats;
}
