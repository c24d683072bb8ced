/*
 * vg_http and vg_serve (vigil serve's HTTP API, docs/serve.md) over a real
 * job with one looping camera, driven by a plain socket client: routes and
 * methods (404, 405), the token (401 without, 200 with, ?token= only for
 * the pictures), the caps (413 body, 431 header), cameras added and
 * removed, zones and rules read, replaced, saved into the config file and
 * refused with the field named (nothing changed), events queried with
 * filters and paging from the read-only store, snapshots by event id only
 * (a path in the store that leads out of OUT is not served), server-sent
 * events, the latest picture and the MJPEG stream, and config reloads
 * (cameras diffed by name, a broken file refused), idle and slow clients
 * timed out, the connection cap.
 *
 * Synchronisation: polling for a condition with a generous bound, never a
 * sleep standing for one.
 */
/* ctest-timeout: 300 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "support/io_fixtures.h"
#include "vigil/clock.h"
#include "vigil/err.h"
#include "vigil/jobrun.h"
#include "vigil/residency.h"
#include "vigil/serve.h"

#define TOKEN "s3cret-token"
#define BODY_CAP 4096

typedef struct fx {
    vg_context *ctx;
    vg_residency *res;
    vg_job *job;
    vg_serve *serve;
    vg_http *http;
    char *dir;
    char config[512];
    char out[512];
    char clip[512];
    int port;
    char *resp; /* last answer, whole */
    size_t resp_len;
    int status;
    const char *body; /* into resp */
} fx;

static fx *g; /* the group's fixture */

static const char *config_text =
    "detector:\n"
    "  classes: [person]\n"
    "cameras:\n"
    "  - name: cam1\n"
    "    input: %s\n"
    "    loop: true\n"
    "    detect: {fps: 2}\n"
    "    zones:\n"
    "      - name: plaza\n"
    "        polygon: [[10, 10], [300, 10], [300, 200]]\n"
    "    rules:\n"
    "      - {name: plaza_intrusion, kind: intrusion, zone: plaza}\n";

static int group_setup(void **state)
{
    const char *cache = getenv("VIGIL_CACHE");
    char vtest[512], model[512], args[1400], text[2048], cal[600];
    vg_residency_opts ro;
    vg_model_decl d;
    vg_job_opts jo;
    vg_http_opts ho;
    FILE *fp;
    fx *f = calloc(1, sizeof(*f));

    *state = f;
    g = f;
    if (!f || !cache || !io_cache_video(vtest, sizeof(vtest), "vtest.avi"))
        return 0;
    snprintf(model, sizeof(model), "%s/models/nanodet.onnx", cache);
    if (access(model, R_OK) != 0)
        return 0;
    f->dir = io_tmpdir_create();
    assert_non_null(f->dir);
    io_path(f->clip, sizeof(f->clip), f->dir, "clip.mp4");
    snprintf(args, sizeof(args),
             "-i '%s' -t 2 -vf scale=320:240 -an -pix_fmt yuv420p -c:v libx264 "
             "-preset ultrafast '%s'",
             vtest, f->clip);
    if (io_ffmpeg(args) != 0) {
        io_tmpdir_remove(f->dir);
        f->dir = NULL;
        return 0;
    }
    io_path(f->config, sizeof(f->config), f->dir, "site.yaml");
    io_path(f->out, sizeof(f->out), f->dir, "out");
    fp = fopen(f->config, "w");
    assert_non_null(fp);
    snprintf(text, sizeof(text), config_text, f->clip);
    fputs(text, fp);
    fclose(fp);

    assert_int_equal(vg_context_create(&f->ctx), 0);
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    vg_residency_opts_default(&ro);
    snprintf(cal, sizeof(cal), "%s/calibration.tsv", f->dir);
    snprintf(ro.budget.calibration, sizeof(ro.budget.calibration), "%s", cal);
    assert_int_equal(vg_residency_create(f->ctx, &ro, &f->res), 0);
    vg_model_decl_default(&d);
    snprintf(d.name, sizeof(d.name), "detector");
    snprintf(d.path, sizeof(d.path), "%s", model);
    d.policy = VG_POLICY_PINNED;
    d.session.intra_threads = 1;
    d.session.spin = 0;
    assert_int_equal(vg_residency_add(f->res, &d), 0);

    vg_job_opts_default(&jo);
    jo.out_dir = f->out;
    jo.residency = f->res;
    jo.model_name = "detector";
    jo.model_path = model;
    jo.detector.classes_keep[0] = 0;
    jo.detector.n_classes_keep = 1;
    jo.run.write_video = 0;
    jo.run.write_snapshots = 0;
    assert_int_equal(vg_job_create(f->ctx, &jo, &f->job), 0);
    assert_int_equal(
        vg_serve_create(f->ctx, f->job, &jo.run, f->config, &f->serve), 0);
    assert_int_equal(vg_serve_reload(f->serve, NULL, 0), 0);
    assert_int_equal(vg_job_start(f->job), 0);

    memset(&ho, 0, sizeof(ho));
    ho.listen = "127.0.0.1:0";
    ho.token = TOKEN;
    ho.mjpeg_fps = 10;
    ho.mjpeg_width = 160;
    ho.max_connections = 16;
    ho.max_body_bytes = BODY_CAP;
    ho.idle_timeout_s = 10;
    ho.serve = f->serve;
    assert_int_equal(vg_http_start(f->ctx, &ho, &f->http), 0);
    f->port = vg_http_port(f->http);
    assert_true(f->port > 0);
    return 0;
}

