/*
 * Test fixtures for the io tests, generated at test time into a temporary
 * directory (no binary media is kept in the repository).
 */
#ifndef VIGIL_TESTS_IO_FIXTURES_H
#define VIGIL_TESTS_IO_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

/* Makes a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path
 * or NULL. io_tmpdir_remove deletes it and its files, and frees dir. */
char *io_tmpdir_create(void);
void io_tmpdir_remove(char *dir);

/* dir/name into buf; returns buf. */
char *io_path(char *buf, size_t n, const char *dir, const char *name);

/* $VIGIL_CACHE/videos/<name> into buf when the file exists, else NULL. */
const char *io_cache_video(char *buf, size_t n, const char *name);

/* Runs `ffmpeg -nostdin -hide_banner -loglevel error -y ARGS`; returns its
 * exit status (0 on success). */
int io_ffmpeg(const char *args);

/* Writes n bytes of data to path; 0 or -1. */
int io_write_file(const char *path, const void *data, size_t n);

/* Copies the first `fraction` (0..1) of src's bytes to dst; 0 or -1. */
int io_copy_prefix(const char *src, const char *dst, double fraction);

/* Rewrites the video stream's codec fourcc of the AVI file at path (the strh
 * handler and the strf biCompression) to fcc; 0 or -1 when not found. */
int io_patch_avi_fourcc(const char *path, const char fcc[4]);

/* Writes a PNG of w x h that holds only its header (IHDR, IEND): enough for
 * a prober to read the size, nothing to decode. 0 or -1. */
int io_write_png_header_only(const char *path, uint32_t w, uint32_t h);

/* Writes a valid, all-black RGB PNG of w x h whose pixel data is one
 * hand-made deflate stream (about w * h * 3 / 160 bytes), so that a huge
 * picture is cheap to make but really decodes. 0 or -1. */
int io_write_png_black(const char *path, uint32_t w, uint32_t h);

/* Sets every sample duration (stts sample_delta) of the MP4 file at path to
 * 0; 0, or -1 when the file has no stts box. */
int io_patch_mp4_zero_durations(const char *path);

/* Makes the AVI file at path declare rate / scale frames per second (the
 * video strh dwRate, dwScale and the avih microseconds per frame). 0 or
 * -1. */
int io_patch_avi_rate(const char *path, uint32_t rate, uint32_t scale);

/* A TCP socket on 127.0.0.1 that completes connections (the kernel's backlog)
 * but never answers. Returns the socket (close it) and sets *port, or -1. */
int io_silent_server_open(int *port);

#endif
