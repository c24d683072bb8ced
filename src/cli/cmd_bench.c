/* vigil bench detect INPUT: decode-only, inference-only and end-to-end fps
 * measured in one run, with peak RSS. */
#include <stdlib.h>
#include <string.h>

#include "cli/alloc_count.h"
#include "cli/cli.h"
#include "vigil/jobrun.h"
#include "vigil/pipeline.h"
#include "vigil/run.h"

static void bench_usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigil bench detect INPUT [--json] [--frames N] [detect "
        "options]\n"
        "       vigil bench run [INPUT] [-c CONFIG] [--out DIR] [--json] "
        "[--frames N]\n"
        "                       [--streams N] [--batch B] [--max-wait-ms MS]\n"
        "       vigil bench track [--json] [--write DIR]   (tracker on "
        "synthetic scenes)\n"
        "\n"
        "Measures, in one run and with the same model and threads:\n"
        "  decode_fps  decode + pre-process alone (the decode thread's stage)\n"
        "  infer_fps   ONNX Runtime alone on one real input tensor\n"
        "  e2e_fps     the whole detect pipeline (decode thread -> bounded\n"
        "              queue -> inference + head), nothing written\n"
        "and the peak RSS. The ceiling is min(decode_fps, infer_fps); the\n"
        "report gives e2e_fps / ceiling.\n"
        "'bench run' times the whole CCTV job instead (tracking, rules, event\n"
        "store, snapshots, annotated video; outputs in --out, default\n"
        "out/bench) against the same ceilings (default: vtest.avi with\n"
        "examples/site.yaml), with --streams N copies of INPUT running at\n"
        "once through the one shared detector: e2e_fps is then the frames\n"
        "of every stream per second, and infer_fps is measured at the batch\n"
        "size the job's batcher runs (--batch B forces it; 1: unbatched).\n"
        "allocs_per_frame: heap allocation calls (malloc, calloc, realloc,\n"
        "posix_memalign, ...) made by the whole process - vigil, ONNX\n"
        "Runtime, FFmpeg, x264, SQLite, libjpeg - per frame of the end-to-end\n"
        "phase, counted after its first 30 frames (allocs_after_frames: 30),\n"
        "or over the whole phase when it has 30 frames or fewer (0); null in\n"
        "sanitizer builds, where the counter is compiled out.\n"
        "  --json       "
        "{\"decode_fps\":..,\"infer_fps\":..,\"e2e_fps\":..,\"peak_rss_bytes\":"
        "..,\"allocs_per_frame\":..}\n"
        "  --frames N   frames per phase (default: the whole input; inference\n"
        "               alone runs min(N, 200) times)\n");
}

/* Allocation counting over the end-to-end phase: the window opens after
 * ALLOC_WARMUP frames and ends at the last frame seen. */
#define ALLOC_WARMUP 30

typedef struct alloc_window {
    int64_t frames;
    uint64_t at_warmup, at_last;
} alloc_window;

static void alloc_window_frame(alloc_window *w, int64_t frames)
{
    w->frames = frames;
    if (frames == ALLOC_WARMUP)
        w->at_warmup = cli_alloc_count();
    w->at_last = cli_alloc_count();
}

static int on_detect_frame(void *user, const vg_frame *frame,
                           const vg_detection *dets, int n)
{
    alloc_window *w = user;
    (void)frame;
    (void)dets;
    (void)n;
    alloc_window_frame(w, w->frames + 1);
    return 0;
}

static int open_source(vg_context *ctx, const cli_detect_args *a,
                       vg_detector *det, unsigned pool, vg_source **out)
{
    vg_source_opts so;
    vg_source_opts_default(&so);
    vg_detector_input_spec(det, &so.tensor);
    so.pool_size = pool;
    so.timeout_ms = a->settings.timeout_ms;
    if (vg_source_open(ctx, a->input, &so, out) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    return 0;
}

static void on_job_progress(void *user, int stream, int64_t frames)
{
    alloc_window *w = user;
    (void)stream;
    (void)frames;
    /* every stream's frames together (the window counts frames) */
    __atomic_add_fetch(&w->frames, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&w->frames, __ATOMIC_RELAXED) == ALLOC_WARMUP)
        w->at_warmup = cli_alloc_count();
    w->at_last = cli_alloc_count();
}

