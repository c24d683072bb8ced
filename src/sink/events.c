/*
 * Event store: SQLite (WAL) + JSONL mirror, batched commits.
 */
#include "vigil/events.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sink/sink_internal.h"

#include "vigil/clock.h"
#include "vigil/fsutil.h"

#define MAX_BATCH 1024
#define JSONL_BUF 65536
#define JSONL_LINE_MAX 4096 /* longest line: every string escaped as \u00XX */
#define OUTBOX_PAYLOAD_MAX 8192 /* before + after, every string escaped */

/* An active (camera, track, rule) of the outbox: its last published state. */
typedef struct active_obj {
    int used;
    int64_t start_ms; /* wall time of its first event */
    int64_t last_ms;  /* wall time of its last event */
    vg_event last;    /* its last event (camera in last.stream) */
} active_obj;

struct vg_events {
    vg_context *ctx;
    vg_events_opts opts;
    char *db_path;
    char *jsonl_path;
    sqlite3 *db;
    sqlite3_stmt *st_begin, *st_commit, *st_rollback;
    sqlite3_stmt *st_insert, *st_snapshot, *st_since;
    sqlite3_stmt *st_ob_insert, *st_ob_trim, *st_savepoint, *st_release,
        *st_rollback_to;
    active_obj *active; /* outbox_active_max entries (outbox only) */
    int *ended;         /* entries ended by the current step */
    int n_ended, n_expired, n_evicted;
    uint64_t ob_rows_pending, ob_dropped_pending; /* of the current step */
    int jsonl_fd;
    int in_txn;
    int64_t first_pending_ns; /* monotonic time of the batch's first event */
    int64_t last_pending_id;
    int64_t last_jsonl_id; /* highest id already appended to the JSONL */
    vg_events_stats stats;
    char errmsg[256];
    char jbuf[JSONL_BUF];
    char obuf[OUTBOX_PAYLOAD_MAX];
};

void vg_events_opts_default(vg_events_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->batch = 16;
    o->max_delay_ms = 500;
    o->sync_full = 0;
    o->jsonl = 1;
    o->outbox = 0;
    o->outbox_max = 10000;
    o->outbox_active_max = 256;
    o->outbox_active_ttl_s = 600;
    snprintf(o->outbox_topic, sizeof(o->outbox_topic), "vigil/events");
}

static int64_t wall_ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vgi_sqlite_code(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_NOMEM:
        return VG_ENOMEM;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return VG_EFORMAT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return VG_EBUSY;
    case SQLITE_FULL:
        return VG_ENOSPC;
    default:
        return VG_EIO;
    }
}

__attribute__((format(printf, 3, 4))) static int
set_err(vg_events *es, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(es->errmsg, sizeof(es->errmsg), fmt, ap);
    va_end(ap);
    /* the caller reports it (once): logged here for debugging only */
    vg_log(es->ctx, VG_LOG_DEBUG, "%s", es->errmsg);
    return code;
}

/* ---- schema ---------------------------------------------------------------*/

/* migrations[v] brings a database at version v - 1 to version v. Version 0 is
 * an empty database. A future v2 appends its function here (ALTER TABLE ...)
 * and raises VG_EVENTS_SCHEMA_VERSION. */
static const char *const migrations[VG_EVENTS_SCHEMA_VERSION + 1] = {
    NULL,
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY, time_s REAL, wall_ms INTEGER, frame INTEGER,"
    " stream TEXT, rule TEXT, kind TEXT, zone TEXT, direction TEXT,"
    " track_id INTEGER, class_id INTEGER, class TEXT, score REAL,"
    " x REAL, y REAL, w REAL, h REAL, count INTEGER, snapshot TEXT);"
    "CREATE INDEX events_time_s ON events(time_s);"
    "CREATE INDEX events_rule ON events(rule);",
    /* 2: the MQTT outbox (AUTOINCREMENT: ids never reused, so a publisher's
     * position stays valid when the table empties) */
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
    " payload TEXT NOT NULL, created_ms INTEGER, event_id INTEGER);",
};

static int exec(sqlite3 *db, const char *sql, char *msg, size_t cap)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        snprintf(msg, cap, "%s", err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return rc;
}

