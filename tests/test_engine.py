"""The grid engine (shifted GEMMs, the model's fast path) against the conv2d
spec, and the BLAS wrapper it stands on."""

import numba
import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import assert_close
from espcn_ref.engine import conv as econv, grid as egrid, head, taps
from espcn_ref.ops.activations import tanh_reference
from espcn_ref.ops.blas import GEMM_ADDRESSES, gemm, gemm_kernel, rows_independent_of_position
from espcn_ref.ops.conv import conv2d_backward_reference, conv2d_reference
from espcn_ref.engine.grid import Grid
from espcn_ref.ops.loss import mse_loss_reference
from espcn_ref.ops.shuffle import pixel_shuffle_reference


# --- gemm ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
def test_gemm_on_row_slices_accumulates(dtype, trans_a):
    g = np.random.default_rng(0)
    A, B = g.standard_normal((50, 40)).astype(dtype), g.standard_normal((40, 30)).astype(dtype)
    C = np.ones((60, 35), dtype)
    a = A[5:12, 3:20] if trans_a else A[3:20, 5:12]  # a strided view, lda = 40
    b, c = B[2:9, 4:14], C[1:18, 2:12]
    want = C.copy()
    a_mat = a.T if trans_a else a
    want[1:18, 2:12] += a_mat.astype(np.float64) @ b
    gemm(a, b, c, accumulate=True, trans_a=trans_a)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(C, want, rtol=tol, atol=tol, what="gemm accumulate")  # and nothing outside c changed
    c[...] = np.nan  # overwriting never reads c (BLAS's beta = 0)
    gemm(a, b, c, trans_a=trans_a)
    assert_close(c, a_mat.astype(np.float64) @ b, rtol=tol, atol=tol, what="gemm overwrite")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
@pytest.mark.parametrize("k", [13, 1, 0])
def test_gemm_kernel_matches_numpy(dtype, trans_a, beta, k):
    """The compiled call (what the grid engine's loops use): c = a @ b + beta * c,
    the NumPy twin, on row slices, including one-row operands and k = 0."""
    g = np.random.default_rng(1)
    A = g.standard_normal((20, 30)).astype(dtype)
    a = A[2 : 2 + k, 3:10] if trans_a else A[2:9, 3 : 3 + k]  # (k, 7) or (7, k), lda = 30
    B, C = g.standard_normal((20, 30)).astype(dtype), g.standard_normal((20, 30)).astype(dtype)
    b, c = B[4 : 4 + k, 1:6], C[5:12, 20:25]
    want = C.astype(np.float64)
    want[5:12, 20:25] = (a.T if trans_a else a).astype(np.float64) @ b + beta * c
    gemm_kernel(GEMM_ADDRESSES, a, b, c, beta, trans_a)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(C, want, rtol=tol, atol=tol, what="gemm_kernel")  # and nothing outside c changed


def test_gemm_kernel_refuses_what_it_cannot_pass_to_blas():
    """Its checks run in compiled code, before BLAS sees anything."""
    a, b = np.ones((4, 3)), np.ones((3, 2))
    with pytest.raises(ValueError, match="shapes do not match"):
        gemm_kernel(GEMM_ADDRESSES, a, b, np.ones((5, 2)), 0.0, False)  # c one row too long
    with pytest.raises(ValueError, match="row slices"):
        gemm_kernel(GEMM_ADDRESSES, np.asfortranarray(a), b, np.ones((4, 2)), 0.0, False)
    refused = TypeError if numba.config.DISABLE_JIT else numba.core.errors.TypingError  # the NumPy twin checks
    with pytest.raises(refused):  # mixed dtypes do not compile
        gemm_kernel(GEMM_ADDRESSES, a.astype(np.float32), b, np.ones((4, 2)), 0.0, False)


def test_gemm_zero_inner_dimension():
    c = np.ones((3, 2))
    gemm(np.empty((3, 0)), np.empty((0, 2)), c, accumulate=True)
    assert (c == 1).all()
    gemm(np.empty((3, 0)), np.empty((0, 2)), c)
    assert (c == 0).all()


