/*
 * vg_job: the running CCTV job of many cameras (its configuration is
 * vg_job_config, include/vigil/job.h). Every camera (stream) runs at the same
 * time on its own threads (decode, detect-track-rules, sinks;
 * include/vigil/run.h), all served by ONE detector behind a cross-stream
 * batcher (include/vigil/batcher.h): a frame waits at most max_wait_ms for
 * frames of other cameras and runs with them as one batch (models whose batch
 * is fixed at 1 run one frame at a time). Tracking, rules, snapshots, tracks
 * and video stay per stream; one event store (OUT/events.db, OUT/events.jsonl)
 * is shared and every event names its camera. With per_stream_dirs each camera
 * writes under OUT/NAME/ (tracks.txt, annotated.mp4, snapshots/), else under
 * OUT/.
 *
 *   vg_job_opts o;
 *   vg_job_opts_from_settings(&settings, &o);  // the ONE mapping
 *   o.out_dir = "out"; o.rules = &rules; o.residency = r;
 *   o.model_name = "detector"; o.model_path = path;
 *   vg_job *job;
 *   vg_job_create(ctx, &o, &job);
 *   vg_job_stream_opts so = {.input = "rtsp://cam1/live"};
 *   vg_job_add_stream(job, &so, NULL);          // before or after start
 *   vg_job_start(job);
 *   vg_job_wait(job);       // every stream ended (files) or stopped
 *   vg_job_stop(job);       // graceful: outputs finished, events committed
 *   vg_job_write_report(job, &extra, "out/report.json");
 *   vg_job_destroy(&job);
 *
 * Thread-safety: add, remove, status, stop, wait and the counters may be
 * called from any thread while the job runs. A stop requested on ctx (a
 * signal) stops every stream (each stream runs with a child context of
 * ctx, so removing one stops only it).
 * Memory: the stream table is fixed (VG_JOB_MAX_STREAMS slots, reused when
 * every slot is taken by a removed or ended stream); per-frame work takes
 * nothing from the heap.
 */
#ifndef VIGIL_JOBRUN_H
#define VIGIL_JOBRUN_H

#include <stdint.h>
#include <stdio.h>

#include "vigil/batcher.h"
#include "vigil/detect.h"
#include "vigil/events.h"
#include "vigil/job.h"
#include "vigil/residency.h"
#include "vigil/rules.h"
#include "vigil/run.h"
#include "vigil/telemetry.h"

struct vg_plan;
struct vg_staged_stats;

#define VG_JOB_MAX_STREAMS VG_RUN_MAX_STREAMS
#define VG_JOB_DEFAULT_BATCH 8 /* frames per inference at most, by default */

typedef struct vg_job vg_job;

typedef struct vg_job_opts {
    const char *out_dir; /* created if needed (copied) */
    /* Per-stream defaults (tracker, events, snapshots, video, queue depth,
     * timeouts, reconnect, detection rate, motion); out_dir, stream_name,
     * suffix, rules, detect, events_shared, should_stop, progress and user
     * are set by the job. */
    vg_run_opts run;
    vg_detector_opts detector;
    const vg_rules_config *rules; /* a stream's rules when it brings none;
                                     borrowed, may be NULL */
    /* The detector model: acquired from residency (borrowed, required) by
     * model_name, loaded from model_path; released at destroy. */
    vg_residency *residency;
    const char *model_name;
    const char *model_path;
    int max_batch;           /* frames per inference; 0: as the model allows, at
                                most the number of streams and 8 */
    double max_wait_ms;      /* wait for companions (5) */
    int per_stream_dirs;     /* 1: OUT/NAME/ per stream (default 1) */
    vg_telemetry *telemetry; /* borrowed, may be NULL */
    /* Called from stream threads after each frame (any thread; keep it
     * short); NULL: none. */
    void (*progress)(void *user, int stream, int64_t frames);
    void *user;
} vg_job_opts;

/* The defaults: vg_run_opts_default, vg_detector_opts_default, batching
 * as the model allows, per-stream directories. */
void vg_job_opts_default(vg_job_opts *o);

/* The one settings -> job options mapping (detector, tracker, events,
 * snapshots, video, queue depth, timeouts) used by `vigil run`, `vigil
 * bench run` and the service, over the defaults. Pointers into s: o is
 * valid while s is. */
void vg_job_opts_from_settings(const vg_settings *s, vg_job_opts *o);

