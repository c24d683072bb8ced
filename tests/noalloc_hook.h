/*
 * Test-only malloc hook shared by the no-allocation tests: replaces malloc
 * and friends in the test program, forwards them to glibc, and attributes
 * each call, while `counting` is set, to the shared object of its caller
 * (return address resolved with dladdr). Counting is process-wide (atomics)
 * and thread-safe; the first call sites inside libvigil are kept so that a
 * failure can say where vigil allocated.
 *
 * Include it in exactly one translation unit of a test program, and never
 * under VG_SANITIZE (ASan owns the allocator there).
 */
#ifndef VIGIL_TESTS_NOALLOC_HOOK_H
#define VIGIL_TESTS_NOALLOC_HOOK_H

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

enum {
    MOD_VIGIL,
    MOD_ORT,
    MOD_FFMPEG,
    MOD_SQLITE,
    MOD_JPEG,
    MOD_LIBC,
    MOD_CXX,
    MOD_OTHER,
    MOD_COUNT
};

/* Only the direct caller is resolved: libc's allocations are made on some
 * library's behalf (in this job: ONNX Runtime's strdup and getaddrinfo), and
 * libstdc++'s are operator new, which only ONNX Runtime (the one C++ library
 * in the process) calls. */
static const char *const mod_names[MOD_COUNT] = {
    "vigil",
    "onnxruntime",
    "ffmpeg+x264",
    "sqlite",
    "libjpeg",
    "libc",
    "libstdc++ (onnxruntime's operator new)",
    "other"};

/* Library name prefixes (base name of the object) and their module. */
static const struct {
    const char *prefix;
    int mod;
} mod_prefixes[] = {
    {"libvigil.so", MOD_VIGIL}, {"libonnxruntime", MOD_ORT},
    {"libav", MOD_FFMPEG},      {"libsw", MOD_FFMPEG},
    {"libx264", MOD_FFMPEG},    {"libsqlite3", MOD_SQLITE},
    {"libjpeg", MOD_JPEG},      {"libc.so", MOD_LIBC},
    {"libstdc++", MOD_CXX},
};

#define MAX_SITES 16

/* Test-program state: the hook has no other place to keep it. */
static atomic_int counting;
static atomic_ullong allocs_by[MOD_COUNT];
static _Atomic(uintptr_t) vigil_sites[MAX_SITES]; /* first callers seen */
static _Thread_local int in_hook;

static void note_vigil_site(void *caller)
{
    uintptr_t a = (uintptr_t)caller;
    for (int i = 0; i < MAX_SITES; i++) {
        uintptr_t expected = 0;
        if (atomic_load(&vigil_sites[i]) == a)
            return;
        if (atomic_compare_exchange_strong(&vigil_sites[i], &expected, a))
            return;
        if (expected == a)
            return;
    }
}

static void attribute(void *caller)
{
    Dl_info info;
    const char *name;
    int mod = MOD_OTHER;

    if (!atomic_load_explicit(&counting, memory_order_relaxed) || in_hook)
        return;
    in_hook = 1; /* dladdr must not count (or recurse into) itself */
    if (dladdr(caller, &info) && info.dli_fname) {
        name = strrchr(info.dli_fname, '/');
        name = name ? name + 1 : info.dli_fname;
        for (size_t i = 0; i < sizeof(mod_prefixes) / sizeof(mod_prefixes[0]);
             i++)
            if (strncmp(name, mod_prefixes[i].prefix,
                        strlen(mod_prefixes[i].prefix)) == 0) {
                mod = mod_prefixes[i].mod;
                break;
            }
    }
    if (mod == MOD_VIGIL)
        note_vigil_site(caller);
    atomic_fetch_add_explicit(&allocs_by[mod], 1, memory_order_relaxed);
    in_hook = 0;
}

void *malloc(size_t n)
{
    attribute(__builtin_return_address(0));
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    attribute(__builtin_return_address(0));
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    attribute(__builtin_return_address(0));
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    attribute(__builtin_return_address(0));
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    attribute(__builtin_return_address(0));
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;

    attribute(__builtin_return_address(0));
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

#endif
