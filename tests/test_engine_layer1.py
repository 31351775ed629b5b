"""Layer 1's direct kernel (engine/layer1.py): phi(W_1 * x + b_1) onto the
grid, against its NumPy twin, the conv2d spec, and the old path (taps + GEMM)."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import assert_close
from espcn_ref.engine import conv as econv, grid as egrid, layer1, taps
from espcn_ref.engine.grid import Grid
from espcn_ref.ops.activations import relu_reference, tanh_reference
from espcn_ref.ops.conv import conv2d_reference

TOL = {np.float64: 1e-12, np.float32: 1e-5}


@st.composite
def layer1_case(draw):
    k = draw(st.sampled_from([1, 3, 5, 7]))
    N, C, n1 = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 9))
    H, W, pad = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(0, 2))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    activation = draw(st.sampled_from(["tanh", "relu"]))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = g.random((N, C, H, W)).astype(dtype)
    w, b = g.standard_normal((n1, C, k, k)).astype(dtype), g.standard_normal(n1).astype(dtype)
    return Grid(N, H, W, pad), x, w, b, activation


@given(layer1_case())
def test_layer1_matches_its_twin_and_the_conv2d_spec(case):
    """Kernels as large as the image, 1x1 images, 1 to 3 input channels; a valid grid (zero off the pixels)."""
    grid, x, w, b, activation = case
    ours = layer1.conv1_act_grid(x, w, b, activation, grid)
    tol = TOL[x.dtype.type]
    assert ours.shape == (grid.length, w.shape[0]) and ours.dtype == x.dtype
    assert_close(ours, layer1.conv1_act_grid_reference(x, w, b, activation, grid), rtol=tol, atol=tol, what="twin")
    phi = tanh_reference if activation == "tanh" else relu_reference
    spec = phi(conv2d_reference(x, w, b, 1, w.shape[2] // 2))
    assert_close(egrid.from_grid(ours, grid), spec, rtol=tol, atol=tol, what="conv2d spec")
    np.testing.assert_array_equal(egrid.clear_padding(ours.copy(), grid), ours)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer1_is_the_old_path_of_taps_gemm_and_phi(dtype):
    """The paper's layer 1 (64 5x5 filters, tanh) as the engine ran it before: gathered taps, a 1x1 conv, act_grid."""
    g = np.random.default_rng(1)
    x = g.random((2, 1, 13, 17)).astype(dtype)
    w, b = (0.2 * g.standard_normal((64, 1, 5, 5))).astype(dtype), (0.1 * g.standard_normal(64)).astype(dtype)
    grid = Grid(2, 13, 17, 1)
    old = egrid.act_grid(econv.conv_grid(taps.im2col_grid(x, 5, grid), w.reshape(64, 25, 1, 1), grid, b), "tanh", grid)
    tol = TOL[dtype]
    assert_close(layer1.conv1_act_grid(x, w, b, "tanh", grid), old, rtol=tol, atol=tol, what="old path")


def test_a_pixel_does_not_depend_on_where_it_sits():
    """Tiles give the frame's bits: a crop's pixels, away from the crop's border, equal the frame's to the bit."""
    g = np.random.default_rng(2)
    x = g.random((1, 1, 20, 37)).astype(np.float32)
    w, b = g.standard_normal((64, 1, 5, 5)).astype(np.float32), g.standard_normal(64).astype(np.float32)
    whole = egrid.from_grid(layer1.conv1_act_grid(x, w, b, "tanh", Grid(1, 20, 37, 1)), Grid(1, 20, 37, 1))
    crop = x[:, :, 3:17, 5:30]
    part = egrid.from_grid(layer1.conv1_act_grid(crop, w, b, "tanh", Grid(1, 14, 25, 1)), Grid(1, 14, 25, 1))
    np.testing.assert_array_equal(part[:, :, 2:-2, 2:-2], whole[:, :, 5:15, 7:28])


def test_layer1_rejects_bad_input():
    grid = Grid(1, 4, 5, 1)
    x = np.zeros((1, 1, 4, 5))
    with pytest.raises(ValueError, match="k odd"):
        layer1.conv1_act_grid(x, np.zeros((3, 1, 2, 2)), np.zeros(3), "tanh", grid)
    with pytest.raises(ValueError, match=r"\(n_1, 1, k, k\)"):
        layer1.conv1_act_grid(x, np.zeros((3, 2, 3, 3)), np.zeros(3), "tanh", grid)
    with pytest.raises(ValueError, match=r"b must be \(3,\)"):
        layer1.conv1_act_grid(x, np.zeros((3, 1, 3, 3)), np.zeros(4), "tanh", grid)
    with pytest.raises(TypeError, match="share a dtype"):
        layer1.conv1_act_grid(x, np.zeros((3, 1, 3, 3), np.float32), np.zeros(3), "tanh", grid)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) = \(1, C, 4, 5\)"):
        layer1.conv1_act_grid(np.zeros((1, 1, 5, 4)), np.zeros((3, 1, 3, 3)), np.zeros(3), "tanh", grid)
    with pytest.raises(ValueError, match="'tanh' or 'relu'"):
        layer1.conv1_act_grid(x, np.zeros((3, 1, 3, 3)), np.zeros(3), "gelu", grid)
