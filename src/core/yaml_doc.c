#include <errno.h>
#include <stdio.h>
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

const char *vgi_yaml_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                            : NULL;
}
