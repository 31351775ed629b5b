"""The model file: the extension picks the format (.npz, .safetensors; .onnx to read),
any other is refused; safetensors keeps the architecture in its header."""

import json
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import importorskip_deploy
from espcn_ref.model import ESPCN, ESPCNConfig, load_model
from espcn_ref.model_file import MissingPackageError, ModelFormatError, read_model



def _model(**kw):
    return ESPCN(config=ESPCNConfig(**kw), rng=np.random.default_rng(3))


def _same_network(a: ESPCN, b: ESPCN):
    assert a.config == b.config
    for name in a.names():
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)


@pytest.mark.parametrize("name", ["m.pt", "m.pth", "m.h5", "m.json", "model", "m.npz.tmp"])
def test_an_unknown_extension_is_refused_when_saving(tmp_path, name):
    with pytest.raises(ModelFormatError, match=r"cannot save .*; a model file is \.npz or \.safetensors") as e:
        ESPCN(2).save(tmp_path / name)
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_saving_onnx_points_to_the_exporter(tmp_path):
    with pytest.raises(ModelFormatError, match="export_onnx, or `espcn-ref export`"):
        ESPCN(2).save(tmp_path / "m.onnx")


def test_an_unknown_extension_is_refused_when_loading(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"\x80\x04K\x01.")  # a pickle: never opened
    with pytest.raises(ModelFormatError, match=r"extension '\.pt'.*\.npz or \.safetensors or \.onnx.*never read"):
        load_model(tmp_path / "m.pt")
    (tmp_path / "m").write_bytes(b"")
    with pytest.raises(ModelFormatError, match="no extension"):
        read_model(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="model file not found"):  # a missing file says so first
        load_model(tmp_path / "missing.pt")


def test_the_extension_is_case_insensitive(tmp_path):
    m = _model(scale=2)
    m.save(tmp_path / "M.NPZ")
    _same_network(load_model(tmp_path / "M.NPZ"), m)


def test_safetensors_round_trip_with_the_metadata_in_the_header(tmp_path):
    importorskip_deploy("safetensors")
    m = _model(scale=4, channels=3, activation="relu", order="dcr_t", hidden=((5, 16), (3, 8), (3, 8)))
    m.save(tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])  # the safetensors layout: header length, JSON header, raw data
    header = json.loads(data[8 : 8 + n])
    assert header["conv1.weight"] == {"dtype": "F32", "shape": [16, 3, 5, 5],
                                      "data_offsets": header["conv1.weight"]["data_offsets"]}
    meta = json.loads(header["__metadata__"]["espcn_ref"])
    assert meta == {**m.metadata(), "format_version": 2}
    _same_network(load_model(tmp_path / "m.safetensors"), m)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left


def test_npz_and_safetensors_hold_the_same_model(tmp_path):
    importorskip_deploy("safetensors")
    m = _model(scale=3)
    m.save(tmp_path / "m.npz")
    m.save(tmp_path / "m.safetensors")
    (meta_a, arrays_a), (meta_b, arrays_b) = read_model(tmp_path / "m.npz"), read_model(tmp_path / "m.safetensors")
    assert meta_a == meta_b and sorted(arrays_a) == sorted(arrays_b)
    for name in arrays_a:
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name])


def test_safetensors_that_are_not_espcn_models_are_refused(tmp_path):
    st = importorskip_deploy("safetensors.numpy")
    (tmp_path / "plain.safetensors").write_bytes(st.save({"conv1.weight": np.zeros((2, 1, 3, 3), np.float32)}))
    with pytest.raises(ModelFormatError, match="no 'espcn_ref' entry in the header's metadata"):
        load_model(tmp_path / "plain.safetensors")
    ESPCN(2).save(tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="not a readable .safetensors file"):
        load_model(tmp_path / "cut.safetensors")
    meta = json.dumps({**ESPCN(2).metadata(), "format_version": 7})
    (tmp_path / "old.safetensors").write_bytes(st.save({"conv1.bias": np.zeros(64, np.float32)}, {"espcn_ref": meta}))
    with pytest.raises(ModelFormatError, match="format version 7"):
        load_model(tmp_path / "old.safetensors")


def test_a_missing_package_is_one_line_naming_it(tmp_path, monkeypatch):
    for name in ("safetensors", "safetensors.numpy"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    with pytest.raises(MissingPackageError, match=r"needs the package 'safetensors'.*pip install 'espcn-ref\[deploy\]'"):
        ESPCN(2).save(tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []
    assert issubclass(MissingPackageError, ImportError) and issubclass(MissingPackageError, ValueError)


def test_safetensors_load_into_a_torch_conv_stack(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = importorskip_deploy("safetensors.torch")
    m = _model(scale=3, channels=3)
    m.save(tmp_path / "m.safetensors")
    state = st_torch.load_file(tmp_path / "m.safetensors")
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(3, 64, 5, padding=2), nn.Tanh(), nn.Conv2d(64, 32, 3, padding=1), nn.Tanh(),
                        nn.Conv2d(32, 27, 3, padding=1), nn.PixelShuffle(3))  # crd: PyTorch's order
    net.load_state_dict({f"{2 * (int(k[4]) - 1)}.{k.split('.')[1]}": v for k, v in state.items()})
    x = np.random.default_rng(4).random((2, 3, 7, 6), dtype=np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(m.forward(x), ref, atol=2e-6)


def test_nothing_in_the_package_unpickles():
    src = Path(__file__).resolve().parents[1] / "src"
    banned = re.compile(r"import pickle|from pickle|allow_pickle\s*=\s*True|torch\.load\(|\bjoblib\b|\bdill\b|cloudpickle")
    hits = [f"{p}:{i}" for p in sorted(src.rglob("*.py")) for i, line in enumerate(p.read_text().splitlines(), 1)
            if banned.search(line)]
    assert hits == []
