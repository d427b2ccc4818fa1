"""What the instructor guide shows, read from the course's own files so that it cannot drift.

``appendices/instructor_guide.md`` is executed when the book is built. Its code cells call the
functions here, which read

- ``_toc.yml`` for the chapters and labs the book contains (a new chapter appears by itself);
- each chapter's "Learning objectives" admonition (:func:`learning_objectives`);
- each lab's ``## Exercise N.k: title`` cells and the checker its check cell calls;
- the registry of exercises (:mod:`crossattn.checks.registry`): the hints the checkers give on named
  mistakes (:func:`pitfalls`) and the points of each exercise;
- ``appendices/lab_times.json``, written by ``python -m crossattn.tooling.lab_times``.

Nothing here runs a lab. The course-wide tests (tests/content/test_chapters.py) use the same parser
for the objectives, so the guide and the check read the chapters the same way.
"""
from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Chapter", "Exercise", "Hint", "GenericHint", "GuideError", "course_chapters", "chapter_title",
    "learning_objectives", "lab_exercises", "registered", "pitfalls", "render_template", "generic_hints",
    "lab_times", "md_escape", "session_plan", "split_exercises", "measured_on", "overview_table", "chapter_blocks",
    "weekly_plan", "workshop_plan", "pitfall_tables",
]

ROOT = Path(__file__).resolve().parents[2]  # the repository: crossattn/tooling/guide.py -> ../../


class GuideError(ValueError):
    """A course file is not in the shape the guide reads; the message names the file and the problem."""


# ------------------------------------------------------------------------------- chapters and labs


@dataclass
class Exercise:
    """One exercise of a lab: ``## Exercise 2.1: the score matrix`` and the checker of its check cell."""

    number: str  # "2.1"
    title: str  # "the score matrix"
    checker: str | None  # "check_scores"


@dataclass
class Chapter:
    """A chapter of the book as _toc.yml lists it, with its lab when the toc has one."""

    number: int
    docname: str  # "chapters/02_qkv_math"
    title: str  # "Queries, keys and values: the math"
    objectives_lead: str  # "After this chapter you can ..."
    objectives: list[str]
    lab: str | None = None  # "notebooks/02_qkv_math"
    exercises: list[Exercise] = field(default_factory=list)

    @property
    def lab_file(self) -> str | None:
        return Path(self.lab).name + ".ipynb" if self.lab else None


def _body(text: str) -> str:
    """A MyST page without its YAML front matter."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return text[end + 5:]
    return text


def chapter_title(text: str, where: str = "chapter") -> tuple[int, str]:
    """``(number, title)`` from a chapter's heading ``# 2. Queries, keys and values: the math``."""
    match = re.search(r"^# (\d+)\. (.+?)\s*$", _body(text), flags=re.M)
    if not match:
        raise GuideError(f"{where}: no title line of the form '# N. Title'")
    return int(match.group(1)), match.group(2)


_OBJECTIVES_OPEN = re.compile(r"^(?P<fence>:{3,}|`{3,})\{admonition\}\s*Learning objectives\s*$", flags=re.M)


def learning_objectives(text: str, where: str = "chapter") -> tuple[str, list[str]]:
    """The lead sentence and the bullets of the "Learning objectives" admonition at the top of a chapter.

    The admonition must come right after the ``# N. Title`` line (blank lines and the page's
    ``{course-times}`` directive aside). A bullet may
    run over several lines; its lines are joined with single spaces.
    """
    body = _body(text)
    title = re.search(r"^# .*$", body, flags=re.M)
    if not title:
        raise GuideError(f"{where}: no '# N. Title' line")
    rest = body[title.end():]
    opening = _OBJECTIVES_OPEN.search(rest)
    if not opening:
        raise GuideError(f"{where}: no ':::{{admonition}} Learning objectives' block")
    between = re.sub(r"^(`{3,})\{course-times\}\s*\n\1\s*$", "", rest[:opening.start()], flags=re.M)
    if between.strip():  # only the page's reading times may sit between the title and the objectives
        raise GuideError(f"{where}: the learning objectives must come right after the title, at the top of the page")
    fence = opening.group("fence")
    closing = re.search(rf"^{re.escape(fence)}\s*$", rest[opening.end():], flags=re.M)
    if not closing:
        raise GuideError(f"{where}: the learning objectives block is not closed with {fence}")
    lines = rest[opening.end():opening.end() + closing.start()].strip("\n").splitlines()
    lead: list[str] = []
    bullets: list[str] = []
    for line in lines:
        if re.match(r"^[-*] ", line):
            bullets.append(line[2:].strip())
        elif line.startswith((" ", "\t")) and bullets and line.strip():
            bullets[-1] += " " + line.strip()
        elif line.strip() and not bullets:
            lead.append(line.strip())
        elif line.strip():
            raise GuideError(f"{where}: unexpected line in the learning objectives: {line.strip()!r}")
    return " ".join(lead), bullets


