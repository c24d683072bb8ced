/* vg_faces_run: the two-face split-screen job (include/vigil/faces.h,
 * docs/faces.md). decode -> BlazeFace -> ByteTrack -> slots -> crop + EMA
 * on the caller's thread; crop resize (straight into YUV 4:2:0, the
 * file's format), composition and H.264 on an encoder thread fed through
 * a queue; every
 * buffer is taken before the first frame. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "vigil/clock.h"
#include "vigil/face.h"
#include "vigil/faces.h"
#include "vigil/fsutil.h"
#include "vigil/pool.h"
#include "vigil/queue.h"
#include "vigil/residency.h"
#include "vigil/session.h"
#include "vigil/source.h"
#include "vigil/track.h"
#include "vigil/video_writer.h"

#include "../pipeline/pipeline_internal.h" /* the decode thread */

#define MAX_FACES 16
#define MAX_EMBED 512

enum { ST_DECODE, ST_DETECT, ST_TRACK, ST_REID, ST_COMPOSE, ST_ENCODE };

const char *vg_faces_stage_name(int i)
{
    static const char *const names[6] = {"decode", "detect",  "track",
                                         "reid",   "compose", "encode"};
    return i >= 0 && i < 6 ? names[i] : "?";
}

enum { SHOW_FACE, SHOW_HOLD, SHOW_EMPTY };
static const char *const show_names[3] = {"face", "hold", "empty"};

/* What the main thread decided a slot shows (the encoder thread draws). */
typedef struct slot_view {
    vg_box box;        /* smoothed crop box, picture pixels */
    int have_box;      /* box follows the slot's current person */
    int have_crop;     /* crop holds a picture of the slot's person */
    int64_t last_good; /* frame whose face the crop shows */
    int shown_empty;   /* crop holds the empty frame */
} slot_view;

/* A frame on its way to the encoder thread: the picture (a reference,
 * NULL when no slot shows a face) and what each slot shows. */
typedef struct enc_item {
    vg_buf *pic;
    int stride;
    int64_t index;
    int show[VG_SLOTS];
    vg_box box[VG_SLOTS];
} enc_item;

typedef struct job {
    vg_context *ctx;
    const vg_faces_config *c;
    vg_faces_report *rep;
    vg_source *src;
    vg_session *sd, *se;
    vg_face_detector *fd;
    vg_face_embedder *fe;
    vg_tracker *tr;
    vg_pool *crops, *composed;
    vg_video_writer *vw;
    /* the encoder thread: composed frames in through encq; the counters
     * are its own until it is joined */
    vg_queue *encq;
    pthread_t enc_thread;
    int enc_started;
    double enc_s;
    int64_t enc_written, enc_failed;
    char enc_err[256];
    double enc_compose_s;
    vg_buf *crop[VG_SLOTS]; /* slot_w x out_height YUV 4:2:0 (crop pool),
                               drawn by the encoder thread */
    int crop_empty[VG_SLOTS];
    FILE *jsonl;
    vg_slots slots;
    slot_view view[VG_SLOTS];
    int slot_w;
    int width, height;
    double fps;
    /* the frame being processed (read by the ReID callback) */
    const uint8_t *rgb;
    int stride;
    vg_face faces[MAX_FACES];
    int n_faces;
    int embedded[MAX_FACES];              /* ReID embedded this detection */
    float slot_emb[MAX_FACES][MAX_EMBED]; /* embeddings for the slots */
    float det_emb[MAX_FACES][MAX_EMBED];  /* the tracker's (ReID ran) */
    int want[MAX_FACES];
} job;

/* The planes of a w x h YUV 4:2:0 picture in one buffer: luma, then Cb,
 * then Cr (the crops and the composed frames). */
static vg_faces_yuv yuv_planes(vg_buf *b, int w, int h)
{
    vg_faces_yuv p;
    size_t luma = (size_t)w * (size_t)h;
    p.y = vg_buf_data(b);
    p.u = p.y + luma;
    p.v = p.u + luma / 4;
    p.ystride = w;
    p.cstride = w / 2;
    return p;
}

static vg_faces_yuv crop_planes(const job *j, int k)
{
    return yuv_planes(j->crop[k], j->slot_w, j->c->out_height);
}

/* Fills a slot's crop with the empty frame (encoder thread). */
static void fill_empty(job *j, int k)
{
    uint8_t value = j->c->empty == VG_FACES_EMPTY_BLACK ? 0 : 128;
    uint8_t rgb[3] = {value, value, value}, yuv[3];
    vg_faces_yuv p = crop_planes(j, k);
    size_t luma = (size_t)j->slot_w * (size_t)j->c->out_height;
    vg_faces_rgb_to_yuv(rgb, yuv);
    memset(p.y, yuv[0], luma);
    memset(p.u, yuv[1], luma / 4);
    memset(p.v, yuv[2], luma / 4);
    j->crop_empty[k] = 1;
}

