"""ONNX export: each upsampler's last layer (NumPy, against our own ops), then the
files in ONNX Runtime and OpenCV's dnn against ESPCN.forward, and `espcn-ref export`.

Tolerance: the runtimes against ``forward`` to 1e-5 absolute (float32; the
largest difference seen is 3e-7 for the random models, 1.5e-6 for the shipped
ones). The NumPy forms against the sub-pixel layer in float64 to 1e-12.
"""

import sys

import numpy as np
import pytest

from conftest import assert_close, importorskip_deploy
from espcn_ref.cli import main
from espcn_ref.export import (UPSAMPLERS, check_exportable, export_onnx, folded_last_layer, last_layer_in_order,
                              phase_bias, shuffle_kernel, to_onnx)
from espcn_ref.model import ESPCN, ESPCNConfig
from espcn_ref.model_file import MissingPackageError
from espcn_ref.registry import pretrained
from espcn_ref.ops.conv import conv2d
from espcn_ref.ops.conv_transpose import conv_transpose2d
from espcn_ref.ops.shuffle import ORDERS, channel_index, pixel_shuffle

ATOL = 1e-5


def _model(C=1, r=3, order="crd", **kw):
    return ESPCN(config=ESPCNConfig(scale=r, channels=C, order=order, **kw), rng=np.random.default_rng(10 * r + C))


# --- the last layer in each form, with our own ops (no extra needed) ---------------------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("C, r", [(1, 1), (1, 2), (3, 3), (2, 4)])
def test_shuffle_kernel_is_ps_as_a_transposed_conv(order, C, r):
    z = np.random.default_rng(0).standard_normal((2, C * r * r, 3, 4))
    S = shuffle_kernel(C, r, order)
    assert set(np.unique(S)) <= {0.0, 1.0} and S.sum() == C * r * r  # one 1 per HR phase and channel
    np.testing.assert_array_equal(conv_transpose2d(z, S.astype(z.dtype), stride=r), pixel_shuffle(z, r, order))


