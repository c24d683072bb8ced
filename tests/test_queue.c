#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vigil/queue.h"

static void test_items_come_out_in_order(void **state)
{
    vg_queue *q;
    int v;
    (void)state;
    assert_int_equal(
        vg_queue_create(NULL, sizeof(int), 3, VG_QUEUE_BLOCK, NULL, NULL, &q),
        0);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(vg_queue_push(q, &i, 0), 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(vg_queue_pop(q, &v, 0), 0);
        assert_int_equal(v, i);
    }
    assert_int_equal(vg_queue_pop(q, &v, 0), VG_EAGAIN);
    vg_queue_destroy(&q);
    assert_null(q);
}

static void test_full_queue_blocks_then_times_out(void **state)
{
    vg_queue *q;
    int v = 7;
    (void)state;
    assert_int_equal(
        vg_queue_create(NULL, sizeof(int), 1, VG_QUEUE_BLOCK, NULL, NULL, &q),
        0);
    assert_int_equal(vg_queue_push(q, &v, 0), 0);
    assert_int_equal(vg_queue_push(q, &v, 0), VG_EAGAIN);
    assert_int_equal(vg_queue_push(q, &v, 20), VG_EAGAIN);
    vg_queue_destroy(&q);
}

static void count_drop(void *user, void *item)
{
    int *dropped_sum = user;
    *dropped_sum += *(int *)item;
}

static void test_drop_oldest_evicts_and_counts(void **state)
{
    vg_queue *q;
    vg_queue_stats st;
    int sum = 0, v;
    (void)state;
    assert_int_equal(vg_queue_create(NULL, sizeof(int), 2, VG_QUEUE_DROP_OLDEST,
                                     count_drop, &sum, &q),
                     0);
    for (int i = 1; i <= 5; i++)
        assert_int_equal(vg_queue_push(q, &i, 0), 0);
    assert_int_equal(sum, 1 + 2 + 3);
    vg_queue_stats_get(q, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.high_water, 2);
    assert_int_equal(vg_queue_pop(q, &v, 0), 0);
    assert_int_equal(v, 4);
    vg_queue_destroy(&q);
}

/* Negative items stand for markers (a live input's drop / reconnect / end):
 * they must reach the consumer. */
static int non_negative(void *user, const void *item)
{
    (void)user;
    return *(const int *)item >= 0;
}

static void test_drop_oldest_keeps_items_that_may_not_be_dropped(void **state)
{
    vg_queue *q;
    vg_queue_stats st;
    int sum = 0, v;
    const int pushes[] = {-1, 1, 2, 3, -2, 4};
    const int expect[] = {-1, -2, 4};
    (void)state;
    assert_int_equal(vg_queue_create(NULL, sizeof(int), 3, VG_QUEUE_DROP_OLDEST,
                                     count_drop, &sum, &q),
                     0);
    vg_queue_set_droppable(q, non_negative);
    for (int i = 0; i < 6; i++)
        assert_int_equal(vg_queue_push(q, &pushes[i], 0), 0);
    /* [-1 1 2] +3 evicts 1, [-1 2 3] +(-2) evicts 2, [-1 3 -2] +4 evicts 3 */
    assert_int_equal(sum, 1 + 2 + 3);
    vg_queue_stats_get(q, &st);
    assert_int_equal(st.dropped, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(vg_queue_pop(q, &v, 0), 0);
        assert_int_equal(v, expect[i]);
    }
    assert_int_equal(vg_queue_pop(q, &v, 0), VG_EAGAIN);
    vg_queue_destroy(&q);
}

static void test_drop_oldest_waits_when_nothing_may_be_dropped(void **state)
{
    vg_queue *q;
    vg_queue_stats st;
    int sum = 0, v;
    const int a = -1, b = -2, c = 5;
    (void)state;
    assert_int_equal(vg_queue_create(NULL, sizeof(int), 2, VG_QUEUE_DROP_OLDEST,
                                     count_drop, &sum, &q),
                     0);
    vg_queue_set_droppable(q, non_negative);
    assert_int_equal(vg_queue_push(q, &a, 0), 0);
    assert_int_equal(vg_queue_push(q, &b, 0), 0);
    assert_int_equal(vg_queue_push(q, &c, 0), VG_EAGAIN);
    vg_queue_stats_get(q, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(sum, 0);
    assert_int_equal(vg_queue_pop(q, &v, 0), 0);
    assert_int_equal(v, -1);
    assert_int_equal(vg_queue_push(q, &c, 0), 0); /* room again */
    vg_queue_destroy(&q);
}

struct prod {
    vg_queue *q;
    int n;
};

static void *producer(void *arg)
{
    struct prod *p = arg;
    for (int i = 0; i < p->n; i++)
        if (vg_queue_push(p->q, &i, -1) != 0)
            break;
    vg_queue_close(p->q);
    return NULL;
}

static void test_close_drains_then_reports_closed(void **state)
{
    vg_queue *q;
    pthread_t t;
    struct prod p;
    int v, expect = 0;
    (void)state;
    assert_int_equal(
        vg_queue_create(NULL, sizeof(int), 2, VG_QUEUE_BLOCK, NULL, NULL, &q),
        0);
    p.q = q;
    p.n = 1000;
    pthread_create(&t, NULL, producer, &p);
    while (vg_queue_pop(q, &v, -1) == 0) {
        assert_int_equal(v, expect);
        expect++;
    }
    pthread_join(t, NULL);
    assert_int_equal(expect, 1000);
    assert_int_equal(vg_queue_push(q, &v, 0), VG_ECLOSED);
    vg_queue_destroy(&q);
}

static void test_create_survives_allocation_failure(void **state)
{
    vg_context *ctx;
    vg_queue *q = NULL;
    vg_alloc_stats st;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    for (int n = 1; n <= 2; n++) {
        vg_context_fail_alloc(ctx, (uint64_t)n, 0);
        assert_int_equal(
            vg_queue_create(ctx, 8, 4, VG_QUEUE_BLOCK, NULL, NULL, &q),
            VG_ENOMEM);
        assert_null(q);
    }
    vg_context_fail_alloc(ctx, 0, 0);
    assert_int_equal(vg_queue_create(ctx, 8, 4, VG_QUEUE_BLOCK, NULL, NULL, &q),
                     0);
    vg_queue_destroy(&q);
    vg_context_alloc_stats(ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_come_out_in_order),
        cmocka_unit_test(test_full_queue_blocks_then_times_out),
        cmocka_unit_test(test_drop_oldest_evicts_and_counts),
        cmocka_unit_test(test_drop_oldest_keeps_items_that_may_not_be_dropped),
        cmocka_unit_test(test_drop_oldest_waits_when_nothing_may_be_dropped),
        cmocka_unit_test(test_close_drains_then_reports_closed),
        cmocka_unit_test(test_create_survives_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
