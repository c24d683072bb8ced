/*
 * vg_plan: what a job will take of host and device memory, before it runs.
 * For every model the job declares (and every precision variant it lists,
 * for comparison) the weights and the working memory at the configured batch
 * and input size, read from the calibration file when the model was measured
 * there (`calibrated`) and estimated with vg_calibration_estimate otherwise;
 * for every input the buffers its stream holds (tensor and picture pools,
 * decoder, encoder, tables); the runtime baseline (the process, its
 * libraries and ONNX Runtime's environment). Then the peak with every model
 * resident and with the staged schedule the residency manager runs, against
 * the budgets, and when a schedule does not fit, the largest item to cut.
 *
 *   vg_plan *p;
 *   if (vg_plan_build(ctx, &job, &settings, inputs, n, NULL, &p) < 0)
 *       fprintf(stderr, "%s\n", vg_context_errmsg(ctx));
 *   else {
 *       vg_plan_print(p, stdout);       // the table `vigil plan` prints
 *       vg_plan_print_json(p, f);       // one JSON object (report.json)
 *       vg_plan_destroy(&p);
 *   }
 *
 * The host peak predicted is the peak resident set (VmHWM) of the process:
 *
 *   cctv job (every stream at the same time, one shared detector):
 *     runtime + sum(model weights + work) + job shared
 *       + sum over the streams of their buffers
 *   cctv job planned with opts.concurrent = 0 (streams one after another):
 *     runtime + sum(model weights + work) + job shared
 *       + the largest stream's buffers
 *   staged job, stage s (one stage at a time, streams one after another):
 *     runtime + models resident during s + the largest stream's buffers in s
 *     where a model is resident during s when its policy is pinned or
 *     keep_alive (always), or when it is unload_after_stage and its stage is s
 *     staged peak = max over s; all-resident peak = every model at once
 *
 * The models and ONNX Runtime's environment count once however many streams
 * there are (one loaded instance serves them all); job shared is what the
 * streams hold once between them (vg_sizing_job_shared: FFmpeg's decoder
 * tables per codec family, libx264's state when video is on, the event
 * store's page cache).
 *
 * Stream buffers (per stream; W x H the stream's picture, T the detector's
 * input, D the queue depth): the counts and bytes come from
 * include/vigil/sizing.h, the functions the runtime sizes its pools with:
 *   cctv:   (D + 2) tensors of T float32, (2D + 3) RGB24 pictures, the
 *           decoder, the x264 encoder when video is on, tables (tracker,
 *           rule state, queues, JPEG encoder) and the stream's threads
 *           (decode and sink thread stacks, their malloc arenas)
 *   staged: stage of the detector: 3 tensors of T, the decoder;
 *           later stages: 3 RGB24 pictures, the decoder, the face models'
 *           input buffers
 * The pools are counted at their capacity: a pool is one block whose pages
 * become resident as buffers are first used, so a stream that never fills
 * its queues stays below the plan.
 *
 * Constants measured on the reference machine (Debian 13, 2 cores, glibc,
 * FFmpeg 7.1, ONNX Runtime 1.29; peak RSS deltas of small programs over
 * libvigil, repeated at 384x288, 768x576, 1536x1152, 1920x1080 and fitted
 * as fixed + per pixel):
 *   runtime baseline when not calibrated: 30 MiB (the process with vigil's
 *     libraries before any model, as `vigil run` records it under the
 *     calibration key "runtime:cctv" / "runtime:staged": 29.2-29.6 MiB)
 *   ONNX Runtime's environment, created after that baseline is taken: 15 MiB
 *     (13.5-15.8 MiB measured), always added to the baseline
 *   decoder, H.264/HEVC/VP9/AV1: 7.5 MiB once per process (shared)
 *     + per decoder 1.5 MiB per frame thread + (8.3 + 2.7 per frame
 *     thread) bytes per pixel
 *   decoder, other codecs (MPEG-4 part 2, MJPEG, ...): 7.9 MiB once per
 *     process (shared) + per decoder 0.2 MiB per frame thread + (1.6 + 3.2
 *     per frame thread) bytes per pixel
 *     (frame threads: FFmpeg's own choice, cores + 1 up to 16, for decoders
 *     that thread by frame; 1 otherwise)
 *   x264 encoder (vigil's writer, 2 threads, MP4 muxer, RGB->YUV frame),
 *     once per process (shared) + bytes per pixel per encoder:
 *     ultrafast 8.1 MiB + 27 B/px, superfast 3.5 MiB + 86 B/px,
 *     veryfast 8.9 MiB + 104 B/px, any other preset 10.7 MiB + 141 B/px
 *     (measured at medium; slower presets take more)
 *   tables: SQLite page cache 256 KiB once per job; per stream the
 *     tracker's arena (its own figure), rule state and queues 512 KiB, and
 *     its threads 1.5 MiB
 *   The split between once per process and per stream was measured with
 *   `vigil run` on 1 and 4 concurrent streams of vtest.avi (MPEG-4) and of
 *   an H.264 copy: the second and later decoders and encoders cost their
 *   per-pixel and per-thread parts only (sizing.h).
 *
 * Thread-safety: a plan is a value; building one opens each input once
 * (vg_source) and reads the calibration file.
 */
