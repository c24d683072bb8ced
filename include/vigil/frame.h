/*
 * vg_frame: one decoded and pre-processed video frame as it travels between
 * stages. The pixel data live in pooled, refcounted buffers; a vg_frame value
 * holds one reference to each buffer it names.
 *
 *   vg_frame f;
 *   while (vg_source_read(src, &f) == 0) {
 *       ... use f.tensor (model input; vg_tensor_expand when compact)
 *       ... and f.image (RGB24 picture) ...
 *       vg_frame_release(&f);     // the buffers go back to their pools
 *   }
 */
#ifndef VIGIL_FRAME_H
#define VIGIL_FRAME_H

#include <stdint.h>

#include "vigil/pool.h"

/* How a source frame was placed into the model's input tensor:
 * tensor_x = src_x * scale_x + pad_x, tensor_y = src_y * scale_y + pad_y.
 * Letterbox mode keeps the aspect ratio and centres the picture: the padding
 * is split evenly (pad_x = floor((dst_w - scaled_w) / 2), likewise pad_y);
 * scale_x and scale_y are then equal up to rounding to whole pixels, and
 * scale is the nominal min(dst_w / src_w, dst_h / src_h). Stretch mode fills
 * the tensor (pads 0, scale_x = dst_w / src_w, scale_y = dst_h / src_h;
 * scale is min of the two). A vg_letterbox filled by hand may leave scale_x
 * and scale_y 0: scale is used for both then. */
typedef struct vg_letterbox {
    float scale;
    float pad_x, pad_y;
    int src_w, src_h;       /* source picture size */
    int dst_w, dst_h;       /* tensor size */
    float scale_x, scale_y; /* per-axis scales (see above) */
} vg_letterbox;

typedef struct vg_frame {
    int64_t index;     /* 0-based index of the decoded frame in its stream */
    int64_t pts;       /* presentation time stamp, stream time base */
    double time_s;     /* presentation time in seconds */
    int width, height; /* source picture size */
    vg_buf *tensor;    /* model input (layout per vg_tensor_spec), or NULL */
    vg_letterbox lb;   /* valid when tensor is set */
    /* Set when tensor is compact (vg_source_opts.compact_tensor): it holds
     * the scaled picture, 3 bytes per pixel in the model's channel order,
     * tensor_w x tensor_h pixels in rows of tensor_stride bytes, to be placed
     * at (lb.pad_x, lb.pad_y) in the lb.dst_w x lb.dst_h tensor; the floats
     * come from vg_tensor_expand (vigil/tensor.h). 0: tensor holds floats
     * and the three sizes are 0. */
    int tensor_compact;
    int tensor_w, tensor_h, tensor_stride;
    vg_buf *image;    /* RGB24 source picture, or NULL when not kept */
    int image_stride; /* bytes per row of image */
} vg_frame;

/* Drops the frame's buffer references and clears it; accepts NULL. */
void vg_frame_release(vg_frame *f);

/* Maps a point from tensor coordinates back to source pixels (no clamping). */
static inline void vg_letterbox_unmap(const vg_letterbox *lb, float tx,
                                      float ty, float *sx, float *sy)
{
    float kx = lb->scale_x > 0.0f ? lb->scale_x : lb->scale;
    float ky = lb->scale_y > 0.0f ? lb->scale_y : lb->scale;
    *sx = (tx - lb->pad_x) / kx;
    *sy = (ty - lb->pad_y) / ky;
}

#endif
