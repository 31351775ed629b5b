"""Same-padded, stride-1 convolution as a sum of shifted GEMMs: the fast
path of the ESPCN layers (eq. (1)-(3)), with no im2col matrix.

The layout. A batch of (N, C, H, W) feature maps is stored channels-last on
a zero-padded *grid*, one row of the matrix per pixel::

    g: (length, C)     pixel (n, i, j) at row  front + n*image + i*row + j
    row = W + pad      image = (H + pad) * row      front = pad*row + pad

Each image row is followed by ``pad`` zero pixels and each image by ``pad``
zero rows; they are the right/bottom padding of one image row and the
left/top padding of the next (the flat index wraps around). ``front`` zero
rows before the first image and after the last complete it.

The trick. On this grid the pixel at tap (a, b) from pixel q is row
``q + a*row + b`` for every q: one fixed shift. So a 'same' convolution with
a k x k kernel (k odd, k//2 <= pad) is::

    y[q] = b + sum_{a, b} g[q + a*row + b] @ w[:, :, a + k//2, b + k//2].T

nine (for 3x3) GEMMs whose operands are row slices of ``g``: no gather, no
copy, each accumulated straight into ``y`` (:func:`.blas.gemm_kernel`). Rows of
``y`` on the padding come out as junk and are zeroed by the activation
(:func:`act_grid`), so ``y`` is again a valid grid for the next
layer. The backward is the same sums transposed:

    dw[:, :, a, b] = sum_q dy[q]^T g[q + a*row + b]          (dy zero on padding)
    dx[q]          = sum_{a, b} dy[q - a*row - b] @ w[:, :, a, b]

dx is a gather too (the flipped kernel), so every output row has a single
writer and the work splits into independent chunks of rows. dw is nine GEMMs
with the long inner dimension. For layers with fewer than STACK_BELOW output
channels (in ESPCN: conv2 with 32 and the last with r^2) nine shifted copies
of dy side by side give dw in one GEMM, and dx in one GEMM with nine times
the inner dimension (:func:`_backward_stacked`).

The first layer has one input channel: nine-or-more GEMMs with an inner
dimension of 1 would be slow, so it gathers its k*k taps into a thin
(length, k*k) matrix instead (:func:`im2col_grid`, Numba) and does one GEMM.

The last layer's output goes through the periodic shuffle, eq. (4), straight
off the grid (:func:`shuffle_from_grid`); in training, the shuffle, the loss
of eq. (5) and the loss's gradient moved back through PS^-1 onto the grid are
one pass (:func:`shuffle_mse_grid`), with no (N, C, rH, rW) prediction formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange

from .._checks import as_float_array, check_int
from .activations import ACTIVATIONS
from .blas import GEMM_ADDRESSES, gemm_kernel
from .loss import mse_loss, mse_loss_backward
from .shuffle import _channel, _check_order, pixel_shuffle, pixel_unshuffle

# Rows of the grid per GEMM call in the forward and the per-tap backward:
# big enough that each call (split across BLAS's threads in inference) has
# work for both cores; 1080p inference measured 5-10% slower with 2048-8192.
CHUNK_ROWS = 16384
# Rows per stack of shifted dy in the stacked backward. The stack is written
# once and read by two GEMMs, so it should stay in cache: 4096 rows of a
# 32-channel layer's stack are 4.5 MiB (16384 rows were 18 MiB). The batch-64
# training step went from 12.4-13.4 to 11.2-11.7 ms. A shard of 8 patches of
# 17x17 (2,592 rows) is still one stack, so batch-16 training on 2 threads
# (2 such shards) is unchanged to the bit.
STACK_CHUNK_ROWS = 4096
# Layers with fewer output channels than this get dw and dx from a stack of shifted dy (:func:`_backward_stacked`).
STACK_BELOW = 64


@dataclass(frozen=True)
class Grid:
    """Geometry of the padded channels-last layout (see the module doc).

    n, h, w: the batch's images, (N, H, W); pad: zero pixels after each image
    row and zero rows after each image. The derived sizes (row, image, front,
    length) are computed once, here: the training step reads them often.
    """

    n: int
    h: int
    w: int
    pad: int
    row: int = field(init=False)  # W + pad
    image: int = field(init=False)  # (H + pad) * row
    front: int = field(init=False)  # pad * row + pad
    length: int = field(init=False)  # N * image + 2 * front

    def __post_init__(self):
        row = self.w + self.pad
        derived = {"row": row, "image": (self.h + self.pad) * row, "front": self.pad * row + self.pad}
        derived["length"] = self.n * derived["image"] + 2 * derived["front"]
        for name, value in derived.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    def body(self, g: np.ndarray) -> np.ndarray:
        """The images of grid ``g`` as a (N, H + pad, row, C) view (padding included)."""
        return g[self.front : self.front + self.n * self.image].reshape(self.n, self.h + self.pad, self.row, -1)

    def chunks(self, rows: int | None = None):
        """(start, stop) row ranges covering the images' rows, ``rows`` (default CHUNK_ROWS) at a time."""
        rows = CHUNK_ROWS if rows is None else check_int(rows, "rows", 1)
        start, stop = self.front, self.front + self.n * self.image
        return [(s, min(stop, s + rows)) for s in range(start, stop, rows)]

    def chunk_array(self) -> np.ndarray:
        """:meth:`chunks` as an (n_chunks, 2) int64 array, for compiled loops."""
        return np.asarray(self.chunks(), dtype=np.int64).reshape(-1, 2)

    def taps(self, k: int) -> list[int]:
        """Row shifts of the k*k taps, in (a, b) row-major order."""
        p = k // 2
        if k % 2 == 0 or p > self.pad:
            raise ValueError(f"a {k}x{k} kernel needs an odd size with k//2 <= pad = {self.pad}")
        return [a * self.row + b for a in range(-p, p + 1) for b in range(-p, p + 1)]


