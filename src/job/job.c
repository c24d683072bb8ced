/* vg_job: the running CCTV job of many cameras (include/vigil/jobrun.h). */
#include "vigil/jobrun.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pipeline/pipeline_internal.h"
#include "vigil/cameras.h"
#include "vigil/clock.h"
#include "vigil/fsutil.h"
#include "vigil/session.h"
#include "vigil/sizing.h"
#include "vigil/source.h"

/* What a stream's detection request carries to the inference thread. */
typedef struct detect_slot {
    vg_detection *dets;
    int cap;
    int n;
    char message[256]; /* the failure, when the request failed */
} detect_slot;

typedef struct job_stream {
    struct vg_job *job;
    int index;
    int state; /* enum vg_job_stream_state; j->lock */
    char name[VG_STREAM_NAME_MAX];
    char input[VG_PATH_MAX];
    char out_dir[VG_PATH_MAX + VG_STREAM_NAME_MAX + 1];
    char prefix[VG_STREAM_NAME_MAX + 1]; /* "NAME/" */
    const vg_rules_config *rules;
    vg_run_opts run;   /* the camera's options (the job's or its own) */
    vg_source *source; /* taken over until the thread runs */
    int first_open_code;
    char first_open_error[256];
    vg_context *ctx; /* child of the job's: its errors and its stop */
    pthread_t thread;
    int thread_started; /* j->lock */
    int join_claimed;   /* j->lock: someone joins (or joined) it */
    int joined;         /* j->lock: the thread is joined */
    atomic_llong frames;
    int end_code;
    char message[256];
    vg_run_stats stats;
    /* the hooks for vigil serve: viewers, latest picture, rules given while
     * running, live figures; set up at add, kept until the slot is reused
     * (or the job destroyed) */
    vgi_live live;
    int readers; /* j->lock: vg_job_frame_get calls copying from live */
} job_stream;

struct vg_job {
    vg_context *ctx;
    vg_job_opts o;
    char out_dir[VG_PATH_MAX];
    char model_name[VG_MODEL_NAME_MAX];
    char model_path[VG_PATH_MAX];
    int acquired; /* the model is held from the residency */
    vg_detector *det;
    vg_tensor_spec spec; /* the detector's input */
    int max_batch;
    /* the float tensors the cameras' 8-bit tensors are expanded into, one
     * per batch row (the only float tensors of the job) */
    vg_pool *rows_pool;
    vg_buf *rows[VG_BATCHER_MAX_BATCH];
    vg_context *ictx; /* the inference thread's (child) */
    vg_batcher *batcher;
    pthread_t infer_thread;
    int infer_started;
    vg_events *events;
    pthread_mutex_t events_lock;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int started, stopped, closing;
    int running;         /* stream threads not yet finished */
    int n_slots;         /* slots ever used (high-water) */
    job_stream *streams; /* VG_JOB_MAX_STREAMS */
};

void vg_job_opts_default(vg_job_opts *o)
{
    memset(o, 0, sizeof(*o));
    vg_run_opts_default(&o->run);
    vg_detector_opts_default(&o->detector);
    o->max_wait_ms = 5.0;
    o->per_stream_dirs = 1;
    /* cameras encode in parallel with each other: one encoder thread each
     * (x264's frame threads each hold pictures: 2 cost ~6 MiB more per
     * camera at 768x576, bench/README.md) */
    o->run.video.threads = VG_SIZING_VIDEO_THREADS;
    /* 8-bit tensors in the cameras' pools, made float per batch row */
    o->run.compact_tensor = 1;
}

void vg_job_opts_from_settings(const vg_settings *s, vg_job_opts *o)
{
    vg_run_opts *r = &o->run;
    vg_job_opts_default(o);
    vg_detector_opts_from_settings(s, &o->detector);
    o->model_path = s->model;
    /* the per-camera part: the one settings -> run options mapping */
    vg_run_opts_from_settings(s, r);
    r->video.threads = VG_SIZING_VIDEO_THREADS;
    r->compact_tensor = 1;
}

/* ---- the shared detector ------------------------------------------------ */

/* The inference thread: runs a batch of requests of several streams. Each
 * request's input is a vg_frame, its output a detect_slot. */
