#include "vigil/context.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VG_ERRMSG_MAX 512

struct vg_context {
    int log_level;
    vg_log_fn log_fn;
    void *log_user;
    pthread_mutex_t lock; /* guards errmsg/errcode and log output */
    char errmsg[VG_ERRMSG_MAX];
    int errcode;
    atomic_uint_fast64_t allocs;
    atomic_uint_fast64_t frees;
    atomic_uint_fast64_t failures;
    atomic_uint_fast64_t fault_points;   /* fault points passed */
    atomic_uint_fast64_t fail_countdown; /* 0 = off */
    atomic_uint_fast64_t fail_left; /* failures still to inject once armed */
    atomic_int failing;
    atomic_int stop; /* set by vg_context_request_stop */
    /* A child (vg_context_create_child): logs, allocates and counts through
     * its root; has its own error slot and stop flag. */
    vg_context *parent;
};

/* Where allocations, counters, the fault injector and logging live. */
static vg_context *root_of(vg_context *ctx)
{
    while (ctx && ctx->parent)
        ctx = ctx->parent;
    return ctx;
}

int vg_context_create(vg_context **out)
{
    vg_context *ctx;

    if (!out)
        return VG_EINVAL;
    *out = NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return VG_ENOMEM;
    ctx->log_level = VG_LOG_WARN;
    if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
        free(ctx);
        return VG_ENOMEM;
    }
    *out = ctx;
    return 0;
}

int vg_context_create_child(vg_context *parent, vg_context **out)
{
    int rc;

    if (!parent || !out)
        return VG_EINVAL;
    rc = vg_context_create(out);
    if (rc < 0)
        return rc;
    (*out)->parent = parent;
    return 0;
}

void vg_context_destroy(vg_context **ctx)
{
    if (!ctx || !*ctx)
        return;
    pthread_mutex_destroy(&(*ctx)->lock);
    free(*ctx);
    *ctx = NULL;
}

void vg_context_set_log_level(vg_context *ctx, int level)
{
    if (ctx)
        ctx->log_level = level;
}

int vg_context_log_level(const vg_context *ctx)
{
    while (ctx && ctx->parent)
        ctx = ctx->parent;
    return ctx ? ctx->log_level : VG_LOG_WARN;
}

void vg_context_set_log_fn(vg_context *ctx, vg_log_fn fn, void *user)
{
    if (!ctx)
        return;
    pthread_mutex_lock(&ctx->lock);
    ctx->log_fn = fn;
    ctx->log_user = user;
    pthread_mutex_unlock(&ctx->lock);
}

