/* The configuration schema (include/vigil/schema.h): the vg_settings table
 * is complete and consistent, the loader driven by it records the origin of
 * every key, checks types and ranges, and suggests the key meant. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/schema.h"

typedef struct fixture {
    vg_context *ctx;
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = test_calloc(1, sizeof(*f));
    if (vg_context_create(&f->ctx) < 0)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/vg_schema_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/site.yaml", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    vg_context_destroy(&f->ctx);
    test_free(f);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    fclose(fp);
}

static void test_table_rows_are_complete_and_unique(void **state)
{
    int n;
    const vg_option *o = vg_settings_schema(&n);
    const char *const *sec = vg_settings_sections();
    (void)state;
    assert_int_equal(n, VG_SETTINGS_N_KEYS);
    for (int i = 0; i < n; i++) {
        int found = 0;
        assert_non_null(o[i].section);
        assert_non_null(o[i].key);
        assert_non_null(o[i].help);
        assert_true(strlen(o[i].help) > 0);
        for (int j = 0; sec[j]; j++)
            found |= !strcmp(sec[j], o[i].section);
        if (!found)
            fail_msg("row %d: section '%s' is not listed", i, o[i].section);
        for (int j = 0; j < i; j++)
            if (!strcmp(o[i].section, o[j].section) &&
                !strcmp(o[i].key, o[j].key))
                fail_msg("%s.%s declared twice", o[i].section, o[i].key);
        if (o[i].type == VG_OPT_INT || o[i].type == VG_OPT_DOUBLE)
            assert_true(o[i].min <= o[i].max);
        if (o[i].type == VG_OPT_ENUM)
            assert_non_null(o[i].names);
        if (o[i].store == VG_STORE_CHARS)
            assert_true(o[i].size > 1);
    }
    assert_ptr_equal(vg_schema_find(o, n, "runtime", "threads"),
                     &o[VG_KEY_THREADS]);
    assert_ptr_equal(vg_schema_find(o, n, "mqtt", "port"),
                     &o[VG_KEY_MQTT_PORT]);
    assert_null(vg_schema_find(o, n, "runtime", "nope"));
}

/* The built-in settings are the table's defaults: each value formats as the
 * default the docs show (where that is a plain value). */
static void test_builtin_values_are_table_defaults(void **state)
{
    int n;
    const vg_option *o = vg_settings_schema(&n);
    vg_settings s;
    char val[256], def[256];
    (void)state;
    vg_settings_builtin(&s);
    for (int i = 0; i < n; i++) {
        assert_int_equal(s.origin.key[i], VG_ORIGIN_BUILTIN);
        if (o[i].def_doc != NULL || o[i].store == VG_STORE_NONE ||
            o[i].store == VG_STORE_NAMES)
            continue;
        assert_true(vg_option_format(&o[i], &s, val, sizeof(val)) >= 0);
        assert_true(vg_option_default_text(&o[i], def, sizeof(def)) >= 0);
        if (strcmp(val, def) != 0)
            fail_msg("%s.%s: built-in '%s', documented default '%s'",
                     o[i].section, o[i].key, val, def);
    }
    assert_true(s.score_threshold == 0.35f);
    assert_int_equal(s.n_providers, 1);
    assert_string_equal(s.providers[0], "cpu");
    assert_string_equal(s.serve_listen, "127.0.0.1:8080");
    assert_int_equal(s.mqtt_port, 1883);
    assert_true(s.detect_fps == -1);
    assert_non_null(strstr(s.model, "/models/nanodet.onnx"));
}

/* A config that sets every key of the table (to its default, or a valid
 * value) records VG_ORIGIN_CONFIG for every key. */
