/* The configuration schema (include/vigil/schema.h): the vg_settings table
 * and the functions every table is read, checked, printed and documented
 * with. */
#include "vigil/schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/coco.h"
#include "vigil/parse.h"

static const char *const head_names[] = {"auto", "nanodet", "yolov5", "yolov8",
                                         NULL};
static const char *const graph_names[] = {"none", "basic", "extended", "all",
                                          NULL};
static const char *const provider_names[] = {"cuda", "cpu", NULL};

static int head_parse(const char *s)
{
    return vg_head_kind_parse(s);
}

static int coco_check(const char *s)
{
    return vg_coco_class_id(s) >= 0;
}

/* One row per key, in enum vg_setting_key order (checked below). */
static const vg_option settings_schema[VG_SETTINGS_N_KEYS] = {
    [VG_KEY_MODEL] = VG_OPT_ROW(
        vg_settings, "detector", "model", VG_OPT_STRING, VG_STORE_CHARS, model,
        .def_str = "nanodet.onnx",
        .def_doc = "$VIGIL_CACHE/models/nanodet.onnx",
        .flags = VG_OPTF_PATH | VG_OPTF_MODEL,
        .help = "detection model (ONNX); relative to the config file"),
    [VG_KEY_HEAD] = VG_OPT_ROW(vg_settings, "detector", "head", VG_OPT_ENUM,
                               VG_STORE_INT, head, .def_num = VG_HEAD_AUTO,
                               .names = head_names, .parse_enum = head_parse,
                               .help = "output layout of the model (yolo11 = "
                                       "yolov8); auto: from the output shapes"),
    [VG_KEY_SCORE_THRESHOLD] =
        VG_OPT_ROW(vg_settings, "detector", "score_threshold", VG_OPT_DOUBLE,
                   VG_STORE_FLOAT, score_threshold, .max = 1, .def_num = 0.35,
                   .help = "minimum detection score"),
    [VG_KEY_NMS_IOU] = VG_OPT_ROW(
        vg_settings, "detector", "nms_iou", VG_OPT_DOUBLE, VG_STORE_FLOAT,
        nms_iou, .max = 1, .def_num = 0.5,
        .help =
            "overlap above which non-maximum suppression drops the weaker box"),
    [VG_KEY_CLASSES] = VG_OPT_LIST_ROW(
        vg_settings, "detector", "classes", classes, n_classes,
        .def_doc = "every class", .item_check = coco_check,
        .expect = "a list of class names", .item = "class",
        .item_hint = "expected a COCO class name such as person, car",
        .help = "COCO classes kept (none: every class)"),
    [VG_KEY_MAX_DETECTIONS] =
        VG_OPT_ROW(vg_settings, "detector", "max_detections", VG_OPT_INT,
                   VG_STORE_INT, max_detections, .min = 1, .max = 512,
                   .def_num = 300, .help = "detections kept per frame"),
    [VG_KEY_THREADS] = VG_OPT_ROW(
        vg_settings, "runtime", "threads", VG_OPT_INT, VG_STORE_INT, threads,
        .min = 1, .max = 256, .def_num = 1, .def_doc = "usable cores (probed)",
        .help = "inference threads"),
    [VG_KEY_GRAPH_OPT] =
        VG_OPT_ROW(vg_settings, "runtime", "graph_optimization", VG_OPT_ENUM,
                   VG_STORE_INT, graph_opt, .def_num = 3, .names = graph_names,
                   .help = "ONNX Runtime graph optimisation level"),
    [VG_KEY_MEM_ARENA] =
        VG_OPT_ROW(vg_settings, "runtime", "memory_arena", VG_OPT_BOOL,
                   VG_STORE_INT, mem_arena, .max = 1, .def_num = 1,
                   .help = "ONNX Runtime CPU memory arena"),
    [VG_KEY_SPIN] = VG_OPT_ROW(
        vg_settings, "runtime", "thread_spinning", VG_OPT_BOOL, VG_STORE_INT,
        spin, .max = 1, .def_num = 1,
        .help =
            "inference threads spin while waiting (off for jobs unless set)"),
    [VG_KEY_PROVIDERS] = VG_OPT_LIST_ROW(
        vg_settings, "runtime", "providers", providers, n_providers,
        .def_str = "cpu", .def_doc = "cpu (cuda, cpu when probed)",
        .names = provider_names, .expect = "a list such as [cuda, cpu]",
        .item = "provider", .item_hint = "expected cuda or cpu",
        .help = "execution providers, in order of preference"),
    [VG_KEY_QUEUE_DEPTH] =
        VG_OPT_ROW(vg_settings, "runtime", "queue_depth", VG_OPT_INT,
                   VG_STORE_INT, queue_depth, .min = 1, .max = 64, .def_num = 4,
                   .help = "frames queued between pipeline stages"),
    [VG_KEY_TIMEOUT_MS] =
        VG_OPT_ROW(vg_settings, "input", "timeout_ms", VG_OPT_INT, VG_STORE_INT,
                   timeout_ms, .min = 1, .max = 3600000, .def_num = 5000,
                   .help = "a read from an input that takes longer fails, ms"),
    [VG_KEY_LOST_SECONDS] =
        VG_OPT_ROW(vg_settings, "tracker", "lost_seconds", VG_OPT_DOUBLE,
                   VG_STORE_DOUBLE, lost_seconds, .max = 3600, .def_num = 3,
                   .help = "a track unseen this long ends, seconds"),
    [VG_KEY_TRACK_HIGH] =
        VG_OPT_ROW(vg_settings, "tracker", "high_threshold", VG_OPT_DOUBLE,
                   VG_STORE_FLOAT, track_high, .max = 1, .def_num = 0.5,
                   .help = "detections above it are matched first"),
    [VG_KEY_TRACK_LOW] =
        VG_OPT_ROW(vg_settings, "tracker", "low_threshold", VG_OPT_DOUBLE,
                   VG_STORE_FLOAT, track_low, .max = 1, .def_num = 0.1,
                   .help = "detections below it are ignored"),
    [VG_KEY_TRACK_NEW] =
        VG_OPT_ROW(vg_settings, "tracker", "new_track_threshold", VG_OPT_DOUBLE,
                   VG_STORE_FLOAT, track_new, .max = 1, .def_num = 0.6,
                   .help = "an unmatched detection above it starts a track"),
    [VG_KEY_TRACK_REID] = VG_OPT_ROW(
        vg_settings, "tracker", "reid", VG_OPT_BOOL, VG_STORE_INT, reid_enabled,
        .max = 1,
        .help = "appearance embeddings where identity is at risk (crossings, "
                "returns)"),
    [VG_KEY_TRACK_REID_MODEL] = VG_OPT_ROW(
        vg_settings, "tracker", "reid_model", VG_OPT_STRING, VG_STORE_CHARS,
        reid_model, .def_str = "", .def_doc = "colour histogram",
        .flags = VG_OPTF_PATH | VG_OPTF_EMPTY_OK,
        .help = "ONNX person ReID model, input [1,3,H,W]; relative to the "
                "config file"),
    [VG_KEY_TRACK_REID_WEIGHT] = VG_OPT_ROW(
        vg_settings, "tracker", "reid_weight", VG_OPT_DOUBLE, VG_STORE_FLOAT,
        reid_weight, .max = 1, .def_num = 0.5,
        .help = "weight of the appearance distance in the matching cost"),
    [VG_KEY_TRACK_REID_MAX_COS] = VG_OPT_ROW(
        vg_settings, "tracker", "reid_max_cos_distance", VG_OPT_DOUBLE,
        VG_STORE_FLOAT, reid_max_cos_distance, .max = 2, .def_num = 0.5,
        .help = "embeddings farther apart (cosine distance) may not match"),
    [VG_KEY_EVENTS_BATCH] =
        VG_OPT_ROW(vg_settings, "events", "batch", VG_OPT_INT, VG_STORE_INT,
                   events_batch, .min = 1, .max = 1024, .def_num = 16,
                   .help = "events per database commit"),
    [VG_KEY_EVENTS_DELAY_MS] = VG_OPT_ROW(
        vg_settings, "events", "max_delay_ms", VG_OPT_INT, VG_STORE_INT,
        events_delay_ms, .max = 3600000, .def_num = 500,
        .help = "an event is committed within this time, ms"),
    [VG_KEY_SNAP_ENABLED] =
        VG_OPT_ROW(vg_settings, "snapshots", "enabled", VG_OPT_BOOL,
                   VG_STORE_INT, snap_enabled, .max = 1, .def_num = 1,
                   .help = "a JPEG snapshot per event"),
    [VG_KEY_SNAP_MAX_AGE_DAYS] = VG_OPT_ROW(
        vg_settings, "snapshots", "max_age_days", VG_OPT_DOUBLE,
        VG_STORE_DOUBLE, snap_max_age_days, .max = 36500, .def_num = 30,
        .help = "snapshots older than this are deleted"),
    [VG_KEY_SNAP_MAX_BYTES] = VG_OPT_ROW(
        vg_settings, "snapshots", "max_total_bytes", VG_OPT_DOUBLE,
        VG_STORE_DOUBLE, snap_max_bytes, .max = 1e15, .def_num = 1073741824.0,
        .help = "the oldest snapshots go beyond this total"),
    [VG_KEY_VIDEO_ENABLED] =
        VG_OPT_ROW(vg_settings, "video", "enabled", VG_OPT_BOOL, VG_STORE_INT,
                   video_enabled, .max = 1, .def_num = 1,
                   .help = "write the annotated video"),
    [VG_KEY_VIDEO_CRF] =
        VG_OPT_ROW(vg_settings, "video", "crf", VG_OPT_INT, VG_STORE_INT,
                   video_crf, .max = 51, .def_num = 23,
                   .help = "x264 constant rate factor (lower: better, larger)"),
    [VG_KEY_VIDEO_PRESET] = VG_OPT_ROW(
        vg_settings, "video", "preset", VG_OPT_STRING, VG_STORE_CHARS,
        video_preset, .def_str = "ultrafast", .help = "x264 preset"),
    [VG_KEY_TELEMETRY_INTERVAL_S] = VG_OPT_ROW(
        vg_settings, "telemetry", "interval_s", VG_OPT_DOUBLE, VG_STORE_DOUBLE,
        telemetry_interval_s, .max = 86400, .def_num = 10,
        .help = "memory report period, seconds (0: never)"),
    [VG_KEY_LEAK_SLOPE] = VG_OPT_ROW(
        vg_settings, "telemetry", "leak_slope_bytes_per_s", VG_OPT_DOUBLE,
        VG_STORE_DOUBLE, leak_slope, .max = 1e12, .def_num = 1048576.0,
        .help = "leak guard: memory growth that warns, bytes/s"),
    [VG_KEY_LEAK_WINDOW_S] =
        VG_OPT_ROW(vg_settings, "telemetry", "window_s", VG_OPT_DOUBLE,
                   VG_STORE_DOUBLE, leak_window_s, .min = 1, .max = 86400,
                   .def_num = 60, .help = "leak guard window, seconds"),
    [VG_KEY_DETECT_FPS] =
        VG_OPT_ROW(vg_settings, "detect", "fps", VG_OPT_DOUBLE, VG_STORE_DOUBLE,
                   detect_fps, .max = 1000, .def_num = -1,
                   .def_doc = "auto (files: every frame; live: 5)",
                   .help = "detections per second (0: every frame)"),
    [VG_KEY_MOTION_ENABLED] =
        VG_OPT_ROW(vg_settings, "motion", "enabled", VG_OPT_BOOL, VG_STORE_INT,
                   motion_enabled, .max = 1,
                   .help = "detect only when the picture changes"),
    [VG_KEY_MOTION_PIXEL_THRESHOLD] = VG_OPT_ROW(
        vg_settings, "motion", "pixel_threshold", VG_OPT_INT, VG_STORE_INT,
        motion_pixel_threshold, .min = 1, .max = 255, .def_num = 25,
        .help = "grey-level change that marks a pixel changed"),
    [VG_KEY_MOTION_MIN_AREA] =
        VG_OPT_ROW(vg_settings, "motion", "min_area", VG_OPT_DOUBLE,
                   VG_STORE_DOUBLE, motion_min_area, .max = 1, .def_num = 0.002,
                   .help = "changed fraction of the picture that is motion"),
    [VG_KEY_MOTION_MAX_IDLE_S] =
        VG_OPT_ROW(vg_settings, "motion", "max_idle_s", VG_OPT_DOUBLE,
                   VG_STORE_DOUBLE, motion_max_idle_s, .max = 86400,
                   .def_num = 5, .help = "detect at least this often, seconds"),
    [VG_KEY_MOTION_FRAME_HEIGHT] =
        VG_OPT_ROW(vg_settings, "motion", "frame_height", VG_OPT_INT,
                   VG_STORE_INT, motion_frame_height, .min = 16, .max = 1080,
                   .def_num = 120, .help = "rows of the grey picture compared"),
    [VG_KEY_MOTION_MASKS] =
        VG_OPT_DOC_ROW("motion", "masks", VG_OPT_LIST,
                       .max_items = VG_SETTINGS_MAX_MASKS, .def_doc = "none",
                       .help = "ignored areas: [{polygon: [[x, y], ...], "
                               "units: pixels|normalized}]"),
    [VG_KEY_SERVE_LISTEN] = VG_OPT_ROW(
        vg_settings, "serve", "listen", VG_OPT_STRING, VG_STORE_CHARS,
        serve_listen, .def_str = "127.0.0.1:8080",
        .help = "HTTP address:port (off loopback a token is required)"),
    [VG_KEY_SERVE_TOKEN] =
        VG_OPT_ROW(vg_settings, "serve", "token", VG_OPT_STRING, VG_STORE_CHARS,
                   serve_token, .def_str = "", .def_doc = "none",
                   .flags = VG_OPTF_SECRET | VG_OPTF_EMPTY_OK,
                   .help = "bearer token every /api route requires"),
    [VG_KEY_SERVE_TOKEN_ENV] = VG_OPT_ROW(
        vg_settings, "serve", "token_env", VG_OPT_STRING, VG_STORE_CHARS,
        serve_token_env, .def_str = "VIGIL_TOKEN", .flags = VG_OPTF_EMPTY_OK,
        .help = "environment variable that holds the token"),
    [VG_KEY_SERVE_MJPEG_FPS] =
        VG_OPT_ROW(vg_settings, "serve", "mjpeg_fps", VG_OPT_DOUBLE,
                   VG_STORE_DOUBLE, serve_mjpeg_fps, .min = 0.1, .max = 60,
                   .def_num = 5, .help = "live view frames per second"),
    [VG_KEY_SERVE_MJPEG_WIDTH] =
        VG_OPT_ROW(vg_settings, "serve", "mjpeg_width", VG_OPT_INT,
                   VG_STORE_INT, serve_mjpeg_width, .min = 64, .max = 7680,
                   .def_num = 640, .help = "live view width, pixels"),
    [VG_KEY_SERVE_MAX_CONNECTIONS] =
        VG_OPT_ROW(vg_settings, "serve", "max_connections", VG_OPT_INT,
                   VG_STORE_INT, serve_max_connections, .min = 1, .max = 100000,
                   .def_num = 64, .help = "connections at once"),
    [VG_KEY_SERVE_MAX_BODY_BYTES] = VG_OPT_ROW(
        vg_settings, "serve", "max_body_bytes", VG_OPT_INT, VG_STORE_INT,
        serve_max_body_bytes, .min = 1024, .max = 16777216, .def_num = 65536,
        .help = "request body cap (413 beyond)"),
    [VG_KEY_SERVE_IDLE_TIMEOUT_S] = VG_OPT_ROW(
        vg_settings, "serve", "idle_timeout_s", VG_OPT_DOUBLE, VG_STORE_DOUBLE,
        serve_idle_timeout_s, .min = 0.1, .max = 3600, .def_num = 10,
        .help = "an idle or slow client is dropped after this, seconds"),
    [VG_KEY_MQTT_ENABLED] =
        VG_OPT_ROW(vg_settings, "mqtt", "enabled", VG_OPT_BOOL, VG_STORE_INT,
                   mqtt_enabled, .max = 1, .help = "publish events over MQTT"),
    [VG_KEY_MQTT_HOST] =
        VG_OPT_ROW(vg_settings, "mqtt", "host", VG_OPT_STRING, VG_STORE_CHARS,
                   mqtt_host, .def_str = "127.0.0.1", .help = "broker host"),
    [VG_KEY_MQTT_PORT] = VG_OPT_ROW(
        vg_settings, "mqtt", "port", VG_OPT_INT, VG_STORE_INT, mqtt_port,
        .min = 1, .max = 65535, .def_num = 1883, .help = "broker port"),
    [VG_KEY_MQTT_CLIENT_ID] = VG_OPT_ROW(
        vg_settings, "mqtt", "client_id", VG_OPT_STRING, VG_STORE_CHARS,
        mqtt_client_id, .def_str = "vigil", .help = "MQTT client id"),
    [VG_KEY_MQTT_TOPIC_PREFIX] = VG_OPT_ROW(
        vg_settings, "mqtt", "topic_prefix", VG_OPT_STRING, VG_STORE_CHARS,
        mqtt_topic_prefix, .def_str = "vigil",
        .help = "topics: PREFIX/events, PREFIX/CAMERA/state, PREFIX/available"),
    [VG_KEY_MQTT_QOS] = VG_OPT_ROW(
        vg_settings, "mqtt", "qos", VG_OPT_INT, VG_STORE_INT, mqtt_qos,
        .max = 2, .def_num = 1, .help = "MQTT quality of service of events"),
    [VG_KEY_MQTT_OUTBOX_MAX] = VG_OPT_ROW(
        vg_settings, "mqtt", "outbox_max", VG_OPT_INT, VG_STORE_INT,
        mqtt_outbox_max, .min = 1, .max = 100000000, .def_num = 10000,
        .help = "unpublished events kept (oldest dropped beyond)"),
    [VG_KEY_MQTT_KEEPALIVE_S] =
        VG_OPT_ROW(vg_settings, "mqtt", "keepalive_s", VG_OPT_DOUBLE,
                   VG_STORE_DOUBLE, mqtt_keepalive_s, .min = 5, .max = 3600,
                   .def_num = 30, .help = "MQTT keep-alive, seconds"),
};

