"""The espcn-ref command: every subcommand, and clean one-line errors on bad input."""

import http.server
import json
import math
import shutil
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from espcn_ref.cli import main
from espcn_ref.data import load_image, save_image
from espcn_ref.fetch import checksums, fetch
from espcn_ref.model import ESPCN, load_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "Set5").is_dir(), reason="../shared/data not present")


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.random((30, 27, 3)) * 255).astype(np.uint8)
    save_image(tmp_path / "in.png", img)
    return tmp_path / "in.png"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info_counts(capsys):
    code, out, _ = run(capsys, "info", "--scale", "3")
    assert code == 0
    assert "parameters: 22,729" in out and "multiply-adds per LR pixel: 22,624" in out


def test_upscale_bicubic_and_model(capsys, tmp_path, photo):
    code, out, _ = run(capsys, "upscale", photo, tmp_path / "up.png", "--scale", "3", "--model", "bicubic")
    assert code == 0 and load_image(tmp_path / "up.png").shape == (90, 81, 3)
    ESPCN(2).save(tmp_path / "m2.npz")
    code, _, _ = run(capsys, "upscale", photo, tmp_path / "up2.png", "--scale", "2", "--model", tmp_path / "m2.npz")
    assert code == 0 and load_image(tmp_path / "up2.png").shape == (60, 54, 3)


@pytest.mark.parametrize("case", ["missing", "corrupt", "wrong-scale", "tampered-model", "bad-extension"])
def test_bad_input_gives_one_line_error_and_no_output(capsys, tmp_path, photo, case):
    out_file = tmp_path / "out.png"
    model = tmp_path / "m.npz"
    ESPCN(2).save(model)
    src = photo
    if case == "missing":
        src = tmp_path / "nope.png"
    elif case == "corrupt":
        src = tmp_path / "bad.png"
        src.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    elif case == "tampered-model":
        model.write_bytes(model.read_bytes()[:300])
    elif case == "bad-extension":
        out_file = tmp_path / "out.xyz"
    code, out, err = run(capsys, "upscale", src, out_file, "--scale", "3" if case == "wrong-scale" else "2",
                         "--model", model)
    assert code == 2
    assert err.startswith("espcn-ref: error: ") and err.count("\n") == 1
    assert not out_file.exists()
    assert {p.name for p in tmp_path.iterdir()} <= {"in.png", "m.npz", src.name}  # nothing partial, no temp files


def test_evaluate_bicubic_json(capsys, tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "Tiny").mkdir()
    for i in range(2):
        save_image(tmp_path / "Tiny" / f"im{i}.png", (rng.random((24, 33, 3)) * 255).astype(np.uint8))
    code, out, _ = run(capsys, "evaluate", "--method", "bicubic", "--data", tmp_path, "--sets", "Tiny",
                       "--scale", "3", "--json", tmp_path / "s.json")
    assert code == 0 and "Tiny" in out
    scores = json.loads((tmp_path / "s.json").read_text())
    per = scores["Tiny"]["images"]
    assert set(per) == {"im0", "im1"}
    assert scores["Tiny"]["psnr"] == pytest.approx(np.mean([v["psnr"] for v in per.values()]))


def test_protocol_variants_modcrop_and_uint8_lr(rng):
    """modcrop_to crops to multiples of 12 instead of r; lr_uint8 leaves 8-bit levels; both off by default."""
    from espcn_ref.evaluate import protocol_pair

    img = (rng.random((40, 51, 3)) * 255).astype(np.uint8)
    lr, gt = protocol_pair(img, 3)
    assert gt.shape == (39, 51) and lr.shape == (13, 17) and not np.allclose(lr * 255, np.round(lr * 255))
    lr12, gt12 = protocol_pair(img, 3, modcrop_to=12)
    assert gt12.shape == (36, 48) and lr12.shape == (12, 16)
    np.testing.assert_array_equal(gt12, gt[:36, :48])  # the same pixels, fewer of them
    lr8, gt8 = protocol_pair(img, 3, lr_uint8=True)
    np.testing.assert_array_equal(gt8, gt)
    np.testing.assert_array_equal(lr8 * np.float32(255), np.round(lr8 * np.float32(255)))  # 8-bit levels
    assert 0 < np.abs(lr8 - lr).max() <= 0.5 / 255 + 1e-6  # rounded, not moved further
    with pytest.raises(ValueError, match="modcrop_to must be a multiple of the scale 3, got 8"):
        protocol_pair(img, 3, modcrop_to=8)
    with pytest.raises(ValueError, match="an image of 40x51 is smaller than modcrop_to = 48"):
        protocol_pair(img, 3, modcrop_to=48)


