/*
 * vg_detector: an object detector = an ONNX session + a detection head that
 * decodes its outputs (NanoDet, YOLOv5-style [1,N,5+C], YOLOv8/11-style
 * [1,4+C,N]) + score threshold, class filter and class-aware NMS.
 *
 *   vg_detector_opts o;
 *   vg_detector_opts_default(&o);
 *   vg_detector *d;
 *   if (vg_detector_create(ctx, "nanodet.onnx", &o, &d) < 0) { ... }
 *   vg_tensor_spec spec;
 *   vg_detector_input_spec(d, &spec);          // hand to vg_source_opts
 *   vg_detection dets[256]; int n;
 *   vg_detector_run(d, &frame, dets, 256, &n); // boxes in source pixels
 *   // or several frames (other streams') in one model run:
 *   const vg_frame *frames[2] = {&a, &b};
 *   vg_detection *out[2] = {dets_a, dets_b}; int counts[2];
 *   if (vg_detector_max_batch(d) >= 2)
 *       vg_detector_run_batch(d, frames, 2, out, 256, counts);
 *   vg_detector_destroy(&d);
 *
 * Thread-safety: one detector is run by one thread at a time.
 */
#ifndef VIGIL_DETECT_H
#define VIGIL_DETECT_H

#include <stdint.h>

#include "vigil/coco.h"   /* vg_coco_class_name, vg_coco_class_id */
#include "vigil/config.h" /* enum vg_head_kind */
#include "vigil/context.h"
#include "vigil/frame.h"
#include "vigil/session.h"
#include "vigil/tensor.h"

#define VG_MAX_CLASSES 1024
#define VG_DETECTOR_DEFAULT_BATCH 8 /* max_batch of a dynamic-batch model */
#define VG_DETECTOR_MAX_BATCH 256

typedef struct vg_detector vg_detector;

typedef struct vg_box {
    float x, y, w, h; /* top-left corner and size, pixels */
} vg_box;

typedef struct vg_detection {
    vg_box box;
    float score;
    int class_id;
} vg_detection;

typedef struct vg_detector_opts {
    vg_session_opts session;
    int head;               /* enum vg_head_kind */
    float score_threshold;  /* default 0.35 */
    float nms_iou;          /* default 0.5 */
    int class_agnostic_nms; /* 0 (default): NMS within each class */
    int max_detections;     /* after NMS (default 300) */
    /* Class filter: when n_classes_keep > 0 only those class ids are kept. */
    int classes_keep[VG_MAX_CLASSES];
    int n_classes_keep;
    /* Input size for models with dynamic spatial dims (default 640). */
    int input_size;
    /* NanoDet cell centres: 1 (default) at ((col + 0.5) * stride,
     * (row + 0.5) * stride), which is what the default model was trained
     * with (models/README.md: mirrored frames give boxes that agree to
     * 0.5 px only with it); 0 at (col * stride, row * stride). */
    int nanodet_center_offset;
    /* Largest batch of a model whose input batch is dynamic (1..
     * VG_DETECTOR_MAX_BATCH; 0 and the default: VG_DETECTOR_DEFAULT_BATCH);
     * that many input rows are reserved at create. Ignored for a model with
     * a fixed batch. */
    int max_batch;
} vg_detector_opts;

void vg_detector_opts_default(vg_detector_opts *o);

/* The settings' detector and session options (head, thresholds, classes,
 * threads, providers, ...) over the defaults; providers point into s. */
void vg_detector_opts_from_settings(const vg_settings *s, vg_detector_opts *o);

/* Loads the model and picks its head. Fails with the session's codes
 * (VG_ENOTSUP for an output that is not float32, naming the file, the
 * output and its type), VG_EMODEL (an output whose size disagrees with its
 * shape), or VG_EHEAD when the outputs match no head (message lists the
 * shapes found).
 * On failure *out is NULL and nothing is held. Caller destroys. */
int vg_detector_create(vg_context *ctx, const char *model_path,
                       const vg_detector_opts *o, vg_detector **out);

/* Same over a session the caller owns (e.g. handed out by vg_residency):
 * o->session is ignored, the session must outlive the detector or be
 * replaced with vg_detector_set_session (same model, e.g. reloaded on
 * another provider) before the next run; destroy leaves it alone. */
int vg_detector_create_on(vg_context *ctx, vg_session *session,
                          const char *model_path, const vg_detector_opts *o,
                          vg_detector **out);
void vg_detector_set_session(vg_detector *d, vg_session *session);

