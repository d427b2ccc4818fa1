"""The appendices: the instructor guide's data (crossattn.tooling.guide), the glossary, and their place in the book."""
import importlib.util
import re
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
            assert len(own) >= 2, f"exercise {exercise.number}: the guide found {len(own)} named mistakes"


def test_the_pitfalls_are_the_registry_s_named_mistakes_and_nothing_else():
    from crossattn.checks import registry

    for chapter in guide.course_chapters(ROOT):
        if not chapter.exercises:
            continue
        shown = {(number, h.text) for h in guide.pitfalls(chapter.exercises) for number in h.exercises}
        entries = [registry.exercise(e.number) for e in chapter.exercises]
        wanted = {(ex.id, guide.render_template(t)) for ex in entries for t in ex.hints.values()}
        assert shown == wanted, f"lab {chapter.number}: the guide and the registry differ"
        others = {guide.render_template(t) for ex in entries for t in (*ex.fallbacks.values(), *ex.plumbing.values())}
        assert not {text for _, text in shown} & (others - {text for _, text in wanted})


def test_a_hint_given_word_for_word_by_several_exercises_is_listed_once_under_all():
    chapter = next(c for c in guide.course_chapters(ROOT) if c.number == 2)
    hints = guide.pitfalls(chapter.exercises)
    texts = [h.text for h in hints]
    assert len(texts) == len(set(texts)), "each text once"
    shared = [h for h in hints if len(h.exercises) > 1]
    assert shared and all(h.exercises == tuple(sorted(h.exercises)) for h in shared)
    assert hints[-len(shared):] == shared, "the shared hints come after each exercise's own"


def test_a_template_shows_its_fields_as_an_ellipsis():
    assert guide.render_template("expected {shape}, got {got!r} ({x:.3f}); {{literal}}") == \
        "expected …, got … (…); {literal}"


def test_the_guide_refuses_an_exercise_the_registry_does_not_know_or_checks_otherwise():
    with pytest.raises(GuideError, match="exercise 99.1: no exercise '99.1'"):
        guide.pitfalls([guide.Exercise("99.1", "a new one", "check_new")])
    with pytest.raises(GuideError, match="exercise 2.1: the lab's check cell calls check_other, the registry says "
                                         "check_scores"):
        guide.pitfalls([guide.Exercise("2.1", "the score matrix", "check_other")])


def test_every_pitfall_is_on_the_page():
    chapters = guide.course_chapters(ROOT)
    page = guide.pitfall_tables(chapters)
    for chapter in chapters:
        for hint in guide.pitfalls(chapter.exercises):
            assert md_escape(hint.text) in page


def test_the_guide_reads_no_checker_code():
    source = (ROOT / "crossattn" / "tooling" / "guide.py").read_text(encoding="utf-8")
    assert "import ast" not in source and "inspect" not in source, "the hints are data in the registry"


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


def test_overview_shows_each_lab_s_ratio_to_its_floor_and_flags_a_slow_numpy_lab():
    chapters = guide.course_chapters(ROOT)[:1]
    row = {"lab": chapters[0].lab_file, "number": 1, "seconds": 6.0, "floor_seconds": 2.0, "ratio_to_floor": 3.0}
    assert "6 s, 3.0×\u00a0its floor |" in guide.overview_table(chapters, {"labs": [row]})
    slow = guide.overview_table(chapters, {"labs": [dict(row, seconds=10.0, ratio_to_floor=5.0)]})
    assert "5.0×\u00a0its floor **over 4×**" in slow


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


def test_generic_hints_are_what_the_core_raises_one_for_each_generic_key():
    from crossattn.checks import registry

    hints = guide.generic_hints()
    assert sorted(h.key for h in hints) == sorted(registry.GENERIC)
    assert all(h.text.startswith("Exercise 2.1 (scores): ") for h in hints)
    assert any("NotImplementedError" in h.text for h in hints)


def test_timing_sentence_names_labs_not_timed_yet():
    chapters = guide.course_chapters(ROOT)[:3]
    times = {"date": "2026-01-01", "machine": {"cores": 2, "cpu": "x", "python": "3.11", "torch": "2", "numpy": "2"},
             "load_average": {"before": [0.5, 0.5, 0.5]}, "total_seconds": 12.0,
             "labs": [{"lab": chapters[0].lab_file, "number": 1, "seconds": 12.0}]}
    assert "labs 2, 3 are not timed yet" in guide.measured_on(times, chapters)
    assert "not timed yet" not in guide.measured_on(times, chapters[:1])
    times["labs"][0]["seconds"] = 21.0
    assert "Over a limit" in guide.measured_on(times, chapters[:1])
