/* vg_rules: the rules engine over a bounded per-object state table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules_internal.h"

#define NEVER (-HUGE_VAL)

typedef struct zone_rt {
    vg_zone_def def;
    vg_point px[VG_ZONE_MAX_POINTS]; /* resolved to pixels */
    float min_x, min_y, max_x, max_y;
} zone_rt;

typedef struct rule_rt {
    vg_rule_def def;
    int zone;
    double cooldown;
    /* occupancy, per rule */
    int holding; /* count > more_than since hold_since */
    int hold_fired;
    double hold_since;
    double last_fire;
    int occupancy;
    /* stats */
    uint64_t fired, suppressed, a_to_b, b_to_a;
} rule_rt;

/* State of one object for one rule. */
typedef struct obj_rule {
    double enter_s;   /* dwell: when the current stay began */
    double last_fire; /* cooldown */
    int8_t inside;    /* -1 not known yet, 0, 1 */
    int8_t side;      /* crossing: last non-zero side, 0 not known yet */
    uint8_t stay_fired;
} obj_rule;

typedef struct entry {
    int64_t track_id;
    double last_seen;
    vg_point pos; /* position when last seen */
    int in_use;
} entry;

/* Fixed-capacity table: entries[capacity], states[capacity * n_rules], and an
 * open-addressing index (linear probing, backward-shift deletion) of
 * 2^k >= 2 * capacity slots holding entry index + 1. */
typedef struct table {
    entry *entries;
    obj_rule *states;
    int32_t *slots;
    int32_t *free_list;
    uint32_t mask;
    int capacity, used, n_free, n_rules;
} table;

struct vg_rules {
    vg_context *ctx;
    int width, height;
    double ttl, cooldown;
    zone_rt *zones;
    int n_zones;
    rule_rt *rules;
    int n_rules;
    table t;
    double next_sweep;
    uint64_t evictions, expirations, forgotten, events_dropped;
};

/* ---- table ----------------------------------------------------------------
 */

static uint32_t hash_id(int64_t id)
{
    uint64_t x = (uint64_t)id + 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)(x ^ (x >> 31));
}

static void table_free(vg_context *ctx, table *t)
{
    vg_free(ctx, t->entries);
    vg_free(ctx, t->states);
    vg_free(ctx, t->slots);
    vg_free(ctx, t->free_list);
    memset(t, 0, sizeof(*t));
}

static int table_alloc(vg_context *ctx, int capacity, int n_rules, table *t)
{
    uint32_t n_slots = 2;

    memset(t, 0, sizeof(*t));
    while (n_slots < 2u * (uint32_t)capacity)
        n_slots *= 2;
    t->entries = vg_calloc(ctx, (size_t)capacity, sizeof(entry));
    t->states =
        vg_calloc(ctx, (size_t)capacity * (size_t)(n_rules ? n_rules : 1),
                  sizeof(obj_rule));
    t->slots = vg_calloc(ctx, n_slots, sizeof(int32_t));
    t->free_list = vg_calloc(ctx, (size_t)capacity, sizeof(int32_t));
    if (!t->entries || !t->states || !t->slots || !t->free_list) {
        table_free(ctx, t);
        return VG_ENOMEM;
    }
    t->mask = n_slots - 1;
    t->capacity = capacity;
    t->n_rules = n_rules;
    for (int i = 0; i < capacity; i++)
        t->free_list[i] = capacity - 1 - i;
    t->n_free = capacity;
    return 0;
}

/* Slot holding id, or the empty slot where it would go. */
static uint32_t table_probe(const table *t, int64_t id)
{
    uint32_t h = hash_id(id) & t->mask;
    while (t->slots[h] && t->entries[t->slots[h] - 1].track_id != id)
        h = (h + 1) & t->mask;
    return h;
}

static int table_find(const table *t, int64_t id)
{
    uint32_t h = table_probe(t, id);
    return t->slots[h] ? t->slots[h] - 1 : -1;
}

static void table_remove(table *t, int e)
{
    uint32_t i = table_probe(t, t->entries[e].track_id), j = i;

    t->slots[i] = 0;
    for (;;) {
        uint32_t k;
        j = (j + 1) & t->mask;
        if (!t->slots[j])
            break;
        k = hash_id(t->entries[t->slots[j] - 1].track_id) & t->mask;
        /* leave slot j where it is when its home k lies cyclically in
         * (i, j]; otherwise it can move into the hole at i */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        t->slots[i] = t->slots[j];
        t->slots[j] = 0;
        i = j;
    }
    t->entries[e].in_use = 0;
    t->free_list[t->n_free++] = e;
    t->used--;
}

