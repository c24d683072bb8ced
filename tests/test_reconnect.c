/* vg_reconnect: the live-camera state machine, driven by a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/reconnect.h"

#define S(x) ((int64_t)((x)*1e9))

typedef struct fake {
    int64_t now;
    int sleeps;        /* calls of the sleeper */
    int64_t max_slice; /* longest slice asked for */
    int stop_at_sleep; /* request a stop on this call (0: never) */
    vg_context *ctx;
} fake;

static int64_t fake_now(void *user)
{
    return ((fake *)user)->now;
}

static void fake_sleep(void *user, int64_t ns)
{
    fake *f = user;
    f->sleeps++;
    if (ns > f->max_slice)
        f->max_slice = ns;
    f->now += ns;
    if (f->stop_at_sleep && f->sleeps == f->stop_at_sleep)
        vg_context_request_stop(f->ctx);
}

typedef struct fixture {
    vg_context *ctx;
    fake f;
} fixture;

static int setup(void **state)
{
    static fixture fx;
    memset(&fx, 0, sizeof(fx));
    if (vg_context_create(&fx.ctx) < 0)
        return -1;
    vg_context_set_log_level(fx.ctx, VG_LOG_QUIET);
    fx.f.now = S(1000);
    fx.f.ctx = fx.ctx;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(fx->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&fx->ctx);
    return 0;
}

static vg_reconnect_opts opts_for(fixture *fx)
{
    vg_reconnect_opts o = vg_reconnect_defaults();
    o.now_ns = fake_now;
    o.clock_user = &fx->f;
    o.sleep_ns = fake_sleep;
    o.sleep_user = &fx->f;
    o.seed = 42;
    return o;
}

/* Fails the connect at every attempt, n times; records the waits chosen. */
static void fail_n(fixture *fx, vg_reconnect *rc, int n, double *waits)
{
    for (int i = 0; i < n; i++) {
        int64_t until = 0;
        assert_int_equal(vg_reconnect_next_action(rc, NULL),
                         VG_RECONNECT_CONNECT);
        assert_int_equal(vg_reconnect_connect_failed(rc, "refused"), 0);
        assert_int_equal(vg_reconnect_next_action(rc, &until),
                         VG_RECONNECT_WAIT);
        if (waits)
            waits[i] = (double)(until - fx->f.now) / 1e9;
        fx->f.now = until;
    }
}

static void test_backoff_doubles_to_cap_within_jitter(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    double w[8];
    const double expect[8] = {1, 2, 4, 8, 16, 30, 30, 30};

    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    fail_n(fx, rc, 8, w);
    for (int i = 0; i < 8; i++) {
        assert_true(w[i] >= expect[i] * 0.8 - 1e-9);
        assert_true(w[i] <= expect[i] * 1.2 + 1e-9);
    }
    /* jitter is applied: not every wait sits exactly on the nominal value */
    int off = 0;
    for (int i = 0; i < 8; i++)
        off += w[i] != expect[i];
    assert_true(off > 0);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_CONNECT);
    vg_reconnect_stats st;
    vg_reconnect_stats_get(rc, &st);
    assert_int_equal(st.attempts, 9);
    assert_int_equal(st.reconnects, 8);
    assert_int_equal(st.failures, 8);
    assert_string_equal(st.last_error, "refused");
    assert_int_equal(st.state, VG_RECONNECT_CONNECTING);
    vg_reconnect_destroy(&rc);
    assert_null(rc);
}

static void test_backoff_is_deterministic_for_a_seed(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *a, *b, *c;
    double wa[6], wb[6], wc[6];

    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &a), 0);
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &b), 0);
    o.seed = vg_reconnect_seed("another camera");
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &c), 0);
    fail_n(fx, a, 6, wa);
    fail_n(fx, b, 6, wb);
    fail_n(fx, c, 6, wc);
    assert_memory_equal(wa, wb, sizeof(wa));
    assert_memory_not_equal(wa, wc, sizeof(wa));
    vg_reconnect_destroy(&a);
    vg_reconnect_destroy(&b);
    vg_reconnect_destroy(&c);
}

static void test_no_jitter_gives_exact_sequence(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    double w[7];
    const double expect[7] = {1, 2, 4, 8, 16, 30, 30};

    o.jitter = 0;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    fail_n(fx, rc, 7, w);
    for (int i = 0; i < 7; i++)
        assert_true(w[i] == expect[i]);
    vg_reconnect_destroy(&rc);
}

