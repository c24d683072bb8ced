/*
 * vg_residency: model residency under a memory budget (include/vigil/
 * residency.h). Besides the bookkeeping, the manager owns one reference to
 * ONNX Runtime's environment and registers a counting allocator with it, so
 * that the working memory of every session it creates is seen: its peak
 * during the warm-up inference is the model's working memory.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <onnxruntime_c_api.h>

#include "vigil/clock.h"
#include "vigil/residency.h"
#include "vigil/sizing.h"

#define ALLOC_HEADER 64 /* keeps ONNX Runtime's 64-byte alignment */
#define MIB (1024.0 * 1024.0)

/* vigil's allocator for ONNX Runtime's CPU tensors: malloc with counters,
 * and the context's fault injector while a session is being created (ONNX
 * Runtime reports a failed allocation there as an error; inside Run it
 * terminates the process, so Run's allocations are never failed here). */
typedef struct ort_alloc {
    OrtAllocator base; /* first: ONNX Runtime passes &base back */
    OrtMemoryInfo *info;
    vg_context *ctx;
    atomic_uint_fast64_t in_use, peak, allocs, refused;
    atomic_int loading; /* 1 while a session is created */
    atomic_int inject;  /* fault injection allowed while loading */
} ort_alloc;

typedef struct instance {
    vg_session *session;
    int users;
    uint64_t host_bytes, device_bytes; /* charged while resident */
    uint64_t weights_bytes;            /* the part that stays between runs */
    int calibrated;
    int batch;
    int cpu_fallback;
    int streak; /* frame-path out-of-memory reports since the last success */
    int failed;
    double last_used_s, load_ms;
    uint64_t loads, unloads, evictions, not_returned;
} instance;

typedef struct model {
    vg_model_decl d;
    int owner; /* index of the model whose instance this one uses */
    uint64_t acquires;
} model;

struct vg_residency {
    vg_context *ctx;
    vg_residency_opts o;
    char calib_path[VG_PATH_MAX];
    pthread_mutex_t mu;
    model models[VG_MAX_MODELS];
    instance inst[VG_MAX_MODELS]; /* inst[i] used when models[i].owner == i */
    int n;
    const OrtApi *api;
    OrtEnv *env;
    ort_alloc alloc;
    int alloc_registered;
    uint64_t resident_host, peak_host, resident_dev, peak_dev;
    uint64_t loads, unloads, evictions, refusals;
    uint64_t retries, smaller_batch, cpu_fallbacks, gave_up, unload_leaks;
};

/* ---- allocator ----------------------------------------------------------- */

static void *ORT_API_CALL alloc_fn(OrtAllocator *this_, size_t size)
{
    ort_alloc *a = (ort_alloc *)this_;
    uint64_t now, peak;
    unsigned char *p;

    if (atomic_load(&a->loading) && atomic_load(&a->inject) &&
        vg_context_fault_point(a->ctx)) {
        atomic_fetch_add(&a->refused, 1);
        return NULL;
    }
    if (size > SIZE_MAX - ALLOC_HEADER) {
        atomic_fetch_add(&a->refused, 1);
        return NULL;
    }
    p = aligned_alloc(ALLOC_HEADER, (size + 2 * ALLOC_HEADER - 1) /
                                        ALLOC_HEADER * ALLOC_HEADER);
    if (p == NULL) {
        atomic_fetch_add(&a->refused, 1);
        return NULL;
    }
    memcpy(p, &size, sizeof(size));
    atomic_fetch_add(&a->allocs, 1);
    now = atomic_fetch_add(&a->in_use, size) + size;
    peak = atomic_load(&a->peak);
    while (now > peak && !atomic_compare_exchange_weak(&a->peak, &peak, now))
        ;
    return p + ALLOC_HEADER;
}

static void ORT_API_CALL free_fn(OrtAllocator *this_, void *ptr)
{
    ort_alloc *a = (ort_alloc *)this_;
    unsigned char *p;
    size_t size;
    if (ptr == NULL)
        return;
    p = (unsigned char *)ptr - ALLOC_HEADER;
    memcpy(&size, p, sizeof(size));
    atomic_fetch_sub(&a->in_use, size);
    free(p);
}

static const OrtMemoryInfo *ORT_API_CALL info_fn(const OrtAllocator *this_)
{
    return ((const ort_alloc *)this_)->info;
}

static void *ORT_API_CALL reserve_fn(OrtAllocator *this_, size_t size)
{
    return alloc_fn(this_, size);
}

