"""Pixel-wise mean squared error, eq. (5) of the paper.

    l(W, b) = 1/(r^2 H W) * sum_{x=1}^{rH} sum_{y=1}^{rW} (I_HR[x, y] - f(I_LR)[x, y])^2

That is how some copies of the paper print it; others run x to rW and y
to rH. The loss is the same number either way (a sum over every pixel), but
the copies disagree on whether x is the row or the column, so eq. (5)
cannot settle how to read x in eq. (4) (see :mod:`.shuffle`).

eq. (5) is per image. For a batch of N images we average the per-image
losses; with C channels each image's sum is also divided by C. Because all
images in a batch have the same size, this reduction equals the mean over
every element, ``mean((y - t)**2)``: PyTorch's ``F.mse_loss`` with its
default ``reduction="mean"``.

    dL/dy = 2 (y - t) / (N C r^2 H W)

Fast path: a Numba kernel with one float64 accumulator per image (prange over
images), summed serially afterwards: no race, and float32 input still sums
in float64. Reference twin: the NumPy one-liner.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._checks import as_float_array


@njit(cache=True, parallel=True, nogil=True)
def _per_image_sse(y, t, sse):  # y, t: (N, M) ; sse: (N,) float64
    N, M = y.shape
    for n in prange(N):  # one private accumulator per image
        acc = 0.0
        for m in range(M):
            d = np.float64(y[n, m]) - np.float64(t[n, m])
            acc += d * d
        sse[n] = acc


def _check_pair(y, t):
    y = as_float_array(y, "y", ndim=4, shape_doc="(N, C, rH, rW)")
    t = as_float_array(t, "t", ndim=4, shape_doc="(N, C, rH, rW)")
    if y.shape != t.shape:
        raise ValueError(f"y (prediction) and t (target) must have the same shape, got {y.shape} and {t.shape}")
    if y.size == 0:
        raise ValueError(f"mse_loss of an empty batch is undefined, got shape {y.shape}")
    return y, t


def mse_loss(y, t) -> float:
    """Eq. (5), averaged over the batch. y, t: (N, C, rH, rW). Returns a float."""
    y, t = _check_pair(y, t)
    N = y.shape[0]
    sse = np.empty(N, dtype=np.float64)
    _per_image_sse(y.reshape(N, -1), t.reshape(N, -1), sse)
    per_image = sse / (y.size // N)  # eq. (5) for each image
    return float(per_image.mean())  # averaged over the batch


def mse_loss_backward(y, t) -> np.ndarray:
    """dL/dy = 2 (y - t) / y.size. y, t: (N, C, rH, rW). Returns (N, C, rH, rW)."""
    y, t = _check_pair(y, t)
    dtype = np.result_type(y.dtype, t.dtype)
    return ((y - t) * (2.0 / y.size)).astype(dtype, copy=False)


def mse_loss_reference(y, t) -> float:
    """Eq. (5) per image with NumPy, then the batch mean."""
    y, t = _check_pair(y, t)
    d = y.astype(np.float64) - t.astype(np.float64)
    return float(np.mean(np.mean(d.reshape(y.shape[0], -1) ** 2, axis=1)))
