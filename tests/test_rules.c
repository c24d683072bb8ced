/* The rules engine: intrusion, dwell, line crossing, occupancy, cooldown,
 * and the bounded per-object state (forget, TTL, eviction, reload). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/rules.h"

#define W 640
#define H 480

typedef struct fixture {
    vg_context *ctx;
    vg_rules_config cfg;
    vg_rules *r;
    vg_event ev[32];
    int nev;
} fixture;

static int setup(void **state)
{
    fixture *f = test_calloc(1, sizeof(*f));
    if (vg_context_create(&f->ctx) < 0)
        return -1;
    vg_rules_config_init(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vg_rules_destroy(&f->r);
    vg_rules_config_free(f->ctx, &f->cfg);
    vg_context_destroy(&f->ctx);
    test_free(f);
    return 0;
}

static void add_rect(fixture *f, const char *name, float x0, float y0, float x1,
                     float y1)
{
    vg_zone_def z;
    memset(&z, 0, sizeof(z));
    strcpy(z.name, name);
    z.kind = VG_ZONE_POLYGON;
    z.points[0] = (vg_point){x0, y0};
    z.points[1] = (vg_point){x1, y0};
    z.points[2] = (vg_point){x1, y1};
    z.points[3] = (vg_point){x0, y1};
    z.n_points = 4;
    assert_int_equal(vg_rules_config_add_zone(f->ctx, &f->cfg, &z), 0);
}

static void add_line(fixture *f, const char *name, float ax, float ay, float bx,
                     float by)
{
    vg_zone_def z;
    memset(&z, 0, sizeof(z));
    strcpy(z.name, name);
    z.kind = VG_ZONE_LINE;
    z.points[0] = (vg_point){ax, ay};
    z.points[1] = (vg_point){bx, by};
    z.n_points = 2;
    strcpy(z.a_to_b, "down");
    strcpy(z.b_to_a, "up");
    assert_int_equal(vg_rules_config_add_zone(f->ctx, &f->cfg, &z), 0);
}

static vg_rule_def *add_rule(fixture *f, const char *name, int kind,
                             const char *zone, double cooldown)
{
    vg_rule_def d;
    memset(&d, 0, sizeof(d));
    strcpy(d.name, name);
    strcpy(d.zone, zone);
    d.kind = kind;
    d.cooldown_s = cooldown;
    d.classes[0] = 0; /* person */
    d.n_classes = 1;
    assert_int_equal(vg_rules_config_add_rule(f->ctx, &f->cfg, &d), 0);
    return &f->cfg.rules[f->cfg.n_rules - 1];
}

static void create(fixture *f)
{
    assert_int_equal(vg_rules_create(f->ctx, &f->cfg, W, H, &f->r), 0);
}

/* A person whose feet are at (x, y). */
static vg_rules_object person(int64_t id, float x, float y)
{
    vg_rules_object o = {id, {x - 10, y - 40, 20, 40}, 0, 0.9f};
    return o;
}

/* One frame at time t (frame index = t * 10); returns the event count. */
static int step(fixture *f, double t, const vg_rules_object *objs, int n)
{
    assert_int_equal(vg_rules_update(f->r, t, (int64_t)(t * 10 + 0.5), objs, n,
                                     f->ev, 32, &f->nev),
                     0);
    return f->nev;
}

static int step1(fixture *f, double t, int64_t id, float x, float y)
{
    vg_rules_object o = person(id, x, y);
    return step(f, t, &o, 1);
}

static uint64_t fired(fixture *f, int rule)
{
    vg_rule_stats st;
    assert_int_equal(vg_rules_rule_stats(f->r, rule, &st), 0);
    return st.fired;
}

static int entries(fixture *f)
{
    vg_rules_stats st;
    vg_rules_stats_get(f->r, &st);
    return st.entries;
}

/* ---- intrusion ---- */

