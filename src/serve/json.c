/* Bounded JSON writing for the HTTP API. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "serve/serve_internal.h"

void vgi_jbuf_init(vgi_jbuf *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->overflow = 0;
    if (cap > 0)
        p[0] = '\0';
}

static void put(vgi_jbuf *b, const char *s, size_t n)
{
    if (b->overflow || b->len + n + 1 > b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void vgi_jbuf_raw(vgi_jbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

void vgi_jbuf_printf(vgi_jbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->overflow = 1;
        b->p[b->len] = '\0';
        return;
    }
    b->len += (size_t)n;
}

void vgi_jbuf_str(vgi_jbuf *b, const char *s)
{
    const char *run = s;
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        const char *esc = NULL;
        char hex[8];
        if (ch == '"')
            esc = "\\\"";
        else if (ch == '\\')
            esc = "\\\\";
        else if (ch == '\n')
            esc = "\\n";
        else if (ch == '\r')
            esc = "\\r";
        else if (ch == '\t')
            esc = "\\t";
        else if (ch < 0x20) {
            snprintf(hex, sizeof(hex), "\\u%04x", ch);
            esc = hex;
        }
        if (esc) {
            put(b, run, (size_t)(s - run));
            put(b, esc, strlen(esc));
            run = s + 1;
        }
    }
    put(b, run, (size_t)(s - run));
    put(b, "\"", 1);
}

void vgi_jbuf_num(vgi_jbuf *b, double v)
{
    if (!isfinite(v))
        vgi_jbuf_raw(b, "null");
    else if (v == (double)(long long)v && fabs(v) < 1e15)
        vgi_jbuf_printf(b, "%lld", (long long)v);
    else
        vgi_jbuf_printf(b, "%.6g", v);
}
