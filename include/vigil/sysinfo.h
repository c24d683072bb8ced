/*
 * vg_sysinfo: what the machine offers, read at start by `vigil probe` and by
 * the configuration resolver (explicit config > probed hardware > built-in).
 *
 *   vg_sysinfo si;
 *   vg_sysinfo_probe(ctx, &si);
 *   printf("%d cores, %d GPUs\n", si.cpu_cores, si.gpu_count);
 *
 * GPUs are found through NVML, loaded at run time (libnvidia-ml.so.1); a
 * machine without it simply reports none. Thread-safe; no allocation is kept.
 * This is core: it knows nothing of ONNX Runtime. The ort_* fields are plain
 * values filled one layer up by vg_session_probe_runtime (vigil/session.h);
 * `vigil probe` calls both.
 */
#ifndef VIGIL_SYSINFO_H
#define VIGIL_SYSINFO_H

#include <stdint.h>

#include "vigil/context.h"

#define VG_MAX_GPUS 8

typedef struct vg_gpu_info {
    char name[96];
    uint64_t memory_total;
    uint64_t memory_free;
} vg_gpu_info;

typedef struct vg_sysinfo {
    char cpu_model[128];
    int cpu_cores;         /* logical CPUs this process may run on */
    uint64_t memory_total; /* bytes (cgroup limit when lower) */
    uint64_t memory_available;
    int gpu_count;
    vg_gpu_info gpus[VG_MAX_GPUS];
    char gpu_note[128]; /* why no GPU was found, when none was */
    /* filled by vg_session_probe_runtime; vg_sysinfo_probe leaves them 0 */
    char ort_version[32];
    char ort_providers[256]; /* comma-separated providers ONNX Runtime has */
    int ort_has_cuda;
} vg_sysinfo;

/* Fills out (CPU, memory, GPUs; the ort_* fields are zeroed); never fails
 * (unknown values are 0 or ""). */
void vg_sysinfo_probe(vg_context *ctx, vg_sysinfo *out);

#endif
