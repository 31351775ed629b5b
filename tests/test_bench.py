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
    assert set(res["inference_x3"]["layers"]) >= {"conv1 (+bias)", "conv2 (+bias)", "conv3 (+bias)", "tanh1", "shuffle"}
    assert res["tiled_4k"]["max_abs_diff"] <= 1e-6
    forms = res["upsampling_forms"]  # timings are the benchmark's business; the cost model is pinned here
    assert set(forms["seconds"]) == {"subpixel", "transposed", "fractional_stride"}
    macs = forms["macs"]
    assert macs["transposed"] == macs["subpixel"] and macs["fractional_stride"] == 9 * macs["subpixel"]
    mem = res["upsampling_forms"]["peak_alloc_mib"]  # zero-inserted maps > stamp matrix > padded input
    assert mem["fractional_stride"] > 4 * mem["transposed"] and mem["transposed"] > mem["subpixel"] > 0
    assert "tiled == untiled" in proc.stdout
    v = res["video_x3"]  # every frame of the 6-frame clip came back
    assert v["frames"] == 6


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