static int group_teardown(void **state)
{
    fx *f = *state;
    if (f) {
        vg_http_stop(&f->http);
        if (f->job)
            vg_job_stop(f->job);
        vg_serve_destroy(&f->serve);
        vg_job_destroy(&f->job);
        vg_residency_destroy(&f->res);
        vg_context_destroy(&f->ctx);
        if (f->dir)
            io_tmpdir_remove(f->dir);
        free(f->resp);
        free(f);
    }
    return 0;
}

static int connect_server(int port)
{
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return s;
}

static void send_all(int s, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(s, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* the server may answer and close before the end */
        p += k;
        n -= (size_t)k;
    }
}

/* One request (Connection: close); the whole answer in f->resp, its status
 * in f->status and its body at f->body. extra: more header lines, each
 * ending in \r\n, or NULL. */
static int request(fx *f, const char *method, const char *path,
                   const char *extra, const char *body)
{
    char head[16384];
    size_t cap = 1 << 16;
    int s = connect_server(f->port);
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s",
                     method, path, extra ? extra : "");
    if (body)
        n += snprintf(head + n, sizeof(head) - (size_t)n,
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\n",
                      strlen(body));
    n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
    send_all(s, head, (size_t)n);
    if (body)
        send_all(s, body, strlen(body));
    free(f->resp);
    f->resp = malloc(cap);
    f->resp_len = 0;
    for (;;) {
        ssize_t k;
        if (f->resp_len + 1 >= cap) {
            cap *= 2;
            f->resp = realloc(f->resp, cap);
        }
        k = recv(s, f->resp + f->resp_len, cap - f->resp_len - 1, 0);
        if (k <= 0)
            break;
        f->resp_len += (size_t)k;
    }
    close(s);
    f->resp[f->resp_len] = '\0';
    f->status = 0;
    sscanf(f->resp, "HTTP/1.%*d %d", &f->status);
    f->body = strstr(f->resp, "\r\n\r\n");
    f->body = f->body ? f->body + 4 : "";
    return f->status;
}

static const char *auth = "Authorization: Bearer " TOKEN "\r\n";

static int api(fx *f, const char *method, const char *path, const char *body)
{
    return request(f, method, path, auth, body);
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    long n;
    char *p;
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, fp) != (size_t)n)
        n = 0;
    p[n] = '\0';
    fclose(fp);
    return p;
}

#define NEED_JOB(f)                                                            \
    do {                                                                       \
        if (!(f)->http)                                                        \
            skip();                                                            \
    } while (0)

/* 1 when the livehooks part of the job is in (frames, rules while running) */
static int have_live_hooks(fx *f)
{
    int n = vg_job_watch(f->job, "cam1", +1);
    if (n >= 0)
        vg_job_watch(f->job, "cam1", -1);
    return n >= 0;
}

