/*
 * vg_sizing: the one place where pools, queues and per-stream buffers are
 * sized. The runtime (vg_run_stream, vg_detect_run, the staged job) asks
 * these functions how many buffers to create, and the planner (vg_plan)
 * asks the same functions how many bytes those buffers take, so the plan
 * and the run cannot drift apart. An uncalibrated model's footprint is
 * estimated here too, for the planner and the residency manager alike.
 *
 *   vg_stream_pools sp;
 *   vg_sizing_stream_pools(o->queue_depth, &sp);   // runtime: counts
 *   so.pool_size = sp.tensors;
 *   so.image_pool_size = sp.pictures;
 *
 *   vg_sizing_stream in = {.width = 768, .height = 576, .codec = "mpeg4",
 *                          .decoder_threads = 3, .tensor_bytes = t,
 *                          .queue_depth = 4, .video = 1,
 *                          .video_preset = "veryfast"};
 *   vg_stream_bytes b;
 *   vg_sizing_stream_bytes(&in, &b);               // planner: bytes
 *   vg_job_shared sh;
 *   vg_sizing_job_shared(&in, 1, &sh);             // once per job
 *   // N concurrent streams like it: sh.total + N * b.total
 *
 * How the byte figures were measured is in include/vigil/plan.h (decoder,
 * encoder, tables) and below (per-stream threads).
 *
 * Thread-safety: every function is pure (vg_sizing_model_input and
 * vg_sizing_model_estimate read the model file) and may be called from any
 * thread.
 */
#ifndef VIGIL_SIZING_H
#define VIGIL_SIZING_H

#include <stdint.h>

#include "vigil/residency.h"

/* Queue depth when the caller leaves it at 0. */
#define VG_SIZING_QUEUE_DEPTH_DEFAULT 4u
/* Buffers of each pool of a staged job's stream (one stage at a time). */
#define VG_SIZING_STAGED_POOL 3u
/* Row alignment of vg_source's pictures (bytes). */
#define VG_SIZING_ROW_ALIGN 64
/* Side of a model input the file leaves dynamic and the config does not
 * give (vg_detector's default). */
#define VG_SIZING_DEFAULT_INPUT_SIDE 640

/* The queue depth a pipeline runs with: requested, or the default for 0. */
unsigned vg_sizing_queue_depth(unsigned requested);

/* Buffer counts of one stream's pools. */
typedef struct vg_stream_pools {
    unsigned queue_depth; /* the decode queue and the sink queue, each */
    unsigned tensors;     /* tensor pool (vg_source_opts.pool_size) */
    unsigned pictures;    /* picture pool (image_pool_size); 0: none */
} vg_stream_pools;

/* A CCTV stream (vg_run_stream) at queue depth D (0: the default):
 * tensors D + 2 (the decode queue, one being decoded, one being inferred:
 * the tensor goes back before the frame reaches the sinks); pictures
 * 2D + 3 (both queues, one in each of the three threads). */
void vg_sizing_stream_pools(unsigned queue_depth, vg_stream_pools *out);

/* The detect pipeline (vg_detect_run): tensors D + 2, no pictures. */
void vg_sizing_detect_pools(unsigned queue_depth, vg_stream_pools *out);

/* One stage of a staged job's stream (no queues): the detector's stage
 * reads 3 tensors; later stages 3 pictures (tensors stays 3: the source's
 * frame count). */
void vg_sizing_staged_pools(int detector_stage, vg_stream_pools *out);

/* Bytes of one pool buffer: an RGB24 picture (rows aligned as vg_source
 * aligns them) and a float32 tensor of c x w x h. */
uint64_t vg_sizing_picture_bytes(int width, int height);
uint64_t vg_sizing_tensor_bytes(int channels, int width, int height);

/* FFmpeg's decoders fall in two families for memory (their constants are
 * in sizing.c): long-reference codecs (H.264, HEVC, VP9, AV1) and the
 * others (MPEG-4 part 2, MJPEG, ...). */
enum { VG_SIZING_DECODER_OTHER = 0, VG_SIZING_DECODER_LONG_REFERENCE = 1 };
int vg_sizing_decoder_family(const char *codec);

/* One decoder instance of codec ("" or NULL: an unknown codec) with
 * frame_threads frame threads at width x height: its threads and picture
 * buffers. What every decoder of a family shares (FFmpeg's tables, touched
 * by the first one) is vg_sizing_decoder_shared_bytes, once per process. */
