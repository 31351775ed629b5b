"""Direct convolution for layers with few output channels: eq. (1)-(3)
without BLAS.

ESPCN's last layer has only r^2 output channels (9 at r = 3), and so has
the sub-pixel form of the equivalence module. As GEMMs, its nine taps are
products of a (C_out, C_in) = (9, 32) matrix with a wide (C_in, columns)
slice: each GEMM reads the whole input and re-reads and re-writes the whole
output, for only 9 multiply-adds per value read. BLAS is bound by memory
traffic there (about 70 GFLOP/s on this machine).

This kernel works on the same flat layout as the shifted-GEMM path of
:mod:`.conv`: every input channel is one long row ``xp[n, c, :]``, and tap
k of the flattened (c, a, b) taps reads ``xp[n, chan[k], q + offs[k]]``
for output column q. So::

    y[n, o, q] += sum_k w[o, k] * xp[n, chan[k], q + offs[k]]

It takes the taps three at a time and the outputs three at a time: one
pass over a block of columns loads three input rows and updates three
output rows, with nine multiply-adds per column. A block of 1,024 columns
(4 KiB per row) keeps the rows it touches in the core's L1 cache, and the
loop over columns is vectorised by LLVM (AVX-512 here). Blocks run in
parallel. Each output value is summed by one thread in a fixed order, so
the result does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Columns per block: 1,024 measured fastest (512: 5-15% slower, 2,048: 10-25%).
BLOCK = 1024
# conv2d's stride-1 path uses this kernel for up to this many output
# channels. On 32 x 180 x 320 features with a 3x3 kernel it took 0.4, 0.8,
# 1.2 and 3.0 ms for 3, 4, 9 and 16 output channels, against 3.3, 3.4, 4.1
# and 4.2 ms for the nine GEMMs.
DIRECT_MAX_COUT = 16
GROUP = 3  # taps and outputs per pass


def round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def direct_taps(xp: np.ndarray, chan, offs, w: np.ndarray, y: np.ndarray, block: int = BLOCK) -> None:
    """Accumulate ``y[n, o, q] += sum_k w[o, k] * xp[n, chan[k], q + offs[k]]`` in place.

    xp: (N, C_in, P) input rows; chan, offs: (K,) input channel and column
    offset of each tap, with offs[k] + L <= P; w: (C_out, K) weights;
    y: (N, C_out, L), C-contiguous, same dtype as xp and w.
    """
    chan = np.asarray(chan, dtype=np.int64)
    offs = np.asarray(offs, dtype=np.int64)
    _check_direct(xp, chan, offs, w, y)
    N, C_out, L = y.shape
    C_pad, K_pad = round_up(C_out, GROUP), round_up(len(chan), GROUP)
    w_pad = np.zeros((C_pad, K_pad), dtype=w.dtype)  # padded taps and outputs have weight 0
    w_pad[:C_out, : len(chan)] = w
    chan_pad, offs_pad = np.zeros(K_pad, np.int64), np.zeros(K_pad, np.int64)
    chan_pad[: len(chan)], offs_pad[: len(chan)] = chan, offs
    out = y if C_pad == C_out else np.concatenate([y, np.zeros((N, C_pad - C_out, L), y.dtype)], axis=1)
    _direct_taps(xp, chan_pad, offs_pad, w_pad, out, block)
    if out is not y:
        y[...] = out[:, :C_out]


def _check_direct(xp, chan, offs, w, y) -> None:
    for name, a, nd in (("xp", xp, 3), ("w", w, 2), ("y", y, 3)):
        if not isinstance(a, np.ndarray) or a.ndim != nd:
            raise ValueError(f"{name} must be a {nd}-D array, got {getattr(a, 'shape', type(a).__name__)}")
    if not (xp.dtype == w.dtype == y.dtype) or xp.dtype not in (np.float32, np.float64):
        raise TypeError(f"xp, w and y must share a float32 or float64 dtype, got {xp.dtype}, {w.dtype}, {y.dtype}")
    if not y.flags.c_contiguous or not y.flags.writeable:
        raise ValueError("y must be a writeable C-contiguous array")
    N, C_in, P = xp.shape
    K = len(chan)
    if chan.shape != (K,) or offs.shape != (K,) or w.shape != (y.shape[1], K) or y.shape[0] != N or K == 0:
        raise ValueError(f"shapes do not match: xp {xp.shape}, chan {chan.shape}, offs {offs.shape}, "
                         f"w {w.shape} (want (C_out, K)), y {y.shape} (want (N, C_out, L))")
    if chan.min() < 0 or chan.max() >= C_in:
        raise ValueError(f"chan must index the {C_in} input channels, got values in [{chan.min()}, {chan.max()}]")
    if offs.min() < 0 or offs.max() + y.shape[2] > P:
        raise ValueError(f"every tap must read inside xp's rows: offs in [{offs.min()}, {offs.max()}] "
                         f"plus L = {y.shape[2]} columns exceeds P = {P}")


@njit(cache=True, parallel=True, nogil=True)
def _direct_taps(xp, chan, offs, w, y, block):
    """:func:`direct_taps`' loops, compiled; K and C_out multiples of 3."""
    N, C_out, L = y.shape
    K = w.shape[1]
    blocks = (L + block - 1) // block
    for job in prange(N * blocks):  # a block of one image's columns per job
        n, q0 = job // blocks, (job % blocks) * block
        m = min(L, q0 + block) - q0
        for k in range(0, K, 3):
            x0 = xp[n, chan[k], q0 + offs[k] : q0 + offs[k] + m]
            x1 = xp[n, chan[k + 1], q0 + offs[k + 1] : q0 + offs[k + 1] + m]
            x2 = xp[n, chan[k + 2], q0 + offs[k + 2] : q0 + offs[k + 2] + m]
            for o in range(0, C_out, 3):
                y0, y1, y2 = y[n, o, q0 : q0 + m], y[n, o + 1, q0 : q0 + m], y[n, o + 2, q0 : q0 + m]
                a0, a1, a2 = w[o, k], w[o, k + 1], w[o, k + 2]
                b0, b1, b2 = w[o + 1, k], w[o + 1, k + 1], w[o + 1, k + 2]
                c0, c1, c2 = w[o + 2, k], w[o + 2, k + 1], w[o + 2, k + 2]
                for q in range(m):  # vectorised: 3 loads of x, 9 multiply-adds, 3 outputs
                    u0, u1, u2 = x0[q], x1[q], x2[q]
                    y0[q] += a0 * u0 + a1 * u1 + a2 * u2
                    y1[q] += b0 * u0 + b1 * u1 + b2 * u2
                    y2[q] += c0 * u0 + c1 * u1 + c2 * u2


def direct_taps_reference(xp: np.ndarray, chan, offs, w: np.ndarray, y: np.ndarray) -> None:
    """:func:`direct_taps` in NumPy, one tap at a time (its reference twin)."""
    L = y.shape[2]
    for k, (c, s) in enumerate(zip(chan, offs)):
        y += w[None, :, k, None] * xp[:, c, None, s : s + L]
