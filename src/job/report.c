/* report.json of a job (include/vigil/jobrun.h, docs/report.md). */
#include <stdio.h>
#include <string.h>

#include "vigil/clock.h"
#include "vigil/fsutil.h"
#include "vigil/jobrun.h"
#include "vigil/plan.h"
#include "vigil/staged.h"

const char *vg_job_stream_state_name(int state)
{
    switch (state) {
    case VG_JOB_STREAM_ADDED:
        return "added";
    case VG_JOB_STREAM_RUNNING:
        return "running";
    case VG_JOB_STREAM_ENDED:
        return "ended";
    case VG_JOB_STREAM_REMOVED:
        return "removed";
    default:
        return "unknown";
    }
}

static void write_models(FILE *f, const vg_job_report_extra *m)
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
        vg_json_string(f, ms.name);
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

static void write_staged(FILE *f, const vg_job_report_extra *m)
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
        vg_json_string(f, st->stage[k].model);
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
static uint64_t job_peak_rss(const vg_job_report_extra *m)
{
    uint64_t p = vg_peak_rss_bytes();
    if (m->staged && m->staged->peak_rss_bytes > p)
        p = m->staged->peak_rss_bytes;
    return p;
}

static void write_report(FILE *f, vg_job *j, const vg_job_report_extra *mem,
                         vg_job_stream_status *ss)
{
    int n_st = 0;

    fprintf(f, "{\n  \"command\": \"run\",\n  \"config\": ");
    vg_json_string(f, mem->config ? mem->config : "");
    fprintf(f, ",\n  \"model\": ");
    vg_json_string(f, mem->model ? mem->model : "");
    fprintf(f, ",\n  \"status\": \"%s\",\n  \"error\": ",
            mem->status ? mem->status : "ok");
    vg_json_string(f, mem->error ? mem->error : "");
    if (j) {
        vg_job_stats js;
        vg_job_stats_get(j, &js);
        n_st = vg_job_stream_count(j);
        fprintf(f,
                ",\n  \"concurrent\": true,\n  \"batch\": {\"max_batch\": %d, "
                "\"batches\": %llu, \"frames\": %llu, \"mean_batch\": %.3f, "
                "\"max_seen\": %d, \"mean_wait_ms\": %.3f, "
                "\"mean_run_ms\": %.3f, \"sizes\": [",
                js.max_batch, (unsigned long long)js.batcher.batches,
                (unsigned long long)js.batcher.requests,
                js.batcher.batches
                    ? (double)js.batcher.requests / (double)js.batcher.batches
                    : 0.0,
                js.batcher.max_batch_seen,
                js.batcher.batches ? (double)js.batcher.wait_ns_sum / 1e6 /
                                         (double)js.batcher.batches
                                   : 0.0,
                js.batcher.batches ? (double)js.batcher.run_ns_sum / 1e6 /
                                         (double)js.batcher.batches
                                   : 0.0);
        for (int k = 1; k <= js.max_batch; k++)
            fprintf(f, "%s%llu", k > 1 ? ", " : "",
                    (unsigned long long)js.batch_sizes[k]);
        fprintf(f,
                "]},\n  \"events\": {\"stored\": %llu, \"commits\": %llu, "
                "\"jsonl_lines\": %llu, \"outbox_rows\": %llu, "
                "\"outbox_dropped\": %llu}",
                (unsigned long long)js.store.written,
                (unsigned long long)js.store.commits,
                (unsigned long long)js.store.jsonl_lines,
                (unsigned long long)js.store.outbox_rows,
                (unsigned long long)js.store.outbox_dropped);
    }
    fprintf(f, ",\n  \"streams\": [");
    for (int i = 0; i < n_st; i++) {
        const vg_run_stats *s;
        double e2e;
        if (vg_job_stream_get(j, i, ss) < 0)
            continue;
        s = &ss->stats;
        e2e = s->wall_s > 0 ? (double)s->frames / s->wall_s : 0;
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        vg_json_string(f, ss->name);
        fprintf(f, ", \"input\": ");
        vg_json_string(f, ss->input);
        fprintf(f, ", \"state\": \"%s\", \"error\": ",
                vg_job_stream_state_name(ss->state));
        vg_json_string(f, ss->message);
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
            vg_json_string(f, s->rule[r].name);
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
                "\"lost_now\": %d, \"bytes_held\": %zu, \"reid\": %s, "
                "\"reid_embedder\": \"%s\", \"reid_detections\": %lld, "
                "\"reid_embedded\": %lld, \"reid_rescued\": %lld, "
                "\"reid_failed\": %lld, \"reid_activation\": %.4f},\n",
                (long long)s->tracker.confirmed, (long long)s->tracker.removed,
                (long long)s->tracker.evicted, (long long)s->tracker.refused,
                s->tracker.tracked, s->tracker.lost, s->tracker.bytes_held,
                s->reid_enabled ? "true" : "false", s->reid_embedder,
                (long long)s->tracker.reid_detections,
                (long long)s->tracker.reid_embedded,
                (long long)s->tracker.reid_rescued,
                (long long)s->tracker.reid_failed,
                s->tracker.reid_detections > 0
                    ? (double)s->tracker.reid_embedded /
                          (double)s->tracker.reid_detections
                    : 0.0);
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
        fprintf(f,
                "     \"detection\": {\"detect_fps\": %.3f, \"motion\": %s, "
                "\"frames_detected\": %lld, \"frames_skipped_rate\": %lld, "
                "\"frames_skipped_idle\": %lld, \"motion_forced\": %lld, "
                "\"motion_busy_s\": %.3f},\n",
                s->detect_fps, s->motion_enabled ? "true" : "false",
                (long long)s->frames_detected,
                (long long)s->frames_skipped_rate,
                (long long)s->frames_skipped_idle, (long long)s->motion_forced,
                s->motion_busy_s);
        fprintf(f, "     \"frames_dropped\": %lld,\n",
                (long long)s->frames_dropped);
        fprintf(f,
                "     \"latency\": {\"frame\": {\"count\": %lld, \"p50_ms\": "
                "%.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}, \"event\": "
                "{\"count\": %lld, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
                "\"max_ms\": %.3f}},\n",
                (long long)s->latency_frame.count, s->latency_frame.p50_ms,
                s->latency_frame.p99_ms, s->latency_frame.max_ms,
                (long long)s->latency_event.count, s->latency_event.p50_ms,
                s->latency_event.p99_ms, s->latency_event.max_ms);
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
            vg_json_string(f, q->last_error);
            fprintf(f, ", \"time_in_state_s\": {");
            for (int k = 0; k < VG_RECONNECT_NSTATES; k++)
                fprintf(f, "%s\"%s\": %.3f", k ? ", " : "",
                        vg_reconnect_state_name(k),
                        (double)q->time_in_state_ns[k] / 1e9);
            fprintf(f, "}},\n");
        }
        fprintf(f, "     \"outputs\": {\"tracks\": ");
        vg_json_string(f, s->tracks_path);
        fprintf(f, ", \"video\": ");
        vg_json_string(f, s->video_path);
        fprintf(f, "}, \"end\": \"%s\"}",
                s->end_code == VG_ETRUNCATED ? "truncated"
                : s->stopped                 ? "interrupted"
                : s->end_code == VG_EOF      ? "end"
                                             : "error");
    }
    fprintf(f, "\n  ],\n  \"job\": \"%s\",\n",
            vg_job_kind_name(mem->job ? mem->job->kind : VG_JOB_CCTV));
    fprintf(f,
            "  \"memory\": {\"peak_rss_bytes\": %llu, "
            "\"baseline_rss_bytes\": %llu",
            (unsigned long long)job_peak_rss(mem),
            (unsigned long long)mem->baseline_rss);
    if (mem->plan) {
        fprintf(f, ",\n    \"plan\": ");
        vg_plan_print_json(mem->plan, f);
    }
    if (mem->residency && mem->job)
        write_models(f, mem);
    if (mem->staged)
        write_staged(f, mem);
    if (mem->telemetry) {
        fprintf(f, ",\n    \"telemetry\": ");
        vg_telemetry_report_json(mem->telemetry, f);
    }
    fprintf(f, "}\n}\n");
}

int vg_job_write_report(vg_context *ctx, vg_job *j,
                        const vg_job_report_extra *x, const char *path)
{
    vg_output_file rep;
    vg_job_stream_status *ss;
    int rc;

    if (!x || !path)
        return vg_fail(ctx, VG_EINVAL, "report: no path");
    ss = vg_malloc(ctx, sizeof(*ss));
    if (!ss)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    /* whole or not at all: a temporary renamed into place */
    rc = vg_output_begin(ctx, path, &rep);
    if (rc == 0) {
        write_report(rep.f, j, x, ss);
        rc = vg_output_commit(ctx, &rep);
    }
    vg_free(ctx, ss);
    return rc;
}
