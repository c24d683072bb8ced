/* Internal: reading a YAML config file into a libyaml document, shared by the
 * loaders of every config section (settings, rules, job). */
#ifndef VIGIL_CORE_YAML_DOC_H
#define VIGIL_CORE_YAML_DOC_H

#include <stdarg.h>

#include <yaml.h>

#include "vigil/context.h"

/* Limits of a config file: its size, how deep its lists and mappings nest,
 * how many anchors (&a) and aliases (*a) it uses (libyaml's composer looks
 * anchors up one by one). */
#define VGI_YAML_MAX_BYTES (1024 * 1024)
#define VGI_YAML_MAX_DEPTH 64
#define VGI_YAML_MAX_ANCHORS 256
#define VGI_YAML_MAX_ALIASES 4096

/* Loads the one document of path into doc. Refuses, as VG_ECONFIG with one
 * line in ctx: a directory, a file that is not a regular file, an empty
 * file or one over VGI_YAML_MAX_BYTES ("PATH: ..."), and with
 * "PATH:LINE:COL: ...": invalid YAML, nesting deeper than
 * VGI_YAML_MAX_DEPTH, too many anchors or aliases, an alias to no anchor,
 * a second document, a mapping with a duplicate key. Returns 0 (the caller
 * frees doc with yaml_document_delete), VG_ENOENT or VG_EIO (cannot open or
 * read), VG_ENOMEM, VG_ECONFIG, or VG_EINTR when a stop was requested on ctx
 * (polled while parsing); doc needs no freeing on failure. Loading is
 * linear in the size of the file. */
int vgi_yaml_load(vg_context *ctx, const char *path, yaml_document_t *doc);

/* vgi_yaml_load over text in memory (len bytes, not necessarily
 * NUL-terminated) named name in messages ("NAME:LINE:COL: ..."): the same
 * limits and refusals; an empty text is refused. Returns 0 (the caller
 * frees doc), VG_ENOMEM, VG_ECONFIG or VG_EINTR. */
int vgi_yaml_load_text(vg_context *ctx, const char *name, const char *text,
                       size_t len, yaml_document_t *doc);

/* The whole of the config file at path (1..VGI_YAML_MAX_BYTES bytes, a
 * regular file) in a new buffer *text of *len bytes, which the caller
 * frees with vg_free. Returns 0, VG_ENOENT, VG_EIO, VG_ENOMEM, VG_ECONFIG. */
int vgi_yaml_read_file(vg_context *ctx, const char *path, char **text,
                       size_t *len);

/* What a load cost, for tests: bytes read, parser events composed (up to
 * the first refusal), deepest nesting seen. */
typedef struct vgi_yaml_stats {
    size_t bytes;
    size_t events;
    int max_depth;
} vgi_yaml_stats;

/* vgi_yaml_load that also fills *st (NULL: not wanted), also on failure.
 * doc NULL: the checks only (the document is built and dropped). */
int vgi_yaml_load_stats(vg_context *ctx, const char *path, yaml_document_t *doc,
                        vgi_yaml_stats *st);

/* Records "PATH:LINE:COL: <message>" (n's position) as a VG_ECONFIG failure
 * in ctx and returns VG_ECONFIG. */
int vgi_yaml_failv(vg_context *ctx, const char *path, const yaml_node_t *n,
                   const char *fmt, va_list ap);
int vgi_yaml_fail(vg_context *ctx, const char *path, const yaml_node_t *n,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* vgi_yaml_fail for a loader l with the fields ctx and path (the config
 * loaders' structs). */
#define VGI_YAML_AT(l, n, ...)                                                 \
    vgi_yaml_fail((l)->ctx, (l)->path, (n), __VA_ARGS__)

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
