"""The colour network against the Y network with bicubic chroma, on Y and on RGB, with paired t-tests.

    python benchmarks/colour.py --data ../shared/data [--json benchmarks/colour.json]

A is ``espcn-rgb-t91`` (C = 3: RGB in, RGB out; its Y is the Y of its RGB
output), B is ``espcn-t91`` x3 (Y through the network, Cb and Cr bicubic).
Every image of Set5, Set14, BSD100 and BSD500 is scored by
:func:`espcn_ref.evaluate.evaluate_images` on Y (PSNR, r pixels shaved) and
on RGB (grayscale images have no RGB score). For each measure, per set and
pooled, the two-sided paired t-test of A - B (:func:`espcn_ref.compare.paired_ttest`).
docs/results.md, "Colour", quotes the JSON this writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from espcn_ref.compare import paired_ttest
from espcn_ref.data import find_data_dir, load_set
from espcn_ref.evaluate import evaluate_images
from espcn_ref.registry import pretrained

SETS = ("Set5", "Set14", "BSD100", "BSD500")
MEASURES = ("psnr", "psnr_rgb")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="the folder holding the four test sets")
    ap.add_argument("--json", default="benchmarks/colour.json")
    a = ap.parse_args(argv)
    out = Path(a.json)
    if not out.parent.is_dir() or out.is_dir():
        print(f"--json {a.json}: not a file in an existing folder", file=sys.stderr)
        return 2
    root = find_data_dir(a.data)
    if root is None:
        print("no dataset folder: pass --data (with Set5, Set14, BSD100, BSD500)", file=sys.stderr)
        return 2
    models = {"A": pretrained(3, weights="espcn-rgb-t91"), "B": pretrained(3, weights="espcn-t91")}
    result = {"A": "espcn-rgb-t91", "B": "espcn-t91 + bicubic Cb, Cr", "scale": 3, "sets": {}, "pooled": {}}
    pooled = {m: ([], []) for m in MEASURES}
    for s in SETS:
        images = load_set(s, root)
        scores = {k: evaluate_images(m, images, 3, with_rgb=True)["images"] for k, m in models.items()}
        result["sets"][s] = {}
        for m in MEASURES:
            names = [n for n in scores["A"] if scores["A"][n][m] is not None]
            a_, b_ = [scores["A"][n][m] for n in names], [scores["B"][n][m] for n in names]
            pooled[m][0].extend(a_)
            pooled[m][1].extend(b_)
            result["sets"][s][m] = {"mean_A": float(np.mean(a_)), "mean_B": float(np.mean(b_)),
                                    "ttest": paired_ttest(a_, b_)}
            t = result["sets"][s][m]["ttest"]
            print(f"{s:7s} {m:8s} n={t['n']:3d}  A {np.mean(a_):.3f}  B {np.mean(b_):.3f}  "
                  f"A-B {t['mean_diff']:+.3f}  t {t['t']:+.2f}  p {t['p']:.2g}")
    for m in MEASURES:
        t = result["pooled"][m] = paired_ttest(*pooled[m])
        print(f"pooled  {m:8s} n={t['n']:3d}  A-B {t['mean_diff']:+.3f} dB  "
              f"95% CI {t['ci95']['low']:+.3f} .. {t['ci95']['high']:+.3f}  t {t['t']:+.2f}  p {t['p']:.2g}")
    tmp = out.with_name(out.name + ".tmp")  # complete or not at all
    tmp.write_text(json.dumps(result, indent=1, allow_nan=False))
    os.replace(tmp, out)
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
