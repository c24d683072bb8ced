#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/telemetry.h"

#define MIB (1024.0 * 1024.0)

typedef struct fixture {
    vg_context *ctx;
    int warnings; /* warning lines logged */
    char last_warning[256];
} fixture;

static void capture_log(void *user, int level, const char *line)
{
    fixture *f = user;
    if (level == VG_LOG_WARN) {
        f->warnings++;
        snprintf(f->last_warning, sizeof(f->last_warning), "%s", line);
    }
}

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof(f));
    if (vg_context_create(&f.ctx) < 0)
        return -1;
    vg_context_set_log_level(f.ctx, VG_LOG_WARN);
    vg_context_set_log_fn(f.ctx, capture_log, &f);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    return 0;
}

/* Options without GPU probing (deterministic on any machine). */
static vg_telemetry *make(fixture *f, double threshold)
{
    vg_telemetry_opts o;
    vg_telemetry *t = NULL;
    vg_telemetry_opts_default(&o);
    o.gpu = 0;
    o.leak_slope_bytes_per_s = threshold;
    assert_int_equal(vg_telemetry_create(f->ctx, &o, &t), 0);
    return t;
}

/* Whole content of a stream written so far, into buf. */
static const char *slurp(FILE *fp, char *buf, size_t cap)
{
    size_t n;
    fflush(fp);
    rewind(fp);
    n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    return buf;
}

static void test_report_shows_pool_in_use_and_high_water(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    vg_pool *pool;
    vg_buf *a, *b;
    char text[4096];
    FILE *fp;

    assert_int_equal(vg_pool_create(f->ctx, "frames", 1024, 4, &pool), 0);
    assert_int_equal(vg_telemetry_add_pool(t, pool, NULL), 0);
    assert_int_equal(vg_pool_get(pool, 0, &a), 0);
    assert_int_equal(vg_pool_get(pool, 0, &b), 0);
    vg_telemetry_sample(t, 1.0);
    fp = tmpfile();
    assert_non_null(fp);
    assert_int_equal(vg_telemetry_report(t, fp), 0);
    slurp(fp, text, sizeof(text));
    assert_non_null(strstr(text,
                           "pool frames: 4 x 1.0 KiB = 4.0 KiB, in use 2, high "
                           "water 2"));

    vg_buf_unref(&b);
    vg_telemetry_sample(t, 2.0);
    rewind(fp);
    assert_int_equal(vg_telemetry_report(t, fp), 0);
    slurp(fp, text, sizeof(text));
    assert_non_null(strstr(text, "in use 1, high water 2"));
    fclose(fp);
    vg_buf_unref(&a);
    vg_telemetry_destroy(&t);
    assert_null(t);
    vg_pool_destroy(&pool);
}

static void test_removed_pool_is_no_longer_reported(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    vg_telemetry_stats st;
    vg_pool *p1, *p2;
    int id1, id2;

    assert_int_equal(vg_pool_create(f->ctx, "one", 64, 1, &p1), 0);
    assert_int_equal(vg_pool_create(f->ctx, "two", 64, 1, &p2), 0);
    assert_int_equal(vg_telemetry_add_pool(t, p1, &id1), 0);
    assert_int_equal(vg_telemetry_add_pool(t, p2, &id2), 0);
    assert_int_not_equal(id1, id2);
    vg_telemetry_sample(t, 1.0);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.n_pools, 2);
    vg_telemetry_remove(t, id1);
    vg_pool_destroy(&p1);
    vg_telemetry_sample(t, 2.0);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.n_pools, 1);
    vg_telemetry_destroy(&t);
    vg_pool_destroy(&p2);
}

static void table_size(void *user, size_t *size, size_t *capacity)
{
    const size_t *v = user;
    *size = v[0];
    *capacity = v[1];
}

static void test_table_size_is_read_at_each_sample(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    size_t fig[2] = {3, 512};
    char text[4096];
    FILE *fp = tmpfile();

    assert_non_null(fp);
    assert_int_equal(
        vg_telemetry_add_table(t, "tracker", table_size, fig, NULL), 0);
    vg_telemetry_sample(t, 1.0);
    fig[0] = 7;
    vg_telemetry_sample(t, 2.0);
    assert_int_equal(vg_telemetry_report(t, fp), 0);
    slurp(fp, text, sizeof(text));
    assert_non_null(strstr(text, "table tracker: 7 of 512"));
    fclose(fp);
    vg_telemetry_destroy(&t);
}

