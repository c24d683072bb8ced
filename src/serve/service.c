/* vg_serve: the camera table of `vigil serve` over a running job. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/rules.h"
#include "vigil/serve.h"

#define RULES_JSON_CAP (256 * 1024)

typedef struct serve_camera {
    int used;
    char name[64];
    char input[VG_PATH_MAX];
    int loop;
    double detect_fps;
    int motion_enabled;
    int reid_enabled;         /* -1: the config's tracker.reid */
    int in_file;              /* from the config file (PUT rules saves) */
    vg_rules_config *rules;   /* what the camera runs with (NULL: none) */
    vg_rules_config *given;   /* what it was added with (the stream borrows
                                 it until removed) */
    int rules_own, given_own; /* owned by this camera (else the defaults) */
} serve_camera;

/* Rules configs a stream may still borrow: freed at destroy. */
typedef struct retired {
    vg_rules_config *cfg;
    struct retired *next;
} retired;

struct vg_serve {
    vg_context *ctx;
    vg_job *job;
    vg_run_opts run;
    char config_path[VG_PATH_MAX];
    pthread_mutex_t lock;
    serve_camera cam[VG_CAMERAS_MAX];
    vg_rules_config *defaults; /* the top-level zones/rules, NULL: none */
    retired *retired;
    char *json_a, *json_b; /* RULES_JSON_CAP each, for comparisons */
};

static void retire(vg_serve *s, vg_rules_config *cfg)
{
    retired *r;
    if (cfg == NULL)
        return;
    r = vg_calloc(s->ctx, 1, sizeof(*r));
    if (r == NULL) {
        /* cannot keep it safely: leak it rather than free under a reader */
        return;
    }
    r->cfg = cfg;
    r->next = s->retired;
    s->retired = r;
}

static void free_cfg(vg_context *ctx, vg_rules_config *cfg)
{
    if (cfg == NULL)
        return;
    vg_rules_config_free(ctx, cfg);
    vg_free(ctx, cfg);
}

/* The stream is gone (or the job stopped): nothing borrows its rules. */
static void release_camera(vg_serve *s, serve_camera *c)
{
    if (c->rules_own && c->rules != c->given)
        free_cfg(s->ctx, c->rules);
    if (c->given_own)
        free_cfg(s->ctx, c->given);
    memset(c, 0, sizeof(*c));
}

/* c runs with cfg from now on (owned when own). */
static void replace_rules(vg_serve *s, serve_camera *c, vg_rules_config *cfg,
                          int own)
{
    if (c->rules_own && c->rules != c->given)
        retire(s, c->rules);
    c->rules = cfg;
    c->rules_own = own;
}

int vg_serve_create(vg_context *ctx, vg_job *job, const vg_run_opts *run,
                    const char *config_path, vg_serve **out)
{
    vg_serve *s;
    if (out)
        *out = NULL;
    if (!ctx || !job || !run || !out)
        return VG_EINVAL;
    s = vg_calloc(ctx, 1, sizeof(*s));
    if (s == NULL)
        return vg_fail(ctx, VG_ENOMEM, "serve: out of memory");
    s->json_a = vg_malloc(ctx, RULES_JSON_CAP);
    s->json_b = vg_malloc(ctx, RULES_JSON_CAP);
    if (!s->json_a || !s->json_b) {
        vg_free(ctx, s->json_a);
        vg_free(ctx, s->json_b);
        vg_free(ctx, s);
        return vg_fail(ctx, VG_ENOMEM, "serve: out of memory");
    }
    s->ctx = ctx;
    s->job = job;
    s->run = *run;
    if (config_path)
        snprintf(s->config_path, sizeof(s->config_path), "%s", config_path);
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return 0;
}

void vg_serve_destroy(vg_serve **sp)
{
    vg_serve *s;
    if (!sp || !*sp)
        return;
    s = *sp;
    for (int i = 0; i < VG_CAMERAS_MAX; i++) {
        serve_camera *c = &s->cam[i];
        if (!c->used)
            continue;
        release_camera(s, c);
    }
    while (s->retired) {
        retired *r = s->retired;
        s->retired = r->next;
        free_cfg(s->ctx, r->cfg);
        vg_free(s->ctx, r);
    }
    free_cfg(s->ctx, s->defaults);
    pthread_mutex_destroy(&s->lock);
    vg_free(s->ctx, s->json_a);
    vg_free(s->ctx, s->json_b);
    vg_free(s->ctx, s);
    *sp = NULL;
}

