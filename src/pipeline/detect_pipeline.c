#include "vigil/pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>

#include "vigil/clock.h"
#include "vigil/queue.h"

/* What travels through the queue: a frame, or the end of the stream. */
typedef struct item {
    vg_frame frame;
    int end_code; /* 0 for a frame; VG_EOF / error code for the end marker */
} item;

typedef struct decoder_arg {
    vg_source *src;
    vg_queue *q;
    int64_t max_frames;
    atomic_int stop;
    double busy_s;
    char message[256];
} decoder_arg;

void vg_detect_opts_default(vg_detect_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->queue_depth = 4;
}

unsigned vg_detect_pool_size(const vg_detect_opts *o)
{
    unsigned depth = o && o->queue_depth ? o->queue_depth : 4;
    /* queued frames + one being decoded + one being inferred */
    return depth + 2;
}

static void *decode_main(void *p)
{
    decoder_arg *a = p;
    item it;
    int64_t n = 0;
    int rc = 0;

    while (!atomic_load(&a->stop)) {
        int64_t t0 = vg_clock_ns();
        memset(&it, 0, sizeof(it));
        rc = vg_source_read(a->src, &it.frame);
        a->busy_s += (double)(vg_clock_ns() - t0) / 1e9;
        if (rc < 0)
            break;
        if (vg_queue_push(a->q, &it, -1) < 0) {
            vg_frame_release(&it.frame);
            rc = VG_ECLOSED;
            break;
        }
        if (a->max_frames > 0 && ++n >= a->max_frames) {
            rc = VG_EOF;
            break;
        }
    }
    if (rc == 0 || atomic_load(&a->stop))
        rc = VG_EOF;
    if (rc != VG_EOF && rc != VG_ECLOSED)
        snprintf(a->message, sizeof(a->message), "%s",
                 vg_source_errmsg(a->src));
    memset(&it, 0, sizeof(it));
    it.end_code = rc;
    vg_queue_push(a->q, &it, -1); /* fails only when closed: fine */
    vg_queue_close(a->q);
    return NULL;
}

int vg_detect_run(vg_context *ctx, vg_source *src, vg_detector *det,
                  const vg_detect_opts *o, vg_detect_frame_fn fn, void *user,
                  vg_detect_stats *stats)
{
    vg_detect_opts defaults;
    vg_detect_stats st;
    decoder_arg arg;
    vg_detection dets[VG_MAX_DETECTIONS];
    vg_queue *q = NULL;
    pthread_t thread;
    item it;
    int64_t t_start;
    int rc, end = VG_EOF, stopped = 0;

    if (!src || !det)
        return vg_fail(ctx, VG_EINVAL, "detect pipeline: no source or detector");
    if (!o) {
        vg_detect_opts_default(&defaults);
        o = &defaults;
    }
    memset(&st, 0, sizeof(st));
    memset(&arg, 0, sizeof(arg));
    rc = vg_queue_create(ctx, sizeof(item), o->queue_depth ? o->queue_depth : 4,
                         VG_QUEUE_BLOCK, NULL, NULL, &q);
    if (rc < 0)
        return rc;
    arg.src = src;
    arg.q = q;
    arg.max_frames = o->max_frames;
    atomic_init(&arg.stop, 0);
    t_start = vg_clock_ns();
    if (pthread_create(&thread, NULL, decode_main, &arg) != 0) {
        vg_queue_destroy(&q);
        return vg_fail(ctx, VG_ENOMEM, "detect pipeline: cannot start the decode thread");
    }

    rc = 0;
    while (vg_queue_pop(q, &it, -1) == 0) {
        int n = 0;
        int64_t t0;

        if (it.end_code != 0) {
            end = it.end_code;
            break;
        }
        if (stopped || rc < 0) { /* draining after a stop or failure */
            vg_frame_release(&it.frame);
            continue;
        }
        t0 = vg_clock_ns();
        rc = vg_detector_run(det, &it.frame, dets, VG_MAX_DETECTIONS, &n);
        st.infer_busy_s += (double)(vg_clock_ns() - t0) / 1e9;
        if (rc < 0) {
            vg_fail(ctx, rc, "%s", vg_detector_errmsg(det));
        } else {
            st.frames++;
            st.detections += n;
            if (fn) {
                t0 = vg_clock_ns();
                if (fn(user, &it.frame, dets, n) != 0)
                    stopped = 1;
                st.callback_s += (double)(vg_clock_ns() - t0) / 1e9;
            }
        }
        vg_frame_release(&it.frame);
        if (stopped || rc < 0) {
            atomic_store(&arg.stop, 1);
            vg_queue_close(q); /* unblocks the decoder; we drain below */
        }
    }
    /* Drain anything left (after a stop, failure or the end marker). */
    vg_queue_close(q);
    while (vg_queue_pop(q, &it, 0) == 0)
        if (it.end_code == 0)
            vg_frame_release(&it.frame);
    pthread_join(thread, NULL);
    {
        vg_queue_stats qs;
        vg_queue_stats_get(q, &qs);
        st.queue_high_water = qs.high_water;
    }
    vg_queue_destroy(&q);

    st.wall_s = (double)(vg_clock_ns() - t_start) / 1e9;
    st.decode_busy_s = arg.busy_s;
    if (end == VG_ECLOSED)
        end = VG_EOF; /* the decoder was stopped by us */
    st.end_code = stopped ? VG_EOF : end;
    snprintf(st.end_message, sizeof(st.end_message), "%s", arg.message);
    if (stats)
        *stats = st;
    if (rc < 0)
        return rc;
    if (stopped || end == VG_EOF)
        return 0;
    return vg_fail(ctx, end, "%s", arg.message);
}
