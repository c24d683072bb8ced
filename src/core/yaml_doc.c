#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/yaml_doc.h"

int vgi_yaml_load(vg_context *ctx, const char *path, yaml_document_t *doc)
{
    yaml_parser_t parser;
    FILE *f;
    int rc = 0;

    f = fopen(path, "rb");
    if (!f)
        return vg_fail(ctx, errno == ENOENT ? VG_ENOENT : VG_EIO,
                       "%s: cannot open config (%s)", path, strerror(errno));
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, doc))
        rc = vg_fail(ctx, VG_ECONFIG, "%s:%zu:%zu: %s", path,
                     parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "invalid YAML");
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int vgi_yaml_failv(vg_context *ctx, const char *path, const yaml_node_t *n,
                   const char *fmt, va_list ap)
{
    char what[512];
    vsnprintf(what, sizeof(what), fmt, ap);
    return vg_fail(ctx, VG_ECONFIG, "%s:%zu:%zu: %s", path,
                   n->start_mark.line + 1, n->start_mark.column + 1, what);
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

/* Records the failure of a number read (n's position). */
static int bad_number(vg_context *ctx, const char *path, const yaml_node_t *n,
                      const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vgi_yaml_failv(ctx, path, n, fmt, ap);
    va_end(ap);
    return rc;
}

int vgi_yaml_get_long(vg_context *ctx, const char *path, const yaml_node_t *n,
                      const char *key, long lo, long hi, long *out)
{
    const char *v = vgi_yaml_scalar(n);
    char *end;
    long x;
    if (v != NULL) {
        errno = 0;
        x = strtol(v, &end, 10);
        if (!errno && end != v && !*end && x >= lo && x <= hi) {
            *out = x;
            return 0;
        }
    }
    return bad_number(ctx, path, n,
                      "'%s' expects an integer in [%ld, %ld], got '%.64s'", key,
                      lo, hi, v ? v : "(not a scalar)");
}

int vgi_yaml_get_double(vg_context *ctx, const char *path, const yaml_node_t *n,
                        const char *key, double lo, double hi, double *out)
{
    const char *v = vgi_yaml_scalar(n);
    char *end;
    double x;
    if (v != NULL) {
        errno = 0;
        x = strtod(v, &end);
        if (!errno && end != v && !*end && isfinite(x) && x >= lo && x <= hi) {
            *out = x;
            return 0;
        }
    }
    return bad_number(ctx, path, n,
                      "'%s' expects a number in [%g, %g], got '%.64s'", key, lo,
                      hi, v ? v : "(not a scalar)");
}