vg_job *vg_serve_job(vg_serve *s)
{
    return s ? s->job : NULL;
}

static serve_camera *find(vg_serve *s, const char *name)
{
    for (int i = 0; i < VG_CAMERAS_MAX; i++)
        if (s->cam[i].used && !strcmp(s->cam[i].name, name))
            return &s->cam[i];
    return NULL;
}

static serve_camera *free_slot(vg_serve *s)
{
    for (int i = 0; i < VG_CAMERAS_MAX; i++)
        if (!s->cam[i].used)
            return &s->cam[i];
    return NULL;
}

/* JSON of cfg into buf ("" for none); 0 or a negative code. */
static int rules_json(const vg_rules_config *cfg, char *buf, size_t cap)
{
    int n;
    if (cfg == NULL) {
        n = snprintf(buf, cap, "{\"zones\":[],\"rules\":[]}");
        return n;
    }
    return vg_rules_config_to_json(cfg, buf, cap);
}

static int same_rules(vg_serve *s, const vg_rules_config *a,
                      const vg_rules_config *b)
{
    int na = rules_json(a, s->json_a, RULES_JSON_CAP);
    int nb = rules_json(b, s->json_b, RULES_JSON_CAP);
    if (na < 0 || nb < 0)
        return 0;
    return na == nb && !memcmp(s->json_a, s->json_b, (size_t)na);
}

/* Adds c (filled) to the job; under the lock. */
static int add_to_job(vg_serve *s, serve_camera *c, char *msg, size_t cap)
{
    vg_job_stream_opts so;
    vg_run_opts run = s->run;
    int rc;
    memset(&so, 0, sizeof(so));
    if (c->detect_fps > -2)
        run.detect_fps = c->detect_fps;
    if (c->motion_enabled >= 0)
        run.motion_enabled = c->motion_enabled;
    if (c->reid_enabled >= 0)
        run.reid_enabled = c->reid_enabled;
    so.loop = c->loop;
    so.input = c->input;
    so.name = c->name;
    so.rules = c->rules;
    so.run = &run;
    rc = vg_job_add_stream(s->job, &so, NULL);
    if (rc < 0 && msg)
        snprintf(msg, cap, "%s", vg_context_errmsg(s->ctx));
    if (rc < 0)
        vg_context_clear_error(s->ctx);
    return rc;
}

static int camera_changed(const serve_camera *c, const vg_camera_config *n)
{
    return strcmp(c->input, n->input) || c->loop != n->loop ||
           c->detect_fps != n->detect_fps ||
           c->motion_enabled != n->motion_enabled ||
           c->reid_enabled != n->reid_enabled;
}

/* vg_serve_apply under the lock. */
static int apply_locked(vg_serve *s, vg_cameras *cams)
{
    int first = 0;
    char msg[512];
    /* removed, or changed beyond its rules: removed (and added again) */
    for (int i = 0; i < VG_CAMERAS_MAX; i++) {
        serve_camera *c = &s->cam[i];
        const vg_camera_config *n = NULL;
        if (!c->used || !c->in_file)
            continue;
        for (int k = 0; k < cams->n; k++)
            if (!strcmp(cams->cam[k].name, c->name))
                n = &cams->cam[k];
        if (n != NULL && !camera_changed(c, n))
            continue;
        if (vg_job_remove_stream(s->job, c->name) < 0)
            vg_context_clear_error(s->ctx);
        vg_log(s->ctx, VG_LOG_INFO, "serve: camera %s removed", c->name);
        release_camera(s, c);
    }
    for (int k = 0; k < cams->n; k++) {
        vg_camera_config *n = &cams->cam[k];
        serve_camera *c = find(s, n->name);
        vg_rules_config *cfg = NULL;
        int rc;
        if (n->has_rules) {
            cfg = vg_calloc(s->ctx, 1, sizeof(*cfg));
            if (cfg == NULL) {
                if (!first)
                    first = VG_ENOMEM;
                continue;
            }
            *cfg = n->rules; /* taken over */
            vg_rules_config_init(&n->rules);
        } else {
            cfg = s->defaults;
        }
        if (c != NULL) {
            /* running: only its rules may differ */
            if (same_rules(s, c->rules, cfg)) {
                if (n->has_rules)
                    free_cfg(s->ctx, cfg);
                continue;
            }
            rc = cfg ? vg_job_set_rules(s->job, c->name, cfg) : 0;
            if (cfg == NULL) {
                vg_rules_config empty;
                vg_rules_config_init(&empty);
                rc = vg_job_set_rules(s->job, c->name, &empty);
            }
            if (rc < 0) {
                vg_log(s->ctx, VG_LOG_WARN, "serve: camera %s: rules: %s",
                       c->name, vg_context_errmsg(s->ctx));
                vg_context_clear_error(s->ctx);
                if (n->has_rules)
                    free_cfg(s->ctx, cfg);
                if (!first)
                    first = rc;
                continue;
            }
            replace_rules(s, c, cfg, n->has_rules);
            vg_log(s->ctx, VG_LOG_INFO, "serve: camera %s: rules replaced",
                   c->name);
            continue;
        }
        c = free_slot(s);
        if (c == NULL) {
            if (n->has_rules)
                free_cfg(s->ctx, cfg);
            if (!first)
                first = VG_ERANGE;
            continue;
        }
        memset(c, 0, sizeof(*c));
        snprintf(c->name, sizeof(c->name), "%s", n->name);
        snprintf(c->input, sizeof(c->input), "%s", n->input);
        c->loop = n->loop;
        c->detect_fps = n->detect_fps;
        c->motion_enabled = n->motion_enabled;
        c->reid_enabled = n->reid_enabled;
        c->in_file = 1;
        c->rules = c->given = cfg;
        c->rules_own = c->given_own = n->has_rules;
        rc = add_to_job(s, c, msg, sizeof(msg));
        if (rc < 0) {
            vg_log(s->ctx, VG_LOG_WARN, "serve: camera %s: %s", n->name, msg);
            if (n->has_rules)
                free_cfg(s->ctx, cfg);
            memset(c, 0, sizeof(*c));
            if (!first)
                first = rc;
            continue;
        }
        c->used = 1;
    }
    vg_cameras_free(s->ctx, cams);
    return first;
}