def test_evaluate_protocol_variant_flags(capsys, tmp_path):
    rng = np.random.default_rng(4)
    (tmp_path / "Tiny").mkdir()
    save_image(tmp_path / "Tiny" / "im0.png", (rng.random((40, 51, 3)) * 255).astype(np.uint8))
    scores = {}
    for flags in ((), ("--modcrop", "12"), ("--lr-uint8",)):
        code, out, err = run(capsys, "evaluate", "--method", "bicubic", "--data", tmp_path, "--sets", "Tiny",
                             "--scale", "3", "--json", tmp_path / "s.json", *flags)
        assert code == 0, err
        scores[flags] = json.loads((tmp_path / "s.json").read_text())["Tiny"]["psnr"]
    assert "modcrop 12" not in out and "LR rounded to uint8" in out
    assert len(set(scores.values())) == 3  # each variant changes the score
    code, _, err = run(capsys, "evaluate", "--method", "bicubic", "--data", tmp_path, "--sets", "Tiny",
                       "--scale", "3", "--modcrop", "8", "--data", tmp_path / "no-such-folder")  # refused first
    assert code == 2 and "--modcrop must be a multiple of --scale 3, got 8" in err and err.count("\n") == 1
    code, _, err = run(capsys, "evaluate", "--method", "bicubic", "--data", tmp_path, "--sets", "Tiny",
                       "--scale", "3", "--modcrop", "99999999999999999999")
    assert code == 2 and "an image of 40x51 is smaller than modcrop_to = 99999999999999999999" in err
    assert err.count("\n") == 1


@needs_shared
def test_evaluate_bicubic_set5_matches_published(capsys, tmp_path):
    code, out, _ = run(capsys, "evaluate", "--method", "bicubic", "--data", SHARED, "--sets", "Set5",
                       "--scale", "3", "--json", tmp_path / "s.json")
    assert code == 0
    assert round(json.loads((tmp_path / "s.json").read_text())["Set5"]["psnr"], 2) == 30.39