static int table_oldest(const table *t)
{
    int best = -1;
    for (int i = 0; i < t->capacity; i++)
        if (t->entries[i].in_use &&
            (best < 0 || t->entries[i].last_seen < t->entries[best].last_seen))
            best = i;
    return best;
}

static void states_reset(obj_rule *s, int n)
{
    for (int i = 0; i < n; i++) {
        s[i].enter_s = 0;
        s[i].last_fire = NEVER;
        s[i].inside = -1;
        s[i].side = 0;
        s[i].stay_fired = 0;
    }
}

/* Adds id (not present) and returns its entry; evicts the least recently
 * seen entry when full (*evicted set to 1). */
static int table_insert(table *t, int64_t id, double now, int *evicted)
{
    int e;
    uint32_t h;

    *evicted = 0;
    if (t->n_free == 0) {
        table_remove(t, table_oldest(t));
        *evicted = 1;
    }
    e = t->free_list[--t->n_free];
    h = table_probe(t, id);
    t->slots[h] = e + 1;
    t->entries[e].track_id = id;
    t->entries[e].last_seen = now;
    t->entries[e].in_use = 1;
    t->used++;
    states_reset(&t->states[(size_t)e * t->n_rules], t->n_rules);
    return e;
}

/* ---- building the runtime -------------------------------------------------
 */

static void zone_build(zone_rt *z, const vg_zone_def *def, int w, int h)
{
    z->def = *def;
    vgi_zone_to_pixels(def, w, h, z->px);
    z->min_x = z->max_x = z->px[0].x;
    z->min_y = z->max_y = z->px[0].y;
    for (int i = 1; i < def->n_points; i++) {
        z->min_x = fminf(z->min_x, z->px[i].x);
        z->max_x = fmaxf(z->max_x, z->px[i].x);
        z->min_y = fminf(z->min_y, z->px[i].y);
        z->max_y = fmaxf(z->max_y, z->px[i].y);
    }
    if (def->kind == VG_ZONE_LINE) {
        if (!z->def.a_to_b[0])
            snprintf(z->def.a_to_b, sizeof(z->def.a_to_b), "A>B");
        if (!z->def.b_to_a[0])
            snprintf(z->def.b_to_a, sizeof(z->def.b_to_a), "B>A");
    }
}

static void rule_build(rule_rt *r, const vg_rules_config *cfg,
                       const vg_rule_def *def)
{
    memset(r, 0, sizeof(*r));
    r->def = *def;
    r->zone = vgi_rules_find_zone(cfg, def->zone);
    r->cooldown = vgi_rule_cooldown(cfg, def);
    r->last_fire = NEVER;
}

/* New zone and rule arrays for cfg (already checked). */
static int build(vg_context *ctx, const vg_rules_config *cfg, int w, int h,
                 zone_rt **zones, rule_rt **rules)
{
    *zones = vg_calloc(ctx, (size_t)(cfg->n_zones ? cfg->n_zones : 1),
                       sizeof(zone_rt));
    *rules = vg_calloc(ctx, (size_t)(cfg->n_rules ? cfg->n_rules : 1),
                       sizeof(rule_rt));
    if (!*zones || !*rules) {
        vg_free(ctx, *zones);
        vg_free(ctx, *rules);
        *zones = NULL;
        *rules = NULL;
        return VG_ENOMEM;
    }
    for (int i = 0; i < cfg->n_zones; i++)
        zone_build(&(*zones)[i], &cfg->zones[i], w, h);
    for (int i = 0; i < cfg->n_rules; i++)
        rule_build(&(*rules)[i], cfg, &cfg->rules[i]);
    return 0;
}

