"""Sec. 3 and Figs. 3-5: training curves, learnt filters, super-resolved crops."""

from __future__ import annotations

import csv
import math

import numpy as np
from matplotlib.figure import Figure

from ..data import imresize, modcrop
from ..equivalence import subpixel_to_transposed
from ..upscale import upscale_image
from ..metrics import to_uint8
from ..ops.shuffle import channel_index, pixel_shuffle
from ._draw import symmetric


def read_log(log_csv_path) -> dict:
    """Columns of a run's ``log.csv`` (espcn_ref.train) as float arrays."""
    with open(log_csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{log_csv_path} has no epochs logged")
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def plot_training_curves(log_csv_path, baseline_psnr: float | None = None) -> Figure:
    """Training loss (eq. (5), log scale) and validation PSNR per epoch.

    Axes: [loss (line data: epoch, train_loss), PSNR (epoch, val_psnr)].
    baseline_psnr: drawn as a dashed line (e.g. bicubic on the same images).
    """
    log = read_log(log_csv_path)
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(log["epoch"], log["train_loss"], marker=".")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training MSE, eq. (5)")
    ax = fig.add_subplot(1, 2, 2)
    ax.plot(log["epoch"], log["val_psnr"], marker=".", label="ESPCN")
    if baseline_psnr is not None:
        ax.axhline(baseline_psnr, ls="--", color="gray", label=f"bicubic {baseline_psnr:.2f} dB")
        ax.legend(fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation PSNR on Y (dB)")
    return fig


def first_layer_order(model) -> np.ndarray:
    """Indices of the first layer's filters by decreasing variance, as Fig. 3 sorts them.

    W_1: (n_1, C, f_1, f_1); each filter's variance is taken over its
    C f_1 f_1 weights. Ties keep their index order.
    """
    w = np.asarray(model.params["conv1.weight"], dtype=np.float64)
    return np.argsort(-w.reshape(len(w), -1).var(axis=1), kind="stable")


def plot_first_layer_filters(model, ncols: int = 8, untrained=None) -> Figure:
    """Fig. 3: the first layer's n_1 filters W_1: (n_1, C, f_1, f_1), channel 0,
    sorted by decreasing variance as in the paper (:func:`first_layer_order`).

    untrained: optionally a second network (e.g. the same architecture as
    initialised, before training), drawn beside the first, sorted the same way.
    Axes: ``fig.axes[k]`` has image data W_1[first_layer_order(model)[k], 0],
    each on its own grey scale centred on 0; with ``untrained``, the next
    n_1 axes show its filters in its own order.
    """
    panels = [("trained", model)] + ([("untrained", untrained)] if untrained is not None else [])
    n = model.params["conv1.weight"].shape[0]
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(0.8 * ncols * len(panels) + 0.3 * (len(panels) - 1), 0.8 * nrows + 0.7),
                 layout="constrained")
    subfigs = fig.subfigures(1, len(panels), wspace=0.04) if len(panels) > 1 else [fig]
    for sub, (label, net) in zip(subfigs, panels):
        w = net.params["conv1.weight"]
        for pos, k in enumerate(first_layer_order(net)):
            ax = sub.add_subplot(nrows, ncols, pos + 1)
            ax.imshow(w[k, 0], cmap="gray", norm=symmetric(w[k, 0]), interpolation="nearest")
            ax.set_axis_off()
        if len(panels) > 1:
            sub.suptitle(label, fontsize=9)
    w = model.params["conv1.weight"]
    fig.suptitle(f"Fig. 3: first-layer filters, {n} of {w.shape[2]}×{w.shape[3]}, sorted by variance", fontsize=10)
    return fig


def last_layer_mosaic(w_L, c: int, r: int, order: str = "crd", gap: int = 1) -> np.ndarray:
    """The r^2 filters w_L[channel_index(0, i, j), c] (m x m) placed at grid
    position (i, j), ``gap`` NaN pixels apart: (r m + (r-1) gap, same)."""
    m = w_L.shape[2]
    C_out = w_L.shape[0] // (r * r)
    side = r * m + (r - 1) * gap
    out = np.full((side, side), np.nan)
    for i in range(r):
        for j in range(r):
            k = channel_index(0, i, j, C_out, r, order)
            out[i * (m + gap) : i * (m + gap) + m, j * (m + gap) : j * (m + gap) + m] = w_L[k, c]
    return out


def plot_last_layer_filters(model, channels=None, n_show: int = 4) -> Figure:
    """Fig. 4: the last layer's filters before and after the periodic shuffle.

    W_L: (C r^2, n_{L-1}, f_L, f_L). For each shown input channel c (default:
    the ``n_show`` with the largest weights, strongest first) three axes, one
    per row:

    * LR: the C r^2 = r^2 filters of f_L x f_L at their phase position
      (i, j) (image data :func:`last_layer_mosaic`), as Fig. 4(b);
    * PS of the filter bank, as Fig. 4(c): the r^2 filters shuffled like r^2
      feature maps, ``pixel_shuffle(W_L[:, c], r, order)``, r f_L x r f_L
      (``fig.axes[len(channels) + n]``): tap (u, v) of phase (i, j) lands at
      (u r + i, v r + j);
    * the transposed-convolution stamp, ``subpixel_to_transposed(W_L, r)[c, 0]``
      (``fig.axes[2 len(channels) + n]``): the pattern one LR pixel of feature
      map c paints on the output. It is PS of the *flipped* filter bank:
      tap (u, v) lands at ((f_L - 1 - u) r + i, (f_L - 1 - v) r + j).

    All three rows of a channel share one grey scale centred on 0.
    """
    L = len(model.config.layer_shapes())
    w = np.asarray(model.params[f"conv{L}.weight"], dtype=np.float64)
    r, order = model.scale, model.config.order
    if channels is None:
        channels = np.argsort(-np.sqrt((w**2).sum(axis=(0, 2, 3))))[:n_show]
    shuffled = pixel_shuffle(w.transpose(1, 0, 2, 3), r, order)  # (n_{L-1}, C, r f_L, r f_L): Fig. 4(c)
    stamps = subpixel_to_transposed(w, r, order)  # (n_{L-1}, C, r f_L, r f_L)
    rows = [(lambda c: last_layer_mosaic(w, c, r, order), f"map {{c}}: {r * r} LR filters"),
            (lambda c: shuffled[c, 0], "PS of the filters (Fig. 4c)"),
            (lambda c: stamps[c, 0], "stamp: PS of the flipped filters")]
    fig = Figure(figsize=(2.2 * len(channels), 6.6), layout="constrained")
    for row, (image, title) in enumerate(rows):
        for n, c in enumerate(channels):
            ax = fig.add_subplot(len(rows), len(channels), row * len(channels) + n + 1)
            ax.imshow(image(int(c)), cmap="gray", norm=symmetric(w[:, c]), interpolation="nearest")
            ax.set_title(title.format(c=int(c)), fontsize=8)
            ax.set_axis_off()
    fig.suptitle(f"Fig. 4: last layer before the shuffle (top), after it (middle: PS of the filters, as Fig. 4(c)),\n"
                 f"and the transposed-convolution stamp it paints (bottom); order '{order}'", fontsize=10)
    return fig


def sr_panels(img, methods: dict, r: int) -> dict:
    """HR and its upscalings for :func:`plot_sr_crops` (Fig. 5).

    img: uint8 (H, W) or (H, W, 3). The LR image is MATLAB-bicubic
    ``imresize(HR, 1/r)``, stored as uint8; every method ("bicubic" or an
    ESPCN) upscales it with ``upscale_image`` (Y by the method, CbCr bicubic).
    Returns {"HR": modcrop(img, r), name: (H - H % r, W - W % r[, 3]) uint8}.
    """
    hr = np.ascontiguousarray(modcrop(img, r))
    lr = to_uint8(imresize(hr / 255.0, scale=1 / r))
    return {"HR": hr, **{name: upscale_image(method, lr, r) for name, method in methods.items()}}


def plot_sr_crops(images: dict, box=None) -> Figure:
    """Fig. 5: the same crop of every image, side by side.

    images: {name: uint8 (H, W) or (H, W, 3)}, all of one size.
    box: (top, left, height, width); default a centred square of side
    min(H, W) // 3. Axes: one per image, image data ``img[top:top+height,
    left:left+width]``, titled with its name.
    """
    shapes = {np.shape(v)[:2] for v in images.values()}
    if len(shapes) != 1:
        raise ValueError(f"all images must have the same size, got {sorted(shapes)}")
    H, W = shapes.pop()
    if box is None:
        s = min(H, W) // 3
        box = ((H - s) // 2, (W - s) // 2, s, s)
    top, left, h, w = box
    fig = Figure(figsize=(3 * len(images), 3.3 * h / w), layout="constrained")
    for n, (name, img) in enumerate(images.items(), start=1):
        ax = fig.add_subplot(1, len(images), n)
        ax.imshow(np.asarray(img)[top : top + h, left : left + w], cmap="gray", vmin=0, vmax=255,
                  interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(name, fontsize=9)
    return fig
