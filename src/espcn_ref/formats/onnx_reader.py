"""Reading an ONNX file of the ESPCN family into (meta, arrays).

The family is eq. (1)-(4) of Shi et al. (CVPR 2016) as a chain of ONNX nodes::

    input                   (N, C, H, W)
    Conv, Tanh | Relu       layers l = 1 .. L-1: f^l = phi(W_l * f^{l-1} + b_l)
    Conv                    layer L, C r^2 output channels and no phi, eq. (3)
    the periodic shuffle    eq. (4): DepthToSpace (mode CRD or DCR); or PyTorch's
                            older Reshape-Transpose-Reshape export (opset <= 10,
                            with the Unsqueeze / Squeeze it adds for dynamic sizes);
                            or the 0/1 ConvTranspose of ``espcn-ref export --upsample transposed``
    output                  (N, C, rH, rW)

Every Conv must be an ESPCN layer: constant weights and bias, a square odd
kernel, 'same' padding f // 2 on every side (or auto_pad SAME_*), stride 1,
dilation 1, one group. Every hidden layer has the same activation. L may be
larger than the paper's 3 (the pytorch/examples super-resolution net has
four relu layers). Anything else is refused with an error naming the node.

The shuffle is recognised by what it computes, not by its spelling: the
nodes after the last Conv are run by ONNX's reference evaluator on a probe,
``arange`` over (N, C r^2, H, W) (the input's static sizes where it has
them), and the result is compared with :func:`pixel_shuffle` in each order
crd, dcr, dcr_t. The first order that gives the same array is the model's.
For C = 1, crd and dcr are the same shuffle, and the reader says crd.

The weights come back under PyTorch's names (``conv{l}.weight``,
``conv{l}.bias``), whatever the file calls them; the ONNX file is protobuf,
nothing to unpickle.
"""

from __future__ import annotations

import json
import math

import numpy as np

from ..ops.shuffle import ORDERS, pixel_shuffle
from . import ModelFormatError, check_model_path, require

ACTIVATIONS = {"Tanh": "tanh", "Relu": "relu"}
# Nodes that may make up the shuffle after the last Conv (the probe decides whether they do).
SHUFFLE_OPS = ("DepthToSpace", "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Constant", "Identity",
               "Shape", "Gather", "Slice", "Concat", "Cast", "ConvTranspose")
FAMILY = ("an ESPCN file is a chain of Conv with Tanh or Relu, then the periodic shuffle "
          "(DepthToSpace, or Reshape-Transpose-Reshape)")


def read(path) -> tuple[dict, dict]:
    """(meta, arrays) of an ``.onnx`` file of the ESPCN family; ModelFormatError otherwise."""
    path = check_model_path(path)
    onnx = require("onnx", "onnx", "reading an .onnx file")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # not protobuf, truncated, external data missing
        raise ModelFormatError(f"{path}: not a readable .onnx file ({type(e).__name__}: {e})") from None
    return graph_to_espcn(model, path)


def _describe(node) -> str:
    return f"{node.op_type} '{node.name or node.output[0]}'"


