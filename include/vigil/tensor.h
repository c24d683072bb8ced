/*
 * vg_tensor_spec: how a model wants its input image tensor, so that a source
 * can pre-process frames into it directly (letterbox, colour order,
 * normalisation, layout) without an intermediate copy.
 *
 *   value[c] = (pixel[c] - mean[c]) * scale[c]   with c in the model's order
 */
#ifndef VIGIL_TENSOR_H
#define VIGIL_TENSOR_H

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

#endif
