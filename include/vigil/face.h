/*
 * Face stages: BlazeFace detection (vg_face_detector) and MobileFaceNet
 * embedding (vg_face_embedder) on RGB24 pictures, plus the crop/resize step
 * both use (vg_face_crop).
 *
 *   vg_session *bf, *mfn;                 // loaded by the caller
 *   vg_face_detector *fd;
 *   vg_face_embedder *fe;
 *   vg_face_detector_create(ctx, bf, NULL, &fd);  // NULL: default options
 *   vg_face_embedder_create(ctx, mfn, &fe);
 *   vg_face faces[8]; int n, dim;
 *   float emb[512];
 *   vg_face_detect(fd, rgb, w, h, stride, 0, 0, w, h, faces, 8, &n);
 *   for (int i = 0; i < n; i++)
 *       vg_face_embed(fe, rgb, w, h, stride, &faces[i], emb, 512, &dim);
 *   vg_face_embedder_destroy(&fe);
 *   vg_face_detector_destroy(&fd);       // then the sessions may go
 *
 * Sessions are borrowed: a handle keeps the pointer it was given and uses
 * it in every detect/embed call, so the session must outlive the handle
 * (destroy the handle before unloading the model, create a new one after
 * reloading it).
 *
 * Coordinates: pictures are w x h pixels, pixel (i, j) covering
 * [i, i+1) x [j, j+1); boxes and keypoints are continuous picture
 * coordinates on that grid.
 *
 * Memory: detect and embed allocate nothing; the input tensor and the
 * candidate storage are allocated at create. Creating a detector runs no
 * inference; creating an embedder runs one (its reference, see
 * vg_face_embed).
 * Thread-safety: a handle (and its session) is used by one thread at a time;
 * vg_face_crop, vg_face_decode and vg_face_cosine are pure functions.
 */
#ifndef VIGIL_FACE_H
#define VIGIL_FACE_H

#include <stdint.h>

#include "vigil/context.h"
#include "vigil/detect.h"
#include "vigil/frame.h"
#include "vigil/session.h"

/* ---- crop ---------------------------------------------------------------- */

/* Value normalisation of a crop. */
enum vg_face_norm {
    VG_FACE_NORM_PM1 = 0, /* pixel / 127.5 - 1, in [-1, 1] (BlazeFace) */
    VG_FACE_NORM_01 = 1   /* pixel / 255, in [0, 1] (MobileFaceNet) */
};

/* Crops the region [x0, x1) x [y0, y1) of an RGB24 picture (w x h, stride
 * bytes per row) and resizes it bilinearly into out: out_w x out_h x 3
 * floats, NHWC, RGB, normalised per norm. The region is first clamped to the
 * picture. The aspect ratio is kept: the region is scaled by
 * min(out_w / rw, out_h / rh), rounded to whole tensor pixels and centred
 * (the padding split as vg_letterbox describes), and the padding holds the
 * value of black (-1 for VG_FACE_NORM_PM1, 0 for VG_FACE_NORM_01). A region
 * of out's aspect is stretched over the whole tensor with no padding.
 *
 * lb (may be NULL) receives the mapping between the tensor and the WHOLE
 * picture: src_w/src_h are w/h, dst_w/dst_h are out_w/out_h, scale_x/scale_y
 * the per-axis scales, and pad_x/pad_y the padding minus the crop origin
 * times the scale (pad_x = padding_x - x0 * scale_x, so usually negative),
 * so that vg_letterbox_unmap(lb, tx, ty, &px, &py) gives picture pixels
 * directly, and tensor = picture * scale + pad the other way.
 *
 * Returns 0, or VG_EINVAL (NULL pointers, a side < 1 or > 65536,
 * stride < 3 * w, unknown norm, a non-finite coordinate, or a region with
 * nothing left inside the picture). Allocates nothing; out is untouched on
 * failure. */
int vg_face_crop(const uint8_t *rgb, int w, int h, int stride, float x0,
                 float y0, float x1, float y1, int out_w, int out_h, int norm,
                 float *out, vg_letterbox *lb);

/* ---- detection (BlazeFace) ---------------------------------------------- */

