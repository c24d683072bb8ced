/*
 * vg_detector: session + head selection + decode, threshold, class filter,
 * mapping to source pixels and NMS. Candidate storage for every anchor of the
 * model is reserved at create, so decoding never allocates.
 *
 * What the heads read is fixed at create: every output float32 (the session
 * refuses others) and of the element count its resolved shape gives; each
 * run checks that ONNX Runtime handed back at least that many values.
 * Candidates with a non-finite score or box (a model producing inf or NaN)
 * are dropped before mapping and NMS, counted in the stats and logged once.
 *
 * Batches: the batch is dimension 0 of the input and of every output. The
 * shapes kept here (outputs[], output_elems[]) are those of ONE row, which is
 * what the heads read; row i of an output starts output_elems[k] * i values
 * in. A model with a dynamic batch is run at the number of frames given
 * (vg_session_set_input_shape, a no-op when unchanged); one with a fixed
 * batch B always at B rows, rows past the frames given holding whatever the
 * batch buffer last held. Frames of a batch of more than one row are copied
 * into batch_in, reserved at create for max_batch rows; a batch of one row
 * runs on the frame's own tensor, as an unbatched run always did.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect/detect_internal.h"
#include "vigil/config.h"

#define CLASS_NAME_LEN 16

struct vg_detector {
    vg_context *ctx;
    vg_session *session;
    int borrowed; /* the session belongs to the caller (a residency) */
    char *path;
    vg_detector_opts opts;
    int head;
    vgi_yolo yolo;
    vgi_nanodet nanodet;
    int classes;
    int anchors;
    vg_detection *cands; /* anchors entries */
    char *class_names;   /* classes * CLASS_NAME_LEN, when not COCO */
    unsigned char keep[VG_MAX_CLASSES];
    int filtered; /* a class filter is set */
    vg_tensor_spec spec;
    int n_outputs;
    vg_tensor_info outputs[VG_MAX_OUTPUTS]; /* resolved shapes */
    size_t output_elems[VG_MAX_OUTPUTS];    /* values the head reads */
    size_t input_count;                     /* floats of one input row */
    int64_t in_dims[VG_MAX_DIMS]; /* resolved input shape, batch at [0] */
    int reshape;     /* a declared input dim is dynamic: shape every run */
    int fixed_rows;  /* a fixed batch B: rows of every run; 0: dynamic */
    int max_batch;   /* frames one run takes */
    float *batch_in; /* max_batch rows, when max_batch > 1 */
    vg_detector_stats stats;
    int warned_nonfinite; /* the one warning about inf/NaN was logged */
    char errmsg[512];
};

void vg_detector_opts_from_settings(const vg_settings *s, vg_detector_opts *o)
{
    vg_detector_opts_default(o);
    vg_session_opts_from_settings(s, &o->session);
    o->head = s->head;
    o->score_threshold = s->score_threshold;
    o->nms_iou = s->nms_iou;
    o->max_detections = s->max_detections;
    o->n_classes_keep = 0;
    for (int i = 0; i < s->n_classes; i++)
        o->classes_keep[o->n_classes_keep++] = vg_coco_class_id(s->classes[i]);
}

void vg_detector_opts_default(vg_detector_opts *o)
{
    memset(o, 0, sizeof(*o));
    vg_session_opts_default(&o->session);
    o->head = VG_HEAD_AUTO;
    o->score_threshold = 0.35f;
    o->nms_iou = 0.5f;
    o->max_detections = 300;
    o->input_size = 640;
    o->nanodet_center_offset = 1;
    o->max_batch = VG_DETECTOR_DEFAULT_BATCH;
}

