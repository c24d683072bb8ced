/*
 * vg_source: FFmpeg demux + decode + swscale, pre-processing into pooled
 * tensors (or compact tensors: the scaled 8-bit picture, expanded later by
 * vg_tensor_expand; tensor.c holds the one normalisation step). Everything
 * the read path needs (packet, frame, scaler contexts, intermediate picture,
 * lookup tables, pools) is made at open; reading then takes buffers from the
 * pools and touches no heap in vigil's code.
 */
#include "vigil/source.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>

#include "io/source_internal.h"
#include "vigil/clock.h"
#include "vigil/sizing.h"

#define VG_SOURCE_ERRMSG_MAX 512

struct vg_source {
    vg_context *ctx;
    char *url;
    vg_source_opts opts;
    vg_source_info info;
    vgi_local_input *local; /* local path: opened once, read through it */

    AVFormatContext *fmt;
    AVCodecContext *dec;
    int stream_index;
    AVRational time_base;
    int64_t start_pts;
    AVPacket *pkt;
    AVFrame *frame;

    /* network deadline and stop requests, checked by the interrupt
     * callback */
    int64_t deadline_us; /* 0: none */
    int timed_out;
    int stopped;

    /* frame times: kept advancing when the timestamps do not */
    double frame_step;  /* 1 / info.fps */
    double last_time;   /* time_s of the latest frame */
    double time_offset; /* added to timestamp times after a stall */
    int times_from_fps; /* timestamps unusable: time = index / fps */

    /* scaler state: decoded picture -> tensor-sized / full-size RGB */
    struct SwsContext *sws_tensor;
    struct SwsContext *sws_image;
    int sws_w, sws_h, sws_fmt; /* source geometry the scalers were made for */
    /* intermediate scaled picture (float tensors only; compact tensors
     * are scaled straight into their pool buffer) */
    uint8_t *rgb_block;      /* raw allocation of the intermediate */
    uint8_t *rgb;            /* scaled picture, geo.stride bytes per row */
    vgi_tensor_geometry geo; /* where the picture goes in the tensor */
    vgi_tensor_lut lut;      /* (v - mean[c]) * scale[c] */
    int image_stride;

    vg_pool *tensor_pool;
    vg_pool *image_pool;

    int64_t next_index;
    int64_t pass_start; /* looping: index of the current pass's first frame */
    int64_t passes;     /* looping: passes started after the first */
    int64_t pace_t0_ns; /* looping: clock at the schedule's anchor frame */
    double pace_time0;  /* looping: that frame's time; pace_t0_ns 0: none */
    int demux_done;     /* flush packet sent */
    int demux_error;    /* demuxer stopped on an error other than EOF */
    int bad_tail;       /* the decoder rejected the latest packet(s) */
    int finished;       /* last code returned, sticky */
    int finish_code;
    char errmsg[VG_SOURCE_ERRMSG_MAX];
};

void vg_source_set_ffmpeg_log_level(int vg_level)
{
    int level;
    switch (vg_level) {
    case VG_LOG_QUIET:
        level = AV_LOG_QUIET;
        break;
    case VG_LOG_ERROR:
        level = AV_LOG_ERROR;
        break;
    case VG_LOG_WARN:
        level = AV_LOG_WARNING;
        break;
    case VG_LOG_INFO:
        level = AV_LOG_INFO;
        break;
    default:
        level = AV_LOG_DEBUG;
        break;
    }
    av_log_set_level(level);
}

void vg_source_opts_default(vg_source_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->tensor.layout = VG_LAYOUT_NCHW;
    o->tensor.channels = VG_CHANNELS_RGB;
    o->tensor.resize = VG_RESIZE_LETTERBOX;
    for (int c = 0; c < 3; c++)
        o->tensor.scale[c] = 1.0f;
    o->pool_size = 4;
    o->timeout_ms = 5000;
    o->max_width = 16384;
    o->max_height = 16384;
    o->max_decoded_bytes = VG_SOURCE_DEFAULT_MAX_DECODED;
}

/* ---- errors ---------------------------------------------------------------*/

static int src_fail(vg_source *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int src_fail(vg_source *s, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
    return code;
}

static int is_network_error(int averr)
{
    return averr == AVERROR(ECONNREFUSED) || averr == AVERROR(ECONNRESET) ||
           averr == AVERROR(EHOSTUNREACH) || averr == AVERROR(ENETUNREACH) ||
           averr == AVERROR(ENETDOWN) || averr == AVERROR(EPIPE) ||
           averr == AVERROR(ECONNABORTED) || averr == AVERROR(EIO) ||
           averr == AVERROR_HTTP_BAD_REQUEST ||
           averr == AVERROR_HTTP_UNAUTHORIZED ||
           averr == AVERROR_HTTP_FORBIDDEN || averr == AVERROR_HTTP_NOT_FOUND ||
           averr == AVERROR_HTTP_OTHER_4XX ||
           averr == AVERROR_HTTP_SERVER_ERROR ||
           averr == AVERROR_STREAM_NOT_FOUND;
}

/* Translates an FFmpeg error met while opening into a vg code. */
static int map_open_error(const vg_source *s, int averr)
{
    if (s->stopped || (s->local && vgi_local_stopped(s->local)))
        return VG_EINTR;
    if (s->timed_out || averr == AVERROR(ETIMEDOUT) || averr == AVERROR_EXIT ||
        (s->local && vgi_local_timed_out(s->local)))
        return VG_ETIMEOUT;
    if (averr == AVERROR(ENOMEM))
        return VG_ENOMEM;
    if (averr == AVERROR(ENOENT))
        return s->info.is_live ? VG_ENET : VG_ENOENT;
    if (averr == AVERROR_PROTOCOL_NOT_FOUND)
        return VG_ENOTSUP;
    if (averr == AVERROR_DECODER_NOT_FOUND)
        return VG_ECODEC;
    if (s->info.is_live && (is_network_error(averr) || averr == AVERROR_EOF))
        return VG_ENET;
    if (averr == AVERROR(EIO) || averr == AVERROR(EACCES))
        return VG_EIO;
    return VG_EFORMAT;
}

/* FFmpeg calls this while it waits (network I/O in slices of 100 ms at
 * most, and between the steps of probing and reading). */
static int interrupt_cb(void *opaque)
{
    vg_source *s = opaque;

    if (vg_context_stop_requested(s->ctx)) {
        s->stopped = 1;
        return 1;
    }
    if (s->deadline_us > 0 && av_gettime_relative() > s->deadline_us) {
        s->timed_out = 1;
        return 1;
    }
    return 0;
}

static void arm_deadline(vg_source *s)
{
    s->timed_out = 0;
    if (s->info.is_live && s->opts.timeout_ms > 0)
        s->deadline_us =
            av_gettime_relative() + (int64_t)s->opts.timeout_ms * 1000;
    else
        s->deadline_us = 0;
}

/* ---- url kinds --------------------------------------------------------- */

/* Returns the local path of url, or NULL for a network URL. */
static const char *local_path(const char *url)
{
    const char *colon = strstr(url, "://");

    if (strncmp(url, "file:", 5) == 0)
        return url + 5 + (strncmp(url + 5, "//", 2) == 0 ? 2 : 0);
    if (!colon)
        return url;
    for (const char *p = url; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))
            return url; /* not a scheme */
    return NULL;
}

