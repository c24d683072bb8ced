#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Two cameras' pools and tables of the same name stay apart by their
 * owner's label (no duplicate Prometheus series). */
static void test_owners_keep_cameras_apart(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    vg_pool *p1, *p2;
    size_t fig[2] = {3, 512};
    int id1, id2, id3;
    char buf[16384];

    assert_int_equal(vg_pool_create(f->ctx, "tensor", 100, 2, &p1), 0);
    assert_int_equal(vg_pool_create(f->ctx, "tensor", 100, 4, &p2), 0);
    assert_int_equal(vg_telemetry_add_pool(t, p1, &id1), 0);
    assert_int_equal(vg_telemetry_add_pool(t, p2, &id2), 0);
    assert_int_equal(
        vg_telemetry_add_table(t, "tracker_slots", table_size, fig, &id3), 0);
    assert_int_equal(vg_telemetry_set_owner(t, id1, "north"), 0);
    assert_int_equal(vg_telemetry_set_owner(t, id2, "so\"uth"), 0);
    assert_int_equal(vg_telemetry_set_owner(t, id3, "north"), 0);
    assert_int_equal(vg_telemetry_set_owner(t, 12345, "x"), VG_EINVAL);
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), NULL),
                     0);
    assert_non_null(strstr(
        buf, "\nvigil_pool_buffers{stream=\"north\",pool=\"tensor\"} 2\n"));
    assert_non_null(strstr(
        buf, "\nvigil_pool_buffers{stream=\"so\\\"uth\",pool=\"tensor\"} 4\n"));
    assert_non_null(strstr(buf, "\nvigil_table_size{stream=\"north\","
                                "table=\"tracker_slots\"} 3\n"));
    /* a slot used again starts without an owner */
    vg_telemetry_remove(t, id1);
    assert_int_equal(vg_telemetry_add_pool(t, p1, &id1), 0);
    vg_telemetry_sample(t, 2.0);
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), NULL),
                     0);
    assert_non_null(strstr(buf, "\nvigil_pool_buffers{pool=\"tensor\"} 2\n"));
    vg_telemetry_destroy(&t);
    vg_pool_destroy(&p1);
    vg_pool_destroy(&p2);
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
    vg_telemetry_opts_default(&o);
    o.max_streams = -1;
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

/* ---- streams ------------------------------------------------------------ */

/* A stand-in for a camera: what its fill function reports. */
typedef struct fake_cam {
    const char *state;
    uint64_t frames, attempts, reconnects, drops, stalls;
    double seconds[6];
    int n_states; /* rows reported (the six reconnect states) */
    const char *error;
    int calls; /* fill_cam calls */
} fake_cam;

static const char *const cam_states[6] = {"connecting", "live",    "stalled",
                                          "dropped",    "backoff", "stopped"};

static void fill_cam(void *user, vg_telemetry_stream *out)
{
    fake_cam *c = user;
    c->calls++;
    snprintf(out->state, sizeof(out->state), "%s", c->state);
    out->frames = c->frames;
    out->attempts = c->attempts;
    out->reconnects = c->reconnects;
    out->drops = c->drops;
    out->stalls = c->stalls;
    out->n_states = c->n_states;
    for (int k = 0; k < c->n_states; k++) {
        snprintf(out->state_names[k], sizeof(out->state_names[k]), "%s",
                 cam_states[k]);
        out->state_seconds[k] = c->seconds[k];
    }
    snprintf(out->last_error, sizeof(out->last_error), "%s",
             c->error ? c->error : "");
}

static fake_cam a_cam(void)
{
    fake_cam c;
    memset(&c, 0, sizeof(c));
    c.state = "connecting";
    c.attempts = 1;
    c.n_states = 6;
    return c;
}

static vg_telemetry *make_streams(fixture *f, int max_streams)
{
    vg_telemetry_opts o;
    vg_telemetry *t = NULL;
    vg_telemetry_opts_default(&o);
    o.gpu = 0;
    o.max_streams = max_streams;
    assert_int_equal(vg_telemetry_create(f->ctx, &o, &t), 0);
    return t;
}

/* Parses one exposition line "name{k="v",...} value" with escaped label
 * values; returns 1 when well formed. The value of label key (if found)
 * is unescaped into val. */
