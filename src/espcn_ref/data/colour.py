"""Colour: ITU-R BT.601 studio swing, exactly as MATLAB's rgb2ycbcr / ycbcr2rgb, and MATLAB rounding."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._checks import as_float_array, check_real


_T = np.array([[65.481, 128.553, 24.966],
               [-37.797, -74.203, 112.0],
               [112.0, -93.786, -18.214]])
_OFFSET = np.array([16.0, 128.0, 128.0])
# MATLAB scales T by 1/255 for [0, 255] input (rgb2ycbcr's scaleFactor), and
# sums c1 R + c2 G + c3 B + offset in that order (imlincomb): kept here.
_T255 = _T * (1 / 255)
_T255_INV = np.linalg.inv(_T255)


def _check_rgb(img, name, keep_uint8=False):
    """img as a float64 (H, W, 3) array (uint8 stays uint8 if keep_uint8)."""
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = as_float_array(arr, name)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3), got {arr.shape}")
    return arr if keep_uint8 and arr.dtype == np.uint8 else arr.astype(np.float64, copy=False)


def rgb_to_ycbcr(rgb) -> np.ndarray:
    """RGB -> YCbCr (BT.601 studio swing), both in [0, 255] scale, as MATLAB.

    rgb: (H, W, 3), uint8 or float in [0, 255]. Returns float64 (H, W, 3):
    Y in [16, 235], Cb and Cr in [16, 240]. With R, G, B in [0, 1]::

        Y  =  16 +  65.481 R + 128.553 G +  24.966 B
        Cb = 128 -  37.797 R -  74.203 G + 112.0   B
        Cr = 128 + 112.0   R -  93.786 G -  18.214 B

    Each channel is ``c1 R + c2 G + c3 B + offset``, summed in that order
    (R, G, B in [0, 255], (c1, c2, c3) a row of T / 255). Compiled, and
    uint8 input is read as it is (no float64 copy); the same numbers as
    :func:`rgb_to_ycbcr_reference` (tested with ==).
    """
    x = np.ascontiguousarray(_check_rgb(rgb, "rgb", keep_uint8=True))  # (H, W, 3) uint8 or float64
    out = np.empty(x.shape)  # (H, W, 3) float64
    _rgb_to_ycbcr_kernel(x.reshape(-1, 3), _T255, _OFFSET, out.reshape(-1, 3))
    return out


@njit(cache=True, parallel=True, nogil=True)
def _rgb_to_ycbcr_kernel(x, t, offset, out):  # x: (pixels, 3) uint8 or float64; t: (3, 3); out: (pixels, 3) float64
    for p in prange(x.shape[0]):
        R, G, B = np.float64(x[p, 0]), np.float64(x[p, 1]), np.float64(x[p, 2])  # exact for uint8
        for k in range(3):
            out[p, k] = t[k, 0] * R + t[k, 1] * G + t[k, 2] * B + offset[k]


def rgb_to_ycbcr_reference(rgb) -> np.ndarray:
    """:func:`rgb_to_ycbcr` in NumPy (its twin), channel by channel."""
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


def ycbcr_to_rgb_uint8(y, cbcr, y_scale: float = 1.0) -> np.ndarray:
    """The uint8 RGB image of Y = y_scale y and (Cb, Cr) = cbcr, in one compiled pass.

    y: (H, W) float32 or float64; y_scale > 0 (255.0 for Y in [0, 1]);
    cbcr: (H, W, 2) float, [0, 255] scale. Returns uint8 (H, W, 3). The
    same bytes as the three steps it fuses (:func:`ycbcr_to_rgb_uint8_reference`,
    tested with ==)::

        ycc = concatenate([y * y_scale, cbcr])          # (H, W, 3) float64; y * y_scale rounded in y's dtype
        rgb = ycbcr_to_rgb(ycc)                         # (H, W, 3) float64, [0, 255] scale
        out = uint8(round_half_away(255 clip(rgb / 255, 0, 1)))

    without the two float64 (H, W, 3) arrays between them (50 MB each at
    1080p). NaN raises ValueError.
    """
    y = as_float_array(y, "y", ndim=2, shape_doc="(H, W)")
    y_scale = check_real(y_scale, "y_scale", 0, low_open=True)
    cbcr = np.asarray(cbcr)
    if cbcr.shape != y.shape + (2,):
        raise ValueError(f"cbcr must have shape {y.shape + (2,)} (y's and 2), got {cbcr.shape}")
    cbcr = np.ascontiguousarray(as_float_array(cbcr, "cbcr"), dtype=np.float64)
    out = np.empty(y.shape + (3,), dtype=np.uint8)  # (H, W, 3)
    # y_scale in y's dtype: a float32 y times it is rounded to float32, as NumPy's y * 255.0 is
    if _ycbcr_to_rgb_uint8_kernel(y.reshape(-1), y.dtype.type(y_scale), cbcr.reshape(-1, 2), _T255_INV, _OFFSET,
                                  out.reshape(-1, 3)):
        raise ValueError("the YCbCr image contains NaN")
    return out


# Pixels per block of the fused kernel: its float64 scratch (3 x 2048, 48 KiB) stays in cache.
_BLOCK = 2048


@njit(cache=True, parallel=True, nogil=True)
def _ycbcr_to_rgb_uint8_kernel(y, y_scale, cbcr, m, offset, out):
    """y: (pixels,); cbcr: (pixels, 2) float64; m: (3, 3); offset: (3,);
    out: (pixels, 3) uint8. Returns the number of NaN values (their out is 0).

    Per block of _BLOCK pixels, three flat passes that LLVM vectorises: the
    matrix product into a (3, block) scratch, then the clip and rounding
    with no branch, then the interleaved uint8 stores. One pass per pixel
    with a branch per value, as this was written first, ran scalar: 5x
    slower, and slower than the unfused NumPy steps it replaced."""
    n = y.shape[0]
    blocks = (n + _BLOCK - 1) // _BLOCK
    nans = np.zeros(blocks, np.int64)
    for b in prange(blocks):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        rgb = np.empty((3, hi - lo))
        for p in range(lo, hi):
            Y = np.float64(y[p] * y_scale) - offset[0]  # the product in y's dtype, then exact widening
            cb, cr = cbcr[p, 0] - offset[1], cbcr[p, 1] - offset[2]
            for k in range(3):  # ycbcr_to_rgb's sum, then to_uint8's scaling
                rgb[k, p - lo] = (m[k, 0] * Y + m[k, 1] * cb + m[k, 2] * cr) / 255.0
        count = 0
        for k in range(3):
            for i in range(hi - lo):
                v = rgb[k, i]
                bad = v != v
                count += bad
                rgb[k, i] = 0.0 if bad else round_half_away_scalar(255.0 * min(max(v, 0.0), 1.0))
        nans[b] = count
        for i in range(hi - lo):
            for k in range(3):
                out[lo + i, k] = np.uint8(rgb[k, i])
    return nans.sum()


def ycbcr_to_rgb_uint8_reference(y, cbcr, y_scale: float = 1.0) -> np.ndarray:
    """:func:`ycbcr_to_rgb_uint8` in NumPy (its twin): the three steps, one after the other."""
    y = np.asarray(y)
    ycc = np.concatenate([(y * y.dtype.type(y_scale))[..., None].astype(np.float64),
                          np.asarray(cbcr, dtype=np.float64)], axis=-1)  # (H, W, 3)
    rgb01 = ycbcr_to_rgb_reference(ycc) / 255.0
    if np.isnan(rgb01).any():
        raise ValueError("the YCbCr image contains NaN")
    return round_half_away_reference(255.0 * np.clip(rgb01, 0.0, 1.0)).astype(np.uint8)


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
