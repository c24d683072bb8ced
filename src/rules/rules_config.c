/* vg_rules_config: building, checking, and loading the zones:, rules: and
 * rules_options: sections of a YAML config (libyaml document API). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/yaml_doc.h"
#include "rules/rules_internal.h"
#include "vigil/cameras.h"
#include "vigil/detect.h"
#include "vigil/parse.h"
#include "vigil/schema.h"

#define DEFAULT_CAPACITY 1024
#define DEFAULT_TTL_S 30.0
#define DEFAULT_COOLDOWN_S 10.0
#define MAX_CAPACITY (1 << 20)
/* Normalised coordinates may stray this far outside [0, 1]. */
#define NORMALIZED_TOLERANCE 0.01

/* rules_options: the keys of vg_rules_config (defaults of
 * vg_rules_config_init). */
static const vg_option options_schema[] = {
    VG_OPT_ROW(
        vg_rules_config, "rules_options", "capacity", VG_OPT_INT, VG_STORE_INT,
        capacity, .min = 1, .max = MAX_CAPACITY, .def_num = DEFAULT_CAPACITY,
        .help = "objects with rule state at once (least recent evicted)"),
    VG_OPT_ROW(vg_rules_config, "rules_options", "state_ttl", VG_OPT_DOUBLE,
               VG_STORE_DOUBLE, state_ttl_s, .min = 1e-3, .max = HUGE_VAL,
               .def_num = DEFAULT_TTL_S, .expect = "a time in seconds > 0",
               .help =
                   "an object unseen this long loses its rule state, seconds"),
    VG_OPT_ROW(vg_rules_config, "rules_options", "cooldown", VG_OPT_DOUBLE,
               VG_STORE_DOUBLE, cooldown_s, .max = HUGE_VAL,
               .def_num = DEFAULT_COOLDOWN_S,
               .expect = "a time in seconds >= 0",
               .help = "default time before a rule alarms again for the same "
                       "object, seconds"),
};

static const char *const units_names[] = {"pixels", "normalized", NULL};
static const char *const kind_names[] = {"intrusion", "dwell", "line_crossing",
                                         "occupancy", NULL};
static const char *const direction_names[] = {"both", "a_to_b", "b_to_a", NULL};

/* The keys of one zone and one rule (the numbers are read through their
 * rows; the others by the loader below, the rows documenting them). */
static const vg_option item_schema[] = {
    VG_OPT_DOC_ROW("zones[]", "name", VG_OPT_STRING, .size = VG_RULES_NAME_MAX,
                   .def_doc = "required", .help = "unique zone name"),
    VG_OPT_DOC_ROW(
        "zones[]", "polygon", VG_OPT_LIST, .max_items = VG_ZONE_MAX_POINTS,
        .def_doc = "polygon or line", .item = "point",
        .help = "[[x, y], ...] 3 or more vertices in order, a simple polygon"),
    VG_OPT_DOC_ROW(
        "zones[]", "line", VG_OPT_LIST, .max_items = 2,
        .def_doc = "polygon or line", .item = "point",
        .help = "[[xA, yA], [xB, yB]]: a directed line A->B for crossings"),
    VG_OPT_DOC_ROW(
        "zones[]", "units", VG_OPT_ENUM, .names = units_names,
        .help = "pixels of the source picture, or fractions 0..1 of its size"),
    VG_OPT_DOC_ROW("zones[]", "a_to_b", VG_OPT_STRING, .size = 32,
                   .def_doc = "A>B",
                   .help = "lines: name of the A->B direction in events"),
    VG_OPT_DOC_ROW("zones[]", "b_to_a", VG_OPT_STRING, .size = 32,
                   .def_doc = "B>A",
                   .help = "lines: name of the B->A direction in events"),
    VG_OPT_DOC_ROW("rules[]", "name", VG_OPT_STRING, .size = VG_RULES_NAME_MAX,
                   .def_doc = "required", .help = "unique rule name"),
    VG_OPT_DOC_ROW("rules[]", "kind", VG_OPT_ENUM, .def_doc = "required",
                   .names = kind_names,
                   .help = "what raises the alarm (dwell = loitering)"),
    VG_OPT_DOC_ROW(
        "rules[]", "zone", VG_OPT_STRING, .size = VG_RULES_NAME_MAX,
        .def_doc = "required",
        .help = "the zone (a line for line_crossing; also spelt 'line')"),
    VG_OPT_DOC_ROW("rules[]", "classes", VG_OPT_LIST,
                   .max_items = VG_RULE_MAX_CLASSES, .def_doc = "every class",
                   .item = "class", .help = "COCO classes the rule watches"),
    VG_OPT_ROW(vg_rule_def, "rules[]", "seconds", VG_OPT_DOUBLE,
               VG_STORE_DOUBLE, seconds, .max = HUGE_VAL,
               .def_doc = "required for dwell, occupancy",
               .expect = "a time in seconds >= 0",
               .help = "dwell: stay longer than; occupancy: hold for"),
    VG_OPT_ROW(vg_rule_def, "rules[]", "more_than", VG_OPT_INT, VG_STORE_INT,
               more_than, .max = 1000000, .def_doc = "required for occupancy",
               .help = "occupancy: alarm when more objects than this"),
    VG_OPT_DOC_ROW("rules[]", "direction", VG_OPT_ENUM, .def_doc = "both",
                   .names = direction_names,
                   .help = "line_crossing: the direction that alarms"),
    VG_OPT_ROW(
        vg_rule_def, "rules[]", "cooldown", VG_OPT_DOUBLE, VG_STORE_DOUBLE,
        cooldown_s, .max = HUGE_VAL, .def_doc = "rules_options.cooldown",
        .expect = "a time in seconds >= 0",
        .help =
            "time before this rule alarms again for the same object, seconds"),
};

const vg_option *vg_rules_options_schema(int *n)
{
    if (n)
        *n = (int)(sizeof(options_schema) / sizeof(options_schema[0]));
    return options_schema;
}

