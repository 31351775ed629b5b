"""The run folder: ``checkpoint.npz``, ``model.npz`` and ``log.csv``.

Every epoch writes ``checkpoint.npz`` atomically (parameters, optimiser
moments, random-generator state, position in the epoch, history), and the
best model so far to ``model.npz``; ``log.csv`` gets a row per epoch.
:func:`load_checkpoint` restores a run exactly, after checking it against
the settings and the data of the run that resumes it.
"""

from __future__ import annotations

import csv
import math
import io
import json
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from .._atomic import write_bytes_atomic
from ..model_file import ModelFormatError, read_npz, save_npz_atomic
from .recipes import RESUMABLE_CHANGES, TrainConfig


RUN_FILES = ("checkpoint.npz", "model.npz", "log.csv", "sessions.csv")


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


def csv_text(rows: list[dict]) -> str:
    """rows as CSV with a header line (the first row's keys; None is an empty field)."""
    buf = io.StringIO(newline="")
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


def save_run(out: Path, cfg, model, opt, state, perm, rng, avg) -> None:
    """The checkpoint, then log.csv and sessions.csv rewritten from it, each atomically.

    The logs are made from the state the checkpoint holds, after it is on
    disk: a failed checkpoint write leaves the old logs, and a resumed run
    never repeats an epoch in log.csv.
    """
    save_checkpoint(out / "checkpoint.npz", cfg, model, opt, state, perm, rng, avg)
    times = state.get("times", [])
    rows = [{**row, "time_s": times[i] if i < len(times) else None} for i, row in enumerate(state["history"])]
    write_bytes_atomic(out / "log.csv", csv_text(rows).encode())
    write_bytes_atomic(out / "sessions.csv", csv_text(state.get("sessions", [])).encode())


def save_checkpoint(path, cfg, model, opt, state, perm, rng, avg) -> None:
    """Write the whole state of a run atomically: params, optimiser, weight average, epoch order, RNG, state."""
    arrays = {f"params/{k}": v for k, v in model.params.items()}
    arrays.update({f"opt/{k}": np.asarray(v) for k, v in opt.state().items()})
    arrays.update({f"avg/{k}": v for k, v in avg.items()})
    arrays["perm"] = np.asarray(perm if perm is not None else [], dtype=np.int64)
    meta = {"config": asdict(cfg), "state": state, "rng": rng.bit_generator.state}
    arrays["__run__"] = np.array(json.dumps(meta, default=float))
    save_npz_atomic(path, arrays)


# The fields of a checkpoint's state: (type(s), check of the value) -- every one is checked before use.
_INT = (int,)
_REAL = (int, float)
STATE_FIELDS = {
    "epoch": (_INT, lambda v, s: v >= 0),
    "step": (_INT, lambda v, s: v >= 0),
    "loss_sum": (_REAL, lambda v, s: math.isfinite(v) and v >= 0),
    "lr": (_REAL, lambda v, s: math.isfinite(v) and v >= 0),  # the cosine schedule ends at 0
    "prev_loss": (_REAL, lambda v, s: v >= 0),  # inf before the first epoch ends
    "best_psnr": (_REAL, lambda v, s: not math.isnan(v)),  # -inf before the first epoch ends
    "best_epoch": (_INT, lambda v, s: -1 <= v < max(s["epoch"], 1)),
    "best_is_average": ((bool,), lambda v, s: True),
    "avg_count": (_INT, lambda v, s: v >= 0),
    "history": ((list,), lambda v, s: len(v) == s["epoch"] and all(isinstance(r, dict) for r in v)),
    "times": ((list,), lambda v, s: all(isinstance(t, (int, float)) for t in v)),
    "elapsed": (_REAL, lambda v, s: math.isfinite(v) and v >= 0),
    "val": ((list,), lambda v, s: all(isinstance(n, str) for n in v)),
    "patches": (_INT, lambda v, s: v >= 1),
    "finished": ((bool,), lambda v, s: True),
    "stop": ((str, type(None)), lambda v, s: v in (None, "epochs", "patience")),
    "sessions": ((list,), lambda v, s: all(isinstance(r, dict) for r in v)),
}


def check_state(path, state, perm: np.ndarray) -> None:
    """Every field of a checkpoint's state, and its epoch order, against
    STATE_FIELDS; a one-line ModelFormatError naming the file and the field."""
    if not isinstance(state, dict):
        raise ModelFormatError(f"{path}: field state: expected a JSON object, got {type(state).__name__}")
    for name, (types, ok) in STATE_FIELDS.items():
        if name not in state:
            raise ModelFormatError(f"{path}: field state.{name} is missing")
        v = state[name]
        if not isinstance(v, types) or (bool not in types and isinstance(v, bool)) or not ok(v, state):
            raise ModelFormatError(f"{path}: field state.{name} has an invalid value {v!r:.80}")
    if perm.dtype.kind not in "iu" or perm.ndim != 1 or (
            perm.size and not np.array_equal(np.sort(perm), np.arange(state["patches"]))):
        raise ModelFormatError(f"{path}: field perm is not a permutation of the {state['patches']} sub-images")
    if perm.size == 0 and state["step"] > 0:
        raise ModelFormatError(f"{path}: field perm is empty in the middle of an epoch (step {state['step']})")


