/* The cameras: section (vg_cameras_load), zones and rules from request
 * bodies (vg_rules_parse_text, errors naming the field path), their JSON
 * (vg_rules_config_to_json round trip) and saving a camera's zones and rules
 * back into the config file (vg_config_save_camera_rules). */
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

#include "vigil/cameras.h"
#include "vigil/config.h"

typedef struct fixture {
    vg_context *ctx;
    char dir[64];
    char path[128];
    vg_cameras cams;
    vg_rules_config cfg;
} fixture;

static int setup(void **state)
{
    fixture *f = test_calloc(1, sizeof(*f));
    if (vg_context_create(&f->ctx) < 0)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/vg_cameras_XXXXXX");
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
    char cmd[160];
    vg_cameras_free(f->ctx, &f->cams);
    vg_rules_config_free(f->ctx, &f->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
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

/* The file's whole text (static buffer of the caller). */
static void read_text(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "r");
    size_t n;
    assert_non_null(fp);
    n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

static void expect_msg(vg_context *ctx, const char *want)
{
    const char *msg = vg_context_errmsg(ctx);
    if (!strstr(msg, want))
        fail_msg("expected '%s' in '%s'", want, msg);
}

static const char site[] =
    "# the site's config\n"
    "detector:\n"
    "  score_threshold: 0.4   # keep\n"
    "cameras:\n"
    "  - name: gate          # the front gate\n"
    "    input: rtsp://10.0.0.5/stream1\n"
    "    detect: {fps: 5}\n"
    "    motion: {enabled: true}\n"
    "    tracker: {reid: true}\n"
    "    zones:\n"
    "      - name: plaza\n"
    "        polygon: [[300, 240], [760, 240], [760, 420]]\n"
    "      # a comment inside the zones\n"
    "    rules:\n"
    "      - {name: plaza_intrusion, kind: intrusion, zone: plaza,\n"
    "         classes: [person]}\n"
    "    # after the rules\n"
    "  - name: yard\n"
    "    input: /videos/yard.mp4\n"
    "    loop: true\n"
    "# the end\n";

static void test_cameras_load_reads_each_camera(void **state)
{
    fixture *f = *state;
    write_text(f->path, site);
    assert_int_equal(vg_cameras_load(f->ctx, f->path, &f->cams), 0);
    assert_int_equal(f->cams.n, 2);
    assert_string_equal(f->cams.cam[0].name, "gate");
    assert_string_equal(f->cams.cam[0].input, "rtsp://10.0.0.5/stream1");
    assert_true(f->cams.cam[0].detect_fps == 5);
    assert_int_equal(f->cams.cam[0].motion_enabled, 1);
    assert_int_equal(f->cams.cam[0].reid_enabled, 1);
    assert_int_equal(f->cams.cam[0].loop, 0);
    assert_int_equal(f->cams.cam[0].has_rules, 1);
    assert_int_equal(f->cams.cam[0].rules.n_zones, 1);
    assert_int_equal(f->cams.cam[0].rules.n_rules, 1);
    assert_string_equal(f->cams.cam[1].name, "yard");
    assert_string_equal(f->cams.cam[1].input, "/videos/yard.mp4");
    assert_int_equal(f->cams.cam[1].loop, 1);
    assert_true(f->cams.cam[1].detect_fps == -2);
    assert_int_equal(f->cams.cam[1].motion_enabled, -1);
    assert_int_equal(f->cams.cam[1].reid_enabled, -1);
    assert_int_equal(f->cams.cam[1].has_rules, 0);
    assert_ptr_equal(vg_cameras_find(&f->cams, "yard"), &f->cams.cam[1]);
    assert_null(vg_cameras_find(&f->cams, "nope"));
}

static void test_cameras_load_without_section_is_empty(void **state)
{
    fixture *f = *state;
    write_text(f->path, "detector: {score_threshold: 0.4}\n");
    assert_int_equal(vg_cameras_load(f->ctx, f->path, &f->cams), 0);
    assert_int_equal(f->cams.n, 0);
    assert_null(f->cams.cam);
}

/* Loads text and expects VG_ECONFIG "PATH:pos: ..." mentioning word. */
static void expect_load_error(fixture *f, const char *text, const char *pos,
                              const char *word)
{
    char want[200];
    write_text(f->path, text);
    assert_int_equal(vg_cameras_load(f->ctx, f->path, &f->cams), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s:%s: ", f->path, pos);
    if (strncmp(vg_context_errmsg(f->ctx), want, strlen(want)) != 0)
        fail_msg("expected '%s...', got '%s'", want, vg_context_errmsg(f->ctx));
    expect_msg(f->ctx, word);
    assert_int_equal(f->cams.n, 0);
    assert_null(f->cams.cam);
}

static void test_cameras_load_refuses_duplicate_name(void **state)
{
    expect_load_error(*state,
                      "cameras:\n"
                      "  - {name: a, input: x.mp4}\n"
                      "  - {name: a, input: y.mp4}\n",
                      "3:12", "camera 'a' is defined twice (first at 2:5)");
}

static void test_cameras_load_refuses_unsafe_name(void **state)
{
    expect_load_error(*state,
                      "cameras:\n"
                      "  - name: ../etc\n"
                      "    input: x.mp4\n",
                      "2:11", "camera name '../etc' is not");
}

static void test_cameras_load_refuses_missing_input(void **state)
{
    expect_load_error(*state, "cameras:\n  - name: a\n", "2:5",
                      "camera 'a' has no 'input'");
}

static void test_cameras_load_refuses_unknown_key(void **state)
{
    expect_load_error(*state,
                      "cameras:\n"
                      "  - name: a\n"
                      "    input: x.mp4\n"
                      "    lop: true\n",
                      "4:5", "unknown key 'lop' in camera 'a'");
    expect_msg(((fixture *)*state)->ctx, "; did you mean 'loop'?");
}

static void test_cameras_load_reports_rules_errors_at_their_place(void **state)
{
    expect_load_error(*state,
                      "cameras:\n"
                      "  - name: a\n"
                      "    input: x.mp4\n"
                      "    zones:\n"
                      "      - name: z\n"
                      "        polygon: [[0, 0], [1, 1]]\n",
                      "6:18", "a polygon needs 3 to");
}

static void test_cameras_load_refuses_bad_detect_fps(void **state)
{
    expect_load_error(*state,
                      "cameras:\n"
                      "  - name: a\n"
                      "    input: x.mp4\n"
                      "    detect: {fps: fast}\n",
                      "4:19", "'detect.fps' expects a number");
}

static void test_cameras_load_refuses_bad_tracker_reid(void **state)
{
    expect_load_error(*state,
                      "cameras:\n"
                      "  - name: a\n"
                      "    input: x.mp4\n"
                      "    tracker: {reid: often}\n",
                      "4:21", "'tracker.reid' expects");
    expect_load_error(*state,
                      "cameras:\n"
                      "  - name: a\n"
                      "    input: x.mp4\n"
                      "    tracker: {reid_model: x.onnx}\n",
                      "4:15",
                      "unknown key 'reid_model' in a camera's 'tracker'");
}

/* ---- request bodies ---- */

static const char body[] =
    "{\"zones\":[{\"name\":\"plaza\",\"polygon\":[[300,240],[760,240],"
    "[760,420]],\"units\":\"pixels\"},"
    "{\"name\":\"walkway_line\",\"line\":[[450,150],[450,450]],"
    "\"a_to_b\":\"westbound\",\"b_to_a\":\"eastbound\"},"
    "{\"name\":\"norm\",\"polygon\":[[0.1,0.2],[0.9,0.2],[0.5,0.7]],"
    "\"units\":\"normalized\"}],"
    "\"rules\":[{\"name\":\"plaza_intrusion\",\"kind\":\"intrusion\","
    "\"zone\":\"plaza\",\"classes\":[\"person\",\"car\"],\"cooldown\":2.5},"
    "{\"name\":\"walkway_crossing\",\"kind\":\"line_crossing\","
    "\"zone\":\"walkway_line\",\"direction\":\"a_to_b\"},"
    "{\"name\":\"loiter\",\"kind\":\"dwell\",\"zone\":\"norm\",\"seconds\":"
    "7.25},"
    "{\"name\":\"crowd\",\"kind\":\"occupancy\",\"zone\":\"plaza\","
    "\"seconds\":1,\"more_than\":3}]}";

static void test_parse_text_reads_json_body(void **state)
{
    fixture *f = *state;
    assert_int_equal(
        vg_rules_parse_text(f->ctx, "body", body, strlen(body), &f->cfg), 0);
    assert_int_equal(f->cfg.n_zones, 3);
    assert_int_equal(f->cfg.n_rules, 4);
    assert_string_equal(f->cfg.zones[1].a_to_b, "westbound");
    assert_int_equal(f->cfg.zones[2].units, VG_UNITS_NORMALIZED);
    assert_int_equal(f->cfg.rules[0].n_classes, 2);
    assert_int_equal(f->cfg.rules[1].direction, VG_CROSS_A_TO_B);
    assert_true(f->cfg.rules[2].seconds == 7.25);
    assert_int_equal(f->cfg.rules[3].more_than, 3);
}

/* Parses text and expects VG_ECONFIG with exactly the message prefix want. */
static void expect_body_error(fixture *f, const char *text, const char *want)
{
    const char *msg;
    assert_int_equal(
        vg_rules_parse_text(f->ctx, "body", text, strlen(text), &f->cfg),
        VG_ECONFIG);
    msg = vg_context_errmsg(f->ctx);
    if (strncmp(msg, want, strlen(want)) != 0)
        fail_msg("expected '%s...', got '%s'", want, msg);
    assert_int_equal(f->cfg.n_zones + f->cfg.n_rules, 0);
    assert_null(f->cfg.zones);
    assert_null(f->cfg.rules);
}

static void test_parse_text_names_field_path_of_short_polygon(void **state)
{
    expect_body_error(*state,
                      "{\"zones\":[{\"name\":\"a\",\"polygon\":[[0,0],[9,0],"
                      "[9,9]]},{\"name\":\"b\",\"polygon\":[[1,1],[2,2]]}]}",
                      "body: zones[1].polygon: ");
    expect_msg(((fixture *)*state)->ctx, "needs 3 to 64 points, got 2");
}

static void test_parse_text_refuses_oversized_polygon(void **state)
{
    fixture *f = *state;
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text),
                                "{\"zones\":[{\"name\":\"a\",\"polygon\":[");
    for (int i = 0; i < VG_ZONE_MAX_POINTS + 1; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s[%d,%d]",
                              i ? "," : "", i, i * i % 97);
    snprintf(text + n, sizeof(text) - n, "]}]}");
    expect_body_error(f, text, "body: zones[0].polygon[64]: ");
    expect_msg(f->ctx, "more than 64 points");
}

static void test_parse_text_refuses_unknown_field(void **state)
{
    expect_body_error(*state,
                      "{\"zones\":[{\"name\":\"a\",\"polygon\":[[0,0],[9,0],"
                      "[9,9]],\"colour\":\"red\"}]}",
                      "body: zones[0].colour: unknown key 'colour'");
    expect_body_error(*state,
                      "{\"zones\":[{\"name\":\"a\",\"polgon\":[[0,0],[9,0],"
                      "[9,9]]}]}",
                      "body: zones[0].polgon: unknown key 'polgon'");
    expect_msg(((fixture *)*state)->ctx, "did you mean 'polygon'?");
    expect_body_error(*state, "{\"zones\":[],\"extra\":1}",
                      "body: extra: unknown field 'extra'");
}

static void test_parse_text_refuses_wrong_types(void **state)
{
    expect_body_error(*state,
                      "{\"zones\":[{\"name\":\"a\",\"polygon\":[[0,\"5\"],"
                      "[9,0],[9,9]]}]}",
                      "body: zones[0].polygon[0]: 'y' expects a number, got "
                      "the string '5'");
    expect_body_error(*state, "{\"zones\":{\"name\":\"a\"}}",
                      "body: zones: section 'zones' expects a list");
    expect_body_error(*state,
                      "{\"zones\":[{\"name\":12,\"polygon\":[[0,0],[9,0],"
                      "[9,9]]}]}",
                      "body: zones[0].name: 'name' expects a name (a string)");
    expect_body_error(*state,
                      "{\"zones\":[{\"name\":\"a\",\"polygon\":[[0,0],[9,0],"
                      "[9,9]]}],\"rules\":[{\"name\":\"r\",\"kind\":"
                      "\"dwell\",\"zone\":\"a\",\"seconds\":\"long\"}]}",
                      "body: rules[0].seconds: 'seconds' expects");
    expect_body_error(*state, "[1, 2]", "body: expected an object");
}

static void test_parse_text_names_rule_zone_reference(void **state)
{
    expect_body_error(*state,
                      "{\"zones\":[],\"rules\":[{\"name\":\"r\",\"kind\":"
                      "\"intrusion\",\"zone\":\"nowhere\"}]}",
                      "body: rules[0].zone: rule 'r' names zone 'nowhere'");
}

static void test_parse_text_reports_syntax_with_position(void **state)
{
    expect_body_error(*state, "{\"zones\": [}", "body:1:");
    expect_body_error(*state, "", "body: is empty");
}

static void test_to_json_round_trips(void **state)
{
    fixture *f = *state;
    vg_rules_config again;
    char js[8192], js2[8192];
    int n, n2;

    assert_int_equal(
        vg_rules_parse_text(f->ctx, "body", body, strlen(body), &f->cfg), 0);
    n = vg_rules_config_to_json(&f->cfg, js, sizeof(js));
    assert_true(n > 0 && (size_t)n == strlen(js));
    assert_int_equal(vg_rules_parse_text(f->ctx, "body", js, (size_t)n, &again),
                     0);
    assert_int_equal(again.n_zones, f->cfg.n_zones);
    assert_int_equal(again.n_rules, f->cfg.n_rules);
    for (int i = 0; i < again.n_zones; i++) {
        assert_string_equal(again.zones[i].name, f->cfg.zones[i].name);
        assert_int_equal(again.zones[i].kind, f->cfg.zones[i].kind);
        assert_int_equal(again.zones[i].units, f->cfg.zones[i].units);
        assert_int_equal(again.zones[i].n_points, f->cfg.zones[i].n_points);
        assert_memory_equal(again.zones[i].points, f->cfg.zones[i].points,
                            sizeof(vg_point) * (size_t)again.zones[i].n_points);
        assert_string_equal(again.zones[i].a_to_b, f->cfg.zones[i].a_to_b);
        assert_string_equal(again.zones[i].b_to_a, f->cfg.zones[i].b_to_a);
    }
    for (int i = 0; i < again.n_rules; i++) {
        const vg_rule_def *a = &again.rules[i], *b = &f->cfg.rules[i];
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->kind, b->kind);
        assert_string_equal(a->zone, b->zone);
        assert_int_equal(a->n_classes, b->n_classes);
        assert_memory_equal(a->classes, b->classes,
                            sizeof(int) * (size_t)a->n_classes);
        assert_true(a->seconds == b->seconds);
        assert_int_equal(a->more_than, b->more_than);
        assert_int_equal(a->direction, b->direction);
        assert_true(a->cooldown_s == b->cooldown_s);
    }
    /* the same JSON again; too small a buffer is VG_ERANGE */
    n2 = vg_rules_config_to_json(&again, js2, sizeof(js2));
    assert_int_equal(n2, n);
    assert_string_equal(js2, js);
    assert_int_equal(vg_rules_config_to_json(&again, js2, (size_t)n),
                     VG_ERANGE);
    vg_rules_config_free(f->ctx, &again);
}