const vg_option *vg_rules_item_schema(int *n)
{
    if (n)
        *n = (int)(sizeof(item_schema) / sizeof(item_schema[0]));
    return item_schema;
}

const char *vg_event_kind_name(int kind)
{
    switch (kind) {
    case VG_EVENT_INTRUSION:
        return "intrusion";
    case VG_EVENT_DWELL:
        return "dwell";
    case VG_EVENT_CROSSING:
        return "line_crossing";
    case VG_EVENT_OCCUPANCY:
        return "occupancy";
    default:
        return "unknown";
    }
}

int vg_event_kind_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (!strcmp(s, "intrusion"))
        return VG_EVENT_INTRUSION;
    if (!strcmp(s, "dwell") || !strcmp(s, "loitering"))
        return VG_EVENT_DWELL;
    if (!strcmp(s, "line_crossing") || !strcmp(s, "crossing"))
        return VG_EVENT_CROSSING;
    if (!strcmp(s, "occupancy"))
        return VG_EVENT_OCCUPANCY;
    return -1;
}

const char *vgi_rules_class_name(int class_id)
{
    const char *n = vg_coco_class_name(class_id);
    return n ? n : "";
}

void vg_rules_config_init(vg_rules_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    vg_options_defaults(
        options_schema,
        (int)(sizeof(options_schema) / sizeof(options_schema[0])), cfg);
}

void vg_rules_config_free(vg_context *ctx, vg_rules_config *cfg)
{
    if (cfg == NULL)
        return;
    vg_free(ctx, cfg->zones);
    vg_free(ctx, cfg->rules);
    vg_rules_config_init(cfg);
}

/* Makes room for one more item in an array of count items (capacity 4,
 * then doubling at each power of two). */
static int grow(vg_context *ctx, void **arr, int count, size_t item)
{
    void *p;
    int cap;

    if (count == 0)
        cap = 4;
    else if (count >= 4 && (count & (count - 1)) == 0)
        cap = count * 2;
    else
        return 0;
    p = vg_realloc(ctx, *arr, (size_t)cap * item);
    if (p == NULL)
        return VG_ENOMEM;
    *arr = p;
    return 0;
}

int vg_rules_config_add_zone(vg_context *ctx, vg_rules_config *cfg,
                             const vg_zone_def *zone)
{
    void *arr = cfg->zones;

    if (cfg->n_zones >= VG_RULES_MAX_ZONES)
        return vg_fail(ctx, VG_ERANGE, "rules config: more than %d zones",
                       VG_RULES_MAX_ZONES);
    if (grow(ctx, &arr, cfg->n_zones, sizeof(vg_zone_def)) < 0)
        return vg_fail(ctx, VG_ENOMEM, "rules config: out of memory");
    cfg->zones = arr;
    cfg->zones[cfg->n_zones++] = *zone;
    return 0;
}

int vg_rules_config_add_rule(vg_context *ctx, vg_rules_config *cfg,
                             const vg_rule_def *rule)
{
    void *arr = cfg->rules;

    if (cfg->n_rules >= VG_RULES_MAX_RULES)
        return vg_fail(ctx, VG_ERANGE, "rules config: more than %d rules",
                       VG_RULES_MAX_RULES);
    if (grow(ctx, &arr, cfg->n_rules, sizeof(vg_rule_def)) < 0)
        return vg_fail(ctx, VG_ENOMEM, "rules config: out of memory");
    cfg->rules = arr;
    cfg->rules[cfg->n_rules++] = *rule;
    return 0;
}

int vgi_rules_find_zone(const vg_rules_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_zones; i++)
        if (!strcmp(cfg->zones[i].name, name))
            return i;
    return -1;
}

void vgi_zone_to_pixels(const vg_zone_def *z, int width, int height,
                        vg_point *pts)
{
    for (int i = 0; i < z->n_points; i++) {
        pts[i] = z->points[i];
        if (z->units == VG_UNITS_NORMALIZED) {
            pts[i].x *= (float)width;
            pts[i].y *= (float)height;
        }
    }
}

double vgi_rule_cooldown(const vg_rules_config *cfg, const vg_rule_def *r)
{
    return r->cooldown_s >= 0 ? r->cooldown_s : cfg->cooldown_s;
}

/* ---- checks ---------------------------------------------------------------
 * Messages start "FILE:LINE:COL: " when the item came from a file. */

