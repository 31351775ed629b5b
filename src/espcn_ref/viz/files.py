"""Every figure as a PNG file: ``espcn-ref figures --out DIR``."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .._atomic import atomic_path
from ..data import HELD_OUT, train_test_images
from ..evaluate import evaluate_images
from .protocol import plot_protocol_variants, protocol_variants
from .shuffle import plot_channel_permutation, plot_shuffle, plot_shuffle_matrix
from .speed import FIG2_ENTRY, fig2_caption, fig2_points, plot_psnr_vs_time
from .training import (
    plot_first_layer_filters,
    plot_last_layer_filters,
    plot_sr_crops,
    plot_training_curves,
    sr_panels,
)
from .upsampling import (
    plot_activation_patterns,
    plot_subpixel_kernels,
    plot_three_forms,
    plot_zero_insertion,
)


def save_figure(fig: Figure, path, dpi: int = 110) -> Path:
    """savefig to a temporary file in the same folder, then os.replace: a
    crash never leaves a half-written PNG at ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


FIGURES = ("shuffle_crd.png", "shuffle_dcr.png", "shuffle_dcr_t.png", "shuffle_matrix.png",
           "channel_permutation.png", "zero_insertion.png", "activation_patterns.png",
           "activation_patterns_x3_k9.png", "subpixel_kernels.png", "three_forms.png",
           "fig2_psnr_vs_time.png", "training_curves.png", "fig3_first_layer_filters.png", "fig4_last_layer_filters.png",
           "fig5_sr_crops.png", "protocol_variants.png")


BENCH_JSON = "benchmarks/results.json"  # `make bench` writes it; Fig. 2 is drawn from it


def write_fig2(out_dir, bench_json=BENCH_JSON) -> Path | None:
    """fig2_psnr_vs_time.png in ``out_dir``, drawn from `make bench`'s JSON.

    Returns its path; or None, with a warning saying why, when the file is
    missing or holds no Fig. 2 entry (a JSON from before the entry existed).
    """
    path = Path(bench_json)
    if not path.is_file():
        warnings.warn(f"fig2_psnr_vs_time.png skipped: no benchmark JSON at {path} (make bench writes it)",
                      UserWarning, stacklevel=2)
        return None
    bench = json.loads(path.read_text())
    if FIG2_ENTRY not in bench:
        warnings.warn(f"fig2_psnr_vs_time.png skipped: {path} has no {FIG2_ENTRY!r} entry "
                      "(it predates Fig. 2's timings; run make bench)", UserWarning, stacklevel=2)
        return None
    return save_figure(plot_psnr_vs_time(fig2_points(bench), fig2_caption(bench)), Path(out_dir) / "fig2_psnr_vs_time.png")


def _figure_data(data_dir, quick: bool):
    """(training images, {test name: image}, images to score) for write_figures."""
    train_imgs, scored, _ = train_test_images(data_dir)
    if HELD_OUT in scored:  # the offline default: score "camera" (a training photo) beside it
        scored = {**scored, "camera": train_imgs["camera"]}
    name = "butterfly_GT" if "butterfly_GT" in scored else sorted(scored)[0]
    test = {name: scored[name]}
    if quick:  # a few small images: seconds, not minutes
        train_imgs = {k: v[:120, :120] for k, v in sorted(train_imgs.items())[:3]}
        test = {k: v[:150, :150] for k, v in test.items()}
        scored = {k: v[:120, :120] for k, v in list(scored.items())[:2]}
    return train_imgs, test, scored


