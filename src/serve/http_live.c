/* vg_http's live pictures (http_internal.h): one JPEG encoder thread per
 * watched camera (vg_job_watch +1 while it has viewers); each viewer of
 * stream.mjpeg copies the newest JPEG when it is ready for the next one,
 * skipping what it missed; frame.jpg encodes one picture. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/http_internal.h"
#include "vigil/clock.h"
#include "vigil/image.h"

static void *encoder_main(void *arg)
{
    feed *f = arg;
    struct vg_http *h = f->h;
    uint64_t seq = 0;
    size_t rgb_cap = (size_t)h->mjpeg_width * (size_t)h->mjpeg_width * 3;
    uint8_t *rgb = malloc(rgb_cap);
    uint8_t *jpeg = NULL;
    size_t jpeg_cap = 0;
    double period = h->mjpeg_fps > 0 ? 1.0 / h->mjpeg_fps : 0.2;

    while (rgb && !atomic_load(&f->stop) && !atomic_load(&h->stopping)) {
        double t0 = vgi_http_now_s();
        int w = 0, ht = 0;
        int rc = vg_job_frame_get(h->job, f->name, h->mjpeg_width, &seq, rgb,
                                  rgb_cap, &w, &ht);
        if (rc == VG_ERANGE && rgb_cap < (size_t)64 << 20) {
            uint8_t *n = realloc(rgb, rgb_cap * 2);
            if (n) {
                rgb = n;
                rgb_cap *= 2;
            }
            continue;
        }
        if (rc == VG_ENOENT) {
            pthread_mutex_lock(&f->lock);
            f->gone = 1;
            pthread_cond_broadcast(&f->cond);
            pthread_mutex_unlock(&f->lock);
        }
        if (rc == 1) {
            long n = vg_image_encode_jpeg(rgb, w, ht, w * 3, JPEG_QUALITY,
                                          &jpeg, &jpeg_cap);
            if (n > 0) {
                uint8_t *tb;
                size_t tc;
                atomic_fetch_add(&h->encoded, 1);
                pthread_mutex_lock(&f->lock);
                tb = f->jpeg;
                tc = f->jpeg_cap;
                f->jpeg = jpeg;
                f->jpeg_cap = jpeg_cap;
                f->jpeg_len = n;
                f->jpeg_seq++;
                f->gone = 0;
                pthread_cond_broadcast(&f->cond);
                pthread_mutex_unlock(&f->lock);
                jpeg = tb;
                jpeg_cap = tc;
            }
        }
        /* the next picture at the configured rate */
        while (!atomic_load(&f->stop) && !atomic_load(&h->stopping)) {
            double left = t0 + period - vgi_http_now_s();
            if (left <= 0)
                break;
            vgi_http_sleep_ms(left > 0.05 ? 50 : (int)(left * 1000) + 1);
        }
    }
    free(rgb);
    free(jpeg);
    return NULL;
}

/* camera's feed entry (created when create is set and a slot is free). */
static feed *feed_find(struct vg_http *h, const char *name, int create)
{
    feed *f = NULL;
    pthread_mutex_lock(&h->feeds_lock);
    for (int i = 0; i < VG_JOB_MAX_STREAMS; i++)
        if (h->feeds[i].used && !strcmp(h->feeds[i].name, name))
            f = &h->feeds[i];
    for (int i = 0; create && !f && i < VG_JOB_MAX_STREAMS; i++)
        if (!h->feeds[i].used) {
            f = &h->feeds[i];
            f->used = 1;
            snprintf(f->name, sizeof(f->name), "%s", name);
        }
    pthread_mutex_unlock(&h->feeds_lock);
    return f;
}

