/*
 * What moved when core stopped depending on infer and detect: the ONNX
 * Runtime query (sysinfo -> vg_session_probe_runtime), the settings to
 * session options translation (vg_settings_session ->
 * vg_session_opts_from_settings), the COCO table (detect -> core) and the
 * head kind names (plain core values). Each keeps its old behaviour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/coco.h"
#include "vigil/config.h"
#include "vigil/session.h"
#include "vigil/sysinfo.h"

static void test_sysinfo_probe_leaves_runtime_fields_empty(void **state)
{
    vg_context *ctx = NULL;
    vg_sysinfo si;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    memset(&si, 0x5a, sizeof(si));
    vg_sysinfo_probe(ctx, &si);
    assert_true(si.cpu_cores > 0);
    assert_string_equal(si.ort_version, "");
    assert_string_equal(si.ort_providers, "");
    assert_int_equal(si.ort_has_cuda, 0);
    vg_context_destroy(&ctx);
}

static void test_probe_runtime_fills_version_and_providers(void **state)
{
    vg_sysinfo si;
    (void)state;
    memset(&si, 0, sizeof(si));
    si.cpu_cores = 7;
    si.gpu_count = 1;
    vg_session_probe_runtime(&si);
    assert_true(si.ort_version[0] != '\0');
    assert_non_null(strstr(si.ort_providers, "CPUExecutionProvider"));
    assert_int_equal(si.ort_has_cuda,
                     strstr(si.ort_providers, "CUDAExecutionProvider") != NULL);
    assert_int_equal(si.cpu_cores, 7); /* the machine part is left alone */
    assert_int_equal(si.gpu_count, 1);
}

static void test_probe_runtime_replaces_stale_values(void **state)
{
    vg_sysinfo si;
    (void)state;
    memset(&si, 0, sizeof(si));
    snprintf(si.ort_version, sizeof(si.ort_version), "stale");
    snprintf(si.ort_providers, sizeof(si.ort_providers),
             "StaleProvider,CUDAExecutionProvider");
    si.ort_has_cuda = 1;
    vg_session_probe_runtime(&si);
    assert_string_not_equal(si.ort_version, "stale");
    assert_null(strstr(si.ort_providers, "StaleProvider"));
    assert_int_equal(si.ort_has_cuda,
                     strstr(si.ort_providers, "CUDAExecutionProvider") != NULL);
}

static void test_cuda_is_probed_only_with_gpu_and_cuda_provider(void **state)
{
    vg_settings s;
    vg_sysinfo si;
    (void)state;
    memset(&si, 0, sizeof(si));
    si.gpu_count = 1; /* a GPU, but no CUDA provider */
    vg_settings_builtin(&s);
    vg_settings_probe(&s, &si);
    assert_int_equal(s.n_providers, 1);
    assert_string_equal(s.providers[0], "cpu");
    assert_int_equal(s.origin.providers, VG_ORIGIN_BUILTIN);
    si.ort_has_cuda = 1;
    vg_settings_probe(&s, &si);
    assert_int_equal(s.n_providers, 2);
    assert_string_equal(s.providers[0], "cuda");
    assert_string_equal(s.providers[1], "cpu");
}

static void test_session_opts_from_settings_copies_runtime_knobs(void **state)
{
    vg_settings s;
    vg_session_opts o;
    (void)state;
    vg_settings_builtin(&s);
    s.threads = 3;
    s.graph_opt = 1;
    s.mem_arena = 0;
    s.spin = 0;
    snprintf(s.providers[0], sizeof(s.providers[0]), "cuda");
    snprintf(s.providers[1], sizeof(s.providers[1]), "cpu");
    s.n_providers = 2;
    memset(&o, 0x5a, sizeof(o));
    vg_session_opts_from_settings(&s, &o);
    assert_int_equal(o.intra_threads, 3);
    assert_int_equal(o.inter_threads, 0);
    assert_int_equal(o.graph_opt, 1);
    assert_int_equal(o.mem_arena, 0);
    assert_int_equal(o.spin, 0);
    assert_int_equal(o.env_allocator, 0);
    assert_int_equal(o.n_providers, 2);
    assert_ptr_equal(o.providers[0], s.providers[0]); /* points into s */
    assert_ptr_equal(o.providers[1], s.providers[1]);
}

