/* vg_plan: the memory plan of a job (include/vigil/plan.h). */
#include "vigil/plan.h"

#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavutil/cpu.h>

#include "vigil/faces.h"
#include "vigil/reid.h"
#include "vigil/sizing.h"
#include "vigil/source.h"
#include "vigil/track.h"

#define MIB (1024.0 * 1024.0)

#define STAGED_OTHER_BYTES (256u << 10)

/* ---- stream buffer model --------------------------------------------------
 */

/* Frame threads FFmpeg gives a decoder left at thread_count 0: cores + 1 (at
 * most 16) for decoders that thread by frame, else 1. */
static int decoder_frame_threads(const char *codec)
{
    const AVCodec *c =
        codec && codec[0] ? avcodec_find_decoder_by_name(codec) : NULL;
    int cpus;
    if (c == NULL || !(c->capabilities & AV_CODEC_CAP_FRAME_THREADS))
        return 1;
    cpus = av_cpu_count();
    if (cpus <= 1)
        return 1;
    return cpus + 1 < 16 ? cpus + 1 : 16;
}

/* Fills m's input from the model file and the declaration. */
static void model_input(vg_plan_model *m, const vg_model_decl *d)
{
    vg_model_input in;
    vg_sizing_model_input(d, m->missing ? NULL : m->path, &in);
    m->input_c = in.channels;
    m->input_w = in.width;
    m->input_h = in.height;
    m->input_known = in.known;
}

static uint64_t input_bytes(const vg_plan_model *m)
{
    return vg_sizing_tensor_bytes(m->input_c, m->input_w, m->input_h);
}

/* ---- building -------------------------------------------------------------
 */

void vg_plan_opts_default(vg_plan_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host_budget_bytes = -1;
    o->device_budget_bytes = -1;
    o->video = -1;
    o->assume_width = 1920;
    o->assume_height = 1080;
    o->concurrent = 1;
}

/* Fills m for decl d run from path (the decl's or a variant's). */
static int plan_model(vg_plan *p, const vg_model_decl *d, const char *path,
                      vg_plan_model *m)
{
    vg_model_decl copy;
    vg_calibration c;
    char key[VG_PATH_MAX + 256];
    struct stat sb;
    int rc;

    snprintf(m->name, sizeof(m->name), "%s", d->name);
    snprintf(m->path, sizeof(m->path), "%s", path);
    m->kind = d->kind;
    m->policy = d->policy;
    m->stage = d->stage;
    m->batch = d->batch > 0 ? d->batch : 1;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        m->missing = 1;
        model_input(m, d);
        return 0;
    }
    m->file_bytes = (uint64_t)sb.st_size;
    model_input(m, d);
    vg_model_decl_copy(&copy, d);
    snprintf(copy.path, sizeof(copy.path), "%s", path);
    rc = vg_calibration_key(&copy, key, sizeof(key));
    if (rc == 0)
        rc = vg_calibration_lookup(p->ctx, p->calibration, key, &c);
    if (rc == 0) {
        m->calibrated = 1;
    } else if (rc == VG_ENOENT) {
        vg_sizing_model_estimate(&copy, path, m->file_bytes, &c);
    } else {
        return rc; /* VG_EIO, message in ctx */
    }
    m->weights_bytes = c.weights_bytes;
    m->work_bytes = c.work_bytes;
    m->device_bytes = c.device_bytes;
    m->host_bytes = c.weights_bytes + c.work_bytes;
    return 0;
}

/* Index of an earlier run model whose loaded instance model i shares (same
 * file and footprint options), or -1. */
static int shared_with(const vg_job_config *job, int i)
{
    char a[VG_PATH_MAX + 256], b[VG_PATH_MAX + 256];
    if (vg_calibration_key(&job->models[i], a, sizeof(a)) < 0)
        return -1;
    for (int k = 0; k < i; k++)
        if (vg_calibration_key(&job->models[k], b, sizeof(b)) == 0 &&
            !strcmp(a, b))
            return k;
    return -1;
}

/* Sets a stream's buffers (one configuration: the cctv stream, or one stage
 * of a staged job). */
static void stream_set(vg_plan_stream *st, const vg_stream_bytes *b)
{
    st->tensor_pool_bytes = b->tensor_pool;
    st->picture_pool_bytes = b->picture_pool;
    st->decoder_bytes = b->decoder;
    st->encoder_bytes = b->encoder;
    st->other_bytes = b->tables;
    st->threads_bytes = b->threads;
    st->host_bytes = b->tensor_pool + b->picture_pool + b->decoder +
                     b->encoder + b->tables + b->threads;
}

static void probe_stream(vg_plan *p, const vg_settings *s, const char *input,
                         int index, const vg_plan_opts *o, vg_plan_stream *st)
{
    vg_source_opts so;
    vg_source *src = NULL;
    vg_source_info si;

    snprintf(st->input, sizeof(st->input), "%s", input);
    vg_source_opts_default(&so);
    so.timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 5000;
    if (o->sources != NULL && o->sources[index] == NULL) {
        snprintf(st->error, sizeof(st->error), "not opened");
        st->frame_count = -1;
        st->width = o->assume_width > 0 ? o->assume_width : 1920;
        st->height = o->assume_height > 0 ? o->assume_height : 1080;
    } else if (o->sources == NULL && vg_source_is_read_once(input)) {
        /* probing a FIFO or pipe would consume what the run must read */
        snprintf(st->error, sizeof(st->error),
                 "%s: read once (FIFO, pipe or device), not probed", input);
        st->frame_count = -1;
        st->width = o->assume_width > 0 ? o->assume_width : 1920;
        st->height = o->assume_height > 0 ? o->assume_height : 1080;
    } else if (o->sources != NULL ||
               vg_source_open(p->ctx, input, &so, &src) == 0) {
        vg_source_get_info(o->sources ? o->sources[index] : src, &si);
        vg_source_close(&src);
        st->opened = 1;
        st->width = si.width;
        st->height = si.height;
        st->fps = si.fps;
        st->frame_count = si.frame_count;
        snprintf(st->codec, sizeof(st->codec), "%s", si.codec);
    } else {
        snprintf(st->error, sizeof(st->error), "%s", vg_context_errmsg(p->ctx));
        vg_context_clear_error(p->ctx);
        st->frame_count = -1;
        st->width = o->assume_width > 0 ? o->assume_width : 1920;
        st->height = o->assume_height > 0 ? o->assume_height : 1080;
    }
    st->decoder_threads = decoder_frame_threads(st->codec);
}

