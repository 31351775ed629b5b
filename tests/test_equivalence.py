"""Sec. 2.2 as property tests: sub-pixel = fractional-stride = transposed convolution."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import assert_close
from espcn_ref.equivalence import (
    activation_patterns,
    fractional_stride_conv2d,
    fractional_stride_conv2d_backward,
    subpixel_conv2d,
    subpixel_conv2d_backward,
    subpixel_to_transposed,
    transposed_conv2d,
    transposed_conv2d_backward,
    transposed_padding,
    transposed_to_subpixel,
)
from espcn_ref.ops.shuffle import ORDERS


@st.composite
def upsampling_case(draw, dtype=np.float64):
    r, m = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    k_s = r * m
    N, C_in, C_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    p_max = ((min(H, W) - 1) * r + k_s - 1) // 2  # the output stays non-empty
    p = draw(st.integers(0, p_max))
    order = draw(st.sampled_from(ORDERS))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = g.standard_normal((N, C_in, H, W)).astype(dtype)
    w_t = g.standard_normal((C_in, C_out, k_s, k_s)).astype(dtype)
    return x, w_t, r, p, order


@given(upsampling_case())
def test_three_forms_agree_float64(case):
    x, w_t, r, p, order = case
    y_t = transposed_conv2d(x, w_t, r, p)
    w_s, lr_padding, hr_crop = transposed_to_subpixel(w_t, r, p, order)
    assert_close(fractional_stride_conv2d(x, w_t, r, p), y_t, rtol=1e-12, atol=1e-12, what="fractional vs transposed")
    assert_close(subpixel_conv2d(x, w_s, r, lr_padding, hr_crop, order), y_t, rtol=1e-12, atol=1e-12,
                 what="sub-pixel vs transposed")


@given(upsampling_case(dtype=np.float32))
def test_three_forms_agree_float32(case):
    """Stated float32 tolerance: 1e-5 * (1 + |y|) (fan-in <= 3 * 20^2 unit-scale terms)."""
    x, w_t, r, p, order = case
    y_t = transposed_conv2d(x, w_t, r, p)
    w_s, lr_padding, hr_crop = transposed_to_subpixel(w_t, r, p, order)
    for y in (fractional_stride_conv2d(x, w_t, r, p), subpixel_conv2d(x, w_s, r, lr_padding, hr_crop, order)):
        assert y.dtype == np.float32
        assert np.all(np.abs(y - y_t) <= 1e-5 * (1 + np.abs(y_t)))


@given(upsampling_case())
def test_conversions_round_trip_exactly(case):
    _, w_t, r, p, order = case
    w_s, lr_padding, hr_crop = transposed_to_subpixel(w_t, r, p, order)
    m = w_t.shape[2] // r
    assert w_s.shape == (w_t.shape[1] * r * r, w_t.shape[0], m, m)
    np.testing.assert_array_equal(subpixel_to_transposed(w_s, r, order), w_t)
    np.testing.assert_array_equal(transposed_to_subpixel(subpixel_to_transposed(w_s, r, order), r, p, order)[0], w_s)
    assert transposed_padding(m, r, lr_padding, hr_crop) == p
    assert sorted(w_s.ravel()) == sorted(w_t.ravel())  # a relabelling of the same numbers


@given(upsampling_case())
def test_gradients_agree_after_conversion(case):
    x, w_t, r, p, order = case
    y_shape = transposed_conv2d(x, w_t, r, p).shape
    dy = np.random.default_rng(5).standard_normal(y_shape)
    w_s, lr_padding, hr_crop = transposed_to_subpixel(w_t, r, p, order)
    dx_t, dw_t = transposed_conv2d_backward(dy, x, w_t, r, p)
    dx_f, dw_f = fractional_stride_conv2d_backward(dy, x, w_t, r, p)
    dx_s, dw_s = subpixel_conv2d_backward(dy, x, w_s, r, lr_padding, hr_crop, order)
    tight = dict(rtol=1e-11, atol=1e-11)
    assert_close(dx_f, dx_t, what="dx fractional vs transposed", **tight)
    assert_close(dw_f, dw_t, what="dw fractional vs transposed", **tight)
    assert_close(dx_s, dx_t, what="dx sub-pixel vs transposed", **tight)
    assert_close(dw_s, transposed_to_subpixel(dw_t, r, p, order)[0], what="dw sub-pixel vs converted dw_t", **tight)


@given(st.integers(1, 5), st.integers(1, 12), st.integers(0, 4), st.integers(1, 3), st.integers(1, 4))
def test_general_kernel_size_with_pad_kernel(r, k_s, p, H, seed):
    """mod(k_s, r) != 0 works with pad_kernel=True at m = ceil(k_s / r)."""
    if (H - 1) * r + k_s - 2 * p < 1:
        return
    g = np.random.default_rng(seed)
    x, w_t = g.standard_normal((1, 2, H, H + 1)), g.standard_normal((2, 2, k_s, k_s))
    w_s, lr_padding, hr_crop = transposed_to_subpixel(w_t, r, p, pad_kernel=True)
    assert w_s.shape[2] == math.ceil(k_s / r)
    assert_close(subpixel_conv2d(x, w_s, r, lr_padding, hr_crop), transposed_conv2d(x, w_t, r, p),
                 what="padded-kernel sub-pixel vs transposed")
    assert_close(fractional_stride_conv2d(x, w_t, r, p), transposed_conv2d(x, w_t, r, p), what="fractional")


def test_tutorial_example_k4_s2_p1():
    """A 4x4 transposed conv, stride 2, padding 1: 4x4 -> 8x8, as four 2x2 kernels interleaved."""
    g = np.random.default_rng(0)
    x, w_t = g.standard_normal((1, 1, 4, 4)), g.standard_normal((1, 1, 4, 4))
    y = transposed_conv2d(x, w_t, r=2, padding=1)
    assert y.shape == (1, 1, 8, 8)
    w_s, lr_padding, hr_crop = transposed_to_subpixel(w_t, 2, 1)
    assert w_s.shape == (4, 1, 2, 2) and (lr_padding, hr_crop) == (1, 1)
    # the four 2x2 kernels are the taps of each phase, flipped
    for i in range(2):
        for j in range(2):
            np.testing.assert_array_equal(w_s[i * 2 + j, 0], w_t[0, 0, i::2, j::2][::-1, ::-1])
    np.testing.assert_allclose(subpixel_conv2d(x, w_s, 2, 1, 1), y, rtol=1e-13, atol=1e-13)


def test_espcn_last_layer_is_a_9x9_transposed_conv_stride3_pad3():
    """ESPCN's last layer (k_L = 3, r = 3, 'same' padding 1) is a 9x9 deconvolution, stride 3, padding 3."""
    g = np.random.default_rng(1)
    x = g.standard_normal((2, 32, 6, 5))
    w_s = g.standard_normal((9, 32, 3, 3))
    w_t = subpixel_to_transposed(w_s, 3)
    assert w_t.shape == (32, 1, 9, 9)
    assert transposed_padding(3, 3, lr_padding=1) == 3
    y_s = subpixel_conv2d(x, w_s, 3, padding=1)
    assert y_s.shape == (2, 1, 18, 15)
    np.testing.assert_allclose(transposed_conv2d(x, w_t, 3, padding=3), y_s, rtol=1e-12, atol=1e-12)
    w_back, lr_padding, hr_crop = transposed_to_subpixel(w_t, 3, 3)
    np.testing.assert_array_equal(w_back, w_s)
    assert (lr_padding, hr_crop) == (1, 0)


