"""Training (Sec. 3.2): smoke test, determinism, exact resume, schedules, optimisers."""

import math

import numpy as np
import pytest

from espcn_ref.data import sample_images
from espcn_ref.evaluate import evaluate_images, protocol_pair
from espcn_ref.model import load_model
from espcn_ref.optim import SGD, Adam
from espcn_ref.data import extract_patches, imresize, make_lr_hr_pair, rgb_to_y_uint8
import espcn_ref.train.loop as train_module
from espcn_ref.train import (
    TrainConfig,
    build_patches,
    drop_epoch,
    fast_lr,
    next_lr,
    split_images,
    train,
    update_average,
    validation_psnr,
)


@pytest.fixture(scope="module")
def small_images():
    """Four 120x120 crops of the bundled photos: small enough for seconds-long runs."""
    photos = sample_images(["astronaut", "chelsea", "coffee", "rocket"])
    return {name: img[60:180, 100:220] for name, img in photos.items()}


def _params(out):
    return load_model(out / "model.npz").params


def test_smoke_training_reduces_loss_and_beats_bicubic(tmp_path):
    """Six bundled photos, ~1,900 steps (about 15 s): the loss falls and ESPCN
    beats bicubic on a photo it never saw (measured: +0.3 dB)."""
    photos = sample_images()
    held_out = {"motorcycle": photos.pop("motorcycle")[100:340, 200:440]}
    cfg = TrainConfig(scale=3, epochs=12, stride=9, lr=2e-3, val_fraction=0.15, seed=1)
    state = train(cfg, photos, tmp_path, progress=False)
    losses = [h["train_loss"] for h in state["history"]]
    assert state["status"] == "finished" and len(losses) == 12
    assert losses[-1] < 0.5 * losses[0]
    model = load_model(tmp_path / "model.npz")
    ours = evaluate_images(model, held_out, 3)["psnr"]
    bicubic = evaluate_images("bicubic", held_out, 3)["psnr"]
    assert ours > bicubic + 0.1, f"ESPCN {ours:.2f} dB vs bicubic {bicubic:.2f} dB"
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,lr,train_loss,val_psnr") and len(rows) == 13


def test_logged_validation_psnr_is_the_protocol_psnr(tmp_path, small_images):
    """The per-epoch validation score (pairs made once per run) is exactly what
    evaluate_images reports for the held-out images with the saved best model."""
    state = train(TrainConfig(scale=2, epochs=2, seed=1, val_fraction=0.75), small_images, tmp_path, progress=False)
    val = {name: small_images[name] for name in state["val"]}
    assert len(val) == 3  # three terms: the order of the mean's sum matters
    best = load_model(tmp_path / "model.npz")
    assert evaluate_images(best, val, 2)["psnr"] == state["best_psnr"]
    pairs = {n: protocol_pair(img, 2) for n, img in sorted(val.items())}
    assert validation_psnr(best, pairs, 2) == state["best_psnr"]
    assert validation_psnr(best, pairs, 2) != evaluate_images("bicubic", val, 2)["psnr"]


def test_same_seed_same_result_other_seed_differs(tmp_path, small_images):
    cfg = TrainConfig(scale=2, epochs=2, seed=3)
    train(cfg, small_images, tmp_path / "a", progress=False)
    train(cfg, small_images, tmp_path / "b", progress=False)
    train(TrainConfig(scale=2, epochs=2, seed=4), small_images, tmp_path / "c", progress=False)
    a, b, c = _params(tmp_path / "a"), _params(tmp_path / "b"), _params(tmp_path / "c")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["conv1.weight"], c["conv1.weight"])


def test_online_augmentation_changes_the_batches(tmp_path, small_images):
    """--augment-online draws new transforms: same seed and data, other weights than without it."""
    train(TrainConfig(scale=2, epochs=1, seed=3), small_images, tmp_path / "a", progress=False)
    train(TrainConfig(scale=2, epochs=1, seed=3, augment_online=True), small_images, tmp_path / "b", progress=False)
    a, b = _params(tmp_path / "a"), _params(tmp_path / "b")
    assert not np.array_equal(a["conv1.weight"], b["conv1.weight"])


