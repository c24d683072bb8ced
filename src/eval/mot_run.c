/* A vg_tracker over a synthetic scene, scored: see include/vigil/mot.h. */
#include <string.h>
#include <time.h>

#include "vigil/mot.h"

typedef struct embedder {
    const vg_mot_scene *sc;
    int first; /* the frame's first detection */
} embedder;

static int scene_embed(void *user, int det_index, float *out, int dim)
{
    const embedder *e = user;
    const float *a = e->sc->appearance + (size_t)(e->first + det_index) *
                                             (size_t)e->sc->appearance_dim;
    if (dim != e->sc->appearance_dim)
        return VG_EINVAL;
    memcpy(out, a, (size_t)dim * sizeof(float));
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* load-proof */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int vg_mot_run(vg_context *ctx, const vg_mot_scene *sc,
               const vg_tracker_opts *to, const vg_reid_opts *reid, int score,
               vg_mot_run_result *out)
{
    vg_tracker_opts o;
    vg_tracker *t = NULL;
    vg_track *tracks = NULL;
    vg_detection *dets = NULL;
    vg_mot_row *rows = NULL;
    embedder em;
    vg_alloc_stats a0, a1;
    int max_dets = 1, n_rows = 0, rc;
    double ns = 0;

    if (!sc || !out)
        return VG_EINVAL;
    memset(out, 0, sizeof(*out));
    for (int f = 1; f <= sc->frames; f++) {
        int n = sc->frame_start[f] - sc->frame_start[f - 1];
        if (n > max_dets)
            max_dets = n;
    }
    if (to) {
        o = *to;
    } else {
        vg_tracker_opts_default(&o);
        o.max_detections = max_dets;
        o.max_tracks = 4 * max_dets > 512 ? 4 * max_dets : 512;
    }
    if ((rc = vg_tracker_create(ctx, &o, &t)) < 0)
        return rc;
    em.sc = sc;
    em.first = 0;
    if (reid) {
        vg_reid_opts ro = *reid;
        ro.dim = sc->appearance_dim;
        ro.embed = scene_embed;
        ro.user = &em;
        if ((rc = vg_tracker_set_reid(t, &ro)) < 0)
            goto done;
    }
    tracks = vg_malloc(ctx, (size_t)max_dets * sizeof(*tracks));
    dets = vg_malloc(ctx, (size_t)max_dets * sizeof(*dets));
    rows = vg_malloc(ctx, (size_t)(sc->n_det + 1) * sizeof(*rows));
    if (!tracks || !dets || !rows) {
        rc = vg_fail(ctx, VG_ENOMEM, "mot run: out of memory");
        goto done;
    }
    vg_context_alloc_stats(ctx, &a0);
    for (int f = 1; f <= sc->frames; f++) {
        int first = sc->frame_start[f - 1], n = sc->frame_start[f] - first,
            n_out;
        double t0;
        for (int i = 0; i < n; i++) {
            dets[i].box = sc->det[first + i].box;
            dets[i].score = sc->det[first + i].score;
            dets[i].class_id = 0;
        }
        em.first = first;
        t0 = now_ns();
        rc = vg_tracker_update(t, dets, n, tracks, max_dets, &n_out);
        ns += now_ns() - t0;
        if (rc < 0)
            goto done;
        for (int i = 0; i < n_out && n_rows < sc->n_det; i++) {
            rows[n_rows].frame = f;
            rows[n_rows].id = (int)tracks[i].id;
            rows[n_rows].box = tracks[i].box;
            rows[n_rows].score = tracks[i].score;
            n_rows++;
        }
    }
    vg_context_alloc_stats(ctx, &a1);
    out->update_allocs = a1.allocs - a0.allocs;
    out->frames = sc->frames;
    out->update_ns = ns / sc->frames;
    vg_tracker_stats_get(t, &out->stats);
    if (out->stats.reid_detections > 0)
        out->activation = (double)out->stats.reid_embedded /
                          (double)out->stats.reid_detections;
    rc = score ? vg_mot_evaluate(ctx, sc->gt, sc->n_gt, rows, n_rows, &out->m)
               : 0;
done:
    vg_free(ctx, tracks);
    vg_free(ctx, dets);
    vg_free(ctx, rows);
    vg_tracker_destroy(&t);
    return rc;
}
