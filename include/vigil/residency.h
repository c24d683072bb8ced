/*
 * vg_residency: the one owner of every model in a process. Models are
 * declared (vg_model_decl, usually from a config's `models:` section), loaded
 * on first use under a host (and, with a GPU, device) memory budget, shared by
 * every user of the same file and options, and unloaded by policy:
 *
 *   pinned              loaded once, never evicted or unloaded until destroy
 *   keep_alive          unloaded after keep_alive_s idle (vg_residency_tick)
 *   unload_after_stage  unloaded as soon as its last user releases it
 *
 * A load first asks for admission: the model's footprint (from the
 * calibration file, or estimated from the file size and input when the model
 * was never measured) must fit in the budget left after the reserved bytes
 * (the rest of the process) and the models already resident. When it does
 * not, idle models that the policies allow are evicted, highest score first:
 *
 *   score = bytes_freed * (1 + idle_seconds) / (1 + reload_seconds)
 *
 * and when even that is not enough the load is refused with VG_ENOMEM and a
 * message naming the model, its need and what holds the budget, before
 * anything is allocated. A model that was never measured is measured by its
 * first load (a dry run): RSS before and after ONNX Runtime creates the
 * session (weights), then two warm-up inferences at the largest batch and
 * input, after which ONNX Runtime's arena statistics give the working memory
 * (or the peak of vigil's own allocator registered with ONNX Runtime, see
 * ort_allocator).
 * The result is written to the calibration file that `vigil plan` reads.
 *
 * When a load still fails for lack of memory, the ladder steps down: evict
 * every idle model and retry once, then halve the batch (models with a
 * dynamic batch), then the CPU execution provider (logged), then give up with
 * VG_ENOMEM so the caller stops that one stream. vg_residency_recover() does
 * the same for an out-of-memory reported by an inference on the frame path.
 *
 *   vg_residency_opts ro;
 *   vg_residency_opts_default(&ro);
 *   ro.budget.host_bytes = 256u << 20;
 *   vg_residency *r;
 *   vg_residency_create(ctx, &ro, &r);
 *   vg_residency_add(r, &decl);                  // once per declared model
 *   vg_session *s;
 *   if (vg_residency_acquire(r, "detector", &s) == 0) {
 *       ... vg_session_run(s, ...) ...
 *       vg_residency_release(r, "detector");     // s is invalid after this
 *   }
 *   vg_residency_tick(r);                        // keep-alive expiry
 *   vg_residency_destroy(&r);                    // unloads everything
 *
 * Thread-safety: every function takes the manager's mutex. A session handed
 * out by acquire is run by one thread at a time (vg_session's rule); streams
 * that share a model take turns between acquire and release.
 */
#ifndef VIGIL_RESIDENCY_H
#define VIGIL_RESIDENCY_H

#include <stdint.h>

#include "vigil/config.h"
#include "vigil/context.h"
#include "vigil/session.h"
#include "vigil/telemetry.h"

#define VG_MAX_MODELS 16
#define VG_MAX_VARIANTS 4
#define VG_MODEL_NAME_MAX 48

enum vg_model_policy {
    VG_POLICY_KEEP_ALIVE = 0,
    VG_POLICY_PINNED = 1,
    VG_POLICY_UNLOAD_AFTER_STAGE = 2
};

/* What a model does in a job (selects the head / decoder). */
enum vg_model_kind {
    VG_MODEL_DETECTOR = 0,      /* object detector (NanoDet, YOLO) */
    VG_MODEL_FACE_DETECTOR = 1, /* BlazeFace */
    VG_MODEL_FACE_EMBEDDER = 2, /* MobileFaceNet */
    VG_MODEL_OTHER = 3
};

typedef struct vg_model_variant {
    char precision[8]; /* "fp32", "fp16", "int8" */
    char path[VG_PATH_MAX];
} vg_model_variant;

typedef struct vg_model_decl {
    char name[VG_MODEL_NAME_MAX];
    char path[VG_PATH_MAX]; /* the file the job runs (resolved) */
    int kind;               /* enum vg_model_kind */
    int policy;             /* enum vg_model_policy */
    double keep_alive_s;    /* keep_alive: idle seconds before unload (300) */
    int stage;              /* position in a staged job (0, 1, ...) */
    int batch;              /* largest batch it runs at (1) */
    int input_w, input_h;   /* input size it runs at; 0: as declared */
    /* Session options (threads, providers, ...). Provider names point into
     * providers_buf so that a declaration can be copied by value. */
    vg_session_opts session;
    char providers_buf[VG_MAX_PROVIDERS][16];
    /* Other precision files of the same model, for the planner only. */
    vg_model_variant variants[VG_MAX_VARIANTS];
    int n_variants;
} vg_model_decl;

