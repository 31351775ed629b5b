"""Periodic shuffle PS, eq. (4) of Shi et al. (CVPR 2016), and its inverse.

The paper rearranges an H x W x C*r^2 tensor T into an rH x rW x C one::

    PS(T)[x, y, c] = T[floor(x/r), floor(y/r), C*r*mod(y, r) + C*mod(x, r) + c]

It does not say whether x is the row or the column, and the two readings
give different shuffles:

* x on T's first axis (H), as the subscripts T[x//r, y//r, .] of an
  H x W x C r^2 tensor say: x is the row, y the column. That is ``dcr_t``.
* x the horizontal coordinate (the column), y the row, as TensorFlow's
  ``depth_to_space`` and ONNX's DepthToSpace take it. That is ``dcr``.

Eq. (5) does not settle it: copies of the paper's text disagree on which of
its two sums runs to rH. So the paper is ambiguous, and both readings are here.

In NCHW with output pixel (h, w), sub-pixel phase i = h % r (row) and
j = w % r (column), the output is ``out[n, c, h, w] = in[n, k, h//r, w//r]``
where the input channel k depends on the *order*:

=========  ==========================  =====================================
order      input channel k             who uses it
=========  ==========================  =====================================
``crd``    ``c*r*r + i*r + j``         PyTorch ``F.pixel_shuffle`` (default);
                                       a reading of eq. (4) only for C = 1
``dcr``    ``(i*r + j)*C + c``         eq. (4) read with x = column; TF
                                       ``depth_to_space``, ONNX DepthToSpace
``dcr_t``  ``(j*r + i)*C + c``         eq. (4) read with x = row (T's first
                                       axis): DCR with the r x r sub-pixel
                                       block transposed
=========  ==========================  =====================================

Three facts a reader should take away:

* For C = 1 (the paper's Y-only network) ``crd`` and ``dcr`` coincide:
  both give k = i*r + j.
* For C > 1 they differ by a fixed channel permutation, given by
  :func:`shuffle_permutation`; a network trained with one order runs with
  the other after permuting its last layer's output channels.
* Reading eq. (4) with x as the row swaps i and j (``dcr_t``). For C = 1 it
  is the transpose of each r x r block, so it is *not* PyTorch's order even
  for one channel; it is still a valid shuffle (a permutation), and a
  network can learn with either, but weights do not transfer unchanged.

PS is a permutation of entries, so its backward is its inverse
(:func:`pixel_unshuffle`) and its adjoint equals its inverse.

Implementations, all tested equal:

* :func:`pixel_shuffle` - the fast path: the table's index formula over
  output pixels, a Numba kernel parallel over output rows.
* :func:`pixel_shuffle_reshape` - reshape + transpose (how frameworks do it).
* :func:`pixel_shuffle_reference` - plain Python loops, the spec.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._checks import as_float_array, check_int

ORDERS = ("crd", "dcr", "dcr_t")
_ORDER_CODE = {name: code for code, name in enumerate(ORDERS)}


def order_code(order) -> int:
    """The compiled kernels' code of a channel order (0 crd, 1 dcr, 2 dcr_t); a one-line error for any other."""
    if not isinstance(order, str) or order not in _ORDER_CODE:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    return _ORDER_CODE[order]


@njit(cache=True)
def shuffle_channel(c, i, j, C, r, code):
    """Input channel k that feeds output channel c at sub-pixel phase (i, j),
    eq. (4), for the order of ``code`` (:func:`order_code`). The one definition:
    every shuffle kernel here and in the engine calls it; compiled."""
    if code == 0:  # crd
        return c * r * r + i * r + j
    if code == 1:  # dcr: eq. (4) with x = column
        return (i * r + j) * C + c
    return (j * r + i) * C + c  # dcr_t: eq. (4) with x = row


def channel_index(c: int, i: int, j: int, C: int, r: int, order: str = "crd") -> int:
    """Input channel of output channel ``c`` at row phase ``i``, column phase ``j``."""
    return int(shuffle_channel(c, i, j, C, r, order_code(order)))


