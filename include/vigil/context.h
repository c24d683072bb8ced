/*
 * vg_context: the one object a program creates and every vigil handle hangs
 * off. It owns the log sink, the last error message, and the allocator that
 * all of vigil's own heap allocations go through (counted per context, with
 * an optional fault injector that fails the Nth allocation).
 *
 *   vg_context *ctx;
 *   if (vg_context_create(&ctx) < 0) return 1;
 *   vg_context_set_log_level(ctx, VG_LOG_INFO);
 *   ... create handles with ctx, use them, destroy them ...
 *   vg_context_destroy(&ctx);
 *
 * There is no global mutable state in vigil: two contexts are independent.
 * Thread-safety: logging, allocation and the counters are thread-safe. The
 * error message slot is shared by the threads that use a context; a stage that
 * runs in its own thread keeps its failure message in its own handle.
 */
#ifndef VIGIL_CONTEXT_H
#define VIGIL_CONTEXT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

typedef struct vg_context vg_context;

enum vg_log_level {
    VG_LOG_QUIET = -1,
    VG_LOG_ERROR = 0,
    VG_LOG_WARN = 1,
    VG_LOG_INFO = 2,
    VG_LOG_DEBUG = 3
};

/* Receives one formatted line (no trailing newline). Called from any thread. */
typedef void (*vg_log_fn)(void *user, int level, const char *line);

/* Creates a context logging warnings and errors to stderr.
 * Returns 0 or VG_ENOMEM; *out is NULL on failure. Caller destroys. */
int vg_context_create(vg_context **out);

/* Destroys the context and sets *ctx to NULL; accepts NULL. Every handle made
 * with it must have been destroyed first. */
void vg_context_destroy(vg_context **ctx);

/* A child of parent for one thread of work (a camera of a job): it logs,
 * allocates, counts allocations and injects faults through parent (its
 * root), and has its own error slot and stop flag. A stop requested on
 * parent stops the child too (vg_context_stop_requested checks both); one
 * requested on the child stops only it. parent must outlive the child.
 * Returns 0, VG_EINVAL or VG_ENOMEM. Destroy with vg_context_destroy. */
int vg_context_create_child(vg_context *parent, vg_context **out);

void vg_context_set_log_level(vg_context *ctx, int level);
int vg_context_log_level(const vg_context *ctx);

/* Replaces the stderr sink; fn NULL restores it. */
void vg_context_set_log_fn(vg_context *ctx, vg_log_fn fn, void *user);

/* Logs a printf-style line at level; ctx may be NULL (stderr, warn level). */
void vg_log(vg_context *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void vg_logv(vg_context *ctx, int level, const char *fmt, va_list ap);

/* Records the message of a failure with code and returns code, so that a
 * function can `return vg_fail(ctx, VG_ENOENT, "%s: no such file", p);`.
 * The message is also logged at debug level. ctx may be NULL. */
int vg_fail(vg_context *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Last failure message recorded in ctx ("" when none). Valid until the next
 * failure is recorded in ctx. */
const char *vg_context_errmsg(vg_context *ctx);
/* Code that went with the last message (0 when none). */
int vg_context_errcode(vg_context *ctx);
void vg_context_clear_error(vg_context *ctx);

/* ---- allocation ---------------------------------------------------------
 * All heap memory vigil's own code takes goes through these. ctx may be NULL
 * (then plain malloc, uncounted). They return NULL on failure (real or
 * injected) and never abort. vg_free accepts NULL. */
void *vg_malloc(vg_context *ctx, size_t size);
void *vg_calloc(vg_context *ctx, size_t n, size_t size);
void *vg_realloc(vg_context *ctx, void *p, size_t size);
void vg_free(vg_context *ctx, void *p);
/* Duplicates a string with vg_malloc; NULL on failure or NULL input. */
char *vg_strdup(vg_context *ctx, const char *s);

typedef struct vg_alloc_stats {
    uint64_t allocs;       /* successful vg_malloc/calloc/realloc calls */
    uint64_t frees;        /* vg_free calls with a non-NULL pointer */
    uint64_t failures;     /* allocations that returned NULL (injected or real)
                              and fault points that failed */
    uint64_t fault_points; /* fault points passed (did not fail) */
} vg_alloc_stats;
/* allocs + failures + fault_points counts every allocation and fault point
 * the injector below has seen: a test reads it to know how many points a
 * run has, and where each step of the run starts. */

void vg_context_alloc_stats(vg_context *ctx, vg_alloc_stats *out);

/* Fault injection (in the manner of SQLite's test_malloc): the nth allocation
 * from now (1-based) fails, and every one after it too when persist is set.
 * n = 0 disables. */
void vg_context_fail_alloc(vg_context *ctx, uint64_t nth, int persist);
/* Same, failing count allocations in a row from the nth on (count 0
 * disables). */
void vg_context_fail_alloc_run(vg_context *ctx, uint64_t nth, uint64_t count);

/* A fault point: counts as one allocation for the injector above and
 * returns 1 when it must fail (0 otherwise, and always 0 for ctx NULL).
 * vigil puts one where a library it drives allocates out of its sight, e.g.
 * before each ONNX Runtime inference, so that tests reach those failures. */
int vg_context_fault_point(vg_context *ctx);

/* ---- stop requests ------------------------------------------------------
 * A program asks everything made with ctx to stop (Ctrl-C, SIGTERM, SIGHUP,
 * a service shutting down). Every blocking step in vigil (opening and
 * reading inputs, parsing configs, waiting on queues, backoff sleeps) polls
 * vg_context_stop_requested() at least every ~100 ms and returns VG_EINTR
 * when set. vg_context_request_stop is async-signal-safe (one atomic store)
 * and may be called from any thread; the flag stays set until cleared.
 * A child context also reports its parents' stop requests. */
void vg_context_request_stop(vg_context *ctx);
int vg_context_stop_requested(const vg_context *ctx);
void vg_context_clear_stop(vg_context *ctx);

#endif
