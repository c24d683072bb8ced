#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/overlay.h"

#define W 160
#define H 120
#define STRIDE (W * 3 + 8)
#define BG 50

struct fx {
    vg_context *ctx;
    uint8_t *rgb;
    uint8_t *ref;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f || vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    /* one spare row after the picture: drawing must never touch it */
    f->rgb = malloc((size_t)STRIDE * (H + 1));
    f->ref = malloc((size_t)STRIDE * (H + 1));
    if (!f->rgb || !f->ref)
        return -1;
    memset(f->rgb, BG, (size_t)STRIDE * (H + 1));
    memcpy(f->ref, f->rgb, (size_t)STRIDE * (H + 1));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    free(f->rgb);
    free(f->ref);
    free(f);
    return 0;
}

static const uint8_t *px(const uint8_t *rgb, int x, int y)
{
    return rgb + (size_t)y * STRIDE + (size_t)x * 3;
}

static int changed(const struct fx *f, int x, int y)
{
    return memcmp(px(f->rgb, x, y), px(f->ref, x, y), 3) != 0;
}

static int count_changed(const struct fx *f)
{
    int n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            n += changed(f, x, y);
    return n;
}

/* Nothing outside the picture's rows and row padding was written. */
static void assert_padding_untouched(const struct fx *f)
{
    for (int y = 0; y < H; y++)
        assert_memory_equal(f->rgb + y * STRIDE + W * 3,
                            f->ref + y * STRIDE + W * 3, STRIDE - W * 3);
    assert_memory_equal(f->rgb + H * STRIDE, f->ref + H * STRIDE, STRIDE);
}

static void test_track_box_is_outlined_in_its_track_colour(void **state)
{
    struct fx *f = *state;
    vg_box box = {40, 50, 60, 40};
    uint8_t c[3];

    vg_overlay_track_color(5, c);
    vg_overlay_draw_track(f->rgb, W, H, STRIDE, &box, 5, "person", 0.8f);
    assert_memory_equal(px(f->rgb, 40, 70), c, 3); /* left edge */
    assert_memory_equal(px(f->rgb, 99, 70), c, 3); /* right edge */
    assert_memory_equal(px(f->rgb, 70, 89), c, 3); /* bottom edge */
    assert_false(changed(f, 70, 70));              /* inside */
    assert_false(changed(f, 120, 70));             /* outside */
    /* the label sits above the box */
    {
        int label = 0;
        for (int y = 38; y < 50; y++)
            for (int x = 40; x < 100; x++)
                label += changed(f, x, y);
        assert_true(label > 50);
    }
    assert_padding_untouched(f);
}

static void
test_track_colour_is_stable_and_differs_between_neighbours(void **state)
{
    uint8_t a[3], b[3], c[3], white[3];
    (void)state;
    vg_overlay_track_color(3, a);
    vg_overlay_track_color(3, b);
    vg_overlay_track_color(4, c);
    vg_overlay_track_color(-1, white);
    assert_memory_equal(a, b, 3);
    assert_memory_not_equal(a, c, 3);
    assert_int_equal(white[0] & white[1] & white[2], 255);
}

static void test_box_partly_outside_is_clipped(void **state)
{
    struct fx *f = *state;
    vg_box box = {-30, 100, 80, 60}; /* past the left and bottom edges */

    vg_overlay_draw_track(f->rgb, W, H, STRIDE, &box, 1, "car", 0.5f);
    assert_true(changed(f, 10, 101)); /* the top edge inside the picture */
    assert_padding_untouched(f);
}

static void test_line_is_drawn_between_its_ends(void **state)
{
    struct fx *f = *state;

    vg_overlay_draw_line(f->rgb, W, H, STRIDE, 10, 20, 110, 20, 1, 255, 0, 0);
    assert_true(changed(f, 10, 20));
    assert_true(changed(f, 60, 20));
    assert_true(changed(f, 110, 20));
    assert_false(changed(f, 111, 20));
    assert_false(changed(f, 60, 21));
    assert_int_equal(count_changed(f), 101);
}

static void test_huge_and_invalid_coordinates_are_clipped(void **state)
{
    struct fx *f = *state;

    /* the diagonal through the picture from far outside */
    vg_overlay_draw_line(f->rgb, W, H, STRIDE, -1e9f, -1e9f, 1e9f, 1e9f, 3, 255,
                         255, 0);
    assert_true(changed(f, 50, 50));
    assert_true(changed(f, 0, 0));
    memcpy(f->ref, f->rgb, (size_t)STRIDE * (H + 1));
    vg_overlay_draw_line(f->rgb, W, H, STRIDE, NAN, 0, 10, 10, 2, 0, 0, 0);
    vg_overlay_draw_line(f->rgb, W, H, STRIDE, -INFINITY, 5, INFINITY, 5, 1, 0,
                         0, 0);
    vg_overlay_draw_line(f->rgb, W, H, STRIDE, -500, -10, 500, -10, 4, 0, 0, 0);
    vg_overlay_draw_arrow(f->rgb, W, H, STRIDE, 1e30f, 0, 2e30f, 0, 2, 0, 0, 0);
    {
        const float far_away[] = {1000, 1000, 2000, 1000, 1500, 3000};
        vg_overlay_draw_polygon(f->rgb, W, H, STRIDE, far_away, 3, 2, 0, 0, 0);
    }
    {
        vg_box box = {1e30f, -1e30f, 1e30f, 1e30f};
        vg_overlay_draw_track(f->rgb, W, H, STRIDE, &box, 2, "x", 1.0f);
    }
    assert_int_equal(count_changed(f), 0);
    assert_padding_untouched(f);
}

