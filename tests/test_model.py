"""ESPCN model (Sec. 2, 3.2): shapes, gradients of the whole network, ICNR, save/load."""

import json
import zipfile

import numba
import numpy as np
import pytest

from espcn_ref import mse_loss, mse_loss_backward
from espcn_ref.gradcheck import check_gradient
from espcn_ref.model import ESPCN, ESPCNConfig, load_model
from espcn_ref.model_file import ModelFormatError


def test_paper_defaults_and_shapes():
    m = ESPCN(3)
    assert m.config.layer_shapes() == [(64, 1, 5, 5), (32, 64, 3, 3), (9, 32, 3, 3)]
    assert m.config.macs_per_lr_pixel() == 1600 + 18432 + 288 * 9
    assert m.num_params() == 64 * 25 + 64 + 32 * 64 * 9 + 32 + 9 * 32 * 9 + 9
    y = m.forward(np.random.default_rng(0).random((2, 1, 7, 5), dtype=np.float32))
    assert y.shape == (2, 1, 21, 15) and y.dtype == np.float32


@pytest.mark.parametrize("activation, order, C", [("tanh", "crd", 1), ("relu", "dcr", 2), ("tanh", "dcr", 2)])
def test_whole_network_gradient_by_central_differences(activation, order, C):
    rng = np.random.default_rng(1)
    m = ESPCN(config=ESPCNConfig(scale=2, channels=C, hidden=((3, 4), (3, 3)), activation=activation, order=order), rng=rng)
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    x = rng.random((2, C, 4, 3))
    t = rng.random((2, C, 8, 6))
    y, cache = m.forward_train(x)
    grads = m.backward(mse_loss_backward(y, t), cache)
    for name in m.names():
        check_gradient(lambda: mse_loss(m.forward(x), t), m.params[name], grads[name], tol=1e-6)


def test_network_gradient_check_has_teeth():
    """Negative control: forgetting the shuffle's inverse in the backward must fail."""
    rng = np.random.default_rng(2)
    m = ESPCN(config=ESPCNConfig(scale=2, hidden=((3, 3),)), rng=rng)
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    x, t = rng.random((1, 1, 3, 3)), rng.random((1, 1, 6, 6))
    y, cache = m.forward_train(x)
    dy = mse_loss_backward(y, t)
    m.config = ESPCNConfig(scale=2, hidden=((3, 3),), order="dcr_t")  # wrong order in the backward
    wrong = m.backward(dy, cache)
    m.config = ESPCNConfig(scale=2, hidden=((3, 3),))
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_gradient(lambda: mse_loss(m.forward(x), t), m.params["conv2.weight"], wrong["conv2.weight"])


@pytest.mark.parametrize("order", ["crd", "dcr", "dcr_t"])
def test_icnr_starts_as_nearest_neighbour(order):
    """With ICNR every r x r block of the initial output is constant (no checkerboard)."""
    m = ESPCN(config=ESPCNConfig(scale=3, channels=2, order=order), init="icnr", rng=np.random.default_rng(3))
    y = m.forward(np.random.default_rng(4).random((1, 2, 4, 4), dtype=np.float32))
    blocks = y.reshape(1, 2, 4, 3, 4, 3)
    np.testing.assert_allclose(blocks, np.broadcast_to(blocks[:, :, :, :1, :, :1], blocks.shape), atol=1e-6)
    plain = ESPCN(config=ESPCNConfig(scale=3, channels=2, order=order), rng=np.random.default_rng(3))
    yp = plain.forward(np.random.default_rng(4).random((1, 2, 4, 4), dtype=np.float32)).reshape(blocks.shape)
    assert np.abs(yp - yp[:, :, :, :1, :, :1]).max() > 1e-3  # the default init is not


def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    m = ESPCN(3, rng=np.random.default_rng(5))
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 64, 5, padding=2), torch.nn.Tanh(),
                              torch.nn.Conv2d(64, 32, 3, padding=1), torch.nn.Tanh(),
                              torch.nn.Conv2d(32, 9, 3, padding=1), torch.nn.PixelShuffle(3))
    net.load_state_dict({f"{2 * (int(k[4]) - 1)}.{k.split('.')[1]}": torch.tensor(v) for k, v in m.params.items()})
    x = np.random.default_rng(6).random((2, 1, 9, 8), dtype=np.float32)
    with torch.no_grad():
        ref = net(torch.tensor(x)).numpy()
    np.testing.assert_allclose(m.forward(x), ref, atol=2e-6)


