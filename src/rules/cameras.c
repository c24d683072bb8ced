/* The cameras: section of a config file (include/vigil/cameras.h): reading
 * it, and saving one camera's zones and rules back into the file. */
#include "vigil/cameras.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "core/yaml_doc.h"
#include "rules/rules_internal.h"
#include "vigil/parse.h"
#include "vigil/schema.h"

/* The keys of one camera; loop, detect.fps, motion.enabled and
 * tracker.reid are read through their rows. */
static const vg_option camera_schema[] = {
    VG_OPT_ROW(vg_camera_config, "cameras[]", "name", VG_OPT_STRING,
               VG_STORE_NONE, name, .def_doc = "required",
               .help = "unique camera name: A-Z, a-z, 0-9, '_' and '-'"),
    VG_OPT_ROW(
        vg_camera_config, "cameras[]", "input", VG_OPT_STRING, VG_STORE_NONE,
        input, .def_doc = "required", .flags = VG_OPTF_PATH,
        .help = "file (videos cache, else beside the config), device or URL"),
    VG_OPT_ROW(vg_camera_config, "cameras[]", "loop", VG_OPT_BOOL, VG_STORE_INT,
               loop, .max = 1, .help = "files: start again at the end"),
    VG_OPT_ROW(vg_camera_config, "cameras[]", "detect.fps", VG_OPT_DOUBLE,
               VG_STORE_DOUBLE, detect_fps, .max = 1000, .def_num = -2,
               .def_doc = "detect.fps",
               .help = "this camera's detections per second"),
    VG_OPT_ROW(vg_camera_config, "cameras[]", "motion.enabled", VG_OPT_BOOL,
               VG_STORE_INT, motion_enabled, .max = 1, .def_num = -1,
               .def_doc = "motion.enabled",
               .help = "this camera's motion gating"),
    VG_OPT_ROW(vg_camera_config, "cameras[]", "tracker.reid", VG_OPT_BOOL,
               VG_STORE_INT, reid_enabled, .max = 1, .def_num = -1,
               .def_doc = "tracker.reid",
               .help = "this camera's conditional re-identification"),
    VG_OPT_DOC_ROW("cameras[]", "zones", VG_OPT_LIST,
                   .max_items = VG_RULES_MAX_ZONES, .def_doc = "none",
                   .item = "zone",
                   .help = "this camera's zones (keys: zones[])"),
    VG_OPT_DOC_ROW("cameras[]", "rules", VG_OPT_LIST,
                   .max_items = VG_RULES_MAX_RULES, .def_doc = "none",
                   .item = "rule",
                   .help = "this camera's rules (keys: rules[])"),
    VG_OPT_DOC_ROW(
        "cameras[]", "rules_options", VG_OPT_LIST, .def_doc = "built-in",
        .help =
            "this camera's rules_options (mapping, keys as the top-level one)"),
};

#define N_CAMERA_KEYS (int)(sizeof(camera_schema) / sizeof(camera_schema[0]))

const vg_option *vg_cameras_schema(int *n)
{
    if (n)
        *n = N_CAMERA_KEYS;
    return camera_schema;
}

typedef struct cloader {
    vg_context *ctx;
    const char *path;
    yaml_document_t *doc;
} cloader;

static yaml_node_t *node(yaml_document_t *doc, int id)
{
    return yaml_document_get_node(doc, id);
}

static const char *shown(const yaml_node_t *n)
{
    const char *v = vgi_yaml_scalar(n);
    return v ? v : (n->type == YAML_SEQUENCE_NODE ? "(a list)" : "(a mapping)");
}

/* The value of key in mapping map (its key node in *key_out), or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map,
                            const char *key, yaml_node_t **key_out)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(doc, p->key);
        const char *s = vgi_yaml_scalar(k);
        if (s && !strcmp(s, key)) {
            if (key_out)
                *key_out = k;
            return node(doc, p->value);
        }
    }
    return NULL;
}

int vg_camera_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((vg_camera_config *)0)->name))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* input: a URL or a device stays as written; a relative file name is looked
 * up in the videos cache, else taken beside the config. */
