/* The cross-stream batcher; see include/vigil/batcher.h. */
#include "vigil/batcher.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "vigil/clock.h"

/* Real-time slice for waits that poll the stop flag. */
#define POLL_NS 100000000LL

enum { SLOT_IDLE = 0, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct vg_batcher {
    vg_context *ctx;
    vg_batcher_opts o;
    int64_t max_wait_ns;
    pthread_mutex_t mu;
    pthread_cond_t work;     /* a submit or close happened */
    pthread_cond_t *done;    /* per stream: its request completed */
    int conds_ready;         /* done[] entries initialised */
    vg_batch_request **slot; /* per stream: its outstanding request */
    unsigned char *state;    /* per stream: SLOT_* */
    int *ring;               /* queued stream indexes, oldest first */
    int head, count;
    vg_batch_request **batch; /* max_batch */
    uint64_t *sizes;          /* max_batch + 1 */
    int closed;
    int active; /* streams that may submit; 0: unknown (wait the full time) */
    uint64_t seq;
    vg_batcher_stats st;
};

/* Waits on a CLOCK_MONOTONIC condition variable for at most ns. */
static void real_wait(void *user, pthread_cond_t *cond, pthread_mutex_t *mu,
                      int64_t ns)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ns < 0)
        ns = 0;
    int64_t t = (int64_t)ts.tv_nsec + ns;
    ts.tv_sec += (time_t)(t / 1000000000LL);
    ts.tv_nsec = (long)(t % 1000000000LL);
    pthread_cond_timedwait(cond, mu, &ts);
}

vg_batcher_opts vg_batcher_defaults(void)
{
    vg_batcher_opts o;
    memset(&o, 0, sizeof(o));
    o.max_batch = 1;
    o.max_wait_ms = 5;
    return o;
}

static int cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc == 0 ? 0 : -1;
}

static void free_all(vg_batcher *b)
{
    for (int i = 0; i < b->conds_ready; i++)
        pthread_cond_destroy(&b->done[i]);
    vg_free(b->ctx, b->done);
    vg_free(b->ctx, b->slot);
    vg_free(b->ctx, b->state);
    vg_free(b->ctx, b->ring);
    vg_free(b->ctx, b->batch);
    vg_free(b->ctx, b->sizes);
    vg_free(b->ctx, b);
}

int vg_batcher_create(vg_context *ctx, const vg_batcher_opts *opts,
                      vg_batcher **out)
{
    *out = NULL;
    if (!opts || !opts->run_batch || opts->max_streams < 1 ||
        opts->max_streams > VG_BATCHER_MAX_STREAMS || opts->max_batch < 1 ||
        opts->max_batch > VG_BATCHER_MAX_BATCH || !(opts->max_wait_ms >= 0) ||
        opts->max_wait_ms > 10000)
        return vg_fail(ctx, VG_EINVAL,
                       "batcher options: max_streams %d (1..%d), max_batch %d "
                       "(1..%d), max_wait_ms %g (0..10000), run_batch %s",
                       opts ? opts->max_streams : 0, VG_BATCHER_MAX_STREAMS,
                       opts ? opts->max_batch : 0, VG_BATCHER_MAX_BATCH,
                       opts ? opts->max_wait_ms : 0.0,
                       opts && opts->run_batch ? "set" : "missing");
    vg_batcher *b = vg_calloc(ctx, 1, sizeof(*b));
    if (!b)
        return vg_fail(ctx, VG_ENOMEM, "batcher: out of memory");
    b->ctx = ctx;
    b->o = *opts;
    if (!b->o.now_ns)
        b->o.now_ns = vg_clock_ns_fn;
    if (!b->o.timed_wait)
        b->o.timed_wait = real_wait;
    b->max_wait_ns = (int64_t)(opts->max_wait_ms * 1e6);
    size_t n = (size_t)opts->max_streams;
    b->done = vg_calloc(ctx, n, sizeof(*b->done));
    b->slot = vg_calloc(ctx, n, sizeof(*b->slot));
    b->state = vg_calloc(ctx, n, sizeof(*b->state));
    b->ring = vg_calloc(ctx, n, sizeof(*b->ring));
    b->batch = vg_calloc(ctx, (size_t)opts->max_batch, sizeof(*b->batch));
    b->sizes = vg_calloc(ctx, (size_t)opts->max_batch + 1, sizeof(*b->sizes));
    if (!b->done || !b->slot || !b->state || !b->ring || !b->batch ||
        !b->sizes) {
        free_all(b);
        return vg_fail(ctx, VG_ENOMEM,
                       "batcher: out of memory for %d streams, batch %d",
                       opts->max_streams, opts->max_batch);
    }
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free_all(b);
        return vg_fail(ctx, VG_ENOMEM, "batcher: cannot create a mutex");
    }
    if (cond_init(&b->work) != 0) {
        pthread_mutex_destroy(&b->mu);
        free_all(b);
        return vg_fail(ctx, VG_ENOMEM, "batcher: cannot create a condition");
    }
    for (; b->conds_ready < opts->max_streams; b->conds_ready++) {
        if (cond_init(&b->done[b->conds_ready]) != 0) {
            pthread_cond_destroy(&b->work);
            pthread_mutex_destroy(&b->mu);
            free_all(b);
            return vg_fail(ctx, VG_ENOMEM,
                           "batcher: cannot create a condition");
        }
    }
    *out = b;
    return 0;
}