@pytest.mark.parametrize("recipe, stop_at, online, batch", [
    ("fast", 5, False, 8), ("paper", 8, False, 8), ("fast", 10, False, 8),  # 4 steps an epoch
    ("fast", 6, True, 8),
    ("fast", 3, True, 16),  # 2 steps an epoch, each batch sharded across threads
])
def test_resume_equals_uninterrupted_run(tmp_path, small_images, recipe, stop_at, online, batch):
    """Stop mid-epoch (or at an epoch boundary), resume: bit-identical to one run."""
    cfg = TrainConfig(scale=2, epochs=3, recipe=recipe, batch_size=batch, seed=5, augment=True, augment_online=online)
    full = train(cfg, small_images, tmp_path / "full", progress=False)
    part = train(cfg, small_images, tmp_path / "part", progress=False, stop_after_steps=stop_at)
    assert part["status"] == "paused" and part["epoch"] * 100 + part["step"] < full["epoch"] * 100
    resumed = train(cfg, small_images, tmp_path / "part", resume=True, progress=False)
    assert resumed["history"] == full["history"]
    a, b = _params(tmp_path / "full"), _params(tmp_path / "part")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_update_average_is_the_mean_of_the_snapshots():
    rng = np.random.default_rng(0)
    snaps = [{"w": rng.standard_normal((3, 2)).astype(np.float32), "b": np.float32([i, -i])} for i in range(1, 5)]
    before = [{k: v.copy() for k, v in snap.items()} for snap in snaps]
    avg = {}
    for n, snap in enumerate(snaps, start=1):
        update_average(avg, snap, n)
        assert avg["w"].dtype == np.float64
        np.testing.assert_allclose(avg["w"], np.mean([s["w"] for s in snaps[:n]], axis=0, dtype=np.float64),
                                   rtol=0, atol=1e-15)
    np.testing.assert_array_equal(avg["b"], [2.5, -2.5])  # (1 + 2 + 3 + 4) / 4
    for snap, copy in zip(snaps, before):  # the snapshots are not touched
        for k in snap:
            np.testing.assert_array_equal(snap[k], copy[k])


def _log_without_times(out):
    return [line.rsplit(",", 1)[0] for line in (out / "log.csv").read_text().splitlines()]


@pytest.mark.parametrize("stop_at", [8, 12, 14])  # 4 steps an epoch: before the average, end of epoch 3, in epoch 4
def test_weight_average_starts_at_the_drop_and_resumes_exactly(tmp_path, small_images, stop_at):
    """average=True: epochs 3 and 4 of 4 (drop at 0.5) are averaged. One snapshot
    is the weights themselves, so epoch 3 logs the same score twice; epoch 4
    scores the mean of two. A run stopped and resumed gives the same log,
    average and model."""
    cfg = TrainConfig(scale=2, epochs=4, batch_size=8, seed=5, average=True, decay_at=0.5)
    assert drop_epoch(cfg) == 2
    full = train(cfg, small_images, tmp_path / "full", progress=False)
    rows = [h["val_psnr_avg"] for h in full["history"]]
    assert rows[:2] == [None, None] and full["avg_count"] == 2
    assert rows[2] == full["history"][2]["val_psnr"] and rows[3] != full["history"][3]["val_psnr"]
    log = _log_without_times(tmp_path / "full")
    assert log[0] == "epoch,lr,train_loss,val_psnr,val_psnr_avg" and log[1].endswith(",")  # empty before the drop
    part = train(cfg, small_images, tmp_path / "part", progress=False, stop_after_steps=stop_at)
    assert part["status"] == "paused" and part["avg_count"] == (1 if stop_at == 14 else 0)
    resumed = train(cfg, small_images, tmp_path / "part", resume=True, progress=False)
    assert resumed["history"] == full["history"] and _log_without_times(tmp_path / "part") == log
    for k, v in _params(tmp_path / "full").items():
        np.testing.assert_array_equal(v, _params(tmp_path / "part")[k])
    with np.load(tmp_path / "full" / "checkpoint.npz") as a, np.load(tmp_path / "part" / "checkpoint.npz") as b:
        assert sorted(k for k in a.files if k.startswith("avg/")) == sorted(f"avg/{k}" for k in _params(tmp_path / "full"))
        for k in a.files:
            if k != "__run__":
                np.testing.assert_array_equal(a[k], b[k])


