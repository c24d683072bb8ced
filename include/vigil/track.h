/*
 * vg_tracker: multi-object tracking by detection (ByteTrack): a Kalman filter
 * per track, two-stage IoU association (high-score detections first, then
 * low-score ones against the tracks still unmatched) solved with an optimal
 * linear assignment, and a bounded track store that never grows.
 *
 *   vg_tracker_opts o;
 *   vg_tracker_opts_default(&o);
 *   o.fps = 25.0;                        // the stream's rate: lost_seconds
 *   vg_tracker *t;                       // is converted with it
 *   if (vg_tracker_create(ctx, &o, &t) < 0) { ... }
 *   for each frame:
 *       vg_track out[64]; int n;
 *       vg_tracker_update(t, dets, n_dets, out, 64, &n); // no allocation
 *       // or, on a frame the detector skips: vg_tracker_predict(t, out, 64,
 * &n) const int64_t *gone; int n_gone; vg_tracker_removed(t, &gone, &n_gone);
 * // ended this frame vg_tracker_destroy(&t);
 *
 * Lifecycle: a high-score detection that matches nothing starts a tentative
 * track (VG_TRACK_NEW, no id yet); matched again on the next frame it is
 * confirmed (VG_TRACK_TRACKED) and receives its id, otherwise it is dropped.
 * A confirmed track that misses a frame becomes VG_TRACK_LOST and keeps being
 * predicted; matched again within lost_seconds it returns to TRACKED with the
 * same id, otherwise it is removed. Ids count from 1 and are never reused by
 * one tracker (not even across vg_tracker_reset).
 *
 * Boxes: the box of an output track is the Kalman-filtered box (as ByteTrack
 * reports it); det_box is the detection matched this frame.
 *
 * ByteTrack as published (Zhang et al. 2022 and the authors' code): steps,
 * constants and the few deliberate differences are listed in
 * docs/tracking.md; lost_seconds * fps plays the role of the reference's
 * max_time_lost = frame_rate / 30 * track_buffer frames.
 *
 * Classes: by default a detection only matches a track of its own class
 * (class_agnostic = 1 matches across classes; the track then takes the class
 * of its latest detection).
 *
 * Memory: every track, the cost matrix (max_tracks x max_detections) and the
 * solver's scratch are allocated at create; update, removed, stats and reset
 * allocate nothing. When all max_tracks slots are held, a new track takes the
 * slot of the lost track missing longest (counted as evicted, and reported as
 * removed) or, when none is lost, is refused (counted).
 *
 * Thread-safety: a tracker is used by one thread at a time; trackers are
 * independent of each other.
 */
#ifndef VIGIL_TRACK_H
#define VIGIL_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/context.h"
#include "vigil/detect.h"

typedef struct vg_tracker vg_tracker;

enum vg_track_state {
    VG_TRACK_NEW = 0,     /* tentative: seen once, no id yet */
    VG_TRACK_TRACKED = 1, /* confirmed and matched recently */
    VG_TRACK_LOST = 2,    /* confirmed, unmatched for up to lost_seconds */
    VG_TRACK_REMOVED = 3  /* ended; its slot is free */
};

typedef struct vg_tracker_opts {
    float high_thresh;      /* first-stage detections: score >= (0.5) */
    float low_thresh;       /* second stage: low <= score < high (0.1) */
    float new_track_thresh; /* unmatched high det starts a track (0.6) */
    float match_thresh;     /* stage 1 gate on 1 - IoU (0.8) */
    float low_match_thresh; /* stage 2 gate on 1 - IoU (0.5) */
    float new_match_thresh; /* tentative tracks' gate on 1 - IoU (0.7) */
    double fps;             /* frames per second of the stream (30) */
    double lost_seconds;    /* how long a lost track is kept (3.0) */
    int max_tracks;         /* slots: tentative + tracked + lost (512) */
    int max_detections;     /* most detections per update (512) */
    int class_agnostic;     /* 0 (default): match within a class only */
    int fuse_score; /* 1 (default): IoU x score in the first association and
                       the tentative stage, as ByteTrack (0 = MOT20 mode) */
} vg_tracker_opts;

typedef struct vg_track {
    int64_t id;     /* >= 1 */
    vg_box box;     /* Kalman-filtered box */
    vg_box det_box; /* the detection matched last */
    float score;    /* score of the detection matched last */
    int class_id;
    int state;                 /* enum vg_track_state */
    int64_t age;               /* frames since the track started (1 = new) */
    int64_t hits;              /* detections matched, the first included */
    int64_t time_since_update; /* frames since the last match (0 = now) */
    int reid_ran; /* 1: its detection of this update was embedded (ReID) */
} vg_track;

typedef struct vg_tracker_stats {
    int tracked;         /* confirmed tracks matched recently */
    int lost;            /* confirmed tracks in the lost buffer */
    int tentative;       /* tracks seen once, not yet confirmed */
    int64_t frames;      /* updates so far */
    int64_t created;     /* tracks started (tentative ones included) */
    int64_t confirmed;   /* ids handed out */
    int64_t removed;     /* confirmed tracks ended (evicted included) */
    int64_t evicted;     /* lost tracks ended early to make room */
    int64_t refused;     /* new tracks not started: every slot was busy */
    size_t bytes_held;   /* heap held by the tracker; fixed at create */
    int max_lost_frames; /* lost_seconds * fps, rounded */
    int64_t duplicates;  /* tracks dropped as duplicates of another */
    /* re-identification (vg_tracker_set_reid), counted while it is on */
    int64_t reid_detections; /* valid detections seen */
    int64_t reid_embedded;   /* embeddings computed (embed calls that worked) */
    int64_t reid_rescued;    /* tracks whose match appearance changed */
    int64_t reid_failed;     /* embed calls that returned an error */
} vg_tracker_stats;

