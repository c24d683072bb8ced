/*
 * vg_telemetry: a measured picture of where memory goes. A registry of named
 * sources (pools, bounded tables, models) plus process figures (RSS, peak
 * RSS, heap in use) and GPU memory when a GPU is present, sampled into a
 * snapshot taken at create; a periodic report; a leak guard that fits the
 * RSS slope over a sliding window; a Prometheus endpoint on 127.0.0.1.
 * Streams (cameras, files) register too: their state, counters, last error
 * and time in each state are sampled with the rest.
 *
 *   vg_telemetry_opts o;
 *   vg_telemetry_opts_default(&o);
 *   o.interval_s = 10;
 *   vg_telemetry *t;
 *   vg_telemetry_create(ctx, &o, &t);
 *   vg_telemetry_add_pool(t, pool, &pool_id);
 *   vg_telemetry_add_table(t, "tracker", tracker_size_fn, tracker, NULL);
 *   vg_telemetry_add_stream(t, "cam1", cam_fill_fn, cam, &cam_id);
 *   vg_metrics_server *m;
 *   vg_metrics_server_start(ctx, t, 9090, &m);   // optional
 *   while (frames) { ...; vg_telemetry_tick(t); }  // once per frame
 *   vg_telemetry_sample(t, vg_clock_ns() / 1e9);
 *   vg_telemetry_report(t, stderr);               // the report at exit
 *   vg_metrics_server_stop(&m);
 *   vg_telemetry_destroy(&t);
 *
 * Memory: every table the telemetry needs (registry, snapshot, RSS ring) is
 * allocated at create; adding sources, sampling, reporting and serving
 * allocate nothing. GPU figures come from NVML (libnvidia-ml.so.1, opened at
 * run time) and, when the CUDA runtime is already loaded in the process (by
 * ONNX Runtime's CUDA provider), from its cudaMemGetInfo; both are optional
 * and skipped without a GPU. The library handles belong to the telemetry.
 *
 * Thread-safety: every vg_telemetry function takes the telemetry's mutex, so
 * they may be called from any thread; source callbacks run in the thread
 * that samples (sample/tick), which should be the thread that owns the
 * sources' state (the pipeline thread). The metrics server only reads the
 * latest published snapshot under that mutex.
 */
#ifndef VIGIL_TELEMETRY_H
#define VIGIL_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/context.h"
#include "vigil/pool.h"

#define VG_TELEMETRY_NAME_MAX 48     /* names are truncated to 47 bytes */
#define VG_TELEMETRY_LEAK_SAMPLES 60 /* RSS samples in the leak window */
#define VG_TELEMETRY_MAX_GPUS 8
#define VG_TELEMETRY_STATE_MAX 16    /* state names: at most 15 bytes */
#define VG_TELEMETRY_STREAM_STATES 8 /* state rows per stream */
#define VG_TELEMETRY_ERROR_MAX 160   /* last errors: at most 159 bytes */

typedef struct vg_telemetry vg_telemetry;

typedef struct vg_telemetry_opts {
    double interval_s; /* tick reports every interval_s; <= 0: never (10) */
    double leak_slope_bytes_per_s; /* leak guard threshold (1 MiB/s) */
    double window_s; /* span of the leak window, > 0 (60): the guard takes
                        one RSS sample every window_s / 60 seconds */
    int max_pools, max_tables, max_models; /* registry capacity (16 each) */
    int max_streams;                       /* stream registry capacity (64) */
    FILE *report_file; /* periodic reports go here; NULL: vg_log at info */
    int gpu;           /* 1 (default): read GPU memory when present */
} vg_telemetry_opts;

