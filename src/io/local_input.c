/*
 * Local inputs opened once, read through one AVIO context. A FIFO is opened
 * without blocking (O_NONBLOCK) and waited on with poll() in slices of at
 * most 100 ms, so that a FIFO without a writer neither hangs the open nor
 * ignores a stop request; the bytes read to sniff its header are kept and
 * handed to FFmpeg first, so that probing consumes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "io/source_internal.h"

#define VGI_AVIO_BUFFER 65536
#define VGI_POLL_SLICE_MS 100

struct vgi_local_input {
    vg_context *ctx;
    int fd;
    int seekable; /* regular file */
    int timeout_ms;
    int stopped;
    int timed_out;
    /* inputs that cannot seek: their first bytes, read for sniffing */
    uint8_t *head;
    size_t head_len;
    size_t head_pos; /* what the AVIO context has taken of head */
    int head_eof;    /* the input ended within head */
    AVIOContext *avio;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd has data, its end, or an error to read. */
static int wait_readable(vgi_local_input *in)
{
    int64_t deadline = in->timeout_ms > 0 ? now_ms() + in->timeout_ms : 0;
    struct pollfd p;

    for (;;) {
        int slice = VGI_POLL_SLICE_MS, r;

        if (vg_context_stop_requested(in->ctx)) {
            in->stopped = 1;
            return VG_EINTR;
        }
        if (deadline) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                in->timed_out = 1;
                return VG_ETIMEOUT;
            }
            if (left < slice)
                slice = (int)left;
        }
        p.fd = in->fd;
        p.events = POLLIN;
        p.revents = 0;
        r = poll(&p, 1, slice);
        if (r > 0)
            return 0; /* POLLIN, POLLHUP or POLLERR: read() says which */
        if (r < 0 && errno != EINTR)
            return VG_EIO;
    }
}

/* Reads at most n bytes from the file: >0 bytes, 0 at its end, or a
 * negative code. */
static int read_fd(vgi_local_input *in, uint8_t *buf, int n)
{
    for (;;) {
        ssize_t r;
        int rc;

        if (!in->seekable) {
            rc = wait_readable(in);
            if (rc < 0)
                return rc;
        } else if (vg_context_stop_requested(in->ctx)) {
            in->stopped = 1;
            return VG_EINTR;
        }
        r = read(in->fd, buf, (size_t)n);
        if (r >= 0)
            return (int)r;
        if (errno != EINTR && errno != EAGAIN)
            return VG_EIO;
    }
}

static int avio_read_cb(void *opaque, uint8_t *buf, int n)
{
    vgi_local_input *in = opaque;
    int r;

    if (in->head_pos < in->head_len) {
        size_t k = in->head_len - in->head_pos;
        if (k > (size_t)n)
            k = (size_t)n;
        memcpy(buf, in->head + in->head_pos, k);
        in->head_pos += k;
        return (int)k;
    }
    if (in->head_eof)
        return AVERROR_EOF;
    r = read_fd(in, buf, n);
    if (r > 0)
        return r;
    if (r == 0)
        return AVERROR_EOF;
    if (r == VG_EINTR)
        return AVERROR_EXIT;
    if (r == VG_ETIMEOUT)
        return AVERROR(ETIMEDOUT);
    return AVERROR(EIO);
}

