/*
 * The person ReID embedders (include/vigil/reid.h) and conditional ReID in
 * the CCTV stream run: the colour histogram gives unit vectors that tell
 * colours apart; an ONNX ReID model made here (ReduceMean over H, W, then
 * MatMul to 8 values) is loaded, its dimension read from its output, its
 * embeddings unit length; a missing or wrong model is one line naming the
 * file; and vg_run_stream with ReID on 30 frames of vtest.avi embeds some
 * detections, never more than it saw.
 */
/* ctest-part: histogram_gives_unit_vectors_that_separate_colours */
/* ctest-part: onnx_model_dim_from_output_and_unit_length */
/* ctest-part: bad_models_fail_with_one_line_naming_the_file */
/* ctest-part: stream_run_with_reid_counts_activations */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/io_fixtures.h"
#include "vigil/coco.h"
#include "vigil/err.h"
#include "vigil/hist.h"
#include "vigil/reid.h"
#include "vigil/run.h"

#define W 96
#define H 128

static uint8_t pic[H * W * 3];

/* Left half (x < 48): a person in red over blue; right half: green over
 * yellow. */
static void paint(void)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = pic + (size_t)(y * W + x) * 3;
            int left = x < W / 2, top = y < H / 2;
            static const uint8_t c[4][3] = {
                {200, 30, 30}, {30, 40, 200}, {30, 190, 40}, {220, 210, 30}};
            const uint8_t *k = c[(left ? 0 : 2) + (top ? 0 : 1)];
            memcpy(p, k, 3);
        }
}

