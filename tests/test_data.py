"""espcn_ref.data: colour, MATLAB imresize, degradation, patches, image IO, datasets."""

import os
import re
import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import assert_close
from hypothesis import given, settings, strategies as st

from espcn_ref import data
from espcn_ref.data.io import normalise_image
from espcn_ref.data.patches import dihedral, random_dihedral
from espcn_ref.data import (
    bicubic_upscale,
    extract_patches,
    find_data_dir,
    gaussian_degrade,
    imresize,
    list_images,
    load_image,
    make_lr_hr_pair,
    modcrop,
    patch_origins,
    rgb_to_y_uint8,
    rgb_to_ycbcr,
    round_half_away,
    sample_images,
    save_image,
    ycbcr_to_rgb,
)

# --- colour ----------------------------------------------------------------------


def test_ycbcr_round_trip_float(rng):
    rgb = rng.uniform(0, 255, (6, 7, 3))
    assert_close(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, rtol=0, atol=1e-10, what="rgb->ycc->rgb")
    ycc = rng.uniform(16, 235, (4, 5, 3))
    assert_close(rgb_to_ycbcr(ycbcr_to_rgb(ycc)), ycc, rtol=0, atol=1e-10, what="ycc->rgb->ycc")


@pytest.mark.parametrize("rgb, ycc", [
    ((255, 255, 255), (235.0, 128.0, 128.0)),
    ((0, 0, 0), (16.0, 128.0, 128.0)),
    ((255, 0, 0), (16 + 65.481, 128 - 37.797, 128 + 112.0)),
    ((0, 255, 0), (16 + 128.553, 128 - 74.203, 128 - 93.786)),
    ((0, 0, 255), (16 + 24.966, 128 + 112.0, 128 - 18.214)),
])
def test_ycbcr_known_values(rgb, ycc):
    for dtype in (np.uint8, np.float64):
        got = rgb_to_ycbcr(np.array(rgb, dtype=dtype).reshape(1, 1, 3))[0, 0]
        assert_close(got, ycc, rtol=0, atol=1e-12, what=f"rgb_to_ycbcr{rgb} {dtype.__name__}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_ycbcr_to_rgb_matches_its_numpy_twin(rng, dtype):
    from espcn_ref.data.colour import ycbcr_to_rgb_reference

    ycc = rng.uniform(-20, 280, (13, 7, 3)).astype(dtype)
    ycc[0, 0] = [np.inf, 0, 0] if dtype != np.uint8 else [0, 0, 0]
    got = ycbcr_to_rgb(ycc[:, ::-1])  # a strided view
    assert got.dtype == np.float64 and got.shape == (13, 7, 3)
    np.testing.assert_array_equal(got.view(np.uint64), ycbcr_to_rgb_reference(ycc[:, ::-1]).view(np.uint64))


@pytest.mark.parametrize("dtype", [np.uint8, np.float64, np.float32])
def test_rgb_to_ycbcr_matches_its_numpy_twin(rng, dtype):
    from espcn_ref.data.colour import rgb_to_ycbcr_reference

    rgb = (rng.random((11, 9, 3)) * 255.99).astype(dtype)  # uint8: every level, floats: between them
    rgb[0, 0] = [255, 0, 255]
    for x in (rgb, rgb[:, ::-2], np.zeros((0, 4, 3), dtype)):  # contiguous, strided, empty
        got = rgb_to_ycbcr(x)
        assert got.dtype == np.float64 and got.shape == x.shape
        np.testing.assert_array_equal(got.view(np.uint64), rgb_to_ycbcr_reference(x).view(np.uint64))


@pytest.mark.parametrize("y_dtype", [np.float32, np.float64])
def test_ycbcr_to_rgb_uint8_is_the_three_steps_it_fuses(rng, y_dtype):
    """One pass, the bytes of concatenate, ycbcr_to_rgb and to_uint8 of rgb / 255 (and of its NumPy twin)."""
    from espcn_ref.data.colour import ycbcr_to_rgb_uint8, ycbcr_to_rgb_uint8_reference
    from espcn_ref.metrics import scaled_to_uint8

    y = rng.uniform(-0.1, 1.1, (13, 17)).astype(y_dtype)  # beyond [0, 1]: the clipping is exercised
    y[0, :4] = [0.5, 127.5 / 255, 1.0, 0.0]
    cbcr = rng.uniform(0, 255, (13, 17, 2))
    for args in ((y, cbcr), (y[:, ::-1], cbcr[:, ::-1])):  # and strided views
        got = ycbcr_to_rgb_uint8(*args, y_scale=255.0)
        steps = scaled_to_uint8(ycbcr_to_rgb(np.concatenate([(args[0] * 255.0)[..., None], args[1]], axis=-1)), 255.0)
        assert got.dtype == np.uint8 and got.shape == (13, 17, 3)
        np.testing.assert_array_equal(got, steps)
        np.testing.assert_array_equal(got, ycbcr_to_rgb_uint8_reference(*args, y_scale=255.0))
    assert (ycbcr_to_rgb_uint8(y, cbcr, 255.0) != ycbcr_to_rgb_uint8(y, cbcr, 254.0)).any()  # negative control
    big_y, big_cbcr = rng.uniform(-0.1, 1.1, (47, 101)).astype(y_dtype), rng.uniform(0, 255, (47, 101, 2))
    np.testing.assert_array_equal(ycbcr_to_rgb_uint8(big_y, big_cbcr, 255.0),  # 4,747 pixels: blocks of 2,048 and a part
                                  ycbcr_to_rgb_uint8_reference(big_y, big_cbcr, 255.0))
    big_y[-1, -1] = np.nan  # in the last, partial block
    with pytest.raises(ValueError, match="contains NaN"):
        ycbcr_to_rgb_uint8(big_y, big_cbcr, 255.0)
    y[3, 3] = np.nan
    for fn in (ycbcr_to_rgb_uint8, ycbcr_to_rgb_uint8_reference):
        with pytest.raises(ValueError, match="contains NaN"):
            fn(y, cbcr, 255.0)
    with pytest.raises(ValueError, match=r"cbcr must have shape \(13, 17, 2\)"):
        ycbcr_to_rgb_uint8(y, cbcr[:, :-1], 255.0)


def test_ycbcr_bad_input():
    with pytest.raises(ValueError, match="rgb must have shape"):
        rgb_to_ycbcr(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="rgb"):
        rgb_to_ycbcr(np.zeros((4, 4, 3), dtype=np.int32))


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=0, max_size=40),
       st.sampled_from([np.float64, np.float32]))
