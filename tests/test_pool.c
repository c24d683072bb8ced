#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/pool.h"

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
    /* every pool freed everything it took */
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&ctx);
    return 0;
}

static void test_buffer_is_recycled_after_unref(void **state)
{
    vg_pool *pool;
    vg_buf *a, *b;
    void *first;

    assert_int_equal(vg_pool_create(*state, "t", 100, 1, &pool), 0);
    assert_int_equal(vg_pool_get(pool, 0, &a), 0);
    first = vg_buf_data(a);
    assert_int_equal((uintptr_t)first % 64, 0);
    assert_int_equal(vg_buf_size(a), 100);
    assert_true(vg_buf_writable(a));
    vg_buf_unref(&a);
    assert_null(a);
    assert_int_equal(vg_pool_get(pool, 0, &b), 0);
    assert_ptr_equal(vg_buf_data(b), first);
    vg_buf_unref(&b);
    vg_pool_destroy(&pool);
    assert_null(pool);
}

static void test_buffers_are_distinct_and_aligned(void **state)
{
    vg_pool *pool;
    vg_buf *b[3];

    assert_int_equal(vg_pool_create(*state, "t", 65, 3, &pool), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(vg_pool_get(pool, 0, &b[i]), 0);
        assert_int_equal((uintptr_t)vg_buf_data(b[i]) % 64, 0);
        memset(vg_buf_data(b[i]), i, 65); /* ASan: each holds 65 bytes */
    }
    assert_true(vg_buf_data(b[0]) != vg_buf_data(b[1]));
    assert_true(vg_buf_data(b[1]) != vg_buf_data(b[2]));
    for (int i = 0; i < 3; i++)
        vg_buf_unref(&b[i]);
    vg_pool_destroy(&pool);
}

static void test_extra_reference_keeps_buffer_out(void **state)
{
    vg_pool *pool;
    vg_buf *a, *r, *c;
    vg_pool_stats st;

    assert_int_equal(vg_pool_create(*state, "t", 16, 1, &pool), 0);
    assert_int_equal(vg_pool_get(pool, 0, &a), 0);
    r = vg_buf_ref(a);
    assert_ptr_equal(r, a);
    assert_false(vg_buf_writable(a));
    vg_buf_unref(&a);
    assert_true(vg_buf_writable(r));
    assert_int_equal(vg_pool_get(pool, 0, &c), VG_EAGAIN);
    assert_null(c);
    vg_pool_stats_get(pool, &st);
    assert_int_equal(st.in_use, 1);
    vg_buf_unref(&r);
    vg_pool_stats_get(pool, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(vg_pool_get(pool, 0, &c), 0);
    vg_buf_unref(&c);
    vg_pool_destroy(&pool);
}

static void test_get_times_out_when_exhausted(void **state)
{
    vg_pool *pool;
    vg_buf *a, *b;
    vg_pool_stats st;

    assert_int_equal(vg_pool_create(*state, "t", 16, 1, &pool), 0);
    assert_int_equal(vg_pool_get(pool, 0, &a), 0);
    assert_int_equal(vg_pool_get(pool, 50, &b), VG_EAGAIN);
    assert_null(b);
    vg_pool_stats_get(pool, &st);
    assert_int_equal(st.gets, 1);
    vg_buf_unref(&a);
    vg_pool_destroy(&pool);
}

/* Returns once n callers are blocked in vg_pool_get on pool: the pool
 * counts them under its lock, so a blocked getter is seen only once it
 * waits on the condition variable. */
static void wait_for_blocked_getters(vg_pool *pool, unsigned n)
{
    vg_pool_stats st;
    for (;;) {
        vg_pool_stats_get(pool, &st);
        if (st.waiting >= n)
            return;
        sched_yield();
    }
}

struct returner {
    vg_pool *pool;
    vg_buf *buf;
};

static void *return_once_blocked(void *arg)
{
    struct returner *r = arg;
    wait_for_blocked_getters(r->pool, 1);
    vg_buf_unref(&r->buf);
    return NULL;
}

static void test_get_unblocks_when_another_thread_returns(void **state)
{
    vg_pool *pool;
    struct returner r = {NULL, NULL};
    pthread_t th;
    vg_buf *b;
    vg_pool_stats st;

    assert_int_equal(vg_pool_create(*state, "t", 16, 1, &pool), 0);
    r.pool = pool;
    assert_int_equal(vg_pool_get(pool, 0, &r.buf), 0);
    assert_int_equal(pthread_create(&th, NULL, return_once_blocked, &r), 0);
    assert_int_equal(vg_pool_get(pool, -1, &b), 0); /* waits for ever */
    pthread_join(th, NULL);
    vg_pool_stats_get(pool, &st);
    assert_int_equal(st.waits, 1);
    assert_int_equal(st.gets, 2);
    assert_int_equal(st.waiting, 0);
    vg_buf_unref(&b);
    vg_pool_destroy(&pool);
}

struct waiter {
    vg_pool *pool;
    int rc;
};

static void *wait_get(void *arg)
{
    struct waiter *w = arg;
    vg_buf *b;
    w->rc = vg_pool_get(w->pool, -1, &b);
    vg_buf_unref(&b);
    return NULL;
}

static void test_waiter_gets_closed_when_pool_destroyed(void **state)
{
    vg_pool *pool;
    struct waiter w;
    pthread_t th;
    vg_buf *held;

    assert_int_equal(vg_pool_create(*state, "t", 16, 1, &pool), 0);
    assert_int_equal(vg_pool_get(pool, 0, &held), 0);
    w.pool = pool;
    w.rc = 1;
    assert_int_equal(pthread_create(&th, NULL, wait_get, &w), 0);
    wait_for_blocked_getters(pool, 1); /* destroy lands on a blocked get */
    vg_pool_destroy(&pool);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, VG_ECLOSED);
    vg_buf_unref(&held); /* last one out frees the pool */
}