/* Registers the allocator with the environment; 0 when it could not be (then
 * sessions keep their own arenas and working memory is measured by RSS). */
static int register_allocator(vg_residency *r)
{
    OrtStatus *st;
    ort_alloc *a = &r->alloc;
    memset(&a->base, 0, sizeof(a->base));
    a->base.version = ORT_API_VERSION;
    a->base.Alloc = alloc_fn;
    a->base.Free = free_fn;
    a->base.Info = info_fn;
    a->base.Reserve = reserve_fn;
    a->ctx = r->ctx;
    atomic_store(&a->inject, 1);
    st = r->api->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault,
                                     &a->info);
    if (st == NULL)
        st = r->api->RegisterAllocator(r->env, &a->base);
    if (st != NULL) {
        vg_log(r->ctx, VG_LOG_DEBUG,
               "residency: ONNX Runtime allocator not registered (%s); "
               "working memory is measured by RSS",
               r->api->GetErrorMessage(st));
        r->api->ReleaseStatus(st);
        return 0;
    }
    return 1;
}

/* ---- helpers --------------------------------------------------------------
 */

static double now_s(vg_residency *r)
{
    if (r->o.now != NULL)
        return r->o.now(r->o.now_user);
    return (double)vg_clock_ns() / 1e9;
}

static int find(vg_residency *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->models[i].d.name, name))
            return i;
    return -1;
}

static int on_gpu(const vg_model_decl *d)
{
    for (int i = 0; i < d->session.n_providers; i++)
        if (!strcmp(d->session.providers[i], "cuda"))
            return 1;
    return 0;
}

static uint64_t allowance(uint64_t budget, double margin, uint64_t reserved)
{
    uint64_t keep, usable;
    if (budget == 0)
        return UINT64_MAX;
    keep = (uint64_t)((double)budget * margin);
    usable = budget - keep;
    return usable > reserved ? usable - reserved : 0;
}

static uint64_t host_allowance(const vg_residency *r)
{
    return allowance(r->o.budget.host_bytes, r->o.budget.margin,
                     r->o.host_reserved);
}

static uint64_t dev_allowance(const vg_residency *r)
{
    return allowance(r->o.budget.device_bytes, r->o.budget.margin,
                     r->o.device_reserved);
}

static void publish(vg_residency *r, int owner)
{
    instance *in = &r->inst[owner];
    if (r->o.telemetry == NULL)
        return;
    for (int i = 0; i < r->n; i++)
        if (r->models[i].owner == owner)
            vg_telemetry_set_model(r->o.telemetry, r->models[i].d.name,
                                   in->session  ? "resident"
                                   : in->failed ? "failed"
                                                : "unloaded",
                                   in->session ? in->host_bytes : 0,
                                   in->session ? in->device_bytes : 0);
}

static void trim(void)
{
    malloc_trim(0);
}

/* Destroys the instance's session and checks the memory came back. */
static void unload(vg_residency *r, int owner, const char *why)
{
    instance *in = &r->inst[owner];
    uint64_t before, after, returned;
    char b1[32], b2[32];

    if (in->session == NULL)
        return;
    trim();
    before = vg_rss_bytes();
    vg_session_destroy(&in->session);
    trim();
    after = vg_rss_bytes();
    returned = before > after ? before - after : 0;
    r->resident_host -= in->host_bytes;
    r->resident_dev -= in->device_bytes;
    in->unloads++;
    r->unloads++;
    /* The weights should come back; half of them (and 1 MiB of slack) is
     * the threshold below which vigil says they did not. */
    if (in->weights_bytes > (1u << 20) &&
        returned + (1u << 20) < in->weights_bytes / 2) {
        in->not_returned += in->weights_bytes - returned;
        r->unload_leaks++;
        vg_log(r->ctx, VG_LOG_WARN,
               "model %s: unloaded (%s), but only %s of its %s came back to "
               "the system",
               r->models[owner].d.name, why,
               vg_format_bytes(returned, b1, sizeof(b1)),
               vg_format_bytes(in->weights_bytes, b2, sizeof(b2)));
    } else {
        vg_log(r->ctx, VG_LOG_INFO, "model %s: unloaded (%s), %s returned",
               r->models[owner].d.name, why,
               vg_format_bytes(returned, b1, sizeof(b1)));
    }
    publish(r, owner);
}

/* Eviction score of an idle instance (higher goes first). */
static double score(vg_residency *r, int owner, double now)
{
    const instance *in = &r->inst[owner];
    double idle = now - in->last_used_s;
    if (idle < 0)
        idle = 0;
    return (double)in->host_bytes * (1.0 + idle) / (1.0 + in->load_ms / 1000.0);
}

