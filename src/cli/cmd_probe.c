/* vigil probe: the machine, and the configuration vigil would choose. */
#include <string.h>

#include "cli/cli.h"

static void probe_usage(FILE *f)
{
    fprintf(f,
            "usage: vigil probe [-c CONFIG] [--json] [detect options]\n"
            "\n"
            "Prints the CPU, memory and GPUs found, the ONNX Runtime\n"
            "providers available, and each setting vigil would use with\n"
            "where it came from: command line / config > probed > built-in.\n"
            "  -c, --config FILE   YAML configuration to resolve\n"
            "  --json              one JSON object instead of text\n");
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
        printf("\"queue_depth\":{\"value\":%d,\"from\":\"%s\"}}}\n",
               s->queue_depth, vg_origin_name(s->origin.queue_depth));
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
    printf("  %-18s %-40s %s\n", "model", s->model,
           vg_origin_name(s->origin.model));
    printf("  %-18s %-40d %s\n", "threads", s->threads,
           vg_origin_name(s->origin.threads));
    {
        char prov[64] = "";
        for (int i = 0; i < s->n_providers; i++) {
            size_t l = strlen(prov);
            snprintf(prov + l, sizeof(prov) - l, "%s%s", i ? "," : "",
                     s->providers[i]);
        }
        printf("  %-18s %-40s %s\n", "providers", prov,
               vg_origin_name(s->origin.providers));
    }
    printf("  %-18s %-40s %s\n", "head", vg_head_kind_name(s->head),
           vg_origin_name(s->origin.head));
    printf("  %-18s %-40.2f %s\n", "score_threshold", s->score_threshold,
           vg_origin_name(s->origin.score_threshold));
    printf("  %-18s %-40.2f %s\n", "nms_iou", s->nms_iou,
           vg_origin_name(s->origin.nms_iou));
    printf("  %-18s %-40d %s\n", "queue_depth", s->queue_depth,
           vg_origin_name(s->origin.queue_depth));
    printf("  %-18s %-40s %s\n", "graph_optimization",
           s->graph_opt == 0   ? "none"
           : s->graph_opt == 1 ? "basic"
           : s->graph_opt == 2 ? "extended"
                               : "all",
           vg_origin_name(s->origin.graph_opt));
    printf("  %-18s %-40s %s\n", "memory_arena", s->mem_arena ? "on" : "off",
           vg_origin_name(s->origin.mem_arena));
    return VG_EXIT_OK;
}
