/* Internal helpers shared by the io module's files. */
#ifndef VIGIL_IO_SOURCE_INTERNAL_H
#define VIGIL_IO_SOURCE_INTERNAL_H

/* Reads the picture size from the header of a PNG or JPEG file without
 * decoding it. Returns 0 and sets *w, *h when path is such a file with a
 * readable header, -1 otherwise. Reads at most the header's bytes. */
int vgi_sniff_image_size(const char *path, int *w, int *h);

#endif