def test_the_weight_average_is_saved_when_it_scores_best(tmp_path, small_images, monkeypatch):
    """Selection covers the average: scores 20, 21, 22 | 22.5, 23 | 24 (raw | average)
    make epoch 4's average the best, and model.npz then holds it (as float32)."""
    scores = iter([20.0, 21.0, 22.0, 22.5, 23.0, 24.0])
    monkeypatch.setattr(train_module, "validation_psnr", lambda model, pairs, r: next(scores))
    cfg = TrainConfig(scale=2, epochs=4, batch_size=8, seed=5, average=True, decay_at=0.5)
    state = train(cfg, small_images, tmp_path, progress=False)
    assert (state["best_psnr"], state["best_epoch"], state["best_is_average"]) == (24.0, 3, True)
    saved = _params(tmp_path)
    with np.load(tmp_path / "checkpoint.npz") as z:
        for k, v in saved.items():
            np.testing.assert_array_equal(v, z[f"avg/{k}"].astype(np.float32))
            assert not np.array_equal(v, z[f"params/{k}"])  # the mean of two epochs, not the last weights


def test_the_weight_average_is_not_saved_when_it_loses_or_ties(tmp_path, small_images, monkeypatch):
    """Scores 20, 21, 22 | 21.5, 23 | 23 (raw | average): epoch 4's weights win,
    the average only ties, so model.npz holds the last weights, not the mean."""
    scores = iter([20.0, 21.0, 22.0, 21.5, 23.0, 23.0])
    monkeypatch.setattr(train_module, "validation_psnr", lambda model, pairs, r: next(scores))
    cfg = TrainConfig(scale=2, epochs=4, batch_size=8, seed=5, average=True, decay_at=0.5)
    state = train(cfg, small_images, tmp_path, progress=False)
    assert (state["best_psnr"], state["best_epoch"], state["best_is_average"]) == (23.0, 3, False)
    with np.load(tmp_path / "checkpoint.npz") as z:
        for k, v in _params(tmp_path).items():
            np.testing.assert_array_equal(v, z[f"params/{k}"])
            assert not np.array_equal(v, z[f"avg/{k}"].astype(np.float32))


def test_resume_with_more_epochs_restarts_the_average(tmp_path, small_images):
    """4 epochs averaged from epoch 3, then resumed with epochs=10: the drop moves
    to epoch 6, the lr goes back up, and the mean starts afresh there (so epoch 6
    scores its own weights again), instead of mixing in epochs 3 and 4."""
    cfg = dict(scale=2, batch_size=8, seed=5, average=True, decay_at=0.5)
    first = train(TrainConfig(epochs=4, **cfg), small_images, tmp_path, progress=False)
    assert first["avg_count"] == 2
    state = train(TrainConfig(epochs=10, **cfg), small_images, tmp_path, resume=True, progress=False)
    hist = state["history"]
    assert state["avg_count"] == 5 and hist[4]["val_psnr_avg"] is None and hist[4]["lr"] == 1e-3
    assert hist[5]["val_psnr_avg"] == hist[5]["val_psnr"]  # one snapshot: the weights themselves


def test_average_needs_a_held_out_image(tmp_path, small_images):
    one = {"astronaut": small_images["astronaut"]}
    with pytest.raises(ValueError, match="too few images to hold one out"):
        train(TrainConfig(scale=2, epochs=1, average=True), one, tmp_path, progress=False)


def test_rescale_adds_the_shrunk_images_sub_images(small_images):
    """rescale=(0.5,): every image also enters shrunk by MATLAB imresize on its uint8 Y,
    and its sub-images follow the full-size ones in the same order."""
    img = small_images["astronaut"]  # 120 x 120: Y 60 x 60 at 0.5, LR 30 x 30 at r = 2
    base = build_patches({"a": img}, TrainConfig(scale=2, patch=8), np.random.default_rng(0))
    both = build_patches({"a": img}, TrainConfig(scale=2, patch=8, rescale=(0.5,)), np.random.default_rng(0))
    y_half = imresize(rgb_to_y_uint8(img), 0.5)
    assert y_half.dtype == np.uint8 and y_half.shape == (60, 60)
    half = extract_patches(*make_lr_hr_pair(y_half, 2), 2, 8)
    assert len(base[0]) == 49 and len(half[0]) == 9 and len(both[0]) == 58
    for full, first, second in zip(both, base, half):
        np.testing.assert_array_equal(full, np.concatenate([first, second]))


