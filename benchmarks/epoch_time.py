"""`make bench-epoch`: seconds per training epoch on the patches of the
PyTorch reference run that issue #5 compares against.

    python benchmarks/epoch_time.py --data ../shared/data [--epochs 12] [--keep-openblas-env]

The reference: x3, Adam (lr 1e-3, last layer 1e-4), batch 16, the 17x17 LR
sub-images of all 91 T91 images at stride 13 (2,701 of them), no
augmentation, no validation. Here that is ``TrainConfig(scale=3, stride=13,
val_fraction=0)``. Each epoch's time comes from the run's log.csv; the first
epoch includes warm-up, so the summary is over epochs 2 and later.

Like bench.py, it unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for itself
(re-running itself without them) unless --keep-openblas-env is given.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
from pathlib import Path

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

    from espcn_ref.evaluate import load_set
    from espcn_ref.train import TrainConfig, train

    images = load_set("T91", a.data)
    cfg = TrainConfig(scale=3, stride=13, epochs=a.epochs, val_fraction=0.0)
    with tempfile.TemporaryDirectory() as out:
        state = train(cfg, images, out, progress=False)
        with open(Path(out) / "log.csv", newline="") as f:
            ends = [float(row["time_s"]) for row in csv.DictReader(f)]
    times = [b - a for a, b in zip([0.0, *ends], ends)]
    blas = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()
            if i.get("user_api") == "blas"]
    print(f"{state['patches']} patches, batch {cfg.batch_size}, BLAS {blas}")
    print("epoch times (s): " + " ".join(f"{t:.3f}" for t in times))
    later = times[1:]
    print(f"epochs 2-{len(times)}: median {statistics.median(later):.3f} s, "
          f"range {min(later):.3f}-{max(later):.3f} s (PyTorch's reference run: 0.56 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
