/*
 * vg_settings: every knob of a detection run, each with where its value came
 * from. Resolution order: explicit (command line, then config file) > probed
 * hardware > built-in fallback.
 *
 *   vg_settings s;
 *   vg_settings_builtin(&s);              // fallback values
 *   vg_settings_probe(&s, &sysinfo);       // what the machine suggests
 *   if (vg_settings_load(ctx, "site.yaml", &s) < 0)   // explicit
 *       fprintf(stderr, "%s\n", vg_context_errmsg(ctx)); // file:line:col: ...
 *
 * Config file (YAML):
 *   detector: {model: PATH, head: auto|nanodet|yolov5|yolov8,
 *              score_threshold: 0..1, nms_iou: 0..1, classes: [person, ...],
 *              max_detections: N}
 *   runtime:  {threads: N, graph_optimization: none|basic|extended|all,
 *              memory_arena: bool, thread_spinning: bool,
 *              providers: [cuda, cpu], queue_depth: N}
 *   input:    {timeout_ms: N}
 *   tracker:  {lost_seconds: S, high_threshold: T, low_threshold: T,
 *              new_track_threshold: T, reid: bool, reid_model: PATH,
 *              reid_weight: 0..1, reid_max_cos_distance: 0..2}
 *   events:   {batch: N, max_delay_ms: N}
 *   snapshots: {enabled: bool, max_age_days: D, max_total_bytes: N}
 *   video:    {enabled: bool, crf: N, preset: NAME}
 *   telemetry: {interval_s: S, leak_slope_bytes_per_s: B, window_s: S}
 *   detect:   {fps: F}          (0: every frame; absent: files every frame,
 *                                live cameras 5)
 *   motion:   {enabled: bool, pixel_threshold: 1..255, min_area: 0..1,
 *              max_idle_s: S, frame_height: 16..1080,
 *              masks: [{polygon: [[x, y], ...], units: pixels|normalized}]}
 *   serve:    {listen, token, token_env, mjpeg_fps, mjpeg_width,
 *              max_connections, max_body_bytes, idle_timeout_s}
 *   mqtt:     {enabled, host, port, client_id, topic_prefix, qos,
 *              outbox_max, keepalive_s}
 *   zones, rules, rules_options: read by vg_rules_load (include/vigil/rules.h)
 *   cameras: read by vg_cameras_load (include/vigil/cameras.h)
 * Every key of these sections is declared once, with its type, default,
 * range and help, in the schema table (include/vigil/schema.h,
 * vg_settings_schema), which drives the loader, `vigil probe` and
 * docs/config.md; an unknown key is refused with the closest one suggested.
 * The settings hold plain values only (names, numbers, enum vg_head_kind):
 * vg_session_opts_from_settings (include/vigil/session.h) turns them into
 * session options. Class names are checked against the COCO table
 * (include/vigil/coco.h).
 * Errors name the file, line and column and what was expected. A config
 * file is one YAML document of at most 1 MiB, nested at most 64 deep,
 * without duplicate keys; numbers are read strictly (vigil/parse.h: no
 * "12abc", "0x10", nan or inf; whole numbers without exponent).
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include "vigil/context.h"
#include "vigil/sysinfo.h"

#define VG_PATH_MAX 1024
#define VG_MAX_CLASS_FILTER 80
#define VG_SETTINGS_MAX_MASKS 16       /* = VG_MOTION_MAX_POLYGONS */
#define VG_SETTINGS_MAX_MASK_POINTS 32 /* = VG_MOTION_MAX_POINTS */

/* The output layout of a detection model (the detector's head). A plain
 * core-level value so that settings can hold it; the detector interprets
 * it (include/vigil/detect.h). */
enum vg_head_kind {
    VG_HEAD_AUTO = 0, /* chosen from the output shapes */
    VG_HEAD_NANODET,
    VG_HEAD_YOLOV5, /* [1,N,5+C]: cx,cy,w,h,objectness,class scores */
    VG_HEAD_YOLOV8  /* [1,4+C,N]: cx,cy,w,h,class scores */
};

enum vg_origin {
    VG_ORIGIN_BUILTIN = 0,
    VG_ORIGIN_PROBED = 1,
    VG_ORIGIN_CONFIG = 2,
    VG_ORIGIN_CLI = 3
};

/* The keys of vg_settings, in the order of its schema table
 * (include/vigil/schema.h, vg_settings_schema): s->origin.key[k] says where
 * key k's value came from. */
