/* Internal to vg_http (src/serve/http*.c): the server's state and what
 * its parts share. http.c: routing, authorisation, replies, start and stop;
 * http_live.c: the live pictures (frame.jpg, stream.mjpeg and their JPEG
 * encoder threads); http_events.c: the event store read-only, snapshots
 * and the server-sent events; http_cameras.c: the camera list, adding a
 * camera and its rules. */
#ifndef VIGIL_HTTP_INTERNAL_H
#define VIGIL_HTTP_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <microhttpd.h>
#include <sqlite3.h>

#include "serve/serve_internal.h"
#include "vigil/serve.h"

#define HEADER_CAP 8192
#define EVENTS_LIMIT_MAX 500
#define FRAME_MAX_WIDTH 1920
#define JPEG_QUALITY 80
#define ERR_CAP 600
#define BOUNDARY "vigilframe"

/* One camera's live pictures: its JPEG encoder thread and the newest
 * JPEG, shared by its viewers. */
typedef struct feed {
    char name[64];
    int used;
    pthread_mutex_t ctl; /* join / leave, thread start and join */
    int viewers;         /* under ctl */
    int thread_running;  /* under ctl */
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock; /* the published JPEG */
    pthread_cond_t cond;
    uint8_t *jpeg;
    size_t jpeg_cap;
    long jpeg_len;
    uint64_t jpeg_seq;         /* JPEGs published */
    int gone;                  /* the camera left the job */
    atomic_int full_w, full_h; /* the camera's picture size, when seen */
    struct vg_http *h;
} feed;

struct vg_http {
    vg_context *ctx;
    vg_serve *serve;
    vg_job *job;
    vg_telemetry *telemetry;
    struct MHD_Daemon *mhd;
    int port;
    char token[128];
    double mjpeg_fps;
    int mjpeg_width;
    int max_body;
    double idle_s;
    char out_dir[PATH_MAX]; /* resolved */
    atomic_int stopping;
    pthread_mutex_t feeds_lock;
    feed feeds[VG_JOB_MAX_STREAMS];
    pthread_mutex_t db_lock;
    sqlite3 *db;
    sqlite3_stmt *st_list, *st_count, *st_since, *st_snap, *st_max;
    atomic_ullong requests, refused, encoded;
    atomic_int viewers;
};

enum route {
    R_NONE = 0,
    R_STATIC,
    R_CAMERAS,
    R_CAMERA,
    R_RULES,
    R_FRAME,
    R_STREAM,
    R_EVENTS,
    R_SNAPSHOT,
    R_SSE,
    R_METRICS,
};

typedef struct request {
    int route;
    char name[64];
    int64_t id;
    const vgi_web_asset *asset;
    char *body;
    size_t body_len, body_cap;
    int too_large;
} request;

/* ---- http.c: replies (each returns what the request handler returns) */

/* Queues resp (destroyed here; NULL: MHD_NO) with type and the headers
 * every reply carries. */
enum MHD_Result vgi_http_queue(struct MHD_Connection *c, unsigned status,
                               struct MHD_Response *resp, const char *type);
/* data copied into the reply. */
enum MHD_Result vgi_http_send_copy(struct MHD_Connection *c, unsigned status,
                                   const char *type, const void *data,
                                   size_t len);
/* {"error": message}; a 4xx counts as refused. */
enum MHD_Result vgi_http_send_error(struct vg_http *h, struct MHD_Connection *c,
                                    unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A malloc'ed buffer handed to MHD (freed by it, also on failure). */
enum MHD_Result vgi_http_send_owned(struct MHD_Connection *c, unsigned status,
                                    const char *type, char *data, size_t len);
/* An endless reply read from read (cls its state) until it ends the
 * stream; free_cls releases cls when the connection ends, also when the
 * reply cannot be made. */
enum MHD_Result vgi_http_send_stream(struct MHD_Connection *c, const char *type,
                                     MHD_ContentReaderCallback read, void *cls,
                                     MHD_ContentReaderFreeCallback free_cls);
/* An integer query argument in [min, max]; 0 absent, 1 set, -1 malformed. */
int vgi_http_arg_int(struct MHD_Connection *c, const char *key, long long min,
                     long long max, long long *out);
/* Monotonic seconds; a sleep of ms milliseconds. */
double vgi_http_now_s(void);
void vgi_http_sleep_ms(int ms);

/* ---- http_live.c */

enum MHD_Result vgi_http_do_frame(struct vg_http *h, struct MHD_Connection *c,
                                  request *r);
enum MHD_Result vgi_http_do_stream(struct vg_http *h, struct MHD_Connection *c,
                                   request *r);
/* At stop, after the daemon: ends the encoder threads, frees the feeds. */
void vgi_http_feeds_stop(struct vg_http *h);

/* ---- http_events.c */

enum MHD_Result vgi_http_do_events(struct vg_http *h, struct MHD_Connection *c);
enum MHD_Result vgi_http_do_snapshot(struct vg_http *h,
                                     struct MHD_Connection *c, int64_t id);
enum MHD_Result vgi_http_do_sse(struct vg_http *h, struct MHD_Connection *c);
/* Closes the read-only events.db (reopened when next needed). */
void vgi_http_db_close(struct vg_http *h);

/* ---- http_cameras.c */

enum MHD_Result vgi_http_do_cameras(struct vg_http *h,
                                    struct MHD_Connection *c);
enum MHD_Result vgi_http_do_add(struct vg_http *h, struct MHD_Connection *c,
                                request *r);
enum MHD_Result vgi_http_do_rules(struct vg_http *h, struct MHD_Connection *c,
                                  request *r, const char *method);
/* One camera's JSON object (the list and the server-sent events). */
void vgi_http_camera_json(vgi_jbuf *b, const vg_job_stream_status *ss);

#endif