@pytest.mark.parametrize("src", ORDERS)
@pytest.mark.parametrize("dst", ORDERS)
def test_the_permuted_last_layer_gives_the_same_image(src, dst):
    C, r = 3, 2
    rng = np.random.default_rng(1)
    f, w, b = rng.standard_normal((2, 5, 4, 3)), rng.standard_normal((C * r * r, 5, 3, 3)), rng.standard_normal(C * r * r)
    w2, b2 = last_layer_in_order(w, b, C, r, src, dst)
    assert_close(pixel_shuffle(conv2d(f, w2, b2, padding=1), r, dst), pixel_shuffle(conv2d(f, w, b, padding=1), r, src),
                 what=f"{src} -> {dst}")


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("C, r, f", [(1, 2, 3), (3, 3, 3), (1, 4, 5), (2, 3, 1)])
@pytest.mark.parametrize("bias", ["per phase", "per channel"])
def test_folded_last_layer_is_the_subpixel_layer(order, C, r, f, bias):
    rng = np.random.default_rng(2)
    n = 4
    x, w = rng.standard_normal((2, n, 5, 3)), rng.standard_normal((C * r * r, n, f, f))
    b = rng.standard_normal(C * r * r)
    if bias == "per channel":  # as ICNR initialises it: every phase of channel c shares b_c
        b_c = rng.standard_normal(C)
        for c, i, j in np.ndindex(C, r, r):
            b[channel_index(c, i, j, C, r, order)] = b_c[c]
    assert_close(phase_bias(b, C, r, order), pixel_shuffle(b.reshape(1, -1, 1, 1), r, order)[0])
    w_t, b_t, p, ones = folded_last_layer(w, b, C, r, order)
    assert ones == (bias == "per phase") and (b_t is None) == ones
    assert w_t.shape == (n + ones, C, r * f, r * f) and p == r * (f // 2)
    x1 = np.concatenate([x, np.ones_like(x[:, :1])], axis=1) if ones else x
    assert_close(conv_transpose2d(x1, w_t, b_t, stride=r, padding=p),
                 pixel_shuffle(conv2d(x, w, b, padding=f // 2), r, order), rtol=1e-12, atol=1e-12, what="folded")


def test_a_model_with_pre_upscaling_and_an_unknown_upsampler_are_refused(monkeypatch):
    m = _model()
    with pytest.raises(ValueError, match="upsample must be one of"):
        check_exportable(m, "bicubic")
    monkeypatch.setattr(m, "metadata", lambda: {**ESPCN.metadata(m), "pre_upscale": 3})
    with pytest.raises(ValueError, match="upscales its input by 3 .* ONNX's cubic Resize is not MATLAB's bicubic"):
        check_exportable(m, "depth_to_space")


# --- the files in ONNX Runtime and OpenCV -----------------------------------------------------


@pytest.fixture(scope="module")
def runtimes():
    importorskip_deploy("onnx")
    ort = importorskip_deploy("onnxruntime")
    cv2 = importorskip_deploy("cv2")

    def run(data: bytes, x):
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        net = cv2.dnn.readNetFromONNX(np.frombuffer(data, np.uint8))
        net.setInput(x)
        return {"onnxruntime": session.run(None, {"input": x})[0], "opencv": net.forward()}

    return run


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("r", [2, 3, 4])
@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("upsample", UPSAMPLERS)
def test_every_upsampler_matches_forward_in_both_runtimes(runtimes, upsample, C, r, order):
    m = _model(C, r, order)
    data = to_onnx(m, upsample).SerializeToString()  # onnx.checker has passed
    for shape in [(2, C, 7, 5), (1, C, 4, 9)]:  # N, H and W are dynamic
        x = np.random.default_rng(shape[0]).random(shape, dtype=np.float32)
        ref = m.forward(x)
        for runtime, y in runtimes(data, x).items():
            assert_close(y, ref, rtol=0, atol=ATOL, what=f"{runtime} {upsample} C={C} r={r} {order} {shape}")


@pytest.mark.parametrize("r", [2, 3, 4])
def test_the_shipped_models_in_both_runtimes(runtimes, r):
    m = pretrained(r)
    x = np.random.default_rng(r).random((1, 1, 40, 50), dtype=np.float32)
    ref = m.forward(x)
    for upsample in UPSAMPLERS:
        for runtime, y in runtimes(to_onnx(m, upsample).SerializeToString(), x).items():
            assert_close(y, ref, rtol=0, atol=ATOL, what=f"{runtime} x{r} {upsample}")


@pytest.mark.parametrize("upsample", ["folded", "transposed"])
def test_per_channel_biases_and_relu_export_too(runtimes, upsample):
    m = ESPCN(config=ESPCNConfig(scale=3, channels=3, activation="relu", hidden=((3, 16),) * 3), init="icnr",
              rng=np.random.default_rng(5))
    proto = to_onnx(m, upsample)
    assert [n.op_type for n in proto.graph.node][:2] == ["Conv", "Relu"]
    if upsample == "folded":  # ICNR's biases are equal over the phases: no ones channel needed
        assert [n.op_type for n in proto.graph.node][-2:] == ["Relu", "ConvTranspose"]
    x = np.random.default_rng(6).random((1, 3, 6, 5), dtype=np.float32)
    for runtime, y in runtimes(proto.SerializeToString(), x).items():
        assert_close(y, m.forward(x), rtol=0, atol=ATOL, what=runtime)


def test_the_graphs_are_the_documented_ones(runtimes):
    def ops(upsample, order="crd"):
        g = to_onnx(_model(3, 2, order), upsample).graph
        tail = g.node[-1]
        return [n.op_type for n in g.node][4:], {a.name: a for a in tail.attribute}

    (tail, attrs) = ops("depth_to_space")
    assert tail == ["Conv", "DepthToSpace"] and attrs["mode"].s == b"CRD" and attrs["blocksize"].i == 2
    assert ops("depth_to_space", "dcr_t")[1]["mode"].s == b"DCR"
    assert ops("dcr", "crd")[1]["mode"].s == b"DCR"
    assert ops("transposed")[0] == ["Conv", "ConvTranspose"]
    tail, attrs = ops("folded")  # random biases differ over the phases: the ones channel carries them
    assert tail == ["Conv", "Concat", "ConvTranspose"] and list(attrs["pads"].ints) == [2] * 4
    g = to_onnx(_model(), "dcr").graph
    assert [d.dim_param or d.dim_value for d in g.input[0].type.tensor_type.shape.dim] == ["N", 1, "H", "W"]


def test_the_permutation_has_teeth(runtimes):
    """A DCR graph of a crd model equals forward only because the last layer is permuted."""
    m = _model(3, 2, "crd")
    unpermuted = ESPCN(config=ESPCNConfig(scale=2, channels=3, order="dcr"))
    unpermuted.params = m.params
    x = np.random.default_rng(7).random((1, 3, 5, 5), dtype=np.float32)
    y = runtimes(to_onnx(m, "dcr").SerializeToString(), x)["onnxruntime"]
    assert_close(y, m.forward(x), rtol=0, atol=ATOL)
    assert np.abs(y - unpermuted.forward(x)).max() > 1e-2


# --- espcn-ref export --------------------------------------------------------------------------


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_export_pretrained_and_a_model_file(capsys, tmp_path, runtimes):
    code, out, _ = _cli(capsys, "export", "pretrained:espcn-t91", tmp_path / "x2.onnx", "--scale", "2")
    assert code == 0 and "ESPCN x2" in out and "upsampler depth_to_space" in out
    m = _model(3, 4, "dcr_t")
    m.save(tmp_path / "m.npz")
    code, out, _ = _cli(capsys, "export", tmp_path / "m.npz", tmp_path / "m.onnx", "--upsample", "transposed")
    assert code == 0 and "order dcr_t, upsampler transposed" in out
    x = np.random.default_rng(8).random((1, 3, 4, 6), dtype=np.float32)
    for runtime, y in runtimes((tmp_path / "m.onnx").read_bytes(), x).items():
        assert_close(y, m.forward(x), rtol=0, atol=ATOL, what=runtime)


@pytest.mark.parametrize("case, message", [
    ("unknown-pretrained", "no shipped weights named 'srcnn'"),
    ("wrong-scale", "is a x4 model, but x2 was asked for"),
    ("not-onnx", "an ONNX file ends in .onnx"),
    ("missing-onnx", "ONNX export needs the package 'onnx', which is not installed: pip install 'espcn-ref[deploy]'"),
])
def test_cli_export_errors_are_one_line(capsys, tmp_path, monkeypatch, case, message):
    _model(1, 4).save(tmp_path / "m.npz")
    args = {"unknown-pretrained": ["pretrained:srcnn", tmp_path / "o.onnx"],
            "wrong-scale": [tmp_path / "m.npz", tmp_path / "o.onnx", "--scale", "2"],
            "not-onnx": [tmp_path / "m.npz", tmp_path / "o.npz"],
            "missing-onnx": [tmp_path / "m.npz", tmp_path / "o.onnx"]}[case]
    if case == "missing-onnx":
        monkeypatch.setitem(sys.modules, "onnx", None)
    code, _, err = _cli(capsys, "export", *args)
    assert code == 2 and err.count("\n") == 1 and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_export_writes_atomically(tmp_path, runtimes):
    export_onnx(_model(), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="upsample must be one of"):
        export_onnx(_model(), tmp_path / "m.onnx", "nearest")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_without_onnx_the_error_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    with pytest.raises(MissingPackageError, match=r"ONNX export needs the package 'onnx'.*espcn-ref\[deploy\]"):
        to_onnx(_model())
