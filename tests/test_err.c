#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/context.h"

static void test_every_code_has_a_name_and_text(void **state)
{
    (void)state;
    assert_string_equal(vg_errname(VG_ENOMEM), "VG_ENOMEM");
    assert_string_equal(vg_strerror(VG_OK), "success");
    assert_string_equal(vg_errname(-999), "VG_E?");
    assert_string_equal(vg_strerror(-999), "unknown error");
    for (int c = VG_EINVAL; c >= VG_ENOSPC; c--) {
        assert_true(strcmp(vg_errname(c), "VG_E?") != 0);
        assert_true(strcmp(vg_strerror(c), "unknown error") != 0);
    }
}

static void test_fail_records_message_and_returns_code(void **state)
{
    vg_context *ctx;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    assert_int_equal(vg_fail(ctx, VG_ENOENT, "%s: no such file", "a.mp4"),
                     VG_ENOENT);
    assert_string_equal(vg_context_errmsg(ctx), "a.mp4: no such file");
    assert_int_equal(vg_context_errcode(ctx), VG_ENOENT);
    vg_context_clear_error(ctx);
    assert_string_equal(vg_context_errmsg(ctx), "");
    vg_context_destroy(&ctx);
    assert_null(ctx);
    vg_context_destroy(&ctx); /* NULL accepted */
}

static void test_nth_allocation_fails_when_injected(void **state)
{
    vg_context *ctx;
    vg_alloc_stats st;
    void *a, *b, *c;
    (void)state;
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_fail_alloc(ctx, 2, 0);
    a = vg_malloc(ctx, 16);
    b = vg_malloc(ctx, 16);
    c = vg_calloc(ctx, 4, 4);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    vg_context_alloc_stats(ctx, &st);
    assert_int_equal(st.allocs, 2);
    assert_int_equal(st.failures, 1);
    vg_free(ctx, a);
    vg_free(ctx, c);
    vg_context_fail_alloc(ctx, 1, 1); /* persistent from the first */
    assert_null(vg_malloc(ctx, 1));
    assert_null(vg_strdup(ctx, "x"));
    vg_context_fail_alloc(ctx, 0, 0);
    a = vg_strdup(ctx, "abc");
    assert_string_equal(a, "abc");
    vg_free(ctx, a);
    vg_context_alloc_stats(ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_name_and_text),
        cmocka_unit_test(test_fail_records_message_and_returns_code),
        cmocka_unit_test(test_nth_allocation_fails_when_injected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