typedef struct vg_job_stream_opts {
    const char *input; /* file, device or URL (required; copied) */
    const char *name;  /* camera name, [A-Za-z0-9_-], unique in the job;
                          NULL: from the input (vg_stream_names) */
    const vg_rules_config *rules; /* NULL: the job's; borrowed, must
                                     outlive the stream */
    /* This camera's own settings (tracker, detection rate, motion gate,
     * snapshots, video, reconnect, ...; copied at add) in place of the
     * job's run options; the job sets the same fields as for those.
     * NULL: the job's. */
    const vg_run_opts *run;
    /* An open source of input (taken over in every case, *source set to
     * NULL), so that an input is opened once; NULL: the stream opens it. */
    vg_source **source;
    /* The caller's own open of input already failed with this code and
     * message (a live camera then counts it as its first attempt). */
    int first_open_code;
    const char *first_open_error;
    /* 1: a file camera starts again at the end of its input, for ever
     * (vg_run_opts.loop: times and frame indexes keep increasing); set over
     * the run options (the job's or run's). Ignored for live inputs. */
    int loop;
} vg_job_stream_opts;

enum vg_job_stream_state {
    VG_JOB_STREAM_ADDED = 0, /* waiting for vg_job_start */
    VG_JOB_STREAM_RUNNING,
    VG_JOB_STREAM_ENDED,   /* its input ended, failed or it was stopped */
    VG_JOB_STREAM_REMOVED, /* removed: outputs finished, events kept */
};

typedef struct vg_job_stream_status {
    char name[VG_STREAM_NAME_MAX];
    char input[VG_PATH_MAX];
    int state;      /* enum vg_job_stream_state */
    int64_t frames; /* frames done so far */
    /* Live figures while it runs (issue 10; CONTRACT, filled by the job):
     * fps and detect_fps over the last 3 s of the monotonic clock (a
     * camera that stops delivering decays to 0 within it; 0 unless
     * running); the others as last known, also once ended. */
    double fps;             /* frames per second over the last seconds */
    double detect_fps;      /* detector runs per second, same window */
    int64_t frames_dropped; /* live queue drops */
    int64_t reconnects;
    int live_state;       /* enum vg_reconnect_state; -1 for files */
    int64_t memory_bytes; /* this camera's pools and buffers: frame pools,
                             sink queue, live view pictures, run state */
    int width, height;    /* the picture (0 until the stream has started) */
    int end_code;         /* when ended: 0 (end of input, stopped) or VG_E* */
    char message[256];    /* when it failed: the one-line error */
    /* The run's figures when ended or removed (zero before). */
    vg_run_stats stats;
} vg_job_stream_status;

/* Creates the job: acquires the detector, creates out_dir, starts nothing
 * (the event store is opened by vg_job_start). Returns 0, VG_EINVAL (bad
 * options), or the code of the failing part with the message in ctx; *out is
 * NULL on failure and nothing is held. */
int vg_job_create(vg_context *ctx, const vg_job_opts *o, vg_job **out);

/* Adds a camera. Refused, with a one-line error naming the input and the
 * cause and nothing else changed: VG_EINVAL (no input, a malformed URL, a
 * bad name), VG_ECONFIG (zones outside the picture of an open source),
 * VG_ENOENT (a path that does not exist), VG_EEXIST (a camera
 * of that name is in the job), VG_ERANGE (VG_JOB_MAX_STREAMS running).
 * Started at once when the job runs. *index (may be NULL) receives its
 * index for vg_job_stream_get. */
int vg_job_add_stream(vg_job *j, const vg_job_stream_opts *so, int *index);

/* Removes the camera called name: it stops, its outputs are finished
 * (video finalised, tracks written) and its events kept; returns when it
 * is done. Returns 0, or VG_ENOENT (no running or added camera of that
 * name: never added, or removed already), nothing else changed. */
int vg_job_remove_stream(vg_job *j, const char *name);

/* Opens the event store (OUT/events.db, OUT/events.jsonl), starts the
 * inference thread and every stream added so far. Returns 0, VG_EBUSY
 * (started already), the store's open error or VG_ENOMEM. */
int vg_job_start(vg_job *j);

/* Waits until no stream runs (every input ended, failed or stopped).
 * Returns at once when none was started. */
void vg_job_wait(vg_job *j);

/* Stops every stream (graceful: committed events kept, videos finalised)
 * and the inference thread; waits for them. Idempotent. Returns 0 or the
 * event store's final commit error. */
