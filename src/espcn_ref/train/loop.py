"""The training loop (Sec. 3.2), with exact resume.

Sub-images of the training images, mini-batches in a fresh random order each
epoch, eq. (5) and its gradients (:meth:`ESPCN.loss_and_grads`), an optimiser
step (:mod:`.recipes`); after each epoch, validation, model selection and
the learning-rate schedule. Every epoch ends with a checkpoint in the run
folder (:mod:`.run_folder`). ``resume=True`` continues from the checkpoint
and gives the same result as an uninterrupted run with the same seed, on the
same thread count and BLAS kernel (batches of 16 or more are summed over
shards whose number depends on the thread count, see
``ESPCN.loss_and_grads``). Ctrl-C finishes the current step, saves, and
returns.
"""

from __future__ import annotations

import copy
import math
import signal
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .._checks import check_real
from ..data import imresize, make_lr_hr_pair, random_dihedral, rgb_to_y_uint8
from ..data.patches import as_rgb
from ..data.patch_store import PatchStore
from ..evaluate import protocol_pair, score_pair
from ..model import ESPCN
from .recipes import TrainConfig, drop_epoch, fast_lr, make_optimizer, next_lr, update_average
from .provenance import machine_changes, session_record
from .run_folder import RUN_FILES, check_run_folder, load_checkpoint, save_run


def split_images(images: dict, val_fraction: float, rng: np.random.Generator):
    """Split {name: img} into (train, val) dicts; at least one of each when possible."""
    names = sorted(images)
    n_val = min(len(names) - 1, max(1 if val_fraction > 0 else 0, round(val_fraction * len(names))))
    val_names = set(rng.permutation(names)[:n_val]) if n_val > 0 else set()
    return ({n: images[n] for n in names if n not in val_names},
            {n: images[n] for n in names if n in val_names})


def build_patch_store(images: dict, cfg: TrainConfig, rng: np.random.Generator) -> PatchStore:
    """All training sub-images, cut on demand (:class:`PatchStore`): 17 x 17 LR, 17r x 17r HR.

    Each image's Y channel gives sub-images at full size and, for every factor
    f of ``cfg.rescale``, again after shrinking Y by f (MATLAB's bicubic
    imresize on uint8, as FSRCNN's scripts augment T91). Shrunk copies too
    small for a pair are skipped. Memory: the images, not the sub-images.
    """
    store = PatchStore(cfg.scale, cfg.patch)
    for name in sorted(images):
        y = rgb_to_y_uint8(images[name]) if cfg.channels == 1 else as_rgb(images[name])  # (H, W) or (H, W, 3)
        for f in (1.0, *cfg.rescale):
            y_f = y if f == 1.0 else imresize(y, f)
            if min(y_f.shape) < cfg.scale:
                continue
            store.add(*make_lr_hr_pair(y_f, cfg.scale, cfg.degradation), cfg.stride, rng, cfg.augment)
    if len(store) == 0:
        raise ValueError(f"no {cfg.patch}x{cfg.patch} LR sub-image fits in the training images "
                         f"(at x{cfg.scale} an image needs at least {cfg.patch * cfg.scale} pixels a side)")
    return store


def build_patches(images: dict, cfg: TrainConfig, rng: np.random.Generator):
    """All training sub-images as arrays: (lr (P, 1, 17, 17), hr (P, 1, 17r, 17r)) float32
    (:func:`build_patch_store`, every sub-image taken)."""
    store = build_patch_store(images, cfg, rng)
    return store.take(np.arange(len(store)))


