#include "support/io_fixtures.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *io_tmpdir_create(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    char *d;

    snprintf(tmpl, sizeof(tmpl), "%s/vigil-io-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return NULL;
    d = malloc(strlen(tmpl) + 1);
    if (d)
        strcpy(d, tmpl);
    return d;
}

void io_tmpdir_remove(char *dir)
{
    DIR *dp;
    struct dirent *e;
    char p[1024];

    if (!dir)
        return;
    dp = opendir(dir);
    if (dp) {
        while ((e = readdir(dp)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(dp);
    }
    rmdir(dir);
    free(dir);
}

char *io_path(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

const char *io_cache_video(char *buf, size_t n, const char *name)
{
    const char *cache = getenv("VIGIL_CACHE");
    struct stat st;

    if (!cache || !*cache)
        return NULL;
    snprintf(buf, n, "%s/videos/%s", cache, name);
    return stat(buf, &st) == 0 ? buf : NULL;
}

int io_ffmpeg(const char *args)
{
    char cmd[4096];
    int st;

    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -hide_banner -loglevel error -y %s", args);
    st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int io_write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    int ok;

    if (!fp)
        return -1;
    ok = fwrite(data, 1, n, fp) == n;
    return (fclose(fp) == 0 && ok) ? 0 : -1;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *d = NULL;
    long sz;

    if (!fp)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (sz = ftell(fp)) > 0 &&
        fseek(fp, 0, SEEK_SET) == 0) {
        d = malloc((size_t)sz);
        if (d && fread(d, 1, (size_t)sz, fp) != (size_t)sz) {
            free(d);
            d = NULL;
        }
        *n = (size_t)sz;
    }
    fclose(fp);
    return d;
}

int io_copy_prefix(const char *src, const char *dst, double fraction)
{
    size_t n = 0;
    unsigned char *d = read_all(src, &n);
    int rc;

    if (!d)
        return -1;
    rc = io_write_file(dst, d, (size_t)((double)n * fraction));
    free(d);
    return rc;
}

static unsigned char *find_bytes(unsigned char *from, unsigned char *end,
                                 const char *what, size_t len)
{
    for (unsigned char *p = from; p + len <= end; p++)
        if (memcmp(p, what, len) == 0)
            return p;
    return NULL;
}

int io_patch_avi_fourcc(const char *path, const char fcc[4])
{
    size_t n = 0;
    unsigned char *d = read_all(path, &n);
    unsigned char *end, *strh, *strf;
    int rc = -1;

    if (!d)
        return -1;
    end = d + (n < 65536 ? n : 65536);
    /* strh chunk: "strh" size(4) fccType(4)="vids" fccHandler(4) */
    strh = NULL;
    for (unsigned char *p = d; p && p + 16 <= end; p++) {
        p = find_bytes(p, end, "strh", 4);
        if (!p || p + 16 > end)
            break;
        if (memcmp(p + 8, "vids", 4) == 0) {
            strh = p;
            break;
        }
    }
    if (!strh || memcmp(strh + 8, "vids", 4) != 0)
        goto done;
    memcpy(strh + 12, fcc, 4);
    /* strf chunk after it: "strf" size(4) BITMAPINFOHEADER, whose
     * biCompression is at offset 16 */
    strf = find_bytes(strh, end, "strf", 4);
    if (!strf || strf + 8 + 20 > end)
        goto done;
    memcpy(strf + 8 + 16, fcc, 4);
    rc = io_write_file(path, d, n);
done:
    free(d);
    return rc;
}

static uint32_t crc32_bytes(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

int io_write_png_header_only(const char *path, uint32_t w, uint32_t h)
{
    unsigned char png[8 + 25 + 12];
    static const unsigned char sig[8] = {0x89, 'P',  'N',  'G',
                                         '\r', '\n', 0x1a, '\n'};
    unsigned char *ihdr = png + 8, *iend = png + 8 + 25;

    memcpy(png, sig, 8);
    put32(ihdr, 13);
    memcpy(ihdr + 4, "IHDR", 4);
    put32(ihdr + 8, w);
    put32(ihdr + 12, h);
    ihdr[16] = 8; /* bit depth */
    ihdr[17] = 2; /* RGB */
    ihdr[18] = 0;
    ihdr[19] = 0;
    ihdr[20] = 0;
    put32(ihdr + 21, crc32_bytes(0, ihdr + 4, 17));
    put32(iend, 0);
    memcpy(iend + 4, "IEND", 4);
    put32(iend + 8, crc32_bytes(0, iend + 4, 4));
    return io_write_file(path, png, sizeof(png));
}

/* Bits written least significant first, as deflate wants. */
struct bitbuf {
    unsigned char *p;
    size_t n, cap;
    uint32_t acc;
    int bits;
};

static int bits_put(struct bitbuf *b, uint32_t v, int n)
{
    b->acc |= v << b->bits;
    b->bits += n;
    while (b->bits >= 8) {
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 65536;
            unsigned char *q = realloc(b->p, cap);
            if (!q)
                return -1;
            b->p = q;
            b->cap = cap;
        }
        b->p[b->n++] = (unsigned char)b->acc;
        b->acc >>= 8;
        b->bits -= 8;
    }
    return 0;
}

/* A Huffman code of n bits goes in most significant bit first. */
static int bits_code(struct bitbuf *b, uint32_t code, int n)
{
    uint32_t r = 0;
    for (int i = 0; i < n; i++)
        r |= ((code >> i) & 1u) << (n - 1 - i);
    return bits_put(b, r, n);
}

static int write_chunk(FILE *fp, const char *kind, const unsigned char *data,
                       size_t n)
{
    unsigned char h[8], c[4];
    uint32_t crc;

    put32(h, (uint32_t)n);
    memcpy(h + 4, kind, 4);
    crc = crc32_bytes(0, h + 4, 4);
    crc = crc32_bytes(crc, data, n);
    put32(c, crc);
    return (fwrite(h, 1, 8, fp) == 8 && fwrite(data, 1, n, fp) == n &&
            fwrite(c, 1, 4, fp) == 4)
               ? 0
               : -1;
}

int io_write_png_black(const char *path, uint32_t w, uint32_t h)
{
    static const unsigned char sig[8] = {0x89, 'P',  'N',  'G',
                                         '\r', '\n', 0x1a, '\n'};
    /* filtered data: each row is filter byte 0 and w * 3 zero bytes */
    uint64_t total = (uint64_t)h * (1 + (uint64_t)w * 3), left;
    struct bitbuf b = {NULL, 0, 0, 0, 0};
    unsigned char ihdr[13], adler[4];
    FILE *fp;
    int rc = -1;

    /* zlib header, then one final block with the fixed codes: a literal 0,
     * copies of 258 bytes at distance 1 (length code 285, 8 bits 11000101;
     * distance code 0, 5 bits), literal zeros for the rest, end of block */
    if (bits_put(&b, 0x78, 8) < 0 || bits_put(&b, 0x01, 8) < 0 ||
        bits_put(&b, 1, 1) < 0 || bits_put(&b, 1, 2) < 0 ||
        bits_code(&b, 0x30, 8) < 0)
        goto done;
    left = total - 1;
    for (; left >= 258; left -= 258)
        if (bits_code(&b, 0xC5, 8) < 0 || bits_code(&b, 0, 5) < 0)
            goto done;
    for (; left > 0; left--)
        if (bits_code(&b, 0x30, 8) < 0)
            goto done;
    if (bits_code(&b, 0, 7) < 0 || (b.bits > 0 && bits_put(&b, 0, 8 - b.bits)))
        goto done;
    /* Adler-32 of zeros: a = 1, b = total */
    put32(adler, (uint32_t)((total % 65521u) << 16 | 1u));
    for (int i = 0; i < 4; i++)
        if (bits_put(&b, adler[i], 8) < 0)
            goto done;
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* RGB */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* not interlaced */
    fp = fopen(path, "wb");
    if (!fp)
        goto done;
    rc = (fwrite(sig, 1, 8, fp) == 8 &&
          write_chunk(fp, "IHDR", ihdr, sizeof(ihdr)) == 0 &&
          write_chunk(fp, "IDAT", b.p, b.n) == 0 &&
          write_chunk(fp, "IEND", (const unsigned char *)"", 0) == 0)
             ? 0
             : -1;
    if (fclose(fp) != 0)
        rc = -1;
done:
    free(b.p);
    return rc;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

int io_patch_mp4_zero_durations(const char *path)
{
    size_t n = 0;
    unsigned char *d = read_all(path, &n);
    unsigned char *p, *end;
    int rc = -1;

    if (!d)
        return -1;
    end = d + n;
    /* stts: size(4) "stts" version/flags(4) entry_count(4), then entries of
     * sample_count(4) sample_delta(4) */
    for (p = d; (p = find_bytes(p, end, "stts", 4)) != NULL; p += 4) {
        uint32_t count;
        if (p + 12 > end)
            break;
        count = get32(p + 8);
        if (p + 12 + (size_t)count * 8 > end)
            continue;
        for (uint32_t i = 0; i < count; i++)
            put32(p + 12 + (size_t)i * 8 + 4, 0);
        rc = 0;
    }
    if (rc == 0)
        rc = io_write_file(path, d, n);
    free(d);
    return rc;
}

static void put32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

int io_patch_avi_rate(const char *path, uint32_t rate, uint32_t scale)
{
    size_t n = 0;
    unsigned char *d = read_all(path, &n);
    unsigned char *end, *avih, *strh = NULL;
    int rc = -1;

    if (!d)
        return -1;
    end = d + (n < 65536 ? n : 65536);
    /* avih: "avih" size(4) dwMicroSecPerFrame(4) ... */
    avih = find_bytes(d, end, "avih", 4);
    /* strh: "strh" size(4) fccType(4) fccHandler(4) dwFlags(4) wPriority(2)
     * wLanguage(2) dwInitialFrames(4) dwScale(4) dwRate(4) */
    for (unsigned char *p = d; p && p + 36 <= end; p += 4) {
        p = find_bytes(p, end, "strh", 4);
        if (!p || p + 36 > end)
            break;
        if (memcmp(p + 8, "vids", 4) == 0) {
            strh = p;
            break;
        }
    }
    if (avih && strh && avih + 12 <= end) {
        put32le(avih + 8, (uint32_t)((uint64_t)scale * 1000000u / rate));
        put32le(strh + 8 + 20, scale);
        put32le(strh + 8 + 24, rate);
        rc = io_write_file(path, d, n);
    }
    free(d);
    return rc;
}

int io_silent_server_open(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}