static void test_intrusion_fires_on_entry_with_event_fields(void **state)
{
    fixture *f = *state;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 10);
    create(f);
    assert_int_equal(step1(f, 0.0, 7, 50, 150), 0);
    assert_int_equal(step1(f, 0.1, 7, 120, 150), 1);
    assert_int_equal(f->ev[0].kind, VG_EVENT_INTRUSION);
    assert_string_equal(f->ev[0].rule, "no_entry");
    assert_string_equal(f->ev[0].zone, "yard");
    assert_int_equal(f->ev[0].track_id, 7);
    assert_int_equal(f->ev[0].frame_index, 1);
    assert_string_equal(f->ev[0].class_name, "person");
    assert_int_equal(f->ev[0].count, 1);
    assert_float_equal(f->ev[0].box.x, 110, 1e-4);
    /* staying inside raises nothing more */
    assert_int_equal(step1(f, 0.2, 7, 130, 150), 0);
}

static void test_intrusion_does_not_refire_within_cooldown(void **state)
{
    fixture *f = *state;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 10);
    create(f);
    assert_int_equal(step1(f, 0.0, 1, 150, 150), 1); /* first seen inside */
    assert_int_equal(step1(f, 1.0, 1, 50, 150), 0);  /* out */
    assert_int_equal(step1(f, 2.0, 1, 150, 150), 0); /* in, within 10 s */
    assert_int_equal(step1(f, 3.0, 1, 50, 150), 0);
    assert_int_equal(step1(f, 12.0, 1, 150, 150), 1); /* in after cooldown */
    assert_int_equal(fired(f, 0), 2);
}

static void test_cooldown_is_per_object(void **state)
{
    fixture *f = *state;
    vg_rules_object two[2];
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 10);
    create(f);
    two[0] = person(1, 150, 150);
    two[1] = person(2, 50, 150);
    assert_int_equal(step(f, 0, two, 2), 1);
    two[1] = person(2, 160, 150);
    assert_int_equal(step(f, 1, two, 2), 1);
    assert_int_equal(f->ev[0].track_id, 2);
}

static void test_rule_ignores_other_classes(void **state)
{
    fixture *f = *state;
    vg_rules_object car = person(3, 150, 150);
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 10);
    create(f);
    car.class_id = 2;
    assert_int_equal(step(f, 0, &car, 1), 0);
    assert_int_equal(entries(f), 0);
}

/* ---- dwell ---- */

static void test_dwell_fires_after_t_once_per_stay(void **state)
{
    fixture *f = *state;
    vg_rule_def *d;
    add_rect(f, "bench", 100, 100, 200, 200);
    d = add_rule(f, "loiter", VG_EVENT_DWELL, "bench", 0);
    d->seconds = 3;
    create(f);
    assert_int_equal(step1(f, 10.0, 4, 150, 150), 0);
    assert_int_equal(step1(f, 12.9, 4, 150, 150), 0);
    assert_int_equal(step1(f, 13.0, 4, 150, 150), 1);
    assert_int_equal(f->ev[0].kind, VG_EVENT_DWELL);
    for (int i = 1; i < 50; i++)
        assert_int_equal(step1(f, 13.0 + i * 0.1, 4, 150, 150), 0);
    /* leave and come back: a new stay, timed from the re-entry */
    assert_int_equal(step1(f, 20.0, 4, 50, 150), 0);
    assert_int_equal(step1(f, 21.0, 4, 150, 150), 0);
    assert_int_equal(step1(f, 23.5, 4, 150, 150), 0);
    assert_int_equal(step1(f, 24.0, 4, 150, 150), 1);
}

/* ---- crossing ---- */

static void test_crossings_in_each_direction_are_counted_apart(void **state)
{
    fixture *f = *state;
    vg_rule_stats st;
    /* horizontal line drawn left to right: A>B is moving down */
    add_line(f, "gate", 100, 200, 300, 200);
    add_rule(f, "count", VG_EVENT_CROSSING, "gate", 0);
    create(f);
    assert_int_equal(step1(f, 0.0, 1, 200, 150), 0);
    assert_int_equal(step1(f, 0.1, 1, 200, 250), 1);
    assert_string_equal(f->ev[0].direction, "A>B");
    assert_string_equal(f->ev[0].direction_name, "down");
    assert_int_equal(step1(f, 0.2, 1, 200, 150), 1);
    assert_string_equal(f->ev[0].direction, "B>A");
    assert_string_equal(f->ev[0].direction_name, "up");
    assert_int_equal(step1(f, 0.3, 1, 210, 250), 1);
    assert_int_equal(vg_rules_rule_stats(f->r, 0, &st), 0);
    assert_int_equal(st.crossed_a_to_b, 2);
    assert_int_equal(st.crossed_b_to_a, 1);
}

