/* Reliability of the sinks: output files never follow links, the output
 * directory lock, whole-or-nothing files, and the video writer's frame-rate
 * clamp, messages and free-space stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libavutil/log.h>

#include "support/io_fixtures.h"
#include "vigil/fsutil.h"
#include "vigil/video_writer.h"

#define W 64
#define H 48

struct fx {
    vg_context *ctx;
    char dir[512];
    char path[600];
    char target[600];
    uint8_t rgb[W * H * 3];
    int warnings;
    char last_warning[512];
};

static void on_log(void *user, int level, const char *line)
{
    struct fx *f = user;
    if (level == VG_LOG_WARN) {
        f->warnings++;
        snprintf(f->last_warning, sizeof(f->last_warning), "%s", line);
    }
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char *d = io_tmpdir_create();
    if (!f || !d || vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_WARN);
    vg_context_set_log_fn(f->ctx, on_log, f);
    av_log_set_level(AV_LOG_ERROR);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    snprintf(f->path, sizeof(f->path), "%s/annotated.mp4", d);
    snprintf(f->target, sizeof(f->target), "%s/target", d);
    free(d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    char cmd[700];
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void make_target(struct fx *f, const char *link)
{
    FILE *t = fopen(f->target, "w");
    assert_non_null(t);
    fputs("precious\n", t);
    fclose(t);
    assert_int_equal(symlink(f->target, link), 0);
}

static void assert_target_untouched(struct fx *f)
{
    char buf[32] = "";
    FILE *t = fopen(f->target, "r");
    assert_non_null(t);
    assert_non_null(fgets(buf, sizeof(buf), t));
    fclose(t);
    assert_string_equal(buf, "precious\n");
}

static void test_video_writer_refuses_a_link(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw = NULL;
    struct stat sb;

    make_target(f, f->path);
    assert_int_equal(vg_video_writer_open(f->ctx, f->path, W, H, 25, NULL, &vw),
                     VG_EIO);
    assert_null(vw);
    assert_non_null(strstr(vg_context_errmsg(f->ctx),
                           "annotated.mp4: is a symbolic link; vigil does not "
                           "write through links"));
    assert_int_equal(lstat(f->path, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    assert_target_untouched(f);
}

static void test_absurd_frame_rate_is_clamped_with_one_warning(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw = NULL;
    vg_video_writer_stats st;
    struct stat sb;

    assert_int_equal(vg_video_writer_open(f->ctx, f->path, 768 / 12, 576 / 12,
                                          1e6, NULL, &vw),
                     0);
    assert_int_equal(f->warnings, 1);
    assert_non_null(strstr(f->last_warning, "1e+06 fps is outside 1..240"));
    for (int i = 0; i < 5; i++)
        assert_int_equal(vg_video_writer_write(vw, f->rgb, W * 3, i), 0);
    vg_video_writer_stats_get(vw, &st);
    assert_true(st.fps == 240.0);
    assert_int_equal(vg_video_writer_close(vw), 0);
    vg_video_writer_destroy(&vw);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_true(sb.st_size > 0);
    assert_int_equal(f->warnings, 1);
}

static void test_unknown_frame_rate_is_written_at_25(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw = NULL;
    vg_video_writer_stats st;

    assert_int_equal(vg_video_writer_open(f->ctx, f->path, W, H, 0, NULL, &vw),
                     0);
    vg_video_writer_stats_get(vw, &st);
    assert_true(st.fps == 25.0);
    vg_video_writer_destroy(&vw);
}

static void test_odd_size_message_names_the_cause(void **state)
{
    struct fx *f = *state;
    vg_video_writer *vw = NULL;

    assert_int_equal(
        vg_video_writer_open(f->ctx, f->path, W + 1, H, 25, NULL, &vw),
        VG_EINVAL);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "is odd"));
    assert_null(strstr(vg_context_errmsg(f->ctx), "fps"));
}

static void test_video_stops_once_below_its_free_space_reserve(void **state)
{
    struct fx *f = *state;
    vg_video_writer_opts o;
    vg_video_writer *vw = NULL;
    vg_video_writer_stats st;
    struct stat sb;

    vg_video_writer_opts_default(&o);
    o.min_free_bytes = UINT64_MAX / 2; /* more than any disk has */
    assert_int_equal(vg_video_writer_open(f->ctx, f->path, W, H, 25, &o, &vw),
                     0);
    assert_int_equal(vg_video_writer_write(vw, f->rgb, W * 3, 0), VG_ENOSPC);
    assert_non_null(strstr(vg_video_writer_errmsg(vw), "annotated.mp4"));
    assert_non_null(strstr(vg_video_writer_errmsg(vw), "left on the device"));
    /* later writes: the same code at once, no new message */
    assert_int_equal(vg_video_writer_write(vw, f->rgb, W * 3, 1), VG_ENOSPC);
    vg_video_writer_stats_get(vw, &st);
    assert_int_equal(st.stopped, 1);
    assert_int_equal(st.frames, 0);
    assert_int_equal(vg_video_writer_close(vw), 0);
    vg_video_writer_destroy(&vw);
    assert_int_equal(stat(f->path, &sb), -1); /* no frame: no file */
    assert_int_equal(f->warnings, 0);         /* the caller says it, once */
}

