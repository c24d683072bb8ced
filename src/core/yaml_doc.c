#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/yaml_doc.h"
#include "vigil/parse.h"

/* Records "PATH:LINE:COL: what" (a libyaml mark) as VG_ECONFIG. */
static int fail_at_mark(vg_context *ctx, const char *path, yaml_mark_t m,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at_mark(vg_context *ctx, const char *path, yaml_mark_t m,
                        const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return vg_fail(ctx, VG_ECONFIG, "%s:%zu:%zu: %s", path, m.line + 1,
                   m.column + 1, what);
}

static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a pipe";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a regular file";
}

/* Reads the whole of path (a regular file of 1..VGI_YAML_MAX_BYTES bytes)
 * into a new buffer (the caller frees it with vg_free). */
static int read_config(vg_context *ctx, const char *path, char **out,
                       size_t *len)
{
    struct stat sb;
    char *buf = NULL;
    size_t n = 0, cap;
    int fd, rc = 0;

    *out = NULL;
    /* O_NONBLOCK: a FIFO must not block the open before it is refused */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return vg_fail(ctx, VG_ENOENT, "%s: cannot open config (%s)", path,
                           strerror(errno));
        return vg_fail(ctx, VG_EIO, "%s: cannot open config (%s)", path,
                       strerror(errno));
    }
    if (fstat(fd, &sb) != 0) {
        rc = vg_fail(ctx, VG_EIO, "%s: cannot read config (%s)", path,
                     strerror(errno));
        goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
        rc = vg_fail(ctx, VG_ECONFIG, "%s: is a directory, not a config file",
                     path);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = vg_fail(ctx, VG_ECONFIG, "%s: is %s, not a config file", path,
                     file_kind(sb.st_mode));
        goto out;
    }
    if (sb.st_size == 0) {
        rc = vg_fail(ctx, VG_ECONFIG,
                     "%s: is empty (0 bytes), not a config "
                     "file",
                     path);
        goto out;
    }
    if (sb.st_size > VGI_YAML_MAX_BYTES) {
        rc = vg_fail(ctx, VG_ECONFIG,
                     "%s: is %lld bytes, more than the %d-byte (1 MiB) limit "
                     "of a config file",
                     path, (long long)sb.st_size, VGI_YAML_MAX_BYTES);
        goto out;
    }
    cap = (size_t)sb.st_size + 1; /* + 1: sees a file that grew */
    buf = vg_malloc(ctx, cap);
    if (buf == NULL) {
        rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = vg_fail(ctx, VG_EIO, "%s: cannot read config (%s)", path,
                         strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n == cap) {
        rc = vg_fail(ctx, VG_ECONFIG,
                     "%s: grew while it was read (more than %lld bytes)", path,
                     (long long)sb.st_size);
        goto out;
    }
    if (n == 0) {
        rc = vg_fail(ctx, VG_ECONFIG,
                     "%s: is empty (0 bytes), not a config "
                     "file",
                     path);
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
out:
    vg_free(ctx, buf);
    close(fd);
    return rc;
}

/* The composer: events to the document tree in one pass, refusing on the
 * way what would make loading slow or the config ambiguous (nesting deeper
 * than VGI_YAML_MAX_DEPTH, too many anchors or aliases, an alias to no
 * anchor, a second document). libyaml's scanner spends O(depth) per token,
 * so with the depth bounded the load is linear in the text; the stop
 * request is polled every 1024 events. */
typedef struct composer {
    vg_context *ctx;
    const char *path;
    yaml_document_t *doc;
    struct {
        int node, key; /* key: a mapping's key waiting for its value */
    } stack[VGI_YAML_MAX_DEPTH];
    int depth;
    struct {
        char *name;
        int node;
    } anchors[VGI_YAML_MAX_ANCHORS];
    int n_anchors, n_aliases;
} composer;

/* Makes node the root, or the next item / key / value of the open
 * collection. Returns 0 or VG_ENOMEM. */
static int attach(composer *c, int node)
{
    yaml_node_t *top;
    int ok = 1;
    if (c->depth == 0)
        return 0; /* the first node added is the root */
    top = yaml_document_get_node(c->doc, c->stack[c->depth - 1].node);
    if (top->type == YAML_SEQUENCE_NODE) {
        ok = yaml_document_append_sequence_item(
            c->doc, c->stack[c->depth - 1].node, node);
    } else if (c->stack[c->depth - 1].key == 0) {
        c->stack[c->depth - 1].key = node;
    } else {
        ok = yaml_document_append_mapping_pair(
            c->doc, c->stack[c->depth - 1].node, c->stack[c->depth - 1].key,
            node);
        c->stack[c->depth - 1].key = 0;
    }
    return ok ? 0 : vg_fail(c->ctx, VG_ENOMEM, "%s: out of memory", c->path);
}

static int add_anchor(composer *c, const yaml_event_t *ev,
                      const yaml_char_t *anchor, int node)
{
    if (anchor == NULL)
        return 0;
    if (c->n_anchors == VGI_YAML_MAX_ANCHORS)
        return fail_at_mark(c->ctx, c->path, ev->start_mark,
                            "more than %d anchors (&name)",
                            VGI_YAML_MAX_ANCHORS);
    /* a repeated name: the later one wins (YAML 1.2), looked up last first */
    c->anchors[c->n_anchors].name = vg_strdup(c->ctx, (const char *)anchor);
    if (c->anchors[c->n_anchors].name == NULL)
        return vg_fail(c->ctx, VG_ENOMEM, "%s: out of memory", c->path);
    c->anchors[c->n_anchors++].node = node;
    return 0;
}

/* A tag for yaml_document_add_*: NULL (the default tag) for none or "!". */
static const yaml_char_t *tag_of(const yaml_char_t *tag)
{
    return tag != NULL && strcmp((const char *)tag, "!") != 0 ? tag : NULL;
}

static int compose_event(composer *c, yaml_event_t *ev, int *documents)
{
    yaml_document_t *doc = c->doc;
    const yaml_char_t *anchor = NULL;
    int node = 0, rc;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*documents > 1)
            return fail_at_mark(c->ctx, c->path, ev->start_mark,
                                "a second YAML document (a config file holds "
                                "one)");
        return 0;
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        node = yaml_document_add_scalar(
            doc, tag_of(ev->data.scalar.tag), ev->data.scalar.value,
            (int)ev->data.scalar.length, ev->data.scalar.style);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (c->depth == VGI_YAML_MAX_DEPTH)
            return fail_at_mark(c->ctx, c->path, ev->start_mark,
                                "nesting deeper than %d levels",
                                VGI_YAML_MAX_DEPTH);
        if (ev->type == YAML_SEQUENCE_START_EVENT) {
            anchor = ev->data.sequence_start.anchor;
            node = yaml_document_add_sequence(
                doc, tag_of(ev->data.sequence_start.tag),
                ev->data.sequence_start.style);
        } else {
            anchor = ev->data.mapping_start.anchor;
            node = yaml_document_add_mapping(doc,
                                             tag_of(ev->data.mapping_start.tag),
                                             ev->data.mapping_start.style);
        }
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (c->depth > 0) {
            yaml_node_t *n =
                yaml_document_get_node(doc, c->stack[--c->depth].node);
            n->end_mark = ev->end_mark;
        }
        return 0;
    case YAML_ALIAS_EVENT:
        if (++c->n_aliases > VGI_YAML_MAX_ALIASES)
            return fail_at_mark(c->ctx, c->path, ev->start_mark,
                                "more than %d aliases (*name)",
                                VGI_YAML_MAX_ALIASES);
        for (int i = c->n_anchors - 1; node == 0 && i >= 0; i--)
            if (!strcmp(c->anchors[i].name,
                        (const char *)ev->data.alias.anchor))
                node = c->anchors[i].node;
        if (node == 0)
            return fail_at_mark(c->ctx, c->path, ev->start_mark,
                                "alias '*%.64s' names no anchor before it",
                                (const char *)ev->data.alias.anchor);
        return attach(c, node);
    default:
        return 0;
    }
    if (node == 0)
        return vg_fail(c->ctx, VG_ENOMEM, "%s: out of memory", c->path);
    doc->nodes.start[node - 1].start_mark = ev->start_mark;
    doc->nodes.start[node - 1].end_mark = ev->end_mark;
    if ((rc = add_anchor(c, ev, anchor, node)) < 0 ||
        (rc = attach(c, node)) < 0)
        return rc;
    if (ev->type != YAML_SCALAR_EVENT) {
        c->stack[c->depth].node = node;
        c->stack[c->depth].key = 0;
        c->depth++;
    }
    return 0;
}

