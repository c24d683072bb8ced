/*
 * vg_job_config: what a config file says about the job as a whole: which job
 * it is (the CCTV monitor or the staged multi-model job), its default inputs,
 * its memory budget and the models it declares. Read from the top-level
 * sections `job`, `inputs`, `memory`, `models` and `staged` of the same YAML
 * file vg_settings_load and vg_rules_load read (each ignores the others'
 * sections).
 *
 *   job: cctv | staged            # default cctv
 *   inputs: [vtest.avi, ...]      # used when the command line names none;
 *                                 # relative names are looked up in the
 *                                 # video cache, then beside the config
 *   memory:
 *     host: 256MiB                # whole-process host budget (0: none)
 *     device: 4GiB                # device budget (0: none)
 *     margin: 0.05                # fraction of each budget kept free
 *     calibration: PATH           # default $VIGIL_CACHE/calibration.tsv
 *   models:
 *     - name: detector
 *       kind: detector | face_detector | face_embedder | other
 *       path: nanodet.onnx        # relative: the model cache, then beside
 *                                 # the config
 *       policy: pinned | keep_alive | unload_after_stage
 *       keep_alive: 300           # seconds (keep_alive policy)
 *       stage: 0                  # staged job: the stage that runs it
 *       batch: 1
 *       input: [416, 416]         # width, height it runs at (default: as
 *                                 # the model declares)
 *       providers: [cuda, cpu]    # default: runtime.providers
 *       variants: {fp16: nanodet-fp16.onnx, int8: nanodet-int8.onnx}
 *   staged:                       # the staged job's knobs
 *     frame_step: 5               # every Nth frame of each input
 *     max_frames: 0               # frames read per input (0: all)
 *     person_score: 0.4
 *     max_persons: 8              # per frame, largest first
 *     face_score: 0.75
 *     max_faces: 4                # per person crop
 *
 * A CCTV config that declares no model gets one: `detector` from the
 * detector section's model, pinned (vg_job_config_finish).
 */
#ifndef VIGIL_JOB_H
#define VIGIL_JOB_H

#include <stdint.h>

#include "vigil/config.h"
#include "vigil/residency.h"
#include "vigil/schema.h"

#define VG_JOB_MAX_INPUTS 64

enum vg_job_kind { VG_JOB_CCTV = 0, VG_JOB_STAGED = 1 };

typedef struct vg_staged_opts {
    int frame_step;     /* (5) */
    int64_t max_frames; /* frames read per input, 0: all (0) */
    float person_score; /* (0.4) */
    int max_persons;    /* (8) */
    float face_score;   /* (0.75) */
    int max_faces;      /* (4) */
} vg_staged_opts;

/* The schema of the staged: section (include/vigil/schema.h; offsets into
 * vg_staged_opts); *n gets the count. */
const vg_option *vg_job_staged_schema(int *n);

typedef struct vg_job_config {
    int kind; /* enum vg_job_kind */
    char inputs[VG_JOB_MAX_INPUTS][VG_PATH_MAX];
    int n_inputs;
    vg_memory_budget budget;
    int budget_host_set, budget_device_set; /* given in the file */
    vg_model_decl models[VG_MAX_MODELS];
    int n_models;
    vg_staged_opts staged;
} vg_job_config;

void vg_job_config_default(vg_job_config *c);

/* Reads the job sections of path over c (call vg_job_config_default first).
 * Model entries start from the session options of s (threads, providers,
 * arena, spinning). Returns 0, VG_ENOENT or VG_ECONFIG with FILE:LINE:COL. */
int vg_job_config_load(vg_context *ctx, const char *path, const vg_settings *s,
                       vg_job_config *c);

/* Completes c after loading: a CCTV job without models gets `detector` (the
 * settings' model, pinned). Checks that the job has the models it needs
 * (staged: one detector, one face_detector, one face_embedder). Returns 0 or
 * VG_ECONFIG. */
int vg_job_config_finish(vg_context *ctx, vg_job_config *c,
                         const vg_settings *s, const char *config_path);

/* Index of the first model of kind, or -1. */
int vg_job_config_find(const vg_job_config *c, int kind);

const char *vg_job_kind_name(int kind);

/* Calibration key of the process baseline of a job kind ("runtime:cctv",
 * "runtime:staged"): written by `vigil run`, read by the planner. */
const char *vg_job_runtime_key(int kind);

#endif
