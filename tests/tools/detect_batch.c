/*
 * detect_batch: runs a detection model on real video frames one frame at a
 * time (vg_detector_run) and in batches (vg_detector_run_batch), and checks
 * that both give the same detections; optionally times both.
 * Used by tests/test_detect_batch_real.sh; the timing is for people, never
 * asserted.
 *
 *   detect_batch MODEL.onnx VIDEO [--batch N] [--frames K] [--skip S]
 *                [--threads T] [--bench ITERS]
 *     --batch N    frames per batch run (default 4)
 *     --frames K   frames compared (default 8, a multiple of N is not needed)
 *     --skip S     frames skipped between the chosen ones (default 25)
 *     --threads T  ONNX Runtime intra-op threads (default 0: its choice)
 *     --bench I    also time I batch runs at batch 1 and at batch N
 *
 * Prints the largest box and score differences found and, with --bench, the
 * time per frame. Exit status 0 when every frame's detections agree (same
 * count; each single-run detection matched by a batched one of the same
 * class with boxes within 1e-3 px and scores within 1e-5), 1 otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/context.h"
#include "vigil/detect.h"
#include "vigil/frame.h"
#include "vigil/source.h"

#define MAX_FRAMES 64
#define CAP 300
#define BOX_TOL 1e-3
#define SCORE_TOL 1e-5

typedef struct args {
    const char *model, *video;
    int batch, frames, skip, threads, bench;
} args;

static vg_frame frames[MAX_FRAMES];
static vg_detection single[MAX_FRAMES][CAP], batched[MAX_FRAMES][CAP];
static int n_single[MAX_FRAMES], n_batched[MAX_FRAMES];

static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof(*a));
    a->batch = 4;
    a->frames = 8;
    a->skip = 25;
    if (argc < 3)
        return -1;
    a->model = argv[1];
    a->video = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--batch") == 0)
            a->batch = v;
        else if (strcmp(argv[i], "--frames") == 0)
            a->frames = v;
        else if (strcmp(argv[i], "--skip") == 0)
            a->skip = v;
        else if (strcmp(argv[i], "--threads") == 0)
            a->threads = v;
        else if (strcmp(argv[i], "--bench") == 0)
            a->bench = v;
        else
            return -1;
    }
    if ((argc - 3) % 2 != 0 || a->batch < 1 || a->frames < 1 ||
        a->frames > MAX_FRAMES || a->skip < 0 || a->bench < 0)
        return -1;
    return 0;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs frames [0, k) in batches of n; returns 0 or the first error. */