/* Removes the ring entry at position i (0 = oldest). */
static void ring_remove(vg_batcher *b, int i)
{
    int cap = b->o.max_streams;
    for (int k = i; k < b->count - 1; k++)
        b->ring[(b->head + k) % cap] = b->ring[(b->head + k + 1) % cap];
    b->count--;
}

int vg_batcher_submit(vg_batcher *b, int stream, vg_batch_request *req)
{
    if (stream < 0 || stream >= b->o.max_streams || !req)
        return VG_EINVAL;
    pthread_mutex_lock(&b->mu);
    if (b->closed) {
        b->st.closed++;
        pthread_mutex_unlock(&b->mu);
        return VG_ECLOSED;
    }
    if (b->state[stream] != SLOT_IDLE) {
        pthread_mutex_unlock(&b->mu);
        return VG_EBUSY;
    }
    if (vg_context_stop_requested(b->ctx)) {
        b->st.interrupted++;
        pthread_mutex_unlock(&b->mu);
        return VG_EINTR;
    }
    req->stream = stream;
    req->status = 0;
    req->seq = ++b->seq;
    req->batch_size = 0;
    req->submitted_ns = b->o.now_ns(b->o.clock_user);
    b->slot[stream] = req;
    b->state[stream] = SLOT_QUEUED;
    b->ring[(b->head + b->count) % b->o.max_streams] = stream;
    b->count++;
    pthread_cond_signal(&b->work);
    int ret;
    for (;;) {
        if (b->state[stream] == SLOT_DONE) {
            ret = req->status;
            break;
        }
        if (b->state[stream] == SLOT_QUEUED &&
            vg_context_stop_requested(b->ctx)) {
            for (int i = 0; i < b->count; i++) {
                if (b->ring[(b->head + i) % b->o.max_streams] == stream) {
                    ring_remove(b, i);
                    break;
                }
            }
            b->st.interrupted++;
            ret = VG_EINTR;
            break;
        }
        real_wait(NULL, &b->done[stream], &b->mu, POLL_NS);
    }
    b->state[stream] = SLOT_IDLE;
    b->slot[stream] = NULL;
    pthread_mutex_unlock(&b->mu);
    return ret;
}