static int evictable(vg_residency *r, int owner, int except)
{
    const instance *in = &r->inst[owner];
    return owner != except && r->models[owner].owner == owner &&
           in->session != NULL && in->users == 0 &&
           r->models[owner].d.policy != VG_POLICY_PINNED;
}

/* Evicts idle instances, best score first, until need_host/need_dev fit.
 * Returns 1 when they fit. */
static int make_room(vg_residency *r, int except, uint64_t need_host,
                     uint64_t need_dev)
{
    double now = now_s(r);
    for (;;) {
        int best = -1;
        double best_score = -1;
        int fits = r->resident_host + need_host <= host_allowance(r) &&
                   r->resident_dev + need_dev <= dev_allowance(r);
        if (fits)
            return 1;
        for (int i = 0; i < r->n; i++) {
            double s;
            if (!evictable(r, i, except))
                continue;
            s = score(r, i, now);
            if (s > best_score) {
                best_score = s;
                best = i;
            }
        }
        if (best < 0)
            return 0;
        r->inst[best].evictions++;
        r->evictions++;
        unload(r, best, "evicted to admit another model");
    }
}

/* Evicts every idle instance but except; returns how many. */
static int evict_all_idle(vg_residency *r, int except, const char *why)
{
    int n = 0;
    for (int i = 0; i < r->n; i++)
        if (evictable(r, i, except)) {
            r->inst[i].evictions++;
            r->evictions++;
            unload(r, i, why);
            n++;
        }
    return n;
}

/* Device memory in use on the first GPU (NVML or the CUDA runtime, through
 * the telemetry), for a model that asks for CUDA; 0 without a GPU. */
static uint64_t device_used(vg_residency *r, const vg_model_decl *d)
{
    vg_telemetry_stats ts;
    if (r->o.telemetry == NULL || !on_gpu(d))
        return 0;
    vg_telemetry_sample(r->o.telemetry, now_s(r));
    vg_telemetry_stats_get(r->o.telemetry, &ts);
    if (ts.cuda_valid && ts.cuda_total_bytes >= ts.cuda_free_bytes)
        return ts.cuda_total_bytes - ts.cuda_free_bytes;
    return ts.gpu_count > 0 ? ts.gpu_used_bytes[0] : 0;
}

/* Fixes the session's dynamic dimensions from the declaration. */
static int shape_input(vg_residency *r, model *m, vg_session *s, int batch)
{
    vg_tensor_info in;
    int64_t dims[VG_MAX_DIMS];
    int hd, wd;
    vg_session_input(s, &in);
    if (in.ndim != 4) {
        for (int k = 0; k < in.ndim; k++)
            if (in.dims[k] < 0)
                return vg_fail(r->ctx, VG_ENOTSUP,
                               "model %s: input %s has a dynamic dimension "
                               "vigil cannot size",
                               m->d.name, in.name);
        return 0;
    }
    /* NCHW when dimension 1 is the 3 channels, NHWC otherwise. */
    if (in.dims[1] == 3) {
        hd = 2;
        wd = 3;
    } else {
        hd = 1;
        wd = 2;
    }
    memcpy(dims, in.dims, sizeof(dims));
    if (dims[0] < 0)
        dims[0] = batch;
    if (dims[hd] < 0)
        dims[hd] = m->d.input_h;
    if (dims[wd] < 0)
        dims[wd] = m->d.input_w;
    for (int k = 0; k < 4; k++)
        if (dims[k] <= 0)
            return vg_fail(r->ctx, VG_ENOTSUP,
                           "model %s: input %s has a dynamic size; declare "
                           "input: [width, height]",
                           m->d.name, in.name);
    if (memcmp(dims, in.dims, sizeof(int64_t) * 4) == 0)
        return 0;
    return vg_session_set_input_shape(s, dims);
}

static int64_t input_elems(const vg_session *s)
{
    vg_tensor_info in;
    int64_t n = 1;
    vg_session_input(s, &in);
    for (int k = 0; k < in.ndim; k++)
        n *= in.dims[k] > 0 ? in.dims[k] : 1;
    return n;
}

/* One load attempt of instance owner with decl d at batch: creates the
 * session, shapes and warms it up, measures. Returns 0 or an error. */
