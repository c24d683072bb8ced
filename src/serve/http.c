/* vg_http: the HTTP API of `vigil serve` on libmicrohttpd (docs/serve.md).
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION): the live
 * stream and event stream readers block in their own connection's thread
 * (polling the stop flag every 100 ms), so a slow client only ever delays
 * itself. Live pictures: one JPEG encoder thread per watched camera
 * (vg_job_watch +1 while it has viewers); each viewer copies the newest
 * JPEG when it is ready for the next one, skipping what it missed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sqlite3.h>

#include "serve/serve_internal.h"
#include "vigil/clock.h"
#include "vigil/err.h"
#include "vigil/image.h"
#include "vigil/reconnect.h"
#include "vigil/serve.h"

#define HEADER_CAP 8192
#define EVENTS_LIMIT_MAX 500
#define FRAME_MAX_WIDTH 1920
#define JPEG_QUALITY 80
#define ERR_CAP 600
#define BOUNDARY "vigilframe"

/* ---- live pictures ------------------------------------------------------*/

typedef struct feed {
    char name[64];
    int used;
    pthread_mutex_t ctl; /* join / leave, thread start and join */
    int viewers;         /* under ctl */
    int thread_running;  /* under ctl */
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock; /* the published JPEG */
    pthread_cond_t cond;
    uint8_t *jpeg;
    size_t jpeg_cap;
    long jpeg_len;
    uint64_t jpeg_seq;         /* JPEGs published */
    int gone;                  /* the camera left the job */
    atomic_int full_w, full_h; /* the camera's picture size, when seen */
    struct vg_http *h;
} feed;

struct vg_http {
    vg_context *ctx;
    vg_serve *serve;
    vg_job *job;
    vg_telemetry *telemetry;
    struct MHD_Daemon *mhd;
    int port;
    char token[128];
    double mjpeg_fps;
    int mjpeg_width;
    int max_body;
    double idle_s;
    char out_dir[PATH_MAX]; /* resolved */
    atomic_int stopping;
    pthread_mutex_t feeds_lock;
    feed feeds[VG_JOB_MAX_STREAMS];
    pthread_mutex_t db_lock;
    sqlite3 *db;
    sqlite3_stmt *st_list, *st_count, *st_since, *st_snap, *st_max;
    atomic_ullong requests, refused, encoded;
    atomic_int viewers;
};

