"""2-D convolution (cross-correlation, as PyTorch's ``F.conv2d``): eq. (1)-(3).

Every layer of ESPCN is one of these: ``f^l(I) = phi(W_l * I + b_l)``.
"*" is a cross-correlation, as in every deep-learning framework: the kernel
is not flipped. In NCHW, with zero padding (p_h, p_w) and stride (s_h, s_w)::

    y[n, o, oh, ow] = b[o] + sum_{c, a, b'} w[o, c, a, b'] * x[n, c, oh*s_h - p_h + a, ow*s_w - p_w + b']

    OH = floor((H + 2*p_h - k_h) / s_h) + 1      OW likewise

Backward, with dy = dL/dy of shape (N, C_out, OH, OW)::

    db[o]          = sum_{n, oh, ow} dy[n, o, oh, ow]
    dw[o, c, a, b] = sum_{n, oh, ow} dy[n, o, oh, ow] * x[n, c, oh*s_h - p_h + a, ow*s_w - p_w + b]
    dx             = the same sums scattered back: a transposed convolution of dy

Fast paths:

* stride 1 on images big enough (:func:`_forward_shifted`): no im2col at
  all. Each padded image is flattened to a (C_in, Hp Wp) matrix; the output
  pixel (oh, ow) sits at column q = oh Wp + ow and its tap (a, b') reads
  column q + a Wp + b'. So every tap is one GEMM of w[:, :, a, b'] with a
  shifted window of columns, accumulated in place (``ops.blas.gemm``,
  beta = 1). The Wp - OW columns at the end of each output row read across
  the row's end; they are computed and dropped. With at most
  DIRECT_MAX_COUT output channels (the r^2 of the sub-pixel form in
  :mod:`espcn_ref.equivalence`), GEMMs of so few rows are bound by memory
  traffic; the direct kernel of :mod:`.conv_direct` sums the same taps on
  the same layout instead.
* otherwise im2col (a Numba gather) + one BLAS GEMM per block of output rows.

The backward is the im2col GEMMs transposed, plus col2im (a Numba
scatter-add) or, at stride 1 with padding smaller than the kernel, a
convolution of dy with the flipped kernel.
The reference twins at the bottom are the formulas above as loops.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_bias, check_conv_shapes, conv_operands, promote
from .blas import gemm
from .conv_direct import DIRECT_MAX_COUT, LINE, direct_taps, line_aligned_empty
from .im2col import col2im_block, gather_block, im2col_block, row_blocks, scatter_block

# Stride-1 convs take the shifted-GEMM path when one image's im2col would
# hold at least SHIFTED_MIN_COLS values and each of its GEMMs is at least
# SHIFTED_MIN_WIDTH columns wide (OH Wp): then the GEMMs are big enough to
# pay for one BLAS call per tap and image. Many small images stay on im2col,
# where the whole batch is one GEMM.
SHIFTED_MIN_COLS = 1 << 16
SHIFTED_MIN_WIDTH = 1024


def conv_geometry(x_shape, w_shape, stride, padding, x_name="x"):
    """Validate shapes; return (geom, OH, OW), geom = (k_h, k_w, s_h, s_w, p_h, p_w)."""
    N, C, H, W = x_shape
    C_out, C_in, kh, kw = w_shape
    (sh, sw), (ph, pw) = check_conv_shapes(x_name, C, w_shape, 1, "(C_out, C_in, k_h, k_w)", stride, padding)
    if min(N, C, H, W) < 1:
        raise ValueError(f"{x_name} must be non-empty, got shape {tuple(x_shape)}")
    OH = (H + 2 * ph - kh) // sh + 1
    OW = (W + 2 * pw - kw) // sw + 1
    if H + 2 * ph < kh or W + 2 * pw < kw or OH < 1 or OW < 1:
        raise ValueError(
            f"the output would be empty: {x_name} of size {H}x{W} with padding ({ph}, {pw}) "
            f"is smaller than the {kh}x{kw} kernel"
        )
    return (kh, kw, sh, sw, ph, pw), OH, OW


def _check_conv_args(x, w, stride, padding, x_name="x"):
    x, w = conv_operands(x, w, "(C_out, C_in, k_h, k_w)", x_name)
    geom, OH, OW = conv_geometry(x.shape, w.shape, stride, padding, x_name)
    return x, w, geom, OH, OW


def _forward(x, w, b, geom, OH, OW):
    """Blocked im2col + GEMM. Returns y: (N, C_out, OH, OW)."""
    N, C_in = x.shape[:2]
    C_out, _, kh, kw = w.shape
    w_mat = w.reshape(C_out, C_in * kh * kw)  # (C_out, C_in*kh*kw)
    y = np.empty((N, C_out, OH, OW), dtype=x.dtype)
    for (n0, n1, oh0, oh1), cols in _column_blocks(x, geom, C_in * kh * kw, N, OH, OW):
        if n1 - n0 == 1:  # one image: the GEMM writes straight into y's rows (no temporary)
            np.matmul(w_mat, cols, out=y[n0].reshape(C_out, OH * OW)[:, oh0 * OW : oh1 * OW])
        else:
            scatter_block(w_mat @ cols, y, n0, n1, oh0, oh1)  # now the conv is a GEMM
    if b is not None:
        y += b[None, :, None, None]
    return y


def _forward_shifted(x, w, b, geom, OH, OW):
    """Stride 1 without im2col: one accumulating GEMM per tap and image, or,
    for at most DIRECT_MAX_COUT output channels, the direct kernel of
    :mod:`.conv_direct` on the same layout.

    x: (N, C_in, H, W), w: (C_out, C_in, k_h, k_w), b: (C_out,) or None.
    With Hp = H + 2 p_h, Wp = W + 2 p_w and xp[n] the zero-padded image
    flattened to (C_in, Hp Wp) (plus zeros read by the last row's dropped
    columns)::

        y_wide[n][:, q] = b + sum_{a, b'} w[:, :, a, b'] @ xp[n][:, q + a Wp + b'],  q < OH Wp
        y[n, :, oh, ow] = y_wide[n][:, oh Wp + ow]                                  ow < OW

    y_wide's rows are rounded up to whole cache lines and start on one
    (``line_aligned_empty``); the few extra columns are computed and dropped.
    Returns y: (N, C_out, OH, OW), C-contiguous.
    """
    kh, kw, _, _, ph, pw = geom
    N, C_in, H, W = x.shape
    C_out = w.shape[0]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    per_line = LINE // x.itemsize
    L = -(-OH * Wp // per_line) * per_line  # output columns per image: OW of every Wp kept
    xp = np.zeros((N, C_in, (kh - 1) * Wp + kw - 1 + L), dtype=x.dtype)  # the last tap reads up to here
    xp[:, :, : Hp * Wp].reshape(N, C_in, Hp, Wp)[:, :, ph : ph + H, pw : pw + W] = x
    shifts = [a * Wp + bb for a in range(kh) for bb in range(kw)]
    y_wide = line_aligned_empty((N, C_out, L), x.dtype)
    y_wide[...] = 0 if b is None else b[:, None]
    if C_out <= DIRECT_MAX_COUT:
        # tap k = (c, a, b') in w's flattening reads channel c at shift a Wp + b'
        direct_taps(xp, np.repeat(np.arange(C_in), kh * kw), np.tile(shifts, C_in), w.reshape(C_out, -1), y_wide)
    else:
        taps = np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(kh * kw, C_out, C_in)  # tap t = (a, b')
        for n in range(N):
            for t, s in enumerate(shifts):
                gemm(taps[t], xp[n, :, s : s + L], y_wide[n], accumulate=True)
    return np.ascontiguousarray(y_wide[:, :, : OH * Wp].reshape(N, C_out, OH, Wp)[:, :, :, :OW])


def takes_shifted_path(x_shape, w_shape, geom, OH, OW) -> bool:
    """Stride 1, one image's im2col >= SHIFTED_MIN_COLS values, GEMMs >= SHIFTED_MIN_WIDTH wide."""
    kh, kw, sh, sw, _, pw = geom
    wide = OH * (x_shape[3] + 2 * pw) >= SHIFTED_MIN_WIDTH
    return sh == 1 and sw == 1 and wide and x_shape[1] * kh * kw * OH * OW >= SHIFTED_MIN_COLS


def conv2d(x, w, b=None, stride=1, padding=0) -> np.ndarray:
    """Cross-correlation ``W * x + b``, the convolution of eq. (1)-(3).

    x: (N, C_in, H, W); w: (C_out, C_in, k_h, k_w); b: (C_out,) or None.
    stride: int or (s_h, s_w), >= 1. padding: int or (p_h, p_w), zero padding, >= 0.
    Returns y: (N, C_out, OH, OW), OH = (H + 2 p_h - k_h) // s_h + 1.
    Same semantics as PyTorch's ``F.conv2d``.
    """
    x, w, geom, OH, OW = _check_conv_args(x, w, stride, padding)
    b = check_bias(b, w.shape[0])
    x, w, b = promote(x, w, b)
    if takes_shifted_path(x.shape, w.shape, geom, OH, OW):
        return _forward_shifted(x, w, b, geom, OH, OW)
    return _forward(x, w, b, geom, OH, OW)


def conv2d_backward(dy, x, w, stride=1, padding=0, need_dx=True):
    """Gradients of :func:`conv2d` with respect to x, w and b.

    dy: (N, C_out, OH, OW) = dL/dy; x: (N, C_in, H, W); w: (C_out, C_in, k_h, k_w).
    Returns (dx, dw, db) with shapes (N, C_in, H, W), w.shape, (C_out,);
    dx is None when ``need_dx`` is False (a network's first layer).
    """
    x, w, geom, OH, OW = _check_conv_args(x, w, stride, padding)
    return _backward(dy, x, w, geom, OH, OW, need_dx)


def _column_blocks(x, geom, K, N, OH, OW):
    """Yield ((n0, n1, oh0, oh1), cols) for each block of :func:`row_blocks`,
    cols the (K, rows*OW) im2col of that block. Every block reuses one
    buffer, so only one block's columns are alive at a time."""
    blocks = list(row_blocks(N, OH, K * OW * x.itemsize))
    largest = max((n1 - n0) * (oh1 - oh0) for n0, n1, oh0, oh1 in blocks)
    buf = np.empty(K * largest * OW, dtype=x.dtype)
    for n0, n1, oh0, oh1 in blocks:
        n = (n1 - n0) * (oh1 - oh0) * OW
        cols = buf[: K * n].reshape(K, n)
        im2col_block(x, geom, n0, n1, oh0, oh1, OW, cols)
        yield (n0, n1, oh0, oh1), cols


def _backward(dy, x, w, geom, OH, OW, need_dx):
    N, C_in, H, W = x.shape
    C_out, _, kh, kw = w.shape
    dy = as_float_array(dy, "dy", ndim=4, shape_doc="(N, C_out, OH, OW)")
    if dy.shape != (N, C_out, OH, OW):
        raise ValueError(f"dy must have shape {(N, C_out, OH, OW)} (the output of conv2d), got {dy.shape}")
    x, w, dy = promote(x, w, dy)
    _, _, sh, sw, ph, pw = geom
    w_mat = w.reshape(C_out, C_in * kh * kw)
    dw_mat = np.zeros_like(w_mat)
    # Stride 1 with padding < kernel: dx is itself a convolution of dy with the
    # flipped, in/out-swapped kernel (no scatter-add needed, and its GEMM has
    # the larger inner dimension C_out*kh*kw instead of C_out).
    data_as_conv = sh == 1 and sw == 1 and ph < kh and pw < kw
    dx = None if data_as_conv or not need_dx else np.zeros_like(x)
    # if we im2col on the forward, we col2im on the backward
    for (n0, n1, oh0, oh1), cols in _column_blocks(x, geom, C_in * kh * kw, N, OH, OW):
        dy_mat = gather_block(dy, n0, n1, oh0, oh1)  # (C_out, rows*OW)
        dw_mat += dy_mat @ cols.T
        if need_dx and not data_as_conv:
            col2im_block(w_mat.T @ dy_mat, geom, n0, n1, oh0, oh1, OW, dx)
    if need_dx and data_as_conv:
        w_flip = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])  # (C_in, C_out, kh, kw)
        dx = conv2d(dy, w_flip, None, 1, (kh - 1 - ph, kw - 1 - pw))
    db = dy.sum(axis=(0, 2, 3))
    return dx, dw_mat.reshape(w.shape), db


