/*
 * Reliability of sources: every input is opened once (FIFOs keep their
 * header), every wait honours a stop request (VG_EINTR) and long timeouts,
 * implausible frame rates and stalled timestamps are replaced, and huge
 * pictures are refused before anything is decoded. Synchronisation is on
 * events (an fd appearing in /proc/self/fd, an accepted connection, a byte
 * on a pipe), never on sleeps; the timeouts given are only safety nets.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/source.h"

/* Long enough never to matter when stop works; ends a broken test. */
#define SAFETY_TIMEOUT_MS 60000

struct fx {
    vg_context *ctx;
    char *dir;
    char path[1024];
    /* log lines at warn level that contain `want` */
    const char *want;
    atomic_int warnings;
};

static void count_warnings(void *user, int level, const char *line)
{
    struct fx *f = user;
    if (level == VG_LOG_WARN && f->want && strstr(line, f->want))
        atomic_fetch_add(&f->warnings, 1);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f || !(f->dir = io_tmpdir_create()))
        return -1;
    if (vg_context_create(&f->ctx) < 0)
        return -1;
    vg_context_set_log_level(f->ctx, VG_LOG_WARN);
    vg_context_set_log_fn(f->ctx, count_warnings, f);
    signal(SIGPIPE, SIG_IGN); /* a writer whose reader left gets EPIPE */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    vg_alloc_stats st;
    vg_context_alloc_stats(f->ctx, &st);
    assert_int_equal(st.allocs, st.frees);
    vg_context_destroy(&f->ctx);
    io_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static vg_source_opts opts(void)
{
    vg_source_opts o;
    vg_source_opts_default(&o);
    o.tensor.width = 32;
    o.tensor.height = 32;
    o.timeout_ms = SAFETY_TIMEOUT_MS;
    return o;
}

/* A small AVI (mpeg4, 25 fps) of n frames at w x h into dir/name. */
static void make_avi(struct fx *f, const char *name, int w, int h, int n)
{
    char args[2048];
    io_path(f->path, sizeof(f->path), f->dir, name);
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc=size=%dx%d:rate=25 -frames:v %d -c:v mpeg4 "
             "'%s'",
             w, h, n, f->path);
    assert_int_equal(io_ffmpeg(args), 0);
}

/* Frames a source gives, and the code it ends with; a byte is written to
 * go_fd (when >= 0) once the first frame is out. */
static int count_frames_go(struct fx *f, const char *url,
                           const vg_source_opts *o, int go_fd, int *end)
{
    vg_source *src;
    vg_frame fr;
    int rc, n = 0;

    rc = vg_source_open(f->ctx, url, o, &src);
    if (rc < 0)
        fail_msg("%s: %s (%s)", url, vg_errname(rc), vg_context_errmsg(f->ctx));
    while ((rc = vg_source_read(src, &fr)) == 0) {
        vg_frame_release(&fr);
        if (n++ == 0 && go_fd >= 0)
            assert_int_equal(write(go_fd, "g", 1), 1);
    }
    *end = rc;
    vg_source_close(&src);
    return n;
}

static int count_frames(struct fx *f, const char *url, const vg_source_opts *o,
                        int *end)
{
    return count_frames_go(f, url, o, -1, end);
}

/* ---- a thread that requests stop once something observable happened ---- */

struct stopper {
    vg_context *ctx;
    const char *fifo; /* wait until this process has it open, or */
    int listen_fd;    /* wait until a connection is accepted on it */
    atomic_int done;  /* the main thread has its answer: give up waiting */
    int accepted_fd;
    pthread_t thread;
};

/* Whether this process has path open (the source's one open). */
static int has_open(const char *path)
{
    char link[PATH_MAX], target[PATH_MAX], real[PATH_MAX];
    struct dirent *e;
    DIR *d;
    int found = 0;

    if (!realpath(path, real))
        return 0;
    d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    while (!found && (e = readdir(d)) != NULL) {
        ssize_t n;
        snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        found = strcmp(target, real) == 0;
    }
    closedir(d);
    return found;
}

