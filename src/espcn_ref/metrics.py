"""PSNR and SSIM exactly as the SR literature's tables compute them.

The protocol (SRCNN's MATLAB scripts, which ESPCN's tables follow; see
the README section "Evaluating like the papers", and espcn_ref.data):

- scores are taken on the luminance Y only: MATLAB rgb2ycbcr, ITU-R BT.601
  studio swing, Y = 16 + 65.481 R + 128.553 G + 24.966 B (R, G, B in [0, 1]),
  kept as uint8; a grayscale image is its own Y;
- the SR output is clipped to [0, 1] and stored as uint8 round(255 x), with
  MATLAB's round (half away from zero): :func:`to_uint8`;
- r pixels are shaved from every border before scoring (r = the scale);
- PSNR and SSIM are computed PER IMAGE and then averaged over the set (the
  mean of per-image dB values, not the PSNR of a pooled MSE).

Formulas, on the shaved images x (ground truth) and y (estimate), float64::

    PSNR = 10 log10(peak^2 / MSE),  MSE = mean((x - y)^2),  peak = 255;  inf if MSE = 0

    SSIM (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004), w = 11x11 Gaussian, sigma 1.5,
    every local statistic a 'valid' correlation with w (no padding):
        mu_x = w * x,  s_x^2 = w * x^2 - mu_x^2,  s_xy = w * (x y) - mu_x mu_y
        SSIM map = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))
        C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = 255;  SSIM = mean of the map
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_int, check_real
from .data import modcrop, rgb_to_y_uint8
from .data.colour import clip_round_uint8_kernel, round_half_away_reference

SSIM_WIN = 11  # window side, Wang et al. 2004
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2, SSIM_L = 0.01, 0.03, 255.0


def to_uint8(x01) -> np.ndarray:
    """Protocol step 5: clip to [0, 1], then uint8(round_half_away(255 x)).

    x01: any shape, float in [0, 1]. Returns uint8, same shape. NaN raises
    ValueError (a diverged network should not score as black). Compiled,
    one pass; the same bytes as :func:`to_uint8_reference` (tested with ==).
    """
    return scaled_to_uint8(x01, 1.0)


def scaled_to_uint8(x, divisor: float) -> np.ndarray:
    """``to_uint8(x / divisor)`` in one compiled pass. x: any shape, float;
    it is converted to float64 first, then divided, so for float64 x the
    numbers are exactly those of the two steps."""
    divisor = check_real(divisor, "divisor", 0, low_open=True, strict_type=False)
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape, dtype=np.uint8)
    if clip_round_uint8_kernel(np.ascontiguousarray(x).reshape(-1), float(divisor), out.reshape(-1)):
        raise ValueError("x01 contains NaN")
    return out if out.ndim else out[()]  # a scalar for a scalar, as before


def to_uint8_reference(x01) -> np.ndarray:
    """:func:`to_uint8` in NumPy (its twin)."""
    x = np.asarray(x01, dtype=np.float64)
    if np.isnan(x).any():
        raise ValueError("x01 contains NaN")
    return round_half_away_reference(255.0 * np.clip(x, 0.0, 1.0)).astype(np.uint8)


def _shaved_pair(hr, sr, shave, min_size=1):
    """Validate two same-shape images (H, W[, C]); return both shaved, float64."""
    hr, sr = np.asarray(hr), np.asarray(sr)
    for name, a in (("hr", hr), ("sr", sr)):
        if a.dtype.kind not in "biuf" or a.ndim not in (2, 3):
            raise ValueError(f"{name} must be a real (H, W) or (H, W, C) image, "
                             f"got {a.dtype} {a.shape}")
    if hr.shape != sr.shape:
        raise ValueError(f"hr and sr must have the same shape, got {hr.shape} vs {sr.shape}")
    if hr.size == 0:
        raise ValueError(f"hr and sr are empty, shape {hr.shape}")
    ints = [a.dtype.kind in "biu" for a in (hr, sr)]
    if ints[0] != ints[1]:  # one 0-255 integer image, one float: does the float one read as [0, 1]?
        f, i = (sr, hr) if ints[0] else (hr, sr)
        mf, mi = float(np.nanmean(f)), float(np.mean(i))
        if np.nanmax(f) <= 1.0 and abs(255 * mf - mi) < abs(mf - mi):
            raise ValueError(f"{'hr' if ints[0] else 'sr'} holds 0-255 integers but {'sr' if ints[0] else 'hr'} "
                             "looks like floats in [0, 1]: put both on 0-255 (to_uint8) first")
    s = check_int(shave, "shave", 0)
    H, W = hr.shape[:2]
    if H - 2 * s < min_size or W - 2 * s < min_size:
        raise ValueError(f"shave = {s} leaves {H - 2 * s}x{W - 2 * s} of a {H}x{W} image; "
                         f"need at least {min_size}x{min_size}")
    crop = (slice(s, H - s), slice(s, W - s))
    return hr[crop].astype(np.float64), sr[crop].astype(np.float64)


def psnr(hr, sr, shave=0, peak=255.0) -> float:
    """PSNR in dB of sr against hr, after shaving ``shave`` pixels per border.

    hr, sr: (H, W) (or (H, W, C)) with uint8 values (uint8 or float in [0, 255]).
    Identical images give inf (MSE = 0).
    """
    peak = check_real(peak, "peak", 0, low_open=True, strict_type=False)
    x, y = _shaved_pair(hr, sr, shave)
    mse = np.mean((x - y) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 / mse))


def _filter_valid(a, g):
    """'valid' correlation of a (H, W) with the separable window outer(g, g)."""
    k = len(g)
    H, W = a.shape
    rows = sum(g[i] * a[i : i + H - k + 1, :] for i in range(k))  # (H-k+1, W)
    return sum(g[j] * rows[:, j : j + W - k + 1] for j in range(k))  # (H-k+1, W-k+1)


def ssim_map(hr, sr, shave=0) -> np.ndarray:
    """The SSIM map of Wang et al. 2004 (module doc) on the shaved images.

    hr, sr: (H, W) with uint8 values. Returns (H - 2 shave - 10, W - 2 shave - 10).
    """
    x, y = _shaved_pair(hr, sr, shave, min_size=SSIM_WIN)
    if x.ndim != 2:
        raise ValueError(f"ssim needs single-channel (H, W) images (Y), got {x.shape}")
    g = gaussian_window1d()
    C1, C2 = (SSIM_K1 * SSIM_L) ** 2, (SSIM_K2 * SSIM_L) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    s_xx = _filter_valid(x * x, g) - mu_x**2
    s_yy = _filter_valid(y * y, g) - mu_y**2
    s_xy = _filter_valid(x * y, g) - mu_x * mu_y
    return ((2 * mu_x * mu_y + C1) * (2 * s_xy + C2)) / ((mu_x**2 + mu_y**2 + C1) * (s_xx + s_yy + C2))


def gaussian_window1d() -> np.ndarray:
    """The 11 taps whose outer product is MATLAB's fspecial('gaussian', 11, 1.5)."""
    t = np.arange(SSIM_WIN, dtype=np.float64) - SSIM_WIN // 2  # -5 .. 5
    g = np.exp(-(t**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def ssim(hr, sr, shave=0) -> float:
    """Mean SSIM (Wang et al. 2004, module doc) of sr against hr, shaved.

    hr, sr: (H, W) with uint8 values; each side must be >= 11 after shaving.
    """
    return float(np.mean(ssim_map(hr, sr, shave)))


class Scores(NamedTuple):
    psnr: float
    ssim: float


def evaluate_pair(hr_img, sr_y, r) -> Scores:
    """PSNR and SSIM on Y with r pixels shaved, for one image (protocol step 6).

    hr_img: the ground-truth image as read, uint8 (H, W, 3) RGB or (H, W)
    grayscale; it is converted to Y (:func:`espcn_ref.data.rgb_to_y_uint8`)
    and modcropped to a multiple of r here.
    sr_y: the estimated Y, (H - H % r, W - W % r), either uint8 or float in
    [0, 1] (then converted with :func:`to_uint8`).
    Average the per-image results over a set; do not pool MSEs.
    """
    r = check_int(r, "r", 1)
    y_hr = modcrop(rgb_to_y_uint8(hr_img), r)
    sr_y = np.asarray(sr_y)
    if sr_y.dtype != np.uint8:
        if sr_y.dtype.kind != "f":
            raise TypeError(f"sr_y must be uint8 or float in [0, 1], got dtype {sr_y.dtype}")
        if sr_y.size and np.nanmax(sr_y) > 2.0:  # a network overshoots 1 a little; 0-255 values are a mistake
            raise ValueError(f"sr_y must be float in [0, 1] (or uint8), but its maximum is {np.nanmax(sr_y):g}: "
                             "divide 0-255 values by 255 or pass uint8")
        sr_y = to_uint8(sr_y)
    return Scores(psnr(y_hr, sr_y, shave=r), ssim(y_hr, sr_y, shave=r))
