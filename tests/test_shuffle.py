"""Periodic shuffle, eq. (4): kernel vs loops vs reshape, inverse, adjoint, orders."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from espcn_ref import pixel_shuffle, pixel_shuffle_backward, pixel_unshuffle, shuffle_permutation
from espcn_ref.ops.shuffle import (
    ORDERS,
    channel_index,
    pixel_shuffle_reference,
    pixel_shuffle_reshape,
    pixel_unshuffle_reshape,
)

orders = st.sampled_from(ORDERS)


@st.composite
def shuffle_inputs(draw, dtype=np.float64):
    r = draw(st.integers(1, 5))
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal((N, C * r * r, H, W)).astype(dtype)
    return x, r


@given(shuffle_inputs(), orders)
def test_kernel_equals_loops_and_reshape(xr, order):
    x, r = xr
    ours = pixel_shuffle(x, r, order)
    np.testing.assert_array_equal(ours, pixel_shuffle_reference(x, r, order), "kernel vs eq. (4) loops")
    np.testing.assert_array_equal(ours, pixel_shuffle_reshape(x, r, order), "kernel vs reshape+transpose")


@given(shuffle_inputs(), orders)
def test_unshuffle_inverts_shuffle_both_ways(xr, order):
    x, r = xr
    y = pixel_shuffle(x, r, order)
    np.testing.assert_array_equal(pixel_unshuffle(y, r, order), x)
    np.testing.assert_array_equal(pixel_shuffle(pixel_unshuffle(y, r, order), r, order), y)
    np.testing.assert_array_equal(pixel_unshuffle_reshape(y, r, order), x)


@given(shuffle_inputs(), orders, st.integers(0, 2**16))
def test_adjoint_is_inverse(xr, order, seed):
    """<PS(x), y> == <x, PS^-1(y)>: PS is a permutation, so PS^T = PS^-1."""
    x, r = xr
    y = np.random.default_rng(seed).standard_normal(pixel_shuffle(x, r, order).shape)
    lhs = np.sum(pixel_shuffle(x, r, order) * y)
    rhs = np.sum(x * pixel_shuffle_backward(y, r, order))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


def test_crd_is_pytorch_formula(rng):
    """out[n, c, h*r+i, w*r+j] = in[n, c*r^2 + i*r + j, h, w] (F.pixel_shuffle)."""
    N, C, r, H, W = 2, 3, 2, 3, 4
    x = rng.standard_normal((N, C * r * r, H, W))
    y = pixel_shuffle(x, r, "crd")
    for c in range(C):
        for i in range(r):
            for j in range(r):
                np.testing.assert_array_equal(y[:, c, i::r, j::r], x[:, c * r * r + i * r + j])


def test_dcr_is_eq4_with_x_as_column(rng):
    """eq. (4) with x the column and y the row, as TensorFlow and ONNX read it:
    PS(T)[x, y, c] = T[y//r, x//r, C*r*(y % r) + C*(x % r) + c] on the H x W x C r^2
    tensor T, whose first axis (H) is then y's."""
    C, r, H, W = 2, 3, 2, 3  # H != W: swapped axes would index out of range
    T = rng.standard_normal((H, W, C * r * r))  # the paper's H x W x C r^2 layout
    out = pixel_shuffle(T.transpose(2, 0, 1)[None], r, "dcr")[0]  # (C, rH, rW)
    for row in range(r * H):
        for col in range(r * W):
            x, y = col, row
            for c in range(C):
                assert out[c, row, col] == T[y // r, x // r, C * r * (y % r) + C * (x % r) + c]


def test_dcr_t_is_eq4_with_x_as_row(rng):
    """eq. (4) letter by letter: PS(T)[x, y, c] = T[x//r, y//r, C*r*(y % r) + C*(x % r) + c]
    with x on the first axis (H) of the H x W x C r^2 tensor T, i.e. the row."""
    C, r, H, W = 2, 3, 2, 3  # H != W: swapped axes would index out of range
    T = rng.standard_normal((H, W, C * r * r))
    out = pixel_shuffle(T.transpose(2, 0, 1)[None], r, "dcr_t")[0]
    for row in range(r * H):
        for col in range(r * W):
            x, y = row, col
            for c in range(C):
                assert out[c, row, col] == T[x // r, y // r, C * r * (y % r) + C * (x % r) + c]


@pytest.mark.parametrize("r", [1, 2, 3, 4])
def test_orders_coincide_for_one_channel(rng, r):
    x = rng.standard_normal((2, r * r, 3, 2))
    np.testing.assert_array_equal(pixel_shuffle(x, r, "crd"), pixel_shuffle(x, r, "dcr"))
    if r > 1:  # x read as the row transposes each r x r block: a different shuffle
        assert not np.array_equal(pixel_shuffle(x, r, "dcr"), pixel_shuffle(x, r, "dcr_t"))


@given(st.integers(1, 4), st.integers(1, 4), orders, orders)
def test_shuffle_permutation_converts_orders(C, r, src, dst):
    x = np.random.default_rng(C * 10 + r).standard_normal((1, C * r * r, 2, 3))
    p = shuffle_permutation(C, r, src, dst)
    assert sorted(p) == list(range(C * r * r))  # a permutation
    np.testing.assert_array_equal(pixel_shuffle(x[:, p], r, dst), pixel_shuffle(x, r, src))


def test_crd_and_dcr_differ_for_several_channels(rng):
    x = rng.standard_normal((1, 2 * 4, 2, 2))
    assert not np.array_equal(pixel_shuffle(x, 2, "crd"), pixel_shuffle(x, 2, "dcr"))
    assert channel_index(1, 0, 1, 2, 2, "crd") == 5 and channel_index(1, 0, 1, 2, 2, "dcr") == 3


def test_float32_and_views(rng):
    x = rng.standard_normal((2, 8, 5, 6)).astype(np.float32)
    view = x[:, :, ::-1, ::2]  # negatively strided, non-contiguous
    y = pixel_shuffle(view, 2)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, pixel_shuffle_reference(np.ascontiguousarray(view), 2))


def test_nan_passes_through():
    x = np.zeros((1, 4, 1, 1))
    x[0, 3] = np.nan
    y = pixel_shuffle(x, 2)
    assert np.isnan(y[0, 0, 1, 1]) and np.isnan(y).sum() == 1


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: pixel_shuffle(np.zeros((1, 3, 2, 2)), 2), ValueError, "not divisible by r^2 = 4"),
        (lambda: pixel_shuffle(np.zeros((4, 2, 2)), 2), ValueError, "4 dimensions"),
        (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), 0), ValueError, "r must be >= 1"),
        (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), 2.0), TypeError, "r must be an integer"),
        (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), True), TypeError, "r must be an integer"),
        (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2), dtype=np.int64), 2), TypeError, "float32 or float64"),
        (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2), dtype=bool), 2), TypeError, "float32 or float64"),
        (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2), dtype=complex), 2), TypeError, "float32 or float64"),
        (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), 2, "nchw"), ValueError, "order must be one of"),
        (lambda: pixel_unshuffle(np.zeros((1, 1, 3, 4)), 2), ValueError, "not divisible by r = 2"),
        (lambda: shuffle_permutation(0, 2), ValueError, "C must be >= 1"),
    ],
)
def test_bad_input_is_rejected(call, exc, words):
    with pytest.raises(exc, match=words.replace("^", r"\^")):
        call()