static double now_s(void)
{
    return (double)vg_clock_ns() / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *encoder_main(void *arg)
{
    feed *f = arg;
    struct vg_http *h = f->h;
    uint64_t seq = 0;
    size_t rgb_cap = (size_t)h->mjpeg_width * (size_t)h->mjpeg_width * 3;
    uint8_t *rgb = malloc(rgb_cap);
    uint8_t *jpeg = NULL;
    size_t jpeg_cap = 0;
    double period = h->mjpeg_fps > 0 ? 1.0 / h->mjpeg_fps : 0.2;

    while (rgb && !atomic_load(&f->stop) && !atomic_load(&h->stopping)) {
        double t0 = now_s();
        int w = 0, ht = 0;
        int rc = vg_job_frame_get(h->job, f->name, h->mjpeg_width, &seq, rgb,
                                  rgb_cap, &w, &ht);
        if (rc == VG_ERANGE && rgb_cap < (size_t)64 << 20) {
            uint8_t *n = realloc(rgb, rgb_cap * 2);
            if (n) {
                rgb = n;
                rgb_cap *= 2;
            }
            continue;
        }
        if (rc == VG_ENOENT) {
            pthread_mutex_lock(&f->lock);
            f->gone = 1;
            pthread_cond_broadcast(&f->cond);
            pthread_mutex_unlock(&f->lock);
        }
        if (rc == 1) {
            long n = vg_image_encode_jpeg(rgb, w, ht, w * 3, JPEG_QUALITY,
                                          &jpeg, &jpeg_cap);
            if (n > 0) {
                uint8_t *tb;
                size_t tc;
                atomic_fetch_add(&h->encoded, 1);
                pthread_mutex_lock(&f->lock);
                tb = f->jpeg;
                tc = f->jpeg_cap;
                f->jpeg = jpeg;
                f->jpeg_cap = jpeg_cap;
                f->jpeg_len = n;
                f->jpeg_seq++;
                f->gone = 0;
                pthread_cond_broadcast(&f->cond);
                pthread_mutex_unlock(&f->lock);
                jpeg = tb;
                jpeg_cap = tc;
            }
        }
        /* the next picture at the configured rate */
        while (!atomic_load(&f->stop) && !atomic_load(&h->stopping)) {
            double left = t0 + period - now_s();
            if (left <= 0)
                break;
            sleep_ms(left > 0.05 ? 50 : (int)(left * 1000) + 1);
        }
    }
    free(rgb);
    free(jpeg);
    return NULL;
}

/* camera's feed entry (created when create is set and a slot is free). */
static feed *feed_find(struct vg_http *h, const char *name, int create)
{
    feed *f = NULL;
    pthread_mutex_lock(&h->feeds_lock);
    for (int i = 0; i < VG_JOB_MAX_STREAMS; i++)
        if (h->feeds[i].used && !strcmp(h->feeds[i].name, name))
            f = &h->feeds[i];
    for (int i = 0; create && !f && i < VG_JOB_MAX_STREAMS; i++)
        if (!h->feeds[i].used) {
            f = &h->feeds[i];
            f->used = 1;
            snprintf(f->name, sizeof(f->name), "%s", name);
        }
    pthread_mutex_unlock(&h->feeds_lock);
    return f;
}

/* A viewer joins camera's feed; NULL when no such camera (or no slot). */
static feed *feed_join(struct vg_http *h, const char *name)
{
    feed *f = feed_find(h, name, 1);
    if (f == NULL)
        return NULL;
    pthread_mutex_lock(&f->ctl);
    if (f->viewers == 0) {
        if (vg_job_watch(h->job, name, +1) < 0) {
            pthread_mutex_unlock(&f->ctl);
            return NULL;
        }
        atomic_store(&f->stop, 0);
        pthread_mutex_lock(&f->lock);
        f->gone = 0;
        pthread_mutex_unlock(&f->lock);
        if (pthread_create(&f->thread, NULL, encoder_main, f) != 0) {
            vg_job_watch(h->job, name, -1);
            pthread_mutex_unlock(&f->ctl);
            return NULL;
        }
        f->thread_running = 1;
    }
    f->viewers++;
    pthread_mutex_unlock(&f->ctl);
    atomic_fetch_add(&h->viewers, 1);
    return f;
}

static void feed_leave(struct vg_http *h, feed *f)
{
    pthread_mutex_lock(&f->ctl);
    if (--f->viewers == 0 && f->thread_running) {
        atomic_store(&f->stop, 1);
        pthread_join(f->thread, NULL);
        f->thread_running = 0;
        vg_job_watch(h->job, f->name, -1);
    }
    pthread_mutex_unlock(&f->ctl);
    atomic_fetch_sub(&h->viewers, 1);
}

/* ---- requests -----------------------------------------------------------*/

enum route {
    R_NONE = 0,
    R_STATIC,
    R_CAMERAS,
    R_CAMERA,
    R_RULES,
    R_FRAME,
    R_STREAM,
    R_EVENTS,
    R_SNAPSHOT,
    R_SSE,
    R_METRICS,
};

typedef struct request {
    int route;
    char name[64];
    int64_t id;
    const vgi_web_asset *asset;
    char *body;
    size_t body_len, body_cap;
    int too_large;
} request;

/* Parses url into r; R_NONE for anything not served (404). */
static void route_of(const char *url, request *r)
{
    const char *p, *slash;
    size_t n;
    r->route = R_NONE;
    if (!strcmp(url, "/metrics")) {
        r->route = R_METRICS;
        return;
    }
    if (!strcmp(url, "/api/cameras")) {
        r->route = R_CAMERAS;
        return;
    }
    if (!strcmp(url, "/api/events")) {
        r->route = R_EVENTS;
        return;
    }
    if (!strcmp(url, "/api/sse")) {
        r->route = R_SSE;
        return;
    }
    if (!strncmp(url, "/api/cameras/", 13)) {
        p = url + 13;
        slash = strchr(p, '/');
        n = slash ? (size_t)(slash - p) : strlen(p);
        if (n >= sizeof(r->name))
            return;
        memcpy(r->name, p, n);
        r->name[n] = '\0';
        if (!vg_camera_name_valid(r->name)) {
            r->name[0] = '\0';
            return;
        }
        if (!slash)
            r->route = R_CAMERA;
        else if (!strcmp(slash, "/rules"))
            r->route = R_RULES;
        else if (!strcmp(slash, "/frame.jpg"))
            r->route = R_FRAME;
        else if (!strcmp(slash, "/stream.mjpeg"))
            r->route = R_STREAM;
        return;
    }
    if (!strncmp(url, "/api/events/", 12)) {
        char *end;
        long long id;
        p = url + 12;
        if (*p < '0' || *p > '9')
            return;
        errno = 0;
        id = strtoll(p, &end, 10);
        if (errno || id <= 0 || strcmp(end, "/snapshot"))
            return;
        r->id = id;
        r->route = R_SNAPSHOT;
        return;
    }
    if (!strcmp(url, "/"))
        url = "/index.html";
    for (int i = 0; i < vgi_web_assets_n; i++)
        if (!strcmp(url, vgi_web_assets[i].path)) {
            r->asset = &vgi_web_assets[i];
            r->route = R_STATIC;
            return;
        }
}

static const char *allowed(int route)
{
    switch (route) {
    case R_CAMERAS:
        return "GET, POST";
    case R_CAMERA:
        return "DELETE";
    case R_RULES:
        return "GET, PUT";
    default:
        return "GET, HEAD";
    }
}

static int method_ok(int route, const char *m)
{
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    switch (route) {
    case R_CAMERAS:
        return get || !strcmp(m, "POST");
    case R_CAMERA:
        return !strcmp(m, "DELETE");
    case R_RULES:
        return get || !strcmp(m, "PUT");
    default:
        return get;
    }
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp, const char *type)
{
    enum MHD_Result ret;
    if (resp == NULL)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_copy(struct MHD_Connection *c, unsigned status,
                                 const char *type, const void *data, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)data, MHD_RESPMEM_MUST_COPY);
    return queue(c, status, resp, type);
}

