/*
 * vg_telemetry: registry of memory sources, sampling, reports, leak guard.
 *
 * Everything is sized at create: the registry (pools, tables, models), the
 * published snapshot (one row per registry slot) and the RSS ring of the leak
 * guard. One mutex guards all of it; the metrics server formats the published
 * snapshot under that mutex. GPU libraries are opened at create and kept by
 * the telemetry until destroy.
 */
#include "vigil/telemetry.h"

#include <dlfcn.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "vigil/clock.h"

#define ID_SHIFT 16
#define KIND_POOL 1
#define KIND_TABLE 2
#define KIND_STREAM 3
#define STATE_MAX VG_TELEMETRY_STATE_MAX

typedef struct pool_src {
    int used;
    vg_pool *pool;
    char stream[VG_TELEMETRY_NAME_MAX]; /* owner's label, "" when none */
} pool_src;

typedef struct table_src {
    int used;
    char name[VG_TELEMETRY_NAME_MAX];
    char stream[VG_TELEMETRY_NAME_MAX];
    vg_telemetry_table_fn fn;
    void *user;
} table_src;

typedef struct stream_src {
    int used;
    char name[VG_TELEMETRY_NAME_MAX];
    vg_telemetry_stream_fn fn;
    void *user;
} stream_src;

typedef struct stream_row {
    char name[VG_TELEMETRY_NAME_MAX];
    vg_telemetry_stream s;
} stream_row;

typedef struct model_row {
    int used;
    char name[VG_TELEMETRY_NAME_MAX];
    char state[STATE_MAX];
    uint64_t host_bytes, device_bytes;
} model_row;

typedef struct pool_row {
    char name[VG_TELEMETRY_NAME_MAX];
    char stream[VG_TELEMETRY_NAME_MAX];
    vg_pool_stats s;
} pool_row;

typedef struct table_row {
    char name[VG_TELEMETRY_NAME_MAX];
    char stream[VG_TELEMETRY_NAME_MAX];
    size_t size, capacity;
} table_row;

/* NVML and CUDA runtime entry points, declared here (loaded at run time). */
typedef struct nvml_memory {
    unsigned long long total, free, used;
} nvml_memory;
typedef int (*nvml_void_fn)(void);
typedef int (*nvml_count_fn)(unsigned *);
typedef int (*nvml_handle_fn)(unsigned, void **);
typedef int (*nvml_mem_fn)(void *, nvml_memory *);
typedef int (*cuda_mem_info_fn)(size_t *, size_t *);

struct vg_telemetry {
    vg_context *ctx;
    vg_telemetry_opts o;
    pthread_mutex_t lock;
    /* registry */
    pool_src *pools;
    table_src *tables;
    model_row *models;
    stream_src *streams;
    /* published snapshot */
    pool_row *pool_rows;
    table_row *table_rows;
    model_row *model_rows;
    stream_row *stream_rows;
    vg_telemetry_stats st;
    /* leak guard */
    double ring_t[VG_TELEMETRY_LEAK_SAMPLES];
    uint64_t ring_rss[VG_TELEMETRY_LEAK_SAMPLES];
    int ring_head, ring_n;
    int have_leak_sample;
    double last_leak_sample;
    int have_warned;
    double last_warn;
    /* periodic report */
    int have_period;
    double period_start;
    /* GPU */
    void *nvml;
    nvml_void_fn nvml_shutdown;
    nvml_mem_fn nvml_mem;
    void *nvml_dev[VG_TELEMETRY_MAX_GPUS];
    int n_nvml;
    void *cudart;
    cuda_mem_info_fn cuda_mem;
};

void vg_telemetry_opts_default(vg_telemetry_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->interval_s = 10;
    o->leak_slope_bytes_per_s = 1024.0 * 1024.0;
    o->window_s = 60;
    o->max_pools = 256; /* 64 cameras x (tensors, pictures) and more */
    o->max_tables = 256;
    o->max_models = 16;
    o->max_streams = 64;
    o->gpu = 1;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void open_nvml(vg_telemetry *t)
{
    nvml_void_fn init;
    nvml_count_fn count;
    nvml_handle_fn handle;
    unsigned n = 0;

    t->nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!t->nvml)
        return;
    init = (nvml_void_fn)dlsym(t->nvml, "nvmlInit_v2");
    t->nvml_shutdown = (nvml_void_fn)dlsym(t->nvml, "nvmlShutdown");
    count = (nvml_count_fn)dlsym(t->nvml, "nvmlDeviceGetCount_v2");
    handle = (nvml_handle_fn)dlsym(t->nvml, "nvmlDeviceGetHandleByIndex_v2");
    t->nvml_mem = (nvml_mem_fn)dlsym(t->nvml, "nvmlDeviceGetMemoryInfo");
    if (!init || !t->nvml_shutdown || !count || !handle || !t->nvml_mem ||
        init() != 0) {
        dlclose(t->nvml);
        t->nvml = NULL;
        return;
    }
    if (count(&n) == 0)
        for (unsigned i = 0; i < n && t->n_nvml < VG_TELEMETRY_MAX_GPUS; i++)
            if (handle(i, &t->nvml_dev[t->n_nvml]) == 0)
                t->n_nvml++;
    vg_log(t->ctx, VG_LOG_DEBUG, "telemetry: NVML reports %d GPU(s)",
           t->n_nvml);
}

/* The CUDA runtime is only used when something else (ONNX Runtime's CUDA
 * provider) already loaded it: querying it would otherwise create a CUDA
 * context, costing hundreds of MB, in a process that does not use the GPU. */
