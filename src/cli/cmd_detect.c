/* vigil detect INPUT: objects in every frame, as MOTChallenge detections and
 * JSON lines, with a report and a preview picture. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "vigil/fsutil.h"
#include "vigil/image.h"
#include "vigil/pipeline.h"

static void detect_usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigil detect INPUT [OPTIONS]\n"
        "\n"
        "Detects objects in a video file, image or rtsp:// / http:// stream\n"
        "and writes, in the output directory:\n"
        "  dets.txt      MOTChallenge detections: "
        "frame,-1,x,y,w,h,score,-1,-1,-1\n"
        "  dets.jsonl    one JSON object per detection, with the class name\n"
        "  report.json   input, model, settings, counts, per-stage fps, peak "
        "RSS\n"
        "  preview.jpg   the frame with the most detections, boxes drawn\n"
        "\n"
        "options:\n"
        "  -m, --model FILE     ONNX detector (default: the cached NanoDet)\n"
        "      --head KIND      auto, nanodet, yolov5 or yolov8 (default "
        "auto)\n"
        "      --classes LIST   keep only these COCO classes, e.g. person,car\n"
        "  -o, --out DIR        output directory (default out)\n"
        "  -c, --config FILE    YAML configuration (see docs/config.md)\n"
        "      --score S        score threshold 0..1 (default 0.35)\n"
        "      --iou T          NMS IoU threshold 0..1 (default 0.5)\n"
        "      --threads N      inference threads (default: usable cores)\n"
        "      --queue N        frames queued between decode and inference\n"
        "      --max-frames N   stop after N frames\n"
        "      --timeout-ms N   network timeout (default 5000)\n"
        "      --no-preview     do not write preview.jpg\n"
        "      --progress / --no-progress   force the progress bar on/off\n"
        "  -q, --quiet          no summary\n"
        "\n"
        "Exit status: 0 success, 1 error, 2 bad usage, 3 input truncated\n"
        "(detections up to the cut are written), 130 interrupted.\n");
}

typedef struct detect_job {
    vg_context *ctx;
    vg_detector *det;
    FILE *txt, *jsonl;
    int64_t class_counts[VG_MAX_CLASSES];
    cli_progress progress;
    int interrupted;
    /* preview: a copy of the picture with the most detections */
    unsigned char *preview;
    int preview_stride, preview_w, preview_h;
    vg_detection preview_dets[64];
    int preview_n;
    int64_t preview_frame;
    int write_error;
} detect_job;

static int on_frame(void *user, const vg_frame *f, const vg_detection *dets,
                    int n)
{
    detect_job *job = user;
    int64_t frame_no = f->index + 1; /* MOTChallenge frames count from 1 */
    char time_s[32] = "null"; /* JSON has no inf/NaN; detections are finite */

    if (isfinite(f->time_s))
        snprintf(time_s, sizeof(time_s), "%.3f", f->time_s);

    for (int i = 0; i < n; i++) {
        const vg_detection *d = &dets[i];
        if (d->class_id >= 0 && d->class_id < VG_MAX_CLASSES)
            job->class_counts[d->class_id]++;
        fprintf(job->txt, "%lld,-1,%.2f,%.2f,%.2f,%.2f,%.4f,-1,-1,-1\n",
                (long long)frame_no, d->box.x, d->box.y, d->box.w, d->box.h,
                d->score);
        fprintf(job->jsonl,
                "{\"frame\":%lld,\"time\":%s,\"class\":\"%s\",\"class_id\":%d,"
                "\"score\":%.4f,\"box\":[%.2f,%.2f,%.2f,%.2f]}\n",
                (long long)frame_no, time_s,
                vg_detector_class_name(job->det, d->class_id), d->class_id,
                d->score, d->box.x, d->box.y, d->box.w, d->box.h);
    }
    if (ferror(job->txt) || ferror(job->jsonl)) {
        job->write_error = errno ? errno : EIO;
        return 1;
    }
    if (job->preview && f->image && n > job->preview_n &&
        f->width == job->preview_w && f->height == job->preview_h) {
        const unsigned char *src = vg_buf_data(f->image);
        for (int y = 0; y < f->height; y++)
            memcpy(job->preview + (size_t)y * job->preview_stride,
                   src + (size_t)y * f->image_stride, (size_t)f->width * 3);
        job->preview_n = n < 64 ? n : 64;
        memcpy(job->preview_dets, dets,
               sizeof(dets[0]) * (size_t)job->preview_n);
        job->preview_frame = frame_no;
    }
    cli_progress_update(&job->progress, frame_no);
    if (cli_interrupted(job->ctx)) {
        job->interrupted = 1;
        return 1;
    }
    return 0;
}