static void go_live(fixture *fx, vg_reconnect *rc)
{
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_CONNECT);
    assert_int_equal(vg_reconnect_connect_ok(rc), 0);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_READ);
    (void)fx;
}

/* Frames every second for secs seconds. */
static void run_live(fixture *fx, vg_reconnect *rc, int secs)
{
    for (int i = 0; i < secs; i++) {
        fx->f.now += S(1);
        assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_READ);
        assert_int_equal(vg_reconnect_frame_arrived(rc), 0);
    }
}

static void test_backoff_resets_after_60s_live(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    int64_t until;

    o.jitter = 0;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    fail_n(fx, rc, 4, NULL); /* waits 1, 2, 4, 8 */
    go_live(fx, rc);
    run_live(fx, rc, 10); /* too short to forgive */
    assert_int_equal(vg_reconnect_read_failed(rc, "EOF"), 0);
    assert_int_equal(vg_reconnect_next_action(rc, &until), VG_RECONNECT_WAIT);
    assert_true(until - fx->f.now == S(16));
    fx->f.now = until;
    go_live(fx, rc);
    run_live(fx, rc, 61);
    assert_int_equal(vg_reconnect_read_failed(rc, "EOF"), 0);
    assert_int_equal(vg_reconnect_next_action(rc, &until), VG_RECONNECT_WAIT);
    assert_true(until - fx->f.now == S(1));
    vg_reconnect_stats st;
    vg_reconnect_stats_get(rc, &st);
    assert_int_equal(st.drops, 2);
    assert_int_equal(st.connects_ok, 2);
    assert_int_equal(st.frames, 71);
    assert_int_equal(st.failures, 1);
    assert_string_equal(st.last_error, "EOF");
    vg_reconnect_destroy(&rc);
}

static void test_stall_without_frames_leads_to_reconnect(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    vg_reconnect_stats st;
    int64_t until;

    o.jitter = 0;
    o.stall_s = 5;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    go_live(fx, rc);
    run_live(fx, rc, 3);
    fx->f.now += S(4) + 900000000; /* just under the limit: still LIVE */
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_READ);
    fx->f.now += 100000000;
    assert_int_equal(vg_reconnect_next_action(rc, &until), VG_RECONNECT_WAIT);
    assert_true(until - fx->f.now == S(1));
    vg_reconnect_stats_get(rc, &st);
    assert_int_equal(st.stalls, 1);
    assert_int_equal(st.state, VG_RECONNECT_BACKOFF);
    assert_non_null(strstr(st.last_error, "no frame"));
    /* a frame that comes too late is refused: the connection is gone */
    assert_int_equal(vg_reconnect_frame_arrived(rc), VG_EINVAL);
    fx->f.now = until;
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_CONNECT);
    vg_reconnect_stats_get(rc, &st);
    assert_int_equal(st.reconnects, 1);
    vg_reconnect_destroy(&rc);
}

static void test_attempt_limit_gives_up(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    vg_reconnect_stats st;

    o.max_attempts = 3;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    fail_n(fx, rc, 2, NULL);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_CONNECT);
    assert_int_equal(vg_reconnect_connect_failed(rc, "host unreachable"), 0);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_GIVE_UP);
    vg_reconnect_stats_get(rc, &st);
    assert_int_equal(st.state, VG_RECONNECT_STOPPED);
    assert_int_equal(st.stop_reason, VG_RECONNECT_ATTEMPT_LIMIT);
    assert_int_equal(st.attempts, 3);
    assert_string_equal(st.last_error, "host unreachable");
    assert_int_equal(vg_reconnect_connect_ok(rc), VG_ECLOSED);
    assert_int_equal(vg_reconnect_wait(rc), VG_EINTR);
    vg_reconnect_destroy(&rc);
}

static void test_flapping_camera_counts_toward_the_limit(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;

    o.max_attempts = 2;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    go_live(fx, rc);
    run_live(fx, rc, 2);
    assert_int_equal(vg_reconnect_read_failed(rc, "reset by peer"), 0);
    int64_t until;
    assert_int_equal(vg_reconnect_next_action(rc, &until), VG_RECONNECT_WAIT);
    fx->f.now = until;
    go_live(fx, rc);
    run_live(fx, rc, 2);
    assert_int_equal(vg_reconnect_read_failed(rc, "reset by peer"), 0);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_GIVE_UP);
    vg_reconnect_destroy(&rc);
}

static void test_zero_limit_retries_for_ever(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;

    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    fail_n(fx, rc, 200, NULL);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_CONNECT);
    vg_reconnect_destroy(&rc);
}

