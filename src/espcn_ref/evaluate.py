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
from .data import make_lr_hr_pair, rgb_to_y_uint8
from .metrics import psnr, ssim, to_uint8
from .upscale import upscale_y

STANDARD_SETS = ("Set5", "Set14", "BSD100")


def protocol_pair(hr_img, r: int, degradation: str = "bicubic"):
    """Protocol steps 1-4 for one image: (lr, gt).

    hr_img: uint8 (H, W[, 3]). lr: (h, w) float32, the network's input;
    gt: (h r, w r) uint8, exactly the modcropped Y the output is scored against.
    """
    lr, hr = make_lr_hr_pair(rgb_to_y_uint8(hr_img), r, degradation)
    return lr, to_uint8(hr)


def score_y(method, lr, gt, r: int, with_ssim: bool = True) -> dict:
    """Protocol steps 5-6: upscale lr (h, w), round to uint8, score against gt
    (h r, w r) uint8 with r pixels shaved: {"psnr"[, "ssim"]}."""
    sr = to_uint8(upscale_y(method, lr, r))
    scores = {"psnr": psnr(gt, sr, shave=r)}
    if with_ssim:
        scores["ssim"] = ssim(gt, sr, shave=r)
    return scores


def evaluate_image(method, hr_img, r: int, degradation: str = "bicubic") -> dict:
    """PSNR / SSIM of one image on Y with r pixels shaved. hr_img: uint8 (H, W[, 3])."""
    return score_y(method, *protocol_pair(hr_img, r, degradation), r)


def evaluate_images(method, images: dict, r: int, progress=None, degradation: str = "bicubic") -> dict:
    """Per-image scores and their means: {"psnr", "ssim", "images": {name: {...}}}.

    degradation: how the LR images are made ("bicubic", the tables' protocol,
    or "gaussian", Sec. 2).
    """
    r = check_int(r, "r", 1)
    if not isinstance(images, Mapping):
        raise TypeError(f"images must be a dict {{name: uint8 image}}, got {type(images).__name__}")
    per = {}
    for name, img in images.items():
        try:
            per[name] = evaluate_image(method, img, r, degradation)
        except ValueError as e:  # say which of a set's images it was
            raise ValueError(f"image {name!r}: {e}") from None
        if progress is not None:
            progress(name, per[name])
    if not per:
        raise ValueError("no images to evaluate")
    return {
        "psnr": float(np.mean([s["psnr"] for s in per.values()])),
        "ssim": float(np.mean([s["ssim"] for s in per.values()])),
        "images": per,
    }
