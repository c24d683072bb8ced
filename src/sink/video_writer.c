/*
 * Annotated video output: RGB24 -> yuv420p (swscale) -> H.264 (libx264) or
 * MPEG-4 part 2 -> MP4 (libavformat).
 */
#include "vigil/video_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "vigil/fsutil.h"
#include "vigil/residency.h" /* vg_format_bytes */

#define MIN_FPS 1.0
#define MAX_FPS 240.0
#define IO_BUF_SIZE VG_VIDEO_WRITER_IO_BYTES
#define CHECK_EVERY_FRAMES 8          /* free-space check period... */
#define CHECK_EVERY_BYTES (256 << 10) /* ...or after this much output */

struct vg_video_writer {
    vg_context *ctx;
    char *path;
    int width, height;
    AVFormatContext *fmt;
    AVStream *st;
    AVCodecContext *enc;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    int fd;         /* the file, opened O_NOFOLLOW; -1 when closed */
    int io_errno;   /* errno of the last failed write to fd */
    int64_t io_pos; /* bytes written so far (end of file) */
    uint64_t min_free;
    char dir[1024]; /* directory of path, for statvfs */
    uint64_t frames_at_check, bytes_at_check;
    int stopped; /* for lack of space: writes return VG_ENOSPC */
    int header_written;
    int closed;
    int64_t last_index;
    vg_video_writer_stats stats;
    char codec_name[32];
    char errmsg[256];
};

void vg_video_writer_opts_default(vg_video_writer_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->crf = 23;
    snprintf(o->preset, sizeof(o->preset), "superfast");
    o->threads = 2;
    o->fragmented = 1;
    o->frag_ms = 1000;
    o->min_free_bytes = 64ull << 20;
}

__attribute__((format(printf, 3, 4))) static int
set_err(vg_video_writer *w, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errmsg, sizeof(w->errmsg), fmt, ap);
    va_end(ap);
    vg_log(w->ctx, VG_LOG_DEBUG, "%s", w->errmsg);
    return code;
}

static const char *averr(int e, char *buf, size_t n)
{
    if (av_strerror(e, buf, n) < 0 || !buf[0])
        snprintf(buf, n, "error %d", e);
    return buf;
}

/* ---- the file: our own descriptor under an AVIOContext ------------------*/