static int parse_sample(const char *line, const char *key, char *val,
                        size_t cap)
{
    const char *p = line;
    char *end;

    if (val)
        val[0] = '\0';
    while ((*p >= 'a' && *p <= 'z') || *p == '_' || (*p >= '0' && *p <= '9'))
        p++;
    if (p == line)
        return 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            const char *k = p;
            size_t kn, o = 0;
            int want;
            while ((*p >= 'a' && *p <= 'z') || *p == '_')
                p++;
            kn = (size_t)(p - k);
            if (kn == 0 || p[0] != '=' || p[1] != '"')
                return 0;
            want = key && strlen(key) == kn && !strncmp(k, key, kn);
            p += 2;
            while (*p != '"') {
                char ch = *p;
                if (ch == '\0' || ch == '\n')
                    return 0;
                if (ch == '\\') {
                    p++;
                    if (*p == 'n')
                        ch = '\n';
                    else if (*p == '\\' || *p == '"')
                        ch = *p;
                    else
                        return 0;
                }
                if (want && o + 1 < cap)
                    val[o++] = ch;
                p++;
            }
            if (want)
                val[o] = '\0';
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return 0;
        }
        p++;
    }
    if (*p != ' ')
        return 0;
    strtod(p + 1, &end);
    return end != p + 1 && (*end == '\n' || *end == '\0');
}

/* Every line of buf is a HELP/TYPE comment or a well-formed sample. */
static void assert_page_parses(const char *buf)
{
    const char *line = buf;
    while (*line) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (line[0] == '#')
            assert_true(!strncmp(line, "# HELP ", 7) ||
                        !strncmp(line, "# TYPE ", 7));
        else if (!parse_sample(line, NULL, NULL, 0))
            fail_msg("malformed line: %.*s", (int)(nl - line), line);
        line = nl + 1;
    }
}

static void test_stream_state_is_read_at_each_sample(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    fake_cam c = a_cam();
    vg_telemetry_stream s;
    vg_telemetry_stats st;

    assert_int_equal(vg_telemetry_add_stream(t, "cam1", fill_cam, &c, NULL), 0);
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_stream_get(t, "cam1", &s), 0);
    assert_string_equal(s.state, "connecting");
    assert_int_equal(s.attempts, 1);
    c.state = "live";
    c.frames = 40;
    c.seconds[0] = 0.5;
    c.seconds[1] = 4.0;
    /* the published sample changes only at the next sample */
    assert_int_equal(vg_telemetry_stream_get(t, "cam1", &s), 0);
    assert_string_equal(s.state, "connecting");
    vg_telemetry_sample(t, 2.0);
    assert_int_equal(vg_telemetry_stream_get(t, "cam1", &s), 0);
    assert_string_equal(s.state, "live");
    assert_int_equal(s.frames, 40);
    assert_int_equal(s.n_states, 6);
    assert_string_equal(s.state_names[1], "live");
    assert_true(s.state_seconds[1] == 4.0);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.n_streams, 1);
    assert_int_equal(vg_telemetry_stream_get(t, "cam2", &s), VG_ENOENT);
    vg_telemetry_destroy(&t);
}

static void test_prometheus_stream_state_is_an_enum(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    fake_cam c = a_cam();
    char buf[16384];

    assert_int_equal(vg_telemetry_add_stream(t, "cam1", fill_cam, &c, NULL), 0);
    c.state = "backoff";
    c.attempts = 3;
    c.reconnects = 2;
    c.drops = 1;
    c.stalls = 1;
    c.frames = 250;
    c.seconds[4] = 1.25;
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), NULL),
                     0);
    assert_page_parses(buf);
    assert_non_null(strstr(buf, "# TYPE vigil_stream_state gauge\n"));
    assert_non_null(strstr(
        buf, "\nvigil_stream_state{stream=\"cam1\",state=\"backoff\"} 1\n"));
    for (int k = 0; k < 6; k++) {
        char want[128];
        if (!strcmp(cam_states[k], "backoff"))
            continue;
        snprintf(want, sizeof(want),
                 "\nvigil_stream_state{stream=\"cam1\",state=\"%s\"} 0\n",
                 cam_states[k]);
        assert_non_null(strstr(buf, want));
    }
    assert_non_null(strstr(buf, "# TYPE vigil_stream_frames_total counter\n"));
    assert_non_null(
        strstr(buf, "\nvigil_stream_frames_total{stream=\"cam1\"} 250\n"));
    assert_non_null(strstr(
        buf, "\nvigil_stream_frames_dropped_total{stream=\"cam1\"} 0\n"));
    assert_non_null(strstr(
        buf, "\nvigil_stream_frames_skipped_idle_total{stream=\"cam1\"} 0\n"));
    assert_non_null(strstr(
        buf, "\nvigil_stream_connect_attempts_total{stream=\"cam1\"} 3\n"));
    assert_non_null(
        strstr(buf, "\nvigil_stream_reconnects_total{stream=\"cam1\"} 2\n"));
    assert_non_null(
        strstr(buf, "\nvigil_stream_drops_total{stream=\"cam1\"} 1\n"));
    assert_non_null(
        strstr(buf, "\nvigil_stream_stalls_total{stream=\"cam1\"} 1\n"));
    assert_non_null(strstr(buf, "\nvigil_stream_state_seconds_total{stream="
                                "\"cam1\",state=\"backoff\"} 1.250\n"));
    assert_non_null(strstr(
        buf, "\nvigil_stream_last_error_info{stream=\"cam1\",error=\"\"} 1\n"));
    /* the state moves: the 1 moves with it */
    c.state = "connecting";
    vg_telemetry_sample(t, 2.0);
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), NULL),
                     0);
    assert_non_null(strstr(
        buf, "\nvigil_stream_state{stream=\"cam1\",state=\"connecting\"} 1\n"));
    assert_non_null(strstr(
        buf, "\nvigil_stream_state{stream=\"cam1\",state=\"backoff\"} 0\n"));
    vg_telemetry_destroy(&t);
}

