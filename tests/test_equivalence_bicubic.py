"""Sec. 2.1 as tests: MATLAB's bicubic upscaling by r is a stride-r deconvolution layer."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import assert_close
from espcn_ref.data.resize import imresize, resize_weights
from espcn_ref.equivalence import (
    bicubic_as_conv_transpose2d,
    bicubic_border,
    bicubic_deconv_kernel,
    bicubic_kernel1d,
    keys_cubic,
    subpixel_conv2d,
    transposed_to_subpixel,
)
from espcn_ref.ops.conv_transpose import conv_transpose2d


def imresize_nchw(x, r):
    """The reference: imresize(x, scale=r) of every image, (N, C, H, W) -> (N, C, rH, rW)."""
    return np.stack([imresize(img.transpose(1, 2, 0), scale=r).transpose(2, 0, 1) for img in x])


def resize_matrix(L, r):
    """imresize along one axis as a dense (rL, L) matrix, built from MATLAB's weight table."""
    weights, indices = resize_weights(L, r * L, r)
    R = np.zeros((r * L, L))
    np.add.at(R, (np.arange(r * L)[:, None], indices), weights)  # clamped taps pile onto the edge pixel
    return R


def deconv_matrix(k, L, r):
    """The 1-D transposed conv with kernel k as a dense (rL, L) matrix: column j is the output for x = e_j."""
    p = (k.size - r) // 2
    eye = np.eye(L)[:, None, :, None]  # (L, 1, L, 1): L images, one column each
    y = conv_transpose2d(eye, k[None, None, :, None], stride=(r, 1), padding=(p, 0))  # (L, 1, rL, 1)
    return y[:, 0, :, 0].T


def border_2d(H, W, r):
    """(rH, rW) bool: the pixels whose row or column is in bicubic_border."""
    return bicubic_border(H, r)[:, None] | bicubic_border(W, r)[None, :]


@st.composite
def images(draw, r_values=(2, 3, 4), min_side=1, max_side=12):
    r = draw(st.sampled_from(r_values))
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    H, W = draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((N, C, H, W))
    return x, r


# --- the kernel ------------------------------------------------------------------


def test_r2_kernel_is_the_printed_one():
    """docs/equivalence.md prints it; every tap is a multiple of 1/128, so float64 holds it exactly."""
    np.testing.assert_array_equal(bicubic_kernel1d(2) * 128, [-3, -9, 29, 111, 111, 29, -9, -3])
    assert bicubic_deconv_kernel(2)[1] == 3


@pytest.mark.parametrize("r", [1, 2, 3, 4, 5, 6])
def test_kernel_shape_symmetry_and_phases(r):
    k = bicubic_kernel1d(r)
    w_t, p = bicubic_deconv_kernel(r)
    K = 4 * r - r % 2
    assert k.shape == (K,) and w_t.shape == (1, 1, K, K) and p == 3 * r // 2 == (K - r) // 2
    np.testing.assert_array_equal(k, k[::-1])
    np.testing.assert_array_equal(w_t[0, 0], np.outer(k, k))
    if r == 1:  # imresize by 1 is the identity
        np.testing.assert_array_equal(k, [0, 1, 0])
    else:  # as short as it can be: the zeros of cubic at d = +-2 are left out
        assert k[0] != 0 != k[-1]
    for phase in range(r):  # the taps one output pixel uses sum to 1, as imresize's weights do
        assert abs(k[(phase + p) % r :: r].sum() - 1) < 1e-14


def test_keys_cubic_interpolates_and_sums_to_one():
    for a in (-0.5, -0.75):
        np.testing.assert_array_equal(keys_cubic(np.arange(-3, 4), a), [0, 0, 0, 1, 0, 0, 0])
        u = np.linspace(0, 1, 11)
        assert np.allclose(sum(keys_cubic(u - j, a) for j in range(-2, 4)), 1, rtol=0, atol=1e-14)


