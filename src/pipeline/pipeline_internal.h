/* Internal to the library: the decode stage shared by the detect pipeline,
 * the CCTV job and the faces job (src/faces), and detection under the
 * residency's ladder shared by the CCTV and staged jobs. */
#ifndef VIGIL_PIPELINE_INTERNAL_H
#define VIGIL_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "vigil/detect.h"
#include "vigil/queue.h"
#include "vigil/reconnect.h"
#include "vigil/residency.h"
#include "vigil/rules.h"
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

/* ---- a camera's live view, rules and figures (vg_job hooks) ----------- */

#define VGI_LIVE_SAMPLES 16             /* rate samples kept */
#define VGI_LIVE_SAMPLE_NS 250000000LL  /* one sample per 250 ms at most */
#define VGI_LIVE_WINDOW_NS 3000000000LL /* fps over the last 3 s */

/* Shared by a job (any thread reads) and the threads of the camera's run
 * (vg_run_opts.live; they write). The job owns it: vgi_live_init when the
 * camera is added, vgi_live_destroy when its slot goes. Every function is
 * thread-safe; none blocks longer than a short critical section except
 * vgi_live_read, which copies (and scales) outside the lock. */
typedef struct vgi_live {
    vg_context *ctx; /* allocations */
    pthread_mutex_t lock;
    atomic_int viewers;
    /* latest-frame slot: two packed RGB24 pictures of w x h, allocated
     * once by vgi_live_begin; the writer fills one that is neither the
     * latest nor read, readers pin the latest while they copy it */
    uint8_t *buf[2];
    int pinned[2];
    int latest;   /* buffer of the newest picture, -1: none */
    int writing;  /* buffer being written, -1: none */
    uint64_t seq; /* of the newest picture (0: none yet) */
    int w, h;
    uint64_t skipped; /* pictures not kept: both buffers being read */
    /* rules waiting for the camera's thread */
    vg_rules_config pending;
    atomic_int has_pending;
    /* figures */
    atomic_llong frames, detected, dropped, memory_bytes;
    atomic_int width, height, is_live;
    vg_reconnect *rcm; /* the run's reconnect machine while it has one */
    int last_state;    /* its state and reconnects when it went (lock) */
    int64_t last_reconnects;
    int has_last;
    struct {
        int64_t t_ns, frames, detected;
    } samples[VGI_LIVE_SAMPLES];
    int n_samples, next_sample;
} vgi_live;

typedef struct vgi_live_figures {
    double fps, detect_fps;
    int64_t frames_dropped, reconnects, memory_bytes;
    int live_state; /* enum vg_reconnect_state; -1: a file */
    int width, height;
} vgi_live_figures;

/* Sets up l (nothing allocated but the lock). 0 or VG_ENOMEM. */
int vgi_live_init(vg_context *ctx, vgi_live *l);
/* Frees the pictures and any pending rules; accepts a zeroed l. */
void vgi_live_destroy(vgi_live *l);

/* The run starts on w x h pictures: the slot's two pictures are allocated
 * (once: a later call with the same size keeps them). 0 or VG_ENOMEM. */
int vgi_live_begin(vgi_live *l, int w, int h, int is_live);

/* Viewers: adds delta, returns the new count (never below 0). */
int vgi_live_watch(vgi_live *l, int delta);
int vgi_live_wanted(vgi_live *l);

/* The writer (one thread): a picture of w x h x 3 bytes to fill, or NULL
 * (no slot, or both pictures are being read: this frame is not kept);
 * then vgi_live_write_end publishes it with the next sequence number. */
uint8_t *vgi_live_write_begin(vgi_live *l);
void vgi_live_write_end(vgi_live *l);

/* vg_job_frame_get on l: 1 copied, 0 nothing newer than *seq, VG_ERANGE. */
int vgi_live_read(vgi_live *l, int max_width, uint64_t *seq, uint8_t *out,
                  size_t cap, int *w, int *h);

/* Size of the picture vgi_live_read gives for max_width (0: full size). */
void vgi_live_scaled_size(int w, int h, int max_width, int *ow, int *oh);

/* Per frame (the camera's thread): totals so far; takes a rate sample at
 * most every VGI_LIVE_SAMPLE_NS. */
void vgi_live_frame_done(vgi_live *l, int64_t frames, int64_t detected,
                         int64_t dropped);

/* The reconnect machine of a live input while the run holds it (NULL when
 * it goes). */
void vgi_live_set_reconnect(vgi_live *l, vg_reconnect *rcm);

void vgi_live_figures_get(vgi_live *l, vgi_live_figures *out);

/* Replaces the rules waiting for the camera's thread with a copy of cfg.
 * 0 or VG_ENOMEM (nothing changed). */
int vgi_live_set_rules(vgi_live *l, const vg_rules_config *cfg);
/* The camera's thread: 1 and *out (the caller frees it with
 * vg_rules_config_free) when rules are waiting, else 0. */
int vgi_live_take_rules(vgi_live *l, vg_rules_config *out);

#endif
