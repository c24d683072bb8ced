/*
 * Strict parsing of numbers and sizes: the one parser behind every number
 * option of the CLI and every number of the config loaders.
 *
 *   int64_t ms;
 *   int rc = vg_parse_int64(argv[i], 1, 3600000, &ms);
 *   if (rc == VG_EINVAL) ... "'12abc' is not a whole number (1..3600000)"
 *   if (rc == VG_ERANGE) ... "'4294967297' is out of range (1..3600000)"
 *
 * The whole string is the number: no empty string, no leading or trailing
 * blanks or other characters, decimal only (no "0x10", no "1e3" for whole
 * numbers), no NaN or infinity. On failure *out is left untouched. Every
 * function here is pure and thread-safe.
 */
#ifndef VIGIL_PARSE_H
#define VIGIL_PARSE_H

#include <stdint.h>

#include "vigil/err.h"

/* A whole number "[+-]DIGITS" in [min, max] (min <= max). Returns 0,
 * VG_EINVAL (not a whole number, or s NULL) or VG_ERANGE (a whole number
 * outside [min, max], including beyond int64_t). "-0" is 0. */
int vg_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* A finite decimal number "[+-]DIGITS[.DIGITS][e[+-]DIGITS]" (or ".5") in
 * [min, max]. Returns 0, VG_EINVAL (not a number: empty, garbage, hex,
 * nan, inf) or VG_ERANGE (outside [min, max], or beyond a double). */
int vg_parse_double(const char *s, double min, double max, double *out);

/* A size in bytes: a number as vg_parse_double takes it (a whole number is
 * read exactly), then optional blanks and a unit, case-insensitive: none or
 * b (bytes), k/kib, m/mib, g/gib, t/tib (powers of 1024), kb, mb, gb, tb
 * (powers of 1000): "512MiB", "1.5 GiB", "123456". The result is rounded to
 * a whole byte count. Returns 0, VG_EINVAL (not a size) or VG_ERANGE
 * (outside [min, max], or beyond uint64_t). */
int vg_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
