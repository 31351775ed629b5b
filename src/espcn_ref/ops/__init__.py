"""The math of ESPCN: one module per operation, forward next to backward.

Every fast (Numba) function is pinned by the tests to a slow twin: a
``*_reference`` in the same module (the definition written as loops), or, for
the speed engine of :mod:`espcn_ref.engine`, the plain operation it re-lays out
(``conv_grid`` against ``conv2d_reference``, ``shuffle_from_grid`` against
``pixel_shuffle``, ``gemm`` against NumPy's matmul).
"""

from .activations import relu, relu_backward, tanh, tanh_backward
from .conv import conv2d, conv2d_backward
from .conv_transpose import conv_transpose2d, conv_transpose2d_backward
from .loss import mse_loss, mse_loss_backward
from .shuffle import (
    ORDERS,
    pixel_shuffle,
    pixel_shuffle_backward,
    pixel_unshuffle,
    shuffle_permutation,
)

__all__ = [
    "ORDERS",
    "conv2d",
    "conv2d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "mse_loss",
    "mse_loss_backward",
    "pixel_shuffle",
    "pixel_shuffle_backward",
    "pixel_unshuffle",
    "relu",
    "relu_backward",
    "shuffle_permutation",
    "tanh",
    "tanh_backward",
]
