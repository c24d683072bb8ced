/* vigil faces INPUT: the two-face split-screen job (docs/faces.md). The
 * job itself is vg_faces_run; this parses options and prints. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "vigil/faces.h"
#include "vigil/source.h"

static void faces_usage(FILE *f)
{
    fprintf(f,
            "usage: vigil faces INPUT [-c CONFIG] [--out DIR] [OPTIONS]\n"
            "\n"
            "Follows the two principal faces of a video (BlazeFace, ByteTrack\n"
            "with conditional MobileFaceNet re-identification) and composes\n"
            "them side by side, one per slot, into an H.264 video. Writes\n"
            "DIR/split.mp4 (one frame per input frame), DIR/faces.jsonl (per\n"
            "frame: slot, track, box, score, reid_ran) and DIR/report.json.\n"
            "The 'faces:' section of CONFIG sets the output size, the crop\n"
            "smoothing, the hold and empty policy and the encoder\n"
            "(docs/faces.md).\n"
            "\n"
            "options:\n"
            "  -c, --config FILE   config with a 'faces:' section\n"
            "  -o, --out DIR       output folder (default out/faces)\n"
            "      --max-frames N  stop after N frames (0: all)\n"
            "      --plan          print the memory plan and exit\n"
            "  -q, --quiet         no summary on standard error\n"
            "\n"
            "INPUT is a path, or a name in the video cache ($VIGIL_CACHE/"
            "videos).\n"
            "Exit status: 0 success (also for a video without faces), 1 "
            "error,\n2 bad usage, 3 input truncated (outputs kept), 130 "
            "stopped.\n");
}

void cli_faces_input(const char *in, char *out, size_t size)
{
    struct stat sb;
    char dir[VG_PATH_MAX];
    snprintf(out, size, "%s", in);
    if (stat(in, &sb) == 0 || strchr(in, '/') != NULL ||
        vg_source_is_network_url(in))
        return;
    vg_cache_path("videos", dir, sizeof(dir));
    if (strlen(dir) + 1 + strlen(in) < size) {
        char cand[2 * VG_PATH_MAX];
        snprintf(cand, sizeof(cand), "%s/%s", dir, in);
        if (stat(cand, &sb) == 0 && strlen(cand) < size)
            memcpy(out, cand, strlen(cand) + 1);
    }
}

int cli_faces_config(vg_context *ctx, const char *config, int64_t max_frames,
                     vg_faces_config *c)
{
    vg_faces_config_default(c);
    if (config != NULL && vg_faces_config_load(ctx, config, c) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    if (max_frames >= 0)
        c->max_frames = max_frames;
    if (vg_faces_config_check(ctx, c) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    return VG_EXIT_OK;
}

int cli_faces_plan(vg_context *ctx, const vg_faces_config *c, const char *path)
{
    vg_source_opts so;
    vg_source *src = NULL;
    vg_source_info si;
    vg_faces_plan p;
    vg_source_opts_default(&so);
    if (vg_source_open(ctx, path, &so, &src) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    vg_source_get_info(src, &si);
    vg_source_close(&src);
    if (vg_faces_plan_build(ctx, c, si.width, si.height, si.codec, &p) < 0)
        return cli_error("%s", vg_context_errmsg(ctx));
    printf("faces job on %s (%dx%d %s) -> %dx%d %s\n", path, si.width,
           si.height, si.codec, c->out_width, c->out_height, c->encoder);
    vg_faces_plan_print(&p, stdout);
    return VG_EXIT_OK;
}

int cmd_faces(int argc, char **argv)
{
    const char *input = NULL, *config = NULL, *out_dir = "out/faces";
    char path[VG_PATH_MAX];
    int64_t max_frames = -1;
    int quiet = 0, plan_only = 0, rc, exit_code = VG_EXIT_OK;
    vg_faces_config c;
    vg_faces_report rep;
    vg_context *ctx = NULL;
    cli_signals sig;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            faces_usage(stdout);
            return VG_EXIT_OK;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (!cli_need_value("faces", argc, argv, i))
                return VG_EXIT_USAGE;
            config = argv[++i];
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (!cli_need_value("faces", argc, argv, i))
                return VG_EXIT_USAGE;
            out_dir = argv[++i];
        } else if (!strcmp(a, "--max-frames")) {
            if (!cli_need_value("faces", argc, argv, i) ||
                cli_parse_int("faces", a, argv[i + 1], 0, 1000000000LL,
                              &max_frames) < 0)
                return VG_EXIT_USAGE;
            i++;
        } else if (!strcmp(a, "--plan")) {
            plan_only = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            char buf[80];
            return cli_usage_error("faces", "unknown option '%s'",
                                   cli_shown(a, buf, sizeof(buf)));
        } else if (input == NULL) {
            input = a;
        } else {
            return cli_usage_error("faces", "one INPUT only");
        }
    }
    if (input == NULL)
        return cli_usage_error("faces", "INPUT is required (see --help)");
    cli_faces_input(input, path, sizeof(path));

    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    if ((rc = cli_faces_config(ctx, config, max_frames, &c)) != VG_EXIT_OK)
        return cli_context_destroy(&ctx, &sig, rc);
    if (plan_only)
        return cli_context_destroy(&ctx, &sig, cli_faces_plan(ctx, &c, path));

    rc = vg_faces_run(ctx, &c, path, out_dir, NULL, NULL, &rep);
    if (rc < 0 && rc != VG_EINTR && rc != VG_ETRUNCATED) {
        cli_error("%s", vg_context_errmsg(ctx));
        exit_code = VG_EXIT_ERROR;
    } else if (rc == VG_ETRUNCATED) {
        fprintf(stderr, "vigil: warning: %s: input truncated; outputs kept\n",
                path);
        exit_code = VG_EXIT_TRUNCATED;
    }
    if (!quiet && rep.frames_in > 0) {
        fprintf(stderr,
                "faces: %lld frames in, %lld out (%s); frames with 2/1/0 "
                "slots filled: %lld/%lld/%lld; slot swaps %lld; %.1f fps "
                "(detector ceiling %.1f)%s\n",
                (long long)rep.frames_in, (long long)rep.frames_out,
                rep.encoder, (long long)rep.frames_slot_filled[2],
                (long long)rep.frames_slot_filled[1],
                (long long)rep.frames_slot_filled[0],
                (long long)rep.slots.swaps, rep.end_to_end_fps,
                rep.detector_ceiling_fps,
                rep.frames_with_faces == 0 ? "; no face in the input" : "");
    }
    return cli_context_destroy(&ctx, &sig, exit_code);
}
