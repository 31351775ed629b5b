"""The periodic shuffle of eq. (4), in its orders: cells, the permutation matrix, the order permutation.

A figure's title names eq. (4) only when its order is one of eq. (4)'s two
readings (:func:`eq4_reading`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..ops.shuffle import pixel_shuffle, shuffle_matrix, shuffle_permutation
from ._draw import category_cmap, grid


def eq4_reading(C: int, order: str) -> str:
    """Which reading of eq. (4) a shuffle ``order`` is, for C output channels.

    The paper does not say whether eq. (4)'s x is the row or the column
    (:mod:`espcn_ref.ops.shuffle`): ``dcr`` is the column reading, ``dcr_t``
    the row reading, and PyTorch's ``crd`` is a reading only for C = 1,
    where it equals ``dcr``. Returns the phrase the figures put in a title.
    """
    if order == "dcr" or (order == "crd" and C == 1):
        return "eq. (4) read with x = column"
    if order == "dcr_t":
        return "eq. (4) read with x = row"
    return "PyTorch's order, not eq. (4) for C > 1"


def plot_shuffle(C: int = 2, r: int = 2, order: str = "crd", H: int = 2, W: int = 2) -> Figure:
    """The periodic shuffle on a tiny tensor: which input cell lands where.

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
    cmap, norm = category_cmap(n), Normalize(-0.5, n - 0.5)
    cell = 0.42
    fig = Figure(figsize=(cell * (r * r * W + r * W) + 1.5, cell * C * r * H + 0.9), layout="constrained")
    gs = fig.add_gridspec(C, r * r + 1, width_ratios=[W] * (r * r) + [r * W + 1])
    for k in range(n):
        ax = fig.add_subplot(gs[k // (r * r), k % (r * r)])
        labels = [[f"{k}{letter[h * W + w]}" for w in range(W)] for h in range(H)]
        grid(ax, np.full((H, W), float(k)), labels, cmap=cmap, norm=norm)
        ax.set_title(f"k={k}", fontsize=8)
    for c in range(C):
        ax = fig.add_subplot(gs[c, -1])
        labels = [[f"{int(src[c, a, b])}{letter[pos[c, a, b]]}" for b in range(r * W)] for a in range(r * H)]
        grid(ax, src[c], labels, cmap=cmap, norm=norm)
        ax.set_title(f"output channel c={c}", fontsize=9)
    fig.suptitle(f"PS, order '{order}': (1, {n}, {H}, {W}) -> (1, {C}, {r * H}, {r * W})\n{eq4_reading(C, order)}",
                 fontsize=10)
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
