"""The teaching notebooks: they run headless in quick mode, and they are
committed stripped, with no math defined in them (they only call espcn_ref).

Each notebook is executed with nbclient in a kernel started by *this*
interpreter (a kernelspec written to a temporary JUPYTER_PATH), so the test
does not depend on which "python3" kernel a machine happens to have.
"""

import ast
import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = (
    "01_periodic_shuffle",
    "02_subpixel_vs_deconvolution",
    "03_backprop_by_hand",
    "04_train_on_cpu",
    "05_evaluate_like_the_papers",
    "06_espcn_vs_srcnn",
)
KERNEL = "espcn-ref-tests"
ALLOWED_IMPORTS = {"espcn_ref", "inspect", "numpy", "matplotlib", "os", "pathlib", "tempfile"}


def read(name):
    return nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def python_source(cell) -> str:
    """A code cell without its IPython magics (``%matplotlib inline``)."""
    return "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernelspec whose argv runs sys.executable, on a private JUPYTER_PATH.

    The kernel's runtime files and IPython's profile also go to the temporary
    folder, so a CI machine with a read-only or empty home works too.
    """
    prefix = tmp_path_factory.mktemp("jupyter")
    kernelspec.install(kernel_name=KERNEL, display_name="espcn-ref tests", prefix=str(prefix))
    spec_dir = prefix / "share" / "jupyter" / "kernels" / KERNEL
    argv = json.loads((spec_dir / "kernel.json").read_text())["argv"]
    assert argv[0] == sys.executable, f"the test kernel would run {argv[0]}, not {sys.executable}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"), prepend=os.pathsep)
        mp.setenv("JUPYTER_RUNTIME_DIR", str(prefix / "runtime"))
        mp.setenv("IPYTHONDIR", str(prefix / "ipython"))
        yield KERNEL


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_quick_mode(name, kernel_name, monkeypatch):
    monkeypatch.setenv("ESPCN_NOTEBOOK_QUICK", "1")  # the kernel inherits the environment
    nb = read(name)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(NB_DIR)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [out for cell in code_cells(nb) for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert any("quick mode" in out.get("text", "") for out in outputs), "the notebook did not see ESPCN_NOTEBOOK_QUICK"
    for cell in code_cells(nb):  # every cell that draws a figure shows it (unless it is optional)
        if "viz.plot_" in cell.source and "else None" not in cell.source:
            assert any("image/png" in out.get("data", {}) for out in cell.outputs), f"no picture from:\n{cell.source}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    nb = read(name)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [], f"{name}: a code cell has outputs; strip them before committing"
        assert cell.execution_count is None, f"{name}: a code cell has an execution count"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_defines_no_math(name):
    """Every computation is a call into espcn_ref: no functions or classes, few imports."""
    for cell in code_cells(read(name)):
        assert "def " not in cell.source, f"{name}: a code cell defines a function:\n{cell.source}"
        tree = ast.parse(python_source(cell))
        for node in ast.walk(tree):
            assert not isinstance(node, ast.ClassDef), f"{name}: a code cell defines a class"
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= ALLOWED_IMPORTS, f"{name}: imports {roots - ALLOWED_IMPORTS}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_explains_quick_mode(name):
    nb = read(name)
    assert any(c.cell_type == "markdown" and "ESPCN_NOTEBOOK_QUICK" in c.source for c in nb.cells)
    assert any('os.environ.get("ESPCN_NOTEBOOK_QUICK")' in c.source for c in code_cells(nb))
