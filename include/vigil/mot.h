/*
 * vg_mot: a tracking benchmark with ground truth. A seeded, deterministic
 * scene generator (walkers with constant velocity plus noise, crossings,
 * occlusions, false positives, jittered boxes and scores, a per-identity
 * appearance vector with noise per detection) and an evaluator computing
 * MOTA, IDF1 and HOTA with TrackEval's definitions (docs/tracking.md).
 *
 *   vg_mot_scene_opts so;
 *   vg_mot_scene *sc;
 *   vg_mot_scene_preset("crossing", &so);
 *   if (vg_mot_scene_generate(ctx, &so, &sc) < 0) { ... }
 *   // sc->det[sc->frame_start[f - 1] .. sc->frame_start[f]) are frame f's
 *   // detections; run a tracker over them and collect vg_mot_row results
 *   vg_mot_metrics m;
 *   vg_mot_evaluate(ctx, sc->gt, sc->n_gt, results, n_results, &m);
 *   vg_mot_scene_destroy(&sc);
 *
 * Thread-safety: functions touch only their arguments (and ctx's allocator).
 */
#ifndef VIGIL_MOT_H
#define VIGIL_MOT_H

#include <stdint.h>

#include "vigil/context.h"
#include "vigil/detect.h"
#include "vigil/track.h"

/* One MOTChallenge line: frame (from 1), id (ground truth identity, track
 * id, or -1 for a detection), box in pixels, score (1 for ground truth). */
typedef struct vg_mot_row {
    int frame;
    int id;
    vg_box box;
    float score;
} vg_mot_row;

typedef struct vg_mot_scene_opts {
    uint64_t seed;
    int frames;             /* length (300) */
    int width, height;      /* image size (1280 x 720) */
    int walkers;            /* on screen at once (10); 1..1000 */
    float speed;            /* mean speed, px per frame (2.0) */
    float motion_noise;     /* velocity random walk, px per frame (0.05) */
    float box_jitter;       /* detection box noise, fraction of size (0.04) */
    float occlusion_rate;   /* chance per walker and frame that an occlusion
                               (missed detections) starts (0.005) */
    int occlusion_frames;   /* mean occlusion length in frames (12) */
    float false_positives;  /* per frame, mean (0.5) */
    float crossing;         /* fraction of walkers on one horizontal band,
                               half each way, so they cross (0) */
    float turn_rate;        /* chance per walker and frame of a new random
                               heading (0) */
    int appearance_dim;     /* synthetic embedding length (32); 1..1024 */
    float appearance_noise; /* noise per component before normalising (0.08) */
} vg_mot_scene_opts;

typedef struct vg_mot_scene {
    int frames;
    vg_mot_row *gt; /* sorted by frame, then id */
    int n_gt;
    vg_mot_row *det; /* sorted by frame; id -1 */
    int n_det;
    int *frame_start;  /* [frames + 1]: frame f's detections are
                          det[frame_start[f - 1] .. frame_start[f]) */
    int *det_identity; /* [n_det]: the ground truth id shown, 0 = false pos. */
    float *appearance; /* [n_det x appearance_dim], L2-normalised */
    int appearance_dim;
} vg_mot_scene;

void vg_mot_scene_opts_default(vg_mot_scene_opts *o);

/* Fills o with a named preset: "easy" (few walkers, little noise),
 * "crowded" (many walkers, occlusions, false positives) or "crossing" (most
 * walkers on one band crossing each other). Returns 0 or VG_EINVAL for an
 * unknown name. */
int vg_mot_scene_preset(const char *name, vg_mot_scene_opts *o);

/* Generates a scene: the same options give the same scene on every machine
 * (own PRNG, no libc randomness). Returns 0, VG_EINVAL (an option out of
 * range: the message names it) or VG_ENOMEM; on failure *out is NULL.
 * Caller destroys. */
int vg_mot_scene_generate(vg_context *ctx, const vg_mot_scene_opts *o,
                          vg_mot_scene **out);

void vg_mot_scene_destroy(vg_context *ctx, vg_mot_scene **s);

/* Writes rows as MOTChallenge lines (frame,id,x,y,w,h,score,-1,-1,-1) to
 * path. Returns 0 or VG_EIO (message names the path). */
int vg_mot_write(vg_context *ctx, const char *path, const vg_mot_row *rows,
                 int n);

#define VG_MOT_ALPHAS 19 /* HOTA's alpha = 0.05, 0.10, ..., 0.95 */

typedef struct vg_mot_metrics {
    /* CLEAR (IoU >= 0.5; matches kept from the previous frame first) */
    double mota; /* (tp - fp - idsw) / gt_dets */
    double motp; /* mean IoU of the matches */
    int64_t tp, fp, fn, idsw, frag;
    /* identity (IoU >= 0.5; one global id-to-id matching) */
    double idf1; /* idtp / (idtp + idfp / 2 + idfn / 2) */
    int64_t idtp, idfp, idfn;
    /* HOTA, averaged over the alphas */
    double hota, deta, assa, loca;
    double hota_alpha[VG_MOT_ALPHAS];
    int64_t gt_dets, trk_dets;
    int gt_ids, trk_ids;
} vg_mot_metrics;

/* Scores tracker rows against ground-truth rows (any order, any ids) with
 * TrackEval's CLEAR, Identity and HOTA on box IoU. A frame with rows on
 * one side only counts them as misses or false positives. Returns 0,
 * VG_EINVAL (NULL arguments, n < 0, a frame < 1, a non-finite or negative
 * box, an id twice in one frame: the message names the row) or VG_ENOMEM.
 * Allocates its working memory and frees it before returning. */
int vg_mot_evaluate(vg_context *ctx, const vg_mot_row *gt, int n_gt,
                    const vg_mot_row *trk, int n_trk, vg_mot_metrics *out);

/* ---- running the tracker over a scene ---------------------------------- */

typedef struct vg_mot_run_result {
    vg_mot_metrics m;
    vg_tracker_stats stats;
    double activation;      /* reid_embedded / reid_detections (0 without) */
    double update_ns;       /* mean CPU time of one vg_tracker_update */
    uint64_t update_allocs; /* vigil heap allocations during the updates */
    int64_t frames;
} vg_mot_run_result;

/* Runs a vg_tracker (options to, NULL = defaults with max_detections and
 * max_tracks raised to fit the scene) over the scene's detections, frame
 * by frame, and scores its tracks (Kalman boxes) against the ground truth.
 * reid non-NULL turns re-identification on with those options (dim and
 * embed are set here: the scene's appearance vectors are the embedder).
 * score 0 skips the evaluation (out->m stays zero: timing runs).
 * Returns 0, or a code of vg_tracker_create / vg_tracker_set_reid /
 * vg_mot_evaluate / VG_ENOMEM. */
int vg_mot_run(vg_context *ctx, const vg_mot_scene *sc,
               const vg_tracker_opts *to, const vg_reid_opts *reid, int score,
               vg_mot_run_result *out);

#endif
