/* The detection rate and motion gating settings: the `detect:` and `motion:`
 * sections, their errors, and vg_run_opts_from_settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "support/cfg_fixture.h"

#include "vigil/config.h"
#include "vigil/motion.h"
#include "vigil/run.h"

static int load(cfg_fixture *f, const char *yaml, vg_settings *s)
{
    cfg_fixture_write(f, yaml, strlen(yaml));
    vg_settings_builtin(s);
    return vg_settings_load(f->ctx, f->path, s);
}

static void test_builtin_gating_settings_are_the_gates_defaults(void **state)
{
    vg_settings s;
    vg_motion_opts m = vg_motion_defaults();
    vg_run_opts o;
    (void)state;
    vg_settings_builtin(&s);
    assert_true(s.detect_fps < 0); /* auto: files every frame, live 5 */
    assert_int_equal(s.motion_enabled, 0);
    assert_int_equal(s.motion_pixel_threshold, m.pixel_threshold);
    assert_true(s.motion_min_area == m.min_area);
    assert_true(s.motion_max_idle_s == m.max_idle_s);
    assert_int_equal(s.motion_frame_height, m.frame_height);
    assert_int_equal(s.motion_n_masks, 0);
    vg_run_opts_from_settings(&s, &o);
    assert_true(o.detect_fps == VG_RUN_DETECT_AUTO);
    assert_int_equal(o.motion_enabled, 0);
    assert_memory_equal(&o.motion, &m, sizeof(m));
}

static const char gating_yaml[] =
    "detect:\n"
    "  fps: 5\n"
    "motion:\n"
    "  enabled: true\n"
    "  pixel_threshold: 30\n"
    "  min_area: 0.01\n"
    "  max_idle_s: 10\n"
    "  frame_height: 100\n"
    "  masks:\n"
    "    - polygon: [[0, 0], [1, 0], [1, 0.1], [0, 0.1]]\n"
    "      units: normalized\n"
    "    - polygon: [[600, 400], [768, 400], [768, 576]]\n";

static void test_detect_and_motion_sections_are_read(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(load(f, gating_yaml, &s), 0);
    assert_true(s.detect_fps == 5);
    assert_int_equal(s.motion_enabled, 1);
    assert_int_equal(s.motion_pixel_threshold, 30);
    assert_true(s.motion_min_area == 0.01);
    assert_true(s.motion_max_idle_s == 10);
    assert_int_equal(s.motion_frame_height, 100);
    assert_int_equal(s.motion_n_masks, 2);
    assert_int_equal(s.motion_masks[0].n_points, 4);
    assert_int_equal(s.motion_masks[0].pixels, 0);
    assert_true(s.motion_masks[0].xy[2][1] > 0.099f &&
                s.motion_masks[0].xy[2][1] < 0.101f);
    assert_int_equal(s.motion_masks[1].n_points, 3);
    assert_int_equal(s.motion_masks[1].pixels, 1); /* pixels by default */
    assert_true(s.motion_masks[1].xy[2][0] == 768.0f);
}

static void test_settings_map_to_run_options(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    vg_run_opts o;
    assert_int_equal(load(f, gating_yaml, &s), 0);
    s.lost_seconds = 1.5;
    s.track_high = 0.45f;
    s.events_batch = 3;
    s.snap_enabled = 0;
    s.queue_depth = 7;
    vg_run_opts_from_settings(&s, &o);
    assert_true(o.detect_fps == 5);
    assert_int_equal(o.motion_enabled, 1);
    assert_int_equal(o.motion.pixel_threshold, 30);
    assert_true(o.motion.min_area == 0.01);
    assert_true(o.motion.max_idle_s == 10);
    assert_int_equal(o.motion.frame_height, 100);
    assert_int_equal(o.motion.mask_count, 2);
    assert_int_equal(o.motion.masks[0].n, 4);
    assert_int_equal(o.motion_mask_pixels[0], 0);
    assert_int_equal(o.motion.masks[1].n, 3);
    assert_int_equal(o.motion_mask_pixels[1], 1);
    assert_true(o.motion.masks[1].points[1].x == 768.0f);
    /* the rest of the job's settings go the same way */
    assert_true(o.tracker.lost_seconds == 1.5);
    assert_true(o.tracker.high_thresh == 0.45f);
    assert_int_equal(o.events.batch, 3);
    assert_int_equal(o.write_snapshots, 0);
    assert_int_equal(o.queue_depth, 7);
    assert_int_equal(o.timeout_ms, s.timeout_ms);
    assert_string_equal(o.video.preset, s.video_preset);
}

static void test_detect_fps_zero_is_every_frame(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    vg_run_opts o;
    assert_int_equal(load(f, "detect: {fps: 0}\n", &s), 0);
    vg_run_opts_from_settings(&s, &o);
    assert_true(o.detect_fps == 0);
}

static void test_gating_errors_name_the_place(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(load(f, "detect:\n  fps: -1\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 8, "'fps' expects a number");
    assert_int_equal(load(f, "detect:\n  fps: 5fps\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 8, "'fps'");
    assert_int_equal(load(f, "detect:\n  rate: 5\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 3, "unknown key 'rate' in 'detect'");
    assert_int_equal(load(f, "motion:\n  sensitivity: 3\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(
        f, 2, 3,
        "(expected enabled, pixel_threshold, min_area, max_idle_s, "
        "frame_height, masks)");
    assert_int_equal(load(f, "motion:\n  pixel_threshold: 0\n", &s),
                     VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 20, "'pixel_threshold'");
    assert_int_equal(load(f, "motion:\n  min_area: 2\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 13, "'min_area'");
    assert_int_equal(load(f, "motion:\n  masks: 3\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 10, "'masks' expects a list");
    assert_int_equal(
        load(f, "motion:\n  masks:\n    - polygon: [[0, 0], [1, 1]]\n", &s),
        VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 3, 16, "needs 3 to 32 points");
    assert_int_equal(load(f,
                          "motion:\n  masks:\n    - polygon: [[0, 0], [1, 0], "
                          "[1, 1.5]]\n      units: normalized\n",
                          &s),
                     VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 3, 37, "'y' expects a number in [0, 1]");
    assert_int_equal(load(f,
                          "motion:\n  masks:\n    - polygon: [[0, 0], [1, 0], "
                          "[1, 1]]\n      units: percent\n",
                          &s),
                     VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 4, 14, "'units' expects pixels or");
    assert_int_equal(load(f, "motion:\n  masks:\n    - {units: pixels}\n", &s),
                     VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 3, 7, "has no 'polygon'");
    assert_int_equal(
        load(f, "motion:\n  masks:\n    - {polygon: [[0, 0]], shape: x}\n", &s),
        VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 3, 27, "unknown key 'shape'");
}

int main(void)
{
#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, cfg_fixture_setup, cfg_fixture_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_gating_settings_are_the_gates_defaults),
        T(test_detect_and_motion_sections_are_read),
        T(test_settings_map_to_run_options),
        T(test_detect_fps_zero_is_every_frame),
        T(test_gating_errors_name_the_place),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
