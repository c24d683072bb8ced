#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vigil/fsutil.h"
#include "vigil/parse.h"
#include "vigil/reid.h"

#ifndef VG_DATA_DIR
#define VG_DATA_DIR "."
#endif

int cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("vigil: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return VG_EXIT_ERROR;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vigil %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr); /* one line: scripts read it (--help tells more) */
    return VG_EXIT_USAGE;
}

const char *cli_shown(const char *v, char *buf, size_t size)
{
    size_t n = 0;
    for (; *v && n + 4 < size; v++)
        buf[n++] = (unsigned char)*v < 0x20 || *v == 0x7f ? '?' : *v;
    if (*v) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

int cli_need_value(const char *cmd, int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        cli_usage_error(cmd, "%s: needs a value", argv[i]);
        return 0;
    }
    return 1;
}

int cli_parse_int(const char *cmd, const char *opt, const char *v, int64_t min,
                  int64_t max, int64_t *out)
{
    char shown[80];
    int rc = vg_parse_int64(v, min, max, out);
    if (rc < 0)
        cli_usage_error(cmd, "%s: '%s' is %s (%lld..%lld)", opt,
                        cli_shown(v, shown, sizeof(shown)),
                        rc == VG_ERANGE ? "out of range" : "not a whole number",
                        (long long)min, (long long)max);
    return rc < 0 ? -1 : 0;
}

int cli_parse_number(const char *cmd, const char *opt, const char *v,
                     double min, double max, double *out)
{
    char shown[80];
    int rc = vg_parse_double(v, min, max, out);
    if (rc < 0)
        cli_usage_error(cmd, "%s: '%s' is %s (%g..%g)", opt,
                        cli_shown(v, shown, sizeof(shown)),
                        rc == VG_ERANGE ? "out of range" : "not a number", min,
                        max);
    return rc < 0 ? -1 : 0;
}

int cli_parse_size(const char *cmd, const char *opt, const char *v,
                   uint64_t *out)
{
    char shown[80];
    int rc = vg_parse_size(v, 0, (uint64_t)INT64_MAX, out);
    if (rc == VG_ERANGE)
        cli_usage_error(cmd, "%s: '%s' is out of range (0 to 8 EiB)", opt,
                        cli_shown(v, shown, sizeof(shown)));
    else if (rc < 0)
        cli_usage_error(cmd,
                        "%s: '%s' is not a size such as 512MiB, 2GiB, 1.5G or "
                        "a byte count",
                        opt, cli_shown(v, shown, sizeof(shown)));
    return rc < 0 ? -1 : 0;
}

/* --classes NAME,NAME,...: COCO names, none empty, none twice, at most
 * VG_MAX_CLASS_FILTER. */
static int parse_classes(const char *cmd, const char *v, vg_settings *s)
{
    char shown[80];
    const char *p = v;
    int n = 0;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[sizeof(s->classes[0])];
        if (len == 0) {
            cli_usage_error(cmd,
                            "--classes: '%s' has an empty class name "
                            "(expected COCO names such as person,car)",
                            cli_shown(v, shown, sizeof(shown)));
            return -1;
        }
        snprintf(name, sizeof(name), "%.*s", (int)len, p);
        if (len >= sizeof(name) || vg_coco_class_id(name) < 0) {
            cli_usage_error(cmd,
                            "--classes: unknown class '%s' (expected COCO "
                            "names such as person,car)",
                            cli_shown(name, shown, sizeof(shown)));
            return -1;
        }
        for (int j = 0; j < n; j++)
            if (!strcmp(s->classes[j], name)) {
                cli_usage_error(cmd, "--classes: '%s' is listed twice", name);
                return -1;
            }
        if (n >= VG_MAX_CLASS_FILTER) {
            cli_usage_error(cmd, "--classes: more than %d classes",
                            VG_MAX_CLASS_FILTER);
            return -1;
        }
        snprintf(s->classes[n++], sizeof(s->classes[0]), "%s", name);
        if (!comma)
            break;
        p = comma + 1;
    }
    s->n_classes = n;
    return 0;
}

