/*
 * MQTT publisher: one thread runs the libmosquitto client (its own loop,
 * not mosquitto_loop_start, so that the outbox, the reconnect backoff and
 * the stop are handled on that one thread).
 */
#include "vigil/mqtt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "vigil/clock.h"
#include "vigil/outbox.h"

/* An event without its PUBACK this long after it was sent (or after the
 * reconnect that resent it) is sent again. */
#define RESEND_AFTER_NS (20 * 1000000000LL)
/* A connect without CONNACK this long is given up and tried again. */
#define CONNECT_TIMEOUT_NS (10 * 1000000000LL)

typedef struct cam_state {
    char name[64];
    char json[VG_MQTT_STATE_MAX];
    int dirty;
} cam_state;

struct vg_mqtt {
    vg_context *ctx;
    vg_mqtt_opts o;
    char host[256], client_id[64], prefix[64], db_path[512];
    char topic_available[128], topic_state[160];
    struct mosquitto *mosq;
    vg_outbox *ob;
    pthread_t thread;
    int started, joined;

    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t wake;
    int stop;
    vg_mqtt_stats stats;
    cam_state cams[VG_MQTT_MAX_CAMERAS];
    int n_cams;
    int states_dirty;

    /* the thread's own */
    int sock_open;     /* a connect is under way or done, not lost since */
    int was_connected; /* CONNACK on the current socket */
    int fail_streak;   /* failed connects since the last CONNACK */
    double backoff;
    int64_t next_try_ns, sock_opened_ns;
    int connected; /* CONNACK accepted */
    int ever_tried;
    int64_t pos;      /* last acknowledged row */
    int64_t unmarked; /* acknowledged, delete still to do (0: none) */
    int64_t inflight_id;
    int64_t inflight_sent_ns; /* when sent, or the reconnect after it */
    int inflight_mid;
    int offline_mid;
    int offline_acked;
    vg_outbox_row row;
    char state_buf[VG_MQTT_STATE_MAX];
};

void vg_mqtt_opts_default(vg_mqtt_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 1883;
    o->client_id = "vigil";
    o->topic_prefix = "vigil";
    o->qos = 1;
    o->keepalive_s = 30;
    o->backoff_min_s = 1;
    o->backoff_max_s = 30;
    o->drain_timeout_s = 3;
}

void vg_mqtt_opts_from_settings(const vg_settings *s, vg_mqtt_opts *o)
{
    vg_mqtt_opts_default(o);
    if (!s || !o)
        return;
    o->host = s->mqtt_host;
    o->port = s->mqtt_port;
    o->client_id = s->mqtt_client_id;
    o->topic_prefix = s->mqtt_topic_prefix;
    o->qos = s->mqtt_qos;
    o->keepalive_s = s->mqtt_keepalive_s;
}

/* ---- callbacks (the thread, inside mosquitto_loop) ------------------------*/

static void on_connect(struct mosquitto *mosq, void *user, int rc)
{
    vg_mqtt *m = user;

    if (rc != 0) {
        vg_log(m->ctx, VG_LOG_WARN, "mqtt: %s:%d refused the connection: %s",
               m->host, m->o.port, mosquitto_connack_string(rc));
        return;
    }
    m->connected = 1;
    m->was_connected = 1;
    m->fail_streak = 0;
    m->backoff = m->o.backoff_min_s;
    m->inflight_sent_ns = vg_clock_ns(); /* libmosquitto resends it now */
    mosquitto_publish(mosq, NULL, m->topic_available, 6, "online", 1, true);
    pthread_mutex_lock(&m->lock);
    m->stats.connected = 1;
    m->stats.connects++;
    for (int i = 0; i < m->n_cams; i++)
        m->cams[i].dirty = 1; /* a restarted broker lost them */
    m->states_dirty = m->n_cams > 0;
    pthread_mutex_unlock(&m->lock);
    vg_log(m->ctx, VG_LOG_INFO, "mqtt: connected to %s:%d", m->host, m->o.port);
}

