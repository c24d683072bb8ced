/* vg_job_config: the job, inputs, memory, models and staged sections of a
 * config file (libyaml document API). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "core/yaml_doc.h"
#include "vigil/job.h"
#include "vigil/parse.h"
#include "vigil/schema.h"

typedef struct jloader {
    vg_context *ctx;
    const char *path;
    yaml_document_t *doc;
    vg_job_config *c;
    const vg_settings *s;
} jloader;

static int get_long(jloader *l, const yaml_node_t *n, const char *key, long lo,
                    long hi, long *out)
{
    return vgi_yaml_get_long(l->ctx, l->path, n, key, lo, hi, out);
}

static int get_double(jloader *l, const yaml_node_t *n, const char *key,
                      double lo, double hi, double *out)
{
    return vgi_yaml_get_double(l->ctx, l->path, n, key, lo, hi, out);
}

static int get_bytes(jloader *l, const yaml_node_t *n, const char *key,
                     uint64_t *out)
{
    const char *v = vgi_yaml_scalar(n);
    if (v != NULL && vg_parse_size(v, 0, (uint64_t)INT64_MAX, out) == 0)
        return 0;
    return VGI_YAML_AT(
        l, n,
        "'%s' expects a size such as 512MiB, 2GiB or a byte count, got "
        "'%.64s'",
        key, v ? v : "(not a scalar)");
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Resolves a relative file name: the cache folder first, then beside the
 * config. Absolute names stay. Returns 0 or -1 (not found; out holds the
 * name beside the config). */
static int resolve(const char *config_path, const char *cache_dir,
                   const char *name, char *out, size_t cap)
{
    if (name[0] == '/') {
        snprintf(out, cap, "%s", name);
        return file_exists(out) ? 0 : -1;
    }
    if (cache_dir != NULL) {
        snprintf(out, cap, "%s/%s", cache_dir, name);
        if (file_exists(out))
            return 0;
    }
    vgi_path_beside(config_path, name, out, cap);
    return file_exists(out) ? 0 : -1;
}

static int load_memory(jloader *l, yaml_node_t *map)
{
    vg_job_config *c = l->c;
    int rc = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        if (key == NULL) {
            rc = VGI_YAML_AT(l, k, "expected a key in 'memory'");
        } else if (!strcmp(key, "host")) {
            rc = get_bytes(l, v, key, &c->budget.host_bytes);
            c->budget_host_set = 1;
        } else if (!strcmp(key, "device")) {
            rc = get_bytes(l, v, key, &c->budget.device_bytes);
            c->budget_device_set = 1;
        } else if (!strcmp(key, "margin")) {
            rc = get_double(l, v, key, 0.0, 0.9, &c->budget.margin);
        } else if (!strcmp(key, "calibration")) {
            const char *s = vgi_yaml_scalar(v);
            if (s == NULL || s[0] == '\0')
                rc = VGI_YAML_AT(l, v, "'calibration' expects a file path");
            else
                snprintf(c->budget.calibration, sizeof(c->budget.calibration),
                         "%s", s);
        } else {
            rc = VGI_YAML_AT(
                l, k,
                "unknown key '%.64s' in 'memory' (expected host, device, "
                "margin, calibration)",
                key);
        }
    }
    return rc;
}

static int load_providers(jloader *l, yaml_node_t *v, vg_model_decl *d)
{
    const char *names[VG_MAX_PROVIDERS];
    int n = 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return VGI_YAML_AT(l, v,
                           "'providers' expects a list such as [cuda, cpu]");
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(l->doc, *it);
        const char *s = vgi_yaml_scalar(e);
        if (s == NULL || (strcmp(s, "cuda") && strcmp(s, "cpu")))
            return VGI_YAML_AT(
                l, e, "unknown provider '%.64s' (expected cuda or cpu)",
                s ? s : "(not a scalar)");
        if (n == VG_MAX_PROVIDERS)
            return VGI_YAML_AT(l, e, "at most %d providers", VG_MAX_PROVIDERS);
        names[n++] = s;
    }
    vg_model_decl_set_providers(d, names, n);
    return 0;
}

