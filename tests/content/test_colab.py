"""The Colab path: labs 1-3 pass nbval where the package was installed --no-deps on the oldest
libraries it supports, with ipywidgets 7.7.1 and no torch at all (tests/colab_env.py)."""
from __future__ import annotations

import json
import re
import subprocess

import nbformat
import pytest

from tests.colab_env import colab_env, colab_python, floors
from tests.helpers import LABS, ROOT, lab

pytestmark = pytest.mark.slow
TORCH_FREE = [lab(prefix) for prefix in ("01", "02", "03")]


@pytest.fixture(scope="module")
def python():
    return colab_python()


def run(python, code: str) -> str:
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=ROOT / "notebooks",
                            timeout=300, env=colab_env())
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_the_environment_is_what_colab_gives_a_student(python):
    report = json.loads(run(python, (
        "import json, importlib.metadata as m, importlib.util as u, crossattn\n"
        "print(json.dumps({'versions': {n: m.version(n) for n in ('numpy', 'matplotlib', 'ipywidgets')},\n"
        "                  'torch': u.find_spec('torch') is not None, 'package': crossattn.__file__}))")))
    for name in ("numpy", "matplotlib"):  # the floors pyproject.toml claims, tested
        assert report["versions"][name].startswith(floors()[name] + "."), report
    assert report["versions"]["ipywidgets"] == "7.7.1"
    assert not report["torch"], "the Colab-like environment must hold no torch: labs 1-3 must not need it"
    assert "site-packages" in report["package"], f"crossattn came from {report['package']}, not the --no-deps install"


def without_torch_cells(notebook, out_dir):
    """A copy of the lab without the cells that import torch (lab 2 compares with PyTorch in one).

    What is left must run without torch: a later cell that used those cells' names fails nbval.
    """
    nb = nbformat.read(notebook, as_version=4)
    kept = [c for c in nb.cells if not (c.cell_type == "code" and re.search(r"^\s*(import|from) torch", c.source, re.M))]
    dropped = len(nb.cells) - len(kept)
    nb.cells = kept
    path = out_dir / notebook.name
    nbformat.write(nb, path)
    return path, dropped


@pytest.mark.parametrize("notebook", TORCH_FREE, ids=lambda p: p.stem)
def test_labs_1_to_3_pass_nbval_on_colab_without_torch(python, notebook, tmp_path):
    copy, dropped = without_torch_cells(notebook, tmp_path)
    assert dropped == (1 if notebook.name.startswith("02_") else 0), "only lab 2's PyTorch comparison may import torch"
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", "--nbval",
         "--nbval-current-env", "--nbval-cell-timeout=300", str(copy)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, env=colab_env())
    assert result.returncode == 0, result.stdout[-6000:]


def test_a_lab_that_needs_torch_fails_there(python):
    """Control: lab 4 imports torch, so in this environment it must fail; the runs above could."""
    lab4 = next(p for p in LABS if p.name.startswith("04_"))
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", "--nbval",
         "--nbval-current-env", "-x", str(lab4.relative_to(ROOT))],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=colab_env())
    assert result.returncode != 0 and "No module named 'torch'" in result.stdout