static int check_opts(vg_context *ctx, const char *path,
                      const vg_detector_opts *o)
{
    if (o->head < VG_HEAD_AUTO || o->head > VG_HEAD_YOLOV8)
        return vg_fail(ctx, VG_EINVAL, "%s: unknown head %d", path, o->head);
    if (!(o->score_threshold >= 0.0f && o->score_threshold <= 1.0f) ||
        !(o->nms_iou >= 0.0f && o->nms_iou <= 1.0f))
        return vg_fail(ctx, VG_EINVAL,
                       "%s: score threshold %g and NMS IoU %g must be in 0..1",
                       path, (double)o->score_threshold, (double)o->nms_iou);
    if (o->max_detections <= 0 || o->input_size <= 0 || o->input_size > 16384 ||
        o->n_classes_keep < 0 || o->n_classes_keep > VG_MAX_CLASSES)
        return vg_fail(ctx, VG_EINVAL,
                       "%s: max_detections %d, input_size %d or class filter "
                       "size %d out of range",
                       path, o->max_detections, o->input_size,
                       o->n_classes_keep);
    if (o->max_batch < 0 || o->max_batch > VG_DETECTOR_MAX_BATCH)
        return vg_fail(ctx, VG_EINVAL, "%s: max_batch %d is not in 0..%d", path,
                       o->max_batch, VG_DETECTOR_MAX_BATCH);
    return 0;
}

/* Reads the image input's layout, size and batch, fixing dynamic dimensions
 * (a dynamic batch at 1 for now). The sizes a caller fixed before (a
 * residency's session) are kept. */
static int setup_input(vg_detector *d, int *layout, int *w, int *h)
{
    vg_tensor_info in, declared;
    int64_t dims[VG_MAX_DIMS];
    int hd, wd;
    vg_session_input(d->session, &in);
    vg_session_input_declared(d->session, &declared);
    if (in.ndim != 4)
        goto not_image;
    if (in.dims[1] == 3) {
        *layout = VG_LAYOUT_NCHW;
        hd = 2;
        wd = 3;
    } else if (in.dims[3] == 3) {
        *layout = VG_LAYOUT_NHWC;
        hd = 1;
        wd = 2;
    } else {
        goto not_image;
    }
    memcpy(dims, in.dims, sizeof(dims));
    if (declared.dims[0] < 0) {
        dims[0] = 1;
        d->fixed_rows = 0;
        d->max_batch = d->opts.max_batch > 0 ? d->opts.max_batch
                                             : VG_DETECTOR_DEFAULT_BATCH;
    } else if (declared.dims[0] <= VG_DETECTOR_MAX_BATCH) {
        d->fixed_rows = (int)declared.dims[0];
        d->max_batch = d->fixed_rows;
    } else {
        return vg_fail(d->ctx, VG_ENOTSUP,
                       "%s: input batch %lld, vigil runs batches of 1..%d",
                       d->path, (long long)declared.dims[0],
                       VG_DETECTOR_MAX_BATCH);
    }
    dims[hd] = dims[hd] < 0 ? d->opts.input_size : dims[hd];
    dims[wd] = dims[wd] < 0 ? d->opts.input_size : dims[wd];
    for (int k = 0; k < in.ndim; k++)
        if (declared.dims[k] < 0)
            d->reshape = 1;
    if (d->reshape && vg_session_set_input_shape(d->session, dims) < 0)
        return vg_fail(d->ctx, VG_EINVAL, "%s", vg_session_errmsg(d->session));
    *h = (int)dims[hd];
    *w = (int)dims[wd];
    d->input_count = (size_t)dims[1] * (size_t)dims[2] * (size_t)dims[3];
    memcpy(d->in_dims, dims, sizeof(dims));
    return 0;
not_image:
    return vg_fail(d->ctx, VG_ENOTSUP,
                   "%s: input %s of rank %d is not an image tensor "
                   "[N,3,H,W] or [N,H,W,3]",
                   d->path, in.name, in.ndim);
}

/* Element count of a resolved shape, 0 when a dimension is unknown. */
static size_t shape_elements(const vg_tensor_info *t)
{
    size_t n = 1;
    for (int k = 0; k < t->ndim; k++) {
        if (t->dims[k] < 0 ||
            (t->dims[k] > 0 && n > SIZE_MAX / (size_t)t->dims[k]))
            return 0;
        n *= (size_t)t->dims[k];
    }
    return n;
}