static void test_unknown_routes_are_404_and_wrong_methods_405(void **state)
{
    fx *f = *state;
    NEED_JOB(f);
    assert_int_equal(api(f, "GET", "/api/nothing", NULL), 404);
    assert_non_null(strstr(f->body, "\"error\""));
    assert_int_equal(api(f, "GET", "/nothing.html", NULL), 404);
    assert_int_equal(api(f, "DELETE", "/api/cameras", NULL), 405);
    assert_non_null(strstr(f->resp, "Allow: GET, POST"));
    assert_int_equal(api(f, "POST", "/api/events", "{}"), 405);
    assert_int_equal(api(f, "GET", "/api/cameras/cam1", NULL), 405);
    /* the page is served without a token */
    assert_int_equal(request(f, "GET", "/", NULL, NULL), 200);
    assert_non_null(strstr(f->resp, "Content-Type: text/html"));
}

static void test_paths_never_reach_the_file_system(void **state)
{
    fx *f = *state;
    static const char *const paths[] = {
        "/../../etc/passwd",
        "/api/cameras/..%2F..%2Fetc/rules",
        "/api/cameras/../../etc/passwd/rules",
        "/api/events/1/../../../etc/passwd",
        "/api/events/..%2F1/snapshot",
        "/api/events/-1/snapshot",
        "/index.html/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
    };
    NEED_JOB(f);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        api(f, "GET", paths[i], NULL);
        if (f->status != 404)
            fail_msg("%s answered %d", paths[i], f->status);
        assert_null(strstr(f->body, "root:"));
    }
}

static void test_token_required_for_the_api(void **state)
{
    fx *f = *state;
    NEED_JOB(f);
    assert_int_equal(request(f, "GET", "/api/cameras", NULL, NULL), 401);
    assert_int_equal(request(f, "GET", "/metrics", NULL, NULL), 401);
    assert_int_equal(request(f, "GET", "/api/cameras",
                             "Authorization: Bearer wrong\r\n", NULL),
                     401);
    /* ?token= is for the pictures only */
    assert_int_equal(request(f, "GET", "/api/cameras?token=" TOKEN, NULL, NULL),
                     401);
    assert_int_equal(api(f, "GET", "/api/cameras", NULL), 200);
    assert_int_equal(api(f, "GET", "/metrics", NULL), 200);
    assert_int_equal(request(f, "GET",
                             "/api/cameras/nope/frame.jpg?token=" TOKEN, NULL,
                             NULL),
                     404);
}

static void test_caps_413_and_431(void **state)
{
    fx *f = *state;
    char *big = malloc(BODY_CAP + 100), *hdr = malloc(12000);
    NEED_JOB(f);
    memset(big, ' ', BODY_CAP + 99);
    big[0] = '{';
    big[BODY_CAP + 98] = '}';
    big[BODY_CAP + 99] = '\0';
    assert_int_equal(api(f, "POST", "/api/cameras", big), 413);
    snprintf(hdr, 12000, "%sX-Big: ", auth);
    memset(hdr + strlen(hdr), 'a', 10000);
    strcpy(hdr + strlen(auth) + 8 + 10000 - 1, "\r\n");
    assert_int_equal(request(f, "GET", "/api/cameras", hdr, NULL), 431);
    /* the server is still there */
    assert_int_equal(api(f, "GET", "/api/cameras", NULL), 200);
    free(big);
    free(hdr);
}

static void test_cameras_listed_added_removed(void **state)
{
    fx *f = *state;
    char body[1024];
    NEED_JOB(f);
    assert_int_equal(api(f, "GET", "/api/cameras", NULL), 200);
    assert_non_null(strstr(f->body, "\"name\":\"cam1\""));
    assert_non_null(strstr(f->body, "\"live_state\":\"file\""));
    /* refused, with the field named */
    assert_int_equal(api(f, "POST", "/api/cameras", "{\"name\":"), 400);
    assert_int_equal(
        api(f, "POST", "/api/cameras",
            "{\"name\":\"x\",\"input\":\"a.mp4\",\"colour\":\"red\"}"),
        400);
    assert_non_null(strstr(f->body, "colour"));
    assert_int_equal(
        api(f, "POST", "/api/cameras", "{\"name\":7,\"input\":\"a.mp4\"}"),
        400);
    assert_non_null(strstr(f->body, "name"));
    assert_int_equal(api(f, "POST", "/api/cameras",
                         "{\"name\":\"x\",\"input\":\"a\",\"loop\":\"yes\"}"),
                     400);
    assert_non_null(strstr(f->body, "loop"));
    assert_int_equal(api(f, "POST", "/api/cameras",
                         "{\"name\":\"../x\",\"input\":\"a.mp4\"}"),
                     400);
    snprintf(body, sizeof(body), "{\"name\":\"cam1\",\"input\":\"%s\"}",
             f->clip);
    assert_int_equal(api(f, "POST", "/api/cameras", body), 409);
    /* added, listed, removed */
    snprintf(body, sizeof(body),
             "{\"name\":\"cam2\",\"input\":\"%s\",\"loop\":false}", f->clip);
    assert_int_equal(api(f, "POST", "/api/cameras", body), 201);
    assert_non_null(strstr(f->body, "\"cam2\""));
    assert_int_equal(api(f, "GET", "/api/cameras", NULL), 200);
    assert_non_null(strstr(f->body, "\"name\":\"cam2\""));
    assert_int_equal(api(f, "DELETE", "/api/cameras/cam2", NULL), 204);
    assert_int_equal(api(f, "DELETE", "/api/cameras/cam2", NULL), 404);
    assert_int_equal(api(f, "GET", "/api/cameras", NULL), 200);
    assert_null(strstr(f->body, "\"name\":\"cam2\""));
}

