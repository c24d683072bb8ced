/*
 * Face stages: crop/resize of RGB24 pictures, BlazeFace decoding and
 * detection, MobileFaceNet embedding. Sessions are borrowed from the caller;
 * the handles own only their input tensor and candidate storage, allocated
 * at create, so that detect and embed never allocate.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vigil/face.h"

#define BOX_VALUES 16 /* dx, dy, w, h, 6 keypoints (x, y) */
#define GRID_S16 16
#define PER_CELL_S16 2
#define GRID_S32 8
#define PER_CELL_S32 6
#define MAX_SIDE 65536         /* of pictures and crops */
#define REFERENCE_PIXEL 128.0f /* of the embedder's reference picture */

/* ---- crop ---------------------------------------------------------------- */

static float minf(float a, float b)
{
    return a < b ? a : b;
}

static float maxf(float a, float b)
{
    return a > b ? a : b;
}

static int finite4(float a, float b, float c, float d)
{
    return isfinite(a) && isfinite(b) && isfinite(c) && isfinite(d);
}

/* Source sample position for destination index i: the integer pixel lo,
 * the next one hi (clamped to the picture) and the weight of hi. */
static void sample_pos(float origin, float inv_scale, int i, int limit, int *lo,
                       int *hi, float *frac)
{
    float s = origin + ((float)i + 0.5f) * inv_scale - 0.5f;
    int k;
    if (s <= 0.0f) {
        *lo = *hi = 0;
        *frac = 0.0f;
        return;
    }
    k = (int)s;
    if (k >= limit - 1) {
        *lo = *hi = limit - 1;
        *frac = 0.0f;
        return;
    }
    *lo = k;
    *hi = k + 1;
    *frac = s - (float)k;
}

