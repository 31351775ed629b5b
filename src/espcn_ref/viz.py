"""The paper's figures, drawn from the library's own numbers.

Every picture here is computed by ``espcn_ref`` and only *drawn* here:

===============================  =============================================
function                         paper
===============================  =============================================
plot_shuffle                     eq. (4), the periodic shuffle (CRD/DCR/DCR_T)
plot_shuffle_matrix              PS as a permutation matrix: PS^-1 = PS^T
plot_channel_permutation         shuffle_permutation between two orders
plot_zero_insertion              Sec. 2.1, the fractional-stride input
plot_activation_patterns         Sec. 2.2, the r^2 activation patterns
plot_subpixel_kernels            Sec. 2.2, one k_s x k_s kernel = r^2 small ones
plot_three_forms                 Sec. 2.2, eq. (3): three forms, one output
plot_upsampling_cost             Sec. 2.2, multiply-adds against measured time
plot_training_curves             Sec. 3.2, training loss and validation PSNR
plot_first_layer_filters         Fig. 3, the first layer's filters
plot_last_layer_filters          Fig. 4, the last layer before / after PS
plot_sr_crops                    Fig. 5, crops of HR, bicubic and ESPCN
plot_protocol_variants           Tables 1-2: how the protocol moves PSNR
===============================  =============================================

Each ``plot_*`` returns a ``matplotlib.figure.Figure`` built without pyplot,
so no display is needed: ``fig.savefig`` renders with Agg. In a notebook
the figure shows when it is a cell's last value. Two table helpers,
:func:`upsampling_table` and :func:`protocol_variants`, compute the rows a
figure draws. :func:`write_figures` writes every figure as a PNG
(``espcn-ref figures --out DIR``).
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .data import (find_data_dir, rgb_to_y_fullrange, gaussian_degrade, imresize, make_lr_hr_pair,
                   modcrop, rgb_to_y_uint8, sample_images)
from .equivalence import (activation_patterns, fractional_stride_conv2d, subpixel_conv2d,
                          subpixel_to_transposed, transposed_conv2d, transposed_to_subpixel,
                          upsampling_cost, zero_insert)
from .evaluate import evaluate_images, load_set, upscale_image, upscale_y
from .metrics import psnr, to_uint8
from .ops.shuffle import channel_index, pixel_shuffle, shuffle_matrix, shuffle_permutation

# --- drawing helpers -----------------------------------------------------------------


def _category_cmap(n: int) -> ListedColormap:
    """n distinct colours: tab10 / tab20, else evenly spaced on 'turbo'."""
    from matplotlib import colormaps

    if n <= 10:
        return ListedColormap(colormaps["tab10"].colors[:n])
    if n <= 20:
        return ListedColormap(colormaps["tab20"].colors[:n])
    return ListedColormap(colormaps["turbo"](np.linspace(0.05, 0.95, n)))


def _grid(ax, values, labels=None, fontsize=8, **imshow):
    """imshow ``values`` (h, w) as cells with thin white borders and optional text."""
    im = ax.imshow(values, interpolation="nearest", **imshow)
    h, w = np.shape(values)
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if labels is not None:
        rgba = im.to_rgba(np.asarray(values, dtype=np.float64))  # (h, w, 4): the drawn colours
        dark = rgba[..., :3] @ np.array([0.299, 0.587, 0.114]) < 0.45  # white text on dark cells
        for (a, b), text in np.ndenumerate(np.asarray(labels, dtype=object)):
            ax.text(b, a, text, ha="center", va="center", fontsize=fontsize,
                    color="white" if dark[a, b] else "black")
    return im


def _fmt(v) -> str:
    return f"{v:.2f}".replace("-0.00", "0.00")


def _symmetric(a) -> Normalize:
    """A colour scale centred on 0, from -max|a| to max|a|."""
    m = float(np.nanmax(np.abs(a))) or 1.0
    return Normalize(-m, m)


# --- eq. (4): the periodic shuffle ---------------------------------------------------


def plot_shuffle(C: int = 2, r: int = 2, order: str = "crd", H: int = 2, W: int = 2) -> Figure:
    """Eq. (4) on a tiny tensor: which input cell lands where.

    The input x: (1, C r^2, H, W) is drawn as C r^2 small H x W panels,
    every cell coloured by its channel k and labelled "k" plus a letter for
    its LR position. The output PS(x): (1, C, rH, rW) is drawn as C panels
    whose cells keep the colour and label of the input cell they came from.

    Axes: ``fig.axes[k]`` (k < C r^2) is input channel k, with image data
    all k; ``fig.axes[C r^2 + c]`` is output channel c, with image data
    ``pixel_shuffle(k-valued x, r, order)[0, c]``: the source channel of
    every output cell.
    """
    n = C * r * r
    k_of = np.broadcast_to(np.arange(n, dtype=np.float64)[None, :, None, None], (1, n, H, W))
    src = pixel_shuffle(k_of, r, order)[0]  # (C, rH, rW): source channel
    hw = np.broadcast_to(np.arange(H * W, dtype=np.float64).reshape(1, 1, H, W), (1, n, H, W))
    pos = pixel_shuffle(hw, r, order)[0].astype(int)  # (C, rH, rW): source LR position h W + w
    letter = [chr(ord("a") + p) if H * W <= 26 else str(p) for p in range(H * W)]
    cmap, norm = _category_cmap(n), Normalize(-0.5, n - 0.5)
    cell = 0.42
    fig = Figure(figsize=(cell * (r * r * W + r * W) + 1.5, cell * C * r * H + 0.9), layout="constrained")
    gs = fig.add_gridspec(C, r * r + 1, width_ratios=[W] * (r * r) + [r * W + 1])
    for k in range(n):
        ax = fig.add_subplot(gs[k // (r * r), k % (r * r)])
        labels = [[f"{k}{letter[h * W + w]}" for w in range(W)] for h in range(H)]
        _grid(ax, np.full((H, W), float(k)), labels, cmap=cmap, norm=norm)
        ax.set_title(f"k={k}", fontsize=8)
    for c in range(C):
        ax = fig.add_subplot(gs[c, -1])
        labels = [[f"{int(src[c, a, b])}{letter[pos[c, a, b]]}" for b in range(r * W)] for a in range(r * H)]
        _grid(ax, src[c], labels, cmap=cmap, norm=norm)
        ax.set_title(f"output channel c={c}", fontsize=9)
    fig.suptitle(f"PS, eq. (4), order '{order}': (1, {n}, {H}, {W}) -> (1, {C}, {r * H}, {r * W})", fontsize=10)
    return fig


def plot_shuffle_matrix(C: int = 1, r: int = 2, H: int = 2, W: int = 2, order: str = "crd") -> Figure:
    """PS as a permutation matrix (one axis; image data :func:`shuffle_matrix`).

    A matrix with one 1 in every row and column is orthogonal: its inverse is
    its transpose. So PS^-1 = PS^T, and the backward of PS (multiply dL/dy by
    M^T) is the inverse shuffle.
    """
    M = shuffle_matrix(C, r, H, W, order)
    n = M.shape[0]
    fig = Figure(figsize=(4.6, 4.6), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(M, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xlabel("entry of x (flattened C r² × H × W)")
    ax.set_ylabel("entry of PS(x) (flattened C × rH × rW)")
    ticks = np.arange(0, n, max(1, n // 8))
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_title(f"PS as a {n}×{n} permutation matrix ('{order}')\none 1 per row and column: PS⁻¹ = PSᵀ",
                 fontsize=10)
    return fig


def plot_channel_permutation(C: int = 2, r: int = 2, src: str = "crd", dst: str = "dcr") -> Figure:
    """shuffle_permutation(C, r, src, dst) as a matrix P[k_dst, k_src] (one axis).

    ``w_dst = w_src[p]`` turns a last layer trained with order ``src`` into
    one for ``dst``; row k of the image has its 1 in column p[k].
    """
    p = shuffle_permutation(C, r, src, dst)
    n = len(p)
    P = np.zeros((n, n))
    P[np.arange(n), p] = 1.0
    fig = Figure(figsize=(3.8, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(P, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel(f"channel in '{src}' order")
    ax.set_ylabel(f"channel in '{dst}' order")
    ax.set_title(f"shuffle_permutation(C={C}, r={r})", fontsize=10)
    return fig


# --- Sec. 2.1-2.2: sub-pixel = fractional stride = transposed --------------------------


def plot_zero_insertion(H: int = 4, W: int = 4, r: int = 2, k_s: int = 4, padding: int = 1) -> Figure:
    """Sec. 2.1: the stride-1/r convolution's input, from ``zero_insert``.

    Left: the LR map, pixels numbered 1 .. HW. Right: ``zero_insert(x, r,
    border=k_s - 1 - padding)`` with r - 1 zeros between pixels (grey) and
    the border. Two k_s x k_s windows, for the output pixels (r, r) (dashed)
    and (r, r + 1) (red), two phases: each meets real pixels at other taps.
    Axes: [LR (H, W), zero-inserted (image data == zero_insert(...)[0, 0])].
    """
    x = np.arange(1, H * W + 1, dtype=np.float64).reshape(1, 1, H, W)
    z = zero_insert(x, r, border=k_s - 1 - padding)[0, 0]  # ((H-1)r + 1 + 2(k_s-1-p), ...)
    out = z.shape[0] - k_s + 1
    cmap = ListedColormap(_category_cmap(H * W).colors).with_extremes(under="#e8e8e8")  # zeros: grey
    norm = Normalize(0.5, H * W + 0.5)
    fig = Figure(figsize=(3 + 0.32 * z.shape[1], 0.5 + 0.32 * z.shape[0]), layout="constrained")
    gs = fig.add_gridspec(1, 2, width_ratios=[W, z.shape[1]])
    ax = fig.add_subplot(gs[0])
    _grid(ax, x[0, 0], x[0, 0].astype(int), cmap=cmap, norm=norm)
    ax.set_title(f"LR x: {H}×{W}", fontsize=9)
    ax = fig.add_subplot(gs[1])
    _grid(ax, z, np.where(z > 0, z.astype(int).astype(str), "0"), fontsize=7, cmap=cmap, norm=norm)
    o = max(0, min(r, out - 2))  # two neighbouring output pixels away from the border
    for col, colour, style in ((o, "black", "--"), (o + 1, "crimson", "-")):
        ax.add_patch(Rectangle((col - 0.5, o - 0.5), k_s, k_s, fill=False, lw=2.2, ec=colour, ls=style))
    ax.set_title(f"zero-inserted and padded by k_s−1−p = {k_s - 1 - padding}: {z.shape[0]}×{z.shape[1]}\n"
                 f"a {k_s}×{k_s} window at every pixel gives {out}×{out} (= rH when k_s = r + 2p)", fontsize=9)
    return fig


def plot_activation_patterns(k_s: int = 4, r: int = 2, padding: int = 1) -> Figure:
    """Sec. 2.2's r^2 activation patterns, drawn on the k_s x k_s kernel.

    Axes ``fig.axes[i r + j]`` shows ``activation_patterns(k_s, r,
    padding)[i, j]`` (image data 1 = the tap meets a real LR pixel at an
    output pixel of row phase i, column phase j; 0 = it meets an inserted
    zero). Taps are indexed on the flipped kernel of the HR-space conv.
    """
    mask = activation_patterns(k_s, r, padding)  # (r, r, k_s, k_s)
    fig = Figure(figsize=(1.6 * r + 0.25 * k_s * r, 1.6 * r + 0.25 * k_s * r + 0.4), layout="constrained")
    cmap = ListedColormap(["#eeeeee", "#2a7ab9"])
    for i in range(r):
        for j in range(r):
            ax = fig.add_subplot(r, r, i * r + j + 1)
            labels = np.where(mask[i, j], "w", "") if k_s <= 8 else None
            _grid(ax, mask[i, j].astype(float), labels, cmap=cmap, vmin=0, vmax=1)
            ax.set_title(f"phase ({i},{j}): {int(mask[i, j].sum())} taps", fontsize=8)
    fig.suptitle(f"k_s={k_s}, r={r}, p={padding}: {r * r} patterns, "
                 f"at most ⌈k_s/r⌉² = {math.ceil(k_s / r) ** 2} taps each", fontsize=10)
    return fig


def plot_subpixel_kernels(w_t, r: int, padding: int = 0, order: str = "crd") -> Figure:
    """Sec. 2.2 / eq. (3): one k_s x k_s transposed-conv kernel is r^2 small ones.

    w_t: (C_in, C_out, k_s, k_s) with mod(k_s, r) = 0; channel pair (0, 0)
    is drawn. Axes: [the k_s x k_s kernel (image data w_t[0, 0]), then for
    phase (i, j) in row-major order the m x m kernel (m = k_s / r) that
    ``transposed_to_subpixel`` puts in channel ``channel_index(0, i, j)``
    (image data w_s[k, 0])]. Each tap of the big kernel is framed in the
    colour of the small kernel it moves to.
    """
    w_t = np.asarray(w_t, dtype=np.float64)
    k_s = w_t.shape[2]
    w_s, lr_pad, crop = transposed_to_subpixel(w_t, r, padding, order)
    C_out = w_t.shape[1]
    tap_id = np.arange(k_s * k_s, dtype=np.float64).reshape(1, 1, k_s, k_s)  # label every tap
    moved = transposed_to_subpixel(tap_id, r, padding, order)[0]  # (r^2, 1, m, m): which tap went where
    m = k_s // r
    colours = _category_cmap(r * r).colors
    norm = _symmetric(w_t[0, 0])
    fig = Figure(figsize=(3.2 + 0.5 * k_s + 1.3 * r, 0.6 + max(0.5 * k_s, 1.3 * r)), layout="constrained")
    gs = fig.add_gridspec(r, r + 1, width_ratios=[r * 1.2] + [1] * r)
    big = fig.add_subplot(gs[:, 0])
    _grid(big, w_t[0, 0], np.vectorize(_fmt)(w_t[0, 0]), fontsize=7, cmap="RdBu_r", norm=norm)
    big.set_title(f"transposed-conv kernel {k_s}×{k_s}\n(stride {r}, padding {padding})", fontsize=9)
    for i in range(r):
        for j in range(r):
            k = channel_index(0, i, j, C_out, r, order)
            colour = colours[i * r + j]
            for t in moved[k, 0].ravel().astype(int):
                frame = Rectangle((t % k_s - 0.45, t // k_s - 0.45), 0.9, 0.9, fill=False, ec=colour, lw=2.5)
                big.add_patch(frame)  # tap t = a k_s + b of the big kernel moves to channel k
            ax = fig.add_subplot(gs[i, j + 1])
            _grid(ax, w_s[k, 0], np.vectorize(_fmt)(w_s[k, 0]), fontsize=7, cmap="RdBu_r", norm=norm)
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(3)
            ax.set_title(f"phase ({i},{j}) → ch {k}", fontsize=8)
    fig.suptitle(f"{r * r} sub-pixel kernels of {m}×{m}: LR padding {lr_pad}, HR crop {crop}", fontsize=10)
    return fig


def plot_three_forms(x, w_t, r: int, padding: int = 0) -> Figure:
    """Sec. 2.2: the deconvolution layer, the stride-1/r conv and eq. (3) agree.

    x: (1, C_in, H, W); w_t: (C_in, C_out, k_s, k_s), mod(k_s, r) = 0.
    Axes: [x[0, 0], transposed_conv2d, fractional_stride_conv2d,
    subpixel_conv2d (after transposed_to_subpixel)], output channel 0; each
    title gives the largest difference from the transposed form.
    """
    y_t = transposed_conv2d(x, w_t, r, padding)
    y_f = fractional_stride_conv2d(x, w_t, r, padding)
    w_s, lr_pad, crop = transposed_to_subpixel(w_t, r, padding)
    y_s = subpixel_conv2d(x, w_s, r, lr_pad, crop)
    panels = [("LR input x", x[0, 0]), ("transposed (scatter-add)", y_t[0, 0]),
              ("fractional stride (zeros, HR conv)", y_f[0, 0]), ("sub-pixel (LR conv + PS)", y_s[0, 0])]
    fig = Figure(figsize=(11, 3.7), layout="constrained")
    for n, (title, img) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, 4, n)
        ax.imshow(img, cmap="gray", interpolation="nearest")
        ax.set_axis_off()
        if n > 2:
            title += f"\nmax |diff| = {np.max(np.abs(img - y_t[0, 0])):.1e}"
        ax.set_title(f"{title}\n{img.shape[0]}×{img.shape[1]}", fontsize=9)
    return fig


def upsampling_table(N: int, C_in: int, C_out: int, H: int, W: int, r: int, k_s: int,
                     repeat: int = 3, seed: int = 0) -> list[dict]:
    """Predicted multiply-adds (``upsampling_cost``) against measured time.

    Runs the three forms on a random x: (N, C_in, H, W) with a random w_t:
    (C_in, C_out, k_s, k_s), float32, padding (k_s - r) // 2 (so the output
    is rH x rW when k_s - r is even). Each form is run once to warm up, then
    the best of ``repeat`` runs is kept. The weight conversion is done once,
    outside the timing. Returns rows {form, macs, mac_ratio, seconds,
    time_ratio}, ratios relative to the sub-pixel form.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C_in, H, W)).astype(np.float32)
    w_t = rng.standard_normal((C_in, C_out, k_s, k_s)).astype(np.float32)
    p = max(0, (k_s - r) // 2)
    w_s, lr_pad, crop = transposed_to_subpixel(w_t, r, p, pad_kernel=True)
    runs = {"subpixel": lambda: subpixel_conv2d(x, w_s, r, lr_pad, crop),
            "transposed": lambda: transposed_conv2d(x, w_t, r, p),
            "fractional_stride": lambda: fractional_stride_conv2d(x, w_t, r, p)}
    cost = upsampling_cost(N, C_in, C_out, H, W, r, k_s)
    rows = []
    for form, run in runs.items():
        run()
        best = math.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t0)
        rows.append({"form": form, "macs": cost[form], "seconds": best})
    for row in rows:
        row["mac_ratio"] = row["macs"] / rows[0]["macs"]
        row["time_ratio"] = row["seconds"] / rows[0]["seconds"]
    return rows


