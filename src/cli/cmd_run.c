/* vigil run [INPUT ...] [-c CONFIG] [--out DIR]: the CCTV monitoring job. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/fsutil.h"
#include "vigil/job.h"
#include "vigil/plan.h"
#include "vigil/residency.h"
#include "vigil/run.h"
#include "vigil/staged.h"
#include "vigil/telemetry.h"

#define MAX_INPUTS 16

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
        "With several inputs, tracks and video get a _STREAM suffix.\n"
        "With no INPUT: the config's inputs, else the bundled vtest.avi\n"
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
} run_cli;

static int should_stop(void *user)
{
    const run_cli *r = user;
    return cli_interrupted(r->ctx);
}

static void on_progress(void *user, int64_t frames)
{
    run_cli *r = user;
    cli_progress_update(&r->progress, frames);
    vg_telemetry_tick(r->telemetry);
    vg_residency_tick(r->residency);
}

/* What report.json says about memory beyond the telemetry. */
typedef struct run_mem {
    const vg_job_config *job;
    const vg_plan *plan; /* made before the run, NULL if it failed */
    vg_residency *residency;
    const vg_staged_stats *staged; /* NULL for the CCTV job */
    uint64_t baseline_rss;         /* before any model or stream */
} run_mem;

static void write_models(FILE *f, const run_mem *m)
{
    vg_residency_stats rs;
    int n = vg_residency_model_count(m->residency);
    vg_residency_stats_get(m->residency, &rs);
    fprintf(f,
            ",\n    \"budget\": {\"host_bytes\": %llu, \"device_bytes\": %llu, "
            "\"margin\": %.3f, \"models_allowance_bytes\": %llu}",
            (unsigned long long)m->job->budget.host_bytes,
            (unsigned long long)m->job->budget.device_bytes,
            m->job->budget.margin, (unsigned long long)rs.allowance_host_bytes);
    fprintf(f,
            ",\n    \"residency\": {\"peak_resident_host_bytes\": %llu, "
            "\"peak_resident_device_bytes\": %llu, \"loads\": %llu, "
            "\"unloads\": %llu, \"evictions\": %llu, \"refusals\": %llu, "
            "\"ladder\": {\"retries\": %llu, \"smaller_batch\": %llu, "
            "\"cpu_fallback\": %llu, \"gave_up\": %llu}, "
            "\"unload_leaks\": %llu,\n      \"models\": [",
            (unsigned long long)rs.peak_resident_host_bytes,
            (unsigned long long)rs.peak_resident_device_bytes,
            (unsigned long long)rs.loads, (unsigned long long)rs.unloads,
            (unsigned long long)rs.evictions, (unsigned long long)rs.refusals,
            (unsigned long long)rs.ladder_retries,
            (unsigned long long)rs.ladder_smaller_batch,
            (unsigned long long)rs.ladder_cpu_fallback,
            (unsigned long long)rs.ladder_gave_up,
            (unsigned long long)rs.unload_leaks);
    for (int i = 0; i < n; i++) {
        vg_model_stats ms;
        if (vg_residency_model_stats(m->residency, i, &ms) < 0)
            continue;
        fprintf(f, "%s\n        {\"name\": ", i ? "," : "");
        cli_json_string(f, ms.name);
        fprintf(f,
                ", \"kind\": \"%s\", \"policy\": \"%s\", \"state\": \"%s\", "
                "\"host_bytes\": %llu, \"device_bytes\": %llu, "
                "\"calibrated\": %s, \"batch\": %d, \"cpu_fallback\": %s, "
                "\"loads\": %llu, \"unloads\": %llu, \"evictions\": %llu, "
                "\"load_ms\": %.1f, \"not_returned_bytes\": %llu}",
                vg_model_kind_name(ms.kind), vg_model_policy_name(ms.policy),
                ms.state == VG_MODEL_RESIDENT ? "resident"
                : ms.state == VG_MODEL_FAILED ? "failed"
                                              : "unloaded",
                (unsigned long long)ms.host_bytes,
                (unsigned long long)ms.device_bytes,
                ms.calibrated ? "true" : "false", ms.batch,
                ms.on_cpu_fallback ? "true" : "false",
                (unsigned long long)ms.loads, (unsigned long long)ms.unloads,
                (unsigned long long)ms.evictions, ms.load_ms,
                (unsigned long long)ms.not_returned_bytes);
    }
    fprintf(f, "]}");
}