/* One batched run of b copies of frame (detector + head). */
static int bench_infer_batch(vg_detector *det, const vg_frame *frame, int b)
{
    enum { cap = 32 };
    const vg_frame *frames[VG_JOB_MAX_STREAMS];
    vg_detection store[VG_JOB_MAX_STREAMS][cap];
    vg_detection *dets[VG_JOB_MAX_STREAMS];
    int counts[VG_JOB_MAX_STREAMS];
    if (b > VG_JOB_MAX_STREAMS)
        return VG_EINVAL;
    for (int i = 0; i < b; i++) {
        frames[i] = frame;
        dets[i] = store[i];
    }
    return vg_detector_run_batch(det, frames, b, dets, cap, counts);
}

/* What the job phase measured. */
typedef struct bench_job_result {
    int64_t frames; /* of every stream */
    int64_t events;
    double wall_s;
    int batch; /* the batch size the job chose */
} bench_job_result;

/* The whole CCTV job on n copies of a->input at once, built as `vigil run`
 * builds it (vg_job_opts_from_settings). Returns 0 or a code (printed). */
static int bench_job(vg_context *ctx, const cli_detect_args *a,
                     const vg_rules_config *rules, int n, int batch,
                     double max_wait_ms, alloc_window *aw,
                     vg_job_config **jobcfg, vg_residency **residency,
                     vg_job **cctv, bench_job_result *st)
{
    const char *inputs[1] = {a->input};
    int n_inputs = 1;
    vg_job_opts jo;
    vg_job_stats js;
    int64_t t0;

    if (cli_load_job(ctx, a, jobcfg, inputs, &n_inputs, 1, a->input) != 0)
        return VG_ECONFIG;
    if (vg_job_config_find(*jobcfg, VG_MODEL_DETECTOR) < 0)
        return cli_error("%s: the job declares no detector", a->config);
    if (cli_open_residency(ctx, *jobcfg, 0, NULL, 1, residency) != 0)
        return VG_EXIT_ERROR;
    cli_cctv_job_opts(a, *jobcfg, *residency, &jo);
    jo.rules = rules;
    jo.max_batch = batch;
    jo.max_wait_ms = max_wait_ms;
    jo.per_stream_dirs = n > 1;
    jo.run.max_frames = a->max_frames;
    jo.progress = on_job_progress;
    jo.user = aw;
    if (vg_job_create(ctx, &jo, cctv) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    for (int i = 0; i < n; i++) {
        vg_job_stream_opts so;
        char name[32];
        memset(&so, 0, sizeof(so));
        snprintf(name, sizeof(name), "cam%d", i + 1);
        so.input = a->input;
        so.name = name;
        if (vg_job_add_stream(*cctv, &so, NULL) < 0)
            return cli_error("%s", vg_context_errmsg(ctx));
    }
    t0 = vg_clock_ns();
    if (vg_job_start(*cctv) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    vg_job_wait(*cctv);
    st->wall_s = (double)(vg_clock_ns() - t0) / 1e9;
    if (vg_job_stop(*cctv) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    for (int i = 0; i < n; i++) {
        vg_job_stream_status ss;
        if (vg_job_stream_get(*cctv, i, &ss) < 0)
            continue;
        if (ss.end_code < 0 && ss.end_code != VG_ETRUNCATED)
            return cli_error("%s: %s", ss.name, ss.message);
        st->frames += ss.stats.frames;
        st->events += ss.stats.events;
    }
    vg_job_stats_get(*cctv, &js);
    st->batch = js.max_batch;
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    cli_detect_args a;
    vg_context *ctx = NULL;
    cli_signals sig = {0};
    vg_detector *det = NULL;
    vg_source *src = NULL;
    vg_session *sess;
    vg_frame frame;
    vg_detect_opts dopts;
    vg_detect_stats st;
    const float *outs[VG_MAX_OUTPUTS];
    int json = 0, exit_code = VG_EXIT_ERROR, rc, job = 0;
    char default_input[1024], default_config[1024];
    vg_rules_config rules;
    int have_rules = 0;
    vg_run_stats rs;
    int64_t frames = 0, n_infer, t0;
    double decode_fps = 0, infer_fps = 0, e2e_fps = 0, ceiling;
    alloc_window aw;
    uint64_t allocs_before, allocs_after;
    double allocs_per_frame = -1; /* < 0: unavailable */
    int64_t allocs_from = 0;      /* first counted frame (0-based) */
    char allocs_text[64];
    int n_streams = 1, batch = 0, infer_batch = 1;
    double max_wait_ms = 5.0;
    vg_job_config *jobcfg = NULL;
    vg_residency *residency = NULL;
    vg_job *cctv = NULL;
    int64_t events_total = 0;

    memset(&a, 0, sizeof(a));
    memset(&frame, 0, sizeof(frame));
    memset(&rules, 0, sizeof(rules));
    memset(&rs, 0, sizeof(rs));
    if (argc >= 2 && !strcmp(argv[1], "track"))
        return cmd_bench_track(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        bench_usage(stdout);
        return VG_EXIT_OK;
    }
    if (argc < 2 ||
        (strcmp(argv[1], "detect") != 0 && strcmp(argv[1], "run") != 0))
        return cli_usage_error(
            "bench", "expected 'bench detect INPUT' or 'bench run [INPUT]'");
    job = !strcmp(argv[1], "run");
    for (int i = 2; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            bench_usage(stdout);
            return VG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(argv[i], "--streams") || !strcmp(argv[i], "--batch")) {
            int64_t x;
            if (!cli_need_value("bench", argc, argv, i) ||
                cli_parse_int("bench", argv[i], argv[i + 1], 1,
                              VG_JOB_MAX_STREAMS, &x) < 0)
                return VG_EXIT_USAGE;
            if (!strcmp(argv[i], "--streams"))
                n_streams = (int)x;
            else
                batch = (int)x;
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--max-wait-ms")) {
            if (!cli_need_value("bench", argc, argv, i) ||
                cli_parse_number("bench", argv[i], argv[i + 1], 0, 10000,
                                 &max_wait_ms) < 0)
                return VG_EXIT_USAGE;
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--frames")) { /* --max-frames by its name */
            int64_t x;
            if (!cli_need_value("bench", argc, argv, i) ||
                cli_parse_int("bench", argv[i], argv[i + 1], 1,
                              INT64_C(1) << 40, &x) < 0)
                return VG_EXIT_USAGE;
            a.max_frames = x;
            i++;
            continue;
        }
        r = cli_parse_common("bench", argc, argv, &i, &a);
        if (r < 0)
            return VG_EXIT_USAGE;
        if (r == 1)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("bench", "unknown option '%s'", argv[i]);
        if (a.input)
            return cli_usage_error("bench", "one INPUT only");
        a.input = argv[i];
    }
    if (!a.input && job) {
        cli_default_job(default_input, sizeof(default_input), default_config,
                        sizeof(default_config));
        a.input = default_input;
        if (!a.config)
            a.config = default_config;
    }
    if (!a.input)
        return cli_usage_error("bench", "missing INPUT");
    if (!a.out_dir)
        a.out_dir = "out/bench";
    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    if (cli_resolve_settings(ctx, &a) != 0)
        goto out;
    /* as vigil run does (see cmd_run.c): sleeping inference threads */
    if (job && a.settings.origin.spin == VG_ORIGIN_BUILTIN)
        a.settings.spin = 0;
    if (cli_open_detector(ctx, &a.settings, &det) != 0)
        goto out;
    if (job && a.config) {
        if (vg_rules_load(ctx, a.config, &rules) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
        have_rules = 1;
    }
    vg_detect_opts_default(&dopts);
    dopts.queue_depth = (unsigned)a.settings.queue_depth;
    dopts.max_frames = a.max_frames;

    /* 1. decode + pre-process alone */
    if (open_source(ctx, &a, det, 4, &src) != 0)
        goto out;
    t0 = vg_clock_ns();
    while ((a.max_frames <= 0 || frames < a.max_frames) &&
           (rc = vg_source_read(src, &frame)) == 0) {
        frames++;
        vg_frame_release(&frame);
    }
    decode_fps = (double)frames / ((double)(vg_clock_ns() - t0) / 1e9);
    vg_source_close(&src);
    if (frames == 0) {
        cli_error("%s: no frame decoded", a.input);
        goto out;
    }

    /* 2. ONNX Runtime alone, on the first real frame */
    if (open_source(ctx, &a, det, 4, &src) != 0)
        goto out;
    if (vg_source_read(src, &frame) != 0) {
        cli_error("%s: %s", a.input, vg_source_errmsg(src));
        goto out;
    }
    sess = vg_detector_session(det);
    /* at the batch the job will run: B copies of the frame per run (with
     * the head's decoding), or the session alone at batch 1 */
    /* the job's rule (vg_job_opts.max_batch): 1 on the CPU by default */
    infer_batch = batch > 0 ? batch
                  : strncmp(vg_session_provider(sess), "CPU", 3) == 0
                      ? 1
                      : VG_JOB_DEFAULT_BATCH;
    if (infer_batch > n_streams)
        infer_batch = n_streams;
    if (infer_batch > vg_detector_max_batch(det))
        infer_batch = vg_detector_max_batch(det);
    if (!job || infer_batch < 1)
        infer_batch = 1;
    n_infer = frames < 200 ? frames : 200;
    for (int64_t i = -3; i < n_infer; i++) { /* 3 warm-up runs */
        if (i == 0)
            t0 = vg_clock_ns();
        if (infer_batch == 1)
            rc = vg_session_run(sess, vg_buf_data(frame.tensor), outs);
        else
            rc = bench_infer_batch(det, &frame, infer_batch);
        if (rc < 0) {
            cli_error("%s", vg_detector_errmsg(det));
            goto out;
        }
    }
    infer_fps =
        (double)n_infer * infer_batch / ((double)(vg_clock_ns() - t0) / 1e9);
    vg_frame_release(&frame);
    vg_source_close(&src);

    /* 3. the whole pipeline */
    memset(&st, 0, sizeof(st));
    memset(&aw, 0, sizeof(aw));
    allocs_before = cli_alloc_count();
    if (job) {
        bench_job_result jr;
        memset(&jr, 0, sizeof(jr));
        /* the job loads its own detector: this one goes first */
        vg_detector_destroy(&det);
        rc = bench_job(ctx, &a, have_rules ? &rules : NULL, n_streams, batch,
                       max_wait_ms, &aw, &jobcfg, &residency, &cctv, &jr);
        if (rc < 0)
            goto out;
        st.frames = jr.frames;
        st.wall_s = jr.wall_s;
        events_total = jr.events;
        if (jr.batch < infer_batch) /* the model allows less */
            infer_batch = jr.batch;
    } else {
        if (open_source(ctx, &a, det, vg_detect_pool_size(&dopts), &src) != 0)
            goto out;
        rc = vg_detect_run(ctx, src, det, &dopts, on_detect_frame, &aw, &st);
        if (rc < 0 && rc != VG_ETRUNCATED) {
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
    }
    allocs_after = cli_alloc_count();
    e2e_fps = st.wall_s > 0 ? (double)st.frames / st.wall_s : 0;
    if (cli_alloc_count_available()) {
        if (aw.frames > ALLOC_WARMUP) {
            allocs_per_frame = (double)(aw.at_last - aw.at_warmup) /
                               (double)(aw.frames - ALLOC_WARMUP);
            allocs_from = ALLOC_WARMUP;
        } else if (st.frames > 0) {
            allocs_per_frame =
                (double)(allocs_after - allocs_before) / (double)st.frames;
        }
    }
    if (allocs_per_frame >= 0)
        snprintf(allocs_text, sizeof(allocs_text), "%.2f", allocs_per_frame);
    else
        snprintf(allocs_text, sizeof(allocs_text), "null");
    ceiling = decode_fps < infer_fps ? decode_fps : infer_fps;

    if (json) {
        printf(
            "{\"decode_fps\":%.2f,\"infer_fps\":%.2f,\"e2e_fps\":%.2f,"
            "\"peak_rss_bytes\":%llu,\"ceiling_fps\":%.2f,\"e2e_ratio\":%.3f,"
            "\"infer_ratio\":%.3f,\"frames\":%lld,\"threads\":%d,\"queue_"
            "depth\":%d,"
            "\"job\":\"%s\",\"events\":%lld,\"allocs_per_frame\":%s,"
            "\"allocs_after_frames\":%lld",
            decode_fps, infer_fps, e2e_fps,
            (unsigned long long)vg_peak_rss_bytes(), ceiling,
            ceiling > 0 ? e2e_fps / ceiling : 0,
            infer_fps > 0 ? e2e_fps / infer_fps : 0, (long long)st.frames,
            a.settings.threads, a.settings.queue_depth, job ? "run" : "detect",
            (long long)events_total, allocs_text, (long long)allocs_from);
        printf(",\"streams\":%d,\"batch\":%d", n_streams, infer_batch);
        printf(",\"model\":");
        cli_json_string(stdout, a.settings.model);
        printf(",\"cpu\":");
        cli_json_string(stdout, a.sysinfo.cpu_model);
        printf(",\"cores\":%d}\n", a.sysinfo.cpu_cores);
    } else {
        char b[32];
        printf("input      %s (%lld frames", a.input, (long long)st.frames);
        if (job)
            printf(", %d stream%s at once, batch %d", n_streams,
                   n_streams > 1 ? "s" : "", infer_batch);
        printf(")\n");
        printf("model      %s, %d threads\n", a.settings.model,
               a.settings.threads);
        printf("decode     %8.1f fps  (decode + pre-process alone)\n",
               decode_fps);
        printf("inference  %8.1f fps  (ONNX Runtime alone, batch %d)\n",
               infer_fps, infer_batch);
        printf("end-to-end %8.1f fps  = %.2f x min(decode, inference)%s\n",
               e2e_fps, ceiling > 0 ? e2e_fps / ceiling : 0,
               job ? " (detect, track, rules, events, snapshots, video)" : "");
        printf("peak RSS   %s\n",
               vg_format_bytes(vg_peak_rss_bytes(), b, sizeof(b)));
        if (allocs_per_frame >= 0)
            printf("allocs     %8.2f per frame (whole process, end-to-end, "
                   "frames %lld..%lld)\n",
                   allocs_per_frame, (long long)allocs_from + 1,
                   (long long)st.frames);
        else
            printf("allocs     unavailable (sanitizer build)\n");
    }
    exit_code = VG_EXIT_OK;
out:
    vg_job_destroy(&cctv);
    vg_residency_destroy(&residency);
    vg_free(ctx, jobcfg);
    if (have_rules)
        vg_rules_config_free(ctx, &rules);
    vg_frame_release(&frame);
    vg_source_close(&src);
    vg_detector_destroy(&det);
    return cli_context_destroy(&ctx, &sig, exit_code);
}
