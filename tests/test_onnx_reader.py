"""ONNX import (formats/onnx_reader.py): our own exports, PyTorch's shuffle spellings
(built here node by node, and by torch.onnx.export when PyTorch is installed),
and a one-line error naming the node for anything outside the ESPCN family."""

import sys
import warnings

import numpy as np
import pytest

from conftest import assert_close, importorskip_deploy
from espcn_ref.model import ESPCN, ESPCNConfig, load_model
from espcn_ref.model_file import MissingPackageError, ModelFormatError

onnx = importorskip_deploy("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from espcn_ref.export import export_onnx  # noqa: E402

CRD_PERM = [0, 1, 4, 2, 5, 3]  # PyTorch's pixel_shuffle as Reshape (N, C, r, r, H, W) -> Transpose -> Reshape


def _model(C=1, r=3, order="crd", **kw):
    return ESPCN(config=ESPCNConfig(scale=r, channels=C, order=order, **kw), rng=np.random.default_rng(10 * r + C))


def _same_function(a: ESPCN, b: ESPCN, C: int):
    x = np.random.default_rng(1).random((2, C, 6, 5), dtype=np.float32)
    assert_close(a.forward(x), b.forward(x), rtol=0, atol=1e-6, what="imported vs original")


@pytest.mark.parametrize("order", ["crd", "dcr", "dcr_t"])
@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("upsample", ["depth_to_space", "dcr", "transposed"])
def test_our_exports_read_back_as_the_same_network(tmp_path, upsample, C, order):
    m = _model(C, 3, order, activation="relu")
    export_onnx(m, tmp_path / "m.onnx", upsample)
    back = load_model(tmp_path / "m.onnx")
    c = back.config
    assert (c.scale, c.channels, c.hidden, c.last_kernel, c.activation) == (3, C, ((5, 64), (3, 32)), 3, "relu")
    expected = {"depth_to_space": "dcr" if order == "dcr_t" else order, "dcr": "dcr", "transposed": order}[upsample]
    assert c.order == ("crd" if C == 1 and expected == "dcr" else expected)  # for C = 1 crd and dcr are one shuffle
    _same_function(back, m, C)


# --- graphs built node by node -------------------------------------------------------------------


def _graph(layers, activation="Relu", tail=(), in_shape=("N", 1, "H", "W"), opset=17, acts=None, extra=()):
    """An ONNX model: Conv + activation for all but the last of ``layers`` [(w, b)], the last
    Conv writing "z", then the ``tail`` nodes (reading "z", writing "output")."""
    nodes, inits, x = [], [], "input"
    for l, (w, b) in enumerate(layers, start=1):
        inits += [numpy_helper.from_array(w, f"w{l}"), numpy_helper.from_array(b, f"b{l}")]
        f = w.shape[2]
        out = "z" if l == len(layers) else f"z{l}"
        nodes.append(helper.make_node("Conv", [x, f"w{l}", f"b{l}"], [out], name=f"conv{l}", pads=[f // 2] * 4,
                                      kernel_shape=[f, f], strides=[1, 1], dilations=[1, 1], group=1))
        if l < len(layers):
            act = (acts or {}).get(l, activation)
            nodes.append(helper.make_node(act, [out], [f"f{l}"], name=f"act{l}"))
            x = f"f{l}"
    g = helper.make_graph(nodes + list(tail), "net", [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None] * 4)], inits + list(extra))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=5 if opset <= 10 else 8)


def _layers(sizes, C=1, seed=0):
    """[(w, b)] for (f, n_out) sizes, the PyTorch examples' four-layer net by default."""
    rng, out, n_in = np.random.default_rng(seed), [], C
    for f, n in sizes:
        out.append(((rng.standard_normal((n, n_in, f, f)) / np.sqrt(n_in * f * f)).astype(np.float32),
                    (0.1 * rng.standard_normal(n)).astype(np.float32)))
        n_in = n
    return out


def _const(name, values):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(values, np.int64), name))


def _torch_opset10_static(C, r, H, W):
    return [_const("s1", [-1, C, r, r, H, W]), helper.make_node("Reshape", ["z", "s1"], ["a"], name="reshape1"),
            helper.make_node("Transpose", ["a"], ["b"], name="transpose", perm=CRD_PERM),
            _const("s2", [-1, C, H * r, W * r]), helper.make_node("Reshape", ["b", "s2"], ["output"], name="reshape2")]