static void resolve_input(const char *config_path, const char *s, char *out,
                          size_t cap)
{
    char vdir[VG_PATH_MAX];
    struct stat sb;

    if (strstr(s, "://") != NULL || s[0] == '/') {
        snprintf(out, cap, "%s", s);
        return;
    }
    vg_cache_path("videos", vdir, sizeof(vdir));
    if ((size_t)snprintf(out, cap, "%s/%s", vdir, s) < cap &&
        stat(out, &sb) == 0 && S_ISREG(sb.st_mode))
        return;
    vgi_path_beside(config_path, s, out, cap);
}

/* A scalar key through its row of camera_schema. */
static int get_opt(cloader *l, const yaml_node_t *v, const char *key,
                   vg_camera_config *c)
{
    const vg_option *o =
        vg_schema_find(camera_schema, N_CAMERA_KEYS, "cameras[]", key);
    char why[384];
    if (vg_option_parse(o, vgi_yaml_scalar(v), c, why, sizeof(why)) < 0)
        return VGI_YAML_AT(l, v, "%s", why);
    return 0;
}

/* A one-key section of a camera: detect: {fps: F} / motion: {enabled: B} /
 * tracker: {reid: B}. */
static int load_sub(cloader *l, yaml_node_t *v, const char *section,
                    const char *only_key, yaml_node_t **value)
{
    *value = NULL;
    if (v->type != YAML_MAPPING_NODE)
        return VGI_YAML_AT(l, v,
                           "'%s' expects a mapping {%s: ...}, got '%.64s'",
                           section, only_key, shown(v));
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(l->doc, p->key);
        const char *key = vgi_yaml_scalar(k);
        if (!key || strcmp(key, only_key) != 0)
            return VGI_YAML_AT(
                l, k, "unknown key '%.64s' in a camera's '%s' (expected %s)",
                key ? key : "?", section, only_key);
        *value = node(l->doc, p->value);
    }
    return 0;
}

static int load_camera(cloader *l, yaml_node_t *map, vg_cameras *all)
{
    vg_camera_config *c = &all->cam[all->n];
    yaml_node_t *input = NULL, *name_node = NULL;
    int rc;

    memset(c, 0, sizeof(*c));
    c->detect_fps = -2;
    c->motion_enabled = -1;
    c->reid_enabled = -1;
    vg_rules_config_init(&c->rules);
    if (map->type != YAML_MAPPING_NODE)
        return VGI_YAML_AT(
            l, map,
            "a camera is expected as a mapping {name, input, loop, "
            "detect, motion, tracker, zones, rules}, got '%.64s'",
            shown(map));
    c->line = (int)map->start_mark.line + 1;
    c->column = (int)map->start_mark.column + 1;
    {
        yaml_node_t *n = map_get(l->doc, map, "name", &name_node);
        const char *s = vgi_yaml_scalar(n);
        if (n == NULL)
            return VGI_YAML_AT(l, map, "a camera has no 'name'");
        if (!s || !vg_camera_name_valid(s))
            return VGI_YAML_AT(
                l, n,
                "camera name '%.64s' is not 1 to %zu characters of "
                "A-Z, a-z, 0-9, '_' and '-'",
                shown(n), sizeof(c->name) - 1);
        snprintf(c->name, sizeof(c->name), "%s", s);
        for (int i = 0; i < all->n; i++)
            if (!strcmp(all->cam[i].name, c->name))
                return VGI_YAML_AT(
                    l, n, "camera '%s' is defined twice (first at %d:%d)",
                    c->name, all->cam[i].line, all->cam[i].column);
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(l->doc, p->key), *v = node(l->doc, p->value);
        const char *key = vgi_yaml_scalar(k);
        yaml_node_t *sub;
        rc = 0;
        if (!key) {
            rc = VGI_YAML_AT(l, k, "expected a key");
        } else if (!strcmp(key, "name")) {
            continue;
        } else if (!strcmp(key, "input")) {
            const char *s = vgi_yaml_scalar(v);
            input = v;
            if (!s || !*s)
                rc = VGI_YAML_AT(
                    l, v, "'input' expects a file name or URL, got '%.64s'",
                    shown(v));
            else if (strlen(s) >= sizeof(c->input))
                rc = VGI_YAML_AT(l, v, "'input' is longer than %zu characters",
                                 sizeof(c->input) - 1);
            else
                resolve_input(l->path, s, c->input, sizeof(c->input));
        } else if (!strcmp(key, "loop")) {
            rc = get_opt(l, v, "loop", c);
        } else if (!strcmp(key, "detect")) {
            rc = load_sub(l, v, key, "fps", &sub);
            if (rc == 0 && sub)
                rc = get_opt(l, sub, "detect.fps", c);
        } else if (!strcmp(key, "motion")) {
            rc = load_sub(l, v, key, "enabled", &sub);
            if (rc == 0 && sub)
                rc = get_opt(l, sub, "motion.enabled", c);
        } else if (!strcmp(key, "tracker")) {
            rc = load_sub(l, v, key, "reid", &sub);
            if (rc == 0 && sub)
                rc = get_opt(l, sub, "tracker.reid", c);
        } else if (!strcmp(key, "zones") || !strcmp(key, "rules") ||
                   !strcmp(key, "rules_options")) {
            c->has_rules = 1; /* read below */
        } else {
            static const char *const keys[] = {
                "name",    "input", "loop",  "detect",       "motion",
                "tracker", "zones", "rules", "rules_options"};
            const char *near = vg_schema_suggest(key, keys, 9);
            rc = VGI_YAML_AT(
                l, k,
                "unknown key '%.64s' in camera '%s' (expected name, input, "
                "loop, detect, motion, tracker, zones, rules, "
                "rules_options)%s%s%s",
                key, c->name, near ? "; did you mean '" : "", near ? near : "",
                near ? "'?" : "");
        }
        if (rc < 0)
            return rc;
    }
    if (!input)
        return VGI_YAML_AT(l, map, "camera '%s' has no 'input'", c->name);
    if (c->has_rules) {
        rc = vgi_rules_read(l->ctx, l->path, l->doc, map, 0, &c->rules);
        if (rc < 0)
            return rc;
    }
    all->n++;
    return 0;
}