static int check_dims(vg_source *s, int w, int h, const char *when)
{
    if (w <= 0 || h <= 0)
        return 0; /* not known yet */
    if (w > s->opts.max_width || h > s->opts.max_height)
        return src_fail(
            s, VG_ERANGE, "%s: picture %dx%d is larger than the limit %dx%d%s",
            s->url, w, h, s->opts.max_width, s->opts.max_height, when);
    if (w < VG_SOURCE_MIN_SIDE || h < VG_SOURCE_MIN_SIDE)
        return src_fail(s, VG_ERANGE,
                        "%s: picture %dx%d is smaller than the minimum %dx%d",
                        s->url, w, h, VG_SOURCE_MIN_SIDE, VG_SOURCE_MIN_SIDE);
    return 0;
}

static uint64_t decoded_limit(const vg_source *s)
{
    return s->opts.max_decoded_bytes > 0 ? s->opts.max_decoded_bytes
                                         : VG_SOURCE_DEFAULT_MAX_DECODED;
}

/* Bytes of one decoded w x h picture in pixel format pf (AV_PIX_FMT_NONE:
 * not known yet, counted as 3 bytes per pixel). */
static uint64_t decoded_bytes(int w, int h, int pf)
{
    int n = -1;

    if (pf != AV_PIX_FMT_NONE)
        n = av_image_get_buffer_size((enum AVPixelFormat)pf, w, h, 1);
    return n > 0 ? (uint64_t)n : (uint64_t)w * (uint64_t)h * 3;
}

/* Refuses a picture whose decoded size is over the limit; what names the
 * pixel layout ("RGB, 8 bits", "yuv420p"). */
static int check_decoded(vg_source *s, int w, int h, uint64_t bytes,
                         const char *what, const char *when)
{
    uint64_t limit = decoded_limit(s);

    if (w <= 0 || h <= 0 || bytes <= limit)
        return 0;
    return src_fail(s, VG_ERANGE,
                    "%s: picture %dx%d (%s) decodes to %.1f MiB, more than "
                    "the limit of %.1f MiB%s",
                    s->url, w, h, what, (double)bytes / (1024.0 * 1024.0),
                    (double)limit / (1024.0 * 1024.0), when);
}

/* Pixels a decoder may allocate: the size limits and the decoded-bytes
 * limit (at pf's size, 3 bytes per pixel when pf is not known). */
static int64_t max_pixels(const vg_source *s, int pf)
{
    int64_t by_side = (int64_t)s->opts.max_width * s->opts.max_height;
    uint64_t per = (decoded_bytes(64, 64, pf) + 64 * 64 - 1) / (64 * 64);
    int64_t by_bytes = (int64_t)(decoded_limit(s) / (per > 0 ? per : 1));

    return by_bytes < by_side ? (by_bytes > 0 ? by_bytes : 1) : by_side;
}

/* The code and message of a wait (of local_input) that did not end in data. */
static int wait_fail(vg_source *s, int rc, const char *when)
{
    if (rc == VG_EINTR)
        return src_fail(s, rc, "%s: stopped while %s", s->url, when);
    if (rc == VG_ETIMEOUT)
        return src_fail(s, rc, "%s: no data within %d ms while %s", s->url,
                        s->opts.timeout_ms, when);
    return src_fail(s, rc, "%s: read failed while %s: %s", s->url, when,
                    strerror(errno));
}

/* ---- open ---------------------------------------------------------------*/

static int validate_opts(vg_context *ctx, const char *url,
                         const vg_source_opts *o)
{
    const vg_tensor_spec *t = &o->tensor;

    if (o->pool_size == 0 || o->pool_size > 1024 || o->image_pool_size > 1024)
        return vg_fail(ctx, VG_EINVAL, "%s: pool_size %u out of 1..1024", url,
                       o->pool_size);
    if (o->max_width < VG_SOURCE_MIN_SIDE || o->max_height < VG_SOURCE_MIN_SIDE)
        return vg_fail(ctx, VG_EINVAL, "%s: max size %dx%d too small", url,
                       o->max_width, o->max_height);
    if (t->width == 0 && t->height == 0)
        return 0;
    if (t->width < 1 || t->height < 1 || t->width > 16384 || t->height > 16384)
        return vg_fail(ctx, VG_EINVAL, "%s: tensor size %dx%d out of range",
                       url, t->width, t->height);
    if ((t->layout != VG_LAYOUT_NCHW && t->layout != VG_LAYOUT_NHWC) ||
        (t->channels != VG_CHANNELS_RGB && t->channels != VG_CHANNELS_BGR) ||
        (t->resize != VG_RESIZE_LETTERBOX && t->resize != VG_RESIZE_STRETCH))
        return vg_fail(ctx, VG_EINVAL,
                       "%s: tensor spec has an unknown layout, channel order "
                       "or resize mode",
                       url);
    return 0;
}

