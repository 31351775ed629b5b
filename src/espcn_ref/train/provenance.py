"""What made a model: training sets, command, commit and machine, for its file.

A run's ``sessions.csv`` gets one row per call of :func:`.loop.train` (the
first start and every resume): the epoch it started at, the CPU, the BLAS
kernel and the thread counts, the commit and the command. Training is
deterministic on one machine kind and thread count; a resume on another CPU
or BLAS kernel still trains, but not bit for bit as an uninterrupted run
would, so :func:`machine_changes` names what changed and the loop warns.
"""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from pathlib import Path

from .. import __version__


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """{"cpu", "blas", "threads"}: the CPU, the BLAS library and kernel (threadpoolctl), Numba's threads."""
    from numba import get_num_threads
    from threadpoolctl import threadpool_info

    blas = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture', '')}".strip()
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"cpu": cpu_name(), "blas": "; ".join(blas) or "unknown", "threads": get_num_threads()}


def source_commit() -> str | None:
    """The git commit of the espcn-ref source in use ("+dirty" if it has uncommitted changes), or None."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--", str(here.parents[1])], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def session_record(epoch: int, command: str | None = None) -> dict:
    """One row of sessions.csv: where and with what this call of train() runs."""
    return {"start_epoch": epoch, **machine_info(), "commit": source_commit() or "unknown",
            "version": __version__, "command": command or shlex.join(["espcn-ref", *sys.argv[1:]])}


def machine_changes(before: dict, now: dict) -> list[str]:
    """The fields of cpu, blas and threads that differ between two session records."""
    return [f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in ("cpu", "blas", "threads") if before.get(k) != now.get(k)]