int cli_parse_common(const char *cmd, int argc, char **argv, int *i,
                     cli_detect_args *a)
{
    const char *o = argv[*i];
    vg_settings *s = &a->settings;
    int64_t x;
    double d;

    if (!strcmp(o, "--model") || !strcmp(o, "-m")) {
        if (!cli_need_value(cmd, argc, argv, *i))
            return -1;
        snprintf(s->model, sizeof(s->model), "%s", argv[++*i]);
        s->origin.model = VG_ORIGIN_CLI;
    } else if (!strcmp(o, "--config") || !strcmp(o, "-c")) {
        if (!cli_need_value(cmd, argc, argv, *i))
            return -1;
        a->config = argv[++*i];
    } else if (!strcmp(o, "--out") || !strcmp(o, "-o")) {
        if (!cli_need_value(cmd, argc, argv, *i))
            return -1;
        a->out_dir = argv[++*i];
    } else if (!strcmp(o, "--classes")) {
        if (!cli_need_value(cmd, argc, argv, *i) ||
            parse_classes(cmd, argv[++*i], s) < 0)
            return -1;
        s->origin.classes = VG_ORIGIN_CLI;
    } else if (!strcmp(o, "--threads")) {
        if (!cli_need_value(cmd, argc, argv, *i) ||
            cli_parse_int(cmd, o, argv[++*i], 1, 256, &x) < 0)
            return -1;
        s->threads = (int)x;
        s->origin.threads = VG_ORIGIN_CLI;
    } else if (!strcmp(o, "--queue")) {
        if (!cli_need_value(cmd, argc, argv, *i) ||
            cli_parse_int(cmd, o, argv[++*i], 1, 64, &x) < 0)
            return -1;
        s->queue_depth = (int)x;
        s->origin.queue_depth = VG_ORIGIN_CLI;
    } else if (!strcmp(o, "--timeout-ms")) {
        if (!cli_need_value(cmd, argc, argv, *i) ||
            cli_parse_int(cmd, o, argv[++*i], 1, 3600000, &x) < 0)
            return -1;
        s->timeout_ms = (int)x;
        s->origin.timeout_ms = VG_ORIGIN_CLI;
    } else if (!strcmp(o, "--score")) {
        if (!cli_need_value(cmd, argc, argv, *i) ||
            cli_parse_number(cmd, o, argv[++*i], 0, 1, &d) < 0)
            return -1;
        s->score_threshold = (float)d;
        s->origin.score_threshold = VG_ORIGIN_CLI;
    } else if (!strcmp(o, "--iou")) {
        if (!cli_need_value(cmd, argc, argv, *i) ||
            cli_parse_number(cmd, o, argv[++*i], 0, 1, &d) < 0)
            return -1;
        s->nms_iou = (float)d;
        s->origin.nms_iou = VG_ORIGIN_CLI;
    } else if (!strcmp(o, "--head")) {
        int h;
        if (!cli_need_value(cmd, argc, argv, *i))
            return -1;
        h = vg_head_kind_parse(argv[++*i]);
        if (h < 0) {
            cli_usage_error(
                cmd, "--head expects auto, nanodet, yolov5 or yolov8, got '%s'",
                argv[*i]);
            return -1;
        }
        s->head = h;
        s->origin.head = VG_ORIGIN_CLI;
    } else if (!strcmp(o, "--max-frames")) {
        if (!cli_need_value(cmd, argc, argv, *i) ||
            cli_parse_int(cmd, o, argv[++*i], 1, INT64_C(1) << 40, &x) < 0)
            return -1;
        a->max_frames = x;
    } else if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) {
        a->quiet = 1;
    } else if (!strcmp(o, "--progress")) {
        a->progress = 1;
    } else if (!strcmp(o, "--no-progress")) {
        a->progress = 0;
    } else {
        return 0;
    }
    return 1;
}