static int fail_at(vg_context *ctx, const vg_rules_config *cfg, int line,
                   int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail_at(vg_context *ctx, const vg_rules_config *cfg, int line,
                   int col, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (cfg->source[0] && line > 0)
        return vg_fail(ctx, VG_ECONFIG, "%s:%d:%d: %s", cfg->source, line, col,
                       what);
    if (cfg->source[0])
        return vg_fail(ctx, VG_ECONFIG, "%s: %s", cfg->source, what);
    return vg_fail(ctx, VG_ECONFIG, "rules config: %s", what);
}

/* A failure of one item: "SOURCE: FIELD: what" when cfg names field paths
 * (a request body), else as fail_at. */
static int fail_item(vg_context *ctx, const vg_rules_config *cfg,
                     const char *field, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fail_item(vg_context *ctx, const vg_rules_config *cfg,
                     const char *field, int line, int col, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (cfg->field_paths && field)
        return vg_fail(ctx, VG_ECONFIG, "%s: %s: %s",
                       cfg->source[0] ? cfg->source : "rules config", field,
                       what);
    return fail_at(ctx, cfg, line, col, "%s", what);
}

/* " (first at LINE:COL)" for an item read from a file, else "". */
static const char *first_at(int line, int col, char *buf, size_t size)
{
    if (line > 0)
        snprintf(buf, size, " (first at %d:%d)", line, col);
    else if (size > 0)
        buf[0] = '\0';
    return buf;
}

static double polygon_area2(const vg_point *p, int n)
{
    double a = 0;
    for (int i = 0, j = n - 1; i < n; j = i++)
        a += (double)p[j].x * p[i].y - (double)p[i].x * p[j].y;
    return a;
}

static const char *point_path(char *buf, size_t size, const char *geom, int i)
{
    snprintf(buf, size, "%s[%d]", geom, i);
    return buf;
}

static int check_zone(vg_context *ctx, const vg_rules_config *cfg, int zi,
                      int width, int height)
{
    const vg_zone_def *z = &cfg->zones[zi];
    char where[48], item[32], geom[48], pt[64];
    int ea, eb;

    snprintf(item, sizeof(item), "zones[%d]", zi);
    snprintf(geom, sizeof(geom), "%s.%s", item,
             z->kind == VG_ZONE_LINE ? "line" : "polygon");

    if (!z->name[0])
        return fail_item(ctx, cfg, item, z->line, z->column,
                         "a zone needs a name");
    for (int j = 0; j < zi; j++)
        if (!strcmp(cfg->zones[j].name, z->name))
            return fail_item(ctx, cfg, item, z->line, z->column,
                             "zone '%s' is defined twice%s", z->name,
                             first_at(cfg->zones[j].line, cfg->zones[j].column,
                                      where, sizeof(where)));
    if (z->units != VG_UNITS_PIXELS && z->units != VG_UNITS_NORMALIZED)
        return fail_item(ctx, cfg, item, z->line, z->column,
                         "zone '%s': unknown units", z->name);
    for (int i = 0; i < z->n_points; i++)
        if (!isfinite(z->points[i].x) || !isfinite(z->points[i].y))
            return fail_item(ctx, cfg, point_path(pt, sizeof(pt), geom, i),
                             z->point_line[i], z->point_column[i],
                             "zone '%s': point %d is not a finite number",
                             z->name, i);
    if (z->kind == VG_ZONE_POLYGON) {
        if (z->n_points < 3 || z->n_points > VG_ZONE_MAX_POINTS)
            return fail_item(
                ctx, cfg, geom, z->line, z->column,
                "zone '%s': a polygon needs 3 to %d points, got %d", z->name,
                VG_ZONE_MAX_POINTS, z->n_points);
        if (vg_polygon_self_intersects(z->points, z->n_points, &ea, &eb))
            return fail_item(
                ctx, cfg, geom, z->line, z->column,
                "zone '%s': polygon edges %d-%d and %d-%d cross or "
                "overlap (expected a simple polygon, vertices in "
                "order around it)",
                z->name, ea, (ea + 1) % z->n_points, eb,
                (eb + 1) % z->n_points);
        if (fabs(polygon_area2(z->points, z->n_points)) < 1e-12)
            return fail_item(ctx, cfg, geom, z->line, z->column,
                             "zone '%s': polygon has no area", z->name);
    } else if (z->kind == VG_ZONE_LINE) {
        if (z->n_points != 2)
            return fail_item(ctx, cfg, geom, z->line, z->column,
                             "zone '%s': a line needs 2 points (A, B), got %d",
                             z->name, z->n_points);
        if (z->points[0].x == z->points[1].x &&
            z->points[0].y == z->points[1].y)
            return fail_item(ctx, cfg, geom, z->line, z->column,
                             "zone '%s': line end points A and B are the same",
                             z->name);
    } else {
        return fail_item(ctx, cfg, item, z->line, z->column,
                         "zone '%s': unknown zone kind", z->name);
    }
    for (int i = 0; i < z->n_points; i++) {
        vg_point p = z->points[i];
        double tol = NORMALIZED_TOLERANCE;
        if (z->units == VG_UNITS_NORMALIZED &&
            (p.x < -tol || p.x > 1 + tol || p.y < -tol || p.y > 1 + tol))
            return fail_item(ctx, cfg, point_path(pt, sizeof(pt), geom, i),
                             z->point_line[i], z->point_column[i],
                             "zone '%s': point %d (%g, %g) is outside [0, 1] "
                             "(units: normalized)",
                             z->name, i, p.x, p.y);
    }
    if (width > 0 && height > 0) {
        vg_point px[VG_ZONE_MAX_POINTS];
        float tol = VG_ZONE_FRAME_TOLERANCE;
        vgi_zone_to_pixels(z, width, height, px);
        for (int i = 0; i < z->n_points; i++)
            if (px[i].x < -tol || px[i].x > (float)width + tol ||
                px[i].y < -tol || px[i].y > (float)height + tol)
                return fail_item(ctx, cfg, point_path(pt, sizeof(pt), geom, i),
                                 z->point_line[i], z->point_column[i],
                                 "zone '%s': point %d (%g, %g) is outside the "
                                 "%dx%d frame",
                                 z->name, i, px[i].x, px[i].y, width, height);
    }
    return 0;
}

static int check_rule(vg_context *ctx, const vg_rules_config *cfg, int ri)
{
    const vg_rule_def *r = &cfg->rules[ri];
    char where[48], item[32], zref[40];
    int zi;

    snprintf(item, sizeof(item), "rules[%d]", ri);
    snprintf(zref, sizeof(zref), "%s.zone", item);

    if (!r->name[0])
        return fail_item(ctx, cfg, item, r->line, r->column,
                         "a rule needs a name");
    for (int j = 0; j < ri; j++)
        if (!strcmp(cfg->rules[j].name, r->name))
            return fail_item(ctx, cfg, item, r->line, r->column,
                             "rule '%s' is defined twice%s", r->name,
                             first_at(cfg->rules[j].line, cfg->rules[j].column,
                                      where, sizeof(where)));
    if (r->kind < VG_EVENT_INTRUSION || r->kind > VG_EVENT_OCCUPANCY)
        return fail_item(ctx, cfg, item, r->line, r->column,
                         "rule '%s': unknown kind %d", r->name, r->kind);
    if (r->n_classes < 0 || r->n_classes > VG_RULE_MAX_CLASSES)
        return fail_item(ctx, cfg, item, r->line, r->column,
                         "rule '%s': 0 to %d classes expected", r->name,
                         VG_RULE_MAX_CLASSES);
    for (int i = 0; i < r->n_classes; i++)
        if (vg_coco_class_name(r->classes[i]) == NULL)
            return fail_item(ctx, cfg, item, r->line, r->column,
                             "rule '%s': unknown class id %d", r->name,
                             r->classes[i]);
    if (!(r->seconds >= 0) || !isfinite(r->seconds))
        return fail_item(ctx, cfg, item, r->line, r->column,
                         "rule '%s': seconds must be >= 0", r->name);
    if (!isfinite(r->cooldown_s))
        return fail_item(ctx, cfg, item, r->line, r->column,
                         "rule '%s': cooldown must be a number", r->name);
    if (r->kind == VG_EVENT_OCCUPANCY && r->more_than < 0)
        return fail_item(ctx, cfg, item, r->line, r->column,
                         "rule '%s': more_than must be >= 0", r->name);
    if (r->direction < VG_CROSS_BOTH || r->direction > VG_CROSS_B_TO_A)
        return fail_item(ctx, cfg, item, r->line, r->column,
                         "rule '%s': unknown direction", r->name);
    zi = vgi_rules_find_zone(cfg, r->zone);
    if (zi < 0)
        return fail_item(ctx, cfg, zref, r->zone_line, r->zone_column,
                         "rule '%s' names zone '%s', which is not defined",
                         r->name, r->zone);
    if (r->kind == VG_EVENT_CROSSING && cfg->zones[zi].kind != VG_ZONE_LINE)
        return fail_item(ctx, cfg, zref, r->zone_line, r->zone_column,
                         "rule '%s': a line_crossing rule needs a line, '%s' "
                         "is a polygon",
                         r->name, r->zone);
    if (r->kind != VG_EVENT_CROSSING && cfg->zones[zi].kind != VG_ZONE_POLYGON)
        return fail_item(ctx, cfg, zref, r->zone_line, r->zone_column,
                         "rule '%s': a %s rule needs a polygon zone, '%s' is a "
                         "line",
                         r->name, vg_event_kind_name(r->kind), r->zone);
    return 0;
}

int vg_rules_config_check(vg_context *ctx, const vg_rules_config *cfg,
                          int width, int height)
{
    int rc;

    if (cfg == NULL)
        return vg_fail(ctx, VG_EINVAL, "rules config: NULL");
    if (cfg->capacity < 1 || cfg->capacity > MAX_CAPACITY)
        return fail_at(ctx, cfg, 0, 0, "capacity must be in [1, %d]",
                       MAX_CAPACITY);
    if (!(cfg->state_ttl_s > 0) || !isfinite(cfg->state_ttl_s))
        return fail_at(ctx, cfg, 0, 0, "state_ttl must be > 0");
    if (!(cfg->cooldown_s >= 0) || !isfinite(cfg->cooldown_s))
        return fail_at(ctx, cfg, 0, 0, "cooldown must be >= 0");
    if (cfg->n_zones < 0 || cfg->n_zones > VG_RULES_MAX_ZONES ||
        cfg->n_rules < 0 || cfg->n_rules > VG_RULES_MAX_RULES ||
        (cfg->n_zones > 0 && cfg->zones == NULL) ||
        (cfg->n_rules > 0 && cfg->rules == NULL))
        return vg_fail(ctx, VG_EINVAL, "rules config: bad zone/rule arrays");
    for (int i = 0; i < cfg->n_zones; i++)
        if ((rc = check_zone(ctx, cfg, i, width, height)) < 0)
            return rc;
    for (int i = 0; i < cfg->n_rules; i++)
        if ((rc = check_rule(ctx, cfg, i)) < 0)
            return rc;
    return 0;
}

/* ---- YAML ------------------------------------------------------------------
 */

typedef struct loader {
    vg_context *ctx;
    const char *path; /* file, or the name of a text (vg_rules_parse_text) */
    yaml_document_t *doc;
    vg_rules_config *cfg;
    int text;     /* 1: a request body: messages name the field path and
                     values keep their JSON types */
    char fp[192]; /* field path of what is read now ("zones[1].polygon") */
} loader;

static int at(loader *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int at(loader *l, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    if (l->text) {
        char what[512];
        vsnprintf(what, sizeof(what), fmt, ap);
        rc = vg_fail(l->ctx, VG_ECONFIG, "%s: %s%s%s", l->path, l->fp,
                     l->fp[0] ? ": " : "", what);
    } else {
        rc = vgi_yaml_failv(l->ctx, l->path, n, fmt, ap);
    }
    va_end(ap);
    return rc;
}

/* Appends to the field path; returns the length to restore with fp_pop. */
static size_t fp_push(loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t fp_push(loader *l, const char *fmt, ...)
{
    size_t len = strlen(l->fp);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->fp + len, sizeof(l->fp) - len, fmt, ap);
    va_end(ap);
    return len;
}

static void fp_pop(loader *l, size_t len)
{
    l->fp[len] = '\0';
}

/* In a request body, a number must be a JSON number (not a quoted string). */
static int is_quoted(const loader *l, const yaml_node_t *n)
{
    return l->text && n->type == YAML_SCALAR_NODE &&
           n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
}

/* In a request body, a string must not be a JSON number, boolean or null. */
static int is_json_non_string(const loader *l, const yaml_node_t *n)
{
    const char *v = vgi_yaml_scalar(n);
    double d;
    if (!l->text || !v || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return !strcmp(v, "null") || !strcmp(v, "true") || !strcmp(v, "false") ||
           !strcmp(v, "~") || vg_parse_double(v, -HUGE_VAL, HUGE_VAL, &d) == 0;
}

static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static int col_of(const yaml_node_t *n)
{
    return (int)n->start_mark.column + 1;
}

static const char *shown(const yaml_node_t *n);

/* A scalar key through its schema row o, stored into base. */
static int get_opt(loader *l, const yaml_node_t *v, const vg_option *o,
                   void *base)
{
    char why[384];
    if (is_quoted(l, v) && o->type != VG_OPT_STRING)
        return at(l, v, "'%s' expects %s, got the string '%.64s'", o->key,
                  o->type == VG_OPT_BOOL ? "true or false" : "a number",
                  vgi_yaml_scalar(v));
    if (vg_option_parse(o, vgi_yaml_scalar(v), base, why, sizeof(why)) < 0)
        return at(l, v, "%s", why);
    return 0;
}

static const vg_option *item_opt(const char *section, const char *key)
{
    return vg_schema_find(item_schema,
                          (int)(sizeof(item_schema) / sizeof(item_schema[0])),
                          section, key);
}

/* The key of section ("zones[]", "rules[]") closest to a mistyped key. */
static const char *suggest(const loader *l, const char *section,
                           const char *key)
{
    (void)l;
    return vg_schema_suggest_key(
        item_schema, (int)(sizeof(item_schema) / sizeof(item_schema[0])),
        section, key);
}

static const char *shown(const yaml_node_t *n)
{
    const char *v = vgi_yaml_scalar(n);
    return v ? v : (n->type == YAML_SEQUENCE_NODE ? "(a list)" : "(a mapping)");
}

static yaml_node_t *node(loader *l, int id)
{
    return yaml_document_get_node(l->doc, id);
}

static int get_number(loader *l, const yaml_node_t *n, const char *key,
                      double lo, const char *expect, double *out)
{
    const char *v = vgi_yaml_scalar(n);

    if (!v || is_quoted(l, n) || vg_parse_double(v, lo, HUGE_VAL, out) < 0)
        return at(l, n, "'%s' expects %s, got %s'%.64s'", key, expect,
                  is_quoted(l, n) ? "the string " : "", shown(n));
    return 0;
}

static int get_name(loader *l, const yaml_node_t *n, const char *key, char *out,
                    size_t size)
{
    const char *v = vgi_yaml_scalar(n);

    if (!v || !*v || is_json_non_string(l, n))
        return at(l, n, "'%s' expects a name (a string), got '%.64s'", key,
                  shown(n));
    if (strlen(v) >= size)
        return at(l, n, "'%s' is longer than %zu characters", key, size - 1);
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* A point: [x, y]. */
/* Reads the `name` of a zone or rule mapping (what) before its other keys,
 * so that the messages about the rest can name it. */
static int get_entry_name(loader *l, yaml_node_t *map, const char *what,
                          char *out, size_t cap)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const char *key = vgi_yaml_scalar(node(l, p->key));
        int rc;
        if (key && !strcmp(key, "name")) {
            size_t len = fp_push(l, ".name");
            rc = get_name(l, node(l, p->value), key, out, cap);
            if (rc < 0)
                return rc;
            fp_pop(l, len);
        }
    }
    if (!out[0])
        return at(l, map, "%s has no 'name'", what);
    return 0;
}

static int get_point(loader *l, yaml_node_t *n, vg_point *p)
{
    double v[2];
    int rc;

    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.top - n->data.sequence.items.start != 2)
        return at(l, n, "a point is expected as [x, y], got '%.64s'", shown(n));
    for (int i = 0; i < 2; i++) {
        yaml_node_t *c = node(l, n->data.sequence.items.start[i]);
        rc = get_number(l, c, i ? "y" : "x", -HUGE_VAL, "a number", &v[i]);
        if (rc < 0)
            return rc;
    }
    p->x = (float)v[0];
    p->y = (float)v[1];
    return 0;
}

static int get_points(loader *l, yaml_node_t *n, const char *key,
                      vg_zone_def *z)
{
    yaml_node_item_t *it;
    int rc;

    if (n->type != YAML_SEQUENCE_NODE)
        return at(l, n,
                  "'%s' expects a list of points [[x, y], ...], got "
                  "'%.64s'",
                  key, shown(n));
    z->n_points = 0;
    z->line = line_of(n);
    z->column = col_of(n);
    for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *c = node(l, *it);
        size_t len = fp_push(l, "[%d]", z->n_points);
        if (z->n_points >= VG_ZONE_MAX_POINTS)
            return at(l, c, "zone '%s' has more than %d points", z->name,
                      VG_ZONE_MAX_POINTS);
        if ((rc = get_point(l, c, &z->points[z->n_points])) < 0)
            return rc;
        fp_pop(l, len);
        z->point_line[z->n_points] = line_of(c);
        z->point_column[z->n_points] = col_of(c);
        z->n_points++;
    }
    return 0;
}

static int load_zone(loader *l, yaml_node_t *map)
{
    vg_zone_def z;
    yaml_node_pair_t *p;
    yaml_node_t *geom = NULL, *dir_names = NULL;
    int rc;

    memset(&z, 0, sizeof(z));
    if (map->type != YAML_MAPPING_NODE)
        return at(l, map,
                  "a zone is expected as a mapping {name, polygon "
                  "or line, units}, got '%.64s'",
                  shown(map));
    if (l->cfg->n_zones >= VG_RULES_MAX_ZONES)
        return at(l, map, "more than %d zones (this is zone %d)",
                  VG_RULES_MAX_ZONES, l->cfg->n_zones + 1);
    z.line = line_of(map);
    z.column = col_of(map);
    /* name first, for the messages about the rest */
    rc = get_entry_name(l, map, "zone", z.name, sizeof(z.name));
    if (rc < 0)
        return rc;
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *key = vgi_yaml_scalar(k);
        size_t fp_len = fp_push(l, ".%.64s", key ? key : "?");
        rc = 0;
        if (!key) {
            rc = at(l, k, "expected a key");
        } else if (!strcmp(key, "name")) {
            rc = 0; /* read first, by get_entry_name */
        } else if (!strcmp(key, "polygon") || !strcmp(key, "line")) {
            if (geom)
                return at(l, k,
                          "zone '%s' has both 'polygon' and 'line' "
                          "(expected one)",
                          z.name);
            geom = k;
            z.kind = key[0] == 'p' ? VG_ZONE_POLYGON : VG_ZONE_LINE;
            rc = get_points(l, v, key, &z);
        } else if (!strcmp(key, "units")) {
            const char *u = vgi_yaml_scalar(v);
            if (u && !strcmp(u, "pixels"))
                z.units = VG_UNITS_PIXELS;
            else if (u &&
                     (!strcmp(u, "normalized") || !strcmp(u, "normalised")))
                z.units = VG_UNITS_NORMALIZED;
            else
                rc = at(l, v,
                        "'units' expects pixels or normalized, got "
                        "'%.64s'",
                        shown(v));
        } else if (!strcmp(key, "a_to_b") || !strcmp(key, "b_to_a")) {
            dir_names = k;
            rc = get_name(l, v, key, key[0] == 'a' ? z.a_to_b : z.b_to_a,
                          sizeof(z.a_to_b));
        } else {
            const char *near = suggest(l, "zones[]", key);
            rc = at(l, k,
                    "unknown key '%.64s' in zone '%s' (expected name, "
                    "polygon, line, units, a_to_b, b_to_a)%s%s%s",
                    key, z.name, near ? "; did you mean '" : "",
                    near ? near : "", near ? "'?" : "");
        }
        if (rc < 0)
            return rc;
        fp_pop(l, fp_len);
    }
    if (!geom)
        return at(l, map, "zone '%s' has neither 'polygon' nor 'line'", z.name);
    if (dir_names && z.kind != VG_ZONE_LINE)
        return at(l, dir_names,
                  "'a_to_b'/'b_to_a' name the directions of a "
                  "line; zone '%s' is a polygon",
                  z.name);
    return vg_rules_config_add_zone(l->ctx, l->cfg, &z);
}

