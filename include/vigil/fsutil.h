/*
 * Small file-system helpers shared by the sinks and the CLI.
 *
 *   if (vg_mkdirs("out/snapshots") < 0) perror("out/snapshots");
 */
#ifndef VIGIL_FSUTIL_H
#define VIGIL_FSUTIL_H

/* Creates path and its missing parents (mode 0755), like `mkdir -p`.
 * Returns 0 (also when it exists) or -1 with errno set. Thread-safe. */
int vg_mkdirs(const char *path);

#endif
