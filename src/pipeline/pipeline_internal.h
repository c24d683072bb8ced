/* Internal to the pipeline module: the decode stage shared by the detect
 * pipeline and the CCTV job, and detection under the residency's ladder
 * shared by the CCTV and staged jobs. */
#ifndef VIGIL_PIPELINE_INTERNAL_H
#define VIGIL_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "vigil/detect.h"
#include "vigil/queue.h"
#include "vigil/reconnect.h"
#include "vigil/residency.h"
#include "vigil/source.h"

/* vg_detector_run, and when it runs out of memory and r (may be NULL) owns
 * the detector's session as model `name`, the residency's ladder: release
 * idle models and retry, move to the CPU, until the ladder gives up. Returns
 * 0 or the error, its message recorded in ctx. */
int vgi_detect_laddered(vg_context *ctx, vg_residency *r, const char *name,
                        vg_detector *det, const vg_frame *f, vg_detection *dets,
                        int cap, int *n);

/* What travels from the decode thread: a frame, or the end of the stream. */
enum {
    VGI_MARK_FRAME = 0,
    /* A live input dropped: src is the old source, which the receiver
     * closes (after forgetting its pools); its frames are all before. */
    VGI_MARK_DROPPED = 1,
    /* Reconnected: src is the new source (not the receiver's to close). */
    VGI_MARK_RECONNECTED = 2
};

typedef struct vgi_frame_item {
    vg_frame frame;
    int end_code; /* 0 for a frame; VG_EOF / error code for the end marker */
    int marker;   /* VGI_MARK_*; end_code is 0 with a marker */
    vg_source *src;
    int64_t arrival_ns; /* a frame: vg_clock_ns() when the source gave it */
} vgi_frame_item;

typedef struct vgi_decoder {
    vg_source *src;
    vg_queue *q; /* of vgi_frame_item */
    int64_t max_frames;
    atomic_int stop;
    double busy_s;              /* time spent in vg_source_read */
    unsigned long long dropped; /* frames evicted (live), by finish */
    char message[256]; /* the source's message when it ended in error */
    pthread_t thread;
    int started;
    /* Live inputs only (vgi_decoder_start_live): the reconnection. */
    vg_context *ctx;
    vg_reconnect *rc;         /* borrowed; NULL: end at the first failure */
    const vg_source_opts *so; /* how to reopen */
    const char *url, *name;
    int width, height;  /* the size a new connection must have */
    int64_t next_index; /* indexes and times continue across drops */
    double next_time, frame_dt;
    int64_t index_base;
    double time_base;
    int rebase;
} vgi_decoder;

/* Creates the queue (depth items) and starts the decode thread. Returns 0,
 * VG_ENOMEM (nothing held). */
int vgi_decoder_start(vg_context *ctx, vgi_decoder *d, vg_source *src,
                      unsigned depth, int64_t max_frames);

/* The same for a live input: the queue never holds the decoder back; when
 * it is full the oldest frame in it is evicted (its buffers go back to their
 * pools; markers and the end are never evicted), counted in d->dropped. A
 * read that fails (network, timeout, end) reports to rc and, while rc says
 * so, the decoder waits, reopens url with so and goes on, sending
 * VGI_MARK_DROPPED / VGI_MARK_RECONNECTED items. rc NULL: no reconnection
 * (the stream ends at the first failure; src stays the caller's; so and url
 * are unused). src may be NULL only with rc (not connected yet: rc is then
 * in BACKOFF or CONNECTING).
 * The source in d->src at the end is the caller's to close; the caller
 * closes every VGI_MARK_DROPPED source it pops, and vgi_decoder_finish
 * those it drains. */
int vgi_decoder_start_live(vg_context *ctx, vgi_decoder *d, vg_source *src,
                           unsigned depth, int64_t max_frames, vg_reconnect *rc,
                           const vg_source_opts *so, const char *url,
                           const char *name, int width, int height, double fps);

/* Asks the decode thread to stop early (after its current frame). */
void vgi_decoder_request_stop(vgi_decoder *d);

/* Stops if needed, releases every frame still queued, joins the thread and
 * destroys the queue. Returns the queue's high-water mark. */
unsigned vgi_decoder_finish(vgi_decoder *d);

#endif
