"""Fig. 2: PSNR against run time per image, Set14 at x3, as `make bench` measured it.

The paper's Fig. 2 sets ESPCN against SRCNN 9-1-5, SRCNN 9-5-5 and bicubic
(among others): mean PSNR over Set14 at x3 against the mean run time per
image, the time on a log axis. Here every time is measured by
``benchmarks/bench.py`` (entry ``"fig2_set14_x3"`` of its JSON, one record
per thread count: ``{"1": one thread pinned to one core, "2": ...}``); each
record also says where each PSNR comes from::

    methods[k] = {"label", "psnr", "psnr_kind": "measured" | "published", "psnr_source", "weights"}
    seconds_per_image[k] = mean over the images of each image's median time

A filled marker's PSNR was measured by this repository (in the run, or in
the README's table when the run had no Set14); a hollow one's is a
published figure. SRCNN 9-5-5 is not trained here: its point is our time at
Dong et al.'s PSNR, and its label says so.

What upscaling first costs (Sec. 3.5), from the configs alone, no clock:
:func:`upscale_first_costs` counts the multiply-adds per HR pixel of ESPCN
and SRCNN 9-1-5 / 9-5-5 at each r (``ESPCNConfig.macs_per_hr_pixel``), and
:func:`plot_upscale_first_costs` draws them. Every weight is one multiply-add
per pixel its layer runs on::

    MACs per HR pixel = weights x (pixels the stack runs on per HR pixel)
                      = weights x 1 / r^2   (ESPCN: the stack runs in LR space)
                      = weights x 1         (SRCNN: bicubic first, the stack in HR space)
"""

from __future__ import annotations

import textwrap

import json
from fractions import Fraction
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..model import ESPCN, ESPCNConfig, srcnn_config
from ._draw import category_cmap

FIG2_ENTRY = "fig2_set14_x3"  # the key of `make bench`'s JSON this figure draws
THREAD_MARKERS = {1: "o", 2: "s"}  # more threads: "D"


def fig2_points(bench: dict) -> list[dict]:
    """One point per method and thread count from `make bench`'s JSON (a dict).

    Returns [{"method", "label", "psnr", "measured", "psnr_source",
    "seconds", "threads", "pinned"}], methods in the JSON's order, fewer
    threads first. KeyError if the JSON has no Fig. 2 entry.
    """
    runs = bench[FIG2_ENTRY]
    points = []
    for n in sorted(runs, key=int):
        run = runs[n]
        pinned = run.get("cpus") is not None and len(run["cpus"]) == 1
        for key, m in run["methods"].items():
            points.append({"method": key, "label": m["label"], "psnr": m["psnr"],
                           "measured": m["psnr_kind"] == "measured", "psnr_source": m["psnr_source"],
                           "seconds": run["seconds_per_image"][key], "threads": int(n), "pinned": pinned})
    return points


def point_label(p: dict) -> str:
    """'ESPCN, 29.28 dB\nmeasured' / 'SRCNN 9-5-5, 29.22 dB\npublished; not trained here'."""
    untrained = "; not trained here" if p["method"] == "srcnn_955" and not p["measured"] else ""
    return f"{p['label']}, {p['psnr']:.2f} dB\n{'measured' if p['measured'] else 'published'}{untrained}"


def plot_psnr_vs_time(points: list[dict], caption: str | None = None) -> Figure:
    """PSNR (y) against seconds per image (x, log), one marker per point of :func:`fig2_points`.

    Colour: the method. Marker: the thread count (circle: one pinned
    thread, square: two). Filled: PSNR measured; hollow: published. A
    method's points share its PSNR and are joined by a thin line, labelled
    once above its middle (:func:`point_label`). caption: text under the
    axes (:func:`fig2_caption`: the images, the measured and the configs' ratios).
    """
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.add_subplot()
    methods = list(dict.fromkeys(p["method"] for p in points))
    colours = dict(zip(methods, category_cmap(max(len(methods), 1)).colors))
    for key in methods:
        mine = [p for p in points if p["method"] == key]
        colour, times = colours[key], [p["seconds"] for p in mine]
        ax.plot(times, [p["psnr"] for p in mine], color=colour, lw=0.8, alpha=0.6)
        for p in mine:
            ax.plot([p["seconds"]], [p["psnr"]], ls="none", marker=THREAD_MARKERS.get(p["threads"], "D"), ms=9,
                    mec=colour, mew=1.6, mfc=colour if p["measured"] else "none")
        middle = (min(times) * max(times)) ** 0.5  # the middle on the log axis
        ax.annotate(point_label(mine[0]), (middle, mine[0]["psnr"]), xytext=(0, 9), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8, color=colour)
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.2)
    ax.set_xlabel("run time per image, seconds (log scale; this machine's CPU)")
    ax.set_ylabel("PSNR, dB (Y, mean over Set14)")
    ax.set_title("Fig. 2: accuracy against speed, x3 on Set14", fontsize=10)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    grey = "0.3"
    threads = sorted({p["threads"] for p in points})
    handles = [Line2D([], [], ls="none", marker=THREAD_MARKERS.get(n, "D"), mec=grey, mfc=grey,
                      label=f"{n} thread{'s' if n > 1 else ''}" + (" (pinned)" if any(
                          p["pinned"] for p in points if p["threads"] == n) else "")) for n in threads]
    handles += [Line2D([], [], ls="none", marker="o", mec=grey, mfc=grey, label="PSNR measured here"),
                Line2D([], [], ls="none", marker="o", mec=grey, mfc="none", label="PSNR published")]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    if caption:
        fig.text(0.01, 0.005, textwrap.fill(caption, 130), fontsize=7, va="bottom")
        fig.get_layout_engine().set(rect=(0, 0.07, 1, 0.93))
    return fig