#ifndef VIGIL_PLAN_H
#define VIGIL_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "vigil/config.h"
#include "vigil/context.h"
#include "vigil/job.h"
#include "vigil/residency.h"
#include "vigil/sizing.h"
#include "vigil/source.h"

#define VG_PLAN_MAX_STREAMS 64
#define VG_PLAN_MAX_MODELS (VG_MAX_MODELS * (1 + VG_MAX_VARIANTS))
#define VG_PLAN_MAX_STAGES 16

/* Runtime baseline used when the calibration file has no "runtime:JOB"
 * line, and ONNX Runtime's environment (see above). */
#define VG_PLAN_RUNTIME_ESTIMATE_BYTES (30ull << 20)
#define VG_PLAN_ORT_ENV_BYTES (15ull << 20)

enum vg_plan_schedule { VG_PLAN_ALL_RESIDENT = 0, VG_PLAN_STAGED = 1 };

typedef struct vg_plan_opts {
    /* Budgets: -1 (default) takes the config's memory section; 0 means no
     * budget; > 0 overrides it (--host-memory / --device-memory). */
    int64_t host_budget_bytes;
    int64_t device_budget_bytes;
    /* Annotated video: -1 (default) as the settings say (video.enabled),
     * 0 off (--no-video), 1 on. */
    int video;
    /* Calibration file; NULL or "" (default): the job's memory.calibration,
     * else vg_calibration_default_path(). */
    const char *calibration;
    /* Stream size to assume for an input that cannot be opened (1920x1080). */
    int assume_width, assume_height;
    /* Inputs the caller has already opened (borrowed; NULL: the planner
     * opens each input itself). sources[i] describes inputs[i]; a NULL
     * entry is an input that could not be opened (the assumed size is
     * planned). A job that runs what it plans passes its open sources, so
     * that no input is opened twice (a dead camera would cost its timeout
     * twice, a single-client source would refuse the second open). */
    vg_source *const *sources;
    /* CCTV streams: 1 (default) at the same time, each with its own
     * buffers and threads (the multi-camera job); 0 one after another
     * (vg_run_stream called per input). A staged job runs its streams one
     * after another whatever this says. */
    int concurrent;
    /* What the caller learnt loading the settings' tracker.reid_model
     * (vg_reid_embedder_dim and _input_bytes): with reid_dim > 0 the
     * planner does not load the model again; 0 (default): it loads it. */
    int reid_dim;
    size_t reid_input_bytes;
} vg_plan_opts;

/* A model as the plan sees it: the file the job runs, or one of its declared
 * precision variants (listed for comparison, never counted in the peaks). */