def plot_upsampling_cost(rows: list[dict]) -> Figure:
    """Predicted MAC ratio and measured time ratio per form (rows of
    :func:`upsampling_table`); one axis, two bars per form, heights equal
    to ``mac_ratio`` and ``time_ratio``."""
    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.add_subplot()
    pos = np.arange(len(rows))
    ax.bar(pos - 0.2, [row["mac_ratio"] for row in rows], 0.4, label="multiply-adds (predicted)")
    ax.bar(pos + 0.2, [row["time_ratio"] for row in rows], 0.4, label="time (measured)")
    ax.set_xticks(pos, [row["form"] for row in rows])
    ax.axhline(1, color="k", lw=0.7)
    ax.set_ylabel("relative to the sub-pixel form")
    ax.legend(fontsize=8)
    ax.set_title("Sec. 2.2: cost of the three forms", fontsize=10)
    return fig


# --- Sec. 3: training and the learnt filters -------------------------------------------


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


def plot_first_layer_filters(model, ncols: int = 8) -> Figure:
    """Fig. 3: the first layer's n_1 filters W_1: (n_1, C, f_1, f_1), channel 0.

    One axis per filter (``fig.axes[k]`` has image data W_1[k, 0]), each on
    its own grey scale centred on 0.
    """
    w = model.params["conv1.weight"]
    n = w.shape[0]
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(0.8 * ncols, 0.8 * nrows + 0.4), layout="constrained")
    for k in range(n):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        ax.imshow(w[k, 0], cmap="gray", norm=_symmetric(w[k, 0]), interpolation="nearest")
        ax.set_axis_off()
    fig.suptitle(f"Fig. 3: first-layer filters, {n} of {w.shape[2]}×{w.shape[3]}", fontsize=10)
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
    the ``n_show`` with the largest weights) two axes: "before", the C r^2
    = r^2 filters of f_L x f_L (image data :func:`last_layer_mosaic`), and
    "after" (``fig.axes[len(channels) + n]``), the same numbers rearranged by the shuffle into one r f_L x
    r f_L HR-space kernel, ``subpixel_to_transposed(W_L, r)[c, 0]`` (9 x 9
    for r = 3): the pattern one LR feature pixel paints on the output.
    """
    L = len(model.config.layer_shapes())
    w = np.asarray(model.params[f"conv{L}.weight"], dtype=np.float64)
    r, order = model.scale, model.config.order
    if channels is None:
        channels = np.argsort(-np.sqrt((w**2).sum(axis=(0, 2, 3))))[:n_show]
    w_t = subpixel_to_transposed(w, r, order)  # (n_{L-1}, C, r f_L, r f_L)
    fig = Figure(figsize=(2.2 * len(channels), 4.6), layout="constrained")
    for n, c in enumerate(channels):  # top row: before the shuffle
        ax = fig.add_subplot(2, len(channels), n + 1)
        ax.imshow(last_layer_mosaic(w, int(c), r, order), cmap="gray", norm=_symmetric(w[:, c]),
                  interpolation="nearest")
        ax.set_title(f"input map {int(c)}: {r * r} filters", fontsize=8)
        ax.set_axis_off()
    for n, c in enumerate(channels):  # bottom row: after, on the same grey scale
        ax = fig.add_subplot(2, len(channels), len(channels) + n + 1)
        ax.imshow(w_t[c, 0], cmap="gray", norm=_symmetric(w[:, c]), interpolation="nearest")
        ax.set_title(f"after PS: {w_t.shape[2]}×{w_t.shape[3]}", fontsize=8)
        ax.set_axis_off()
    fig.suptitle("Fig. 4: last layer, before (top) and after (bottom) the periodic shuffle", fontsize=10)
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


# --- evaluation protocol ---------------------------------------------------------------

_VARIANTS = (  # (what changes, the protocol step it changes; see espcn_ref.evaluate)
    ("protocol: Y (BT.601 studio), MATLAB bicubic LR, shave r", "-"),
    ("no border shave (shave 0)", "6"),
    ("PSNR of the mean MSE, not the mean of PSNRs", "6"),
    ("RGB: R, G and B each upscaled and scored", "2"),
    ("full-range Y = 0.299 R + 0.587 G + 0.114 B (Pillow)", "2"),
    ("LR rounded to uint8 (imresize on uint8)", "4"),
    ("LR by box average of r×r blocks", "4"),
    ("LR by nearest (every r-th pixel, no blur)", "4"),
    ("LR by Gaussian blur σ=(r-1)/2 + subsample (Sec. 2)", "4"),
    ("LR by scipy.ndimage.zoom (cubic spline)", "4"),
    ("upscaled by scipy.ndimage.zoom, not MATLAB bicubic", "5"),  # only for method="bicubic"
)


def _spline(a, zoom_factor):
    """scipy.ndimage.zoom with a cubic spline, pixel areas aligned (grid_mode)."""
    from scipy.ndimage import zoom

    return zoom(a, zoom_factor, order=3, mode="grid-mirror", grid_mode=True)


def _variant_scores(img, r: int, method) -> list[float]:
    """PSNR of ``method`` x r on one image under each of _VARIANTS, in order."""
    def up(lr):  # protocol step 5
        return to_uint8(upscale_y(method, lr, r))

    y = rgb_to_y_uint8(img)
    lr, hr = make_lr_hr_pair(y, r)  # protocol steps 2-4
    gt = to_uint8(hr)
    sr = up(lr)
    hr64 = hr.astype(np.float64)
    h, w = lr.shape
    if img.ndim == 3:  # every colour channel goes the Y channel's way
        rgb = modcrop(img, r)
        sr_rgb = np.stack([up(imresize(rgb[..., k] / 255.0, scale=1 / r)) for k in range(3)], axis=-1)
        rgb_psnr = psnr(rgb, sr_rgb, shave=r)
    else:
        rgb_psnr = psnr(gt, sr, shave=r)
    full_lr, full_hr = make_lr_hr_pair(rgb_to_y_fullrange(img), r)
    scores = [psnr(gt, sr, shave=r),
              psnr(gt, sr, shave=0),
              psnr(gt, sr, shave=r),  # pooled over the set in protocol_variants
              rgb_psnr,
              psnr(to_uint8(full_hr), up(full_lr), shave=r),
              psnr(gt, up(imresize(modcrop(y, r), scale=1 / r) / 255.0), shave=r),
              psnr(gt, up(hr64.reshape(h, r, w, r).mean(axis=(1, 3))), shave=r),
              psnr(gt, up(gaussian_degrade(hr64, r, sigma=0)), shave=r),
              psnr(gt, up(gaussian_degrade(hr64, r)), shave=r),
              psnr(gt, up(_spline(hr64, 1 / r)), shave=r)]
    if isinstance(method, str):
        scores.append(psnr(gt, to_uint8(_spline(lr.astype(np.float64), r)), shave=r))
    return scores


def protocol_variants(images: dict, r: int, method="bicubic") -> list[dict]:
    """Mean PSNR on ``images`` under variants of the evaluation protocol.

    images: {name: uint8 (H, W) or (H, W, 3)}; r: the scale; method:
    "bicubic" or an ESPCN of scale r (it upscales every LR image, one
    channel at a time). Every row changes one step of the protocol
    (PROTOCOL.md; steps numbered as in espcn_ref.evaluate) and keeps the
    others. Returns rows {variant, step, psnr, delta}, delta = the change
    from the first row, which equals ``evaluate_images(method, images, r)["psnr"]``.
    The last row (another upscaler) exists only for method="bicubic".
    """
    scores = np.array([_variant_scores(img, r, method) for img in images.values()])  # (images, variants)
    means = scores.mean(axis=0)
    mse = 255.0**2 * 10 ** (-scores[:, 0] / 10)  # each image's MSE, back from its PSNR
    means[2] = 10 * np.log10(255.0**2 / mse.mean())
    return [{"variant": name, "step": step, "psnr": float(v), "delta": float(v - means[0])}
            for (name, step), v in zip(_VARIANTS, means)]


def plot_protocol_variants(rows: list[dict], title: str = "") -> Figure:
    """Horizontal bars: how far each variant moves PSNR (bar widths = deltas)."""
    fig = Figure(figsize=(8, 0.42 * len(rows) + 1), layout="constrained")
    ax = fig.add_subplot()
    deltas = [row["delta"] for row in rows]
    pos = np.arange(len(rows))[::-1]
    ax.barh(pos, deltas, color=["#888888" if d == 0 else ("#2a7ab9" if d > 0 else "#d0543b") for d in deltas])
    ax.set_yticks(pos, [f"{row['variant']}  [{row['psnr']:.2f} dB]" for row in rows], fontsize=8)
    ax.axvline(0, color="k", lw=0.7)
    ax.set_xlabel("PSNR change from the protocol (dB)")
    ax.set_title(title or "bicubic baseline: what each protocol choice does to PSNR", fontsize=10)
    return fig


# --- all figures as PNG files ------------------------------------------------------------


def save_figure(fig: Figure, path, dpi: int = 110) -> Path:
    """savefig to a temporary file in the same folder, then os.replace: a
    crash never leaves a half-written PNG at ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


