/*
 * vg_tensor_spec: how a model wants its input image tensor, so that a source
 * can pre-process frames into it directly (letterbox, colour order,
 * normalisation, layout) without an intermediate copy.
 *
 *   value[c] = (pixel[c] - mean[c]) * scale[c]   with c in the model's order
 *
 * A source opened with compact_tensor hands out the scaled 8-bit picture
 * instead of the floats (about a quarter of the bytes); the floats are made
 * when they are needed, into a buffer the caller owns:
 *
 *   float *row = batch + (size_t)i * vg_tensor_float_count(&spec);
 *   if (vg_tensor_expand(&spec, &frame, row, vg_tensor_float_count(&spec)))
 *       ... the frame was not made for spec ...
 */
#ifndef VIGIL_TENSOR_H
#define VIGIL_TENSOR_H

#include <stddef.h>

enum vg_layout { VG_LAYOUT_NCHW = 0, VG_LAYOUT_NHWC = 1 };
enum vg_channel_order { VG_CHANNELS_RGB = 0, VG_CHANNELS_BGR = 1 };
enum vg_resize_mode { VG_RESIZE_LETTERBOX = 0, VG_RESIZE_STRETCH = 1 };

typedef struct vg_tensor_spec {
    int width, height; /* spatial size of the input */
    int layout;        /* enum vg_layout */
    int channels;      /* enum vg_channel_order */
    int resize;        /* enum vg_resize_mode */
    float mean[3];     /* subtracted first, in the model's channel order */
    float scale[3];    /* then multiplied */
    float pad_value;   /* pixel value (0..255) of letterbox padding */
} vg_tensor_spec;

struct vg_frame; /* vigil/frame.h */

/* Floats in one tensor of spec: 3 x width x height (0 when spec is NULL or
 * its sizes are not positive). */
size_t vg_tensor_float_count(const vg_tensor_spec *spec);

/* Writes frame f's model input as floats into dst (dst_count floats, at
 * least vg_tensor_float_count(spec)): for a compact frame (f->tensor_compact)
 * the letterbox padding and value = (pixel - mean[c]) * scale[c] laid out as
 * spec->layout says, bit for bit what the source would have written without
 * compact_tensor; for a float frame a copy of its tensor. spec must be the
 * spec the source was opened with (its channel order was applied when the
 * picture was scaled; the layout may differ only for compact frames).
 * Returns 0, or VG_EINVAL when an argument is NULL, f has no tensor, or the
 * sizes disagree (dst_count too small, f made for another tensor size, a
 * compact picture that does not fit); dst is then untouched. Allocates
 * nothing; thread-safe (f is only read). */
int vg_tensor_expand(const vg_tensor_spec *spec, const struct vg_frame *f,
                     float *dst, size_t dst_count);

#endif
