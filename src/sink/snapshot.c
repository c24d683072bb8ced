/*
 * Snapshot store: annotated JPEGs per event, written atomically, with
 * retention by age and total size over vigil's own files only.
 */
#include "vigil/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>

#include "vigil/events.h"
#include "vigil/fsutil.h"
#include "vigil/image.h"
#include "vigil/residency.h" /* vg_format_bytes */

#define MAX_ROUNDS 64 /* retention rescans when more than index_cap must go */

struct entry {
    int64_t mtime_ns;
    uint64_t size;
    char date[11];
    char name[24]; /* <digits>.jpg */
};

struct vg_snapshots {
    vg_context *ctx;
    vg_snapshots_opts opts;
    char *snapdir; /* DIR/snapshots */
    uint8_t *pic;  /* private copy of the picture, tightly packed */
    uint8_t *jpeg; /* compressed output */
    size_t pic_cap, jpeg_cap;
    int enabled;
    int low_space; /* 1 while stopped for min_free_bytes */
    int64_t last_pass_ns;
    char made_date[11]; /* last DATE directory known to exist */
    struct entry *heap; /* retention index: max-heap of the oldest files */
    unsigned heap_n;
    vg_snapshots_stats stats;
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    char errmsg[320];
};

void vg_snapshots_opts_default(vg_snapshots_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->max_age_days = 30;
    o->max_total_bytes = 1ull << 30;
    o->quality = 85;
    o->enforce_every_s = 60;
    o->index_cap = 4096;
    o->min_free_bytes = 1ull << 20;
}

__attribute__((format(printf, 3, 4))) static int
set_err(vg_snapshots *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
    vg_log(s->ctx, VG_LOG_DEBUG, "%s", s->errmsg);
    return code;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int is_disk_full(int err)
{
    return err == ENOSPC || err == EFBIG || err == EDQUOT;
}

/* ---- names ----------------------------------------------------------------*/

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* YYYY-MM-DD */
static int is_date_name(const char *n)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (n[i] != '-')
                return 0;
        } else if (!is_digit(n[i])) {
            return 0;
        }
    }
    return n[10] == '\0';
}

/* <1..19 digits>.jpg */
static int is_snapshot_name(const char *n)
{
    int d = 0;
    while (is_digit(n[d]))
        d++;
    return d >= 1 && d <= 19 && strcmp(n + d, ".jpg") == 0;
}

/* ---- retention
 * --------------------------------------------------------------*/

/* 1 when a is older than b (modification time, then id). */
static int older(const struct entry *a, const struct entry *b)
{
    size_t la, lb;
    if (a->mtime_ns != b->mtime_ns)
        return a->mtime_ns < b->mtime_ns;
    la = strlen(a->name);
    lb = strlen(b->name);
    if (la != lb)
        return la < lb;
    return strcmp(a->name, b->name) < 0;
}

static void heap_swap(struct entry *a, struct entry *b)
{
    struct entry t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(struct entry *h, unsigned n, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && older(&h[m], &h[l]))
            m = l;
        if (r < n && older(&h[m], &h[r]))
            m = r;
        if (m == i)
            return;
        heap_swap(&h[i], &h[m]);
        i = m;
    }
}

/* Keeps the index_cap oldest entries: the heap's top is the newest kept. */
static void heap_offer(vg_snapshots *s, const struct entry *e)
{
    struct entry *h = s->heap;
    unsigned cap = (unsigned)s->opts.index_cap;

    if (s->heap_n < cap) {
        unsigned i = s->heap_n++;
        h[i] = *e;
        while (i > 0 && older(&h[(i - 1) / 2], &h[i])) {
            heap_swap(&h[i], &h[(i - 1) / 2]);
            i = (i - 1) / 2;
        }
    } else if (older(e, &h[0])) {
        h[0] = *e;
        sift_down(h, s->heap_n, 0);
    }
}

static int cmp_entry(const void *a, const void *b)
{
    if (older(a, b))
        return -1;
    return older(b, a) ? 1 : 0;
}

/* Scans every DATE directory: removes files older than the age limit, sums
 * the rest and offers them to the index. */
