/*
 * soak_core: the bounded-state soak shared by tests/test_soak.c (reduced, in
 * `make check`) and tests/tools/soak.c (full, `make soak`).
 *
 *   soak_opts o;
 *   soak_opts_default(&o);
 *   o.frames = 1000000;
 *   soak_result r;
 *   if (soak_run(&o, &r) < 0) { fprintf(stderr, "%s\n", r.err); ... }
 *   soak_print(stdout, &r);
 *   if (soak_check(&r, why, sizeof(why)) != 0) { ... failed ... }
 *
 * Synthetic detections (no model, no decode): o.objects objects per frame,
 * each moving in a straight line at constant speed (bouncing off the frame
 * edges) for a random o.min_life..o.max_life frames, then replaced by a new
 * object somewhere else. They go through the real stages of the CCTV job
 * (src/pipeline/run.c): vg_tracker (ByteTrack) -> vg_rules (an intrusion, a
 * dwell, a line-crossing and an occupancy rule over zones the objects walk
 * through; vg_rules_forget on the ids the tracker removed) -> a vg_events
 * store (SQLite + JSONL in a mkdtemp directory, removed at the end) and an
 * overlay's event ring. RSS is sampled at every tenth of the run; the first
 * tenth is the warm-up, after which nothing should grow.
 *
 * Header-only (static functions) so that the test and the tool share it
 * without being compiled into every test.
 */
#ifndef VIGIL_TESTS_SOAK_CORE_H
#define VIGIL_TESTS_SOAK_CORE_H

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/clock.h"
#include "vigil/context.h"
#include "vigil/err.h"
#include "vigil/event.h"
#include "vigil/events.h"
#include "vigil/overlay.h"
#include "vigil/rules.h"
#include "vigil/track.h"

#define SOAK_W 1280
#define SOAK_H 720
#define SOAK_FPS 25.0
#define SOAK_MAX_OBJECTS 64
#define SOAK_MAX_EVENTS 256
#define SOAK_SAMPLES 10 /* RSS samples: one per tenth of the run */
#define SOAK_MAX_TRACKS 256
#define SOAK_RULE_CAPACITY 256
#define SOAK_OVERLAY_EVENTS 8
#define SOAK_RSS_LIMIT (1024 * 1024) /* growth allowed after the warm-up */

typedef struct soak_opts {
    int64_t frames; /* frames to run (>= 10) */
    int objects;    /* objects per frame (1..SOAK_MAX_OBJECTS) */
    int min_life;   /* frames an object lives: min_life..max_life */
    int max_life;
    uint64_t seed;      /* of the synthetic scene */
    FILE *progress;     /* each sample is printed here as it is taken */
    const char *tmpdir; /* parent of the event store's directory */
} soak_opts;

typedef struct soak_sample {
    int64_t frame;      /* frames done */
    double seconds;     /* wall time since the start */
    uint64_t rss;       /* bytes */
    int track_slots;    /* tracked + lost + tentative */
    int rule_entries;   /* per-object rule state entries */
    int64_t ids;        /* tracker ids handed out so far */
    uint64_t events;    /* events stored so far */
    int64_t live_alloc; /* vg_ allocations not freed */
} soak_sample;

typedef struct soak_result {
    int64_t frames;
    int objects;
    soak_sample samples[SOAK_SAMPLES];
    int n_samples;
    uint64_t rss_start, rss_warm, rss_end, rss_max_after_warm;
    vg_alloc_stats alloc_warm, alloc_end;
    vg_tracker_stats tracker;
    int max_tracks, max_track_slots_seen;
    vg_rules_stats rules;
    int max_rule_entries_seen;
    uint64_t fired[4]; /* events raised, by enum vg_event_kind */
    uint64_t events_total;
    vg_events_stats store;
    int store_batch;
    uint64_t max_pending_seen;
    int overlay_events, overlay_capacity;
    double seconds;
    char err[256];
} soak_result;

static inline void soak_opts_default(soak_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->frames = 1000000;
    o->objects = 20;
    o->min_life = 5;
    o->max_life = 60;
    o->seed = 0x5eed;
    o->tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
}

/* ---- the synthetic scene ------------------------------------------------ */

