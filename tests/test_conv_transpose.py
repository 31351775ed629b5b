"""conv_transpose2d, the deconvolution layer (Sec. 2.1): scatter-add vs loops, adjoint of conv2d."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import assert_close
from espcn_ref import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from espcn_ref.gradcheck import check_gradient
from espcn_ref.ops.conv_transpose import conv_transpose2d_backward_reference, conv_transpose2d_reference


@st.composite
def tconv_case(draw):
    N, C_in, C_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    oph, opw = draw(st.integers(0, sh - 1)), draw(st.integers(0, sw - 1))
    # padding anywhere that leaves a non-empty output
    ph = draw(st.integers(0, ((H - 1) * sh + kh + oph - 1) // 2))
    pw = draw(st.integers(0, ((W - 1) * sw + kw + opw - 1) // 2))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = g.standard_normal((N, C_in, H, W))
    w = g.standard_normal((C_in, C_out, kh, kw))
    b = g.standard_normal(C_out) if draw(st.booleans()) else None
    return x, w, b, (sh, sw), (ph, pw), (oph, opw)


@given(tconv_case())
def test_forward_matches_reference(case):
    x, w, b, s, p, op = case
    assert_close(conv_transpose2d(x, w, b, s, p, op), conv_transpose2d_reference(x, w, b, s, p, op),
                 what="conv_transpose2d")


@given(tconv_case())
def test_backward_matches_reference(case):
    x, w, b, s, p, op = case
    dy = np.random.default_rng(3).standard_normal(conv_transpose2d(x, w, b, s, p, op).shape)
    for name, ours, ref in zip("dx dw db".split(), conv_transpose2d_backward(dy, x, w, s, p, op),
                               conv_transpose2d_backward_reference(dy, x, w, s, p, op)):
        assert_close(ours, ref, what=f"conv_transpose2d {name}")


@given(tconv_case())
def test_is_the_adjoint_of_strided_conv2d(case):
    """<conv_transpose2d(x, w), y> == <x, conv2d(y, w)> with the same stride and padding."""
    x, w, _, s, p, op = case
    y = np.random.default_rng(4).standard_normal(conv_transpose2d(x, w, None, s, p, op).shape)
    lhs = np.sum(conv_transpose2d(x, w, None, s, p, op) * y)
    rhs = np.sum(x * conv2d(y, w, None, s, p))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@given(tconv_case())
def test_forward_is_conv2d_backward_data(case):
    """The deconvolution layer is exactly the data gradient of a strided convolution."""
    x, w, _, s, p, op = case
    y = conv_transpose2d(x, w, None, s, p, op)
    dx_of_conv = conv2d_backward(x, np.zeros_like(y), w, s, p)[0]
    assert_close(y, dx_of_conv, what="tconv vs conv2d backward")


@given(tconv_case())
def test_float32_within_tolerance_of_float64(case):
    x, w, b, s, p, op = case
    y64 = conv_transpose2d(x, w, b, s, p, op)
    b32 = None if b is None else b.astype(np.float32)
    y32 = conv_transpose2d(x.astype(np.float32), w.astype(np.float32), b32, s, p, op)
    assert y32.dtype == np.float32
    assert np.all(np.abs(y32 - y64) <= 1e-4 * (1 + np.abs(y64)))


@pytest.mark.parametrize("s, p, op", [(1, 0, 0), (2, 1, 1), (3, 3, 0), ((2, 3), (0, 1), (1, 2))])
def test_gradients_by_central_differences(rng, s, p, op):
    x = rng.standard_normal((2, 2, 3, 3))
    w = rng.standard_normal((2, 3, 4, 3))
    b = rng.standard_normal(3)
    t = rng.standard_normal(conv_transpose2d(x, w, b, s, p, op).shape)

    def loss():
        return float(np.sum(conv_transpose2d(x, w, b, s, p, op) * t))

    dx, dw, db = conv_transpose2d_backward(t, x, w, s, p, op)
    check_gradient(loss, x, dx)
    check_gradient(loss, w, dw)
    check_gradient(loss, b, db)


def test_gradient_check_has_teeth(rng):
    """Negative control: dx of a transposed conv computed as if stride were 1 must fail."""
    x = rng.standard_normal((1, 1, 3, 3))
    w = rng.standard_normal((1, 1, 4, 4))
    t = rng.standard_normal(conv_transpose2d(x, w, None, 2, 1).shape)
    wrong_dx = conv2d(t, w, None, 2, 1) * 0.5 + conv2d(t, w, None, 2, 1)[..., ::-1] * 0.5
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_gradient(lambda: float(np.sum(conv_transpose2d(x, w, None, 2, 1) * t)), x, wrong_dx.copy())


def test_known_values_stride2():
    """A 2x2 input, 2x2 kernel of ones, stride 2: each pixel becomes a 2x2 block."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    y = conv_transpose2d(x, np.ones((1, 1, 2, 2)), stride=2)
    np.testing.assert_array_equal(y[0, 0], np.kron(x[0, 0], np.ones((2, 2))))


def test_tutorial_shape_4x4_to_8x8():
    """k = 4, s = 2, p = 1 takes 4x4 to 8x8 (the tutorial's example)."""
    assert conv_transpose2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)), stride=2, padding=1).shape == (1, 1, 8, 8)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(x=np.zeros((1, 2, 3, 3)), w=np.zeros((3, 1, 2, 2))), ValueError, "x has 2 channels but w expects C_in = 3"),
        (dict(x=np.zeros((1, 1, 3, 3)), w=np.zeros((1, 1, 2, 2)), stride=2, output_padding=2), ValueError, "smaller than stride"),
        (dict(x=np.zeros((1, 1, 1, 1)), w=np.zeros((1, 1, 2, 2)), padding=1), ValueError, "output would be empty"),
        (dict(x=np.zeros((1, 1, 3, 3)), w=np.zeros((1, 1, 2, 2)), stride=-1), ValueError, "stride must be >= 1"),
        (dict(x=np.zeros((1, 1, 3, 3), dtype=np.uint8), w=np.zeros((1, 1, 2, 2))), TypeError, "x must be a float32"),
        (dict(x=np.zeros((1, 1, 3)), w=np.zeros((1, 1, 2, 2))), ValueError, "x must have 4 dimensions"),
    ],
)
def test_bad_input_is_rejected(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        conv_transpose2d(**kwargs)


def test_views_give_correct_results(rng):
    x = rng.standard_normal((2, 4, 6, 5))[:, ::-2, ::-1, :]  # negatively strided, non-contiguous
    w = rng.standard_normal((2, 3, 3, 3))[:, :, ::-1, :]
    assert_close(conv_transpose2d(x, w, None, 2, 1), conv_transpose2d_reference(x.copy(), w.copy(), None, 2, 1),
                 what="views")