/* Reads the cameras: section of doc (read from path) into out. */
static int cameras_from_doc(vg_context *ctx, const char *path,
                            yaml_document_t *doc, vg_cameras *out)
{
    cloader l = {ctx, path, doc};
    yaml_node_t *root = yaml_document_get_root_node(doc), *list, *key = NULL;
    int n, rc = 0;

    list = map_get(doc, root, "cameras", &key);
    if (list == NULL)
        return 0;
    if (list->type == YAML_SCALAR_NODE && !*vgi_yaml_scalar(list))
        return 0; /* "cameras:" with nothing under it */
    if (list->type != YAML_SEQUENCE_NODE)
        return VGI_YAML_AT(
            &l, list,
            "section 'cameras' expects a list of cameras, got '%.64s'",
            shown(list));
    n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (n > VG_CAMERAS_MAX)
        return VGI_YAML_AT(
            &l, node(doc, list->data.sequence.items.start[VG_CAMERAS_MAX]),
            "more than %d cameras", VG_CAMERAS_MAX);
    if (n == 0)
        return 0;
    out->cam = vg_calloc(ctx, (size_t)n, sizeof(*out->cam));
    if (out->cam == NULL)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    for (int i = 0; rc == 0 && i < n; i++)
        rc =
            load_camera(&l, node(doc, list->data.sequence.items.start[i]), out);
    return rc;
}

int vg_cameras_load(vg_context *ctx, const char *path, vg_cameras *out)
{
    yaml_document_t doc;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = vgi_yaml_load(ctx, path, &doc);
    if (rc < 0)
        return rc;
    rc = cameras_from_doc(ctx, path, &doc, out);
    yaml_document_delete(&doc);
    if (rc < 0)
        vg_cameras_free(ctx, out);
    return rc;
}

void vg_cameras_free(vg_context *ctx, vg_cameras *c)
{
    if (c == NULL)
        return;
    for (int i = 0; c->cam && i < c->n; i++)
        vg_rules_config_free(ctx, &c->cam[i].rules);
    vg_free(ctx, c->cam);
    c->cam = NULL;
    c->n = 0;
}

const vg_camera_config *vg_cameras_find(const vg_cameras *c, const char *name)
{
    for (int i = 0; c && name && i < c->n; i++)
        if (!strcmp(c->cam[i].name, name))
            return &c->cam[i];
    return NULL;
}

/* ---- saving ---------------------------------------------------------------
 */

/* A growing text. */
typedef struct tbuf {
    vg_context *ctx;
    char *s;
    size_t len, cap;
    int failed;
} tbuf;

