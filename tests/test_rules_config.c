/* The zones:/rules:/rules_options: loader: a valid file loads; each kind of
 * mistake is VG_ECONFIG with the exact FILE:LINE:COL of the culprit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/rules.h"

typedef struct fixture {
    vg_context *ctx;
    char dir[64];
    char path[128];
    vg_rules_config cfg;
} fixture;

static int setup(void **state)
{
    fixture *f = test_calloc(1, sizeof(*f));
    if (vg_context_create(&f->ctx) < 0)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/vg_rules_cfg_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/site.yaml", f->dir);
    vg_rules_config_init(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vg_rules_config_free(f->ctx, &f->cfg);
    unlink(f->path);
    rmdir(f->dir);
    vg_context_destroy(&f->ctx);
    test_free(f);
    return 0;
}

static void write_yaml(fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    fclose(fp);
}

/* Loads text and expects VG_ECONFIG with message "PATH:pos: ..." that also
 * mentions word. */
static void expect_load_error(fixture *f, const char *text, const char *pos,
                              const char *word)
{
    char prefix[200];
    const char *msg;
    write_yaml(f, text);
    assert_int_equal(vg_rules_load(f->ctx, f->path, &f->cfg), VG_ECONFIG);
    msg = vg_context_errmsg(f->ctx);
    snprintf(prefix, sizeof(prefix), "%s:%s: ", f->path, pos);
    if (strncmp(msg, prefix, strlen(prefix)) != 0 || !strstr(msg, word))
        fail_msg("expected '%s...%s', got '%s'", prefix, word, msg);
    assert_int_equal(f->cfg.n_zones + f->cfg.n_rules, 0);
}

static const char good[] =
    "detector:\n"
    "  classes: [person]\n"
    "rules_options:\n"
    "  capacity: 256\n"
    "  state_ttl: 12\n"
    "  cooldown: 4\n"
    "zones:\n"
    "  - name: yard\n"
    "    polygon: [[10, 10], [100, 10], [100, 80], [10, 80]]\n"
    "  - name: gate\n"
    "    line: [[0.5, 0.1], [0.5, 0.9]]\n"
    "    units: normalized\n"
    "    a_to_b: westbound\n"
    "    b_to_a: eastbound\n"
    "rules:\n"
    "  - name: entry\n"
    "    kind: intrusion\n"
    "    zone: yard\n"
    "    classes: [person, car]\n"
    "  - name: count\n"
    "    kind: line_crossing\n"
    "    line: gate\n"
    "    direction: b_to_a\n"
    "    cooldown: 0\n"
    "  - {name: stay, kind: loitering, zone: yard, seconds: 7.5}\n"
    "  - {name: crowd, kind: occupancy, zone: yard, more_than: 3, seconds: 2}\n"
    "video: {anything: goes}\n";

static void test_valid_config_loads_every_field(void **state)
{
    fixture *f = *state;
    write_yaml(f, good);
    assert_int_equal(vg_rules_load(f->ctx, f->path, &f->cfg), 0);
    assert_int_equal(f->cfg.capacity, 256);
    assert_float_equal(f->cfg.state_ttl_s, 12, 1e-9);
    assert_float_equal(f->cfg.cooldown_s, 4, 1e-9);
    assert_int_equal(f->cfg.n_zones, 2);
    assert_int_equal(f->cfg.zones[0].kind, VG_ZONE_POLYGON);
    assert_int_equal(f->cfg.zones[0].n_points, 4);
    assert_float_equal(f->cfg.zones[0].points[2].x, 100, 1e-6);
    assert_int_equal(f->cfg.zones[1].kind, VG_ZONE_LINE);
    assert_int_equal(f->cfg.zones[1].units, VG_UNITS_NORMALIZED);
    assert_string_equal(f->cfg.zones[1].a_to_b, "westbound");
    assert_int_equal(f->cfg.n_rules, 4);
    assert_int_equal(f->cfg.rules[0].n_classes, 2);
    assert_int_equal(f->cfg.rules[0].classes[1], 2); /* car */
    assert_true(f->cfg.rules[0].cooldown_s < 0);     /* default */
    assert_int_equal(f->cfg.rules[1].kind, VG_EVENT_CROSSING);
    assert_int_equal(f->cfg.rules[1].direction, VG_CROSS_B_TO_A);
    assert_string_equal(f->cfg.rules[1].zone, "gate");
    assert_int_equal(f->cfg.rules[2].kind, VG_EVENT_DWELL);
    assert_float_equal(f->cfg.rules[2].seconds, 7.5, 1e-9);
    assert_int_equal(f->cfg.rules[3].more_than, 3);
}