static int attempt(vg_residency *r, int owner, const vg_model_decl *d,
                   int batch, vg_calibration *meas)
{
    model *m = &r->models[owner];
    instance *in = &r->inst[owner];
    vg_session_opts so = d->session;
    vg_session *s = NULL;
    uint64_t rss0, rss1, rss2, in0, refused0, dev0, dev1;
    int64_t t0, t1;
    float *zeros = NULL;
    const float *outs[VG_MAX_OUTPUTS];
    int rc;

    so.env_allocator = r->alloc_registered;
    dev0 = device_used(r, d);
    trim();
    rss0 = vg_rss_bytes();
    in0 = atomic_load(&r->alloc.in_use);
    atomic_store(&r->alloc.peak, in0);
    refused0 = atomic_load(&r->alloc.refused);
    t0 = vg_clock_ns();
    atomic_store(&r->alloc.loading, 1);
    rc = vg_session_create(r->ctx, d->path, &so, &s);
    atomic_store(&r->alloc.loading, 0);
    if (rc < 0) {
        if (atomic_load(&r->alloc.refused) != refused0)
            rc = vg_fail(r->ctx, VG_ENOMEM,
                         "model %s: out of memory while loading %s", d->name,
                         d->path);
        return rc;
    }
    trim(); /* graph optimisation's temporaries are not the model's */
    rss1 = vg_rss_bytes();
    rc = shape_input(r, m, s, batch);
    if (rc == 0) {
        zeros = vg_calloc(r->ctx, (size_t)input_elems(s), sizeof(float));
        if (zeros == NULL)
            rc = vg_fail(r->ctx, VG_ENOMEM,
                         "model %s: out of memory for the warm-up input",
                         d->name);
    }
    if (rc == 0) {
        rc = vg_session_run(s, zeros, outs);
        if (rc < 0)
            rc = vg_fail(r->ctx, rc, "model %s: warm-up inference: %s", d->name,
                         vg_session_errmsg(s));
    }
    vg_free(r->ctx, zeros);
    t1 = vg_clock_ns();
    if (rc < 0) {
        vg_session_destroy(&s);
        return rc;
    }
    rss2 = vg_rss_bytes();
    memset(meas, 0, sizeof(*meas));
    meas->weights_bytes = rss1 > rss0 ? rss1 - rss0 : 0;
    if (r->alloc_registered)
        meas->work_bytes = atomic_load(&r->alloc.peak) - in0;
    else
        meas->work_bytes = rss2 > rss1 ? rss2 - rss1 : 0;
    dev1 = device_used(r, d);
    meas->device_bytes = dev1 > dev0 ? dev1 - dev0 : 0;
    meas->load_ms = (double)(t1 - t0) / 1e6;
    meas->batch = batch;
    snprintf(meas->provider, sizeof(meas->provider), "%s",
             vg_session_provider(s));
    in->session = s;
    return 0;
}

