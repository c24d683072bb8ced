/*
 * JPEG writing and encoding into memory (libjpeg-turbo), and drawing
 * helpers on RGB24 pictures.
 */
#include "vigil/image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

#include "vigil/fsutil.h"

/* ---- JPEG ---------------------------------------------------------------*/

struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
};

static void on_jpeg_error(j_common_ptr cinfo)
{
    struct jpeg_fail *f = (struct jpeg_fail *)cinfo->err;
    f->mgr.format_message(cinfo, f->msg);
    longjmp(f->jump, 1);
}

static void on_jpeg_message(j_common_ptr cinfo)
{
    (void)cinfo; /* warnings are not printed */
}

/* Compresses into fp, or into memory when fp is NULL (jpeg_mem_dest on
 * *mem, *mem_size: the caller's buffer while it fits, else one of
 * libjpeg's, malloc'd); returns 0 or -1 with fail->msg set. Kept apart from
 * the callers so that only locals of this frame live across setjmp. */
static int compress_to(FILE *fp, unsigned char **mem, unsigned long *mem_size,
                       const uint8_t *rgb, int w, int h, int stride,
                       int quality, struct jpeg_fail *fail)
{
    struct jpeg_compress_struct c;

    memset(&c, 0, sizeof(c));
    c.err = jpeg_std_error(&fail->mgr);
    fail->mgr.error_exit = on_jpeg_error;
    fail->mgr.output_message = on_jpeg_message;
    if (setjmp(fail->jump)) {
        jpeg_destroy_compress(&c);
        return -1;
    }
    jpeg_create_compress(&c);
    if (fp != NULL)
        jpeg_stdio_dest(&c, fp);
    else
        jpeg_mem_dest(&c, mem, mem_size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * stride);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return 0;
}

static int clamp_quality(int quality)
{
    return quality < 1 ? 1 : quality > 100 ? 100 : quality;
}

long vg_image_encode_jpeg(const uint8_t *rgb, int w, int h, int stride,
                          int quality, uint8_t **buf, size_t *cap)
{
    struct jpeg_fail fail;
    unsigned char *out;
    unsigned long size;

    if (!rgb || w <= 0 || h <= 0 || w > 65500 || h > 65500 || stride < w * 3 ||
        !buf || !cap)
        return VG_EINVAL;
    out = *buf;
    size = *buf ? (unsigned long)*cap : 0;
    fail.msg[0] = '\0';
    if (compress_to(NULL, &out, &size, rgb, w, h, stride,
                    clamp_quality(quality), &fail) < 0) {
        if (out != *buf)
            free(out);
        return VG_ENOMEM;
    }
    if (out != *buf) {
        /* it outgrew the caller's buffer (libjpeg grows as soon as a buffer
         * is full, so an exact fit grows too): the JPEG moves to a buffer
         * with room for the next ones, the old one and libjpeg's go */
        size_t room = 2 * (size_t)size;
        uint8_t *mine = malloc(room);
        free(*buf);
        if (mine != NULL) {
            memcpy(mine, out, size);
            free(out);
            *buf = mine;
            *cap = room;
        } else {
            *buf = out; /* exactly its length */
            *cap = size;
        }
    }
    return (long)size;
}

int vg_image_write_jpeg(vg_context *ctx, const char *path, const uint8_t *rgb,
                        int w, int h, int stride, int quality)
{
    struct jpeg_fail fail;
    char *tmp = NULL;
    FILE *fp = NULL;
    size_t n;
    int rc = 0;

    if (!path || !rgb || w <= 0 || h <= 0 || w > 65500 || h > 65500 ||
        stride < w * 3)
        return vg_fail(ctx, VG_EINVAL, "%s: invalid picture %dx%d stride %d",
                       path ? path : "(null)", w, h, stride);
    quality = clamp_quality(quality);
    n = strlen(path);
    tmp = vg_malloc(ctx, n + 5);
    if (!tmp)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);

    /* never through a symbolic link */
    if ((rc = vg_fopen_output(ctx, tmp, "w", &fp)) < 0)
        goto out;
    fail.msg[0] = '\0';
    if (compress_to(fp, NULL, NULL, rgb, w, h, stride, quality, &fail) < 0) {
        rc = vg_fail(ctx, VG_EIO, "%s: JPEG encoding failed: %s", path,
                     fail.msg);
        goto out;
    }
    if (fflush(fp) != 0 || ferror(fp)) {
        rc = vg_fail(ctx, VG_EIO, "%s: write failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        rc = vg_fail(ctx, VG_EIO, "%s: write failed: %s", tmp, strerror(errno));
        goto out;
    }
    fp = NULL;
    if (rename(tmp, path) != 0)
        rc = vg_fail(ctx, VG_EIO, "%s: cannot rename from %s: %s", path, tmp,
                     strerror(errno));

out:
    if (fp)
        fclose(fp);
    if (rc < 0)
        unlink(tmp);
    vg_free(ctx, tmp);
    return rc;
}

