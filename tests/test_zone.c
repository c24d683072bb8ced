/* Zone geometry: point in polygon, self-intersection, line sides, and
 * normalised zones resolved to pixels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/rules.h"

static const vg_point square[] = {{0, 0}, {10, 0}, {10, 10}, {0, 10}};

/* A U shape: two arms (x 0..3 and 7..10) joined at the bottom (y 7..10). */
static const vg_point u_shape[] = {{0, 0}, {3, 0},  {3, 7},   {7, 7},
                                   {7, 0}, {10, 0}, {10, 10}, {0, 10}};

static vg_point pt(float x, float y)
{
    vg_point p = {x, y};
    return p;
}

static void test_square_contains_inside_not_outside(void **state)
{
    (void)state;
    assert_true(vg_zone_contains(square, 4, pt(5, 5)));
    assert_false(vg_zone_contains(square, 4, pt(11, 5)));
    assert_false(vg_zone_contains(square, 4, pt(5, -0.5f)));
    assert_false(vg_zone_contains(square, 4, pt(-3, -3)));
}

static void test_points_on_edges_and_vertices_are_inside(void **state)
{
    (void)state;
    assert_true(vg_zone_contains(square, 4, pt(0, 5)));   /* left edge */
    assert_true(vg_zone_contains(square, 4, pt(10, 5)));  /* right edge */
    assert_true(vg_zone_contains(square, 4, pt(5, 10)));  /* bottom edge */
    assert_true(vg_zone_contains(square, 4, pt(10, 10))); /* vertex */
    assert_true(vg_zone_contains(square, 4, pt(0, 0)));
}

static void test_concave_notch_is_outside_arms_inside(void **state)
{
    (void)state;
    assert_false(vg_zone_contains(u_shape, 8, pt(5, 3))); /* in the notch */
    assert_true(vg_zone_contains(u_shape, 8, pt(1.5f, 3)));
    assert_true(vg_zone_contains(u_shape, 8, pt(8.5f, 3)));
    assert_true(vg_zone_contains(u_shape, 8, pt(5, 9)));
    /* level with the notch's bottom vertices: the ray passes through two
     * vertices and must count each once */
    assert_true(vg_zone_contains(u_shape, 8, pt(1, 7)));
    assert_false(vg_zone_contains(u_shape, 8, pt(-1, 7)));
}

static void test_ray_through_a_vertex_counts_once(void **state)
{
    const vg_point diamond[] = {{5, 0}, {10, 5}, {5, 10}, {0, 5}};
    (void)state;
    assert_true(vg_zone_contains(diamond, 4, pt(2, 5)));
    assert_false(vg_zone_contains(diamond, 4, pt(-2, 5)));
    assert_false(vg_zone_contains(diamond, 4, pt(11, 5)));
}

static void test_degenerate_polygon_contains_nothing(void **state)
{
    (void)state;
    assert_false(vg_zone_contains(square, 2, pt(0, 0)));
    assert_false(vg_zone_contains(NULL, 4, pt(1, 1)));
}

static void test_bowtie_self_intersects(void **state)
{
    const vg_point bowtie[] = {{0, 0}, {10, 10}, {10, 0}, {0, 10}};
    int a = -1, b = -1;
    (void)state;
    assert_true(vg_polygon_self_intersects(bowtie, 4, &a, &b));
    assert_int_equal(a, 0);
    assert_int_equal(b, 2);
}

static void test_simple_polygons_do_not_self_intersect(void **state)
{
    (void)state;
    assert_false(vg_polygon_self_intersects(square, 4, NULL, NULL));
    assert_false(vg_polygon_self_intersects(u_shape, 8, NULL, NULL));
}

static void test_folding_back_and_touching_edges_self_intersect(void **state)
{
    const vg_point fold[] = {{0, 0}, {10, 0}, {5, 0}, {5, 5}};
    const vg_point touch[] = {{0, 0}, {10, 0}, {10, 10}, {5, 0}, {0, 10}};
    (void)state;
    assert_true(vg_polygon_self_intersects(fold, 4, NULL, NULL));
    assert_true(vg_polygon_self_intersects(touch, 5, NULL, NULL));
}

static void test_line_side_right_of_a_to_b_is_positive(void **state)
{
    (void)state;
    /* A->B to the right on screen: below (y larger) is its right */
    assert_int_equal(vg_line_side(pt(0, 0), pt(10, 0), pt(5, 3)), 1);
    assert_int_equal(vg_line_side(pt(0, 0), pt(10, 0), pt(5, -3)), -1);
    assert_int_equal(vg_line_side(pt(0, 0), pt(10, 0), pt(20, 0)), 0);
    /* A->B downwards: screen-left (x smaller) is its right */
    assert_int_equal(vg_line_side(pt(0, 0), pt(0, 10), pt(-1, 5)), 1);
}

static void test_normalized_zone_resolves_to_pixels(void **state)
{
    vg_context *ctx;
    vg_rules_config cfg;
    vg_zone_def z;
    vg_rules *r;
    vg_zone_view v;
    (void)state;

    assert_int_equal(vg_context_create(&ctx), 0);
    vg_rules_config_init(&cfg);
    memset(&z, 0, sizeof(z));
    strcpy(z.name, "half");
    z.kind = VG_ZONE_POLYGON;
    z.units = VG_UNITS_NORMALIZED;
    z.points[0] = pt(0.5f, 0.25f);
    z.points[1] = pt(1.0f, 0.25f);
    z.points[2] = pt(1.0f, 1.0f);
    z.n_points = 3;
    assert_int_equal(vg_rules_config_add_zone(ctx, &cfg, &z), 0);
    assert_int_equal(vg_rules_create(ctx, &cfg, 800, 400, &r), 0);
    assert_int_equal(vg_rules_zone_count(r), 1);
    assert_int_equal(vg_rules_zone(r, 0, &v), 0);
    assert_string_equal(v.name, "half");
    assert_int_equal(v.n_points, 3);
    assert_float_equal(v.points[0].x, 400, 1e-3);
    assert_float_equal(v.points[0].y, 100, 1e-3);
    assert_float_equal(v.points[2].x, 800, 1e-3);
    assert_float_equal(v.points[2].y, 400, 1e-3);
    vg_rules_destroy(&r);
    assert_null(r);
    vg_rules_config_free(ctx, &cfg);
    vg_context_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_square_contains_inside_not_outside),
        cmocka_unit_test(test_points_on_edges_and_vertices_are_inside),
        cmocka_unit_test(test_concave_notch_is_outside_arms_inside),
        cmocka_unit_test(test_ray_through_a_vertex_counts_once),
        cmocka_unit_test(test_degenerate_polygon_contains_nothing),
        cmocka_unit_test(test_bowtie_self_intersects),
        cmocka_unit_test(test_simple_polygons_do_not_self_intersect),
        cmocka_unit_test(test_folding_back_and_touching_edges_self_intersect),
        cmocka_unit_test(test_line_side_right_of_a_to_b_is_positive),
        cmocka_unit_test(test_normalized_zone_resolves_to_pixels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