def to_grid(x: np.ndarray, grid: Grid) -> np.ndarray:
    """x: (N, C, H, W) -> grid (length, C), zero on the padding."""
    _check_images(x, grid)
    g = np.zeros((grid.length, x.shape[1]), dtype=x.dtype)
    grid.body(g)[:, : grid.h, : grid.w, :] = x.transpose(0, 2, 3, 1)
    return g


def from_grid(g: np.ndarray, grid: Grid) -> np.ndarray:
    """grid (length, C) -> (N, C, H, W), C-contiguous."""
    _check_grid_array(g, grid, "g")
    return np.ascontiguousarray(grid.body(g)[:, : grid.h, : grid.w, :].transpose(0, 3, 1, 2))


def empty_grid(grid: Grid, channels: int, dtype) -> np.ndarray:
    """An uninitialised (length, channels) grid whose margins are zero."""
    g = np.empty((grid.length, channels), dtype=dtype)
    g[: grid.front] = 0
    g[grid.length - grid.front :] = 0
    return g


def clear_padding(g: np.ndarray, grid: Grid) -> np.ndarray:
    """Zero every row of grid g (length, C) that is not a pixel (padding and margins), in place; returns g."""
    g[: grid.front] = 0
    g[grid.length - grid.front :] = 0
    body = grid.body(g)
    body[:, grid.h :] = 0
    body[:, :, grid.w :] = 0
    return g


def _check_grid_array(g, grid: Grid, name: str) -> None:
    if not isinstance(g, np.ndarray) or g.ndim != 2 or g.shape[0] != grid.length:
        raise ValueError(f"{name} must be a (length={grid.length}, C) grid array, got "
                         f"{getattr(g, 'shape', type(g).__name__)}")


def _check_images(x, grid: Grid) -> None:
    if not isinstance(x, np.ndarray) or x.ndim != 4 or (x.shape[0], x.shape[2], x.shape[3]) != (grid.n, grid.h, grid.w):
        raise ValueError(f"x must be (N, C, H, W) = ({grid.n}, C, {grid.h}, {grid.w}) for this grid, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")


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


