"""Layer 1 as one direct kernel: eq. (1), f^1 = phi(W_1 * x + b_1), straight
from the LR image onto the grid, with the bias and phi fused.

Layer 1 has few inputs (C channels, f_1 x f_1 taps: 25 for the paper's
Y network) and n_1 = 64 outputs. As a GEMM it first needs its taps gathered
into a thin (length, C f_1^2) matrix (:mod:`.taps`), then writes its output
from 25-wide rows, then phi runs as a separate pass: three trips through
memory for 7% of the network's multiply-adds. Here every output pixel is
computed once, where it is written::

    z[o]              = b[o] + sum_{c, a, b} xp[n, c, i + a, j + b] * w[o, c, a, b]
    g[q(n, i, j), o]  = phi(z[o])       q = front + n*image + i*row + j

xp is x zero-padded by f_1 // 2 (the 'same' padding of eq. (1)). One grid
line at a time (a thread's task), z is built channels-first, (n_1, W): per
output channel, the bias, then one long axpy per tap in (c, a, b) order
over the line's pixels (LLVM vectorises it; a loop over 64 channels per
tap and pixel is too short to pay for its set-up), then phi over the row,
then the line is transposed onto the grid. Each pixel's numbers depend on
nothing but its taps, so tiles of a frame give the same bits as the whole
frame. The grid's padding rows are written as zeros, so the result is a
valid grid for layer 2.

Twin: :func:`conv1_act_grid` is pinned to :func:`conv1_act_grid_reference`
(the taps gathered, one matmul, NumPy's phi) and to ``conv2d_reference``.
The training backward still takes layer 1's gathered taps (:mod:`.taps`)
for dW_1; this kernel gives its forward the same numbers as inference.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..ops.activations import act_code, act_in_place
from .grid import Grid, act_grid_reference, check_images, empty_grid
from .taps import im2col_grid_reference


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _conv1_act_grid(xp, wt, b, code, front, image, row, out):
    """out[front + n*image + i*row + j, o] = phi(b[o] + sum_{c, a, b'} xp[n, c, i + a, j + b'] wt[o, c, a, b'])
    (see the module doc); 0 on the padding rows.

    xp: (N, C, H + k - 1, W + k - 1) padded images; wt: (n_1, C, k, k), w itself;
    b: (n_1,); out: (length, n_1) grid, its margins already zero.
    """
    N, C, Hp, Wp = xp.shape
    n1, k = wt.shape[0], wt.shape[2]
    H, W = Hp - k + 1, Wp - k + 1
    lines = image // row  # H + pad grid lines per image
    for line in prange(N * lines):  # each grid line is written by one thread
        n, i = line // lines, line % lines
        base = front + n * image + i * row
        if i >= H:  # a padding line
            out[base : base + row, :] = 0.0
            continue
        out[base + W : base + row, :] = 0.0  # the padding pixels after the line
        z = np.empty((n1, W), out.dtype)  # the line channels-first: each tap is a long axpy
        for o in range(n1):
            zo = z[o]
            zo[:] = b[o]
            for c in range(C):
                for a in range(k):
                    x_row = xp[n, c, i + a]
                    for bb in range(k):
                        w_tap = wt[o, c, a, bb]
                        for j in range(W):
                            zo[j] += w_tap * x_row[j + bb]
            act_in_place(zo, code)
        for j in range(W):  # to channels-last
            for o in range(n1):
                out[base + j, o] = z[o, j]


def _check_layer1(x, w, b, grid: Grid):
    check_images(x, grid)
    n1, C, k, k2 = w.shape if w.ndim == 4 else (0, 0, 0, -1)
    if k != k2 or k % 2 == 0 or C != x.shape[1]:
        raise ValueError(f"w must be (n_1, {x.shape[1]}, k, k) with k odd, got {w.shape}")
    if np.shape(b) != (n1,):
        raise ValueError(f"b must be ({n1},), got {np.shape(b)}")
    if x.dtype != w.dtype or x.dtype not in (np.float32, np.float64):
        raise TypeError(f"x ({x.dtype}) and w ({w.dtype}) must share a dtype, float32 or float64")
    return k


def conv1_act_grid(x: np.ndarray, w: np.ndarray, b, activation: str, grid: Grid) -> np.ndarray:
    """phi(W_1 * x + b_1), eq. (1), as a grid: 'same' cross-correlation, stride 1.

    x: (N, C, H, W) with (N, H, W) = (grid.n, grid.h, grid.w); w: (n_1, C, k, k),
    k odd, x's dtype; b: (n_1,); activation: "tanh" or "relu". Returns
    (length, n_1), zero off the pixels.
    """
    k = _check_layer1(x, w, b, grid)
    code = act_code(activation, x.dtype)
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))  # (N, C, H + 2p, W + 2p)
    out = empty_grid(grid, w.shape[0], x.dtype)
    _conv1_act_grid(xp, np.ascontiguousarray(w), np.asarray(b, dtype=x.dtype), code, grid.front, grid.image,
                    grid.row, out)
    return out


def conv1_act_grid_reference(x: np.ndarray, w: np.ndarray, b, activation: str, grid: Grid) -> np.ndarray:
    """:func:`conv1_act_grid` in NumPy: the taps gathered, one matmul with the bias, then phi."""
    k = _check_layer1(x, w, b, grid)
    cols = im2col_grid_reference(x, k, grid)  # (length, C k k)
    z = cols @ w.reshape(w.shape[0], -1).T + np.asarray(b, dtype=x.dtype)  # (length, n_1)
    return act_grid_reference(z, activation, grid)