static void *stopper_main(void *p)
{
    struct stopper *s = p;
    const struct timespec tick = {0, 1000000};

    while (!atomic_load(&s->done)) {
        if (s->fifo && has_open(s->fifo))
            break;
        if (s->listen_fd >= 0) {
            struct pollfd pf = {s->listen_fd, POLLIN, 0};
            if (poll(&pf, 1, 100) > 0) {
                s->accepted_fd = accept(s->listen_fd, NULL, NULL);
                break;
            }
            continue;
        }
        nanosleep(&tick, NULL); /* polling /proc, not timing anything */
    }
    if (!atomic_load(&s->done))
        vg_context_request_stop(s->ctx);
    return NULL;
}

static void stopper_start(struct stopper *s, vg_context *ctx, const char *fifo,
                          int listen_fd)
{
    memset(s, 0, sizeof(*s));
    s->ctx = ctx;
    s->fifo = fifo;
    s->listen_fd = listen_fd;
    s->accepted_fd = -1;
    atomic_init(&s->done, 0);
    assert_int_equal(pthread_create(&s->thread, NULL, stopper_main, s), 0);
}

static void stopper_join(struct stopper *s)
{
    atomic_store(&s->done, 1);
    pthread_join(s->thread, NULL);
    if (s->accepted_fd >= 0)
        close(s->accepted_fd);
}

/* ---- a thread that writes a file into a FIFO ---------------------------- */

struct writer {
    const char *fifo, *file;
    int hold; /* keep the FIFO open after the data until `release` */
    int release[2];
    atomic_int finished;
    /* request stop on it once everything is written and a byte came on go */
    vg_context *stop_ctx;
    int go[2];
    pthread_t thread;
};

static void *writer_main(void *p)
{
    struct writer *w = p;
    char buf[8192], c;
    int fd = open(w->fifo, O_WRONLY); /* blocks until the source opens it */
    FILE *in = fopen(w->file, "rb");
    size_t n;

    while (fd >= 0 && in && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (write(fd, buf, n) != (ssize_t)n)
            break;
    if (w->stop_ctx && read(w->go[0], &c, 1) == 1)
        vg_context_request_stop(w->stop_ctx);
    if (w->hold && read(w->release[0], &c, 1) < 0)
        c = 0;
    if (in)
        fclose(in);
    if (fd >= 0)
        close(fd);
    atomic_store(&w->finished, 1);
    return NULL;
}

static void writer_start(struct writer *w, const char *fifo, const char *file,
                         int hold, vg_context *stop_ctx)
{
    memset(w, 0, sizeof(*w));
    w->fifo = fifo;
    w->file = file;
    w->hold = hold;
    w->stop_ctx = stop_ctx;
    atomic_init(&w->finished, 0);
    assert_int_equal(pipe(w->release), 0);
    assert_int_equal(pipe(w->go), 0);
    assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static void writer_join(struct writer *w)
{
    char buf[8192];
    int fd;

    /* a writer still waiting for a reader (the source failed before it
     * opened the FIFO) is let through, and drained, by a reader of ours */
    fd = open(w->fifo, O_RDONLY | O_NONBLOCK);
    close(w->go[1]); /* a writer waiting on go reads its end */
    assert_int_equal(write(w->release[1], "x", 1), 1);
    while (fd >= 0 && !atomic_load(&w->finished)) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 10) > 0 && read(fd, buf, sizeof(buf)) <= 0 &&
            (pf.revents & POLLHUP))
            break;
    }
    pthread_join(w->thread, NULL);
    if (fd >= 0)
        close(fd);
    close(w->release[0]);
    close(w->release[1]);
    close(w->go[0]);
}

/* ---- FIFOs ---------------------------------------------------------------*/

static void test_fifo_without_writer_returns_eintr_on_stop(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    struct stopper st;
    vg_source *src = (vg_source *)1;
    char fifo[1024];
    int rc;

    io_path(fifo, sizeof(fifo), f->dir, "nowriter.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    stopper_start(&st, f->ctx, fifo, -1);
    rc = vg_source_open(f->ctx, fifo, &o, &src);
    stopper_join(&st);
    if (rc != VG_EINTR)
        fail_msg("got %s (%s)", vg_errname(rc), vg_context_errmsg(f->ctx));
    assert_null(src);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), fifo));
}

