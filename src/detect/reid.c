/* Person ReID embedders (include/vigil/reid.h): the colour histogram, or an
 * ONNX ReID model on a stretched, ImageNet-normalised crop. */
#include "vigil/reid.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/hist.h"

struct vg_reid_embedder {
    vg_context *ctx;
    vg_session *session; /* NULL: the histogram */
    int in_w, in_h;      /* ONNX input size */
    int dim;
    float *input; /* [1,3,in_h,in_w] */
    char errmsg[256];
};

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

static void format_dims(const vg_tensor_info *t, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && len + 24 < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? "," : "[",
                                (long long)t->dims[i]);
    snprintf(buf + len, cap - len, "%s", t->ndim ? "]" : "[]");
}

/* Checks the input is [1|-1, 3, H|-1, W|-1] and fixes the dynamic ones. */
static int setup_input(vg_reid_embedder *e, const char *model)
{
    vg_tensor_info in;
    int64_t fixed[VG_MAX_DIMS];
    char dims[160];

    if (vg_session_input_declared(e->session, &in) < 0)
        return vg_fail(e->ctx, VG_EMODEL, "reid model %s: no input", model);
    format_dims(&in, dims, sizeof(dims));
    if (in.ndim != 4 || (in.dims[0] != 1 && in.dims[0] != -1) ||
        in.dims[1] != 3 || in.dims[2] == 0 || in.dims[3] == 0 ||
        in.dims[2] < -1 || in.dims[3] < -1 || in.dims[2] > 4096 ||
        in.dims[3] > 4096)
        return vg_fail(e->ctx, VG_EMODEL,
                       "reid model %s: input '%s' is %s, expected [1,3,H,W] "
                       "(NCHW)",
                       model, in.name, dims);
    e->in_h = in.dims[2] > 0 ? (int)in.dims[2] : VG_REID_DEFAULT_H;
    e->in_w = in.dims[3] > 0 ? (int)in.dims[3] : VG_REID_DEFAULT_W;
    memcpy(fixed, in.dims, sizeof(fixed));
    fixed[0] = 1;
    fixed[2] = e->in_h;
    fixed[3] = e->in_w;
    if (vg_session_set_input_shape(e->session, fixed) < 0)
        return vg_fail(e->ctx, VG_EMODEL, "reid model %s: %s", model,
                       vg_session_errmsg(e->session));
    return 0;
}