static int write_preview(vg_context *ctx, detect_job *job, const char *path)
{
    for (int i = 0; i < job->preview_n; i++) {
        const vg_detection *d = &job->preview_dets[i];
        char label[64];
        vg_image_draw_rect(job->preview, job->preview_w, job->preview_h,
                           job->preview_stride, (int)d->box.x, (int)d->box.y,
                           (int)d->box.w, (int)d->box.h, 2, 0, 255, 0);
        snprintf(label, sizeof(label), "%s %.2f",
                 vg_detector_class_name(job->det, d->class_id), d->score);
        vg_image_draw_text(job->preview, job->preview_w, job->preview_h,
                           job->preview_stride, (int)d->box.x,
                           (int)d->box.y - 10, label, 255, 255, 0);
    }
    return vg_image_write_jpeg(ctx, path, job->preview, job->preview_w,
                               job->preview_h, job->preview_stride, 90);
}

static void write_report(FILE *f, const cli_detect_args *a,
                         const vg_source_info *si, detect_job *job,
                         const vg_detect_stats *st, const char *status,
                         const char *error, int preview_written)
{
    const vg_settings *s = &a->settings;
    double e2e = st->wall_s > 0 ? (double)st->frames / st->wall_s : 0;
    int first = 1;

    fprintf(f, "{\n  \"command\": \"detect\",\n  \"input\": ");
    cli_json_string(f, a->input);
    fprintf(
        f,
        ",\n  \"input_info\": {\"width\": %d, \"height\": %d, \"fps\": %.3f, "
        "\"frame_count\": %lld, \"codec\": ",
        si->width, si->height, si->fps, (long long)si->frame_count);
    cli_json_string(f, si->codec);
    fprintf(f, "},\n  \"model\": ");
    cli_json_string(f, s->model);
    fprintf(f, ",\n  \"head\": \"%s\",\n  \"provider\": \"%s\",\n",
            vg_detector_head_name(job->det),
            vg_session_provider(vg_detector_session(job->det)));
    fprintf(f,
            "  \"settings\": {\"threads\": %d, \"score_threshold\": %.3f, "
            "\"nms_iou\": %.3f, \"queue_depth\": %d, \"classes\": [",
            s->threads, s->score_threshold, s->nms_iou, s->queue_depth);
    for (int i = 0; i < s->n_classes; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", s->classes[i]);
    fprintf(f, "]},\n  \"status\": \"%s\",\n  \"error\": ", status);
    cli_json_string(f, error ? error : "");
    {
        vg_detector_stats ds;
        memset(&ds, 0, sizeof(ds));
        vg_detector_stats_get(job->det, &ds);
        /* candidates with a non-finite score or box, dropped */
        fprintf(f, ",\n  \"nonfinite_dropped\": %llu",
                (unsigned long long)ds.nonfinite_dropped);
    }
    fprintf(f,
            ",\n  \"frames\": %lld,\n  \"detections\": %lld,\n"
            "  \"detections_by_class\": {",
            (long long)st->frames, (long long)st->detections);
    for (int c = 0; c < VG_MAX_CLASSES; c++) {
        if (!job->class_counts[c])
            continue;
        fprintf(f, "%s\"%s\": %lld", first ? "" : ", ",
                vg_detector_class_name(job->det, c),
                (long long)job->class_counts[c]);
        first = 0;
    }
    fprintf(
        f,
        "},\n  \"timing\": {\"wall_s\": %.3f, \"decode_busy_s\": %.3f, "
        "\"infer_busy_s\": %.3f, \"decode_fps\": %.2f, \"infer_fps\": %.2f, "
        "\"e2e_fps\": %.2f, \"queue_high_water\": %u},\n",
        st->wall_s, st->decode_busy_s, st->infer_busy_s,
        st->decode_busy_s > 0 ? (double)st->frames / st->decode_busy_s : 0,
        st->infer_busy_s > 0 ? (double)st->frames / st->infer_busy_s : 0, e2e,
        st->queue_high_water);
    fprintf(f, "  \"memory\": {\"peak_rss_bytes\": %llu},\n",
            (unsigned long long)vg_peak_rss_bytes());
    fprintf(f,
            "  \"outputs\": {\"detections_mot\": \"dets.txt\", "
            "\"detections_jsonl\": "
            "\"dets.jsonl\", \"preview\": %s}\n}\n",
            preview_written ? "\"preview.jpg\"" : "null");
}

int cmd_detect(int argc, char **argv)
{
    cli_detect_args a;
    detect_job job;
    vg_context *ctx = NULL;
    cli_signals sig = {0};
    vg_source *src = NULL;
    vg_source_opts so;
    vg_source_info si;
    vg_detect_opts dopts;
    vg_detect_stats st;
    char path[VG_PATH_MAX + 32], errbuf[512] = "";
    const char *status = "ok";
    vg_outdir_lock *lock = NULL;
    vg_output_file rep;
    int want_preview = 1, preview_written = 0;
    int rc, exit_code = VG_EXIT_ERROR;

    memset(&a, 0, sizeof(a));
    memset(&job, 0, sizeof(job));
    memset(&st, 0, sizeof(st));
    a.out_dir = "out";
    a.progress = -1;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            detect_usage(stdout);
            return VG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--no-preview")) {
            want_preview = 0;
            continue;
        }
        if (!strcmp(argv[i], "--preview")) {
            want_preview = 1;
            continue;
        }
        r = cli_parse_common("detect", argc, argv, &i, &a);
        if (r < 0)
            return VG_EXIT_USAGE;
        if (r == 1)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("detect", "unknown option '%s'", argv[i]);
        if (a.input)
            return cli_usage_error("detect", "one INPUT only ('%s' and '%s')",
                                   a.input, argv[i]);
        a.input = argv[i];
    }
    if (!a.input)
        return cli_usage_error("detect", "missing INPUT");

    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    job.ctx = ctx;
    vg_context_set_log_level(ctx, VG_LOG_WARN);
    /* One run per output directory: a second one fails here, writing
     * nothing. */
    if (vg_mkdirs(a.out_dir) != 0) {
        cli_error("%s: cannot create output directory (%s)", a.out_dir,
                  strerror(errno));
        goto out;
    }
    if (vg_outdir_lock_take(ctx, a.out_dir, &lock) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    if (cli_resolve_settings(ctx, &a) != 0)
        goto out;
    /* The input is opened before the model loads: a missing, empty or
     * undecodable input fails at once; the pre-processing is set once the
     * model's input is known. */
    vg_source_opts_default(&so);
    so.keep_image = want_preview;
    so.timeout_ms = a.settings.timeout_ms;
    if (vg_source_open(ctx, a.input, &so, &src) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    if (cli_open_detector(ctx, &a.settings, &job.det) != 0)
        goto out;
    vg_detect_opts_default(&dopts);
    dopts.queue_depth = (unsigned)a.settings.queue_depth;
    dopts.max_frames = a.max_frames;
    vg_detector_input_spec(job.det, &so.tensor);
    so.pool_size = vg_detect_pool_size(&dopts);
    if (vg_source_configure(src, &so) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    vg_source_get_info(src, &si);

    if (vg_mkdirs(a.out_dir) != 0) {
        cli_error("%s: cannot create output directory (%s)", a.out_dir,
                  strerror(errno));
        goto out;
    }
    /* never through a link; whole lines reach the file (a kill -9 leaves
     * no cut line) */
    snprintf(path, sizeof(path), "%s/dets.txt", a.out_dir);
    if (vg_fopen_output(ctx, path, "w", &job.txt) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    setvbuf(job.txt, NULL, _IOLBF, 0);
    snprintf(path, sizeof(path), "%s/dets.jsonl", a.out_dir);
    if (vg_fopen_output(ctx, path, "w", &job.jsonl) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    setvbuf(job.jsonl, NULL, _IOLBF, 0);
    snprintf(path, sizeof(path), "%s/preview.jpg", a.out_dir);
    if (want_preview && vg_refuse_link(ctx, path) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    snprintf(path, sizeof(path), "%s/report.json", a.out_dir);
    if (vg_refuse_link(ctx, path) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    if (want_preview) {
        job.preview_w = si.width;
        job.preview_h = si.height;
        job.preview_stride = si.width * 3;
        job.preview =
            vg_malloc(ctx, (size_t)job.preview_stride * (size_t)si.height);
        if (!job.preview) {
            cli_error("out of memory for the preview picture");
            goto out;
        }
    }

    {
        int64_t total = si.frame_count;
        if (a.max_frames > 0 && (total < 0 || a.max_frames < total))
            total = a.max_frames;
        cli_progress_start(&job.progress, a.progress, total);
    }
    rc = vg_detect_run(ctx, src, job.det, &dopts, on_frame, &job, &st);
    cli_progress_end(&job.progress);

    if (job.write_error) {
        snprintf(errbuf, sizeof(errbuf), "%s: write failed (%s)", a.out_dir,
                 strerror(job.write_error));
        status = "error";
        exit_code = VG_EXIT_ERROR;
    } else if (job.interrupted) {
        snprintf(errbuf, sizeof(errbuf), "interrupted after %lld frames",
                 (long long)st.frames);
        status = "interrupted";
        exit_code = 130;
    } else if (rc == VG_ETRUNCATED) {
        snprintf(
            errbuf, sizeof(errbuf),
            "%s (detections for the %lld frames before the cut were written)",
            st.end_message[0] ? st.end_message : vg_context_errmsg(ctx),
            (long long)st.frames);
        status = "truncated";
        exit_code = VG_EXIT_TRUNCATED;
    } else if (rc < 0) {
        snprintf(errbuf, sizeof(errbuf), "%s",
                 vg_context_errmsg(ctx)[0] ? vg_context_errmsg(ctx)
                                           : vg_strerror(rc));
        status = "error";
        exit_code = VG_EXIT_ERROR;
    } else {
        exit_code = VG_EXIT_OK;
    }
    if (fclose(job.txt) != 0 && exit_code == VG_EXIT_OK) {
        snprintf(errbuf, sizeof(errbuf), "%s/dets.txt: write failed",
                 a.out_dir);
        exit_code = VG_EXIT_ERROR;
    }
    job.txt = NULL;
    if (fclose(job.jsonl) != 0 && exit_code == VG_EXIT_OK) {
        snprintf(errbuf, sizeof(errbuf), "%s/dets.jsonl: write failed",
                 a.out_dir);
        exit_code = VG_EXIT_ERROR;
    }
    job.jsonl = NULL;
    if (job.preview && job.preview_frame > 0) {
        snprintf(path, sizeof(path), "%s/preview.jpg", a.out_dir);
        if (write_preview(ctx, &job, path) == 0)
            preview_written = 1;
        else
            fprintf(stderr, "vigil: warning: %s\n", vg_context_errmsg(ctx));
    }
    snprintf(path, sizeof(path), "%s/report.json", a.out_dir);
    /* whole or not at all: a temporary renamed into place */
    if (vg_output_begin(ctx, path, &rep) == 0) {
        write_report(rep.f, &a, &si, &job, &st, status, errbuf,
                     preview_written);
        if (vg_output_commit(ctx, &rep) < 0)
            fprintf(stderr, "vigil: warning: %s\n", vg_context_errmsg(ctx));
    } else {
        fprintf(stderr, "vigil: warning: %s\n", vg_context_errmsg(ctx));
    }
    if (errbuf[0])
        fprintf(stderr, "vigil: %s: %s\n",
                exit_code == 130 ? "stopped" : "error", errbuf);
    if (!a.quiet) {
        char b[32];
        printf("%lld frames, %lld detections in %.2f s: decode %.1f fps, "
               "inference %.1f fps, end-to-end %.1f fps; peak RSS %s\n",
               (long long)st.frames, (long long)st.detections, st.wall_s,
               st.decode_busy_s > 0 ? (double)st.frames / st.decode_busy_s : 0,
               st.infer_busy_s > 0 ? (double)st.frames / st.infer_busy_s : 0,
               st.wall_s > 0 ? (double)st.frames / st.wall_s : 0,
               vg_format_bytes(vg_peak_rss_bytes(), b, sizeof(b)));
        printf("outputs in %s/: dets.txt dets.jsonl report.json%s\n", a.out_dir,
               preview_written ? " preview.jpg" : "");
    }

out:
    if (job.txt)
        fclose(job.txt);
    if (job.jsonl)
        fclose(job.jsonl);
    vg_free(ctx, job.preview);
    vg_source_close(&src);
    vg_detector_destroy(&job.det);
    vg_outdir_lock_release(&lock);
    return cli_context_destroy(&ctx, &sig, exit_code);
}
