#include "vigil/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/yaml_doc.h"
#include "vigil/coco.h"
#include "vigil/schema.h"

void vg_cache_path(const char *name, char *buf, size_t size)
{
    const char *cache = getenv("VIGIL_CACHE");
    const char *home = getenv("HOME");

    if (cache && *cache)
        snprintf(buf, size, "%s/%s", cache, name);
    else
        snprintf(buf, size, "%s/.cache/vigil/%s", home ? home : ".", name);
}

void vg_default_model_dir(char *buf, size_t size)
{
    vg_cache_path("models", buf, size);
}

void vg_settings_builtin(vg_settings *s)
{
    int n;
    const vg_option *opts = vg_settings_schema(&n);

    memset(s, 0, sizeof(*s));
    vg_options_defaults(opts, n, s); /* origin: all VG_ORIGIN_BUILTIN (0) */
}

void vg_settings_probe(vg_settings *s, const vg_sysinfo *si)
{
    if (s->origin.threads == VG_ORIGIN_BUILTIN && si->cpu_cores > 0) {
        s->threads = si->cpu_cores;
        s->origin.threads = VG_ORIGIN_PROBED;
    }
    if (s->origin.providers == VG_ORIGIN_BUILTIN && si->gpu_count > 0 &&
        si->ort_has_cuda) {
        snprintf(s->providers[0], sizeof(s->providers[0]), "cuda");
        snprintf(s->providers[1], sizeof(s->providers[1]), "cpu");
        s->n_providers = 2;
        s->origin.providers = VG_ORIGIN_PROBED;
    }
}

const char *vg_origin_name(int origin)
{
    switch (origin) {
    case VG_ORIGIN_PROBED:
        return "probed";
    case VG_ORIGIN_CONFIG:
        return "config";
    case VG_ORIGIN_CLI:
        return "command line";
    default:
        return "built-in";
    }
}

const char *vg_head_kind_name(int head)
{
    switch (head) {
    case VG_HEAD_NANODET:
        return "nanodet";
    case VG_HEAD_YOLOV5:
        return "yolov5";
    case VG_HEAD_YOLOV8:
        return "yolov8";
    default:
        return "auto";
    }
}

int vg_head_kind_parse(const char *s)
{
    if (strcmp(s, "auto") == 0)
        return VG_HEAD_AUTO;
    if (strcmp(s, "nanodet") == 0)
        return VG_HEAD_NANODET;
    if (strcmp(s, "yolov5") == 0)
        return VG_HEAD_YOLOV5;
    if (strcmp(s, "yolov8") == 0 || strcmp(s, "yolo11") == 0)
        return VG_HEAD_YOLOV8;
    return -1;
}

#define VG_STR2(x) #x
#define VG_STR(x) VG_STR2(x)

/* ---- YAML walking: every section of vg_settings is read through its schema
 * table (include/vigil/schema.h); motion.masks has its own reader. ------- */

typedef struct loader {
    vg_context *ctx;
    const char *path;
    yaml_document_t *doc;
    vg_settings *s;
} loader;

static int get_double(loader *l, const yaml_node_t *n, const char *key,
                      double lo, double hi, double *out)
{
    return vgi_yaml_get_double(l->ctx, l->path, n, key, lo, hi, out);
}

/* One mask: {polygon: [[x, y], ...], units: pixels | normalized}. Pixel
 * coordinates are checked against the picture when a stream starts;
 * normalised ones here (0..1). */