int vg_rules_create(vg_context *ctx, const vg_rules_config *cfg, int width,
                    int height, vg_rules **out)
{
    vg_rules *r;
    int rc;

    if (out == NULL)
        return vg_fail(ctx, VG_EINVAL, "vg_rules_create: out is NULL");
    *out = NULL;
    if (cfg == NULL || width <= 0 || height <= 0)
        return vg_fail(ctx, VG_EINVAL,
                       "vg_rules_create: a config and a frame size are "
                       "needed (got %dx%d)",
                       width, height);
    if ((rc = vg_rules_config_check(ctx, cfg, width, height)) < 0)
        return rc;
    r = vg_calloc(ctx, 1, sizeof(*r));
    if (r == NULL)
        goto fail_nomem;
    r->ctx = ctx;
    r->width = width;
    r->height = height;
    r->ttl = cfg->state_ttl_s;
    r->cooldown = cfg->cooldown_s;
    r->next_sweep = NEVER;
    if (build(ctx, cfg, width, height, &r->zones, &r->rules) < 0)
        goto fail_nomem;
    r->n_zones = cfg->n_zones;
    r->n_rules = cfg->n_rules;
    if (table_alloc(ctx, cfg->capacity, cfg->n_rules, &r->t) < 0)
        goto fail_nomem;
    *out = r;
    return 0;

fail_nomem:
    vg_rules_destroy(&r);
    return vg_fail(ctx, VG_ENOMEM, "rules: out of memory (capacity %d)",
                   cfg->capacity);
}

void vg_rules_destroy(vg_rules **pr)
{
    vg_rules *r;

    if (pr == NULL || *pr == NULL)
        return;
    r = *pr;
    table_free(r->ctx, &r->t);
    vg_free(r->ctx, r->zones);
    vg_free(r->ctx, r->rules);
    vg_free(r->ctx, r);
    *pr = NULL;
}

/* ---- reload -----------------------------------------------------------------
 */

static int zone_same(const zone_rt *a, const zone_rt *b)
{
    if (a->def.kind != b->def.kind || a->def.n_points != b->def.n_points ||
        strcmp(a->def.name, b->def.name) ||
        strcmp(a->def.a_to_b, b->def.a_to_b) ||
        strcmp(a->def.b_to_a, b->def.b_to_a))
        return 0;
    for (int i = 0; i < a->def.n_points; i++)
        if (a->px[i].x != b->px[i].x || a->px[i].y != b->px[i].y)
            return 0;
    return 1;
}

static int rule_same(const vg_rules *r, const rule_rt *a, const zone_rt *nz,
                     const rule_rt *b)
{
    const vg_rule_def *x = &a->def, *y = &b->def;

    if (strcmp(x->name, y->name) || x->kind != y->kind ||
        x->n_classes != y->n_classes || x->seconds != y->seconds ||
        x->more_than != y->more_than || x->direction != y->direction ||
        a->cooldown != b->cooldown ||
        memcmp(x->classes, y->classes, sizeof(int) * (size_t)x->n_classes))
        return 0;
    return zone_same(&r->zones[a->zone], &nz[b->zone]);
}

static int by_recent(const void *pa, const void *pb, void *arg)
{
    const entry *e = arg;
    double a = e[*(const int *)pa].last_seen, b = e[*(const int *)pb].last_seen;
    return a > b ? -1 : (a < b ? 1 : 0);
}