uint64_t vg_sizing_decoder_bytes(const char *codec, int width, int height,
                                 int frame_threads);
uint64_t vg_sizing_decoder_shared_bytes(const char *codec);

/* One instance of vigil's x264 writer at preset (NULL: medium) and
 * width x height; what every writer shares (libx264, the MP4 muxer), once
 * per process, is vg_sizing_encoder_shared_bytes. */
uint64_t vg_sizing_encoder_bytes(const char *preset, int width, int height,
                                 int threads);
uint64_t vg_sizing_encoder_shared_bytes(const char *preset);

/* What one stream of a CCTV job is. */
/* Encoder threads of each camera's annotated video in the CCTV job
 * (vg_job_opts_default): cameras encode in parallel with each other, and
 * each x264 frame thread holds pictures of its own. */
#define VG_SIZING_VIDEO_THREADS 1

typedef struct vg_sizing_stream {
    int width, height;        /* picture */
    const char *codec;        /* decoder name, "" or NULL when unknown */
    int decoder_threads;      /* frame threads of the decoder */
    uint64_t tensor_bytes;    /* one detector input (one batch item) */
    unsigned queue_depth;     /* 0: the default */
    int video;                /* 1: the annotated video is written */
    const char *video_preset; /* x264 preset; NULL: medium */
    int video_threads;        /* encoder threads; 0: VG_SIZING_VIDEO_THREADS */
    uint64_t tracker_bytes;   /* the tracker's arena (vg_tracker_stats) */
} vg_sizing_stream;

/* Host bytes one CCTV stream holds while it runs, whatever else runs. */
typedef struct vg_stream_bytes {
    uint64_t tensor_pool;  /* pools.tensors x tensor */
    uint64_t picture_pool; /* pools.pictures x picture */
    uint64_t decoder;      /* vg_sizing_decoder_bytes */
    uint64_t encoder;      /* vg_sizing_encoder_bytes; 0 without video */
    uint64_t tables;       /* tracker, rule state, queues, JPEG encoder */
    uint64_t threads;      /* decode and sink thread stacks, malloc arenas */
    uint64_t total;        /* the sum of the six */
} vg_stream_bytes;

/* Tables and threads of one stream, measured with `vigil run` on vtest.avi
 * (768x576 MPEG-4) and an H.264 copy of it as the peak-RSS step from 1 to
 * 4 concurrent streams, less the stream's pools, decoder and encoder. */
#define VG_SIZING_STREAM_TABLES_BYTES (512ull << 10)
#define VG_SIZING_STREAM_THREADS_BYTES (1536ull << 10)
/* The event store's SQLite page cache: one store per job. */
#define VG_SIZING_EVENTS_BYTES (256ull << 10)

/* Fills out for stream s. */
void vg_sizing_stream_bytes(const vg_sizing_stream *s, vg_stream_bytes *out);

/* What a job's streams hold once between them, however many run. */
typedef struct vg_job_shared {
    uint64_t decoders; /* vg_sizing_decoder_shared_bytes of each family */
    uint64_t encoder;  /* vg_sizing_encoder_shared_bytes when any writes
                          video (the first such stream's preset) */
    uint64_t events;   /* VG_SIZING_EVENTS_BYTES */
    uint64_t total;
} vg_job_shared;

/* Fills out for streams[0..n) (n 0: all zero). */
void vg_sizing_job_shared(const vg_sizing_stream *streams, int n,
                          vg_job_shared *out);

/* The input of one batch item of a model: from the file (ONNX; NCHW when
 * dimension 1 is 1 or 3, NHWC when the last one is, a flat vector
 * otherwise), the declaration's input_w/input_h winning over the file's,
 * dynamic dimensions left unset taken as VG_SIZING_DEFAULT_INPUT_SIDE. */
typedef struct vg_model_input {
    int channels, width, height;
    int known; /* 1: both sides from the file or the declaration */
} vg_model_input;

/* Reads path's input (NULL path or an unreadable file: the declaration's
 * size, else the default). */
void vg_sizing_model_input(const vg_model_decl *d, const char *path,
                           vg_model_input *out);

/* The footprint of a model never measured on this machine, as the planner
 * plans it and the residency manager admits it: path's input (above) at
 * d->batch through vg_calibration_estimate (weights = file x 1.25, work =
 * input x batch x 40 B); on a GPU provider (the first is "cuda") the device
 * holds weights + work as well. */
void vg_sizing_model_estimate(const vg_model_decl *d, const char *path,
                              uint64_t file_bytes, vg_calibration *out);

#endif
