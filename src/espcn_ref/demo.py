"""``make demo``: train ESPCN for a few minutes, then compare it on held-out
images with bicubic interpolation and with the shipped pretrained model.

Data: the dataset root if one is given or found (train on T91, test on
Set5), else the photos bundled with scikit-image (train on six, test on the
held-out "motorcycle"), so the demo works offline on a fresh machine.
"""

from __future__ import annotations

from pathlib import Path

from .data import train_test_images
from .evaluate import evaluate_images
from .model import load_model
from .registry import pretrained, pretrained_path
from .train import TrainConfig, train
from .viz import plot_sr_crops, save_figure, sr_panels

def run_demo(data_arg=None, out_dir="out/demo", minutes: float = 2.0, scale: int = 3, progress: bool = True):
    out = Path(out_dir)
    train_imgs, test_imgs, what = train_test_images(data_arg)  # bad --data fails before any folder is made
    if out.exists() and not out.is_dir():
        raise ValueError(f"the demo's output folder {out} is a file; choose a folder (--out)")
    out.mkdir(parents=True, exist_ok=True)
    print(f"data: {what}")
    cfg = TrainConfig(scale=scale, epochs=100_000, stride=13, patience=100_000)
    state = train(cfg, train_imgs, out / "run", progress=progress, max_seconds=60 * minutes, overwrite=True)
    if state["best_epoch"] < 0:
        raise ValueError(f"no epoch finished in {minutes:g} min; give the demo more time (--minutes)")
    ours = load_model(out / "run" / "model.npz")
    methods = {"bicubic": "bicubic", f"ESPCN, {minutes:g} min here": ours}
    if pretrained_path(scale).is_file():
        methods["ESPCN pretrained (T91)"] = pretrained(scale)
    print(f"\ntrained {state['epoch']} epochs in {state['elapsed']:.0f} s. "
          f"x{scale} PSNR / SSIM on Y, {scale} px shaved, on {', '.join(test_imgs)}:")
    scores = {}
    for name, method in methods.items():
        scores[name] = evaluate_images(method, test_imgs, scale)
        print(f"  {name:28s} {scores[name]['psnr']:6.2f} dB  {scores[name]['ssim']:.4f}")
    # show the test image on which our model gains most over bicubic (Fig. 5 style)
    gain = {k: scores[list(methods)[1]]["images"][k]["psnr"] - scores["bicubic"]["images"][k]["psnr"]
            for k in test_imgs}
    shown = max(gain, key=gain.get)
    save_figure(plot_sr_crops(sr_panels(test_imgs[shown], methods, scale)), out / "comparison.png")
    print(f"\nside by side on {shown} (HR | {' | '.join(methods)}): {out / 'comparison.png'}")
