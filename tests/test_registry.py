"""The registry of shipped weights: names, files, the Set5 PSNR each entry records, the CLI's pretrained:NAME."""

import os
from pathlib import Path

import numpy as np
import pytest

import espcn_ref
from espcn_ref.cli import main
from espcn_ref.data import load_set
from espcn_ref.evaluate import evaluate_images
from espcn_ref.model import ESPCN, srcnn_config
from espcn_ref.registry import list_pretrained, parse_pretrained, pretrained, pretrained_path

DATA = Path(os.environ.get("ESPCN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
SHIPPED = list_pretrained()


def test_every_listed_model_ships_and_loads_as_listed():
    assert {(s["name"], s["scale"]) for s in SHIPPED} >= {("espcn-t91", 2), ("espcn-t91", 3), ("espcn-t91", 4)}
    assert len({(s["name"], s["scale"]) for s in SHIPPED}) == len(SHIPPED)  # one entry per name and scale
    for s in SHIPPED:
        model = pretrained(s["scale"], weights=s["name"])
        assert pretrained_path(s["scale"], s["name"]).is_file() and model.scale == s["scale"]
        assert model.config.kind == ("srcnn" if s["name"].startswith("srcnn") else "espcn")
        assert set(s) == {"name", "scale", "file", "architecture", "train_set", "set5_psnr"}


def test_the_package_lists_every_shipped_model_with_its_set5_psnr():
    listed = {(s["name"], s["scale"]): s["set5_psnr"] for s in espcn_ref.list_pretrained()}
    assert listed == {("espcn-t91", 2): 36.37, ("espcn-t91", 3): 32.89, ("espcn-t91", 4): 30.12,
                      ("espcn-t91-paper", 3): 32.56, ("espcn-relu-t91-paper", 3): 32.45,
                      ("srcnn-915-t91", 3): 32.35, ("espcn-rgb-t91", 3): 32.78}


def test_the_default_is_todays_model_and_bad_names_are_refused():
    a, b = espcn_ref.pretrained(3), pretrained(3, weights="espcn-t91")
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    with pytest.raises(ValueError, match="no shipped weights named 'espcn-imagenet'; shipped: .*espcn-t91"):
        pretrained(3, weights="espcn-imagenet")
    with pytest.raises(ValueError, match=r"pretrained models exist for x2, x3, x4 \('espcn-t91'\), not x5"):
        pretrained(5)
    with pytest.raises(TypeError, match="weights must be a name"):
        pretrained(3, weights=3)
    assert parse_pretrained("pretrained") == "espcn-t91" and parse_pretrained("pretrained:srcnn-915-t91") == "srcnn-915-t91"
    assert parse_pretrained("runs/x3/model.npz") is None


@pytest.mark.skipif(not (DATA / "Set5").is_dir(), reason=f"no Set5 in {DATA}")
@pytest.mark.parametrize("entry", SHIPPED, ids=[f"{s['name']}-x{s['scale']}" for s in SHIPPED])
def test_the_recorded_set5_psnr_is_what_evaluate_gives(entry):
    got = evaluate_images(pretrained(entry["scale"], entry["name"]), load_set("Set5", DATA), entry["scale"])["psnr"]
    assert round(got, 2) == entry["set5_psnr"]


def test_cli_names_shipped_models_and_describes_srcnn(capsys, tmp_path):
    assert main(["info", "--model", "pretrained:espcn-t91", "--scale", "2"]) == 0
    assert "ESPCN x2: 3 layers" in capsys.readouterr().out
    assert main(["info", "--model", "pretrained:nope"]) == 2
    assert "no shipped weights named 'nope'" in capsys.readouterr().err
    ESPCN(config=srcnn_config(3, "915")).save(tmp_path / "srcnn.npz")
    assert main(["info", "--model", str(tmp_path / "srcnn.npz")]) == 0
    out = capsys.readouterr().out
    assert "SRCNN x3: bicubic x3, then 3 layers in HR space (the ESPCN stack with r = 1)" in out
    assert "conv1.weight (64, 1, 9, 9)" in out and "multiply-adds per HR pixel: 8,032" in out


def test_srcnn_evaluates_and_upscales_through_the_same_commands(capsys, tmp_path):
    from espcn_ref.data import load_image, save_image

    ESPCN(config=srcnn_config(2, "915"), rng=np.random.default_rng(0)).save(tmp_path / "srcnn.npz")
    assert main(["evaluate", "--method", str(tmp_path / "srcnn.npz"), "--scale", "2", "--sets", "samples"]) == 0
    assert "x2 srcnn.npz" in capsys.readouterr().out
    save_image(tmp_path / "in.png", (np.random.default_rng(1).random((9, 11, 3)) * 255).astype(np.uint8))
    assert main(["upscale", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--scale", "2",
                 "--model", str(tmp_path / "srcnn.npz")]) == 0
    assert load_image(tmp_path / "out.png").shape == (18, 22, 3)
    assert main(["evaluate", "--method", str(tmp_path / "srcnn.npz"), "--scale", "3", "--sets", "samples"]) == 2
    assert "is a x2 model, but x3 was asked for" in capsys.readouterr().err
