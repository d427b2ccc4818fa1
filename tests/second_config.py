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
import re

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


def formatted_glue_errors(page, nb: nbformat.NotebookNode) -> list[str]:
    """Glued values the page formats (``{glue:text}`key:.2f```) whose stored text is not a plain number.

    MyST-NB formats the *text* of a glued value: a NumPy scalar is stored as ``np.float64(0.5)`` under
    NumPy 2 and the book build fails with "could not convert string to float".
    """
    formatted = set(re.findall(r"\{glue:text\}`([A-Za-z0-9_]+):", page.read_text(encoding="utf-8")))
    errors = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record and record["name"] in formatted:
                text = output["data"].get(record["mime_prefix"] + "text/plain", "")
                try:
                    float(text)
                except ValueError:
                    errors.append(f"{record['name']} = {text!r}: glue float(value), not a NumPy scalar")
    return errors