static enum AVPixelFormat unjpeg_format(enum AVPixelFormat f, int *full_range)
{
    *full_range = 0;
    switch (f) {
    case AV_PIX_FMT_YUVJ420P:
        *full_range = 1;
        return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
        *full_range = 1;
        return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
        *full_range = 1;
        return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
        *full_range = 1;
        return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
        *full_range = 1;
        return AV_PIX_FMT_YUV411P;
    default:
        return f;
    }
}

static struct SwsContext *make_scaler(struct SwsContext *old, int sw, int sh,
                                      enum AVPixelFormat sf, int full_range,
                                      int dw, int dh, enum AVPixelFormat df)
{
    struct SwsContext *c;
    int *inv, *tab, src_range, dst_range, bri, con, sat;

    c = sws_getCachedContext(old, sw, sh, sf, dw, dh, df, SWS_BILINEAR, NULL,
                             NULL, NULL);
    if (!c)
        return NULL;
    if (full_range &&
        sws_getColorspaceDetails(c, &inv, &src_range, &tab, &dst_range, &bri,
                                 &con, &sat) >= 0)
        sws_setColorspaceDetails(c, inv, 1, tab, dst_range, bri, con, sat);
    return c;
}

/* (Re)creates the scalers for a decoded picture of w x h in format pf. */
static int setup_scalers(vg_source *s, int w, int h, int pf)
{
    enum AVPixelFormat tensor_fmt;
    enum AVPixelFormat sf;
    int full;

    if (s->sws_w == w && s->sws_h == h && s->sws_fmt == pf &&
        (s->sws_tensor || s->sws_image))
        return 0;
    sf = unjpeg_format((enum AVPixelFormat)pf, &full);
    if (s->tensor_pool) {
        tensor_fmt = s->opts.tensor.channels == VG_CHANNELS_BGR
                         ? AV_PIX_FMT_BGR24
                         : AV_PIX_FMT_RGB24;
        s->sws_tensor =
            make_scaler(s->sws_tensor, w, h, sf, full, s->geo.scaled_w,
                        s->geo.scaled_h, tensor_fmt);
        if (!s->sws_tensor)
            return src_fail(s, VG_ENOMEM,
                            "%s: cannot scale %dx%d %s to the tensor", s->url,
                            w, h, av_get_pix_fmt_name(pf));
    }
    if (s->image_pool) {
        s->sws_image = make_scaler(s->sws_image, w, h, sf, full, s->info.width,
                                   s->info.height, AV_PIX_FMT_RGB24);
        if (!s->sws_image)
            return src_fail(s, VG_ENOMEM, "%s: cannot convert %dx%d %s to RGB",
                            s->url, w, h, av_get_pix_fmt_name(pf));
    }
    s->sws_w = w;
    s->sws_h = h;
    s->sws_fmt = pf;
    return 0;
}

/* Letterbox geometry, lookup tables, intermediate picture and pools. */
static int setup_preprocess(vg_source *s)
{
    const vg_tensor_spec *t = &s->opts.tensor;
    int w = s->info.width, h = s->info.height;
    char name[64];
    int rc;

    if (t->width > 0) {
        rc = vgi_tensor_geometry_get(t, w, h, &s->geo);
        if (rc < 0)
            return src_fail(s, rc, "%s: no tensor geometry for %dx%d", s->url,
                            w, h);
        vgi_tensor_lut_make(t, &s->lut);
        if (!s->opts.compact_tensor) {
            s->rgb_block =
                vg_malloc(s->ctx, (size_t)s->geo.stride * s->geo.scaled_h +
                                      VGI_ROW_ALIGN);
            if (!s->rgb_block)
                return src_fail(s, VG_ENOMEM, "%s: out of memory", s->url);
            s->rgb = (uint8_t *)FFALIGN((uintptr_t)s->rgb_block, VGI_ROW_ALIGN);
        }
        snprintf(name, sizeof(name), "tensor %dx%d%s", t->width, t->height,
                 s->opts.compact_tensor ? " compact" : "");
        rc = vg_pool_create(
            s->ctx, name,
            vg_source_tensor_bytes(t, w, h, s->opts.compact_tensor),
            s->opts.pool_size, &s->tensor_pool);
        if (rc < 0)
            return src_fail(s, rc, "%s: cannot create the tensor pool", s->url);
    }
    if (s->opts.keep_image) {
        s->image_stride = FFALIGN(w * 3, VGI_ROW_ALIGN);
        snprintf(name, sizeof(name), "image %dx%d", w, h);
        rc = vg_pool_create(s->ctx, name, (size_t)s->image_stride * h,
                            s->opts.image_pool_size ? s->opts.image_pool_size
                                                    : s->opts.pool_size,
                            &s->image_pool);
        if (rc < 0)
            return src_fail(s, rc, "%s: cannot create the picture pool",
                            s->url);
    }
    return 0;
}

static int plausible_fps(double fps)
{
    return fps > 0.0 && fps <= VG_SOURCE_MAX_FPS;
}

static double q2fps(AVRational r)
{
    return (r.num > 0 && r.den > 0) ? av_q2d(r) : 0.0;
}

/* The frame rate: the one the input declares when plausible (in
 * (0, VG_SOURCE_MAX_FPS]), else the rate its timestamps give (frames over
 * the stream's duration, the demuxer's estimates), else
 * VG_SOURCE_FALLBACK_FPS. When the timestamps themselves run at an
 * implausible rate (an AVI declaring 1000000 fps counts its frames in
 * microseconds), frame times follow the chosen rate instead. Says so once. */