static int load_classes(loader *l, yaml_node_t *v, vg_rule_def *r)
{
    yaml_node_item_t *it;

    r->n_classes = 0;
    if (v->type == YAML_SCALAR_NODE) { /* classes: person */
        int id = vg_coco_class_id(vgi_yaml_scalar(v));
        if (id < 0)
            return at(l, v,
                      "unknown class '%.64s' (expected a COCO class "
                      "name such as person, car)",
                      vgi_yaml_scalar(v));
        r->classes[r->n_classes++] = id;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return at(l, v, "'classes' expects a list of class names");
    for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *c = node(l, *it);
        const char *name = vgi_yaml_scalar(c);
        int id = name ? vg_coco_class_id(name) : -1;
        size_t len =
            fp_push(l, "[%d]", (int)(it - v->data.sequence.items.start));
        if (id < 0)
            return at(l, c,
                      "unknown class '%.64s' (expected a COCO class "
                      "name such as person, car)",
                      shown(c));
        for (int j = 0; j < r->n_classes; j++)
            if (r->classes[j] == id)
                return at(l, c, "class '%.64s' is listed twice", name);
        if (r->n_classes >= VG_RULE_MAX_CLASSES)
            return at(l, c, "more than %d classes", VG_RULE_MAX_CLASSES);
        r->classes[r->n_classes++] = id;
        fp_pop(l, len);
    }
    return 0;
}

