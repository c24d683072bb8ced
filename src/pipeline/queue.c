#include "vigil/queue.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "vigil/clock.h"

struct vg_queue {
    vg_context *ctx;
    size_t item_size;
    unsigned capacity;
    int policy;
    vg_queue_drop_fn drop;
    vg_queue_droppable_fn droppable;
    void *drop_user;
    unsigned head; /* next item to pop */
    unsigned length;
    int closed;
    unsigned high_water;
    unsigned long long pushed, popped, dropped;
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    unsigned char *ring;
};

int vg_queue_create(vg_context *ctx, size_t item_size, unsigned capacity,
                    int policy, vg_queue_drop_fn drop, void *drop_user,
                    vg_queue **out)
{
    vg_queue *q = NULL;
    pthread_condattr_t ca;
    int rc = VG_ENOMEM;

    if (!out)
        return VG_EINVAL;
    *out = NULL;
    if (item_size == 0 || capacity == 0)
        return vg_fail(ctx, VG_EINVAL,
                       "queue: item size and capacity must be > 0");
    q = vg_calloc(ctx, 1, sizeof(*q));
    if (!q)
        goto fail;
    q->ring = vg_malloc(ctx, item_size * capacity);
    if (!q->ring)
        goto fail_q;
    q->ctx = ctx;
    q->item_size = item_size;
    q->capacity = capacity;
    q->policy = policy;
    q->drop = drop;
    q->drop_user = drop_user;
    if (pthread_mutex_init(&q->lock, NULL) != 0)
        goto fail_ring;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&q->not_empty, &ca) != 0)
        goto fail_lock;
    if (pthread_cond_init(&q->not_full, &ca) != 0)
        goto fail_ne;
    pthread_condattr_destroy(&ca);
    *out = q;
    return 0;

fail_ne:
    pthread_cond_destroy(&q->not_empty);
fail_lock:
    pthread_condattr_destroy(&ca);
    pthread_mutex_destroy(&q->lock);
fail_ring:
    vg_free(ctx, q->ring);
fail_q:
    vg_free(ctx, q);
fail:
    return vg_fail(ctx, rc, "queue: out of memory");
}

/* Waits on cond; returns 0 or VG_EAGAIN on timeout. Called with the lock. */
static int wait_on(vg_queue *q, pthread_cond_t *cond, int timeout_ms,
                   const struct timespec *deadline)
{
    if (timeout_ms == 0)
        return VG_EAGAIN;
    if (timeout_ms < 0) {
        pthread_cond_wait(cond, &q->lock);
        return 0;
    }
    if (pthread_cond_timedwait(cond, &q->lock, deadline) == ETIMEDOUT)
        return VG_EAGAIN;
    return 0;
}

void vg_queue_set_droppable(vg_queue *q, vg_queue_droppable_fn droppable)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->droppable = droppable;
    pthread_mutex_unlock(&q->lock);
}

static unsigned char *slot(vg_queue *q, unsigned i)
{
    return q->ring + (size_t)((q->head + i) % q->capacity) * q->item_size;
}

/* Evicts the oldest droppable item, closing the gap (the later items keep
 * their order). Returns 0, or -1 when none may go. Called with the lock. */
static int evict_oldest(vg_queue *q)
{
    unsigned k = 0;
    if (q->droppable)
        while (k < q->length && !q->droppable(q->drop_user, slot(q, k)))
            k++;
    if (k == q->length)
        return -1;
    if (q->drop)
        q->drop(q->drop_user, slot(q, k));
    /* the k items before it move up one place */
    for (unsigned i = k; i > 0; i--)
        memcpy(slot(q, i), slot(q, i - 1), q->item_size);
    q->head = (q->head + 1) % q->capacity;
    q->length--;
    q->dropped++;
    return 0;
}

int vg_queue_push(vg_queue *q, const void *item, int timeout_ms)
{
    struct timespec deadline;
    unsigned tail;
    int rc = 0;

    if (!q || !item)
        return VG_EINVAL;
    if (timeout_ms > 0)
        vg_clock_deadline(CLOCK_MONOTONIC, timeout_ms, &deadline);
    pthread_mutex_lock(&q->lock);
    while (!q->closed && q->length == q->capacity) {
        if (q->policy == VG_QUEUE_DROP_OLDEST && evict_oldest(q) == 0)
            break;
        rc = wait_on(q, &q->not_full, timeout_ms, &deadline);
        if (rc < 0)
            goto out;
    }
    if (q->closed) {
        rc = VG_ECLOSED;
        goto out;
    }
    tail = (q->head + q->length) % q->capacity;
    memcpy(q->ring + (size_t)tail * q->item_size, item, q->item_size);
    q->length++;
    q->pushed++;
    if (q->length > q->high_water)
        q->high_water = q->length;
    pthread_cond_signal(&q->not_empty);
out:
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int vg_queue_pop(vg_queue *q, void *item, int timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    if (!q || !item)
        return VG_EINVAL;
    if (timeout_ms > 0)
        vg_clock_deadline(CLOCK_MONOTONIC, timeout_ms, &deadline);
    pthread_mutex_lock(&q->lock);
    while (q->length == 0) {
        if (q->closed) {
            rc = VG_ECLOSED;
            goto out;
        }
        rc = wait_on(q, &q->not_empty, timeout_ms, &deadline);
        if (rc < 0)
            goto out;
    }
    memcpy(item, q->ring + (size_t)q->head * q->item_size, q->item_size);
    q->head = (q->head + 1) % q->capacity;
    q->length--;
    q->popped++;
    pthread_cond_signal(&q->not_full);
out:
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void vg_queue_close(vg_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

void vg_queue_stats_get(vg_queue *q, vg_queue_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    out->capacity = q->capacity;
    out->length = q->length;
    out->high_water = q->high_water;
    out->pushed = q->pushed;
    out->popped = q->popped;
    out->dropped = q->dropped;
    pthread_mutex_unlock(&q->lock);
}

void vg_queue_destroy(vg_queue **q)
{
    if (!q || !*q)
        return;
    pthread_cond_destroy(&(*q)->not_full);
    pthread_cond_destroy(&(*q)->not_empty);
    pthread_mutex_destroy(&(*q)->lock);
    vg_free((*q)->ctx, (*q)->ring);
    vg_free((*q)->ctx, *q);
    *q = NULL;
}