int vg_rules_reload(vg_rules *r, const vg_rules_config *cfg)
{
    zone_rt *zones = NULL;
    rule_rt *rules = NULL;
    int *order = NULL, *keep = NULL; /* keep[new rule] = old rule or -1 */
    table t;
    int rc, n_order = 0;

    memset(&t, 0, sizeof(t));
    if (r == NULL || cfg == NULL)
        return VG_EINVAL;
    if ((rc = vg_rules_config_check(r->ctx, cfg, r->width, r->height)) < 0)
        return rc;
    if (build(r->ctx, cfg, r->width, r->height, &zones, &rules) < 0 ||
        table_alloc(r->ctx, cfg->capacity, cfg->n_rules, &t) < 0)
        goto fail_nomem;
    order = vg_calloc(r->ctx, (size_t)r->t.capacity, sizeof(int));
    keep = vg_calloc(r->ctx, (size_t)(cfg->n_rules ? cfg->n_rules : 1),
                     sizeof(int));
    if (!order || !keep)
        goto fail_nomem;

    /* nothing can fail from here on */
    for (int i = 0; i < cfg->n_rules; i++) {
        keep[i] = -1;
        for (int j = 0; j < r->n_rules; j++)
            if (rule_same(r, &r->rules[j], zones, &rules[i])) {
                keep[i] = j;
                /* counters and occupancy state go on */
                rules[i].holding = r->rules[j].holding;
                rules[i].hold_fired = r->rules[j].hold_fired;
                rules[i].hold_since = r->rules[j].hold_since;
                rules[i].last_fire = r->rules[j].last_fire;
                rules[i].occupancy = r->rules[j].occupancy;
                rules[i].fired = r->rules[j].fired;
                rules[i].suppressed = r->rules[j].suppressed;
                rules[i].a_to_b = r->rules[j].a_to_b;
                rules[i].b_to_a = r->rules[j].b_to_a;
                break;
            }
    }
    /* objects move to the new table, most recently seen first */
    for (int e = 0; e < r->t.capacity; e++)
        if (r->t.entries[e].in_use)
            order[n_order++] = e;
    qsort_r(order, (size_t)n_order, sizeof(int), by_recent, r->t.entries);
    for (int i = 0; i < n_order; i++) {
        const entry *old = &r->t.entries[order[i]];
        const obj_rule *os = &r->t.states[(size_t)order[i] * r->t.n_rules];
        obj_rule *ns;
        int evicted, e;
        if (i >= t.capacity) {
            r->evictions++;
            continue;
        }
        e = table_insert(&t, old->track_id, old->last_seen, &evicted);
        t.entries[e].pos = old->pos;
        ns = &t.states[(size_t)e * t.n_rules];
        for (int k = 0; k < cfg->n_rules; k++)
            if (keep[k] >= 0)
                ns[k] = os[keep[k]];
    }
    table_free(r->ctx, &r->t);
    vg_free(r->ctx, r->zones);
    vg_free(r->ctx, r->rules);
    r->t = t;
    r->zones = zones;
    r->rules = rules;
    r->n_zones = cfg->n_zones;
    r->n_rules = cfg->n_rules;
    r->ttl = cfg->state_ttl_s;
    r->cooldown = cfg->cooldown_s;
    vg_free(r->ctx, order);
    vg_free(r->ctx, keep);
    return 0;

fail_nomem:
    table_free(r->ctx, &t);
    vg_free(r->ctx, zones);
    vg_free(r->ctx, rules);
    vg_free(r->ctx, order);
    vg_free(r->ctx, keep);
    return vg_fail(r->ctx, VG_ENOMEM, "rules reload: out of memory");
}

/* ---- update -----------------------------------------------------------------
 */

typedef struct frame_ctx {
    vg_rules *r;
    double t;
    int64_t frame;
    vg_event *events;
    int cap, n;
} frame_ctx;

static vg_event *emit(frame_ctx *f, const rule_rt *rule)
{
    vg_event *ev;

    if (f->n >= f->cap) {
        f->r->events_dropped++;
        return NULL;
    }
    ev = &f->events[f->n++];
    memset(ev, 0, sizeof(*ev));
    ev->kind = rule->def.kind;
    ev->time_s = f->t;
    ev->frame_index = f->frame;
    snprintf(ev->rule, sizeof(ev->rule), "%s", rule->def.name);
    snprintf(ev->zone, sizeof(ev->zone), "%s", rule->def.zone);
    ev->count = 1;
    return ev;
}

/* An alarm of a per-object rule, subject to its per-object cooldown. */
static void fire_object(frame_ctx *f, rule_rt *rule, obj_rule *s,
                        const vg_rules_object *o, int dir)
{
    vg_event *ev;

    if (s->last_fire != NEVER && f->t - s->last_fire < rule->cooldown) {
        rule->suppressed++;
        return;
    }
    s->last_fire = f->t;
    rule->fired++;
    ev = emit(f, rule);
    if (ev == NULL)
        return;
    ev->track_id = o->track_id;
    ev->class_id = o->class_id;
    snprintf(ev->class_name, sizeof(ev->class_name), "%s",
             vgi_rules_class_name(o->class_id));
    ev->score = o->score;
    ev->box = o->box;
    if (dir) {
        const zone_rt *z = &f->r->zones[rule->zone];
        snprintf(ev->direction, sizeof(ev->direction), "%s",
                 dir > 0 ? "A>B" : "B>A");
        snprintf(ev->direction_name, sizeof(ev->direction_name), "%s",
                 dir > 0 ? z->def.a_to_b : z->def.b_to_a);
    }
}

static int class_matches(const vg_rule_def *d, int class_id)
{
    if (d->n_classes == 0)
        return 1;
    for (int i = 0; i < d->n_classes; i++)
        if (d->classes[i] == class_id)
            return 1;
    return 0;
}

static int zone_has(const zone_rt *z, vg_point p)
{
    if (p.x < z->min_x - 1e-3f || p.x > z->max_x + 1e-3f ||
        p.y < z->min_y - 1e-3f || p.y > z->max_y + 1e-3f)
        return 0;
    return vg_zone_contains(z->px, z->def.n_points, p);
}

