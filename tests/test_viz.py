"""espcn_ref.viz: every figure draws the library's own numbers, and write_figures writes them."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from espcn_ref import pixel_shuffle, pixel_unshuffle, shuffle_permutation, viz
from espcn_ref import conv2d
from espcn_ref.equivalence import (activation_patterns, subpixel_to_transposed,
                                   transposed_conv2d, transposed_padding, transposed_to_subpixel,
                                   upsampling_cost, zero_insert)
from espcn_ref.data import rgb_to_y_fullrange
from espcn_ref.evaluate import evaluate_images
from espcn_ref.model import ESPCN, ESPCNConfig
from espcn_ref.ops.shuffle import ORDERS, channel_index


def image_data(ax, n=0):
    """The array behind the n-th image of an axis."""
    return np.asarray(ax.images[n].get_array())


# --- eq. (4) --------------------------------------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("C, r, H, W", [(1, 2, 2, 2), (2, 2, 2, 2), (1, 3, 2, 1), (3, 2, 1, 2)])
def test_shuffle_figure_cells_are_pixel_shuffle(order, C, r, H, W):
    fig = viz.plot_shuffle(C, r, order, H, W)
    n = C * r * r
    assert isinstance(fig, Figure) and len(fig.axes) == n + C
    ids = np.arange(n * H * W, dtype=np.float64).reshape(1, n, H, W)  # id = k H W + h W + w
    shuffled = pixel_shuffle(ids, r, order)[0].astype(int)  # (C, rH, rW)
    for k in range(n):
        assert np.all(image_data(fig.axes[k]) == k)
    for c in range(C):
        ax = fig.axes[n + c]
        np.testing.assert_array_equal(image_data(ax), shuffled[c] // (H * W), "cell colour vs source channel")
        labels = [t.get_text() for t in ax.texts]  # row-major over the rH x rW cells
        expected = [f"{v // (H * W)}{chr(ord('a') + v % (H * W))}" for v in shuffled[c].ravel()]
        assert labels == expected
        # the rendered colour of each output cell is the colour of its input channel
        im_out, im_in = ax.images[0], fig.axes[int(shuffled[c, 0, -1] // (H * W))].images[0]
        np.testing.assert_allclose(im_out.to_rgba(image_data(ax))[0, -1], im_in.to_rgba(image_data(im_in.axes))[0, 0])


def test_shuffle_figures_show_which_orders_coincide():
    def out_cells(C, r, order):
        fig = viz.plot_shuffle(C, r, order)
        return [image_data(ax) for ax in fig.axes[C * r * r:]]

    assert all(np.array_equal(a, b) for a, b in zip(out_cells(1, 2, "crd"), out_cells(1, 2, "dcr")))
    assert not np.array_equal(out_cells(1, 2, "dcr")[0], out_cells(1, 2, "dcr_t")[0])
    assert not np.array_equal(out_cells(2, 2, "crd")[0], out_cells(2, 2, "dcr")[0])


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("C", [1, 2])
def test_shuffle_figure_names_eq4_only_for_a_reading_of_it(order, C):
    """The paper leaves eq. (4)'s x unsaid: dcr reads it as the column, dcr_t as the
    row; crd is a reading only for C = 1 (where it equals dcr)."""
    title = viz.plot_shuffle(C, 2, order)._suptitle.get_text()
    reading = {"dcr": "x = column", "dcr_t": "x = row", "crd": "x = column" if C == 1 else None}[order]
    if reading is None:
        assert "not eq. (4)" in title
    else:
        assert "eq. (4)" in title and reading in title and "not eq. (4)" not in title


@pytest.mark.parametrize("order", ORDERS)
def test_shuffle_matrix_is_the_shuffle_and_a_permutation(order):
    C, r, H, W = 2, 2, 2, 3
    M = viz.shuffle_matrix(C, r, H, W, order)
    x = np.random.default_rng(0).standard_normal((1, C * r * r, H, W))
    np.testing.assert_array_equal(M @ x.ravel(), pixel_shuffle(x, r, order).ravel())
    y = pixel_shuffle(x, r, order)
    np.testing.assert_array_equal(M.T @ y.ravel(), pixel_unshuffle(y, r, order).ravel())
    assert set(np.unique(M)) == {0.0, 1.0} and np.all(M.sum(0) == 1) and np.all(M.sum(1) == 1)
    fig = viz.plot_shuffle_matrix(C, r, H, W, order)
    assert len(fig.axes) == 1
    np.testing.assert_array_equal(image_data(fig.axes[0]), M)


def test_channel_permutation_figure_is_shuffle_permutation():
    fig = viz.plot_channel_permutation(3, 2, "crd", "dcr_t")
    P = image_data(fig.axes[0])
    np.testing.assert_array_equal(P.argmax(axis=1), shuffle_permutation(3, 2, "crd", "dcr_t"))
    assert np.all(P.sum(axis=0) == 1) and np.all(P.sum(axis=1) == 1)


# --- Sec. 2.1-2.2 -----------------------------------------------------------------------


@pytest.mark.parametrize("H, W, r, k_s, p", [(4, 4, 2, 4, 1), (3, 5, 3, 9, 3), (2, 2, 2, 3, 0)])
def test_zero_insertion_figure_is_zero_insert(H, W, r, k_s, p):
    fig = viz.plot_zero_insertion(H, W, r, k_s, p)
    assert len(fig.axes) == 2
    x = np.arange(1, H * W + 1, dtype=np.float64).reshape(1, 1, H, W)
    np.testing.assert_array_equal(image_data(fig.axes[0]), x[0, 0])
    z = image_data(fig.axes[1])
    np.testing.assert_array_equal(z, zero_insert(x, r, k_s - 1 - p)[0, 0])
    assert z.shape == ((H - 1) * r + 1 + 2 * (k_s - 1 - p), (W - 1) * r + 1 + 2 * (k_s - 1 - p))
    assert sorted(z[z > 0]) == list(range(1, H * W + 1))  # every LR pixel once, the rest zeros


@pytest.mark.parametrize("k_s, r, p", [(4, 2, 1), (9, 3, 3), (5, 2, 0), (3, 3, 1)])
def test_activation_pattern_figure_is_activation_patterns(k_s, r, p):
    fig = viz.plot_activation_patterns(k_s, r, p)
    mask = activation_patterns(k_s, r, p)
    assert len(fig.axes) == r * r
    for i in range(r):
        for j in range(r):
            ax = fig.axes[i * r + j]
            np.testing.assert_array_equal(image_data(ax), mask[i, j])
            assert ax.get_title().endswith(f"{int(mask[i, j].sum())} taps")


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("k_s, r, p", [(4, 2, 1), (6, 3, 2), (6, 2, 0)])
def test_subpixel_kernel_figure_is_transposed_to_subpixel(order, k_s, r, p):
    w_t = np.random.default_rng(k_s).standard_normal((1, 1, k_s, k_s))
    fig = viz.plot_subpixel_kernels(w_t, r, p, order)
    w_s, _, _ = transposed_to_subpixel(w_t, r, p, order)
    assert len(fig.axes) == 1 + r * r
    np.testing.assert_array_equal(image_data(fig.axes[0]), w_t[0, 0])
    for i in range(r):
        for j in range(r):
            np.testing.assert_array_equal(image_data(fig.axes[1 + i * r + j]), w_s[channel_index(0, i, j, 1, r, order), 0])
    # every tap of the big kernel is framed once, in the colour of the small kernel that holds it
    frames = fig.axes[0].patches
    assert len(frames) == k_s * k_s
    for i in range(r):
        for j in range(r):
            small = fig.axes[1 + i * r + j]
            colour = small.spines["top"].get_edgecolor()
            taps = [(round(f.get_y() + 0.45), round(f.get_x() + 0.45)) for f in frames
                    if np.allclose(f.get_edgecolor(), colour)]
            held = sorted(w_t[0, 0][a, b] for a, b in taps)
            assert held == sorted(image_data(small).ravel())


def test_three_forms_figure_agrees_with_the_library():
    rng = np.random.default_rng(1)
    x, w_t = rng.random((1, 1, 5, 6)), rng.standard_normal((1, 1, 4, 4))
    fig = viz.plot_three_forms(x, w_t, 2, 1)
    assert len(fig.axes) == 4
    expected = transposed_conv2d(x, w_t, 2, 1)[0, 0]
    for ax in fig.axes[1:]:
        np.testing.assert_allclose(image_data(ax), expected, atol=1e-12)


def test_upsampling_table_and_figure():
    rows = viz.upsampling_table(1, 4, 1, 10, 12, 3, 9, repeat=1)
    cost = upsampling_cost(1, 4, 1, 10, 12, 3, 9)
    assert [row["form"] for row in rows] == ["subpixel", "transposed", "fractional_stride"]
    assert [row["macs"] for row in rows] == [cost["subpixel"], cost["transposed"], cost["fractional_stride"]]
    assert [row["mac_ratio"] for row in rows] == [1.0, 1.0, 9.0]
    assert [row["time_ratio"] for row in rows] == [row["seconds"] / rows[0]["seconds"] for row in rows]
    fig = viz.plot_upsampling_cost(rows)
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == [row["mac_ratio"] for row in rows] + [row["time_ratio"] for row in rows]


# --- Sec. 3 and Figs. 3-5 -------------------------------------------------------------------


def test_training_curves_plot_the_log(tmp_path):
    log = tmp_path / "log.csv"
    rows = [{"epoch": e, "lr": 1e-3, "train_loss": 0.01 / e, "val_psnr": 25 + e, "time_s": e} for e in (1, 2, 3)]
    with open(log, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    fig = viz.plot_training_curves(log, baseline_psnr=26.5)
    assert len(fig.axes) == 2
    loss, val = fig.axes[0].lines[0], fig.axes[1].lines[0]
    np.testing.assert_allclose(loss.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(loss.get_ydata(), [row["train_loss"] for row in rows])
    np.testing.assert_allclose(val.get_ydata(), [26, 27, 28])
    assert fig.axes[0].get_yscale() == "log"
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), [26.5, 26.5])  # the bicubic line
    (tmp_path / "empty.csv").write_text("epoch,lr,train_loss,val_psnr,time_s\n")
    with pytest.raises(ValueError, match="no epochs"):
        viz.plot_training_curves(tmp_path / "empty.csv")


@pytest.fixture(scope="module")
def small_model():
    return ESPCN(config=ESPCNConfig(scale=3, hidden=((5, 6), (3, 5))), rng=np.random.default_rng(3))


def test_first_layer_filters_are_conv1_sorted_by_variance(small_model):
    """Fig. 3 sorts the filters by variance; an untrained network goes beside, sorted the same way."""
    w = small_model.params["conv1.weight"]  # (6, 1, 5, 5)
    variances = w.reshape(6, -1).astype(np.float64).var(axis=1)
    order = viz.training.first_layer_order(small_model)
    assert sorted(order) == list(range(6)) and np.all(np.diff(variances[order]) <= 0)
    fig = viz.plot_first_layer_filters(small_model, ncols=4)
    assert len(fig.axes) == 6
    for pos, ax in enumerate(fig.axes):
        np.testing.assert_array_equal(image_data(ax), w[order[pos], 0])
    fresh = ESPCN(config=small_model.config, rng=np.random.default_rng(0))
    fig = viz.plot_first_layer_filters(small_model, ncols=4, untrained=fresh)
    assert len(fig.axes) == 12
    w0 = fresh.params["conv1.weight"]
    order0 = viz.training.first_layer_order(fresh)
    for pos in range(6):
        np.testing.assert_array_equal(image_data(fig.axes[pos]), w[order[pos], 0])
        np.testing.assert_array_equal(image_data(fig.axes[6 + pos]), w0[order0[pos], 0])


def test_last_layer_filters_before_and_after_the_shuffle(small_model):
    """Rows: the r^2 LR filters at their phase; PS of the filter bank (Fig. 4(c));
    the transposed-conv stamp, which is PS of the flipped bank and what one LR pixel paints."""
    fig = viz.plot_last_layer_filters(small_model, n_show=3)
    w = small_model.params["conv3.weight"].astype(np.float64)  # (9, 5, 3, 3)
    strongest = np.argsort(-np.linalg.norm(w.transpose(1, 0, 2, 3).reshape(5, -1), axis=1))[:3]
    assert len(fig.axes) == 9
    w_t = subpixel_to_transposed(w, 3)  # (5, 1, 9, 9)
    for n, c in enumerate(strongest):
        mosaic = image_data(fig.axes[n])  # 3 x 3 tiles of 3 x 3, 1 NaN pixel apart
        shuffled = image_data(fig.axes[3 + n])
        stamp = image_data(fig.axes[6 + n])
        for i in range(3):
            for j in range(3):
                np.testing.assert_array_equal(mosaic[4 * i : 4 * i + 3, 4 * j : 4 * j + 3], w[3 * i + j, c])
                for u in range(3):
                    for v in range(3):  # PS: tap (u, v) of phase (i, j) at (3u + i, 3v + j); the stamp flips the taps
                        assert shuffled[3 * u + i, 3 * v + j] == w[3 * i + j, c, u, v]
                        assert stamp[3 * (2 - u) + i, 3 * (2 - v) + j] == w[3 * i + j, c, u, v]
        assert np.isnan(mosaic[3]).all() and np.isnan(mosaic[:, 7]).all()
        np.testing.assert_array_equal(shuffled, pixel_shuffle(w[None, :, c], 3)[0, 0])
        np.testing.assert_array_equal(stamp, w_t[c, 0])
        np.testing.assert_array_equal(stamp, pixel_shuffle(w[None, :, c, ::-1, ::-1], 3)[0, 0])
        assert not np.array_equal(shuffled, stamp)
        # the stamp is what one LR feature pixel of map c paints in HR (no bias)
        delta = np.zeros((1, 5, 7, 7))
        delta[0, c, 3, 3] = 1.0
        painted = pixel_shuffle(conv2d(delta, w, padding=1), 3)[0, 0]  # (21, 21)
        p = transposed_padding(3, 3, lr_padding=1)
        np.testing.assert_allclose(painted[9 - p : 9 - p + 9, 9 - p : 9 - p + 9], w_t[c, 0], atol=1e-15)


def test_sr_panels_and_crops():
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (31, 26, 3), dtype=np.uint8)
    panels = viz.sr_panels(img, {"bicubic": "bicubic"}, 3)
    assert list(panels) == ["HR", "bicubic"]
    assert panels["HR"].shape == panels["bicubic"].shape == (30, 24, 3)
    np.testing.assert_array_equal(panels["HR"], img[:30, :24])
    fig = viz.plot_sr_crops(panels, box=(2, 3, 10, 12))
    assert len(fig.axes) == 2
    for ax, (name, im) in zip(fig.axes, panels.items()):
        assert ax.get_title() == name
        np.testing.assert_array_equal(image_data(ax), im[2:12, 3:15])
    with pytest.raises(ValueError, match="same size"):
        viz.plot_sr_crops({"a": img, "b": img[:20]})


# --- the evaluation protocol --------------------------------------------------------------


@pytest.fixture(scope="module")
def photos():
    from espcn_ref.data import sample_images

    images = sample_images(["astronaut", "camera"])
    return {k: v[100:190, 200:283] for k, v in images.items()}  # colour and grayscale


def test_protocol_variants_rows(photos):
    rows = viz.protocol_variants(photos, 3)
    assert [row["variant"] for row in rows] == [v for v, _ in viz.protocol._VARIANTS]
    base = evaluate_images("bicubic", photos, 3)["psnr"]
    assert rows[0]["psnr"] == pytest.approx(base, abs=1e-12) and rows[0]["delta"] == 0
    assert all(row["delta"] == pytest.approx(row["psnr"] - base) for row in rows)
    assert rows[2]["psnr"] <= rows[0]["psnr"] + 1e-12  # log of a mean >= mean of logs (Jensen)
    gray = viz.protocol_variants({"camera": photos["camera"]}, 3)
    assert gray[3]["delta"] == 0 and gray[4]["delta"] == 0  # a gray image is its own Y, RGB and full-range Y
    model = ESPCN(scale=3, rng=np.random.default_rng(0))
    with_model = viz.protocol_variants(photos, 3, model)
    assert len(with_model) == len(rows) - 1
    assert with_model[0]["psnr"] == pytest.approx(evaluate_images(model, photos, 3)["psnr"], abs=1e-9)
    fig = viz.plot_protocol_variants(rows)
    assert [bar.get_width() for bar in fig.axes[0].patches] == [row["delta"] for row in rows]


@pytest.mark.parametrize("r, equal", [(3, True), (5, True), (2, False), (4, False)])
def test_scipy_zoom_lr_is_nearest_at_odd_r(photos, r, equal):
    """zoom(grid_mode=True) samples LR pixel i at HR i r + (r - 1)/2: a whole pixel for odd r,
    where the spline returns the sample, with no low-pass; the 'nearest' row keeps the same pixels."""
    rows = {row["variant"]: row["psnr"] for row in viz.protocol_variants(photos, r)}
    nearest = rows["LR by nearest (every r-th pixel, no blur)"]
    spline = rows["LR by scipy.ndimage.zoom (cubic spline)"]
    assert (spline == pytest.approx(nearest, abs=1e-9)) is equal


def test_full_range_luma_is_pillows():
    Image = pytest.importorskip("PIL.Image")
    img = np.random.default_rng(5).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    ours = rgb_to_y_fullrange(img)
    np.testing.assert_array_equal(ours, np.asarray(Image.fromarray(img).convert("L")))


# --- Fig. 2: PSNR against time, from make bench's JSON ---------------------------------------


def bench_json_fig2(threads=("1", "2")) -> dict:
    """A made-up `make bench` JSON with the Fig. 2 entry benchmarks/bench.py writes (no timing here)."""
    methods = {"bicubic": ("bicubic", 27.54, "measured", 0.004), "srcnn_915": ("SRCNN 9-1-5", 29.00, "published", 0.1),
               "srcnn_955": ("SRCNN 9-5-5", 29.22, "published", 0.7), "espcn": ("ESPCN", 29.28, "measured", 0.02)}
    runs = {}
    for n in threads:
        k = 1 / int(n)  # two threads: half the time
        runs[n] = {"synthetic": False, "images": "Set14 from somewhere", "threads": int(n),
                   "cpus": [0] if n == "1" else [0, 1],
                   "methods": {m: {"label": label, "psnr": psnr, "psnr_kind": kind, "psnr_source": kind, "weights": "-"}
                               for m, (label, psnr, kind, _) in methods.items()},
                   "seconds_per_image": {m: t * k for m, (*_, t) in methods.items()},
                   "time_ratio_srcnn_955_to_espcn": 35.0,
                   "config_ratios_srcnn_955_to_espcn": {"macs": 22.748, "weights": 2.5276, "params": 2.52}}
    return {"env": {}, "fig2_set14_x3": runs}


def test_fig2_draws_every_method_and_thread_count_from_the_json():
    bench = bench_json_fig2()
    points = viz.fig2_points(bench)
    assert [(p["method"], p["threads"]) for p in points] == [(m, n) for n in (1, 2) for m in
                                                          ("bicubic", "srcnn_915", "srcnn_955", "espcn")]
    fig = viz.plot_psnr_vs_time(points, viz.fig2_caption(bench))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"  # as in the paper
    markers = [line for line in ax.lines if line.get_linestyle() == "None"]  # one marker per point
    drawn = {(float(line.get_xdata()[0]), float(line.get_ydata()[0])): line for line in markers}
    assert len(markers) == len(drawn) == 8
    runs = bench["fig2_set14_x3"]
    for n, run in runs.items():
        for m, spec in run["methods"].items():
            line = drawn[(run["seconds_per_image"][m], spec["psnr"])]
            hollow = line.get_markerfacecolor() == "none"
            assert hollow == (spec["psnr_kind"] == "published"), (n, m, "hollow vs published")
            assert line.get_marker() == ("o" if n == "1" else "s")
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["bicubic, 27.54 dB\nmeasured", "SRCNN 9-1-5, 29.00 dB\npublished",
                      "SRCNN 9-5-5, 29.22 dB\npublished; not trained here", "ESPCN, 29.28 dB\nmeasured"]
    caption = fig.texts[0].get_text().replace("\n", " ")
    assert "multiply-adds 22.7x, weights 2.53x" in caption and "35.0x (1 thread), 35.0x (2 threads)" in caption
    assert "1 thread (pinned)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_fig2_one_thread_only_and_synthetic_times_say_so():
    bench = bench_json_fig2(threads=("1",))
    bench["fig2_set14_x3"]["1"]["synthetic"] = True
    assert {p["threads"] for p in viz.fig2_points(bench)} == {1}
    assert "synthetic images of Set14's sizes" in viz.fig2_caption(bench)
    viz.plot_psnr_vs_time(viz.fig2_points(bench))  # no caption: fine too


def test_write_fig2_skips_with_a_note_when_the_json_has_no_fig2(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"env": {}}))  # a JSON from before Fig. 2's timings
    with pytest.warns(UserWarning, match="has no 'fig2_set14_x3' entry"):
        assert viz.write_fig2(tmp_path, old) is None
    with pytest.warns(UserWarning, match="no benchmark JSON at"):
        assert viz.write_fig2(tmp_path, tmp_path / "missing.json") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]
    new = tmp_path / "new.json"
    new.write_text(json.dumps(bench_json_fig2()))
    assert viz.write_fig2(tmp_path, new) == tmp_path / "fig2_psnr_vs_time.png"
    assert (tmp_path / "fig2_psnr_vs_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_read_bench_reads_the_json_or_says_none(tmp_path):
    assert viz.read_bench(tmp_path / "missing.json") is None
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench_json_fig2()))
    assert viz.read_bench(path) == bench_json_fig2()


# --- Sec. 3.5: what upscaling first costs ----------------------------------------------------


def test_upscale_first_costs_are_the_configs_counts():
    from fractions import Fraction

    from espcn_ref.model import srcnn_config, srcnn_over_espcn

    rows = viz.upscale_first_costs((2, 3, 4))
    assert [row["r"] for row in rows] == [2, 3, 4]
    for row in rows:
        r, m = row["r"], row["models"]
        assert m["ESPCN"]["macs"] == Fraction(1600 + 18432 + 288 * r * r, r * r)  # 1600 + 18432 + 288 r^2 per LR pixel
        assert float(m["ESPCN"]["macs"]) == pytest.approx(ESPCNConfig(scale=r).macs_per_hr_pixel())
        assert m["SRCNN 9-1-5"]["macs"] == 8032 and m["SRCNN 9-5-5"]["macs"] == 57184  # every HR pixel, any r
        assert float(m["SRCNN 9-1-5"]["macs"]) == srcnn_config(r, "915").macs_per_hr_pixel()
        for name, c in m.items():  # every weight is one multiply-add per pixel its layer runs on
            assert c["macs"] == c["weights"] * c["stack_pixels"], name
        assert m["ESPCN"]["stack_pixels"] == Fraction(1, r * r) and m["SRCNN 9-5-5"]["stack_pixels"] == 1
        assert row["ratio"]["SRCNN 9-5-5"] == srcnn_over_espcn(r)["macs"]
        assert row["ratio"]["SRCNN 9-1-5"] == srcnn_over_espcn(r, "915")["macs"]
    assert round(float(rows[1]["ratio"]["SRCNN 9-5-5"]), 2) == 22.75 and round(float(rows[2]["ratio"]["SRCNN 9-5-5"]), 1) == 37.1
    fig = viz.plot_upscale_first_costs(rows)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and [l.get_label() for l in ax.lines] == list(viz.speed.UPSCALE_FIRST_MODELS)
    for line, name in zip(ax.lines, viz.speed.UPSCALE_FIRST_MODELS):
        np.testing.assert_allclose(line.get_ydata(), [float(row["models"][name]["macs"]) for row in rows])
    assert "22.7×" in [t.get_text() for t in ax.texts]


# --- checkerboard artefacts ------------------------------------------------------------------


def test_phase_means_and_block_residual_of_a_periodic_pattern():
    r = 3
    P = np.arange(9.0).reshape(3, 3)  # phase (i, j) holds 3 i + j
    y = np.tile(P, (5, 4))  # (15, 12)
    np.testing.assert_array_equal(viz.phase_means(y, r), P)
    np.testing.assert_array_equal(viz.phase_means(y, r, border=1), P)  # phases stay counted from y[0, 0]
    assert viz.phase_spread(y, r, border=2) == 8.0
    np.testing.assert_allclose(viz.block_residual(y, r), np.tile(P - P.mean(), (5, 4)), atol=1e-12)
    lr = np.random.default_rng(0).random((4, 5))
    nearest = np.kron(lr, np.ones((r, r)))  # a nearest-neighbour upscaling: no pattern
    np.testing.assert_allclose(viz.block_residual(nearest, r), 0.0, atol=1e-15)
    assert viz.phase_spread(np.ones((9, 9)), r) == 0.0
    assert viz.block_residual(np.ones((10, 8)), r).shape == (9, 6)  # whole blocks only
    with pytest.raises(ValueError, match="fewer than r"):
        viz.phase_means(y, r, border=6)
    with pytest.raises(ValueError, match="one non-empty"):
        viz.phase_means(y[None], r)


def test_checkerboard_numbers_of_the_three_layers():
    """On a flat input: independent phases differ, ICNR's are equal, and a deconvolution with
    k_s = 4, r = 3 and a constant kernel gives each phase its number of overlapping stamps."""
    from espcn_ref import conv_transpose2d

    r, v = 3, 0.5
    x = np.full((1, 1, 12, 12), v, np.float32)
    border = 4 * r  # the zero padding reaches 2 + 1 + 1 LR pixels in
    assert viz.phase_spread(ESPCN(r).forward(x)[0, 0], r, border) > 0.05
    y_icnr = ESPCN(r, init="icnr").forward(x)[0, 0]
    assert viz.phase_spread(y_icnr, r, border) == 0.0
    np.testing.assert_allclose(viz.block_residual(y_icnr, r), 0.0, atol=1e-6)  # nearest-neighbour, at the border too
    k_s, c = 4, 9 / 16  # constant kernel, mean gain (k_s / r)^2 c = 1
    w = np.full((1, 1, k_s, k_s), c)
    y = conv_transpose2d(x.astype(np.float64), w, stride=r, padding=1, output_padding=1)[0, 0]
    assert y.shape == (36, 36)
    counts = activation_patterns(k_s, r, 1).sum(axis=(2, 3))  # taps (= stamps) per output phase
    np.testing.assert_allclose(viz.phase_means(y, r, border=r), v * c * counts, atol=1e-12)
    assert counts.tolist() == [[1, 1, 2], [1, 1, 2], [2, 2, 4]]
    assert np.all(activation_patterns(6, r, 1).sum(axis=(2, 3)) == 4)  # mod(k_s, r) = 0: even overlap


def test_checkerboard_figure_draws_the_numbers():
    r, crop, border = 3, 9, 3
    rng = np.random.default_rng(1)
    P = rng.random((r, r))
    flat = np.tile(P, (6, 6))  # (18, 18)
    image = np.kron(rng.random((8, 8)), np.ones((r, r))) + np.tile(P, (8, 8))  # (24, 24)
    fig = viz.plot_checkerboard({"a": (flat, image), "b": (np.ones((18, 18)), np.kron(rng.random((8, 8)),
                                                                                     np.ones((r, r))))},
                                r, border=border, crop=crop)
    assert len(fig.axes) == 8
    a = fig.axes[:4]
    np.testing.assert_array_equal(image_data(a[0]), flat[border:border + crop, border:border + crop])
    np.testing.assert_allclose(image_data(a[1]), viz.phase_means(flat, r, border))
    np.testing.assert_array_equal(image_data(a[2]), image)
    np.testing.assert_allclose(image_data(a[3]), np.tile(P - P.mean(), (3, 3)), atol=1e-12)  # a block corner
    assert f"{viz.phase_spread(flat, r, border):.3g}" in a[1].get_title()
    b = fig.axes[4:]
    assert b[1].get_title().endswith("= 0")  # no pattern: spread 0, residual 0 (up to rounding)
    norm = b[0].images[0].norm  # a flat output is drawn flat, rounding noise not stretched
    assert norm.vmax - norm.vmin == pytest.approx(viz.checkerboard.MIN_SPAN)
    np.testing.assert_allclose(image_data(b[3]), 0.0, atol=1e-12)
    assert "a" in a[0].get_title() and "b" in b[0].get_title()


# --- files -----------------------------------------------------------------------------------


def test_save_figure_is_atomic(tmp_path):
    fig = viz.plot_shuffle_matrix()
    path = viz.save_figure(fig, tmp_path / "m.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def broken(fname, **kw):
        open(fname, "wb").write(b"half")
        raise RuntimeError("disk full")

    fig.savefig = broken
    with pytest.raises(RuntimeError):
        viz.save_figure(fig, tmp_path / "m.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png"]  # old file intact, no temp left
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("data", ["samples", "found"])
def test_write_figures_quick(tmp_path, monkeypatch, data):
    import imageio.v3 as iio

    from espcn_ref.data import find_data_dir

    if data == "samples":  # a fresh machine: no dataset next to the repository
        monkeypatch.delenv("ESPCN_DATA", raising=False)
        monkeypatch.chdir(tmp_path)
    elif find_data_dir() is None:
        pytest.skip("no dataset folder (../shared/data or ESPCN_DATA)")
    out = tmp_path / "figs"
    bench = tmp_path / "bench.json"  # Fig. 2 draws make bench's JSON
    bench.write_text(json.dumps(bench_json_fig2()))
    paths = viz.write_figures(out, quick=True, bench_json=bench)
    assert paths == [out / name for name in viz.FIGURES]
    assert sorted(p.name for p in out.iterdir()) == sorted(viz.FIGURES)  # nothing else left behind
    for p in paths:
        img = iio.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100, p.name


def test_viz_needs_no_display_and_no_pyplot():
    code = "import sys, espcn_ref.viz; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
