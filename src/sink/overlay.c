/*
 * Annotation drawing for the output video: tracks, zones, lines, event strip.
 */
#include "vigil/overlay.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vigil/events.h"
#include "vigil/image.h"

#define MAX_RING 64

struct ring_event {
    double time_s;
    int64_t track_id;
    int kind;
    char rule[64];
};

struct vg_overlay {
    vg_context *ctx;
    int cap;   /* ring slots */
    int count; /* events held */
    int next;  /* slot of the next push */
    struct ring_event ring[MAX_RING];
};

static const uint8_t PALETTE[][3] = {
    {230, 25, 75},  {60, 180, 75},   {255, 225, 25}, {0, 130, 200},
    {245, 130, 48}, {145, 30, 180},  {70, 240, 240}, {240, 50, 230},
    {210, 245, 60}, {250, 190, 212}, {0, 128, 128},  {170, 110, 40},
};

void vg_overlay_track_color(int64_t track_id, uint8_t rgb[3])
{
    size_t n = sizeof(PALETTE) / sizeof(PALETTE[0]);
    if (track_id < 0) {
        rgb[0] = rgb[1] = rgb[2] = 255;
        return;
    }
    memcpy(rgb, PALETTE[(uint64_t)track_id % n], 3);
}

/* Float to pixel without overflow (NaN gives a far-away value). */
static int to_px(double v)
{
    if (!(v > -1e6))
        return -1000000;
    return v > 1e6 ? 1000000 : (int)floor(v);
}

void vg_overlay_draw_track(uint8_t *rgb, int w, int h, int stride,
                           const vg_box *box, int64_t track_id,
                           const char *class_name, float score)
{
    uint8_t c[3];
    char label[96];
    size_t n = 0;
    int x, y, bw, bh, tw, th, ly, t;

    if (!rgb || !box)
        return;
    vg_overlay_track_color(track_id, c);
    x = to_px(box->x);
    y = to_px(box->y);
    bw = to_px((double)box->w + 0.5);
    bh = to_px((double)box->h + 0.5);
    t = (w < h ? w : h) >= 720 ? 3 : 2;
    vg_image_draw_rect(rgb, w, h, stride, x, y, bw, bh, t, c[0], c[1], c[2]);
    label[0] = '\0';
    if (track_id >= 0)
        n += (size_t)snprintf(label, sizeof(label), "#%lld",
                              (long long)track_id);
    if (class_name && class_name[0] && n < sizeof(label))
        n += (size_t)snprintf(label + n, sizeof(label) - n, "%s%s",
                              n ? " " : "", class_name);
    if (score >= 0.0f && n < sizeof(label))
        snprintf(label + n, sizeof(label) - n, "%s%.2f", n ? " " : "",
                 (double)score);
    if (!label[0])
        return;
    tw = vg_image_text_width(label, 1);
    th = vg_image_text_height(1);
    ly = y - th - 3;
    if (ly < 0)
        ly = y + t;
    vg_image_fill_rect(rgb, w, h, stride, x, ly, tw + 3, th + 3, c[0], c[1],
                       c[2]);
    /* dark text on the light palette colours, light on the dark ones */
    if (c[0] * 3 + c[1] * 6 + c[2] > 1400)
        vg_image_draw_text(rgb, w, h, stride, x + 2, ly + 2, label, 0, 0, 0);
    else
        vg_image_draw_text(rgb, w, h, stride, x + 2, ly + 2, label, 255, 255,
                           255);
}