@pytest.mark.parametrize("a, b, c, match", [
    (np.ones((3, 4))[:, ::2], np.ones((2, 2)), np.ones((3, 2)), "row slice"),
    (np.ones((3, 4)), np.ones((3, 2)), np.ones((3, 2)), "shapes do not match"),
    (np.ones((3, 4), np.float32), np.ones((4, 2)), np.ones((3, 2)), "one dtype"),
    (np.ones((3, 4), np.int64), np.ones((4, 2), np.int64), np.ones((3, 2), np.int64), "float32 or float64"),
    (np.broadcast_to(np.ones(4), (3, 4)), np.ones((4, 2)), np.ones((3, 2)), "row slice"),
])
def test_gemm_rejects_what_blas_cannot_read(a, b, c, match):
    with pytest.raises((ValueError, TypeError), match=match):
        gemm(a, b, c)


def test_gemm_rejects_overlap():
    buf = np.ones((6, 6))
    with pytest.raises(ValueError, match="overlap"):
        gemm(buf[:3, :3], np.ones((3, 3)), buf[1:4, :3])


# --- the layout -----------------------------------------------------------------------


@st.composite
def grid_case(draw, max_c=3, kernels=(1, 3, 5)):
    k = draw(st.sampled_from(kernels))
    pad = draw(st.integers(k // 2, k // 2 + 2))
    N, C_in, C_out = draw(st.integers(1, 3)), draw(st.integers(1, max_c)), draw(st.integers(1, max_c))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    return Grid(N, H, W, pad), g.standard_normal((N, C_in, H, W)), g.standard_normal((C_out, C_in, k, k)), g


@given(grid_case())
def test_grid_round_trip_and_zero_padding(case):
    grid, x, _, _ = case
    g = egrid.to_grid(x, grid)
    assert g.shape == (grid.length, x.shape[1])
    np.testing.assert_array_equal(egrid.from_grid(g, grid), x)
    assert np.abs(g).sum() == pytest.approx(np.abs(x).sum())  # everything else is zero padding


def test_grid_geometry_of_the_training_patches():
    """17x17 patches with pad 1: 18 x 18 rows per image, 12% more than 17 x 17."""
    grid = Grid(16, 17, 17, 1)
    assert (grid.row, grid.image, grid.front) == (18, 324, 19)
    assert grid.length == 16 * 324 + 2 * 19
    assert grid.taps(3) == [-19, -18, -17, -1, 0, 1, 17, 18, 19]
    with pytest.raises(ValueError, match="k//2 <= pad"):
        grid.taps(5)
    with pytest.raises(ValueError, match="odd"):
        grid.taps(2)
    first, last = grid.front, grid.front + 16 * 324
    assert grid.chunks(2000) == [(first, first + 2000), (first + 2000, first + 4000), (first + 4000, last)]
    with pytest.raises(ValueError, match="rows"):
        grid.chunks(0)


@given(grid_case())
def test_conv_grid_matches_the_conv2d_spec(case):
    """With the real chunk size and with chunks of 7 rows, so that chunk
    boundaries fall inside images and inside the taps' reach."""
    grid, x, w, g = case
    for rows in (egrid.CHUNK_ROWS, 7):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(egrid, "CHUNK_ROWS", rows)
            y = econv.conv_grid(egrid.to_grid(x, grid), w, grid)
        assert_close(egrid.from_grid(y, grid), conv2d_reference(x, w, None, 1, w.shape[2] // 2), what="conv_grid")
        assert not y[: grid.front].any() and not y[grid.length - grid.front :].any()


@pytest.mark.parametrize("stack_below", [0, 100], ids=["per-tap", "stacked"])
@given(case=grid_case())
def test_conv_grid_backward_matches_the_conv2d_spec(stack_below, case):
    """Both forms of the backward: per-tap GEMMs, and a stack of shifted dy (few output channels)."""
    grid, x, w, g = case
    k = w.shape[2]
    dy = g.standard_normal((x.shape[0], w.shape[0], x.shape[2], x.shape[3]))
    want = conv2d_backward_reference(dy, x, w, 1, k // 2)
    for rows, stack_rows in ((egrid.CHUNK_ROWS, econv.STACK_CHUNK_ROWS), (7, 7), (egrid.CHUNK_ROWS, 5)):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(egrid, "CHUNK_ROWS", rows)
            mp.setattr(econv, "STACK_CHUNK_ROWS", stack_rows)
            mp.setattr(econv, "STACK_BELOW", stack_below)
            dx, dw, db = econv.conv_grid_backward(egrid.to_grid(dy, grid), egrid.to_grid(x, grid), w, grid)
            no_dx = econv.conv_grid_backward(egrid.to_grid(dy, grid), egrid.to_grid(x, grid), w, grid, need_dx=False)
        assert_close(egrid.from_grid(dx, grid), want[0], what="dx")
        assert_close(dw, want[1], what="dw")
        assert_close(db, want[2], what="db")
        assert no_dx[0] is None
        assert_close(no_dx[1], want[1], what="dw without dx")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_gradient_is_numpys_column_sum_to_the_bit(dtype):
    dy = np.random.default_rng(3).standard_normal((2700, 32)).astype(dtype)
    assert np.array_equal(econv.column_sums(dy), dy.sum(axis=0))


def test_bias_gradient_of_one_column_is_close():
    """NumPy sums a single column pairwise, so only closeness holds there; and a strided dy works."""
    dy = np.random.default_rng(4).standard_normal((5000, 3)).astype(np.float32)
    assert_close(econv.column_sums(dy[:, 1:2]), dy[:, 1:2].sum(axis=0, dtype=np.float64), rtol=1e-5, atol=1e-4,
                 what="one column")
    assert np.array_equal(econv.column_sums(dy[::2, ::2]), dy[::2, ::2].sum(axis=0))


@pytest.mark.parametrize("lo, rows", [(0, 40), (5, 20), (30, 27)])
def test_shift_stack_matches_its_reference(lo, rows):
    """The stack of shifted dy that the stacked backward builds (zero where a shift leaves dy)."""
    dy = np.random.default_rng(6).standard_normal((57, 4)).astype(np.float32)
    shifts = np.array([-7, -6, -1, 0, 1, 6, 7], dtype=np.int64)
    out = np.full((rows, len(shifts) * 4), np.nan, np.float32)
    econv.shift_stack(dy, shifts, lo, out)
    assert np.array_equal(out, econv.shift_stack_reference(dy, list(shifts), lo, rows))


def test_backward_needs_zero_padding_in_dy():
    """Negative control: junk on dy's padding rows leaks into dw (so the
    activation's backward must zero them, and does)."""
    grid = Grid(1, 3, 3, 1)
    g = np.random.default_rng(0)
    x, w = g.standard_normal((1, 2, 3, 3)), g.standard_normal((2, 2, 3, 3))
    dyg = egrid.to_grid(g.standard_normal((1, 2, 3, 3)), grid)
    clean = econv.conv_grid_backward(dyg, egrid.to_grid(x, grid), w, grid)[1]
    grid.body(dyg)[0, 3, 0, :] = 1.0  # a padding row
    dirty = econv.conv_grid_backward(dyg, egrid.to_grid(x, grid), w, grid)[1]
    assert np.abs(dirty - clean).max() > 1e-3


@given(grid_case(kernels=(1, 3, 5, 7)))
def test_im2col_grid_matches_reference(case):
    grid, x, w, _ = case
    for k in (1, 3, w.shape[2]):
        np.testing.assert_array_equal(taps.im2col_grid(x, k, grid), taps.im2col_grid_reference(x, k, grid))


def test_im2col_grid_then_1x1_is_the_kxk_conv():
    """Layer 1's form: its k x k taps gathered, then a 1x1 conv over them."""
    g = np.random.default_rng(3)
    x, w = g.standard_normal((2, 1, 6, 5)), g.standard_normal((4, 1, 5, 5))
    grid = Grid(2, 6, 5, 1)
    y = econv.conv_grid(taps.im2col_grid(x, 5, grid), w.reshape(4, 25, 1, 1), grid)
    assert_close(egrid.from_grid(y, grid), conv2d_reference(x, w, None, 1, 2), what="im2col + 1x1")


# --- bias + activation --------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_act_grid_matches_reference(activation, dtype):
    grid = Grid(2, 5, 4, 2)
    g = np.random.default_rng(4)
    z = g.standard_normal((grid.length, 3)).astype(dtype) * 3  # junk on the padding rows
    z[: grid.front] = z[grid.length - grid.front :] = 0  # margins are zero (conv_grid's output)
    want = egrid.act_grid_reference(z, activation, grid)
    got = egrid.act_grid(z.copy(), activation, grid)
    tol = 4e-7 if dtype == np.float32 else 1e-15
    assert_close(got, want, rtol=0, atol=tol, what=activation)
    body = grid.body(got)
    assert not body[:, 5:].any() and not body[:, :, 4:].any() and body[:, :5, :4].any()


def test_conv_grid_adds_the_bias():
    g = np.random.default_rng(7)
    x, w, b = g.standard_normal((2, 3, 4, 5)), g.standard_normal((2, 3, 3, 3)), g.standard_normal(2)
    grid = Grid(2, 4, 5, 1)
    for rows in (egrid.CHUNK_ROWS, 7):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(egrid, "CHUNK_ROWS", rows)
            y = econv.conv_grid(egrid.to_grid(x, grid), w, grid, b)
        assert_close(egrid.from_grid(y, grid), conv2d_reference(x, w, b, 1, 1), what="conv + bias")


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_act_backward_grid_matches_reference(activation):
    grid = Grid(2, 4, 3, 1)
    g = np.random.default_rng(5)
    z = g.standard_normal((grid.length, 2))
    z[: grid.front] = z[grid.length - grid.front :] = 0
    act = egrid.act_grid(z, activation, grid)
    dh = g.standard_normal((grid.length, 2))
    assert_close(egrid.act_backward_grid(dh, act, activation, grid),
                 egrid.act_backward_grid_reference(dh, act, activation, grid), what=f"{activation} backward")


def test_act_grid_reference_is_the_activation():
    grid = Grid(1, 2, 2, 1)
    z = egrid.to_grid(np.array([[[[-0.75, 0.75], [2.25, -2.75]]]]), grid)
    out = egrid.from_grid(egrid.act_grid_reference(z, "tanh", grid), grid)
    assert_close(out, tanh_reference(np.array([[[[-0.75, 0.75], [2.25, -2.75]]]])), what="tanh")


def test_position_probe_sees_the_blas_kernel():
    """The probe agrees with a direct check on a grid-shaped product: rows of
    one call against the same rows inside a call shifted by 1..5 rows."""
    g = np.random.default_rng(8)
    a, b = g.standard_normal((500, 64)).astype(np.float32), g.standard_normal((64, 32)).astype(np.float32)
    whole = np.empty((500, 32), np.float32)
    gemm(a, b, whole)
    same = True
    for off in range(1, 6):
        part = np.empty((400, 32), np.float32)
        gemm(a[off : off + 400], b, part)
        same &= np.array_equal(part, whole[off : off + 400])
    assert rows_independent_of_position() == same


@pytest.mark.parametrize("g_shape, w_shape, dtype, match", [
    ((10, 2), (3, 2, 3, 3), np.float64, "grid"),  # wrong length
    (None, (3, 2, 3, 1), np.float64, "k, k"),  # not square
    (None, (3, 4, 3, 3), np.float64, "channels"),  # C_in mismatch
    (None, (3, 2, 3, 3), np.float32, "dtype"),
])
def test_conv_grid_rejects_bad_input(g_shape, w_shape, dtype, match):
    grid = Grid(1, 3, 3, 1)
    g = np.zeros(g_shape or (grid.length, 2))
    with pytest.raises((ValueError, TypeError), match=match):
        econv.conv_grid(g, np.zeros(w_shape, dtype), grid)
    with pytest.raises((ValueError, TypeError), match=match):
        econv.conv_grid_backward(np.zeros((grid.length, 3)), g, np.zeros(w_shape, dtype), grid)


def test_grid_functions_reject_arrays_of_another_grid():
    """A batch or grid of the wrong size is refused, not read out of bounds."""
    grid = Grid(2, 4, 5, 1)
    other = np.zeros((2, 1, 5, 4))  # H and W swapped
    for fn in (lambda: egrid.to_grid(other, grid), lambda: taps.im2col_grid(other, 3, grid)):
        with pytest.raises(ValueError, match=r"\(N, C, H, W\) = \(2, C, 4, 5\)"):
            fn()
    short = np.zeros((grid.length - 1, 2))
    for fn in (lambda: egrid.from_grid(short, grid), lambda: egrid.act_grid(short, "tanh", grid),
               lambda: egrid.act_backward_grid(short, short, "tanh", grid)):
        with pytest.raises(ValueError, match=f"length={grid.length}"):
            fn()


# --- the periodic shuffle and the loss off the grid --------------------------------------


@st.composite
def shuffle_case(draw):
    r, C = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    N, H, W, pad = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(0, 2))
    order = draw(st.sampled_from(["crd", "dcr", "dcr_t"]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    grid = Grid(N, H, W, pad)
    z = g.standard_normal((grid.length, C * r * r)).astype(dtype)  # junk off the pixels too
    t = g.standard_normal((N, C, H * r, W * r)).astype(dtype)
    return grid, z, t, r, order


@given(shuffle_case())
def test_shuffle_from_grid_is_pixel_shuffle_of_from_grid(case):
    grid, z, _, r, order = case
    want = pixel_shuffle_reference(egrid.from_grid(z, grid), r, order)
    np.testing.assert_array_equal(head.shuffle_from_grid(z, r, order, grid), want)


@given(shuffle_case())
def test_shuffle_mse_grid_equals_the_composition(case):
    """One pass gives the very numbers of PS, mse_loss, its backward, PS^-1 and to_grid."""
    grid, z, t, r, order = case
    loss, dz = head.shuffle_mse_grid(z, t, r, order, grid)
    want_loss, want_dz = head.shuffle_mse_grid_reference(z, t, r, order, grid)
    assert loss == want_loss and dz.dtype == z.dtype
    np.testing.assert_array_equal(dz, want_dz)  # zero off the pixels, like to_grid's
    y = pixel_shuffle_reference(egrid.from_grid(z, grid), r, order)
    assert loss == pytest.approx(mse_loss_reference(y, t), rel=1e-12)


def test_shuffle_mse_grid_known_values():
    """r = 2, one 1x1 LR pixel: y = [[1, 2], [3, 4]] (crd), t = 0: loss 30/4, dz = 2 y / 4."""
    grid = Grid(1, 1, 1, 1)
    z = np.zeros((grid.length, 4))
    z[grid.front] = [1, 2, 3, 4]
    loss, dz = head.shuffle_mse_grid(z, np.zeros((1, 1, 2, 2)), 2, "crd", grid)
    assert loss == 7.5
    np.testing.assert_array_equal(dz[grid.front], [0.5, 1.0, 1.5, 2.0])
    assert np.count_nonzero(dz) == 4


def test_shuffle_off_the_grid_rejects_bad_input():
    grid = Grid(1, 2, 2, 1)
    with pytest.raises(ValueError, match="C r\\^2 channels"):
        head.shuffle_from_grid(np.zeros((grid.length, 5)), 2, "crd", grid)
    with pytest.raises(ValueError, match="order"):
        head.shuffle_from_grid(np.zeros((grid.length, 4)), 2, "rcd", grid)
    with pytest.raises(ValueError, match=r"prediction's shape \(N, C, rH, rW\) = \(1, 1, 4, 4\)"):
        head.shuffle_mse_grid(np.zeros((grid.length, 4)), np.zeros((1, 1, 4, 3)), 2, "crd", grid)
    with pytest.raises(ValueError, match=f"length={grid.length}"):
        head.shuffle_mse_grid(np.zeros((grid.length + 1, 4)), np.zeros((1, 1, 4, 4)), 2, "crd", grid)