int vg_batcher_step(vg_batcher *b)
{
    int cap = b->o.max_streams;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->count == 0) {
            if (b->closed) {
                pthread_mutex_unlock(&b->mu);
                return VG_ECLOSED;
            }
            if (vg_context_stop_requested(b->ctx)) {
                pthread_mutex_unlock(&b->mu);
                return VG_EINTR;
            }
            real_wait(NULL, &b->work, &b->mu, POLL_NS);
        }
        int64_t first = b->slot[b->ring[b->head]]->submitted_ns;
        int64_t deadline = first + b->max_wait_ns;
        /* wait for companions, unless every stream that may submit has
         * (each has at most one request out) */
        while (b->count > 0 && b->count < b->o.max_batch &&
               (b->active <= 0 || b->count < b->active) && !b->closed &&
               !vg_context_stop_requested(b->ctx)) {
            int64_t left = deadline - b->o.now_ns(b->o.clock_user);
            if (left <= 0)
                break;
            b->o.timed_wait(b->o.wait_user, &b->work, &b->mu,
                            left < POLL_NS ? left : POLL_NS);
        }
        if (b->count > 0)
            break;
        /* every queued request left (stop) or was closed: start again */
    }
    int n = b->count < b->o.max_batch ? b->count : b->o.max_batch;
    for (int i = 0; i < n; i++) {
        int s = b->ring[b->head];
        b->head = (b->head + 1) % cap;
        b->count--;
        b->state[s] = SLOT_RUNNING;
        b->batch[i] = b->slot[s];
    }
    int64_t t0 = b->o.now_ns(b->o.clock_user);
    int64_t waited = t0 - b->batch[0]->submitted_ns;
    b->st.wait_ns_sum += waited > 0 ? waited : 0;
    b->st.in_flight = n;
    pthread_mutex_unlock(&b->mu);

    int rc = b->o.run_batch(b->o.user, b->batch, n);

    pthread_mutex_lock(&b->mu);
    int64_t t1 = b->o.now_ns(b->o.clock_user);
    b->st.run_ns_sum += t1 > t0 ? t1 - t0 : 0;
    b->st.batches++;
    b->st.requests += (uint64_t)n;
    b->st.in_flight = 0;
    if (n > b->st.max_batch_seen)
        b->st.max_batch_seen = n;
    b->sizes[n]++;
    for (int i = 0; i < n; i++) {
        vg_batch_request *r = b->batch[i];
        r->batch_size = n;
        if (rc < 0 && r->status == 0)
            r->status = rc;
        if (r->status < 0)
            b->st.failed++;
        b->state[r->stream] = SLOT_DONE;
        pthread_cond_signal(&b->done[r->stream]);
        b->batch[i] = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    return n;
}

void vg_batcher_set_active(vg_batcher *b, int streams)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->active = streams > 0 ? streams : 0;
    pthread_cond_broadcast(&b->work); /* a wait may be over now */
    pthread_mutex_unlock(&b->mu);
}

void vg_batcher_close(vg_batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    if (!b->closed) {
        b->closed = 1;
        while (b->count > 0) {
            int s = b->ring[b->head];
            b->head = (b->head + 1) % b->o.max_streams;
            b->count--;
            b->slot[s]->status = VG_ECLOSED;
            b->state[s] = SLOT_DONE;
            b->st.closed++;
            pthread_cond_signal(&b->done[s]);
        }
        pthread_cond_broadcast(&b->work);
    }
    pthread_mutex_unlock(&b->mu);
}

void vg_batcher_stats_get(vg_batcher *b, vg_batcher_stats *out, uint64_t *sizes)
{
    pthread_mutex_lock(&b->mu);
    *out = b->st;
    out->pending = b->count;
    if (sizes)
        memcpy(sizes, b->sizes, ((size_t)b->o.max_batch + 1) * sizeof(*sizes));
    pthread_mutex_unlock(&b->mu);
}

void vg_batcher_destroy(vg_batcher **bp)
{
    if (!bp || !*bp)
        return;
    vg_batcher *b = *bp;
    vg_batcher_close(b);
    pthread_cond_destroy(&b->work);
    pthread_mutex_destroy(&b->mu);
    free_all(b);
    *bp = NULL;
}
