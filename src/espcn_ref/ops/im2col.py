"""im2col and col2im: the gather and the scatter-add behind every convolution.

A cross-correlation with a (k_h, k_w) kernel, stride (s_h, s_w) and zero
padding (p_h, p_w) reads, for output pixel (oh, ow) and tap (a, b), the
input pixel::

    (h, w) = (oh*s_h - p_h + a, ow*s_w - p_w + b)     # zero if outside

im2col gathers those pixels into a matrix whose rows are (c, a, b) and whose
columns are output pixels, so that the convolution becomes one GEMM::

    cols[(c*k_h + a)*k_w + b, (n*OH + oh)*OW + ow] = x[n, c, h, w]
    y = w.reshape(C_out, C_in*k_h*k_w) @ cols          # now the conv is a GEMM

col2im is its adjoint: it scatter-adds each column back to the pixels it was
read from. It is the backward of im2col, and, applied to ``w^T @ x``, it is
the transposed convolution ("deconvolution layer", Sec. 2.1 of the paper).

Memory stays bounded: callers process output rows in blocks (see
:func:`row_blocks`), so no im2col matrix of a whole 1080p frame is built.

``geom`` is the tuple ``(k_h, k_w, s_h, s_w, p_h, p_w)`` throughout.
"""

from __future__ import annotations

from numba import njit, prange

# Bytes one im2col block may take. 32 MiB keeps a block in a few L2/L3-sized
# GEMM panels and caps the extra memory of a 1080p frame.
BLOCK_BYTES = 32 * 2**20


def gather_block(a, n0, n1, oh0, oh1):
    """Rows oh0..oh1 of images n0..n1 of a (N, C, OH, OW) array as a (C, rows*OW) matrix."""
    block = a[n0:n1, :, oh0:oh1, :]  # (n, C, rows, OW)
    return block.transpose(1, 0, 2, 3).reshape(a.shape[1], -1)


def scatter_block(mat, out, n0, n1, oh0, oh1):
    """Write a (C, n*rows*OW) matrix into out[n0:n1, :, oh0:oh1, :] (the inverse of :func:`gather_block`)."""
    n, C = n1 - n0, out.shape[1]
    out[n0:n1, :, oh0:oh1, :] = mat.reshape(C, n, oh1 - oh0, out.shape[3]).transpose(1, 0, 2, 3)


@njit(cache=True)
def _valid_range(a, pad, stride, lo_out, hi_out, size):
    """Outputs o in [lo, hi), within [lo_out, hi_out), whose input o*stride - pad + a is in [0, size)."""
    lo = 0 if a >= pad else (pad - a + stride - 1) // stride
    hi = 0 if size + pad - a <= 0 else (size + pad - a + stride - 1) // stride
    lo, hi = max(lo, lo_out), min(hi, hi_out)
    return lo, max(lo, hi)