int vg_face_crop(const uint8_t *rgb, int w, int h, int stride, float x0,
                 float y0, float x1, float y1, int out_w, int out_h, int norm,
                 float *out, vg_letterbox *lb)
{
    float rw, rh, scale, kx, ky, inv_kx, inv_ky, black;
    int sw, sh, pad_x, pad_y;

    if (rgb == NULL || out == NULL || w < 1 || h < 1 || w > MAX_SIDE ||
        h > MAX_SIDE || stride < 3 * w || out_w < 1 || out_h < 1 ||
        out_w > MAX_SIDE || out_h > MAX_SIDE ||
        (norm != VG_FACE_NORM_PM1 && norm != VG_FACE_NORM_01) ||
        !finite4(x0, y0, x1, y1))
        return VG_EINVAL;
    x0 = maxf(x0, 0.0f);
    y0 = maxf(y0, 0.0f);
    x1 = minf(x1, (float)w);
    y1 = minf(y1, (float)h);
    if (!(x1 > x0 && y1 > y0))
        return VG_EINVAL;
    rw = x1 - x0;
    rh = y1 - y0;
    scale = minf((float)out_w / rw, (float)out_h / rh);
    sw = (int)lroundf(rw * scale);
    sh = (int)lroundf(rh * scale);
    sw = sw < 1 ? 1 : (sw > out_w ? out_w : sw);
    sh = sh < 1 ? 1 : (sh > out_h ? out_h : sh);
    pad_x = (out_w - sw) / 2;
    pad_y = (out_h - sh) / 2;
    kx = (float)sw / rw;
    ky = (float)sh / rh;
    inv_kx = rw / (float)sw;
    inv_ky = rh / (float)sh;
    black = norm == VG_FACE_NORM_PM1 ? -1.0f : 0.0f;

    for (int v = 0; v < out_h; v++) {
        float *row = out + (size_t)v * (size_t)out_w * 3;
        const uint8_t *r0, *r1;
        int ylo, yhi;
        float fy;
        if (v < pad_y || v >= pad_y + sh) {
            for (int i = 0; i < out_w * 3; i++)
                row[i] = black;
            continue;
        }
        sample_pos(y0, inv_ky, v - pad_y, h, &ylo, &yhi, &fy);
        r0 = rgb + (size_t)ylo * (size_t)stride;
        r1 = rgb + (size_t)yhi * (size_t)stride;
        for (int u = 0; u < out_w; u++) {
            float *px = row + (size_t)u * 3;
            int xlo, xhi;
            float fx;
            if (u < pad_x || u >= pad_x + sw) {
                px[0] = px[1] = px[2] = black;
                continue;
            }
            sample_pos(x0, inv_kx, u - pad_x, w, &xlo, &xhi, &fx);
            for (int c = 0; c < 3; c++) {
                float a = r0[xlo * 3 + c], b = r0[xhi * 3 + c];
                float d = r1[xlo * 3 + c], e = r1[xhi * 3 + c];
                float top = a + (b - a) * fx, bot = d + (e - d) * fx;
                float p = top + (bot - top) * fy;
                px[c] =
                    norm == VG_FACE_NORM_PM1 ? p / 127.5f - 1.0f : p / 255.0f;
            }
        }
    }
    if (lb != NULL) {
        lb->scale = minf(kx, ky);
        lb->scale_x = kx;
        lb->scale_y = ky;
        lb->pad_x = (float)pad_x - x0 * kx;
        lb->pad_y = (float)pad_y - y0 * ky;
        lb->src_w = w;
        lb->src_h = h;
        lb->dst_w = out_w;
        lb->dst_h = out_h;
    }
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

void vg_face_detector_opts_default(vg_face_detector_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->score_threshold = 0.75f;
    o->nms_iou = 0.3f;
    o->max_faces = 8;
}

static int check_opts(const vg_face_detector_opts *o)
{
    return o->score_threshold >= 0.0f && o->score_threshold <= 1.0f &&
           o->nms_iou >= 0.0f && o->nms_iou <= 1.0f && o->max_faces > 0;
}

/* Anchor centre of global anchor index a (0..895) in input pixels. */
static void anchor_centre(int a, float size, float *ax, float *ay)
{
    int grid, cell;
    if (a < VG_FACE_ANCHORS_S16) {
        grid = GRID_S16;
        cell = a / PER_CELL_S16;
    } else {
        grid = GRID_S32;
        cell = (a - VG_FACE_ANCHORS_S16) / PER_CELL_S32;
    }
    *ax = ((float)(cell % grid) + 0.5f) / (float)grid * size;
    *ay = ((float)(cell / grid) + 0.5f) / (float)grid * size;
}

static const float *anchor_box(const float *boxes16, const float *boxes32,
                               int a)
{
    if (a < VG_FACE_ANCHORS_S16)
        return boxes16 + (size_t)a * BOX_VALUES;
    return boxes32 + (size_t)(a - VG_FACE_ANCHORS_S16) * BOX_VALUES;
}

static int all_finite(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static void to_picture(const vg_letterbox *lb, float tx, float ty, float *px,
                       float *py)
{
    if (lb == NULL) {
        *px = tx;
        *py = ty;
        return;
    }
    vg_letterbox_unmap(lb, tx, ty, px, py);
}

static int valid_letterbox(const vg_letterbox *lb)
{
    if (lb == NULL)
        return 1;
    return lb->src_w > 0 && lb->src_h > 0 &&
           (lb->scale > 0.0f || (lb->scale_x > 0.0f && lb->scale_y > 0.0f)) &&
           isfinite(lb->pad_x) && isfinite(lb->pad_y);
}

int vg_face_decode(const float *scores16, const float *scores32,
                   const float *boxes16, const float *boxes32, int input_size,
                   const vg_letterbox *lb, const vg_face_detector_opts *o,
                   vg_detection *scratch, vg_face *faces, int cap, int *n)
{
    float size = (float)input_size;
    float max_x = lb != NULL ? (float)lb->src_w : size;
    float max_y = lb != NULL ? (float)lb->src_h : size;
    int count = 0, keep;

    if (n != NULL)
        *n = 0;
    if (scores16 == NULL || scores32 == NULL || boxes16 == NULL ||
        boxes32 == NULL || input_size < 1 || o == NULL || !check_opts(o) ||
        scratch == NULL || n == NULL || cap < 0 || (faces == NULL && cap > 0) ||
        !valid_letterbox(lb))
        return VG_EINVAL;

    for (int a = 0; a < VG_FACE_ANCHORS; a++) {
        float logit = a < VG_FACE_ANCHORS_S16
                          ? scores16[a]
                          : scores32[a - VG_FACE_ANCHORS_S16];
        float score = sigmoid(logit);
        const float *b;
        float ax, ay, cx, cy, bx0, by0, bx1, by1;
        if (!(score >= o->score_threshold))
            continue; /* also drops NaN */
        b = anchor_box(boxes16, boxes32, a);
        if (!all_finite(b, BOX_VALUES))
            continue; /* an inf/NaN box or keypoint is never passed on */
        anchor_centre(a, size, &ax, &ay);
        cx = ax + b[0];
        cy = ay + b[1];
        to_picture(lb, cx - 0.5f * b[2], cy - 0.5f * b[3], &bx0, &by0);
        to_picture(lb, cx + 0.5f * b[2], cy + 0.5f * b[3], &bx1, &by1);
        bx0 = maxf(bx0, 0.0f);
        by0 = maxf(by0, 0.0f);
        bx1 = minf(bx1, max_x);
        by1 = minf(by1, max_y);
        if (!(bx1 > bx0 && by1 > by0))
            continue; /* empty, outside the picture, or not finite */
        scratch[count].box.x = bx0;
        scratch[count].box.y = by0;
        scratch[count].box.w = bx1 - bx0;
        scratch[count].box.h = by1 - by0;
        scratch[count].score = score;
        scratch[count].class_id = a; /* agnostic NMS: the anchor travels */
        count++;
    }
    keep = cap < o->max_faces ? cap : o->max_faces;
    keep = vg_nms(scratch, count, o->nms_iou, 1, keep, NULL);
    for (int i = 0; i < keep; i++) {
        int a = scratch[i].class_id;
        const float *b = anchor_box(boxes16, boxes32, a);
        float ax, ay;
        anchor_centre(a, size, &ax, &ay);
        faces[i].box = scratch[i].box;
        faces[i].score = scratch[i].score;
        for (int k = 0; k < VG_FACE_KEYPOINTS; k++)
            to_picture(lb, ax + b[4 + 2 * k], ay + b[5 + 2 * k],
                       &faces[i].keypoints[k][0], &faces[i].keypoints[k][1]);
    }
    *n = keep;
    return 0;
}

/* ---- model shape checks -------------------------------------------------- */

static void format_dims(const vg_tensor_info *t, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    len += (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < t->ndim && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", k ? "," : "",
                                (long long)t->dims[k]);
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
}

/* Checks the image input [1,S,S,3] (batch 1 or dynamic, then fixed to 1)
 * and returns S, or a negative code with the message in ctx. */
static int check_input(vg_context *ctx, vg_session *s, const char *what)
{
    vg_tensor_info in;
    char dims[160];
    int64_t fixed[VG_MAX_DIMS];
    if (vg_session_input(s, &in) < 0)
        return vg_fail(ctx, VG_EMODEL, "%s: the session has no input", what);
    format_dims(&in, dims, sizeof(dims));
    if (in.ndim != 4 || (in.dims[0] != 1 && in.dims[0] != -1) ||
        in.dims[3] != 3 || in.dims[1] <= 0 || in.dims[1] != in.dims[2] ||
        in.dims[1] > 4096)
        return vg_fail(ctx, VG_EMODEL,
                       "%s: input '%s' is %s, expected [1,S,S,3] (NHWC, "
                       "square)",
                       what, in.name, dims);
    if (in.dims[0] == -1) {
        memcpy(fixed, in.dims, sizeof(fixed));
        fixed[0] = 1;
        if (vg_session_set_input_shape(s, fixed) < 0)
            return vg_fail(ctx, VG_EMODEL, "%s: %s", what,
                           vg_session_errmsg(s));
    }
    return (int)in.dims[1];
}

static int batch_ok(int64_t d)
{
    return d == 1 || d == -1;
}

/* Refuses a session with an output that is not float32 (the session already
 * does; this keeps the face stages' contract in their own code). */
static int check_float_outputs(vg_context *ctx, const vg_session *s,
                               const char *what)
{
    int n = vg_session_output_count(s);
    for (int i = 0; i < n; i++) {
        vg_tensor_info t;
        if (vg_session_output(s, i, &t) == 0 && t.elem_type != 1)
            return vg_fail(ctx, VG_ENOTSUP,
                           "%s: output '%s' is %s; vigil reads float32 "
                           "outputs only",
                           what, t.name, vg_tensor_type_name(t.elem_type));
    }
    return 0;
}

/* Checks after a run that output i holds at least want values; 0, or
 * VG_EINFER with the message in errmsg. */
static int output_holds(const vg_session *s, int i, size_t want,
                        const char *what, char *errmsg, size_t cap)
{
    size_t have = vg_session_output_elements(s, i);
    vg_tensor_info t;
    if (have >= want)
        return 0;
    vg_session_output(s, i, &t);
    snprintf(errmsg, cap, "%s: output '%s' holds %zu values, %zu expected",
             what, t.name, have, want);
    return VG_EINFER;
}

static void list_outputs(const vg_session *s, char *buf, size_t cap)
{
    size_t len = 0;
    int n = vg_session_output_count(s);
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++) {
        vg_tensor_info t;
        char dims[160];
        vg_session_output(s, i, &t);
        format_dims(&t, dims, sizeof(dims));
        len += (size_t)snprintf(buf + len, cap - len, "%s%s %s", i ? ", " : "",
                                t.name, dims);
    }
}

/* ---- detector ------------------------------------------------------------ */

enum { OUT_SCORES16, OUT_SCORES32, OUT_BOXES16, OUT_BOXES32, N_OUT };

struct vg_face_detector {
    vg_context *ctx;
    vg_session *session; /* borrowed */
    vg_face_detector_opts opts;
    int size;           /* S */
    int out_idx[N_OUT]; /* session output index of each tensor */
    float *input;       /* S * S * 3 */
    vg_detection *cands;
    char errmsg[512];
};

static int find_outputs(vg_face_detector *fd)
{
    static const struct {
        int64_t anchors, values;
        const char *what;
    } want[N_OUT] = {
        {VG_FACE_ANCHORS_S16, 1, "stride-16 scores [1,512,1]"},
        {VG_FACE_ANCHORS_S32, 1, "stride-32 scores [1,384,1]"},
        {VG_FACE_ANCHORS_S16, BOX_VALUES, "stride-16 boxes [1,512,16]"},
        {VG_FACE_ANCHORS_S32, BOX_VALUES, "stride-32 boxes [1,384,16]"},
    };
    int n = vg_session_output_count(fd->session);
    char found[600];
    for (int k = 0; k < N_OUT; k++)
        fd->out_idx[k] = -1;
    for (int i = 0; i < n; i++) {
        vg_tensor_info t;
        vg_session_output(fd->session, i, &t);
        if (t.ndim != 3 || !batch_ok(t.dims[0]))
            continue;
        for (int k = 0; k < N_OUT; k++)
            if (fd->out_idx[k] < 0 && t.dims[1] == want[k].anchors &&
                t.dims[2] == want[k].values) {
                fd->out_idx[k] = i;
                break;
            }
    }
    for (int k = 0; k < N_OUT; k++)
        if (fd->out_idx[k] < 0) {
            list_outputs(fd->session, found, sizeof(found));
            return vg_fail(fd->ctx, VG_EMODEL,
                           "face detector: the model has no %s output "
                           "(BlazeFace); its outputs are: %s",
                           want[k].what, n > 0 ? found : "none");
        }
    return 0;
}

int vg_face_detector_create(vg_context *ctx, vg_session *s,
                            const vg_face_detector_opts *o,
                            vg_face_detector **out)
{
    vg_face_detector *fd;
    vg_face_detector_opts defaults;
    int rc;

    if (out == NULL || s == NULL) {
        if (out != NULL)
            *out = NULL;
        return vg_fail(ctx, VG_EINVAL,
                       "vg_face_detector_create: NULL argument");
    }
    *out = NULL;
    if (o == NULL) {
        vg_face_detector_opts_default(&defaults);
        o = &defaults;
    }
    if (!check_opts(o))
        return vg_fail(ctx, VG_EINVAL,
                       "face detector: score threshold %g and NMS IoU %g must "
                       "be in 0..1, max_faces %d above 0",
                       (double)o->score_threshold, (double)o->nms_iou,
                       o->max_faces);
    fd = vg_calloc(ctx, 1, sizeof(*fd));
    if (fd == NULL)
        return vg_fail(ctx, VG_ENOMEM, "face detector: out of memory");
    fd->ctx = ctx;
    fd->session = s;
    fd->opts = *o;
    rc = check_input(ctx, s, "face detector");
    if (rc < 0)
        goto fail;
    fd->size = rc;
    rc = check_float_outputs(ctx, s, "face detector");
    if (rc < 0)
        goto fail;
    rc = find_outputs(fd);
    if (rc < 0)
        goto fail;
    fd->input =
        vg_malloc(ctx, (size_t)fd->size * (size_t)fd->size * 3 * sizeof(float));
    fd->cands = vg_calloc(ctx, VG_FACE_ANCHORS, sizeof(vg_detection));
    if (fd->input == NULL || fd->cands == NULL) {
        rc = vg_fail(ctx, VG_ENOMEM, "face detector: out of memory");
        goto fail;
    }
    *out = fd;
    return 0;
fail:
    vg_face_detector_destroy(&fd);
    return rc;
}

int vg_face_detector_input_size(const vg_face_detector *fd)
{
    return fd == NULL ? 0 : fd->size;
}

int vg_face_detect(vg_face_detector *fd, const uint8_t *rgb, int w, int h,
                   int stride, float x0, float y0, float x1, float y1,
                   vg_face *faces, int cap, int *n)
{
    const float *outs[VG_MAX_OUTPUTS];
    vg_letterbox lb;
    int rc;

    if (n != NULL)
        *n = 0;
    if (fd == NULL || n == NULL || cap < 0 || (faces == NULL && cap > 0))
        return VG_EINVAL;
    rc = vg_face_crop(rgb, w, h, stride, x0, y0, x1, y1, fd->size, fd->size,
                      VG_FACE_NORM_PM1, fd->input, &lb);
    if (rc < 0) {
        snprintf(fd->errmsg, sizeof(fd->errmsg),
                 "face detector: invalid picture (%dx%d, stride %d) or "
                 "region [%g,%g)x[%g,%g)",
                 w, h, stride, (double)x0, (double)x1, (double)y0, (double)y1);
        return rc;
    }
    rc = vg_session_run(fd->session, fd->input, outs);
    if (rc < 0) {
        snprintf(fd->errmsg, sizeof(fd->errmsg), "face detector: %s",
                 vg_session_errmsg(fd->session));
        return rc;
    }
    for (int k = 0; k < N_OUT; k++) {
        size_t want = (k == OUT_SCORES16 || k == OUT_BOXES16)
                          ? VG_FACE_ANCHORS_S16
                          : VG_FACE_ANCHORS_S32;
        if (k == OUT_BOXES16 || k == OUT_BOXES32)
            want *= BOX_VALUES;
        rc = output_holds(fd->session, fd->out_idx[k], want, "face detector",
                          fd->errmsg, sizeof(fd->errmsg));
        if (rc < 0)
            return rc;
    }
    return vg_face_decode(
        outs[fd->out_idx[OUT_SCORES16]], outs[fd->out_idx[OUT_SCORES32]],
        outs[fd->out_idx[OUT_BOXES16]], outs[fd->out_idx[OUT_BOXES32]],
        fd->size, &lb, &fd->opts, fd->cands, faces, cap, n);
}

const char *vg_face_detector_errmsg(const vg_face_detector *fd)
{
    return fd == NULL ? "" : fd->errmsg;
}

void vg_face_detector_destroy(vg_face_detector **fdp)
{
    vg_face_detector *fd;
    if (fdp == NULL || *fdp == NULL)
        return;
    fd = *fdp;
    vg_free(fd->ctx, fd->input);
    vg_free(fd->ctx, fd->cands);
    vg_free(fd->ctx, fd);
    *fdp = NULL;
}

/* ---- embedder ------------------------------------------------------------ */

struct vg_face_embedder {
    vg_context *ctx;
    vg_session *session; /* borrowed */
    int size;            /* S */
    int dim;             /* D */
    float *input;        /* S * S * 3 */
    float *reference;    /* D: the model's output for a mid-gray picture */
    char errmsg[512];
};

static int check_embedding_output(vg_face_embedder *fe)
{
    vg_tensor_info t;
    char dims[160], found[600];
    int n = vg_session_output_count(fe->session);
    if (n == 1 && vg_session_output(fe->session, 0, &t) == 0) {
        int64_t d = -1;
        if (t.ndim == 2 && batch_ok(t.dims[0]))
            d = t.dims[1];
        else if (t.ndim == 1)
            d = t.dims[0];
        if (d > 0 && d <= 65536) {
            fe->dim = (int)d;
            return 0;
        }
        format_dims(&t, dims, sizeof(dims));
        return vg_fail(fe->ctx, VG_EMODEL,
                       "face embedder: output '%s' is %s, expected [1,D] "
                       "(one embedding)",
                       t.name, dims);
    }
    list_outputs(fe->session, found, sizeof(found));
    return vg_fail(fe->ctx, VG_EMODEL,
                   "face embedder: expected one output [1,D], the model has "
                   "%d: %s",
                   n, n > 0 ? found : "none");
}

/* The model's output for a uniform mid-gray crop (pixel 128): the constant
 * direction that dominates every embedding of this model. */
static int compute_reference(vg_face_embedder *fe)
{
    const float *outs[VG_MAX_OUTPUTS];
    size_t count = (size_t)fe->size * (size_t)fe->size * 3;
    int rc;
    for (size_t i = 0; i < count; i++)
        fe->input[i] = REFERENCE_PIXEL / 255.0f;
    rc = vg_session_run(fe->session, fe->input, outs);
    if (rc < 0)
        return vg_fail(fe->ctx, rc, "face embedder: %s",
                       vg_session_errmsg(fe->session));
    rc = output_holds(fe->session, 0, (size_t)fe->dim, "face embedder",
                      fe->errmsg, sizeof(fe->errmsg));
    if (rc < 0)
        return vg_fail(fe->ctx, rc, "%s", fe->errmsg);
    for (int i = 0; i < fe->dim; i++) {
        if (!isfinite(outs[0][i]))
            return vg_fail(fe->ctx, VG_EINFER,
                           "face embedder: the model returned a non-finite "
                           "value for a gray picture");
        fe->reference[i] = outs[0][i];
    }
    return 0;
}

int vg_face_embedder_create(vg_context *ctx, vg_session *s,
                            vg_face_embedder **out)
{
    vg_face_embedder *fe;
    int rc;
    if (out == NULL || s == NULL) {
        if (out != NULL)
            *out = NULL;
        return vg_fail(ctx, VG_EINVAL,
                       "vg_face_embedder_create: NULL argument");
    }
    *out = NULL;
    fe = vg_calloc(ctx, 1, sizeof(*fe));
    if (fe == NULL)
        return vg_fail(ctx, VG_ENOMEM, "face embedder: out of memory");
    fe->ctx = ctx;
    fe->session = s;
    rc = check_input(ctx, s, "face embedder");
    if (rc < 0)
        goto fail;
    fe->size = rc;
    rc = check_float_outputs(ctx, s, "face embedder");
    if (rc < 0)
        goto fail;
    rc = check_embedding_output(fe);
    if (rc < 0)
        goto fail;
    fe->input =
        vg_malloc(ctx, (size_t)fe->size * (size_t)fe->size * 3 * sizeof(float));
    fe->reference = vg_malloc(ctx, (size_t)fe->dim * sizeof(float));
    if (fe->input == NULL || fe->reference == NULL) {
        rc = vg_fail(ctx, VG_ENOMEM, "face embedder: out of memory");
        goto fail;
    }
    rc = compute_reference(fe);
    if (rc < 0)
        goto fail;
    *out = fe;
    return 0;
fail:
    vg_face_embedder_destroy(&fe);
    return rc;
}

int vg_face_embedder_dim(const vg_face_embedder *fe)
{
    return fe == NULL ? 0 : fe->dim;
}

int vg_face_embed(vg_face_embedder *fe, const uint8_t *rgb, int w, int h,
                  int stride, const vg_face *face, float *emb, int cap,
                  int *dim)
{
    const float *outs[VG_MAX_OUTPUTS];
    const vg_box *b;
    float cx, cy, half;
    double sum = 0.0;
    float inv;
    int rc;

    if (dim != NULL)
        *dim = 0;
    if (fe == NULL || face == NULL || emb == NULL || dim == NULL)
        return VG_EINVAL;
    b = &face->box;
    if (!finite4(b->x, b->y, b->w, b->h) || !(b->w > 0.0f && b->h > 0.0f)) {
        snprintf(fe->errmsg, sizeof(fe->errmsg),
                 "face embedder: empty or invalid face box");
        return VG_EINVAL;
    }
    if (cap < fe->dim) {
        snprintf(fe->errmsg, sizeof(fe->errmsg),
                 "face embedder: room for %d values, the embedding has %d", cap,
                 fe->dim);
        return VG_ERANGE;
    }
    cx = b->x + 0.5f * b->w;
    cy = b->y + 0.5f * b->h;
    half = 0.5f * VG_FACE_EMBED_EXPAND * maxf(b->w, b->h);
    rc = vg_face_crop(rgb, w, h, stride, cx - half, cy - half, cx + half,
                      cy + half, fe->size, fe->size, VG_FACE_NORM_01, fe->input,
                      NULL);
    if (rc < 0) {
        snprintf(fe->errmsg, sizeof(fe->errmsg),
                 "face embedder: invalid picture (%dx%d, stride %d) or face "
                 "box outside it",
                 w, h, stride);
        return rc;
    }
    rc = vg_session_run(fe->session, fe->input, outs);
    if (rc < 0) {
        snprintf(fe->errmsg, sizeof(fe->errmsg), "face embedder: %s",
                 vg_session_errmsg(fe->session));
        return rc;
    }
    rc = output_holds(fe->session, 0, (size_t)fe->dim, "face embedder",
                      fe->errmsg, sizeof(fe->errmsg));
    if (rc < 0)
        return rc;
    for (int i = 0; i < fe->dim; i++) {
        double d = (double)outs[0][i] - (double)fe->reference[i];
        sum += d * d;
    }
    if (!(sum > 0.0) || !isfinite(sum)) {
        snprintf(fe->errmsg, sizeof(fe->errmsg),
                 "face embedder: the model returned a non-finite embedding "
                 "or the reference itself");
        return VG_EINFER;
    }
    inv = (float)(1.0 / sqrt(sum));
    for (int i = 0; i < fe->dim; i++)
        emb[i] = (outs[0][i] - fe->reference[i]) * inv;
    *dim = fe->dim;
    return 0;
}

const char *vg_face_embedder_errmsg(const vg_face_embedder *fe)
{
    return fe == NULL ? "" : fe->errmsg;
}

void vg_face_embedder_destroy(vg_face_embedder **fep)
{
    vg_face_embedder *fe;
    if (fep == NULL || *fep == NULL)
        return;
    fe = *fep;
    vg_free(fe->ctx, fe->input);
    vg_free(fe->ctx, fe->reference);
    vg_free(fe->ctx, fe);
    *fep = NULL;
}

float vg_face_cosine(const float *a, const float *b, int dim)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    if (a == NULL || b == NULL || dim < 1)
        return 0.0f;
    for (int i = 0; i < dim; i++) {
        ab += (double)a[i] * (double)b[i];
        aa += (double)a[i] * (double)a[i];
        bb += (double)b[i] * (double)b[i];
    }
    if (!(aa > 0.0 && bb > 0.0))
        return 0.0f;
    return (float)(ab / sqrt(aa * bb));
}
