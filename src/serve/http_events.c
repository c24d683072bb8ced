/* vg_http's events (http_internal.h): OUT/events.db read-only (the job
 * writes it), the event list, snapshots (only files inside OUT) and the
 * server-sent events (new events and camera state changes). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/http_internal.h"

/* ---- events -------------------------------------------------------------*/

#define EVENT_COLUMNS                                                          \
    "id, stream, rule, kind, zone, direction, track_id, class, score, x, y, "  \
    "w, h, time_s, wall_ms, count, snapshot"
#define EVENT_FILTER                                                           \
    " WHERE (?1 IS NULL OR stream = ?1) AND (?2 IS NULL OR rule = ?2) AND "    \
    "(?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR wall_ms >= ?4) AND "         \
    "(?5 IS NULL OR wall_ms <= ?5)"

void vgi_http_db_close(struct vg_http *h)
{
    sqlite3_finalize(h->st_list);
    sqlite3_finalize(h->st_count);
    sqlite3_finalize(h->st_since);
    sqlite3_finalize(h->st_snap);
    sqlite3_finalize(h->st_max);
    h->st_list = h->st_count = h->st_since = h->st_snap = h->st_max = NULL;
    sqlite3_close(h->db);
    h->db = NULL;
}

/* Opens OUT/events.db read-only once it exists; under db_lock. */
static int db_ready(struct vg_http *h)
{
    char path[PATH_MAX + 16];
    if (h->db)
        return 1;
    snprintf(path, sizeof(path), "%s/events.db", h->out_dir);
    if (access(path, R_OK) != 0)
        return 0;
    if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READONLY, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(h->db, 2000) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db,
                           "SELECT " EVENT_COLUMNS " FROM events" EVENT_FILTER
                           " ORDER BY id DESC LIMIT ?6 OFFSET ?7",
                           -1, &h->st_list, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db, "SELECT count(*) FROM events" EVENT_FILTER,
                           -1, &h->st_count, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db,
                           "SELECT " EVENT_COLUMNS
                           " FROM events WHERE id > ?1 ORDER BY id LIMIT 50",
                           -1, &h->st_since, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db, "SELECT snapshot FROM events WHERE id = ?1",
                           -1, &h->st_snap, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db, "SELECT coalesce(max(id), 0) FROM events", -1,
                           &h->st_max, NULL) != SQLITE_OK) {
        vg_log(h->ctx, VG_LOG_WARN, "serve: %s: %s", path,
               h->db ? sqlite3_errmsg(h->db) : "cannot open");
        vgi_http_db_close(h);
        return 0;
    }
    return 1;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void event_json(vgi_jbuf *b, sqlite3_stmt *st)
{
    double x = sqlite3_column_double(st, 9), y = sqlite3_column_double(st, 10);
    double w = sqlite3_column_double(st, 11),
           hh = sqlite3_column_double(st, 12);
    vgi_jbuf_printf(
        b, "{\"id\":%lld,\"camera\":", (long long)sqlite3_column_int64(st, 0));
    vgi_jbuf_str(b, col_text(st, 1));
    vgi_jbuf_raw(b, ",\"rule\":");
    vgi_jbuf_str(b, col_text(st, 2));
    vgi_jbuf_raw(b, ",\"kind\":");
    vgi_jbuf_str(b, col_text(st, 3));
    vgi_jbuf_raw(b, ",\"zone\":");
    vgi_jbuf_str(b, col_text(st, 4));
    vgi_jbuf_raw(b, ",\"direction\":");
    vgi_jbuf_str(b, col_text(st, 5));
    vgi_jbuf_printf(b, ",\"track_id\":%lld,\"class\":",
                    (long long)sqlite3_column_int64(st, 6));
    vgi_jbuf_str(b, col_text(st, 7));
    vgi_jbuf_raw(b, ",\"score\":");
    vgi_jbuf_num(b, sqlite3_column_double(st, 8));
    vgi_jbuf_raw(b, ",\"box\":[");
    vgi_jbuf_num(b, x);
    vgi_jbuf_raw(b, ",");
    vgi_jbuf_num(b, y);
    vgi_jbuf_raw(b, ",");
    vgi_jbuf_num(b, x + w);
    vgi_jbuf_raw(b, ",");
    vgi_jbuf_num(b, y + hh);
    vgi_jbuf_raw(b, "],\"time_s\":");
    vgi_jbuf_num(b, sqlite3_column_double(st, 13));
    vgi_jbuf_printf(b, ",\"wall_ms\":%lld,\"count\":%lld,\"snapshot\":%s}",
                    (long long)sqlite3_column_int64(st, 14),
                    (long long)sqlite3_column_int64(st, 15),
                    col_text(st, 16)[0] ? "true" : "false");
}

