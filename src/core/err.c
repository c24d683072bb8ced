#include "vigil/err.h"

const char *vg_strerror(int code)
{
    switch (code) {
#define VG_ERR_TEXT(name, value, text)                                         \
    case value:                                                                \
        return text;
        VG_ERRORS(VG_ERR_TEXT)
#undef VG_ERR_TEXT
    }
    return "unknown error";
}

const char *vg_errname(int code)
{
    switch (code) {
#define VG_ERR_NAME(name, value, text)                                         \
    case value:                                                                \
        return #name;
        VG_ERRORS(VG_ERR_NAME)
#undef VG_ERR_NAME
    }
    return "VG_E?";
}
