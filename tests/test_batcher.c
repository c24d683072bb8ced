/* vg_batcher: real threads, synchronised on the batcher's own counters; the
 * wait for companions runs on a fake clock where a test needs it to elapse. */
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/batcher.h"

#define MS 1000000LL

static int setup(void **state)
{
    vg_context *ctx;
    if (vg_context_create(&ctx) < 0)
        return -1;
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    *state = ctx;
    return 0;
}

static int teardown(void **state)
{
    vg_context *ctx = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&ctx);
    return 0;
}

/* ---- a model: output = input * 2 + 1, with call accounting -------------- */

#define MAX_SEQ 4096

typedef struct model {
    atomic_int calls_per_seq[MAX_SEQ + 1];
    atomic_int max_n;
    atomic_int batches;
    int fail_code;    /* returned by every call when set */
    int first_status; /* written to requests[0]->status when set */
} model;

static int run_model(void *user, vg_batch_request *const *req, int n)
{
    model *m = user;
    if (n > atomic_load(&m->max_n))
        atomic_store(&m->max_n, n);
    atomic_fetch_add(&m->batches, 1);
    for (int i = 0; i < n; i++) {
        if (req[i]->seq <= MAX_SEQ)
            atomic_fetch_add(&m->calls_per_seq[req[i]->seq], 1);
        *(int *)req[i]->output = *(const int *)req[i]->input * 2 + 1;
    }
    if (m->first_status)
        req[0]->status = m->first_status;
    return m->fail_code;
}

/* ---- fake clock and wait ------------------------------------------------ */

typedef struct fake {
    atomic_llong now;
    int waits;
    int64_t waited;
    /* when set, the first wait releases a companion instead of timing out */
    sem_t *release;
    vg_batcher *b;
    int want_pending;
} fake;

static int64_t fake_now(void *user)
{
    return atomic_load(&((fake *)user)->now);
}

static void fake_wait(void *user, pthread_cond_t *cond, pthread_mutex_t *mu,
                      int64_t timeout_ns)
{
    fake *f = user;
    (void)cond;
    f->waits++;
    if (f->release) {
        sem_t *s = f->release;
        f->release = NULL;
        pthread_mutex_unlock(mu);
        sem_post(s);
        vg_batcher_stats st;
        do {
            sched_yield();
            vg_batcher_stats_get(f->b, &st, NULL);
        } while (st.pending < f->want_pending);
        pthread_mutex_lock(mu);
        return;
    }
    f->waited += timeout_ns;
    atomic_fetch_add(&f->now, timeout_ns);
}

/* ---- threads ----------------------------------------------------------- */

typedef struct producer {
    vg_batcher *b;
    int stream;
    int count;
    sem_t *go; /* waited on before the first submit when set */
    int bad;   /* results that were not this request's own */
    int over;  /* batch sizes above the limit */
    int limit;
    int last_rc;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    if (p->go)
        sem_wait(p->go);
    for (int i = 0; i < p->count; i++) {
        int in = p->stream * 100000 + i, out = -1;
        vg_batch_request r = {.input = &in, .output = &out};
        p->last_rc = vg_batcher_submit(p->b, p->stream, &r);
        if (p->last_rc < 0)
            return NULL;
        if (out != in * 2 + 1 || r.stream != p->stream)
            p->bad++;
        if (r.batch_size < 1 || r.batch_size > p->limit)
            p->over++;
    }
    return NULL;
}

static void *infer_loop(void *arg)
{
    vg_batcher *b = arg;
    while (vg_batcher_step(b) > 0)
        ;
    return NULL;
}

static void wait_pending(vg_batcher *b, int n)
{
    vg_batcher_stats st;
    do {
        sched_yield();
        vg_batcher_stats_get(b, &st, NULL);
    } while (st.pending != n);
}

static vg_batcher *make(vg_context *ctx, int streams, int max_batch,
                        double wait_ms, model *m, fake *f)
{
    vg_batcher_opts o = vg_batcher_defaults();
    vg_batcher *b;
    o.max_streams = streams;
    o.max_batch = max_batch;
    o.max_wait_ms = wait_ms;
    o.run_batch = run_model;
    o.user = m;
    if (f) {
        o.now_ns = fake_now;
        o.clock_user = f;
        o.timed_wait = fake_wait;
        o.wait_user = f;
    }
    assert_int_equal(vg_batcher_create(ctx, &o, &b), 0);
    if (f)
        f->b = b;
    return b;
}

