/* vg_staged_run: detector -> face detector -> face embedder, one stage at a
 * time, handing over through files (include/vigil/staged.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/pipeline_internal.h"
#include "vigil/clock.h"
#include "vigil/detect.h"
#include "vigil/face.h"
#include "vigil/fsutil.h"
#include "vigil/sizing.h"
#include "vigil/source.h"
#include "vigil/staged.h"

#define MAX_DETS 256
#define MAX_FACES 16

/* Resets the kernel's RSS high-water mark (VmHWM) of this process. */
static void reset_peak(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1) {
            /* older kernels: the peak then covers the whole job */
        }
        close(fd);
    }
}

typedef struct stage_ctx {
    vg_context *ctx;
    vg_residency *r;
    const vg_job_config *job;
    const char *const *inputs;
    int n_inputs;
    const char *out_dir;
    int (*should_stop)(void *user);
    void *user;
    vg_staged_stats *st;
} stage_ctx;

/* One line of persons.tsv / faces.tsv. */
typedef struct box_line {
    int input;
    int64_t frame;
    float x, y, w, h, score;
    int valid;
} box_line;

static void read_line(FILE *f, box_line *b)
{
    long long fr;
    b->valid =
        f != NULL && fscanf(f, "%d\t%lld\t%f\t%f\t%f\t%f\t%f\n", &b->input, &fr,
                            &b->x, &b->y, &b->w, &b->h, &b->score) == 7;
    b->frame = b->valid ? (int64_t)fr : 0;
}

/* Opens input for a stage; tensor from det (stage 0) or pictures. */
static int open_input(stage_ctx *c, int i, const vg_detector *det,
                      vg_source **src)
{
    vg_source_opts so;
    vg_stream_pools pools;
    vg_source_opts_default(&so);
    vg_sizing_staged_pools(det != NULL, &pools);
    so.pool_size = pools.tensors;
    if (det != NULL) {
        vg_detector_input_spec(det, &so.tensor);
    } else {
        so.keep_image = 1;
        so.image_pool_size = pools.pictures;
    }
    return vg_source_open(c->ctx, c->inputs[i], &so, src);
}

static int used_frame(const stage_ctx *c, const vg_frame *f)
{
    return f->index % c->job->staged.frame_step == 0;
}

static int past_end(const stage_ctx *c, const vg_frame *f)
{
    return c->job->staged.max_frames > 0 &&
           f->index >= c->job->staged.max_frames;
}

/* Stage 0: person boxes of every used frame into persons.tsv. */
static int stage_persons(stage_ctx *c, vg_session *s, const char *name,
                         const char *model_path, FILE *out)
{
    vg_detector_opts o;
    vg_detector *det = NULL;
    vg_detection dets[MAX_DETS];
    int rc;

    vg_detector_opts_default(&o);
    o.score_threshold = c->job->staged.person_score;
    o.classes_keep[0] = 0; /* person */
    o.n_classes_keep = 1;
    rc = vg_detector_create_on(c->ctx, s, model_path, &o, &det);
    if (rc < 0)
        return rc;
    for (int i = 0; i < c->n_inputs && rc >= 0; i++) {
        vg_source *src = NULL;
        vg_frame f;
        int end;
        rc = open_input(c, i, det, &src);
        if (rc < 0) {
            c->st->input[i].end_code = rc;
            break;
        }
        while ((end = vg_source_read(src, &f)) == 0) {
            int n = 0;
            if (past_end(c, &f) ||
                (c->should_stop && c->should_stop(c->user))) {
                c->st->stopped = c->should_stop && !past_end(c, &f);
                vg_frame_release(&f);
                break;
            }
            c->st->input[i].frames_read++;
            if (used_frame(c, &f)) {
                c->st->input[i].frames_used++;
                /* out of memory: the ladder, then this input stops and
                 * the next one goes on */
                rc = vgi_detect_laddered(c->ctx, c->r, name, det, &f, dets,
                                         MAX_DETS, &n);
                if (rc < 0) {
                    vg_frame_release(&f);
                    break;
                }
                /* the largest persons first, at most max_persons */
                for (int k = 0; k < n && k < c->job->staged.max_persons; k++) {
                    int best = k;
                    vg_detection t;
                    for (int m = k + 1; m < n; m++)
                        if (dets[m].box.w * dets[m].box.h >
                            dets[best].box.w * dets[best].box.h)
                            best = m;
                    t = dets[k];
                    dets[k] = dets[best];
                    dets[best] = t;
                    fprintf(out, "%d\t%lld\t%.2f\t%.2f\t%.2f\t%.2f\t%.4f\n", i,
                            (long long)f.index, dets[k].box.x, dets[k].box.y,
                            dets[k].box.w, dets[k].box.h, dets[k].score);
                    c->st->input[i].persons++;
                }
            }
            vg_frame_release(&f);
        }
        if (rc >= 0 && end != 0 && end != VG_EOF)
            c->st->input[i].end_code = end; /* truncated or error */
        vg_source_close(&src);
        if (rc == VG_ENOMEM) {
            /* this input stops; the others go on */
            vg_log(c->ctx, VG_LOG_ERROR, "%s: %s", c->inputs[i],
                   vg_context_errmsg(c->ctx));
            c->st->input[i].end_code = rc;
            rc = 0;
        }
        if (c->st->stopped)
            break;
    }
    vg_detector_destroy(&det);
    return rc;
}

