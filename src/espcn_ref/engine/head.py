"""The network's head on the grid: the periodic shuffle PS, eq. (4), read
straight off the last layer's grid, and in training PS, the loss of eq. (5)
and the loss's gradient moved back through PS^-1 onto the grid in one pass,
with no (N, C, rH, rW) prediction formed.

Twins: :func:`shuffle_from_grid` is pinned to ``pixel_shuffle(from_grid(z))``
and :func:`shuffle_mse_grid` to :func:`shuffle_mse_grid_reference`, the
composition of the public operations it replaces.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._checks import as_float_array, check_int
from ..ops.loss import mse_loss, mse_loss_backward
from ..ops.shuffle import order_code, pixel_shuffle, pixel_unshuffle, shuffle_channel
from .grid import Grid, check_grid_array, from_grid, to_grid



def _shuffled_channels(z, r, grid, name="z") -> int:
    """C for a grid of C r^2 channels (checks z and r)."""
    check_grid_array(z, grid, name)
    if z.shape[1] % (r * r):
        raise ValueError(f"{name} must have C r^2 channels for r = {r}, got {z.shape[1]}")
    return z.shape[1] // (r * r)


@njit(cache=True, parallel=True, nogil=True)
def _shuffle_from_grid(z, r, code, front, image, row, out):
    """out[n, c, h, w] = z[front + n*image + (h//r)*row + w//r, channel(c, h % r, w % r)]."""
    N, C, Hr, Wr = out.shape
    W = Wr // r
    for line in prange(N * C * Hr):  # each output row is written by one thread
        n, c, h = line // (C * Hr), line // Hr % C, line % Hr
        i, base = h % r, front + n * image + (h // r) * row  # row phase, LR row: once per row
        for b in range(r):  # column phase b reads channel k, writes every r-th pixel: no division per pixel
            k = shuffle_channel(c, i, b, C, r, code)
            for j in range(W):
                out[n, c, h, j * r + b] = z[base + j, k]


def shuffle_from_grid(z: np.ndarray, r: int, order: str, grid: Grid) -> np.ndarray:
    """Periodic shuffle PS, eq. (4), of a grid: ``pixel_shuffle(from_grid(z, grid), r, order)`` in one pass.

    z: (length, C r^2) grid (junk off the pixels is ignored). Returns
    (N, C, rH, rW), C-contiguous.
    """
    r = check_int(r, "r", 1)
    code = order_code(order)
    C = _shuffled_channels(z, r, grid)
    out = np.empty((grid.n, C, grid.h * r, grid.w * r), dtype=z.dtype)
    _shuffle_from_grid(z, r, code, grid.front, grid.image, grid.row, out)
    return out


@njit(cache=True, parallel=True, nogil=True)
def _shuffle_mse_grid(z, t, r, code, front, image, row, scale, dz, sse):
    """For y = PS(z): sse[n] = sum of (y - t)^2 over image n in float64, in t's
    row-major order (as :func:`.loss.mse_loss` sums); dz = PS^-1((y - t) * scale)
    on the grid's pixel rows. dz must be zero elsewhere."""
    N, C, Hr, Wr = t.shape
    for n in prange(N):  # images own disjoint rows of dz and one accumulator
        acc = 0.0
        for c in range(C):
            for h in range(Hr):
                i, base = h % r, front + n * image + (h // r) * row
                for j in range(Wr // r):  # w = j r + b runs in t's row-major order
                    for b in range(r):
                        q, k, w = base + j, shuffle_channel(c, i, b, C, r, code), j * r + b
                        d = np.float64(z[q, k]) - np.float64(t[n, c, h, w])
                        acc += d * d
                        dz[q, k] = (z[q, k] - t[n, c, h, w]) * scale  # in z's dtype, as NumPy would
        sse[n] = acc


def _check_target(t, z, r, grid):
    t = as_float_array(t, "target", ndim=4, shape_doc="(N, C, rH, rW)")
    want = (grid.n, _shuffled_channels(z, r, grid), grid.h * r, grid.w * r)
    if t.shape != want:
        raise ValueError(f"target must have the prediction's shape (N, C, rH, rW) = {want}, got {t.shape}")
    return np.ascontiguousarray(t, dtype=z.dtype)


def shuffle_mse_grid(z: np.ndarray, t, r: int, order: str, grid: Grid):
    """The loss of eq. (5) for y = PS(z) and its gradient on the grid, in one pass.

    z: (length, C r^2) grid, the last layer's output (junk off the pixels is
    ignored); t: (N, C, rH, rW) target, taken in z's dtype. Returns
    (loss, dz): loss as :func:`.loss.mse_loss` (y, t) gives it, the same
    float; dz (length, C r^2) = ``to_grid(pixel_unshuffle(mse_loss_backward(y, t)))``,
    the same numbers, zero off the pixels. y is never formed.
    """
    r = check_int(r, "r", 1)
    code = order_code(order)
    t = _check_target(t, z, r, grid)
    dz = np.zeros_like(z)
    sse = np.empty(grid.n, dtype=np.float64)
    scale = z.dtype.type(2.0 / t.size)  # dL/dy = 2 (y - t) / size, eq. (5)'s gradient
    _shuffle_mse_grid(z, t, r, code, grid.front, grid.image, grid.row, scale, dz, sse)
    return float((sse / (t.size // grid.n)).mean()), dz


def shuffle_mse_grid_reference(z: np.ndarray, t, r: int, order: str, grid: Grid):
    """:func:`shuffle_mse_grid` as the composition it replaces: from_grid,
    pixel_shuffle, mse_loss and its backward, pixel_unshuffle, to_grid."""
    y = pixel_shuffle(from_grid(z, grid), r, order)
    t = _check_target(t, z, r, grid)
    return mse_loss(y, t), to_grid(pixel_unshuffle(mse_loss_backward(y, t), r, order), grid)