static void test_origin_recorded_for_every_key(void **state)
{
    fixture *f = *state;
    int n;
    const vg_option *o = vg_settings_schema(&n);
    static char text[16384];
    size_t len = 0;
    const char *cur = "";
    vg_settings s, before;

    vg_settings_builtin(&s);
    for (int i = 0; i < n; i++) {
        char v[256];
        if (strcmp(cur, o[i].section) != 0) {
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s:\n",
                                    o[i].section);
            cur = o[i].section;
        }
        if (o[i].store == VG_STORE_NONE)
            snprintf(v, sizeof(v), "[{polygon: [[0, 0], [9, 0], [9, 9]]}]");
        else if (o[i].store == VG_STORE_NAMES)
            snprintf(v, sizeof(v), "[%s]",
                     o[i].names ? o[i].names[0] : "person");
        else if (o[i].type == VG_OPT_STRING)
            snprintf(v, sizeof(v), "\"x\"");
        else if (o[i].type == VG_OPT_DOUBLE || o[i].type == VG_OPT_INT)
            snprintf(v, sizeof(v), "%.10g", o[i].max);
        else
            assert_true(vg_option_format(&o[i], &s, v, sizeof(v)) >= 0);
        len += (size_t)snprintf(text + len, sizeof(text) - len, "  %s: %s\n",
                                o[i].key, v);
    }
    assert_true(len < sizeof(text));
    write_text(f->path, text);
    before = s;
    if (vg_settings_load(f->ctx, f->path, &s) < 0)
        fail_msg("%s\n%s", vg_context_errmsg(f->ctx), text);
    for (int i = 0; i < n; i++)
        if (s.origin.key[i] != VG_ORIGIN_CONFIG)
            fail_msg("%s.%s: origin %d", o[i].section, o[i].key,
                     s.origin.key[i]);
    assert_int_equal(s.origin.threads, VG_ORIGIN_CONFIG);
    assert_int_equal(s.threads, 256);
    assert_int_equal(s.mqtt_qos, 2);
    assert_string_equal(s.serve_listen, "x");
    assert_string_equal(s.classes[0], "person");
    assert_int_equal(s.motion_n_masks, 1);
    assert_int_equal(before.origin.threads, VG_ORIGIN_BUILTIN);
}

static void expect_error(fixture *f, const char *text, const char *want)
{
    vg_settings s;
    char prefix[160];
    vg_settings_builtin(&s);
    write_text(f->path, text);
    assert_int_equal(vg_settings_load(f->ctx, f->path, &s), VG_ECONFIG);
    snprintf(prefix, sizeof(prefix), "%s:", f->path);
    assert_int_equal(strncmp(vg_context_errmsg(f->ctx), prefix, strlen(prefix)),
                     0);
    if (!strstr(vg_context_errmsg(f->ctx), want))
        fail_msg("expected '%s' in '%s'", want, vg_context_errmsg(f->ctx));
}

static void test_unknown_key_suggests_the_close_one(void **state)
{
    expect_error(*state, "runtime:\n  thread: 4\n",
                 ":2:3: unknown key 'thread' in 'runtime' (expected threads, "
                 "graph_optimization, memory_arena, thread_spinning, "
                 "providers, queue_depth); did you mean 'threads'?");
    expect_error(*state, "mqtt: {prot: 1}\n", "did you mean 'port'?");
    expect_error(*state, "serve:\n  zzzzzz: 1\n", "(expected listen, token");
}

static void test_unknown_section_suggests_the_close_one(void **state)
{
    fixture *f = *state;
    expect_error(f, "detectr: {}\n",
                 ":1:1: unknown section 'detectr' (expected detector, runtime");
    expect_error(f, "detectr: {}\n", "did you mean 'detector'?");
    expect_error(f, "serv: {listen: x}\n", "did you mean 'serve'?");
}

static void test_types_and_ranges_are_checked(void **state)
{
    fixture *f = *state;
    expect_error(f, "mqtt:\n  port: 70000\n",
                 ":2:9: 'port' expects an integer in [1, 65535], got '70000'");
    expect_error(f, "serve: {mjpeg_fps: fast}\n",
                 ":1:20: 'mjpeg_fps' expects a number in [0.1, 60], got "
                 "'fast'");
    expect_error(f, "mqtt: {enabled: maybe}\n",
                 "'enabled' expects true or false, got 'maybe'");
    expect_error(f, "runtime: {graph_optimization: most}\n",
                 "'graph_optimization' expects none, basic, extended or all, "
                 "got 'most'");
    expect_error(f, "runtime: {providers: [cpu, cpu]}\n",
                 "provider 'cpu' is listed twice");
    expect_error(f, "serve: {listen: [a]}\n", "'listen' expects a string");
}

