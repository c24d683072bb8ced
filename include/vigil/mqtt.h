/*
 * vg_mqtt: publishes the event store's outbox (include/vigil/outbox.h) and
 * the cameras' states to an MQTT broker (libmosquitto), Frigate's way. See
 * docs/mqtt.md for the topics, the payloads and the delivery guarantee.
 *
 *   vg_mqtt_opts o;
 *   vg_mqtt_opts_from_settings(&settings, &o);
 *   o.db_path = "out/events.db";                 // after vg_job_start
 *   vg_mqtt *m;
 *   if (vg_mqtt_create(ctx, &o, &m) < 0) { ... vg_context_errmsg ... }
 *   vg_mqtt_start(m);
 *   vg_mqtt_publish_state(m, "gate", "{\"state\":\"running\"}");
 *   ...
 *   vg_mqtt_stop(m);        // drains the outbox (bounded), "offline"
 *   vg_mqtt_destroy(&m);
 *
 * Topics (PREFIX = topic_prefix): PREFIX/available "online" (retained) on
 * every connection and "offline" (retained) at stop, and as the last will
 * when the connection dies; PREFIX/events: one outbox row per message, QoS
 * `qos`, in the outbox's order, one in flight at a time; a row is deleted
 * from the outbox on its PUBACK, so a row whose PUBACK never came is sent
 * again (at least once). PREFIX/<camera>/state: the latest JSON given to
 * vg_mqtt_publish_state, retained, sent again after every reconnect.
 *
 * The connection: connects on its own thread, with a backoff of
 * backoff_min_s doubling to backoff_max_s while the broker is away; after
 * a reconnect it resumes at the first unacknowledged row.
 *
 * Thread-safety: publish_state, stats_get and stop may be called from any
 * thread; create/start/destroy from one.
 */
#ifndef VIGIL_MQTT_H
#define VIGIL_MQTT_H

#include <stdint.h>

#include "vigil/config.h"
#include "vigil/context.h"

#define VG_MQTT_MAX_CAMERAS 64
#define VG_MQTT_STATE_MAX 1024 /* bytes of one camera's state JSON */

typedef struct vg_mqtt vg_mqtt;

typedef struct vg_mqtt_opts {
    const char *host;         /* broker (copied) ("127.0.0.1") */
    int port;                 /* 1..65535 (1883) */
    const char *client_id;    /* (copied) ("vigil") */
    const char *topic_prefix; /* (copied) ("vigil") */
    int qos;                  /* events' QoS, 0..2 (1) */
    double keepalive_s;       /* 5..65535 (30) */
    const char *db_path;      /* events.db holding the outbox (copied);
                                 NULL: states only */
    double backoff_min_s;     /* first retry after (1) */
    double backoff_max_s;     /* retries at most this far apart (30) */
    double drain_timeout_s;   /* vg_mqtt_stop publishes what is left for
                                 at most this long (3) */
} vg_mqtt_opts;

typedef struct vg_mqtt_stats {
    int connected;     /* CONNACK received, not disconnected */
    uint64_t connects; /* successful connections */
    uint64_t connect_failures;
    uint64_t disconnects;   /* connections lost */
    uint64_t published;     /* outbox rows handed to the broker */
    uint64_t acked;         /* rows acknowledged and marked published */
    uint64_t states;        /* state messages handed to the broker */
    int64_t last_acked_id;  /* id of the last acknowledged row */
    int64_t pending;        /* rows left in the outbox (last count) */
    uint64_t outbox_errors; /* failed outbox reads or marks (retried) */
} vg_mqtt_stats;

void vg_mqtt_opts_default(vg_mqtt_opts *o);

/* The mqtt.* settings over the defaults (pointers into s). */
void vg_mqtt_opts_from_settings(const vg_settings *s, vg_mqtt_opts *o);

/* Creates the client (nothing connects before vg_mqtt_start) and opens
 * the outbox of db_path. Returns 0, VG_EINVAL (bad options), VG_ENOENT /
 * VG_EFORMAT (db_path has no outbox), VG_ENOMEM or VG_EIO with the message
 * in ctx; *out is NULL on failure and nothing is held. */
int vg_mqtt_create(vg_context *ctx, const vg_mqtt_opts *o, vg_mqtt **out);

/* Starts the publisher thread. Returns 0, VG_EBUSY (started) or VG_EIO. */
int vg_mqtt_start(vg_mqtt *m);

/* Sets camera's state (json copied, at most VG_MQTT_STATE_MAX - 1 bytes);
 * published retained on PREFIX/<camera>/state as soon as connected.
 * Returns 0, VG_EINVAL (bad camera name or json too long) or VG_ERANGE
 * (VG_MQTT_MAX_CAMERAS cameras). Any thread. */
int vg_mqtt_publish_state(vg_mqtt *m, const char *camera, const char *json);

/* Stops the thread: publishes the outbox's rows for at most
 * drain_timeout_s, then "offline" (retained), and disconnects cleanly.
 * Idempotent. Returns 0. */
int vg_mqtt_stop(vg_mqtt *m);

void vg_mqtt_stats_get(vg_mqtt *m, vg_mqtt_stats *out);

/* Stops and frees; sets *m to NULL; accepts NULL. */
void vg_mqtt_destroy(vg_mqtt **m);

#endif
