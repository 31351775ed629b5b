"""``espcn-ref data fetch``: download the standard SR sets, checked by SHA-256.

The files come from public GitHub repositories pinned to fixed commits (the
same bytes as ``../shared/data``; see its SOURCES.md)::

    =======  ==========================================  ===========================
    set      repository @ commit                         path
    =======  ==========================================  ===========================
    T91      tegg89/SRCNN-Tensorflow @ 78be1a24          Train/*.bmp
    Set5     tegg89/SRCNN-Tensorflow @ 78be1a24          Test/Set5/*_GT.bmp
    Set14    tegg89/SRCNN-Tensorflow @ 78be1a24          Test/Set14/*.bmp
    BSD100   ryujaehun/baseline @ c9e99474               benchmark/B100/HR/*.png
    =======  ==========================================  ===========================

Every file is checked against ``datasets.sha256`` (shipped in the package);
a file is written to its final name only after its checksum matched
(temporary file + rename), so an interrupted or tampered download never
leaves a wrong image in the dataset folder.
"""

from __future__ import annotations

import hashlib
import urllib.request
from importlib import resources
from pathlib import Path

from ._atomic import atomic_path

_RAW = "https://raw.githubusercontent.com"
_SRCNN = f"{_RAW}/tegg89/SRCNN-Tensorflow/78be1a24697935fc39a3a8cf59a6632264afade7"
URLS = {
    "T91": f"{_SRCNN}/Train/{{name}}",
    "Set5": f"{_SRCNN}/Test/Set5/{{name}}",
    "Set14": f"{_SRCNN}/Test/Set14/{{name}}",
    "BSD100": f"{_RAW}/ryujaehun/baseline/c9e99474f11e14db836b378f00068287b0eccd43/benchmark/B100/HR/{{name}}",
}
SETS = tuple(URLS)


def checksums() -> dict:
    """{"Set5/baby_GT.bmp": sha256 hex, ...} for all 210 images."""
    text = resources.files("espcn_ref").joinpath("datasets.sha256").read_text()
    out = {}
    for line in text.splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)
            out[path.strip()] = digest
    return out


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_url(set_name: str, name: str, mirror: str | None = None) -> str:
    """Where a file is downloaded from: the pinned source, or ``mirror/<set>/<name>``."""
    if mirror:
        return f"{mirror.rstrip('/')}/{set_name}/{name}"
    return URLS[set_name].format(name=name)


def fetch(dest, sets=SETS, mirror: str | None = None, timeout: float = 60.0, progress=None) -> dict:
    """Download ``sets`` into ``dest/<set>/``; skip files already present and valid.

    Returns {"downloaded": n, "present": n}. Raises ValueError on a checksum
    mismatch (the bad download is deleted) and OSError on network errors.
    """
    sets = (sets,) if isinstance(sets, str) else tuple(sets)
    unknown = [s for s in sets if s not in URLS]
    if unknown:
        raise ValueError(f"unknown set(s) {unknown}; choose from {SETS}")
    dest = Path(dest)
    wanted = {p: d for p, d in checksums().items() if p.split("/")[0] in sets}
    counts = {"downloaded": 0, "present": 0}
    for rel, digest in sorted(wanted.items()):
        target = dest / rel
        if target.is_file() and _sha256(target) == digest:
            counts["present"] += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        set_name, name = rel.split("/", 1)
        _download_checked(file_url(set_name, name, mirror), target, digest, timeout)
        counts["downloaded"] += 1
        if progress is not None:
            progress(rel)
    return counts


def _download_checked(url, target: Path, digest: str, timeout: float) -> None:
    with atomic_path(target, suffix=".part") as tmp:
        with open(tmp, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                f.write(chunk)
        got = _sha256(tmp)
        if got != digest:
            raise ValueError(f"checksum mismatch for {url}: expected {digest[:16]}..., got {got[:16]}...")