static void test_serve_and_mqtt_sections_load(void **state)
{
    fixture *f = *state;
    vg_settings s;
    vg_settings_builtin(&s);
    write_text(f->path, "serve:\n  listen: 0.0.0.0:9000\n  token: s3cret\n"
                        "mqtt: {enabled: true, host: broker, qos: 0}\n"
                        "cameras: []\n");
    assert_int_equal(vg_settings_load(f->ctx, f->path, &s), 0);
    assert_string_equal(s.serve_listen, "0.0.0.0:9000");
    assert_string_equal(s.serve_token, "s3cret");
    assert_int_equal(s.mqtt_enabled, 1);
    assert_string_equal(s.mqtt_host, "broker");
    assert_int_equal(s.mqtt_qos, 0);
    assert_int_equal(s.origin.key[VG_KEY_SERVE_TOKEN], VG_ORIGIN_CONFIG);
    assert_int_equal(s.origin.key[VG_KEY_MQTT_PORT], VG_ORIGIN_BUILTIN);
}

static void test_format_hides_secrets(void **state)
{
    int n;
    const vg_option *o = vg_settings_schema(&n);
    vg_settings s;
    char buf[64];
    (void)state;
    vg_settings_builtin(&s);
    assert_int_equal(
        vg_option_format(&o[VG_KEY_SERVE_TOKEN], &s, buf, sizeof(buf)), 0);
    snprintf(s.serve_token, sizeof(s.serve_token), "hunter2");
    assert_true(vg_option_format(&o[VG_KEY_SERVE_TOKEN], &s, buf, sizeof(buf)) >
                0);
    assert_string_equal(buf, "(set)");
    assert_true(vg_option_format(&o[VG_KEY_PROVIDERS], &s, buf, sizeof(buf)) >
                0);
    assert_string_equal(buf, "[cpu]");
    assert_int_equal(vg_option_format(&o[VG_KEY_HEAD], &s, buf, 3), VG_ERANGE);
}

static void test_markdown_has_a_row_per_key(void **state)
{
    int n;
    const vg_option *o = vg_settings_schema(&n);
    static char md[65536];
    size_t len = 0;
    char row[128];
    (void)state;
    assert_int_equal(vg_schema_markdown(o, n, md, sizeof(md), &len), 0);
    assert_int_equal(len, strlen(md));
    assert_int_equal(strncmp(md, "| section | key |", 17), 0);
    for (int i = 0; i < n; i++) {
        snprintf(row, sizeof(row), "\n| %s | %s | ", o[i].section, o[i].key);
        if (!strstr(md, row))
            fail_msg("no row '%s'", row + 1);
    }
    len = 0;
    assert_int_equal(vg_schema_markdown(o, n, md, 100, &len), VG_ERANGE);
}

static void test_suggest_only_close_words(void **state)
{
    const char *c[] = {"threads", "queue_depth", "providers"};
    (void)state;
    assert_string_equal(vg_schema_suggest("threds", c, 3), "threads");
    assert_string_equal(vg_schema_suggest("provider", c, 3), "providers");
    assert_null(vg_schema_suggest("xyz", c, 3));
    assert_null(vg_schema_suggest("threads", c, 3)); /* not a typo */
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_table_rows_are_complete_and_unique),
        T(test_builtin_values_are_table_defaults),
        T(test_origin_recorded_for_every_key),
        T(test_unknown_key_suggests_the_close_one),
        T(test_unknown_section_suggests_the_close_one),
        T(test_types_and_ranges_are_checked),
        T(test_serve_and_mqtt_sections_load),
        T(test_format_hides_secrets),
        T(test_markdown_has_a_row_per_key),
        T(test_suggest_only_close_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
