"""The test runner's own setup: a lab's cells must run in order in one kernel, on two workers too.

nbval runs a notebook's cells as separate test items that share one kernel. If the scheduler of
pytest-xdist sent them to two workers, a cell would meet a kernel without the names an earlier cell
defined, and every lab would fail with NameErrors on a machine whose tests had passed one at a time.
"""
from __future__ import annotations

import shlex
import subprocess
import sys

import nbformat
import tomllib

from tests.helpers import ROOT


def addopts() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return shlex.split(config["tool"]["pytest"]["ini_options"]["addopts"])


def chain_notebook(n_cells: int) -> nbformat.NotebookNode:
    """Cell i reads the name cell i - 1 defined: it passes only after all earlier cells, in one kernel."""
    cells = [nbformat.v4.new_code_cell("x0 = 0")]
    cells += [nbformat.v4.new_code_cell(f"x{i} = x{i - 1} + 1") for i in range(1, n_cells)]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def run_pytest(folder, options: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           *options, str(folder)], cwd=folder, capture_output=True, text=True, timeout=300)


def test_a_notebook_stays_in_one_kernel_under_the_projects_pytest_options(tmp_path):
    nbformat.write(chain_notebook(12), tmp_path / "chain.ipynb")
    for i in range(4):  # other files, for the scheduler to spread
        (tmp_path / f"test_other_{i}.py").write_text("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    options = addopts()
    assert "-n" in options, "the suite is meant to run on two workers; update this test if that changed"
    result = run_pytest(tmp_path, options)
    assert result.returncode == 0, result.stdout[-3000:]
    # Control: spread item by item (--dist load), the same notebook's cells land on both workers and fail.
    assert "--dist" in options, "the suite names its xdist scheduling in addopts"
    i = options.index("--dist")
    spread = options[:i] + options[i + 2:] + ["--dist", "load"]
    control = run_pytest(tmp_path, spread)
    assert control.returncode != 0 and "NameError" in control.stdout, control.stdout[-3000:]
