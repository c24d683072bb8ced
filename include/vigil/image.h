/*
 * vg_image: JPEG writing (a file, or memory) and simple drawing on RGB24
 * pictures (3 bytes per
 * pixel, rows `stride` bytes apart), for snapshots and annotated output.
 *
 *   vg_image_draw_rect(rgb, w, h, stride, x, y, bw, bh, 2, 255, 0, 0);
 *   vg_image_draw_text(rgb, w, h, stride, x, y - 9, "person 0.87",
 *                      255, 255, 255);
 *   if (vg_image_write_jpeg(ctx, "snap.jpg", rgb, w, h, stride, 85) < 0)
 *       fprintf(stderr, "%s\n", vg_context_errmsg(ctx));
 *
 * Drawing is clipped to the picture: shapes partly or wholly outside are
 * drawn in part or not at all, never out of bounds.
 * Thread-safety: the functions keep no state; two threads may draw on or
 * write different pictures at once.
 */
#ifndef VIGIL_IMAGE_H
#define VIGIL_IMAGE_H

#include <stdint.h>

#include "vigil/context.h"

/* Writes the w x h RGB24 picture as a baseline JPEG of quality 1..100 (values
 * outside are clamped). The file is written as "<path>.tmp" and renamed over
 * path, so path is either the old file or the complete new one. Returns 0,
 * VG_EINVAL (bad arguments), VG_EIO (cannot write; the temporary file is
 * removed) or VG_ENOMEM, with a message naming path in ctx. rgb is only
 * read. */
int vg_image_write_jpeg(vg_context *ctx, const char *path, const uint8_t *rgb,
                        int w, int h, int stride, int quality);

/* Encodes the w x h RGB24 picture as a baseline JPEG of quality 1..100
 * (clamped) into memory: into *buf (*cap bytes; *buf may be NULL) when it
 * fits with a byte to spare; when it does not, into a new buffer (malloc) of
 * twice the JPEG's length, which replaces *buf (the old one is freed with free)
 * and *cap, so that the next pictures of a stream fit. *buf is the caller's:
 * malloc'd or NULL, freed with free. Returns the JPEG's length, or
 * VG_EINVAL (bad arguments) / VG_ENOMEM. For the live views. */
long vg_image_encode_jpeg(const uint8_t *rgb, int w, int h, int stride,
                          int quality, uint8_t **buf, size_t *cap);

/* Draws the outline of the box (x, y, bw, bh) with lines `thickness` pixels
 * wide inside the box, in colour (r, g, b). */
void vg_image_draw_rect(uint8_t *rgb, int w, int h, int stride, int x, int y,
                        int bw, int bh, int thickness, uint8_t r, uint8_t g,
                        uint8_t b);

/* Fills the box (x, y, bw, bh) with colour (r, g, b). */
void vg_image_fill_rect(uint8_t *rgb, int w, int h, int stride, int x, int y,
                        int bw, int bh, uint8_t r, uint8_t g, uint8_t b);

/* Draws text with the built-in 5x7 font (glyph cells 6 pixels wide),
 * top-left at (x, y). Letters are drawn upper-case; the font has digits,
 * A-Z, space and . , : ; - + _ / % # ( ) [ ] = < > ! ? ' *; other characters
 * draw as a hollow box. */
void vg_image_draw_text(uint8_t *rgb, int w, int h, int stride, int x, int y,
                        const char *text, uint8_t r, uint8_t g, uint8_t b);

/* The same with every font pixel drawn as a scale x scale square (>= 1). */
void vg_image_draw_text_scaled(uint8_t *rgb, int w, int h, int stride, int x,
                               int y, const char *text, int scale, uint8_t r,
                               uint8_t g, uint8_t b);

/* Width and height in pixels of text drawn at scale (1 for
 * vg_image_draw_text). */
int vg_image_text_width(const char *text, int scale);
int vg_image_text_height(int scale);

#endif