@pytest.mark.parametrize("k_s, r, p", [(k, r, p) for k in range(1, 10) for r in range(1, 5) for p in range(0, 3)])
def test_activation_patterns_claims(k_s, r, p):
    mask = activation_patterns(k_s, r, p)
    assert mask.shape == (r, r, k_s, k_s)  # exactly r^2 patterns
    counts = mask.sum(axis=(2, 3))
    assert counts.max() <= math.ceil(k_s / r) ** 2  # at most ceil(k_s/r)^2 weights each
    np.testing.assert_array_equal(mask.sum(axis=(0, 1)), np.ones((k_s, k_s)))  # a partition of the kernel
    assert (k_s % r == 0) == bool(np.all(counts == (k_s // r) ** 2))


@pytest.mark.parametrize("k_s, r, p", [(4, 2, 1), (9, 3, 3), (5, 3, 0), (3, 2, 2), (6, 3, 1)])
def test_activation_patterns_by_brute_force(k_s, r, p):
    """Probe the fractional-stride conv with one-hot kernels on an all-ones input."""
    H = k_s + 3
    x = np.ones((1, 1, H, H))
    mask = activation_patterns(k_s, r, p)
    for a in range(k_s):
        for b in range(k_s):
            w_f = np.zeros((1, 1, k_s, k_s))
            w_f[0, 0, a, b] = 1.0  # tap (a, b) of the HR-space (flipped) kernel
            w_t = w_f[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            y = fractional_stride_conv2d(x, w_t, r, p)[0, 0]
            for i in range(r):
                for j in range(r):
                    Y, X = k_s + i, k_s + j  # an interior output pixel of phase (i, j)
                    Y, X = Y - Y % r + i, X - X % r + j
                    assert bool(y[Y, X]) == mask[i, j, a, b], (a, b, i, j)


def test_cost_model_worked_example():
    """ESPCN's last layer at 1080p, r = 3: 32 -> 1, k_s = 9 (m = 3), LR 360x640."""
    from espcn_ref.equivalence import upsampling_cost

    c = upsampling_cost(1, 32, 1, 360, 640, 3, 9)
    assert c["subpixel"] == 360 * 640 * 32 * 9 * 9 == 597_196_800
    assert c["transposed"] == c["subpixel"]
    assert c["fractional_stride"] == 9 * c["subpixel"]  # the r^2 saving of working in LR space
    assert upsampling_cost(1, 1, 1, 10, 10, 3, 4)["subpixel"] == 100 * 9 * 4  # ceil(4/3) = 2 per phase


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: transposed_to_subpixel(np.zeros((1, 1, 4, 4)), 3), ValueError, "k_s = 4 is not a multiple of r = 3"),
        (lambda: transposed_to_subpixel(np.zeros((1, 1, 4, 4)), 0), ValueError, "r must be >= 1"),
        (lambda: transposed_to_subpixel(np.zeros((1, 1, 4, 4)), 2, padding=-1), ValueError, "padding must be >= 0"),
        (lambda: transposed_to_subpixel(np.zeros((1, 1, 4, 3)), 2), ValueError, "square"),
        (lambda: transposed_conv2d(np.zeros((1, 2, 3, 3)), np.zeros((1, 1, 2, 2)), 2), ValueError, "x has 2 channels"),
        (lambda: fractional_stride_conv2d(np.zeros((1, 2, 3, 3)), np.zeros((1, 1, 2, 2)), 2), ValueError, "x has 2 channels"),
        (lambda: fractional_stride_conv2d(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), 2, 1), ValueError, "padding = 1 is out of range"),
        (lambda: transposed_conv2d(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), 2, 1), ValueError, "output would be empty"),
        (lambda: subpixel_conv2d(np.zeros((1, 1, 2, 2)), np.zeros((4, 1, 1, 1)), 2, 0, 2), ValueError, "leaves nothing"),
        (lambda: subpixel_conv2d(np.zeros((1, 1, 2, 2)), np.zeros((3, 1, 1, 1)), 2), ValueError, "not divisible by r"),
        (lambda: subpixel_conv2d(np.zeros((1, 2, 2, 2)), np.zeros((4, 1, 1, 1)), 2), ValueError, "x has 2 channels"),
        (lambda: subpixel_to_transposed(np.zeros((3, 1, 2, 2)), 2), ValueError, "not divisible by r"),
        (lambda: transposed_padding(2, 2, lr_padding=3), ValueError, "negative padding"),
        (lambda: activation_patterns(0, 2), ValueError, "k_s must be >= 1"),
    ],
)
def test_bad_input_is_rejected(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_transposed_padding_checks_its_arguments():
    for args, err, words in [((2.5, 2, 0), TypeError, "m must be an integer"),
                             ((2, -2, 0, 10), ValueError, "r must be >= 1"),
                             ((2, 2, -1), ValueError, "lr_padding must be >= 0"),
                             ((2, 2, 0, (1, 2, 1, 2)), TypeError, "hr_crop must be one int for all sides")]:
        with pytest.raises(err, match=words):
            transposed_padding(*args)
    with pytest.raises(ValueError, match="negative padding"):
        transposed_padding(2, 3, 2)


def test_wrong_types_get_messages_that_name_the_argument():
    """Wrong types across the API: one message naming the argument, not a
    NumPy or Python internal (unhashable list, ufunc, reshape)."""
    from espcn_ref import conv_transpose2d, pixel_shuffle
    from espcn_ref.data import gaussian_kernel1d
    from espcn_ref.equivalence import flip_kernel, zero_insert
    from espcn_ref.evaluate import evaluate_images
    from espcn_ref.model import ESPCN

    cases = [
        (lambda: pixel_shuffle(np.zeros((1, 4, 2, 2)), 2, ["crd"]), ValueError, "order must be one of"),
        (lambda: gaussian_kernel1d(None), TypeError, "sigma must be a real number"),
        (lambda: ESPCN(2, rng=42), TypeError, "rng must be a numpy.random.Generator"),
        (lambda: zero_insert(np.zeros((1, 1, 3, 3)), 2, 0.5), TypeError, "border must be an integer"),
        (lambda: flip_kernel(np.zeros((2, 2, 2))), ValueError, "w_t must have 4 dimensions"),
        (lambda: evaluate_images("bicubic", [np.zeros((9, 9), np.uint8)], 2), TypeError, "images must be a dict"),
        (lambda: conv_transpose2d(np.zeros((1, 0, 3, 3)), np.zeros((0, 1, 3, 3))), ValueError, "must be non-empty"),
    ]
    for call, err, words in cases:
        with pytest.raises(err, match=words):
            call()