def _toc_files(root: Path) -> list[str]:
    try:
        toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    except OSError as err:
        raise GuideError(f"{root / '_toc.yml'}: cannot be read ({err.strerror})") from None
    return [entry["file"] for part in toc.get("parts", []) for entry in part.get("chapters", [])]


def lab_exercises(path: Path) -> list[Exercise]:
    """The exercises of a lab: its ``## Exercise N.k: title`` cells and the checker called after each."""
    from .labs import CHECK_TAG, read_notebook, tags

    exercises: list[Exercise] = []
    for cell in read_notebook(path).cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^## Exercise (\d+\.\d+):\s*(.+?)\s*$", cell.source, flags=re.M)
            if match:
                exercises.append(Exercise(match.group(1), match.group(2), None))
        elif cell.cell_type == "code" and CHECK_TAG in tags(cell) and exercises:
            call = re.search(r"\b(check_\w+)\s*\(", cell.source)
            if call and exercises[-1].checker is None:
                exercises[-1].checker = call.group(1)
    return exercises


def course_chapters(root: str | Path = ROOT) -> list[Chapter]:
    """Every chapter ``chapters/NN_name`` in _toc.yml, in book order, with its lab and exercises."""
    root = Path(root)
    files = _toc_files(root)
    chapters = []
    for docname in files:
        if not re.fullmatch(r"chapters/\d\d_\w+", docname):
            continue
        path = root / f"{docname}.md"
        text = path.read_text(encoding="utf-8")
        number, title = chapter_title(text, str(path))
        lead, objectives = learning_objectives(text, str(path))
        lab = "notebooks/" + docname.split("/", 1)[1]
        chapter = Chapter(number, docname, title, lead, objectives)
        if lab in files and (root / f"{lab}.ipynb").exists():
            chapter.lab = lab
            chapter.exercises = lab_exercises(root / f"{lab}.ipynb")
        chapters.append(chapter)
    return chapters


# ------------------------------------------------------------------------------- checkers' hints


@dataclass
class Hint:
    """A hint a checker gives for a named mistake, as the guide shows it."""

    exercises: tuple[str, ...]  # ("2.1",), or several when the exercises share the hint word for word
    text: str


def render_template(template: str) -> str:
    """A hint template as the guide shows it: each field ``{shape}`` becomes "…"."""
    from ..checks.registry import template_fields

    for name in template_fields(template):
        template = re.sub(r"\{" + name + r"(![rsa])?(:[^{}]*)?\}", "…", template)
    return template.replace("{{", "{").replace("}}", "}")


def registered(exercises: list[Exercise]) -> list[Any]:
    """The registry's entry for each of a lab's exercises; GuideError when the lab and the registry disagree."""
    from ..checks import registry

    found = []
    for exercise in exercises:
        try:
            entry = registry.exercise(exercise.number)
        except registry.RegistryError as err:
            raise GuideError(f"exercise {exercise.number}: {err}") from None
        if exercise.checker != entry.checker:
            raise GuideError(f"exercise {exercise.number}: the lab's check cell calls {exercise.checker}, the "
                             f"registry says {entry.checker}")
        found.append(entry)
    return found


