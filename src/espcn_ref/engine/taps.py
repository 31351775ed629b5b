"""Layer 1 on the grid: one input channel, so its f_1 x f_1 taps are
gathered into a thin (length, C f_1^2) matrix and the layer becomes a 1x1
convolution, one GEMM (:func:`.conv.conv_grid`). Nine-or-more GEMMs with an
inner dimension of 1 would be slow.

Twin: :func:`im2col_grid` is pinned to :func:`im2col_grid_reference`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .grid import Grid, check_images, empty_grid



@njit(cache=True, parallel=True, nogil=True)
def _im2col_grid(x, k, front, image, row, out):
    """out[front + n*image + i*row + j, (c*k + a)*k + b] = x[n, c, i + a - k//2, j + b - k//2]
    (zero outside x). out: (length, C*k*k), fully written on the images' rows."""
    N, C, H, W = x.shape
    p = k // 2
    for ni in prange(N * (image // row)):
        n = ni // (image // row)
        i = ni % (image // row)
        base = front + n * image + i * row
        for j in range(row):
            for c in range(C):
                for a in range(k):
                    for b in range(k):
                        h, v = i + a - p, j + b - p
                        inside = i < H and j < W and 0 <= h < H and 0 <= v < W
                        out[base + j, (c * k + a) * k + b] = x[n, c, h, v] if inside else 0.0


def im2col_grid(x: np.ndarray, k: int, grid: Grid) -> np.ndarray:
    """The k*k taps of every pixel of x as rows on ``grid``: (length, C*k*k).

    x: (N, C, H, W) with (N, H, W) = (grid.n, grid.h, grid.w); zero padding k//2.
    Rows on the grid's padding and margins are zero.
    """
    check_images(x, grid)
    out = empty_grid(grid, x.shape[1] * k * k, x.dtype)
    _im2col_grid(np.ascontiguousarray(x), k, grid.front, grid.image, grid.row, out)
    return out


def im2col_grid_reference(x: np.ndarray, k: int, grid: Grid) -> np.ndarray:
    """:func:`im2col_grid` as NumPy slicing: pad x, then copy one tap at a time."""
    N, C, H, W = x.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((grid.length, C * k * k), dtype=x.dtype)
    body = grid.body(out)  # (N, H + pad, row, C*k*k)
    for c in range(C):
        for a in range(k):
            for b in range(k):
                body[:, :H, :W, (c * k + a) * k + b] = xp[:, c, a : a + H, b : b + W]
    return out
