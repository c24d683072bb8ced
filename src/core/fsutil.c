#include "vigil/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "vigil/err.h"

int vg_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf)) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int is_link(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode);
}

static int link_message(vg_context *ctx, const char *path)
{
    return vg_fail(ctx, VG_EIO,
                   "%s: is a symbolic link; vigil does not write through "
                   "links",
                   path);
}

int vg_refuse_link(vg_context *ctx, const char *path)
{
    return is_link(path) ? link_message(ctx, path) : 0;
}

int vg_errno_is_full(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EFBIG;
}

int vg_open_output(vg_context *ctx, const char *path, int flags, int *fd)
{
    int e;

    *fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (*fd >= 0)
        return 0;
    e = errno;
    if (e == ELOOP && is_link(path))
        return link_message(ctx, path);
    return vg_fail(ctx, vg_errno_is_full(e) ? VG_ENOSPC : VG_EIO,
                   "%s: cannot open for writing: %s", path, strerror(e));
}

int vg_fopen_output(vg_context *ctx, const char *path, const char *mode,
                    FILE **out)
{
    int flags, fd, rc;

    *out = NULL;
    if (!strcmp(mode, "w"))
        flags = O_WRONLY | O_CREAT | O_TRUNC;
    else if (!strcmp(mode, "a"))
        flags = O_WRONLY | O_CREAT | O_APPEND;
    else if (!strcmp(mode, "r+"))
        flags = O_RDWR;
    else
        return vg_fail(ctx, VG_EINVAL, "%s: invalid output mode \"%s\"", path,
                       mode);
    if ((rc = vg_open_output(ctx, path, flags, &fd)) < 0)
        return rc;
    *out = fdopen(fd, mode);
    if (!*out) {
        int e = errno;
        close(fd);
        return vg_fail(ctx, VG_ENOMEM, "%s: cannot open stream: %s", path,
                       strerror(e));
    }
    return 0;
}

int vg_output_begin(vg_context *ctx, const char *path, vg_output_file *o)
{
    int n, fd, rc;

    memset(o, 0, sizeof(*o));
    n = snprintf(o->path, sizeof(o->path), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(o->path))
        return vg_fail(ctx, VG_EINVAL, "%s: path too long", path);
    if ((rc = vg_refuse_link(ctx, path)) < 0)
        return rc;
    {
        /* hidden temporary in the same directory: .NAME.PID.tmp */
        const char *slash = strrchr(o->path, '/');
        int dir_len = slash ? (int)(slash - o->path) + 1 : 0;
        snprintf(o->tmp, sizeof(o->tmp), "%.*s.%s.%ld.tmp", dir_len, o->path,
                 o->path + dir_len, (long)getpid());
    }
    unlink(o->tmp); /* a stale one from a crashed run with the same pid */
    rc = vg_open_output(ctx, o->tmp, O_WRONLY | O_CREAT | O_EXCL, &fd);
    if (rc < 0) {
        o->tmp[0] = '\0';
        return rc;
    }
    o->f = fdopen(fd, "w");
    if (!o->f) {
        close(fd);
        unlink(o->tmp);
        o->tmp[0] = '\0';
        return vg_fail(ctx, VG_ENOMEM, "%s: cannot open stream", path);
    }
    return 0;
}

int vg_output_commit(vg_context *ctx, vg_output_file *o)
{
    int e = 0, rc;

    if (!o->f)
        return vg_fail(ctx, VG_EINVAL, "%s: not begun", o->path);
    if (fflush(o->f) != 0 || ferror(o->f))
        e = errno ? errno : EIO;
    if (fclose(o->f) != 0 && e == 0)
        e = errno ? errno : EIO;
    o->f = NULL;
    if (e == 0 && rename(o->tmp, o->path) == 0) {
        o->tmp[0] = '\0';
        return 0;
    }
    if (e == 0) {
        e = errno;
        rc = vg_fail(ctx, vg_errno_is_full(e) ? VG_ENOSPC : VG_EIO,
                     "%s: cannot rename into place: %s", o->path, strerror(e));
    } else {
        rc = vg_fail(ctx, vg_errno_is_full(e) ? VG_ENOSPC : VG_EIO,
                     "%s: write failed: %s", o->path, strerror(e));
    }
    unlink(o->tmp);
    o->tmp[0] = '\0';
    return rc;
}

void vg_output_abort(vg_output_file *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp[0])
        unlink(o->tmp);
    o->tmp[0] = '\0';
}

int vg_free_bytes(const char *path, uint64_t *bytes)
{
    struct statvfs sv;

    if (statvfs(path, &sv) != 0)
        return -1;
    *bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    return 0;
}

struct vg_outdir_lock {
    vg_context *ctx;
    int fd;
};

int vg_outdir_lock_take(vg_context *ctx, const char *dir, vg_outdir_lock **out)
{
    char path[4096], buf[32];
    vg_outdir_lock *l;
    int fd, rc, n;

    *out = NULL;
    n = snprintf(path, sizeof(path), "%s/.vigil.lock", dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return vg_fail(ctx, VG_EINVAL, "%s: path too long", dir);
    if ((rc = vg_open_output(ctx, path, O_RDWR | O_CREAT, &fd)) < 0)
        return rc;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long pid = 0;
        ssize_t k;
        if (e != EWOULDBLOCK) {
            close(fd);
            return vg_fail(ctx, VG_EIO, "%s: cannot lock: %s", path,
                           strerror(e));
        }
        k = pread(fd, buf, sizeof(buf) - 1, 0);
        close(fd);
        if (k > 0) {
            buf[k] = '\0';
            sscanf(buf, "%ld", &pid);
        }
        if (pid > 0)
            return vg_fail(ctx, VG_EBUSY,
                           "%s: in use by another vigil run (pid %ld)", dir,
                           pid);
        return vg_fail(ctx, VG_EBUSY, "%s: in use by another vigil run", dir);
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        /* the lock holds without the pid; only the message loses it */
        vg_log(ctx, VG_LOG_WARN, "%s: cannot record the pid: %s", path,
               strerror(errno));
    }
    l = vg_calloc(ctx, 1, sizeof(*l));
    if (!l) {
        close(fd);
        return vg_fail(ctx, VG_ENOMEM, "%s: out of memory", path);
    }
    l->ctx = ctx;
    l->fd = fd;
    *out = l;
    return 0;
}

void vg_outdir_lock_release(vg_outdir_lock **lp)
{
    vg_outdir_lock *l;

    if (!lp || !*lp)
        return;
    l = *lp;
    *lp = NULL;
    flock(l->fd, LOCK_UN);
    close(l->fd);
    vg_free(l->ctx, l);
}

void vg_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}
