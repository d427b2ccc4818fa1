"""Reading and working times of a chapter and its lab (crossattn.tooling.pagetimes), and where they show."""
import json

import pytest

from crossattn.tooling.pagetimes import (
    CODE_LINES_PER_MINUTE,
    MINUTES_PER_EXERCISE,
    WORDS_PER_MINUTE,
    LabCounts,
    PageCounts,
    count_lab,
    count_page,
    minutes,
    times_sentence,
)
from tests.helpers import ROOT

PAGE = """---
jupytext:
  text_representation:
    format_name: myst
---
# 9. A page

```{course-times}
```

One two three four.

```{code-cell} python
x = 1
y = 2
```

```{code-cell} python
:tags: [remove-input]
hidden = 3
```

:::{figure} a.png
:alt: words of alt text are not prose
:::

## Core section

Five six $q \\cdot k$ seven.

## Going further: depth

Eight nine ten eleven twelve.

```{code-cell} python
z = 3
```

## Summary

- thirteen
"""


def test_a_page_is_split_into_core_path_and_going_further():
    counts = count_page(PAGE)
    # core: "9. A page" (2 words with letters/digits: "9.", "A", "page" -> 3), prose, the formula's
    # tokens, "Core section", "Summary", "thirteen"; options, fences and hidden code do not count
    assert counts.core_code_lines == 2  # x = 1, y = 2; the remove-input cell is not shown
    assert counts.further_code_lines == 1
    assert counts.further_words == len("Going further: depth Eight nine ten eleven twelve.".split())
    core_prose = "# 9. A page One two three four. Core section Five six $q \\cdot k$ seven. Summary - thirteen"
    assert counts.core_words == sum(1 for t in core_prose.split() if any(c.isalnum() for c in t))


def test_moving_a_section_into_going_further_moves_its_words():
    # The control: renaming the heading moves exactly that section's words out of the core path.
    moved = PAGE.replace("## Core section", "## Going further: core section")
    before, after = count_page(PAGE), count_page(moved)
    section = "Core section Five six $q \\cdot k$ seven."
    moved_words = sum(1 for t in section.split() if any(c.isalnum() for c in t))
    assert before.core_words - after.core_words == moved_words
    assert after.further_words - before.further_words == moved_words + 2  # the new heading's "Going further:"


def test_minutes_round_up_to_five_and_refuse_bad_counts():
    assert minutes(0, 0) == 0
    assert minutes(1, 0) == 5
    assert minutes(WORDS_PER_MINUTE * 5, 0) == 5
    assert minutes(WORDS_PER_MINUTE * 5 + 1, 0) == 10
    assert minutes(0, CODE_LINES_PER_MINUTE * 10) == 10
    assert minutes(0, 0, exercises=2) == 5 * -(-2 * MINUTES_PER_EXERCISE // 5)
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="words must be a non-negative integer"):
            minutes(bad, 0)


def test_a_lab_counts_prose_shown_code_and_exercises_not_solutions(tmp_path):
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["## Exercise 1: a b c"]},
        {"cell_type": "code", "metadata": {"tags": ["setup"]}, "source": ["import sys\n", "x = 1"]},
        {"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": ["def f():\n", "    return 1"]},
        {"cell_type": "code", "metadata": {"tags": ["check"]}, "source": ["check_f(f)"]},
        {"cell_type": "code", "metadata": {}, "source": ["y = 2\n", "\n", "z = 3"]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "09_x.ipynb"
    path.write_text(json.dumps(nb))
    assert count_lab(path) == LabCounts(words=5, code_lines=3, exercises=1)
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(ValueError, match="bad.ipynb: not a readable notebook"):
        count_lab(tmp_path / "bad.ipynb")


def test_the_sentence_names_both_times_and_the_optional_part():
    text = times_sentence(PageCounts(900, 24, 360, 0), LabCounts(400, 60, 5))
    assert text.startswith("Reading: about 10 min, plus about 5 min for the optional")
    assert "Lab: about 60 min of work (5 checked exercises)" in text
    assert "Going further" not in times_sentence(PageCounts(900, 0, 0, 0), None)
    assert "Lab" not in times_sentence(PageCounts(900, 0, 0, 0), None)


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.md")), ids=lambda p: p.name)
def test_every_chapter_states_its_times_right_after_its_title(path):
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    title = next(i for i, line in enumerate(lines) if line.startswith("# "))
    assert lines[title + 1:title + 3] == ["```{course-times}", "```"], "put ```{course-times}``` under the title"
