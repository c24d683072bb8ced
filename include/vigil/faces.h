/*
 * The two-face split-screen job (`vigil faces`): BlazeFace faces, tracked by
 * ByteTrack, the two principal ones kept in a left and a right slot
 * (vg_slots), each slot's crop box smoothed (EMA) and the two crops composed
 * side by side into a fixed-size frame encoded to H.264 (docs/faces.md).
 *
 *   vg_faces_config c;
 *   vg_faces_config_default(&c);
 *   if (path && vg_faces_config_load(ctx, path, &c) < 0) { ... }  // faces:
 *   vg_faces_report r;
 *   rc = vg_faces_run(ctx, &c, "Megamind.avi", "out", NULL, NULL, &r);
 *   // out/split.mp4, out/faces.jsonl, out/report.json
 *
 * The slot logic alone (pure, no allocation, caller-owned state):
 *
 *   vg_slots s;  vg_slots_opts so;
 *   vg_slots_opts_default(&so);  so.frame_width = 1280;  so.fps = 25;
 *   vg_slots_init(&s, &so);
 *   per frame: vg_slot_face in[n] = {track id, box, score};
 *              vg_slot out[VG_SLOTS];  vg_slots_update(&s, in, n, out);
 *
 * Thread-safety: a vg_slots value, a config and a run are used by one
 * thread at a time; the crop helpers are pure functions.
 */
#ifndef VIGIL_FACES_H
#define VIGIL_FACES_H

#include <stdint.h>
#include <stdio.h>

#include "vigil/context.h"
#include "vigil/detect.h"
#include "vigil/job.h"
#include "vigil/schema.h"

/* ---- slots ----------------------------------------------------------- */

#define VG_SLOTS 2                 /* 0: left, 1: right */
#define VG_SLOTS_MAX_CANDIDATES 32 /* track ids remembered at once */
#define VG_SLOTS_MAX_DIM 512       /* longest appearance embedding */

typedef struct vg_slots_opts {
    int frame_width;  /* picture width: the first placement puts a face whose
                         centre is in the left half in the left slot */
    double fps;       /* frames per second (25) */
    double release_s; /* a slot keeps an absent person this long (4 s), then
                         is free for the next principal face */
    int min_frames;   /* a track must be seen in this many frames before it
                         takes a slot (3): one-frame false faces take none */
    double persist_s; /* persistence counts up to this many seconds (2 s) */
    /* a face smaller than this fraction of the frame's largest face (sides
     * of the smoothed areas) takes no free slot: people in the background
     * (0.6) */
    float min_relative_size;
    /* Re-identification at the slots (a person back under a new track id):
     * embeddings of embed_dim values (0: off, the default); a face in no
     * slot whose embedding has cosine >= reid_threshold (0.75) with the
     * person of a slot whose person is away takes that slot at once.
     * vg_slots_want says which faces need an embedding: a slot's own face
     * every refresh_s (1 s) and whenever its box jumps (IoU < 0.5 with the
     * last one: a cut), an unknown face while a slot's person is away every
     * check_s (0.5 s). */
    int embed_dim;
    float reid_threshold;
    double refresh_s, check_s;
    /* a slot's own track whose embedding falls below this cosine with the
     * slot's person has become someone else (a tracker id switch, a cut
     * in the film): the slot lets the track go and waits for its person
     * (0.72; on Megamind.avi MobileFaceNet gives 0.84-0.96 for the same
     * character, 0.56-0.67 for the other) */
    float break_threshold;
} vg_slots_opts;

/* One tracked face of the current frame. */
typedef struct vg_slot_face {
    int64_t id; /* track id, >= 1 */
    vg_box box;
    float score;
    /* embed_dim values when computed this frame, else NULL (borrowed for
     * the update only) */
    const float *embedding;
} vg_slot_face;

/* A slot after an update. */
typedef struct vg_slot {
    int64_t id;       /* the person the slot holds (0: free) */
    int present;      /* 1: that person is in this frame */
    int face;         /* index in the update's faces when present, else -1 */
    vg_box box;       /* last box seen of the person */
    int64_t absent;   /* frames since the person was last seen */
    int changed;      /* 1: the slot took a new person in this update */
    int reidentified; /* 1: its person came back under a new track id in
                         this update (re-identified, not a new person) */
    int waiting;      /* 1: id 0, but the slot keeps its person (whose track
                         became someone else) until release_s or re-identification */
} vg_slot;