static void test_fopen_output_refuses_a_link_and_writes_a_file(void **state)
{
    struct fx *f = *state;
    char p[700];
    FILE *out = NULL;

    snprintf(p, sizeof(p), "%s/events.jsonl", f->dir);
    make_target(f, p);
    assert_int_equal(vg_fopen_output(f->ctx, p, "a", &out), VG_EIO);
    assert_null(out);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "is a symbolic link"));
    assert_target_untouched(f);
    unlink(p);
    assert_int_equal(vg_fopen_output(f->ctx, p, "a", &out), 0);
    fputs("{}\n", out);
    assert_int_equal(fclose(out), 0);
}

static void test_output_file_is_whole_or_absent(void **state)
{
    struct fx *f = *state;
    vg_output_file o;
    char p[700], cmd[800];
    struct stat sb;

    snprintf(p, sizeof(p), "%s/report.json", f->dir);
    assert_int_equal(vg_output_begin(f->ctx, p, &o), 0);
    fputs("{\"a\": 1}\n", o.f);
    assert_int_equal(stat(p, &sb), -1); /* not there until committed */
    assert_int_equal(vg_output_commit(f->ctx, &o), 0);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 9);
    /* an aborted rewrite leaves the old file and no temporary */
    assert_int_equal(vg_output_begin(f->ctx, p, &o), 0);
    fputs("{\"a\":", o.f);
    vg_output_abort(&o);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 9);
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | grep tmp)\"", f->dir);
    assert_int_equal(system(cmd), 0);
    /* a link at the name is refused before anything is written */
    unlink(p);
    make_target(f, p);
    assert_int_equal(vg_output_begin(f->ctx, p, &o), VG_EIO);
    assert_null(o.f);
    assert_target_untouched(f);
}

static void test_outdir_lock_is_exclusive_and_names_the_holder(void **state)
{
    struct fx *f = *state;
    vg_outdir_lock *a = NULL, *b = NULL;
    char want[700];

    assert_int_equal(vg_outdir_lock_take(f->ctx, f->dir, &a), 0);
    assert_non_null(a);
    /* flock is per open file: a second take conflicts, even here */
    assert_int_equal(vg_outdir_lock_take(f->ctx, f->dir, &b), VG_EBUSY);
    assert_null(b);
    snprintf(want, sizeof(want), "%s: in use by another vigil run (pid %ld)",
             f->dir, (long)getpid());
    assert_string_equal(vg_context_errmsg(f->ctx), want);
    vg_outdir_lock_release(&a);
    assert_null(a);
    assert_int_equal(vg_outdir_lock_take(f->ctx, f->dir, &b), 0);
    vg_outdir_lock_release(&b);
    vg_outdir_lock_release(&b); /* NULL: nothing */
}

static void test_outdir_lock_refuses_a_link(void **state)
{
    struct fx *f = *state;
    vg_outdir_lock *a = NULL;
    char p[700];

    snprintf(p, sizeof(p), "%s/.vigil.lock", f->dir);
    make_target(f, p);
    assert_int_equal(vg_outdir_lock_take(f->ctx, f->dir, &a), VG_EIO);
    assert_null(a);
    assert_target_untouched(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_video_writer_refuses_a_link, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_absurd_frame_rate_is_clamped_with_one_warning, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_unknown_frame_rate_is_written_at_25, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_size_message_names_the_cause,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_video_stops_once_below_its_free_space_reserve, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_fopen_output_refuses_a_link_and_writes_a_file, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_output_file_is_whole_or_absent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_outdir_lock_is_exclusive_and_names_the_holder, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_outdir_lock_refuses_a_link, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