def write_figures(out_dir, data_dir=None, quick: bool = False, *, train_seconds: float = 120.0,
                  progress: bool = False, bench_json=BENCH_JSON) -> list[Path]:
    """Write every figure of this module as a PNG into ``out_dir``; return the paths.

    File names: :data:`FIGURES`, each written atomically (:func:`save_figure`).
    Data: T91 and Set5 under ``data_dir`` (or :func:`find_data_dir`'s
    choice), else the scikit-image photos. The training curves come from a
    run trained here for ``train_seconds`` (``progress``: show its bar). Figs.
    3 and 4 show the shipped x3 model when it is installed
    (``espcn_ref.registry.pretrained_path(3)``), else that run's network; Fig. 3
    puts an untrained network (seed 0) beside it; Fig. 5 shows both. quick:
    2 epochs on three 120x120 crops and small test images, a few seconds in
    all (for the tests). Fig. 2 comes from `make bench`'s JSON ``bench_json``
    (:func:`write_fig2`); without it, that figure is skipped with a warning.
    """
    from ..model import ESPCN, load_model
    from ..registry import pretrained, pretrained_path
    from ..train import TrainConfig, train

    out = Path(out_dir)
    train_imgs, test, scored = _figure_data(data_dir, quick)  # bad data fails before any folder is made
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the figures' output folder {out} is a file; choose a folder (--out)")
    out.mkdir(parents=True, exist_ok=True)
    r = 3
    rng = np.random.default_rng(0)
    w4 = rng.standard_normal((1, 1, 4, 4))  # the tutorial's k_s = 4, s = 2, p = 1 example
    figures = {
        "shuffle_crd.png": lambda: plot_shuffle(2, 2, "crd"),
        "shuffle_dcr.png": lambda: plot_shuffle(2, 2, "dcr"),
        "shuffle_dcr_t.png": lambda: plot_shuffle(2, 2, "dcr_t"),
        "shuffle_matrix.png": lambda: plot_shuffle_matrix(1, 2, 2, 2),
        "channel_permutation.png": lambda: plot_channel_permutation(2, 2),
        "zero_insertion.png": lambda: plot_zero_insertion(4, 4, 2, 4, 1),
        "activation_patterns.png": lambda: plot_activation_patterns(4, 2, 1),
        "activation_patterns_x3_k9.png": lambda: plot_activation_patterns(9, 3, 3),
        "subpixel_kernels.png": lambda: plot_subpixel_kernels(w4, 2, 1),
        "three_forms.png": lambda: plot_three_forms(rng.random((1, 1, 12, 12)), w4, 2, 1),
    }
    paths = [save_figure(make(), out / name) for name, make in figures.items()]
    paths += [p for p in [write_fig2(out, bench_json)] if p is not None]

    with tempfile.TemporaryDirectory() as run:
        cfg = TrainConfig(scale=r, epochs=2 if quick else 100_000, patience=100_000,
                          stride=None if quick else 13, val_fraction=0.34 if quick else 0.1)
        state = train(cfg, train_imgs, run, progress=progress, max_seconds=None if quick else train_seconds)
        if not (Path(run) / "model.npz").is_file():
            raise ValueError(f"train_seconds = {train_seconds} did not leave time for one epoch; give it more")
        val = {name: train_imgs[name] for name in state["val"]}
        base = evaluate_images("bicubic", val, r)["psnr"] if val else None
        paths.append(save_figure(plot_training_curves(Path(run) / "log.csv", base), out / "training_curves.png"))
        ours = load_model(Path(run) / "model.npz")
    methods = {"bicubic": "bicubic", "ESPCN (trained here)": ours}
    model = ours
    if pretrained_path(r).is_file():
        model = methods["ESPCN (pretrained)"] = pretrained(r)
    untrained = ESPCN(config=model.config)  # seed 0: the weights a default run (seed 0) starts from
    paths.append(save_figure(plot_first_layer_filters(model, untrained=untrained), out / "fig3_first_layer_filters.png"))
    paths.append(save_figure(plot_last_layer_filters(model), out / "fig4_last_layer_filters.png"))
    img = next(iter(test.values()))
    paths.append(save_figure(plot_sr_crops(sr_panels(img, methods, r)), out / "fig5_sr_crops.png"))
    rows = protocol_variants(scored, r)
    paths.append(save_figure(plot_protocol_variants(rows, f"bicubic x{r} on {', '.join(scored)}"),
                             out / "protocol_variants.png"))
    return paths