typedef struct vg_plan_model {
    char name[VG_MODEL_NAME_MAX];
    char precision[8]; /* "" for the file the job runs; "fp16", ... */
    char path[VG_PATH_MAX];
    int variant; /* 1: a declared variant, not run */
    int of;      /* variant: index of the model it is a variant of; else
                    its own index */
    int missing; /* the file is not there: sizes are 0 */
    int kind;    /* enum vg_model_kind */
    int policy;  /* enum vg_model_policy */
    int stage;   /* stage that runs it */
    int batch;   /* batch it runs at */
    int input_w, input_h, input_c; /* input it runs at (one batch item) */
    int input_known; /* 1: read from the model file or the config */
    uint64_t file_bytes;
    uint64_t weights_bytes; /* host bytes of the loaded session */
    uint64_t work_bytes;    /* host working memory of one inference */
    uint64_t device_bytes;  /* device bytes (0 on CPU) */
    uint64_t host_bytes;    /* weights + work */
    int calibrated;         /* 1: from the calibration file; 0: estimated */
} vg_plan_model;

typedef struct vg_plan_stream {
    char input[VG_PATH_MAX];
    int opened;          /* 0: could not be opened; the size is assumed */
    char error[256];     /* why, when not opened */
    int width, height;   /* picture size */
    double fps;          /* 0 when unknown */
    int64_t frame_count; /* -1 when unknown (live, or not opened) */
    char codec[32];      /* decoder name ("" when not opened) */
    int decoder_threads; /* frame threads the decoder will use */
    /* The buffers of the configuration that holds the most (cctv: the
     * stream; staged: its largest stage). */
    uint64_t tensor_pool_bytes;
    uint64_t picture_pool_bytes;
    uint64_t decoder_bytes;
    uint64_t encoder_bytes;
    uint64_t other_bytes;   /* tables, queues, face input buffers */
    uint64_t threads_bytes; /* the stream's own threads (cctv) */
    /* cctv with tracker.reid: the stream's embedder (an ONNX ReID model's
     * weights, working memory and input; nothing for the colour
     * histogram) and the tracker's embedding storage */
    uint64_t reid_bytes;
    uint64_t host_bytes; /* the sum of the seven above */
    /* staged job: host bytes of this stream in each stage (0 for stages the
     * job does not have); cctv: stage_bytes[0] == host_bytes. */
    uint64_t stage_bytes[VG_PLAN_MAX_STAGES];
} vg_plan_stream;

typedef struct vg_plan_stage {
    int stage;                                       /* stage number */
    uint64_t models_host_bytes, models_device_bytes; /* resident models */
    uint64_t stream_bytes; /* the streams' buffers in this stage: their sum
                              when concurrent, else the largest's; plus
                              the job's shared bytes */
    int stream;            /* index of the largest stream, or -1 */
    uint64_t host_bytes;   /* runtime + models + stream */
    uint64_t device_bytes;
} vg_plan_stage;

/* What to cut when the job's schedule does not fit. */
typedef struct vg_plan_cut {
    int needed;             /* 0: the schedule fits, the rest is unset */
    char resource[8];       /* "host" or "device" */
    char item[128];         /* "model detector", "stream vtest.avi" */
    int model;              /* index in models, or -1 */
    int stream;             /* index in streams, or -1 */
    uint64_t bytes;         /* what the item takes of the resource */
    uint64_t over_bytes;    /* peak minus the usable budget */
    int enough;             /* 1: without the item the schedule fits */
    int variant;            /* a model: index of its smallest variant that takes
                               less, or -1 */
    uint64_t variant_saves; /* bytes that variant saves */
} vg_plan_cut;