/* Occupancy tallies for the frame, kept in the caller's stack. */
typedef struct tally {
    int count;
    vg_box box;
    float score;
    int class_id;
} tally;

static void object_step(frame_ctx *f, obj_rule *states, const entry *en,
                        int had_pos, const vg_rules_object *o, vg_point p,
                        tally *tallies)
{
    vg_rules *r = f->r;

    for (int k = 0; k < r->n_rules; k++) {
        rule_rt *rule = &r->rules[k];
        const zone_rt *z = &r->zones[rule->zone];
        obj_rule *s = &states[k];
        int in;
        if (!class_matches(&rule->def, o->class_id))
            continue;
        if (rule->def.kind == VG_EVENT_CROSSING) {
            int side = vg_line_side(z->px[0], z->px[1], p);
            if (side == 0)
                continue; /* on the line: the previous side holds */
            if (s->side != 0 && side != s->side && had_pos &&
                vgi_path_meets_segment(z->px[0], z->px[1], en->pos, p)) {
                int dir = s->side < 0 ? 1 : -1; /* left->right is A>B */
                if (dir > 0)
                    rule->a_to_b++;
                else
                    rule->b_to_a++;
                if (rule->def.direction == VG_CROSS_BOTH ||
                    (rule->def.direction == VG_CROSS_A_TO_B && dir > 0) ||
                    (rule->def.direction == VG_CROSS_B_TO_A && dir < 0))
                    fire_object(f, rule, s, o, dir);
            }
            s->side = (int8_t)side;
            continue;
        }
        in = zone_has(z, p);
        switch (rule->def.kind) {
        case VG_EVENT_INTRUSION:
            if (in && s->inside != 1)
                fire_object(f, rule, s, o, 0);
            break;
        case VG_EVENT_DWELL:
            if (in && s->inside != 1) {
                s->enter_s = f->t;
                s->stay_fired = 0;
            }
            if (in && !s->stay_fired &&
                f->t - s->enter_s >= rule->def.seconds) {
                s->stay_fired = 1;
                fire_object(f, rule, s, o, 0);
            }
            break;
        case VG_EVENT_OCCUPANCY:
            if (in) {
                tally *ta = &tallies[k];
                if (ta->count == 0) {
                    ta->box = o->box;
                    ta->score = o->score;
                    ta->class_id = o->class_id;
                } else {
                    float x1 = fminf(ta->box.x, o->box.x);
                    float y1 = fminf(ta->box.y, o->box.y);
                    float x2 =
                        fmaxf(ta->box.x + ta->box.w, o->box.x + o->box.w);
                    float y2 =
                        fmaxf(ta->box.y + ta->box.h, o->box.y + o->box.h);
                    ta->box = (vg_box){x1, y1, x2 - x1, y2 - y1};
                    ta->score = fmaxf(ta->score, o->score);
                    if (ta->class_id != o->class_id)
                        ta->class_id = -1;
                }
                ta->count++;
            }
            break;
        }
        s->inside = (int8_t)in;
    }
}

static void occupancy_step(frame_ctx *f, rule_rt *rule, const tally *ta)
{
    vg_event *ev;

    rule->occupancy = ta->count;
    if (ta->count <= rule->def.more_than) {
        rule->holding = 0; /* re-arms */
        rule->hold_fired = 0;
        return;
    }
    if (!rule->holding) {
        rule->holding = 1;
        rule->hold_fired = 0;
        rule->hold_since = f->t;
    }
    if (rule->hold_fired || f->t - rule->hold_since < rule->def.seconds)
        return;
    rule->hold_fired = 1;
    if (rule->last_fire != NEVER && f->t - rule->last_fire < rule->cooldown) {
        rule->suppressed++;
        return;
    }
    rule->last_fire = f->t;
    rule->fired++;
    ev = emit(f, rule);
    if (ev == NULL)
        return;
    ev->track_id = -1;
    ev->class_id = ta->class_id;
    snprintf(ev->class_name, sizeof(ev->class_name), "%s",
             vgi_rules_class_name(ta->class_id));
    ev->score = ta->score;
    ev->box = ta->box;
    ev->count = ta->count;
}

