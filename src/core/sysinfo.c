#include "vigil/sysinfo.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void read_cpu(vg_sysinfo *si)
{
    char line[512];
    cpu_set_t set;
    FILE *f = fopen("/proc/cpuinfo", "r");

    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v) {
                    v++;
                    while (*v == ' ')
                        v++;
                    v[strcspn(v, "\n")] = '\0';
                    snprintf(si->cpu_model, sizeof(si->cpu_model), "%s", v);
                }
                break;
            }
        }
        fclose(f);
    }
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        si->cpu_cores = CPU_COUNT(&set);
    else
        si->cpu_cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static void read_memory(vg_sysinfo *si)
{
    char key[64];
    unsigned long long kb;
    FILE *f = fopen("/proc/meminfo", "r");

    if (f) {
        while (fscanf(f, "%63s %llu kB\n", key, &kb) == 2) {
            if (strcmp(key, "MemTotal:") == 0)
                si->memory_total = kb * 1024ull;
            else if (strcmp(key, "MemAvailable:") == 0)
                si->memory_available = kb * 1024ull;
        }
        fclose(f);
    }
    f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (f) {
        unsigned long long limit;
        if (fscanf(f, "%llu", &limit) == 1 && limit > 0 &&
            limit < si->memory_total) {
            si->memory_total = limit;
            if (si->memory_available > limit)
                si->memory_available = limit;
        }
        fclose(f);
    }
}

/* The few NVML entry points used, declared here (NVML is loaded at run
 * time so vigil builds and runs without the NVIDIA driver). */
typedef struct nvml_memory {
    unsigned long long total, free, used;
} nvml_memory;
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_count_fn)(unsigned *);
typedef int (*nvml_handle_fn)(unsigned, void **);
typedef int (*nvml_name_fn)(void *, char *, unsigned);
typedef int (*nvml_mem_fn)(void *, nvml_memory *);

static void read_gpus(vg_sysinfo *si)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    nvml_init_fn init;
    nvml_init_fn shutdown;
    nvml_count_fn count;
    nvml_handle_fn handle;
    nvml_name_fn name;
    nvml_mem_fn mem;
    unsigned n = 0;

    if (!lib) {
        snprintf(si->gpu_note, sizeof(si->gpu_note),
                 "no NVIDIA driver (libnvidia-ml.so.1 not found)");
        return;
    }
    init = (nvml_init_fn)dlsym(lib, "nvmlInit_v2");
    shutdown = (nvml_init_fn)dlsym(lib, "nvmlShutdown");
    count = (nvml_count_fn)dlsym(lib, "nvmlDeviceGetCount_v2");
    handle = (nvml_handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    name = (nvml_name_fn)dlsym(lib, "nvmlDeviceGetName");
    mem = (nvml_mem_fn)dlsym(lib, "nvmlDeviceGetMemoryInfo");
    if (!init || !shutdown || !count || !handle || !name || !mem ||
        init() != 0) {
        snprintf(si->gpu_note, sizeof(si->gpu_note), "NVML did not start");
        dlclose(lib);
        return;
    }
    if (count(&n) == 0) {
        for (unsigned i = 0; i < n && si->gpu_count < VG_MAX_GPUS; i++) {
            void *h;
            nvml_memory m;
            vg_gpu_info *g = &si->gpus[si->gpu_count];
            if (handle(i, &h) != 0)
                continue;
            if (name(h, g->name, sizeof(g->name)) != 0)
                snprintf(g->name, sizeof(g->name), "GPU %u", i);
            if (mem(h, &m) == 0) {
                g->memory_total = m.total;
                g->memory_free = m.free;
            }
            si->gpu_count++;
        }
    }
    if (si->gpu_count == 0)
        snprintf(si->gpu_note, sizeof(si->gpu_note), "NVML found no GPU");
    shutdown();
    dlclose(lib);
}

void vg_sysinfo_probe(vg_context *ctx, vg_sysinfo *out)
{
    (void)ctx;
    memset(out, 0, sizeof(*out));
    read_cpu(out);
    read_memory(out);
    read_gpus(out);
}