typedef struct vg_slots_candidate {
    int64_t id;
    int64_t first_frame, last_frame;
    int64_t seen;          /* frames it was seen in */
    float area;            /* smoothed box area */
    int last_slot;         /* the slot it held last, -1 none */
    int64_t checked_frame; /* last compared with an away slot's person */
} vg_slots_candidate;

typedef struct vg_slots_stats {
    int64_t frames;
    int64_t assignments;     /* a slot took a person */
    int64_t releases;        /* a slot let an absent person go */
    int64_t swaps;           /* a person moved from one slot to the other */
    int64_t reidentified;    /* slots that found their person under a new id */
    int64_t embeddings;      /* embeddings used (vg_slots_want said yes) */
    int64_t identity_breaks; /* a slot's track became someone else */
} vg_slots_stats;

/* The whole state; plain value, no allocation. */
typedef struct vg_slots {
    vg_slots_opts o;
    int64_t frame;
    vg_slot slot[VG_SLOTS];
    int64_t last_seen[VG_SLOTS]; /* frame the slot's person was last seen */
    float ref[VG_SLOTS][VG_SLOTS_MAX_DIM]; /* the slot person's embedding */
    int64_t ref_frame[VG_SLOTS];           /* when taken; 0: none */
    int waiting[VG_SLOTS];
    vg_slots_candidate cand[VG_SLOTS_MAX_CANDIDATES];
    int n_cand;
    vg_slots_stats stats;
} vg_slots;

void vg_slots_opts_default(vg_slots_opts *o);

/* Starts s empty with o (NULL: defaults). Returns 0 or VG_EINVAL (fps <= 0,
 * release_s < 0, min_frames < 1, frame_width < 1). */
int vg_slots_init(vg_slots *s, const vg_slots_opts *o);

/* Advances one frame with its faces (n may be 0). Rules, in order:
 * 1. a slot whose person is among faces stays with it (whatever the
 *    positions: people may cross); absent longer than release_s it is freed;
 * 2. free slots take the faces in no slot seen in >= min_frames frames and
 *    at least min_relative_size of the frame's largest face (side), the
 *    most principal first (smoothed area x frames seen, capped at
 *    persist_s); when both slots are free and two faces qualify, the one
 *    further left goes left; a single face into two free slots goes to the
 *    side of the picture it is on;
 * 3. a face never displaces a slot's person, present or absent, with one
 *    exception: with embeddings (embed_dim > 0), a face in no slot whose
 *    embedding matches the person of a slot whose person is away (cosine
 *    >= reid_threshold, the best match) is that person back under a new
 *    track id: the slot takes the new id at once (reidentified = 1). This
 *    runs before rule 2.
 * Writes both slots to out[0..VG_SLOTS). Returns 0 or VG_EINVAL (NULL
 * arguments, n < 0, an id < 1). Allocates nothing. */
int vg_slots_update(vg_slots *s, const vg_slot_face *faces, int n,
                    vg_slot *out);

/* Which of the faces the next vg_slots_update would use an embedding for
 * (conditional re-identification: only when embed_dim > 0 and identity is
 * at stake). Sets want[i] to 0 or 1 for i < n; returns how many are 1.
 * Pure (does not change s). */
int vg_slots_want(const vg_slots *s, const vg_slot_face *faces, int n,
                  int *want);

void vg_slots_stats_get(const vg_slots *s, vg_slots_stats *out);

/* ---- crop boxes and composition ------------------------------------------ */

/* The crop of a slot for a face: aspect (width / height) of the slot, height
 * zoom x the face's height centred on the face, shrunk to fit the picture
 * and shifted inside it. */
void vg_faces_crop_target(const vg_box *face, float aspect, float zoom,
                          int pic_w, int pic_h, vg_box *out);

/* Exponential moving average of a crop box: state = alpha x target +
 * (1 - alpha) x state, per coordinate. */
void vg_faces_crop_ema(vg_box *state, const vg_box *target, float alpha);

/* A crop of a slot: YUV 4:2:0 planes (BT.601, limited range, the output
 * file's format), luma w x h, Cb and Cr (w / 2) x (h / 2); the caller owns
 * the memory. */
