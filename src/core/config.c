#include "vigil/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/yaml_doc.h"
#include "vigil/coco.h"

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
    char dir[VG_PATH_MAX - 16];

    memset(s, 0, sizeof(*s));
    vg_default_model_dir(dir, sizeof(dir));
    snprintf(s->model, sizeof(s->model), "%s/nanodet.onnx", dir);
    s->head = VG_HEAD_AUTO;
    s->score_threshold = 0.35f;
    s->nms_iou = 0.5f;
    s->max_detections = 300;
    s->threads = 1;
    s->graph_opt = 3;
    s->mem_arena = 1;
    s->spin = 1;
    snprintf(s->providers[0], sizeof(s->providers[0]), "cpu");
    s->n_providers = 1;
    s->queue_depth = 4;
    s->timeout_ms = 5000;
    s->lost_seconds = 3.0;
    s->track_high = 0.5f;
    s->track_low = 0.1f;
    s->track_new = 0.6f;
    s->snap_max_age_days = 30;
    s->snap_max_bytes = 1024.0 * 1024 * 1024;
    s->snap_enabled = 1;
    s->video_enabled = 1;
    s->video_crf = 23;
    snprintf(s->video_preset, sizeof(s->video_preset), "ultrafast");
    s->events_batch = 16;
    s->events_delay_ms = 500;
    s->telemetry_interval_s = 10;
    s->leak_slope = 1024.0 * 1024.0;
    s->leak_window_s = 60;
    /* the motion gate's defaults (vg_motion_defaults; test_gating_config
     * checks they agree) */
    s->detect_fps = -1;
    s->motion_enabled = 0;
    s->motion_pixel_threshold = 25;
    s->motion_min_area = 0.002;
    s->motion_max_idle_s = 5;
    s->motion_frame_height = 120;
    snprintf(s->serve_listen, sizeof(s->serve_listen), "127.0.0.1:8080");
    snprintf(s->serve_token_env, sizeof(s->serve_token_env), "VIGIL_TOKEN");
    s->serve_mjpeg_fps = 5;
    s->serve_mjpeg_width = 640;
    s->serve_max_connections = 64;
    s->serve_max_body_bytes = 65536;
    s->serve_idle_timeout_s = 10;
    s->mqtt_enabled = 0;
    snprintf(s->mqtt_host, sizeof(s->mqtt_host), "127.0.0.1");
    s->mqtt_port = 1883;
    snprintf(s->mqtt_client_id, sizeof(s->mqtt_client_id), "vigil");
    snprintf(s->mqtt_topic_prefix, sizeof(s->mqtt_topic_prefix), "vigil");
    s->mqtt_qos = 1;
    s->mqtt_outbox_max = 10000;
    s->mqtt_keepalive_s = 30;
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

/* ---- YAML walking -------------------------------------------------------- */

typedef struct loader {
    vg_context *ctx;
    const char *path;
    yaml_document_t *doc;
    vg_settings *s;
} loader;

static int at(loader *l, const yaml_node_t *n, const char *fmt, const char *a,
              const char *b)
{
    char what[384];
    snprintf(what, sizeof(what), fmt, a, b);
    return vg_fail(l->ctx, VG_ECONFIG, "%s:%zu:%zu: %s", l->path,
                   n->start_mark.line + 1, n->start_mark.column + 1, what);
}

static int get_int(loader *l, const yaml_node_t *n, const char *key, long lo,
                   long hi, int *out)
{
    long x;
    int rc = vgi_yaml_get_long(l->ctx, l->path, n, key, lo, hi, &x);
    if (rc == 0)
        *out = (int)x;
    return rc;
}

static int get_float(loader *l, const yaml_node_t *n, const char *key,
                     double lo, double hi, float *out)
{
    double x;
    int rc = vgi_yaml_get_double(l->ctx, l->path, n, key, lo, hi, &x);
    if (rc == 0)
        *out = (float)x;
    return rc;
}

/* 1 when name is one of the n names of a table of rows of row_size. */
static int has_name(const char *rows, size_t row_size, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(rows + (size_t)i * row_size, name))
            return 1;
    return 0;
}

