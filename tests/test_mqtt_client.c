/*
 * vg_mqtt (include/vigil/mqtt.h): option checks, camera states, retrying
 * without a broker and stopping promptly, and publishing an outbox to a real
 * mosquitto until every row is acknowledged and deleted (end to end with
 * vigil in tests/test_mqtt.sh). Polls for conditions, never sleeps to
 * synchronise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/events.h"
#include "vigil/mqtt.h"
#include "vigil/outbox.h"

#define MOSQUITTO "/usr/sbin/mosquitto"

extern char **environ;

struct fx {
    vg_context *ctx;
    char dir[512];
    char db[600];
    pid_t broker;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char *d = io_tmpdir_create();
    if (!f || !d || vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    snprintf(f->db, sizeof(f->db), "%s/events.db", d);
    free(d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    char cmd[600];
    if (f->broker > 0) {
        kill(f->broker, SIGTERM);
        waitpid(f->broker, NULL, 0);
    }
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A port of 127.0.0.1 nobody listens on (just released). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t n = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM, 0), port;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &n), 0);
    port = ntohs(a.sin_port);
    close(s);
    return port;
}

static int can_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int s = socket(AF_INET, SOCK_STREAM, 0), ok;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static void nap(void)
{
    const struct timespec ts = {0, 20000000L}; /* polling interval */
    nanosleep(&ts, NULL);
}

static void test_invalid_options_are_refused(void **state)
{
    struct fx *f = *state;
    vg_mqtt_opts o;
    vg_mqtt *m = (vg_mqtt *)1;

    vg_mqtt_opts_default(&o);
    o.port = 0;
    assert_int_equal(vg_mqtt_create(f->ctx, &o, &m), VG_EINVAL);
    assert_null(m);
    vg_mqtt_opts_default(&o);
    o.topic_prefix = "vigil/#";
    assert_int_equal(vg_mqtt_create(f->ctx, &o, &m), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "vigil/#"));
    vg_mqtt_opts_default(&o);
    o.host = "";
    assert_int_equal(vg_mqtt_create(f->ctx, &o, &m), VG_EINVAL);
    assert_null(m);
}

static void test_store_without_file_is_refused(void **state)
{
    struct fx *f = *state;
    vg_mqtt_opts o;
    vg_mqtt *m;

    vg_mqtt_opts_default(&o);
    o.db_path = f->db;
    assert_int_equal(vg_mqtt_create(f->ctx, &o, &m), VG_ENOENT);
    assert_null(m);
}

static void test_camera_states_are_checked_and_bounded(void **state)
{
    struct fx *f = *state;
    char big[VG_MQTT_STATE_MAX + 1], name[32];
    vg_mqtt *m;

    assert_int_equal(vg_mqtt_create(f->ctx, NULL, &m), 0);
    assert_int_equal(vg_mqtt_publish_state(m, "a/b", "{}"), VG_EINVAL);
    assert_int_equal(vg_mqtt_publish_state(m, "", "{}"), VG_EINVAL);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(vg_mqtt_publish_state(m, "gate", big), VG_EINVAL);
    for (int i = 0; i < VG_MQTT_MAX_CAMERAS; i++) {
        snprintf(name, sizeof(name), "cam%d", i);
        assert_int_equal(vg_mqtt_publish_state(m, name, "{}"), 0);
    }
    /* a known camera is replaced; a new one past the table is refused */
    assert_int_equal(vg_mqtt_publish_state(m, "cam0", "{\"a\":1}"), 0);
    assert_int_equal(vg_mqtt_publish_state(m, "one_more", "{}"), VG_ERANGE);
    vg_mqtt_destroy(&m);
    assert_null(m);
    vg_mqtt_destroy(&m); /* accepts NULL */
}