/* Output shapes; a warm-up run on zeros (at batch 1, or the fixed batch)
 * resolves dynamic dimensions. Every output must be float32 and hold as many
 * values as its shape says; the shapes kept are those of one batch row. A
 * dynamic input batch is used only when every output's batch is dynamic
 * too (otherwise the outputs do not follow it: max_batch 1). */
static int read_outputs(vg_detector *d)
{
    const float *outs[VG_MAX_OUTPUTS];
    float *zeros;
    size_t rows = d->fixed_rows > 0 ? (size_t)d->fixed_rows : 1;
    int dynamic = 0, rc;
    d->n_outputs = vg_session_output_count(d->session);
    for (int i = 0; i < d->n_outputs; i++) {
        vg_session_output(d->session, i, &d->outputs[i]);
        if (d->outputs[i].elem_type != 1) /* ONNX float; the session checks */
            return vg_fail(d->ctx, VG_ENOTSUP,
                           "%s: output '%s' is %s; vigil reads float32 "
                           "outputs only",
                           d->path, d->outputs[i].name,
                           vg_tensor_type_name(d->outputs[i].elem_type));
        for (int k = 0; k < d->outputs[i].ndim; k++)
            if (d->outputs[i].dims[k] < 0)
                dynamic = 1;
        if (d->fixed_rows == 0 &&
            (d->outputs[i].ndim == 0 || d->outputs[i].dims[0] >= 0))
            d->max_batch = 1;
    }
    if (dynamic) {
        zeros = vg_calloc(d->ctx, rows * d->input_count, sizeof(float));
        if (zeros == NULL)
            return vg_fail(d->ctx, VG_ENOMEM, "%s: out of memory", d->path);
        rc = vg_session_run(d->session, zeros, outs);
        vg_free(d->ctx, zeros);
        if (rc < 0)
            return vg_fail(d->ctx, rc, "%s", vg_session_errmsg(d->session));
        for (int i = 0; i < d->n_outputs; i++)
            vg_session_output_shape(d->session, i, &d->outputs[i]);
    }
    for (int i = 0; i < d->n_outputs; i++) {
        size_t want = shape_elements(&d->outputs[i]);
        size_t have = vg_session_output_elements(d->session, i);
        if (want == 0 || have != want)
            return vg_fail(d->ctx, VG_EMODEL,
                           "%s: output '%s' holds %zu values, its shape "
                           "says %zu",
                           d->path, d->outputs[i].name, have, want);
        if (rows > 1) {
            if (d->outputs[i].ndim == 0 ||
                d->outputs[i].dims[0] != (int64_t)rows)
                return vg_fail(d->ctx, VG_ENOTSUP,
                               "%s: input batch %zu, but output '%s' does "
                               "not have it as dimension 0",
                               d->path, rows, d->outputs[i].name);
            d->outputs[i].dims[0] = 1;
            want /= rows;
        }
        d->output_elems[i] = want;
    }
    return 0;
}

static void format_shapes(const vg_detector *d, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->n_outputs && len < cap; i++) {
        const vg_tensor_info *t = &d->outputs[i];
        len += (size_t)snprintf(buf + len, cap - len, "%s[", i ? ", " : "");
        for (int k = 0; k < t->ndim && len < cap; k++)
            len += (size_t)snprintf(buf + len, cap - len, "%s%lld",
                                    k ? "," : "", (long long)t->dims[k]);
        if (len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "]");
    }
}