static const char *const settings_sections[] = {
    "detector",  "runtime", "input",  "tracker", "events", "snapshots", "video",
    "telemetry", "detect",  "motion", "serve",   "mqtt",   NULL};

const vg_option *vg_settings_schema(int *n)
{
    if (n)
        *n = VG_SETTINGS_N_KEYS;
    return settings_schema;
}

const char *const *vg_settings_sections(void)
{
    return settings_sections;
}

const vg_option *vg_schema_find(const vg_option *opts, int n,
                                const char *section, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(opts[i].section, section) && !strcmp(opts[i].key, key))
            return &opts[i];
    return NULL;
}

static int why_fail(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int why_fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cap > 0)
        vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return VG_ECONFIG;
}

/* "a, b, c or d" of a NULL-ended name list. */
static void names_or(const char *const *names, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; names[i]; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
        int w = snprintf(buf + len, cap - len, "%s%s", sep, names[i]);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}

int vg_option_parse(const vg_option *o, const char *v, void *base, char *why,
                    size_t cap)
{
    char *field = (char *)base + o->offset;
    const char *shown = v ? v : "(not a scalar)";

    switch (o->type) {
    case VG_OPT_BOOL:
        if (v && (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")))
            *(int *)field = 1;
        else if (v &&
                 (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")))
            *(int *)field = 0;
        else
            return why_fail(why, cap, "'%s' expects true or false, got '%.64s'",
                            o->key, shown);
        return 0;
    case VG_OPT_INT: {
        int64_t x;
        if (!v || vg_parse_int64(v, (int64_t)o->min, (int64_t)o->max, &x) < 0) {
            if (o->expect)
                return why_fail(why, cap, "'%s' expects %s, got '%.64s'",
                                o->key, o->expect, shown);
            return why_fail(why, cap,
                            "'%s' expects an integer in [%ld, %ld], got "
                            "'%.64s'",
                            o->key, (long)o->min, (long)o->max, shown);
        }
        if (o->store == VG_STORE_INT64)
            *(int64_t *)field = x;
        else
            *(int *)field = (int)x;
        return 0;
    }
    case VG_OPT_DOUBLE: {
        double x;
        if (!v || vg_parse_double(v, o->min, o->max, &x) < 0) {
            if (o->expect)
                return why_fail(why, cap, "'%s' expects %s, got '%.64s'",
                                o->key, o->expect, shown);
            return why_fail(why, cap,
                            "'%s' expects a number in [%g, %g], got '%.64s'",
                            o->key, o->min, o->max, shown);
        }
        if (o->store == VG_STORE_FLOAT)
            *(float *)field = (float)x;
        else
            *(double *)field = x;
        return 0;
    }
    case VG_OPT_STRING: {
        size_t len = v ? strlen(v) : 0;
        if (!v || (len == 0 && !(o->flags & VG_OPTF_EMPTY_OK)))
            return why_fail(why, cap, "'%s' expects a string", o->key);
        if (len >= o->size)
            return why_fail(why, cap,
                            "'%s' is too long (more than %zu characters)",
                            o->key, o->size - 1);
        memcpy(field, v, len + 1);
        return 0;
    }
    case VG_OPT_ENUM: {
        int k = -1;
        if (v && o->parse_enum)
            k = o->parse_enum(v);
        for (int i = 0; v && k < 0 && o->names[i]; i++)
            if (!strcmp(v, o->names[i]))
                k = i;
        if (k < 0) {
            char list[256];
            names_or(o->names, list, sizeof(list));
            return why_fail(why, cap, "'%s' expects %s, got '%.64s'", o->key,
                            list, shown);
        }
        *(int *)field = k;
        return 0;
    }
    default:
        why_fail(why, cap, "'%s' is not a scalar key", o->key);
        return VG_EINVAL;
    }
}

int vg_option_add_item(const vg_option *o, const char *v, void *base,
                       int *count, char *why, size_t cap)
{
    char *items = (char *)base + o->offset;
    int *n = (int *)((char *)base + o->count_offset);
    int ok = 0;

    if (o->store != VG_STORE_NAMES)
        return VG_EINVAL;
    if (*count == 0)
        *n = 0;
    if (v && o->names) {
        for (int i = 0; o->names[i]; i++)
            ok |= !strcmp(v, o->names[i]);
    } else if (v && o->item_check) {
        ok = o->item_check(v);
    }
    if (!ok || strlen(v) >= o->size)
        return why_fail(why, cap, "unknown %s '%.64s' (%s)", o->item,
                        v ? v : "(not a scalar)", o->item_hint);
    for (int i = 0; i < *n; i++)
        if (!strcmp(items + (size_t)i * o->size, v))
            return why_fail(why, cap, "%s '%.64s' is listed twice", o->item, v);
    if (*n >= o->max_items) {
        size_t len = strlen(o->item);
        return why_fail(why, cap, "more than %d %s%s", o->max_items, o->item,
                        len && o->item[len - 1] == 's' ? "es" : "s");
    }
    memcpy(items + (size_t)*n * o->size, v, strlen(v) + 1);
    (*n)++;
    (*count)++;
    return 0;
}

void vg_options_defaults(const vg_option *opts, int n, void *base)
{
    for (int i = 0; i < n; i++) {
        const vg_option *o = &opts[i];
        char *field = (char *)base + o->offset;
        switch (o->store) {
        case VG_STORE_INT:
            *(int *)field = (int)o->def_num;
            break;
        case VG_STORE_INT64:
            *(int64_t *)field = (int64_t)o->def_num;
            break;
        case VG_STORE_FLOAT:
            *(float *)field = (float)o->def_num;
            break;
        case VG_STORE_DOUBLE:
            *(double *)field = o->def_num;
            break;
        case VG_STORE_CHARS:
            if (o->flags & VG_OPTF_MODEL) {
                char dir[VG_PATH_MAX];
                vg_default_model_dir(dir, sizeof(dir));
                snprintf(
                    field, o->size, "%.*s/%s",
                    (int)(o->size - 2 - strlen(o->def_str ? o->def_str : "")),
                    dir, o->def_str ? o->def_str : "");
            } else {
                snprintf(field, o->size, "%s", o->def_str ? o->def_str : "");
            }
            break;
        case VG_STORE_NAMES: {
            int *count = (int *)((char *)base + o->count_offset);
            const char *p = o->def_str;
            *count = 0;
            while (p && *p && *count < o->max_items) {
                size_t len = strcspn(p, ",");
                snprintf(field + (size_t)*count * o->size, o->size, "%.*s",
                         (int)len, p);
                (*count)++;
                p += len + (p[len] == ',');
            }
            break;
        }
        default:
            break;
        }
    }
}

/* Appends with snprintf semantics; *len counts what would have been
 * written. */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int w;
    va_start(ap, fmt);
    w = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0,
                  fmt, ap);
    va_end(ap);
    if (w > 0)
        *len += (size_t)w;
}

static int finish(char *buf, size_t cap, size_t len)
{
    if (cap > 0 && len >= cap)
        buf[cap - 1] = '\0';
    return len >= cap ? VG_ERANGE : (int)len;
}

int vg_option_format(const vg_option *o, const void *base, char *buf,
                     size_t cap)
{
    const char *field = (const char *)base + o->offset;
    size_t len = 0;

    if (cap > 0)
        buf[0] = '\0';
    switch (o->store) {
    case VG_STORE_INT: {
        int v = *(const int *)field;
        if (o->type == VG_OPT_BOOL)
            put(buf, cap, &len, "%s", v ? "true" : "false");
        else if (o->type == VG_OPT_ENUM && o->names && v >= 0) {
            int k = 0;
            while (o->names[k] && k < v)
                k++;
            put(buf, cap, &len, "%s", o->names[k] ? o->names[k] : "?");
        } else
            put(buf, cap, &len, "%d", v);
        break;
    }
    case VG_STORE_INT64:
        put(buf, cap, &len, "%lld", (long long)*(const int64_t *)field);
        break;
    case VG_STORE_FLOAT:
        put(buf, cap, &len, "%g", (double)*(const float *)field);
        break;
    case VG_STORE_DOUBLE:
        put(buf, cap, &len, "%.10g", *(const double *)field);
        break;
    case VG_STORE_CHARS:
        if ((o->flags & VG_OPTF_SECRET) && field[0])
            put(buf, cap, &len, "(set)");
        else
            put(buf, cap, &len, "%s", field);
        break;
    case VG_STORE_NAMES: {
        int n = *(const int *)((const char *)base + o->count_offset);
        put(buf, cap, &len, "[");
        for (int i = 0; i < n; i++)
            put(buf, cap, &len, "%s%s", i ? ", " : "",
                field + (size_t)i * o->size);
        put(buf, cap, &len, "]");
        break;
    }
    default:
        put(buf, cap, &len, "-");
        break;
    }
    return finish(buf, cap, len);
}

int vg_option_default_text(const vg_option *o, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap > 0)
        buf[0] = '\0';
    if (o->def_doc)
        put(buf, cap, &len, "%s", o->def_doc);
    else if (o->type == VG_OPT_BOOL)
        put(buf, cap, &len, "%s", o->def_num != 0 ? "true" : "false");
    else if (o->type == VG_OPT_ENUM && o->names)
        put(buf, cap, &len, "%s", o->names[(int)o->def_num]);
    else if (o->type == VG_OPT_INT || o->type == VG_OPT_DOUBLE)
        put(buf, cap, &len, "%.10g", o->def_num);
    else if (o->def_str && o->def_str[0])
        put(buf, cap, &len, "%s", o->def_str);
    else
        put(buf, cap, &len, "none");
    return finish(buf, cap, len);
}

int vg_option_range_text(const vg_option *o, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap > 0)
        buf[0] = '\0';
    switch (o->type) {
    case VG_OPT_INT:
    case VG_OPT_DOUBLE:
        if (o->expect)
            put(buf, cap, &len, "%s", o->expect);
        else if (isinf(o->max))
            put(buf, cap, &len, ">= %.10g", o->min);
        else
            put(buf, cap, &len, "%.10g .. %.10g", o->min, o->max);
        break;
    case VG_OPT_ENUM:
        for (int i = 0; o->names[i]; i++)
            put(buf, cap, &len, "%s%s", i ? ", " : "", o->names[i]);
        break;
    case VG_OPT_STRING:
        put(buf, cap, &len, "up to %zu characters", o->size - 1);
        break;
    case VG_OPT_LIST:
        if (o->names) {
            for (int i = 0; o->names[i]; i++)
                put(buf, cap, &len, "%s%s", i ? ", " : "", o->names[i]);
            if (o->max_items > 0)
                put(buf, cap, &len, "; at most %d", o->max_items);
        } else if (o->item_check) {
            put(buf, cap, &len, "%s names; at most %d", o->item, o->max_items);
        } else if (o->item && o->max_items > 0) {
            size_t n = strlen(o->item);
            put(buf, cap, &len, "at most %d %s%s", o->max_items, o->item,
                n && o->item[n - 1] == 's' ? "es" : "s");
        }
        break;
    default:
        break;
    }
    return finish(buf, cap, len);
}