static int get_bool(loader *l, const yaml_node_t *n, const char *key, int *out)
{
    const char *v = vgi_yaml_scalar(n);
    if (v && (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))) {
        *out = 1;
        return 0;
    }
    if (v && (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))) {
        *out = 0;
        return 0;
    }
    return at(l, n, "'%s' expects true or false, got '%.64s'", key,
              v ? v : "(not a scalar)");
}

static int get_string(loader *l, const yaml_node_t *n, const char *key,
                      char *out, size_t size)
{
    const char *v = vgi_yaml_scalar(n);
    if (!v || !*v)
        return at(l, n, "'%s' expects a string%s", key, "");
    if (strlen(v) >= size) {
        char limit[48];
        snprintf(limit, sizeof(limit), " (more than %zu characters)", size - 1);
        return at(l, n, "'%s' is too long%s", key, limit);
    }
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

static int load_detector(loader *l, yaml_node_t *map)
{
    vg_settings *s = l->s;
    yaml_node_pair_t *p;
    int rc = 0;

    for (p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        if (!key) {
            rc = at(l, k, "expected a key%s%s", "", "");
        } else if (!strcmp(key, "model")) {
            char tmp[VG_PATH_MAX];
            rc = get_string(l, v, key, tmp, sizeof(tmp));
            if (rc == 0) {
                vgi_path_beside(l->path, tmp, s->model, sizeof(s->model));
                s->origin.model = VG_ORIGIN_CONFIG;
            }
        } else if (!strcmp(key, "head")) {
            const char *h = vgi_yaml_scalar(v);
            int kind = h ? vg_head_kind_parse(h) : -1;
            if (kind < 0)
                rc = at(l, v,
                        "'head' expects auto, nanodet, yolov5 or yolov8, got "
                        "'%.64s'%s",
                        h ? h : "(not a scalar)", "");
            s->head = kind;
            s->origin.head = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "score_threshold")) {
            rc = get_float(l, v, key, 0, 1, &s->score_threshold);
            s->origin.score_threshold = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "nms_iou")) {
            rc = get_float(l, v, key, 0, 1, &s->nms_iou);
            s->origin.nms_iou = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "max_detections")) {
            rc = get_int(l, v, key, 1, 512, &s->max_detections);
            s->origin.max_detections = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "classes")) {
            yaml_node_item_t *it;
            if (v->type != YAML_SEQUENCE_NODE) {
                rc = at(l, v, "'classes' expects a list of class names%s%s", "",
                        "");
                break;
            }
            s->n_classes = 0;
            for (it = v->data.sequence.items.start;
                 rc == 0 && it < v->data.sequence.items.top; it++) {
                yaml_node_t *c = yaml_document_get_node(l->doc, *it);
                const char *name = vgi_yaml_scalar(c);
                if (!name || vg_coco_class_id(name) < 0)
                    rc = at(l, c,
                            "unknown class '%.64s'%s (expected a COCO class "
                            "name such as person, car)",
                            name ? name : "(not a scalar)", "");
                else if (has_name((const char *)s->classes,
                                  sizeof(s->classes[0]), s->n_classes, name))
                    rc = at(l, c, "class '%.64s' is listed twice%s", name, "");
                else if (s->n_classes >= VG_MAX_CLASS_FILTER)
                    rc = at(l, c, "more than %s classes%s",
                            VG_STR(VG_MAX_CLASS_FILTER), "");
                else
                    snprintf(s->classes[s->n_classes++], sizeof(s->classes[0]),
                             "%s", name);
            }
            s->origin.classes = VG_ORIGIN_CONFIG;
        } else {
            rc = at(l, k,
                    "unknown key '%.64s' in 'detector' (expected model, head, "
                    "score_threshold, nms_iou, classes, max_detections)%s",
                    key, "");
        }
    }
    return rc;
}

