/*
 * Test helper: builds small ONNX models at test time with
 * tests/models/make_models.py (run by $VIGIL_PYTHON) into a private temporary
 * directory that model_dir_remove() deletes. Header-only so that only the
 * tests that include it carry it.
 */
#ifndef VIGIL_TESTS_MODEL_GEN_H
#define VIGIL_TESTS_MODEL_GEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct model_dir {
    char path[256];
} model_dir;

/* Creates the directory; returns 0 or -1. */
static inline int model_dir_create(model_dir *d)
{
    snprintf(d->path, sizeof(d->path), "/tmp/vigil-models-XXXXXX");
    return mkdtemp(d->path) != NULL ? 0 : -1;
}

static inline void model_dir_remove(model_dir *d)
{
    char cmd[300];
    if (d->path[0] == '\0')
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", d->path);
    d->path[0] = '\0';
}

/* Joins the directory and a file name into out. */
static inline const char *model_path(const model_dir *d, const char *name,
                                     char *out, size_t cap)
{
    char joined[512]; /* out may live in the same struct as d */
    snprintf(joined, sizeof(joined), "%s/%s", d->path, name);
    snprintf(out, cap, "%s", joined);
    return out;
}

/* Runs make_models.py with args (already quoted as needed); returns its exit
 * status (0 on success). */
static inline int model_make(const char *args)
{
    const char *py = getenv("VIGIL_PYTHON");
    const char *src = getenv("VIGIL_SRC");
    char cmd[4096];
    int n;
    if (py == NULL || py[0] == '\0')
        py = "/usr/bin/python3";
    if (src == NULL || src[0] == '\0')
        src = ".";
    n = snprintf(cmd, sizeof(cmd), "'%s' '%s/tests/models/make_models.py' %s",
                 py, src, args);
    if (n < 0 || (size_t)n >= sizeof(cmd))
        return -1;
    return system(cmd);
}

/* Writes n floats to path; returns 0 or -1. */
static inline int model_write_floats(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    size_t w;
    if (f == NULL)
        return -1;
    w = fwrite(v, sizeof(float), n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Appends " --output 'NAME=SHAPE:FILE'" to args (capacity cap) after writing
 * the n floats of v to DIR/NAME.bin: one constant output of a `const` model.
 * Returns 0 or -1. */
static inline int model_add_output(const model_dir *d, char *args, size_t cap,
                                   const char *name, const char *shape,
                                   const float *v, size_t n)
{
    char file[600];
    size_t len = strlen(args);
    snprintf(file, sizeof(file), "%s/%s.bin", d->path, name);
    if (model_write_floats(file, v, n) != 0)
        return -1;
    snprintf(args + len, cap - len, " --output '%s=%s:%s'", name, shape, file);
    return 0;
}

/* Makes a `const` model at path: input dims "1,3,H,W", the outputs added
 * with model_add_output. Returns make_models.py's status. */
static inline int model_make_const(const char *path, const char *input,
                                   const char *outputs)
{
    char args[4096];
    snprintf(args, sizeof(args), "const '%s' --input=%s %s", path, input,
             outputs);
    return model_make(args);
}

static inline int model_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

#endif