static void write_staged(FILE *f, const run_mem *m)
{
    const vg_staged_stats *st = m->staged;
    fprintf(f,
            ",\n    \"staged\": {\"peak_rss_bytes\": %llu, "
            "\"all_resident_estimate_bytes\": %llu, "
            "\"baseline_rss_bytes\": %llu, \"stages\": [",
            (unsigned long long)st->peak_rss_bytes,
            (unsigned long long)st->all_resident_estimate_bytes,
            (unsigned long long)st->baseline_rss_bytes);
    for (int k = 0; k < VG_STAGES; k++) {
        fprintf(f, "%s\n      {\"model\": ", k ? "," : "");
        cli_json_string(f, st->stage[k].model);
        fprintf(f,
                ", \"wall_s\": %.3f, \"peak_rss_bytes\": %llu, "
                "\"model_host_bytes\": %llu, \"start_rss_bytes\": %llu}",
                st->stage[k].wall_s,
                (unsigned long long)st->stage[k].peak_rss_bytes,
                (unsigned long long)st->stage[k].model_host_bytes,
                (unsigned long long)st->stage[k].start_rss_bytes);
    }
    fprintf(f, "],\n      \"inputs\": [");
    for (int i = 0; i < st->n_inputs; i++)
        fprintf(f,
                "%s\n        {\"frames_read\": %lld, \"frames_used\": %lld, "
                "\"persons\": %lld, \"faces\": %lld, \"embeddings\": %lld}",
                i ? "," : "", (long long)st->input[i].frames_read,
                (long long)st->input[i].frames_used,
                (long long)st->input[i].persons, (long long)st->input[i].faces,
                (long long)st->input[i].embeddings);
    fprintf(f, "]}");
}

/* The process's peak RSS: the kernel's high-water mark, which the staged
 * job resets per stage, so its own maximum counts too. */
static uint64_t job_peak_rss(const run_mem *m)
{
    uint64_t p = vg_peak_rss_bytes();
    if (m->staged && m->staged->peak_rss_bytes > p)
        p = m->staged->peak_rss_bytes;
    return p;
}