typedef struct vg_faces_yuv {
    uint8_t *y, *u, *v;
    int ystride, cstride;
} vg_faces_yuv;

/* The YUV of an RGB colour (BT.601, limited range). */
void vg_faces_rgb_to_yuv(const uint8_t rgb[3], uint8_t yuv[3]);

/* Resizes region of an RGB24 picture (sw x sh, sstride) bilinearly into a
 * dw x dh YUV 4:2:0 crop, converting as it goes (each chroma sample the
 * mean of its 2 x 2 pixels); the region is clamped to the picture. dw and
 * dh are even, dw at most VG_FACES_MAX_SIDE. Returns 0 or VG_EINVAL (bad
 * sizes, empty region). Allocates nothing (about 100 KiB of stack). */
int vg_faces_resize_yuv420(const uint8_t *src, int sw, int sh, int sstride,
                           const vg_box *region, int dw, int dh,
                           const vg_faces_yuv *dst);

/* ---- the job's config (the `faces:` section) ------------------------------
 */

enum vg_faces_empty { VG_FACES_EMPTY_GREY = 0, VG_FACES_EMPTY_BLACK = 1 };

#define VG_FACES_MAX_SIDE 4096 /* out_width / out_height at most */

typedef struct vg_faces_config {
    int out_width, out_height; /* composed frame, even, 64..4096 (1280x720) */
    float alpha;               /* EMA of the crop box, (0, 1] (0.25) */
    float zoom;                /* crop height / face height (2.6) */
    double hold_s;    /* a slot with no face shows its last crop this long
                         (3 s), then the empty frame */
    int empty;        /* enum vg_faces_empty: what a slot shows after hold_s */
    double release_s; /* vg_slots_opts.release_s (5 s) */
    float min_relative_size; /* vg_slots_opts.min_relative_size (0.6) */
    int min_frames;          /* vg_slots_opts.min_frames (3) */
    float face_score;        /* BlazeFace threshold (0.7) */
    char encoder[32]; /* libavcodec encoder: "libx264" (default), h264_nvenc */
    int crf;          /* 0..51 (23) */
    char preset[16];  /* x264 preset (superfast) */
    int reid;         /* 1 (default): conditional ReID with the embedder */
    int64_t max_frames;               /* 0 (default): the whole input */
    char detector_model[VG_PATH_MAX]; /* blazeface.onnx (model cache) */
    char embedder_model[VG_PATH_MAX]; /* mobilefacenet.onnx (model cache) */
    int threads;                      /* inference threads; 0: runtime's */
} vg_faces_config;

/* The faces: keys (include/vigil/schema.h; offsets into vg_faces_config),
 * the defaults of vg_faces_config_default. *n (may be NULL): the count. */
const vg_option *vg_faces_schema(int *n);

/* Sets every key to its default (the table's; model files in the model
 * cache). */
void vg_faces_config_default(vg_faces_config *c);

/* Reads the `faces:` section of the YAML file path into c (keys not given
 * keep c's values; other sections are left to their own loaders; a file
 * without the section changes nothing). Model files are looked up as given,
 * beside the config, then in the model cache. Returns 0, or VG_ECONFIG
 * with one line "PATH:LINE:COL: ..." in ctx (odd, zero or too large output
 * size, alpha outside (0, 1], unknown key, ...), VG_ENOENT / VG_EIO (the
 * file), VG_ENOMEM. c is partly filled on failure. */
int vg_faces_config_load(vg_context *ctx, const char *path, vg_faces_config *c);

/* The declaration of the job's model of kind (VG_MODEL_FACE_DETECTOR or
 * VG_MODEL_FACE_EMBEDDER) as the run loads it: path, batch 1, session
 * options. The plan looks its calibration up under this declaration's key,
 * and the run stores what it measured under the same key. */
void vg_faces_model_decl(const vg_faces_config *c, int kind, vg_model_decl *d);

/* Checks a config built in code the way the loader checks a file (each
 * value in its row's range, even sizes, alpha in (0, 1]): returns 0 or
 * VG_EINVAL with one line "faces: ..." in ctx. */
int vg_faces_config_check(vg_context *ctx, const vg_faces_config *c);

/* ---- the plan ---------------------------------------------------------------
 */