def test_train_then_resume_via_cli(capsys, tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "data" / "Mini").mkdir(parents=True)
    for i in range(3):
        save_image(tmp_path / "data" / "Mini" / f"p{i}.png", (rng.random((80, 80)) * 255).astype(np.uint8))
    args = ["train", "--data", tmp_path / "data", "--train-set", "Mini", "--scale", "2",
            "--out", tmp_path / "run", "--quiet"]
    code, out, _ = run(capsys, *args, "--epochs", "2")
    assert code == 0 and "finished after 2 epochs" in out
    code, out, _ = run(capsys, *args, "--epochs", "3", "--resume")
    assert code == 0 and "finished after 3 epochs" in out
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 4
    code, out, _ = run(capsys, *args, "--epochs", "1", "--rescale", "0.9,0.7", "--overwrite")
    assert code == 0 and "finished after 1 epochs" in out
    code, out, _ = run(capsys, *args, "--epochs", "2", "--schedule", "cosine", "--overwrite")
    assert code == 0 and "finished after 2 epochs" in out
    lrs = [float(line.split(",")[1]) for line in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert lrs == [1e-3, 0.5e-3]  # (1 + cos(pi e / 2)) / 2 times 1e-3 for e = 0, 1
    code, out, _ = run(capsys, *args, "--epochs", "4", "--schedule", "cosine", "--resume")
    lrs = [float(line.split(",")[1]) for line in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert code == 0 and lrs[2:] == [0.5e-3, 1e-3 * (1 + math.cos(3 * math.pi / 4)) / 2]  # the 4-epoch curve
    code, _, err = run(capsys, *args, "--epochs", "1", "--recipe", "paper", "--schedule", "cosine", "--overwrite")
    assert code == 2 and "'cosine' is for the fast recipe" in err
    code, out, _ = run(capsys, *args, "--epochs", "2", "--decay-at", "0.5", "--average", "--overwrite")
    rows = [line.split(",") for line in (tmp_path / "run" / "log.csv").read_text().splitlines()]
    assert code == 0 and rows[0][4] == "val_psnr_avg" and rows[1][4] == "" and rows[2][4] == rows[2][3]
    code, _, err = run(capsys, *args, "--epochs", "1", "--recipe", "paper", "--average", "--overwrite")
    assert code == 2 and "average is for the fast recipe" in err
    code, _, err = run(capsys, *args, "--epochs", "1", "--rescale", "0.9,1.2", "--overwrite")
    assert code == 2 and "rescale factors must be distinct and in (0, 1)" in err
    with pytest.raises(SystemExit) as exc:  # argparse: usage and exit 2
        main(["train", "--rescale", "0.9,x"])
    assert exc.value.code == 2 and "comma-separated numbers, got '0.9,x'" in capsys.readouterr().err


def test_train_says_when_it_kept_the_weight_average(capsys, tmp_path, monkeypatch):
    import espcn_ref.train.loop as train_module

    scores = iter([20.0, 21.0, 22.0])  # epoch 1, epoch 2, then the mean from the drop (epoch 2) to epoch 2
    monkeypatch.setattr(train_module, "validation_psnr", lambda model, pairs, r: next(scores))
    (tmp_path / "Mini").mkdir()
    rng = np.random.default_rng(3)
    for name in ("a", "b"):
        save_image(tmp_path / "Mini" / f"{name}.png", (rng.random((80, 80)) * 255).astype(np.uint8))
    code, out, _ = run(capsys, "train", "--data", tmp_path, "--train-set", "Mini", "--scale", "2", "--epochs", "2",
                       "--decay-at", "0.5", "--average", "--out", tmp_path / "run", "--quiet")
    assert code == 0 and "best validation PSNR 22.00 dB at epoch 2 (the mean of the weights from the lr drop to it)" in out


def test_module_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "espcn_ref", "info", "--scale", "2"], capture_output=True, text=True)
    assert r.returncode == 0 and "ESPCN x2" in r.stdout


def _serve(folder):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@needs_shared
def test_fetch_from_local_mirror(tmp_path):
    server, url = _serve(SHARED)
    try:
        counts = fetch(tmp_path, ["Set5"], mirror=url)
        assert counts == {"downloaded": 5, "present": 0}
        assert fetch(tmp_path, ["Set5"], mirror=url) == {"downloaded": 0, "present": 5}
        for name in ("baby_GT.bmp", "head_GT.bmp"):
            assert (tmp_path / "Set5" / name).read_bytes() == (SHARED / "Set5" / name).read_bytes()
    finally:
        server.shutdown()


@needs_shared
def test_fetch_rejects_tampered_file_and_leaves_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED / "Set5", mirror / "Set5")
    data = bytearray((mirror / "Set5" / "bird_GT.bmp").read_bytes())
    data[-1] ^= 0xFF
    (mirror / "Set5" / "bird_GT.bmp").write_bytes(bytes(data))
    server, url = _serve(mirror)
    try:
        with pytest.raises(ValueError, match="checksum mismatch"):
            fetch(tmp_path / "dest", ["Set5"], mirror=url)
    finally:
        server.shutdown()
    assert not (tmp_path / "dest" / "Set5" / "bird_GT.bmp").exists()
    assert not [p for p in (tmp_path / "dest" / "Set5").iterdir() if p.name.startswith(".")]


