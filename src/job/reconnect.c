/* The live-camera state machine; see include/vigil/reconnect.h. */
#include "vigil/reconnect.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vigil/clock.h"
#include "vigil/err.h"

struct vg_reconnect {
    vg_context *ctx;
    vg_reconnect_opts o;
    pthread_mutex_t mu;
    uint64_t prng;
    int state;
    int stop_reason;
    int64_t since; /* start of the current state */
    int64_t created;
    int64_t live_since; /* start of the current LIVE stretch */
    int64_t last_frame; /* last frame (or connect) while LIVE */
    int64_t wait_until; /* BACKOFF end */
    double last_backoff_s;
    uint64_t attempts, connects_ok, drops, stalls;
    int64_t frames;
    unsigned failures, attempts_window;
    int64_t time_in[VG_RECONNECT_NSTATES];
    char last_error[VG_RECONNECT_ERROR_MAX];
};

static void default_sleep(void *user, int64_t ns)
{
    (void)user;
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000LL),
                          (long)(ns % 1000000000LL)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

vg_reconnect_opts vg_reconnect_defaults(void)
{
    vg_reconnect_opts o;
    memset(&o, 0, sizeof(o));
    o.backoff_initial_s = 1.0;
    o.backoff_max_s = 30.0;
    o.backoff_factor = 2.0;
    o.jitter = 0.2;
    o.reset_after_s = 60.0;
    o.stall_s = 10.0;
    return o;
}

uint64_t vg_reconnect_seed(const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = name ? name : ""; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return h;
}

/* splitmix64: a full-period 64-bit generator, any seed is fine. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int64_t now_of(vg_reconnect *rc)
{
    return rc->o.now_ns(rc->o.clock_user);
}

static int64_t seconds_ns(double s)
{
    return (int64_t)llround(s * 1e9);
}

/* Moves to state at time now, adding the time spent in the old one. */
static void enter(vg_reconnect *rc, int state, int64_t now)
{
    int64_t spent = now - rc->since;
    if (spent > 0)
        rc->time_in[rc->state] += spent;
    if (now > rc->since)
        rc->since = now;
    rc->state = state;
}

static void set_error(vg_reconnect *rc, const char *msg)
{
    snprintf(rc->last_error, sizeof(rc->last_error), "%s", msg ? msg : "");
}

static void begin_attempt(vg_reconnect *rc, int64_t now)
{
    rc->attempts++;
    rc->attempts_window++;
    enter(rc, VG_RECONNECT_CONNECTING, now);
}

/* A LIVE stretch long enough forgives earlier failures. */
static void maybe_reset(vg_reconnect *rc, int64_t now)
{
    if (rc->state == VG_RECONNECT_LIVE &&
        now - rc->live_since >= seconds_ns(rc->o.reset_after_s)) {
        rc->failures = 0;
        rc->attempts_window = 0;
    }
}

/* One more failure: BACKOFF with the next delay, or STOPPED at the limit. */
static void fail(vg_reconnect *rc, int64_t now)
{
    if (rc->o.max_attempts > 0 && rc->attempts_window >= rc->o.max_attempts) {
        rc->stop_reason = VG_RECONNECT_ATTEMPT_LIMIT;
        enter(rc, VG_RECONNECT_STOPPED, now);
        return;
    }
    rc->failures++;
    double d = rc->o.backoff_initial_s;
    for (unsigned k = 1; k < rc->failures && d < rc->o.backoff_max_s; k++)
        d *= rc->o.backoff_factor;
    if (d > rc->o.backoff_max_s)
        d = rc->o.backoff_max_s;
    /* uniform in [1 - jitter, 1 + jitter] from 53 random bits */
    double u = (double)(next_random(&rc->prng) >> 11) / 9007199254740992.0;
    d *= 1.0 + rc->o.jitter * (2.0 * u - 1.0);
    rc->last_backoff_s = d;
    rc->wait_until = now + seconds_ns(d);
    enter(rc, VG_RECONNECT_BACKOFF, now);
}

