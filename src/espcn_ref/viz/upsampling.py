"""Sec. 2.1-2.2: zero insertion, activation patterns, sub-pixel kernels, the three forms, cost."""

from __future__ import annotations

import math
import time

import numpy as np
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..equivalence import (
    activation_patterns,
    fractional_stride_conv2d,
    subpixel_conv2d,
    transposed_conv2d,
    transposed_to_subpixel,
    upsampling_cost,
    zero_insert,
)
from ..ops.shuffle import channel_index
from ._draw import category_cmap, fmt, grid, symmetric


def plot_zero_insertion(H: int = 4, W: int = 4, r: int = 2, k_s: int = 4, padding: int = 1) -> Figure:
    """Sec. 2.2: the stride-1/r convolution's input, from ``zero_insert``.

    Left: the LR map, pixels numbered 1 .. HW. Right: ``zero_insert(x, r,
    border=k_s - 1 - padding)`` with r - 1 zeros between pixels (grey) and
    the border. Two k_s x k_s windows, for the output pixels (r, r) (dashed)
    and (r, r + 1) (red), two phases: each meets real pixels at other taps.
    Axes: [LR (H, W), zero-inserted (image data == zero_insert(...)[0, 0])].
    """
    x = np.arange(1, H * W + 1, dtype=np.float64).reshape(1, 1, H, W)
    z = zero_insert(x, r, border=k_s - 1 - padding)[0, 0]  # ((H-1)r + 1 + 2(k_s-1-p), ...)
    out = z.shape[0] - k_s + 1
    cmap = ListedColormap(category_cmap(H * W).colors).with_extremes(under="#e8e8e8")  # zeros: grey
    norm = Normalize(0.5, H * W + 0.5)
    fig = Figure(figsize=(3 + 0.32 * z.shape[1], 0.5 + 0.32 * z.shape[0]), layout="constrained")
    gs = fig.add_gridspec(1, 2, width_ratios=[W, z.shape[1]])
    ax = fig.add_subplot(gs[0])
    grid(ax, x[0, 0], x[0, 0].astype(int), cmap=cmap, norm=norm)
    ax.set_title(f"LR x: {H}×{W}", fontsize=9)
    ax = fig.add_subplot(gs[1])
    grid(ax, z, np.where(z > 0, z.astype(int).astype(str), "0"), fontsize=7, cmap=cmap, norm=norm)
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
            grid(ax, mask[i, j].astype(float), labels, cmap=cmap, vmin=0, vmax=1)
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
    colours = category_cmap(r * r).colors
    norm = symmetric(w_t[0, 0])
    fig = Figure(figsize=(3.2 + 0.5 * k_s + 1.3 * r, 0.6 + max(0.5 * k_s, 1.3 * r)), layout="constrained")
    gs = fig.add_gridspec(r, r + 1, width_ratios=[r * 1.2] + [1] * r)
    big = fig.add_subplot(gs[:, 0])
    grid(big, w_t[0, 0], np.vectorize(fmt)(w_t[0, 0]), fontsize=7, cmap="RdBu_r", norm=norm)
    big.set_title(f"transposed-conv kernel {k_s}×{k_s}\n(stride {r}, padding {padding})", fontsize=9)
    for i in range(r):
        for j in range(r):
            k = channel_index(0, i, j, C_out, r, order)
            colour = colours[i * r + j]
            for t in moved[k, 0].ravel().astype(int):
                frame = Rectangle((t % k_s - 0.45, t // k_s - 0.45), 0.9, 0.9, fill=False, ec=colour, lw=2.5)
                big.add_patch(frame)  # tap t = a k_s + b of the big kernel moves to channel k
            ax = fig.add_subplot(gs[i, j + 1])
            grid(ax, w_s[k, 0], np.vectorize(fmt)(w_s[k, 0]), fontsize=7, cmap="RdBu_r", norm=norm)
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
