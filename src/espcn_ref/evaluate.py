"""Super-resolve and score images exactly as the SR literature does.

The protocol (see :mod:`espcn_ref.data` and :mod:`espcn_ref.metrics`)::

    HR (uint8) -> Y (uint8, BT.601 studio swing) -> modcrop r -> Y/255
      -> LR = imresize(., 1/r) in float -> upscale (bicubic, ESPCN or an ensemble)
      -> clip [0, 1] -> uint8 -> PSNR / SSIM on Y, r pixels shaved, per image
      -> mean over the set

``method`` is the string ``"bicubic"``, an :class:`ESPCN` model, or an
:class:`~espcn_ref.ensemble.Ensemble` / :class:`~espcn_ref.ensemble.SelfEnsemble`
(averaged in float before the clip, so the clip and the rounding happen once);
the upscaling itself is :func:`espcn_ref.upscale.upscale_y`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._checks import check_int
from .data import make_lr_hr_pair, modcrop, rgb_to_y_uint8
from .data.patches import as_rgb
from .metrics import psnr, ssim, to_uint8
from .ensemble import channels_of, is_method
from .upscale import upscale_colour, upscale_rgb, upscale_y

STANDARD_SETS = ("Set5", "Set14", "BSD100")


def protocol_pair(hr_img, r: int, degradation: str = "bicubic", channels: int = 1, modcrop_to: int | None = None,
                  lr_uint8: bool = False):
    """Protocol steps 1-4 for one image: (lr, gt).

    hr_img: uint8 (H, W[, 3]). lr: (h, w) float32, the network's input;
    gt: (h r, w r) uint8, exactly the modcropped Y the output is scored against.
    channels=3 (an RGB network): the same steps on R, G and B, lr (h, w, 3)
    and gt (h r, w r, 3); a grayscale image is repeated on the three.

    Two variants of the protocol, off by default (see docs/protocol.md):
    ``modcrop_to`` crops H and W to multiples of this number instead of r (a
    multiple of r; 12 serves x2, x3 and x4 alike); ``lr_uint8`` rounds the
    LR image to 8 bits, as when LR images are stored as PNG files.
    """
    src = rgb_to_y_uint8(hr_img) if channels == 1 else as_rgb(hr_img)
    if modcrop_to is not None:
        modcrop_to = check_int(modcrop_to, "modcrop_to", 1)
        if modcrop_to % r:
            raise ValueError(f"modcrop_to must be a multiple of the scale {r}, got {modcrop_to}")
        if min(src.shape[:2]) < modcrop_to:
            raise ValueError(f"an image of {src.shape[0]}x{src.shape[1]} is smaller than modcrop_to = {modcrop_to}")
        src = modcrop(src, modcrop_to)
    lr, hr = make_lr_hr_pair(src, r, degradation)
    if lr_uint8:
        lr = to_uint8(lr).astype(np.float32) / np.float32(255)
    return lr, to_uint8(hr)


def score_pair(method, lr, gt, r: int, with_ssim: bool = False) -> dict:
    """:func:`score_y` for a Y pair; for an RGB pair (lr (h, w, 3)), the RGB
    network's output scored on RGB: {"psnr"} over the three channels."""
    if np.ndim(lr) == 2:
        return score_y(method, lr, gt, r, with_ssim)
    sr = to_uint8(upscale_rgb(method, lr, r))
    return {"psnr": psnr(gt, sr, shave=r)}


def score_y(method, lr, gt, r: int, with_ssim: bool = True) -> dict:
    """Protocol steps 5-6: upscale lr (h, w), round to uint8, score against gt
    (h r, w r) uint8 with r pixels shaved: {"psnr"[, "ssim"]}."""
    sr = to_uint8(upscale_y(method, lr, r))
    scores = {"psnr": psnr(gt, sr, shave=r)}
    if with_ssim:
        scores["ssim"] = ssim(gt, sr, shave=r)
    return scores


