/*
 * vg_run_stream: the CCTV monitoring job on one stream. Three threads joined
 * by bounded queues:
 *
 *   decode thread          caller's thread                 sink thread
 *   source → tensor  ──►   [rate, motion gate]      ──►    events (SQLite +
 *   + picture (pools)      detect → track → rules          JSONL), snapshots,
 *   (live: the full        or predict (skipped)            tracks.txt, overlay
 *   queue drops its        (forget ended tracks)           → annotated video
 *   oldest frame)
 *
 *   vg_run_opts o;
 *   vg_run_opts_from_settings(&settings, &o); // or vg_run_opts_default(&o)
 *   o.out_dir = "out";
 *   o.rules = &rules_cfg;                    // from vg_rules_load()
 *   vg_run_stats st;
 *   rc = vg_run_stream(ctx, "vtest.avi", det, &o, &st);
 *
 * Returns 0 (end of input, or stopped by o.should_stop), VG_ETRUNCATED (the
 * input was cut off: every frame before the cut went through every stage),
 * or the code of the stage that failed (message in ctx). The video file and
 * the event store are finalised in every case. No heap allocation per frame.
 */
#ifndef VIGIL_RUN_H
#define VIGIL_RUN_H

#include <pthread.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/events.h"
#include "vigil/motion.h"
#include "vigil/reconnect.h"
#include "vigil/residency.h"
#include "vigil/rules.h"
#include "vigil/snapshot.h"
#include "vigil/source.h"
#include "vigil/telemetry.h"
#include "vigil/track.h"
#include "vigil/video_writer.h"

#define VG_RUN_MAX_TRACKS 256 /* tracks carried per frame to the sinks */
#define VG_RUN_MAX_EVENTS 32  /* events raised per frame */
#define VG_RUN_MAX_STREAMS 64 /* inputs of one job */
#define VG_STREAM_NAME_MAX 64 /* stream name, with its terminating NUL */

/* Gives each of n inputs a distinct, stable name: the base name of its path
 * without extension ("a/cam.mp4" → "cam"; a URL's host, user info and query
 * are left out), with parent components added while two names are equal
 * ("a/cam.mp4", "b/cam.mp4" → "a_cam", "b_cam"), and "-2", "-3" for the same
 * input given twice. Only [A-Za-z0-9_-] appear, so a name is safe in a file
 * name. The same inputs always give the same names. Returns 0, or VG_EINVAL
 * for n outside 0..VG_RUN_MAX_STREAMS. Thread-safe. */
int vg_stream_names(vg_context *ctx, const char *const *inputs, int n,
                    char (*names)[VG_STREAM_NAME_MAX]);

