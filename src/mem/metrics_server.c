/*
 * vg_metrics_server: Prometheus endpoint for a vg_telemetry (contract in
 * include/vigil/telemetry.h). One thread runs a poll() loop over the
 * listening socket, the read end of a self-pipe (stop writes to it) and a
 * bounded table of non-blocking connections. Each connection moves through
 * three phases, each with its own deadline on the options' clock:
 *
 *   READING  the request head arrives (deadline: timeout_s after accept)
 *   WRITING  the response goes out    (deadline: timeout_s after the head)
 *   CLOSING  half-closed, the client's leftovers are read and dropped until
 *            it closes (deadline: timeout_s after the response), so that
 *            closing never resets a response the client has not read yet
 *
 * Everything (table, request buffers, poll set, two page buffers) is taken
 * at start. The socket is bound to 127.0.0.1 only.
 */
#include "vigil/telemetry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vigil/clock.h"

#define HEAD_CAP 256
#define LISTEN_BACKLOG SOMAXCONN
#define TICK_MS 100 /* deadline checks while a connection is open */
#define MAX_CONNECTIONS_LIMIT 4096
#define MAX_HEADER_LIMIT (1 << 20)
/* Kernel send buffer per connection: fixed, so that the kernel memory a
 * connection holds is bounded too (autotuning would let each of them queue
 * megabytes for a client that does not read). */
#define SEND_BUFFER_BYTES (64 * 1024)

enum conn_state { CONN_FREE = 0, CONN_READING, CONN_WRITING, CONN_CLOSING };

typedef struct conn {
    int fd;
    enum conn_state state;
    uint64_t seq; /* accept order: the oldest has the smallest */
    double deadline_s;
    char *request; /* max_header_bytes + 1 bytes */
    size_t len;
    char head[HEAD_CAP];
    size_t head_len, head_sent;
    const char *body;
    size_t body_len, body_sent;
    int page; /* page buffer held while the body is sent, or -1 */
} conn;

struct vg_metrics_server {
    vg_context *ctx;
    vg_telemetry *t;
    vg_metrics_server_opts o;
    int listen_fd;
    int wake[2]; /* self-pipe: [0] polled by the thread, [1] written by stop */
    int port;
    pthread_t thread;
    conn *conns; /* o.max_connections */
    char *request_block;
    struct pollfd *pfds; /* 2 + o.max_connections */
    int *pfd_conn;       /* conn index of pfds[2 + i] */
    uint64_t next_seq;
    char *pages[2]; /* VG_METRICS_PAGE_CAP each */
    size_t page_len[2];
    int page_refs[2];
    int page_current;
    int warned_truncated;
    atomic_ullong accepted, requests, timed_out, evicted, too_large;
    atomic_int open;
};

static const char TEXT_PLAIN[] = "text/plain; charset=utf-8";
static const char PROMETHEUS_TYPE[] =
    "text/plain; version=0.0.4; charset=utf-8";

static double now_s(const vg_metrics_server *s)
{
    if (s->o.now)
        return s->o.now(s->o.now_user);
    return (double)vg_clock_ns() / 1e9;
}

void vg_metrics_server_opts_default(vg_metrics_server_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->max_connections = 64;
    o->max_header_bytes = 8192;
    o->timeout_s = 2.0;
}

/* ---- pages ----------------------------------------------------------------
 */

static void render(vg_metrics_server *s, int i)
{
    if (vg_telemetry_format_prometheus(s->t, s->pages[i], VG_METRICS_PAGE_CAP,
                                       &s->page_len[i]) == VG_ERANGE &&
        !s->warned_truncated) {
        s->warned_truncated = 1;
        vg_log(s->ctx, VG_LOG_WARN,
               "metrics: page exceeds %d bytes; later lines are left out",
               VG_METRICS_PAGE_CAP);
    }
}

/* The page buffer to answer from: re-rendered when a buffer is free, else
 * the newest page (both are still being sent to slow readers). */
static int take_page(vg_metrics_server *s)
{
    int cur = s->page_current;

    if (s->page_refs[cur] == 0) {
        render(s, cur);
    } else if (s->page_refs[1 - cur] == 0) {
        cur = 1 - cur;
        render(s, cur);
        s->page_current = cur;
    }
    return cur;
}