static void open_cudart(vg_telemetry *t)
{
    static const char *const names[] = {"libcudart.so", "libcudart.so.13",
                                        "libcudart.so.12", "libcudart.so.11.0"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !t->cudart; i++)
        t->cudart = dlopen(names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!t->cudart)
        return;
    t->cuda_mem = (cuda_mem_info_fn)dlsym(t->cudart, "cudaMemGetInfo");
    if (!t->cuda_mem) {
        dlclose(t->cudart);
        t->cudart = NULL;
    }
}

int vg_telemetry_create(vg_context *ctx, const vg_telemetry_opts *o,
                        vg_telemetry **out)
{
    vg_telemetry_opts def;
    vg_telemetry *t = NULL;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "telemetry: no output handle");
    *out = NULL;
    if (!o) {
        vg_telemetry_opts_default(&def);
        o = &def;
    }
    if (!(o->window_s > 0) || o->leak_slope_bytes_per_s < 0 ||
        o->max_pools < 0 || o->max_tables < 0 || o->max_models < 0 ||
        o->max_pools >= (1 << ID_SHIFT) || o->max_tables >= (1 << ID_SHIFT) ||
        o->max_models > 4096 || o->max_streams < 0 ||
        o->max_streams >= (1 << ID_SHIFT))
        return vg_fail(ctx, VG_EINVAL,
                       "telemetry: window_s must be > 0, threshold >= 0 and "
                       "capacities in range");
    t = vg_calloc(ctx, 1, sizeof(*t));
    if (!t)
        goto nomem;
    t->ctx = ctx;
    t->o = *o;
    /* calloc(0) may return NULL: ask for at least one row of each */
    t->pools = vg_calloc(ctx, (size_t)o->max_pools + 1, sizeof(*t->pools));
    t->tables = vg_calloc(ctx, (size_t)o->max_tables + 1, sizeof(*t->tables));
    t->models = vg_calloc(ctx, (size_t)o->max_models + 1, sizeof(*t->models));
    t->streams =
        vg_calloc(ctx, (size_t)o->max_streams + 1, sizeof(*t->streams));
    if (!t->pools || !t->tables || !t->models || !t->streams)
        goto nomem;
    t->pool_rows =
        vg_calloc(ctx, (size_t)o->max_pools + 1, sizeof(*t->pool_rows));
    t->table_rows =
        vg_calloc(ctx, (size_t)o->max_tables + 1, sizeof(*t->table_rows));
    t->model_rows =
        vg_calloc(ctx, (size_t)o->max_models + 1, sizeof(*t->model_rows));
    t->stream_rows =
        vg_calloc(ctx, (size_t)o->max_streams + 1, sizeof(*t->stream_rows));
    if (!t->pool_rows || !t->table_rows || !t->model_rows || !t->stream_rows)
        goto nomem;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        vg_fail(ctx, VG_ENOMEM, "telemetry: cannot create a mutex");
        goto fail;
    }
    if (o->gpu) {
        open_nvml(t);
        open_cudart(t);
    }
    *out = t;
    return 0;

nomem:
    vg_fail(ctx, VG_ENOMEM, "telemetry: out of memory creating the registry");
fail:
    if (t) {
        vg_free(ctx, t->stream_rows);
        vg_free(ctx, t->model_rows);
        vg_free(ctx, t->table_rows);
        vg_free(ctx, t->pool_rows);
        vg_free(ctx, t->streams);
        vg_free(ctx, t->models);
        vg_free(ctx, t->tables);
        vg_free(ctx, t->pools);
        vg_free(ctx, t);
    }
    return VG_ENOMEM;
}

void vg_telemetry_destroy(vg_telemetry **tp)
{
    vg_telemetry *t;

    if (!tp || !*tp)
        return;
    t = *tp;
    if (t->nvml) {
        t->nvml_shutdown();
        dlclose(t->nvml);
    }
    if (t->cudart)
        dlclose(t->cudart);
    pthread_mutex_destroy(&t->lock);
    vg_free(t->ctx, t->stream_rows);
    vg_free(t->ctx, t->model_rows);
    vg_free(t->ctx, t->table_rows);
    vg_free(t->ctx, t->pool_rows);
    vg_free(t->ctx, t->streams);
    vg_free(t->ctx, t->models);
    vg_free(t->ctx, t->tables);
    vg_free(t->ctx, t->pools);
    vg_free(t->ctx, t);
    *tp = NULL;
}

/* ---- registry ----------------------------------------------------------- */

/* Claims the first free slot of an array of n registry entries of `size`
 * bytes, each starting with `int used` (pool_src, table_src, stream_src).
 * Called with the lock held. Returns its index, or -1 when every slot is
 * taken. */
static int claim_slot(void *slots, size_t size, int n)
{
    for (int i = 0; i < n; i++) {
        int *used = (int *)(void *)((char *)slots + (size_t)i * size);
        if (!*used) {
            *used = 1;
            return i;
        }
    }
    return -1;
}

/* The one-line refusal when a registry is full. */
static int no_room(vg_telemetry *t, const char *what, const char *name, int n)
{
    return vg_fail(t->ctx, VG_ERANGE, "telemetry: no room for %s '%s' (%d %ss)",
                   what, name, n, what);
}

int vg_telemetry_add_pool(vg_telemetry *t, vg_pool *pool, int *id)
{
    int i;

    if (id)
        *id = -1;
    if (!t || !pool)
        return VG_EINVAL;
    pthread_mutex_lock(&t->lock);
    i = claim_slot(t->pools, sizeof(t->pools[0]), t->o.max_pools);
    if (i >= 0) {
        t->pools[i].pool = pool;
        t->pools[i].stream[0] = '\0';
    }
    pthread_mutex_unlock(&t->lock);
    if (i < 0)
        return no_room(t, "pool", vg_pool_name(pool), t->o.max_pools);
    if (id)
        *id = (KIND_POOL << ID_SHIFT) | i;
    return 0;
}