static void test_destroy_with_buffers_out_frees_on_last_unref(void **state)
{
    vg_context *ctx = *state;
    vg_pool *pool;
    vg_buf *a, *b;
    vg_alloc_stats before, mid, after;

    vg_context_alloc_stats(ctx, &before);
    assert_int_equal(vg_pool_create(ctx, "t", 1000, 2, &pool), 0);
    assert_int_equal(vg_pool_get(pool, 0, &a), 0);
    assert_int_equal(vg_pool_get(pool, 0, &b), 0);
    vg_pool_destroy(&pool);
    assert_null(pool);
    memset(vg_buf_data(a), 1, 1000); /* still valid */
    vg_buf_unref(&a);
    vg_context_alloc_stats(ctx, &mid);
    assert_true(mid.frees == before.frees); /* b still out */
    memset(vg_buf_data(b), 2, 1000);
    vg_buf_unref(&b);
    vg_context_alloc_stats(ctx, &after);
    assert_int_equal(after.allocs - before.allocs, after.frees - before.frees);
    assert_true(after.frees > before.frees);
}

static void test_high_water_mark_counts_most_out_at_once(void **state)
{
    vg_pool *pool;
    vg_buf *b[4];
    vg_pool_stats st;

    assert_int_equal(vg_pool_create(*state, "hw", 8, 4, &pool), 0);
    assert_string_equal(vg_pool_name(pool), "hw");
    for (int i = 0; i < 3; i++)
        assert_int_equal(vg_pool_get(pool, 0, &b[i]), 0);
    for (int i = 0; i < 3; i++)
        vg_buf_unref(&b[i]);
    assert_int_equal(vg_pool_get(pool, 0, &b[0]), 0);
    vg_pool_stats_get(pool, &st);
    assert_int_equal(st.high_water, 3);
    assert_int_equal(st.in_use, 1);
    assert_int_equal(st.count, 4);
    assert_int_equal(st.buf_size, 8);
    assert_int_equal(st.gets, 4);
    assert_int_equal(st.waits, 0);
    vg_buf_unref(&b[0]);
    vg_pool_destroy(&pool);
}

static void test_create_rejects_zero_size_or_count(void **state)
{
    vg_pool *pool = (vg_pool *)1;
    assert_int_equal(vg_pool_create(*state, "t", 0, 1, &pool), VG_EINVAL);
    assert_null(pool);
    assert_int_equal(vg_pool_create(*state, "t", 8, 0, &pool), VG_EINVAL);
    assert_null(pool);
    vg_pool_destroy(&pool); /* NULL accepted */
    vg_buf_unref(NULL);
}

static void test_create_fails_cleanly_at_every_allocation(void **state)
{
    vg_context *ctx = *state;
    vg_alloc_stats st;
    vg_pool *pool;
    int rc;
    uint64_t n;

    for (n = 1; n < 100; n++) {
        vg_context_fail_alloc(ctx, n, 0);
        rc = vg_pool_create(ctx, "fault", 256, 3, &pool);
        vg_context_fail_alloc(ctx, 0, 0);
        if (rc == 0)
            break;
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(pool);
        vg_context_alloc_stats(ctx, &st);
        assert_int_equal(st.allocs, st.frees);
    }
    assert_true(n > 1); /* at least one allocation was failed */
    assert_non_null(pool);
    vg_pool_destroy(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_buffer_is_recycled_after_unref,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffers_are_distinct_and_aligned,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_extra_reference_keeps_buffer_out,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_times_out_when_exhausted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_get_unblocks_when_another_thread_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_waiter_gets_closed_when_pool_destroyed, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_destroy_with_buffers_out_frees_on_last_unref, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_high_water_mark_counts_most_out_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_rejects_zero_size_or_count,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_create_fails_cleanly_at_every_allocation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