def _restore_rng(path, rng_state) -> np.random.Generator:
    """The run's generator from its saved state, or a one-line error naming the field."""
    rng = np.random.default_rng()
    try:
        if not isinstance(rng_state, dict) or rng_state.get("bit_generator") != type(rng.bit_generator).__name__:
            raise ValueError(f"expected a {type(rng.bit_generator).__name__} state")
        rng.bit_generator.state = rng_state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise ModelFormatError(f"{path}: field rng is not a valid generator state ({e})") from None
    return rng


def load_checkpoint(path, cfg, model, opt, fresh_state, steps_per_epoch: int | None = None):
    """Restore a checkpoint into model and opt; check every field, and it against cfg and the data."""
    arrays = read_npz(path)
    try:
        meta = json.loads(str(arrays.pop("__run__")))
        if not isinstance(meta, dict):
            raise TypeError(f"__run__ is a {type(meta).__name__}, not a JSON object")
        saved = TrainConfig(**meta["config"])
        state, rng_state, perm = meta["state"], meta["rng"], arrays.pop("perm")
        if isinstance(state, dict):
            state.setdefault("avg_count", 0)  # checkpoints from before ``average`` existed
            state.setdefault("sessions", [])  # ... before sessions were recorded
            state.setdefault("times", [])  # ... and before log.csv was rewritten from the checkpoint
            state.setdefault("best_is_average", False)
        params = {k: arrays.pop(f"params/{k}") for k in model.params}
        avg = {k: arrays.pop(f"avg/{k}") for k in model.params} if isinstance(state, dict) and state.get("avg_count") else {}
        opt_state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFormatError(f"{path}: not a valid espcn-ref checkpoint ({type(e).__name__}: {e})") from None
    check_state(path, state, perm)
    rng = _restore_rng(path, rng_state)
    diff = [f.name for f in fields(TrainConfig)
            if getattr(saved, f.name) != getattr(cfg, f.name) and f.name not in RESUMABLE_CHANGES]
    if diff:
        raise ValueError(f"cannot resume {path}: it was made with different settings: {diff}")
    if state.get("patches") != fresh_state["patches"] or state.get("val") != fresh_state["val"]:
        raise ValueError(f"cannot resume {path}: it was made on other images "
                         f"({state.get('patches')} patches, validation {state.get('val')}; "
                         f"now {fresh_state['patches']} patches, validation {fresh_state['val']})")
    if steps_per_epoch is not None and state["step"] > steps_per_epoch:
        raise ModelFormatError(f"{path}: field state.step is {state['step']}, not in [0, {steps_per_epoch}]")
    for group, named in (("params", params), ("avg", avg)):
        for k, a in named.items():
            want = model.params[k].dtype if group == "params" else np.dtype(np.float64)  # the average: float64
            if a.shape != model.params[k].shape or a.dtype != want:
                raise ModelFormatError(f"{path}: field {group}/{k} is {a.dtype} {a.shape}, expected "
                                       f"{want} {model.params[k].shape}")
            if not np.all(np.isfinite(a)):
                raise ModelFormatError(f"{path}: field {group}/{k} contains NaN or inf")
    for k, a in opt_state.items():
        if np.asarray(a).dtype.kind not in "fiu" or not np.all(np.isfinite(a)):
            raise ModelFormatError(f"{path}: field opt/{k} is not finite numbers")
    model.params.update(params)
    current = opt.state()
    if set(opt_state) != set(current) or any(np.shape(opt_state[k]) != np.shape(current[k]) for k in current):
        raise ModelFormatError(f"{path}: the optimiser state does not match the {cfg.recipe} recipe")
    try:
        opt.load_state(opt_state)
    except (TypeError, ValueError) as e:  # e.g. a NaN learning rate
        raise ModelFormatError(f"{path}: invalid optimiser state ({e})") from None
    # reopen a finished run only for what was raised: more epochs, or more patience
    if state["finished"]:
        patience_left = state["epoch"] - 1 - state["best_epoch"] < cfg.patience
        state["finished"] = not (state["epoch"] < cfg.epochs and (state.get("stop") != "patience" or patience_left))
        if not state["finished"]:
            state["stop"] = None
    return state, (perm if perm.size else None), rng, avg
