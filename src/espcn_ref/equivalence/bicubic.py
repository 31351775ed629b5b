"""Bicubic upscaling is a deconvolution layer with a fixed kernel (Sec. 2.1).

Sec. 2.1 of Shi et al. (CVPR 2016) notes that the bicubic interpolation
SRCNN starts from is a special case of the deconvolution layer. This module
builds that layer for MATLAB's ``imresize(x, r, 'bicubic')`` with integer r
(:func:`espcn_ref.data.resize.imresize`; no antialiasing when upscaling).

One axis, 0-based. Output pixel i samples the input at u_i = (i + 0.5)/r - 0.5
(MATLAB's pixel-centre convention), with Keys' cubic, a = -0.5::

    imresize:        y[i] = sum_j cubic(u_i - j) x[j]
    transposed conv: y[i] = sum_j k[i + p - r j] x[j]        (stride r, padding p)

so k[t] = cubic((t - p + 0.5 - r/2) / r): the weights repeat with period r
in i. cubic vanishes for |d| >= 2, which leaves the taps with
|t - p + 0.5 - r/2| < 2r: 4r of them for even r, 4r - 1 for odd r (there
the two end taps land on d = +-2, where cubic is 0). Centred::

    K = 4r - (r mod 2),   p = (K - r) / 2 = floor(3r / 2)
    k[t] = cubic((t - (K - 1)/2) / r),   t = 0 .. K - 1
    output size (H - 1) r - 2p + K = rH;  k[t] = k[K - 1 - t];  sum(k) = r
    2-D: w_t = outer(k, k), one (K, K) kernel, because imresize is separable

r = 2: K = 8, p = 3, k = [-3, -9, 29, 111, 111, 29, -9, -3] / 128.

The border. imresize clamps a tap that falls outside [0, L - 1] to the edge
pixel (MATLAB's ``indices = min(max(1, indices), in_length)``: replicate);
the transposed convolution has nothing there (zero padding). Output i
differs iff one of its non-zero taps is outside: iff u_i is not an integer
and u_i < 1 or u_i > L - 2 (:func:`bicubic_border`). That is 3 floor(r/2)
pixels at each end of an axis of L >= 3 LR pixels, 2 floor(r/2) min(L, 3) in
all: every pixel within p of the end, except, for odd r, the one on an LR
pixel centre (there u_i is an integer and its only non-zero tap is x[j]).
Replicate-padding x by 2 LR pixels (the furthest a tap reaches) and raising
p by 2r makes the two equal everywhere.

As eq. (3): ``transposed_to_subpixel(w_t, r, p)`` (with ``pad_kernel=True``
for odd r, whose K is not a multiple of r) gives r^2 fixed 4 x 4 filters,
outer products of the 4 weights imresize gives each phase, then PS: bicubic
upscaling is an ESPCN last layer whose weights are never learnt.

Tensors: x (N, C, H, W), each channel upscaled alone; w_t (1, 1, K, K) as
PyTorch's ConvTranspose2d, so it goes into :mod:`.forms` unchanged.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_int, check_real
from ..ops.conv_transpose import conv_transpose2d


def keys_cubic(d, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel; a = -0.5 is MATLAB's 'bicubic'.

    d: array of distances in input pixels. Returns an array of d's shape::

        (a + 2)|d|^3 - (a + 3)|d|^2 + 1      |d| <= 1
        a|d|^3 - 5a|d|^2 + 8a|d| - 4a        1 < |d| < 2,   0 otherwise
    """
    a = check_real(a, "a")
    d = np.abs(np.asarray(d, dtype=np.float64))
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def bicubic_kernel1d(r: int, a: float = -0.5) -> np.ndarray:
    """The 1-D deconvolution kernel of bicubic upscaling by r.

    Returns k: (K,) float64, K = 4r - (r mod 2), k[t] = cubic((t - (K-1)/2) / r):
    Keys' cubic sampled every 1/r input pixel, centred, symmetric, summing to r.
    """
    r = check_int(r, "r", 1)
    K = 4 * r - r % 2
    return keys_cubic((np.arange(K) - (K - 1) / 2) / r, a)  # (K,)


def bicubic_deconv_kernel(r: int, a: float = -0.5):
    """The deconvolution layer equal to ``imresize(x, r)`` away from the border.

    Returns ``(w_t, p)``: w_t (1, 1, K, K) = outer(k, k) of
    :func:`bicubic_kernel1d`, and the padding p = (K - r) / 2 = floor(3r/2)
    for which ``conv_transpose2d(x, w_t, stride=r, padding=p)`` takes
    (N, 1, H, W) to (N, 1, rH, rW).
    """
    k = bicubic_kernel1d(r, a)
    K = k.size
    return np.outer(k, k)[None, None], (K - r) // 2  # (1, 1, K, K), p


def bicubic_as_conv_transpose2d(x, r: int) -> np.ndarray:
    """Bicubic upscaling by r as a stride-r transposed convolution.

    x: (N, C, H, W) float; every channel is upscaled alone. Returns
    (N, C, rH, rW) in x's dtype: ``imresize`` of each channel, to rounding,
    except at the pixels :func:`bicubic_border` marks, where the zero padding
    of the deconvolution stands in for imresize's replicated edge.
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    w_t, p = bicubic_deconv_kernel(r)
    N, C, H, W = x.shape
    y = conv_transpose2d(x.reshape(N * C, 1, H, W), w_t.astype(x.dtype), stride=r, padding=p)  # (N C, 1, rH, rW)
    return y.reshape(N, C, r * H, r * W)


def bicubic_border(L: int, r: int) -> np.ndarray:
    """Where the deconvolution and imresize differ along one axis.

    L: LR length (>= 1). Returns mask: (rL,) bool, True at output pixel i iff
    a non-zero tap of i lies outside the image: u_i = (i + 0.5)/r - 0.5 is
    not an integer and u_i < 1 or u_i > L - 2. It has 2 floor(r/2) min(L, 3)
    True entries. In 2-D, the pixels that differ (for an image whose edge
    values do not cancel) are ``bicubic_border(H, r)[:, None] | bicubic_border(W, r)[None, :]``.
    """
    L, r = check_int(L, "L", 1), check_int(r, "r", 1)
    twice_u = 2 * np.arange(r * L) + 1 - r  # 2 r u_i, an integer: (rL,)
    on_a_pixel = twice_u % (2 * r) == 0  # u_i is an integer: the only non-zero tap is x[u_i]
    return ~on_a_pixel & ((twice_u < 2 * r) | (twice_u > 2 * r * (L - 2)))
