/* Tests of the Jonker-Volgenant assignment solver against brute force. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "track/track_internal.h"

#define MAXN 8

/* big enough for MAXN x MAXN (checked in solve_and_score) */
#define SCRATCH_DOUBLES 256

/* xorshift: reproducible random numbers without global state */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static float rand_cost(uint32_t *s, int levels)
{
    /* few levels make ties common; many make them rare */
    return (float)(next_rand(s) % (uint32_t)levels) / (float)levels;
}

typedef struct brute {
    const float *c;
    int rows, cols;
    double limit;
    int used[MAXN];
    double best;
    int best_pairs;
} brute;

/* Least total of (cost - limit) over partial matchings using only pairs with
 * cost <= limit (limit finite), or least total over matchings of
 * min(rows, cols) pairs (limit infinite, then objective is the plain sum). */
static void brute_rec(brute *b, int row, double acc, int pairs)
{
    if (row == b->rows) {
        int need = b->rows < b->cols ? b->rows : b->cols;
        if (isinf(b->limit) && pairs != need)
            return;
        if (acc < b->best) {
            b->best = acc;
            b->best_pairs = pairs;
        }
        return;
    }
    brute_rec(b, row + 1, acc, pairs);
    for (int j = 0; j < b->cols; j++) {
        double c = b->c[row * b->cols + j];
        if (b->used[j] || c > b->limit)
            continue;
        b->used[j] = 1;
        brute_rec(b, row + 1, acc + (isinf(b->limit) ? c : c - b->limit),
                  pairs + 1);
        b->used[j] = 0;
    }
}

static double brute_best(const float *c, int rows, int cols, double limit)
{
    brute b;
    memset(&b, 0, sizeof(b));
    b.c = c;
    b.rows = rows;
    b.cols = cols;
    b.limit = limit;
    b.best = INFINITY;
    brute_rec(&b, 0, 0, 0);
    return b.best;
}

/* Checks the solver's result is a valid matching and returns its objective
 * in the brute force's terms. */
static double solve_and_score(const float *c, int rows, int cols, float limit,
                              int *pairs_out)
{
    double scratch_buf[SCRATCH_DOUBLES];
    int r2c[MAXN], c2r[MAXN], pairs, counted = 0;
    double total = 0;
    assert_true(vgi_lap_scratch_bytes(MAXN, MAXN) <= sizeof(scratch_buf));
    pairs = vgi_lap_solve(c, rows, cols, limit, r2c, c2r, scratch_buf);
    for (int i = 0; i < rows; i++) {
        if (r2c[i] < 0)
            continue;
        assert_in_range(r2c[i], 0, cols - 1);
        assert_int_equal(c2r[r2c[i]], i);
        assert_true(c[i * cols + r2c[i]] <= limit);
        total += isinf(limit) ? c[i * cols + r2c[i]]
                              : c[i * cols + r2c[i]] - (double)limit;
        counted++;
    }
    for (int j = 0; j < cols; j++)
        if (c2r[j] >= 0)
            assert_int_equal(r2c[c2r[j]], j);
    assert_int_equal(pairs, counted);
    *pairs_out = pairs;
    return total;
}

static void run_random(int levels, float limit, uint32_t seed, int trials)
{
    uint32_t s = seed;
    float c[MAXN * MAXN];
    for (int t = 0; t < trials; t++) {
        int rows = 1 + (int)(next_rand(&s) % 7),
            cols = 1 + (int)(next_rand(&s) % 7);
        int pairs;
        double got, want;
        for (int i = 0; i < rows * cols; i++)
            c[i] = rand_cost(&s, levels);
        got = solve_and_score(c, rows, cols, limit, &pairs);
        want = brute_best(c, rows, cols, limit);
        if (fabs(got - want) > 1e-5) {
            print_error("trial %d %dx%d limit %g: got %.6f want %.6f\n", t,
                        rows, cols, (double)limit, got, want);
            fail();
        }
        if (isinf(limit))
            assert_int_equal(pairs, rows < cols ? rows : cols);
    }
}

