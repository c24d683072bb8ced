/* The synthetic tracking scene: see include/vigil/mot.h. Randomness comes
 * from a splitmix64 stream seeded by the options, and normal deviates are
 * Irwin-Hall sums (12 uniforms - 6) so that the scene is the same bit for
 * bit on every machine (no libm in the random path). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/mot.h"

#define MAX_WALKERS 1000
#define MAX_DIM 1024
#define MAX_FRAMES 100000

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next_u64(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static double uni(rng *r)
{
    return (double)(next_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(rng *r)
{
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += uni(r);
    return s - 6.0;
}

/* Poisson deviate by multiplication of uniforms (small means) */
static int poisson(rng *r, double mean)
{
    double l = exp(-mean), p = 1;
    int k = 0;
    if (mean <= 0)
        return 0;
    do {
        k++;
        p *= uni(r);
    } while (p > l && k < 1000);
    return k - 1;
}

typedef struct walker {
    int id;
    double cx, cy, vx, vy, w, h;
    int occluded; /* frames of missed detections left */
    int alive;
} walker;

typedef struct builder {
    vg_context *ctx;
    vg_mot_scene *sc;
    int cap_gt, cap_det;
} builder;

void vg_mot_scene_opts_default(vg_mot_scene_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->frames = 300;
    o->width = 1280;
    o->height = 720;
    o->walkers = 10;
    o->speed = 2.0f;
    o->motion_noise = 0.05f;
    o->box_jitter = 0.04f;
    o->occlusion_rate = 0.005f;
    o->occlusion_frames = 12;
    o->false_positives = 0.5f;
    o->crossing = 0;
    o->turn_rate = 0;
    o->appearance_dim = 32;
    o->appearance_noise = 0.08f;
}

int vg_mot_scene_preset(const char *name, vg_mot_scene_opts *o)
{
    vg_mot_scene_opts_default(o);
    if (!name)
        return VG_EINVAL;
    if (!strcmp(name, "easy")) {
        o->seed = 11;
        o->walkers = 8;
        o->motion_noise = 0.02f;
        o->box_jitter = 0.02f;
        o->occlusion_rate = 0.002f;
        o->false_positives = 0.1f;
        return 0;
    }
    if (!strcmp(name, "crowded")) {
        o->seed = 22;
        o->walkers = 40;
        o->box_jitter = 0.05f;
        o->occlusion_rate = 0.01f;
        o->false_positives = 2.0f;
        o->crossing = 0.2f;
        return 0;
    }
    if (!strcmp(name, "crossing")) {
        o->seed = 33;
        o->walkers = 20;
        o->crossing = 0.8f;
        o->turn_rate = 0.03f;
        return 0;
    }
    return VG_EINVAL;
}

static int push_gt(builder *b, const vg_mot_row *r)
{
    vg_mot_scene *sc = b->sc;
    if (sc->n_gt == b->cap_gt) {
        int cap = b->cap_gt ? b->cap_gt * 2 : 1024;
        vg_mot_row *p = vg_realloc(b->ctx, sc->gt, (size_t)cap * sizeof(*p));
        if (!p)
            return VG_ENOMEM;
        sc->gt = p;
        b->cap_gt = cap;
    }
    sc->gt[sc->n_gt++] = *r;
    return 0;
}

static int push_det(builder *b, const vg_mot_row *r, int identity)
{
    vg_mot_scene *sc = b->sc;
    if (sc->n_det == b->cap_det) {
        int cap = b->cap_det ? b->cap_det * 2 : 1024;
        vg_mot_row *p = vg_realloc(b->ctx, sc->det, (size_t)cap * sizeof(*p));
        int *q;
        float *a;
        if (!p)
            return VG_ENOMEM;
        sc->det = p;
        q = vg_realloc(b->ctx, sc->det_identity, (size_t)cap * sizeof(int));
        if (!q)
            return VG_ENOMEM;
        sc->det_identity = q;
        a = vg_realloc(b->ctx, sc->appearance,
                       (size_t)cap * (size_t)sc->appearance_dim *
                           sizeof(float));
        if (!a)
            return VG_ENOMEM;
        sc->appearance = a;
        b->cap_det = cap;
    }
    sc->det_identity[sc->n_det] = identity;
    sc->det[sc->n_det++] = *r;
    return 0;
}

static void normalise(float *v, int dim)
{
    double n = 0;
    for (int i = 0; i < dim; i++)
        n += (double)v[i] * v[i];
    n = sqrt(n);
    if (n > 0)
        for (int i = 0; i < dim; i++)
            v[i] = (float)(v[i] / n);
}

