/*
 * vg_hist: a cheap appearance embedding of a person, for re-identification
 * where no ReID model is brought: colour histograms of the upper and the
 * lower body (the clothes), concatenated and scaled to unit L2 length.
 *
 *   float emb[VG_HIST_DIM];
 *   if (vg_hist_embed(rgb, w, h, stride, &det.box, emb, VG_HIST_DIM) == 0)
 *       similarity = vg_hist_cosine(emb, other, VG_HIST_DIM);
 *
 * The box is split at VG_HIST_SPLIT of its height (head and shoulders above
 * it count with the torso); of each part the central 80 % of its width is
 * sampled (the background at the sides is left out) on a grid of at most
 * VG_HIST_SAMPLES x VG_HIST_SAMPLES pixels, so the cost does not grow with
 * the box. Each pixel votes into a hue x saturation histogram
 * (VG_HIST_HUE x VG_HIST_SAT bins) when it has colour, else into one of
 * VG_HIST_GREY grey-level bins: lighting changes move brightness more than
 * hue. The signature fits vg_reid_embed_fn's job: fixed length, unit norm.
 *
 * Thread-safety: pure functions; no allocation.
 */
#ifndef VIGIL_HIST_H
#define VIGIL_HIST_H

#include <stdint.h>

#include "vigil/detect.h"

#define VG_HIST_HUE 8
#define VG_HIST_SAT 3
#define VG_HIST_GREY 4
#define VG_HIST_PART (VG_HIST_HUE * VG_HIST_SAT + VG_HIST_GREY) /* 28 */
#define VG_HIST_DIM (2 * VG_HIST_PART)                          /* 56 */
#define VG_HIST_SPLIT 0.5f
#define VG_HIST_SAMPLES 24

/* Embeds the person in box (picture pixels; clamped to the picture) of an
 * RGB24 picture w x h (stride bytes per row) into out[0..VG_HIST_DIM):
 * upper-body histogram, then lower-body, the whole scaled to unit length.
 * Returns VG_HIST_DIM, or VG_EINVAL (NULL pointers, bad sizes, a
 * non-finite box, nothing of the box inside the picture) or VG_ERANGE
 * (cap < VG_HIST_DIM); out is untouched on failure. */
int vg_hist_embed(const uint8_t *rgb, int w, int h, int stride,
                  const vg_box *box, float *out, int cap);

/* Cosine similarity of two embeddings of dim values (0 when either is
 * zero). */
float vg_hist_cosine(const float *a, const float *b, int dim);

#endif