/* Loads instance owner: admission, eviction, ladder, measurement. */
static int load(vg_residency *r, int owner)
{
    model *m = &r->models[owner];
    instance *in = &r->inst[owner];
    vg_model_decl d;
    vg_calibration cal, meas;
    char key[VG_PATH_MAX + 128];
    char b1[32], b2[32], b3[32], b4[32];
    struct stat sb;
    int have_cal, rc, released = 0;
    uint64_t need_host, need_dev;

    vg_model_decl_copy(&d, &m->d);
    if (in->cpu_fallback) {
        const char *cpu[] = {"cpu"};
        vg_model_decl_set_providers(&d, cpu, 1);
    }
    if (in->batch <= 0)
        in->batch = d.batch > 0 ? d.batch : 1;
    d.batch = in->batch;
    if (stat(d.path, &sb) != 0)
        return vg_fail(r->ctx, VG_ENOENT, "model %s: %s: no such file", d.name,
                       d.path);
    have_cal = vg_calibration_key(&d, key, sizeof(key)) == 0 &&
               vg_calibration_lookup(r->ctx, r->calib_path, key, &cal) == 0;
    if (!have_cal) /* the planner's estimate (vg_plan) */
        vg_sizing_model_estimate(&d, d.path, (uint64_t)sb.st_size, &cal);
    need_host = cal.weights_bytes + cal.work_bytes;
    need_dev = on_gpu(&d) ? cal.device_bytes : 0;

    /* Admission, before anything is allocated. */
    if (!make_room(r, owner, need_host, need_dev)) {
        char held[256] = "";
        size_t used = 0;
        for (int i = 0; i < r->n; i++) {
            int k;
            if (r->models[i].owner != i || r->inst[i].session == NULL)
                continue;
            k = snprintf(held + used, sizeof(held) - used, "%s%s %s (%s)",
                         used ? ", " : "", r->models[i].d.name,
                         vg_format_bytes(r->inst[i].host_bytes, b1, sizeof(b1)),
                         r->models[i].d.policy == VG_POLICY_PINNED ? "pinned"
                                                                   : "in use");
            if (k < 0 || (size_t)k >= sizeof(held) - used)
                break;
            used += (size_t)k;
        }
        r->refusals++;
        in->failed = 1;
        publish(r, owner);
        return vg_fail(
            r->ctx, VG_ENOMEM,
            "model %s needs %s (%s) but the host budget of %s leaves %s "
            "to models (%s reserved for the rest of the process)%s%s",
            d.name, vg_format_bytes(need_host, b1, sizeof(b1)),
            have_cal ? "calibrated" : "estimated",
            vg_format_bytes(r->o.budget.host_bytes, b3, sizeof(b3)),
            vg_format_bytes(host_allowance(r) > r->resident_host
                                ? host_allowance(r) - r->resident_host
                                : 0,
                            b2, sizeof(b2)),
            vg_format_bytes(r->o.host_reserved, b4, sizeof(b4)),
            used ? "; held by " : "", used ? held : "");
    }

    /* The ladder. */
    for (;;) {
        rc = attempt(r, owner, &d, in->batch, &meas);
        if (rc == 0)
            break;
        if (rc != VG_ENOMEM)
            break;
        if (!released) {
            released = 1;
            r->retries++;
            vg_log(r->ctx, VG_LOG_WARN,
                   "model %s: out of memory while loading; releasing idle "
                   "models and retrying",
                   d.name);
            evict_all_idle(r, owner, "released after an out-of-memory");
            trim();
            continue;
        }
        if (in->batch > 1) {
            in->batch /= 2;
            d.batch = in->batch;
            r->smaller_batch++;
            vg_log(r->ctx, VG_LOG_WARN,
                   "model %s: out of memory; retrying at batch %d", d.name,
                   in->batch);
            continue;
        }
        if (on_gpu(&d)) {
            const char *cpu[] = {"cpu"};
            vg_model_decl_set_providers(&d, cpu, 1);
            in->cpu_fallback = 1;
            r->cpu_fallbacks++;
            vg_log(r->ctx, VG_LOG_WARN,
                   "model %s: out of device memory; falling back to the CPU "
                   "execution provider",
                   d.name);
            continue;
        }
        r->gave_up++;
        rc = vg_fail(r->ctx, VG_ENOMEM,
                     "model %s: out of memory while loading %s, after "
                     "releasing idle models%s",
                     d.name, d.path,
                     in->cpu_fallback ? " and falling back to the CPU" : "");
        break;
    }
    if (rc < 0) {
        in->failed = 1;
        publish(r, owner);
        return rc;
    }

    in->failed = 0;
    in->load_ms = meas.load_ms;
    in->loads++;
    r->loads++;
    if (!have_cal || r->o.recalibrate) {
        /* The dry run's figures are the model's footprint from now on. */
        if (!r->o.read_only_calibration &&
            vg_calibration_key(&d, key, sizeof(key)) == 0 &&
            vg_calibration_store(r->ctx, r->calib_path, key, &meas) < 0)
            vg_log(r->ctx, VG_LOG_WARN, "%s", vg_context_errmsg(r->ctx));
        cal = meas;
    }
    in->calibrated = 1;
    in->weights_bytes = cal.weights_bytes;
    in->host_bytes = cal.weights_bytes + cal.work_bytes;
    in->device_bytes = on_gpu(&d) ? cal.device_bytes : 0;
    r->resident_host += in->host_bytes;
    r->resident_dev += in->device_bytes;
    vg_log(r->ctx, VG_LOG_INFO,
           "model %s: loaded in %.0f ms on %s, %s weights + %s working "
           "memory (%s)",
           d.name, meas.load_ms, vg_session_provider(in->session),
           vg_format_bytes(cal.weights_bytes, b1, sizeof(b1)),
           vg_format_bytes(cal.work_bytes, b2, sizeof(b2)),
           have_cal && !r->o.recalibrate ? "calibration file" : "measured");
    /* A measurement larger than the admission's estimate may overrun the
     * budget: make room now, or give the model back. */
    if (!make_room(r, owner, 0, 0)) {
        r->refusals++;
        unload(r, owner, "over the budget once measured");
        in->failed = 1;
        publish(r, owner);
        return vg_fail(r->ctx, VG_ENOMEM,
                       "model %s measured %s, more than the host budget "
                       "leaves to models (%s)",
                       d.name, vg_format_bytes(in->host_bytes, b1, sizeof(b1)),
                       vg_format_bytes(host_allowance(r), b2, sizeof(b2)));
    }
    if (r->resident_host > r->peak_host)
        r->peak_host = r->resident_host;
    if (r->resident_dev > r->peak_dev)
        r->peak_dev = r->resident_dev;
    publish(r, owner);
    return 0;
}