static void test_fifo_without_writer_times_out(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source *src = (vg_source *)1;
    char fifo[1024];

    io_path(fifo, sizeof(fifo), f->dir, "nowriter.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    o.timeout_ms = 200;
    assert_int_equal(vg_source_open(f->ctx, fifo, &o, &src), VG_ETIMEOUT);
    assert_null(src);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), fifo));
}

static void test_fifo_with_writer_gives_every_frame(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    struct writer w;
    char fifo[1024], file[1024];
    int n_file, n_fifo, end_file, end_fifo;

    make_avi(f, "clip.avi", 160, 120, 40);
    snprintf(file, sizeof(file), "%s", f->path);
    n_file = count_frames(f, file, &o, &end_file);
    assert_int_equal(end_file, VG_EOF);
    assert_int_equal(n_file, 40);

    io_path(fifo, sizeof(fifo), f->dir, "clip.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(vg_source_is_read_once(fifo), 1);
    writer_start(&w, fifo, file, 0, NULL);
    n_fifo = count_frames(f, fifo, &o, &end_fifo);
    writer_join(&w);
    assert_int_equal(end_fifo, VG_EOF);
    assert_int_equal(n_fifo, n_file); /* the header was not eaten */
}

static void test_png_through_fifo_decodes(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source_info in;
    vg_source *src;
    vg_frame fr;
    struct writer w;
    char fifo[1024], file[1024];

    io_path(file, sizeof(file), f->dir, "black.png");
    assert_int_equal(io_write_png_black(file, 64, 48), 0);
    io_path(fifo, sizeof(fifo), f->dir, "png.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    writer_start(&w, fifo, file, 0, NULL);
    o.keep_image = 1;
    assert_int_equal(vg_source_open(f->ctx, fifo, &o, &src), 0);
    vg_source_get_info(src, &in);
    assert_int_equal(in.width, 64);
    assert_int_equal(in.height, 48);
    assert_true(in.is_pipe);
    assert_int_equal(vg_source_read(src, &fr), 0);
    assert_int_equal(((const uint8_t *)vg_buf_data(fr.image))[0], 0);
    vg_frame_release(&fr);
    assert_int_equal(vg_source_read(src, &fr), VG_EOF);
    vg_source_close(&src);
    writer_join(&w);
}

static void test_fifo_stalled_mid_stream_returns_eintr_on_stop(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    struct writer w;
    char fifo[1024], file[1024];
    int n, end;

    make_avi(f, "clip.avi", 160, 120, 40);
    snprintf(file, sizeof(file), "%s", f->path);
    io_path(fifo, sizeof(fifo), f->dir, "stall.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* the writer sends everything and keeps the FIFO open; once the first
     * frame is out it asks to stop: the reader ends on the stop, not on an
     * end of file */
    writer_start(&w, fifo, file, 1, f->ctx);
    n = count_frames_go(f, fifo, &o, w.go[1], &end);
    writer_join(&w);
    if (end != VG_EINTR)
        fail_msg("ended with %s after %d frames", vg_errname(end), n);
    assert_true(n <= 40);
}

/* ---- stop requests on other blocking steps ------------------------------*/

static void test_stop_before_open_is_eintr(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source *src = (vg_source *)1;

    make_avi(f, "clip.avi", 160, 120, 5);
    vg_context_request_stop(f->ctx);
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), VG_EINTR);
    assert_null(src);
}

static void test_stop_while_reading_a_file_is_eintr_and_sticky(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source *src;
    vg_frame fr;

    make_avi(f, "clip.avi", 160, 120, 20);
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), 0);
    assert_int_equal(vg_source_read(src, &fr), 0);
    vg_frame_release(&fr);
    vg_context_request_stop(f->ctx);
    assert_int_equal(vg_source_read(src, &fr), VG_EINTR);
    assert_null(fr.tensor);
    assert_non_null(strstr(vg_source_errmsg(src), f->path));
    assert_int_equal(vg_source_read(src, &fr), VG_EINTR);
    vg_source_close(&src);
}

/* A server that accepts and never answers; stop comes once the source's
 * connection is accepted, with a timeout that would otherwise last long. */