static void test_moving_parallel_to_line_is_no_crossing(void **state)
{
    fixture *f = *state;
    vg_rule_stats st;
    add_line(f, "gate", 100, 200, 300, 200);
    add_rule(f, "count", VG_EVENT_CROSSING, "gate", 0);
    create(f);
    for (int i = 0; i < 30; i++)
        assert_int_equal(step1(f, i * 0.1, 1, 50.0f + i * 10, 190), 0);
    /* along the line itself too */
    for (int i = 0; i < 30; i++)
        assert_int_equal(step1(f, 3 + i * 0.1, 2, 50.0f + i * 10, 200), 0);
    assert_int_equal(vg_rules_rule_stats(f->r, 0, &st), 0);
    assert_int_equal(st.crossed_a_to_b + st.crossed_b_to_a, 0);
}

static void test_crossing_beyond_segment_end_is_no_crossing(void **state)
{
    fixture *f = *state;
    vg_rule_stats st;
    add_line(f, "gate", 100, 200, 300, 200);
    add_rule(f, "count", VG_EVENT_CROSSING, "gate", 0);
    create(f);
    assert_int_equal(step1(f, 0.0, 1, 350, 150), 0);
    assert_int_equal(step1(f, 0.1, 1, 350, 250), 0); /* past B's end */
    assert_int_equal(step1(f, 0.2, 1, 50, 250), 0);  /* around A */
    assert_int_equal(step1(f, 0.3, 1, 50, 150), 0);
    assert_int_equal(vg_rules_rule_stats(f->r, 0, &st), 0);
    assert_int_equal(st.crossed_a_to_b + st.crossed_b_to_a, 0);
}

static void test_direction_filter_fires_one_way_counts_both(void **state)
{
    fixture *f = *state;
    vg_rule_def *d;
    vg_rule_stats st;
    add_line(f, "gate", 100, 200, 300, 200);
    d = add_rule(f, "down_only", VG_EVENT_CROSSING, "gate", 0);
    d->direction = VG_CROSS_A_TO_B;
    create(f);
    assert_int_equal(step1(f, 0.0, 1, 200, 150), 0);
    assert_int_equal(step1(f, 0.1, 1, 200, 250), 1);
    assert_int_equal(step1(f, 0.2, 1, 200, 150), 0);
    assert_int_equal(vg_rules_rule_stats(f->r, 0, &st), 0);
    assert_int_equal(st.crossed_a_to_b, 1);
    assert_int_equal(st.crossed_b_to_a, 1);
    assert_int_equal(st.fired, 1);
}

static void test_pause_on_the_line_then_cross_counts_once(void **state)
{
    fixture *f = *state;
    vg_rule_stats st;
    add_line(f, "gate", 100, 200, 300, 200);
    add_rule(f, "count", VG_EVENT_CROSSING, "gate", 0);
    create(f);
    assert_int_equal(step1(f, 0.0, 1, 200, 150), 0);
    assert_int_equal(step1(f, 0.1, 1, 200, 200), 0); /* on the line */
    assert_int_equal(step1(f, 0.2, 1, 200, 200), 0);
    assert_int_equal(step1(f, 0.3, 1, 200, 230), 1);
    assert_int_equal(vg_rules_rule_stats(f->r, 0, &st), 0);
    assert_int_equal(st.crossed_a_to_b, 1);
}

/* ---- occupancy ---- */

static void crowd(vg_rules_object *o, int n, float x)
{
    for (int i = 0; i < n; i++)
        o[i] = person(100 + i, x + (float)i * 5, 150);
}