def _check_grid_conv(g, w, grid: Grid) -> int:
    """Shapes and dtypes the grid engine needs; returns the kernel size k."""
    _check_grid_array(g, grid, "g")
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
    k = _check_grid_conv(g, w, grid)
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
    k = _check_grid_conv(g, w, grid)
    C_out, C_in = w.shape[:2]
    if dy.shape != (grid.length, C_out) or dy.dtype != g.dtype:
        raise ValueError(f"dy must be a ({grid.length}, {C_out}) {g.dtype} grid, got {dy.shape} {dy.dtype}")
    shifts = grid.taps(k)
    # gather form of dx: tap t of the forward becomes shift -s with w[:, :, a, b] (C_out, C_in)
    flipped = np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(k * k, C_out, C_in)
    dx = empty_grid(grid, C_in, g.dtype) if need_dx else None
    if C_out < STACK_BELOW and k > 1:
        dw_taps = _backward_stacked(dy, g, shifts, flipped, grid, dx)
    else:
        dw_taps = np.zeros((len(shifts), C_in, C_out), dtype=g.dtype)
        _shifted_gemm_t(GEMM_ADDRESSES, g, np.asarray(shifts, dtype=np.int64), dy, dw_taps, grid.chunk_array())
        if need_dx:
            shifted_gemm(dy, [-s for s in shifts], flipped, dx, grid)
    dw = np.ascontiguousarray(dw_taps.reshape(k, k, C_in, C_out).transpose(3, 2, 0, 1))
    db = _column_sums(dy)
    return dx, dw, db


@njit(cache=True, nogil=True)
def _column_sums(dy):
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


def _backward_stacked(dy, g, shifts, flipped, grid, dx):
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
    """:func:`_backward_stacked`'s loop, compiled: per span (lo, hi, start, stop),
    the stack of shifted dy in ``buf``, then ``out += g^T stack`` and
    ``dx[start:stop] = stack @ F``."""
    for i in range(spans.shape[0]):
        lo, hi, start, stop = spans[i, 0], spans[i, 1], spans[i, 2], spans[i, 3]
        stack = buf[: hi - lo]
        _shift_stack(dy, shifts, lo, stack)
        gemm_kernel(addresses, g[lo:hi], stack, out, 1.0, True)
        if has_dx:
            gemm_kernel(addresses, stack[start - lo : stop - lo], F, dx[start:stop], 0.0, False)


@njit(cache=True, parallel=True, nogil=True)
def _shift_stack(dy, shifts, lo, out):
    """out[i, t*C_out + c] = dy[lo + i - shifts[t], c] (0 outside dy)."""
    C_out = dy.shape[1]
    for i in prange(out.shape[0]):
        for t in range(len(shifts)):
            src = lo + i - shifts[t]
            for c in range(C_out):
                out[i, t * C_out + c] = dy[src, c] if 0 <= src < dy.shape[0] else 0.0


def shift_stack_reference(dy, shifts, lo, rows):
    """:func:`_shift_stack` with np.pad and slices."""
    m = max(abs(s) for s in shifts)
    padded = np.pad(dy, ((m, m), (0, 0)))
    return np.concatenate([padded[m + lo - s : m + lo - s + rows] for s in shifts], axis=1)


# --- the first layer: one input channel, a thin im2col --------------------------------