static int load_mask(loader *l, yaml_node_t *map, int i)
{
    vg_settings *s = l->s;
    yaml_node_t *poly = NULL;
    yaml_node_pair_t *p;
    int pixels = 1, rc;

    if (map->type != YAML_MAPPING_NODE)
        return VGI_YAML_AT(
            l, map,
            "a motion mask is expected as {polygon: [[x, y], ...], "
            "units: pixels|normalized}, got '%.64s'",
            vgi_yaml_scalar(map) ? vgi_yaml_scalar(map) : "a list");
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        if (key && !strcmp(key, "polygon")) {
            poly = v;
        } else if (key && !strcmp(key, "units")) {
            const char *u = vgi_yaml_scalar(v);
            if (u && !strcmp(u, "pixels"))
                pixels = 1;
            else if (u &&
                     (!strcmp(u, "normalized") || !strcmp(u, "normalised")))
                pixels = 0;
            else
                return VGI_YAML_AT(
                    l, v, "'units' expects pixels or normalized, got '%.64s'",
                    u ? u : "(not a scalar)");
        } else {
            return VGI_YAML_AT(l, k,
                               "unknown key '%.64s' in a motion mask (expected "
                               "polygon, units)",
                               key ? key : "?");
        }
    }
    if (!poly)
        return VGI_YAML_AT(l, map, "a motion mask has no 'polygon'");
    if (poly->type != YAML_SEQUENCE_NODE)
        return VGI_YAML_AT(l, poly,
                           "'polygon' expects a list of points [[x, y], ...]");
    s->motion_masks[i].n_points = 0;
    s->motion_masks[i].pixels = pixels;
    for (yaml_node_item_t *it = poly->data.sequence.items.start;
         it < poly->data.sequence.items.top; it++) {
        yaml_node_t *c = yaml_document_get_node(l->doc, *it);
        int n = s->motion_masks[i].n_points;
        if (n >= VG_SETTINGS_MAX_MASK_POINTS)
            return VGI_YAML_AT(l, c, "a motion mask has more than %s points",
                               VG_STR(VG_SETTINGS_MAX_MASK_POINTS));
        if (c->type != YAML_SEQUENCE_NODE ||
            c->data.sequence.items.top - c->data.sequence.items.start != 2)
            return VGI_YAML_AT(l, c, "a point is expected as [x, y]");
        for (int a = 0; a < 2; a++) {
            yaml_node_t *xy =
                yaml_document_get_node(l->doc, c->data.sequence.items.start[a]);
            double val;
            rc = get_double(l, xy, a ? "y" : "x", pixels ? -1e6 : 0,
                            pixels ? 1e6 : 1, &val);
            if (rc < 0)
                return rc;
            s->motion_masks[i].xy[n][a] = (float)val;
        }
        s->motion_masks[i].n_points = n + 1;
    }
    if (s->motion_masks[i].n_points < 3)
        return VGI_YAML_AT(l, poly,
                           "a motion mask polygon needs 3 to %s points",
                           VG_STR(VG_SETTINGS_MAX_MASK_POINTS));
    return 0;
}

static int load_masks(loader *l, yaml_node_t *v)
{
    int n = 0, rc;
    if (v->type != YAML_SEQUENCE_NODE)
        return VGI_YAML_AT(
            l, v,
            "'masks' expects a list of {polygon: [[x, y], ...], units: "
            "pixels|normalized}");
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        yaml_node_t *c = yaml_document_get_node(l->doc, *it);
        if (n >= VG_SETTINGS_MAX_MASKS)
            return VGI_YAML_AT(l, c, "more than %s motion masks",
                               VG_STR(VG_SETTINGS_MAX_MASKS));
        if ((rc = load_mask(l, c, n)) < 0)
            return rc;
        n++;
    }
    l->s->motion_n_masks = n;
    return 0;
}

/* One key of a section, through its row o of the schema. */
static int load_key(loader *l, const vg_option *o, yaml_node_t *v)
{
    char why[384];
    int rc;

    if (o->store == VG_STORE_NONE) /* motion.masks */
        return load_masks(l, v);
    if (o->store == VG_STORE_NAMES) {
        int count = 0;
        if (v->type != YAML_SEQUENCE_NODE)
            return VGI_YAML_AT(l, v, "'%s' expects %s", o->key, o->expect);
        count = 0;
        *(int *)((char *)l->s + o->count_offset) = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            yaml_node_t *c = yaml_document_get_node(l->doc, *it);
            rc = vg_option_add_item(o, vgi_yaml_scalar(c), l->s, &count, why,
                                    sizeof(why));
            if (rc < 0)
                return VGI_YAML_AT(l, c, "%s", why);
        }
        return 0;
    }
    if (o->flags & VG_OPTF_PATH) {
        char tmp[VG_PATH_MAX];
        const vg_option t = {.key = o->key,
                             .type = VG_OPT_STRING,
                             .store = VG_STORE_CHARS,
                             .size = sizeof(tmp),
                             .flags = o->flags & VG_OPTF_EMPTY_OK};
        if (vg_option_parse(&t, vgi_yaml_scalar(v), tmp, why, sizeof(why)) < 0)
            return VGI_YAML_AT(l, v, "%s", why);
        if (!tmp[0]) /* "" (allowed): no file */
            *((char *)l->s + o->offset) = '\0';
        else
            vgi_path_beside(l->path, tmp, (char *)l->s + o->offset, o->size);
        return 0;
    }
    if (vg_option_parse(o, vgi_yaml_scalar(v), l->s, why, sizeof(why)) < 0)
        return VGI_YAML_AT(l, v, "%s", why);
    return 0;
}