typedef struct soak_object {
    float x, y, vx, vy; /* top-left corner and velocity, px and px/frame */
    float w, h;
    int life; /* frames left */
} soak_object;

static inline uint64_t soak_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static inline float soak_uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((soak_rand(s) >> 11) * 0x1.0p-53);
}

static inline void soak_spawn(soak_object *ob, const soak_opts *o, uint64_t *s)
{
    ob->w = soak_uniform(s, 30, 50);
    ob->h = soak_uniform(s, 80, 120);
    ob->x = soak_uniform(s, 0, SOAK_W - ob->w);
    ob->y = soak_uniform(s, 0, SOAK_H - ob->h);
    ob->vx = soak_uniform(s, -7, 7);
    ob->vy = soak_uniform(s, -4, 4);
    ob->life = o->min_life +
               (int)(soak_rand(s) % (uint64_t)(o->max_life - o->min_life + 1));
}

static inline void soak_move(soak_object *ob)
{
    ob->x += ob->vx;
    ob->y += ob->vy;
    if (ob->x < 0 || ob->x + ob->w > SOAK_W) {
        ob->vx = -ob->vx;
        ob->x += 2 * ob->vx;
    }
    if (ob->y < 0 || ob->y + ob->h > SOAK_H) {
        ob->vy = -ob->vy;
        ob->y += 2 * ob->vy;
    }
}

/* ---- zones and rules, built in code ------------------------------------- */

static inline int soak_add_rect(vg_context *ctx, vg_rules_config *cfg,
                                const char *name, float x0, float y0, float x1,
                                float y1)
{
    vg_zone_def z;
    memset(&z, 0, sizeof(z));
    snprintf(z.name, sizeof(z.name), "%s", name);
    z.kind = VG_ZONE_POLYGON;
    z.points[0] = (vg_point){x0, y0};
    z.points[1] = (vg_point){x1, y0};
    z.points[2] = (vg_point){x1, y1};
    z.points[3] = (vg_point){x0, y1};
    z.n_points = 4;
    return vg_rules_config_add_zone(ctx, cfg, &z);
}

static inline int soak_add_rule(vg_context *ctx, vg_rules_config *cfg,
                                const char *name, int kind, const char *zone,
                                double seconds, int more_than, double cooldown)
{
    vg_rule_def d;
    memset(&d, 0, sizeof(d));
    snprintf(d.name, sizeof(d.name), "%s", name);
    snprintf(d.zone, sizeof(d.zone), "%s", zone);
    d.kind = kind;
    d.classes[0] = 0; /* person */
    d.n_classes = 1;
    d.seconds = seconds;
    d.more_than = more_than;
    d.direction = VG_CROSS_BOTH;
    d.cooldown_s = cooldown;
    return vg_rules_config_add_rule(ctx, cfg, &d);
}

static inline int soak_rules_config(vg_context *ctx, vg_rules_config *cfg)
{
    vg_zone_def line;
    int rc;

    vg_rules_config_init(cfg);
    cfg->capacity = SOAK_RULE_CAPACITY;
    cfg->state_ttl_s = 5.0;
    memset(&line, 0, sizeof(line));
    snprintf(line.name, sizeof(line.name), "gate");
    line.kind = VG_ZONE_LINE;
    line.points[0] = (vg_point){640, 40};
    line.points[1] = (vg_point){640, 680};
    line.n_points = 2;
    snprintf(line.a_to_b, sizeof(line.a_to_b), "westbound");
    snprintf(line.b_to_a, sizeof(line.b_to_a), "eastbound");
    if ((rc = soak_add_rect(ctx, cfg, "restricted", 80, 80, 560, 360)) < 0 ||
        (rc = soak_add_rect(ctx, cfg, "bench", 720, 380, 1200, 680)) < 0 ||
        (rc = soak_add_rect(ctx, cfg, "lobby", 320, 180, 960, 540)) < 0 ||
        (rc = vg_rules_config_add_zone(ctx, cfg, &line)) < 0 ||
        (rc = soak_add_rule(ctx, cfg, "no-entry", VG_EVENT_INTRUSION,
                            "restricted", 0, 0, -1)) < 0 ||
        (rc = soak_add_rule(ctx, cfg, "loiter", VG_EVENT_DWELL, "bench", 1.0, 0,
                            -1)) < 0 ||
        (rc = soak_add_rule(ctx, cfg, "gate-count", VG_EVENT_CROSSING, "gate",
                            0, 0, -1)) < 0 ||
        (rc = soak_add_rule(ctx, cfg, "crowd", VG_EVENT_OCCUPANCY, "lobby", 0.5,
                            4, 2.0)) < 0)
        vg_rules_config_free(ctx, cfg);
    return rc;
}