static int io_write(void *opaque, uint8_t *buf, int size)
{
    vg_video_writer *w = opaque;
    int left = size;

    while (left > 0) {
        ssize_t k = write(w->fd, buf, (size_t)left);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            w->io_errno = k < 0 ? errno : ENOSPC;
            return AVERROR(w->io_errno);
        }
        buf += k;
        left -= (int)k;
        w->io_pos += k;
    }
    return size;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence)
{
    vg_video_writer *w = opaque;
    struct stat sb;
    off_t r;

    if (whence & AVSEEK_SIZE)
        return fstat(w->fd, &sb) == 0 ? (int64_t)sb.st_size : AVERROR(errno);
    r = lseek(w->fd, (off_t)offset, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : (int64_t)r;
}

static int open_file(vg_video_writer *w)
{
    uint8_t *buf;
    int rc =
        vg_open_output(w->ctx, w->path, O_WRONLY | O_CREAT | O_TRUNC, &w->fd);
    if (rc < 0)
        return rc;
    buf = av_malloc(IO_BUF_SIZE);
    w->fmt->pb = buf ? avio_alloc_context(buf, IO_BUF_SIZE, 1, w, NULL,
                                          io_write, io_seek)
                     : NULL;
    if (!w->fmt->pb) {
        av_free(buf);
        close(w->fd);
        w->fd = -1;
        unlink(w->path);
        return vg_fail(w->ctx, VG_ENOMEM, "%s: out of memory", w->path);
    }
    return 0;
}

/* Flushes and frees the AVIOContext and closes the descriptor. Returns 0 or
 * the errno of a failed write or close. */
static int close_file(vg_video_writer *w)
{
    int e = 0;

    if (w->fmt && w->fmt->pb) {
        avio_flush(w->fmt->pb);
        av_freep(&w->fmt->pb->buffer);
        avio_context_free(&w->fmt->pb);
    }
    if (w->fd >= 0) {
        if (close(w->fd) != 0)
            e = errno;
        w->fd = -1;
    }
    if (w->io_errno)
        e = w->io_errno;
    return e;
}

/* The cause of a failed libav* write: our descriptor's errno when it has
 * one, else libav*'s message. */
static const char *write_cause(vg_video_writer *w, int ret, char *buf, size_t n)
{
    if (w->io_errno) {
        snprintf(buf, n, "%s", strerror(w->io_errno));
        return buf;
    }
    return averr(ret, buf, n);
}

/* Sends frame (NULL: drain) and writes every packet the encoder returns. */
static int encode(vg_video_writer *w, AVFrame *frame)
{
    char eb[128];
    int ret = avcodec_send_frame(w->enc, frame);

    if (ret < 0)
        return set_err(w, VG_EIO, "%s: encoding failed: %s", w->path,
                       averr(ret, eb, sizeof(eb)));
    for (;;) {
        ret = avcodec_receive_packet(w->enc, w->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return set_err(w, VG_EIO, "%s: encoding failed: %s", w->path,
                           averr(ret, eb, sizeof(eb)));
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        w->stats.packets++;
        w->stats.bytes += (uint64_t)w->pkt->size;
        ret = av_interleaved_write_frame(w->fmt, w->pkt); /* unrefs pkt */
        if (ret >= 0 && w->io_errno == 0)
            continue;
        if (vg_errno_is_full(w->io_errno))
            return set_err(w, VG_ENOSPC, "%s: write failed: %s", w->path,
                           strerror(w->io_errno));
        return set_err(w, VG_EIO, "%s: write failed: %s", w->path,
                       write_cause(w, ret, eb, sizeof(eb)));
    }
}

static const AVCodec *pick_encoder(const vg_video_writer_opts *o)
{
    const AVCodec *c;
    if (o->encoder[0])
        return avcodec_find_encoder_by_name(o->encoder);
    c = avcodec_find_encoder_by_name("libx264");
    return c ? c : avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

int vg_video_writer_open(vg_context *ctx, const char *path, int width,
                         int height, double fps, const vg_video_writer_opts *o,
                         vg_video_writer **out)
{
    vg_video_writer_opts opts;
    vg_video_writer *w = NULL;
    const AVCodec *codec;
    AVDictionary *mux = NULL;
    AVRational rate;
    char eb[128];
    int ret, rc;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "vg_video_writer_open: out is NULL");
    *out = NULL;
    vg_video_writer_opts_default(&opts);
    if (o)
        opts = *o;
    if (!path || !path[0])
        return vg_fail(ctx, VG_EINVAL, "vg_video_writer_open: no path");
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
        return vg_fail(ctx, VG_EINVAL,
                       "%s: invalid video size %dx%d (1..16384 each)", path,
                       width, height);
    if ((width | height) & 1)
        return vg_fail(ctx, VG_EINVAL,
                       "%s: video size %dx%d is odd (yuv420p needs even "
                       "sizes)",
                       path, width, height);
    if (opts.crf < 0 || opts.crf > 51 || opts.bitrate < 0 || opts.threads < 0 ||
        opts.gop < 0 || opts.frag_ms < 0)
        return vg_fail(ctx, VG_EINVAL,
                       "%s: invalid video options (crf %d, bitrate %lld, "
                       "threads %d, gop %d, frag_ms %d)",
                       path, opts.crf, (long long)opts.bitrate, opts.threads,
                       opts.gop, opts.frag_ms);
    if (!(fps >= MIN_FPS && fps <= MAX_FPS)) {
        double in = fps;
        /* unknown (not a number, <= 0): the common 25 */
        fps = !(fps > 0.0) || isinf(fps) ? 25.0
              : fps > MAX_FPS            ? MAX_FPS
                                         : MIN_FPS;
        vg_log(ctx, VG_LOG_WARN,
               "%s: input frame rate %g fps is outside %g..%g; the video is "
               "written at %g fps",
               path, in, MIN_FPS, MAX_FPS, fps);
    }
    codec = pick_encoder(&opts);
    if (!codec)
        return vg_fail(ctx, VG_ECODEC, "%s: encoder %s not available", path,
                       opts.encoder[0] ? opts.encoder : "libx264 or mpeg4");
    w = vg_calloc(ctx, 1, sizeof(*w));
    if (!w || !(w->path = vg_strdup(ctx, path))) {
        vg_free(ctx, w);
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    }
    w->ctx = ctx;
    w->width = width;
    w->height = height;
    w->last_index = -1;
    w->fd = -1;
    w->min_free = opts.min_free_bytes;
    w->stats.fps = fps;
    {
        const char *slash = strrchr(path, '/');
        if (!slash)
            snprintf(w->dir, sizeof(w->dir), ".");
        else
            snprintf(w->dir, sizeof(w->dir), "%.*s",
                     slash == path ? 1 : (int)(slash - path), path);
    }
    w->closed = 1; /* until the file is open: destroy must not finalise */
    snprintf(w->codec_name, sizeof(w->codec_name), "%s", codec->name);

    ret = avformat_alloc_output_context2(&w->fmt, NULL, "mp4", path);
    if (ret < 0 || !w->fmt) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: cannot make MP4 muxer: %s", path,
                     averr(ret, eb, sizeof(eb)));
        goto fail;
    }
    w->st = avformat_new_stream(w->fmt, NULL);
    w->enc = avcodec_alloc_context3(codec);
    w->frame = av_frame_alloc();
    w->pkt = av_packet_alloc();
    if (!w->st || !w->enc || !w->frame || !w->pkt) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    rate = av_d2q(fps, 1001000);
    w->enc->width = width;
    w->enc->height = height;
    w->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    w->enc->framerate = rate;
    w->enc->time_base = av_inv_q(rate);
    w->enc->gop_size = opts.gop > 0 ? opts.gop : (int)lround(2.0 * fps);
    w->enc->thread_count = opts.threads;
    w->enc->color_range = AVCOL_RANGE_MPEG;
    w->enc->colorspace = AVCOL_SPC_SMPTE170M;
    w->enc->color_primaries = AVCOL_PRI_SMPTE170M;
    w->enc->color_trc = AVCOL_TRC_SMPTE170M;
    if (opts.bitrate > 0)
        w->enc->bit_rate = opts.bitrate;
    if (strcmp(codec->name, "libx264") == 0) {
        if (opts.preset[0])
            av_opt_set(w->enc->priv_data, "preset", opts.preset, 0);
        if (opts.bitrate == 0)
            av_opt_set_double(w->enc->priv_data, "crf", opts.crf, 0);
    } else if (opts.bitrate == 0) {
        /* constant quantiser: crf 0..51 onto qscale 2..15 */
        w->enc->flags |= AV_CODEC_FLAG_QSCALE;
        w->enc->global_quality = FF_QP2LAMBDA * (2 + opts.crf / 4);
    }
    if (w->fmt->oformat->flags & AVFMT_GLOBALHEADER)
        w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ret = avcodec_open2(w->enc, codec, NULL);
    if (ret < 0) {
        rc = vg_fail(ctx, VG_ECODEC, "%s: cannot open encoder %s: %s", path,
                     codec->name, averr(ret, eb, sizeof(eb)));
        goto fail;
    }
    ret = avcodec_parameters_from_context(w->st->codecpar, w->enc);
    if (ret < 0) {
        rc =
            vg_fail(ctx, VG_ENOMEM, "%s: %s", path, averr(ret, eb, sizeof(eb)));
        goto fail;
    }
    w->st->time_base = w->enc->time_base;
    w->st->avg_frame_rate = rate;
    w->frame->format = AV_PIX_FMT_YUV420P;
    w->frame->width = width;
    w->frame->height = height;
    ret = av_frame_get_buffer(w->frame, 0);
    if (ret < 0) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: frame buffer: %s", path,
                     averr(ret, eb, sizeof(eb)));
        goto fail;
    }
    w->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height,
                            AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
    if (!w->sws) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: cannot make colour converter", path);
        goto fail;
    }
    if ((rc = open_file(w)) < 0)
        goto fail;
    if (opts.fragmented) {
        /* each fragment reaches the file when it is complete, at the
         * latest frag_ms after its first frame */
        av_dict_set(&mux, "movflags",
                    "frag_keyframe+empty_moov+default_base_moof", 0);
        if (opts.frag_ms > 0)
            av_dict_set_int(&mux, "frag_duration", (int64_t)opts.frag_ms * 1000,
                            0);
        w->fmt->flags |= AVFMT_FLAG_FLUSH_PACKETS;
    }
    ret = avformat_write_header(w->fmt, &mux);
    av_dict_free(&mux);
    if (ret < 0 || w->io_errno) {
        rc = vg_fail(ctx, vg_errno_is_full(w->io_errno) ? VG_ENOSPC : VG_EIO,
                     "%s: cannot write header: %s", path,
                     write_cause(w, ret, eb, sizeof(eb)));
        close_file(w);
        unlink(path);
        goto fail;
    }
    avio_flush(w->fmt->pb);
    w->header_written = 1;
    w->closed = 0;
    *out = w;
    return 0;