def test_round_half_away_matches_its_numpy_twin_bit_for_bit(values, dtype):
    from espcn_ref.data.colour import round_half_away_reference

    specials = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.0, 0.0, 4503599627370495.5,
                8388607.5, 2.0**60, np.nan, np.inf, -np.inf, 1e-300, -0.7]
    with np.errstate(over="ignore"):  # float64 values beyond float32's range become inf
        x = np.array(values + specials).astype(dtype)
    got, want = round_half_away(x), round_half_away_reference(x)
    assert got.dtype == want.dtype == dtype
    bits = np.uint64 if dtype == np.float64 else np.uint32
    np.testing.assert_array_equal(got.view(bits), want.view(bits))  # -0.0 and NaN included
    x2 = x[: len(x) // 2 * 2].reshape(2, -1)[:, ::-1]  # a 2-D strided view
    np.testing.assert_array_equal(round_half_away(x2).view(bits), round_half_away_reference(x2).view(bits))
    empty = np.zeros((0, 3), dtype)
    assert round_half_away(empty).shape == (0, 3) and round_half_away(empty).dtype == dtype


def test_round_half_away():
    assert round_half_away(2.5) == 3 and np.round(2.5) == 2  # numpy: half to even
    assert round_half_away(-2.5) == -3 and np.round(-2.5) == -2
    x = np.array([0.5, 1.5, -0.5, -1.5, 1.4999, 0.49999999999999994, -0.49999999999999994, 7.0])
    np.testing.assert_array_equal(round_half_away(x), [1, 2, -1, -2, 1, 0, -0.0, 7])
    assert round_half_away(np.array([3], dtype=np.uint8)).tolist() == [3]
    assert round_half_away(np.float32(0.5)).dtype == np.float32


def test_rgb_to_y_uint8(rng):
    img = rng.integers(0, 256, (9, 8, 3), dtype=np.uint8)
    y = rgb_to_y_uint8(img)
    R, G, B = (img[..., c].astype(np.float64) / 255 for c in range(3))
    expected = np.floor(16 + 65.481 * R + 128.553 * G + 24.966 * B + 0.5)  # Y > 0: floor(y+.5) = half away
    assert y.dtype == np.uint8 and y.shape == (9, 8)
    np.testing.assert_array_equal(y, expected)
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    assert rgb_to_y_uint8(red)[0, 0] == 81  # 81.481
    gray = rng.integers(0, 256, (5, 4), dtype=np.uint8)
    np.testing.assert_array_equal(rgb_to_y_uint8(gray), gray)  # Set14 'bridge': already Y
    with pytest.raises(TypeError, match="uint8"):
        rgb_to_y_uint8(img.astype(np.float64))


def test_modcrop():
    a = np.arange(35).reshape(7, 5)
    assert modcrop(a, 3).shape == (6, 3)
    np.testing.assert_array_equal(modcrop(a, 3), a[:6, :3])  # bottom / right are dropped
    assert modcrop(np.zeros((7, 5, 3)), 2).shape == (6, 4, 3)
    assert modcrop(a, 1).shape == (7, 5)
    with pytest.raises(ValueError, match="smaller than r"):
        modcrop(a, 6)
    with pytest.raises(ValueError, match="r must be >= 1"):
        modcrop(a, 0)


# --- imresize: an independent loop spec -----------------------------------------------


def keys(d):
    """Keys cubic a = -0.5, written piecewise with scalar ifs."""
    d = abs(d)
    if d <= 1:
        return 1.5 * d**3 - 2.5 * d**2 + 1
    if d <= 2:
        return -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2
    return 0.0


def resize_matrix_loops(n_in, n_out, s):
    """Dense (n_out, n_in) matrix, one output pixel at a time over the kernel's support."""
    M = np.zeros((n_out, n_in))
    half = 2.0 / min(s, 1.0)  # half kernel width in input pixels
    for x in range(1, n_out + 1):
        u = x / s + 0.5 * (1 - 1 / s)
        for j in range(int(np.floor(u - half)), int(np.ceil(u + half)) + 1):
            wgt = s * keys(s * (u - j)) if s < 1 else keys(u - j)
            M[x - 1, min(max(j, 1), n_in) - 1] += wgt  # replicate borders
        M[x - 1] /= M[x - 1].sum()
    return M


def imresize_loops(img, s, uint8=False):
    H, W = img.shape
    Mh = resize_matrix_loops(H, int(np.ceil(s * H)), s)
    Mw = resize_matrix_loops(W, int(np.ceil(s * W)), s)
    rows = Mh @ img.astype(np.float64)
    if uint8:
        rows = np.clip(np.floor(rows + 0.5), 0, 255)  # floor(x + .5) = half away for x >= 0
    out = rows @ Mw.T
    if uint8:
        out = np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)
    return out


