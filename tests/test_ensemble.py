"""Ensembles (Sec. 3.5) and EDSR+'s geometric self-ensemble: what they average, when
the self-ensemble changes nothing, shapes and ranges, tiles, and the errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import espcn_ref.upscale as upscale
from espcn_ref.data.patches import dihedral
from espcn_ref.ensemble import Ensemble, SelfEnsemble, dihedral_inverse
from espcn_ref.metrics import to_uint8
from espcn_ref.model import ESPCN, srcnn_config

from conftest import assert_close


def _model(r, seed, dtype=np.float32, **kw):
    m = ESPCN(r, rng=np.random.default_rng(seed), **kw)
    m.params = {k: v.astype(dtype) for k, v in m.params.items()}
    return m


def _symmetrised(model):
    """Every kernel replaced by its mean over the 8 flips / rotations: W = T(W) for all T.
    (Summed in float64: in float32 the 8 terms, added in another order at each tap,
    would round differently, and the kernel would be symmetric only to 1e-8.)"""
    for name, w in model.params.items():
        if name.endswith("weight"):
            model.params[name] = (sum(dihedral(w.astype(np.float64), k) for k in range(8)) / 8).astype(w.dtype)
    return model


def _lr(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


@pytest.mark.parametrize("H, W", [(5, 5), (4, 7), (1, 6)])
def test_dihedral_inverse_undoes_each_transform(H, W):
    x = _lr((2, 1, H, W))
    for k in range(8):
        assert np.array_equal(dihedral(dihedral(x, k), dihedral_inverse(k)), x), k
    distinct = {dihedral(x, k).tobytes() + bytes(dihedral(x, k).shape) for k in range(8)}
    assert len(distinct) == (8 if min(H, W) > 1 else 4)  # one row: a vertical flip changes nothing


# -- the geometric self-ensemble is exact on a model that commutes with D4 ------------


@pytest.mark.parametrize("r, dtype, tol", [(1, np.float64, 1e-12), (2, np.float64, 1e-12), (3, np.float64, 1e-12),
                                           (4, np.float64, 1e-12), (3, np.float32, 1e-6)])
def test_self_ensemble_is_exact_on_a_symmetric_model(r, dtype, tol):
    """Kernels with W = T(W) for every flip / rotation T give 'same' convolutions with
    conv(T x) = T conv(x) (the zero padding is the same on all four sides); biases
    and tanh act per pixel. The last layer with all r^2 phases equal (ICNR) makes
    PS a nearest-neighbour upscaling, which commutes with T. So f(T x) = T f(x),
    and the mean of T^-1 f(T x) is f(x): exact up to the order of float sums."""
    m = _symmetrised(_model(r, seed=r, dtype=dtype, init="icnr"))
    x = _lr((2, 1, 6, 9), dtype=dtype)
    for k in (1, 4):  # the premise, for a rotation and a flip: f commutes with T
        assert_close(m.forward(dihedral(x, k)), dihedral(m.forward(x), k), rtol=0, atol=tol, what=f"f(T_{k} x)")
    assert_close(SelfEnsemble(m).forward(x), m.forward(x), rtol=0, atol=tol, what="self-ensemble")


def test_self_ensemble_is_exact_on_a_symmetric_srcnn():
    """SRCNN (r = 1 after bicubic): MATLAB's bicubic imresize at an integer scale
    commutes with flips and transposition too (a symmetric kernel, mirrored sample
    positions, edges clamped alike on both sides)."""
    m = ESPCN(config=srcnn_config(3, "955"), rng=np.random.default_rng(5))
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    m = _symmetrised(m)
    x = _lr((1, 1, 7, 10), dtype=np.float64)
    assert_close(SelfEnsemble(m).forward(x), m.forward(x), rtol=0, atol=1e-12, what="SRCNN self-ensemble")


@pytest.mark.parametrize("symmetric_kernels", [False, True])
def test_self_ensemble_changes_a_model_that_is_not_symmetric(symmetric_kernels):
    """Negative controls: a random model; and, at r = 3, symmetric kernels whose
    r^2 phases differ. PS puts phase (i, j) at HR offset (i, j) in each r x r block,
    and a flip sends it to (i, r - 1 - j): the phase layout must be symmetric too."""
    m = _model(3, seed=7, dtype=np.float64)
    if symmetric_kernels:
        m = _symmetrised(m)
    x = _lr((1, 1, 6, 9), dtype=np.float64)
    assert np.max(np.abs(SelfEnsemble(m).forward(x) - m.forward(x))) > 1e-3


def test_self_ensemble_is_its_definition_on_a_non_square_batch():
    m = _model(2, seed=3, dtype=np.float64)
    x = _lr((2, 1, 5, 8), dtype=np.float64)
    terms = [dihedral(m.forward(dihedral(x, k)), dihedral_inverse(k)) for k in range(8)]  # each (2, 1, 10, 16)
    assert_close(SelfEnsemble(m).forward(x), np.mean(terms, axis=0), what="1/8 sum T^-1 f(T x)")


# -- the ensemble of independently trained models (Sec. 3.5) --------------------------


def test_ensemble_of_one_model_repeated_is_that_model_bit_for_bit():
    m, x = _model(3, seed=1), _lr((2, 1, 7, 5))
    for copies in (1, 2, 3):
        assert np.array_equal(Ensemble([m] * copies).forward(x), m.forward(x)), copies


def test_ensemble_is_the_mean_of_its_members():
    a, b, srcnn = _model(3, seed=1), _model(3, seed=2), ESPCN(config=srcnn_config(3), rng=np.random.default_rng(3))
    x = _lr((1, 1, 6, 8))
    ya, yb, yc = (m.forward(x).astype(np.float64) for m in (a, b, srcnn))
    got = Ensemble([a, b]).forward(x)
    assert got.dtype == np.float32 and got.shape == (1, 1, 18, 24)
    assert_close(got, (ya + yb) / 2, rtol=0, atol=1e-7, what="mean of two")
    assert_close(Ensemble([a, b, srcnn]).forward(x), (ya + yb + yc) / 3, rtol=0, atol=1e-7, what="ESPCN and SRCNN")


def test_self_ensemble_of_an_ensemble_is_the_ensemble_of_self_ensembles():
    """Both are means, and T^-1 is linear: the two orders agree."""
    a, b = _model(2, seed=1, dtype=np.float64), _model(2, seed=2, dtype=np.float64)
    x = _lr((1, 1, 4, 7), dtype=np.float64)
    assert_close(SelfEnsemble(Ensemble([a, b])).forward(x), Ensemble([SelfEnsemble(a), SelfEnsemble(b)]).forward(x),
                 what="SE(E) vs E(SE)")


# -- shape and range ------------------------------------------------------------------

_MODELS = {r: (_model(r, seed=10 + r), _model(r, seed=20 + r, init="icnr")) for r in (1, 2, 3)}


@given(r=st.sampled_from([1, 2, 3]), H=st.integers(1, 9), W=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_shape_and_range_are_kept(r, H, W, seed):
    """On any H x W (1 x N, N x 1 and non-square included): the same shape as a member's,
    every pixel between the smallest and largest of the averaged terms, and after the
    protocol's clip and rounding a uint8 image in [0, 255]."""
    a, b = _MODELS[r]
    x = np.random.default_rng(seed).random((1, 1, H, W)).astype(np.float32) * 1.2 - 0.1  # overshoots, like bicubic LR
    tol = 1e-6
    for method, terms in [(Ensemble([a, b]), [a.forward(x), b.forward(x)]),
                          (SelfEnsemble(a), [dihedral(a.forward(dihedral(x, k)), dihedral_inverse(k)) for k in range(8)])]:
        y = method.forward(x)
        assert y.shape == a.forward(x).shape == (1, 1, r * H, r * W) and y.dtype == np.float32
        assert np.all(np.min(terms, axis=0) - tol <= y) and np.all(y <= np.max(terms, axis=0) + tol)
        sr = to_uint8(upscale.upscale_y(method, x[0, 0], r))
        assert sr.dtype == np.uint8 and sr.shape == (r * H, r * W)  # uint8: within [0, 255] by its type