static void test_rules_replaced_saved_or_refused(void **state)
{
    fx *f = *state;
    char *before, *after, *big;
    size_t off;
    static const char *const bad[][2] = {
        {"{\"zones\": [", NULL},
        {"{\"zones\":[],\"rules\":[],\"colour\":1}", "colour"},
        {"{\"zones\":[{\"name\":\"a\",\"polygon\":\"square\"}],\"rules\":[]}",
         "zones[0].polygon"},
        {"{\"zones\":[{\"name\":\"a\",\"polygon\":[[0,0],[10,0]]}],"
         "\"rules\":[]}",
         "zones[0].polygon"},
        {"{\"zones\":[],\"rules\":[{\"name\":\"r\",\"kind\":\"intrusion\","
         "\"zone\":\"nowhere\"}]}",
         "rules[0]"},
    };
    NEED_JOB(f);
    assert_int_equal(api(f, "GET", "/api/cameras/cam1/rules", NULL), 200);
    assert_non_null(strstr(f->body, "\"plaza\""));
    assert_non_null(strstr(f->body, "\"plaza_intrusion\""));
    assert_int_equal(api(f, "GET", "/api/cameras/nope/rules", NULL), 404);
    before = read_file(f->config);
    assert_non_null(before);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        api(f, "PUT", "/api/cameras/cam1/rules", bad[i][0]);
        if (f->status != 400)
            fail_msg("%s answered %d: %s", bad[i][0], f->status, f->body);
        if (bad[i][1] && !strstr(f->body, bad[i][1]))
            fail_msg("%s: '%s' not named in %s", bad[i][0], bad[i][1], f->body);
    }
    /* a polygon of 3000 points */
    big = malloc(64 * 1024);
    off = (size_t)sprintf(big, "{\"zones\":[{\"name\":\"a\",\"polygon\":[");
    for (int i = 0; i < 3000; i++)
        off += (size_t)sprintf(big + off, "%s[%d,%d]", i ? "," : "", i % 300,
                               i / 300);
    sprintf(big + off, "]}],\"rules\":[]}");
    assert_true(strlen(big) < BODY_CAP * 16);
    api(f, "PUT", "/api/cameras/cam1/rules", big);
    assert_true(f->status == 400 || f->status == 413);
    free(big);
    after = read_file(f->config);
    assert_string_equal(before, after);
    free(after);
    if (!have_live_hooks(f)) {
        free(before);
        return; /* rules while running come with the job's live hooks */
    }
    assert_int_equal(
        api(f, "PUT", "/api/cameras/cam1/rules",
            "{\"zones\":[{\"name\":\"gate\",\"polygon\":[[20,20],[200,20],"
            "[200,150]]}],\"rules\":[{\"name\":\"gate_in\",\"kind\":"
            "\"intrusion\",\"zone\":\"gate\"}]}"),
        200);
    assert_non_null(strstr(f->body, "\"saved\":true"));
    after = read_file(f->config);
    assert_non_null(strstr(after, "gate_in"));
    assert_non_null(strstr(after, "loop: true")); /* the rest kept */
    free(after);
    assert_int_equal(api(f, "GET", "/api/cameras/cam1/rules", NULL), 200);
    assert_non_null(strstr(f->body, "\"gate_in\""));
    assert_null(strstr(f->body, "plaza_intrusion"));
    free(before);
}

