"""Sub-pixel convolution = fractional-stride convolution = transposed convolution.

Sec. 2.2 of Shi et al. (CVPR 2016) makes three claims about a convolution
with stride 1/r and a k_s x k_s filter W_s:

1. it has exactly r^2 activation patterns (one per sub-pixel phase);
2. each pattern activates at most ceil(k_s / r)^2 weights;
3. when mod(k_s, r) = 0 it equals a stride-1 convolution in LR space with
   r^2 filters of size k_s / r, followed by the periodic shuffle: eq. (3),
   ``I_SR = PS(W_L * f^{L-1}(I_LR) + b_L)``.

This module writes one filter bank three ways, with exact conversions:

* :func:`transposed_conv2d` - the deconvolution layer: every LR pixel stamps
  the kernel onto the HR grid at stride r (a scatter-add).
* :func:`fractional_stride_conv2d` - the same in HR space: insert r - 1
  zeros between LR pixels, pad by k_s - 1 - p, and run a stride-1 conv with
  the kernel flipped and its in/out channels swapped (Dumoulin & Visin 2016).
* :func:`subpixel_conv2d` - eq. (3): a stride-1 conv in LR space giving
  C_out r^2 channels, the periodic shuffle, and a crop of the HR border.

The weight conversion (m = k_s / r, phase i = row mod r, j = column mod r)::

    w_s[channel(o, i, j), c, u, v] = w_t[c, o, i + r (m - 1 - u), j + r (m - 1 - v)]
    lr_padding = max(0, m - 1 - p // r)
    hr_crop    = p - r (m - 1 - lr_padding)

It is a relabelling of the same k_s^2 C_in C_out numbers, so it is exact in
both directions, and gradients convert with the same map.

Tensors: x (N, C_in, H, W); w_t (C_in, C_out, k_s, k_s) as PyTorch's
ConvTranspose2d; w_s (C_out r^2, C_in, m, m) as a Conv2d.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import as_float_array, check_int
from ..ops.conv import conv2d, conv2d_backward
from ..ops.conv_transpose import conv_transpose2d, conv_transpose2d_backward
from ..ops.shuffle import order_code, pixel_shuffle, pixel_unshuffle, shuffle_permutation

# --- argument checks -----------------------------------------------------------


def _check_w_t(w_t, r):
    w_t = as_float_array(w_t, "w_t", ndim=4, shape_doc="(C_in, C_out, k_s, k_s)")
    r = check_int(r, "r", 1)
    if w_t.shape[2] != w_t.shape[3]:
        raise ValueError(f"w_t must have a square k_s x k_s kernel, got shape {w_t.shape}")
    return w_t, r


def _check_ks_multiple(k_s, r, pad_kernel):
    if k_s % r and not pad_kernel:
        raise ValueError(
            f"k_s = {k_s} is not a multiple of r = {r}: sub-pixel convolution with "
            f"r^2 filters of size k_s/r needs mod(k_s, r) = 0 (Sec. 2.2). Pass "
            f"pad_kernel=True to zero-pad the kernel to {-(-k_s // r) * r}x{-(-k_s // r) * r}"
        )


def _check_crop(crop):
    """crop: int, or (top, bottom, left, right). Returns the 4-tuple."""
    if isinstance(crop, (tuple, list)):
        if len(crop) != 4:
            raise ValueError(f"crop must be an int or (top, bottom, left, right), got {crop!r}")
        return tuple(check_int(c, "crop", 0) for c in crop)
    c = check_int(crop, "crop", 0)
    return (c, c, c, c)


# --- the three forms -----------------------------------------------------------


def transposed_conv2d(x, w_t, r: int, padding: int = 0) -> np.ndarray:
    """The deconvolution layer (Sec. 2.1): scatter-add at stride r.

    x: (N, C_in, H, W); w_t: (C_in, C_out, k_s, k_s); padding p >= 0.
    Returns (N, C_out, (H - 1) r - 2p + k_s, same for W).
    """
    w_t, r = _check_w_t(w_t, r)
    return conv_transpose2d(x, w_t, None, stride=r, padding=padding)


def transposed_conv2d_backward(dy, x, w_t, r: int, padding: int = 0):
    """Gradients (dx, dw_t) of :func:`transposed_conv2d`.

    dy: (N, C_out, (H - 1) r - 2p + k_s, same for W), dL/d(output);
    x: (N, C_in, H, W); w_t: (C_in, C_out, k_s, k_s).
    Returns dx: x.shape, dw_t: w_t.shape.
    """
    w_t, r = _check_w_t(w_t, r)
    dx, dw, _ = conv_transpose2d_backward(dy, x, w_t, stride=r, padding=padding)
    return dx, dw


def zero_insert(x, r: int, border: int = 0) -> np.ndarray:
    """Put r - 1 zeros between neighbouring pixels, then pad (or crop) the border.

    x: (N, C, H, W). Returns (N, C, (H - 1) r + 1 + 2 border, likewise W):
    the "fractional stride" input of Sec. 2.2. A negative border crops.
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    r = check_int(r, "r", 1)
    border = check_int(border, "border", -(2**62))
    N, C, H, W = x.shape
    Hz, Wz = (H - 1) * r + 1, (W - 1) * r + 1
    pad, cut = max(border, 0), max(-border, 0)
    if Hz + 2 * border < 1 or Wz + 2 * border < 1:
        raise ValueError(f"cropping {cut} pixels from each side of a {Hz}x{Wz} zero-inserted map leaves nothing")
    z = np.zeros((N, C, Hz + 2 * pad, Wz + 2 * pad), dtype=x.dtype)
    z[:, :, pad : pad + Hz : r, pad : pad + Wz : r] = x
    return z[:, :, cut : z.shape[2] - cut, cut : z.shape[3] - cut]