typedef struct vg_plan {
    vg_context *ctx; /* the context that allocated the plan */
    int job;         /* enum vg_job_kind */
    int schedule;    /* enum vg_plan_schedule: the one the job runs */
    int video;       /* 1: the cctv streams write annotated video */
    unsigned queue_depth;
    int concurrent;        /* 1: the streams run at the same time */
    vg_job_shared shared;  /* once per cctv job with streams (sizing.h) */
    uint64_t shared_bytes; /* shared.total */
    char calibration[VG_PATH_MAX];   /* file read */
    uint64_t runtime_bytes;          /* baseline + ONNX Runtime environment */
    uint64_t runtime_baseline_bytes; /* the process before any model */
    int runtime_calibrated;          /* 1: the baseline is the file's */
    vg_plan_model models[VG_PLAN_MAX_MODELS];
    int n_models; /* models run and variants */
    vg_plan_stream streams[VG_PLAN_MAX_STREAMS];
    int n_streams;
    vg_plan_stage stages[VG_PLAN_MAX_STAGES];
    int n_stages; /* staged job: the stages, in order; cctv: 1 */
    uint64_t host_peak_all_resident, host_peak_staged;
    uint64_t device_peak_all_resident, device_peak_staged;
    uint64_t host_peak, device_peak; /* of the schedule the job runs */
    int peak_stage; /* index in stages of the staged host peak */
    uint64_t host_budget, device_budget; /* 0: none */
    double margin;                       /* fraction of each budget kept free */
    uint64_t host_usable, device_usable; /* budget minus margin; 0: none */
    int fits_all_resident, fits_staged;  /* host and device both fit */
    int fits;                            /* the job's schedule fits */
    vg_plan_cut cut;
} vg_plan;

void vg_plan_opts_default(vg_plan_opts *o);

/* Plans job (loaded and finished: vg_job_config_load, _finish) with the
 * settings s (queue depth, video, timeouts) for inputs[0..n_inputs)
 * (n_inputs 0: no stream buffers are planned). o NULL takes the defaults.
 * Opens each input once to read its size; an input that cannot be opened is
 * planned at the assumed size with its error kept (not a failure). A model
 * file that is missing is listed with missing = 1. Returns 0, VG_EINVAL,
 * VG_ERANGE (more than VG_PLAN_MAX_STREAMS inputs), VG_EIO (the calibration
 * file cannot be read) or VG_ENOMEM; message in ctx. On success *out is the
 * caller's, freed with vg_plan_destroy; on failure *out is NULL. */
int vg_plan_build(vg_context *ctx, const vg_job_config *job,
                  const vg_settings *s, const char *const *inputs, int n_inputs,
                  const vg_plan_opts *o, vg_plan **out);

/* Frees *p and sets it to NULL; accepts NULL. */
void vg_plan_destroy(vg_plan **p);

/* Prints the plan as a table for people. Returns 0 or VG_EIO. */
int vg_plan_print(const vg_plan *p, FILE *f);

/* Prints the plan as one JSON object, no trailing newline. Keys:
 * "job", "schedule" ("all_resident" | "staged"), "host_peak_bytes",
 * "device_peak_bytes" (the schedule's), "host_peak_all_resident_bytes",
 * "host_peak_staged_bytes", "device_peak_all_resident_bytes",
 * "device_peak_staged_bytes", "host_budget_bytes", "device_budget_bytes"
 * (0: none), "margin", "host_usable_bytes", "device_usable_bytes",
 * "fits_all_resident", "fits_staged", "fits", "cut" (null, or {"resource",
 * "item", "bytes", "over_bytes", "enough", "variant", "variant_saves_bytes"}),
 * "runtime_bytes" (baseline + environment), "runtime_baseline_bytes",
 * "onnxruntime_env_bytes", "runtime_calibrated", "calibration", "video",
 * "queue_depth", "concurrent", "shared_bytes", "shared" ({"decoders_bytes",
 * "encoder_bytes", "events_bytes"}), "models": [{"name", "precision",
 * "variant", "path", "missing", "kind", "policy", "stage", "batch", "input":
 * [w, h, c], "file_bytes", "weights_bytes", "work_bytes", "device_bytes",
 * "host_bytes", "calibrated", "source" ("calibrated" | "estimated")}],
 * "streams":
 * [{"input", "opened", "error", "width", "height", "fps", "codec",
 * "decoder_threads", "tensor_pool_bytes", "picture_pool_bytes",
 * "decoder_bytes", "encoder_bytes", "other_bytes", "threads_bytes",
 * "host_bytes"}], "stages":
 * [{"stage", "models_host_bytes", "models_device_bytes", "stream_bytes",
 * "host_bytes", "device_bytes"}]. Returns 0 or VG_EIO. */
int vg_plan_print_json(const vg_plan *p, FILE *f);

#endif