static void test_wait_sleeps_in_slices_until_the_backoff_ends(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    int64_t until;

    o.jitter = 0;
    o.backoff_initial_s = 2.05;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    assert_int_equal(vg_reconnect_connect_failed(rc, "refused"), 0);
    assert_int_equal(vg_reconnect_next_action(rc, &until), VG_RECONNECT_WAIT);
    assert_int_equal(vg_reconnect_wait(rc), 0);
    assert_true(fx->f.now == until);
    assert_int_equal(fx->f.sleeps, 21); /* 20 x 100 ms + 50 ms */
    assert_true(fx->f.max_slice == VG_RECONNECT_POLL_NS);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_CONNECT);
    /* nothing to wait for outside BACKOFF */
    assert_int_equal(vg_reconnect_wait(rc), 0);
    assert_int_equal(fx->f.sleeps, 21);
    vg_reconnect_destroy(&rc);
}

static void test_stop_during_backoff_returns_promptly(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    vg_reconnect_stats st;

    o.jitter = 0;
    o.backoff_initial_s = 30;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    assert_int_equal(vg_reconnect_connect_failed(rc, "refused"), 0);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_WAIT);
    int64_t t0 = fx->f.now;
    fx->f.stop_at_sleep = 3;
    assert_int_equal(vg_reconnect_wait(rc), VG_EINTR);
    /* the stop was seen at the next poll: within one slice of the request */
    assert_int_equal(fx->f.sleeps, 3);
    assert_true(fx->f.now - t0 <= 3 * VG_RECONNECT_POLL_NS);
    vg_reconnect_stats_get(rc, &st);
    assert_int_equal(st.state, VG_RECONNECT_STOPPED);
    assert_int_equal(st.stop_reason, VG_RECONNECT_STOP_REQUESTED);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_GIVE_UP);
    vg_context_clear_stop(fx->ctx);
    vg_reconnect_destroy(&rc);
}

static void test_stop_event_ends_any_state(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;

    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    go_live(fx, rc);
    assert_int_equal(vg_reconnect_stop(rc), 0);
    assert_int_equal(vg_reconnect_stop(rc), 0);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_GIVE_UP);
    assert_int_equal(vg_reconnect_frame_arrived(rc), VG_ECLOSED);
    assert_int_equal(vg_reconnect_read_failed(rc, "x"), VG_ECLOSED);
    vg_reconnect_destroy(&rc);
}

static void test_events_out_of_state_change_nothing(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    vg_reconnect_stats a, b;

    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    vg_reconnect_stats_get(rc, &a);
    assert_int_equal(vg_reconnect_frame_arrived(rc), VG_EINVAL);
    assert_int_equal(vg_reconnect_read_failed(rc, "x"), VG_EINVAL);
    vg_reconnect_stats_get(rc, &b);
    assert_memory_equal(&a, &b, sizeof(a));
    go_live(fx, rc);
    assert_int_equal(vg_reconnect_connect_ok(rc), VG_EINVAL);
    assert_int_equal(vg_reconnect_connect_failed(rc, "x"), VG_EINVAL);
    vg_reconnect_destroy(&rc);
}

static void test_time_in_states_sums_to_elapsed(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    vg_reconnect_stats st;
    int64_t until;

    o.jitter = 0;
    o.stall_s = 3;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    int64_t t0 = fx->f.now;
    fx->f.now += S(0.5); /* connecting */
    assert_int_equal(vg_reconnect_connect_failed(rc, "refused"), 0);
    fx->f.now += S(0.25); /* backoff (1 s) */
    assert_int_equal(vg_reconnect_next_action(rc, &until), VG_RECONNECT_WAIT);
    assert_int_equal(vg_reconnect_wait(rc), 0);
    fx->f.now += S(0.5); /* still BACKOFF: the machine moves when asked */
    go_live(fx, rc);
    run_live(fx, rc, 20); /* live 20 s */
    assert_int_equal(vg_reconnect_read_failed(rc, "EOF"), 0);
    fx->f.now += S(0.125); /* dropped, not yet acted on */
    vg_reconnect_stats_get(rc, &st);
    assert_true(st.time_in_state_ns[VG_RECONNECT_DROPPED] == S(0.125));
    assert_int_equal(vg_reconnect_next_action(rc, &until), VG_RECONNECT_WAIT);
    fx->f.now = until + S(0.5); /* backoff 2 s, then connect late */
    go_live(fx, rc);
    fx->f.now += S(3); /* stall */
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_WAIT);
    fx->f.now += S(0.75);
    vg_reconnect_stats_get(rc, &st);
    int64_t sum = 0;
    for (int i = 0; i < VG_RECONNECT_NSTATES; i++)
        sum += st.time_in_state_ns[i];
    assert_true(sum == fx->f.now - t0);
    assert_true(st.time_in_state_ns[VG_RECONNECT_CONNECTING] == S(0.5));
    assert_true(st.time_in_state_ns[VG_RECONNECT_LIVE] == S(23));
    assert_true(st.time_in_state_ns[VG_RECONNECT_DROPPED] == S(0.125));
    assert_true(st.time_in_state_ns[VG_RECONNECT_BACKOFF] ==
                S(1.5) + S(2.5) + S(0.75));
    assert_true(st.state_since_ns == fx->f.now - S(0.75));
    assert_true(st.created_ns == t0);
    vg_reconnect_destroy(&rc);
}