/* A viewer joins camera's feed; NULL when no such camera (or no slot). */
static feed *feed_join(struct vg_http *h, const char *name)
{
    feed *f = feed_find(h, name, 1);
    if (f == NULL)
        return NULL;
    pthread_mutex_lock(&f->ctl);
    if (f->viewers == 0) {
        if (vg_job_watch(h->job, name, +1) < 0) {
            pthread_mutex_unlock(&f->ctl);
            return NULL;
        }
        atomic_store(&f->stop, 0);
        pthread_mutex_lock(&f->lock);
        f->gone = 0;
        pthread_mutex_unlock(&f->lock);
        if (pthread_create(&f->thread, NULL, encoder_main, f) != 0) {
            vg_job_watch(h->job, name, -1);
            pthread_mutex_unlock(&f->ctl);
            return NULL;
        }
        f->thread_running = 1;
    }
    f->viewers++;
    pthread_mutex_unlock(&f->ctl);
    atomic_fetch_add(&h->viewers, 1);
    return f;
}

static void feed_leave(struct vg_http *h, feed *f)
{
    pthread_mutex_lock(&f->ctl);
    if (--f->viewers == 0 && f->thread_running) {
        atomic_store(&f->stop, 1);
        pthread_join(f->thread, NULL);
        f->thread_running = 0;
        vg_job_watch(h->job, f->name, -1);
    }
    pthread_mutex_unlock(&f->ctl);
    atomic_fetch_sub(&h->viewers, 1);
}

/* ---- frame.jpg ----------------------------------------------------------*/

enum MHD_Result vgi_http_do_frame(struct vg_http *h, struct MHD_Connection *c,
                                  request *r)
{
    long long width = 0;
    int max_w, got = 0, w = 0, ht = 0, rc;
    uint64_t seq = 0;
    size_t cap;
    uint8_t *rgb = NULL, *jpeg = NULL;
    size_t jpeg_cap = 0;
    long n;
    double deadline;
    feed *f;

    if (vgi_http_arg_int(c, "width", 16, FRAME_MAX_WIDTH, &width) < 0)
        return vgi_http_send_error(h, c, 400, "width: a whole number 16..%d",
                                   FRAME_MAX_WIDTH);
    max_w = width > 0 ? (int)width : FRAME_MAX_WIDTH;
    cap = (size_t)max_w * (size_t)max_w * 3;
    f = feed_find(h, r->name, 1);
    if (width == 0 && f && atomic_load(&f->full_w) > 0)
        cap = (size_t)atomic_load(&f->full_w) *
              (size_t)atomic_load(&f->full_h) * 3;
    if (vg_job_watch(h->job, r->name, +1) < 0)
        return vgi_http_send_error(h, c, 404, "no camera '%s'", r->name);
    rgb = malloc(cap);
    if (rgb == NULL) {
        vg_job_watch(h->job, r->name, -1);
        return vgi_http_send_error(h, c, 503, "out of memory");
    }
    /* whatever it has, then a newer one when it comes within a second */
    for (int tries = 0; tries < 3; tries++) {
        rc = vg_job_frame_get(h->job, r->name, max_w, &seq, rgb, cap, &w, &ht);
        if (rc != VG_ERANGE)
            break;
        {
            uint8_t *nb = realloc(rgb, cap * 2);
            if (nb == NULL)
                break;
            rgb = nb;
            cap *= 2;
        }
    }
    got = rc == 1;
    deadline = vgi_http_now_s() + 1.0;
    while (rc >= 0 && vgi_http_now_s() < deadline &&
           !atomic_load(&h->stopping)) {
        uint64_t s2 = seq;
        int w2, h2;
        rc = vg_job_frame_get(h->job, r->name, max_w, &s2, rgb, cap, &w2, &h2);
        if (rc == 1) {
            got = 1;
            seq = s2;
            w = w2;
            ht = h2;
            break;
        }
        vgi_http_sleep_ms(20);
    }
    vg_job_watch(h->job, r->name, -1);
    if (!got) {
        free(rgb);
        return vgi_http_send_error(h, c, 503, "camera '%s': no picture yet",
                                   r->name);
    }
    if (width == 0 && f == NULL)
        f = feed_find(h, r->name, 1);
    if (width == 0 && f) {
        atomic_store(&f->full_w, w);
        atomic_store(&f->full_h, ht);
    }
    n = vg_image_encode_jpeg(rgb, w, ht, w * 3, JPEG_QUALITY, &jpeg, &jpeg_cap);
    free(rgb);
    if (n <= 0) {
        free(jpeg);
        return vgi_http_send_error(h, c, 500, "camera '%s': cannot encode",
                                   r->name);
    }
    atomic_fetch_add(&h->encoded, 1);
    return vgi_http_send_owned(c, 200, "image/jpeg", (char *)jpeg, (size_t)n);
}

