/* A camera's live view, rules and figures shared between a job and the
 * threads of the camera's run (pipeline/pipeline_internal.h). */
#include <stdio.h>
#include <string.h>

#include "pipeline/pipeline_internal.h"
#include "vigil/clock.h"

int vgi_live_init(vg_context *ctx, vgi_live *l)
{
    memset(l, 0, sizeof(*l));
    l->ctx = ctx;
    l->latest = -1;
    l->writing = -1;
    vg_rules_config_init(&l->pending);
    if (pthread_mutex_init(&l->lock, NULL) != 0)
        return VG_ENOMEM;
    l->ctx = ctx;
    return 0;
}

void vgi_live_destroy(vgi_live *l)
{
    if (!l->ctx)
        return; /* never set up */
    for (int i = 0; i < 2; i++)
        vg_free(l->ctx, l->buf[i]);
    vg_rules_config_free(l->ctx, &l->pending);
    pthread_mutex_destroy(&l->lock);
    memset(l, 0, sizeof(*l));
}

int vgi_live_begin(vgi_live *l, int w, int h, int is_live)
{
    size_t n = (size_t)w * (size_t)h * 3;
    uint8_t *b[2] = {NULL, NULL};
    int rc = 0;

    atomic_store(&l->width, w);
    atomic_store(&l->height, h);
    atomic_store(&l->is_live, is_live);
    pthread_mutex_lock(&l->lock);
    if (l->buf[0] && l->w == w && l->h == h) {
        pthread_mutex_unlock(&l->lock);
        return 0;
    }
    /* a new size (a slot reused): the old pictures are not read now (a
     * reader pins under the lock, and a new run starts only after the
     * previous one ended) */
    if (l->pinned[0] || l->pinned[1]) {
        pthread_mutex_unlock(&l->lock);
        return vg_fail(l->ctx, VG_EBUSY, "live view: pictures still read");
    }
    b[0] = vg_malloc(l->ctx, n);
    b[1] = vg_malloc(l->ctx, n);
    if (!b[0] || !b[1]) {
        vg_free(l->ctx, b[0]);
        vg_free(l->ctx, b[1]);
        rc = vg_fail(l->ctx, VG_ENOMEM,
                     "live view: out of memory for two %dx%d pictures", w, h);
    } else {
        vg_free(l->ctx, l->buf[0]);
        vg_free(l->ctx, l->buf[1]);
        l->buf[0] = b[0];
        l->buf[1] = b[1];
        l->w = w;
        l->h = h;
        l->latest = -1;
        l->writing = -1;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int vgi_live_watch(vgi_live *l, int delta)
{
    int n = atomic_fetch_add(&l->viewers, delta) + delta;
    if (n < 0) {
        /* more unwatches than watches: back to none */
        atomic_fetch_sub(&l->viewers, n);
        n = 0;
    }
    return n;
}

int vgi_live_wanted(vgi_live *l)
{
    return atomic_load(&l->viewers) > 0;
}

uint8_t *vgi_live_write_begin(vgi_live *l)
{
    uint8_t *p = NULL;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < 2 && l->buf[0]; i++)
        if (i != l->latest && !l->pinned[i]) {
            l->writing = i;
            p = l->buf[i];
            break;
        }
    if (!p && l->buf[0])
        l->skipped++;
    pthread_mutex_unlock(&l->lock);
    return p;
}

void vgi_live_write_end(vgi_live *l)
{
    pthread_mutex_lock(&l->lock);
    if (l->writing >= 0) {
        l->latest = l->writing;
        l->writing = -1;
        l->seq++;
    }
    pthread_mutex_unlock(&l->lock);
}

void vgi_live_scaled_size(int w, int h, int max_width, int *ow, int *oh)
{
    if (max_width <= 0 || max_width >= w) {
        *ow = w;
        *oh = h;
        return;
    }
    *ow = max_width;
    *oh = (int)(((long long)h * max_width + w / 2) / w);
    if (*oh < 1)
        *oh = 1;
}

/* Box filter: each output pixel is the mean of the source pixels under
 * it (at least one). */
static void scale_box(const uint8_t *src, int w, int h, uint8_t *dst, int ow,
                      int oh)
{
    for (int y = 0; y < oh; y++) {
        int y0 = (int)((long long)y * h / oh);
        int y1 = (int)((long long)(y + 1) * h / oh);
        if (y1 <= y0)
            y1 = y0 + 1;
        for (int x = 0; x < ow; x++) {
            int x0 = (int)((long long)x * w / ow);
            int x1 = (int)((long long)(x + 1) * w / ow);
            unsigned sum[3] = {0, 0, 0}, n;
            if (x1 <= x0)
                x1 = x0 + 1;
            for (int sy = y0; sy < y1; sy++) {
                const uint8_t *p = src + ((size_t)sy * w + x0) * 3;
                for (int sx = x0; sx < x1; sx++, p += 3) {
                    sum[0] += p[0];
                    sum[1] += p[1];
                    sum[2] += p[2];
                }
            }
            n = (unsigned)((y1 - y0) * (x1 - x0));
            for (int c = 0; c < 3; c++)
                dst[((size_t)y * ow + x) * 3 + c] =
                    (uint8_t)((sum[c] + n / 2) / n);
        }
    }
}

int vgi_live_read(vgi_live *l, int max_width, uint64_t *seq, uint8_t *out,
                  size_t cap, int *w, int *h)
{
    int b, ow, oh, sw, sh;
    uint64_t s;

    pthread_mutex_lock(&l->lock);
    if (l->latest < 0 || l->seq <= *seq) {
        pthread_mutex_unlock(&l->lock);
        return 0;
    }
    sw = l->w;
    sh = l->h;
    vgi_live_scaled_size(sw, sh, max_width, &ow, &oh);
    if (!out || cap < (size_t)ow * (size_t)oh * 3) {
        pthread_mutex_unlock(&l->lock);
        return VG_ERANGE;
    }
    b = l->latest;
    s = l->seq;
    l->pinned[b]++;
    pthread_mutex_unlock(&l->lock);

    if (ow == sw && oh == sh)
        memcpy(out, l->buf[b], (size_t)sw * (size_t)sh * 3);
    else
        scale_box(l->buf[b], sw, sh, out, ow, oh);

    pthread_mutex_lock(&l->lock);
    l->pinned[b]--;
    pthread_mutex_unlock(&l->lock);
    *seq = s;
    *w = ow;
    *h = oh;
    return 1;
}

void vgi_live_frame_done(vgi_live *l, int64_t frames, int64_t detected,
                         int64_t dropped)
{
    int64_t now;
    atomic_store(&l->frames, (long long)frames);
    atomic_store(&l->detected, (long long)detected);
    atomic_store(&l->dropped, (long long)dropped);
    now = vg_clock_ns();
    pthread_mutex_lock(&l->lock);
    if (l->n_samples == 0 ||
        now - l->samples[(l->next_sample + VGI_LIVE_SAMPLES - 1) %
                         VGI_LIVE_SAMPLES]
                    .t_ns >=
            VGI_LIVE_SAMPLE_NS) {
        l->samples[l->next_sample].t_ns = now;
        l->samples[l->next_sample].frames = frames;
        l->samples[l->next_sample].detected = detected;
        l->next_sample = (l->next_sample + 1) % VGI_LIVE_SAMPLES;
        if (l->n_samples < VGI_LIVE_SAMPLES)
            l->n_samples++;
    }
    pthread_mutex_unlock(&l->lock);
}

void vgi_live_set_reconnect(vgi_live *l, vg_reconnect *rcm)
{
    pthread_mutex_lock(&l->lock);
    if (l->rcm && !rcm) {
        /* the machine goes: its last word stays for the status */
        vg_reconnect_stats rs;
        vg_reconnect_stats_get(l->rcm, &rs);
        l->last_state = rs.state;
        l->last_reconnects = (int64_t)rs.reconnects;
        l->has_last = 1;
    }
    l->rcm = rcm;
    pthread_mutex_unlock(&l->lock);
}

void vgi_live_figures_get(vgi_live *l, vgi_live_figures *out)
{
    int64_t now = vg_clock_ns();
    int64_t frames = (int64_t)atomic_load(&l->frames);
    int64_t detected = (int64_t)atomic_load(&l->detected);

    memset(out, 0, sizeof(*out));
    out->frames_dropped = (int64_t)atomic_load(&l->dropped);
    out->memory_bytes = (int64_t)atomic_load(&l->memory_bytes);
    out->width = atomic_load(&l->width);
    out->height = atomic_load(&l->height);
    out->live_state = atomic_load(&l->is_live) ? VG_RECONNECT_LIVE : -1;
    pthread_mutex_lock(&l->lock);
    if (l->rcm) {
        vg_reconnect_stats rs;
        vg_reconnect_stats_get(l->rcm, &rs);
        out->live_state = rs.state;
        out->reconnects = (int64_t)rs.reconnects;
    } else if (l->has_last) {
        out->live_state = l->last_state;
        out->reconnects = l->last_reconnects;
    }
    /* the oldest sample in the window against the totals now: a camera
     * that stops delivering decays to 0 within the window */
    for (int k = l->n_samples; k >= 1; k--) {
        int i = (l->next_sample + VGI_LIVE_SAMPLES - k) % VGI_LIVE_SAMPLES;
        double dt = (double)(now - l->samples[i].t_ns) / 1e9;
        if (now - l->samples[i].t_ns > VGI_LIVE_WINDOW_NS)
            continue;
        if (dt > 0.1) {
            out->fps = (double)(frames - l->samples[i].frames) / dt;
            out->detect_fps = (double)(detected - l->samples[i].detected) / dt;
        }
        break;
    }
    pthread_mutex_unlock(&l->lock);
}

/* A deep copy of cfg into out (initialised here). 0 or VG_ENOMEM. */
static int config_copy(vg_context *ctx, const vg_rules_config *cfg,
                       vg_rules_config *out)
{
    int rc = 0;
    vg_rules_config_init(out);
    for (int i = 0; rc == 0 && i < cfg->n_zones; i++)
        rc = vg_rules_config_add_zone(ctx, out, &cfg->zones[i]);
    for (int i = 0; rc == 0 && i < cfg->n_rules; i++)
        rc = vg_rules_config_add_rule(ctx, out, &cfg->rules[i]);
    if (rc < 0) {
        vg_rules_config_free(ctx, out);
        return rc;
    }
    out->capacity = cfg->capacity;
    out->state_ttl_s = cfg->state_ttl_s;
    out->cooldown_s = cfg->cooldown_s;
    memcpy(out->source, cfg->source, sizeof(out->source));
    return 0;
}

int vgi_live_set_rules(vgi_live *l, const vg_rules_config *cfg)
{
    vg_rules_config copy, old;
    int rc = config_copy(l->ctx, cfg, &copy);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&l->lock);
    old = l->pending;
    l->pending = copy;
    atomic_store(&l->has_pending, 1);
    pthread_mutex_unlock(&l->lock);
    vg_rules_config_free(l->ctx, &old);
    return 0;
}

int vgi_live_take_rules(vgi_live *l, vg_rules_config *out)
{
    if (!atomic_load(&l->has_pending))
        return 0;
    pthread_mutex_lock(&l->lock);
    *out = l->pending;
    vg_rules_config_init(&l->pending);
    atomic_store(&l->has_pending, 0);
    pthread_mutex_unlock(&l->lock);
    return 1;
}
