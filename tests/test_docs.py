"""The API reference (``make docs``) builds from the docstrings with every
warning an error, and its pages hold the API."""

import os
import re
import subprocess
import sys
from pathlib import Path

BUILD = Path(__file__).resolve().parents[1] / "docs" / "build_api.py"


def build(out: Path, package: str | None = None, path: Path | None = None) -> subprocess.CompletedProcess:
    """docs/build_api.py in a fresh interpreter (pdoc imports every module it
    documents); ``package`` found in ``path`` instead of espcn_ref."""
    args = [sys.executable, str(BUILD), str(out)] + ([package] if package else [])
    env = dict(os.environ, **({"PYTHONPATH": str(path)} if path else {}))
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)


def docstrings(page: str) -> str:
    """The rendered docstrings of a page (not its "View Source" code)."""
    return "".join(re.findall(r'<div class="docstring">(.*?)</div>', page, re.S))


def test_the_reference_builds_without_warnings(tmp_path):
    done = build(tmp_path / "api")
    assert done.returncode == 0, f"the API reference did not build cleanly:\n{done.stderr[-3000:]}"
    pages = {p.relative_to(tmp_path / "api").as_posix(): p.read_text(encoding="utf-8")
             for p in (tmp_path / "api").rglob("*.html")}
    for page in ("index.html", "espcn_ref.html", "espcn_ref/model.html", "espcn_ref/ops/shuffle.html",
                 "espcn_ref/ops/blas.html", "espcn_ref/equivalence.html"):
        assert page in pages, f"no {page} among {sorted(pages)}"
    assert 'id="ESPCN"' in pages["espcn_ref/model.html"]  # the class, with its own anchor
    assert "ESPCN.forward" in pages["espcn_ref/model.html"]
    assert 'id="pixel_shuffle"' in pages["espcn_ref/ops/shuffle.html"]
    # a shape's * is multiplication, not emphasis; the data table is kept as laid out
    shuffle = docstrings(pages["espcn_ref/ops/shuffle.html"])
    assert "x: (N, C*r^2, H, W)" in shuffle and "(N, C, r*H, r*W)" in shuffle
    assert "Test/Set5/*_GT.bmp" in docstrings(pages["espcn_ref/fetch.html"])
    assert 'id="gemm_kernel_reference"' in pages["espcn_ref/ops/blas.html"]
    assert not any(name.startswith("_") for page in pages for name in Path(page).with_suffix("").parts), \
        "private modules get no page"


def test_a_warning_fails_the_build(tmp_path):
    """The negative control: a package whose annotation pdoc cannot resolve."""
    pkg = tmp_path / "src" / "broken_docs"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""A package."""\n\n\ndef f(x: "NoSuchType") -> None:\n    """Takes x."""\n')
    done = build(tmp_path / "api", "broken_docs", tmp_path / "src")
    assert done.returncode == 1
    assert "NoSuchType" in done.stderr and "treated as errors" in done.stderr
