/* Internal: reading a YAML config file into a libyaml document, shared by the
 * loaders of every config section (settings, rules, job). */
#ifndef VIGIL_CORE_YAML_DOC_H
#define VIGIL_CORE_YAML_DOC_H

#include <stdarg.h>

#include <yaml.h>

#include "vigil/context.h"

/* Loads the first document of path into doc. Returns 0 (the caller frees
 * doc with yaml_document_delete), VG_ENOENT or VG_EIO (cannot open),
 * VG_ENOMEM, or VG_ECONFIG with "FILE:LINE:COL: problem" in ctx; doc needs
 * no freeing on failure. */
int vgi_yaml_load(vg_context *ctx, const char *path, yaml_document_t *doc);

/* Records "PATH:LINE:COL: <message>" (n's position) as a VG_ECONFIG failure
 * in ctx and returns VG_ECONFIG. */
int vgi_yaml_failv(vg_context *ctx, const char *path, const yaml_node_t *n,
                   const char *fmt, va_list ap);

/* Reads an integer in [lo, hi] / a finite number in [lo, hi] from scalar n
 * into *out. On failure records "PATH:LINE:COL: 'key' expects an integer in
 * [lo, hi], got 'VALUE'" (resp. "a number in [lo, hi]") as VG_ECONFIG and
 * returns VG_ECONFIG; *out is untouched. */
int vgi_yaml_get_long(vg_context *ctx, const char *path, const yaml_node_t *n,
                      const char *key, long lo, long hi, long *out);
int vgi_yaml_get_double(vg_context *ctx, const char *path, const yaml_node_t *n,
                        const char *key, double lo, double hi, double *out);

/* A file name of a config, as a path: absolute names stay, relative ones
 * are taken beside the config file (config_path's folder). A result that
 * does not fit in size is left as written (truncated). */
void vgi_path_beside(const char *config_path, const char *name, char *out,
                     size_t size);

/* The text of a scalar node; NULL for NULL or another kind of node. */
const char *vgi_yaml_scalar(const yaml_node_t *n);

#endif
