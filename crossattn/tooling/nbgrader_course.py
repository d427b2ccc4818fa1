"""Turn the labs into an nbgrader course source: ``python -m crossattn.tooling.nbgrader_course notebooks --out DIR``.

DIR receives ``nbgrader_config.py`` and ``source/labNN/<lab>.ipynb`` for each lab (NN is the
number the lab's file name starts with). In each notebook:

- a solution cell becomes an nbgrader "autograded answer" cell: its imports, each function's
  signature and docstring stay, and each body is wrapped in ``### BEGIN SOLUTION`` /
  ``### END SOLUTION``, which ``nbgrader generate_assignment`` replaces by a ``raise
  NotImplementedError``, as in the student tool's stubs (``crossattn.tooling.student``);
- a check cell becomes a graded "autograder tests" cell worth its exercise's points in the registry
  of exercises (:mod:`crossattn.checks.registry`; 1 for a checker it does not know), or ``--points``
  for every check: it passes when the checker prints its ✓ line and scores 0 when the checker raises
  its hint;
- every other cell (the setup cell, the prose, the demos) becomes a "read-only" cell: locked in
  the release, and restored from the source by ``nbgrader autograde`` if a student edited it, so
  what runs at grading time is the lab as written plus the student's answers.

Outputs are cleared. Grade ids name the exercise, from the ``## Exercise N.k`` heading above the
cell: ``ex_2_3_solution``, ``ex_2_3_check``. Nothing is written unless every lab converts, and
existing course notebooks are replaced only with ``--force``. Grading needs nbgrader
(``pip install nbgrader``); writing the course source does not.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .labs import CHECK_TAG, SETUP_TAG, SOLUTION_TAG, LabError, read_notebook, tags
from .student import SolutionPiece, join_pieces, notebook_paths, solution_pieces

__all__ = ["COURSE_ID", "BEGIN", "END", "DEFAULT_POINTS", "assignment_name", "marked_solution", "check_points",
           "course_notebook", "config_source", "write_course", "main"]

#: The course id the generated ``nbgrader_config.py`` sets (and nbgrader's gradebook records).
COURSE_ID = "cross-attention"
#: nbgrader's default solution delimiters (``ClearSolutions.begin_solution_delimeter`` / ``end_...``).
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
#: The seconds one cell may run under ``nbgrader autograde``: as long as the course's own tests allow
#: (``--nbval-cell-timeout=120`` in pyproject.toml); nbgrader's default of 30 s is tight for labs 4–8.
CELL_TIMEOUT = 120

#: The points of a check cell whose checker the registry does not know (a lab of your own).
DEFAULT_POINTS = 1.0

_EXERCISE = re.compile(r"^#+\s*Exercise\s+(\d+)\.(\d+)\b", flags=re.MULTILINE)
_CHECKER = re.compile(r"\b(check_\w+)\s*\(")
_DELIMITERS = ("BEGIN SOLUTION", "END SOLUTION")


def assignment_name(path: Path) -> str:
    """The nbgrader assignment of a lab: ``lab01`` for ``01_library_analogy.ipynb``."""
    number = re.match(r"(\d+)_", path.name)
    if not number:
        raise LabError(f"{path}: cannot name its assignment — a lab's file name starts with its number, "
                       "e.g. 01_name.ipynb")
    return f"lab{number.group(1)}"


def marked_solution(source: str, where: str = "solution cell") -> str:
    """A solution cell with each function body between nbgrader's solution delimiters.

    Imports, signatures and docstrings stay outside the delimiters, so the release keeps them.
    Raises LabError as :func:`crossattn.tooling.student.solution_pieces` does.
    """
    def mark(piece: SolutionPiece) -> str:
        return f"{piece.head}\n{piece.indent}{BEGIN}\n{piece.body}\n{piece.indent}{END}"

    return join_pieces(solution_pieces(source, where), mark)


def _metadata(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
              points: float | None = None) -> dict:
    """nbgrader's cell metadata, schema version 3."""
    meta = {"schema_version": 3, "grade": grade, "solution": solution, "locked": locked, "task": False,
            "grade_id": grade_id}
    if grade:
        meta["points"] = points
    return meta


def _unique(grade_id: str, used: set[str]) -> str:
    """``grade_id``, or with a suffix when taken: a second check in one exercise is ex_5_1_check_2."""
    suffix = 1
    candidate = grade_id
    while candidate in used:
        suffix += 1
        candidate = f"{grade_id}_{suffix}"
    return candidate


def check_points(source: str) -> float:
    """The points of a check cell: those of the exercise whose checker it calls, from the registry.

    A cell that calls a checker the registry does not know is worth :data:`DEFAULT_POINTS`.
    """
    from ..checks import registry

    called = _CHECKER.search(source)
    try:
        return registry.by_checker(called.group(1)).points if called else DEFAULT_POINTS
    except registry.RegistryError:
        return DEFAULT_POINTS


