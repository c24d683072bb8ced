/* Reliability of config loading and number parsing: the strict number
 * parser at every boundary, and the YAML loader's limits (nesting, size,
 * duplicate keys, second documents, stop requests) with the cost of a load
 * counted in parser events, not in time. */
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

#include "support/cfg_fixture.h"

#include "core/yaml_doc.h"
#include "vigil/config.h"
#include "vigil/parse.h"
#include "vigil/rules.h"

/* ---- vg_parse_int64 ------------------------------------------------------ */

static int int_rc(const char *s, int64_t min, int64_t max, int64_t *out)
{
    *out = 777;
    return vg_parse_int64(s, min, max, out);
}

static void test_int_accepts_min_and_max(void **state)
{
    int64_t x;
    (void)state;
    assert_int_equal(int_rc("1", 1, 3600000, &x), 0);
    assert_int_equal(x, 1);
    assert_int_equal(int_rc("3600000", 1, 3600000, &x), 0);
    assert_int_equal(x, 3600000);
    assert_int_equal(int_rc("-5", -5, 5, &x), 0);
    assert_int_equal(x, -5);
    assert_int_equal(int_rc("+7", 0, 10, &x), 0);
    assert_int_equal(x, 7);
}

static void test_int_refuses_one_past_either_end(void **state)
{
    int64_t x;
    (void)state;
    assert_int_equal(int_rc("0", 1, 3600000, &x), VG_ERANGE);
    assert_int_equal(int_rc("3600001", 1, 3600000, &x), VG_ERANGE);
    assert_int_equal(x, 777); /* untouched */
}

static void test_int_spans_the_whole_int64_range(void **state)
{
    int64_t x;
    (void)state;
    assert_int_equal(int_rc("9223372036854775807", INT64_MIN, INT64_MAX, &x),
                     0);
    assert_true(x == INT64_MAX);
    assert_int_equal(int_rc("-9223372036854775808", INT64_MIN, INT64_MAX, &x),
                     0);
    assert_true(x == INT64_MIN);
}

static void test_int_overflow_past_int64_is_erange(void **state)
{
    int64_t x;
    (void)state;
    assert_int_equal(int_rc("9223372036854775808", INT64_MIN, INT64_MAX, &x),
                     VG_ERANGE);
    assert_int_equal(int_rc("-9223372036854775809", INT64_MIN, INT64_MAX, &x),
                     VG_ERANGE);
    assert_int_equal(int_rc("99999999999999999999999", 0, 10, &x), VG_ERANGE);
    /* what atoi / a 32-bit cast turned into 1 */
    assert_int_equal(int_rc("4294967297", 1, 3600000, &x), VG_ERANGE);
    assert_int_equal(x, 777);
}

static void test_int_refuses_what_is_not_a_whole_number(void **state)
{
    static const char *const bad[] = {
        "12abc", "",     " 12",   "12 ",
        "0x10",  "1e3",  "1.0",   "-",
        "+",     "--1",  "1,000", "nan",
        "inf",   "12\n", "\t1",   "99999999999999999999x"};
    int64_t x;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (int_rc(bad[i], INT64_MIN, INT64_MAX, &x) != VG_EINVAL)
            fail_msg("'%s' was not refused as EINVAL", bad[i]);
        assert_int_equal(x, 777);
    }
    assert_int_equal(vg_parse_int64(NULL, 0, 1, &x), VG_EINVAL);
}

