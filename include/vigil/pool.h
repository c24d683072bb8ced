/*
 * vg_pool: a fixed set of equal-sized, refcounted buffers, in the manner of
 * FFmpeg's AVBufferPool. All memory is taken at creation; getting and
 * releasing buffers afterwards never touches the heap.
 *
 *   vg_pool *pool;
 *   vg_pool_create(ctx, "tensor", 3 * 416 * 416 * sizeof(float), 4, &pool);
 *   vg_buf *b;
 *   if (vg_pool_get(pool, -1, &b) == 0) {   // blocks until one is free
 *       float *t = vg_buf_data(b);
 *       vg_buf *r = vg_buf_ref(b);            // a second reference
 *       vg_buf_unref(&b);                     // back to the pool when the
 *       vg_buf_unref(&r);                     // last reference goes
 *   }
 *   vg_pool_destroy(&pool); // memory is freed once every buffer came back
 *
 * Thread-safety: every function is thread-safe.
 */
#ifndef VIGIL_POOL_H
#define VIGIL_POOL_H

#include <stddef.h>

#include "vigil/context.h"

typedef struct vg_pool vg_pool;
typedef struct vg_buf vg_buf;

typedef struct vg_pool_stats {
    size_t buf_size;          /* bytes per buffer */
    unsigned count;           /* buffers in the pool */
    unsigned in_use;          /* buffers currently out */
    unsigned high_water;      /* most buffers ever out at once */
    unsigned long long gets;  /* successful vg_pool_get calls */
    unsigned long long waits; /* gets that had to wait for a buffer */
    unsigned waiting;         /* callers blocked in vg_pool_get right now */
} vg_pool_stats;

/* Creates a pool of count buffers of size bytes each (64-byte aligned).
 * name is copied and used in telemetry. Returns 0, VG_EINVAL or VG_ENOMEM;
 * on failure *out is NULL and nothing is held. */
int vg_pool_create(vg_context *ctx, const char *name, size_t size,
                   unsigned count, vg_pool **out);

/* Takes a free buffer with refcount 1. timeout_ms < 0 waits for ever, 0 fails
 * at once. Returns 0, VG_EAGAIN (none free in time) or VG_ECLOSED (the pool
 * is being destroyed). */
int vg_pool_get(vg_pool *pool, int timeout_ms, vg_buf **out);

/* Adds a reference; returns b. */
vg_buf *vg_buf_ref(vg_buf *b);

/* Drops a reference and sets *b to NULL; accepts NULL. The last reference
 * returns the buffer to its pool. */
void vg_buf_unref(vg_buf **b);

void *vg_buf_data(const vg_buf *b);
size_t vg_buf_size(const vg_buf *b);
/* 1 when the caller holds the only reference (the buffer may be written). */
int vg_buf_writable(const vg_buf *b);

void vg_pool_stats_get(vg_pool *pool, vg_pool_stats *out);
const char *vg_pool_name(const vg_pool *pool);

/* Marks the pool closed (waiters get VG_ECLOSED) and sets *pool to NULL;
 * accepts NULL. Memory is freed when the last outstanding buffer returns. */
void vg_pool_destroy(vg_pool **pool);

#endif