static enum MHD_Result send_error(struct vg_http *h, struct MHD_Connection *c,
                                  unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum MHD_Result send_error(struct vg_http *h, struct MHD_Connection *c,
                                  unsigned status, const char *fmt, ...)
{
    char msg[ERR_CAP], out[ERR_CAP * 2 + 32];
    vgi_jbuf b;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vgi_jbuf_init(&b, out, sizeof(out));
    vgi_jbuf_raw(&b, "{\"error\":");
    vgi_jbuf_str(&b, msg);
    vgi_jbuf_raw(&b, "}\n");
    if (status >= 400 && status < 500)
        atomic_fetch_add(&h->refused, 1);
    return send_copy(c, status, "application/json", out, b.len);
}

/* A malloc'ed buffer handed to MHD (freed by it). */
static enum MHD_Result send_owned(struct MHD_Connection *c, unsigned status,
                                  const char *type, char *data, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (resp == NULL)
        free(data);
    return queue(c, status, resp, type);
}

static int token_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned)(unsigned char)a[i] ^
                (unsigned)(unsigned char)b[i % (lb ? lb : 1)];
    return diff == 0 && lb > 0;
}

static int authorised(struct vg_http *h, struct MHD_Connection *c, int route)
{
    const char *v;
    if (!h->token[0] || route == R_STATIC || route == R_NONE)
        return 1;
    v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (v && !strncasecmp(v, "Bearer ", 7) && token_eq(h->token, v + 7))
        return 1;
    if (route == R_FRAME || route == R_STREAM) {
        v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        if (v && token_eq(h->token, v))
            return 1;
    }
    return 0;
}

static enum MHD_Result add_size(void *cls, enum MHD_ValueKind kind,
                                const char *key, const char *value)
{
    size_t *sum = cls;
    (void)kind;
    *sum += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* ---- events -------------------------------------------------------------*/

#define EVENT_COLUMNS                                                          \
    "id, stream, rule, kind, zone, direction, track_id, class, score, x, y, "  \
    "w, h, time_s, wall_ms, count, snapshot"
#define EVENT_FILTER                                                           \
    " WHERE (?1 IS NULL OR stream = ?1) AND (?2 IS NULL OR rule = ?2) AND "    \
    "(?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR wall_ms >= ?4) AND "         \
    "(?5 IS NULL OR wall_ms <= ?5)"

static void db_close(struct vg_http *h)
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
        db_close(h);
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

/* An integer query argument; 0 absent, 1 set, -1 malformed. */
static int arg_int(struct MHD_Connection *c, const char *key, long long min,
                   long long max, long long *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    char *end;
    long long n;
    if (v == NULL || !v[0])
        return 0;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *out = n;
    return 1;
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

static enum MHD_Result do_events(struct vg_http *h, struct MHD_Connection *c)
{
    long long limit = 50, offset = 0, t[2] = {0, 0}, total = 0;
    int set[2], rc;
    size_t cap;
    char *out;
    vgi_jbuf b;

    if (arg_int(c, "limit", 0, EVENTS_LIMIT_MAX, &limit) < 0)
        return send_error(h, c, 400, "limit: a whole number 0..%d",
                          EVENTS_LIMIT_MAX);
    if (arg_int(c, "offset", 0, LLONG_MAX, &offset) < 0)
        return send_error(h, c, 400, "offset: a whole number >= 0");
    if ((set[0] = arg_int(c, "since", LLONG_MIN, LLONG_MAX, &t[0])) < 0)
        return send_error(h, c, 400, "since: a whole number (wall_ms)");
    if ((set[1] = arg_int(c, "until", LLONG_MIN, LLONG_MAX, &t[1])) < 0)
        return send_error(h, c, 400, "until: a whole number (wall_ms)");
    cap = 64 + (size_t)limit * 640;
    out = malloc(cap);
    if (out == NULL)
        return send_error(h, c, 503, "out of memory");
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
        return send_error(h, c, 500, "events: answer too long");
    }
    return send_owned(c, 200, "application/json", out, b.len);
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

static enum MHD_Result do_snapshot(struct vg_http *h, struct MHD_Connection *c,
                                   int64_t id)
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
        return send_error(h, c, 404, "event %lld: no snapshot", (long long)id);
    if (!snapshot_path_ok(rel))
        return send_error(h, c, 404, "event %lld: no snapshot", (long long)id);
    snprintf(path, sizeof(path), "%s/%s", h->out_dir, rel);
    /* the file itself must lie inside OUT (no link leads out) */
    if (realpath(path, real) == NULL || strncmp(real, h->out_dir, out_len) ||
        real[out_len] != '/')
        return send_error(h, c, 404, "event %lld: no snapshot", (long long)id);
    fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return send_error(h, c, 404, "event %lld: no snapshot", (long long)id);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return send_error(h, c, 404, "event %lld: no snapshot", (long long)id);
    }
    resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
    if (resp == NULL) {
        close(fd);
        return MHD_NO;
    }
    return queue(c, 200, resp, "image/jpeg");
}

/* ---- cameras ------------------------------------------------------------*/

static const char *live_state_name(int s)
{
    static const char *const names[] = {"connecting", "live",    "stalled",
                                        "dropped",    "backoff", "stopped"};
    if (s < 0)
        return "file";
    return s < (int)(sizeof(names) / sizeof(names[0])) ? names[s] : "stopped";
}