static void test_int_minus_zero_is_zero(void **state)
{
    int64_t x;
    (void)state;
    assert_int_equal(int_rc("-0", 0, 10, &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(int_rc("007", 0, 10, &x), 0);
    assert_int_equal(x, 7);
}

/* ---- vg_parse_double ----------------------------------------------------- */

static void test_double_boundaries(void **state)
{
    double x = 5;
    (void)state;
    assert_int_equal(vg_parse_double("0", 0, 1, &x), 0);
    assert_true(x == 0);
    assert_int_equal(vg_parse_double("1", 0, 1, &x), 0);
    assert_true(x == 1);
    assert_int_equal(vg_parse_double("1.0000001", 0, 1, &x), VG_ERANGE);
    assert_int_equal(vg_parse_double("-0.0000001", 0, 1, &x), VG_ERANGE);
    assert_int_equal(vg_parse_double(".5", 0, 1, &x), 0);
    assert_true(x == 0.5);
    assert_int_equal(vg_parse_double("5.", 0, 10, &x), 0);
    assert_true(x == 5);
    assert_int_equal(vg_parse_double("1e3", 0, 1e4, &x), 0);
    assert_true(x == 1000);
    assert_int_equal(vg_parse_double("2.5E-1", 0, 1, &x), 0);
    assert_true(x == 0.25);
    assert_int_equal(vg_parse_double("-0", -1, 1, &x), 0);
    assert_int_equal(vg_parse_double("1e999", -HUGE_VAL, HUGE_VAL, &x),
                     VG_ERANGE);
}

static void test_double_refuses_nan_inf_hex_and_garbage(void **state)
{
    static const char *const bad[] = {
        "nan", "NaN", "inf", "-inf", "infinity", "0x10", "0x1p3", "",
        " 1",  "1 ",  "1e",  "1e+",  ".",        "-",    "1.2.3", "12abc"};
    double x = 5;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (vg_parse_double(bad[i], -HUGE_VAL, HUGE_VAL, &x) != VG_EINVAL)
            fail_msg("'%s' was not refused as EINVAL", bad[i]);
    assert_true(x == 5);
}

/* ---- vg_parse_size ------------------------------------------------------- */

static void test_size_units_and_whole_counts(void **state)
{
    uint64_t b = 0;
    (void)state;
    assert_int_equal(vg_parse_size("512MiB", 0, UINT64_MAX, &b), 0);
    assert_true(b == 512ull << 20);
    assert_int_equal(vg_parse_size("1.5 GiB", 0, UINT64_MAX, &b), 0);
    assert_true(b == 3ull << 29);
    assert_int_equal(vg_parse_size("2G", 0, UINT64_MAX, &b), 0);
    assert_true(b == 2ull << 30);
    assert_int_equal(vg_parse_size("500MB", 0, UINT64_MAX, &b), 0);
    assert_true(b == 500000000ull);
    /* exact above 2^53, where a double would round */
    assert_int_equal(vg_parse_size("9007199254740993", 0, UINT64_MAX, &b), 0);
    assert_true(b == 9007199254740993ull);
    assert_int_equal(vg_parse_size("0", 0, UINT64_MAX, &b), 0);
    assert_true(b == 0);
}

static void test_size_refuses_garbage_and_out_of_range(void **state)
{
    static const char *const bad[] = {"",    "12XB", "MiB",   " 1G",
                                      "1G ", "0x10", "nan",   "inf",
                                      "1 ",  "+1G",  "1.5.2G"};
    uint64_t b = 7;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (vg_parse_size(bad[i], 0, UINT64_MAX, &b) != VG_EINVAL)
            fail_msg("'%s' was not refused as EINVAL", bad[i]);
    assert_int_equal(vg_parse_size("-1", 0, UINT64_MAX, &b), VG_ERANGE);
    assert_int_equal(vg_parse_size("-1.5G", 0, UINT64_MAX, &b), VG_ERANGE);
    assert_int_equal(vg_parse_size("17179869184GiB", 0, UINT64_MAX, &b),
                     VG_ERANGE); /* 2^64 */
    assert_int_equal(vg_parse_size("1e30", 0, UINT64_MAX, &b), VG_ERANGE);
    assert_int_equal(
        vg_parse_size("9223372036854775808", 0, (uint64_t)INT64_MAX, &b),
        VG_ERANGE);
    assert_int_equal(vg_parse_size("2KiB", 0, 2047, &b), VG_ERANGE);
    assert_true(b == 7);
}

/* ---- the YAML loader ----------------------------------------------------- */

/* count times the unit, then the closing text */
static void write_repeated(cfg_fixture *f, const char *unit, size_t count,
                           const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail);
    char *buf = malloc(ul * count + tl + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < count; i++)
        memcpy(buf + i * ul, unit, ul);
    memcpy(buf + ul * count, tail, tl);
    cfg_fixture_write(f, buf, ul * count + tl);
    free(buf);
}

static int load(cfg_fixture *f, vgi_yaml_stats *st)
{
    return vgi_yaml_load_stats(f->ctx, f->path, NULL, st);
}

static void assert_msg(cfg_fixture *f, const char *where, const char *what)
{
    char want[512];
    snprintf(want, sizeof(want), "%s%s: %s", f->path, where, what);
    assert_string_equal(vg_context_errmsg(f->ctx), want);
}

static void test_deep_brackets_stop_at_the_depth_limit(void **state)
{
    cfg_fixture *f = *state;
    vgi_yaml_stats st;
    /* 300 KB of '[': refused at the 65th, having read a few events only */
    write_repeated(f, "[", 300000, "");
    assert_int_equal(load(f, &st), VG_ECONFIG);
    assert_msg(f, ":1:65", "nesting deeper than 64 levels");
    assert_int_equal(st.max_depth, VGI_YAML_MAX_DEPTH);
    assert_true(st.events <= VGI_YAML_MAX_DEPTH + 3);
}

static void test_deep_block_nesting_is_refused_too(void **state)
{
    cfg_fixture *f = *state;
    write_repeated(f, "- ", 1000, "x\n");
    assert_int_equal(load(f, NULL), VG_ECONFIG);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "nesting deeper than"));
}