/* Stages 1 and 2 walk the pictures of the frames listed in `in`. For each
 * line of a frame, stage 1 finds faces in the upper half of the person box
 * and writes them to out; stage 2 embeds each face into the JSONL file. */
static int stage_pictures(stage_ctx *c, int stage, vg_session *s, FILE *in,
                          FILE *out)
{
    vg_face_detector *fd = NULL;
    vg_face_embedder *fe = NULL;
    vg_face_detector_opts fo;
    vg_face faces[MAX_FACES];
    float emb[512];
    box_line b;
    int rc;

    if (stage == 1) {
        vg_face_detector_opts_default(&fo);
        fo.score_threshold = c->job->staged.face_score;
        fo.max_faces = c->job->staged.max_faces;
        rc = vg_face_detector_create(c->ctx, s, &fo, &fd);
    } else {
        rc = vg_face_embedder_create(c->ctx, s, &fe);
    }
    if (rc < 0)
        return rc;
    read_line(in, &b);
    for (int i = 0; i < c->n_inputs && rc >= 0 && b.valid; i++) {
        vg_source *src = NULL;
        vg_frame f;
        if (b.input != i)
            continue; /* nothing listed for this input */
        rc = open_input(c, i, NULL, &src);
        if (rc < 0)
            break;
        while (rc >= 0 && b.valid && b.input == i &&
               vg_source_read(src, &f) == 0) {
            const uint8_t *rgb = vg_buf_data(f.image);
            while (rc >= 0 && b.valid && b.input == i && b.frame == f.index) {
                int n = 0, dim = 0;
                if (stage == 1) {
                    /* the head is in the upper half of a standing person */
                    float pad = 0.1f * b.w;
                    rc = vg_face_detect(fd, rgb, f.width, f.height,
                                        f.image_stride, b.x - pad, b.y - pad,
                                        b.x + b.w + pad, b.y + 0.5f * b.h,
                                        faces, MAX_FACES, &n);
                    if (rc == VG_EINVAL)
                        rc = n = 0; /* the box left the picture: no face */
                    else if (rc < 0)
                        vg_fail(c->ctx, rc, "%s", vg_face_detector_errmsg(fd));
                    for (int k = 0; k < n; k++)
                        fprintf(out, "%d\t%lld\t%.2f\t%.2f\t%.2f\t%.2f\t%.4f\n",
                                i, (long long)f.index, faces[k].box.x,
                                faces[k].box.y, faces[k].box.w, faces[k].box.h,
                                faces[k].score);
                    c->st->input[i].faces += n;
                } else {
                    vg_face face;
                    memset(&face, 0, sizeof(face));
                    face.box.x = b.x;
                    face.box.y = b.y;
                    face.box.w = b.w;
                    face.box.h = b.h;
                    face.score = b.score;
                    rc = vg_face_embed(
                        fe, rgb, f.width, f.height, f.image_stride, &face, emb,
                        (int)(sizeof(emb) / sizeof(emb[0])), &dim);
                    if (rc < 0) {
                        vg_fail(c->ctx, rc, "%s", vg_face_embedder_errmsg(fe));
                        break;
                    }
                    fprintf(out,
                            "{\"input\": \"%s\", \"frame\": %lld, \"box\": "
                            "[%.1f, %.1f, %.1f, %.1f], \"score\": %.4f, "
                            "\"embedding\": [",
                            c->inputs[i], (long long)f.index, b.x, b.y, b.w,
                            b.h, b.score);
                    for (int k = 0; k < dim; k++)
                        fprintf(out, "%s%.5f", k ? ", " : "", emb[k]);
                    fprintf(out, "]}\n");
                    c->st->input[i].embeddings++;
                }
                read_line(in, &b);
            }
            vg_frame_release(&f);
            if (c->should_stop && c->should_stop(c->user)) {
                c->st->stopped = 1;
                break;
            }
        }
        vg_source_close(&src);
        if (c->st->stopped)
            break;
    }
    vg_face_detector_destroy(&fd);
    vg_face_embedder_destroy(&fe);
    return rc;
}