def flip_kernel(w_t) -> np.ndarray:
    """(C_in, C_out, k, k) -> (C_out, C_in, k, k), spatially flipped: the conv2d
    kernel that, run over the zero-inserted map, equals the transposed conv."""
    w_t = as_float_array(w_t, "w_t", ndim=4, shape_doc="(C_in, C_out, k, k)")
    return np.ascontiguousarray(w_t.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def fractional_stride_conv2d(x, w_t, r: int, padding: int = 0) -> np.ndarray:
    """Convolution with stride 1/r, done in HR space (Sec. 2.2).

    x: (N, C_in, H, W); w_t: (C_in, C_out, k_s, k_s), the *transposed-conv*
    layout, so the same w_t goes into all of this module's forms.
    Returns the same array as ``transposed_conv2d(x, w_t, r, padding)``, at
    r^2 times the multiply-adds (most of them multiply inserted zeros).
    """
    w_t, r = _check_w_t(w_t, r)
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C_in, H, W)")
    _check_same_output(x, w_t, r, padding)
    k_s = w_t.shape[2]
    z = zero_insert(x, r, border=k_s - 1 - padding)  # (N, C_in, (H-1)r + 1 + 2(k-1-p), ...)
    return conv2d(z, flip_kernel(w_t))


def fractional_stride_conv2d_backward(dy, x, w_t, r: int, padding: int = 0):
    """Gradients (dx, dw_t) of :func:`fractional_stride_conv2d`.

    dy: (N, C_out, (H - 1) r - 2p + k_s, same for W), dL/d(output);
    x: (N, C_in, H, W); w_t: (C_in, C_out, k_s, k_s).
    Returns dx: x.shape, dw_t: w_t.shape.
    """
    w_t, r = _check_w_t(w_t, r)
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C_in, H, W)")
    _check_same_output(x, w_t, r, padding)
    k_s = w_t.shape[2]
    border = k_s - 1 - padding
    z = zero_insert(x, r, border)
    dz, dw_f, _ = conv2d_backward(dy, z, flip_kernel(w_t))
    # zero insertion's backward: pad back what was cropped, then read every r-th pixel
    pad, cut = max(border, 0), max(-border, 0)
    dz = np.pad(dz, ((0, 0), (0, 0), (cut, cut), (cut, cut)))
    dx = dz[:, :, pad :: r, pad :: r][:, :, : x.shape[2], : x.shape[3]]
    return np.ascontiguousarray(dx), flip_kernel(dw_f)


def subpixel_conv2d(x, w_s, r: int, padding: int = 0, crop=0, order: str = "crd") -> np.ndarray:
    """Sub-pixel convolution, eq. (3): ``PS(W_s * x)`` then crop the HR border.

    x: (N, C_in, H, W); w_s: (C_out r^2, C_in, m, m) with m = k_s / r.
    padding: LR zero padding of the stride-1 conv. crop: HR pixels cut from
    each side, an int or (top, bottom, left, right).
    Returns (N, C_out, r (H + 2 padding - m + 1) - top - bottom, ...).
    """
    top, bottom, left, right = _check_crop(crop)
    y = pixel_shuffle(conv2d(x, w_s, None, 1, padding), r, order)  # (N, C_out, rH', rW')
    _, _, Hr, Wr = y.shape
    if top + bottom >= Hr or left + right >= Wr:
        raise ValueError(f"crop {(top, bottom, left, right)} leaves nothing of the {Hr}x{Wr} shuffled output")
    return y[:, :, top : Hr - bottom, left : Wr - right]


