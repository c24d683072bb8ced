/*
 * vg_source: frames from a video file, an image file or a network URL
 * (rtsp://, http://), decoded with FFmpeg and pre-processed straight into
 * pooled model-input tensors.
 *
 *   vg_source_opts o;
 *   vg_source_opts_default(&o);
 *   o.tensor = spec;                 // from vg_detector_input_spec()
 *   vg_source *src;
 *   if (vg_source_open(ctx, "vtest.avi", &o, &src) < 0) {
 *       fprintf(stderr, "%s\n", vg_context_errmsg(ctx)); return 1;
 *   }
 *   vg_frame f;
 *   int rc;
 *   while ((rc = vg_source_read(src, &f)) == 0) { ...; vg_frame_release(&f); }
 *   // rc == VG_EOF at a clean end, VG_ETRUNCATED when the input was cut off,
 *   // another code on error; vg_source_errmsg(src) says what happened.
 *   vg_source_close(&src);
 *
 * After warm-up, vg_source_read performs no heap allocation in vigil's code:
 * tensors and pictures come from pools sized at open.
 * Every input is opened once: a FIFO, a pipe or /dev/stdin is probed from
 * the same handle that is then read, so nothing of it is consumed twice.
 * Stop requests: opening and reading poll vg_context_stop_requested(ctx)
 * at least every 100 ms and return VG_EINTR once it is set.
 * Thread-safety: one source is used by one thread at a time; frames it hands
 * out may be used and released from any thread.
 */
#ifndef VIGIL_SOURCE_H
#define VIGIL_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/context.h"
#include "vigil/frame.h"
#include "vigil/tensor.h"

typedef struct vg_source vg_source;

/* Pictures narrower or lower than this are refused with VG_ERANGE. */
#define VG_SOURCE_MIN_SIDE 16
/* Default limit on the bytes of one decoded picture (256 MiB). */
#define VG_SOURCE_DEFAULT_MAX_DECODED (256ull << 20)
/* Frame rates above this (or none) are not believed; the source falls back
 * to the rate of the timestamps, else to VG_SOURCE_FALLBACK_FPS. */
#define VG_SOURCE_MAX_FPS 240
#define VG_SOURCE_FALLBACK_FPS 25.0

typedef struct vg_source_opts {
    vg_tensor_spec tensor; /* width/height 0: produce no tensor (decode only) */
    int keep_image;        /* also hand out the RGB24 picture (frame.image) */
    unsigned pool_size;    /* frames that may be out at once (default 4) */
    /* Pictures that may be out at once when keep_image is set; 0 (default):
     * pool_size. A pipeline that drops the tensor before its last stage
     * needs more pictures than tensors. */
    unsigned image_pool_size;
    /* Longest wait for data (default 5000, up to at least 3600000) on
     * network streams and on FIFOs, pipes and character devices, at open
     * and at every read; 0: no limit. Regular files are not bounded. */
    int timeout_ms;
    int max_width, max_height; /* larger pictures are refused (default 16384),
                                  before any picture is decoded */
    int decoder_threads;       /* 0: FFmpeg's choice */
    /* One decoded picture (width x height x bytes per pixel of the decoded
     * format, from the file or container header; 3 bytes per pixel when the
     * header does not say) larger than this is refused with VG_ERANGE
     * before anything is decoded. 0: VG_SOURCE_DEFAULT_MAX_DECODED. */
    uint64_t max_decoded_bytes;
    /* 1: frame.tensor is compact, the scaled 8-bit picture (see vg_frame)
     * instead of the floats, about a quarter of the bytes per pooled
     * tensor; vg_tensor_expand makes the floats at inference time.
     * 0 (default): frame.tensor holds the floats. */
    int compact_tensor;
    /* 1: a file that can seek (not a network stream, pipe or still image)
     * starts again from its first frame at its end, for ever: frame
     * indexes and times keep increasing (the first frame of a new pass
     * comes one frame step after the last of the previous one), and
     * vg_source_read never returns VG_EOF. A pass that ends truncated or
     * gives no frame at all ends the source as without loop. A looping
     * file stands for a camera, so it is also played at its frame rate:
     * vg_source_read waits (polling the stop flag) until a frame's time has
     * come on the monotonic clock, and a reader more than a second late
     * starts the schedule again from the frame it is at (never a burst).
     * Default 0; taken by vg_source_configure too. */
    int loop;
} vg_source_opts;

typedef struct vg_source_info {
    int width, height;
    double fps; /* frames per second, always in (0, VG_SOURCE_MAX_FPS] for
                   videos (see fps_substituted) */
    int64_t frame_count; /* -1 when unknown (live streams) */
    double duration_s;   /* -1 when unknown */
    char codec[32];      /* decoder name */
    char format[32];     /* container name */
    int is_image;        /* a single still picture */
    int is_live;         /* network stream */
    int is_pipe;         /* FIFO, pipe or character device: read once */
    double declared_fps; /* the rate the input states (0 when none) */
    /* The declared rate was missing or implausible (<= 0 or over
     * VG_SOURCE_MAX_FPS): fps is a fallback (logged once at warn level). */
    int fps_substituted;
    /* Frame times do not all come from the input's timestamps: they were
     * missing, did not advance or went backwards (from that frame on, times
     * advance by 1 / fps; set while reading, logged once at warn level), or
     * they follow an implausible declared rate (set at open: every frame's
     * time is index / fps). */
    int times_synthesised;
} vg_source_info;

