"""GEMM with accumulation into a strided view: ``C = beta*C + A @ B``.

NumPy's ``matmul`` cannot accumulate (its BLAS call always has beta = 0),
and accumulating is what a convolution is: a sum over kernel taps of small
matrix products (see :mod:`.conv_grid`). So we call BLAS ``sgemm``/``dgemm``
ourselves, through SciPy's documented Cython BLAS table
(``scipy.linalg.cython_blas``), with the pointer and leading dimension of
each operand. No copy is ever made: A, B and C may be row slices of larger
arrays, as long as each has unit stride along its last axis.

BLAS is column-major; a row-major (m, n) matrix with row stride ``ld`` is
the column-major (n, m) matrix with the same ``ld``. So ``C = A @ B`` in
row-major is ``C^T = B^T A^T`` in column-major, which is the call below with
the operands swapped and nothing transposed.

ctypes releases the GIL for the call, so worker threads can run GEMMs side
by side (see :func:`..conv_grid.parallel_chunks`).
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba.extending import get_cython_function_address

_VP = ctypes.c_void_p
_PROTO = ctypes.CFUNCTYPE(None, *([_VP] * 13))  # ?gemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
_GEMM = {
    np.dtype(np.float32): (_PROTO(get_cython_function_address("scipy.linalg.cython_blas", "sgemm")), ctypes.c_float),
    np.dtype(np.float64): (_PROTO(get_cython_function_address("scipy.linalg.cython_blas", "dgemm")), ctypes.c_double),
}
_NO_TRANS = ctypes.c_char(b"N")
_TRANS = ctypes.c_char(b"T")


def _leading_dim(a: np.ndarray, name: str) -> int:
    """Row stride in elements of a 2-D view with unit stride along its rows."""
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    rows, cols = a.shape
    if a.size == 0:
        return max(cols, 1)
    row, col = a.strides
    size = a.itemsize
    unit_cols = cols <= 1 or col == size
    rows_apart = rows <= 1 or (row > 0 and row % size == 0 and row // size >= cols)
    if not (unit_cols and rows_apart):
        raise ValueError(f"{name} must be a row slice (unit stride along its rows), got strides {a.strides}")
    return row // size if rows > 1 else max(cols, 1)


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, accumulate: bool = False, trans_a: bool = False) -> None:
    """``c[...] = a @ b`` (or ``c += a @ b`` when ``accumulate``), in place.

    a: (m, k), or (k, m) read as its transpose when ``trans_a``; b: (k, n);
    c: (m, n). All three share one dtype, float32 or float64, and each is a
    2-D view with unit stride along its last axis (row slices of bigger
    arrays are fine). ``c`` must not overlap ``a`` or ``b``.
    """
    dtype = c.dtype
    if dtype not in _GEMM or a.dtype != dtype or b.dtype != dtype:
        raise TypeError(f"gemm needs float32 or float64 operands of one dtype, got {a.dtype}, {b.dtype}, {c.dtype}")
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    if b.shape[0] != k or c.shape != (m, b.shape[1]):
        raise ValueError(f"gemm shapes do not match: a {a.shape} (trans_a={trans_a}), b {b.shape}, c {c.shape}")
    n = b.shape[1]
    if not c.flags.writeable:
        raise ValueError("c must be writeable")
    if np.may_share_memory(c, a) or np.may_share_memory(c, b):
        raise ValueError("c must not overlap a or b")
    lda, ldb, ldc = _leading_dim(a, "a"), _leading_dim(b, "b"), _leading_dim(c, "c")
    if m == 0 or n == 0:
        return
    if k == 0:
        if not accumulate:
            c[...] = 0
        return
    fn, scalar = _GEMM[dtype]
    ci = ctypes.c_int
    # column-major: c^T (n, m) = b^T (n, k) @ a^T (k, m); a stored (k, m) row-major is a^T's
    # column-major transpose, hence the flag flip.
    fn(
        ctypes.byref(_NO_TRANS), ctypes.byref(_TRANS if trans_a else _NO_TRANS),
        ctypes.byref(ci(n)), ctypes.byref(ci(m)), ctypes.byref(ci(k)),
        ctypes.byref(scalar(1.0)),
        _VP(b.ctypes.data), ctypes.byref(ci(ldb)),
        _VP(a.ctypes.data), ctypes.byref(ci(lda)),
        ctypes.byref(scalar(1.0 if accumulate else 0.0)),
        _VP(c.ctypes.data), ctypes.byref(ci(ldc)),
    )  # fmt: skip


def rows_independent_of_position(dtype=np.float32) -> bool:
    """Does this BLAS compute each row of ``a @ b`` the same wherever the row
    sits in the call? A probe: the rows of one (300, 64) @ (64, 32) product
    against the same rows computed in slices at every offset mod 24.

    When True, a pixel's output does not depend on which tile or chunk of the
    grid it was computed in, so tiled inference equals untiled bit for bit.
    OpenBLAS's SkylakeX and Zen kernels pass; its Haswell kernel (forced on
    some machines by OPENBLAS_CORETYPE=Haswell) does not: it sums a row in an
    order that depends on the row's place within its micro-kernel block.
    """
    g = np.random.default_rng(0)
    a = g.standard_normal((300, 64)).astype(dtype)
    b = g.standard_normal((64, 32)).astype(dtype)
    whole = np.empty((300, 32), dtype=dtype)
    gemm(a, b, whole)
    for offset in range(24):
        for rows in (1, 5, 64, 200):
            part = np.empty((rows, 32), dtype=dtype)
            gemm(a[offset : offset + rows], b, part)
            if not np.array_equal(part, whole[offset : offset + rows]):
                return False
    return True