/* Decides what slot k shows in this frame (SHOW_*) and its crop box. */
static int decide_slot(job *j, int k, const vg_slot *s, int64_t frame,
                       vg_box *box)
{
    slot_view *v = &j->view[k];
    const vg_faces_config *c = j->c;
    int64_t hold_frames = (int64_t)llround(c->hold_s * j->fps);

    if (s->changed) { /* a new person: neither its box nor the last crop */
        v->have_box = 0;
        v->have_crop = 0;
    }
    if (s->id == 0)
        v->have_box = 0;
    if (s->present && s->face >= 0) {
        vg_box target;
        vg_faces_crop_target(&s->box, (float)j->slot_w / (float)c->out_height,
                             c->zoom, j->width, j->height, &target);
        if (!v->have_box)
            v->box = target;
        else
            vg_faces_crop_ema(&v->box, &target, c->alpha);
        v->have_box = 1;
        v->have_crop = 1;
        v->shown_empty = 0;
        v->last_good = frame;
        *box = v->box;
        return SHOW_FACE;
    }
    if (v->have_crop && frame - v->last_good <= hold_frames)
        return SHOW_HOLD;
    v->have_crop = 0;
    v->shown_empty = 1;
    return SHOW_EMPTY;
}

static int compose(job *j, vg_buf **out);
static int write_composed(job *j, vg_buf *b, int64_t index);

static void *encode_main(void *arg)
{
    job *j = arg;
    enc_item it;
    for (;;) {
        vg_buf *out = NULL;
        int64_t t0;
        int rc = vg_queue_pop(j->encq, &it, 100);
        if (rc == VG_EAGAIN)
            continue;
        if (rc < 0)
            break; /* closed and drained */
        t0 = vg_clock_ns();
        for (int k = 0; k < VG_SLOTS; k++) {
            vg_faces_yuv p = crop_planes(j, k);
            if (it.show[k] == SHOW_FACE && it.pic != NULL &&
                vg_faces_resize_yuv420(vg_buf_data(it.pic), j->width, j->height,
                                       it.stride, &it.box[k], j->slot_w,
                                       j->c->out_height, &p) == 0)
                j->crop_empty[k] = 0;
            else if (it.show[k] == SHOW_EMPTY && !j->crop_empty[k])
                fill_empty(j, k);
        }
        vg_buf_unref(&it.pic);
        rc = compose(j, &out);
        j->enc_compose_s += (double)(vg_clock_ns() - t0) / 1e9;
        t0 = vg_clock_ns();
        if (rc == 0)
            rc = write_composed(j, out, it.index);
        vg_buf_unref(&out);
        if (rc == 0) {
            j->enc_written++;
        } else if (j->enc_failed++ == 0) {
            snprintf(j->enc_err, sizeof(j->enc_err), "frame %lld: %s",
                     (long long)it.index, vg_video_writer_errmsg(j->vw));
        }
        j->enc_s += (double)(vg_clock_ns() - t0) / 1e9;
    }
    return NULL;
}

/* Ends the encoder thread once it has written what it was given. */
static void encoder_join(job *j)
{
    if (j->encq != NULL)
        vg_queue_close(j->encq);
    if (j->enc_started)
        pthread_join(j->enc_thread, NULL);
    j->enc_started = 0;
    vg_queue_destroy(&j->encq);
}

/* The composed frame (a pooled YUV 4:2:0 buffer): each slot's crop
 * planes copied side by side (encoder thread: the only user of the
 * pool). */
static int compose(job *j, vg_buf **out)
{
    vg_buf *b = NULL;
    vg_faces_yuv o;
    int h = j->c->out_height, sw = j->slot_w;
    int rc = vg_pool_get(j->composed, 1000, &b);
    if (rc < 0)
        return rc;
    o = yuv_planes(b, j->c->out_width, h);
    for (int k = 0; k < VG_SLOTS; k++) {
        vg_faces_yuv p = crop_planes(j, k);
        for (int r = 0; r < h; r++)
            memcpy(o.y + (size_t)r * (size_t)o.ystride + (size_t)(k * sw),
                   p.y + (size_t)r * (size_t)p.ystride, (size_t)sw);
        for (int r = 0; r < h / 2; r++) {
            size_t at = (size_t)r * (size_t)o.cstride + (size_t)(k * sw / 2);
            memcpy(o.u + at, p.u + (size_t)r * (size_t)p.cstride,
                   (size_t)p.cstride);
            memcpy(o.v + at, p.v + (size_t)r * (size_t)p.cstride,
                   (size_t)p.cstride);
        }
    }
    *out = b;
    return 0;
}

