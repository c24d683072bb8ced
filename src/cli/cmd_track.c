/* vigil track --dets FILE: ByteTrack over MOTChallenge detections, written
 * as MOTChallenge tracks. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/track.h"

#define MAX_FRAME 100000000LL

static void track_usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigil track --dets FILE [OPTIONS]\n"
        "\n"
        "Tracks objects through MOTChallenge detections (frame,-1,x,y,w,h,\n"
        "score,... with frames from 1; any order within a frame) with\n"
        "ByteTrack, and writes MOTChallenge results:\n"
        "  frame,id,x,y,w,h,score,-1,-1,-1\n"
        "one line per confirmed track matched in a frame, its box the\n"
        "Kalman-filtered one. All detections are taken as one class. Frames\n"
        "with no detections still advance the tracker.\n"
        "\n"
        "options:\n"
        "      --dets FILE          detections to track (required)\n"
        "  -o, --out FILE           results (default: standard output)\n"
        "      --fps F              frame rate of the video the detections\n"
        "                           come from (default 30; give the real\n"
        "                           one: the lost buffer is in seconds)\n"
        "      --lost-seconds S     how long a lost track may come back\n"
        "                           with its id (default 3)\n"
        "      --high T             first-stage score threshold (default 0.5)\n"
        "      --low T              second-stage score threshold (default "
        "0.1)\n"
        "      --new-track T        score to start a track (default 0.6)\n"
        "      --match T            first-stage gate on 1 - IoU (default 0.8)\n"
        "      --max-tracks N       tracks held at once (default 512)\n"
        "  -q, --quiet              no summary on standard error\n"
        "\n"
        "Exit status: 0 success, 1 error (unreadable or malformed input),\n"
        "2 bad usage.\n");
}

typedef struct mot_det {
    int64_t frame;
    int64_t line; /* order in the file, for a stable sort */
    vg_detection det;
} mot_det;

static int by_frame(const void *pa, const void *pb)
{
    const mot_det *a = pa, *b = pb;
    if (a->frame != b->frame)
        return a->frame < b->frame ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* Parses "frame,id,x,y,w,h,score[,...]"; 0, or -1 malformed, -2 negative
 * size, -3 frame out of range. */
static int parse_line(char *s, mot_det *m)
{
    double v[7];
    char *end;
    for (int i = 0; i < 7; i++) {
        errno = 0;
        v[i] = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(v[i]))
            return -1;
        while (*end == ' ' || *end == '\t')
            end++;
        if (i < 6) {
            if (*end != ',')
                return -1;
            end++;
        } else if (*end != ',' && *end != '\0' && *end != '\n' &&
                   *end != '\r') {
            return -1;
        }
        s = end;
    }
    if (v[0] != floor(v[0]))
        return -1;
    if (v[0] < 1 || v[0] > (double)MAX_FRAME)
        return -3;
    if (v[4] < 0 || v[5] < 0)
        return -2;
    m->frame = (int64_t)v[0];
    m->det.box.x = (float)v[2];
    m->det.box.y = (float)v[3];
    m->det.box.w = (float)v[4];
    m->det.box.h = (float)v[5];
    m->det.score = (float)v[6];
    m->det.class_id = 0;
    return 0;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    return 1;
}

/* Reads every detection of path into *out (vg_realloc'd, caller frees).
 * Prints the error and returns VG_EXIT_ERROR on failure. */
static int read_dets(vg_context *ctx, const char *path, mot_det **out,
                     size_t *n_out)
{
    FILE *f;
    char *line = NULL;
    size_t cap_line = 0, n = 0, cap = 0;
    mot_det *v = NULL;
    int64_t lineno = 0;
    int rc = VG_EXIT_OK;

    *out = NULL;
    *n_out = 0;
    f = fopen(path, "r");
    if (!f)
        return cli_error("%s: cannot open: %s", path, strerror(errno));
    while (getline(&line, &cap_line, f) >= 0) {
        mot_det m;
        int prc;
        lineno++;
        if (blank(line))
            continue;
        prc = parse_line(line, &m);
        if (prc == -1) {
            rc = cli_error("%s:%lld: expected frame,id,x,y,w,h,score", path,
                           (long long)lineno);
            goto done;
        }
        if (prc == -2) {
            rc = cli_error("%s:%lld: negative box size", path,
                           (long long)lineno);
            goto done;
        }
        if (prc == -3) {
            rc = cli_error("%s:%lld: frame number outside 1..%lld", path,
                           (long long)lineno, (long long)MAX_FRAME);
            goto done;
        }
        m.line = lineno;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            mot_det *nv = vg_realloc(ctx, v, nc * sizeof(*v));
            if (!nv) {
                rc = cli_error("%s: out of memory reading detections", path);
                goto done;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = m;
    }
    if (ferror(f))
        rc = cli_error("%s: read error: %s", path, strerror(errno));

done:
    free(line); /* getline's buffer belongs to libc */
    fclose(f);
    if (rc != VG_EXIT_OK) {
        vg_free(ctx, v);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), by_frame);
    *out = v;
    *n_out = n;
    return VG_EXIT_OK;
}

static int parse_num(const char *opt, const char *s, double lo, double hi,
                     double *out)
{
    return cli_parse_number("track", opt, s, lo, hi, out);
}