/* Inserts an event row (as the job's store writes them). */
static int64_t add_event(fx *f, const char *camera, const char *rule,
                         const char *kind, int64_t wall_ms,
                         const char *snapshot)
{
    char path[600];
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t id;
    snprintf(path, sizeof(path), "%s/events.db", f->out);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    assert_int_equal(
        sqlite3_prepare_v2(
            db,
            "INSERT INTO events (time_s, wall_ms, frame, stream, rule, kind, "
            "zone, direction, track_id, class_id, class, score, x, y, w, h, "
            "count, snapshot) VALUES (1.5, ?, 3, ?, ?, ?, 'plaza', '', 7, 0, "
            "'person', 0.9, 10, 20, 30, 40, 1, ?)",
            -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(st, 1, wall_ms);
    sqlite3_bind_text(st, 2, camera, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, snapshot, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    id = sqlite3_last_insert_rowid(db);
    sqlite3_close(db);
    return id;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_events_filtered_paged_newest_first(void **state)
{
    fx *f = *state;
    char path[256];
    int64_t first;
    NEED_JOB(f);
    first = add_event(f, "qa", "r1", "intrusion", 1000, "");
    for (int i = 1; i < 5; i++)
        add_event(f, "qa", i % 2 ? "r2" : "r1", "dwell", 1000 + i, "");
    assert_int_equal(api(f, "GET", "/api/events?camera=qa", NULL), 200);
    assert_non_null(strstr(f->body, "\"total\":5"));
    assert_int_equal(count_of(f->body, "\"camera\":\"qa\""), 5);
    assert_int_equal(api(f, "GET", "/api/events?camera=qa&rule=r2", NULL), 200);
    assert_non_null(strstr(f->body, "\"total\":2"));
    assert_int_equal(
        api(f, "GET", "/api/events?camera=qa&kind=intrusion", NULL), 200);
    assert_non_null(strstr(f->body, "\"total\":1"));
    snprintf(path, sizeof(path), "\"id\":%lld,", (long long)first);
    assert_non_null(strstr(f->body, path));
    assert_non_null(strstr(f->body, "\"box\":[10,20,40,60]"));
    assert_int_equal(
        api(f, "GET", "/api/events?camera=qa&since=1002&until=1003", NULL),
        200);
    assert_non_null(strstr(f->body, "\"total\":2"));
    /* paging, newest first */
    assert_int_equal(
        api(f, "GET", "/api/events?camera=qa&limit=2&offset=3", NULL), 200);
    assert_non_null(strstr(f->body, "\"total\":5"));
    assert_int_equal(count_of(f->body, "\"camera\":\"qa\""), 2);
    snprintf(path, sizeof(path), "\"id\":%lld,", (long long)first + 1);
    assert_non_null(strstr(f->body, path));
    assert_true(strstr(f->body, path) < strstr(f->body, "\"wall_ms\":1000,"));
    /* bad arguments */
    assert_int_equal(api(f, "GET", "/api/events?limit=501", NULL), 400);
    assert_non_null(strstr(f->body, "limit"));
    assert_int_equal(api(f, "GET", "/api/events?offset=-1", NULL), 400);
    assert_int_equal(api(f, "GET", "/api/events?since=soon", NULL), 400);
    assert_non_null(strstr(f->body, "since"));
    /* parameters are bound, not pasted */
    assert_int_equal(
        api(f, "GET", "/api/events?camera=qa%27%20OR%201=1%20--", NULL), 200);
    assert_non_null(strstr(f->body, "\"total\":0"));
}

static void test_snapshots_by_event_id_only(void **state)
{
    fx *f = *state;
    char dir[700], file[800], outside[700], path[128];
    static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 'v', 'i',
                                         'g',  'i',  'l',  0xff, 0xd9};
    int64_t ok_id, out_id, link_id, none_id;
    NEED_JOB(f);
    snprintf(dir, sizeof(dir), "%s/qa/snapshots/2026-01-01", f->out);
    {
        char cmd[800];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(file, sizeof(file), "%s/1.jpg", dir);
    assert_int_equal(io_write_file(file, jpeg, sizeof(jpeg)), 0);
    snprintf(outside, sizeof(outside), "%s/secret.jpg", f->dir);
    assert_int_equal(io_write_file(outside, "secret", 6), 0);
    snprintf(file, sizeof(file), "%s/2.jpg", dir);
    assert_int_equal(symlink(outside, file), 0);
    ok_id = add_event(f, "qa", "snap", "intrusion", 5,
                      "qa/snapshots/2026-01-01/1.jpg");
    out_id = add_event(f, "qa", "snap", "intrusion", 5, "../secret.jpg");
    link_id = add_event(f, "qa", "snap", "intrusion", 5,
                        "qa/snapshots/2026-01-01/2.jpg");
    none_id = add_event(f, "qa", "snap", "intrusion", 5, "");
    snprintf(path, sizeof(path), "/api/events/%lld/snapshot", (long long)ok_id);
    assert_int_equal(api(f, "GET", path, NULL), 200);
    assert_non_null(strstr(f->resp, "Content-Type: image/jpeg"));
    assert_memory_equal(f->body, jpeg, sizeof(jpeg));
    snprintf(path, sizeof(path), "/api/events/%lld/snapshot",
             (long long)out_id);
    assert_int_equal(api(f, "GET", path, NULL), 404);
    snprintf(path, sizeof(path), "/api/events/%lld/snapshot",
             (long long)link_id);
    assert_int_equal(api(f, "GET", path, NULL), 404);
    assert_null(strstr(f->body, "secret"));
    snprintf(path, sizeof(path), "/api/events/%lld/snapshot",
             (long long)none_id);
    assert_int_equal(api(f, "GET", path, NULL), 404);
    assert_int_equal(api(f, "GET", "/api/events/999999/snapshot", NULL), 404);
}

/* A stream being read: what came so far, and where the last match ended. */
typedef struct reader {
    int s;
    char buf[1 << 17];
    size_t len, pos;
} reader;

/* Reads until needle shows up after the last match; 1 found. The bound
 * (60 s at every call) only catches a hang: no loaded machine reaches it. */
static int read_until(reader *r, const char *needle, double bound_s)
{
    double end = (double)vg_clock_ns() / 1e9 + bound_s;
    size_t nl = strlen(needle);
    for (;;) {
        char *m = memmem(r->buf + r->pos, r->len - r->pos, needle, nl);
        ssize_t k;
        if (m) {
            r->pos = (size_t)(m - r->buf) + nl;
            return 1;
        }
        if ((double)vg_clock_ns() / 1e9 > end)
            return 0;
        if (r->len + 1 >= sizeof(r->buf)) {
            /* keep the unmatched tail */
            size_t keep = r->len - r->pos;
            memmove(r->buf, r->buf + r->pos, keep);
            r->len = keep;
            r->pos = 0;
            if (r->len + 1 >= sizeof(r->buf))
                r->len = r->pos = 0;
        }
        k = recv(r->s, r->buf + r->len, sizeof(r->buf) - r->len - 1, 0);
        if (k <= 0)
            return 0;
        r->len += (size_t)k;
        r->buf[r->len] = '\0';
    }
}

static void test_sse_sends_new_events(void **state)
{
    fx *f = *state;
    char req[256], want[64];
    reader *r = calloc(1, sizeof(*r));
    int64_t id;
    NEED_JOB(f);
    r->s = connect_server(f->port);
    snprintf(req, sizeof(req), "GET /api/sse HTTP/1.1\r\nHost: x\r\n%s\r\n",
             auth);
    send_all(r->s, req, strlen(req));
    assert_true(read_until(r, "text/event-stream", 60));
    /* the cameras as they are, then the new event */
    assert_true(read_until(r, "event: camera", 60));
    assert_true(read_until(r, "\"name\":\"cam1\"", 60));
    id = add_event(f, "qa", "sse_rule", "intrusion", 77, "");
    snprintf(want, sizeof(want), "event: event\ndata: {\"id\":%lld,",
             (long long)id);
    assert_true(read_until(r, want, 60));
    close(r->s);
    free(r);
}

static void test_latest_picture_changes_and_streams(void **state)
{
    fx *f = *state;
    char *first = NULL, req[256];
    size_t first_len = 0;
    int changed = 0;
    reader *r;
    NEED_JOB(f);
    if (!have_live_hooks(f))
        skip();
    for (int i = 0; i < 60 && !changed; i++) {
        request(f, "GET", "/api/cameras/cam1/frame.jpg?width=160&token=" TOKEN,
                NULL, NULL);
        if (f->status == 503)
            continue; /* no picture yet */
        assert_int_equal(f->status, 200);
        assert_true((unsigned char)f->body[0] == 0xff &&
                    (unsigned char)f->body[1] == 0xd8);
        {
            size_t len = f->resp_len - (size_t)(f->body - f->resp);
            if (first == NULL) {
                first = malloc(len);
                memcpy(first, f->body, len);
                first_len = len;
            } else if (len != first_len || memcmp(first, f->body, len)) {
                changed = 1;
            }
        }
    }
    free(first);
    assert_true(changed);
    /* the stream: two JPEG parts */
    r = calloc(1, sizeof(*r));
    r->s = connect_server(f->port);
    snprintf(req, sizeof(req),
             "GET /api/cameras/cam1/stream.mjpeg?token=%s HTTP/1.1\r\nHost: "
             "x\r\n\r\n",
             TOKEN);
    send_all(r->s, req, strlen(req));
    assert_true(
        read_until(r, "multipart/x-mixed-replace; boundary=vigilframe", 60));
    for (int i = 0; i < 3; i++) {
        assert_true(read_until(r, "--vigilframe\r\n", 60));
        assert_true(read_until(r, "Content-Type: image/jpeg\r\n", 60));
        assert_true(read_until(r, "\r\n\r\n\xff\xd8", 60));
    }
    close(r->s);
    free(r);
}

static void write_config(fx *f, const char *extra)
{
    char text[4096];
    FILE *fp = fopen(f->config, "w");
    assert_non_null(fp);
    snprintf(text, sizeof(text), config_text, f->clip);
    fputs(text, fp);
    fputs(extra, fp);
    fclose(fp);
}

/* Reload: a broken file changes nothing and names FILE:LINE:COL; a new
 * camera is added, a camera gone from the file is removed, the unchanged
 * one keeps running (its frame count goes on). */
static void test_reload_diffs_cameras_by_name(void **state)
{
    fx *f = *state;
    char msg[512], *saved;
    vg_job_stream_status st;
    int64_t frames_before = -1;
    NEED_JOB(f);
    saved = read_file(f->config);
    {
        FILE *fp = fopen(f->config, "w");
        fputs("cameras:\n  - name: cam1\n    input: [oops\n", fp);
        fclose(fp);
    }
    assert_int_equal(vg_serve_reload(f->serve, msg, sizeof(msg)), VG_ECONFIG);
    assert_non_null(strstr(msg, "site.yaml:"));
    assert_int_equal(api(f, "GET", "/api/cameras", NULL), 200);
    assert_non_null(strstr(f->body, "\"name\":\"cam1\""));
    /* cam3 added */
    {
        char extra[1024];
        snprintf(extra, sizeof(extra),
                 "  - name: cam3\n    input: %s\n    detect: {fps: 1}\n",
                 f->clip);
        write_config(f, extra);
    }
    for (int i = 0; i < vg_job_stream_count(f->job); i++)
        if (vg_job_stream_get(f->job, i, &st) == 0 &&
            !strcmp(st.name, "cam1") && st.state == VG_JOB_STREAM_RUNNING)
            frames_before = st.frames;
    assert_true(frames_before >= 0);
    assert_int_equal(vg_serve_reload(f->serve, msg, sizeof(msg)), 0);
    assert_int_equal(api(f, "GET", "/api/cameras", NULL), 200);
    assert_non_null(strstr(f->body, "\"name\":\"cam3\""));
    /* cam1 was not restarted: still running, its count not reset */
    for (int i = 0; i < vg_job_stream_count(f->job); i++)
        if (vg_job_stream_get(f->job, i, &st) == 0 &&
            !strcmp(st.name, "cam1") && st.state == VG_JOB_STREAM_RUNNING)
            assert_true(st.frames >= frames_before);
    /* cam3 gone from the file: removed */
    write_config(f, "");
    assert_int_equal(vg_serve_reload(f->serve, msg, sizeof(msg)), 0);
    assert_int_equal(api(f, "GET", "/api/cameras", NULL), 200);
    assert_null(strstr(f->body, "\"name\":\"cam3\""));
    assert_non_null(strstr(f->body, "\"name\":\"cam1\""));
    /* the file as the rules test left it */
    {
        FILE *fp = fopen(f->config, "w");
        fputs(saved, fp);
        fclose(fp);
    }
    free(saved);
}

/* A public address needs a token; bad addresses and caps are refused with
 * one line naming the setting. */
static void test_public_address_needs_a_token(void **state)
{
    vg_context *ctx;
    vg_http_opts o;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    memset(&o, 0, sizeof(o));
    o.listen = "0.0.0.0:8080";
    o.mjpeg_fps = 5;
    o.mjpeg_width = 640;
    o.max_connections = 8;
    o.max_body_bytes = 1024;
    o.idle_timeout_s = 10;
    assert_int_equal(vg_http_check_opts(ctx, &o), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(ctx), "serve.listen"));
    assert_non_null(strstr(vg_context_errmsg(ctx), "serve.token"));
    o.token = "t";
    assert_int_equal(vg_http_check_opts(ctx, &o), 0);
    o.token = NULL;
    o.listen = "[::1]:0";
    assert_int_equal(vg_http_check_opts(ctx, &o), 0);
    o.listen = "localhost:80";
    assert_int_equal(vg_http_check_opts(ctx, &o), 0);
    o.listen = "127.0.0.1:99999";
    assert_int_equal(vg_http_check_opts(ctx, &o), VG_EINVAL);
    o.listen = "example.com:80";
    assert_int_equal(vg_http_check_opts(ctx, &o), VG_EINVAL);
    o.listen = "127.0.0.1:0";
    o.mjpeg_width = 5;
    assert_int_equal(vg_http_check_opts(ctx, &o), VG_EINVAL);
    vg_context_destroy(&ctx);
}

/* Slow and idle clients are closed after idle_timeout_s; a connection over
 * the cap waits until one is free. */
static void test_idle_clients_closed_and_connections_capped(void **state)
{
    fx *f = *state;
    vg_http_opts o;
    vg_http *h2 = NULL;
    int port, a, b, c;
    char byte, buf[256];
    NEED_JOB(f);
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.mjpeg_fps = 5;
    o.mjpeg_width = 160;
    o.max_connections = 2;
    o.max_body_bytes = 1024;
    o.idle_timeout_s = 1;
    o.serve = f->serve;
    assert_int_equal(vg_http_start(f->ctx, &o, &h2), 0);
    port = vg_http_port(h2);
    /* a slow-loris client (half a request line, then nothing) and an idle
     * one take both connections */
    a = connect_server(port);
    send_all(a, "GET /api/cam", 12);
    b = connect_server(port);
    /* a third client's request waits for a free connection: it is answered
     * once the server has closed the other two for idling */
    c = connect_server(port);
    send_all(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 47);
    assert_int_equal(recv(c, buf, sizeof(buf) - 1, 0) > 12, 1);
    assert_int_equal(strncmp(buf, "HTTP/1.1 200", 12), 0);
    /* c was served once one of them was closed; both are closed by the
     * server (recv sees the end, or a reset), each within the idle timeout
     * on a quiet machine: a blocking read with a bound no loaded machine
     * reaches (60 s) that fails only if the server never closes */
    {
        struct timeval tv = {60, 0};
        setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    assert_true(recv(a, &byte, 1, 0) == 0 || errno == ECONNRESET);
    assert_true(recv(b, &byte, 1, 0) == 0 || errno == ECONNRESET);
    close(a);
    close(b);
    close(c);
    vg_http_stop(&h2);
    assert_null(h2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_address_needs_a_token),
        cmocka_unit_test(test_unknown_routes_are_404_and_wrong_methods_405),
        cmocka_unit_test(test_paths_never_reach_the_file_system),
        cmocka_unit_test(test_token_required_for_the_api),
        cmocka_unit_test(test_caps_413_and_431),
        cmocka_unit_test(test_cameras_listed_added_removed),
        cmocka_unit_test(test_rules_replaced_saved_or_refused),
        cmocka_unit_test(test_events_filtered_paged_newest_first),
        cmocka_unit_test(test_snapshots_by_event_id_only),
        cmocka_unit_test(test_sse_sends_new_events),
        cmocka_unit_test(test_latest_picture_changes_and_streams),
        cmocka_unit_test(test_reload_diffs_cameras_by_name),
        cmocka_unit_test(test_idle_clients_closed_and_connections_capped),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