static void expire(vg_rules *r, double now)
{
    double period = r->ttl / 8 < 1.0 ? r->ttl / 8 : 1.0;

    if (now < r->next_sweep)
        return;
    r->next_sweep = now + period;
    for (int e = 0; e < r->t.capacity; e++)
        if (r->t.entries[e].in_use &&
            now - r->t.entries[e].last_seen > r->ttl) {
            table_remove(&r->t, e);
            r->expirations++;
        }
}

static int any_rule_wants(const vg_rules *r, int class_id)
{
    for (int k = 0; k < r->n_rules; k++)
        if (class_matches(&r->rules[k].def, class_id))
            return 1;
    return 0;
}

int vg_rules_update(vg_rules *r, double time_s, int64_t frame_index,
                    const vg_rules_object *objs, int n, vg_event *events,
                    int cap, int *n_events)
{
    tally tallies[VG_RULES_MAX_RULES];
    frame_ctx f;

    if (n_events)
        *n_events = 0;
    if (r == NULL || n < 0 || (n > 0 && objs == NULL) || cap < 0 ||
        (cap > 0 && events == NULL) || !isfinite(time_s))
        return VG_EINVAL;
    f.r = r;
    f.t = time_s;
    f.frame = frame_index;
    f.events = events;
    f.cap = cap;
    f.n = 0;
    memset(tallies, 0, sizeof(tallies));
    expire(r, time_s);
    for (int i = 0; i < n; i++) {
        const vg_rules_object *o = &objs[i];
        vg_point p = {o->box.x + o->box.w * 0.5f, o->box.y + o->box.h};
        int e, had_pos = 1, evicted;
        entry *en;
        if (!any_rule_wants(r, o->class_id))
            continue;
        e = table_find(&r->t, o->track_id);
        if (e < 0) {
            e = table_insert(&r->t, o->track_id, time_s, &evicted);
            r->evictions += (uint64_t)evicted;
            had_pos = 0;
        }
        en = &r->t.entries[e];
        object_step(&f, &r->t.states[(size_t)e * r->t.n_rules], en, had_pos, o,
                    p, tallies);
        en->pos = p;
        en->last_seen = time_s;
    }
    for (int k = 0; k < r->n_rules; k++)
        if (r->rules[k].def.kind == VG_EVENT_OCCUPANCY)
            occupancy_step(&f, &r->rules[k], &tallies[k]);
    if (n_events)
        *n_events = f.n;
    return 0;
}

int vg_rules_forget(vg_rules *r, int64_t track_id)
{
    int e;

    if (r == NULL)
        return 0;
    e = table_find(&r->t, track_id);
    if (e < 0)
        return 0;
    table_remove(&r->t, e);
    r->forgotten++;
    return 1;
}

/* ---- introspection ----------------------------------------------------------
 */

void vg_rules_stats_get(const vg_rules *r, vg_rules_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (r == NULL)
        return;
    out->entries = r->t.used;
    out->capacity = r->t.capacity;
    out->evictions = r->evictions;
    out->expirations = r->expirations;
    out->forgotten = r->forgotten;
    out->events_dropped = r->events_dropped;
    out->n_rules = r->n_rules;
}

int vg_rules_rule_stats(const vg_rules *r, int i, vg_rule_stats *out)
{
    const rule_rt *rule;

    if (r == NULL || out == NULL || i < 0 || i >= r->n_rules)
        return VG_EINVAL;
    rule = &r->rules[i];
    memset(out, 0, sizeof(*out));
    out->name = rule->def.name;
    out->zone = rule->def.zone;
    out->kind = rule->def.kind;
    out->fired = rule->fired;
    out->suppressed = rule->suppressed;
    out->crossed_a_to_b = rule->a_to_b;
    out->crossed_b_to_a = rule->b_to_a;
    out->occupancy = rule->occupancy;
    return 0;
}

int vg_rules_zone_count(const vg_rules *r)
{
    return r ? r->n_zones : 0;
}

int vg_rules_zone(const vg_rules *r, int i, vg_zone_view *out)
{
    const zone_rt *z;

    if (r == NULL || out == NULL || i < 0 || i >= r->n_zones)
        return VG_EINVAL;
    z = &r->zones[i];
    out->name = z->def.name;
    out->kind = z->def.kind;
    out->points = z->px;
    out->n_points = z->def.n_points;
    out->a_to_b = z->def.kind == VG_ZONE_LINE ? z->def.a_to_b : "";
    out->b_to_a = z->def.kind == VG_ZONE_LINE ? z->def.b_to_a : "";
    return 0;
}