static void bind_filter(struct MHD_Connection *c, sqlite3_stmt *st,
                        const int set[2], const long long t[2])
{
    static const char *const keys[3] = {"camera", "rule", "kind"};
    for (int i = 0; i < 3; i++) {
        const char *v =
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, keys[i]);
        if (v && v[0])
            sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, i + 1);
    }
    for (int i = 0; i < 2; i++) {
        if (set[i])
            sqlite3_bind_int64(st, 4 + i, t[i]);
        else
            sqlite3_bind_null(st, 4 + i);
    }
}

enum MHD_Result vgi_http_do_events(struct vg_http *h, struct MHD_Connection *c)
{
    long long limit = 50, offset = 0, t[2] = {0, 0}, total = 0;
    int set[2], rc;
    size_t cap;
    char *out;
    vgi_jbuf b;

    if (vgi_http_arg_int(c, "limit", 0, EVENTS_LIMIT_MAX, &limit) < 0)
        return vgi_http_send_error(h, c, 400, "limit: a whole number 0..%d",
                                   EVENTS_LIMIT_MAX);
    if (vgi_http_arg_int(c, "offset", 0, LLONG_MAX, &offset) < 0)
        return vgi_http_send_error(h, c, 400, "offset: a whole number >= 0");
    if ((set[0] = vgi_http_arg_int(c, "since", LLONG_MIN, LLONG_MAX, &t[0])) <
        0)
        return vgi_http_send_error(h, c, 400,
                                   "since: a whole number (wall_ms)");
    if ((set[1] = vgi_http_arg_int(c, "until", LLONG_MIN, LLONG_MAX, &t[1])) <
        0)
        return vgi_http_send_error(h, c, 400,
                                   "until: a whole number (wall_ms)");
    cap = 64 + (size_t)limit * 640;
    out = malloc(cap);
    if (out == NULL)
        return vgi_http_send_error(h, c, 503, "out of memory");
    vgi_jbuf_init(&b, out, cap);
    vgi_jbuf_raw(&b, "{\"events\":[");
    pthread_mutex_lock(&h->db_lock);
    if (db_ready(h)) {
        int first = 1;
        bind_filter(c, h->st_count, set, t);
        if (sqlite3_step(h->st_count) == SQLITE_ROW)
            total = sqlite3_column_int64(h->st_count, 0);
        sqlite3_reset(h->st_count);
        sqlite3_clear_bindings(h->st_count);
        bind_filter(c, h->st_list, set, t);
        sqlite3_bind_int64(h->st_list, 6, limit);
        sqlite3_bind_int64(h->st_list, 7, offset);
        while ((rc = sqlite3_step(h->st_list)) == SQLITE_ROW) {
            size_t before = b.len;
            if (!first)
                vgi_jbuf_raw(&b, ",");
            event_json(&b, h->st_list);
            if (b.overflow) {
                /* an unusually long row: the list is cut before it */
                b.overflow = 0;
                b.len = before;
                b.p[b.len] = '\0';
                break;
            }
            first = 0;
        }
        sqlite3_reset(h->st_list);
        sqlite3_clear_bindings(h->st_list);
    }
    pthread_mutex_unlock(&h->db_lock);
    vgi_jbuf_printf(&b, "],\"total\":%lld}\n", total);
    if (b.overflow) {
        free(out);
        return vgi_http_send_error(h, c, 500, "events: answer too long");
    }
    return vgi_http_send_owned(c, 200, "application/json", out, b.len);
}

/* Relative snapshot paths as the job writes them: [NAME/]snapshots/DATE/ID.jpg
 */
static int snapshot_path_ok(const char *p)
{
    if (!p[0] || p[0] == '/' || strstr(p, "..") || strstr(p, "//"))
        return 0;
    for (const char *q = p; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
              (*q >= '0' && *q <= '9') || *q == '_' || *q == '-' || *q == '/' ||
              *q == '.'))
            return 0;
    return strlen(p) > 4 && !strcmp(p + strlen(p) - 4, ".jpg");
}

enum MHD_Result vgi_http_do_snapshot(struct vg_http *h,
                                     struct MHD_Connection *c, int64_t id)
{
    char rel[512] = "", path[PATH_MAX + 600], real[PATH_MAX];
    size_t out_len = strlen(h->out_dir);
    struct stat st;
    int fd;
    struct MHD_Response *resp;

    pthread_mutex_lock(&h->db_lock);
    if (db_ready(h)) {
        sqlite3_bind_int64(h->st_snap, 1, id);
        if (sqlite3_step(h->st_snap) == SQLITE_ROW)
            snprintf(rel, sizeof(rel), "%s", col_text(h->st_snap, 0));
        sqlite3_reset(h->st_snap);
        sqlite3_clear_bindings(h->st_snap);
    }
    pthread_mutex_unlock(&h->db_lock);
    if (!rel[0])
        return vgi_http_send_error(h, c, 404, "event %lld: no snapshot",
                                   (long long)id);
    if (!snapshot_path_ok(rel))
        return vgi_http_send_error(h, c, 404, "event %lld: no snapshot",
                                   (long long)id);
    snprintf(path, sizeof(path), "%s/%s", h->out_dir, rel);
    /* the file itself must lie inside OUT (no link leads out) */
    if (realpath(path, real) == NULL || strncmp(real, h->out_dir, out_len) ||
        real[out_len] != '/')
        return vgi_http_send_error(h, c, 404, "event %lld: no snapshot",
                                   (long long)id);
    fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return vgi_http_send_error(h, c, 404, "event %lld: no snapshot",
                                   (long long)id);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vgi_http_send_error(h, c, 404, "event %lld: no snapshot",
                                   (long long)id);
    }
    resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (resp == NULL) {
        close(fd);
        return MHD_NO;
    }
    return vgi_http_queue(c, 200, resp, "image/jpeg");
}

