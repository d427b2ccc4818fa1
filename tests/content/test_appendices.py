"""The appendices: the instructor guide's data (crossattn.tooling.guide), the glossary, and their place in the book."""
import importlib.util
import re
import sys
import textwrap

import pytest
import yaml

from crossattn.tooling import guide
from crossattn.tooling.guide import (
    GuideError,
    learning_objectives,
    md_escape,
    session_plan,
)
from tests.helpers import ROOT, book_config

APPENDICES = ROOT / "appendices"
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))


def test_appendices_part_of_the_toc():
    part = TOC["parts"][-1]
    assert part["caption"] == "Appendices"
    assert [c["file"] for c in part["chapters"]] == [
        "appendices/instructor_guide", "appendices/notation", "appendices/glossary", "appendices/bibliography"]


def test_intro_points_instructors_to_the_guide():
    assert "{doc}`appendices/instructor_guide`" in (ROOT / "intro.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ commands the pages name


def named_commands():
    texts = [p.read_text(encoding="utf-8") for p in [*APPENDICES.glob("*.md"), ROOT / "intro.md", ROOT / "README.md"]]
    return sorted({m for text in texts for m in re.findall(r"python -m (crossattn(?:\.\w+)+)", text)})


def test_the_pages_name_the_course_tools():
    assert {"crossattn.tooling.student", "crossattn.tooling.lab_times", "crossattn.tooling.nbgrader_course"} <= set(named_commands())


@pytest.mark.parametrize("module", named_commands())
def test_every_named_command_is_a_runnable_module(module):
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"python -m {module}: no such module"
    source = open(spec.origin, encoding="utf-8").read()
    assert 'if __name__ == "__main__"' in source, f"python -m {module} would do nothing: no __main__ guard"


# ------------------------------------------------------------------------------ what the guide reads


def test_guide_reads_every_chapter_in_the_toc():
    chapters = guide.course_chapters(ROOT)
    in_toc = [c["file"] for part in TOC["parts"] for c in part["chapters"] if c["file"].startswith("chapters/")]
    assert [c.docname for c in chapters] == in_toc
    assert [c.number for c in chapters] == list(range(1, len(chapters) + 1))
    for chapter in chapters:
        assert len(chapter.objectives) >= 2
        if chapter.lab:
            assert len(chapter.exercises) >= 4, f"lab {chapter.number}: its exercises were not found"
            assert all(e.checker for e in chapter.exercises), f"lab {chapter.number}: an exercise without a check"


def test_every_exercise_has_named_pitfalls():
    for chapter in guide.course_chapters(ROOT):
        hints = guide.pitfalls(chapter.exercises)
        for exercise in chapter.exercises:
            own = [h for h in hints if exercise.number in h.exercises]
            assert len(own) >= 2, f"exercise {exercise.number}: the guide found {len(own)} named mistakes in its checker"
        assert not [h for h in hints if guide.is_generic(h.text)], "plumbing hints belong in the generic list"


PAGE = """\
---
jupytext: {}
---
# 3. A title

:::{admonition} Learning objectives
After this chapter you can ...
- do one thing
  that takes two lines;
- do $QK^\\top$ another.
:::

Text.
"""


def test_objectives_parser():
    lead, objectives = learning_objectives(PAGE)
    assert lead == "After this chapter you can ..."
    assert objectives == ["do one thing that takes two lines;", "do $QK^\\top$ another."]
    assert learning_objectives(PAGE.replace(":::", "````"))[1] == objectives


@pytest.mark.parametrize("page, message", [
    (PAGE.replace("Learning objectives", "Goals"), "no ':::{admonition} Learning objectives' block"),
    (PAGE.replace("# 3. A title\n", "# 3. A title\n\nAn introduction first.\n"), "right after the title"),
    (PAGE.replace(":::\n\nText.", "\nText."), "not closed"),
])
def test_objectives_parser_names_what_is_wrong(page, message):
    with pytest.raises(GuideError, match=re.escape(message)):
        learning_objectives(page, "x.md")


CHECKER = '''\
from ._core import CheckFailed, diagnose, expect_shape, passed


def _shared(got, ex):
    if got is None:
        raise CheckFailed(f"{ex}: the shared helper names this mistake for both exercises.")


def check_one(fn):
    """Exercise 9.1: a docstring is not a hint."""
    ex = "Exercise 9.1 (one)"
    got = fn()
    _shared(got, ex)
    expect_shape(got, (2, 3), ex, {(3, 2): "Your result is transposed: one row per query."})
    diagnose(got, [(got * 2, "you doubled the result, which nobody asked for.")], ex,
             "a fallback message is not a named mistake.")
    if got.sum() > 1:
        raise CheckFailed(f"{ex}: with large scores (x = {got}) your weights overflow.")
    passed(ex, "a success line is not a hint either.")


def check_two(fn):
    ex = "Exercise 9.2 (two)"
    _shared(fn(), ex)
    passed(ex, "fine.")
'''


@pytest.fixture
def checker_module(tmp_path, monkeypatch):
    package = tmp_path / "fakechecks"
    package.mkdir()
    (package / "__init__.py").write_text("from .ch09 import check_one, check_two\n")
    (package / "_core.py").write_text("from crossattn.checks._core import *\n")
    (package / "ch09.py").write_text(CHECKER)
    monkeypatch.syspath_prepend(str(tmp_path))
    import fakechecks
    yield fakechecks
    for name in [n for n in sys.modules if n.startswith("fakechecks")]:
        del sys.modules[name]


def test_hints_are_read_from_the_checker_source(checker_module):
    hints = guide.checker_hints(sys.modules["fakechecks.ch09"])
    assert hints["check_one"] == [
        "Your result is transposed: one row per query.",
        "you doubled the result, which nobody asked for.",
        "with large scores (x = …) your weights overflow.",
    ]
    assert hints["_shared"] == ["the shared helper names this mistake for both exercises."]


def test_hints_of_a_shared_helper_are_listed_once_for_its_exercises(checker_module, monkeypatch):
    import crossattn

    monkeypatch.setattr(crossattn, "checks", checker_module)  # lab_pitfalls resolves checkers there
    exercises = [guide.Exercise("9.1", "one", "check_one"), guide.Exercise("9.2", "two", "check_two")]
    found = [(h.exercises, h.text) for h in guide.lab_pitfalls(exercises)]
    assert found[:3] == [(("9.1",), t) for t in guide.checker_hints(sys.modules["fakechecks.ch09"])["check_one"]]
    assert found[3:] == [(("9.1", "9.2"), "the shared helper names this mistake for both exercises.")]


def test_sessions_split_in_order_and_as_evenly_as_possible():
    assert [len(g) for g in session_plan(list(range(8)), 4)] == [2, 2, 2, 2]
    assert [len(g) for g in session_plan(list(range(6)), 4)] == [2, 2, 1, 1]
    assert sum(session_plan(list(range(7)), 4), []) == list(range(7))
    with pytest.raises(GuideError, match="positive integer"):
        session_plan([1, 2], 0)


def test_markdown_escaping_keeps_code_and_table_cells():
    text = md_escape("the first query, <bos>, reads | nothing; use `a|b` and *not* $x$")
    assert text == r"the first query, \<bos\>, reads \| nothing; use `a\|b` and \*not\* \$x\$"


def test_overview_shows_the_stored_time_or_says_it_is_missing():
    chapters = guide.course_chapters(ROOT)[:2]
    times = {"labs": [{"lab": chapters[0].lab_file, "number": 1, "seconds": 12.3}]}
    table = guide.overview_table(chapters, times)
    row1, row2 = table.splitlines()[2:4]
    assert row1.endswith("| 12 s | 20 s |") and "| not measured yet | 20 s |" in row2
    over = guide.overview_table(chapters[:1], {"labs": [{"lab": chapters[0].lab_file, "number": 1, "seconds": 25.0}]})
    assert "over the limit" in over


# ------------------------------------------------------------------------------ glossary

GLOSSARY = (APPENDICES / "glossary.md").read_text(encoding="utf-8")
REQUIRED_TERMS = [
    "query", "key", "value", "cross-attention", "self-attention", "score matrix", "attention weights", "mask",
    "padding mask", "causal mask", "head", "temperature", "entropy", "KV cache", "cross cache", "self cache",
    "beam search", "positional encoding", "relative position bias", "weight tying", "latent cross-attention",
    "multi-head latent attention", "rank collapse", "leakage", "transparent attention", "teacher forcing",
]


def glossary_entries():
    body = re.search(r"```\{glossary\}\n(?::sorted:\n)?\n?(.*?)```", GLOSSARY, flags=re.S).group(1)
    entries = re.split(r"\n(?=\S)", body.strip())
    return {e.split("\n", 1)[0]: textwrap.dedent(e.split("\n", 1)[1]).strip() for e in entries}


def test_glossary_has_the_course_terms():
    entries = glossary_entries()
    missing = [t for t in REQUIRED_TERMS if t not in entries]
    assert not missing, f"glossary misses {missing}"


@pytest.mark.parametrize("term", list(glossary_entries()))
def test_glossary_entry_is_short_and_points_to_its_chapter(term):
    definition = glossary_entries()[term]
    sentences = re.findall(r"[.!?](?:\s|$)", re.sub(r"\{doc\}`[^`]*`\.?", "", definition))
    assert 1 <= len(sentences) <= 3, f"{term}: 1–3 sentences, got {len(sentences)}"
    links = re.findall(r"\{doc\}`Chapter (\d+) <\.\./chapters/(\d\d_\w+)>`", definition)
    assert len(links) == 1, f"{term}: name the one chapter that teaches it"
    number, name = links[0]
    assert int(name[:2]) == int(number), f"{term}: chapter {number} linked as {name}"
    assert (ROOT / "chapters" / f"{name}.md").exists(), f"{term}: no chapter file chapters/{name}.md"


def test_bibliography_config_and_notation_page_are_wired():
    assert "references.bib" in book_config()["bibtex_bibfiles"]
    assert (APPENDICES / "notation.md").exists() and (APPENDICES / "glossary.md").exists()


def test_generic_hints_are_what_the_core_raises():
    hints = guide.generic_hints()
    assert len(hints) == 7
    assert all(hint.startswith("Exercise 2.1 (scores): ") for _, hint in hints)
    assert any("NotImplementedError" in hint for _, hint in hints)


def test_timing_sentence_names_labs_not_timed_yet():
    chapters = guide.course_chapters(ROOT)[:3]
    times = {"date": "2026-01-01", "machine": {"cores": 2, "cpu": "x", "python": "3.11", "torch": "2", "numpy": "2"},
             "load_average": {"before": [0.5, 0.5, 0.5]}, "total_seconds": 12.0,
             "labs": [{"lab": chapters[0].lab_file, "number": 1, "seconds": 12.0}]}
    assert "labs 2, 3 are not timed yet" in guide.measured_on(times, chapters)
    assert "not timed yet" not in guide.measured_on(times, chapters[:1])
    times["labs"][0]["seconds"] = 21.0
    assert "Over a limit" in guide.measured_on(times, chapters[:1])