static void test_occupancy_fires_after_hold_and_rearms(void **state)
{
    fixture *f = *state;
    vg_rules_object o[4];
    vg_rule_def *d;
    add_rect(f, "plaza", 100, 100, 300, 200);
    d = add_rule(f, "crowd", VG_EVENT_OCCUPANCY, "plaza", 0);
    d->more_than = 2;
    d->seconds = 2;
    create(f);
    crowd(o, 4, 150); /* the first 3: 3 > 2 */
    assert_int_equal(step(f, 0.0, o, 3), 0);
    assert_int_equal(step(f, 1.9, o, 3), 0);
    assert_int_equal(step(f, 2.0, o, 3), 1);
    assert_int_equal(f->ev[0].kind, VG_EVENT_OCCUPANCY);
    assert_int_equal(f->ev[0].count, 3);
    assert_int_equal(f->ev[0].track_id, -1);
    assert_int_equal(step(f, 5.0, o, 3), 0); /* still held: once */
    assert_int_equal(step(f, 5.1, o, 2), 0); /* clears */
    assert_int_equal(step(f, 6.0, o, 4), 0);
    assert_int_equal(step(f, 8.0, o, 4), 1); /* re-armed */
    assert_int_equal(f->ev[0].count, 4);
}

static void test_occupancy_below_threshold_never_fires(void **state)
{
    fixture *f = *state;
    vg_rules_object o[3];
    vg_rule_def *d;
    add_rect(f, "plaza", 100, 100, 300, 200);
    d = add_rule(f, "crowd", VG_EVENT_OCCUPANCY, "plaza", 0);
    d->more_than = 2;
    d->seconds = 1;
    create(f);
    crowd(o, 3, 150);
    o[2] = person(102, 500, 150); /* outside */
    for (int i = 0; i < 50; i++)
        assert_int_equal(step(f, i * 0.1, o, 3), 0);
}

static void test_occupancy_cooldown_is_per_rule(void **state)
{
    fixture *f = *state;
    vg_rules_object o[3];
    vg_rule_def *d;
    add_rect(f, "plaza", 100, 100, 300, 200);
    d = add_rule(f, "crowd", VG_EVENT_OCCUPANCY, "plaza", 30);
    d->more_than = 2;
    d->seconds = 0;
    create(f);
    crowd(o, 3, 150);
    assert_int_equal(step(f, 0, o, 3), 1);
    assert_int_equal(step(f, 1, o, 2), 0);
    assert_int_equal(step(f, 2, o, 3), 0); /* within 30 s */
    assert_int_equal(step(f, 3, o, 2), 0);
    assert_int_equal(step(f, 40, o, 3), 1);
}

/* ---- state ---- */

static void test_forget_removes_state(void **state)
{
    fixture *f = *state;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 60);
    create(f);
    assert_int_equal(step1(f, 0, 5, 150, 150), 1);
    assert_int_equal(entries(f), 1);
    assert_int_equal(vg_rules_forget(f->r, 5), 1);
    assert_int_equal(vg_rules_forget(f->r, 5), 0);
    assert_int_equal(entries(f), 0);
    /* same id seen again: a new object, so its cooldown is gone too */
    assert_int_equal(step1(f, 1, 5, 150, 150), 1);
}

static void test_unseen_objects_expire_after_ttl(void **state)
{
    fixture *f = *state;
    vg_rules_stats st;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 0);
    f->cfg.state_ttl_s = 5;
    create(f);
    assert_int_equal(step1(f, 0, 1, 50, 50), 0);
    assert_int_equal(step1(f, 0, 2, 60, 60), 0);
    for (int i = 1; i <= 40; i++)
        assert_int_equal(step1(f, i * 0.1, 2, 60, 60), 0); /* 2 stays */
    assert_int_equal(entries(f), 2);
    for (int i = 41; i <= 80; i++)
        assert_int_equal(step1(f, i * 0.1, 2, 60, 60), 0);
    vg_rules_stats_get(f->r, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.expirations, 1);
}

static void test_full_table_evicts_least_recently_seen(void **state)
{
    fixture *f = *state;
    vg_rules_stats st;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 100);
    f->cfg.capacity = 4;
    create(f);
    for (int id = 1; id <= 4; id++)
        assert_int_equal(step1(f, id, id, 150, 150), 1);
    assert_int_equal(step1(f, 5, 1, 150, 150), 0); /* 1 refreshed, cooled */
    assert_int_equal(step1(f, 6, 9, 150, 150), 1); /* evicts 2 */
    vg_rules_stats_get(f->r, &st);
    assert_int_equal(st.entries, 4);
    assert_int_equal(st.capacity, 4);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(vg_rules_forget(f->r, 2), 0);
    assert_int_equal(vg_rules_forget(f->r, 1), 1);
}

