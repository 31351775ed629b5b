"""Transposed convolution: the "deconvolution layer" of Sec. 2.1, as PyTorch's
``F.conv_transpose2d``.

It is defined by a scatter-add. Every input pixel (h, w) stamps the kernel,
scaled by its value, onto the output at stride s, and the result is cropped
by the padding p::

    full[n, o, h*s_h + a, w*s_w + b] += x[n, c, h, w] * w[c, o, a, b]
    y = full[:, :, p_h : p_h + OH, p_w : p_w + OW]

    OH = (H - 1)*s_h - 2*p_h + k_h + op_h         (op = output_padding < s)

w is (C_in, C_out, k_h, k_w): note the swap against conv2d. The map x -> y is
the adjoint (transpose) of ``conv2d(., w, stride=s, padding=p)`` from the
(N, C_out, OH, OW) space to (N, C_in, H, W): hence its name, and hence its
backward is an ordinary strided convolution::

    dx = conv2d(dy, w, stride=s, padding=p)                       # (N, C_in, H, W)
    dw[c, o, a, b] = sum_{n,h,w} x[n, c, h, w] * dy[n, o, h*s_h - p_h + a, w*s_w - p_w + b]
    db[o] = sum dy[n, o, :, :]

Fast path: one GEMM ``w^T @ x`` puts every stamp in a column, and col2im
scatter-adds the columns (a Numba kernel). The reference twin is the loop above.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_bias, check_conv_shapes, check_pair, conv_operands, promote
from .im2col import col2im_block, gather_block, im2col_block, row_blocks, scatter_block


def _check_tconv_args(x, w, stride, padding, output_padding):
    """Validate; return (x, w, geom, OH, OW)."""
    x, w = conv_operands(x, w, "(C_in, C_out, k_h, k_w)")
    N, C, H, W = x.shape
    C_in, C_out, kh, kw = w.shape
    (sh, sw), (ph, pw) = check_conv_shapes("x", C, w.shape, 0, "(C_in, C_out, k_h, k_w), as conv_transpose2d takes it,",
                                           stride, padding)
    oph, opw = check_pair(output_padding, "output_padding", 0)
    if min(x.shape) < 1 or min(w.shape) < 1:
        raise ValueError(f"x and w must be non-empty, got shapes {x.shape} and {w.shape}")
    if oph >= sh or opw >= sw:
        raise ValueError(f"output_padding ({oph}, {opw}) must be smaller than stride ({sh}, {sw})")
    OH = (H - 1) * sh - 2 * ph + kh + oph
    OW = (W - 1) * sw - 2 * pw + kw + opw
    if H < 1 or W < 1 or OH < 1 or OW < 1:
        raise ValueError(
            f"the output would be empty: x of size {H}x{W} with a {kh}x{kw} kernel, "
            f"stride ({sh}, {sw}) and padding ({ph}, {pw}) gives {OH}x{OW}"
        )
    return x, w, (kh, kw, sh, sw, ph, pw), OH, OW


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0) -> np.ndarray:
    """Transposed convolution (scatter-add), as PyTorch's ``F.conv_transpose2d``.

    x: (N, C_in, H, W); w: (C_in, C_out, k_h, k_w); b: (C_out,) or None.
    stride, padding, output_padding: int or pair; 0 <= output_padding < stride.
    Returns y: (N, C_out, OH, OW), OH = (H - 1) s_h - 2 p_h + k_h + op_h.
    """
    x, w, geom, OH, OW = _check_tconv_args(x, w, stride, padding, output_padding)
    b = check_bias(b, w.shape[1])
    x, w, b = promote(x, w, b)
    N, C_in, H, W = x.shape
    _, C_out, kh, kw = w.shape
    w_mat_t = w.reshape(C_in, C_out * kh * kw).T  # (C_out*kh*kw, C_in)
    y = np.zeros((N, C_out, OH, OW), dtype=x.dtype)
    for n0, n1, h0, h1 in row_blocks(N, H, C_out * kh * kw * W * x.itemsize):
        stamps = w_mat_t @ gather_block(x, n0, n1, h0, h1)  # (C_out*kh*kw, rows*W)
        col2im_block(stamps, geom, n0, n1, h0, h1, W, y)  # scatter-add the stamps
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv_transpose2d_backward(dy, x, w, stride=1, padding=0, output_padding=0):
    """Gradients of :func:`conv_transpose2d` with respect to x, w and b.

    dy: (N, C_out, OH, OW); x: (N, C_in, H, W); w: (C_in, C_out, k_h, k_w).
    Returns (dx, dw, db) with shapes x.shape, w.shape, (C_out,).
    """
    x, w, geom, OH, OW = _check_tconv_args(x, w, stride, padding, output_padding)
    dy = as_float_array(dy, "dy", ndim=4, shape_doc="(N, C_out, OH, OW)")
    N, C_in, H, W = x.shape
    _, C_out, kh, kw = w.shape
    if dy.shape != (N, C_out, OH, OW):
        raise ValueError(f"dy must have shape {(N, C_out, OH, OW)} (the output of conv_transpose2d), got {dy.shape}")
    x, w, dy = promote(x, w, dy)
    w_mat = w.reshape(C_in, C_out * kh * kw)
    dx = np.empty_like(x)
    dw_mat = np.zeros_like(w_mat)
    for n0, n1, h0, h1 in row_blocks(N, H, C_out * kh * kw * W * x.itemsize):
        cols = np.empty((C_out * kh * kw, (n1 - n0) * (h1 - h0) * W), dtype=x.dtype)
        im2col_block(dy, geom, n0, n1, h0, h1, W, cols)  # gather what each x pixel stamped
        scatter_block(w_mat @ cols, dx, n0, n1, h0, h1)  # dx is a strided conv2d of dy
        dw_mat += gather_block(x, n0, n1, h0, h1) @ cols.T
    return dx, dw_mat.reshape(w.shape), dy.sum(axis=(0, 2, 3))


# --- The spec: the scatter-add as loops ---------------------------------------


def _full_size(H, s, k, p, OH):
    return max((H - 1) * s + k, p + OH)


def conv_transpose2d_reference(x, w, b=None, stride=1, padding=0, output_padding=0) -> np.ndarray:
    """The scatter-add definition of the module doc as loops over (h, w, a, b)."""
    x, w, (kh, kw, sh, sw, ph, pw), OH, OW = _check_tconv_args(x, w, stride, padding, output_padding)
    b = check_bias(b, w.shape[1])
    x, w, b = promote(x, w, b)
    N, C_in, H, W = x.shape
    full = np.zeros((N, w.shape[1], _full_size(H, sh, kh, ph, OH), _full_size(W, sw, kw, pw, OW)), x.dtype)
    for h in range(H):
        for v in range(W):
            for a in range(kh):
                for bb in range(kw):
                    # (N, C_in) @ (C_in, C_out): stamp tap (a, bb) of every pixel
                    full[:, :, h * sh + a, v * sw + bb] += x[:, :, h, v] @ w[:, :, a, bb]
    y = full[:, :, ph : ph + OH, pw : pw + OW].copy()
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv_transpose2d_backward_reference(dy, x, w, stride=1, padding=0, output_padding=0):
    """Backward of the scatter-add, as loops: each stamp reads dy where it wrote."""
    x, w, (kh, kw, sh, sw, ph, pw), OH, OW = _check_tconv_args(x, w, stride, padding, output_padding)
    x, w, dy = promote(x, w, as_float_array(dy, "dy", ndim=4))
    N, C_in, H, W = x.shape
    full = np.zeros((N, w.shape[1], _full_size(H, sh, kh, ph, OH), _full_size(W, sw, kw, pw, OW)), x.dtype)
    full[:, :, ph : ph + OH, pw : pw + OW] = dy
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for h in range(H):
        for v in range(W):
            for a in range(kh):
                for bb in range(kw):
                    g = full[:, :, h * sh + a, v * sw + bb]  # (N, C_out)
                    dx[:, :, h, v] += g @ w[:, :, a, bb].T
                    dw[:, :, a, bb] += x[:, :, h, v].T @ g
    return dx, dw, dy.sum(axis=(0, 2, 3))