/* Hands the composed frame to the writer (no colour conversion there). */
static int write_composed(job *j, vg_buf *b, int64_t index)
{
    vg_faces_yuv o = yuv_planes(b, j->c->out_width, j->c->out_height);
    const uint8_t *planes[3] = {o.y, o.u, o.v};
    const int strides[3] = {o.ystride, o.cstride, o.cstride};
    return vg_video_writer_write_yuv420(j->vw, planes, strides, index);
}

static void write_line(job *j, const vg_frame *f, const vg_slot *slots,
                       const char *const *shown, const vg_track *tracks,
                       int n_tracks)
{
    FILE *o = j->jsonl;
    fprintf(o, "{\"frame\": %lld, \"time\": %.3f, \"faces\": %d, \"tracks\": [",
            (long long)f->index, f->time_s, j->n_faces);
    for (int i = 0; i < n_tracks; i++)
        fprintf(o, "%s%lld", i ? ", " : "", (long long)tracks[i].id);
    fputs("], \"slots\": [", o);
    for (int k = 0; k < VG_SLOTS; k++) {
        const vg_slot *s = &slots[k];
        int reid_ran = 0;
        float score = 0.0f;
        if (s->present && s->face >= 0 && s->face < n_tracks) {
            score = tracks[s->face].score;
            reid_ran = j->want[s->face] && j->fe != NULL;
            reid_ran |= tracks[s->face].reid_ran;
        }
        fprintf(o,
                "%s{\"slot\": %d, \"side\": \"%s\", \"track\": %lld, "
                "\"present\": %s, \"shown\": \"%s\", \"reidentified\": %s, "
                "\"waiting\": %s",
                k ? ", " : "", k, k == 0 ? "left" : "right", (long long)s->id,
                s->present ? "true" : "false", shown[k],
                s->reidentified ? "true" : "false",
                s->waiting ? "true" : "false");
        if (s->present)
            fprintf(o,
                    ", \"box\": [%.1f, %.1f, %.1f, %.1f], \"score\": %.3f, "
                    "\"reid_ran\": %s",
                    s->box.x, s->box.y, s->box.w, s->box.h, score,
                    reid_ran ? "true" : "false");
        fputc('}', o);
    }
    fputs("]}\n", o);
}

/* The tracker asks for an embedding of detection det_index of this frame
 * only when identity is at risk (conditional ReID). */
static int reid_embed(void *user, int det_index, float *out, int dim)
{
    job *j = user;
    int64_t t0 = vg_clock_ns();
    int got = 0, rc;
    if (det_index < 0 || det_index >= j->n_faces)
        return VG_EINVAL;
    rc = vg_face_embed(j->fe, j->rgb, j->width, j->height, j->stride,
                       &j->faces[det_index], out, dim, &got);
    if (rc == 0 && got != dim)
        rc = VG_ERANGE;
    j->embedded[det_index] = rc == 0;
    if (rc == 0) /* the slots may use it too */
        memcpy(j->det_emb[det_index], out, (size_t)dim * sizeof(float));
    j->rep->stage_s[ST_REID] += (double)(vg_clock_ns() - t0) / 1e9;
    return rc;
}

/* Stores the embedder's footprint measured at its load (RSS before the
 * session, after it, after its reference inference) under its calibration
 * key, when the file has none yet: later plans use it. The ONNX Runtime
 * environment already exists then (the detector made it). Failing to store
 * is not an error of the job. */
static void calibrate_embedder(job *j, uint64_t r0, uint64_t r1, uint64_t r2,
                               int64_t load_ns)
{
    vg_model_decl d;
    vg_calibration cal;
    char key[VG_PATH_MAX + 256], file[VG_PATH_MAX];
    vg_faces_model_decl(j->c, VG_MODEL_FACE_EMBEDDER, &d);
    vg_calibration_default_path(file, sizeof(file));
    if (vg_calibration_key(&d, key, sizeof(key)) < 0 ||
        vg_calibration_lookup(j->ctx, file, key, &cal) != VG_ENOENT) {
        vg_context_clear_error(j->ctx);
        return;
    }
    memset(&cal, 0, sizeof(cal));
    cal.weights_bytes = r1 > r0 ? r1 - r0 : 0;
    cal.work_bytes = r2 > r1 ? r2 - r1 : 0;
    cal.load_ms = (double)load_ns / 1e6;
    cal.batch = 1;
    snprintf(cal.provider, sizeof(cal.provider), "cpu");
    if (vg_calibration_store(j->ctx, file, key, &cal) < 0) {
        vg_log(j->ctx, VG_LOG_WARN, "faces: calibration not stored: %s",
               vg_context_errmsg(j->ctx));
        vg_context_clear_error(j->ctx);
    }
}

