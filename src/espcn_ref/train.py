"""Training ESPCN on a CPU (Sec. 3.2), with exact resume.

Two recipes:

* ``paper`` - mini-batch SGD with momentum 0.9. The learning rate starts at
  0.01 and falls (x ``lr_decay``) to at least 0.0001 whenever the training
  cost improves by less than a relative threshold mu over an epoch; the
  final layer learns 10x slower; training stops after ``patience`` epochs
  without a better validation score (the paper: 100 epochs).
* ``fast`` - Adam (lr 1e-3, final layer 1e-4): a practical recipe that
  converges in far fewer epochs. Its ``schedule`` is ``step`` (the rate cut
  x0.1 at ``decay_at`` = 80% of the epochs) or ``cosine`` (the rate follows
  half a cosine from 1e-3 down towards 0 over the epochs). Both follow
  ``epochs``: resuming with more epochs stretches the schedule from the next
  epoch on, so the rate can go back up.
  With ``average``, the epochs from ``decay_at`` on (for either schedule)
  also feed a running mean of their final weights (stochastic weight
  averaging, Izmailov et al. 2018), and model selection scores that mean
  after each of them as well. A resume whose ``epochs`` moves the start
  past the current epoch starts the mean afresh.

Deviations from the paper are listed in the README and here: the paper's
decay factor and mu are not given (we use ``lr_decay`` = 0.5 and mu = 1e-3);
the paper picks no epoch on a validation split, we do (``val_fraction`` of
the training images, never a test set).

Every epoch writes ``checkpoint.npz`` atomically (parameters, optimiser
moments, random-generator state, position in the epoch, history), and the
best model so far to ``model.npz``. ``resume=True`` continues from the
checkpoint and gives the same result as an uninterrupted run with the same
seed, on the same thread count and BLAS kernel (batches of 16 or more are
summed over shards whose number depends on the thread count, see
``ESPCN.loss_and_grads``). Ctrl-C
finishes the current step, saves, and returns.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import signal
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from .data import extract_patches, imresize, make_lr_hr_pair, random_dihedral, rgb_to_y_uint8
from .evaluate import protocol_pair, score_y
from .model import ESPCN, ESPCNConfig, ModelFormatError, read_npz, save_npz_atomic
from .optim import SGD, Adam


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run. Defaults follow Sec. 3.2 where it says."""

    scale: int = 3  # r
    recipe: str = "fast"  # "paper" (SGD + plateau schedule) or "fast" (Adam)
    activation: str = "tanh"  # Table 1: tanh (paper) or relu
    init: str = "default"  # "default" (PyTorch's) or "icnr"
    epochs: int = 100  # maximum number of epochs
    batch_size: int = 16
    patch: int = 17  # LR sub-image size; HR is 17 r (Sec. 3.2)
    stride: int | None = None  # LR stride; None = patch: each HR pixel once (Sec. 3.2)
    augment: bool = False  # one random flip / 90-degree rotation per sub-image, fixed at extraction
    augment_online: bool = False  # a fresh random flip / rotation each time a sub-image enters a batch
    rescale: tuple = ()  # also train on each image shrunk by these factors in (0, 1) (FSRCNN's augmentation)
    degradation: str = "bicubic"  # "bicubic" (the tables' protocol) or "gaussian"
    val_fraction: float = 0.1  # held-out training images for model selection
    seed: int = 0
    lr: float | None = None  # None: 0.01 (paper) or 1e-3 (fast)
    schedule: str = "step"  # fast recipe: "step" (x0.1 at decay_at) or "cosine" (half a cosine towards 0)
    decay_at: float = 0.8  # fast recipe, step schedule: the lr drops to lr / 10 at this fraction of the epochs
    average: bool = False  # fast recipe: also select among running means of the weights from decay_at on (SWA),
    #                        for either schedule
    momentum: float = 0.9  # paper recipe
    last_layer_lr_mult: float = 0.1  # "the final layer learns 10 times slower"
    mu: float = 1e-3  # paper recipe: relative cost improvement that keeps the lr
    lr_decay: float = 0.5  # paper recipe: factor applied when improvement < mu
    min_lr: float = 1e-4  # paper recipe: final learning rate
    patience: int = 100  # epochs without a better validation PSNR before stopping

    def __post_init__(self):
        if self.recipe not in ("paper", "fast"):
            raise ValueError(f"recipe must be 'paper' or 'fast', got {self.recipe!r}")
        for name in ("scale", "epochs", "batch_size", "patch", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.stride is not None and self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.schedule not in ("step", "cosine"):
            raise ValueError(f"schedule must be 'step' or 'cosine', got {self.schedule!r}")
        if self.recipe == "paper" and self.schedule != "step":
            raise ValueError("schedule 'cosine' is for the fast recipe; the paper recipe lowers the lr on plateaus")
        if self.recipe == "paper" and self.average:
            raise ValueError("average is for the fast recipe: it starts where its schedule drops (decay_at)")
        if self.average and self.val_fraction == 0:
            raise ValueError("average needs a validation split (val_fraction > 0): it is chosen on it")
        if not 0 < self.decay_at <= 1:
            raise ValueError(f"decay_at must be in (0, 1], got {self.decay_at}")
        try:
            rescale = tuple(float(f) for f in self.rescale)  # a tuple even when read back from JSON
        except (TypeError, ValueError):
            rescale = None
        if rescale is None or not all(0 < f < 1 for f in rescale) or len(set(rescale)) != len(rescale):
            raise ValueError(f"rescale factors must be distinct and in (0, 1), got {self.rescale!r}")
        object.__setattr__(self, "rescale", rescale)

    @property
    def initial_lr(self) -> float:
        return self.lr if self.lr is not None else (0.01 if self.recipe == "paper" else 1e-3)


# Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = ("epochs", "patience")


def split_images(images: dict, val_fraction: float, rng: np.random.Generator):
    """Split {name: img} into (train, val) dicts; at least one of each when possible."""
    names = sorted(images)
    n_val = min(len(names) - 1, max(1 if val_fraction > 0 else 0, round(val_fraction * len(names))))
    val_names = set(rng.permutation(names)[:n_val]) if n_val > 0 else set()
    return ({n: images[n] for n in names if n not in val_names},
            {n: images[n] for n in names if n in val_names})


def build_patches(images: dict, cfg: TrainConfig, rng: np.random.Generator):
    """All training sub-images: (lr (P, 1, 17, 17), hr (P, 1, 17r, 17r)) float32.

    Each image's Y channel gives sub-images at full size and, for every factor
    f of ``cfg.rescale``, again after shrinking Y by f (MATLAB's bicubic
    imresize on uint8, as FSRCNN's scripts augment T91). Shrunk copies too
    small for a pair are skipped.
    """
    lrs, hrs = [], []
    for name in sorted(images):
        y = rgb_to_y_uint8(images[name])
        for f in (1.0, *cfg.rescale):
            y_f = y if f == 1.0 else imresize(y, f)
            if min(y_f.shape) < cfg.scale:
                continue
            lr, hr = make_lr_hr_pair(y_f, cfg.scale, cfg.degradation)
            lp, hp = extract_patches(lr, hr, cfg.scale, cfg.patch, cfg.stride, rng, cfg.augment)
            lrs.append(lp)
            hrs.append(hp)
    lr_p, hr_p = np.concatenate(lrs), np.concatenate(hrs)
    if len(lr_p) == 0:
        raise ValueError(f"no {cfg.patch}x{cfg.patch} LR sub-image fits in the training images")
    return lr_p, hr_p


def make_optimizer(model: ESPCN, cfg: TrainConfig):
    last = len(model.config.layer_shapes())
    mult = {f"conv{last}.weight": cfg.last_layer_lr_mult, f"conv{last}.bias": cfg.last_layer_lr_mult}
    if cfg.recipe == "paper":
        return SGD(model.params, cfg.initial_lr, cfg.momentum, mult)
    return Adam(model.params, cfg.initial_lr, lr_mult=mult)


def next_lr(cfg: TrainConfig, lr: float, epoch: int, prev_loss: float, loss: float) -> float:
    """The learning rate for the epoch after ``epoch`` (0-based).

    paper: lr * lr_decay (not below min_lr) when (prev - loss) / prev < mu.
    fast: ``fast_lr(cfg, epoch + 1)``.
    """
    if cfg.recipe == "paper":
        if math.isfinite(prev_loss) and (prev_loss - loss) / prev_loss < cfg.mu:
            return max(cfg.min_lr, lr * cfg.lr_decay)
        return lr
    return fast_lr(cfg, epoch + 1)


def fast_lr(cfg: TrainConfig, epoch: int) -> float:
    """The fast recipe's learning rate for ``epoch`` (0-based; log.csv numbers it epoch + 1).

    Our replacement for Sec. 3.2's schedule (listed among the deviations in the README).

    step: lr_0 for the first floor(decay_at * epochs) epochs, then lr_0 / 10.
    cosine: lr_0 (1 + cos(pi epoch / epochs)) / 2: epoch 0 runs at lr_0, the
    last at lr_0 (1 - cos(pi / epochs)) / 2.
    A function of the epoch alone, so a run resumed with another ``epochs``
    follows the new schedule from its next epoch on.
    """
    if cfg.schedule == "cosine":
        return cfg.initial_lr * 0.5 * (1.0 + math.cos(math.pi * epoch / cfg.epochs))
    return cfg.initial_lr * (0.1 if epoch >= drop_epoch(cfg) else 1.0)


def drop_epoch(cfg: TrainConfig) -> int:
    """floor(decay_at * epochs), 0-based: where the step schedule drops and
    ``average`` starts (with the cosine schedule too)."""
    return math.floor(cfg.decay_at * cfg.epochs + 1e-9)  # 0.58 * 100 is 57.999...: still 58


def update_average(avg: dict, params: dict, count: int) -> None:
    """Stochastic weight averaging (Izmailov et al. 2018), one snapshot:
    avg <- avg + (params - avg) / count, in float64; count counts this snapshot.

    avg, params: {name: array}, same names and shapes. After snapshots
    w_1 .. w_n, avg holds their mean (w_1 + ... + w_n) / n.
    """
    for k, p in params.items():
        if count == 1:
            avg[k] = p.astype(np.float64)
        else:
            avg[k] += (p - avg[k]) / count


RUN_FILES = ("checkpoint.npz", "model.npz", "log.csv")


def check_run_folder(out: Path, resume: bool, overwrite: bool) -> bool:
    """Refuse to start where a fresh run would delete files it did not write.

    A folder holding any of RUN_FILES is used only to resume (it must then
    hold checkpoint.npz) or when ``overwrite`` is set. Returns True when
    ``resume`` finds none of them: the run starts fresh (train warns).
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"the run folder {out} is a file; choose a folder (--out)")
    present = [name for name in RUN_FILES if (out / name).exists()]
    if overwrite or (resume and "checkpoint.npz" in present):
        return False
    if present and resume:
        raise ValueError(f"{out} holds {', '.join(present)} but no checkpoint.npz to resume from: "
                         "replace them (--overwrite) or choose another output folder")
    if present:
        raise ValueError(f"{out} already holds a training run ({', '.join(present)}): resume it (--resume), "
                         "replace it (--overwrite) or choose another output folder")
    return resume


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
          overwrite: bool = False) -> dict:
    """Train on ``images`` ({name: uint8 image}); write checkpoint, model and log to out_dir.

    resume: continue from ``out_dir/checkpoint.npz`` if it exists (same
    settings and data required; ``epochs`` and ``patience`` may be raised).
    overwrite: start afresh even if out_dir holds a run (its files are replaced).
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
    if max_seconds is not None and not (max_seconds >= 0 and math.isfinite(max_seconds)):
        raise ValueError(f"max_seconds (--minutes) must be a finite number >= 0, got {max_seconds}")
    rng = np.random.default_rng(cfg.seed)
    model = ESPCN(config=ESPCNConfig(scale=cfg.scale, activation=cfg.activation), rng=rng, init=cfg.init)
    train_imgs, val_imgs = split_images(images, cfg.val_fraction, rng)
    if cfg.average and not val_imgs:
        raise ValueError("average needs a validation split: there are too few images to hold one out")
    lr_p, hr_p = build_patches(train_imgs, cfg, rng)
    val_pairs = {name: protocol_pair(img, cfg.scale, cfg.degradation) for name, img in sorted(val_imgs.items())}
    opt = make_optimizer(model, cfg)
    state = {"epoch": 0, "step": 0, "loss_sum": 0.0, "lr": cfg.initial_lr, "prev_loss": math.inf,
             "best_psnr": -math.inf, "best_epoch": -1, "best_is_average": False, "avg_count": 0,
             "history": [], "elapsed": 0.0,
             "val": sorted(val_imgs), "patches": int(len(lr_p)), "finished": False, "stop": None}
    perm, avg = None, {}  # avg: the weight average of cfg.average (update_average)
    out.mkdir(parents=True, exist_ok=True)
    if resume and ckpt.exists():
        state, perm, rng, avg = _load(ckpt, cfg, model, opt, state)
    else:  # a fresh run: no stale log or model from an earlier run in this folder
        for name in ("log.csv", "model.npz", "checkpoint.npz"):
            (out / name).unlink(missing_ok=True)
    steps_per_epoch = math.ceil(len(lr_p) / cfg.batch_size)
    bar = _progress_bar(progress, cfg, steps_per_epoch)
    steps_done, t_call = 0, time.perf_counter()
    t_start = t_call - state["elapsed"]  # training time accumulates across resumptions
    with _StopFlag() as stop:
        while not state["finished"] and state["epoch"] < cfg.epochs:
            if perm is None:  # a new epoch: its order comes from the run's generator
                perm = rng.permutation(len(lr_p))
                if cfg.recipe == "fast":  # the schedule of this run's epochs, also after a resume
                    state["lr"] = fast_lr(cfg, state["epoch"])
            opt.lr = state["lr"]
            while state["step"] < steps_per_epoch:
                idx = perm[state["step"] * cfg.batch_size : (state["step"] + 1) * cfg.batch_size]
                x, y = lr_p[idx], hr_p[idx]  # copies
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
                    _save(out / "checkpoint.npz", cfg, model, opt, state, perm, rng, avg)
                    return _close(bar, state, "interrupted" if stop.requested else "paused")
            state["elapsed"] = time.perf_counter() - t_start
            _end_epoch(cfg, model, avg, state, val_pairs, out, bar)
            perm = None
            _save(out / "checkpoint.npz", cfg, model, opt, state, perm, rng, avg)
    state["finished"] = True
    state["stop"] = state["stop"] or "epochs"
    _save(out / "checkpoint.npz", cfg, model, opt, state, perm, rng, avg)
    return _close(bar, state, "finished")


def validation_psnr(model: ESPCN, val_pairs: dict, r: int) -> float:
    """Mean PSNR over the held-out images, scored as :func:`..evaluate.evaluate_images`
    scores them (the same number), from their (lr, gt) pairs made once per run."""
    return float(np.mean([score_y(model, lr, gt, r, with_ssim=False)["psnr"] for lr, gt in val_pairs.values()]))


def _end_epoch(cfg, model, avg, state, val_pairs, out, bar):
    """Validation, model selection (also of the weight average), learning-rate schedule, log."""
    loss = state["loss_sum"] / state["patches"]
    val = validation_psnr(model, val_pairs, cfg.scale) if val_pairs else -loss
    epoch = state["epoch"]
    _keep_if_best(state, val, model, out, is_average=False)
    row = {"epoch": epoch + 1, "lr": state["lr"], "train_loss": loss, "val_psnr": val}
    if cfg.average:  # None before the average starts (an empty field in log.csv)
        row["val_psnr_avg"] = _average_epoch(cfg, model, avg, state, val_pairs, out)
    row["time_s"] = round(state["elapsed"], 3)
    state["history"].append({k: v for k, v in row.items() if k != "time_s"})
    _append_csv(out / "log.csv", row)
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
        model.save(out / "model.npz")


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


def _append_csv(path, row):
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


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


# --- checkpoints ----------------------------------------------------------------


def _save(path, cfg, model, opt, state, perm, rng, avg):
    arrays = {f"params/{k}": v for k, v in model.params.items()}
    arrays.update({f"opt/{k}": np.asarray(v) for k, v in opt.state().items()})
    arrays.update({f"avg/{k}": v for k, v in avg.items()})
    arrays["perm"] = np.asarray(perm if perm is not None else [], dtype=np.int64)
    meta = {"config": asdict(cfg), "state": state, "rng": rng.bit_generator.state}
    arrays["__run__"] = np.array(json.dumps(meta, default=float))
    save_npz_atomic(path, arrays)


def _load(path, cfg, model, opt, fresh_state):
    """Restore a checkpoint into model and opt; check it against cfg and the data."""
    arrays = read_npz(path)
    try:
        meta = json.loads(str(arrays.pop("__run__")))
        saved = TrainConfig(**meta["config"])
        state, rng_state, perm = meta["state"], meta["rng"], arrays.pop("perm")
        params = {k: arrays.pop(f"params/{k}") for k in model.params}
        avg = {k: arrays.pop(f"avg/{k}") for k in model.params} if state.get("avg_count") else {}
        opt_state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFormatError(f"{path}: not a valid espcn-ref checkpoint ({type(e).__name__}: {e})") from None
    diff = [f.name for f in fields(TrainConfig)
            if getattr(saved, f.name) != getattr(cfg, f.name) and f.name not in RESUMABLE_CHANGES]
    if diff:
        raise ValueError(f"cannot resume {path}: it was made with different settings: {diff}")
    if state.get("patches") != fresh_state["patches"] or state.get("val") != fresh_state["val"]:
        raise ValueError(f"cannot resume {path}: it was made on other images "
                         f"({state.get('patches')} patches, validation {state.get('val')}; "
                         f"now {fresh_state['patches']} patches, validation {fresh_state['val']})")
    for k, a in params.items():
        if a.shape != model.params[k].shape:
            raise ModelFormatError(f"{path}: {k} has shape {a.shape}, expected {model.params[k].shape}")
        model.params[k] = a
    if any(avg[k].shape != model.params[k].shape for k in avg):
        raise ModelFormatError(f"{path}: the weight average does not match the model's shapes")
    state.setdefault("avg_count", 0)  # checkpoints from before ``average`` existed
    state.setdefault("best_is_average", False)
    current = opt.state()
    if set(opt_state) != set(current) or any(np.shape(opt_state[k]) != np.shape(current[k]) for k in current):
        raise ModelFormatError(f"{path}: the optimiser state does not match the {cfg.recipe} recipe")
    try:
        opt.load_state(opt_state)
    except (TypeError, ValueError) as e:  # e.g. a NaN learning rate
        raise ModelFormatError(f"{path}: invalid optimiser state ({e})") from None
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    # reopen a finished run only for what was raised: more epochs, or more patience
    if state["finished"]:
        patience_left = state["epoch"] - 1 - state["best_epoch"] < cfg.patience
        state["finished"] = not (state["epoch"] < cfg.epochs and (state.get("stop") != "patience" or patience_left))
        if not state["finished"]:
            state["stop"] = None
    return state, (perm if perm.size else None), rng, avg
