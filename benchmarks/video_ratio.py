"""Video fps of this checkout against a baseline checkout, x2, x3 and x4 to 1080p.

The target of the video pipeline: x3 at >= 1.9x the fps of commit 06e9d50,
on the same machine. The baseline is a source tree of that commit::

    mkdir -p /tmp/espcn-06e9d50 && git archive 06e9d50 | tar -x -C /tmp/espcn-06e9d50
    python benchmarks/video_ratio.py /tmp/espcn-06e9d50 [--rounds 5] [--threads 2] [--scales 2,3,4] [--quick]

Each round runs every scale twice, each time in a fresh process: once with
the baseline's ``src/`` first on PYTHONPATH, once with this checkout's, in
alternating order (ABBA), so that the machine's drift falls on both alike.
A process writes the clip of `make bench`'s video workload (bench.pan_clip:
30 frames whose x r is 1080p), upscales it once to warm up (compile, load
ffmpeg) and once timed, with the shipped model, as ``espcn-ref upscale``
does. Printed per scale: the median ms per frame and fps of each, and the
ratio of their fps (this / baseline). As `make bench`, it unsets
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for its processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def time_one_video(r: int, quick: bool) -> dict:
    """In a child: seconds per frame of upscale_video on the clip, with whichever espcn_ref is on the path."""
    import espcn_ref
    from espcn_ref import pretrained  # espcn_ref.model's at 06e9d50, espcn_ref.registry's now

    try:
        from espcn_ref.video import upscale_video
    except ImportError:  # before the layout commit, video lived in espcn_ref.inference (06e9d50)
        from espcn_ref.inference import upscale_video
    sys.path.insert(0, str(HERE))
    from bench import pan_clip

    m = pretrained(r)
    with tempfile.TemporaryDirectory() as d:
        src, dst = f"{d}/clip.mp4", f"{d}/clip_x{r}.mp4"
        pan_clip(src, r, quick)
        upscale_video(m, src, dst, r, progress=False)  # warm-up
        t0 = time.perf_counter()
        info = upscale_video(m, src, dst, r, progress=False)
        seconds = time.perf_counter() - t0
    return {"espcn_ref": espcn_ref.__file__, "frames": info["frames"], "seconds_per_frame": seconds / info["frames"]}


def _child(r: int, quick: bool, env: dict, src: Path | None) -> dict:
    if src is not None:  # the baseline's package before any installed one
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))}
    cmd = [sys.executable, __file__, "--child", str(r)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"video x{r} ({'baseline' if src else 'this checkout'}) failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("baseline", nargs="?", help="a source tree of the baseline commit (with src/espcn_ref)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="threads for both (default: all cores)")
    ap.add_argument("--scales", default="2,3,4")
    ap.add_argument("--quick", action="store_true", help="small clips (a smoke run, not figures to quote)")
    ap.add_argument("--json", help="also write the times here")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(time_one_video(a.child, a.quick)))
        return
    if a.baseline is None or not (Path(a.baseline) / "src" / "espcn_ref").is_dir():
        ap.error("give a source tree of the baseline with src/espcn_ref (see the module doc)")
    baseline = Path(a.baseline).resolve() / "src"
    threads = str(a.threads or os.cpu_count() or 1)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env |= {var: threads for var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    scales = [int(s) for s in a.scales.split(",")]
    runs = {r: {"baseline": [], "this": []} for r in scales}
    for k in range(a.rounds):
        for r in scales:
            for side in ("baseline", "this")[:: 1 if k % 2 == 0 else -1]:  # ABBA
                rec = _child(r, a.quick, env, baseline if side == "baseline" else None)
                assert Path(rec["espcn_ref"]).resolve().is_relative_to(baseline) == (side == "baseline"), rec
                runs[r][side].append(rec["seconds_per_frame"])
        print(f"  round {k + 1} of {a.rounds} done", file=sys.stderr)
    print(f"video, 1080p output, {threads} threads, median of {a.rounds} alternating runs"
          + (" (quick: small clips, not figures to quote)" if a.quick else ""))
    for r in scales:
        base, this = (statistics.median(runs[r][side]) for side in ("baseline", "this"))
        print(f"    x{r}: baseline {1e3 * base:.0f} ms per frame ({1 / base:.2f} fps), "
              f"this checkout {1e3 * this:.0f} ms ({1 / this:.2f} fps): {base / this:.2f}x the baseline's fps")
    if a.json:
        Path(a.json).write_text(json.dumps({"threads": int(threads), "rounds": a.rounds, "quick": a.quick,
                                            "seconds_per_frame": runs}, indent=2))


if __name__ == "__main__":
    main()
