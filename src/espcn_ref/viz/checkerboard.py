"""Checkerboard artefacts of learnt upsampling layers, and the numbers that show them.

An upsampling layer by r writes its output on r^2 interleaved grids, the
phases (row mod r, column mod r). When the phases respond differently to
the same input, the output carries a periodic r x r pattern: the
checkerboard. Two sources, both seen at initialisation on a flat input:

* a sub-pixel layer, eq. (3) of Shi et al. (CVPR 2016), whose r^2 filters
  are drawn independently (ESPCN's default initialisation): on a flat LR
  input each phase k is the constant ``sum(W_L[k] * f) + b_L[k]``, a
  different one per phase. ICNR (Aitken et al. 2017, ``ESPCN(init="icnr")``)
  copies one phase's filter and bias to all r^2, so the phases are equal and
  the output is a nearest-neighbour upscaling of one LR map.
* a deconvolution (stride r, k_s x k_s kernel) with mod(k_s, r) != 0: the
  stamps overlap unevenly, so output phase (i, j) sums
  ``activation_patterns(k_s, r, p)[i, j].sum()`` taps (Sec. 2.2), and even a
  constant kernel on a flat input gives a pattern (Odena et al. 2016).

The numbers, for an output y of shape (rH, rW), phases counted from y[0, 0]::

    phase_means(y, r, border)[i, j] = mean of y[a, b] over a = i, b = j (mod r),
                                      a and b at least ``border`` from every edge
    phase_spread(y, r, border)      = max - min of phase_means   (0: no pattern)
    block_residual(y, r)[a, b]      = y[a, b] - mean of y over its r x r block
                                      (the block of LR pixel (a // r, b // r))

The border is left out because zero padding changes the outermost pixels
of every layer. ``block_residual`` removes the image's slow variation and
keeps what varies inside one LR pixel's block: exactly 0 for a
nearest-neighbour upscaling, the pattern itself for a periodic one.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .._checks import check_int
from ._draw import fmt, grid, symmetric


def _plane(y, name: str = "y") -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or min(y.shape) < 1:
        raise ValueError(f"{name} must be one non-empty (rH, rW) image plane, got shape {y.shape}")
    return y


def phase_means(y, r: int, border: int = 0) -> np.ndarray:
    """The mean of each of the r^2 phases of y, away from the border.

    y: (rH, rW) one output plane. border: pixels left out at every edge
    (any number: the phases stay counted from y[0, 0]). Returns (r, r)
    float64, ``[i, j]`` the mean over rows = i and columns = j (mod r).
    """
    y, r, b = _plane(y), check_int(r, "r", 1), check_int(border, "border", 0)
    h, w = y.shape
    if h - 2 * b < r or w - 2 * b < r:
        raise ValueError(f"a border of {b} leaves fewer than r = {r} rows or columns of the {h}x{w} image")
    rows, cols = np.arange(b, h - b), np.arange(b, w - b)
    inner = y[b:h - b, b:w - b]  # (h - 2b, w - 2b)
    return np.array([[inner[np.ix_(rows % r == i, cols % r == j)].mean() for j in range(r)] for i in range(r)])


def phase_spread(y, r: int, border: int = 0) -> float:
    """max - min of :func:`phase_means`: 0 when every phase has the same mean."""
    m = phase_means(y, r, border)
    return float(m.max() - m.min())


def block_residual(y, r: int) -> np.ndarray:
    """y minus the mean of its r x r block: the part of y that varies inside one LR pixel's block.

    y: (rH, rW); rows and columns past the last whole block are dropped.
    Returns (r (rH // r), r (rW // r)) float64.
    """
    y, r = _plane(y), check_int(r, "r", 1)
    H, W = y.shape[0] // r, y.shape[1] // r
    if H < 1 or W < 1:
        raise ValueError(f"y {y.shape} holds no whole {r}x{r} block")
    blocks = y[:H * r, :W * r].reshape(H, r, W, r)  # (H, r, W, r): block (h, w), offset (i, j)
    return (blocks - blocks.mean(axis=(1, 3), keepdims=True)).reshape(H * r, W * r)


MIN_SPAN = 1e-3  # a quarter of one grey level of 255: smaller differences (float rounding) are not drawn


def _grey_norm(a) -> Normalize:
    """A colour scale over a's range, at least MIN_SPAN wide: a constant image is drawn mid-grey,
    and float32 rounding noise on it is not stretched into a pattern."""
    lo, hi = float(np.min(a)), float(np.max(a))
    mid, half = (lo + hi) / 2, max(hi - lo, MIN_SPAN) / 2
    return Normalize(mid - half, mid + half)


def plot_checkerboard(outputs: dict, r: int, border: int = 0, crop: int = 24, title: str | None = None) -> Figure:
    """The pattern of each upsampling layer, one row per layer.

    outputs: {label: (y_flat, y_image)}, two (rH, rW) planes of the layer's
    output: on a flat (constant) input and on an image. Columns:

    1. y_flat, a ``crop`` x ``crop`` window ``border`` pixels in from the corner
       (image data == ``y_flat[border:border + crop, border:border + crop]``);
    2. :func:`phase_means` of y_flat (with ``border``), as an r x r grid with
       its numbers; the title gives :func:`phase_spread`;
    3. y_image, whole, with a frame round the window of column 4;
    4. :func:`block_residual` of y_image in a ``crop`` x ``crop`` window at
       its centre (a block corner), on a colour scale centred on 0.

    Values are drawn as they are (no clipping): an untrained layer's output
    need not lie in [0, 1]. Grey scales span each panel's range, or at least
    MIN_SPAN (so rounding noise on a flat output stays flat). title: the figure's title (default: names r).
    """
    r, border, crop = check_int(r, "r", 1), check_int(border, "border", 0), check_int(crop, "crop", 1)
    fig = Figure(figsize=(11, 2.7 * len(outputs) + 0.4), layout="constrained")
    axes = fig.subplots(len(outputs), 4, squeeze=False)
    for row, (label, (y_flat, y_image)) in zip(axes, outputs.items()):
        y_flat, y_image = _plane(y_flat, "y_flat"), _plane(y_image, "y_image")
        window = y_flat[border:border + crop, border:border + crop]
        row[0].imshow(window, cmap="gray", norm=_grey_norm(window), interpolation="nearest")
        row[0].set_title(f"{label}\non a flat input ({window.shape[0]}×{window.shape[1]} px)", fontsize=9)
        means = phase_means(y_flat, r, border)
        grid(row[1], means, np.vectorize(fmt)(means) if r <= 4 else None, cmap="gray", norm=_grey_norm(means))
        row[1].set_title(f"mean of each phase (flat input)\nspread max − min = {means.max() - means.min():.3g}",
                         fontsize=9)
        residual = block_residual(y_image, r)
        top = max(0, (residual.shape[0] // 2 - crop // 2) // r * r)  # a block corner near the centre
        left = max(0, (residual.shape[1] // 2 - crop // 2) // r * r)
        row[2].imshow(y_image, cmap="gray", norm=_grey_norm(y_image), interpolation="nearest")
        row[2].add_patch(Rectangle((left - 0.5, top - 0.5), crop, crop, fill=False, ec="crimson", lw=1.2))
        row[2].set_title("on an image", fontsize=9)
        zoom = residual[top:top + crop, left:left + crop]
        row[3].imshow(zoom, cmap="RdBu_r", norm=symmetric(zoom), interpolation="nearest")
        row[3].set_title(f"output − its {r}×{r} block mean (red frame)\nmax |·| = {np.abs(zoom).max():.3g}",
                         fontsize=9)
        for ax in row[[0, 2, 3]]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title or f"the r × r pattern of each upsampling layer, r = {r}", fontsize=10)
    return fig
