/* vigil run [INPUT ...] [-c CONFIG] [--out DIR]: the CCTV monitoring job. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_mqtt.h"
#include "vigil/cameras.h"
#include "vigil/fsutil.h"
#include "vigil/job.h"
#include "vigil/jobrun.h"
#include "vigil/plan.h"
#include "vigil/residency.h"
#include "vigil/run.h"
#include "vigil/staged.h"
#include "vigil/telemetry.h"

#define MAX_INPUTS 64

static void run_usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigil run [INPUT ...] [-c CONFIG] [--out DIR] [OPTIONS]\n"
        "\n"
        "Watches each INPUT (video file, image, rtsp:// or http:// stream):\n"
        "detects objects, tracks them (ByteTrack), applies the zone rules of\n"
        "CONFIG (intrusion, dwell, line crossing, occupancy) and writes to "
        "DIR:\n"
        "  events.db       SQLite events (schema: docs/events.md)\n"
        "  events.jsonl    the same events, one JSON object per line\n"
        "  snapshots/      DATE/EVENT_ID.jpg, the event's object outlined\n"
        "  annotated.mp4   H.264 with boxes, track ids, zones, recent events\n"
        "  tracks.txt      MOTChallenge tracks: "
        "frame,id,x,y,w,h,score,-1,-1,-1\n"
        "  report.json     frames, fps per stage, events per rule, memory\n"
        "Every input runs at the same time, one detector serving them all;\n"
        "with several, each camera writes snapshots/, tracks.txt and\n"
        "annotated.mp4 under DIR/NAME/ (events.db stays shared). A camera\n"
        "that fails is named in the error; the others run to their end.\n"
        "With no INPUT: the config's cameras (each with its own zones,\n"
        "rules, detect.fps and motion.enabled), else its inputs, else the\n"
        "bundled vtest.avi\n"
        "(with examples/site.yaml when no config is given).\n"
        "A config with `job: staged` runs the staged three-model job instead\n"
        "(detector, face detector, face embedder; writes faces.jsonl).\n"
        "\n"
        "options:\n"
        "  -c, --config FILE   YAML: detector, runtime, tracker, zones, "
        "rules,\n"
        "                      events, snapshots, video (docs/config.md)\n"
        "  -o, --out DIR       output directory (default out)\n"
        "  -m, --model FILE    ONNX detector (default: the cached NanoDet)\n"
        "      --classes LIST  COCO classes to detect, e.g. person,car\n"
        "      --threads N     inference threads\n"
        "      --max-frames N  stop each input after N frames\n"
        "      --no-video      do not write annotated.mp4\n"
        "      --no-snapshots  do not write snapshots\n"
        "      --host-memory SIZE   host memory budget, e.g. 512MiB "
        "(overrides\n"
        "                      memory.host; docs/memory.md)\n"
        "      --device-memory SIZE GPU memory budget (memory.device)\n"
        "      --metrics-port N  memory metrics for Prometheus at\n"
        "                      http://127.0.0.1:N/metrics (0: any port)\n"
        "      --reconnect-attempts N  give a live camera up after N failed\n"
        "                      connection attempts in a row (default 0: "
        "never)\n"
        "      --reconnect-backoff S   first wait before reconnecting (1 s)\n"
        "      --progress / --no-progress, -q/--quiet\n"
        "\n"
        "Exit status: 0 success, 1 error, 2 bad usage, 3 input truncated\n"
        "(everything before the cut is written), 130 interrupted.\n");
}

typedef struct run_cli {
    vg_context *ctx;
    cli_progress progress;
    vg_telemetry *telemetry; /* memory telemetry, ticked once per frame */
    vg_residency *residency; /* keep-alive expiry, ticked once per frame */
    /* the CCTV job's streams report from their own threads */
    pthread_mutex_t progress_lock;
    int64_t frames[VG_JOB_MAX_STREAMS];
    int64_t frames_total;
} run_cli;

