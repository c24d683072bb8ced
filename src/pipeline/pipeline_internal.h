/* Internal to the pipeline module: the decode stage shared by the detect
 * pipeline and the CCTV job, and detection under the residency's ladder
 * shared by the CCTV and staged jobs. */
#ifndef VIGIL_PIPELINE_INTERNAL_H
#define VIGIL_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "vigil/detect.h"
#include "vigil/queue.h"
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
typedef struct vgi_frame_item {
    vg_frame frame;
    int end_code; /* 0 for a frame; VG_EOF / error code for the end marker */
} vgi_frame_item;

typedef struct vgi_decoder {
    vg_source *src;
    vg_queue *q; /* of vgi_frame_item */
    int64_t max_frames;
    atomic_int stop;
    double busy_s;     /* time spent in vg_source_read */
    char message[256]; /* the source's message when it ended in error */
    pthread_t thread;
    int started;
} vgi_decoder;

/* Creates the queue (depth items) and starts the decode thread. Returns 0,
 * VG_ENOMEM (nothing held). */
int vgi_decoder_start(vg_context *ctx, vgi_decoder *d, vg_source *src,
                      unsigned depth, int64_t max_frames);

/* Asks the decode thread to stop early (after its current frame). */
void vgi_decoder_request_stop(vgi_decoder *d);

/* Stops if needed, releases every frame still queued, joins the thread and
 * destroys the queue. Returns the queue's high-water mark. */
unsigned vgi_decoder_finish(vgi_decoder *d);

#endif