def course_notebook(nb: nbformat.NotebookNode, name: str = "notebook",
                    points: float | None = None) -> nbformat.NotebookNode:
    """The nbgrader source version of a lab (see the module docstring); ``nb`` is left as it is.

    ``points``, when given, is what every check cell is worth instead of its exercise's points.
    """
    if points is not None and not (math.isfinite(points) and points > 0):
        raise LabError(f"--points must be a positive number, got {points}")
    out = nbformat.from_dict(nb)  # deep copy
    out.metadata.pop("widgets", None)
    exercise, used, checks = None, set(), 0
    for index, cell in enumerate(out.cells):
        where = f"{name}, cell {index}"
        cell_tags = tags(cell)
        if cell.cell_type == "markdown":
            headings = _EXERCISE.findall(cell.source)
            if headings:
                exercise = "ex_{}_{}".format(*headings[-1])
        if SOLUTION_TAG not in cell_tags and any(d in cell.source for d in _DELIMITERS):
            raise LabError(f"{where}: holds the text 'BEGIN SOLUTION' or 'END SOLUTION', which nbgrader "
                           "would take for a solution delimiter; reword it")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if SOLUTION_TAG in cell_tags or CHECK_TAG in cell_tags:
            kind = "solution" if SOLUTION_TAG in cell_tags else "check"
            if exercise is None:
                raise LabError(f"{where} (tagged '{kind}'): no '## Exercise N.k: ...' heading above it "
                               "to name its grade id")
            grade_id = _unique(f"{exercise}_{kind}", used)
            if kind == "solution":
                where = f"{where} (tagged '{SOLUTION_TAG}')"
                if any(d in cell.source for d in _DELIMITERS):
                    raise LabError(f"{where}: already holds nbgrader's solution delimiters")
                cell.source = marked_solution(cell.source, where)
                cell.metadata["nbgrader"] = _metadata(grade_id, solution=True)
            else:
                checks += 1
                worth = check_points(cell.source) if points is None else points
                cell.metadata["nbgrader"] = _metadata(grade_id, grade=True, locked=True, points=worth)
        else:
            grade_id = _unique("setup" if SETUP_TAG in cell_tags else f"cell_{index:02d}", used)
            cell.metadata["nbgrader"] = _metadata(grade_id, locked=True)
        used.add(grade_id)
    if checks == 0:
        raise LabError(f"{name}: has no cell tagged '{CHECK_TAG}', so nbgrader would have nothing to grade")
    return out


def config_source() -> str:
    """The text of the course's ``nbgrader_config.py``."""
    return f'''\
# nbgrader settings of the cross-attention course, written by
# `python -m crossattn.tooling.nbgrader_course`. Run nbgrader in this folder.
c = get_config()  # noqa: F821 - nbgrader defines get_config

c.CourseDirectory.course_id = "{COURSE_ID}"

# The release keeps each exercise's signature and docstring; its body
# becomes this stub, as in the course's student versions.
c.ClearSolutions.code_stub = {{
    "python": "# YOUR CODE HERE\\n"
              'raise NotImplementedError("write this function, '
              'then run the check cell below")',
}}

# Seconds one cell may run when `nbgrader autograde` executes a lab
# (labs 4-8 train small models; nbgrader's default is 30).
c.Execute.timeout = {CELL_TIMEOUT}
'''


@dataclass(frozen=True)
class _Planned:
    lab: Path
    target: Path
    notebook: nbformat.NotebookNode


def write_course(inp: Path, out: Path, points: float | None = None, force: bool = False) -> list[Path]:
    """Write the course source for the lab(s) at ``inp`` into ``out``; return the notebooks written.

    Raises LabError, before writing anything, when a lab cannot be converted, when ``out`` is or
    lies inside the labs' folder, or when a course notebook exists already (unless ``force``).
    An existing ``nbgrader_config.py`` is kept: the instructor may have added to it.
    """
    paths = notebook_paths(inp)
    out_dir = out.resolve()
    for folder in {p.resolve().parent for p in paths}:
        if out_dir == folder or folder in out_dir.parents:
            raise LabError(f"--out {out} is inside the folder of the labs ({folder}); choose a folder outside it "
                           "so the labs are never written over")
    if out_dir.exists() and not out_dir.is_dir():
        raise LabError(f"--out {out} exists and is not a folder")
    plan: list[_Planned] = []
    for path in paths:
        assignment = assignment_name(path)
        clash = next((p.lab for p in plan if p.target.parent.name == assignment), None)
        if clash is not None:
            raise LabError(f"{path}: its assignment {assignment} is also {clash.name}'s; number each lab once")
        target = out_dir / "source" / assignment / path.name
        if target.exists() and not force:
            raise LabError(f"{target} exists; pass --force to replace the course notebooks "
                           "(this loses edits made to them)")
        plan.append(_Planned(path, target, course_notebook(read_notebook(path), name=path.name, points=points)))
    for item in plan:
        item.target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(item.notebook, str(item.target))
    config = out_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(config_source(), encoding="utf-8")
    return [item.target for item in plan]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crossattn.tooling.nbgrader_course",
        description="Write an nbgrader course source from the labs: solutions become autograded "
                    "answers, check cells graded tests, every other cell read-only.",
    )
    parser.add_argument("notebooks", type=Path, help="a folder of labs (or one .ipynb)")
    parser.add_argument("--out", type=Path, required=True, help="the course folder to write (outside the labs' folder)")
    parser.add_argument("--points", type=float, default=None,
                        help="points of every check cell (default: each exercise's points in the registry, "
                             "crossattn/checks/exercises/)")
    parser.add_argument("--force", action="store_true", help="replace course notebooks that exist already")
    args = parser.parse_args(argv)
    try:
        written = write_course(args.notebooks, args.out, points=args.points, force=args.force)
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    assignments = sorted({p.parent.name for p in written})
    print(f"wrote {len(written)} lab(s) to {args.out}/source ({', '.join(assignments)}); "
          f"next: cd {args.out} && nbgrader generate_assignment {assignments[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