def evaluate_image(method, hr_img, r: int, degradation: str = "bicubic", with_rgb: bool = False,
                   modcrop_to: int | None = None, lr_uint8: bool = False) -> dict:
    """PSNR / SSIM of one image on Y with r pixels shaved. hr_img: uint8 (H, W[, 3]).

    An RGB network (3 channels) is scored on the Y of its RGB output, and on
    RGB ("psnr_rgb") always. ``with_rgb``: a Y method also gets "psnr_rgb",
    its Y plus bicubic Cb and Cr (:func:`upscale_colour`) on the protocol's
    unrounded RGB LR image, against the modcropped RGB original. A
    grayscale image has no RGB score (None). ``modcrop_to``, ``lr_uint8``: the
    protocol variants of :func:`protocol_pair`.
    """
    variant = {"modcrop_to": modcrop_to, "lr_uint8": lr_uint8}
    rgb_net = not isinstance(method, str) and is_method(method) and channels_of(method) == 3
    if not rgb_net:
        scores = score_y(method, *protocol_pair(hr_img, r, degradation, **variant), r)
        if with_rgb:
            scores["psnr_rgb"] = _rgb_psnr(method, hr_img, r, degradation, variant)
        return scores
    lr, gt = protocol_pair(hr_img, r, degradation, channels=3, **variant)
    sr = to_uint8(upscale_rgb(method, lr, r))  # (h r, w r, 3) uint8
    gt_y, sr_y = rgb_to_y_uint8(gt), rgb_to_y_uint8(sr)
    return {"psnr": psnr(gt_y, sr_y, shave=r), "ssim": ssim(gt_y, sr_y, shave=r),
            "psnr_rgb": psnr(gt, sr, shave=r) if np.ndim(hr_img) == 3 else None}


def _rgb_psnr(method, hr_img, r, degradation, variant):
    """A Y method's RGB PSNR: Y through it, Cb and Cr bicubic, from the protocol's float RGB LR."""
    if np.ndim(hr_img) != 3:
        return None
    lr, gt = protocol_pair(hr_img, r, degradation, channels=3, **variant)
    return psnr(gt, upscale_colour(method, lr.astype(np.float64) * 255.0, r), shave=r)


def evaluate_images(method, images: dict, r: int, progress=None, degradation: str = "bicubic",
                    with_rgb: bool = False, modcrop_to: int | None = None, lr_uint8: bool = False) -> dict:
    """Per-image scores and their means: {"psnr", "ssim", "images": {name: {...}}}.

    degradation: how the LR images are made ("bicubic", the tables' protocol,
    or "gaussian", Sec. 2). with_rgb: also "psnr_rgb" for a Y method (an RGB
    network always has it), the mean over the colour images (see
    :func:`evaluate_image`). modcrop_to, lr_uint8: the protocol variants of
    :func:`protocol_pair` (default: off, the protocol of the tables).
    """
    r = check_int(r, "r", 1)
    if not isinstance(images, Mapping):
        raise TypeError(f"images must be a dict {{name: uint8 image}}, got {type(images).__name__}")
    per = {}
    for name, img in images.items():
        try:
            per[name] = evaluate_image(method, img, r, degradation, with_rgb, modcrop_to, lr_uint8)
        except ValueError as e:  # say which of a set's images it was
            raise ValueError(f"image {name!r}: {e}") from None
        if progress is not None:
            progress(name, per[name])
    if not per:
        raise ValueError("no images to evaluate")
    scores = {
        "psnr": float(np.mean([s["psnr"] for s in per.values()])),
        "ssim": float(np.mean([s["ssim"] for s in per.values()])),
        "images": per,
    }
    rgb = [s["psnr_rgb"] for s in per.values() if s.get("psnr_rgb") is not None]
    if any("psnr_rgb" in s for s in per.values()):  # the mean over the colour images
        scores["psnr_rgb"] = float(np.mean(rgb)) if rgb else None
    return scores