static void test_example_site_config_loads_and_binds(void **state)
{
    fixture *f = *state;
    char path[1024];
    const char *src = getenv("VIGIL_SRC");
    vg_rules *r;
    int kinds = 0;
    if (!src)
        skip();
    snprintf(path, sizeof(path), "%s/examples/site.yaml", src);
    assert_int_equal(vg_rules_load(f->ctx, path, &f->cfg), 0);
    for (int i = 0; i < f->cfg.n_rules; i++)
        kinds |= 1 << f->cfg.rules[i].kind;
    assert_int_equal(kinds, 0xf); /* all four kinds */
    assert_int_equal(vg_rules_create(f->ctx, &f->cfg, 768, 576, &r), 0);
    vg_rules_destroy(&r);
}

static void test_unknown_key_is_reported_where_it_is(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - name: yard\n"
                      "    polygon: [[0, 0], [9, 0], [9, 9]]\n"
                      "    colour: red\n",
                      "4:5", "unknown key 'colour'");
}

static void test_unknown_rule_key_is_reported(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - {name: yard, polygon: [[0, 0], [9, 0], [9, 9]]}\n"
                      "rules:\n"
                      "  - name: a\n"
                      "    kind: intrusion\n"
                      "    zone: yard\n"
                      "    threshold: 3\n",
                      "7:5", "unknown key 'threshold'");
}

static void test_wrong_type_is_reported(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - {name: yard, polygon: [[0, 0], [9, 0], [9, 9]]}\n"
                      "rules:\n"
                      "  - {name: a, kind: dwell, zone: yard, seconds: [1]}\n",
                      "4:49", "'seconds' expects");
}

static void test_point_that_is_not_a_pair_is_reported(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - name: yard\n"
                      "    polygon: [[0, 0], [9, 0, 3], [9, 9]]\n",
                      "3:23", "[x, y]");
}

static void test_self_intersecting_polygon_is_rejected(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - name: bowtie\n"
                      "    polygon: [[0, 0], [10, 10], [10, 0], [0, 10]]\n",
                      "3:14", "cross");
}

static void test_polygon_with_two_points_is_rejected(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - name: thin\n"
                      "    polygon:\n"
                      "      - [0, 0]\n"
                      "      - [9, 9]\n",
                      "4:7", "3 to 64 points");
}

static void test_rule_naming_missing_zone_is_rejected(void **state)
{
    expect_load_error(*state,
                      "rules:\n"
                      "  - name: a\n"
                      "    kind: intrusion\n"
                      "    zone: nowhere\n"
                      "zones:\n"
                      "  - {name: yard, polygon: [[0, 0], [9, 0], [9, 9]]}\n",
                      "4:11", "'nowhere'");
}

static void test_negative_time_is_rejected(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - {name: yard, polygon: [[0, 0], [9, 0], [9, 9]]}\n"
                      "rules:\n"
                      "  - name: a\n"
                      "    kind: dwell\n"
                      "    zone: yard\n"
                      "    seconds: -3\n",
                      "7:14", ">= 0");
}

static void test_negative_ttl_is_rejected(void **state)
{
    expect_load_error(*state, "rules_options:\n  state_ttl: -1\n", "2:14",
                      "state_ttl");
}

static void test_unknown_class_is_rejected(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - {name: yard, polygon: [[0, 0], [9, 0], [9, 9]]}\n"
                      "rules:\n"
                      "  - name: a\n"
                      "    kind: intrusion\n"
                      "    zone: yard\n"
                      "    classes: [person, unicorn]\n",
                      "7:23", "unknown class 'unicorn'");
}

