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

#define FIELD(f) offsetof(vg_settings, f), sizeof(((vg_settings *)0)->f)
#define NAMES(f, count, max)                                                   \
    offsetof(vg_settings, f), sizeof(((vg_settings *)0)->f[0]),                \
        offsetof(vg_settings, count), max

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
    [VG_KEY_MODEL] = {"detector",
                      "model",
                      VG_OPT_STRING,
                      VG_STORE_CHARS,
                      FIELD(model),
                      0,
                      0,
                      0,
                      0,
                      0,
                      "nanodet.onnx",
                      "$VIGIL_CACHE/models/nanodet.onnx",
                      NULL,
                      NULL,
                      NULL,
                      NULL,
                      NULL,
                      NULL,
                      VG_OPTF_PATH | VG_OPTF_MODEL,
                      "detection model (ONNX); relative to the config file"},
    [VG_KEY_HEAD] = {"detector",
                     "head",
                     VG_OPT_ENUM,
                     VG_STORE_INT,
                     FIELD(head),
                     0,
                     0,
                     0,
                     0,
                     VG_HEAD_AUTO,
                     NULL,
                     NULL,
                     head_names,
                     head_parse,
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     0,
                     "output layout of the model (yolo11 = yolov8); auto: "
                     "from the output shapes"},
    [VG_KEY_SCORE_THRESHOLD] = {"detector",
                                "score_threshold",
                                VG_OPT_DOUBLE,
                                VG_STORE_FLOAT,
                                FIELD(score_threshold),
                                0,
                                0,
                                0,
                                1,
                                0.35,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                0,
                                "minimum detection score"},
    [VG_KEY_NMS_IOU] = {"detector",
                        "nms_iou",
                        VG_OPT_DOUBLE,
                        VG_STORE_FLOAT,
                        FIELD(nms_iou),
                        0,
                        0,
                        0,
                        1,
                        0.5,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        0,
                        "overlap above which non-maximum suppression drops "
                        "the weaker box"},
    [VG_KEY_CLASSES] = {"detector", "classes", VG_OPT_LIST, VG_STORE_NAMES,
                        NAMES(classes, n_classes, VG_MAX_CLASS_FILTER), 0, 0, 0,
                        NULL, "every class", NULL, NULL, coco_check,
                        "a list of class names", "class",
                        "expected a COCO class name such as person, car", 0,
                        "COCO classes kept (none: every class)"},
    [VG_KEY_MAX_DETECTIONS] = {"detector",
                               "max_detections",
                               VG_OPT_INT,
                               VG_STORE_INT,
                               FIELD(max_detections),
                               0,
                               0,
                               1,
                               512,
                               300,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               0,
                               "detections kept per frame"},
    [VG_KEY_THREADS] = {"runtime",
                        "threads",
                        VG_OPT_INT,
                        VG_STORE_INT,
                        FIELD(threads),
                        0,
                        0,
                        1,
                        256,
                        1,
                        NULL,
                        "usable cores (probed)",
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        0,
                        "inference threads"},
    [VG_KEY_GRAPH_OPT] = {"runtime",
                          "graph_optimization",
                          VG_OPT_ENUM,
                          VG_STORE_INT,
                          FIELD(graph_opt),
                          0,
                          0,
                          0,
                          0,
                          3,
                          NULL,
                          NULL,
                          graph_names,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          0,
                          "ONNX Runtime graph optimisation level"},
    [VG_KEY_MEM_ARENA] = {"runtime",
                          "memory_arena",
                          VG_OPT_BOOL,
                          VG_STORE_INT,
                          FIELD(mem_arena),
                          0,
                          0,
                          0,
                          1,
                          1,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          0,
                          "ONNX Runtime CPU memory arena"},
    [VG_KEY_SPIN] = {"runtime",
                     "thread_spinning",
                     VG_OPT_BOOL,
                     VG_STORE_INT,
                     FIELD(spin),
                     0,
                     0,
                     0,
                     1,
                     1,
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     NULL,
                     0,
                     "inference threads spin while waiting (off for jobs "
                     "unless set)"},
    [VG_KEY_PROVIDERS] = {"runtime", "providers", VG_OPT_LIST, VG_STORE_NAMES,
                          NAMES(providers, n_providers, 4), 0, 0, 0, "cpu",
                          "cpu (cuda, cpu when probed)", provider_names, NULL,
                          NULL, "a list such as [cuda, cpu]", "provider",
                          "expected cuda or cpu", 0,
                          "execution providers, in order of preference"},
    [VG_KEY_QUEUE_DEPTH] = {"runtime",
                            "queue_depth",
                            VG_OPT_INT,
                            VG_STORE_INT,
                            FIELD(queue_depth),
                            0,
                            0,
                            1,
                            64,
                            4,
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            0,
                            "frames queued between pipeline stages"},
    [VG_KEY_TIMEOUT_MS] = {"input",
                           "timeout_ms",
                           VG_OPT_INT,
                           VG_STORE_INT,
                           FIELD(timeout_ms),
                           0,
                           0,
                           1,
                           3600000,
                           5000,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           0,
                           "a read from an input that takes longer fails, ms"},
    [VG_KEY_LOST_SECONDS] = {"tracker",
                             "lost_seconds",
                             VG_OPT_DOUBLE,
                             VG_STORE_DOUBLE,
                             FIELD(lost_seconds),
                             0,
                             0,
                             0,
                             3600,
                             3,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             0,
                             "a track unseen this long ends, seconds"},
    [VG_KEY_TRACK_HIGH] = {"tracker",
                           "high_threshold",
                           VG_OPT_DOUBLE,
                           VG_STORE_FLOAT,
                           FIELD(track_high),
                           0,
                           0,
                           0,
                           1,
                           0.5,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           0,
                           "detections above it are matched first"},
    [VG_KEY_TRACK_LOW] = {"tracker",
                          "low_threshold",
                          VG_OPT_DOUBLE,
                          VG_STORE_FLOAT,
                          FIELD(track_low),
                          0,
                          0,
                          0,
                          1,
                          0.1,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          0,
                          "detections below it are ignored"},
    [VG_KEY_TRACK_NEW] = {"tracker",
                          "new_track_threshold",
                          VG_OPT_DOUBLE,
                          VG_STORE_FLOAT,
                          FIELD(track_new),
                          0,
                          0,
                          0,
                          1,
                          0.6,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          0,
                          "an unmatched detection above it starts a track"},
    [VG_KEY_EVENTS_BATCH] = {"events",
                             "batch",
                             VG_OPT_INT,
                             VG_STORE_INT,
                             FIELD(events_batch),
                             0,
                             0,
                             1,
                             1024,
                             16,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             0,
                             "events per database commit"},
    [VG_KEY_EVENTS_DELAY_MS] = {"events",
                                "max_delay_ms",
                                VG_OPT_INT,
                                VG_STORE_INT,
                                FIELD(events_delay_ms),
                                0,
                                0,
                                0,
                                3600000,
                                500,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                0,
                                "an event is committed within this time, ms"},
    [VG_KEY_SNAP_ENABLED] = {"snapshots",
                             "enabled",
                             VG_OPT_BOOL,
                             VG_STORE_INT,
                             FIELD(snap_enabled),
                             0,
                             0,
                             0,
                             1,
                             1,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             0,
                             "a JPEG snapshot per event"},
    [VG_KEY_SNAP_MAX_AGE_DAYS] = {"snapshots",
                                  "max_age_days",
                                  VG_OPT_DOUBLE,
                                  VG_STORE_DOUBLE,
                                  FIELD(snap_max_age_days),
                                  0,
                                  0,
                                  0,
                                  36500,
                                  30,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  0,
                                  "snapshots older than this are deleted"},
    [VG_KEY_SNAP_MAX_BYTES] = {"snapshots",
                               "max_total_bytes",
                               VG_OPT_DOUBLE,
                               VG_STORE_DOUBLE,
                               FIELD(snap_max_bytes),
                               0,
                               0,
                               0,
                               1e15,
                               1073741824.0,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               0,
                               "the oldest snapshots go beyond this total"},
    [VG_KEY_VIDEO_ENABLED] = {"video",
                              "enabled",
                              VG_OPT_BOOL,
                              VG_STORE_INT,
                              FIELD(video_enabled),
                              0,
                              0,
                              0,
                              1,
                              1,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              0,
                              "write the annotated video"},
    [VG_KEY_VIDEO_CRF] = {"video",
                          "crf",
                          VG_OPT_INT,
                          VG_STORE_INT,
                          FIELD(video_crf),
                          0,
                          0,
                          0,
                          51,
                          23,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          0,
                          "x264 constant rate factor (lower: better, larger)"},
    [VG_KEY_VIDEO_PRESET] = {"video",
                             "preset",
                             VG_OPT_STRING,
                             VG_STORE_CHARS,
                             FIELD(video_preset),
                             0,
                             0,
                             0,
                             0,
                             0,
                             "ultrafast",
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             0,
                             "x264 preset"},
    [VG_KEY_TELEMETRY_INTERVAL_S] = {"telemetry",
                                     "interval_s",
                                     VG_OPT_DOUBLE,
                                     VG_STORE_DOUBLE,
                                     FIELD(telemetry_interval_s),
                                     0,
                                     0,
                                     0,
                                     86400,
                                     10,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     0,
                                     "memory report period, seconds (0: "
                                     "never)"},
    [VG_KEY_LEAK_SLOPE] = {"telemetry",
                           "leak_slope_bytes_per_s",
                           VG_OPT_DOUBLE,
                           VG_STORE_DOUBLE,
                           FIELD(leak_slope),
                           0,
                           0,
                           0,
                           1e12,
                           1048576.0,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           0,
                           "leak guard: memory growth that warns, bytes/s"},
    [VG_KEY_LEAK_WINDOW_S] = {"telemetry",
                              "window_s",
                              VG_OPT_DOUBLE,
                              VG_STORE_DOUBLE,
                              FIELD(leak_window_s),
                              0,
                              0,
                              1,
                              86400,
                              60,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              0,
                              "leak guard window, seconds"},
    [VG_KEY_DETECT_FPS] = {"detect",
                           "fps",
                           VG_OPT_DOUBLE,
                           VG_STORE_DOUBLE,
                           FIELD(detect_fps),
                           0,
                           0,
                           0,
                           1000,
                           -1,
                           NULL,
                           "auto (files: every frame; live: 5)",
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           0,
                           "detections per second (0: every frame)"},
    [VG_KEY_MOTION_ENABLED] = {"motion",
                               "enabled",
                               VG_OPT_BOOL,
                               VG_STORE_INT,
                               FIELD(motion_enabled),
                               0,
                               0,
                               0,
                               1,
                               0,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               0,
                               "detect only when the picture changes"},
    [VG_KEY_MOTION_PIXEL_THRESHOLD] = {"motion",
                                       "pixel_threshold",
                                       VG_OPT_INT,
                                       VG_STORE_INT,
                                       FIELD(motion_pixel_threshold),
                                       0,
                                       0,
                                       1,
                                       255,
                                       25,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       0,
                                       "grey-level change that marks a pixel "
                                       "changed"},
    [VG_KEY_MOTION_MIN_AREA] = {"motion",
                                "min_area",
                                VG_OPT_DOUBLE,
                                VG_STORE_DOUBLE,
                                FIELD(motion_min_area),
                                0,
                                0,
                                0,
                                1,
                                0.002,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                0,
                                "changed fraction of the picture that is "
                                "motion"},
    [VG_KEY_MOTION_MAX_IDLE_S] = {"motion",
                                  "max_idle_s",
                                  VG_OPT_DOUBLE,
                                  VG_STORE_DOUBLE,
                                  FIELD(motion_max_idle_s),
                                  0,
                                  0,
                                  0,
                                  86400,
                                  5,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  0,
                                  "detect at least this often, seconds"},
    [VG_KEY_MOTION_FRAME_HEIGHT] = {"motion",
                                    "frame_height",
                                    VG_OPT_INT,
                                    VG_STORE_INT,
                                    FIELD(motion_frame_height),
                                    0,
                                    0,
                                    16,
                                    1080,
                                    120,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    0,
                                    "rows of the grey picture compared"},
    [VG_KEY_MOTION_MASKS] = {"motion",
                             "masks",
                             VG_OPT_LIST,
                             VG_STORE_NONE,
                             0,
                             0,
                             0,
                             VG_SETTINGS_MAX_MASKS,
                             0,
                             0,
                             0,
                             NULL,
                             "none",
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             0,
                             "ignored areas: [{polygon: [[x, y], ...], units: "
                             "pixels|normalized}]"},
    [VG_KEY_SERVE_LISTEN] = {"serve",
                             "listen",
                             VG_OPT_STRING,
                             VG_STORE_CHARS,
                             FIELD(serve_listen),
                             0,
                             0,
                             0,
                             0,
                             0,
                             "127.0.0.1:8080",
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             0,
                             "HTTP address:port (off loopback a token is "
                             "required)"},
    [VG_KEY_SERVE_TOKEN] = {"serve",
                            "token",
                            VG_OPT_STRING,
                            VG_STORE_CHARS,
                            FIELD(serve_token),
                            0,
                            0,
                            0,
                            0,
                            0,
                            "",
                            "none",
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            NULL,
                            VG_OPTF_SECRET | VG_OPTF_EMPTY_OK,
                            "bearer token every /api route requires"},
    [VG_KEY_SERVE_TOKEN_ENV] = {"serve",
                                "token_env",
                                VG_OPT_STRING,
                                VG_STORE_CHARS,
                                FIELD(serve_token_env),
                                0,
                                0,
                                0,
                                0,
                                0,
                                "VIGIL_TOKEN",
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                VG_OPTF_EMPTY_OK,
                                "environment variable that holds the token"},
    [VG_KEY_SERVE_MJPEG_FPS] = {"serve",
                                "mjpeg_fps",
                                VG_OPT_DOUBLE,
                                VG_STORE_DOUBLE,
                                FIELD(serve_mjpeg_fps),
                                0,
                                0,
                                0.1,
                                60,
                                5,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                0,
                                "live view frames per second"},
    [VG_KEY_SERVE_MJPEG_WIDTH] = {"serve",
                                  "mjpeg_width",
                                  VG_OPT_INT,
                                  VG_STORE_INT,
                                  FIELD(serve_mjpeg_width),
                                  0,
                                  0,
                                  64,
                                  7680,
                                  640,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  0,
                                  "live view width, pixels"},
    [VG_KEY_SERVE_MAX_CONNECTIONS] = {"serve",
                                      "max_connections",
                                      VG_OPT_INT,
                                      VG_STORE_INT,
                                      FIELD(serve_max_connections),
                                      0,
                                      0,
                                      1,
                                      100000,
                                      64,
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL,
                                      0,
                                      "connections at once"},
    [VG_KEY_SERVE_MAX_BODY_BYTES] = {"serve",
                                     "max_body_bytes",
                                     VG_OPT_INT,
                                     VG_STORE_INT,
                                     FIELD(serve_max_body_bytes),
                                     0,
                                     0,
                                     1024,
                                     16777216,
                                     65536,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     0,
                                     "request body cap (413 beyond)"},
    [VG_KEY_SERVE_IDLE_TIMEOUT_S] = {"serve",
                                     "idle_timeout_s",
                                     VG_OPT_DOUBLE,
                                     VG_STORE_DOUBLE,
                                     FIELD(serve_idle_timeout_s),
                                     0,
                                     0,
                                     0.1,
                                     3600,
                                     10,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     NULL,
                                     0,
                                     "an idle or slow client is dropped after "
                                     "this, seconds"},
    [VG_KEY_MQTT_ENABLED] = {"mqtt",
                             "enabled",
                             VG_OPT_BOOL,
                             VG_STORE_INT,
                             FIELD(mqtt_enabled),
                             0,
                             0,
                             0,
                             1,
                             0,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             0,
                             "publish events over MQTT"},
    [VG_KEY_MQTT_HOST] = {"mqtt",
                          "host",
                          VG_OPT_STRING,
                          VG_STORE_CHARS,
                          FIELD(mqtt_host),
                          0,
                          0,
                          0,
                          0,
                          0,
                          "127.0.0.1",
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          0,
                          "broker host"},
    [VG_KEY_MQTT_PORT] = {"mqtt",
                          "port",
                          VG_OPT_INT,
                          VG_STORE_INT,
                          FIELD(mqtt_port),
                          0,
                          0,
                          1,
                          65535,
                          1883,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          NULL,
                          0,
                          "broker port"},
    [VG_KEY_MQTT_CLIENT_ID] = {"mqtt",
                               "client_id",
                               VG_OPT_STRING,
                               VG_STORE_CHARS,
                               FIELD(mqtt_client_id),
                               0,
                               0,
                               0,
                               0,
                               0,
                               "vigil",
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               0,
                               "MQTT client id"},
    [VG_KEY_MQTT_TOPIC_PREFIX] = {"mqtt",
                                  "topic_prefix",
                                  VG_OPT_STRING,
                                  VG_STORE_CHARS,
                                  FIELD(mqtt_topic_prefix),
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  "vigil",
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  0,
                                  "topics: PREFIX/events, PREFIX/CAMERA/state, "
                                  "PREFIX/available"},
    [VG_KEY_MQTT_QOS] = {"mqtt",
                         "qos",
                         VG_OPT_INT,
                         VG_STORE_INT,
                         FIELD(mqtt_qos),
                         0,
                         0,
                         0,
                         2,
                         1,
                         NULL,
                         NULL,
                         NULL,
                         NULL,
                         NULL,
                         NULL,
                         NULL,
                         NULL,
                         0,
                         "MQTT quality of service of events"},
    [VG_KEY_MQTT_OUTBOX_MAX] = {"mqtt",
                                "outbox_max",
                                VG_OPT_INT,
                                VG_STORE_INT,
                                FIELD(mqtt_outbox_max),
                                0,
                                0,
                                1,
                                100000000,
                                10000,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                0,
                                "unpublished events kept (oldest dropped "
                                "beyond)"},
    [VG_KEY_MQTT_KEEPALIVE_S] = {"mqtt",
                                 "keepalive_s",
                                 VG_OPT_DOUBLE,
                                 VG_STORE_DOUBLE,
                                 FIELD(mqtt_keepalive_s),
                                 0,
                                 0,
                                 5,
                                 3600,
                                 30,
                                 NULL,
                                 NULL,
                                 NULL,
                                 NULL,
                                 NULL,
                                 NULL,
                                 NULL,
                                 NULL,
                                 0,
                                 "MQTT keep-alive, seconds"},
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
                snprintf(field, o->size, "%.*s/%s", (int)(o->size / 2), dir,
                         o->def_str ? o->def_str : "");
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