static int scan(vg_snapshots *s, int64_t now_ns, uint64_t *files,
                uint64_t *total)
{
    DIR *top, *sub;
    struct dirent *de, *fe;
    int64_t max_age_ns = (int64_t)(s->opts.max_age_days * 86400.0 * 1e9);
    int rc = 0;

    *files = 0;
    *total = 0;
    s->heap_n = 0;
    top = opendir(s->snapdir);
    if (!top)
        return set_err(s, VG_EIO, "%s: cannot read: %s", s->snapdir,
                       strerror(errno));
    while ((de = readdir(top)) != NULL) {
        int fd, removed = 0;
        if (!is_date_name(de->d_name))
            continue;
        fd = openat(dirfd(top), de->d_name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || !(sub = fdopendir(fd))) {
            if (fd >= 0)
                close(fd);
            rc = set_err(s, VG_EIO, "%s/%s: cannot read: %s", s->snapdir,
                         de->d_name, strerror(errno));
            continue;
        }
        while ((fe = readdir(sub)) != NULL) {
            struct stat sb;
            struct entry e;
            if (!is_snapshot_name(fe->d_name) ||
                fstatat(fd, fe->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(sb.st_mode))
                continue;
            e.mtime_ns =
                (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
            e.size = (uint64_t)sb.st_size;
            if (s->opts.max_age_days > 0 && now_ns - e.mtime_ns > max_age_ns &&
                unlinkat(fd, fe->d_name, 0) == 0) {
                s->stats.deleted++;
                s->stats.bytes_deleted += e.size;
                removed = 1;
                continue;
            }
            memcpy(e.date, de->d_name, sizeof(e.date));
            memcpy(e.name, fe->d_name, strlen(fe->d_name) + 1); /* <= 23 */
            (*files)++;
            *total += e.size;
            heap_offer(s, &e);
        }
        closedir(sub);
        if (removed)
            unlinkat(dirfd(top), de->d_name, AT_REMOVEDIR); /* when empty */
    }
    closedir(top);
    return rc;
}

int vg_snapshots_enforce(vg_snapshots *s)
{
    struct timespec ts;
    int64_t now_ns;
    uint64_t files = 0, total = 0, deleted_before;
    int rc = 0;

    if (!s)
        return VG_EINVAL;
    clock_gettime(CLOCK_REALTIME, &ts);
    now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    deleted_before = s->stats.deleted;
    s->last_pass_ns = mono_ns();
    s->stats.passes++;
    for (int round = 0; round < MAX_ROUNDS; round++) {
        unsigned i, removed = 0;
        rc = scan(s, now_ns, &files, &total);
        if (s->opts.max_total_bytes == 0 || total <= s->opts.max_total_bytes)
            break;
        qsort(s->heap, s->heap_n, sizeof(*s->heap), cmp_entry);
        for (i = 0; i < s->heap_n && total > s->opts.max_total_bytes; i++) {
            const struct entry *e = &s->heap[i];
            int n = snprintf(s->path, sizeof(s->path), "%s/%s/%s", s->snapdir,
                             e->date, e->name);
            if (n < 0 || (size_t)n >= sizeof(s->path) || unlink(s->path) != 0)
                continue;
            s->stats.deleted++;
            s->stats.bytes_deleted += e->size;
            total -= e->size;
            files--;
            removed++;
            snprintf(s->path, sizeof(s->path), "%s/%s", s->snapdir, e->date);
            rmdir(s->path); /* only succeeds once the directory is empty */
        }
        if (total <= s->opts.max_total_bytes || removed == 0)
            break;
    }
    s->stats.files = files;
    s->stats.total_bytes = total;
    if (!s->enabled && s->stats.deleted > deleted_before) {
        s->enabled = 1;
        s->stats.disabled = 0;
        vg_log(s->ctx, VG_LOG_WARN,
               "snapshots enabled again: retention freed space");
    }
    return rc;
}

/* ---- JPEG into the preallocated buffer ------------------------------------*/

struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
};

struct fixed_dest {
    struct jpeg_destination_mgr pub;
    uint8_t *buf;
    size_t cap;
    struct jpeg_fail *fail;
};

static void on_error(j_common_ptr cinfo)
{
    struct jpeg_fail *f = (struct jpeg_fail *)cinfo->err;
    f->mgr.format_message(cinfo, f->msg);
    longjmp(f->jump, 1);
}

static void on_message(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void dest_init(j_compress_ptr c)
{
    struct fixed_dest *d = (struct fixed_dest *)c->dest;
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = d->cap;
}

static boolean dest_full(j_compress_ptr c)
{
    struct fixed_dest *d = (struct fixed_dest *)c->dest;
    snprintf(d->fail->msg, sizeof(d->fail->msg),
             "compressed picture larger than %zu bytes", d->cap);
    longjmp(d->fail->jump, 1);
    return FALSE;
}

static void dest_term(j_compress_ptr c)
{
    (void)c;
}

/* Compresses pic (w x h, packed) into out; returns the size or 0 with
 * fail->msg set. */
static size_t compress(const uint8_t *pic, int w, int h, int quality,
                       uint8_t *out, size_t out_cap, struct jpeg_fail *fail)
{
    size_t used;
    struct jpeg_compress_struct c;
    struct fixed_dest dest;

    memset(&c, 0, sizeof(c));
    memset(&dest, 0, sizeof(dest));
    c.err = jpeg_std_error(&fail->mgr);
    fail->mgr.error_exit = on_error;
    fail->mgr.output_message = on_message;
    if (setjmp(fail->jump)) {
        jpeg_destroy_compress(&c);
        return 0;
    }
    jpeg_create_compress(&c);
    dest.pub.init_destination = dest_init;
    dest.pub.empty_output_buffer = dest_full;
    dest.pub.term_destination = dest_term;
    dest.buf = out;
    dest.cap = out_cap;
    dest.fail = fail;
    c.dest = &dest.pub;
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pic + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    used = out_cap - dest.pub.free_in_buffer;
    jpeg_destroy_compress(&c);
    return used;
}

/* ---- writing
 * ----------------------------------------------------------------*/

static int reserve(vg_snapshots *s, int w, int h)
{
    size_t pic = (size_t)w * h * 3;
    size_t jpeg = pic + 65536;
    uint8_t *p, *j;

    if (pic <= s->pic_cap)
        return 0;
    p = vg_malloc(s->ctx, pic);
    j = vg_malloc(s->ctx, jpeg);
    if (!p || !j) {
        vg_free(s->ctx, p);
        vg_free(s->ctx, j);
        return set_err(s, VG_ENOMEM, "%s: no memory for a %dx%d snapshot",
                       s->snapdir, w, h);
    }
    vg_free(s->ctx, s->pic);
    vg_free(s->ctx, s->jpeg);
    s->pic = p;
    s->jpeg = j;
    s->pic_cap = pic;
    s->jpeg_cap = jpeg;
    return 0;
}

/* Float to pixel without overflow (NaN gives 0). */
static int clamp_px(float v)
{
    if (!(v > -1e6f))
        return v != v ? 0 : -1000000;
    return v > 1e6f ? 1000000 : (int)v;
}

static void annotate(vg_snapshots *s, const vg_event *ev, int w, int h)
{
    int t = (w < h ? w : h) / 160;
    int scale = h >= 720 ? 2 : 1;
    int x = clamp_px(ev->box.x), y = clamp_px(ev->box.y);
    int bw = clamp_px(ev->box.w + 0.5f), bh = clamp_px(ev->box.h + 0.5f);
    int tw, th, ly;
    char label[200];

    if (t < 2)
        t = 2;
    vg_image_draw_rect(s->pic, w, h, w * 3, x, y, bw, bh, t, 255, 0, 0);
    if (ev->track_id >= 0)
        snprintf(label, sizeof(label), "%s #%lld %s %.2f", ev->rule,
                 (long long)ev->track_id, ev->class_name, (double)ev->score);
    else
        snprintf(label, sizeof(label), "%s %s %d", ev->rule,
                 vg_event_kind_name(ev->kind), ev->count);
    tw = vg_image_text_width(label, scale);
    th = vg_image_text_height(scale);
    ly = y - th - 2 * scale - 1;
    if (ly < 0)
        ly = y + t; /* no room above: inside the box */
    if (x < 0)
        x = 0;
    vg_image_fill_rect(s->pic, w, h, w * 3, x, ly, tw + 2 * scale,
                       th + 2 * scale, 255, 0, 0);
    vg_image_draw_text_scaled(s->pic, w, h, w * 3, x + scale, ly + scale, label,
                              scale, 255, 255, 255);
}

static int fail_io(vg_snapshots *s, const char *what, const char *path, int err)
{
    s->stats.failed++;
    if (is_disk_full(err)) {
        if (s->enabled)
            vg_log(s->ctx, VG_LOG_ERROR,
                   "snapshots disabled: disk full (%s: %s)", path,
                   strerror(err));
        s->enabled = 0;
        s->stats.disabled = 1;
    }
    return set_err(s, VG_EIO, "%s: %s: %s", path, what, strerror(err));
}

static int write_file(vg_snapshots *s, size_t n)
{
    const uint8_t *p = s->jpeg;
    int fd, err;

    fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
              0644);
    if (fd < 0) {
        if (errno == ELOOP)
            return set_err(s, VG_EIO,
                           "%s: is a symbolic link; vigil does not write "
                           "through links",
                           s->tmp);
        return fail_io(s, "cannot create", s->tmp, errno);
    }
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            err = k < 0 ? errno : ENOSPC;
            close(fd);
            unlink(s->tmp);
            return fail_io(s, "write failed", s->tmp, err);
        }
        p += k;
        n -= (size_t)k;
    }
    if (close(fd) != 0) {
        err = errno;
        unlink(s->tmp);
        return fail_io(s, "write failed", s->tmp, err);
    }
    if (rename(s->tmp, s->path) != 0) {
        err = errno;
        unlink(s->tmp);
        return fail_io(s, "cannot rename into place", s->path, err);
    }
    return 0;
}

