/* vigil: the command-line interface, a thin layer over libvigil. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigil COMMAND [OPTIONS]\n"
        "\n"
        "Multi-stream video analytics with disciplined memory.\n"
        "\n"
        "commands:\n"
        "  run [INPUT ...]  the CCTV job: detect, track, zone rules, events,\n"
        "                   snapshots, annotated video (default: vtest.avi\n"
        "                   with examples/site.yaml)\n"
        "  plan [INPUT ...] the memory a job will take (models, streams, peak\n"
        "                   host and device memory against the budget)\n"
        "  detect INPUT     detect objects in a video, image or stream;\n"
        "                   writes dets.txt (MOTChallenge), dets.jsonl and "
        "report.json\n"
        "  track --dets FILE\n"
        "                   run the tracker alone on MOTChallenge detections;\n"
        "                   writes MOTChallenge tracks\n"
        "  faces INPUT      the two-face split-screen job: split.mp4,\n"
        "                   faces.jsonl and report.json (docs/faces.md)\n"
        "  info INPUT       print a stream's properties\n"
        "  probe            print the CPU, memory and GPUs found and the\n"
        "                   configuration vigil would choose\n"
        "  serve -c CONFIG  the camera service: HTTP API, web page, live "
        "views\n"
        "  bench detect INPUT\n"
        "                   measure decode, inference and end-to-end fps\n"
        "\n"
        "Run 'vigil COMMAND --help' for a command's options.\n"
        "Exit status: 0 success, 1 error, 2 bad usage, 3 input truncated\n"
        "(outputs up to the cut are kept).\n");
}

int main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        usage(stderr);
        return VG_EXIT_USAGE;
    }
    cmd = argv[1];
    /* Before any thread exists, so that every thread inherits the mask and
     * only a command's signal watcher sees SIGINT/SIGTERM/SIGHUP. */
    cli_signals_block();
    /* FFmpeg's own chatter (concealed macroblocks in a damaged file and the
     * like) is not for users; vigil reports the outcome itself. Set
     * VIGIL_FFMPEG_LOG=1 to see it. */
    vg_source_set_ffmpeg_log_level(getenv("VIGIL_FFMPEG_LOG") ? VG_LOG_INFO
                                                              : VG_LOG_QUIET);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return VG_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("vigil %s\n", VG_VERSION);
        return VG_EXIT_OK;
    }
    if (!strcmp(cmd, "detect"))
        return cmd_detect(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "probe"))
        return cmd_probe(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "plan"))
        return cmd_plan(argc - 1, argv + 1);
    if (!strcmp(cmd, "track"))
        return cmd_track(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "faces"))
        return cmd_faces(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "vigil: unknown command '%s'\n", cmd);
    usage(stderr);
    return VG_EXIT_USAGE;
}
