"""How long a chapter takes to read and its lab to work through, computed from the files (issue 18).

A chapter page (MyST Markdown) has a **core path**, the sections a learner reads in order, and
optional sections whose heading starts with ``## Going further``. The website states at the top of
each chapter how long each takes to read and how long its lab takes a learner (not the machine),
through the ``{course-times}`` directive of :mod:`crossattn.tooling.book`. The numbers come from
counts and three rates, stated here once:

- prose is read at :data:`WORDS_PER_MINUTE` words a minute (technical prose with formulas);
- code shown on a page or in a lab is read at :data:`CODE_LINES_PER_MINUTE` lines a minute;
- each exercise of a lab takes :data:`MINUTES_PER_EXERCISE` minutes to write and check.

Times are rounded up to whole 5 minutes: they are estimates, and say so on the page.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "WORDS_PER_MINUTE", "CODE_LINES_PER_MINUTE", "MINUTES_PER_EXERCISE", "GOING_FURTHER", "PageCounts",
    "LabCounts", "count_page", "count_lab", "core_words", "minutes", "times_sentence",
]

WORDS_PER_MINUTE = 180
CODE_LINES_PER_MINUTE = 12
MINUTES_PER_EXERCISE = 10
#: A section whose ``## `` heading starts with this is optional depth, outside the core path.
GOING_FURTHER = "Going further"

_CODE_CELL = re.compile(r"^(`{3,})\{code-cell\}[^\n]*\n(?P<body>.*?)^\1\s*$", flags=re.S | re.M)
_FENCE = re.compile(r"^(`{3,}|:{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^\1\s*$", flags=re.S | re.M)
_HIDDEN = {"remove-input", "remove-cell", "hide-input", "hide-cell"}


@dataclass(frozen=True)
class PageCounts:
    """Words of prose and lines of shown code, on the core path and in the "Going further" sections."""

    core_words: int
    core_code_lines: int
    further_words: int
    further_code_lines: int


@dataclass(frozen=True)
class LabCounts:
    """What a learner reads and writes in a lab: prose words, shown code lines (solutions excluded), exercises."""

    words: int
    code_lines: int
    exercises: int


def _front_matter_free(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return text[end + 5:]
    return text


def _cell_tags(body: str) -> set[str]:
    """The tags of a MyST code cell, in either form (``:tags: [a, b]`` or a ``---`` YAML block)."""
    match = re.search(r"^(?::tags:|tags:)\s*\[(?P<tags>[^\]]*)\]", body, flags=re.M)
    return {t.strip().strip("'\"") for t in match.group("tags").split(",")} if match else set()


def _code_lines(body: str) -> int:
    """Lines of a code cell's source a reader sees (its option block left out), blank lines aside."""
    lines = body.splitlines()
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0)
        lines = lines[end + 1:]
    lines = [line for line in lines if not line.startswith(":") or line.startswith("::")]
    return sum(1 for line in lines if line.strip())


def _words(markdown: str) -> int:
    """Words of prose: whitespace-separated tokens with a letter or digit, formulas' symbols included
    (a formula takes as long to read as its words). Directive options (``:alt:``, ``:name:``), fence
    lines and HTML comments are not prose and are left out."""
    text = re.sub(r"<!--.*?-->", " ", markdown, flags=re.S)
    text = re.sub(r"^\s*:[\w-]+:.*$", " ", text, flags=re.M)  # directive options such as :alt: and :name:
    text = re.sub(r"^(`{3,}|:{3,}).*$", " ", text, flags=re.M)  # fence lines themselves
    text = re.sub(r"\{[\w:-]+\}`([^`]*)`", r" \1 ", text)  # roles: {glue:text}`x`, {cite:p}`key`
    return sum(1 for token in text.split() if re.search(r"[^\W_]", token))


def _split_code(text: str) -> tuple[str, int]:
    """(the page with its code cells removed, the number of code lines a reader sees)."""
    shown = 0
    for match in _CODE_CELL.finditer(text):
        body = match.group("body")
        if not (_cell_tags(body) & _HIDDEN):
            shown += _code_lines(body)
    return _CODE_CELL.sub(" ", text), shown


def count_page(text: str) -> PageCounts:
    """Count a chapter page (its MyST source): prose words and shown code lines, core vs "Going further"."""
    body = _front_matter_free(text)
    parts = re.split(r"^(## .*)$", body, flags=re.M)
    core, further = parts[0], ""
    for heading, section in zip(parts[1::2], parts[2::2]):
        if heading[3:].strip().startswith(GOING_FURTHER):
            further += heading + "\n" + section
        else:
            core += heading + "\n" + section
    core_prose, core_code = _split_code(core)
    further_prose, further_code = _split_code(further)
    return PageCounts(_words(core_prose), core_code, _words(further_prose), further_code)


def core_words(text: str) -> int:
    """Words of prose on the core path of a chapter page (what issue 18 limits to about 3,500)."""
    return count_page(text).core_words


def count_lab(path: str | Path) -> LabCounts:
    """Count a lab notebook: prose words, code lines a learner reads (not the solutions), exercises."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a readable notebook ({err})") from None
    words = code = exercises = 0
    for cell in cells:
        source = "".join(cell.get("source", []))
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.get("cell_type") == "markdown":
            words += _words(source)
        elif cell.get("cell_type") == "code" and not tags & ({"solution", "setup"} | _HIDDEN):
            code += sum(1 for line in source.splitlines() if line.strip())
        exercises += "check" in tags
    return LabCounts(words, code, exercises)


def minutes(words: int, code_lines: int, exercises: int = 0) -> int:
    """Estimated minutes, rounded up to a multiple of 5 (0 stays 0)."""
    for name, value in (("words", words), ("code_lines", code_lines), ("exercises", exercises)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    raw = words / WORDS_PER_MINUTE + code_lines / CODE_LINES_PER_MINUTE + exercises * MINUTES_PER_EXERCISE
    return 5 * math.ceil(raw / 5)


def times_sentence(page: PageCounts, lab: LabCounts | None) -> str:
    """The line shown at the top of a chapter, e.g. "Reading: about 25 min (…). Lab: about 60 min …"."""
    core = minutes(page.core_words, page.core_code_lines)
    parts = [f"Reading: about {core} min"]
    if page.further_words or page.further_code_lines:
        further = minutes(page.further_words, page.further_code_lines)
        parts[0] += f", plus about {further} min for the optional \u201cGoing further\u201d sections"
    if lab is not None:
        lab_min = minutes(lab.words, lab.code_lines, lab.exercises)
        parts.append(f"Lab: about {lab_min} min of work ({lab.exercises} checked exercises)")
    return ". ".join(parts) + ". (Estimates from the length of the text, the code and the exercises.)"