@pytest.mark.parametrize("s", [1 / 2, 1 / 3, 1 / 4, 0.7, 1.0, 1.5, 2, 3, 4])
@pytest.mark.parametrize("shape", [(7, 5), (12, 9), (1, 6), (3, 3)])
def test_imresize_matches_loop_spec(rng, s, shape):
    img = rng.uniform(-1, 2, shape)
    assert_close(imresize(img, s), imresize_loops(img, s), rtol=0, atol=1e-12, what=f"imresize x{s}")


@given(st.integers(1, 9), st.integers(1, 40), st.integers(1, 4), st.integers(0, 1),
       st.sampled_from([1 / 3, 0.5, 0.7, 1.0, 1.5, 3.0]), st.sampled_from([np.float64, np.float32, np.uint8]))
def test_resize_pass_matches_its_numpy_twin(h, w, c, axis, s, dtype):
    """The compiled pass == the NumPy pass, bit for bit, for both loop orders
    (short lines: a width pass of few channels; long lines: a height pass)."""
    from espcn_ref.data.resize import resize_axis, resize_axis_reference, resize_weights

    g = np.random.default_rng(h * 1000 + w * 10 + c)
    img = (g.integers(0, 256, (h, w, c)) if dtype == np.uint8 else g.uniform(-1, 2, (h, w, c))).astype(dtype)
    n_in = img.shape[axis]
    weights, indices = resize_weights(n_in, max(1, int(np.ceil(s * n_in))), s)
    out = resize_axis(img, axis, weights, indices)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, resize_axis_reference(img, axis, weights, indices))


@pytest.mark.parametrize("axis, c", [(0, 2), (1, 2), (1, 24)])
def test_resize_pass_both_loop_orders_on_a_frame(rng, axis, c):
    """A 90 x 160 frame x3: the height pass has lines of 160 c values
    (_resize_lines), the width pass of c (_resize_columns below
    RESIZE_LINE_MIN, _resize_lines from it)."""
    from espcn_ref.data.resize import resize_axis, resize_axis_reference, resize_weights

    img = rng.uniform(0, 255, (90, 160, c))
    weights, indices = resize_weights(img.shape[axis], 3 * img.shape[axis], 3.0)
    np.testing.assert_array_equal(resize_axis(img, axis, weights, indices),
                                  resize_axis_reference(img, axis, weights, indices))


def test_imresize_uint8_rounds_after_each_pass(rng):
    img = rng.integers(0, 256, (11, 13), dtype=np.uint8)
    for s in (1 / 3, 1 / 2, 2, 3):
        out = imresize(img, s)
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, imresize_loops(img, s, uint8=True), err_msg=f"x{s}")
    # negative control: rounding only once at the end is a different function
    once = np.clip(np.floor(imresize_loops(img, 3) + 0.5), 0, 255)
    assert np.any(once != imresize(img, 3))