def _reshape_transpose_tail(split, perm):
    """Unsqueeze, Reshape to the 6-d ``split``, Transpose by ``perm`` to (N, C, H, i, W, j), then
    Reshape, Reshape, Squeeze to (N, C, rH, rW): PyTorch's opset-10 export with dynamic sizes."""
    return [helper.make_node("Unsqueeze", ["z"], ["u"], name="unsqueeze", axes=[2, 3]),
            _const("s1", split), helper.make_node("Reshape", ["u", "s1"], ["a"], name="reshape1"),
            helper.make_node("Transpose", ["a"], ["b"], name="transpose", perm=perm),
            _const("s2", [0, 0, -1, 1, 0, 0]), helper.make_node("Reshape", ["b", "s2"], ["c"], name="reshape_h"),
            _const("s3", [0, 0, 0, 0, -1, 1]), helper.make_node("Reshape", ["c", "s3"], ["d"], name="reshape_w"),
            helper.make_node("Squeeze", ["d"], ["output"], name="squeeze", axes=[3, 5])]


def _load(tmp_path, proto):
    onnx.checker.check_model(proto)
    onnx.save(proto, tmp_path / "m.onnx")
    return load_model(tmp_path / "m.onnx")


def _check_against_onnxruntime(proto, model, shape):
    ort = importorskip_deploy("onnxruntime")
    x = np.random.default_rng(2).random(shape, dtype=np.float32)
    y = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert_close(model.forward(x), y, rtol=0, atol=1e-5, what="imported vs onnxruntime on the file")


PYTORCH_EXAMPLES = [(5, 64), (3, 64), (3, 32), (3, 9)]  # pytorch/examples super_resolution, x3: four relu convs


@pytest.mark.parametrize("spelling", ["DepthToSpace CRD", "opset-10 static", "opset-10 dynamic"])
def test_the_pytorch_examples_net_in_each_of_pytorchs_spellings(tmp_path, spelling):
    r, H, W = 3, 4, 6
    if spelling == "DepthToSpace CRD":
        tail, shape, opset = [helper.make_node("DepthToSpace", ["z"], ["output"], blocksize=r, mode="CRD")], None, 11
    elif spelling == "opset-10 static":
        tail, shape, opset = _torch_opset10_static(1, r, H, W), (1, 1, H, W), 10
    else:
        tail, shape, opset = _reshape_transpose_tail([0, -1, r, r, 0, 0], CRD_PERM), None, 10
    proto = _graph(_layers(PYTORCH_EXAMPLES), "Relu", tail, shape or ("N", 1, "H", "W"), opset)
    m = _load(tmp_path, proto)
    assert m.config == ESPCNConfig(scale=3, channels=1, hidden=((5, 64), (3, 64), (3, 32)), last_kernel=3,
                                   activation="relu", order="crd")
    _check_against_onnxruntime(proto, m, shape or (2, 1, 5, 7))


def test_colour_dcr_and_dcr_t_spellings_are_recognised(tmp_path):
    layers = _layers([(3, 8), (3, 12)], C=3)
    d2s = helper.make_node("DepthToSpace", ["z"], ["output"], blocksize=2, mode="DCR")
    m = _load(tmp_path, _graph(layers, "Tanh", [d2s], ("N", 3, "H", "W")))
    assert (m.config.channels, m.config.scale, m.config.order, m.config.activation) == (3, 2, "dcr", "tanh")
    # dcr with Reshape and Transpose: channels split (i, j, C), brought to (N, C, H, i, W, j)
    proto = _graph(layers, "Tanh", _reshape_transpose_tail([0, 2, 2, 3, 0, 0], [0, 3, 4, 1, 5, 2]),
                   ("N", 3, "H", "W"), opset=10)
    m = _load(tmp_path, proto)
    assert m.config.order == "dcr"
    _check_against_onnxruntime(proto, m, (2, 3, 4, 5))
    # PyTorch's split (C, i, j) with i and j swapped in the transpose: eq. (4) with x as the row, dcr_t
    proto = _graph(_layers([(3, 8), (3, 4)]), "Tanh", _reshape_transpose_tail([0, -1, 2, 2, 0, 0], [0, 1, 4, 3, 5, 2]),
                   opset=10)
    m = _load(tmp_path, proto)
    assert m.config.order == "dcr_t"
    _check_against_onnxruntime(proto, m, (1, 1, 3, 5))