/* Scalar figures of the latest sample and of the leak guard. */
typedef struct vg_telemetry_stats {
    double time_s;    /* time of the latest sample (0: none yet) */
    uint64_t samples; /* vg_telemetry_sample calls (incl. by tick) */
    uint64_t reports; /* periodic reports printed by tick */
    uint64_t rss_bytes, peak_rss_bytes;
    uint64_t heap_bytes; /* mallinfo2: uordblks + hblkhd */
    int n_pools, n_tables, n_models, n_streams;
    int gpu_count; /* GPUs NVML reports (0: none or no NVML) */
    uint64_t gpu_used_bytes[VG_TELEMETRY_MAX_GPUS];
    uint64_t gpu_total_bytes[VG_TELEMETRY_MAX_GPUS];
    int cuda_valid; /* 1 when the CUDA runtime figures below are set */
    uint64_t cuda_free_bytes, cuda_total_bytes;
    double leak_slope_bytes_per_s; /* least-squares fit over the window */
    int leak_window_samples;       /* 0..VG_TELEMETRY_LEAK_SAMPLES */
    int leak_suspected;     /* 1 while the window is full and over threshold */
    uint64_t leak_warnings; /* warnings logged (at most one per window) */
} vg_telemetry_stats;

/* Size and capacity of a bounded table, e.g. tracker slots or rule-state
 * entries. Called from the sampling thread, with the telemetry's mutex held:
 * it must not call back into the telemetry. */
typedef void (*vg_telemetry_table_fn)(void *user, size_t *size,
                                      size_t *capacity);

/* What a stream reports at each sample: a plain struct its fill function
 * writes. The telemetry zeroes it before each call and, after it, ends every
 * string at its last byte and appends the current state to state_names
 * (with 0 s) when it is missing and a row is free. */
typedef struct vg_telemetry_stream {
    /* Current state: "connecting", "live", "stalled", "dropped", "backoff",
     * "stopped" (include/vigil/reconnect.h) or "file" for a file input. */
    char state[VG_TELEMETRY_STATE_MAX];
    uint64_t frames;              /* frames processed */
    uint64_t frames_dropped;      /* dropped by a full live queue */
    uint64_t frames_skipped_idle; /* detector skipped by the motion gate */
    uint64_t attempts;            /* connect attempts */
    uint64_t reconnects;          /* attempts after the first */
    uint64_t drops;               /* reads that failed while live */
    uint64_t stalls;              /* stall watchdog firings */
    /* Time spent in each state since the stream began (current included):
     * n_states rows, 0..VG_TELEMETRY_STREAM_STATES. */
    int n_states;
    char state_names[VG_TELEMETRY_STREAM_STATES][VG_TELEMETRY_STATE_MAX];
    double state_seconds[VG_TELEMETRY_STREAM_STATES];
    char last_error[VG_TELEMETRY_ERROR_MAX]; /* "" when none */
} vg_telemetry_stream;

/* Fills *out with a stream's figures. Called from whichever thread samples
 * (a stream thread's tick, the job's wait loop, a report), with the
 * telemetry's mutex held: it must read only thread-safe state (atomics,
 * locked stats) and must not call back into the telemetry. */
typedef void (*vg_telemetry_stream_fn)(void *user, vg_telemetry_stream *out);

void vg_telemetry_opts_default(vg_telemetry_opts *o);

/* Creates a telemetry with the registry capacities of o (NULL: defaults).
 * Returns 0, VG_EINVAL (bad option) or VG_ENOMEM; on failure *out is NULL
 * and nothing is held. Caller destroys. */
int vg_telemetry_create(vg_context *ctx, const vg_telemetry_opts *o,
                        vg_telemetry **out);

/* Destroys t (no metrics server may still use it) and sets *t to NULL;
 * accepts NULL. Sources are not touched. */
void vg_telemetry_destroy(vg_telemetry **t);

/* Registers pool (not owned; it must stay alive until removed or until the
 * telemetry is destroyed). *id (may be NULL) receives the handle for
 * vg_telemetry_remove. Returns 0, VG_EINVAL or VG_ERANGE (registry full). */
int vg_telemetry_add_pool(vg_telemetry *t, vg_pool *pool, int *id);

/* Registers a bounded table read through fn(user, ...) at each sample; name
 * is copied. Returns 0, VG_EINVAL or VG_ERANGE (registry full). */
int vg_telemetry_add_table(vg_telemetry *t, const char *name,
                           vg_telemetry_table_fn fn, void *user, int *id);

