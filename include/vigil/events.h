/*
 * vg_events: the durable event store of a run, an SQLite database
 * (DIR/events.db) and a JSON-lines mirror (DIR/events.jsonl). See
 * docs/events.md for the schema, the JSONL format and the durability
 * guarantees.
 *
 *   vg_events_opts o;
 *   vg_events_opts_default(&o);
 *   vg_events *es;
 *   if (vg_events_open(ctx, "out", &o, &es) < 0) { ... vg_context_errmsg ... }
 *   vg_events_add(es, &ev);                     // ev.id is set
 *   vg_snapshots_write(snaps, &ev, ..., ev.snapshot, sizeof(ev.snapshot));
 *   vg_events_set_snapshot(es, ev.id, ev.snapshot);
 *   vg_events_tick(es);                         // once per frame
 *   vg_events_close(&es);                       // commits what is pending
 *
 * Batching: added events are inserted at once inside an open transaction
 * (so their id is known) and committed together. Before an event is added,
 * the open batch is committed when it already holds `batch` events or when
 * its first event is older than `max_delay_ms`; vg_events_tick applies the
 * age rule alone, vg_events_flush commits unconditionally. So an event is
 * committed at the latest max_delay_ms after it was added, provided the
 * caller calls add, tick or flush that often.
 *
 * An event counts as stored once a commit that includes it returned 0
 * (vg_events_flush, or an add/tick that committed: see the stats). Committed
 * events survive a crash of the process (kill -9) in events.db and in
 * events.jsonl; see docs/events.md for power loss.
 *
 * Outbox (MQTT, docs/mqtt.md): with opts.outbox, every event insert also
 * writes, in the same transaction, an `outbox` row (topic, Frigate-shaped
 * JSON payload {"type":"new"|"update"|"end","before":{..},"after":{..}}).
 * The first event of a (camera, track, rule) is "new", later ones "update";
 * vg_events_track_end writes "end" for each active (camera, track, rule).
 * The active table is fixed (outbox_active_max entries; when full the least
 * recently updated is ended) and an entry not updated for outbox_active_ttl_s
 * (of the events' wall clock) is ended. The outbox keeps at most outbox_max
 * rows: past it the oldest (unpublished) rows are deleted and counted in
 * stats.outbox_dropped. A publisher reads and marks rows through its own
 * connection (include/vigil/outbox.h).
 *
 * Thread-safety: one handle is used by one thread at a time. No heap
 * allocation in vigil's code after open (statements are prepared once).
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#include <stdint.h>

#include "vigil/context.h"
#include "vigil/event.h"

/* Schema version this vigil writes (the `meta` table's schema_version). */
#define VG_EVENTS_SCHEMA_VERSION 2

typedef struct vg_events vg_events;

typedef struct vg_events_opts {
    int batch;        /* events per commit, 1..1024 (default 16) */
    int max_delay_ms; /* commit age bound, >= 0 (default 500) */
    int sync_full;    /* 1: PRAGMA synchronous=FULL (survives power loss);
                         0 (default): NORMAL (survives process crashes) */
    int jsonl;        /* 1 (default): also append DIR/events.jsonl */
    /* Clock in seconds (monotonic) for the max_delay_ms rule; NULL
     * (default): vg_clock_ns. For tests. */
    double (*now)(void *user);
    void *now_user;
    /* Outbox (off by default): */
    int outbox;            /* 1: write outbox rows (mqtt.enabled) */
    int outbox_max;        /* rows kept at most, >= 1 (10000) */
    int outbox_active_max; /* active (camera, track, rule), 1..65536 (256) */
    double outbox_active_ttl_s; /* an active entry not updated this long is
                                   ended, > 0 (600) */
    char outbox_topic[128];     /* the rows' topic ("vigil/events") */
} vg_events_opts;

typedef struct vg_events_stats {
    uint64_t written;        /* events committed by this handle */
    uint64_t pending;        /* events added, not yet committed */
    uint64_t commits;        /* transactions committed */
    int64_t last_commit_ms;  /* Unix time of the last commit, ms (0: none) */
    int64_t last_id;         /* id of the last committed event (0: none) */
    uint64_t jsonl_lines;    /* lines appended to events.jsonl */
    uint64_t jsonl_errors;   /* failed JSONL appends (the db has the rows) */
    int jsonl_partial_found; /* 1 when open found an unterminated last line
                                in events.jsonl (it was terminated) */
    uint64_t outbox_rows;    /* outbox rows written (new, update, end) */
    uint64_t outbox_dropped; /* oldest unpublished rows deleted past
                                outbox_max */
    uint64_t outbox_ends_evicted; /* ends written because the active table
                                     was full */
    uint64_t outbox_ends_expired; /* ends written by the TTL */
    int outbox_active;            /* active (camera, track, rule) now */
} vg_events_stats;

void vg_events_opts_default(vg_events_opts *o);

/* Creates DIR if needed, opens or creates DIR/events.db (WAL journal) and
 * DIR/events.jsonl (append). An existing database with an older schema is
 * migrated; one with a newer schema, or a file that is not an SQLite
 * database, fails with VG_EFORMAT. o may be NULL (defaults). Returns 0,
 * VG_EINVAL, VG_EFORMAT, VG_EIO or VG_ENOMEM with a message in ctx; on
 * failure *out is NULL and nothing is held. Caller closes. */
int vg_events_open(vg_context *ctx, const char *dir, const vg_events_opts *o,
                   vg_events **out);

/* Inserts a copy of *e (e->id is ignored) and sets e->id to its row id.
 * May first commit the open batch (see above). Returns 0, VG_EINVAL or
 * VG_EIO (insert or commit failed; the message is in vg_events_errmsg).
 * On failure e->id is left 0 when the event was not inserted. */
int vg_events_add(vg_events *es, vg_event *e);

/* The tracker removed track_id of camera (track_id < 0: every object of
 * camera, as when its stream ends) at wall_ms (Unix ms): writes an "end"
 * outbox row for each active (camera, track, rule) and forgets them, in the
 * open batch (committed like an add). No-op without opts.outbox. Returns 0,
 * VG_EINVAL or VG_EIO (message in vg_events_errmsg). */
int vg_events_track_end(vg_events *es, const char *camera, int64_t track_id,
                        int64_t wall_ms);

/* Sets the snapshot path of event id. Called before the next add, tick or
 * flush, the path is part of the same commit and of the JSONL line;
 * later, only the database row is updated. Returns 0, VG_EINVAL (no such
 * event) or VG_EIO. */
int vg_events_set_snapshot(vg_events *es, int64_t id, const char *relpath);

/* Commits the open batch when its first event is older than max_delay_ms.
 * Returns 0 or VG_EIO. */
int vg_events_tick(vg_events *es);

/* Commits the open batch now and appends its events to events.jsonl.
 * Returns 0 or VG_EIO (the batch stays pending when the commit failed). */
int vg_events_flush(vg_events *es);

void vg_events_stats_get(const vg_events *es, vg_events_stats *out);

/* Message of the last failure of this handle ("" when none). */
const char *vg_events_errmsg(const vg_events *es);

/* Flushes, closes the files and frees the handle; sets *es to NULL; accepts
 * NULL. Returns the flush's result (the handle is freed either way). */
int vg_events_close(vg_events **es);

/* The `kind` column holds vg_event_kind_name(kind) (include/vigil/event.h). */

#endif