int vg_telemetry_set_owner(vg_telemetry *t, int id, const char *stream)
{
    int kind = id >> ID_SHIFT, i = id & ((1 << ID_SHIFT) - 1), rc = VG_EINVAL;
    if (!t || id < 0 || !stream)
        return VG_EINVAL;
    pthread_mutex_lock(&t->lock);
    if (kind == KIND_POOL && i < t->o.max_pools && t->pools[i].used) {
        copy_name(t->pools[i].stream, sizeof(t->pools[i].stream), stream);
        rc = 0;
    } else if (kind == KIND_TABLE && i < t->o.max_tables && t->tables[i].used) {
        copy_name(t->tables[i].stream, sizeof(t->tables[i].stream), stream);
        rc = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int vg_telemetry_add_table(vg_telemetry *t, const char *name,
                           vg_telemetry_table_fn fn, void *user, int *id)
{
    int i;

    if (id)
        *id = -1;
    if (!t || !name || !fn)
        return VG_EINVAL;
    pthread_mutex_lock(&t->lock);
    i = claim_slot(t->tables, sizeof(t->tables[0]), t->o.max_tables);
    if (i >= 0) {
        table_src *s = &t->tables[i];
        copy_name(s->name, sizeof(s->name), name);
        s->stream[0] = '\0';
        s->fn = fn;
        s->user = user;
    }
    pthread_mutex_unlock(&t->lock);
    if (i < 0)
        return no_room(t, "table", name, t->o.max_tables);
    if (id)
        *id = (KIND_TABLE << ID_SHIFT) | i;
    return 0;
}

int vg_telemetry_add_stream(vg_telemetry *t, const char *name,
                            vg_telemetry_stream_fn fn, void *user, int *id)
{
    int i;

    if (id)
        *id = -1;
    if (!t || !name || !fn)
        return VG_EINVAL;
    pthread_mutex_lock(&t->lock);
    i = claim_slot(t->streams, sizeof(t->streams[0]), t->o.max_streams);
    if (i >= 0) {
        stream_src *s = &t->streams[i];
        copy_name(s->name, sizeof(s->name), name);
        s->fn = fn;
        s->user = user;
    }
    pthread_mutex_unlock(&t->lock);
    if (i < 0)
        return no_room(t, "stream", name, t->o.max_streams);
    if (id)
        *id = (KIND_STREAM << ID_SHIFT) | i;
    return 0;
}

int vg_telemetry_stream_get(vg_telemetry *t, const char *name,
                            vg_telemetry_stream *out)
{
    char key[VG_TELEMETRY_NAME_MAX];
    int rc = VG_ENOENT;

    if (!t || !name || !out)
        return VG_EINVAL;
    copy_name(key, sizeof(key), name);
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->st.n_streams; i++)
        if (!strcmp(t->stream_rows[i].name, key)) {
            *out = t->stream_rows[i].s;
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void vg_telemetry_remove(vg_telemetry *t, int id)
{
    int kind, slot;

    if (!t || id < 0)
        return;
    kind = id >> ID_SHIFT;
    slot = id & ((1 << ID_SHIFT) - 1);
    pthread_mutex_lock(&t->lock);
    if (kind == KIND_POOL && slot < t->o.max_pools)
        memset(&t->pools[slot], 0, sizeof(t->pools[slot]));
    else if (kind == KIND_TABLE && slot < t->o.max_tables)
        memset(&t->tables[slot], 0, sizeof(t->tables[slot]));
    else if (kind == KIND_STREAM && slot < t->o.max_streams)
        memset(&t->streams[slot], 0, sizeof(t->streams[slot]));
    pthread_mutex_unlock(&t->lock);
}

int vg_telemetry_set_model(vg_telemetry *t, const char *name, const char *state,
                           uint64_t host_bytes, uint64_t device_bytes)
{
    model_row *slot = NULL;
    char key[VG_TELEMETRY_NAME_MAX];

    if (!t || !name || !*name)
        return VG_EINVAL;
    copy_name(key, sizeof(key), name);
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->o.max_models; i++) {
        model_row *m = &t->models[i];
        if (m->used && !strcmp(m->name, key)) {
            slot = m;
            break;
        }
        if (!m->used && !slot)
            slot = m;
    }
    if (slot) {
        slot->used = 1;
        copy_name(slot->name, sizeof(slot->name), key);
        copy_name(slot->state, sizeof(slot->state), state);
        slot->host_bytes = host_bytes;
        slot->device_bytes = device_bytes;
    }
    pthread_mutex_unlock(&t->lock);
    if (!slot)
        return vg_fail(t->ctx, VG_ERANGE,
                       "telemetry: no room for model '%s' (%d models)", name,
                       t->o.max_models);
    return 0;
}

void vg_telemetry_remove_model(vg_telemetry *t, const char *name)
{
    char key[VG_TELEMETRY_NAME_MAX];

    if (!t || !name)
        return;
    copy_name(key, sizeof(key), name);
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->o.max_models; i++)
        if (t->models[i].used && !strcmp(t->models[i].name, key))
            memset(&t->models[i], 0, sizeof(t->models[i]));
    pthread_mutex_unlock(&t->lock);
}

/* ---- leak guard --------------------------------------------------------- */

/* Least-squares slope of RSS over time across the ring, in bytes/s. Times
 * and values are taken relative to the oldest sample for precision. */
static double ring_slope(const vg_telemetry *t)
{
    int n = t->ring_n;
    int first = (t->ring_head - n + VG_TELEMETRY_LEAK_SAMPLES) %
                VG_TELEMETRY_LEAK_SAMPLES;
    double t0 = t->ring_t[first];
    double y0 = (double)t->ring_rss[first];
    double sx = 0, sy = 0, sxx = 0, sxy = 0, den;

    if (n < 2)
        return 0;
    for (int k = 0; k < n; k++) {
        int i = (first + k) % VG_TELEMETRY_LEAK_SAMPLES;
        double x = t->ring_t[i] - t0;
        double y = (double)t->ring_rss[i] - y0;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    den = n * sxx - sx * sx;
    if (!(fabs(den) > 1e-12))
        return 0;
    return (n * sxy - sx * sy) / den;
}

static void feed_locked(vg_telemetry *t, double time_s, uint64_t rss)
{
    vg_telemetry_stats *st = &t->st;
    double slope;
    int full;

    t->ring_t[t->ring_head] = time_s;
    t->ring_rss[t->ring_head] = rss;
    t->ring_head = (t->ring_head + 1) % VG_TELEMETRY_LEAK_SAMPLES;
    if (t->ring_n < VG_TELEMETRY_LEAK_SAMPLES)
        t->ring_n++;
    t->have_leak_sample = 1;
    t->last_leak_sample = time_s;

    slope = ring_slope(t);
    full = t->ring_n == VG_TELEMETRY_LEAK_SAMPLES;
    st->leak_slope_bytes_per_s = slope;
    st->leak_window_samples = t->ring_n;
    st->leak_suspected = full && slope > t->o.leak_slope_bytes_per_s;
    if (st->leak_suspected &&
        (!t->have_warned || time_s - t->last_warn >= t->o.window_s)) {
        t->have_warned = 1;
        t->last_warn = time_s;
        st->leak_warnings++;
        vg_log(t->ctx, VG_LOG_WARN,
               "telemetry: possible leak: RSS grows %.1f KiB/s over the last "
               "%.0f s (threshold %.1f KiB/s, RSS now %.1f MiB)",
               slope / 1024.0, t->o.window_s,
               t->o.leak_slope_bytes_per_s / 1024.0,
               (double)rss / (1024.0 * 1024.0));
    }
}

void vg_telemetry_feed_rss(vg_telemetry *t, double time_s, uint64_t rss)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    feed_locked(t, time_s, rss);
    pthread_mutex_unlock(&t->lock);
}

/* ---- sampling ----------------------------------------------------------- */

/* What a stream's fill function wrote, made safe to print: strings ended,
 * the row count in range, the current state among the rows. */
static void normalise_stream(vg_telemetry_stream *s)
{
    int found = 0;

    s->state[sizeof(s->state) - 1] = '\0';
    s->last_error[sizeof(s->last_error) - 1] = '\0';
    if (s->n_states < 0)
        s->n_states = 0;
    if (s->n_states > VG_TELEMETRY_STREAM_STATES)
        s->n_states = VG_TELEMETRY_STREAM_STATES;
    for (int k = 0; k < s->n_states; k++) {
        s->state_names[k][VG_TELEMETRY_STATE_MAX - 1] = '\0';
        if (!strcmp(s->state_names[k], s->state))
            found = 1;
    }
    if (!found && s->state[0] && s->n_states < VG_TELEMETRY_STREAM_STATES) {
        memcpy(s->state_names[s->n_states], s->state, sizeof(s->state));
        s->state_seconds[s->n_states] = 0;
        s->n_states++;
    }
}

static int leak_sample_due(const vg_telemetry *t, double now_s)
{
    return !t->have_leak_sample ||
           now_s - t->last_leak_sample >=
               t->o.window_s / VG_TELEMETRY_LEAK_SAMPLES;
}

static void sample_gpu_locked(vg_telemetry *t)
{
    vg_telemetry_stats *st = &t->st;
    size_t free_b = 0, total_b = 0;

    st->gpu_count = 0;
    for (int i = 0; i < t->n_nvml; i++) {
        nvml_memory m;
        if (t->nvml_mem(t->nvml_dev[i], &m) != 0)
            continue;
        st->gpu_used_bytes[st->gpu_count] = m.used;
        st->gpu_total_bytes[st->gpu_count] = m.total;
        st->gpu_count++;
    }
    st->cuda_valid = 0;
    if (t->cuda_mem && t->cuda_mem(&free_b, &total_b) == 0) {
        st->cuda_valid = 1;
        st->cuda_free_bytes = free_b;
        st->cuda_total_bytes = total_b;
    }
}

static void sample_locked(vg_telemetry *t, double now_s)
{
    vg_telemetry_stats *st = &t->st;
    struct mallinfo2 mi = mallinfo2();
    int n;

    st->time_s = now_s;
    st->samples++;
    st->rss_bytes = vg_rss_bytes();
    st->peak_rss_bytes = vg_peak_rss_bytes();
    if (st->peak_rss_bytes < st->rss_bytes)
        st->peak_rss_bytes = st->rss_bytes;
    st->heap_bytes = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;

    n = 0;
    for (int i = 0; i < t->o.max_pools; i++) {
        if (!t->pools[i].used)
            continue;
        copy_name(t->pool_rows[n].name, sizeof(t->pool_rows[n].name),
                  vg_pool_name(t->pools[i].pool));
        copy_name(t->pool_rows[n].stream, sizeof(t->pool_rows[n].stream),
                  t->pools[i].stream);
        vg_pool_stats_get(t->pools[i].pool, &t->pool_rows[n].s);
        n++;
    }
    st->n_pools = n;

    n = 0;
    for (int i = 0; i < t->o.max_tables; i++) {
        table_src *s = &t->tables[i];
        table_row *r = &t->table_rows[n];
        if (!s->used)
            continue;
        copy_name(r->name, sizeof(r->name), s->name);
        copy_name(r->stream, sizeof(r->stream), s->stream);
        r->size = r->capacity = 0;
        s->fn(s->user, &r->size, &r->capacity);
        n++;
    }
    st->n_tables = n;

    n = 0;
    for (int i = 0; i < t->o.max_models; i++)
        if (t->models[i].used)
            t->model_rows[n++] = t->models[i];
    st->n_models = n;

    n = 0;
    for (int i = 0; i < t->o.max_streams; i++) {
        stream_src *s = &t->streams[i];
        stream_row *r = &t->stream_rows[n];
        if (!s->used)
            continue;
        copy_name(r->name, sizeof(r->name), s->name);
        memset(&r->s, 0, sizeof(r->s));
        s->fn(s->user, &r->s);
        normalise_stream(&r->s);
        n++;
    }
    st->n_streams = n;

    sample_gpu_locked(t);
    if (st->rss_bytes > 0 && leak_sample_due(t, now_s))
        feed_locked(t, now_s, st->rss_bytes);
}

void vg_telemetry_sample(vg_telemetry *t, double now_s)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    sample_locked(t, now_s);
    pthread_mutex_unlock(&t->lock);
}

