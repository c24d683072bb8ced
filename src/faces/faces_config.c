/* The `faces:` section of a config file (include/vigil/faces.h). Kept
 * self-contained: one function per key kind, in the style of the job
 * loader (src/pipeline/job_config.c). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "core/yaml_doc.h"
#include "vigil/config.h"
#include "vigil/faces.h"
#include "vigil/session.h"

void vg_faces_config_default(vg_faces_config *c)
{
    memset(c, 0, sizeof(*c));
    c->out_width = 1280;
    c->out_height = 720;
    c->alpha = 0.25f;
    c->zoom = 2.6f;
    c->hold_s = 3.0;
    c->empty = VG_FACES_EMPTY_GREY;
    c->release_s = 5.0;
    c->min_relative_size = 0.6f;
    c->min_frames = 3;
    c->face_score = 0.7f;
    snprintf(c->encoder, sizeof(c->encoder), "libx264");
    c->crf = 23;
    snprintf(c->preset, sizeof(c->preset), "superfast");
    c->reid = 1;
    vg_cache_path("models", c->detector_model, sizeof(c->detector_model));
    snprintf(c->embedder_model, sizeof(c->embedder_model), "%s",
             c->detector_model);
    strncat(c->detector_model, "/blazeface.onnx",
            sizeof(c->detector_model) - strlen(c->detector_model) - 1);
    strncat(c->embedder_model, "/mobilefacenet.onnx",
            sizeof(c->embedder_model) - strlen(c->embedder_model) - 1);
}

void vg_faces_model_decl(const vg_faces_config *c, int kind, vg_model_decl *d)
{
    int emb = kind == VG_MODEL_FACE_EMBEDDER;
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s",
             emb ? "face_embedder" : "face_detector");
    snprintf(d->path, sizeof(d->path), "%s",
             emb ? c->embedder_model : c->detector_model);
    d->kind = emb ? VG_MODEL_FACE_EMBEDDER : VG_MODEL_FACE_DETECTOR;
    d->batch = 1;
    vg_session_opts_default(&d->session);
    d->session.intra_threads = c->threads;
    /* sleep, not spin, between operators: the cores go to decoding and the
     * encoder thread (as vigil run does) */
    d->session.spin = 0;
}

/* Why a side is refused, or NULL. */
static const char *bad_side(long v)
{
    if (v <= 0)
        return "must be positive";
    if (v % 2 != 0)
        return "must be even (H.264 4:2:0 halves it)";
    if (v < 64)
        return "is below 64";
    if (v > VG_FACES_MAX_SIDE)
        return "is above "
               "4096";
    return NULL;
}

int vg_faces_config_check(vg_context *ctx, const vg_faces_config *c)
{
    const char *why;
    if ((why = bad_side(c->out_width)) != NULL)
        return vg_fail(ctx, VG_EINVAL, "faces: out_width %d %s", c->out_width,
                       why);
    if ((why = bad_side(c->out_height)) != NULL)
        return vg_fail(ctx, VG_EINVAL, "faces: out_height %d %s", c->out_height,
                       why);
    if (!(c->alpha > 0.0f && c->alpha <= 1.0f))
        return vg_fail(ctx, VG_EINVAL, "faces: alpha %g is outside (0, 1]",
                       (double)c->alpha);
    if (!(c->zoom >= 1.0f && c->zoom <= 20.0f))
        return vg_fail(ctx, VG_EINVAL, "faces: zoom %g is outside [1, 20]",
                       (double)c->zoom);
    if (!(c->hold_s >= 0.0) || !(c->release_s >= 0.0) || c->min_frames < 1)
        return vg_fail(ctx, VG_EINVAL,
                       "faces: hold_s and release_s must be >= 0, "
                       "min_frames >= 1");
    if (c->crf < 0 || c->crf > 51)
        return vg_fail(ctx, VG_EINVAL, "faces: crf %d is outside 0..51",
                       c->crf);
    if (c->encoder[0] == '\0')
        return vg_fail(ctx, VG_EINVAL, "faces: encoder is empty");
    return 0;
}