FIGURES = ("shuffle_crd.png", "shuffle_dcr.png", "shuffle_dcr_t.png", "shuffle_matrix.png",
           "channel_permutation.png", "zero_insertion.png", "activation_patterns.png",
           "activation_patterns_x3_k9.png", "subpixel_kernels.png", "three_forms.png",
           "training_curves.png", "fig3_first_layer_filters.png", "fig4_last_layer_filters.png",
           "fig5_sr_crops.png", "protocol_variants.png")


def _figure_data(data_dir, quick: bool):
    """(training images, {test name: image}, images to score) for write_figures."""
    root = find_data_dir(data_dir)
    if root is not None and (Path(root) / "T91").is_dir() and (Path(root) / "Set5").is_dir():
        train_imgs, scored = load_set("T91", root), load_set("Set5", root)
        name = "butterfly_GT" if "butterfly_GT" in scored else sorted(scored)[0]
        test = {name: scored[name]}
    else:  # the offline default, as in `make demo`: hold out "motorcycle"
        train_imgs = sample_images()
        test = {"motorcycle": train_imgs.pop("motorcycle")}
        scored = {**test, "camera": train_imgs["camera"]}
    if quick:  # a few small images: seconds, not minutes
        train_imgs = {k: v[:120, :120] for k, v in sorted(train_imgs.items())[:3]}
        test = {k: v[:150, :150] for k, v in test.items()}
        scored = {k: v[:120, :120] for k, v in list(scored.items())[:2]}
    return train_imgs, test, scored


