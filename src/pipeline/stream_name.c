/*
 * Stream names: every input of a job gets a distinct, stable name that its
 * events carry and its output files are named by. See vg_stream_names in
 * include/vigil/run.h.
 */
#include <stdio.h>
#include <string.h>

#include "vigil/run.h"

/* The input's path part: a URL loses its scheme, user info, query and
 * fragment, so that "rtsp://u:p@host:554/cam?x=1" reads as "host:554/cam". */
static void path_part(const char *input, char *out, size_t size)
{
    const char *p = strstr(input, "://");
    const char *at;
    size_t n;

    p = p ? p + 3 : input;
    at = strchr(p, '@');
    if (at && (!strchr(p, '/') || at < strchr(p, '/')))
        p = at + 1;
    n = strcspn(p, "?#");
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    /* trailing slashes say nothing */
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
}

/* Appends component c (n bytes) to out as [A-Za-z0-9_-] only, other bytes
 * becoming '_'; the extension is dropped when strip_ext. */
static void put_component(char *out, size_t size, const char *c, size_t n,
                          int strip_ext)
{
    size_t len = strlen(out);

    if (strip_ext) {
        const char *dot = NULL;
        for (size_t i = 1; i < n; i++)
            if (c[i] == '.')
                dot = c + i;
        if (dot)
            n = (size_t)(dot - c);
    }
    for (size_t i = 0; i < n && len + 1 < size; i++) {
        unsigned char ch = (unsigned char)c[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        out[len++] = ok ? (char)ch : '_';
    }
    out[len] = '\0';
}

/* The name made of the last `depth` components of the input's path (1: the
 * base name without extension). Returns the number of components used
 * (fewer than depth when the path has no more). */
static int name_at_depth(const char *input, int depth, char *out, size_t size)
{
    char path[VG_STREAM_NAME_MAX * 4];
    const char *starts[64];
    int n = 0, used;
    const char *p;

    path_part(input, path, sizeof(path));
    for (p = path; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        if (n < 64)
            starts[n++] = p;
        while (*p && *p != '/')
            p++;
    }
    out[0] = '\0';
    if (n == 0) {
        put_component(out, size, "input", 5, 0);
        return 1;
    }
    used = depth < n ? depth : n;
    for (int k = n - used; k < n; k++) {
        size_t len = strcspn(starts[k], "/");
        if (out[0])
            put_component(out, size, "_", 1, 0);
        put_component(out, size, starts[k], len, k == n - 1);
    }
    if (!out[0])
        put_component(out, size, "input", 5, 0);
    return used;
}

/* 1 when another input has the same name; with distinct_only, only one
 * that is a different input (the same input twice is told apart later). */
static int clashes(const char *const *inputs, char (*names)[VG_STREAM_NAME_MAX],
                   int n, int i, int distinct_only)
{
    for (int k = 0; k < n; k++)
        if (k != i && !strcmp(names[k], names[i]) &&
            (!distinct_only || strcmp(inputs[k], inputs[i]) != 0))
            return 1;
    return 0;
}

int vg_stream_names(vg_context *ctx, const char *const *inputs, int n,
                    char (*names)[VG_STREAM_NAME_MAX])
{
    int depth[VG_RUN_MAX_STREAMS];

    if (n < 0 || n > VG_RUN_MAX_STREAMS || (n > 0 && (!inputs || !names)))
        return vg_fail(ctx, VG_EINVAL, "stream names: %d inputs (1..%d)", n,
                       VG_RUN_MAX_STREAMS);
    for (int i = 0; i < n; i++) {
        depth[i] = 1;
        name_at_depth(inputs[i], 1, names[i], VG_STREAM_NAME_MAX);
    }
    /* Colliding names take one more parent component at a time, while that
     * still tells them apart ("a/cam.mp4", "b/cam.mp4" → a_cam, b_cam). */
    for (int round = 0; round < 8; round++) {
        int clash[VG_RUN_MAX_STREAMS];
        int changed = 0;
        /* decide who clashes before renaming anyone, so both of a pair
         * grow */
        for (int i = 0; i < n; i++)
            clash[i] = clashes(inputs, names, n, i, 1);
        for (int i = 0; i < n; i++) {
            if (!clash[i])
                continue;
            if (name_at_depth(inputs[i], depth[i] + 1, names[i],
                              VG_STREAM_NAME_MAX) > depth[i]) {
                depth[i]++;
                changed = 1;
            }
        }
        if (!changed)
            break;
    }
    /* What is still equal (the same input twice) gets -2, -3, ... in the
     * order of the inputs; the first keeps its name. */
    for (int i = 0; i < n; i++) {
        unsigned k = 2;
        char base[VG_STREAM_NAME_MAX - 8];
        int dup = 0;
        for (int j = 0; j < i; j++)
            if (!strcmp(names[j], names[i]))
                dup = 1;
        if (!dup)
            continue;
        snprintf(base, sizeof(base), "%s", names[i]);
        do {
            snprintf(names[i], VG_STREAM_NAME_MAX, "%s-%u", base,
                     (k++) % 100000u);
        } while (clashes(inputs, names, n, i, 0));
    }
    return 0;
}
