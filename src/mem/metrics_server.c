/*
 * vg_metrics_server: Prometheus endpoint for a vg_telemetry. One thread
 * polls the listening socket and the read end of a self-pipe; stop writes to
 * the pipe, so shutdown does not wait for a client. Connections are served
 * one at a time with a request buffer and a response buffer taken at start.
 * The socket is bound to 127.0.0.1 only.
 */
#include "vigil/telemetry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESPONSE_CAP (256 * 1024)
#define HEADER_CAP 256
#define REQUEST_CAP 2048
#define REQUEST_TIMEOUT_MS 2000

struct vg_metrics_server {
    vg_context *ctx;
    vg_telemetry *t;
    int listen_fd;
    int wake[2]; /* self-pipe: [0] polled by the thread, [1] written by stop */
    int port;
    pthread_t thread;
    atomic_ullong requests;
    int warned_truncated;
    char request[REQUEST_CAP];
    char *response; /* RESPONSE_CAP bytes */
};

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until the end of the request head, a full buffer, the client
 * closing, a timeout or a stop request. Returns the bytes read, or -1. */
static ssize_t read_request(vg_metrics_server *s, int fd)
{
    size_t len = 0;

    while (len + 1 < sizeof(s->request)) {
        struct pollfd p[2] = {{fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        ssize_t r;
        int n = poll(p, 2, REQUEST_TIMEOUT_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || p[1].revents)
            return -1;
        r = recv(fd, s->request + len, sizeof(s->request) - 1 - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        s->request[len] = '\0';
        if (strstr(s->request, "\r\n\r\n") || strstr(s->request, "\n\n"))
            break;
    }
    s->request[len] = '\0';
    return (ssize_t)len;
}

static void respond(vg_metrics_server *s, int fd, const char *status,
                    const char *type, const char *body, size_t body_len)
{
    char head[HEADER_CAP];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n",
                     status, type, body_len);
    (void)s;
    if (n < 0 || (size_t)n >= sizeof(head))
        return;
    if (send_all(fd, head, (size_t)n) == 0 && body_len > 0)
        send_all(fd, body, body_len);
}

static void serve(vg_metrics_server *s, int fd)
{
    char method[16], path[256];
    size_t len = 0;

    if (read_request(s, fd) <= 0)
        return;
    atomic_fetch_add(&s->requests, 1);
    if (sscanf(s->request, "%15s %255s", method, path) != 2) {
        static const char msg[] = "bad request\n";
        respond(s, fd, "400 Bad Request", "text/plain", msg, sizeof(msg) - 1);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "method not allowed\n";
        respond(s, fd, "405 Method Not Allowed", "text/plain", msg,
                sizeof(msg) - 1);
        return;
    }
    path[strcspn(path, "?")] = '\0';
    if (strcmp(path, "/metrics") != 0) {
        static const char msg[] = "not found; try /metrics\n";
        respond(s, fd, "404 Not Found", "text/plain", msg, sizeof(msg) - 1);
        return;
    }
    if (vg_telemetry_format_prometheus(s->t, s->response, RESPONSE_CAP, &len) ==
            VG_ERANGE &&
        !s->warned_truncated) {
        s->warned_truncated = 1;
        vg_log(s->ctx, VG_LOG_WARN,
               "metrics: page exceeds %d bytes; later lines are left out",
               RESPONSE_CAP);
    }
    respond(s, fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
            s->response, strcmp(method, "HEAD") ? len : 0);
}

static void *server_main(void *arg)
{
    vg_metrics_server *s = arg;

    for (;;) {
        struct pollfd p[2] = {{s->listen_fd, POLLIN, 0},
                              {s->wake[0], POLLIN, 0}};
        int n = poll(p, 2, -1);
        int fd;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            vg_log(s->ctx, VG_LOG_ERROR, "metrics: poll failed: %s",
                   strerror(errno));
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue; /* the client went away, or EMFILE: try again */
        serve(s, fd);
        close(fd);
    }
    return NULL;
}

int vg_metrics_server_start(vg_context *ctx, vg_telemetry *t, int port,
                            vg_metrics_server **out)
{
    vg_metrics_server *s = NULL;
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    int one = 1, rc;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "metrics: no output handle");
    *out = NULL;
    if (!t || port < 0 || port > 65535)
        return vg_fail(ctx, VG_EINVAL, "metrics: port %d out of 0..65535",
                       port);
    s = vg_calloc(ctx, 1, sizeof(*s));
    if (!s)
        return vg_fail(ctx, VG_ENOMEM, "metrics: out of memory");
    s->ctx = ctx;
    s->t = t;
    s->listen_fd = -1;
    s->wake[0] = s->wake[1] = -1;
    atomic_init(&s->requests, 0);
    s->response = vg_malloc(ctx, RESPONSE_CAP);
    if (!s->response) {
        rc = vg_fail(ctx, VG_ENOMEM, "metrics: out of memory");
        goto fail;
    }
    if (pipe2(s->wake, O_CLOEXEC) != 0) {
        rc = vg_fail(ctx, VG_ENET, "metrics: cannot create a pipe: %s",
                     strerror(errno));
        goto fail;
    }
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0) {
        rc = vg_fail(ctx, VG_ENET, "metrics: cannot create a socket: %s",
                     strerror(errno));
        goto fail;
    }
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never INADDR_ANY */
    if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        rc = vg_fail(ctx, VG_ENET, "metrics: cannot bind 127.0.0.1:%d: %s",
                     port, strerror(errno));
        goto fail;
    }
    if (listen(s->listen_fd, 8) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen) != 0) {
        rc = vg_fail(ctx, VG_ENET, "metrics: cannot listen on 127.0.0.1:%d: %s",
                     port, strerror(errno));
        goto fail;
    }
    s->port = ntohs(addr.sin_port);
    if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
        rc = vg_fail(ctx, VG_ENOMEM, "metrics: cannot start the thread");
        goto fail;
    }
    vg_log(ctx, VG_LOG_INFO, "metrics: serving http://127.0.0.1:%d/metrics",
           s->port);
    *out = s;
    return 0;

fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    vg_free(ctx, s->response);
    vg_free(ctx, s);
    return rc;
}

int vg_metrics_server_port(const vg_metrics_server *s)
{
    return s ? s->port : 0;
}

uint64_t vg_metrics_server_requests(vg_metrics_server *s)
{
    return s ? (uint64_t)atomic_load(&s->requests) : 0;
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
    close(s->listen_fd);
    close(s->wake[0]);
    close(s->wake[1]);
    vg_free(s->ctx, s->response);
    vg_free(s->ctx, s);
    *sp = NULL;
}
