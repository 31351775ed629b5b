"""The kernels with the JIT off, as ``make test-nojit`` runs them for a debugger.

Numba reads NUMBA_DISABLE_JIT when it is imported, so the check runs in a
subprocess: this file, run as a script with the flag, computes one case of
every kernel family against its reference twin and prints, per family, the
largest relative difference and the smallest reference compared. Only public
names are imported there; the grid engine is reached through ``ESPCN``
(forward and loss_and_grads run every one of its kernels), checked against
the network written with the loop references. In this process:
:func:`.blas.gemm_kernel_reference`, the NumPy twin that stands in for the
BLAS call when the JIT is off, pinned to the BLAS kernel.
"""

import json
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

# family -> what it covers; every one must be checked by run_without_jit
FAMILIES = {
    "conv": "conv2d and its backward: im2col path, shifted-GEMM path, direct-kernel path",
    "conv_direct": "direct_taps",
    "im2col": "im2col_block and col2im_block",
    "conv_transpose": "conv_transpose2d and its backward",
    "activations": "tanh (float64 and float32 kernels), relu and their backwards",
    "loss": "mse_loss",
    "shuffle": "pixel_shuffle and pixel_unshuffle, every order",
    "equivalence": "sub-pixel == transposed convolution, forward and backward",
    "gemm": "the GEMM of the grid engine (the NumPy twin)",
    "engine_forward": "ESPCN.forward on the grid engine",
    "engine_loss_and_grads": "ESPCN.loss_and_grads, whole batch and 2 shards on 2 threads",
}


