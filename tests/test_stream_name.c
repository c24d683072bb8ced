/* vg_stream_names: every input of a job gets a distinct, stable name that is
 * safe in a file name (the reliability case "two inputs with the same file
 * name in different folders overwrite each other's outputs"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/run.h"

static void names_of(const char *const *in, int n,
                     char (*out)[VG_STREAM_NAME_MAX])
{
    assert_int_equal(vg_stream_names(NULL, in, n, out), 0);
}

static void test_base_name_without_extension(void **state)
{
    const char *in[] = {"/data/videos/entrance.mp4", "yard.avi"};
    char out[2][VG_STREAM_NAME_MAX];
    (void)state;
    names_of(in, 2, out);
    assert_string_equal(out[0], "entrance");
    assert_string_equal(out[1], "yard");
}

static void test_same_file_name_in_two_folders_takes_the_folder(void **state)
{
    const char *in[] = {"/x/a/cam.mp4", "/x/b/cam.mp4", "/x/c/other.mp4"};
    char out[3][VG_STREAM_NAME_MAX];
    (void)state;
    names_of(in, 3, out);
    assert_string_equal(out[0], "a_cam");
    assert_string_equal(out[1], "b_cam");
    assert_string_equal(out[2], "other");
}

static void test_urls_lose_scheme_credentials_and_query(void **state)
{
    const char *in[] = {"rtsp://user:secret@10.0.0.5:554/stream1?tcp=1",
                        "rtsp://10.0.0.6/stream1#frag"};
    char out[2][VG_STREAM_NAME_MAX];
    (void)state;
    names_of(in, 2, out);
    assert_string_equal(out[0], "10_0_0_5_554_stream1");
    assert_string_equal(out[1], "10_0_0_6_stream1");
    assert_null(strstr(out[0], "secret"));
}

static void test_same_input_twice_gets_a_number(void **state)
{
    const char *in[] = {"/v/cam.mp4", "/v/cam.mp4", "/v/cam.mp4"};
    char out[3][VG_STREAM_NAME_MAX];
    (void)state;
    names_of(in, 3, out);
    assert_string_equal(out[0], "cam");
    assert_string_equal(out[1], "cam-2");
    assert_string_equal(out[2], "cam-3");
}

static void test_names_are_file_safe_and_bounded(void **state)
{
    char long_in[600];
    const char *in[] = {"../we ird/na;me$(x).mp4", "/", "", long_in};
    char out[4][VG_STREAM_NAME_MAX];
    (void)state;
    memset(long_in, 'z', sizeof(long_in) - 1);
    long_in[sizeof(long_in) - 1] = '\0';
    names_of(in, 4, out);
    for (int i = 0; i < 4; i++) {
        assert_true(out[i][0] != '\0');
        assert_true(strlen(out[i]) < VG_STREAM_NAME_MAX);
        for (const char *p = out[i]; *p; p++)
            assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
                                   *p));
    }
    assert_string_equal(out[0], "na_me__x_");
    /* "/" and "" both become "input": told apart */
    assert_string_not_equal(out[1], out[2]);
}

static void test_same_inputs_same_names(void **state)
{
    const char *in[] = {"/a/cam.mp4", "/b/cam.mp4", "/a/cam.mp4"};
    char out1[3][VG_STREAM_NAME_MAX], out2[3][VG_STREAM_NAME_MAX];
    (void)state;
    names_of(in, 3, out1);
    names_of(in, 3, out2);
    for (int i = 0; i < 3; i++)
        assert_string_equal(out1[i], out2[i]);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < i; k++)
            assert_string_not_equal(out1[i], out1[k]);
}

static void test_too_many_inputs_refused(void **state)
{
    const char *in[1] = {"x"};
    char out[1][VG_STREAM_NAME_MAX];
    (void)state;
    assert_int_equal(vg_stream_names(NULL, in, VG_RUN_MAX_STREAMS + 1, out),
                     VG_EINVAL);
    assert_int_equal(vg_stream_names(NULL, in, -1, out), VG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_name_without_extension),
        cmocka_unit_test(test_same_file_name_in_two_folders_takes_the_folder),
        cmocka_unit_test(test_urls_lose_scheme_credentials_and_query),
        cmocka_unit_test(test_same_input_twice_gets_a_number),
        cmocka_unit_test(test_names_are_file_safe_and_bounded),
        cmocka_unit_test(test_same_inputs_same_names),
        cmocka_unit_test(test_too_many_inputs_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