/* Refuses (once with a message, then quietly) a snapshot that would leave
 * less than min_free_bytes on the device; writes resume when there is room
 * again. */
static int check_space(vg_snapshots *s, size_t size)
{
    uint64_t free_bytes;
    char have[32], need[32];

    if (s->opts.min_free_bytes == 0 || vg_free_bytes(s->snapdir, &free_bytes))
        return 0;
    if (free_bytes >= s->opts.min_free_bytes + size) {
        if (s->low_space)
            vg_log(s->ctx, VG_LOG_WARN,
                   "%s: snapshots resumed: %s free on the device", s->snapdir,
                   vg_format_bytes(free_bytes, have, sizeof(have)));
        s->low_space = 0;
        return 0;
    }
    s->stats.skipped++;
    vg_format_bytes(free_bytes, have, sizeof(have));
    vg_format_bytes(s->opts.min_free_bytes, need, sizeof(need));
    set_err(s, VG_ENOSPC,
            "%s: snapshots stopped: %s left on the device; a snapshot would "
            "leave less than the %s kept free for events (events are still "
            "stored)",
            s->snapdir, have, need);
    if (!s->low_space)
        vg_log(s->ctx, VG_LOG_WARN, "%s", s->errmsg);
    s->low_space = 1;
    s->stats.low_space = 1;
    return VG_ENOSPC;
}

