"""The run folder: ``checkpoint.npz``, ``model.npz`` and ``log.csv``.

Every epoch writes ``checkpoint.npz`` atomically (parameters, optimiser
moments, random-generator state, position in the epoch, history), and the
best model so far to ``model.npz``; ``log.csv`` gets a row per epoch.
:func:`load_checkpoint` restores a run exactly, after checking it against
the settings and the data of the run that resumes it.
"""

from __future__ import annotations

import csv
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


def load_checkpoint(path, cfg, model, opt, fresh_state):
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
    state.setdefault("sessions", [])  # checkpoints from before sessions were recorded
    state.setdefault("times", [])  # and before log.csv was rewritten from the checkpoint
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