static int pick_head(vg_detector *d, int w, int h)
{
    int want = d->opts.head;
    char shapes[400];
    if ((want == VG_HEAD_AUTO || want == VG_HEAD_NANODET) &&
        vgi_nanodet_match(d->outputs, d->n_outputs, w, h, &d->nanodet) == 0) {
        d->head = VG_HEAD_NANODET;
        d->nanodet.center_offset = d->opts.nanodet_center_offset ? 1 : 0;
        d->classes = d->nanodet.classes;
        d->anchors = vgi_nanodet_anchors(&d->nanodet);
        return 0;
    }
    if (want != VG_HEAD_NANODET &&
        vgi_yolo_match(d->outputs, d->n_outputs, want, &d->yolo) == 0) {
        d->head = d->yolo.kind;
        d->classes = d->yolo.classes;
        d->anchors = d->yolo.n;
        return 0;
    }
    format_shapes(d, shapes, sizeof(shapes));
    if (want != VG_HEAD_AUTO)
        return vg_fail(d->ctx, VG_EHEAD,
                       "%s: outputs %s do not match the %s head", d->path,
                       shapes, vg_head_kind_name(want));
    return vg_fail(d->ctx, VG_EHEAD,
                   "%s: outputs %s match no detection head (nanodet, yolov5 "
                   "[1,N,5+C], yolov8 [1,4+C,N])",
                   d->path, shapes);
}

static int setup_classes(vg_detector *d)
{
    if (d->classes != VGI_COCO_CLASSES) {
        d->class_names = vg_calloc(d->ctx, (size_t)d->classes, CLASS_NAME_LEN);
        if (d->class_names == NULL)
            return vg_fail(d->ctx, VG_ENOMEM, "%s: out of memory", d->path);
        for (int c = 0; c < d->classes; c++)
            snprintf(d->class_names + (size_t)c * CLASS_NAME_LEN,
                     CLASS_NAME_LEN, "class%d", c % 100000000);
    }
    d->filtered = d->opts.n_classes_keep > 0;
    for (int i = 0; i < d->opts.n_classes_keep; i++) {
        int c = d->opts.classes_keep[i];
        if (c < 0 || c >= d->classes)
            return vg_fail(d->ctx, VG_EINVAL,
                           "%s: class filter names class %d, the model has "
                           "%d classes",
                           d->path, c, d->classes);
        d->keep[c] = 1;
    }
    return 0;
}

/* Creates a detector over session s (owned when borrowed is 0). */
static int create(vg_context *ctx, const char *model_path,
                  const vg_detector_opts *o, vg_session *s, int borrowed,
                  vg_detector **out)
{
    vg_detector *d;
    vg_detector_opts defaults;
    int rc, layout = VG_LAYOUT_NCHW, w = 0, h = 0;

    if (out == NULL || model_path == NULL)
        return vg_fail(ctx, VG_EINVAL, "vg_detector_create: NULL argument");
    *out = NULL;
    if (o == NULL) {
        vg_detector_opts_default(&defaults);
        o = &defaults;
    }
    rc = check_opts(ctx, model_path, o);
    if (rc < 0)
        return rc;
    d = vg_calloc(ctx, 1, sizeof(*d));
    if (d == NULL)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", model_path);
    d->ctx = ctx;
    d->opts = *o;
    d->borrowed = borrowed;
    d->session = s;
    d->path = vg_strdup(ctx, model_path);
    if (d->path == NULL) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", model_path);
        goto fail;
    }
    if (d->session == NULL) {
        rc = vg_session_create(ctx, model_path, &o->session, &d->session);
        if (rc < 0)
            goto fail; /* the session recorded its message */
    }
    rc = setup_input(d, &layout, &w, &h);
    if (rc == 0)
        rc = read_outputs(d);
    if (rc == 0)
        rc = pick_head(d, w, h);
    if (rc == 0)
        rc = setup_classes(d);
    if (rc < 0)
        goto fail;
    d->cands = vg_calloc(ctx, (size_t)d->anchors, sizeof(vg_detection));
    if (d->cands == NULL) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory for %d candidates",
                     model_path, d->anchors);
        goto fail;
    }
    if (d->max_batch > 1) {
        d->batch_in = vg_calloc(ctx, (size_t)d->max_batch * d->input_count,
                                sizeof(float));
        if (d->batch_in == NULL) {
            rc = vg_fail(ctx, VG_ENOMEM,
                         "%s: out of memory for a batch of %d inputs",
                         model_path, d->max_batch);
            goto fail;
        }
    }
    if (d->head == VG_HEAD_NANODET)
        vgi_nanodet_spec(w, h, layout, &d->spec);
    else
        vgi_yolo_spec(w, h, layout, &d->spec);
    vg_log(ctx, VG_LOG_DEBUG,
           "%s: %s head, %d classes, %d anchors, %dx%d, batch %s%d", model_path,
           vg_head_kind_name(d->head), d->classes, d->anchors, w, h,
           d->fixed_rows > 0 ? "" : "up to ", d->max_batch);
    *out = d;
    return 0;
