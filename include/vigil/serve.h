/*
 * vigil serve (issue 10): the always-on camera service and its HTTP API
 * (docs/serve.md).
 *
 *   vg_serve *sv;                 // the cameras of a config, over a job
 *   vg_serve_create(ctx, job, &job_opts.run, "site.yaml", &sv);
 *   vg_serve_reload(sv, msg, sizeof(msg)); // adds every camera
 *   vg_job_start(job);
 *   vg_http_opts ho;
 *   vg_http_opts_from_settings(&settings, &ho);
 *   ho.serve = sv; ho.telemetry = t;
 *   vg_http *h;
 *   vg_http_start(ctx, &ho, &h);  // printf port: vg_http_port(h)
 *   ...                  // SIGHUP: vg_serve_reload(sv, msg, sizeof(msg))
 *   vg_http_stop(&h);             // before the job and the service
 *   vg_job_stop(job);
 *   vg_serve_destroy(&sv);
 *
 * vg_serve owns the camera table of the job (name, input, the zones and
 * rules each camera runs with) and applies a config file to it: cameras are
 * matched by name; an unchanged camera keeps running untouched, changed
 * rules are replaced in place (vg_job_set_rules), new cameras are added and
 * missing ones removed. vg_http is the HTTP server (libmicrohttpd, one
 * thread per connection) in front of it.
 *
 * Thread-safety: every vg_serve function may be called from any thread (one
 * lock); vg_http_start/stop from one thread.
 */
#ifndef VIGIL_SERVE_H
#define VIGIL_SERVE_H

#include <stddef.h>

#include "vigil/cameras.h"
#include "vigil/config.h"
#include "vigil/context.h"
#include "vigil/jobrun.h"
#include "vigil/telemetry.h"

typedef struct vg_serve vg_serve;

/* Creates the service over job (borrowed, must outlive it). run (copied)
 * is the job's per-camera run options, over which each camera's own
 * detection rate and motion gate apply. config_path (copied; may be NULL:
 * nothing is saved or reloaded) is the file that reload reads and that PUT
 * rules writes to. Returns 0, VG_EINVAL or VG_ENOMEM; *out is NULL on
 * failure. */
int vg_serve_create(vg_context *ctx, vg_job *job, const vg_run_opts *run,
                    const char *config_path, vg_serve **out);

/* Frees the camera table (the job's streams are left as they are: stop the
 * job first). Sets *s to NULL; accepts NULL. */
void vg_serve_destroy(vg_serve **s);

/* Makes the job's cameras those of cams: added, rules replaced, removed as
 * the table says (see above). The rules of cams are taken over (cams is
 * left empty, freed). Every camera that cannot be
 * applied is named on one line each in ctx's log at warning level; returns
 * 0 when all were applied, else the first error code (the others were
 * still applied). */
int vg_serve_apply(vg_serve *s, vg_cameras *cams);

/* Re-reads the config file: its top-level zones/rules (the defaults of
 * cameras without their own) and its cameras (vg_cameras_load), then as
 * vg_serve_apply. A file that does not load or check changes nothing and
 * returns VG_ECONFIG with "FILE:LINE:COL: ..." in msg (cap bytes; may be
 * NULL); cameras that could not be applied return their first error code
 * (the others applied, each logged). */
int vg_serve_reload(vg_serve *s, char *msg, size_t cap);

/* Adds a camera by request (not written to the config file). Returns 0,
 * VG_EINVAL (bad name or input), VG_EEXIST, VG_ENOENT, VG_ERANGE, with the
 * message in msg. */
int vg_serve_add_camera(vg_serve *s, const char *name, const char *input,
                        int loop, char *msg, size_t cap);

/* Removes the camera called name (its events are kept). 0 or VG_ENOENT. */
int vg_serve_remove_camera(vg_serve *s, const char *name);

/* Writes camera's zones and rules as JSON into buf. Returns the length,
 * VG_ENOENT or VG_ERANGE. */
int vg_serve_rules_json(vg_serve *s, const char *camera, char *buf, size_t cap);

/* Replaces camera's zones and rules from a request body (JSON): parsed and
 * checked (vg_rules_parse_text, vg_rules_config_check), saved into the
 * config file, applied to the running camera. On any error nothing is
 * changed and msg holds one line naming the field. Returns 1 (applied and
 * saved), 0 (applied; a camera added by request is not in the file), VG_ENOENT,
 * VG_ECONFIG (bad body), VG_EIO (cannot save), VG_ENOMEM. */
int vg_serve_put_rules(vg_serve *s, const char *camera, const char *body,
                       size_t len, char *msg, size_t cap);

/* The job served. */
vg_job *vg_serve_job(vg_serve *s);

/* ---- HTTP ---------------------------------------------------------------*/

typedef struct vg_http vg_http;

typedef struct vg_http_opts {
    const char *listen;      /* "HOST:PORT" (port 0: any free port) */
    const char *token;       /* bearer token; NULL or "": none */
    double mjpeg_fps;        /* live view rate */
    int mjpeg_width;         /* live view width, px */
    int max_connections;     /* connections at once */
    int max_body_bytes;      /* request body cap (413 beyond) */
    double idle_timeout_s;   /* idle or slow connections closed */
    vg_serve *serve;         /* borrowed, required; its job is served */
    vg_telemetry *telemetry; /* for /metrics; borrowed, may be NULL */
} vg_http_opts;

/* The settings' serve.* values (pointers into s). */
void vg_http_opts_from_settings(const vg_settings *s, vg_http_opts *o);

/* Checks o's listen address, token and caps without binding: the refusals
 * of vg_http_start (VG_EINVAL with one line in ctx), or 0. */
int vg_http_check_opts(vg_context *ctx, const vg_http_opts *o);

/* Starts the server. Refused with one line in ctx: VG_EINVAL (bad listen
 * address or caps; a non-loopback address without a token), VG_EIO (cannot
 * bind). Returns 0 or the code; *out is NULL on failure. */
int vg_http_start(vg_context *ctx, const vg_http_opts *o, vg_http **out);

/* The port bound (the real one when 0 was asked). */
int vg_http_port(const vg_http *h);

/* Stops the server: open streams end within ~100 ms, live views are
 * released (vg_job_watch -1). Sets *h to NULL; accepts NULL. */
void vg_http_stop(vg_http **h);

/* Counters for tests and the load bench. */
typedef struct vg_http_stats {
    uint64_t requests;
    uint64_t refused; /* 4xx answers */
    uint64_t jpeg_encoded;
    int viewers; /* MJPEG clients now */
} vg_http_stats;
void vg_http_stats_get(vg_http *h, vg_http_stats *out);

#endif