static int load_runtime(loader *l, yaml_node_t *map)
{
    vg_settings *s = l->s;
    yaml_node_pair_t *p;
    int rc = 0;

    for (p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        if (!key) {
            rc = at(l, k, "expected a key%s%s", "", "");
        } else if (!strcmp(key, "threads")) {
            rc = get_int(l, v, key, 1, 256, &s->threads);
            s->origin.threads = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "queue_depth")) {
            rc = get_int(l, v, key, 1, 64, &s->queue_depth);
            s->origin.queue_depth = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "thread_spinning")) {
            rc = get_bool(l, v, key, &s->spin);
            s->origin.spin = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "memory_arena")) {
            rc = get_bool(l, v, key, &s->mem_arena);
            s->origin.mem_arena = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "graph_optimization")) {
            static const char *const levels[] = {"none", "basic", "extended",
                                                 "all"};
            const char *g = vgi_yaml_scalar(v);
            int found = -1;
            for (int i = 0; g && i < 4; i++)
                if (!strcmp(g, levels[i]))
                    found = i;
            if (found < 0)
                rc = at(l, v,
                        "'graph_optimization' expects none, basic, extended or "
                        "all, got '%.64s'%s",
                        g ? g : "(not a scalar)", "");
            s->graph_opt = found;
            s->origin.graph_opt = VG_ORIGIN_CONFIG;
        } else if (!strcmp(key, "providers")) {
            yaml_node_item_t *it;
            if (v->type != YAML_SEQUENCE_NODE) {
                rc = at(l, v,
                        "'providers' expects a list such as [cuda, cpu]%s%s",
                        "", "");
                break;
            }
            s->n_providers = 0;
            for (it = v->data.sequence.items.start;
                 rc == 0 && it < v->data.sequence.items.top; it++) {
                yaml_node_t *c = yaml_document_get_node(l->doc, *it);
                const char *name = vgi_yaml_scalar(c);
                if (!name || (strcmp(name, "cpu") && strcmp(name, "cuda")))
                    rc = at(l, c,
                            "unknown provider '%.64s'%s (expected cuda or cpu)",
                            name ? name : "(not a scalar)", "");
                else if (has_name((const char *)s->providers,
                                  sizeof(s->providers[0]), s->n_providers,
                                  name))
                    rc = at(l, c, "provider '%.64s' is listed twice%s", name,
                            "");
                else if (s->n_providers >= 4)
                    rc = at(l, c, "more than 4 providers%s%s", "", "");
                else
                    snprintf(s->providers[s->n_providers++],
                             sizeof(s->providers[0]), "%s", name);
            }
            s->origin.providers = VG_ORIGIN_CONFIG;
        } else {
            rc = at(l, k,
                    "unknown key '%.64s' in 'runtime' (expected threads, "
                    "graph_optimization, memory_arena, thread_spinning, "
                    "providers, queue_depth)%s",
                    key, "");
        }
    }
    return rc;
}

static int load_input(loader *l, yaml_node_t *map)
{
    yaml_node_pair_t *p;
    int rc = 0;

    for (p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        if (key && !strcmp(key, "timeout_ms")) {
            rc = get_int(l, v, key, 1, 3600000, &l->s->timeout_ms);
            l->s->origin.timeout_ms = VG_ORIGIN_CONFIG;
        } else {
            rc = at(l, k,
                    "unknown key '%.64s' in 'input' (expected timeout_ms)%s",
                    key ? key : "?", "");
        }
    }
    return rc;
}

static int get_double(loader *l, const yaml_node_t *n, const char *key,
                      double lo, double hi, double *out)
{
    return vgi_yaml_get_double(l->ctx, l->path, n, key, lo, hi, out);
}

/* The settings of the CCTV job's sections (tracker, events, snapshots,
 * video, telemetry): one row per key. */
enum job_type {
    JOB_INT,
    JOB_FLOAT,
    JOB_DOUBLE,
    JOB_BOOL,
    JOB_STRING,
    JOB_MASKS /* motion.masks: a list of polygons */
};

typedef struct job_key {
    const char *section, *key;
    int type;
    double lo, hi;
    size_t offset, size; /* field in vg_settings; size for strings */
} job_key;

#define JOB_FIELD(f) offsetof(vg_settings, f), sizeof(((vg_settings *)0)->f)