/* Reads the schema version (0 when the meta table or the key is absent). */
static int read_version(sqlite3 *db, long long *version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
        NULL);
    *version = 0;
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int setup_schema(vg_context *ctx, sqlite3 *db, const char *path)
{
    char msg[200] = "";
    long long version = 0;
    char sql[128];
    int rc;

    rc = exec(db, "BEGIN IMMEDIATE", msg, sizeof(msg));
    if (rc != SQLITE_OK)
        return vg_fail(ctx, vgi_sqlite_code(rc), "%s: cannot lock: %s", path,
                       msg);
    rc =
        exec(db, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value)",
             msg, sizeof(msg));
    if (rc == SQLITE_OK)
        rc = read_version(db, &version);
    if (rc != SQLITE_OK) {
        if (!msg[0])
            snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(db));
        goto fail;
    }
    if (version > VG_EVENTS_SCHEMA_VERSION || version < 0) {
        exec(db, "ROLLBACK", msg, sizeof(msg));
        return vg_fail(ctx, VG_EFORMAT,
                       "%s: schema version %lld is not supported by this "
                       "vigil (it writes version %d); use a newer vigil",
                       path, version, VG_EVENTS_SCHEMA_VERSION);
    }
    for (long long v = version + 1; v <= VG_EVENTS_SCHEMA_VERSION; v++) {
        rc = exec(db, migrations[v], msg, sizeof(msg));
        if (rc != SQLITE_OK) {
            exec(db, "ROLLBACK", sql, sizeof(sql));
            return vg_fail(ctx, VG_EFORMAT,
                           "%s: migration to schema version %lld failed "
                           "(not a vigil event database?): %s",
                           path, v, msg);
        }
        vg_log(ctx, VG_LOG_INFO, "%s: schema migrated to version %lld", path,
               v);
    }
    snprintf(sql, sizeof(sql),
             "INSERT OR REPLACE INTO meta(key, value) "
             "VALUES('schema_version', %d)",
             VG_EVENTS_SCHEMA_VERSION);
    rc = exec(db, sql, msg, sizeof(msg));
    if (rc == SQLITE_OK)
        rc = exec(db, "COMMIT", msg, sizeof(msg));
    if (rc == SQLITE_OK)
        return 0;
fail:
    exec(db, "ROLLBACK", sql, sizeof(sql));
    return vg_fail(ctx, vgi_sqlite_code(rc), "%s: %s", path, msg);
}

/* ---- JSONL ----------------------------------------------------------------*/

struct jw {
    char *p;
    size_t n, cap;
};

static void jw_raw(struct jw *w, const char *s, size_t len)
{
    if (w->n + len >= w->cap)
        len = w->cap - w->n - 1; /* cannot happen within JSONL_LINE_MAX */
    memcpy(w->p + w->n, s, len);
    w->n += len;
}

