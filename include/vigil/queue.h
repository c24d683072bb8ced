/*
 * vg_queue: a bounded queue of fixed-size items joining two pipeline stages.
 * The ring is allocated once at creation; push and pop copy items in and out
 * and never touch the heap. A full queue blocks the producer (backpressure
 * for files) or, with VG_QUEUE_DROP_OLDEST, evicts the oldest item through
 * the drop callback (live cameras).
 *
 *   vg_queue *q;
 *   vg_queue_create(ctx, sizeof(vg_frame), 4, VG_QUEUE_BLOCK, NULL, NULL, &q);
 *   producer:  vg_queue_push(q, &frame, -1);   ...  vg_queue_close(q);
 *   consumer:  while (vg_queue_pop(q, &frame, -1) == 0) { ... }
 *   vg_queue_destroy(&q);
 *
 * Thread-safety: push, pop, close and stats are thread-safe.
 */
#ifndef VIGIL_QUEUE_H
#define VIGIL_QUEUE_H

#include <stddef.h>

#include "vigil/context.h"

typedef struct vg_queue vg_queue;

enum vg_queue_policy { VG_QUEUE_BLOCK = 0, VG_QUEUE_DROP_OLDEST = 1 };

/* Called with an item evicted by the drop-oldest policy (to release it). */
typedef void (*vg_queue_drop_fn)(void *user, void *item);

/* Drop-oldest only: whether an item may be evicted (non-zero) or must reach
 * the consumer (0: an end marker, a control message). Called under the
 * queue's lock; must not call the queue. */
typedef int (*vg_queue_droppable_fn)(void *user, const void *item);

typedef struct vg_queue_stats {
    unsigned capacity;
    unsigned length;
    unsigned high_water;
    unsigned long long pushed, popped, dropped;
} vg_queue_stats;

/* Returns 0, VG_EINVAL or VG_ENOMEM (then *out is NULL). Caller destroys. */
int vg_queue_create(vg_context *ctx, size_t item_size, unsigned capacity,
                    int policy, vg_queue_drop_fn drop, void *drop_user,
                    vg_queue **out);

/* Drop-oldest only: a full queue evicts its oldest item that droppable
 * accepts (the items after it keep their order); when it accepts none, the
 * push waits as with VG_QUEUE_BLOCK. Set before the first push; NULL (the
 * default): every item may be evicted. drop_user is passed to it. */
void vg_queue_set_droppable(vg_queue *q, vg_queue_droppable_fn droppable);

/* Copies item in. timeout_ms < 0 waits for ever. Returns 0, VG_EAGAIN (full
 * past the timeout) or VG_ECLOSED (the item was not taken). */
int vg_queue_push(vg_queue *q, const void *item, int timeout_ms);

/* Copies the oldest item out. Returns 0, VG_EAGAIN (empty past the timeout) or
 * VG_ECLOSED (closed and drained). */
int vg_queue_pop(vg_queue *q, void *item, int timeout_ms);

/* No more pushes; pops drain what is left, then get VG_ECLOSED. */
void vg_queue_close(vg_queue *q);

void vg_queue_stats_get(vg_queue *q, vg_queue_stats *out);

/* Destroys the queue (items still inside are discarded without callback:
 * drain first) and sets *q to NULL; accepts NULL. */
void vg_queue_destroy(vg_queue **q);

#endif
