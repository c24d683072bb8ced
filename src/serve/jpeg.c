/* JPEG encoding into memory (libjpeg-turbo) for the live views. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "serve/serve_internal.h"
#include "vigil/err.h"

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jerr;

static void on_error(j_common_ptr c)
{
    jerr *e = (jerr *)c->err;
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr c)
{
    (void)c;
}

long vgi_jpeg_encode(const uint8_t *rgb, int w, int h, int quality,
                     uint8_t **buf, size_t *cap)
{
    struct jpeg_compress_struct c;
    jerr e;
    unsigned char *volatile out = *buf;
    volatile unsigned long size = (unsigned long)*cap;
    unsigned char *out_nv;
    unsigned long size_nv;

    if (!rgb || w <= 0 || h <= 0 || !buf || !cap)
        return VG_EINVAL;
    memset(&c, 0, sizeof(c));
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = on_error;
    e.mgr.output_message = on_message;
    if (setjmp(e.jump)) {
        jpeg_destroy_compress(&c);
        if (out != *buf)
            free(out);
        return VG_ENOMEM;
    }
    jpeg_create_compress(&c);
    out_nv = out;
    size_nv = size;
    /* libjpeg writes into *buf while it fits, else into a buffer of its own
     * (malloc) that is copied back below */
    jpeg_mem_dest(&c, &out_nv, &size_nv);
    out = out_nv;
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row =
            (JSAMPROW)(rgb + (size_t)c.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    out = out_nv;
    size = size_nv;
    jpeg_destroy_compress(&c);
    if (out != *buf) {
        /* it outgrew the caller's buffer: keep libjpeg's, free the old */
        free(*buf);
        *buf = out;
        *cap = size;
    }
    return (long)size;
}
