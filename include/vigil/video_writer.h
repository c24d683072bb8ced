/*
 * vg_video_writer: annotated output video. RGB24 (or YUV 4:2:0) pictures in,
 * H.264 (libx264, yuv420p) in an MP4 file out; when libx264 is missing from
 * libavcodec it falls back to MPEG-4 part 2 (see vg_video_writer_codec).
 *
 *   vg_video_writer_opts o;
 *   vg_video_writer_opts_default(&o);        // superfast, crf 23, 2 threads
 *   vg_video_writer *vw;
 *   if (vg_video_writer_open(ctx, "out/annotated.mp4", w, h, 25.0, &o,
 *                            &vw) < 0) { ... }
 *   while (...) vg_video_writer_write(vw, rgb, stride, frame.index);
 *   vg_video_writer_close(vw);               // finalises; idempotent
 *   vg_video_writer_destroy(&vw);            // closes when not yet closed
 *
 * Finalising: close drains the encoder and writes the MP4 trailer; it is
 * safe to call after a normal end, from a SIGINT/SIGTERM path that polled a
 * flag, after a write failed, or twice. A writer closed with no frame
 * written removes its file (an MP4 without samples is not playable). By
 * default (opts.fragmented) the file is fragmented MP4 with a fragment at
 * least every frag_ms, which stays playable up to the last fragment even
 * when the process dies without closing (kill -9, power loss).
 *
 * Disk space: the writer checks the free space of the file's file system
 * every few frames (and when a write fails for lack of space). Below
 * opts.min_free_bytes, or on ENOSPC, it stops: the file is finalised as far
 * as the disk allows, write returns VG_ENOSPC once with a message saying how
 * much space was left, then VG_ENOSPC quietly. The space is left to the
 * outputs that matter more (the events).
 *
 * Links: the file is created with O_NOFOLLOW; a symbolic link at path is
 * refused, never written through.
 *
 * Thread-safety: one handle is used by one thread at a time. No heap
 * allocation in vigil's code per frame (one AVFrame, one AVPacket and the
 * colour converter are made at open).
 */
#ifndef VIGIL_VIDEO_WRITER_H
#define VIGIL_VIDEO_WRITER_H

#include <stdint.h>

#include "vigil/context.h"

typedef struct vg_video_writer vg_video_writer;

/* The file's write buffer, taken at open: a whole fragment (1 s of video)
 * goes to the file in one write(2), so a kill leaves no fragment cut in
 * two. Part of the writer's memory beside the encoder's. */
#define VG_VIDEO_WRITER_IO_BYTES (2 << 20)

typedef struct vg_video_writer_opts {
    int crf;         /* libx264 constant rate factor 0..51 (default 23);
                        used when bitrate is 0 */
    int64_t bitrate; /* bits per second; 0 (default): crf */
    char preset[16]; /* libx264 preset (default "superfast") */
    int threads;     /* encoder threads; 0: codec's choice (default 2) */
    int gop;         /* frames between keyframes; 0: 2 x fps (default) */
    int fragmented;  /* 1 (default): fragmented MP4 (survives a crash);
                        0: one moov at the end */
    int frag_ms;     /* longest fragment, ms (default 1000) */
    uint64_t min_free_bytes; /* stop below this much free space (default
                                64 MiB); 0: only on ENOSPC */
    char encoder[32];        /* libavcodec encoder name; "" (default): libx264,
                                else mpeg4 */
} vg_video_writer_opts;

typedef struct vg_video_writer_stats {
    uint64_t frames;             /* frames sent to the encoder */
    uint64_t packets;            /* packets written to the file */
    uint64_t bytes;              /* bytes of those packets */
    int stopped;                 /* 1 when stopped for lack of disk space */
    uint64_t free_bytes_at_stop; /* free space seen when it stopped */
    double fps;                  /* the rate written (the input's, clamped) */
} vg_video_writer_stats;

void vg_video_writer_opts_default(vg_video_writer_opts *o);

/* Opens path for writing (replacing a file there) for width x height (both
 * even, as yuv420p needs) at fps frames per second. An fps outside 1..240
 * (or not a number) is clamped into that range with one warning. o may be
 * NULL. Returns 0, VG_EINVAL, VG_ECODEC (no usable encoder), VG_EIO (also a
 * symbolic link at path), VG_ENOSPC or VG_ENOMEM with a message in ctx
 * naming path and the cause; on failure *out is NULL and no file is left.
 * Caller destroys. */
int vg_video_writer_open(vg_context *ctx, const char *path, int width,
                         int height, double fps, const vg_video_writer_opts *o,
                         vg_video_writer **out);

/* Encodes one RGB24 picture of the open size (rows stride bytes apart; only
 * read) as the frame with index frame_index, shown at frame_index / fps
 * (gaps in the indices are kept as gaps in time). frame_index < 0 means the
 * one after the last. Returns 0, VG_EINVAL (indices not increasing, bad
 * arguments), VG_ECLOSED (after close), VG_ENOSPC (stopped for disk
 * space, see above) or VG_EIO (encoding or writing failed; the writer can
 * still be closed). The message is in vg_video_writer_errmsg (never empty
 * on failure). */
int vg_video_writer_write(vg_video_writer *w, const uint8_t *rgb, int stride,
                          int64_t frame_index);

/* The same for a picture already in YUV 4:2:0 (BT.601, limited range, the
 * file's own format): planes[0] is width x height luma, planes[1] and
 * planes[2] the (width / 2) x (height / 2) Cb and Cr, rows strides[k] bytes
 * apart; only read, copied into the encoder's frame (no colour
 * conversion). Same returns as vg_video_writer_write. */
int vg_video_writer_write_yuv420(vg_video_writer *w,
                                 const uint8_t *const planes[3],
                                 const int strides[3], int64_t frame_index);

/* Drains the encoder, writes the trailer and closes the file. Idempotent:
 * later calls return 0. Returns 0 or VG_EIO. w may be NULL. */
int vg_video_writer_close(vg_video_writer *w);

/* Closes when not yet closed, frees the handle and sets *w to NULL; accepts
 * NULL. */
void vg_video_writer_destroy(vg_video_writer **w);

/* Name of the encoder in use ("libx264", "mpeg4"). */
const char *vg_video_writer_codec(const vg_video_writer *w);

void vg_video_writer_stats_get(const vg_video_writer *w,
                               vg_video_writer_stats *out);

const char *vg_video_writer_errmsg(const vg_video_writer *w);

#endif
