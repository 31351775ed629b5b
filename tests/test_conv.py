"""conv2d (cross-correlation, PyTorch semantics): fast vs loops, gradients, adjoint."""

from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import assert_close
from espcn_ref import conv2d, conv2d_backward
from espcn_ref.gradcheck import check_gradient
from espcn_ref.ops.conv import conv2d_backward_reference, conv2d_reference
from espcn_ref.ops.im2col import col2im_block, col2im_reference, im2col_block, im2col_reference, row_blocks


@st.composite
def conv_case(draw, max_hw=7, max_cout=3):
    """Shapes from 1, kernels up to larger than the unpadded input, asymmetric stride/padding."""
    N, C_in, C_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, max_cout))
    H, W = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    kh, kw = draw(st.integers(1, H + 2 * ph)), draw(st.integers(1, W + 2 * pw))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    g = np.random.default_rng(seed)
    x = g.standard_normal((N, C_in, H, W))
    w = g.standard_normal((C_out, C_in, kh, kw))
    b = g.standard_normal(C_out) if draw(st.booleans()) else None
    return x, w, b, (sh, sw), (ph, pw)


@given(conv_case())
def test_forward_matches_reference(case):
    x, w, b, s, p = case
    assert_close(conv2d(x, w, b, s, p), conv2d_reference(x, w, b, s, p), what="conv2d")


@given(conv_case())
def test_backward_matches_reference(case):
    x, w, b, s, p = case
    dy = np.random.default_rng(1).standard_normal(conv2d(x, w, b, s, p).shape)
    for name, ours, ref in zip("dx dw db".split(), conv2d_backward(dy, x, w, s, p),
                               conv2d_backward_reference(dy, x, w, s, p)):
        assert_close(ours, ref, what=f"conv2d {name}")


@given(conv_case())
def test_float32_within_tolerance_of_float64(case):
    """Stated tolerance: float32 within 1e-4 * (1 + |y|) of float64 for unit-scale input."""
    x, w, b, s, p = case
    y64 = conv2d(x, w, b, s, p)
    y32 = conv2d(x.astype(np.float32), w.astype(np.float32), None if b is None else b.astype(np.float32), s, p)
    assert y32.dtype == np.float32
    assert np.all(np.abs(y32 - y64) <= 1e-4 * (1 + np.abs(y64)))


@given(conv_case())
def test_adjoint_identity(case):
    """<conv(x), y> == <x, conv_backward_x(y)>: the backward is the transpose."""
    x, w, _, s, p = case
    y = np.random.default_rng(2).standard_normal(conv2d(x, w, None, s, p).shape)
    lhs = np.sum(conv2d(x, w, None, s, p) * y)
    rhs = np.sum(x * conv2d_backward(y, x, w, s, p)[0])
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("s, p", [(1, 0), (1, 2), (2, 1), ((2, 1), (0, 1))])
def test_gradients_by_central_differences(rng, s, p):
    x = rng.standard_normal((2, 2, 5, 4))
    w = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    t = rng.standard_normal(conv2d(x, w, b, s, p).shape)

    def loss():  # L = sum(y * t), so dL/dy = t
        return float(np.sum(conv2d(x, w, b, s, p) * t))

    dx, dw, db = conv2d_backward(t, x, w, s, p)
    check_gradient(loss, x, dx)
    check_gradient(loss, w, dw)
    check_gradient(loss, b, db)


def test_gradient_check_has_teeth(rng):
    """Negative control: a gradient that forgets the padding offset must fail."""
    x = rng.standard_normal((1, 1, 4, 4))
    w = rng.standard_normal((1, 1, 3, 3))
    t = rng.standard_normal(conv2d(x, w, None, 1, 1).shape)
    wrong_dw = conv2d_backward(t, x, w, 1, 1)[1][:, :, ::-1, ::-1]  # true convolution: flipped
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_gradient(lambda: float(np.sum(conv2d(x, w, None, 1, 1) * t)), w, wrong_dw.copy())


def test_known_values():
    """A 3x3 box filter on a ramp with zero padding, computed by hand."""
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)  # [[0,1,2],[3,4,5],[6,7,8]]
    y = conv2d(x, np.ones((1, 1, 3, 3)), np.array([0.5]), padding=1)
    expected = np.array([[8, 15, 12], [21, 36, 27], [20, 33, 24]]) + 0.5
    np.testing.assert_array_equal(y[0, 0], expected)