void vg_source_opts_default(vg_source_opts *o);

/* Opens url and its best video stream. Sources are local paths (or file:),
 * including FIFOs, pipes and /dev/stdin, image files (png, jpg, ...) and
 * network URLs; for network URLs and for inputs that cannot seek,
 * opts.timeout_ms bounds every wait for data. Opening a FIFO that has no
 * writer does not block beyond that.
 * Pictures are pre-processed as opts.tensor says: letterbox (aspect kept,
 * centred, padded with pad_value; see vg_letterbox) or stretch, colour order,
 * value = (pixel - mean[c]) * scale[c], float32 NCHW or NHWC; with
 * opts.compact_tensor the frames stop before the floats (vg_frame,
 * vg_tensor_expand). Fails with a
 * one-line message in ctx naming url and the cause: VG_ENOENT (missing),
 * VG_EFORMAT (empty, not a media file, no video stream), VG_ECODEC (no
 * decoder), VG_ERANGE (picture too small or too large, in sides or in
 * decoded bytes), VG_ETIMEOUT / VG_ENET (network, or no data on a pipe),
 * VG_EINTR (a stop was requested on ctx), VG_ENOMEM. On failure *out is NULL
 * and nothing is held. Caller closes. */
int vg_source_open(vg_context *ctx, const char *url, const vg_source_opts *o,
                   vg_source **out);

void vg_source_get_info(const vg_source *src, vg_source_info *out);

/* Decodes the next frame into *f (the caller releases it). Returns 0,
 * VG_EOF at the end, VG_ETRUNCATED when the input ends early or is corrupt
 * (frames before it were delivered), or another negative code. Blocks while
 * all pool buffers are out. On failure *f is cleared.
 * VG_ETRUNCATED is returned (once the decoder is drained) when the demuxer
 * stopped on an error other than end of file, when the decoder rejected the
 * last packets before the end, or when a file said it holds N frames
 * (container count, else duration * fps) and fewer than N - max(2, N / 50)
 * came out. Network streams report VG_ENET / VG_ETIMEOUT instead, pipes
 * VG_ETIMEOUT when no data came within opts.timeout_ms. Once a stop is
 * requested on ctx it returns VG_EINTR (within ~100 ms when it waits), and
 * keeps returning it.
 * A picture whose size changes mid-stream is scaled to the size reported at
 * open, so that frame geometry stays fixed. */
int vg_source_read(vg_source *src, vg_frame *f);

/* The url the source was opened with (owned by the source). */
const char *vg_source_url(const vg_source *src);

/* Changes the pre-processing of an open source before its first frame is
 * read: tensor spec, compact_tensor, keep_image, pool_size and
 * image_pool_size of o are
 * taken (the other fields are not: the input stays open as it is). This is
 * how an input is opened once, probed (vg_source_get_info) for the plan,
 * and then fed to the model it was planned for. Returns 0, VG_EBUSY after
 * the first read, VG_EINVAL / VG_ENOMEM (the source then has no pools and
 * must be closed). Not thread-safe with reads of the same source. */
int vg_source_configure(vg_source *src, const vg_source_opts *o);

/* Whether url names a network stream (rtsp://, http://, udp://, ...: any
 * scheme but file:) rather than a local path: 1 or 0. The same test
 * vg_source_open uses to set vg_source_info.is_live. Never blocks. */
int vg_source_is_network_url(const char *url);

/* Whether url can be read only once (a FIFO, a pipe, a character device
 * such as /dev/stdin): 1 or 0. A program that would open an input twice
 * (once to plan, once to run) must not probe such an input. Never blocks. */
int vg_source_is_read_once(const char *url);

/* Checks an input before it is opened, without touching the network: a
 * network URL needs a known scheme (rtsp, rtsps, http, https, udp, rtp,
 * tcp, srt, rtmp), a host and no spaces or control characters; a local
 * path must exist and not be a directory ("-" is standard input). Returns
 * 0, VG_EINVAL or VG_ENOENT with a one-line message naming url in ctx. */
int vg_source_check_url(vg_context *ctx, const char *url);

/* The source's frame pools (for telemetry): tensor and picture, either NULL
 * when not used. Owned by the source; valid until vg_source_close. */
void vg_source_pools(const vg_source *src, vg_pool **tensor, vg_pool **image);

/* Bytes of one buffer of the tensor pool of a source of src_w x src_h
 * pictures opened with tensor spec and compact_tensor = compact: the floats
 * (3 x width x height x 4) or the compact picture (its rows padded to 64
 * bytes). The source sizes its pool with this function, so a planner that
 * calls it predicts the runtime. 0 when spec is NULL or has no tensor, or a
 * size is not positive. Thread-safe. */
size_t vg_source_tensor_bytes(const vg_tensor_spec *spec, int src_w, int src_h,
                              int compact);

/* Message of the last failure of this source ("" when none). */
const char *vg_source_errmsg(const vg_source *src);

/* Sets how much FFmpeg itself prints on stderr (its warnings about corrupt
 * packets and the like): VG_LOG_QUIET, VG_LOG_ERROR, VG_LOG_WARN, ...
 * This is FFmpeg's process-wide setting, so it belongs to the program (the
 * CLI calls it once at start), never to a library component. */
void vg_source_set_ffmpeg_log_level(int vg_level);

/* Closes the source and sets *src to NULL; accepts NULL. Frames still out stay
 * valid until released. */
void vg_source_close(vg_source **src);

#endif