void vg_tracker_opts_default(vg_tracker_opts *o);

/* ---- conditional re-identification ---------------------------------------
 * The tracker asks for an appearance embedding only for the detections whose
 * identity is at risk: a detection that could match a confirmed track whose
 * predicted box overlaps another track's (now, or within a few frames at
 * their velocities: they are about to cross), or that could match a lost
 * track (it may be coming back). Each track keeps an exponential moving
 * average of its embeddings (in storage taken by vg_tracker_set_reid); in the
 * first association a pair where both sides have an embedding costs
 * (1 - weight) * IoU cost + weight * cosine distance, and a pair farther apart
 * than max_cos_distance may not match. docs/tracking.md has the details. */

/* Fills out[0..dim) with the L2-normalised embedding of dets[det_index] of the
 * vg_tracker_update call in progress (called from inside it, on its thread,
 * at most once per detection and update). Returns 0 or a negative VG_E*
 * code. */
typedef int (*vg_reid_embed_fn)(void *user, int det_index, float *out, int dim);

typedef struct vg_reid_opts {
    int dim;                /* embedding length, 1..4096 (128) */
    vg_reid_embed_fn embed; /* required */
    void *user;             /* passed to embed */
    float weight;           /* appearance weight in the cost, [0, 1] (0.5) */
    float max_cos_distance; /* farther pairs may not match, [0, 2] (0.5) */
    float risk_iou; /* predicted boxes overlapping more than this = at risk,
                       [0, 1) (0.3) */
} vg_reid_opts;

void vg_reid_opts_default(vg_reid_opts *o);

/* Turns re-identification on with o (copied), or off with o NULL. Takes
 * max_tracks + max_detections embeddings and a second cost matrix from the
 * heap here (so update still allocates nothing); turning it off or on again
 * frees them and forgets every track's embedding. Returns 0, VG_EINVAL (t
 * NULL, embed NULL, an option out of range: the message names it) or
 * VG_ENOMEM; on failure re-identification is off. Not while an update runs.
 *
 * An embed error does not stop the update: the detection is associated by
 * IoU alone, the error is counted (reid_failed) and vg_tracker_update returns
 * the first such code after completing the frame (out and the tracker are
 * valid). */
int vg_tracker_set_reid(vg_tracker *t, const vg_reid_opts *o);

/* Creates a tracker with every buffer it will use. o NULL takes the defaults.
 * Returns 0, VG_EINVAL (thresholds outside [0, 1], low > high, fps <= 0,
 * lost_seconds < 0, max_tracks or max_detections outside [1, 65536]; the
 * message names the option) or VG_ENOMEM. On failure *out is NULL and nothing
 * is held. Caller destroys. */
int vg_tracker_create(vg_context *ctx, const vg_tracker_opts *o,
                      vg_tracker **out);

/* Advances the tracker by one frame with the frame's detections (n may be 0:
 * the tracks are predicted and age). Writes the confirmed tracks matched in
 * this frame to out[0..cap) in slot order and their count to *n_out (tracks
 * beyond cap are tracked but not written; out may be NULL when cap is 0).
 * Detections with a score below low_thresh, or a non-finite or non-positive
 * size, are ignored. Returns 0, or VG_EINVAL (NULL arguments, n < 0) or
 * VG_ERANGE (n > max_detections) leaving the tracker as it was, or, with
 * re-identification on, the first error an embed call returned (the frame
 * is complete: see vg_tracker_set_reid). Never allocates. */
int vg_tracker_update(vg_tracker *t, const vg_detection *dets, int n,
                      vg_track *out, int cap, int *n_out);

/* Advances the tracker by one frame on which the detector did not run (a
 * detection rate below the frame rate, or motion gating): every track is
 * predicted one frame on by its Kalman filter and nothing else changes. No
 * track is matched, none becomes lost for it, and a tentative track waits
 * for the next vg_tracker_update to be confirmed or dropped: a skipped frame
 * is not a missed detection. Time still passes: the frame counts, so a lost
 * track whose lost_seconds (at o.fps) have run out is removed here
 * (vg_tracker_removed lists it), and age / time_since_update count these
 * frames. Writes the confirmed tracks still TRACKED (matched at their last
 * detection) with their predicted boxes to out[0..cap) in slot order and
 * their count to *n_out; det_box and score are those of the last match.
 * Returns 0 or VG_EINVAL (NULL arguments). Never allocates. */
int vg_tracker_predict(vg_tracker *t, vg_track *out, int cap, int *n_out);

/* Ids of the confirmed tracks that ended in the last update, predict or reset
 * (lost too long, or evicted). *ids stays owned by the tracker and is valid
 * until the next update, reset or destroy. */
void vg_tracker_removed(const vg_tracker *t, const int64_t **ids, int *n);

/* Copies every confirmed track (tracked and lost) into out[0..cap); returns
 * how many there are (may exceed cap). */
int vg_tracker_tracks(const vg_tracker *t, vg_track *out, int cap);

void vg_tracker_stats_get(const vg_tracker *t, vg_tracker_stats *out);

/* Ends every track (the confirmed ones are listed by vg_tracker_removed) and
 * clears the frame count; ids keep counting. Never allocates. */
void vg_tracker_reset(vg_tracker *t);

/* Frees the tracker and sets *t to NULL; accepts NULL. */
void vg_tracker_destroy(vg_tracker **t);

#endif