static const job_key job_keys[] = {
    {"tracker", "lost_seconds", JOB_DOUBLE, 0, 3600, JOB_FIELD(lost_seconds)},
    {"tracker", "high_threshold", JOB_FLOAT, 0, 1, JOB_FIELD(track_high)},
    {"tracker", "low_threshold", JOB_FLOAT, 0, 1, JOB_FIELD(track_low)},
    {"tracker", "new_track_threshold", JOB_FLOAT, 0, 1, JOB_FIELD(track_new)},
    {"events", "batch", JOB_INT, 1, 1024, JOB_FIELD(events_batch)},
    {"events", "max_delay_ms", JOB_INT, 0, 3600000, JOB_FIELD(events_delay_ms)},
    {"snapshots", "enabled", JOB_BOOL, 0, 1, JOB_FIELD(snap_enabled)},
    {"snapshots", "max_age_days", JOB_DOUBLE, 0, 36500,
     JOB_FIELD(snap_max_age_days)},
    {"snapshots", "max_total_bytes", JOB_DOUBLE, 0, 1e15,
     JOB_FIELD(snap_max_bytes)},
    {"video", "enabled", JOB_BOOL, 0, 1, JOB_FIELD(video_enabled)},
    {"video", "crf", JOB_INT, 0, 51, JOB_FIELD(video_crf)},
    {"video", "preset", JOB_STRING, 0, 0, JOB_FIELD(video_preset)},
    {"telemetry", "interval_s", JOB_DOUBLE, 0, 86400,
     JOB_FIELD(telemetry_interval_s)},
    {"telemetry", "leak_slope_bytes_per_s", JOB_DOUBLE, 0, 1e12,
     JOB_FIELD(leak_slope)},
    {"telemetry", "window_s", JOB_DOUBLE, 1, 86400, JOB_FIELD(leak_window_s)},
    {"detect", "fps", JOB_DOUBLE, 0, 1000, JOB_FIELD(detect_fps)},
    {"motion", "enabled", JOB_BOOL, 0, 1, JOB_FIELD(motion_enabled)},
    {"motion", "pixel_threshold", JOB_INT, 1, 255,
     JOB_FIELD(motion_pixel_threshold)},
    {"motion", "min_area", JOB_DOUBLE, 0, 1, JOB_FIELD(motion_min_area)},
    {"motion", "max_idle_s", JOB_DOUBLE, 0, 86400,
     JOB_FIELD(motion_max_idle_s)},
    {"motion", "frame_height", JOB_INT, 16, 1080,
     JOB_FIELD(motion_frame_height)},
    {"motion", "masks", JOB_MASKS, 0, 0, 0, 0},
};

static int is_job_section(const char *name)
{
    for (size_t i = 0; i < sizeof(job_keys) / sizeof(job_keys[0]); i++)
        if (!strcmp(job_keys[i].section, name))
            return 1;
    return 0;
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
        return at(l, map,
                  "a motion mask is expected as {polygon: [[x, y], ...], "
                  "units: pixels|normalized}, got '%.64s'%s",
                  vgi_yaml_scalar(map) ? vgi_yaml_scalar(map) : "a list", "");
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
                return at(l, v,
                          "'units' expects pixels or normalized, got "
                          "'%.64s'%s",
                          u ? u : "(not a scalar)", "");
        } else {
            return at(l, k,
                      "unknown key '%.64s' in a motion mask (expected "
                      "polygon, units)%s",
                      key ? key : "?", "");
        }
    }
    if (!poly)
        return at(l, map, "a motion mask has no 'polygon'%s%s", "", "");
    if (poly->type != YAML_SEQUENCE_NODE)
        return at(l, poly,
                  "'polygon' expects a list of points [[x, y], ...]%s%s", "",
                  "");
    s->motion_masks[i].n_points = 0;
    s->motion_masks[i].pixels = pixels;
    for (yaml_node_item_t *it = poly->data.sequence.items.start;
         it < poly->data.sequence.items.top; it++) {
        yaml_node_t *c = yaml_document_get_node(l->doc, *it);
        int n = s->motion_masks[i].n_points;
        if (n >= VG_SETTINGS_MAX_MASK_POINTS)
            return at(l, c, "a motion mask has more than %s points%s",
                      VG_STR(VG_SETTINGS_MAX_MASK_POINTS), "");
        if (c->type != YAML_SEQUENCE_NODE ||
            c->data.sequence.items.top - c->data.sequence.items.start != 2)
            return at(l, c, "a point is expected as [x, y]%s%s", "", "");
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
        return at(l, poly, "a motion mask polygon needs 3 to %s points%s",
                  VG_STR(VG_SETTINGS_MAX_MASK_POINTS), "");
    return 0;
}