static void camera_json(vgi_jbuf *b, const vg_job_stream_status *ss)
{
    int w = ss->width > 0 ? ss->width : ss->stats.width;
    int hh = ss->width > 0 ? ss->height : ss->stats.height;
    vgi_jbuf_raw(b, "{\"name\":");
    vgi_jbuf_str(b, ss->name);
    vgi_jbuf_raw(b, ",\"input\":");
    vgi_jbuf_str(b, ss->input);
    vgi_jbuf_raw(b, ",\"state\":");
    vgi_jbuf_str(b, vg_job_stream_state_name(ss->state));
    vgi_jbuf_raw(b, ",\"live_state\":");
    vgi_jbuf_str(b, live_state_name(ss->live_state));
    vgi_jbuf_raw(b, ",\"fps\":");
    vgi_jbuf_num(b, round(ss->fps * 100) / 100);
    vgi_jbuf_raw(b, ",\"detect_fps\":");
    vgi_jbuf_num(b, round(ss->detect_fps * 100) / 100);
    vgi_jbuf_printf(b,
                    ",\"frames\":%lld,\"frames_dropped\":%lld,\"reconnects\":"
                    "%lld,\"memory_bytes\":%lld,\"width\":%d,\"height\":%d,"
                    "\"error\":",
                    (long long)ss->frames, (long long)ss->frames_dropped,
                    (long long)ss->reconnects, (long long)ss->memory_bytes, w,
                    hh);
    vgi_jbuf_str(b, ss->end_code < 0 ? ss->message : "");
    vgi_jbuf_raw(b, "}");
}

static enum MHD_Result do_cameras(struct vg_http *h, struct MHD_Connection *c)
{
    vg_job_stream_status *ss = malloc(sizeof(*ss));
    int n = vg_job_stream_count(h->job), first = 1;
    size_t cap = 64 + (size_t)(n > 0 ? n : 1) * 2048;
    char *out = malloc(cap);
    vgi_jbuf b;
    if (!ss || !out) {
        free(ss);
        free(out);
        return send_error(h, c, 503, "out of memory");
    }
    vgi_jbuf_init(&b, out, cap);
    vgi_jbuf_raw(&b, "{\"cameras\":[");
    for (int i = 0; i < n; i++) {
        if (vg_job_stream_get(h->job, i, ss) < 0 ||
            ss->state == VG_JOB_STREAM_REMOVED)
            continue;
        if (!first)
            vgi_jbuf_raw(&b, ",");
        camera_json(&b, ss);
        first = 0;
    }
    vgi_jbuf_raw(&b, "]}\n");
    free(ss);
    if (b.overflow) {
        free(out);
        return send_error(h, c, 500, "cameras: answer too long");
    }
    return send_owned(c, 200, "application/json", out, b.len);
}

/* A flat JSON object of string / boolean members. Returns 0, or -1 with
 * msg naming the offending field. */
typedef struct add_body {
    char name[64];
    char input[VG_PATH_MAX];
    int loop;
    int have_name, have_input;
} add_body;

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A JSON string at p (after the quote is checked) into out; returns the
 * position after it or NULL. */
static const char *parse_string(const char *p, const char *end, char *out,
                                size_t cap, int *too_long)
{
    size_t n = 0;
    *too_long = 0;
    if (p >= end || *p != '"')
        return NULL;
    for (p++; p < end && *p != '"'; p++) {
        char ch = *p;
        if ((unsigned char)ch < 0x20)
            return NULL;
        if (ch == '\\') {
            if (++p >= end)
                return NULL;
            switch (*p) {
            case '"':
            case '\\':
            case '/':
                ch = *p;
                break;
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            case 'r':
                ch = '\r';
                break;
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            default:
                return NULL; /* \u escapes are not needed in names/URLs */
            }
        }
        if (n + 1 >= cap)
            *too_long = 1;
        else
            out[n++] = ch;
    }
    if (p >= end)
        return NULL;
    out[n] = '\0';
    return p + 1;
}

