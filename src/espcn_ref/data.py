"""Data: image IO, colour, MATLAB's bicubic imresize, degradation, training patches.

ESPCN (Shi et al., CVPR 2016) super-resolves the luminance channel Y only
(Sec. 3); Cb and Cr are upscaled with bicubic interpolation. The evaluation protocol the
literature's tables use (SRCNN's MATLAB scripts; see PROTOCOL.md) is::

    1. HR image as uint8 RGB; a single-channel image is used as Y directly
    2. Y = round(16 + 65.481 R + 128.553 G + 24.966 B) as uint8, R, G, B in [0, 1]
    3. modcrop Y to a multiple of r (crop bottom/right)
    4. I^HR = Y / 255 (float); I^LR = imresize(I^HR, 1/r, 'bicubic'), float, NOT rounded
    5. the upscaled result is clipped to [0, 1] and stored as uint8(round(255 x))
    6. PSNR / SSIM on Y with r pixels shaved (espcn_ref.metrics)

MATLAB imresize 'bicubic' (Keys cubic, a = -0.5), one axis at a time::

    cubic(d) = 1.5|d|^3 - 2.5|d|^2 + 1                 |d| <= 1
             = -0.5|d|^3 + 2.5|d|^2 - 4|d| + 2         1 < |d| <= 2,   0 otherwise
    shrinking (s < 1): h(d) = s cubic(s d), kernel width 4 / s (antialiasing)
    output pixel x (1-based) -> input coordinate u = x / s + 0.5 (1 - 1/s)
    inputs floor(u - width/2) + 0 .. ceil(width) + 1, clamped to [1, L] (replicate)
    out[x] = sum_j h(u - j) in[j] / sum_j h(u - j);  output length ceil(s L)

Training pairs (Sec. 3.2): 17r x 17r HR sub-images and the matching 17 x 17 LR
sub-images. Sec. 2 describes I^LR as I^HR blurred with a Gaussian filter and
downsampled by r; the paper's results tables, like ours, use the bicubic
protocol above. Both degradations are here.

Conventions: images are (H, W) or (H, W, C) NumPy arrays (HWC, as image files
are; the network side converts to NCHW). "[0, 255] scale" means float values
in the uint8 range; "[0, 1]" means divided by 255.
"""

from __future__ import annotations

import numbers
import os
import tempfile
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from ._checks import as_float_array, check_int

IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")

# --- Image files ---------------------------------------------------------------


def load_image(path) -> np.ndarray:
    """Read an image file as uint8: (H, W) grayscale or (H, W, 3) RGB.

    Decoded with imageio.v3 (first frame of a multi-frame file), then:
    (H, W, 1) -> (H, W); palette images arrive as RGB(A) from imageio; an alpha
    channel (gray+alpha or RGBA) is DISCARDED, colours are kept as stored (not
    composited on a background), with a UserWarning if any pixel is not fully
    opaque; 1-bit images map to {0, 255}; 16-bit data maps to 8 bits as
    round(x / 257) (never a tie, since 257 is odd). Note that Pillow, imageio's
    PNG backend, itself reduces 16-bit *colour* PNGs to 8 bits by keeping the
    high byte (x >> 8), so those can be 1 lower than round(x / 257); 16-bit
    grayscale PNGs arrive as 16 bits and are rounded here.

    Raises FileNotFoundError if ``path`` does not exist, ValueError (with the
    path and the reason) if it cannot be decoded or is not a 2-D image.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    if not path.is_file():
        raise ValueError(f"cannot read image {path}: not a regular file")
    try:
        img = np.asarray(iio.imread(path, index=0))
    except Exception as err:  # imageio raises OSError, ValueError, SyntaxError, ... by backend
        raise ValueError(f"cannot read image {path}: {type(err).__name__}: {err}") from err
    return _normalise_image(img, str(path))


def _normalise_image(img: np.ndarray, source: str) -> np.ndarray:
    """Decoded array of any supported layout/dtype -> uint8 (H, W) or (H, W, 3)."""
    if img.ndim == 3 and img.shape[2] in (2, 4):
        alpha = img[:, :, -1]
        opaque = np.iinfo(img.dtype).max if img.dtype.kind in "iu" else 1
        if np.any(alpha != opaque):
            warnings.warn(f"{source}: alpha channel has transparent pixels; it is discarded "
                          "and the stored colours are kept", UserWarning, stacklevel=3)
        img = img[:, :, :-1]
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"cannot read image {source}: expected a grayscale or RGB(A) image, "
                         f"got an array of shape {img.shape}")
    if img.dtype == np.bool_:
        return img.astype(np.uint8) * np.uint8(255)
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)  # round(x / 257)
    if img.dtype != np.uint8:
        raise ValueError(f"cannot read image {source}: unsupported pixel type {img.dtype} "
                         "(expected 8-bit, 16-bit or 1-bit)")
    return np.ascontiguousarray(img)


def save_image(path, img) -> None:
    """Write a uint8 image (H, W) or (H, W, 3) atomically; format from the extension.

    The image is encoded in memory, written to a temporary file in the same
    directory and moved over ``path`` with os.replace, so ``path`` is either
    untouched or complete, never partial, and no temporary file is left
    behind. Extensions: .png .bmp .jpg .jpeg .tif .tiff (JPEG is lossy).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(f"path {path}: unsupported image extension {path.suffix!r}, "
                         f"expected one of {IMAGE_EXTENSIONS}")
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f"img must be uint8, got dtype {img.dtype} "
                        "(convert [0, 1] floats with espcn_ref.metrics.to_uint8)")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"img must have shape (H, W) or (H, W, 3), got {img.shape}")
    encoded = iio.imwrite("<bytes>", img, extension=ext)  # fails before any file exists
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encoded)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process umask (reading it means setting it; restored at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- Colour: ITU-R BT.601 studio swing, as MATLAB's rgb2ycbcr / ycbcr2rgb ------

# [Y, Cb, Cr] = _T @ [R, G, B] + _OFFSET for R, G, B in [0, 1].
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
    values outside [0, 255]; clip and round before saving).
    """
    x = _check_rgb(ycc, "ycc")
    return (x - _OFFSET) @ _T255_INV.T


def round_half_away(x) -> np.ndarray:
    """MATLAB's round: halves go away from zero (2.5 -> 3, -2.5 -> -3).

    numpy.round rounds halves to even (2.5 -> 2). x: any shape; float result.
    Written with trunc, which is exact, so 0.49999999999999994 stays 0.
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    whole = np.trunc(x)
    return whole + np.where(np.abs(x - whole) >= 0.5, np.sign(x), 0).astype(x.dtype)


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