/* ---- connections ----------------------------------------------------------
 */

static void close_conn(vg_metrics_server *s, conn *c)
{
    if (c->state == CONN_FREE)
        return;
    close(c->fd);
    if (c->page >= 0)
        s->page_refs[c->page]--;
    c->fd = -1;
    c->page = -1;
    c->state = CONN_FREE;
    atomic_fetch_sub(&s->open, 1);
}

/* The connection to drop when the table is full: the oldest still reading
 * its request, else the oldest closing, else the oldest being answered. */
static conn *victim(vg_metrics_server *s)
{
    static const enum conn_state order[] = {CONN_READING, CONN_CLOSING,
                                            CONN_WRITING};

    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        conn *best = NULL;
        for (int i = 0; i < s->o.max_connections; i++) {
            conn *c = &s->conns[i];
            if (c->state == order[k] && (!best || c->seq < best->seq))
                best = c;
        }
        if (best)
            return best;
    }
    return NULL;
}

/* Sends what is left of the response; when it is all out, half-closes and
 * moves to CLOSING. */
static void write_some(vg_metrics_server *s, conn *c, double now)
{
    while (c->head_sent < c->head_len || c->body_sent < c->body_len) {
        struct iovec iov[2];
        struct msghdr msg;
        ssize_t w;
        int n = 0;

        if (c->head_sent < c->head_len)
            iov[n++] = (struct iovec){c->head + c->head_sent,
                                      c->head_len - c->head_sent};
        if (c->body_sent < c->body_len)
            iov[n++] = (struct iovec){(char *)c->body + c->body_sent,
                                      c->body_len - c->body_sent};
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)n;
        w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* poll for POLLOUT */
            close_conn(s, c);
            return;
        }
        size_t head_left = c->head_len - c->head_sent;
        size_t taken = (size_t)w < head_left ? (size_t)w : head_left;
        c->head_sent += taken;
        c->body_sent += (size_t)w - taken;
    }
    if (c->page >= 0) {
        s->page_refs[c->page]--;
        c->page = -1;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_CLOSING;
    c->deadline_s = now + s->o.timeout_s;
}

/* Queues a response; body_len is the Content-Length, send_body 0 for HEAD.
 * version is the request's minor HTTP version (0 when unknown). */
static void respond(vg_metrics_server *s, conn *c, double now, int version,
                    const char *status, const char *type, const char *extra,
                    const char *body, size_t body_len, int send_body)
{
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.%d %s\r\nContent-Type: %s\r\nContent-Length: "
                     "%zu\r\n%sConnection: close\r\n\r\n",
                     version, status, type, body_len, extra);

    atomic_fetch_add(&s->requests, 1);
    if (n < 0 || (size_t)n >= sizeof(c->head)) {
        close_conn(s, c); /* cannot happen with the fixed statuses */
        return;
    }
    c->head_len = (size_t)n;
    c->head_sent = 0;
    c->body = body;
    c->body_len = send_body ? body_len : 0;
    c->body_sent = 0;
    c->state = CONN_WRITING;
    c->deadline_s = now + s->o.timeout_s;
    write_some(s, c, now);
}

static void respond_text(vg_metrics_server *s, conn *c, double now, int version,
                         const char *status, const char *extra, const char *msg,
                         int send_body)
{
    respond(s, c, now, version, status, TEXT_PLAIN, extra, msg, strlen(msg),
            send_body);
}