/* A new walker: on the crossing band from the left or right edge, or
 * anywhere (at start) / from any edge heading inwards. */
static void spawn(walker *w, int id, const vg_mot_scene_opts *o, rng *r,
                  int at_start)
{
    double speed = o->speed * (0.5 + uni(r));
    int band = uni(r) < o->crossing;
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->alive = 1;
    w->h = 60 + 80 * uni(r);
    w->w = 0.41 * w->h;
    if (band) {
        int right = uni(r) < 0.5;
        w->cy = o->height * 0.5 + 12 * gauss(r);
        w->cx = at_start ? uni(r) * o->width : (right ? 0 : o->width);
        w->vx = right ? speed : -speed;
        w->vy = 0;
        return;
    }
    if (at_start) {
        double a = uni(r) * 6.283185307179586;
        w->cx = uni(r) * o->width;
        w->cy = uni(r) * o->height;
        w->vx = speed * cos(a);
        w->vy = speed * sin(a) * 0.5;
        return;
    }
    switch ((int)(uni(r) * 4)) {
    case 0:
        w->cx = 0, w->cy = uni(r) * o->height;
        break;
    case 1:
        w->cx = o->width, w->cy = uni(r) * o->height;
        break;
    case 2:
        w->cx = uni(r) * o->width, w->cy = 0;
        break;
    default:
        w->cx = uni(r) * o->width, w->cy = o->height;
        break;
    }
    {
        /* towards a random point in the middle half of the image */
        double tx = o->width * (0.25 + 0.5 * uni(r)),
               ty = o->height * (0.25 + 0.5 * uni(r));
        double dx = tx - w->cx, dy = ty - w->cy, n = sqrt(dx * dx + dy * dy);
        w->vx = n > 0 ? speed * dx / n : speed;
        w->vy = n > 0 ? speed * dy / n : 0;
    }
}

static vg_box walker_box(const walker *w)
{
    vg_box b;
    b.x = (float)(w->cx - 0.5 * w->w);
    b.y = (float)(w->cy - 0.5 * w->h);
    b.w = (float)w->w;
    b.h = (float)w->h;
    return b;
}

/* Fraction of a's area covered by b. */
static double covered(const vg_box *a, const vg_box *b)
{
    double x0 = fmax(a->x, b->x), y0 = fmax(a->y, b->y);
    double x1 = fmin(a->x + a->w, b->x + b->w);
    double y1 = fmin(a->y + a->h, b->y + b->h);
    double inter = fmax(0, x1 - x0) * fmax(0, y1 - y0);
    return inter / ((double)a->w * a->h);
}

static int check(vg_context *ctx, const vg_mot_scene_opts *o)
{
#define BAD(name, fmt, v, want)                                                \
    vg_fail(ctx, VG_EINVAL,                                                    \
            "mot scene option " name " = " fmt ": expected " want, v)
    if (o->frames < 1 || o->frames > MAX_FRAMES)
        return BAD("frames", "%d", o->frames, "1..100000");
    if (o->width < 64 || o->height < 64 || o->width > 100000 ||
        o->height > 100000)
        return BAD("width", "%d", o->width, "64..100000 (and height)");
    if (o->walkers < 1 || o->walkers > MAX_WALKERS)
        return BAD("walkers", "%d", o->walkers, "1..1000");
    if (!(o->speed >= 0 && o->speed < 100))
        return BAD("speed", "%g", (double)o->speed, "[0, 100)");
    if (!(o->motion_noise >= 0 && o->motion_noise < 10))
        return BAD("motion_noise", "%g", (double)o->motion_noise, "[0, 10)");
    if (!(o->box_jitter >= 0 && o->box_jitter < 0.5f))
        return BAD("box_jitter", "%g", (double)o->box_jitter, "[0, 0.5)");
    if (!(o->occlusion_rate >= 0 && o->occlusion_rate <= 1))
        return BAD("occlusion_rate", "%g", (double)o->occlusion_rate, "[0, 1]");
    if (o->occlusion_frames < 0 || o->occlusion_frames > 10000)
        return BAD("occlusion_frames", "%d", o->occlusion_frames, "0..10000");
    if (!(o->false_positives >= 0 && o->false_positives <= 100))
        return BAD("false_positives", "%g", (double)o->false_positives,
                   "[0, 100]");
    if (!(o->crossing >= 0 && o->crossing <= 1))
        return BAD("crossing", "%g", (double)o->crossing, "[0, 1]");
    if (!(o->turn_rate >= 0 && o->turn_rate <= 1))
        return BAD("turn_rate", "%g", (double)o->turn_rate, "[0, 1]");
    if (o->appearance_dim < 1 || o->appearance_dim > MAX_DIM)
        return BAD("appearance_dim", "%d", o->appearance_dim, "1..1024");
    if (!(o->appearance_noise >= 0 && o->appearance_noise < 100))
        return BAD("appearance_noise", "%g", (double)o->appearance_noise,
                   "[0, 100)");
#undef BAD
    return 0;
}

