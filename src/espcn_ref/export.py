"""ONNX export of ESPCN: eq. (1)-(3) as Conv and Tanh / Relu, eq. (4) in one of four forms.

The graph, with dynamic N, H and W::

    input (N, C, H, W)
    Conv(W_l, b_l, pads f_l // 2), Tanh | Relu      l = 1 .. L-1, eq. (1)-(2)
    then the upsampler, ``upsample=``:

    depth_to_space  Conv(W_L, b_L); DepthToSpace(r, mode)      the model's order: CRD or DCR;
                    a dcr_t model's last layer is permuted to DCR first
    dcr             the same, DCR for every model               W_L, b_L permuted to DCR as needed
    transposed      Conv(W_L, b_L); ConvTranspose(S, stride r)  PS as a fixed 0/1 kernel S, no DepthToSpace
    folded          one ConvTranspose(W_t, stride r, pads p)    W_L and PS merged (Sec. 2.2)

    output (N, C, rH, rW)

The forms are the same function (tests: ONNX Runtime and OpenCV against
:meth:`ESPCN.forward`, to float32 rounding):

* Any two shuffle orders differ by a permutation p of the last layer's
  C r^2 output channels, ``shuffle_permutation(C, r, src, dst)``:
  ``PS_dst(W[p] * f + b[p]) == PS_src(W * f + b)``. So DCR serves every model.
* PS is a transposed convolution of stride r with an r x r kernel of zeros
  and ones: ``S[k, c, i, j] = 1`` iff k = channel_index(c, i, j) (each HR
  pixel gets exactly one LR value, times 1).
* ``folded``: Sec. 2.2 read backwards. ``subpixel_to_transposed`` turns
  W_L (C r^2, n, f, f) into W_t (n, C, r f, r f), and 'same' padding f // 2
  becomes ``pads`` p = r (f // 2) (:func:`transposed_padding`). The biases
  do not fold as plainly: the sub-pixel layer has C r^2 of them, one per
  channel and phase, so the HR image gets the periodic r x r tile
  ``B[c, i, j] = b_L[channel_index(c, i, j)]``, where a ConvTranspose has
  only C. When B is constant over the phases it is the ConvTranspose's
  bias. Otherwise the tile is added exactly by one more input channel of
  ones: ConvTranspose reads [f^{L-1}; 1], and the ones channel's kernel is
  B in its block of taps p .. p + r - 1, which lands on the LR pixel's own
  r x r HR block. The ones are Conv(I_LR, 0, bias 1), a 1 x 1 convolution
  with zero weights (exactly 1 at every pixel of a finite input).

A model with ``pre_upscale`` > 1 (a bicubic upscaling before the network)
is refused: ONNX's cubic Resize is not MATLAB's bicubic imresize.
The ``onnx`` package (``pip install 'espcn-ref[deploy]'``) builds the file
with its graph helpers; it is imported only here, when a file is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._atomic import write_bytes_atomic
from .equivalence import subpixel_to_transposed, transposed_padding
from .formats import FORMAT_VERSION, require
from .model import ESPCN
from .ops.shuffle import channel_index, shuffle_permutation

UPSAMPLERS = ("depth_to_space", "dcr", "transposed", "folded")
OPSET = 17  # DepthToSpace with mode (>= 11), Shape-free graph: read by ONNX Runtime and OpenCV's dnn
IR_VERSION = 8  # the IR of opset 17 (onnx 1.12), so older runtimes read the file too


# --- the last layer in each form (NumPy; the tests check them with our own ops) ----------


def last_layer_in_order(w, b, C: int, r: int, src: str, dst: str):
    """The last layer (w (C r^2, n, f, f), b (C r^2,)) for shuffle order ``dst``
    instead of ``src``: ``(w[p], b[p])``, p = shuffle_permutation(C, r, src, dst)."""
    p = shuffle_permutation(C, r, src, dst)
    return np.ascontiguousarray(w[p]), np.ascontiguousarray(b[p])


def shuffle_kernel(C: int, r: int, order: str) -> np.ndarray:
    """PS as a ConvTranspose weight S (C r^2, C, r, r): ``S[k, c, i, j] = 1`` iff
    k = channel_index(c, i, j, C, r, order), else 0. With stride r and no
    padding, conv_transpose2d(z, S, stride=r) == pixel_shuffle(z, r, order)."""
    S = np.zeros((C * r * r, C, r, r), dtype=np.float32)
    for c in range(C):
        for i in range(r):
            for j in range(r):
                S[channel_index(c, i, j, C, r, order), c, i, j] = 1.0
    return S


def phase_bias(b, C: int, r: int, order: str) -> np.ndarray:
    """The periodic r x r bias tile B (C, r, r) of the sub-pixel layer:
    ``B[c, i, j] = b[channel_index(c, i, j)]``, the bias of HR pixel (c, h, w)
    at row phase i = h % r, column phase j = w % r."""
    B = np.empty((C, r, r), dtype=np.asarray(b).dtype)
    for c in range(C):
        for i in range(r):
            for j in range(r):
                B[c, i, j] = b[channel_index(c, i, j, C, r, order)]
    return B


def folded_last_layer(w, b, C: int, r: int, order: str):
    """The last layer and PS as one transposed convolution, exactly.

    w: (C r^2, n, f, f), b: (C r^2,), 'same' padding f // 2. Returns
    ``(w_t, bias, p, ones)``: w_t (n + ones, C, r f, r f), bias (C,) or None,
    the padding p = r (f // 2), and ``ones`` (0 or 1): whether w_t reads one
    more input channel of ones, which carries the periodic bias. Then, with
    ``f1 = concatenate([f, 1])`` when ``ones``::

        conv_transpose2d(f1, w_t, bias, stride=r, padding=p) == pixel_shuffle(conv2d(f, w, b, f // 2), r, order)
    """
    f = w.shape[2]
    w_t = subpixel_to_transposed(w, r, order)  # (n, C, r f, r f)
    p = transposed_padding(f, r, f // 2)  # = r (f // 2)
    B = phase_bias(b, C, r, order)  # (C, r, r)
    if np.all(B == B[:, :1, :1]):  # one bias per output channel: the ConvTranspose's own
        return w_t, np.ascontiguousarray(B[:, 0, 0]), p, 0
    tile = np.zeros((1, C, r * f, r * f), dtype=w_t.dtype)
    tile[0, :, p : p + r, p : p + r] = B  # taps p + i: LR pixel (h, w) writes HR (h r + i, w r + j)
    return np.concatenate([w_t, tile]), None, p, 1


# --- the ONNX graph ------------------------------------------------------------------


def check_exportable(model: ESPCN, upsample: str) -> None:
    """A one-line ValueError for a model or an upsampler this exporter does not write."""
    if upsample not in UPSAMPLERS:
        raise ValueError(f"upsample must be one of {UPSAMPLERS}, got {upsample!r}")
    pre = model.metadata().get("pre_upscale", 1)
    if pre != 1:
        raise ValueError(f"this model upscales its input by {pre} (bicubic) before the network; ONNX's cubic "
                         "Resize is not MATLAB's bicubic imresize, so it is not exported")


def to_onnx(model: ESPCN, upsample: str = "depth_to_space"):
    """The ESPCN ``model`` as an ``onnx.ModelProto`` (checked by ``onnx.checker``).

    upsample: ``"depth_to_space"`` (default), ``"dcr"``, ``"transposed"`` or
    ``"folded"``; see the module doc. Input "input" (N, C, H, W), output
    "output" (N, C, rH, rW), float32, N, H and W dynamic.
    """
    check_exportable(model, upsample)
    onnx = require("onnx", "onnx", "ONNX export")
    from onnx import TensorProto, helper, numpy_helper

    c = model.config
    C, r, L, order = c.channels, c.scale, model.num_layers, c.order
    nodes, inits = [], []

    def const(name, a):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32), name))
        return name

    def conv(x, l, w, b, out):
        f = w.shape[2]
        nodes.append(helper.make_node("Conv", [x, const(f"conv{l}.weight", w), const(f"conv{l}.bias", b)], [out],
                                      name=f"conv{l}", kernel_shape=[f, f], pads=[f // 2] * 4, strides=[1, 1]))
        return out

    x = "input"
    for l in range(1, L):  # eq. (1)-(2)
        z = conv(x, l, model.params[f"conv{l}.weight"], model.params[f"conv{l}.bias"], f"z{l}")
        nodes.append(helper.make_node(c.activation.capitalize(), [z], [f"f{l}"], name=f"{c.activation}{l}"))
        x = f"f{l}"
    w, b = model.params[f"conv{L}.weight"], model.params[f"conv{L}.bias"]
    if upsample in ("depth_to_space", "dcr"):
        mode = "CRD" if upsample == "depth_to_space" and order == "crd" else "DCR"
        if mode == "DCR" and order != "dcr":
            w, b = last_layer_in_order(w, b, C, r, order, "dcr")
        z = conv(x, L, w, b, f"z{L}")
        nodes.append(helper.make_node("DepthToSpace", [z], ["output"], name="shuffle", blocksize=r, mode=mode))
        what = f"DepthToSpace {mode}"
    elif upsample == "transposed":
        z = conv(x, L, w, b, f"z{L}")
        nodes.append(helper.make_node("ConvTranspose", [z, const("shuffle.weight", shuffle_kernel(C, r, order))],
                                      ["output"], name="shuffle", kernel_shape=[r, r], strides=[r, r]))
        what = "ConvTranspose 0/1 (the shuffle)"
    else:  # folded
        w_t, bias, p, ones = folded_last_layer(w, b, C, r, order)
        inputs = [x, const(f"conv{L}.weight_t", w_t)]
        if ones:  # f^{L-1} gets one more channel of ones, which stamps the periodic bias tile
            nodes.append(helper.make_node("Conv", ["input", const("ones.weight", np.zeros((1, C, 1, 1))),
                                                   const("ones.bias", np.ones(1))], ["ones"], name="ones",
                                          kernel_shape=[1, 1]))
            nodes.append(helper.make_node("Concat", [x, "ones"], [f"f{L - 1}_ones"], name="concat_ones", axis=1))
            inputs[0] = f"f{L - 1}_ones"
        else:
            inputs.append(const(f"conv{L}.bias_t", bias))
        k = w_t.shape[2]
        nodes.append(helper.make_node("ConvTranspose", inputs, ["output"], name=f"conv{L}_folded",
                                      kernel_shape=[k, k], strides=[r, r], pads=[p] * 4))
        what = f"ConvTranspose {k}x{k}, stride {r}, pads {p} (conv{L} and the shuffle folded)"

    graph = helper.make_graph(
        nodes, f"espcn_x{r}", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", C, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", C, "rH", "rW"])], inits,
        doc_string=f"ESPCN (Shi et al., CVPR 2016) x{r}, {L} layers, {c.activation}; upsampler: {what}")
    proto = helper.make_model(graph, producer_name="espcn-ref", ir_version=IR_VERSION,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    helper.set_model_props(proto, {"espcn_ref": json.dumps(
        {**model.metadata(), "format_version": FORMAT_VERSION, "upsample": upsample})})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model: ESPCN, path, upsample: str = "depth_to_space") -> Path:
    """Write ``model`` to ``path`` (.onnx) atomically; see :func:`to_onnx`. Returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"cannot export to {path}: an ONNX file ends in .onnx")
    write_bytes_atomic(path, to_onnx(model, upsample).SerializeToString())
    return path