def run_without_jit() -> dict:
    """{family: [max |ours - reference| / max |reference|, min max |reference|]}
    over the family's comparisons, plus "jit_disabled"."""
    import espcn_ref.ops.blas as blas
    from espcn_ref import ESPCN, ESPCNConfig
    from espcn_ref.equivalence import (subpixel_conv2d, subpixel_conv2d_backward, transposed_conv2d,
                                       transposed_conv2d_backward, transposed_to_subpixel)
    from espcn_ref.ops import activations as act
    from espcn_ref.ops.conv import conv2d, conv2d_backward, conv2d_backward_reference, conv2d_reference
    from espcn_ref.ops.conv_direct import direct_taps, direct_taps_reference
    from espcn_ref.ops.conv_transpose import (conv_transpose2d, conv_transpose2d_backward,
                                              conv_transpose2d_backward_reference, conv_transpose2d_reference)
    from espcn_ref.ops.im2col import col2im_block, col2im_reference, im2col_block, im2col_reference
    from espcn_ref.ops.loss import mse_loss, mse_loss_reference
    from espcn_ref.ops.shuffle import (ORDERS, pixel_shuffle, pixel_shuffle_reference, pixel_unshuffle,
                                       pixel_unshuffle_reshape)

    g = np.random.default_rng(5)
    out = {}

    def record(family, ours, ref):
        """Keep the family's largest relative difference and smallest reference."""
        for o, r in zip(ours if isinstance(ours, tuple) else (ours,), ref if isinstance(ref, tuple) else (ref,)):
            o, r = np.asarray(o, dtype=np.float64), np.asarray(r, dtype=np.float64)
            assert o.shape == r.shape, f"{family}: shape ours {o.shape} vs reference {r.shape}"
            scale = float(np.max(np.abs(r)))
            err = float(np.max(np.abs(o - r))) / scale if scale > 0 else float("inf")
            worst, smallest = out.get(family, (0.0, float("inf")))
            out[family] = [max(worst, err), min(smallest, scale)]

    # conv: stride 2 (im2col + col2im), then stride 1 on an image big enough for the
    # shifted path, with 4 outputs (direct kernel) and 20 (one GEMM per tap)
    x, w, b = g.standard_normal((2, 3, 7, 6)), g.standard_normal((4, 3, 3, 2)), g.standard_normal(4)
    y = conv2d(x, w, b, (2, 1), 1)
    record("conv", y, conv2d_reference(x, w, b, (2, 1), 1))
    dy = g.standard_normal(y.shape)
    record("conv", conv2d_backward(dy, x, w, (2, 1), 1), conv2d_backward_reference(dy, x, w, (2, 1), 1))
    x = g.standard_normal((1, 8, 32, 32))
    for c_out in (4, 20):
        w, b = g.standard_normal((c_out, 8, 3, 3)), g.standard_normal(c_out)
        record("conv", conv2d(x, w, b, 1, 1), conv2d_reference(x, w, b, 1, 1))

    xp, w, y0 = g.standard_normal((2, 3, 40)), g.standard_normal((5, 7)), g.standard_normal((2, 5, 30))
    chan, offs = g.integers(0, 3, 7), g.integers(0, 11, 7)
    ours, ref = y0.copy(), y0.copy()
    direct_taps(xp, chan, offs, w, ours, block=16)
    direct_taps_reference(xp, chan, offs, w, ref)
    record("conv_direct", ours, ref)

    x, geom, OH, OW = g.standard_normal((2, 3, 7, 6)), (3, 2, 2, 3, 1, 2), 4, 3
    cols = np.empty((3 * 3 * 2, 2 * OH * OW))
    im2col_block(x, geom, 0, 2, 0, OH, OW, cols)
    record("im2col", cols, im2col_reference(x, geom, OH, OW))
    back = np.zeros_like(x)
    col2im_block(cols, geom, 0, 2, 0, OH, OW, back)
    record("im2col", back, col2im_reference(cols, geom, x.shape, OH, OW))

    x, w, b = g.standard_normal((2, 3, 4, 5)), g.standard_normal((3, 2, 4, 3)), g.standard_normal(2)
    args = ((2, 3), (1, 0), (1, 2))  # stride, padding, output_padding
    y = conv_transpose2d(x, w, b, *args)
    record("conv_transpose", y, conv_transpose2d_reference(x, w, b, *args))
    dy = g.standard_normal(y.shape)
    record("conv_transpose", conv_transpose2d_backward(dy, x, w, *args),
           conv_transpose2d_backward_reference(dy, x, w, *args))

    for dtype in (np.float64, np.float32):
        z = (4 * g.standard_normal((2, 3, 5, 4))).astype(dtype)
        dy = g.standard_normal(z.shape).astype(dtype)
        t = act.tanh(z)
        record("activations", (t, act.tanh_backward(dy, t), act.relu(z), act.relu_backward(dy, z)),
               (act.tanh_reference(z), act.tanh_backward_reference(dy, t), act.relu_reference(z),
                act.relu_backward_reference(dy, z)))

    y, t = g.standard_normal((3, 2, 6, 6)), g.standard_normal((3, 2, 6, 6))
    record("loss", mse_loss(y, t), mse_loss_reference(y, t))

    x = g.standard_normal((2, 2 * 9, 3, 4))
    for order in ORDERS:
        y = pixel_shuffle(x, 3, order)
        record("shuffle", (y, pixel_unshuffle(y, 3, order)), (pixel_shuffle_reference(x, 3, order),
                                                             pixel_unshuffle_reshape(y, 3, order)))

    x, w_t, r, p = g.standard_normal((2, 2, 4, 3)), g.standard_normal((2, 3, 6, 6)), 3, 2
    y = transposed_conv2d(x, w_t, r, p)
    w_s, lr_padding, hr_crop = transposed_to_subpixel(w_t, r, p)
    record("equivalence", subpixel_conv2d(x, w_s, r, lr_padding, hr_crop), y)
    dy = g.standard_normal(y.shape)
    dx_t, dw_t = transposed_conv2d_backward(dy, x, w_t, r, p)
    dx_s, dw_s = subpixel_conv2d_backward(dy, x, w_s, r, lr_padding, hr_crop)
    record("equivalence", (dx_s, dw_s), (dx_t, transposed_to_subpixel(dw_t, r, p)[0]))

    for dtype, trans_a, accumulate in ((np.float64, False, True), (np.float32, True, False)):
        A, B = g.standard_normal((30, 20)).astype(dtype), g.standard_normal((25, 16)).astype(dtype)
        a = A[2:9, 3:14] if trans_a else A[3:14, 2:9]  # row slices of bigger arrays
        C = g.standard_normal((11, 16)).astype(dtype)
        want = (a.T if trans_a else a).astype(np.float64) @ B[4:11] + (C if accumulate else 0)
        blas.gemm(a, B[4:11], C, accumulate=accumulate, trans_a=trans_a)
        record("gemm", C, want)

    m = ESPCN(config=ESPCNConfig(scale=3), rng=g)  # the paper's network, in float64
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    x = g.random((2, 1, 5, 6))
    t = g.random((2, 1, 15, 18))
    y, loss, grads = reference_network(m.params, x, t, 3)
    record("engine_forward", m.forward(x), y)
    ours, ours_grads = m.loss_and_grads(x, t)
    record("engine_loss_and_grads", (ours, *ours_grads.values()), (loss, *(grads[k] for k in ours_grads)))
    x, t = g.random((16, 1, 4, 5)), g.random((16, 1, 12, 15))  # 16 images: 2 shards on 2 threads
    _, loss, grads = reference_network(m.params, x, t, 3)
    ours, ours_grads = m.loss_and_grads(x, t, threads=2)
    record("engine_loss_and_grads", (ours, *ours_grads.values()), (loss, *(grads[k] for k in ours_grads)))

    out["jit_disabled"] = bool(numba.config.DISABLE_JIT) and blas.gemm_kernel is blas.gemm_kernel_reference
    return out


