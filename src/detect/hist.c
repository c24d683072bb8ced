/* vg_hist: colour-histogram person embedding (include/vigil/hist.h). */
#include <math.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/hist.h"

/* Adds the votes of region [x0, x1) x [y0, y1) into part[VG_HIST_PART]. */
static void vote(const uint8_t *rgb, int stride, int x0, int y0, int x1, int y1,
                 float *part)
{
    int nx = x1 - x0 < VG_HIST_SAMPLES ? x1 - x0 : VG_HIST_SAMPLES;
    int ny = y1 - y0 < VG_HIST_SAMPLES ? y1 - y0 : VG_HIST_SAMPLES;
    for (int j = 0; j < ny; j++) {
        int y = y0 + (int)(((long)(2 * j + 1) * (y1 - y0)) / (2L * ny));
        const uint8_t *row = rgb + (size_t)y * (size_t)stride;
        for (int i = 0; i < nx; i++) {
            int x = x0 + (int)(((long)(2 * i + 1) * (x1 - x0)) / (2L * nx));
            const uint8_t *p = row + 3 * x;
            int r = p[0], g = p[1], b = p[2];
            int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
            int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
            int c = mx - mn;
            /* grey: little chroma, or too dark to tell a hue */
            if (c < 24 || mx < 40) {
                int gi = mx * VG_HIST_GREY / 256;
                part[VG_HIST_HUE * VG_HIST_SAT + gi] += 1.0f;
                continue;
            }
            {
                float hue, sat = (float)c / (float)mx;
                int hi, si;
                if (mx == r)
                    hue = fmodf((float)(g - b) / (float)c + 6.0f, 6.0f);
                else if (mx == g)
                    hue = (float)(b - r) / (float)c + 2.0f;
                else
                    hue = (float)(r - g) / (float)c + 4.0f;
                hi = (int)(hue / 6.0f * VG_HIST_HUE);
                if (hi >= VG_HIST_HUE)
                    hi = VG_HIST_HUE - 1;
                si = (int)(sat * VG_HIST_SAT);
                if (si >= VG_HIST_SAT)
                    si = VG_HIST_SAT - 1;
                part[hi * VG_HIST_SAT + si] += 1.0f;
            }
        }
    }
}

int vg_hist_embed(const uint8_t *rgb, int w, int h, int stride,
                  const vg_box *box, float *out, int cap)
{
    float v[VG_HIST_DIM];
    float x0, x1, y0, y1, ys, margin, norm = 0.0f;
    int ix0, ix1, iy0, iy1, iys;

    if (rgb == NULL || box == NULL || out == NULL || w < 1 || h < 1 ||
        stride < 3 * w)
        return VG_EINVAL;
    if (cap < VG_HIST_DIM)
        return VG_ERANGE;
    if (!isfinite(box->x) || !isfinite(box->y) || !isfinite(box->w) ||
        !isfinite(box->h) || !(box->w > 0.0f) || !(box->h > 0.0f))
        return VG_EINVAL;
    margin = 0.1f * box->w;
    x0 = fmaxf(box->x + margin, 0.0f);
    x1 = fminf(box->x + box->w - margin, (float)w);
    y0 = fmaxf(box->y, 0.0f);
    y1 = fminf(box->y + box->h, (float)h);
    ys = box->y + VG_HIST_SPLIT * box->h;
    ix0 = (int)x0;
    ix1 = (int)ceilf(x1);
    iy0 = (int)y0;
    iy1 = (int)ceilf(y1);
    if (ix1 > w)
        ix1 = w;
    if (iy1 > h)
        iy1 = h;
    if (ix1 <= ix0 || iy1 <= iy0)
        return VG_EINVAL;
    iys = (int)lrintf(fminf(fmaxf(ys, (float)iy0), (float)iy1));
    memset(v, 0, sizeof(v));
    if (iys > iy0)
        vote(rgb, stride, ix0, iy0, ix1, iys, v);
    if (iy1 > iys)
        vote(rgb, stride, ix0, iys, ix1, iy1, v + VG_HIST_PART);
    for (int i = 0; i < VG_HIST_DIM; i++)
        norm += v[i] * v[i];
    norm = sqrtf(norm);
    if (!(norm > 0.0f))
        return VG_EINVAL;
    for (int i = 0; i < VG_HIST_DIM; i++)
        out[i] = v[i] / norm;
    return VG_HIST_DIM;
}

float vg_hist_cosine(const float *a, const float *b, int dim)
{
    float ab = 0.0f, aa = 0.0f, bb = 0.0f;
    for (int i = 0; i < dim; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return aa > 0.0f && bb > 0.0f ? ab / sqrtf(aa * bb) : 0.0f;
}
