/*
 * vg_rules: zones (polygons, directed lines) and the alarm rules over them
 * (intrusion, dwell, line crossing, occupancy), fed with tracked objects
 * frame by frame.
 *
 *   vg_rules_config cfg;
 *   if (vg_rules_load(ctx, "site.yaml", &cfg) < 0)   // FILE:LINE:COL: ...
 *       fprintf(stderr, "%s\n", vg_context_errmsg(ctx));
 *   vg_rules *r;
 *   rc = vg_rules_create(ctx, &cfg, 768, 576, &r); // checks against frame
 *   vg_rules_config_free(ctx, &cfg);               // r keeps its own copy
 *   for each frame:
 *       vg_rules_object objs[n] = tracks of the frame;
 *       vg_event ev[64]; int nev;
 *       vg_rules_update(r, t, frame_index, objs, n, ev, 64, &nev);
 *       for each removed track id: vg_rules_forget(r, id);
 *   vg_rules_destroy(&r);
 *
 * Coordinates: pixels of the source picture, y downwards. A zone written with
 * `units: normalized` gives every coordinate as a fraction of the frame's
 * width (x) or height (y), resolved to pixels at create. An object's position
 * is the bottom centre of its box (its feet).
 *
 * Point in polygon: even-odd rule; a point on an edge (within 1e-3 px)
 * is inside.
 *
 * Directed line A->B: a point's side is the sign of cross(B-A, P-A); in
 * picture coordinates (y down) positive is the right of A->B as seen on
 * screen. An "A>B" crossing is the position moving from the left of A->B to
 * its right, where the path between the two positions meets the segment AB
 * itself (not its extension). Examples: a horizontal line drawn left (A) to
 * right (B): A>B is moving downwards; a vertical line drawn top (A) to bottom
 * (B): A>B is moving from right to left. Positions exactly on the line keep
 * the previous side.
 *
 * Cooldown: per object and rule for intrusion, dwell and crossing (an alarm
 * suppressed by it is not raised later); per rule for occupancy.
 *
 * State: one entry per object in a table of fixed capacity allocated at
 * create; vg_rules_update allocates nothing. Entries go when the pipeline
 * calls vg_rules_forget, when an object is not seen for state_ttl seconds,
 * or, the table being full, the least recently seen is evicted (counted).
 *
 * Thread-safety: a vg_rules is used by one thread at a time; a
 * vg_rules_config is a plain value owned by its caller.
 */
#ifndef VIGIL_RULES_H
#define VIGIL_RULES_H

#include <stdint.h>

#include "vigil/context.h"
#include "vigil/detect.h"
#include "vigil/event.h"
#include "vigil/schema.h"

#define VG_RULES_NAME_MAX 64
#define VG_ZONE_MAX_POINTS 64
#define VG_RULE_MAX_CLASSES 16
#define VG_RULES_MAX_RULES 64
#define VG_RULES_MAX_ZONES 64
/* Pixels a vertex may lie outside the frame before create rejects it. */
#define VG_ZONE_FRAME_TOLERANCE 2.0f

typedef struct vg_rules vg_rules;

typedef struct vg_point {
    float x, y;
} vg_point;

enum vg_zone_kind { VG_ZONE_POLYGON = 0, VG_ZONE_LINE = 1 };
enum vg_zone_units { VG_UNITS_PIXELS = 0, VG_UNITS_NORMALIZED = 1 };
enum vg_crossing_dir {
    VG_CROSS_BOTH = 0,
    VG_CROSS_A_TO_B = 1,
    VG_CROSS_B_TO_A = 2
};

/* A zone as configured. line/column (1-based, 0 when built in code) locate
 * it and each point in the config file for error messages. */
typedef struct vg_zone_def {
    char name[VG_RULES_NAME_MAX];
    int kind;                            /* enum vg_zone_kind */
    int units;                           /* enum vg_zone_units */
    vg_point points[VG_ZONE_MAX_POINTS]; /* polygon vertices, or A then B */
    int n_points;
    /* Lines: names of the two directions ("A>B" and "B>A" when unset). */
    char a_to_b[32];
    char b_to_a[32];
    int line, column;
    int point_line[VG_ZONE_MAX_POINTS], point_column[VG_ZONE_MAX_POINTS];
} vg_zone_def;