/* Index of the run model (not a variant) of kind, or -1. */
static int run_model_of_kind(const vg_plan *p, int kind)
{
    for (int i = 0; i < p->n_models; i++)
        if (!p->models[i].variant && p->models[i].kind == kind)
            return i;
    return -1;
}

static int counted(const vg_plan *p, const int *shared, int i)
{
    return !p->models[i].variant && shared[i] < 0;
}

/* Resident during stage index k of the staged schedule. */
static int resident_in(const vg_plan *p, int i, int k)
{
    const vg_plan_model *m = &p->models[i];
    if (p->job != VG_JOB_STAGED)
        return 1;
    return m->policy != VG_POLICY_UNLOAD_AFTER_STAGE ||
           m->stage == p->stages[k].stage;
}

/* The buffers of a staged job's stream in one stage: the detector's stage
 * reads tensors, the later stages pictures (vg_sizing_staged_pools); no
 * queues, no encoder, the decode runs on the stage's thread. */
static void staged_stage(vg_plan_stream *st, int detector_stage,
                         uint64_t tensor, uint64_t decoder,
                         uint64_t face_buffers)
{
    vg_stream_pools pools;
    vg_stream_bytes b;
    memset(&b, 0, sizeof(b));
    vg_sizing_staged_pools(detector_stage, &pools);
    if (detector_stage)
        b.tensor_pool = (uint64_t)pools.tensors * tensor;
    b.picture_pool = (uint64_t)pools.pictures *
                     vg_sizing_picture_bytes(st->width, st->height);
    b.decoder = decoder;
    b.tables = STAGED_OTHER_BYTES + (detector_stage ? 0 : face_buffers);
    stream_set(st, &b);
}

static int no_embed(void *user, int det_index, float *out, int dim)
{
    (void)user, (void)det_index, (void)out, (void)dim;
    return VG_ENOTSUP;
}

/* What one stream's re-identification holds (tracker.reid): the ONNX ReID
 * model's weights and working memory (calibrated or estimated like any
 * model) and its input, plus the embedding storage vg_tracker_set_reid
 * takes on t (the plan's tracker, measured before). The model is loaded
 * once to learn its embedding length and to refuse a bad file here, unless
 * the caller says what it learnt loading it (o->reid_dim).
 * Returns 0 or a VG_E* code (message in ctx). */
static int reid_bytes(vg_plan *p, const vg_settings *s, vg_tracker *t,
                      const vg_plan_opts *o, uint64_t *out)
{
    vg_reid_embedder *e = NULL;
    vg_tracker_stats before, after;
    vg_reid_opts ro;
    uint64_t model = 0;
    int rc = 0, dim = o->reid_dim;
    size_t input = o->reid_input_bytes;

    *out = 0;
    if (!s->reid_enabled)
        return 0;
    if (dim <= 0 || !s->reid_model[0]) {
        rc = vg_reid_embedder_create(p->ctx, s->reid_model, NULL, &e);
        if (rc < 0)
            return rc;
        dim = vg_reid_embedder_dim(e);
        input = vg_reid_embedder_input_bytes(e);
        vg_reid_embedder_destroy(&e);
    }
    if (s->reid_model[0]) {
        vg_model_decl d;
        vg_plan_model m;
        memset(&d, 0, sizeof(d));
        memset(&m, 0, sizeof(m));
        snprintf(d.name, sizeof(d.name), "reid");
        snprintf(d.path, sizeof(d.path), "%s", s->reid_model);
        d.kind = VG_MODEL_OTHER;
        d.batch = 1;
        vg_session_opts_default(&d.session);
        d.session.intra_threads = 1; /* as vg_reid_embedder_create */
        d.session.spin = 0;
        rc = plan_model(p, &d, d.path, &m);
        if (rc < 0)
            return rc;
        model = m.host_bytes + input;
    }
    vg_tracker_stats_get(t, &before);
    vg_reid_opts_default(&ro);
    ro.dim = dim;
    ro.embed = no_embed;
    rc = vg_tracker_set_reid(t, &ro);
    if (rc < 0)
        return rc;
    vg_tracker_stats_get(t, &after);
    *out = model + (after.bytes_held > before.bytes_held
                        ? after.bytes_held - before.bytes_held
                        : 0);
    return 0;
}