def test_rescale_survives_a_checkpoint(tmp_path, small_images):
    """The factors go through the checkpoint's JSON and back: resume accepts the run."""
    cfg = TrainConfig(scale=2, epochs=2, rescale=[0.8])
    assert cfg.rescale == (0.8,)
    train(cfg, small_images, tmp_path, progress=False, stop_after_steps=2)
    state = train(cfg, small_images, tmp_path, resume=True, progress=False)
    # three training images, each 9 sub-images of 17 x 17 at full size (LR 60 x 60) and 4 at 0.8 (LR 48 x 48)
    assert state["status"] == "finished" and state["patches"] == 3 * (9 + 4)


def test_resume_refuses_other_settings(tmp_path, small_images):
    train(TrainConfig(scale=2, epochs=1), small_images, tmp_path, progress=False, stop_after_steps=2)
    with pytest.raises(ValueError, match=r"different settings: \['batch_size'\]"):
        train(TrainConfig(scale=2, epochs=1, batch_size=4), small_images, tmp_path, resume=True, progress=False)


def test_paper_schedule():
    cfg = TrainConfig(recipe="paper")
    assert cfg.initial_lr == 0.01
    assert next_lr(cfg, 0.01, 0, math.inf, 1.0) == 0.01  # first epoch: nothing to compare
    assert next_lr(cfg, 0.01, 1, 1.0, 0.5) == 0.01  # improved by 50% > mu
    assert next_lr(cfg, 0.01, 2, 1.0, 0.9995) == 0.005  # improved by 0.05% < mu: decay
    assert next_lr(cfg, 1.5e-4, 9, 1.0, 1.0) == 1e-4  # never below the final 1e-4
    fast = TrainConfig(recipe="fast", epochs=10)
    assert [next_lr(fast, 1e-3, e, 1, 1) for e in (0, 6, 7, 9)] == [1e-3, 1e-3, 1e-4, 1e-4]
    early = TrainConfig(recipe="fast", epochs=10, decay_at=0.5)  # epoch 5 (1-based) is the last at 1e-3
    assert [next_lr(early, 1e-3, e, 1, 1) for e in (0, 3, 4, 9)] == [1e-3, 1e-3, 1e-4, 1e-4]
    odd = TrainConfig(recipe="fast", epochs=100, decay_at=0.58)  # 0.58 * 100 = 57.99999999999999 in floats
    assert [fast_lr(odd, e) for e in (57, 58)] == [1e-3, 1e-4]  # the drop comes after 58 epochs, not 57


def test_cosine_schedule():
    cos = TrainConfig(recipe="fast", epochs=4, schedule="cosine")
    # next_lr(e) is the rate of epoch e + 1: (1 + cos(pi (e + 1) / 4)) / 2 times 1e-3
    lrs = [next_lr(cos, 1e-3, e, 1, 1) for e in range(3)]
    np.testing.assert_allclose(lrs, [0.85355339e-3, 0.5e-3, 0.14644661e-3], rtol=1e-7)
    assert [fast_lr(cos, e) for e in range(4)] == [1e-3, *lrs]
    # with more epochs the same epoch sits earlier in the half cosine, at a higher rate
    assert next_lr(TrainConfig(epochs=8, schedule="cosine"), 1e-3, 1, 1, 1) > lrs[1]


def test_split_is_deterministic_and_disjoint():
    imgs = {f"im{i}": np.zeros((4, 4), np.uint8) for i in range(20)}
    tr, va = split_images(imgs, 0.1, np.random.default_rng(0))
    tr2, va2 = split_images(imgs, 0.1, np.random.default_rng(0))
    assert sorted(va) == sorted(va2) and len(va) == 2 and not set(tr) & set(va)


def test_sgd_momentum_and_layer_multiplier():
    p = {"a": np.array([1.0]), "b": np.array([1.0])}
    opt = SGD(p, lr=0.1, momentum=0.9, lr_mult={"b": 0.1})
    g = {"a": np.array([1.0]), "b": np.array([1.0])}
    opt.step(p, g)  # v = 1
    opt.step(p, g)  # v = 0.9 + 1 = 1.9
    np.testing.assert_allclose(p["a"], [1 - 0.1 * (1 + 1.9)])
    np.testing.assert_allclose(p["b"], [1 - 0.01 * (1 + 1.9)])