static int load_rule(loader *l, yaml_node_t *map)
{
    vg_rule_def r;
    yaml_node_pair_t *p;
    yaml_node_t *kind_node = NULL, *zone_node = NULL, *seconds_node = NULL,
                *more_node = NULL, *dir_node = NULL;
    int rc;

    memset(&r, 0, sizeof(r));
    r.cooldown_s = -1;
    r.direction = VG_CROSS_BOTH;
    if (map->type != YAML_MAPPING_NODE)
        return at(l, map,
                  "a rule is expected as a mapping {name, kind, "
                  "zone, ...}, got '%.64s'",
                  shown(map));
    if (l->cfg->n_rules >= VG_RULES_MAX_RULES)
        return at(l, map, "more than %d rules (this is rule %d)",
                  VG_RULES_MAX_RULES, l->cfg->n_rules + 1);
    r.line = line_of(map);
    r.column = col_of(map);
    rc = get_entry_name(l, map, "rule", r.name, sizeof(r.name));
    if (rc < 0)
        return rc;
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *key = vgi_yaml_scalar(k);
        size_t fp_len = fp_push(l, ".%.64s", key ? key : "?");
        rc = 0;
        if (!key) {
            rc = at(l, k, "expected a key");
        } else if (!strcmp(key, "name")) {
            rc = 0; /* read first, by get_entry_name */
        } else if (!strcmp(key, "kind")) {
            kind_node = v;
            r.kind = vg_event_kind_parse(vgi_yaml_scalar(v));
            if (r.kind < 0)
                rc = at(l, v,
                        "unknown rule kind '%.64s' (expected "
                        "intrusion, dwell, line_crossing or occupancy)",
                        shown(v));
        } else if (!strcmp(key, "zone") || !strcmp(key, "line")) {
            if (zone_node)
                return at(l, k, "rule '%s' names its zone twice", r.name);
            zone_node = v;
            r.zone_line = line_of(v);
            r.zone_column = col_of(v);
            rc = get_name(l, v, key, r.zone, sizeof(r.zone));
        } else if (!strcmp(key, "classes")) {
            rc = load_classes(l, v, &r);
        } else if (!strcmp(key, "seconds")) {
            seconds_node = k;
            rc = get_opt(l, v, item_opt("rules[]", key), &r);
        } else if (!strcmp(key, "cooldown")) {
            rc = get_opt(l, v, item_opt("rules[]", key), &r);
        } else if (!strcmp(key, "more_than")) {
            more_node = k;
            rc = get_opt(l, v, item_opt("rules[]", key), &r);
        } else if (!strcmp(key, "direction")) {
            const char *d = vgi_yaml_scalar(v);
            dir_node = k;
            if (d && !strcmp(d, "both"))
                r.direction = VG_CROSS_BOTH;
            else if (d && (!strcmp(d, "a_to_b") || !strcmp(d, "A>B")))
                r.direction = VG_CROSS_A_TO_B;
            else if (d && (!strcmp(d, "b_to_a") || !strcmp(d, "B>A")))
                r.direction = VG_CROSS_B_TO_A;
            else
                rc = at(l, v,
                        "'direction' expects a_to_b, b_to_a or both, "
                        "got '%.64s'",
                        shown(v));
        } else {
            const char *near = suggest(l, "rules[]", key);
            rc = at(l, k,
                    "unknown key '%.64s' in rule '%s' (expected name, "
                    "kind, zone, line, classes, seconds, more_than, "
                    "direction, cooldown)%s%s%s",
                    key, r.name, near ? "; did you mean '" : "",
                    near ? near : "", near ? "'?" : "");
        }
        if (rc < 0)
            return rc;
        fp_pop(l, fp_len);
    }
    if (!kind_node)
        return at(l, map,
                  "rule '%s' has no 'kind' (expected intrusion, "
                  "dwell, line_crossing or occupancy)",
                  r.name);
    if (!zone_node)
        return at(l, map, "rule '%s' has no 'zone'", r.name);
    if (r.kind == VG_EVENT_DWELL && !seconds_node)
        return at(l, map, "dwell rule '%s' needs 'seconds'", r.name);
    if (r.kind == VG_EVENT_OCCUPANCY && !more_node)
        return at(l, map, "occupancy rule '%s' needs 'more_than'", r.name);
    if (seconds_node && r.kind != VG_EVENT_DWELL &&
        r.kind != VG_EVENT_OCCUPANCY)
        return at(l, seconds_node,
                  "'seconds' applies to dwell and occupancy "
                  "rules, not %s",
                  vg_event_kind_name(r.kind));
    if (more_node && r.kind != VG_EVENT_OCCUPANCY)
        return at(l, more_node,
                  "'more_than' applies to occupancy rules, "
                  "not %s",
                  vg_event_kind_name(r.kind));
    if (dir_node && r.kind != VG_EVENT_CROSSING)
        return at(l, dir_node,
                  "'direction' applies to line_crossing rules, "
                  "not %s",
                  vg_event_kind_name(r.kind));
    return vg_rules_config_add_rule(l->ctx, l->cfg, &r);
}