@njit(cache=True, parallel=True, nogil=True)
def _im2col_grid(x, k, front, image, row, out):
    """out[front + n*image + i*row + j, (c*k + a)*k + b] = x[n, c, i + a - k//2, j + b - k//2]
    (zero outside x). out: (length, C*k*k), fully written on the images' rows."""
    N, C, H, W = x.shape
    p = k // 2
    for ni in prange(N * (image // row)):
        n = ni // (image // row)
        i = ni % (image // row)
        base = front + n * image + i * row
        for j in range(row):
            for c in range(C):
                for a in range(k):
                    for b in range(k):
                        h, v = i + a - p, j + b - p
                        inside = i < H and j < W and 0 <= h < H and 0 <= v < W
                        out[base + j, (c * k + a) * k + b] = x[n, c, h, v] if inside else 0.0


def im2col_grid(x: np.ndarray, k: int, grid: Grid) -> np.ndarray:
    """The k*k taps of every pixel of x as rows on ``grid``: (length, C*k*k).

    x: (N, C, H, W) with (N, H, W) = (grid.n, grid.h, grid.w); zero padding k//2.
    Rows on the grid's padding and margins are zero.
    """
    _check_images(x, grid)
    out = empty_grid(grid, x.shape[1] * k * k, x.dtype)
    _im2col_grid(np.ascontiguousarray(x), k, grid.front, grid.image, grid.row, out)
    return out


def im2col_grid_reference(x: np.ndarray, k: int, grid: Grid) -> np.ndarray:
    """:func:`im2col_grid` as NumPy slicing: pad x, then copy one tap at a time."""
    N, C, H, W = x.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((grid.length, C * k * k), dtype=x.dtype)
    body = grid.body(out)  # (N, H + pad, row, C*k*k)
    for c in range(C):
        for a in range(k):
            for b in range(k):
                body[:, :H, :W, (c * k + a) * k + b] = xp[:, c, a : a + H, b : b + W]
    return out


# --- the last layer: periodic shuffle, eq. (4), and the loss, eq. (5), off the grid ------


def _shuffled_channels(z, r, grid, name="z") -> int:
    """C for a grid of C r^2 channels (checks z and r)."""
    _check_grid_array(z, grid, name)
    if z.shape[1] % (r * r):
        raise ValueError(f"{name} must have C r^2 channels for r = {r}, got {z.shape[1]}")
    return z.shape[1] // (r * r)


@njit(cache=True, parallel=True, nogil=True)
def _shuffle_from_grid(z, r, code, front, image, row, out):
    """out[n, c, h, w] = z[front + n*image + (h//r)*row + w//r, channel(c, h % r, w % r)]."""
    N, C, Hr, Wr = out.shape
    W = Wr // r
    for line in prange(N * C * Hr):  # each output row is written by one thread
        n, c, h = line // (C * Hr), line // Hr % C, line % Hr
        i, base = h % r, front + n * image + (h // r) * row  # row phase, LR row: once per row
        for b in range(r):  # column phase b reads channel k, writes every r-th pixel: no division per pixel
            k = _channel(c, i, b, C, r, code)
            for j in range(W):
                out[n, c, h, j * r + b] = z[base + j, k]


def shuffle_from_grid(z: np.ndarray, r: int, order: str, grid: Grid) -> np.ndarray:
    """Periodic shuffle PS, eq. (4), of a grid: ``pixel_shuffle(from_grid(z, grid), r, order)`` in one pass.

    z: (length, C r^2) grid (junk off the pixels is ignored). Returns
    (N, C, rH, rW), C-contiguous.
    """
    r = check_int(r, "r", 1)
    code = _check_order(order)
    C = _shuffled_channels(z, r, grid)
    out = np.empty((grid.n, C, grid.h * r, grid.w * r), dtype=z.dtype)
    _shuffle_from_grid(z, r, code, grid.front, grid.image, grid.row, out)
    return out


@njit(cache=True, parallel=True, nogil=True)
def _shuffle_mse_grid(z, t, r, code, front, image, row, scale, dz, sse):
    """For y = PS(z): sse[n] = sum of (y - t)^2 over image n in float64, in t's
    row-major order (as :func:`.loss.mse_loss` sums); dz = PS^-1((y - t) * scale)
    on the grid's pixel rows. dz must be zero elsewhere."""
    N, C, Hr, Wr = t.shape
    for n in prange(N):  # images own disjoint rows of dz and one accumulator
        acc = 0.0
        for c in range(C):
            for h in range(Hr):
                i, base = h % r, front + n * image + (h // r) * row
                for j in range(Wr // r):  # w = j r + b runs in t's row-major order
                    for b in range(r):
                        q, k, w = base + j, _channel(c, i, b, C, r, code), j * r + b
                        d = np.float64(z[q, k]) - np.float64(t[n, c, h, w])
                        acc += d * d
                        dz[q, k] = (z[q, k] - t[n, c, h, w]) * scale  # in z's dtype, as NumPy would
        sse[n] = acc


def _check_target(t, z, r, grid):
    t = as_float_array(t, "target", ndim=4, shape_doc="(N, C, rH, rW)")
    want = (grid.n, _shuffled_channels(z, r, grid), grid.h * r, grid.w * r)
    if t.shape != want:
        raise ValueError(f"target must have the prediction's shape (N, C, rH, rW) = {want}, got {t.shape}")
    return np.ascontiguousarray(t, dtype=z.dtype)


def shuffle_mse_grid(z: np.ndarray, t, r: int, order: str, grid: Grid):
    """The loss of eq. (5) for y = PS(z) and its gradient on the grid, in one pass.

    z: (length, C r^2) grid, the last layer's output (junk off the pixels is
    ignored); t: (N, C, rH, rW) target, taken in z's dtype. Returns
    (loss, dz): loss as :func:`.loss.mse_loss` (y, t) gives it, the same
    float; dz (length, C r^2) = ``to_grid(pixel_unshuffle(mse_loss_backward(y, t)))``,
    the same numbers, zero off the pixels. y is never formed.
    """
    r = check_int(r, "r", 1)
    code = _check_order(order)
    t = _check_target(t, z, r, grid)
    dz = np.zeros_like(z)
    sse = np.empty(grid.n, dtype=np.float64)
    scale = z.dtype.type(2.0 / t.size)  # dL/dy = 2 (y - t) / size, eq. (5)'s gradient
    _shuffle_mse_grid(z, t, r, code, grid.front, grid.image, grid.row, scale, dz, sse)
    return float((sse / (t.size // grid.n)).mean()), dz


def shuffle_mse_grid_reference(z: np.ndarray, t, r: int, order: str, grid: Grid):
    """:func:`shuffle_mse_grid` as the composition it replaces: from_grid,
    pixel_shuffle, mse_loss and its backward, pixel_unshuffle, to_grid."""
    y = pixel_shuffle(from_grid(z, grid), r, order)
    t = _check_target(t, z, r, grid)
    return mse_loss(y, t), to_grid(pixel_unshuffle(mse_loss_backward(y, t), r, order), grid)


# --- activation on a grid: the flat kernels, then the padding cleared ---------------


def act_grid(z: np.ndarray, activation: str, grid: Grid) -> np.ndarray:
    """phi(z), eq. (1)-(2), in place on a grid; the padding rows become 0 again.

    z: (length, C) grid (junk allowed off the pixels); activation: "tanh" or
    "relu". Returns z. The elementwise kernels of :mod:`.activations` run
    over the whole buffer (flat, vectorised), then the padding is cleared.
    """
    _check_grid_array(z, grid, "z")
    ACTIVATIONS[activation][0](z, out=z)
    return clear_padding(z, grid)


def act_backward_grid(dh: np.ndarray, act: np.ndarray, activation: str, grid: Grid) -> np.ndarray:
    """dL/dz from dL/dh = dh and the forward's output act = phi(z); 0 on the padding.

    dh, act: (length, C) grids (dh may be junk off the pixels). The backward kernels of :mod:`.activations` run flat, then
    the padding is cleared. For relu, [z > 0] = [phi(z) > 0], so the output
    is all the backward needs.
    """
    _check_grid_array(dh, grid, "dh")
    return clear_padding(ACTIVATIONS[activation][1](dh, act), grid)


# --- reference twins of the activations on a grid --------------------------------------


def act_grid_reference(z: np.ndarray, activation: str, grid: Grid) -> np.ndarray:
    """:func:`act_grid` with NumPy's tanh / maximum, on a copy."""
    out = np.tanh(z) if activation == "tanh" else np.where(z < 0, 0, z).astype(z.dtype)
    return clear_padding(out, grid)


def act_backward_grid_reference(dh: np.ndarray, act: np.ndarray, activation: str, grid: Grid) -> np.ndarray:
    """:func:`act_backward_grid` as NumPy expressions."""
    dz = dh * (1 - act * act) if activation == "tanh" else np.where(act > 0, dh, 0).astype(dh.dtype)
    return clear_padding(dz, grid)
