"""Training pairs and sub-images (Sec. 3.2): modcrop, LR/HR pairs, 17x17 / 17r x 17r patches."""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_int
from .resize import gaussian_degrade, imresize


def as_rgb(img) -> np.ndarray:
    """A uint8 image as (H, W, 3) RGB: a grayscale (H, W) one is repeated on the three channels."""
    img = np.asarray(img)
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


def modcrop(img, r) -> np.ndarray:
    """Crop the bottom rows / right columns so H and W are multiples of r.

    img: (H, W) or (H, W, C). Returns a view of shape (H - H % r, W - W % r, ...).
    """
    r = check_int(r, "r", 1)
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"img must have shape (H, W) or (H, W, C), got {img.shape}")
    H, W = img.shape[:2]
    if H < r or W < r:
        raise ValueError(f"img of size {H}x{W} is smaller than r = {r}")
    return img[: H - H % r, : W - W % r]


def make_lr_hr_pair(y_uint8_hr, r, degradation="bicubic", sigma=None):
    """Protocol steps 3-4: modcrop, Y / 255, LR = imresize(Y, 1/r) in float.

    y_uint8_hr: (H, W) uint8 Y channel (see :func:`rgb_to_y_uint8`), or an
    (H, W, 3) uint8 RGB image for a colour network (each channel alike).
    degradation: "bicubic" (the protocol; the tables) or "gaussian"
    (:func:`gaussian_degrade` with ``sigma``). The LR image is not rounded.
    Returns (lr, hr) float32 in [0, 1] (bicubic LR may overshoot slightly):
    lr (h, w[, 3]), hr (h r, w r[, 3]) with h = H // r, w = W // r.
    """
    r = check_int(r, "r", 1)
    y = np.asarray(y_uint8_hr)
    if y.dtype != np.uint8 or not (y.ndim == 2 or (y.ndim == 3 and y.shape[2] == 3)):
        raise ValueError(f"y_uint8_hr must be a uint8 (H, W) Y image or an (H, W, 3) RGB one, got {y.dtype} {y.shape}")
    hr = modcrop(y, r).astype(np.float64) / 255.0  # (h r, w r)
    if degradation == "bicubic":
        lr = imresize(hr, scale=1 / r)
    elif degradation == "gaussian":
        lr = gaussian_degrade(hr, r, sigma)
    else:
        raise ValueError(f"degradation must be 'bicubic' or 'gaussian', got {degradation!r}")
    return lr.astype(np.float32), hr.astype(np.float32)


def patch_origins(h: int, w: int, size: int = 17, stride: int | None = None) -> np.ndarray:
    """Top-left LR corners (i, j) of the size x size sub-images, row-major.

    i = 0, stride, 2 stride, ... while i + size <= h (same for j). Returns
    (P, 2) int; P = 0 if the image is smaller than one sub-image.
    """
    h, w = check_int(h, "h", 0), check_int(w, "w", 0)
    size = check_int(size, "size", 1)
    stride = size if stride is None else check_int(stride, "stride", 1)
    ii = np.arange(0, h - size + 1, stride)
    jj = np.arange(0, w - size + 1, stride)
    return np.stack(np.meshgrid(ii, jj, indexing="ij"), axis=-1).reshape(-1, 2)


def dihedral(x, k):
    """The k-th of the 8 flips / 90-degree rotations of the last two axes: rot90^(k % 4),
    then a flip of the last axis if k >= 4. An odd rotation swaps the two axes' lengths."""
    x = np.rot90(x, k % 4, axes=(-2, -1))
    return x[..., ::-1] if k >= 4 else x


def extract_patches(lr, hr, r, size=17, stride=None, rng=None, augment=False):
    """Sec. 3.2's training sub-images: size x size in LR, (size r) x (size r) in HR.

    lr: (h, w), hr: (h r, w r), float. The LR sub-image at (i, j) (see
    :func:`patch_origins`) is paired with the HR sub-image at (i r, j r).
    Default stride = size: non-overlapping tiles, so every HR pixel of the
    cropped image hr[:ny size r, :nx size r] (ny = h // size, nx = w // size)
    is ground truth exactly once; the bottom h % size LR rows and right
    w % size LR columns (times r in HR) are dropped. stride < size overlaps
    (more sub-images), stride > size leaves gaps.

    augment: give every sub-image pair one of the 8 flips / 90-degree
    rotations, drawn from ``rng`` (a numpy.random.Generator, required), the
    same one for LR and HR. The count P does not change.

    Returns (lr_patches (P, 1, size, size), hr_patches (P, 1, size r, size r)),
    float32; P = 0 when the LR image is smaller than size x size.
    """
    r = check_int(r, "r", 1)
    lr = as_float_array(lr, "lr", ndim=2, shape_doc="(h, w)")
    hr = as_float_array(hr, "hr", ndim=2, shape_doc="(h r, w r)")
    h, w = lr.shape
    if hr.shape != (h * r, w * r):
        raise ValueError(f"hr must have shape (h r, w r) = {(h * r, w * r)} for lr of shape "
                         f"{lr.shape} and r = {r}, got {hr.shape}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if augment and rng is None:
        raise ValueError("augment=True needs rng, a numpy.random.Generator")
    size = check_int(size, "size", 1)
    stride = size if stride is None else check_int(stride, "stride", 1)
    win = np.lib.stride_tricks.sliding_window_view
    P = len(patch_origins(h, w, size, stride))
    if P == 0:
        return (np.zeros((0, 1, size, size), np.float32),
                np.zeros((0, 1, size * r, size * r), np.float32))
    lr_p = win(lr, (size, size))[::stride, ::stride].reshape(P, 1, size, size)
    hr_p = win(hr, (size * r, size * r))[::stride * r, ::stride * r].reshape(P, 1, size * r, size * r)
    lr_p, hr_p = lr_p.astype(np.float32), hr_p.astype(np.float32)  # copies, row-major like patch_origins
    if augment:
        random_dihedral(lr_p, hr_p, rng)
    return lr_p, hr_p


def random_dihedral(lr_p, hr_p, rng):
    """Give each sub-image pair one of the 8 flips / 90-degree rotations, in place
    (augmentation; Sec. 3.2 trains without it).

    lr_p: (P, C, s, s), hr_p: (P, C, s r, s r), writable and square; the same
    transform for both arrays of a pair, drawn uniformly from ``rng`` (a
    numpy.random.Generator: one draw of P integers). Returns (lr_p, hr_p).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if lr_p.ndim != 4 or hr_p.ndim != 4 or len(lr_p) != len(hr_p):
        raise ValueError(f"lr_p and hr_p must be (P, C, s, s) and (P, C, s r, s r) with the same P, "
                         f"got {lr_p.shape} and {hr_p.shape}")
    if lr_p.shape[-1] != lr_p.shape[-2] or hr_p.shape[-1] != hr_p.shape[-2]:
        raise ValueError(f"sub-images must be square to rotate, got {lr_p.shape} and {hr_p.shape}")
    ks = rng.integers(0, 8, size=len(lr_p))
    for k in range(1, 8):
        sel = ks == k
        lr_p[sel] = dihedral(lr_p[sel], k)
        hr_p[sel] = dihedral(hr_p[sel], k)
    return lr_p, hr_p