static int compose(vg_context *ctx, const char *path, const unsigned char *text,
                   size_t len, yaml_document_t *doc, vgi_yaml_stats *st)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    composer *c;
    int documents = 0, rc = 0, done = 0;

    c = vg_calloc(ctx, 1, sizeof(*c));
    if (c == NULL)
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    c->ctx = ctx;
    c->path = path;
    c->doc = doc;
    if (!yaml_parser_initialize(&parser)) {
        vg_free(ctx, c);
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    }
    if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1)) {
        yaml_parser_delete(&parser);
        vg_free(ctx, c);
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    }
    yaml_parser_set_input_string(&parser, text, len);
    while (!done && rc == 0) {
        if ((st->events & 1023) == 0 && vg_context_stop_requested(ctx)) {
            rc = vg_fail(ctx, VG_EINTR, "%s: loading the config interrupted",
                         path);
            break;
        }
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = fail_at_mark(ctx, path, parser.problem_mark, "%s",
                              parser.problem ? parser.problem : "invalid YAML");
            break;
        }
        st->events++;
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = compose_event(c, &ev, &documents);
        if (c->depth > st->max_depth)
            st->max_depth = c->depth;
        yaml_event_delete(&ev);
    }
    for (int i = 0; i < c->n_anchors; i++)
        vg_free(ctx, c->anchors[i].name);
    vg_free(ctx, c);
    yaml_parser_delete(&parser);
    if (rc < 0)
        yaml_document_delete(doc);
    return rc;
}