static void test_model_setter_updates_by_name(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    vg_telemetry_stats st;
    char text[4096];
    FILE *fp = tmpfile();

    assert_non_null(fp);
    assert_int_equal(vg_telemetry_set_model(t, "yolo", "loading", 1024, 0), 0);
    assert_int_equal(
        vg_telemetry_set_model(t, "yolo", "resident", 3 * 1024 * 1024, 2048),
        0);
    vg_telemetry_sample(t, 1.0);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.n_models, 1);
    assert_int_equal(vg_telemetry_report(t, fp), 0);
    slurp(fp, text, sizeof(text));
    assert_non_null(
        strstr(text, "model yolo: resident, host 3.0 MiB, device 2.0 KiB"));
    vg_telemetry_remove_model(t, "yolo");
    vg_telemetry_sample(t, 2.0);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.n_models, 0);
    fclose(fp);
    vg_telemetry_destroy(&t);
}

static void test_full_registry_refuses_with_erange(void **state)
{
    fixture *f = *state;
    vg_telemetry_opts o;
    vg_telemetry *t;
    vg_pool *pool;
    size_t fig[2] = {0, 1};

    vg_telemetry_opts_default(&o);
    o.gpu = 0;
    o.max_pools = 1;
    o.max_tables = 1;
    o.max_models = 1;
    assert_int_equal(vg_telemetry_create(f->ctx, &o, &t), 0);
    assert_int_equal(vg_pool_create(f->ctx, "p", 64, 1, &pool), 0);
    assert_int_equal(vg_telemetry_add_pool(t, pool, NULL), 0);
    assert_int_equal(vg_telemetry_add_pool(t, pool, NULL), VG_ERANGE);
    assert_int_equal(vg_telemetry_add_table(t, "a", table_size, fig, NULL), 0);
    assert_int_equal(vg_telemetry_add_table(t, "b", table_size, fig, NULL),
                     VG_ERANGE);
    assert_int_equal(vg_telemetry_set_model(t, "m1", "resident", 1, 0), 0);
    assert_int_equal(vg_telemetry_set_model(t, "m2", "resident", 1, 0),
                     VG_ERANGE);
    /* updating the model already held still works */
    assert_int_equal(vg_telemetry_set_model(t, "m1", "evicted", 0, 0), 0);
    vg_telemetry_destroy(&t);
    vg_pool_destroy(&pool);
}

static void test_sample_measures_process_rss(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    vg_telemetry_stats st;

    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.samples, 0);
    vg_telemetry_sample(t, 5.0);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.samples, 1);
    assert_true(st.rss_bytes > 0);
    assert_true(st.peak_rss_bytes >= st.rss_bytes);
    assert_true(st.time_s == 5.0);
    /* the sample fed the leak guard */
    assert_int_equal(st.leak_window_samples, 1);
    vg_telemetry_destroy(&t);
}

/* ---- leak guard --------------------------------------------------------- */

static void test_flat_rss_raises_no_warning(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, 64 * 1024);
    vg_telemetry_stats st;

    for (int i = 0; i < 3 * VG_TELEMETRY_LEAK_SAMPLES; i++)
        vg_telemetry_feed_rss(t, i, 500u << 20);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.leak_window_samples, VG_TELEMETRY_LEAK_SAMPLES);
    assert_true(st.leak_slope_bytes_per_s == 0.0);
    assert_false(st.leak_suspected);
    assert_int_equal(st.leak_warnings, 0);
    assert_int_equal(f->warnings, 0);
    vg_telemetry_destroy(&t);
}

static void test_growing_rss_warns_once_per_window(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, 1 * MIB); /* window 60 s */
    vg_telemetry_stats st;
    const double growth = 2 * MIB; /* bytes per second */
    int i;

    for (i = 0; i < VG_TELEMETRY_LEAK_SAMPLES - 1; i++)
        vg_telemetry_feed_rss(t, i, (uint64_t)(100 * MIB + growth * i));
    vg_telemetry_stats_get(t, &st);
    /* the slope is there, but the window is not full yet */
    assert_true(st.leak_slope_bytes_per_s > 1.99 * MIB);
    assert_int_equal(st.leak_warnings, 0);

    vg_telemetry_feed_rss(t, i, (uint64_t)(100 * MIB + growth * i));
    vg_telemetry_stats_get(t, &st);
    assert_true(st.leak_suspected);
    assert_true(st.leak_slope_bytes_per_s > 1.99 * MIB &&
                st.leak_slope_bytes_per_s < 2.01 * MIB);
    assert_int_equal(st.leak_warnings, 1);
    assert_int_equal(f->warnings, 1);
    assert_non_null(strstr(f->last_warning, "possible leak"));

    /* still growing within the same window: no second warning */
    for (i++; i < VG_TELEMETRY_LEAK_SAMPLES + 30; i++)
        vg_telemetry_feed_rss(t, i, (uint64_t)(100 * MIB + growth * i));
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.leak_warnings, 1);

    /* a window later it warns again */
    for (; i < 2 * VG_TELEMETRY_LEAK_SAMPLES + 1; i++)
        vg_telemetry_feed_rss(t, i, (uint64_t)(100 * MIB + growth * i));
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.leak_warnings, 2);
    assert_int_equal(f->warnings, 2);
    vg_telemetry_destroy(&t);
}