static void run_producers(vg_context *ctx, int streams, int per, int max_batch,
                          model *m)
{
    vg_batcher *b = make(ctx, streams, max_batch, 1, m, NULL);
    pthread_t inf, th[8];
    producer p[8];
    vg_alloc_stats a0, a1;

    vg_context_alloc_stats(ctx, &a0);
    assert_int_equal(pthread_create(&inf, NULL, infer_loop, b), 0);
    for (int i = 0; i < streams; i++) {
        p[i] =
            (producer){.b = b, .stream = i, .count = per, .limit = max_batch};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    for (int i = 0; i < streams; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].last_rc, 0);
        assert_int_equal(p[i].bad, 0);
        assert_int_equal(p[i].over, 0);
    }
    vg_batcher_close(b);
    pthread_join(inf, NULL);
    vg_context_alloc_stats(ctx, &a1);
    assert_int_equal(a1.allocs, a0.allocs); /* nothing after create */

    vg_batcher_stats st;
    uint64_t sizes[VG_BATCHER_MAX_BATCH + 1];
    vg_batcher_stats_get(b, &st, sizes);
    int total = streams * per;
    assert_int_equal(st.requests, total);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.pending, 0);
    assert_true(st.max_batch_seen <= max_batch);
    uint64_t sum = 0, nb = 0;
    for (int k = 1; k <= max_batch; k++) {
        sum += (uint64_t)k * sizes[k];
        nb += sizes[k];
    }
    assert_int_equal(sum, total);
    assert_int_equal(nb, st.batches);
    assert_int_equal(st.batches, atomic_load(&m->batches));
    for (int s = 1; s <= total; s++)
        assert_int_equal(atomic_load(&m->calls_per_seq[s]), 1);
    assert_int_equal(
        atomic_load(
            &m->calls_per_seq[total + 1 <= MAX_SEQ ? total + 1 : MAX_SEQ]),
        0);
    assert_true(atomic_load(&m->max_n) <= max_batch);
    vg_batcher_destroy(&b);
    assert_null(b);
}

static void test_every_request_completed_once_with_its_own_result(void **state)
{
    static model m;
    memset(&m, 0, sizeof(m));
    run_producers(*state, 4, 100, 4, &m);
}

static void test_max_batch_one_runs_every_request_alone(void **state)
{
    static model m;
    memset(&m, 0, sizeof(m));
    run_producers(*state, 3, 50, 1, &m);
    assert_int_equal(atomic_load(&m.batches), 150);
    assert_int_equal(atomic_load(&m.max_n), 1);
}

static void test_full_batch_is_dispatched_without_waiting(void **state)
{
    static model m;
    fake f;
    memset(&m, 0, sizeof(m));
    memset(&f, 0, sizeof(f));
    vg_batcher *b = make(*state, 4, 4, 50, &m, &f);
    pthread_t th[4];
    producer p[4];

    for (int i = 0; i < 4; i++) {
        p[i] = (producer){.b = b, .stream = i, .count = 1, .limit = 4};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    wait_pending(b, 4);
    assert_int_equal(vg_batcher_step(b), 4);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].last_rc, 0);
        assert_int_equal(p[i].bad, 0);
    }
    assert_int_equal(f.waits, 0);
    vg_batcher_stats st;
    uint64_t sizes[5];
    vg_batcher_stats_get(b, &st, sizes);
    assert_int_equal(sizes[4], 1);
    assert_int_equal(st.wait_ns_sum, 0);
    vg_batcher_destroy(&b);
}

static void test_lone_request_runs_when_the_wait_elapses(void **state)
{
    static model m;
    fake f;
    memset(&m, 0, sizeof(m));
    memset(&f, 0, sizeof(f));
    vg_batcher *b = make(*state, 4, 4, 250, &m, &f);
    pthread_t th;
    producer p = {.b = b, .stream = 2, .count = 1, .limit = 4};

    assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
    assert_int_equal(vg_batcher_step(b), 1);
    pthread_join(th, NULL);
    assert_int_equal(p.last_rc, 0);
    assert_int_equal(p.bad, 0);
    /* waited exactly max_wait, in slices of at most 100 ms */
    assert_int_equal(f.waited, 250 * MS);
    assert_int_equal(f.waits, 3);
    vg_batcher_stats st;
    uint64_t sizes[5];
    vg_batcher_stats_get(b, &st, sizes);
    assert_int_equal(sizes[1], 1);
    assert_int_equal(st.wait_ns_sum, 250 * MS);
    vg_batcher_destroy(&b);
}

/* Two streams may submit and both have: the batch of 2 leaves at once,
 * under the max_batch of 4, without waiting out the 250 ms. */