static int64_t avio_seek_cb(void *opaque, int64_t off, int whence)
{
    vgi_local_input *in = opaque;
    struct stat st;
    off_t r;

    if (whence & AVSEEK_SIZE)
        return fstat(in->fd, &st) == 0 ? (int64_t)st.st_size : AVERROR(EIO);
    r = lseek(in->fd, (off_t)off, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : (int64_t)r;
}

int vgi_local_open(vg_context *ctx, const char *path, int timeout_ms,
                   vgi_local_input **out, char *why, size_t why_cap)
{
    vgi_local_input *in;
    uint8_t *buf;
    struct stat st;
    int rc;

    *out = NULL;
    in = vg_calloc(ctx, 1, sizeof(*in));
    if (!in) {
        snprintf(why, why_cap, "out of memory");
        return VG_ENOMEM;
    }
    in->ctx = ctx;
    in->timeout_ms = timeout_ms;
    /* O_NONBLOCK: opening a FIFO that has no writer returns at once */
    in->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (in->fd < 0) {
        rc = (errno == ENOENT || errno == ENOTDIR) ? VG_ENOENT : VG_EIO;
        if (rc == VG_ENOENT)
            snprintf(why, why_cap, "no such file");
        else
            snprintf(why, why_cap, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (fstat(in->fd, &st) != 0) {
        rc = VG_EIO;
        snprintf(why, why_cap, "cannot access: %s", strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = VG_EFORMAT;
        snprintf(why, why_cap, "is a directory");
        goto fail;
    }
    if (S_ISREG(st.st_mode)) {
        if (st.st_size == 0) {
            rc = VG_EFORMAT;
            snprintf(why, why_cap, "empty file");
            goto fail;
        }
        in->seekable = 1;
    } else {
        in->head = vg_malloc(ctx, VGI_SNIFF_MAX);
        if (!in->head) {
            rc = VG_ENOMEM;
            snprintf(why, why_cap, "out of memory");
            goto fail;
        }
    }
    buf = av_malloc(VGI_AVIO_BUFFER);
    if (buf)
        in->avio = avio_alloc_context(buf, VGI_AVIO_BUFFER, 0, in, avio_read_cb,
                                      NULL, in->seekable ? avio_seek_cb : NULL);
    if (!in->avio) {
        av_free(buf);
        rc = VG_ENOMEM;
        snprintf(why, why_cap, "out of memory");
        goto fail;
    }
    *out = in;
    return 0;

fail:
    vgi_local_close(&in);
    return rc;
}

int vgi_local_read_at(vgi_local_input *in, int64_t off, void *buf, int n)
{
    size_t want;

    if (off < 0 || n <= 0)
        return 0;
    if (in->seekable) {
        int got = 0;
        while (got < n) {
            ssize_t r;
            if (vg_context_stop_requested(in->ctx)) {
                in->stopped = 1;
                return VG_EINTR;
            }
            r = pread(in->fd, (uint8_t *)buf + got, (size_t)(n - got),
                      (off_t)(off + got));
            if (r == 0)
                break;
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return VG_EIO;
            }
            got += (int)r;
        }
        return got;
    }
    if (off >= VGI_SNIFF_MAX)
        return 0;
    want = (size_t)off + (size_t)n;
    if (want > VGI_SNIFF_MAX)
        want = VGI_SNIFF_MAX;
    while (in->head_len < want && !in->head_eof) {
        int r = read_fd(in, in->head + in->head_len,
                        (int)(VGI_SNIFF_MAX - in->head_len));
        if (r < 0)
            return r;
        if (r == 0)
            in->head_eof = 1;
        in->head_len += (size_t)r;
    }
    if ((size_t)off >= in->head_len)
        return 0;
    if (want > in->head_len)
        want = in->head_len;
    memcpy(buf, in->head + off, want - (size_t)off);
    return (int)(want - (size_t)off);
}

AVIOContext *vgi_local_avio(vgi_local_input *in)
{
    return in->avio;
}

int vgi_local_seekable(const vgi_local_input *in)
{
    return in->seekable;
}

int vgi_local_stopped(const vgi_local_input *in)
{
    return in->stopped;
}

int vgi_local_timed_out(const vgi_local_input *in)
{
    return in->timed_out;
}

void vgi_local_close(vgi_local_input **pin)
{
    vgi_local_input *in;

    if (!pin || !*pin)
        return;
    in = *pin;
    if (in->avio) {
        av_freep(&in->avio->buffer);
        avio_context_free(&in->avio);
    }
    if (in->fd >= 0)
        close(in->fd);
    vg_free(in->ctx, in->head);
    vg_free(in->ctx, in);
    *pin = NULL;
}
