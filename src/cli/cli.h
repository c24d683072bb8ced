/* Internal to the vigil CLI: the subcommands and their shared helpers. */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/config.h"
#include "vigil/faces.h"
#include "vigil/job.h"
#include "vigil/jobrun.h"
#include "vigil/plan.h"
#include "vigil/sysinfo.h"
#include "vigil/vigil.h"

/* Exit codes of every command (documented in the README). */
enum {
    VG_EXIT_OK = 0,
    VG_EXIT_ERROR = 1, /* bad input, model or config; nothing or part done */
    VG_EXIT_USAGE = 2, /* bad command line */
    VG_EXIT_TRUNCATED =
        3 /* the input was cut off; outputs up to the cut kept */
};

int cmd_detect(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_track(int argc, char **argv); /* vigil bench track */
int cmd_track(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_faces(int argc, char **argv);

/* The faces job's input as given, else the name found in the videos cache
 * (`vigil faces Megamind.avi`). */
void cli_faces_input(const char *in, char *out, size_t size);
/* The faces job's settings: defaults, then config (a file, may be NULL),
 * then max_frames (when >= 0), checked. Returns VG_EXIT_OK or
 * VG_EXIT_ERROR (the one-line error printed). */
int cli_faces_config(vg_context *ctx, const char *config, int64_t max_frames,
                     vg_faces_config *c);
/* Opens path briefly for its size and prints the split-screen job's memory
 * plan for c (`vigil faces --plan`, `vigil plan --faces`). Returns the exit
 * code (errors printed). */
int cli_faces_plan(vg_context *ctx, const vg_faces_config *c, const char *path);

/* Prints "vigil: error: <msg>" on stderr and returns VG_EXIT_ERROR. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "vigil CMD: <msg>" (one line) on stderr; returns VG_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Option values, each read by the strict parsers of vigil/parse.h. On a bad
 * value they print one usage line, e.g. "vigil info: --timeout-ms: '12abc'
 * is not a whole number (1..3600000)", and return -1 (*out untouched);
 * else 0. */
int cli_parse_int(const char *cmd, const char *opt, const char *v, int64_t min,
                  int64_t max, int64_t *out);
int cli_parse_number(const char *cmd, const char *opt, const char *v,
                     double min, double max, double *out);
/* A size such as 512MiB, 2GiB or a byte count, at most INT64_MAX bytes. */
int cli_parse_size(const char *cmd, const char *opt, const char *v,
                   uint64_t *out);
/* 1 when argv[i] has a value after it, else prints "vigil CMD: OPT: needs a
 * value" and returns 0. */
int cli_need_value(const char *cmd, int argc, char **argv, int i);
/* v for a message: at most ~64 characters, control characters as '?'. */
const char *cli_shown(const char *v, char *buf, size_t size);

/* Common detection options shared by detect and bench. */
typedef struct cli_detect_args {
    const char *input;
    const char *config;
    const char *out_dir;
    int64_t max_frames;
    int quiet;
    int progress; /* -1 auto (terminal), 0 off, 1 on */
    vg_settings settings;
    vg_sysinfo sysinfo;
} cli_detect_args;

/* Parses one common option at argv[*i]; returns 1 when consumed, 0 when not
 * a common option, or -1 after printing a usage error. */
int cli_parse_common(const char *cmd, int argc, char **argv, int *i,
                     cli_detect_args *a);

/* builtin < probed < config < command line; returns 0 or prints the error
 * and returns VG_EXIT_ERROR. cli_set marks options given on the command line
 * (applied last). */
int cli_resolve_settings(vg_context *ctx, cli_detect_args *a);

/* Detector options of the settings (session options point into s). */
void cli_detector_opts(const vg_settings *s, vg_detector_opts *o);

/* With tracker.reid and a reid_model: loads the model once to refuse a
 * missing or unusable file before any frame (each stream loads its own
 * later). po (may be NULL) is told what the load learnt (reid_dim,
 * reid_input_bytes), so the memory plan does not load it again. Returns 0,
 * or -1 with the error printed. */
int cli_check_reid_model(vg_context *ctx, const vg_settings *s,
                         vg_plan_opts *po);

/* Creates the detector of the settings; prints the error on failure. */
int cli_open_detector(vg_context *ctx, const vg_settings *s, vg_detector **out);

/* The default job of `vigil run` and `vigil bench run`: the cached
 * vtest.avi and examples/site.yaml ($VIGIL_DATA, else the source tree). */
void cli_default_job(char *input, size_t input_size, char *config,
                     size_t config_size);

/* Reads the job sections of a->config (when set) into a new job config
 * (the caller frees it with vg_free) and completes it; when *n_inputs is 0,
 * fills inputs with the config's inputs, else default_input (both borrowed:
 * they live as long as the job and the caller's buffer). Prints the error
 * and returns VG_EXIT_ERROR on failure. */
int cli_load_job(vg_context *ctx, const cli_detect_args *a, vg_job_config **out,
                 const char **inputs, int *n_inputs, int max_inputs,
                 const char *default_input);

/* The memory telemetry of the settings (interval, leak slope and window).
 * Returns 0, or VG_EXIT_ERROR with the error printed. Caller destroys. */
int cli_open_telemetry(vg_context *ctx, const vg_settings *s,
                       vg_telemetry **out);

/* The residency manager of job's budget, host_reserved bytes reserved,
 * reporting to telemetry (may be NULL), with every model of the job, or
 * only its detector when detector_only. Returns 0, or VG_EXIT_ERROR with
 * the error printed (*out may then hold a manager to destroy). */
int cli_open_residency(vg_context *ctx, const vg_job_config *job,
                       uint64_t host_reserved, vg_telemetry *telemetry,
                       int detector_only, vg_residency **out);

/* The CCTV job's options as `vigil run`, `vigil serve` and `vigil bench
 * job` share them: the settings, a->out_dir, the residency and the job's
 * detector (job declares one). The caller sets the rest. */
void cli_cctv_job_opts(const cli_detect_args *a, const vg_job_config *job,
                       vg_residency *residency, vg_job_opts *jo);

/* ---- progress ---- */
typedef struct cli_progress {
    int enabled;
    int64_t total;
    int64_t start_ns;
    int64_t last_ns;
} cli_progress;

void cli_progress_start(cli_progress *p, int mode, int64_t total);
void cli_progress_update(cli_progress *p, int64_t done);
void cli_progress_end(cli_progress *p);

/* ---- JSON ---- */
void cli_json_string(FILE *f, const char *s);

/* Signals. main() blocks SIGINT, SIGTERM and SIGHUP in every thread before
 * anything else starts (threads inherit the mask), so no handler runs in a
 * random thread. A command that creates a context starts a watcher thread
 * that waits for them (sigtimedwait) and turns the first one into
 * vg_context_request_stop(ctx): every blocking step of vigil polls that flag
 * and ends within about a second, the command finishes its outputs and exits
 * 130. A second signal ends the process at once (exit 130; committed events
 * are safe, as after kill -9), and so does a stop that takes longer than
 * CLI_STOP_GRACE_S. The watcher's state lives in the command's cli_signals,
 * not in a global. */
#define CLI_STOP_GRACE_S 10
typedef struct cli_signals {
    vg_context *ctx;
    pthread_t thread;
    atomic_int quit;  /* set by cli_signals_stop */
    atomic_int signo; /* the first signal received, 0 none */
    int started;
} cli_signals;

/* Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (main, first). */
void cli_signals_block(void);
/* Starts the watcher for ctx. Returns 0, or -1 (no thread: signals then act
 * as they would by default, the process is not left deaf). */
int cli_signals_start(cli_signals *s, vg_context *ctx);
/* Stops and joins the watcher; accepts a never-started one. */
void cli_signals_stop(cli_signals *s);
/* Creates a context and starts its signal watcher in sig. Returns 0 or -1
 * (out of memory). */
int cli_context_create(vg_context **ctx, cli_signals *sig);
/* Stops the watcher, destroys the context, and returns the exit status:
 * exit_code, or 130 when a signal stopped the command (one line said so). */
int cli_context_destroy(vg_context **ctx, cli_signals *sig, int exit_code);
/* 1 once a stop was requested on ctx (a signal arrived). */
int cli_interrupted(vg_context *ctx);

#endif