static void choose_fps(vg_source *s, AVStream *st)
{
    vg_source_info *in = &s->info;
    double guess = q2fps(av_guess_frame_rate(s->fmt, st, NULL));
    double avg = q2fps(st->avg_frame_rate), dur = 0.0, ts_rate = 0.0;
    double cand[3];
    const char *from = "";

    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        dur = (double)st->duration * av_q2d(st->time_base);
    if (st->nb_frames > 1 && dur > 0)
        ts_rate = (double)st->nb_frames / dur;
    in->fps = guess;
    in->declared_fps = guess;
    if (in->is_image)
        return;
    /* the container's own rate, when it is the implausible one */
    if (avg > VG_SOURCE_MAX_FPS && plausible_fps(guess)) {
        in->declared_fps = avg;
        from = "its other stated rate";
    }
    s->times_from_fps = ts_rate > VG_SOURCE_MAX_FPS;
    if (!plausible_fps(guess)) {
        cand[0] = ts_rate;
        cand[1] = avg;
        cand[2] = q2fps(st->r_frame_rate);
        in->fps = VG_SOURCE_FALLBACK_FPS;
        from = "the default";
        for (int i = 0; i < 3; i++)
            if (plausible_fps(cand[i])) {
                in->fps = cand[i];
                from = "from its timestamps";
                break;
            }
    }
    in->fps_substituted =
        !plausible_fps(guess) || !(avg <= 0 || plausible_fps(avg));
    in->times_synthesised = s->times_from_fps;
    if (!in->fps_substituted && !s->times_from_fps)
        return;
    if (in->declared_fps > 0.0)
        vg_log(s->ctx, VG_LOG_WARN,
               "%s: declared frame rate %.6g fps is not plausible (over %d); "
               "using %.3f fps (%s)%s",
               s->url, in->declared_fps, VG_SOURCE_MAX_FPS, in->fps, from,
               s->times_from_fps ? " and frame times from it" : "");
    else
        vg_log(s->ctx, VG_LOG_WARN,
               "%s: declares no frame rate; using %.3f fps (%s)%s", s->url,
               in->fps, from,
               s->times_from_fps ? " and frame times from it" : "");
}

static void fill_info(vg_source *s, AVStream *st)
{
    vg_source_info *in = &s->info;
    const char *fmtname = s->fmt->iformat->name;
    size_t n;

    in->width = st->codecpar->width;
    in->height = st->codecpar->height;
    in->duration_s = -1.0;
    if (s->fmt->duration != AV_NOPTS_VALUE && s->fmt->duration > 0)
        in->duration_s = (double)s->fmt->duration / AV_TIME_BASE;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        in->duration_s = (double)st->duration * av_q2d(st->time_base);
    snprintf(in->codec, sizeof(in->codec), "%s", s->dec->codec->name);
    snprintf(in->format, sizeof(in->format), "%s", fmtname);
    n = strlen(fmtname);
    in->is_image = strcmp(fmtname, "image2") == 0 ||
                   (n > 5 && strcmp(fmtname + n - 5, "_pipe") == 0);
    choose_fps(s, st);
    s->frame_step =
        1.0 / (plausible_fps(in->fps) ? in->fps : VG_SOURCE_FALLBACK_FPS);
    if (in->is_live)
        in->frame_count = -1;
    else if (in->is_image)
        in->frame_count = st->nb_frames > 0 ? st->nb_frames : 1;
    else if (st->nb_frames > 0)
        in->frame_count = st->nb_frames;
    else if (in->duration_s > 0 && in->fps > 0 && !in->fps_substituted)
        in->frame_count = (int64_t)llrint(in->duration_s * in->fps);
    else
        in->frame_count = -1;
    /* a duration counted in implausible timestamps is no better */
    if (s->times_from_fps && in->frame_count > 0)
        in->duration_s = (double)in->frame_count / in->fps;
}

/* Opens the local path once and refuses an oversized still picture from its
 * header, before FFmpeg probes (and so decodes) it. */
static int open_local(vg_source *s, const char *path, vgi_image_header *img)
{
    char why[256];
    int rc;

    rc = vgi_local_open(s->ctx, path, s->opts.timeout_ms, &s->local, why,
                        sizeof(why));
    if (rc < 0)
        return src_fail(s, rc, "%s: %s", s->url, why);
    s->info.is_pipe = !vgi_local_seekable(s->local);
    rc = vgi_sniff_image(s->local, img);
    if (rc < 0)
        return wait_fail(s, rc, "reading its header");
    if (rc == 0)
        return 0;
    rc = check_dims(s, img->width, img->height, " (from the file header)");
    if (rc < 0)
        return rc;
    snprintf(why, sizeof(why), "%s, %d bytes per pixel", img->kind,
             img->bytes_per_pixel);
    return check_decoded(s, img->width, img->height,
                         (uint64_t)img->width * (uint64_t)img->height *
                             (uint64_t)img->bytes_per_pixel,
                         why, " (from the file header)");
}

