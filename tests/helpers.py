"""Helpers shared by the tests: where things are, and the labs' reference solutions."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from crossattn.tooling.labs import SOLUTION_TAG, read_notebook, tags

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LABS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def lab(prefix: str) -> Path:
    """The lab whose file name starts with ``prefix`` (e.g. "01")."""
    matches = [p for p in LABS if p.name.startswith(prefix + "_")]
    assert len(matches) == 1, f"expected one lab named {prefix}_*.ipynb, found {matches}"
    return matches[0]


def solution_namespace(prefix: str) -> dict[str, Any]:
    """Run every solution cell of lab ``prefix`` and return the names they define.

    The reference solutions then come from the lab itself, so a checker test proves that what
    the website shows as the solution really passes the check.
    """
    namespace: dict[str, Any] = {}
    for cell in read_notebook(lab(prefix)).cells:
        if cell.cell_type == "code" and SOLUTION_TAG in tags(cell):
            exec(compile(cell.source, f"{prefix} solution", "exec"), namespace)  # noqa: S102 - our own notebooks
    return namespace


def book_config() -> dict[str, Any]:
    """The parsed ``_config.yml``."""
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def repo_url() -> str:
    """The repository URL, from the one place it lives: ``_config.yml``."""
    return book_config()["repository"]["url"]


def without_code_cells(text: str) -> str:
    """A MyST page without its front matter and its ``{code-cell}`` blocks (other fences stay)."""
    if text.startswith("---\n"):
        text = text[text.find("\n---\n", 4) + 5:]
    return re.sub(r"^(`{3,})\{code-cell\}[^\n]*\n.*?^\1\s*$", "", text, flags=re.S | re.M)


def sections(text: str) -> dict[str, str]:
    """The ``## `` sections of a MyST page (code cells left out), in page order: {heading: body}."""
    parts = re.split(r"^## (.+?)\s*$", without_code_cells(text), flags=re.M)
    return {heading: body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}
