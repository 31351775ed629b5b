"""docs/deploy.md: its commands and Python blocks run as written, in order, in a
fresh folder (the blocks that need PyTorch only when it is installed)."""

import re
import shlex
from pathlib import Path

from conftest import importorskip_deploy
from espcn_ref.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"


def _blocks():
    return re.findall(r"```(sh|python)\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_example_of_the_deploy_page_runs(tmp_path, monkeypatch, capsys):
    for module in ("onnx", "onnxruntime", "cv2", "safetensors"):
        importorskip_deploy(module)
    try:
        import torch  # noqa: F401
        has_torch = True
    except ImportError:
        has_torch = False
    monkeypatch.chdir(tmp_path)
    namespace, ran = {}, 0
    for kind, text in _blocks():
        if kind == "sh":
            for line in text.splitlines():
                if line.startswith("espcn-ref "):
                    assert main(shlex.split(line.split("#")[0])[1:]) == 0, line
                    ran += 1
        elif "import torch" not in text or has_torch:
            exec(compile(text, f"{DOC.name} block {ran}", "exec"), namespace)
            ran += 1
    assert ran >= 11 + 2 * has_torch
    for name in ("espcn_x3.onnx", "espcn_x2_dcr.onnx", "espcn_x4_t.onnx", "rgb_x2.onnx", "espcn_rgb_x3.onnx", "espcn_x3.safetensors"):
        assert (tmp_path / name).is_file(), name
    assert namespace["y"].shape == (1, 1, 360, 480) and namespace["y_sr"].shape[0] == 3 * namespace["y_lr"].shape[0]
    assert namespace["sr_rgb"].shape == (3, 3 * namespace["img"].shape[0], 3 * namespace["img"].shape[1])
    assert namespace["err_rgb"] < 1e-4  # the shipped RGB network in ONNX Runtime is our forward