static int should_stop(void *user)
{
    const run_cli *r = user;
    return cli_interrupted(r->ctx);
}

/* The CCTV job's: frames of every stream together, from any stream's
 * thread (the job ticks the telemetry and the residency itself). */
static void on_stream_progress(void *user, int stream, int64_t frames)
{
    run_cli *r = user;
    if (stream < 0 || stream >= VG_JOB_MAX_STREAMS)
        return;
    pthread_mutex_lock(&r->progress_lock);
    r->frames_total += frames - r->frames[stream];
    r->frames[stream] = frames;
    cli_progress_update(&r->progress, r->frames_total);
    pthread_mutex_unlock(&r->progress_lock);
}

static void print_summary(const vg_run_stats *s, const char *input)
{
    char b[32];
    printf("%s: %lld frames in %.1f s (%.1f fps end to end), %lld events "
           "(%llu stored), %lld tracks, %lld snapshots (%llu skipped), %lld "
           "video frames%s; peak RSS %s\n",
           input, (long long)s->frames, s->wall_s,
           s->wall_s > 0 ? (double)s->frames / s->wall_s : 0,
           (long long)s->events, (unsigned long long)s->store.written,
           (long long)s->tracker.confirmed, (long long)s->snapshots,
           (unsigned long long)s->snapshot_store.skipped,
           (long long)s->video_frames, s->video_stopped ? " (stopped)" : "",
           vg_format_bytes(vg_peak_rss_bytes(), b, sizeof(b)));
    if (s->n_rules > 0) {
        printf("  %-24s %-14s %7s  %s\n", "rule", "kind", "events", "notes");
        for (int r = 0; r < s->n_rules; r++) {
            char note[64] = "";
            if (s->rule[r].kind == VG_EVENT_CROSSING)
                snprintf(note, sizeof(note), "crossings A>B %llu, B>A %llu",
                         (unsigned long long)s->rule[r].crossed_a_to_b,
                         (unsigned long long)s->rule[r].crossed_b_to_a);
            printf("  %-24s %-14s %7llu  %s\n", s->rule[r].name,
                   vg_event_kind_name(s->rule[r].kind),
                   (unsigned long long)s->rule[r].fired, note);
        }
    }
}

/* Parses --host-memory / --device-memory SIZE at argv[*i]; 1 consumed, 0 not
 * this option, -1 usage error (printed). */
static int parse_budget(int argc, char **argv, int *i, uint64_t *host,
                        int *host_set, uint64_t *dev, int *dev_set)
{
    int is_host = !strcmp(argv[*i], "--host-memory");
    if (!is_host && strcmp(argv[*i], "--device-memory"))
        return 0;
    if (!cli_need_value("run", argc, argv, *i) ||
        cli_parse_size("run", argv[*i], argv[*i + 1], is_host ? host : dev) < 0)
        return -1;
    *(is_host ? host_set : dev_set) = 1;
    (*i)++;
    return 1;
}

