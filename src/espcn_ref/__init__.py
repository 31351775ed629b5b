"""espcn-ref: a from-scratch NumPy + Numba reference implementation of ESPCN.

Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016.

Tensors are NCHW. Run-time arrays are float32; float64 is accepted
everywhere (gradient checks use it).
"""

import os as _os

# Numba's OpenMP threads and OpenBLAS's threads share the cores: by default
# each spins for a while after its parallel region and starves the other
# (a 17x17 conv took 9 ms instead of 0.7 ms on 2 cores). Passive waiting
# fixes it. Set before Numba starts its thread pool; a user's value wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .ops import *  # noqa: F403  (the functional API)
from .ops import __all__ as _ops_all
from .model import ESPCN, ESPCNConfig, load_model  # noqa: E402
from .registry import list_pretrained, pretrained  # noqa: E402

__version__ = "0.1.0"
__all__ = list(_ops_all) + ["ESPCN", "ESPCNConfig", "load_model", "list_pretrained", "pretrained"]