static int load_variants(jloader *l, yaml_node_t *v, vg_model_decl *d)
{
    char models_dir[VG_PATH_MAX];
    if (v->type != YAML_MAPPING_NODE)
        return VGI_YAML_AT(l, v,
                           "'variants' expects a mapping such as {fp16: FILE}");
    vg_default_model_dir(models_dir, sizeof(models_dir));
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *f = yaml_document_get_node(l->doc, p->value);
        const char *prec = vgi_yaml_scalar(k), *file = vgi_yaml_scalar(f);
        vg_model_variant *var;
        if (prec == NULL || (strcmp(prec, "fp32") && strcmp(prec, "fp16") &&
                             strcmp(prec, "int8")))
            return VGI_YAML_AT(
                l, k,
                "unknown precision '%.64s' (expected fp32, fp16, "
                "int8)",
                prec ? prec : "(not a scalar)");
        if (file == NULL || file[0] == '\0')
            return VGI_YAML_AT(l, f, "variant '%s' expects a model file", prec);
        if (d->n_variants == VG_MAX_VARIANTS)
            return VGI_YAML_AT(l, k, "at most %d variants", VG_MAX_VARIANTS);
        var = &d->variants[d->n_variants++];
        snprintf(var->precision, sizeof(var->precision), "%s", prec);
        /* A variant that is not there is listed by the planner as missing;
         * it is not an error, the job does not run it. */
        resolve(l->path, models_dir, file, var->path, sizeof(var->path));
    }
    return 0;
}

/* A declaration with the defaults and the session options of s (copied). */
static void decl_from_settings(vg_model_decl *d, const vg_settings *s)
{
    vg_session_opts so;
    vg_model_decl_default(d);
    vg_session_opts_from_settings(s, &so);
    d->session = so;
    vg_model_decl_set_providers(d, so.providers, so.n_providers);
}

static int load_model(jloader *l, yaml_node_t *map)
{
    vg_job_config *c = l->c;
    vg_model_decl d;
    char models_dir[VG_PATH_MAX];
    yaml_node_t *path_node = NULL;
    const char *file = NULL;
    int rc = 0;

    if (map->type != YAML_MAPPING_NODE)
        return VGI_YAML_AT(l, map,
                           "a model expects a mapping with name and path");
    if (c->n_models == VG_MAX_MODELS)
        return VGI_YAML_AT(l, map, "at most %d models", VG_MAX_MODELS);
    decl_from_settings(&d, l->s); /* the runtime section's options */
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k), *s = vgi_yaml_scalar(v);
        long x;
        if (key == NULL) {
            rc = VGI_YAML_AT(l, k, "expected a key in a model");
        } else if (!strcmp(key, "name")) {
            if (s == NULL || s[0] == '\0' || strlen(s) >= VG_MODEL_NAME_MAX)
                rc = VGI_YAML_AT(l, v,
                                 "'name' expects a name of 1..%d characters",
                                 VG_MODEL_NAME_MAX - 1);
            else
                snprintf(d.name, sizeof(d.name), "%s", s);
        } else if (!strcmp(key, "path")) {
            if (s == NULL || s[0] == '\0')
                rc = VGI_YAML_AT(l, v, "'path' expects a model file");
            file = s;
            path_node = v;
        } else if (!strcmp(key, "kind")) {
            d.kind = vg_model_kind_parse(s);
            if (d.kind < 0)
                rc = VGI_YAML_AT(l, v,
                                 "unknown kind '%.64s' (expected detector, "
                                 "face_detector, face_embedder, other)",
                                 s ? s : "(not a scalar)");
        } else if (!strcmp(key, "policy")) {
            d.policy = vg_model_policy_parse(s);
            if (d.policy < 0)
                rc = VGI_YAML_AT(
                    l, v,
                    "unknown policy '%.64s' (expected pinned, keep_alive, "
                    "unload_after_stage)",
                    s ? s : "(not a scalar)");
        } else if (!strcmp(key, "keep_alive")) {
            rc = get_double(l, v, key, 0.0, 1e9, &d.keep_alive_s);
        } else if (!strcmp(key, "stage")) {
            rc = get_long(l, v, key, 0, 15, &x);
            d.stage = (int)x;
        } else if (!strcmp(key, "batch")) {
            rc = get_long(l, v, key, 1, 1024, &x);
            d.batch = (int)x;
        } else if (!strcmp(key, "input")) {
            yaml_node_item_t *it;
            long wh[2];
            if (v->type != YAML_SEQUENCE_NODE ||
                v->data.sequence.items.top - v->data.sequence.items.start != 2)
                rc = VGI_YAML_AT(l, v, "'input' expects [width, height]");
            for (int i = 0; rc == 0 && i < 2; i++) {
                it = v->data.sequence.items.start + i;
                rc = get_long(l, yaml_document_get_node(l->doc, *it), "input",
                              16, 8192, &wh[i]);
            }
            if (rc == 0) {
                d.input_w = (int)wh[0];
                d.input_h = (int)wh[1];
            }
        } else if (!strcmp(key, "providers")) {
            rc = load_providers(l, v, &d);
        } else if (!strcmp(key, "variants")) {
            rc = load_variants(l, v, &d);
        } else if (!strcmp(key, "threads")) {
            rc = get_long(l, v, key, 0, 256, &x);
            d.session.intra_threads = (int)x;
        } else {
            rc = VGI_YAML_AT(
                l, k,
                "unknown key '%.64s' in a model (expected name, kind, "
                "path, policy, keep_alive, stage, batch, input, "
                "providers, variants, threads)",
                key);
        }
    }
    if (rc < 0)
        return rc;
    if (d.name[0] == '\0')
        return VGI_YAML_AT(l, map, "a model needs a 'name'");
    if (file == NULL)
        return VGI_YAML_AT(l, map, "model '%s' needs a 'path'", d.name);
    for (int i = 0; i < c->n_models; i++)
        if (!strcmp(c->models[i].name, d.name))
            return VGI_YAML_AT(l, map, "model name '%s' is used twice", d.name);
    vg_default_model_dir(models_dir, sizeof(models_dir));
    if (resolve(l->path, models_dir, file, d.path, sizeof(d.path)) < 0)
        return VGI_YAML_AT(
            l, path_node,
            "model file '%.200s' not found (looked in %.200s and beside "
            "the config)",
            file, models_dir);
    vg_model_decl_copy(&c->models[c->n_models++], &d);
    return 0;
}

