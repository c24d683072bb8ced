/* Internal helpers shared by the io module's files. */
#ifndef VIGIL_IO_SOURCE_INTERNAL_H
#define VIGIL_IO_SOURCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <libavformat/avio.h>

#include "vigil/context.h"
#include "vigil/frame.h"
#include "vigil/sizing.h"
#include "vigil/tensor.h"

/* ---- local inputs (local_input.c) ----------------------------------------
 * A local path opened exactly once: a regular file, or a FIFO, pipe or
 * character device (/dev/stdin) that can be read only once. Every wait for
 * data polls the context's stop flag at least every 100 ms (VG_EINTR) and,
 * on inputs that cannot seek, gives up after timeout_ms (VG_ETIMEOUT; 0 or
 * less: no limit). Opening never blocks, even on a FIFO with no writer. */
typedef struct vgi_local_input vgi_local_input;

/* Opens path read-only. Returns 0, or VG_ENOENT, VG_EIO, VG_EFORMAT (a
 * directory, an empty regular file) or VG_ENOMEM with the cause (no input
 * name) in why. On failure *out is NULL. Caller closes. */
int vgi_local_open(vg_context *ctx, const char *path, int timeout_ms,
                   vgi_local_input **out, char *why, size_t why_cap);

/* Reads up to n bytes at offset off for header sniffing, before the AVIO
 * context has read anything. Inputs that cannot seek keep what is read here
 * and hand it to the AVIO context first, so nothing is consumed; they can be
 * sniffed only within their first VGI_SNIFF_MAX bytes. Returns the bytes
 * read (fewer at the end of the input or beyond VGI_SNIFF_MAX), or VG_EINTR,
 * VG_ETIMEOUT, VG_EIO. */
#define VGI_SNIFF_MAX 65536
int vgi_local_read_at(vgi_local_input *in, int64_t off, void *buf, int n);

/* The AVIO context that reads the input (owned by the input; seekable only
 * for regular files). */
AVIOContext *vgi_local_avio(vgi_local_input *in);

int vgi_local_seekable(const vgi_local_input *in);
/* Set when a wait ended on a stop request / on timeout_ms. */
int vgi_local_stopped(const vgi_local_input *in);
int vgi_local_timed_out(const vgi_local_input *in);

/* Closes the input; accepts NULL and sets *in to NULL. The AVIO context must
 * no longer be used by a format context. */
void vgi_local_close(vgi_local_input **in);

/* ---- header sniffing (sniff.c) ------------------------------------------*/

typedef struct vgi_image_header {
    int width, height;
    int bytes_per_pixel; /* of the picture the decoder will make */
    const char *kind;    /* "PNG", "JPEG" */
} vgi_image_header;

/* Reads the picture size from the header of a PNG or JPEG input without
 * decoding it. Returns 1 and fills *out when the input is such a picture with
 * a readable header, 0 when it is not (or the header cannot be read), or
 * VG_EINTR / VG_ETIMEOUT / VG_EIO from the reads. */
int vgi_sniff_image(vgi_local_input *in, vgi_image_header *out);

/* ---- tensors (tensor.c) --------------------------------------------------
 * The one implementation of pre-processing after scaling: the source calls
 * it on each frame (float tensors), vg_tensor_expand on compact frames. */

/* Rows of 8-bit pictures are padded to this many bytes. */
#define VGI_ROW_ALIGN VG_SIZING_ROW_ALIGN /* the planner's rule */

typedef struct vgi_tensor_geometry {
    int scaled_w, scaled_h; /* picture area inside the tensor */
    int pad_x, pad_y;       /* its top-left corner in the tensor */
    int stride;             /* bytes per row of the scaled 8-bit picture */
    vg_letterbox lb;
} vgi_tensor_geometry;

/* Where a src_w x src_h picture goes in spec's tensor (letterbox or
 * stretch, see vg_letterbox). Returns 0, or VG_EINVAL when spec has no
 * tensor or a size is not positive (*g is then zeroed). */
int vgi_tensor_geometry_get(const vg_tensor_spec *spec, int src_w, int src_h,
                            vgi_tensor_geometry *g);

/* value = (v - mean[c]) * scale[c] for every 8-bit v, and the padding's. */
typedef struct vgi_tensor_lut {
    float v[3][256];
    float pad[3];
} vgi_tensor_lut;

void vgi_tensor_lut_make(const vg_tensor_spec *spec, vgi_tensor_lut *lut);

/* Writes spec's float tensor (3 x width x height, spec->layout) into dst:
 * padding outside the scaled_w x scaled_h picture rgb (3 bytes per pixel,
 * rows of stride bytes) placed at (pad_x, pad_y), lut values inside. The
 * caller has checked that the picture fits. */
void vgi_tensor_normalise(const vg_tensor_spec *spec, const vgi_tensor_lut *lut,
                          const uint8_t *rgb, int stride, int scaled_w,
                          int scaled_h, int pad_x, int pad_y, float *dst);

#endif
