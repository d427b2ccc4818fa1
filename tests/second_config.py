"""The second CPU configuration the course must also pass on, shared by its two test files.

A different CPU rounds floating point differently: another SIMD width, another thread count, another
BLAS. We cannot borrow another CPU in CI, but ATen's portable kernels (``ATEN_CPU_CAPABILITY=default``,
no AVX) on one thread round differently from the default AVX2/AVX-512 kernels on two, which is what a
student on Colab or Binder meets. Every lab must pass nbval and every page must execute under that
second configuration; an assertion resting on a bit-exact reproduction of a training run fails there.

The backend is forced to Agg too: a user's ``MPLBACKEND`` must not change what the labs print. The labs
(``tests/content/test_second_config_labs.py``) and the pages (``test_second_config_pages.py``) are two
files so that ``--dist loadfile`` runs them on two workers at once.
"""
from __future__ import annotations

import os

import nbformat
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient

SECOND = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "MPLBACKEND": "Agg"}


def second_env() -> dict[str, str]:
    return {**os.environ, **SECOND}


def execute_page(page, env: dict[str, str]) -> nbformat.NotebookNode:
    """Execute a chapter page (a MyST text notebook) top to bottom in a fresh kernel, from chapters/."""
    nb = read_myst_markdown_notebook(page.read_text(encoding="utf-8"))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(page.parent)}})
    client.execute(env=env)
    return nb
