/*
 * A cmocka fixture for config tests: a fresh context (quiet) and a temporary
 * folder holding one config file, removed at teardown.
 *
 *   cmocka_unit_test_setup_teardown(test_x, cfg_fixture_setup,
 *                                   cfg_fixture_teardown)
 *   ... cfg_fixture *f = *state; cfg_fixture_write(f, "threads: 2\n"); ...
 */
#ifndef VIGIL_TESTS_CFG_FIXTURE_H
#define VIGIL_TESTS_CFG_FIXTURE_H

#include <stddef.h>

#include "vigil/context.h"

typedef struct cfg_fixture {
    vg_context *ctx;
    char dir[64];   /* the temporary folder */
    char path[128]; /* DIR/c.yaml */
} cfg_fixture;

int cfg_fixture_setup(void **state);
int cfg_fixture_teardown(void **state);
/* Writes text (len bytes) as the config file; fails the test on error. */
void cfg_fixture_write(cfg_fixture *f, const char *text, size_t len);
/* The error in f->ctx must start with FILE:LINE:COL and contain what. */
void cfg_fixture_assert_error_at(cfg_fixture *f, int line, int col,
                                 const char *what);

#endif