/* Registers a stream read through fn(user, ...) at each sample; name is
 * copied (truncated to VG_TELEMETRY_NAME_MAX - 1 bytes). user must stay
 * valid until vg_telemetry_remove(id) returns: after that fn is never
 * called again. Returns 0, VG_EINVAL or VG_ERANGE (registry full, message
 * in ctx). */
int vg_telemetry_add_stream(vg_telemetry *t, const char *name,
                            vg_telemetry_stream_fn fn, void *user, int *id);

/* Copies the latest published figures of the stream called name into *out.
 * Returns 0, VG_EINVAL, or VG_ENOENT when the latest sample has no such
 * stream. Thread-safe. */
int vg_telemetry_stream_get(vg_telemetry *t, const char *name,
                            vg_telemetry_stream *out);

/* Labels a registered pool or table with the stream (camera) that owns it,
 * so that several cameras' pools and tables of the same name stay apart:
 * stream="NAME" in the Prometheus series, "stream" in the JSON, NAME/ in
 * the text report. Returns 0 or VG_EINVAL (unknown id). */
int vg_telemetry_set_owner(vg_telemetry *t, int id, const char *stream);

/* Unregisters a pool, table or stream; unknown ids are ignored. The next
 * sample no longer shows it. */
void vg_telemetry_remove(vg_telemetry *t, int id);

/* Sets (adds or updates, keyed by name) a model's state ("resident",
 * "evicted", "loading", ...; copied, truncated to 15 bytes) and footprint.
 * Returns 0, VG_EINVAL or VG_ERANGE (registry full). */
int vg_telemetry_set_model(vg_telemetry *t, const char *name, const char *state,
                           uint64_t host_bytes, uint64_t device_bytes);
void vg_telemetry_remove_model(vg_telemetry *t, const char *name);

/* Takes a sample at now_s (seconds on any monotonic scale, e.g.
 * vg_clock_ns() / 1e9) and publishes it for reports and the metrics server.
 * Feeds the leak guard when at least window_s / 60 passed since its last
 * RSS sample. Never allocates. */
void vg_telemetry_sample(vg_telemetry *t, double now_s);

/* Called once per frame: samples for the leak guard when one is due, and
 * every interval_s prints the report (report_file, or vg_log at info).
 * vg_telemetry_tick uses the monotonic clock; _tick_at takes the time. */
void vg_telemetry_tick(vg_telemetry *t);
void vg_telemetry_tick_at(vg_telemetry *t, double now_s);

/* Feeds one RSS sample to the leak guard directly (tests, or a caller that
 * measures RSS itself), then evaluates the guard: when the window holds
 * VG_TELEMETRY_LEAK_SAMPLES samples and the slope exceeds the threshold, a
 * warning is logged, at most once per window_s. */
void vg_telemetry_feed_rss(vg_telemetry *t, double time_s, uint64_t rss);

void vg_telemetry_stats_get(vg_telemetry *t, vg_telemetry_stats *out);

/* Prints the latest sample as a human-readable memory report (one line per
 * source), sampling first when nothing was sampled yet. Returns 0 or VG_EIO
 * (write failed). */
int vg_telemetry_report(vg_telemetry *t, FILE *f);

/* Same figures as one JSON object (no trailing newline), to embed in
 * report.json. Returns 0 or VG_EIO. */
int vg_telemetry_report_json(vg_telemetry *t, FILE *f);

/* Formats the latest sample in Prometheus text exposition format (0.0.4)
 * into buf (NUL-terminated) and sets *len. When it does not fit, output is
 * cut after the last whole line and VG_ERANGE is returned; 0 otherwise. */
int vg_telemetry_format_prometheus(vg_telemetry *t, char *buf, size_t cap,
                                   size_t *len);

