/*
 * Internal interface between the detector and its heads. A head turns raw
 * outputs into candidates (one per anchor, best kept class, score >=
 * threshold) with boxes in input-tensor pixels; the detector maps them to the
 * source picture, clips them and runs NMS. Heads never allocate.
 */
#ifndef VIGIL_DETECT_INTERNAL_H
#define VIGIL_DETECT_INTERNAL_H

#include <stdint.h>

#include "vigil/detect.h"

#define VGI_COCO_CLASSES VG_COCO_CLASSES

typedef struct vgi_filter {
    float threshold;
    const unsigned char *keep; /* keep[c] != 0: class c wanted; NULL: all */
} vgi_filter;

static inline int vgi_class_kept(const vgi_filter *f, int c)
{
    return f->keep == NULL || f->keep[c] != 0;
}

/* ---- YOLO (v5: [1,N,5+C], v8/11: [1,4+C,N]) ---- */
typedef struct vgi_yolo {
    int kind; /* VG_HEAD_YOLOV5 or VG_HEAD_YOLOV8 */
    int n;    /* anchors */
    int classes;
} vgi_yolo;

/* Recognises the output shapes of kind (or either kind when kind is
 * VG_HEAD_AUTO); returns 0 and fills out, or -1. */
int vgi_yolo_match(const vg_tensor_info *outs, int n_outs, int kind,
                   vgi_yolo *out);
/* The input YOLO exports expect, for a w x h input in layout. */
void vgi_yolo_spec(int w, int h, int layout, vg_tensor_spec *out);
/* Writes up to cap candidates; returns the count. */
int vgi_yolo_decode(const vgi_yolo *y, const float *out, const vgi_filter *f,
                    vg_detection *cands, int cap);

/* ---- NanoDet (GFL, three strides, separate class and box tensors) ---- */
#define VGI_NANODET_LEVELS 3

typedef struct vgi_nanodet_level {
    int stride;
    int grid_w, grid_h;
    int n;          /* grid_w * grid_h */
    int cls_output; /* output index of [1,n,classes] */
    int box_output; /* output index of [1,n,4*(reg_max+1)] */
} vgi_nanodet_level;

typedef struct vgi_nanodet {
    vgi_nanodet_level levels[VGI_NANODET_LEVELS];
    int classes;
    int reg_max;
    int center_offset; /* 1: cell centres at (col+0.5)*s */
} vgi_nanodet;

int vgi_nanodet_match(const vg_tensor_info *outs, int n_outs, int in_w,
                      int in_h, vgi_nanodet *out);
void vgi_nanodet_spec(int w, int h, int layout, vg_tensor_spec *out);
/* Total anchors over the levels. */
int vgi_nanodet_anchors(const vgi_nanodet *nd);
int vgi_nanodet_decode(const vgi_nanodet *nd, const float **outs,
                       const vgi_filter *f, vg_detection *cands, int cap);

#endif
