#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/telemetry.h"

typedef struct fixture {
    vg_context *ctx;
    vg_telemetry *t;
    vg_pool *pool;
    vg_buf *bufs[2];
} fixture;

static int setup(void **state)
{
    static fixture f;
    vg_telemetry_opts o;

    memset(&f, 0, sizeof(f));
    if (vg_context_create(&f.ctx) < 0)
        return -1;
    vg_context_set_log_level(f.ctx, VG_LOG_QUIET);
    vg_telemetry_opts_default(&o);
    o.gpu = 0;
    if (vg_telemetry_create(f.ctx, &o, &f.t) < 0 ||
        vg_pool_create(f.ctx, "frames", 512, 4, &f.pool) < 0 ||
        vg_telemetry_add_pool(f.t, f.pool, NULL) < 0 ||
        vg_pool_get(f.pool, 0, &f.bufs[0]) < 0 ||
        vg_pool_get(f.pool, 0, &f.bufs[1]) < 0)
        return -1;
    vg_telemetry_sample(f.t, 1.0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vg_alloc_stats st;

    vg_buf_unref(&f->bufs[0]);
    vg_buf_unref(&f->bufs[1]);
    vg_pool_destroy(&f->pool);
    vg_telemetry_destroy(&f->t);
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    return 0;
}

static int connect_local(int port)
{
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
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

/* Sends request and reads the whole response (the server closes). */
static size_t http(int port, const char *request, char *buf, size_t cap)
{
    int fd = connect_local(port);
    size_t len = 0;
    ssize_t r;

    assert_int_equal(send(fd, request, strlen(request), 0),
                     (ssize_t)strlen(request));
    while (len + 1 < cap && (r = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fd);
    return len;
}

static void test_get_metrics_returns_exposition_text(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m;
    static char buf[65536];
    const char *body;

    assert_int_equal(vg_metrics_server_start(f->ctx, f->t, 0, &m), 0);
    assert_true(vg_metrics_server_port(m) > 0);
    http(vg_metrics_server_port(m), "GET /metrics HTTP/1.0\r\n\r\n", buf,
         sizeof(buf));
    assert_memory_equal(buf, "HTTP/1.0 200 OK\r\n", 17);
    assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
    body = strstr(buf, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_non_null(strstr(body, "# HELP vigil_rss_bytes "));
    assert_non_null(strstr(body, "\nvigil_rss_bytes "));
    assert_non_null(strstr(body, "\nvigil_pool_in_use{pool=\"frames\"} 2\n"));
    assert_non_null(
        strstr(body, "\nvigil_pool_high_water{pool=\"frames\"} 2\n"));
    assert_non_null(strstr(body, "\nvigil_pool_bytes{pool=\"frames\"} 2048\n"));
    assert_int_equal(vg_metrics_server_requests(m), 1);
    vg_metrics_server_stop(&m);
    assert_null(m);
}

static void test_metrics_follow_the_latest_sample(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m;
    static char buf[65536];

    assert_int_equal(vg_metrics_server_start(f->ctx, f->t, 0, &m), 0);
    vg_buf_unref(&f->bufs[1]);
    vg_telemetry_sample(f->t, 2.0);
    http(vg_metrics_server_port(m), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
         buf, sizeof(buf));
    assert_non_null(strstr(buf, "\nvigil_pool_in_use{pool=\"frames\"} 1\n"));
    vg_metrics_server_stop(&m);
}

/* A camera whose state the test sets; read by the telemetry at each sample. */
static void fill_camera(void *user, vg_telemetry_stream *out)
{
    snprintf(out->state, sizeof(out->state), "%s", (const char *)user);
    out->reconnects = 1;
    snprintf(out->last_error, sizeof(out->last_error), "%s",
             "refused \"x\"\nagain");
}

static void test_stream_state_is_served_after_the_next_sample(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m;
    static char buf[65536];
    char cam_state[16] = "live";
    int id;

    assert_int_equal(
        vg_telemetry_add_stream(f->t, "cam1", fill_camera, cam_state, &id), 0);
    vg_telemetry_sample(f->t, 2.0);
    assert_int_equal(vg_metrics_server_start(f->ctx, f->t, 0, &m), 0);
    http(vg_metrics_server_port(m), "GET /metrics HTTP/1.0\r\n\r\n", buf,
         sizeof(buf));
    assert_non_null(strstr(
        buf, "\nvigil_stream_state{stream=\"cam1\",state=\"live\"} 1\n"));
    assert_non_null(
        strstr(buf, "\nvigil_stream_reconnects_total{stream=\"cam1\"} 1\n"));
    assert_non_null(strstr(buf,
                           "\nvigil_stream_last_error_info{stream=\"cam1\","
                           "error=\"refused \\\"x\\\"\\nagain\"} 1\n"));
    /* the server serves the published sample: a new state shows once sampled */
    snprintf(cam_state, sizeof(cam_state), "backoff");
    vg_telemetry_sample(f->t, 3.0);
    http(vg_metrics_server_port(m), "GET /metrics HTTP/1.0\r\n\r\n", buf,
         sizeof(buf));
    assert_non_null(strstr(
        buf, "\nvigil_stream_state{stream=\"cam1\",state=\"backoff\"} 1\n"));
    vg_telemetry_remove(f->t, id);
    vg_telemetry_sample(f->t, 4.0);
    http(vg_metrics_server_port(m), "GET /metrics HTTP/1.0\r\n\r\n", buf,
         sizeof(buf));
    assert_null(strstr(buf, "vigil_stream_"));
    vg_metrics_server_stop(&m);
}

static void test_other_path_is_not_found(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m;
    char buf[4096];

    assert_int_equal(vg_metrics_server_start(f->ctx, f->t, 0, &m), 0);
    http(vg_metrics_server_port(m), "GET /nope HTTP/1.0\r\n\r\n", buf,
         sizeof(buf));
    assert_memory_equal(buf, "HTTP/1.0 404 ", 13);
    assert_null(strstr(buf, "vigil_rss_bytes"));
    http(vg_metrics_server_port(m), "POST /metrics HTTP/1.0\r\n\r\n", buf,
         sizeof(buf));
    assert_memory_equal(buf, "HTTP/1.0 405 ", 13);
    vg_metrics_server_stop(&m);
}

/* The listening socket appears in /proc/self/net/tcp with local address
 * 127.0.0.1 (0100007F) and state LISTEN (0A), and nowhere else. */
static void test_listens_on_loopback_only(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m;
    char line[512], want[32];
    int found = 0, other = 0, fd;
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    FILE *fp;

    assert_int_equal(vg_metrics_server_start(f->ctx, f->t, 0, &m), 0);
    snprintf(want, sizeof(want), ":%04X", vg_metrics_server_port(m));
    fp = fopen("/proc/self/net/tcp", "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        char local[64], remote[64], st[8];
        if (sscanf(line, " %*s %63s %63s %7s", local, remote, st) != 3)
            continue;
        if (strcmp(st, "0A") != 0 || !strstr(local, want))
            continue;
        if (!strncmp(local, "0100007F:", 9))
            found++;
        else
            other++;
    }
    fclose(fp);
    assert_int_equal(found, 1);
    assert_int_equal(other, 0);

    fd = connect_local(vg_metrics_server_port(m));
    assert_int_equal(getpeername(fd, (struct sockaddr *)&peer, &plen), 0);
    assert_int_equal(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
    close(fd);
    vg_metrics_server_stop(&m);
}

static void test_stop_returns_with_an_idle_client_connected(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m;
    char c;
    int fd;
    static char buf[65536];

    assert_int_equal(vg_metrics_server_start(f->ctx, f->t, 0, &m), 0);
    fd = connect_local(vg_metrics_server_port(m));
    /* a scrape after it is answered: the server accepted fd (in order) */
    http(vg_metrics_server_port(m), "GET /metrics HTTP/1.0\r\n\r\n", buf,
         sizeof(buf));
    vg_metrics_server_stop(&m);
    assert_null(m);
    /* the server closed the connection without an answer */
    assert_int_equal(recv(fd, &c, 1, 0), 0);
    close(fd);
}

static void test_busy_port_fails_with_enet(void **state)
{
    fixture *f = *state;
    vg_metrics_server *a, *b = (vg_metrics_server *)f;

    assert_int_equal(vg_metrics_server_start(f->ctx, f->t, 0, &a), 0);
    assert_int_equal(
        vg_metrics_server_start(f->ctx, f->t, vg_metrics_server_port(a), &b),
        VG_ENET);
    assert_null(b);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "127.0.0.1"));
    vg_metrics_server_stop(&a);
}

static void test_start_rejects_bad_port(void **state)
{
    fixture *f = *state;
    vg_metrics_server *m = (vg_metrics_server *)f;

    assert_int_equal(vg_metrics_server_start(f->ctx, f->t, 70000, &m),
                     VG_EINVAL);
    assert_null(m);
    vg_metrics_server_stop(&m);
}

static void test_start_fails_cleanly_at_every_allocation(void **state)
{
    fixture *f = *state;
    int failures = 0;

    for (uint64_t n = 1; n < 50; n++) {
        vg_metrics_server *m = (vg_metrics_server *)f;
        int rc;
        vg_context_fail_alloc(f->ctx, n, 0);
        rc = vg_metrics_server_start(f->ctx, f->t, 0, &m);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc == 0) {
            vg_metrics_server_stop(&m);
            break;
        }
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(m);
        failures++;
    }
    assert_true(failures >= 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_get_metrics_returns_exposition_text),
        T(test_metrics_follow_the_latest_sample),

        T(test_stream_state_is_served_after_the_next_sample),
        T(test_other_path_is_not_found),
        T(test_listens_on_loopback_only),
        T(test_stop_returns_with_an_idle_client_connected),
        T(test_busy_port_fails_with_enet),
        T(test_start_rejects_bad_port),
        T(test_start_fails_cleanly_at_every_allocation),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
