"""Colour: ITU-R BT.601 studio swing, exactly as MATLAB's rgb2ycbcr / ycbcr2rgb, and MATLAB rounding."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._checks import as_float_array


_T = np.array([[65.481, 128.553, 24.966],
               [-37.797, -74.203, 112.0],
               [112.0, -93.786, -18.214]])
_OFFSET = np.array([16.0, 128.0, 128.0])
# MATLAB scales T by 1/255 for [0, 255] input (rgb2ycbcr's scaleFactor), and
# sums c1 R + c2 G + c3 B + offset in that order (imlincomb): kept here.
_T255 = _T * (1 / 255)
_T255_INV = np.linalg.inv(_T255)


def _check_rgb(img, name):
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = as_float_array(arr, name)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3), got {arr.shape}")
    return arr.astype(np.float64, copy=False)


def rgb_to_ycbcr(rgb) -> np.ndarray:
    """RGB -> YCbCr (BT.601 studio swing), both in [0, 255] scale, as MATLAB.

    rgb: (H, W, 3), uint8 or float in [0, 255]. Returns float64 (H, W, 3):
    Y in [16, 235], Cb and Cr in [16, 240]. With R, G, B in [0, 1]::

        Y  =  16 +  65.481 R + 128.553 G +  24.966 B
        Cb = 128 -  37.797 R -  74.203 G + 112.0   B
        Cr = 128 + 112.0   R -  93.786 G -  18.214 B
    """
    x = _check_rgb(rgb, "rgb")
    R, G, B = x[..., 0], x[..., 1], x[..., 2]
    return np.stack([c[0] * R + c[1] * G + c[2] * B + o for c, o in zip(_T255, _OFFSET)], axis=-1)


def ycbcr_to_rgb(ycc) -> np.ndarray:
    """YCbCr -> RGB, the exact matrix inverse of :func:`rgb_to_ycbcr`.

    ycc: (H, W, 3), uint8 or float in [0, 255] scale. Returns float64
    (H, W, 3) RGB in [0, 255] scale, NOT clipped (out-of-gamut YCbCr gives
    values outside [0, 255]; clip and round before saving). Each channel is
    ``m0 (Y - 16) + m1 (Cb - 128) + m2 (Cr - 128)``, summed in that order,
    with (m0, m1, m2) a row of the inverse matrix. Compiled; the same
    numbers as :func:`ycbcr_to_rgb_reference` (tested with ==).
    """
    x = np.ascontiguousarray(_check_rgb(ycc, "ycc"))
    out = np.empty(x.shape)
    _ycbcr_to_rgb_kernel(x.reshape(-1, 3), _T255_INV, _OFFSET, out.reshape(-1, 3))
    return out


@njit(cache=True, parallel=True, nogil=True)
def _ycbcr_to_rgb_kernel(x, m, offset, out):  # x, out: (pixels, 3); m: (3, 3); offset: (3,)
    for p in prange(x.shape[0]):
        y, cb, cr = x[p, 0] - offset[0], x[p, 1] - offset[1], x[p, 2] - offset[2]
        for k in range(3):
            out[p, k] = m[k, 0] * y + m[k, 1] * cb + m[k, 2] * cr


def ycbcr_to_rgb_reference(ycc) -> np.ndarray:
    """:func:`ycbcr_to_rgb` in NumPy (its twin), channel by channel."""
    x = _check_rgb(ycc, "ycc")
    y, cb, cr = (x[..., i] - _OFFSET[i] for i in range(3))
    return np.stack([m[0] * y + m[1] * cb + m[2] * cr for m in _T255_INV], axis=-1)


def round_half_away(x) -> np.ndarray:
    """MATLAB's round: halves go away from zero (2.5 -> 3, -2.5 -> -3).

    numpy.round rounds halves to even (2.5 -> 2). x: any shape; float input
    keeps its dtype, other input becomes float64. Compiled for float32 and
    float64 (others take the twin); the same numbers as
    :func:`round_half_away_reference` (tested bit for bit, NaN, inf and -0.0
    included).
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        return round_half_away_reference(x)
    out = np.empty(x.shape, dtype=x.dtype)
    _round_half_away_kernel(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out if out.ndim else out[()]  # a scalar for a scalar, as NumPy's ufuncs do


@njit(cache=True, nogil=True)
def round_half_away_scalar(v):
    """:func:`round_half_away` of one float, for compiled callers."""
    whole = np.trunc(v)  # exact
    # a fraction of at least one half moves one step away from zero (v != 0
    # there); "+ 0.0" turns -0.0 into 0.0, as the twin does
    return whole + ((1.0 if v > 0 else -1.0) if abs(v - whole) >= 0.5 else 0.0)


@njit(cache=True, parallel=True, nogil=True)
def _round_half_away_kernel(x, out):  # x, out: (n,), same float dtype
    for k in prange(x.size):
        out[k] = round_half_away_scalar(x[k])


@njit(cache=True, parallel=True, nogil=True)
def clip_round_uint8_kernel(x, divisor, out):
    """out = uint8(round_half_away(255 clip(x / divisor, 0, 1))), one pass:
    the kernel of ``metrics.to_uint8``. It lives here, beside
    round_half_away_scalar, because Numba's disk cache does not notice
    edits to a compiled function in another file. x: (n,) float64,
    out: (n,) uint8. Returns the number of NaN (their out is 0)."""
    nans = 0
    for k in prange(x.size):
        v = x[k] / divisor  # exact when divisor = 1
        if v != v:
            nans += 1
            out[k] = 0
        else:
            out[k] = np.uint8(round_half_away_scalar(255.0 * min(max(v, 0.0), 1.0)))
    return nans


def round_half_away_reference(x) -> np.ndarray:
    """:func:`round_half_away` in NumPy (its twin). Written with trunc, which
    is exact, so 0.49999999999999994 stays 0."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    whole = np.trunc(x)
    with np.errstate(invalid="ignore"):  # inf - inf is NaN, and NaN >= 0.5 is False: inf stays inf
        half_or_more = np.abs(x - whole) >= 0.5
    return whole + np.where(half_or_more, np.sign(x), 0).astype(x.dtype)


def rgb_to_y_uint8(img) -> np.ndarray:
    """Protocol step 2: uint8 RGB (H, W, 3) -> Y (H, W) uint8, rounded half away.

    A 2-D uint8 image is already grayscale (Set14 'bridge') and is returned
    as Y directly (a copy).
    """
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f"img must be a uint8 image, got dtype {img.dtype}")
    if img.ndim == 2:
        return img.copy()
    y = rgb_to_ycbcr(img)[..., 0]  # (H, W) in [16, 235]
    return np.clip(round_half_away(y), 0, 255).astype(np.uint8)


def rgb_to_y_fullrange(img) -> np.ndarray:
    """Full-range luma as Pillow's ``convert("L")`` computes it (NOT the protocol).

    img: uint8 (H, W, 3), or (H, W) returned unchanged. Returns uint8 (H, W):
    (19595 R + 38470 G + 7471 B + 2^15) >> 16, the integer form of
    0.299 R + 0.587 G + 0.114 B in [0, 255]. Papers' tables use the studio
    swing Y of :func:`rgb_to_y_uint8`; scoring on this one costs about
    20 log10(255/219) = 1.3 dB (notebook 05).
    """
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"img must be uint8 (H, W) or (H, W, 3), got {img.dtype} {img.shape}")
    if img.ndim == 2:
        return img.copy()
    rgb = img.astype(np.int64)
    return ((19595 * rgb[..., 0] + 38470 * rgb[..., 1] + 7471 * rgb[..., 2] + 32768) >> 16).astype(np.uint8)
