#!/usr/bin/env python3
"""Writes the small ONNX models that vigil's tests load.

Usage (run with a Python that has onnx and numpy, e.g. $VIGIL_PYTHON):
  make_models.py affine OUT.onnx
      y = x * 2 + 1, x float32 [1,3,4,4]
  make_models.py affine_dynamic OUT.onnx
      y = x * 2 + 1, x float32 [batch,3] with a dynamic batch dimension
  make_models.py const OUT.onnx --input 1,3,640,640 \
                 --output NAME=D0,D1,D2:DATA.bin [--output ...]
      every output is the constant read from DATA.bin (raw float32, row-major,
      the shape's element count) plus 0 * ReduceSum(input), so that ONNX
      Runtime keeps the input; outputs appear in the order given.
      A dimension written ~D is declared dynamic; D/A is declared D while the
      model really produces A (a model that lies about its output shape).
      NAME@TYPE (TYPE: float16, float64, uint8, int8, int32, int64, bool) casts the output to that element type.
  make_models.py yolov5_rows OUT.onnx [--batch B]
  make_models.py yolov8_rows OUT.onnx [--batch B]
  make_models.py nanodet_rows OUT.onnx [--batch B]
      detection models whose outputs are the input's own values rearranged,
      so that every batch row gives its frame's detections: x float32
      [B,3,32,32] (B 0, the default: dynamic "batch"). yolov5: [B,384,8]
      (3 classes; cx, cy scaled by 32, w, h by 16); yolov8: [B,8,384]
      (4 classes, same scaling); nanodet: classes [B,16|4|1,4] and
      distribution logits (x 8) [B,16|4|1,32] for strides 8, 16, 32.
      Reshapes copy the batch (target 0), so the batch is never baked in.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13

CAST_TYPES = {
    "float16": TensorProto.FLOAT16,
    "float64": TensorProto.DOUBLE,
    "uint8": TensorProto.UINT8,
    "int8": TensorProto.INT8,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "bool": TensorProto.BOOL,
}


def save(graph, path):
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="vigil-tests")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


def affine(path, dims):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["x2"]),
        helper.make_node("Add", ["x2", "one"], ["y"]),
    ]
    save(helper.make_graph(nodes, "affine", [x], [y], [two, one]), path)


def weights(path, mib):
    """A model holding mib MiB of weights: y = x + mean(W), x [batch,3,8,8]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 8, 8])
    n = int(mib * 1024 * 1024 / 4)
    w = numpy_helper.from_array(
        (np.arange(n, dtype=np.float32) % 7.0).astype(np.float32), "w")
    nodes = [
        helper.make_node("ReduceMean", ["w"], ["m"], keepdims=0),
        helper.make_node("Add", ["x", "m"], ["y"]),
    ]
    save(helper.make_graph(nodes, "weights", [x], [y], [w]), path)


def declared(dims, prefix):
    return [d if d > 0 else "%s%d" % (prefix, k) for k, d in enumerate(dims)]


def const(path, in_dims, outputs):
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                      declared(in_dims, "in"))
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")
    nodes = [
        helper.make_node("ReduceSum", ["images"], ["sum"], keepdims=0),
        helper.make_node("Mul", ["sum", "zero"], ["nil"]),
    ]
    inits = [zero]
    outs = []
    for spec in outputs:
        name, rest = spec.split("=", 1)
        name, _, type_s = name.partition("@")
        shape_s, data_path = rest.split(":", 1)
        dims = shape_s.split(",")
        shape = [int(d.lstrip("~").split("/")[-1]) for d in dims]
        decl = [-1 if d.startswith("~") else int(d.split("/")[0]) for d in dims]
        data = np.fromfile(data_path, dtype=np.float32)
        if data.size != int(np.prod(shape)):
            sys.exit("%s: %d values for shape %s" % (data_path, data.size, shape))
        inits.append(numpy_helper.from_array(data.reshape(shape), name + "_c"))
        elem = TensorProto.FLOAT
        if type_s:
            if type_s not in CAST_TYPES:
                sys.exit("%s: unknown type %s" % (spec, type_s))
            elem = CAST_TYPES[type_s]
            nodes.append(helper.make_node("Add", [name + "_c", "nil"],
                                          [name + "_f"]))
            nodes.append(helper.make_node("Cast", [name + "_f"], [name],
                                          to=elem))
        else:
            nodes.append(helper.make_node("Add", [name + "_c", "nil"], [name]))
        outs.append(helper.make_tensor_value_info(
            name, elem, declared(decl, name + "_d")))
    save(helper.make_graph(nodes, "const", [x], outs, inits), path)


def rows_model(path, kind, batch):
    b = batch if batch > 0 else "batch"
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [b, 3, 32, 32])
    inits, nodes, outs = [], [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    if kind in ("yolov5_rows", "yolov8_rows"):
        scale = np.array([32, 32, 16, 16, 1, 1, 1, 1], np.float32)
        if kind == "yolov5_rows":
            shape, scale = [0, 384, 8], scale.reshape(1, 1, 8)
        else:
            shape, scale = [0, 8, 384], scale.reshape(1, 8, 1)
        nodes += [
            helper.make_node("Reshape", ["images", const("shape", np.array(
                shape, np.int64))], ["rows"]),
            helper.make_node("Mul", ["rows", const("scale", scale)], ["output0"]),
        ]
        outs.append(helper.make_tensor_value_info(
            "output0", TensorProto.FLOAT, [b] + shape[1:]))
    else:
        nodes.append(helper.make_node("Reshape", ["images", const(
            "flat_shape", np.array([0, -1], np.int64))], ["flat"]))
        const("axis1", np.array([1], np.int64))
        const("eight", np.array(8.0, np.float32))
        start = 0
        for kind_, dim, cells_list in (("cls", 4, (16, 4, 1)),
                                       ("box", 32, (16, 4, 1))):
            for stride, cells in zip((8, 16, 32), cells_list):
                name = "%s_s%d" % (kind_, stride)
                end = start + cells * dim
                nodes.append(helper.make_node("Slice", [
                    "flat", const(name + "_start", np.array([start], np.int64)),
                    const(name + "_end", np.array([end], np.int64)), "axis1"],
                    [name + "_flat"]))
                src = name + "_flat"
                if kind_ == "box":
                    nodes.append(helper.make_node("Mul", [src, "eight"],
                                                  [name + "_x8"]))
                    src = name + "_x8"
                nodes.append(helper.make_node("Reshape", [src, const(
                    name + "_shape", np.array([0, cells, dim], np.int64))],
                    [name]))
                outs.append(helper.make_tensor_value_info(
                    name, TensorProto.FLOAT, [b, cells, dim]))
                start = end
    save(helper.make_graph(nodes, kind, [x], outs, inits), path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["affine", "affine_dynamic", "const", "weights",
                                     "yolov5_rows", "yolov8_rows", "nanodet_rows"])
    ap.add_argument("out")
    ap.add_argument("--input", default="1,3,640,640")
    ap.add_argument("--output", action="append", default=[])
    ap.add_argument("--mib", type=float, default=4.0)
    ap.add_argument("--batch", type=int, default=0)
    a = ap.parse_args()
    if a.kind == "affine":
        affine(a.out, [1, 3, 4, 4])
    elif a.kind == "weights":
        weights(a.out, a.mib)
    elif a.kind.endswith("_rows"):
        rows_model(a.out, a.kind, a.batch)
    elif a.kind == "affine_dynamic":
        affine(a.out, ["batch", 3])
    else:
        const(a.out, [int(d) for d in a.input.split(",")], a.output)


if __name__ == "__main__":
    main()
