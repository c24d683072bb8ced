/* Internal to src/serve: bounded JSON writing, JPEG encoding, the embedded
 * web page. */
#ifndef VIGIL_SERVE_INTERNAL_H
#define VIGIL_SERVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* A JSON text written into a fixed buffer: once full, further writes are
 * dropped and overflow is set (the caller answers 500 or cuts a list). */
typedef struct vgi_jbuf {
    char *p;
    size_t cap, len;
    int overflow;
} vgi_jbuf;

void vgi_jbuf_init(vgi_jbuf *b, char *p, size_t cap);
void vgi_jbuf_raw(vgi_jbuf *b, const char *s);
void vgi_jbuf_printf(vgi_jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quoted and escaped (control characters \u00XX). */
void vgi_jbuf_str(vgi_jbuf *b, const char *s);
/* A finite number (NaN and infinities as null). */
void vgi_jbuf_num(vgi_jbuf *b, double v);

/* The files of web/, embedded at build time (web_assets.c, generated). */
typedef struct vgi_web_asset {
    const char *path; /* "/index.html", "/app.js", ... */
    const unsigned char *data;
    size_t size;
} vgi_web_asset;
extern const vgi_web_asset vgi_web_assets[];
extern const int vgi_web_assets_n;

#endif
