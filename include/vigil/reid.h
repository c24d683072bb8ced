/*
 * vg_reid_embedder: the person appearance embedding the tracker's
 * conditional re-identification asks for (vg_tracker_set_reid in
 * include/vigil/track.h), from a detection's box in an RGB24 picture.
 *
 *   vg_reid_embedder *e;
 *   if (vg_reid_embedder_create(ctx, "", NULL, &e) < 0)   // "": histogram
 *       fprintf(stderr, "%s\n", vg_context_errmsg(ctx));
 *   float emb[VG_REID_MAX_DIM];
 *   int dim = vg_reid_embedder_embed(e, rgb, w, h, stride, &det.box, emb,
 *                                    VG_REID_MAX_DIM);
 *   vg_reid_embedder_destroy(&e);
 *
 * Two embedders behind one interface:
 *  - model NULL or "": the colour histogram of the upper and lower body
 *    (include/vigil/hist.h), VG_HIST_DIM values, no model;
 *  - a path to an ONNX ReID model: one float input [1,3,H,W] (NCHW; a
 *    dynamic batch is fixed to 1, a dynamic H or W takes 256 x 128, the
 *    usual person ReID size). The box (clamped to the picture) is resized
 *    bilinearly to W x H, stretched (no letterbox), RGB, each value
 *    (pixel / 255 - mean) / std with the ImageNet mean (0.485, 0.456,
 *    0.406) and std (0.229, 0.224, 0.225), as torchreid / OSNet models
 *    expect. The first output, whatever its shape, is the embedding: its
 *    length (1..VG_REID_MAX_DIM) is read at create by one run on a grey
 *    picture, and every embedding is scaled to unit L2 length.
 * Either way the result has unit length, as vg_reid_embed_fn requires.
 *
 * Memory: the ONNX input tensor is allocated at create; embed allocates
 * nothing (ONNX Runtime's own arena aside). Thread-safety: one embedder is
 * used by one thread at a time.
 */
#ifndef VIGIL_REID_H
#define VIGIL_REID_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/context.h"
#include "vigil/detect.h"
#include "vigil/session.h"

#define VG_REID_MAX_DIM 4096 /* = the tracker's embedding limit */
#define VG_REID_DEFAULT_H 256
#define VG_REID_DEFAULT_W 128

typedef struct vg_reid_embedder vg_reid_embedder;

/* Creates the histogram embedder (model NULL or "") or loads the ONNX ReID
 * model at model with session options so (NULL: the defaults with one intra
 * thread that does not spin). Returns 0, or VG_ENOENT / VG_EMODEL /
 * VG_ENOTSUP (the file is missing, not a model, or its input or output is
 * not as above) or VG_ENOMEM, with one line in ctx naming the file:
 * "reid model m.onnx: input 'x' is [1,64], expected [1,3,H,W]". On failure
 * *out is NULL and nothing is held. Caller destroys. */
int vg_reid_embedder_create(vg_context *ctx, const char *model,
                            const vg_session_opts *so, vg_reid_embedder **out);

/* The embedding length (VG_HIST_DIM for the histogram); 0 for NULL. */
int vg_reid_embedder_dim(const vg_reid_embedder *e);

/* Bytes of the model's input buffer the embedder holds (3 x H x W floats;
 * 0 for the histogram and NULL): what the planner adds to the model's own
 * footprint. */
size_t vg_reid_embedder_input_bytes(const vg_reid_embedder *e);

/* "histogram" or "onnx". */
const char *vg_reid_embedder_kind(const vg_reid_embedder *e);

/* Embeds the person in box (picture pixels) of an RGB24 picture w x h
 * (stride bytes per row) into out[0..dim). Returns dim, or VG_EINVAL (NULL
 * pointers, bad sizes, a non-finite or empty box, nothing of it inside the
 * picture), VG_ERANGE (cap < dim) or VG_EINFER (the model failed, or gave
 * a zero vector), with one line in vg_reid_embedder_errmsg; out is then
 * unspecified. Allocates nothing. */
int vg_reid_embedder_embed(vg_reid_embedder *e, const uint8_t *rgb, int w,
                           int h, int stride, const vg_box *box, float *out,
                           int cap);

/* The message of the last failed embed ("" when none). */
const char *vg_reid_embedder_errmsg(const vg_reid_embedder *e);

void vg_reid_embedder_destroy(vg_reid_embedder **e);

#endif