@njit(cache=True, parallel=True, nogil=True)
def _shuffle_kernel(x, r, code, out):  # x: (N, C*r*r, H, W), out: (N, C, H*r, W*r)
    N, C, Hr, Wr = out.shape
    W = Wr // r
    for row in prange(N * C * Hr):  # each output row is written by one thread
        n, c, h = row // (C * Hr), row // Hr % C, row % Hr
        i, hl = h % r, h // r  # row phase, LR row: one division per row, none per pixel
        for b in range(r):  # column phase b reads channel k, writes every r-th pixel
            k = shuffle_channel(c, i, b, C, r, code)
            for j in range(W):
                out[n, c, h, j * r + b] = x[n, k, hl, j]


@njit(cache=True, parallel=True, nogil=True)
def _unshuffle_kernel(y, r, code, out):  # y: (N, C, H*r, W*r), out: (N, C*r*r, H, W)
    N, C, Hr, Wr = y.shape
    W = Wr // r
    for row in prange(N * C * Hr):  # each input row fills its own (n, k, hl) rows of out
        n, c, h = row // (C * Hr), row // Hr % C, row % Hr
        i, hl = h % r, h // r
        for b in range(r):
            k = shuffle_channel(c, i, b, C, r, code)
            for j in range(W):
                out[n, k, hl, j] = y[n, c, h, j * r + b]


def _check_shuffle_input(x, r):
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C*r^2, H, W)")
    r = check_int(r, "r", 1)
    N, Cr2, H, W = x.shape
    if Cr2 % (r * r) != 0:
        raise ValueError(
            f"x has {Cr2} channels, which is not divisible by r^2 = {r * r}; "
            "pixel_shuffle needs x of shape (N, C*r^2, H, W)"
        )
    return x, r


def _check_unshuffle_input(y, r):
    y = as_float_array(y, "y", ndim=4, shape_doc="(N, C, H*r, W*r)")
    r = check_int(r, "r", 1)
    N, C, Hr, Wr = y.shape
    if Hr % r or Wr % r:
        raise ValueError(
            f"y has spatial size {Hr}x{Wr}, which is not divisible by r = {r}; "
            "pixel_unshuffle needs y of shape (N, C, H*r, W*r)"
        )
    return y, r