static void test_reload_keeps_unchanged_rules_clears_changed(void **state)
{
    fixture *f = *state;
    vg_rules_config next;
    vg_rule_stats st;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rect(f, "lot", 300, 100, 400, 200);
    add_rule(f, "yard_entry", VG_EVENT_INTRUSION, "yard", 100);
    add_rule(f, "lot_entry", VG_EVENT_INTRUSION, "lot", 100);
    create(f);
    {
        vg_rules_object o[2] = {person(1, 150, 150), person(2, 350, 150)};
        assert_int_equal(step(f, 0, o, 2), 2);
    }
    /* same rules, but the lot zone moved */
    vg_rules_config_init(&next);
    for (int i = 0; i < f->cfg.n_zones; i++)
        assert_int_equal(
            vg_rules_config_add_zone(f->ctx, &next, &f->cfg.zones[i]), 0);
    for (int i = 0; i < f->cfg.n_rules; i++)
        assert_int_equal(
            vg_rules_config_add_rule(f->ctx, &next, &f->cfg.rules[i]), 0);
    next.zones[1].points[2].x = 410;
    assert_int_equal(vg_rules_reload(f->r, &next), 0);
    vg_rules_config_free(f->ctx, &next);
    assert_int_equal(entries(f), 2);
    /* both still inside their zones: the kept rule knows object 1 is in and
     * stays quiet; the changed one starts afresh and sees 2 as new */
    {
        vg_rules_object o[2] = {person(1, 150, 150), person(2, 350, 150)};
        assert_int_equal(step(f, 1, o, 2), 1);
        assert_string_equal(f->ev[0].rule, "lot_entry");
    }
    assert_int_equal(vg_rules_rule_stats(f->r, 0, &st), 0);
    assert_int_equal(st.fired, 1); /* counter kept */
    assert_int_equal(vg_rules_rule_stats(f->r, 1, &st), 0);
    assert_int_equal(st.fired, 1); /* counter restarted, fired again */
}

static void test_reload_rejects_bad_config_and_keeps_old(void **state)
{
    fixture *f = *state;
    vg_rules_config bad;
    vg_rule_def d;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "yard_entry", VG_EVENT_INTRUSION, "yard", 100);
    create(f);
    vg_rules_config_init(&bad);
    memset(&d, 0, sizeof(d));
    strcpy(d.name, "x");
    strcpy(d.zone, "nowhere");
    assert_int_equal(vg_rules_config_add_rule(f->ctx, &bad, &d), 0);
    assert_int_equal(vg_rules_reload(f->r, &bad), VG_ECONFIG);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "nowhere"));
    vg_rules_config_free(f->ctx, &bad);
    assert_int_equal(step1(f, 0, 1, 150, 150), 1);
}

static void test_events_beyond_capacity_are_counted(void **state)
{
    fixture *f = *state;
    vg_rules_object o[3];
    vg_event ev[2];
    vg_rules_stats st;
    int n;
    add_rect(f, "yard", 100, 100, 300, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 0);
    create(f);
    crowd(o, 3, 150);
    assert_int_equal(vg_rules_update(f->r, 0, 0, o, 3, ev, 2, &n), 0);
    assert_int_equal(n, 2);
    vg_rules_stats_get(f->r, &st);
    assert_int_equal(st.events_dropped, 1);
    assert_int_equal(fired(f, 0), 3);
}