/* ---- server-sent events -------------------------------------------------*/

typedef struct sse_cam {
    char name[VG_STREAM_NAME_MAX];
    int state, live_state;
    int seen; /* this round */
} sse_cam;

typedef struct sse {
    struct vg_http *h;
    int64_t last_id;
    char *out;
    size_t cap, len, off;
    double last_sent;
    sse_cam cams[VG_JOB_MAX_STREAMS];
    vg_job_stream_status ss;
} sse;

static void sse_poll(sse *e)
{
    struct vg_http *h = e->h;
    vgi_jbuf b;
    int n;
    vgi_jbuf_init(&b, e->out, e->cap);
    /* new events */
    pthread_mutex_lock(&h->db_lock);
    if (db_ready(h)) {
        if (e->last_id < 0) {
            /* only events after the client came */
            if (sqlite3_step(h->st_max) == SQLITE_ROW)
                e->last_id = sqlite3_column_int64(h->st_max, 0);
            sqlite3_reset(h->st_max);
        }
        if (e->last_id >= 0) {
            sqlite3_bind_int64(h->st_since, 1, e->last_id);
            while (sqlite3_step(h->st_since) == SQLITE_ROW) {
                size_t before = b.len;
                vgi_jbuf_raw(&b, "event: event\ndata: ");
                event_json(&b, h->st_since);
                vgi_jbuf_raw(&b, "\n\n");
                if (b.overflow) {
                    b.overflow = 0;
                    b.len = before;
                    break;
                }
                e->last_id = sqlite3_column_int64(h->st_since, 0);
            }
            sqlite3_reset(h->st_since);
            sqlite3_clear_bindings(h->st_since);
        }
    }
    pthread_mutex_unlock(&h->db_lock);
    /* camera states */
    n = vg_job_stream_count(h->job);
    for (int i = 0; i < n && i < VG_JOB_MAX_STREAMS; i++) {
        sse_cam *sc = &e->cams[i];
        size_t before = b.len;
        if (vg_job_stream_get(h->job, i, &e->ss) < 0)
            continue;
        if (!strcmp(sc->name, e->ss.name) && sc->state == e->ss.state &&
            sc->live_state == e->ss.live_state)
            continue;
        vgi_jbuf_raw(&b, "event: camera\ndata: ");
        vgi_http_camera_json(&b, &e->ss);
        vgi_jbuf_raw(&b, "\n\n");
        if (b.overflow) {
            b.overflow = 0;
            b.len = before;
            break;
        }
        snprintf(sc->name, sizeof(sc->name), "%s", e->ss.name);
        sc->state = e->ss.state;
        sc->live_state = e->ss.live_state;
    }
    e->len = b.len;
    e->off = 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse *e = cls;
    struct vg_http *h = e->h;
    double keepalive = h->idle_s / 2 < 15 ? h->idle_s / 2 : 15;
    size_t n;
    (void)pos;
    while (e->off >= e->len) {
        if (atomic_load(&h->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        sse_poll(e);
        if (e->len > 0)
            break;
        if (vgi_http_now_s() - e->last_sent >= keepalive) {
            e->len = (size_t)snprintf(e->out, e->cap, ": keepalive\n\n");
            e->off = 0;
            break;
        }
        for (int i = 0; i < 5 && !atomic_load(&h->stopping); i++)
            vgi_http_sleep_ms(50);
    }
    n = e->len - e->off;
    if (n > max)
        n = max;
    memcpy(buf, e->out + e->off, n);
    e->off += n;
    e->last_sent = vgi_http_now_s();
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse *e = cls;
    free(e->out);
    free(e);
}

enum MHD_Result vgi_http_do_sse(struct vg_http *h, struct MHD_Connection *c)
{
    sse *e = calloc(1, sizeof(*e));
    if (e)
        e->out = malloc(64 * 1024);
    if (e == NULL || e->out == NULL) {
        if (e)
            free(e);
        return vgi_http_send_error(h, c, 503, "out of memory");
    }
    e->h = h;
    e->cap = 64 * 1024;
    e->last_id = -1;
    e->len =
        (size_t)snprintf(e->out, e->cap, ": vigil events\nretry: 2000\n\n");
    e->last_sent = vgi_http_now_s();
    return vgi_http_send_stream(c, "text/event-stream", sse_read, e, sse_free);
}