def test_adam_matches_formula_and_torch():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(4)]
    p = {"w": p0.copy()}
    opt = Adam(p, lr=0.01)
    for g in grads:
        opt.step(p, {"w": g})
    m = v = np.zeros(5)
    q = p0.copy()
    for t, g in enumerate(grads, start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        q = q - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(p["w"], q, rtol=1e-12)
    torch = pytest.importorskip("torch")
    w = torch.tensor(p0, requires_grad=True)
    topt = torch.optim.Adam([w], lr=0.01)
    for g in grads:
        w.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(p["w"], w.detach().numpy(), rtol=1e-10)


def test_bad_training_config():
    with pytest.raises(ValueError, match="recipe must be"):
        TrainConfig(recipe="sgd")
    with pytest.raises(ValueError, match="val_fraction"):
        TrainConfig(val_fraction=1.0)
    with pytest.raises(ValueError, match="schedule must be 'step' or 'cosine'"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="'cosine' is for the fast recipe"):
        TrainConfig(recipe="paper", schedule="cosine")
    with pytest.raises(ValueError, match="average is for the fast recipe"):
        TrainConfig(recipe="paper", average=True)
    with pytest.raises(ValueError, match="average needs a validation split"):
        TrainConfig(average=True, val_fraction=0)
    for bad_decay in (0.0, 1.5):
        with pytest.raises(ValueError, match="decay_at"):
            TrainConfig(decay_at=bad_decay)
    for bad in ((1.0,), (0.0,), (0.5, 0.5), 0.9, ("half",)):
        with pytest.raises(ValueError, match="rescale factors"):
            TrainConfig(rescale=bad)
    with pytest.raises(ValueError, match="no 17x17 LR sub-image"):
        train(TrainConfig(scale=4, epochs=1), {"tiny": np.zeros((40, 40), np.uint8)}, "/tmp/never", progress=False)


def test_a_folder_with_a_run_is_refused_unless_resume_or_overwrite(tmp_path, small_images):
    cfg = TrainConfig(scale=2, epochs=1)
    train(cfg, small_images, tmp_path, progress=False)
    with pytest.raises(ValueError, match="already holds a training run"):
        train(cfg, small_images, tmp_path, progress=False)
    train(TrainConfig(scale=2, epochs=2), small_images, tmp_path, progress=False, overwrite=True)
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 3  # header + 2 epochs, nothing stale


def test_resume_refuses_other_images(tmp_path, small_images):
    train(TrainConfig(scale=2, epochs=2), small_images, tmp_path, progress=False, stop_after_steps=2)
    fewer = dict(list(small_images.items())[:2])
    with pytest.raises(ValueError, match="made on other images"):
        train(TrainConfig(scale=2, epochs=2), fewer, tmp_path, resume=True, progress=False)


def test_tampered_checkpoint_is_rejected(tmp_path, small_images):
    from espcn_ref.model import ModelFormatError

    train(TrainConfig(scale=2, epochs=1), small_images, tmp_path, progress=False, stop_after_steps=1)
    with np.load(tmp_path / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "__run__"}
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    with pytest.raises(ModelFormatError, match="not a valid espcn-ref checkpoint"):
        train(TrainConfig(scale=2, epochs=1), small_images, tmp_path, resume=True, progress=False)


def test_patience_stops_the_run(tmp_path, small_images, monkeypatch):
    """Validation peaks at epoch 1, then falls: with patience 2 the run stops
    after epoch 3 (two epochs without a better score), not at --epochs."""
    scores = iter([20.0, 19.0, 18.0, 17.0, 16.0])
    monkeypatch.setattr(train_module, "validation_psnr", lambda model, pairs, r: next(scores))
    state = train(TrainConfig(scale=2, epochs=5, patience=2, batch_size=64), small_images, tmp_path, progress=False)
    assert (state["status"], state["stop"], state["epoch"], state["best_epoch"]) == ("finished", "patience", 3, 0)
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 1 + 3


@pytest.mark.parametrize("recipe", ["fast", "paper"])
def test_the_last_layer_learns_ten_times_slower(recipe):
    """Sec. 3.2. Adam's first step moves every weight by lr (m/sqrt(v) = +-1);
    SGD's by lr times the gradient: either way 10x less in the last layer."""
    from espcn_ref.model import ESPCN

    cfg = TrainConfig(scale=3, recipe=recipe)
    model = ESPCN(3, rng=np.random.default_rng(0))
    before = {k: v.astype(np.float64) for k, v in model.params.items()}
    opt = train_module.make_optimizer(model, cfg)
    opt.step(model.params, {k: np.ones_like(v) for k, v in model.params.items()})
    for k, v in model.params.items():
        want = cfg.initial_lr * (0.1 if k.startswith("conv3") else 1.0)
        np.testing.assert_allclose(before[k] - v, want, rtol=1e-3, err_msg=k)


def test_gaussian_degradation_reaches_the_patches_and_the_validation(tmp_path, small_images):
    """TrainConfig(degradation="gaussian") cuts its sub-images from the Gaussian
    LR images, not the bicubic ones, and scores validation on them too."""
    cfg = TrainConfig(scale=3, degradation="gaussian", val_fraction=0)
    img = {"astronaut": small_images["astronaut"]}
    lr_p, hr_p = build_patches(img, cfg, np.random.default_rng(0))
    lr, hr = make_lr_hr_pair(rgb_to_y_uint8(img["astronaut"]), 3, "gaussian")
    want_lr, want_hr = extract_patches(lr, hr, 3, 17, None, np.random.default_rng(0), False)
    np.testing.assert_array_equal(lr_p, want_lr)
    np.testing.assert_array_equal(hr_p, want_hr)
    bicubic_lr, _ = build_patches(img, TrainConfig(scale=3, val_fraction=0), np.random.default_rng(0))
    assert not np.array_equal(lr_p, bicubic_lr)
    state = train(TrainConfig(scale=3, epochs=1, degradation="gaussian", val_fraction=0.5, seed=2),
                  small_images, tmp_path, progress=False)
    val = {name: small_images[name] for name in state["val"]}
    model = load_model(tmp_path / "model.npz")
    assert state["best_psnr"] == evaluate_images(model, val, 3, degradation="gaussian")["psnr"]
    assert state["best_psnr"] != evaluate_images(model, val, 3)["psnr"]


@pytest.mark.parametrize("make", [lambda p: SGD(p, 0.1), lambda p: Adam(p, 0.1)])
def test_optimisers_check_everything_before_they_update(make):
    """A gradient NumPy would broadcast, a missing name or a bad state is refused
    before any parameter or moment changes (no half-applied step)."""
    p = {"a": np.ones((3, 4)), "b": np.ones(2)}
    opt = make(p)
    before = {k: v.copy() for k, v in opt.state().items()}
    for grads, words in [({"a": np.ones(4), "b": np.ones(2)}, r"'a': the parameter \(3, 4\) and its gradient \(4,\)"),
                         ({"a": np.ones(1), "b": np.ones(2)}, r"gradient \(1,\)"),
                         ({"a": np.ones((3, 4))}, "must both have the names"),
                         ({"a": np.ones((3, 4)), "b": np.ones(2), "c": np.ones(1)}, "must both have the names")]:
        with pytest.raises(ValueError, match=words):
            opt.step(p, grads)
    bad = {k: (v if k in ("lr", "t") else np.full_like(v, 7.0)) for k, v in opt.state().items()}
    bad[next(k for k in bad if k.endswith("/b"))] = np.ones(3)  # the slots before it would be written first
    with pytest.raises(ValueError, match=r"has shape \(3,\), expected \(2,\)"):
        opt.load_state(bad)
    if isinstance(opt, Adam):
        no_t = {k: v for k, v in bad.items() if k != "t"}
        no_t[next(k for k in no_t if k.endswith("/b"))] = np.full(2, 7.0)
        with pytest.raises(KeyError):
            opt.load_state(no_t)
    assert np.array_equal(p["a"], np.ones((3, 4))) and np.array_equal(p["b"], np.ones(2))
    for k, v in opt.state().items():
        np.testing.assert_array_equal(v, before[k])


def test_optimiser_settings_are_checked():
    p = {"conv3.weight": np.ones(2)}
    with pytest.raises(ValueError, match=r"lr_mult names no parameter: \['conv3.weigth'\]"):
        Adam(p, lr_mult={"conv3.weigth": 0.1})
    for kwargs, words in [(dict(lr=float("nan")), r"lr must be a finite number > 0, got nan"), (dict(lr=0), "lr must be a finite number > 0"),
                          (dict(eps=-1), "eps must be a finite number > 0"), (dict(betas=(0.9,)), "betas must be a pair"),
                          (dict(betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1\)")]:
        with pytest.raises(ValueError, match=words):
            Adam(p, **kwargs)
    with pytest.raises(TypeError, match="lr must be a real number, got '0.1'"):
        SGD(p, "0.1")
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        SGD(p, 0.1, momentum=1.0)
    with pytest.raises(TypeError, match="parameter 'w' must be a float array"):
        SGD({"w": np.ones(2, dtype=int)}, 0.1)
