"""``make demo``: train ESPCN for a few minutes, then compare it on held-out
images with bicubic interpolation and with the shipped pretrained model.

Data: the dataset root if one is given or found (train on T91, test on
Set5), else the photos bundled with scikit-image (train on six, test on the
held-out "motorcycle"), so the demo works offline on a fresh machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import find_data_dir, imresize, sample_images, save_image
from .evaluate import evaluate_images, load_set, upscale_image
from .metrics import to_uint8
from .model import load_model, pretrained, pretrained_path
from .train import TrainConfig, train

HELD_OUT = "motorcycle"


def demo_data(data_arg):
    """(train images, test images, description)."""
    root = find_data_dir(data_arg)
    if root is not None:
        return load_set("T91", root), load_set("Set5", root), f"T91 -> Set5 from {root}"
    photos = sample_images()
    test = {HELD_OUT: photos.pop(HELD_OUT)}
    return photos, test, f"scikit-image photos: train on {', '.join(sorted(photos))}; test on {HELD_OUT}"


def comparison_strip(img, methods: dict, r: int, crop: int = 96) -> np.ndarray:
    """Side by side: HR crop, then each method's upscaling of the LR image.

    img: uint8 (H, W, 3) or (H, W). Returns uint8 (crop, len(methods)+1 crops wide, [3]).
    """
    H, W = img.shape[:2]
    H, W = H - H % r, W - W % r
    hr = img[:H, :W]
    lr = to_uint8(imresize(hr / 255.0, scale=1 / r))  # what the methods get to see
    top, left = (H - crop) // 2 // r * r, (W - crop) // 2 // r * r
    panels = [hr[top : top + crop, left : left + crop]]
    for method in methods.values():
        panels.append(upscale_image(method, lr, r)[top : top + crop, left : left + crop])
    gap = np.full((crop, 4) + hr.shape[2:], 255, np.uint8)
    strip = [p for panel in panels for p in (panel, gap)][:-1]
    return np.concatenate(strip, axis=1)


def run_demo(data_arg=None, out_dir="out/demo", minutes: float = 2.0, scale: int = 3, progress: bool = True):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_imgs, test_imgs, what = demo_data(data_arg)
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
    for name, method in methods.items():
        r = evaluate_images(method, test_imgs, scale)
        print(f"  {name:28s} {r['psnr']:6.2f} dB  {r['ssim']:.4f}")
    first = next(iter(test_imgs.values()))
    save_image(out / "comparison.png", comparison_strip(first, methods, scale))
    print(f"\nside by side (HR | {' | '.join(methods)}): {out / 'comparison.png'}")