static int load_list(loader *l, yaml_node_t *v, const char *section,
                     int (*one)(loader *, yaml_node_t *))
{
    yaml_node_item_t *it;
    int rc;

    if (v->type == YAML_SCALAR_NODE && !*vgi_yaml_scalar(v))
        return 0; /* "zones:" with nothing under it */
    if (v->type != YAML_SEQUENCE_NODE)
        return at(l, v, "section '%s' expects a list, got '%.64s'", section,
                  shown(v));
    for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        size_t len =
            fp_push(l, "[%d]", (int)(it - v->data.sequence.items.start));
        if ((rc = one(l, node(l, *it))) < 0)
            return rc;
        fp_pop(l, len);
    }
    return 0;
}

static int load_options(loader *l, yaml_node_t *map)
{
    yaml_node_pair_t *p;
    int rc;

    if (map->type != YAML_MAPPING_NODE)
        return at(l, map, "section 'rules_options' expects a mapping");
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *key = vgi_yaml_scalar(k);
        size_t len = fp_push(l, ".%.64s", key ? key : "?");
        int n = (int)(sizeof(options_schema) / sizeof(options_schema[0]));
        const vg_option *o =
            key ? vg_schema_find(options_schema, n, "rules_options", key)
                : NULL;
        if (o) {
            rc = get_opt(l, v, o, l->cfg);
        } else {
            const char *near = key ? vg_schema_suggest_key(options_schema, n,
                                                           "rules_options", key)
                                   : NULL;
            rc = at(l, k,
                    "unknown key '%.64s' in 'rules_options' (expected "
                    "capacity, state_ttl, cooldown)%s%s%s",
                    key ? key : "?", near ? "; did you mean '" : "",
                    near ? near : "", near ? "'?" : "");
        }
        if (rc < 0)
            return rc;
        fp_pop(l, len);
    }
    return 0;
}