/* The staged job's keys (defaults of vg_job_config_default). */
static const vg_option staged_schema[] = {
    VG_OPT_ROW(vg_staged_opts, "staged", "frame_step", VG_OPT_INT, VG_STORE_INT,
               frame_step, .min = 1, .max = 100000, .def_num = 5,
               .help = "every Nth frame is processed"),
    VG_OPT_ROW(vg_staged_opts, "staged", "max_frames", VG_OPT_INT,
               VG_STORE_INT64, max_frames, .max = 1000000000,
               .help = "frames read per input (0: all; --max-frames)"),
    VG_OPT_ROW(vg_staged_opts, "staged", "person_score", VG_OPT_DOUBLE,
               VG_STORE_FLOAT, person_score, .max = 1, .def_num = 0.4,
               .help = "minimum person detection score"),
    VG_OPT_ROW(vg_staged_opts, "staged", "max_persons", VG_OPT_INT,
               VG_STORE_INT, max_persons, .min = 1, .max = 64, .def_num = 8,
               .help = "persons per frame, largest first"),
    VG_OPT_ROW(vg_staged_opts, "staged", "face_score", VG_OPT_DOUBLE,
               VG_STORE_FLOAT, face_score, .max = 1, .def_num = 0.75,
               .help = "minimum face detection score"),
    VG_OPT_ROW(vg_staged_opts, "staged", "max_faces", VG_OPT_INT, VG_STORE_INT,
               max_faces, .min = 1, .max = 16, .def_num = 4,
               .help = "faces per person"),
};

#define N_STAGED_KEYS (int)(sizeof(staged_schema) / sizeof(staged_schema[0]))

const vg_option *vg_job_staged_schema(int *n)
{
    if (n)
        *n = N_STAGED_KEYS;
    return staged_schema;
}

static int load_staged(jloader *l, yaml_node_t *map)
{
    int rc = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         rc == 0 && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        const vg_option *o =
            key ? vg_schema_find(staged_schema, N_STAGED_KEYS, "staged", key)
                : NULL;
        char why[384];
        if (key == NULL) {
            rc = VGI_YAML_AT(l, k, "expected a key in 'staged'");
        } else if (o) {
            if (vg_option_parse(o, vgi_yaml_scalar(v), &l->c->staged, why,
                                sizeof(why)) < 0)
                rc = VGI_YAML_AT(l, v, "%s", why);
        } else {
            const char *near = vg_schema_suggest_key(
                staged_schema, N_STAGED_KEYS, "staged", key);
            rc = VGI_YAML_AT(
                l, k,
                "unknown key '%.64s' in 'staged' (expected frame_step, "
                "max_frames, person_score, max_persons, face_score, "
                "max_faces)%s%s%s",
                key, near ? "; did you mean '" : "", near ? near : "",
                near ? "'?" : "");
        }
    }
    return rc;
}

void vg_job_config_default(vg_job_config *c)
{
    memset(c, 0, sizeof(*c));
    c->kind = VG_JOB_CCTV;
    c->budget.margin = 0.05;
    vg_options_defaults(staged_schema, N_STAGED_KEYS, &c->staged);
}

const char *vg_job_kind_name(int kind)
{
    return kind == VG_JOB_STAGED ? "staged" : "cctv";
}

const char *vg_job_runtime_key(int kind)
{
    return kind == VG_JOB_STAGED ? "runtime:staged" : "runtime:cctv";
}

