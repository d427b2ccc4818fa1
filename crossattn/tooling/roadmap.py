"""The course at a glance, read from its own files: what the landing page's roadmap shows (issue 18).

For every chapter in ``_toc.yml``: its number and title (the ``# N. Title`` line), its one-line
outcome (the ``outcome:`` key of the page's front matter), and how long it takes — the reading time
of its core path and of its "Going further" sections, and its lab's working time for a learner
(:mod:`crossattn.tooling.pagetimes`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .pagetimes import count_lab, count_page, minutes

__all__ = ["MapEntry", "RoadmapError", "outcome", "course_map", "MAX_OUTCOME"]

#: An outcome is one line on the roadmap: at most this many characters.
MAX_OUTCOME = 64


class RoadmapError(ValueError):
    """A chapter is not in the shape the roadmap reads; the message names the file and the problem."""


@dataclass(frozen=True)
class MapEntry:
    """One chapter on the roadmap."""

    number: int
    docname: str  # "chapters/02_qkv_math"
    title: str  # "Queries, keys and values: the math"
    outcome: str  # "Write attention as matrices: heads, masks, costs"
    read_minutes: int  # the core path
    further_minutes: int  # the "Going further" sections
    lab: str | None  # "notebooks/02_qkv_math", or None
    lab_minutes: int  # 0 without a lab
    exercises: int


def _front_matter(text: str, where: str) -> dict:
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        raise RoadmapError(f"{where}: no front matter (a '---' block at the top)")
    return yaml.safe_load(text[4:text.index("\n---\n", 4)]) or {}


def outcome(text: str, where: str = "chapter") -> str:
    """The chapter's one-line outcome, from ``outcome:`` in its front matter."""
    value = _front_matter(text, where).get("outcome")
    if not isinstance(value, str) or not value.strip():
        raise RoadmapError(f"{where}: no 'outcome:' line in the front matter (one line: what the reader can do after it)")
    if len(value) > MAX_OUTCOME or "\n" in value.strip():
        raise RoadmapError(f"{where}: the outcome is one line of at most {MAX_OUTCOME} characters, got {len(value)}")
    return value.strip()


def course_map(root: str | Path) -> list[MapEntry]:
    """Every chapter of the book at ``root`` (a folder with ``_toc.yml``), in the toc's order."""
    root = Path(root)
    try:
        toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
        files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    except (OSError, KeyError, TypeError) as err:
        raise RoadmapError(f"{root / '_toc.yml'}: cannot read the chapters ({err})") from None
    entries = []
    for docname in files:
        if not docname.startswith("chapters/"):
            continue
        path = root / f"{docname}.md"
        text = path.read_text(encoding="utf-8")
        title = re.search(r"^# (\d+)\. (.+?)\s*$", text, flags=re.M)
        if not title:
            raise RoadmapError(f"{path}: no title line of the form '# N. Title'")
        page = count_page(text)
        lab = f"notebooks/{Path(docname).name}"
        lab_path = root / f"{lab}.ipynb"
        counts = count_lab(lab_path) if lab_path.exists() and lab in files else None
        entries.append(MapEntry(
            number=int(title.group(1)), docname=docname, title=title.group(2), outcome=outcome(text, str(path)),
            read_minutes=minutes(page.core_words, page.core_code_lines),
            further_minutes=minutes(page.further_words, page.further_code_lines),
            lab=lab if counts else None,
            lab_minutes=minutes(counts.words, counts.code_lines, counts.exercises) if counts else 0,
            exercises=counts.exercises if counts else 0,
        ))
    return entries
