/* TEMPORARY (removed when the livehooks and schema branches are merged):
 * weak stand-ins for the issue-10 contract functions other branches
 * implement, so that this branch links on its own. Each says it is not
 * there yet. */
#include <stdio.h>
#include <string.h>

#include "vigil/cameras.h"
#include "vigil/err.h"
#include "vigil/jobrun.h"

#define WEAK __attribute__((weak))

WEAK int vg_job_watch(vg_job *j, const char *camera, int delta)
{
    (void)j;
    (void)camera;
    (void)delta;
    return VG_ENOTSUP;
}

WEAK int vg_job_frame_get(vg_job *j, const char *camera, int max_width,
                          uint64_t *seq, uint8_t *buf, size_t cap, int *w,
                          int *h)
{
    (void)j, (void)camera, (void)max_width, (void)seq, (void)buf, (void)cap;
    (void)w, (void)h;
    return VG_ENOTSUP;
}

WEAK int vg_job_set_rules(vg_job *j, const char *camera,
                          const vg_rules_config *cfg)
{
    (void)j, (void)camera, (void)cfg;
    return VG_ENOTSUP;
}

WEAK const char *vg_job_out_dir(const vg_job *j)
{
    (void)j;
    return NULL;
}

WEAK int vg_cameras_load(vg_context *ctx, const char *path, vg_cameras *out)
{
    (void)path;
    memset(out, 0, sizeof(*out));
    (void)ctx;
    return 0;
}

WEAK void vg_cameras_free(vg_context *ctx, vg_cameras *c)
{
    (void)ctx;
    memset(c, 0, sizeof(*c));
}

WEAK int vg_rules_parse_text(vg_context *ctx, const char *name,
                             const char *text, size_t len, vg_rules_config *cfg)
{
    (void)text, (void)len, (void)cfg;
    return vg_fail(ctx, VG_ENOTSUP, "%s: rules from text not available", name);
}

WEAK int vg_rules_config_to_json(const vg_rules_config *cfg, char *buf,
                                 size_t cap)
{
    (void)cfg;
    return snprintf(buf, cap, "{\"zones\":[],\"rules\":[]}");
}

WEAK int vg_config_save_camera_rules(vg_context *ctx, const char *path,
                                     const char *camera,
                                     const vg_rules_config *cfg)
{
    (void)camera, (void)cfg;
    return vg_fail(ctx, VG_ENOTSUP, "%s: saving rules not available", path);
}