static int open_input(vg_source *s)
{
    AVDictionary *opts = NULL;
    AVDictionary **stream_opts = NULL;
    const AVCodec *codec = NULL;
    AVStream *st;
    const char *path = local_path(s->url);
    const char *name = s->url;
    vgi_image_header img = {0, 0, 0, NULL};
    int rc, ret;
    char tmo[32], buf[AV_ERROR_MAX_STRING_SIZE];

    if (vg_context_stop_requested(s->ctx))
        return src_fail(s, VG_EINTR, "%s: stopped before opening", s->url);
    s->info.is_live = path == NULL;
    if (path) {
        rc = open_local(s, path, &img);
        if (rc < 0)
            return rc;
        /* what cannot seek is probed by content alone: a name's extension
         * could pick a demuxer that opens the path a second time */
        name = s->info.is_pipe ? "" : path;
    }

    s->fmt = avformat_alloc_context();
    if (!s->fmt)
        return src_fail(s, VG_ENOMEM, "%s: out of memory", s->url);
    /* installed before anything blocks: every wait polls the stop flag */
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;
    if (s->local) {
        s->fmt->pb = vgi_local_avio(s->local);
        s->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    if (s->info.is_live && s->opts.timeout_ms > 0) {
        int64_t us = (int64_t)s->opts.timeout_ms * 1000;
        snprintf(tmo, sizeof(tmo), "%lld", (long long)us);
        /* FFmpeg 5.x: rtsp and http "timeout" is the socket I/O timeout in
         * microseconds (rtsp's old "stimeout" is gone), handed down to tcp,
         * whose "timeout" is an int: longer timeouts are left to rw_timeout
         * (64-bit) and to the interrupt callback's deadline. */
        if (us <= INT_MAX)
            av_dict_set(&opts, "timeout", tmo, 0);
        av_dict_set(&opts, "rw_timeout", tmo, 0);
    }
    /* RTSP over TCP (interleaved): a reader that falls behind pushes back
     * on the camera through TCP instead of filling FFmpeg's UDP receive
     * FIFO (5.4 MB per socket, allocated as it fills: +43 MiB of heap for 8
     * starved cameras in the live soak), and no packet is lost to UDP. */
    if (strncmp(name, "rtsp://", 7) == 0 || strncmp(name, "rtsps://", 8) == 0)
        av_dict_set(&opts, "rtsp_transport", "tcp", 0);
    arm_deadline(s);
    ret = avformat_open_input(&s->fmt, name, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        rc = map_open_error(s, ret);
        av_strerror(ret, buf, sizeof(buf));
        if (rc == VG_EINTR)
            return src_fail(s, rc, "%s: stopped while opening", s->url);
        if (rc == VG_ETIMEOUT)
            return src_fail(s, rc, "%s: no answer within %d ms", s->url,
                            s->opts.timeout_ms);
        if (rc == VG_EFORMAT)
            return src_fail(s, rc, "%s: not a recognised media file (%s)",
                            s->url, buf);
        return src_fail(s, rc, "%s: cannot open: %s", s->url, buf);
    }

    /* containers that state the picture size up front are checked now */
    for (unsigned i = 0; i < s->fmt->nb_streams; i++) {
        AVCodecParameters *p = s->fmt->streams[i]->codecpar;
        if (p->codec_type != AVMEDIA_TYPE_VIDEO)
            continue;
        if (p->width > s->opts.max_width || p->height > s->opts.max_height)
            return check_dims(s, p->width, p->height, "");
        rc = check_decoded(s, p->width, p->height,
                           decoded_bytes(p->width, p->height, p->format),
                           p->format != AV_PIX_FMT_NONE
                               ? av_get_pix_fmt_name(p->format)
                               : "about 3 bytes per pixel",
                           " (from the container header)");
        if (rc < 0)
            return rc;
    }

    if (s->fmt->nb_streams > 0) {
        stream_opts = av_calloc(s->fmt->nb_streams, sizeof(*stream_opts));
        if (!stream_opts)
            return src_fail(s, VG_ENOMEM, "%s: out of memory", s->url);
        for (unsigned i = 0; i < s->fmt->nb_streams; i++)
            av_dict_set_int(&stream_opts[i], "max_pixels",
                            max_pixels(s, s->fmt->streams[i]->codecpar->format),
                            0);
    }
    arm_deadline(s);
    ret = avformat_find_stream_info(s->fmt, stream_opts);
    for (unsigned i = 0; stream_opts && i < s->fmt->nb_streams; i++)
        av_dict_free(&stream_opts[i]);
    av_freep(&stream_opts);
    if (ret >= 0 && (s->stopped || (s->local && vgi_local_stopped(s->local))))
        ret = AVERROR_EXIT; /* stopped while probing: nothing to trust */
    if (ret < 0) {
        rc = map_open_error(s, ret);
        av_strerror(ret, buf, sizeof(buf));
        if (rc == VG_EINTR)
            return src_fail(s, rc,
                            "%s: stopped while reading stream "
                            "information",
                            s->url);
        if (rc == VG_ETIMEOUT)
            return src_fail(s, rc, "%s: no stream information within %d ms",
                            s->url, s->opts.timeout_ms);
        return src_fail(s, rc, "%s: cannot read stream information: %s", s->url,
                        buf);
    }

    ret = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (ret == AVERROR_DECODER_NOT_FOUND || (ret >= 0 && !codec)) {
        /* name what the container said the codec is */
        for (unsigned i = 0; i < s->fmt->nb_streams; i++) {
            AVCodecParameters *p = s->fmt->streams[i]->codecpar;
            char tag[AV_FOURCC_MAX_STRING_SIZE];
            if (p->codec_type != AVMEDIA_TYPE_VIDEO)
                continue;
            av_fourcc_make_string(tag, p->codec_tag);
            return src_fail(s, VG_ECODEC,
                            "%s: no decoder for the video codec %s (tag %s)",
                            s->url, avcodec_get_name(p->codec_id), tag);
        }
        return src_fail(s, VG_ECODEC, "%s: no decoder for the video stream",
                        s->url);
    }
    if (ret < 0)
        return src_fail(s, VG_EFORMAT, "%s: no video stream", s->url);
    s->stream_index = ret;
    st = s->fmt->streams[ret];
    s->time_base = st->time_base;
    s->start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;

    if (st->codecpar->width <= 0 || st->codecpar->height <= 0) {
        if (img.width > 0 && img.height > 0)
            return check_dims(s, img.width, img.height, "");
        return src_fail(s, VG_EFORMAT,
                        "%s: picture size unknown (corrupt or oversized?)",
                        s->url);
    }
    rc = check_dims(s, st->codecpar->width, st->codecpar->height, "");
    if (rc < 0)
        return rc;
    rc = check_decoded(s, st->codecpar->width, st->codecpar->height,
                       decoded_bytes(st->codecpar->width, st->codecpar->height,
                                     st->codecpar->format),
                       st->codecpar->format != AV_PIX_FMT_NONE
                           ? av_get_pix_fmt_name(st->codecpar->format)
                           : "about 3 bytes per pixel",
                       "");
    if (rc < 0)
        return rc;

    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec)
        return src_fail(s, VG_ENOMEM, "%s: out of memory", s->url);
    ret = avcodec_parameters_to_context(s->dec, st->codecpar);
    if (ret < 0)
        return src_fail(s, VG_ECODEC, "%s: cannot configure decoder %s", s->url,
                        codec->name);
    s->dec->pkt_timebase = st->time_base;
    s->dec->thread_count =
        s->opts.decoder_threads > 0 ? s->opts.decoder_threads : 0;
    s->dec->max_pixels = max_pixels(s, st->codecpar->format);
    ret = avcodec_open2(s->dec, codec, NULL);
    if (ret < 0) {
        av_strerror(ret, buf, sizeof(buf));
        return src_fail(s, VG_ECODEC, "%s: cannot open decoder %s: %s", s->url,
                        codec->name, buf);
    }
    fill_info(s, st);
    s->pkt = av_packet_alloc();
    s->frame = av_frame_alloc();
    if (!s->pkt || !s->frame)
        return src_fail(s, VG_ENOMEM, "%s: out of memory", s->url);
    return 0;
}

