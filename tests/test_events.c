#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/events.h"

struct fx {
    vg_context *ctx;
    char dir[512];
    char out[1024]; /* output of the last python run */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char *d = io_tmpdir_create();
    if (!f || !d || vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
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

static void make_event(vg_event *e, int i)
{
    memset(e, 0, sizeof(*e));
    e->kind = VG_EVENT_INTRUSION;
    e->time_s = 1.5 + i;
    e->frame_index = 10 + i;
    e->wall_ms = 1700000000000LL + i;
    snprintf(e->stream, sizeof(e->stream), "cam1");
    snprintf(e->rule, sizeof(e->rule), "door");
    snprintf(e->zone, sizeof(e->zone), "zone_a");
    e->track_id = 100 + i;
    e->class_id = 0;
    snprintf(e->class_name, sizeof(e->class_name), "person");
    e->score = 0.75f;
    e->box = (vg_box){10, 20, 30, 40};
    e->count = 1;
}

/* Runs python (Debian's, with sqlite3 and json) on code with the directory
 * as argv[1]; keeps its stdout in f->out. Returns its exit status. */
static int python(struct fx *f, const char *code)
{
    const char *py = getenv("VIGIL_PYTHON");
    char script[600], cmd[2048];
    FILE *fp;
    size_t n;

    snprintf(script, sizeof(script), "%s/check.py", f->dir);
    if (io_write_file(script, code, strlen(code)) < 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s'", py && *py ? py : "python3",
             script, f->dir);
    fp = popen(cmd, "r");
    if (!fp)
        return -1;
    n = fread(f->out, 1, sizeof(f->out) - 1, fp);
    f->out[n] = '\0';
    return pclose(fp);
}

static void test_add_assigns_increasing_ids(void **state)
{
    struct fx *f = *state;
    vg_events *es;
    vg_event e;
    int64_t last = 0;

    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    for (int i = 0; i < 5; i++) {
        make_event(&e, i);
        e.id = 999; /* ignored */
        assert_int_equal(vg_events_add(es, &e), 0);
        assert_true(e.id > last);
        last = e.id;
    }
    assert_int_equal(vg_events_close(&es), 0);
    assert_null(es);
}

static void test_batch_is_committed_when_full(void **state)
{
    struct fx *f = *state;
    vg_events_opts o;
    vg_events_stats st;
    vg_events *es;
    vg_event e;

    vg_events_opts_default(&o);
    o.batch = 4;
    o.max_delay_ms = 60000;
    assert_int_equal(vg_events_open(f->ctx, f->dir, &o, &es), 0);
    for (int i = 0; i < 4; i++) {
        make_event(&e, i);
        assert_int_equal(vg_events_add(es, &e), 0);
    }
    vg_events_stats_get(es, &st);
    assert_int_equal(st.commits, 0);
    assert_int_equal(st.pending, 4);
    make_event(&e, 4); /* the full batch is committed before this one */
    assert_int_equal(vg_events_add(es, &e), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.commits, 1);
    assert_int_equal(st.written, 4);
    assert_int_equal(st.pending, 1);
    assert_true(st.last_commit_ms > 0);
    assert_int_equal(vg_events_flush(es), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.written, 5);
    assert_int_equal(st.last_id, e.id);
    assert_int_equal(st.jsonl_lines, 5);
    vg_events_close(&es);
}

/* The test's clock: seconds that advance only when the test says so. */
static double fake_now(void *user)
{
    return *(const double *)user;
}

static void test_tick_commits_after_max_delay(void **state)
{
    struct fx *f = *state;
    vg_events_opts o;
    vg_events_stats st;
    vg_events *es;
    vg_event e;
    double now = 1000.0;

    vg_events_opts_default(&o);
    o.max_delay_ms = 20;
    o.now = fake_now;
    o.now_user = &now;
    assert_int_equal(vg_events_open(f->ctx, f->dir, &o, &es), 0);
    make_event(&e, 0);
    assert_int_equal(vg_events_add(es, &e), 0);
    now += 0.019;
    assert_int_equal(vg_events_tick(es), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.commits, 0); /* 19 ms old: not yet */
    now += 0.002;
    assert_int_equal(vg_events_tick(es), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.commits, 1);
    assert_int_equal(st.written, 1);
    assert_int_equal(st.pending, 0);
    vg_events_close(&es);
}

static void test_add_commits_the_batch_once_it_is_too_old(void **state)
{
    struct fx *f = *state;
    vg_events_opts o;
    vg_events_stats st;
    vg_events *es;
    vg_event e;
    double now = 50.0;

    vg_events_opts_default(&o);
    o.batch = 100;
    o.max_delay_ms = 500;
    o.now = fake_now;
    o.now_user = &now;
    assert_int_equal(vg_events_open(f->ctx, f->dir, &o, &es), 0);
    for (int i = 0; i < 3; i++) { /* 0.4 s apart: the batch's first is */
        make_event(&e, i);        /* 0.8 s old when the third comes */
        assert_int_equal(vg_events_add(es, &e), 0);
        vg_events_stats_get(es, &st);
        assert_int_equal(st.commits, i < 2 ? 0 : 1);
        now += 0.4;
    }
    vg_events_stats_get(es, &st);
    assert_int_equal(st.written, 2);
    assert_int_equal(st.pending, 1);
    /* however long nothing happens, a frozen clock commits nothing */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vg_events_tick(es), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.commits, 1);
    now += 0.5;
    assert_int_equal(vg_events_tick(es), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.commits, 2);
    assert_int_equal(st.written, 3);
    vg_events_close(&es);
}

static void test_committed_rows_hold_the_event_fields(void **state)
{
    struct fx *f = *state;
    vg_events *es;
    vg_event e;

    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    make_event(&e, 3);
    e.kind = VG_EVENT_CROSSING;
    snprintf(e.direction, sizeof(e.direction), "A>B");
    assert_int_equal(vg_events_add(es, &e), 0);
    assert_int_equal(vg_events_close(&es), 0);
    assert_int_equal(
        python(f, "import sqlite3,sys\n"
                  "db=sqlite3.connect(sys.argv[1]+'/events.db')\n"
                  "r=db.execute('select id,time_s,wall_ms,frame,stream,rule,"
                  "kind,zone,direction,track_id,class_id,class,score,x,y,w,h,"
                  "count,snapshot from events').fetchall()\n"
                  "print(r[0])\n"),
        0);
    assert_string_equal(f->out,
                        "(1, 4.5, 1700000000003, 13, 'cam1', 'door', "
                        "'line_crossing', 'zone_a', 'A>B', 103, 0, 'person', "
                        "0.75, 10.0, 20.0, 30.0, 40.0, 1, '')\n");
}

static void test_schema_has_version_and_indices(void **state)
{
    struct fx *f = *state;
    vg_events *es;

    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    vg_events_close(&es);
    assert_int_equal(
        python(f, "import sqlite3,sys\n"
                  "db=sqlite3.connect(sys.argv[1]+'/events.db')\n"
                  "v=db.execute(\"select value from meta where "
                  "key='schema_version'\").fetchone()[0]\n"
                  "ix=sorted(r[0] for r in db.execute(\"select sql from "
                  "sqlite_master where type='index' and tbl_name='events'\"))\n"
                  "m=db.execute('pragma journal_mode').fetchone()[0]\n"
                  "print(v, m, ix)\n"),
        0);
    assert_string_equal(f->out,
                        "2 wal ['CREATE INDEX events_rule ON events(rule)', "
                        "'CREATE INDEX events_time_s ON events(time_s)']\n");
}

static void test_reopen_continues_ids(void **state)
{
    struct fx *f = *state;
    vg_events *es;
    vg_event e;
    int64_t first;

    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    make_event(&e, 0);
    assert_int_equal(vg_events_add(es, &e), 0);
    first = e.id;
    vg_events_close(&es);
    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    make_event(&e, 1);
    assert_int_equal(vg_events_add(es, &e), 0);
    assert_true(e.id > first);
    vg_events_close(&es);
    /* both runs' events are in the JSONL, once each */
    assert_int_equal(python(f, "import json,sys\n"
                               "ids=[json.loads(l)['id'] for l in "
                               "open(sys.argv[1]+'/events.jsonl')]\n"
                               "print(ids)\n"),
                     0);
    assert_string_equal(f->out, "[1, 2]\n");
}

static void test_newer_schema_is_refused(void **state)
{
    struct fx *f = *state;
    vg_events *es;

    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    vg_events_close(&es);
    assert_int_equal(python(f, "import sqlite3,sys\n"
                               "db=sqlite3.connect(sys.argv[1]+'/events.db')\n"
                               "db.execute(\"update meta set value=3 where "
                               "key='schema_version'\")\n"
                               "db.commit()\n"),
                     0);
    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), VG_EFORMAT);
    assert_null(es);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "schema version 3"));
}

