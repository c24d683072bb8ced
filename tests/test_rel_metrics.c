/*
 * The metrics server under hostile or careless clients: slow and silent
 * clients, connection floods, oversized and malformed requests, HEAD, and
 * stop with clients connected. Real sockets on 127.0.0.1, port 0. Deadlines
 * run on a fake clock the tests advance, so nothing sleeps; the tests
 * synchronise on responses (the server accepts in order, so a scrape
 * answered means every earlier connection was accepted) and on the server
 * closing a socket.
 *
 * test_measure_scrape_latency_under_attack only measures and prints the
 * figures (stderr, visible with ctest -V); it asserts that every scrape is
 * answered, never how fast.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/telemetry.h"

#define FLOOD 200

typedef struct fixture {
    vg_context *ctx;
    vg_telemetry *t;
    vg_pool *pool;
    vg_buf *buf;
    atomic_llong clock_ms; /* the fake clock the servers run on */
} fixture;

static double fake_now(void *user)
{
    fixture *f = user;
    return (double)atomic_load(&f->clock_ms) / 1000.0;
}

static int setup(void **state)
{
    static fixture f;
    vg_telemetry_opts o;

    memset(&f, 0, sizeof(f));
    atomic_init(&f.clock_ms, 100000);
    if (vg_context_create(&f.ctx) < 0)
        return -1;
    vg_context_set_log_level(f.ctx, VG_LOG_QUIET);
    vg_telemetry_opts_default(&o);
    o.gpu = 0;
    if (vg_telemetry_create(f.ctx, &o, &f.t) < 0 ||
        vg_pool_create(f.ctx, "frames", 512, 4, &f.pool) < 0 ||
        vg_telemetry_add_pool(f.t, f.pool, NULL) < 0 ||
        vg_pool_get(f.pool, 0, &f.buf) < 0)
        return -1;
    vg_telemetry_sample(f.t, 1.0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vg_alloc_stats st;

    vg_buf_unref(&f->buf);
    vg_pool_destroy(&f->pool);
    vg_telemetry_destroy(&f->t);
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    return 0;
}

static vg_metrics_server *start(fixture *f, int max_connections)
{
    vg_metrics_server_opts o;
    vg_metrics_server *m = NULL;

    vg_metrics_server_opts_default(&o);
    o.now = fake_now;
    o.now_user = f;
    if (max_connections > 0)
        o.max_connections = max_connections;
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, f->t, &o, &m), 0);
    return m;
}

static void advance(fixture *f, long long ms)
{
    atomic_fetch_add(&f->clock_ms, ms);
}

/* A connected socket; the receive timeout is a safety net against a hung
 * test, never a synchronisation. */