int vgi_rules_read(vg_context *ctx, const char *source, yaml_document_t *doc,
                   yaml_node_t *map, int text, vg_rules_config *cfg)
{
    yaml_node_pair_t *p;
    loader l;
    int rc = 0;

    vg_rules_config_init(cfg);
    snprintf(cfg->source, sizeof(cfg->source), "%s", source);
    cfg->field_paths = text;
    memset(&l, 0, sizeof(l));
    l.ctx = ctx;
    l.path = source;
    l.doc = doc;
    l.cfg = cfg;
    l.text = text;
    if (!map) /* empty: no zones, no rules */
        return 0;
    if (map->type != YAML_MAPPING_NODE) {
        rc = at(&l, map,
                text ? "expected an object {\"zones\": [...], \"rules\": "
                       "[...]}"
                     : "expected a mapping of sections (zones, rules, "
                       "rules_options, ...)");
        goto out;
    }
    for (p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(&l, p->key), *v = node(&l, p->value);
        const char *key = vgi_yaml_scalar(k);
        size_t len = fp_push(&l, "%.64s", key ? key : "?");
        if (!key)
            rc = at(&l, k, "expected a section name");
        else if (!strcmp(key, "zones"))
            rc = load_list(&l, v, key, load_zone);
        else if (!strcmp(key, "rules"))
            rc = load_list(&l, v, key, load_rule);
        else if (!strcmp(key, "rules_options"))
            rc = load_options(&l, v);
        else if (text)
            rc = at(&l, k,
                    "unknown field '%.64s' (expected zones, rules, "
                    "rules_options)",
                    key);
        /* in a file, other sections belong to other loaders */
        fp_pop(&l, len);
    }
    if (rc == 0)
        rc = vg_rules_config_check(ctx, cfg, 0, 0);
out:
    if (rc < 0) {
        vg_rules_config_free(ctx, cfg);
        snprintf(cfg->source, sizeof(cfg->source), "%s", source);
        cfg->field_paths = text;
    }
    return rc;
}