fail:
    vg_video_writer_destroy(&w);
    return rc;
}

/* Finalises what the disk allows and stops: later writes return VG_ENOSPC
 * at once. write_failed: a write already failed with ENOSPC. */
static int stop_for_space(vg_video_writer *w, uint64_t free_bytes,
                          int write_failed)
{
    char have[32], need[32];

    if (write_failed && vg_free_bytes(w->dir, &free_bytes) != 0)
        free_bytes = 0;
    w->stopped = 1;
    w->stats.stopped = 1;
    w->stats.free_bytes_at_stop = free_bytes;
    vg_video_writer_close(w);
    vg_format_bytes(free_bytes, have, sizeof(have));
    vg_format_bytes(w->min_free, need, sizeof(need));
    if (write_failed)
        return set_err(w, VG_ENOSPC,
                       "%s: video stopped after %llu frames: disk full (%s "
                       "left)",
                       w->path, (unsigned long long)w->stats.frames, have);
    return set_err(w, VG_ENOSPC,
                   "%s: video stopped after %llu frames: %s left on the "
                   "device, below the %s kept free for events",
                   w->path, (unsigned long long)w->stats.frames, have, need);
}

/* Every CHECK_EVERY_FRAMES frames or CHECK_EVERY_BYTES of output: stops
 * when the free space is below min_free. */