class _StopFlag:
    """Turns the first Ctrl-C into a request to stop after the current step."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._old = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self._old = None
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def train(cfg: TrainConfig, images: dict, out_dir, resume: bool = False, progress: bool = True,
          max_seconds: float | None = None, stop_after_steps: int | None = None,
          overwrite: bool = False, provenance: dict | None = None) -> dict:
    """Train on ``images`` ({name: uint8 image}); write checkpoint, model and log to out_dir.

    resume: continue from ``out_dir/checkpoint.npz`` if it exists (same
    settings and data required; ``epochs`` and ``patience`` may be raised).
    overwrite: start afresh even if out_dir holds a run (its files are replaced).
    provenance: what to record in the model file about the data and the
    command (e.g. {"train_sets": [set_fingerprint(...)]}); the run adds its
    settings, its sessions (machine, commit, command) and the selected epoch.
    Without either, a folder that already holds a run is refused.
    max_seconds: stop (and checkpoint) after this much training time in this call.
    stop_after_steps: stop after this many optimiser steps in this call (tests
    use it to interrupt a run). Returns the run's state dict (see _save) with
    "status": "finished", "paused" (time or step budget) or "interrupted" (Ctrl-C).
    """
    out = Path(out_dir)
    ckpt = out / "checkpoint.npz"
    if check_run_folder(out, resume, overwrite):
        warnings.warn(f"{out} holds no checkpoint.npz to resume: starting a fresh run", UserWarning, stacklevel=2)
    if max_seconds is not None:
        check_real(max_seconds, "max_seconds (--minutes)", 0)
    rng = np.random.default_rng(cfg.seed)
    model = ESPCN(config=cfg.model_config(), rng=rng, init=cfg.init)
    train_imgs, val_imgs = split_images(images, cfg.val_fraction, rng)
    if cfg.average and not val_imgs:
        raise ValueError("average needs a validation split: there are too few images to hold one out")
    patches = build_patch_store(train_imgs, cfg, rng)
    val_pairs = {name: protocol_pair(img, cfg.scale, cfg.degradation, cfg.channels)
                 for name, img in sorted(val_imgs.items())}
    opt = make_optimizer(model, cfg)
    state = {"epoch": 0, "step": 0, "loss_sum": 0.0, "lr": cfg.initial_lr, "prev_loss": math.inf,
             "best_psnr": -math.inf, "best_epoch": -1, "best_is_average": False, "avg_count": 0,
             "history": [], "elapsed": 0.0,
             "val": sorted(val_imgs), "patches": len(patches), "finished": False, "stop": None}
    perm, avg = None, {}  # avg: the weight average of cfg.average (update_average)
    state["sessions"], state["times"] = [], []
    out.mkdir(parents=True, exist_ok=True)
    if resume and ckpt.exists():
        state, perm, rng, avg = load_checkpoint(ckpt, cfg, model, opt, state, math.ceil(len(patches) / cfg.batch_size))
    else:  # a fresh run: no stale log or model from an earlier run in this folder
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    _record_session(state, out, (provenance or {}).get("command"))
    model.provenance = {**(provenance or {}), "train_config": asdict(cfg), "sessions": state["sessions"]}
    steps_per_epoch = math.ceil(len(patches) / cfg.batch_size)
    bar = _progress_bar(progress, cfg, steps_per_epoch)
    steps_done, t_call = 0, time.perf_counter()
    t_start = t_call - state["elapsed"]  # training time accumulates across resumptions
    with _StopFlag() as stop:
        while not state["finished"] and state["epoch"] < cfg.epochs:
            if perm is None:  # a new epoch: its order comes from the run's generator
                perm = rng.permutation(len(patches))
                if cfg.recipe == "fast":  # the schedule of this run's epochs, also after a resume
                    state["lr"] = fast_lr(cfg, state["epoch"])
            opt.lr = state["lr"]
            while state["step"] < steps_per_epoch:
                idx = perm[state["step"] * cfg.batch_size : (state["step"] + 1) * cfg.batch_size]
                x, y = patches.take(idx)  # copies, cut from the images
                if cfg.augment_online:
                    random_dihedral(x, y, rng)
                loss, grads = model.loss_and_grads(x, y)  # eq. (5) and its gradients
                opt.step(model.params, grads)
                state["loss_sum"] += loss * len(idx)
                state["step"] += 1
                steps_done += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.2e}", refresh=False)
                out_of_time = max_seconds is not None and time.perf_counter() - t_call >= max_seconds
                if stop.requested or out_of_time or steps_done == stop_after_steps:
                    state["elapsed"] = time.perf_counter() - t_start
                    save_run(out, cfg, model, opt, state, perm, rng, avg)
                    return _close(bar, state, "interrupted" if stop.requested else "paused")
            state["elapsed"] = time.perf_counter() - t_start
            _end_epoch(cfg, model, avg, state, val_pairs, out, bar)
            perm = None
            save_run(out, cfg, model, opt, state, perm, rng, avg)
    state["finished"] = True
    state["stop"] = state["stop"] or "epochs"
    save_run(out, cfg, model, opt, state, perm, rng, avg)
    return _close(bar, state, "finished")


def validation_psnr(model: ESPCN, val_pairs: dict, r: int) -> float:
    """Mean PSNR over the held-out images, scored as :func:`..evaluate.evaluate_images`
    scores them (the same number), from their (lr, gt) pairs made once per run:
    on Y for a Y network, on RGB for an RGB one (what it is trained on)."""
    return float(np.mean([score_pair(model, lr, gt, r)["psnr"] for lr, gt in val_pairs.values()]))


def _end_epoch(cfg, model, avg, state, val_pairs, out, bar):
    """Validation, model selection (also of the weight average), learning-rate schedule, log."""
    loss = state["loss_sum"] / state["patches"]
    val = validation_psnr(model, val_pairs, cfg.scale) if val_pairs else -loss
    epoch = state["epoch"]
    _keep_if_best(state, val, model, out, is_average=False)
    row = {"epoch": epoch + 1, "lr": state["lr"], "train_loss": loss, "val_psnr": val}
    if cfg.average:  # None before the average starts (an empty field in log.csv)
        row["val_psnr_avg"] = _average_epoch(cfg, model, avg, state, val_pairs, out)
    state["history"].append(row)
    state["times"].append(round(state["elapsed"], 3))  # log.csv's time_s, kept apart: the history is the run's numbers
    state["lr"] = next_lr(cfg, state["lr"], epoch, state["prev_loss"], loss)
    state["prev_loss"], state["loss_sum"], state["step"] = loss, 0.0, 0
    state["epoch"] = epoch + 1
    if epoch - state["best_epoch"] >= cfg.patience:
        state["finished"], state["stop"] = True, "patience"
    if bar is not None:
        bar.set_description(f"x{cfg.scale} epoch {epoch + 1}/{cfg.epochs} val {val:.2f} dB")
        bar.reset()


def _keep_if_best(state, score, model, out, is_average):
    """Model selection: save ``model`` as model.npz if ``score`` beats the best so far."""
    if score > state["best_psnr"]:
        state["best_psnr"], state["best_epoch"], state["best_is_average"] = score, state["epoch"], is_average
        model.provenance = {**model.provenance, "selected_epoch": state["epoch"] + 1, "weight_average": is_average,
                            "validation_psnr": score, "training_seconds": round(state["elapsed"], 1)}
        model.save(out / "model.npz")


def _record_session(state, out, command):
    """Append this call's machine, commit and command to state and sessions.csv; warn if the machine changed."""
    now = session_record(state["epoch"], command)
    if state["sessions"]:
        changed = machine_changes(state["sessions"][-1], now)
        if changed:
            warnings.warn(f"{out}: resumed on another machine setup ({'; '.join(changed)}): the run continues, "
                          "but not bit for bit as an uninterrupted run would", UserWarning, stacklevel=3)
    state["sessions"].append(now)