static void on_disconnect(struct mosquitto *mosq, void *user, int rc)
{
    vg_mqtt *m = user;
    (void)mosq;
    (void)rc; /* counted and logged by the thread (conn_failed) */
    m->connected = 0;
}

static void on_publish(struct mosquitto *mosq, void *user, int mid)
{
    vg_mqtt *m = user;
    (void)mosq;
    if (m->inflight_id > 0 && mid == m->inflight_mid) {
        m->pos = m->inflight_id;
        m->unmarked = m->inflight_id;
        m->inflight_id = 0;
        pthread_mutex_lock(&m->lock);
        m->stats.acked++;
        m->stats.last_acked_id = m->pos;
        pthread_mutex_unlock(&m->lock);
    } else if (mid == m->offline_mid) {
        m->offline_acked = 1;
    }
}

/* ---- the thread -----------------------------------------------------------*/

static int stopping(vg_mqtt *m)
{
    int s;
    pthread_mutex_lock(&m->lock);
    s = m->stop;
    pthread_mutex_unlock(&m->lock);
    return s;
}

/* Waits up to ms on the wake condition (a stop or a state). */
static void wait_ms(vg_mqtt *m, int64_t ms)
{
    struct timespec ts;
    vg_clock_deadline(CLOCK_REALTIME, ms, &ts);
    pthread_mutex_lock(&m->lock);
    if (!m->stop && !m->states_dirty)
        pthread_cond_timedwait(&m->wake, &m->lock, &ts);
    pthread_mutex_unlock(&m->lock);
}

/* Publishes the states that changed. */
static void send_states(vg_mqtt *m)
{
    for (;;) {
        int found = 0;
        pthread_mutex_lock(&m->lock);
        for (int i = 0; i < m->n_cams && !found; i++) {
            if (!m->cams[i].dirty)
                continue;
            snprintf(m->topic_state, sizeof(m->topic_state), "%s/%s/state",
                     m->prefix, m->cams[i].name);
            memcpy(m->state_buf, m->cams[i].json, sizeof(m->state_buf));
            m->cams[i].dirty = 0;
            found = 1;
        }
        if (!found)
            m->states_dirty = 0;
        pthread_mutex_unlock(&m->lock);
        if (!found)
            return;
        if (mosquitto_publish(m->mosq, NULL, m->topic_state,
                              (int)strlen(m->state_buf), m->state_buf, 1,
                              true) == MOSQ_ERR_SUCCESS) {
            pthread_mutex_lock(&m->lock);
            m->stats.states++;
            pthread_mutex_unlock(&m->lock);
        }
    }
}

static void count_error(vg_mqtt *m)
{
    pthread_mutex_lock(&m->lock);
    m->stats.outbox_errors++;
    pthread_mutex_unlock(&m->lock);
}

/* Marks what was acknowledged, then sends the next row when none is in
 * flight. Returns 1 when the outbox is empty and nothing is in flight. */