def test_imresize_upscale_phase_weights(rng):
    """x2: output x = 2k+1 (1-based) sits at u = k + 0.75: Keys at 1.75, 0.75, 0.25, 1.25."""
    w = np.array([keys(1.75), keys(0.75), keys(0.25), keys(1.25)])
    np.testing.assert_array_equal(w, [-0.0234375, 0.2265625, 0.8671875, -0.0703125])
    v = rng.standard_normal(10)
    out = imresize(v[None, :], 2)  # (2, 20); height 1 -> 2 replicates the row
    assert out.shape == (2, 20)
    assert_close(out[0], out[1], rtol=0, atol=1e-15, what="replicated row")
    for k in range(2, 8):  # interior: inputs k-1 .. k+2 (1-based) all in range
        assert out[0, 2 * k] == pytest.approx(w @ v[k - 2 : k + 2], abs=1e-14)
        # the other phase (u = k + 1.25) uses the mirrored weights
        assert out[0, 2 * k + 1] == pytest.approx(w[::-1] @ v[k - 1 : k + 3], abs=1e-14)


def test_imresize_downscale_half_weights(rng):
    """x1/2: kernel 0.5 cubic(0.5 d), 8 taps; output x sits at u = 2x - 0.5."""
    w = np.array([-0.0234375, -0.0703125, 0.2265625, 0.8671875,
                  0.8671875, 0.2265625, -0.0703125, -0.0234375]) / 2
    v = rng.standard_normal(16)
    out = imresize(v[None, :], 0.5)  # (1, 8)
    for x in range(3, 7):  # 1-based; inputs 2x-4 .. 2x+3 all in range
        assert out[0, x - 1] == pytest.approx(w @ v[2 * x - 5 : 2 * x + 3], abs=1e-14)


@pytest.mark.parametrize("s", [1 / 4, 1 / 3, 0.5, 0.8, 1.3, 2, 3])
def test_imresize_constant_stays_constant(s):
    out = imresize(np.ones((9, 7)), s)
    assert_close(out, np.ones_like(out), rtol=0, atol=1e-14, what="ones")
    out8 = imresize(np.full((9, 7, 3), 200, np.uint8), s)
    assert np.all(out8 == 200)


def test_imresize_output_size_is_ceil():
    assert imresize(np.zeros((7, 5)), 1 / 3).shape == (3, 2)
    assert imresize(np.zeros((7, 5, 3)), 0.5).shape == (4, 3, 3)
    assert imresize(np.zeros((7, 5)), 1.5).shape == (11, 8)
    for r in (2, 3, 4):  # modcropped sizes: (n r) * (1 / r) must not spill over n in float
        for n in (49, 85, 127, 171, 255):
            assert imresize(np.zeros((n * r, 1)), 1 / r).shape == (n, 1)
    assert imresize(np.zeros((7, 5)), output_shape=(3, 10)).shape == (3, 10)


def test_imresize_dtypes_and_channels(rng):
    img = rng.uniform(0, 1, (8, 6, 3))
    out = imresize(img, 1 / 2)
    for c in range(3):
        assert_close(out[..., c], imresize(img[..., c], 1 / 2), what=f"channel {c}")
    out32 = imresize(img.astype(np.float32), 3)
    assert out32.dtype == np.float32
    assert_close(out32, imresize(img.astype(np.float32).astype(np.float64), 3), rtol=0, atol=1e-6)


def test_imresize_output_shape_order():
    """Per-axis scales: the smaller scale goes first (MATLAB sorts the scales)."""
    img = np.random.default_rng(3).integers(0, 256, (9, 8), dtype=np.uint8)
    out = imresize(img, output_shape=(18, 4))  # width shrinks first
    cols = np.clip(np.floor(img @ resize_matrix_loops(8, 4, 0.5).T + 0.5), 0, 255)
    expected = np.clip(np.floor(resize_matrix_loops(9, 18, 2) @ cols + 0.5), 0, 255)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("kwargs, err, words", [
    (dict(scale=0), ValueError, "scale must be a finite number > 0, got 0"),
    (dict(scale=-2), ValueError, "scale must be a finite number > 0, got -2"),
    (dict(scale=np.nan), ValueError, "scale must be a finite number > 0, got nan"),
    (dict(), ValueError, "exactly one of scale and output_shape"),
    (dict(scale=2, output_shape=(3, 3)), ValueError, "exactly one of scale and output_shape"),
    (dict(scale="2"), TypeError, "scale must be a real number"),
    (dict(output_shape=(0, 3)), ValueError, r"output_shape\[0\] must be >= 1"),
])
def test_imresize_bad_arguments(kwargs, err, words):
    with pytest.raises(err, match=words):
        imresize(np.zeros((4, 4)), **kwargs)


