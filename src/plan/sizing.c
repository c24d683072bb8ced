/* vg_sizing: pool counts, per-stream bytes and the uncalibrated model
 * estimate, shared by the runtime and the planner (include/vigil/sizing.h). */
#include "vigil/sizing.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)

/* ---- pool counts ----------------------------------------------------------
 */

unsigned vg_sizing_queue_depth(unsigned requested)
{
    return requested ? requested : VG_SIZING_QUEUE_DEPTH_DEFAULT;
}

void vg_sizing_stream_pools(unsigned queue_depth, vg_stream_pools *out)
{
    unsigned d = vg_sizing_queue_depth(queue_depth);
    out->queue_depth = d;
    out->tensors = d + 2;
    out->pictures = 2 * d + 3;
}

void vg_sizing_detect_pools(unsigned queue_depth, vg_stream_pools *out)
{
    unsigned d = vg_sizing_queue_depth(queue_depth);
    out->queue_depth = d;
    out->tensors = d + 2;
    out->pictures = 0;
}

void vg_sizing_staged_pools(int detector_stage, vg_stream_pools *out)
{
    out->queue_depth = 0;
    out->tensors = VG_SIZING_STAGED_POOL;
    out->pictures = detector_stage ? 0 : VG_SIZING_STAGED_POOL;
}

/* ---- bytes ----------------------------------------------------------------
 */

uint64_t vg_sizing_picture_bytes(int width, int height)
{
    uint64_t w = width > 0 ? (uint64_t)width : 0;
    uint64_t h = height > 0 ? (uint64_t)height : 0;
    uint64_t stride = (w * 3 + VG_SIZING_ROW_ALIGN - 1) / VG_SIZING_ROW_ALIGN *
                      VG_SIZING_ROW_ALIGN;
    return stride * h;
}

uint64_t vg_sizing_tensor_bytes(int channels, int width, int height)
{
    if (channels <= 0 || width <= 0 || height <= 0)
        return 0;
    return (uint64_t)channels * (uint64_t)width * (uint64_t)height *
           sizeof(float);
}

/* A decoder's state: once per process for its family (FFmpeg's codec
 * tables, first touched by the first decoder), then per decoder instance. */
typedef struct decoder_family {
    double shared_mib;    /* once per process */
    double thread_mib;    /* per instance and frame thread */
    double px, thread_px; /* bytes per pixel, per pixel and thread */
} decoder_family;

static const decoder_family long_reference = {7.5, 1.5, 8.3, 2.7};
static const decoder_family other_codecs = {7.9, 0.2, 1.6, 3.2};

