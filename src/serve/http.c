/* vg_http: the HTTP API of `vigil serve` on libmicrohttpd (docs/serve.md);
 * the routes' handlers are in http_live.c, http_events.c and
 * http_cameras.c (http_internal.h).
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION): the live
 * stream and event stream readers block in their own connection's thread
 * (polling the stop flag every 100 ms), so a slow client only ever delays
 * itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve/http_internal.h"
#include "vigil/clock.h"
#include "vigil/err.h"

double vgi_http_now_s(void)
{
    return (double)vg_clock_ns() / 1e9;
}

void vgi_http_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

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

enum MHD_Result vgi_http_queue(struct MHD_Connection *c, unsigned status,
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

enum MHD_Result vgi_http_send_copy(struct MHD_Connection *c, unsigned status,
                                   const char *type, const void *data,
                                   size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)data, MHD_RESPMEM_MUST_COPY);
    return vgi_http_queue(c, status, resp, type);
}

enum MHD_Result vgi_http_send_error(struct vg_http *h, struct MHD_Connection *c,
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
    return vgi_http_send_copy(c, status, "application/json", out, b.len);
}

/* A malloc'ed buffer handed to MHD (freed by it). */
enum MHD_Result vgi_http_send_owned(struct MHD_Connection *c, unsigned status,
                                    const char *type, char *data, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (resp == NULL)
        free(data);
    return vgi_http_queue(c, status, resp, type);
}

enum MHD_Result vgi_http_send_stream(struct MHD_Connection *c, const char *type,
                                     MHD_ContentReaderCallback read, void *cls,
                                     MHD_ContentReaderFreeCallback free_cls)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 16 * 1024, read, cls, free_cls);
    if (resp == NULL) {
        free_cls(cls);
        return MHD_NO;
    }
    return vgi_http_queue(c, 200, resp, type);
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

/* An integer query argument; 0 absent, 1 set, -1 malformed. */
int vgi_http_arg_int(struct MHD_Connection *c, const char *key, long long min,
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
        return vgi_http_send_copy(c, 200, "text/plain; version=0.0.4", "", 0);
    out = malloc(cap);
    if (out == NULL)
        return vgi_http_send_error(h, c, 503, "out of memory");
    if (vg_telemetry_format_prometheus(h->telemetry, out, cap, &len) ==
        VG_ERANGE) {
        /* many cameras: the page as the metrics server caps it */
        char *big = realloc(out, cap = 1024 * 1024);
        if (big != NULL) {
            out = big;
            vg_telemetry_format_prometheus(h->telemetry, out, cap, &len);
        }
    }
    return vgi_http_send_owned(c, 200, "text/plain; version=0.0.4", out, len);
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
            return vgi_http_send_error(
                h, c, 431, "request header over %d bytes", HEADER_CAP);
        }
        route_of(url, r);
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)h->max_body) {
            r->route = -1;
            return vgi_http_send_error(h, c, 413, "request body over %d bytes",
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
        return vgi_http_send_error(h, c, 413, "request body over %d bytes",
                                   h->max_body);
    if (r->route == R_NONE)
        return vgi_http_send_error(h, c, 404, "no such resource");
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
        ret = vgi_http_queue(c, 405, resp, "application/json");
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
        return vgi_http_queue(c, 401, resp, "application/json");
    }
    switch (r->route) {
    case R_STATIC: {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            r->asset->size, (void *)r->asset->data, MHD_RESPMEM_PERSISTENT);
        return vgi_http_queue(c, 200, resp, content_type(r->asset->path));
    }
    case R_CAMERAS:
        return !strcmp(method, "POST") ? vgi_http_do_add(h, c, r)
                                       : vgi_http_do_cameras(h, c);
    case R_CAMERA: {
        int rc = vg_serve_remove_camera(h->serve, r->name);
        if (rc == VG_ENOENT)
            return vgi_http_send_error(h, c, 404, "no camera '%s'", r->name);
        if (rc < 0)
            return vgi_http_send_error(h, c, 500, "camera '%s': %s", r->name,
                                       vg_strerror(rc));
        return vgi_http_send_copy(c, 204, NULL, "", 0);
    }
    case R_RULES:
        return vgi_http_do_rules(h, c, r, method);
    case R_FRAME:
        return vgi_http_do_frame(h, c, r);
    case R_STREAM:
        return vgi_http_do_stream(h, c, r);
    case R_EVENTS:
        return vgi_http_do_events(h, c);
    case R_SNAPSHOT:
        return vgi_http_do_snapshot(h, c, r->id);
    case R_SSE:
        return vgi_http_do_sse(h, c);
    case R_METRICS:
        return do_metrics(h, c);
    default:
        return vgi_http_send_error(h, c, 404, "no such resource");
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
    vgi_http_feeds_stop(h);
    vgi_http_db_close(h);
    pthread_mutex_destroy(&h->feeds_lock);
    pthread_mutex_destroy(&h->db_lock);
    vg_free(h->ctx, h);
    *hp = NULL;
}