# --- MATLAB imresize 'bicubic' ---------------------------------------------------


def _cubic(d):
    """Keys cubic kernel with a = -0.5, written as MATLAB's imresize writes it."""
    absd = np.abs(d)
    absd2, absd3 = absd**2, absd**3
    return ((1.5 * absd3 - 2.5 * absd2 + 1) * (absd <= 1)
            + (-0.5 * absd3 + 2.5 * absd2 - 4 * absd + 2) * ((1 < absd) & (absd <= 2)))


def resize_weights(in_len: int, out_len: int, scale: float):
    """Per-axis weight and index tables of MATLAB's imresize 'bicubic'.

    Returns (weights, indices), both (out_len, P): out[x] = sum_p
    weights[x, p] * in[indices[x, p]], 0-based clamped indices, rows summing
    to 1. Columns that are zero for every output pixel are dropped (MATLAB
    does the same), so P <= ceil(4 / min(scale, 1)) + 2.
    """
    width = 4.0
    if scale < 1:  # antialiasing: stretch the kernel to low-pass before decimating
        def h(d):
            return scale * _cubic(scale * d)
        width /= scale
    else:
        h = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # input coordinate of output pixel x (1-based)
    left = np.floor(u - width / 2)
    P = int(np.ceil(width)) + 2
    idx = left[:, None] + np.arange(P)  # (out_len, P), 1-based
    weights = h(u[:, None] - idx)
    weights /= weights.sum(axis=1, keepdims=True)
    keep = np.any(weights != 0, axis=0)
    indices = np.clip(idx, 1, in_len).astype(np.intp) - 1  # replicate borders
    return weights[:, keep], indices[:, keep]


def _resize_axis(img, axis, weights, indices):
    """One separable pass along ``axis``: a gather per tap, summed in float64."""
    x = np.moveaxis(img, axis, 0)  # (L_in, ...)
    shape = (-1,) + (1,) * (x.ndim - 1)
    out = np.zeros((weights.shape[0],) + x.shape[1:])  # (L_out, ...)
    for p in range(weights.shape[1]):
        out += weights[:, p].reshape(shape) * x[indices[:, p]]
    return np.moveaxis(out, 0, axis)