static int parse_add_body(const char *s, size_t len, add_body *a, char *msg,
                          size_t cap)
{
    const char *p = s, *end = s + len;
    char key[64];
    int too_long;
    memset(a, 0, sizeof(*a));
    p = skip_ws(p, end);
    if (p >= end || *p != '{') {
        snprintf(msg, cap, "body: not a JSON object");
        return -1;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto done;
    }
    for (;;) {
        p = skip_ws(p, end);
        p = parse_string(p, end, key, sizeof(key), &too_long);
        if (p == NULL || too_long) {
            snprintf(msg, cap, "body: malformed JSON (a member name)");
            return -1;
        }
        p = skip_ws(p, end);
        if (p >= end || *p != ':') {
            snprintf(msg, cap, "body: malformed JSON after \"%s\"", key);
            return -1;
        }
        p = skip_ws(p + 1, end);
        if (!strcmp(key, "name") || !strcmp(key, "input")) {
            int is_name = key[0] == 'n';
            if (p >= end || *p != '"') {
                snprintf(msg, cap, "%s: must be a string", key);
                return -1;
            }
            p = parse_string(p, end, is_name ? a->name : a->input,
                             is_name ? sizeof(a->name) : sizeof(a->input),
                             &too_long);
            if (p == NULL) {
                snprintf(msg, cap, "%s: malformed string", key);
                return -1;
            }
            if (too_long) {
                snprintf(msg, cap, "%s: too long", key);
                return -1;
            }
            *(is_name ? &a->have_name : &a->have_input) = 1;
        } else if (!strcmp(key, "loop")) {
            if ((size_t)(end - p) >= 4 && !strncmp(p, "true", 4)) {
                a->loop = 1;
                p += 4;
            } else if ((size_t)(end - p) >= 5 && !strncmp(p, "false", 5)) {
                a->loop = 0;
                p += 5;
            } else {
                snprintf(msg, cap, "loop: must be true or false");
                return -1;
            }
        } else {
            snprintf(msg, cap, "%s: unknown field (name, input, loop)", key);
            return -1;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        snprintf(msg, cap, "body: malformed JSON after \"%s\"", key);
        return -1;
    }
done:
    if (skip_ws(p, end) != end) {
        snprintf(msg, cap, "body: text after the JSON object");
        return -1;
    }
    if (!a->have_name) {
        snprintf(msg, cap, "name: required");
        return -1;
    }
    if (!a->have_input) {
        snprintf(msg, cap, "input: required");
        return -1;
    }
    return 0;
}

static enum MHD_Result do_add(struct vg_http *h, struct MHD_Connection *c,
                              request *r)
{
    add_body a;
    char msg[ERR_CAP], out[128];
    int rc;
    vgi_jbuf b;
    if (parse_add_body(r->body ? r->body : "", r->body_len, &a, msg,
                       sizeof(msg)) < 0)
        return send_error(h, c, 400, "%s", msg);
    rc = vg_serve_add_camera(h->serve, a.name, a.input, a.loop, msg,
                             sizeof(msg));
    if (rc == VG_EEXIST)
        return send_error(h, c, 409, "%s", msg);
    if (rc < 0)
        return send_error(h, c, 400, "%s", msg);
    vgi_jbuf_init(&b, out, sizeof(out));
    vgi_jbuf_raw(&b, "{\"name\":");
    vgi_jbuf_str(&b, a.name);
    vgi_jbuf_raw(&b, "}\n");
    return send_copy(c, 201, "application/json", out, b.len);
}

static enum MHD_Result do_rules(struct vg_http *h, struct MHD_Connection *c,
                                request *r, const char *method)
{
    char msg[ERR_CAP];
    int rc;
    if (!strcmp(method, "PUT")) {
        rc = vg_serve_put_rules(h->serve, r->name, r->body ? r->body : "",
                                r->body_len, msg, sizeof(msg));
        if (rc == VG_ENOENT)
            return send_error(h, c, 404, "no camera '%s'", r->name);
        if (rc == VG_ECONFIG)
            return send_error(h, c, 400, "%s", msg);
        if (rc < 0)
            return send_error(h, c, 500, "%s", msg);
        return send_copy(c, 200, "application/json",
                         rc == 1 ? "{\"saved\":true}\n" : "{\"saved\":false}\n",
                         rc == 1 ? 15 : 16);
    }
    {
        /* small first (the usual case), the largest possible once */
        size_t cap = 16 * 1024;
        char *out = malloc(cap);
        if (out == NULL)
            return send_error(h, c, 503, "out of memory");
        rc = vg_serve_rules_json(h->serve, r->name, out, cap);
        if (rc == VG_ERANGE) {
            char *big = realloc(out, cap = 1024 * 1024);
            if (big == NULL) {
                free(out);
                return send_error(h, c, 503, "out of memory");
            }
            out = big;
            rc = vg_serve_rules_json(h->serve, r->name, out, cap);
        }
        if (rc == VG_ENOENT) {
            free(out);
            return send_error(h, c, 404, "no camera '%s'", r->name);
        }
        if (rc < 0) {
            free(out);
            return send_error(h, c, 500, "rules of '%s': %s", r->name,
                              vg_strerror(rc));
        }
        return send_owned(c, 200, "application/json", out, (size_t)rc);
    }
}

/* ---- frame.jpg ----------------------------------------------------------*/

static enum MHD_Result do_frame(struct vg_http *h, struct MHD_Connection *c,
                                request *r)
{
    long long width = 0;
    int max_w, got = 0, w = 0, ht = 0, rc;
    uint64_t seq = 0;
    size_t cap;
    uint8_t *rgb = NULL, *jpeg = NULL;
    size_t jpeg_cap = 0;
    long n;
    double deadline;
    feed *f;

    if (arg_int(c, "width", 16, FRAME_MAX_WIDTH, &width) < 0)
        return send_error(h, c, 400, "width: a whole number 16..%d",
                          FRAME_MAX_WIDTH);
    max_w = width > 0 ? (int)width : FRAME_MAX_WIDTH;
    cap = (size_t)max_w * (size_t)max_w * 3;
    f = feed_find(h, r->name, 1);
    if (width == 0 && f && atomic_load(&f->full_w) > 0)
        cap = (size_t)atomic_load(&f->full_w) *
              (size_t)atomic_load(&f->full_h) * 3;
    if (vg_job_watch(h->job, r->name, +1) < 0)
        return send_error(h, c, 404, "no camera '%s'", r->name);
    rgb = malloc(cap);
    if (rgb == NULL) {
        vg_job_watch(h->job, r->name, -1);
        return send_error(h, c, 503, "out of memory");
    }
    /* whatever it has, then a newer one when it comes within a second */
    for (int tries = 0; tries < 3; tries++) {
        rc = vg_job_frame_get(h->job, r->name, max_w, &seq, rgb, cap, &w, &ht);
        if (rc != VG_ERANGE)
            break;
        {
            uint8_t *nb = realloc(rgb, cap * 2);
            if (nb == NULL)
                break;
            rgb = nb;
            cap *= 2;
        }
    }
    got = rc == 1;
    deadline = now_s() + 1.0;
    while (rc >= 0 && now_s() < deadline && !atomic_load(&h->stopping)) {
        uint64_t s2 = seq;
        int w2, h2;
        rc = vg_job_frame_get(h->job, r->name, max_w, &s2, rgb, cap, &w2, &h2);
        if (rc == 1) {
            got = 1;
            seq = s2;
            w = w2;
            ht = h2;
            break;
        }
        sleep_ms(20);
    }
    vg_job_watch(h->job, r->name, -1);
    if (!got) {
        free(rgb);
        return send_error(h, c, 503, "camera '%s': no picture yet", r->name);
    }
    if (width == 0 && f == NULL)
        f = feed_find(h, r->name, 1);
    if (width == 0 && f) {
        atomic_store(&f->full_w, w);
        atomic_store(&f->full_h, ht);
    }
    n = vg_image_encode_jpeg(rgb, w, ht, w * 3, JPEG_QUALITY, &jpeg, &jpeg_cap);
    free(rgb);
    if (n <= 0) {
        free(jpeg);
        return send_error(h, c, 500, "camera '%s': cannot encode", r->name);
    }
    atomic_fetch_add(&h->encoded, 1);
    return send_owned(c, 200, "image/jpeg", (char *)jpeg, (size_t)n);
}

/* ---- stream.mjpeg -------------------------------------------------------*/

typedef struct viewer {
    struct vg_http *h;
    feed *f;
    uint64_t seq;
    char *part;
    size_t part_cap, part_len, part_off;
    double last_frame;
} viewer;

static ssize_t mjpeg_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    viewer *v = cls;
    feed *f = v->f;
    size_t n;
    (void)pos;
    if (v->part_off >= v->part_len) {
        char head[128];
        int hl;
        pthread_mutex_lock(&f->lock);
        while (f->jpeg_seq <= v->seq) {
            struct timespec ts;
            if (atomic_load(&v->h->stopping) || f->gone ||
                now_s() - v->last_frame > v->h->idle_s) {
                pthread_mutex_unlock(&f->lock);
                return MHD_CONTENT_READER_END_OF_STREAM;
            }
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&f->cond, &f->lock, &ts);
        }
        hl = snprintf(head, sizeof(head),
                      "--" BOUNDARY "\r\nContent-Type: image/jpeg\r\n"
                      "Content-Length: %ld\r\n\r\n",
                      f->jpeg_len);
        if (v->part_cap < (size_t)hl + (size_t)f->jpeg_len + 2) {
            size_t nc = (size_t)hl + (size_t)f->jpeg_len + 2 + 65536;
            char *np = realloc(v->part, nc);
            if (np == NULL) {
                pthread_mutex_unlock(&f->lock);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            v->part = np;
            v->part_cap = nc;
        }
        memcpy(v->part, head, (size_t)hl);
        memcpy(v->part + hl, f->jpeg, (size_t)f->jpeg_len);
        memcpy(v->part + hl + f->jpeg_len, "\r\n", 2);
        v->part_len = (size_t)hl + (size_t)f->jpeg_len + 2;
        v->part_off = 0;
        v->seq = f->jpeg_seq;
        pthread_mutex_unlock(&f->lock);
        v->last_frame = now_s();
    }
    n = v->part_len - v->part_off;
    if (n > max)
        n = max;
    memcpy(buf, v->part + v->part_off, n);
    v->part_off += n;
    return (ssize_t)n;
}