int vg_sizing_decoder_family(const char *codec)
{
    static const char *const names[] = {
        "h264", "hevc", "vp9", "av1", "libdav1d", "h264_cuvid", "hevc_cuvid"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (codec && !strcmp(codec, names[i]))
            return VG_SIZING_DECODER_LONG_REFERENCE;
    return VG_SIZING_DECODER_OTHER;
}

static const decoder_family *family_of(const char *codec)
{
    return vg_sizing_decoder_family(codec) == VG_SIZING_DECODER_LONG_REFERENCE
               ? &long_reference
               : &other_codecs;
}

static double pixels(int width, int height)
{
    return (double)(width > 0 ? width : 0) * (height > 0 ? height : 0);
}

uint64_t vg_sizing_decoder_bytes(const char *codec, int width, int height,
                                 int frame_threads)
{
    const decoder_family *f = family_of(codec);
    double t = frame_threads > 0 ? frame_threads : 1;
    return (uint64_t)(f->thread_mib * t * MIB +
                      pixels(width, height) * (f->px + f->thread_px * t));
}

uint64_t vg_sizing_decoder_shared_bytes(const char *codec)
{
    return (uint64_t)(family_of(codec)->shared_mib * MIB);
}

/* vigil's x264 writer (measured with 2 threads, MP4 muxer, RGB->YUV frame):
 * the library's state once per process, then bytes per pixel per encoder.
 * Presets slower than veryfast are planned as medium. The per-pixel part
 * scales as (threads + 1) / 3 of the 2-thread figure (one thread measured
 * 3.2-4.2 MiB less per 768x576 camera, bench/README.md). */
static void encoder_preset(const char *preset, double *shared_mib,
                           double *per_px)
{
    static const struct {
        const char *preset;
        double shared_mib, px;
    } presets[] = {{"ultrafast", 8.1, 27.0},
                   {"superfast", 3.5, 86.0},
                   {"veryfast", 8.9, 104.0}};
    *shared_mib = 10.7; /* medium and anything else */
    *per_px = 141.0;
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (preset && !strcmp(preset, presets[i].preset)) {
            *shared_mib = presets[i].shared_mib;
            *per_px = presets[i].px;
        }
}

uint64_t vg_sizing_encoder_bytes(const char *preset, int width, int height,
                                 int threads)
{
    double shared_mib, per_px;
    encoder_preset(preset, &shared_mib, &per_px);
    if (threads <= 0)
        threads = 2; /* the codec's choice: planned as the measured 2 */
    return (uint64_t)(pixels(width, height) * per_px * (threads + 1) / 3.0);
}

uint64_t vg_sizing_encoder_shared_bytes(const char *preset)
{
    double shared_mib, per_px;
    encoder_preset(preset, &shared_mib, &per_px);
    return (uint64_t)(shared_mib * MIB);
}

void vg_sizing_stream_bytes(const vg_sizing_stream *s, vg_stream_bytes *out)
{
    vg_stream_pools pools;
    vg_sizing_stream_pools(s->queue_depth, &pools);
    out->tensor_pool = (uint64_t)pools.tensors * s->tensor_bytes;
    out->picture_pool =
        (uint64_t)pools.pictures * vg_sizing_picture_bytes(s->width, s->height);
    out->decoder = vg_sizing_decoder_bytes(s->codec, s->width, s->height,
                                           s->decoder_threads);
    out->encoder = s->video ? vg_sizing_encoder_bytes(
                                  s->video_preset, s->width, s->height,
                                  s->video_threads ? s->video_threads
                                                   : VG_SIZING_VIDEO_THREADS)
                            : 0;
    out->tables = VG_SIZING_STREAM_TABLES_BYTES + s->tracker_bytes;
    out->threads = VG_SIZING_STREAM_THREADS_BYTES;
    out->total = out->tensor_pool + out->picture_pool + out->decoder +
                 out->encoder + out->tables + out->threads;
}

void vg_sizing_job_shared(const vg_sizing_stream *streams, int n,
                          vg_job_shared *out)
{
    int family_seen[2] = {0, 0};
    const char *preset = NULL;
    int video = 0;

    memset(out, 0, sizeof(*out));
    if (streams == NULL || n <= 0)
        return;
    for (int i = 0; i < n; i++) {
        int f = vg_sizing_decoder_family(streams[i].codec);
        if (!family_seen[f]) {
            family_seen[f] = 1;
            out->decoders += vg_sizing_decoder_shared_bytes(streams[i].codec);
        }
        if (streams[i].video && !video) {
            video = 1;
            preset = streams[i].video_preset;
        }
    }
    out->encoder = video ? vg_sizing_encoder_shared_bytes(preset) : 0;
    out->events = VG_SIZING_EVENTS_BYTES;
    out->total = out->decoders + out->encoder + out->events;
}

/* ---- the model file's input and estimate (ONNX protobuf, read in place)
 * ----------------
 */

typedef struct pb {
    const uint8_t *p, *end;
} pb;

static int pb_varint(pb *b, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; b->p < b->end && shift < 64; shift += 7) {
        uint8_t c = *b->p++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Reads the next field: its number, wire type, the varint value (wire type
 * 0) or the payload (wire type 2, in *sub). Returns 0, or -1 at the end or
 * on a malformed message. */
static int pb_next(pb *b, uint32_t *field, int *wire, uint64_t *value, pb *sub)
{
    uint64_t key, len;
    if (b->p >= b->end || pb_varint(b, &key) < 0)
        return -1;
    *field = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    switch (*wire) {
    case 0:
        return pb_varint(b, value);
    case 1:
    case 5: {
        size_t n = *wire == 1 ? 8 : 4;
        if ((size_t)(b->end - b->p) < n)
            return -1;
        b->p += n;
        return 0;
    }
    case 2:
        if (pb_varint(b, &len) < 0 || len > (uint64_t)(b->end - b->p))
            return -1;
        sub->p = b->p;
        sub->end = b->p + len;
        b->p += len;
        *value = len;
        return 0;
    default:
        return -1;
    }
}

/* The string field `want` of message m (first occurrence) into out. */
static int pb_string(pb m, uint32_t want, char *out, size_t cap)
{
    uint32_t field;
    int wire;
    uint64_t v;
    pb sub;
    while (pb_next(&m, &field, &wire, &v, &sub) == 0)
        if (field == want && wire == 2) {
            size_t n = (size_t)(sub.end - sub.p);
            if (n >= cap)
                n = cap - 1;
            memcpy(out, sub.p, n);
            out[n] = '\0';
            return 0;
        }
    return -1;
}

/* The first submessage `want` of m. */
static int pb_message(pb m, uint32_t want, pb *out)
{
    uint32_t field;
    int wire;
    uint64_t v;
    pb sub;
    while (pb_next(&m, &field, &wire, &v, &sub) == 0)
        if (field == want && wire == 2) {
            *out = sub;
            return 0;
        }
    return -1;
}

/* 1 when graph has an initializer (GraphProto.initializer = 5, its
 * TensorProto.name = 8) named name: old exporters list those as inputs. */
static int is_initializer(pb graph, const char *name)
{
    uint32_t field;
    int wire;
    uint64_t v;
    pb sub;
    char n[256];
    while (pb_next(&graph, &field, &wire, &v, &sub) == 0)
        if (field == 5 && wire == 2 && pb_string(sub, 8, n, sizeof(n)) == 0 &&
            !strcmp(n, name))
            return 1;
    return 0;
}

/* Reads the shape of the model's first real input: ModelProto.graph (7),
 * GraphProto.input (11), ValueInfoProto.name (1) / .type (2),
 * TypeProto.tensor_type (1), Tensor.shape (2), TensorShapeProto.dim (1),
 * Dimension.dim_value (1). Dynamic dimensions are -1. Returns 0 or -1. */
static int onnx_input_shape(const char *path, int64_t *dims, int *ndim)
{
    struct stat sb;
    void *map;
    int fd, rc = -1;
    pb model, graph, in, t;
    uint32_t field;
    int wire;
    uint64_t v;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
        close(fd);
        return -1;
    }
    map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return -1;
    model.p = map;
    model.end = model.p + sb.st_size;
    if (pb_message(model, 7, &graph) == 0) {
        pb g = graph;
        while (rc < 0 && pb_next(&g, &field, &wire, &v, &in) == 0) {
            char name[256] = "";
            pb type, tensor, shape, dim, d;
            if (field != 11 || wire != 2)
                continue;
            pb_string(in, 1, name, sizeof(name));
            if (name[0] && is_initializer(graph, name))
                continue;
            if (pb_message(in, 2, &type) < 0 ||
                pb_message(type, 1, &tensor) < 0 ||
                pb_message(tensor, 2, &shape) < 0)
                break;
            *ndim = 0;
            t = shape;
            while (pb_next(&t, &field, &wire, &v, &dim) == 0) {
                uint32_t df;
                int dw;
                uint64_t dv;
                pb ds;
                int64_t value = -1;
                if (field != 1 || wire != 2)
                    continue;
                d = dim;
                while (pb_next(&d, &df, &dw, &dv, &ds) == 0)
                    if (df == 1 && dw == 0 && (int64_t)dv > 0)
                        value = (int64_t)dv;
                if (*ndim < VG_MAX_DIMS)
                    dims[(*ndim)++] = value;
            }
            rc = *ndim > 0 ? 0 : -1;
            break;
        }
    }
    munmap(map, (size_t)sb.st_size);
    return rc;
}

void vg_sizing_model_input(const vg_model_decl *d, const char *path,
                           vg_model_input *out)
{
    int64_t dims[VG_MAX_DIMS];
    int ndim = 0;
    int64_t c = 3, h = -1, w = -1;

    out->known = 0;
    if (path != NULL && onnx_input_shape(path, dims, &ndim) == 0) {
        if (ndim == 4 && (dims[1] == 3 || dims[1] == 1)) {
            c = dims[1];
            h = dims[2];
            w = dims[3];
        } else if (ndim == 4 && (dims[3] == 3 || dims[3] == 1)) {
            c = dims[3];
            h = dims[1];
            w = dims[2];
        } else if (ndim >= 2) {
            /* not an image: one batch item is the rest of the shape */
            int64_t n = 1;
            for (int i = 1; i < ndim; i++)
                n *= dims[i] > 0 ? dims[i] : 1;
            c = 1;
            h = 1;
            w = n;
        }
        out->known = h > 0 && w > 0;
    }
    if (d != NULL && d->input_w > 0 && d->input_h > 0) {
        w = d->input_w;
        h = d->input_h;
        out->known = 1;
    }
    out->channels = (int)(c > 0 ? c : 3);
    out->height = (int)(h > 0 ? h : VG_SIZING_DEFAULT_INPUT_SIDE);
    out->width = (int)(w > 0 ? w : VG_SIZING_DEFAULT_INPUT_SIDE);
}

void vg_sizing_model_estimate(const vg_model_decl *d, const char *path,
                              uint64_t file_bytes, vg_calibration *out)
{
    vg_model_input in;
    vg_sizing_model_input(d, path, &in);
    vg_calibration_estimate(d, file_bytes,
                            (int64_t)in.channels * in.width * in.height, out);
    /* On a GPU provider the session's weights and activations live in
     * device memory; the host keeps what the estimate says as well (ONNX
     * Runtime stages the initialisers through host memory). */
    if (d->session.n_providers > 0 && d->session.providers[0] != NULL &&
        !strcmp(d->session.providers[0], "cuda"))
        out->device_bytes = out->weights_bytes + out->work_bytes;
}