def test_cross_correlation_not_convolution():
    """The kernel is not flipped: a one-hot kernel at tap (0, 0) reads up-left."""
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0] = 1.0
    y = conv2d(x, w, padding=1)
    assert y[0, 0, 2, 2] == x[0, 0, 1, 1]


@given(conv_case(max_cout=7), st.booleans(), st.booleans())
def test_shifted_path_matches_reference(case, float32, direct):
    """The stride-1 shifted path, forced on for every size, forward (per-tap
    GEMMs, or the direct kernel for few output channels) and backward."""
    import espcn_ref.ops.conv as mod

    x, w, b, _, p = case
    if float32:
        x, w, b = x.astype(np.float32), w.astype(np.float32), None if b is None else b.astype(np.float32)
    dy = np.random.default_rng(1).standard_normal(conv2d_reference(x, w, b, 1, p).shape).astype(x.dtype)
    with patch.object(mod, "SHIFTED_MIN_COLS", 0), patch.object(mod, "SHIFTED_MIN_WIDTH", 0), \
         patch.object(mod, "DIRECT_MAX_COUT", 16 if direct else 0):
        y = conv2d(x, w, b, 1, p)
        grads = conv2d_backward(dy, x, w, 1, p)
    assert y.dtype == x.dtype and y.flags.c_contiguous
    tol = {"rtol": 1e-4, "atol": 1e-4} if float32 else {}  # float32: summation order differs
    assert_close(y, conv2d_reference(x, w, b, 1, p), what="shifted conv2d", **tol)
    for name, ours, ref in zip("dx dw db".split(), grads, conv2d_backward_reference(dy, x, w, 1, p)):
        assert_close(ours, ref, what=f"shifted conv2d {name}", **tol)


@pytest.mark.parametrize("direct", [True, False])
def test_large_stride1_conv_takes_the_shifted_path(rng, direct):
    """Images of (2, 8, 40, 36) with a 3x3 kernel are past the thresholds: the path the
    upsampling bench uses, with the direct kernel (5 <= DIRECT_MAX_COUT outputs) and
    with the per-tap GEMMs, checked against the loops (views in, padding 2 > k // 2)."""
    import espcn_ref.ops.conv as mod

    x = rng.standard_normal((2, 8, 80, 36)).astype(np.float32)[:, :, ::2]
    w = rng.standard_normal((5, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    geom, OH, OW = mod.conv_geometry(x.shape, w.shape, 1, 2)
    assert mod.takes_shifted_path(x.shape, w.shape, geom, OH, OW)
    assert not mod.takes_shifted_path(x.shape, w.shape, (3, 3, 2, 1, 2, 2), OH, OW)  # stride 2
    small = (64, 64, 17, 17)  # a batch of training patches: GEMMs of 17 x 19 columns, im2col instead
    assert not mod.takes_shifted_path(small, (32, 64, 3, 3), (3, 3, 1, 1, 1, 1), 17, 17)
    ref = conv2d_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1, 2)
    with patch.object(mod, "DIRECT_MAX_COUT", 16 if direct else 0), \
         patch.object(mod, "direct_taps", wraps=mod.direct_taps) as spy:
        y = conv2d(x, w, b, 1, 2)
    assert spy.called == direct
    assert y.flags.c_contiguous
    assert_close(y, ref, rtol=1e-4, atol=1e-4, what=f"shifted conv2d, big, direct={direct}")


def test_views_and_mixed_dtype(rng):
    x = rng.standard_normal((2, 3, 9, 8))[:, ::-1, ::2, 1:]  # non-contiguous, negative strides
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    y = conv2d(x, w)
    assert y.dtype == np.float64  # NumPy promotion
    assert_close(y, conv2d_reference(np.ascontiguousarray(x), w.astype(np.float64)), what="views")


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("reference", [False, True])
def test_a_float64_bias_or_dy_promotes_like_x_and_w(rng, transposed, reference):
    """float32 x and w with a float64 bias (forward) or dy (backward): the result
    is float64 and equals the all-float64 computation; nothing is cast down."""
    from espcn_ref.ops import conv_transpose as ct

    if transposed:
        fwd, bwd = ((ct.conv_transpose2d_reference, ct.conv_transpose2d_backward_reference) if reference
                    else (ct.conv_transpose2d, ct.conv_transpose2d_backward))
        w64 = rng.standard_normal((3, 4, 3, 3))
    else:
        fwd, bwd = (conv2d_reference, conv2d_backward_reference) if reference else (conv2d, conv2d_backward)
        w64 = rng.standard_normal((4, 3, 3, 3))
    x64 = rng.standard_normal((2, 3, 6, 5))
    b64 = 1e-3 * rng.standard_normal(4) + 0.1  # float32 would round its digits away
    x32, w32 = x64.astype(np.float32), w64.astype(np.float32)
    y = fwd(x32, w32, b64, 2, 1)
    assert y.dtype == np.float64
    exact = fwd(x32.astype(np.float64), w32.astype(np.float64), b64, 2, 1)
    np.testing.assert_array_equal(y, exact)
    dy64 = rng.standard_normal(y.shape) * (1 + 1e-9)
    grads = bwd(dy64, x32, w32, 2, 1)
    exact = bwd(dy64, x32.astype(np.float64), w32.astype(np.float64), 2, 1)
    for g, e in zip(grads, exact):
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, e)


