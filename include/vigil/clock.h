/*
 * Monotonic clock helpers.
 *
 *   int64_t t0 = vg_clock_ns();  ...  double s = (vg_clock_ns() - t0) / 1e9;
 */
#ifndef VIGIL_CLOCK_H
#define VIGIL_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC. Thread-safe. */
int64_t vg_clock_ns(void);

struct timespec;
/* *ts = now on clock_id (CLOCK_REALTIME, CLOCK_MONOTONIC) + ms milliseconds:
 * the absolute deadline pthread_cond_timedwait takes (ms >= 0). */
void vg_clock_deadline(int clock_id, int64_t ms, struct timespec *ts);

/* vg_clock_ns in the shape of an injectable clock (`int64_t (*now_ns)(void
 * *user)` in the options of time-dependent modules); user is unused. */
int64_t vg_clock_ns_fn(void *user);

/* Peak resident set size of this process in bytes (getrusage), 0 if unknown. */
uint64_t vg_peak_rss_bytes(void);

/* Current resident set size in bytes (/proc/self/statm), 0 if unknown. */
uint64_t vg_rss_bytes(void);

#endif