/* ---- stream.mjpeg -------------------------------------------------------*/

typedef struct viewer {
    struct vg_http *h;
    feed *f;
    uint64_t seq;
    char *part;
    size_t part_cap, part_len, part_off;
    double last_frame;
} viewer;

static ssize_t mjpeg_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    viewer *v = cls;
    feed *f = v->f;
    size_t n;
    (void)pos;
    if (v->part_off >= v->part_len) {
        char head[128];
        int hl;
        pthread_mutex_lock(&f->lock);
        while (f->jpeg_seq <= v->seq) {
            struct timespec ts;
            if (atomic_load(&v->h->stopping) || f->gone ||
                vgi_http_now_s() - v->last_frame > v->h->idle_s) {
                pthread_mutex_unlock(&f->lock);
                return MHD_CONTENT_READER_END_OF_STREAM;
            }
            vg_clock_deadline(CLOCK_REALTIME, 100, &ts);
            pthread_cond_timedwait(&f->cond, &f->lock, &ts);
        }
        hl = snprintf(head, sizeof(head),
                      "--" BOUNDARY "\r\nContent-Type: image/jpeg\r\n"
                      "Content-Length: %ld\r\n\r\n",
                      f->jpeg_len);
        if (v->part_cap < (size_t)hl + (size_t)f->jpeg_len + 2) {
            size_t nc = (size_t)hl + (size_t)f->jpeg_len + 2 + 65536;
            char *np = realloc(v->part, nc);
            if (np == NULL) {
                pthread_mutex_unlock(&f->lock);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            v->part = np;
            v->part_cap = nc;
        }
        memcpy(v->part, head, (size_t)hl);
        memcpy(v->part + hl, f->jpeg, (size_t)f->jpeg_len);
        memcpy(v->part + hl + f->jpeg_len, "\r\n", 2);
        v->part_len = (size_t)hl + (size_t)f->jpeg_len + 2;
        v->part_off = 0;
        v->seq = f->jpeg_seq;
        pthread_mutex_unlock(&f->lock);
        v->last_frame = vgi_http_now_s();
    }
    n = v->part_len - v->part_off;
    if (n > max)
        n = max;
    memcpy(buf, v->part + v->part_off, n);
    v->part_off += n;
    return (ssize_t)n;
}

static void viewer_free(void *cls)
{
    viewer *v = cls;
    feed_leave(v->h, v->f);
    free(v->part);
    free(v);
}

enum MHD_Result vgi_http_do_stream(struct vg_http *h, struct MHD_Connection *c,
                                   request *r)
{
    viewer *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return vgi_http_send_error(h, c, 503, "out of memory");
    v->h = h;
    v->f = feed_join(h, r->name);
    if (v->f == NULL) {
        free(v);
        return vgi_http_send_error(h, c, 404, "no camera '%s'", r->name);
    }
    v->last_frame = vgi_http_now_s();
    return vgi_http_send_stream(c,
                                "multipart/x-mixed-replace; boundary=" BOUNDARY,
                                mjpeg_read, v, viewer_free);
}

void vgi_http_feeds_stop(struct vg_http *h)
{
    for (int i = 0; i < VG_JOB_MAX_STREAMS; i++) {
        feed *f = &h->feeds[i];
        if (f->thread_running) {
            atomic_store(&f->stop, 1);
            pthread_join(f->thread, NULL);
            vg_job_watch(h->job, f->name, -1);
        }
        free(f->jpeg);
        pthread_mutex_destroy(&f->ctl);
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
    }
}