/* ---- helpers ---------------------------------------------------------- */

static inline int64_t soak_live(const vg_alloc_stats *a)
{
    return (int64_t)(a->allocs - a->frees);
}

/* Removes the files of dir (the store's: no subdirectories) and dir. */
static inline void soak_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4096 + 256 + 2];

    if (d) {
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static inline void soak_sample_take(soak_result *r, int64_t frame, int64_t t0,
                                    const vg_tracker *tr, const vg_rules *ru,
                                    vg_context *ctx, FILE *progress)
{
    soak_sample *s = &r->samples[r->n_samples++];
    vg_tracker_stats ts;
    vg_rules_stats rs;
    vg_alloc_stats as;

    vg_tracker_stats_get(tr, &ts);
    vg_rules_stats_get(ru, &rs);
    vg_context_alloc_stats(ctx, &as);
    s->frame = frame;
    s->seconds = (double)(vg_clock_ns() - t0) / 1e9;
    s->rss = vg_rss_bytes();
    s->track_slots = ts.tracked + ts.lost + ts.tentative;
    s->rule_entries = rs.entries;
    s->ids = ts.confirmed;
    s->events = r->events_total;
    s->live_alloc = soak_live(&as);
    if (progress) {
        fprintf(progress,
                "%10lld frames %8.1f s  rss %8.2f MiB  tracks %3d  "
                "rule-state %3d  ids %9lld  events %9llu  vg-live %lld\n",
                (long long)s->frame, s->seconds, (double)s->rss / 1048576.0,
                s->track_slots, s->rule_entries, (long long)s->ids,
                (unsigned long long)s->events, (long long)s->live_alloc);
        fflush(progress);
    }
}

/* ---- the run ------------------------------------------------------------ */

/* Runs the soak. Returns 0 when the run completed (whether or not the bounds
 * held: see soak_check), or a negative VG_E* code with r->err set. */
static inline int soak_run(const soak_opts *o, soak_result *r)
{
    vg_context *ctx = NULL;
    vg_tracker *tr = NULL;
    vg_rules *ru = NULL;
    vg_events *es = NULL;
    vg_overlay *ov = NULL;
    vg_rules_config cfg;
    vg_tracker_opts to;
    vg_events_opts eo;
    soak_object objs[SOAK_MAX_OBJECTS];
    vg_detection dets[SOAK_MAX_OBJECTS];
    vg_track tracks[SOAK_MAX_OBJECTS];
    vg_rules_object robjs[SOAK_MAX_OBJECTS];
    vg_event events[SOAK_MAX_EVENTS];
    char dir[4096];
    int have_dir = 0, rc;
    uint64_t seed;
    int64_t t0 = vg_clock_ns();

    memset(r, 0, sizeof(*r));
    vg_rules_config_init(&cfg);
    if (o->frames < SOAK_SAMPLES || o->objects < 1 ||
        o->objects > SOAK_MAX_OBJECTS || o->min_life < 2 ||
        o->max_life < o->min_life) {
        snprintf(r->err, sizeof(r->err), "soak: invalid options");
        return VG_EINVAL;
    }
    r->frames = o->frames;
    r->objects = o->objects;
    r->rss_start = vg_rss_bytes();
    snprintf(dir, sizeof(dir), "%s/vigil-soak-XXXXXX", o->tmpdir);
    if (mkdtemp(dir) == NULL) {
        snprintf(r->err, sizeof(r->err), "soak: mkdtemp %.200s failed", dir);
        return VG_EIO;
    }
    have_dir = 1;
    if ((rc = vg_context_create(&ctx)) < 0) {
        snprintf(r->err, sizeof(r->err), "soak: context: %s", vg_strerror(rc));
        goto out;
    }
    vg_tracker_opts_default(&to);
    to.fps = SOAK_FPS;
    to.max_tracks = SOAK_MAX_TRACKS;
    to.max_detections = SOAK_MAX_OBJECTS;
    vg_events_opts_default(&eo);
    if ((rc = vg_tracker_create(ctx, &to, &tr)) < 0 ||
        (rc = soak_rules_config(ctx, &cfg)) < 0 ||
        (rc = vg_rules_create(ctx, &cfg, SOAK_W, SOAK_H, &ru)) < 0 ||
        (rc = vg_events_open(ctx, dir, &eo, &es)) < 0 ||
        (rc = vg_overlay_create(ctx, SOAK_OVERLAY_EVENTS, &ov)) < 0) {
        snprintf(r->err, sizeof(r->err), "soak: setup: %s",
                 vg_context_errmsg(ctx));
        goto out;
    }
    vg_rules_config_free(ctx, &cfg);
    r->max_tracks = to.max_tracks;
    r->store_batch = eo.batch;
    r->overlay_capacity = SOAK_OVERLAY_EVENTS;

    seed = o->seed;
    for (int i = 0; i < o->objects; i++) {
        soak_spawn(&objs[i], o, &seed);
        /* stagger the first generation so that identities change at a
         * steady rate from the start */
        objs[i].life = 1 + (int)(soak_rand(&seed) % (uint64_t)o->max_life);
    }

    for (int64_t f = 0; f < o->frames; f++) {
        double t = (double)f / SOAK_FPS;
        const int64_t *gone;
        int n_tracks = 0, n_gone = 0, n_events = 0;
        vg_tracker_stats ts;
        vg_rules_stats rs;
        vg_events_stats st;

        for (int i = 0; i < o->objects; i++) {
            soak_object *ob = &objs[i];
            if (--ob->life < 0)
                soak_spawn(ob, o, &seed); /* gone; a new one elsewhere */
            else
                soak_move(ob);
            dets[i].box =
                (vg_box){ob->x + soak_uniform(&seed, -1, 1),
                         ob->y + soak_uniform(&seed, -1, 1), ob->w, ob->h};
            dets[i].score = soak_uniform(&seed, 0.7f, 0.95f);
            dets[i].class_id = 0;
        }
        rc = vg_tracker_update(tr, dets, o->objects, tracks, SOAK_MAX_OBJECTS,
                               &n_tracks);
        if (rc < 0) {
            snprintf(r->err, sizeof(r->err), "soak: tracker: %s",
                     vg_strerror(rc));
            goto out;
        }
        vg_tracker_removed(tr, &gone, &n_gone);
        for (int i = 0; i < n_gone; i++)
            vg_rules_forget(ru, gone[i]);
        for (int i = 0; i < n_tracks; i++) {
            robjs[i].track_id = tracks[i].id;
            robjs[i].box = tracks[i].box;
            robjs[i].class_id = tracks[i].class_id;
            robjs[i].score = tracks[i].score;
        }
        rc = vg_rules_update(ru, t, f, robjs, n_tracks, events, SOAK_MAX_EVENTS,
                             &n_events);
        if (rc < 0) {
            snprintf(r->err, sizeof(r->err), "soak: rules: %s",
                     vg_strerror(rc));
            goto out;
        }
        for (int e = 0; e < n_events; e++) {
            vg_event *ev = &events[e];
            snprintf(ev->stream, sizeof(ev->stream), "soak");
            ev->wall_ms = f * 40; /* stream time: no clock call needed */
            if ((rc = vg_events_add(es, ev)) < 0) {
                snprintf(r->err, sizeof(r->err), "soak: %s",
                         vg_events_errmsg(es));
                goto out;
            }
            if (ev->kind >= 0 && ev->kind < 4)
                r->fired[ev->kind]++;
            r->events_total++;
            vg_overlay_push_event(ov, ev);
        }
        if ((rc = vg_events_tick(es)) < 0) {
            snprintf(r->err, sizeof(r->err), "soak: %s", vg_events_errmsg(es));
            goto out;
        }

        vg_tracker_stats_get(tr, &ts);
        if (ts.tracked + ts.lost + ts.tentative > r->max_track_slots_seen)
            r->max_track_slots_seen = ts.tracked + ts.lost + ts.tentative;
        vg_rules_stats_get(ru, &rs);
        if (rs.entries > r->max_rule_entries_seen)
            r->max_rule_entries_seen = rs.entries;
        vg_events_stats_get(es, &st);
        if (st.pending > r->max_pending_seen)
            r->max_pending_seen = st.pending;

        if ((f + 1) * SOAK_SAMPLES / o->frames !=
            f * SOAK_SAMPLES / o->frames) {
            soak_sample_take(r, f + 1, t0, tr, ru, ctx, o->progress);
            if (r->n_samples == 1) {
                r->rss_warm = r->samples[0].rss;
                vg_context_alloc_stats(ctx, &r->alloc_warm);
            } else if (r->samples[r->n_samples - 1].rss >
                       r->rss_max_after_warm) {
                r->rss_max_after_warm = r->samples[r->n_samples - 1].rss;
            }
        }
    }
    r->rss_end = r->samples[r->n_samples - 1].rss;
    vg_context_alloc_stats(ctx, &r->alloc_end);
    vg_tracker_stats_get(tr, &r->tracker);
    vg_rules_stats_get(ru, &r->rules);
    vg_events_stats_get(es, &r->store);
    r->overlay_events = vg_overlay_event_count(ov);
    rc = 0;
out:
    vg_overlay_destroy(&ov);
    if (vg_events_close(&es) < 0 && rc == 0) {
        snprintf(r->err, sizeof(r->err), "soak: closing the event store");
        rc = VG_EIO;
    }
    vg_rules_destroy(&ru);
    vg_rules_config_free(ctx, &cfg);
    vg_tracker_destroy(&tr);
    vg_context_destroy(&ctx);
    if (have_dir)
        soak_rmdir(dir);
    r->seconds = (double)(vg_clock_ns() - t0) / 1e9;
    return rc;
}

/* RSS growth after the warm-up (the first tenth), in bytes; negative when it
 * shrank. The largest sample after the warm-up counts, not only the last. */
static inline int64_t soak_growth(const soak_result *r)
{
    uint64_t top =
        r->rss_max_after_warm > r->rss_end ? r->rss_max_after_warm : r->rss_end;
    return (int64_t)top - (int64_t)r->rss_warm;
}

/* Ids the run must at least hand out for identities to have really changed:
 * every object lives at most max_life frames. */
static inline int64_t soak_min_ids(const soak_result *r, const soak_opts *o)
{
    return r->frames * r->objects / o->max_life;
}

/* Writes the reason a bound failed into why; returns 1. */
static inline int soak_why(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int soak_why(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return 1;
}

/* Checks every bound; returns 0, or 1 with a reason in why. check_rss 0
 * skips the RSS bound (sanitizer builds: ASan's quarantine holds freed
 * blocks by design, so RSS there does not measure vigil). */
static inline int soak_check(const soak_result *r, const soak_opts *o,
                             int check_rss, char *why, size_t n)
{
    if (check_rss && soak_growth(r) >= SOAK_RSS_LIMIT)
        return soak_why(why, n, "RSS grew by %lld bytes after the first 10%%",
                        (long long)soak_growth(r));
    if (soak_live(&r->alloc_end) != soak_live(&r->alloc_warm))
        return soak_why(why, n,
                        "vg_ allocations live: %lld at 10%%, %lld "
                        "at the end",
                        (long long)soak_live(&r->alloc_warm),
                        (long long)soak_live(&r->alloc_end));
    if (r->max_track_slots_seen > r->max_tracks)
        return soak_why(why, n, "tracker held %d tracks (max_tracks %d)",
                        r->max_track_slots_seen, r->max_tracks);
    if (r->max_rule_entries_seen > r->rules.capacity)
        return soak_why(why, n, "rule state held %d entries (capacity %d)",
                        r->max_rule_entries_seen, r->rules.capacity);
    if (r->max_pending_seen > (uint64_t)r->store_batch)
        return soak_why(why, n, "event store held %llu pending (batch %d)",
                        (unsigned long long)r->max_pending_seen,
                        r->store_batch);
    if (r->overlay_events > r->overlay_capacity)
        return soak_why(why, n, "overlay ring held %d events (max %d)",
                        r->overlay_events, r->overlay_capacity);
    if (r->tracker.confirmed <= soak_min_ids(r, o))
        return soak_why(why, n, "only %lld track ids over %lld frames",
                        (long long)r->tracker.confirmed, (long long)r->frames);
    return 0;
}

static inline void soak_print(FILE *out, const soak_result *r)
{
    static const char *const kinds[4] = {"intrusion", "dwell", "crossing",
                                         "occupancy"};

    fprintf(out, "\n%12s %9s %10s %7s %10s %10s %11s %8s\n", "frames",
            "seconds", "rss MiB", "tracks", "rule-state", "ids", "events",
            "vg-live");
    for (int i = 0; i < r->n_samples; i++) {
        const soak_sample *s = &r->samples[i];
        fprintf(out, "%12lld %9.1f %10.2f %7d %10d %10lld %11llu %8lld\n",
                (long long)s->frame, s->seconds, (double)s->rss / 1048576.0,
                s->track_slots, s->rule_entries, (long long)s->ids,
                (unsigned long long)s->events, (long long)s->live_alloc);
    }
    fprintf(out,
            "\nframes %lld, %d objects per frame, %.1f s (%.2f us/frame)\n",
            (long long)r->frames, r->objects, r->seconds,
            r->seconds * 1e6 / (double)r->frames);
    fprintf(out,
            "rss: start %.2f MiB, at 10%% %.2f MiB, end %.2f MiB, max after "
            "10%% %.2f MiB, growth %+lld bytes (limit < %d)\n",
            (double)r->rss_start / 1048576.0, (double)r->rss_warm / 1048576.0,
            (double)r->rss_end / 1048576.0,
            (double)r->rss_max_after_warm / 1048576.0,
            (long long)soak_growth(r), SOAK_RSS_LIMIT);
    fprintf(out,
            "vg_ allocations live: %lld at 10%%, %lld at the end "
            "(allocs %llu, frees %llu)\n",
            (long long)soak_live(&r->alloc_warm),
            (long long)soak_live(&r->alloc_end),
            (unsigned long long)r->alloc_end.allocs,
            (unsigned long long)r->alloc_end.frees);
    fprintf(out,
            "tracker: slots %d tracked + %d lost + %d tentative (max seen %d, "
            "max_tracks %d), ids %lld, removed %lld, evicted %lld, refused "
            "%lld, %zu bytes held\n",
            r->tracker.tracked, r->tracker.lost, r->tracker.tentative,
            r->max_track_slots_seen, r->max_tracks,
            (long long)r->tracker.confirmed, (long long)r->tracker.removed,
            (long long)r->tracker.evicted, (long long)r->tracker.refused,
            r->tracker.bytes_held);
    fprintf(out,
            "rules: state entries %d (max seen %d, capacity %d), forgotten "
            "%llu, expired %llu, evicted %llu, events dropped %llu\n",
            r->rules.entries, r->max_rule_entries_seen, r->rules.capacity,
            (unsigned long long)r->rules.forgotten,
            (unsigned long long)r->rules.expirations,
            (unsigned long long)r->rules.evictions,
            (unsigned long long)r->rules.events_dropped);
    fprintf(out, "events: %llu (", (unsigned long long)r->events_total);
    for (int k = 0; k < 4; k++)
        fprintf(out, "%s%s %llu", k ? ", " : "", kinds[k],
                (unsigned long long)r->fired[k]);
    fprintf(out,
            "); store pending %llu at the end (max seen %llu, batch %d), "
            "commits %llu, jsonl lines %llu\n",
            (unsigned long long)r->store.pending,
            (unsigned long long)r->max_pending_seen, r->store_batch,
            (unsigned long long)r->store.commits,
            (unsigned long long)r->store.jsonl_lines);
    fprintf(out, "overlay ring: %d events (capacity %d)\n", r->overlay_events,
            r->overlay_capacity);
}

#endif