fail:
    vg_detector_destroy(&d);
    return rc;
}

int vg_detector_create(vg_context *ctx, const char *model_path,
                       const vg_detector_opts *o, vg_detector **out)
{
    return create(ctx, model_path, o, NULL, 0, out);
}

int vg_detector_create_on(vg_context *ctx, vg_session *session,
                          const char *model_path, const vg_detector_opts *o,
                          vg_detector **out)
{
    if (session == NULL) {
        if (out != NULL)
            *out = NULL;
        return vg_fail(ctx, VG_EINVAL, "vg_detector_create_on: NULL session");
    }
    return create(ctx, model_path, o, session, 1, out);
}

void vg_detector_set_session(vg_detector *d, vg_session *session)
{
    if (d != NULL && d->borrowed && session != NULL)
        d->session = session;
}

void vg_detector_input_spec(const vg_detector *d, vg_tensor_spec *out)
{
    *out = d->spec;
}

int vg_detector_max_batch(const vg_detector *d)
{
    return d == NULL ? VG_EINVAL : d->max_batch;
}

int vg_detector_head(const vg_detector *d)
{
    return d->head;
}

const char *vg_detector_head_name(const vg_detector *d)
{
    return vg_head_kind_name(d->head);
}

int vg_detector_stats_get(const vg_detector *d, vg_detector_stats *out)
{
    if (d == NULL || out == NULL)
        return VG_EINVAL;
    *out = d->stats;
    return 0;
}

int vg_detector_class_count(const vg_detector *d)
{
    return d->classes;
}

const char *vg_detector_class_name(const vg_detector *d, int class_id)
{
    if (class_id < 0 || class_id >= d->classes)
        return "unknown";
    if (d->class_names == NULL)
        return vg_coco_class_name(class_id);
    return d->class_names + (size_t)class_id * CLASS_NAME_LEN;
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Drops candidates whose score or box is not finite; returns the count kept
 * and counts (and the first time, logs) the dropped ones. */
static int drop_nonfinite(vg_detector *d, vg_detection *c, int n)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (isfinite(c[i].score) && isfinite(c[i].box.x) &&
            isfinite(c[i].box.y) && isfinite(c[i].box.w) &&
            isfinite(c[i].box.h)) {
            c[kept++] = c[i];
        }
    }
    if (kept < n) {
        d->stats.nonfinite_dropped += (uint64_t)(n - kept);
        if (!d->warned_nonfinite) {
            d->warned_nonfinite = 1;
            vg_log(d->ctx, VG_LOG_WARN,
                   "%s: the model gave %d detection(s) with an infinite or "
                   "NaN score or box; they are dropped (counted in the "
                   "detector's stats, not logged again)",
                   d->path, n - kept);
        }
    }
    return kept;
}