def test_checksums_cover_all_sets():
    sums = checksums()
    assert len(sums) == 210
    assert sum(k.startswith("T91/") for k in sums) == 91 and sum(k.startswith("BSD100/") for k in sums) == 100


def test_fetch_unknown_set_and_cli_error(capsys, tmp_path):
    code, _, err = run(capsys, "data", "fetch", "--dest", tmp_path, "--sets", "Urban100")
    assert code == 2 and "unknown set(s) ['Urban100']" in err


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    """SIGINT during training: the step finishes, the checkpoint is written, exit 0."""
    import os
    import signal
    import time

    rng = np.random.default_rng(3)
    (tmp_path / "data" / "Mini").mkdir(parents=True)
    for i in range(3):
        save_image(tmp_path / "data" / "Mini" / f"p{i}.png", (rng.random((90, 90)) * 255).astype(np.uint8))
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "espcn_ref", "train", "--data", str(tmp_path / "data"),
                             "--train-set", "Mini", "--scale", "2", "--epochs", "100000", "--batch-size", "2",
                             "--out", str(run_dir), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run_dir / "log.csv").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # saved, then 130 like the other commands on Ctrl-C
    assert "interrupted after" in out and "--resume" in out
    assert (run_dir / "checkpoint.npz").is_file() and (run_dir / "model.npz").is_file()
    assert not [p for p in os.listdir(run_dir) if p.startswith(".")]  # no temporary files left


@needs_shared
@pytest.mark.parametrize("scale, at_least", [(2, 36.3), (3, 32.85), (4, 30.0)])
def test_shipped_models_beat_bicubic_on_set5(capsys, tmp_path, scale, at_least):
    """The README's Set5 figures for the shipped models, within rounding."""
    from espcn_ref.registry import pretrained_path

    if not pretrained_path(scale).is_file():
        pytest.skip(f"x{scale} weights not shipped")
    code, _, _ = run(capsys, "evaluate", "--method", "pretrained", "--data", SHARED, "--sets", "Set5",
                     "--scale", scale, "--json", tmp_path / "s.json")
    assert code == 0
    assert json.loads((tmp_path / "s.json").read_text())["Set5"]["psnr"] >= at_least


def test_demo_offline_on_the_bundled_photos(capsys, tmp_path, monkeypatch):
    """`make demo` on a machine without datasets: trains briefly on the scikit-image
    photos, compares on the held-out one, writes the comparison figure."""
    monkeypatch.chdir(tmp_path)  # no ../shared/data from here
    monkeypatch.delenv("ESPCN_DATA", raising=False)
    code, out, _ = run(capsys, "demo", "--minutes", "0.1", "--out", tmp_path / "demo", "--quiet")
    assert code == 0
    assert "scikit-image photos" in out and "test on motorcycle" in out
    assert "bicubic" in out and "ESPCN, 0.1 min here" in out
    assert load_image(tmp_path / "demo" / "comparison.png").ndim == 3


# --- what a user gets wrong: one line, exit 2, nothing written -----------------------


@pytest.mark.parametrize("argv, words", [
    (["train", "--patch", "0"], "argument --patch: must be >= 1, got 0"),
    (["train", "--epochs", "x"], "argument --epochs: expected an integer, got 'x'"),
    (["train", "--lr", "nan"], "argument --lr: must be a finite number > 0, got nan"),
    (["train", "--lr", "0"], "argument --lr: must be a finite number > 0, got 0"),
    (["train", "--minutes", "-1"], "argument --minutes: must be a finite number >= 0, got -1"),
    (["evaluate", "--scale", "0"], "argument --scale: must be >= 1, got 0"),
    (["info", "--scale", "-" + "1" * 400], "argument --scale: must be >= 1"),
    (["demo", "--minutes", "inf"], "argument --minutes: must be a finite number > 0, got inf"),
    (["figures", "--train-seconds", "0"], "argument --train-seconds: must be a finite number > 0, got 0"),
])
def test_bad_numbers_are_refused_by_the_parser(capsys, argv, words):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and words in capsys.readouterr().err


