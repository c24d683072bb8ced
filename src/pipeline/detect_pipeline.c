#include "vigil/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"
#include "vigil/clock.h"
#include "vigil/sizing.h"

void vg_detect_opts_default(vg_detect_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->queue_depth = VG_SIZING_QUEUE_DEPTH_DEFAULT;
}

unsigned vg_detect_pool_size(const vg_detect_opts *o)
{
    vg_stream_pools pools;
    /* queued frames + one being decoded + one being inferred */
    vg_sizing_detect_pools(o ? o->queue_depth : 0, &pools);
    return pools.tensors;
}

int vg_detect_run(vg_context *ctx, vg_source *src, vg_detector *det,
                  const vg_detect_opts *o, vg_detect_frame_fn fn, void *user,
                  vg_detect_stats *stats)
{
    vg_detect_opts defaults;
    vg_detect_stats st;
    vgi_decoder dec;
    vg_detection dets[VG_MAX_DETECTIONS];
    vgi_frame_item it;
    int64_t t_start;
    int rc, end = VG_EOF, stopped = 0;

    if (!src || !det)
        return vg_fail(ctx, VG_EINVAL,
                       "detect pipeline: no source or detector");
    if (!o) {
        vg_detect_opts_default(&defaults);
        o = &defaults;
    }
    memset(&st, 0, sizeof(st));
    t_start = vg_clock_ns();
    rc = vgi_decoder_start(ctx, &dec, src, o->queue_depth, o->max_frames);
    if (rc < 0)
        return rc;

    while (vg_queue_pop(dec.q, &it, -1) == 0) {
        int n = 0;
        int64_t t0;

        if (it.end_code != 0) {
            end = it.end_code;
            break;
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
            vgi_decoder_request_stop(&dec);
            break;
        }
    }
    st.queue_high_water = vgi_decoder_finish(&dec);
    st.wall_s = (double)(vg_clock_ns() - t_start) / 1e9;
    st.decode_busy_s = dec.busy_s;
    if (end == VG_ECLOSED)
        end = VG_EOF; /* the decoder was stopped by us */
    st.end_code = stopped ? VG_EOF : end;
    snprintf(st.end_message, sizeof(st.end_message), "%s", dec.message);
    if (stats)
        *stats = st;
    if (rc < 0)
        return rc;
    if (stopped || end == VG_EOF)
        return 0;
    return vg_fail(ctx, end, "%s", dec.message);
}