/* The stream buffers of every stream in every stage. */
static void plan_streams(vg_plan *p, const vg_settings *s,
                         uint64_t tracker_bytes, uint64_t reid)
{
    int det = run_model_of_kind(p, VG_MODEL_DETECTOR);
    uint64_t tensor = det >= 0 ? input_bytes(&p->models[det]) : 0;
    uint64_t face_buffers = 0;
    vg_sizing_stream in[VG_PLAN_MAX_STREAMS];

    for (int i = 0; i < p->n_models; i++)
        if (!p->models[i].variant &&
            (p->models[i].kind == VG_MODEL_FACE_DETECTOR ||
             p->models[i].kind == VG_MODEL_FACE_EMBEDDER))
            face_buffers += input_bytes(&p->models[i]);
    for (int i = 0; i < p->n_streams; i++) {
        vg_plan_stream *st = &p->streams[i];
        /* staged: one decoder at a time, its family's share with it */
        uint64_t dec = vg_sizing_decoder_bytes(st->codec, st->width, st->height,
                                               st->decoder_threads) +
                       vg_sizing_decoder_shared_bytes(st->codec);
        int largest = 0;
        if (p->job != VG_JOB_STAGED) {
            vg_sizing_stream *si = &in[i];
            vg_stream_bytes b;
            memset(si, 0, sizeof(*si));
            si->width = st->width;
            si->height = st->height;
            si->codec = st->codec;
            si->decoder_threads = st->decoder_threads;
            /* the CCTV job's cameras hold 8-bit tensors (the job's
             * compact_tensor), sized as the source sizes them */
            si->tensor_bytes = tensor;
            if (det >= 0 && p->models[det].input_w > 0 &&
                p->models[det].input_h > 0) {
                vg_tensor_spec sp;
                memset(&sp, 0, sizeof(sp));
                sp.width = p->models[det].input_w;
                sp.height = p->models[det].input_h;
                sp.resize = VG_RESIZE_LETTERBOX;
                uint64_t c =
                    vg_source_tensor_bytes(&sp, st->width, st->height, 1);
                if (c > 0)
                    si->tensor_bytes = c;
            }
            si->queue_depth = p->queue_depth;
            si->video = p->video;
            si->video_preset = s->video_preset;
            si->tracker_bytes = tracker_bytes;
            vg_sizing_stream_bytes(si, &b);
            stream_set(st, &b);
            st->reid_bytes = reid;
            st->host_bytes += reid;
            st->stage_bytes[0] = st->host_bytes;
            continue;
        }
        for (int k = 0; k < p->n_stages; k++) {
            staged_stage(st,
                         det >= 0 && p->stages[k].stage == p->models[det].stage,
                         tensor, dec, face_buffers);
            st->stage_bytes[k] = st->host_bytes;
            if (st->stage_bytes[k] > st->stage_bytes[largest])
                largest = k;
        }
        /* the breakdown shown is the largest stage's */
        staged_stage(
            st, det >= 0 && p->stages[largest].stage == p->models[det].stage,
            tensor, dec, face_buffers);
    }
    if (p->job != VG_JOB_STAGED)
        vg_sizing_job_shared(in, p->n_streams, &p->shared);
    p->shared_bytes = p->shared.total;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void plan_stages(vg_plan *p, const vg_job_config *job)
{
    int st[VG_MAX_MODELS], n = 0;
    if (job->kind != VG_JOB_STAGED) {
        p->n_stages = 1;
        p->stages[0].stage = 0;
        return;
    }
    for (int i = 0; i < job->n_models; i++) {
        int seen = 0;
        for (int k = 0; k < n; k++)
            seen |= st[k] == job->models[i].stage;
        if (!seen && n < VG_MAX_MODELS)
            st[n++] = job->models[i].stage;
    }
    qsort(st, (size_t)n, sizeof(st[0]), cmp_int);
    if (n > VG_PLAN_MAX_STAGES)
        n = VG_PLAN_MAX_STAGES;
    for (int k = 0; k < n; k++)
        p->stages[k].stage = st[k];
    p->n_stages = n > 0 ? n : 1;
}

/* Host bytes of the streams in stage index k (-1: each stream's largest
 * configuration) without stream skip (-1: none): the sum when they run at
 * the same time, the largest otherwise, plus what the job shares between
 * its streams once. *largest (may be NULL) receives the index of the
 * largest stream, -1 when none counts. */
static uint64_t streams_bytes(const vg_plan *p, int k, int skip, int *largest)
{
    uint64_t total = 0, max = 0;
    int best = -1;
    for (int j = 0; j < p->n_streams; j++) {
        uint64_t b =
            k < 0 ? p->streams[j].host_bytes : p->streams[j].stage_bytes[k];
        if (j == skip)
            continue;
        total += b;
        if (best < 0 || b > max) {
            max = b;
            best = j;
        }
    }
    if (largest != NULL)
        *largest = best;
    if (best < 0)
        return 0;
    return p->shared_bytes + (p->concurrent ? total : max);
}

/* Host peak of the job's schedule without model `skip_model` and without
 * stream `skip_stream` (-1: none): what cutting one item would leave. */
static uint64_t schedule_peak(const vg_plan *p, const int *shared,
                              int skip_model, int skip_stream, int device)
{
    uint64_t peak = 0;
    int staged = p->schedule == VG_PLAN_STAGED;
    for (int k = 0; k < p->n_stages; k++) {
        uint64_t total = device ? 0 : p->runtime_bytes;
        for (int i = 0; i < p->n_models; i++)
            if (counted(p, shared, i) && i != skip_model &&
                (!staged || resident_in(p, i, k)))
                total += device ? p->models[i].device_bytes
                                : p->models[i].host_bytes;
        if (!device)
            total += streams_bytes(p, k, skip_stream, NULL);
        if (total > peak)
            peak = total;
    }
    return peak;
}

static uint64_t usable(uint64_t budget, double margin)
{
    uint64_t keep;
    if (budget == 0)
        return 0;
    keep = (uint64_t)((double)budget * (margin > 0 ? margin : 0));
    return keep < budget ? budget - keep : 0;
}

static int fits(uint64_t peak, uint64_t budget, uint64_t usable_bytes)
{
    return budget == 0 || peak <= usable_bytes;
}

static void plan_totals(vg_plan *p, const int *shared)
{
    uint64_t all_host = p->runtime_bytes, all_dev = 0;

    for (int i = 0; i < p->n_models; i++)
        if (counted(p, shared, i)) {
            all_host += p->models[i].host_bytes;
            all_dev += p->models[i].device_bytes;
        }
    p->host_peak_all_resident = all_host + streams_bytes(p, -1, -1, NULL);
    p->device_peak_all_resident = all_dev;

    p->peak_stage = 0;
    for (int k = 0; k < p->n_stages; k++) {
        vg_plan_stage *sg = &p->stages[k];
        sg->models_host_bytes = sg->models_device_bytes = 0;
        sg->stream_bytes = 0;
        sg->stream = -1;
        for (int i = 0; i < p->n_models; i++)
            if (counted(p, shared, i) && resident_in(p, i, k)) {
                sg->models_host_bytes += p->models[i].host_bytes;
                sg->models_device_bytes += p->models[i].device_bytes;
            }
        sg->stream_bytes = streams_bytes(p, k, -1, &sg->stream);
        sg->host_bytes =
            p->runtime_bytes + sg->models_host_bytes + sg->stream_bytes;
        sg->device_bytes = sg->models_device_bytes;
        if (sg->host_bytes > p->stages[p->peak_stage].host_bytes)
            p->peak_stage = k;
        if (sg->device_bytes > p->device_peak_staged)
            p->device_peak_staged = sg->device_bytes;
    }
    p->host_peak_staged = p->stages[p->peak_stage].host_bytes;
    if (p->schedule == VG_PLAN_STAGED) {
        p->host_peak = p->host_peak_staged;
        p->device_peak = p->device_peak_staged;
    } else {
        p->host_peak = p->host_peak_all_resident;
        p->device_peak = p->device_peak_all_resident;
    }
    p->host_usable = usable(p->host_budget, p->margin);
    p->device_usable = usable(p->device_budget, p->margin);
    p->fits_all_resident =
        fits(p->host_peak_all_resident, p->host_budget, p->host_usable) &&
        fits(p->device_peak_all_resident, p->device_budget, p->device_usable);
    p->fits_staged =
        fits(p->host_peak_staged, p->host_budget, p->host_usable) &&
        fits(p->device_peak_staged, p->device_budget, p->device_usable);
    p->fits =
        p->schedule == VG_PLAN_STAGED ? p->fits_staged : p->fits_all_resident;
}

/* The largest item of the job's schedule at its peak for the resource that
 * does not fit (host first). */
static void plan_cut(vg_plan *p, const int *shared)
{
    vg_plan_cut *c = &p->cut;
    int device = 0, best_model = -1, best_stream = -1;
    uint64_t best = 0, peak, use;
    int k = p->schedule == VG_PLAN_STAGED ? p->peak_stage : 0;

    memset(c, 0, sizeof(*c));
    c->model = c->stream = c->variant = -1;
    if (p->fits)
        return;
    if (fits(p->host_peak, p->host_budget, p->host_usable)) {
        device = 1;
        /* the stage with the device peak */
        for (int j = 0; j < p->n_stages; j++)
            if (p->stages[j].device_bytes > p->stages[k].device_bytes)
                k = j;
    }
    peak = device ? p->device_peak : p->host_peak;
    use = device ? p->device_usable : p->host_usable;
    for (int i = 0; i < p->n_models; i++) {
        uint64_t b =
            device ? p->models[i].device_bytes : p->models[i].host_bytes;
        if (!counted(p, shared, i) ||
            (p->schedule == VG_PLAN_STAGED && !resident_in(p, i, k)))
            continue;
        if (b > best) {
            best = b;
            best_model = i;
        }
    }
    if (!device && p->stages[k].stream >= 0 &&
        p->streams[p->stages[k].stream].stage_bytes[k] > best) {
        best = p->streams[p->stages[k].stream].stage_bytes[k];
        best_model = -1;
        best_stream = p->stages[k].stream;
    }
    c->needed = 1;
    snprintf(c->resource, sizeof(c->resource), "%s",
             device ? "device" : "host");
    c->over_bytes = peak > use ? peak - use : 0;
    c->bytes = best;
    c->model = best_model;
    c->stream = best_stream;
    if (best_model >= 0) {
        const vg_plan_model *m = &p->models[best_model];
        uint64_t mine = device ? m->device_bytes : m->host_bytes;
        snprintf(c->item, sizeof(c->item), "model %s", m->name);
        for (int i = 0; i < p->n_models; i++) {
            const vg_plan_model *v = &p->models[i];
            uint64_t theirs = device ? v->device_bytes : v->host_bytes;
            if (!v->variant || v->of != best_model || v->missing ||
                theirs >= mine)
                continue;
            if (mine - theirs > c->variant_saves) {
                c->variant_saves = mine - theirs;
                c->variant = i;
            }
        }
    } else if (best_stream >= 0) {
        const char *in = p->streams[best_stream].input;
        const char *base = strrchr(in, '/');
        snprintf(c->item, sizeof(c->item), "stream %.100s",
                 base && base[1] ? base + 1 : in);
    } else {
        snprintf(c->item, sizeof(c->item), "runtime");
    }
    c->enough =
        schedule_peak(p, shared, best_model, best_stream, device) <= use;
}

int vg_plan_build(vg_context *ctx, const vg_job_config *job,
                  const vg_settings *s, const char *const *inputs, int n_inputs,
                  const vg_plan_opts *o, vg_plan **out)
{
    vg_plan_opts defaults;
    vg_plan *p;
    vg_calibration rc_runtime;
    int shared[VG_PLAN_MAX_MODELS];
    uint64_t tracker_bytes = 0, reid = 0;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (ctx == NULL || job == NULL || s == NULL || out == NULL ||
        n_inputs < 0 || (n_inputs > 0 && inputs == NULL))
        return vg_fail(ctx, VG_EINVAL, "plan: missing argument");
    if (n_inputs > VG_PLAN_MAX_STREAMS)
        return vg_fail(ctx, VG_ERANGE, "plan: at most %d inputs (got %d)",
                       VG_PLAN_MAX_STREAMS, n_inputs);
    if (job->n_models < 0 || job->n_models > VG_MAX_MODELS)
        return vg_fail(ctx, VG_EINVAL, "plan: bad model count %d",
                       job->n_models);
    if (o == NULL) {
        vg_plan_opts_default(&defaults);
        o = &defaults;
    }
    p = vg_calloc(ctx, 1, sizeof(*p));
    if (p == NULL)
        return vg_fail(ctx, VG_ENOMEM, "plan: out of memory");
    p->ctx = ctx;
    p->job = job->kind == VG_JOB_STAGED ? VG_JOB_STAGED : VG_JOB_CCTV;
    p->schedule =
        p->job == VG_JOB_STAGED ? VG_PLAN_STAGED : VG_PLAN_ALL_RESIDENT;
    p->video = p->job == VG_JOB_STAGED ? 0
               : o->video >= 0         ? (o->video != 0)
                                       : (s->video_enabled != 0);
    p->concurrent = p->job != VG_JOB_STAGED && o->concurrent != 0;
    p->queue_depth = vg_sizing_queue_depth(
        s->queue_depth > 0 ? (unsigned)s->queue_depth : 0);
    p->host_budget = o->host_budget_bytes >= 0 ? (uint64_t)o->host_budget_bytes
                                               : job->budget.host_bytes;
    p->device_budget = o->device_budget_bytes >= 0
                           ? (uint64_t)o->device_budget_bytes
                           : job->budget.device_bytes;
    p->margin = job->budget.margin;
    if (o->calibration != NULL && o->calibration[0] != '\0')
        snprintf(p->calibration, sizeof(p->calibration), "%s", o->calibration);
    else
        vg_calibration_path(&job->budget, p->calibration,
                            sizeof(p->calibration));

    /* the runtime baseline */
    rc = vg_calibration_lookup(ctx, p->calibration, vg_job_runtime_key(p->job),
                               &rc_runtime);
    if (rc == 0) {
        p->runtime_baseline_bytes = rc_runtime.weights_bytes;
        p->runtime_calibrated = 1;
    } else if (rc == VG_ENOENT) {
        p->runtime_baseline_bytes = VG_PLAN_RUNTIME_ESTIMATE_BYTES;
    } else {
        goto fail;
    }
    p->runtime_bytes = p->runtime_baseline_bytes + VG_PLAN_ORT_ENV_BYTES;

    /* models, each followed by its variants */
    for (int i = 0; i < job->n_models; i++) {
        const vg_model_decl *d = &job->models[i];
        int self = p->n_models;
        vg_plan_model *m = &p->models[p->n_models++];
        m->of = self;
        rc = plan_model(p, d, d->path, m);
        if (rc < 0)
            goto fail;
        shared[self] = -1;
        {
            int k = shared_with(job, i);
            /* map the job index to the plan index of that run model */
            if (k >= 0)
                for (int j = 0; j < self; j++)
                    if (!p->models[j].variant &&
                        !strcmp(p->models[j].name, job->models[k].name))
                        shared[self] = j;
        }
        for (int v = 0; v < d->n_variants && v < VG_MAX_VARIANTS; v++) {
            vg_plan_model *vm = &p->models[p->n_models];
            vm->variant = 1;
            vm->of = self;
            snprintf(vm->precision, sizeof(vm->precision), "%s",
                     d->variants[v].precision);
            rc = plan_model(p, d, d->variants[v].path, vm);
            if (rc < 0)
                goto fail;
            shared[p->n_models++] = -1;
            if (!strcmp(d->variants[v].path, d->path))
                snprintf(m->precision, sizeof(m->precision), "%s",
                         d->variants[v].precision);
        }
    }

    plan_stages(p, job);
    if (p->job != VG_JOB_STAGED && n_inputs > 0) {
        /* the tracker's arena is fixed at create: measure it */
        vg_tracker *t = NULL;
        vg_tracker_stats ts;
        if (vg_tracker_create(ctx, NULL, &t) < 0) {
            rc = vg_context_errcode(ctx);
            goto fail;
        }
        vg_tracker_stats_get(t, &ts);
        tracker_bytes = ts.bytes_held;
        rc = reid_bytes(p, s, t, o, &reid);
        vg_tracker_destroy(&t);
        if (rc < 0)
            goto fail;
    }
    for (int i = 0; i < n_inputs; i++)
        probe_stream(p, s, inputs[i], i, o, &p->streams[p->n_streams++]);
    plan_streams(p, s, tracker_bytes, reid);
    plan_totals(p, shared);
    plan_cut(p, shared);
    *out = p;
    return 0;

fail:
    vg_free(ctx, p);
    return rc < 0 ? rc : VG_ENOMEM;
}

void vg_plan_destroy(vg_plan **p)
{
    if (p == NULL || *p == NULL)
        return;
    vg_free((*p)->ctx, *p);
    *p = NULL;
}

/* ---- printing -------------------------------------------------------------
 */

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b && b[1] ? b + 1 : path;
}