int cli_resolve_settings(vg_context *ctx, cli_detect_args *a)
{
    vg_settings cli = a->settings; /* what the command line set */
    vg_settings *s = &a->settings;

    vg_settings_builtin(s);
    if (a->config && vg_settings_load(ctx, a->config, s) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
#define TAKE(field)                                                            \
    if (cli.origin.field == VG_ORIGIN_CLI) {                                   \
        s->field = cli.field;                                                  \
        s->origin.field = VG_ORIGIN_CLI;                                       \
    }
    if (cli.origin.model == VG_ORIGIN_CLI) {
        memcpy(s->model, cli.model, sizeof(s->model));
        s->origin.model = VG_ORIGIN_CLI;
    }
    if (cli.origin.classes == VG_ORIGIN_CLI) {
        memcpy(s->classes, cli.classes, sizeof(s->classes));
        s->n_classes = cli.n_classes;
        s->origin.classes = VG_ORIGIN_CLI;
    }
    TAKE(threads)
    TAKE(queue_depth)
    TAKE(timeout_ms)
    TAKE(score_threshold)
    TAKE(nms_iou)
    TAKE(head)
#undef TAKE
    vg_sysinfo_probe(ctx, &a->sysinfo);
    vg_session_probe_runtime(&a->sysinfo);
    vg_settings_probe(s, &a->sysinfo);
    return 0;
}

void cli_detector_opts(const vg_settings *s, vg_detector_opts *o)
{
    vg_detector_opts_from_settings(s, o);
}

int cli_check_reid_model(vg_context *ctx, const vg_settings *s,
                         vg_plan_opts *po)
{
    vg_reid_embedder *e = NULL;
    if (!s->reid_enabled || !s->reid_model[0])
        return 0;
    if (vg_reid_embedder_create(ctx, s->reid_model, NULL, &e) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        return -1;
    }
    if (po != NULL) {
        po->reid_dim = vg_reid_embedder_dim(e);
        po->reid_input_bytes = vg_reid_embedder_input_bytes(e);
    }
    vg_reid_embedder_destroy(&e);
    return 0;
}

int cli_open_detector(vg_context *ctx, const vg_settings *s, vg_detector **out)
{
    vg_detector_opts o;
    int rc;

    cli_detector_opts(s, &o);
    rc = vg_detector_create(ctx, s->model, &o, out);
    if (rc < 0) {
        if (rc == VG_ENOENT)
            return cli_error("%s: model file not found (run scripts/bootstrap "
                             "to fetch the default models, or pass --model)",
                             s->model);
        return cli_error("%s", vg_context_errmsg(ctx)[0]
                                   ? vg_context_errmsg(ctx)
                                   : vg_strerror(rc));
    }
    return 0;
}

void cli_json_string(FILE *f, const char *s)
{
    vg_json_string(f, s);
}

static void stop_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

void cli_signals_block(void)
{
    sigset_t set;
    stop_signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void write_stderr(const char *msg)
{
    ssize_t n = write(STDERR_FILENO, msg, strlen(msg));
    (void)n;
}

static void *signal_watch(void *arg)
{
    cli_signals *s = arg;
    const struct timespec slice = {0, 100000000L}; /* 100 ms */
    int64_t stop_at = 0;
    sigset_t set;

    stop_signal_set(&set);
    while (!atomic_load(&s->quit)) {
        int sig = sigtimedwait(&set, NULL, &slice);
        if (sig > 0) {
            if (atomic_load(&s->signo) != 0) {
                write_stderr("vigil: second signal: stopping now\n");
                _exit(130);
            }
            atomic_store(&s->signo, sig);
            vg_context_request_stop(s->ctx);
            stop_at = vg_clock_ns();
        }
        if (stop_at != 0 &&
            vg_clock_ns() - stop_at > (int64_t)CLI_STOP_GRACE_S * 1000000000) {
            write_stderr("vigil: did not stop within 10 s of the signal; "
                         "exiting\n");
            _exit(130);
        }
    }
    return NULL;
}

int cli_signals_start(cli_signals *s, vg_context *ctx)
{
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    atomic_init(&s->quit, 0);
    atomic_init(&s->signo, 0);
    if (pthread_create(&s->thread, NULL, signal_watch, s) != 0) {
        sigset_t set;
        stop_signal_set(&set);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        return -1;
    }
    s->started = 1;
    return 0;
}

void cli_signals_stop(cli_signals *s)
{
    if (!s->started)
        return;
    atomic_store(&s->quit, 1);
    pthread_join(s->thread, NULL);
    s->started = 0;
}

int cli_context_create(vg_context **ctx, cli_signals *sig)
{
    memset(sig, 0, sizeof(*sig));
    if (vg_context_create(ctx) < 0)
        return -1;
    cli_signals_start(sig, *ctx);
    return 0;
}

int cli_context_destroy(vg_context **ctx, cli_signals *sig, int exit_code)
{
    int stopped = *ctx != NULL && vg_context_stop_requested(*ctx);
    cli_signals_stop(sig);
    vg_context_destroy(ctx);
    if (stopped && exit_code != 130) {
        fprintf(stderr, "vigil: stopped by a signal\n");
        return 130;
    }
    return exit_code;
}

int cli_interrupted(vg_context *ctx)
{
    return vg_context_stop_requested(ctx);
}

void cli_progress_start(cli_progress *p, int mode, int64_t total)
{
    memset(p, 0, sizeof(*p));
    p->enabled = mode < 0 ? isatty(STDERR_FILENO) : mode;
    p->total = total;
    p->start_ns = vg_clock_ns();
}

void cli_progress_update(cli_progress *p, int64_t done)
{
    int64_t now = vg_clock_ns();
    double el, fps;
    char bar[31];
    int width = 30, fill;

    if (!p->enabled || now - p->last_ns < 100000000LL)
        return;
    p->last_ns = now;
    el = (double)(now - p->start_ns) / 1e9;
    fps = el > 0 ? (double)done / el : 0;
    if (p->total > 0) {
        double eta = fps > 0 ? (double)(p->total - done) / fps : 0;
        fill = (int)((double)width * (double)done / (double)p->total);
        if (fill > width)
            fill = width;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(width - fill));
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %lld/%lld frames  %.1f fps  ETA %d:%02d ", bar,
                (long long)done, (long long)p->total, fps, (int)eta / 60,
                (int)eta % 60);
    } else {
        fprintf(stderr, "\r%lld frames  %.1f fps ", (long long)done, fps);
    }
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->enabled) {
        p->last_ns = 0;
        fputc('\n', stderr);
    }
}

