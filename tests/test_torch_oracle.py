"""PyTorch as an independent oracle, when it happens to be installed (never a dependency)."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional

from espcn_ref import (  # noqa: E402
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
    mse_loss,
    pixel_shuffle,
    pixel_unshuffle,
)
from test_conv import conv_case  # noqa: E402
from test_conv_transpose import tconv_case  # noqa: E402


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


@given(conv_case())
def test_conv2d_matches_torch(case):
    x, w, b, s, p = case
    xt, wt = _t(x), _t(w)
    bt = None if b is None else _t(b)
    yt = F.conv2d(xt, wt, bt, s, p)
    np.testing.assert_allclose(conv2d(x, w, b, s, p), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    dy = np.random.default_rng(0).standard_normal(yt.shape)
    yt.backward(torch.tensor(dy))
    dx, dw, db = conv2d_backward(dy, x, w, s, p)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-10, atol=1e-10)


@given(tconv_case())
def test_conv_transpose2d_matches_torch(case):
    x, w, b, s, p, op = case
    xt, wt = _t(x), _t(w)
    yt = F.conv_transpose2d(xt, wt, None if b is None else torch.tensor(b), s, p, op)
    np.testing.assert_allclose(conv_transpose2d(x, w, b, s, p, op), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    dy = np.random.default_rng(0).standard_normal(yt.shape)
    yt.backward(torch.tensor(dy))
    dx, dw, _ = conv_transpose2d_backward(dy, x, w, s, p, op)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-10, atol=1e-10)


@given(st.integers(1, 5), st.integers(1, 3), st.integers(1, 4))
def test_crd_shuffle_is_torch_pixel_shuffle(r, C, H):
    x = np.random.default_rng(r * C * H).standard_normal((2, C * r * r, H, H + 1))
    y = F.pixel_shuffle(torch.tensor(x), r).numpy()
    np.testing.assert_array_equal(pixel_shuffle(x, r, "crd"), y)
    np.testing.assert_array_equal(pixel_unshuffle(y, r, "crd"), F.pixel_unshuffle(torch.tensor(y), r).numpy())


def test_mse_is_torch_mse_mean():
    g = np.random.default_rng(0)
    y, t = g.standard_normal((3, 1, 6, 6)), g.standard_normal((3, 1, 6, 6))
    assert mse_loss(y, t) == pytest.approx(F.mse_loss(torch.tensor(y), torch.tensor(t)).item(), rel=1e-12)
