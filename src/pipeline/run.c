#include "vigil/run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/pipeline_internal.h"
#include "vigil/clock.h"
#include "vigil/fsutil.h"
#include "vigil/overlay.h"
#include "vigil/pipeline.h"
#include "vigil/reid.h"
#include "vigil/sizing.h"

#define MAX_ZONES 32
#define TRACKS_LINE_MAX 160 /* longest tracks.txt line */
#define TRACKS_FLUSH_NS                                                        \
    1000000000LL /* tracks.txt reaches the file at                             \
                    least once a second */

/* A latency histogram: bucket 0 below 10 us, then LAT_PER_DECADE buckets
 * per decade up to 1000 s, the last one above. Fixed size: adding never
 * allocates. */
#define LAT_PER_DECADE 10
#define LAT_DECADES 8
#define LAT_BUCKETS (LAT_PER_DECADE * LAT_DECADES + 2)
#define LAT_MIN_NS 1e4

typedef struct latency_hist {
    int64_t count;
    int64_t max_ns;
    uint64_t bucket[LAT_BUCKETS];
} latency_hist;

/* What the caller's thread hands to the sink thread for one frame. */
typedef struct sink_item {
    vg_frame frame; /* holds the picture reference (the tensor is dropped) */
    int64_t arrival_ns; /* when the decoder had the frame (0: unknown) */
    int end;            /* 1: no more items */
    int n_tracks;
    vg_track tracks[VG_RUN_MAX_TRACKS];
    int n_events;
    vg_event events[VG_RUN_MAX_EVENTS];
    int n_removed; /* tracks the tracker removed: MQTT "end" (outbox) */
    int64_t removed[VG_RUN_MAX_TRACKS];
} sink_item;

typedef struct zone_copy {
    int kind;
    int n;
    float xy[2 * 64];
} zone_copy;

/* The whole job's state: one allocation at start, nothing per frame. */
typedef struct job {
    vg_context *ctx;
    const vg_run_opts *o;
    vg_detector *det;
    vg_source *src;
    vg_tracker *tracker;
    /* tracks a live input's drop ended (the tracker's reset): they go to
     * the sink with the next frame, so that their objects end (MQTT "end")
     * after every event from before the drop */
    int64_t drop_removed[VG_RUN_MAX_TRACKS];
    int n_drop_removed;
    vg_reid_embedder *reid;     /* conditional ReID on; NULL: off */
    const vg_frame *reid_frame; /* the picture of the update in progress */
    int reid_failed_now;        /* an embed failed in this update */
    int reid_logged;            /* the first failure was logged */
    vg_rules *rules;
    vg_events *events;
    vg_snapshots *snaps;
    vg_video_writer *video;
    vg_overlay *overlay;
    vg_queue *sink_q;
    int telemetry_ids[5]; /* pools and tables registered, -1 when not */
    int tracks_fd;        /* -1 when not written */
    size_t tracks_used;   /* whole lines waiting in tracks_buf */
    int64_t tracks_flushed_ns;
    int tracks_stopped, video_stopped, events_failed;
    char stream[64];
    int width, height;
    /* the zones drawn by the sink thread; replaced by the caller's thread
     * when the rules change while running (zones_lock) */
    pthread_mutex_t zones_lock;
    int zones_lock_ready;
    int n_zones;
    zone_copy zones[MAX_ZONES];
    /* sink thread results */
    pthread_t sink_thread;
    int sink_started;
    int sink_error;
    char sink_message[256];
    double sink_busy_s;
    int64_t n_events, events_by_kind[4], snapshots, snapshot_failures;
    /* the caller's thread */
    vg_detection dets[VG_MAX_DETECTIONS];
    vg_rules_object objs[VG_RUN_MAX_TRACKS];
    sink_item out;             /* filled by the caller's thread */
    sink_item in;              /* popped by the sink thread */
    const char *o_tracks_path; /* st.tracks_path of vg_run_stream */
    vg_reconnect *reconnect;   /* live inputs; NULL otherwise */
    char *url;                 /* live inputs: the URL to reopen */
    int telemetry_done;
    /* Table sizes for the telemetry, stored by the stream's thread after
     * each frame: whichever stream's thread samples reads them. */
    atomic_size_t tracker_size, rules_entries, rules_capacity;
    /* detection rate and motion gating (the caller's thread) */
    int live;
    double detect_fps;        /* resolved; 0: every frame */
    double detect_interval_s; /* 0: every frame */
    double half_frame_s;      /* tolerance when picking frames by time */
    double next_detect_s, last_time_s;
    int rate_started;
    vg_motion *motion;
    int64_t frames_detected, frames_skipped_rate, frames_skipped_idle;
    /* latencies: frames on the caller's thread, events on the sink's */
    latency_hist lat_frame, lat_event;
    atomic_llong frames_done; /* st->frames, for the stream's telemetry */
    atomic_llong frames_dropped_now, frames_skipped_idle_now; /* the same */
    int telemetry_stream_id; /* -1 when not registered */
    int64_t telemetry_since_ns;
    char tracks_buf[1 << 16];
} job;

