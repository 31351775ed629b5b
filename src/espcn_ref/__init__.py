"""espcn-ref: a from-scratch NumPy + Numba reference implementation of ESPCN.

Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016.

Tensors are NCHW. Run-time arrays are float32; float64 is accepted
everywhere (gradient checks use it).
"""

from .ops import *  # noqa: F403  (the functional API)
from .ops import __all__ as _ops_all

__version__ = "0.1.0"
__all__ = list(_ops_all)
