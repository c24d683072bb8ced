#include <stdio.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"
#include "vigil/clock.h"
#include "vigil/sizing.h"

/* Codes of a live read after which the camera is reconnected: the network,
 * a timeout, the server ending the stream or sending something broken. */
static int reconnectable(int rc)
{
    return rc == VG_EOF || rc == VG_ETRUNCATED || rc == VG_ENET ||
           rc == VG_ETIMEOUT || rc == VG_EFORMAT || rc == VG_EIO ||
           rc == VG_ECODEC;
}

/* CONNECT: opens the camera again. 0 (d->src set), a code to retry, or
 * *fatal set (the message in d->message) when the stream must end. */
static int reopen(vgi_decoder *d, int *fatal)
{
    vg_source *s = NULL;
    vg_source_info si;
    int rc = vg_source_open(d->ctx, d->url, d->so, &s);

    *fatal = 0;
    if (rc < 0) {
        snprintf(d->message, sizeof(d->message), "%s",
                 vg_context_errmsg(d->ctx));
        return rc;
    }
    vg_source_get_info(s, &si);
    if (si.width != d->width || si.height != d->height) {
        snprintf(d->message, sizeof(d->message),
                 "%s: resolution changed from %dx%d to %dx%d after reconnect",
                 d->name, d->width, d->height, si.width, si.height);
        vg_source_close(&s);
        *fatal = 1;
        return VG_EFORMAT;
    }
    d->src = s;
    d->rebase = 1;
    return 0;
}

/* Sends a marker; when the queue is closed (the run ends), a dropped source
 * is closed here. Returns 0 or VG_ECLOSED. */
static int push_marker(vgi_decoder *d, int marker, vg_source *src)
{
    vgi_frame_item it;
    memset(&it, 0, sizeof(it));
    it.marker = marker;
    it.src = src;
    if (vg_queue_push(d->q, &it, -1) < 0) {
        if (marker == VGI_MARK_DROPPED)
            vg_source_close(&src);
        return VG_ECLOSED;
    }
    return 0;
}

/* Not connected: waits and reconnects as the machine says. Returns 0 when
 * connected, or the code that ends the stream (message in d->message). */
static int connect_live(vgi_decoder *d, int last_code)
{
    while (d->src == NULL) {
        int fatal = 0, rc;
        if (atomic_load(&d->stop))
            return VG_EOF;
        switch (vg_reconnect_next_action(d->rc, NULL)) {
        case VG_RECONNECT_WAIT:
            if (vg_reconnect_wait(d->rc) == VG_EINTR)
                return atomic_load(&d->stop) ? VG_EOF : VG_EINTR;
            break;
        case VG_RECONNECT_CONNECT:
            rc = reopen(d, &fatal);
            if (fatal)
                return rc;
            if (rc == VG_EINTR)
                return VG_EINTR;
            if (rc < 0) {
                last_code = rc;
                vg_log(d->ctx, VG_LOG_WARN, "%s: reconnect failed: %s", d->name,
                       d->message);
                vg_reconnect_connect_failed(d->rc, d->message);
                break;
            }
            vg_reconnect_connect_ok(d->rc);
            vg_log(d->ctx, VG_LOG_WARN, "%s: reconnected", d->name);
            if (push_marker(d, VGI_MARK_RECONNECTED, d->src) < 0)
                return VG_ECLOSED;
            break;
        case VG_RECONNECT_GIVE_UP: {
            vg_reconnect_stats rs;
            if (vg_context_stop_requested(d->ctx))
                return VG_EINTR;
            vg_reconnect_stats_get(d->rc, &rs);
            snprintf(d->message, sizeof(d->message),
                     "%.60s: gave up after %llu connection attempts: %.120s",
                     d->name, (unsigned long long)rs.attempts, rs.last_error);
            return vg_reconnect_give_up_code(last_code);
        }
        default: /* READ without a source: cannot happen */
            return VG_EINVAL;
        }
    }
    return 0;
}