/* ---- drawing ------------------------------------------------------------*/

void vg_image_fill_rect(uint8_t *rgb, int w, int h, int stride, int x, int y,
                        int bw, int bh, uint8_t r, uint8_t g, uint8_t b)
{
    long x0 = x, y0 = y, x1 = (long)x + bw, y1 = (long)y + bh;

    if (!rgb || bw <= 0 || bh <= 0)
        return;
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > w)
        x1 = w;
    if (y1 > h)
        y1 = h;
    for (long yy = y0; yy < y1; yy++) {
        uint8_t *p = rgb + (size_t)yy * stride + (size_t)x0 * 3;
        for (long xx = x0; xx < x1; xx++, p += 3) {
            p[0] = r;
            p[1] = g;
            p[2] = b;
        }
    }
}

void vg_image_draw_rect(uint8_t *rgb, int w, int h, int stride, int x, int y,
                        int bw, int bh, int thickness, uint8_t r, uint8_t g,
                        uint8_t b)
{
    int t = thickness < 1 ? 1 : thickness;

    if (bw <= 0 || bh <= 0)
        return;
    if (t * 2 >= bw || t * 2 >= bh) {
        vg_image_fill_rect(rgb, w, h, stride, x, y, bw, bh, r, g, b);
        return;
    }
    vg_image_fill_rect(rgb, w, h, stride, x, y, bw, t, r, g, b);
    vg_image_fill_rect(rgb, w, h, stride, x, y + bh - t, bw, t, r, g, b);
    vg_image_fill_rect(rgb, w, h, stride, x, y + t, t, bh - 2 * t, r, g, b);
    vg_image_fill_rect(rgb, w, h, stride, x + bw - t, y + t, t, bh - 2 * t, r,
                       g, b);
}

/* 5x7 glyphs: 7 rows, bit 4 is the leftmost column. */
struct glyph {
    char c;
    uint8_t rows[7];
};

static const struct glyph FONT[] = {
    {' ', {0, 0, 0, 0, 0, 0, 0}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}},
    {',', {0, 0, 0, 0, 0x0C, 0x04, 0x08}},
    {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}},
    {';', {0, 0x0C, 0x0C, 0, 0x0C, 0x04, 0x08}},
    {'-', {0, 0, 0, 0x1F, 0, 0, 0}},
    {'+', {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 0x1F}},
    {'/', {0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'[', {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E}},
    {']', {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E}},
    {'=', {0, 0, 0x1F, 0, 0x1F, 0, 0}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04}},
    {'\'', {0x04, 0x04, 0x08, 0, 0, 0, 0}},
    {'*', {0, 0x04, 0x15, 0x0E, 0x15, 0x04, 0}},
};

static const uint8_t UNKNOWN_GLYPH[7] = {0x1F, 0x11, 0x11, 0x11,
                                         0x11, 0x11, 0x1F};

static const uint8_t *glyph_rows(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof(FONT) / sizeof(FONT[0]); i++)
        if (FONT[i].c == c)
            return FONT[i].rows;
    return UNKNOWN_GLYPH;
}

int vg_image_text_width(const char *text, int scale)
{
    size_t n = text ? strlen(text) : 0;
    if (scale < 1)
        scale = 1;
    return n ? (int)n * 6 * scale - scale : 0;
}

int vg_image_text_height(int scale)
{
    return 7 * (scale < 1 ? 1 : scale);
}

void vg_image_draw_text(uint8_t *rgb, int w, int h, int stride, int x, int y,
                        const char *text, uint8_t r, uint8_t g, uint8_t b)
{
    vg_image_draw_text_scaled(rgb, w, h, stride, x, y, text, 1, r, g, b);
}

void vg_image_draw_text_scaled(uint8_t *rgb, int w, int h, int stride, int x,
                               int y, const char *text, int scale, uint8_t r,
                               uint8_t g, uint8_t b)
{
    if (!rgb || !text)
        return;
    if (scale < 1)
        scale = 1;
    for (const char *p = text; *p; p++, x += 6 * scale) {
        const uint8_t *rows = glyph_rows(*p);
        if (x >= w)
            break;
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (rows[row] & (0x10 >> col))
                    vg_image_fill_rect(rgb, w, h, stride, x + col * scale,
                                       y + row * scale, scale, scale, r, g, b);
    }
}
