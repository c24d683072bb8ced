/* Model declarations, byte sizes and the calibration file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/parse.h"
#include "vigil/residency.h"

#define VG_CALIBRATION_KEY_VERSION "v2"
#define VG_CALIBRATION_MAX_LINES 512

const char *vg_model_policy_name(int policy)
{
    switch (policy) {
    case VG_POLICY_PINNED:
        return "pinned";
    case VG_POLICY_KEEP_ALIVE:
        return "keep_alive";
    case VG_POLICY_UNLOAD_AFTER_STAGE:
        return "unload_after_stage";
    default:
        return "unknown";
    }
}

int vg_model_policy_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (!strcmp(s, "pinned"))
        return VG_POLICY_PINNED;
    if (!strcmp(s, "keep_alive"))
        return VG_POLICY_KEEP_ALIVE;
    if (!strcmp(s, "unload_after_stage"))
        return VG_POLICY_UNLOAD_AFTER_STAGE;
    return -1;
}

const char *vg_model_kind_name(int kind)
{
    switch (kind) {
    case VG_MODEL_DETECTOR:
        return "detector";
    case VG_MODEL_FACE_DETECTOR:
        return "face_detector";
    case VG_MODEL_FACE_EMBEDDER:
        return "face_embedder";
    case VG_MODEL_OTHER:
        return "other";
    default:
        return "unknown";
    }
}

int vg_model_kind_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int k = VG_MODEL_DETECTOR; k <= VG_MODEL_OTHER; k++)
        if (!strcmp(s, vg_model_kind_name(k)))
            return k;
    return -1;
}

void vg_model_decl_default(vg_model_decl *d)
{
    memset(d, 0, sizeof(*d));
    d->kind = VG_MODEL_DETECTOR;
    d->policy = VG_POLICY_KEEP_ALIVE;
    d->keep_alive_s = 300.0;
    d->batch = 1;
    vg_session_opts_default(&d->session);
}

static void repoint(vg_model_decl *d)
{
    for (int i = 0; i < d->session.n_providers && i < VG_MAX_PROVIDERS; i++)
        d->session.providers[i] = d->providers_buf[i];
}

void vg_model_decl_copy(vg_model_decl *dst, const vg_model_decl *src)
{
    if (dst != src)
        memcpy(dst, src, sizeof(*dst));
    repoint(dst);
}

void vg_model_decl_set_providers(vg_model_decl *d, const char *const *names,
                                 int n)
{
    if (n > VG_MAX_PROVIDERS)
        n = VG_MAX_PROVIDERS;
    if (n < 0)
        n = 0;
    for (int i = 0; i < n; i++)
        snprintf(d->providers_buf[i], sizeof(d->providers_buf[i]), "%s",
                 names[i] ? names[i] : "");
    d->session.n_providers = n;
    repoint(d);
}

int vg_parse_bytes(const char *s, uint64_t *out)
{
    /* the one strict size parser (vigil/parse.h) */
    if (out == NULL || vg_parse_size(s, 0, UINT64_MAX, out) < 0)
        return VG_EINVAL;
    return 0;
}

const char *vg_format_bytes(uint64_t bytes, char *buf, size_t cap)
{
    if (bytes >= (1ull << 30))
        snprintf(buf, cap, "%.2f GiB", (double)bytes / (1ull << 30));
    else if (bytes >= (1ull << 20))
        snprintf(buf, cap, "%.1f MiB", (double)bytes / (1ull << 20));
    else if (bytes >= 1024)
        snprintf(buf, cap, "%.1f KiB", (double)bytes / 1024.0);
    else
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    return buf;
}

/* ---- calibration file ---------------------------------------------------- */

void vg_calibration_default_path(char *buf, size_t cap)
{
    const char *p = getenv("VIGIL_CALIBRATION");
    if (p != NULL && p[0] != '\0')
        snprintf(buf, cap, "%s", p);
    else
        vg_cache_path("calibration.tsv", buf, cap);
}

void vg_calibration_path(const vg_memory_budget *b, char *buf, size_t cap)
{
    if (b->calibration[0] != '\0')
        snprintf(buf, cap, "%s", b->calibration);
    else
        vg_calibration_default_path(buf, cap);
}

int vg_calibration_key(const vg_model_decl *d, char *buf, size_t cap)
{
    char real[PATH_MAX];
    char prov[64] = "";
    struct stat sb;
    size_t used = 0;

    if (realpath(d->path, real) == NULL || stat(real, &sb) != 0)
        return VG_ENOENT;
    for (int i = 0; i < d->session.n_providers; i++) {
        int n = snprintf(prov + used, sizeof(prov) - used, "%s%s", i ? "+" : "",
                         d->session.providers[i]);
        if (n < 0 || (size_t)n >= sizeof(prov) - used)
            break;
        used += (size_t)n;
    }
    /* The leading version changes whenever the way vigil measures does,
     * so that older lines are measured again instead of trusted. */
    snprintf(buf, cap,
             VG_CALIBRATION_KEY_VERSION "|%s|%lld|%lld|%s|b%d|%dx%d|t%d|a%d",
             real, (long long)sb.st_size, (long long)sb.st_mtime,
             prov[0] ? prov : "cpu", d->batch, d->input_w, d->input_h,
             d->session.intra_threads, d->session.mem_arena);
    return 0;
}