def _one_line_error(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.startswith("espcn-ref: error: ") and err.count("\n") == 1, err
    return err


def test_upscale_output_checks_come_first(capsys, tmp_path, photo, monkeypatch):
    before = photo.read_bytes()
    err = _one_line_error(capsys, "upscale", photo, photo, "--model", "bicubic")
    assert "is the input file" in err and photo.read_bytes() == before
    err = _one_line_error(capsys, "upscale", photo, tmp_path / "no" / "dir" / "a.png", "--model", "bicubic")
    assert "the folder " in err and "does not exist" in err and ".tmp" not in err
    (tmp_path / "d.png").mkdir()
    assert "it is a folder" in _one_line_error(capsys, "upscale", photo, tmp_path / "d.png", "--model", "bicubic")
    err = _one_line_error(capsys, "upscale", photo, tmp_path / "big.png", "--scale", "1000000", "--model", "bicubic")
    assert "needs about 72,419,643 GiB" in err and not (tmp_path / "big.png").exists()  # refused before any work
    import espcn_ref.cli as cli

    def out_of_memory(*args):
        raise MemoryError("Unable to allocate 3.41 PiB for an array with shape (30000000, 27000000, 3)")

    monkeypatch.setattr(cli, "upscale_image", out_of_memory)
    err = _one_line_error(capsys, "upscale", photo, tmp_path / "big.png", "--model", "bicubic")
    assert "not enough memory (Unable to allocate 3.41 PiB" in err and not (tmp_path / "big.png").exists()


def test_model_files_that_are_not_models(capsys, tmp_path, photo):
    (tmp_path / "folder").mkdir()
    assert "is a folder, not a model file" in _one_line_error(capsys, "upscale", photo, tmp_path / "o.png",
                                                              "--model", tmp_path / "folder")
    (tmp_path / "text.npz").write_text("not a zip")
    assert "not an espcn-ref .npz file" in _one_line_error(capsys, "info", "--model", tmp_path / "text.npz")
    np.savez(tmp_path / "list.npz", __meta__=np.array(json.dumps(["a"])))
    assert "invalid metadata (expected a JSON object, got list)" in _one_line_error(
        capsys, "info", "--model", tmp_path / "list.npz")


def test_evaluate_errors_name_the_image_and_come_before_the_work(capsys, tmp_path, monkeypatch):
    (tmp_path / "S").mkdir()
    save_image(tmp_path / "S" / "fine.png", np.full((30, 30), 90, np.uint8))
    save_image(tmp_path / "S" / "tiny.png", np.full((9, 9), 90, np.uint8))
    err = _one_line_error(capsys, "evaluate", "--method", "bicubic", "--data", tmp_path, "--sets", "S")
    assert "image 'tiny': shave = 3" in err
    assert "--sets names no set" in _one_line_error(capsys, "evaluate", "--data", tmp_path, "--sets", " , ")
    import espcn_ref.cli as cli

    monkeypatch.setattr(cli, "evaluate_images", lambda *a, **k: pytest.fail("scored before checking --json"))
    err = _one_line_error(capsys, "evaluate", "--method", "bicubic", "--data", tmp_path, "--sets", "S",
                          "--json", tmp_path / "nope" / "s.json")
    assert "nope does not exist" in err
    assert "--sets names no set" in _one_line_error(capsys, "data", "fetch", "--dest", tmp_path, "--sets", "")


def test_train_never_deletes_files_it_did_not_write(capsys, tmp_path):
    """A folder with a model.npz or log.csv but no checkpoint is not a run to
    resume, and a fresh run would delete them: refused without --overwrite."""
    (tmp_path / "Mini").mkdir()
    save_image(tmp_path / "Mini" / "a.png", np.full((60, 60), 90, np.uint8))
    args = ["train", "--data", tmp_path, "--train-set", "Mini", "--scale", "2", "--epochs", "1", "--quiet"]
    keep = tmp_path / "mine"
    keep.mkdir()
    ESPCN(2).save(keep / "model.npz")
    (keep / "log.csv").write_text("my notes\n")
    for extra in ([], ["--resume"]):
        err = _one_line_error(capsys, *args, "--out", keep, *extra)
        assert "model.npz, log.csv" in err and ("no checkpoint.npz to resume from" in err) == bool(extra)
    assert (keep / "log.csv").read_text() == "my notes\n" and sorted(p.name for p in keep.iterdir()) == ["log.csv", "model.npz"]
    assert "is a file" in _one_line_error(capsys, *args, "--out", keep / "log.csv")
    code, out, err = run(capsys, *args, "--out", tmp_path / "new", "--resume")
    assert code == 0 and "holds no checkpoint.npz to resume: starting a fresh run" in err
    assert err.startswith("espcn-ref: warning: ") and "finished after 1 epochs" in out


def test_demo_with_a_bad_data_folder_makes_no_output_folder(capsys, tmp_path):
    err = _one_line_error(capsys, "demo", "--data", tmp_path / "missing", "--out", tmp_path / "demo", "--quiet")
    assert "data directory (--data) not found" in err and not (tmp_path / "demo").exists()


def test_subcommands_pass_their_flags_through(capsys, tmp_path, monkeypatch):
    """figures, info --model, evaluate --method PATH and train --train-set samples."""
    import espcn_ref.viz as viz

    seen = {}
    monkeypatch.setattr(viz, "write_figures", lambda out, data, **kw: seen.update(out=out, data=data, **kw) or [1, 2])
    code, out, _ = run(capsys, "figures", "--out", tmp_path / "f", "--data", tmp_path, "--quick",
                       "--train-seconds", "5", "--quiet", "--bench-json", tmp_path / "b.json")
    assert code == 0 and "2 figures written" in out
    assert seen == {"out": str(tmp_path / "f"), "data": str(tmp_path), "quick": True, "train_seconds": 5.0,
                    "progress": False, "bench_json": str(tmp_path / "b.json")}
    # a JSON without Fig. 2's entry: that figure is skipped with a one-line note, the rest still written
    monkeypatch.setattr(viz, "write_figures", lambda out, data, bench_json, **kw: [
        p for p in [viz.write_fig2(out, bench_json)] if p is not None])
    (tmp_path / "old.json").write_text("{}")
    code, out, err = run(capsys, "figures", "--out", tmp_path, "--quiet", "--bench-json", tmp_path / "old.json")
    assert code == 0 and "0 figures written" in out
    assert err.startswith("espcn-ref: warning: fig2_psnr_vs_time.png skipped:") and "run make bench" in err
    monkeypatch.undo()  # the real write_figures refuses a file as its folder, before it trains
    (tmp_path / "file").write_text("x")
    assert "output folder" in _one_line_error(capsys, "figures", "--out", tmp_path / "file", "--quick", "--quiet")
    ESPCN(2).save(tmp_path / "m2.npz")
    code, out, _ = run(capsys, "info", "--model", tmp_path / "m2.npz")
    assert code == 0 and out.startswith("ESPCN x2: 3 layers") and "conv3.weight (4, 32, 3, 3)" in out
    assert "is a x2 model, but x3 was asked for" in _one_line_error(capsys, "info", "--model", tmp_path / "m2.npz",
                                                                    "--scale", "3")
    (tmp_path / "S").mkdir()
    save_image(tmp_path / "S" / "a.png", np.full((30, 30, 3), 90, np.uint8))
    code, out, _ = run(capsys, "evaluate", "--method", tmp_path / "m2.npz", "--data", tmp_path, "--sets", "S",
                       "--scale", "2")
    assert code == 0 and out.startswith("x2 m2.npz  (PSNR / SSIM on Y")
    code, out, _ = run(capsys, "train", "--train-set", "samples", "--scale", "2", "--minutes", "0",
                       "--out", tmp_path / "run", "--quiet")
    assert code == 0 and "training x2 on the scikit-image sample photos (7 images)" in out
    assert "paused before the first epoch ended; no model written yet" in out


def test_training_on_a_set_needs_a_dataset_root(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ../shared/data from here
    monkeypatch.delenv("ESPCN_DATA", raising=False)
    err = _one_line_error(capsys, "train", "--out", tmp_path / "run", "--quiet")
    assert "no dataset root for --train-set T91: pass --data DIR" in err and not (tmp_path / "run").exists()


def test_ensemble_and_self_ensemble_flags(capsys, tmp_path, photo):
    """--ensemble M1,M2 (replacing --method / --model) and --self-ensemble, on evaluate and upscale."""
    from espcn_ref.ensemble import Ensemble, SelfEnsemble
    from espcn_ref.evaluate import evaluate_images
    from espcn_ref.upscale import upscale_image

    for name, seed in (("a", 1), ("b", 2)):
        ESPCN(2, rng=np.random.default_rng(seed)).save(tmp_path / f"{name}.npz")
    ESPCN(3).save(tmp_path / "c3.npz")
    a, b = (load_model(tmp_path / f"{n}.npz") for n in "ab")
    (tmp_path / "S").mkdir()
    images = {"im": (np.random.default_rng(3).random((22, 26, 3)) * 255).astype(np.uint8)}
    save_image(tmp_path / "S" / "im.png", images["im"])
    common = ["--data", tmp_path, "--sets", "S", "--scale", "2", "--json", tmp_path / "s.json"]
    for flags, label, method in [(["--ensemble", f"{tmp_path / 'a.npz'}, {tmp_path / 'b.npz'}"],
                                  f"ensemble({tmp_path / 'a.npz'}, {tmp_path / 'b.npz'})", Ensemble([a, b])),
                                 (["--method", tmp_path / "a.npz", "--self-ensemble"], "a.npz + self-ensemble",
                                  SelfEnsemble(a))]:
        code, out, _ = run(capsys, "evaluate", *flags, *common)
        assert code == 0 and out.startswith(f"x2 {label}  (PSNR"), out
        got = json.loads((tmp_path / "s.json").read_text())["S"]["psnr"]
        assert got == pytest.approx(evaluate_images(method, images, 2)["psnr"], abs=1e-12)
    code, _, _ = run(capsys, "upscale", photo, tmp_path / "up.png", "--scale", "2", "--self-ensemble",
                     "--ensemble", f"{tmp_path / 'a.npz'},{tmp_path / 'b.npz'}")
    assert code == 0
    np.testing.assert_array_equal(load_image(tmp_path / "up.png"),
                                  upscale_image(SelfEnsemble(Ensemble([a, b])), load_image(photo), 2))
    for argv, words in [(["--ensemble", " , "], "--ensemble names no model, got ' , '"),
                        (["--ensemble", f"{tmp_path / 'a.npz'},bicubic"], "bicubic is the baseline, not a member"),
                        (["--ensemble", f"{tmp_path / 'a.npz'},{tmp_path / 'c3.npz'}"],
                         "c3.npz is a x3 model, but x2 was asked for"),
                        (["--method", "pretrained", "--ensemble", tmp_path / "a.npz"],
                         "give --method or --ensemble, not both"),
                        (["--method", "bicubic", "--self-ensemble"], "give a model (--method pretrained[:NAME]")]:
        assert words in _one_line_error(capsys, "evaluate", *argv, *common), argv
    assert "give --model or --ensemble, not both" in _one_line_error(
        capsys, "upscale", photo, tmp_path / "x.png", "--model", "bicubic", "--ensemble", "pretrained")
