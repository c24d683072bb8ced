/*
 * The event store's MQTT outbox (include/vigil/events.h, outbox.h): rows
 * written in the event's transaction, new/update/end per (camera, track,
 * rule), the bounded active table and outbox, reading and marking in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "support/io_fixtures.h"
#include "vigil/events.h"
#include "vigil/outbox.h"

#define T0 1700000000000LL /* wall ms of the first event */

struct fx {
    vg_context *ctx;
    char dir[512];
    char db[600];
    vg_outbox_row row;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char *d = io_tmpdir_create();
    if (!f || !d || vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    snprintf(f->db, sizeof(f->db), "%s/events.db", d);
    free(d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    char cmd[600];
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void make_event(vg_event *e, int64_t track, const char *rule,
                       int64_t wall_ms)
{
    memset(e, 0, sizeof(*e));
    e->kind = VG_EVENT_INTRUSION;
    e->time_s = (double)(wall_ms - T0) / 1000.0;
    e->wall_ms = wall_ms;
    snprintf(e->stream, sizeof(e->stream), "cam1");
    snprintf(e->rule, sizeof(e->rule), "%s", rule);
    snprintf(e->zone, sizeof(e->zone), "zone_a");
    e->track_id = track;
    snprintf(e->class_name, sizeof(e->class_name), "person");
    e->score = 0.75f;
    e->box = (vg_box){10, 20, 30, 40};
    e->count = 1;
}

static vg_events *open_store(struct fx *f, int active_max, double ttl_s,
                             int outbox_max)
{
    vg_events_opts o;
    vg_events *es = NULL;
    vg_events_opts_default(&o);
    o.batch = 1024;
    o.max_delay_ms = 3600000; /* commits only on flush */
    o.jsonl = 0;
    o.outbox = 1;
    if (active_max > 0)
        o.outbox_active_max = active_max;
    if (ttl_s > 0)
        o.outbox_active_ttl_s = ttl_s;
    if (outbox_max > 0)
        o.outbox_max = outbox_max;
    assert_int_equal(vg_events_open(f->ctx, f->dir, &o, &es), 0);
    return es;
}

static int64_t add(vg_events *es, int64_t track, const char *rule,
                   int64_t wall_ms)
{
    vg_event e;
    make_event(&e, track, rule, wall_ms);
    assert_int_equal(vg_events_add(es, &e), 0);
    assert_true(e.id > 0);
    return e.id;
}

/* "type" of a payload: 'n'ew, 'u'pdate, 'e'nd. */
static char type_of(const char *payload)
{
    const char *p = strstr(payload, "{\"type\":\"");
    assert_non_null(p);
    return p[9];
}

/* Integer field key of the "before" (which 0) or "after" (1) object. */
static long long field(const char *payload, int which, const char *key)
{
    char k[64];
    const char *p = strstr(payload, which ? "\"after\":" : "\"before\":");
    assert_non_null(p);
    snprintf(k, sizeof(k), "\"%s\":", key);
    p = strstr(p, k);
    assert_non_null(p);
    return strtoll(p + strlen(k), NULL, 10);
}

/* Reads every row in order into types (NUL-terminated), event ids and
 * track ids of "after". Returns the row count. */
static int read_all(struct fx *f, char *types, int64_t *ids, int64_t *tracks,
                    int cap)
{
    vg_outbox *ob;
    int64_t pos = 0;
    int n = 0, rc;

    assert_int_equal(vg_outbox_open(f->ctx, f->db, 0, &ob), 0);
    while ((rc = vg_outbox_next(ob, pos, &f->row)) == 1) {
        assert_true(f->row.id > pos); /* in order */
        assert_true(n < cap);
        types[n] = type_of(f->row.payload);
        if (ids)
            ids[n] = f->row.event_id;
        if (tracks)
            tracks[n] = field(f->row.payload, 1, "track_id");
        assert_string_equal(f->row.topic, "vigil/events");
        pos = f->row.id;
        n++;
    }
    assert_int_equal(rc, 0);
    types[n] = '\0';
    vg_outbox_close(&ob);
    return n;
}

static void test_row_is_committed_with_its_event(void **state)
{
    struct fx *f = *state;
    vg_events *es = open_store(f, 0, 0, 0);
    vg_outbox *ob;
    int64_t id;

    assert_int_equal(vg_outbox_open(f->ctx, f->db, 0, &ob), 0);
    id = add(es, 1, "door", T0);
    /* not committed yet: the reader's connection sees no row */
    assert_int_equal(vg_outbox_next(ob, 0, &f->row), 0);
    assert_int_equal(vg_events_flush(es), 0);
    assert_int_equal(vg_outbox_next(ob, 0, &f->row), 1);
    assert_int_equal(f->row.event_id, id);
    assert_int_equal(f->row.payload_len, strlen(f->row.payload));
    assert_int_equal(type_of(f->row.payload), 'n');
    assert_non_null(strstr(f->row.payload, "\"id\":\"cam1-1-door\""));
    assert_non_null(strstr(f->row.payload, "\"camera\":\"cam1\""));
    assert_non_null(strstr(f->row.payload, "\"label\":\"person\""));
    assert_non_null(strstr(f->row.payload, "\"zones\":[\"zone_a\"]"));
    assert_non_null(strstr(f->row.payload, "\"kind\":\"intrusion\""));
    assert_non_null(strstr(f->row.payload, "\"box\":[10.00,20.00,30.00"));
    assert_non_null(strstr(f->row.payload, "\"end_time\":null"));
    assert_int_equal(field(f->row.payload, 1, "snapshot"), id);
    vg_outbox_close(&ob);
    assert_int_equal(vg_events_close(&es), 0);
}

static void test_failed_outbox_insert_leaves_no_event(void **state)
{
    struct fx *f = *state;
    vg_events *es = open_store(f, 0, 0, 0);
    sqlite3 *db;
    vg_event e;
    char types[8];
    int64_t ids[8];

    vg_events_close(&es);
    /* the outbox refuses rows of the rule "poison" */
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN "
                     "NEW.payload LIKE '%\"rule\":\"poison\"%' BEGIN "
                     "SELECT RAISE(ABORT, 'refused'); END",
                     NULL, NULL, NULL),
        SQLITE_OK);
    es = open_store(f, 0, 0, 0);
    make_event(&e, 1, "poison", T0);
    assert_true(vg_events_add(es, &e) < 0);
    assert_int_equal(e.id, 0);
    add(es, 2, "door", T0 + 1);
    assert_int_equal(vg_events_close(&es), 0);
    /* the refused event is not in the table, the other is, with its row */
    {
        sqlite3_stmt *st;
        assert_int_equal(
            sqlite3_prepare_v2(db, "SELECT group_concat(rule) FROM events", -1,
                               &st, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "door");
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    assert_int_equal(read_all(f, types, ids, NULL, 8), 1);
    assert_string_equal(types, "n");
}

static void test_new_update_end_per_track_and_rule(void **state)
{
    struct fx *f = *state;
    vg_events *es = open_store(f, 0, 0, 0);
    vg_events_stats st;
    char types[16];
    int64_t ids[16], tracks[16], a1, a2;

    a1 = add(es, 1, "door", T0);
    a2 = add(es, 1, "door", T0 + 100); /* same object and rule */
    add(es, 1, "window", T0 + 200);    /* same object, other rule */
    add(es, 2, "door", T0 + 300);      /* other object */
    assert_int_equal(vg_events_track_end(es, "cam1", 1, T0 + 400), 0);
    assert_int_equal(vg_events_track_end(es, "cam2", 2, T0 + 450), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.outbox_active, 1);
    assert_int_equal(vg_events_track_end(es, "cam1", -1, T0 + 500), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.outbox_active, 0);
    assert_int_equal(st.outbox_rows, 7);
    assert_int_equal(vg_events_close(&es), 0);

    assert_int_equal(read_all(f, types, ids, tracks, 16), 7);
    assert_string_equal(types, "nunneee");
    assert_int_equal(ids[1], a2);
    assert_int_equal(tracks[4], 1);
    assert_int_equal(tracks[5], 1);
    assert_int_equal(tracks[6], 2); /* the camera's end */
    /* the update's "before" is the first event, "after" the second */
    {
        vg_outbox *ob;
        assert_int_equal(vg_outbox_open(f->ctx, f->db, 0, &ob), 0);
        assert_int_equal(vg_outbox_next(ob, 1, &f->row), 1);
        assert_int_equal(field(f->row.payload, 0, "event_id"), a1);
        assert_int_equal(field(f->row.payload, 1, "event_id"), a2);
        /* an end carries its end_time */
        assert_int_equal(vg_outbox_next(ob, 4, &f->row), 1);
        assert_int_equal(type_of(f->row.payload), 'e');
        assert_non_null(strstr(f->row.payload, "\"end_time\":1700000000.4"));
        vg_outbox_close(&ob);
    }
}

static void test_full_active_table_ends_least_recent(void **state)
{
    struct fx *f = *state;
    vg_events *es = open_store(f, 2, 0, 0);
    vg_events_stats st;
    char types[8];
    int64_t tracks[8];

    add(es, 1, "door", T0);
    add(es, 2, "door", T0 + 10);
    add(es, 1, "door", T0 + 20); /* 2 is now the least recent */
    add(es, 3, "door", T0 + 30);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.outbox_ends_evicted, 1);
    assert_int_equal(st.outbox_active, 2);
    assert_int_equal(vg_events_close(&es), 0);
    assert_int_equal(read_all(f, types, NULL, tracks, 8), 5);
    assert_string_equal(types, "nnuen");
    assert_int_equal(tracks[3], 2);
    assert_int_equal(tracks[4], 3);
}

static void test_idle_entry_expires_with_end(void **state)
{
    struct fx *f = *state;
    vg_events *es = open_store(f, 0, 10, 0);
    vg_events_stats st;
    char types[8];
    int64_t tracks[8];

    add(es, 1, "door", T0);
    add(es, 2, "door", T0 + 5000);
    add(es, 2, "door", T0 + 12000); /* 1 idle for 12 s > 10 s */
    vg_events_stats_get(es, &st);
    assert_int_equal(st.outbox_ends_expired, 1);
    assert_int_equal(st.outbox_active, 1);
    assert_int_equal(vg_events_close(&es), 0);
    assert_int_equal(read_all(f, types, NULL, tracks, 8), 4);
    assert_string_equal(types, "nneu");
    assert_int_equal(tracks[2], 1);
}

static void test_bounded_outbox_drops_oldest_and_counts(void **state)
{
    struct fx *f = *state;
    vg_events *es = open_store(f, 0, 0, 3);
    vg_events_stats st;
    vg_outbox *ob;
    int64_t ids[5];

    for (int i = 0; i < 5; i++)
        ids[i] = add(es, 10 + i, "door", T0 + i);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.outbox_dropped, 2);
    assert_int_equal(st.outbox_rows, 5);
    assert_int_equal(vg_events_close(&es), 0);
    assert_int_equal(vg_outbox_open(f->ctx, f->db, 0, &ob), 0);
    assert_int_equal(vg_outbox_count(ob), 3);
    assert_int_equal(vg_outbox_next(ob, 0, &f->row), 1);
    assert_int_equal(f->row.event_id, ids[2]); /* the oldest two went */
    vg_outbox_close(&ob);
}

static void test_mark_published_in_order_and_ids_not_reused(void **state)
{
    struct fx *f = *state;
    vg_events *es = open_store(f, 0, 0, 0);
    vg_outbox *ob;
    int64_t pos = 0, last = 0;
    int n = 0;

    for (int i = 0; i < 4; i++)
        add(es, 10 + i, "door", T0 + i);
    assert_int_equal(vg_events_flush(es), 0);
    assert_int_equal(vg_outbox_open(f->ctx, f->db, 0, &ob), 0);
    assert_int_equal(vg_outbox_count(ob), 4);
    while (vg_outbox_next(ob, pos, &f->row) == 1) {
        assert_true(f->row.id > pos);
        assert_int_equal(vg_outbox_mark_published(ob, f->row.id), 0);
        pos = last = f->row.id;
        n++;
        assert_int_equal(vg_outbox_count(ob), 4 - n);
    }
    assert_int_equal(n, 4);
    /* the table is empty; a reopened store's next row still comes after
     * the position (ids are never reused) */
    assert_int_equal(vg_events_close(&es), 0);
    es = open_store(f, 0, 0, 0);
    add(es, 20, "door", T0 + 10);
    assert_int_equal(vg_events_flush(es), 0);
    assert_int_equal(vg_outbox_next(ob, pos, &f->row), 1);
    assert_true(f->row.id > last);
    /* a first reader from 0 sees it too: the published ones are gone */
    assert_int_equal(vg_outbox_next(ob, 0, &f->row), 1);
    assert_true(f->row.id > last);
    vg_outbox_close(&ob);
    assert_int_equal(vg_events_close(&es), 0);
}

static void test_without_outbox_nothing_is_written(void **state)
{
    struct fx *f = *state;
    vg_events *es;
    vg_outbox *ob;
    vg_event e;

    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    make_event(&e, 1, "door", T0);
    assert_int_equal(vg_events_add(es, &e), 0);
    assert_int_equal(vg_events_track_end(es, "cam1", 1, T0 + 1), 0);
    assert_int_equal(vg_events_close(&es), 0);
    assert_int_equal(vg_outbox_open(f->ctx, f->db, 0, &ob), 0);
    assert_int_equal(vg_outbox_count(ob), 0);
    vg_outbox_close(&ob);
}

static void test_reader_of_missing_store_is_refused(void **state)
{
    struct fx *f = *state;
    vg_outbox *ob = (vg_outbox *)1;
    assert_int_equal(vg_outbox_open(f->ctx, f->db, 0, &ob), VG_ENOENT);
    assert_null(ob);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "events.db"));
}

static void test_invalid_outbox_options_are_refused(void **state)
{
    struct fx *f = *state;
    vg_events_opts o;
    vg_events *es;

    vg_events_opts_default(&o);
    o.outbox = 1;
    o.outbox_max = 0;
    assert_int_equal(vg_events_open(f->ctx, f->dir, &o, &es), VG_EINVAL);
    assert_null(es);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_row_is_committed_with_its_event,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_outbox_insert_leaves_no_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_update_end_per_track_and_rule,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_full_active_table_ends_least_recent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_entry_expires_with_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_bounded_outbox_drops_oldest_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_mark_published_in_order_and_ids_not_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_outbox_nothing_is_written,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_of_missing_store_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_outbox_options_are_refused,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