static void test_every_active_stream_in_leaves_without_waiting(void **state)
{
    static model m;
    fake f;
    memset(&m, 0, sizeof(m));
    memset(&f, 0, sizeof(f));
    vg_batcher *b = make(*state, 4, 4, 250, &m, &f);
    pthread_t th[2];
    producer p[2];

    vg_batcher_set_active(b, 2);
    for (int i = 0; i < 2; i++) {
        p[i] = (producer){.b = b, .stream = i, .count = 1, .limit = 4};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    wait_pending(b, 2);
    assert_int_equal(vg_batcher_step(b), 2);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].last_rc, 0);
    }
    assert_int_equal(f.waits, 0);
    /* one stream alone: not delayed either */
    vg_batcher_set_active(b, 1);
    p[0] = (producer){.b = b, .stream = 3, .count = 1, .limit = 4};
    assert_int_equal(pthread_create(&th[0], NULL, produce, &p[0]), 0);
    wait_pending(b, 1);
    assert_int_equal(vg_batcher_step(b), 1);
    pthread_join(th[0], NULL);
    assert_int_equal(f.waits, 0);
    /* unknown (0): the full wait again */
    vg_batcher_set_active(b, 0);
    p[0] = (producer){.b = b, .stream = 1, .count = 1, .limit = 4};
    assert_int_equal(pthread_create(&th[0], NULL, produce, &p[0]), 0);
    wait_pending(b, 1);
    assert_int_equal(vg_batcher_step(b), 1);
    pthread_join(th[0], NULL);
    assert_int_equal(f.waited, 250 * MS);
    vg_batcher_destroy(&b);
}

static void test_companion_arriving_in_the_wait_joins_the_batch(void **state)
{
    static model m;
    fake f;
    sem_t go;
    memset(&m, 0, sizeof(m));
    memset(&f, 0, sizeof(f));
    sem_init(&go, 0, 0);
    vg_batcher *b = make(*state, 4, 4, 20, &m, &f);
    pthread_t t1, t2;
    producer p1 = {.b = b, .stream = 0, .count = 1, .limit = 4};
    producer p2 = {.b = b, .stream = 1, .count = 1, .limit = 4, .go = &go};

    f.release = &go;
    f.want_pending = 2;
    assert_int_equal(pthread_create(&t2, NULL, produce, &p2), 0);
    assert_int_equal(pthread_create(&t1, NULL, produce, &p1), 0);
    assert_int_equal(vg_batcher_step(b), 2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(p1.last_rc, 0);
    assert_int_equal(p2.last_rc, 0);
    assert_int_equal(p1.bad + p2.bad, 0);
    /* the wait went on to the deadline of the first request, no longer */
    assert_int_equal(f.waited, 20 * MS);
    vg_batcher_destroy(&b);
    sem_destroy(&go);
}

static void test_close_wakes_waiting_producers(void **state)
{
    static model m;
    memset(&m, 0, sizeof(m));
    vg_batcher *b = make(*state, 3, 4, 5, &m, NULL);
    pthread_t th[3];
    producer p[3];

    for (int i = 0; i < 3; i++) {
        p[i] = (producer){.b = b, .stream = i, .count = 1, .limit = 4};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    wait_pending(b, 3);
    vg_batcher_close(b);
    vg_batcher_close(b);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].last_rc, VG_ECLOSED);
    }
    int in = 1, out;
    vg_batch_request r = {.input = &in, .output = &out};
    assert_int_equal(vg_batcher_submit(b, 0, &r), VG_ECLOSED);
    assert_int_equal(vg_batcher_step(b), VG_ECLOSED);
    vg_batcher_stats st;
    vg_batcher_stats_get(b, &st, NULL);
    assert_int_equal(st.closed, 4);
    assert_int_equal(st.requests, 0);
    assert_int_equal(atomic_load(&m.batches), 0);
    vg_batcher_destroy(&b);
}

static void test_stop_flag_interrupts_a_queued_submit(void **state)
{
    vg_context *ctx = *state;
    static model m;
    memset(&m, 0, sizeof(m));
    vg_batcher *b = make(ctx, 2, 2, 5, &m, NULL);
    pthread_t th;
    producer p = {.b = b, .stream = 1, .count = 1, .limit = 2};

    assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
    wait_pending(b, 1);
    vg_context_request_stop(ctx);
    pthread_join(th, NULL);
    assert_int_equal(p.last_rc, VG_EINTR);
    assert_int_equal(vg_batcher_step(b), VG_EINTR);
    int in = 1, out;
    vg_batch_request r = {.input = &in, .output = &out};
    assert_int_equal(vg_batcher_submit(b, 0, &r), VG_EINTR);
    vg_batcher_stats st;
    vg_batcher_stats_get(b, &st, NULL);
    assert_int_equal(st.interrupted, 2);
    assert_int_equal(st.pending, 0);
    assert_int_equal(atomic_load(&m.batches), 0);
    vg_context_clear_stop(ctx);
    vg_batcher_destroy(&b);
}