const char *vg_option_type_name(const vg_option *o)
{
    switch (o->type) {
    case VG_OPT_BOOL:
        return "bool";
    case VG_OPT_INT:
        return "int";
    case VG_OPT_DOUBLE:
        return "number";
    case VG_OPT_STRING:
        return (o->flags & VG_OPTF_PATH) ? "path" : "string";
    case VG_OPT_ENUM:
        return "enum";
    default:
        return "list";
    }
}

/* Edit distance of a and b (Levenshtein), capped: names are short. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[65];

    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *vg_schema_suggest(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int best_d = 3;
    int limit = (int)strlen(word) / 2;

    for (int i = 0; word && i < n; i++) {
        int d = edit_distance(word, cands[i]);
        if (d < best_d && d <= limit && d > 0) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

const char *vg_schema_suggest_key(const vg_option *opts, int n,
                                  const char *section, const char *word)
{
    const char *cands[128];
    int m = 0;

    for (int i = 0; i < n && m < 128; i++) {
        const char *c = section ? opts[i].key : opts[i].section;
        if (section && strcmp(opts[i].section, section) != 0)
            continue;
        if (!section && m > 0 && !strcmp(cands[m - 1], c))
            continue;
        cands[m++] = c;
    }
    return vg_schema_suggest(word, cands, m);
}

void vg_schema_key_list(const vg_option *opts, int n, const char *section,
                        char *buf, size_t cap)
{
    size_t len = 0;
    if (cap > 0)
        buf[0] = '\0';
    for (int i = 0; i < n; i++)
        if (!strcmp(opts[i].section, section))
            put(buf, cap, &len, "%s%s", len ? ", " : "", opts[i].key);
    finish(buf, cap, len);
}

/* A table cell: '|' escaped. */
static void cell(char *buf, size_t cap, size_t *len, const char *s)
{
    put(buf, cap, len, " ");
    for (; *s; s++) {
        if (*s == '|')
            put(buf, cap, len, "\\|");
        else
            put(buf, cap, len, "%c", *s);
    }
    put(buf, cap, len, " |");
}