def reference_network(params, x, t, r):
    """(y, loss, grads) of eq. (1)-(5) from the loop references: conv2d_reference
    and tanh, PS, the MSE, then their backwards, layer by layer."""
    from espcn_ref.ops.activations import tanh_backward_reference, tanh_reference
    from espcn_ref.ops.conv import conv2d_backward_reference, conv2d_reference
    from espcn_ref.ops.loss import mse_loss_reference
    from espcn_ref.ops.shuffle import pixel_shuffle_reference, pixel_unshuffle_reshape

    L = len(params) // 2
    inputs, h = [], x
    for l in range(1, L + 1):
        w = params[f"conv{l}.weight"]
        inputs.append(h)
        h = conv2d_reference(h, w, params[f"conv{l}.bias"], 1, w.shape[2] // 2)  # z_l
        if l < L:
            h = tanh_reference(h)
    y = pixel_shuffle_reference(h, r)
    dz = pixel_unshuffle_reshape(2 * (y - t) / y.size, r)  # PS^-1 of dL/dy
    grads = {}
    for l in range(L, 0, -1):
        w = params[f"conv{l}.weight"]
        dh, grads[f"conv{l}.weight"], grads[f"conv{l}.bias"] = conv2d_backward_reference(
            dz, inputs[l - 1], w, 1, w.shape[2] // 2)
        if l > 1:
            dz = tanh_backward_reference(dh, inputs[l - 1])  # inputs[l - 1] = phi(z_{l-1})
    return y, mse_loss_reference(y, t), grads


@pytest.fixture(scope="module")
def without_jit():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the no-JIT run failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_subprocess_ran_without_jit(without_jit):
    assert without_jit["jit_disabled"] is True


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_kernel_family_matches_its_twin_without_jit(without_jit, family):
    err, smallest = without_jit[family]
    assert smallest > 1e-6, f"{family} ({FAMILIES[family]}): a reference of {smallest}, a case with nothing in it"
    tol = 1e-5 if family in ("activations", "gemm") else 1e-10  # both check a float32 case too
    assert err <= tol, f"{family} ({FAMILIES[family]}): ours vs reference differ by {err:.3e} (relative)"


# --- the no-JIT twin of the BLAS call, pinned to it ------------------------------------


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="both names are the NumPy twin when the JIT is off")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
@pytest.mark.parametrize("k", [9, 1, 0])
def test_gemm_twin_matches_the_blas_kernel(dtype, trans_a, beta, k):
    """gemm_kernel_reference == gemm_kernel on row slices, NaN in c for beta = 0, k = 0."""
    from espcn_ref.ops.blas import GEMM_ADDRESSES, gemm_kernel, gemm_kernel_reference

    g = np.random.default_rng(3)
    A, B = g.standard_normal((20, 30)).astype(dtype), g.standard_normal((20, 30)).astype(dtype)
    a = A[2 : 2 + k, 3:10] if trans_a else A[2:9, 3 : 3 + k]  # (k, 7) or (7, k)
    C = g.standard_normal((20, 30)).astype(dtype)
    if beta == 0.0:
        C[5:12, 20:25] = np.nan  # never read
    ours, blas = C.copy(), C.copy()
    gemm_kernel_reference(GEMM_ADDRESSES, a, B[4 : 4 + k, 1:6], ours[5:12, 20:25], beta, trans_a)
    gemm_kernel(GEMM_ADDRESSES, a, B[4 : 4 + k, 1:6], blas[5:12, 20:25], beta, trans_a)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ours, blas, rtol=tol, atol=tol, err_msg="gemm_kernel_reference vs gemm_kernel")


@pytest.mark.parametrize("a, c, error, match", [
    (np.ones((4, 3)), np.ones((5, 2)), ValueError, "shapes do not match"),
    (np.asfortranarray(np.ones((4, 3))), np.ones((4, 2)), ValueError, "row slices"),
    (np.ones((4, 3), np.float32), np.ones((4, 2)), TypeError, "one dtype"),
])
def test_gemm_twin_refuses_what_the_kernel_refuses(a, c, error, match):
    from espcn_ref.ops.blas import GEMM_ADDRESSES, gemm_kernel_reference

    with pytest.raises(error, match=match):
        gemm_kernel_reference(GEMM_ADDRESSES, a, np.ones((3, 2)), c, 0.0, False)


if __name__ == "__main__":
    print(json.dumps(run_without_jit()))