static void print_fit(FILE *f, const char *what, uint64_t peak, uint64_t budget,
                      uint64_t use, int marked)
{
    char a[32], b[32];
    fprintf(f, "  %-13s %12s", what, vg_format_bytes(peak, a, sizeof(a)));
    if (budget == 0)
        fprintf(f, "  no budget");
    else if (peak <= use)
        fprintf(f, "  fits (%s left)",
                vg_format_bytes(use - peak, b, sizeof(b)));
    else
        fprintf(f, "  DOES NOT FIT (%s over)",
                vg_format_bytes(peak - use, b, sizeof(b)));
    fprintf(f, "%s\n", marked ? "   <- the job runs this" : "");
}

int vg_plan_print(const vg_plan *p, FILE *f)
{
    char b[6][32];
    int staged = p->job == VG_JOB_STAGED;
    int any_estimated = !p->runtime_calibrated;

    fprintf(f, "plan for a %s job (schedule: %s)\n", vg_job_kind_name(p->job),
            staged ? "staged" : "all resident");
    fprintf(f, "calibration: %s\n\n", p->calibration);

    fprintf(f, "models: weights and working memory at the configured batch "
               "and input\n");
    fprintf(f, "  %-16s %-9s %-18s %5s %5s %-11s %11s %11s %11s %11s  %s\n",
            "name", "precision", "policy", "stage", "batch", "input", "weights",
            "work", "device", "host", "source");
    for (int i = 0; i < p->n_models; i++) {
        const vg_plan_model *m = &p->models[i];
        char input[32];
        snprintf(input, sizeof(input), "%dx%d%s", m->input_w, m->input_h,
                 m->input_known ? "" : "?");
        if (m->variant)
            fprintf(f, "    %-14s %-9s %-18s", "variant",
                    m->precision[0] ? m->precision : "-", "(listed, not run)");
        else
            fprintf(f, "  %-16s %-9s %-18s", m->name,
                    m->precision[0] ? m->precision : "-",
                    vg_model_policy_name(m->policy));
        if (m->missing) {
            fprintf(f, " file not found: %s\n", m->path);
            continue;
        }
        fprintf(f, " %5d %5d %-11s %11s %11s %11s %11s  %s\n", m->stage,
                m->batch, input, vg_format_bytes(m->weights_bytes, b[0], 32),
                vg_format_bytes(m->work_bytes, b[1], 32),
                vg_format_bytes(m->device_bytes, b[2], 32),
                vg_format_bytes(m->host_bytes, b[3], 32),
                m->calibrated ? "calibrated" : "estimated");
        any_estimated |= !m->calibrated;
    }
    fprintf(f, "\nruntime: the process before any model or stream\n");
    fprintf(f, "  %-42s %11s  %s\n", "baseline (libraries, settings, rules)",
            vg_format_bytes(p->runtime_baseline_bytes, b[0], 32),
            p->runtime_calibrated ? "calibrated" : "estimated");
    fprintf(
        f, "  %-42s %11s  %s\n", "ONNX Runtime environment",
        vg_format_bytes(p->runtime_bytes - p->runtime_baseline_bytes, b[0], 32),
        "measured constant");

    fprintf(f, "\nstreams: buffers of each stream (%s)\n",
            staged          ? "its largest stage; one stream at a time"
            : p->concurrent ? "all at the same time: their sum counts"
                            : "one stream at a time");
    if (p->n_streams == 0)
        fprintf(f, "  (no inputs: no stream buffers planned)\n");
    else
        fprintf(f, "  %-20s %-10s %-10s %3s %11s %11s %11s %11s %11s %11s\n",
                "input", "size", "codec", "thr", "tensors", "pictures",
                "decoder", "encoder", "other+thr", "total");
    for (int j = 0; j < p->n_streams; j++) {
        const vg_plan_stream *st = &p->streams[j];
        char size[32];
        snprintf(size, sizeof(size), "%dx%d", st->width, st->height);
        fprintf(f,
                "  %-20.20s %-10s %-10.10s %3d %11s %11s %11s %11s %11s %11s\n",
                base_name(st->input), size, st->opened ? st->codec : "?",
                st->decoder_threads,
                vg_format_bytes(st->tensor_pool_bytes, b[0], 32),
                vg_format_bytes(st->picture_pool_bytes, b[1], 32),
                vg_format_bytes(st->decoder_bytes, b[2], 32),
                vg_format_bytes(st->encoder_bytes, b[3], 32),
                vg_format_bytes(st->other_bytes + st->threads_bytes, b[4], 32),
                vg_format_bytes(st->host_bytes, b[5], 32));
        if (st->reid_bytes > 0)
            fprintf(f,
                    "    re-identification (tracker.reid): %s of the total\n",
                    vg_format_bytes(st->reid_bytes, b[0], 32));
        if (!st->opened)
            fprintf(f, "    could not open (%s): planned at %dx%d\n", st->error,
                    st->width, st->height);
    }
    if (p->n_streams > 0)
        fprintf(f,
                "  shared by the streams: %s (decoder tables %s, encoder "
                "%s, event store %s)\n"
                "  (stream buffers are estimated from constants measured "
                "per pixel; see docs)\n",
                vg_format_bytes(p->shared_bytes, b[0], 32),
                vg_format_bytes(p->shared.decoders, b[1], 32),
                vg_format_bytes(p->shared.encoder, b[2], 32),
                vg_format_bytes(p->shared.events, b[3], 32));

    if (staged) {
        fprintf(f, "\nstages: models resident in each stage\n");
        fprintf(f, "  %-5s %-40s %11s %11s %11s\n", "stage", "models", "models",
                "stream", "host");
        for (int k = 0; k < p->n_stages; k++) {
            const vg_plan_stage *sg = &p->stages[k];
            char names[256] = "";
            size_t used = 0;
            for (int i = 0; i < p->n_models; i++) {
                const vg_plan_model *m = &p->models[i];
                int n;
                if (m->variant || (m->policy == VG_POLICY_UNLOAD_AFTER_STAGE &&
                                   m->stage != sg->stage))
                    continue;
                n = snprintf(names + used, sizeof(names) - used, "%s%s",
                             used ? " " : "", m->name);
                if (n > 0 && (size_t)n < sizeof(names) - used)
                    used += (size_t)n;
            }
            fprintf(f, "  %-5d %-40.40s %11s %11s %11s%s\n", sg->stage, names,
                    vg_format_bytes(sg->models_host_bytes, b[0], 32),
                    vg_format_bytes(sg->stream_bytes, b[1], 32),
                    vg_format_bytes(sg->host_bytes, b[2], 32),
                    k == p->peak_stage ? "  <- peak" : "");
        }
    }

    fprintf(f, "\npeak host memory (budget ");
    if (p->host_budget == 0)
        fprintf(f, "none)\n");
    else
        fprintf(f, "%s, %s usable with a %.0f%% margin)\n",
                vg_format_bytes(p->host_budget, b[0], 32),
                vg_format_bytes(p->host_usable, b[1], 32), p->margin * 100);
    print_fit(f, "all resident", p->host_peak_all_resident, p->host_budget,
              p->host_usable, !staged);
    print_fit(f, "staged", p->host_peak_staged, p->host_budget, p->host_usable,
              staged);
    if (!staged)
        fprintf(f, "  (a cctv job has no stages: staged is all resident)\n");
    fprintf(f, "peak device memory (budget ");
    if (p->device_budget == 0)
        fprintf(f, "none)\n");
    else
        fprintf(f, "%s, %s usable)\n",
                vg_format_bytes(p->device_budget, b[0], 32),
                vg_format_bytes(p->device_usable, b[1], 32));
    print_fit(f, "all resident", p->device_peak_all_resident, p->device_budget,
              p->device_usable, !staged);
    print_fit(f, "staged", p->device_peak_staged, p->device_budget,
              p->device_usable, staged);

    if (p->cut.needed) {
        const vg_plan_cut *c = &p->cut;
        fprintf(f,
                "\nthe %s schedule does not fit the %s budget by %s; the "
                "largest item: %s (%s)%s\n",
                staged ? "staged" : "all-resident", c->resource,
                vg_format_bytes(c->over_bytes, b[0], 32), c->item,
                vg_format_bytes(c->bytes, b[1], 32),
                c->enough ? ", cutting it alone makes it fit"
                          : ", cutting it alone is not enough");
        if (c->variant >= 0)
            fprintf(f, "  or run its %s variant (%s), which saves %s\n",
                    p->models[c->variant].precision,
                    base_name(p->models[c->variant].path),
                    vg_format_bytes(c->variant_saves, b[2], 32));
    } else {
        fprintf(f, "\nthe %s schedule fits\n",
                staged ? "staged" : "all-resident");
    }
    if (any_estimated)
        fprintf(f, "estimated: never measured on this machine (weights = "
                   "file x 1.25, work = input x batch x 40 B); a run measures "
                   "and calibrates them\n");
    return ferror(f) ? VG_EIO : 0;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static const char *tf(int v)
{
    return v ? "true" : "false";
}

int vg_plan_print_json(const vg_plan *p, FILE *f)
{
    const vg_plan_cut *c = &p->cut;

    fprintf(f, "{\"job\": \"%s\", \"schedule\": \"%s\", ",
            vg_job_kind_name(p->job),
            p->schedule == VG_PLAN_STAGED ? "staged" : "all_resident");
    fprintf(f,
            "\"host_peak_bytes\": %" PRIu64 ", \"device_peak_bytes\": %" PRIu64
            ", \"host_peak_all_resident_bytes\": %" PRIu64
            ", \"host_peak_staged_bytes\": %" PRIu64
            ", \"device_peak_all_resident_bytes\": %" PRIu64
            ", \"device_peak_staged_bytes\": %" PRIu64 ", ",
            p->host_peak, p->device_peak, p->host_peak_all_resident,
            p->host_peak_staged, p->device_peak_all_resident,
            p->device_peak_staged);
    fprintf(f,
            "\"host_budget_bytes\": %" PRIu64
            ", \"device_budget_bytes\": %" PRIu64
            ", \"margin\": %.4g, \"host_usable_bytes\": %" PRIu64
            ", \"device_usable_bytes\": %" PRIu64
            ", \"fits_all_resident\": %s, \"fits_staged\": %s, \"fits\": %s, ",
            p->host_budget, p->device_budget, p->margin, p->host_usable,
            p->device_usable, tf(p->fits_all_resident), tf(p->fits_staged),
            tf(p->fits));
    fprintf(f, "\"cut\": ");
    if (!c->needed) {
        fprintf(f, "null");
    } else {
        fprintf(f, "{\"resource\": \"%s\", \"item\": ", c->resource);
        json_string(f, c->item);
        fprintf(f,
                ", \"bytes\": %" PRIu64 ", \"over_bytes\": %" PRIu64
                ", \"enough\": %s, \"variant\": ",
                c->bytes, c->over_bytes, tf(c->enough));
        if (c->variant >= 0)
            json_string(f, p->models[c->variant].precision);
        else
            fprintf(f, "null");
        fprintf(f, ", \"variant_saves_bytes\": %" PRIu64 "}", c->variant_saves);
    }
    fprintf(
        f,
        ", \"runtime_bytes\": %" PRIu64 ", \"runtime_baseline_bytes\": %" PRIu64
        ", \"onnxruntime_env_bytes\": %llu, \"runtime_calibrated\": %s, "
        "\"calibration\": ",
        p->runtime_bytes, p->runtime_baseline_bytes,
        (unsigned long long)VG_PLAN_ORT_ENV_BYTES, tf(p->runtime_calibrated));
    json_string(f, p->calibration);
    fprintf(f,
            ", \"video\": %s, \"queue_depth\": %u, \"concurrent\": %s, "
            "\"shared_bytes\": %" PRIu64
            ", \"shared\": {\"decoders_bytes\": %" PRIu64
            ", \"encoder_bytes\": %" PRIu64 ", \"events_bytes\": %" PRIu64
            "}, \"models\": [",
            tf(p->video), p->queue_depth, tf(p->concurrent), p->shared_bytes,
            p->shared.decoders, p->shared.encoder, p->shared.events);
    for (int i = 0; i < p->n_models; i++) {
        const vg_plan_model *m = &p->models[i];
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_string(f, m->name);
        fprintf(f, ", \"precision\": ");
        json_string(f, m->precision);
        fprintf(f, ", \"variant\": %s, \"path\": ", tf(m->variant));
        json_string(f, m->path);
        fprintf(f,
                ", \"missing\": %s, \"kind\": \"%s\", \"policy\": \"%s\", "
                "\"stage\": %d, \"batch\": %d, \"input\": [%d, %d, %d], "
                "\"file_bytes\": %" PRIu64 ", \"weights_bytes\": %" PRIu64
                ", \"work_bytes\": %" PRIu64 ", \"device_bytes\": %" PRIu64
                ", \"host_bytes\": %" PRIu64
                ", \"calibrated\": %s, \"source\": \"%s\"}",
                tf(m->missing), vg_model_kind_name(m->kind),
                vg_model_policy_name(m->policy), m->stage, m->batch, m->input_w,
                m->input_h, m->input_c, m->file_bytes, m->weights_bytes,
                m->work_bytes, m->device_bytes, m->host_bytes,
                tf(m->calibrated), m->calibrated ? "calibrated" : "estimated");
    }
    fprintf(f, "], \"streams\": [");
    for (int j = 0; j < p->n_streams; j++) {
        const vg_plan_stream *st = &p->streams[j];
        fprintf(f, "%s{\"input\": ", j ? ", " : "");
        json_string(f, st->input);
        fprintf(f, ", \"opened\": %s, \"error\": ", tf(st->opened));
        json_string(f, st->error);
        fprintf(f,
                ", \"width\": %d, \"height\": %d, \"fps\": %.3f, "
                "\"codec\": ",
                st->width, st->height, st->fps);
        json_string(f, st->codec);
        fprintf(f,
                ", \"decoder_threads\": %d, \"tensor_pool_bytes\": %" PRIu64
                ", \"picture_pool_bytes\": %" PRIu64
                ", \"decoder_bytes\": %" PRIu64 ", \"encoder_bytes\": %" PRIu64
                ", \"other_bytes\": %" PRIu64 ", \"threads_bytes\": %" PRIu64
                ", \"reid_bytes\": %" PRIu64 ", \"host_bytes\": %" PRIu64 "}",
                st->decoder_threads, st->tensor_pool_bytes,
                st->picture_pool_bytes, st->decoder_bytes, st->encoder_bytes,
                st->other_bytes, st->threads_bytes, st->reid_bytes,
                st->host_bytes);
    }
    fprintf(f, "], \"stages\": [");
    for (int k = 0; k < p->n_stages; k++) {
        const vg_plan_stage *sg = &p->stages[k];
        fprintf(f,
                "%s{\"stage\": %d, \"models_host_bytes\": %" PRIu64
                ", \"models_device_bytes\": %" PRIu64
                ", \"stream_bytes\": %" PRIu64 ", \"host_bytes\": %" PRIu64
                ", \"device_bytes\": %" PRIu64 "}",
                k ? ", " : "", sg->stage, sg->models_host_bytes,
                sg->models_device_bytes, sg->stream_bytes, sg->host_bytes,
                sg->device_bytes);
    }
    fprintf(f, "]}");
    return ferror(f) ? VG_EIO : 0;
}

/* ---- the split-screen faces job (include/vigil/faces.h) ------------------ */

static int faces_model(vg_plan *p, const vg_faces_config *c, int kind,
                       uint64_t *out)
{
    vg_model_decl d;
    vg_plan_model m;
    int rc;
    memset(&m, 0, sizeof(m));
    vg_faces_model_decl(c, kind, &d);
    rc = plan_model(p, &d, d.path, &m);
    *out = m.host_bytes;
    return rc;
}

int vg_faces_plan_build(vg_context *ctx, const vg_faces_config *c, int width,
                        int height, const char *codec, vg_faces_plan *out)
{
    vg_plan *p;
    vg_calibration cal;
    vg_tracker_opts to;
    vg_tracker *t = NULL;
    int slot_w, rc;

    if (ctx == NULL || c == NULL || out == NULL || width < 1 || height < 1)
        return vg_fail(ctx, VG_EINVAL, "faces plan: missing argument");
    memset(out, 0, sizeof(*out));
    p = vg_calloc(ctx, 1, sizeof(*p));
    if (p == NULL)
        return vg_fail(ctx, VG_ENOMEM, "faces plan: out of memory");
    p->ctx = ctx;
    vg_calibration_default_path(p->calibration, sizeof(p->calibration));
    rc = vg_calibration_lookup(ctx, p->calibration, "runtime:faces", &cal);
    if (rc == 0)
        out->runtime = cal.weights_bytes;
    else if (rc == VG_ENOENT)
        out->runtime = VG_PLAN_RUNTIME_ESTIMATE_BYTES;
    else
        goto done;
    out->runtime += VG_PLAN_ORT_ENV_BYTES;
    rc = faces_model(p, c, VG_MODEL_FACE_DETECTOR, &out->detector);
    if (rc == 0 && c->reid)
        rc = faces_model(p, c, VG_MODEL_FACE_EMBEDDER, &out->embedder);
    if (rc < 0)
        goto done;
    out->decoder =
        vg_sizing_decoder_shared_bytes(codec) +
        vg_sizing_decoder_bytes(codec, width, height, VG_FACES_DECODER_THREADS);
    out->pictures = (uint64_t)VG_FACES_PICTURE_POOL *
                    vg_sizing_picture_bytes(width, height);
    slot_w = c->out_width / VG_SLOTS;
    /* crops and composed frames are YUV 4:2:0, 1.5 bytes a pixel */
    out->crops = (uint64_t)VG_FACES_CROP_POOL * (uint64_t)slot_w *
                 (uint64_t)c->out_height * 3 / 2;
    out->composed = (uint64_t)VG_FACES_COMPOSED_POOL * (uint64_t)c->out_width *
                    (uint64_t)c->out_height * 3 / 2;
    /* the writer's own: 2 encoder threads by default */
    out->encoder =
        vg_sizing_encoder_shared_bytes(c->preset) +
        vg_sizing_encoder_bytes(c->preset, c->out_width, c->out_height, 2);
    /* the tracker as the job creates it (its arena is fixed at create) */
    vg_tracker_opts_default(&to);
    to.max_tracks = 64;
    to.max_detections = 16;
    to.class_agnostic = 1;
    out->tables =
        VG_SIZING_STREAM_TABLES_BYTES + VG_SIZING_STREAM_THREADS_BYTES;
    if (vg_tracker_create(ctx, &to, &t) == 0) {
        vg_tracker_stats ts;
        vg_tracker_stats_get(t, &ts);
        out->tables += ts.bytes_held;
        vg_tracker_destroy(&t);
    }
    out->total = out->runtime + out->detector + out->embedder + out->decoder +
                 out->pictures + out->crops + out->composed + out->encoder +
                 out->tables;
    rc = 0;
done:
    vg_free(ctx, p);
    return rc;
}

void vg_faces_plan_print(const vg_faces_plan *p, FILE *f)
{
    const struct {
        const char *name;
        uint64_t v;
    } rows[] = {{"runtime (process + ONNX Runtime)", p->runtime},
                {"face detector (BlazeFace)", p->detector},
                {"face embedder (MobileFaceNet)", p->embedder},
                {"decoder", p->decoder},
                {"pictures (source pool)", p->pictures},
                {"crops (slot pool)", p->crops},
                {"composed frames (pool)", p->composed},
                {"H.264 encoder", p->encoder},
                {"tracker, tables, threads", p->tables},
                {"peak host (predicted)", p->total}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        fprintf(f, "  %-34s %8.1f MiB\n", rows[i].name,
                (double)rows[i].v / (1024.0 * 1024.0));
}