static int is_token_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Answers the complete request head in c->request (NUL-terminated). */
static void handle_request(vg_metrics_server *s, conn *c, double now)
{
    char *line = c->request, *end, *method, *target, *version;
    size_t method_len, target_len;
    int minor, head;

    while (*line == '\r' || *line == '\n') /* RFC 9112 2.2: skip blank */
        line++;
    end = line + strcspn(line, "\r\n");
    *end = '\0';
    method = line;
    method_len = strcspn(method, " ");
    target = method + method_len;
    if (*target != ' ' || method_len == 0)
        goto bad;
    *target++ = '\0';
    target_len = strcspn(target, " ");
    version = target + target_len;
    if (*version != ' ' || target_len == 0)
        goto bad;
    *version++ = '\0';
    for (size_t i = 0; i < method_len; i++)
        if (!is_token_char(method[i]))
            goto bad;
    if (strncmp(version, "HTTP/1.", 7) != 0 || version[7] < '0' ||
        version[7] > '9' || version[8] != '\0')
        goto bad;
    minor = version[7] == '0' ? 0 : 1;
    head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        respond_text(s, c, now, minor, "405 Method Not Allowed",
                     "Allow: GET, HEAD\r\n", "method not allowed\n", 1);
        return;
    }
    target[strcspn(target, "?")] = '\0';
    if (strcmp(target, "/metrics") != 0) {
        respond_text(s, c, now, minor, "404 Not Found", "",
                     "not found; try /metrics\n", !head);
        return;
    }
    {
        int page = take_page(s);
        if (!head) {
            c->page = page;
            s->page_refs[page]++;
        }
        respond(s, c, now, minor, "200 OK", PROMETHEUS_TYPE, "", s->pages[page],
                s->page_len[page], !head);
    }
    return;

bad:
    respond_text(s, c, now, 0, "400 Bad Request", "", "bad request\n", 1);
}

/* Offset just past the blank line ending the head, searching the bytes
 * from..len of buf, or 0 when the head is not complete. */
static size_t head_end(const char *buf, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i >= 1 && buf[i - 1] == '\n')
            return i + 1;
        if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
            return i + 1;
    }
    return 0;
}

static void read_some(vg_metrics_server *s, conn *c, double now)
{
    size_t cap = (size_t)s->o.max_header_bytes;

    for (;;) {
        size_t from = c->len;
        ssize_t r;
        size_t end;

        if (c->len >= cap) {
            atomic_fetch_add(&s->too_large, 1);
            respond_text(s, c, now, 0, "431 Request Header Fields Too Large",
                         "", "request head too large\n", 1);
            return;
        }
        r = recv(c->fd, c->request + c->len, cap - c->len, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) { /* the client gave up, or an error */
            close_conn(s, c);
            return;
        }
        c->len += (size_t)r;
        end = head_end(c->request, from, c->len);
        if (end) {
            c->request[end] = '\0';
            handle_request(s, c, now);
            return;
        }
    }
}

/* Reads and drops what the client still sends until it closes. */
static void drain(vg_metrics_server *s, conn *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->request, (size_t)s->o.max_header_bytes,
                         MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            close_conn(s, c);
            return;
        }
    }
}

static void expire(vg_metrics_server *s, double now)
{
    static const char timeout_response[] =
        "HTTP/1.0 408 Request Timeout\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n";

    for (int i = 0; i < s->o.max_connections; i++) {
        conn *c = &s->conns[i];
        if (c->state == CONN_FREE || now < c->deadline_s)
            continue;
        if (c->state == CONN_READING) /* best effort, never waits */
            (void)send(c->fd, timeout_response, sizeof(timeout_response) - 1,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
        if (c->state != CONN_CLOSING)
            atomic_fetch_add(&s->timed_out, 1);
        close_conn(s, c);
    }
}

/* Returns 0, or -1 when accept ran out of descriptors or memory (the
 * listening socket is then left out of one poll round). */
static int accept_all(vg_metrics_server *s)
{
    for (int k = 0; k < s->o.max_connections; k++) {
        conn *c = NULL;
        double now;
        int fd =
            accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        /* The clock is read after the accept and the expired connections
         * go before this one is served: whatever happened before the client
         * connected has been seen by the time it is answered. */
        now = now_s(s);
        expire(s, now);
        for (int i = 0; i < s->o.max_connections && !c; i++)
            if (s->conns[i].state == CONN_FREE)
                c = &s->conns[i];
        if (!c) {
            c = victim(s);
            close_conn(s, c);
            atomic_fetch_add(&s->evicted, 1);
        }
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){SEND_BUFFER_BYTES},
                   sizeof(int));
        c->fd = fd;
        c->state = CONN_READING;
        c->seq = s->next_seq++;
        c->deadline_s = now + s->o.timeout_s;
        c->len = 0;
        c->page = -1;
        atomic_fetch_add(&s->accepted, 1);
        atomic_fetch_add(&s->open, 1);
        read_some(s, c, now); /* the request is often there already */
    }
    return 0;
}

