"""Hostile and damaged inputs, one table a class: each case must end in a
one-line refusal that names the file or argument, never in a traceback, a
silently wrong result or a replaced special file. Add a row to extend it.

Every damaged file is made here; the only special files are a FIFO and
symlinks in tmp_path (CI runs as root: no test writes to a real device).
"""

import json
import os
import tempfile

import numpy as np
import pytest

import espcn_ref.train.run_folder as run_folder
from espcn_ref._atomic import write_bytes_atomic
from espcn_ref.cli import main
from espcn_ref.data import sample_images, save_image
from espcn_ref.model_file import ModelFormatError, read_npz, save_npz_atomic
from espcn_ref.train import TrainConfig, train
from espcn_ref.video import check_frame_count, upscale_video


@pytest.fixture(scope="module")
def images():
    photos = sample_images(["astronaut", "chelsea", "coffee"])
    return {k: v[60:140, 100:180] for k, v in photos.items()}


CFG = TrainConfig(scale=2, epochs=3, patch=8, stride=8)


@pytest.fixture
def paused_run(tmp_path, images):
    """A run paused in the middle of its second epoch: a checkpoint with a permutation."""
    train(CFG, images, tmp_path, progress=False, stop_after_steps=5)
    return tmp_path


def _tamper(path, change):
    arrays = read_npz(path)
    meta = json.loads(str(arrays["__run__"]))
    change(meta, arrays)
    arrays["__run__"] = np.array(json.dumps(meta))
    save_npz_atomic(path, arrays)


def _del(d, key):
    del d[key]


# --- 1. checkpoints are input too -------------------------------------------------------------------------------
CHECKPOINT_CASES = [
    ("missing state key", lambda m, a: _del(m["state"], "epoch"), "field state.epoch is missing"),
    ("epoch as a string", lambda m, a: m["state"].update(epoch="1"), "field state.epoch has an invalid value '1'"),
    ("epoch as a bool", lambda m, a: m["state"].update(epoch=True), "field state.epoch has an invalid value True"),
    ("negative step", lambda m, a: m["state"].update(step=-1), "field state.step has an invalid value -1"),
    ("step past the epoch", lambda m, a: m["state"].update(step=10**6), r"field state.step is 1000000, not in \[0, "),
    ("NaN learning rate", lambda m, a: m["state"].update(lr=float("nan")), "field state.lr has an invalid value nan"),
    ("negative learning rate", lambda m, a: m["state"].update(lr=-0.1), "field state.lr has an invalid value -0.1"),
    ("unknown stop", lambda m, a: m["state"].update(stop="bored"), "field state.stop has an invalid value 'bored'"),
    ("best epoch in the future", lambda m, a: m["state"].update(best_epoch=99), "field state.best_epoch"),
    ("history not a list", lambda m, a: m["state"].update(history={}), "field state.history"),
    ("state not an object", lambda m, a: m.update(state=[1, 2]), "field state: expected a JSON object"),
    ("permutation out of range", lambda m, a: a["perm"].__setitem__(0, 10**6), "field perm is not a permutation"),
    ("permutation repeats", lambda m, a: a["perm"].__setitem__(1, a["perm"][0]), "field perm is not a permutation"),
    ("permutation of floats", lambda m, a: a.update(perm=a["perm"].astype(float)), "field perm is not a permutation"),
    ("RNG of another kind", lambda m, a: m["rng"].update(bit_generator="MT19937"), "field rng is not a valid generator"),
    ("RNG state garbage", lambda m, a: m["rng"].update(state="x"), "field rng is not a valid generator state"),
    ("NaN weights", lambda m, a: a["params/conv1.weight"].__setitem__((0, 0, 0, 0), np.nan),
     "field params/conv1.weight contains NaN or inf"),
    ("float64 weights", lambda m, a: a.update({"params/conv2.bias": a["params/conv2.bias"].astype(np.float64)}),
     "field params/conv2.bias is float64"),
    ("infinite Adam moment", lambda m, a: a[next(k for k in a if k.startswith("opt/"))].fill(np.inf),
     "field opt/.* is not finite numbers"),
    ("missing array", lambda m, a: _del(a, "params/conv3.weight"), "not a valid espcn-ref checkpoint"),
    ("config not an object", lambda m, a: m.update(config=3), "not a valid espcn-ref checkpoint"),
]


@pytest.mark.parametrize("change, words", [c[1:] for c in CHECKPOINT_CASES], ids=[c[0] for c in CHECKPOINT_CASES])
def test_a_tampered_checkpoint_is_refused_naming_file_and_field(paused_run, images, change, words):
    ckpt = paused_run / "checkpoint.npz"
    _tamper(ckpt, change)
    before = ckpt.read_bytes()
    with pytest.raises(ModelFormatError, match=f"checkpoint.npz: .*{words}"):
        train(CFG, images, paused_run, progress=False, resume=True)
    assert ckpt.read_bytes() == before  # nothing trained, nothing written


def test_the_untampered_checkpoint_resumes(paused_run, images):
    """The control: the same run, not tampered with, resumes and finishes."""
    assert train(CFG, images, paused_run, progress=False, resume=True)["status"] == "finished"