static double norm(const float *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

static double cosine(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s / (norm(a, n) * norm(b, n));
}

static void test_histogram_gives_unit_vectors_that_separate_colours(void **st)
{
    vg_context *ctx;
    vg_reid_embedder *e;
    float a[VG_REID_MAX_DIM], b[VG_REID_MAX_DIM], c[VG_REID_MAX_DIM];
    vg_box left = {0, 0, W / 2, H}, right = {W / 2, 0, W / 2, H};
    vg_box outside = {500, 500, 20, 40};
    (void)st;

    paint();
    assert_int_equal(vg_context_create(&ctx), 0);
    assert_int_equal(vg_reid_embedder_create(ctx, "", NULL, &e), 0);
    assert_int_equal(vg_reid_embedder_dim(e), VG_HIST_DIM);
    assert_string_equal(vg_reid_embedder_kind(e), "histogram");
    assert_int_equal(
        vg_reid_embedder_embed(e, pic, W, H, W * 3, &left, a, VG_REID_MAX_DIM),
        VG_HIST_DIM);
    assert_int_equal(
        vg_reid_embedder_embed(e, pic, W, H, W * 3, &left, b, VG_REID_MAX_DIM),
        VG_HIST_DIM);
    assert_int_equal(
        vg_reid_embedder_embed(e, pic, W, H, W * 3, &right, c, VG_REID_MAX_DIM),
        VG_HIST_DIM);
    assert_true(fabs(norm(a, VG_HIST_DIM) - 1.0) < 1e-4);
    assert_true(fabs(norm(c, VG_HIST_DIM) - 1.0) < 1e-4);
    assert_true(cosine(a, b, VG_HIST_DIM) > 0.9999);
    assert_true(cosine(a, c, VG_HIST_DIM) < 0.5);
    /* errors: a box outside the picture, no room */
    assert_int_equal(vg_reid_embedder_embed(e, pic, W, H, W * 3, &outside, a,
                                            VG_REID_MAX_DIM),
                     VG_EINVAL);
    assert_non_null(strstr(vg_reid_embedder_errmsg(e), "outside"));
    assert_int_equal(
        vg_reid_embedder_embed(e, pic, W, H, W * 3, &left, a, VG_HIST_DIM - 1),
        VG_ERANGE);
    vg_reid_embedder_destroy(&e);
    assert_null(e);
    vg_context_destroy(&ctx);
}

/* Writes a tiny ReID model: input in_shape ([1,3,H,W], names for dynamic
 * dimensions), ReduceMean over H and W, MatMul with a fixed 3 x 8 matrix ->
 * [1,8]; a 2-D input [1,3] goes to the MatMul directly. 0 or -1. */
static int make_model(const char *path, const char *in_shape)
{
    const char *py = getenv("VIGIL_PYTHON");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "'%s' - <<'EOF'\n"
             "import onnx\n"
             "from onnx import TensorProto, helper\n"
             "x = helper.make_tensor_value_info('input', TensorProto.FLOAT, "
             "%s)\n"
             "y = helper.make_tensor_value_info('emb', TensorProto.FLOAT, "
             "[1, 8])\n"
             "w = helper.make_tensor('w', TensorProto.FLOAT, [3, 8], "
             "[0.5, -1, 1, 0.2, -0.3, 0.7, 1, -0.5, 1, 0.4, -1, 0.6, 0.9, "
             "-0.2, 0.1, 1, -0.7, 1, 0.3, -1, 0.5, 0.8, -0.4, 0.2])\n"
             "mean = helper.make_node('ReduceMean', ['input'], ['m'], "
             "axes=[2, 3], keepdims=0)\n"
             "flat = len(x.type.tensor_type.shape.dim) == 2\n"
             "g = helper.make_graph(([] if flat else [mean]) + "
             "[helper.make_node('MatMul', ['input' if flat else 'm', 'w'], "
             "['emb'])], 'reid', [x], [y], [w])\n"
             "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', "
             "13)])\n"
             "m.ir_version = 8\n"
             "onnx.save(m, '%s')\n"
             "EOF\n",
             py ? py : "/usr/bin/python3", in_shape, path);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_onnx_model_dim_from_output_and_unit_length(void **st)
{
    char dir[] = "/tmp/vigil-reid-XXXXXX", path[64], dyn[64];
    vg_context *ctx;
    vg_reid_embedder *e;
    float a[VG_REID_MAX_DIM], b[VG_REID_MAX_DIM], c[VG_REID_MAX_DIM];
    vg_box left = {2, 3, 40, 100}, right = {50, 3, 40, 100};
    (void)st;

    paint();
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/reid.onnx", dir);
    snprintf(dyn, sizeof(dyn), "%s/dyn.onnx", dir);
    if (make_model(path, "[1, 3, 64, 32]") < 0 ||
        make_model(dyn, "['n', 3, 'h', 'w']") < 0) {
        remove(path);
        remove(dyn);
        rmdir(dir);
        skip(); /* no python3-onnx */
    }
    assert_int_equal(vg_context_create(&ctx), 0);
    for (int m = 0; m < 2; m++) {
        assert_int_equal(vg_reid_embedder_create(ctx, m ? dyn : path, NULL, &e),
                         0);
        assert_int_equal(vg_reid_embedder_dim(e), 8);
        assert_string_equal(vg_reid_embedder_kind(e), "onnx");
        assert_int_equal(vg_reid_embedder_embed(e, pic, W, H, W * 3, &left, a,
                                                VG_REID_MAX_DIM),
                         8);
        assert_int_equal(vg_reid_embedder_embed(e, pic, W, H, W * 3, &left, b,
                                                VG_REID_MAX_DIM),
                         8);
        assert_int_equal(vg_reid_embedder_embed(e, pic, W, H, W * 3, &right, c,
                                                VG_REID_MAX_DIM),
                         8);
        assert_true(fabs(norm(a, 8) - 1.0) < 1e-4);
        assert_true(fabs(norm(c, 8) - 1.0) < 1e-4);
        assert_true(cosine(a, b, 8) > 0.9999);
        assert_true(cosine(a, c, 8) < 0.99);
        assert_int_equal(
            vg_reid_embedder_embed(e, pic, W, H, W * 3, &left, a, 7),
            VG_ERANGE);
        vg_reid_embedder_destroy(&e);
    }
    vg_context_destroy(&ctx);
    remove(path);
    remove(dyn);
    rmdir(dir);
}

static void test_bad_models_fail_with_one_line_naming_the_file(void **st)
{
    char dir[] = "/tmp/vigil-reid-XXXXXX", path[64], junk[64], flat[64];
    vg_context *ctx;
    vg_reid_embedder *e = (vg_reid_embedder *)&e;
    FILE *f;
    (void)st;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/missing.onnx", dir);
    snprintf(junk, sizeof(junk), "%s/junk.onnx", dir);
    snprintf(flat, sizeof(flat), "%s/flat.onnx", dir);
    f = fopen(junk, "w");
    assert_non_null(f);
    fputs("not a model\n", f);
    fclose(f);
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);

    assert_int_equal(vg_reid_embedder_create(ctx, path, NULL, &e), VG_ENOENT);
    assert_null(e);
    assert_non_null(strstr(vg_context_errmsg(ctx), "missing.onnx"));
    assert_null(strchr(vg_context_errmsg(ctx), '\n'));

    assert_true(vg_reid_embedder_create(ctx, junk, NULL, &e) < 0);
    assert_null(e);
    assert_non_null(strstr(vg_context_errmsg(ctx), "junk.onnx"));
    assert_null(strchr(vg_context_errmsg(ctx), '\n'));

    /* an input that is not [1,3,H,W] */
    if (make_model(flat, "[1, 3]") == 0) {
        assert_int_equal(vg_reid_embedder_create(ctx, flat, NULL, &e),
                         VG_EMODEL);
        assert_null(e);
        assert_non_null(strstr(vg_context_errmsg(ctx), "flat.onnx"));
        assert_non_null(strstr(vg_context_errmsg(ctx), "[1,3,H,W]"));
        assert_null(strchr(vg_context_errmsg(ctx), '\n'));
        remove(flat);
    }
    vg_context_destroy(&ctx);
    remove(junk);
    rmdir(dir);
}