int vg_reid_embedder_create(vg_context *ctx, const char *model,
                            const vg_session_opts *so, vg_reid_embedder **out)
{
    vg_reid_embedder *e;
    vg_session_opts def;
    const float *outs[VG_MAX_OUTPUTS];
    size_t n, dim;
    int rc;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "vg_reid_embedder_create: NULL out");
    *out = NULL;
    e = vg_calloc(ctx, 1, sizeof(*e));
    if (!e)
        return vg_fail(ctx, VG_ENOMEM, "reid embedder: out of memory");
    e->ctx = ctx;
    if (!model || !model[0]) {
        e->dim = VG_HIST_DIM;
        *out = e;
        return 0;
    }
    if (!so) {
        vg_session_opts_default(&def);
        def.intra_threads = 1;
        def.spin = 0;
        so = &def;
    }
    rc = vg_session_create(ctx, model, so, &e->session);
    if (rc < 0) {
        /* one line that names the file and the role */
        char why[512];
        snprintf(why, sizeof(why), "%s", vg_context_errmsg(ctx));
        if (strstr(why, model))
            vg_fail(ctx, rc, "reid model: %s", why);
        else
            vg_fail(ctx, rc, "reid model %s: %s", model, why);
        goto fail;
    }
    rc = setup_input(e, model);
    if (rc < 0)
        goto fail;
    n = (size_t)3 * (size_t)e->in_h * (size_t)e->in_w;
    e->input = vg_malloc(ctx, n * sizeof(float));
    if (!e->input) {
        rc = vg_fail(ctx, VG_ENOMEM, "reid embedder: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) /* a grey picture, normalised */
        e->input[i] = (0.5f - imagenet_mean[i / ((size_t)e->in_h * e->in_w)]) /
                      imagenet_std[i / ((size_t)e->in_h * e->in_w)];
    rc = vg_session_run(e->session, e->input, outs);
    if (rc < 0) {
        rc = vg_fail(ctx, VG_EMODEL, "reid model %s: %s", model,
                     vg_session_errmsg(e->session));
        goto fail;
    }
    dim = vg_session_output_elements(e->session, 0);
    if (dim < 1 || dim > VG_REID_MAX_DIM) {
        rc = vg_fail(ctx, VG_EMODEL,
                     "reid model %s: the first output holds %zu values, "
                     "expected an embedding of 1 to %d",
                     model, dim, VG_REID_MAX_DIM);
        goto fail;
    }
    e->dim = (int)dim;
    *out = e;
    return 0;
fail:
    vg_reid_embedder_destroy(&e);
    return rc;
}

size_t vg_reid_embedder_input_bytes(const vg_reid_embedder *e)
{
    if (!e || !e->session)
        return 0;
    return (size_t)3 * (size_t)e->in_h * (size_t)e->in_w * sizeof(float);
}

int vg_reid_embedder_dim(const vg_reid_embedder *e)
{
    return e ? e->dim : 0;
}

const char *vg_reid_embedder_kind(const vg_reid_embedder *e)
{
    return e && e->session ? "onnx" : "histogram";
}

const char *vg_reid_embedder_errmsg(const vg_reid_embedder *e)
{
    return e ? e->errmsg : "";
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The box (clamped) resized bilinearly into e->input, NCHW, normalised. */
static int crop_input(vg_reid_embedder *e, const uint8_t *rgb, int w, int h,
                      int stride, const vg_box *b)
{
    float x0 = clampf(b->x, 0.0f, (float)w), y0 = clampf(b->y, 0.0f, (float)h);
    float x1 = clampf(b->x + b->w, 0.0f, (float)w);
    float y1 = clampf(b->y + b->h, 0.0f, (float)h);
    float sx, sy;
    size_t plane = (size_t)e->in_w * (size_t)e->in_h;

    if (!(x1 - x0 >= 1.0f && y1 - y0 >= 1.0f))
        return VG_EINVAL;
    sx = (x1 - x0) / (float)e->in_w;
    sy = (y1 - y0) / (float)e->in_h;
    for (int ty = 0; ty < e->in_h; ty++) {
        float fy =
            clampf(y0 + ((float)ty + 0.5f) * sy - 0.5f, 0.0f, (float)(h - 1));
        int iy = (int)fy, iy1 = iy + 1 < h ? iy + 1 : iy;
        float ay = fy - (float)iy;
        const uint8_t *r0 = rgb + (size_t)iy * (size_t)stride;
        const uint8_t *r1 = rgb + (size_t)iy1 * (size_t)stride;
        for (int tx = 0; tx < e->in_w; tx++) {
            float fx = clampf(x0 + ((float)tx + 0.5f) * sx - 0.5f, 0.0f,
                              (float)(w - 1));
            int ix = (int)fx, ix1 = ix + 1 < w ? ix + 1 : ix;
            float ax = fx - (float)ix;
            size_t at = (size_t)ty * (size_t)e->in_w + (size_t)tx;
            for (int c = 0; c < 3; c++) {
                float top = (1.0f - ax) * r0[3 * ix + c] + ax * r0[3 * ix1 + c];
                float bot = (1.0f - ax) * r1[3 * ix + c] + ax * r1[3 * ix1 + c];
                float v = ((1.0f - ay) * top + ay * bot) / 255.0f;
                e->input[(size_t)c * plane + at] =
                    (v - imagenet_mean[c]) / imagenet_std[c];
            }
        }
    }
    return 0;
}

int vg_reid_embedder_embed(vg_reid_embedder *e, const uint8_t *rgb, int w,
                           int h, int stride, const vg_box *box, float *out,
                           int cap)
{
    const float *outs[VG_MAX_OUTPUTS];
    double sum = 0.0;
    float inv;
    int rc;

    if (!e)
        return VG_EINVAL;
    e->errmsg[0] = '\0';
    if (!rgb || !box || !out || w < 1 || h < 1 || stride < 3 * w ||
        !isfinite(box->x) || !isfinite(box->y) || !isfinite(box->w) ||
        !isfinite(box->h) || !(box->w > 0.0f && box->h > 0.0f)) {
        snprintf(e->errmsg, sizeof(e->errmsg),
                 "reid embedder: invalid picture (%dx%d, stride %d) or box", w,
                 h, stride);
        return VG_EINVAL;
    }
    if (cap < e->dim) {
        snprintf(e->errmsg, sizeof(e->errmsg),
                 "reid embedder: room for %d values, the embedding has %d", cap,
                 e->dim);
        return VG_ERANGE;
    }
    if (!e->session) {
        rc = vg_hist_embed(rgb, w, h, stride, box, out, cap);
        if (rc < 0)
            snprintf(e->errmsg, sizeof(e->errmsg),
                     "reid embedder: box %.0f,%.0f %.0fx%.0f outside the "
                     "%dx%d picture",
                     box->x, box->y, box->w, box->h, w, h);
        return rc;
    }
    if (crop_input(e, rgb, w, h, stride, box) < 0) {
        snprintf(e->errmsg, sizeof(e->errmsg),
                 "reid embedder: box %.0f,%.0f %.0fx%.0f outside the %dx%d "
                 "picture",
                 box->x, box->y, box->w, box->h, w, h);
        return VG_EINVAL;
    }
    rc = vg_session_run(e->session, e->input, outs);
    if (rc < 0) {
        snprintf(e->errmsg, sizeof(e->errmsg), "reid embedder: %s",
                 vg_session_errmsg(e->session));
        return VG_EINFER;
    }
    if (vg_session_output_elements(e->session, 0) != (size_t)e->dim) {
        snprintf(e->errmsg, sizeof(e->errmsg),
                 "reid embedder: the output holds %zu values, not %d",
                 vg_session_output_elements(e->session, 0), e->dim);
        return VG_EINFER;
    }
    for (int i = 0; i < e->dim; i++)
        sum += (double)outs[0][i] * (double)outs[0][i];
    if (!(sum > 0.0) || !isfinite(sum)) {
        snprintf(e->errmsg, sizeof(e->errmsg),
                 "reid embedder: the model gave a zero or non-finite vector");
        return VG_EINFER;
    }
    inv = (float)(1.0 / sqrt(sum));
    for (int i = 0; i < e->dim; i++)
        out[i] = outs[0][i] * inv;
    return e->dim;
}

void vg_reid_embedder_destroy(vg_reid_embedder **e)
{
    if (!e || !*e)
        return;
    vg_session_destroy(&(*e)->session);
    vg_free((*e)->ctx, (*e)->input);
    vg_free((*e)->ctx, *e);
    *e = NULL;
}
