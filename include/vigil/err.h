/*
 * vigil error codes.
 *
 *   int rc = vg_source_open(ctx, path, &opts, &src);
 *   if (rc < 0)
 *       fprintf(stderr, "%s: %s\n", vg_errname(rc), vg_context_errmsg(ctx));
 *
 * Every fallible vigil function returns 0 on success or one of the negative
 * codes below. vg_strerror() gives a fixed description of a code; the message
 * of a particular failure (naming the input and the cause) is kept by the
 * vg_context or handle that failed.
 */
#ifndef VIGIL_ERR_H
#define VIGIL_ERR_H

#define VG_ERRORS(X)                                                           \
    X(VG_OK, 0, "success")                                                     \
    X(VG_EINVAL, -1, "invalid argument")                                       \
    X(VG_ENOMEM, -2, "out of memory")                                          \
    X(VG_ENOENT, -3, "no such file or directory")                              \
    X(VG_EIO, -4, "input/output error")                                        \
    X(VG_EFORMAT, -5, "unrecognised or corrupt data")                          \
    X(VG_ECODEC, -6, "codec not available")                                    \
    X(VG_ETRUNCATED, -7, "input is truncated")                                 \
    X(VG_ETIMEOUT, -8, "timed out")                                            \
    X(VG_EMODEL, -9, "model cannot be loaded")                                 \
    X(VG_EHEAD, -10, "model outputs match no detection head")                  \
    X(VG_ERANGE, -11, "value out of range")                                    \
    X(VG_EOF, -12, "end of stream")                                            \
    X(VG_EAGAIN, -13, "resource temporarily unavailable")                      \
    X(VG_ECONFIG, -14, "invalid configuration")                                \
    X(VG_ENOTSUP, -15, "not supported")                                        \
    X(VG_EINFER, -16, "inference failed")                                      \
    X(VG_ENET, -17, "network error")                                           \
    X(VG_ECLOSED, -18, "closed")                                               \
    X(VG_EBUSY, -19, "resource busy")                                          \
    X(VG_EEXIST, -20, "already exists")                                        \
    X(VG_EINTR, -21, "interrupted")                                            \
    X(VG_ENOSPC, -22, "no space left on device")

enum vg_err {
#define VG_ERR_ENUM(name, value, text) name = value,
    VG_ERRORS(VG_ERR_ENUM)
#undef VG_ERR_ENUM
};

/* Fixed English description of a code; never NULL ("unknown error"). */
const char *vg_strerror(int code);

/* Symbolic name of a code ("VG_ENOMEM"); never NULL ("VG_E?"). */
const char *vg_errname(int code);

#endif
