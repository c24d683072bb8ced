/*
 * The `cameras:` section of a config file: the cameras of a job or of
 * `vigil serve`, each with its input and its own zones, rules and detection
 * settings (issue 10). The other sections (include/vigil/config.h) are the
 * defaults every camera inherits.
 *
 *   cameras:
 *     - name: gate            # [A-Za-z0-9_-], unique
 *       input: rtsp://10.0.0.5/stream1
 *       loop: false           # files: start again at the end
 *       detect: {fps: 5}
 *       motion: {enabled: true}
 *       tracker: {reid: true} # conditional re-identification for this one
 *       zones: [...]          # as the top-level zones:/rules:
 *       rules: [...]
 *
 * CONTRACT (lead): the names below are used by the serve and MQTT code;
 * the config owner implements them and may add fields.
 */
#ifndef VIGIL_CAMERAS_H
#define VIGIL_CAMERAS_H

#include <stddef.h>

#include "vigil/config.h"
#include "vigil/context.h"
#include "vigil/rules.h"

#define VG_CAMERAS_MAX 64

typedef struct vg_camera_config {
    char name[64];
    char input[VG_PATH_MAX];
    int loop;              /* files only: start again at the end */
    double detect_fps;     /* -2: inherit the top-level detect.fps */
    int motion_enabled;    /* -1: inherit */
    int reid_enabled;      /* -1: inherit tracker.reid */
    int has_rules;         /* 1: zones/rules given for this camera */
    vg_rules_config rules; /* owned; vg_cameras_free releases */
    int line, column;      /* of the camera in the config file (1-based) */
} vg_camera_config;

typedef struct vg_cameras {
    int n;
    vg_camera_config *cam; /* n entries, owned (ctx allocator) */
} vg_cameras;

/* Reads the `cameras:` section of path into out (empty when absent).
 * Returns 0 or VG_ECONFIG with "FILE:LINE:COL: ..." in ctx. The caller
 * releases out with vg_cameras_free. */
int vg_cameras_load(vg_context *ctx, const char *path, vg_cameras *out);
void vg_cameras_free(vg_context *ctx, vg_cameras *c);

/* The schema (include/vigil/schema.h) of one camera's keys ("cameras[]"),
 * offsets into vg_camera_config; *n gets the count. */
const vg_option *vg_cameras_schema(int *n);

/* The camera named name in c, or NULL. */
const vg_camera_config *vg_cameras_find(const vg_cameras *c, const char *name);

/* 1 when name is a valid camera name: 1 to 63 characters of A-Z, a-z, 0-9,
 * '_' and '-' (safe in file names, URLs and MQTT topics); else 0. */
int vg_camera_name_valid(const char *name);

/* Zones and rules from a request body (JSON, or YAML flow/block text):
 * {"zones": [...], "rules": [...]} with the same schema as the config file.
 * Errors name the field path, e.g. "NAME: zones[1].polygon: at most 64
 * points". Returns 0, VG_ECONFIG, VG_ENOMEM. */
int vg_rules_parse_text(vg_context *ctx, const char *name, const char *text,
                        size_t len, vg_rules_config *cfg);

/* Writes cfg as JSON ({"zones": [...], "rules": [...]}) into buf; returns
 * the length, or VG_ERANGE when cap is too small. */
int vg_rules_config_to_json(const vg_rules_config *cfg, char *buf, size_t cap);

/* Replaces camera's zones and rules in the config file at path (other
 * text, comments included, kept), atomically (temporary file + rename).
 * Returns 0, VG_ENOENT (no such camera), VG_EIO, VG_ECONFIG. */
int vg_config_save_camera_rules(vg_context *ctx, const char *path,
                                const char *camera, const vg_rules_config *cfg);

#endif