static void test_without_broker_it_retries_and_stops(void **state)
{
    struct fx *f = *state;
    vg_mqtt_opts o;
    vg_mqtt_stats st;
    vg_mqtt *m;
    int n = 0;

    vg_mqtt_opts_default(&o);
    o.port = free_port();
    o.backoff_min_s = 0.01;
    o.backoff_max_s = 0.02;
    o.drain_timeout_s = 0;
    assert_int_equal(vg_mqtt_create(f->ctx, &o, &m), 0);
    assert_int_equal(vg_mqtt_start(m), 0);
    assert_int_equal(vg_mqtt_start(m), VG_EBUSY);
    do {
        nap();
        vg_mqtt_stats_get(m, &st);
    } while (st.connect_failures < 3 && ++n < 3000);
    assert_true(st.connect_failures >= 3);
    assert_int_equal(st.connected, 0);
    assert_int_equal(vg_mqtt_stop(m), 0);
    assert_int_equal(vg_mqtt_stop(m), 0); /* idempotent */
    vg_mqtt_destroy(&m);
}

static void test_outbox_is_published_and_emptied(void **state)
{
    struct fx *f = *state;
    char conf[600], line[256];
    vg_events_opts eo;
    vg_events *es;
    vg_outbox *ob;
    vg_mqtt_opts o;
    vg_mqtt_stats st;
    vg_mqtt *m;
    vg_event e;
    int port = free_port(), n = 0;
    char *argv[] = {MOSQUITTO, "-c", conf, NULL};

    if (access(MOSQUITTO, X_OK) != 0)
        skip();
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", f->dir);
    snprintf(line, sizeof(line),
             "listener %d 127.0.0.1\nallow_anonymous true\n", port);
    assert_int_equal(io_write_file(conf, line, strlen(line)), 0);
    {
        posix_spawn_file_actions_t fa; /* its log to /dev/null */
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        assert_int_equal(
            posix_spawn(&f->broker, MOSQUITTO, &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
    }
    while (!can_connect(port) && ++n < 3000)
        nap();
    assert_true(can_connect(port));

    vg_events_opts_default(&eo);
    eo.outbox = 1;
    eo.jsonl = 0;
    assert_int_equal(vg_events_open(f->ctx, f->dir, &eo, &es), 0);
    for (int i = 0; i < 5; i++) {
        memset(&e, 0, sizeof(e));
        snprintf(e.stream, sizeof(e.stream), "cam1");
        snprintf(e.rule, sizeof(e.rule), "door");
        e.track_id = i;
        e.wall_ms = 1700000000000LL + i;
        assert_int_equal(vg_events_add(es, &e), 0);
    }
    assert_int_equal(vg_events_track_end(es, "cam1", -1, 1700000001000LL), 0);
    assert_int_equal(vg_events_flush(es), 0);

    vg_mqtt_opts_default(&o);
    o.port = port;
    o.db_path = f->db;
    o.client_id = "vigil-test-client";
    assert_int_equal(vg_mqtt_create(f->ctx, &o, &m), 0);
    assert_int_equal(vg_mqtt_publish_state(m, "cam1", "{\"state\":\"on\"}"), 0);
    assert_int_equal(vg_mqtt_start(m), 0);
    n = 0;
    do {
        nap();
        vg_mqtt_stats_get(m, &st);
    } while (st.acked < 10 && ++n < 3000);
    assert_int_equal(st.acked, 10); /* 5 new, 5 end */
    assert_int_equal(st.published, 10);
    assert_true(st.connects >= 1);
    assert_int_equal(vg_mqtt_stop(m), 0);
    vg_mqtt_stats_get(m, &st);
    assert_int_equal(st.states, 1);
    assert_int_equal(st.pending, 0);
    vg_mqtt_destroy(&m);
    /* every row was deleted on its PUBACK */
    assert_int_equal(vg_outbox_open(f->ctx, f->db, 0, &ob), 0);
    assert_int_equal(vg_outbox_count(ob), 0);
    vg_outbox_close(&ob);
    assert_int_equal(vg_events_close(&es), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invalid_options_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_without_file_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_camera_states_are_checked_and_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_without_broker_it_retries_and_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_is_published_and_emptied,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
