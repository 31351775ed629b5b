"""A model file says what made it (format 2): training sets with their SHA-256,
command, commit, machines, selected epoch; format 1 files still load."""

import csv
import hashlib
import json

import numpy as np
import pytest

import espcn_ref.train.loop as loop
from espcn_ref.cli import main
from espcn_ref.data import sample_images, save_image, set_fingerprint
from espcn_ref.model import ESPCN, load_model
from espcn_ref.model_file import ModelFormatError, read_npz, save_npz_atomic
from espcn_ref.registry import pretrained
from espcn_ref.train import TrainConfig, train


@pytest.fixture(scope="module")
def images():
    photos = sample_images(["astronaut", "chelsea", "coffee"])
    return {k: v[60:160, 100:200] for k, v in photos.items()}


def test_set_fingerprint_is_sha256_over_sorted_name_and_file_hash_lines(tmp_path):
    for name, value in (("b.png", 7), ("a.png", 200)):
        save_image(tmp_path / "S" / name, np.full((4, 5), value, np.uint8)) if (tmp_path / "S").mkdir(
            exist_ok=True) is None else None
    lines = sorted(f"{p.name}  {hashlib.sha256(p.read_bytes()).hexdigest()}" for p in (tmp_path / "S").iterdir())
    want = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert set_fingerprint("S", tmp_path) == {"name": "S", "images": 2, "sha256": want}
    (tmp_path / "S" / "a.png").write_bytes((tmp_path / "S" / "b.png").read_bytes())  # one file changed
    assert set_fingerprint("S", tmp_path)["sha256"] != want


def test_a_trained_model_records_data_command_sessions_and_epoch(tmp_path, images, monkeypatch):
    cfg = TrainConfig(scale=2, epochs=2, patch=8, stride=8)
    given = {"train_sets": [{"name": "X", "images": 3, "sha256": "ab"}], "command": "espcn-ref train --scale 2"}
    state = train(cfg, images, tmp_path, progress=False, stop_after_steps=3, provenance=given)
    assert state["status"] == "paused"
    real = loop.session_record
    monkeypatch.setattr(loop, "session_record", lambda e, c: {**real(e, c), "cpu": "another CPU"})
    with pytest.warns(UserWarning, match=r"resumed on another machine setup \(cpu: .* -> 'another CPU'\)"):
        state = train(cfg, images, tmp_path, progress=False, resume=True, provenance=given)
    assert state["status"] == "finished"
    p = load_model(tmp_path / "model.npz").provenance
    assert p["train_sets"] == given["train_sets"] and p["command"] == given["command"]
    assert p["train_config"]["scale"] == 2 and p["selected_epoch"] == state["best_epoch"] + 1
    assert [s["start_epoch"] for s in p["sessions"]] == [0, 0] and p["sessions"][1]["cpu"] == "another CPU"
    assert p["sessions"][0]["blas"] and p["sessions"][0]["threads"] >= 1 and p["sessions"][0]["commit"]
    with open(tmp_path / "sessions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and rows[1]["cpu"] == "another CPU"


def test_format_1_files_load_and_unknown_versions_are_refused(tmp_path):
    m = ESPCN(2, rng=np.random.default_rng(0))
    arrays = {k: m.params[k] for k in m.names()}
    meta = {**m.metadata(), "format_version": 1}
    meta.pop("pre_upscale")  # format 1 had no pre_upscale
    save_npz_atomic(tmp_path / "v1.npz", {**arrays, "__meta__": np.array(json.dumps(meta))})
    old = load_model(tmp_path / "v1.npz")
    assert old.provenance == {} and old.config == m.config
    save_npz_atomic(tmp_path / "v3.npz", {**arrays, "__meta__": np.array(json.dumps({**meta, "format_version": 3}))})
    with pytest.raises(ModelFormatError, match="format version 3, this espcn-ref reads 1, 2"):
        load_model(tmp_path / "v3.npz")
    save_npz_atomic(tmp_path / "bad.npz", {**arrays, "__meta__": np.array(json.dumps({**meta, "provenance": [1]}))})
    with pytest.raises(ModelFormatError, match="provenance must be a JSON object"):
        load_model(tmp_path / "bad.npz")


def test_resaving_the_shipped_model_keeps_its_arrays_bit_identical(tmp_path):
    m = pretrained(3)
    m.provenance = {"train_sets": [{"name": "T91", "images": 91, "sha256": "0" * 64}]}
    m.save(tmp_path / "x3.npz")
    before, after = read_npz(m.provenance and (tmp_path / "x3.npz")), load_model(tmp_path / "x3.npz")
    for k in m.names():
        assert after.params[k].dtype == np.float32 and after.params[k].tobytes() == m.params[k].tobytes()
        assert before[k].tobytes() == m.params[k].tobytes()
    assert json.loads(str(before["__meta__"]))["format_version"] == 2


def test_cli_trains_on_several_sets_and_info_prints_what_made_the_model(tmp_path, capsys):
    g = np.random.default_rng(0)
    for s in ("A", "B"):
        (tmp_path / s).mkdir()
        save_image(tmp_path / s / "same_name.png", (g.random((40, 40, 3)) * 255).astype(np.uint8))
    save_image(tmp_path / "A" / "other.png", (g.random((40, 40, 3)) * 255).astype(np.uint8))
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path), "--train-set", "A,B", "--scale", "2", "--patch", "8",
                 "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    assert "training x2 on A + B from" in capsys.readouterr().out
    p = load_model(out / "model.npz").provenance
    assert [(s["name"], s["images"]) for s in p["train_sets"]] == [("A", 2), ("B", 1)]
    assert p["command"].startswith("espcn-ref train --data") and "--train-set A,B" in p["command"]
    assert main(["info", "--model", str(out / "model.npz")]) == 0
    text = capsys.readouterr().out
    assert "trained on: A (2 images, SHA-256 of the file list" in text and "selected epoch: 1" in text
    assert "session from epoch 0: commit" in text
    assert main(["info", "--model", "pretrained"]) == 0
    assert "provenance: not recorded" in capsys.readouterr().out