int vg_snapshots_write(vg_snapshots *s, const vg_event *ev, const uint8_t *rgb,
                       int w, int h, int stride, char *relpath, size_t cap)
{
    struct jpeg_fail fail;
    struct tm tm;
    time_t secs;
    char date[16];
    size_t size;
    int n, rc;

    if (relpath && cap > 0)
        relpath[0] = '\0';
    if (!s)
        return VG_EINVAL;
    if (s->opts.enforce_every_s >= 0 &&
        mono_ns() - s->last_pass_ns >= (int64_t)(s->opts.enforce_every_s * 1e9))
        vg_snapshots_enforce(s);
    if (!s->enabled) {
        s->stats.skipped++;
        return set_err(s, VG_EIO, "%s: snapshots disabled: disk full",
                       s->snapdir);
    }
    if (!ev || ev->id <= 0 || !rgb || !relpath || w <= 0 || h <= 0 ||
        w > 65500 || h > 65500 || stride < w * 3)
        return set_err(s, VG_EINVAL,
                       "%s: invalid snapshot (event id %lld, picture %dx%d "
                       "stride %d)",
                       s->snapdir, ev ? (long long)ev->id : 0LL, w, h, stride);
    if ((rc = reserve(s, w, h)) < 0) {
        s->stats.failed++;
        return rc;
    }
    secs = (time_t)((ev->wall_ms > 0 ? ev->wall_ms : 0) / 1000);
    if (ev->wall_ms <= 0)
        secs = time(NULL);
    gmtime_r(&secs, &tm);
    snprintf(date, sizeof(date), "%04u-%02u-%02u",
             (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
    n = snprintf(relpath, cap, "snapshots/%s/%lld.jpg", date,
                 (long long)ev->id);
    if (n < 0 || (size_t)n >= cap) {
        relpath[0] = '\0';
        return set_err(s, VG_ERANGE, "%s: relpath buffer of %zu too small",
                       s->snapdir, cap);
    }
    relpath[0] = '\0';

    n = snprintf(s->path, sizeof(s->path), "%s/%s", s->snapdir, date);
    if (n < 0 || (size_t)n >= sizeof(s->path))
        return set_err(s, VG_EINVAL, "%s: path too long", s->snapdir);
    if (strcmp(date, s->made_date) != 0) {
        if (mkdir(s->path, 0755) != 0 && errno != EEXIST)
            return fail_io(s, "cannot create directory", s->path, errno);
        memcpy(s->made_date, date, sizeof(s->made_date));
    }
    n = snprintf(s->tmp, sizeof(s->tmp), "%s/.%lld.jpg.%ld.tmp", s->path,
                 (long long)ev->id, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(s->tmp))
        return set_err(s, VG_EINVAL, "%s: path too long", s->snapdir);
    snprintf(s->path + strlen(s->path), sizeof(s->path) - strlen(s->path),
             "/%lld.jpg", (long long)ev->id);

    for (int y = 0; y < h; y++)
        memcpy(s->pic + (size_t)y * w * 3, rgb + (size_t)y * stride,
               (size_t)w * 3);
    annotate(s, ev, w, h);
    fail.msg[0] = '\0';
    size = compress(s->pic, w, h, s->opts.quality, s->jpeg, s->jpeg_cap, &fail);
    if (size == 0) {
        s->stats.failed++;
        return set_err(s, VG_EIO, "%s: JPEG encoding failed: %s", s->path,
                       fail.msg);
    }
    if ((rc = check_space(s, size)) < 0)
        return rc;
    if ((rc = write_file(s, size)) < 0) {
        s->made_date[0] = '\0'; /* the directory may have gone: remake it */
        return rc;
    }
    snprintf(relpath, cap, "snapshots/%s/%lld.jpg", date, (long long)ev->id);
    s->stats.written++;
    return 0;
}

/* ---- open / close
 * -----------------------------------------------------------*/

int vg_snapshots_enabled(const vg_snapshots *s)
{
    return s ? s->enabled : 0;
}

void vg_snapshots_stats_get(const vg_snapshots *s, vg_snapshots_stats *out)
{
    if (!out)
        return;
    if (!s)
        memset(out, 0, sizeof(*out));
    else
        *out = s->stats;
}

const char *vg_snapshots_errmsg(const vg_snapshots *s)
{
    return s ? s->errmsg : "";
}

int vg_snapshots_open(vg_context *ctx, const char *dir,
                      const vg_snapshots_opts *o, vg_snapshots **out)
{
    vg_snapshots *s;
    size_t n;
    int rc;

    if (!out)
        return vg_fail(ctx, VG_EINVAL, "vg_snapshots_open: out is NULL");
    *out = NULL;
    if (!dir || !dir[0])
        return vg_fail(ctx, VG_EINVAL, "vg_snapshots_open: no directory");
    s = vg_calloc(ctx, 1, sizeof(*s));
    if (!s)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", dir);
    s->ctx = ctx;
    s->enabled = 1;
    vg_snapshots_opts_default(&s->opts);
    if (o)
        s->opts = *o;
    if (s->opts.quality < 1 || s->opts.quality > 100 ||
        s->opts.max_age_days < 0 || s->opts.max_width < 0 ||
        s->opts.max_height < 0 || s->opts.max_width > 65500 ||
        s->opts.max_height > 65500) {
        rc = vg_fail(ctx, VG_EINVAL,
                     "%s: invalid snapshot options (quality %d, max age %g "
                     "days, max size %dx%d)",
                     dir, s->opts.quality, s->opts.max_age_days,
                     s->opts.max_width, s->opts.max_height);
        goto fail;
    }
    if (s->opts.index_cap < 16)
        s->opts.index_cap = 16;
    s->stats.index_cap = (unsigned)s->opts.index_cap;
    n = strlen(dir);
    s->snapdir = vg_malloc(ctx, n + sizeof("/snapshots"));
    s->heap = vg_malloc(ctx, (size_t)s->opts.index_cap * sizeof(*s->heap));
    if (!s->snapdir || !s->heap) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", dir);
        goto fail;
    }
    memcpy(s->snapdir, dir, n);
    memcpy(s->snapdir + n, "/snapshots", sizeof("/snapshots"));
    if (n + 64 >= PATH_MAX) {
        rc = vg_fail(ctx, VG_EINVAL, "%s: path too long", dir);
        goto fail;
    }
    if ((rc = vg_refuse_link(ctx, s->snapdir)) < 0)
        goto fail;
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) ||
        (mkdir(s->snapdir, 0755) != 0 && errno != EEXIST)) {
        rc = vg_fail(ctx, VG_EIO, "%s: cannot create directory: %s", s->snapdir,
                     strerror(errno));
        goto fail;
    }
    if (s->opts.max_width > 0 && s->opts.max_height > 0 &&
        reserve(s, s->opts.max_width, s->opts.max_height) < 0) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: %s", dir, s->errmsg);
        goto fail;
    }
    if (vg_snapshots_enforce(s) < 0)
        vg_log(ctx, VG_LOG_WARN, "%s", s->errmsg);
    *out = s;
    return 0;
fail:
    vg_snapshots_close(&s);
    return rc;
}

void vg_snapshots_close(vg_snapshots **sp)
{
    vg_snapshots *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    *sp = NULL;
    vg_free(s->ctx, s->pic);
    vg_free(s->ctx, s->jpeg);
    vg_free(s->ctx, s->heap);
    vg_free(s->ctx, s->snapdir);
    vg_free(s->ctx, s);
}