static int connect_local(int port)
{
    struct sockaddr_in a;
    struct timeval tv = {20, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Reads until the server closes; returns the length (-1 on a reset before
 * anything arrived). */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t r;

    while (len + 1 < cap && (r = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    return len;
}

static size_t http(int port, const char *request, char *buf, size_t cap)
{
    int fd = connect_local(port);
    ssize_t len;

    send_str(fd, request);
    len = read_all(fd, buf, cap);
    close(fd);
    assert_true(len > 0);
    return (size_t)len;
}

typedef struct response {
    int status;
    long content_length; /* -1: no header */
    const char *body;
    size_t body_len;
} response;

static response parse(const char *buf, size_t len)
{
    response r = {0, -1, NULL, 0};
    const char *cl, *end = strstr(buf, "\r\n\r\n");

    assert_true(sscanf(buf, "HTTP/1.%*d %d", &r.status) == 1);
    assert_non_null(end);
    cl = strstr(buf, "\r\nContent-Length: ");
    if (cl && cl < end)
        r.content_length = strtol(cl + 18, NULL, 10);
    r.body = end + 4;
    r.body_len = len - (size_t)(r.body - buf);
    return r;
}

/* A scrape that must succeed: 200, the exposition text, a body as long as
 * its Content-Length, and Connection: close. */
static void scrape_ok(int port)
{
    static char buf[65536];
    size_t len = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf,
                      sizeof(buf));
    response r = parse(buf, len);

    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, (long)r.body_len);
    assert_non_null(strstr(buf, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(r.body, "vigil_pool_in_use{pool=\"frames\"} 1\n"));
}

/* 1 when the server closed fd (EOF or reset), 0 when it is still open. */
static int closed_now(int fd)
{
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    return 1;
}

/* Waits (up to 20 s, a safety net) for the server to close fd or send on
 * it; 1 when it did. */
static int wait_closed(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 20000) == 1;
}

static void test_slow_client_does_not_block_scrapes(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int port = vg_metrics_server_port(m);
    int slow = connect_local(port);

    send_str(slow, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    for (int i = 0; i < 20; i++) {
        if (i % 5 == 0)
            send_str(slow, "a"); /* a byte now and then, never the end */
        scrape_ok(port);
    }
    assert_false(closed_now(slow));
    assert_int_equal(vg_metrics_server_requests(m), 20);
    close(slow);
    vg_metrics_server_stop(&m);
}

/* The head must be complete within timeout_s of the accept, however the
 * bytes trickle in: at 1.9 s the trickling client is still served a chance,
 * past 2 s it gets 408 and is closed. */
static void test_slow_client_is_closed_at_the_deadline(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int port = vg_metrics_server_port(m);
    int slow = connect_local(port), silent = connect_local(port);
    vg_metrics_server_stats st;
    char buf[512];

    send_str(slow, "GET /metrics HTTP/1.1\r\n");
    scrape_ok(port); /* both are accepted now, at the same fake time */
    for (int i = 0; i < 19; i++) {
        advance(f, 100);
        send_str(slow, "X: y\r\n"); /* activity does not extend the deadline */
    }
    scrape_ok(port); /* the server has seen 1.9 s */
    assert_false(closed_now(slow));
    assert_false(closed_now(silent));
    advance(f, 200);
    assert_true(read_all(slow, buf, sizeof(buf)) >= 0);
    assert_memory_equal(buf, "HTTP/1.0 408 ", 13);
    assert_true(read_all(silent, buf, sizeof(buf)) >= 0);
    assert_memory_equal(buf, "HTTP/1.0 408 ", 13);
    scrape_ok(port);
    vg_metrics_server_stats_get(m, &st);
    assert_int_equal(st.timed_out, 2);
    assert_int_equal(st.requests, 3);
    close(slow);
    close(silent);
    vg_metrics_server_stop(&m);
}

/* A request sent a byte at a time within the deadline is answered. */
static void test_request_trickled_within_the_deadline_is_served(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int fd = connect_local(vg_metrics_server_port(m));
    const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
    static char buf[65536];
    ssize_t len;

    for (const char *p = req; *p; p++) {
        assert_int_equal(send(fd, p, 1, MSG_NOSIGNAL), 1);
        advance(f, 50);
    }
    len = read_all(fd, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(parse(buf, (size_t)len).status, 200);
    close(fd);
    vg_metrics_server_stop(&m);
}

/* 200 connections opened and left silent: the table holds at most 64, the
 * oldest are dropped to make room, and a scrape after them is answered. */
static void test_flood_is_bounded_and_a_scrape_is_served(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int port = vg_metrics_server_port(m);
    int *flood = calloc(FLOOD, sizeof(int));
    vg_metrics_server_stats st;
    char c;

    assert_non_null(flood);
    for (int i = 0; i < FLOOD; i++)
        flood[i] = connect_local(port);
    scrape_ok(port);
    vg_metrics_server_stats_get(m, &st);
    /* accepted is FLOOD + 1 unless the kernel's accept queue overflowed
     * under load and a few handshakes complete later */
    assert_true(st.accepted > 64 + 1);
    assert_true(st.open <= 64);
    assert_true(st.evicted + 64 + 1 >= st.accepted);
    assert_int_equal(st.requests, 1);
    /* the oldest flood connection was dropped, without an answer */
    assert_true(wait_closed(flood[0]));
    assert_true(recv(flood[0], &c, 1, 0) <= 0);
    for (int i = 0; i < FLOOD; i++)
        close(flood[i]);
    free(flood);
    vg_metrics_server_stop(&m);
}

static void test_table_holds_max_connections(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 4);
    int port = vg_metrics_server_port(m);
    int fds[10];
    vg_metrics_server_stats st;

    for (int i = 0; i < 10; i++)
        fds[i] = connect_local(port);
    scrape_ok(port);
    vg_metrics_server_stats_get(m, &st);
    assert_int_equal(st.accepted, 11);
    assert_true(st.open <= 4);
    assert_int_equal(st.evicted, 7);
    /* the newest silent ones are kept, the oldest dropped */
    for (int i = 0; i < 7; i++) {
        assert_true(wait_closed(fds[i]));
        assert_true(recv(fds[i], &(char){0}, 1, 0) <= 0);
    }
    for (int i = 7; i < 10; i++)
        assert_false(closed_now(fds[i]));
    for (int i = 0; i < 10; i++)
        close(fds[i]);
    vg_metrics_server_stop(&m);
}

static void test_head_gives_the_get_length_without_a_body(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int port = vg_metrics_server_port(m);
    static char get[65536], head[65536];
    response g, h;

    g = parse(get,
              http(port, "GET /metrics HTTP/1.1\r\n\r\n", get, sizeof(get)));
    h = parse(head,
              http(port, "HEAD /metrics HTTP/1.1\r\n\r\n", head, sizeof(head)));
    assert_int_equal(g.status, 200);
    assert_int_equal(h.status, 200);
    assert_true(g.body_len > 100);
    assert_int_equal(g.content_length, (long)g.body_len);
    assert_int_equal(h.content_length, (long)g.body_len);
    assert_int_equal(h.body_len, 0);
    assert_non_null(strstr(head, "Content-Type: text/plain; version=0.0.4"));
    h = parse(head,
              http(port, "HEAD /nope HTTP/1.1\r\n\r\n", head, sizeof(head)));
    assert_int_equal(h.status, 404);
    assert_true(h.content_length > 0);
    assert_int_equal(h.body_len, 0);
    vg_metrics_server_stop(&m);
}

/* A head over 8 KiB gets 431 even while the client is still sending; one
 * just under the cap is served. */
static void test_oversized_head_is_refused(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int port = vg_metrics_server_port(m);
    static char req[12000], buf[65536];
    vg_metrics_server_stats st;
    size_t n;

    n = (size_t)snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nX: ");
    memset(req + n, 'a', 10000);
    strcpy(req + n + 10000, "\r\n\r\n");
    assert_int_equal(parse(buf, http(port, req, buf, sizeof(buf))).status, 431);
    memset(req + n, 'a', 8000);
    strcpy(req + n + 8000, "\r\n\r\n");
    assert_true(strlen(req) < 8192);
    assert_int_equal(parse(buf, http(port, req, buf, sizeof(buf))).status, 200);
    vg_metrics_server_stats_get(m, &st);
    assert_int_equal(st.too_large, 1);
    vg_metrics_server_stop(&m);
}

static void test_bad_requests_get_their_status(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int port = vg_metrics_server_port(m);
    static char buf[65536];
    static const struct {
        const char *request;
        int status;
    } cases[] = {
        {"GET /nope HTTP/1.0\r\n\r\n", 404},
        {"GET / HTTP/1.1\r\n\r\n", 404},
        {"GET /metrics/x HTTP/1.1\r\n\r\n", 404},
        {"GET /metrics?name=x HTTP/1.1\r\n\r\n", 200},
        {"\r\nGET /metrics HTTP/1.1\r\n\r\n", 200},
        {"GET /metrics HTTP/1.0\n\n", 200},
        {"POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", 405},
        {"DELETE /metrics HTTP/1.1\r\n\r\n", 405},
        {"BREW /metrics HTTP/1.1\r\n\r\n", 405},
        {"hello\r\n\r\n", 400},
        {"GET /metrics\r\n\r\n", 400},
        {"GET /metrics HTTP/2.0\r\n\r\n", 400},
        {"GET  /metrics HTTP/1.1\r\n\r\n", 400},
        {"G(T /metrics HTTP/1.1\r\n\r\n", 400},
        {"\r\n\r\n", 400},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = http(port, cases[i].request, buf, sizeof(buf));
        response r = parse(buf, len);
        if (r.status != cases[i].status)
            fail_msg("request %zu: status %d, want %d", i, r.status,
                     cases[i].status);
        assert_int_equal(r.content_length, (long)r.body_len);
        if (r.status == 405)
            assert_non_null(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));
    }
    assert_int_equal(vg_metrics_server_requests(m),
                     sizeof(cases) / sizeof(cases[0]));
    vg_metrics_server_stop(&m);
}

/* Silent, half-sent and not-yet-closed connections: stop closes them all
 * without an answer and returns. */
static void test_stop_returns_with_clients_connected(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int port = vg_metrics_server_port(m);
    int fds[12];
    static char buf[65536];
    struct timespec t0, t1;

    for (int i = 0; i < 10; i++) {
        fds[i] = connect_local(port);
        if (i % 2)
            send_str(fds[i], "GET /metrics HTTP/1.1\r\nHo");
    }
    /* an answered one the client keeps open (server half-closed) */
    fds[10] = connect_local(port);
    send_str(fds[10], "GET /metrics HTTP/1.1\r\n\r\n");
    assert_true(read_all(fds[10], buf, sizeof(buf)) > 0);
    fds[11] = connect_local(port);
    send_str(fds[11], "GET /metrics HTTP/1.1\r\n\r\n");
    assert_true(read_all(fds[11], buf, sizeof(buf)) > 0); /* all accepted */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vg_metrics_server_stop(&m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_null(m);
    fprintf(stderr, "metrics: stop with 12 clients took %.2f ms\n",
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    for (int i = 0; i < 10; i++) {
        assert_true(read_all(fds[i], buf, sizeof(buf)) <= 0);
        close(fds[i]);
    }
    close(fds[10]);
    close(fds[11]);
}

static void no_table(void *user, size_t *size, size_t *capacity)
{
    (void)user;
    *size = 0;
    *capacity = 0;
}

static void generation_table(void *user, size_t *size, size_t *capacity)
{
    *size = (size_t) * (int *)user;
    *capacity = 100;
}

/* A telemetry whose page fills VG_METRICS_PAGE_CAP (cut, with a warning);
 * its first table "generation" shows *generation. */
static vg_telemetry *big_telemetry(fixture *f, int *generation)
{
    vg_telemetry_opts o;
    vg_telemetry *t;
    char name[64];

    vg_telemetry_opts_default(&o);
    o.gpu = 0;
    o.max_tables = 2000;
    assert_int_equal(vg_telemetry_create(f->ctx, &o, &t), 0);
    assert_int_equal(vg_telemetry_add_table(t, "generation", generation_table,
                                            generation, NULL),
                     0);
    for (int i = 1; i < o.max_tables; i++) {
        snprintf(name, sizeof(name), "table_%04d_with_a_long_name_to_fill", i);
        assert_int_equal(vg_telemetry_add_table(t, name, no_table, NULL, NULL),
                         0);
    }
    vg_telemetry_sample(t, 1.0);
    return t;
}

/* A client with a tiny window and segments that has sent a GET and never
 * reads: a page of VG_METRICS_PAGE_CAP cannot all go out to it. */
static int slow_reader(int port)
{
    struct sockaddr_in a;
    int small = 4096, mss = 536;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    send_str(fd, "GET /metrics HTTP/1.1\r\n\r\n");
    return fd;
}

/* The generation a big page shows. */
static int scrape_generation(int port)
{
    static char buf[2 * VG_METRICS_PAGE_CAP];
    size_t len = http(port, "GET /metrics HTTP/1.1\r\n\r\n", buf, sizeof(buf));
    response r = parse(buf, len);
    const char *g;

    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, (long)r.body_len);
    g = strstr(r.body, "\nvigil_table_size{table=\"generation\"} ");
    assert_non_null(g);
    return atoi(g + strlen("\nvigil_table_size{table=\"generation\"} "));
}

/* Two slow readers hold both page buffers: a scrape then gets the newest
 * page already rendered, and fresh pages again once they are dropped. */
static void test_scrape_while_both_pages_are_held_gets_the_newest(void **state)
{
    fixture *f = *state;
    int generation = 1;
    vg_telemetry *t = big_telemetry(f, &generation);
    vg_metrics_server_opts o;
    vg_metrics_server *m;
    vg_metrics_server_stats st;
    int port, r1, r2;

    vg_metrics_server_opts_default(&o);
    o.now = fake_now;
    o.now_user = f;
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, t, &o, &m), 0);
    port = vg_metrics_server_port(m);
    r1 = slow_reader(port); /* holds a page of generation 1 */
    assert_int_equal(scrape_generation(port), 1);
    generation = 2;
    vg_telemetry_sample(t, 2.0);
    r2 = slow_reader(port); /* holds a page of generation 2 */
    assert_int_equal(scrape_generation(port), 2);
    generation = 3;
    vg_telemetry_sample(t, 3.0);
    assert_int_equal(scrape_generation(port), 2); /* both pages held */
    advance(f, 2100);
    assert_int_equal(scrape_generation(port), 3); /* readers dropped */
    vg_metrics_server_stats_get(m, &st);
    assert_int_equal(st.timed_out, 2);
    close(r1);
    close(r2);
    vg_metrics_server_stop(&m);
    vg_telemetry_destroy(&t);
}