static void lat_add(latency_hist *h, int64_t ns)
{
    int b;
    if (ns < 0)
        ns = 0;
    if ((double)ns < LAT_MIN_NS) {
        b = 0;
    } else {
        b = 1 + (int)floor(LAT_PER_DECADE * log10((double)ns / LAT_MIN_NS));
        if (b > LAT_BUCKETS - 1)
            b = LAT_BUCKETS - 1;
    }
    h->bucket[b]++;
    h->count++;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

/* The upper edge of the bucket holding the q-quantile, at most the
 * largest value seen, in ms. */
static double lat_quantile_ms(const latency_hist *h, double q)
{
    int64_t rank = (int64_t)ceil(q * (double)h->count), seen = 0;
    double edge_ns = (double)h->max_ns;
    if (rank < 1)
        rank = 1;
    for (int b = 0; b < LAT_BUCKETS; b++) {
        seen += (int64_t)h->bucket[b];
        if (seen >= rank) {
            if (b < LAT_BUCKETS - 1)
                edge_ns = LAT_MIN_NS * pow(10.0, (double)b / LAT_PER_DECADE);
            break;
        }
    }
    if (edge_ns > (double)h->max_ns)
        edge_ns = (double)h->max_ns;
    return edge_ns / 1e6;
}

static void lat_summary(const latency_hist *h, vg_latency_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (h->count == 0)
        return;
    out->count = h->count;
    out->p50_ms = lat_quantile_ms(h, 0.50);
    out->p99_ms = lat_quantile_ms(h, 0.99);
    out->max_ms = (double)h->max_ns / 1e6;
}

int vgi_detect_laddered(vg_context *ctx, vg_residency *r, const char *name,
                        vg_detector *det, const vg_frame *f, vg_detection *dets,
                        int cap, int *n)
{
    int rc = vg_detector_run(det, f, dets, cap, n);
    while (rc == VG_ENOMEM && r != NULL) {
        vg_session *s = NULL;
        if (vg_residency_recover(r, name, &s) < 0)
            return VG_ENOMEM; /* the ladder gave up; its message is in ctx */
        if (s != NULL)
            vg_detector_set_session(det, s);
        rc = vg_detector_run(det, f, dets, cap, n);
        if (rc == 0)
            vg_residency_recovered(r, name);
    }
    if (rc < 0)
        vg_fail(ctx, rc, "%s", vg_detector_errmsg(det));
    return rc;
}

void vg_run_opts_default(vg_run_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->out_dir = "out";
    vg_tracker_opts_default(&o->tracker);
    o->tracker.fps = 0; /* from the stream */
    vg_reid_opts_default(&o->reid);
    vg_events_opts_default(&o->events);
    vg_snapshots_opts_default(&o->snapshots);
    vg_video_writer_opts_default(&o->video);
    o->write_snapshots = 1;
    o->write_video = 1;
    o->tracks_min_free_bytes = 256u << 10;
    o->queue_depth = VG_SIZING_QUEUE_DEPTH_DEFAULT;
    o->timeout_ms = 5000;
    o->reconnect = vg_reconnect_defaults();
    o->reconnect_enabled = 1;
    o->detect_fps = VG_RUN_DETECT_AUTO;
    o->motion = vg_motion_defaults();
}

_Static_assert(VG_SETTINGS_MAX_MASKS == VG_MOTION_MAX_POLYGONS &&
                   VG_SETTINGS_MAX_MASK_POINTS == VG_MOTION_MAX_POINTS,
               "settings masks and motion polygons have the same limits");

void vg_run_opts_from_settings(const vg_settings *s, vg_run_opts *o)
{
    vg_run_opts_default(o);
    o->queue_depth = (unsigned)s->queue_depth;
    o->timeout_ms = s->timeout_ms;
    o->tracker.lost_seconds = s->lost_seconds;
    o->tracker.high_thresh = s->track_high;
    o->tracker.low_thresh = s->track_low;
    o->tracker.new_track_thresh = s->track_new;
    o->reid_enabled = s->reid_enabled;
    snprintf(o->reid_model, sizeof(o->reid_model), "%s", s->reid_model);
    o->reid.weight = s->reid_weight;
    o->reid.max_cos_distance = s->reid_max_cos_distance;
    o->events.batch = s->events_batch;
    o->events.max_delay_ms = s->events_delay_ms;
    o->events.outbox = s->mqtt_enabled;
    o->events.outbox_max = s->mqtt_outbox_max;
    snprintf(o->events.outbox_topic, sizeof(o->events.outbox_topic),
             "%s/events", s->mqtt_topic_prefix);
    o->snapshots.max_age_days = s->snap_max_age_days;
    o->snapshots.max_total_bytes = (uint64_t)s->snap_max_bytes;
    o->write_snapshots = s->snap_enabled;
    o->write_video = s->video_enabled;
    o->video.crf = s->video_crf;
    snprintf(o->video.preset, sizeof(o->video.preset), "%s", s->video_preset);
    o->detect_fps = s->detect_fps < 0 ? VG_RUN_DETECT_AUTO : s->detect_fps;
    o->motion_enabled = s->motion_enabled;
    o->motion.pixel_threshold = s->motion_pixel_threshold;
    o->motion.min_area = s->motion_min_area;
    o->motion.max_idle_s = s->motion_max_idle_s;
    o->motion.frame_height = s->motion_frame_height;
    o->motion.mask_count = s->motion_n_masks;
    for (int i = 0; i < s->motion_n_masks && i < VG_MOTION_MAX_POLYGONS; i++) {
        vg_motion_polygon *p = &o->motion.masks[i];
        p->n = s->motion_masks[i].n_points;
        for (int k = 0; k < p->n && k < VG_MOTION_MAX_POINTS; k++) {
            p->points[k].x = s->motion_masks[i].xy[k][0];
            p->points[k].y = s->motion_masks[i].xy[k][1];
        }
        o->motion_mask_pixels[i] = (unsigned char)s->motion_masks[i].pixels;
    }
}

/* A network URL (scheme://, not file:): reconnected when it drops. */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void base_name(const char *path, char *out, size_t size)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, size, "%s", *b ? b : path);
}

/* Records the job's first sink error (msg names the file and the cause)
 * and logs it; callers make sure each output says it once. */
static void sink_fail(job *j, int code, const char *msg)
{
    if (!msg || !msg[0])
        msg = vg_strerror(code);
    if (!j->sink_error) {
        j->sink_error = code < 0 ? code : VG_EIO;
        snprintf(j->sink_message, sizeof(j->sink_message), "%s", msg);
    }
    vg_log(j->ctx, VG_LOG_ERROR, "%s", msg);
}