def imresize(img, scale=None, output_shape=None) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')`` (antialiased when shrinking).

    img: (H, W) or (H, W, C), float32/float64 (any range) or uint8.
    Give exactly one of ``scale`` (> 0, both axes; output ceil(scale * H) x
    ceil(scale * W)) or ``output_shape`` (h, w) (per-axis scale h / H, w / W).
    Axes are resized one at a time, the smaller scale first, height first on
    a tie. Float input: computed in float64, returned in the input dtype,
    never rounded. uint8 input: rounded half away and clipped to uint8 after
    EACH pass, as MATLAB does. See the module doc for the formulas.
    """
    arr = np.asarray(img)
    is_uint8 = arr.dtype == np.uint8
    if not is_uint8:
        arr = as_float_array(arr, "img")
    if arr.ndim not in (2, 3):
        raise ValueError(f"img must have shape (H, W) or (H, W, C), got {arr.shape}")
    H, W = arr.shape[:2]
    if H < 1 or W < 1:
        raise ValueError(f"img must be non-empty, got shape {arr.shape}")
    scales, out_hw = _resize_plan(H, W, scale, output_shape)
    out = arr
    for axis in sorted((0, 1), key=lambda a: scales[a]):  # stable: height first on a tie
        weights, indices = resize_weights(arr.shape[axis], out_hw[axis], scales[axis])
        out = _resize_axis(out, axis, weights, indices)
        if is_uint8:
            out = np.clip(round_half_away(out), 0, 255).astype(np.uint8)
    return out if is_uint8 else out.astype(arr.dtype, copy=False)


def _resize_plan(H, W, scale, output_shape):
    """Validate the arguments; return ((s_h, s_w), (out_h, out_w))."""
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if scale is not None:
        if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
            raise TypeError(f"scale must be a real number, got {scale!r}")
        scale = float(scale)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale}")
        out_hw = (int(np.ceil(scale * H)), int(np.ceil(scale * W)))
        return (scale, scale), out_hw
    if not isinstance(output_shape, (tuple, list)) or len(output_shape) != 2:
        raise ValueError(f"output_shape must be a pair (h, w), got {output_shape!r}")
    h = check_int(output_shape[0], "output_shape[0]", 1)
    w = check_int(output_shape[1], "output_shape[1]", 1)
    return (h / H, w / W), (h, w)


def bicubic_upscale(lr, r) -> np.ndarray:
    """``imresize(lr, r)``: the bicubic baseline, also used for Cb and Cr.

    lr: (h, w) or (h, w, C), float or uint8. Returns (h r, w r[, C]), same dtype.
    """
    return imresize(lr, scale=check_int(r, "r", 1))


# --- Degradation: HR -> LR -----------------------------------------------------


def gaussian_kernel1d(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian, taps at -R..R with R = ceil(4 sigma); [1.] if sigma = 0."""
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    R = int(np.ceil(4 * sigma))
    if R == 0:
        return np.ones(1)
    t = np.arange(-R, R + 1, dtype=np.float64)
    g = np.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def _blur_axis(x, axis, g):
    """Correlate ``x`` with the odd-length ``g`` along ``axis``, replicate borders."""
    R = len(g) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (R, R)
    xp = np.pad(x, pad, mode="edge")
    L = x.shape[axis]
    return sum(g[k] * np.take(xp, np.arange(k, k + L), axis=axis) for k in range(len(g)))