static void test_bad_options_are_refused(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc = (vg_reconnect *)&o;

    o.jitter = 1.5;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), VG_EINVAL);
    assert_null(rc);
    assert_non_null(strstr(vg_context_errmsg(fx->ctx), "jitter 1.5"));
    o = opts_for(fx);
    o.backoff_initial_s = 0;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), VG_EINVAL);
    o = opts_for(fx);
    o.backoff_factor = 0.5;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), VG_EINVAL);
    o = opts_for(fx);
    o.stall_s = -1;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), VG_EINVAL);
}

static void test_create_fails_cleanly_without_memory(void **state)
{
    fixture *fx = *state;
    vg_reconnect *rc;

    vg_context_fail_alloc(fx->ctx, 1, 0);
    assert_int_equal(vg_reconnect_create(fx->ctx, NULL, &rc), VG_ENOMEM);
    assert_null(rc);
}

static void test_long_error_is_truncated(void **state)
{
    fixture *fx = *state;
    vg_reconnect_opts o = opts_for(fx);
    vg_reconnect *rc;
    vg_reconnect_stats st;
    char big[1000];

    memset(big, 'e', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(vg_reconnect_create(fx->ctx, &o, &rc), 0);
    assert_int_equal(vg_reconnect_connect_failed(rc, big), 0);
    vg_reconnect_stats_get(rc, &st);
    assert_int_equal(strlen(st.last_error), VG_RECONNECT_ERROR_MAX - 1);
    assert_int_equal(vg_reconnect_next_action(rc, NULL), VG_RECONNECT_WAIT);
    assert_string_equal(vg_reconnect_state_name(st.state), "backoff");
    assert_string_equal(vg_reconnect_state_name(99), "?");
    vg_reconnect_destroy(&rc);
}

/* A camera that gave up ends as a network failure when its last
 * connection ended or was cut mid-packet (never as a truncated file, exit
 * 3); other failures keep their code. */
static void test_give_up_code_is_a_network_failure(void **state)
{
    (void)state;
    assert_int_equal(vg_reconnect_give_up_code(VG_ETRUNCATED), VG_ENET);
    assert_int_equal(vg_reconnect_give_up_code(VG_EOF), VG_ENET);
    assert_int_equal(vg_reconnect_give_up_code(0), VG_ENET);
    assert_int_equal(vg_reconnect_give_up_code(VG_ETIMEOUT), VG_ETIMEOUT);
    assert_int_equal(vg_reconnect_give_up_code(VG_ENOMEM), VG_ENOMEM);
    assert_int_equal(vg_reconnect_give_up_code(VG_ENET), VG_ENET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_backoff_doubles_to_cap_within_jitter),
        T(test_backoff_is_deterministic_for_a_seed),
        T(test_no_jitter_gives_exact_sequence),
        T(test_backoff_resets_after_60s_live),
        T(test_stall_without_frames_leads_to_reconnect),
        T(test_attempt_limit_gives_up),
        T(test_flapping_camera_counts_toward_the_limit),
        T(test_zero_limit_retries_for_ever),
        T(test_wait_sleeps_in_slices_until_the_backoff_ends),
        T(test_stop_during_backoff_returns_promptly),
        T(test_stop_event_ends_any_state),
        T(test_events_out_of_state_change_nothing),
        T(test_time_in_states_sums_to_elapsed),
        T(test_bad_options_are_refused),
        T(test_create_fails_cleanly_without_memory),
        T(test_long_error_is_truncated),
        T(test_give_up_code_is_a_network_failure),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