def subpixel_conv2d_backward(dy, x, w_s, r: int, padding: int = 0, crop=0, order: str = "crd"):
    """Gradients (dx, dw_s) of :func:`subpixel_conv2d`: un-crop (zero-pad),
    un-shuffle (PS^-1, a permutation), then the conv2d backward.

    dy: (N, C_out, OH, OW), dL/d(output), the shape subpixel_conv2d returned;
    x: (N, C_in, H, W); w_s: (C_out r^2, C_in, m, m).
    Returns dx: x.shape, dw_s: w_s.shape.
    """
    top, bottom, left, right = _check_crop(crop)
    dy = as_float_array(dy, "dy", ndim=4, shape_doc="(N, C_out, OH, OW)")
    dy_full = np.pad(dy, ((0, 0), (0, 0), (top, bottom), (left, right)))
    dx, dw, _ = conv2d_backward(pixel_unshuffle(dy_full, r, order), x, w_s, 1, padding)
    return dx, dw


def _check_same_output(x, w_t, r, padding):
    """The transposed conv's output must be non-empty; reuse its checks."""
    p = check_int(padding, "padding", 0)
    H, W = x.shape[2:]
    k_s = w_t.shape[2]
    if x.shape[1] != w_t.shape[0]:
        raise ValueError(f"x has {x.shape[1]} channels but w_t expects C_in = {w_t.shape[0]}")
    if min(H, W) < 1 or (min(H, W) - 1) * r - 2 * p + k_s < 1:
        raise ValueError(f"padding = {p} is out of range: the output of x of size {H}x{W} would be empty")


# --- weight conversions --------------------------------------------------------