def gaussian_degrade(img, r, sigma=None) -> np.ndarray:
    """Sec. 2's degradation: Gaussian blur with std ``sigma``, then every r-th pixel.

    img: (H, W) or (H, W, C) float. Returns (H // r, W // r[, C]) in float64.
    The blur is separable, with replicate borders. The kept pixels are
    rows/cols o, o + r, o + 2r, ... with o = (r - 1) // 2: the centre of each
    r x r block for odd r, which is where MATLAB's bicubic LR pixels sit
    (for even r it is half a pixel up-left of the centre). Remainder rows /
    columns (H % r, W % r) are ignored: modcrop first.

    sigma: the paper gives no value. None (default) -> (r - 1) / 2, the usual
    anti-aliasing rule of thumb (scikit-image's rescale uses it), not a paper
    value: 0 (no blur) at r = 1, 0.5 at r = 2, 1.0 at r = 3, 1.5 at r = 4.
    """
    r = check_int(r, "r", 1)
    x = as_float_array(img, "img").astype(np.float64, copy=False)
    if x.ndim not in (2, 3):
        raise ValueError(f"img must have shape (H, W) or (H, W, C), got {x.shape}")
    H, W = x.shape[:2]
    if H < r or W < r:
        raise ValueError(f"img of size {H}x{W} is smaller than r = {r}")
    g = gaussian_kernel1d((r - 1) / 2 if sigma is None else float(sigma))
    blurred = _blur_axis(_blur_axis(x, 0, g), 1, g)
    o = (r - 1) // 2
    return blurred[o : o + r * (H // r) : r, o : o + r * (W // r) : r]


def make_lr_hr_pair(y_uint8_hr, r, degradation="bicubic", sigma=None):
    """Protocol steps 3-4: modcrop, Y / 255, LR = imresize(Y, 1/r) in float.

    y_uint8_hr: (H, W) uint8 Y channel (see :func:`rgb_to_y_uint8`).
    degradation: "bicubic" (the protocol; the tables) or "gaussian"
    (:func:`gaussian_degrade` with ``sigma``). The LR image is not rounded.
    Returns (lr, hr) float32 in [0, 1] (bicubic LR may overshoot slightly):
    lr (h, w), hr (h r, w r) with h = H // r, w = W // r.
    """
    r = check_int(r, "r", 1)
    y = np.asarray(y_uint8_hr)
    if y.dtype != np.uint8 or y.ndim != 2:
        raise ValueError(f"y_uint8_hr must be a uint8 (H, W) Y image, got {y.dtype} {y.shape}")
    hr = modcrop(y, r).astype(np.float64) / 255.0  # (h r, w r)
    if degradation == "bicubic":
        lr = imresize(hr, scale=1 / r)
    elif degradation == "gaussian":
        lr = gaussian_degrade(hr, r, sigma)
    else:
        raise ValueError(f"degradation must be 'bicubic' or 'gaussian', got {degradation!r}")
    return lr.astype(np.float32), hr.astype(np.float32)


# --- Training sub-images (Sec. 3.2) ----------------------------------------------


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


def _dihedral(x, k):
    """The k-th of the 8 flips / 90-degree rotations of the last two axes (square)."""
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
        ks = rng.integers(0, 8, size=P)
        for k in range(1, 8):
            sel = ks == k
            lr_p[sel] = _dihedral(lr_p[sel], k)
            hr_p[sel] = _dihedral(hr_p[sel], k)
    return lr_p, hr_p


# --- Datasets ------------------------------------------------------------------

# The photos bundled inside scikit-image's wheel (no download needed).
_SAMPLES = {
    "astronaut": lambda d: d.astronaut(),
    "brick": lambda d: d.brick(),
    "camera": lambda d: d.camera(),
    "cell": lambda d: d.cell(),
    "chelsea": lambda d: d.chelsea(),
    "coffee": lambda d: d.coffee(),
    "coins": lambda d: d.coins(),
    "grass": lambda d: d.grass(),
    "gravel": lambda d: d.gravel(),
    "hubble_deep_field": lambda d: d.hubble_deep_field(),
    "immunohistochemistry": lambda d: d.immunohistochemistry(),
    "moon": lambda d: d.moon(),
    "motorcycle": lambda d: d.stereo_motorcycle()[0],
    "retina": lambda d: d.retina(),
    "rocket": lambda d: d.rocket(),
}
DEFAULT_SAMPLES = ("astronaut", "camera", "chelsea", "coffee", "immunohistochemistry",
                   "motorcycle", "rocket")


def sample_images(names=None) -> dict[str, np.ndarray]:
    """The offline default dataset: photos bundled with scikit-image.

    names: iterable of names from ``sorted(_SAMPLES)``; None -> DEFAULT_SAMPLES
    (natural photos: astronaut, camera, chelsea, coffee, immunohistochemistry,
    motorcycle, rocket). Only the requested images are loaded. Returns
    {name: uint8 (H, W) or (H, W, 3)}, normalised like :func:`load_image`.
    """
    import skimage.data

    names = DEFAULT_SAMPLES if names is None else ((names,) if isinstance(names, str) else tuple(names))
    unknown = [n for n in names if n not in _SAMPLES]
    if unknown:
        raise ValueError(f"unknown sample image(s) {unknown}; available: {sorted(_SAMPLES)}")
    return {n: _normalise_image(np.asarray(_SAMPLES[n](skimage.data)), f"skimage.data:{n}")
            for n in names}


def list_images(folder) -> list[Path]:
    """Image files (.png .bmp .jpg .jpeg .tif .tiff, any case) in ``folder``, sorted by name.

    Not recursive. Raises FileNotFoundError / NotADirectoryError for a bad
    folder and ValueError if it holds no image.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"dataset folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"dataset path is not a folder: {folder}")
    paths = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    return paths


def find_data_dir(explicit=None) -> Path | None:
    """The dataset root (holding Set5/, Set14/, BSD100/, T91/), or None.

    In order: ``explicit`` if given (FileNotFoundError if missing); the
    ESPCN_DATA environment variable if set (FileNotFoundError if missing);
    ``../shared/data`` relative to the current working directory if it
    exists; else None, meaning: use :func:`sample_images`.
    """
    for source, value in (("explicit", explicit), ("ESPCN_DATA", os.environ.get("ESPCN_DATA"))):
        if value is not None and str(value) != "":
            path = Path(value)
            if not path.is_dir():
                raise FileNotFoundError(f"data directory from {source} not found: {path}")
            return path
    default = Path.cwd().parent / "shared" / "data"
    return default.resolve() if default.is_dir() else None
