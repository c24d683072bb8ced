/*
 * Small file-system helpers shared by the sinks and the CLI: output files
 * that never follow a symbolic link, free-space queries and the lock that
 * keeps two runs out of one output directory.
 *
 *   if (vg_mkdirs("out/snapshots") < 0) perror("out/snapshots");
 *
 *   vg_outdir_lock *lock;
 *   if (vg_outdir_lock_take(ctx, "out", &lock) < 0) ... // "out: in use by
 *                                                       // another vigil run"
 *   FILE *f;
 *   if (vg_fopen_output(ctx, "out/tracks.txt", "w", &f) < 0) ...
 *   vg_output_file rep;
 *   if (vg_output_begin(ctx, "out/report.json", &rep) == 0) {
 *       fprintf(rep.f, ...);
 *       vg_output_commit(ctx, &rep);   // complete file or the old one
 *   }
 *   vg_outdir_lock_release(&lock);
 *
 * Output files: every file vigil creates or appends to is opened with
 * O_NOFOLLOW | O_CLOEXEC. When the name is a symbolic link the open fails
 * with the one-line message "PATH: is a symbolic link; vigil does not write
 * through links" and the link and its target are left untouched.
 *
 * Thread-safety: every function is thread-safe (they share no state).
 */
#ifndef VIGIL_FSUTIL_H
#define VIGIL_FSUTIL_H

#include <stdint.h>
#include <stdio.h>

#include "vigil/context.h"

/* Creates path and its missing parents (mode 0755), like `mkdir -p`.
 * Returns 0 (also when it exists) or -1 with errno set. Thread-safe. */
int vg_mkdirs(const char *path);

/* Opens path with open(2) flags (O_WRONLY/O_RDWR, O_CREAT, O_TRUNC,
 * O_APPEND...) plus O_NOFOLLOW | O_CLOEXEC, mode 0644. Returns 0 and the
 * descriptor in *fd, or VG_EIO with a message naming path and the cause in
 * ctx (a symbolic link: see above); *fd is -1 on failure. */
int vg_open_output(vg_context *ctx, const char *path, int flags, int *fd);

/* The same as a stdio stream: mode "w" (create/truncate), "a" (create/
 * append) or "r+" (no create). Returns 0 or VG_EIO / VG_ENOMEM with a
 * message; *out is NULL on failure. The caller fcloses. */
int vg_fopen_output(vg_context *ctx, const char *path, const char *mode,
                    FILE **out);

/* 0 when path does not exist or is not a symbolic link; VG_EIO with the
 * link message in ctx when it is one. For files opened by other libraries
 * (SQLite). */
int vg_refuse_link(vg_context *ctx, const char *path);

/* A file written whole or not at all: begin writes to a hidden temporary
 * beside path, commit checks every write, closes and renames it over path.
 * Fields are read-only for the caller except f. */
typedef struct vg_output_file {
    FILE *f;
    char path[1024];
    char tmp[1100];
} vg_output_file;

/* Refuses a link at path, creates the temporary (O_EXCL | O_NOFOLLOW).
 * Returns 0 or VG_EIO / VG_EINVAL with a message; o->f is NULL on failure. */
int vg_output_begin(vg_context *ctx, const char *path, vg_output_file *o);

/* Flushes, checks for write errors, closes and renames into place. Returns
 * 0, or VG_ENOSPC / VG_EIO with a message naming the file and the cause;
 * on failure the temporary is removed and path is left as it was. */
int vg_output_commit(vg_context *ctx, vg_output_file *o);

/* Closes and removes the temporary; accepts a file never begun. */
void vg_output_abort(vg_output_file *o);

/* Bytes available to an unprivileged writer on the file system holding
 * path. Returns 0 or -1 with errno set. */
int vg_free_bytes(const char *path, uint64_t *bytes);

/* 1 when errno value e means the device or quota is full. */
int vg_errno_is_full(int e);

typedef struct vg_outdir_lock vg_outdir_lock;

/* Takes DIR/.vigil.lock (created with O_NOFOLLOW, flock LOCK_EX | LOCK_NB,
 * this process's pid written inside). Returns 0, VG_EBUSY ("DIR: in use by
 * another vigil run (pid N)"), VG_EIO or VG_ENOMEM with a message in ctx;
 * *out is NULL on failure. The lock lasts until vg_outdir_lock_release or
 * the process ends (also on kill -9: the kernel drops it). */
int vg_outdir_lock_take(vg_context *ctx, const char *dir, vg_outdir_lock **out);

/* Releases the lock (the file stays), frees and sets *lock to NULL; accepts
 * NULL. */
void vg_outdir_lock_release(vg_outdir_lock **lock);

/* Writes s to f as a JSON string (quotes, escapes for '"', '\\' and
 * control characters). */
void vg_json_string(FILE *f, const char *s);

#endif