/* Host memory the job takes, predicted from the same sizes the run
 * allocates with (src/plan/plan.c). */
typedef struct vg_faces_plan {
    uint64_t runtime;  /* process baseline + ONNX Runtime environment */
    uint64_t detector; /* BlazeFace weights + work */
    uint64_t embedder; /* MobileFaceNet weights + work (0 without ReID) */
    uint64_t decoder;  /* decoder, shared part included */
    uint64_t pictures; /* the source's RGB24 picture pool */
    uint64_t crops;    /* the slots' crop pool */
    uint64_t composed; /* the composed-frame pool */
    uint64_t encoder;  /* the H.264 writer, shared part included */
    uint64_t tables;   /* tracker, slots, stream tables and threads */
    uint64_t total;    /* the sum: predicted peak RSS */
} vg_faces_plan;

/* Pool sizes of the job (the run and the plan both use these). */
#define VG_FACES_DECODE_QUEUE 2 /* pictures decoded ahead */
#define VG_FACES_QUEUE 3        /* frames waiting for the encoder thread */
/* decoded ahead, being decoded, being detected, queued to the encoder and
 * being cropped */
#define VG_FACES_PICTURE_POOL (VG_FACES_DECODE_QUEUE + 3 + VG_FACES_QUEUE)
#define VG_FACES_CROP_POOL VG_SLOTS
/* The decoder's own threads: one, decoding has a thread of its own (more
 * frame threads only compete with the detector for the cores). */
#define VG_FACES_DECODER_THREADS 1
#define VG_FACES_COMPOSED_POOL 2

/* Plans c on a width x height input of codec (decoder name, "" unknown).
 * Returns 0, VG_EINVAL, VG_EIO (calibration file unreadable) or VG_ENOMEM;
 * message in ctx. */
int vg_faces_plan_build(vg_context *ctx, const vg_faces_config *c, int width,
                        int height, const char *codec, vg_faces_plan *out);

/* Prints the plan as a table. */
void vg_faces_plan_print(const vg_faces_plan *p, FILE *f);

/* ---- the job
 * ------------------------------------------------------------------ */

typedef struct vg_faces_report {
    int64_t frames_in, frames_out;
    int64_t encoder_written, encoder_failed;
    double fps;                  /* input frame rate */
    double wall_s;               /* the frame loop */
    double stage_s[6];           /* decode, detect, track, reid, compose,
                                    encode (see vg_faces_stage_name) */
    double detector_ceiling_fps; /* frames / detect time */
    double end_to_end_fps;       /* frames / wall_s */
    int64_t frames_with_faces;   /* at least one face detected */
    int64_t frames_slot_filled[VG_SLOTS + 1]; /* 0, 1 or 2 slots present */
    int64_t faces_detected;
    vg_slots_stats slots;
    int64_t slot_embeddings; /* MobileFaceNet runs for the slots */
    int64_t faces_tracked;   /* confirmed tracks matched, over all frames */
    int64_t reid_detections, reid_embedded, reid_rescued; /* tracker's */
    int reid_available; /* the tracker takes embeddings */
    char encoder[32];   /* the encoder in use */
    vg_faces_plan plan;
    uint64_t peak_rss_bytes; /* measured (VmHWM) */
    int stopped;             /* a stop was requested */
} vg_faces_report;

const char *vg_faces_stage_name(int i);

/* Called after each frame with the frames done (for tests and progress). */
typedef void (*vg_faces_progress_fn)(void *user, int64_t frames_done);

/* Runs the job on input and writes out_dir/split.mp4 (one composed frame per
 * input frame), out_dir/faces.jsonl (one line per frame) and
 * out_dir/report.json (also on failure after the start, with what was
 * done). Returns 0, VG_ETRUNCATED (the input was cut off; outputs kept),
 * VG_EINTR (stopped; outputs finalised) or the failing step's code with a
 * one-line message in ctx. rep (may be NULL) is filled in every case. No
 * heap allocation in vigil's code per frame. */
int vg_faces_run(vg_context *ctx, const vg_faces_config *c, const char *input,
                 const char *out_dir, vg_faces_progress_fn progress, void *user,
                 vg_faces_report *rep);

/* Writes rep as one JSON object. */
void vg_faces_report_json(const vg_faces_report *rep, const char *input,
                          FILE *f);

#endif
