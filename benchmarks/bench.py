"""`make bench`: how fast is espcn-ref on this CPU, against the GEMM roofline
and (when it happens to be installed) PyTorch, in one run.

Every workload runs in a fresh child process, so its peak resident memory
(ru_maxrss) is its own. Printed as a table; all figures also go to JSON.

    python benchmarks/bench.py [--json FILE] [--quick] [--threads N] [--data DIR] [--keep-openblas-env]
                               [--video-sequential]

Video (x2, x3 and x4 to 1080p) decodes, upscales and encodes at once;
--video-sequential also times the path that does them one after the other,
alternating with it, and reports the ratio of their fps.

Fig. 2 and Sec. 3.5 (ESPCN against SRCNN: per Set14 image at x3, per 1080p
frame at x3 and x4) run twice, on one thread pinned to one core and on
--threads; their JSON entries are keyed by the thread count ("1", "2").

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines to dodge old
OpenBLAS bugs) make numpy's GEMM about 2x slower; the benchmark unsets them
for its own processes unless --keep-openblas-env is given, and reports the
BLAS kernel it ran with.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

SCALES_1080P = {2: (540, 960), 3: (360, 640), 4: (270, 480)}  # LR size for a 1080p output


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _threads() -> int:
    """The thread count both sides use (set by --threads for every child)."""
    return int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1)


def _median_time(fn, repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_alloc_mib(fn) -> float:
    """Peak bytes NumPy allocates during one call of fn (tracemalloc sees
    NumPy's buffers), in MiB: the temporaries a form needs beyond its input."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _alternating_medians(fns, rounds: int, per_round: int, warmup: int = 3) -> list[float]:
    """Median seconds of each function, timed in alternating rounds (per_round
    calls of the first, then of the second, ...), so that the machine's drift
    over the run falls on all of them alike."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, ts in zip(fns, times):
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


# --- workloads (each runs in its own process) ----------------------------------------


def w_gemm_peak(quick):
    import numpy as np

    n = 1024 if quick else 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    t = _median_time(lambda: a @ a, 3)
    return {"seconds": t, "gflops": 2 * n**3 / t / 1e9}


def w_inference(quick, r):
    import numpy as np

    from espcn_ref.model import ESPCN

    H, W = SCALES_1080P[r]
    if quick:
        H, W = H // 4, W // 4
    m = ESPCN(r)
    m.forward(np.zeros((1, 1, 8, 8), np.float32))  # compile everything on a tiny frame
    baseline = _max_rss_mib()  # interpreter, libraries, JIT code
    x = np.random.default_rng(0).random((1, 1, H, W), dtype=np.float32)
    repeat = 3
    total = _median_time(lambda: m.forward(x), repeat)
    peak = _max_rss_mib()  # before any per-layer copies or PyTorch
    must_hold = 4 * H * W * (1 + 64 + 32) / 2**20  # input, conv1's and conv2's outputs
    layers = _layer_times(m, x, repeat)
    macs = H * W * m.config.macs_per_lr_pixel()
    out = {"lr_size": [H, W], "seconds": total, "gflops": 2 * macs / total / 1e9, "layers": layers,
           "macs_per_lr_pixel": m.config.macs_per_lr_pixel(),
           "rss_baseline_mib": baseline, "rss_peak_mib": peak, "must_hold_mib": must_hold}
    torch_t = _torch_inference(m, x, repeat)
    if torch_t is not None:
        out["torch_seconds"] = torch_t
    return out


def _layer_times(m, x, repeat):
    """The engine's forward (espcn_ref.engine.network.forward_grid), one timed step at a time."""
    from espcn_ref import engine as cg
    from espcn_ref.engine.network import grid_weight, make_grid

    N, _, H, W = x.shape
    grid = make_grid(m.params, x.shape)
    shapes = m.config.layer_shapes()
    layers = {"gather1 (im2col_grid)": {"seconds": _median_time(lambda: cg.im2col_grid(x, shapes[0][2], grid), repeat)}}
    h = cg.im2col_grid(x, shapes[0][2], grid)
    for l, shape in enumerate(shapes, start=1):
        w, b = grid_weight(m.params, l), m.params[f"conv{l}.bias"]
        t = _median_time(lambda: cg.conv_grid(h, w, grid, b), repeat)
        macs = N * H * W * shape[0] * shape[1] * shape[2] * shape[3]
        layers[f"conv{l} (+bias)"] = {"seconds": t, "gflops": 2 * macs / t / 1e9}
        z = cg.conv_grid(h, w, grid, b)
        if l < len(shapes):
            # in place, repeatedly: tanh of tanh costs the same as tanh
            layers[f"tanh{l}"] = {"seconds": _median_time(lambda: cg.act_grid(z, "tanh", grid), repeat)}
            h = z

    # PS, eq. (4), straight off the grid, as ESPCN.forward does
    layers["shuffle"] = {"seconds": _median_time(lambda: cg.shuffle_from_grid(z, m.scale, m.config.order, grid),
                                                 repeat)}
    return layers


def w_tiled_4k(quick):
    """A 4K (2160x3840) output at x3, untiled and in 256-pixel LR tiles."""
    import numpy as np

    from espcn_ref.upscale import forward_tiled
    from espcn_ref.model import ESPCN

    H, W = (180, 320) if quick else (720, 1280)
    m = ESPCN(3)
    x = np.random.default_rng(0).random((1, 1, H, W), dtype=np.float32)
    forward_tiled(m, x[:, :, :40, :40], 16)  # compile
    baseline = _max_rss_mib()
    t_tiled = _median_time(lambda: forward_tiled(m, x, 256), 1, warmup=0)
    tiled_peak = _max_rss_mib()
    tiled = forward_tiled(m, x, 256)
    full = m.forward(x)
    return {"lr_size": [H, W], "tiled_seconds": t_tiled, "tiled_rss_mib": tiled_peak - baseline,
            "untiled_rss_mib": _max_rss_mib() - baseline, "max_abs_diff": float(np.max(np.abs(tiled - full))),
            "bit_identical": bool(np.array_equal(tiled, full))}


def pan_clip(path, r, quick):
    """Write the video workload's clip to ``path``: a slow pan across a photo, H.264, 25 fps,
    30 frames whose x r is 1080p (quick: 6 frames of a quarter of the side, even). Returns its first frame."""
    import imageio.v2 as iio

    from espcn_ref.data import imresize, sample_images

    H, W = SCALES_1080P[r]
    H, W, frames = (2 * (H // 8), 2 * (W // 8), 6) if quick else (H, W, 30)
    photo = imresize(sample_images(["chelsea"])["chelsea"], output_shape=(H, W + frames * 4))
    writer = iio.get_writer(path, format="ffmpeg", fps=25, codec="libx264", macro_block_size=1,
                            ffmpeg_log_level="error")
    for k in range(frames):
        writer.append_data(photo[:, 4 * k : 4 * k + W])
    writer.close()
    return photo[:, :W]


def w_video(quick, r, sequential=False):
    """`espcn-ref upscale` on a video, x r to 1080p: decode, colour upscaling
    (Y by the shipped ESPCN, Cb and Cr bicubic), encode (H.264), the three at
    once (upscale_video's pipeline). With ``sequential``, the one-after-the-other
    path (pipelined=False) is timed too, the two alternating run by run, so
    that the machine's drift falls on both alike."""
    import tempfile

    import numpy as np

    from espcn_ref.upscale import upscale_image
    from espcn_ref.video import upscale_video
    from espcn_ref.registry import pretrained

    m = pretrained(r)
    paths = (True, False) if sequential else (True,)  # pipelined, and one stage after the other
    rounds = 1 if quick else 3
    times = {p: [] for p in paths}
    with tempfile.TemporaryDirectory() as d:
        src, dst = f"{d}/clip.mp4", f"{d}/clip_x{r}.mp4"
        frame = pan_clip(src, r, quick)
        H, W = frame.shape[:2]
        for pipelined in paths:  # warm-up: compile, load ffmpeg
            upscale_video(m, src, dst, r, progress=False, pipelined=pipelined)
        for k in range(rounds):
            for pipelined in paths[:: 1 if k % 2 == 0 else -1]:  # ABBA: neither path always goes first
                t0 = time.perf_counter()
                info = upscale_video(m, src, dst, r, progress=False, pipelined=pipelined)
                times[pipelined].append((time.perf_counter() - t0) / info["frames"])
    out = {"scale": r, "lr_size": [H, W], "frames": info["frames"], "rounds": rounds,
           "seconds_per_frame": statistics.median(times[True]), "fps": 1 / statistics.median(times[True]),
           "upscale_image_seconds": _median_time(lambda: upscale_image(m, frame, r), 5),
           "network_seconds": _median_time(lambda: m.forward(np.zeros((1, 1, H, W), np.float32)), 5)}
    if sequential:
        spf = statistics.median(times[False])
        out |= {"sequential_seconds_per_frame": spf, "sequential_fps": 1 / spf,
                "pipeline_speedup": spf / out["seconds_per_frame"]}
    return out


def _torch_inference(m, x, repeat):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(_threads())
    net = torch_net(torch, m)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        return _median_time(lambda: net(xt), repeat)


def torch_net(torch, m):
    nn = torch.nn
    layers = []
    shapes = m.config.layer_shapes()
    for l, (co, ci, f, _) in enumerate(shapes, start=1):
        conv = nn.Conv2d(ci, co, f, padding=f // 2)
        conv.weight.data = torch.from_numpy(m.params[f"conv{l}.weight"].copy())  # its own weights to train
        conv.bias.data = torch.from_numpy(m.params[f"conv{l}.bias"].copy())
        layers += [conv, nn.Tanh()] if l < len(shapes) else [conv, nn.PixelShuffle(m.scale)]
    return nn.Sequential(*layers)


def w_train_step(quick, batch):
    import numpy as np

    from espcn_ref.model import ESPCN
    from espcn_ref.optim import Adam

    m = ESPCN(3)
    g = np.random.default_rng(0)
    x = g.random((batch, 1, 17, 17), dtype=np.float32)
    t = g.random((batch, 1, 51, 51), dtype=np.float32)
    opt = Adam(m.params)

    def step():  # what espcn_ref.train does per step
        opt.step(m.params, m.loss_and_grads(x, t)[1])

    try:
        import torch
    except ImportError:
        return {"seconds": _median_time(step, 10 if quick else 30, warmup=3)}
    torch.set_num_threads(_threads())
    net = torch_net(torch, m)
    topt = torch.optim.Adam(net.parameters())
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)

    def tstep():
        topt.zero_grad()
        torch.nn.functional.mse_loss(net(xt), tt).backward()
        topt.step()

    ours, theirs = _alternating_medians([step, tstep], rounds=2 if quick else 6, per_round=5 if quick else 10)
    return {"seconds": ours, "torch_seconds": theirs}


def w_upsampling_forms(quick):
    import numpy as np

    from espcn_ref.equivalence import (
        fractional_stride_conv2d,
        subpixel_conv2d,
        transposed_conv2d,
        transposed_to_subpixel,
        upsampling_cost,
    )

    H, W = (45, 80) if quick else (180, 320)
    g = np.random.default_rng(0)
    x = g.random((1, 32, H, W), dtype=np.float32)
    w_t = g.standard_normal((32, 1, 9, 9)).astype(np.float32)
    w_s, lp, crop = transposed_to_subpixel(w_t, 3, 3)
    # Each form is timed on its own (15 calls after 3 warm-ups), not alternating: right
    # after a BLAS call OpenBLAS's threads spin for a while and share the cores with
    # Numba's. Alternating with the transposed form, the sub-pixel form's direct
    # kernel made it take 2.8-3.1 ms; timed on its own, 1.6-2.8 ms.
    forms = {
        "subpixel": lambda: subpixel_conv2d(x, w_s, 3, lp, crop),
        "transposed": lambda: transposed_conv2d(x, w_t, 3, 3),
        "fractional_stride": lambda: fractional_stride_conv2d(x, w_t, 3, 3),
    }
    times = {name: _median_time(f, 3 if name == "fractional_stride" else 15, 1 if name == "fractional_stride" else 3)
             for name, f in forms.items()}
    out = {"size": [32, H, W], "seconds": times, "macs": upsampling_cost(1, 32, 1, H, W, 3, 9),
           "peak_alloc_mib": {name: _peak_alloc_mib(f) for name, f in forms.items()},
           "output_mib": forms["subpixel"]().nbytes / 2**20}
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(_threads())
    F = torch.nn.functional
    xt, wst, wtt = torch.from_numpy(x), torch.from_numpy(w_s), torch.from_numpy(w_t)
    assert crop == 0  # k_s = 9, r = 3, padding 3: LR padding 1, nothing to crop

    def t_subpixel():  # PyTorch's own sub-pixel form: conv2d + pixel_shuffle
        return F.pixel_shuffle(F.conv2d(xt, wst, padding=lp), 3)

    def t_transposed():
        return F.conv_transpose2d(xt, wtt, stride=3, padding=3)

    with torch.no_grad():
        out["torch_seconds"] = {"subpixel": _median_time(t_subpixel, 15, 3),
                                "transposed": _median_time(t_transposed, 15, 3)}
        ref = transposed_conv2d(x, w_t, 3, 3)
        out["torch_max_abs_diff"] = max(float(np.max(np.abs(f().numpy() - ref))) for f in (t_subpixel, t_transposed))
    return out


# --- Fig. 2 and Sec. 3.5: ESPCN against SRCNN (each also on one pinned thread) ---------------

# Set14's HR sizes (H, W), baboon .. zebra: the synthetic stand-in when Set14 is absent.
SET14_SIZES = ((480, 500), (576, 720), (512, 512), (288, 352), (361, 250), (276, 276), (362, 500),
               (288, 352), (512, 512), (512, 512), (512, 768), (512, 512), (656, 529), (391, 586))
FIG2_LABELS = {"bicubic": "bicubic", "srcnn_915": "SRCNN 9-1-5", "srcnn_955": "SRCNN 9-5-5", "espcn": "ESPCN"}
# Fig. 2's PSNR (Set14, x3, Y) for what a run does not score: the papers' published figures ...
PUBLISHED_SET14_X3 = {"srcnn_915": (29.00, "published: Dong et al., ECCV 2014, SRCNN (91) (the paper's Table 1)"),
                      "srcnn_955": (29.22, "published: Dong et al., TPAMI 2016, SRCNN 9-5-5")}
# ... and, when Set14 is absent, this repository's own (README, Shipped models: espcn-ref evaluate).
README_SET14_X3 = {"bicubic": 27.54, "espcn": 29.28}
PAPER_K2_TIME_RATIOS = {3: 11.4, 4: 15.0}  # Sec. 3.5: SRCNN 9-5-5's time / ESPCN's per 1080p frame, on a K2 GPU
UNTRAINED = "random init (seed 0), untrained: for timing only"


def _placement() -> dict:
    """The threads a workload ran with and the cores it could run on ([0] when pinned)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"threads": _threads(), "cpus": cpus}


def _set14_x3(quick):
    """Set14 at x3 as the protocol makes it: ({name: LR Y (h, w) float32}, {name: uint8 ground
    truth} or None, where the images come from). Synthetic images of Set14's sizes when it is absent."""
    import numpy as np

    from espcn_ref.data import find_data_dir, load_set
    from espcn_ref.evaluate import protocol_pair

    root = find_data_dir()  # --data (passed on as ESPCN_DATA), else ../shared/data
    if root is not None and (root / "Set14").is_dir():
        images = load_set("Set14", root)
        if quick:  # three 120 x 120 crops: seconds, not minutes
            images = {k: v[:120, :120] for k, v in sorted(images.items())[:3]}
        pairs = {k: protocol_pair(v, 3) for k, v in images.items()}
        return ({k: lr for k, (lr, _) in pairs.items()}, {k: gt for k, (_, gt) in pairs.items()},
                f"Set14 from {root}" + (" (quick: 3 images, 120x120 crops)" if quick else ""))
    g = np.random.default_rng(0)
    sizes = [(120, 120)] * 3 if quick else SET14_SIZES
    lrs = {f"synthetic_{H}x{W}_{i}": g.random((H // 3, W // 3), dtype=np.float32) for i, (H, W) in enumerate(sizes)}
    return lrs, None, ("synthetic: no Set14 under the data root; uniform random LR images, "
                       + ("three of 40x40 (quick)" if quick else "Set14's 14 sizes / 3"))


def _fig2_psnr(key, method, lrs, gts, shipped, quick):
    """Mean PSNR on Set14 at x3: measured in this run where there is a model to score and the images,
    else the README's (bicubic, ESPCN) or the published figure (SRCNN)."""
    from espcn_ref.evaluate import score_y

    if gts is not None and (key == "bicubic" or shipped):
        psnr = statistics.mean(score_y(method, lrs[n], gts[n], 3, with_ssim=False)["psnr"] for n in lrs)
        return {"psnr": psnr, "psnr_kind": "measured", "psnr_source": "measured in this run (Y, 3 px shaved)"
                + (" on the quick crops, not Set14's figure" if quick else "")}
    if key in README_SET14_X3:
        return {"psnr": README_SET14_X3[key], "psnr_kind": "measured",
                "psnr_source": "README, Shipped models (espcn-ref evaluate); Set14 absent in this run"}
    psnr, source = PUBLISHED_SET14_X3[key]
    return {"psnr": psnr, "psnr_kind": "published", "psnr_source": source}


def w_fig2_set14_x3(quick):
    """Fig. 2: time per Set14 image at x3 of the whole Y upscale as the protocol runs it
    (upscale_y: bicubic with its imresize, SRCNN with its bicubic step), with each method's PSNR."""
    from espcn_ref.model import ESPCN, srcnn_config, srcnn_over_espcn
    from espcn_ref.registry import pretrained
    from espcn_ref.upscale import upscale_y

    r = 3
    lrs, gts, source = _set14_x3(quick)
    try:  # SRCNN 9-1-5 trained here, once the registry ships it
        srcnn_915 = (pretrained(r, "srcnn-915-t91"), "shipped srcnn-915-t91")
    except (ValueError, FileNotFoundError):
        srcnn_915 = (ESPCN(config=srcnn_config(r, "915")), UNTRAINED)
    methods = {"bicubic": ("bicubic", "none"), "srcnn_915": srcnn_915,
               "srcnn_955": (ESPCN(config=srcnn_config(r, "955")), UNTRAINED + " (not trained here)"),
               "espcn": (pretrained(r), "shipped espcn-t91 x3")}
    rounds = 1 if quick else 5
    per_image = {k: {} for k in methods}
    for name, lr in lrs.items():  # the methods alternate on each image: the machine's drift falls on all alike
        fns = [lambda m=m, lr=lr: upscale_y(m, lr, r) for m, _ in methods.values()]
        for k, t in zip(methods, _alternating_medians(fns, rounds, per_round=1, warmup=1)):
            per_image[k][name] = t
    seconds = {k: statistics.mean(v.values()) for k, v in per_image.items()}
    return {"scale": r, "images": source, "synthetic": gts is None, "lr_sizes": [list(lr.shape) for lr in lrs.values()],
            "rounds": rounds, **_placement(),
            "methods": {k: {"label": FIG2_LABELS[k], "weights": w,
                            **_fig2_psnr(k, m, lrs, gts, w.startswith("shipped"), quick)}
                        for k, (m, w) in methods.items()},
            "seconds_per_image": seconds, "per_image_seconds": per_image,
            "time_ratio_srcnn_955_to_espcn": seconds["srcnn_955"] / seconds["espcn"],
            "config_ratios_srcnn_955_to_espcn": {k: float(v) for k, v in srcnn_over_espcn(r).items()}}


def w_sec35_1080p(quick):
    """Sec. 3.5: one frame with a 1080p output at x3 and x4, ESPCN's forward against SRCNN
    9-5-5's (its bicubic step included); the bicubic step is also timed alone."""
    import numpy as np

    from espcn_ref.model import ESPCN, bicubic_pre_upscale, srcnn_config, srcnn_over_espcn
    from espcn_ref.registry import pretrained

    out = {**_placement(), "espcn_weights": "shipped espcn-t91", "srcnn_weights": UNTRAINED + " (not trained here)"}
    for r in (3, 4):
        H, W = SCALES_1080P[r]
        if quick:
            H, W = H // 4, W // 4
        espcn, srcnn = pretrained(r), ESPCN(config=srcnn_config(r, "955"))
        x = np.random.default_rng(0).random((1, 1, H, W), dtype=np.float32)
        t_espcn, t_srcnn, t_bicubic = _alternating_medians(
            [lambda: espcn.forward(x), lambda: srcnn.forward(x), lambda: bicubic_pre_upscale(x, r)],
            rounds=1 if quick else 3, per_round=1, warmup=1)
        out[f"x{r}"] = {"lr_size": [H, W], "espcn_seconds": t_espcn, "srcnn_955_seconds": t_srcnn,
                        "srcnn_bicubic_seconds": t_bicubic, "time_ratio": t_srcnn / t_espcn,
                        "config_ratios": {k: float(v) for k, v in srcnn_over_espcn(r).items()},
                        "paper_k2_time_ratio": PAPER_K2_TIME_RATIOS[r]}
    return out


WORKLOADS = {
    "gemm_peak": lambda q: w_gemm_peak(q),
    **{f"inference_x{r}": (lambda q, r=r: w_inference(q, r)) for r in (2, 3, 4)},
    "tiled_4k": lambda q: w_tiled_4k(q),
    **{f"video_x{r}": (lambda q, r=r, **video: w_video(q, r, **video)) for r in (2, 3, 4)},
    "train_step_b16": lambda q: w_train_step(q, 16),
    "train_step_b64": lambda q: w_train_step(q, 64),
    "upsampling_forms": lambda q: w_upsampling_forms(q),
    "fig2_set14_x3": lambda q: w_fig2_set14_x3(q),
    "sec35_1080p": lambda q: w_sec35_1080p(q),
}
BY_THREADS = ("fig2_set14_x3", "sec35_1080p")  # run on one thread pinned to one core, and on --threads


def run_one(name, quick, video_sequential=False):
    result = WORKLOADS[name](quick, **({"sequential": video_sequential} if name.startswith("video_") else {}))
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if name == "gemm_peak":
        from threadpoolctl import threadpool_info

        result["blas"] = [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
                          for i in threadpool_info() if i.get("user_api") == "blas"]
    print(json.dumps(result))


# --- the report --------------------------------------------------------------------


def _pin_to_one_core():
    """What `taskset -c 0` does, for a child: run only on the first core this process may use."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _run_child(name, quick, env, pin=False, extra=()) -> dict:
    cmd = [sys.executable, __file__, "--one", name] + (["--quick"] if quick else []) + list(extra)
    pin = pin and hasattr(os, "sched_setaffinity")  # (Linux; elsewhere the one thread runs unpinned)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, preexec_fn=_pin_to_one_core if pin else None)
    if proc.returncode != 0:
        sys.exit(f"benchmark {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _thread_env(env, threads) -> dict:
    return {**env, **{var: str(threads) for var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="benchmarks/results.json")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not figures to quote)")
    ap.add_argument("--keep-openblas-env", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="threads for ours and PyTorch (default: all cores)")
    ap.add_argument("--data", help="dataset root holding Set14/ (default: ../shared/data if present; "
                                   "without Set14, Fig. 2 is timed on synthetic images of its sizes)")
    ap.add_argument("--video-sequential", action="store_true",
                    help="also time the video workloads one stage after the other (pipelined=False), "
                         "alternating with the pipelined runs")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        return run_one(a.one, a.quick, a.video_sequential)
    env = dict(os.environ)
    if not a.keep_openblas_env:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    if a.data:
        env["ESPCN_DATA"] = a.data  # espcn_ref.data.find_data_dir reads it in the children
    threads = a.threads or os.cpu_count() or 1
    results = {}
    for name in WORKLOADS:
        if name in BY_THREADS:  # {"1": one thread pinned to one core, "2": --threads}
            results[name] = {str(n): _run_child(name, a.quick, _thread_env(env, n), pin=n == 1)
                             for n in sorted({1, threads})}
        else:
            extra = ["--video-sequential"] if a.video_sequential and name.startswith("video_") else []
            results[name] = _run_child(name, a.quick, _thread_env(env, threads), extra=extra)
        print(f"  {name} done", file=sys.stderr)
    from espcn_ref.train.provenance import cpu_name

    results["env"] = {"quick": a.quick, "openblas_env_kept": a.keep_openblas_env, "cpus": os.cpu_count(),
                      "threads": threads, "video_sequential": a.video_sequential, "cpu": cpu_name(),
                      "isa": vector_isa(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    report(results)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwritten: {a.json}")


def vector_isa() -> str:
    """The widest x86 vector extension the CPU reports (/proc/cpuinfo flags), else "unknown"."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return "unknown"
    return next((isa for isa in ("avx512f", "avx2", "avx", "sse4_2") if isa in flags), "unknown")


def report(res):
    peak = res["gemm_peak"]["gflops"]
    blas = res["gemm_peak"].get("blas", [{}])[0]
    env = res["env"]
    if "cpu" in env:  # the machine beside every absolute time (results.json files before this lack it)
        print(f"machine: {env['cpu']}, {env['cpus']} CPUs, {env['isa']}; {env['date']}")
    print(f"GEMM roofline (numpy float32): {peak:.0f} GFLOP/s  [{blas.get('internal_api')} "
          f"{blas.get('architecture')}, {blas.get('num_threads')} threads; ours and PyTorch on "
          f"{res['env']['threads']} threads]\n")
    print(f"{'inference, 1080p output':28s} {'ms':>8s} {'GFLOP/s':>8s} {'% roof':>7s} {'+MiB':>6s} {'torch ms':>9s} {'ours/torch':>10s}")
    for r in (2, 3, 4):
        w = res[f"inference_x{r}"]
        tt = w.get("torch_seconds")
        print(f"x{r} whole network ({w['lr_size'][0]}x{w['lr_size'][1]}) {1e3 * w['seconds']:8.1f} {w['gflops']:8.1f} "
              f"{100 * w['gflops'] / peak:6.0f}% {w['rss_peak_mib'] - w['rss_baseline_mib']:6.0f} "
              + (f"{1e3 * tt:9.1f} {w['seconds'] / tt:10.2f}" if tt else f"{'-':>9s} {'-':>10s}"))
        if "macs_per_lr_pixel" in w:  # forward cost, eq. (1)-(3): 1600 + 18432 + 288 r^2
            print(f"    ({w['macs_per_lr_pixel']:,} multiply-adds per LR pixel = 1600 + 18432 + 288*{r}^2)")
        for name, lw in w["layers"].items():
            gf = f"{lw['gflops']:8.1f} {100 * lw['gflops'] / peak:6.0f}%" if "gflops" in lw else f"{'':8s} {'':7s}"
            print(f"    {name:24s} {1e3 * lw['seconds']:8.1f} {gf}")
    w3 = res["inference_x3"]
    print(f"    (+MiB: peak resident memory above the warmed-up process; x3 must hold "
          f"{w3['must_hold_mib']:.0f} MiB of tensors, so {(w3['rss_peak_mib'] - w3['rss_baseline_mib']) / w3['must_hold_mib']:.1f}x)")
    t4 = res["tiled_4k"]
    print(f"\n4K output (x3 from {t4['lr_size'][0]}x{t4['lr_size'][1]}) in 256-px LR tiles: "
          f"{t4['tiled_seconds']:.2f} s, +{t4['tiled_rss_mib']:.0f} MiB (untiled +{t4['untiled_rss_mib']:.0f} MiB); "
          f"tiled == untiled: {'bit for bit' if t4['bit_identical'] else 'max |diff| %.1e' % t4['max_abs_diff']}")
    report_video(res)
    print(f"\n{'training step, 17x17, x3':28s} {'ms':>8s} {'MiB':>6s} {'torch ms':>9s} {'ours/torch':>10s}")
    for b in (16, 64):
        w = res[f"train_step_b{b}"]
        tt = w.get("torch_seconds")
        print(f"batch {b:<22d} {1e3 * w['seconds']:8.1f} {w['max_rss_mib']:6.0f} "
              + (f"{1e3 * tt:9.1f} {w['seconds'] / tt:10.2f}" if tt else f"{'-':>9s} {'-':>10s}"))
    u = res["upsampling_forms"]
    s, m = u["seconds"], u["macs"]
    print(f"\nupsampling forms on {u['size'][0]}x{u['size'][1]}x{u['size'][2]}, r = 3, k_s = 9: "
          "time ratio to sub-pixel (multiply-add ratio), peak MiB allocated in one call")
    ts, mem = u.get("torch_seconds", {}), u.get("peak_alloc_mib", {})
    for name in ("subpixel", "transposed", "fractional_stride"):
        torch_col = (f"   PyTorch {1e3 * ts[name]:6.1f} ms {ts[name] / ts['subpixel']:5.1f}x" if name in ts else "")
        mem_col = f" {mem[name]:6.1f} MiB" if name in mem else ""
        print(f"    {name:18s} {1e3 * s[name]:8.1f} ms   {s[name] / s['subpixel']:5.1f}x   "
              f"({m[name] / m['subpixel']:.0f}x){mem_col}{torch_col}")
    if mem:
        print(f"    (MiB: NumPy's peak allocation during one call, seen by tracemalloc; the output itself is "
              f"{u['output_mib']:.1f} MiB)")
    if ts:
        print(f"    (PyTorch's two forms agree with ours within {u['torch_max_abs_diff']:.1e})")
    report_srcnn(res["fig2_set14_x3"], res["sec35_1080p"])
    print()
    for line in target_lines(targets(res)):
        print(line)


# The speed issue's targets, each a ratio measured in this run (never an absolute time).
REAL_TIME_MS = 1000 / 24  # 41.7 ms a frame: 24 fps


def targets(res) -> list[dict]:
    """Each target: {"name", "value", "target", "met"} (met is None when this run could not measure it)."""
    peak = res["gemm_peak"]["gflops"]
    w3 = res["inference_x3"]
    out = []

    def add(name, value, target, met):
        out.append({"name": name, "value": value, "target": target, "met": met})

    tt = w3.get("torch_seconds")
    add("inference x3, 360x640 -> 1080p, ours / PyTorch", None if not tt else w3["seconds"] / tt, "<= 0.5",
        None if not tt else w3["seconds"] / tt <= 0.5)
    add("inference x3, share of the GEMM roofline", w3["gflops"] / peak, ">= 0.5", w3["gflops"] / peak >= 0.5)
    add("inference x3, ms per frame (real time: <= 41.7 ms, 24 fps)", 1e3 * w3["seconds"], "<= 41.7",
        1e3 * w3["seconds"] <= REAL_TIME_MS)
    for b in (16, 64):
        w = res[f"train_step_b{b}"]
        t = w.get("torch_seconds")
        add(f"training step, batch {b}, ours / PyTorch", None if not t else w["seconds"] / t, "<= 0.7",
            None if not t else w["seconds"] / t <= 0.7)
    add("video x3 to 1080p, fps / fps at 06e9d50", None, ">= 1.9 (benchmarks/video_ratio.py measures it)", None)
    return out


def target_lines(rows) -> list[str]:
    """The targets as printed lines: value, target, and met / NOT met / not measured."""
    lines = ["targets (each a ratio from this run; met or not, and by how much):"]
    for t in rows:
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        verdict = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT met")
        lines.append(f"    {t['name']:62s} {value:>8s}  target {t['target']:<10s} {verdict}")
    return lines


def report_video(res):
    """Video, decode -> upscale -> encode at once, x2, x3 and x4 (and one after the other, if timed)."""
    print("video, H.264 in and out, decoding, upscaling and encoding at once (median of the runs):")
    for r in (2, 3, 4):
        v = res[f"video_x{r}"]
        h, w = v["lr_size"]
        print(f"    x{r} ({h}x{w} -> {r * h}x{r * w}, {v['frames']} frames): {1e3 * v['seconds_per_frame']:.0f} ms "
              f"per frame ({v['fps']:.2f} fps); per frame {1e3 * v['upscale_image_seconds']:.0f} ms colour upscaling, "
              f"of which {1e3 * v['network_seconds']:.0f} ms the network")
        if "sequential_seconds_per_frame" in v:
            print(f"        one stage after the other: {1e3 * v['sequential_seconds_per_frame']:.0f} ms per frame "
                  f"({v['sequential_fps']:.2f} fps); pipelined {v['pipeline_speedup']:.2f}x its fps "
                  f"({v['rounds']} alternating runs each)")


def _on(run) -> str:
    """'1 thread (core 0)' or '2 threads': how a run was placed."""
    pinned = run.get("cpus") is not None and len(run["cpus"]) == 1 and run["threads"] == 1
    return f"{run['threads']} thread{'s' if run['threads'] > 1 else ''}" + (f" (core {run['cpus'][0]})" if pinned else "")


def report_srcnn(fig2, sec35):
    """Fig. 2 and Sec. 3.5: ESPCN against SRCNN, each run ({threads: record}) side by side."""
    runs = [fig2[n] for n in sorted(fig2, key=int)]
    first = runs[0]
    print(f"\nFig. 2: time per image at x3 (the whole Y upscale), mean over {first['images']} "
          f"of each image's median of {first['rounds']} alternating rounds")
    print(f"    {'method':12s} {'PSNR':>6s}  {'':9s} " + " ".join(f"{_on(run) + ' ms':>19s}" for run in runs))
    for k, m in first["methods"].items():
        print(f"    {m['label']:12s} {m['psnr']:6.2f}  {m['psnr_kind']:9s} "
              + " ".join(f"{1e3 * run['seconds_per_image'][k]:19.1f}" for run in runs))
    c = first["config_ratios_srcnn_955_to_espcn"]
    print("    SRCNN 9-5-5 / ESPCN: time " + ", ".join(f"{run['time_ratio_srcnn_955_to_espcn']:.1f}x on {_on(run)}"
                                              for run in runs)
          + f"; the configs: multiply-adds {c['macs']:.1f}x, weights {c['weights']:.2f}x")
    for k, m in first["methods"].items():
        print(f"    ({m['label']}: PSNR {m['psnr_source']}; weights: {m['weights']})")
    print("\nSec. 3.5: one frame with a 1080p output, SRCNN 9-5-5 (its bicubic step included) against ESPCN")
    print(f"    {'':3s} {'run':17s} {'ESPCN ms':>9s} {'SRCNN ms':>9s} {'bicubic ms':>10s} {'time ratio':>10s} "
          f"{'MACs ratio':>10s} {'weights':>8s} {'paper (K2)':>10s}")
    for n in sorted(sec35, key=int):
        run = sec35[n]
        for r in (3, 4):
            w = run[f"x{r}"]
            print(f"    x{r} {_on(run):17s} {1e3 * w['espcn_seconds']:9.1f} {1e3 * w['srcnn_955_seconds']:9.1f} "
                  f"{1e3 * w['srcnn_bicubic_seconds']:10.1f} {w['time_ratio']:9.1f}x {w['config_ratios']['macs']:9.1f}x "
                  f"{w['config_ratios']['weights']:7.2f}x {w['paper_k2_time_ratio']:9.1f}x")
    print(f"    (LR {sec35[n]['x3']['lr_size']} at x3, {sec35[n]['x4']['lr_size']} at x4; "
          f"SRCNN weights: {sec35[n]['srcnn_weights']})")


if __name__ == "__main__":
    main()