def pitfalls(exercises: list[Exercise]) -> list[Hint]:
    """The named mistakes of a lab's exercises, from the registry, in the lab's order.

    Each exercise lists the hints of its named mistakes (:attr:`Exercise.hints
    <crossattn.checks.registry.Exercise.hints>`; not its fallbacks or plumbing), fields shown as "…".
    A hint that several exercises give word for word is listed once, after the others, under all
    of them.
    """
    entries = registered(exercises)
    users: dict[str, list[str]] = {}
    for entry in entries:
        for template in entry.hints.values():
            text = render_template(template)
            if entry.id not in users.setdefault(text, []):
                users[text].append(entry.id)
    own = [Hint((entry.id,), text) for entry in entries for text in dict.fromkeys(
        render_template(t) for t in entry.hints.values()) if users[text] == [entry.id]]
    shared = [Hint(tuple(ids), text) for text, ids in users.items() if len(ids) > 1]
    return own + shared


@dataclass
class GenericHint:
    """A plumbing hint every checker gives: what the student did, the key, and what the check says."""

    situation: str
    key: str
    text: str


def generic_hints() -> list[GenericHint]:
    """The plumbing problems every checker catches, with the words of :data:`crossattn.checks.registry.GENERIC`.

    The hints are produced by running :mod:`crossattn.checks._core`, as every checker does, on
    exercise 2.1 with a stub, a crashing function, a function that changes its input, and wrong
    return values.
    """
    import numpy as np

    from ..checks import registry
    from ..checks._core import CheckFailed, as_array, call, expect_shape, fail

    ex = registry.exercise("2.1")
    q, k = np.ones((3, 4)), np.ones((5, 4))  # (m, d), (n, d)

    def stub(Q, K):  # noqa: N803 - the course's names
        raise NotImplementedError

    def crashes(Q, K):  # noqa: N803
        return Q @ K  # (3, 4) @ (5, 4): K is not transposed

    def in_place(Q, K):  # noqa: N803
        Q /= 2
        return Q @ K.T

    package_scores = importlib.import_module("crossattn").attention_scores  # the package's own answer to 2.1

    def calls_the_package(Q, K):  # noqa: N803
        return package_scores(Q, K)

    for fn in (stub, crashes, in_place, calls_the_package):
        fn.__name__ = "scores"
    attempts = [
        ("passes the result of a call instead of the function", lambda: call(q @ k.T, q, k, exercise=ex)),
        ("runs the check on the untouched stub", lambda: call(stub, q, k, exercise=ex)),
        ("writes code that crashes (here Q @ K instead of Q @ K.T)", lambda: call(crashes, q, k, exercise=ex)),
        ("changes an input in place (Q /= 2)", lambda: call(in_place, q, k, exercise=ex)),
        ("calls the package's own answer (crossattn.attention_scores here)",
         lambda: call(calls_the_package, q, k, exercise=ex)),
        ("forgets the return statement", lambda: as_array(None, ex)),
        ("forgets the return statement where a number or a tensor is asked for", lambda: fail(ex, "returned_none")),
        ("returns a tuple where one array is asked for", lambda: as_array((q, k), ex)),
        ("returns something that is not an array of numbers", lambda: as_array("scores", ex)),
        ("returns an array of another shape than asked, (m, m) for (m, n) here",
         lambda: expect_shape(np.ones((3, 3)), (3, 5), ex)),
    ]
    hints = []
    for situation, attempt in attempts:
        try:
            attempt()
        except CheckFailed as err:
            hints.append(GenericHint(situation, err.key, str(err)))
        else:
            raise GuideError(f"crossattn.checks._core accepted a student who {situation}")
    return hints


# ------------------------------------------------------------------------------- lab times and plans


def lab_times(path: str | Path = ROOT / "appendices" / "lab_times.json") -> dict[str, Any]:
    """The stored lab timings (see :mod:`crossattn.tooling.lab_times`)."""
    from .lab_times import load_report

    return load_report(path)


def session_plan(chapters: list[Chapter], sessions: int) -> list[list[Chapter]]:
    """Split the chapters, in order, into ``sessions`` groups of consecutive chapters, as even as possible."""
    if not isinstance(sessions, int) or sessions < 1:
        raise GuideError(f"sessions must be a positive integer, got {sessions!r}")
    groups, start = [], 0
    for number in range(min(sessions, len(chapters))):
        size = len(chapters) // sessions + (number < len(chapters) % sessions)  # the first groups take the rest
        groups.append(chapters[start:start + size])
        start += size
    return groups