static void test_prometheus_escapes_the_last_error_label(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    fake_cam c = a_cam();
    const char *err = "rtsp://h/\"cam\" \\ refused\nretrying";
    char buf[16384], val[256];
    const char *line;

    c.error = err;
    assert_int_equal(
        vg_telemetry_add_stream(t, "gate \"2\"", fill_cam, &c, NULL), 0);
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), NULL),
                     0);
    assert_page_parses(buf);
    assert_non_null(strstr(
        buf, "\nvigil_stream_last_error_info{stream=\"gate \\\"2\\\"\","
             "error=\"rtsp://h/\\\"cam\\\" \\\\ refused\\nretrying\"} 1\n"));
    line = strstr(buf, "\nvigil_stream_last_error_info{");
    assert_non_null(line);
    assert_true(parse_sample(line + 1, "error", val, sizeof(val)));
    assert_string_equal(val, err);
    assert_true(parse_sample(line + 1, "stream", val, sizeof(val)));
    assert_string_equal(val, "gate \"2\"");
    vg_telemetry_destroy(&t);
}

static void test_json_and_text_reports_list_streams(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    fake_cam c = a_cam();
    char text[8192];
    FILE *fp = tmpfile();

    assert_non_null(fp);
    c.state = "live";
    c.frames = 7;
    c.seconds[0] = 0.25;
    c.seconds[1] = 2.5;
    c.error = "said \"no\"\n";
    assert_int_equal(vg_telemetry_add_stream(t, "cam1", fill_cam, &c, NULL), 0);
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_report_json(t, fp), 0);
    slurp(fp, text, sizeof(text));
    assert_int_equal(text[strlen(text) - 1], '}');
    assert_non_null(strstr(text,
                           "\"streams\": [{\"name\": \"cam1\", \"state\": "
                           "\"live\", \"frames\": 7, "));
    assert_non_null(strstr(text, "\"time_in_state_s\": {\"connecting\": 0.250, "
                                 "\"live\": 2.500, "));
    assert_non_null(
        strstr(text, "\"last_error\": \"said \\\"no\\\"\\u000a\"}]"));
    fclose(fp);
    fp = tmpfile();
    assert_non_null(fp);
    assert_int_equal(vg_telemetry_report(t, fp), 0);
    slurp(fp, text, sizeof(text));
    assert_non_null(strstr(text, "  stream cam1: live, frames 7 "));
    assert_non_null(strstr(text, "connecting 0.2 s, live 2.5 s"));
    fclose(fp);
    vg_telemetry_destroy(&t);
}

static void test_current_state_missing_from_rows_is_added(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    fake_cam c = a_cam();
    vg_telemetry_stream s;
    char buf[16384];

    c.state = "file";
    c.n_states = 0;
    assert_int_equal(vg_telemetry_add_stream(t, "clip", fill_cam, &c, NULL), 0);
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_stream_get(t, "clip", &s), 0);
    assert_int_equal(s.n_states, 1);
    assert_string_equal(s.state_names[0], "file");
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), NULL),
                     0);
    assert_non_null(strstr(
        buf, "\nvigil_stream_state{stream=\"clip\",state=\"file\"} 1\n"));
    vg_telemetry_destroy(&t);
}