static int send_outbox(vg_mqtt *m)
{
    int rc;

    if (!m->ob)
        return 1;
    if (m->unmarked > 0) {
        if (vg_outbox_mark_published(m->ob, m->unmarked) == 0)
            m->unmarked = 0;
        else
            count_error(m); /* busy: the row stays acknowledged in memory */
    }
    if (m->inflight_id > 0) {
        /* libmosquitto resends it after a reconnect; should its PUBACK
         * still not come, it is sent again as a new message */
        if (vg_clock_ns() - m->inflight_sent_ns < RESEND_AFTER_NS)
            return 0;
        vg_log(m->ctx, VG_LOG_WARN,
               "mqtt: no PUBACK for outbox row %lld in %d s; sending it again",
               (long long)m->inflight_id, (int)(RESEND_AFTER_NS / 1000000000));
        m->inflight_id = 0;
    }
    rc = vg_outbox_next(m->ob, m->pos, &m->row);
    if (rc < 0) {
        count_error(m);
        return 0;
    }
    if (rc == 0)
        return m->unmarked == 0;
    rc = mosquitto_publish(m->mosq, &m->inflight_mid, m->row.topic,
                           (int)m->row.payload_len, m->row.payload, m->o.qos,
                           false);
    if (rc != MOSQ_ERR_SUCCESS)
        return 0; /* the connection went: tried again once back */
    if (m->o.qos == 0) {
        m->pos = m->row.id; /* no acknowledgement at QoS 0 */
        m->unmarked = m->row.id;
    } else {
        m->inflight_id = m->row.id;
        m->inflight_sent_ns = vg_clock_ns();
    }
    pthread_mutex_lock(&m->lock);
    m->stats.published++;
    if (m->o.qos == 0) {
        m->stats.acked++;
        m->stats.last_acked_id = m->pos;
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* The connection failed (never answered, refused, or lost): the next try
 * after the backoff, which doubles up to backoff_max_s. */
static void conn_failed(vg_mqtt *m, const char *why)
{
    int was = m->was_connected;

    m->sock_open = 0;
    m->connected = 0;
    m->was_connected = 0;
    pthread_mutex_lock(&m->lock);
    m->stats.connected = 0;
    if (was)
        m->stats.disconnects++;
    else
        m->stats.connect_failures++;
    pthread_mutex_unlock(&m->lock);
    if (was)
        vg_log(m->ctx, VG_LOG_WARN,
               "mqtt: connection to %s:%d lost (%s); reconnecting", m->host,
               m->o.port, why);
    else if (m->fail_streak++ == 0)
        vg_log(m->ctx, VG_LOG_WARN,
               "mqtt: cannot connect to %s:%d: %s (retrying, every %g s at "
               "most)",
               m->host, m->o.port, why, m->o.backoff_max_s);
    m->next_try_ns = vg_clock_ns() + (int64_t)(m->backoff * 1e9);
    m->backoff = m->backoff * 2 < m->o.backoff_max_s ? m->backoff * 2
                                                     : m->o.backoff_max_s;
}

static void *mqtt_main(void *p)
{
    vg_mqtt *m = p;
    int64_t drain_until = 0, count_at = 0;

    m->backoff = m->o.backoff_min_s;
    for (;;) {
        int64_t now = vg_clock_ns();
        int empty = 0, rc;

        if (stopping(m)) {
            if (drain_until == 0)
                drain_until = now + (int64_t)(m->o.drain_timeout_s * 1e9);
            if (now >= drain_until)
                break;
        }
        if (!m->sock_open) {
            if (now < m->next_try_ns) {
                int64_t left = (m->next_try_ns - now) / 1000000;
                wait_ms(m, left < 100 ? left + 1 : 100);
                continue;
            }
            /* non-blocking connects: a host that never answers cannot hold
             * the thread (mosquitto_loop completes them) */
            rc = m->ever_tried
                     ? mosquitto_reconnect_async(m->mosq)
                     : mosquitto_connect_async(m->mosq, m->host, m->o.port,
                                               (int)m->o.keepalive_s);
            m->ever_tried = 1; /* the settings are kept even on failure */
            if (rc != MOSQ_ERR_SUCCESS) {
                conn_failed(m, rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                                    : mosquitto_strerror(rc));
                continue;
            }
            m->sock_open = 1;
            m->sock_opened_ns = now;
        }
        if (m->connected) {
            send_states(m);
            empty = send_outbox(m);
            if (m->ob && now - count_at > 1000000000LL) {
                int64_t n = vg_outbox_count(m->ob);
                count_at = now;
                if (n >= 0) {
                    pthread_mutex_lock(&m->lock);
                    m->stats.pending = n;
                    pthread_mutex_unlock(&m->lock);
                }
            }
            if (drain_until && empty)
                break;
        } else if (now - m->sock_opened_ns > CONNECT_TIMEOUT_NS) {
            conn_failed(m, "no answer");
            continue;
        }
        rc = mosquitto_loop(
            m->mosq, !m->connected || empty || m->inflight_id ? 100 : 0, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            conn_failed(m, rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                                : mosquitto_strerror(rc));
    }
    if (m->connected) {
        /* the last word: "offline" (retained), acknowledged, then a clean
         * DISCONNECT (so the broker does not send the will too) */
        int64_t until = vg_clock_ns() + 1000000000LL;
        if (mosquitto_publish(m->mosq, &m->offline_mid, m->topic_available, 7,
                              "offline", 1, true) == MOSQ_ERR_SUCCESS)
            while (!m->offline_acked && m->connected && vg_clock_ns() < until &&
                   mosquitto_loop(m->mosq, 50, 1) == MOSQ_ERR_SUCCESS)
                ;
        if (m->unmarked > 0 && m->ob)
            vg_outbox_mark_published(m->ob, m->unmarked);
        mosquitto_disconnect(m->mosq);
        mosquitto_loop(m->mosq, 10, 1);
    }
    {
        int64_t n = m->ob ? vg_outbox_count(m->ob) : 0;
        pthread_mutex_lock(&m->lock);
        m->stats.connected = 0;
        if (n >= 0)
            m->stats.pending = n;
        pthread_mutex_unlock(&m->lock);
    }
    return NULL;
}

/* ---- public ---------------------------------------------------------------*/

static int copy_opt(vg_context *ctx, char *dst, size_t cap, const char *src,
                    const char *what)
{
    if (!src || !src[0] || strlen(src) >= cap)
        return vg_fail(ctx, VG_EINVAL,
                       "mqtt: %s '%.64s' is empty or longer "
                       "than %zu bytes",
                       what, src ? src : "", cap - 1);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

int vg_mqtt_create(vg_context *ctx, const vg_mqtt_opts *o, vg_mqtt **out)
{
    vg_mqtt *m;
    int rc;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "vg_mqtt_create: out is NULL");
    *out = NULL;
    m = vg_calloc(ctx, 1, sizeof(*m));
    if (!m)
        return vg_fail(ctx, VG_ENOMEM, "mqtt: out of memory");
    m->ctx = ctx;
    vg_mqtt_opts_default(&m->o);
    if (o)
        m->o = *o;
    if ((rc = copy_opt(ctx, m->host, sizeof(m->host), m->o.host, "host")) < 0 ||
        (rc = copy_opt(ctx, m->client_id, sizeof(m->client_id), m->o.client_id,
                       "client id")) < 0 ||
        (rc = copy_opt(ctx, m->prefix, sizeof(m->prefix), m->o.topic_prefix,
                       "topic prefix")) < 0 ||
        (m->o.db_path && (rc = copy_opt(ctx, m->db_path, sizeof(m->db_path),
                                        m->o.db_path, "database path")) < 0))
        goto fail;
    if (m->o.port < 1 || m->o.port > 65535 || m->o.qos < 0 || m->o.qos > 2 ||
        m->o.keepalive_s < 5 || m->o.keepalive_s > 65535 ||
        !(m->o.backoff_min_s > 0) || m->o.backoff_max_s < m->o.backoff_min_s ||
        m->o.drain_timeout_s < 0 || strpbrk(m->prefix, "+#")) {
        rc = vg_fail(ctx, VG_EINVAL,
                     "mqtt: port %d (1..65535), qos %d (0..2), keepalive %g s "
                     "(5..65535), backoff %g..%g s, or topic prefix '%s' "
                     "(no + or #) invalid",
                     m->o.port, m->o.qos, m->o.keepalive_s, m->o.backoff_min_s,
                     m->o.backoff_max_s, m->prefix);
        goto fail;
    }
    snprintf(m->topic_available, sizeof(m->topic_available), "%s/available",
             m->prefix);
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        vg_free(ctx, m);
        return vg_fail(ctx, VG_ENOMEM, "mqtt: cannot create a mutex");
    }
    if (pthread_cond_init(&m->wake, NULL) != 0) {
        pthread_mutex_destroy(&m->lock);
        vg_free(ctx, m);
        return vg_fail(ctx, VG_ENOMEM, "mqtt: cannot create a condition");
    }
    m->joined = 1;
    if (m->db_path[0] &&
        (rc = vg_outbox_open(ctx, m->db_path, 100, &m->ob)) < 0)
        goto fail_sync;
    mosquitto_lib_init();
    m->mosq = mosquitto_new(m->client_id, true, m);
    if (!m->mosq) {
        mosquitto_lib_cleanup();
        rc = vg_fail(ctx, VG_ENOMEM, "mqtt: cannot create the client %s",
                     m->client_id);
        goto fail_sync;
    }
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    if (mosquitto_will_set(m->mosq, m->topic_available, 7, "offline", 1,
                           true) != MOSQ_ERR_SUCCESS) {
        rc = vg_fail(ctx, VG_EINVAL, "mqtt: cannot set the last will on %s",
                     m->topic_available);
        goto fail_sync;
    }
    *out = m;
    return 0;
fail_sync:
    vg_mqtt_destroy(&m);
    return rc;
fail:
    vg_free(ctx, m);
    return rc;
}

int vg_mqtt_start(vg_mqtt *m)
{
    if (!m)
        return VG_EINVAL;
    if (m->started)
        return VG_EBUSY;
    if (pthread_create(&m->thread, NULL, mqtt_main, m) != 0)
        return vg_fail(m->ctx, VG_EIO, "mqtt: cannot start the thread");
    m->started = 1;
    m->joined = 0;
    return 0;
}

static int valid_camera(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= 64)
        return 0;
    for (; *s; s++)
        if (*s == '/' || *s == '+' || *s == '#' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

int vg_mqtt_publish_state(vg_mqtt *m, const char *camera, const char *json)
{
    int i;

    if (!m || !valid_camera(camera) || !json ||
        strlen(json) >= VG_MQTT_STATE_MAX)
        return VG_EINVAL;
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->n_cams; i++)
        if (!strcmp(m->cams[i].name, camera))
            break;
    if (i == m->n_cams) {
        if (m->n_cams == VG_MQTT_MAX_CAMERAS) {
            pthread_mutex_unlock(&m->lock);
            return VG_ERANGE;
        }
        snprintf(m->cams[i].name, sizeof(m->cams[i].name), "%s", camera);
        m->n_cams++;
    }
    snprintf(m->cams[i].json, sizeof(m->cams[i].json), "%s", json);
    m->cams[i].dirty = 1;
    m->states_dirty = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

int vg_mqtt_stop(vg_mqtt *m)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    if (m->started && !m->joined) {
        pthread_join(m->thread, NULL);
        m->joined = 1;
    }
    return 0;
}

void vg_mqtt_stats_get(vg_mqtt *m, vg_mqtt_stats *out)
{
    if (!out)
        return;
    if (!m) {
        memset(out, 0, sizeof(*out));
        return;
    }
    pthread_mutex_lock(&m->lock);
    *out = m->stats;
    pthread_mutex_unlock(&m->lock);
}

void vg_mqtt_destroy(vg_mqtt **mp)
{
    vg_mqtt *m;

    if (!mp || !*mp)
        return;
    m = *mp;
    *mp = NULL;
    vg_mqtt_stop(m);
    if (m->mosq) {
        mosquitto_destroy(m->mosq);
        mosquitto_lib_cleanup();
    }
    vg_outbox_close(&m->ob);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    vg_free(m->ctx, m);
}