static void write_report(FILE *f, vg_telemetry *telemetry, const run_mem *mem,
                         const cli_detect_args *a, const char *config,
                         const char **inputs, char (*names)[VG_STREAM_NAME_MAX],
                         int n_inputs, const vg_run_stats *st, int n_st,
                         const char *status, const char *error)
{
    fprintf(f, "{\n  \"command\": \"run\",\n  \"config\": ");
    cli_json_string(f, config ? config : "");
    fprintf(f, ",\n  \"model\": ");
    cli_json_string(f, a->settings.model);
    fprintf(f, ",\n  \"status\": \"%s\",\n  \"error\": ", status);
    cli_json_string(f, error);
    fprintf(f, ",\n  \"streams\": [");
    for (int i = 0; i < n_st; i++) {
        const vg_run_stats *s = &st[i];
        double e2e = s->wall_s > 0 ? (double)s->frames / s->wall_s : 0;
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        cli_json_string(f, i < n_inputs && names ? names[i] : "");
        fprintf(f, ", \"input\": ");
        cli_json_string(f, i < n_inputs ? inputs[i] : "");
        fprintf(f, ", \"width\": %d, \"height\": %d, \"fps\": %.3f,\n",
                s->width, s->height, s->fps);
        fprintf(
            f,
            "     \"frames\": %lld, \"detections\": %lld, \"events\": %lld,\n",
            (long long)s->frames, (long long)s->detections,
            (long long)s->events);
        fprintf(f,
                "     \"events_stored\": %llu, \"video\": {\"frames\": %lld, "
                "\"stopped\": %s}, \"tracks_stopped\": %s,\n",
                (unsigned long long)s->store.written,
                (long long)s->video_frames, s->video_stopped ? "true" : "false",
                s->tracks_stopped ? "true" : "false");
        fprintf(
            f,
            "     \"events_by_kind\": {\"intrusion\": %lld, \"dwell\": %lld, "
            "\"line_crossing\": %lld, \"occupancy\": %lld},\n",
            (long long)s->events_by_kind[0], (long long)s->events_by_kind[1],
            (long long)s->events_by_kind[2], (long long)s->events_by_kind[3]);
        fprintf(f, "     \"rules\": [");
        for (int r = 0; r < s->n_rules; r++) {
            fprintf(f, "%s{\"name\": ", r ? ", " : "");
            cli_json_string(f, s->rule[r].name);
            fprintf(
                f,
                ", \"kind\": \"%s\", \"fired\": %llu, \"suppressed\": %llu, "
                "\"crossed_a_to_b\": %llu, \"crossed_b_to_a\": %llu}",
                vg_event_kind_name(s->rule[r].kind),
                (unsigned long long)s->rule[r].fired,
                (unsigned long long)s->rule[r].suppressed,
                (unsigned long long)s->rule[r].crossed_a_to_b,
                (unsigned long long)s->rule[r].crossed_b_to_a);
        }
        fprintf(f,
                "],\n     \"snapshots\": {\"written\": %lld, \"failed\": %lld, "
                "\"skipped\": %llu, "
                "\"files\": %llu, \"bytes\": %llu, \"deleted\": %llu, "
                "\"disabled\": %s},\n",
                (long long)s->snapshots, (long long)s->snapshot_failures,
                (unsigned long long)s->snapshot_store.skipped,
                (unsigned long long)s->snapshot_store.files,
                (unsigned long long)s->snapshot_store.total_bytes,
                (unsigned long long)s->snapshot_store.deleted,
                s->snapshot_store.disabled ? "true" : "false");
        fprintf(f,
                "     \"tracker\": {\"confirmed\": %lld, \"removed\": %lld, "
                "\"evicted\": %lld, \"refused\": %lld, \"tracked_now\": %d, "
                "\"lost_now\": %d, \"bytes_held\": %zu},\n",
                (long long)s->tracker.confirmed, (long long)s->tracker.removed,
                (long long)s->tracker.evicted, (long long)s->tracker.refused,
                s->tracker.tracked, s->tracker.lost, s->tracker.bytes_held);
        fprintf(f,
                "     \"rule_state\": {\"entries\": %d, \"capacity\": %d, "
                "\"evictions\": %llu, \"expirations\": %llu, \"forgotten\": "
                "%llu},\n",
                s->rules.entries, s->rules.capacity,
                (unsigned long long)s->rules.evictions,
                (unsigned long long)s->rules.expirations,
                (unsigned long long)s->rules.forgotten);
        fprintf(f,
                "     \"timing\": {\"wall_s\": %.3f, \"e2e_fps\": %.2f, "
                "\"decode_busy_s\": %.3f, \"infer_busy_s\": %.3f, "
                "\"track_busy_s\": %.3f, \"rules_busy_s\": %.3f, "
                "\"sink_busy_s\": %.3f, \"decode_queue_high_water\": %u, "
                "\"sink_queue_high_water\": %u},\n",
                s->wall_s, e2e, s->decode_busy_s, s->infer_busy_s,
                s->track_busy_s, s->rules_busy_s, s->sink_busy_s,
                s->decode_queue_high_water, s->sink_queue_high_water);
        if (s->live) {
            const vg_reconnect_stats *q = &s->reconnect;
            fprintf(f,
                    "     \"live\": {\"state\": \"%s\", \"attempts\": %llu, "
                    "\"reconnects\": %llu, \"drops\": %llu, \"stalls\": "
                    "%llu, \"last_error\": ",
                    vg_reconnect_state_name(q->state),
                    (unsigned long long)q->attempts,
                    (unsigned long long)q->reconnects,
                    (unsigned long long)q->drops,
                    (unsigned long long)q->stalls);
            cli_json_string(f, q->last_error);
            fprintf(f, ", \"time_in_state_s\": {");
            for (int k = 0; k < VG_RECONNECT_NSTATES; k++)
                fprintf(f, "%s\"%s\": %.3f", k ? ", " : "",
                        vg_reconnect_state_name(k),
                        (double)q->time_in_state_ns[k] / 1e9);
            fprintf(f, "}},\n");
        }
        fprintf(f, "     \"outputs\": {\"tracks\": ");
        cli_json_string(f, s->tracks_path);
        fprintf(f, ", \"video\": ");
        cli_json_string(f, s->video_path);
        fprintf(f, "}, \"end\": \"%s\"}",
                s->end_code == VG_ETRUNCATED ? "truncated"
                : s->stopped                 ? "interrupted"
                : s->end_code == VG_EOF      ? "end"
                                             : "error");
    }
    fprintf(f, "\n  ],\n  \"job\": \"%s\",\n",
            vg_job_kind_name(mem->job->kind));
    fprintf(f,
            "  \"memory\": {\"peak_rss_bytes\": %llu, "
            "\"baseline_rss_bytes\": %llu",
            (unsigned long long)job_peak_rss(mem),
            (unsigned long long)mem->baseline_rss);
    if (mem->plan) {
        fprintf(f, ",\n    \"plan\": ");
        vg_plan_print_json(mem->plan, f);
    }
    if (mem->residency)
        write_models(f, mem);
    if (mem->staged)
        write_staged(f, mem);
    if (telemetry) {
        fprintf(f, ",\n    \"telemetry\": ");
        vg_telemetry_report_json(telemetry, f);
    }
    fprintf(f, "}\n}\n");
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
    vg_detector *det = NULL;
    vg_rules_config rules;
    vg_job_config *job = NULL;
    vg_residency *residency = NULL;
    vg_staged_stats *staged = NULL;
    vg_plan *plan = NULL;
    const char *det_name = NULL;
    int have_rules = 0, exit_code = VG_EXIT_ERROR, n_done = 0;
    vg_run_stats *stats = NULL;
    const char *status = "ok";
    char errbuf[512] = "", path[1100];
    run_cli r;
    run_mem mem;
    int rc_tel;
    int metrics_port = -1;
    int64_t rc_attempts = 0;
    double rc_backoff = 0;
    vg_metrics_server *metrics = NULL;
    vg_outdir_lock *lock = NULL;
    uint64_t host_budget = 0, dev_budget = 0;
    int host_set = 0, dev_set = 0;

    memset(&a, 0, sizeof(a));
    memset(&rules, 0, sizeof(rules));
    memset(&r, 0, sizeof(r));
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
    if (cli_resolve_settings(ctx, &a) != 0)
        goto out;
    /* The job shares two cores between inference, decoding and encoding:
     * inference threads that sleep instead of spinning leave the cycles to
     * the other stages (bench/README.md). Explicit settings win. */
    if (a.settings.origin.spin == VG_ORIGIN_BUILTIN)
        a.settings.spin = 0;
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
    {
        vg_telemetry_opts to;
        vg_telemetry_opts_default(&to);
        to.interval_s = a.settings.telemetry_interval_s;
        to.leak_slope_bytes_per_s = a.settings.leak_slope;
        to.window_s = a.settings.leak_window_s;
        rc_tel = vg_telemetry_create(ctx, &to, &r.telemetry);
    }
    if (rc_tel < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    /* The residency manager owns the models, under the budget. What the
     * process holds before any model or stream is its baseline; it is
     * recorded for the planner (key runtime:JOB). */
    mem.baseline_rss = vg_rss_bytes();
    /* The plan of this run, beside the measured peaks in report.json; its
     * stream buffers are what the models must leave of the budget. */
    {
        vg_plan_opts po;
        vg_plan_opts_default(&po);
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
        vg_residency_opts ro;
        vg_calibration rt;
        vg_residency_opts_default(&ro);
        ro.budget = job->budget;
        /* Reserved: the process as it is now, ONNX Runtime's environment
         * and the largest stream's buffers of the plan. */
        ro.host_reserved = mem.baseline_rss;
        if (plan != NULL) {
            uint64_t streams = 0;
            for (int k = 0; k < plan->n_stages; k++)
                if (plan->stages[k].stream_bytes > streams)
                    streams = plan->stages[k].stream_bytes;
            ro.host_reserved += VG_PLAN_ORT_ENV_BYTES + streams;
        }
        ro.telemetry = r.telemetry;
        if (vg_residency_create(ctx, &ro, &residency) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
        for (int i = 0; i < job->n_models; i++)
            if (vg_residency_add(residency, &job->models[i]) < 0) {
                cli_error("%s", vg_context_errmsg(ctx));
                goto out;
            }
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
    r.residency = residency;
    if (job->kind == VG_JOB_CCTV) {
        vg_session *s = NULL;
        vg_detector_opts dopt;
        const vg_model_decl *d =
            &job->models[vg_job_config_find(job, VG_MODEL_DETECTOR)];
        det_name = d->name;
        if (vg_residency_acquire(residency, d->name, &s) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            det_name = NULL;
            goto out;
        }
        cli_detector_opts(&a.settings, &dopt);
        if (vg_detector_create_on(ctx, s, d->path, &dopt, &det) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
    }
    if (metrics_port >= 0 &&
        vg_metrics_server_start(ctx, r.telemetry, metrics_port, &metrics) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    if (metrics && !a.quiet)
        fprintf(stderr, "vigil: metrics at http://127.0.0.1:%d/metrics\n",
                vg_metrics_server_port(metrics));
    stats = vg_calloc(ctx, (size_t)n_inputs, sizeof(*stats));
    names = vg_calloc(ctx, (size_t)n_inputs, sizeof(*names));
    if (!stats || !names) {
        cli_error("out of memory");
        goto out;
    }
    if (vg_stream_names(ctx, inputs, n_inputs, names) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }

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
    for (int i = 0; i < n_inputs; i++) {
        vg_run_opts o;
        char suffix[80] = "";
        int64_t total = -1;
        int rc;

        vg_run_opts_from_settings(&a.settings, &o);
        o.out_dir = a.out_dir;
        o.rules = have_rules ? &rules : NULL;
        o.max_frames = a.max_frames;
        o.write_snapshots = write_snaps && o.write_snapshots;
        o.write_video = write_video && o.write_video;
        o.stream_name = names[i];
        if (n_inputs > 1) {
            snprintf(suffix, sizeof(suffix), "_%s", names[i]);
            o.suffix = suffix;
        }
        o.telemetry = r.telemetry;
        o.residency = residency;
        o.model_name = det_name;
        o.should_stop = should_stop;
        o.progress = on_progress;
        o.user = &r;
        o.reconnect.max_attempts = (unsigned)rc_attempts;
        if (rc_backoff > 0) {
            o.reconnect.backoff_initial_s = rc_backoff;
            if (o.reconnect.backoff_max_s < rc_backoff)
                o.reconnect.backoff_max_s = rc_backoff;
        }
        /* frame count for the progress bar, read when planning */
        if (plan != NULL && i < plan->n_streams && plan->streams[i].opened)
            total = plan->streams[i].frame_count;
        if (a.max_frames > 0 && (total < 0 || a.max_frames < total))
            total = a.max_frames;
        cli_progress_start(&r.progress, a.quiet ? 0 : a.progress, total);
        if (sources[i] != NULL) {
            rc = vg_run_stream_source(ctx, &sources[i], det, &o, &stats[i]);
        } else if (open_codes[i] < 0 && open_codes[i] != VG_EINTR &&
                   vg_source_is_network_url(inputs[i])) {
            /* a camera that did not answer at planning: retried as live
             * (that open was its first attempt) */
            o.first_open_code = open_codes[i];
            o.first_open_error = open_errors[i];
            rc = vg_run_stream(ctx, inputs[i], det, &o, &stats[i]);
        } else {
            /* opened (and failed) once, before the plan: not again */
            rc = open_codes[i] < 0 ? open_codes[i] : VG_EINTR;
            memset(&stats[i], 0, sizeof(stats[i]));
            if (rc == VG_EINTR) {
                stats[i].stopped = 1;
            } else {
                vg_fail(ctx, rc, "%s", open_errors[i]);
                stats[i].end_code = rc;
                snprintf(stats[i].end_message, sizeof(stats[i].end_message),
                         "%s", open_errors[i]);
            }
        }
        cli_progress_end(&r.progress);
        n_done = i + 1;
        if (!a.quiet && (rc >= 0 || rc == VG_ETRUNCATED || stats[i].frames > 0))
            print_summary(&stats[i], inputs[i]);
        if (stats[i].stopped) {
            snprintf(errbuf, sizeof(errbuf),
                     "interrupted after %lld frames of %s",
                     (long long)stats[i].frames, inputs[i]);
            status = "interrupted";
            exit_code = 130;
            break;
        }
        if (rc == VG_ETRUNCATED) {
            snprintf(errbuf, sizeof(errbuf),
                     "%s (the %lld frames before the cut were processed and "
                     "written)",
                     vg_context_errmsg(ctx), (long long)stats[i].frames);
            status = "truncated";
            if (exit_code == VG_EXIT_OK)
                exit_code = VG_EXIT_TRUNCATED;
        } else if (rc < 0) {
            /* This stream stops; the next ones still run. */
            snprintf(errbuf, sizeof(errbuf), "%s",
                     vg_context_errmsg(ctx)[0] ? vg_context_errmsg(ctx)
                                               : vg_strerror(rc));
            status = "error";
            exit_code = VG_EXIT_ERROR;
        }
        if (errbuf[0] && rc < 0)
            fprintf(stderr, "vigil: error: %s\n", errbuf);
        if (rc < 0 && rc != VG_ETRUNCATED && stats[i].frames == 0 &&
            !stats[i].live) {
            n_done--; /* nothing was processed: no report for it */
            if (n_inputs == 1)
                break;
        }
    }
report:
    if (n_done > 0 || staged != NULL) {
        vg_output_file rep;
        snprintf(path, sizeof(path), "%s/report.json", a.out_dir);
        /* whole or not at all: a temporary renamed into place */
        if (vg_output_begin(ctx, path, &rep) == 0) {
            /* the job took its last sample, with its pools and tables */
            write_report(rep.f, r.telemetry, &mem, &a, a.config, inputs, names,
                         n_inputs, stats, n_done, status, errbuf);
            if (vg_output_commit(ctx, &rep) < 0)
                fprintf(stderr, "vigil: warning: %s\n", vg_context_errmsg(ctx));
        } else {
            fprintf(stderr, "vigil: warning: %s\n", vg_context_errmsg(ctx));
        }
        if (exit_code == 130)
            fprintf(stderr, "vigil: stopped: %s\n", errbuf);
        if (!a.quiet && staged != NULL)
            printf("outputs in %s/: faces.jsonl staged/ report.json\n",
                   a.out_dir);
        else if (!a.quiet)
            printf("outputs in %s/: events.db events.jsonl snapshots/ "
                   "tracks*.txt%s report.json\n",
                   a.out_dir, write_video ? " annotated*.mp4" : "");
    }
out:
    vg_outdir_lock_release(&lock);
    vg_metrics_server_stop(&metrics);
    vg_detector_destroy(&det);
    if (det_name != NULL)
        vg_residency_release(residency, det_name);
    vg_residency_destroy(&residency);
    vg_plan_destroy(&plan);
    vg_telemetry_destroy(&r.telemetry);
    vg_free(ctx, stats);
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
    return cli_context_destroy(&ctx, &sig, exit_code);
}