static void test_unknown_rule_kind_is_rejected(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - {name: yard, polygon: [[0, 0], [9, 0], [9, 9]]}\n"
                      "rules:\n"
                      "  - name: a\n"
                      "    kind: teleport\n"
                      "    zone: yard\n",
                      "5:11", "unknown rule kind 'teleport'");
}

static void test_crossing_rule_on_polygon_is_rejected(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - {name: yard, polygon: [[0, 0], [9, 0], [9, 9]]}\n"
                      "rules:\n"
                      "  - {name: a, kind: line_crossing, zone: yard}\n",
                      "4:42", "needs a line");
}

static void test_normalized_value_out_of_range_is_rejected(void **state)
{
    expect_load_error(*state,
                      "zones:\n"
                      "  - name: yard\n"
                      "    units: normalized\n"
                      "    polygon: [[0, 0], [1.5, 0], [1, 1]]\n",
                      "4:23", "outside [0, 1]");
}

static void test_zone_outside_frame_is_rejected_at_create(void **state)
{
    fixture *f = *state;
    char prefix[200];
    vg_rules *r = NULL;
    write_yaml(f, "zones:\n"
                  "  - name: yard\n"
                  "    polygon:\n"
                  "      - [0, 0]\n"
                  "      - [700, 0]\n"
                  "      - [700, 400]\n");
    assert_int_equal(vg_rules_load(f->ctx, f->path, &f->cfg), 0);
    /* fits 768x576 */
    assert_int_equal(vg_rules_create(f->ctx, &f->cfg, 768, 576, &r), 0);
    vg_rules_destroy(&r);
    /* not 640x480: the second point is 60 px out */
    assert_int_equal(vg_rules_create(f->ctx, &f->cfg, 640, 480, &r),
                     VG_ECONFIG);
    assert_null(r);
    snprintf(prefix, sizeof(prefix), "%s:5:9: ", f->path);
    assert_memory_equal(vg_context_errmsg(f->ctx), prefix, strlen(prefix));
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "640x480"));
}

static void test_missing_file_is_enoent(void **state)
{
    fixture *f = *state;
    assert_int_equal(vg_rules_load(f->ctx, "/nonexistent/site.yaml", &f->cfg),
                     VG_ENOENT);
}

static void test_load_and_create_survive_every_allocation_failure(void **state)
{
    fixture *f = *state;
    vg_alloc_stats st;
    vg_rules *r = NULL;
    int rc = VG_ENOMEM;
    write_yaml(f, good);
    for (uint64_t nth = 1; rc == VG_ENOMEM && nth < 200; nth++) {
        vg_context_fail_alloc(f->ctx, nth, 0);
        rc = vg_rules_load(f->ctx, f->path, &f->cfg);
        if (rc == 0)
            rc = vg_rules_create(f->ctx, &f->cfg, 640, 480, &r);
        vg_context_fail_alloc(f->ctx, 0, 0);
        if (rc == VG_ENOMEM)
            assert_null(r);
        vg_rules_config_free(f->ctx, &f->cfg);
    }
    assert_int_equal(rc, 0);
    vg_rules_destroy(&r);
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_valid_config_loads_every_field),
        T(test_example_site_config_loads_and_binds),
        T(test_unknown_key_is_reported_where_it_is),
        T(test_unknown_rule_key_is_reported),
        T(test_wrong_type_is_reported),
        T(test_point_that_is_not_a_pair_is_reported),
        T(test_self_intersecting_polygon_is_rejected),
        T(test_polygon_with_two_points_is_rejected),
        T(test_rule_naming_missing_zone_is_rejected),
        T(test_negative_time_is_rejected),
        T(test_negative_ttl_is_rejected),
        T(test_unknown_class_is_rejected),
        T(test_unknown_rule_kind_is_rejected),
        T(test_crossing_rule_on_polygon_is_rejected),
        T(test_normalized_value_out_of_range_is_rejected),
        T(test_zone_outside_frame_is_rejected_at_create),
        T(test_missing_file_is_enoent),
        T(test_load_and_create_survive_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