static int run_batch(void *user, vg_batch_request *const *req, int n)
{
    vg_job *j = user;
    vg_frame expanded[VG_BATCHER_MAX_BATCH];
    const vg_frame *fr[VG_BATCHER_MAX_BATCH];
    size_t count = vg_tensor_float_count(&j->spec);

    /* the cameras' 8-bit tensors become float rows here */
    for (int i = 0; i < n; i++) {
        const vg_frame *f = req[i]->input;
        fr[i] = f;
        if (!f->tensor_compact)
            continue;
        expanded[i] = *f;
        expanded[i].tensor = j->rows[i];
        expanded[i].tensor_compact = 0;
        if (vg_tensor_expand(&j->spec, f, vg_buf_data(j->rows[i]), count) < 0) {
            detect_slot *d = req[i]->output;
            snprintf(d->message, sizeof(d->message),
                     "frame %lld: its tensor does not fit the model input",
                     (long long)f->index);
            req[i]->status = VG_EINVAL;
            return VG_EINVAL;
        }
        fr[i] = &expanded[i];
    }
    if (n > 1) {
        /* one session run for the batch; out of memory: each frame alone,
         * through the residency's ladder below */
        const vg_frame *frames[VG_BATCHER_MAX_BATCH];
        vg_detection *dets[VG_BATCHER_MAX_BATCH];
        int counts[VG_BATCHER_MAX_BATCH];
        int cap = ((detect_slot *)req[0]->output)->cap;
        int rc;
        for (int i = 0; i < n; i++) {
            detect_slot *d = req[i]->output;
            frames[i] = fr[i];
            dets[i] = d->dets;
            if (d->cap < cap)
                cap = d->cap;
        }
        rc = vg_detector_run_batch(j->det, frames, n, dets, cap, counts);
        if (rc == 0) {
            for (int i = 0; i < n; i++)
                ((detect_slot *)req[i]->output)->n = counts[i];
            return 0;
        }
        if (rc != VG_ENOMEM) {
            for (int i = 0; i < n; i++) {
                detect_slot *d = req[i]->output;
                snprintf(d->message, sizeof(d->message), "%s",
                         vg_detector_errmsg(j->det));
            }
            return rc;
        }
    }
    for (int i = 0; i < n; i++) {
        detect_slot *d = req[i]->output;
        int rc = vgi_detect_laddered(j->ictx, j->o.residency, j->model_name,
                                     j->det, fr[i], d->dets, d->cap, &d->n);
        if (rc < 0) {
            req[i]->status = rc;
            snprintf(d->message, sizeof(d->message), "%s",
                     vg_context_errmsg(j->ictx));
            vg_context_clear_error(j->ictx);
        }
    }
    return 0;
}

static void *infer_main(void *p)
{
    vg_job *j = p;
    for (;;) {
        int rc = vg_batcher_step(j->batcher);
        if (rc == VG_ECLOSED)
            break;
        if (rc == VG_EINTR) {
            /* stopping: nothing pending; wait for the close */
            struct timespec ts;
            pthread_mutex_lock(&j->lock);
            if (!j->closing) {
                vg_clock_deadline(CLOCK_REALTIME, 50, &ts);
                pthread_cond_timedwait(&j->cond, &j->lock, &ts);
            }
            pthread_mutex_unlock(&j->lock);
        }
    }
    return NULL;
}

/* vg_run_opts.detect of every stream: one request to the batcher. */
static int stream_detect(void *user, const vg_frame *frame, vg_detection *dets,
                         int cap, int *n)
{
    job_stream *s = user;
    detect_slot d;
    vg_batch_request r;
    int rc;

    memset(&r, 0, sizeof(r));
    d.dets = dets;
    d.cap = cap;
    d.n = 0;
    d.message[0] = '\0';
    r.input = frame;
    r.output = &d;
    rc = vg_batcher_submit(s->job->batcher, s->index, &r);
    *n = rc == 0 ? d.n : 0;
    if (rc == 0)
        return 0;
    if (rc == VG_EINTR || rc == VG_ECLOSED)
        return vg_fail(s->ctx, VG_EINTR, "%s: stopped", s->name);
    return vg_fail(s->ctx, rc, "%s",
                   d.message[0] ? d.message : vg_strerror(rc));
}

