/*
 * vg_pool: fixed set of refcounted, 64-byte aligned buffers. One heap block
 * holds every buffer's data; the buffer descriptors live in a second block.
 * The free list is a singly linked stack guarded by the pool's mutex; a
 * condition variable wakes getters when a buffer comes back.
 *
 * Lifetime: vg_pool_destroy marks the pool closed. The pool's memory is
 * released by whoever leaves last: destroy itself when no buffer is out and
 * nobody waits, else the last vg_buf_unref or the last waiter to leave.
 */
#include "vigil/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define VG_POOL_ALIGN 64

struct vg_buf {
    vg_pool *pool;
    atomic_uint refs;
    uint8_t *data;
    vg_buf *next_free;
};

struct vg_pool {
    vg_context *ctx;
    char *name;
    size_t size;
    unsigned count;
    void *block; /* raw data allocation (unaligned) */
    vg_buf *bufs;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* guarded by lock */
    vg_buf *free_list;
    unsigned in_use;
    unsigned high_water;
    unsigned waiters;
    unsigned long long gets;
    unsigned long long waits;
    int closed;
};

static void pool_free(vg_pool *p)
{
    vg_context *ctx = p->ctx;

    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    vg_free(ctx, p->block);
    vg_free(ctx, p->bufs);
    vg_free(ctx, p->name);
    vg_free(ctx, p);
}

int vg_pool_create(vg_context *ctx, const char *name, size_t size,
                   unsigned count, vg_pool **out)
{
    vg_pool *p = NULL;
    size_t stride;
    uint8_t *base;
    int mutex_ok = 0;

    if (!out)
        return VG_EINVAL;
    *out = NULL;
    if (size == 0 || count == 0 || size > SIZE_MAX / 2)
        return vg_fail(ctx, VG_EINVAL, "pool %s: invalid size %zu x %u",
                       name ? name : "?", size, count);
    stride = (size + VG_POOL_ALIGN - 1) & ~(size_t)(VG_POOL_ALIGN - 1);
    if (stride > (SIZE_MAX - VG_POOL_ALIGN) / count)
        return vg_fail(ctx, VG_EINVAL,
                       "pool %s: %u buffers of %zu bytes overflow",
                       name ? name : "?", count, size);

    p = vg_calloc(ctx, 1, sizeof(*p));
    if (!p)
        goto nomem;
    p->ctx = ctx;
    p->size = size;
    p->count = count;
    p->name = vg_strdup(ctx, name ? name : "pool");
    if (!p->name)
        goto nomem;
    p->bufs = vg_calloc(ctx, count, sizeof(*p->bufs));
    if (!p->bufs)
        goto nomem;
    p->block = vg_malloc(ctx, stride * count + VG_POOL_ALIGN);
    if (!p->block)
        goto nomem;
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        goto nomem;
    mutex_ok = 1;
    if (pthread_cond_init(&p->cond, NULL) != 0)
        goto nomem;

    base = (uint8_t *)(((uintptr_t)p->block + VG_POOL_ALIGN - 1) &
                       ~(uintptr_t)(VG_POOL_ALIGN - 1));
    for (unsigned i = count; i-- > 0;) {
        vg_buf *b = &p->bufs[i];
        b->pool = p;
        atomic_init(&b->refs, 0);
        b->data = base + (size_t)i * stride;
        b->next_free = p->free_list;
        p->free_list = b;
    }
    *out = p;
    return 0;

nomem:
    if (p) {
        if (mutex_ok)
            pthread_mutex_destroy(&p->lock);
        vg_free(ctx, p->block);
        vg_free(ctx, p->bufs);
        vg_free(ctx, p->name);
        vg_free(ctx, p);
    }
    return vg_fail(ctx, VG_ENOMEM, "pool %s: out of memory for %u x %zu bytes",
                   name ? name : "?", count, size);
}

/* Absolute CLOCK_REALTIME deadline timeout_ms from now. */
static struct timespec deadline_after(int timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int vg_pool_get(vg_pool *pool, int timeout_ms, vg_buf **out)
{
    struct timespec until;
    int rc = 0, waited = 0, free_pool = 0;
    vg_buf *b;

    if (!out)
        return VG_EINVAL;
    *out = NULL;
    if (!pool)
        return VG_EINVAL;
    if (timeout_ms > 0)
        until = deadline_after(timeout_ms);

    pthread_mutex_lock(&pool->lock);
    pool->waiters++;
    while (!pool->closed && !pool->free_list) {
        int w;
        if (timeout_ms == 0) {
            rc = VG_EAGAIN;
            break;
        }
        waited = 1;
        if (timeout_ms < 0) {
            pthread_cond_wait(&pool->cond, &pool->lock);
            continue;
        }
        w = pthread_cond_timedwait(&pool->cond, &pool->lock, &until);
        if (w == ETIMEDOUT && !pool->free_list && !pool->closed) {
            rc = VG_EAGAIN;
            break;
        }
    }
    pool->waiters--;
    if (rc == 0 && pool->closed)
        rc = VG_ECLOSED;
    if (rc == 0) {
        b = pool->free_list;
        pool->free_list = b->next_free;
        b->next_free = NULL;
        atomic_store(&b->refs, 1);
        pool->in_use++;
        if (pool->in_use > pool->high_water)
            pool->high_water = pool->in_use;
        pool->gets++;
        if (waited)
            pool->waits++;
        *out = b;
    }
    if (pool->closed && pool->in_use == 0 && pool->waiters == 0)
        free_pool = 1;
    pthread_mutex_unlock(&pool->lock);
    if (free_pool)
        pool_free(pool);
    return rc;
}

vg_buf *vg_buf_ref(vg_buf *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void vg_buf_unref(vg_buf **bp)
{
    vg_buf *b;
    vg_pool *p;
    int free_pool;

    if (!bp || !*bp)
        return;
    b = *bp;
    *bp = NULL;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    p = b->pool;
    pthread_mutex_lock(&p->lock);
    b->next_free = p->free_list;
    p->free_list = b;
    p->in_use--;
    free_pool = p->closed && p->in_use == 0 && p->waiters == 0;
    if (!free_pool)
        pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (free_pool)
        pool_free(p);
}

void *vg_buf_data(const vg_buf *b)
{
    return b ? b->data : NULL;
}

size_t vg_buf_size(const vg_buf *b)
{
    return b ? b->pool->size : 0;
}

int vg_buf_writable(const vg_buf *b)
{
    return b && atomic_load_explicit(&((vg_buf *)b)->refs,
                                     memory_order_acquire) == 1;
}

void vg_pool_stats_get(vg_pool *pool, vg_pool_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    out->buf_size = pool->size;
    out->count = pool->count;
    out->in_use = pool->in_use;
    out->high_water = pool->high_water;
    out->gets = pool->gets;
    out->waits = pool->waits;
    out->waiting = pool->waiters;
    pthread_mutex_unlock(&pool->lock);
}

const char *vg_pool_name(const vg_pool *pool)
{
    return pool ? pool->name : "";
}

void vg_pool_destroy(vg_pool **pool)
{
    vg_pool *p;
    int free_now;

    if (!pool || !*pool)
        return;
    p = *pool;
    *pool = NULL;
    pthread_mutex_lock(&p->lock);
    p->closed = 1;
    free_now = p->in_use == 0 && p->waiters == 0;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (free_now)
        pool_free(p);
}
