"""The ``espcn-ref`` command (also ``python -m espcn_ref``).

Subcommands: train, evaluate, compare, upscale, info, export, data fetch, figures, demo.
Bad input (a missing or corrupt image, a model for the wrong scale, a
tampered checkpoint) ends with a one-line ``espcn-ref: error: ...`` and exit
status 2; output files are written atomically, so none is left half-written.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import warnings
from pathlib import Path

from . import __version__
from ._atomic import check_output_path, write_bytes_atomic
from .data import IMAGE_EXTENSIONS, find_data_dir, load_image, load_set, sample_images, save_image, set_fingerprint
from .ensemble import Ensemble, SelfEnsemble
from .evaluate import STANDARD_SETS, evaluate_images
from .export import UPSAMPLERS, export_onnx
from .model import ESPCN, load_model
from .model_file import ModelFormatError
from .registry import parse_pretrained, pretrained
from .upscale import upscale_image

EXIT_ERROR = 2


class CLIError(Exception):
    """An error to report as one line, without a traceback."""


# --- helpers --------------------------------------------------------------------


def _method(spec: str, scale: int):
    """'bicubic', 'pretrained' or 'pretrained:NAME' (a shipped model), or a path to a model file of the right scale."""
    if spec == "bicubic":
        return "bicubic"
    name = parse_pretrained(spec)
    if name is not None:
        return pretrained(scale, weights=name)
    model = load_model(spec, expect_scale=scale)
    if model.config.channels not in (1, 3):  # the image paths take Y or RGB
        raise CLIError(f"{spec}: a {model.config.channels}-channel model; images are upscaled and scored "
                       "with 1-channel (Y) or 3-channel (RGB) models")
    return model


def _label(spec: str) -> str:
    """How --method / --model is named in the output: a path by its file name."""
    return spec if spec == "bicubic" or parse_pretrained(spec) else Path(spec).name


def _chosen_method(spec, ensemble, self_ensemble: bool, scale: int, flag: str):
    """(method, label) of evaluate / upscale: ``spec`` (``flag``, default pretrained)
    or the models of --ensemble, averaged (Sec. 3.5); with --self-ensemble, over
    the 8 flips and rotations too. --ensemble replaces ``flag``: giving both is
    refused. Bicubic is refused as an ensemble member and for --self-ensemble
    (they average models). The members are named as given: run folders all
    hold a model.npz."""
    if ensemble is None:
        spec = "pretrained" if spec is None else spec
        method, label = _method(spec, scale), _label(spec)
    else:
        if spec is not None:
            raise CLIError(f"give {flag} or --ensemble, not both (--ensemble replaces {flag})")
        specs = [s.strip() for s in ensemble.split(",") if s.strip()]
        if not specs:
            raise CLIError(f"--ensemble names no model, got {ensemble!r}")
        if "bicubic" in specs:
            raise CLIError("--ensemble averages models: bicubic is the baseline, not a member "
                           "(use pretrained[:NAME] or PATH.npz)")
        method, label = Ensemble([_method(s, scale) for s in specs]), f"ensemble({', '.join(specs)})"
    if self_ensemble:
        if method == "bicubic":
            raise CLIError(f"--self-ensemble averages a model's predictions: give a model ({flag} "
                           "pretrained[:NAME] or PATH.npz, or --ensemble), not bicubic")
        method, label = SelfEnsemble(method), f"{label} + self-ensemble"
    return method, label


def _write_json_atomic(path, obj) -> None:
    """Strict JSON (an infinite PSNR, identical images, is written as null)."""
    def finite(v):
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        return None if isinstance(v, float) and not math.isfinite(v) else v

    write_bytes_atomic(path, json.dumps(finite(obj), indent=2, allow_nan=False).encode())


def _factors(text: str) -> tuple:
    """'0.9,0.8' -> (0.9, 0.8), for argparse."""
    try:
        return tuple(float(f) for f in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _number(kind, minimum, strict: bool = False):
    """An argparse type: an int, or a finite float, >= minimum (> if strict)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        finite = kind is int or math.isfinite(value)  # (math.isfinite overflows on huge ints)
        if not finite or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {'a finite number ' if kind is float else ''}"
                                             f"{'>' if strict else '>='} {minimum}, got {text}")
        return value
    return parse


