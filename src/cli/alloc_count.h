/*
 * Whole-process heap allocation counter of the vigil executable (internal to
 * the CLI). The executable defines malloc, calloc, realloc, free,
 * posix_memalign, aligned_alloc and memalign, forwarding each to glibc's own
 * allocator and counting the allocating calls, so every library in the
 * process (libvigil, ONNX Runtime, FFmpeg, SQLite, libjpeg) is counted.
 *
 *   uint64_t before = cli_alloc_count();
 *   ... work ...
 *   uint64_t calls = cli_alloc_count() - before;
 *
 * Under VG_SANITIZE the overrides are left out (they would replace
 * AddressSanitizer's allocator): cli_alloc_count_available() returns 0 and
 * cli_alloc_count() always 0. Thread-safe (relaxed atomics).
 */
#ifndef VIGIL_CLI_ALLOC_COUNT_H
#define VIGIL_CLI_ALLOC_COUNT_H

#include <stdint.h>

/* 1 when the counter is compiled in, 0 under VG_SANITIZE. */
int cli_alloc_count_available(void);

/* Allocating calls (malloc, calloc, realloc, posix_memalign, aligned_alloc,
 * memalign) made by any thread of the process so far. */
uint64_t cli_alloc_count(void);

#endif
