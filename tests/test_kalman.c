/* Tests of the tracker's constant-velocity Kalman filter. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "track/track_internal.h"

/* A box moving at (vx, vy) px/frame from (x0, y0), aspect 0.5, height 80. */
static void truth(int frame, double z[4])
{
    z[0] = 100.0 + 3.0 * frame;
    z[1] = 200.0 - 1.5 * frame;
    z[2] = 0.5;
    z[3] = 80.0;
}

/* Runs n frames of predict + update on the exact measurements. */
static void run_frames(vgi_kalman *k, int n)
{
    double z[4];
    truth(0, z);
    vgi_kalman_init(k, z);
    for (int f = 1; f <= n; f++) {
        vgi_kalman_predict(k);
        truth(f, z);
        assert_int_equal(vgi_kalman_update(k, z), 0);
    }
}

static void test_prediction_error_of_constant_velocity_shrinks(void **state)
{
    vgi_kalman k;
    double z[4], early, late;
    (void)state;
    run_frames(&k, 2);
    vgi_kalman_predict(&k);
    truth(3, z);
    early = hypot(k.mean[0] - z[0], k.mean[1] - z[1]);
    run_frames(&k, 60);
    vgi_kalman_predict(&k);
    truth(61, z);
    late = hypot(k.mean[0] - z[0], k.mean[1] - z[1]);
    assert_true(early > 1.0);
    assert_true(late < 0.1);
    assert_true(late < early / 10);
}

static void test_velocity_estimate_converges_to_true_velocity(void **state)
{
    vgi_kalman k;
    (void)state;
    run_frames(&k, 60);
    assert_float_equal(k.mean[4], 3.0, 0.05);
    assert_float_equal(k.mean[5], -1.5, 0.05);
    assert_float_equal(k.mean[6], 0.0, 1e-3);
    assert_float_equal(k.mean[7], 0.0, 0.05);
}

static void test_prediction_alone_extrapolates_the_motion(void **state)
{
    vgi_kalman k;
    double z[4];
    (void)state;
    run_frames(&k, 60);
    for (int f = 61; f <= 70; f++)
        vgi_kalman_predict(&k);
    truth(70, z);
    assert_float_equal(k.mean[0], z[0], 1.0);
    assert_float_equal(k.mean[1], z[1], 1.0);
    assert_float_equal(k.mean[3], z[3], 1.0);
}

static void
test_prediction_grows_uncertainty_and_update_shrinks_it(void **state)
{
    vgi_kalman k;
    double z[4], before, predicted, updated;
    (void)state;
    run_frames(&k, 10);
    before = k.cov[0];
    vgi_kalman_predict(&k);
    predicted = k.cov[0];
    truth(11, z);
    assert_int_equal(vgi_kalman_update(&k, z), 0);
    updated = k.cov[0];
    assert_true(predicted > before);
    assert_true(updated < predicted);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            assert_float_equal(k.cov[i * 8 + j], k.cov[j * 8 + i], 1e-9);
}

static void test_update_lands_between_prediction_and_measurement(void **state)
{
    vgi_kalman k;
    double z[4] = {50, 60, 0.5, 100}, m[4] = {70, 60, 0.5, 100};
    (void)state;
    vgi_kalman_init(&k, z);
    vgi_kalman_predict(&k);
    assert_int_equal(vgi_kalman_update(&k, m), 0);
    assert_true(k.mean[0] > 50 && k.mean[0] < 70);
    assert_true(k.mean[4] > 0); /* it has started to move right */
    assert_float_equal(k.mean[1], 60, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prediction_error_of_constant_velocity_shrinks),
        cmocka_unit_test(test_velocity_estimate_converges_to_true_velocity),
        cmocka_unit_test(test_prediction_alone_extrapolates_the_motion),
        cmocka_unit_test(
            test_prediction_grows_uncertainty_and_update_shrinks_it),
        cmocka_unit_test(test_update_lands_between_prediction_and_measurement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