/* The input the model wants, for the source's pre-processing. */
void vg_detector_input_spec(const vg_detector *d, vg_tensor_spec *out);

/* Head in use and its name ("nanodet", "yolov5", "yolov8"). */
int vg_detector_head(const vg_detector *d);
const char *vg_detector_head_name(const vg_detector *d);

/* What the detector has counted since it was created. */
typedef struct vg_detector_stats {
    /* Candidates dropped because the model gave them an infinite or NaN
     * score or box coordinate (never passed on; the first such run logs one
     * warning). */
    uint64_t nonfinite_dropped;
} vg_detector_stats;

/* Copies the counters into out. Returns 0 or VG_EINVAL (NULL argument). Read
 * it from the thread that runs the detector, or after that thread is done. */
int vg_detector_stats_get(const vg_detector *d, vg_detector_stats *out);

/* Number of classes and the name of one ("person"); COCO names for 80-class
 * models, "classN" otherwise. */
int vg_detector_class_count(const vg_detector *d);
const char *vg_detector_class_name(const vg_detector *d, int class_id);

/* Runs inference on frame->tensor and decodes up to cap detections into dets
 * (boxes mapped back to source pixels through frame->lb, clipped to the
 * picture), best first within each class after NMS. *n receives the count.
 * Returns 0, VG_EINVAL (no tensor, or one smaller than the model input) or
 * VG_EINFER (also when an output changed shape or holds fewer values than
 * the head reads). Detections never carry an infinite or NaN score or box:
 * such candidates are dropped and counted (vg_detector_stats_get).
 * No heap allocation in vigil's code: the candidate arrays are
 * reserved at create. A class filter keeps, per anchor, the best of the kept
 * classes. */
int vg_detector_run(vg_detector *d, const vg_frame *frame, vg_detection *dets,
                    int cap, int *n);

/* Frames one vg_detector_run_batch takes: 1 for a model whose input batch is
 * fixed at 1 (or whose outputs do not follow a dynamic input batch), B for
 * a fixed batch B, opts.max_batch for a dynamic batch. VG_EINVAL for NULL. */
int vg_detector_max_batch(const vg_detector *d);

/* Runs n frames (1..vg_detector_max_batch) through the model in ONE
 * inference: frame i's tensor becomes row i of the batch input (copied into
 * a buffer reserved at create; with n 1 the frame's tensor is used in
 * place), and row i of the outputs is decoded into dets[i] (up to cap
 * detections, boxes mapped through frames[i]->lb) with the count in
 * counts[i], exactly as vg_detector_run does for one frame, which is
 * vg_detector_run_batch with n 1. A dynamic-batch model runs at batch n, a
 * fixed batch B at B (rows past n are ignored). frames, dets and counts
 * hold n entries each, every dets[i] room for cap detections.
 * Returns 0; VG_EINVAL (NULL argument, n outside 1..max_batch, cap < 0, or a
 * frame without a tensor of the model's input size; nothing is run) or the
 * codes of vg_detector_run (VG_EINFER, VG_ENOMEM). On failure every counts[i]
 * is 0, the message in vg_detector_errmsg. frames and dets stay the
 * caller's. No heap allocation in vigil's code. */
int vg_detector_run_batch(vg_detector *d, const vg_frame *const *frames, int n,
                          vg_detection *const *dets, int cap, int *counts);

/* Decodes raw outputs already computed (used by run and by tests); outs[i]
 * holds output i in the shapes the detector was created for, at batch 1 (of
 * a batched run: one row). lb NULL means tensor pixels are source pixels
 * (boxes clipped to the input size). */
int vg_detector_decode(vg_detector *d, const float **outs,
                       const vg_letterbox *lb, vg_detection *dets, int cap,
                       int *n);

/* The detector's session (for benchmarks that time inference alone). */
vg_session *vg_detector_session(vg_detector *d);

const char *vg_detector_errmsg(const vg_detector *d);

void vg_detector_destroy(vg_detector **d);

/* Class-aware (or agnostic) greedy NMS in place over dets[0..n): sorts by
 * score, keeps boxes whose IoU with a kept box of the same class (any class
 * when agnostic) is <= iou, stops at max_keep. The kept boxes end up in
 * dets[0..count), best first. Returns the kept count. scratch is reserved
 * (the sort is in place) and may be NULL. No allocation. */
int vg_nms(vg_detection *dets, int n, float iou, int agnostic, int max_keep,
           int *scratch);

float vg_box_iou(const vg_box *a, const vg_box *b);

#endif
