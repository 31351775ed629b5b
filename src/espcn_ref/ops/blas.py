"""GEMM with accumulation into a strided view: ``C = beta*C + A @ B``.

NumPy's ``matmul`` cannot accumulate (its BLAS call always has beta = 0),
and accumulating is what a convolution is: a sum over kernel taps of small
matrix products (see :mod:`espcn_ref.engine.conv`). So we call BLAS ``sgemm``/``dgemm``
ourselves, through SciPy's documented Cython BLAS table
(``scipy.linalg.cython_blas``), with the pointer and leading dimension of
each operand. No copy is ever made: A, B and C may be row slices of larger
arrays, as long as each has unit stride along its last axis.

BLAS is column-major; a row-major (m, n) matrix with row stride ``ld`` is
the column-major (n, m) matrix with the same ``ld``. So ``C = A @ B`` in
row-major is ``C^T = B^T A^T`` in column-major: :func:`gemm_kernel` makes
that call, with the operands swapped and nothing transposed.

The call is made from Numba (:func:`gemm_kernel`), so the loops of the
convolution engine that issue many small GEMMs run in compiled code, with no
Python between the calls, and without the GIL (worker threads run GEMMs side
by side). The BLAS routines' addresses are an argument (``GEMM_ADDRESSES``),
not globals: a compiled function that holds an address cannot be cached on
disk, because the address changes from one process to the next. Shapes,
strides, dtypes and 32-bit sizes are checked in the compiled code before
every call, so a bad operand raises instead of reaching BLAS.
:func:`gemm` is the entry point for Python callers.

With ``NUMBA_DISABLE_JIT=1`` the kernels run as Python, so that a debugger
can step into them, but a BLAS call through a raw address cannot be made
from Python: there, ``gemm_kernel`` is :func:`gemm_kernel_reference`, its
NumPy twin (the same signature, checks and result, through ``matmul``).

Numba's disk cache tracks each function's own file only: after editing this
file, run ``make clean-numba`` so that the cached kernels of
:mod:`espcn_ref.engine`, which have this code compiled in, are rebuilt.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import get_cython_function_address, intrinsic

# (sgemm, dgemm): pass to :func:`gemm_kernel`, which picks one by the operands' dtype.
GEMM_ADDRESSES = (
    get_cython_function_address("scipy.linalg.cython_blas", "sgemm"),
    get_cython_function_address("scipy.linalg.cython_blas", "dgemm"),
)
_N, _T = ord("N"), ord("T")
_INT32_MAX = 2**31 - 1


@intrinsic
def _call_gemm(typingctx, address, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """``?gemm(&trans_a, &trans_b, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc)`` at ``address``.

    The Fortran convention: every argument by pointer. Scalars are stored in
    stack slots (characters as uint8, sizes as int32, alpha and beta in c's
    dtype); arrays pass their data pointers. a, b and c must share a dtype,
    float32 or float64 (anything else does not compile).
    """
    if not all(isinstance(x, types.Array) and x.dtype == c.dtype for x in (a, b, c)):
        return None
    if c.dtype not in (types.float32, types.float64):
        return None
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
def _row_stride(x):
    """Row stride in elements of a 2-D view with unit stride along its rows,
    rows apart by at least their length; -1 if x is not such a view."""
    cols = x.shape[1]
    if cols > 1 and x.strides[1] != x.itemsize:
        return -1
    if x.shape[0] <= 1:
        return max(cols, 1)
    row = x.strides[0]
    if row <= 0 or row % x.itemsize != 0 or row // x.itemsize < cols:
        return -1
    return row // x.itemsize


@njit(cache=True, nogil=True)
def _gemm_sizes(a, b, c, trans_a):
    """(m, n, k) of ``c (m, n) = a (m, k) @ b (k, n)`` (a stored (k, m) when
    ``trans_a``); ValueError if the shapes do not match."""
    m = a.shape[1] if trans_a else a.shape[0]
    k = a.shape[0] if trans_a else a.shape[1]
    n = b.shape[1]
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("gemm shapes do not match: need a (m, k) (or (k, m) with trans_a), b (k, n), c (m, n)")
    return m, n, k


@njit(cache=True, nogil=True)
def _leading_dims(a, b, c, m, n, k):
    """(lda, ldb, ldc), BLAS's leading dimensions; ValueError if an operand
    is not a row slice or a size does not fit BLAS's 32-bit int."""
    lda, ldb, ldc = _row_stride(a), _row_stride(b), _row_stride(c)
    if min(lda, ldb, ldc) < 0:
        raise ValueError("gemm operands must be row slices (unit stride along their rows)")
    if max(m, n, k, lda, ldb, ldc) > _INT32_MAX:
        raise ValueError("gemm sizes and strides must fit in BLAS's 32-bit int")
    return lda, ldb, ldc