/* A client with a tiny window that never reads: the response cannot all go
 * out, and the connection is closed timeout_s after the request. Scrapes
 * go on meanwhile. */
static void test_slow_reader_is_closed_at_the_deadline(void **state)
{
    fixture *f = *state;
    int generation = 1;
    vg_telemetry *t = big_telemetry(f, &generation);
    vg_metrics_server_opts o;
    vg_metrics_server *m;
    vg_metrics_server_stats st;
    static char buf[2 * VG_METRICS_PAGE_CAP];
    int port, reader;
    response r;
    size_t len;

    vg_metrics_server_opts_default(&o);
    o.now = fake_now;
    o.now_user = f;
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, t, &o, &m), 0);
    port = vg_metrics_server_port(m);
    reader = slow_reader(port);

    len = http(port, "GET /metrics HTTP/1.1\r\n\r\n", buf, sizeof(buf));
    r = parse(buf, len);
    assert_int_equal(r.status, 200);
    assert_true(r.body_len > VG_METRICS_PAGE_CAP / 2);
    assert_int_equal(r.content_length, (long)r.body_len);
    vg_metrics_server_stats_get(m, &st);
    assert_int_equal(st.timed_out, 0);
    advance(f, 2100);
    http(port, "GET /metrics HTTP/1.1\r\n\r\n", buf, sizeof(buf));
    vg_metrics_server_stats_get(m, &st);
    assert_int_equal(st.timed_out, 1);
    /* what the reader gets is cut short of its Content-Length */
    len = (size_t)read_all(reader, buf, sizeof(buf));
    assert_true(len < (size_t)r.content_length);
    close(reader);
    vg_metrics_server_stop(&m);
    vg_telemetry_destroy(&t);
}

