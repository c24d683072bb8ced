/*
 * Picture size from PNG / JPEG headers, so that a source can refuse an
 * oversized still picture before FFmpeg probes (and so decodes) it. The
 * header is read through the input's one open handle.
 */
#include <stdint.h>
#include <string.h>

#include "io/source_internal.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* head: the first 26 bytes. */
static int sniff_png(const uint8_t *head, vgi_image_header *out)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint32_t pw, ph;
    int channels, depth = head[24], colour = head[25];

    if (memcmp(head, sig, 8) != 0 || memcmp(head + 12, "IHDR", 4) != 0)
        return 0;
    pw = be32(head + 16);
    ph = be32(head + 20);
    if (pw == 0 || ph == 0 || pw > INT32_MAX || ph > INT32_MAX)
        return 0;
    switch (colour) {
    case 0: /* grey */
    case 3: /* palette: decoded as 8-bit indices */
        channels = 1;
        break;
    case 4: /* grey + alpha */
        channels = 2;
        break;
    case 6: /* RGBA */
        channels = 4;
        break;
    default: /* 2: RGB */
        channels = 3;
        break;
    }
    out->width = (int)pw;
    out->height = (int)ph;
    out->bytes_per_pixel = channels * (depth > 8 ? 2 : 1);
    out->kind = "PNG";
    return 1;
}

/* Walks JPEG markers up to the first start-of-frame. */
static int sniff_jpeg(vgi_local_input *in, vgi_image_header *out)
{
    uint8_t b[8];
    int64_t pos = 2;
    int r;

    for (int guard = 0; guard < 512; guard++) {
        unsigned marker, len;
        r = vgi_local_read_at(in, pos, b, 4);
        if (r < 0)
            return r;
        if (r != 4 || b[0] != 0xFF)
            return 0;
        marker = b[1];
        if (marker == 0xFF) { /* fill byte */
            pos++;
            continue;
        }
        if (marker == 0xD8 || marker == 0x01 ||
            (marker >= 0xD0 && marker <= 0xD7)) {
            pos += 2;
            continue;
        }
        len = (unsigned)b[2] << 8 | b[3];
        if (len < 2)
            return 0;
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
            marker != 0xC8 && marker != 0xCC) {
            r = vgi_local_read_at(in, pos + 4, b, 6);
            if (r < 0)
                return r;
            if (r != 6)
                return 0;
            out->height = (int)((unsigned)b[1] << 8 | b[2]);
            out->width = (int)((unsigned)b[3] << 8 | b[4]);
            out->bytes_per_pixel = (b[5] > 0 ? b[5] : 3) * (b[0] > 8 ? 2 : 1);
            out->kind = "JPEG";
            return (out->width > 0 && out->height > 0) ? 1 : 0;
        }
        if (marker == 0xDA || marker == 0xD9)
            return 0; /* scan before any frame header */
        pos += 2 + (int64_t)len;
    }
    return 0;
}

int vgi_sniff_image(vgi_local_input *in, vgi_image_header *out)
{
    uint8_t head[26];
    int r;

    memset(out, 0, sizeof(*out));
    r = vgi_local_read_at(in, 0, head, (int)sizeof(head));
    if (r < 0)
        return r;
    if (r >= 2 && head[0] == 0xFF && head[1] == 0xD8)
        return sniff_jpeg(in, out);
    if (r == (int)sizeof(head) && head[0] == 0x89)
        return sniff_png(head, out);
    return 0;
}