static int open_models(job *j)
{
    vg_model_decl d;
    vg_face_detector_opts fo;
    uint64_t r0, r1, r2;
    int64_t t0;
    int rc;

    vg_faces_model_decl(j->c, VG_MODEL_FACE_DETECTOR, &d);
    rc = vg_session_create(j->ctx, d.path, &d.session, &j->sd);
    if (rc < 0)
        return rc;
    vg_face_detector_opts_default(&fo);
    /* ByteTrack's second stage wants the weaker faces too */
    fo.score_threshold = j->c->face_score < 0.5f ? j->c->face_score : 0.5f;
    fo.max_faces = MAX_FACES;
    rc = vg_face_detector_create(j->ctx, j->sd, &fo, &j->fd);
    if (rc < 0)
        return rc;
    if (!j->c->reid)
        return 0;
    vg_faces_model_decl(j->c, VG_MODEL_FACE_EMBEDDER, &d);
    t0 = vg_clock_ns();
    r0 = vg_rss_bytes();
    rc = vg_session_create(j->ctx, d.path, &d.session, &j->se);
    if (rc < 0)
        return rc;
    r1 = vg_rss_bytes();
    rc = vg_face_embedder_create(j->ctx, j->se, &j->fe);
    if (rc == 0 && vg_face_embedder_dim(j->fe) > MAX_EMBED)
        rc = vg_fail(j->ctx, VG_EMODEL, "%s: embedding of %d > %d values",
                     j->c->embedder_model, vg_face_embedder_dim(j->fe),
                     MAX_EMBED);
    if (rc < 0)
        return rc;
    r2 = vg_rss_bytes();
    calibrate_embedder(j, r0, r1, r2, vg_clock_ns() - t0);
    return 0;
}

static int open_tracker(job *j)
{
    vg_tracker_opts to;
    int rc;
    vg_tracker_opts_default(&to);
    to.fps = j->fps;
    to.class_agnostic = 1;
    to.max_tracks = 64;
    to.max_detections = MAX_FACES;
    to.high_thresh = j->c->face_score;
    to.low_thresh = to.high_thresh < 0.5f ? to.high_thresh : 0.5f;
    to.new_track_thresh = j->c->face_score;
    rc = vg_tracker_create(j->ctx, &to, &j->tr);
    if (rc < 0)
        return rc;
    if (j->fe != NULL) {
        vg_reid_opts ro;
        vg_reid_opts_default(&ro);
        ro.dim = vg_face_embedder_dim(j->fe);
        ro.embed = reid_embed;
        ro.user = j;
        rc = vg_tracker_set_reid(j->tr, &ro);
        if (rc < 0)
            return rc;
        j->rep->reid_available = 1;
    }
    return 0;
}

static int open_outputs(job *j, const char *out_dir)
{
    char path[VG_PATH_MAX + 32];
    vg_video_writer_opts wo;
    /* YUV 4:2:0: 1.5 bytes a pixel */
    size_t crop_bytes = (size_t)j->slot_w * (size_t)j->c->out_height * 3 / 2;
    /* YUV 4:2:0: 1.5 bytes a pixel */
    size_t frame_bytes =
        (size_t)j->c->out_width * (size_t)j->c->out_height * 3 / 2;
    int rc;

    rc = vg_pool_create(j->ctx, "faces.crops", crop_bytes, VG_FACES_CROP_POOL,
                        &j->crops);
    if (rc == 0)
        rc = vg_pool_create(j->ctx, "faces.composed", frame_bytes,
                            VG_FACES_COMPOSED_POOL, &j->composed);
    for (int k = 0; rc == 0 && k < VG_SLOTS; k++) {
        rc = vg_pool_get(j->crops, 0, &j->crop[k]);
        if (rc == 0)
            fill_empty(j, k);
    }
    if (rc < 0)
        return rc == VG_ENOMEM ? rc : vg_fail(j->ctx, rc, "faces: pools");
    vg_video_writer_opts_default(&wo);
    wo.crf = j->c->crf;
    snprintf(wo.preset, sizeof(wo.preset), "%s", j->c->preset);
    snprintf(wo.encoder, sizeof(wo.encoder), "%s", j->c->encoder);
    snprintf(path, sizeof(path), "%s/split.mp4", out_dir);
    rc = vg_video_writer_open(j->ctx, path, j->c->out_width, j->c->out_height,
                              j->fps, &wo, &j->vw);
    if (rc < 0)
        return rc;
    snprintf(j->rep->encoder, sizeof(j->rep->encoder), "%s",
             vg_video_writer_codec(j->vw));
    rc = vg_queue_create(j->ctx, sizeof(enc_item), VG_FACES_QUEUE,
                         VG_QUEUE_BLOCK, NULL, NULL, &j->encq);
    if (rc < 0)
        return rc;
    if (pthread_create(&j->enc_thread, NULL, encode_main, j) != 0)
        return vg_fail(j->ctx, VG_ENOMEM,
                       "faces: cannot start the encoder thread");
    j->enc_started = 1;
    snprintf(path, sizeof(path), "%s/faces.jsonl", out_dir);
    return vg_fopen_output(j->ctx, path, "w", &j->jsonl);
}

