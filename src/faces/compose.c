/* Crop boxes of the split screen and the resize that fills a slot: RGB24
 * picture in, YUV 4:2:0 crop out (include/vigil/faces.h). Pure functions,
 * no allocation. */
#include <math.h>
#include <string.h>

#include "vigil/faces.h"

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

/* BT.601 limited range in 8-bit fixed point: the file's colour space. */
static inline uint8_t luma(int r, int g, int b)
{
    return (uint8_t)(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
}

/* Cb and Cr from the sums of four pixels' channels; the offset keeps the
 * value positive before the shift. */
static inline uint8_t chroma_u(int r4, int g4, int b4)
{
    return (uint8_t)((-38 * r4 - 74 * g4 + 112 * b4 + (128 << 10) + 512) >> 10);
}

static inline uint8_t chroma_v(int r4, int g4, int b4)
{
    return (uint8_t)((112 * r4 - 94 * g4 - 18 * b4 + (128 << 10) + 512) >> 10);
}

void vg_faces_rgb_to_yuv(const uint8_t rgb[3], uint8_t yuv[3])
{
    yuv[0] = luma(rgb[0], rgb[1], rgb[2]);
    yuv[1] = chroma_u(4 * rgb[0], 4 * rgb[1], 4 * rgb[2]);
    yuv[2] = chroma_v(4 * rgb[0], 4 * rgb[1], 4 * rgb[2]);
}

/* One source row interpolated across, one plane per channel:
 * out[c][i] = a * (256 - w) + b * w for output column i (8.8 fixed
 * point). */
static void resize_row(const uint8_t *row, const int *xo, const uint16_t *xw,
                       int s1, int dw, uint16_t (*out)[VG_FACES_MAX_SIDE])
{
    for (int i = 0; i < dw; i++) {
        const uint8_t *a = row + xo[i];
        int w1 = xw[i], w0 = 256 - w1;
        out[0][i] = (uint16_t)(a[0] * w0 + a[s1] * w1);
        out[1][i] = (uint16_t)(a[1] * w0 + a[s1 + 1] * w1);
        out[2][i] = (uint16_t)(a[2] * w0 + a[s1 + 2] * w1);
    }
}

/* Output row from two interpolated source rows, weight wy of 256 on the
 * lower one. */
static void blend_rows(const uint16_t *top, const uint16_t *bot, int wy, int n,
                       uint8_t *out)
{
    uint32_t w1 = (uint32_t)wy, w0 = 256u - w1;
    for (int i = 0; i < n; i++)
        out[i] = (uint8_t)(((uint32_t)top[i] * w0 + (uint32_t)bot[i] * w1 +
                            32768u) >>
                           16);
}

int vg_faces_resize_yuv420(const uint8_t *src, int sw, int sh, int sstride,
                           const vg_box *region, int dw, int dh,
                           const vg_faces_yuv *dst)
{
    enum { W = VG_FACES_MAX_SIDE };
    /* per output column: left source byte offset and weight (of 256) */
    int xo[W];
    uint16_t xw[W];
    /* the last two source rows interpolated across (separable: a source
     * row is interpolated once however many output rows it feeds), and the
     * output row pair, planar so the loops run on whole vectors */
    uint16_t hrow[2][3][W];
    uint8_t rgb[2][3][W];
    int hrow_of[2] = {-1, -1};
    float x0, y0, x1, y1, kx, ky;
    int s1 = sw > 1 ? 3 : 0;

    if (src == NULL || dst == NULL || dst->y == NULL || dst->u == NULL ||
        dst->v == NULL || region == NULL || sw < 1 || sh < 1 ||
        sstride < 3 * sw || dw < 2 || dh < 2 || dw > W || dw % 2 != 0 ||
        dh % 2 != 0 || dst->ystride < dw || dst->cstride < dw / 2)
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
        int iy, wy, lo, hi;
        uint8_t(*p)[W] = rgb[j & 1];
        uint8_t *yr = dst->y + (size_t)j * (size_t)dst->ystride;
        if (sy < 0.0f)
            sy = 0.0f;
        iy = (int)sy;
        if (iy > sh - 2) {
            iy = sh > 1 ? sh - 2 : 0;
            sy = sh > 1 ? (float)(sh - 1) : 0.0f;
        }
        wy = (int)((sy - (float)iy) * 256.0f + 0.5f);
        lo = iy;
        hi = sh > 1 ? iy + 1 : iy;
        /* rows lo and hi, each interpolated once: kept in the slot of its
         * parity */
        for (int r = lo; r <= hi; r++)
            if (hrow_of[r & 1] != r) {
                resize_row(src + (size_t)r * (size_t)sstride, xo, xw, s1, dw,
                           hrow[r & 1]);
                hrow_of[r & 1] = r;
            }
        for (int c = 0; c < 3; c++)
            blend_rows(hrow[lo & 1][c], hrow[hi & 1][c], wy, dw, p[c]);
        for (int i = 0; i < dw; i++)
            yr[i] = luma(p[0][i], p[1][i], p[2][i]);
        if (j & 1) { /* the pair's chroma: means of 2 x 2 */
            const uint8_t(*q)[W] = (const uint8_t(*)[W])rgb[0];
            uint8_t *ur = dst->u + (size_t)(j / 2) * (size_t)dst->cstride;
            uint8_t *vr = dst->v + (size_t)(j / 2) * (size_t)dst->cstride;
            for (int i = 0; i < dw / 2; i++) {
                int r4 = q[0][2 * i] + q[0][2 * i + 1] + p[0][2 * i] +
                         p[0][2 * i + 1];
                int g4 = q[1][2 * i] + q[1][2 * i + 1] + p[1][2 * i] +
                         p[1][2 * i + 1];
                int b4 = q[2][2 * i] + q[2][2 * i + 1] + p[2][2 * i] +
                         p[2][2 * i + 1];
                ur[i] = chroma_u(r4, g4, b4);
                vr[i] = chroma_v(r4, g4, b4);
            }
        }
    }
    return 0;
}