static void stream_progress(void *user, int64_t frames)
{
    job_stream *s = user;
    vg_job *j = s->job;
    atomic_store(&s->frames, (long long)frames);
    vg_telemetry_tick(j->o.telemetry);
    vg_residency_tick(j->o.residency);
    if (j->o.progress)
        j->o.progress(j->o.user, s->index, frames);
}

/* ---- streams ------------------------------------------------------------ */

static void *stream_main(void *p)
{
    job_stream *s = p;
    vg_job *j = s->job;
    vg_run_opts o = s->run;
    vg_run_stats st;
    int rc;

    o.out_dir = s->out_dir;
    o.stream_name = s->name;
    o.suffix = NULL;
    o.rules = s->rules;
    o.detect = stream_detect;
    o.detect_user = s;
    o.events_shared = j->events;
    o.events_lock = &j->events_lock;
    o.snapshot_prefix = j->o.per_stream_dirs ? s->prefix : NULL;
    o.telemetry = j->o.telemetry;
    o.residency = NULL; /* the inference thread runs the ladder */
    o.model_name = NULL;
    o.should_stop = NULL; /* the stream's context carries its stop */
    o.progress = stream_progress;
    o.user = s;
    o.first_open_code = s->first_open_code;
    o.first_open_error = s->first_open_error[0] ? s->first_open_error : NULL;
    o.live = &s->live;
    memset(&st, 0, sizeof(st));
    if (s->source)
        rc = vg_run_stream_source(s->ctx, &s->source, j->det, &o, &st);
    else
        rc = vg_run_stream(s->ctx, s->input, j->det, &o, &st);
    pthread_mutex_lock(&j->lock);
    s->stats = st;
    s->end_code = rc;
    if (rc < 0)
        snprintf(s->message, sizeof(s->message), "%s",
                 vg_context_errmsg(s->ctx)[0] ? vg_context_errmsg(s->ctx)
                                              : vg_strerror(rc));
    if (s->state == VG_JOB_STREAM_RUNNING)
        s->state = VG_JOB_STREAM_ENDED;
    j->running--;
    vg_batcher_set_active(j->batcher, j->running);
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* Starts s's thread; j->lock held. */
static int start_stream(vg_job *j, job_stream *s)
{
    s->state = VG_JOB_STREAM_RUNNING;
    j->running++;
    vg_batcher_set_active(j->batcher, j->running);
    if (pthread_create(&s->thread, NULL, stream_main, s) != 0) {
        j->running--;
        vg_batcher_set_active(j->batcher, j->running);
        s->state = VG_JOB_STREAM_ENDED;
        s->end_code = VG_ENOMEM;
        snprintf(s->message, sizeof(s->message),
                 "%s: cannot start the stream's thread", s->name);
        vg_source_close(&s->source);
        return vg_fail(j->ctx, VG_ENOMEM, "%s", s->message);
    }
    s->thread_started = 1;
    return 0;
}

/* Joins s's thread unless someone else does; j->lock held on entry and
 * on return (released while joining). */
static void join_stream(vg_job *j, job_stream *s)
{
    if (!s->thread_started || s->join_claimed)
        return;
    s->join_claimed = 1;
    pthread_mutex_unlock(&j->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_lock(&j->lock);
    s->joined = 1;
}

/* camera names: vg_camera_name_valid (include/vigil/cameras.h), whose bound
 * is the stream name's */
_Static_assert(sizeof(((vg_camera_config *)0)->name) == VG_STREAM_NAME_MAX,
               "camera and stream names share one bound");

/* A slot for a new stream: a fresh one, else the first removed or ended
 * one (its record goes; its finished thread is joined here); j->lock held
 * (released while joining). */
static job_stream *free_slot(vg_job *j)
{
    if (j->n_slots < VG_JOB_MAX_STREAMS)
        return &j->streams[j->n_slots++];
    for (int i = 0; i < VG_JOB_MAX_STREAMS; i++) {
        job_stream *s = &j->streams[i];
        if (s->state != VG_JOB_STREAM_REMOVED &&
            s->state != VG_JOB_STREAM_ENDED)
            continue;
        join_stream(j, s);
        if (!s->thread_started || s->joined)
            return s;
    }
    return NULL;
}

int vg_job_add_stream(vg_job *j, const vg_job_stream_opts *so, int *index)
{
    char name[VG_STREAM_NAME_MAX];
    vg_context *child = NULL;
    job_stream *s;
    int rc = 0;

    if (index)
        *index = -1;
    if (!j || !so) {
        if (so && so->source)
            vg_source_close(so->source);
        return VG_EINVAL;
    }
    /* the input and the name are checked before anything changes */
    rc = so->source && *so->source ? 0 : vg_source_check_url(j->ctx, so->input);
    if (rc == 0 && strlen(so->input) >= VG_PATH_MAX)
        rc = vg_fail(j->ctx, VG_EINVAL, "%.80s...: input name too long",
                     so->input);
    if (rc == 0 && so->name && !vg_camera_name_valid(so->name))
        rc = vg_fail(j->ctx, VG_EINVAL,
                     "%s: camera name '%s' must be 1-%d characters of "
                     "A-Z a-z 0-9 _ -",
                     so->input, so->name, VG_STREAM_NAME_MAX - 1);
    if (rc == 0 && so->name)
        snprintf(name, sizeof(name), "%s", so->name);
    else if (rc == 0)
        rc = vg_stream_names(j->ctx, &so->input, 1, &name);
    /* zones of a source already open are checked against its picture */
    if (rc == 0 && so->source && *so->source &&
        (so->rules ? so->rules : j->o.rules)) {
        vg_source_info si;
        vg_source_get_info(*so->source, &si);
        if (si.width > 0 && si.height > 0)
            rc = vg_rules_config_check(j->ctx,
                                       so->rules ? so->rules : j->o.rules,
                                       si.width, si.height);
    }
    if (rc == 0)
        rc = vg_context_create_child(j->ctx, &child);
    if (rc < 0) {
        if (so->source)
            vg_source_close(so->source);
        return rc;
    }
    pthread_mutex_lock(&j->lock);
    for (int i = 0; i < j->n_slots; i++) {
        const job_stream *o = &j->streams[i];
        if ((o->state == VG_JOB_STREAM_ADDED ||
             o->state == VG_JOB_STREAM_RUNNING) &&
            !strcmp(o->name, name)) {
            pthread_mutex_unlock(&j->lock);
            vg_context_destroy(&child);
            if (so->source)
                vg_source_close(so->source);
            return vg_fail(j->ctx, VG_EEXIST,
                           "%s: a camera called '%s' is already in the job",
                           so->input, name);
        }
    }
    if (j->stopped) {
        pthread_mutex_unlock(&j->lock);
        vg_context_destroy(&child);
        if (so->source)
            vg_source_close(so->source);
        return vg_fail(j->ctx, VG_ECLOSED, "%s: the job has stopped",
                       so->input);
    }
    s = free_slot(j);
    if (!s) {
        pthread_mutex_unlock(&j->lock);
        vg_context_destroy(&child);
        if (so->source)
            vg_source_close(so->source);
        return vg_fail(j->ctx, VG_ERANGE, "%s: the job runs %d cameras already",
                       so->input, VG_JOB_MAX_STREAMS);
    }
    /* a reused slot: its thread is joined, its context goes, and its live
     * view once no reader copies from it */
    while (s->readers > 0)
        pthread_cond_wait(&j->cond, &j->lock);
    vg_context_destroy(&s->ctx);
    vgi_live_destroy(&s->live);
    memset(s, 0, sizeof(*s));
    if (vgi_live_init(j->ctx, &s->live) < 0) {
        s->state = VG_JOB_STREAM_REMOVED;
        pthread_mutex_unlock(&j->lock);
        vg_context_destroy(&child);
        if (so->source)
            vg_source_close(so->source);
        return vg_fail(j->ctx, VG_ENOMEM, "%s: out of memory", so->input);
    }
    s->job = j;
    s->index = (int)(s - j->streams);
    s->ctx = child;
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->input, sizeof(s->input), "%s", so->input);
    if (j->o.per_stream_dirs) {
        snprintf(s->out_dir, sizeof(s->out_dir), "%s/%s", j->out_dir, name);
        snprintf(s->prefix, sizeof(s->prefix), "%s/", name);
    } else {
        snprintf(s->out_dir, sizeof(s->out_dir), "%s", j->out_dir);
    }
    s->rules = so->rules ? so->rules : j->o.rules;
    s->run = so->run ? *so->run : j->o.run;
    if (so->loop)
        s->run.loop = 1;
    if (so->source) {
        s->source = *so->source;
        *so->source = NULL;
    }
    s->first_open_code = so->first_open_code;
    if (so->first_open_error)
        snprintf(s->first_open_error, sizeof(s->first_open_error), "%s",
                 so->first_open_error);
    s->state = VG_JOB_STREAM_ADDED;
    if (index)
        *index = s->index;
    if (j->started)
        rc = start_stream(j, s);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int vg_job_remove_stream(vg_job *j, const char *name)
{
    job_stream *s = NULL;

    if (!j || !name)
        return VG_EINVAL;
    pthread_mutex_lock(&j->lock);
    for (int i = 0; i < j->n_slots; i++) {
        job_stream *o = &j->streams[i];
        if (o->state != VG_JOB_STREAM_REMOVED && !strcmp(o->name, name)) {
            s = o;
            break;
        }
    }
    if (!s) {
        pthread_mutex_unlock(&j->lock);
        return vg_fail(j->ctx, VG_ENOENT, "%s: no such camera in the job",
                       name);
    }
    s->state = VG_JOB_STREAM_REMOVED;
    vg_context_request_stop(s->ctx);
    vg_source_close(&s->source); /* added, never started */
    join_stream(j, s);
    pthread_mutex_unlock(&j->lock);
    return 0;
}

/* ---- the job ------------------------------------------------------------ */

int vg_job_create(vg_context *ctx, const vg_job_opts *o, vg_job **out)
{
    vg_job *j;
    vg_session *session = NULL;
    vg_batcher_opts bo;
    int rc;

    if (!out)
        return VG_EINVAL;
    *out = NULL;
    if (!o || !o->out_dir || !o->residency || !o->model_name || !o->model_path)
        return vg_fail(ctx, VG_EINVAL,
                       "job: out_dir, residency, model_name and model_path "
                       "are required");
    if (strlen(o->out_dir) >= VG_PATH_MAX - VG_STREAM_NAME_MAX - 64 ||
        strlen(o->model_path) >= VG_PATH_MAX ||
        strlen(o->model_name) >= VG_MODEL_NAME_MAX)
        return vg_fail(ctx, VG_EINVAL, "job: a name is too long");
    j = vg_calloc(ctx, 1, sizeof(*j));
    if (!j)
        return vg_fail(ctx, VG_ENOMEM, "job: out of memory");
    j->ctx = ctx;
    j->o = *o;
    snprintf(j->out_dir, sizeof(j->out_dir), "%s", o->out_dir);
    snprintf(j->model_name, sizeof(j->model_name), "%s", o->model_name);
    snprintf(j->model_path, sizeof(j->model_path), "%s", o->model_path);
    j->o.out_dir = j->out_dir;
    j->o.model_name = j->model_name;
    j->o.model_path = j->model_path;
    pthread_mutex_init(&j->lock, NULL);
    pthread_mutex_init(&j->events_lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    j->streams = vg_calloc(ctx, VG_JOB_MAX_STREAMS, sizeof(*j->streams));
    if (!j->streams) {
        rc = vg_fail(ctx, VG_ENOMEM, "job: out of memory");
        goto fail;
    }
    rc = vg_context_create_child(ctx, &j->ictx);
    if (rc < 0) {
        rc = vg_fail(ctx, VG_ENOMEM, "job: out of memory");
        goto fail;
    }
    if (vg_mkdirs(j->out_dir) != 0) {
        rc = vg_fail(ctx, VG_EIO, "%s: cannot create output directory (%s)",
                     j->out_dir, strerror(errno));
        goto fail;
    }
    rc = vg_residency_acquire(o->residency, j->model_name, &session);
    if (rc < 0)
        goto fail;
    j->acquired = 1;
    {
        /* the batch: what the model allows, at most max_batch (default
         * VG_JOB_DEFAULT_BATCH); the detector reserves that many rows */
        vg_detector_opts dopts = o->detector;
        /* On the CPU a batch runs no faster than its frames one by one
         * (ONNX Runtime already spreads one frame over every core) and
         * multiplies the activations' memory: one frame at a time there
         * unless asked (bench/README.md). */
        const char *prov = vg_session_provider(session);
        int on_cpu = !prov || !strncmp(prov, "CPU", 3);
        int want = o->max_batch > 0 ? o->max_batch
                   : on_cpu         ? 1
                                    : VG_JOB_DEFAULT_BATCH;
        if (want > VG_BATCHER_MAX_BATCH)
            want = VG_BATCHER_MAX_BATCH;
        dopts.max_batch = want;
        rc =
            vg_detector_create_on(ctx, session, j->model_path, &dopts, &j->det);
        if (rc < 0)
            goto fail;
        j->max_batch = vg_detector_max_batch(j->det);
        if (j->max_batch < 1 || j->max_batch > want)
            j->max_batch = j->max_batch < 1 ? 1 : want;
    }
    vg_detector_input_spec(j->det, &j->spec);
    rc = vg_pool_create(ctx, "batch rows",
                        vg_tensor_float_count(&j->spec) * sizeof(float),
                        (unsigned)j->max_batch, &j->rows_pool);
    for (int i = 0; rc == 0 && i < j->max_batch; i++)
        rc = vg_pool_get(j->rows_pool, 0, &j->rows[i]);
    if (rc < 0) {
        rc = vg_fail(ctx, rc, "job: out of memory for the batch rows");
        goto fail;
    }
    bo = vg_batcher_defaults();
    bo.max_streams = VG_JOB_MAX_STREAMS;
    bo.max_batch = j->max_batch;
    bo.max_wait_ms = o->max_wait_ms;
    bo.run_batch = run_batch;
    bo.user = j;
    rc = vg_batcher_create(ctx, &bo, &j->batcher);
    if (rc < 0)
        goto fail;
    *out = j;
    return 0;
fail:
    vg_job_destroy(&j);
    return rc;
}

int vg_job_start(vg_job *j)
{
    int rc = 0;
    if (!j)
        return VG_EINVAL;
    pthread_mutex_lock(&j->lock);
    if (j->started || j->stopped) {
        pthread_mutex_unlock(&j->lock);
        return vg_fail(j->ctx, VG_EBUSY, "job: started already");
    }
    /* the event store appears when the job starts: a job refused before
     * (a camera's bad zones) leaves nothing behind */
    rc = vg_events_open(j->ctx, j->out_dir, &j->o.run.events, &j->events);
    if (rc < 0) {
        pthread_mutex_unlock(&j->lock);
        return rc;
    }
    if (pthread_create(&j->infer_thread, NULL, infer_main, j) != 0) {
        pthread_mutex_unlock(&j->lock);
        return vg_fail(j->ctx, VG_ENOMEM, "job: cannot start inference");
    }
    j->infer_started = 1;
    j->started = 1;
    for (int i = 0; i < j->n_slots; i++)
        if (j->streams[i].state == VG_JOB_STREAM_ADDED) {
            int r = start_stream(j, &j->streams[i]);
            if (r < 0 && rc == 0)
                rc = r;
        }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

void vg_job_wait(vg_job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    while (j->running > 0) {
        /* the telemetry is sampled at least every 500 ms, also while no
         * stream delivers frames (every camera down) */
        struct timespec ts;
        vg_clock_deadline(CLOCK_REALTIME, 500, &ts);
        pthread_cond_timedwait(&j->cond, &j->lock, &ts);
        pthread_mutex_unlock(&j->lock);
        vg_telemetry_tick(j->o.telemetry);
        pthread_mutex_lock(&j->lock);
    }
    pthread_mutex_unlock(&j->lock);
}

int vg_job_stop(vg_job *j)
{
    int rc = 0;
    if (!j)
        return VG_EINVAL;
    pthread_mutex_lock(&j->lock);
    j->stopped = 1;
    for (int i = 0; i < j->n_slots; i++) {
        job_stream *s = &j->streams[i];
        if (s->state == VG_JOB_STREAM_RUNNING)
            vg_context_request_stop(s->ctx);
        vg_source_close(&s->source);
    }
    for (int i = 0; i < j->n_slots; i++)
        join_stream(j, &j->streams[i]);
    j->closing = 1;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    vg_batcher_close(j->batcher);
    if (j->infer_started) {
        pthread_join(j->infer_thread, NULL);
        j->infer_started = 0;
    }
    if (j->events) {
        pthread_mutex_lock(&j->events_lock);
        rc = vg_events_flush(j->events);
        if (rc < 0)
            vg_fail(j->ctx, rc, "%s", vg_events_errmsg(j->events));
        pthread_mutex_unlock(&j->events_lock);
    }
    /* every event a camera inserted is committed once the last commit
     * succeeded: that is each camera's stored count */
    pthread_mutex_lock(&j->lock);
    for (int i = 0; rc == 0 && i < j->n_slots; i++)
        j->streams[i].stats.store.written =
            (uint64_t)j->streams[i].stats.events;
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int vg_job_stream_count(vg_job *j)
{
    int n;
    if (!j)
        return 0;
    pthread_mutex_lock(&j->lock);
    n = j->n_slots;
    pthread_mutex_unlock(&j->lock);
    return n;
}

int vg_job_stream_get(vg_job *j, int index, vg_job_stream_status *out)
{
    const job_stream *s;
    if (!j || !out)
        return VG_EINVAL;
    pthread_mutex_lock(&j->lock);
    if (index < 0 || index >= j->n_slots) {
        pthread_mutex_unlock(&j->lock);
        return VG_EINVAL;
    }
    s = &j->streams[index];
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    snprintf(out->input, sizeof(out->input), "%s", s->input);
    out->state = s->state;
    out->frames = (int64_t)atomic_load(&((job_stream *)s)->frames);
    out->end_code = s->end_code;
    snprintf(out->message, sizeof(out->message), "%s", s->message);
    {
        vgi_live_figures fig;
        vgi_live_figures_get(&((job_stream *)s)->live, &fig);
        if (s->state == VG_JOB_STREAM_RUNNING) {
            out->fps = fig.fps;
            out->detect_fps = fig.detect_fps;
        }
        out->frames_dropped = fig.frames_dropped;
        out->reconnects = fig.reconnects;
        out->live_state = fig.live_state;
        out->memory_bytes = fig.memory_bytes;
        out->width = fig.width;
        out->height = fig.height;
    }
    if (s->state == VG_JOB_STREAM_ENDED || s->state == VG_JOB_STREAM_REMOVED)
        out->stats = s->stats;
    pthread_mutex_unlock(&j->lock);
    return 0;
}

void vg_job_stats_get(vg_job *j, vg_job_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    out->streams_running = j->running;
    pthread_mutex_unlock(&j->lock);
    out->max_batch = j->max_batch;
    vg_batcher_stats_get(j->batcher, &out->batcher, out->batch_sizes);
    if (j->events) {
        pthread_mutex_lock(&j->events_lock);
        vg_events_stats_get(j->events, &out->store);
        pthread_mutex_unlock(&j->events_lock);
    }
}

void vg_job_destroy(vg_job **jp)
{
    vg_job *j;
    if (!jp || !*jp)
        return;
    j = *jp;
    if (j->streams)
        vg_job_stop(j);
    vg_batcher_destroy(&j->batcher);
    if (j->events && vg_events_close(&j->events) < 0)
        vg_log(j->ctx, VG_LOG_ERROR, "%s: events: final commit failed",
               j->out_dir);
    for (int i = 0; i < VG_BATCHER_MAX_BATCH; i++)
        vg_buf_unref(&j->rows[i]);
    vg_pool_destroy(&j->rows_pool);
    vg_detector_destroy(&j->det);
    if (j->acquired)
        vg_residency_release(j->o.residency, j->model_name);
    if (j->streams)
        for (int i = 0; i < VG_JOB_MAX_STREAMS; i++) {
            vg_source_close(&j->streams[i].source);
            vg_context_destroy(&j->streams[i].ctx);
            vgi_live_destroy(&j->streams[i].live);
        }
    vg_free(j->ctx, j->streams);
    vg_context_destroy(&j->ictx);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->events_lock);
    pthread_mutex_destroy(&j->lock);
    vg_free(j->ctx, j);
    *jp = NULL;
}

/* ---- hooks for vigil serve ---------------------------------------------- */

/* The camera called name that is in the job (added, running or ended, not
 * removed); j->lock held. NULL when none. */
static job_stream *find_camera(vg_job *j, const char *name)
{
    for (int i = 0; name && i < j->n_slots; i++) {
        job_stream *s = &j->streams[i];
        if (s->state != VG_JOB_STREAM_REMOVED && !strcmp(s->name, name))
            return s;
    }
    return NULL;
}

int vg_job_watch(vg_job *j, const char *camera, int delta)
{
    job_stream *s;
    int n;

    if (!j || !camera)
        return VG_EINVAL;
    pthread_mutex_lock(&j->lock);
    s = find_camera(j, camera);
    if (!s) {
        pthread_mutex_unlock(&j->lock);
        return vg_fail(j->ctx, VG_ENOENT, "%s: no such camera in the job",
                       camera);
    }
    n = vgi_live_watch(&s->live, delta);
    pthread_mutex_unlock(&j->lock);
    return n;
}

int vg_job_frame_get(vg_job *j, const char *camera, int max_width,
                     uint64_t *seq, uint8_t *buf, size_t cap, int *w, int *h)
{
    job_stream *s;
    int rc;

    if (!j || !camera || !seq || !w || !h)
        return VG_EINVAL;
    pthread_mutex_lock(&j->lock);
    s = find_camera(j, camera);
    if (!s) {
        pthread_mutex_unlock(&j->lock);
        return vg_fail(j->ctx, VG_ENOENT, "%s: no such camera in the job",
                       camera);
    }
    s->readers++; /* the slot stays while the copy runs */
    pthread_mutex_unlock(&j->lock);
    rc = vgi_live_read(&s->live, max_width, seq, buf, cap, w, h);
    pthread_mutex_lock(&j->lock);
    if (--s->readers == 0)
        pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    if (rc == VG_ERANGE)
        return vg_fail(j->ctx, VG_ERANGE,
                       "%s: %zu bytes cannot hold the picture", camera, cap);
    return rc;
}

int vg_job_set_rules(vg_job *j, const char *camera, const vg_rules_config *cfg)
{
    job_stream *s;
    int rc, w, h;

    if (!j || !camera || !cfg)
        return VG_EINVAL;
    pthread_mutex_lock(&j->lock);
    s = find_camera(j, camera);
    if (!s) {
        pthread_mutex_unlock(&j->lock);
        return vg_fail(j->ctx, VG_ENOENT, "%s: no such camera in the job",
                       camera);
    }
    /* the frame size: the running camera's, else the open source of a
     * camera not started yet (its thread has not taken it); not known:
     * checked without it now, against it at the start */
    w = atomic_load(&s->live.width);
    h = atomic_load(&s->live.height);
    if ((w <= 0 || h <= 0) && s->state == VG_JOB_STREAM_ADDED && s->source) {
        vg_source_info si;
        vg_source_get_info(s->source, &si);
        w = si.width;
        h = si.height;
    }
    rc = vg_rules_config_check(j->ctx, cfg, w > 0 ? w : 0, h > 0 ? h : 0);
    if (rc < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", vg_context_errmsg(j->ctx));
        pthread_mutex_unlock(&j->lock);
        return vg_fail(j->ctx, rc, "%s: %s", camera, msg);
    }
    rc = vgi_live_set_rules(&s->live, cfg);
    pthread_mutex_unlock(&j->lock);
    if (rc < 0)
        return vg_fail(j->ctx, rc, "%s: out of memory for the rules", camera);
    return 0;
}

const char *vg_job_out_dir(const vg_job *j)
{
    return j ? j->out_dir : NULL;
}