/* One frame through every stage. */
static int one_frame(job *j, vg_frame *f, int64_t *t)
{
    vg_detection dets[MAX_FACES];
    vg_track tracks[MAX_FACES];
    vg_slot_face sf[MAX_FACES];
    vg_slot slots[VG_SLOTS];
    const char *shown[VG_SLOTS];
    vg_faces_report *rep = j->rep;
    int n = 0, n_tracks = 0, rc;
    int64_t now;

    j->rgb = vg_buf_data(f->image);
    j->stride = f->image_stride;
    rc = vg_face_detect(j->fd, j->rgb, f->width, f->height, f->image_stride,
                        0.0f, 0.0f, (float)f->width, (float)f->height, j->faces,
                        MAX_FACES, &n);
    if (rc < 0)
        return vg_fail(j->ctx, rc, "faces: frame %lld: %s", (long long)f->index,
                       vg_face_detector_errmsg(j->fd));
    j->n_faces = n;
    now = vg_clock_ns();
    rep->stage_s[ST_DETECT] += (double)(now - *t) / 1e9;
    *t = now;
    for (int i = 0; i < n; i++) {
        dets[i].box = j->faces[i].box;
        dets[i].score = j->faces[i].score;
        dets[i].class_id = 0;
        j->embedded[i] = 0;
        if (j->faces[i].score >= j->c->face_score)
            rep->faces_detected++;
    }
    if (n > 0 && j->faces[0].score >= j->c->face_score)
        rep->frames_with_faces++;
    {
        double reid_before = rep->stage_s[ST_REID];
        rc = vg_tracker_update(j->tr, dets, n, tracks, MAX_FACES, &n_tracks);
        if (rc < 0 && rc != VG_EINVAL && rc != VG_ERANGE) {
            /* an embedding failed: that detection went by IoU alone, the
             * frame is complete (counted as reid_failed) */
            rc = 0;
        }
        if (rc < 0)
            return vg_fail(j->ctx, rc, "faces: frame %lld: tracker: %s",
                           (long long)f->index, vg_strerror(rc));
        for (int i = 0; i < n_tracks; i++) {
            sf[i].id = tracks[i].id;
            sf[i].box = tracks[i].det_box;
            sf[i].score = tracks[i].score;
            sf[i].embedding = NULL;
        }
        /* re-identification at the slots, only where identity is at stake
         * (vg_slots_want): a person back under a new track id */
        memset(j->want, 0, sizeof(j->want));
        if (j->fe != NULL &&
            vg_slots_want(&j->slots, sf, n_tracks, j->want) > 0) {
            int64_t t0 = vg_clock_ns();
            for (int i = 0; i < n_tracks; i++) {
                vg_face face;
                int dim = 0;
                if (!j->want[i])
                    continue;
                /* the tracker's ReID may have embedded this detection */
                for (int d = 0; d < j->n_faces; d++)
                    if (j->embedded[d] &&
                        !memcmp(&j->faces[d].box, &sf[i].box, sizeof(vg_box)))
                        sf[i].embedding = j->det_emb[d];
                if (sf[i].embedding != NULL)
                    continue;
                memset(&face, 0, sizeof(face));
                face.box = sf[i].box;
                face.score = sf[i].score;
                if (vg_face_embed(j->fe, j->rgb, f->width, f->height,
                                  f->image_stride, &face, j->slot_emb[i],
                                  MAX_EMBED, &dim) == 0) {
                    sf[i].embedding = j->slot_emb[i];
                    rep->slot_embeddings++;
                } else {
                    j->want[i] = 0;
                }
            }
            rep->stage_s[ST_REID] += (double)(vg_clock_ns() - t0) / 1e9;
        }
        rep->faces_tracked += n_tracks;
        rc = vg_slots_update(&j->slots, sf, n_tracks, slots);
        if (rc < 0)
            return vg_fail(j->ctx, rc, "faces: slots: %s", vg_strerror(rc));
        now = vg_clock_ns();
        rep->stage_s[ST_TRACK] +=
            (double)(now - *t) / 1e9 - (rep->stage_s[ST_REID] - reid_before);
        *t = now;
    }
    {
        enc_item it;
        int filled = 0, any_face = 0;
        memset(&it, 0, sizeof(it));
        for (int k = 0; k < VG_SLOTS; k++) {
            it.show[k] = decide_slot(j, k, &slots[k], f->index, &it.box[k]);
            shown[k] = show_names[it.show[k]];
            any_face |= it.show[k] == SHOW_FACE;
            filled += slots[k].present;
        }
        rep->frames_slot_filled[filled]++;
        write_line(j, f, slots, shown, tracks, n_tracks);
        now = vg_clock_ns();
        rep->stage_s[ST_COMPOSE] += (double)(now - *t) / 1e9;
        *t = now;
        /* to the encoder thread, with a reference to the picture when a
         * slot crops from it; waits while the queue is full (the encoder
         * is behind), polling for a stop */
        it.pic = any_face ? vg_buf_ref(f->image) : NULL;
        it.stride = f->image_stride;
        it.index = f->index;
        while ((rc = vg_queue_push(j->encq, &it, 100)) == VG_EAGAIN)
            if (vg_context_stop_requested(j->ctx))
                break;
        if (rc < 0) {
            vg_buf_unref(&it.pic);
            if (rc == VG_EAGAIN)
                return 0; /* stopped: the loop sees it */
            return vg_fail(j->ctx, rc, "faces: encoder queue: %s",
                           vg_strerror(rc));
        }
    }
    *t = vg_clock_ns();
    return 0;
}