static const char *level_name(int level)
{
    switch (level) {
    case VG_LOG_ERROR:
        return "error";
    case VG_LOG_WARN:
        return "warning";
    case VG_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void vg_logv(vg_context *ctx, int level, const char *fmt, va_list ap)
{
    char line[1024];

    if (level > vg_context_log_level(ctx))
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    ctx = root_of(ctx);
    if (ctx)
        pthread_mutex_lock(&ctx->lock);
    if (ctx && ctx->log_fn)
        ctx->log_fn(ctx->log_user, level, line);
    else
        fprintf(stderr, "vigil: %s: %s\n", level_name(level), line);
    if (ctx)
        pthread_mutex_unlock(&ctx->lock);
}

void vg_log(vg_context *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vg_logv(ctx, level, fmt, ap);
    va_end(ap);
}

int vg_fail(vg_context *ctx, int code, const char *fmt, ...)
{
    char msg[VG_ERRMSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx) {
        pthread_mutex_lock(&ctx->lock);
        memcpy(ctx->errmsg, msg, sizeof(msg));
        ctx->errcode = code;
        pthread_mutex_unlock(&ctx->lock);
    }
    vg_log(ctx, VG_LOG_DEBUG, "%s (%s)", msg, vg_errname(code));
    return code;
}

const char *vg_context_errmsg(vg_context *ctx)
{
    return ctx ? ctx->errmsg : "";
}

int vg_context_errcode(vg_context *ctx)
{
    return ctx ? ctx->errcode : 0;
}

void vg_context_clear_error(vg_context *ctx)
{
    if (!ctx)
        return;
    pthread_mutex_lock(&ctx->lock);
    ctx->errmsg[0] = '\0';
    ctx->errcode = 0;
    pthread_mutex_unlock(&ctx->lock);
}

/* Returns 1 when this allocation must fail by injection. */
static int inject_failure(vg_context *ctx)
{
    uint_fast64_t n;

    if (atomic_load(&ctx->failing)) {
        n = atomic_load(&ctx->fail_left);
        while (n > 0) {
            if (atomic_compare_exchange_weak(&ctx->fail_left, &n, n - 1))
                return 1;
        }
        atomic_store(&ctx->failing, 0);
        return 0;
    }
    n = atomic_load(&ctx->fail_countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&ctx->fail_countdown, &n, n - 1)) {
            if (n == 1) {
                if (atomic_load(&ctx->fail_left) > 0)
                    atomic_store(&ctx->failing, 1);
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

void *vg_malloc(vg_context *ctx, size_t size)
{
    void *p;

    ctx = root_of(ctx);

    if (!ctx)
        return malloc(size ? size : 1);
    if (inject_failure(ctx)) {
        atomic_fetch_add(&ctx->failures, 1);
        return NULL;
    }
    p = malloc(size ? size : 1);
    atomic_fetch_add(p ? &ctx->allocs : &ctx->failures, 1);
    return p;
}

void *vg_calloc(vg_context *ctx, size_t n, size_t size)
{
    void *p;

    ctx = root_of(ctx);

    if (!ctx)
        return calloc(n ? n : 1, size ? size : 1);
    if (inject_failure(ctx)) {
        atomic_fetch_add(&ctx->failures, 1);
        return NULL;
    }
    p = calloc(n ? n : 1, size ? size : 1);
    atomic_fetch_add(p ? &ctx->allocs : &ctx->failures, 1);
    return p;
}

void *vg_realloc(vg_context *ctx, void *old, size_t size)
{
    void *p;

    ctx = root_of(ctx);

    if (!ctx)
        return realloc(old, size ? size : 1);
    if (inject_failure(ctx)) {
        atomic_fetch_add(&ctx->failures, 1);
        return NULL;
    }
    p = realloc(old, size ? size : 1);
    atomic_fetch_add(p ? &ctx->allocs : &ctx->failures, 1);
    if (p && old)
        atomic_fetch_add(&ctx->frees, 1);
    return p;
}

void vg_free(vg_context *ctx, void *p)
{
    if (!p)
        return;
    ctx = root_of(ctx);
    if (ctx)
        atomic_fetch_add(&ctx->frees, 1);
    free(p);
}

char *vg_strdup(vg_context *ctx, const char *s)
{
    size_t n;
    char *d;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    d = vg_malloc(ctx, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void vg_context_alloc_stats(vg_context *ctx, vg_alloc_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    ctx = root_of(ctx);
    if (!ctx)
        return;
    out->allocs = atomic_load(&ctx->allocs);
    out->frees = atomic_load(&ctx->frees);
    out->failures = atomic_load(&ctx->failures);
    out->fault_points = atomic_load(&ctx->fault_points);
}

int vg_context_fault_point(vg_context *ctx)
{
    ctx = root_of(ctx);
    if (ctx == NULL)
        return 0;
    if (!inject_failure(ctx)) {
        atomic_fetch_add(&ctx->fault_points, 1);
        return 0;
    }
    atomic_fetch_add(&ctx->failures, 1);
    return 1;
}

void vg_context_fail_alloc_run(vg_context *ctx, uint64_t nth, uint64_t count)
{
    ctx = root_of(ctx);
    if (!ctx)
        return;
    atomic_store(&ctx->failing, 0);
    atomic_store(&ctx->fail_left, count > 0 ? count - 1 : 0);
    atomic_store(&ctx->fail_countdown, count > 0 ? nth : 0);
}

void vg_context_fail_alloc(vg_context *ctx, uint64_t nth, int persist)
{
    vg_context_fail_alloc_run(ctx, nth, persist ? UINT64_MAX : 1);
}

void vg_context_request_stop(vg_context *ctx)
{
    if (ctx)
        atomic_store(&ctx->stop, 1);
}

int vg_context_stop_requested(const vg_context *ctx)
{
    for (; ctx; ctx = ctx->parent)
        if (atomic_load(&((vg_context *)ctx)->stop))
            return 1;
    return 0;
}

void vg_context_clear_stop(vg_context *ctx)
{
    if (ctx)
        atomic_store(&ctx->stop, 0);
}