def test_imresize_bad_image():
    with pytest.raises(TypeError, match="img"):
        imresize(np.zeros((4, 4), dtype=np.int64), 2)
    with pytest.raises(ValueError, match="img must have shape"):
        imresize(np.zeros((1, 4, 4, 1)), 2)


def test_bicubic_upscale(rng):
    lr = rng.uniform(0, 1, (5, 4))
    assert_close(bicubic_upscale(lr, 3), imresize_loops(lr, 3), rtol=0, atol=1e-12)
    with pytest.raises(TypeError, match="r must be an integer"):
        bicubic_upscale(lr, 2.5)


# --- degradation and pairs -----------------------------------------------------


@pytest.mark.parametrize("r", [1, 2, 3, 4])
def test_gaussian_degrade_sigma0_is_centred_decimation(rng, r):
    img = rng.uniform(0, 1, (4 * r + r // 2, 3 * r, 2))  # a remainder of r // 2 rows
    o = (r - 1) // 2
    np.testing.assert_array_equal(gaussian_degrade(img, r, sigma=0), img[o::r, o::r][:4])


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.5])
def test_gaussian_degrade_matches_scipy(rng, sigma):
    from scipy.ndimage import gaussian_filter

    img = rng.uniform(0, 1, (15, 12))
    blurred = gaussian_filter(img, sigma, mode="nearest", truncate=4.0)  # replicate borders
    assert_close(gaussian_degrade(img, 3, sigma), blurred[1::3, 1::3], what="blur+decimate")


def test_gaussian_degrade_default_sigma_and_constant():
    out = gaussian_degrade(np.full((12, 9), 0.3), 3)
    assert out.shape == (4, 3)
    assert_close(out, np.full((4, 3), 0.3), atol=1e-15)
    img = np.random.default_rng(0).uniform(size=(12, 12))
    assert_close(gaussian_degrade(img, 3), gaussian_degrade(img, 3, sigma=1.0), what="default sigma")
    with pytest.raises(ValueError, match="sigma"):
        gaussian_degrade(img, 3, sigma=-1)


