#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>

#include "support/io_fixtures.h"
#include "vigil/snapshot.h"

#define W 160
#define H 120
#define STRIDE (W * 3 + 8)
#define WALL_MS 1700000000000LL /* 2023-11-14T22:13:20Z */

struct fx {
    vg_context *ctx;
    char dir[512];
    uint8_t *rgb;
    int mounted;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char *d = io_tmpdir_create();
    if (!f || !d || vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    snprintf(f->dir, sizeof(f->dir), "%s", d);
    free(d);
    f->rgb = malloc((size_t)STRIDE * H);
    if (!f->rgb)
        return -1;
    for (int y = 0; y < H; y++) /* a grey ramp */
        for (int x = 0; x < STRIDE; x++)
            f->rgb[y * STRIDE + x] = (uint8_t)(60 + x / 8);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    char cmd[600];
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    if (f->mounted)
        umount(f->dir);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f->rgb);
    free(f);
    return 0;
}

static void make_event(vg_event *e, int64_t id)
{
    memset(e, 0, sizeof(*e));
    e->id = id;
    e->wall_ms = WALL_MS;
    e->track_id = 7;
    e->score = 0.9f;
    snprintf(e->rule, sizeof(e->rule), "door");
    snprintf(e->class_name, sizeof(e->class_name), "person");
    e->box = (vg_box){40, 30, 60, 50};
}

static int file_exists(const char *dir, const char *rel)
{
    char p[1024];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    return stat(p, &sb) == 0;
}

/* Sets the modification time of dir/rel to now - age_s. */
static void age_file(const char *dir, const char *rel, double age_s)
{
    char p[1024];
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= (time_t)age_s;
    ts[1] = ts[0];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void plant(const char *dir, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    assert_int_equal(io_write_file(p, "foreign", 7), 0);
}

static void mkdir_in(const char *dir, const char *rel)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
}

/* Decodes a JPEG into a packed RGB buffer (caller frees). */
static uint8_t *read_jpeg(const char *path, int *w, int *h)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr err;
    FILE *fp = fopen(path, "rb");
    uint8_t *rgb;
    if (!fp)
        return NULL;
    d.err = jpeg_std_error(&err);
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    rgb = malloc((size_t)*w * *h * 3);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = rgb + (size_t)d.output_scanline * *w * 3;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    fclose(fp);
    return rgb;
}

static void test_write_puts_annotated_jpeg_at_date_and_id(void **state)
{
    struct fx *f = *state;
    vg_snapshots *s;
    vg_event e;
    char rel[256], path[1024];
    uint8_t before[3];
    uint8_t *pic;
    int w, h;

    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, NULL, &s), 0);
    make_event(&e, 42);
    memcpy(before, f->rgb + 30 * STRIDE + 40 * 3, 3);
    assert_int_equal(
        vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, sizeof(rel)), 0);
    assert_string_equal(rel, "snapshots/2023-11-14/42.jpg");
    /* the caller's picture is not drawn on */
    assert_memory_equal(f->rgb + 30 * STRIDE + 40 * 3, before, 3);
    snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    pic = read_jpeg(path, &w, &h);
    assert_non_null(pic);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    /* the box's left edge is red, its inside keeps the picture */
    {
        const uint8_t *edge = pic + (size_t)(55 * W + 40) * 3;
        const uint8_t *in = pic + (size_t)(55 * W + 70) * 3;
        assert_true(edge[0] > 200 && edge[1] < 60 && edge[2] < 60);
        assert_true(abs(in[0] - in[1]) < 20);
    }
    free(pic);
    vg_snapshots_close(&s);
    assert_null(s);
}

static void test_steady_state_writes_do_not_allocate(void **state)
{
    struct fx *f = *state;
    vg_snapshots_opts o;
    vg_snapshots *s;
    vg_alloc_stats a, b;
    vg_event e;
    char rel[256];

    vg_snapshots_opts_default(&o);
    o.max_width = W;
    o.max_height = H;
    o.enforce_every_s = 1e9;
    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, &o, &s), 0);
    vg_context_alloc_stats(f->ctx, &a);
    for (int i = 1; i <= 10; i++) {
        make_event(&e, i);
        assert_int_equal(
            vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, sizeof(rel)),
            0);
    }
    vg_context_alloc_stats(f->ctx, &b);
    assert_int_equal(a.allocs, b.allocs);
    vg_snapshots_close(&s);
}

static void write_n(struct fx *f, vg_snapshots *s, int n, int64_t first_id)
{
    vg_event e;
    char rel[256];
    for (int i = 0; i < n; i++) {
        make_event(&e, first_id + i);
        assert_int_equal(
            vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, sizeof(rel)),
            0);
        /* older ids are older files */
        age_file(f->dir, rel, 1000.0 - i);
    }
}

