"""Input validation shared by every public entry point.

Numba does not bounds-check, so every public function runs these checks
*before* any kernel sees an array. Each check raises a ``TypeError`` or a
``ValueError`` whose message names the argument and what was expected.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_array(a, name: str, ndim: int | None = None, shape_doc: str = "") -> np.ndarray:
    """Return ``a`` as a C-contiguous float32/float64 array, or raise.

    Non-contiguous and negatively strided views are copied to C order, so
    kernels can index them flat; they are never rejected. Integer, boolean
    and complex input is rejected rather than silently cast: a float network
    fed integer pixels is almost always a bug (forgot to divide by 255).
    NaN and inf are passed through untouched.
    """
    arr = np.asarray(a)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a float32 or float64 array, got dtype {arr.dtype}"
            + (" (convert pixels with x.astype(np.float32) / 255)" if arr.dtype.kind in "ui" else "")
        )
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions {shape_doc}, got shape {arr.shape}"
        )
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)  # (ascontiguousarray makes 0-d 1-d)


def common_dtype(*arrays: np.ndarray | None) -> np.dtype:
    """float64 if any array is float64, else float32 (NumPy's promotion)."""
    return np.result_type(*[a.dtype for a in arrays if a is not None])


def promote(*arrays: np.ndarray | None) -> tuple:
    """The arrays cast to their :func:`common_dtype` (None stays None).

    An op's inputs, bias and upstream gradient all take part, so one float64
    argument makes the whole computation float64; nothing is cast down.
    """
    dtype = common_dtype(*arrays)
    return tuple(None if a is None else a.astype(dtype, copy=False) for a in arrays)


def check_int(value, name: str, minimum: int) -> int:
    """Return ``value`` as an int ``>= minimum``; reject bools, floats, strings."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_real(value, name: str, low: float = -math.inf, high: float = math.inf, low_open: bool = False,
               strict_type: bool = True) -> float:
    """The one finite-number check: ``value`` as a float with low <= value < high
    (low < value when ``low_open``); NaN and inf are refused.

    A bool, a string or any other non-real is a TypeError ("must be a real
    number"); with ``strict_type=False`` it is a ValueError with the range
    message instead. Out of range: "must be a finite number > 0" when there is
    no upper bound, else "must be in [low, high)".
    """
    real = not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real)
    if not real and strict_type:
        raise TypeError(f"{name} must be a real number, got {value!r}")
    shown = float(value) if real else repr(value)
    if not (real and math.isfinite(shown) and (shown > low if low_open else shown >= low) and shown < high):
        if high == math.inf:
            raise ValueError(f"{name} must be a finite number {'>' if low_open else '>='} {low:g}, got {shown}")
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low:g}, {high:g}), got {shown}")
    return shown


def check_pair(value, name: str, minimum: int) -> tuple[int, int]:
    """Return ``(vh, vw)`` from an int or a pair of ints, each ``>= minimum``."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {value!r}")
        return (check_int(value[0], f"{name}[0]", minimum), check_int(value[1], f"{name}[1]", minimum))
    v = check_int(value, name, minimum)
    return (v, v)


def check_bias(b, c_out: int) -> np.ndarray | None:
    """Validate an optional bias of shape (C_out,); its dtype is kept (see :func:`promote`)."""
    if b is None:
        return None
    b = as_float_array(b, "b", ndim=1, shape_doc="(C_out,)")
    if b.shape[0] != c_out:
        raise ValueError(f"b must have shape ({c_out},) to match w's C_out, got {b.shape}")
    return b


def conv_operands(x, w, w_layout: str, x_name: str = "x"):
    """x (N, C_in, H, W) and w as float arrays of one dtype (:func:`common_dtype`): what every convolution takes."""
    x = as_float_array(x, x_name, ndim=4, shape_doc="(N, C_in, H, W)")
    w = as_float_array(w, "w", ndim=4, shape_doc=w_layout)
    dtype = common_dtype(x, w)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False)


def check_conv_shapes(x_name: str, C: int, w_shape: tuple, c_in_axis: int, layout: str, stride, padding):
    """What every convolution checks of its shapes: w's C_in (at ``c_in_axis``)
    equals x's C, the kernel is >= 1x1; stride >= 1 and padding >= 0 as ints
    or pairs. Returns ((s_h, s_w), (p_h, p_w))."""
    check_weight_matches(x_name, C, w_shape, c_in_axis, layout)
    return check_pair(stride, "stride", 1), check_pair(padding, "padding", 0)


def check_weight_matches(x_name: str, C: int, w_shape: tuple, c_in_axis: int, layout: str) -> None:
    """x's C channels must equal w's C_in (at ``c_in_axis``); the kernel must be >= 1x1.

    layout: how w is laid out, for the message, e.g. "(C_out, C_in, k_h, k_w)".
    """
    if C != w_shape[c_in_axis]:
        raise ValueError(f"{x_name} has {C} channels but w expects C_in = {w_shape[c_in_axis]}: "
                         f"w must have shape {layout} with C_in = {C}, got {tuple(w_shape)}")
    if w_shape[2] < 1 or w_shape[3] < 1:
        raise ValueError(f"w must have a kernel of at least 1x1, got shape {tuple(w_shape)}")