enum vg_setting_key {
    VG_KEY_MODEL = 0,
    VG_KEY_HEAD,
    VG_KEY_SCORE_THRESHOLD,
    VG_KEY_NMS_IOU,
    VG_KEY_CLASSES,
    VG_KEY_MAX_DETECTIONS,
    VG_KEY_THREADS,
    VG_KEY_GRAPH_OPT,
    VG_KEY_MEM_ARENA,
    VG_KEY_SPIN,
    VG_KEY_PROVIDERS,
    VG_KEY_QUEUE_DEPTH,
    VG_KEY_TIMEOUT_MS,
    VG_KEY_LOST_SECONDS,
    VG_KEY_TRACK_HIGH,
    VG_KEY_TRACK_LOW,
    VG_KEY_TRACK_NEW,
    VG_KEY_TRACK_REID,
    VG_KEY_TRACK_REID_MODEL,
    VG_KEY_TRACK_REID_WEIGHT,
    VG_KEY_TRACK_REID_MAX_COS,
    VG_KEY_EVENTS_BATCH,
    VG_KEY_EVENTS_DELAY_MS,
    VG_KEY_SNAP_ENABLED,
    VG_KEY_SNAP_MAX_AGE_DAYS,
    VG_KEY_SNAP_MAX_BYTES,
    VG_KEY_VIDEO_ENABLED,
    VG_KEY_VIDEO_CRF,
    VG_KEY_VIDEO_PRESET,
    VG_KEY_TELEMETRY_INTERVAL_S,
    VG_KEY_LEAK_SLOPE,
    VG_KEY_LEAK_WINDOW_S,
    VG_KEY_DETECT_FPS,
    VG_KEY_MOTION_ENABLED,
    VG_KEY_MOTION_PIXEL_THRESHOLD,
    VG_KEY_MOTION_MIN_AREA,
    VG_KEY_MOTION_MAX_IDLE_S,
    VG_KEY_MOTION_FRAME_HEIGHT,
    VG_KEY_MOTION_MASKS,
    VG_KEY_SERVE_LISTEN,
    VG_KEY_SERVE_TOKEN,
    VG_KEY_SERVE_TOKEN_ENV,
    VG_KEY_SERVE_MJPEG_FPS,
    VG_KEY_SERVE_MJPEG_WIDTH,
    VG_KEY_SERVE_MAX_CONNECTIONS,
    VG_KEY_SERVE_MAX_BODY_BYTES,
    VG_KEY_SERVE_IDLE_TIMEOUT_S,
    VG_KEY_MQTT_ENABLED,
    VG_KEY_MQTT_HOST,
    VG_KEY_MQTT_PORT,
    VG_KEY_MQTT_CLIENT_ID,
    VG_KEY_MQTT_TOPIC_PREFIX,
    VG_KEY_MQTT_QOS,
    VG_KEY_MQTT_OUTBOX_MAX,
    VG_KEY_MQTT_KEEPALIVE_S,
    VG_SETTINGS_N_KEYS
};

