/* Shared between the rules engine, its config loader and the geometry. */
#ifndef VIGIL_RULES_INTERNAL_H
#define VIGIL_RULES_INTERNAL_H

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

#endif