def pixel_shuffle(x, r: int, order: str = "crd") -> np.ndarray:
    """Periodic shuffle PS, eq. (4): (N, C*r^2, H, W) -> (N, C, r*H, r*W).

    x: (N, C*r^2, H, W) float32 or float64.
    r: upscaling factor, >= 1.
    order: ``"crd"`` (PyTorch), ``"dcr"`` (eq. (4) with x read as the
        column; TensorFlow) or ``"dcr_t"`` (eq. (4) with x read as the row);
        see the module doc.
    Returns y: (N, C, r*H, r*W), same dtype as x.
    """
    code = order_code(order)
    x, r = _check_shuffle_input(x, r)
    N, Cr2, H, W = x.shape
    out = np.empty((N, Cr2 // (r * r), H * r, W * r), dtype=x.dtype)
    if out.size:
        _shuffle_kernel(x, r, code, out)
    return out


def pixel_unshuffle(y, r: int, order: str = "crd") -> np.ndarray:
    """Inverse periodic shuffle PS^-1: (N, C, r*H, r*W) -> (N, C*r^2, H, W).

    y: (N, C, r*H, r*W) float32 or float64; H*r and W*r divisible by r.
    Returns x: (N, C*r^2, H, W) with ``pixel_shuffle(x, r, order) == y``.
    """
    code = order_code(order)
    y, r = _check_unshuffle_input(y, r)
    N, C, Hr, Wr = y.shape
    out = np.empty((N, C * r * r, Hr // r, Wr // r), dtype=y.dtype)
    if out.size:
        _unshuffle_kernel(y, r, code, out)
    return out


def pixel_shuffle_backward(dy, r: int, order: str = "crd") -> np.ndarray:
    """Backward of PS: dL/dx = PS^-1(dL/dy), because PS is a permutation.

    dy: (N, C, r*H, r*W). Returns dx: (N, C*r^2, H, W).
    """
    return pixel_unshuffle(dy, r, order)


# --- The vectorised form: reshape + transpose ---------------------------------

# Axis order of the (N, a, b, C', H, W) view for each order, and how to bring
# it to (N, C, H, i, W, j). For crd the channel splits as (C, i, j); for dcr
# as (i, j, C); for dcr_t as (j, i, C).
_SPLIT = {"crd": ("C", "i", "j"), "dcr": ("i", "j", "C"), "dcr_t": ("j", "i", "C")}


def _split_axes(order):
    names = ("N",) + _SPLIT[order] + ("H", "W")
    return tuple(names.index(a) for a in ("N", "C", "H", "i", "W", "j"))


def pixel_shuffle_reshape(x, r: int, order: str = "crd") -> np.ndarray:
    """PS as reshape + transpose (no index arithmetic). x: (N, C*r^2, H, W)."""
    order_code(order)
    x, r = _check_shuffle_input(x, r)
    N, Cr2, H, W = x.shape
    C = Cr2 // (r * r)
    sizes = {"C": C, "i": r, "j": r}
    split = x.reshape((N,) + tuple(sizes[a] for a in _SPLIT[order]) + (H, W))
    return np.ascontiguousarray(split.transpose(_split_axes(order))).reshape(N, C, H * r, W * r)


def pixel_unshuffle_reshape(y, r: int, order: str = "crd") -> np.ndarray:
    """PS^-1 as reshape + transpose. y: (N, C, r*H, r*W) -> (N, C*r^2, H, W)."""
    order_code(order)
    y, r = _check_unshuffle_input(y, r)
    N, C, Hr, Wr = y.shape
    H, W = Hr // r, Wr // r
    grid = y.reshape(N, C, H, r, W, r)  # axes (N, C, H, i, W, j)
    back = np.argsort(_split_axes(order))  # inverse of the forward transpose
    return np.ascontiguousarray(grid.transpose(back)).reshape(N, C * r * r, H, W)


# --- The spec: plain loops ----------------------------------------------------


def pixel_shuffle_reference(x, r: int, order: str = "crd") -> np.ndarray:
    """PS as plain Python loops over output pixels (slow): out[n, c, h, w] =
    x[n, k, h//r, w//r] with k from :func:`channel_index` (the module doc's table)."""
    code = order_code(order)
    x, r = _check_shuffle_input(x, r)
    N, Cr2, H, W = x.shape
    C = Cr2 // (r * r)
    out = np.empty((N, C, H * r, W * r), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for h in range(H * r):
                for w in range(W * r):
                    k = channel_index(c, h % r, w % r, C, r, ORDERS[code])
                    out[n, c, h, w] = x[n, k, h // r, w // r]
    return out


def shuffle_permutation(C: int, r: int, src: str = "crd", dst: str = "dcr") -> np.ndarray:
    """Channel permutation p between two shuffle orders.

    For x of shape (N, C*r^2, H, W)::

        pixel_shuffle(x[:, p], r, dst) == pixel_shuffle(x, r, src)

    so ``w_dst = w_src[p]`` converts a last layer's weights (and bias) from
    order ``src`` to order ``dst``. Returns p: (C*r^2,) int64.
    """
    C = check_int(C, "C", 1)
    r = check_int(r, "r", 1)
    s, d = order_code(src), order_code(dst)
    p = np.empty(C * r * r, dtype=np.int64)
    for c in range(C):
        for i in range(r):
            for j in range(r):
                p[shuffle_channel(c, i, j, C, r, d)] = shuffle_channel(c, i, j, C, r, s)
    return p


def shuffle_matrix(C: int, r: int, H: int, W: int, order: str = "crd") -> np.ndarray:
    """The matrix M with vec(PS(x)) = M vec(x), built by shuffling unit vectors.

    x: (1, C r^2, H, W). Returns M: (n, n), n = C r^2 H W, one 1 per row and
    per column (a permutation matrix), so M^T M = I. This is the picture
    :func:`plot_shuffle_matrix` draws.
    """
    C, r = check_int(C, "C", 1), check_int(r, "r", 1)
    H, W = check_int(H, "H", 1), check_int(W, "W", 1)
    n = C * r * r * H * W
    basis = np.eye(n).reshape(n, C * r * r, H, W)  # row i is the unit vector e_i
    return pixel_shuffle(basis, r, order).reshape(n, n).T  # column i is PS(e_i)