# -- large frames: tiles ----------------------------------------------------------------


def test_halo_of_an_ensemble_is_its_largest_members():
    espcn, srcnn = ESPCN(2), ESPCN(config=srcnn_config(2, "955"))
    assert (upscale.receptive_halo(espcn), upscale.receptive_halo(srcnn)) == (4, 6)
    assert upscale.receptive_halo(Ensemble([espcn, srcnn])) == 6
    assert upscale.receptive_halo(SelfEnsemble(Ensemble([espcn, espcn]))) == 4


@pytest.mark.parametrize("kind", ["ensemble", "self-ensemble"])
def test_large_frames_take_the_tiled_path_with_the_same_result(kind, monkeypatch):
    """Each tile runs the whole ensemble on the tile grown by the largest halo.
    Negative control: with the smaller member's halo the seams show."""
    a, b = ESPCN(2, rng=np.random.default_rng(1)), ESPCN(config=srcnn_config(2), rng=np.random.default_rng(2))
    method = Ensemble([a, b]) if kind == "ensemble" else SelfEnsemble(b)
    lr = np.random.default_rng(3).random((19, 23))
    whole = upscale.upscale_y(method, lr, 2)
    real, tiles = upscale.forward_tiled, []
    monkeypatch.setattr(upscale, "TILE_ABOVE", 19 * 23 - 1)
    monkeypatch.setattr(upscale, "forward_tiled", lambda m, x, tile: tiles.append(tile) or real(m, x, tile=8))
    tiled = upscale.upscale_y(method, lr, 2)
    assert tiles == [512] and tiled.shape == whole.shape == (38, 46)
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-6)
    assert upscale.receptive_halo(b) == 5
    monkeypatch.setattr(upscale, "receptive_halo", lambda m: 4)  # a's halo, not b's 5
    assert np.max(np.abs(upscale.upscale_y(method, lr, 2) - whole)) > 1e-4


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("models, error, words", [
    ([], ValueError, "needs at least one model"),
    (["bicubic"], TypeError, "ensemble member 1 is 'bicubic'"),
    ([ESPCN(3), 3], TypeError, "ensemble member 2 must be an ESPCN, Ensemble or SelfEnsemble, got int"),
    ([ESPCN(3), ESPCN(2)], ValueError, "members differ in scale: member 1 is x3, member 2 x2"),
    ([ESPCN(2), ESPCN(2, channels=3)], ValueError, "members differ in channels: member 1 takes 1, member 2 3"),
    (ESPCN(2), TypeError, r"Ensemble takes a list of models, got one ESPCN"),
])
def test_ensemble_errors_are_one_line(models, error, words):
    with pytest.raises(error, match=words) as e:
        Ensemble(models)
    assert "\n" not in str(e.value)


def test_self_ensemble_refuses_what_is_not_a_model_and_checks_input_like_its_model():
    with pytest.raises(TypeError, match="the self-ensemble's model is 'bicubic'"):
        SelfEnsemble("bicubic")
    with pytest.raises(ValueError, match="x must have 1 channel"):
        SelfEnsemble(ESPCN(2)).forward(np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        Ensemble([ESPCN(2)]).forward(np.zeros((1, 1, 0, 4), np.float32))