static void silent_server_stop(struct fx *f, const char *scheme)
{
    vg_source_opts o = opts();
    struct stopper st;
    vg_source *src = (vg_source *)1;
    char url[128];
    int port, fd, rc;

    fd = io_silent_server_open(&port);
    assert_true(fd >= 0);
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/live", scheme, port);
    stopper_start(&st, f->ctx, NULL, fd);
    rc = vg_source_open(f->ctx, url, &o, &src);
    stopper_join(&st);
    close(fd);
    if (rc != VG_EINTR)
        fail_msg("%s: got %s (%s)", url, vg_errname(rc),
                 vg_context_errmsg(f->ctx));
    assert_null(src);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), url));
}

static void test_silent_rtsp_server_returns_eintr_on_stop(void **state)
{
    silent_server_stop(*state, "rtsp");
}

static void test_silent_http_server_returns_eintr_on_stop(void **state)
{
    silent_server_stop(*state, "http");
}

/* ---- an HTTP server thread serving one file ------------------------------*/

struct http_server {
    int listen_fd, port;
    const char *file;
    int hold; /* after the data, keep the connection until release */
    int release[2];
    /* request stop once everything is sent and a byte came on go */
    vg_context *stop_ctx;
    int go[2];
    pthread_t thread;
};

static void *http_main(void *p)
{
    struct http_server *h = p;
    char buf[8192], c;
    char head[256];
    struct stat st;
    FILE *in;
    size_t n;
    int fd = accept(h->listen_fd, NULL, NULL);

    if (fd < 0)
        return NULL;
    /* a held stream has no length: its reader waits for more */
    if (h->hold || stat(h->file, &st) != 0)
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: video/x-msvideo\r\n"
                 "Connection: close\r\n\r\n");
    else
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: video/x-msvideo\r\n"
                 "Content-Length: %lld\r\nConnection: close\r\n\r\n",
                 (long long)st.st_size);
    if (read(fd, buf, sizeof(buf)) <= 0 ||
        write(fd, head, strlen(head)) != (ssize_t)strlen(head)) {
        close(fd);
        return NULL;
    }
    in = fopen(h->file, "rb");
    while (in && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (write(fd, buf, n) != (ssize_t)n)
            break;
    if (in)
        fclose(in);
    if (h->stop_ctx && read(h->go[0], &c, 1) == 1)
        vg_context_request_stop(h->stop_ctx);
    if (h->hold && read(h->release[0], &c, 1) < 0)
        c = 0;
    /* an orderly close: the client reads everything before the end */
    shutdown(fd, SHUT_WR);
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
    return NULL;
}

static void http_start(struct http_server *h, const char *file, int hold,
                       vg_context *stop_ctx)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    memset(h, 0, sizeof(*h));
    h->file = file;
    h->hold = hold;
    h->stop_ctx = stop_ctx;
    assert_int_equal(pipe(h->release), 0);
    assert_int_equal(pipe(h->go), 0);
    h->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(h->listen_fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(h->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(h->listen_fd, 4), 0);
    assert_int_equal(getsockname(h->listen_fd, (struct sockaddr *)&a, &len), 0);
    h->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&h->thread, NULL, http_main, h), 0);
}

static void http_join(struct http_server *h)
{
    close(h->go[1]);
    assert_int_equal(write(h->release[1], "x", 1), 1);
    shutdown(h->listen_fd, SHUT_RDWR); /* wakes an accept never reached */
    pthread_join(h->thread, NULL);
    close(h->listen_fd);
    close(h->release[0]);
    close(h->release[1]);
    close(h->go[0]);
}

static void
test_http_stream_stalled_mid_read_returns_eintr_on_stop(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    struct http_server h;
    vg_source *src = NULL;
    vg_frame fr;
    char url[128], file[1024], msg[512];
    int rc, n = 0;

    make_avi(f, "clip.avi", 160, 120, 40);
    snprintf(file, sizeof(file), "%s", f->path);
    http_start(&h, file, 1, f->ctx);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/clip.avi", h.port);
    rc = vg_source_open(f->ctx, url, &o, &src);
    if (rc < 0)
        fail_msg("%s: %s (%s)", url, vg_errname(rc), vg_context_errmsg(f->ctx));
    while ((rc = vg_source_read(src, &fr)) == 0) {
        vg_frame_release(&fr);
        if (n++ == 0)
            assert_int_equal(write(h.go[1], "g", 1), 1);
    }
    snprintf(msg, sizeof(msg), "%s", vg_source_errmsg(src));
    vg_source_close(&src);
    http_join(&h);
    /* the stop comes once all data is sent and the first frame is out: the
     * source ends on it, not on the 60 s timeout nor an end of file */
    if (rc != VG_EINTR)
        fail_msg("ended with %s after %d frames (%s)", vg_errname(rc), n, msg);
    assert_non_null(strstr(msg, url));
}