int cmd_track(int argc, char **argv)
{
    const char *dets_path = NULL, *out_path = NULL;
    vg_tracker_opts o;
    vg_context *ctx = NULL;
    cli_signals sig = {0};
    vg_tracker *t = NULL;
    vg_track *tracks = NULL;
    vg_detection *frame_dets = NULL;
    mot_det *dets = NULL;
    size_t n_dets = 0, k = 0;
    FILE *out = stdout;
    int quiet = 0, rc = VG_EXIT_OK, max_per_frame = 1;
    int64_t last_frame = 0, lines_out = 0;
    vg_tracker_stats st;

    vg_tracker_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            track_usage(stdout);
            return VG_EXIT_OK;
        }
        if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = 1;
            continue;
        }
        if (a[0] != '-')
            return cli_usage_error("track", "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error("track", "%s: needs a value", a);
        if (!strcmp(a, "--dets")) {
            dets_path = argv[++i];
        } else if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            out_path = argv[++i];
        } else if (!strcmp(a, "--fps")) {
            if (parse_num(a, argv[++i], 1e-3, 1e6, &x) < 0)
                return VG_EXIT_USAGE;
            o.fps = x;
        } else if (!strcmp(a, "--lost-seconds")) {
            if (parse_num(a, argv[++i], 0, 1e6, &x) < 0)
                return VG_EXIT_USAGE;
            o.lost_seconds = x;
        } else if (!strcmp(a, "--high")) {
            if (parse_num(a, argv[++i], 0, 1, &x) < 0)
                return VG_EXIT_USAGE;
            o.high_thresh = (float)x;
        } else if (!strcmp(a, "--low")) {
            if (parse_num(a, argv[++i], 0, 1, &x) < 0)
                return VG_EXIT_USAGE;
            o.low_thresh = (float)x;
        } else if (!strcmp(a, "--new-track")) {
            if (parse_num(a, argv[++i], 0, 1, &x) < 0)
                return VG_EXIT_USAGE;
            o.new_track_thresh = (float)x;
        } else if (!strcmp(a, "--match")) {
            if (parse_num(a, argv[++i], 0, 1, &x) < 0)
                return VG_EXIT_USAGE;
            o.match_thresh = (float)x;
        } else if (!strcmp(a, "--max-tracks")) {
            int64_t n;
            if (cli_parse_int("track", a, argv[++i], 1, 65536, &n) < 0)
                return VG_EXIT_USAGE;
            o.max_tracks = (int)n;
        } else {
            return cli_usage_error("track", "unknown option '%s'", a);
        }
    }
    if (!dets_path)
        return cli_usage_error("track", "--dets FILE is required");
    if (o.low_thresh > o.high_thresh)
        return cli_usage_error("track", "--low %g is above --high %g",
                               (double)o.low_thresh, (double)o.high_thresh);
    if (o.lost_seconds * o.fps > 1e9)
        return cli_usage_error("track",
                               "--lost-seconds %g at %g fps is too long",
                               o.lost_seconds, o.fps);

    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    rc = read_dets(ctx, dets_path, &dets, &n_dets);
    if (rc != VG_EXIT_OK)
        goto done;
    for (size_t i = 0; i < n_dets;) {
        size_t j = i;
        while (j < n_dets && dets[j].frame == dets[i].frame)
            j++;
        if ((int64_t)(j - i) > 65536) {
            rc = cli_error("%s: frame %lld has %zu detections (at most 65536)",
                           dets_path, (long long)dets[i].frame, j - i);
            goto done;
        }
        if ((int)(j - i) > max_per_frame)
            max_per_frame = (int)(j - i);
        i = j;
    }
    o.max_detections = max_per_frame;
    if (vg_tracker_create(ctx, &o, &t) < 0) {
        rc = cli_error("%s", vg_context_errmsg(ctx));
        goto done;
    }
    tracks = vg_malloc(ctx, sizeof(*tracks) * (size_t)o.max_tracks);
    frame_dets = vg_malloc(ctx, sizeof(*frame_dets) * (size_t)max_per_frame);
    if (!tracks || !frame_dets) {
        rc = cli_error("out of memory");
        goto done;
    }
    if (out_path) {
        out = fopen(out_path, "w");
        if (!out) {
            out = stdout;
            rc = cli_error("%s: cannot write: %s", out_path, strerror(errno));
            goto done;
        }
    }

    if (n_dets > 0)
        last_frame = dets[n_dets - 1].frame;
    for (int64_t frame = 1; frame <= last_frame; frame++) {
        int n = 0, n_out = 0;
        while (k < n_dets && dets[k].frame == frame)
            frame_dets[n++] = dets[k++].det;
        if (vg_tracker_update(t, frame_dets, n, tracks, o.max_tracks, &n_out) <
            0) {
            rc = cli_error("%s: frame %lld: %s", dets_path, (long long)frame,
                           vg_context_errmsg(ctx));
            goto done;
        }
        for (int i = 0; i < n_out; i++) {
            const vg_track *tr = &tracks[i];
            fprintf(out, "%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.4f,-1,-1,-1\n",
                    (long long)frame, (long long)tr->id, tr->box.x, tr->box.y,
                    tr->box.w, tr->box.h, tr->score);
            lines_out++;
        }
        if (ferror(out))
            break;
    }
    if (ferror(out) || fflush(out) != 0) {
        rc = cli_error("%s: write error: %s", out_path ? out_path : "stdout",
                       strerror(errno));
        goto done;
    }
    vg_tracker_stats_get(t, &st);
    if (!quiet)
        fprintf(stderr,
                "vigil track: %lld frames, %zu detections, %lld tracks, "
                "%lld result lines%s%s\n",
                (long long)last_frame, n_dets, (long long)st.confirmed,
                (long long)lines_out, out_path ? " -> " : "",
                out_path ? out_path : "");

done:
    if (out != stdout && fclose(out) != 0 && rc == VG_EXIT_OK)
        rc = cli_error("%s: write error: %s", out_path, strerror(errno));
    vg_free(ctx, frame_dets);
    vg_free(ctx, tracks);
    vg_free(ctx, dets);
    vg_tracker_destroy(&t);
    return cli_context_destroy(&ctx, &sig, rc);
}