static void test_full_stream_registry_refuses_with_erange(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make_streams(f, 2);
    fake_cam c = a_cam();
    int a, b, d = 0;

    assert_int_equal(vg_telemetry_add_stream(t, "a", fill_cam, &c, &a), 0);
    assert_int_equal(vg_telemetry_add_stream(t, "b", fill_cam, &c, &b), 0);
    assert_int_equal(vg_telemetry_add_stream(t, "c", fill_cam, &c, &d),
                     VG_ERANGE);
    assert_int_equal(d, -1);
    assert_int_equal(vg_telemetry_add_stream(t, "c", NULL, &c, NULL),
                     VG_EINVAL);
    /* a freed slot takes the next one */
    vg_telemetry_remove(t, a);
    assert_int_equal(vg_telemetry_add_stream(t, "c", fill_cam, &c, &d), 0);
    vg_telemetry_destroy(&t);
}

static void test_removed_stream_is_gone(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make(f, MIB);
    fake_cam c = a_cam();
    vg_telemetry_stream s;
    vg_telemetry_stats st;
    char buf[16384];
    int id, calls;

    assert_int_equal(vg_telemetry_add_stream(t, "cam1", fill_cam, &c, &id), 0);
    vg_telemetry_sample(t, 1.0);
    assert_int_equal(vg_telemetry_stream_get(t, "cam1", &s), 0);
    vg_telemetry_remove(t, id);
    calls = c.calls;
    vg_telemetry_sample(t, 2.0);
    assert_int_equal(c.calls, calls); /* no longer called */
    assert_int_equal(vg_telemetry_stream_get(t, "cam1", &s), VG_ENOENT);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.n_streams, 0);
    assert_int_equal(vg_telemetry_format_prometheus(t, buf, sizeof(buf), NULL),
                     0);
    assert_null(strstr(buf, "vigil_stream_"));
    vg_telemetry_destroy(&t);
}

/* 64 cameras with long names and long errors fit in a metrics page. */
static void test_sixty_four_streams_fit_a_metrics_page(void **state)
{
    fixture *f = *state;
    vg_telemetry *t = make_streams(f, 64);
    static fake_cam cams[64];
    static char names[64][64], errs[64][VG_TELEMETRY_ERROR_MAX];
    static char page[VG_METRICS_PAGE_CAP];
    vg_telemetry_stats st;
    size_t len;

    for (int i = 0; i < 64; i++) {
        cams[i] = a_cam();
        snprintf(names[i], sizeof(names[i]), "camera-%02d-%.*s", i, 36,
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
        memset(errs[i], '"', sizeof(errs[i]) - 1); /* doubled by escaping */
        errs[i][sizeof(errs[i]) - 1] = '\0';
        cams[i].error = errs[i];
        cams[i].frames = UINT64_MAX;
        for (int k = 0; k < 6; k++)
            cams[i].seconds[k] = 1e9;
        assert_int_equal(
            vg_telemetry_add_stream(t, names[i], fill_cam, &cams[i], NULL), 0);
    }
    vg_telemetry_sample(t, 1.0);
    vg_telemetry_stats_get(t, &st);
    assert_int_equal(st.n_streams, 64);
    assert_int_equal(
        vg_telemetry_format_prometheus(t, page, sizeof(page), &len), 0);
    assert_page_parses(page);
    assert_non_null(
        strstr(page, "\nvigil_stream_last_error_info{stream=\"camera-63-"));
    vg_telemetry_destroy(&t);
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
        T(test_owners_keep_cameras_apart),
        T(test_prometheus_lists_pool_series),
        T(test_prometheus_cuts_at_a_line_when_buffer_is_small),
        T(test_create_rejects_bad_options),
        T(test_create_fails_cleanly_at_every_allocation),
        T(test_destroy_accepts_null),
        T(test_stream_state_is_read_at_each_sample),
        T(test_prometheus_stream_state_is_an_enum),
        T(test_prometheus_escapes_the_last_error_label),
        T(test_json_and_text_reports_list_streams),
        T(test_current_state_missing_from_rows_is_added),
        T(test_full_stream_registry_refuses_with_erange),
        T(test_removed_stream_is_gone),
        T(test_sixty_four_streams_fit_a_metrics_page),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