static void test_older_schema_is_migrated(void **state)
{
    struct fx *f = *state;
    vg_events *es;
    vg_event e;

    /* version 0: a meta table that predates the events table */
    assert_int_equal(python(f, "import sqlite3,sys\n"
                               "db=sqlite3.connect(sys.argv[1]+'/events.db')\n"
                               "db.execute('create table meta(key text "
                               "primary key, value)')\n"
                               "db.execute(\"insert into meta "
                               "values('schema_version', 0)\")\n"
                               "db.commit()\n"),
                     0);
    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    make_event(&e, 0);
    assert_int_equal(vg_events_add(es, &e), 0);
    assert_int_equal(vg_events_close(&es), 0);
    assert_int_equal(python(f, "import sqlite3,sys\n"
                               "db=sqlite3.connect(sys.argv[1]+'/events.db')\n"
                               "print(db.execute(\"select value from meta "
                               "where key='schema_version'\").fetchone()[0],"
                               "db.execute('select count(*) from "
                               "events').fetchone()[0])\n"),
                     0);
    assert_string_equal(f->out, "2 1\n");
}

static void test_file_that_is_not_a_database_is_refused(void **state)
{
    struct fx *f = *state;
    char path[600];
    vg_events *es;
    static const char junk[] =
        "this is not an SQLite database, not at all..."
        "................................................"
        "................................................";

    io_path(path, sizeof(path), f->dir, "events.db");
    assert_int_equal(io_write_file(path, junk, sizeof(junk)), 0);
    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), VG_EFORMAT);
    assert_null(es);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "events.db"));
}