def _data_dir(arg):
    return find_data_dir(arg)


# --- subcommands ------------------------------------------------------------------


def cmd_train(a) -> int:
    from .train import TrainConfig, check_run_folder, train

    check_run_folder(Path(a.out), a.resume, a.overwrite)  # before loading any data

    names = _set_names(a.train_set, "--train-set")
    root = None if names == ["samples"] else _data_dir(a.data)
    if root is None and names != ["samples"]:
        raise CLIError(f"no dataset root for --train-set {a.train_set}: pass --data DIR (or set "
                       "ESPCN_DATA), or train on the bundled photos with --train-set samples")
    sets = {name: (sample_images() if name == "samples" else load_set(name, root)) for name in names}
    # one set: its image names; several: "SET/name", so that equal names in two sets stay apart
    images = {(f"{s}/{k}" if len(sets) > 1 else k): img for s, imgs in sets.items() for k, img in imgs.items()}
    what = "the scikit-image sample photos" if names == ["samples"] else f"{' + '.join(names)} from {root}"
    provenance = {"train_sets": [set_fingerprint(name, root) for name in names],
                  "command": shlex.join(["espcn-ref", *map(str, a.argv)])}
    activation = a.activation or ("relu" if a.arch.startswith("srcnn") else "tanh")
    cfg = TrainConfig(scale=a.scale, arch=a.arch, recipe=a.recipe, activation=activation, channels=a.channels,
                      order=a.order, init=a.init, epochs=a.epochs,
                      batch_size=a.batch_size, patch=a.patch, stride=a.stride, augment=a.augment,
                      augment_online=a.augment_online, rescale=a.rescale, schedule=a.schedule, decay_at=a.decay_at,
                      average=a.average, degradation=a.degradation, seed=a.seed, lr=a.lr, patience=a.patience)
    print(f"training x{a.scale} on {what} ({len(images)} images) -> {a.out}")
    state = train(cfg, images, a.out, resume=a.resume, overwrite=a.overwrite, progress=not a.quiet,
                  max_seconds=None if a.minutes is None else 60 * a.minutes, provenance=provenance)
    if state["best_epoch"] < 0:
        print(f"{state['status']} before the first epoch ended; no model written yet")
    else:
        print(f"{state['status']} after {state['epoch']} epochs, {state['elapsed']:.0f} s of training; "
              f"best validation PSNR {state['best_psnr']:.2f} dB at epoch {state['best_epoch'] + 1}"
              f"{' (the mean of the weights from the lr drop to it)' if state.get('best_is_average') else ''}; "
              f"model: {Path(a.out) / 'model.npz'}")
    if state["status"] in ("interrupted", "paused"):
        print("resume with the same command and --resume")
    return 130 if state["status"] == "interrupted" else 0  # Ctrl-C: saved, then 130 like the other commands


def _set_names(text: str, flag: str = "--sets") -> list:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise CLIError(f"{flag} names no set, got {text!r}")
    return names


def cmd_evaluate(a) -> int:
    sets = _set_names(a.sets)
    if a.json:
        check_output_path(a.json)  # before the scoring, not after it
    if a.modcrop is not None and a.modcrop % a.scale:
        raise CLIError(f"--modcrop must be a multiple of --scale {a.scale}, got {a.modcrop}")
    method, name = _chosen_method(a.method, a.ensemble, a.self_ensemble, a.scale, "--method")
    root = _data_dir(a.data)
    results = {}
    for s in sets:
        images = load_set(s, root)
        results[s] = evaluate_images(method, images, a.scale, with_rgb=True, modcrop_to=a.modcrop, lr_uint8=a.lr_uint8)
    variant = "".join([f", modcrop {a.modcrop}" if a.modcrop else "", ", LR rounded to uint8" if a.lr_uint8 else ""])
    print(f"x{a.scale} {name}  (PSNR / SSIM on Y, {a.scale} px shaved, mean over images; PSNR on RGB, "
          f"mean over the colour images{variant})")
    for s, r in results.items():
        rgb = "   n/a" if r.get("psnr_rgb") is None else f"{r['psnr_rgb']:6.2f}"
        print(f"  {s:8s} {r['psnr']:6.2f} dB  {r['ssim']:.4f}  RGB {rgb} dB  ({len(r['images'])} images)")
    if a.json:
        _write_json_atomic(a.json, results)
    return 0