typedef struct vg_run_opts {
    const char *out_dir;     /* created if needed */
    const char *stream_name; /* NULL: the input's base name */
    const char *suffix; /* appended to tracks/annotated file names, or NULL */
    const vg_rules_config *rules; /* NULL: no rules (tracks only) */
    vg_tracker_opts tracker;      /* fps is taken from the stream when 0 */
    /* Conditional re-identification (include/vigil/track.h): with
     * reid_enabled the run creates a person embedder at the stream's start
     * (include/vigil/reid.h: reid_model "" the colour histogram, else that
     * ONNX ReID model) and the tracker embeds, from the frame's picture,
     * the detections whose identity is at risk. reid.weight,
     * .max_cos_distance and .risk_iou apply; .dim, .embed and .user are
     * the run's. An embed that fails leaves that detection to IoU (counted
     * in tracker.reid_failed, the first one logged). Default off. */
    int reid_enabled;
    char reid_model[VG_PATH_MAX];
    vg_reid_opts reid;
    vg_events_opts events;
    vg_snapshots_opts snapshots;
    int write_snapshots; /* default 1 */
    vg_video_writer_opts video;
    int write_video; /* default 1 */
    /* tracks.txt stops when writing would leave less free space on the
     * device (default 256 KiB, kept for the events; 0: only on ENOSPC).
     * The video and snapshots have their own (video.min_free_bytes,
     * snapshots.min_free_bytes): the video stops first, then snapshots,
     * then tracks; the events go on. */
    uint64_t tracks_min_free_bytes;
    unsigned queue_depth; /* each of the two queues (default 4) */
    int64_t max_frames;   /* frames read, a live input's dropped ones
                             included; <= 0: all */
    int timeout_ms;       /* network timeout for the source */
    /* Polled once per frame in the caller's thread; non-zero stops the run
     * (what was decoded so far is finished and written). */
    int (*should_stop)(void *user);
    /* Memory telemetry (borrowed, may be NULL): the job registers its frame
     * pools and bounded tables for the run's duration and unregisters them
     * before it returns. Tick it from `progress` (the caller's thread). */
    vg_telemetry *telemetry;
    /* The residency that owns det's session (borrowed, may be NULL) and the
     * model's name there: an inference that runs out of memory goes down
     * its ladder (vg_residency_recover) before the stream stops. */
    vg_residency *residency;
    const char *model_name;
    /* Called once per frame with the number of frames done. */
    void (*progress)(void *user, int64_t frames);
    void *user;
    /* Live inputs (network URLs; files never): when a read fails (network,
     * timeout, end of stream) or a connection cannot be made, the stream
     * waits (backoff, stop-aware) and reconnects to the same URL as this
     * says (vg_reconnect_defaults(); max_attempts 0: for ever). The stream
     * keeps its name, its indexes and times go on, the tracker starts
     * afresh (the rules forget the old tracks). A new picture size ends the
     * stream with an error. reconnect_enabled 0: end at the first failure. */
    vg_reconnect_opts reconnect;
    int reconnect_enabled; /* default 1 */
    /* vg_run_stream: the caller's own first open of the input already
     * failed with this (counted as the first attempt); 0 / NULL: none. */
    int first_open_code;
    const char *first_open_error;
    /* Shared detection (a job's detector behind its cross-stream batcher):
     * called from the stream's thread in place of vg_detector_run on det,
     * with the same contract (dets in source pixels, *n set; returns 0 or a
     * VG_E* code with the message in ctx). det is then only read (its input
     * spec and class names). NULL: det is run here, on the stream's thread
     * (with the residency ladder). */
    int (*detect)(void *user, const vg_frame *frame, vg_detection *dets,
                  int cap, int *n);
    void *detect_user;
    /* A shared event store (borrowed: the job's, for every stream), used
     * under events_lock (required with it) so that an event's insert, its
     * snapshot and the snapshot's path are one step; the run neither opens
     * nor closes it. NULL: the run opens OUT/events.db itself. */
    vg_events *events_shared;
    pthread_mutex_t *events_lock;
    /* Put before the snapshot path stored in the event ("cam1/"): the path
     * relative to the event store's directory when the stream writes under
     * a directory of its own. NULL: none. */
    const char *snapshot_prefix;
    /* 1: the source hands out 8-bit tensors (vg_source_opts.compact_tensor,
     * about a quarter of the pool's bytes); only with detect set, whose
     * owner expands them (vg_tensor_expand). Default 0. */
    int compact_tensor;
    /* Detection rate: the detector runs on the frames VG_RUN_DETECT_AUTO /
     * 0 / a rate in frames per second picks (chosen by the frames' times,
     * so a variable frame rate or dropped frames keep the rate); on the
     * others the tracker predicts (vg_tracker_predict) and the predicted
     * tracks go to the sinks (tracks.txt, the video). The rules run on the
     * detected frames only: they see every position the tracker confirms
     * with a detection, at the detection rate, never a guess. A rate at or
     * above the stream's frame rate is every frame. */
    double detect_fps; /* VG_RUN_DETECT_AUTO (default): every frame for a
                          file, VG_RUN_LIVE_DETECT_FPS for a live input;
                          0: every frame; > 0: that rate */
    /* Motion gating (include/vigil/motion.h), on the frames the detection
     * rate picks: a frame without motion on a stream without active tracks
     * (tentative, tracked or lost) skips the detector, counted in
     * frames_skipped_idle, with a detection at least every
     * motion.max_idle_s (of the frames' times for a file, of the monotonic
     * clock for a live input). motion.width and .height are taken from the
     * stream; a mask whose motion_mask_pixels[i] is 1 is in source pixels
     * (x right, y down, origin top left; a vertex more than 2 px outside
     * the picture is an error when the stream starts), otherwise in
     * fractions 0..1 of the picture, as zones are given in the rules. */
    int motion_enabled; /* default 0 */
    vg_motion_opts motion;
    unsigned char motion_mask_pixels[VG_MOTION_MAX_POLYGONS];
    /* Files (not live inputs, pipes or still images): at the end of the
     * input start again from its first frame, for ever (until stopped or
     * max_frames); frame indexes and times keep increasing, so the tracker
     * and the rules see one continuous stream. Default 0. */
    int loop;
    /* A job's live hooks for this stream (vg_job: the latest annotated
     * picture while watched, rules replaced while running, live figures);
     * internal to libvigil (pipeline/pipeline_internal.h). NULL: none. */
    struct vgi_live *live;
} vg_run_opts;