static int rm_entry(const char *p, const struct stat *s, int t, struct FTW *f)
{
    (void)s;
    (void)t;
    (void)f;
    return remove(p);
}

static void test_stream_run_with_reid_counts_activations(void **st)
{
    const char *cache = getenv("VIGIL_CACHE");
    char video[1024], model[1200], out[] = "/tmp/vigil-reid-run-XXXXXX";
    vg_context *ctx;
    vg_detector_opts dopts;
    vg_detector *det;
    vg_run_opts o;
    vg_run_stats rs;
    int rc;
    (void)st;

    if (!cache || !io_cache_video(video, sizeof(video), "vtest.avi"))
        skip();
    snprintf(model, sizeof(model), "%s/models/nanodet.onnx", cache);
    if (access(model, R_OK) != 0)
        skip();
    assert_non_null(mkdtemp(out));
    assert_int_equal(vg_context_create(&ctx), 0);
    vg_context_set_log_level(ctx, VG_LOG_QUIET);
    vg_detector_opts_default(&dopts);
    dopts.session.intra_threads = 2;
    dopts.session.spin = 0;
    dopts.classes_keep[0] = vg_coco_class_id("person");
    dopts.n_classes_keep = 1;
    assert_int_equal(vg_detector_create(ctx, model, &dopts, &det), 0);

    vg_run_opts_default(&o);
    o.out_dir = out;
    o.max_frames = 30; /* 3 s of vtest.avi */
    o.write_video = 0;
    o.write_snapshots = 0;
    o.reid_enabled = 1; /* reid_model "": the colour histogram */
    rc = vg_run_stream(ctx, video, det, &o, &rs);
    if (rc != 0)
        fail_msg("%s: %s", vg_errname(rc), vg_context_errmsg(ctx));
    printf("reid: %lld detections, %lld embedded, %lld rescued, %lld failed\n",
           (long long)rs.tracker.reid_detections,
           (long long)rs.tracker.reid_embedded,
           (long long)rs.tracker.reid_rescued,
           (long long)rs.tracker.reid_failed);
    assert_int_equal(rs.frames, 30);
    assert_int_equal(rs.reid_enabled, 1);
    assert_string_equal(rs.reid_embedder, "histogram");
    assert_true(rs.tracker.reid_detections > 0);
    assert_true(rs.tracker.reid_embedded > 0);
    assert_true(rs.tracker.reid_embedded <= rs.tracker.reid_detections);
    assert_int_equal(rs.tracker.reid_failed, 0);

    /* off (the default): nothing counted */
    vg_run_opts_default(&o);
    o.out_dir = out;
    o.max_frames = 10;
    o.write_video = 0;
    o.write_snapshots = 0;
    assert_int_equal(vg_run_stream(ctx, video, det, &o, &rs), 0);
    assert_int_equal(rs.reid_enabled, 0);
    assert_int_equal(rs.tracker.reid_detections, 0);

    /* a missing model stops the stream before any frame */
    vg_run_opts_default(&o);
    o.out_dir = out;
    o.max_frames = 10;
    o.write_video = 0;
    o.write_snapshots = 0;
    o.reid_enabled = 1;
    snprintf(o.reid_model, sizeof(o.reid_model), "%s/none.onnx", out);
    assert_int_equal(vg_run_stream(ctx, video, det, &o, &rs), VG_ENOENT);
    assert_non_null(strstr(vg_context_errmsg(ctx), "none.onnx"));
    assert_int_equal(rs.frames, 0);

    vg_detector_destroy(&det);
    vg_context_destroy(&ctx);
    nftw(out, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test(
            test_histogram_gives_unit_vectors_that_separate_colours),
        cmocka_unit_test(test_onnx_model_dim_from_output_and_unit_length),
        cmocka_unit_test(test_bad_models_fail_with_one_line_naming_the_file),
        cmocka_unit_test(test_stream_run_with_reid_counts_activations),
    };
    if (argc > 1) {
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
            if (strstr(all[i].name, argv[1])) {
                const struct CMUnitTest one[] = {all[i]};
                return cmocka_run_group_tests(one, NULL, NULL);
            }
        return 1;
    }
    return cmocka_run_group_tests(all, NULL, NULL);
}