/* ---- saving back ---- */

static void test_save_keeps_comments_and_other_cameras(void **state)
{
    fixture *f = *state;
    static char after[8192];
    const char *new_rules =
        "{\"zones\":[{\"name\":\"door\",\"polygon\":[[10,10],[50,10],"
        "[50,50],[10,50]]}],\"rules\":[{\"name\":\"door_dwell\",\"kind\":"
        "\"dwell\",\"zone\":\"door\",\"seconds\":4}]}";

    write_text(f->path, site);
    assert_int_equal(vg_rules_parse_text(f->ctx, "body", new_rules,
                                         strlen(new_rules), &f->cfg),
                     0);
    assert_int_equal(
        vg_config_save_camera_rules(f->ctx, f->path, "gate", &f->cfg), 0);
    read_text(f->path, after, sizeof(after));
    /* every other line and comment kept */
    assert_non_null(strstr(after, "# the site's config\n"));
    assert_non_null(strstr(after, "  score_threshold: 0.4   # keep\n"));
    assert_non_null(
        strstr(after, "  - name: gate          # the front gate\n"));
    assert_non_null(strstr(after, "    detect: {fps: 5}\n"));
    assert_non_null(strstr(after, "    # after the rules\n"));
    assert_non_null(strstr(after,
                           "  - name: yard\n    input: /videos/yard.mp4\n"
                           "    loop: true\n# the end\n"));
    assert_null(strstr(after, "plaza"));
    /* re-loadable, with the new zones and rules */
    assert_int_equal(vg_cameras_load(f->ctx, f->path, &f->cams), 0);
    assert_int_equal(f->cams.n, 2);
    assert_int_equal(f->cams.cam[0].rules.n_zones, 1);
    assert_string_equal(f->cams.cam[0].rules.zones[0].name, "door");
    assert_int_equal(f->cams.cam[0].rules.n_rules, 1);
    assert_true(f->cams.cam[0].rules.rules[0].seconds == 4);
    assert_true(f->cams.cam[0].detect_fps == 5);
    assert_int_equal(f->cams.cam[1].has_rules, 0);
    vg_cameras_free(f->ctx, &f->cams);

    /* the other camera gets the keys added; the first is unchanged */
    assert_int_equal(
        vg_config_save_camera_rules(f->ctx, f->path, "yard", &f->cfg), 0);
    assert_int_equal(vg_cameras_load(f->ctx, f->path, &f->cams), 0);
    assert_int_equal(f->cams.cam[1].has_rules, 1);
    assert_int_equal(f->cams.cam[1].loop, 1);
    assert_string_equal(f->cams.cam[1].rules.zones[0].name, "door");
    assert_int_equal(f->cams.cam[0].rules.n_rules, 1);
    read_text(f->path, after, sizeof(after));
    assert_non_null(strstr(after, "# the end\n"));
    assert_non_null(strstr(after, "    # after the rules\n"));
}