static int run_batches(vg_detector *d, int k, int n)
{
    for (int i = 0; i < k; i += n) {
        const vg_frame *fs[VG_DETECTOR_MAX_BATCH];
        vg_detection *out[VG_DETECTOR_MAX_BATCH];
        int m = k - i < n ? k - i : n, rc;
        for (int j = 0; j < m; j++) {
            fs[j] = &frames[i + j];
            out[j] = batched[i + j];
        }
        rc = vg_detector_run_batch(d, fs, m, out, CAP, &n_batched[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Matches frame f's single-run detections to its batched ones. */
static int compare(int f, double *box_diff, double *score_diff)
{
    int used[CAP] = {0};
    if (n_single[f] != n_batched[f]) {
        fprintf(stderr,
                "detect_batch: frame %d: %d detections alone, %d in "
                "a batch\n",
                f, n_single[f], n_batched[f]);
        return -1;
    }
    for (int i = 0; i < n_single[f]; i++) {
        const vg_detection *a = &single[f][i];
        int best = -1;
        double best_box = 0, best_score = 0;
        for (int j = 0; j < n_batched[f]; j++) {
            const vg_detection *b = &batched[f][j];
            double db, ds;
            if (used[j] || a->class_id != b->class_id)
                continue;
            db = fmax(
                fmax(fabs(a->box.x - b->box.x), fabs(a->box.y - b->box.y)),
                fmax(fabs(a->box.w - b->box.w), fabs(a->box.h - b->box.h)));
            ds = fabs(a->score - b->score);
            if (best < 0 || db + ds < best_box + best_score) {
                best = j;
                best_box = db;
                best_score = ds;
            }
        }
        if (best < 0 || best_box > BOX_TOL || best_score > SCORE_TOL) {
            fprintf(stderr,
                    "detect_batch: frame %d: detection %d (class %d, "
                    "score %.6f) has no batched match\n",
                    f, i, a->class_id, a->score);
            return -1;
        }
        used[best] = 1;
        *box_diff = fmax(*box_diff, best_box);
        *score_diff = fmax(*score_diff, best_score);
    }
    return 0;
}

static void bench(vg_detector *d, int k, int n, int iters)
{
    double t0, c0, t, c;
    int per = n < k ? n : k;
    if (run_batches(d, per, per) < 0) /* warm-up at this batch */
        return;
    t0 = clock_s(CLOCK_MONOTONIC);
    c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int it = 0; it < iters; it++)
        if (run_batches(d, per, per) < 0)
            return;
    t = clock_s(CLOCK_MONOTONIC) - t0;
    c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    printf("batch %d: %.2f ms per run, %.2f ms per frame, CPU %.2f ms per "
           "frame (%d runs)\n",
           per, 1e3 * t / iters, 1e3 * t / (iters * per),
           1e3 * c / (iters * per), iters);
}

int main(int argc, char **argv)
{
    args a;
    vg_context *ctx = NULL;
    vg_detector *d = NULL;
    vg_source *src = NULL;
    vg_detector_opts o;
    vg_source_opts so;
    vg_frame fr;
    double box_diff = 0, score_diff = 0;
    int status = 1, k = 0, total = 0;
    long seen = 0;

    memset(&fr, 0, sizeof(fr));
    if (parse(argc, argv, &a) < 0) {
        fprintf(stderr, "usage: detect_batch MODEL.onnx VIDEO [--batch N] "
                        "[--frames K] [--skip S] [--threads T] [--bench I]\n");
        return 1;
    }
    if (vg_context_create(&ctx) < 0)
        return 1;
    vg_detector_opts_default(&o);
    o.session.intra_threads = a.threads;
    o.session.spin = 0; /* CPU time then counts work, not spinning */
    o.max_batch = a.batch;
    if (vg_detector_create(ctx, a.model, &o, &d) < 0) {
        fprintf(stderr, "detect_batch: %s\n", vg_context_errmsg(ctx));
        goto out;
    }
    if (vg_detector_max_batch(d) < a.batch) {
        fprintf(stderr, "detect_batch: %s: takes batches of %d, not %d\n",
                a.model, vg_detector_max_batch(d), a.batch);
        goto out;
    }
    vg_source_opts_default(&so);
    vg_detector_input_spec(d, &so.tensor);
    so.pool_size = (unsigned)a.frames + 2;
    if (vg_source_open(ctx, a.video, &so, &src) < 0) {
        fprintf(stderr, "detect_batch: %s\n", vg_context_errmsg(ctx));
        goto out;
    }
    while (k < a.frames && vg_source_read(src, &fr) == 0) {
        if (seen++ % (a.skip + 1) == 0) {
            frames[k++] = fr;
            memset(&fr, 0, sizeof(fr));
        } else {
            vg_frame_release(&fr);
        }
    }
    if (k < a.frames) {
        fprintf(stderr, "detect_batch: %s: only %d frames\n", a.video, k);
        goto out;
    }
    for (int i = 0; i < k; i++)
        if (vg_detector_run(d, &frames[i], single[i], CAP, &n_single[i]) < 0) {
            fprintf(stderr, "detect_batch: %s\n", vg_detector_errmsg(d));
            goto out;
        }
    if (run_batches(d, k, a.batch) < 0) {
        fprintf(stderr, "detect_batch: %s\n", vg_detector_errmsg(d));
        goto out;
    }
    status = 0;
    for (int i = 0; i < k; i++) {
        total += n_single[i];
        if (compare(i, &box_diff, &score_diff) < 0)
            status = 1;
    }
    printf("%d frames, %d detections, batch %d: largest box difference %.3g "
           "px, score difference %.3g\n",
           k, total, a.batch, box_diff, score_diff);
    if (status == 0 && a.bench > 0) {
        bench(d, k, 1, a.bench * a.batch);
        bench(d, k, a.batch, a.bench);
    }
out:
    for (int i = 0; i < k; i++)
        vg_frame_release(&frames[i]);
    vg_frame_release(&fr);
    vg_source_close(&src);
    vg_detector_destroy(&d);
    vg_context_destroy(&ctx);
    return status;
}
