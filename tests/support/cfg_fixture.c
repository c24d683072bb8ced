#include "cfg_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

int cfg_fixture_setup(void **state)
{
    cfg_fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/vgcfgXXXXXX");
    if (!mkdtemp(f->dir) || vg_context_create(&f->ctx) < 0) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/c.yaml", f->dir);
    vg_context_set_log_level(f->ctx, VG_LOG_QUIET);
    *state = f;
    return 0;
}

int cfg_fixture_teardown(void **state)
{
    cfg_fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    vg_context_destroy(&f->ctx);
    free(f);
    return 0;
}

void cfg_fixture_write(cfg_fixture *f, const char *text, size_t len)
{
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

void cfg_fixture_assert_error_at(cfg_fixture *f, int line, int col,
                                 const char *what)
{
    char prefix[192];
    snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", f->path, line, col);
    assert_memory_equal(vg_context_errmsg(f->ctx), prefix, strlen(prefix));
    assert_non_null(strstr(vg_context_errmsg(f->ctx), what));
}