/* Events: every failure is kept as the job's error, logged once. */
static void events_fail(job *j, int code)
{
    if (j->events_failed++)
        return;
    sink_fail(j, code, vg_events_errmsg(j->events));
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = ENOSPC;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Writes the whole lines buffered for tracks.txt. A failure stops the file
 * (said once): lack of space is a warning (events come first), anything
 * else the job's error. */
static void tracks_flush(job *j, const char *path)
{
    int e;

    uint64_t free_bytes;

    if (j->tracks_fd < 0 || j->tracks_used == 0)
        return;
    if (j->o->tracks_min_free_bytes > 0 &&
        vg_free_bytes(j->o->out_dir, &free_bytes) == 0 &&
        free_bytes < j->o->tracks_min_free_bytes + j->tracks_used) {
        char have[32], need[32];
        vg_log(
            j->ctx, VG_LOG_WARN,
            "%s: tracks stopped: %s left on the device, below the %s kept "
            "free for events (events are still stored)",
            path, vg_format_bytes(free_bytes, have, sizeof(have)),
            vg_format_bytes(j->o->tracks_min_free_bytes, need, sizeof(need)));
        j->tracks_used = 0;
        j->tracks_stopped = 1;
        close(j->tracks_fd);
        j->tracks_fd = -1;
        return;
    }
    if (write_all(j->tracks_fd, j->tracks_buf, j->tracks_used) == 0) {
        j->tracks_used = 0;
        j->tracks_flushed_ns = vg_clock_ns();
        return;
    }
    e = errno;
    j->tracks_used = 0;
    j->tracks_stopped = 1;
    close(j->tracks_fd);
    j->tracks_fd = -1;
    if (vg_errno_is_full(e)) {
        vg_log(j->ctx, VG_LOG_WARN,
               "%s: tracks stopped: %s (events are still stored)", path,
               strerror(e));
    } else {
        char msg[1400];
        snprintf(msg, sizeof(msg), "%s: write failed: %s", path, strerror(e));
        sink_fail(j, VG_EIO, msg);
    }
}

static void draw_annotations(job *j, sink_item *it, uint8_t *rgb, int stride)
{
    pthread_mutex_lock(&j->zones_lock);
    for (int z = 0; z < j->n_zones; z++) {
        const zone_copy *zc = &j->zones[z];
        if (zc->kind == VG_ZONE_LINE && zc->n == 2)
            vg_overlay_draw_directed_line(rgb, j->width, j->height, stride,
                                          zc->xy[0], zc->xy[1], zc->xy[2],
                                          zc->xy[3], 0, 255, 200, 0);
        else
            vg_overlay_draw_polygon(rgb, j->width, j->height, stride, zc->xy,
                                    zc->n, 2, 0, 200, 255);
    }
    pthread_mutex_unlock(&j->zones_lock);
    for (int i = 0; i < it->n_tracks; i++) {
        const vg_track *t = &it->tracks[i];
        vg_overlay_draw_track(rgb, j->width, j->height, stride, &t->box, t->id,
                              vg_detector_class_name(j->det, t->class_id),
                              -1.0f);
    }
    if (j->overlay)
        vg_overlay_draw_events(j->overlay, rgb, j->width, j->height, stride);
}

/* The live view (a job's viewers): the annotated picture into the latest-
 * frame slot, a copy; drawn here only when the video did not draw it into
 * the frame already. */
static void live_publish(job *j, sink_item *it, int drawn)
{
    vgi_live *l = j->o->live;
    const uint8_t *src = vg_buf_data(it->frame.image);
    size_t row = (size_t)j->width * 3;
    uint8_t *dst;

    if (it->frame.width != j->width || it->frame.height != j->height)
        return;
    dst = vgi_live_write_begin(l);
    if (!dst)
        return;
    if ((size_t)it->frame.image_stride == row) {
        memcpy(dst, src, row * (size_t)j->height);
    } else {
        for (int y = 0; y < j->height; y++)
            memcpy(dst + row * (size_t)y,
                   src + (size_t)it->frame.image_stride * (size_t)y, row);
    }
    if (!drawn)
        draw_annotations(j, it, dst, (int)row);
    vgi_live_write_end(l);
}

/* The event store: the run's own, or the job's shared one under its lock
 * (an event's insert, snapshot and snapshot path as one step). */
static void events_lock(job *j)
{
    if (j->o->events_lock)
        pthread_mutex_lock(j->o->events_lock);
}

static void events_unlock(job *j)
{
    if (j->o->events_lock)
        pthread_mutex_unlock(j->o->events_lock);
}

/* Stores a snapshot path relative to the event store's directory. */
static void snapshot_prefix(job *j, vg_event *ev)
{
    char rel[sizeof(ev->snapshot)];
    const char *p = j->o->snapshot_prefix;
    if (!p || !p[0] || !ev->snapshot[0])
        return;
    if (snprintf(rel, sizeof(rel), "%s%s", p, ev->snapshot) < (int)sizeof(rel))
        memcpy(ev->snapshot, rel, sizeof(rel));
}

static void sink_one(job *j, sink_item *it)
{
    const uint8_t *image =
        it->frame.image ? vg_buf_data(it->frame.image) : NULL;
    int stride = it->frame.image_stride;
    int drawn = 0; /* the annotations are in the frame's picture */

    for (int e = 0; e < it->n_events; e++) {
        vg_event *ev = &it->events[e];
        int rc;
        snprintf(ev->stream, sizeof(ev->stream), "%s", j->stream);
        ev->wall_ms = wall_ms();
        events_lock(j);
        rc = vg_events_add(j->events, ev);
        if (rc < 0)
            events_fail(j, rc);
        if (ev->id == 0) {
            events_unlock(j);
            continue; /* not inserted */
        }
        j->n_events++;
        if (it->arrival_ns > 0)
            lat_add(&j->lat_event, vg_clock_ns() - it->arrival_ns);
        if (ev->kind >= 0 && ev->kind < 4)
            j->events_by_kind[ev->kind]++;
        if (j->snaps && image) {
            if (vg_snapshots_write(j->snaps, ev, image, j->width, j->height,
                                   stride, ev->snapshot,
                                   sizeof(ev->snapshot)) == 0) {
                j->snapshots++;
                snapshot_prefix(j, ev);
                rc = vg_events_set_snapshot(j->events, ev->id, ev->snapshot);
                if (rc < 0)
                    events_fail(j, rc);
            } else {
                /* logged by the store; the event is kept without one */
                j->snapshot_failures++;
            }
        }
        events_unlock(j);
        if (j->overlay)
            vg_overlay_push_event(j->overlay, ev);
    }
    if (it->n_removed > 0) { /* after its events: a track's end is last */
        events_lock(j);
        for (int i = 0, rc; i < it->n_removed; i++)
            if ((rc = vg_events_track_end(j->events, j->stream, it->removed[i],
                                          wall_ms())) < 0)
                events_fail(j, rc);
        events_unlock(j);
    }
    if (j->tracks_fd >= 0) {
        for (int i = 0; i < it->n_tracks; i++) {
            const vg_track *t = &it->tracks[i];
            int n;
            if (sizeof(j->tracks_buf) - j->tracks_used < TRACKS_LINE_MAX)
                tracks_flush(j, j->o_tracks_path);
            if (j->tracks_fd < 0)
                break;
            /* whole lines only: one that does not fit is not kept */
            n = snprintf(j->tracks_buf + j->tracks_used, TRACKS_LINE_MAX,
                         "%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.4f,-1,-1,-1\n",
                         (long long)(it->frame.index + 1), (long long)t->id,
                         t->box.x, t->box.y, t->box.w, t->box.h, t->score);
            if (n > 0 && n < TRACKS_LINE_MAX)
                j->tracks_used += (size_t)n;
        }
        if (vg_clock_ns() - j->tracks_flushed_ns >= TRACKS_FLUSH_NS)
            tracks_flush(j, j->o_tracks_path);
    }
    if (j->video && !j->video_stopped && it->frame.image) {
        int rc;
        if (vg_buf_writable(it->frame.image)) {
            uint8_t *rgb = vg_buf_data(it->frame.image);
            draw_annotations(j, it, rgb, stride);
            drawn = 1;
        }
        rc = vg_video_writer_write(j->video, vg_buf_data(it->frame.image),
                                   stride, it->frame.index);
        if (rc < 0) {
            /* the video stops here, said once; lack of space is not the
             * job's error: the events come first */
            j->video_stopped = 1;
            if (rc == VG_ENOSPC)
                vg_log(j->ctx, VG_LOG_WARN, "%s (events are still stored)",
                       vg_video_writer_errmsg(j->video));
            else
                sink_fail(j, rc, vg_video_writer_errmsg(j->video));
        }
    }
    if (j->o->live && it->frame.image && vgi_live_wanted(j->o->live))
        live_publish(j, it, drawn);
    {
        int rc;
        events_lock(j);
        rc = vg_events_tick(j->events);
        if (rc < 0)
            events_fail(j, rc);
        events_unlock(j);
    }
}

static void *sink_main(void *p)
{
    job *j = p;

    while (vg_queue_pop(j->sink_q, &j->in, -1) == 0) {
        int64_t t0;
        if (j->in.end)
            break;
        t0 = vg_clock_ns();
        sink_one(j, &j->in);
        vg_frame_release(&j->in.frame);
        j->sink_busy_s += (double)(vg_clock_ns() - t0) / 1e9;
    }
    /* release anything left after an early end */
    while (vg_queue_pop(j->sink_q, &j->in, 0) == 0)
        if (!j->in.end)
            vg_frame_release(&j->in.frame);
    {
        int rc;
        events_lock(j);
        /* the stream is over: its objects end */
        if ((rc = vg_events_track_end(j->events, j->stream, -1, wall_ms())) < 0)
            events_fail(j, rc);
        rc = vg_events_flush(j->events);
        if (rc < 0)
            events_fail(j, rc);
        events_unlock(j);
    }
    tracks_flush(j, j->o_tracks_path);
    return NULL;
}

static void copy_zones(job *j)
{
    int n = j->rules ? vg_rules_zone_count(j->rules) : 0;
    pthread_mutex_lock(&j->zones_lock);
    j->n_zones = 0;
    for (int z = 0; z < n && j->n_zones < MAX_ZONES; z++) {
        vg_zone_view v;
        zone_copy *zc = &j->zones[j->n_zones];
        if (vg_rules_zone(j->rules, z, &v) < 0)
            continue;
        zc->kind = v.kind;
        zc->n = v.n_points < 64 ? v.n_points : 64;
        for (int i = 0; i < zc->n; i++) {
            zc->xy[2 * i] = v.points[i].x;
            zc->xy[2 * i + 1] = v.points[i].y;
        }
        j->n_zones++;
    }
    pthread_mutex_unlock(&j->zones_lock);
}

/* Rules given while running (vg_job_set_rules), before the next frame:
 * rules whose definition changed start afresh, the others keep their state
 * (vg_rules_reload). Rules that do not fit (cannot happen: the job checks
 * them against the frame size) are logged and the old ones stay. */
static void apply_new_rules(job *j)
{
    vg_rules_config cfg;
    int rc;

    if (!j->o->live || !vgi_live_take_rules(j->o->live, &cfg))
        return;
    if (j->rules)
        rc = vg_rules_reload(j->rules, &cfg);
    else
        rc = vg_rules_create(j->ctx, &cfg, j->width, j->height, &j->rules);
    if (rc < 0) {
        vg_log(j->ctx, VG_LOG_ERROR, "%s: new rules not applied: %s", j->stream,
               vg_context_errmsg(j->ctx));
        vg_context_clear_error(j->ctx);
    } else {
        copy_zones(j);
        vg_log(j->ctx, VG_LOG_INFO, "%s: rules replaced (%d zones, %d rules)",
               j->stream, cfg.n_zones, cfg.n_rules);
    }
    vg_rules_config_free(j->ctx, &cfg);
}

/* The stream's thread (owner of the tracker and the rules) publishes their
 * sizes after each frame for the telemetry table readers below. */
static void publish_tables(job *j)
{
    vg_tracker_stats ts;
    vg_tracker_stats_get(j->tracker, &ts);
    atomic_store(&j->tracker_size,
                 (size_t)(ts.tracked + ts.lost + ts.tentative));
    if (j->rules) {
        vg_rules_stats rs;
        vg_rules_stats_get(j->rules, &rs);
        atomic_store(&j->rules_entries, (size_t)rs.entries);
        atomic_store(&j->rules_capacity, (size_t)rs.capacity);
    }
}

/* Telemetry table readers: called from whichever thread samples the
 * telemetry (several streams may share one). */
static void tracker_table(void *user, size_t *size, size_t *capacity)
{
    job *j = user;
    *size = atomic_load(&j->tracker_size);
    *capacity = (size_t)j->o->tracker.max_tracks;
}

static void rules_table(void *user, size_t *size, size_t *capacity)
{
    job *j = user;
    *size = atomic_load(&j->rules_entries);
    *capacity = atomic_load(&j->rules_capacity);
}

static void sink_queue_table(void *user, size_t *size, size_t *capacity)
{
    job *j = user;
    vg_queue_stats qs;
    vg_queue_stats_get(j->sink_q, &qs);
    *size = qs.length;
    *capacity = qs.capacity;
}

/* A live input's state, counters, last error and time in each state, from
 * its reconnect machine (whose stats are locked: any thread may read). */
static void fill_live_telemetry(vg_reconnect *rcm, vg_telemetry_stream *out)
{
    vg_reconnect_stats rs;
    size_t n;

    vg_reconnect_stats_get(rcm, &rs);
    snprintf(out->state, sizeof(out->state), "%s",
             vg_reconnect_state_name(rs.state));
    out->attempts = rs.attempts;
    out->reconnects = rs.reconnects;
    out->drops = rs.drops;
    out->stalls = rs.stalls;
    for (int k = 0; k < VG_RECONNECT_NSTATES && k < VG_TELEMETRY_STREAM_STATES;
         k++) {
        snprintf(out->state_names[k], sizeof(out->state_names[k]), "%s",
                 vg_reconnect_state_name(k));
        out->state_seconds[k] = (double)rs.time_in_state_ns[k] / 1e9;
        out->n_states = k + 1;
    }
    n = strnlen(rs.last_error, sizeof(out->last_error) - 1);
    memcpy(out->last_error, rs.last_error, n);
    out->last_error[n] = '\0';
}

/* A live input while its first connection is tried (user: its machine). */
static void connecting_telemetry(void *user, vg_telemetry_stream *out)
{
    fill_live_telemetry(user, out);
}

/* The stream's telemetry: called from whichever thread samples, so it reads
 * atomics and the reconnect machine's locked stats only. */
static void stream_telemetry(void *user, vg_telemetry_stream *out)
{
    job *j = user;

    out->frames = (uint64_t)atomic_load(&j->frames_done);
    out->frames_dropped = (uint64_t)atomic_load(&j->frames_dropped_now);
    out->frames_skipped_idle =
        (uint64_t)atomic_load(&j->frames_skipped_idle_now);
    if (j->reconnect) {
        fill_live_telemetry(j->reconnect, out);
        return;
    }
    snprintf(out->state, sizeof(out->state), "file");
    snprintf(out->state_names[0], sizeof(out->state_names[0]), "file");
    out->state_seconds[0] =
        (double)(vg_clock_ns() - j->telemetry_since_ns) / 1e9;
    out->n_states = 1;
}

static void register_telemetry(job *j)
{
    vg_telemetry *t = j->o->telemetry;
    vg_pool *tensor = NULL, *image = NULL;

    for (int i = 0; i < 5; i++)
        j->telemetry_ids[i] = -1;
    j->telemetry_stream_id = -1;
    if (!t)
        return;
    j->telemetry_since_ns = vg_clock_ns();
    vg_telemetry_add_stream(t, j->stream, stream_telemetry, j,
                            &j->telemetry_stream_id);
    vg_source_pools(j->src, &tensor, &image);
    if (tensor)
        vg_telemetry_add_pool(t, tensor, &j->telemetry_ids[0]);
    if (image)
        vg_telemetry_add_pool(t, image, &j->telemetry_ids[1]);
    vg_telemetry_add_table(t, "tracker_slots", tracker_table, j,
                           &j->telemetry_ids[2]);
    if (j->rules)
        vg_telemetry_add_table(t, "rule_state", rules_table, j,
                               &j->telemetry_ids[3]);
    vg_telemetry_add_table(t, "sink_queue", sink_queue_table, j,
                           &j->telemetry_ids[4]);
    /* several cameras' pools and tables stay apart by their owner */
    for (int i = 0; i < 5; i++)
        if (j->telemetry_ids[i] >= 0)
            vg_telemetry_set_owner(t, j->telemetry_ids[i], j->stream);
}

static void unregister_telemetry(job *j)
{
    if (!j->o->telemetry || j->telemetry_done)
        return;
    j->telemetry_done = 1;
    /* a last sample with this stream's pools and tables (high-water marks)
     * for the caller's report */
    vg_telemetry_sample(j->o->telemetry, (double)vg_clock_ns() / 1e9);
    for (int i = 0; i < 5; i++)
        if (j->telemetry_ids[i] >= 0) {
            vg_telemetry_remove(j->o->telemetry, j->telemetry_ids[i]);
            j->telemetry_ids[i] = -1;
        }
    vg_telemetry_remove(j->o->telemetry, j->telemetry_stream_id);
    j->telemetry_stream_id = -1;
}

static void fill_stats(job *j, vg_run_stats *st)
{
    st->events = j->n_events;
    memcpy(st->events_by_kind, j->events_by_kind, sizeof(st->events_by_kind));
    st->snapshots = j->snapshots;
    st->snapshot_failures = j->snapshot_failures;
    if (j->video) {
        vg_video_writer_stats vs;
        vg_video_writer_stats_get(j->video, &vs);
        st->video_frames = (int64_t)vs.frames;
        st->video_stopped = vs.stopped || j->video_stopped;
    }
    st->tracks_stopped = j->tracks_stopped;
    st->sink_busy_s = j->sink_busy_s;
    if (j->tracker)
        vg_tracker_stats_get(j->tracker, &st->tracker);
    if (j->rules) {
        vg_rules_stats_get(j->rules, &st->rules);
        st->n_rules = st->rules.n_rules < 16 ? st->rules.n_rules : 16;
        for (int i = 0; i < st->n_rules; i++) {
            vg_rule_stats rs;
            if (vg_rules_rule_stats(j->rules, i, &rs) < 0)
                continue;
            snprintf(st->rule[i].name, sizeof(st->rule[i].name), "%s", rs.name);
            st->rule[i].kind = rs.kind;
            st->rule[i].fired = rs.fired;
            st->rule[i].suppressed = rs.suppressed;
            st->rule[i].crossed_a_to_b = rs.crossed_a_to_b;
            st->rule[i].crossed_b_to_a = rs.crossed_b_to_a;
        }
    }
    if (j->events && !j->o->events_shared)
        vg_events_stats_get(j->events, &st->store);
    st->detect_fps = j->detect_fps;
    st->motion_enabled = j->motion != NULL;
    st->frames_detected = j->frames_detected;
    st->frames_skipped_rate = j->frames_skipped_rate;
    st->frames_skipped_idle = j->frames_skipped_idle;
    if (j->motion) {
        vg_motion_stats ms;
        vg_motion_stats_get(j->motion, &ms);
        st->motion_forced = (int64_t)ms.forced;
    }
    lat_summary(&j->lat_frame, &st->latency_frame);
    lat_summary(&j->lat_event, &st->latency_event);
    if (j->snaps) {
        vg_snapshots_stats_get(j->snaps, &st->snapshot_store);
        /* failed writes; skipped ones (disk space) are counted apart */
        st->snapshot_failures = (int64_t)st->snapshot_store.failed;
    }
}

/* A live input dropped or came back (the caller's thread, owner of the
 * tracker, the rules and the telemetry registrations). */
static void on_marker(job *j, vgi_frame_item *it)
{
    vg_telemetry *t = j->o->telemetry;

    if (it->marker == VGI_MARK_DROPPED) {
        const int64_t *removed;
        int n_removed = 0;
        /* the old connection's pools go, then the connection */
        for (int i = 0; i < 2; i++)
            if (t && j->telemetry_ids[i] >= 0) {
                vg_telemetry_remove(t, j->telemetry_ids[i]);
                j->telemetry_ids[i] = -1;
            }
        vg_source_close(&it->src);
        /* what is seen after the gap is not the same scene: new tracks,
         * and the rules forget the old ones */
        vg_tracker_reset(j->tracker);
        vg_tracker_removed(j->tracker, &removed, &n_removed);
        for (int i = 0; i < n_removed; i++) {
            if (j->rules)
                vg_rules_forget(j->rules, removed[i]);
            if (j->n_drop_removed < VG_RUN_MAX_TRACKS)
                j->drop_removed[j->n_drop_removed++] = removed[i];
        }
    } else if (it->marker == VGI_MARK_RECONNECTED && t && !j->telemetry_done) {
        vg_pool *tensor = NULL, *image = NULL;
        vg_source_pools(it->src, &tensor, &image);
        if (tensor && j->telemetry_ids[0] < 0)
            vg_telemetry_add_pool(t, tensor, &j->telemetry_ids[0]);
        if (image && j->telemetry_ids[1] < 0)
            vg_telemetry_add_pool(t, image, &j->telemetry_ids[1]);
        for (int i = 0; i < 2; i++)
            if (j->telemetry_ids[i] >= 0)
                vg_telemetry_set_owner(t, j->telemetry_ids[i], j->stream);
    }
}

/* Whether the tracker holds any track (tentative, tracked or lost): the
 * motion gate then lets every frame through. */
static int has_active_tracks(job *j)
{
    vg_tracker_stats ts;
    vg_tracker_stats_get(j->tracker, &ts);
    return ts.tracked + ts.lost + ts.tentative > 0;
}

/* Whether the detector runs on this frame: the detection rate picks frames
 * by their times, then the motion gate (on those frames only) may skip an
 * idle one. Counts the frames left out. */
static int want_detection(job *j, const vgi_frame_item *it)
{
    double t = it->frame.time_s;

    if (j->detect_interval_s > 0) {
        if (j->rate_started && t < j->last_time_s)
            j->rate_started = 0; /* time went back: start again */
        j->last_time_s = t;
        if (j->rate_started && t < j->next_detect_s - j->half_frame_s) {
            j->frames_skipped_rate++;
            return 0;
        }
        j->next_detect_s =
            j->rate_started ? j->next_detect_s + j->detect_interval_s : t;
        if (!j->rate_started || j->next_detect_s <= t)
            j->next_detect_s = t + j->detect_interval_s;
        j->rate_started = 1;
    }
    if (j->motion && it->frame.image) {
        vg_motion_result r;
        int64_t now = j->live ? it->arrival_ns : (int64_t)llround(t * 1e9);
        if (vg_motion_update(j->motion, vg_buf_data(it->frame.image),
                             it->frame.width, it->frame.height,
                             it->frame.image_stride, &r) < 0) {
            vg_context_clear_error(j->ctx); /* cannot happen: the size is
                                               the stream's; detect */
            return 1;
        }
        if (!vg_motion_should_detect(j->motion, has_active_tracks(j), now)) {
            j->frames_skipped_idle++;
            return 0;
        }
    }
    return 1;
}

/* vg_reid_embed_fn of the run: dets[det_index] of the frame being tracked,
 * embedded from its picture. */
static int reid_embed(void *user, int det_index, float *out, int dim)
{
    job *j = user;
    const vg_frame *f = j->reid_frame;
    int rc;

    if (!f || !f->image || det_index < 0 || det_index >= VG_MAX_DETECTIONS)
        rc = VG_EINVAL;
    else
        rc = vg_reid_embedder_embed(j->reid, vg_buf_data(f->image), f->width,
                                    f->height, f->image_stride,
                                    &j->dets[det_index].box, out, dim);
    if (rc < 0) {
        j->reid_failed_now = 1;
        if (!j->reid_logged) {
            j->reid_logged = 1;
            vg_log(j->ctx, VG_LOG_WARN,
                   "%s: reid: %s (that detection is matched by overlap; "
                   "further failures are counted only)",
                   j->stream,
                   f ? vg_reid_embedder_errmsg(j->reid) : "no picture");
        }
        return rc;
    }
    return 0;
}

/* The caller's thread: detect, track, rules, hand over. Returns 0 or the
 * failing stage's code; *end gets the decoder's end code. */
static int process(job *j, vgi_decoder *dec, vg_run_stats *st, int *end)
{
    const vg_run_opts *o = j->o;
    vgi_frame_item it;
    int rc = 0;

    *end = VG_EOF;
    while (vg_queue_pop(dec->q, &it, -1) == 0) {
        sink_item *out = &j->out;
        const int64_t *removed;
        int n_dets = 0, n_tracks = 0, n_removed = 0, n_events = 0, detect;
        int64_t t0;

        if (it.marker != VGI_MARK_FRAME) {
            on_marker(j, &it);
            continue;
        }
        if (it.end_code != 0) {
            *end = it.end_code;
            /* a read ended by a stop request is a stop, not an error */
            if (vg_context_stop_requested(j->ctx))
                st->stopped = 1;
            break;
        }
        apply_new_rules(j);
        t0 = vg_clock_ns();
        detect = want_detection(j, &it);
        st->motion_busy_s += (double)(vg_clock_ns() - t0) / 1e9;
        t0 = vg_clock_ns();
        /* out of memory: the ladder, then the stream stops */
        if (!detect)
            rc = 0;
        else if (o->detect)
            rc = o->detect(o->detect_user, &it.frame, j->dets,
                           VG_MAX_DETECTIONS, &n_dets);
        else
            rc = vgi_detect_laddered(j->ctx, o->residency, o->model_name,
                                     j->det, &it.frame, j->dets,
                                     VG_MAX_DETECTIONS, &n_dets);
        st->infer_busy_s += (double)(vg_clock_ns() - t0) / 1e9;
        if (rc < 0) {
            vg_frame_release(&it.frame);
            if (rc == VG_EINTR && vg_context_stop_requested(j->ctx)) {
                st->stopped = 1; /* a shared detector refused: stopping */
                rc = 0;
            }
            break;
        }
        t0 = vg_clock_ns();
        /* a frame the detector skipped: the tracks are predicted, no
         * detection is missed */
        if (detect) {
            j->frames_detected++;
            j->reid_frame = &it.frame;
            j->reid_failed_now = 0;
            rc = vg_tracker_update(j->tracker, j->dets, n_dets, out->tracks,
                                   VG_RUN_MAX_TRACKS, &n_tracks);
            j->reid_frame = NULL;
            /* a failed embed: the frame is complete, matched by overlap
             * (counted in reid_failed) */
            if (rc < 0 && j->reid_failed_now) {
                vg_context_clear_error(j->ctx);
                rc = 0;
            }
        } else {
            rc = vg_tracker_predict(j->tracker, out->tracks, VG_RUN_MAX_TRACKS,
                                    &n_tracks);
        }
        if (rc < 0) {
            vg_fail(j->ctx, rc, "tracker: %s", vg_strerror(rc));
            vg_frame_release(&it.frame);
            break;
        }
        vg_tracker_removed(j->tracker, &removed, &n_removed);
        st->track_busy_s += (double)(vg_clock_ns() - t0) / 1e9;
        t0 = vg_clock_ns();
        if (j->rules) {
            for (int i = 0; i < n_removed; i++)
                vg_rules_forget(j->rules, removed[i]);
        }
        /* the rules see the positions backed by a detection only */
        if (j->rules && detect) {
            for (int i = 0; i < n_tracks; i++) {
                j->objs[i].track_id = out->tracks[i].id;
                j->objs[i].box = out->tracks[i].box;
                j->objs[i].class_id = out->tracks[i].class_id;
                j->objs[i].score = out->tracks[i].score;
            }
            rc = vg_rules_update(j->rules, it.frame.time_s, it.frame.index,
                                 j->objs, n_tracks, out->events,
                                 VG_RUN_MAX_EVENTS, &n_events);
            if (rc < 0) {
                vg_fail(j->ctx, rc, "rules: %s", vg_strerror(rc));
                vg_frame_release(&it.frame);
                break;
            }
        }
        st->rules_busy_s += (double)(vg_clock_ns() - t0) / 1e9;
        st->frames++;
        atomic_store(&j->frames_done, st->frames);
        atomic_store(&j->frames_skipped_idle_now,
                     (long long)j->frames_skipped_idle);
        {
            vg_queue_stats qs;
            vg_queue_stats_get(dec->q, &qs);
            atomic_store(&j->frames_dropped_now, (long long)qs.dropped);
            if (o->live)
                vgi_live_frame_done(o->live, st->frames, j->frames_detected,
                                    (int64_t)qs.dropped);
        }
        st->detections += n_dets;
        if (it.arrival_ns > 0)
            lat_add(&j->lat_frame, vg_clock_ns() - it.arrival_ns);

        /* Hand the picture over; the tensor goes back to its pool now. */
        vg_buf_unref(&it.frame.tensor);
        out->frame = it.frame;
        out->arrival_ns = it.arrival_ns;
        out->end = 0;
        out->n_tracks = n_tracks;
        out->n_events = n_events;
        out->n_removed =
            n_removed < VG_RUN_MAX_TRACKS ? n_removed : VG_RUN_MAX_TRACKS;
        memcpy(out->removed, removed, sizeof(int64_t) * out->n_removed);
        for (int i = 0; i < j->n_drop_removed; i++) /* ended by a drop */
            if (out->n_removed < VG_RUN_MAX_TRACKS)
                out->removed[out->n_removed++] = j->drop_removed[i];
        j->n_drop_removed = 0;
        if (vg_queue_push(j->sink_q, out, -1) < 0) {
            vg_frame_release(&out->frame);
            rc = vg_fail(j->ctx, VG_EIO, "sink stage stopped");
            break;
        }
        publish_tables(j);
        if (o->progress)
            o->progress(o->user, st->frames);
        if ((o->should_stop && o->should_stop(o->user)) ||
            vg_context_stop_requested(j->ctx)) {
            st->stopped = 1;
            break;
        }
    }
    return rc;
}

static int run_source(vg_context *ctx, vg_source **srcp, vg_detector *det,
                      const vg_run_opts *o, vg_run_stats *stats,
                      vg_reconnect *rcm);

/* The detection rate (resolved from VG_RUN_DETECT_AUTO by the input's
 * kind) and the motion gate, once the picture size is known. Returns 0,
 * VG_EINVAL (a rate or a mask out of range) or VG_ENOMEM. */
static int setup_gating(job *j, const vg_source_info *si, double fps)
{
    const vg_run_opts *o = j->o;
    vg_motion_opts mo;
    double rate = o->detect_fps;
    int n_masks;

    j->live = si->is_live;
    if (rate < 0)
        rate = si->is_live ? VG_RUN_LIVE_DETECT_FPS : 0;
    if (!(rate >= 0 && rate <= 1000))
        return vg_fail(j->ctx, VG_EINVAL,
                       "%s: detect fps %g out of range (0..1000)", j->stream,
                       rate);
    j->detect_fps = rate;
    /* a rate at or above the stream's is every frame */
    j->detect_interval_s = rate > 0 && rate < fps ? 1.0 / rate : 0;
    j->half_frame_s = 0.5 / fps;
    if (!o->motion_enabled)
        return 0;
    mo = o->motion;
    mo.width = si->width;
    mo.height = si->height;
    /* a count out of range: vg_motion_create says so */
    n_masks = mo.mask_count >= 0 && mo.mask_count <= VG_MOTION_MAX_POLYGONS
                  ? mo.mask_count
                  : 0;
    for (int i = 0; i < n_masks; i++) {
        vg_motion_polygon *p = &mo.masks[i];
        if (!o->motion_mask_pixels[i])
            continue;
        for (int k = 0; k < p->n && k < VG_MOTION_MAX_POINTS; k++) {
            float x = p->points[k].x, y = p->points[k].y;
            if (!(x >= -2.0f && x <= si->width + 2.0f && y >= -2.0f &&
                  y <= si->height + 2.0f))
                return vg_fail(j->ctx, VG_EINVAL,
                               "%s: motion mask %d point %d (%g, %g) lies "
                               "outside the %dx%d picture (units: pixels)",
                               j->stream, i + 1, k + 1, x, y, si->width,
                               si->height);
            p->points[k].x = fminf(fmaxf(x / si->width, 0.0f), 1.0f);
            p->points[k].y = fminf(fmaxf(y / si->height, 0.0f), 1.0f);
        }
    }
    return vg_motion_create(j->ctx, &mo, &j->motion);
}

static void fail_stats(vg_context *ctx, vg_run_stats *stats, int rc,
                       vg_reconnect *rcm)
{
    if (!stats)
        return;
    memset(stats, 0, sizeof(*stats));
    stats->end_code = rc;
    if (rc == VG_EINTR)
        stats->stopped = 1;
    snprintf(stats->end_message, sizeof(stats->end_message), "%s",
             vg_context_errmsg(ctx));
    if (rcm) {
        stats->live = 1;
        vg_reconnect_stats_get(rcm, &stats->reconnect);
    }
}

/* The first connection of a live input, retried as o->reconnect says.
 * Returns 0 (*src open) or the code that ends the stream. */
static int connect_first(vg_context *ctx, const char *input,
                         const vg_source_opts *so, const vg_run_opts *o,
                         vg_reconnect *rcm, vg_source **src)
{
    char name[64];
    int last = o->first_open_code < 0 ? o->first_open_code : VG_ENET;

    if (o->stream_name)
        snprintf(name, sizeof(name), "%s", o->stream_name);
    else
        base_name(input, name, sizeof(name));
    if (o->first_open_error) {
        vg_log(ctx, VG_LOG_WARN, "%s: cannot connect: %s", name,
               o->first_open_error);
        vg_reconnect_connect_failed(rcm, o->first_open_error);
    }
    for (;;) {
        vg_reconnect_stats rs;
        int rc;
        switch (vg_reconnect_next_action(rcm, NULL)) {
        case VG_RECONNECT_WAIT:
            if (vg_reconnect_wait(rcm) == VG_EINTR)
                return vg_fail(ctx, VG_EINTR, "%s: interrupted", name);
            break;
        case VG_RECONNECT_CONNECT:
            rc = vg_source_open(ctx, input, so, src);
            if (rc == 0) {
                vg_reconnect_connect_ok(rcm);
                return 0;
            }
            if (rc == VG_EINTR)
                return rc;
            last = rc;
            vg_log(ctx, VG_LOG_WARN, "%s: cannot connect: %s", name,
                   vg_context_errmsg(ctx));
            vg_reconnect_connect_failed(rcm, vg_context_errmsg(ctx));
            vg_context_clear_error(ctx);
            break;
        case VG_RECONNECT_GIVE_UP:
            if (vg_context_stop_requested(ctx))
                return vg_fail(ctx, VG_EINTR, "%s: interrupted", name);
            vg_reconnect_stats_get(rcm, &rs);
            return vg_fail(ctx, vg_reconnect_give_up_code(last),
                           "%s: gave up after %llu connection attempts: %s",
                           name, (unsigned long long)rs.attempts,
                           rs.last_error);
        default:
            return vg_fail(ctx, VG_EINVAL, "%s: reconnect state", name);
        }
    }
}

int vg_run_stream(vg_context *ctx, const char *input, vg_detector *det,
                  const vg_run_opts *o, vg_run_stats *stats)
{
    vg_run_opts defaults;
    vg_source_opts so;
    vg_source *src = NULL;
    vg_reconnect *rcm = NULL;
    int rc;

    if (!input || !det)
        return vg_fail(ctx, VG_EINVAL, "run: no input or detector");
    if (!o) {
        vg_run_opts_default(&defaults);
        o = &defaults;
    }
    vg_source_opts_default(&so);
    so.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    if (o->reconnect_enabled && vg_source_is_network_url(input)) {
        vg_reconnect_opts ro = o->reconnect;
        ro.seed = vg_reconnect_seed(o->stream_name ? o->stream_name : input);
        rc = vg_reconnect_create(ctx, &ro, &rcm);
        if (rc == 0) {
            /* in the telemetry while it connects (a camera down from the
             * start too); the running stream registers itself after */
            int tid = -1;
            char name[64];
            if (o->stream_name)
                snprintf(name, sizeof(name), "%s", o->stream_name);
            else
                base_name(input, name, sizeof(name));
            if (o->telemetry)
                vg_telemetry_add_stream(o->telemetry, name,
                                        connecting_telemetry, rcm, &tid);
            if (o->live) {
                atomic_store(&o->live->is_live, 1);
                vgi_live_set_reconnect(o->live, rcm);
            }
            rc = connect_first(ctx, input, &so, o, rcm, &src);
            vg_telemetry_remove(o->telemetry, tid);
            if (o->live)
                vgi_live_set_reconnect(o->live, NULL);
        }
        if (rc < 0) {
            fail_stats(ctx, stats, rc, rcm);
            vg_reconnect_destroy(&rcm);
            return rc;
        }
        return run_source(ctx, &src, det, o, stats, rcm);
    }
    rc = vg_source_open(ctx, input, &so, &src);
    if (rc < 0) {
        fail_stats(ctx, stats, rc, NULL);
        return rc;
    }
    return run_source(ctx, &src, det, o, stats, NULL);
}

int vg_run_stream_source(vg_context *ctx, vg_source **srcp, vg_detector *det,
                         const vg_run_opts *o, vg_run_stats *stats)
{
    return run_source(ctx, srcp, det, o, stats, NULL);
}

/* Takes *srcp and rcm (may be NULL: created here for a live input). */
static int run_source(vg_context *ctx, vg_source **srcp, vg_detector *det,
                      const vg_run_opts *o, vg_run_stats *stats,
                      vg_reconnect *rcm)
{
    vg_run_opts defaults;
    vg_run_stats st;
    vg_source_opts so;
    vg_source_info si;
    vg_tracker_opts to;
    vgi_decoder dec;
    char path[1200];
    job *j;
    int64_t t_start = vg_clock_ns();
    int rc = 0, end = VG_EOF, decoder_started = 0;
    vg_stream_pools pools;
    unsigned depth;

    if (!srcp || !*srcp || !det) {
        if (srcp)
            vg_source_close(srcp);
        vg_reconnect_destroy(&rcm);
        return vg_fail(ctx, VG_EINVAL, "run: no input or detector");
    }
    if (!o) {
        vg_run_opts_default(&defaults);
        o = &defaults;
    }
    memset(&st, 0, sizeof(st));
    memset(&dec, 0, sizeof(dec));
    vg_sizing_stream_pools(o->queue_depth, &pools);
    depth = pools.queue_depth;
    j = vg_calloc(ctx, 1, sizeof(*j));
    if (!j) {
        vg_source_close(srcp);
        vg_reconnect_destroy(&rcm);
        return vg_fail(ctx, VG_ENOMEM, "run: out of memory");
    }
    j->src = *srcp;
    *srcp = NULL;
    if (pthread_mutex_init(&j->zones_lock, NULL) != 0) {
        vg_source_close(&j->src);
        vg_reconnect_destroy(&rcm);
        vg_free(ctx, j);
        return vg_fail(ctx, VG_ENOMEM, "run: out of memory");
    }
    j->zones_lock_ready = 1;
    j->reconnect = rcm;
    j->ctx = ctx;
    j->o = o;
    j->det = det;
    j->tracks_fd = -1;
    for (int i = 0; i < 5; i++)
        j->telemetry_ids[i] = -1;
    j->telemetry_stream_id = -1;
    if (o->stream_name)
        snprintf(j->stream, sizeof(j->stream), "%s", o->stream_name);
    else
        base_name(vg_source_url(j->src), j->stream, sizeof(j->stream));

    vg_source_opts_default(&so);
    vg_detector_input_spec(det, &so.tensor);
    so.keep_image = 1;
    so.compact_tensor = o->compact_tensor && o->detect;
    /* the counts the planner plans (vg_sizing_stream_pools) */
    so.pool_size = pools.tensors;
    so.image_pool_size = pools.pictures;
    so.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    so.loop = o->loop;
    rc = vg_source_configure(j->src, &so);
    if (rc < 0)
        goto out;
    vg_source_get_info(j->src, &si);
    j->width = st.width = si.width;
    j->height = st.height = si.height;
    st.fps = si.fps > 0 ? si.fps : 25.0;
    if (si.is_live && o->reconnect_enabled && !j->reconnect) {
        vg_reconnect_opts ro = o->reconnect;
        ro.seed = vg_reconnect_seed(j->stream);
        rc = vg_reconnect_create(ctx, &ro, &j->reconnect);
        if (rc < 0)
            goto out;
        vg_reconnect_connect_ok(j->reconnect);
    }
    if (o->live) {
        rc = vgi_live_begin(o->live, si.width, si.height, si.is_live);
        if (rc < 0)
            goto out;
        vgi_live_set_reconnect(o->live, j->reconnect);
    }
    if (j->reconnect) {
        size_t n = strlen(vg_source_url(j->src)) + 1;
        j->url = vg_malloc(ctx, n);
        if (!j->url) {
            rc = vg_fail(ctx, VG_ENOMEM, "run: out of memory");
            goto out;
        }
        memcpy(j->url, vg_source_url(j->src), n);
    }

    to = o->tracker;
    if (to.fps <= 0)
        to.fps = st.fps;
    rc = vg_tracker_create(ctx, &to, &j->tracker);
    if (rc < 0)
        goto out;
    if (o->reid_enabled) {
        vg_reid_opts ro = o->reid;
        rc = vg_reid_embedder_create(ctx, o->reid_model, NULL, &j->reid);
        if (rc < 0)
            goto out;
        ro.dim = vg_reid_embedder_dim(j->reid);
        ro.embed = reid_embed;
        ro.user = j;
        rc = vg_tracker_set_reid(j->tracker, &ro);
        if (rc < 0)
            goto out;
        st.reid_enabled = 1;
        snprintf(st.reid_embedder, sizeof(st.reid_embedder), "%s",
                 vg_reid_embedder_kind(j->reid));
    }
    rc = setup_gating(j, &si, st.fps);
    if (rc < 0)
        goto out;
    if (o->live) {
        /* rules given before the first frame (vg_job_set_rules) replace
         * the configured ones */
        vg_rules_config given;
        if (vgi_live_take_rules(o->live, &given)) {
            if (vg_rules_create(ctx, &given, si.width, si.height, &j->rules) <
                0) {
                vg_log(ctx, VG_LOG_ERROR,
                       "%s: rules given before the start not applied: %s",
                       j->stream, vg_context_errmsg(ctx));
                vg_context_clear_error(ctx);
            }
            vg_rules_config_free(ctx, &given);
        }
    }
    if (o->rules && !j->rules) {
        rc = vg_rules_create(ctx, o->rules, si.width, si.height, &j->rules);
        if (rc < 0)
            goto out;
    }
    copy_zones(j);
    if (vg_mkdirs(o->out_dir) != 0) {
        rc = vg_fail(ctx, VG_EIO, "%s: cannot create output directory (%s)",
                     o->out_dir, strerror(errno));
        goto out;
    }
    if (o->events_shared && o->events_lock)
        j->events = o->events_shared;
    else
        rc = vg_events_open(ctx, o->out_dir, &o->events, &j->events);
    if (rc < 0)
        goto out;
    if (o->write_snapshots) {
        vg_snapshots_opts sno = o->snapshots;
        if (sno.max_width < si.width)
            sno.max_width = si.width;
        if (sno.max_height < si.height)
            sno.max_height = si.height;
        rc = vg_snapshots_open(ctx, o->out_dir, &sno, &j->snaps);
        if (rc < 0)
            goto out;
    }
    snprintf(path, sizeof(path), "%s/tracks%s.txt", o->out_dir,
             o->suffix ? o->suffix : "");
    snprintf(st.tracks_path, sizeof(st.tracks_path), "%s", path);
    j->o_tracks_path = st.tracks_path;
    rc = vg_open_output(ctx, path, O_WRONLY | O_CREAT | O_TRUNC, &j->tracks_fd);
    if (rc < 0)
        goto out;
    j->tracks_flushed_ns = vg_clock_ns();
    if (o->write_video) {
        snprintf(path, sizeof(path), "%s/annotated%s.mp4", o->out_dir,
                 o->suffix ? o->suffix : "");
        snprintf(st.video_path, sizeof(st.video_path), "%s", path);
        rc = vg_video_writer_open(ctx, path, si.width, si.height, st.fps,
                                  &o->video, &j->video);
        if (rc < 0)
            goto out;
    }
    if (o->write_video || o->live) {
        rc = vg_overlay_create(ctx, 6, &j->overlay);
        if (rc < 0)
            goto out;
    }
    rc = vg_queue_create(ctx, sizeof(sink_item), depth, VG_QUEUE_BLOCK, NULL,
                         NULL, &j->sink_q);
    if (rc < 0)
        goto out;
    if (pthread_create(&j->sink_thread, NULL, sink_main, j) != 0) {
        rc = vg_fail(ctx, VG_ENOMEM, "cannot start the sink thread");
        goto out;
    }
    j->sink_started = 1;
    publish_tables(j);
    register_telemetry(j);
    if (o->live) {
        /* this camera's buffers: its frame pools, the sink queue, the live
         * view's two pictures and the run's own state */
        vg_pool *pools_[2] = {NULL, NULL};
        int64_t bytes = (int64_t)sizeof(*j) +
                        (int64_t)depth * (int64_t)sizeof(sink_item) +
                        2 * (int64_t)si.width * si.height * 3;
        vg_source_pools(j->src, &pools_[0], &pools_[1]);
        for (int i = 0; i < 2; i++)
            if (pools_[i]) {
                vg_pool_stats ps;
                vg_pool_stats_get(pools_[i], &ps);
                bytes += (int64_t)ps.buf_size * ps.count;
            }
        atomic_store(&o->live->memory_bytes, (long long)bytes);
    }
    if (j->reconnect) {
        rc = vgi_decoder_start_live(ctx, &dec, j->src, depth, o->max_frames,
                                    j->reconnect, &so, j->url, j->stream,
                                    si.width, si.height, st.fps);
        if (rc < 0)
            goto out;
        j->src = NULL; /* the decoder's now: it may replace it */
    } else if (si.is_live) {
        /* no reconnection, but a live camera all the same: the decoder
         * never waits on the queue (the oldest frame goes) */
        rc = vgi_decoder_start_live(ctx, &dec, j->src, depth, o->max_frames,
                                    NULL, &so, NULL, j->stream, si.width,
                                    si.height, st.fps);
        if (rc < 0)
            goto out;
    } else {
        rc = vgi_decoder_start(ctx, &dec, j->src, depth, o->max_frames);
        if (rc < 0)
            goto out;
    }
    decoder_started = 1;

    rc = process(j, &dec, &st, &end);

out:
    /* a live input's sources come and go with the decoder: their pools
     * leave the telemetry first */
    if (j->reconnect)
        unregister_telemetry(j);
    if (decoder_started) {
        if (rc < 0 || st.stopped)
            vgi_decoder_request_stop(&dec);
        st.decode_queue_high_water = vgi_decoder_finish(&dec);
        st.decode_busy_s = dec.busy_s;
        st.frames_dropped = (int64_t)dec.dropped;
        if (j->reconnect) {
            j->src = dec.src; /* the last connection, if any */
            dec.src = NULL;
        }
    }
    if (j->reconnect) {
        st.live = 1;
        vg_reconnect_stats_get(j->reconnect, &st.reconnect);
    }
    if (o->live)
        vgi_live_set_reconnect(o->live, NULL); /* it goes below */
    if (j->sink_started) {
        vg_queue_stats qs;
        memset(&j->out, 0, sizeof(j->out));
        j->out.end = 1;
        vg_queue_push(j->sink_q, &j->out, -1);
        pthread_join(j->sink_thread, NULL);
        vg_queue_stats_get(j->sink_q, &qs);
        st.sink_queue_high_water = qs.high_water;
    }
    unregister_telemetry(j);
    vg_queue_destroy(&j->sink_q);
    if (j->video && vg_video_writer_close(j->video) < 0 && !j->video_stopped) {
        const char *m = vg_video_writer_errmsg(j->video);
        if (!j->sink_error)
            sink_fail(j, VG_EIO, m);
    }
    if (j->tracks_fd >= 0) {
        tracks_flush(j, st.tracks_path);
        if (j->tracks_fd >= 0 && close(j->tracks_fd) != 0 && rc == 0)
            rc = vg_fail(ctx, VG_EIO, "%s: write failed: %s", st.tracks_path,
                         strerror(errno));
        j->tracks_fd = -1;
    }
    fill_stats(j, &st);
    if (rc == 0 && j->sink_error)
        rc = vg_fail(ctx, j->sink_error, "%s", j->sink_message);
    if (j->events == o->events_shared)
        j->events = NULL; /* the job's */
    if (j->events && vg_events_close(&j->events) < 0 && rc == 0)
        rc = vg_fail(ctx, VG_EIO, "%s", "events: final commit failed");
    vg_events_close(&j->events);
    vg_snapshots_close(&j->snaps);
    vg_video_writer_destroy(&j->video);
    vg_overlay_destroy(&j->overlay);
    vg_rules_destroy(&j->rules);
    vg_tracker_destroy(&j->tracker);
    vg_reid_embedder_destroy(&j->reid);
    vg_motion_destroy(&j->motion);
    vg_source_close(&j->src);
    vg_reconnect_destroy(&j->reconnect);
    vg_free(ctx, j->url);
    if (j->zones_lock_ready)
        pthread_mutex_destroy(&j->zones_lock);
    vg_free(ctx, j);

    st.wall_s = (double)(vg_clock_ns() - t_start) / 1e9;
    if (end == VG_ECLOSED)
        end = VG_EOF;
    st.end_code = rc < 0 ? rc : st.stopped ? VG_EOF : end;
    snprintf(st.end_message, sizeof(st.end_message), "%s",
             rc < 0 ? vg_context_errmsg(ctx) : dec.message);
    if (stats)
        *stats = st;
    if (rc < 0)
        return rc;
    if (st.stopped || end == VG_EOF)
        return 0;
    return vg_fail(ctx, end, "%s", dec.message);
}