int vg_serve_apply(vg_serve *s, vg_cameras *cams)
{
    int rc;
    if (!s || !cams)
        return VG_EINVAL;
    pthread_mutex_lock(&s->lock);
    rc = apply_locked(s, cams);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int vg_serve_reload(vg_serve *s, char *msg, size_t cap)
{
    vg_cameras cams;
    vg_rules_config *defaults;
    int rc;
    if (msg && cap)
        msg[0] = '\0';
    if (!s || !s->config_path[0])
        return VG_EINVAL;
    memset(&cams, 0, sizeof(cams));
    /* one lock for the whole reload: the context's message is ours */
    pthread_mutex_lock(&s->lock);
    defaults = vg_calloc(s->ctx, 1, sizeof(*defaults));
    if (defaults == NULL) {
        rc = VG_ENOMEM;
        if (msg)
            snprintf(msg, cap, "%s: out of memory", s->config_path);
        goto out;
    }
    vg_rules_config_init(defaults);
    rc = vg_cameras_load(s->ctx, s->config_path, &cams);
    if (rc == 0)
        rc = vg_rules_load(s->ctx, s->config_path, defaults);
    if (rc == 0)
        rc = vg_rules_config_check(s->ctx, defaults, 0, 0);
    for (int i = 0; rc == 0 && i < cams.n; i++)
        if (cams.cam[i].has_rules)
            rc = vg_rules_config_check(s->ctx, &cams.cam[i].rules, 0, 0);
    if (rc < 0) {
        if (msg)
            snprintf(msg, cap, "%s", vg_context_errmsg(s->ctx));
        vg_context_clear_error(s->ctx);
        vg_cameras_free(s->ctx, &cams);
        free_cfg(s->ctx, defaults);
        goto out;
    }
    if (defaults->n_zones == 0 && defaults->n_rules == 0) {
        free_cfg(s->ctx, defaults);
        defaults = NULL;
    }
    retire(s, s->defaults);
    s->defaults = defaults;
    rc = apply_locked(s, &cams);
    if (rc < 0 && msg)
        snprintf(msg, cap, "some cameras were not applied (logged)");
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int vg_serve_add_camera(vg_serve *s, const char *name, const char *input,
                        int loop, char *msg, size_t cap)
{
    serve_camera *c;
    int rc;
    if (!s || !name || !input)
        return VG_EINVAL;
    if (!vg_camera_name_valid(name)) {
        snprintf(msg, cap, "name: '%.64s' is not [A-Za-z0-9_-]{1,63}", name);
        return VG_EINVAL;
    }
    if (!input[0] || strlen(input) >= VG_PATH_MAX) {
        snprintf(msg, cap, "input: empty or too long");
        return VG_EINVAL;
    }
    pthread_mutex_lock(&s->lock);
    if (find(s, name) != NULL) {
        pthread_mutex_unlock(&s->lock);
        snprintf(msg, cap, "name: camera '%s' exists", name);
        return VG_EEXIST;
    }
    c = free_slot(s);
    if (c == NULL) {
        pthread_mutex_unlock(&s->lock);
        snprintf(msg, cap, "at most %d cameras", VG_CAMERAS_MAX);
        return VG_ERANGE;
    }
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->input, sizeof(c->input), "%s", input);
    c->loop = loop;
    c->detect_fps = -2;
    c->motion_enabled = -1;
    c->reid_enabled = -1;
    c->rules = c->given = s->defaults;
    rc = add_to_job(s, c, msg, cap);
    if (rc < 0)
        memset(c, 0, sizeof(*c));
    else
        c->used = 1;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int vg_serve_remove_camera(vg_serve *s, const char *name)
{
    serve_camera *c;
    int rc;
    if (!s || !name)
        return VG_EINVAL;
    pthread_mutex_lock(&s->lock);
    c = find(s, name);
    if (c == NULL) {
        pthread_mutex_unlock(&s->lock);
        return VG_ENOENT;
    }
    rc = vg_job_remove_stream(s->job, name);
    vg_context_clear_error(s->ctx);
    /* ENOENT: it had ended and was removed already; the table follows */
    release_camera(s, c);
    pthread_mutex_unlock(&s->lock);
    return rc == VG_ENOENT ? 0 : rc;
}

int vg_serve_rules_json(vg_serve *s, const char *camera, char *buf, size_t cap)
{
    serve_camera *c;
    int n;
    if (!s || !camera || !buf)
        return VG_EINVAL;
    pthread_mutex_lock(&s->lock);
    c = find(s, camera);
    n = c ? rules_json(c->rules, buf, cap) : VG_ENOENT;
    pthread_mutex_unlock(&s->lock);
    if (n >= 0 && (size_t)n >= cap)
        return VG_ERANGE;
    return n;
}

int vg_serve_put_rules(vg_serve *s, const char *camera, const char *body,
                       size_t len, char *msg, size_t cap)
{
    serve_camera *c;
    vg_rules_config *cfg = NULL;
    int rc;
    if (!s || !camera || !body)
        return VG_EINVAL;
    msg[0] = '\0';
    pthread_mutex_lock(&s->lock);
    c = find(s, camera);
    if (c == NULL) {
        snprintf(msg, cap, "no camera '%s'", camera);
        rc = VG_ENOENT;
        goto out;
    }
    cfg = vg_calloc(s->ctx, 1, sizeof(*cfg));
    if (cfg == NULL) {
        rc = VG_ENOMEM;
        snprintf(msg, cap, "out of memory");
        goto out;
    }
    vg_rules_config_init(cfg);
    rc = vg_rules_parse_text(s->ctx, camera, body, len, cfg);
    if (rc == 0)
        rc = vg_rules_config_check(s->ctx, cfg, 0, 0);
    if (rc == 0)
        rc = vg_job_set_rules(s->job, camera, cfg);
    if (rc < 0) {
        snprintf(msg, cap, "%s", vg_context_errmsg(s->ctx));
        vg_context_clear_error(s->ctx);
        if (rc != VG_ENOMEM && rc != VG_ENOENT)
            rc = VG_ECONFIG;
        goto out;
    }
    if (c->in_file && s->config_path[0]) {
        rc = vg_config_save_camera_rules(s->ctx, s->config_path, camera, cfg);
        if (rc < 0) {
            /* put the running rules back: nothing changed */
            snprintf(msg, cap, "%s", vg_context_errmsg(s->ctx));
            vg_context_clear_error(s->ctx);
            if (c->rules) {
                vg_job_set_rules(s->job, camera, c->rules);
            } else {
                vg_rules_config empty;
                vg_rules_config_init(&empty);
                vg_job_set_rules(s->job, camera, &empty);
            }
            vg_context_clear_error(s->ctx);
            if (rc != VG_ENOMEM)
                rc = VG_EIO;
            goto out;
        }
    }
    replace_rules(s, c, cfg, 1);
    cfg = NULL;
    rc = c->in_file && s->config_path[0] ? 1 : 0;
out:
    pthread_mutex_unlock(&s->lock);
    free_cfg(s->ctx, cfg);
    return rc;
}