int vg_job_stop(vg_job *j);

/* Number of stream slots in use (running, ended or removed), and the
 * status of slot index (0..count-1). Returns 0 or VG_EINVAL. */
int vg_job_stream_count(vg_job *j);
int vg_job_stream_get(vg_job *j, int index, vg_job_stream_status *out);

/* The batcher's and the event store's counters. */
typedef struct vg_job_stats {
    int streams_running;
    int max_batch; /* batch size chosen */
    vg_batcher_stats batcher;
    uint64_t batch_sizes[VG_BATCHER_MAX_BATCH + 1]; /* [k]: batches of k */
    vg_events_stats store;
} vg_job_stats;
void vg_job_stats_get(vg_job *j, vg_job_stats *out);

/* What report.json says beyond the job itself (all may be 0/NULL). */
typedef struct vg_job_report_extra {
    const char *config;       /* config file */
    const char *model;        /* model file */
    const char *status;       /* "ok", "error", "interrupted", ... */
    const char *error;        /* the job's one-line error or "" */
    const vg_job_config *job; /* budget, kind */
    const struct vg_plan *plan;
    vg_residency *residency;
    vg_telemetry *telemetry;
    uint64_t baseline_rss;
    const struct vg_staged_stats *staged; /* the staged job instead */
} vg_job_report_extra;

/* Writes report.json (docs/report.md) for j (NULL for the staged job) to
 * path, whole or not at all (temporary file renamed). Returns 0 or VG_EIO
 * with the message in ctx. */
int vg_job_write_report(vg_context *ctx, vg_job *j,
                        const vg_job_report_extra *x, const char *path);

/* "added", "running", "ended", "removed". */
const char *vg_job_stream_state_name(int state);

/* Stops (vg_job_stop) and frees the job; sets *j to NULL; accepts NULL. */
/* ---- Hooks for vigil serve (issue 10; CONTRACT: the serve code uses
 * these names) ----
 * A camera is "in the job" while added, running or ended (not removed);
 * the others answer VG_ENOENT (message in the job's context). */

/* Viewers of camera's live picture: delta +1 / -1. While a camera has at
 * least one viewer its stream thread copies each annotated frame into the
 * camera's preallocated latest-frame slot; with none it copies nothing.
 * Returns the viewer count (never below 0), or VG_ENOENT.
 * The slot is two pictures of the camera's size, allocated when its stream
 * starts; the annotations are those of the annotated video (zones, lines,
 * track boxes and ids, recent events), drawn into the slot's copy when no
 * video is written. A frame arriving while both pictures are being read
 * is not kept. */
int vg_job_watch(vg_job *j, const char *camera, int delta);

/* Copies camera's newest annotated frame when its sequence number is newer
 * than *seq: packed RGB24, scaled down to at most max_width pixels wide
 * (aspect kept; 0: full size), into buf (cap bytes). Returns 1 (copied;
 * *seq, *w, *h set), 0 (nothing newer), VG_ENOENT, VG_ERANGE (cap too
 * small). Any thread; never blocks the stream for longer than a copy.
 * Sequence numbers start at 1 and grow by one per picture kept; pass 0 for
 * whatever is there. Scaling (box filter, height rounded, at least 1) runs
 * on the caller's thread. The last picture stays readable after the
 * camera is unwatched or has ended. */
int vg_job_frame_get(vg_job *j, const char *camera, int max_width,
                     uint64_t *seq, uint8_t *buf, size_t cap, int *w, int *h);

/* Replaces camera's zones and rules while it runs (cfg copied; applied
 * before its next frame; rules whose definition changed start from a clean
 * state, the others keep theirs). Returns 0, VG_ENOENT, or VG_ECONFIG with
 * the message in the job's context (cfg checked against the camera's
 * frame size). Given before the camera's first frame (added, or starting),
 * the rules replace its configured ones from its start; when its frame
 * size is not known yet they are checked without it now and against it at
 * the start, where rules that do not fit are logged and the configured
 * ones used. The last call before a frame wins; an ended camera accepts
 * and ignores them. Rules added while running that the telemetry did not
 * know at the start are not in its rule_state table. */
int vg_job_set_rules(vg_job *j, const char *camera, const vg_rules_config *cfg);

/* The job's output directory (owned by the job), home of its event
 * database (events.db), for read-only queries. */
const char *vg_job_out_dir(const vg_job *j);

void vg_job_destroy(vg_job **j);

#endif