/* A client that read its response but never closes is closed timeout_s
 * after the response; seen through a one-slot table, where a scrape after
 * the deadline finds the slot free instead of evicting it. */
static void
test_client_that_never_closes_is_closed_at_the_deadline(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 1);
    int port = vg_metrics_server_port(m);
    static char buf[65536];
    vg_metrics_server_stats st;
    int lingering;

    lingering = connect_local(port);
    send_str(lingering, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_true(read_all(lingering, buf, sizeof(buf)) > 0); /* EOF seen */
    scrape_ok(port); /* before the deadline: it has to be evicted */
    vg_metrics_server_stats_get(m, &st);
    assert_int_equal(st.evicted, 1);
    close(lingering);

    lingering = connect_local(port);
    send_str(lingering, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_true(read_all(lingering, buf, sizeof(buf)) > 0);
    advance(f, 2100);
    scrape_ok(port); /* after it: the slot is free */
    vg_metrics_server_stats_get(m, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.timed_out, 0); /* answered, so not a timeout */
    close(lingering);
    vg_metrics_server_stop(&m);
}

/* Scrapes, errors, timeouts and a flood allocate nothing after start. */
static void test_serving_allocates_nothing(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = start(f, 8);
    int port = vg_metrics_server_port(m);
    static char buf[65536];
    vg_alloc_stats before, after;
    int fds[20];

    vg_context_alloc_stats(f->ctx, &before);
    for (int i = 0; i < 20; i++) {
        fds[i] = connect_local(port);
        send_str(fds[i], "GET /metr");
    }
    for (int i = 0; i < 10; i++) {
        scrape_ok(port);
        http(port, "HEAD /metrics HTTP/1.1\r\n\r\n", buf, sizeof(buf));
        http(port, "PUT /x HTTP/1.1\r\n\r\n", buf, sizeof(buf));
    }
    advance(f, 2100);
    scrape_ok(port);
    vg_context_alloc_stats(f->ctx, &after);
    assert_int_equal(after.allocs, before.allocs);
    for (int i = 0; i < 20; i++)
        close(fds[i]);
    vg_metrics_server_stop(&m);
}

static void test_bad_options_are_refused(void **state)
{
    fixture *f = *state;
    vg_metrics_server_opts o;
    vg_metrics_server *m = (vg_metrics_server *)f;

    vg_metrics_server_opts_default(&o);
    o.max_connections = 0;
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, f->t, &o, &m),
                     VG_EINVAL);
    assert_null(m);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "max_connections"));
    vg_metrics_server_opts_default(&o);
    o.max_header_bytes = 10;
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, f->t, &o, &m),
                     VG_EINVAL);
    vg_metrics_server_opts_default(&o);
    o.timeout_s = 0.0 / 0.0;
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, f->t, &o, &m),
                     VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "timeout_s"));
    o.timeout_s = -1;
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, f->t, &o, &m),
                     VG_EINVAL);
    vg_metrics_server_opts_default(&o);
    o.port = -1;
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, f->t, &o, &m),
                     VG_EINVAL);
    assert_int_equal(vg_metrics_server_start_opts(f->ctx, NULL, NULL, &m),
                     VG_EINVAL);
}