typedef struct vg_memory_budget {
    uint64_t host_bytes;   /* whole-process host budget; 0: unlimited */
    uint64_t device_bytes; /* device budget; 0: unlimited */
    double margin;         /* fraction of each budget kept free (0.05) */
    /* Calibration file; "" means vg_calibration_default_path(). */
    char calibration[VG_PATH_MAX];
} vg_memory_budget;

const char *vg_model_policy_name(int policy);
int vg_model_policy_parse(const char *s); /* -1 when unknown */
const char *vg_model_kind_name(int kind);
int vg_model_kind_parse(const char *s); /* -1 when unknown */

/* Defaults: keep_alive 300 s, batch 1, stage 0, session defaults. */
void vg_model_decl_default(vg_model_decl *d);
/* Copies src into dst and re-points dst->session.providers into dst. */
void vg_model_decl_copy(vg_model_decl *dst, const vg_model_decl *src);
/* Sets the provider list (names copied, at most VG_MAX_PROVIDERS). */
void vg_model_decl_set_providers(vg_model_decl *d, const char *const *names,
                                 int n);

/* Parses "64MiB", "1.5GiB", "500MB", "2G", "123456" (bytes) into *out.
 * Returns 0 or VG_EINVAL. */
int vg_parse_bytes(const char *s, uint64_t *out);
/* Formats bytes as "12.3 MiB" into buf; returns buf. */
const char *vg_format_bytes(uint64_t bytes, char *buf, size_t cap);

/* ---- calibration ---------------------------------------------------------
 * A text file, one measured model per line (tab-separated, '#' comments):
 *   key  weights_bytes  work_bytes  device_bytes  load_ms  batch  provider
 * The key names the file (real path, size, mtime) and the options that change
 * the footprint (provider list, batch, input size, threads). Writers replace
 * the line of their key atomically (write to a temporary file, rename). The
 * file is bounded: it keeps its newest 512 lines, and a store drops the lines
 * that can no longer match (the model file changed or is gone, or an older
 * way of measuring wrote them). */
typedef struct vg_calibration {
    uint64_t weights_bytes; /* host bytes the loaded session holds */
    uint64_t work_bytes;    /* host working memory of one inference (peak) */
    uint64_t device_bytes;  /* device bytes (0 on CPU) */
    double load_ms;         /* time to load: the reload cost */
    int batch;              /* batch it was measured at */
    char provider[32];      /* provider it ran on */
} vg_calibration;

/* $VIGIL_CALIBRATION, else $VIGIL_CACHE/calibration.tsv or
 * $HOME/.cache/vigil/calibration.tsv. */
void vg_calibration_default_path(char *buf, size_t cap);
/* The calibration file of a budget: its own, else the default. */
void vg_calibration_path(const vg_memory_budget *b, char *buf, size_t cap);
/* The calibration key of a declaration; VG_ENOENT when the file is missing. */
int vg_calibration_key(const vg_model_decl *d, char *buf, size_t cap);
/* Looks key up in file. Returns 0 (found), VG_ENOENT (no file or no line for
 * the key) or VG_EIO. */
int vg_calibration_lookup(vg_context *ctx, const char *file, const char *key,
                          vg_calibration *out);
/* Adds or replaces key's line. Returns 0 or VG_EIO (message in ctx). */
int vg_calibration_store(vg_context *ctx, const char *file, const char *key,
                         const vg_calibration *c);
/* The footprint estimate for a model never measured: weights = file size
 * x 1.25 (graph and kernels beside the initialisers), work = input bytes x
 * batch x 10 (activations of a small vision CNN). */
void vg_calibration_estimate(const vg_model_decl *d, uint64_t file_bytes,
                             int64_t input_elems, vg_calibration *out);

/* ---- the manager -------------------------------------------------------- */

typedef struct vg_residency vg_residency;

typedef struct vg_residency_opts {
    vg_memory_budget budget;
    /* Host bytes the rest of the process needs (runtime, stream buffers):
     * models get budget - margin - host_reserved. */
    uint64_t host_reserved;
    uint64_t device_reserved;
    /* 1: measure every load even when calibrated; 0 (default): measure only
     * models without a calibration line. */
    int recalibrate;
    /* 0 (default): write measurements to the calibration file. */
    int read_only_calibration;
    /* Clock in seconds (monotonic); NULL: vg_clock_ns. For tests. */
    double (*now)(void *user);
    void *now_user;
    /* Borrowed, may be NULL: model states and footprints are published. */
    vg_telemetry *telemetry;
    /* 1: register vigil's counting allocator with ONNX Runtime and have
     * the sessions take their CPU memory from it instead of their arenas:
     * working memory is then counted exactly, and vigil's fault injector
     * reaches ONNX Runtime's allocations while a model loads (tests). 0
     * (default): ONNX Runtime's arena, which on the CCTV job peaks about
     * 25 MiB lower in RSS (docs/memory.md); working memory is then read
     * from the arena's statistics after the warm-up. */
    int ort_allocator;
} vg_residency_opts;

