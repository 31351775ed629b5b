"""The kernels with the JIT off: :func:`.blas.gemm_kernel_reference`, the
NumPy twin that stands in for the BLAS call when NUMBA_DISABLE_JIT=1, pinned
to the BLAS kernel.
"""

import numba
import numpy as np
import pytest


# --- the no-JIT twin of the BLAS call, pinned to it ------------------------------------


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="both names are the NumPy twin when the JIT is off")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
@pytest.mark.parametrize("k", [9, 1, 0])
def test_gemm_twin_matches_the_blas_kernel(dtype, trans_a, beta, k):
    """gemm_kernel_reference == gemm_kernel on row slices, NaN in c for beta = 0, k = 0."""
    from espcn_ref.ops.blas import GEMM_ADDRESSES, gemm_kernel, gemm_kernel_reference

    g = np.random.default_rng(3)
    A, B = g.standard_normal((20, 30)).astype(dtype), g.standard_normal((20, 30)).astype(dtype)
    a = A[2 : 2 + k, 3:10] if trans_a else A[2:9, 3 : 3 + k]  # (k, 7) or (7, k)
    C = g.standard_normal((20, 30)).astype(dtype)
    if beta == 0.0:
        C[5:12, 20:25] = np.nan  # never read
    ours, blas = C.copy(), C.copy()
    gemm_kernel_reference(GEMM_ADDRESSES, a, B[4 : 4 + k, 1:6], ours[5:12, 20:25], beta, trans_a)
    gemm_kernel(GEMM_ADDRESSES, a, B[4 : 4 + k, 1:6], blas[5:12, 20:25], beta, trans_a)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ours, blas, rtol=tol, atol=tol, err_msg="gemm_kernel_reference vs gemm_kernel")


@pytest.mark.parametrize("a, c, error, match", [
    (np.ones((4, 3)), np.ones((5, 2)), ValueError, "shapes do not match"),
    (np.asfortranarray(np.ones((4, 3))), np.ones((4, 2)), ValueError, "row slices"),
    (np.ones((4, 3), np.float32), np.ones((4, 2)), TypeError, "one dtype"),
])
def test_gemm_twin_refuses_what_the_kernel_refuses(a, c, error, match):
    from espcn_ref.ops.blas import GEMM_ADDRESSES, gemm_kernel_reference

    with pytest.raises(error, match=match):
        gemm_kernel_reference(GEMM_ADDRESSES, a, np.ones((3, 2)), c, 0.0, False)

