/* The motion gate; see include/vigil/motion.h. */
#include "vigil/motion.h"

#include <math.h>
#include <string.h>

struct vg_motion {
    vg_context *ctx;
    vg_motion_opts o;
    int gw, gh;    /* grey frame size */
    int *xs, *ys;  /* source column/row where grey column/row i starts;
                      gw + 1 / gh + 1 entries */
    int kx, ky;    /* sample slots per grey column / row */
    int *sx, *sy;  /* sample columns / rows: cell i uses sx[i*kx ..] */
    int *nx, *ny;  /* samples per grey column / row */
    uint32_t *acc; /* per grey column luma sum of the current band */
    float *grey;   /* downscaled luma */
    float *tmp;    /* horizontal blur pass */
    float *blur;   /* blurred grey frame */
    float *bg;     /* background */
    uint8_t *mask; /* 1: counted */
    int counted;
    int seeded;
    int64_t max_idle_ns;
    int last_motion;
    int last_reset; /* the last picture reseeded the background */
    int detected_once;
    int64_t last_detect_ns;
    vg_motion_stats st;
};

vg_motion_opts vg_motion_defaults(void)
{
    vg_motion_opts o;
    memset(&o, 0, sizeof(o));
    o.frame_height = 120;
    o.pixel_threshold = 25;
    o.min_area = 0.002;
    o.alpha = 0.02;
    o.motion_alpha = 0.002;
    o.lightning_fraction = 0.8;
    o.max_idle_s = 5;
    o.cell_samples = 4;
    return o;
}

static int fraction_ok(double v)
{
    return v >= 0 && v <= 1;
}

/* Even-odd rule; p in normalised coordinates. */
static int inside(const vg_motion_polygon *p, float x, float y)
{
    int in = 0;
    for (int i = 0, j = p->n - 1; i < p->n; j = i++) {
        float xi = p->points[i].x, yi = p->points[i].y;
        float xj = p->points[j].x, yj = p->points[j].y;
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            in = !in;
    }
    return in;
}

static int check_opts(vg_context *ctx, const vg_motion_opts *o)
{
    if (o->width < 1 || o->height < 1 || o->width > 16384 || o->height > 16384)
        return vg_fail(ctx, VG_EINVAL,
                       "motion: picture %dx%d: size out of range "
                       "(1..16384)",
                       o->width, o->height);
    if (o->frame_height < 16 || o->frame_height > 1080)
        return vg_fail(ctx, VG_EINVAL,
                       "motion: frame_height %d out of range (16..1080)",
                       o->frame_height);
    if (o->pixel_threshold < 1 || o->pixel_threshold > 255)
        return vg_fail(ctx, VG_EINVAL,
                       "motion: pixel_threshold %d out of range (1..255)",
                       o->pixel_threshold);
    if (!fraction_ok(o->min_area) || !fraction_ok(o->alpha) ||
        !fraction_ok(o->motion_alpha) || !fraction_ok(o->lightning_fraction))
        return vg_fail(ctx, VG_EINVAL,
                       "motion: min_area %g, alpha %g, motion_alpha %g, "
                       "lightning_fraction %g: each must lie in 0..1",
                       o->min_area, o->alpha, o->motion_alpha,
                       o->lightning_fraction);
    if (o->cell_samples < 0 || o->cell_samples > 64)
        return vg_fail(ctx, VG_EINVAL,
                       "motion: cell_samples %d out of range (0..64)",
                       o->cell_samples);
    if (!(o->max_idle_s >= 0 && o->max_idle_s <= 1e6))
        return vg_fail(ctx, VG_EINVAL,
                       "motion: max_idle_s %g out of range (0..1e6)",
                       o->max_idle_s);
    if (o->mask_count < 0 || o->mask_count > VG_MOTION_MAX_POLYGONS)
        return vg_fail(ctx, VG_EINVAL, "motion: %d mask polygons (0..%d)",
                       o->mask_count, VG_MOTION_MAX_POLYGONS);
    for (int i = 0; i < o->mask_count; i++) {
        const vg_motion_polygon *p = &o->masks[i];
        if (p->n < 3 || p->n > VG_MOTION_MAX_POINTS)
            return vg_fail(ctx, VG_EINVAL,
                           "motion: mask %d has %d points (3..%d)", i, p->n,
                           VG_MOTION_MAX_POINTS);
        for (int k = 0; k < p->n; k++) {
            float x = p->points[k].x, y = p->points[k].y;
            if (!(x >= -0.01f && x <= 1.01f && y >= -0.01f && y <= 1.01f))
                return vg_fail(ctx, VG_EINVAL,
                               "motion: mask %d point %d (%g, %g) lies "
                               "outside 0..1 (normalised coordinates)",
                               i, k, x, y);
        }
    }
    return 0;
}