def _average_epoch(cfg, model, avg, state, val_pairs, out):
    """Add this epoch's weights to the running mean from drop_epoch on, score
    the mean and select it like an epoch. Returns its score (None before the drop)."""
    if state["epoch"] < drop_epoch(cfg):
        if state["avg_count"]:  # resumed with more epochs: the start moved on
            avg.clear()
            state["avg_count"] = 0
        return None
    state["avg_count"] += 1
    update_average(avg, model.params, state["avg_count"])
    averaged = _model_with(model, avg)
    score = validation_psnr(averaged, val_pairs, cfg.scale)
    _keep_if_best(state, score, averaged, out, is_average=True)
    return score


def _model_with(model: ESPCN, params: dict) -> ESPCN:
    """A model of ``model``'s architecture holding ``params`` (as float32)."""
    other = copy.copy(model)  # shares the config; gets its own params
    other.params = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    return other


def _progress_bar(progress, cfg, total):
    if not progress:
        return None
    from tqdm.auto import tqdm

    # disable=None: no bar when the output is not a terminal (logs stay readable)
    return tqdm(total=total, desc=f"x{cfg.scale} epoch 1/{cfg.epochs}", unit="batch", dynamic_ncols=True, disable=None)


def _close(bar, state, status):
    if bar is not None:
        bar.close()
    return {**state, "status": status}