static int check_space(vg_video_writer *w)
{
    uint64_t free_bytes;

    if (w->min_free == 0 ||
        (w->stats.frames - w->frames_at_check < CHECK_EVERY_FRAMES &&
         w->stats.bytes - w->bytes_at_check < CHECK_EVERY_BYTES &&
         w->stats.frames > 0))
        return 0;
    w->frames_at_check = w->stats.frames;
    w->bytes_at_check = w->stats.bytes;
    if (vg_free_bytes(w->dir, &free_bytes) != 0)
        return 0; /* cannot tell: the writes will say */
    return free_bytes < w->min_free ? stop_for_space(w, free_bytes, 0) : 0;
}

/* The checks every write makes before touching the frame; on success the
 * frame is writable and *frame_index the index it will carry. */
static int write_begin(vg_video_writer *w, int64_t *frame_index)
{
    char eb[128];
    int ret;
    if (w->stopped)
        return VG_ENOSPC; /* said once, when it stopped */
    if (w->closed)
        return set_err(w, VG_ECLOSED, "%s: writer is closed", w->path);
    if (*frame_index < 0)
        *frame_index = w->last_index + 1;
    if (*frame_index <= w->last_index)
        return set_err(
            w, VG_EINVAL, "%s: frame index %lld after %lld: not increasing",
            w->path, (long long)*frame_index, (long long)w->last_index);
    ret = av_frame_make_writable(w->frame);
    if (ret < 0)
        return set_err(w, VG_ENOMEM, "%s: frame: %s", w->path,
                       averr(ret, eb, sizeof(eb)));
    return 0;
}