static int write_report(vg_context *ctx, const char *out_dir, const char *input,
                        const vg_faces_report *rep)
{
    char path[VG_PATH_MAX + 32];
    vg_output_file o;
    int rc;
    snprintf(path, sizeof(path), "%s/report.json", out_dir);
    rc = vg_output_begin(ctx, path, &o);
    if (rc < 0)
        return rc;
    vg_faces_report_json(rep, input, o.f);
    return vg_output_commit(ctx, &o);
}

int vg_faces_run(vg_context *ctx, const vg_faces_config *c, const char *input,
                 const char *out_dir, vg_faces_progress_fn progress, void *user,
                 vg_faces_report *rep)
{
    vg_faces_report local;
    vg_source_opts so;
    vg_source_info si;
    vg_slots_opts sl;
    job j;
    vgi_decoder dec;
    int rc, end = 0, started = 0, dec_started = 0;
    int64_t t, t_start;

    if (rep == NULL)
        rep = &local;
    memset(rep, 0, sizeof(*rep));
    memset(&j, 0, sizeof(j));
    if (ctx == NULL || c == NULL || input == NULL || out_dir == NULL)
        return vg_fail(ctx, VG_EINVAL, "faces: missing argument");
    rc = vg_faces_config_check(ctx, c);
    if (rc < 0)
        return rc;
    j.ctx = ctx;
    j.c = c;
    j.rep = rep;
    j.slot_w = c->out_width / VG_SLOTS;
    if (vg_mkdirs(out_dir) < 0)
        return vg_fail(ctx, VG_EIO, "%s: cannot create (%s)", out_dir,
                       strerror(errno));

    vg_source_opts_default(&so);
    so.keep_image = 1;
    so.pool_size = VG_FACES_PICTURE_POOL;
    so.image_pool_size = VG_FACES_PICTURE_POOL;
    so.decoder_threads = VG_FACES_DECODER_THREADS;
    rc = vg_source_open(ctx, input, &so, &j.src);
    if (rc < 0)
        goto out;
    vg_source_get_info(j.src, &si);
    j.width = si.width;
    j.height = si.height;
    j.fps = si.fps > 0.0 ? si.fps : VG_SOURCE_FALLBACK_FPS;
    rep->fps = j.fps;
    rc = vg_faces_plan_build(ctx, c, si.width, si.height, si.codec, &rep->plan);
    if (rc < 0)
        goto out;
    if ((rc = open_models(&j)) < 0 || (rc = open_tracker(&j)) < 0 ||
        (rc = open_outputs(&j, out_dir)) < 0)
        goto out;
    vg_slots_opts_default(&sl);
    sl.frame_width = j.width;
    sl.fps = j.fps;
    sl.release_s = c->release_s;
    sl.min_frames = c->min_frames;
    sl.min_relative_size = c->min_relative_size;
    sl.embed_dim = j.fe != NULL ? vg_face_embedder_dim(j.fe) : 0;
    rc = vg_slots_init(&j.slots, &sl);
    if (rc < 0) {
        rc = vg_fail(ctx, rc, "faces: bad slot options");
        goto out;
    }
    started = 1;

    /* decoding runs ahead on its own thread (vgi_decoder): this thread
     * waits for a picture only when the decoder is behind */
    rc = vgi_decoder_start(ctx, &dec, j.src, VG_FACES_DECODE_QUEUE,
                           c->max_frames);
    if (rc < 0)
        goto out;
    dec_started = 1;
    t_start = t = vg_clock_ns();
    for (;;) {
        vgi_frame_item it;
        int64_t now;
        if (vg_queue_pop(dec.q, &it, -1) < 0)
            break; /* closed: cannot happen before the end item */
        if (it.end_code != 0) {
            end = it.end_code;
            break;
        }
        now = vg_clock_ns();
        rep->stage_s[ST_DECODE] += (double)(now - t) / 1e9;
        t = now;
        rep->frames_in++;
        rc = one_frame(&j, &it.frame, &t);
        vg_frame_release(&it.frame);
        if (rc < 0)
            break;
        if (progress != NULL)
            progress(user, rep->frames_in);
        if (vg_context_stop_requested(ctx)) {
            rep->stopped = 1;
            break;
        }
    }
    rep->wall_s = (double)(vg_clock_ns() - t_start) / 1e9;
    vgi_decoder_request_stop(&dec);
    vgi_decoder_finish(&dec);
    dec_started = 0;
    if (rc == 0 && end == VG_EINTR)
        rep->stopped = 1;
    if (rc == 0 && end != 0 && end != VG_EOF && end != VG_EINTR) {
        rc = vg_fail(ctx, end, "%s: %s", input, dec.message);
    }

out:
    if (dec_started)
        vgi_decoder_finish(&dec);
    encoder_join(&j);
    rep->encoder_written = j.enc_written;
    rep->encoder_failed = j.enc_failed;
    rep->frames_out = j.enc_written + j.enc_failed;
    rep->stage_s[ST_ENCODE] = j.enc_s;
    rep->stage_s[ST_COMPOSE] += j.enc_compose_s;
    if (j.enc_failed > 0)
        vg_log(ctx, VG_LOG_WARN, "faces: %lld frames not encoded, first %s",
               (long long)j.enc_failed, j.enc_err);
    if (j.vw != NULL) {
        int crc = vg_video_writer_close(j.vw);
        if (crc < 0 && rc == 0)
            rc = vg_fail(ctx, crc, "faces: split.mp4: %s",
                         vg_video_writer_errmsg(j.vw));
    }
    if (j.jsonl != NULL && fclose(j.jsonl) != 0 && rc == 0)
        rc = vg_fail(ctx, VG_EIO, "%s/faces.jsonl: write failed", out_dir);
    j.jsonl = NULL;
    if (j.tr != NULL) {
        vg_tracker_stats ts;
        vg_tracker_stats_get(j.tr, &ts);
        rep->reid_detections = ts.reid_detections;
        rep->reid_embedded = ts.reid_embedded;
        rep->reid_rescued = ts.reid_rescued;
    }
    vg_slots_stats_get(&j.slots, &rep->slots);
    if (rep->stage_s[ST_DETECT] > 0.0)
        rep->detector_ceiling_fps =
            (double)rep->frames_in / rep->stage_s[ST_DETECT];
    if (rep->wall_s > 0.0)
        rep->end_to_end_fps = (double)rep->frames_in / rep->wall_s;
    rep->peak_rss_bytes = vg_peak_rss_bytes();
    for (int k = 0; k < VG_SLOTS; k++)
        vg_buf_unref(&j.crop[k]);
    vg_video_writer_destroy(&j.vw);
    vg_pool_destroy(&j.composed);
    vg_pool_destroy(&j.crops);
    vg_tracker_destroy(&j.tr);
    vg_face_embedder_destroy(&j.fe);
    vg_face_detector_destroy(&j.fd);
    vg_session_destroy(&j.se);
    vg_session_destroy(&j.sd);
    vg_source_close(&j.src);
    if (started) {
        /* the report keeps the first failure's message in ctx */
        char msg[512];
        int wrc;
        snprintf(msg, sizeof(msg), "%s", vg_context_errmsg(ctx));
        wrc = write_report(ctx, out_dir, input, rep);
        if (wrc < 0 && rc == 0)
            rc = wrc;
        else if (rc < 0)
            vg_fail(ctx, rc, "%s", msg);
    }
    if (rc == 0 && rep->stopped)
        rc = VG_EINTR;
    if (rc == 0 && end == VG_ETRUNCATED)
        rc = VG_ETRUNCATED;
    return rc;
}