def test_save_load_round_trip(tmp_path):
    m = ESPCN(config=ESPCNConfig(scale=2, activation="relu", order="dcr"), rng=np.random.default_rng(7))
    m.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert z["conv1.weight"].shape == (64, 1, 5, 5)
        meta = json.loads(str(z["__meta__"]))
    assert meta["scale"] == 2 and meta["activation"] == "relu" and meta["order"] == "dcr"
    m2 = load_model(tmp_path / "m.npz")
    assert m2.config == m.config
    for k in m.names():
        np.testing.assert_array_equal(m2.params[k], m.params[k])
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary files left


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(path, **arrays)


def test_rejects_wrong_architecture_and_tampering(tmp_path):
    p = tmp_path / "m.npz"
    ESPCN(3).save(p)
    with pytest.raises(ValueError, match="x3 model, but x2 was asked for"):
        load_model(p, expect_scale=2)
    meta = json.loads(str(np.load(p)["__meta__"]))
    meta["hidden"] = [[5, 32], [3, 32]]  # declares a different architecture than the arrays
    _rewrite(p, __meta__=np.array(json.dumps(meta)))
    with pytest.raises(ModelFormatError, match="conv1.weight has shape"):
        load_model(p)
    ESPCN(3).save(p)
    _rewrite(p, **{"conv2.bias": np.full(32, np.nan, dtype=np.float32)})
    with pytest.raises(ModelFormatError, match="NaN"):
        load_model(p)


def test_rejects_truncated_pickled_and_foreign_files(tmp_path):
    p = tmp_path / "m.npz"
    ESPCN(2).save(p)
    data = p.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="not a readable .npz"):
        load_model(tmp_path / "cut.npz")
    np.savez(tmp_path / "pickled.npz", **{"__meta__": np.array([{"scale": 2}], dtype=object)})
    with pytest.raises(ModelFormatError, match="pickle"):
        load_model(tmp_path / "pickled.npz")
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    with pytest.raises(ModelFormatError, match="no __meta__"):
        load_model(tmp_path / "foreign.npz")
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(tmp_path / "missing.npz")
    assert zipfile.is_zipfile(p)


