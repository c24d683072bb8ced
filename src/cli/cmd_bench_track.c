/* vigil bench track: the tracker on the synthetic benchmark scenes (MOTA,
 * IDF1, HOTA; plain ByteTrack and conditional ReID) and its time per frame
 * at 20, 100 and 500 objects. The work is vg_mot_run's; this prints. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/fsutil.h"
#include "vigil/mot.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: vigil bench track [--json] [--write DIR]\n"
        "\n"
        "Runs vigil's ByteTrack over three fixed synthetic scenes (seeded,\n"
        "the same on every machine; docs/tracking.md): easy, crowded and\n"
        "crossing (most walkers on one band, crossing and turning), once\n"
        "plain and once with conditional re-identification (the scene's\n"
        "appearance vectors as the embedder), and scores the tracks against\n"
        "the ground truth with TrackEval's MOTA, IDF1 and HOTA. Then times\n"
        "the tracker alone at 20, 100 and 500 walkers: mean time of one\n"
        "update and vigil heap allocations per update (0 expected).\n"
        "  --json       one JSON object\n"
        "  --write DIR  also write each scene's gt.txt and det.txt\n"
        "               (MOTChallenge) to DIR/<scene>/\n");
}

typedef struct scene_result {
    const char *name;
    vg_mot_run_result plain, reid;
} scene_result;

typedef struct timing {
    int objects;
    double update_us, allocs_per_update, reid_update_us, activation;
} timing;

static int write_scene(vg_context *ctx, const char *dir, const char *name,
                       const vg_mot_scene *sc)
{
    char path[4096];
    int rc;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (vg_mkdirs(path) < 0)
        return vg_fail(ctx, VG_EIO, "%s: cannot create: %s", path,
                       strerror(errno));
    snprintf(path, sizeof(path), "%s/%s/gt.txt", dir, name);
    if ((rc = vg_mot_write(ctx, path, sc->gt, sc->n_gt)) < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/%s/det.txt", dir, name);
    return vg_mot_write(ctx, path, sc->det, sc->n_det);
}

static void json_run(const char *key, const vg_mot_run_result *r)
{
    printf("\"%s\":{\"mota\":%.4f,\"idf1\":%.4f,\"hota\":%.4f,\"deta\":%.4f,"
           "\"assa\":%.4f,\"idsw\":%lld,\"fp\":%lld,\"fn\":%lld,"
           "\"gt_dets\":%lld,\"ids\":%d,\"activation\":%.4f,"
           "\"reid_embedded\":%lld,\"reid_rescued\":%lld,\"update_us\":%.2f}",
           key, r->m.mota, r->m.idf1, r->m.hota, r->m.deta, r->m.assa,
           (long long)r->m.idsw, (long long)r->m.fp, (long long)r->m.fn,
           (long long)r->m.gt_dets, r->m.trk_ids, r->activation,
           (long long)r->stats.reid_embedded, (long long)r->stats.reid_rescued,
           r->update_ns / 1e3);
}

int cmd_bench_track(int argc, char **argv)
{
    static const char *names[] = {"easy", "crowded", "crossing"};
    static const int counts[] = {20, 100, 500};
    scene_result sr[3];
    timing tm[3];
    const char *write_dir = NULL;
    vg_context *ctx = NULL;
    cli_signals sig;
    vg_sysinfo si;
    vg_reid_opts ro;
    int json = 0, exit_code = VG_EXIT_ERROR, rc;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return VG_EXIT_OK;
        }
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(argv[i], "--write")) {
            if (!cli_need_value("bench track", argc, argv, i))
                return VG_EXIT_USAGE;
            write_dir = argv[++i];
            continue;
        }
        {
            char b[80];
            cli_usage_error("bench track", "unknown option '%s'",
                            cli_shown(argv[i], b, sizeof(b)));
            usage(stderr);
            return VG_EXIT_USAGE;
        }
    }
    if (cli_context_create(&ctx, &sig) < 0)
        return cli_error("out of memory");
    vg_sysinfo_probe(ctx, &si);
    vg_reid_opts_default(&ro);

    for (int s = 0; s < 3; s++) {
        vg_mot_scene_opts so;
        vg_mot_scene *sc = NULL;
        sr[s].name = names[s];
        vg_mot_scene_preset(names[s], &so);
        if ((rc = vg_mot_scene_generate(ctx, &so, &sc)) < 0 ||
            (write_dir &&
             (rc = write_scene(ctx, write_dir, names[s], sc)) < 0) ||
            (rc = vg_mot_run(ctx, sc, NULL, NULL, 1, &sr[s].plain)) < 0 ||
            (rc = vg_mot_run(ctx, sc, NULL, &ro, 1, &sr[s].reid)) < 0) {
            vg_mot_scene_destroy(ctx, &sc);
            cli_error("bench track: scene %s: %s", names[s],
                      vg_context_errmsg(ctx));
            goto out;
        }
        vg_mot_scene_destroy(ctx, &sc);
        if (cli_interrupted(ctx))
            goto out;
    }
    for (int k = 0; k < 3; k++) {
        vg_mot_scene_opts so;
        vg_mot_scene *sc = NULL;
        vg_mot_run_result plain, reid;
        double scale = sqrt(counts[k] / 40.0); /* the crowded density */
        vg_mot_scene_preset("crowded", &so);
        so.walkers = counts[k];
        so.frames = 150;
        so.width = (int)(1280 * scale);
        so.height = (int)(720 * scale);
        so.false_positives = (float)(2.0 * counts[k] / 40.0);
        if ((rc = vg_mot_scene_generate(ctx, &so, &sc)) < 0 ||
            (rc = vg_mot_run(ctx, sc, NULL, NULL, 0, &plain)) < 0 ||
            (rc = vg_mot_run(ctx, sc, NULL, &ro, 0, &reid)) < 0) {
            vg_mot_scene_destroy(ctx, &sc);
            cli_error("bench track: %d objects: %s", counts[k],
                      vg_context_errmsg(ctx));
            goto out;
        }
        vg_mot_scene_destroy(ctx, &sc);
        tm[k].objects = counts[k];
        tm[k].update_us = plain.update_ns / 1e3;
        tm[k].reid_update_us = reid.update_ns / 1e3;
        tm[k].activation = reid.activation;
        tm[k].allocs_per_update =
            (double)(plain.update_allocs + reid.update_allocs) /
            (double)(plain.frames + reid.frames);
        if (cli_interrupted(ctx))
            goto out;
    }

    if (json) {
        printf("{\"scenes\":{");
        for (int s = 0; s < 3; s++) {
            printf("%s\"%s\":{", s ? "," : "", sr[s].name);
            json_run("bytetrack", &sr[s].plain);
            printf(",");
            json_run("reid", &sr[s].reid);
            printf("}");
        }
        printf("},\"timing\":[");
        for (int k = 0; k < 3; k++)
            printf("%s{\"objects\":%d,\"update_us\":%.2f,\"reid_update_us\":"
                   "%.2f,\"reid_activation\":%.4f,\"allocs_per_update\":%.3f}",
                   k ? "," : "", tm[k].objects, tm[k].update_us,
                   tm[k].reid_update_us, tm[k].activation,
                   tm[k].allocs_per_update);
        printf("],\"cpu\":");
        cli_json_string(stdout, si.cpu_model);
        printf(",\"cores\":%d}\n", si.cpu_cores);
    } else {
        printf("scene     tracker    MOTA   IDF1   HOTA   IDSW  FP    FN    "
               "activation  rescued\n");
        for (int s = 0; s < 3; s++) {
            const vg_mot_run_result *r[2] = {&sr[s].plain, &sr[s].reid};
            for (int v = 0; v < 2; v++)
                printf("%-9s %-9s  %.3f  %.3f  %.3f  %-5lld %-5lld %-5lld "
                       "%s%.3f       %lld\n",
                       v ? "" : sr[s].name, v ? "+reid" : "bytetrack",
                       r[v]->m.mota, r[v]->m.idf1, r[v]->m.hota,
                       (long long)r[v]->m.idsw, (long long)r[v]->m.fp,
                       (long long)r[v]->m.fn, "", r[v]->activation,
                       (long long)r[v]->stats.reid_rescued);
        }
        printf(
            "\nobjects  update (us)  +reid (us)  activation  allocs/update\n");
        for (int k = 0; k < 3; k++)
            printf("%-7d  %10.1f  %10.1f  %10.3f  %13.3f\n", tm[k].objects,
                   tm[k].update_us, tm[k].reid_update_us, tm[k].activation,
                   tm[k].allocs_per_update);
        printf("\ncpu %s, %d cores\n", si.cpu_model, si.cpu_cores);
    }
    exit_code = VG_EXIT_OK;
out:
    return cli_context_destroy(&ctx, &sig, exit_code);
}
