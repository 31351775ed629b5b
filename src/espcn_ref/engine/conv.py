"""Same-padded, stride-1 convolution as a sum of shifted GEMMs: eq. (1)-(3)
on the :mod:`.grid` layout, with no im2col matrix.

On the grid the pixel at tap (a, b) from pixel q is row ``q + a*row + b``
for every q: one fixed shift. So a 'same' convolution with a k x k kernel
(k odd, k//2 <= pad) is::

    y[q] = b + sum_{a, b} g[q + a*row + b] @ w[:, :, a + k//2, b + k//2].T

nine (for 3x3) GEMMs whose operands are row slices of ``g``: no gather, no
copy, each accumulated straight into ``y`` (:func:`..ops.blas.gemm_kernel`).
Rows of ``y`` on the padding come out as junk and are zeroed by the
activation (:func:`.grid.act_grid`), so ``y`` is again a valid grid for the
next layer. The backward is the same sums transposed::

    dw[:, :, a, b] = sum_q dy[q]^T g[q + a*row + b]          (dy zero on padding)
    dx[q]          = sum_{a, b} dy[q - a*row - b] @ w[:, :, a, b]

dx is a gather too (the flipped kernel), so every output row has a single
writer and the work splits into independent chunks of rows. dw is nine GEMMs
with the long inner dimension. For layers with fewer than STACK_BELOW output
channels (in ESPCN: conv2 with 32 and the last with r^2) nine shifted copies
of dy side by side give dw in one GEMM, and dx in one GEMM with nine times
the inner dimension (:func:`backward_stacked`).

Twins: :func:`conv_grid` and :func:`conv_grid_backward` are pinned to
:func:`..ops.conv.conv2d_reference` and its backward; :func:`shift_stack`
to :func:`shift_stack_reference`; :func:`column_sums` to ``dy.sum(axis=0)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..ops.blas import GEMM_ADDRESSES, gemm_kernel
from .grid import Grid, check_grid_array, empty_grid

# Rows per stack of shifted dy in the stacked backward. The stack is written
# once and read by two GEMMs, so it should stay in cache: 4096 rows of a
# 32-channel layer's stack are 4.5 MiB (16384 rows were 18 MiB). The batch-64
# training step went from 12.4-13.4 to 11.2-11.7 ms. A shard of 8 patches of
# 17x17 (2,592 rows) is still one stack, so batch-16 training on 2 threads
# (2 such shards) is unchanged to the bit.
STACK_CHUNK_ROWS = 4096
# Layers with fewer output channels than this get dw and dx from a stack of shifted dy (:func:`backward_stacked`).
STACK_BELOW = 64



def tap_weights(w: np.ndarray) -> np.ndarray:
    """w: (C_out, C_in, k, k) -> (k*k, C_in, C_out): one GEMM operand per tap."""
    C_out, C_in, kh, kw = w.shape
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(kh * kw, C_in, C_out)


def shifted_gemm(src: np.ndarray, shifts, mats: np.ndarray, dst: np.ndarray, grid: Grid, bias=None) -> None:
    """dst[q] = bias + sum_t src[q + shifts[t]] @ mats[t] for every image row q.

    src: (length, C_in) grid; mats: (T, C_in, C_out); bias: (C_out,) or None;
    dst: (length, C_out) grid, written on the images' rows (margins untouched).
    """
    has_bias = bias is not None
    bias = np.asarray(bias if has_bias else np.zeros(dst.shape[1]), dtype=dst.dtype)
    _shifted_gemm(GEMM_ADDRESSES, src, np.asarray(shifts, dtype=np.int64), mats, dst,
                  grid.chunk_array(), bias, has_bias)  # fmt: skip


@njit(cache=True, nogil=True)
def _shifted_gemm(addresses, src, shifts, mats, dst, chunks, bias, has_bias):
    """:func:`shifted_gemm`'s loops, compiled: per chunk of rows [start, stop),
    the bias, then one GEMM per tap accumulated onto it (BLAS beta = 1)."""
    for i in range(chunks.shape[0]):
        start, stop = chunks[i, 0], chunks[i, 1]
        if has_bias:
            for q in range(start, stop):
                dst[q, :] = bias
        for t in range(len(shifts)):
            beta = 1.0 if has_bias or t > 0 else 0.0
            gemm_kernel(addresses, src[start + shifts[t] : stop + shifts[t]], mats[t], dst[start:stop], beta, False)


@njit(cache=True, nogil=True)
def _shifted_gemm_t(addresses, src, shifts, dy, dw_taps, chunks):
    """dw_taps[t] += sum_q src[q + shifts[t]]^T dy[q] over the rows q of the chunks (the
    weight gradient of :func:`shifted_gemm`); dw_taps: (T, C_in, C_out)."""
    for i in range(chunks.shape[0]):
        start, stop = chunks[i, 0], chunks[i, 1]
        for t in range(len(shifts)):
            gemm_kernel(addresses, src[start + shifts[t] : stop + shifts[t]], dy[start:stop], dw_taps[t], 1.0, True)


def check_grid_conv(g, w, grid: Grid) -> int:
    """Shapes and dtypes the grid engine needs; returns the kernel size k."""
    check_grid_array(g, grid, "g")
    if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[1] != g.shape[1]:
        raise ValueError(f"w must be (C_out, {g.shape[1]}, k, k) for a grid of {g.shape[1]} channels, got {w.shape}")
    if w.dtype != g.dtype:
        raise TypeError(f"w ({w.dtype}) and g ({g.dtype}) must share a dtype")
    return w.shape[2]


def conv_grid(g: np.ndarray, w: np.ndarray, grid: Grid, b=None) -> np.ndarray:
    """'Same' cross-correlation ``W * g + b`` (stride 1, zero padding k//2) on a grid.

    g: (length, C_in) grid, zero on the padding; w: (C_out, C_in, k, k), k odd;
    b: (C_out,) or None. Returns (length, C_out): correct on the pixels, junk
    on the padding rows inside the images, zero on the margins.
    """
    k = check_grid_conv(g, w, grid)
    y = empty_grid(grid, w.shape[0], g.dtype)
    bias = None if b is None else np.asarray(b, dtype=g.dtype)
    shifted_gemm(g, grid.taps(k), tap_weights(w), y, grid, bias)
    return y


def conv_grid_backward(dy: np.ndarray, g: np.ndarray, w: np.ndarray, grid: Grid, need_dx: bool = True):
    """Gradients of :func:`conv_grid` (plus a bias).

    dy: (length, C_out) = dL/dy, zero on the padding and margins; g, w as in
    :func:`conv_grid`. Returns (dx (length, C_in) or None, dw w.shape, db (C_out,));
    dx is junk on the padding rows (the caller's activation zeroes them).
    """
    k = check_grid_conv(g, w, grid)
    C_out, C_in = w.shape[:2]
    if dy.shape != (grid.length, C_out) or dy.dtype != g.dtype:
        raise ValueError(f"dy must be a ({grid.length}, {C_out}) {g.dtype} grid, got {dy.shape} {dy.dtype}")
    shifts = grid.taps(k)
    # gather form of dx: tap t of the forward becomes shift -s with w[:, :, a, b] (C_out, C_in)
    flipped = np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(k * k, C_out, C_in)
    dx = empty_grid(grid, C_in, g.dtype) if need_dx else None
    if C_out < STACK_BELOW and k > 1:
        dw_taps = backward_stacked(dy, g, shifts, flipped, grid, dx)
    else:
        dw_taps = np.zeros((len(shifts), C_in, C_out), dtype=g.dtype)
        _shifted_gemm_t(GEMM_ADDRESSES, g, np.asarray(shifts, dtype=np.int64), dy, dw_taps, grid.chunk_array())
        if need_dx:
            shifted_gemm(dy, [-s for s in shifts], flipped, dx, grid)
    dw = np.ascontiguousarray(dw_taps.reshape(k, k, C_in, C_out).transpose(3, 2, 0, 1))
    db = column_sums(dy)
    return dx, dw, db


@njit(cache=True, nogil=True)
def column_sums(dy):
    """The bias gradient of eq. (1)-(3), db[c] = sum_q dy[q, c]: dy (length, C)
    grid, zero off the pixels; returns (C,), summed row after row in dy's
    dtype. Its twin is ``dy.sum(axis=0)``: for two or more columns NumPy
    sums in this order too, and the numbers are the same (3-4x faster
    here); for one column NumPy sums pairwise, so the last float bits may
    differ."""
    out = np.zeros(dy.shape[1], dy.dtype)
    for q in range(dy.shape[0]):
        for c in range(dy.shape[1]):
            out[c] += dy[q, c]
    return out


def backward_stacked(dy, g, shifts, flipped, grid, dx):
    """Returns dw_taps (T, C_in, C_out); if ``dx`` is given, also writes dx into
    it. For few output channels, from nine shifted copies of dy side by side
    (per chunk of rows, in one reused buffer)::

        stack[q] = [dy[q - shifts[0]] | dy[q - shifts[1]] | ...]     (T C_out columns)
        dw (C_in, T C_out) = sum_q g[q]^T stack[q]                   one GEMM, inner dim: rows
        dx[q] = stack[q] @ flipped.reshape(T C_out, C_in)            one GEMM, inner dim: T C_out

    dy is zero off the pixels, so shifting it is exact. Against nine GEMMs
    per gradient, each with C_out columns, these two are far wider.
    flipped: (T, C_out, C_in), tap t's w[:, :, a, b]; dx: (length, C_in) grid or None.
    """
    T, C_in, C_out = len(shifts), g.shape[1], dy.shape[1]
    out = np.zeros((C_in, T * C_out), dtype=g.dtype)
    F = flipped.reshape(T * C_out, C_in)
    spans = []  # (lo, hi, start, stop): the first and last chunks also take the margins
    for start, stop in grid.chunks(STACK_CHUNK_ROWS):
        lo = 0 if start == grid.front else start
        hi = grid.length if stop == grid.length - grid.front else stop
        spans.append((lo, hi, start, stop))
    buf = np.empty((max(hi - lo for lo, hi, _, _ in spans), T * C_out), dtype=g.dtype)
    has_dx = dx is not None
    _stacked_gemms(GEMM_ADDRESSES, dy, g, np.asarray(shifts, dtype=np.int64), F,
                   dx if has_dx else buf[:0, :C_in], has_dx, np.asarray(spans, dtype=np.int64), buf, out)  # fmt: skip
    return np.ascontiguousarray(out.reshape(C_in, T, C_out).transpose(1, 0, 2))


@njit(cache=True, nogil=True)
def _stacked_gemms(addresses, dy, g, shifts, F, dx, has_dx, spans, buf, out):
    """:func:`backward_stacked`'s loop, compiled: per span (lo, hi, start, stop),
    the stack of shifted dy in ``buf``, then ``out += g^T stack`` and
    ``dx[start:stop] = stack @ F``."""
    for i in range(spans.shape[0]):
        lo, hi, start, stop = spans[i, 0], spans[i, 1], spans[i, 2], spans[i, 3]
        stack = buf[: hi - lo]
        shift_stack(dy, shifts, lo, stack)
        gemm_kernel(addresses, g[lo:hi], stack, out, 1.0, True)
        if has_dx:
            gemm_kernel(addresses, stack[start - lo : stop - lo], F, dx[start:stop], 0.0, False)


@njit(cache=True, parallel=True, nogil=True)
def shift_stack(dy, shifts, lo, out):
    """out[i, t*C_out + c] = dy[lo + i - shifts[t], c] (0 outside dy)."""
    C_out = dy.shape[1]
    for i in prange(out.shape[0]):
        for t in range(len(shifts)):
            src = lo + i - shifts[t]
            for c in range(C_out):
                out[i, t * C_out + c] = dy[src, c] if 0 <= src < dy.shape[0] else 0.0


def shift_stack_reference(dy, shifts, lo, rows):
    """:func:`shift_stack` with np.pad and slices."""
    m = max(abs(s) for s in shifts)
    padded = np.pad(dy, ((m, m), (0, 0)))
    return np.concatenate([padded[m + lo - s : m + lo - s + rows] for s in shifts], axis=1)
