"""Super-resolve and score images exactly as the SR literature does.

The protocol (see :mod:`espcn_ref.data` and :mod:`espcn_ref.metrics`)::

    HR (uint8) -> Y (uint8, BT.601 studio swing) -> modcrop r -> Y/255
      -> LR = imresize(., 1/r) in float -> upscale (bicubic or ESPCN)
      -> clip [0, 1] -> uint8 -> PSNR / SSIM on Y, r pixels shaved, per image
      -> mean over the set

``method`` is either the string ``"bicubic"`` or an :class:`ESPCN` model.
Colour output (:func:`upscale_image`) is the network's Y plus Cb and Cr
upscaled bicubically (Sec. 3.1).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._checks import as_float_array, check_int
from .data import (
    imresize,
    make_lr_hr_pair,
    rgb_to_y_uint8,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from .metrics import psnr, scaled_to_uint8, ssim, to_uint8
from .model import ESPCN

STANDARD_SETS = ("Set5", "Set14", "BSD100")
TILE_ABOVE = 512 * 512  # LR pixels above which upscaling runs in 512 x 512 tiles (bounded memory)


def upscale_y(method, lr_y, r: int) -> np.ndarray:
    """Upscale one Y image. lr_y: (h, w) float in [0, 1]. Returns (h r, w r)
    float, not clipped. method: "bicubic" or an ESPCN of scale r."""
    lr_y = as_float_array(lr_y, "lr_y", ndim=2, shape_doc="(h, w), Y in [0, 1]")
    if isinstance(method, str):
        if method != "bicubic":
            raise ValueError(f"method must be 'bicubic' or an ESPCN model, got {method!r}")
        return imresize(np.asarray(lr_y, dtype=np.float64), scale=r)
    if not isinstance(method, ESPCN):
        raise TypeError(f"method must be 'bicubic' or an ESPCN model, got {type(method).__name__}")
    if method.scale != r:
        raise ValueError(f"the model is for x{method.scale}, but x{r} was asked for")
    x = np.asarray(lr_y, dtype=np.float32)[None, None]  # (1, 1, h, w)
    if x.shape[2] * x.shape[3] > TILE_ABOVE:  # large frames: bounded memory
        from .inference import forward_tiled

        return forward_tiled(method, x, tile=512)[0, 0]
    return method.forward(x)[0, 0]


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


def upscale_image(method, img, r: int) -> np.ndarray:
    """Colour-aware upscaling of a uint8 image (H, W) or (H, W, 3) -> (rH, rW[, 3]) uint8.

    Y goes through ``method``; Cb and Cr are upscaled with bicubic imresize.
    """
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"img must be uint8 (H, W) or (H, W, 3), got {img.dtype} {img.shape}")
    if img.ndim == 2:
        return to_uint8(upscale_y(method, img / 255.0, r))
    ycc = rgb_to_ycbcr(img.astype(np.float64))  # [0, 255] scale, studio swing
    y = upscale_y(method, ycc[..., 0] / 255.0, r) * 255.0
    cbcr = imresize(ycc[..., 1:], scale=r)
    rgb = ycbcr_to_rgb(np.concatenate([y[..., None], cbcr], axis=-1))
    return scaled_to_uint8(rgb, 255.0)  # = to_uint8(rgb / 255), in one pass
