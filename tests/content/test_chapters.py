"""Chapter pages follow the course's conventions (design §3, §7)."""
import re

import pytest
import yaml

from crossattn.tooling.guide import learning_objectives
from crossattn.tooling.labs import ALLOWED_TAGS
from crossattn.tooling.pagetimes import count_page
from tests.helpers import ROOT, sections

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))
pytestmark = pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])


def test_chapter_states_learning_objectives_at_the_top(path):
    # The same parser feeds the instructor guide, so what it shows is what this test checked.
    lead, objectives = learning_objectives(path.read_text(encoding="utf-8"), path.name)
    assert lead.startswith("After this chapter you can"), f"objectives open with 'After this chapter you can', got {lead!r}"
    assert len(objectives) >= 2, f"state at least 2 learning objectives, found {len(objectives)}"
    assert all(len(o.split()) >= 4 for o in objectives), "each objective is a phrase, not a stray word"


def test_chapter_ends_with_summary_questions_and_sources(path):
    found = list(sections(path.read_text(encoding="utf-8")))
    assert found[-3:] == ["Summary", "Check your understanding", "Sources"], (
        f"a chapter ends with ## Summary, ## Check your understanding, ## Sources; its last sections are {found[-3:]}")


def test_summary_is_a_list(path):
    summary = sections(path.read_text(encoding="utf-8"))["Summary"]
    assert len(re.findall(r"^- ", summary, flags=re.M)) >= 2, "the summary is a short list of bullets"


def questions(section: str) -> list[str]:
    """The numbered questions of a "Check your understanding" section, each with its answer block."""
    return re.split(r"^\d+\. ", section, flags=re.M)[1:]


def test_at_least_three_questions_each_with_a_folded_answer(path):
    asked = questions(sections(path.read_text(encoding="utf-8"))["Check your understanding"])
    assert len(asked) >= 3, f"ask at least 3 questions, found {len(asked)}"
    for number, question in enumerate(asked, start=1):
        assert re.search(r"^\s*(:{3,}|`{3,})\{dropdown\} Answer\s*$", question, flags=re.M), (
            f"question {number} has no ':::{{dropdown}} Answer' block")


def test_sources_section_cites_primary_sources(path):
    cited = re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", sections(path.read_text(encoding="utf-8"))["Sources"])
    assert cited, "the Sources section cites the chapter's primary sources with {cite:p}"


def test_chapter_is_an_executable_text_notebook(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\njupytext:"), "front matter makes the page a MyST-NB notebook executed at build"
    assert "```{code-cell}" in text, "figures and checked claims come from code cells"


def code_cells(text):
    """(options, source) of every {code-cell} in a MyST page; options from either form:
    `:tags: [a, b]` lines, or a YAML block between --- lines."""
    cells = []
    for body in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S):
        options, source = {}, body
        if body.startswith("---\n"):
            header, _, source = body[4:].partition("\n---\n")
            options = yaml.safe_load(header) or {}
        else:
            lines = body.splitlines()
            while lines and lines[0].startswith(":"):
                key, _, value = lines.pop(0)[1:].partition(":")
                options[key.strip()] = yaml.safe_load(value.strip())
            source = "\n".join(lines)
        cells.append((options, source))
    return cells


def test_chapter_uses_only_known_cell_tags(path):
    used = {t for options, _ in code_cells(path.read_text(encoding="utf-8")) for t in options.get("tags", [])}
    assert used <= ALLOWED_TAGS, f"unknown tags: {used - ALLOWED_TAGS}"


def test_hidden_cells_say_what_they_do(path):
    for options, source in code_cells(path.read_text(encoding="utf-8")):
        if {"remove-input", "remove-cell"} & set(options.get("tags", [])):
            first = source.strip().splitlines()[0] if source.strip() else ""
            assert first.startswith("#"), f"a hidden cell starts with a comment saying what it does, got {first!r}"


def test_code_cells_are_parsed(path):
    # Guards the two tests above against passing vacuously on a page whose cells they fail to read.
    text = path.read_text(encoding="utf-8")
    assert len(code_cells(text)) == text.count("```{code-cell}") > 0


def test_code_shown_on_the_page_fits_the_code_box(path):
    # The website's code box is 68 characters wide; a longer line scrolls sideways.
    for options, source in code_cells(path.read_text(encoding="utf-8")):
        if {"remove-input", "remove-cell"} & set(options.get("tags", [])):
            continue
        for line in source.splitlines():
            assert len(line) <= 68, f"{len(line)} characters, wider than the code box: {line!r}"


# A chapter's core path (prose outside its "Going further" sections) is read in one sitting: about
# 3,500 words at most (issue 18). Depth goes into "Going further" sections instead.
CORE_WORDS_LIMIT = 3600


def test_the_core_path_is_at_most_about_3500_words(path):
    counts = count_page(path.read_text(encoding="utf-8"))
    assert counts.core_words <= CORE_WORDS_LIMIT, (
        f"{path.name}: {counts.core_words} words of prose outside 'Going further' sections "
        f"(limit {CORE_WORDS_LIMIT}); move depth into '## Going further: ...' sections")
