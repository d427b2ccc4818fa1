"""The course runs anywhere: every lab and every chapter page, again, on a second CPU configuration.

A different CPU rounds floating point differently: another SIMD width, another thread count, another
BLAS. We cannot borrow another CPU in CI, but ATen's portable kernels (``ATEN_CPU_CAPABILITY=default``,
no AVX) on one thread round differently from the default AVX2 kernels on two, which is what a student
on Colab or Binder meets. Every lab must pass nbval and every page must execute under that second
configuration; an assertion resting on a bit-exact reproduction of a training run fails here.

The backend is forced to Agg too: a user's ``MPLBACKEND`` must not change what the labs print.
"""
from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.helpers import LABS, ROOT

SECOND = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "MPLBACKEND": "Agg"}
PAGES = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))

pytestmark = [pytest.mark.slow, pytest.mark.second_config]


def second_env() -> dict[str, str]:
    return {**os.environ, **SECOND}


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.stem)
def test_lab_passes_nbval_on_the_second_configuration(lab):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", "--nbval",
         "--nbval-current-env", "--nbval-cell-timeout=300", str(lab.relative_to(ROOT))],
        cwd=ROOT, env=second_env(), capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{lab.name} under {SECOND}:\n{result.stdout[-6000:]}"


def execute_page(page, env: dict[str, str]) -> nbformat.NotebookNode:
    """Execute a chapter page (a MyST text notebook) top to bottom in a fresh kernel, from chapters/."""
    nb = read_myst_markdown_notebook(page.read_text(encoding="utf-8"))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(page.parent)}})
    client.execute(env=env)
    return nb


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_executes_on_the_second_configuration(page):
    try:
        execute_page(page, second_env())
    except CellExecutionError as error:
        pytest.fail(f"{page.name} under {SECOND}:\n{str(error)[-6000:]}")


def test_a_page_that_asserts_a_bit_exact_float_fails_here(tmp_path):
    """Control: the harness really runs the second configuration, and a page cell that fails fails the test."""
    page = tmp_path / "probe.md"
    page.write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n  name: python3\n"
        "  display_name: Python 3\n---\n\n# Probe\n\n```{code-cell} python\nimport os, torch\n"
        "assert os.environ['ATEN_CPU_CAPABILITY'] == 'default'\nassert torch.get_num_threads() == 1\n"
        "assert torch.backends.cpu.get_cpu_capability() == 'DEFAULT'\n```\n", encoding="utf-8")
    execute_page(page, second_env())
    page.write_text(page.read_text(encoding="utf-8").replace("'DEFAULT'", "'AVX2'"), encoding="utf-8")
    with pytest.raises(CellExecutionError):
        execute_page(page, second_env())