static void test_snapshot_path_goes_into_row_and_jsonl(void **state)
{
    struct fx *f = *state;
    vg_events *es;
    vg_event e;

    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    make_event(&e, 0);
    assert_int_equal(vg_events_add(es, &e), 0);
    assert_int_equal(
        vg_events_set_snapshot(es, e.id, "snapshots/2023-11-14/1.jpg"), 0);
    assert_int_equal(vg_events_set_snapshot(es, e.id + 50, "x.jpg"), VG_EINVAL);
    assert_int_equal(vg_events_close(&es), 0);
    assert_int_equal(
        python(f, "import sqlite3,json,sys\n"
                  "db=sqlite3.connect(sys.argv[1]+'/events.db')\n"
                  "s=db.execute('select snapshot from events').fetchone()[0]\n"
                  "j=json.loads(open(sys.argv[1]+'/events.jsonl').readline())\n"
                  "print(s, j['snapshot'])\n"),
        0);
    assert_string_equal(
        f->out, "snapshots/2023-11-14/1.jpg snapshots/2023-11-14/1.jpg\n");
}

static void test_jsonl_escapes_strings(void **state)
{
    struct fx *f = *state;
    vg_events *es;
    vg_event e;

    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    make_event(&e, 0);
    snprintf(e.rule, sizeof(e.rule), "a\"b\\c\nd\te");
    e.score = 0.0f / 0.0f; /* NaN is not JSON: written as null */
    assert_int_equal(vg_events_add(es, &e), 0);
    assert_int_equal(vg_events_close(&es), 0);
    assert_int_equal(
        python(f, "import json,sys\n"
                  "j=json.loads(open(sys.argv[1]+'/events.jsonl').readline())\n"
                  "print(repr(j['rule']), j['score'], j['kind'], j['x'])\n"),
        0);
    assert_string_equal(f->out, "'a\"b\\\\c\\nd\\te' None intrusion 10\n");
}

static void test_partial_jsonl_line_is_terminated_on_open(void **state)
{
    struct fx *f = *state;
    char path[600];
    vg_events_stats st;
    vg_events *es;
    vg_event e;
    static const char partial[] = "{\"id\":1,\"time_s\":1.5,\"wall_ms\":17";

    io_path(path, sizeof(path), f->dir, "events.jsonl");
    assert_int_equal(io_write_file(path, partial, strlen(partial)), 0);
    assert_int_equal(vg_events_open(f->ctx, f->dir, NULL, &es), 0);
    vg_events_stats_get(es, &st);
    assert_int_equal(st.jsonl_partial_found, 1);
    make_event(&e, 0);
    assert_int_equal(vg_events_add(es, &e), 0);
    assert_int_equal(vg_events_close(&es), 0);
    /* the new event's line stands alone after the cut one */
    assert_int_equal(python(f, "import json,sys\n"
                               "ls=open(sys.argv[1]+'/events.jsonl')"
                               ".read().split('\\n')\n"
                               "print(len(ls), json.loads(ls[1])['id'])\n"),
                     0);
    assert_string_equal(f->out, "3 1\n");
}

static void test_invalid_options_are_refused(void **state)
{
    struct fx *f = *state;
    vg_events_opts o;
    vg_events *es = (vg_events *)1;

    vg_events_opts_default(&o);
    o.batch = 0;
    assert_int_equal(vg_events_open(f->ctx, f->dir, &o, &es), VG_EINVAL);
    assert_null(es);
    assert_int_equal(vg_events_open(f->ctx, NULL, NULL, &es), VG_EINVAL);
    assert_int_equal(vg_events_add(NULL, NULL), VG_EINVAL);
    assert_int_equal(vg_events_close(NULL), 0);
}

static void test_open_fails_cleanly_on_every_allocation_failure(void **state)
{
    struct fx *f = *state;
    vg_events *es;
    int rc = -1;

    for (uint64_t n = 1; n < 50 && rc != 0; n++) {
        vg_context_fail_alloc(f->ctx, n, 0);
        rc = vg_events_open(f->ctx, f->dir, NULL, &es);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc != 0) {
            assert_int_equal(rc, VG_ENOMEM);
            assert_null(es);
        }
    }
    assert_int_equal(rc, 0);
    vg_events_close(&es);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_assigns_increasing_ids, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_is_committed_when_full,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_commits_after_max_delay,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_add_commits_the_batch_once_it_is_too_old, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_committed_rows_hold_the_event_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_has_version_and_indices,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues_ids, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_older_schema_is_migrated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_file_that_is_not_a_database_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_snapshot_path_goes_into_row_and_jsonl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_escapes_strings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_partial_jsonl_line_is_terminated_on_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_options_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_open_fails_cleanly_on_every_allocation_failure, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
