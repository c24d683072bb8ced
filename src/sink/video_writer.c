/*
 * Annotated video output: RGB24 -> yuv420p (swscale) -> H.264 (libx264) or
 * MPEG-4 part 2 -> MP4 (libavformat).
 */
#include "vigil/video_writer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

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
    av_strerror(e, buf, n);
    return buf;
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
        if (ret < 0)
            return set_err(w, VG_EIO, "%s: write failed: %s", w->path,
                           averr(ret, eb, sizeof(eb)));
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
    if (!path || !path[0] || width <= 0 || height <= 0 || width > 16384 ||
        height > 16384 || (width | height) & 1 || !(fps > 0.0) ||
        fps > 1000.0 || opts.crf < 0 || opts.crf > 51 || opts.bitrate < 0 ||
        opts.threads < 0 || opts.gop < 0)
        return vg_fail(ctx, VG_EINVAL,
                       "%s: invalid video %dx%d at %g fps (sizes must be "
                       "even) or options",
                       path ? path : "(null)", width, height, fps);
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
    ret = avio_open(&w->fmt->pb, path, AVIO_FLAG_WRITE);
    if (ret < 0) {
        rc = vg_fail(ctx, VG_EIO, "%s: cannot create: %s", path,
                     averr(ret, eb, sizeof(eb)));
        goto fail;
    }
    if (opts.fragmented) {
        /* each fragment reaches the file when it is complete */
        av_dict_set(&mux, "movflags", "frag_keyframe+empty_moov", 0);
        w->fmt->flags |= AVFMT_FLAG_FLUSH_PACKETS;
    }
    ret = avformat_write_header(w->fmt, &mux);
    av_dict_free(&mux);
    if (ret < 0) {
        rc = vg_fail(ctx, VG_EIO, "%s: cannot write header: %s", path,
                     averr(ret, eb, sizeof(eb)));
        avio_closep(&w->fmt->pb);
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

int vg_video_writer_write(vg_video_writer *w, const uint8_t *rgb, int stride,
                          int64_t frame_index)
{
    const uint8_t *src[4] = {rgb, NULL, NULL, NULL};
    int src_stride[4] = {stride, 0, 0, 0};
    char eb[128];
    int ret;

    if (!w)
        return VG_EINVAL;
    if (w->closed)
        return set_err(w, VG_ECLOSED, "%s: writer is closed", w->path);
    if (!rgb || stride < w->width * 3)
        return set_err(w, VG_EINVAL, "%s: invalid picture (stride %d)", w->path,
                       stride);
    if (frame_index < 0)
        frame_index = w->last_index + 1;
    if (frame_index <= w->last_index)
        return set_err(
            w, VG_EINVAL, "%s: frame index %lld after %lld: not increasing",
            w->path, (long long)frame_index, (long long)w->last_index);
    ret = av_frame_make_writable(w->frame);
    if (ret < 0)
        return set_err(w, VG_ENOMEM, "%s: frame: %s", w->path,
                       averr(ret, eb, sizeof(eb)));
    sws_scale(w->sws, src, src_stride, 0, w->height, w->frame->data,
              w->frame->linesize);
    w->frame->pts = frame_index;
    w->last_index = frame_index;
    w->stats.frames++;
    return encode(w, w->frame);
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
        avio_closep(&w->fmt->pb);
        unlink(w->path);
        return 0;
    }
    rc = encode(w, NULL);
    ret = av_write_trailer(w->fmt);
    if (ret < 0 && rc == 0)
        rc = set_err(w, VG_EIO, "%s: cannot write trailer: %s", w->path,
                     averr(ret, eb, sizeof(eb)));
    ret = avio_closep(&w->fmt->pb);
    if (ret < 0 && rc == 0)
        rc = set_err(w, VG_EIO, "%s: close failed: %s", w->path,
                     averr(ret, eb, sizeof(eb)));
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
    if (w->fmt) {
        if (w->fmt->pb)
            avio_closep(&w->fmt->pb);
        avformat_free_context(w->fmt);
    }
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