def cmd_compare(a) -> int:
    from .compare import TABLE1_SETS, build_table, choose_rows, evaluate_rows, render_markdown, resolve_rows

    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is a file, not a folder")
    for name in ("table1.json", "table1.md"):
        if (out / name).is_dir():
            raise CLIError(f"cannot write {out / name}: it is a folder")
    sets = _set_names(a.sets) if a.sets else list(TABLE1_SETS)
    resolved = resolve_rows(choose_rows(a.row, only=a.only), a.scale)  # unknown names fail here, before any work
    for item in resolved:
        if item["missing"]:
            print(f"{item['missing']} (row {item['row'].label!r}): its cells stay empty")
    root = _data_dir(a.data)
    images = {s: load_set(s, root) for s in sets}
    out.mkdir(parents=True, exist_ok=True)

    def progress(label, s, r):
        print(f"  {label:24s} {s:8s} {r['psnr']:6.2f} dB  {r['ssim']:.4f}  ({len(r['images'])} images)")

    print(f"x{a.scale}, PSNR / SSIM on Y, {a.scale} px shaved, mean over images")
    table = build_table(evaluate_rows(resolved, images, a.scale, progress), a.scale)
    _write_json_atomic(out / "table1.json", table)
    write_bytes_atomic(out / "table1.md", render_markdown(table).encode())
    print(f"wrote {out / 'table1.json'} and {out / 'table1.md'}")
    return 0


def cmd_upscale(a) -> int:
    from .video import is_video, upscale_video

    check_output_path(a.output)
    if Path(a.input).exists() and Path(a.output).exists() and Path(a.output).samefile(a.input):
        raise CLIError(f"the output {a.output} is the input file; choose another output file")
    method, _ = _chosen_method(a.model, a.ensemble, a.self_ensemble, a.scale, "--model")
    if is_video(a.input):
        if not is_video(a.output):
            raise CLIError(f"a video input needs a video output (.mp4, .mov, .mkv, .avi, .webm), got {a.output}")
        info = upscale_video(method, a.input, a.output, a.scale, progress=not a.quiet)
        print(f"{a.input} -> {a.output}: {info['frames']} frames at {info['fps']:g} fps, "
              f"{info['size'][0]}x{info['size'][1]}; upscaled at {info['fps_achieved']:.2f} frames per second")
        return 0
    if Path(a.output).suffix.lower() not in IMAGE_EXTENSIONS:
        raise CLIError(f"unsupported output extension {Path(a.output).suffix!r} for {a.output}; "
                       f"use one of {', '.join(IMAGE_EXTENSIONS)}")
    img = load_image(a.input)
    out = upscale_image(method, img, a.scale)
    save_image(a.output, out)
    print(f"{a.input} {img.shape[1]}x{img.shape[0]} -> {a.output} {out.shape[1]}x{out.shape[0]}")
    return 0


def cmd_info(a) -> int:
    if a.model and parse_pretrained(a.model):
        model = _method(a.model, 3 if a.scale is None else a.scale)
    elif a.model:
        model = load_model(a.model, expect_scale=a.scale)  # --scale, if given, must agree
    else:
        model = ESPCN(3 if a.scale is None else a.scale)
    c = model.config
    if c.kind == "srcnn":
        print(f"SRCNN x{model.scale}: bicubic x{c.pre_upscale}, then {len(c.layer_shapes())} layers in HR space "
              f"(the ESPCN stack with r = {c.scale}), activation {c.activation}")
    else:
        print(f"ESPCN x{c.scale}: {len(c.layer_shapes())} layers, activation {c.activation}, shuffle order {c.order}")
    for l, shape in enumerate(c.layer_shapes(), start=1):
        print(f"  conv{l}.weight {shape}")
    print(f"parameters: {model.num_params():,}")
    if c.kind == "srcnn":
        print(f"multiply-adds per HR pixel: {c.macs_per_lr_pixel():,} (bicubic not counted)")
    else:
        print(f"multiply-adds per LR pixel: {c.macs_per_lr_pixel():,} ({c.macs_per_hr_pixel():,.0f} per HR pixel)")
    _print_provenance(model.provenance)
    return 0


