/*
 * Proves that, after warm-up, a frame's whole path through the split-screen
 * faces job (decode -> BlazeFace -> ByteTrack -> slots -> crop + EMA ->
 * compose -> H.264 -> faces.jsonl) performs no heap allocation in vigil's
 * own code. Same hook and attribution as test_noalloc_pipeline.c (see
 * tests/noalloc_hook.h); the window opens after frame WARMUP of a short run
 * on Megamind.avi (two faces) at a small output size, and closes at its
 * last frame. Skipped under VG_SANITIZE (the hook conflicts with ASan).
 * Two tests run in every build (the sanitizers' included): a short run's
 * outputs, and allocation failures injected across a short run.
 */
/* ctest-cost: 20 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/faces.h"

#include <ftw.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

#ifndef VG_SANITIZE

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <unistd.h>

#include "noalloc_hook.h"

enum { WARMUP = 20, FRAMES = 80 };

typedef struct window {
    vg_context *ctx;
    unsigned long long base[MOD_COUNT], used[MOD_COUNT];
    vg_alloc_stats stats_base;
    uint64_t vigil_counted_allocs;
    int64_t counted;
} window;

static void progress(void *user, int64_t frames)
{
    window *w = user;
    if (frames == WARMUP) {
        vg_context_alloc_stats(w->ctx, &w->stats_base);
        for (int m = 0; m < MOD_COUNT; m++)
            w->base[m] = atomic_load(&allocs_by[m]);
        atomic_store(&counting, 1);
    } else if (frames == FRAMES) {
        vg_alloc_stats now;
        atomic_store(&counting, 0);
        vg_context_alloc_stats(w->ctx, &now);
        for (int m = 0; m < MOD_COUNT; m++)
            w->used[m] = atomic_load(&allocs_by[m]) - w->base[m];
        w->vigil_counted_allocs = now.allocs - w->stats_base.allocs;
        w->counted = frames - WARMUP;
    }
}

static void test_faces_job_allocates_nothing_in_vigil_after_warmup(void **s)
{
    char video[1024];
    char out_tmpl[] = "/tmp/vigil-noalloc-faces-XXXXXX";
    vg_faces_config c;
    vg_faces_report rep;
    vg_context *ctx;
    window w;
    int rc;
    (void)s;

    if (!io_cache_video(video, sizeof(video), "Megamind.avi"))
        skip();
    vg_faces_config_default(&c);
    if (access(c.detector_model, R_OK) != 0 ||
        access(c.embedder_model, R_OK) != 0)
        skip();
    assert_non_null(mkdtemp(out_tmpl));
    c.out_width = 320;
    c.out_height = 180;
    c.max_frames = FRAMES;
    c.threads = 2;
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    memset(&w, 0, sizeof(w));
    w.ctx = ctx;
    for (int i = 0; i < MAX_SITES; i++)
        atomic_store(&vigil_sites[i], 0);
    rc = vg_faces_run(ctx, &c, video, out_tmpl, progress, &w, &rep);
    atomic_store(&counting, 0);
    if (rc != 0)
        fail_msg("faces run: %s (%s)", vg_errname(rc), vg_context_errmsg(ctx));
    assert_int_equal(rep.frames_out, FRAMES);
    assert_int_equal(w.counted, FRAMES - WARMUP);
    printf("allocations over %lld frames after warm-up:\n",
           (long long)w.counted);
    for (int m = 0; m < MOD_COUNT; m++)
        printf("  %-40s %8llu  (%.2f per frame)\n", mod_names[m], w.used[m],
               (double)w.used[m] / (double)w.counted);
    for (int i = 0; i < MAX_SITES; i++) {
        Dl_info info;
        void *a = (void *)atomic_load(&vigil_sites[i]);
        if (!a)
            break;
        if (dladdr(a, &info) && info.dli_sname)
            printf("  vigil allocates at %s+%#lx\n", info.dli_sname,
                   (unsigned long)((uintptr_t)a - (uintptr_t)info.dli_saddr));
    }
    assert_int_equal(w.used[MOD_VIGIL], 0);
    assert_int_equal(w.vigil_counted_allocs, 0);
    /* the hook was live: the encoder or the runtime allocate something */
    assert_true(w.used[MOD_FFMPEG] + w.used[MOD_ORT] + w.used[MOD_CXX] +
                    w.used[MOD_LIBC] >
                0);
    vg_context_destroy(&ctx);
    nftw(out_tmpl, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#else

static void test_faces_job_allocates_nothing_in_vigil_after_warmup(void **s)
{
    (void)s;
    skip(); /* the malloc hook conflicts with AddressSanitizer */
}

#endif

/* In every build (the sanitizers' included): a short run's outputs are
 * complete and everything taken is given back. */
static void test_faces_job_short_run_writes_every_output(void **s)
{
    char video[1024], path[1200];
    char out_tmpl[] = "/tmp/vigil-faces-short-XXXXXX";
    vg_faces_config c;
    vg_faces_report rep;
    vg_context *ctx;
    FILE *f;
    int lines = 0, ch;
    (void)s;

    if (!io_cache_video(video, sizeof(video), "Megamind.avi"))
        skip();
    vg_faces_config_default(&c);
    if (access(c.detector_model, R_OK) != 0 ||
        access(c.embedder_model, R_OK) != 0)
        skip();
    assert_non_null(mkdtemp(out_tmpl));
    c.out_width = 160;
    c.out_height = 90;
    c.max_frames = 12;
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    assert_int_equal(vg_faces_run(ctx, &c, video, out_tmpl, NULL, NULL, &rep),
                     0);
    assert_int_equal(rep.frames_in, 12);
    assert_int_equal(rep.frames_out, 12);
    assert_int_equal(rep.encoder_written, 12);
    assert_int_equal(rep.encoder_failed, 0);
    assert_true(rep.frames_with_faces > 0);
    assert_true(rep.plan.total > rep.plan.detector);
    snprintf(path, sizeof(path), "%s/faces.jsonl", out_tmpl);
    f = fopen(path, "r");
    assert_non_null(f);
    while ((ch = fgetc(f)) != EOF)
        lines += ch == '\n';
    fclose(f);
    assert_int_equal(lines, 12);
    snprintf(path, sizeof(path), "%s/report.json", out_tmpl);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof(path), "%s/split.mp4", out_tmpl);
    assert_int_equal(access(path, R_OK), 0);
    vg_context_destroy(&ctx);
    nftw(out_tmpl, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* In every build: allocation failures (vg_context_fail_alloc, persistent)
 * at points spread over a short run's set-up, frames and teardown end it
 * with an error code or complete it, never crash; under the sanitizers
 * LeakSanitizer checks that every failure path gave back what it took. */
static void test_faces_job_allocation_failures_are_clean(void **s)
{
    enum { POINTS = 8 };
    char video[1024];
    char out_tmpl[] = "/tmp/vigil-faces-faults-XXXXXX";
    vg_faces_config c;
    vg_faces_report rep;
    vg_context *ctx;
    vg_alloc_stats a;
    uint64_t total;
    int failed = 0;
    (void)s;

    if (!io_cache_video(video, sizeof(video), "Megamind.avi"))
        skip();
    vg_faces_config_default(&c);
    if (access(c.detector_model, R_OK) != 0 ||
        access(c.embedder_model, R_OK) != 0)
        skip();
    assert_non_null(mkdtemp(out_tmpl));
    c.out_width = 160;
    c.out_height = 90;
    c.max_frames = 6;
    /* census: how many points a clean run passes */
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    assert_int_equal(vg_faces_run(ctx, &c, video, out_tmpl, NULL, NULL, &rep),
                     0);
    vg_context_alloc_stats(ctx, &a);
    total = a.allocs + a.failures + a.fault_points;
    vg_context_destroy(&ctx);
    assert_true(total > POINTS);
    for (int i = 0; i < POINTS; i++) {
        uint64_t nth = 1 + (uint64_t)i * (total - 1) / (POINTS - 1);
        int rc;
        assert_int_equal(vg_context_create(&ctx), 0);
        vg_context_set_log_level(ctx, VG_LOG_QUIET);
        vg_context_fail_alloc(ctx, nth, 1);
        rc = vg_faces_run(ctx, &c, video, out_tmpl, NULL, NULL, &rep);
        assert_true(rc == 0 || rc < 0);
        if (rc < 0) {
            failed++;
            assert_true(vg_context_errmsg(ctx)[0] != '\0');
        }
        vg_context_destroy(&ctx);
    }
    printf("%d of %d runs failed cleanly (points 1..%llu)\n", failed, POINTS,
           (unsigned long long)total);
    assert_true(failed > 0);
    nftw(out_tmpl, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faces_job_short_run_writes_every_output),
        cmocka_unit_test(test_faces_job_allocation_failures_are_clean),
        cmocka_unit_test(
            test_faces_job_allocates_nothing_in_vigil_after_warmup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