/* ---- timeouts up to the documented maximum -------------------------------*/

static void
test_maximum_timeout_works_on_file_http_and_refused_rtsp(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    struct http_server h;
    vg_source *src = (vg_source *)1;
    char url[128], file[1024];
    int n, end;

    o.timeout_ms = 3600000;
    make_avi(f, "clip.avi", 160, 120, 10);
    snprintf(file, sizeof(file), "%s", f->path);
    n = count_frames(f, file, &o, &end);
    assert_int_equal(n, 10);
    assert_int_equal(end, VG_EOF);

    /* 3600000 ms = 3.6e9 us does not fit the int FFmpeg's tcp takes */
    http_start(&h, file, 0, NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/clip.avi", h.port);
    n = count_frames(f, url, &o, &end);
    http_join(&h);
    assert_int_equal(n, 10);

    o.timeout_ms = 2147484; /* the first value over INT_MAX microseconds */
    assert_int_equal(vg_source_open(f->ctx, "rtsp://127.0.0.1:1/x", &o, &src),
                     VG_ENET);
    o.timeout_ms = 3600000;
    assert_int_equal(vg_source_open(f->ctx, "rtsp://127.0.0.1:1/x", &o, &src),
                     VG_ENET);
    assert_null(src);
}

/* ---- frame rates and frame times ----------------------------------------*/

static void test_zero_duration_mp4_times_advance_with_one_warning(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source_info in;
    vg_source *src;
    vg_frame fr;
    char args[2048];
    double last = -1.0;
    int rc, n = 0;

    io_path(f->path, sizeof(f->path), f->dir, "zerodur.mp4");
    /* no B-frames: every timestamp becomes 0 once the durations are 0 */
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc=size=160x120:rate=25 -frames:v 30 "
             "-c:v libx264 -bf 0 -pix_fmt yuv420p '%s'",
             f->path);
    if (io_ffmpeg(args) != 0)
        skip(); /* no libx264 in this ffmpeg */
    assert_int_equal(io_patch_mp4_zero_durations(f->path), 0);
    f->want = f->path;
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), 0);
    while ((rc = vg_source_read(src, &fr)) == 0) {
        if (fr.time_s <= last)
            fail_msg("frame %lld at %.3f s after %.3f s", (long long)fr.index,
                     fr.time_s, last);
        if (n == 1)
            assert_true(fabs(fr.time_s - 1.0 / 25) < 1e-6);
        last = fr.time_s;
        vg_frame_release(&fr);
        n++;
    }
    assert_int_equal(rc, VG_EOF);
    assert_int_equal(n, 30);
    vg_source_get_info(src, &in);
    assert_true(in.times_synthesised);
    assert_int_equal(atomic_load(&f->warnings), 1);
    vg_source_close(&src);
}

static void test_million_fps_avi_reports_a_sane_rate(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source_info in;
    vg_source *src;
    vg_frame fr;
    int n = 0;

    make_avi(f, "fast.avi", 160, 120, 10);
    assert_int_equal(io_patch_avi_rate(f->path, 1000000, 1), 0);
    f->want = "1e+06";
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), 0);
    vg_source_get_info(src, &in);
    assert_true(in.declared_fps > 999999.0);
    assert_true(in.fps > 0.0 && in.fps <= VG_SOURCE_MAX_FPS);
    assert_true(fabs(in.fps - VG_SOURCE_FALLBACK_FPS) < 1e-9);
    assert_true(in.fps_substituted);
    assert_int_equal(atomic_load(&f->warnings), 1);
    while (vg_source_read(src, &fr) == 0) {
        /* frame times follow the rate reported, not 1 us steps */
        assert_true(fabs(fr.time_s - fr.index / in.fps) < 1e-9);
        vg_frame_release(&fr);
        n++;
    }
    assert_int_equal(n, 10);
    assert_int_equal(atomic_load(&f->warnings), 1);
    vg_source_close(&src);
}

