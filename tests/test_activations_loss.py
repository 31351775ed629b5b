"""tanh, relu (Table 1) and the MSE of eq. (5): kernels vs references, gradients, NaN."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from espcn_ref import mse_loss, mse_loss_backward, relu, relu_backward, tanh, tanh_backward
from espcn_ref.gradcheck import check_gradient
from espcn_ref.ops.activations import (
    relu_backward_reference,
    relu_reference,
    tanh_backward_reference,
    tanh_reference,
)
from espcn_ref.ops.loss import mse_loss_reference

finite = st.floats(-20, 20, allow_nan=False, width=64)
tensors = arrays(np.float64, st.tuples(*[st.integers(1, 4)] * 4), elements=finite)


@given(tensors)
def test_kernels_match_references(x):
    np.testing.assert_allclose(tanh(x), tanh_reference(x), rtol=1e-15, atol=1e-15)
    np.testing.assert_array_equal(relu(x), relu_reference(x))
    dy = np.cos(x)
    np.testing.assert_allclose(tanh_backward(dy, tanh(x)), tanh_backward_reference(dy, tanh(x)), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(relu_backward(dy, x), relu_backward_reference(dy, x))


@given(tensors)
def test_float32_within_tolerance(x):
    """float32 tanh within 1e-6 absolute of float64."""
    y32 = tanh(x.astype(np.float32))
    assert y32.dtype == np.float32
    assert np.max(np.abs(y32 - np.tanh(x))) < 1e-6


@pytest.mark.parametrize("act, back, uses_output", [(tanh, tanh_backward, True), (relu, relu_backward, False)])
def test_activation_gradients(rng, act, back, uses_output):
    x = rng.standard_normal((2, 3, 4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep relu's kink away from the finite differences
    t = rng.standard_normal(x.shape)
    dx = back(t, act(x) if uses_output else x)
    check_gradient(lambda: float(np.sum(act(x) * t)), x, dx)


def test_tanh_gradient_check_has_teeth(rng):
    """Negative control: passing x instead of y = tanh(x) to tanh_backward must fail."""
    x = rng.standard_normal((1, 1, 3, 3))
    t = rng.standard_normal(x.shape)
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_gradient(lambda: float(np.sum(tanh(x) * t)), x, tanh_backward(t, x))


def test_nan_propagates():
    for dtype in (np.float64, np.float32):
        x = np.array([np.nan, -1.0, 2.0], dtype=dtype)
        assert np.isnan(tanh(x)[0]) and np.isnan(relu(x)[0])
        np.testing.assert_array_equal(relu(x)[1:], [0.0, 2.0])


def test_float32_tanh_kernel_accuracy_everywhere():
    """The float32 rational tanh: < 4e-7 absolute error on a dense grid and at the extremes."""
    x = np.concatenate([np.linspace(-12, 12, 1_000_001), [0.0, 1e-30, -3e-4, 5e-4, 7.99, 8.01, 1e30, -np.inf, np.inf]])
    y = tanh(x.astype(np.float32))
    assert np.max(np.abs(y - np.tanh(x.astype(np.float32).astype(np.float64)))) < 4e-7
    assert np.all(np.abs(y) <= 1) and np.min(np.diff(y[:1_000_001])) > -8e-7  # bounded; monotone within 2x the error bound


@given(arrays(np.float64, st.tuples(*[st.integers(1, 4)] * 4), elements=finite), st.integers(0, 99))
def test_mse_matches_reference_and_torch_reduction(y, seed):
    t = np.random.default_rng(seed).standard_normal(y.shape)
    assert mse_loss(y, t) == pytest.approx(mse_loss_reference(y, t), rel=1e-12)
    assert mse_loss(y, t) == pytest.approx(np.mean((y - t) ** 2), rel=1e-12)  # reduction="mean"


def test_mse_is_eq5_per_image_then_batch_mean():
    """Two 1x1x2x2 HR images (r^2 H W = 4 with r = 2, H = W = 1): per image, then mean."""
    t = np.zeros((2, 1, 2, 2))
    y = np.zeros((2, 1, 2, 2))
    y[0, 0, 0, 0] = 2.0  # image 0: 2^2 / 4 = 1
    y[1] = 1.0
    y[1, 0, 0, 0] = 3.0  # image 1: (9 + 1 + 1 + 1) / 4 = 3
    assert mse_loss(y, t) == pytest.approx((1.0 + 3.0) / 2)


def test_mse_gradient(rng):
    y, t = rng.standard_normal((3, 1, 4, 4)), rng.standard_normal((3, 1, 4, 4))
    check_gradient(lambda: mse_loss(y, t), y, mse_loss_backward(y, t))
    with pytest.raises(AssertionError):  # negative control: the "sum" reduction's gradient
        check_gradient(lambda: mse_loss(y, t), y, 2 * (y - t))


def test_mse_float32_sums_in_float64(rng):
    """A million float32 squares: summed in float32 they drift by ~1e-4 (relative);
    the loss accumulates each difference and square in float64."""
    y = rng.random((2, 1, 1000, 500), dtype=np.float32)
    t = rng.random((2, 1, 1000, 500), dtype=np.float32)
    d = y.astype(np.float64) - t.astype(np.float64)
    exact = np.mean([math.fsum(img.ravel() ** 2) / img.size for img in d])
    assert mse_loss(y, t) == pytest.approx(exact, rel=1e-12)


def test_mse_nan_and_bad_input():
    y = np.zeros((1, 1, 2, 2))
    y[0, 0, 0, 0] = np.nan
    assert np.isnan(mse_loss(y, np.zeros_like(y)))
    with pytest.raises(ValueError, match="same shape"):
        mse_loss(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3)))
    with pytest.raises(ValueError, match="empty batch"):
        mse_loss(np.zeros((0, 1, 2, 2)), np.zeros((0, 1, 2, 2)))
    with pytest.raises(TypeError, match="t must be a float32"):
        mse_loss(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="dy and y must have the same shape"):
        tanh_backward(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("act", [tanh, relu])
def test_out_in_place_separate_or_refused(act):
    """out may be x itself or separate memory; a shifted view of x would be read
    after being overwritten, and a read-only out cannot be written: both refused."""
    x = np.linspace(-3, 3, 2001, dtype=np.float32)
    want = act(x.copy())
    same = x.copy()
    assert act(same, out=same) is same
    np.testing.assert_array_equal(same, want)
    with pytest.raises(ValueError, match="out overlaps x without being x itself"):
        act(x[:-1], out=x[1:])
    locked = np.empty_like(x)
    locked.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        act(x, out=locked)
    assert act(np.float32(0.5)).shape == () and act(np.array(-1.0)).shape == ()  # 0-d stays 0-d