def test_row_blocks_bound_memory_and_cover_all_rows():
    """The blocking used to bound im2col memory visits each (n, oh) row once."""
    for N, OH, per_row, budget in [(3, 10, 100, 350), (2, 5, 100, 10_000), (4, 3, 1000, 10)]:
        seen = []
        for n0, n1, oh0, oh1 in row_blocks(N, OH, per_row, budget):
            assert (n1 - n0) * (oh1 - oh0) * per_row <= max(budget, per_row)
            seen += [(n, oh) for n in range(n0, n1) for oh in range(oh0, oh1)]
        assert sorted(seen) == [(n, oh) for n in range(N) for oh in range(OH)]


def test_blocked_forward_equals_unblocked(rng, monkeypatch):
    """Force tiny blocks (a row at a time) and compare with one big block."""
    x = rng.standard_normal((2, 3, 11, 7))
    w = rng.standard_normal((4, 3, 3, 3))
    dy = rng.standard_normal((2, 4, 11, 7))
    big = conv2d(x, w, padding=1), conv2d_backward(dy, x, w, padding=1)
    import espcn_ref.ops.conv as mod

    monkeypatch.setattr(mod, "row_blocks", lambda N, OH, bpr: row_blocks(N, OH, bpr, budget=1))
    small = conv2d(x, w, padding=1), conv2d_backward(dy, x, w, padding=1)
    assert_close(small[0], big[0], what="blocked forward")
    for a, c in zip(small[1], big[1]):
        assert_close(a, c, what="blocked backward")


def test_im2col_kernel_matches_loops(rng):
    x = rng.standard_normal((2, 2, 5, 4))
    geom, OH, OW = (3, 2, 2, 1, 1, 0), 3, 3
    cols = np.empty((2 * 3 * 2, 2 * OH * OW))
    im2col_block(x, geom, 0, 2, 0, OH, OW, cols)
    np.testing.assert_array_equal(cols, im2col_reference(x, geom, OH, OW))