/* Maps candidates from tensor to source pixels, clips, drops empty boxes. */
static int map_to_source(const vg_detector *d, const vg_letterbox *lb,
                         vg_detection *c, int n)
{
    float max_x = lb != NULL ? (float)lb->src_w : (float)d->spec.width;
    float max_y = lb != NULL ? (float)lb->src_h : (float)d->spec.height;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        float x1 = c[i].box.x, y1 = c[i].box.y;
        float x2 = x1 + c[i].box.w, y2 = y1 + c[i].box.h;
        if (lb != NULL) {
            vg_letterbox_unmap(lb, x1, y1, &x1, &y1);
            vg_letterbox_unmap(lb, x2, y2, &x2, &y2);
        }
        x1 = clampf(x1, 0.0f, max_x);
        x2 = clampf(x2, 0.0f, max_x);
        y1 = clampf(y1, 0.0f, max_y);
        y2 = clampf(y2, 0.0f, max_y);
        if (!(x2 > x1 && y2 > y1))
            continue;
        c[kept] = c[i];
        c[kept].box.x = x1;
        c[kept].box.y = y1;
        c[kept].box.w = x2 - x1;
        c[kept].box.h = y2 - y1;
        kept++;
    }
    return kept;
}

int vg_detector_decode(vg_detector *d, const float **outs,
                       const vg_letterbox *lb, vg_detection *dets, int cap,
                       int *n)
{
    vgi_filter f;
    int count, kept;
    if (n != NULL)
        *n = 0;
    if (d == NULL || outs == NULL || n == NULL || (dets == NULL && cap > 0) ||
        cap < 0)
        return VG_EINVAL;
    if (lb != NULL &&
        (lb->src_w <= 0 || lb->src_h <= 0 ||
         !(lb->scale > 0.0f || (lb->scale_x > 0.0f && lb->scale_y > 0.0f)))) {
        snprintf(d->errmsg, sizeof(d->errmsg), "%s: invalid letterbox",
                 d->path);
        return VG_EINVAL;
    }
    for (int i = 0; i < d->n_outputs; i++)
        if (outs[i] == NULL)
            return VG_EINVAL;
    f.threshold = d->opts.score_threshold;
    f.keep = d->filtered ? d->keep : NULL;
    if (d->head == VG_HEAD_NANODET)
        count = vgi_nanodet_decode(&d->nanodet, outs, &f, d->cands, d->anchors);
    else
        count = vgi_yolo_decode(&d->yolo, outs[0], &f, d->cands, d->anchors);
    count = drop_nonfinite(d, d->cands, count);
    count = map_to_source(d, lb, d->cands, count);
    kept = vg_nms(d->cands, count, d->opts.nms_iou, d->opts.class_agnostic_nms,
                  d->opts.max_detections, NULL);
    if (kept > cap)
        kept = cap;
    if (kept > 0)
        memcpy(dets, d->cands, (size_t)kept * sizeof(*dets));
    *n = kept;
    return 0;
}

/* Checks the outputs of a run at rows rows against the row shapes fixed at
 * create. */
static int check_outputs(vg_detector *d, int rows)
{
    for (int i = 0; i < d->n_outputs; i++) {
        vg_tensor_info t;
        size_t have = vg_session_output_elements(d->session, i);
        size_t want = d->output_elems[i] * (size_t)rows;
        vg_session_output_shape(d->session, i, &t);
        if (t.ndim != d->outputs[i].ndim || t.ndim == 0 || t.dims[0] != rows ||
            memcmp(t.dims + 1, d->outputs[i].dims + 1,
                   (size_t)(t.ndim - 1) * sizeof(t.dims[0])) != 0) {
            snprintf(d->errmsg, sizeof(d->errmsg),
                     "%s: output %s changed shape between runs%s", d->path,
                     t.name, rows > 1 ? " (or does not follow the batch)" : "");
            return VG_EINFER;
        }
        if (have < want) {
            snprintf(d->errmsg, sizeof(d->errmsg),
                     "%s: output '%s' holds %zu values, the %s head reads "
                     "%zu",
                     d->path, t.name, have, vg_head_kind_name(d->head), want);
            return VG_EINFER;
        }
    }
    return 0;
}

/* The input of a run of n frames at rows rows: frame 0's own tensor for one
 * row, else the frames copied into the batch buffer. */
