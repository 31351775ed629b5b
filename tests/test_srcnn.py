"""SRCNN (Dong et al. 2014/2016) as the same layer stack with r = 1 after a
bicubic pre-upscaling: shapes, the reference, the engine, files, training."""

from fractions import Fraction

import numpy as np
import pytest

from espcn_ref.data import imresize, sample_images
from espcn_ref.model import ESPCN, ESPCNConfig, load_model, srcnn_config, srcnn_over_espcn
from espcn_ref.ops.conv import conv2d_reference
from espcn_ref.train import TrainConfig, train


def test_srcnn_shapes_parameters_and_cost():
    """9-1-5: 8,032 weights + 97 biases; 9-5-5: 57,184 multiply-adds per HR
    pixel, 22.7x ESPCN's 22,624 / 9 at x3 (Sec. 3.5's comparison)."""
    c = srcnn_config(3, "915")
    assert c.layer_shapes() == [(64, 1, 9, 9), (32, 64, 1, 1), (1, 32, 5, 5)]
    assert (c.kind, c.scale, c.pre_upscale, c.overall_scale, c.activation) == ("srcnn", 1, 3, 3, "relu")
    assert ESPCN(config=c).num_params() == 8_032 + 97 and c.macs_per_hr_pixel() == 8_032
    c955 = srcnn_config(4, "955")
    assert c955.macs_per_hr_pixel() == 57_184 and ESPCN(config=c955).scale == 4
    espcn3 = ESPCNConfig(scale=3)
    assert espcn3.kind == "espcn" and espcn3.macs_per_hr_pixel() == pytest.approx(22_624 / 9)
    assert c955.macs_per_hr_pixel() / espcn3.macs_per_hr_pixel() == pytest.approx(22.75, abs=0.01)
    with pytest.raises(ValueError, match="variant must be one of"):
        srcnn_config(3, "935")


def test_sec35_ratios_from_the_configs():
    """SRCNN 9-5-5 over ESPCN: multiply-adds per HR pixel 22.7x at x3 and
    37.1x at x4; weights 2.53x and 2.32x (the paper's "2.5" is x3's); with
    the biases the parameter ratios would be 2.52x and 2.31x."""
    x3, x4 = srcnn_over_espcn(3), srcnn_over_espcn(4)
    assert x3["macs"] == Fraction(57_184, Fraction(22_624, 9)) == Fraction(16_083, 707)  # 22.748...
    assert x4["macs"] == Fraction(57_184, Fraction(24_640, 16)) == Fraction(14_296, 385)  # 37.132...
    assert x3["weights"] == Fraction(57_184, 22_624) and x4["weights"] == Fraction(57_184, 24_640)
    assert x3["params"] == Fraction(57_184 + 97, 22_624 + 105) and x4["params"] == Fraction(57_184 + 97, 24_640 + 112)
    assert [round(float(v), 2) for v in (x3["macs"], x4["macs"], x3["weights"], x4["weights"])] == [22.75, 37.13, 2.53, 2.32]
    assert [round(float(v), 1) for v in (x3["macs"], x4["macs"])] == [22.7, 37.1]
    assert [round(float(v), 2) for v in (x3["params"], x4["params"])] == [2.52, 2.31]  # so 2.53 / 2.32 are weights only
    for r in (3, 4):  # one weight, one multiply-add per pixel its layer runs on
        assert srcnn_over_espcn(r)["macs"] == r * r * srcnn_over_espcn(r)["weights"]
    assert ESPCN(config=srcnn_config(3, "915")).num_params(biases=False) == 8_032  # SRCNN's own count
    assert srcnn_over_espcn(3, "915")["weights"] == Fraction(8_032, 22_624)


def _srcnn64(r=3, seed=2):
    rng = np.random.default_rng(seed)
    m = ESPCN(config=srcnn_config(r, "915"), rng=rng)
    m.params = {k: v.astype(np.float64) for k, v in m.params.items()}
    return m, rng


def test_srcnn_forward_is_bicubic_then_the_stack():
    """forward = forward_reference = imresize by r, then conv, relu, conv, relu, conv (r = 1: PS is the identity)."""
    m, rng = _srcnn64()
    x = rng.random((2, 1, 6, 7))
    h = np.stack([imresize(x[n, 0], scale=3) for n in range(2)])[:, None]  # (2, 1, 18, 21)
    for l in (1, 2, 3):
        w, b = m.params[f"conv{l}.weight"], m.params[f"conv{l}.bias"]
        h = conv2d_reference(h, w, b, 1, w.shape[2] // 2)
        if l < 3:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(m.forward_reference(x), h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.forward(x), h, rtol=1e-12, atol=1e-12)


def test_srcnn_engine_loss_and_gradients_equal_the_reference():
    m, rng = _srcnn64(r=2)
    x, t = rng.random((3, 1, 5, 4)), rng.random((3, 1, 10, 8))
    loss_ref, grads_ref = m.loss_and_grads_reference(x, t)
    loss, grads = m.loss_and_grads(x, t)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    for k in m.names():
        np.testing.assert_allclose(grads[k], grads_ref[k], rtol=1e-10, atol=1e-12, err_msg=k)
    with pytest.raises(ValueError, match=r"target must have shape \(3, 1, 10, 8\)"):
        m.loss_and_grads(x, t[:, :, :9])


def test_srcnn_file_records_its_scale_and_pre_upscaling(tmp_path):
    m = ESPCN(config=srcnn_config(3, "915"), rng=np.random.default_rng(0))
    m.save(tmp_path / "srcnn.npz")
    back = load_model(tmp_path / "srcnn.npz", expect_scale=3)
    assert back.config == m.config and back.scale == 3 and back.config.pre_upscale == 3
    x = np.random.default_rng(1).random((1, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(back.forward(x), m.forward(x))
    with pytest.raises(ValueError, match="is a x3 model, but x2 was asked for"):
        load_model(tmp_path / "srcnn.npz", expect_scale=2)


def test_srcnn_trains_through_the_same_trainer(tmp_path):
    """The trainer's loop, recipe and run folder, arch="srcnn-915": the loss falls."""
    photos = sample_images(["astronaut", "chelsea", "coffee", "rocket"])
    images = {k: v[60:150, 100:190] for k, v in photos.items()}
    cfg = TrainConfig(arch="srcnn-915", scale=2, activation="relu", epochs=4, patch=8, stride=4, lr=3e-3)
    state = train(cfg, images, tmp_path / "run", progress=False)
    losses = [h["train_loss"] for h in state["history"]]
    assert state["status"] == "finished" and losses[-1] < 0.8 * losses[0], losses
    model = load_model(tmp_path / "run" / "model.npz", expect_scale=2)
    assert model.config.kind == "srcnn" and model.config.layer_shapes()[0] == (64, 1, 9, 9)
    with pytest.raises(ValueError, match="arch must be one of"):
        TrainConfig(arch="vdsr")