static void source_free(vg_source *s)
{
    vg_context *ctx = s->ctx;

    sws_freeContext(s->sws_tensor);
    sws_freeContext(s->sws_image);
    av_packet_free(&s->pkt);
    av_frame_free(&s->frame);
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    vgi_local_close(&s->local); /* after the format context that read it */
    vg_pool_destroy(&s->tensor_pool);
    vg_pool_destroy(&s->image_pool);
    vg_free(ctx, s->rgb_block);
    vg_free(ctx, s->url);
    vg_free(ctx, s);
}

int vg_source_open(vg_context *ctx, const char *url, const vg_source_opts *o,
                   vg_source **out)
{
    vg_source_opts defaults;
    vg_source *s;
    int rc;

    if (!out)
        return VG_EINVAL;
    *out = NULL;
    if (!url || !*url)
        return vg_fail(ctx, VG_EINVAL, "source: empty url");
    if (!o) {
        vg_source_opts_default(&defaults);
        o = &defaults;
    }
    rc = validate_opts(ctx, url, o);
    if (rc < 0)
        return rc;
    s = vg_calloc(ctx, 1, sizeof(*s));
    if (!s)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", url);
    s->ctx = ctx;
    s->opts = *o;
    s->url = vg_strdup(ctx, url);
    if (!s->url) {
        rc = src_fail(s, VG_ENOMEM, "%s: out of memory", url);
        goto fail;
    }
    rc = open_input(s);
    if (rc < 0)
        goto fail;
    rc = setup_preprocess(s);
    if (rc < 0)
        goto fail;
    rc = setup_scalers(s, s->dec->width > 0 ? s->dec->width : s->info.width,
                       s->dec->height > 0 ? s->dec->height : s->info.height,
                       s->dec->pix_fmt != AV_PIX_FMT_NONE ? s->dec->pix_fmt
                                                          : AV_PIX_FMT_YUV420P);
    if (rc < 0)
        goto fail;
    s->errmsg[0] = '\0';
    *out = s;
    return 0;

fail:
    vg_fail(ctx, rc, "%s", s->errmsg);
    source_free(s);
    return rc;
}

int vg_source_is_network_url(const char *url)
{
    return url != NULL && *url && local_path(url) == NULL;
}

int vg_source_check_url(vg_context *ctx, const char *url)
{
    static const char *const schemes[] = {
        "rtsp", "rtsps", "http", "https", "udp", "rtp", "tcp", "srt", "rtmp"};
    const char *path, *host, *end;
    struct stat st;
    size_t slen;
    int known = 0;

    if (!url || !*url)
        return vg_fail(ctx, VG_EINVAL, "input: empty name");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return vg_fail(ctx, VG_EINVAL, "%s: control character in input",
                           url);
    path = local_path(url);
    if (path) {
        if (!*path)
            return vg_fail(ctx, VG_EINVAL, "%s: empty path", url);
        if (!strcmp(path, "-"))
            return 0; /* standard input */
        if (stat(path, &st) != 0)
            return vg_fail(ctx, VG_ENOENT, "%s: %s", url, strerror(errno));
        if (S_ISDIR(st.st_mode))
            return vg_fail(ctx, VG_EINVAL, "%s: is a directory", url);
        return 0;
    }
    slen = (size_t)(strstr(url, "://") - url);
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strlen(schemes[i]) == slen && !strncasecmp(url, schemes[i], slen))
            known = 1;
    if (!known)
        return vg_fail(ctx, VG_EINVAL,
                       "%s: malformed URL: unsupported scheme '%.*s' (rtsp, "
                       "rtsps, http, https, udp, rtp, tcp, srt, rtmp)",
                       url, (int)slen, url);
    host = url + slen + 3;
    if (strchr(host, '@') && strchr(host, '@') < host + strcspn(host, "/?#"))
        host = strchr(host, '@') + 1; /* user info */
    end = host + strcspn(host, "/?#");
    if (end == host || *host == ':')
        return vg_fail(ctx, VG_EINVAL, "%s: malformed URL: no host", url);
    for (const char *p = host; p < end; p++)
        if (*p == ' ' || *p == '\\' || *p == '<' || *p == '>' || *p == '"')
            return vg_fail(ctx, VG_EINVAL,
                           "%s: malformed URL: '%c' in the host", url, *p);
    for (const char *p = url; *p; p++)
        if (*p == ' ')
            return vg_fail(ctx, VG_EINVAL, "%s: malformed URL: a space", url);
    return 0;
}

int vg_source_is_read_once(const char *url)
{
    const char *path = url ? local_path(url) : NULL;
    struct stat st;

    if (!path || stat(path, &st) != 0)
        return 0;
    return S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode);
}

size_t vg_source_tensor_bytes(const vg_tensor_spec *spec, int src_w, int src_h,
                              int compact)
{
    vgi_tensor_geometry g;

    if (vgi_tensor_geometry_get(spec, src_w, src_h, &g) < 0)
        return 0;
    if (compact)
        return (size_t)g.stride * (size_t)g.scaled_h;
    return vg_tensor_float_count(spec) * sizeof(float);
}

void vg_source_pools(const vg_source *src, vg_pool **tensor, vg_pool **image)
{
    if (tensor)
        *tensor = src ? src->tensor_pool : NULL;
    if (image)
        *image = src ? src->image_pool : NULL;
}

void vg_source_get_info(const vg_source *src, vg_source_info *out)
{
    if (!out)
        return;
    if (!src) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = src->info;
}

const char *vg_source_errmsg(const vg_source *src)
{
    return src ? src->errmsg : "";
}

void vg_source_close(vg_source **src)
{
    if (!src || !*src)
        return;
    source_free(*src);
    *src = NULL;
}

/* ---- read ---------------------------------------------------------------*/

/* Takes a buffer, waiting while all are out, in slices that poll the stop
 * flag. */
static int pool_get(vg_source *s, vg_pool *pool, vg_buf **out)
{
    int rc;

    while ((rc = vg_pool_get(pool, 100, out)) == VG_EAGAIN)
        if (vg_context_stop_requested(s->ctx)) {
            s->stopped = 1;
            return VG_EINTR;
        }
    return rc;
}