/* Parses one data line; returns 1 when its key is key (out filled). */
static int parse_line(char *line, const char *key, vg_calibration *out)
{
    char *fields[8];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, "\t\n", &save); t && n < 8;
         t = strtok_r(NULL, "\t\n", &save))
        fields[n++] = t;
    if (n < 7 || strcmp(fields[0], key) != 0)
        return 0;
    memset(out, 0, sizeof(*out));
    out->weights_bytes = strtoull(fields[1], NULL, 10);
    out->work_bytes = strtoull(fields[2], NULL, 10);
    out->device_bytes = strtoull(fields[3], NULL, 10);
    out->load_ms = strtod(fields[4], NULL);
    out->batch = atoi(fields[5]);
    snprintf(out->provider, sizeof(out->provider), "%s", fields[6]);
    return 1;
}

int vg_calibration_lookup(vg_context *ctx, const char *file, const char *key,
                          vg_calibration *out)
{
    char line[2048];
    int found = 0;
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return VG_ENOENT;
        return vg_fail(ctx, VG_EIO, "%s: cannot read calibration (%s)", file,
                       strerror(errno));
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#')
            continue;
        if (parse_line(line, key, out))
            found = 1; /* the last line of a key wins */
    }
    fclose(f);
    return found ? 0 : VG_ENOENT;
}

/* 1 when a model line can never match again: written by an older way of
 * measuring (another key version), or its file changed or is gone. */
static int stale_line(const char *line)
{
    char path[VG_PATH_MAX];
    long long size, mtime;
    struct stat sb;
    const char *p;
    if (strncmp(line, "runtime:", 8) == 0)
        return 0;
    if (strncmp(line, VG_CALIBRATION_KEY_VERSION "|",
                strlen(VG_CALIBRATION_KEY_VERSION) + 1) != 0)
        return 1;
    p = line + strlen(VG_CALIBRATION_KEY_VERSION) + 1;
    if (sscanf(p, "%1023[^|]|%lld|%lld|", path, &size, &mtime) != 3)
        return 1;
    return stat(path, &sb) != 0 || (long long)sb.st_size != size ||
           (long long)sb.st_mtime != mtime;
}

int vg_calibration_store(vg_context *ctx, const char *file, const char *key,
                         const vg_calibration *c)
{
    char tmp[VG_PATH_MAX + 32];
    char line[2048];
    size_t klen = strlen(key);
    FILE *in, *out;
    int fd, rc = 0;

    if (strchr(key, '\t') || strchr(key, '\n'))
        return vg_fail(ctx, VG_EINVAL, "calibration key has a tab or newline");
    {
        /* The cache directory may not exist yet. */
        char dir[VG_PATH_MAX];
        char *slash;
        snprintf(dir, sizeof(dir), "%s", file);
        slash = strrchr(dir, '/');
        if (slash != NULL && slash != dir) {
            *slash = '\0';
            mkdir(dir, 0755);
        }
    }
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file);
    fd = mkstemp(tmp);
    if (fd < 0)
        return vg_fail(ctx, VG_EIO, "%s: cannot write calibration (%s)", file,
                       strerror(errno));
    out = fdopen(fd, "w");
    if (out == NULL) {
        close(fd);
        unlink(tmp);
        return vg_fail(ctx, VG_EIO, "%s: cannot write calibration", file);
    }
    in = fopen(file, "r");
    if (in == NULL)
        fprintf(out, "# vigil calibration: measured model footprints "
                     "(docs/memory.md)\n# key\tweights_bytes\twork_bytes\t"
                     "device_bytes\tload_ms\tbatch\tprovider\n");
    else {
        /* Bounded: the newest VG_CALIBRATION_MAX_LINES lines are kept,
         * and lines that can no longer match are dropped. */
        long total = 0, skip;
        while (fgets(line, sizeof(line), in) != NULL)
            total += line[0] != '#';
        skip = total >= VG_CALIBRATION_MAX_LINES
                   ? total - VG_CALIBRATION_MAX_LINES + 1
                   : 0;
        rewind(in);
        while (fgets(line, sizeof(line), in) != NULL) {
            if (line[0] == '#') {
                fputs(line, out);
                continue;
            }
            if (skip > 0) {
                skip--;
                continue; /* the oldest go first */
            }
            if (strncmp(line, key, klen) == 0 && line[klen] == '\t')
                continue; /* replaced below */
            if (stale_line(line))
                continue;
            fputs(line, out);
        }
        fclose(in);
    }
    fprintf(out, "%s\t%llu\t%llu\t%llu\t%.1f\t%d\t%s\n", key,
            (unsigned long long)c->weights_bytes,
            (unsigned long long)c->work_bytes,
            (unsigned long long)c->device_bytes, c->load_ms, c->batch,
            c->provider[0] ? c->provider : "cpu");
    if (fflush(out) != 0 || ferror(out))
        rc = VG_EIO;
    fchmod(fd, 0644);
    if (fclose(out) != 0)
        rc = VG_EIO;
    if (rc == 0 && rename(tmp, file) != 0)
        rc = VG_EIO;
    if (rc < 0) {
        unlink(tmp);
        return vg_fail(ctx, rc, "%s: cannot write calibration (%s)", file,
                       strerror(errno));
    }
    return 0;
}

void vg_calibration_estimate(const vg_model_decl *d, uint64_t file_bytes,
                             int64_t input_elems, vg_calibration *out)
{
    int batch = d->batch > 0 ? d->batch : 1;
    memset(out, 0, sizeof(*out));
    out->weights_bytes = file_bytes + file_bytes / 4;
    if (input_elems < 0)
        input_elems = 0;
    out->work_bytes =
        (uint64_t)input_elems * sizeof(float) * (uint64_t)batch * 10u;
    out->batch = batch;
    snprintf(out->provider, sizeof(out->provider), "%s",
             d->session.n_providers > 0 ? d->session.providers[0] : "cpu");
}
