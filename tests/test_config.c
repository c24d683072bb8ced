#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/cfg_fixture.h"

#include "vigil/config.h"
#include "vigil/detect.h"

static int load(cfg_fixture *f, const char *yaml, vg_settings *s)
{
    FILE *fp = fopen(f->path, "w");
    fputs(yaml, fp);
    fclose(fp);
    vg_settings_builtin(s);
    return vg_settings_load(f->ctx, f->path, s);
}

static void test_values_and_origins_are_taken_from_the_file(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(load(f,
                          "detector:\n"
                          "  model: m.onnx\n"
                          "  head: yolov8\n"
                          "  score_threshold: 0.6\n"
                          "  classes: [person, car]\n"
                          "runtime:\n"
                          "  threads: 3\n"
                          "  graph_optimization: basic\n"
                          "  memory_arena: false\n"
                          "  providers: [cuda, cpu]\n"
                          "input:\n"
                          "  timeout_ms: 900\n",
                          &s),
                     0);
    /* relative model paths resolve against the config's folder */
    assert_non_null(strstr(s.model, f->dir));
    assert_non_null(strstr(s.model, "/m.onnx"));
    assert_int_equal(s.head, VG_HEAD_YOLOV8);
    assert_true(s.score_threshold > 0.59f && s.score_threshold < 0.61f);
    assert_int_equal(s.n_classes, 2);
    assert_string_equal(s.classes[1], "car");
    assert_int_equal(s.threads, 3);
    assert_int_equal(s.graph_opt, 1);
    assert_int_equal(s.mem_arena, 0);
    assert_int_equal(s.n_providers, 2);
    assert_int_equal(s.timeout_ms, 900);
    assert_int_equal(s.origin.threads, VG_ORIGIN_CONFIG);
    assert_int_equal(s.origin.nms_iou, VG_ORIGIN_BUILTIN);
}

static void test_probe_changes_only_builtin_values(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    vg_sysinfo si;
    memset(&si, 0, sizeof(si));
    si.cpu_cores = 16;
    si.gpu_count = 1;
    si.ort_has_cuda = 1;
    assert_int_equal(load(f, "runtime:\n  threads: 2\n", &s), 0);
    vg_settings_probe(&s, &si);
    assert_int_equal(s.threads, 2); /* explicit wins */
    assert_int_equal(s.origin.threads, VG_ORIGIN_CONFIG);
    assert_string_equal(s.providers[0], "cuda"); /* probed */
    assert_int_equal(s.origin.providers, VG_ORIGIN_PROBED);
    vg_settings_builtin(&s);
    vg_settings_probe(&s, &si);
    assert_int_equal(s.threads, 16);
}

static void test_sections_of_other_modules_are_left_to_them(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(
        load(f, "zones:\n  - name: a\nrules: []\nruntime:\n  threads: 1\n", &s),
        0);
    assert_int_equal(s.threads, 1);
}

static void test_comment_only_file_changes_nothing(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s, builtin;
    assert_int_equal(load(f, "# nothing set here\n", &s), 0);
    vg_settings_builtin(&builtin);
    assert_memory_equal(&s, &builtin, sizeof(s));
}

static void test_empty_file_is_refused(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    char want[192];
    assert_int_equal(load(f, "", &s), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: is empty (0 bytes), not a config file",
             f->path);
    assert_string_equal(vg_context_errmsg(f->ctx), want);
}

static void test_unknown_key_names_line_and_column(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(load(f, "runtime:\n  threads: 1\n  thread: 2\n", &s),
                     VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 3, 3, "unknown key 'thread'");
}

static void test_unknown_section_is_an_error(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(load(f, "detectr:\n  model: x\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 1, 1, "unknown section 'detectr'");
}

static void test_wrong_types_are_errors(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(load(f, "detector:\n  score_threshold: high\n", &s),
                     VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 20, "expects a number in [0, 1]");
    assert_int_equal(load(f, "runtime:\n  memory_arena: 3\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 17, "expects true or false");
    assert_int_equal(load(f, "runtime:\n  threads: -4\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 12, "expects an integer");
    assert_int_equal(load(f, "detector:\n  classes: person\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 12, "expects a list");
    assert_int_equal(load(f, "detector:\n  classes: [person, unicorn]\n", &s),
                     VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 21, "unknown class 'unicorn'");
    assert_int_equal(load(f, "runtime: 3\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 1, 10, "expects a mapping");
}

static void test_yaml_syntax_error_names_the_place(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(load(f, "runtime:\n  threads: [1\n", &s), VG_ECONFIG);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), f->path));
}

static void test_job_sections_set_the_run_settings(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(
        load(f,
             "tracker:\n  lost_seconds: 1.5\n  high_threshold: 0.4\n"
             "events:\n  batch: 4\n"
             "snapshots:\n  enabled: false\n  max_age_days: 7\n"
             "video:\n  preset: veryfast\n  crf: 30\n"
             "telemetry:\n  interval_s: 2\n  window_s: 30\n",
             &s),
        0);
    assert_true(s.lost_seconds > 1.49 && s.lost_seconds < 1.51);
    assert_true(s.track_high > 0.39f && s.track_high < 0.41f);
    assert_int_equal(s.events_batch, 4);
    assert_int_equal(s.snap_enabled, 0);
    assert_true(s.snap_max_age_days > 6.9 && s.snap_max_age_days < 7.1);
    assert_string_equal(s.video_preset, "veryfast");
    assert_int_equal(s.video_crf, 30);
    assert_true(s.telemetry_interval_s > 1.9 && s.telemetry_interval_s < 2.1);
    assert_true(s.leak_window_s > 29.9 && s.leak_window_s < 30.1);
}

static void test_job_section_errors_name_the_place(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    assert_int_equal(load(f, "tracker:\n  lost_seconds: -1\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 17, "'lost_seconds' expects a number");
    assert_int_equal(load(f, "video:\n  crf: 99\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 8, "'crf' expects an integer in [0, 51]");
    assert_int_equal(load(f, "telemetry:\n  intervl: 2\n", &s), VG_ECONFIG);
    cfg_fixture_assert_error_at(f, 2, 3,
                                "(expected interval_s, leak_slope_bytes_per_s");
}

static void test_missing_file_is_enoent(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    vg_settings_builtin(&s);
    assert_int_equal(vg_settings_load(f->ctx, "/nonexistent/x.yaml", &s),
                     VG_ENOENT);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "/nonexistent/x.yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_values_and_origins_are_taken_from_the_file, cfg_fixture_setup,
            cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_probe_changes_only_builtin_values,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(
            test_sections_of_other_modules_are_left_to_them, cfg_fixture_setup,
            cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_is_refused,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_comment_only_file_changes_nothing,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_names_line_and_column,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_section_is_an_error,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types_are_errors,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_yaml_syntax_error_names_the_place,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_job_sections_set_the_run_settings,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_job_section_errors_name_the_place,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_is_enoent,
                                        cfg_fixture_setup,
                                        cfg_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