static void *server_main(void *arg)
{
    vg_metrics_server *s = arg;
    int accept_paused = 0;

    for (;;) {
        int n = 0, any = 0, ready;
        double now;

        s->pfds[n++] = (struct pollfd){s->wake[0], POLLIN, 0};
        s->pfds[n++] =
            (struct pollfd){accept_paused ? -1 : s->listen_fd, POLLIN, 0};
        for (int i = 0; i < s->o.max_connections; i++) {
            conn *c = &s->conns[i];
            if (c->state == CONN_FREE)
                continue;
            s->pfds[n] = (struct pollfd){
                c->fd, c->state == CONN_WRITING ? POLLOUT : POLLIN, 0};
            s->pfd_conn[n - 2] = i;
            n++;
            any = 1;
        }
        ready = poll(s->pfds, (nfds_t)n, any || accept_paused ? TICK_MS : -1);
        accept_paused = 0;
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            vg_log(s->ctx, VG_LOG_ERROR, "metrics: poll failed: %s",
                   strerror(errno));
            break;
        }
        if (s->pfds[0].revents)
            break;
        now = now_s(s);
        expire(s, now);
        /* Connections first: a request already in is answered before new
         * arrivals can push its connection out of a full table. */
        for (int k = 2; k < n; k++) {
            conn *c = &s->conns[s->pfd_conn[k - 2]];
            if (!s->pfds[k].revents || c->state == CONN_FREE ||
                c->fd != s->pfds[k].fd)
                continue;
            if (c->state == CONN_READING)
                read_some(s, c, now);
            else if (c->state == CONN_WRITING)
                write_some(s, c, now);
            else if (c->state == CONN_CLOSING)
                drain(s, c);
        }
        if (s->pfds[1].revents & POLLIN)
            accept_paused = accept_all(s) < 0;
    }
    for (int i = 0; i < s->o.max_connections; i++)
        close_conn(s, &s->conns[i]);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------
 */

static void free_server(vg_metrics_server *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    vg_free(s->ctx, s->pages[0]);
    vg_free(s->ctx, s->pages[1]);
    vg_free(s->ctx, s->pfd_conn);
    vg_free(s->ctx, s->pfds);
    vg_free(s->ctx, s->request_block);
    vg_free(s->ctx, s->conns);
    vg_free(s->ctx, s);
}

static int check_opts(vg_context *ctx, const vg_metrics_server_opts *o)
{
    if (o->port < 0 || o->port > 65535)
        return vg_fail(ctx, VG_EINVAL, "metrics: port %d out of 0..65535",
                       o->port);
    if (o->max_connections < 1 || o->max_connections > MAX_CONNECTIONS_LIMIT)
        return vg_fail(ctx, VG_EINVAL,
                       "metrics: max_connections %d out of 1..%d",
                       o->max_connections, MAX_CONNECTIONS_LIMIT);
    if (o->max_header_bytes < 64 || o->max_header_bytes > MAX_HEADER_LIMIT)
        return vg_fail(ctx, VG_EINVAL,
                       "metrics: max_header_bytes %d out of 64..%d",
                       o->max_header_bytes, MAX_HEADER_LIMIT);
    if (!(o->timeout_s > 0) || !isfinite(o->timeout_s))
        return vg_fail(ctx, VG_EINVAL,
                       "metrics: timeout_s %g is not a positive number",
                       o->timeout_s);
    return 0;
}

static int take_memory(vg_metrics_server *s)
{
    size_t n = (size_t)s->o.max_connections;
    size_t req = (size_t)s->o.max_header_bytes + 1;

    s->conns = vg_calloc(s->ctx, n, sizeof(*s->conns));
    s->request_block = vg_malloc(s->ctx, n * req);
    s->pfds = vg_calloc(s->ctx, n + 2, sizeof(*s->pfds));
    s->pfd_conn = vg_calloc(s->ctx, n, sizeof(*s->pfd_conn));
    s->pages[0] = vg_malloc(s->ctx, VG_METRICS_PAGE_CAP);
    s->pages[1] = vg_malloc(s->ctx, VG_METRICS_PAGE_CAP);
    if (!s->conns || !s->request_block || !s->pfds || !s->pfd_conn ||
        !s->pages[0] || !s->pages[1])
        return -1;
    for (size_t i = 0; i < n; i++) {
        s->conns[i].fd = -1;
        s->conns[i].page = -1;
        s->conns[i].request = s->request_block + i * req;
    }
    return 0;
}