static void test_run_failure_reaches_every_request(void **state)
{
    static model m;
    fake f;
    memset(&m, 0, sizeof(m));
    memset(&f, 0, sizeof(f));
    m.fail_code = VG_EINFER;
    m.first_status = VG_EIO;
    vg_batcher *b = make(*state, 2, 2, 5, &m, &f);
    pthread_t th[2];
    producer p[2];

    for (int i = 0; i < 2; i++) {
        p[i] = (producer){.b = b, .stream = i, .count = 1, .limit = 2};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    wait_pending(b, 2);
    assert_int_equal(vg_batcher_step(b), 2);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    /* the first keeps the status run_batch gave it, the other gets the
     * batch's code */
    assert_true((p[0].last_rc == VG_EIO && p[1].last_rc == VG_EINFER) ||
                (p[0].last_rc == VG_EINFER && p[1].last_rc == VG_EIO));
    vg_batcher_stats st;
    vg_batcher_stats_get(b, &st, NULL);
    assert_int_equal(st.failed, 2);
    vg_batcher_destroy(&b);
}

static void test_second_request_of_a_stream_is_refused(void **state)
{
    static model m;
    memset(&m, 0, sizeof(m));
    vg_batcher *b = make(*state, 2, 2, 5, &m, NULL);
    pthread_t th;
    producer p = {.b = b, .stream = 0, .count = 1, .limit = 2};
    int in = 1, out;
    vg_batch_request r = {.input = &in, .output = &out};

    assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
    wait_pending(b, 1);
    assert_int_equal(vg_batcher_submit(b, 0, &r), VG_EBUSY);
    assert_int_equal(vg_batcher_submit(b, 2, &r), VG_EINVAL);
    assert_int_equal(vg_batcher_submit(b, -1, &r), VG_EINVAL);
    vg_batcher_close(b);
    pthread_join(th, NULL);
    assert_int_equal(p.last_rc, VG_ECLOSED);
    vg_batcher_destroy(&b);
}

static void test_bad_options_are_refused(void **state)
{
    vg_context *ctx = *state;
    vg_batcher_opts o = vg_batcher_defaults();
    vg_batcher *b = (vg_batcher *)&o;

    o.max_streams = 4;
    assert_int_equal(vg_batcher_create(ctx, &o, &b), VG_EINVAL); /* no fn */
    assert_null(b);
    assert_non_null(strstr(vg_context_errmsg(ctx), "run_batch missing"));
    o.run_batch = run_model;
    o.max_batch = 0;
    assert_int_equal(vg_batcher_create(ctx, &o, &b), VG_EINVAL);
    o.max_batch = 2;
    o.max_streams = 0;
    assert_int_equal(vg_batcher_create(ctx, &o, &b), VG_EINVAL);
    o.max_streams = 2;
    o.max_wait_ms = -1;
    assert_int_equal(vg_batcher_create(ctx, &o, &b), VG_EINVAL);
    assert_int_equal(vg_batcher_create(ctx, NULL, &b), VG_EINVAL);
}

static void test_create_fails_cleanly_at_every_allocation(void **state)
{
    vg_context *ctx = *state;
    vg_batcher_opts o = vg_batcher_defaults();
    o.max_streams = 3;
    o.max_batch = 2;
    o.run_batch = run_model;
    int failed = 0;
    for (uint64_t n = 1; n < 20; n++) {
        vg_batcher *b;
        vg_context_fail_alloc(ctx, n, 0);
        int rc = vg_batcher_create(ctx, &o, &b);
        vg_context_fail_alloc(ctx, 0, 0);
        if (rc == 0) {
            vg_batcher_destroy(&b);
            break;
        }
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(b);
        failed++;
    }
    assert_true(failed >= 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_every_request_completed_once_with_its_own_result),
        T(test_max_batch_one_runs_every_request_alone),
        T(test_full_batch_is_dispatched_without_waiting),
        T(test_lone_request_runs_when_the_wait_elapses),
        T(test_every_active_stream_in_leaves_without_waiting),
        T(test_companion_arriving_in_the_wait_joins_the_batch),
        T(test_close_wakes_waiting_producers),
        T(test_stop_flag_interrupts_a_queued_submit),
        T(test_run_failure_reaches_every_request),
        T(test_second_request_of_a_stream_is_refused),
        T(test_bad_options_are_refused),
        T(test_create_fails_cleanly_at_every_allocation),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
