#include <stdio.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"
#include "vigil/clock.h"

static void *decode_main(void *p)
{
    vgi_decoder *d = p;
    vgi_frame_item it;
    int64_t n = 0;
    int rc = 0;

    while (!atomic_load(&d->stop)) {
        int64_t t0 = vg_clock_ns();
        memset(&it, 0, sizeof(it));
        rc = vg_source_read(d->src, &it.frame);
        d->busy_s += (double)(vg_clock_ns() - t0) / 1e9;
        if (rc < 0)
            break;
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
    if (rc != VG_EOF && rc != VG_ECLOSED)
        snprintf(d->message, sizeof(d->message), "%s",
                 vg_source_errmsg(d->src));
    memset(&it, 0, sizeof(it));
    it.end_code = rc;
    vg_queue_push(d->q, &it, -1); /* fails only when closed: fine */
    vg_queue_close(d->q);
    return NULL;
}

int vgi_decoder_start(vg_context *ctx, vgi_decoder *d, vg_source *src,
                      unsigned depth, int64_t max_frames)
{
    int rc;

    memset(d, 0, sizeof(*d));
    d->src = src;
    d->max_frames = max_frames;
    atomic_init(&d->stop, 0);
    rc = vg_queue_create(ctx, sizeof(vgi_frame_item), depth ? depth : 4,
                         VG_QUEUE_BLOCK, NULL, NULL, &d->q);
    if (rc < 0)
        return rc;
    if (pthread_create(&d->thread, NULL, decode_main, d) != 0) {
        vg_queue_destroy(&d->q);
        return vg_fail(ctx, VG_ENOMEM, "cannot start the decode thread");
    }
    d->started = 1;
    return 0;
}

void vgi_decoder_request_stop(vgi_decoder *d)
{
    atomic_store(&d->stop, 1);
    vg_queue_close(d->q); /* unblocks a decoder waiting on a full queue */
}

unsigned vgi_decoder_finish(vgi_decoder *d)
{
    vgi_frame_item it;
    vg_queue_stats qs;

    if (!d->q)
        return 0;
    vg_queue_close(d->q);
    /* Release what is queued; the decoder may still push once more (then
     * its push fails and it releases the frame itself). */
    while (vg_queue_pop(d->q, &it, 0) == 0)
        if (it.end_code == 0)
            vg_frame_release(&it.frame);
    if (d->started)
        pthread_join(d->thread, NULL);
    d->started = 0;
    while (vg_queue_pop(d->q, &it, 0) == 0)
        if (it.end_code == 0)
            vg_frame_release(&it.frame);
    vg_queue_stats_get(d->q, &qs);
    vg_queue_destroy(&d->q);
    return qs.high_water;
}