def write_figures(out_dir, data_dir=None, quick: bool = False, *, train_seconds: float = 120.0,
                  progress: bool = False) -> list[Path]:
    """Write every figure of this module as a PNG into ``out_dir``; return the paths.

    File names: :data:`FIGURES`, each written atomically (:func:`save_figure`).
    Data: T91 and Set5 under ``data_dir`` (or :func:`find_data_dir`'s
    choice), else the scikit-image photos. The training curves come from a
    run trained here for ``train_seconds`` (``progress``: show its bar). Figs.
    3 and 4 show the shipped x3 model when it is installed
    (``espcn_ref.model.pretrained_path(3)``), else that run's network; Fig. 5
    shows both. quick: 2 epochs on three 120x120 crops and small test images,
    a few seconds in all (for the tests).
    """
    from .model import load_model, pretrained, pretrained_path
    from .train import TrainConfig, train

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_imgs, test, scored = _figure_data(data_dir, quick)
    r = 3
    rng = np.random.default_rng(0)
    w4 = rng.standard_normal((1, 1, 4, 4))  # the tutorial's k_s = 4, s = 2, p = 1 example
    figures = {
        "shuffle_crd.png": lambda: plot_shuffle(2, 2, "crd"),
        "shuffle_dcr.png": lambda: plot_shuffle(2, 2, "dcr"),
        "shuffle_dcr_t.png": lambda: plot_shuffle(2, 2, "dcr_t"),
        "shuffle_matrix.png": lambda: plot_shuffle_matrix(1, 2, 2, 2),
        "channel_permutation.png": lambda: plot_channel_permutation(2, 2),
        "zero_insertion.png": lambda: plot_zero_insertion(4, 4, 2, 4, 1),
        "activation_patterns.png": lambda: plot_activation_patterns(4, 2, 1),
        "activation_patterns_x3_k9.png": lambda: plot_activation_patterns(9, 3, 3),
        "subpixel_kernels.png": lambda: plot_subpixel_kernels(w4, 2, 1),
        "three_forms.png": lambda: plot_three_forms(rng.random((1, 1, 12, 12)), w4, 2, 1),
    }
    paths = [save_figure(make(), out / name) for name, make in figures.items()]

    with tempfile.TemporaryDirectory() as run:
        cfg = TrainConfig(scale=r, epochs=2 if quick else 100_000, patience=100_000,
                          stride=None if quick else 13, val_fraction=0.34 if quick else 0.1)
        state = train(cfg, train_imgs, run, progress=progress, max_seconds=None if quick else train_seconds)
        if not (Path(run) / "model.npz").is_file():
            raise RuntimeError(f"train_seconds = {train_seconds} did not leave time for one epoch")
        val = {name: train_imgs[name] for name in state["val"]}
        base = evaluate_images("bicubic", val, r)["psnr"] if val else None
        paths.append(save_figure(plot_training_curves(Path(run) / "log.csv", base), out / "training_curves.png"))
        ours = load_model(Path(run) / "model.npz")
    methods = {"bicubic": "bicubic", "ESPCN (trained here)": ours}
    model = ours
    if pretrained_path(r).is_file():
        model = methods["ESPCN (pretrained)"] = pretrained(r)
    paths.append(save_figure(plot_first_layer_filters(model), out / "fig3_first_layer_filters.png"))
    paths.append(save_figure(plot_last_layer_filters(model), out / "fig4_last_layer_filters.png"))
    img = next(iter(test.values()))
    paths.append(save_figure(plot_sr_crops(sr_panels(img, methods, r)), out / "fig5_sr_crops.png"))
    rows = protocol_variants(scored, r)
    paths.append(save_figure(plot_protocol_variants(rows, f"bicubic x{r} on {', '.join(scored)}"),
                             out / "protocol_variants.png"))
    return paths
