/*
 * vg_reconnect: the state machine of a live camera (RTSP, HTTP, a device):
 * when to connect, when to read, when to wait and when to give up. It does no
 * I/O: the stream thread reports what happened and asks what to do next.
 *
 *   vg_reconnect_opts o = vg_reconnect_defaults();
 *   o.seed = vg_reconnect_seed("cam-gate");   // cameras do not retry in step
 *   vg_reconnect *rc;
 *   if (vg_reconnect_create(ctx, &o, &rc) < 0) return rc_error;
 *   for (;;) {
 *       int64_t until;
 *       switch (vg_reconnect_next_action(rc, &until)) {
 *       case VG_RECONNECT_CONNECT:
 *           vg_source_close(&src);            // a stall or a drop left it open
 *           if (open_camera(&src) == 0) vg_reconnect_connect_ok(rc);
 *           else vg_reconnect_connect_failed(rc, vg_context_errmsg(ctx));
 *           break;
 *       case VG_RECONNECT_WAIT:               // backoff: close, then sleep
 *           vg_source_close(&src);
 *           if (vg_reconnect_wait(rc) == VG_EINTR) goto stopped;
 *           break;
 *       case VG_RECONNECT_READ:
 *           if (read_frame(src, &f) == 0) vg_reconnect_frame_arrived(rc);
 *           else vg_reconnect_read_failed(rc, vg_context_errmsg(ctx));
 *           break;
 *       case VG_RECONNECT_GIVE_UP: goto stopped;
 *       }
 *   }
 *   stopped: vg_reconnect_destroy(&rc);
 *
 * States: CONNECTING -> LIVE -> (STALLED | DROPPED) -> BACKOFF -> CONNECTING,
 * CONNECTING -> BACKOFF on a failed connect, and STOPPED (final) when
 * vg_reconnect_stop() is called or the attempt limit is reached.
 *
 * Backoff: the k-th consecutive failure (a failed connect, a drop or a stall)
 * waits min(backoff_max_s, backoff_initial_s * backoff_factor^(k-1)) scaled by
 * a factor drawn uniformly from [1 - jitter, 1 + jitter] by a PRNG seeded
 * with opts.seed (the same seed gives the same sequence). A stream that stays
 * LIVE for reset_after_s resets the count (the next failure waits ~1 s again)
 * and the attempt count. A LIVE stream with no frame for stall_s is STALLED.
 *
 * Attempts: every entry into CONNECTING is one attempt. With max_attempts > 0
 * the machine stops (STOPPED, next action GIVE_UP) when a failure happens
 * after max_attempts attempts made since the last reset, so a camera that
 * connects and drops at once cannot loop for ever either.
 *
 * Time comes from opts.now_ns; every function reads it, none takes a time.
 * No allocation after create. Thread-safety: every function is thread-safe
 * (an internal mutex), so a telemetry thread may read the stats while the
 * stream thread drives the machine; vg_reconnect_wait must not run in two
 * threads at once.
 */
#ifndef VIGIL_RECONNECT_H
#define VIGIL_RECONNECT_H

#include <stdint.h>

#include "vigil/context.h"

#define VG_RECONNECT_ERROR_MAX 256
/* Longest single sleep of vg_reconnect_wait between stop-flag polls. */
#define VG_RECONNECT_POLL_NS 100000000LL

typedef struct vg_reconnect vg_reconnect;

enum vg_reconnect_state {
    VG_RECONNECT_CONNECTING = 0,
    VG_RECONNECT_LIVE = 1,
    VG_RECONNECT_STALLED = 2, /* LIVE with no frame for stall_s */
    VG_RECONNECT_DROPPED = 3, /* a read failed */
    VG_RECONNECT_BACKOFF = 4,
    VG_RECONNECT_STOPPED = 5,
    VG_RECONNECT_NSTATES = 6
};

enum vg_reconnect_action {
    VG_RECONNECT_CONNECT = 0, /* open the camera now */
    VG_RECONNECT_WAIT = 1,    /* close it and wait until the given time */
    VG_RECONNECT_READ = 2,    /* read the next frame */
    VG_RECONNECT_GIVE_UP = 3  /* STOPPED: close and end the stream */
};

enum vg_reconnect_stop_reason {
    VG_RECONNECT_RUNNING = 0,
    VG_RECONNECT_STOP_REQUESTED = 1, /* vg_reconnect_stop or the ctx flag */
    VG_RECONNECT_ATTEMPT_LIMIT = 2
};

typedef struct vg_reconnect_opts {
    double backoff_initial_s; /* first wait (1) */
    double backoff_max_s;     /* cap (30) */
    double backoff_factor;    /* growth per failure (2) */
    double jitter;            /* relative, 0..1 (0.2: +-20 %) */
    double reset_after_s;     /* LIVE this long resets backoff (60) */
    double stall_s;           /* no frame this long while LIVE (10) */
    unsigned max_attempts;    /* 0: for ever (0) */
    uint64_t seed;            /* jitter PRNG seed (0 is a valid seed) */
    /* Clock in ns, monotonic; NULL: vg_clock_ns. */
    int64_t (*now_ns)(void *user);
    void *clock_user;
    /* Sleeps ns nanoseconds (at most VG_RECONNECT_POLL_NS per call);
     * NULL: nanosleep. Tests pass one that advances their clock. */
    void (*sleep_ns)(void *user, int64_t ns);
    void *sleep_user;
} vg_reconnect_opts;

