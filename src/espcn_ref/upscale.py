"""Upscaling an image with a model: Y through the network, Cb and Cr bicubic
(Sec. 3.1), large frames in tiles (Sec. 3.4-3.5).

``method`` is the string ``"bicubic"``, an :class:`~espcn_ref.model.ESPCN`
(SRCNN included), or an :class:`~espcn_ref.ensemble.Ensemble` or
:class:`~espcn_ref.ensemble.SelfEnsemble` of them: anything with ``scale``,
``forward`` and ``check_input`` that :func:`receptive_halo` knows.

Tiled inference. ESPCN sees a finite neighbourhood: with 'same' padding, an
LR pixel's output depends on LR pixels at most ``halo = sum_l (f_l - 1) / 2``
away (2 + 1 + 1 = 4 for the paper's network). So a frame can be cut into
tiles, each grown by the halo, run through the network, and the halo's
output discarded::

    tile [y0, y1) x [x0, x1)  ->  input [y0 - halo, y1 + halo) (clipped to the frame)
    output rows r*y0 .. r*y1 are right: every value they depend on is in the input,
    and at the frame's border the clipping reproduces the zero padding.

The result equals untiled inference bit for bit whenever the BLAS computes a
row of a matrix product the same wherever the row sits in the call
(:func:`.ops.blas.rows_independent_of_position`): every output pixel then goes
through the same sums in the same order. OpenBLAS's native kernels here
(SkylakeX) do; its Haswell kernel, forced by OPENBLAS_CORETYPE=Haswell, does
not, and tiles then differ from the whole frame by float32 rounding only
(at most 5e-7 on outputs in [0, 1]). Both cases are tested.

Peak memory then scales with the tile, not the frame (a 4K frame needs
64 hidden channels only per tile).
"""

from __future__ import annotations

import os

import numpy as np

from ._checks import as_float_array, check_int
from .data import imresize, rgb_to_ycbcr, ycbcr_to_rgb_uint8
from .data.patches import as_rgb
from .ensemble import Ensemble, SelfEnsemble, channels_of, is_method
from .metrics import to_uint8

TILE_ABOVE = 512 * 512  # LR pixels above which upscaling runs in 512 x 512 tiles (bounded memory)


def upscale_y(method, lr_y, r: int) -> np.ndarray:
    """Upscale one Y image. lr_y: (h, w) float in [0, 1]. Returns (h r, w r)
    float, not clipped. method: "bicubic", or an ESPCN, Ensemble or SelfEnsemble of scale r."""
    lr_y = as_float_array(lr_y, "lr_y", ndim=2, shape_doc="(h, w), Y in [0, 1]")
    if isinstance(method, str):
        if method != "bicubic":
            raise ValueError(f"method must be 'bicubic' or a model, got {method!r}")
        return imresize(np.asarray(lr_y, dtype=np.float64), scale=r)
    if not is_method(method):
        raise TypeError(f"method must be 'bicubic', an ESPCN, an Ensemble or a SelfEnsemble, "
                        f"got {type(method).__name__}")
    if method.scale != r:
        raise ValueError(f"the model is for x{method.scale}, but x{r} was asked for")
    if channels_of(method) != 1:
        raise ValueError(f"a {channels_of(method)}-channel model cannot upscale the Y channel: it takes RGB "
                         "(upscale_image and evaluate use it on RGB)")
    x = np.asarray(lr_y, dtype=np.float32)[None, None]  # (1, 1, h, w)
    if x.shape[2] * x.shape[3] > TILE_ABOVE:  # large frames: bounded memory
        return forward_tiled(method, x, tile=512)[0, 0]
    return method.forward(x)[0, 0]


# Float64 copies of an (rH, rW, 3) output that colour upscaling holds at once, at most.
OUTPUT_COPIES = 4


def check_output_size(h: int, w: int, r: int) -> None:
    """Refuse, before any work, an upscaling whose output would not fit in this machine's memory.

    An h x w image at x r needs about OUTPUT_COPIES float64 (rh, rw, 3)
    arrays; more than the physical memory is a one-line ValueError.
    """
    need = h * w * r * r * 3 * 8 * OUTPUT_COPIES
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: let the allocation decide
        return
    if need > total:
        raise ValueError(f"x{r} of a {w}x{h} image is {r * w}x{r * h} pixels and needs about "
                         f"{need / 2**30:,.0f} GiB; this machine has {total / 2**30:,.0f} GiB")


def upscale_image(method, img, r: int) -> np.ndarray:
    """Colour-aware upscaling of a uint8 image (H, W) or (H, W, 3) -> (rH, rW[, 3]) uint8.

    Y goes through ``method``; Cb and Cr are upscaled with bicubic imresize
    (:func:`upscale_colour`). An RGB network (3 channels) takes the RGB image
    itself (a grayscale one on its three channels) and gives RGB.
    Every colour step is compiled (:mod:`espcn_ref.data.colour`): RGB ->
    YCbCr, and one pass from Y, Cb, Cr to uint8 RGB; the bytes are those of
    the NumPy steps (tested).
    """
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"img must be uint8 (H, W) or (H, W, 3), got {img.dtype} {img.shape}")
    check_output_size(img.shape[0], img.shape[1], check_int(r, "r", 1))
    if not isinstance(method, str) and is_method(method) and channels_of(method) == 3:  # RGB in, RGB out
        return to_uint8(upscale_rgb(method, as_rgb(img) / 255.0, r))  # a grayscale image on all three channels
    if img.ndim == 2:
        return to_uint8(upscale_y(method, img / 255.0, r))
    return upscale_colour(method, img, r)


