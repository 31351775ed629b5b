"""Activations phi of eq. (1)-(2): tanh (the paper's choice) and relu (Table 1).

    tanh:  y = tanh(x)             dL/dx = dL/dy * (1 - y^2)
    relu:  y = max(x, 0)           dL/dx = dL/dy * [x > 0]

The tanh backward takes the *output* y (that is what the forward keeps);
the relu backward takes the *input* x. NaN propagates: relu(NaN) is NaN,
never a silent 0.

Fast path: flat Numba loops, parallel over elements, writing into a fresh
array (or into ``out``). Reference twins: the NumPy one-liners.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._checks import as_float_array


@njit(cache=True, parallel=True)
def _tanh_kernel(x, out):  # x, out: flat (M,)
    for m in prange(x.size):
        out[m] = math.tanh(x[m])


@njit(cache=True, parallel=True)
def _tanh_backward_kernel(dy, y, dx):  # flat (M,)
    for m in prange(dy.size):
        dx[m] = dy[m] * (1.0 - y[m] * y[m])


@njit(cache=True, parallel=True)
def _relu_kernel(x, out):  # flat (M,)
    for m in prange(x.size):
        v = x[m]
        out[m] = 0.0 if v < 0.0 else v  # NaN < 0 is False: NaN passes through


@njit(cache=True, parallel=True)
def _relu_backward_kernel(dy, x, dx):  # flat (M,)
    for m in prange(dy.size):
        dx[m] = dy[m] if x[m] > 0.0 else 0.0


def _unary(x, kernel):
    x = as_float_array(x, "x")
    out = np.empty_like(x)
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


def tanh(x) -> np.ndarray:
    """phi = tanh, the paper's activation (Sec. 3.2). x: any shape, float."""
    return _unary(x, _tanh_kernel)


def tanh_backward(dy, y) -> np.ndarray:
    """dL/dx = dy * (1 - y^2). dy, y: same shape; y = tanh(x), the forward output."""
    return _binary(dy, y, "y", _tanh_backward_kernel)


def relu(x) -> np.ndarray:
    """phi = max(x, 0), Table 1's alternative. x: any shape, float."""
    return _unary(x, _relu_kernel)


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
