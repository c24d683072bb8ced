/* Tests of vg_box_iou and vg_nms over hand-made boxes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/detect.h"

static vg_detection det(float x, float y, float w, float h, float score,
                        int class_id)
{
    vg_detection d;
    d.box.x = x;
    d.box.y = y;
    d.box.w = w;
    d.box.h = h;
    d.score = score;
    d.class_id = class_id;
    return d;
}

static void test_iou_of_identical_disjoint_and_partial_boxes(void **state)
{
    vg_box a = {0, 0, 10, 10}, b = {5, 0, 10, 10}, c = {20, 20, 5, 5};
    vg_box touching = {10, 0, 10, 10};
    (void)state;
    assert_float_equal(vg_box_iou(&a, &a), 1.0f, 1e-6);
    assert_float_equal(vg_box_iou(&a, &b), 50.0f / 150.0f, 1e-6);
    assert_float_equal(vg_box_iou(&b, &a), 50.0f / 150.0f, 1e-6);
    assert_float_equal(vg_box_iou(&a, &c), 0.0f, 0.0);
    assert_float_equal(vg_box_iou(&a, &touching), 0.0f, 0.0);
}

static void test_overlapping_same_class_keeps_the_best(void **state)
{
    vg_detection d[2];
    int scratch[2];
    (void)state;
    d[0] = det(0, 0, 10, 10, 0.6f, 3);
    d[1] = det(1, 1, 10, 10, 0.9f, 3);
    assert_int_equal(vg_nms(d, 2, 0.5f, 0, 10, scratch), 1);
    assert_float_equal(d[0].score, 0.9f, 0.0);
    assert_float_equal(d[0].box.x, 1.0f, 0.0);
}

static void test_overlapping_different_classes_both_kept(void **state)
{
    vg_detection d[2];
    (void)state;
    d[0] = det(0, 0, 10, 10, 0.6f, 0);
    d[1] = det(1, 1, 10, 10, 0.9f, 2);
    assert_int_equal(vg_nms(d, 2, 0.5f, 0, 10, NULL), 2);
    assert_int_equal(d[0].class_id, 2);
    assert_int_equal(d[1].class_id, 0);
}

static void test_agnostic_mode_suppresses_across_classes(void **state)
{
    vg_detection d[2];
    (void)state;
    d[0] = det(0, 0, 10, 10, 0.6f, 0);
    d[1] = det(1, 1, 10, 10, 0.9f, 2);
    assert_int_equal(vg_nms(d, 2, 0.5f, 1, 10, NULL), 1);
    assert_int_equal(d[0].class_id, 2);
}

static void test_overlap_at_or_below_threshold_is_kept(void **state)
{
    vg_detection d[2];
    (void)state;
    /* IoU exactly 1/3 */
    d[0] = det(0, 0, 10, 10, 0.9f, 1);
    d[1] = det(5, 0, 10, 10, 0.8f, 1);
    assert_int_equal(vg_nms(d, 2, 1.0f / 3.0f, 0, 10, NULL), 2);
    d[0] = det(0, 0, 10, 10, 0.9f, 1);
    d[1] = det(5, 0, 10, 10, 0.8f, 1);
    assert_int_equal(vg_nms(d, 2, 0.3f, 0, 10, NULL), 1);
}

static void test_max_keep_limits_the_result(void **state)
{
    vg_detection d[5];
    (void)state;
    for (int i = 0; i < 5; i++)
        d[i] = det(20.0f * (float)i, 0, 10, 10, 0.1f * (float)(i + 1), 0);
    assert_int_equal(vg_nms(d, 5, 0.5f, 0, 3, NULL), 3);
    assert_float_equal(d[0].score, 0.5f, 1e-6);
    assert_float_equal(d[2].score, 0.3f, 1e-6);
    assert_int_equal(vg_nms(d, 5, 0.5f, 0, 0, NULL), 0);
}

static void test_result_is_ordered_by_score(void **state)
{
    const float scores[7] = {0.3f, 0.95f, 0.1f, 0.7f, 0.5f, 0.92f, 0.05f};
    vg_detection d[7];
    int scratch[7];
    (void)state;
    for (int i = 0; i < 7; i++) /* disjoint boxes: nothing suppressed */
        d[i] = det(0, 30.0f * (float)i, 10, 10, scores[i], i % 2);
    assert_int_equal(vg_nms(d, 7, 0.5f, 0, 100, scratch), 7);
    for (int i = 1; i < 7; i++)
        assert_true(d[i - 1].score >= d[i].score);
    assert_float_equal(d[0].score, 0.95f, 0.0);
    assert_float_equal(d[0].box.y, 30.0f, 0.0);
    assert_float_equal(d[6].score, 0.05f, 0.0);
}

static void test_chain_suppression_uses_kept_boxes_only(void **state)
{
    vg_detection d[3];
    (void)state;
    /* b overlaps a (suppressed); c overlaps b but not a, so c survives */
    d[0] = det(0, 0, 10, 10, 0.9f, 0);
    d[1] = det(4, 0, 10, 10, 0.8f, 0);
    d[2] = det(9, 0, 10, 10, 0.7f, 0);
    assert_int_equal(vg_nms(d, 3, 0.3f, 0, 10, NULL), 2);
    assert_float_equal(d[0].box.x, 0.0f, 0.0);
    assert_float_equal(d[1].box.x, 9.0f, 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iou_of_identical_disjoint_and_partial_boxes),
        cmocka_unit_test(test_overlapping_same_class_keeps_the_best),
        cmocka_unit_test(test_overlapping_different_classes_both_kept),
        cmocka_unit_test(test_agnostic_mode_suppresses_across_classes),
        cmocka_unit_test(test_overlap_at_or_below_threshold_is_kept),
        cmocka_unit_test(test_max_keep_limits_the_result),
        cmocka_unit_test(test_result_is_ordered_by_score),
        cmocka_unit_test(test_chain_suppression_uses_kept_boxes_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