/* Liang-Barsky: clips the segment to [lo_x, hi_x] x [lo_y, hi_y]; 0 when
 * nothing is left. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1,
                        double lo_x, double lo_y, double hi_x, double hi_y)
{
    double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0.0, t1 = 1.0;
    double p[4] = {-dx, dx, -dy, dy};
    double q[4] = {*x0 - lo_x, hi_x - *x0, *y0 - lo_y, hi_y - *y0};

    for (int i = 0; i < 4; i++) {
        if (p[i] == 0.0) {
            if (q[i] < 0.0)
                return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0.0) {
            if (r > t1)
                return 0;
            if (r > t0)
                t0 = r;
        } else {
            if (r < t0)
                return 0;
            if (r < t1)
                t1 = r;
        }
    }
    *x1 = *x0 + t1 * dx;
    *y1 = *y0 + t1 * dy;
    *x0 = *x0 + t0 * dx;
    *y0 = *y0 + t0 * dy;
    return 1;
}

void vg_overlay_draw_line(uint8_t *rgb, int w, int h, int stride, float fx0,
                          float fy0, float fx1, float fy1, int thickness,
                          uint8_t r, uint8_t g, uint8_t b)
{
    double x0 = fx0, y0 = fy0, x1 = fx1, y1 = fy1;
    int t = thickness < 1 ? 1 : thickness, half = t / 2;
    int ix0, iy0, ix1, iy1, dx, dy, sx, sy, err;

    /* non-finite ends (NaN, infinity) draw nothing */
    if (!rgb || w <= 0 || h <= 0 || !isfinite(x0) || !isfinite(y0) ||
        !isfinite(x1) || !isfinite(y1))
        return;
    /* clip with a margin of the pen size, so that the loop is bounded */
    if (!clip_segment(&x0, &y0, &x1, &y1, -t, -t, w + t, h + t))
        return;
    ix0 = (int)lround(x0);
    iy0 = (int)lround(y0);
    ix1 = (int)lround(x1);
    iy1 = (int)lround(y1);
    dx = ix1 > ix0 ? ix1 - ix0 : ix0 - ix1;
    dy = -(iy1 > iy0 ? iy1 - iy0 : iy0 - iy1);
    sx = ix0 < ix1 ? 1 : -1;
    sy = iy0 < iy1 ? 1 : -1;
    err = dx + dy;
    for (;;) {
        vg_image_fill_rect(rgb, w, h, stride, ix0 - half, iy0 - half, t, t, r,
                           g, b);
        if (ix0 == ix1 && iy0 == iy1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            ix0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            iy0 += sy;
        }
    }
}

void vg_overlay_draw_polygon(uint8_t *rgb, int w, int h, int stride,
                             const float *xy, int n, int thickness, uint8_t r,
                             uint8_t g, uint8_t b)
{
    if (!xy || n < 2)
        return;
    for (int i = 0; i < n; i++) {
        int j = (i + 1) % n;
        if (n == 2 && i == 1)
            break;
        vg_overlay_draw_line(rgb, w, h, stride, xy[2 * i], xy[2 * i + 1],
                             xy[2 * j], xy[2 * j + 1], thickness, r, g, b);
    }
}

void vg_overlay_draw_arrow(uint8_t *rgb, int w, int h, int stride, float x0,
                           float y0, float x1, float y1, int thickness,
                           uint8_t r, uint8_t g, uint8_t b)
{
    double dx = (double)x1 - x0, dy = (double)y1 - y0;
    double len = sqrt(dx * dx + dy * dy), head, ux, uy;

    vg_overlay_draw_line(rgb, w, h, stride, x0, y0, x1, y1, thickness, r, g, b);
    if (!(len > 0.0) || !isfinite(len))
        return;
    head = len * 0.3 < 12.0 ? len * 0.3 : 12.0;
    ux = dx / len;
    uy = dy / len;
    /* two strokes at +-30 degrees back from the tip */
    for (int s = -1; s <= 1; s += 2) {
        double c = 0.8660254, sn = 0.5 * s;
        double bx = -(ux * c - uy * sn), by = -(ux * sn + uy * c);
        vg_overlay_draw_line(rgb, w, h, stride, x1, y1, (float)(x1 + bx * head),
                             (float)(y1 + by * head), thickness, r, g, b);
    }
}