static int inside(const walker *w, const vg_mot_scene_opts *o)
{
    return w->cx >= 0 && w->cx <= o->width && w->cy >= 0 && w->cy <= o->height;
}

int vg_mot_scene_generate(vg_context *ctx, const vg_mot_scene_opts *o,
                          vg_mot_scene **out)
{
    vg_mot_scene_opts def;
    builder b;
    walker *w = NULL;
    float *ident = NULL; /* walkers' appearance, by id slot */
    int ident_cap = 0, next_id = 1, rc, dim;
    rng r;

    if (!out)
        return VG_EINVAL;
    *out = NULL;
    if (!o) {
        vg_mot_scene_opts_default(&def);
        o = &def;
    }
    if ((rc = check(ctx, o)) < 0)
        return rc;
    dim = o->appearance_dim;
    memset(&b, 0, sizeof(b));
    b.ctx = ctx;
    r.s = o->seed ^ 0x5DEECE66Dull;
    b.sc = vg_calloc(ctx, 1, sizeof(*b.sc));
    w = vg_calloc(ctx, (size_t)o->walkers, sizeof(*w));
    if (!b.sc || !w)
        goto nomem;
    b.sc->appearance_dim = dim;
    b.sc->frames = o->frames;
    b.sc->frame_start = vg_calloc(ctx, (size_t)o->frames + 1, sizeof(int));
    if (!b.sc->frame_start)
        goto nomem;

    for (int f = 1; f <= o->frames; f++) {
        int n_before = b.sc->n_det, fps;
        /* births (every slot holds one walker), then motion */
        for (int i = 0; i < o->walkers; i++) {
            if (!w[i].alive) {
                spawn(&w[i], next_id++, o, &r, f == 1);
                if (next_id - 1 > ident_cap) {
                    int cap = ident_cap ? ident_cap * 2 : 256;
                    float *p = vg_realloc(
                        ctx, ident, (size_t)cap * (size_t)dim * sizeof(float));
                    if (!p)
                        goto nomem;
                    ident = p;
                    ident_cap = cap;
                }
                {
                    float *v = ident + (size_t)(w[i].id - 1) * (size_t)dim;
                    for (int k = 0; k < dim; k++)
                        v[k] = (float)gauss(&r);
                    normalise(v, dim);
                }
            } else {
                if (uni(&r) < o->turn_rate) {
                    double a = uni(&r) * 6.283185307179586,
                           s = o->speed * (0.5 + uni(&r));
                    w[i].vx = s * cos(a);
                    w[i].vy = s * sin(a) * 0.5;
                }
                w[i].vx += o->motion_noise * gauss(&r);
                w[i].vy += o->motion_noise * gauss(&r);
                w[i].cx += w[i].vx;
                w[i].cy += w[i].vy;
            }
            if (w[i].occluded > 0)
                w[i].occluded--;
            else if (uni(&r) < o->occlusion_rate)
                w[i].occluded = 1 + (int)(o->occlusion_frames * 2 * uni(&r));
        }
        /* ground truth and detections of the walkers inside the image */
        for (int i = 0; i < o->walkers; i++) {
            vg_mot_row row;
            vg_box gb;
            double cover = 0, score;
            if (!inside(&w[i], o)) {
                w[i].alive = 0; /* left: a new walker next frame */
                continue;
            }
            gb = walker_box(&w[i]);
            row.frame = f;
            row.id = w[i].id;
            row.box = gb;
            row.score = 1;
            if ((rc = push_gt(&b, &row)) < 0)
                goto fail;
            /* the nearer walker (lower bottom edge) hides the farther */
            for (int j = 0; j < o->walkers; j++) {
                vg_box ob;
                if (j == i || !w[j].alive || !inside(&w[j], o))
                    continue;
                ob = walker_box(&w[j]);
                if (ob.y + ob.h > gb.y + gb.h)
                    cover = fmax(cover, covered(&gb, &ob));
            }
            if (w[i].occluded > 0 || cover > 0.7)
                continue; /* missed */
            score = 0.9 - 0.8 * cover + 0.05 * gauss(&r);
            row.id = -1;
            row.box.x = (float)(gb.x + o->box_jitter * gb.w * gauss(&r));
            row.box.y = (float)(gb.y + o->box_jitter * gb.h * gauss(&r));
            row.box.w = (float)(gb.w * (1 + o->box_jitter * gauss(&r)));
            row.box.h = (float)(gb.h * (1 + o->box_jitter * gauss(&r)));
            row.score = (float)fmin(1.0, fmax(0.05, score));
            if ((rc = push_det(&b, &row, w[i].id)) < 0)
                goto fail;
            {
                float *a =
                    b.sc->appearance + (size_t)(b.sc->n_det - 1) * (size_t)dim;
                const float *v = ident + (size_t)(w[i].id - 1) * (size_t)dim;
                for (int k = 0; k < dim; k++)
                    a[k] = v[k] + (float)(o->appearance_noise * gauss(&r));
                normalise(a, dim);
            }
        }
        /* false positives: small to person-sized boxes, low to mid scores */
        fps = poisson(&r, o->false_positives);
        for (int k = 0; k < fps; k++) {
            vg_mot_row row;
            double h = 30 + 100 * uni(&r);
            row.frame = f;
            row.id = -1;
            row.box.h = (float)h;
            row.box.w = (float)(h * (0.3 + 0.4 * uni(&r)));
            row.box.x = (float)(uni(&r) * (o->width - row.box.w));
            row.box.y = (float)(uni(&r) * (o->height - row.box.h));
            row.score = (float)(0.1 + 0.6 * uni(&r) * uni(&r));
            if ((rc = push_det(&b, &row, 0)) < 0)
                goto fail;
            {
                float *a =
                    b.sc->appearance + (size_t)(b.sc->n_det - 1) * (size_t)dim;
                for (int d = 0; d < dim; d++)
                    a[d] = (float)gauss(&r);
                normalise(a, dim);
            }
        }
        /* the frame's detections in a random order */
        for (int k = b.sc->n_det - 1; k > n_before; k--) {
            int j = n_before + (int)(uni(&r) * (k - n_before + 1));
            vg_mot_row tr = b.sc->det[k];
            int ti = b.sc->det_identity[k];
            b.sc->det[k] = b.sc->det[j];
            b.sc->det[j] = tr;
            b.sc->det_identity[k] = b.sc->det_identity[j];
            b.sc->det_identity[j] = ti;
            for (int d = 0; d < dim; d++) {
                float t = b.sc->appearance[(size_t)k * dim + d];
                b.sc->appearance[(size_t)k * dim + d] =
                    b.sc->appearance[(size_t)j * dim + d];
                b.sc->appearance[(size_t)j * dim + d] = t;
            }
        }
        b.sc->frame_start[f] = b.sc->n_det;
    }
    vg_free(ctx, w);
    vg_free(ctx, ident);
    *out = b.sc;
    return 0;

nomem:
    rc = vg_fail(ctx, VG_ENOMEM,
                 "mot scene: out of memory (%d walkers, %d "
                 "frames)",
                 o->walkers, o->frames);
fail:
    if (rc == VG_ENOMEM && vg_context_errcode(ctx) != VG_ENOMEM)
        rc = vg_fail(ctx, VG_ENOMEM, "mot scene: out of memory");
    vg_free(ctx, w);
    vg_free(ctx, ident);
    vg_mot_scene_destroy(ctx, &b.sc);
    return rc;
}