# --- outside the family: one line naming the node ------------------------------------------------


def _d2s(r=3, name="shuffle"):
    return helper.make_node("DepthToSpace", ["z"], ["output"], name=name, blocksize=r, mode="CRD")


HOSTILE = {
    "sigmoid output": (lambda: _graph(_layers([(5, 8), (3, 9)]), tail=[
        helper.make_node("DepthToSpace", ["z"], ["d"], blocksize=3, name="shuffle"),
        helper.make_node("Sigmoid", ["d"], ["output"], name="squash")]),
        "unsupported node Sigmoid 'squash' after the last Conv (Conv 'conv2')"),
    "resize": (lambda: _graph(_layers([(5, 8), (3, 1)]), tail=[
        helper.make_node("Resize", ["z", "", "sc"], ["output"], name="up", mode="cubic")],
        extra=[numpy_helper.from_array(np.array([1, 1, 3, 3], np.float32), "sc")]),
        "unsupported node Resize 'up' after the last Conv"),
    "mixed activations": (lambda: _graph(_layers([(5, 8), (3, 8), (3, 9)]), tail=[_d2s()], acts={2: "Tanh"}),
                          "Tanh 'act2' after conv2, but relu before it: ESPCN has one activation"),
    "activation on the last layer": (lambda: _graph(_layers([(5, 8), (3, 9)]), tail=[
        helper.make_node("Relu", ["z"], ["zr"], name="last_relu"),
        helper.make_node("DepthToSpace", ["zr"], ["output"], name="shuffle", blocksize=3)]),
        "unsupported node DepthToSpace 'shuffle' after Relu 'last_relu', where a Conv must follow "
        "(the last layer has no activation, eq. (3))"),
    "not a shuffle": (lambda: _graph(_layers([(5, 8), (3, 9)]), tail=_reshape_transpose_tail(
        [0, -1, 3, 3, 0, 0], [0, 1, 4, 2, 3, 5]), opset=10),  # columns j W + w, not w r + j
        "are not a periodic shuffle of r = 3 in any order"),
    "channels": (lambda: _graph(_layers([(5, 8), (3, 5)]), tail=[_d2s(2)]),
                 "the last Conv (Conv 'conv2') has 5 output channels, not C r^2 for C = 1"),
    "no shuffle": (lambda: _graph(_layers([(5, 8), (3, 4)]), tail=[
        helper.make_node("Identity", ["z"], ["output"], name="id")]),
        "the nodes after the last Conv (Identity 'id') are not a periodic shuffle of r = 2"),
}


def _with(proto, edit):
    edit(proto)
    return proto


def _conv_attr(name, value):
    def edit(proto):
        node = proto.graph.node[0]
        kept = [a for a in node.attribute if a.name != name]
        del node.attribute[:]
        node.attribute.extend(kept + [helper.make_attribute(name, value)])
    return edit