int vg_reconnect_create(vg_context *ctx, const vg_reconnect_opts *opts,
                        vg_reconnect **out)
{
    vg_reconnect_opts o = opts ? *opts : vg_reconnect_defaults();
    *out = NULL;
    if (!(o.backoff_initial_s > 0) || !(o.backoff_max_s > 0) ||
        !(o.backoff_factor >= 1) || !(o.jitter >= 0 && o.jitter <= 1) ||
        !(o.stall_s >= 0) || !(o.reset_after_s >= 0) || o.backoff_max_s > 1e6 ||
        o.stall_s > 1e6 || o.reset_after_s > 1e6)
        return vg_fail(ctx, VG_EINVAL,
                       "reconnect options: initial %g s, max %g s, factor %g, "
                       "jitter %g, stall %g s, reset %g s: out of range",
                       o.backoff_initial_s, o.backoff_max_s, o.backoff_factor,
                       o.jitter, o.stall_s, o.reset_after_s);
    if (!o.now_ns)
        o.now_ns = vg_clock_ns_fn;
    if (!o.sleep_ns)
        o.sleep_ns = default_sleep;
    vg_reconnect *rc = vg_calloc(ctx, 1, sizeof(*rc));
    if (!rc)
        return vg_fail(ctx, VG_ENOMEM, "reconnect: out of memory");
    if (pthread_mutex_init(&rc->mu, NULL) != 0) {
        vg_free(ctx, rc);
        return vg_fail(ctx, VG_ENOMEM, "reconnect: cannot create a mutex");
    }
    rc->ctx = ctx;
    rc->o = o;
    rc->prng = o.seed;
    rc->created = rc->since = now_of(rc);
    rc->state = VG_RECONNECT_CONNECTING;
    rc->attempts = rc->attempts_window = 1;
    *out = rc;
    return 0;
}

void vg_reconnect_destroy(vg_reconnect **rc)
{
    if (!rc || !*rc)
        return;
    pthread_mutex_destroy(&(*rc)->mu);
    vg_free((*rc)->ctx, *rc);
    *rc = NULL;
}

/* Takes rc's lock for an event that fits only in state `expected`: returns
 * 0 with the lock held and *now read, or VG_ECLOSED (stopped) / VG_EINVAL
 * (another state) with the lock released and nothing changed. */
static int event_begin(vg_reconnect *rc, int expected, int64_t *now)
{
    pthread_mutex_lock(&rc->mu);
    *now = now_of(rc);
    if (rc->state == VG_RECONNECT_STOPPED || rc->state != expected) {
        int ret = rc->state == VG_RECONNECT_STOPPED ? VG_ECLOSED : VG_EINVAL;
        pthread_mutex_unlock(&rc->mu);
        return ret;
    }
    return 0;
}

int vg_reconnect_connect_ok(vg_reconnect *rc)
{
    int64_t now;
    int ret = event_begin(rc, VG_RECONNECT_CONNECTING, &now);
    if (ret < 0)
        return ret;
    rc->connects_ok++;
    rc->live_since = rc->last_frame = now;
    enter(rc, VG_RECONNECT_LIVE, now);
    pthread_mutex_unlock(&rc->mu);
    return 0;
}

int vg_reconnect_connect_failed(vg_reconnect *rc, const char *msg)
{
    int64_t now;
    int ret = event_begin(rc, VG_RECONNECT_CONNECTING, &now);
    if (ret < 0)
        return ret;
    set_error(rc, msg);
    fail(rc, now);
    pthread_mutex_unlock(&rc->mu);
    return 0;
}

int vg_reconnect_frame_arrived(vg_reconnect *rc)
{
    int64_t now;
    int ret = event_begin(rc, VG_RECONNECT_LIVE, &now);
    if (ret < 0)
        return ret;
    rc->frames++;
    rc->last_frame = now;
    maybe_reset(rc, now);
    pthread_mutex_unlock(&rc->mu);
    return 0;
}

int vg_reconnect_read_failed(vg_reconnect *rc, const char *msg)
{
    int64_t now;
    int ret = event_begin(rc, VG_RECONNECT_LIVE, &now);
    if (ret < 0)
        return ret;
    maybe_reset(rc, now);
    rc->drops++;
    set_error(rc, msg);
    enter(rc, VG_RECONNECT_DROPPED, now);
    pthread_mutex_unlock(&rc->mu);
    return 0;
}

static void stop_locked(vg_reconnect *rc, int64_t now)
{
    if (rc->state == VG_RECONNECT_STOPPED)
        return;
    rc->stop_reason = VG_RECONNECT_STOP_REQUESTED;
    rc->wait_until = 0;
    enter(rc, VG_RECONNECT_STOPPED, now);
}