/* ---- public ---------------------------------------------------------------
 */

void vg_residency_opts_default(vg_residency_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->budget.margin = 0.05;
}

static void ORT_API_CALL ort_env_log(void *param, OrtLoggingLevel severity,
                                     const char *category, const char *logid,
                                     const char *where, const char *message)
{
    (void)severity;
    (void)category;
    (void)logid;
    (void)where;
    vg_log(param, VG_LOG_DEBUG, "onnxruntime: %s", message);
}

int vg_residency_create(vg_context *ctx, const vg_residency_opts *o,
                        vg_residency **out)
{
    vg_residency *r;
    OrtStatus *st;

    if (out == NULL)
        return VG_EINVAL;
    *out = NULL;
    if (o != NULL && (o->budget.margin < 0 || o->budget.margin >= 1))
        return vg_fail(ctx, VG_EINVAL, "residency: margin %g is not in [0, 1)",
                       o->budget.margin);
    r = vg_calloc(ctx, 1, sizeof(*r));
    if (r == NULL)
        return vg_fail(ctx, VG_ENOMEM, "residency: out of memory");
    r->ctx = ctx;
    if (o != NULL)
        r->o = *o;
    else
        vg_residency_opts_default(&r->o);
    vg_calibration_path(&r->o.budget, r->calib_path, sizeof(r->calib_path));
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        vg_free(ctx, r);
        return vg_fail(ctx, VG_ENOMEM, "residency: mutex");
    }
    r->api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    /* ONNX Runtime prints nothing itself. The environment is shared by the
     * process and may outlive this context, so its logger holds none (its
     * lines reach vigil's log at debug level, i.e. not shown); sessions log
     * through their own context (vg_session). */
    st = r->api->CreateEnvWithCustomLogger(
        ort_env_log, NULL, ORT_LOGGING_LEVEL_ERROR, "vigil", &r->env);
    if (st != NULL) {
        vg_fail(ctx, VG_EINFER, "residency: ONNX Runtime environment (%s)",
                r->api->GetErrorMessage(st));
        r->api->ReleaseStatus(st);
        pthread_mutex_destroy(&r->mu);
        vg_free(ctx, r);
        return VG_EINFER;
    }
    r->alloc_registered = r->o.ort_allocator ? register_allocator(r) : 0;
    *out = r;
    return 0;
}

void vg_residency_destroy(vg_residency **rp)
{
    vg_residency *r;
    if (rp == NULL || *rp == NULL)
        return;
    r = *rp;
    for (int i = 0; i < r->n; i++)
        if (r->models[i].owner == i)
            unload(r, i, "shutdown");
    if (r->o.telemetry != NULL)
        for (int i = 0; i < r->n; i++)
            vg_telemetry_remove_model(r->o.telemetry, r->models[i].d.name);
    if (r->alloc_registered) {
        OrtStatus *st = r->api->UnregisterAllocator(r->env, r->alloc.info);
        if (st != NULL)
            r->api->ReleaseStatus(st);
    }
    if (r->alloc.info != NULL)
        r->api->ReleaseMemoryInfo(r->alloc.info);
    r->api->ReleaseEnv(r->env);
    pthread_mutex_destroy(&r->mu);
    vg_free(r->ctx, r);
    *rp = NULL;
}

static int same_instance(const vg_model_decl *a, const vg_model_decl *b)
{
    if (strcmp(a->path, b->path) || a->batch != b->batch ||
        a->input_w != b->input_w || a->input_h != b->input_h ||
        a->session.intra_threads != b->session.intra_threads ||
        a->session.inter_threads != b->session.inter_threads ||
        a->session.graph_opt != b->session.graph_opt ||
        a->session.mem_arena != b->session.mem_arena ||
        a->session.spin != b->session.spin ||
        a->session.n_providers != b->session.n_providers)
        return 0;
    for (int i = 0; i < a->session.n_providers; i++)
        if (strcmp(a->session.providers[i], b->session.providers[i]))
            return 0;
    return 1;
}

