#include "vigil/frame.h"

#include <string.h>

void vg_frame_release(vg_frame *f)
{
    if (!f)
        return;
    vg_buf_unref(&f->tensor);
    vg_buf_unref(&f->image);
    memset(f, 0, sizeof(*f));
}