class _Graph:
    """The graph as a chain: constants by name, and who reads each value."""

    def __init__(self, model, where):
        from onnx import helper, numpy_helper

        self.where, self.helper = where, helper
        g = model.graph
        self.nodes = list(g.node)
        self.consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for node in self.nodes:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        for node in self.nodes:
            if node.domain not in ("", "ai.onnx"):
                self.fail(f"unsupported node {_describe(node)} of the custom domain '{node.domain}': {FAMILY}")
        inputs = [v for v in g.input if v.name not in self.consts]
        if len(inputs) != 1 or len(g.output) != 1:
            self.fail(f"{len(inputs)} inputs and {len(g.output)} outputs; {FAMILY}, one input, one output")
        self.input, self.output = inputs[0], g.output[0].name
        self.readers = {}
        for node in self.nodes:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)

    def fail(self, message):
        raise ModelFormatError(f"{self.where}: {message}")

    def next_node(self, value, after: str):
        """The one node that reads ``value`` (None at the graph's output); a branch is refused."""
        readers = self.readers.get(value, [])
        if len(readers) > 1:
            self.fail(f"the output of {after} is read by {len(readers)} nodes "
                      f"({', '.join(_describe(n) for n in readers)}): {FAMILY}")
        return readers[0] if readers else None

    def attrs(self, node) -> dict:
        return {a.name: self.helper.get_attribute_value(a) for a in node.attribute}

    def conv_layer(self, node):
        """(weight, bias) of a Conv node that is an ESPCN layer; a one-line error naming it otherwise."""
        what = _describe(node)
        if len(node.input) < 2 or node.input[1] not in self.consts:
            self.fail(f"{what}: its weight is not a constant (an initializer)")
        w = self.consts[node.input[1]]
        if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[2] % 2 == 0 or w.dtype.kind != "f":
            self.fail(f"{what}: weight {w.shape} {w.dtype}; an ESPCN layer has a square, odd, float kernel")
        f = w.shape[2]
        has_bias = len(node.input) > 2 and node.input[2] != ""
        if has_bias and node.input[2] not in self.consts:
            self.fail(f"{what}: its bias is not a constant (an initializer)")
        b = self.consts[node.input[2]] if has_bias else np.zeros(w.shape[0], w.dtype)
        a = self.attrs(node)
        auto_pad = a.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        same = auto_pad in ("SAME_UPPER", "SAME_LOWER") or (
            auto_pad == "NOTSET" and list(a.get("pads", [0, 0, 0, 0])) == [f // 2] * 4)
        if not same:
            self.fail(f"{what}: padding {list(a.get('pads', [0, 0, 0, 0]))} (auto_pad {auto_pad}) is not 'same' "
                      f"({f // 2} on every side), as every ESPCN layer has")
        for name, unit in (("strides", 1), ("dilations", 1)):
            if any(v != unit for v in a.get(name, [unit, unit])):
                self.fail(f"{what}: {name} {list(a[name])}; an ESPCN layer has {name} 1")
        if a.get("group", 1) != 1:
            self.fail(f"{what}: group {a['group']}; an ESPCN layer is one group")
        return w, b


def _probe_shape(value_info, K: int) -> tuple:
    """(N, K, H, W) for the probe: the input's static N, H, W where it declares them, else small ones."""
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in value_info.type.tensor_type.shape.dim]
    n, h, w = (dims[0], dims[2], dims[3]) if len(dims) == 4 else (0, 0, 0)
    return (n or 2, K, h or 3, w or 5)


def _export_props(model) -> dict:
    """The JSON that ``espcn-ref export`` puts in the file's metadata_props ({} for other files)."""
    for prop in model.metadata_props:
        if prop.key == "espcn_ref":
            try:
                props = json.loads(prop.value)
            except ValueError:
                return {}
            return props if isinstance(props, dict) else {}
    return {}


def graph_to_espcn(model, where="<onnx>") -> tuple[dict, dict]:
    """(meta, arrays) of an ``onnx.ModelProto`` of the ESPCN family (see the module doc)."""
    g = _Graph(model, where)
    if _export_props(model).get("upsample") == "folded":
        g.fail("a folded export (the last Conv and the shuffle as one ConvTranspose) is not read back: "
               "import the depth_to_space, dcr or transposed export of the model")
    layers, activation, value, after = [], None, g.input.name, "the input"
    stack = set()  # the nodes of the Conv stack (their weights' Constant nodes are left to the tail check)
    while True:
        node = g.next_node(value, after)
        if node is None or node.op_type != "Conv":
            what = "nothing" if node is None else f"unsupported node {_describe(node)}"
            last = " (the last layer has no activation, eq. (3))" if layers else ""
            g.fail(f"{what} after {after}, where a Conv must follow{last}: {FAMILY}")
        layers.append(g.conv_layer(node))
        stack.add(id(node))
        value, after = node.output[0], _describe(node)
        act = g.next_node(value, after)
        if act is None or act.op_type not in ACTIVATIONS:
            break  # the last Conv: the shuffle follows
        name = ACTIVATIONS[act.op_type]
        if activation not in (None, name):
            g.fail(f"{_describe(act)} after conv{len(layers)}, but {activation} before it: "
                   "ESPCN has one activation in every hidden layer")
        activation = name
        stack.add(id(act))
        value, after = act.output[0], _describe(act)

    tail = [n for n in g.nodes if id(n) not in stack]
    for node in tail:
        if node.op_type not in SHUFFLE_OPS:
            g.fail(f"unsupported node {_describe(node)} after the last Conv ({after}): {FAMILY}")
    if not [n for n in tail if n.op_type != "Constant"]:
        g.fail(f"no periodic shuffle after the last Conv ({after}): {FAMILY}")
    C = layers[0][0].shape[1]
    K = layers[-1][0].shape[0]
    r = math.isqrt(K // C)
    if r < 1 or C * r * r != K:
        g.fail(f"the last Conv ({after}) has {K} output channels, not C r^2 for C = {C} input channels")
    order = _shuffle_order(model, g, tail, value, C, r)

    meta = {"scale": r, "channels": C, "hidden": [[w.shape[2], w.shape[0]] for w, _ in layers[:-1]],
            "last_kernel": layers[-1][0].shape[2], "activation": activation or "tanh", "order": order}
    arrays = {}
    for l, (w, b) in enumerate(layers, start=1):
        arrays[f"conv{l}.weight"], arrays[f"conv{l}.bias"] = w, b
    return meta, arrays


def _shuffle_order(model, g: _Graph, tail: list, z: str, C: int, r: int) -> str:
    """The order crd, dcr or dcr_t whose pixel_shuffle the ``tail`` nodes compute from ``z``."""
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    names = ", ".join(_describe(n) for n in tail if n.op_type != "Constant")
    used = {name for n in tail for name in n.input}
    inits = [t for t in model.graph.initializer if t.name in used]
    sub = helper.make_graph(tail, "shuffle", [helper.make_tensor_value_info(z, TensorProto.FLOAT, None)],
                            [helper.make_tensor_value_info(g.output, TensorProto.FLOAT, None)], inits)
    probe = _probe_shape(g.input, C * r * r)
    x = np.arange(np.prod(probe), dtype=np.float32).reshape(probe)  # every entry distinct (exact below 2^24)
    try:
        shuffle = ReferenceEvaluator(helper.make_model(sub, opset_imports=model.opset_import,
                                                       ir_version=model.ir_version))
        y = np.asarray(shuffle.run(None, {z: x})[0])
    except Exception as e:
        g.fail(f"the nodes after the last Conv ({names}) do not run as a shuffle ({type(e).__name__}: {e})")
    for order in ORDERS:
        if y.shape == (probe[0], C, r * probe[2], r * probe[3]) and np.array_equal(y, pixel_shuffle(x, r, order)):
            return order
    g.fail(f"the nodes after the last Conv ({names}) are not a periodic shuffle of r = {r} in any order "
           f"{ORDERS}: {FAMILY}")
