/*
 * Proves that decode -> pre-process allocates nothing per frame in vigil's
 * own code after warm-up. The test program replaces malloc and friends,
 * forwards them to glibc, and attributes each call to the shared object that
 * made it (the caller's return address, resolved with dladdr): calls made by
 * code in libvigil.so are vigil's. FFmpeg's own per-packet allocations are
 * counted apart and printed for information.
 *
 * The hook cannot coexist with AddressSanitizer's allocator, so under
 * VG_SANITIZE the test is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/source.h"
#include "vigil/tensor.h"

#ifndef VG_SANITIZE

#include "noalloc_hook.h"

/* Reads vtest.avi; with compact set the source hands out compact tensors
 * and every frame is expanded into one caller-owned buffer, as a detector
 * would. */
static void check_read_allocates_nothing(int compact)
{
    enum { WARMUP = 30, FRAMES = 500 };
    vg_context *ctx;
    vg_source_opts o;
    vg_source *src;
    vg_frame f;
    vg_alloc_stats before, after;
    unsigned long long base[MOD_COUNT], used[MOD_COUNT];
    char path[1024];
    float *floats = NULL;
    size_t n;

    if (!io_cache_video(path, sizeof(path), "vtest.avi"))
        skip();
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    vg_source_opts_default(&o);
    o.tensor.width = 416;
    o.tensor.height = 416;
    o.tensor.layout = VG_LAYOUT_NCHW;
    o.tensor.pad_value = 114.0f;
    for (int c = 0; c < 3; c++)
        o.tensor.scale[c] = 1.0f / 255.0f;
    o.keep_image = 1;
    o.compact_tensor = compact;
    n = vg_tensor_float_count(&o.tensor);
    floats = malloc(n * sizeof(float));
    assert_non_null(floats);
    assert_int_equal(vg_source_open(ctx, path, &o, &src), 0);
    for (int i = 0; i < WARMUP; i++) {
        assert_int_equal(vg_source_read(src, &f), 0);
        vg_frame_release(&f);
    }

    vg_context_alloc_stats(ctx, &before);
    for (int m = 0; m < MOD_COUNT; m++)
        base[m] = atomic_load(&allocs_by[m]);
    atomic_store(&counting, 1);
    for (int i = 0; i < FRAMES; i++) {
        int rc = vg_source_read(src, &f);
        if (rc != 0) {
            atomic_store(&counting, 0);
            fail_msg("frame %d: %s (%s)", WARMUP + i, vg_errname(rc),
                     vg_source_errmsg(src));
        }
        if (f.tensor_compact != compact ||
            vg_tensor_expand(&o.tensor, &f, floats, n) != 0) {
            atomic_store(&counting, 0);
            fail_msg("frame %d: compact %d, expand failed", WARMUP + i,
                     f.tensor_compact);
        }
        vg_frame_release(&f);
    }
    atomic_store(&counting, 0);
    for (int m = 0; m < MOD_COUNT; m++)
        used[m] = atomic_load(&allocs_by[m]) - base[m];
    vg_context_alloc_stats(ctx, &after);

    printf("%s tensors: allocations over %d frames: vigil %llu, FFmpeg %llu "
           "(%.1f per "
           "frame), other %llu\n",
           compact ? "compact" : "float", FRAMES, used[MOD_VIGIL],
           used[MOD_FFMPEG], (double)used[MOD_FFMPEG] / FRAMES,
           used[MOD_OTHER]);
    assert_int_equal(used[MOD_VIGIL], 0);
    assert_int_equal(after.allocs, before.allocs);
    assert_int_equal(after.frees, before.frees);

    vg_source_close(&src);
    vg_context_destroy(&ctx);
    free(floats);
}

static void test_read_allocates_nothing_in_vigil_after_warmup(void **state)
{
    (void)state;
    check_read_allocates_nothing(0);
}

static void
test_compact_read_and_expand_allocate_nothing_after_warmup(void **state)
{
    (void)state;
    check_read_allocates_nothing(1);
}

static void test_hook_sees_vigil_allocations(void **state)
{
    /* the attribution works: an allocation by libvigil is counted as
     * vigil's (so the zero above means something) */
    vg_context *ctx;
    unsigned long long base;
    void *p;
    (void)state;

    assert_int_equal(vg_context_create(&ctx), 0);
    base = atomic_load(&allocs_by[MOD_VIGIL]);
    atomic_store(&counting, 1);
    p = vg_strdup(ctx, "counted");
    atomic_store(&counting, 0);
    assert_non_null(p);
    assert_true(atomic_load(&allocs_by[MOD_VIGIL]) > base);
    vg_free(ctx, p);
    vg_context_destroy(&ctx);
}

#else

static void test_read_allocates_nothing_in_vigil_after_warmup(void **state)
{
    (void)state;
    skip(); /* the malloc hook conflicts with AddressSanitizer */
}

static void
test_compact_read_and_expand_allocate_nothing_after_warmup(void **state)
{
    (void)state;
    skip();
}

static void test_hook_sees_vigil_allocations(void **state)
{
    (void)state;
    skip();
}

#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_sees_vigil_allocations),
        cmocka_unit_test(test_read_allocates_nothing_in_vigil_after_warmup),
        cmocka_unit_test(
            test_compact_read_and_expand_allocate_nothing_after_warmup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