#define VG_RUN_DETECT_AUTO (-1.0)
#define VG_RUN_LIVE_DETECT_FPS 5.0

/* A latency distribution: a fixed histogram (log-spaced buckets, 10 per
 * decade from 10 us to 1000 s); a percentile is its bucket's upper edge
 * (within 26 % above the true value). Zero when count is 0. */
typedef struct vg_latency_stats {
    int64_t count;
    double p50_ms, p99_ms, max_ms;
} vg_latency_stats;

typedef struct vg_run_stats {
    int width, height;
    double fps;
    int64_t frames;
    int64_t detections;
    int64_t events;
    int64_t events_by_kind[4]; /* enum vg_event_kind */
    int64_t snapshots;
    int64_t snapshot_failures;
    int64_t video_frames; /* frames written to the annotated video */
    int video_stopped;    /* 1: the video stopped early (disk space or a
                             write error; said once in the log) */
    int tracks_stopped;   /* 1: tracks.txt stopped early (the same) */
    double wall_s;
    double decode_busy_s, infer_busy_s, track_busy_s, rules_busy_s, sink_busy_s;
    double motion_busy_s; /* deciding whether to detect (the motion gate) */
    unsigned decode_queue_high_water, sink_queue_high_water;
    /* Detection rate and motion gating: frames = frames_detected +
     * frames_skipped_rate + frames_skipped_idle. */
    double detect_fps;           /* the rate used; 0: every frame */
    int motion_enabled;          /* 1: the motion gate ran */
    int64_t frames_detected;     /* frames the detector ran on */
    int64_t frames_skipped_rate; /* left out by the detection rate */
    int64_t frames_skipped_idle; /* left out by the motion gate */
    int64_t motion_forced;       /* detections forced by max_idle_s */
    /* Live inputs: decoded frames evicted from the full decode queue (the
     * oldest goes) before they reached the detector; never for a file. */
    int64_t frames_dropped;
    /* From a frame's arrival (monotonic clock when the decoder had it) to:
     * its tracks and rules done on the stream's thread, for every frame
     * (latency_frame), and each of its events added to the event store
     * (latency_event; the store commits it within events.max_delay_ms). */
    vg_latency_stats latency_frame, latency_event;
    vg_tracker_stats tracker; /* reid_* counted while ReID is on */
    int reid_enabled;         /* 1: conditional ReID ran */
    char reid_embedder[16];   /* "histogram" or "onnx"; "" when off */
    vg_rules_stats rules;
    vg_events_stats store;
    vg_snapshots_stats snapshot_store;
    int n_rules;
    struct {
        char name[64];
        int kind; /* enum vg_event_kind */
        uint64_t fired, suppressed, crossed_a_to_b, crossed_b_to_a;
    } rule[16]; /* the first 16 rules, config order */
    int live;   /* 1: a live input, reconnect below is filled */
    vg_reconnect_stats reconnect; /* as the stream ended */
    int stopped;                  /* 1 when should_stop ended the run */
    int end_code;                 /* VG_EOF, VG_ETRUNCATED or an error code */
    char end_message[256];
    char tracks_path[1200];
    char video_path[1200];
} vg_run_stats;

void vg_run_opts_default(vg_run_opts *o);

/* Resets *o to vg_run_opts_default and applies the settings of the CCTV
 * job (queue depth, input timeout, tracker and its ReID, events, snapshots,
 * video, detection rate, motion gating): the one settings -> run options
 * mapping every caller uses; the caller then sets what is not a setting
 * (out_dir, rules, stream name, callbacks). Never fails. */
void vg_run_opts_from_settings(const vg_settings *s, vg_run_opts *o);

/* Runs the job on input with detector det (shared: it is only used from the
 * calling thread). Appends to OUT/events.db and OUT/events.jsonl; writes
 * OUT/tracks[SUFFIX].txt (MOTChallenge) and OUT/annotated[SUFFIX].mp4 and
 * snapshots under OUT/snapshots/. stats may be NULL. */
int vg_run_stream(vg_context *ctx, const char *input, vg_detector *det,
                  const vg_run_opts *o, vg_run_stats *stats);

/* The same on an input the caller has already opened (any pre-processing:
 * the run sets its own with vg_source_configure), so that an input is
 * opened once for planning and running. Takes ownership of *src in every
 * case (it is closed and *src set to NULL). */
int vg_run_stream_source(vg_context *ctx, vg_source **src, vg_detector *det,
                         const vg_run_opts *o, vg_run_stats *stats);

#endif
