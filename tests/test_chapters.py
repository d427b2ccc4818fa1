"""Chapter pages follow the course's conventions (design §3, §7)."""
import re

import pytest

from crossattn.labs import ALLOWED_TAGS
from tests.helpers import ROOT

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))
pytestmark = pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])


def test_chapter_has_objectives_summary_questions_and_sources(path):
    text = path.read_text(encoding="utf-8")
    assert re.search(r"Learning objectives", text), "state learning objectives at the top"
    for heading in ("## Summary", "## Check your understanding", "## Sources"):
        assert heading in text, f"missing section {heading!r}"
    assert "{cite:p}" in text or "{cite:t}" in text, "cite the primary sources"


def test_chapter_is_an_executable_text_notebook(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\njupytext:"), "front matter makes the page a MyST-NB notebook executed at build"
    assert "```{code-cell}" in text, "figures and checked claims come from code cells"


def test_chapter_uses_only_known_cell_tags(path):
    text = path.read_text(encoding="utf-8")
    used = {t.strip() for group in re.findall(r":tags:\s*\[([^\]]*)\]", text) for t in group.split(",") if t.strip()}
    assert used <= ALLOWED_TAGS, f"unknown tags: {used - ALLOWED_TAGS}"


def test_figure_cells_say_what_they_draw(path):
    text = path.read_text(encoding="utf-8")
    for cell in re.findall(r"```\{code-cell\}[^\n]*\n:tags: \[[^\]]*remove-input[^\]]*\]\n(.*?)```", text, flags=re.S):
        first = cell.strip().splitlines()[0]
        assert first.startswith("#"), f"a hidden cell starts with a comment saying what it does, got {first!r}"