typedef struct vg_reconnect_stats {
    int state;                /* enum vg_reconnect_state */
    int stop_reason;          /* enum vg_reconnect_stop_reason */
    int64_t state_since_ns;   /* clock time the current state began */
    int64_t created_ns;       /* clock time of create */
    uint64_t attempts;        /* connect attempts, all time */
    uint64_t reconnects;      /* attempts after the first */
    uint64_t connects_ok;     /* successful connects */
    uint64_t drops;           /* read failures while LIVE */
    uint64_t stalls;          /* stall watchdog firings */
    unsigned failures;        /* consecutive failures since the last reset */
    unsigned attempts_window; /* attempts since the last reset */
    int64_t next_attempt_ns;  /* BACKOFF: when it ends; else 0 */
    double last_backoff_s;    /* last wait chosen, jitter included */
    int64_t frames;           /* frames reported, all time */
    /* Time spent in each state up to the moment of the call (the current
     * state included); the sum equals now - created_ns. */
    int64_t time_in_state_ns[VG_RECONNECT_NSTATES];
    char last_error[VG_RECONNECT_ERROR_MAX]; /* "" when none */
} vg_reconnect_stats;

/* The defaults above. */
vg_reconnect_opts vg_reconnect_defaults(void);

/* A seed from a stream name (FNV-1a), so that cameras differ but each one's
 * sequence is reproducible. name NULL gives 0's hash of "". */
uint64_t vg_reconnect_seed(const char *name);

/* Creates a machine in CONNECTING (attempt 1 counted). opts NULL: defaults.
 * Returns 0, VG_EINVAL (a non-positive initial/max/factor < 1, jitter outside
 * 0..1, negative stall_s or reset_after_s, with a message in ctx) or
 * VG_ENOMEM; *out is NULL on failure. The caller destroys it. */
int vg_reconnect_create(vg_context *ctx, const vg_reconnect_opts *opts,
                        vg_reconnect **out);

/* Frees the machine and sets *rc to NULL; accepts NULL. No other thread may
 * be using it. */
void vg_reconnect_destroy(vg_reconnect **rc);

/* ---- events (from the stream thread) -------------------------------------
 * Each returns 0, or VG_EINVAL when the event does not fit the state (then
 * nothing changes; e.g. connect_ok while LIVE), or VG_ECLOSED once STOPPED. */

/* CONNECTING -> LIVE; the stall watchdog starts from now. */
int vg_reconnect_connect_ok(vg_reconnect *rc);
/* CONNECTING -> BACKOFF (or STOPPED at the attempt limit). msg (may be NULL)
 * is copied, truncated to VG_RECONNECT_ERROR_MAX - 1 bytes. */
int vg_reconnect_connect_failed(vg_reconnect *rc, const char *msg);
/* LIVE: a frame came; feeds the stall watchdog and the backoff reset. */
int vg_reconnect_frame_arrived(vg_reconnect *rc);
/* LIVE -> DROPPED; the next action is WAIT (backoff) or GIVE_UP. */
int vg_reconnect_read_failed(vg_reconnect *rc, const char *msg);
/* Any state -> STOPPED (reason STOP_REQUESTED); idempotent, returns 0. */
int vg_reconnect_stop(vg_reconnect *rc);

/* ---- what next -----------------------------------------------------------
 * Runs the time-driven transitions (stall watchdog, backoff reset, backoff
 * end, DROPPED/STALLED -> BACKOFF) and returns the action:
 *   CONNECT  state CONNECTING;
 *   WAIT     state BACKOFF, *until_ns (may be NULL) = when it ends;
 *   READ     state LIVE;
 *   GIVE_UP  state STOPPED.
 * After LIVE, a WAIT means: close the connection before waiting. */
int vg_reconnect_next_action(vg_reconnect *rc, int64_t *until_ns);

/* Sleeps until the current backoff ends, in slices of at most
 * VG_RECONNECT_POLL_NS through opts.sleep_ns, polling
 * vg_context_stop_requested() of the machine's ctx before each slice.
 * Returns 0 when the wait is over (or there was none: the state is not
 * BACKOFF), or VG_EINTR when the stop flag was seen (the machine is then
 * STOPPED, reason STOP_REQUESTED) or vg_reconnect_stop() was called. */
int vg_reconnect_wait(vg_reconnect *rc);

/* Fills *out as of now. */
void vg_reconnect_stats_get(vg_reconnect *rc, vg_reconnect_stats *out);

/* The code a camera that gave up ends with, from the code that ended its
 * last connection: VG_ENET when that was the stream ending (VG_EOF) or data
 * cut mid-packet (VG_ETRUNCATED, which for a file means a truncated input,
 * exit 3); any other failure (VG_ENOMEM, VG_ETIMEOUT, ...) as it is. */
int vg_reconnect_give_up_code(int last_code);

/* "connecting", "live", "stalled", "dropped", "backoff", "stopped", "?". */
const char *vg_reconnect_state_name(int state);

#endif