def md_escape(text: str) -> str:
    """``text`` safe inside a Markdown table cell: code spans kept, ``| < > * _ $ [ ]`` escaped elsewhere."""
    pieces = re.split(r"(`[^`]*`)", text.replace("\n", " "))
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:  # a code span: only the table's pipe needs escaping
            out.append(piece.replace("|", "\\|"))
        else:
            out.append(re.sub(r"([\\|<>*_$\[\]])", r"\\\1", piece))
    return "".join(out)


# ------------------------------------------------------------------------------- the page's Markdown
#
# The guide's code cells display these strings as MyST Markdown (cell metadata
# ``mystnb: {markdown_format: myst}``), so {doc} links and $math$ in objectives render.

_NBSP = "\u00a0"  # keeps "Lab 3" on one line in narrow table cells

def _seconds(times: dict[str, Any] | None, chapter: Chapter, limit: bool = True) -> str:
    """The lab's measured time, e.g. "8 s, 2.1× its floor (limit 20 s)", or why there is none.

    The ratio to the floor (a fresh kernel importing what the lab needs, timed in the same run) says
    more than seconds on another machine; labs 1-3 must stay within FLOOR_RATIO of it.
    """
    from .lab_times import EARLY_LABS, FLOOR_RATIO, limit_for

    if chapter.lab_file is None:
        return "no lab"
    row = next((r for r in (times or {}).get("labs", []) if r["lab"] == chapter.lab_file), None)
    if row is None:
        return "not measured yet"
    flag = "" if row["seconds"] <= limit_for(row["number"]) else " **over the limit**"
    ratio = row.get("ratio_to_floor")
    if ratio is not None:
        flag += f", {ratio:.1f}×{_NBSP}its floor" + (f" **over {FLOOR_RATIO:g}×**" if row["number"] in EARLY_LABS and ratio > FLOOR_RATIO else "")
    allowed = f" (limit {limit_for(row['number']):.0f} s)" if limit else ""
    return f"{row['seconds']:.0f} s{flag}{allowed}"


def _cell(myst: str) -> str:
    """MyST from the course's own pages (titles), made safe inside a table cell."""
    return myst.replace("|", "\\|")


def _doc(docname: str, text: str | None = None) -> str:
    """A {doc} link from a page in appendices/."""
    return f"{{doc}}`{text} <../{docname}>`" if text else f"{{doc}}`../{docname}`"


def measured_on(times: dict[str, Any], chapters: list[Chapter] | None = None) -> str:
    """When, where and under what load the labs were timed, and their total (or which are not timed yet)."""
    from .lab_times import violations

    m, load, after = times["machine"], times["load_average"]["before"], times["load_average"].get("after")
    sentence = (f"Measured on {times['date']} with `{times.get('command', 'python -m crossattn.tooling.lab_times')}`, "
                f"one lab after the other in a fresh kernel, on {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
                f"PyTorch {m['torch']}, NumPy {m['numpy']}")
    if load:
        sentence += f"; load average {load[0]:.2f} when it started" + (f", {after[0]:.2f} when it ended" if after else "")
    sentence += "."
    timed = {row["lab"] for row in times["labs"]}
    missing = [c for c in chapters or [] if c.lab_file and c.lab_file not in timed]
    if missing:
        names = ", ".join(str(c.number) for c in missing)
        sentence += (f" The {len(timed)} labs timed take {times['total_seconds']:.0f} s together; "
                     f"lab{'s' if len(missing) > 1 else ''} {names} {'are' if len(missing) > 1 else 'is'} "
                     "not timed yet: run the command below.")
    else:
        sentence += f" All {len(timed)} labs together take {times['total_seconds']:.0f} s." if len(timed) > 1 else ""
    problems = violations(times)
    if problems:
        sentence += " **Over a limit:** " + "; ".join(problems) + "."
    return sentence


def overview_table(chapters: list[Chapter], times: dict[str, Any] | None) -> str:
    """One row per chapter: the chapter, its lab, its exercises and the lab's measured time."""
    from .lab_times import limit_for

    rows = ["| # | chapter | lab | exercises | lab time | limit |", "| --- | --- | --- | --- | --- | --- |"]
    for c in chapters:
        lab = _doc(c.lab, f"Lab{_NBSP}{c.number}") if c.lab else "—"
        allowed = f"{limit_for(c.number):.0f} s" if c.lab else "—"
        rows.append(f"| {_doc(c.docname, str(c.number))} | {_cell(c.title)} | {lab} | {len(c.exercises)} | "
                    f"{_seconds(times, c, limit=False)} | {allowed} |")
    return "\n".join(rows)