static void test_save_adds_keys_to_flow_camera(void **state)
{
    fixture *f = *state;
    static char after[4096];
    const char *r = "{\"zones\":[{\"name\":\"l\",\"line\":[[0,0],[10,0]]}],"
                    "\"rules\":[]}";
    write_text(f->path, "cameras: [{name: c1, input: a.mp4}]  # one\n");
    assert_int_equal(vg_rules_parse_text(f->ctx, "body", r, strlen(r), &f->cfg),
                     0);
    assert_int_equal(
        vg_config_save_camera_rules(f->ctx, f->path, "c1", &f->cfg), 0);
    read_text(f->path, after, sizeof(after));
    assert_non_null(strstr(after, "]  # one\n"));
    assert_int_equal(vg_cameras_load(f->ctx, f->path, &f->cams), 0);
    assert_int_equal(f->cams.cam[0].rules.n_zones, 1);
    assert_int_equal(f->cams.cam[0].rules.n_rules, 0);
}

static void test_save_missing_camera_is_enoent(void **state)
{
    fixture *f = *state;
    static char after[8192];
    struct stat st;
    char tmpdir_cmd[160];

    write_text(f->path, site);
    assert_int_equal(
        vg_config_save_camera_rules(f->ctx, f->path, "nope", &f->cfg),
        VG_ENOENT);
    expect_msg(f->ctx, "no camera 'nope'");
    read_text(f->path, after, sizeof(after));
    assert_string_equal(after, site);
    /* no temporary file left behind */
    snprintf(tmpdir_cmd, sizeof(tmpdir_cmd), "test $(ls -A '%s' | wc -l) = 1",
             f->dir);
    assert_int_equal(system(tmpdir_cmd), 0);
    assert_int_equal(stat(f->path, &st), 0);
}

