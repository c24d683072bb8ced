/* Crop boxes of the split screen and the RGB24 resize that fills a slot
 * (include/vigil/faces.h). Pure functions, no allocation. */
#include <math.h>
#include <string.h>

#include "vigil/faces.h"

#define RESIZE_MAX_WIDTH 8192

void vg_faces_crop_target(const vg_box *face, float aspect, float zoom,
                          int pic_w, int pic_h, vg_box *out)
{
    float h = face->h * zoom, w;
    float cx = face->x + 0.5f * face->w, cy = face->y + 0.5f * face->h;
    if (!(h > 1.0f))
        h = 1.0f;
    w = h * aspect;
    if (w > (float)pic_w) {
        w = (float)pic_w;
        h = w / aspect;
    }
    if (h > (float)pic_h) {
        h = (float)pic_h;
        w = h * aspect;
    }
    out->w = w;
    out->h = h;
    out->x = fminf(fmaxf(cx - 0.5f * w, 0.0f), (float)pic_w - w);
    out->y = fminf(fmaxf(cy - 0.5f * h, 0.0f), (float)pic_h - h);
}

void vg_faces_crop_ema(vg_box *state, const vg_box *target, float alpha)
{
    float b = 1.0f - alpha;
    state->x = alpha * target->x + b * state->x;
    state->y = alpha * target->y + b * state->y;
    state->w = alpha * target->w + b * state->w;
    state->h = alpha * target->h + b * state->h;
}

int vg_faces_resize(const uint8_t *src, int sw, int sh, int sstride,
                    const vg_box *region, uint8_t *dst, int dw, int dh,
                    int dstride)
{
    /* per output column: left source byte offset and weight (of 256) */
    int xo[RESIZE_MAX_WIDTH];
    uint16_t xw[RESIZE_MAX_WIDTH];
    float x0, y0, x1, y1, kx, ky;

    if (src == NULL || dst == NULL || region == NULL || sw < 1 || sh < 1 ||
        sstride < 3 * sw || dw < 1 || dh < 1 || dw > RESIZE_MAX_WIDTH ||
        dstride < 3 * dw)
        return VG_EINVAL;
    if (!isfinite(region->x) || !isfinite(region->y) || !isfinite(region->w) ||
        !isfinite(region->h))
        return VG_EINVAL;
    x0 = fmaxf(region->x, 0.0f);
    y0 = fmaxf(region->y, 0.0f);
    x1 = fminf(region->x + region->w, (float)sw);
    y1 = fminf(region->y + region->h, (float)sh);
    if (!(x1 > x0) || !(y1 > y0))
        return VG_EINVAL;
    kx = (x1 - x0) / (float)dw;
    ky = (y1 - y0) / (float)dh;
    for (int i = 0; i < dw; i++) {
        /* sample at the output pixel's centre, pixel centres at +0.5 */
        float sx = x0 + ((float)i + 0.5f) * kx - 0.5f;
        int ix;
        float fx;
        if (sx < 0.0f)
            sx = 0.0f;
        ix = (int)sx;
        if (ix > sw - 2) {
            ix = sw > 1 ? sw - 2 : 0;
            sx = sw > 1 ? (float)(sw - 1) : 0.0f;
        }
        fx = sx - (float)ix;
        xo[i] = 3 * ix;
        xw[i] = (uint16_t)(fx * 256.0f + 0.5f);
    }
    for (int j = 0; j < dh; j++) {
        float sy = y0 + ((float)j + 0.5f) * ky - 0.5f;
        int iy, wy;
        const uint8_t *r0, *r1;
        uint8_t *d = dst + (size_t)j * (size_t)dstride;
        if (sy < 0.0f)
            sy = 0.0f;
        iy = (int)sy;
        if (iy > sh - 2) {
            iy = sh > 1 ? sh - 2 : 0;
            sy = sh > 1 ? (float)(sh - 1) : 0.0f;
        }
        wy = (int)((sy - (float)iy) * 256.0f + 0.5f);
        r0 = src + (size_t)iy * (size_t)sstride;
        r1 = sh > 1 ? r0 + sstride : r0;
        for (int i = 0; i < dw; i++) {
            const uint8_t *a = r0 + xo[i], *b = r1 + xo[i];
            int w1 = xw[i], w0 = 256 - w1;
            int s1 = sw > 1 ? 3 : 0;
            for (int c = 0; c < 3; c++) {
                int top = a[c] * w0 + a[c + s1] * w1;
                int bot = b[c] * w0 + b[c + s1] * w1;
                d[3 * i + c] =
                    (uint8_t)((top * (256 - wy) + bot * wy + 32768) >> 16);
            }
        }
    }
    return 0;
}