static void viewer_free(void *cls)
{
    viewer *v = cls;
    feed_leave(v->h, v->f);
    free(v->part);
    free(v);
}

static enum MHD_Result do_stream(struct vg_http *h, struct MHD_Connection *c,
                                 request *r)
{
    viewer *v = calloc(1, sizeof(*v));
    struct MHD_Response *resp;
    if (v == NULL)
        return send_error(h, c, 503, "out of memory");
    v->h = h;
    v->f = feed_join(h, r->name);
    if (v->f == NULL) {
        free(v);
        return send_error(h, c, 404, "no camera '%s'", r->name);
    }
    v->last_frame = now_s();
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                             mjpeg_read, v, viewer_free);
    if (resp == NULL) {
        viewer_free(v);
        return MHD_NO;
    }
    return queue(c, 200, resp, "multipart/x-mixed-replace; boundary=" BOUNDARY);
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
        camera_json(&b, &e->ss);
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
        if (now_s() - e->last_sent >= keepalive) {
            e->len = (size_t)snprintf(e->out, e->cap, ": keepalive\n\n");
            e->off = 0;
            break;
        }
        for (int i = 0; i < 5 && !atomic_load(&h->stopping); i++)
            sleep_ms(50);
    }
    n = e->len - e->off;
    if (n > max)
        n = max;
    memcpy(buf, e->out + e->off, n);
    e->off += n;
    e->last_sent = now_s();
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse *e = cls;
    free(e->out);
    free(e);
}

static enum MHD_Result do_sse(struct vg_http *h, struct MHD_Connection *c)
{
    sse *e = calloc(1, sizeof(*e));
    struct MHD_Response *resp;
    if (e)
        e->out = malloc(64 * 1024);
    if (e == NULL || e->out == NULL) {
        if (e)
            free(e);
        return send_error(h, c, 503, "out of memory");
    }
    e->h = h;
    e->cap = 64 * 1024;
    e->last_id = -1;
    e->len =
        (size_t)snprintf(e->out, e->cap, ": vigil events\nretry: 2000\n\n");
    e->last_sent = now_s();
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                             sse_read, e, sse_free);
    if (resp == NULL) {
        sse_free(e);
        return MHD_NO;
    }
    return queue(c, 200, resp, "text/event-stream");
}

/* ---- dispatch -----------------------------------------------------------*/

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".json"))
        return "application/json";
    return "application/octet-stream";
}

