/* vigil probe: the machine, and the configuration vigil would choose. */
#include <string.h>

#include "cli/cli.h"
#include "vigil/cameras.h"
#include "vigil/faces.h"
#include "vigil/job.h"
#include "vigil/rules.h"
#include "vigil/schema.h"

static void probe_usage(FILE *f)
{
    fprintf(f,
            "usage: vigil probe [-c CONFIG] [--json] [detect options]\n"
            "       vigil probe --config-doc\n"
            "\n"
            "Prints the CPU, memory and GPUs found, the ONNX Runtime\n"
            "providers available, and each setting vigil would use with\n"
            "where it came from: command line / config > probed > built-in.\n"
            "  -c, --config FILE   YAML configuration to resolve\n"
            "  --json              one JSON object instead of text\n"
            "  --config-doc        print the reference of every config key\n"
            "                      (Markdown, as in docs/config.md)\n");
}

/* The reference of every key of every table, as Markdown. */
static int print_config_doc(void)
{
    static char md[96 * 1024];
    size_t len = 0;
    int n, rc = 0;
    const vg_option *o = vg_settings_schema(&n);

    rc |= vg_schema_markdown(o, n, md, sizeof(md), &len);
    o = vg_rules_options_schema(&n);
    rc |= vg_schema_markdown(o, n, md, sizeof(md), &len);
    o = vg_rules_item_schema(&n);
    rc |= vg_schema_markdown(o, n, md, sizeof(md), &len);
    o = vg_cameras_schema(&n);
    rc |= vg_schema_markdown(o, n, md, sizeof(md), &len);
    o = vg_job_staged_schema(&n);
    rc |= vg_schema_markdown(o, n, md, sizeof(md), &len);
    o = vg_faces_schema(&n);
    rc |= vg_schema_markdown(o, n, md, sizeof(md), &len);
    if (rc != 0)
        return cli_error("config reference: more than %zu bytes", sizeof(md));
    fputs(md, stdout);
    return VG_EXIT_OK;
}

/* Every key of the settings table with its value and origin. */
static void print_keys_text(const vg_settings *s)
{
    int n;
    const vg_option *o = vg_settings_schema(&n);
    char name[64], val[VG_PATH_MAX];

    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%s.%s", o[i].section, o[i].key);
        vg_option_format(&o[i], s, val, sizeof(val));
        printf("  %-34s %-40s %s\n", name, val,
               vg_origin_name(s->origin.key[i]));
    }
}

static void print_keys_json(const vg_settings *s)
{
    int n;
    const vg_option *o = vg_settings_schema(&n);
    char val[VG_PATH_MAX];

    printf("\"keys\":[");
    for (int i = 0; i < n; i++) {
        vg_option_format(&o[i], s, val, sizeof(val));
        printf("%s{\"section\":\"%s\",\"key\":\"%s\",\"type\":\"%s\","
               "\"value\":",
               i ? "," : "", o[i].section, o[i].key,
               vg_option_type_name(&o[i]));
        cli_json_string(stdout, val);
        printf(",\"from\":\"%s\"}", vg_origin_name(s->origin.key[i]));
    }
    printf("]");
}

int cmd_probe(int argc, char **argv)
{
    cli_detect_args a;
    vg_context *ctx = NULL;
    cli_signals sig = {0};
    const vg_settings *s = &a.settings;
    const vg_sysinfo *si = &a.sysinfo;
    char b1[32], b2[32];
    int json = 0, rc;

    memset(&a, 0, sizeof(a));
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            probe_usage(stdout);
            return VG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(argv[i], "--config-doc"))
            return print_config_doc();
        r = cli_parse_common("probe", argc, argv, &i, &a);
        if (r < 0)
            return VG_EXIT_USAGE;
        if (r == 0)
            return cli_usage_error("probe", "unknown option '%s'", argv[i]);
    }
    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    rc = cli_resolve_settings(ctx, &a);
    rc = cli_context_destroy(&ctx, &sig, rc);
    if (rc != 0)
        return rc;

    if (json) {
        printf("{\"cpu\":{\"model\":");
        cli_json_string(stdout, si->cpu_model);
        printf(",\"cores\":%d},\"memory\":{\"total_bytes\":%llu,\"available_"
               "bytes\":%llu},",
               si->cpu_cores, (unsigned long long)si->memory_total,
               (unsigned long long)si->memory_available);
        printf("\"gpus\":[");
        for (int i = 0; i < si->gpu_count; i++) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_string(stdout, si->gpus[i].name);
            printf(",\"memory_total_bytes\":%llu,\"memory_free_bytes\":%llu}",
                   (unsigned long long)si->gpus[i].memory_total,
                   (unsigned long long)si->gpus[i].memory_free);
        }
        printf("],\"onnxruntime\":{\"version\":");
        cli_json_string(stdout, si->ort_version);
        printf(",\"providers\":");
        cli_json_string(stdout, si->ort_providers);
        printf("},\"settings\":{\"model\":{\"value\":");
        cli_json_string(stdout, s->model);
        printf(",\"from\":\"%s\"},", vg_origin_name(s->origin.model));
        printf("\"threads\":{\"value\":%d,\"from\":\"%s\"},", s->threads,
               vg_origin_name(s->origin.threads));
        printf("\"providers\":{\"value\":[");
        for (int i = 0; i < s->n_providers; i++)
            printf("%s\"%s\"", i ? "," : "", s->providers[i]);
        printf("],\"from\":\"%s\"},", vg_origin_name(s->origin.providers));
        printf("\"head\":{\"value\":\"%s\",\"from\":\"%s\"},",
               vg_head_kind_name(s->head), vg_origin_name(s->origin.head));
        printf("\"score_threshold\":{\"value\":%.3f,\"from\":\"%s\"},",
               s->score_threshold, vg_origin_name(s->origin.score_threshold));
        printf("\"nms_iou\":{\"value\":%.3f,\"from\":\"%s\"},", s->nms_iou,
               vg_origin_name(s->origin.nms_iou));
        printf("\"queue_depth\":{\"value\":%d,\"from\":\"%s\"}},",
               s->queue_depth, vg_origin_name(s->origin.queue_depth));
        print_keys_json(s);
        printf("}\n");
        return VG_EXIT_OK;
    }
    printf("machine\n");
    printf("  cpu:        %s (%d usable cores)\n",
           si->cpu_model[0] ? si->cpu_model : "unknown", si->cpu_cores);
    printf("  memory:     %s total, %s available\n",
           vg_format_bytes(si->memory_total, b1, sizeof(b1)),
           vg_format_bytes(si->memory_available, b2, sizeof(b2)));
    if (si->gpu_count == 0)
        printf("  gpu:        none (%s)\n", si->gpu_note);
    for (int i = 0; i < si->gpu_count; i++)
        printf("  gpu %d:      %s, %s total, %s free\n", i, si->gpus[i].name,
               vg_format_bytes(si->gpus[i].memory_total, b1, sizeof(b1)),
               vg_format_bytes(si->gpus[i].memory_free, b2, sizeof(b2)));
    printf("  onnxruntime: %s (%s)\n", si->ort_version, si->ort_providers);
    printf("configuration (explicit > probed > built-in)\n");
    print_keys_text(s);
    return VG_EXIT_OK;
}
