/* Tests of vg_session over small models generated at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "models/model_gen.h"
#include "vigil/session.h"

typedef struct fixture {
    model_dir dir;
    char affine[512];  /* y = 2x + 1, [1,3,4,4] */
    char dynamic[512]; /* y = 2x + 1, [batch,3] */
    char text[512];    /* not a model */
    vg_context *ctx;
} fixture;

static int group_setup(void **state)
{
    static fixture fx; /* test-local; cmocka state */
    char args[1200];
    memset(&fx, 0, sizeof(fx));
    if (model_dir_create(&fx.dir) != 0)
        return -1;
    model_path(&fx.dir, "affine.onnx", fx.affine, sizeof(fx.affine));
    model_path(&fx.dir, "dynamic.onnx", fx.dynamic, sizeof(fx.dynamic));
    model_path(&fx.dir, "notes.txt", fx.text, sizeof(fx.text));
    snprintf(args, sizeof(args), "affine '%s'", fx.affine);
    if (model_make(args) != 0)
        return -1;
    snprintf(args, sizeof(args), "affine_dynamic '%s'", fx.dynamic);
    if (model_make(args) != 0)
        return -1;
    if (model_write_text(fx.text, "this is not a model\n") != 0)
        return -1;
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixture *fx = *state;
    model_dir_remove(&fx->dir);
    return 0;
}

static int setup(void **state)
{
    fixture *fx = *state;
    if (vg_context_create(&fx->ctx) != 0)
        return -1;
    vg_context_set_log_level(fx->ctx, VG_LOG_QUIET);
    return 0;
}

/* Destroys the context after checking vigil freed all it allocated. */
static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(fx->ctx, &st);
    vg_context_destroy(&fx->ctx);
    return st.allocs == st.frees ? 0 : -1;
}

static void fill_ramp(float *x, int n, float start)
{
    for (int i = 0; i < n; i++)
        x[i] = start + 0.25f * (float)i;
}

static void test_static_model_computes_exact_outputs(void **state)
{
    fixture *fx = *state;
    vg_session *s;
    float x[48];
    const float *outs[VG_MAX_OUTPUTS] = {0};
    assert_int_equal(vg_session_create(fx->ctx, fx->affine, NULL, &s), 0);
    fill_ramp(x, 48, -3.0f);
    assert_int_equal(vg_session_run(s, x, outs), 0);
    assert_non_null(outs[0]);
    for (int i = 0; i < 48; i++)
        assert_true(outs[0][i] == x[i] * 2.0f + 1.0f);
    vg_session_destroy(&s);
    assert_null(s);
}

static void test_static_output_buffer_is_reused_across_runs(void **state)
{
    fixture *fx = *state;
    vg_session *s;
    float x[48];
    const float *first, *outs[VG_MAX_OUTPUTS] = {0};
    vg_alloc_stats before, after;
    assert_int_equal(vg_session_create(fx->ctx, fx->affine, NULL, &s), 0);
    fill_ramp(x, 48, 0.0f);
    assert_int_equal(vg_session_run(s, x, outs), 0);
    first = outs[0];
    vg_context_alloc_stats(fx->ctx, &before);
    fill_ramp(x, 48, 10.0f);
    assert_int_equal(vg_session_run(s, x, outs), 0);
    vg_context_alloc_stats(fx->ctx, &after);
    assert_ptr_equal(outs[0], first);
    assert_true(outs[0][5] == x[5] * 2.0f + 1.0f);
    assert_int_equal(after.allocs, before.allocs);
    vg_session_destroy(&s);
}

static void test_introspection_reports_names_and_shapes(void **state)
{
    fixture *fx = *state;
    vg_session *s;
    vg_tensor_info in, out;
    assert_int_equal(vg_session_create(fx->ctx, fx->affine, NULL, &s), 0);
    assert_int_equal(vg_session_input(s, &in), 0);
    assert_string_equal(in.name, "x");
    assert_int_equal(in.ndim, 4);
    assert_int_equal(in.dims[0], 1);
    assert_int_equal(in.dims[1], 3);
    assert_int_equal(in.dims[3], 4);
    assert_int_equal(in.elem_type, 1);
    assert_int_equal(vg_session_output_count(s), 1);
    assert_int_equal(vg_session_output(s, 0, &out), 0);
    assert_string_equal(out.name, "y");
    assert_int_equal(out.ndim, 4);
    assert_int_equal(vg_session_output(s, 1, &out), VG_EINVAL);
    assert_string_equal(vg_session_provider(s), "CPUExecutionProvider");
    vg_session_destroy(&s);
}

