"""Central-difference gradient checking, in float64.

For a scalar loss L(p) and an analytic gradient g, each entry is compared
with the central difference

    (L(p + eps e_i) - L(p - eps e_i)) / (2 eps)

whose error is O(eps^2). Used by the tests and by the backprop notebook.
"""

from __future__ import annotations

import numpy as np


def numerical_gradient(loss, p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of ``loss()`` with respect to the array ``p``.

    loss: a function of no arguments that reads ``p`` (perturbed in place,
        restored afterwards) and returns a float.
    p: float64 array of any shape. Returns an array of p's shape.
    """
    if p.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 parameters, got {p.dtype}")
    if not p.flags.c_contiguous:  # reshape(-1) would copy: the loss would never see a perturbation
        raise ValueError("p must be C-contiguous (perturbed in place through a flat view)")
    grad = np.empty_like(p)
    flat, gflat = p.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = loss()
        flat[i] = keep - eps
        down = loss()
        flat[i] = keep
        gflat[i] = (up - down) / (2 * eps)
    return grad


def gradient_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """The error measure of :func:`check_gradient`: max|a - n| / max(1, max|n|).

    A relative error when the largest numerical gradient is above 1; below 1
    it is the absolute error max|a - n| (so tiny gradients are not judged
    relative to their own rounding noise).
    """
    return float(np.max(np.abs(analytic - numeric)) / max(1.0, float(np.max(np.abs(numeric)))))


def check_gradient(loss, p: np.ndarray, analytic: np.ndarray, tol: float = 1e-6, eps: float = 1e-6) -> float:
    """Raise AssertionError if ``analytic`` is not dL/dp; return the error."""
    if analytic.shape != p.shape:
        raise AssertionError(f"gradient has shape {analytic.shape}, parameter has {p.shape}")
    err = gradient_error(analytic, numerical_gradient(loss, p, eps))
    if not err < tol:  # also fails on NaN
        raise AssertionError(f"gradient check failed: error {err:.3e} >= {tol:.1e} "
                             "(max|a - n| / max(1, max|n|), see gradient_error)")
    return err