static void *decode_main(void *p)
{
    vgi_decoder *d = p;
    vgi_frame_item it;
    int64_t n = 0;
    int rc = 0, last_code = VG_ENET, msg_set = 0;

    while (!atomic_load(&d->stop)) {
        int64_t t0;
        if (d->rc && d->src == NULL) {
            rc = connect_live(d, last_code);
            if (rc < 0) {
                msg_set = 1;
                break;
            }
        }
        t0 = vg_clock_ns();
        memset(&it, 0, sizeof(it));
        rc = vg_source_read(d->src, &it.frame);
        d->busy_s += (double)(vg_clock_ns() - t0) / 1e9;
        if (rc < 0 && d->rc && reconnectable(rc) && !atomic_load(&d->stop) &&
            !vg_context_stop_requested(d->ctx)) {
            const char *m = vg_source_errmsg(d->src);
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", m && m[0] ? m : vg_strerror(rc));
            last_code = rc;
            vg_log(d->ctx, VG_LOG_WARN, "%s: stream lost (%s); reconnecting",
                   d->name, msg);
            vg_reconnect_read_failed(d->rc, msg);
            snprintf(d->message, sizeof(d->message), "%s", msg);
            vg_source *old = d->src;
            d->src = NULL;
            if (push_marker(d, VGI_MARK_DROPPED, old) < 0) {
                rc = VG_ECLOSED;
                break;
            }
            continue;
        }
        if (rc < 0)
            break;
        it.arrival_ns = vg_clock_ns();
        if (d->rc) {
            vg_reconnect_frame_arrived(d->rc);
            if (d->rebase) {
                /* a new connection counts from 0 again: go on from the
                 * last frame instead */
                d->index_base = d->next_index - it.frame.index;
                d->time_base = d->next_time - it.frame.time_s;
                d->rebase = 0;
            }
            it.frame.index += d->index_base;
            it.frame.time_s += d->time_base;
            d->next_index = it.frame.index + 1;
            d->next_time = it.frame.time_s + d->frame_dt;
        }
        if (vg_queue_push(d->q, &it, -1) < 0) {
            vg_frame_release(&it.frame);
            rc = VG_ECLOSED;
            break;
        }
        if (d->max_frames > 0 && ++n >= d->max_frames) {
            rc = VG_EOF;
            break;
        }
    }
    if (rc == 0 || atomic_load(&d->stop))
        rc = VG_EOF;
    if (rc != VG_EOF && rc != VG_ECLOSED && !msg_set && d->src)
        snprintf(d->message, sizeof(d->message), "%s",
                 vg_source_errmsg(d->src));
    memset(&it, 0, sizeof(it));
    it.end_code = rc;
    vg_queue_push(d->q, &it, -1); /* fails only when closed: fine */
    vg_queue_close(d->q);
    return NULL;
}

/* Live queue: only frames are evicted; markers and the end must arrive. */
static int droppable(void *user, const void *item)
{
    const vgi_frame_item *it = item;
    (void)user;
    return it->marker == VGI_MARK_FRAME && it->end_code == 0;
}

static void drop_frame(void *user, void *item)
{
    vgi_frame_item *it = item;
    (void)user;
    vg_frame_release(&it->frame);
}

static int start(vg_context *ctx, vgi_decoder *d, unsigned depth, int live)
{
    int rc = vg_queue_create(ctx, sizeof(vgi_frame_item),
                             vg_sizing_queue_depth(depth),
                             live ? VG_QUEUE_DROP_OLDEST : VG_QUEUE_BLOCK,
                             live ? drop_frame : NULL, NULL, &d->q);
    if (rc < 0)
        return rc;
    if (live)
        vg_queue_set_droppable(d->q, droppable);
    if (pthread_create(&d->thread, NULL, decode_main, d) != 0) {
        vg_queue_destroy(&d->q);
        return vg_fail(ctx, VG_ENOMEM, "cannot start the decode thread");
    }
    d->started = 1;
    return 0;
}

int vgi_decoder_start(vg_context *ctx, vgi_decoder *d, vg_source *src,
                      unsigned depth, int64_t max_frames)
{
    memset(d, 0, sizeof(*d));
    d->src = src;
    d->max_frames = max_frames;
    atomic_init(&d->stop, 0);
    return start(ctx, d, depth, 0);
}

int vgi_decoder_start_live(vg_context *ctx, vgi_decoder *d, vg_source *src,
                           unsigned depth, int64_t max_frames, vg_reconnect *rc,
                           const vg_source_opts *so, const char *url,
                           const char *name, int width, int height, double fps)
{
    memset(d, 0, sizeof(*d));
    d->src = src;
    d->max_frames = max_frames;
    atomic_init(&d->stop, 0);
    d->ctx = ctx;
    d->rc = rc;
    d->so = so;
    d->url = url;
    d->name = name;
    d->width = width;
    d->height = height;
    d->frame_dt = fps > 0 ? 1.0 / fps : 0.04;
    d->rebase = 1;
    return start(ctx, d, depth, 1);
}

void vgi_decoder_request_stop(vgi_decoder *d)
{
    atomic_store(&d->stop, 1);
    if (d->rc)
        vg_reconnect_stop(d->rc); /* ends a backoff wait */
    vg_queue_close(d->q); /* unblocks a decoder waiting on a full queue */
}

static void drain(vgi_decoder *d)
{
    vgi_frame_item it;
    while (vg_queue_pop(d->q, &it, 0) == 0) {
        if (it.marker == VGI_MARK_DROPPED)
            vg_source_close(&it.src);
        else if (it.end_code == 0 && it.marker == VGI_MARK_FRAME)
            vg_frame_release(&it.frame);
    }
}

unsigned vgi_decoder_finish(vgi_decoder *d)
{
    vg_queue_stats qs;

    if (!d->q)
        return 0;
    vg_queue_close(d->q);
    /* Release what is queued; the decoder may still push once more (then
     * its push fails and it releases the frame itself). */
    drain(d);
    if (d->started)
        pthread_join(d->thread, NULL);
    d->started = 0;
    drain(d);
    vg_queue_stats_get(d->q, &qs);
    vg_queue_destroy(&d->q);
    d->dropped = qs.dropped;
    return qs.high_water;
}
