/* The `faces:` section of a config file (include/vigil/faces.h): every key
 * declared once in a vg_option table (include/vigil/schema.h), read through
 * vg_option_parse like the settings and the staged job's keys; what a row's
 * range cannot say (even sizes, alpha in (0, 1]) is checked by one function
 * the loader (at the value) and vg_faces_config_check share. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "core/yaml_doc.h"
#include "vigil/config.h"
#include "vigil/faces.h"
#include "vigil/schema.h"
#include "vigil/session.h"

static const char *const empty_names[] = {"grey", "black", NULL};

/* The faces: keys (defaults of vg_faces_config_default). */
static const vg_option faces_schema[] = {
    VG_OPT_ROW(vg_faces_config, "faces", "out_width", VG_OPT_INT, VG_STORE_INT,
               out_width, .min = -1e9, .max = 1e9, .def_num = 1280,
               .expect = "a multiple of 4, 64 .. 4096",
               .help = "width of the composed split-screen frame, pixels"),
    VG_OPT_ROW(vg_faces_config, "faces", "out_height", VG_OPT_INT, VG_STORE_INT,
               out_height, .min = -1e9, .max = 1e9, .def_num = 720,
               .expect = "an even size, 64 .. 4096",
               .help = "height of the composed split-screen frame, pixels"),
    VG_OPT_ROW(vg_faces_config, "faces", "alpha", VG_OPT_DOUBLE, VG_STORE_FLOAT,
               alpha, .max = 1, .def_num = 0.25, .expect = "a number in (0, 1]",
               .help = "weight of the new crop box in its moving average"),
    VG_OPT_ROW(vg_faces_config, "faces", "zoom", VG_OPT_DOUBLE, VG_STORE_FLOAT,
               zoom, .min = 1, .max = 20, .def_num = 2.6,
               .help = "crop height / face height"),
    VG_OPT_ROW(vg_faces_config, "faces", "hold_s", VG_OPT_DOUBLE,
               VG_STORE_DOUBLE, hold_s, .max = 3600, .def_num = 3,
               .help = "a slot with no face shows its last crop this long, "
                       "seconds"),
    VG_OPT_ROW(vg_faces_config, "faces", "empty", VG_OPT_ENUM, VG_STORE_INT,
               empty, .def_num = VG_FACES_EMPTY_GREY, .names = empty_names,
               .help = "what a slot shows after hold_s"),
    VG_OPT_ROW(vg_faces_config, "faces", "release_s", VG_OPT_DOUBLE,
               VG_STORE_DOUBLE, release_s, .max = 3600, .def_num = 5,
               .help = "a slot's person unseen this long frees it, seconds"),
    VG_OPT_ROW(vg_faces_config, "faces", "min_relative_size", VG_OPT_DOUBLE,
               VG_STORE_FLOAT, min_relative_size, .max = 1, .def_num = 0.6,
               .help = "a face smaller than this share of the largest gets "
                       "no slot"),
    VG_OPT_ROW(vg_faces_config, "faces", "min_frames", VG_OPT_INT, VG_STORE_INT,
               min_frames, .min = 1, .max = 1000, .def_num = 3,
               .help = "frames a face is seen before it gets a slot"),
    VG_OPT_ROW(vg_faces_config, "faces", "face_score", VG_OPT_DOUBLE,
               VG_STORE_FLOAT, face_score, .max = 1, .def_num = 0.7,
               .help = "minimum face detection score"),
    VG_OPT_ROW(vg_faces_config, "faces", "encoder", VG_OPT_STRING,
               VG_STORE_CHARS, encoder, .def_str = "libx264",
               .help = "libavcodec H.264 encoder (libx264, h264_nvenc)"),
    VG_OPT_ROW(vg_faces_config, "faces", "crf", VG_OPT_INT, VG_STORE_INT, crf,
               .max = 51, .def_num = 23,
               .help = "constant rate factor (lower: better, larger)"),
    VG_OPT_ROW(vg_faces_config, "faces", "preset", VG_OPT_STRING,
               VG_STORE_CHARS, preset, .def_str = "superfast",
               .help = "x264 preset"),
    VG_OPT_ROW(vg_faces_config, "faces", "reid", VG_OPT_BOOL, VG_STORE_INT,
               reid, .max = 1, .def_num = 1,
               .help = "re-identify a returning face with the embedder"),
    VG_OPT_ROW(vg_faces_config, "faces", "max_frames", VG_OPT_INT,
               VG_STORE_INT64, max_frames, .max = 1000000000,
               .help = "frames read (0: the whole input)"),
    VG_OPT_ROW(vg_faces_config, "faces", "threads", VG_OPT_INT, VG_STORE_INT,
               threads, .max = 256,
               .help = "inference threads (0: the runtime's choice)"),
    VG_OPT_ROW(vg_faces_config, "faces", "detector_model", VG_OPT_STRING,
               VG_STORE_CHARS, detector_model, .def_str = "blazeface.onnx",
               .def_doc = "$VIGIL_CACHE/models/blazeface.onnx",
               .flags = VG_OPTF_PATH | VG_OPTF_MODEL,
               .help = "face detector (ONNX): as given, beside the config or "
                       "in the model cache"),
    VG_OPT_ROW(vg_faces_config, "faces", "embedder_model", VG_OPT_STRING,
               VG_STORE_CHARS, embedder_model, .def_str = "mobilefacenet.onnx",
               .def_doc = "$VIGIL_CACHE/models/mobilefacenet.onnx",
               .flags = VG_OPTF_PATH | VG_OPTF_MODEL,
               .help = "face embedder (ONNX): as given, beside the config or "
                       "in the model cache"),
};