def upscale_colour(method, rgb, r: int) -> np.ndarray:
    """Sec. 3.1's colour path: Y through ``method``, Cb and Cr bicubic.

    rgb: (H, W, 3) uint8, or float in [0, 255] (the protocol's unrounded LR
    image times 255). Returns (rH, rW, 3) uint8 RGB.
    """
    ycc = rgb_to_ycbcr(rgb)  # (H, W, 3) float64, [0, 255] scale, studio swing
    y = upscale_y(method, ycc[..., 0] / 255.0, r)  # (rH, rW), Y in [0, 1]
    cbcr = imresize(ycc[..., 1:], scale=r)  # (rH, rW, 2)
    # = to_uint8(ycbcr_to_rgb(concatenate([255 y, Cb, Cr])) / 255), in one pass
    return ycbcr_to_rgb_uint8(y, cbcr, y_scale=255.0)  # (rH, rW, 3) uint8


def receptive_halo(model) -> int:
    """LR pixels of context each output needs.

    Ensemble: the largest of its members' (an output pixel is the mean of
    theirs at that pixel). SelfEnsemble: its model's, since a flip or a
    90-degree rotation keeps every distance along the rows and columns.

    ESPCN: the stack's reach, the sum of (f - 1) / 2 over the layers (4 for
    5-3-3). SRCNN: its stack reaches that many HR pixels (6 for 9-1-5, 8 for
    9-5-5); the farthest sits at LR coordinate (reach - 1/2) / p + 1/2 from
    the tile's last LR pixel, and bicubic reads the LR pixels less than 2
    away from it (Keys' kernel is 0 at 2): ceil((reach - 1/2) / p + 5/2) - 1
    LR pixels, 4 for both at x3. The same on the other side, by symmetry.
    """
    if isinstance(model, Ensemble):
        return max(receptive_halo(m) for m in model.members)
    if isinstance(model, SelfEnsemble):
        return receptive_halo(model.model)
    reach = sum((shape[2] - 1) // 2 for shape in model.config.layer_shapes())
    p = model.config.pre_upscale
    return reach if p == 1 else -(-(2 * reach - 1 + 5 * p) // (2 * p)) - 1


def forward_tiled(model, x, tile: int = 256) -> np.ndarray:
    """``model.forward(x)`` computed tile by tile: equal to it (bit for bit with a
    position-independent BLAS, see the module doc).

    model: an ESPCN, Ensemble or SelfEnsemble (each tile runs all its members,
    grown by the largest member's halo). x: (N, C, H, W) LR images. tile: LR
    tile side (>= 1). Returns (N, C, rH, rW).
    """
    x = model.check_input(x)  # what forward checks: channels, non-empty, the model's dtype
    tile = check_int(tile, "tile", 1)
    N, C, H, W = x.shape
    r, halo = model.scale, receptive_halo(model)
    out = np.empty((N, C, r * H, r * W), dtype=x.dtype)
    for y0 in range(0, H, tile):
        y1 = min(H, y0 + tile)
        for x0 in range(0, W, tile):
            x1 = min(W, x0 + tile)
            a0, a1 = max(0, y0 - halo), min(H, y1 + halo)  # tile plus halo, clipped
            b0, b1 = max(0, x0 - halo), min(W, x1 + halo)
            sr = model.forward(x[:, :, a0:a1, b0:b1])  # (N, C, r(a1-a0), r(b1-b0))
            out[:, :, r * y0 : r * y1, r * x0 : r * x1] = sr[
                :, :, r * (y0 - a0) : r * (y1 - a0), r * (x0 - b0) : r * (x1 - b0)
            ]
    return out


def upscale_rgb(model, lr_rgb, r: int) -> np.ndarray:
    """An RGB network (C = 3) on an RGB image: lr_rgb (h, w, 3) float in [0, 1]
    -> (h r, w r, 3) float, not clipped. Large frames in tiles, as :func:`upscale_y`."""
    lr_rgb = as_float_array(lr_rgb, "lr_rgb", ndim=3, shape_doc="(h, w, 3), RGB in [0, 1]")
    channels = channels_of(model) if is_method(model) else None
    if channels != 3 or lr_rgb.shape[2] != 3:
        raise ValueError(f"upscale_rgb needs an RGB network (3 channels) and an (h, w, 3) image, got a "
                         f"{channels}-channel method and {lr_rgb.shape}")
    if model.scale != r:
        raise ValueError(f"the model is for x{model.scale}, but x{r} was asked for")
    x = np.ascontiguousarray(lr_rgb.transpose(2, 0, 1), dtype=np.float32)[None]  # (1, 3, h, w)
    y = forward_tiled(model, x, tile=512) if x.shape[2] * x.shape[3] > TILE_ABOVE else model.forward(x)
    return np.ascontiguousarray(y[0].transpose(1, 2, 0))  # (h r, w r, 3)