static void test_polygon_is_an_outline(void **state)
{
    struct fx *f = *state;
    const float square[] = {20, 20, 80, 20, 80, 80, 20, 80};

    vg_overlay_draw_polygon(f->rgb, W, H, STRIDE, square, 4, 1, 0, 255, 0);
    assert_true(changed(f, 20, 50)); /* closing edge back to the start */
    assert_true(changed(f, 80, 50));
    assert_true(changed(f, 50, 20));
    assert_true(changed(f, 50, 80));
    assert_false(changed(f, 50, 50));
    assert_int_equal(count_changed(f), 4 * 60);
}

/* Changed pixels in column x between rows y0 and y1 (inclusive). */
static int changed_in_column(const struct fx *f, int x, int y0, int y1)
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        n += changed(f, x, y);
    return n;
}

static void test_direction_arrow_points_to_the_chosen_side(void **state)
{
    struct fx *f = *state;

    /* P0 -> P1 runs right: +1 points down (y grows), -1 up */
    vg_overlay_draw_directed_line(f->rgb, W, H, STRIDE, 20, 60, 140, 60, 1, 255,
                                  255, 0);
    assert_true(changed_in_column(f, 80, 64, 85) > 10);
    assert_int_equal(changed_in_column(f, 80, 35, 57), 0);
    memset(f->rgb, BG, (size_t)STRIDE * H);
    vg_overlay_draw_directed_line(f->rgb, W, H, STRIDE, 20, 60, 140, 60, -1,
                                  255, 255, 0);
    assert_int_equal(changed_in_column(f, 80, 64, 85), 0);
    assert_true(changed_in_column(f, 80, 35, 57) > 10);
}

static void test_event_strip_keeps_only_the_last_events(void **state)
{
    struct fx *f = *state;
    vg_overlay *ov;
    vg_event ev;
    int line_h = 10, top;

    assert_int_equal(vg_overlay_create(f->ctx, 3, &ov), 0);
    assert_int_equal(vg_overlay_event_count(ov), 0);
    vg_overlay_draw_events(ov, f->rgb, W, H, STRIDE);
    assert_int_equal(count_changed(f), 0); /* nothing to show yet */
    memset(&ev, 0, sizeof(ev));
    for (int i = 0; i < 5; i++) {
        ev.time_s = 60.0 * i + 1.5;
        ev.track_id = i;
        snprintf(ev.rule, sizeof(ev.rule), "rule%d", i);
        vg_overlay_push_event(ov, &ev);
    }
    assert_int_equal(vg_overlay_event_count(ov), 3);
    vg_overlay_draw_events(ov, f->rgb, W, H, STRIDE);
    /* a band of three text lines at the bottom, nothing above it */
    top = H - 3 * line_h - 4;
    assert_true(changed(f, W - 1, top));
    assert_false(changed(f, W - 1, top - 1));
    for (int line = 0; line < 3; line++) {
        int lit = 0;
        for (int y = top + 2 + line * line_h; y < top + 9 + line * line_h; y++)
            for (int x = 0; x < 100; x++)
                lit += px(f->rgb, x, y)[0] == 255;
        assert_true(lit > 30); /* white text on every line */
    }
    assert_padding_untouched(f);
    vg_overlay_destroy(&ov);
    assert_null(ov);
    vg_overlay_destroy(&ov);
}

static void test_overlay_refuses_bad_strip_sizes(void **state)
{
    struct fx *f = *state;
    vg_overlay *ov = (vg_overlay *)1;
    assert_int_equal(vg_overlay_create(f->ctx, 0, &ov), VG_EINVAL);
    assert_null(ov);
    assert_int_equal(vg_overlay_create(f->ctx, 65, &ov), VG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_track_box_is_outlined_in_its_track_colour, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_track_colour_is_stable_and_differs_between_neighbours, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_box_partly_outside_is_clipped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_is_drawn_between_its_ends,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_huge_and_invalid_coordinates_are_clipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_polygon_is_an_outline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_direction_arrow_points_to_the_chosen_side, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_event_strip_keeps_only_the_last_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_refuses_bad_strip_sizes,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