static void tadd(tbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = vg_realloc(b->ctx, b->s, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void tstr(tbuf *b, const char *s)
{
    tadd(b, s, strlen(s));
}

static void tspaces(tbuf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tadd(b, " ", 1);
}

/* Where the text of n ends: a block collection ends with its last item's
 * text (its end mark lies at the next token, after comments). */
static size_t node_end(yaml_document_t *doc, yaml_node_t *n)
{
    if (n->type == YAML_SEQUENCE_NODE &&
        n->data.sequence.style == YAML_BLOCK_SEQUENCE_STYLE &&
        n->data.sequence.items.top > n->data.sequence.items.start)
        return node_end(doc, node(doc, n->data.sequence.items.top[-1]));
    if (n->type == YAML_MAPPING_NODE &&
        n->data.mapping.style == YAML_BLOCK_MAPPING_STYLE &&
        n->data.mapping.pairs.top > n->data.mapping.pairs.start)
        return node_end(doc, node(doc, n->data.mapping.pairs.top[-1].value));
    return n->end_mark.index;
}

/* One key's text: "zones: [...]" (flow) or "zones:\n  - {...}" (block,
 * items indented under a key at column indent). */
static int key_text(tbuf *b, const vg_rules_config *cfg, int zones, int flow,
                    size_t indent)
{
    int n = zones ? cfg->n_zones : cfg->n_rules;
    char item[4096];

    tstr(b, zones ? "zones:" : "rules:");
    if (n == 0 || flow)
        tstr(b, " [");
    for (int i = 0; i < n; i++) {
        int len = zones
                      ? vgi_rules_zone_json(&cfg->zones[i], item, sizeof(item))
                      : vgi_rules_rule_json(&cfg->rules[i], item, sizeof(item));
        if (len < 0)
            return len;
        if (flow) {
            if (i)
                tstr(b, ", ");
        } else {
            tstr(b, "\n");
            tspaces(b, indent + 2);
            tstr(b, "- ");
        }
        tadd(b, item, (size_t)len);
    }
    if (n == 0 || flow)
        tstr(b, "]");
    return 0;
}

typedef struct text_splice {
    size_t start, end; /* replaced bytes of the old text */
    char *text;        /* owned */
    size_t len;
} text_splice;

static int splice_cmp(const void *a, const void *b)
{
    const text_splice *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Writes text to path atomically: a temporary file in the same folder,
 * flushed to disk, renamed over path (keeping path's mode). */
static int write_atomic(vg_context *ctx, const char *path, const char *text,
                        size_t len)
{
    char tmp[VG_PATH_MAX + 32], dir[VG_PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat sb;
    size_t off = 0;
    int fd, dfd, rc = 0;

    if (slash)
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + 1), path);
    else
        snprintf(dir, sizeof(dir), "./");
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%s.tmpXXXXXX", dir,
                         slash ? slash + 1 : path) >= sizeof(tmp))
        return vg_fail(ctx, VG_EIO, "%s: path too long", path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return vg_fail(ctx, VG_EIO, "%s: cannot create a temporary file (%s)",
                       path, strerror(errno));
    if (stat(path, &sb) == 0)
        (void)fchmod(fd, sb.st_mode & 07777);
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = vg_fail(ctx, VG_EIO, "%s: cannot write %s (%s)", path, tmp,
                         strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = vg_fail(ctx, VG_EIO, "%s: cannot flush %s (%s)", path, tmp,
                     strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = vg_fail(ctx, VG_EIO, "%s: cannot close %s (%s)", path, tmp,
                     strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = vg_fail(ctx, VG_EIO, "%s: cannot replace it (%s)", path,
                     strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

int vg_config_save_camera_rules(vg_context *ctx, const char *path,
                                const char *camera, const vg_rules_config *cfg)
{
    yaml_document_t doc;
    yaml_node_t *root, *list, *cam = NULL;
    char *text = NULL;
    size_t len = 0;
    text_splice sp[2];
    int nsp = 0, rc, flow, have_doc = 0;
    tbuf out = {ctx, NULL, 0, 0, 0};
    vg_cameras check;

    memset(sp, 0, sizeof(sp));
    if (path == NULL || camera == NULL || cfg == NULL)
        return vg_fail(ctx, VG_EINVAL, "save camera rules: NULL argument");
    if ((rc = vg_rules_config_check(ctx, cfg, 0, 0)) < 0)
        return rc;
    if ((rc = vgi_yaml_read_file(ctx, path, &text, &len)) < 0)
        return rc;
    if ((rc = vgi_yaml_load_text(ctx, path, text, len, &doc)) < 0)
        goto out;
    have_doc = 1;
    root = yaml_document_get_root_node(&doc);
    list = map_get(&doc, root, "cameras", NULL);
    for (yaml_node_item_t *it = list && list->type == YAML_SEQUENCE_NODE
                                    ? list->data.sequence.items.start
                                    : NULL;
         it && it < list->data.sequence.items.top && !cam; it++) {
        yaml_node_t *c = node(&doc, *it);
        const char *name = vgi_yaml_scalar(map_get(&doc, c, "name", NULL));
        if (name && !strcmp(name, camera))
            cam = c;
    }
    if (cam == NULL) {
        rc = vg_fail(ctx, VG_ENOENT, "%s: no camera '%.64s' in 'cameras'", path,
                     camera);
        goto out;
    }
    flow = cam->data.mapping.style == YAML_FLOW_MAPPING_STYLE;
    for (int zones = 1; zones >= 0; zones--) {
        yaml_node_t *k = NULL,
                    *v = map_get(&doc, cam, zones ? "zones" : "rules", &k);
        tbuf t = {ctx, NULL, 0, 0, 0};
        text_splice *s = &sp[nsp];
        if (v != NULL) {
            if (v->start_mark.index < k->end_mark.index) {
                rc = vg_fail(ctx, VG_ECONFIG,
                             "%s:%zu:%zu: camera '%.64s': '%s' is an alias "
                             "(*name); cannot save over it",
                             path, k->start_mark.line + 1,
                             k->start_mark.column + 1, camera,
                             zones ? "zones" : "rules");
                goto out;
            }
            s->start = k->start_mark.index;
            if (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0 &&
                v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                /* "zones:" with nothing: up to the colon */
                s->end = k->end_mark.index;
                while (s->end < len && text[s->end] != ':')
                    s->end++;
                if (s->end < len)
                    s->end++;
            } else {
                s->end = node_end(&doc, v);
            }
            rc = key_text(&t, cfg, zones, flow, k->start_mark.column);
        } else if (flow) { /* before the closing brace */
            s->start = s->end = cam->end_mark.index - 1;
            tstr(&t, cam->data.mapping.pairs.top > cam->data.mapping.pairs.start
                         ? ", "
                         : "");
            rc = key_text(&t, cfg, zones, 1, 0);
        } else { /* a new line after the camera's last line */
            size_t indent = node(&doc, cam->data.mapping.pairs.start[0].key)
                                ->start_mark.column;
            size_t at = node_end(&doc, cam);
            while (at < len && text[at] != '\n')
                at++;
            if (at < len)
                at++;
            else
                tstr(&t, "\n");
            s->start = s->end = at;
            tspaces(&t, indent);
            rc = key_text(&t, cfg, zones, 0, indent);
            tstr(&t, "\n");
        }
        if (rc < 0 || t.failed) {
            vg_free(ctx, t.s);
            if (rc == 0)
                rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
            else
                rc = vg_fail(ctx, rc, "%s: a zone or rule is too long to save",
                             path);
            goto out;
        }
        s->text = t.s;
        s->len = t.len;
        nsp++;
    }
    /* both inserted at the same place: zones first (stable order) */
    if (nsp == 2 && sp[0].start != sp[1].start)
        qsort(sp, 2, sizeof(sp[0]), splice_cmp);
    {
        size_t pos = 0;
        for (int i = 0; i < nsp; i++) {
            tadd(&out, text + pos, sp[i].start - pos);
            tadd(&out, sp[i].text, sp[i].len);
            pos = sp[i].end;
        }
        tadd(&out, text + pos, len - pos);
    }
    if (out.failed) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    /* what is written must load back */
    yaml_document_delete(&doc);
    have_doc = 0;
    if ((rc = vgi_yaml_load_text(ctx, path, out.s, out.len, &doc)) < 0)
        goto out;
    have_doc = 1;
    memset(&check, 0, sizeof(check));
    rc = cameras_from_doc(ctx, path, &doc, &check);
    vg_cameras_free(ctx, &check);
    if (rc < 0)
        goto out;
    rc = write_atomic(ctx, path, out.s, out.len);
out:
    if (have_doc)
        yaml_document_delete(&doc);
    for (int i = 0; i < 2; i++)
        vg_free(ctx, sp[i].text);
    vg_free(ctx, out.s);
    vg_free(ctx, text);
    return rc;
}
