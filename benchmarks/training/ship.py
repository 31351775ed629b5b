"""Copy a finished run's model.npz into the package's weights, with what made it.

    python benchmarks/training/ship.py RUN FILE --commit C --command "espcn-ref train ..." [--data ../shared/data]

The runs of this folder were pinned to commits that wrote model files of
format 1 (no provenance). This writes the same arrays (checked bit for bit)
with a format-2 provenance: the training set's fingerprint, the command and
the pinned commit, and the selected epoch, its validation PSNR and the
training seconds from the run's log.csv. The record says it was added when
the model was shipped.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from espcn_ref.data import find_data_dir, set_fingerprint
from espcn_ref.model import load_model

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE.parents[1] / "src" / "espcn_ref" / "weights"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a run folder under benchmarks/training")
    ap.add_argument("file", help="the file name under src/espcn_ref/weights")
    ap.add_argument("--commit", required=True, help="the commit the run was pinned to")
    ap.add_argument("--command", required=True, help="the training command, as run in the pinned worktree")
    ap.add_argument("--train-set", default="T91")
    ap.add_argument("--data", default=None)
    a = ap.parse_args(argv)
    run = HERE / a.run
    model = load_model(run / "model.npz")
    with open(run / "log.csv", newline="") as f:
        log = list(csv.DictReader(f))
    best = max(log, key=lambda row: float(row["val_psnr"]))
    root = find_data_dir(a.data)
    model.provenance = {
        "train_sets": [set_fingerprint(a.train_set, root)],
        "command": a.command,
        "selected_epoch": int(best["epoch"]),
        "validation_psnr": float(best["val_psnr"]),
        "training_seconds": float(log[-1]["time_s"]),
        "epochs": int(log[-1]["epoch"]),
        "sessions": [{"start_epoch": 0, "commit": f"{a.commit} (a pinned worktree; benchmarks/training/README.md)",
                      "cpu": "not recorded", "blas": "not recorded", "threads": "not recorded"}],
        "recorded": "when shipped, by benchmarks/training/ship.py: the training commit wrote no provenance",
    }
    dst = WEIGHTS / a.file
    model.save(dst)
    again = load_model(dst)
    for name, arr in load_model(run / "model.npz").params.items():
        if not np.array_equal(arr.view(np.uint8), again.params[name].view(np.uint8)):
            print(f"{name} changed when saved", file=sys.stderr)
            return 1
    print(f"{run / 'model.npz'} -> {dst}: epoch {best['epoch']} of {log[-1]['epoch']}, "
          f"validation {float(best['val_psnr']):.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