@njit(cache=True, parallel=True)
def im2col_block(x, geom, n0, n1, oh0, oh1, OW, cols):
    """Gather output rows [oh0, oh1) of images [n0, n1) into ``cols``.

    x: (N, C, H, W). cols: (C*k_h*k_w, (n1-n0)*(oh1-oh0)*OW), written fully.
    For each (tap, image) the pixels inside the image form one rectangle,
    copied as a (strided) block; only the border around it is zeroed.
    """
    kh, kw, sh, sw, ph, pw = geom
    N, C, H, W = x.shape
    cols4 = cols.reshape((C * kh * kw, n1 - n0, oh1 - oh0, OW))  # (q, n, oh, ow)
    for q in prange(C * kh * kw):  # one row of cols per iteration: no races
        c = q // (kh * kw)
        a = (q // kw) % kh
        b = q % kw
        r0, r1 = _valid_range(a, ph, sh, oh0, oh1, H)  # output rows reading inside
        c0, c1 = _valid_range(b, pw, sw, 0, OW, W)  # output columns reading inside
        for n in range(n0, n1):
            dst = cols4[q, n - n0]  # (rows, OW)
            dst[: r0 - oh0, :] = 0
            dst[r1 - oh0 :, :] = 0
            dst[r0 - oh0 : r1 - oh0, :c0] = 0
            dst[r0 - oh0 : r1 - oh0, c1:] = 0
            if r1 > r0 and c1 > c0:
                dst[r0 - oh0 : r1 - oh0, c0:c1] = x[
                    n, c, r0 * sh - ph + a : (r1 - 1) * sh - ph + a + 1 : sh,
                    c0 * sw - pw + b : (c1 - 1) * sw - pw + b + 1 : sw,
                ]


@njit(cache=True, parallel=True)
def col2im_block(cols, geom, n0, n1, oh0, oh1, OW, x):
    """Scatter-add ``cols`` into x: the adjoint of :func:`im2col_block`.

    cols: (C*k_h*k_w, (n1-n0)*(oh1-oh0)*OW). x: (N, C, H, W), accumulated.
    The work is split by rows of x, not by (n, c) planes: the transposed
    form of the equivalence module has a single plane, and two cores
    should still share it. Row h takes the stamps of taps a with
    h = i s_h - p_h + a for some output row i in [oh0, oh1), in the order
    a, then b, so every value is summed in the same order however the
    rows are split.
    """
    kh, kw, sh, sw, ph, pw = geom
    N, C, H, W = x.shape
    cols4 = cols.reshape((C * kh * kw, n1 - n0, oh1 - oh0, OW))
    h0, h1 = max(0, oh0 * sh - ph), min(H, (oh1 - 1) * sh - ph + kh)  # rows these stamps reach
    rows = max(0, h1 - h0)
    for job in prange((n1 - n0) * C * rows):  # each row of x has one writer
        n, c, h = n0 + job // (C * rows), job // rows % C, h0 + job % rows
        dst = x[n, c, h]
        for a in range(kh):
            t = h + ph - a  # = i s_h for the output row i whose tap a lands on row h
            if t < oh0 * sh or t > (oh1 - 1) * sh or t % sh != 0:
                continue
            for b in range(kw):
                c0, c1 = _valid_range(b, pw, sw, 0, OW, W)
                src = cols4[(c * kh + a) * kw + b, n - n0, t // sh - oh0]  # (OW,)
                for j in range(c0, c1):  # explicit loop: no temporary array
                    dst[j * sw - pw + b] += src[j]


def row_blocks(N: int, OH: int, bytes_per_row: int, budget: int = BLOCK_BYTES):
    """Split the N*OH output rows into blocks of at most ``budget`` bytes.

    Yields ``(n0, n1, oh0, oh1)``: either whole images [n0, n1) (oh0 = 0,
    oh1 = OH), or a band of rows [oh0, oh1) of the single image n0. At least
    one row is always taken, so a block may exceed the budget only when a
    single output row does.
    """
    rows_fit = max(1, budget // max(1, bytes_per_row))
    if rows_fit >= OH:
        per = max(1, rows_fit // OH)
        for n0 in range(0, N, per):
            yield n0, min(N, n0 + per), 0, OH
    else:
        for n in range(N):
            for oh0 in range(0, OH, rows_fit):
                yield n, n + 1, oh0, min(OH, oh0 + rows_fit)


def _reads(geom, x_shape, OH, OW):
    """Every (cols row, cols column, x index) that im2col reads inside x, in
    the order n, c, a, b, oh, ow: the index formula of the module docstring."""
    kh, kw, sh, sw, ph, pw = geom
    N, C, H, W = x_shape
    for n in range(N):
        for c in range(C):
            for a in range(kh):
                for b in range(kw):
                    for oh in range(OH):
                        for ow in range(OW):
                            h, w = oh * sh - ph + a, ow * sw - pw + b
                            if 0 <= h < H and 0 <= w < W:
                                yield (c * kh + a) * kw + b, (n * OH + oh) * OW + ow, (n, c, h, w)


def im2col_reference(x, geom, OH, OW):
    """im2col as plain loops (the spec). x: (N, C, H, W) -> (C*kh*kw, N*OH*OW)."""
    import numpy as np

    kh, kw = geom[:2]
    cols = np.zeros((x.shape[1] * kh * kw, x.shape[0] * OH * OW), dtype=x.dtype)
    for q, p, at in _reads(geom, x.shape, OH, OW):
        cols[q, p] = x[at]
    return cols


def col2im_reference(cols, geom, x_shape, OH, OW):
    """col2im as plain loops, the twin of :func:`col2im_block` (all rows at once).

    cols: (C*kh*kw, N*OH*OW) -> x: x_shape = (N, C, H, W), each stamp added
    where :func:`im2col_reference` read it, taps in the order a, then b.
    """
    import numpy as np

    x = np.zeros(x_shape, dtype=cols.dtype)
    for q, p, at in _reads(geom, x_shape, OH, OW):
        x[at] += cols[q, p]
    return x