void vg_overlay_draw_directed_line(uint8_t *rgb, int w, int h, int stride,
                                   float x0, float y0, float x1, float y1,
                                   int direction, uint8_t r, uint8_t g,
                                   uint8_t b)
{
    double dx = (double)x1 - x0, dy = (double)y1 - y0;
    double len = sqrt(dx * dx + dy * dy), arm, nx, ny, mx, my;

    vg_overlay_draw_line(rgb, w, h, stride, x0, y0, x1, y1, 2, r, g, b);
    if (!(len > 0.0) || !isfinite(len))
        return;
    arm = len * 0.25 < 30.0 ? len * 0.25 : 30.0;
    nx = -dy / len;
    ny = dx / len;
    mx = ((double)x0 + x1) / 2.0;
    my = ((double)y0 + y1) / 2.0;
    if (direction >= 0)
        vg_overlay_draw_arrow(rgb, w, h, stride, (float)mx, (float)my,
                              (float)(mx + nx * arm), (float)(my + ny * arm), 2,
                              r, g, b);
    if (direction <= 0)
        vg_overlay_draw_arrow(rgb, w, h, stride, (float)mx, (float)my,
                              (float)(mx - nx * arm), (float)(my - ny * arm), 2,
                              r, g, b);
}

/* ---- event strip
 * ------------------------------------------------------------*/

int vg_overlay_create(vg_context *ctx, int max_events, vg_overlay **out)
{
    vg_overlay *o;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "vg_overlay_create: out is NULL");
    *out = NULL;
    if (max_events < 1 || max_events > MAX_RING)
        return vg_fail(ctx, VG_EINVAL,
                       "overlay: event strip of %d lines (1..%d)", max_events,
                       MAX_RING);
    o = vg_calloc(ctx, 1, sizeof(*o));
    if (!o)
        return vg_fail(ctx, VG_ENOMEM, "overlay: out of memory");
    o->ctx = ctx;
    o->cap = max_events;
    *out = o;
    return 0;
}

void vg_overlay_push_event(vg_overlay *o, const vg_event *ev)
{
    struct ring_event *r;

    if (!o || !ev)
        return;
    r = &o->ring[o->next];
    r->time_s = ev->time_s;
    r->track_id = ev->track_id;
    r->kind = ev->kind;
    snprintf(r->rule, sizeof(r->rule), "%.*s", (int)sizeof(ev->rule), ev->rule);
    o->next = (o->next + 1) % o->cap;
    if (o->count < o->cap)
        o->count++;
}

int vg_overlay_event_count(const vg_overlay *o)
{
    return o ? o->count : 0;
}

void vg_overlay_draw_events(const vg_overlay *o, uint8_t *rgb, int w, int h,
                            int stride)
{
    int line_h = vg_image_text_height(1) + 3, y;

    if (!o || !rgb || o->count == 0)
        return;
    y = h - o->count * line_h - 2;
    vg_image_fill_rect(rgb, w, h, stride, 0, y - 2, w, h - y + 2, 16, 16, 16);
    for (int i = 0; i < o->count; i++) {
        /* oldest first: the slot count - i before next */
        int slot = (o->next - o->count + i + o->cap) % o->cap;
        const struct ring_event *r = &o->ring[slot];
        double t = r->time_s > 0.0 && isfinite(r->time_s) ? r->time_s : 0.0;
        long long mins;
        char line[128];
        if (t > 5999999.0)
            t = 5999999.0;
        mins = (long long)(t / 60.0);
        if (r->track_id >= 0)
            snprintf(line, sizeof(line), "T+%02lld:%04.1f %s #%lld %s", mins,
                     t - (double)mins * 60.0, r->rule, (long long)r->track_id,
                     vg_event_kind_name(r->kind));
        else
            snprintf(line, sizeof(line), "T+%02lld:%04.1f %s %s", mins,
                     t - (double)mins * 60.0, r->rule,
                     vg_event_kind_name(r->kind));
        vg_image_draw_text(rgb, w, h, stride, 3, y + i * line_h, line, 255, 255,
                           255);
    }
}

void vg_overlay_destroy(vg_overlay **o)
{
    if (!o || !*o)
        return;
    vg_free((*o)->ctx, *o);
    *o = NULL;
}
