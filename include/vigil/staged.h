/*
 * vg_staged_run: the staged multi-model job. Three models run one after the
 * other over the frames of every input, each in its own stage, so that only
 * one of them needs to be resident at a time:
 *
 *   stage 0  detector (person boxes)      -> OUT/staged/persons.tsv
 *   stage 1  face detector on the upper
 *            half of each person box      -> OUT/staged/faces.tsv
 *   stage 2  face embedder on each face   -> OUT/faces.jsonl
 *
 * Each stage acquires its model from the residency manager, which loads it
 * under the budget (evicting what the policies allow) and, for models with
 * the unload_after_stage policy, unloads it when the stage releases it. The
 * stages hand over through files, so nothing grows with the input in memory.
 * Every frame_step-th frame of each input is used (staged options).
 *
 * The process's peak RSS is measured per stage (the kernel's high-water mark
 * is reset at each stage start through /proc/self/clear_refs), with the
 * footprint of the stage's model, so that the report can show the peak under
 * the budget beside what all models resident together would have needed.
 *
 * Memory: the per-frame path allocates nothing (pools and handles are made
 * when a stage starts). Returns 0, VG_ETRUNCATED (an input was cut off; the
 * frames before the cut went through every stage) or the first error (the
 * message in ctx); a stage whose model is refused by the budget stops the
 * job with VG_ENOMEM.
 */
#ifndef VIGIL_STAGED_H
#define VIGIL_STAGED_H

#include <stdint.h>

#include "vigil/job.h"
#include "vigil/residency.h"

#define VG_STAGES 3

typedef struct vg_staged_stats {
    int n_inputs;
    struct {
        int64_t frames_read; /* decoded in stage 0 */
        int64_t frames_used; /* every frame_step-th */
        int64_t persons;     /* stage 0 boxes kept */
        int64_t faces;       /* stage 1 faces */
        int64_t embeddings;  /* stage 2 embeddings written */
        int end_code;        /* 0, VG_ETRUNCATED or an error */
    } input[VG_JOB_MAX_INPUTS];
    struct {
        char model[VG_MODEL_NAME_MAX];
        double wall_s;
        uint64_t peak_rss_bytes;   /* process high-water mark in the stage */
        uint64_t model_host_bytes; /* the stage model's footprint */
        uint64_t start_rss_bytes;  /* RSS when the stage began */
    } stage[VG_STAGES];
    uint64_t baseline_rss_bytes; /* RSS when the job began */
    uint64_t peak_rss_bytes;     /* the job's peak: max over the stages */
    /* What the peak would have been with every model resident at once:
     * baseline + every model's footprint + the largest stage's buffers
     * (its peak minus its baseline and model). */
    uint64_t all_resident_estimate_bytes;
    int stopped; /* should_stop ended the job */
} vg_staged_stats;

/* Runs the staged job of job (kind staged; its models added to r) over
 * inputs, writing to out_dir (created). should_stop (may be NULL) is polled
 * once per frame. st may be NULL. */
int vg_staged_run(vg_context *ctx, vg_residency *r, const vg_job_config *job,
                  const char *const *inputs, int n_inputs, const char *out_dir,
                  int (*should_stop)(void *user), void *user,
                  vg_staged_stats *st);

#endif
