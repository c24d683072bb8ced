/* YOLO heads: v5-style [1,N,5+C] with objectness, v8/11-style [1,4+C,N].
 * A NaN class score wins its anchor (and stays), so that the detector drops
 * and counts the anchor instead of passing over the NaN silently. */
#include <math.h>
#include <string.h>

#include "detect/detect_internal.h"

/* A dimension that is static and positive, or -1 for dynamic/absent. */
static int64_t dim(const vg_tensor_info *t, int k)
{
    return k < t->ndim && t->dims[k] > 0 ? t->dims[k] : -1;
}

int vgi_yolo_match(const vg_tensor_info *outs, int n_outs, int kind,
                   vgi_yolo *out)
{
    const vg_tensor_info *t = &outs[0];
    int64_t d1, d2;
    if (n_outs != 1 || t->ndim != 3 || (t->dims[0] != 1 && t->dims[0] != -1))
        return -1;
    d1 = dim(t, 1);
    d2 = dim(t, 2);
    if (d1 < 0 || d2 < 0 || d1 > INT32_MAX || d2 > INT32_MAX)
        return -1; /* the caller resolves dynamic dims by a warm-up run */
    if ((kind == VG_HEAD_AUTO || kind == VG_HEAD_YOLOV5) && d2 >= 6 &&
        d1 > d2 && d2 - 5 <= VG_MAX_CLASSES) {
        out->kind = VG_HEAD_YOLOV5;
        out->n = (int)d1;
        out->classes = (int)(d2 - 5);
        return 0;
    }
    if ((kind == VG_HEAD_AUTO || kind == VG_HEAD_YOLOV8) && d1 >= 5 &&
        d2 > d1 && d1 - 4 <= VG_MAX_CLASSES) {
        out->kind = VG_HEAD_YOLOV8;
        out->n = (int)d2;
        out->classes = (int)(d1 - 4);
        return 0;
    }
    return -1;
}

void vgi_yolo_spec(int w, int h, int layout, vg_tensor_spec *out)
{
    memset(out, 0, sizeof(*out));
    out->width = w;
    out->height = h;
    out->layout = layout;
    out->channels = VG_CHANNELS_RGB;
    out->resize = VG_RESIZE_LETTERBOX;
    for (int c = 0; c < 3; c++) {
        out->mean[c] = 0.0f;
        out->scale[c] = 1.0f / 255.0f;
    }
    out->pad_value = 114.0f;
}

static void set_box(vg_detection *d, float cx, float cy, float w, float h)
{
    d->box.x = cx - 0.5f * w;
    d->box.y = cy - 0.5f * h;
    d->box.w = w;
    d->box.h = h;
}

static int decode_v5(const vgi_yolo *y, const float *out, const vgi_filter *f,
                     vg_detection *cands, int cap)
{
    int stride = 5 + y->classes, n = 0;
    for (int i = 0; i < y->n && n < cap; i++) {
        const float *row = out + (size_t)i * (size_t)stride;
        float obj = row[4], best = -1.0f;
        int best_c = -1;
        if (obj < f->threshold)
            continue; /* obj * cls <= obj for scores in [0,1]; NaN goes on */
        for (int c = 0; c < y->classes; c++)
            if ((row[5 + c] > best || isnan(row[5 + c])) &&
                vgi_class_kept(f, c)) {
                best = row[5 + c];
                best_c = c;
            }
        if (best_c < 0 || obj * best < f->threshold)
            continue;
        set_box(&cands[n], row[0], row[1], row[2], row[3]);
        cands[n].score = obj * best;
        cands[n].class_id = best_c;
        n++;
    }
    return n;
}

static int decode_v8(const vgi_yolo *y, const float *out, const vgi_filter *f,
                     vg_detection *cands, int cap)
{
    size_t na = (size_t)y->n;
    int count = y->n < cap ? y->n : cap, n = 0;
    /* class-major pass over the transposed layout, cands as the scratch */
    for (int i = 0; i < count; i++) {
        cands[i].score = -1.0f;
        cands[i].class_id = -1;
    }
    for (int c = 0; c < y->classes; c++) {
        const float *row = out + (size_t)(4 + c) * na;
        if (!vgi_class_kept(f, c))
            continue;
        for (int i = 0; i < count; i++)
            if (row[i] > cands[i].score || isnan(row[i])) {
                cands[i].score = row[i];
                cands[i].class_id = c;
            }
    }
    for (int i = 0; i < count; i++) {
        float score = cands[i].score;
        int c = cands[i].class_id;
        if (c < 0 || score < f->threshold)
            continue;
        set_box(&cands[n], out[i], out[na + (size_t)i], out[2 * na + (size_t)i],
                out[3 * na + (size_t)i]);
        cands[n].score = score;
        cands[n].class_id = c;
        n++; /* n <= i: compaction is safe */
    }
    return n;
}

int vgi_yolo_decode(const vgi_yolo *y, const float *out, const vgi_filter *f,
                    vg_detection *cands, int cap)
{
    if (y->kind == VG_HEAD_YOLOV5)
        return decode_v5(y, out, f, cands, cap);
    return decode_v8(y, out, f, cands, cap);
}
