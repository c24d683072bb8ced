/*
 * soak: the full bounded-state soak (`make soak`): synthetic detections
 * through the tracker, the rules and the event store (tests/soak_core.h),
 * printing RSS at every tenth of the run and the size of every bounded
 * table at the end.
 *
 *   soak [--frames N] [--objects K] [--seed S]
 *     --frames N    frames to run (default 1000000)
 *     --objects K   objects per frame (default 20)
 *     --seed S      seed of the synthetic scene
 *
 * Exit status 0 when RSS grew by less than 1 MiB after the first 10 % and
 * every table stayed within its bound, 1 otherwise (reason on stderr), 2 on
 * a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak_core.h"

static int usage(void)
{
    fprintf(stderr, "usage: soak [--frames N] [--objects K] [--seed S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    soak_opts o;
    soak_result r;
    char why[256];
    int rc;

    soak_opts_default(&o);
    o.progress = stdout;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        long long v;
        if (i + 1 >= argc)
            return usage();
        v = strtoll(argv[i + 1], &end, 10);
        if (end == argv[i + 1] || *end)
            return usage();
        if (!strcmp(argv[i], "--frames"))
            o.frames = v;
        else if (!strcmp(argv[i], "--objects"))
            o.objects = (int)v;
        else if (!strcmp(argv[i], "--seed"))
            o.seed = (uint64_t)v;
        else
            return usage();
        i++;
    }
    printf("soak: %lld frames, %d objects per frame, lives %d..%d frames\n",
           (long long)o.frames, o.objects, o.min_life, o.max_life);
    rc = soak_run(&o, &r);
    if (rc < 0) {
        fprintf(stderr, "%s\n", r.err);
        return 1;
    }
    soak_print(stdout, &r);
#ifdef VG_SANITIZE
    rc = soak_check(&r, &o, 0, why, sizeof(why));
#else
    rc = soak_check(&r, &o, 1, why, sizeof(why));
#endif
    if (rc != 0) {
        fprintf(stderr, "soak: FAILED: %s\n", why);
        return 1;
    }
    printf("soak: passed\n");
    return 0;
}