/* ---- Prometheus endpoint ------------------------------------------------
 * A small HTTP/1.x server thread bound to 127.0.0.1 only. GET /metrics gives
 * vg_telemetry_format_prometheus's text; HEAD /metrics the same head (the
 * real Content-Length) without the body; other paths 404, other methods 405,
 * a malformed request line 400, a head over max_header_bytes 431, a head not
 * complete within timeout_s of the accept 408. Every response carries
 * Content-Length and Connection: close (no keep-alive: each scrape is one
 * connection, so no idle connection outlives its response).
 *
 * One thread runs a poll() loop over non-blocking sockets, so a slow or
 * silent client never delays another. Each connection has one deadline per
 * phase, measured on the options' clock: the whole request head must arrive
 * within timeout_s of the accept however the bytes trickle in; the response
 * must then be taken by the client within timeout_s; after the response the
 * server half-closes and waits up to timeout_s for the client to close.
 * Deadlines are checked at least every 100 ms while a connection is open.
 *
 * At most max_connections are open at once. When the table is full, a new
 * connection is still accepted and the oldest connection whose request is
 * not complete yet is dropped to make room (else the oldest one closing,
 * else the oldest one being answered): a flood of silent connections thus
 * only ever delays itself, and a client that sends its request promptly is
 * served. Counted in vg_metrics_server_stats.evicted.
 *
 * Memory: the connection table (with a max_header_bytes request buffer per
 * connection) and two page buffers are taken at start; nothing is allocated
 * per request. The page is rendered into a free page buffer under the
 * telemetry's mutex (a few microseconds of formatting, no I/O) and sent from
 * there. While both page buffers are still being sent to slow readers, a new
 * request gets the newest page already rendered (at most 2 * timeout_s old).
 * A page over VG_METRICS_PAGE_CAP is cut after its last whole line and a
 * warning logged once. */
typedef struct vg_metrics_server vg_metrics_server;

#define VG_METRICS_PAGE_CAP (256 * 1024)

typedef struct vg_metrics_server_opts {
    int port;             /* 0 (default): an ephemeral port */
    int max_connections;  /* open connections at once, >= 1 (64) */
    int max_header_bytes; /* request line plus headers, 64..1 MiB (8192) */
    double timeout_s;     /* per-phase deadline, > 0 (2) */
    /* Clock in seconds (monotonic); NULL: vg_clock_ns. Called from the
     * server thread only. For tests. */
    double (*now)(void *user);
    void *now_user;
} vg_metrics_server_opts;

/* Counters since start; every field is read atomically on its own. */
typedef struct vg_metrics_server_stats {
    uint64_t accepted;  /* connections accepted */
    uint64_t requests;  /* requests answered, any status but 408 */
    uint64_t timed_out; /* connections closed at a deadline */
    uint64_t evicted;   /* connections dropped to make room */
    uint64_t too_large; /* requests answered 431 */
    int open;           /* connections open now */
} vg_metrics_server_stats;

void vg_metrics_server_opts_default(vg_metrics_server_opts *o);

/* Starts serving t on 127.0.0.1:o->port (o NULL: defaults; see
 * vg_metrics_server_port). t must outlive the server. Returns 0, VG_EINVAL
 * (bad option), VG_ENOMEM or VG_ENET (socket, bind or listen failed;
 * message in ctx); on failure *out is NULL and nothing is held. */
int vg_metrics_server_start_opts(vg_context *ctx, vg_telemetry *t,
                                 const vg_metrics_server_opts *o,
                                 vg_metrics_server **out);

/* vg_metrics_server_start_opts with the defaults and the given port
 * (0..65535; 0: ephemeral). */
int vg_metrics_server_start(vg_context *ctx, vg_telemetry *t, int port,
                            vg_metrics_server **out);

/* The TCP port the server is bound to. */
int vg_metrics_server_port(const vg_metrics_server *s);

/* Requests answered (any status but 408). Thread-safe. */
uint64_t vg_metrics_server_requests(vg_metrics_server *s);

/* Copies the counters into *out (zeroes for s NULL). Thread-safe. */
void vg_metrics_server_stats_get(vg_metrics_server *s,
                                 vg_metrics_server_stats *out);

/* Wakes the thread (self-pipe), which closes every connection without an
 * answer and exits; joins it, closes the sockets, frees everything and sets
 * *s to NULL. Returns promptly with clients connected. Accepts NULL. */
void vg_metrics_server_stop(vg_metrics_server **s);

#endif