@njit(cache=True, nogil=True)
def gemm_kernel(addresses, a, b, c, beta, trans_a):
    """``c[...] = a @ b + beta * c`` (a read as its transpose when ``trans_a``).

    addresses: ``GEMM_ADDRESSES``; a: (m, k), or (k, m) with ``trans_a``;
    b: (k, n); c: (m, n); one dtype, float32 or float64; each a 2-D view
    with unit stride along its rows (row slices of bigger arrays are fine).
    ``c`` must not overlap ``a`` or ``b`` (not checked here; :func:`gemm`
    checks it). Twin: :func:`gemm_kernel_reference`, which replaces it when
    the JIT is disabled.
    """
    m, n, k = _gemm_sizes(a, b, c, trans_a)
    if m == 0 or n == 0:
        return
    if k == 0:  # no products: c = beta * c, and BLAS's beta = 0 never reads c
        if beta == 0.0:
            c[:, :] = 0.0
        else:
            c *= beta
        return
    lda, ldb, ldc = _leading_dims(a, b, c, m, n, k)
    address = addresses[0] if c.itemsize == 4 else addresses[1]
    # column-major: c^T (n, m) = b^T (n, k) @ a^T (k, m); a stored (k, m) row-major is
    # a^T's column-major transpose, hence the flag.
    _call_gemm(address, _N, _T if trans_a else _N, n, m, k, 1.0, b, ldb, a, lda, beta, c, ldc)


def gemm_kernel_reference(addresses, a, b, c, beta, trans_a):
    """:func:`gemm_kernel` in NumPy: ``c[...] = a @ b + beta * c`` through
    ``matmul``; its twin, and its stand-in under ``NUMBA_DISABLE_JIT=1``.

    The same arguments (``addresses`` is not used) and the same checks: the
    shapes, and for a product with k > 0 the row slices and 32-bit sizes
    BLAS needs; operands of mixed or non-float dtypes raise TypeError (the
    compiled kernel refuses to compile them). With ``beta == 0`` c is never
    read, as with BLAS: a NaN in c does not reach the result.
    """
    _check_dtypes(a, b, c)
    m, n, k = _gemm_sizes(a, b, c, trans_a)
    if k > 0 and m > 0 and n > 0:
        _leading_dims(a, b, c, m, n, k)
    product = (a.T if trans_a else a) @ b  # (m, n)
    if beta == 0.0:
        c[...] = product
    else:
        c[...] = beta * c + product


if config.DISABLE_JIT:  # the kernels run as Python; a BLAS address cannot be called from there
    gemm_kernel = gemm_kernel_reference  # noqa: F811


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, accumulate: bool = False, trans_a: bool = False) -> None:
    """``c[...] = a @ b`` (or ``c += a @ b`` when ``accumulate``), in place.

    a: (m, k), or (k, m) read as its transpose when ``trans_a``; b: (k, n);
    c: (m, n). All three share one dtype, float32 or float64, and each is a
    2-D view with unit stride along its last axis (row slices of bigger
    arrays are fine). ``c`` must not overlap ``a`` or ``b``.
    """
    for x, name in ((a, "a"), (b, "b"), (c, "c")):
        if not isinstance(x, np.ndarray) or x.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array, got shape {np.shape(x)}")
    _check_dtypes(a, b, c)
    if not c.flags.writeable:
        raise ValueError("c must be writeable")
    if np.may_share_memory(c, a) or np.may_share_memory(c, b):
        raise ValueError("c must not overlap a or b")
    gemm_kernel(GEMM_ADDRESSES, a, b, c, 1.0 if accumulate else 0.0, trans_a)


def _check_dtypes(a, b, c) -> None:
    if c.dtype not in (np.float32, np.float64) or a.dtype != c.dtype or b.dtype != c.dtype:
        raise TypeError(f"gemm needs float32 or float64 operands of one dtype, got {a.dtype}, {b.dtype}, {c.dtype}")


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
