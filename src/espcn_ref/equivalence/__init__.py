"""Upsampling layers that are the same layer written differently (Sec. 2.1-2.2).

* :mod:`.bicubic` - Sec. 2.1: bicubic upscaling by r (MATLAB's imresize) is
  a stride-r transposed convolution with a fixed (4r - r mod 2)^2 kernel;
  they differ only on 3 floor(r/2) pixels at each end of each axis.
* :mod:`.forms` - Sec. 2.2: sub-pixel convolution = fractional-stride
  convolution = transposed convolution, with exact weight conversions, the
  activation patterns and the cost model.

Every public name is importable from here: ``from espcn_ref.equivalence import X``.
"""

from .bicubic import (
    bicubic_as_conv_transpose2d,
    bicubic_border,
    bicubic_deconv_kernel,
    bicubic_kernel1d,
    keys_cubic,
)
from .forms import (
    activation_patterns,
    flip_kernel,
    fractional_stride_conv2d,
    fractional_stride_conv2d_backward,
    subpixel_conv2d,
    subpixel_conv2d_backward,
    subpixel_to_transposed,
    transposed_conv2d,
    transposed_conv2d_backward,
    transposed_padding,
    transposed_to_subpixel,
    upsampling_cost,
    zero_insert,
)

__all__ = [
    "activation_patterns",
    "bicubic_as_conv_transpose2d",
    "bicubic_border",
    "bicubic_deconv_kernel",
    "bicubic_kernel1d",
    "flip_kernel",
    "fractional_stride_conv2d",
    "fractional_stride_conv2d_backward",
    "keys_cubic",
    "subpixel_conv2d",
    "subpixel_conv2d_backward",
    "subpixel_to_transposed",
    "transposed_conv2d",
    "transposed_conv2d_backward",
    "transposed_padding",
    "transposed_to_subpixel",
    "upsampling_cost",
    "zero_insert",
]
