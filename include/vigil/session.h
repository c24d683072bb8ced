/*
 * vg_session: one ONNX Runtime inference session with explicit options.
 *
 *   vg_session_opts so;
 *   vg_session_opts_default(&so);
 *   so.intra_threads = 2;
 *   vg_session *s;
 *   if (vg_session_create(ctx, "model.onnx", &so, &s) < 0) { ... }
 *   const float *outs[8]; ...
 *   vg_session_run(s, input, outs);
 *   vg_session_destroy(&s);
 *
 * Inputs and outputs are float32 (a model with another output type is refused
 * at load). Output buffers are owned by the session, reserved at load for the
 * model's fixed shapes, and valid until the next run. ONNX Runtime prints
 * nothing itself: what it logs reaches the context's log at debug level.
 * Thread-safety: one session is run by one thread at a time.
 */
#ifndef VIGIL_SESSION_H
#define VIGIL_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/context.h"
#include "vigil/sysinfo.h"

#define VG_MAX_DIMS 8
#define VG_MAX_OUTPUTS 16
#define VG_MAX_PROVIDERS 4

typedef struct vg_session vg_session;

typedef struct vg_session_opts {
    int intra_threads; /* 0: ONNX Runtime's default */
    int inter_threads; /* 0: default */
    int graph_opt;     /* 0 none, 1 basic, 2 extended, 3 all (default 3) */
    int mem_arena;     /* CPU memory arena on (1, default) or off (0) */
    /* Intra-op threads spin-wait between operators (1, ONNX Runtime's
     * default) or sleep (0), leaving the cores to the other stages. */
    int spin;
    /* Execution providers in order of preference ("cuda", "cpu"); CPU is
     * always appended when missing. n_providers 0 means {"cpu"}. */
    const char *providers[VG_MAX_PROVIDERS];
    int n_providers;
    /* 1: the session takes its CPU memory from the allocator registered
     * with ONNX Runtime's environment (vg_residency registers vigil's
     * counting allocator), instead of its own arena. */
    int env_allocator;
} vg_session_opts;

typedef struct vg_tensor_info {
    char name[128];
    int ndim;
    int64_t dims[VG_MAX_DIMS]; /* -1 for a dynamic dimension */
    int elem_type;             /* ONNX TensorProto element type, 1 = float */
} vg_tensor_info;

void vg_session_opts_default(vg_session_opts *o);

/* The session options of the settings (threads, graph optimisation, arena,
 * spinning, providers), over the defaults. o->providers point into s: o is
 * valid while s is. (Was vg_settings_session in vigil/config.h.) */
void vg_session_opts_from_settings(const vg_settings *s, vg_session_opts *o);

/* Fills si->ort_version, si->ort_providers (the execution providers this
 * ONNX Runtime offers, comma-separated) and si->ort_has_cuda; the rest of
 * si is left as vg_sysinfo_probe filled it. Never fails: unknown values are
 * left "" or 0. Thread-safe; no allocation is kept. */
void vg_session_probe_runtime(vg_sysinfo *si);

/* Name of an ONNX element type ("float32", "float16", "uint8", "int64",
 * "bool", ...); never NULL. */
const char *vg_tensor_type_name(int elem_type);

/* Loads model_path. Fails with VG_ENOENT, VG_EMODEL (not an ONNX model or
 * rejected by ONNX Runtime; message names the file and ONNX Runtime's
 * reason), VG_ENOTSUP (more than one input, non-float input, or an output
 * that is not float32: "m.onnx: output 'output0' is float16; vigil reads
 * float32 outputs only") or VG_ENOMEM. Every message is one line.
 * On failure *out is NULL and nothing is held. Caller destroys. */
int vg_session_create(vg_context *ctx, const char *model_path,
                      const vg_session_opts *o, vg_session **out);

int vg_session_input(const vg_session *s, vg_tensor_info *out);
int vg_session_output_count(const vg_session *s);
int vg_session_output(const vg_session *s, int i, vg_tensor_info *out);

/* The input as the model declares it (-1 for each dynamic dimension), while
 * vg_session_input gives it as last fixed by vg_session_set_input_shape. */
int vg_session_input_declared(const vg_session *s, vg_tensor_info *out);

/* Fixes dynamic input dimensions (batch, height, width); dims has the
 * input's ndim entries, each positive and equal to the declared one where
 * that is static. May be called again between runs to change the batch or
 * size; a call with the shape already in force does nothing (no allocation,
 * the input wrapping is kept), so callers may call it before every run.
 * Returns 0 or VG_EINVAL (message in vg_session_errmsg). */
int vg_session_set_input_shape(vg_session *s, const int64_t *dims);

/* Runs the model on input (float32, the input shape's element count).
 * outs[i] receives output i (float32, row-major, shape from
 * vg_session_output() with dynamic dimensions resolved by the run, holding
 * vg_session_output_elements() values).
 * Returns 0 or VG_EINFER (also when ONNX Runtime hands back an output that
 * is not float32 or whose size disagrees with its shape) / VG_ENOMEM with
 * the reason in vg_session_errmsg. */
int vg_session_run(vg_session *s, const float *input, const float **outs);

/* Shape of output i after the last run. */
int vg_session_output_shape(const vg_session *s, int i, vg_tensor_info *out);

/* Number of float32 values outs[i] of the last successful run points to
 * (for a static output, its reserved buffer's, also before any run); 0 for
 * a dynamic output before its first run, or a bad i. */
size_t vg_session_output_elements(const vg_session *s, int i);

/* ONNX Runtime's statistics of the session's CPU memory arena. */
typedef struct vg_arena_stats {
    uint64_t in_use;          /* bytes handed out now */
    uint64_t total_allocated; /* bytes the arena holds (reserved) */
    uint64_t max_in_use;      /* high-water mark of in_use */
    uint64_t extensions;      /* times the arena grew */
} vg_arena_stats;

/* Returns 0, or VG_ENOTSUP when the session has no arena (mem_arena 0, or
 * the env allocator) or ONNX Runtime gives no statistics. */
int vg_session_arena_stats(vg_session *s, vg_arena_stats *out);

/* Name of the provider the session runs on ("CPUExecutionProvider"). */
const char *vg_session_provider(const vg_session *s);
const char *vg_session_errmsg(const vg_session *s);

void vg_session_destroy(vg_session **s);

#endif