int cmd_run(int argc, char **argv)
{
    cli_detect_args a;
    const char *inputs[MAX_INPUTS];
    vg_source **sources = NULL; /* the CCTV job's inputs, opened once */
    char(*open_errors)[256] = NULL;
    int open_codes[MAX_INPUTS];
    char(*names)[VG_STREAM_NAME_MAX] = NULL;
    char default_input[1024], default_config[1024];
    int n_inputs = 0, write_video = 1, write_snaps = 1;
    vg_context *ctx = NULL;
    cli_signals sig = {0};
    vg_job *cctv = NULL;
    vg_rules_config rules;
    vg_cameras cams; /* the config's cameras: section, when it runs them */
    int from_cameras = 0;
    vg_job_config *job = NULL;
    vg_residency *residency = NULL;
    vg_staged_stats *staged = NULL;
    vg_plan *plan = NULL;
    vg_plan_opts reid_facts; /* what checking tracker.reid_model learnt */
    int have_rules = 0, exit_code = VG_EXIT_ERROR, n_done = 0;
    vg_job_stream_status *ss = NULL;
    vg_mqtt *mqtt = NULL;
    const char *status = "ok";
    char errbuf[512] = "", path[1100];
    run_cli r;
    vg_job_report_extra mem;
    int metrics_port = -1;
    int64_t rc_attempts = 0;
    double rc_backoff = 0;
    vg_metrics_server *metrics = NULL;
    vg_outdir_lock *lock = NULL;
    uint64_t host_budget = 0, dev_budget = 0;
    int host_set = 0, dev_set = 0;

    memset(&a, 0, sizeof(a));
    memset(&rules, 0, sizeof(rules));
    memset(&cams, 0, sizeof(cams));
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.progress_lock, NULL);
    memset(&mem, 0, sizeof(mem));
    a.out_dir = "out";
    a.progress = -1;
    for (int i = 1; i < argc; i++) {
        int rc;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            run_usage(stdout);
            return VG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--no-video")) {
            write_video = 0;
            continue;
        }
        if (!strcmp(argv[i], "--no-snapshots")) {
            write_snaps = 0;
            continue;
        }
        rc = parse_budget(argc, argv, &i, &host_budget, &host_set, &dev_budget,
                          &dev_set);
        if (rc < 0)
            return VG_EXIT_USAGE;
        if (rc == 1)
            continue;
        if (!strcmp(argv[i], "--reconnect-attempts")) {
            if (!cli_need_value("run", argc, argv, i) ||
                cli_parse_int("run", argv[i], argv[i + 1], 0, 1000000,
                              &rc_attempts) < 0)
                return VG_EXIT_USAGE;
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--reconnect-backoff")) {
            if (!cli_need_value("run", argc, argv, i) ||
                cli_parse_number("run", argv[i], argv[i + 1], 0.001, 3600,
                                 &rc_backoff) < 0)
                return VG_EXIT_USAGE;
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--metrics-port")) {
            int64_t v;
            if (!cli_need_value("run", argc, argv, i) ||
                cli_parse_int("run", argv[i], argv[i + 1], 0, 65535, &v) < 0)
                return VG_EXIT_USAGE;
            metrics_port = (int)v;
            i++;
            continue;
        }
        rc = cli_parse_common("run", argc, argv, &i, &a);
        if (rc < 0)
            return VG_EXIT_USAGE;
        if (rc == 1)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("run", "unknown option '%s'", argv[i]);
        if (n_inputs >= MAX_INPUTS)
            return cli_usage_error("run", "at most %d inputs", MAX_INPUTS);
        inputs[n_inputs++] = argv[i];
    }
    cli_default_job(default_input, sizeof(default_input), default_config,
                    sizeof(default_config));
    if (n_inputs == 0 && !a.config)
        a.config = default_config;

    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    r.ctx = ctx;
    vg_context_set_log_level(ctx, VG_LOG_WARN);
    /* One run per output directory: a second one fails here, writing
     * nothing. */
    if (vg_mkdirs(a.out_dir) != 0) {
        cli_error("%s: cannot create output directory (%s)", a.out_dir,
                  strerror(errno));
        goto out;
    }
    snprintf(path, sizeof(path), "%s/report.json", a.out_dir);
    if (vg_outdir_lock_take(ctx, a.out_dir, &lock) < 0 ||
        vg_refuse_link(ctx, path) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    /* Everything in the configuration is checked before any frame. */
    vg_plan_opts_default(&reid_facts);
    if (cli_resolve_settings(ctx, &a) != 0 ||
        cli_check_reid_model(ctx, &a.settings, &reid_facts) != 0)
        goto out;
    /* The job shares two cores between inference, decoding and encoding:
     * inference threads that sleep instead of spinning leave the cycles to
     * the other stages (bench/README.md). Explicit settings win. */
    if (a.settings.origin.spin == VG_ORIGIN_BUILTIN)
        a.settings.spin = 0;
    /* No input on the command line: the config's cameras, if any. */
    if (n_inputs == 0 && a.config) {
        if (vg_cameras_load(ctx, a.config, &cams) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
        for (int i = 0; i < cams.n && n_inputs < MAX_INPUTS; i++)
            inputs[n_inputs++] = cams.cam[i].input;
        from_cameras = n_inputs > 0;
    }
    if (cli_load_job(ctx, &a, &job, inputs, &n_inputs, MAX_INPUTS,
                     default_input) != 0)
        goto out;
    if (a.max_frames > 0)
        job->staged.max_frames = a.max_frames;
    if (host_set)
        job->budget.host_bytes = host_budget;
    if (dev_set)
        job->budget.device_bytes = dev_budget;
    if (a.config && job->kind == VG_JOB_CCTV) {
        if (vg_rules_load(ctx, a.config, &rules) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
        have_rules = 1;
        if (vg_rules_config_check(ctx, &rules, 0, 0) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
    }
    /* Memory telemetry: a report every 10 s at info level (-v), the figures
     * in report.json, and the Prometheus endpoint when asked for. */
    if (cli_open_telemetry(ctx, &a.settings, &r.telemetry) != 0)
        goto out;
    /* The residency manager owns the models, under the budget. What the
     * process holds before any model or stream is its baseline; it is
     * recorded for the planner (key runtime:JOB). */
    mem.baseline_rss = vg_rss_bytes();
    /* The plan of this run, beside the measured peaks in report.json; its
     * stream buffers are what the models must leave of the budget. */
    {
        vg_plan_opts po;
        vg_plan_opts_default(&po);
        po.reid_dim = reid_facts.reid_dim;
        po.reid_input_bytes = reid_facts.reid_input_bytes;
        po.video = write_video && a.settings.video_enabled;
        /* Each input of the CCTV job is opened once, here: the plan reads
         * its size from the open source and the run takes it over. */
        if (job->kind == VG_JOB_CCTV) {
            sources = vg_calloc(ctx, (size_t)n_inputs, sizeof(*sources));
            open_errors =
                vg_calloc(ctx, (size_t)n_inputs, sizeof(*open_errors));
            if (!sources || !open_errors) {
                cli_error("out of memory");
                goto out;
            }
            for (int i = 0; i < n_inputs && !cli_interrupted(ctx); i++) {
                vg_source_opts so;
                vg_source_opts_default(&so);
                so.timeout_ms = a.settings.timeout_ms;
                open_codes[i] = 0;
                if (vg_source_open(ctx, inputs[i], &so, &sources[i]) < 0) {
                    open_codes[i] = vg_context_errcode(ctx);
                    snprintf(open_errors[i], sizeof(open_errors[i]), "%s",
                             vg_context_errmsg(ctx));
                    vg_context_clear_error(ctx);
                }
            }
            po.sources = sources;
        }
        po.host_budget_bytes = (int64_t)job->budget.host_bytes;
        po.device_budget_bytes = (int64_t)job->budget.device_bytes;
        if (vg_plan_build(ctx, job, &a.settings, inputs, n_inputs, &po, &plan) <
            0)
            vg_log(ctx, VG_LOG_WARN, "no memory plan: %s",
                   vg_context_errmsg(ctx));
        mem.plan = plan;
        /* what probing the inputs left in the heap is not the job's */
        malloc_trim(0);
    }
    {
        vg_calibration rt;
        /* Reserved: the process as it is now, ONNX Runtime's environment
         * and the largest stream's buffers of the plan. */
        uint64_t reserved = mem.baseline_rss;
        if (plan != NULL) {
            uint64_t streams = 0;
            for (int k = 0; k < plan->n_stages; k++)
                if (plan->stages[k].stream_bytes > streams)
                    streams = plan->stages[k].stream_bytes;
            reserved += VG_PLAN_ORT_ENV_BYTES + streams;
        }
        if (cli_open_residency(ctx, job, reserved, r.telemetry, 0,
                               &residency) != 0)
            goto out;
        memset(&rt, 0, sizeof(rt));
        rt.weights_bytes = mem.baseline_rss;
        snprintf(rt.provider, sizeof(rt.provider), "cpu");
        vg_calibration_path(&job->budget, path, sizeof(path));
        if (vg_calibration_store(ctx, path, vg_job_runtime_key(job->kind),
                                 &rt) < 0)
            vg_log(ctx, VG_LOG_WARN, "%s", vg_context_errmsg(ctx));
    }
    mem.job = job;
    mem.residency = residency;
    mem.config = a.config;
    mem.model = a.settings.model;
    mem.telemetry = r.telemetry;
    r.residency = residency;
    if (metrics_port >= 0 &&
        vg_metrics_server_start(ctx, r.telemetry, metrics_port, &metrics) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    if (metrics && !a.quiet)
        fprintf(stderr, "vigil: metrics at http://127.0.0.1:%d/metrics\n",
                vg_metrics_server_port(metrics));
    names = vg_calloc(ctx, (size_t)n_inputs, sizeof(*names));
    ss = vg_calloc(ctx, 1, sizeof(*ss));
    if (!names || !ss) {
        cli_error("out of memory");
        goto out;
    }
    if (vg_stream_names(ctx, inputs, n_inputs, names) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    for (int i = 0; from_cameras && i < n_inputs; i++)
        snprintf(names[i], sizeof(names[i]), "%s", cams.cam[i].name);

    exit_code = VG_EXIT_OK;
    if (job->kind == VG_JOB_STAGED) {
        int rc;
        staged = vg_calloc(ctx, 1, sizeof(*staged));
        if (staged == NULL) {
            exit_code = cli_error("out of memory");
            goto out;
        }
        mem.staged = staged;
        rc = vg_staged_run(ctx, residency, job, inputs, n_inputs, a.out_dir,
                           should_stop, &r, staged);
        n_done = 0;
        if (staged->stopped) {
            status = "interrupted";
            snprintf(errbuf, sizeof(errbuf), "interrupted");
            exit_code = 130;
        } else if (rc == VG_ETRUNCATED) {
            status = "truncated";
            snprintf(errbuf, sizeof(errbuf), "%s", vg_context_errmsg(ctx));
            exit_code = VG_EXIT_TRUNCATED;
        } else if (rc < 0) {
            status = "error";
            snprintf(errbuf, sizeof(errbuf), "%s",
                     vg_context_errmsg(ctx)[0] ? vg_context_errmsg(ctx)
                                               : vg_strerror(rc));
            fprintf(stderr, "vigil: error: %s\n", errbuf);
            exit_code = VG_EXIT_ERROR;
        }
        if (!a.quiet) {
            char b1[32], b2[32];
            for (int i = 0; i < n_inputs; i++)
                printf("%s: %lld frames used of %lld, %lld persons, %lld "
                       "faces, %lld embeddings\n",
                       inputs[i], (long long)staged->input[i].frames_used,
                       (long long)staged->input[i].frames_read,
                       (long long)staged->input[i].persons,
                       (long long)staged->input[i].faces,
                       (long long)staged->input[i].embeddings);
            printf("peak RSS %s in stages (all three models resident: %s)\n",
                   vg_format_bytes(staged->peak_rss_bytes, b1, sizeof(b1)),
                   vg_format_bytes(staged->all_resident_estimate_bytes, b2,
                                   sizeof(b2)));
        }
        goto report;
    }
    /* The CCTV job: every input at the same time, one shared detector. */
    {
        vg_job_opts jo;
        int64_t total = 0;
        cli_cctv_job_opts(&a, job, residency, &jo);
        jo.rules = have_rules ? &rules : NULL;
        jo.per_stream_dirs = n_inputs > 1;
        jo.telemetry = r.telemetry;
        jo.progress = on_stream_progress;
        jo.user = &r;
        jo.run.max_frames = a.max_frames;
        jo.run.write_snapshots = write_snaps && a.settings.snap_enabled;
        jo.run.write_video = write_video && a.settings.video_enabled;
        jo.run.reconnect.max_attempts = (unsigned)rc_attempts;
        if (rc_backoff > 0) {
            jo.run.reconnect.backoff_initial_s = rc_backoff;
            if (jo.run.reconnect.backoff_max_s < rc_backoff)
                jo.run.reconnect.backoff_max_s = rc_backoff;
        }
        if (vg_job_create(ctx, &jo, &cctv) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            exit_code = VG_EXIT_ERROR;
            goto out;
        }
        for (int i = 0; i < n_inputs; i++) {
            vg_job_stream_opts so;
            vg_run_opts cam_run; /* copied by vg_job_add_stream */
            memset(&so, 0, sizeof(so));
            so.input = inputs[i];
            so.name = names[i];
            if (from_cameras) { /* the camera's own settings and rules */
                const vg_camera_config *cc = &cams.cam[i];
                cam_run = jo.run;
                if (cc->detect_fps > -2)
                    cam_run.detect_fps = cc->detect_fps;
                if (cc->reid_enabled >= 0)
                    cam_run.reid_enabled = cc->reid_enabled;
                if (cc->motion_enabled >= 0)
                    cam_run.motion_enabled = cc->motion_enabled;
                so.run = &cam_run;
                so.rules = cc->has_rules ? &cc->rules : NULL;
            }
            if (sources[i] != NULL) {
                so.source = &sources[i];
            } else if (open_codes[i] < 0 && open_codes[i] != VG_EINTR &&
                       vg_source_is_network_url(inputs[i])) {
                /* a camera that did not answer at planning: retried as
                 * live (that open was its first attempt) */
                so.first_open_code = open_codes[i];
                so.first_open_error = open_errors[i];
            } else {
                /* opened (and failed) once, before the plan: not again */
                if (open_codes[i] != VG_EINTR) {
                    fprintf(stderr, "vigil: error: %s: %s\n", names[i],
                            open_errors[i]);
                    snprintf(errbuf, sizeof(errbuf), "%s: %s", names[i],
                             open_errors[i]);
                    status = "error";
                    exit_code = VG_EXIT_ERROR;
                }
                continue;
            }
            if (vg_job_add_stream(cctv, &so, NULL) < 0) {
                fprintf(stderr, "vigil: error: %s\n", vg_context_errmsg(ctx));
                snprintf(errbuf, sizeof(errbuf), "%s", vg_context_errmsg(ctx));
                status = "error";
                exit_code = VG_EXIT_ERROR;
                continue;
            }
            /* frame count for the progress bar, read when planning */
            if (total >= 0 && plan != NULL && i < plan->n_streams &&
                plan->streams[i].opened && plan->streams[i].frame_count > 0)
                total += a.max_frames > 0 &&
                                 a.max_frames < plan->streams[i].frame_count
                             ? a.max_frames
                             : plan->streams[i].frame_count;
            else
                total = -1;
        }
        n_done = vg_job_stream_count(cctv);
        if (n_done == 0)
            goto out;
        cli_progress_start(&r.progress, a.quiet ? 0 : a.progress, total);
        if (vg_job_start(cctv) < 0) {
            /* nothing ran (the event store could not be opened) */
            exit_code = cli_error("%s", vg_context_errmsg(ctx));
            cli_progress_end(&r.progress);
            n_done = 0;
            goto out;
        }
        cli_mqtt_start(ctx, &a.settings, a.out_dir, cctv, &mqtt);
        vg_job_wait(cctv);
        if (vg_job_stop(cctv) < 0) {
            snprintf(errbuf, sizeof(errbuf), "%s", vg_context_errmsg(ctx));
            fprintf(stderr, "vigil: error: %s\n", errbuf);
            status = "error";
            exit_code = VG_EXIT_ERROR;
        }
        cli_progress_end(&r.progress);
        cli_mqtt_finish(ctx, &mqtt, cctv); /* after the last commit */
    }
    /* Each camera's end: a failed one is named, the others' outputs are
     * complete. */
    for (int i = 0; i < n_done; i++) {
        const vg_run_stats *st = &ss->stats;
        if (vg_job_stream_get(cctv, i, ss) < 0)
            continue;
        if (!a.quiet && (st->frames > 0 || ss->end_code >= 0 ||
                         ss->end_code == VG_ETRUNCATED))
            print_summary(st, ss->name);
        if (st->stopped) {
            snprintf(errbuf, sizeof(errbuf),
                     "interrupted after %lld frames of %s",
                     (long long)st->frames, ss->name);
            status = "interrupted";
            exit_code = 130;
        } else if (ss->end_code == VG_ETRUNCATED) {
            snprintf(errbuf, sizeof(errbuf),
                     "%s (the %lld frames before the cut were processed and "
                     "written)",
                     ss->message, (long long)st->frames);
            fprintf(stderr, "vigil: error: %s: %s\n", ss->name, errbuf);
            if (exit_code == VG_EXIT_OK) {
                status = "truncated";
                exit_code = VG_EXIT_TRUNCATED;
            }
        } else if (ss->end_code < 0) {
            /* this camera failed; the others ran to their end */
            snprintf(errbuf, sizeof(errbuf), "%s: %s", ss->name, ss->message);
            fprintf(stderr, "vigil: error: %s\n", errbuf);
            if (exit_code != 130) {
                status = "error";
                exit_code = VG_EXIT_ERROR;
            }
        }
    }
report:
    if (n_done > 0 || staged != NULL) {
        snprintf(path, sizeof(path), "%s/report.json", a.out_dir);
        mem.status = status;
        mem.error = errbuf;
        if (vg_job_write_report(ctx, cctv, &mem, path) < 0)
            fprintf(stderr, "vigil: warning: %s\n", vg_context_errmsg(ctx));
        if (exit_code == 130)
            fprintf(stderr, "vigil: stopped: %s\n", errbuf);
        if (!a.quiet && staged != NULL)
            printf("outputs in %s/: faces.jsonl staged/ report.json\n",
                   a.out_dir);
        else if (!a.quiet && n_done > 1)
            printf("outputs in %s/: events.db events.jsonl report.json, "
                   "per camera CAMERA/: snapshots/ tracks.txt%s\n",
                   a.out_dir, write_video ? " annotated.mp4" : "");
        else if (!a.quiet)
            printf("outputs in %s/: events.db events.jsonl snapshots/ "
                   "tracks.txt%s report.json\n",
                   a.out_dir, write_video ? " annotated.mp4" : "");
    }
out:
    vg_outdir_lock_release(&lock);
    vg_metrics_server_stop(&metrics);
    vg_mqtt_destroy(&mqtt);
    vg_job_destroy(&cctv);
    vg_residency_destroy(&residency);
    vg_plan_destroy(&plan);
    vg_telemetry_destroy(&r.telemetry);
    vg_free(ctx, ss);
    vg_free(ctx, names);
    if (sources != NULL)
        for (int i = 0; i < n_inputs; i++)
            vg_source_close(&sources[i]);
    vg_free(ctx, sources);
    vg_free(ctx, open_errors);
    vg_free(ctx, staged);
    vg_free(ctx, job);
    if (have_rules)
        vg_rules_config_free(ctx, &rules);
    vg_cameras_free(ctx, &cams);
    pthread_mutex_destroy(&r.progress_lock);
    return cli_context_destroy(&ctx, &sig, exit_code);
}