static void test_retention_removes_oldest_beyond_total_bytes(void **state)
{
    struct fx *f = *state;
    vg_snapshots_opts o;
    vg_snapshots_stats st;
    vg_snapshots *s;
    struct stat sb;
    char p[1024];

    vg_snapshots_opts_default(&o);
    o.enforce_every_s = 1e9;
    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, &o, &s), 0);
    write_n(f, s, 10, 1);
    vg_snapshots_close(&s);

    snprintf(p, sizeof(p), "%s/snapshots/2023-11-14/1.jpg", f->dir);
    assert_int_equal(stat(p, &sb), 0);
    o.max_total_bytes = (uint64_t)sb.st_size * 4 + sb.st_size / 2;
    o.index_cap = 16;
    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, &o, &s), 0);
    vg_snapshots_stats_get(s, &st);
    assert_true(st.total_bytes <= o.max_total_bytes);
    assert_int_equal(st.deleted + st.files, 10);
    for (int i = 1; i <= 10; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "snapshots/2023-11-14/%d.jpg", i);
        /* the oldest go first: what is left is the newest run of files */
        assert_int_equal(file_exists(f->dir, rel), i > (int)st.deleted);
    }
    assert_true(st.files >= 3);
    vg_snapshots_close(&s);
}

static void
test_retention_with_small_index_still_reaches_the_limit(void **state)
{
    struct fx *f = *state;
    vg_snapshots_opts o;
    vg_snapshots_stats st;
    vg_snapshots *s;

    vg_snapshots_opts_default(&o);
    o.enforce_every_s = 1e9;
    o.index_cap = 16;
    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, &o, &s), 0);
    write_n(f, s, 40, 1);
    vg_snapshots_close(&s);
    o.max_total_bytes = 1; /* everything must go, 16 at a time */
    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, &o, &s), 0);
    vg_snapshots_stats_get(s, &st);
    assert_int_equal(st.index_cap, 16);
    assert_int_equal(st.deleted, 40);
    assert_int_equal(st.files, 0);
    /* the emptied DATE directory went too */
    assert_false(file_exists(f->dir, "snapshots/2023-11-14"));
    vg_snapshots_close(&s);
}

static void test_retention_removes_files_older_than_max_age(void **state)
{
    struct fx *f = *state;
    vg_snapshots_opts o;
    vg_snapshots *s;

    vg_snapshots_opts_default(&o);
    o.max_age_days = 2;
    o.enforce_every_s = 1e9;
    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, &o, &s), 0);
    write_n(f, s, 3, 1);
    age_file(f->dir, "snapshots/2023-11-14/2.jpg", 3 * 86400.0);
    assert_int_equal(vg_snapshots_enforce(s), 0);
    assert_true(file_exists(f->dir, "snapshots/2023-11-14/1.jpg"));
    assert_false(file_exists(f->dir, "snapshots/2023-11-14/2.jpg"));
    assert_true(file_exists(f->dir, "snapshots/2023-11-14/3.jpg"));
    vg_snapshots_close(&s);
}

static void test_retention_never_removes_foreign_files(void **state)
{
    struct fx *f = *state;
    vg_snapshots_opts o;
    vg_snapshots_stats st;
    vg_snapshots *s;
    static const char *const foreign[] = {
        "notes.txt",
        "snapshots/notes.txt",
        "snapshots/1.jpg",
        "snapshots/2023-11-14/notes.txt",
        "snapshots/2023-11-14/123.png",
        "snapshots/2023-11-14/01a.jpg",
        "snapshots/2023-11-14/12.jpg.bak",
        "snapshots/2023-11-14/12.JPG",
        "snapshots/2023-11-14/.7.jpg.99.tmp",
        "snapshots/2023-1-14/5.jpg",
        "snapshots/other/1.jpg",
        "other/1.jpg",
    };

    mkdir_in(f->dir, "snapshots");
    mkdir_in(f->dir, "snapshots/2023-11-14");
    mkdir_in(f->dir, "snapshots/2023-1-14");
    mkdir_in(f->dir, "snapshots/other");
    mkdir_in(f->dir, "other");
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        plant(f->dir, foreign[i]);
        age_file(f->dir, foreign[i], 400 * 86400.0);
    }
    /* and one of vigil's own, old enough to go */
    plant(f->dir, "snapshots/2023-11-14/77.jpg");
    age_file(f->dir, "snapshots/2023-11-14/77.jpg", 400 * 86400.0);

    vg_snapshots_opts_default(&o);
    o.max_age_days = 1;
    o.max_total_bytes = 1;
    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, &o, &s), 0);
    vg_snapshots_stats_get(s, &st);
    assert_int_equal(st.deleted, 1);
    assert_false(file_exists(f->dir, "snapshots/2023-11-14/77.jpg"));
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
        assert_true(file_exists(f->dir, foreign[i]));
    vg_snapshots_close(&s);
}