typedef struct vg_rule_def {
    char name[VG_RULES_NAME_MAX];
    int kind;                         /* enum vg_event_kind */
    char zone[VG_RULES_NAME_MAX];     /* zone (or line, for crossings) */
    int classes[VG_RULE_MAX_CLASSES]; /* COCO ids; none: every class */
    int n_classes;
    double seconds;    /* dwell: stay longer than; occupancy: hold for */
    int more_than;     /* occupancy: fires when count > more_than */
    int direction;     /* crossing: enum vg_crossing_dir */
    double cooldown_s; /* < 0: the config's default */
    int line, column;  /* of the rule, and of its zone reference */
    int zone_line, zone_column;
} vg_rule_def;

/* Parsed zones and rules, from vg_rules_load or built in code. Owns its
 * arrays: release with vg_rules_config_free. */
typedef struct vg_rules_config {
    vg_zone_def *zones;
    int n_zones;
    vg_rule_def *rules;
    int n_rules;
    int capacity;       /* objects with state at once (default 1024) */
    double state_ttl_s; /* drop an object unseen this long (default 30) */
    double cooldown_s;  /* default per-rule cooldown (default 10) */
    char source[256];   /* config file, for messages ("" when in code) */
    int field_paths;    /* 1: messages name the field path ("SOURCE:
                           zones[1].polygon: ...") instead of LINE:COL
                           (request bodies, vg_rules_parse_text) */
} vg_rules_config;

/* Empties cfg and sets the defaults. No allocation. */
void vg_rules_config_init(vg_rules_config *cfg);

/* Appends a copy of a zone / rule. Returns 0, VG_ENOMEM, or VG_ERANGE past
 * VG_RULES_MAX_ZONES / VG_RULES_MAX_RULES; cfg is unchanged on failure.
 * Nothing is checked until vg_rules_config_check or vg_rules_create. */
int vg_rules_config_add_zone(vg_context *ctx, vg_rules_config *cfg,
                             const vg_zone_def *zone);
int vg_rules_config_add_rule(vg_context *ctx, vg_rules_config *cfg,
                             const vg_rule_def *rule);

/* The schema (include/vigil/schema.h) of rules_options: (offsets into
 * vg_rules_config; its defaults are vg_rules_config_init's), and of the keys
 * of one zone ("zones[]") and one rule ("rules[]"); *n gets the count. */
const vg_option *vg_rules_options_schema(int *n);
const vg_option *vg_rules_item_schema(int *n);

/* Frees the arrays and re-initialises cfg; accepts an empty cfg. */
void vg_rules_config_free(vg_context *ctx, vg_rules_config *cfg);

/* Reads the top-level sections `zones:`, `rules:` and `rules_options:` of a
 * YAML file into *cfg (initialised here), ignoring every other section.
 * Checks everything that does not need the frame size. Returns 0,
 * VG_ENOENT/VG_EIO, VG_ENOMEM, or VG_ECONFIG with "FILE:LINE:COL: what is
 * wrong (what was expected)" in ctx. On failure *cfg is empty. */
int vg_rules_load(vg_context *ctx, const char *path, vg_rules_config *cfg);

/* Checks cfg: names, kinds, classes, times, polygon size and
 * self-intersection, rule references; with width and height > 0 also that
 * every vertex lies in the frame. Returns 0 or VG_ECONFIG (message in ctx,
 * prefixed FILE:LINE:COL when the item came from a file). */
int vg_rules_config_check(vg_context *ctx, const vg_rules_config *cfg,
                          int width, int height);

/* Checks cfg against the frame size, copies it (cfg stays the caller's),
 * resolves zones to pixels and reserves the state table. Returns 0,
 * VG_EINVAL, VG_ECONFIG or VG_ENOMEM; *out is NULL on failure. */
int vg_rules_create(vg_context *ctx, const vg_rules_config *cfg, int width,
                    int height, vg_rules **out);

