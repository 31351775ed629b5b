"""`make bench` runs end to end (quick sizes, one thread) and writes its JSON."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


@pytest.mark.slow
def test_bench_quick_run(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--threads", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["gemm_peak"]["blas"][0]["internal_api"]  # which BLAS kernel ran, from threadpoolctl
    env = res["env"]  # the machine beside every absolute time
    assert env["cpu"] and env["isa"] in {"avx512f", "avx2", "avx", "sse4_2", "unknown"} and env["cpus"] >= 1
    assert f"machine: {env['cpu']}, {env['cpus']} CPUs, {env['isa']}" in proc.stdout
    assert set(res["inference_x3"]["layers"]) >= {"conv1 (+bias)", "conv2 (+bias)", "conv3 (+bias)", "tanh1", "shuffle"}
    assert res["tiled_4k"]["max_abs_diff"] <= 1e-6
    forms = res["upsampling_forms"]  # timings are the benchmark's business; the cost model is pinned here
    assert set(forms["seconds"]) == {"subpixel", "transposed", "fractional_stride"}
    macs = forms["macs"]
    assert macs["transposed"] == macs["subpixel"] and macs["fractional_stride"] == 9 * macs["subpixel"]
    mem = res["upsampling_forms"]["peak_alloc_mib"]  # zero-inserted maps > stamp matrix > padded input
    assert mem["fractional_stride"] > 4 * mem["transposed"] and mem["transposed"] > mem["subpixel"] > 0
    assert "tiled == untiled" in proc.stdout
    for r, lr in ((2, [134, 240]), (3, [90, 160]), (4, [66, 120])):  # every frame of the 6-frame clip came back
        v = res[f"video_x{r}"]
        assert (v["scale"], v["frames"], v["lr_size"]) == (r, 6, lr) and v["fps"] == 1 / v["seconds_per_frame"]
        assert "sequential_fps" not in v  # timed only with --video-sequential
    assert "one stage after the other" not in proc.stdout and "x4 (66x120 -> 264x480, 6 frames)" in proc.stdout
    fig2, sec35 = res["fig2_set14_x3"], res["sec35_1080p"]
    assert set(fig2) == set(sec35) == {"1"}  # --threads 1: only the run on one pinned thread
    assert fig2["1"]["threads"] == sec35["1"]["threads"] == 1 and len(fig2["1"]["cpus"]) == 1
    check_fig2_record(fig2["1"])
    for r, macs, weights, k2 in ((3, 22.75, 2.53, 11.4), (4, 37.13, 2.32, 15.0)):
        frame = sec35["1"][f"x{r}"]  # Sec. 3.5: a 1080p frame (quick: a quarter of its side)
        assert set(frame) >= {"lr_size", "espcn_seconds", "srcnn_955_seconds", "srcnn_bicubic_seconds", "time_ratio"}
        assert frame["lr_size"] == [{3: 90, 4: 67}[r], {3: 160, 4: 120}[r]]
        ratios = frame["config_ratios"]
        assert (round(ratios["macs"], 2), round(ratios["weights"], 2), frame["paper_k2_time_ratio"]) == (macs, weights, k2)
    assert "Fig. 2: time per image at x3" in proc.stdout and "Sec. 3.5: one frame with a 1080p output" in proc.stdout


@pytest.mark.slow
def test_video_pipelined_and_sequential_side_by_side():
    """--video-sequential times upscale_video's two paths in one process, alternating (quick: one run each)."""
    proc = subprocess.run([sys.executable, str(BENCH), "--one", "video_x4", "--quick", "--video-sequential"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    v = json.loads(proc.stdout.strip().splitlines()[-1])
    assert v["frames"] == 6 and v["rounds"] == 1
    assert v["pipeline_speedup"] == v["sequential_seconds_per_frame"] / v["seconds_per_frame"]


def test_the_video_report_names_both_paths(capsys):
    """The report's video lines, from a made-up record (no timing is taken here)."""
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    record = {"lr_size": [10, 20], "frames": 6, "rounds": 1, "seconds_per_frame": 0.5, "fps": 2.0,
              "upscale_image_seconds": 0.4, "network_seconds": 0.3}
    res = {f"video_x{r}": dict(record) for r in (2, 3, 4)}
    res["video_x3"] |= {"sequential_seconds_per_frame": 1.0, "sequential_fps": 1.0, "pipeline_speedup": 2.0}
    bench.report_video(res)
    out = capsys.readouterr().out
    assert "x2 (10x20 -> 20x40, 6 frames): 500 ms per frame (2.00 fps)" in out
    assert out.count("one stage after the other") == 1 and "pipelined 2.00x its fps" in out


def check_fig2_record(run):
    """The keys of one Fig. 2 run that the figure (espcn_ref.viz.fig2_points) reads, and what they hold."""
    methods = {"bicubic", "srcnn_915", "srcnn_955", "espcn"}
    assert set(run["methods"]) == set(run["seconds_per_image"]) == set(run["per_image_seconds"]) == methods
    assert all(len(times) == len(run["lr_sizes"]) for times in run["per_image_seconds"].values())
    for m in run["methods"].values():
        assert set(m) == {"label", "psnr", "psnr_kind", "psnr_source", "weights"} and m["psnr_kind"] in ("measured", "published")
    assert run["methods"]["srcnn_955"]["psnr_kind"] == "published" and "random init" in run["methods"]["srcnn_955"]["weights"]
    assert run["methods"]["bicubic"]["psnr_kind"] == run["methods"]["espcn"]["psnr_kind"] == "measured"
    assert run["time_ratio_srcnn_955_to_espcn"] == run["seconds_per_image"]["srcnn_955"] / run["seconds_per_image"]["espcn"]
    assert round(run["config_ratios_srcnn_955_to_espcn"]["macs"], 1) == 22.7


@pytest.mark.slow
def test_fig2_without_set14_times_synthetic_images(tmp_path):
    """No Set14 under the data root: the same record, on random images, and it says so."""
    import os

    env = {**os.environ, "ESPCN_DATA": str(tmp_path), "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(BENCH), "--one", "fig2_set14_x3", "--quick"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads(proc.stdout.strip().splitlines()[-1])
    check_fig2_record(run)
    assert run["synthetic"] and run["images"].startswith("synthetic: no Set14")
    assert run["methods"]["espcn"]["psnr"] == 29.28 and "README" in run["methods"]["espcn"]["psnr_source"]


EPOCH = BENCH.parent / "epoch_time.py"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "T91").is_dir(), reason="../shared/data not present")
def test_epoch_time_runs_on_the_reference_patches():
    """`make bench-epoch` trains on all 2,701 stride-13 patches and summarises epochs 2..n."""
    proc = subprocess.run([sys.executable, str(EPOCH), "--data", str(SHARED), "--epochs", "2"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("2701 patches, batch 16")
    assert "espcn-ref epochs 2-2: median" in proc.stdout
    if importlib.util.find_spec("torch") is not None:  # the same epochs in PyTorch, same run
        assert "PyTorch epochs 2-2: median" in proc.stdout and "ours / PyTorch (medians, epochs alternating): " in proc.stdout
    else:
        assert "PyTorch not installed" in proc.stdout


def test_epoch_time_refuses_one_epoch():
    proc = subprocess.run([sys.executable, str(EPOCH), "--data", ".", "--epochs", "1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "at least 2" in proc.stderr


RATIO = BENCH.parent / "video_ratio.py"


@pytest.mark.slow
def test_video_ratio_runs_both_checkouts(tmp_path):
    """benchmarks/video_ratio.py times a baseline source tree (here a copy of this one) against this checkout."""
    import shutil

    shutil.copytree(BENCH.parents[1] / "src" / "espcn_ref", tmp_path / "src" / "espcn_ref",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "ratio.json"
    proc = subprocess.run([sys.executable, str(RATIO), str(tmp_path), "--quick", "--rounds", "1", "--scales", "4",
                           "--threads", "1", "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "x4: baseline" in proc.stdout and "the baseline's fps" in proc.stdout
    runs = json.loads(out.read_text())["seconds_per_frame"]["4"]
    assert len(runs["baseline"]) == len(runs["this"]) == 1


def test_video_ratio_needs_a_baseline_tree(tmp_path):
    proc = subprocess.run([sys.executable, str(RATIO), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "source tree of the baseline" in proc.stderr


def test_the_targets_are_ratios_judged_against_the_issue():
    """No timing is run: a made-up result dict is judged (met, NOT met, not measured)."""
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = {"gemm_peak": {"gflops": 400.0},
           "inference_x3": {"seconds": 0.06, "gflops": 173.3, "torch_seconds": 0.11},
           "train_step_b16": {"seconds": 0.0045, "torch_seconds": 0.0048},
           "train_step_b64": {"seconds": 0.010, "torch_seconds": 0.016}}
    got = [(t["value"], t["met"]) for t in bench.targets(res)]
    assert got[0] == (pytest.approx(0.06 / 0.11), False)  # 0.55 > 0.5
    assert got[1] == (pytest.approx(173.3 / 400), False)  # 43% < 50% of the roofline
    assert got[2] == (pytest.approx(60.0), False)  # not real time
    assert got[3] == (pytest.approx(0.9375), False) and got[4] == (pytest.approx(0.625), True)
    assert got[5] == (None, None) and len(got) == 6
    text = "\n".join(bench.target_lines(bench.targets(res)))
    assert "NOT met" in text and " met" in text and "not measured" in text
    del res["inference_x3"]["torch_seconds"]
    assert bench.targets(res)[0]["met"] is None  # no PyTorch in this run: not measured, not "met"