def _print_provenance(p: dict) -> None:
    """What made the weights, as the model file records it (format 2); nothing for older files."""
    if not p:
        print("provenance: not recorded (a model file of format 1, or built in code)")
        return
    for s in p.get("train_sets", []):
        print(f"trained on: {s.get('name')} ({s.get('images')} images, SHA-256 of the file list {s.get('sha256')})")
    for key, label in (("command", "command"), ("selected_epoch", "selected epoch"),
                       ("training_seconds", "training seconds"), ("validation_psnr", "validation PSNR")):
        if p.get(key) is not None:
            print(f"{label}: {p[key]}")
    for s in p.get("sessions", []):
        print(f"session from epoch {s.get('start_epoch')}: commit {s.get('commit')}, {s.get('cpu')}, "
              f"BLAS {s.get('blas')}, {s.get('threads')} threads")


def cmd_export(a) -> int:
    check_output_path(a.output)  # before loading anything
    if parse_pretrained(a.model):
        model = _method(a.model, 3 if a.scale is None else a.scale)  # any shipped model by name
    else:
        model = load_model(a.model, expect_scale=a.scale)  # --scale, if given, must agree
    export_onnx(model, a.output, a.upsample)
    c = model.config
    print(f"{a.model} -> {a.output}: ESPCN x{c.scale}, {c.channels} channel(s), {model.num_layers} layers, "
          f"order {c.order}, upsampler {a.upsample}")
    return 0


def cmd_fetch(a) -> int:
    from .fetch import fetch

    sets = _set_names(a.sets)
    counts = fetch(a.dest, sets, mirror=a.mirror, progress=lambda rel: print(f"  {rel}") if a.verbose else None)
    print(f"{a.dest}: {counts['downloaded']} downloaded, {counts['present']} already present and valid")
    return 0


def cmd_figures(a) -> int:
    from .viz import write_figures

    paths = write_figures(a.out, a.data, quick=a.quick, train_seconds=a.train_seconds, progress=not a.quiet,
                          bench_json=a.bench_json)
    print(f"{len(paths)} figures written to {a.out}")
    return 0


def cmd_demo(a) -> int:
    from .demo import run_demo

    run_demo(a.data, a.out, a.minutes, a.scale, progress=not a.quiet)
    return 0


# --- parser ---------------------------------------------------------------------