static int open_socket(vg_metrics_server *s)
{
    vg_context *ctx = s->ctx;
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    int one = 1, port = s->o.port;

    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return vg_fail(ctx, VG_ENET, "metrics: cannot create a pipe: %s",
                       strerror(errno));
    s->listen_fd =
        socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0)
        return vg_fail(ctx, VG_ENET, "metrics: cannot create a socket: %s",
                       strerror(errno));
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never INADDR_ANY */
    if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        return vg_fail(ctx, VG_ENET, "metrics: cannot bind 127.0.0.1:%d: %s",
                       port, strerror(errno));
    if (listen(s->listen_fd, LISTEN_BACKLOG) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen) != 0)
        return vg_fail(ctx, VG_ENET,
                       "metrics: cannot listen on 127.0.0.1:%d: %s", port,
                       strerror(errno));
    s->port = ntohs(addr.sin_port);
    return 0;
}

int vg_metrics_server_start_opts(vg_context *ctx, vg_telemetry *t,
                                 const vg_metrics_server_opts *o,
                                 vg_metrics_server **out)
{
    vg_metrics_server_opts defaults;
    vg_metrics_server *s;
    int rc;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "metrics: no output handle");
    *out = NULL;
    if (!t)
        return vg_fail(ctx, VG_EINVAL, "metrics: no telemetry to serve");
    if (!o) {
        vg_metrics_server_opts_default(&defaults);
        o = &defaults;
    }
    if ((rc = check_opts(ctx, o)) < 0)
        return rc;
    s = vg_calloc(ctx, 1, sizeof(*s));
    if (!s)
        return vg_fail(ctx, VG_ENOMEM, "metrics: out of memory");
    s->ctx = ctx;
    s->t = t;
    s->o = *o;
    s->listen_fd = -1;
    s->wake[0] = s->wake[1] = -1;
    atomic_init(&s->accepted, 0);
    atomic_init(&s->requests, 0);
    atomic_init(&s->timed_out, 0);
    atomic_init(&s->evicted, 0);
    atomic_init(&s->too_large, 0);
    atomic_init(&s->open, 0);
    if (take_memory(s) < 0) {
        rc =
            vg_fail(ctx, VG_ENOMEM, "metrics: out of memory for %d connections",
                    o->max_connections);
        goto fail;
    }
    if ((rc = open_socket(s)) < 0)
        goto fail;
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
        rc = vg_fail(ctx, VG_ENOMEM, "metrics: cannot start the thread");
        goto fail;
    }
    vg_log(ctx, VG_LOG_INFO, "metrics: serving http://127.0.0.1:%d/metrics",
           s->port);
    *out = s;
    return 0;

fail:
    free_server(s);
    return rc;
}

int vg_metrics_server_start(vg_context *ctx, vg_telemetry *t, int port,
                            vg_metrics_server **out)
{
    vg_metrics_server_opts o;

    vg_metrics_server_opts_default(&o);
    o.port = port;
    return vg_metrics_server_start_opts(ctx, t, &o, out);
}

int vg_metrics_server_port(const vg_metrics_server *s)
{
    return s ? s->port : 0;
}

uint64_t vg_metrics_server_requests(vg_metrics_server *s)
{
    return s ? (uint64_t)atomic_load(&s->requests) : 0;
}

void vg_metrics_server_stats_get(vg_metrics_server *s,
                                 vg_metrics_server_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!s)
        return;
    out->accepted = atomic_load(&s->accepted);
    out->requests = atomic_load(&s->requests);
    out->timed_out = atomic_load(&s->timed_out);
    out->evicted = atomic_load(&s->evicted);
    out->too_large = atomic_load(&s->too_large);
    out->open = atomic_load(&s->open);
}

void vg_metrics_server_stop(vg_metrics_server **sp)
{
    vg_metrics_server *s;
    char byte = 1;

    if (!sp || !*sp)
        return;
    s = *sp;
    while (write(s->wake[1], &byte, 1) < 0 && errno == EINTR)
        ;
    pthread_join(s->thread, NULL);
    free_server(s);
    *sp = NULL;
}