static void test_nesting_at_the_limit_loads(void **state)
{
    cfg_fixture *f = *state;
    char text[256];
    memset(text, '[', 64);
    memset(text + 64, ']', 64);
    text[128] = '\n';
    cfg_fixture_write(f, text, 129);
    assert_int_equal(load(f, NULL), 0);
}

/* The cost of a load, in parser events, grows with the text and not with
 * its square: the same 60-deep unit repeated n and 4n times. */
static void test_load_cost_is_linear_in_the_text(void **state)
{
    cfg_fixture *f = *state;
    vgi_yaml_stats a, b;
    char unit[160];
    memset(unit, '[', 60);
    memset(unit + 60, ']', 60);
    memcpy(unit + 120, ", ", 3);
    /* "[u, u, ..., 0]" with n and 4n units */
    {
        size_t n = 1000, ul = strlen(unit);
        char *buf = malloc(ul * 4 * n + 8);
        for (int pass = 0; pass < 2; pass++) {
            size_t count = pass ? 4 * n : n, len = 0;
            buf[len++] = '[';
            for (size_t i = 0; i < count; i++, len += ul)
                memcpy(buf + len, unit, ul);
            memcpy(buf + len, "0]\n", 3);
            len += 3;
            cfg_fixture_write(f, buf, len);
            assert_int_equal(load(f, pass ? &b : &a), 0);
        }
        free(buf);
    }
    assert_int_equal(a.max_depth, 61);
    assert_true(b.bytes > 3 * a.bytes);
    /* events per byte stay the same (within rounding) */
    assert_true(b.events * a.bytes <= a.events * b.bytes * 101 / 100);
    assert_true(b.events <= 4 * a.events && b.events + 32 >= 4 * a.events);
}

static void test_size_limit(void **state)
{
    cfg_fixture *f = *state;
    char want[256];
    write_repeated(f, "#", VGI_YAML_MAX_BYTES, "\n"); /* one byte over */
    assert_int_equal(load(f, NULL), VG_ECONFIG);
    snprintf(want, sizeof(want),
             "%s: is %d bytes, more than the 1048576-byte (1 MiB) limit of a "
             "config file",
             f->path, VGI_YAML_MAX_BYTES + 1);
    assert_string_equal(vg_context_errmsg(f->ctx), want);
    write_repeated(f, "#", VGI_YAML_MAX_BYTES - 1, "\n"); /* at the limit */
    assert_int_equal(load(f, NULL), 0);
}

static void test_directory_and_device_and_empty_are_refused(void **state)
{
    cfg_fixture *f = *state;
    char want[256];
    assert_int_equal(vgi_yaml_load_stats(f->ctx, f->dir, NULL, NULL),
                     VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: is a directory, not a config file",
             f->dir);
    assert_string_equal(vg_context_errmsg(f->ctx), want);
    assert_int_equal(vgi_yaml_load_stats(f->ctx, "/dev/null", NULL, NULL),
                     VG_ECONFIG);
    assert_string_equal(vg_context_errmsg(f->ctx),
                        "/dev/null: is a character device, not a config file");
    cfg_fixture_write(f, "", 0);
    assert_int_equal(load(f, NULL), VG_ECONFIG);
    assert_msg(f, "", "is empty (0 bytes), not a config file");
}

