"""`make bench-epoch`: seconds per training epoch on the patches of the
PyTorch reference run that issue #5 compares against.

    python benchmarks/epoch_time.py --data ../shared/data [--epochs 12] [--keep-openblas-env]

The reference: x3, Adam (lr 1e-3, last layer 1e-4), batch 16, the 17x17 LR
sub-images of all 91 T91 images at stride 13 (2,701 of them), no
augmentation, no validation. Here that is ``TrainConfig(scale=3, stride=13,
val_fraction=0)``. Each epoch's time comes from the run's log.csv; the first
epoch includes warm-up, so the summary is over epochs 2 and later.

When PyTorch happens to be installed, the same epochs run in PyTorch in
the same process (same patches, batch 16, Adam with the last layer at 1e-4,
same thread count; no lr drop, which does not change the time), and the
two alternate: one epoch of ours, one of PyTorch's, and so on. The
machine's speed drifts over minutes, so alternating puts both sides under
the same drift. Ours is paused after each epoch's last step
(``train(..., stop_after_steps=...)``) and resumed from its checkpoint, which
continues the run exactly; the pause is outside the timed training time.
Our epoch times also hold the previous epoch's checkpoint and log writes
(under 0.01 s); PyTorch's loop writes nothing.

Like bench.py, it unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for itself
(re-running itself without them) unless --keep-openblas-env is given.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset root holding T91/")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--keep-openblas-env", action="store_true")
    a = p.parse_args()
    if a.epochs < 2:
        p.error("--epochs must be at least 2 (the first epoch is warm-up)")
    if not a.keep_openblas_env and any(v in os.environ for v in OPENBLAS_VARS):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)  # BLAS reads them at import

    from threadpoolctl import threadpool_info

    from espcn_ref.data import load_set
    from espcn_ref.train import TrainConfig, build_patches, train

    images = load_set("T91", a.data)
    cfg = TrainConfig(scale=3, stride=13, epochs=a.epochs, val_fraction=0.0)
    lr_p, hr_p = build_patches(images, cfg, np.random.default_rng(cfg.seed))  # no augmentation: rng unused
    torch_epoch = _torch_epoch_runner(lr_p, hr_p, cfg)
    steps = math.ceil(len(lr_p) / cfg.batch_size)
    torch_times = []
    with tempfile.TemporaryDirectory() as out:
        for epoch in range(cfg.epochs):  # ours pauses after each epoch's last step
            state = train(cfg, images, out, resume=epoch > 0, progress=False, stop_after_steps=steps)
            if torch_epoch is not None:
                torch_times.append(torch_epoch())
        state = train(cfg, images, out, resume=True, progress=False)  # the last epoch's log row
        with open(Path(out) / "log.csv", newline="") as f:
            ends = [float(row["time_s"]) for row in csv.DictReader(f)]
    assert state["status"] == "finished" and len(ends) == cfg.epochs
    assert len(lr_p) == state["patches"], "PyTorch must train on the patches ours did"
    times = [b - a for a, b in zip([0.0, *ends], ends)]
    blas = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()
            if i.get("user_api") == "blas"]
    print(f"{state['patches']} patches, batch {cfg.batch_size}, BLAS {blas}")
    ours = _summary("espcn-ref", times)
    if torch_epoch is None:
        print("(PyTorch not installed; its reference run took 0.56 s per epoch)")
    else:
        theirs = _summary("PyTorch", torch_times)
        print(f"ours / PyTorch (medians, epochs alternating): {ours / theirs:.2f}")
    return 0


def _summary(who: str, times) -> float:
    later = times[1:]
    median = statistics.median(later)
    print(f"{who} epoch times (s): " + " ".join(f"{t:.3f}" for t in times))
    print(f"{who} epochs 2-{len(times)}: median {median:.3f} s, range {min(later):.3f}-{max(later):.3f} s")
    return median


def _torch_epoch_runner(lr_p, hr_p, cfg):
    """A function that trains the same network one epoch in PyTorch and
    returns its seconds; None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    from bench import torch_net  # this folder is on sys.path when run as a script
    from numba import get_num_threads

    from espcn_ref.model import ESPCN

    torch.set_num_threads(get_num_threads())  # the thread count our side runs with (it honours taskset)
    net = torch_net(torch, ESPCN(cfg.scale, rng=np.random.default_rng(cfg.seed)))
    *early, last = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    opt = torch.optim.Adam([{"params": [p for m in early for p in m.parameters()]},
                            {"params": last.parameters(), "lr": cfg.initial_lr * cfg.last_layer_lr_mult}],
                           lr=cfg.initial_lr)
    x_all, t_all = torch.from_numpy(lr_p), torch.from_numpy(hr_p)
    rng = np.random.default_rng(cfg.seed)

    def epoch() -> float:
        t0 = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(lr_p)))
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x_all[idx]), t_all[idx]).backward()
            opt.step()
        return time.perf_counter() - t0

    return epoch


if __name__ == "__main__":
    sys.exit(main())