int vg_residency_add(vg_residency *r, const vg_model_decl *d)
{
    model *m;
    int rc = 0;
    if (r == NULL || d == NULL || d->name[0] == '\0' || d->path[0] == '\0' ||
        d->batch < 0 || d->policy < VG_POLICY_KEEP_ALIVE ||
        d->policy > VG_POLICY_UNLOAD_AFTER_STAGE)
        return vg_fail(r ? r->ctx : NULL, VG_EINVAL,
                       "residency: a model needs a name, a path and a policy");
    pthread_mutex_lock(&r->mu);
    if (find(r, d->name) >= 0) {
        rc = vg_fail(r->ctx, VG_EEXIST, "model %s is declared twice", d->name);
    } else if (r->n == VG_MAX_MODELS) {
        rc = vg_fail(r->ctx, VG_ERANGE, "more than %d models", VG_MAX_MODELS);
    } else {
        m = &r->models[r->n];
        memset(m, 0, sizeof(*m));
        vg_model_decl_copy(&m->d, d);
        m->owner = r->n;
        for (int i = 0; i < r->n; i++)
            if (r->models[i].owner == i && same_instance(&r->models[i].d, d)) {
                m->owner = i;
                /* The shared instance keeps the strongest policy. */
                if (d->policy == VG_POLICY_PINNED)
                    r->models[i].d.policy = VG_POLICY_PINNED;
                break;
            }
        memset(&r->inst[r->n], 0, sizeof(r->inst[r->n]));
        r->n++;
        publish(r, m->owner);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int vg_residency_acquire(vg_residency *r, const char *name, vg_session **out)
{
    int i, owner, rc = 0;
    if (r == NULL || name == NULL || out == NULL)
        return VG_EINVAL;
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    i = find(r, name);
    if (i < 0) {
        rc = vg_fail(r->ctx, VG_ENOENT, "model %s is not declared", name);
        goto out;
    }
    owner = r->models[i].owner;
    if (r->inst[owner].session == NULL)
        rc = load(r, owner);
    if (rc == 0) {
        r->inst[owner].users++;
        r->models[i].acquires++;
        *out = r->inst[owner].session;
    }
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void vg_residency_release(vg_residency *r, const char *name)
{
    int i, owner;
    instance *in;
    if (r == NULL || name == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    i = find(r, name);
    if (i >= 0) {
        owner = r->models[i].owner;
        in = &r->inst[owner];
        if (in->users > 0)
            in->users--;
        in->last_used_s = now_s(r);
        if (in->users == 0 && in->session != NULL &&
            r->models[owner].d.policy == VG_POLICY_UNLOAD_AFTER_STAGE)
            unload(r, owner, "its stage is over");
    }
    pthread_mutex_unlock(&r->mu);
}

int vg_residency_tick(vg_residency *r)
{
    int n = 0;
    double now;
    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->mu);
    now = now_s(r);
    for (int i = 0; i < r->n; i++) {
        instance *in = &r->inst[i];
        if (r->models[i].owner != i || in->session == NULL || in->users > 0 ||
            r->models[i].d.policy != VG_POLICY_KEEP_ALIVE)
            continue;
        if (now - in->last_used_s > r->models[i].d.keep_alive_s) {
            unload(r, i, "keep-alive expired");
            n++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

int vg_residency_unload(vg_residency *r, const char *name)
{
    int i, rc = 0;
    if (r == NULL || name == NULL)
        return VG_EINVAL;
    pthread_mutex_lock(&r->mu);
    i = find(r, name);
    if (i < 0)
        rc = vg_fail(r->ctx, VG_ENOENT, "model %s is not declared", name);
    else if (r->inst[r->models[i].owner].users > 0)
        rc = vg_fail(r->ctx, VG_EBUSY, "model %s is in use", name);
    else
        unload(r, r->models[i].owner, "asked to");
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int vg_residency_recover(vg_residency *r, const char *name, vg_session **s)
{
    int i, owner, rc = VG_ENOMEM;
    instance *in;
    if (r == NULL || name == NULL || s == NULL)
        return VG_EINVAL;
    pthread_mutex_lock(&r->mu);
    i = find(r, name);
    if (i < 0) {
        rc = vg_fail(r->ctx, VG_ENOENT, "model %s is not declared", name);
        goto out;
    }
    owner = r->models[i].owner;
    in = &r->inst[owner];
    in->streak++;
    if (in->streak == 1) {
        int n = evict_all_idle(r, owner, "released after an out-of-memory");
        trim();
        r->retries++;
        vg_log(r->ctx, VG_LOG_WARN,
               "model %s: out of memory during inference; released %d idle "
               "model(s), retrying",
               name, n);
        rc = 0;
    } else if (!in->cpu_fallback && on_gpu(&r->models[owner].d) &&
               in->users == 1) {
        int users = in->users;
        in->cpu_fallback = 1;
        r->cpu_fallbacks++;
        vg_log(r->ctx, VG_LOG_WARN,
               "model %s: out of device memory during inference; moving it "
               "to the CPU execution provider",
               name);
        in->users = 0;
        unload(r, owner, "moving to the CPU");
        rc = load(r, owner);
        if (rc == 0) {
            in->users = users;
            *s = in->session;
        }
    } else {
        r->gave_up++;
        rc = vg_fail(r->ctx, VG_ENOMEM,
                     "model %s: out of memory during inference after "
                     "releasing idle models%s; stopping this stream",
                     name, in->cpu_fallback ? " and moving to the CPU" : "");
    }
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void vg_residency_recovered(vg_residency *r, const char *name)
{
    int i;
    if (r == NULL || name == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    i = find(r, name);
    if (i >= 0)
        r->inst[r->models[i].owner].streak = 0;
    pthread_mutex_unlock(&r->mu);
}

int vg_residency_batch(vg_residency *r, const char *name)
{
    int i, b = 0;
    if (r == NULL || name == NULL)
        return VG_EINVAL;
    pthread_mutex_lock(&r->mu);
    i = find(r, name);
    if (i >= 0) {
        instance *in = &r->inst[r->models[i].owner];
        b = in->batch > 0 ? in->batch : r->models[i].d.batch;
    } else {
        b = VG_ENOENT;
    }
    pthread_mutex_unlock(&r->mu);
    return b;
}

int vg_residency_model_count(vg_residency *r)
{
    int n;
    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->mu);
    n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int vg_residency_model_stats(vg_residency *r, int i, vg_model_stats *out)
{
    const model *m;
    const instance *in;
    if (r == NULL || out == NULL)
        return VG_EINVAL;
    pthread_mutex_lock(&r->mu);
    if (i < 0 || i >= r->n) {
        pthread_mutex_unlock(&r->mu);
        return VG_ERANGE;
    }
    m = &r->models[i];
    in = &r->inst[m->owner];
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", m->d.name);
    out->state = in->session  ? VG_MODEL_RESIDENT
                 : in->failed ? VG_MODEL_FAILED
                              : VG_MODEL_UNLOADED;
    out->policy = r->models[m->owner].d.policy;
    out->kind = m->d.kind;
    out->shared_with = m->owner == i ? -1 : m->owner;
    out->users = in->users;
    out->host_bytes = in->host_bytes;
    out->device_bytes = in->device_bytes;
    out->calibrated = in->calibrated;
    out->batch = in->batch > 0 ? in->batch : m->d.batch;
    out->on_cpu_fallback = in->cpu_fallback;
    out->loads = in->loads;
    out->unloads = in->unloads;
    out->evictions = in->evictions;
    out->acquires = m->acquires;
    out->not_returned_bytes = in->not_returned;
    out->load_ms = in->load_ms;
    out->last_used_s = in->last_used_s;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void vg_residency_stats_get(vg_residency *r, vg_residency_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    out->n_models = r->n;
    out->resident_host_bytes = r->resident_host;
    out->peak_resident_host_bytes = r->peak_host;
    out->resident_device_bytes = r->resident_dev;
    out->peak_resident_device_bytes = r->peak_dev;
    out->allowance_host_bytes = r->o.budget.host_bytes ? host_allowance(r) : 0;
    out->loads = r->loads;
    out->unloads = r->unloads;
    out->evictions = r->evictions;
    out->refusals = r->refusals;
    out->ladder_retries = r->retries;
    out->ladder_smaller_batch = r->smaller_batch;
    out->ladder_cpu_fallback = r->cpu_fallbacks;
    out->ladder_gave_up = r->gave_up;
    out->unload_leaks = r->unload_leaks;
    out->ort_bytes_in_use = atomic_load(&r->alloc.in_use);
    out->ort_peak_bytes = atomic_load(&r->alloc.peak);
    pthread_mutex_unlock(&r->mu);
}

void vg_residency_inject_ort_faults(vg_residency *r, int on)
{
    if (r != NULL)
        atomic_store(&r->alloc.inject, on ? 1 : 0);
}
