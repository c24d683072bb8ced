/* vigil plan [-c CONFIG] [INPUT ...]: the memory plan of a job, before it
 * runs (include/vigil/plan.h). */
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "vigil/job.h"
#include "vigil/plan.h"

static void plan_usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigil plan [-c CONFIG] [OPTIONS] [INPUT ...]\n"
        "\n"
        "Prints the memory the job of CONFIG will take, before running it:\n"
        "per model (and per precision variant it declares) the weights and\n"
        "the working memory at the configured batch and input, from the\n"
        "calibration file when the model was measured on this machine and\n"
        "estimated otherwise (the table says which); per input the buffers\n"
        "of its stream (pools, decoder, encoder, tables; a CCTV job's\n"
        "streams run at the same time, so theirs add up, and what they share\n"
        "counts once); then the peak host\n"
        "and device memory with every model resident and with the staged\n"
        "schedule, whether each fits the budget, and when it does not, the\n"
        "largest item to cut. Inputs: the command line's, else the config's\n"
        "`inputs`, else the bundled vtest.avi (each is opened briefly to\n"
        "read its size). With no CONFIG and no INPUT: examples/site.yaml.\n"
        "\n"
        "options:\n"
        "  -c, --config FILE       the job's YAML (memory, models, ...)\n"
        "      --host-memory SIZE  host budget, e.g. 16GiB, 512MiB (default:\n"
        "                          the config's memory.host; 0: none)\n"
        "      --device-memory SIZE  device budget (default memory.device)\n"
        "      --calibration FILE  calibration file to read (default: the\n"
        "                          config's, else "
        "$VIGIL_CACHE/calibration.tsv)\n"
        "      --no-video          plan without the annotated video encoder\n"
        "      --streams N         plan each input N times (N cameras like\n"
        "                          it; the streams run at the same time)\n"
        "      --json              one JSON object instead of the table\n"
        "      --faces             plan the split-screen faces job (`vigil\n"
        "                          faces`) on its one INPUT, with the\n"
        "                          config's faces: section\n"
        "  -m, --model FILE, --threads N, --queue N   as for vigil run\n"
        "\n"
        "Exit status: 0 the plan was printed (whether or not it fits), 1 the\n"
        "config or a model is wrong, 2 bad usage (unknown option, a size\n"
        "that does not parse, a config file that is not there).\n");
}

/* One-line usage error (no hint line: scripts read the first line). */
static int plan_usage_error(const char *msg, const char *value)
{
    fprintf(stderr, "vigil plan: %s '%s'\n", msg, value);
    return VG_EXIT_USAGE;
}

static int parse_budget(const char *opt, const char *value, int64_t *out)
{
    uint64_t b;
    if (cli_parse_size("plan", opt, value, &b) < 0) /* <= INT64_MAX */
        return -1;
    *out = (int64_t)b;
    return 0;
}

/* `vigil plan --faces [-c CONFIG] INPUT`: the split-screen job's plan. */
static int plan_faces(const cli_detect_args *a, const char *const *inputs,
                      int n_inputs, int json)
{
    vg_context *ctx = NULL;
    cli_signals sig = {0};
    vg_faces_config c;
    char path[VG_PATH_MAX];
    int rc;

    if (n_inputs != 1)
        return cli_usage_error("plan", "--faces plans one INPUT (got %d)",
                               n_inputs);
    if (json)
        return cli_usage_error("plan", "--faces prints a table; --json is "
                                       "for the CCTV and staged jobs");
    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    vg_context_set_log_level(ctx, VG_LOG_WARN);
    if ((rc = cli_faces_config(ctx, a->config, -1, &c)) != VG_EXIT_OK)
        return cli_context_destroy(&ctx, &sig, rc);
    cli_faces_input(inputs[0], path, sizeof(path));
    rc = cli_faces_plan(ctx, &c, path);
    return cli_context_destroy(&ctx, &sig, rc);
}