def transposed_to_subpixel(w_t, r: int, padding: int = 0, order: str = "crd", pad_kernel: bool = False):
    """Convert a transposed-conv kernel to sub-pixel form, exactly.

    w_t: (C_in, C_out, k_s, k_s). Returns ``(w_s, lr_padding, hr_crop)`` with
    w_s: (C_out r^2, C_in, m, m), m = k_s / r, such that for every x::

        subpixel_conv2d(x, w_s, r, lr_padding, hr_crop, order) == transposed_conv2d(x, w_t, r, padding)

    If mod(k_s, r) != 0 this raises, unless ``pad_kernel=True``: then the
    kernel is zero-padded at its end to m = ceil(k_s / r) taps per phase and
    hr_crop is returned as (top, bottom, left, right), the extra
    r m - k_s pixels cut from the bottom and right.
    """
    w_t, r = _check_w_t(w_t, r)
    p = check_int(padding, "padding", 0)
    order_code(order)
    C_in, C_out, k_s, _ = w_t.shape
    _check_ks_multiple(k_s, r, pad_kernel)
    m = -(-k_s // r)
    extra = m * r - k_s
    if extra:
        w_t = np.pad(w_t, ((0, 0), (0, 0), (0, extra), (0, extra)))
    # tap a = t r + i (t-major), and LR tap u = m - 1 - t: flip the t axes
    w6 = w_t.reshape(C_in, C_out, m, r, m, r)[:, :, ::-1, :, ::-1, :]  # (c, o, u, i, v, j)
    w_crd = w6.transpose(1, 3, 5, 0, 2, 4).reshape(C_out * r * r, C_in, m, m)  # (o, i, j) channels
    w_s = np.ascontiguousarray(w_crd[shuffle_permutation(C_out, r, "crd", order)])
    lr_padding = max(0, m - 1 - p // r)
    hr_crop = p - r * (m - 1 - lr_padding)
    if extra:
        return w_s, lr_padding, (hr_crop, hr_crop + extra, hr_crop, hr_crop + extra)
    return w_s, lr_padding, hr_crop


def subpixel_to_transposed(w_s, r: int, order: str = "crd") -> np.ndarray:
    """Inverse of :func:`transposed_to_subpixel`: w_s (C_out r^2, C_in, m, m)
    -> w_t (C_in, C_out, r m, r m). Use :func:`transposed_padding` for the
    padding that matches a given (lr_padding, hr_crop)."""
    w_s = as_float_array(w_s, "w_s", ndim=4, shape_doc="(C_out*r^2, C_in, m, m)")
    r = check_int(r, "r", 1)
    order_code(order)
    Cr2, C_in, m, m2 = w_s.shape
    if m != m2:
        raise ValueError(f"w_s must have a square m x m kernel, got shape {w_s.shape}")
    if Cr2 % (r * r):
        raise ValueError(f"w_s has {Cr2} output channels, not divisible by r^2 = {r * r}")
    C_out = Cr2 // (r * r)
    w_crd = w_s[shuffle_permutation(C_out, r, order, "crd")]
    w6 = w_crd.reshape(C_out, r, r, C_in, m, m).transpose(3, 0, 4, 1, 5, 2)  # (c, o, u, i, v, j)
    w6 = w6[:, :, ::-1, :, ::-1, :]  # back to t = m - 1 - u
    return np.ascontiguousarray(w6).reshape(C_in, C_out, m * r, m * r)


def transposed_padding(m: int, r: int, lr_padding: int, hr_crop: int = 0) -> int:
    """The transposed conv's padding p equal to a sub-pixel conv with LR
    padding and HR crop: ``p = r (m - 1 - lr_padding) + hr_crop``.

    m, r >= 1, lr_padding >= 0 and hr_crop >= 0 are ints; hr_crop is one
    crop for all four sides (a padded kernel's (top, bottom, left, right)
    crop has no transposed convolution of the same output size).
    """
    if isinstance(hr_crop, (tuple, list)):
        raise TypeError(f"hr_crop must be one int for all sides, got {hr_crop!r}: an uneven crop "
                        "(from pad_kernel=True) has no transposed convolution of the same output size")
    m, r = check_int(m, "m", 1), check_int(r, "r", 1)
    lr_padding, hr_crop = check_int(lr_padding, "lr_padding", 0), check_int(hr_crop, "hr_crop", 0)
    p = r * (m - 1 - lr_padding) + hr_crop
    if p < 0:
        raise ValueError(
            f"lr_padding = {lr_padding} exceeds m - 1 = {m - 1} by more than hr_crop/r: "
            "no transposed convolution has that geometry (it would need negative padding)"
        )
    return p


# --- the counting claims of Sec. 2.2 --------------------------------------------


def activation_patterns(k_s: int, r: int, padding: int = 0) -> np.ndarray:
    """Which taps of the HR-space (fractional-stride) kernel meet real pixels.

    Returns mask: (r, r, k_s, k_s) bool, ``mask[i, j, a, b]`` is True when,
    at an output pixel with row phase i and column phase j, tap (a, b) of
    the flipped kernel lands on an LR pixel rather than an inserted zero.
    Tap a meets a real pixel iff ``(i + a - (k_s - 1 - padding)) mod r == 0``.

    There are r^2 patterns; each has at most ceil(k_s/r)^2 taps; they
    partition the kernel; all have exactly (k_s/r)^2 taps iff mod(k_s, r) = 0.
    """
    k_s = check_int(k_s, "k_s", 1)
    r = check_int(r, "r", 1)
    p = check_int(padding, "padding", 0)
    phase = np.arange(r)[:, None]
    tap = np.arange(k_s)[None, :]
    hits = (phase + tap - (k_s - 1 - p)) % r == 0  # (r, k_s): phase -> taps along one axis
    return hits[:, None, :, None] & hits[None, :, None, :]


def upsampling_cost(N: int, C_in: int, C_out: int, H: int, W: int, r: int, k_s: int) -> dict:
    """Multiply-adds of the three forms for an H x W LR input (Sec. 2.2).

    * sub-pixel: a conv in LR space with C_out r^2 filters of m x m,
      m = ceil(k_s / r): ``N H W C_in C_out r^2 m^2`` (= ``N H W C_in C_out k_s^2``
      when mod(k_s, r) = 0);
    * transposed (scatter-add): every LR pixel stamps a k_s x k_s kernel:
      ``N H W C_in C_out k_s^2``, the same count;
    * fractional stride: a conv over the rH x rW zero-inserted map:
      ``N (rH)(rW) C_in C_out k_s^2``, r^2 times more (borders ignored).

    Returns a dict with the three counts and ``scatter_adds``: how many
    output values the transposed form read-modify-writes
    (``N H W C_out k_s^2``, against ``N r^2 H W C_out`` written once by PS).
    """
    for name, v in dict(N=N, C_in=C_in, C_out=C_out, H=H, W=W, r=r, k_s=k_s).items():
        check_int(v, name, 1)
    m = math.ceil(k_s / r)
    lr = N * H * W * C_in * C_out
    return {
        "subpixel": lr * r * r * m * m,
        "transposed": lr * k_s * k_s,
        "fractional_stride": lr * r * r * k_s * k_s,
        "scatter_adds": N * H * W * C_out * k_s * k_s,
        "shuffle_writes": N * r * r * H * W * C_out,
    }
