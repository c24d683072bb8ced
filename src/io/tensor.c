/*
 * Pre-processing after scaling: letterbox geometry, the value lookup table
 * and the 8-bit picture -> float tensor step, shared by the source (float
 * tensors, at read time) and vg_tensor_expand (compact tensors, at
 * inference time), so that both write the same bits.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "io/source_internal.h"
#include "vigil/err.h"
#include "vigil/pool.h"

#define ALIGN_UP(x, a) (((x) + (a)-1) / (a) * (a))

int vgi_tensor_geometry_get(const vg_tensor_spec *t, int w, int h,
                            vgi_tensor_geometry *g)
{
    memset(g, 0, sizeof(*g));
    if (!t || t->width < 1 || t->height < 1 || w < 1 || h < 1)
        return VG_EINVAL;
    if (t->resize == VG_RESIZE_STRETCH) {
        g->scaled_w = t->width;
        g->scaled_h = t->height;
        g->lb.scale_x = (float)t->width / (float)w;
        g->lb.scale_y = (float)t->height / (float)h;
        g->lb.scale = fminf(g->lb.scale_x, g->lb.scale_y);
    } else {
        double k = fmin((double)t->width / w, (double)t->height / h);
        g->scaled_w = (int)lrint(w * k);
        g->scaled_h = (int)lrint(h * k);
        if (g->scaled_w < 1)
            g->scaled_w = 1;
        if (g->scaled_h < 1)
            g->scaled_h = 1;
        if (g->scaled_w > t->width)
            g->scaled_w = t->width;
        if (g->scaled_h > t->height)
            g->scaled_h = t->height;
        g->pad_x = (t->width - g->scaled_w) / 2;
        g->pad_y = (t->height - g->scaled_h) / 2;
        g->lb.scale = (float)k;
        g->lb.scale_x = (float)g->scaled_w / (float)w;
        g->lb.scale_y = (float)g->scaled_h / (float)h;
    }
    g->stride = ALIGN_UP(g->scaled_w * 3, VGI_ROW_ALIGN);
    g->lb.pad_x = (float)g->pad_x;
    g->lb.pad_y = (float)g->pad_y;
    g->lb.src_w = w;
    g->lb.src_h = h;
    g->lb.dst_w = t->width;
    g->lb.dst_h = t->height;
    return 0;
}

void vgi_tensor_lut_make(const vg_tensor_spec *t, vgi_tensor_lut *lut)
{
    for (int c = 0; c < 3; c++) {
        for (int v = 0; v < 256; v++)
            lut->v[c][v] = ((float)v - t->mean[c]) * t->scale[c];
        lut->pad[c] = (t->pad_value - t->mean[c]) * t->scale[c];
    }
}

void vgi_tensor_normalise(const vg_tensor_spec *sp, const vgi_tensor_lut *lut,
                          const uint8_t *rgb, int stride, int scaled_w,
                          int scaled_h, int pad_x, int pad_y, float *t)
{
    const int W = sp->width, H = sp->height;
    const int x0 = pad_x, x1 = pad_x + scaled_w;
    const int y0 = pad_y, y1 = pad_y + scaled_h;

    if (sp->layout == VG_LAYOUT_NCHW) {
        for (int c = 0; c < 3; c++) {
            float *plane = t + (size_t)c * W * H;
            const float *v = lut->v[c];
            const float pad = lut->pad[c];
            for (int y = 0; y < H; y++) {
                float *row = plane + (size_t)y * W;
                if (y < y0 || y >= y1) {
                    for (int x = 0; x < W; x++)
                        row[x] = pad;
                    continue;
                }
                const uint8_t *in = rgb + (size_t)(y - y0) * stride + c;
                for (int x = 0; x < x0; x++)
                    row[x] = pad;
                for (int x = x0; x < x1; x++)
                    row[x] = v[in[(x - x0) * 3]];
                for (int x = x1; x < W; x++)
                    row[x] = pad;
            }
        }
        return;
    }
    for (int y = 0; y < H; y++) {
        float *row = t + (size_t)y * W * 3;
        const uint8_t *in =
            (y >= y0 && y < y1) ? rgb + (size_t)(y - y0) * stride : NULL;
        for (int x = 0; x < W; x++) {
            float *px = row + (size_t)x * 3;
            if (!in || x < x0 || x >= x1) {
                px[0] = lut->pad[0];
                px[1] = lut->pad[1];
                px[2] = lut->pad[2];
            } else {
                const uint8_t *p = in + (size_t)(x - x0) * 3;
                px[0] = lut->v[0][p[0]];
                px[1] = lut->v[1][p[1]];
                px[2] = lut->v[2][p[2]];
            }
        }
    }
}

size_t vg_tensor_float_count(const vg_tensor_spec *spec)
{
    if (!spec || spec->width < 1 || spec->height < 1)
        return 0;
    return (size_t)3 * (size_t)spec->width * (size_t)spec->height;
}

/* A compact frame's picture fits spec's tensor and its buffer. */
static int compact_fits(const vg_tensor_spec *spec, const vg_frame *f)
{
    int pad_x, pad_y;

    /* range first: a float out of int's range must not be converted */
    if (!(f->lb.pad_x >= 0.0f && f->lb.pad_x <= (float)spec->width) ||
        !(f->lb.pad_y >= 0.0f && f->lb.pad_y <= (float)spec->height))
        return 0;
    pad_x = (int)f->lb.pad_x;
    pad_y = (int)f->lb.pad_y;
    if ((float)pad_x != f->lb.pad_x || (float)pad_y != f->lb.pad_y)
        return 0;
    if (f->tensor_w < 1 || f->tensor_h < 1 ||
        f->tensor_w > spec->width - pad_x || f->tensor_h > spec->height - pad_y)
        return 0;
    if (f->tensor_stride / 3 < f->tensor_w)
        return 0;
    return (size_t)f->tensor_stride * (size_t)f->tensor_h <=
           vg_buf_size(f->tensor);
}

int vg_tensor_expand(const vg_tensor_spec *spec, const vg_frame *f, float *dst,
                     size_t dst_count)
{
    size_t n = vg_tensor_float_count(spec);
    vgi_tensor_lut lut;

    if (!n || !f || !f->tensor || !dst || dst_count < n)
        return VG_EINVAL;
    if (f->lb.dst_w != spec->width || f->lb.dst_h != spec->height)
        return VG_EINVAL;
    if (!f->tensor_compact) {
        if (vg_buf_size(f->tensor) != n * sizeof(float))
            return VG_EINVAL;
        memcpy(dst, vg_buf_data(f->tensor), n * sizeof(float));
        return 0;
    }
    if ((spec->layout != VG_LAYOUT_NCHW && spec->layout != VG_LAYOUT_NHWC) ||
        !compact_fits(spec, f))
        return VG_EINVAL;
    vgi_tensor_lut_make(spec, &lut);
    vgi_tensor_normalise(spec, &lut, vg_buf_data(f->tensor), f->tensor_stride,
                         f->tensor_w, f->tensor_h, (int)f->lb.pad_x,
                         (int)f->lb.pad_y, dst);
    return 0;
}