void vg_faces_report_json(const vg_faces_report *r, const char *input, FILE *f)
{
    const vg_faces_plan *p = &r->plan;
    double ratio = r->detector_ceiling_fps > 0.0
                       ? r->end_to_end_fps / r->detector_ceiling_fps
                       : 0.0;
    int64_t dets = r->reid_detections;
    fprintf(f, "{\n  \"job\": \"faces\",\n  \"input\": ");
    vg_json_string(f, input);
    fprintf(f,
            ",\n  \"frames\": {\"in\": %lld, \"out\": %lld, \"fps\": %.3f},\n",
            (long long)r->frames_in, (long long)r->frames_out, r->fps);
    fprintf(f, "  \"stages_s\": {");
    for (int i = 0; i < 6; i++)
        fprintf(f, "%s\"%s\": %.4f", i ? ", " : "", vg_faces_stage_name(i),
                r->stage_s[i]);
    fprintf(f, "},\n  \"fps\": {");
    for (int i = 0; i < 6; i++)
        fprintf(f, "%s\"%s\": %.1f", i ? ", " : "", vg_faces_stage_name(i),
                r->stage_s[i] > 0.0 ? (double)r->frames_in / r->stage_s[i]
                                    : 0.0);
    fprintf(f,
            ", \"end_to_end\": %.2f, \"detector_ceiling\": %.2f, "
            "\"ratio_to_ceiling\": %.3f},\n",
            r->end_to_end_fps, r->detector_ceiling_fps, ratio);
    fprintf(f,
            "  \"faces\": {\"detected\": %lld, \"frames_with_faces\": %lld, "
            "\"no_faces\": %s, \"frames_slots_filled\": [%lld, %lld, %lld]},\n",
            (long long)r->faces_detected, (long long)r->frames_with_faces,
            r->frames_with_faces == 0 ? "true" : "false",
            (long long)r->frames_slot_filled[0],
            (long long)r->frames_slot_filled[1],
            (long long)r->frames_slot_filled[2]);
    if (r->frames_with_faces == 0)
        fprintf(f, "  \"note\": \"no face in the input: every frame is the "
                   "empty frame\",\n");
    fprintf(
        f,
        "  \"slots\": {\"assignments\": %lld, \"releases\": %lld, "
        "\"swaps\": %lld, \"reidentified\": %lld, \"identity_breaks\": %lld, "
        "\"embeddings\": %lld, "
        "\"faces_tracked\": %lld, \"embedding_ratio\": %.4f},\n",
        (long long)r->slots.assignments, (long long)r->slots.releases,
        (long long)r->slots.swaps, (long long)r->slots.reidentified,
        (long long)r->slots.identity_breaks, (long long)r->slot_embeddings,
        (long long)r->faces_tracked,
        r->faces_tracked > 0
            ? (double)r->slot_embeddings / (double)r->faces_tracked
            : 0.0);
    fprintf(f,
            "  \"reid\": {\"available\": %s, \"detections\": %lld, "
            "\"embedded\": %lld, \"rescued\": %lld, \"activation_ratio\": "
            "%.4f, \"slot_embedded\": %lld, \"faces_detected\": %lld, "
            "\"mobilefacenet_runs\": %lld, \"mobilefacenet_ratio\": %.4f},\n",
            r->reid_available ? "true" : "false", (long long)dets,
            (long long)r->reid_embedded, (long long)r->reid_rescued,
            dets > 0 ? (double)r->reid_embedded / (double)dets : 0.0,
            (long long)r->slot_embeddings, (long long)r->faces_detected,
            (long long)(r->reid_embedded + r->slot_embeddings),
            r->faces_detected > 0
                ? (double)(r->reid_embedded + r->slot_embeddings) /
                      (double)r->faces_detected
                : 0.0);
    fprintf(f,
            "  \"encoder\": {\"name\": \"%s\", \"frames_written\": %lld, "
            "\"frames_failed\": %lld},\n",
            r->encoder, (long long)r->encoder_written,
            (long long)r->encoder_failed);
    fprintf(f,
            "  \"memory\": {\"planned_peak_bytes\": %llu, "
            "\"measured_peak_bytes\": %llu, \"planned\": {\"runtime\": %llu, "
            "\"detector\": %llu, \"embedder\": %llu, \"decoder\": %llu, "
            "\"pictures\": %llu, \"crops\": %llu, \"composed\": %llu, "
            "\"encoder\": %llu, \"tables\": %llu}},\n",
            (unsigned long long)p->total, (unsigned long long)r->peak_rss_bytes,
            (unsigned long long)p->runtime, (unsigned long long)p->detector,
            (unsigned long long)p->embedder, (unsigned long long)p->decoder,
            (unsigned long long)p->pictures, (unsigned long long)p->crops,
            (unsigned long long)p->composed, (unsigned long long)p->encoder,
            (unsigned long long)p->tables);
    fprintf(f, "  \"stopped\": %s\n}\n", r->stopped ? "true" : "false");
}
