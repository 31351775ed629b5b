"""Activations phi of eq. (1)-(2): tanh (the paper's choice) and relu (Table 1).

    tanh:  y = tanh(x)             dL/dx = dL/dy * (1 - y^2)
    relu:  y = max(x, 0)           dL/dx = dL/dy * [x > 0]

The tanh backward takes the *output* y (that is what the forward keeps);
the relu backward takes the *input* x. NaN propagates: relu(NaN) is NaN,
never a silent 0.

Fast path: flat Numba loops, parallel over elements. For float32, tanh is a
rational approximation (odd degree-13 numerator over even degree-6
denominator, on x clamped to |x| < 7.9988; the coefficients are those of
Eigen's fast float tanh): pure arithmetic, so LLVM vectorises it, and its
error is below 4e-7 absolute (a few float32 ulps; tested). libm's tanhf
is ~60x slower here. float64 uses ``math.tanh`` exactly.
Reference twins: the NumPy one-liners.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._checks import as_float_array


@njit(cache=True, parallel=True, nogil=True)
def _tanh_kernel(x, out):  # x, out: flat (M,) float64
    for m in prange(x.size):
        out[m] = math.tanh(x[m])


_CLAMP = np.float32(7.99881172180175781)  # tanh(x) rounds to within 2.4e-7 of +-1 beyond
_P = tuple(np.float32(c) for c in (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                                   5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                                   4.89352455891786e-03))  # numerator in x^2, highest power first
_Q = tuple(np.float32(c) for c in (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
                                   4.89352518554385e-03))  # denominator in x^2


@njit(cache=True, parallel=True, nogil=True)
def _tanh_kernel_f32(x, out):  # x, out: flat (M,) float32
    for m in prange(x.size):
        v = x[m]
        if v != v:  # NaN passes through
            out[m] = v
            continue
        c = min(max(v, -_CLAMP), _CLAMP)
        c2 = c * c
        p = _P[0]
        for k in range(1, 7):
            p = p * c2 + _P[k]
        q = _Q[0]
        for k in range(1, 4):
            q = q * c2 + _Q[k]
        out[m] = v if abs(v) < np.float32(4e-4) else c * p / q  # tanh(x) = x to float32 near 0


@njit(cache=True, parallel=True, nogil=True)
def _tanh_backward_kernel(dy, y, dx):  # flat (M,)
    for m in prange(dy.size):
        dx[m] = dy[m] * (1.0 - y[m] * y[m])


@njit(cache=True, parallel=True, nogil=True)
def _relu_kernel(x, out):  # flat (M,)
    for m in prange(x.size):
        v = x[m]
        out[m] = 0.0 if v < 0.0 else v  # NaN < 0 is False: NaN passes through


@njit(cache=True, parallel=True, nogil=True)
def _relu_backward_kernel(dy, x, dx):  # flat (M,)
    for m in prange(dy.size):
        dx[m] = dy[m] if x[m] > 0.0 else 0.0


def _unary(x, kernel, out=None):
    x = as_float_array(x, "x")
    if out is None:
        out = np.empty_like(x)
    elif not (isinstance(out, np.ndarray) and out.shape == x.shape and out.dtype == x.dtype
              and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"out must be a writeable C-contiguous {x.dtype} array of shape {x.shape}")
    elif np.may_share_memory(out, x) and out.ctypes.data != x.ctypes.data:  # both C-contiguous: bounds suffice
        # the parallel loop would read elements it has already overwritten
        raise ValueError("out overlaps x without being x itself: pass x (in place) or a separate array")
    kernel(x.reshape(-1), out.reshape(-1))
    return out


def _binary(dy, z, z_name, kernel):
    dy = as_float_array(dy, "dy")
    z = as_float_array(z, z_name)
    if dy.shape != z.shape:
        raise ValueError(f"dy and {z_name} must have the same shape, got {dy.shape} and {z.shape}")
    dtype = np.result_type(dy.dtype, z.dtype)
    dy, z = dy.astype(dtype, copy=False), z.astype(dtype, copy=False)
    dx = np.empty_like(dy)
    kernel(dy.reshape(-1), z.reshape(-1), dx.reshape(-1))
    return dx


def tanh(x, out=None) -> np.ndarray:
    """phi = tanh, the paper's activation (Sec. 3.2). x: any shape, float.

    out: optional array of x's shape and dtype to write into (may be x itself).
    """
    x = as_float_array(x, "x")
    return _unary(x, _tanh_kernel_f32 if x.dtype == np.float32 else _tanh_kernel, out)


def tanh_backward(dy, y) -> np.ndarray:
    """dL/dx = dy * (1 - y^2). dy, y: same shape; y = tanh(x), the forward output."""
    return _binary(dy, y, "y", _tanh_backward_kernel)


def relu(x, out=None) -> np.ndarray:
    """phi = max(x, 0), Table 1's alternative. x: any shape, float; out as for tanh."""
    return _unary(x, _relu_kernel, out)


def relu_backward(dy, x) -> np.ndarray:
    """dL/dx = dy * [x > 0]. dy, x: same shape; x is the forward *input*."""
    return _binary(dy, x, "x", _relu_backward_kernel)


# --- Reference twins ----------------------------------------------------------


def tanh_reference(x):
    return np.tanh(as_float_array(x, "x"))


def tanh_backward_reference(dy, y):
    return dy * (1 - y * y)


def relu_reference(x):
    x = as_float_array(x, "x")
    return np.where(x < 0, np.zeros_like(x), x)


def relu_backward_reference(dy, x):
    return np.where(x > 0, dy, np.zeros_like(dy))


ACTIVATIONS = {"tanh": (tanh, tanh_backward), "relu": (relu, relu_backward)}
