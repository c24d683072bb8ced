/*
 * Picture size from PNG / JPEG headers, so that a source can refuse an
 * oversized still picture before FFmpeg probes (and so decodes) it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/source_internal.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int sniff_png(FILE *fp, const uint8_t *head, int *w, int *h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint32_t pw, ph;

    (void)fp;
    if (memcmp(head, sig, 8) != 0 || memcmp(head + 12, "IHDR", 4) != 0)
        return -1;
    pw = be32(head + 16);
    ph = be32(head + 20);
    if (pw == 0 || ph == 0 || pw > INT32_MAX || ph > INT32_MAX)
        return -1;
    *w = (int)pw;
    *h = (int)ph;
    return 0;
}

/* Walks JPEG markers up to the first start-of-frame. */
static int sniff_jpeg(FILE *fp, int *w, int *h)
{
    uint8_t b[8];
    long pos = 2;

    for (int guard = 0; guard < 512; guard++) {
        unsigned marker, len;
        if (fseek(fp, pos, SEEK_SET) != 0 || fread(b, 1, 4, fp) != 4)
            return -1;
        if (b[0] != 0xFF)
            return -1;
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
            return -1;
        if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
            marker != 0xC8 && marker != 0xCC) {
            if (fread(b, 1, 5, fp) != 5)
                return -1;
            *h = (int)((unsigned)b[1] << 8 | b[2]);
            *w = (int)((unsigned)b[3] << 8 | b[4]);
            return (*w > 0 && *h > 0) ? 0 : -1;
        }
        if (marker == 0xDA || marker == 0xD9)
            return -1; /* scan before any frame header */
        pos += 2 + (long)len;
    }
    return -1;
}

int vgi_sniff_image_size(const char *path, int *w, int *h)
{
    uint8_t head[24];
    FILE *fp;
    int rc = -1;

    fp = fopen(path, "rb");
    if (!fp)
        return -1;
    if (fread(head, 1, sizeof(head), fp) == sizeof(head)) {
        if (head[0] == 0x89)
            rc = sniff_png(fp, head, w, h);
        else if (head[0] == 0xFF && head[1] == 0xD8)
            rc = sniff_jpeg(fp, w, h);
    }
    fclose(fp);
    return rc;
}