CONV_EDITS = {
    "stride 2": (_conv_attr("strides", [2, 2]), "Conv 'conv1': strides [2, 2]; an ESPCN layer has strides 1"),
    "valid padding": (_conv_attr("pads", [0, 0, 0, 0]), "Conv 'conv1': padding [0, 0, 0, 0] (auto_pad NOTSET) is not 'same'"),
    "grouped": (_conv_attr("group", 2), "Conv 'conv1': group 2"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_graphs_outside_the_family_are_refused_naming_the_node(tmp_path, case):
    build, message = HOSTILE[case]
    onnx.save(build(), tmp_path / "m.onnx")
    with pytest.raises(ModelFormatError) as e:
        load_model(tmp_path / "m.onnx")
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("case", sorted(CONV_EDITS))
def test_convolutions_that_are_not_espcn_layers_are_refused(tmp_path, case):
    edit, message = CONV_EDITS[case]
    proto = _with(_graph(_layers([(5, 8), (3, 9)]), tail=[_d2s()]), edit)
    onnx.save(proto, tmp_path / "m.onnx")
    with pytest.raises(ModelFormatError) as e:
        load_model(tmp_path / "m.onnx")
    assert message in str(e.value)


def test_a_branch_a_batchnorm_and_a_custom_op_are_refused(tmp_path):
    layers = _layers([(5, 8), (3, 9)])
    proto = _graph(layers, tail=[_d2s()])
    proto.graph.node.insert(1, helper.make_node("BatchNormalization", ["z1", "b1", "b1", "b1", "b1"], ["bn"],
                                                name="norm1"))
    proto.graph.node[2].input[0] = "bn"  # conv1 -> BatchNormalization -> Relu
    onnx.save(proto, tmp_path / "bn.onnx")
    with pytest.raises(ModelFormatError, match="unsupported node BatchNormalization 'norm1' after the last Conv"):
        load_model(tmp_path / "bn.onnx")
    proto = _graph(layers, tail=[_d2s(), helper.make_node("Relu", ["input"], ["skip"], name="skip")])
    onnx.save(proto, tmp_path / "branch.onnx")
    with pytest.raises(ModelFormatError, match=r"the output of the input is read by 2 nodes \(Conv 'conv1', Relu 'skip'\)"):
        load_model(tmp_path / "branch.onnx")
    proto = _graph(layers, tail=[helper.make_node("PixelShuffle", ["z"], ["output"], name="ps", domain="com.example")])
    onnx.save(proto, tmp_path / "custom.onnx")
    with pytest.raises(ModelFormatError, match="unsupported node PixelShuffle 'ps' of the custom domain 'com.example'"):
        load_model(tmp_path / "custom.onnx")


def test_files_that_are_not_onnx_and_folded_exports_are_refused(tmp_path):
    (tmp_path / "text.onnx").write_text("not protobuf")
    with pytest.raises(ModelFormatError, match="not a readable .onnx file"):
        load_model(tmp_path / "text.onnx")
    export_onnx(_model(), tmp_path / "f.onnx", "folded")
    with pytest.raises(ModelFormatError, match="a folded export .* is not read back: import the depth_to_space"):
        load_model(tmp_path / "f.onnx")


def test_a_missing_onnx_package_is_one_line_naming_it(tmp_path, monkeypatch):
    export_onnx(_model(), tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingPackageError, match=r"reading an .onnx file needs the package 'onnx'.*espcn-ref\[deploy\]"):
        load_model(tmp_path / "m.onnx")


# --- torch.onnx.export, when PyTorch is installed (CI does not install it) -------------------------


def _torch_nets(torch):
    nn = torch.nn

    class Net(nn.Module):  # pytorch/examples, super_resolution/model.py
        def __init__(self, upscale_factor):
            super().__init__()
            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            return self.pixel_shuffle(self.conv4(x))

    paper = nn.Sequential(nn.Conv2d(1, 64, 5, padding=2), nn.Tanh(), nn.Conv2d(64, 32, 3, padding=1), nn.Tanh(),
                          nn.Conv2d(32, 9, 3, padding=1), nn.PixelShuffle(3))
    return {"pytorch/examples": Net(3), "paper": paper}


@pytest.mark.parametrize("how", ["opset 10", "opset 10, dynamic", "opset 17", "dynamo"])
@pytest.mark.parametrize("net", ["pytorch/examples", "paper"])
def test_torch_onnx_export_reads_as_the_same_network(tmp_path, net, how):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = _torch_nets(torch)[net].eval()
    x = torch.rand(1, 1, 6, 7)
    kw = {"input_names": ["input"], "output_names": ["output"]}
    if how == "dynamo":
        pytest.importorskip("onnxscript", reason="torch's dynamo exporter needs onnxscript")
        kw["dynamo"] = True
    else:
        kw.update(dynamo=False, opset_version=int(how.split()[1].rstrip(",")))
        if "dynamic" in how:
            kw["dynamic_axes"] = {"input": {0: "N", 2: "H", 3: "W"}, "output": {0: "N", 2: "rH", 3: "rW"}}
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(tmp_path / "t.onnx"), **kw)
    m = load_model(tmp_path / "t.onnx")
    assert m.config.activation == ("relu" if net == "pytorch/examples" else "tanh") and m.config.scale == 3
    assert m.num_layers == (4 if net == "pytorch/examples" else 3)
    with torch.no_grad():
        ref = module(x).numpy()
    assert_close(m.forward(x.numpy()), ref, rtol=0, atol=1e-5, what=f"{net}, {how}")