static int load_masks(loader *l, yaml_node_t *v)
{
    int n = 0, rc;
    if (v->type != YAML_SEQUENCE_NODE)
        return at(l, v,
                  "'masks' expects a list of {polygon: [[x, y], ...], units: "
                  "pixels|normalized}%s%s",
                  "", "");
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        yaml_node_t *c = yaml_document_get_node(l->doc, *it);
        if (n >= VG_SETTINGS_MAX_MASKS)
            return at(l, c, "more than %s motion masks%s",
                      VG_STR(VG_SETTINGS_MAX_MASKS), "");
        if ((rc = load_mask(l, c, n)) < 0)
            return rc;
        n++;
    }
    l->s->motion_n_masks = n;
    return 0;
}

static int load_job_key(loader *l, const job_key *jk, yaml_node_t *v)
{
    char *field = (char *)l->s + jk->offset;

    switch (jk->type) {
    case JOB_INT:
        return get_int(l, v, jk->key, (long)jk->lo, (long)jk->hi, (int *)field);
    case JOB_FLOAT:
        return get_float(l, v, jk->key, jk->lo, jk->hi, (float *)field);
    case JOB_DOUBLE:
        return get_double(l, v, jk->key, jk->lo, jk->hi, (double *)field);
    case JOB_BOOL:
        return get_bool(l, v, jk->key, (int *)field);
    case JOB_MASKS:
        return load_masks(l, v);
    default:
        return get_string(l, v, jk->key, field, jk->size);
    }
}

/* A section of the CCTV job: each key from job_keys, or an error listing
 * the section's keys. */
static int load_job_section(loader *l, const char *section, yaml_node_t *map)
{
    yaml_node_pair_t *p;
    int rc = 0;

    for (p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        char keys[256] = "";
        const job_key *found = NULL;

        if (!key)
            return at(l, k, "expected a key%s%s", "", "");
        for (size_t i = 0; i < sizeof(job_keys) / sizeof(job_keys[0]); i++) {
            const job_key *jk = &job_keys[i];
            size_t len = strlen(keys);
            if (strcmp(jk->section, section) != 0)
                continue;
            if (!strcmp(jk->key, key))
                found = jk;
            snprintf(keys + len, sizeof(keys) - len, "%s%s", len ? ", " : "",
                     jk->key);
        }
        if (found) {
            rc = load_job_key(l, found, v);
        } else {
            char what[288];
            snprintf(what, sizeof(what), "in '%.24s' (expected %.240s)",
                     section, keys);
            rc = at(l, k, "unknown key '%.64s' %s", key, what);
        }
    }
    return rc;
}

/* Sections of the same file that other modules read with their own loaders
 * (vg_rules_load and the `vigil run` job). */
static int is_other_module_section(const char *key)
{
    static const char *const others[] = {"zones",  "rules",  "rules_options",
                                         "job",    "inputs", "memory",
                                         "models", "staged", "cameras"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (!strcmp(key, others[i]))
            return 1;
    return 0;
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
        rc = at(&l, root,
                "expected a mapping of sections (detector, runtime, input)%s%s",
                "", "");
        goto out_doc;
    }
    for (p = root->data.mapping.pairs.start;
         rc == 0 && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        if (!key) {
            rc = at(&l, k, "expected a section name%s%s", "", "");
        } else if (is_other_module_section(key)) {
            continue; /* read by the rules, tracker and sink loaders */
        } else if (v->type != YAML_MAPPING_NODE) {
            rc = at(&l, v, "section '%.64s' expects a mapping%s", key, "");
        } else if (!strcmp(key, "detector")) {
            rc = load_detector(&l, v);
        } else if (!strcmp(key, "runtime")) {
            rc = load_runtime(&l, v);
        } else if (!strcmp(key, "input")) {
            rc = load_input(&l, v);
        } else if (is_job_section(key)) {
            rc = load_job_section(&l, key, v);
        } else {
            rc = at(&l, k,
                    "unknown section '%.64s' (expected detector, runtime, "
                    "input, tracker, zones, rules, events, snapshots, video, "
                    "telemetry, detect, motion)%s",
                    key, "");
        }
    }
out_doc:
    yaml_document_delete(&doc);
    return rc;
}