/* Up to k sample positions per cell of edges[0..n], spread evenly over the
 * cell (every position when the cell is at most k wide). */
static void plan_samples(const int *edges, int n, int k, int *pos, int *count)
{
    for (int i = 0; i < n; i++) {
        int w = edges[i + 1] - edges[i];
        int c = w < k ? w : k;
        for (int j = 0; j < c; j++)
            pos[(size_t)i * k + j] =
                edges[i] + (int)((2 * (int64_t)j + 1) * w / (2 * c));
        count[i] = c;
    }
}

void vg_motion_destroy(vg_motion **mp)
{
    if (!mp || !*mp)
        return;
    vg_motion *m = *mp;
    vg_free(m->ctx, m->xs);
    vg_free(m->ctx, m->ys);
    vg_free(m->ctx, m->sx);
    vg_free(m->ctx, m->sy);
    vg_free(m->ctx, m->nx);
    vg_free(m->ctx, m->ny);
    vg_free(m->ctx, m->acc);
    vg_free(m->ctx, m->grey);
    vg_free(m->ctx, m->tmp);
    vg_free(m->ctx, m->blur);
    vg_free(m->ctx, m->bg);
    vg_free(m->ctx, m->mask);
    vg_free(m->ctx, m);
    *mp = NULL;
}