void cli_default_job(char *input, size_t input_size, char *config,
                     size_t config_size)
{
    const char *data = getenv("VIGIL_DATA");

    vg_cache_path("videos/vtest.avi", input, input_size);
    snprintf(config, config_size, "%s/examples/site.yaml",
             data && *data ? data : VG_DATA_DIR);
}

int cli_load_job(vg_context *ctx, const cli_detect_args *a, vg_job_config **out,
                 const char **inputs, int *n_inputs, int max_inputs,
                 const char *default_input)
{
    vg_job_config *job = vg_malloc(ctx, sizeof(*job));
    *out = NULL;
    if (job == NULL)
        return cli_error("out of memory");
    vg_job_config_default(job);
    if ((a->config &&
         vg_job_config_load(ctx, a->config, &a->settings, job) < 0) ||
        vg_job_config_finish(ctx, job, &a->settings, a->config) < 0) {
        vg_free(ctx, job);
        return cli_error("%s", vg_context_errmsg(ctx));
    }
    if (*n_inputs == 0) {
        for (int i = 0; i < job->n_inputs && *n_inputs < max_inputs; i++)
            inputs[(*n_inputs)++] = job->inputs[i];
        if (*n_inputs == 0)
            inputs[(*n_inputs)++] = default_input;
    }
    *out = job;
    return 0;
}

int cli_open_telemetry(vg_context *ctx, const vg_settings *s,
                       vg_telemetry **out)
{
    vg_telemetry_opts to;
    vg_telemetry_opts_default(&to);
    to.interval_s = s->telemetry_interval_s;
    to.leak_slope_bytes_per_s = s->leak_slope;
    to.window_s = s->leak_window_s;
    if (vg_telemetry_create(ctx, &to, out) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    return 0;
}

int cli_open_residency(vg_context *ctx, const vg_job_config *job,
                       uint64_t host_reserved, vg_telemetry *telemetry,
                       int detector_only, vg_residency **out)
{
    vg_residency_opts ro;
    int d = vg_job_config_find(job, VG_MODEL_DETECTOR);
    vg_residency_opts_default(&ro);
    ro.budget = job->budget;
    ro.host_reserved = host_reserved;
    ro.telemetry = telemetry;
    if (vg_residency_create(ctx, &ro, out) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    for (int i = 0; i < job->n_models; i++)
        if ((!detector_only || i == d) &&
            vg_residency_add(*out, &job->models[i]) < 0)
            return cli_error("%s", vg_context_errmsg(ctx));
    return 0;
}

void cli_cctv_job_opts(const cli_detect_args *a, const vg_job_config *job,
                       vg_residency *residency, vg_job_opts *jo)
{
    const vg_model_decl *d =
        &job->models[vg_job_config_find(job, VG_MODEL_DETECTOR)];
    vg_job_opts_from_settings(&a->settings, jo);
    jo->out_dir = a->out_dir;
    jo->residency = residency;
    jo->model_name = d->name;
    jo->model_path = d->path;
}
