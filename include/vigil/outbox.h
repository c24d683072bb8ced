/*
 * vg_outbox: the publisher's side of the event store's outbox (the writer
 * side is vg_events with opts.outbox, include/vigil/events.h). It reads the
 * unpublished rows of DIR/events.db in order through its own SQLite
 * connection (WAL: reading never blocks the writer) and deletes a row once
 * it is published (a short write transaction).
 *
 *   vg_outbox *ob;
 *   vg_outbox_open(ctx, "out/events.db", &ob);
 *   vg_outbox_row row;
 *   int64_t pos = 0;
 *   while (vg_outbox_next(ob, pos, &row) == 1) {
 *       publish(row.topic, row.payload, row.payload_len);  // wait for ack
 *       vg_outbox_mark_published(ob, row.id);
 *       pos = row.id;
 *   }
 *   vg_outbox_close(&ob);
 *
 * Thread-safety: one handle is used by one thread at a time; any number of
 * handles may be open beside the writer. Allocates nothing after open.
 */
#ifndef VIGIL_OUTBOX_H
#define VIGIL_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/context.h"

#define VG_OUTBOX_TOPIC_MAX 128
#define VG_OUTBOX_PAYLOAD_MAX 8192

typedef struct vg_outbox vg_outbox;

typedef struct vg_outbox_row {
    int64_t id;         /* increasing, never reused */
    int64_t event_id;   /* the event the row is about */
    int64_t created_ms; /* Unix ms */
    char topic[VG_OUTBOX_TOPIC_MAX];
    char payload[VG_OUTBOX_PAYLOAD_MAX]; /* JSON, NUL-terminated */
    size_t payload_len;
} vg_outbox_row;

/* Opens db_path (an event store with the outbox table; not created).
 * busy_ms bounds how long a call waits for the writer's lock (0: 100).
 * Returns 0, VG_EINVAL, VG_ENOENT (no such file), VG_EFORMAT (no outbox
 * table), VG_EIO or VG_ENOMEM with the message in ctx; *out is NULL on
 * failure. Caller closes. */
int vg_outbox_open(vg_context *ctx, const char *db_path, int busy_ms,
                   vg_outbox **out);

/* The first row with id > after_id. Returns 1 (row filled), 0 (none),
 * VG_EBUSY (the writer held the lock longer than busy_ms: retry) or
 * VG_EIO; the message of a failure is in vg_outbox_errmsg. */
int vg_outbox_next(vg_outbox *ob, int64_t after_id, vg_outbox_row *row);

/* Marks row id published: deletes it and every row before it (rows are
 * published in order). Returns 0, VG_EBUSY (retry later) or VG_EIO. */
int vg_outbox_mark_published(vg_outbox *ob, int64_t id);

/* Rows left (unpublished), or a negative code. */
int64_t vg_outbox_count(vg_outbox *ob);

const char *vg_outbox_errmsg(const vg_outbox *ob);

/* Closes and frees; sets *ob to NULL; accepts NULL. */
void vg_outbox_close(vg_outbox **ob);

#endif