static void
test_random_rectangular_without_limit_matches_brute_force(void **state)
{
    (void)state;
    run_random(1000, INFINITY, 12345u, 400);
}

static void
test_random_with_ties_without_limit_matches_brute_force(void **state)
{
    (void)state;
    run_random(4, INFINITY, 777u, 400);
}

static void test_random_with_cost_limit_matches_brute_force(void **state)
{
    (void)state;
    run_random(1000, 0.5f, 4242u, 400);
    run_random(1000, 0.8f, 99u, 400);
}

static void
test_random_with_ties_and_cost_limit_matches_brute_force(void **state)
{
    (void)state;
    run_random(5, 0.6f, 31337u, 400);
}

static void test_full_seven_by_seven_matches_brute_force(void **state)
{
    uint32_t s = 2024u;
    float c[49];
    (void)state;
    for (int t = 0; t < 20; t++) {
        int pairs;
        for (int i = 0; i < 49; i++)
            c[i] = rand_cost(&s, 10000);
        assert_float_equal(solve_and_score(c, 7, 7, INFINITY, &pairs),
                           brute_best(c, 7, 7, INFINITY), 1e-5);
        assert_int_equal(pairs, 7);
        assert_float_equal(solve_and_score(c, 7, 7, 0.3f, &pairs),
                           brute_best(c, 7, 7, 0.3), 1e-5);
    }
}

static void test_costs_above_limit_leave_rows_unassigned(void **state)
{
    double scratch_buf[SCRATCH_DOUBLES];
    /* row 0 fits column 1 only; row 1 fits nothing */
    const float c[] = {0.9f, 0.2f, 0.95f, 0.85f, 0.99f, 0.81f};
    int r2c[2], c2r[3];
    (void)state;
    assert_int_equal(vgi_lap_solve(c, 2, 3, 0.8f, r2c, c2r, scratch_buf), 1);
    assert_int_equal(r2c[0], 1);
    assert_int_equal(r2c[1], -1);
    assert_int_equal(c2r[0], -1);
    assert_int_equal(c2r[1], 0);
    assert_int_equal(c2r[2], -1);
}

static void test_limit_prefers_two_cheap_pairs_over_greedy_one(void **state)
{
    double scratch_buf[SCRATCH_DOUBLES];
    /* greedy takes (0,0) at 0.1 and leaves row 1 with nothing under the
     * limit; the optimum is (0,1) and (1,0) */
    const float c[] = {0.1f, 0.2f, 0.25f, 0.9f};
    int r2c[2], c2r[2];
    (void)state;
    assert_int_equal(vgi_lap_solve(c, 2, 2, 0.5f, r2c, c2r, scratch_buf), 2);
    assert_int_equal(r2c[0], 1);
    assert_int_equal(r2c[1], 0);
}

static void test_empty_matrix_assigns_nothing(void **state)
{
    double scratch_buf[SCRATCH_DOUBLES];
    int r2c[3] = {7, 7, 7}, c2r[1] = {7};
    (void)state;
    assert_int_equal(vgi_lap_solve(NULL, 3, 0, 0.5f, r2c, c2r, scratch_buf), 0);
    assert_int_equal(r2c[0], -1);
    assert_int_equal(r2c[2], -1);
    assert_int_equal(vgi_lap_solve(NULL, 0, 1, 0.5f, r2c, c2r, scratch_buf), 0);
    assert_int_equal(c2r[0], -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_random_rectangular_without_limit_matches_brute_force),
        cmocka_unit_test(
            test_random_with_ties_without_limit_matches_brute_force),
        cmocka_unit_test(test_random_with_cost_limit_matches_brute_force),
        cmocka_unit_test(
            test_random_with_ties_and_cost_limit_matches_brute_force),
        cmocka_unit_test(test_full_seven_by_seven_matches_brute_force),
        cmocka_unit_test(test_costs_above_limit_leave_rows_unassigned),
        cmocka_unit_test(test_limit_prefers_two_cheap_pairs_over_greedy_one),
        cmocka_unit_test(test_empty_matrix_assigns_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