def test_nan_is_propagated_not_hidden(rng):
    x = rng.standard_normal((1, 1, 4, 4))
    x[0, 0, 0, 0] = np.nan
    y = conv2d(x, np.ones((1, 1, 2, 2)))
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 2, 2])


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(x=np.zeros((2, 3, 4)), w=np.zeros((1, 3, 1, 1))), ValueError, "x must have 4 dimensions"),
        (dict(x=np.zeros((1, 2, 4, 4)), w=np.zeros((1, 3, 1, 1))), ValueError, "x has 2 channels but w expects C_in = 3"),
        (dict(x=np.zeros((1, 1, 4, 4)), w=np.zeros((1, 1, 3, 3)), padding=-1), ValueError, "padding must be >= 0"),
        (dict(x=np.zeros((1, 1, 4, 4)), w=np.zeros((1, 1, 3, 3)), stride=0), ValueError, "stride must be >= 1"),
        (dict(x=np.zeros((1, 1, 4, 4)), w=np.zeros((1, 1, 3, 3)), stride=(1, 0)), ValueError, r"stride\[1\] must be >= 1"),
        (dict(x=np.zeros((1, 1, 2, 2)), w=np.zeros((1, 1, 3, 3))), ValueError, "output would be empty"),
        (dict(x=np.zeros((1, 1, 4, 4), dtype=np.int32), w=np.zeros((1, 1, 3, 3))), TypeError, "x must be a float32"),
        (dict(x=np.zeros((1, 1, 4, 4)), w=np.zeros((1, 1, 3, 3), dtype=bool)), TypeError, "w must be a float32"),
        (dict(x=np.zeros((1, 1, 4, 4)), w=np.zeros((2, 1, 3, 3)), b=np.zeros(3)), ValueError, "b must have shape"),
        (dict(x=np.zeros((1, 1, 4, 4)), w=np.zeros((1, 1, 3, 3)), padding=(1, 2, 3)), ValueError, "padding must be an int or a pair"),
    ],
)
def test_bad_input_is_rejected(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        conv2d(**kwargs)


def test_backward_rejects_wrong_dy_shape():
    with pytest.raises(ValueError, match=r"dy must have shape \(1, 1, 2, 2\)"):
        conv2d_backward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)))


def test_backward_without_dx(rng):
    x, w, dy = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((2, 4, 5, 5))
    dx, dw, db = conv2d_backward(dy, x, w, 1, 1, need_dx=False)
    assert dx is None
    assert_close(dw, conv2d_backward(dy, x, w, 1, 1)[1], what="dw without dx")


def test_empty_spatial_input_is_rejected_even_with_padding():
    with pytest.raises(ValueError, match="x must be non-empty"):
        conv2d(np.zeros((1, 1, 0, 4)), np.ones((1, 1, 1, 1)), np.ones(1), padding=1)


def test_gradcheck_refuses_non_contiguous_parameters():
    from espcn_ref.gradcheck import numerical_gradient

    p = np.zeros((4, 4))[:, ::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        numerical_gradient(lambda: float(np.sum(p)), p)


def test_col2im_is_the_adjoint_of_im2col(rng):
    """<im2col(x), c> == <x, col2im(c)> for a strided, padded geometry."""
    x = rng.standard_normal((2, 3, 7, 6))
    geom, OH, OW = (3, 2, 2, 3, 1, 2), 4, 3
    cols = im2col_reference(x, geom, OH, OW)
    c = rng.standard_normal(cols.shape)
    back = np.zeros_like(x)
    col2im_block(c, geom, 0, 2, 0, OH, OW, back)
    assert np.sum(cols * c) == pytest.approx(np.sum(x * back), rel=1e-12)


@given(conv_case(max_hw=9), st.integers(1, 4), st.sampled_from([np.float32, np.float64]))
def test_col2im_matches_its_twin_in_any_row_blocks(case, rows, dtype):
    """col2im_block == col2im_reference bit for bit: in one call (same order of
    taps per pixel), and in bands of ``rows`` output rows on integer-valued
    stamps (exact sums, whatever the order)."""
    x, w, _, (sh, sw), (ph, pw) = case
    N, C, H, W = x.shape
    kh, kw = w.shape[2:]
    geom = (kh, kw, sh, sw, ph, pw)
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    g = np.random.default_rng(H * 100 + W)
    cols = g.standard_normal((C * kh * kw, N * OH * OW)).astype(dtype)
    whole = np.zeros(x.shape, dtype)
    col2im_block(cols, geom, 0, N, 0, OH, OW, whole)
    np.testing.assert_array_equal(whole, col2im_reference(cols, geom, x.shape, OH, OW))
    ints = np.round(4 * cols)
    banded = np.zeros(x.shape, dtype)
    c4 = ints.reshape(C * kh * kw, N, OH, OW)
    for n in range(N):
        for oh0 in range(0, OH, rows):
            oh1 = min(OH, oh0 + rows)
            col2im_block(np.ascontiguousarray(c4[:, n, oh0:oh1]).reshape(C * kh * kw, -1), geom, n, n + 1, oh0, oh1, OW, banded)
    np.testing.assert_array_equal(banded, col2im_reference(ints, geom, x.shape, OH, OW))