/* Encodes the filled frame as frame_index. */
static int write_end(vg_video_writer *w, int64_t frame_index)
{
    int ret;
    if ((ret = check_space(w)) < 0)
        return ret;
    w->frame->pts = frame_index;
    w->last_index = frame_index;
    w->stats.frames++;
    ret = encode(w, w->frame);
    if (ret == VG_ENOSPC)
        return stop_for_space(w, 0, 1);
    return ret;
}

int vg_video_writer_write(vg_video_writer *w, const uint8_t *rgb, int stride,
                          int64_t frame_index)
{
    const uint8_t *src[4] = {rgb, NULL, NULL, NULL};
    int src_stride[4] = {stride, 0, 0, 0};
    int rc;

    if (!w)
        return VG_EINVAL;
    if (!w->stopped && !w->closed && (!rgb || stride < w->width * 3))
        return set_err(w, VG_EINVAL, "%s: invalid picture (stride %d)", w->path,
                       stride);
    if ((rc = write_begin(w, &frame_index)) < 0)
        return rc;
    sws_scale(w->sws, src, src_stride, 0, w->height, w->frame->data,
              w->frame->linesize);
    return write_end(w, frame_index);
}

int vg_video_writer_write_yuv420(vg_video_writer *w,
                                 const uint8_t *const planes[3],
                                 const int strides[3], int64_t frame_index)
{
    int rc;

    if (!w)
        return VG_EINVAL;
    if (!w->stopped && !w->closed &&
        (!planes || !strides || !planes[0] || !planes[1] || !planes[2] ||
         strides[0] < w->width || strides[1] < w->width / 2 ||
         strides[2] < w->width / 2))
        return set_err(w, VG_EINVAL, "%s: invalid YUV 4:2:0 picture", w->path);
    if ((rc = write_begin(w, &frame_index)) < 0)
        return rc;
    for (int k = 0; k < 3; k++) {
        int rows = k == 0 ? w->height : w->height / 2;
        int bytes = k == 0 ? w->width : w->width / 2;
        av_image_copy_plane(w->frame->data[k], w->frame->linesize[k], planes[k],
                            strides[k], bytes, rows);
    }
    return write_end(w, frame_index);
}

int vg_video_writer_close(vg_video_writer *w)
{
    char eb[128];
    int rc = 0, ret;

    if (!w || w->closed)
        return 0;
    w->closed = 1;
    if (w->stats.frames == 0) {
        /* an MP4 without samples does not play: leave no file */
        close_file(w);
        unlink(w->path);
        return 0;
    }
    rc = w->io_errno ? 0 : encode(w, NULL);
    if (w->io_errno == 0) {
        ret = av_write_trailer(w->fmt);
        if ((ret < 0 || w->io_errno) && rc == 0)
            rc = set_err(w, VG_EIO, "%s: cannot write trailer: %s", w->path,
                         write_cause(w, ret, eb, sizeof(eb)));
    }
    ret = close_file(w);
    if (ret != 0 && rc == 0)
        rc = set_err(w, vg_errno_is_full(ret) ? VG_ENOSPC : VG_EIO,
                     "%s: close failed: %s", w->path, strerror(ret));
    return rc;
}

void vg_video_writer_destroy(vg_video_writer **wp)
{
    vg_video_writer *w;

    if (!wp || !*wp)
        return;
    w = *wp;
    *wp = NULL;
    vg_video_writer_close(w);
    sws_freeContext(w->sws);
    av_packet_free(&w->pkt);
    av_frame_free(&w->frame);
    avcodec_free_context(&w->enc);
    close_file(w);
    if (w->fmt)
        avformat_free_context(w->fmt);
    vg_free(w->ctx, w->path);
    vg_free(w->ctx, w);
}

const char *vg_video_writer_codec(const vg_video_writer *w)
{
    return w ? w->codec_name : "";
}

void vg_video_writer_stats_get(const vg_video_writer *w,
                               vg_video_writer_stats *out)
{
    if (!out)
        return;
    if (!w)
        memset(out, 0, sizeof(*out));
    else
        *out = w->stats;
}

const char *vg_video_writer_errmsg(const vg_video_writer *w)
{
    return w ? w->errmsg : "";
}