/* Seconds since the start of frame index with timestamp pts. Times always
 * advance: a frame whose timestamp is missing, equal to or before the
 * previous one's comes one frame step (1 / fps) after it, and later
 * timestamps are shifted by as much, so that frame times keep the stream's
 * pace. The first such frame is logged once and flagged in the info. */
static double frame_time(vg_source *s, int64_t index, int64_t pts)
{
    double t, fixed;

    if (s->times_from_fps)
        return (double)index * s->frame_step; /* timestamps unusable */
    t = pts == AV_NOPTS_VALUE
            ? NAN
            : (double)(pts - s->start_pts) * av_q2d(s->time_base) +
                  s->time_offset;
    if (index == 0 && !isnan(t))
        return s->last_time = t;
    if (index == 0)
        return s->last_time = 0.0;
    if (!isnan(t) && t > s->last_time)
        return s->last_time = t;
    fixed = s->last_time + s->frame_step;
    if (!isnan(t))
        s->time_offset += fixed - t;
    if (!s->info.times_synthesised) {
        s->info.times_synthesised = 1;
        vg_log(s->ctx, VG_LOG_WARN,
               "%s: frame %lld has %s timestamp; frame times advance at "
               "%.3f fps from there",
               s->url, (long long)index, isnan(t) ? "no" : "a non-advancing",
               1.0 / s->frame_step);
    }
    return s->last_time = fixed;
}

static int emit_frame(vg_source *s, vg_frame *f)
{
    AVFrame *fr = s->frame;
    const uint8_t *const *src = (const uint8_t *const *)fr->data;
    int64_t pts = fr->best_effort_timestamp;
    int rc;

    rc = setup_scalers(s, fr->width, fr->height, fr->format);
    if (rc < 0)
        return rc;
    if (s->tensor_pool) {
        const vgi_tensor_geometry *g = &s->geo;
        uint8_t *dst[4] = {s->rgb, NULL, NULL, NULL};
        int dst_stride[4] = {g->stride, 0, 0, 0};
        rc = pool_get(s, s->tensor_pool, &f->tensor);
        if (rc < 0)
            return src_fail(s, rc, "%s: tensor pool: %s", s->url,
                            vg_strerror(rc));
        if (s->opts.compact_tensor)
            dst[0] = vg_buf_data(f->tensor);
        sws_scale(s->sws_tensor, src, fr->linesize, 0, fr->height, dst,
                  dst_stride);
        if (s->opts.compact_tensor) {
            f->tensor_compact = 1;
            f->tensor_w = g->scaled_w;
            f->tensor_h = g->scaled_h;
            f->tensor_stride = g->stride;
        } else {
            vgi_tensor_normalise(&s->opts.tensor, &s->lut, s->rgb, g->stride,
                                 g->scaled_w, g->scaled_h, g->pad_x, g->pad_y,
                                 vg_buf_data(f->tensor));
        }
        f->lb = g->lb;
    }
    if (s->image_pool) {
        uint8_t *dst[4] = {NULL, NULL, NULL, NULL};
        int dst_stride[4] = {s->image_stride, 0, 0, 0};
        rc = pool_get(s, s->image_pool, &f->image);
        if (rc < 0) {
            vg_frame_release(f);
            return src_fail(s, rc, "%s: picture pool: %s", s->url,
                            vg_strerror(rc));
        }
        dst[0] = vg_buf_data(f->image);
        sws_scale(s->sws_image, src, fr->linesize, 0, fr->height, dst,
                  dst_stride);
        f->image_stride = s->image_stride;
    }
    f->index = s->next_index++;
    f->pts = pts;
    f->width = s->info.width;
    f->height = s->info.height;
    f->time_s = frame_time(s, f->index, pts);
    av_frame_unref(fr);
    return 0;
}

/* Decides how a drained decoder ends the stream. */
static int finish(vg_source *s)
{
    int64_t expect = s->info.frame_count;
    int64_t got = s->next_index - s->pass_start;
    int64_t slack;

    if (s->demux_error || s->bad_tail)
        return src_fail(s, VG_ETRUNCATED,
                        "%s: corrupt or truncated data after frame %lld",
                        s->url, (long long)got);
    if (!s->info.is_live && !s->info.is_image && expect > 0) {
        slack = expect / 50 > 2 ? expect / 50 : 2;
        if (got + slack < expect)
            return src_fail(s, VG_ETRUNCATED,
                            "%s: input ends after %lld of %lld frames", s->url,
                            (long long)got, (long long)expect);
    }
    return VG_EOF;
}

/* Feeds the decoder one packet of our stream, or the flush packet. */
static int feed(vg_source *s)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];
    int ret;

    for (;;) {
        arm_deadline(s);
        ret = av_read_frame(s->fmt, s->pkt);
        if (ret < 0)
            break;
        if (s->pkt->stream_index != s->stream_index) {
            av_packet_unref(s->pkt);
            continue;
        }
        ret = avcodec_send_packet(s->dec, s->pkt);
        av_packet_unref(s->pkt);
        if (ret == AVERROR(EAGAIN))
            return 0; /* cannot happen after a drained receive */
        if (ret < 0 && ret != AVERROR(ENOMEM)) {
            s->bad_tail = 1; /* corrupt packet: skipped */
            return 0;
        }
        if (ret < 0)
            return src_fail(s, VG_ENOMEM, "%s: out of memory decoding", s->url);
        s->bad_tail = 0;
        return 0;
    }
    if (s->stopped || (s->local && vgi_local_stopped(s->local)))
        return src_fail(s, VG_EINTR, "%s: stopped after frame %lld", s->url,
                        (long long)s->next_index);
    if (s->local && vgi_local_timed_out(s->local))
        return src_fail(s, VG_ETIMEOUT, "%s: no data within %d ms", s->url,
                        s->opts.timeout_ms);
    if (s->info.is_live && ret != AVERROR_EOF) {
        if (s->timed_out || ret == AVERROR(ETIMEDOUT) || ret == AVERROR_EXIT)
            return src_fail(s, VG_ETIMEOUT, "%s: no data within %d ms", s->url,
                            s->opts.timeout_ms);
        av_strerror(ret, buf, sizeof(buf));
        return src_fail(s, VG_ENET, "%s: read failed: %s", s->url, buf);
    }
    if (ret != AVERROR_EOF)
        s->demux_error = 1;
    if (ret == AVERROR_EOF && s->fmt->pb && s->fmt->pb->error < 0)
        s->demux_error = 1;
    s->demux_done = 1;
    avcodec_send_packet(s->dec, NULL); /* flush: the last frames come out */
    return 0;
}