static enum MHD_Result do_metrics(struct vg_http *h, struct MHD_Connection *c)
{
    size_t cap = 64 * 1024, len = 0;
    char *out;
    if (h->telemetry == NULL)
        return send_copy(c, 200, "text/plain; version=0.0.4", "", 0);
    out = malloc(cap);
    if (out == NULL)
        return send_error(h, c, 503, "out of memory");
    if (vg_telemetry_format_prometheus(h->telemetry, out, cap, &len) ==
        VG_ERANGE) {
        /* many cameras: the page as the metrics server caps it */
        char *big = realloc(out, cap = 1024 * 1024);
        if (big != NULL) {
            out = big;
            vg_telemetry_format_prometheus(h->telemetry, out, cap, &len);
        }
    }
    return send_owned(c, 200, "text/plain; version=0.0.4", out, len);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
    struct vg_http *h = cls;
    request *r = *con_cls;
    (void)version;

    if (r == NULL) {
        size_t header_bytes = 0;
        const char *cl;
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&h->requests, 1);
        MHD_get_connection_values(c, MHD_HEADER_KIND, add_size, &header_bytes);
        header_bytes += strlen(url) + strlen(method) + 12;
        if (header_bytes > HEADER_CAP) {
            r->route = -1;
            return send_error(h, c, 431, "request header over %d bytes",
                              HEADER_CAP);
        }
        route_of(url, r);
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)h->max_body) {
            r->route = -1;
            return send_error(h, c, 413, "request body over %d bytes",
                              h->max_body);
        }
        return MHD_YES;
    }
    if (r->route < 0)
        return MHD_YES; /* answered already */
    if (*upload_size > 0) {
        if (r->too_large || r->body_len + *upload_size > (size_t)h->max_body) {
            r->too_large = 1;
        } else {
            if (r->body_len + *upload_size + 1 > r->body_cap) {
                size_t nc = r->body_len + *upload_size + 1;
                char *nb = realloc(r->body, nc < 4096 ? 4096 : nc);
                if (nb == NULL)
                    return MHD_NO;
                r->body = nb;
                r->body_cap = nc < 4096 ? 4096 : nc;
            }
            memcpy(r->body + r->body_len, upload_data, *upload_size);
            r->body_len += *upload_size;
            r->body[r->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return send_error(h, c, 413, "request body over %d bytes", h->max_body);
    if (r->route == R_NONE)
        return send_error(h, c, 404, "no such resource");
    if (!method_ok(r->route, method)) {
        enum MHD_Result ret;
        char out[160];
        int n = snprintf(out, sizeof(out),
                         "{\"error\":\"method %s not allowed here\"}\n",
                         strlen(method) < 16 ? method : "?");
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            (size_t)n, out, MHD_RESPMEM_MUST_COPY);
        if (resp == NULL)
            return MHD_NO;
        MHD_add_response_header(resp, "Allow", allowed(r->route));
        atomic_fetch_add(&h->refused, 1);
        ret = queue(c, 405, resp, "application/json");
        return ret;
    }
    if (!authorised(h, c, r->route)) {
        struct MHD_Response *resp;
        const char *msg = "{\"error\":\"a bearer token is required\"}\n";
        resp = MHD_create_response_from_buffer(strlen(msg), (void *)msg,
                                               MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            return MHD_NO;
        MHD_add_response_header(resp, "WWW-Authenticate",
                                "Bearer realm=\"vigil\"");
        atomic_fetch_add(&h->refused, 1);
        return queue(c, 401, resp, "application/json");
    }
    switch (r->route) {
    case R_STATIC: {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            r->asset->size, (void *)r->asset->data, MHD_RESPMEM_PERSISTENT);
        return queue(c, 200, resp, content_type(r->asset->path));
    }
    case R_CAMERAS:
        return !strcmp(method, "POST") ? do_add(h, c, r) : do_cameras(h, c);
    case R_CAMERA: {
        int rc = vg_serve_remove_camera(h->serve, r->name);
        if (rc == VG_ENOENT)
            return send_error(h, c, 404, "no camera '%s'", r->name);
        if (rc < 0)
            return send_error(h, c, 500, "camera '%s': %s", r->name,
                              vg_strerror(rc));
        return send_copy(c, 204, NULL, "", 0);
    }
    case R_RULES:
        return do_rules(h, c, r, method);
    case R_FRAME:
        return do_frame(h, c, r);
    case R_STREAM:
        return do_stream(h, c, r);
    case R_EVENTS:
        return do_events(h, c);
    case R_SNAPSHOT:
        return do_snapshot(h, c, r->id);
    case R_SSE:
        return do_sse(h, c);
    case R_METRICS:
        return do_metrics(h, c);
    default:
        return send_error(h, c, 404, "no such resource");
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    request *r = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* ---- start / stop -------------------------------------------------------*/

void vg_http_opts_from_settings(const vg_settings *s, vg_http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = s->serve_listen;
    o->token = s->serve_token;
    o->mjpeg_fps = s->serve_mjpeg_fps;
    o->mjpeg_width = s->serve_mjpeg_width;
    o->max_connections = s->serve_max_connections;
    o->max_body_bytes = s->serve_max_body_bytes;
    o->idle_timeout_s = s->serve_idle_timeout_s;
}

/* "HOST:PORT" or "[V6]:PORT" into addr; 0 or -1. */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
                        socklen_t *len, int *loopback)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    size_t hl;
    if (colon == NULL)
        return -1;
    hl = (size_t)(colon - s);
    if (hl == 0 || hl >= sizeof(host))
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || port < 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -1;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        return 0;
    }
    {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        if (!strcmp(host, "localhost"))
            snprintf(host, sizeof(host), "127.0.0.1");
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return -1;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *len = sizeof(*a);
        *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

int vg_http_check_opts(vg_context *ctx, const vg_http_opts *o)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int loopback = 0;
    if (!ctx || !o || !o->listen)
        return VG_EINVAL;
    if (parse_listen(o->listen, &ss, &sl, &loopback) < 0)
        return vg_fail(ctx, VG_EINVAL,
                       "serve.listen: '%.64s' is not HOST:PORT (an IP "
                       "address and a port 0..65535)",
                       o->listen);
    if (!loopback && (o->token == NULL || o->token[0] == '\0'))
        return vg_fail(ctx, VG_EINVAL,
                       "serve.listen: %.64s is not a loopback address: set "
                       "serve.token (or the variable named by "
                       "serve.token_env) to serve on it",
                       o->listen);
    if (o->max_connections < 1 || o->max_body_bytes < 1 ||
        o->mjpeg_width < 16 || o->mjpeg_width > FRAME_MAX_WIDTH ||
        !(o->mjpeg_fps > 0) || o->mjpeg_fps > 60 || !(o->idle_timeout_s >= 1))
        return vg_fail(ctx, VG_EINVAL,
                       "serve: max_connections, max_body_bytes >= 1, "
                       "mjpeg_width 16..%d, mjpeg_fps 0..60, idle_timeout_s "
                       ">= 1 required",
                       FRAME_MAX_WIDTH);
    if (o->token && strlen(o->token) >= sizeof(((struct vg_http *)0)->token))
        return vg_fail(ctx, VG_EINVAL, "serve.token: at most %zu characters",
                       sizeof(((struct vg_http *)0)->token) - 1);
    return 0;
}

int vg_http_start(vg_context *ctx, const vg_http_opts *o, vg_http **out)
{
    struct vg_http *h;
    struct sockaddr_storage ss;
    socklen_t sl;
    int loopback = 0;
    const char *out_dir;
    const union MHD_DaemonInfo *info;
    int rc;

    if (out)
        *out = NULL;
    if (!ctx || !o || !o->serve || !out || !o->listen)
        return VG_EINVAL;
    rc = vg_http_check_opts(ctx, o);
    if (rc < 0)
        return rc;
    parse_listen(o->listen, &ss, &sl, &loopback);
    out_dir = vg_job_out_dir(vg_serve_job(o->serve));
    h = vg_calloc(ctx, 1, sizeof(*h));
    if (h == NULL)
        return vg_fail(ctx, VG_ENOMEM, "serve: out of memory");
    h->ctx = ctx;
    h->serve = o->serve;
    h->job = vg_serve_job(o->serve);
    h->telemetry = o->telemetry;
    if (o->token)
        snprintf(h->token, sizeof(h->token), "%s", o->token);
    h->mjpeg_fps = o->mjpeg_fps;
    h->mjpeg_width = o->mjpeg_width;
    h->max_body = o->max_body_bytes;
    h->idle_s = o->idle_timeout_s;
    if (out_dir == NULL || realpath(out_dir, h->out_dir) == NULL)
        snprintf(h->out_dir, sizeof(h->out_dir), "%s", out_dir ? out_dir : ".");
    pthread_mutex_init(&h->feeds_lock, NULL);
    pthread_mutex_init(&h->db_lock, NULL);
    for (int i = 0; i < VG_JOB_MAX_STREAMS; i++) {
        feed *f = &h->feeds[i];
        f->h = h;
        pthread_mutex_init(&f->ctl, NULL);
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->cond, NULL);
    }
    h->mhd = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
            MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)o->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)ceil(o->idle_timeout_s), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)32 * 1024, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_END);
    if (h->mhd == NULL) {
        int e = errno;
        vg_http *tmp = h;
        h = NULL;
        vg_http_stop(&tmp);
        return vg_fail(ctx, VG_EIO, "serve.listen: cannot listen on %.64s (%s)",
                       o->listen, strerror(e));
    }
    info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return 0;
}

int vg_http_port(const vg_http *h)
{
    return h ? h->port : 0;
}

void vg_http_stats_get(vg_http *h, vg_http_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!h)
        return;
    out->requests = atomic_load(&h->requests);
    out->refused = atomic_load(&h->refused);
    out->jpeg_encoded = atomic_load(&h->encoded);
    out->viewers = atomic_load(&h->viewers);
}

void vg_http_stop(vg_http **hp)
{
    struct vg_http *h;
    if (!hp || !*hp)
        return;
    h = *hp;
    atomic_store(&h->stopping, 1);
    if (h->mhd)
        MHD_stop_daemon(h->mhd); /* joins every connection's thread */
    for (int i = 0; i < VG_JOB_MAX_STREAMS; i++) {
        feed *f = &h->feeds[i];
        if (f->thread_running) {
            atomic_store(&f->stop, 1);
            pthread_join(f->thread, NULL);
            vg_job_watch(h->job, f->name, -1);
        }
        free(f->jpeg);
        pthread_mutex_destroy(&f->ctl);
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
    }
    db_close(h);
    pthread_mutex_destroy(&h->feeds_lock);
    pthread_mutex_destroy(&h->db_lock);
    vg_free(h->ctx, h);
    *hp = NULL;
}