/* Every allocation of loading, parsing and saving failing in turn: each
 * call returns 0 or VG_ENOMEM, releases what it took (the sanitizer build
 * checks), and a failed save leaves the file as it was. */
static void test_allocation_failures_release_everything(void **state)
{
    fixture *f = *state;
    static char after[8192];
    uint64_t nth;

    for (nth = 1; nth < 1000; nth++) {
        vg_cameras cams;
        vg_rules_config cfg;
        vg_alloc_stats before, now;
        int rc1, rc2, rc3 = 0;

        write_text(f->path, site);
        vg_context_alloc_stats(f->ctx, &before);
        vg_context_fail_alloc(f->ctx, nth, 0);
        rc1 = vg_cameras_load(f->ctx, f->path, &cams);
        rc2 = vg_rules_parse_text(f->ctx, "body", body, strlen(body), &cfg);
        if (rc2 == 0)
            rc3 = vg_config_save_camera_rules(f->ctx, f->path, "yard", &cfg);
        vg_context_fail_alloc(f->ctx, 0, 0);
        vg_context_alloc_stats(f->ctx, &now);
        assert_true(rc1 == 0 || rc1 == VG_ENOMEM);
        assert_true(rc2 == 0 || rc2 == VG_ENOMEM);
        assert_true(rc3 == 0 || rc3 == VG_ENOMEM);
        if (rc1 == 0)
            vg_cameras_free(f->ctx, &cams);
        else
            assert_null(cams.cam);
        if (rc2 == 0)
            vg_rules_config_free(f->ctx, &cfg);
        if (rc3 < 0) {
            read_text(f->path, after, sizeof(after));
            assert_string_equal(after, site);
        }
        if (now.failures == before.failures) {
            assert_int_equal(rc1 + rc2 + rc3, 0);
            break; /* no allocation left to fail */
        }
    }
    assert_true(nth > 3 && nth < 1000);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_cameras_load_reads_each_camera),
        T(test_cameras_load_without_section_is_empty),
        T(test_cameras_load_refuses_duplicate_name),
        T(test_cameras_load_refuses_unsafe_name),
        T(test_cameras_load_refuses_missing_input),
        T(test_cameras_load_refuses_unknown_key),
        T(test_cameras_load_reports_rules_errors_at_their_place),
        T(test_cameras_load_refuses_bad_detect_fps),
        T(test_cameras_load_refuses_bad_tracker_reid),
        T(test_parse_text_reads_json_body),
        T(test_parse_text_names_field_path_of_short_polygon),
        T(test_parse_text_refuses_oversized_polygon),
        T(test_parse_text_refuses_unknown_field),
        T(test_parse_text_refuses_wrong_types),
        T(test_parse_text_names_rule_zone_reference),
        T(test_parse_text_reports_syntax_with_position),
        T(test_to_json_round_trips),
        T(test_save_keeps_comments_and_other_cameras),
        T(test_save_adds_keys_to_flow_camera),
        T(test_save_missing_camera_is_enoent),
        T(test_allocation_failures_release_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