@pytest.mark.parametrize("r", [2, 3, 4])
@pytest.mark.parametrize("L", [1, 2, 3, 4, 7, 12])
def test_kernel_is_matlabs_weight_table_except_at_the_border(r, L):
    """One axis, as matrices: rows of the deconvolution equal rows of imresize's
    weight table to 1e-12, except exactly the rows bicubic_border marks."""
    Z, R = deconv_matrix(bicubic_kernel1d(r), L, r), resize_matrix(L, r)
    border = bicubic_border(L, r)
    row_gap = np.abs(Z - R).max(axis=1)  # (rL,)
    assert np.all(row_gap[~border] <= 1e-12), f"interior rows: max gap {row_gap[~border].max():.3e}"
    assert np.all(row_gap[border] > 1e-3), f"border rows: min gap {row_gap[border].min():.3e}"
    assert border.sum() == 2 * (r // 2) * min(L, 3)
    if L >= 3:  # 3 floor(r/2) rows at each end, all within p = floor(3r/2) of it
        p = 3 * r // 2
        assert border[:p].sum() == border[-p:].sum() == 3 * (r // 2) and not border[p:-p].any()


# --- the 2-D layer against imresize ------------------------------------------------


@given(images(min_side=4, max_side=16))
def test_deconv_equals_imresize_in_the_interior_float64(case):
    """Sec. 2.1: away from the border, imresize(x, r) is conv_transpose2d(x, w_t, stride=r, padding=p)."""
    x, r = case
    y, ref = bicubic_as_conv_transpose2d(x, r), imresize_nchw(x, r)
    assert y.shape == ref.shape == x.shape[:2] + (r * x.shape[2], r * x.shape[3])
    p = 3 * r // 2
    assert_close(y[..., p:-p, p:-p], ref[..., p:-p, p:-p], rtol=0, atol=1e-12, what=f"deconvolution vs imresize, r = {r}")
    interior = ~border_2d(x.shape[2], x.shape[3], r)  # also the rows through LR pixel centres, for odd r
    assert np.abs(y - ref)[..., interior].max() <= 1e-12


@given(images(max_side=12))
def test_border_differs_in_exactly_the_predicted_pixels(case):
    """Zero padding against replicate: rH rW - (rH - n(H)) (rW - n(W)) pixels differ,
    n(L) = 2 floor(r/2) min(L, 3), and they are the ones bicubic_border marks."""
    x, r = case
    _, _, H, W = x.shape
    differs = np.abs(bicubic_as_conv_transpose2d(x, r) - imresize_nchw(x, r)) > 1e-12  # (N, C, rH, rW)
    n_H, n_W = 2 * (r // 2) * min(H, 3), 2 * (r // 2) * min(W, 3)
    expected = r * H * r * W - (r * H - n_H) * (r * W - n_W)
    for plane in differs.reshape(-1, r * H, r * W):
        assert plane.sum() == expected, f"r = {r}, {H}x{W}: {plane.sum()} pixels differ, predicted {expected}"
        np.testing.assert_array_equal(plane, border_2d(H, W, r))


@given(images(max_side=8))
def test_replicate_padding_makes_them_equal_everywhere(case):
    """The border's only cause: pad x by 2 edge pixels (the furthest a tap reaches), pad the deconvolution by 2r more."""
    x, r = case
    w_t, p = bicubic_deconv_kernel(r)
    x_pad = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="edge")
    N, C, Hp, Wp = x_pad.shape
    y = conv_transpose2d(x_pad.reshape(N * C, 1, Hp, Wp), w_t, stride=r, padding=p + 2 * r)
    assert_close(y.reshape(N, C, r * (Hp - 4), r * (Wp - 4)), imresize_nchw(x, r), rtol=0, atol=1e-12,
                 what="edge-padded deconvolution vs imresize")


@pytest.mark.parametrize("wrong", ["a = -0.75", "kernel shifted by one tap"])
@pytest.mark.parametrize("r", [2, 3, 4])
def test_interior_equality_has_teeth(wrong, r):
    """Negative control: Keys with a = -0.75 (OpenCV's and PyTorch's bicubic), or the
    right kernel one tap off, must fail the interior equality by far more than 1e-12."""
    x = np.random.default_rng(r).standard_normal((1, 1, 10, 9))
    k = bicubic_kernel1d(r, a=-0.75) if wrong.startswith("a =") else np.roll(bicubic_kernel1d(r), 1)
    y = conv_transpose2d(x, np.outer(k, k)[None, None], stride=r, padding=3 * r // 2)
    p = 3 * r // 2
    assert np.abs(y - imresize_nchw(x, r))[..., p:-p, p:-p].max() > 1e-3


# --- the same layer as sub-pixel convolution: a fixed ESPCN last layer ---------------


@pytest.mark.parametrize("r", [2, 3, 4])
def test_bicubic_is_a_fixed_subpixel_layer(r):
    """transposed_to_subpixel turns w_t into r^2 fixed 4x4 filters on the LR map, then PS
    (eq. 3): each filter is outer(a_i, a_j), a_i the 4 weights imresize gives phase i.
    K = 4r - 1 for odd r is not a multiple of r: pad_kernel=True adds the zero tap."""
    w_t, p = bicubic_deconv_kernel(r)
    w_s, lr_padding, crop = transposed_to_subpixel(w_t, r, p, pad_kernel=bool(w_t.shape[2] % r))
    assert w_s.shape == (r * r, 1, 4, 4) and lr_padding == 2
    top = crop if isinstance(crop, int) else crop[0]
    x = np.random.default_rng(r).standard_normal((2, 1, 7, 6))
    assert_close(subpixel_conv2d(x, w_s, r, lr_padding, crop), bicubic_as_conv_transpose2d(x, r),
                 rtol=0, atol=1e-12, what="sub-pixel vs transposed")
    R, h = resize_matrix(12, r), 5  # an interior LR row: sub-pixel phase i of it is HR row r h + i - top
    rows = R[r * h + np.arange(r) - top]  # (r, 12)
    window = slice(h - lr_padding, h - lr_padding + 4)  # the LR pixels the 4x4 filters read
    assert np.abs(np.delete(rows, np.s_[window], axis=1)).max() == 0
    a = rows[:, window]  # (r, 4)
    for i in range(r):
        for j in range(r):
            assert_close(w_s[i * r + j, 0], np.outer(a[i], a[j]), rtol=0, atol=1e-12, what=f"filter of phase ({i}, {j})")


def test_dtype_and_bad_input():
    x = np.random.default_rng(0).random((1, 2, 5, 4), dtype=np.float32)
    y = bicubic_as_conv_transpose2d(x, 3)
    assert y.dtype == np.float32 and y.shape == (1, 2, 15, 12)
    with pytest.raises(ValueError, match="r must be >= 1"):
        bicubic_kernel1d(0)
    with pytest.raises(ValueError, match=r"x must have 4 dimensions \(N, C, H, W\)"):
        bicubic_as_conv_transpose2d(x[0], 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        bicubic_as_conv_transpose2d((x * 255).astype(np.uint8), 2)
    with pytest.raises(ValueError, match="L must be >= 1"):
        bicubic_border(0, 2)
