/*
 * vg_detect_pipeline: decode + pre-process in their own thread, feeding the
 * detector through a bounded queue, so that the CPU decodes frame n+1 while
 * the model runs on frame n.
 *
 *   vg_detect_stats st;
 *   rc = vg_detect_run(ctx, src, det, &opts, on_frame, user, &st);
 *   // on_frame(user, &frame, dets, n) is called in the caller's thread, in
 *   // frame order; the frame and dets are valid only during the call.
 *   // rc: 0 (end of input), VG_ETRUNCATED (input cut off: every frame before
 *   // the cut was delivered), or the failing stage's code.
 *
 * The source must have been opened with a pool of at least queue_depth + 2
 * frames (vg_detect_pool_size()). No heap allocation per frame.
 */
#ifndef VIGIL_PIPELINE_H
#define VIGIL_PIPELINE_H

#include <stdint.h>

#include "vigil/detect.h"
#include "vigil/source.h"

#define VG_MAX_DETECTIONS 512

/* Return 0 to go on, non-zero to stop the run early (then rc is 0). */
typedef int (*vg_detect_frame_fn)(void *user, const vg_frame *frame,
                                  const vg_detection *dets, int n);

typedef struct vg_detect_opts {
    unsigned queue_depth; /* frames between decode and inference (default 4) */
    int64_t max_frames;   /* stop after this many frames; <= 0: all */
} vg_detect_opts;

typedef struct vg_detect_stats {
    int64_t frames;       /* frames through the detector */
    int64_t detections;   /* detections delivered */
    double wall_s;        /* whole run */
    double decode_busy_s; /* time the decode thread spent decoding */
    double infer_busy_s;  /* time spent in vg_detector_run */
    double callback_s;    /* time spent in the frame callback */
    unsigned queue_high_water;
    int end_code;          /* VG_EOF, VG_ETRUNCATED or an error code */
    char end_message[256]; /* the source's message when end_code != VG_EOF */
} vg_detect_stats;

void vg_detect_opts_default(vg_detect_opts *o);

/* Source pool size the pipeline needs for o. */
unsigned vg_detect_pool_size(const vg_detect_opts *o);

/* Runs until the input ends, max_frames, or the callback asks to stop.
 * Returns 0, VG_ETRUNCATED, VG_ENOMEM, or the code of the stage that failed
 * (message in ctx). stats may be NULL. Blocks the calling thread. */
int vg_detect_run(vg_context *ctx, vg_source *src, vg_detector *det,
                  const vg_detect_opts *o, vg_detect_frame_fn fn, void *user,
                  vg_detect_stats *stats);

#endif