def _ensemble_flags(p: argparse.ArgumentParser, flag: str) -> None:
    p.add_argument("--ensemble", metavar="M1,M2,...",
                   help=f"average these models' outputs (Sec. 3.5), each pretrained[:NAME] or PATH.npz; "
                        f"replaces {flag}")
    p.add_argument("--self-ensemble", action="store_true",
                   help="average over the 8 flips and 90-degree rotations (EDSR+'s geometric self-ensemble; "
                        "8 times the time)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="espcn-ref", description="ESPCN (Shi et al., CVPR 2016) in NumPy + Numba.")
    p.add_argument("--version", action="version", version=f"espcn-ref {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    data_help = "dataset root holding T91/, Set5/, ... (default: $ESPCN_DATA, else ../shared/data if present)"

    t = sub.add_parser("train", help="train ESPCN (Sec. 3.2)")
    t.add_argument("--data", help=data_help)
    t.add_argument("--train-set", default="T91",
                   help="folder(s) under --data to train on, comma-separated (default T91; T91,BSD200 is the "
                        "'291 images'), or 'samples' for the bundled photos")
    t.add_argument("--scale", type=_number(int, 1), default=3)
    t.add_argument("--recipe", choices=["fast", "paper"], default="fast")
    t.add_argument("--arch", choices=["espcn", "srcnn-915", "srcnn-955"], default="espcn",
                   help="espcn (the paper's 5-3-3) or SRCNN 9-1-5 / 9-5-5 (bicubic, then relu layers in HR space)")
    t.add_argument("--activation", choices=["tanh", "relu"], default=None,
                   help="phi (default: tanh for espcn, relu for srcnn)")
    t.add_argument("--channels", type=int, choices=[1, 3], default=1,
                   help="1: the Y channel (the paper); 3: an RGB network, trained and validated on RGB")
    t.add_argument("--order", choices=["crd", "dcr", "dcr_t"], default="crd",
                   help="the shuffle's channel order (the same for C = 1 but dcr_t; ICNR is grouped by it)")
    t.add_argument("--init", choices=["default", "icnr"], default="default")
    t.add_argument("--epochs", type=_number(int, 1), default=100)
    t.add_argument("--batch-size", type=_number(int, 1), default=16)
    t.add_argument("--patch", type=_number(int, 1), default=17, help="LR sub-image size (Sec. 3.2: 17; HR is 17 r)")
    t.add_argument("--stride", type=_number(int, 1), default=None, help="LR patch stride (default: --patch, each HR pixel once)")
    t.add_argument("--degradation", choices=["bicubic", "gaussian"], default="bicubic",
                   help="how LR images are made: MATLAB bicubic (the tables) or Gaussian blur + subsample")
    t.add_argument("--augment", action="store_true",
                   help="one random flip or 90-degree rotation per sub-image, drawn once at extraction")
    t.add_argument("--augment-online", action="store_true",
                   help="a fresh random flip or 90-degree rotation each time a sub-image enters a batch")
    t.add_argument("--rescale", type=_factors, default=(), metavar="F,F,...",
                   help="also train on each image shrunk by these factors in (0, 1), e.g. 0.9,0.8,0.7,0.6")
    t.add_argument("--lr", type=_number(float, 0, strict=True), default=None)
    t.add_argument("--schedule", choices=["step", "cosine"], default="step",
                   help="fast recipe: step (lr / 10 at --decay-at) or cosine (half a cosine towards 0 over --epochs)")
    t.add_argument("--decay-at", type=float, default=0.8, metavar="FRACTION",
                   help="fast recipe, step schedule: the lr drops to lr / 10 at this fraction of --epochs "
                        "(default 0.8); --average starts there")
    t.add_argument("--average", action="store_true",
                   help="fast recipe: from --decay-at on (either schedule), also keep the running mean of the "
                        "epochs' final weights (SWA) and score it on validation after each of those epochs, "
                        "like the epochs themselves")
    t.add_argument("--patience", type=_number(int, 1), default=100)
    t.add_argument("--seed", type=_number(int, 0), default=0)
    t.add_argument("--minutes", type=_number(float, 0), default=None, help="stop (and checkpoint) after this much training")
    t.add_argument("--out", default="runs/x3", help="run folder: checkpoint.npz, model.npz, log.csv")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    t.add_argument("--overwrite", action="store_true", help="replace a run already in OUT")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="PSNR/SSIM on Y as the SR literature reports them")
    e.add_argument("--method", help="bicubic | pretrained[:NAME] | a model file (.npz, .safetensors, .onnx) "
                                    "(default: pretrained)")
    _ensemble_flags(e, "--method")
    e.add_argument("--data", help=data_help)
    e.add_argument("--sets", default=",".join(STANDARD_SETS), help="comma-separated set folders")
    e.add_argument("--scale", type=_number(int, 1), default=3)
    e.add_argument("--json", help="also write the scores to this JSON file")
    e.add_argument("--modcrop", type=_number(int, 1), default=None, metavar="M",
                   help="crop the HR images to multiples of M (a multiple of --scale) instead of the scale: "
                        "a protocol variant, e.g. 12 (docs/protocol.md)")
    e.add_argument("--lr-uint8", action="store_true",
                   help="round the LR images to 8 bits, as when they are stored as PNG files: a protocol variant")
    e.set_defaults(func=cmd_evaluate)

    c = sub.add_parser("compare", help="Table 1 at x3: our rows beside the paper's, paired t-tests (JSON, markdown)")
    c.add_argument("--data", help=data_help)
    c.add_argument("--scale", type=_number(int, 1), default=3)
    c.add_argument("--sets", help="comma-separated set folders (default Set5,Set14,BSD100,BSD500)")
    c.add_argument("--row", action="append", default=[], metavar="LABEL=SOURCE",
                   help="a row: SOURCE is bicubic, a shipped name (espcn-t91) or a model file; it replaces the "
                        "default row of that LABEL (e.g. 'SRCNN (91)=runs/x3_srcnn/model.npz') or adds one; "
                        "repeatable. The default rows: bicubic, srcnn-915-t91, espcn-relu-t91-paper, "
                        "espcn-t91-paper, espcn-t91 (augmented)")
    c.add_argument("--only", action="store_true", help="only the --row rows, in their order (no default rows)")
    c.add_argument("--out", default="out/table1", help="folder for table1.json and table1.md (default out/table1)")
    c.set_defaults(func=cmd_compare)

    u = sub.add_parser("upscale", help="super-resolve an image or a video (Y by ESPCN, Cb/Cr bicubic)")
    u.add_argument("input", help="an image, or a video (.mp4 .mov .mkv .avi .webm)")
    u.add_argument("output", help="the result (an existing file is replaced, once the new one is complete)")
    u.add_argument("--scale", type=_number(int, 1), default=3)
    u.add_argument("--model", help="pretrained[:NAME] | bicubic | a model file (.npz, .safetensors, .onnx) "
                                   "(default: pretrained)")
    _ensemble_flags(u, "--model")
    u.add_argument("--quiet", action="store_true", help="no progress bar (video)")
    u.set_defaults(func=cmd_upscale)

    i = sub.add_parser("info", help="model summary: layers, parameters, multiply-adds")
    i.add_argument("--model", help="a model .npz or pretrained[:NAME] (default: the paper's architecture)")
    i.add_argument("--scale", type=_number(int, 1), default=None, help="the paper's network at this scale (default 3)")
    i.set_defaults(func=cmd_info)

    x = sub.add_parser("export", help="write a model as ONNX (docs/deploy.md)")
    x.add_argument("model", help="a model file (.npz, .safetensors, .onnx), or pretrained[:espcn-t91] (with --scale)")
    x.add_argument("output", help="the .onnx file to write")
    x.add_argument("--scale", type=_number(int, 1), default=None,
                   help="the pretrained model's scale (default 3); for a file, the scale it must have")
    x.add_argument("--upsample", choices=UPSAMPLERS, default="depth_to_space",
                   help="the shuffle as DepthToSpace in the model's mode (default), DepthToSpace DCR for any model, "
                        "a 0/1 ConvTranspose after the last Conv, or the last Conv folded into one ConvTranspose")
    x.set_defaults(func=cmd_export)

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="download T91, Set5, Set14, BSD100 and check SHA-256")
    f.add_argument("--dest", default="data", help="where to put the set folders (default: ./data)")
    f.add_argument("--sets", default="T91,Set5,Set14,BSD100")
    f.add_argument("--mirror", help="base URL serving <set>/<file> instead of the pinned sources")
    f.add_argument("--verbose", action="store_true")
    f.set_defaults(func=cmd_fetch)

    g = sub.add_parser("figures", help="write the teaching figures (paper Figs. 2-5, eq. 4, Sec. 2.2) as PNGs")
    g.add_argument("--out", default="docs/figures")
    g.add_argument("--data", help=data_help)
    g.add_argument("--quick", action="store_true", help="small sizes and a few seconds of training")
    g.add_argument("--train-seconds", type=_number(float, 0, strict=True), default=120.0, help="training time of the curves figure")
    g.add_argument("--bench-json", default="benchmarks/results.json",
                   help="make bench's JSON, for Fig. 2 (PSNR against time); without its Fig. 2 entry that figure "
                        "is skipped with a note (default: benchmarks/results.json)")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=cmd_figures)

    m = sub.add_parser("demo", help="train briefly, compare with bicubic and the pretrained model")
    m.add_argument("--data", help=data_help)
    m.add_argument("--out", default="out/demo")
    m.add_argument("--minutes", type=_number(float, 0, strict=True), default=2.0)
    m.add_argument("--scale", type=_number(int, 1), default=3)
    m.add_argument("--quiet", action="store_true")
    m.set_defaults(func=cmd_demo)
    return p


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"espcn-ref: warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command as given, for a model file's provenance
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            return args.func(args)
    except (CLIError, FileNotFoundError, NotADirectoryError, ValueError, TypeError, ModelFormatError, OSError) as e:
        print(f"espcn-ref: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except MemoryError as e:  # e.g. a huge --scale: NumPy names the array it could not allocate
        print(f"espcn-ref: error: not enough memory ({e})", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("espcn-ref: interrupted", file=sys.stderr)
        return 130