static void test_session_opts_from_builtin_settings(void **state)
{
    vg_settings s;
    vg_session_opts o, d;
    (void)state;
    vg_settings_builtin(&s);
    vg_session_opts_from_settings(&s, &o);
    vg_session_opts_default(&d);
    assert_int_equal(o.intra_threads, 1);
    assert_int_equal(o.graph_opt, d.graph_opt);
    assert_int_equal(o.mem_arena, d.mem_arena);
    assert_int_equal(o.spin, d.spin);
    assert_int_equal(o.n_providers, 1);
    assert_string_equal(o.providers[0], "cpu");
}

static void test_coco_table_is_in_core(void **state)
{
    (void)state;
    assert_int_equal(VG_COCO_CLASSES, 80);
    assert_string_equal(vg_coco_class_name(0), "person");
    assert_string_equal(vg_coco_class_name(79), "toothbrush");
    assert_null(vg_coco_class_name(80));
    assert_null(vg_coco_class_name(-1));
    for (int i = 0; i < VG_COCO_CLASSES; i++)
        assert_int_equal(vg_coco_class_id(vg_coco_class_name(i)), i);
    assert_int_equal(vg_coco_class_id("unicorn"), -1);
    assert_int_equal(vg_coco_class_id(NULL), -1);
}

static int load_text(const char *text, vg_settings *s, char *msg, size_t n)
{
    char dir[] = "/tmp/vglayersXXXXXX";
    char path[64];
    vg_context *ctx = NULL;
    FILE *f;
    int rc;

    if (!mkdtemp(dir))
        return -1000;
    snprintf(path, sizeof(path), "%s/c.yaml", dir);
    f = fopen(path, "w");
    if (!f)
        return -1000;
    fputs(text, f);
    fclose(f);
    vg_context_create(&ctx);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    vg_settings_builtin(s);
    rc = vg_settings_load(ctx, path, s);
    snprintf(msg, n, "%s", vg_context_errmsg(ctx));
    vg_context_destroy(&ctx);
    unlink(path);
    rmdir(dir);
    return rc;
}

static void test_config_checks_class_names_in_core(void **state)
{
    vg_settings s;
    char msg[512];
    (void)state;
    assert_int_equal(load_text("detector:\n  classes: [person, toothbrush]\n",
                               &s, msg, sizeof(msg)),
                     0);
    assert_int_equal(s.n_classes, 2);
    assert_string_equal(s.classes[1], "toothbrush");
    assert_int_equal(load_text("detector:\n  classes: [person, unicorn]\n", &s,
                               msg, sizeof(msg)),
                     VG_ECONFIG);
    assert_non_null(strstr(msg, "c.yaml:2:"));
}

static void test_head_kind_names_round_trip(void **state)
{
    (void)state;
    for (int k = VG_HEAD_AUTO; k <= VG_HEAD_YOLOV8; k++)
        assert_int_equal(vg_head_kind_parse(vg_head_kind_name(k)), k);
    assert_int_equal(vg_head_kind_parse("yolo11"), VG_HEAD_YOLOV8);
    assert_int_equal(vg_head_kind_parse("yolov9"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sysinfo_probe_leaves_runtime_fields_empty),
        cmocka_unit_test(test_probe_runtime_fills_version_and_providers),
        cmocka_unit_test(test_probe_runtime_replaces_stale_values),
        cmocka_unit_test(test_cuda_is_probed_only_with_gpu_and_cuda_provider),
        cmocka_unit_test(test_session_opts_from_settings_copies_runtime_knobs),
        cmocka_unit_test(test_session_opts_from_builtin_settings),
        cmocka_unit_test(test_coco_table_is_in_core),
        cmocka_unit_test(test_config_checks_class_names_in_core),
        cmocka_unit_test(test_head_kind_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
