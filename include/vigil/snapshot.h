/*
 * vg_snapshots: the snapshot store of a run. One JPEG per event, the event's
 * box outlined in red with a label, at DIR/snapshots/DATE/ID.jpg where DATE
 * is the UTC date (YYYY-MM-DD) of the event's wall time and ID its event id.
 *
 *   vg_snapshots_opts o;
 *   vg_snapshots_opts_default(&o);
 *   o.max_total_bytes = 2ull << 30;
 *   vg_snapshots *s;
 *   if (vg_snapshots_open(ctx, "out", &o, &s) < 0) { ... }
 *   if (vg_snapshots_write(s, &ev, rgb, w, h, stride, ev.snapshot,
 *                          sizeof(ev.snapshot)) < 0)
 *       ev.snapshot[0] = '\0';        // the event is kept without one
 *   vg_snapshots_close(&s);
 *
 * Retention removes the oldest snapshots (by modification time, then id)
 * until none is older than max_age_days and their total size is at most
 * max_total_bytes. It runs at open and on a write when enforce_every_s has
 * passed since the last pass. It only ever removes files whose path matches
 * exactly snapshots/YYYY-MM-DD/<1-19 digits>.jpg (and then empty
 * YYYY-MM-DD directories): anything else under DIR is left alone.
 *
 * Disk full: a write that fails with ENOSPC (or EFBIG, EDQUOT) logs
 * "snapshots disabled: disk full" once, returns VG_EIO and disables the
 * store; further writes return VG_EIO at once without touching the disk.
 * A later retention pass that frees space enables it again.
 *
 * Free space: before each file the store checks the device's free space;
 * a snapshot that would leave less than min_free_bytes is skipped (counted
 * in `skipped`, VG_ENOSPC, logged once until space comes back), so the
 * space left goes to the events. Files are created with O_NOFOLLOW: a
 * symbolic link is never written through.
 *
 * Files are written to a hidden temporary name in the same directory and
 * renamed, so a snapshot is either complete or absent after a crash; they
 * are not fsynced.
 *
 * Thread-safety: one handle is used by one thread at a time. No heap
 * allocation in vigil's code per snapshot once the picture buffers are sized
 * (at open from max_width/max_height, else at the first write).
 */
#ifndef VIGIL_SNAPSHOT_H
#define VIGIL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/context.h"
#include "vigil/event.h"

typedef struct vg_snapshots vg_snapshots;

typedef struct vg_snapshots_opts {
    double max_age_days;       /* 0: no age limit (default 30) */
    uint64_t max_total_bytes;  /* 0: no size limit (default 1 GiB) */
    int quality;               /* JPEG quality 1..100 (default 85) */
    double enforce_every_s;    /* retention period on writes (default 60) */
    int max_width, max_height; /* largest picture; 0: sized at first write */
    int index_cap; /* oldest files considered per retention scan; bounds the
                      index memory (default 4096, min 16) */
    uint64_t min_free_bytes; /* a snapshot that would leave less free space
                                on the device is skipped (default 1 MiB,
                                kept for the events); 0: no check */
} vg_snapshots_opts;

typedef struct vg_snapshots_stats {
    uint64_t written; /* snapshots written */
    uint64_t failed;  /* writes that failed (any cause) */
    uint64_t skipped; /* writes refused while disabled */
    uint64_t deleted; /* snapshots removed by retention */
    uint64_t bytes_deleted;
    uint64_t files;       /* snapshots found by the last retention pass,
                             after it removed what it removed */
    uint64_t total_bytes; /* their size */
    uint64_t passes;      /* retention passes */
    unsigned index_cap;   /* entries of the retention index (fixed) */
    int disabled;         /* 1 after a disk-full failure */
    int low_space;        /* 1 once a write was skipped for min_free_bytes */
} vg_snapshots_stats;

void vg_snapshots_opts_default(vg_snapshots_opts *o);

/* Creates DIR/snapshots if needed and runs a retention pass. o may be NULL.
 * Returns 0, VG_EINVAL, VG_EIO or VG_ENOMEM with a message in ctx; on
 * failure *out is NULL. Caller closes. */
int vg_snapshots_open(vg_context *ctx, const char *dir,
                      const vg_snapshots_opts *o, vg_snapshots **out);

/* Writes the snapshot of ev (ev->id > 0) from the RGB24 picture (only read;
 * drawn on a private copy) and puts its path relative to DIR into relpath
 * (cap bytes; "" on failure). Returns 0, VG_EINVAL, VG_ENOMEM (picture
 * larger than any before and the buffers cannot grow), VG_ERANGE (relpath
 * too small), VG_ENOSPC (skipped for min_free_bytes) or VG_EIO (cannot
 * write; the store is disabled when the disk is
 * full, see above). The message is in vg_snapshots_errmsg. */
int vg_snapshots_write(vg_snapshots *s, const vg_event *ev, const uint8_t *rgb,
                       int w, int h, int stride, char *relpath, size_t cap);

/* Runs a retention pass now. Returns 0 or VG_EIO (a directory could not be
 * read; what could be done was done). */
int vg_snapshots_enforce(vg_snapshots *s);

/* 1 when writes are enabled, 0 when disabled by a full disk. */
int vg_snapshots_enabled(const vg_snapshots *s);

void vg_snapshots_stats_get(const vg_snapshots *s, vg_snapshots_stats *out);

const char *vg_snapshots_errmsg(const vg_snapshots *s);

/* Frees the handle and sets *s to NULL; accepts NULL. */
void vg_snapshots_close(vg_snapshots **s);

#endif