/* A section of vg_settings: each key through the schema, or an error
 * listing the section's keys (with the closest as a suggestion). */
static int load_section(loader *l, const char *section, yaml_node_t *map)
{
    int n;
    const vg_option *opts = vg_settings_schema(&n);
    yaml_node_pair_t *p;
    int rc = 0;

    for (p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        const vg_option *o;

        if (!key)
            return VGI_YAML_AT(l, k, "expected a key");
        o = vg_schema_find(opts, n, section, key);
        if (o) {
            l->s->origin.key[o - opts] = VG_ORIGIN_CONFIG;
            rc = load_key(l, o, v);
        } else {
            char keys[512];
            const char *near = vg_schema_suggest_key(opts, n, section, key);
            vg_schema_key_list(opts, n, section, keys, sizeof(keys));
            rc = VGI_YAML_AT(l, k,
                             "unknown key '%.64s' in '%s' (expected %s)%s%s%s",
                             key, section, keys, near ? "; did you mean '" : "",
                             near ? near : "", near ? "'?" : "");
        }
    }
    return rc;
}

/* Sections of the same file that other modules read with their own loaders
 * (vg_rules_load, vg_cameras_load and the `vigil run` job). */
static const char *const other_sections[] = {
    "zones",  "rules",  "rules_options", "cameras", "job",
    "inputs", "memory", "models",        "staged",  NULL};

static int is_other_module_section(const char *key)
{
    for (int i = 0; other_sections[i]; i++)
        if (!strcmp(key, other_sections[i]))
            return 1;
    return 0;
}

static int is_settings_section(const char *key)
{
    const char *const *sec = vg_settings_sections();
    for (int i = 0; sec[i]; i++)
        if (!strcmp(key, sec[i]))
            return 1;
    return 0;
}

static int unknown_section(loader *l, const yaml_node_t *k, const char *key)
{
    const char *cands[32];
    const char *const *sec = vg_settings_sections();
    char list[512];
    size_t len = 0;
    const char *near;
    int m = 0;

    list[0] = '\0';
    for (int i = 0; sec[i] && m < 32; i++)
        cands[m++] = sec[i];
    for (int i = 0; other_sections[i] && m < 32; i++)
        cands[m++] = other_sections[i];
    for (int i = 0; i < m; i++) {
        int w = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                         cands[i]);
        if (w > 0 && (size_t)w < sizeof(list) - len)
            len += (size_t)w;
    }
    near = vg_schema_suggest(key, cands, m);
    return VGI_YAML_AT(l, k, "unknown section '%.64s' (expected %s)%s%s%s", key,
                       list, near ? "; did you mean '" : "", near ? near : "",
                       near ? "'?" : "");
}

int vg_settings_load(vg_context *ctx, const char *path, vg_settings *s)
{
    yaml_document_t doc;
    yaml_node_t *root;
    yaml_node_pair_t *p;
    loader l;
    int rc;

    rc = vgi_yaml_load(ctx, path, &doc);
    if (rc < 0)
        return rc;
    l.ctx = ctx;
    l.path = path;
    l.doc = &doc;
    l.s = s;
    root = yaml_document_get_root_node(&doc);
    if (!root) /* empty file: nothing set */
        goto out_doc;
    if (root->type != YAML_MAPPING_NODE) {
        rc = VGI_YAML_AT(
            &l, root,
            "expected a mapping of sections (detector, runtime, input)");
        goto out_doc;
    }
    for (p = root->data.mapping.pairs.start;
         rc == 0 && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        if (!key)
            rc = VGI_YAML_AT(&l, k, "expected a section name");
        else if (is_other_module_section(key))
            continue; /* read by the rules, cameras and job loaders */
        else if (!is_settings_section(key))
            rc = unknown_section(&l, k, key);
        else if (v->type != YAML_MAPPING_NODE)
            rc = VGI_YAML_AT(&l, v, "section '%.64s' expects a mapping", key);
        else
            rc = load_section(&l, key, v);
    }
out_doc:
    yaml_document_delete(&doc);
    return rc;
}
