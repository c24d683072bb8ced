/* Strict number and size parsing (include/vigil/parse.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/parse.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int vg_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    const uint64_t limit_pos = (uint64_t)INT64_MAX;
    const uint64_t limit_neg = (uint64_t)INT64_MAX + 1u;
    uint64_t mag = 0;
    int neg = 0, overflow = 0;
    const char *p = s;
    int64_t x;

    if (s == NULL)
        return VG_EINVAL;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!is_digit(*p))
        return VG_EINVAL;
    for (; is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (mag > (limit_neg - d) / 10)
            overflow = 1; /* keep scanning: garbage after it is EINVAL */
        else
            mag = mag * 10 + d;
    }
    if (*p != '\0')
        return VG_EINVAL;
    if (overflow || mag > (neg ? limit_neg : limit_pos))
        return VG_ERANGE;
    if (neg)
        x = mag == limit_neg ? INT64_MIN : -(int64_t)mag;
    else
        x = (int64_t)mag;
    if (x < min || x > max)
        return VG_ERANGE;
    *out = x;
    return 0;
}

/* Length of the decimal number at the start of s
 * ("[+-]DIGITS[.DIGITS][e[+-]DIGITS]" or "[+-].DIGITS..."), 0 if none;
 * *whole is set when it is digits only (with an optional sign). */
static size_t number_span(const char *s, int *whole)
{
    size_t i = 0, digits = 0;

    *whole = 1;
    if (s[i] == '+' || s[i] == '-')
        i++;
    for (; is_digit(s[i]); i++)
        digits++;
    if (s[i] == '.') {
        *whole = 0;
        for (i++; is_digit(s[i]); i++)
            digits++;
    }
    if (digits == 0)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1;
        if (s[j] == '+' || s[j] == '-')
            j++;
        if (is_digit(s[j])) {
            while (is_digit(s[j]))
                j++;
            *whole = 0;
            i = j;
        }
    }
    return i;
}

int vg_parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    double x;
    int whole;
    size_t n;

    if (s == NULL)
        return VG_EINVAL;
    n = number_span(s, &whole);
    if (n == 0 || s[n] != '\0')
        return VG_EINVAL;
    errno = 0;
    x = strtod(s, &end);
    if (end != s + n)
        return VG_EINVAL;
    if (!isfinite(x))
        return VG_ERANGE; /* beyond a double: "1e999" */
    if (!(x >= min && x <= max))
        return VG_ERANGE;
    *out = x;
    return 0;
}

int vg_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1ull << 10},
        {"kib", 1ull << 10},
        {"kb", 1000ull},
        {"m", 1ull << 20},
        {"mib", 1ull << 20},
        {"mb", 1000000ull},
        {"g", 1ull << 30},
        {"gib", 1ull << 30},
        {"gb", 1000000000ull},
        {"t", 1ull << 40},
        {"tib", 1ull << 40},
        {"tb", 1000000000000ull},
    };
    char num[64];
    const char *unit;
    uint64_t mult = 0, bytes;
    int whole, found = 0;
    size_t n;

    if (s == NULL)
        return VG_EINVAL;
    n = number_span(s, &whole);
    if (n == 0 || n >= sizeof(num) || s[0] == '+')
        return VG_EINVAL;
    memcpy(num, s, n);
    num[n] = '\0';
    for (unit = s + n; *unit == ' '; unit++)
        ;
    if (unit != s + n && *unit == '\0')
        return VG_EINVAL; /* "12 ": blanks and no unit */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcasecmp(unit, units[i].suffix) == 0) {
            mult = units[i].mult;
            found = 1;
            break;
        }
    if (!found)
        return VG_EINVAL;
    if (whole) {
        int64_t v;
        int rc = vg_parse_int64(num, 0, INT64_MAX, &v);
        if (rc < 0) /* negative or past int64_t: VG_ERANGE */
            return rc;
        if ((uint64_t)v > UINT64_MAX / mult)
            return VG_ERANGE;
        bytes = (uint64_t)v * mult;
    } else {
        double v, b;
        int rc = vg_parse_double(num, -HUGE_VAL, HUGE_VAL, &v);
        if (rc < 0)
            return rc;
        if (v < 0)
            return VG_ERANGE;
        b = nearbyint(v * (double)mult);
        if (!(b < 18446744073709551616.0)) /* 2^64 */
            return VG_ERANGE;
        bytes = (uint64_t)b;
    }
    if (bytes < min || bytes > max)
        return VG_ERANGE;
    *out = bytes;
    return 0;
}