int cmd_plan(int argc, char **argv)
{
    cli_detect_args a;
    vg_plan_opts po;
    vg_job_config *job = NULL;
    vg_plan *plan = NULL;
    vg_context *ctx = NULL;
    cli_signals sig = {0};
    const char *inputs[VG_PLAN_MAX_STREAMS];
    char default_input[VG_PATH_MAX], default_config[VG_PATH_MAX];
    int n_inputs = 0, json = 0, faces = 0, exit_code = VG_EXIT_ERROR;
    int64_t copies = 1;
    struct stat sb;

    memset(&a, 0, sizeof(a));
    a.progress = 0;
    vg_plan_opts_default(&po);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int rc;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            plan_usage(stdout);
            return VG_EXIT_OK;
        }
        if (!strcmp(o, "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(o, "--faces")) {
            faces = 1;
            continue;
        }
        if (!strcmp(o, "--no-video")) {
            po.video = 0;
            continue;
        }
        if (!strcmp(o, "--streams")) {
            if (!cli_need_value("plan", argc, argv, i) ||
                cli_parse_int("plan", o, argv[i + 1], 1, VG_PLAN_MAX_STREAMS,
                              &copies) < 0)
                return VG_EXIT_USAGE;
            i++;
            continue;
        }
        if (!strcmp(o, "--host-memory") || !strcmp(o, "--device-memory") ||
            !strcmp(o, "--calibration")) {
            if (!cli_need_value("plan", argc, argv, i))
                return VG_EXIT_USAGE;
            if (!strcmp(o, "--calibration"))
                po.calibration = argv[++i];
            else if (parse_budget(o, argv[i + 1],
                                  !strcmp(o, "--host-memory")
                                      ? &po.host_budget_bytes
                                      : &po.device_budget_bytes) < 0)
                return VG_EXIT_USAGE;
            else
                i++;
            continue;
        }
        rc = cli_parse_common("plan", argc, argv, &i, &a);
        if (rc < 0)
            return VG_EXIT_USAGE;
        if (rc == 1)
            continue;
        if (o[0] == '-' && o[1])
            return plan_usage_error("unknown option", o);
        if (n_inputs >= VG_PLAN_MAX_STREAMS) {
            fprintf(stderr, "vigil plan: at most %d inputs\n",
                    VG_PLAN_MAX_STREAMS);
            return VG_EXIT_USAGE;
        }
        inputs[n_inputs++] = o;
    }
    if (a.config && stat(a.config, &sb) != 0)
        return plan_usage_error("config file not found:", a.config);
    if (faces)
        return plan_faces(&a, inputs, n_inputs, json);
    cli_default_job(default_input, sizeof(default_input), default_config,
                    sizeof(default_config));
    if (n_inputs == 0 && !a.config)
        a.config = default_config;

    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    vg_context_set_log_level(ctx, VG_LOG_WARN);
    if (cli_resolve_settings(ctx, &a) != 0)
        goto out;
    if (cli_load_job(ctx, &a, &job, inputs, &n_inputs, VG_PLAN_MAX_STREAMS,
                     default_input) != 0)
        goto out;
    if (copies > 1) {
        /* every input as many times as --streams says, in turn */
        int n = n_inputs;
        if (n * copies > VG_PLAN_MAX_STREAMS) {
            exit_code = cli_usage_error(
                "plan", "--streams %lld x %d inputs: at most %d streams",
                (long long)copies, n, VG_PLAN_MAX_STREAMS);
            goto out;
        }
        for (int c = 1; c < copies; c++)
            for (int k = 0; k < n; k++)
                inputs[n_inputs++] = inputs[k];
    }
    if (vg_plan_build(ctx, job, &a.settings, inputs, n_inputs, &po, &plan) <
        0) {
        cli_error("%s", vg_context_errmsg(ctx));
        goto out;
    }
    /* A variant that is not there is listed as such; a model the job runs
     * must be there (the run would stop on it). */
    for (int i = 0; i < plan->n_models; i++)
        if (!plan->models[i].variant && plan->models[i].missing) {
            cli_error("%s: model file not found (model %s)",
                      plan->models[i].path, plan->models[i].name);
            goto out;
        }
    if (json) {
        vg_plan_print_json(plan, stdout);
        fputc('\n', stdout);
    } else {
        if (a.config)
            printf("config: %s\n", a.config);
        vg_plan_print(plan, stdout);
    }
    exit_code = fflush(stdout) == 0 ? VG_EXIT_OK : VG_EXIT_ERROR;
out:
    vg_plan_destroy(&plan);
    vg_free(ctx, job);
    return cli_context_destroy(&ctx, &sig, exit_code);
}