void vg_telemetry_stats_get(vg_telemetry *t, vg_telemetry_stats *out)
{
    if (!out)
        return;
    if (!t) {
        memset(out, 0, sizeof(*out));
        return;
    }
    pthread_mutex_lock(&t->lock);
    *out = t->st;
    pthread_mutex_unlock(&t->lock);
}

/* ---- text report -------------------------------------------------------- */

typedef struct emitter {
    vg_context *ctx;
    FILE *f;
    int failed;
} emitter;

static void emit(emitter *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void emit(emitter *e, const char *fmt, ...)
{
    char line[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (e->f) {
        if (fprintf(e->f, "%s\n", line) < 0)
            e->failed = 1;
    } else {
        vg_log(e->ctx, VG_LOG_INFO, "%s", line);
    }
}

/* "12.3 MiB" into buf. */
static const char *human(char *buf, size_t cap, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;

    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

/* Two lines per stream: its state and counters, then the time in each
 * state and the last error. */
static void report_stream(emitter *e, const stream_row *r)
{
    const vg_telemetry_stream *s = &r->s;
    char times[256];
    size_t o = 0;

    emit(e,
         "  stream %s: %s, frames %llu (dropped %llu, skipped idle %llu), "
         "connect attempts %llu, reconnects %llu, drops %llu, stalls %llu",
         r->name, s->state[0] ? s->state : "?", (unsigned long long)s->frames,
         (unsigned long long)s->frames_dropped,
         (unsigned long long)s->frames_skipped_idle,
         (unsigned long long)s->attempts, (unsigned long long)s->reconnects,
         (unsigned long long)s->drops, (unsigned long long)s->stalls);
    times[0] = '\0';
    for (int k = 0; k < s->n_states && o < sizeof(times); k++) {
        int n = snprintf(times + o, sizeof(times) - o, "%s%s %.1f s",
                         k ? ", " : "", s->state_names[k], s->state_seconds[k]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    emit(e, "    time in state: %s%s%s", times[0] ? times : "-",
         s->last_error[0] ? "; last error: " : "", s->last_error);
}

static void report_locked(vg_telemetry *t, emitter *e)
{
    const vg_telemetry_stats *st = &t->st;
    char a[32], b[32], c[32];

    emit(e,
         "memory at %.1f s: rss %s (peak %s), heap in use %s, leak slope "
         "%+.1f KiB/s (window %d/%d samples%s)",
         st->time_s, human(a, sizeof(a), st->rss_bytes),
         human(b, sizeof(b), st->peak_rss_bytes),
         human(c, sizeof(c), st->heap_bytes),
         st->leak_slope_bytes_per_s / 1024.0, st->leak_window_samples,
         VG_TELEMETRY_LEAK_SAMPLES,
         st->leak_suspected ? ", LEAK SUSPECTED" : "");
    for (int i = 0; i < st->n_pools; i++) {
        const pool_row *r = &t->pool_rows[i];
        emit(e, "  pool %s%s%s: %u x %s = %s, in use %u, high water %u",
             r->stream, r->stream[0] ? "/" : "", r->name, r->s.count,
             human(a, sizeof(a), r->s.buf_size),
             human(b, sizeof(b), (uint64_t)r->s.buf_size * r->s.count),
             r->s.in_use, r->s.high_water);
    }
    for (int i = 0; i < st->n_tables; i++) {
        const table_row *r = &t->table_rows[i];
        emit(e, "  table %s%s%s: %zu of %zu", r->stream,
             r->stream[0] ? "/" : "", r->name, r->size, r->capacity);
    }
    for (int i = 0; i < st->n_models; i++) {
        const model_row *r = &t->model_rows[i];
        emit(e, "  model %s: %s, host %s, device %s", r->name, r->state,
             human(a, sizeof(a), r->host_bytes),
             human(b, sizeof(b), r->device_bytes));
    }
    for (int i = 0; i < st->n_streams; i++)
        report_stream(e, &t->stream_rows[i]);
    for (int i = 0; i < st->gpu_count; i++)
        emit(e, "  gpu %d: %s used of %s", i,
             human(a, sizeof(a), st->gpu_used_bytes[i]),
             human(b, sizeof(b), st->gpu_total_bytes[i]));
    if (st->cuda_valid)
        emit(e, "  cuda runtime: %s free of %s",
             human(a, sizeof(a), st->cuda_free_bytes),
             human(b, sizeof(b), st->cuda_total_bytes));
}

int vg_telemetry_report(vg_telemetry *t, FILE *f)
{
    emitter e = {0};

    if (!t || !f)
        return VG_EINVAL;
    e.ctx = t->ctx;
    e.f = f;
    pthread_mutex_lock(&t->lock);
    if (t->st.samples == 0)
        sample_locked(t, (double)vg_clock_ns() / 1e9);
    report_locked(t, &e);
    pthread_mutex_unlock(&t->lock);
    if (fflush(f) != 0)
        e.failed = 1;
    return e.failed ? VG_EIO : 0;
}

void vg_telemetry_tick_at(vg_telemetry *t, double now_s)
{
    int report_due = 0;

    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    if (t->o.interval_s > 0) {
        if (!t->have_period) {
            t->have_period = 1;
            t->period_start = now_s;
        } else if (now_s - t->period_start >= t->o.interval_s) {
            report_due = 1;
            t->period_start = now_s;
        }
    }
    if (report_due || leak_sample_due(t, now_s))
        sample_locked(t, now_s);
    if (report_due) {
        emitter e = {t->ctx, t->o.report_file, 0};
        report_locked(t, &e);
        if (e.f)
            fflush(e.f);
        t->st.reports++;
    }
    pthread_mutex_unlock(&t->lock);
}

void vg_telemetry_tick(vg_telemetry *t)
{
    vg_telemetry_tick_at(t, (double)vg_clock_ns() / 1e9);
}

/* ---- JSON --------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_stream(FILE *f, int i, const stream_row *r)
{
    const vg_telemetry_stream *s = &r->s;

    fprintf(f, "%s{\"name\": ", i ? ", " : "");
    json_str(f, r->name);
    fputs(", \"state\": ", f);
    json_str(f, s->state);
    fprintf(f,
            ", \"frames\": %llu, \"frames_dropped\": %llu, "
            "\"frames_skipped_idle\": %llu, \"attempts\": %llu, "
            "\"reconnects\": %llu, \"drops\": %llu, \"stalls\": %llu, "
            "\"time_in_state_s\": {",
            (unsigned long long)s->frames,
            (unsigned long long)s->frames_dropped,
            (unsigned long long)s->frames_skipped_idle,
            (unsigned long long)s->attempts, (unsigned long long)s->reconnects,
            (unsigned long long)s->drops, (unsigned long long)s->stalls);
    for (int k = 0; k < s->n_states; k++) {
        if (k)
            fputs(", ", f);
        json_str(f, s->state_names[k]);
        fprintf(f, ": %.3f", s->state_seconds[k]);
    }
    fputs("}, \"last_error\": ", f);
    json_str(f, s->last_error);
    fputc('}', f);
}

int vg_telemetry_report_json(vg_telemetry *t, FILE *f)
{
    const vg_telemetry_stats *st;

    if (!t || !f)
        return VG_EINVAL;
    pthread_mutex_lock(&t->lock);
    if (t->st.samples == 0)
        sample_locked(t, (double)vg_clock_ns() / 1e9);
    st = &t->st;
    fprintf(f,
            "{\"time_s\": %.3f, \"rss_bytes\": %llu, \"peak_rss_bytes\": "
            "%llu, \"heap_bytes\": %llu, \"pools\": [",
            st->time_s, (unsigned long long)st->rss_bytes,
            (unsigned long long)st->peak_rss_bytes,
            (unsigned long long)st->heap_bytes);
    for (int i = 0; i < st->n_pools; i++) {
        const pool_row *r = &t->pool_rows[i];
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_str(f, r->name);
        fprintf(f,
                ", \"buf_size\": %zu, \"count\": %u, \"bytes\": %llu, "
                "\"in_use\": %u, \"high_water\": %u, \"gets\": %llu, "
                "\"waits\": %llu, \"stream\": ",
                r->s.buf_size, r->s.count,
                (unsigned long long)r->s.buf_size * r->s.count, r->s.in_use,
                r->s.high_water, r->s.gets, r->s.waits);
        json_str(f, r->stream);
        fputc('}', f);
    }
    fputs("], \"tables\": [", f);
    for (int i = 0; i < st->n_tables; i++) {
        const table_row *r = &t->table_rows[i];
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_str(f, r->name);
        fprintf(f, ", \"size\": %zu, \"capacity\": %zu, \"stream\": ", r->size,
                r->capacity);
        json_str(f, r->stream);
        fputc('}', f);
    }
    fputs("], \"models\": [", f);
    for (int i = 0; i < st->n_models; i++) {
        const model_row *r = &t->model_rows[i];
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_str(f, r->name);
        fputs(", \"state\": ", f);
        json_str(f, r->state);
        fprintf(f, ", \"host_bytes\": %llu, \"device_bytes\": %llu}",
                (unsigned long long)r->host_bytes,
                (unsigned long long)r->device_bytes);
    }
    fputs("], \"streams\": [", f);
    for (int i = 0; i < st->n_streams; i++)
        json_stream(f, i, &t->stream_rows[i]);
    fputs("], \"gpus\": [", f);
    for (int i = 0; i < st->gpu_count; i++)
        fprintf(f,
                "%s{\"index\": %d, \"used_bytes\": %llu, "
                "\"total_bytes\": %llu}",
                i ? ", " : "", i, (unsigned long long)st->gpu_used_bytes[i],
                (unsigned long long)st->gpu_total_bytes[i]);
    fputs("]", f);
    if (st->cuda_valid)
        fprintf(f, ", \"cuda_free_bytes\": %llu, \"cuda_total_bytes\": %llu",
                (unsigned long long)st->cuda_free_bytes,
                (unsigned long long)st->cuda_total_bytes);
    fprintf(f,
            ", \"leak\": {\"slope_bytes_per_s\": %.1f, \"window_samples\": "
            "%d, \"suspected\": %s, \"warnings\": %llu}}",
            st->leak_slope_bytes_per_s, st->leak_window_samples,
            st->leak_suspected ? "true" : "false",
            (unsigned long long)st->leak_warnings);
    pthread_mutex_unlock(&t->lock);
    return ferror(f) ? VG_EIO : 0;
}

/* ---- Prometheus --------------------------------------------------------- */

typedef struct prom {
    char *buf;
    size_t cap, len;
    int overflow;
} prom;

static void pline(prom *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one line; when it does not fit, the output stays cut after the
 * last whole line and every later line is dropped. */
static void pline(prom *p, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n + 1 >= p->cap - p->len) {
        p->overflow = 1;
        p->buf[p->len] = '\0';
        return;
    }
    p->len += (size_t)n;
    p->buf[p->len++] = '\n';
    p->buf[p->len] = '\0';
}

/* Label value with \, " and newline escaped. */
static const char *label(char *dst, size_t cap, const char *s);

/* The stream="NAME", label of a pool or table a stream owns ("" when
 * none), escaped. */
static const char *owner(char *dst, size_t cap, const char *stream)
{
    char esc[2 * VG_TELEMETRY_NAME_MAX + 4];
    if (!stream[0]) {
        dst[0] = '\0';
        return dst;
    }
    snprintf(dst, cap, "stream=\"%s\",", label(esc, sizeof(esc), stream));
    return dst;
}

static const char *label(char *dst, size_t cap, const char *s)
{
    size_t o = 0;

    for (; *s && o + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            dst[o++] = '\\';
            dst[o++] = *s;
        } else if (*s == '\n') {
            dst[o++] = '\\';
            dst[o++] = 'n';
        } else {
            dst[o++] = *s;
        }
    }
    dst[o] = '\0';
    return dst;
}

static void family(prom *p, const char *name, const char *type,
                   const char *help)
{
    pline(p, "# HELP %s %s", name, help);
    pline(p, "# TYPE %s %s", name, type);
}

/* One counter family over every stream; field is the offset of a uint64_t
 * in vg_telemetry_stream. */
static void prom_stream_counter(vg_telemetry *t, prom *p, const char *name,
                                const char *help, size_t field)
{
    char l[2 * VG_TELEMETRY_NAME_MAX + 4];

    family(p, name, "counter", help);
    for (int i = 0; i < t->st.n_streams; i++) {
        const stream_row *r = &t->stream_rows[i];
        uint64_t v;
        memcpy(&v, (const char *)&r->s + field, sizeof(v));
        pline(p, "%s{stream=\"%s\"} %llu", name, label(l, sizeof(l), r->name),
              (unsigned long long)v);
    }
}

/* The stream families: the state as an enum (one line per state, 1 for the
 * current one), counters, the time in each state, the last error as an
 * info metric. */
static void prom_streams(vg_telemetry *t, prom *p)
{
    char l[2 * VG_TELEMETRY_NAME_MAX + 4], s[2 * STATE_MAX + 4];
    char err[2 * VG_TELEMETRY_ERROR_MAX + 4];
    const int n = t->st.n_streams;

    family(p, "vigil_stream_state", "gauge",
           "State of a stream: 1 for the current state, 0 for the others.");
    for (int i = 0; i < n; i++) {
        const stream_row *r = &t->stream_rows[i];
        for (int k = 0; k < r->s.n_states; k++)
            pline(p, "vigil_stream_state{stream=\"%s\",state=\"%s\"} %d",
                  label(l, sizeof(l), r->name),
                  label(s, sizeof(s), r->s.state_names[k]),
                  !strcmp(r->s.state_names[k], r->s.state));
    }
    family(p, "vigil_stream_state_seconds_total", "counter",
           "Seconds a stream spent in each state.");
    for (int i = 0; i < n; i++) {
        const stream_row *r = &t->stream_rows[i];
        for (int k = 0; k < r->s.n_states; k++)
            pline(p,
                  "vigil_stream_state_seconds_total{stream=\"%s\",state=\"%s\"}"
                  " %.3f",
                  label(l, sizeof(l), r->name),
                  label(s, sizeof(s), r->s.state_names[k]),
                  r->s.state_seconds[k]);
    }
    prom_stream_counter(t, p, "vigil_stream_frames_total",
                        "Frames a stream processed.",
                        offsetof(vg_telemetry_stream, frames));
    prom_stream_counter(t, p, "vigil_stream_frames_dropped_total",
                        "Frames a live stream dropped (queue full).",
                        offsetof(vg_telemetry_stream, frames_dropped));
    prom_stream_counter(t, p, "vigil_stream_frames_skipped_idle_total",
                        "Frames the motion gate kept from the detector.",
                        offsetof(vg_telemetry_stream, frames_skipped_idle));
    prom_stream_counter(t, p, "vigil_stream_connect_attempts_total",
                        "Connection attempts of a live stream.",
                        offsetof(vg_telemetry_stream, attempts));
    prom_stream_counter(t, p, "vigil_stream_reconnects_total",
                        "Connection attempts after the first.",
                        offsetof(vg_telemetry_stream, reconnects));
    prom_stream_counter(t, p, "vigil_stream_drops_total",
                        "Reads that failed while a stream was live.",
                        offsetof(vg_telemetry_stream, drops));
    prom_stream_counter(t, p, "vigil_stream_stalls_total",
                        "Times the stall watchdog fired.",
                        offsetof(vg_telemetry_stream, stalls));
    family(p, "vigil_stream_last_error_info", "gauge",
           "Last error of a stream (\"\" when none), always 1.");
    for (int i = 0; i < n; i++) {
        const stream_row *r = &t->stream_rows[i];
        pline(p, "vigil_stream_last_error_info{stream=\"%s\",error=\"%s\"} 1",
              label(l, sizeof(l), r->name),
              label(err, sizeof(err), r->s.last_error));
    }
}

int vg_telemetry_format_prometheus(vg_telemetry *t, char *buf, size_t cap,
                                   size_t *len)
{
    prom p = {buf, cap, 0, 0};
    const vg_telemetry_stats *st;
    char o[2 * VG_TELEMETRY_NAME_MAX + 16];
    char l[2 * VG_TELEMETRY_NAME_MAX + 4], s[2 * STATE_MAX + 4];

    if (len)
        *len = 0;
    if (!t || !buf || cap == 0)
        return VG_EINVAL;
    buf[0] = '\0';
    pthread_mutex_lock(&t->lock);
    st = &t->st;
    family(&p, "vigil_rss_bytes", "gauge", "Resident set size of the process.");
    pline(&p, "vigil_rss_bytes %llu", (unsigned long long)st->rss_bytes);
    family(&p, "vigil_peak_rss_bytes", "gauge",
           "Peak resident set size of the process.");
    pline(&p, "vigil_peak_rss_bytes %llu",
          (unsigned long long)st->peak_rss_bytes);
    family(&p, "vigil_heap_bytes", "gauge",
           "Heap in use (malloc arenas plus mmapped blocks).");
    pline(&p, "vigil_heap_bytes %llu", (unsigned long long)st->heap_bytes);

    family(&p, "vigil_pool_bytes", "gauge", "Bytes held by a buffer pool.");
    for (int i = 0; i < st->n_pools; i++)
        pline(&p, "vigil_pool_bytes{%spool=\"%s\"} %llu",
              owner(o, sizeof(o), t->pool_rows[i].stream),
              label(l, sizeof(l), t->pool_rows[i].name),
              (unsigned long long)t->pool_rows[i].s.buf_size *
                  t->pool_rows[i].s.count);
    family(&p, "vigil_pool_buffers", "gauge", "Buffers in a pool.");
    for (int i = 0; i < st->n_pools; i++)
        pline(&p, "vigil_pool_buffers{%spool=\"%s\"} %u",
              owner(o, sizeof(o), t->pool_rows[i].stream),
              label(l, sizeof(l), t->pool_rows[i].name),
              t->pool_rows[i].s.count);
    family(&p, "vigil_pool_in_use", "gauge", "Buffers of a pool now in use.");
    for (int i = 0; i < st->n_pools; i++)
        pline(&p, "vigil_pool_in_use{%spool=\"%s\"} %u",
              owner(o, sizeof(o), t->pool_rows[i].stream),
              label(l, sizeof(l), t->pool_rows[i].name),
              t->pool_rows[i].s.in_use);
    family(&p, "vigil_pool_high_water", "gauge",
           "Most buffers of a pool ever in use at once.");
    for (int i = 0; i < st->n_pools; i++)
        pline(&p, "vigil_pool_high_water{%spool=\"%s\"} %u",
              owner(o, sizeof(o), t->pool_rows[i].stream),
              label(l, sizeof(l), t->pool_rows[i].name),
              t->pool_rows[i].s.high_water);

    family(&p, "vigil_table_size", "gauge", "Entries held by a bounded table.");
    for (int i = 0; i < st->n_tables; i++)
        pline(&p, "vigil_table_size{%stable=\"%s\"} %zu",
              owner(o, sizeof(o), t->table_rows[i].stream),
              label(l, sizeof(l), t->table_rows[i].name),
              t->table_rows[i].size);
    family(&p, "vigil_table_capacity", "gauge", "Capacity of a bounded table.");
    for (int i = 0; i < st->n_tables; i++)
        pline(&p, "vigil_table_capacity{%stable=\"%s\"} %zu",
              owner(o, sizeof(o), t->table_rows[i].stream),
              label(l, sizeof(l), t->table_rows[i].name),
              t->table_rows[i].capacity);

    family(&p, "vigil_model_host_bytes", "gauge",
           "Host memory held by a model.");
    for (int i = 0; i < st->n_models; i++)
        pline(&p, "vigil_model_host_bytes{model=\"%s\",state=\"%s\"} %llu",
              label(l, sizeof(l), t->model_rows[i].name),
              label(s, sizeof(s), t->model_rows[i].state),
              (unsigned long long)t->model_rows[i].host_bytes);
    family(&p, "vigil_model_device_bytes", "gauge",
           "Device memory held by a model.");
    for (int i = 0; i < st->n_models; i++)
        pline(&p, "vigil_model_device_bytes{model=\"%s\",state=\"%s\"} %llu",
              label(l, sizeof(l), t->model_rows[i].name),
              label(s, sizeof(s), t->model_rows[i].state),
              (unsigned long long)t->model_rows[i].device_bytes);

    if (st->n_streams > 0)
        prom_streams(t, &p);

    if (st->gpu_count > 0) {
        family(&p, "vigil_gpu_memory_used_bytes", "gauge",
               "GPU memory in use (NVML, all processes).");
        for (int i = 0; i < st->gpu_count; i++)
            pline(&p, "vigil_gpu_memory_used_bytes{gpu=\"%d\"} %llu", i,
                  (unsigned long long)st->gpu_used_bytes[i]);
        family(&p, "vigil_gpu_memory_total_bytes", "gauge",
               "GPU memory in total (NVML).");
        for (int i = 0; i < st->gpu_count; i++)
            pline(&p, "vigil_gpu_memory_total_bytes{gpu=\"%d\"} %llu", i,
                  (unsigned long long)st->gpu_total_bytes[i]);
    }
    if (st->cuda_valid) {
        family(&p, "vigil_cuda_memory_free_bytes", "gauge",
               "Free memory on the current CUDA device (CUDA runtime).");
        pline(&p, "vigil_cuda_memory_free_bytes %llu",
              (unsigned long long)st->cuda_free_bytes);
    }

    family(&p, "vigil_leak_slope_bytes_per_second", "gauge",
           "Least-squares slope of RSS over the leak guard's window.");
    pline(&p, "vigil_leak_slope_bytes_per_second %.1f",
          st->leak_slope_bytes_per_s);
    family(&p, "vigil_leak_warnings_total", "counter",
           "Leak warnings the guard logged.");
    pline(&p, "vigil_leak_warnings_total %llu",
          (unsigned long long)st->leak_warnings);
    pthread_mutex_unlock(&t->lock);
    if (len)
        *len = p.len;
    return p.overflow ? VG_ERANGE : 0;
}
