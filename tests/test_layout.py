"""The layout holds: the layer contract of pyproject.toml, a place in it for
every module, and no module importing another module's underscore names."""

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "espcn_ref"


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return [name.strip() for layer in contract["layers"] for name in layer.split("|")]


def test_the_layer_contract_is_kept():
    """lint-imports (import-linter) checks every import of the package against the layers."""
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "1 kept, 0 broken" in done.stdout, done.stdout[-2000:]


def test_every_module_has_a_place_in_the_layers():
    layers = set(_layers())
    tops = {f"espcn_ref.{p.stem if p.is_file() else p.name}" for p in PACKAGE.iterdir()
            if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").is_file()}
    assert tops - layers == set(), f"modules without a layer: {sorted(tops - layers)}"
    assert layers - tops == set(), f"layers naming no module: {sorted(layers - tops)}"


def _imported_private_names(source: str, filename: str):
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"{filename}:{node.lineno} imports {alias.name} from {'.' * node.level}{node.module or ''}"


def _sources():
    for folder in ("src", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        yield str(path.relative_to(ROOT)), "\n".join(l for l in code.splitlines() if not l.lstrip().startswith(("%", "!")))


def test_no_module_imports_another_modules_private_names():
    """Private helper modules (_checks, _atomic, viz/_draw) may serve the
    package, through their public names; underscore names stay in their module."""
    found = [hit for name, source in _sources() for hit in _imported_private_names(source, name)]
    assert found == []


def test_the_private_import_check_has_teeth():
    hits = list(_imported_private_names("from .ops.shuffle import _channel, pixel_shuffle\n", "x.py"))
    assert hits == ["x.py:1 imports _channel from .ops.shuffle"]
