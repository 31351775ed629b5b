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

The call is made from Numba (:func:`gemm_kernel`), so the loops of the
convolution engine that issue many small GEMMs run in compiled code, with no
Python between the calls, and without the GIL (worker threads run GEMMs side
by side). The BLAS routine's address is an argument, not a global: a
compiled function that holds an address cannot be cached on disk, because
the address changes from one process to the next. :func:`gemm` is the
checked entry point for Python callers.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import get_cython_function_address, intrinsic

# The address of the BLAS routine for each dtype; pass it to :func:`gemm_kernel`.
GEMM_ADDRESS = {
    np.dtype(np.float32): get_cython_function_address("scipy.linalg.cython_blas", "sgemm"),
    np.dtype(np.float64): get_cython_function_address("scipy.linalg.cython_blas", "dgemm"),
}
_N, _T = ord("N"), ord("T")


@intrinsic
def _call_gemm(typingctx, address, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``?gemm(&trans_a, &trans_b, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc)`` at ``address``.

    The Fortran convention: every argument by pointer. Scalars are stored in
    stack slots (characters as uint8, sizes as int32, alpha and beta in c's
    dtype); arrays pass their data pointers.
    """
    scalars = {1: types.uint8, 2: types.uint8, 3: types.int32, 4: types.int32, 5: types.int32,
               6: c.dtype, 8: types.int32, 10: types.int32, 11: c.dtype, 13: types.int32}
    sig = types.void(address, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        byte_ptr = ir.IntType(8).as_pointer()
        ptrs = []
        for i, (ty, val) in enumerate(zip(signature.args, args)):
            if i == 0:
                continue
            if i in scalars:
                slot = cgutils.alloca_once_value(builder, context.cast(builder, val, ty, scalars[i]))
                ptrs.append(builder.bitcast(slot, byte_ptr))
            else:
                ptrs.append(builder.bitcast(context.make_array(ty)(context, builder, val).data, byte_ptr))
        fn_type = ir.FunctionType(ir.VoidType(), [byte_ptr] * 13)
        builder.call(builder.inttoptr(args[0], fn_type.as_pointer()), ptrs)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def _leading_dim_of(x):
    """Row stride in elements of a 2-D array with unit stride along its rows."""
    return x.strides[0] // x.itemsize if x.shape[0] > 1 else max(x.shape[1], 1)


@njit(cache=True, nogil=True)
def gemm_kernel(address, a, b, c, beta, trans_a):
    """``c[...] = a @ b + beta * c`` (a read as its transpose when ``trans_a``), no checks.

    address: ``GEMM_ADDRESS[c.dtype]``; a: (m, k), or (k, m) with ``trans_a``;
    b: (k, n); c: (m, n). Operands as :func:`gemm` requires them (the callers
    in :mod:`.conv_grid` pass row slices of their grids). Twin:
    ``beta * c + a @ b`` in NumPy (tests).
    """
    m = a.shape[1] if trans_a else a.shape[0]
    k = a.shape[0] if trans_a else a.shape[1]
    n = b.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:  # no products: c = beta * c, and BLAS's beta = 0 never reads c
        if beta == 0.0:
            c[:, :] = 0.0
        else:
            c *= beta
        return
    # column-major: c^T (n, m) = b^T (n, k) @ a^T (k, m); a stored (k, m) row-major is
    # a^T's column-major transpose, hence the flag.
    _call_gemm(address, _N, _T if trans_a else _N, n, m, k, 1.0,
               b, _leading_dim_of(b), a, _leading_dim_of(a), beta, c, _leading_dim_of(c))  # fmt: skip


def _leading_dim(a: np.ndarray, name: str) -> None:
    """Checks that a 2-D view has unit stride along its rows and rows apart by at least their length."""
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    rows, cols = a.shape
    if a.size == 0:
        return
    row, col = a.strides
    size = a.itemsize
    unit_cols = cols <= 1 or col == size
    rows_apart = rows <= 1 or (row > 0 and row % size == 0 and row // size >= cols)
    if not (unit_cols and rows_apart):
        raise ValueError(f"{name} must be a row slice (unit stride along its rows), got strides {a.strides}")


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, accumulate: bool = False, trans_a: bool = False) -> None:
    """``c[...] = a @ b`` (or ``c += a @ b`` when ``accumulate``), in place.

    a: (m, k), or (k, m) read as its transpose when ``trans_a``; b: (k, n);
    c: (m, n). All three share one dtype, float32 or float64, and each is a
    2-D view with unit stride along its last axis (row slices of bigger
    arrays are fine). ``c`` must not overlap ``a`` or ``b``.
    """
    dtype = c.dtype
    if dtype not in GEMM_ADDRESS or a.dtype != dtype or b.dtype != dtype:
        raise TypeError(f"gemm needs float32 or float64 operands of one dtype, got {a.dtype}, {b.dtype}, {c.dtype}")
    for x, name in ((a, "a"), (b, "b"), (c, "c")):
        _leading_dim(x, name)
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    if b.shape[0] != k or c.shape != (m, b.shape[1]):
        raise ValueError(f"gemm shapes do not match: a {a.shape} (trans_a={trans_a}), b {b.shape}, c {c.shape}")
    if not c.flags.writeable:
        raise ValueError("c must be writeable")
    if np.may_share_memory(c, a) or np.may_share_memory(c, b):
        raise ValueError("c must not overlap a or b")
    gemm_kernel(GEMM_ADDRESS[dtype], a, b, c, 1.0 if accumulate else 0.0, trans_a)


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
