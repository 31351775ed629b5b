"""Direct convolution for layers with few output channels: eq. (1)-(3)
without BLAS.

ESPCN's last layer has only r^2 output channels (9 at r = 3), and so has
the sub-pixel form of the equivalence module, which runs on :func:`.conv.conv2d`.
(The network itself runs on the channels-last grid of :mod:`espcn_ref.engine`
and keeps its GEMMs there.) As GEMMs, the nine taps are
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
output rows, with nine multiply-adds per column. The last one or two taps
and outputs, when K or C_out is not a multiple of 3, get passes of their
own. A block of 1,024 columns (4 KiB per row) keeps the rows it touches in
the core's L1 cache, and the loop over columns is vectorised by LLVM
(AVX-512 here). Blocks run in parallel. Each output value is summed by one
thread in a fixed order, so the result does not depend on the thread count
or the block size.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Columns per block: 1,024 measured fastest (512: 5-15% slower, 2,048: 10-25%).
BLOCK = 1024
# conv2d's stride-1 path uses this kernel for up to this many output
# channels. On 32 x 180 x 320 features with a 3x3 kernel, conv2d took 0.9,
# 1.1, 1.3, 2.1 and 3.7 ms for 1, 3, 4, 9 and 16 output channels with it,
# and 3.0, 3.8, 3.8, 5.0 and 4.8 ms with nine GEMMs (one run, 2 threads).
DIRECT_MAX_COUT = 16
# Bytes of a cache line. Output rows that start on one let the kernel's
# 512-bit loads and stores of y stay inside single lines: on 32 x 180 x 320
# features, 9 outputs, 3x3, the kernel took 1.07 ms instead of 1.36 ms
# (numpy itself aligns arrays to 16 bytes only).
LINE = 64


def line_aligned_empty(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose first element starts a
    cache line (LINE bytes). With a last axis a multiple of LINE / itemsize
    long, every row starts one."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    buf = np.empty(n * dtype.itemsize + LINE, dtype=np.uint8)
    start = -buf.ctypes.data % LINE
    return buf[start : start + n * dtype.itemsize].view(dtype).reshape(shape)


def direct_taps(xp: np.ndarray, chan, offs, w: np.ndarray, y: np.ndarray, block: int = BLOCK) -> None:
    """The convolution sums of eq. (1)-(3), tap by tap: accumulate
    ``y[n, o, q] += sum_k w[o, k] * xp[n, chan[k], q + offs[k]]`` in place.

    xp: (N, C_in, P) input rows; chan, offs: (K,) input channel and column
    offset of each tap, with offs[k] + L <= P; w: (C_out, K) weights;
    y: (N, C_out, L), C-contiguous, same dtype as xp and w.
    block: columns per parallel job, >= 1.
    """
    chan = np.asarray(chan, dtype=np.int64)
    offs = np.asarray(offs, dtype=np.int64)
    _check_direct(xp, chan, offs, w, y)
    if not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"block must be an int >= 1, got {block!r}")
    _direct_taps(xp, chan, offs, w, y, block)


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
    if K == 0:
        raise ValueError("there must be at least one tap")
    if chan.shape != (K,) or offs.shape != (K,) or w.shape != (y.shape[1], K) or y.shape[0] != N:
        raise ValueError(f"shapes do not match: xp {xp.shape}, chan {chan.shape}, offs {offs.shape}, "
                         f"w {w.shape} (want (C_out, K)), y {y.shape} (want (N, C_out, L))")
    if chan.min() < 0 or chan.max() >= C_in:
        raise ValueError(f"chan must index the {C_in} input channels, got values in [{chan.min()}, {chan.max()}]")
    if offs.min() < 0 or offs.max() + y.shape[2] > P:
        raise ValueError(f"every tap must read inside xp's rows: offs in [{offs.min()}, {offs.max()}] "
                         f"plus L = {y.shape[2]} columns exceeds P = {P}")


@njit(cache=True, parallel=True, nogil=True)
def _direct_taps(xp, chan, offs, w, y, block):
    """:func:`direct_taps`' loops, compiled. Taps go three at a time, then
    the last one or two alone; outputs likewise (no padding with zero
    weights, which would turn an infinite input into NaN)."""
    N, C_out, L = y.shape
    K = w.shape[1]
    K3, C3 = K - K % 3, C_out - C_out % 3  # the taps and outputs in whole groups of 3
    blocks = (L + block - 1) // block
    for job in prange(N * blocks):  # a block of one image's columns per job
        n, q0 = job // blocks, (job % blocks) * block
        m = min(L, q0 + block) - q0
        for k in range(0, K3, 3):
            x0 = xp[n, chan[k], q0 + offs[k] : q0 + offs[k] + m]
            x1 = xp[n, chan[k + 1], q0 + offs[k + 1] : q0 + offs[k + 1] + m]
            x2 = xp[n, chan[k + 2], q0 + offs[k + 2] : q0 + offs[k + 2] + m]
            for o in range(0, C3, 3):
                y0, y1, y2 = y[n, o, q0 : q0 + m], y[n, o + 1, q0 : q0 + m], y[n, o + 2, q0 : q0 + m]
                a0, a1, a2 = w[o, k], w[o, k + 1], w[o, k + 2]
                b0, b1, b2 = w[o + 1, k], w[o + 1, k + 1], w[o + 1, k + 2]
                c0, c1, c2 = w[o + 2, k], w[o + 2, k + 1], w[o + 2, k + 2]
                for q in range(m):  # vectorised: 3 loads of x, 9 multiply-adds, 3 outputs
                    u0, u1, u2 = x0[q], x1[q], x2[q]
                    y0[q] += a0 * u0 + a1 * u1 + a2 * u2
                    y1[q] += b0 * u0 + b1 * u1 + b2 * u2
                    y2[q] += c0 * u0 + c1 * u1 + c2 * u2
            for o in range(C3, C_out):  # the last one or two outputs
                y0 = y[n, o, q0 : q0 + m]
                a0, a1, a2 = w[o, k], w[o, k + 1], w[o, k + 2]
                for q in range(m):
                    y0[q] += a0 * x0[q] + a1 * x1[q] + a2 * x2[q]
        for k in range(K3, K):  # the last one or two taps
            x0 = xp[n, chan[k], q0 + offs[k] : q0 + offs[k] + m]
            for o in range(C_out):
                y0 = y[n, o, q0 : q0 + m]
                a0 = w[o, k]
                for q in range(m):
                    y0[q] += a0 * x0[q]


def direct_taps_reference(xp: np.ndarray, chan, offs, w: np.ndarray, y: np.ndarray) -> None:
    """:func:`direct_taps` in NumPy, one tap at a time (its reference twin)."""
    L = y.shape[2]
    for k, (c, s) in enumerate(zip(chan, offs)):
        y += w[None, :, k, None] * xp[:, c, None, s : s + L]