static void test_noisy_flat_rss_raises_no_warning(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, 256 * 1024);
    vg_telemetry_stats st;
    uint32_t seed = 12345;

    for (int i = 0; i < 4 * VG_TELEMETRY_LEAK_SAMPLES; i++) {
        /* +-8 MiB of allocator noise around 500 MiB */
        seed = seed * 1664525u + 1013904223u;
        double noise = ((double)(seed >> 8) / (double)(1u << 24) - 0.5) * 16;
        vg_telemetry_feed_rss(t, i, (uint64_t)((500 + noise) * MIB));
    }
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.leak_window_samples, VG_TELEMETRY_LEAK_SAMPLES);
    assert_true(st.leak_slope_bytes_per_s < 256 * 1024);
    assert_true(st.leak_slope_bytes_per_s > -256 * 1024);
    assert_int_equal(st.leak_warnings, 0);
    assert_int_equal(f->warnings, 0);
    vg_telemetry_destroy(&t);
}

static void test_shrinking_rss_raises_no_warning(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, 1 * MIB);
    vg_telemetry_stats st;

    for (int i = 0; i < 2 * VG_TELEMETRY_LEAK_SAMPLES; i++)
        vg_telemetry_feed_rss(t, i, (uint64_t)(900 * MIB - 3 * MIB * i));
    vg_telemetry_stats_get(t, &st);
    assert_true(st.leak_slope_bytes_per_s < -2.9 * MIB);
    assert_int_equal(st.leak_warnings, 0);
    vg_telemetry_destroy(&t);
}

/* ---- periodic report, JSON, Prometheus ---------------------------------- */

static void test_tick_reports_every_interval(void **state)
{
    fixture *f = *state;
    vg_telemetry_opts o;
    vg_telemetry *t;
    vg_telemetry_stats st;
    char text[8192];
    FILE *fp = tmpfile();
    const char *p;
    int n = 0;

    assert_non_null(fp);
    vg_telemetry_opts_default(&o);
    o.gpu = 0;
    o.interval_s = 5;
    o.report_file = fp;
    assert_int_equal(vg_telemetry_create(f->ctx, &o, &t), 0);
    for (int i = 0; i <= 22; i++) /* 2 ticks per second for 11 s */
        vg_telemetry_tick_at(t, 100.0 + i * 0.5);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.reports, 2);
    /* one leak-guard sample per second (window 60 s / 60 samples) */
    assert_int_equal(st.leak_window_samples, 12);
    slurp(fp, text, sizeof(text));
    for (p = text; (p = strstr(p, "memory at ")) != NULL; p++)
        n++;
    assert_int_equal(n, 2);
    fclose(fp);
    vg_telemetry_destroy(&t);
}

static void test_json_report_lists_sources(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    vg_pool *pool;
    vg_buf *b;
    size_t fig[2] = {4, 1024};
    char text[8192];
    FILE *fp = tmpfile();

    assert_non_null(fp);
    assert_int_equal(vg_pool_create(f->ctx, "tensor", 256, 2, &pool), 0);
    assert_int_equal(vg_telemetry_add_pool(t, pool, NULL), 0);
    assert_int_equal(
        vg_telemetry_add_table(t, "rule \"state\"", table_size, fig, NULL), 0);
    assert_int_equal(vg_pool_get(pool, 0, &b), 0);
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_report_json(t, fp), 0);
    slurp(fp, text, sizeof(text));
    assert_int_equal(text[0], '{');
    assert_int_equal(text[strlen(text) - 1], '}');
    assert_non_null(strstr(text, "{\"name\": \"tensor\", \"buf_size\": 256, "
                                 "\"count\": 2, \"bytes\": 512, \"in_use\": "
                                 "1, \"high_water\": 1"));
    assert_non_null(strstr(text, "\"name\": \"rule \\\"state\\\"\", "
                                 "\"size\": 4, \"capacity\": 1024"));
    assert_non_null(strstr(text, "\"rss_bytes\": "));
    fclose(fp);
    vg_buf_unref(&b);
    vg_telemetry_destroy(&t);
    vg_pool_destroy(&pool);
}