void vg_mot_scene_destroy(vg_context *ctx, vg_mot_scene **s)
{
    if (!s || !*s)
        return;
    vg_free(ctx, (*s)->gt);
    vg_free(ctx, (*s)->det);
    vg_free(ctx, (*s)->frame_start);
    vg_free(ctx, (*s)->det_identity);
    vg_free(ctx, (*s)->appearance);
    vg_free(ctx, *s);
    *s = NULL;
}

int vg_mot_write(vg_context *ctx, const char *path, const vg_mot_row *rows,
                 int n)
{
    FILE *f;
    if (!path || n < 0 || (n > 0 && !rows))
        return VG_EINVAL;
    f = fopen(path, "w");
    if (!f)
        return vg_fail(ctx, VG_EIO, "%s: cannot write: %s", path,
                       strerror(errno));
    for (int i = 0; i < n; i++)
        fprintf(f, "%d,%d,%.2f,%.2f,%.2f,%.2f,%.3f,-1,-1,-1\n", rows[i].frame,
                rows[i].id, (double)rows[i].box.x, (double)rows[i].box.y,
                (double)rows[i].box.w, (double)rows[i].box.h,
                (double)rows[i].score);
    if (ferror(f) | fclose(f))
        return vg_fail(ctx, VG_EIO, "%s: cannot write: %s", path,
                       strerror(errno));
    return 0;
}