#define VG_FACE_KEYPOINTS 6
#define VG_FACE_ANCHORS_S16 512 /* 16 x 16 grid, 2 anchors per cell */
#define VG_FACE_ANCHORS_S32 384 /* 8 x 8 grid, 6 anchors per cell */
#define VG_FACE_ANCHORS (VG_FACE_ANCHORS_S16 + VG_FACE_ANCHORS_S32)

/* Keypoint order of BlazeFace. "Right" is the person's right, which is on
 * the left of the picture for a face looking at the camera (checked on
 * Megamind.avi: the right eye's x is smaller than the left eye's). */
enum vg_face_keypoint {
    VG_FACE_RIGHT_EYE = 0,
    VG_FACE_LEFT_EYE = 1,
    VG_FACE_NOSE = 2,
    VG_FACE_MOUTH = 3,
    VG_FACE_RIGHT_EAR = 4,
    VG_FACE_LEFT_EAR = 5
};

typedef struct vg_face {
    vg_box box;  /* picture pixels, clipped to the picture */
    float score; /* sigmoid of the model's logit, 0..1 */
    float keypoints[VG_FACE_KEYPOINTS][2]; /* x, y picture pixels (unclipped) */
} vg_face;

typedef struct vg_face_detector_opts {
    float score_threshold; /* default 0.75 */
    float nms_iou;         /* default 0.3 */
    int max_faces;         /* after NMS, default 8 */
} vg_face_detector_opts;

typedef struct vg_face_detector vg_face_detector;

void vg_face_detector_opts_default(vg_face_detector_opts *o);

/* Checks that s (borrowed, see above) is a BlazeFace model: one float input
 * [1,S,S,3] (NHWC, batch 1 or dynamic, which is then fixed to 1 on s) and
 * outputs of shapes [1,512,1], [1,384,1], [1,512,16], [1,384,16] in any
 * order (scores at stride 16 and 32, then boxes). Fails with VG_EINVAL
 * (NULL s or out, options out of range), VG_EMODEL (shapes differ; the
 * message in ctx names the tensor and the shape expected) or VG_ENOMEM. On
 * failure *out is NULL and nothing is held. Caller destroys. */
int vg_face_detector_create(vg_context *ctx, vg_session *s,
                            const vg_face_detector_opts *o,
                            vg_face_detector **out);

/* Input side S of the model (256 for BlazeFace back). */
int vg_face_detector_input_size(const vg_face_detector *fd);

/* Detects faces in the region [x0, x1) x [y0, y1) of an RGB24 picture: the
 * region (clamped to the picture) is letterboxed into the model input
 * (vg_face_crop, VG_FACE_NORM_PM1; letterboxing keeps faces unsquashed,
 * where Human stretches), the outputs decoded (vg_face_decode) and the
 * faces returned in picture pixels, best first, up to min(cap, max_faces);
 * boxes are clipped to the picture, not to the region. *n receives the
 * count. Whole 720x528 Megamind.avi frames give the close-up face 0.87-0.94
 * and a small face in the background 0.63-0.70 (under the 0.75 default).
 * Returns 0, VG_EINVAL (bad arguments or region, as vg_face_crop) or the
 * session's code (VG_EINFER, VG_ENOMEM), with the message in
 * vg_face_detector_errmsg. No heap allocation in vigil's code. */
int vg_face_detect(vg_face_detector *fd, const uint8_t *rgb, int w, int h,
                   int stride, float x0, float y0, float x1, float y1,
                   vg_face *faces, int cap, int *n);

const char *vg_face_detector_errmsg(const vg_face_detector *fd);

/* Destroys the handle (not the session) and sets *fd to NULL; accepts NULL. */
void vg_face_detector_destroy(vg_face_detector **fd);