static void test_dynamic_batch_needs_shape_then_runs(void **state)
{
    fixture *fx = *state;
    vg_session *s;
    vg_tensor_info in, shape;
    float x[15];
    const float *outs[VG_MAX_OUTPUTS] = {0};
    int64_t dims2[2] = {2, 3}, dims5[2] = {5, 3}, bad[2] = {2, 4};
    assert_int_equal(vg_session_create(fx->ctx, fx->dynamic, NULL, &s), 0);
    assert_int_equal(vg_session_input(s, &in), 0);
    assert_int_equal(in.dims[0], -1);
    assert_int_equal(in.dims[1], 3);
    fill_ramp(x, 15, 1.0f);
    assert_int_equal(vg_session_run(s, x, outs), VG_EINVAL);
    assert_int_equal(vg_session_set_input_shape(s, bad), VG_EINVAL);
    assert_int_equal(vg_session_set_input_shape(s, dims2), 0);
    assert_int_equal(vg_session_run(s, x, outs), 0);
    assert_int_equal(vg_session_output_shape(s, 0, &shape), 0);
    assert_int_equal(shape.ndim, 2);
    assert_int_equal(shape.dims[0], 2);
    assert_int_equal(shape.dims[1], 3);
    for (int i = 0; i < 6; i++)
        assert_true(outs[0][i] == x[i] * 2.0f + 1.0f);
    assert_int_equal(vg_session_set_input_shape(s, dims5), 0);
    assert_int_equal(vg_session_run(s, x, outs), 0);
    assert_int_equal(vg_session_output_shape(s, 0, &shape), 0);
    assert_int_equal(shape.dims[0], 5);
    assert_true(outs[0][14] == x[14] * 2.0f + 1.0f);
    vg_session_destroy(&s);
}

static void test_missing_file_is_enoent(void **state)
{
    fixture *fx = *state;
    vg_session *s = (vg_session *)fx; /* must be reset to NULL */
    char path[600];
    model_path(&fx->dir, "absent.onnx", path, sizeof(path));
    assert_int_equal(vg_session_create(fx->ctx, path, NULL, &s), VG_ENOENT);
    assert_null(s);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), path));
}

static void test_text_file_is_emodel_with_reason(void **state)
{
    fixture *fx = *state;
    vg_session *s;
    char prefix[600];
    assert_int_equal(vg_session_create(fx->ctx, fx->text, NULL, &s), VG_EMODEL);
    assert_null(s);
    snprintf(prefix, sizeof(prefix), "%s: not an ONNX model (", fx->text);
    assert_memory_equal(vg_context_errmsg(fx->ctx), prefix, strlen(prefix));
}

static void test_graph_levels_and_arena_off_are_accepted(void **state)
{
    fixture *fx = *state;
    vg_session_opts o;
    float x[48];
    fill_ramp(x, 48, -1.0f);
    for (int level = 0; level <= 3; level++) {
        vg_session *s;
        const float *outs[VG_MAX_OUTPUTS] = {0};
        vg_session_opts_default(&o);
        o.graph_opt = level;
        o.mem_arena = level % 2;
        o.intra_threads = 1;
        o.inter_threads = 1;
        assert_int_equal(vg_session_create(fx->ctx, fx->affine, &o, &s), 0);
        assert_int_equal(vg_session_run(s, x, outs), 0);
        assert_true(outs[0][47] == x[47] * 2.0f + 1.0f);
        vg_session_destroy(&s);
    }
}

static void test_bad_options_are_einval(void **state)
{
    fixture *fx = *state;
    vg_session_opts o;
    vg_session *s;
    vg_session_opts_default(&o);
    o.graph_opt = 7;
    assert_int_equal(vg_session_create(fx->ctx, fx->affine, &o, &s), VG_EINVAL);
    assert_null(s);
    vg_session_opts_default(&o);
    o.providers[0] = "tpu";
    o.n_providers = 1;
    assert_int_equal(vg_session_create(fx->ctx, fx->affine, &o, &s), VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "tpu"));
}

static void test_cuda_request_falls_back_or_runs(void **state)
{
    fixture *fx = *state;
    vg_session_opts o;
    vg_session *s;
    float x[48];
    const float *outs[VG_MAX_OUTPUTS] = {0};
    vg_session_opts_default(&o);
    o.providers[0] = "cuda";
    o.providers[1] = "cpu";
    o.n_providers = 2;
    assert_int_equal(vg_session_create(fx->ctx, fx->affine, &o, &s), 0);
    assert_true(strcmp(vg_session_provider(s), "CPUExecutionProvider") == 0 ||
                strcmp(vg_session_provider(s), "CUDAExecutionProvider") == 0);
    fill_ramp(x, 48, 2.0f);
    assert_int_equal(vg_session_run(s, x, outs), 0);
    assert_true(outs[0][3] == x[3] * 2.0f + 1.0f);
    vg_session_destroy(&s);
}

static void test_allocation_failures_are_enomem_without_leaks(void **state)
{
    fixture *fx = *state;
    int failures = 0;
    for (uint64_t nth = 1; nth < 100; nth++) {
        vg_session *s = NULL;
        vg_alloc_stats st;
        int rc;
        vg_context_fail_alloc(fx->ctx, nth, 1);
        rc = vg_session_create(fx->ctx, fx->dynamic, NULL, &s);
        vg_context_fail_alloc(fx->ctx, 0, 0);
        if (rc == 0) {
            assert_non_null(s);
            vg_session_destroy(&s);
            break;
        }
        failures++;
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(s);
        vg_context_alloc_stats(fx->ctx, &st);
        assert_int_equal(st.allocs, st.frees);
    }
    assert_true(failures >= 3); /* session, path and tensor names */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_static_model_computes_exact_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_static_output_buffer_is_reused_across_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_introspection_reports_names_and_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_dynamic_batch_needs_shape_then_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_is_enoent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_text_file_is_emodel_with_reason,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_graph_levels_and_arena_off_are_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options_are_einval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cuda_request_falls_back_or_runs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_allocation_failures_are_enomem_without_leaks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