static int key_cmp(const yaml_node_t *a, const yaml_node_t *b)
{
    size_t la = a->data.scalar.length, lb = b->data.scalar.length;
    int c =
        memcmp(a->data.scalar.value, b->data.scalar.value, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

/* Orders pair indices by key text, then by position. */
static int sort_keys(const void *pa, const void *pb, void *user)
{
    yaml_document_t *doc = user;
    const yaml_node_pair_t *a = *(const yaml_node_pair_t *const *)pa;
    const yaml_node_pair_t *b = *(const yaml_node_pair_t *const *)pb;
    int c = key_cmp(yaml_document_get_node(doc, a->key),
                    yaml_document_get_node(doc, b->key));
    return c ? c : (a > b) - (a < b);
}

static int same_key(yaml_document_t *doc, const yaml_node_pair_t *a,
                    const yaml_node_pair_t *b)
{
    return key_cmp(yaml_document_get_node(doc, a->key),
                   yaml_document_get_node(doc, b->key)) == 0;
}

/* Refuses a mapping that holds a scalar key twice, naming the first
 * repetition in the file (each node visited once: aliases do not multiply
 * the work). */
static int check_duplicate_keys(vg_context *ctx, const char *path,
                                yaml_document_t *doc)
{
    const yaml_node_pair_t **keys = NULL;
    size_t cap = 0;
    int rc = 0;

    for (yaml_node_t *m = doc->nodes.start; rc == 0 && m < doc->nodes.top;
         m++) {
        const yaml_node_pair_t *dup = NULL, *first = NULL;
        size_t n = 0, npairs;
        if (m->type != YAML_MAPPING_NODE)
            continue;
        npairs =
            (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
        if (npairs < 2)
            continue;
        if (npairs > cap) {
            const yaml_node_pair_t **k =
                vg_realloc(ctx, keys, npairs * sizeof(*keys));
            if (k == NULL) {
                rc = vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
                break;
            }
            keys = k;
            cap = npairs;
        }
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
             p < m->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k != NULL && k->type == YAML_SCALAR_NODE)
                keys[n++] = p;
        }
        qsort_r(keys, n, sizeof(*keys), sort_keys, doc);
        /* sorted by key then position: the second of each run of equal keys
         * is that key's first repetition; report the earliest of them */
        for (size_t i = 1; i < n; i++) {
            if (!same_key(doc, keys[i - 1], keys[i]) ||
                (i >= 2 && same_key(doc, keys[i - 2], keys[i])))
                continue;
            if (dup == NULL || keys[i] < dup) {
                dup = keys[i];
                first = keys[i - 1];
            }
        }
        if (dup != NULL) {
            yaml_node_t *k = yaml_document_get_node(doc, dup->key);
            yaml_node_t *f = yaml_document_get_node(doc, first->key);
            rc = fail_at_mark(ctx, path, k->start_mark,
                              "duplicate key '%.64s' (first at %zu:%zu)",
                              (const char *)k->data.scalar.value,
                              f->start_mark.line + 1, f->start_mark.column + 1);
        }
    }
    vg_free(ctx, keys);
    return rc;
}

int vgi_yaml_load_stats(vg_context *ctx, const char *path, yaml_document_t *doc,
                        vgi_yaml_stats *st)
{
    yaml_document_t scratch;
    vgi_yaml_stats local;
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (st == NULL)
        st = &local;
    if (doc == NULL)
        doc = &scratch;
    memset(st, 0, sizeof(*st));
    rc = read_config(ctx, path, &text, &len);
    if (rc < 0)
        return rc;
    st->bytes = len;
    rc = compose(ctx, path, (const unsigned char *)text, len, doc, st);
    if (rc == 0 &&
        ((rc = check_duplicate_keys(ctx, path, doc)) < 0 || doc == &scratch))
        yaml_document_delete(doc);
    vg_free(ctx, text);
    return rc;
}

int vgi_yaml_load_text(vg_context *ctx, const char *name, const char *text,
                       size_t len, yaml_document_t *doc)
{
    vgi_yaml_stats st;
    int rc;

    memset(&st, 0, sizeof(st));
    if (text == NULL || len == 0)
        return vg_fail(ctx, VG_ECONFIG, "%s: is empty (0 bytes)", name);
    if (len > VGI_YAML_MAX_BYTES)
        return vg_fail(ctx, VG_ECONFIG,
                       "%s: is %zu bytes, more than the %d-byte (1 MiB) limit",
                       name, len, VGI_YAML_MAX_BYTES);
    st.bytes = len;
    rc = compose(ctx, name, (const unsigned char *)text, len, doc, &st);
    if (rc == 0 && (rc = check_duplicate_keys(ctx, name, doc)) < 0)
        yaml_document_delete(doc);
    return rc;
}

int vgi_yaml_read_file(vg_context *ctx, const char *path, char **text,
                       size_t *len)
{
    return read_config(ctx, path, text, len);
}

int vgi_yaml_load(vg_context *ctx, const char *path, yaml_document_t *doc)
{
    return vgi_yaml_load_stats(ctx, path, doc, NULL);
}

int vgi_yaml_failv(vg_context *ctx, const char *path, const yaml_node_t *n,
                   const char *fmt, va_list ap)
{
    char what[512];
    vsnprintf(what, sizeof(what), fmt, ap);
    return vg_fail(ctx, VG_ECONFIG, "%s:%zu:%zu: %s", path,
                   n->start_mark.line + 1, n->start_mark.column + 1, what);
}

int vgi_yaml_fail(vg_context *ctx, const char *path, const yaml_node_t *n,
                  const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vgi_yaml_failv(ctx, path, n, fmt, ap);
    va_end(ap);
    return rc;
}

void vgi_path_beside(const char *config_path, const char *name, char *out,
                     size_t size)
{
    const char *slash = config_path ? strrchr(config_path, '/') : NULL;
    size_t dir = slash ? (size_t)(slash - config_path) + 1 : 0;
    size_t len = strlen(name);

    if (name[0] == '/')
        dir = 0;
    if (dir + len + 1 > size) { /* too long: keep it as written */
        dir = 0;
        len = len < size ? len : size - 1;
    }
    memmove(out, config_path, dir);
    memmove(out + dir, name, len);
    out[dir + len] = '\0';
}

const char *vgi_yaml_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                            : NULL;
}

int vgi_yaml_get_long(vg_context *ctx, const char *path, const yaml_node_t *n,
                      const char *key, long lo, long hi, long *out)
{
    const char *v = vgi_yaml_scalar(n);
    int64_t x;
    if (v != NULL && vg_parse_int64(v, lo, hi, &x) == 0) {
        *out = (long)x;
        return 0;
    }
    return vgi_yaml_fail(ctx, path, n,
                         "'%s' expects an integer in [%ld, %ld], got '%.64s'",
                         key, lo, hi, v ? v : "(not a scalar)");
}

int vgi_yaml_get_double(vg_context *ctx, const char *path, const yaml_node_t *n,
                        const char *key, double lo, double hi, double *out)
{
    const char *v = vgi_yaml_scalar(n);
    double x;
    if (v != NULL && vg_parse_double(v, lo, hi, &x) == 0) {
        *out = x;
        return 0;
    }
    return vgi_yaml_fail(ctx, path, n,
                         "'%s' expects a number in [%g, %g], got '%.64s'", key,
                         lo, hi, v ? v : "(not a scalar)");
}