static void jw_fmt(struct jw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void jw_fmt(struct jw *w, const char *fmt, ...)
{
    va_list ap;
    int k;
    va_start(ap, fmt);
    k = vsnprintf(w->p + w->n, w->cap - w->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        w->n += (size_t)k < w->cap - w->n ? (size_t)k : w->cap - w->n - 1;
}

/* s as a quoted JSON string. */
static void jw_esc(struct jw *w, const unsigned char *s)
{
    jw_raw(w, "\"", 1);
    for (; s && *s; s++) {
        char esc[8];
        switch (*s) {
        case '"':
            jw_raw(w, "\\\"", 2);
            break;
        case '\\':
            jw_raw(w, "\\\\", 2);
            break;
        case '\n':
            jw_raw(w, "\\n", 2);
            break;
        default:
            if (*s < 0x20 || *s == 0x7f) {
                snprintf(esc, sizeof(esc), "\\u%04x", *s);
                jw_raw(w, esc, 6);
            } else {
                jw_raw(w, (const char *)s, 1);
            }
        }
    }
    jw_raw(w, "\"", 1);
}

static void jw_str(struct jw *w, const char *key, const unsigned char *s)
{
    jw_fmt(w, ",\"%s\":", key);
    jw_esc(w, s);
}

static void jw_real(struct jw *w, const char *key, double v, int null)
{
    if (null || !isfinite(v))
        jw_fmt(w, ",\"%s\":null", key);
    else
        jw_fmt(w, ",\"%s\":%.9g", key, v);
}

/* Formats the row under st (columns as in st_since) as one line. */
static size_t format_line(sqlite3_stmt *st, char *out, size_t cap)
{
    static const char *const names[] = {
        "id",   "time_s",    "wall_ms",  "frame",    "stream",  "rule",  "kind",
        "zone", "direction", "track_id", "class_id", "class",   "score", "x",
        "y",    "w",         "h",        "count",    "snapshot"};
    struct jw w = {out, 0, cap};

    jw_fmt(&w, "{\"id\":%lld", (long long)sqlite3_column_int64(st, 0));
    for (int i = 1; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
        int t = sqlite3_column_type(st, i);
        if (t == SQLITE_INTEGER)
            jw_fmt(&w, ",\"%s\":%lld", names[i],
                   (long long)sqlite3_column_int64(st, i));
        else if (t == SQLITE_FLOAT)
            jw_real(&w, names[i], sqlite3_column_double(st, i), 0);
        else if (t == SQLITE_NULL)
            jw_real(&w, names[i], 0.0, 1);
        else
            jw_str(&w, names[i], sqlite3_column_text(st, i));
    }
    jw_raw(&w, "}\n", 2);
    return w.n;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Appends every committed event after last_jsonl_id. */
static int append_jsonl(vg_events *es)
{
    size_t used = 0;
    int rc, ret = 0, e;
    int64_t last = es->last_jsonl_id;
    uint64_t lines = 0;
    struct stat sb;
    off_t start;

    if (es->jsonl_fd < 0)
        return 0;
    /* where this append starts: a failed one is cut back to it, so the file
     * only ever holds whole lines and the rows are retried next time */
    start = fstat(es->jsonl_fd, &sb) == 0 ? sb.st_size : -1;
    sqlite3_bind_int64(es->st_since, 1, es->last_jsonl_id);
    while ((rc = sqlite3_step(es->st_since)) == SQLITE_ROW) {
        if (used + JSONL_LINE_MAX > sizeof(es->jbuf)) {
            if (write_all(es->jsonl_fd, es->jbuf, used) < 0)
                goto io_fail;
            used = 0;
        }
        used += format_line(es->st_since, es->jbuf + used, JSONL_LINE_MAX);
        last = sqlite3_column_int64(es->st_since, 0);
        lines++;
    }
    if (rc != SQLITE_DONE) {
        ret =
            set_err(es, vgi_sqlite_code(rc), "%s: reading events for JSONL: %s",
                    es->db_path, sqlite3_errmsg(es->db));
        goto out;
    }
    if (used > 0 && write_all(es->jsonl_fd, es->jbuf, used) < 0)
        goto io_fail;
    es->last_jsonl_id = last;
    es->stats.jsonl_lines += lines;
    goto out;
io_fail:
    e = errno;
    ret = set_err(es, e == ENOSPC || e == EDQUOT ? VG_ENOSPC : VG_EIO,
                  "%s: append failed: %s", es->jsonl_path, strerror(e));
    es->stats.jsonl_errors++;
    if (start < 0 || ftruncate(es->jsonl_fd, start) != 0) {
        /* cannot cut it back: do not retry the rows into a damaged file */
        es->last_jsonl_id = last > es->last_jsonl_id ? last : es->last_jsonl_id;
    }
out:
    sqlite3_reset(es->st_since);
    sqlite3_clear_bindings(es->st_since);
    return ret;
}

/* ---- batching
 * ---------------------------------------------------------------*/

static int step_once(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int commit(vg_events *es)
{
    int rc;

    if (!es->in_txn)
        return 0;
    rc = step_once(es->st_commit);
    if (rc != SQLITE_OK) {
        int code =
            set_err(es, vgi_sqlite_code(rc), "%s: commit of %llu events: %s",
                    es->db_path, (unsigned long long)es->stats.pending,
                    sqlite3_errmsg(es->db));
        if (sqlite3_get_autocommit(es->db)) { /* rolled back: batch lost */
            es->in_txn = 0;
            es->stats.pending = 0;
        }
        return code;
    }
    es->in_txn = 0;
    es->stats.written += es->stats.pending;
    es->stats.pending = 0;
    es->stats.commits++;
    es->stats.last_commit_ms = wall_ms_now();
    es->stats.last_id = es->last_pending_id;
    return append_jsonl(es);
}

/* Monotonic time for the age rule: the options' clock, else vg_clock_ns. */
static int64_t now_ns(const vg_events *es)
{
    if (es->opts.now != NULL)
        return (int64_t)(es->opts.now(es->opts.now_user) * 1e9);
    return vg_clock_ns();
}

static int batch_due(const vg_events *es, int by_count)
{
    if (!es->in_txn)
        return 0;
    if (by_count && es->stats.pending >= (uint64_t)es->opts.batch)
        return 1;
    return now_ns(es) - es->first_pending_ns >=
           (int64_t)es->opts.max_delay_ms * 1000000;
}

/* Opens the batch's transaction when none is open. */
static int ensure_txn(vg_events *es)
{
    int rc;

    if (es->in_txn)
        return 0;
    rc = step_once(es->st_begin);
    if (rc != SQLITE_OK)
        return set_err(es, vgi_sqlite_code(rc), "%s: begin: %s", es->db_path,
                       sqlite3_errmsg(es->db));
    es->in_txn = 1;
    es->first_pending_ns = now_ns(es);
    return 0;
}

/* ---- outbox ---------------------------------------------------------------*/

static const unsigned char *u8(const char *s)
{
    return (const unsigned char *)s;
}

/* One object of a payload: the state of (camera, track, rule) after e. */
static void jw_object(struct jw *w, const vg_event *e, int64_t start_ms,
                      int64_t end_ms)
{
    char id[sizeof(e->stream) + sizeof(e->rule) + 24];

    snprintf(id, sizeof(id), "%s-%lld-%s", e->stream, (long long)e->track_id,
             e->rule);
    jw_fmt(w, "{\"track_id\":%lld", (long long)e->track_id);
    jw_str(w, "id", u8(id));
    jw_str(w, "camera", u8(e->stream));
    jw_str(w, "label", u8(e->class_name));
    jw_real(w, "score", e->score, 0);
    jw_fmt(w, ",\"box\":[%.2f,%.2f,%.2f,%.2f],\"zones\":[", e->box.x, e->box.y,
           e->box.w, e->box.h);
    if (e->zone[0])
        jw_esc(w, u8(e->zone));
    jw_raw(w, "]", 1);
    jw_str(w, "rule", u8(e->rule));
    jw_str(w, "kind", u8(vg_event_kind_name(e->kind)));
    jw_str(w, "direction", u8(e->direction));
    jw_fmt(w, ",\"count\":%d,\"event_id\":%lld,\"snapshot\":%lld", e->count,
           (long long)e->id, (long long)e->id);
    jw_fmt(w, ",\"frame\":%lld", (long long)e->frame_index);
    jw_real(w, "frame_time", e->time_s, 0);
    jw_fmt(w, ",\"start_time\":%.3f", (double)start_ms / 1000.0);
    if (end_ms > 0)
        jw_fmt(w, ",\"end_time\":%.3f", (double)end_ms / 1000.0);
    else
        jw_fmt(w, ",\"end_time\":null");
    jw_raw(w, "}", 1);
}

/* Inserts one outbox row {"type", "before", "after"} (in the open
 * transaction) and trims the table to outbox_max rows. */
static int outbox_write(vg_events *es, const char *type, const vg_event *before,
                        int64_t before_start, const vg_event *after,
                        int64_t after_start, int64_t end_ms, int64_t created_ms)
{
    struct jw w = {es->obuf, 0, sizeof(es->obuf)};
    sqlite3_stmt *st = es->st_ob_insert;
    int64_t id;
    int rc;

    jw_fmt(&w, "{\"type\":\"%s\",\"before\":", type);
    jw_object(&w, before, before_start, 0);
    jw_raw(&w, ",\"after\":", 9);
    jw_object(&w, after, after_start, end_ms);
    jw_raw(&w, "}", 1);
    sqlite3_bind_text(st, 1, es->opts.outbox_topic, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, es->obuf, (int)w.n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, created_ms);
    sqlite3_bind_int64(st, 4, after->id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return set_err(es, vgi_sqlite_code(rc), "%s: outbox insert: %s",
                       es->db_path, sqlite3_errmsg(es->db));
    id = sqlite3_last_insert_rowid(es->db);
    if (id > es->opts.outbox_max) {
        sqlite3_bind_int64(es->st_ob_trim, 1, id - es->opts.outbox_max);
        rc = step_once(es->st_ob_trim);
        sqlite3_clear_bindings(es->st_ob_trim);
        if (rc != SQLITE_OK)
            return set_err(es, vgi_sqlite_code(rc), "%s: outbox trim: %s",
                           es->db_path, sqlite3_errmsg(es->db));
        es->ob_dropped_pending += (uint64_t)sqlite3_changes(es->db);
    }
    es->ob_rows_pending++;
    return 0;
}

/* Writes the "end" row of active entry i at end_ms and records i in the
 * list of entries to forget once the step succeeds. */
static int outbox_end(vg_events *es, int i, int64_t end_ms)
{
    const active_obj *a = &es->active[i];
    int rc = outbox_write(es, "end", &a->last, a->start_ms, &a->last,
                          a->start_ms, end_ms, end_ms);
    if (rc == 0)
        es->ended[es->n_ended++] = i;
    return rc;
}

static int is_ended(const vg_events *es, int i)
{
    for (int k = 0; k < es->n_ended; k++)
        if (es->ended[k] == i)
            return 1;
    return 0;
}

/* Ends the entries not updated for the TTL as of now_ms. */
static int outbox_expire(vg_events *es, int64_t now_ms)
{
    int64_t ttl_ms = (int64_t)(es->opts.outbox_active_ttl_s * 1000.0);
    for (int i = 0; i < es->opts.outbox_active_max; i++) {
        const active_obj *a = &es->active[i];
        int rc;
        if (!a->used || is_ended(es, i) || now_ms - a->last_ms <= ttl_ms)
            continue;
        if ((rc = outbox_end(es, i, now_ms)) < 0)
            return rc;
        es->n_expired++;
    }
    return 0;
}

/* Forgets the ended entries after a successful step (their rows are in the
 * transaction) and counts what the step wrote. */
static void outbox_apply(vg_events *es)
{
    for (int k = 0; k < es->n_ended; k++) {
        es->active[es->ended[k]].used = 0;
        es->stats.outbox_active--;
    }
    es->stats.outbox_ends_expired += (uint64_t)es->n_expired;
    es->stats.outbox_ends_evicted += (uint64_t)es->n_evicted;
    es->stats.outbox_rows += es->ob_rows_pending;
    es->stats.outbox_dropped += es->ob_dropped_pending;
}

static void outbox_step_reset(vg_events *es)
{
    es->n_ended = es->n_expired = es->n_evicted = 0;
    es->ob_rows_pending = es->ob_dropped_pending = 0;
}

/* Ends the step: RELEASE (ok) or ROLLBACK TO + RELEASE (failed). */
static int outbox_step_end(vg_events *es, int rc)
{
    if (rc == 0) {
        int src = step_once(es->st_release);
        if (src == SQLITE_OK) {
            outbox_apply(es);
            outbox_step_reset(es);
            return 0;
        }
        rc = set_err(es, vgi_sqlite_code(src), "%s: release: %s", es->db_path,
                     sqlite3_errmsg(es->db));
    }
    step_once(es->st_rollback_to);
    step_once(es->st_release);
    outbox_step_reset(es);
    return rc;
}

static int outbox_step_begin(vg_events *es)
{
    int rc = step_once(es->st_savepoint);
    outbox_step_reset(es);
    if (rc != SQLITE_OK)
        return set_err(es, vgi_sqlite_code(rc), "%s: savepoint: %s",
                       es->db_path, sqlite3_errmsg(es->db));
    return 0;
}

static int find_active(const vg_events *es, const char *camera,
                       int64_t track_id, const char *rule)
{
    for (int i = 0; i < es->opts.outbox_active_max; i++) {
        const active_obj *a = &es->active[i];
        if (a->used && a->last.track_id == track_id &&
            !strcmp(a->last.stream, camera) && !strcmp(a->last.rule, rule))
            return i;
    }
    return -1;
}

/* The "new" or "update" row of e (inserted, e->id set), after the expired
 * entries' ends; *slot receives the entry e goes to. */
static int outbox_event(vg_events *es, const vg_event *e, int *slot,
                        int *is_new)
{
    int i, rc;

    if ((rc = outbox_expire(es, e->wall_ms)) < 0)
        return rc;
    i = find_active(es, e->stream, e->track_id, e->rule);
    if (i >= 0 && !is_ended(es, i)) {
        const active_obj *a = &es->active[i];
        *slot = i;
        *is_new = 0;
        return outbox_write(es, "update", &a->last, a->start_ms, e, a->start_ms,
                            0, e->wall_ms);
    }
    /* a free slot, else one that just expired, else the least recently
     * updated is ended */
    i = -1;
    for (int k = 0; k < es->opts.outbox_active_max && i < 0; k++)
        if (!es->active[k].used)
            i = k;
    if (i < 0 && es->n_ended > 0)
        i = es->ended[0];
    if (i < 0) {
        i = 0;
        for (int k = 1; k < es->opts.outbox_active_max; k++)
            if (es->active[k].last_ms < es->active[i].last_ms)
                i = k;
        if ((rc = outbox_end(es, i, e->wall_ms)) < 0)
            return rc;
        es->n_evicted++;
    }
    *slot = i;
    *is_new = 1;
    return outbox_write(es, "new", e, e->wall_ms, e, e->wall_ms, 0, e->wall_ms);
}

/* Whether vg_events_track_end has a row to write (an entry of the track,
 * or one past the TTL). */
static int any_to_end(const vg_events *es, const char *camera, int64_t track_id,
                      int64_t now_ms)
{
    int64_t ttl_ms = (int64_t)(es->opts.outbox_active_ttl_s * 1000.0);
    for (int i = 0; i < es->opts.outbox_active_max; i++) {
        const active_obj *a = &es->active[i];
        if (a->used && (now_ms - a->last_ms > ttl_ms ||
                        ((track_id < 0 || a->last.track_id == track_id) &&
                         !strcmp(a->last.stream, camera))))
            return 1;
    }
    return 0;
}

int vg_events_track_end(vg_events *es, const char *camera, int64_t track_id,
                        int64_t wall_ms)
{
    int rc;

    if (!es || !camera)
        return VG_EINVAL;
    if (!es->opts.outbox || !any_to_end(es, camera, track_id, wall_ms))
        return 0; /* the common case: a track that raised nothing */
    if ((rc = ensure_txn(es)) < 0 || (rc = outbox_step_begin(es)) < 0)
        return rc;
    rc = outbox_expire(es, wall_ms);
    for (int i = 0; rc == 0 && i < es->opts.outbox_active_max; i++) {
        const active_obj *a = &es->active[i];
        if (a->used && !is_ended(es, i) && !strcmp(a->last.stream, camera) &&
            (track_id < 0 || a->last.track_id == track_id))
            rc = outbox_end(es, i, wall_ms);
    }
    return outbox_step_end(es, rc);
}

int vg_events_add(vg_events *es, vg_event *e)
{
    sqlite3_stmt *st;
    int rc;

    int commit_rc = 0;

    if (!es || !e)
        return VG_EINVAL;
    e->id = 0;
    /* a failed commit is reported, but this event is still inserted when
     * the transaction is over (committed with a JSONL failure, or rolled
     * back): e->id says whether it was */
    if (batch_due(es, 1) && (commit_rc = commit(es)) < 0 && es->in_txn)
        return commit_rc;
    if ((rc = ensure_txn(es)) < 0)
        return rc;
    if (es->opts.outbox && (rc = outbox_step_begin(es)) < 0)
        return rc;
    st = es->st_insert;
    sqlite3_bind_double(st, 1, e->time_s);
    sqlite3_bind_int64(st, 2, e->wall_ms);
    sqlite3_bind_int64(st, 3, e->frame_index);
    sqlite3_bind_text(st, 4, e->stream,
                      (int)strnlen(e->stream, sizeof(e->stream)),
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e->rule, (int)strnlen(e->rule, sizeof(e->rule)),
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 6, vg_event_kind_name(e->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, e->zone, (int)strnlen(e->zone, sizeof(e->zone)),
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 8, e->direction,
                      (int)strnlen(e->direction, sizeof(e->direction)),
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, e->track_id);
    sqlite3_bind_int(st, 10, e->class_id);
    sqlite3_bind_text(st, 11, e->class_name,
                      (int)strnlen(e->class_name, sizeof(e->class_name)),
                      SQLITE_STATIC);
    sqlite3_bind_double(st, 12, e->score);
    sqlite3_bind_double(st, 13, e->box.x);
    sqlite3_bind_double(st, 14, e->box.y);
    sqlite3_bind_double(st, 15, e->box.w);
    sqlite3_bind_double(st, 16, e->box.h);
    sqlite3_bind_int(st, 17, e->count);
    sqlite3_bind_text(st, 18, e->snapshot,
                      (int)strnlen(e->snapshot, sizeof(e->snapshot)),
                      SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        rc = set_err(es, vgi_sqlite_code(rc), "%s: insert: %s", es->db_path,
                     sqlite3_errmsg(es->db));
        return es->opts.outbox ? outbox_step_end(es, rc) : rc;
    }
    e->id = sqlite3_last_insert_rowid(es->db);
    if (es->opts.outbox) {
        /* the event and its outbox rows go in together or not at all */
        int slot = -1, is_new = 0;
        rc = outbox_event(es, e, &slot, &is_new);
        if ((rc = outbox_step_end(es, rc)) < 0) {
            e->id = 0;
            return rc;
        }
        active_obj *a = &es->active[slot];
        if (is_new) {
            a->used = 1;
            a->start_ms = e->wall_ms;
            es->stats.outbox_active++;
        }
        a->last = *e;
        a->last_ms = e->wall_ms;
    }
    es->last_pending_id = e->id;
    es->stats.pending++;
    return commit_rc;
}

int vg_events_set_snapshot(vg_events *es, int64_t id, const char *relpath)
{
    int rc;

    if (!es || id <= 0 || !relpath)
        return VG_EINVAL;
    sqlite3_bind_text(es->st_snapshot, 1, relpath, -1, SQLITE_STATIC);
    sqlite3_bind_int64(es->st_snapshot, 2, id);
    rc = step_once(es->st_snapshot);
    sqlite3_clear_bindings(es->st_snapshot);
    if (rc != SQLITE_OK)
        return set_err(es, vgi_sqlite_code(rc),
                       "%s: snapshot of event %lld: %s", es->db_path,
                       (long long)id, sqlite3_errmsg(es->db));
    if (sqlite3_changes(es->db) != 1)
        return set_err(es, VG_EINVAL, "%s: no event %lld", es->db_path,
                       (long long)id);
    return 0;
}

int vg_events_tick(vg_events *es)
{
    if (!es)
        return VG_EINVAL;
    return batch_due(es, 0) ? commit(es) : 0;
}

int vg_events_flush(vg_events *es)
{
    if (!es)
        return VG_EINVAL;
    return commit(es);
}

void vg_events_stats_get(const vg_events *es, vg_events_stats *out)
{
    if (!out)
        return;
    if (!es)
        memset(out, 0, sizeof(*out));
    else
        *out = es->stats;
}

const char *vg_events_errmsg(const vg_events *es)
{
    return es ? es->errmsg : "";
}

/* ---- open / close
 * -----------------------------------------------------------*/

static char *join(vg_context *ctx, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = vg_malloc(ctx, a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

static int prepare(vg_events *es, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v3(es->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
                                NULL);
    if (rc != SQLITE_OK)
        return vg_fail(es->ctx, vgi_sqlite_code(rc),
                       "%s: preparing \"%.40s\": %s", es->db_path, sql,
                       sqlite3_errmsg(es->db));
    return 0;
}

static int open_jsonl(vg_events *es)
{
    struct stat sb;
    char last = '\n';

    int rc = vg_open_output(es->ctx, es->jsonl_path,
                            O_RDWR | O_APPEND | O_CREAT, &es->jsonl_fd);
    if (rc < 0)
        return rc;
    if (fstat(es->jsonl_fd, &sb) == 0 && sb.st_size > 0 &&
        pread(es->jsonl_fd, &last, 1, sb.st_size - 1) == 1 && last != '\n') {
        /* a crash cut the last line: end it so that it stands alone */
        vg_log(es->ctx, VG_LOG_WARN,
               "%s: last line is incomplete (interrupted write); it is "
               "terminated and readers skip it",
               es->jsonl_path);
        es->stats.jsonl_partial_found = 1;
        if (write_all(es->jsonl_fd, "\n", 1) < 0)
            return vg_fail(es->ctx, VG_EIO, "%s: append failed: %s",
                           es->jsonl_path, strerror(errno));
    }
    return 0;
}

int vg_events_open(vg_context *ctx, const char *dir, const vg_events_opts *o,
                   vg_events **out)
{
    vg_events *es = NULL;
    sqlite3_stmt *st = NULL;
    char msg[200] = "";
    int rc;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "vg_events_open: out is NULL");
    *out = NULL;
    if (!dir || !dir[0])
        return vg_fail(ctx, VG_EINVAL, "vg_events_open: no directory");
    es = vg_calloc(ctx, 1, sizeof(*es));
    if (!es)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", dir);
    es->ctx = ctx;
    es->jsonl_fd = -1;
    vg_events_opts_default(&es->opts);
    if (o)
        es->opts = *o;
    if (es->opts.batch < 1 || es->opts.batch > MAX_BATCH ||
        es->opts.max_delay_ms < 0) {
        rc = vg_fail(ctx, VG_EINVAL,
                     "%s: events batch %d (1..%d) or max delay %d ms invalid",
                     dir, es->opts.batch, MAX_BATCH, es->opts.max_delay_ms);
        goto fail;
    }
    if (es->opts.outbox &&
        (es->opts.outbox_max < 1 || es->opts.outbox_active_max < 1 ||
         es->opts.outbox_active_max > 65536 ||
         !(es->opts.outbox_active_ttl_s > 0) || !es->opts.outbox_topic[0])) {
        rc = vg_fail(ctx, VG_EINVAL,
                     "%s: outbox max %d (>= 1), active max %d (1..65536), "
                     "ttl %g s (> 0) or topic '%.64s' invalid",
                     dir, es->opts.outbox_max, es->opts.outbox_active_max,
                     es->opts.outbox_active_ttl_s, es->opts.outbox_topic);
        goto fail;
    }
    if (es->opts.outbox) {
        es->active = vg_calloc(ctx, (size_t)es->opts.outbox_active_max,
                               sizeof(*es->active));
        es->ended = vg_calloc(ctx, (size_t)es->opts.outbox_active_max + 1,
                              sizeof(*es->ended));
        if (!es->active || !es->ended) {
            rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", dir);
            goto fail;
        }
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        rc = vg_fail(ctx, VG_EIO, "%s: cannot create directory: %s", dir,
                     strerror(errno));
        goto fail;
    }
    es->db_path = join(ctx, dir, "events.db");
    es->jsonl_path = join(ctx, dir, "events.jsonl");
    if (!es->db_path || !es->jsonl_path) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", dir);
        goto fail;
    }
    /* SQLite follows links: refuse one at any of its files */
    {
        static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
        char p[1200];
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof(p), "%s%s", es->db_path, sfx[i]);
            if ((rc = vg_refuse_link(ctx, p)) < 0)
                goto fail;
        }
    }
    rc = sqlite3_open_v2(es->db_path, &es->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOFOLLOW,
                         NULL);
    if (rc != SQLITE_OK) {
        rc = vg_fail(ctx, vgi_sqlite_code(rc), "%s: cannot open: %s",
                     es->db_path,
                     es->db ? sqlite3_errmsg(es->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(es->db, 5000);
    /* Small pages and frequent checkpoints keep the WAL small (a commit
     * writes a few pages): on a nearly full disk the space goes to events.
     * page_size only applies to a new database, before WAL is set. */
    rc = exec(es->db, "PRAGMA page_size=1024", msg, sizeof(msg));
    if (rc != SQLITE_OK) {
        rc = vg_fail(ctx, vgi_sqlite_code(rc), "%s: %s", es->db_path, msg);
        goto fail;
    }
    /* journal_mode answers with the mode in force: check it is WAL */
    rc = sqlite3_prepare_v2(es->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        rc = mode && strcmp((const char *)mode, "wal") == 0 ? SQLITE_OK
                                                            : SQLITE_CANTOPEN;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        rc = vg_fail(ctx, vgi_sqlite_code(rc), "%s: cannot use WAL journal: %s",
                     es->db_path, sqlite3_errmsg(es->db));
        goto fail;
    }
    rc = exec(es->db,
              es->opts.sync_full ? "PRAGMA synchronous=FULL"
                                 : "PRAGMA synchronous=NORMAL",
              msg, sizeof(msg));
    if (rc != SQLITE_OK) {
        rc = vg_fail(ctx, vgi_sqlite_code(rc), "%s: %s", es->db_path, msg);
        goto fail;
    }
    /* Bounded state: SQLite's page cache grows with the database up to its
     * default cache_size (2000 KiB), long after a run has settled. The store
     * only appends (the rightmost pages of the table and its two indexes),
     * so a small explicit bound is enough; it caps the store's RSS. */
    rc = exec(es->db, "PRAGMA cache_size=-256", msg, sizeof(msg)); /* KiB */
    if (rc == SQLITE_OK)
        rc = exec(es->db, "PRAGMA wal_autocheckpoint=32", msg, sizeof(msg));
    if (rc == SQLITE_OK)
        rc = exec(es->db, "PRAGMA journal_size_limit=65536", msg, sizeof(msg));
    if (rc != SQLITE_OK) {
        rc = vg_fail(ctx, vgi_sqlite_code(rc), "%s: %s", es->db_path, msg);
        goto fail;
    }
    if ((rc = setup_schema(ctx, es->db, es->db_path)) < 0)
        goto fail;
    if ((rc = prepare(es, "BEGIN", &es->st_begin)) < 0 ||
        (rc = prepare(es, "COMMIT", &es->st_commit)) < 0 ||
        (rc = prepare(es, "ROLLBACK", &es->st_rollback)) < 0 ||
        (rc = prepare(es,
                      "INSERT INTO events(time_s, wall_ms, frame, stream, "
                      "rule, kind, zone, direction, track_id, class_id, "
                      "class, score, x, y, w, h, count, snapshot) "
                      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      &es->st_insert)) < 0 ||
        (rc = prepare(es, "UPDATE events SET snapshot = ? WHERE id = ?",
                      &es->st_snapshot)) < 0 ||
        (rc = prepare(es,
                      "SELECT id, time_s, wall_ms, frame, stream, rule, kind, "
                      "zone, direction, track_id, class_id, class, score, x, "
                      "y, w, h, count, snapshot FROM events WHERE id > ? "
                      "ORDER BY id",
                      &es->st_since)) < 0 ||
        (rc = prepare(es,
                      "INSERT INTO outbox(topic, payload, created_ms, "
                      "event_id) VALUES(?,?,?,?)",
                      &es->st_ob_insert)) < 0 ||
        (rc = prepare(es, "DELETE FROM outbox WHERE id <= ?",
                      &es->st_ob_trim)) < 0 ||
        (rc = prepare(es, "SAVEPOINT vg_event", &es->st_savepoint)) < 0 ||
        (rc = prepare(es, "RELEASE vg_event", &es->st_release)) < 0 ||
        (rc = prepare(es, "ROLLBACK TO vg_event", &es->st_rollback_to)) < 0)
        goto fail;
    rc = sqlite3_prepare_v2(es->db, "SELECT coalesce(max(id), 0) FROM events",
                            -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        es->last_jsonl_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        rc = vg_fail(ctx, vgi_sqlite_code(rc), "%s: %s", es->db_path,
                     sqlite3_errmsg(es->db));
        goto fail;
    }
    if (es->opts.jsonl && (rc = open_jsonl(es)) < 0)
        goto fail;
    *out = es;
    return 0;
fail:
    es->in_txn = 0;
    vg_events_close(&es);
    return rc;
}

int vg_events_close(vg_events **esp)
{
    vg_events *es;
    int rc = 0;

    if (!esp || !*esp)
        return 0;
    es = *esp;
    *esp = NULL;
    if (es->in_txn) {
        rc = commit(es);
        if (es->in_txn)
            step_once(es->st_rollback);
    }
    sqlite3_finalize(es->st_begin);
    sqlite3_finalize(es->st_commit);
    sqlite3_finalize(es->st_rollback);
    sqlite3_finalize(es->st_insert);
    sqlite3_finalize(es->st_snapshot);
    sqlite3_finalize(es->st_since);
    sqlite3_finalize(es->st_ob_insert);
    sqlite3_finalize(es->st_ob_trim);
    sqlite3_finalize(es->st_savepoint);
    sqlite3_finalize(es->st_release);
    sqlite3_finalize(es->st_rollback_to);
    if (es->db)
        sqlite3_close(es->db);
    if (es->jsonl_fd >= 0)
        close(es->jsonl_fd);
    vg_free(es->ctx, es->db_path);
    vg_free(es->ctx, es->jsonl_path);
    vg_free(es->ctx, es->active);
    vg_free(es->ctx, es->ended);
    vg_free(es->ctx, es);
    return rc;
}
