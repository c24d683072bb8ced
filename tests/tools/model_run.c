/*
 * model_run: runs an ONNX model on real video frames through vigil's own
 * input path (vg_source decode + pre-processing into the model's tensor) and
 * inference (vg_session), and dumps everything for comparison with a
 * reference implementation (tests/test_conversion.sh,
 * tools/models/tfjs_ref.js).
 *
 *   model_run MODEL.onnx VIDEO OUTDIR [options]
 *     --size WxH              tensor size (default: from the model input)
 *     --layout nchw|nhwc      (default nchw)
 *     --order rgb|bgr         (default rgb)
 *     --resize stretch|letterbox   (default stretch)
 *     --mean M  --scale S     value = (pixel - M) * S  (default 0, 1/255)
 *     --frames I,J,...        0-based frame indices (default 0)
 *
 * Writes OUTDIR/K/input.f32 and OUTDIR/K/OUTPUT.f32 (raw float32, row-major)
 * for the K-th chosen frame, and OUTDIR/manifest.json with the input name and
 * shape, the output names and shapes and the frame indices. Exit status 0 on
 * success, 1 with a message on stderr otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/context.h"
#include "vigil/frame.h"
#include "vigil/pool.h"
#include "vigil/session.h"
#include "vigil/source.h"
#include "vigil/tensor.h"

#define MAX_FRAMES 64

typedef struct run_args {
    const char *model, *video, *outdir;
    int width, height, layout, order, resize;
    float mean, scale;
    long frames[MAX_FRAMES];
    int n_frames;
} run_args;

static int usage(void)
{
    fprintf(stderr, "usage: model_run MODEL.onnx VIDEO OUTDIR [--size WxH] "
                    "[--layout nchw|nhwc] [--order rgb|bgr] "
                    "[--resize stretch|letterbox] [--mean M] [--scale S] "
                    "[--frames I,J,...]\n");
    return 1;
}

static int parse_frames(const char *s, run_args *a)
{
    a->n_frames = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || a->n_frames == MAX_FRAMES)
            return -1;
        if (a->n_frames > 0 && v <= a->frames[a->n_frames - 1])
            return -1; /* ascending, so one pass over the video suffices */
        a->frames[a->n_frames++] = v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return a->n_frames > 0 ? 0 : -1;
}