/* ---- decoded-size limit --------------------------------------------------*/

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_generated_black_png_really_decodes(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source *src;
    vg_frame fr;
    const uint8_t *px;

    io_path(f->path, sizeof(f->path), f->dir, "black.png");
    assert_int_equal(io_write_png_black(f->path, 300, 200), 0);
    o.keep_image = 1;
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), 0);
    assert_int_equal(vg_source_read(src, &fr), 0);
    assert_int_equal(fr.width, 300);
    px = vg_buf_data(fr.image);
    assert_int_equal(px[0] | px[fr.image_stride * 199 + 299 * 3 + 2], 0);
    vg_frame_release(&fr);
    vg_source_close(&src);
}

static void test_huge_png_is_refused_before_decoding(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source *src = (vg_source *)1;
    const char *msg;
    long before;

    /* valid, 16000x16000 RGB: 732 MiB decoded, inside the 16384 sides */
    io_path(f->path, sizeof(f->path), f->dir, "huge.png");
    assert_int_equal(io_write_png_black(f->path, 16000, 16000), 0);
    before = peak_rss_kib();
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), VG_ERANGE);
    assert_null(src);
    /* refused from the header: the peak grew far less than one picture */
    assert_true(peak_rss_kib() - before < 64 * 1024);
    msg = vg_context_errmsg(f->ctx);
    assert_non_null(strstr(msg, f->path));
    assert_non_null(strstr(msg, "16000x16000"));
    assert_non_null(strstr(msg, "732.4 MiB"));
    assert_non_null(strstr(msg, "256.0 MiB"));
    assert_null(strchr(msg, '\n'));

    /* a larger limit lets the same header through to the size checks */
    o.max_decoded_bytes = 1ull << 40;
    o.max_width = 1000;
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), VG_ERANGE);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "1000x16384"));
}

static void test_video_over_decoded_limit_is_refused(void **state)
{
    struct fx *f = *state;
    vg_source_opts o = opts();
    vg_source *src = (vg_source *)1;

    make_avi(f, "clip.avi", 320, 240, 5);
    /* the AVI header gives no pixel format: counted at 3 bytes per pixel,
     * 230400 bytes */
    o.max_decoded_bytes = 200000;
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), VG_ERANGE);
    assert_null(src);
    assert_non_null(strstr(vg_context_errmsg(f->ctx), "320x240"));
    assert_non_null(strstr(vg_context_errmsg(f->ctx), f->path));
    o.max_decoded_bytes = 240000;
    assert_int_equal(vg_source_open(f->ctx, f->path, &o, &src), 0);
    vg_source_close(&src);
}

static void test_read_once_inputs_are_recognised(void **state)
{
    struct fx *f = *state;

    make_avi(f, "clip.avi", 160, 120, 2);
    assert_int_equal(vg_source_is_read_once(f->path), 0);
    assert_int_equal(vg_source_is_read_once("/dev/null"), 1);
    assert_int_equal(vg_source_is_read_once("rtsp://127.0.0.1:1/x"), 0);
    assert_int_equal(vg_source_is_read_once("/no/such/file"), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fifo_without_writer_returns_eintr_on_stop),
        T(test_fifo_without_writer_times_out),
        T(test_fifo_with_writer_gives_every_frame),
        T(test_png_through_fifo_decodes),
        T(test_fifo_stalled_mid_stream_returns_eintr_on_stop),
        T(test_stop_before_open_is_eintr),
        T(test_stop_while_reading_a_file_is_eintr_and_sticky),
        T(test_silent_rtsp_server_returns_eintr_on_stop),
        T(test_silent_http_server_returns_eintr_on_stop),
        T(test_http_stream_stalled_mid_read_returns_eintr_on_stop),
        T(test_maximum_timeout_works_on_file_http_and_refused_rtsp),
        T(test_zero_duration_mp4_times_advance_with_one_warning),
        T(test_million_fps_avi_reports_a_sane_rate),
        T(test_generated_black_png_really_decodes),
        T(test_huge_png_is_refused_before_decoding),
        T(test_video_over_decoded_limit_is_refused),
        T(test_read_once_inputs_are_recognised),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