def fig2_caption(bench: dict) -> str:
    """What the times ran on, and SRCNN 9-5-5's time over ESPCN's beside the configs' ratios."""
    runs = bench[FIG2_ENTRY]
    last = runs[max(runs, key=int)]
    images = "synthetic images of Set14's sizes (no Set14 in that run)" if last["synthetic"] else "Set14"
    if "quick" in last["images"]:
        images += ", quick crops (a smoke run: not figures to quote)"
    times = ", ".join(f"{runs[n]['time_ratio_srcnn_955_to_espcn']:.1f}x ({n} thread{'s' if int(n) > 1 else ''})"
                      for n in sorted(runs, key=int))
    c = last["config_ratios_srcnn_955_to_espcn"]
    return (f"Times: {images}. SRCNN 9-5-5 / ESPCN per image: time {times}; "
            f"from the configs: multiply-adds {c['macs']:.1f}x, weights {c['weights']:.2f}x.")


def read_bench(path) -> dict | None:
    """`make bench`'s JSON (``benchmarks/results.json``) as a dict; None when the file is missing.

    Which entries it holds depends on the version of bench.py that wrote it:
    Fig. 2 is ``"fig2_set14_x3"`` (:data:`FIG2_ENTRY`), Sec. 3.5 ``"sec35_1080p"``.
    """
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


UPSCALE_FIRST_MODELS = ("ESPCN", "SRCNN 9-1-5", "SRCNN 9-5-5")


def upscale_first_costs(scales=(2, 3, 4)) -> list[dict]:
    """Multiply-adds per HR pixel of ESPCN (the paper's 5-3-3) and SRCNN 9-1-5 / 9-5-5 at each r.

    Returns one row per r: {"r", "models": {name: {"weights", "stack_pixels",
    "macs"}}, "ratio": {SRCNN name: its macs / ESPCN's}}. ``weights``: the W_l
    only, biases excluded (as SRCNN's papers count them); ``stack_pixels``:
    pixels the layer stack runs on per HR pixel (1 / r^2 for ESPCN, 1 for
    SRCNN); ``macs`` = weights x stack_pixels = ``config.macs_per_hr_pixel()``,
    as an exact Fraction. Bicubic's own cost is not counted.
    """
    rows = []
    for r in scales:
        configs = {"ESPCN": ESPCNConfig(scale=r), "SRCNN 9-1-5": srcnn_config(r, "915"),
                   "SRCNN 9-5-5": srcnn_config(r, "955")}
        models = {}
        for name, c in configs.items():
            weights = ESPCN(config=c).num_params(biases=False)
            stack_pixels = Fraction(1, c.scale**2)  # the stack's pixels per HR pixel: 1 / (the shuffle's r)^2
            macs = Fraction(c.macs_per_lr_pixel(), c.scale**2)  # == c.macs_per_hr_pixel(), exactly
            models[name] = {"weights": weights, "stack_pixels": stack_pixels, "macs": macs}
        rows.append({"r": r, "models": models,
                     "ratio": {k: models[k]["macs"] / models["ESPCN"]["macs"] for k in UPSCALE_FIRST_MODELS[1:]}})
    return rows


def plot_upscale_first_costs(rows: list[dict]) -> Figure:
    """Multiply-adds per HR pixel (log scale) against r, one line per model of :func:`upscale_first_costs`.

    ``fig.axes[0].lines[k]`` is model k of UPSCALE_FIRST_MODELS (y data: its
    macs at each r); each SRCNN point is labelled with its ratio to ESPCN.
    """
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    rs = [row["r"] for row in rows]
    for name, colour in zip(UPSCALE_FIRST_MODELS, category_cmap(len(UPSCALE_FIRST_MODELS)).colors):
        macs = [float(row["models"][name]["macs"]) for row in rows]
        ax.plot(rs, macs, marker="o", color=colour, label=name)
        if name != "ESPCN":
            for row, m in zip(rows, macs):
                ax.annotate(f"{float(row['ratio'][name]):.1f}×", (row["r"], m), xytext=(0, 6),
                            textcoords="offset points", ha="center", fontsize=8, color=colour)
    ax.set_yscale("log")
    ax.set_xticks(rs)
    ax.margins(y=0.15)
    ax.set_xlabel("upscaling factor r")
    ax.set_ylabel("multiply-adds per HR pixel (log scale)")
    ax.set_title("upscaling first: SRCNN's stack runs on r² times more pixels\n"
                 "(labels: SRCNN / ESPCN; bicubic not counted)", fontsize=10)
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=8)
    return fig