int vg_staged_run(vg_context *ctx, vg_residency *r, const vg_job_config *job,
                  const char *const *inputs, int n_inputs, const char *out_dir,
                  int (*should_stop)(void *user), void *user,
                  vg_staged_stats *st)
{
    static const int kinds[VG_STAGES] = {
        VG_MODEL_DETECTOR, VG_MODEL_FACE_DETECTOR, VG_MODEL_FACE_EMBEDDER};
    static const char *const files[VG_STAGES] = {
        "staged/persons.tsv", "staged/faces.tsv", "faces.jsonl"};
    vg_staged_stats local;
    stage_ctx c;
    char path[VG_PATH_MAX + 64], dir[VG_PATH_MAX + 16];
    FILE *prev = NULL;
    int rc = 0;
    uint64_t sum_models = 0, max_buffers = 0;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof(*st));
    if (n_inputs < 1 || n_inputs > VG_JOB_MAX_INPUTS)
        return vg_fail(ctx, VG_EINVAL, "staged job: 1..%d inputs",
                       VG_JOB_MAX_INPUTS);
    if (job->staged.frame_step < 1)
        return vg_fail(ctx, VG_EINVAL, "staged job: frame_step < 1");
    for (int i = 0; i < n_inputs; i++)
        if (vg_source_is_read_once(inputs[i]))
            return vg_fail(ctx, VG_ENOTSUP,
                           "%s: the staged job reads each input twice; a "
                           "FIFO, pipe or device can be read only once",
                           inputs[i]);
    st->n_inputs = n_inputs;
    snprintf(dir, sizeof(dir), "%s/staged", out_dir);
    rc = vg_mkdirs(dir);
    if (rc < 0)
        return vg_fail(ctx, rc, "%s: cannot create (%s)", dir, strerror(errno));
    c.ctx = ctx;
    c.r = r;
    c.job = job;
    c.inputs = inputs;
    c.n_inputs = n_inputs;
    c.out_dir = out_dir;
    c.should_stop = should_stop;
    c.user = user;
    c.st = st;
    st->baseline_rss_bytes = vg_rss_bytes();

    for (int k = 0; k < VG_STAGES && rc >= 0 && !st->stopped; k++) {
        int mi = vg_job_config_find(job, kinds[k]);
        const vg_model_decl *d;
        vg_session *s = NULL;
        vg_model_stats ms;
        FILE *out;
        int64_t t0 = vg_clock_ns();

        if (mi < 0) {
            rc = vg_fail(ctx, VG_ECONFIG, "staged job: no %s model",
                         vg_model_kind_name(kinds[k]));
            break;
        }
        d = &job->models[mi];
        snprintf(st->stage[k].model, sizeof(st->stage[k].model), "%s", d->name);
        snprintf(path, sizeof(path), "%s/%s", out_dir, files[k]);
        /* never through a link; whole lines (a kill -9 cuts none) */
        if ((rc = vg_fopen_output(ctx, path, "w", &out)) < 0)
            break;
        setvbuf(out, NULL, _IOLBF, 0);
        reset_peak();
        st->stage[k].start_rss_bytes = vg_rss_bytes();
        rc = vg_residency_acquire(r, d->name, &s);
        if (rc == 0) {
            for (int i = 0; i < vg_residency_model_count(r); i++)
                if (vg_residency_model_stats(r, i, &ms) == 0 &&
                    !strcmp(ms.name, d->name))
                    st->stage[k].model_host_bytes = ms.host_bytes;
            if (k == 0)
                rc = stage_persons(&c, s, d->name, d->path, out);
            else
                rc = stage_pictures(&c, k, s, prev, out);
            vg_residency_release(r, d->name);
        }
        if (fclose(out) != 0 && rc >= 0)
            rc = vg_fail(ctx, VG_EIO, "%s: write failed", path);
        if (prev != NULL)
            fclose(prev);
        prev = NULL;
        vg_residency_tick(r); /* keep_alive models idle for too long */
        st->stage[k].wall_s = (double)(vg_clock_ns() - t0) / 1e9;
        st->stage[k].peak_rss_bytes = vg_peak_rss_bytes();
        if (st->stage[k].peak_rss_bytes > st->peak_rss_bytes)
            st->peak_rss_bytes = st->stage[k].peak_rss_bytes;
        if (rc < 0)
            break;
        {
            uint64_t base =
                st->baseline_rss_bytes + st->stage[k].model_host_bytes;
            uint64_t buf = st->stage[k].peak_rss_bytes > base
                               ? st->stage[k].peak_rss_bytes - base
                               : 0;
            if (buf > max_buffers)
                max_buffers = buf;
            sum_models += st->stage[k].model_host_bytes;
        }
        if (k + 1 < VG_STAGES) {
            prev = fopen(path, "r");
            if (prev == NULL)
                rc = vg_fail(ctx, VG_EIO, "%s: cannot read back (%s)", path,
                             strerror(errno));
        }
    }
    if (prev != NULL)
        fclose(prev);
    st->all_resident_estimate_bytes =
        st->baseline_rss_bytes + sum_models + max_buffers;
    if (rc >= 0)
        for (int i = 0; i < n_inputs; i++) {
            int e = st->input[i].end_code;
            if (e < 0 && e != VG_ETRUNCATED) {
                rc = vg_fail(ctx, e,
                             "%s: stopped (%s); the other inputs "
                             "completed",
                             inputs[i], vg_strerror(e));
                break;
            }
            if (e == VG_ETRUNCATED)
                rc = VG_ETRUNCATED;
        }
    return rc;
}