static int parse_args(int argc, char **argv, run_args *a)
{
    memset(a, 0, sizeof(*a));
    a->layout = VG_LAYOUT_NCHW;
    a->order = VG_CHANNELS_RGB;
    a->resize = VG_RESIZE_STRETCH;
    a->scale = 1.0f / 255.0f;
    a->frames[0] = 0;
    a->n_frames = 1;
    if (argc < 4)
        return -1;
    a->model = argv[1];
    a->video = argv[2];
    a->outdir = argv[3];
    for (int i = 4; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (!strcmp(k, "--size")) {
            if (sscanf(v, "%dx%d", &a->width, &a->height) != 2 ||
                a->width <= 0 || a->height <= 0)
                return -1;
        } else if (!strcmp(k, "--layout")) {
            if (!strcmp(v, "nchw"))
                a->layout = VG_LAYOUT_NCHW;
            else if (!strcmp(v, "nhwc"))
                a->layout = VG_LAYOUT_NHWC;
            else
                return -1;
        } else if (!strcmp(k, "--order")) {
            if (!strcmp(v, "rgb"))
                a->order = VG_CHANNELS_RGB;
            else if (!strcmp(v, "bgr"))
                a->order = VG_CHANNELS_BGR;
            else
                return -1;
        } else if (!strcmp(k, "--resize")) {
            if (!strcmp(v, "stretch"))
                a->resize = VG_RESIZE_STRETCH;
            else if (!strcmp(v, "letterbox"))
                a->resize = VG_RESIZE_LETTERBOX;
            else
                return -1;
        } else if (!strcmp(k, "--mean")) {
            a->mean = strtof(v, NULL);
        } else if (!strcmp(k, "--scale")) {
            a->scale = strtof(v, NULL);
        } else if (!strcmp(k, "--frames")) {
            if (parse_frames(v, a) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

static int write_raw(const char *path, const float *data, size_t count)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "model_run: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fwrite(data, sizeof(float), count, f);
    int rc = fclose(f);
    if (n != count || rc != 0) {
        fprintf(stderr, "model_run: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

static size_t elem_count(const vg_tensor_info *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)(t->dims[d] > 0 ? t->dims[d] : 1);
    return n;
}

static void print_dims(FILE *f, const vg_tensor_info *t)
{
    fputc('[', f);
    for (int d = 0; d < t->ndim; d++)
        fprintf(f, "%s%lld", d ? ", " : "", (long long)t->dims[d]);
    fputc(']', f);
}

static int write_manifest(const run_args *a, const vg_session *s,
                          const vg_tensor_info *in, const long *done)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.json", a->outdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "model_run: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "{\"model\": \"%s\",\n \"input\": {\"name\": \"%s\", \"shape\": ",
            a->model, in->name);
    print_dims(f, in);
    fprintf(f, "},\n \"outputs\": [");
    int n = vg_session_output_count(s);
    for (int i = 0; i < n; i++) {
        vg_tensor_info t;
        vg_session_output_shape(s, i, &t);
        fprintf(f, "%s\n  {\"name\": \"%s\", \"shape\": ", i ? "," : "",
                t.name);
        print_dims(f, &t);
        fputc('}', f);
    }
    fprintf(f, "],\n \"frames\": [");
    for (int k = 0; k < a->n_frames; k++)
        fprintf(f, "%s%ld", k ? ", " : "", done[k]);
    fprintf(f, "]}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "model_run: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

/* Runs the session on the frame's tensor and writes input and outputs. */
static int dump_frame(const run_args *a, vg_session *s, const vg_frame *fr,
                      const vg_tensor_info *in, int k)
{
    char dir[4096], path[4096 + 160];
    const float *outs[VG_MAX_OUTPUTS];
    size_t need = elem_count(in);
    const float *x = vg_buf_data(fr->tensor);

    if (vg_buf_size(fr->tensor) < need * sizeof(float)) {
        fprintf(stderr, "model_run: frame tensor %zu bytes, model needs %zu\n",
                vg_buf_size(fr->tensor), need * sizeof(float));
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s/%d", a->outdir, k);
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "model_run: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/input.f32", dir);
    if (write_raw(path, x, need) < 0)
        return -1;
    if (vg_session_run(s, x, outs) < 0) {
        fprintf(stderr, "model_run: %s: %s\n", a->model, vg_session_errmsg(s));
        return -1;
    }
    for (int i = 0; i < vg_session_output_count(s); i++) {
        vg_tensor_info t;
        if (vg_session_output_shape(s, i, &t) < 0)
            return -1;
        snprintf(path, sizeof(path), "%s/%s.f32", dir, t.name);
        if (write_raw(path, outs[i], elem_count(&t)) < 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    run_args a;
    vg_context *ctx = NULL;
    vg_session *s = NULL;
    vg_source *src = NULL;
    vg_frame fr;
    vg_tensor_info in;
    long done[MAX_FRAMES];
    int status = 1, rc, k = 0;

    memset(&fr, 0, sizeof(fr));
    if (parse_args(argc, argv, &a) < 0)
        return usage();
    if (mkdir(a.outdir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "model_run: %s: %s\n", a.outdir, strerror(errno));
        return 1;
    }
    if (vg_context_create(&ctx) < 0) {
        fprintf(stderr, "model_run: cannot create context\n");
        return 1;
    }

    vg_session_opts so;
    vg_session_opts_default(&so);
    if (vg_session_create(ctx, a.model, &so, &s) < 0) {
        fprintf(stderr, "model_run: %s\n", vg_context_errmsg(ctx));
        goto out;
    }
    if (vg_session_input(s, &in) < 0 || in.ndim != 4) {
        fprintf(stderr, "model_run: %s: not a 4-d image input\n", a.model);
        goto out;
    }
    if (in.dims[0] < 0) { /* dynamic batch: run one frame at a time */
        int64_t dims[VG_MAX_DIMS];
        memcpy(dims, in.dims, sizeof(dims));
        dims[0] = 1;
        if (vg_session_set_input_shape(s, dims) < 0 ||
            vg_session_input(s, &in) < 0) {
            fprintf(stderr, "model_run: %s: %s\n", a.model,
                    vg_session_errmsg(s));
            goto out;
        }
        in.dims[0] = 1;
    }
    int hax = a.layout == VG_LAYOUT_NCHW ? 2 : 1;
    if (a.width == 0) {
        a.height = (int)in.dims[hax];
        a.width = (int)in.dims[hax + 1];
    }
    if (in.dims[hax] != a.height || in.dims[hax + 1] != a.width ||
        in.dims[a.layout == VG_LAYOUT_NCHW ? 1 : 3] != 3) {
        fprintf(stderr, "model_run: %s: input shape does not match %dx%d %s\n",
                a.model, a.width, a.height,
                a.layout == VG_LAYOUT_NCHW ? "nchw" : "nhwc");
        goto out;
    }

    vg_source_opts o;
    vg_source_opts_default(&o);
    o.tensor.width = a.width;
    o.tensor.height = a.height;
    o.tensor.layout = a.layout;
    o.tensor.channels = a.order;
    o.tensor.resize = a.resize;
    o.tensor.pad_value = 0.0f;
    for (int c = 0; c < 3; c++) {
        o.tensor.mean[c] = a.mean;
        o.tensor.scale[c] = a.scale;
    }
    if (vg_source_open(ctx, a.video, &o, &src) < 0) {
        fprintf(stderr, "model_run: %s\n", vg_context_errmsg(ctx));
        goto out;
    }

    while (k < a.n_frames && (rc = vg_source_read(src, &fr)) == 0) {
        if (fr.index == a.frames[k]) {
            if (dump_frame(&a, s, &fr, &in, k) < 0)
                goto out;
            done[k++] = (long)fr.index;
        }
        vg_frame_release(&fr);
    }
    if (k < a.n_frames) {
        fprintf(stderr, "model_run: %s: frame %ld not reached (%s)\n", a.video,
                a.frames[k], vg_source_errmsg(src));
        goto out;
    }
    if (write_manifest(&a, s, &in, done) < 0)
        goto out;
    status = 0;
out:
    vg_frame_release(&fr);
    vg_source_close(&src);
    vg_session_destroy(&s);
    vg_context_destroy(&ctx);
    return status;
}