static void test_long_run_state_stays_bounded(void **state)
{
    fixture *f = *state;
    vg_alloc_stats before, after;
    vg_rules_stats st;
    vg_rule_def *d;
    uint64_t total = 0;
    add_rect(f, "yard", 100, 100, 300, 300);
    add_line(f, "gate", 200, 50, 200, 400);
    add_rule(f, "entry", VG_EVENT_INTRUSION, "yard", 10);
    add_rule(f, "cross", VG_EVENT_CROSSING, "gate", 10);
    d = add_rule(f, "loiter", VG_EVENT_DWELL, "yard", 10);
    d->seconds = 1;
    f->cfg.capacity = 64;
    f->cfg.state_ttl_s = 2;
    create(f);
    vg_context_alloc_stats(f->ctx, &before);
    /* 200,000 frames at 25 fps; 8 walkers at a time, each crossing the
     * frame in 160 frames, then replaced by a new id; half the ids are
     * never forgotten (their state must expire or be evicted). */
    for (int64_t frame = 0; frame < 200000; frame++) {
        vg_rules_object o[8];
        double t = (double)frame / 25;
        for (int k = 0; k < 8; k++) {
            int64_t phase = frame + k * 20;
            int64_t id = (phase / 160) * 8 + k;
            float x = (float)(phase % 160) * 3;
            o[k] = person(id, x, 120.0f + (float)k * 20);
            if (phase % 160 == 0 && phase > 0 && (id & 1))
                vg_rules_forget(f->r, id - 8);
        }
        step(f, t, o, 8);
        total += (uint64_t)f->nev;
        vg_rules_stats_get(f->r, &st);
        assert_true(st.entries <= st.capacity);
    }
    vg_context_alloc_stats(f->ctx, &after);
    assert_int_equal(after.allocs, before.allocs);
    assert_int_equal(after.frees, before.frees);
    vg_rules_stats_get(f->r, &st);
    assert_true(st.entries <= 64);
    assert_true(st.expirations > 1000);
    assert_true(st.forgotten > 1000);
    assert_true(total > 10000);
}

static void test_create_survives_every_allocation_failure(void **state)
{
    fixture *f = *state;
    vg_alloc_stats st;
    int rc = VG_ENOMEM;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 0);
    for (uint64_t nth = 1; rc == VG_ENOMEM && nth < 100; nth++) {
        vg_context_fail_alloc(f->ctx, nth, 0);
        rc = vg_rules_create(f->ctx, &f->cfg, W, H, &f->r);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc == VG_ENOMEM)
            assert_null(f->r);
    }
    assert_int_equal(rc, 0);
    vg_rules_destroy(&f->r);
    vg_rules_config_free(f->ctx, &f->cfg);
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
}

static void test_reload_survives_every_allocation_failure(void **state)
{
    fixture *f = *state;
    int rc = VG_ENOMEM;
    add_rect(f, "yard", 100, 100, 200, 200);
    add_rule(f, "no_entry", VG_EVENT_INTRUSION, "yard", 100);
    create(f);
    assert_int_equal(step1(f, 0, 1, 150, 150), 1);
    f->cfg.rules[0].cooldown_s = 50; /* changed rule */
    for (uint64_t nth = 1; rc == VG_ENOMEM && nth < 100; nth++) {
        vg_context_fail_alloc(f->ctx, nth, 0);
        rc = vg_rules_reload(f->r, &f->cfg);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc == VG_ENOMEM) /* old rules untouched: 1 still cooling */
            assert_int_equal(entries(f), 1);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(step1(f, 1, 1, 150, 150), 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_intrusion_fires_on_entry_with_event_fields),
        T(test_intrusion_does_not_refire_within_cooldown),
        T(test_cooldown_is_per_object),
        T(test_rule_ignores_other_classes),
        T(test_dwell_fires_after_t_once_per_stay),
        T(test_crossings_in_each_direction_are_counted_apart),
        T(test_moving_parallel_to_line_is_no_crossing),
        T(test_crossing_beyond_segment_end_is_no_crossing),
        T(test_direction_filter_fires_one_way_counts_both),
        T(test_pause_on_the_line_then_cross_counts_once),
        T(test_occupancy_fires_after_hold_and_rearms),
        T(test_occupancy_below_threshold_never_fires),
        T(test_occupancy_cooldown_is_per_rule),
        T(test_forget_removes_state),
        T(test_unseen_objects_expire_after_ttl),
        T(test_full_table_evicts_least_recently_seen),
        T(test_reload_keeps_unchanged_rules_clears_changed),
        T(test_reload_rejects_bad_config_and_keeps_old),
        T(test_events_beyond_capacity_are_counted),
        T(test_long_run_state_stays_bounded),
        T(test_create_survives_every_allocation_failure),
        T(test_reload_survives_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