/* ---- measurement (figures printed, not asserted) -------------------------
 */

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
    fprintf(stderr,
            "metrics: scrape latency %-26s n=%d median %.3f ms max %.3f ms\n",
            what, n, ms[n / 2], ms[n - 1]);
}

/* Reopens the flood connections the server dropped, so the flood stays at
 * FLOOD open connections before each scrape. */
static void refill(int *flood, int port)
{
    for (int i = 0; i < FLOOD; i++) {
        if (flood[i] >= 0 && !closed_now(flood[i]))
            continue;
        if (flood[i] >= 0)
            close(flood[i]);
        flood[i] = connect_local(port);
    }
}

static void test_measure_scrape_latency_under_attack(void **state)
{
    enum { N = 50 };
    fixture *f = *state;
    vg_metrics_server *m = start(f, 0);
    int port = vg_metrics_server_port(m);
    int *flood = malloc(FLOOD * sizeof(int));
    double ms[N];
    struct timespec t0;
    int slow;

    assert_non_null(flood);
    for (int i = 0; i < N; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        scrape_ok(port);
        ms[i] = ms_since(&t0);
    }
    report("(no attack)", ms, N);

    slow = connect_local(port);
    send_str(slow, "GET /metrics HTTP/1.1\r\nX-Slow: ");
    for (int i = 0; i < N; i++) {
        send_str(slow, "a");
        clock_gettime(CLOCK_MONOTONIC, &t0);
        scrape_ok(port);
        ms[i] = ms_since(&t0);
    }
    report("(1 slow client)", ms, N);
    close(slow);

    for (int i = 0; i < FLOOD; i++)
        flood[i] = -1;
    for (int i = 0; i < N; i++) {
        refill(flood, port);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        scrape_ok(port);
        ms[i] = ms_since(&t0);
    }
    report("(200-connection flood)", ms, N);
    for (int i = 0; i < FLOOD; i++)
        close(flood[i]);
    free(flood);
    vg_metrics_server_stop(&m);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_slow_client_does_not_block_scrapes),
        T(test_slow_client_is_closed_at_the_deadline),
        T(test_request_trickled_within_the_deadline_is_served),
        T(test_flood_is_bounded_and_a_scrape_is_served),
        T(test_table_holds_max_connections),
        T(test_head_gives_the_get_length_without_a_body),
        T(test_oversized_head_is_refused),
        T(test_bad_requests_get_their_status),
        T(test_stop_returns_with_clients_connected),
        T(test_slow_reader_is_closed_at_the_deadline),
        T(test_scrape_while_both_pages_are_held_gets_the_newest),
        T(test_client_that_never_closes_is_closed_at_the_deadline),
        T(test_serving_allocates_nothing),
        T(test_bad_options_are_refused),
        T(test_measure_scrape_latency_under_attack),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
