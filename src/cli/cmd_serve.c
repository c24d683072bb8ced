/* vigil serve -c CONFIG [--listen ADDR:PORT] [--out DIR]: the always-on
 * camera service with its HTTP API and web page (docs/serve.md). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "vigil/fsutil.h"
#include "vigil/job.h"
#include "vigil/jobrun.h"
#include "vigil/residency.h"
#include "vigil/serve.h"
#include "vigil/telemetry.h"

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: vigil serve -c CONFIG [--listen ADDR:PORT] [--out DIR]\n"
            "\n"
            "Runs every camera of CONFIG's cameras: section until SIGINT or\n"
            "SIGTERM, with the HTTP API and the web page at the printed URL\n"
            "(docs/serve.md). SIGHUP reloads CONFIG: unchanged cameras keep\n"
            "running, changed rules are replaced, cameras are added and\n"
            "removed; a bad file is refused and the running one kept.\n"
            "\n"
            "options:\n"
            "  -c, --config FILE   YAML with a cameras: section "
            "(docs/config.md)\n"
            "      --listen ADDR:PORT  overrides serve.listen (default\n"
            "                      127.0.0.1:8080; port 0: any free port).\n"
            "                      A non-loopback address needs serve.token\n"
            "  -o, --out DIR       output directory (default out)\n"
            "  -q, --quiet\n"
            "\n"
            "Exit status: 0 stopped by SIGINT/SIGTERM, 1 error, 2 bad "
            "usage.\n");
}

int cmd_serve(int argc, char **argv)
{
    cli_detect_args a;
    const char *listen = NULL;
    const char *inputs[4];
    int n_inputs = 0, exit_code = VG_EXIT_ERROR, rc;
    char default_input[1024], default_config[1024];
    vg_context *ctx = NULL;
    vg_job_config *jobcfg = NULL;
    vg_telemetry *telemetry = NULL;
    vg_residency *residency = NULL;
    vg_job *job = NULL;
    vg_serve *sv = NULL;
    vg_http *http = NULL;
    vg_outdir_lock *lock = NULL;
    vg_job_opts jo;
    vg_http_opts ho;
    sigset_t set;
    char msg[1024];

    memset(&a, 0, sizeof(a));
    a.out_dir = "out";
    a.progress = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            serve_usage(stdout);
            return VG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--listen")) {
            if (!cli_need_value("serve", argc, argv, i))
                return VG_EXIT_USAGE;
            listen = argv[++i];
            continue;
        }
        rc = cli_parse_common("serve", argc, argv, &i, &a);
        if (rc < 0)
            return VG_EXIT_USAGE;
        if (rc == 1)
            continue;
        return cli_usage_error("serve", "unknown option '%s'", argv[i]);
    }
    if (a.config == NULL)
        return cli_usage_error("serve", "-c CONFIG is required");
    if (listen && strlen(listen) >= sizeof(a.settings.serve_listen))
        return cli_usage_error("serve", "--listen: too long");

    if (vg_context_create(&ctx) < 0)
        return cli_error("out of memory");
    vg_context_set_log_level(ctx, VG_LOG_WARN);
    if (vg_mkdirs(a.out_dir) != 0) {
        cli_error("%s: cannot create output directory (%s)", a.out_dir,
                  strerror(errno));
        goto out;
    }
    if (vg_outdir_lock_take(ctx, a.out_dir, &lock) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    if (cli_resolve_settings(ctx, &a) != 0 ||
        cli_check_reid_model(ctx, &a.settings, NULL) != 0)
        goto out;
    if (listen)
        snprintf(a.settings.serve_listen, sizeof(a.settings.serve_listen), "%s",
                 listen);
    if (!a.settings.serve_token[0] && a.settings.serve_token_env[0]) {
        const char *t = getenv(a.settings.serve_token_env);
        if (t && t[0])
            snprintf(a.settings.serve_token, sizeof(a.settings.serve_token),
                     "%s", t);
    }
    /* refused before any camera starts: a public address with no token */
    vg_http_opts_from_settings(&a.settings, &ho);
    if (vg_http_check_opts(ctx, &ho) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    if (a.settings.origin.spin == VG_ORIGIN_BUILTIN)
        a.settings.spin = 0;
    cli_default_job(default_input, sizeof(default_input), default_config,
                    sizeof(default_config));
    if (cli_load_job(ctx, &a, &jobcfg, inputs, &n_inputs, 4, default_input) !=
        0)
        goto out;
    if (jobcfg->kind != VG_JOB_CCTV) {
        cli_error("%s: vigil serve runs the CCTV job only", a.config);
        goto out;
    }
    if (cli_open_telemetry(ctx, &a.settings, &telemetry) != 0 ||
        cli_open_residency(ctx, jobcfg, vg_rss_bytes(), telemetry, 0,
                           &residency) != 0)
        goto out;
    {
        cli_cctv_job_opts(&a, jobcfg, residency, &jo);
        jo.rules = NULL; /* each camera brings its own (vg_serve) */
        jo.per_stream_dirs = 1;
        /* An always-on service writes no annotated video unless the config
         * asks for it: one MP4 per camera that never ends would grow without
         * bound, its index in memory until it is closed. The live view and
         * the event snapshots show what the video would. */
        if (a.settings.origin.key[VG_KEY_VIDEO_ENABLED] == VG_ORIGIN_BUILTIN)
            jo.run.write_video = 0;
        jo.telemetry = telemetry;
        if (vg_job_create(ctx, &jo, &job) < 0) {
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
    }
    if (vg_serve_create(ctx, job, &jo.run, a.config, &sv) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    if (vg_serve_reload(sv, msg, sizeof(msg)) < 0) {
        cli_error("%s", msg);
        goto out;
    }
    /* A config without cameras (examples/site.yaml): its inputs, else the
     * bundled sample video, as looping cameras, so that the service shows
     * something without a camera. */
    if (vg_job_stream_count(job) == 0 && n_inputs > 0) {
        char(*names)[VG_STREAM_NAME_MAX] =
            vg_calloc(ctx, (size_t)n_inputs, sizeof(*names));
        if (names == NULL ||
            vg_stream_names(ctx, inputs, n_inputs, names) < 0) {
            vg_free(ctx, names);
            cli_error("%s", vg_context_errmsg(ctx));
            goto out;
        }
        for (int i = 0; i < n_inputs; i++) {
            if (vg_serve_add_camera(sv, names[i], inputs[i], 1, msg,
                                    sizeof(msg)) < 0) {
                vg_free(ctx, names);
                cli_error("%s: %s", inputs[i], msg);
                goto out;
            }
            if (!a.quiet)
                fprintf(stderr,
                        "vigil serve: %s has no cameras: section; serving %s "
                        "as camera %s (looping)\n",
                        a.config, inputs[i], names[i]);
        }
        vg_free(ctx, names);
    }
    if (vg_job_start(job) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    vg_http_opts_from_settings(&a.settings, &ho);
    ho.serve = sv;
    ho.telemetry = telemetry;
    if (vg_http_start(ctx, &ho, &http) < 0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    {
        char host[64];
        const char *colon = strrchr(a.settings.serve_listen, ':');
        size_t hl = colon ? (size_t)(colon - a.settings.serve_listen) : 0;
        if (hl >= sizeof(host))
            hl = sizeof(host) - 1;
        memcpy(host, a.settings.serve_listen, hl);
        host[hl] = '\0';
        printf("vigil serve: http://%s:%d/\n", host, vg_http_port(http));
        fflush(stdout);
    }

    /* main() blocked these in every thread: they arrive here only */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    for (;;) {
        struct timespec ts = {0, 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGHUP) {
            rc = vg_serve_reload(sv, msg, sizeof(msg));
            if (rc == VG_ECONFIG || rc == VG_EINVAL || rc == VG_ENOMEM)
                fprintf(stderr,
                        "vigil serve: config not reloaded, the running one "
                        "is kept: %s\n",
                        msg);
            else if (rc < 0)
                fprintf(stderr, "vigil serve: reloaded %s; %s\n", a.config,
                        msg);
            else if (!a.quiet)
                fprintf(stderr, "vigil serve: reloaded %s\n", a.config);
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            if (!a.quiet)
                fprintf(stderr, "vigil serve: stopping (%s)\n",
                        sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
    }
    exit_code = VG_EXIT_OK;
out:
    /* Graceful: the HTTP server first (no request touches the job any
     * more), then every camera with its outputs and events committed. */
    vg_http_stop(&http);
    if (job != NULL && vg_job_stop(job) < 0) {
        fprintf(stderr, "vigil: error: %s\n", vg_context_errmsg(ctx));
        exit_code = VG_EXIT_ERROR;
    }
    vg_serve_destroy(&sv);
    vg_job_destroy(&job);
    vg_residency_destroy(&residency);
    vg_telemetry_destroy(&telemetry);
    vg_free(ctx, jobcfg);
    vg_outdir_lock_release(&lock);
    vg_context_destroy(&ctx);
    return exit_code;
}