# --- The spec: the definition as loops ----------------------------------------


def _pad(x, ph, pw, extra_h=0, extra_w=0):
    return np.pad(x, ((0, 0), (0, 0), (ph, ph + extra_h), (pw, pw + extra_w)))


def conv2d_reference(x, w, b=None, stride=1, padding=0) -> np.ndarray:
    """The cross-correlation formula of the module doc as loops over (oh, ow, a, b)."""
    x, w, (kh, kw, sh, sw, ph, pw), OH, OW = _check_conv_args(x, w, stride, padding)
    b = check_bias(b, w.shape[0])
    x, w, b = promote(x, w, b)
    xp = _pad(x, ph, pw)
    y = np.zeros((x.shape[0], w.shape[0], OH, OW), dtype=x.dtype)
    for oh in range(OH):
        for ow in range(OW):
            for a in range(kh):
                for bb in range(kw):
                    # (N, C_in) @ (C_in, C_out): sum over c for every n, o
                    y[:, :, oh, ow] += xp[:, :, oh * sh + a, ow * sw + bb] @ w[:, :, a, bb].T
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv2d_backward_reference(dy, x, w, stride=1, padding=0):
    """The backward formulas of the module doc as loops (the spec)."""
    x, w, (kh, kw, sh, sw, ph, pw), OH, OW = _check_conv_args(x, w, stride, padding)
    x, w, dy = promote(x, w, as_float_array(dy, "dy", ndim=4))
    xp = _pad(x, ph, pw)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for oh in range(OH):
        for ow in range(OW):
            for a in range(kh):
                for bb in range(kw):
                    h, v = oh * sh + a, ow * sw + bb
                    dxp[:, :, h, v] += dy[:, :, oh, ow] @ w[:, :, a, bb]
                    dw[:, :, a, bb] += dy[:, :, oh, ow].T @ xp[:, :, h, v]
    H, W = x.shape[2:]
    return dxp[:, :, ph : ph + H, pw : pw + W], dw, dy.sum(axis=(0, 2, 3))
