/*
 * vg_motion: a motion gate in front of the detector (in the manner of
 * Frigate's): the detector runs only on frames with motion, on frames of a
 * stream that has active tracks, and at least every max_idle_s otherwise.
 *
 *   vg_motion_opts o = vg_motion_defaults();
 *   o.width = 1920; o.height = 1080;          // the source picture
 *   o.masks[0] = (vg_motion_polygon){.n = 4, .points = {{0, 0}, {1, 0},
 *                                    {1, 0.1f}, {0, 0.1f}}};  // timestamp
 *   o.mask_count = 1;
 *   vg_motion *m;
 *   if (vg_motion_create(ctx, &o, &m) < 0) return rc;
 *   for each frame:
 *       vg_motion_result r;
 *       vg_motion_update(m, rgb, 1920, 1080, stride, &r);
 *       if (vg_motion_should_detect(m, tracker_has_active_tracks, t_ns))
 *           run the detector;   // r.x0..r.y1 box the motion
 *   vg_motion_destroy(&m);
 *
 * Method: each picture is reduced to a grey frame frame_height rows high
 * (area average of luma over a grid of up to cell_samples^2 pixels of each
 * cell, aspect kept), blurred with a 3x3 box, and compared
 * with a background kept as a running average (alpha per frame where the
 * pixel is still, motion_alpha where it changed). The global brightness
 * difference between frame and background (over the counted area) is
 * subtracted first, so slow or sudden lighting changes of the whole scene are
 * not motion. A pixel changed when |frame - background| > pixel_threshold;
 * pixels inside a mask polygon are never counted. Motion when the changed
 * fraction of the counted pixels exceeds min_area. When more than
 * lightning_fraction of them changed at once (a light switched, the camera
 * moved), the background is reset to the frame and no motion is reported.
 * The first picture only seeds the background (no motion).
 *
 * Memory: everything (grey frame, blur buffer, background, mask, the
 * downscale tables) is allocated at create; update and should_detect never
 * allocate. Thread-safety: none; one gate per stream, used by its thread
 * (the stats may be read by that thread only).
 */
#ifndef VIGIL_MOTION_H
#define VIGIL_MOTION_H

#include <stdint.h>

#include "vigil/context.h"

#define VG_MOTION_MAX_POLYGONS 16
#define VG_MOTION_MAX_POINTS 32

typedef struct vg_motion vg_motion;

/* A mask polygon in normalised coordinates (0..1 of the picture's width and
 * height, origin top left). */
typedef struct vg_motion_polygon {
    int n; /* 3..VG_MOTION_MAX_POINTS */
    struct {
        float x, y;
    } points[VG_MOTION_MAX_POINTS];
} vg_motion_polygon;

typedef struct vg_motion_opts {
    int width, height;         /* source picture in pixels (required) */
    int frame_height;          /* grey frame rows, 16..1080 (120); never more
                                  than the source's */
    int pixel_threshold;       /* 1..255 (25) */
    double min_area;           /* changed fraction for motion, 0..1 (0.002) */
    double alpha;              /* background update where still, 0..1 (0.02) */
    double motion_alpha;       /* where changed, 0..1 (0.002) */
    double lightning_fraction; /* reset above this fraction, 0..1 (0.8) */
    int cell_samples;          /* samples per grey pixel side, 0..64: a grey
                                  pixel averages up to cell_samples^2 source
                                  pixels spread over its cell; 0: all (4) */
    double max_idle_s;         /* force a detection this often, 0: every frame
                                  (5) */
    int mask_count;            /* 0..VG_MOTION_MAX_POLYGONS */
    vg_motion_polygon masks[VG_MOTION_MAX_POLYGONS];
} vg_motion_opts;

typedef struct vg_motion_result {
    int motion;     /* 1: changed fraction > min_area */
    double changed; /* changed fraction of the counted pixels, 0..1 */
    int reset;      /* 1: the background was (re)seeded by this frame */
    /* Bounding box of the changed pixels in source pixels (x0,y0 inclusive,
     * x1,y1 exclusive); all 0 when nothing changed. */
    int x0, y0, x1, y1;
} vg_motion_result;

typedef struct vg_motion_stats {
    uint64_t frames_seen;         /* vg_motion_update calls that succeeded */
    uint64_t frames_motion;       /* of those, with motion */
    uint64_t resets;              /* background reseeds (first + lightning) */
    uint64_t decisions;           /* vg_motion_should_detect calls */
    uint64_t detections;          /* of those that said detect */
    uint64_t frames_skipped_idle; /* that said skip */
    uint64_t forced;              /* that said detect only for max_idle_s */
    int grey_width, grey_height;  /* the grey frame's size */
    int counted_pixels;           /* grey pixels outside every mask */
} vg_motion_stats;

/* The defaults above (width and height 0: they must be set). */
vg_motion_opts vg_motion_defaults(void);

/* Creates a gate for pictures of opts->width x opts->height and rasterises
 * the masks. Returns 0, VG_EINVAL (a size, threshold, fraction, sample count or
 * polygon out of range, or masks covering every pixel; message in ctx) or
 * VG_ENOMEM; *out is NULL on failure and nothing is held. */
int vg_motion_create(vg_context *ctx, const vg_motion_opts *opts,
                     vg_motion **out);

/* Frees the gate and sets *m to NULL; accepts NULL. */
void vg_motion_destroy(vg_motion **m);

/* Feeds one RGB24 picture (rows of stride bytes, stride >= 3 * width) and
 * fills *out. Returns 0, or VG_EINVAL (NULL picture, or a size other than
 * the one given at create; the gate is unchanged). */
int vg_motion_update(vg_motion *m, const uint8_t *rgb, int width, int height,
                     int stride, vg_motion_result *out);

/* Whether to run the detector on the frame just given to vg_motion_update:
 * yes when it had motion, reseeded the background (the whole scene changed)
 * or has_active_tracks, or when max_idle_s passed
 * since the last detection (counted as forced); the first call always says
 * yes. now_ns: any monotonic time in ns (the frame's timestamp for a file,
 * the clock for a live camera). Returns 1 or 0. */
int vg_motion_should_detect(vg_motion *m, int has_active_tracks,
                            int64_t now_ns);

/* Copies the counters. */
void vg_motion_stats_get(const vg_motion *m, vg_motion_stats *out);

#endif
