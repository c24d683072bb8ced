/* vigil info INPUT: a stream's properties. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void info_usage(FILE *f)
{
    fprintf(f, "usage: vigil info INPUT [--json] [--timeout-ms N]\n"
               "\n"
               "Prints the width, height, frame rate, frame count, duration,\n"
               "codec and container of a video file, image or network stream.\n"
               "  --json          one JSON object instead of text\n"
               "  --timeout-ms N  network open/read timeout (default 5000)\n");
}

int cmd_info(int argc, char **argv)
{
    const char *input = NULL;
    int json = 0, timeout_ms = 5000, rc;
    vg_context *ctx = NULL;
    cli_signals sig = {0};
    vg_source *src = NULL;
    vg_source_opts so;
    vg_source_info si;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            info_usage(stdout);
            return VG_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--timeout-ms")) {
            int64_t x;
            if (!cli_need_value("info", argc, argv, i) ||
                cli_parse_int("info", argv[i], argv[i + 1], 1, 3600000, &x) < 0)
                return VG_EXIT_USAGE;
            timeout_ms = (int)x;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        } else if (!input) {
            input = argv[i];
        } else {
            return cli_usage_error("info", "one INPUT only");
        }
    }
    if (!input)
        return cli_usage_error("info", "missing INPUT");
    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    vg_context_set_log_level(ctx, VG_LOG_ERROR);
    vg_source_opts_default(&so);
    so.timeout_ms = timeout_ms;
    rc = vg_source_open(ctx, input, &so, &src);
    if (rc < 0) {
        if (!cli_interrupted(ctx))
            cli_error("%s", vg_context_errmsg(ctx));
        return cli_context_destroy(&ctx, &sig, VG_EXIT_ERROR);
    }
    vg_source_get_info(src, &si);
    if (json) {
        printf("{\"input\":");
        cli_json_string(stdout, input);
        printf(",\"width\":%d,\"height\":%d,\"fps\":%.3f,\"frame_count\":%lld,"
               "\"duration_s\":%.3f,\"codec\":",
               si.width, si.height, si.fps, (long long)si.frame_count,
               si.duration_s);
        cli_json_string(stdout, si.codec);
        printf(",\"format\":");
        cli_json_string(stdout, si.format);
        printf(",\"is_image\":%s,\"is_live\":%s}\n",
               si.is_image ? "true" : "false", si.is_live ? "true" : "false");
    } else {
        printf("input:       %s\n", input);
        printf("size:        %dx%d\n", si.width, si.height);
        printf("fps:         %.3f\n", si.fps);
        if (si.frame_count >= 0)
            printf("frames:      %lld\n", (long long)si.frame_count);
        else
            printf("frames:      unknown\n");
        if (si.duration_s >= 0)
            printf("duration:    %.3f s\n", si.duration_s);
        printf("codec:       %s\n", si.codec);
        printf("container:   %s\n", si.format);
        printf("kind:        %s\n", si.is_image  ? "image"
                                    : si.is_live ? "live stream"
                                                 : "video file");
    }
    vg_source_close(&src);
    return cli_context_destroy(&ctx, &sig, VG_EXIT_OK);
}
