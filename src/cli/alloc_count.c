/* The vigil executable's allocation counter: see alloc_count.h. */
#include "cli/alloc_count.h"

#ifndef VG_SANITIZE

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

/* glibc's allocator under its internal names: what the overrides forward to
 * (no dlsym, so no bootstrap problem when dlsym itself allocates). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

/* The one process-wide counter: malloc has no context argument to hang it
 * on, so it is a file-scope atomic of the executable, not of libvigil. */
static atomic_uint_fast64_t alloc_calls;

static inline void count(void)
{
    atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
}

void *malloc(size_t n)
{
    count();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count();
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;

    count();
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

int cli_alloc_count_available(void)
{
    return 1;
}

uint64_t cli_alloc_count(void)
{
    return atomic_load_explicit(&alloc_calls, memory_order_relaxed);
}

#else /* VG_SANITIZE: AddressSanitizer owns malloc */

int cli_alloc_count_available(void)
{
    return 0;
}

uint64_t cli_alloc_count(void)
{
    return 0;
}

#endif