static void test_duplicate_key_names_both_positions(void **state)
{
    cfg_fixture *f = *state;
    const char *t = "runtime:\n  threads: 1\n  queue_depth: 2\n"
                    "  threads: 3\n  queue_depth: 4\n";
    cfg_fixture_write(f, t, strlen(t));
    assert_int_equal(load(f, NULL), VG_ECONFIG);
    assert_msg(f, ":4:3", "duplicate key 'threads' (first at 2:3)");
}

static void test_duplicate_section_is_refused(void **state)
{
    cfg_fixture *f = *state;
    const char *t = "zones: []\nrules: []\nzones: []\n";
    cfg_fixture_write(f, t, strlen(t));
    assert_int_equal(load(f, NULL), VG_ECONFIG);
    assert_msg(f, ":3:1", "duplicate key 'zones' (first at 1:1)");
}

static void test_many_distinct_keys_load(void **state)
{
    cfg_fixture *f = *state;
    char *buf = malloc(20 * 5000 + 1);
    size_t len = 0;
    for (int i = 0; i < 5000; i++)
        len += (size_t)sprintf(buf + len, "k%d: %d\n", i, i);
    cfg_fixture_write(f, buf, len);
    free(buf);
    assert_int_equal(load(f, NULL), 0);
}

static void test_second_document_is_refused(void **state)
{
    cfg_fixture *f = *state;
    const char *t = "runtime:\n  threads: 1\n---\nruntime:\n  threads: 2\n";
    cfg_fixture_write(f, t, strlen(t));
    assert_int_equal(load(f, NULL), VG_ECONFIG);
    assert_msg(f, ":3:1", "a second YAML document (a config file holds one)");
}

static void test_anchor_limit(void **state)
{
    cfg_fixture *f = *state;
    char *buf = malloc(32 * 300 + 8);
    size_t len = 0;
    len += (size_t)sprintf(buf + len, "[");
    for (int i = 0; i < 300; i++)
        len += (size_t)sprintf(buf + len, "&a%d x, ", i);
    len += (size_t)sprintf(buf + len, "y]\n");
    cfg_fixture_write(f, buf, len);
    free(buf);
    assert_int_equal(load(f, NULL), VG_ECONFIG);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "more than 256 anchors"));
}

static void test_stop_request_interrupts_a_load(void **state)
{
    cfg_fixture *f = *state;
    write_repeated(f, " a,", 100000, " b]\n"); /* "[a, a, ..., b]" */
    {
        FILE *fp = fopen(f->path, "r+b");
        fputc('[', fp);
        fclose(fp);
    }
    vg_context_request_stop(f->ctx);
    assert_int_equal(load(f, NULL), VG_EINTR);
    vg_context_clear_stop(f->ctx);
    assert_int_equal(load(f, NULL), 0);
}

/* ---- limits of the loaders, with their position -------------------------- */

static void test_zone_over_the_limit_names_its_position(void **state)
{
    cfg_fixture *f = *state;
    vg_rules_config cfg;
    /* 10,000 zones: refused at the 65th */
    {
        char *buf = malloc(64 * 10000 + 16);
        size_t len = (size_t)sprintf(buf, "zones:\n");
        for (int i = 0; i < 10000; i++)
            len += (size_t)sprintf(
                buf + len,
                "  - {name: z%d, polygon: [[0, 0], [1, 0], [1, 1]]}\n", i);
        cfg_fixture_write(f, buf, len);
        free(buf);
    }
    assert_int_equal(vg_rules_load(f->ctx, f->path, &cfg), VG_ECONFIG);
    /* the 65th zone is on line 66, its mapping at column 5 */
    assert_msg(f, ":66:5", "more than 64 zones (this is zone 65)");
}

