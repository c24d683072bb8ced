/* Zone geometry: point in polygon, polygon self-intersection, line sides. */
#include <math.h>

#include "rules/rules_internal.h"

/* Points closer than this (pixels) to an edge are on it. */
#define ON_EDGE_EPS 1e-3

static double cross3(vg_point o, vg_point a, vg_point b)
{
    return ((double)a.x - o.x) * ((double)b.y - o.y) -
           ((double)a.y - o.y) * ((double)b.x - o.x);
}

static int sign_eps(double v, double eps)
{
    return v > eps ? 1 : (v < -eps ? -1 : 0);
}

/* 1 when p lies on segment ab (within eps pixels). */
static int on_segment(vg_point a, vg_point b, vg_point p, double eps)
{
    double dx = (double)b.x - a.x, dy = (double)b.y - a.y;
    double len = sqrt(dx * dx + dy * dy);
    double t;

    if (len < 1e-12)
        return fabs((double)p.x - a.x) <= eps && fabs((double)p.y - a.y) <= eps;
    if (fabs(cross3(a, b, p)) / len > eps)
        return 0;
    t = (((double)p.x - a.x) * dx + ((double)p.y - a.y) * dy) / (len * len);
    return t >= -eps / len && t <= 1 + eps / len;
}

int vg_zone_contains(const vg_point *poly, int n, vg_point p)
{
    int inside = 0;

    if (poly == NULL || n < 3)
        return 0;
    for (int i = 0, j = n - 1; i < n; j = i++)
        if (on_segment(poly[j], poly[i], p, ON_EDGE_EPS))
            return 1;
    /* Even-odd: count edges crossing the ray to the right of p; the
     * half-open rule (one end below, the other at or above) counts a
     * vertex on the ray once. */
    for (int i = 0, j = n - 1; i < n; j = i++) {
        vg_point a = poly[j], b = poly[i];
        if ((a.y > p.y) != (b.y > p.y)) {
            double x = (double)a.x + ((double)p.y - a.y) * ((double)b.x - a.x) /
                                         ((double)b.y - a.y);
            if ((double)p.x < x)
                inside = !inside;
        }
    }
    return inside;
}

/* 1 when segments p1p2 and q1q2 share a point. */
static int segments_meet(vg_point p1, vg_point p2, vg_point q1, vg_point q2)
{
    int d1 = sign_eps(cross3(q1, q2, p1), 1e-9);
    int d2 = sign_eps(cross3(q1, q2, p2), 1e-9);
    int d3 = sign_eps(cross3(p1, p2, q1), 1e-9);
    int d4 = sign_eps(cross3(p1, p2, q2), 1e-9);

    if (d1 * d2 < 0 && d3 * d4 < 0)
        return 1;
    return (d1 == 0 && on_segment(q1, q2, p1, 1e-9)) ||
           (d2 == 0 && on_segment(q1, q2, p2, 1e-9)) ||
           (d3 == 0 && on_segment(p1, p2, q1, 1e-9)) ||
           (d4 == 0 && on_segment(p1, p2, q2, 1e-9));
}

int vg_polygon_self_intersects(const vg_point *poly, int n, int *edge_a,
                               int *edge_b)
{
    for (int i = 0; i < n; i++) {
        vg_point a1 = poly[i], a2 = poly[(i + 1) % n];
        for (int j = i + 1; j < n; j++) {
            vg_point b1 = poly[j], b2 = poly[(j + 1) % n];
            int adjacent = (j == i + 1) || (i == 0 && j == n - 1);
            int bad;
            if (adjacent) {
                /* Shared vertex is expected; folding back along the same
                 * line (or a zero-length edge) is not. */
                vg_point shared = (j == i + 1) ? a2 : a1;
                vg_point fa = (j == i + 1) ? a1 : a2;
                vg_point fb = (j == i + 1) ? b2 : b1;
                double dx1 = (double)fa.x - shared.x,
                       dy1 = (double)fa.y - shared.y;
                double dx2 = (double)fb.x - shared.x,
                       dy2 = (double)fb.y - shared.y;
                bad = (dx1 == 0 && dy1 == 0) || (dx2 == 0 && dy2 == 0) ||
                      (sign_eps(dx1 * dy2 - dy1 * dx2, 1e-9) == 0 &&
                       dx1 * dx2 + dy1 * dy2 > 0);
            } else {
                bad = segments_meet(a1, a2, b1, b2);
            }
            if (bad) {
                if (edge_a)
                    *edge_a = i;
                if (edge_b)
                    *edge_b = j;
                return 1;
            }
        }
    }
    return 0;
}

int vg_line_side(vg_point a, vg_point b, vg_point p)
{
    return sign_eps(cross3(a, b, p), 0);
}

double vgi_line_cross(vg_point a, vg_point b, vg_point p)
{
    return cross3(a, b, p);
}

int vgi_path_meets_segment(vg_point a, vg_point b, vg_point p0, vg_point p1)
{
    /* p0 and p1 are on opposite sides of line ab (or p0 on it): find where
     * the path meets the line and test that point against the segment. */
    double d0 = cross3(a, b, p0), d1 = cross3(a, b, p1);
    double t, x, y, dx, dy, len2, u;

    if (d0 == d1)
        return 0;
    t = d0 / (d0 - d1);
    x = (double)p0.x + t * ((double)p1.x - p0.x);
    y = (double)p0.y + t * ((double)p1.y - p0.y);
    dx = (double)b.x - a.x;
    dy = (double)b.y - a.y;
    len2 = dx * dx + dy * dy;
    if (len2 <= 0)
        return 0;
    u = ((x - a.x) * dx + (y - a.y) * dy) / len2;
    return u >= 0 && u <= 1;
}