/* Replaces zones and rules. Rules whose definition (kind, classes,
 * parameters, effective cooldown, zone geometry) is identical to a rule of
 * the same name keep their per-object state and counters; the others start
 * afresh. Returns 0, VG_ECONFIG or VG_ENOMEM; on failure r is unchanged. */
int vg_rules_reload(vg_rules *r, const vg_rules_config *cfg);

void vg_rules_destroy(vg_rules **r);

/* One tracked object in the current frame. */
typedef struct vg_rules_object {
    int64_t track_id;
    vg_box box; /* source pixels */
    int class_id;
    float score;
} vg_rules_object;

/* Runs every rule over the objects of one frame at stream time time_s
 * (non-decreasing). Writes up to cap events (fields kind, time_s,
 * frame_index, rule, zone, direction, direction_name, track_id, class_id,
 * class_name, score, box, count; id, wall_ms, stream and snapshot are left
 * 0/"" for the sinks) and sets *n_events. Events beyond cap are counted in
 * the stats (events_dropped), not returned. Returns 0 or VG_EINVAL.
 * No allocation. */
int vg_rules_update(vg_rules *r, double time_s, int64_t frame_index,
                    const vg_rules_object *objs, int n, vg_event *events,
                    int cap, int *n_events);

/* Drops the state of one object (its track ended). Returns 1 if it had
 * state, 0 if not. */
int vg_rules_forget(vg_rules *r, int64_t track_id);

typedef struct vg_rules_stats {
    int entries;             /* objects with state now */
    int capacity;            /* table capacity */
    uint64_t evictions;      /* entries dropped because the table was full */
    uint64_t expirations;    /* entries dropped after state_ttl */
    uint64_t forgotten;      /* entries dropped by vg_rules_forget */
    uint64_t events_dropped; /* events that did not fit the caller's array */
    int n_rules;
} vg_rules_stats;

typedef struct vg_rule_stats {
    const char *name; /* valid until reload/destroy */
    const char *zone;
    int kind;
    uint64_t fired;      /* events raised */
    uint64_t suppressed; /* alarms held back by the cooldown */
    /* line crossings of the rule's classes, each direction, every crossing
     * counted whatever the rule's direction filter and cooldown */
    uint64_t crossed_a_to_b, crossed_b_to_a;
    int occupancy; /* objects of the rule's classes in the zone last frame */
} vg_rule_stats;

void vg_rules_stats_get(const vg_rules *r, vg_rules_stats *out);
/* Stats of rule i (0..n_rules-1, config order). 0 or VG_EINVAL. */
int vg_rules_rule_stats(const vg_rules *r, int i, vg_rule_stats *out);

/* ---- drawing: the zones in pixels ---- */
typedef struct vg_zone_view {
    const char *name;
    int kind;               /* enum vg_zone_kind */
    const vg_point *points; /* pixels; a line has 2: A, B */
    int n_points;
    const char *a_to_b, *b_to_a; /* lines: direction names */
} vg_zone_view;

int vg_rules_zone_count(const vg_rules *r);
/* Zone i (config order); pointers valid until reload/destroy. 0/VG_EINVAL. */
int vg_rules_zone(const vg_rules *r, int i, vg_zone_view *out);

/* ---- geometry (no allocation, thread-safe) ---- */

/* 1 when p is inside polygon (even-odd; on an edge counts as inside). */
int vg_zone_contains(const vg_point *poly, int n, vg_point p);

/* 1 when two edges of the closed polygon cross or overlap (non-adjacent
 * edges touching, or adjacent edges folding back); edge_a and edge_b (may be
 * NULL) receive the first pair, as indices of their first vertex. */
int vg_polygon_self_intersects(const vg_point *poly, int n, int *edge_a,
                               int *edge_b);

/* Side of p relative to the directed line a->b: +1 right (on screen, y
 * down), -1 left, 0 on the line. */
int vg_line_side(vg_point a, vg_point b, vg_point p);

/* Parses "intrusion", "dwell"/"loitering", "line_crossing"/"crossing",
 * "occupancy"; -1 if unknown. */
int vg_event_kind_parse(const char *s);

#endif