static const float *batch_input(vg_detector *d, const vg_frame *const *frames,
                                int n, int rows)
{
    if (rows == 1)
        return vg_buf_data(frames[0]->tensor);
    for (int i = 0; i < n; i++)
        memcpy(d->batch_in + (size_t)i * d->input_count,
               vg_buf_data(frames[i]->tensor), d->input_count * sizeof(float));
    return d->batch_in;
}

static int run_batch(vg_detector *d, const vg_frame *const *frames, int n,
                     vg_detection *const *dets, int cap, int *counts)
{
    const float *outs[VG_MAX_OUTPUTS], *row[VG_MAX_OUTPUTS];
    int rows, rc;
    if (n > d->max_batch) {
        snprintf(d->errmsg, sizeof(d->errmsg),
                 "%s: a batch of %d frames, the model takes at most %d",
                 d->path, n, d->max_batch);
        return VG_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        const vg_frame *f = frames[i];
        if (f == NULL || f->tensor == NULL ||
            vg_buf_size(f->tensor) < d->input_count * sizeof(float)) {
            snprintf(d->errmsg, sizeof(d->errmsg),
                     "%s: frame %lld has no model input tensor of %zu floats",
                     d->path, f != NULL ? (long long)f->index : -1LL,
                     d->input_count);
            return VG_EINVAL;
        }
    }
    rows = d->fixed_rows > 0 ? d->fixed_rows : n;
    if (d->reshape) {
        int64_t dims[VG_MAX_DIMS];
        memcpy(dims, d->in_dims, sizeof(dims));
        dims[0] = rows;
        rc = vg_session_set_input_shape(d->session, dims);
        if (rc < 0) {
            snprintf(d->errmsg, sizeof(d->errmsg), "%s",
                     vg_session_errmsg(d->session));
            return rc;
        }
    }
    rc = vg_session_run(d->session, batch_input(d, frames, n, rows), outs);
    if (rc < 0) {
        snprintf(d->errmsg, sizeof(d->errmsg), "%s",
                 vg_session_errmsg(d->session));
        return rc;
    }
    rc = check_outputs(d, rows);
    for (int i = 0; i < n && rc == 0; i++) {
        for (int k = 0; k < d->n_outputs; k++)
            row[k] = outs[k] + d->output_elems[k] * (size_t)i;
        rc = vg_detector_decode(d, row, &frames[i]->lb, dets[i], cap,
                                &counts[i]);
    }
    return rc;
}

int vg_detector_run_batch(vg_detector *d, const vg_frame *const *frames, int n,
                          vg_detection *const *dets, int cap, int *counts)
{
    int rc;
    if (counts != NULL && n > 0)
        memset(counts, 0, (size_t)n * sizeof(*counts));
    if (d == NULL || frames == NULL || dets == NULL || counts == NULL ||
        n < 1 || cap < 0)
        return VG_EINVAL;
    rc = run_batch(d, frames, n, dets, cap, counts);
    if (rc < 0)
        memset(counts, 0, (size_t)n * sizeof(*counts));
    return rc;
}

int vg_detector_run(vg_detector *d, const vg_frame *frame, vg_detection *dets,
                    int cap, int *n)
{
    if (n != NULL)
        *n = 0;
    if (d == NULL || frame == NULL || n == NULL)
        return VG_EINVAL;
    return vg_detector_run_batch(d, &frame, 1, &dets, cap, n);
}

vg_session *vg_detector_session(vg_detector *d)
{
    return d == NULL ? NULL : d->session;
}

const char *vg_detector_errmsg(const vg_detector *d)
{
    return d == NULL ? "" : d->errmsg;
}

void vg_detector_destroy(vg_detector **dp)
{
    vg_detector *d;
    if (dp == NULL || *dp == NULL)
        return;
    d = *dp;
    if (!d->borrowed)
        vg_session_destroy(&d->session);
    vg_free(d->ctx, d->cands);
    vg_free(d->ctx, d->batch_in);
    vg_free(d->ctx, d->class_names);
    vg_free(d->ctx, d->path);
    vg_free(d->ctx, d);
    *dp = NULL;
}