def _exercise_list(exercises: list[Exercise]) -> str:
    return "; ".join(f"{e.number} {_cell(e.title)}" for e in exercises) or "none"


def chapter_blocks(chapters: list[Chapter], times: dict[str, Any] | None) -> str:
    """Per chapter: its learning objectives, as the chapter states them, then its lab and the lab's time."""
    blocks = []
    for c in chapters:
        lines = [f"**{_doc(c.docname, f'Chapter{_NBSP}{c.number}')}: {c.title}.** {c.objectives_lead}", ""]
        lines += [f"- {objective}" for objective in c.objectives]
        if c.lab:
            timed = _seconds(times, c)
            timed = "Its run time is not measured yet." if timed == "not measured yet" else f"Runs top to bottom in {timed}."
            lines += ["", f"Lab: {_doc(c.lab, f'Lab{_NBSP}{c.number}')}, {len(c.exercises)} checked exercises "
                          f"({_exercise_list(c.exercises)}). {timed}"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def split_exercises(exercises: list[Exercise]) -> tuple[list[Exercise], list[Exercise]]:
    """The suggested split of a lab: the first half (rounded up) in class, the rest as homework."""
    half = math.ceil(len(exercises) / 2)
    return exercises[:half], exercises[half:]


def _numbers(exercises: list[Exercise]) -> str:
    return ", ".join(e.number for e in exercises) or "—"


def weekly_plan(chapters: list[Chapter], times: dict[str, Any] | None) -> str:
    """One chapter a week: read before class, the first exercises in class, the rest as homework."""
    rows = ["| week | read before class | in class | homework | lab time |", "| --- | --- | --- | --- | --- |"]
    for week, c in enumerate(chapters, start=1):
        in_class, homework = split_exercises(c.exercises)
        rows.append(f"| {week} | {_doc(c.docname, f'Chapter{_NBSP}{c.number}')} | exercises {_numbers(in_class)} | "
                    f"exercises {_numbers(homework)}, the chapter's questions | {_seconds(times, c, limit=False)} |")
    return "\n".join(rows)


def workshop_plan(chapters: list[Chapter], times: dict[str, Any] | None, sessions: int = 4) -> str:
    """``sessions`` sessions of consecutive chapters, with the labs' total running time per session."""
    rows = ["| session | chapters | exercises in the session | run time of its labs |", "| --- | --- | --- | --- |"]
    by_lab = {r["lab"]: r["seconds"] for r in (times or {}).get("labs", [])}
    for number, group in enumerate(session_plan(chapters, sessions), start=1):
        names = ", ".join(_doc(c.docname, f"{c.number}") for c in group)
        exercises = sum(len(c.exercises) for c in group)
        known = [by_lab[c.lab_file] for c in group if c.lab_file in by_lab]
        missing = [c for c in group if c.lab_file and c.lab_file not in by_lab]
        unmeasured = ", ".join(f"lab {c.number}" for c in missing) + " not measured yet"
        total = (f"{sum(known):.0f} s" + (f" ({unmeasured})" if missing else "")) if known else unmeasured
        rows.append(f"| {number} | {names} | {exercises} | {total} |")
    return "\n".join(rows)


def pitfall_tables(chapters: list[Chapter]) -> str:
    """Per lab, a dropdown with a table: each exercise and the mistakes its checker names, in its words."""
    blocks = []
    for c in chapters:
        if not c.exercises:
            continue
        hints = pitfalls(c.exercises)
        titles = {e.number: e.title for e in c.exercises}
        rows = ["| exercise | the checker's hint |", "| --- | --- |"]
        previous = None
        for hint in hints:
            label = ", ".join(hint.exercises)
            if len(hint.exercises) == 1:
                label = f"{label} {_cell(titles[label])}"
            rows.append(f"| {label if label != previous else ''} | {md_escape(hint.text)} |")
            previous = label
        blocks.append(f":::{{dropdown}} Lab {c.number}: {c.title} — {len(hints)} named mistakes\n\n"
                      + "\n".join(rows) + "\n:::")
    return "\n\n".join(blocks)
