/* Shared between the rules engine, its config loader and the geometry. */
#ifndef VIGIL_RULES_INTERNAL_H
#define VIGIL_RULES_INTERNAL_H

#include <stddef.h>

#include <yaml.h>

#include "vigil/rules.h"

/* cross(B-A, P-A): > 0 right of A->B on screen (y down). */
double vgi_line_cross(vg_point a, vg_point b, vg_point p);

/* 1 when the path p0->p1, which changes side of line ab, meets the segment
 * ab itself. */
int vgi_path_meets_segment(vg_point a, vg_point b, vg_point p0, vg_point p1);

/* COCO name of a class id, "" when unknown. */
const char *vgi_rules_class_name(int class_id);

/* Index of the zone named name in cfg, -1 when none. */
int vgi_rules_find_zone(const vg_rules_config *cfg, const char *name);

/* Resolves zone z to pixels for a width x height frame into pts. */
void vgi_zone_to_pixels(const vg_zone_def *z, int width, int height,
                        vg_point *pts);

/* Effective cooldown of a rule under cfg. */
double vgi_rule_cooldown(const vg_rules_config *cfg, const vg_rule_def *r);

/* Reads the zones:, rules: and rules_options: keys of the mapping map (the
 * root of a file, or a camera of the cameras: section) of doc into *cfg
 * (initialised here) and checks them (vg_rules_config_check without a frame
 * size). source names the file (messages "SOURCE:LINE:COL: ...") or, with
 * text set, a request body (messages "SOURCE: zones[1].polygon: ...",
 * numbers must be JSON numbers and names strings, other keys of map are
 * refused). map NULL: empty. Returns 0, VG_ENOMEM or VG_ECONFIG; on
 * failure *cfg is empty. */
int vgi_rules_read(vg_context *ctx, const char *source, yaml_document_t *doc,
                   yaml_node_t *map, int text, vg_rules_config *cfg);

/* One zone / rule as a JSON object (also valid YAML flow) into buf; returns
 * the length or VG_ERANGE when cap is too small. */
int vgi_rules_zone_json(const vg_zone_def *z, char *buf, size_t cap);
int vgi_rules_rule_json(const vg_rule_def *r, char *buf, size_t cap);

#endif