static void test_prometheus_lists_pool_series(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    vg_pool *pool;
    vg_buf *b;
    char buf[8192];
    size_t len;

    assert_int_equal(vg_pool_create(f->ctx, "picture", 100, 3, &pool), 0);
    assert_int_equal(vg_telemetry_add_pool(t, pool, NULL), 0);
    assert_int_equal(vg_pool_get(pool, 0, &b), 0);
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), &len),
                     0);
    assert_int_equal(len, strlen(buf));
    assert_non_null(strstr(buf, "# TYPE vigil_rss_bytes gauge\n"));
    assert_non_null(strstr(buf, "\nvigil_pool_bytes{pool=\"picture\"} 300\n"));
    assert_non_null(strstr(buf, "\nvigil_pool_in_use{pool=\"picture\"} 1\n"));
    assert_non_null(
        strstr(buf, "\nvigil_pool_high_water{pool=\"picture\"} 1\n"));
    assert_non_null(strstr(buf, "\nvigil_leak_slope_bytes_per_second "));
    vg_buf_unref(&b);
    vg_telemetry_destroy(&t);
    vg_pool_destroy(&pool);
}

static void test_prometheus_cuts_at_a_line_when_buffer_is_small(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    char buf[200];
    size_t len;

    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), &len),
                     VG_ERANGE);
    assert_true(len > 0 && len < sizeof(buf));
    assert_int_equal(len, strlen(buf));
    assert_int_equal(buf[len - 1], '\n');
    vg_telemetry_destroy(&t);
}

static void test_create_rejects_bad_options(void **state)
{
    fixture *f = *state;
    vg_telemetry_opts o;
    vg_telemetry *t = (vg_telemetry *)&o;

    vg_telemetry_opts_default(&o);
    o.window_s = 0;
    assert_int_equal(vg_telemetry_create(f->ctx, &o, &t), VG_EINVAL);
    assert_null(t);
    vg_telemetry_opts_default(&o);
    o.max_pools = -1;
    assert_int_equal(vg_telemetry_create(f->ctx, &o, &t), VG_EINVAL);
    assert_null(t);
}

static void test_create_fails_cleanly_at_every_allocation(void **state)
{
    fixture *f = *state;
    vg_telemetry_opts o;
    int failures = 0;

    vg_telemetry_opts_default(&o);
    o.gpu = 0;
    for (uint64_t n = 1; n < 100; n++) {
        vg_telemetry *t = (vg_telemetry *)&o;
        int rc;
        vg_context_fail_alloc(f->ctx, n, 0);
        rc = vg_telemetry_create(f->ctx, &o, &t);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc == 0) {
            vg_telemetry_sample(t, 1.0);
            vg_telemetry_destroy(&t);
            break;
        }
        assert_int_equal(rc, VG_ENOMEM);
        assert_null(t);
        failures++;
    }
    assert_true(failures >= 1); /* create does allocate */
}

static void test_destroy_accepts_null(void **state)
{
    vg_telemetry *t = NULL;
    (void)state;
    vg_telemetry_destroy(&t);
    vg_telemetry_destroy(NULL);
    assert_null(t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_report_shows_pool_in_use_and_high_water),
        T(test_removed_pool_is_no_longer_reported),
        T(test_table_size_is_read_at_each_sample),
        T(test_model_setter_updates_by_name),
        T(test_full_registry_refuses_with_erange),
        T(test_sample_measures_process_rss),
        T(test_flat_rss_raises_no_warning),
        T(test_growing_rss_warns_once_per_window),
        T(test_noisy_flat_rss_raises_no_warning),
        T(test_shrinking_rss_raises_no_warning),
        T(test_tick_reports_every_interval),
        T(test_json_report_lists_sources),
        T(test_prometheus_lists_pool_series),
        T(test_prometheus_cuts_at_a_line_when_buffer_is_small),
        T(test_create_rejects_bad_options),
        T(test_create_fails_cleanly_at_every_allocation),
        T(test_destroy_accepts_null),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