/* Decodes raw BlazeFace outputs (what vg_face_detect does after inference):
 *   scores16[512], scores32[384]: logits, score = sigmoid(logit);
 *   boxes16[512 * 16], boxes32[384 * 16]: per anchor dx, dy, w, h, then 6
 *   keypoints (x, y), all in input pixels (input_size = S).
 * Anchor i of stride 16 is cell i / 2 of a 16 x 16 grid (row-major), anchor
 * i of stride 32 cell i / 6 of an 8 x 8 grid; its centre is
 * ((col + 0.5) / grid, (row + 0.5) / grid) * S in input pixels. A box is
 * centred at anchor + (dx, dy) and w x h in size; keypoint k is at
 * anchor + (x_k, y_k). (MediaPipe's convention with anchor size 1; checked
 * on Megamind.avi frames, where the boxes enclose the faces.)
 * Candidates with score >= o->score_threshold are mapped to picture pixels
 * with lb (picture -> tensor mapping as vg_face_crop fills it; NULL: the
 * tensor is the picture, S x S), clipped to the picture (lb's src_w x src_h),
 * dropped when empty, and reduced by greedy NMS (IoU > o->nms_iou
 * suppressed) to at most min(cap, o->max_faces) faces, best first.
 * scratch holds VG_FACE_ANCHORS entries (the candidates). Returns 0 or
 * VG_EINVAL. Allocates nothing. */
int vg_face_decode(const float *scores16, const float *scores32,
                   const float *boxes16, const float *boxes32, int input_size,
                   const vg_letterbox *lb, const vg_face_detector_opts *o,
                   vg_detection *scratch, vg_face *faces, int cap, int *n);

/* ---- embedding (MobileFaceNet) ------------------------------------------ */

/* The embedder crops a square of side VG_FACE_EMBED_EXPAND * max(box w, h)
 * centred on the face box (clamped to the picture, then letterboxed).
 * BlazeFace boxes are tight (brows to chin); on Megamind.avi 1.5 separated
 * the two characters better than 1.2 (mean cosine same/other character
 * 0.90/0.57 against 0.83/0.46) while the crop stays mostly face. */
#define VG_FACE_EMBED_EXPAND 1.5f

typedef struct vg_face_embedder vg_face_embedder;

/* Checks that s (borrowed) is an embedding model: one float input
 * [1,S,S,3] (NHWC; 112 for MobileFaceNet; dynamic batch fixed to 1) and
 * one output [1,D] (or [D]), then runs it once on a uniform mid-gray
 * picture (pixel 128) to record its reference output (see vg_face_embed).
 * Fails with VG_EINVAL, VG_EMODEL (message names what differs), VG_EINFER
 * (the reference run failed) or VG_ENOMEM; on failure *out is NULL.
 * Caller destroys. */
int vg_face_embedder_create(vg_context *ctx, vg_session *s,
                            vg_face_embedder **out);

/* Embedding length D (192 for MobileFaceNet). */
int vg_face_embedder_dim(const vg_face_embedder *fe);

/* Embeds the face: crops the expanded square around face->box (see
 * VG_FACE_EMBED_EXPAND) to S x S, values pixel / 255, RGB, runs the model,
 * subtracts the reference output and writes the difference scaled to unit
 * L2 length into emb[0..D). *dim receives D.
 * Why the reference: the converted MobileFaceNet's (already unit-length)
 * output is dominated by one constant direction; raw outputs of any two
 * pictures (faces, background, noise, black) have cosine > 0.998. Minus the
 * mid-gray reference, cosines spread out: on Megamind.avi about 0.9 for
 * the same character, 0.6 for the other (tests/test_face.c reports them).
 * Returns 0, VG_EINVAL (bad arguments, an empty box or one outside the
 * picture), VG_ERANGE (cap < D), the session's code (VG_EINFER, VG_ENOMEM)
 * or VG_EINFER (the output is non-finite or equals the reference, as for a
 * uniform pixel-128 crop); the message is in vg_face_embedder_errmsg. No heap
 * allocation in vigil's code. */
int vg_face_embed(vg_face_embedder *fe, const uint8_t *rgb, int w, int h,
                  int stride, const vg_face *face, float *emb, int cap,
                  int *dim);

const char *vg_face_embedder_errmsg(const vg_face_embedder *fe);

/* Destroys the handle (not the session) and sets *fe to NULL; accepts NULL. */
void vg_face_embedder_destroy(vg_face_embedder **fe);

/* Cosine similarity of a and b (dim floats): a.b / (|a| |b|), in [-1, 1];
 * 0 when either is all zero or dim < 1. */
float vg_face_cosine(const float *a, const float *b, int dim);

#endif