int vg_reconnect_stop(vg_reconnect *rc)
{
    pthread_mutex_lock(&rc->mu);
    stop_locked(rc, now_of(rc));
    pthread_mutex_unlock(&rc->mu);
    return 0;
}

/* The time-driven transitions at now; returns the action. */
static int step(vg_reconnect *rc, int64_t now, int64_t *until_ns)
{
    if (rc->state == VG_RECONNECT_LIVE) {
        maybe_reset(rc, now);
        if (rc->o.stall_s > 0 &&
            now - rc->last_frame >= seconds_ns(rc->o.stall_s)) {
            rc->stalls++;
            snprintf(rc->last_error, sizeof(rc->last_error),
                     "no frame for %.1f s (stall limit %.1f s)",
                     (double)(now - rc->last_frame) / 1e9, rc->o.stall_s);
            enter(rc, VG_RECONNECT_STALLED, now);
        }
    }
    if (rc->state == VG_RECONNECT_STALLED || rc->state == VG_RECONNECT_DROPPED)
        fail(rc, now);
    if (rc->state == VG_RECONNECT_BACKOFF && now >= rc->wait_until)
        begin_attempt(rc, now);
    switch (rc->state) {
    case VG_RECONNECT_CONNECTING:
        return VG_RECONNECT_CONNECT;
    case VG_RECONNECT_BACKOFF:
        if (until_ns)
            *until_ns = rc->wait_until;
        return VG_RECONNECT_WAIT;
    case VG_RECONNECT_LIVE:
        return VG_RECONNECT_READ;
    default:
        return VG_RECONNECT_GIVE_UP;
    }
}

int vg_reconnect_next_action(vg_reconnect *rc, int64_t *until_ns)
{
    pthread_mutex_lock(&rc->mu);
    int a = step(rc, now_of(rc), until_ns);
    pthread_mutex_unlock(&rc->mu);
    return a;
}

int vg_reconnect_wait(vg_reconnect *rc)
{
    for (;;) {
        pthread_mutex_lock(&rc->mu);
        int64_t now = now_of(rc);
        if (vg_context_stop_requested(rc->ctx))
            stop_locked(rc, now);
        int state = rc->state;
        int64_t left = rc->wait_until - now;
        pthread_mutex_unlock(&rc->mu);
        if (state == VG_RECONNECT_STOPPED)
            return VG_EINTR;
        if (state != VG_RECONNECT_BACKOFF || left <= 0)
            return 0;
        rc->o.sleep_ns(rc->o.sleep_user, left < VG_RECONNECT_POLL_NS
                                             ? left
                                             : VG_RECONNECT_POLL_NS);
    }
}

void vg_reconnect_stats_get(vg_reconnect *rc, vg_reconnect_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&rc->mu);
    int64_t now = now_of(rc);
    out->state = rc->state;
    out->stop_reason = rc->stop_reason;
    out->state_since_ns = rc->since;
    out->created_ns = rc->created;
    out->attempts = rc->attempts;
    out->reconnects = rc->attempts - 1;
    out->connects_ok = rc->connects_ok;
    out->drops = rc->drops;
    out->stalls = rc->stalls;
    out->failures = rc->failures;
    out->attempts_window = rc->attempts_window;
    out->next_attempt_ns =
        rc->state == VG_RECONNECT_BACKOFF ? rc->wait_until : 0;
    out->last_backoff_s = rc->last_backoff_s;
    out->frames = rc->frames;
    memcpy(out->time_in_state_ns, rc->time_in, sizeof(rc->time_in));
    if (now > rc->since)
        out->time_in_state_ns[rc->state] += now - rc->since;
    memcpy(out->last_error, rc->last_error, sizeof(out->last_error));
    pthread_mutex_unlock(&rc->mu);
}

const char *vg_reconnect_state_name(int state)
{
    static const char *const names[VG_RECONNECT_NSTATES] = {
        "connecting", "live", "stalled", "dropped", "backoff", "stopped"};
    return state >= 0 && state < VG_RECONNECT_NSTATES ? names[state] : "?";
}

int vg_reconnect_give_up_code(int last_code)
{
    if (last_code >= 0 || last_code == VG_EOF || last_code == VG_ETRUNCATED)
        return VG_ENET;
    return last_code;
}