typedef struct vg_settings {
    char model[VG_PATH_MAX];
    int head; /* enum vg_head_kind */
    float score_threshold;
    float nms_iou;
    char classes[VG_MAX_CLASS_FILTER][32];
    int n_classes;
    int max_detections;
    int threads;
    int graph_opt;
    int mem_arena;
    int spin;
    char providers[4][16];
    int n_providers;
    int queue_depth;
    int timeout_ms;
    /* the CCTV job (`vigil run`) */
    double lost_seconds;                    /* tracker: lost-track buffer (3) */
    float track_high, track_low, track_new; /* tracker thresholds */
    double snap_max_age_days;               /* snapshots retention (30) */
    double snap_max_bytes;                  /* (1 GiB) */
    int snap_enabled;                       /* (true) */
    int video_enabled;                      /* annotated video (true) */
    int video_crf;                          /* (23) */
    char video_preset[16];                  /* ("ultrafast") */
    int events_batch;                       /* events per commit (16) */
    int events_delay_ms;                    /* commit age bound (500) */
    double telemetry_interval_s; /* memory report period (10; 0: never) */
    double leak_slope;           /* leak guard, bytes per second (1 MiB) */
    double leak_window_s;        /* leak guard window (60) */
    double detect_fps;           /* detection rate; -1: files every frame,
                                    live cameras 5 (VG_RUN_DETECT_AUTO) */
    int motion_enabled;          /* motion gating (false) */
    int motion_pixel_threshold;  /* (25) */
    double motion_min_area;      /* changed fraction for motion (0.002) */
    double motion_max_idle_s;    /* forced detection period (5) */
    int motion_frame_height;     /* grey frame rows (120) */
    int motion_n_masks;
    struct {
        int n_points;
        int pixels; /* 1: source pixels; 0: fractions 0..1 (normalized) */
        float xy[VG_SETTINGS_MAX_MASK_POINTS][2];
    } motion_masks[VG_SETTINGS_MAX_MASKS];
    /* tracker: conditional re-identification (include/vigil/reid.h) */
    int reid_enabled;             /* (false) */
    char reid_model[VG_PATH_MAX]; /* ONNX ReID model; "": colour histogram */
    float reid_weight;            /* appearance weight in the cost (0.5) */
    float reid_max_cos_distance;  /* farther pairs may not match (0.5) */
    /* vigil serve (issue 10): the HTTP service */
    char serve_listen[64];       /* "127.0.0.1:8080" */
    char serve_token[128];       /* bearer token ("" none; required off
                                    loopback); serve.token or the
                                    environment variable serve.token_env */
    char serve_token_env[64];    /* ("VIGIL_TOKEN") */
    double serve_mjpeg_fps;      /* live view rate (5) */
    int serve_mjpeg_width;       /* live view width, px (640) */
    int serve_max_connections;   /* (64) */
    int serve_max_body_bytes;    /* request body cap (65536) */
    double serve_idle_timeout_s; /* idle / slow client timeout (10) */
    /* MQTT events (issue 10) */
    int mqtt_enabled;           /* (false) */
    char mqtt_host[256];        /* ("127.0.0.1") */
    int mqtt_port;              /* (1883) */
    char mqtt_client_id[64];    /* ("vigil") */
    char mqtt_topic_prefix[64]; /* ("vigil") */
    int mqtt_qos;               /* (1) */
    int mqtt_outbox_max;        /* outbox rows kept (10000) */
    double mqtt_keepalive_s;    /* (30) */
    /* enum vg_origin of every key: origin.key[VG_KEY_*]; the first 13 also
     * by name (origin.threads is origin.key[VG_KEY_THREADS]) */
    union {
        struct {
            int model, head, score_threshold, nms_iou, classes, max_detections,
                threads, graph_opt, mem_arena, spin, providers, queue_depth,
                timeout_ms;
        };
        int key[VG_SETTINGS_N_KEYS];
    } origin;
} vg_settings;

/* Built-in fallback values, the defaults of the schema table (default
 * model from the model cache); every origin VG_ORIGIN_BUILTIN. */
void vg_settings_builtin(vg_settings *s);

/* Applies what the machine suggests (threads = usable cores, providers =
 * cuda first when a GPU and ONNX Runtime's CUDA provider exist: si's
 * gpu_count and ort_has_cuda, the latter filled by vg_session_probe_runtime
 * in include/vigil/session.h). Only fields still at their built-in value
 * change. */
void vg_settings_probe(vg_settings *s, const vg_sysinfo *si);

/* Reads a YAML config file over s. Returns 0, VG_ENOENT, VG_EIO (cannot
 * read), VG_ENOMEM, VG_EINTR (a stop was requested on ctx while loading), or
 * VG_ECONFIG with one line in ctx: "FILE:LINE:COL: what is wrong, what was
 * expected", or "FILE: is a directory / is empty / is N bytes, more than
 * the limit ..."; on failure s may be partly updated (callers stop
 * anyway). */
int vg_settings_load(vg_context *ctx, const char *path, vg_settings *s);

/* Default model cache directory: $VIGIL_CACHE/models or
 * $HOME/.cache/vigil/models, written into buf. */
void vg_default_model_dir(char *buf, size_t size);

/* NAME in vigil's cache: $VIGIL_CACHE/NAME, or $HOME/.cache/vigil/NAME,
 * written into buf. */
void vg_cache_path(const char *name, char *buf, size_t size);

const char *vg_origin_name(int origin);
const char *vg_head_kind_name(int head);
/* Parses "auto", "nanodet", "yolov5", "yolov8"/"yolo11"; -1 if unknown. */
int vg_head_kind_parse(const char *s);

#endif