int vg_motion_create(vg_context *ctx, const vg_motion_opts *opts,
                     vg_motion **out)
{
    *out = NULL;
    if (!opts)
        return vg_fail(ctx, VG_EINVAL, "motion: no options");
    int rc = check_opts(ctx, opts);
    if (rc < 0)
        return rc;
    vg_motion *m = vg_calloc(ctx, 1, sizeof(*m));
    if (!m)
        return vg_fail(ctx, VG_ENOMEM, "motion: out of memory");
    m->ctx = ctx;
    m->o = *opts;
    m->gh =
        opts->frame_height < opts->height ? opts->frame_height : opts->height;
    m->gw = (int)lround((double)opts->width * m->gh / opts->height);
    if (m->gw < 1)
        m->gw = 1;
    if (m->gw > opts->width)
        m->gw = opts->width;
    m->max_idle_ns = (int64_t)llround(opts->max_idle_s * 1e9);
    size_t n = (size_t)m->gw * (size_t)m->gh;
    /* cells are floor or ceil of the ratio wide: ceil + 1 bounds them */
    int cw = opts->width / m->gw + 1, ch = opts->height / m->gh + 1;
    m->kx =
        opts->cell_samples && opts->cell_samples < cw ? opts->cell_samples : cw;
    m->ky =
        opts->cell_samples && opts->cell_samples < ch ? opts->cell_samples : ch;
    m->sx = vg_calloc(ctx, (size_t)m->gw * m->kx, sizeof(*m->sx));
    m->sy = vg_calloc(ctx, (size_t)m->gh * m->ky, sizeof(*m->sy));
    m->nx = vg_calloc(ctx, (size_t)m->gw, sizeof(*m->nx));
    m->ny = vg_calloc(ctx, (size_t)m->gh, sizeof(*m->ny));
    m->xs = vg_calloc(ctx, (size_t)m->gw + 1, sizeof(*m->xs));
    m->ys = vg_calloc(ctx, (size_t)m->gh + 1, sizeof(*m->ys));
    m->acc = vg_calloc(ctx, (size_t)m->gw, sizeof(*m->acc));
    m->grey = vg_calloc(ctx, n, sizeof(*m->grey));
    m->tmp = vg_calloc(ctx, n, sizeof(*m->tmp));
    m->blur = vg_calloc(ctx, n, sizeof(*m->blur));
    m->bg = vg_calloc(ctx, n, sizeof(*m->bg));
    m->mask = vg_calloc(ctx, n, sizeof(*m->mask));
    if (!m->sx || !m->sy || !m->nx || !m->ny || !m->xs || !m->ys || !m->acc ||
        !m->grey || !m->tmp || !m->blur || !m->bg || !m->mask) {
        int w = m->gw, h = m->gh;
        vg_motion_destroy(&m);
        return vg_fail(ctx, VG_ENOMEM,
                       "motion: out of memory for a %dx%d grey frame", w, h);
    }
    /* gw <= width and gh <= height: every band has at least one pixel */
    for (int i = 0; i <= m->gw; i++)
        m->xs[i] = (int)((int64_t)i * opts->width / m->gw);
    for (int i = 0; i <= m->gh; i++)
        m->ys[i] = (int)((int64_t)i * opts->height / m->gh);
    plan_samples(m->xs, m->gw, m->kx, m->sx, m->nx);
    plan_samples(m->ys, m->gh, m->ky, m->sy, m->ny);
    for (int y = 0; y < m->gh; y++) {
        for (int x = 0; x < m->gw; x++) {
            float nx = (x + 0.5f) / m->gw, ny = (y + 0.5f) / m->gh;
            int keep = 1;
            for (int k = 0; k < opts->mask_count && keep; k++)
                keep = !inside(&opts->masks[k], nx, ny);
            m->mask[(size_t)y * m->gw + x] = (uint8_t)keep;
            m->counted += keep;
        }
    }
    if (m->counted == 0) {
        int w = m->gw, h = m->gh;
        vg_motion_destroy(&m);
        return vg_fail(ctx, VG_EINVAL,
                       "motion: the %d mask polygons cover the whole %dx%d "
                       "picture: nothing left to watch",
                       opts->mask_count, w, h);
    }
    m->st.grey_width = m->gw;
    m->st.grey_height = m->gh;
    m->st.counted_pixels = m->counted;
    *out = m;
    return 0;
}

/* Area average of BT.601 luma into m->grey, over the sample grid of each
 * cell (every pixel when cell_samples is 0 or the cells are small). */
static void downscale(vg_motion *m, const uint8_t *rgb, int stride)
{
    for (int gy = 0; gy < m->gh; gy++) {
        memset(m->acc, 0, (size_t)m->gw * sizeof(*m->acc));
        for (int k = 0; k < m->ny[gy]; k++) {
            int y = m->sy[(size_t)gy * m->ky + k];
            const uint8_t *row = rgb + (size_t)y * (size_t)stride;
            for (int gx = 0; gx < m->gw; gx++) {
                const int *xs = m->sx + (size_t)gx * m->kx;
                uint32_t s = 0;
                for (int j = 0; j < m->nx[gx]; j++) {
                    const uint8_t *p = row + 3 * (size_t)xs[j];
                    s += (77u * p[0] + 150u * p[1] + 29u * p[2]) >> 8;
                }
                m->acc[gx] += s;
            }
        }
        float *g = m->grey + (size_t)gy * m->gw;
        for (int gx = 0; gx < m->gw; gx++)
            g[gx] = (float)m->acc[gx] / (float)(m->ny[gy] * m->nx[gx]);
    }
}