enum vg_model_state {
    VG_MODEL_UNLOADED = 0,
    VG_MODEL_RESIDENT = 1,
    VG_MODEL_FAILED = 2 /* the last load failed (message in errmsg) */
};

typedef struct vg_model_stats {
    char name[VG_MODEL_NAME_MAX];
    int state; /* enum vg_model_state */
    int policy, kind;
    int shared_with;     /* index of the model whose instance it uses, or -1 */
    int users;           /* acquires not yet released */
    uint64_t host_bytes; /* footprint charged while resident */
    uint64_t device_bytes;
    int calibrated;      /* 1: footprint measured (now or in the file) */
    int batch;           /* batch it runs at (may be lowered by the ladder) */
    int on_cpu_fallback; /* 1: the ladder moved it to the CPU provider */
    uint64_t loads, unloads, evictions, acquires;
    uint64_t not_returned_bytes; /* RSS that did not come back at unload */
    double load_ms;              /* last load's duration */
    double last_used_s;          /* clock time of the last release */
} vg_model_stats;

typedef struct vg_residency_stats {
    int n_models;
    uint64_t resident_host_bytes, peak_resident_host_bytes;
    uint64_t resident_device_bytes, peak_resident_device_bytes;
    uint64_t allowance_host_bytes; /* budget left to models (0: unlimited) */
    uint64_t loads, unloads, evictions, refusals;
    uint64_t ladder_retries, ladder_smaller_batch, ladder_cpu_fallback,
        ladder_gave_up;
    uint64_t unload_leaks; /* unloads whose memory did not come back */
    uint64_t ort_bytes_in_use, ort_peak_bytes; /* vigil's ORT allocator */
} vg_residency_stats;

void vg_residency_opts_default(vg_residency_opts *o);

/* Creates a manager. Returns 0, VG_EINVAL or VG_ENOMEM; on failure *out is
 * NULL. Caller destroys. */
int vg_residency_create(vg_context *ctx, const vg_residency_opts *o,
                        vg_residency **out);
/* Unloads every model (verifying the memory came back) and frees *r; sets
 * *r to NULL; accepts NULL. No session handed out may still be in use. */
void vg_residency_destroy(vg_residency **r);

/* Declares a model (copied). A model with the same file and options as one
 * already declared shares its loaded instance. Returns 0, VG_EEXIST (name
 * taken), VG_ERANGE (VG_MAX_MODELS) or VG_EINVAL. Loads nothing. */
int vg_residency_add(vg_residency *r, const vg_model_decl *d);

/* Makes model name resident (admission, eviction, load, ladder) and marks it
 * in use; *out (borrowed) is valid until the matching release. Returns 0,
 * VG_ENOENT (not declared), VG_ENOMEM (refused by the budget or out of memory
 * after the ladder; nothing held), or the load's error. Message in ctx. */
int vg_residency_acquire(vg_residency *r, const char *name, vg_session **out);

/* Ends one use. An unload_after_stage model with no user left is unloaded. */
void vg_residency_release(vg_residency *r, const char *name);

/* Unloads keep_alive models idle for longer than their keep_alive_s.
 * Returns how many were unloaded. */
int vg_residency_tick(vg_residency *r);

/* Unloads name now if no one uses it (pinned included). Returns 0, VG_ENOENT
 * or VG_EBUSY. */
int vg_residency_unload(vg_residency *r, const char *name);

/* The frame-path ladder: the caller's inference on name (acquired) failed
 * with VG_ENOMEM. Evicts every idle model and returns 0 ("retry") the first
 * time for this failure streak; then, when the model runs on a GPU provider,
 * reloads it on the CPU provider and returns 0 with *s replaced; otherwise
 * returns VG_ENOMEM: the caller stops that stream. A successful inference
 * should call vg_residency_recovered() to end the streak. */
int vg_residency_recover(vg_residency *r, const char *name, vg_session **s);
void vg_residency_recovered(vg_residency *r, const char *name);

/* Batch the model runs at now (the ladder may have lowered it). */
int vg_residency_batch(vg_residency *r, const char *name);

int vg_residency_model_count(vg_residency *r);
/* Stats of the i-th declared model (0-based); VG_ERANGE past the end. */
int vg_residency_model_stats(vg_residency *r, int i, vg_model_stats *out);
void vg_residency_stats_get(vg_residency *r, vg_residency_stats *out);

/* The ORT allocator's fault hook for tests: 1 (default) lets vigil's fault
 * injector (vg_context_fail_alloc) also fail ONNX Runtime's allocations while
 * a session is created; 0 counts them only. */
void vg_residency_inject_ort_faults(vg_residency *r, int on);

#endif
