"""The direct kernel for few output channels against its NumPy twin
(conv2d's use of it: tests/test_conv.py)."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import assert_close
from espcn_ref.ops.conv_direct import direct_taps, direct_taps_reference


@st.composite
def taps_case(draw):
    """Any number of taps and outputs (also not multiples of 3), rows of any
    length, blocks smaller and larger than a row."""
    N, C_in, C_out, K = (draw(st.integers(1, n)) for n in (2, 4, 7, 11))
    L, extra = draw(st.integers(1, 90)), draw(st.integers(0, 12))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    xp = g.standard_normal((N, C_in, L + extra))
    chan = g.integers(0, C_in, K)
    offs = g.integers(0, extra + 1, K)
    w = g.standard_normal((C_out, K))
    y0 = g.standard_normal((N, C_out, L))  # the kernel accumulates onto y
    return xp, chan, offs, w, y0, draw(st.integers(1, 100))


@given(taps_case(), st.booleans())
def test_kernel_matches_reference(case, float32):
    xp, chan, offs, w, y0, block = case
    if float32:
        xp, w, y0 = (a.astype(np.float32) for a in (xp, w, y0))
    ours, ref = y0.copy(), y0.copy()
    direct_taps(xp, chan, offs, w, ours, block)
    direct_taps_reference(xp, chan, offs, w, ref)
    assert ours.dtype == xp.dtype
    tol = {"rtol": 2e-5, "atol": 2e-5} if float32 else {"rtol": 1e-12, "atol": 1e-12}  # taps summed 3 at a time
    assert_close(ours, ref, what="direct_taps", **tol)


@given(taps_case())
def test_blocks_do_not_change_the_bits(case):
    """Every output sums its taps in the same order whatever the block (or thread) it falls in."""
    xp, chan, offs, w, y0, block = case
    a, b = y0.astype(np.float32), y0.astype(np.float32)
    direct_taps(xp.astype(np.float32), chan, offs, w.astype(np.float32), a, block)
    direct_taps(xp.astype(np.float32), chan, offs, w.astype(np.float32), b, 1024)
    np.testing.assert_array_equal(a, b)


def test_one_hot_weights_copy_shifted_rows():
    """w[o, k] = 1 for one tap: output o is input channel chan[k] read offs[k] columns on, exactly."""
    xp = np.arange(2 * 3 * 20, dtype=np.float32).reshape(2, 3, 20)
    chan, offs = np.array([2, 0, 1, 1]), np.array([5, 0, 3, 1])
    w = np.zeros((4, 4), np.float32)
    w[np.arange(4), [0, 3, 1, 2]] = 1  # output o reads tap (0, 3, 1, 2)[o]
    y = np.zeros((2, 4, 15), np.float32)
    direct_taps(xp, chan, offs, w, y)
    np.testing.assert_array_equal(y[:, 0], xp[:, 2, 5:20])
    np.testing.assert_array_equal(y[:, 1], xp[:, 1, 1:16])
    np.testing.assert_array_equal(y[:, 2], xp[:, 0, 0:15])
    np.testing.assert_array_equal(y[:, 3], xp[:, 1, 3:18])


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"offs": [0, 6]}, ValueError, "inside xp's rows"),
        ({"offs": [-1, 0]}, ValueError, "inside xp's rows"),
        ({"chan": [0, 3]}, ValueError, "input channels"),
        ({"w": np.zeros((2, 3))}, ValueError, "shapes do not match"),
        ({"w": np.zeros((2, 2), np.float32)}, TypeError, "share a float32 or float64"),
        ({"y": np.zeros((1, 2, 10))[:, :, ::2]}, ValueError, "C-contiguous"),
        ({"xp": np.zeros((3, 10))}, ValueError, "3-D"),
        ({"block": 0}, ValueError, "block must be"),
        ({"chan": [], "offs": [], "w": np.zeros((2, 0))}, ValueError, "at least one tap"),
    ],
)
def test_bad_input_is_refused(change, error, match):
    args = {"xp": np.zeros((1, 3, 10)), "chan": [0, 1], "offs": [0, 5], "w": np.zeros((2, 2)), "y": np.zeros((1, 2, 5))}
    args.update(change)
    with pytest.raises(error, match=match):
        direct_taps(**args)


@pytest.mark.parametrize("K, C_out", [(1, 1), (2, 4), (4, 2), (5, 5), (6, 3)])
def test_infinity_stays_infinity(K, C_out):
    """An infinite input gives +-inf where the reference does: no tap or output is
    padded with zero weights, whose 0 * inf would be NaN."""
    xp = np.ones((1, 2, 12))
    xp[0, 0, 4] = np.inf
    chan, offs = np.arange(K) % 2, np.arange(K) % 3
    w = np.ones((C_out, K))
    ours, ref = np.zeros((1, C_out, 9)), np.zeros((1, C_out, 9))
    direct_taps(xp, chan, offs, w, ours)
    direct_taps_reference(xp, chan, offs, w, ref)
    assert np.isinf(ref).any() and not np.isnan(ref).any()
    np.testing.assert_array_equal(ours, ref)


def test_strided_input_views(rng):
    """xp may be any view (here channels reversed and every other column): same numbers as the twin."""
    base = rng.standard_normal((2, 4, 60)).astype(np.float32)
    xp = base[:, ::-1, ::2]  # (2, 4, 30), negative channel stride, column stride 2
    chan, offs = rng.integers(0, 4, 7), rng.integers(0, 6, 7)
    w = rng.standard_normal((5, 7)).astype(np.float32)
    ours, ref = np.zeros((2, 5, 24), np.float32), np.zeros((2, 5, 24), np.float32)
    direct_taps(xp, chan, offs, w, ours, block=10)
    direct_taps_reference(xp, chan, offs, w, ref)
    assert_close(ours, ref, rtol=2e-6, atol=2e-6, what="direct_taps on a strided view")


@pytest.mark.parametrize("shape, dtype", [((3, 5, 16), np.float32), ((2, 8), np.float64), ((1, 1, 1), np.float32)])
def test_line_aligned_empty_starts_a_cache_line(shape, dtype):
    from espcn_ref.ops.conv_direct import LINE, line_aligned_empty

    for _ in range(20):  # fresh allocations land at different offsets mod 64
        a = line_aligned_empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        assert a.ctypes.data % LINE == 0
        if shape[-1] * a.itemsize % LINE == 0:
            assert all(a[i].ctypes.data % LINE == 0 for i in np.ndindex(shape[:-1]))