int vg_schema_markdown(const vg_option *opts, int n, char *buf, size_t cap,
                       size_t *len)
{
    char def[128], range[256];

    if (*len == 0) {
        put(buf, cap, len,
            "| section | key | type | default | range | description |\n"
            "|---|---|---|---|---|---|\n");
    }
    for (int i = 0; i < n; i++) {
        const vg_option *o = &opts[i];
        vg_option_default_text(o, def, sizeof(def));
        vg_option_range_text(o, range, sizeof(range));
        put(buf, cap, len, "|");
        cell(buf, cap, len, o->section);
        cell(buf, cap, len, o->key);
        cell(buf, cap, len, vg_option_type_name(o));
        cell(buf, cap, len, def);
        cell(buf, cap, len, range);
        cell(buf, cap, len, o->help ? o->help : "");
        put(buf, cap, len, "\n");
    }
    if (*len >= cap) {
        if (cap > 0)
            buf[cap - 1] = '\0';
        return VG_ERANGE;
    }
    return 0;
}

/* origin.NAME and origin.key[VG_KEY_NAME] are the same int. */
#define SAME_ORIGIN(f, k)                                                      \
    _Static_assert(offsetof(vg_settings, origin.f) ==                          \
                       offsetof(vg_settings, origin.key) + (k) * sizeof(int),  \
                   "origin." #f " is not origin.key[" #k "]")
SAME_ORIGIN(model, VG_KEY_MODEL);
SAME_ORIGIN(head, VG_KEY_HEAD);
SAME_ORIGIN(score_threshold, VG_KEY_SCORE_THRESHOLD);
SAME_ORIGIN(nms_iou, VG_KEY_NMS_IOU);
SAME_ORIGIN(classes, VG_KEY_CLASSES);
SAME_ORIGIN(max_detections, VG_KEY_MAX_DETECTIONS);
SAME_ORIGIN(threads, VG_KEY_THREADS);
SAME_ORIGIN(graph_opt, VG_KEY_GRAPH_OPT);
SAME_ORIGIN(mem_arena, VG_KEY_MEM_ARENA);
SAME_ORIGIN(spin, VG_KEY_SPIN);
SAME_ORIGIN(providers, VG_KEY_PROVIDERS);
SAME_ORIGIN(queue_depth, VG_KEY_QUEUE_DEPTH);
SAME_ORIGIN(timeout_ms, VG_KEY_TIMEOUT_MS);
