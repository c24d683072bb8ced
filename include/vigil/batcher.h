/*
 * vg_batcher: the cross-stream batcher in front of one shared model (like
 * DeepStream's nvstreammux batch-size and batched-push-timeout). Stream
 * threads submit one request each and block until it is done; one inference
 * thread gathers up to max_batch requests, waiting at most max_wait_ms after
 * the first request of a batch for companions, runs them with one call of
 * run_batch, and wakes each stream.
 *
 *   static int run(void *user, vg_batch_request *const *req, int n)
 *   {   // copy req[i]->input into row i of the batch tensor, run the session
 *       // once, copy row i of the outputs to req[i]->output
 *       return 0;   // or a VG_E* code for every request of the batch
 *   }
 *   vg_batcher_opts o = vg_batcher_defaults();
 *   o.max_streams = 4; o.max_batch = 4; o.max_wait_ms = 5;
 *   o.run_batch = run; o.user = session;
 *   vg_batcher *b;
 *   vg_batcher_create(ctx, &o, &b);
 *   // inference thread:  while (vg_batcher_step(b) >= 0) {}
 *   // stream thread i:
 *   vg_batch_request r = {.input = tensor, .output = dets};
 *   int rc = vg_batcher_submit(b, i, &r);  // 0: dets filled
 *   // shutdown: vg_batcher_close(b); join the threads; vg_batcher_destroy(&b);
 *
 * Ownership: the request, its input and its output belong to the stream; the
 * batcher keeps a pointer to them only while vg_batcher_submit runs (so a
 * request on the submitting thread's stack is fine). run_batch reads inputs
 * and writes outputs of the requests it is given and nothing else.
 *
 * Bounds: all memory (the pending ring, one slot and one condition variable
 * per stream, the batch array, the histogram) is taken at create; submit and
 * step never allocate. At most one outstanding request per stream index.
 *
 * Time: the wait for companions reads opts.now_ns and blocks through
 * opts.timed_wait (default: pthread_cond_timedwait on CLOCK_MONOTONIC), so a
 * test can make it elapse without sleeping. Waits for the first request and
 * for completion use the real clock in slices of at most 100 ms, polling the
 * ctx stop flag.
 *
 * Thread-safety: every function except create/destroy is thread-safe;
 * vg_batcher_step must be called by one thread at a time.
 */
#ifndef VIGIL_BATCHER_H
#define VIGIL_BATCHER_H

#include <pthread.h>
#include <stdint.h>

#include "vigil/context.h"

#define VG_BATCHER_MAX_STREAMS 1024
#define VG_BATCHER_MAX_BATCH 256

typedef struct vg_batcher vg_batcher;

typedef struct vg_batch_request {
    const void *input; /* the stream's input (e.g. its tensor); not owned */
    void *output;      /* where run_batch writes the results; not owned */
    void *user;        /* free for the stream and run_batch */
    /* Set by the batcher: */
    int stream; /* stream index given to submit */
    int status; /* 0 before run_batch; run_batch may set a VG_E* per request */
    uint64_t seq;         /* submission number, from 1 */
    int batch_size;       /* size of the batch it ran in */
    int64_t submitted_ns; /* opts clock at submit */
} vg_batch_request;

/* Runs n (1..max_batch) requests as one batch, on the thread calling
 * vg_batcher_step, without the batcher's lock held. Returns 0, or a negative
 * code that becomes the status of every request whose status is still 0. */
typedef int (*vg_batch_fn)(void *user, vg_batch_request *const *requests,
                           int n);

/* Waits on cond (mutex held on entry and on return) until signalled or
 * timeout_ns passed; spurious returns are allowed. */
typedef void (*vg_batcher_wait_fn)(void *user, pthread_cond_t *cond,
                                   pthread_mutex_t *mutex, int64_t timeout_ns);

typedef struct vg_batcher_opts {
    int max_streams;    /* stream indexes 0..max_streams-1 (required, >= 1) */
    int max_batch;      /* requests per batch, 1: unbatched (1) */
    double max_wait_ms; /* wait for companions after the first request (5) */
    vg_batch_fn run_batch; /* required */
    void *user;
    int64_t (*now_ns)(void *user); /* NULL: vg_clock_ns */
    void *clock_user;
    vg_batcher_wait_fn timed_wait; /* NULL: pthread_cond_timedwait */
    void *wait_user;
} vg_batcher_opts;

typedef struct vg_batcher_stats {
    uint64_t batches;     /* run_batch calls */
    uint64_t requests;    /* requests run */
    uint64_t failed;      /* requests completed with a negative status */
    uint64_t interrupted; /* submits that returned VG_EINTR */
    uint64_t closed;      /* submits that returned VG_ECLOSED */
    int pending;          /* requests queued, not yet taken */
    int in_flight;        /* requests in the batch being run */
    int64_t wait_ns_sum;  /* sum over batches: first submit -> dispatch */
    int64_t run_ns_sum;   /* sum of run_batch durations */
    int max_batch_seen;   /* largest batch run */
} vg_batcher_stats;

/* The defaults above (max_streams 0 and run_batch NULL must be set). */
vg_batcher_opts vg_batcher_defaults(void);

/* Creates a batcher. Returns 0, VG_EINVAL (max_streams outside
 * 1..VG_BATCHER_MAX_STREAMS, max_batch outside 1..VG_BATCHER_MAX_BATCH,
 * max_wait_ms negative or over 10 s, no run_batch; message in ctx) or
 * VG_ENOMEM; *out is NULL on failure and nothing is held. */
int vg_batcher_create(vg_context *ctx, const vg_batcher_opts *opts,
                      vg_batcher **out);

/* Queues req for stream (0..max_streams-1) and blocks until it ran.
 * Returns req->status (0, or the code run_batch gave), VG_EINVAL (stream out
 * of range), VG_EBUSY (this stream already has a request outstanding),
 * VG_ECLOSED (the batcher was closed before the request ran) or VG_EINTR (the
 * ctx stop flag was set before the request was taken; once taken, submit
 * waits for its batch to finish, a bounded time, and returns its status). */
int vg_batcher_submit(vg_batcher *b, int stream, vg_batch_request *req);

/* The inference thread's step: waits for a first request, gathers up to
 * max_batch (at most max_wait_ms for companions, none when max_batch is 1 or
 * the batch is full), runs them, completes them. Returns the number of
 * requests run (>= 1), VG_ECLOSED once closed and drained, or VG_EINTR when
 * the ctx stop flag is set while nothing is pending. */
int vg_batcher_step(vg_batcher *b);

/* Tells the batcher how many streams may submit now (the job's running
 * cameras). A batch then leaves as soon as every one of them has a request
 * queued, without waiting out max_wait_ms for companions that cannot come
 * (one camera alone is never delayed). 0 (the default): unknown, the full
 * wait applies. Thread-safe. */
void vg_batcher_set_active(vg_batcher *b, int streams);

/* Closes: every queued request and every later submit completes with
 * VG_ECLOSED, a batch being run finishes normally, step returns VG_ECLOSED.
 * Idempotent. */
void vg_batcher_close(vg_batcher *b);

/* Copies the counters; sizes (may be NULL) receives max_batch + 1 entries:
 * sizes[k] = batches of k requests. */
void vg_batcher_stats_get(vg_batcher *b, vg_batcher_stats *out,
                          uint64_t *sizes);

/* Closes and frees the batcher and sets *b to NULL; accepts NULL. No thread
 * may be inside submit or step: close, join them, then destroy. */
void vg_batcher_destroy(vg_batcher **b);

#endif
