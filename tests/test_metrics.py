"""espcn_ref.metrics: PSNR / SSIM against scikit-image, the protocol, published bicubic Set5."""

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_close
from hypothesis import given, strategies as st
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from espcn_ref.data import (
    bicubic_upscale,
    list_images,
    load_image,
    make_lr_hr_pair,
    rgb_to_y_uint8,
)
from espcn_ref.metrics import evaluate_pair, gaussian_window1d, psnr, ssim, ssim_map, to_uint8


def noisy_pair(rng, shape=(40, 33), noise=12.0):
    """A smooth uint8 image and a noisy copy of it."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    hr = np.clip(128 + 80 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + rng.normal(0, 10, shape), 0, 255)
    sr = np.clip(hr + rng.normal(0, noise, shape), 0, 255)
    return hr.round().astype(np.uint8), sr.round().astype(np.uint8)


# --- PSNR ----------------------------------------------------------------------


@pytest.mark.parametrize("shave", [0, 1, 3, 4])
def test_psnr_matches_skimage(rng, shave):
    hr, sr = noisy_pair(rng)
    s = slice(shave, -shave or None)
    ref = peak_signal_noise_ratio(hr[s, s], sr[s, s], data_range=255)
    assert psnr(hr, sr, shave=shave) == pytest.approx(ref, abs=1e-10)


def test_psnr_known_values():
    hr = np.zeros((6, 6), np.uint8)
    sr = hr.copy()
    assert psnr(hr, sr) == float("inf")  # identical
    sr[:] = 1  # MSE = 1
    assert psnr(hr, sr) == pytest.approx(10 * np.log10(255.0**2), abs=1e-12)  # 48.1308...
    sr[0, :] = 100  # only the border row is wrong: shaving 1 removes it
    assert psnr(hr, sr, shave=1) == pytest.approx(48.1308036086791, abs=1e-9)
    assert psnr(hr.astype(np.float64), sr.astype(np.float64), shave=1) == psnr(hr, sr, shave=1)
    assert psnr(hr, np.full((6, 6), 2, np.uint8), peak=1.0) == pytest.approx(10 * np.log10(1 / 4))


def test_psnr_no_uint8_wraparound():
    hr = np.zeros((4, 4), np.uint8)
    sr = np.full((4, 4), 255, np.uint8)
    assert psnr(hr, sr) == pytest.approx(0.0, abs=1e-12)  # 0 - 255 must not wrap to 1


def test_psnr_bad_input():
    a = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, a[:7])
    with pytest.raises(ValueError, match="shave = 4 leaves 0x0"):
        psnr(a, a, shave=4)
    with pytest.raises(ValueError, match="shave must be >= 0"):
        psnr(a, a, shave=-1)


# --- SSIM -----------------------------------------------------------------------


def test_gaussian_window_is_fspecial():
    g = gaussian_window1d()
    t = np.arange(-5, 6)
    w2 = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * 1.5**2))
    assert_close(np.outer(g, g), w2 / w2.sum(), rtol=0, atol=1e-17, what="fspecial('gaussian', 11, 1.5)")


@pytest.mark.parametrize("shave", [0, 2, 3])
@pytest.mark.parametrize("noise", [3.0, 25.0])
def test_ssim_matches_skimage(rng, shave, noise):
    hr, sr = noisy_pair(rng, noise=noise)
    s = slice(shave, -shave or None)
    # skimage filters with reflect padding, then averages the map without a
    # (win - 1) // 2 = 5 pixel border: exactly the 'valid' map.
    ref = structural_similarity(hr[s, s].astype(np.float64), sr[s, s].astype(np.float64),
                                gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255)
    assert ssim(hr, sr, shave=shave) == pytest.approx(ref, abs=1e-12)


def test_ssim_map_is_skimage_full_map_without_border(rng):
    hr, sr = noisy_pair(rng, shape=(25, 30))
    _, full = structural_similarity(hr.astype(np.float64), sr.astype(np.float64), full=True,
                                    gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, data_range=255)
    ours = ssim_map(hr, sr)
    assert ours.shape == (25 - 10, 30 - 10)
    assert_close(ours, full[5:-5, 5:-5], rtol=0, atol=1e-12, what="SSIM map")
    assert abs(full.mean() - ours.mean()) > 1e-6  # the reflect-padded border must be excluded


def test_ssim_known_values(rng):
    hr, _ = noisy_pair(rng)
    assert ssim(hr, hr) == pytest.approx(1.0, abs=1e-15)
    noise = rng.normal(0, 1, hr.shape)
    scores = [ssim(hr, np.clip(hr + k * noise, 0, 255)) for k in (1, 5, 20)]
    assert 1 > scores[0] > scores[1] > scores[2] > 0, scores
    c = np.full((11, 11), 100, np.uint8)
    # one window, constant images: luminance term only
    C1 = (0.01 * 255) ** 2
    assert ssim(c, c + 10) == pytest.approx((2 * 100 * 110 + C1) / (100**2 + 110**2 + C1), abs=1e-12)


def test_ssim_bad_input():
    a = np.zeros((20, 20), np.uint8)
    with pytest.raises(ValueError, match="need at least 11x11"):
        ssim(a, a, shave=5)
    with pytest.raises(ValueError, match="single-channel"):
        ssim(np.zeros((20, 20, 3)), np.zeros((20, 20, 3)))


# --- protocol helpers ----------------------------------------------------------


@given(st.lists(st.floats(0, 1) | st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([np.inf, -np.inf, -0.0, 0.5 / 255, 127.5 / 255]),
                min_size=1, max_size=60))
def test_to_uint8_matches_its_numpy_twin(values):
    from espcn_ref.metrics import scaled_to_uint8, to_uint8_reference

    x = np.array(values)
    np.testing.assert_array_equal(to_uint8(x), to_uint8_reference(x))
    x255 = 255 * x
    np.testing.assert_array_equal(scaled_to_uint8(x255, 255.0), to_uint8_reference(x255 / 255.0))
    x2 = x[: len(x) // 2 * 2].reshape(2, -1)[:, ::-1]  # 2-D strided, empty when len(x) = 1
    np.testing.assert_array_equal(to_uint8(x2), to_uint8_reference(x2))
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(to_uint8(x32), to_uint8_reference(x32))


def test_to_uint8_of_a_scalar_is_a_scalar_and_nan_raises():
    from espcn_ref.metrics import scaled_to_uint8

    for v, want in ((0.5, 128), (np.float32(0.2), 51), (np.array(1.5), 255)):
        got = to_uint8(v)
        assert got == want and got.dtype == np.uint8 and np.ndim(got) == 0
    assert scaled_to_uint8(127.5, 255.0) == 128 and np.ndim(scaled_to_uint8(127.5, 255.0)) == 0
    with pytest.raises(ValueError, match="NaN"):
        scaled_to_uint8(np.array([[3.0, np.nan]]), 255.0)
    for bad in (0.0, -255.0, np.inf, np.nan, True, "255"):
        with pytest.raises(ValueError, match="divisor must be a finite number > 0"):
            scaled_to_uint8(np.array([1.0]), bad)


def test_to_uint8_clips_and_rounds_half_away():
    x = np.array([-0.2, 0.0, 1.0, 1.7, 0.5])
    np.testing.assert_array_equal(to_uint8(x), [0, 0, 255, 255, 128])
    halves = np.array([k + 0.5 for k in range(0, 255, 2)]) / 255  # even k: numpy would round down
    exact = 255 * halves == np.floor(255 * halves) + 0.5
    assert exact.sum() > 10
    got = to_uint8(halves[exact])
    np.testing.assert_array_equal(got, np.floor(255 * halves[exact]) + 1)
    assert np.any(got != np.round(255 * halves[exact]))  # numpy's half-to-even differs
    assert to_uint8(np.zeros((2, 3))).dtype == np.uint8
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(np.array([0.1, np.nan]))


def test_evaluate_pair(rng):
    r = 3
    img = rng.integers(0, 256, (31, 29, 3), dtype=np.uint8)
    y = rgb_to_y_uint8(img)[:30, :27]  # modcropped to a multiple of r
    assert evaluate_pair(img, y, r).psnr == float("inf")
    assert evaluate_pair(img, y / 255.0, r) == evaluate_pair(img, y, r)  # float [0, 1] path
    sr = y.copy()
    sr[:r] = 0  # errors only inside the shaved border
    assert evaluate_pair(img, sr, r).psnr == float("inf")
    sr[r, r] = 0
    scores = evaluate_pair(img, sr, r)
    assert scores.psnr == pytest.approx(psnr(y, sr, shave=r)) and scores.ssim == ssim(y, sr, shave=r)
    assert scores.psnr < 60
    with pytest.raises(ValueError, match="same shape"):
        evaluate_pair(img, y[:-1], r)


# --- the acceptance test: bicubic Set5 as published -------------------------------

DATA = Path(os.environ.get("ESPCN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

# Bicubic baseline on Set5 as published (SRCNN, ESPCN, VDSR tables): PSNR (dB), SSIM.
PUBLISHED_SET5 = {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)}


@pytest.mark.skipif(not (DATA / "Set5").is_dir(), reason=f"no Set5 in {DATA}")
@pytest.mark.parametrize("r", [2, 3, 4])
def test_bicubic_set5_matches_published(r):
    scores = []
    for path in list_images(DATA / "Set5"):
        img = load_image(path)
        lr, _ = make_lr_hr_pair(rgb_to_y_uint8(img), r)
        scores.append(evaluate_pair(img, bicubic_upscale(lr, r), r))
    mean_psnr = np.mean([s.psnr for s in scores])  # per image, then averaged
    mean_ssim = np.mean([s.ssim for s in scores])
    want_psnr, want_ssim = PUBLISHED_SET5[r]
    assert len(scores) == 5
    assert round(mean_psnr, 2) == want_psnr, f"ours {mean_psnr:.4f} vs published {want_psnr}"
    assert round(mean_ssim, 4) == want_ssim, f"ours {mean_ssim:.5f} vs published {want_ssim}"


def test_mixed_scales_and_bad_peaks_are_refused():
    """A 0-255 image scored against a [0, 1] float one gives a plausible-looking
    5 dB: refused. So are a peak that is not a number > 0 and empty images."""
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (20, 20), dtype=np.uint8)
    for hr, sr, who in [(u8, u8 / 255.0, "hr holds 0-255 integers but sr looks like floats"),
                        (u8 / 255.0, u8, "sr holds 0-255 integers but hr looks like floats")]:
        for score in (psnr, ssim):
            with pytest.raises(ValueError, match=who):
                score(hr, sr)
    assert psnr(u8, u8.astype(np.float64)) == np.inf  # the same scale: fine
    assert psnr(u8, np.zeros((20, 20))) < 20  # a black float baseline is 0 on either scale: fine
    dark = np.full((20, 20), 3, np.uint8)
    assert psnr(dark, np.full((20, 20), 0.8)) == pytest.approx(10 * np.log10(255**2 / 2.2**2))  # a dark 0-255 frame
    for peak in (0, -1, np.inf, "255", True):
        with pytest.raises(ValueError, match="peak must be a finite number > 0"):
            psnr(u8, u8, peak=peak)
    with pytest.raises(ValueError, match="are empty"):
        psnr(np.zeros((5, 5, 0)), np.zeros((5, 5, 0)))
    hr = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="sr_y must be float in \\[0, 1\\] \\(or uint8\\), but its maximum is"):
        evaluate_pair(hr, rgb_to_y_uint8(hr).astype(np.float64), 2)
