"""Chapters 1-3 run without torch (the design: labs 1-3 and chapters 1-3 need NumPy only).

Each page is executed in a kernel where ``import torch`` raises ImportError (a meta-path finder
installed by a ``sitecustomize`` on the kernel's PYTHONPATH). Chapter 2 compares the NumPy attention
with PyTorch's in cells that use torch; only those cells are left out, and what remains must run.
The labs are run without torch by tests/content/test_colab.py.
"""
from __future__ import annotations

import os
import re

import pytest
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.helpers import ROOT

pytestmark = pytest.mark.slow

BLOCKER = '''import importlib.abc, sys
class _NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"torch is blocked: this page must run without it ({name})")
sys.meta_path.insert(0, _NoTorch())
'''
TORCH = re.compile(r"\btorch\b")


def uses_torch(source: str) -> bool:
    """Whether a cell's code (comments aside) names torch: the cells that compare with PyTorch."""
    return bool(TORCH.search("\n".join(line.split("#")[0] for line in source.splitlines())))


def run_without_torch(page, tmp_path, drop_torch_cells: bool) -> int:
    """Execute ``page`` with torch blocked; returns how many of its cells use torch."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    nb = read_myst_markdown_notebook(page.read_text(encoding="utf-8"))
    torch_cells = [c for c in nb.cells if c.cell_type == "code" and uses_torch(c.source)]
    if drop_torch_cells:
        nb.cells = [c for c in nb.cells if c not in torch_cells]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(page.parent)}}).execute(env=env)
    return len(torch_cells)


@pytest.mark.parametrize("number", ["01", "03"])
def test_chapters_1_and_3_run_with_torch_unimportable(number, tmp_path):
    page = next((ROOT / "chapters").glob(f"{number}_*.md"))
    assert run_without_torch(page, tmp_path, drop_torch_cells=False) == 0


def test_in_chapter_2_only_the_pytorch_comparison_needs_torch(tmp_path):
    page = next((ROOT / "chapters").glob("02_*.md"))
    assert run_without_torch(page, tmp_path, drop_torch_cells=True) >= 1


def test_the_blocker_stops_a_page_that_imports_torch(tmp_path):
    """Control: chapter 4 needs torch, so with the blocker in place it must fail."""
    page = next((ROOT / "chapters").glob("04_*.md"))
    with pytest.raises(CellExecutionError, match="torch is blocked"):
        run_without_torch(page, tmp_path, drop_torch_cells=False)