static void test_write_refuses_event_without_id(void **state)
{
    struct fx *f = *state;
    vg_snapshots *s;
    vg_event e;
    char rel[256] = "x";

    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, NULL, &s), 0);
    make_event(&e, 0);
    assert_int_equal(
        vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, sizeof(rel)),
        VG_EINVAL);
    assert_string_equal(rel, "");
    make_event(&e, 5);
    assert_int_equal(vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, 8),
                     VG_ERANGE);
    vg_snapshots_close(&s);
}

/* Random noise compresses badly: each snapshot is tens of kB. */
static void fill_noise(uint8_t *rgb, unsigned seed)
{
    for (int i = 0; i < STRIDE * H; i++) {
        seed = seed * 1103515245u + 12345u;
        rgb[i] = (uint8_t)(seed >> 16);
    }
}

static int no_tmp_left(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd),
             "test -z \"$(find '%s' -name '*.tmp' 2>/dev/null)\"", dir);
    return system(cmd) == 0;
}

/* Fills the filesystem under f->dir (a 256 kB tmpfs) until a write fails. */
static void check_disk_full(struct fx *f)
{
    vg_snapshots_opts o;
    vg_snapshots_stats st;
    vg_snapshots *s;
    vg_event e;
    char rel[256];
    int rc = 0, i;

    vg_snapshots_opts_default(&o);
    o.quality = 95;
    o.enforce_every_s = 1e9;    /* retention only when asked */
    o.max_total_bytes = 100000; /* what enforce will bring it down to */
    o.min_free_bytes = 0;       /* the real ENOSPC path, no reserve */
    assert_int_equal(vg_snapshots_open(f->ctx, f->dir, &o, &s), 0);
    for (i = 1; i <= 100 && rc == 0; i++) {
        fill_noise(f->rgb, (unsigned)i);
        make_event(&e, i);
        rc = vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, sizeof(rel));
    }
    assert_int_equal(rc, VG_EIO);
    assert_true(i > 2); /* some fitted first */
    assert_string_equal(rel, "");
    assert_int_equal(vg_snapshots_enabled(s), 0);
    assert_true(no_tmp_left(f->dir));
    /* disabled: refused without touching the disk */
    make_event(&e, 1000);
    assert_int_equal(
        vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, sizeof(rel)),
        VG_EIO);
    vg_snapshots_stats_get(s, &st);
    assert_int_equal(st.disabled, 1);
    assert_int_equal(st.skipped, 1);
    assert_false(file_exists(f->dir, "snapshots/2023-11-14/1000.jpg"));
    /* a retention pass that frees space enables it again */
    assert_int_equal(vg_snapshots_enforce(s), 0);
    assert_int_equal(vg_snapshots_enabled(s), 1);
    fill_noise(f->rgb, 7);
    make_event(&e, 1001);
    assert_int_equal(
        vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, sizeof(rel)), 0);
    vg_snapshots_close(&s);
}

static void test_full_disk_disables_snapshots(void **state)
{
    struct fx *f = *state;
    pid_t pid;
    int status;

    if (mount("tmpfs", f->dir, "tmpfs", 0, "size=256k") == 0) {
        f->mounted = 1;
        print_message("full disk: a 256 kB tmpfs\n");
        check_disk_full(f);
        return;
    }
    /* no mount (not root): each file is limited by RLIMIT_FSIZE instead,
     * which fails writes with EFBIG; done in a child so the limit does not
     * reach this process */
    print_message("full disk: tmpfs mount refused (%s); using RLIMIT_FSIZE\n",
                  strerror(errno));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vg_snapshots *s;
        vg_event e;
        char rel[256];
        struct rlimit rl = {4096, 4096};
        int rc;
        signal(SIGXFSZ, SIG_IGN);
        if (vg_snapshots_open(f->ctx, f->dir, NULL, &s) < 0)
            _exit(2);
        setrlimit(RLIMIT_FSIZE, &rl);
        fill_noise(f->rgb, 1);
        make_event(&e, 1);
        rc = vg_snapshots_write(s, &e, f->rgb, W, H, STRIDE, rel, sizeof(rel));
        _exit(rc == VG_EIO && !vg_snapshots_enabled(s) && no_tmp_left(f->dir)
                  ? 0
                  : 3);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_write_puts_annotated_jpeg_at_date_and_id, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_steady_state_writes_do_not_allocate, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_retention_removes_oldest_beyond_total_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_retention_with_small_index_still_reaches_the_limit, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_retention_removes_files_older_than_max_age, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_retention_never_removes_foreign_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_refuses_event_without_id,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_disables_snapshots,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