def test_bad_config_and_input():
    with pytest.raises(ValueError, match="activation must be one of"):
        ESPCN(3, activation="sigmoid")
    with pytest.raises(ValueError, match="odd"):
        ESPCN(3, last_kernel=4)
    with pytest.raises(ValueError, match="scale must be >= 1"):
        ESPCN(0)
    with pytest.raises(ValueError, match="1 channel"):
        ESPCN(2).forward(np.zeros((1, 3, 4, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        ESPCN(2).forward(np.zeros((1, 1, 4, 4), dtype=np.uint8))


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="a 200x200 image: minutes as Python loops, and "
                    "the no-JIT GEMM allocates its products")
def test_inference_memory_is_bounded():
    """forward keeps no training cache: its peak is about conv2's input and
    output on the grid (1 pixel of padding per row and per image row), far
    below forward_train's."""
    import tracemalloc

    m = ESPCN(3)
    x = np.random.default_rng(0).random((1, 1, 200, 200), dtype=np.float32)
    y = m.forward(x)
    np.testing.assert_array_equal(y, m.forward_train(x)[0])  # the same numbers either way
    tracemalloc.start()
    m.forward(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    must_hold = (64 + 32) * 201 * 201 * 4  # conv2's input and output
    assert peak < 1.2 * must_hold, f"peak {peak / 2**20:.0f} MiB"


def test_config_stores_plain_ints_and_rejects_bad_layers(tmp_path):
    m = ESPCN(np.int64(2))
    assert type(m.config.scale) is int
    m.save(tmp_path / "m.npz")  # JSON metadata: would fail with numpy ints
    with pytest.raises(TypeError, match="f_1 must be an integer"):
        ESPCNConfig(hidden=((5.9, 64),))
    with pytest.raises(ValueError, match=r"\(f_l, n_l\) pairs"):
        ESPCNConfig(hidden=((5,),))
    with pytest.raises(ValueError, match="either config or scale"):
        ESPCN(2, config=ESPCNConfig(scale=3))


def test_top_level_api_and_shipped_models():
    import espcn_ref

    assert espcn_ref.ESPCN is ESPCN and espcn_ref.load_model is load_model
    from espcn_ref.registry import pretrained_path

    for r in (2, 3, 4):
        if not pretrained_path(r).is_file():
            pytest.skip(f"x{r} weights not shipped in this checkout")
        m = espcn_ref.pretrained(r)
        assert m.scale == r and m.config.layer_shapes()[0] == (64, 1, 5, 5)
    with pytest.raises(ValueError, match="pretrained models exist for"):
        espcn_ref.pretrained(5)


REFERENCE_CASES = [(a, order, C) for a in ("tanh", "relu") for order in ("crd", "dcr", "dcr_t") for C in (1, 2)]


def _reference_case(activation, order, C, dtype, batch=3, r=2, seed=9):
    rng = np.random.default_rng(seed)
    m = ESPCN(config=ESPCNConfig(scale=r, channels=C, hidden=((5, 8), (3, 6)), activation=activation, order=order),
              rng=rng)
    m.params = {k: v.astype(dtype) for k, v in m.params.items()}
    x = rng.random((batch, C, 7, 5)).astype(dtype)
    t = rng.random((batch, C, 7 * r, 5 * r)).astype(dtype)
    return m, x, t


@pytest.mark.parametrize("activation, order, C", REFERENCE_CASES)
def test_engine_equals_the_reference_network_float64(activation, order, C):
    """forward and loss_and_grads (the grid engine) against eq. (1)-(5) as
    written (forward_reference, loss_and_grads_reference): output, loss and
    every gradient to 1e-12 in float64."""
    m, x, t = _reference_case(activation, order, C, np.float64)
    want = m.forward_reference(x)
    assert want.shape == (3, C, 14, 10)
    np.testing.assert_allclose(m.forward(x), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.forward_train(x)[0], want, rtol=1e-12, atol=1e-12)
    loss_ref, grads_ref = m.loss_and_grads_reference(x, t)
    assert loss_ref == pytest.approx(float(np.mean((want - t) ** 2) * 1), rel=1e-12)  # eq. (5): mean over pixels
    loss, grads = m.loss_and_grads(x, t)
    assert loss == pytest.approx(loss_ref, rel=1e-12, abs=1e-12)
    assert set(grads) == set(grads_ref) == set(m.names())
    for k in m.names():
        np.testing.assert_allclose(grads[k], grads_ref[k], rtol=1e-12, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("activation, order, C", REFERENCE_CASES)
def test_engine_equals_the_reference_network_float32(activation, order, C):
    """The same in float32, at the engine tests' tolerance (1e-5); a batch of
    16 also goes through the engine's shards."""
    m, x, t = _reference_case(activation, order, C, np.float32, batch=16)
    np.testing.assert_allclose(m.forward(x), m.forward_reference(x), rtol=1e-5, atol=1e-5)
    loss_ref, grads_ref = m.loss_and_grads_reference(x, t)
    loss, grads = m.loss_and_grads(x, t)
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    for k in m.names():
        assert grads[k].dtype == np.float32
        np.testing.assert_allclose(grads[k], grads_ref[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_reference_gradients_by_central_differences_and_a_negative_control():
    """loss_and_grads_reference is itself right: central differences in
    float64; and a reference with the wrong shuffle order in the backward fails."""
    m, x, t = _reference_case("tanh", "dcr", 2, np.float64, batch=1)
    m.config = ESPCNConfig(scale=2, channels=2, hidden=((3, 3), (3, 2)), order="dcr")
    m.params = ESPCN(config=m.config, rng=np.random.default_rng(5)).params
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    x, t = x[:, :, :4, :3], t[:, :, :8, :6]
    _, grads = m.loss_and_grads_reference(x, t)
    for name in m.names():
        check_gradient(lambda: m.loss_and_grads_reference(x, t)[0], m.params[name], grads[name], tol=1e-6)
    right = m.config
    m.config = ESPCNConfig(scale=2, channels=2, hidden=((3, 3), (3, 2)), order="dcr_t")
    wrong = m.loss_and_grads_reference(x, t)[1]["conv3.weight"]
    m.config = right
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_gradient(lambda: m.loss_and_grads_reference(x, t)[0], m.params["conv3.weight"], wrong)


def test_reference_is_the_loop_definition():
    """forward_reference equals the loop twins of conv2d and PS, composed by hand."""
    from espcn_ref.ops.conv import conv2d_reference
    from espcn_ref.ops.shuffle import pixel_shuffle_reference

    m, x, _ = _reference_case("relu", "dcr_t", 2, np.float64, batch=2, r=3)
    h = x
    for l in (1, 2, 3):
        w, b = m.params[f"conv{l}.weight"], m.params[f"conv{l}.bias"]
        h = conv2d_reference(h, w, b, 1, w.shape[2] // 2)
        if l < 3:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(m.forward_reference(x), pixel_shuffle_reference(h, 3, "dcr_t"), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, image_rows, threads, want", [
    (15, 324, 2, 1),  # below SHARD_MIN_BATCH: one piece
    (16, 324, 2, 2),  # the training batch: 2 shards of 8 patches of 17x17
    (64, 324, 2, 8),
    (64, 324, 1, 7),  # ceil(20736 / 3072)
    (32, 324, 3, 6),  # a multiple of the thread count
    (16, 10_000, 2, 16),  # big images: one per shard, no more
])
def test_shard_count(n, image_rows, threads, want):
    from espcn_ref.engine.shards import shard_count

    assert shard_count(n, image_rows, threads) == want


def test_sharded_gradients_equal_the_whole_batch():
    """loss_and_grads on 2 threads (the batch split in 2 shards, or in 8 when
    shards are kept small) is the same sum as on 1, and the same bits every time."""
    from espcn_ref.engine import network, shards
    from espcn_ref.engine.shards import SHARD_MIN_BATCH

    rng = np.random.default_rng(10)
    m = ESPCN(3, rng=rng)
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    n = SHARD_MIN_BATCH + 3  # uneven shards
    x, t = rng.random((n, 1, 6, 5)), rng.random((n, 1, 18, 15))
    loss1, g1 = m.loss_and_grads(x, t, threads=1)
    loss2, g2 = m.loss_and_grads(x, t, threads=2)
    assert loss2 == pytest.approx(loss1, rel=1e-12) and loss1 == pytest.approx(mse_loss(m.forward(x), t), rel=1e-12)
    for k in g1:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-10, atol=1e-13, err_msg=k)
    again = m.loss_and_grads(x, t, threads=2)[1]
    assert all(np.array_equal(again[k], g2[k]) for k in g2)
    sizes = []
    with pytest.MonkeyPatch.context() as mp:  # more shards than threads: 19 images of 42 rows, shards of <= 100 rows
        mp.setattr(shards, "SHARD_ROWS", 100)
        mp.setattr(network, "loss_and_grads", lambda p, xs, *a, run=network.loss_and_grads: sizes.append(len(xs)) or run(p, xs, *a))
        loss8, g8 = m.loss_and_grads(x, t, threads=2)
        again8 = m.loss_and_grads(x, t, threads=2)[1]
        one_thread = m.loss_and_grads(x, t, threads=1)  # 8 shards (ceil(798 / 100)), one after the other
    assert sorted(sizes[:8]) == [2, 2, 2, 2, 2, 3, 3, 3] and len(sizes) == 24  # 2 * ceil(798 / 200) = 8 shards, 3 calls
    assert loss8 == pytest.approx(loss1, rel=1e-12) and one_thread[0] == pytest.approx(loss1, rel=1e-12)
    for k in g1:
        np.testing.assert_allclose(g8[k], g1[k], rtol=1e-10, atol=1e-13, err_msg=k)
        np.testing.assert_allclose(one_thread[1][k], g1[k], rtol=1e-10, atol=1e-13, err_msg=k)
        assert np.array_equal(again8[k], g8[k])
    small = m.loss_and_grads(x[:4], t[:4], threads=2)[1]  # below SHARD_MIN_BATCH: one piece
    y, cache = m.forward_train(x[:4])
    whole = m.backward(mse_loss_backward(y, t[:4]), cache)
    assert all(np.array_equal(small[k], whole[k]) for k in whole)


def test_default_init_is_pytorchs_uniform():
    """PyTorch's Conv2d default: weights and biases uniform in +-1/sqrt(fan_in),
    fan_in = C_in k^2 (5x5x1 = 25, 3x3x64 = 576, 3x3x32 = 288)."""
    model = ESPCN(3, rng=np.random.default_rng(0))
    for l, fan_in in ((1, 25), (2, 576), (3, 288)):
        bound = 1 / np.sqrt(fan_in)
        w = model.params[f"conv{l}.weight"]
        assert np.all(np.abs(w) <= bound) and np.all(np.abs(model.params[f"conv{l}.bias"]) <= bound)
        assert np.max(np.abs(w)) > 0.95 * bound  # uses the whole range, not a narrower one
        assert abs(np.std(w) - bound / np.sqrt(3)) < 0.1 * bound / np.sqrt(3)  # the uniform's std


def test_a_checkpoint_is_not_a_model(tmp_path):
    from espcn_ref.train import TrainConfig, train

    img = {"a": np.full((60, 60), 90, np.uint8)}
    train(TrainConfig(scale=2, epochs=1), img, tmp_path, progress=False)
    with pytest.raises(ModelFormatError, match="is a training checkpoint, not a model: use model.npz"):
        load_model(tmp_path / "checkpoint.npz")
    assert load_model(tmp_path / "model.npz").scale == 2


def test_target_and_dy_must_match_what_x_implies():
    """16+ images are cut into shards by x's rows: a target with an extra image
    would have been cut short silently. Every size is checked before any work."""
    m = ESPCN(2)
    x = np.zeros((16, 1, 6, 5), np.float32)
    for n in (15, 17):
        with pytest.raises(ValueError, match=rf"target must have shape \(16, 1, 12, 10\) .*got \({n}, 1, 12, 10\)"):
            m.loss_and_grads(x, np.zeros((n, 1, 12, 10), np.float32))
    _, cache = m.forward_train(x[:2])
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 1, 12, 10\) .*got \(2, 4, 5, 5\)"):
        m.backward(np.zeros((2, 4, 5, 5)), cache)