/* Looping: back to the first frame after a clean end of a file. Returns 0
 * (the next frames are the file's first again), VG_EOF (the pass gave no
 * frame: nothing to loop over) or VG_EIO (the seek failed). */
static int rewind_input(vg_source *s)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];
    int ret;

    if (s->next_index == s->pass_start)
        return VG_EOF;
    ret = av_seek_frame(s->fmt, s->stream_index, s->start_pts,
                        AVSEEK_FLAG_BACKWARD);
    if (ret < 0)
        ret = avformat_seek_file(s->fmt, -1, INT64_MIN, 0, 0, 0);
    if (ret < 0) {
        av_strerror(ret, buf, sizeof(buf));
        return src_fail(s, VG_EIO,
                        "%s: cannot seek back to the start to "
                        "loop: %s",
                        s->url, buf);
    }
    avcodec_flush_buffers(s->dec);
    s->demux_done = 0;
    s->bad_tail = 0;
    s->pass_start = s->next_index;
    s->passes++;
    /* the new pass's first frame comes one step after the last one: its
     * timestamp (about start_pts) gets this offset */
    s->time_offset = s->last_time + s->frame_step;
    return 0;
}

/* A looping file plays at its frame rate: waits until frame time t is due
 * on the monotonic clock, in slices of at most 50 ms that poll the stop
 * flag. More than a second late (a slow reader), the schedule restarts at
 * t. Returns 0 or VG_EINTR. */
static int pace(vg_source *s, double t)
{
    int64_t now = vg_clock_ns(), due;

    if (s->pace_t0_ns == 0) {
        s->pace_t0_ns = now;
        s->pace_time0 = t;
        return 0;
    }
    due = s->pace_t0_ns + (int64_t)((t - s->pace_time0) * 1e9);
    if (now - due > 1000000000LL) {
        s->pace_t0_ns = now;
        s->pace_time0 = t;
        return 0;
    }
    while (now < due) {
        int64_t left = due - now;
        struct timespec ts = {0, left > 50000000 ? 50000000 : (long)left};
        if (vg_context_stop_requested(s->ctx))
            return VG_EINTR;
        nanosleep(&ts, NULL);
        now = vg_clock_ns();
    }
    return 0;
}

static int can_loop(const vg_source *s)
{
    return s->opts.loop && !s->info.is_live && !s->info.is_pipe &&
           !s->info.is_image;
}

int vg_source_read(vg_source *s, vg_frame *f)
{
    int ret, rc;

    if (!f)
        return VG_EINVAL;
    memset(f, 0, sizeof(*f));
    if (!s)
        return VG_EINVAL;
    if (s->finished)
        return s->finish_code;
    if (vg_context_stop_requested(s->ctx)) {
        s->stopped = 1;
        rc = src_fail(s, VG_EINTR, "%s: stopped after frame %lld", s->url,
                      (long long)s->next_index);
        s->finished = 1;
        s->finish_code = rc;
        return rc;
    }
    for (;;) {
        ret = avcodec_receive_frame(s->dec, s->frame);
        if (ret == 0) {
            rc = emit_frame(s, f);
            /* a stop cuts the wait short; the next read reports it */
            if (rc == 0 && can_loop(s))
                (void)pace(s, f->time_s);
            if (rc < 0) {
                av_frame_unref(s->frame);
                vg_frame_release(f);
            }
            return rc;
        }
        if (ret == AVERROR_EOF) {
            rc = finish(s);
            if (rc == VG_EOF && can_loop(s)) {
                rc = rewind_input(s);
                if (rc == 0)
                    continue;
            }
            break;
        }
        if (ret != AVERROR(EAGAIN)) {
            /* a frame failed to decode; carry on with the next packet */
            s->bad_tail = 1;
            if (s->demux_done) {
                rc = finish(s);
                break;
            }
        }
        rc = feed(s);
        if (rc < 0)
            break;
    }
    s->finished = 1;
    s->finish_code = rc;
    return rc;
}

int vg_source_configure(vg_source *s, const vg_source_opts *o)
{
    int rc;

    if (!s || !o)
        return VG_EINVAL;
    if (s->next_index != 0)
        return vg_fail(s->ctx, VG_EBUSY,
                       "%s: cannot change the pre-processing after the first "
                       "frame",
                       s->url);
    rc = validate_opts(s->ctx, s->url, o);
    if (rc < 0)
        return rc;
    sws_freeContext(s->sws_tensor);
    sws_freeContext(s->sws_image);
    s->sws_tensor = NULL;
    s->sws_image = NULL;
    s->sws_w = s->sws_h = 0;
    vg_pool_destroy(&s->tensor_pool);
    vg_pool_destroy(&s->image_pool);
    vg_free(s->ctx, s->rgb_block);
    s->rgb_block = NULL;
    s->rgb = NULL;
    s->opts.tensor = o->tensor;
    s->opts.keep_image = o->keep_image;
    s->opts.pool_size = o->pool_size;
    s->opts.image_pool_size = o->image_pool_size;
    s->opts.compact_tensor = o->compact_tensor;
    s->opts.loop = o->loop;
    memset(&s->geo, 0, sizeof(s->geo));
    rc = setup_preprocess(s);
    if (rc == 0)
        rc = setup_scalers(s, s->dec->width > 0 ? s->dec->width : s->info.width,
                           s->dec->height > 0 ? s->dec->height : s->info.height,
                           s->dec->pix_fmt != AV_PIX_FMT_NONE
                               ? s->dec->pix_fmt
                               : AV_PIX_FMT_YUV420P);
    if (rc < 0)
        return vg_fail(s->ctx, rc, "%s", s->errmsg);
    return 0;
}

const char *vg_source_url(const vg_source *s)
{
    return s ? s->url : "";
}