@pytest.mark.parametrize("r", [2, 3, 4])
def test_make_lr_hr_pair(rng, r):
    y = rng.integers(0, 256, (4 * r + 1, 5 * r + 1), dtype=np.uint8)
    lr, hr = make_lr_hr_pair(y, r)
    assert lr.dtype == hr.dtype == np.float32
    assert hr.shape == (4 * r, 5 * r) and lr.shape == (4, 5)
    np.testing.assert_array_equal(hr, (y[: 4 * r, : 5 * r] / 255.0).astype(np.float32))
    expected = imresize_loops(y[: 4 * r, : 5 * r] / 255.0, 1 / r)  # float, not rounded
    assert_close(lr, expected, rtol=0, atol=1e-7, what="LR")
    lr_g, hr_g = make_lr_hr_pair(y, r, degradation="gaussian", sigma=0.0)
    np.testing.assert_array_equal(lr_g, hr_g[(r - 1) // 2 :: r, (r - 1) // 2 :: r])
    with pytest.raises(ValueError, match="degradation"):
        make_lr_hr_pair(y, r, degradation="nearest")
    with pytest.raises(ValueError, match="y_uint8_hr"):
        make_lr_hr_pair(y.astype(np.float64), r)


# --- training sub-images ---------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), r=st.integers(1, 4),
       size=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_patches_tile_the_cropped_hr_exactly_once(h, w, r, size, seed):
    g = np.random.default_rng(seed)
    lr, hr = g.uniform(size=(h, w)), g.uniform(size=(h * r, w * r))
    lr_p, hr_p = extract_patches(lr, hr, r, size=size)
    origins = patch_origins(h, w, size)
    ny, nx = h // size, w // size
    assert lr_p.shape == (ny * nx, 1, size, size) and hr_p.shape == (ny * nx, 1, size * r, size * r)
    count = np.zeros(hr.shape, int)
    S = size * r
    for (i, j), lp, hp in zip(origins, lr_p, hr_p):
        np.testing.assert_array_equal(lp[0], lr[i : i + size, j : j + size].astype(np.float32))
        np.testing.assert_array_equal(hp[0], hr[i * r : i * r + S, j * r : j * r + S].astype(np.float32))
        count[i * r : i * r + S, j * r : j * r + S] += 1
    assert np.all(count[: ny * S, : nx * S] == 1), "every HR pixel of the cropped image exactly once"
    assert count.sum() == ny * nx * S * S, "nothing outside the crop"


def test_overlapping_stride_gives_more_patches(rng):
    lr, hr = rng.uniform(size=(40, 35)), rng.uniform(size=(120, 105))
    base, _ = extract_patches(lr, hr, 3)  # 17 x 17, stride 17
    assert base.shape == (2 * 2, 1, 17, 17)
    over, over_hr = extract_patches(lr, hr, 3, stride=7)
    n = ((40 - 17) // 7 + 1) * ((35 - 17) // 7 + 1)
    assert over.shape == (n, 1, 17, 17) and over_hr.shape == (n, 1, 51, 51) and n > 4
    np.testing.assert_array_equal(over_hr[1, 0], hr[:51, 21:72].astype(np.float32))


def test_too_small_image_gives_no_patches():
    lr_p, hr_p = extract_patches(np.zeros((10, 30)), np.zeros((20, 60)), 2)
    assert lr_p.shape == (0, 1, 17, 17) and hr_p.shape == (0, 1, 34, 34)


def test_augmentation_is_seeded_and_consistent(rng):
    r = 3
    hr = rng.uniform(size=(17 * r * 3, 17 * r * 2))
    lr = gaussian_degrade(hr, r, sigma=0)  # centred decimation: commutes with flips / rotations
    plain_lr, plain_hr = extract_patches(lr, hr, r)
    a_lr, a_hr = extract_patches(lr, hr, r, rng=np.random.default_rng(7), augment=True)
    b_lr, b_hr = extract_patches(lr, hr, r, rng=np.random.default_rng(7), augment=True)
    np.testing.assert_array_equal(a_lr, b_lr)
    np.testing.assert_array_equal(a_hr, b_hr)
    for p in range(len(a_lr)):
        np.testing.assert_array_equal(a_hr[p, 0, 1::r, 1::r], a_lr[p, 0])  # LR still matches HR
        ks = [k for k in range(8) if np.array_equal(dihedral(plain_hr[p, 0], k), a_hr[p, 0])]
        assert len(ks) == 1 and np.array_equal(dihedral(plain_lr[p, 0], ks[0]), a_lr[p, 0])
    assert not np.array_equal(a_hr, plain_hr)  # seed 7 transforms at least one of the 6


def test_random_dihedral_draws_all_eight_and_pairs_match(rng):
    """Online augmentation: every pair gets one transform, the same for LR and HR; all 8 occur."""
    r, P = 2, 64
    lr = rng.uniform(size=(P, 1, 5, 5)).astype(np.float32)
    hr = np.repeat(np.repeat(lr, r, axis=2), r, axis=3)  # HR = LR upsampled: transforms commute
    a_lr, a_hr = random_dihedral(lr.copy(), hr.copy(), np.random.default_rng(3))
    seen = set()
    for p in range(P):
        ks = [k for k in range(8) if np.array_equal(dihedral(lr[p, 0], k), a_lr[p, 0])]
        assert len(ks) == 1  # random 5x5 patches: the 8 transforms differ
        np.testing.assert_array_equal(dihedral(hr[p, 0], ks[0]), a_hr[p, 0])
        seen.add(ks[0])
    assert seen == set(range(8))
    b_lr, _ = random_dihedral(lr.copy(), hr.copy(), np.random.default_rng(3))
    np.testing.assert_array_equal(a_lr, b_lr)
    with pytest.raises(ValueError, match="square"):
        random_dihedral(lr[..., :4].copy(), hr[..., :8].copy(), rng)
    with pytest.raises(ValueError, match="same P"):
        random_dihedral(lr, hr[:3], rng)
    with pytest.raises(TypeError, match="Generator"):
        random_dihedral(lr, hr, 3)


def test_extract_patches_bad_input(rng):
    lr, hr = rng.uniform(size=(20, 20)), rng.uniform(size=(60, 60))
    with pytest.raises(ValueError, match="hr must have shape"):
        extract_patches(lr, hr[:-1], 3)
    with pytest.raises(ValueError, match="rng"):
        extract_patches(lr, hr, 3, augment=True)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        extract_patches(lr, hr, 3, rng=np.random.RandomState(0), augment=True)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        extract_patches(lr, hr, 3, stride=0)
    with pytest.raises(ValueError, match="lr must have 2 dimensions"):
        extract_patches(lr[None], hr, 3)


# --- image files -----------------------------------------------------------------


def write_png16(path, a):
    """A minimal 16-bit PNG writer (filter 0), since Pillow cannot write 16-bit RGB."""
    H, W, C = a.shape
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
    raw = b"".join(b"\x00" + a[i].astype(">u2").tobytes() for i in range(H))
    ihdr = struct.pack(">IIBBBBB", W, H, 16, {1: 0, 3: 2}[C], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif"])
def test_lossless_round_trip(tmp_path, rng, ext):
    for shape in ((5, 7), (5, 7, 3)):
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        path = tmp_path / f"a{len(shape)}{ext}"
        save_image(path, img)
        back = load_image(path)
        assert back.dtype == np.uint8
        np.testing.assert_array_equal(back, img)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"a2{ext}", f"a3{ext}"]  # no temp files


def test_jpeg_reads_back_close(tmp_path):
    img = np.tile(np.linspace(0, 255, 32).astype(np.uint8)[None, :, None], (16, 1, 3))
    save_image(tmp_path / "a.JPG", img)
    back = load_image(tmp_path / "a.JPG")
    assert back.shape == img.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - img).mean() < 3


def test_rgba_and_gray_alpha_drop_alpha(tmp_path, rng):
    rgba = rng.integers(0, 256, (4, 5, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    iio.imwrite(tmp_path / "opaque.png", rgba)
    np.testing.assert_array_equal(load_image(tmp_path / "opaque.png"), rgba[..., :3])
    rgba[0, 0, 3] = 10
    iio.imwrite(tmp_path / "transparent.png", rgba)
    with pytest.warns(UserWarning, match="alpha channel has transparent pixels"):
        np.testing.assert_array_equal(load_image(tmp_path / "transparent.png"), rgba[..., :3])
    from PIL import Image

    la = np.stack([rgba[..., 0], np.full((4, 5), 255, np.uint8)], axis=-1)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(load_image(tmp_path / "la.png"), rgba[..., 0])


@pytest.mark.filterwarnings("ignore:The legacy `DICOM` plugin:DeprecationWarning")  # imageio tries every plugin
def test_cmyk_exif_rotation_multipage_and_non_images(tmp_path, rng):
    """CMYK JPEGs become RGB (not RGBA with K dropped as alpha); EXIF orientation
    is applied; a multi-page TIFF gives its first page; a text file named .png
    gives one clear line."""
    from PIL import Image

    img = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(img).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    want = np.asarray(Image.open(tmp_path / "cmyk.jpg").convert("RGB"))
    np.testing.assert_array_equal(load_image(tmp_path / "cmyk.jpg"), want)
    from PIL import ImageOps

    for mode in ("RGB", "P", "L"):  # P: imageio expands the palette; the flips must not touch channels
        for tag in range(1, 9):
            im = Image.fromarray(img).convert(mode)
            exif = im.getexif()
            exif[0x0112] = tag
            im.save(tmp_path / "rot.png", exif=exif)
            want = ImageOps.exif_transpose(Image.open(tmp_path / "rot.png")).convert("RGB" if mode == "P" else mode)
            np.testing.assert_array_equal(load_image(tmp_path / "rot.png"), np.asarray(want), err_msg=f"{mode} {tag}")
    grey = np.asarray(Image.fromarray(img).convert("L"))  # tag 8 by hand: shown turned 90 degrees counter-clockwise
    np.testing.assert_array_equal(load_image(tmp_path / "rot.png"), grey.T[::-1])
    Image.fromarray(img).convert("P").save(tmp_path / "pal.tif")  # tifffile alone would return the indices
    np.testing.assert_array_equal(load_image(tmp_path / "pal.tif"), np.asarray(Image.open(tmp_path / "pal.tif").convert("RGB")))
    Image.fromarray(img).convert("CMYK").save(tmp_path / "cmyk.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "cmyk.tif"), np.asarray(Image.open(tmp_path / "cmyk.tif").convert("RGB")))
    Image.fromarray(img).save(tmp_path / "pages.tif", save_all=True, append_images=[Image.fromarray(img[::-1])])
    np.testing.assert_array_equal(load_image(tmp_path / "pages.tif"), img)
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ValueError, match=r"cannot read image .*text.png: not a valid image file") as err:
        load_image(tmp_path / "text.png")
    assert "\n" not in str(err.value)


def test_palette_and_bilevel_images(tmp_path, rng):
    from PIL import Image

    img = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    pal = Image.fromarray(img).convert("P")
    pal.save(tmp_path / "p.png")
    got = load_image(tmp_path / "p.png")
    assert got.shape == (6, 5, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.asarray(pal.convert("RGB")))
    Image.fromarray(img[..., 0] > 127).save(tmp_path / "b.png")
    np.testing.assert_array_equal(load_image(tmp_path / "b.png"), np.where(img[..., 0] > 127, 255, 0))
    # (H, W, 1) as some decoders return it
    np.testing.assert_array_equal(normalise_image(img[..., :1], "x"), img[..., 0])


def test_16_bit_png(tmp_path):
    v = np.array([0, 128, 129, 383, 384, 385, 32767, 32768, 65407, 65408, 65535], dtype=np.uint16)
    expected = np.floor(v / 257 + 0.5).astype(np.uint8)  # round(x / 257): [0 0 1 1 1 1 127 128 254 255 255]
    iio.imwrite(tmp_path / "g16.png", v[None, :])
    assert iio.imread(tmp_path / "g16.png").dtype == np.uint16
    np.testing.assert_array_equal(load_image(tmp_path / "g16.png"), expected[None, :])
    # 16-bit colour: Pillow keeps the high byte itself (documented in load_image)
    write_png16(tmp_path / "rgb16.png", np.stack([v, v, v], axis=-1)[None])
    np.testing.assert_array_equal(load_image(tmp_path / "rgb16.png")[0, :, 0], (v >> 8).astype(np.uint8))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # imageio probing legacy plugins
def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(np.random.default_rng(0).bytes(200))
    with pytest.raises(ValueError, match="corrupt.png"):
        load_image(bad)
    good = tmp_path / "good.png"
    save_image(good, np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    trunc = tmp_path / "truncated.png"
    trunc.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated.png"):
        load_image(trunc)
    with pytest.raises(ValueError, match="not a regular file"):
        load_image(tmp_path)


def test_save_errors_leave_nothing_behind(tmp_path, monkeypatch):
    img = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="unsupported image extension"):
        save_image(tmp_path / "a.xyz", img)
    with pytest.raises(TypeError, match="uint8"):
        save_image(tmp_path / "a.png", img.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        save_image(tmp_path / "a.png", np.zeros((4, 4, 2), np.uint8))
    assert list(tmp_path.iterdir()) == []
    target = tmp_path / "keep.png"
    save_image(target, img)
    before = target.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_image(target, np.full((4, 4), 9, np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]  # temp file removed
    assert target.read_bytes() == before  # old file intact


def test_saved_file_mode(tmp_path):
    save_image(tmp_path / "m.png", np.zeros((2, 2), np.uint8))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.png").stat().st_mode & 0o777 == 0o666 & ~umask


# --- datasets ----------------------------------------------------------------------


def test_sample_images():
    imgs = sample_images()
    assert tuple(imgs) == data.DEFAULT_SAMPLES
    for name, img in imgs.items():
        assert img.dtype == np.uint8 and (img.ndim == 2 or img.shape[2] == 3), name
        assert min(img.shape[:2]) >= 256, name
    assert list(sample_images(["moon"])) == ["moon"]
    with pytest.raises(ValueError, match="unknown sample image"):
        sample_images(["lena"])


def test_list_images(tmp_path):
    for name in ("b.PNG", "a.bmp", "c.jpeg", "d.TIF", "notes.txt", "e.tiff", "f.JPG"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.bmp", "b.PNG", "c.jpeg", "d.TIF", "e.tiff", "f.JPG"]
    with pytest.raises(FileNotFoundError, match="nope"):
        list_images(tmp_path / "nope")
    with pytest.raises(NotADirectoryError):
        list_images(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        list_images(tmp_path / "empty")


def test_find_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("ESPCN_DATA", raising=False)
    root = tmp_path / "shared" / "data"
    root.mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    assert find_data_dir(root) == root
    with pytest.raises(FileNotFoundError, match=r"data directory \(--data\) not found: .*missing"):
        find_data_dir(tmp_path / "missing")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"\(--data\) .*a_file is a file, not a folder"):
        find_data_dir(tmp_path / "a_file")
    monkeypatch.chdir(tmp_path / "repo")
    assert find_data_dir() == root.resolve()  # ../shared/data
    monkeypatch.chdir(tmp_path)
    assert find_data_dir() is None  # tmp_path/../shared/data does not exist
    monkeypatch.setenv("ESPCN_DATA", str(root))
    assert find_data_dir() == root
    monkeypatch.setenv("ESPCN_DATA", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match="ESPCN_DATA"):
        find_data_dir()


def test_resize_tables_are_checked_and_bounded():
    from espcn_ref.data.resize import MAX_TABLE, resize_weights

    for args, err, words in [((0, 3, 2.0), ValueError, "in_len must be >= 1"),
                             ((5, 3, -1.0), ValueError, "scale must be a finite number > 0"),
                             ((5, 3, "2"), TypeError, "scale must be a real number")]:
        with pytest.raises(err, match=words):
            resize_weights(*args)
    img = np.zeros((10, 12))
    for scale in (1e-12, 1e-310):  # a 1x1 output, but a kernel 4 / scale pixels wide
        with pytest.raises(ValueError, match=re.escape(f"at most {MAX_TABLE:.0e}")):
            imresize(img, scale)
