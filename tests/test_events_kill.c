/*
 * Durability of committed events across kill -9: a child adds events and
 * reports each id once a commit that includes it returned; the parent kills
 * it mid-run and checks, with plain sqlite3 (Python's module) and a JSON
 * parser, that every reported id is in events.db and in events.jsonl.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/events.h"

#define TOTAL 10000
#define KILL_AFTER 1500 /* reported ids before the kill */

/* A clock that never moves: commits happen at the flushes alone, however
 * slow or busy the machine is. */
static double frozen_clock(void *user)
{
    (void)user;
    return 1.0;
}

static void child_run(const char *dir, int fd)
{
    vg_context *ctx;
    vg_events_opts o;
    vg_events *es;
    vg_event e;
    int64_t pending[64];
    int np = 0;

    if (vg_context_create(&ctx) < 0)
        _exit(2);
    vg_events_opts_default(&o);
    o.batch = 16;
    o.now = frozen_clock;
    if (vg_events_open(ctx, dir, &o, &es) < 0)
        _exit(3);
    for (int i = 0; i < TOTAL; i++) {
        memset(&e, 0, sizeof(e));
        e.kind = i % 4;
        e.time_s = i * 0.04;
        e.frame_index = i;
        e.wall_ms = 1700000000000LL + i;
        snprintf(e.stream, sizeof(e.stream), "cam");
        snprintf(e.rule, sizeof(e.rule), "rule_%d", i % 7);
        e.track_id = i;
        e.count = 1;
        if (vg_events_add(es, &e) < 0)
            _exit(4);
        pending[np++] = e.id;
        if (np == 16) {
            if (vg_events_flush(es) < 0)
                _exit(5);
            /* committed: report them (8-byte writes are atomic on a pipe) */
            for (int k = 0; k < np; k++)
                if (write(fd, &pending[k], sizeof(pending[k])) !=
                    (ssize_t)sizeof(pending[k]))
                    _exit(6);
            np = 0;
        }
    }
    /* not killed in time: stay alive until the parent kills */
    for (;;)
        pause();
}

static void test_committed_events_survive_kill9(void **state)
{
    char *dir = io_tmpdir_create();
    int64_t *ids = calloc(TOTAL, sizeof(*ids));
    size_t n = 0;
    int p[2], status;
    pid_t pid;
    char cmd[2048], line[256];
    const char *py = getenv("VIGIL_PYTHON");
    FILE *fp;
    long long db_missing = -1, jl_missing = -1, complete = -1, partial = -1;
    char integrity[64] = "";

    (void)state;
    assert_non_null(dir);
    assert_non_null(ids);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_run(dir, p[1]);
        _exit(0);
    }
    close(p[1]);
    while (n < TOTAL) {
        ssize_t k = read(p[0], &ids[n], sizeof(ids[n]));
        if (k != (ssize_t)sizeof(ids[n]))
            break;
        if (++n == KILL_AFTER)
            kill(pid, SIGKILL);
    }
    /* drain what was reported before the kill landed */
    while (n < TOTAL &&
           read(p[0], &ids[n], sizeof(ids[n])) == (ssize_t)sizeof(ids[n]))
        n++;
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_true(n >= KILL_AFTER);

    /* the reported ids, for the checker */
    snprintf(cmd, sizeof(cmd), "%s/reported.txt", dir);
    fp = fopen(cmd, "w");
    assert_non_null(fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%lld\n", (long long)ids[i]);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "%s/check.py", dir);
    fp = fopen(cmd, "w");
    assert_non_null(fp);
    fputs("import sqlite3, json, sys\n"
          "d = sys.argv[1]\n"
          "rep = [int(x) for x in open(d + '/reported.txt')]\n"
          "db = sqlite3.connect(d + '/events.db')\n"
          "print('integrity', db.execute('pragma integrity_check')"
          ".fetchone()[0])\n"
          "have = set(r[0] for r in db.execute('select id from events'))\n"
          "print('db_missing', sum(1 for i in rep if i not in have))\n"
          "raw = open(d + '/events.jsonl', 'rb').read().split(b'\\n')\n"
          "last = raw.pop()  # after the final newline: '' or a cut line\n"
          "seen = set(json.loads(l)['id'] for l in raw)\n"
          "print('complete', len(raw))\n"
          "print('partial', 1 if last else 0)\n"
          "print('jl_missing', sum(1 for i in rep if i not in seen))\n",
          fp);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "'%s' '%s/check.py' '%s'",
             py && *py ? py : "python3", dir, dir);
    fp = popen(cmd, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        sscanf(line, "integrity %63s", integrity);
        sscanf(line, "db_missing %lld", &db_missing);
        sscanf(line, "jl_missing %lld", &jl_missing);
        sscanf(line, "complete %lld", &complete);
        sscanf(line, "partial %lld", &partial);
    }
    assert_int_equal(pclose(fp), 0); /* every complete line parsed */
    assert_string_equal(integrity, "ok");
    assert_int_equal(db_missing, 0);
    assert_int_equal(jl_missing, 0);
    assert_true(complete >= (long long)n);
    assert_true(partial == 0 || partial == 1);
    print_message("killed after %zu reported ids; jsonl %lld complete lines, "
                  "%lld partial\n",
                  n, complete, partial);

    /* the store reopens after the crash and goes on numbering */
    {
        vg_context *ctx;
        vg_events *es;
        vg_event e;
        assert_int_equal(vg_context_create(&ctx), 0);
        vg_context_set_log_level(ctx, VG_LOG_QUIET);
        assert_int_equal(vg_events_open(ctx, dir, NULL, &es), 0);
        memset(&e, 0, sizeof(e));
        assert_int_equal(vg_events_add(ctx ? es : NULL, &e), 0);
        assert_true(e.id > ids[n - 1]);
        assert_int_equal(vg_events_close(&es), 0);
        vg_context_destroy(&ctx);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_events_survive_kill9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
