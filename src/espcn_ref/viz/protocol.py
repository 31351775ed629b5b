"""How each choice of the evaluation protocol moves PSNR (the tables' protocol: README, "Evaluating like the papers")."""

from __future__ import annotations


import numpy as np
from matplotlib.figure import Figure

from ..data import (
    gaussian_degrade,
    imresize,
    make_lr_hr_pair,
    modcrop,
    rgb_to_y_fullrange,
    rgb_to_y_uint8,
)
from ..upscale import upscale_y
from ..metrics import psnr, to_uint8


_VARIANTS = (  # (what changes, the protocol step it changes; see espcn_ref.evaluate)
    ("protocol: Y (BT.601 studio), MATLAB bicubic LR, shave r", "-"),
    ("no border shave (shave 0)", "6"),
    ("PSNR of the mean MSE, not the mean of PSNRs", "6"),
    ("RGB: R, G and B each upscaled and scored", "2"),
    ("full-range Y = 0.299 R + 0.587 G + 0.114 B (Pillow)", "2"),
    ("LR rounded to uint8 (imresize on uint8)", "4"),
    ("LR by box average of r×r blocks", "4"),
    ("LR by nearest (every r-th pixel, no blur)", "4"),
    ("LR by Gaussian blur σ=(r-1)/2 + subsample (Sec. 2)", "4"),
    ("LR by scipy.ndimage.zoom (cubic spline)", "4"),
    ("upscaled by scipy.ndimage.zoom, not MATLAB bicubic", "5"),  # only for method="bicubic"
)


def _spline(a, zoom_factor):
    """scipy.ndimage.zoom with a cubic spline, pixel areas aligned (grid_mode).

    Shrinking by an odd r it equals keeping every r-th pixel from (r - 1)/2:
    output pixel i samples input coordinate (i + 1/2) r - 1/2 = i r + (r - 1)/2,
    a whole pixel, where the spline returns the sample, and zoom does not
    low-pass filter. For even r it interpolates halfway between two pixels.
    """
    from scipy.ndimage import zoom

    return zoom(a, zoom_factor, order=3, mode="grid-mirror", grid_mode=True)


def _variant_scores(img, r: int, method) -> list[float]:
    """PSNR of ``method`` x r on one image under each of _VARIANTS, in order."""
    def up(lr):  # protocol step 5
        return to_uint8(upscale_y(method, lr, r))

    y = rgb_to_y_uint8(img)
    lr, hr = make_lr_hr_pair(y, r)  # protocol steps 2-4
    gt = to_uint8(hr)
    sr = up(lr)
    hr64 = hr.astype(np.float64)
    h, w = lr.shape
    if img.ndim == 3:  # every colour channel goes the Y channel's way
        rgb = modcrop(img, r)
        sr_rgb = np.stack([up(imresize(rgb[..., k] / 255.0, scale=1 / r)) for k in range(3)], axis=-1)
        rgb_psnr = psnr(rgb, sr_rgb, shave=r)
    else:
        rgb_psnr = psnr(gt, sr, shave=r)
    full_lr, full_hr = make_lr_hr_pair(rgb_to_y_fullrange(img), r)
    scores = [psnr(gt, sr, shave=r),
              psnr(gt, sr, shave=0),
              psnr(gt, sr, shave=r),  # pooled over the set in protocol_variants
              rgb_psnr,
              psnr(to_uint8(full_hr), up(full_lr), shave=r),
              psnr(gt, up(imresize(modcrop(y, r), scale=1 / r) / 255.0), shave=r),
              psnr(gt, up(hr64.reshape(h, r, w, r).mean(axis=(1, 3))), shave=r),
              psnr(gt, up(gaussian_degrade(hr64, r, sigma=0)), shave=r),
              psnr(gt, up(gaussian_degrade(hr64, r)), shave=r),
              psnr(gt, up(_spline(hr64, 1 / r)), shave=r)]
    if isinstance(method, str):
        scores.append(psnr(gt, to_uint8(_spline(lr.astype(np.float64), r)), shave=r))
    return scores


def protocol_variants(images: dict, r: int, method="bicubic") -> list[dict]:
    """Mean PSNR on ``images`` under variants of the evaluation protocol.

    images: {name: uint8 (H, W) or (H, W, 3)}; r: the scale; method:
    "bicubic" or an ESPCN of scale r (it upscales every LR image, one
    channel at a time). Every row changes one step of the protocol
    (steps numbered as in espcn_ref.evaluate and the README) and keeps the
    others. Returns rows {variant, step, psnr, delta}, delta = the change
    from the first row, which equals ``evaluate_images(method, images, r)["psnr"]``.
    The last row (another upscaler) exists only for method="bicubic".
    """
    scores = np.array([_variant_scores(img, r, method) for img in images.values()])  # (images, variants)
    means = scores.mean(axis=0)
    mse = 255.0**2 * 10 ** (-scores[:, 0] / 10)  # each image's MSE, back from its PSNR
    means[2] = 10 * np.log10(255.0**2 / mse.mean())
    return [{"variant": name, "step": step, "psnr": float(v), "delta": float(v - means[0])}
            for (name, step), v in zip(_VARIANTS, means)]


def plot_protocol_variants(rows: list[dict], title: str = "") -> Figure:
    """Horizontal bars: how far each variant moves PSNR (bar widths = deltas)."""
    fig = Figure(figsize=(8, 0.42 * len(rows) + 1), layout="constrained")
    ax = fig.add_subplot()
    deltas = [row["delta"] for row in rows]
    pos = np.arange(len(rows))[::-1]
    ax.barh(pos, deltas, color=["#888888" if d == 0 else ("#2a7ab9" if d > 0 else "#d0543b") for d in deltas])
    ax.set_yticks(pos, [f"{row['variant']}  [{row['psnr']:.2f} dB]" for row in rows], fontsize=8)
    ax.axvline(0, color="k", lw=0.7)
    ax.set_xlabel("PSNR change from the protocol (dB)")
    ax.set_title(title or "bicubic baseline: what each protocol choice does to PSNR", fontsize=10)
    return fig