static void test_rule_over_the_limit_names_its_position(void **state)
{
    cfg_fixture *f = *state;
    vg_rules_config cfg;
    char *buf = malloc(96 * 70 + 128);
    size_t len = (size_t)sprintf(
        buf, "zones:\n  - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\n"
             "rules:\n");
    for (int i = 0; i < 70; i++)
        len += (size_t)sprintf(
            buf + len, "  - {name: r%d, kind: intrusion, zone: z}\n", i);
    cfg_fixture_write(f, buf, len);
    free(buf);
    assert_int_equal(vg_rules_load(f->ctx, f->path, &cfg), VG_ECONFIG);
    assert_msg(f, ":68:5", "more than 64 rules (this is rule 65)");
}

static void test_settings_numbers_use_the_strict_parser(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    const char *t = "input:\n  timeout_ms: 4294967297\n";
    cfg_fixture_write(f, t, strlen(t));
    vg_settings_builtin(&s);
    assert_int_equal(vg_settings_load(f->ctx, f->path, &s), VG_ECONFIG);
    assert_msg(f, ":2:15",
               "'timeout_ms' expects an integer in [1, 3600000], got "
               "'4294967297'");
    t = "runtime:\n  threads: 0x10\n";
    cfg_fixture_write(f, t, strlen(t));
    assert_int_equal(vg_settings_load(f->ctx, f->path, &s), VG_ECONFIG);
    t = "detector:\n  score_threshold: nan\n";
    cfg_fixture_write(f, t, strlen(t));
    assert_int_equal(vg_settings_load(f->ctx, f->path, &s), VG_ECONFIG);
}

static void test_settings_duplicate_class_is_refused(void **state)
{
    cfg_fixture *f = *state;
    vg_settings s;
    const char *t = "detector:\n  classes: [person, car, person]\n";
    cfg_fixture_write(f, t, strlen(t));
    vg_settings_builtin(&s);
    assert_int_equal(vg_settings_load(f->ctx, f->path, &s), VG_ECONFIG);
    assert_msg(f, ":2:26", "class 'person' is listed twice");
}

/* Every allocation of a load failing in turn: VG_ENOMEM with its message,
 * or success, and nothing leaked (ASan/LSan builds check). */
static void test_allocation_failures_are_reported_and_released(void **state)
{
    cfg_fixture *f = *state;
    const char *t = "a: &x {b: 1, c: [1, 2]}\nd: *x\ne: {f: 1, g: 2, h: 3}\n";
    int ok = 0;
    cfg_fixture_write(f, t, strlen(t));
    for (uint64_t nth = 1; nth < 64 && !ok; nth++) {
        int rc;
        vg_context_fail_alloc(f->ctx, nth, 0);
        rc = load(f, NULL);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc == 0) {
            ok = 1;
        } else {
            assert_int_equal(rc, VG_ENOMEM);
            assert_non_null(strstr(vg_context_errmsg(f->ctx), "out of memory"));
        }
    }
    assert_true(ok);
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, cfg_fixture_setup, cfg_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_accepts_min_and_max),
        cmocka_unit_test(test_int_refuses_one_past_either_end),
        cmocka_unit_test(test_int_spans_the_whole_int64_range),
        cmocka_unit_test(test_int_overflow_past_int64_is_erange),
        cmocka_unit_test(test_int_refuses_what_is_not_a_whole_number),
        cmocka_unit_test(test_int_minus_zero_is_zero),
        cmocka_unit_test(test_double_boundaries),
        cmocka_unit_test(test_double_refuses_nan_inf_hex_and_garbage),
        cmocka_unit_test(test_size_units_and_whole_counts),
        cmocka_unit_test(test_size_refuses_garbage_and_out_of_range),
        T(test_deep_brackets_stop_at_the_depth_limit),
        T(test_deep_block_nesting_is_refused_too),
        T(test_nesting_at_the_limit_loads),
        T(test_load_cost_is_linear_in_the_text),
        T(test_size_limit),
        T(test_directory_and_device_and_empty_are_refused),
        T(test_duplicate_key_names_both_positions),
        T(test_duplicate_section_is_refused),
        T(test_many_distinct_keys_load),
        T(test_second_document_is_refused),
        T(test_anchor_limit),
        T(test_stop_request_interrupts_a_load),
        T(test_zone_over_the_limit_names_its_position),
        T(test_rule_over_the_limit_names_its_position),
        T(test_settings_numbers_use_the_strict_parser),
        T(test_settings_duplicate_class_is_refused),
        T(test_allocation_failures_are_reported_and_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