#define N_FACES_KEYS (int)(sizeof(faces_schema) / sizeof(faces_schema[0]))

const vg_option *vg_faces_schema(int *n)
{
    if (n)
        *n = N_FACES_KEYS;
    return faces_schema;
}

void vg_faces_config_default(vg_faces_config *c)
{
    memset(c, 0, sizeof(*c));
    vg_options_defaults(faces_schema, N_FACES_KEYS, c);
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

/* Why a side is refused, or NULL. The width holds two slots, each of an
 * even width (4:2:0 halves it): a multiple of 4. */
static const char *bad_side(long v, int width)
{
    if (v <= 0)
        return "must be positive";
    if (v % 2 != 0)
        return "must be even (H.264 4:2:0 halves it)";
    if (width && v % 4 != 0)
        return "must be a multiple of 4 (two slots of even width, as "
               "4:2:0 halves them)";
    if (v < 64)
        return "is below 64";
    if (v > VG_FACES_MAX_SIDE)
        return "is above "
               "4096";
    return NULL;
}

/* What the row of key cannot say about its value in c (a side is even,
 * the width a multiple of 4, 64..4096; alpha is in (0, 1]) as "641 must be even
 * ..." in buf, or NULL when the value is fine. */
static const char *value_problem(const vg_faces_config *c, const char *key,
                                 char *buf, size_t cap)
{
    const char *why;
    if (!strcmp(key, "out_width") || !strcmp(key, "out_height")) {
        int width = !strcmp(key, "out_width");
        int v = width ? c->out_width : c->out_height;
        if ((why = bad_side(v, width)) == NULL)
            return NULL;
        snprintf(buf, cap, "%d %s", v, why);
        return buf;
    }
    if (!strcmp(key, "alpha") && !(c->alpha > 0.0f && c->alpha <= 1.0f)) {
        snprintf(buf, cap,
                 "%g is outside (0, 1] (the weight of the new crop box in "
                 "its moving average)",
                 (double)c->alpha);
        return buf;
    }
    return NULL;
}

int vg_faces_config_check(vg_context *ctx, const vg_faces_config *c)
{
    vg_faces_config scratch;
    char text[VG_PATH_MAX + 16], why[384];

    for (int i = 0; i < N_FACES_KEYS; i++) {
        const vg_option *o = &faces_schema[i];
        if (value_problem(c, o->key, why, sizeof(why)) != NULL)
            return vg_fail(ctx, VG_EINVAL, "faces: %s %s", o->key, why);
    }
    /* every value as the loader would read it: in its row's range */
    for (int i = 0; i < N_FACES_KEYS; i++) {
        const vg_option *o = &faces_schema[i];
        if (vg_option_format(o, c, text, sizeof(text)) < 0 ||
            vg_option_parse(o, text, &scratch, why, sizeof(why)) < 0)
            return vg_fail(ctx, VG_EINVAL, "faces: %s", why);
    }
    return 0;
}

typedef struct floader {
    vg_context *ctx;
    const char *path;
    yaml_document_t *doc;
    vg_faces_config *c;
} floader;

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The model file s of row o (node v): as given when absolute, beside the
 * config, in the model cache; stored into l->c. */
static int resolve_model(floader *l, const vg_option *o, const yaml_node_t *v,
                         const char *s)
{
    char beside[VG_PATH_MAX], cache[VG_PATH_MAX];
    char *out = (char *)l->c + o->offset;
    vgi_path_beside(l->path, s, beside, sizeof(beside));
    vg_cache_path("models", cache, sizeof(cache));
    if (strlen(cache) + 1 + strlen(s) < sizeof(cache)) {
        strcat(cache, "/");
        strcat(cache, s);
    }
    if (s[0] == '/' && file_exists(s))
        snprintf(out, o->size, "%s", s);
    else if (file_exists(beside))
        snprintf(out, o->size, "%s", beside);
    else if (file_exists(cache))
        snprintf(out, o->size, "%s", cache);
    else
        return VGI_YAML_AT(
            l, v,
            "'%s': model file '%.200s' not found (looked beside the "
            "config and in the model cache)",
            o->key, s);
    return 0;
}

/* One key through its row: parsed, then checked beyond the row's range. */
static int load_key(floader *l, const vg_option *o, const yaml_node_t *v)
{
    char why[384];
    if (o->flags & VG_OPTF_PATH) {
        char tmp[VG_PATH_MAX];
        const vg_option t = {.key = o->key,
                             .type = VG_OPT_STRING,
                             .store = VG_STORE_CHARS,
                             .size = sizeof(tmp)};
        if (vg_option_parse(&t, vgi_yaml_scalar(v), tmp, why, sizeof(why)) < 0)
            return VGI_YAML_AT(l, v, "%s", why);
        return resolve_model(l, o, v, tmp);
    }
    if (vg_option_parse(o, vgi_yaml_scalar(v), l->c, why, sizeof(why)) < 0)
        return VGI_YAML_AT(l, v, "%s", why);
    if (value_problem(l->c, o->key, why, sizeof(why)) != NULL)
        return VGI_YAML_AT(l, v, "'%s' %s", o->key, why);
    return 0;
}

static int load_section(floader *l, yaml_node_t *map)
{
    int rc = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        const vg_option *o =
            key ? vg_schema_find(faces_schema, N_FACES_KEYS, "faces", key)
                : NULL;
        if (key == NULL) {
            rc = VGI_YAML_AT(l, k, "expected a key in 'faces'");
        } else if (o) {
            rc = load_key(l, o, v);
        } else {
            char keys[512];
            const char *near =
                vg_schema_suggest_key(faces_schema, N_FACES_KEYS, "faces", key);
            vg_schema_key_list(faces_schema, N_FACES_KEYS, "faces", keys,
                               sizeof(keys));
            rc = VGI_YAML_AT(
                l, k, "unknown key '%.64s' in 'faces' (expected %s)%s%s%s", key,
                keys, near ? "; did you mean '" : "", near ? near : "",
                near ? "'?" : "");
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
                rc = VGI_YAML_AT(&l, v, "section 'faces' expects a mapping");
            else
                rc = load_section(&l, v);
        }
    }
    yaml_document_delete(&doc);
    return rc;
}