static int load_root(jloader *l, yaml_node_t *root)
{
    int rc = 0;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         rc == 0 && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        if (key == NULL)
            continue; /* vg_settings_load reports it */
        if (!strcmp(key, "job")) {
            const char *s = vgi_yaml_scalar(v);
            if (s && !strcmp(s, "cctv"))
                l->c->kind = VG_JOB_CCTV;
            else if (s && !strcmp(s, "staged"))
                l->c->kind = VG_JOB_STAGED;
            else
                rc = VGI_YAML_AT(
                    l, v, "unknown job '%.64s' (expected cctv or staged)",
                    s ? s : "(not a scalar)");
        } else if (!strcmp(key, "inputs")) {
            char vdir[VG_PATH_MAX];
            if (v->type != YAML_SEQUENCE_NODE) {
                rc = VGI_YAML_AT(l, v,
                                 "'inputs' expects a list of files or URLs");
                continue;
            }
            vg_cache_path("videos", vdir, sizeof(vdir));
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 rc == 0 && it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = yaml_document_get_node(l->doc, *it);
                const char *s = vgi_yaml_scalar(e);
                char *dst;
                if (s == NULL || s[0] == '\0') {
                    rc = VGI_YAML_AT(l, e,
                                     "an input expects a file name or URL");
                    break;
                }
                if (l->c->n_inputs == VG_JOB_MAX_INPUTS) {
                    rc = VGI_YAML_AT(l, e, "at most %d inputs",
                                     VG_JOB_MAX_INPUTS);
                    break;
                }
                dst = l->c->inputs[l->c->n_inputs++];
                if (strstr(s, "://") != NULL)
                    snprintf(dst, VG_PATH_MAX, "%s", s);
                else if (resolve(l->path, vdir, s, dst, VG_PATH_MAX) < 0)
                    rc = VGI_YAML_AT(
                        l, e,
                        "input '%.200s' not found (looked in %.200s and "
                        "beside the config)",
                        s, vdir);
            }
        } else if (!strcmp(key, "memory") || !strcmp(key, "staged")) {
            if (v->type != YAML_MAPPING_NODE)
                rc = VGI_YAML_AT(l, v, "section '%s' expects a mapping", key);
            else if (!strcmp(key, "memory"))
                rc = load_memory(l, v);
            else
                rc = load_staged(l, v);
        } else if (!strcmp(key, "models")) {
            if (v->type != YAML_SEQUENCE_NODE) {
                rc = VGI_YAML_AT(l, v, "'models' expects a list of models");
                continue;
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 rc == 0 && it < v->data.sequence.items.top; it++)
                rc = load_model(l, yaml_document_get_node(l->doc, *it));
        }
    }
    return rc;
}

int vg_job_config_load(vg_context *ctx, const char *path, const vg_settings *s,
                       vg_job_config *c)
{
    yaml_document_t doc;
    yaml_node_t *root;
    jloader l;
    int rc;

    rc = vgi_yaml_load(ctx, path, &doc);
    if (rc < 0)
        return rc;
    l.ctx = ctx;
    l.path = path;
    l.doc = &doc;
    l.c = c;
    l.s = s;
    root = yaml_document_get_root_node(&doc);
    if (root != NULL && root->type == YAML_MAPPING_NODE)
        rc = load_root(&l, root);
    yaml_document_delete(&doc);
    return rc;
}

int vg_job_config_find(const vg_job_config *c, int kind)
{
    for (int i = 0; i < c->n_models; i++)
        if (c->models[i].kind == kind)
            return i;
    return -1;
}

int vg_job_config_finish(vg_context *ctx, vg_job_config *c,
                         const vg_settings *s, const char *config_path)
{
    const char *cfg = config_path ? config_path : "(no config)";
    if (c->n_models == 0 && c->kind == VG_JOB_CCTV) {
        vg_model_decl *d = &c->models[0];
        decl_from_settings(d, s);
        snprintf(d->name, sizeof(d->name), "detector");
        snprintf(d->path, sizeof(d->path), "%s", s->model);
        d->kind = VG_MODEL_DETECTOR;
        d->policy = VG_POLICY_PINNED;
        c->n_models = 1;
    }
    if (c->kind == VG_JOB_CCTV) {
        if (vg_job_config_find(c, VG_MODEL_DETECTOR) < 0)
            return vg_fail(ctx, VG_ECONFIG,
                           "%s: a cctv job needs a model of kind detector",
                           cfg);
    } else {
        static const int need[] = {VG_MODEL_DETECTOR, VG_MODEL_FACE_DETECTOR,
                                   VG_MODEL_FACE_EMBEDDER};
        for (int i = 0; i < 3; i++)
            if (vg_job_config_find(c, need[i]) < 0)
                return vg_fail(ctx, VG_ECONFIG,
                               "%s: a staged job needs a model of kind %s", cfg,
                               vg_model_kind_name(need[i]));
    }
    return 0;
}