typedef struct floader {
    vg_context *ctx;
    const char *path;
    yaml_document_t *doc;
    vg_faces_config *c;
} floader;

static int at(floader *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int at(floader *l, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vgi_yaml_failv(l->ctx, l->path, n, fmt, ap);
    va_end(ap);
    return rc;
}

static int get_side(floader *l, const yaml_node_t *v, const char *key, int *out)
{
    long x;
    const char *why;
    int rc = vgi_yaml_get_long(l->ctx, l->path, v, key, -1000000000L,
                               1000000000L, &x);
    if (rc < 0)
        return rc;
    if ((why = bad_side(x)) != NULL)
        return at(l, v, "'%s' %ld %s (expected an even size, 64..%d)", key, x,
                  why, VG_FACES_MAX_SIDE);
    *out = (int)x;
    return 0;
}

static int get_string(floader *l, const yaml_node_t *v, const char *key,
                      char *out, size_t size)
{
    const char *s = vgi_yaml_scalar(v);
    if (s == NULL || s[0] == '\0' || strlen(s) >= size)
        return at(l, v, "'%s' expects a name of 1..%zu characters", key,
                  size - 1);
    snprintf(out, size, "%s", s);
    return 0;
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* A model file: as given, beside the config, in the model cache. */
static int get_model(floader *l, const yaml_node_t *v, const char *key,
                     char *out, size_t size)
{
    char beside[VG_PATH_MAX], cache[VG_PATH_MAX];
    const char *s = vgi_yaml_scalar(v);
    if (s == NULL || s[0] == '\0')
        return at(l, v, "'%s' expects a model file name", key);
    vgi_path_beside(l->path, s, beside, sizeof(beside));
    vg_cache_path("models", cache, sizeof(cache));
    if (strlen(cache) + 1 + strlen(s) < sizeof(cache)) {
        strcat(cache, "/");
        strcat(cache, s);
    }
    if (s[0] == '/' && file_exists(s))
        snprintf(out, size, "%s", s);
    else if (file_exists(beside))
        snprintf(out, size, "%s", beside);
    else if (file_exists(cache))
        snprintf(out, size, "%s", cache);
    else
        return at(l, v,
                  "'%s': model file '%.200s' not found (looked beside the "
                  "config and in the model cache)",
                  key, s);
    return 0;
}

static int load_section(floader *l, yaml_node_t *map)
{
    vg_faces_config *c = l->c;
    int rc = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        long x;
        double d;
        if (key == NULL) {
            rc = at(l, k, "expected a key in 'faces'");
        } else if (!strcmp(key, "out_width")) {
            rc = get_side(l, v, key, &c->out_width);
        } else if (!strcmp(key, "out_height")) {
            rc = get_side(l, v, key, &c->out_height);
        } else if (!strcmp(key, "alpha")) {
            rc = vgi_yaml_get_double(l->ctx, l->path, v, key, -1e9, 1e9, &d);
            if (rc == 0 && !(d > 0.0 && d <= 1.0))
                rc = at(l, v,
                        "'alpha' %g is outside (0, 1] (the weight of the "
                        "new crop box in its moving average)",
                        d);
            if (rc == 0)
                c->alpha = (float)d;
        } else if (!strcmp(key, "zoom")) {
            rc = vgi_yaml_get_double(l->ctx, l->path, v, key, 1.0, 20.0, &d);
            if (rc == 0)
                c->zoom = (float)d;
        } else if (!strcmp(key, "hold_s")) {
            rc = vgi_yaml_get_double(l->ctx, l->path, v, key, 0.0, 3600.0,
                                     &c->hold_s);
        } else if (!strcmp(key, "release_s")) {
            rc = vgi_yaml_get_double(l->ctx, l->path, v, key, 0.0, 3600.0,
                                     &c->release_s);
        } else if (!strcmp(key, "min_relative_size")) {
            rc = vgi_yaml_get_double(l->ctx, l->path, v, key, 0.0, 1.0, &d);
            if (rc == 0)
                c->min_relative_size = (float)d;
        } else if (!strcmp(key, "min_frames")) {
            rc = vgi_yaml_get_long(l->ctx, l->path, v, key, 1, 1000, &x);
            if (rc == 0)
                c->min_frames = (int)x;
        } else if (!strcmp(key, "face_score")) {
            rc = vgi_yaml_get_double(l->ctx, l->path, v, key, 0.0, 1.0, &d);
            if (rc == 0)
                c->face_score = (float)d;
        } else if (!strcmp(key, "empty")) {
            const char *s = vgi_yaml_scalar(v);
            if (s && !strcmp(s, "grey"))
                c->empty = VG_FACES_EMPTY_GREY;
            else if (s && !strcmp(s, "black"))
                c->empty = VG_FACES_EMPTY_BLACK;
            else
                rc = at(l, v, "'empty' expects grey or black, got '%.64s'",
                        s ? s : "(not a scalar)");
        } else if (!strcmp(key, "encoder")) {
            rc = get_string(l, v, key, c->encoder, sizeof(c->encoder));
        } else if (!strcmp(key, "preset")) {
            rc = get_string(l, v, key, c->preset, sizeof(c->preset));
        } else if (!strcmp(key, "crf")) {
            rc = vgi_yaml_get_long(l->ctx, l->path, v, key, 0, 51, &x);
            if (rc == 0)
                c->crf = (int)x;
        } else if (!strcmp(key, "reid")) {
            const char *s = vgi_yaml_scalar(v);
            if (s && (!strcmp(s, "true") || !strcmp(s, "on")))
                c->reid = 1;
            else if (s && (!strcmp(s, "false") || !strcmp(s, "off")))
                c->reid = 0;
            else
                rc = at(l, v, "'reid' expects true or false, got '%.64s'",
                        s ? s : "(not a scalar)");
        } else if (!strcmp(key, "max_frames")) {
            rc = vgi_yaml_get_long(l->ctx, l->path, v, key, 0, 1000000000L, &x);
            if (rc == 0)
                c->max_frames = x;
        } else if (!strcmp(key, "threads")) {
            rc = vgi_yaml_get_long(l->ctx, l->path, v, key, 0, 256, &x);
            if (rc == 0)
                c->threads = (int)x;
        } else if (!strcmp(key, "detector_model")) {
            rc = get_model(l, v, key, c->detector_model,
                           sizeof(c->detector_model));
        } else if (!strcmp(key, "embedder_model")) {
            rc = get_model(l, v, key, c->embedder_model,
                           sizeof(c->embedder_model));
        } else {
            rc = at(l, k,
                    "unknown key '%.64s' in 'faces' (expected out_width, "
                    "out_height, alpha, zoom, hold_s, release_s, min_frames, "
                    "min_relative_size, "
                    "face_score, empty, encoder, preset, crf, reid, "
                    "max_frames, threads, detector_model, embedder_model)",
                    key);
        }
    }
    return rc;
}

int vg_faces_config_load(vg_context *ctx, const char *path, vg_faces_config *c)
{
    yaml_document_t doc;
    yaml_node_t *root;
    floader l;
    int rc;

    rc = vgi_yaml_load(ctx, path, &doc);
    if (rc < 0)
        return rc;
    l.ctx = ctx;
    l.path = path;
    l.doc = &doc;
    l.c = c;
    root = yaml_document_get_root_node(&doc);
    if (root != NULL && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
             rc == 0 && p < root->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&doc, p->value);
            const char *key = vgi_yaml_scalar(k);
            if (key == NULL || strcmp(key, "faces") != 0)
                continue;
            if (v->type != YAML_MAPPING_NODE)
                rc = at(&l, v, "section 'faces' expects a mapping");
            else
                rc = load_section(&l, v);
        }
    }
    yaml_document_delete(&doc);
    return rc;
}