def test_a_failed_checkpoint_write_leaves_log_and_checkpoint_agreeing(tmp_path, images, monkeypatch):
    """The log is rewritten from the checkpoint after it: a failed write leaves no extra row, a resume repeats none."""
    real, calls = run_folder.save_checkpoint, []

    def fail_on_second(*a):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        real(*a)

    monkeypatch.setattr(run_folder, "save_checkpoint", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        train(CFG, images, tmp_path, progress=False)
    assert (tmp_path / "log.csv").read_text().count("\n") == 2  # header + epoch 1, as the checkpoint holds
    monkeypatch.undo()
    train(CFG, images, tmp_path, progress=False, resume=True)
    epochs = [line.split(",")[0] for line in (tmp_path / "log.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3"]


# --- 3. outputs: never replace what is not a regular file --------------------------------------------------------
def _fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def _link_to_fifo(tmp_path):
    os.symlink(_fifo(tmp_path), tmp_path / "link")
    return tmp_path / "link"


@pytest.mark.parametrize("make", [_fifo, _link_to_fifo], ids=["FIFO", "symlink to a FIFO"])
def test_a_special_file_is_refused_not_replaced(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(ValueError, match="is a special file .* not a regular file"):
        write_bytes_atomic(path, b"x")
    assert os.path.exists(tmp_path / "fifo") and not (tmp_path / "fifo").is_file()  # still the FIFO
    assert main(["upscale", str(_image(tmp_path)), str(path), "--model", "bicubic"]) == 2


def _image(tmp_path):
    save_image(tmp_path / "in.png", np.full((6, 7, 3), 90, np.uint8))
    return tmp_path / "in.png"


def test_a_symlink_to_a_file_keeps_the_link_and_replaces_its_target(tmp_path):
    (tmp_path / "real.png").write_bytes(b"old")
    os.symlink(tmp_path / "real.png", tmp_path / "link.png")
    assert main(["upscale", str(_image(tmp_path)), str(tmp_path / "link.png"), "--model", "bicubic", "--scale", "2"]) == 0
    assert (tmp_path / "link.png").is_symlink() and (tmp_path / "real.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_a_read_only_folder_is_named_not_the_temporary_file(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".out.png.abc123.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=f"cannot write {tmp_path / 'out.png'}: the folder .* is not writable"):
        write_bytes_atomic(tmp_path / "out.png", b"x")


# --- 4. video ------------------------------------------------------------------------------------------------------
def test_a_truncated_video_is_an_error_and_the_output_stays(tmp_path):
    import imageio.v2 as iio

    g = np.random.default_rng(0)
    w = iio.get_writer(tmp_path / "in.mkv", format="ffmpeg", fps=8, codec="libx264", pixelformat="yuv444p",
                       macro_block_size=1, ffmpeg_log_level="error")
    for _ in range(40):
        w.append_data((g.random((48, 64, 3)) * 255).astype(np.uint8))
    w.close()
    data = (tmp_path / "in.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    (tmp_path / "out.mp4").write_bytes(b"the previous result")
    with pytest.raises(ValueError, match=r"cut.mkv: decoded \d+ frames but the file declares 40: it is truncated"):
        upscale_video("bicubic", tmp_path / "cut.mkv", tmp_path / "out.mp4", 2, progress=False)
    assert (tmp_path / "out.mp4").read_bytes() == b"the previous result"


def test_a_video_that_declares_nothing_gets_a_warning():
    with pytest.warns(UserWarning, match="declares no frame count or duration"):
        check_frame_count("in.avi", "out.mp4", {"nframes": float("inf")}, 25.0, 12)
    check_frame_count("in.mkv", "out.mp4", {"nframes": float("inf"), "duration": 0.5, "fps": 24}, 24.0, 11)  # 1 short: ok


# --- 5. messages: one line, the argument named, before any heavy work ------------------------------------------------
MESSAGE_CASES = [
    (["train", "--seed", "-1", "--train-set", "samples"], "argument --seed: must be >= 0, got -1"),
    (["upscale", "IN", "OUT.png", "--model", "bicubic", "--scale", "100000"], "needs about"),
    (["evaluate", "--method", "pretrained:nope"], "no shipped weights named 'nope'"),
]


@pytest.mark.parametrize("argv, words", MESSAGE_CASES, ids=[" ".join(c[0][:3]) for c in MESSAGE_CASES])
def test_bad_arguments_get_one_line(argv, words, tmp_path, capsys):
    """The error is the last line (argparse prints its usage above its own); exit status 2; no traceback."""
    argv = [str(_image(tmp_path)) if a == "IN" else str(tmp_path / a) if a == "OUT.png" else a for a in argv]
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's refusals
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and words in err.strip().splitlines()[-1] and "Traceback" not in err
    assert not (tmp_path / "OUT.png").exists()


def test_training_images_all_too_small_is_one_line(tmp_path, capsys):
    (tmp_path / "data" / "Tiny").mkdir(parents=True)
    for i in range(3):
        save_image(tmp_path / "data" / "Tiny" / f"{i}.png", np.full((20, 20, 3), 9 * i, np.uint8))
    assert main(["train", "--data", str(tmp_path / "data"), "--train-set", "Tiny", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no 17x17 LR sub-image fits in the training images (at x3 an image needs at least 51 pixels a side)" in err