int vg_rules_load(vg_context *ctx, const char *path, vg_rules_config *cfg)
{
    yaml_document_t doc;
    int rc;

    vg_rules_config_init(cfg);
    rc = vgi_yaml_load(ctx, path, &doc);
    if (rc < 0)
        return rc;
    rc = vgi_rules_read(ctx, path, &doc, yaml_document_get_root_node(&doc), 0,
                        cfg);
    yaml_document_delete(&doc);
    if (rc < 0)
        vg_rules_config_init(cfg);
    return rc;
}

int vg_rules_parse_text(vg_context *ctx, const char *name, const char *text,
                        size_t len, vg_rules_config *cfg)
{
    yaml_document_t doc;
    yaml_node_t *root;
    int rc;

    vg_rules_config_init(cfg);
    if (name == NULL)
        name = "body";
    rc = vgi_yaml_load_text(ctx, name, text, len, &doc);
    if (rc < 0)
        return rc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL || (root->type == YAML_SCALAR_NODE &&
                         root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                         root->data.scalar.length == 0))
        rc = vg_fail(ctx, VG_ECONFIG,
                     "%s: expected an object {\"zones\": [...], \"rules\": "
                     "[...]}, got nothing",
                     name);
    else
        rc = vgi_rules_read(ctx, name, &doc, root, 1, cfg);
    yaml_document_delete(&doc);
    if (rc < 0)
        vg_rules_config_init(cfg);
    return rc;
}

/* ---- JSON -----------------------------------------------------------------
 */

typedef struct jbuf {
    char *buf;
    size_t cap, len; /* len: what would have been written */
} jbuf;

static void jput(jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void jput(jbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b->len < b->cap ? b->buf + b->len : NULL,
                  b->len < b->cap ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

/* s as a JSON string (also a valid YAML double-quoted scalar). */
static void jstr(jbuf *b, const char *s)
{
    jput(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            jput(b, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            jput(b, "\\u%04x", *c);
        else
            jput(b, "%c", *c);
    }
    jput(b, "\"");
}

/* A float that reads back as the same float. */
static void jnum(jbuf *b, double v)
{
    jput(b, "%.9g", v);
}

static void json_zone(jbuf *b, const vg_zone_def *z)
{
    jput(b, "{\"name\": ");
    jstr(b, z->name);
    jput(b, ", \"%s\": [", z->kind == VG_ZONE_LINE ? "line" : "polygon");
    for (int i = 0; i < z->n_points; i++) {
        jput(b, "%s[", i ? ", " : "");
        jnum(b, z->points[i].x);
        jput(b, ", ");
        jnum(b, z->points[i].y);
        jput(b, "]");
    }
    jput(b, "], \"units\": \"%s\"",
         z->units == VG_UNITS_NORMALIZED ? "normalized" : "pixels");
    if (z->kind == VG_ZONE_LINE && z->a_to_b[0]) {
        jput(b, ", \"a_to_b\": ");
        jstr(b, z->a_to_b);
    }
    if (z->kind == VG_ZONE_LINE && z->b_to_a[0]) {
        jput(b, ", \"b_to_a\": ");
        jstr(b, z->b_to_a);
    }
    jput(b, "}");
}

static void json_rule(jbuf *b, const vg_rule_def *r)
{
    static const char *const dirs[] = {"both", "a_to_b", "b_to_a"};

    jput(b, "{\"name\": ");
    jstr(b, r->name);
    jput(b, ", \"kind\": \"%s\", \"zone\": ", vg_event_kind_name(r->kind));
    jstr(b, r->zone);
    if (r->n_classes > 0) {
        jput(b, ", \"classes\": [");
        for (int i = 0; i < r->n_classes; i++) {
            jput(b, "%s", i ? ", " : "");
            jstr(b, vgi_rules_class_name(r->classes[i]));
        }
        jput(b, "]");
    }
    if (r->kind == VG_EVENT_DWELL || r->kind == VG_EVENT_OCCUPANCY) {
        jput(b, ", \"seconds\": ");
        jnum(b, r->seconds);
    }
    if (r->kind == VG_EVENT_OCCUPANCY)
        jput(b, ", \"more_than\": %d", r->more_than);
    if (r->kind == VG_EVENT_CROSSING && r->direction >= VG_CROSS_BOTH &&
        r->direction <= VG_CROSS_B_TO_A)
        jput(b, ", \"direction\": \"%s\"", dirs[r->direction]);
    if (r->cooldown_s >= 0) {
        jput(b, ", \"cooldown\": ");
        jnum(b, r->cooldown_s);
    }
    jput(b, "}");
}

static int write_json(const vg_rules_config *cfg, char *buf, size_t cap,
                      const char *sep)
{
    jbuf b = {buf, cap, 0};

    if (cap > 0)
        buf[0] = '\0';
    jput(&b, "{\"zones\": [");
    for (int i = 0; i < cfg->n_zones; i++) {
        jput(&b, "%s", i ? "," : "");
        jput(&b, "%s", sep);
        json_zone(&b, &cfg->zones[i]);
    }
    jput(&b, "],%s\"rules\": [", sep[0] ? sep : " ");
    for (int i = 0; i < cfg->n_rules; i++) {
        jput(&b, "%s", i ? "," : "");
        jput(&b, "%s", sep);
        json_rule(&b, &cfg->rules[i]);
    }
    jput(&b, "]}");
    if (b.len >= cap || b.len > INT32_MAX)
        return VG_ERANGE;
    return (int)b.len;
}

int vg_rules_config_to_json(const vg_rules_config *cfg, char *buf, size_t cap)
{
    if (cfg == NULL || (buf == NULL && cap > 0))
        return VG_EINVAL;
    return write_json(cfg, buf, cap, "");
}

int vgi_rules_zone_json(const vg_zone_def *z, char *buf, size_t cap)
{
    jbuf b = {buf, cap, 0};
    json_zone(&b, z);
    return b.len >= cap ? VG_ERANGE : (int)b.len;
}

int vgi_rules_rule_json(const vg_rule_def *r, char *buf, size_t cap)
{
    jbuf b = {buf, cap, 0};
    json_rule(&b, r);
    return b.len >= cap ? VG_ERANGE : (int)b.len;
}