/* 3x3 box blur of grey into blur, edges clamped. */
static void blur3(vg_motion *m)
{
    int w = m->gw, h = m->gh;
    for (int y = 0; y < h; y++) {
        const float *g = m->grey + (size_t)y * w;
        float *t = m->tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int l = x > 0 ? x - 1 : 0, r = x < w - 1 ? x + 1 : w - 1;
            t[x] = (g[l] + g[x] + g[r]) * (1.0f / 3.0f);
        }
    }
    for (int y = 0; y < h; y++) {
        int u = y > 0 ? y - 1 : 0, d = y < h - 1 ? y + 1 : h - 1;
        const float *a = m->tmp + (size_t)u * w, *b = m->tmp + (size_t)y * w,
                    *c = m->tmp + (size_t)d * w;
        float *o = m->blur + (size_t)y * w;
        for (int x = 0; x < w; x++)
            o[x] = (a[x] + b[x] + c[x]) * (1.0f / 3.0f);
    }
}

static void seed(vg_motion *m, vg_motion_result *out)
{
    memcpy(m->bg, m->blur, (size_t)m->gw * m->gh * sizeof(*m->bg));
    m->seeded = 1;
    m->st.resets++;
    m->last_reset = 1;
    out->reset = 1;
}

int vg_motion_update(vg_motion *m, const uint8_t *rgb, int width, int height,
                     int stride, vg_motion_result *out)
{
    memset(out, 0, sizeof(*out));
    if (!rgb || width != m->o.width || height != m->o.height ||
        stride < 3 * width)
        return vg_fail(m->ctx, VG_EINVAL,
                       "motion: picture %dx%d stride %d does not match the "
                       "gate's %dx%d (stride >= %d)",
                       width, height, stride, m->o.width, m->o.height,
                       3 * m->o.width);
    downscale(m, rgb, stride);
    blur3(m);
    m->st.frames_seen++;
    m->last_motion = 0;
    m->last_reset = 0;
    if (!m->seeded) {
        seed(m, out);
        return 0;
    }
    size_t n = (size_t)m->gw * m->gh;
    double sum_f = 0, sum_b = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->mask[i]) {
            sum_f += m->blur[i];
            sum_b += m->bg[i];
        }
    }
    float offset = (float)((sum_f - sum_b) / m->counted);
    float thr = (float)m->o.pixel_threshold;
    float a_still = (float)m->o.alpha, a_moving = (float)m->o.motion_alpha;
    int changed = 0, bx0 = m->gw, by0 = m->gh, bx1 = -1, by1 = -1;
    for (int y = 0; y < m->gh; y++) {
        for (int x = 0; x < m->gw; x++) {
            size_t i = (size_t)y * m->gw + x;
            float f = m->blur[i], b = m->bg[i];
            int moved = m->mask[i] && fabsf(f - b - offset) > thr;
            if (moved) {
                changed++;
                if (x < bx0)
                    bx0 = x;
                if (x > bx1)
                    bx1 = x;
                if (y < by0)
                    by0 = y;
                if (y > by1)
                    by1 = y;
            }
            m->bg[i] = b + (moved ? a_moving : a_still) * (f - b);
        }
    }
    out->changed = (double)changed / m->counted;
    if (out->changed > m->o.lightning_fraction) {
        seed(m, out);
        return 0;
    }
    if (changed > 0) {
        out->x0 = m->xs[bx0];
        out->x1 = m->xs[bx1 + 1];
        out->y0 = m->ys[by0];
        out->y1 = m->ys[by1 + 1];
    }
    out->motion = out->changed > m->o.min_area;
    m->last_motion = out->motion;
    if (out->motion)
        m->st.frames_motion++;
    return 0;
}

int vg_motion_should_detect(vg_motion *m, int has_active_tracks, int64_t now_ns)
{
    int detect = 0;
    m->st.decisions++;
    if (!m->detected_once || m->last_motion || m->last_reset ||
        has_active_tracks) {
        detect = 1;
    } else if (now_ns - m->last_detect_ns >= m->max_idle_ns) {
        detect = 1;
        m->st.forced++;
    }
    if (detect) {
        m->st.detections++;
        m->detected_once = 1;
        m->last_detect_ns = now_ns;
    } else {
        m->st.frames_skipped_idle++;
    }
    return detect;
}

void vg_motion_stats_get(const vg_motion *m, vg_motion_stats *out)
{
    *out = m->st;
}
