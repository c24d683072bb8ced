/*
 * Skips that ctest can see. cmocka's skip() marks a test skipped, but a group
 * whose every test skipped still exits 0, so ctest would report it passed.
 * Every C test is linked with -Wl,--wrap=_skip,--wrap=_cmocka_run_group_tests
 * (CMakeLists.txt): skip() calls land here first and are counted, and a
 * group in which no test failed and every test skipped returns 77, the
 * SKIP_RETURN_CODE ctest is told about. A group with some tests skipped
 * still passes (ctest has no partial skip); cmocka lists the skipped ones.
 *
 * Test code: the counters are this process's own (a test program is one
 * process running its groups one after another).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#define VG_TEST_SKIPPED 77

void __real__skip(const char *const file, const int line);
int __real__cmocka_run_group_tests(const char *group_name,
                                   const struct CMUnitTest *const tests,
                                   const size_t num_tests,
                                   CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);
void __wrap__skip(const char *const file, const int line);
int __wrap__cmocka_run_group_tests(const char *group_name,
                                   const struct CMUnitTest *const tests,
                                   const size_t num_tests,
                                   CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);

static size_t skips;               /* skip() calls in the running group */
static int in_group_setup;         /* 1 while the group's setup runs */
static int group_setup_skipped;    /* the group's setup called skip() */
static CMFixtureFunction setup_fn; /* the group's own setup */

void __wrap__skip(const char *const file, const int line)
{
    if (in_group_setup)
        group_setup_skipped = 1;
    else
        skips++;
    __real__skip(file, line); /* does not return */
}

static int counting_group_setup(void **state)
{
    int rc;
    in_group_setup = 1;
    rc = setup_fn(state);
    in_group_setup = 0;
    return rc;
}

int __wrap__cmocka_run_group_tests(const char *group_name,
                                   const struct CMUnitTest *const tests,
                                   const size_t num_tests,
                                   CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown)
{
    int failed;

    skips = 0;
    group_setup_skipped = 0;
    in_group_setup = 0;
    setup_fn = group_setup;
    failed = __real__cmocka_run_group_tests(
        group_name, tests, num_tests, group_setup ? counting_group_setup : NULL,
        group_teardown);
    in_group_setup = 0;
    if (failed == 0 && num_tests > 0 &&
        (group_setup_skipped || skips >= num_tests)) {
        fprintf(stderr, "%s: every test skipped: exit %d (ctest: skipped)\n",
                group_name, VG_TEST_SKIPPED);
        return VG_TEST_SKIPPED;
    }
    return failed;
}
