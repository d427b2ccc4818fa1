"""Grade submitted labs outside the student's kernel: ``python -m crossattn.grade SUBMISSION.ipynb… --out grades.csv``.

The self-checks in the labs are for learning: they run in the student's kernel, which the student
controls. This grader is for scores. For each submission it

1. recognises the lab (:func:`~crossattn.tooling.grade.static.lab_of`) and reads the answer cells
   only: imports, literal constants and function definitions (no other top-level statement runs);
2. flags, without running it, answer code that reaches the package, the checks, the kernel, files,
   sockets or processes (:mod:`~crossattn.tooling.grade.static`): 0 points, status ``flagged``;
3. runs the rest in a fresh, limited child process (:mod:`~crossattn.tooling.grade.sandbox`) on
   inputs drawn from the grading seed, with the package functions that solve an exercise behind
   tripwires; the child sends back only the values the functions return;
4. judges those values here, against the package's reference functions and properties
   (:mod:`~crossattn.tooling.grade.exercises`), and writes one CSV row per submission and exercise:
   ``submission,student,lab,exercise,points,max_points,status,reason`` with status ``passed``,
   ``failed``, ``flagged`` (0 points pending a human look) or ``error`` (could not run).

Points come from the registry of exercises (:mod:`crossattn.checks.registry`), as for nbgrader.
"""
from __future__ import annotations

import numpy as np

from ...checks import registry
from .exercises import GRADERS, LAB_NEEDS, graded_labs
from .sandbox import CaseResult, Limits, run_submission
from .static import Piece, Submission, SubmissionError, read_submission

__all__ = ["Row", "FIELDS", "grade_submission", "Limits", "SubmissionError", "graded_labs"]

FIELDS = ("submission", "student", "lab", "exercise", "points", "max_points", "status", "reason")


class Row(dict):
    """One line of grades.csv."""


def _student(path) -> str:
    parts = path.parts
    if "submitted" in parts:
        i = len(parts) - 1 - parts[::-1].index("submitted")
        if i + 1 < len(parts) - 1:
            return parts[i + 1]
    return path.stem


def _row(path, lab, exercise, points, max_points, status, reason) -> Row:
    return Row(submission=str(path), student=_student(path), lab="" if lab is None else lab,
               exercise=exercise, points=f"{points:g}", max_points=f"{max_points:g}", status=status, reason=reason)


def _method_names(qualified: str) -> str | None:
    """``expand_beams`` for ``crossattn.nn.cache.KVCache.expand_beams``; None for a module-level function."""
    parts = qualified.split(".")
    return parts[-1] if len(parts) >= 3 and parts[-2][:1].isupper() else None


def _closure(name: str, defs: dict[str, Piece]) -> list[Piece]:
    seen, todo, out = set(), [name], []
    while todo:
        current = todo.pop()
        if current in seen or current not in defs:
            continue
        seen.add(current)
        out.append(defs[current])
        todo += [u for u in defs[current].uses if u in defs]
    return out


def _within(name: str, allowed) -> bool:
    """Whether ``name`` is an allowed package name or an attribute of one."""
    return any(name == a or name.startswith(a + ".") for a in allowed)


def _package_uses(local: str, qualified: str, piece: Piece) -> list[str]:
    """The package names a function reads through the import ``local`` -> ``qualified``: ``crossattn.softmax``
    for ``crossattn.softmax(x)`` after ``import crossattn``; ``qualified`` itself for a bare use."""
    uses = [qualified + chain[len(local):] for chain in sorted(piece.chains)
            if chain == local or chain.startswith(local + ".")]
    return uses or [qualified]


def _flags(ex: registry.Exercise, sub: Submission, lab_solved: tuple[str, ...]) -> list[str]:
    """Why the answer to ``ex`` is flagged (empty: it may run)."""
    defs = {p.defines[0]: p for p in sub.pieces if p.kind == "def"}
    bad_imports = {name: f"{p.where}: {p.problems[0]}" for p in sub.pieces if p.kind == "import" and p.problems
                   for name in p.defines}
    package = {local: q for p in sub.pieces if p.kind == "import" for local, q in p.package.items()}
    reasons: list[str] = []
    for piece in _closure(ex.function, defs):
        who = f"`{piece.defines[0]}` ({piece.where})"
        reasons += [f"{who} {problem}" for problem in piece.problems]
        for local, qualified in package.items():
            if local in piece.uses and qualified not in ex.allowed:
                for name in _package_uses(local, qualified, piece):
                    if not _within(name, ex.allowed):
                        reasons.append(f"{who} uses {name} from the package, which this exercise may not use")
        for local, why in bad_imports.items():
            if local in piece.uses:
                reasons.append(f"{who} uses `{local}`, from {why}")
        for qualified in lab_solved:
            method = _method_names(qualified)
            if method and f".{method}" in piece.uses and qualified not in ex.allowed:
                reasons.append(f"{who} calls `.{method}`, which is {qualified}: the package's answer")
    return list(dict.fromkeys(reasons))


def _bound_not_written(name: str, sub: Submission) -> list[str]:
    """Why ``name`` is flagged when no answer cell defines it with ``def`` but one imports or assigns it:
    ``from crossattn.experiments.caching_cost import cache_bytes`` hands in the package's answer, and
    ``scores = attention_scores`` the same; neither is a missing answer (empty when nothing binds it)."""
    reasons = []
    for piece in sub.pieces:
        if piece.kind == "import" and name in piece.defines:
            origin = piece.package.get(name)
            reasons.append(f"`{name}` is imported ({piece.where}) from {origin or 'a module'}, not written: "
                           + ("the package's answer" if origin else piece.source.strip()))
    for where in sub.dropped_bindings.get(name, []):
        reasons.append(f"`{name}` is assigned ({where}), not written with def: the grader runs only functions")
    return reasons


def _verdict(ex: registry.Exercise, cases, results: list[CaseResult] | None, load_error: str | None):
    """(status, reason) of one exercise from its case results."""
    if not results:
        return "error", load_error or "the grader got no result"
    for result in results:
        if result.tripped:
            return "flagged", f"called {', '.join(result.tripped)} (the package's answer) while running"
    for case, result in zip(cases, results):
        if result.status == "missing":
            return "error", load_error or f"no answer cell defines `{ex.function}`"
        if result.status == "timeout":
            return "error", result.error
        if result.status == "memory":
            return "error", "memory limit: the function ran out of memory (MemoryError)"
        if result.status == "crashed":
            return "error", result.error
        reason = case.judge(result)
        if reason:
            return "failed", reason
    if len(results) < len(cases):
        return "error", "the grader got results for only some of the cases"
    return "passed", ""


def grade_submission(path, seed: int, limits: Limits = Limits()) -> list[Row]:
    """Grade one notebook; one Row per exercise, or one error Row when the file cannot be graded."""
    from pathlib import Path

    path = Path(path)
    try:
        sub = read_submission(path)
    except SubmissionError as err:
        return [_row(path, None, "", 0, 0, "error", str(err))]
    lab = sub.lab
    if lab not in registry.labs():
        return [_row(path, lab, "", 0, 0, "error", f"lab {lab} is not a lab of this course (labs "
                                                   f"{', '.join(map(str, registry.labs()))})")]
    if lab not in GRADERS:
        return [_row(path, lab, "", 0, 0, "error", f"lab {lab} has no grader yet (the grader grades labs "
                                                   f"{', '.join(map(str, graded_labs()))}); grade it with nbgrader")]
    exercises = registry.lab(lab)
    total = sum(ex.points for ex in exercises)
    defined = {name for p in sub.pieces for name in p.defines if p.kind == "def"}
    wanted = [ex.function for ex in exercises]
    if sub.answer_cells == 0:
        return [_row(path, lab, "", 0, total, "error", "the notebook has no answer cells (tagged 'solution' or "
                                                      "nbgrader solution cells): nothing to grade")]
    bound = {name for p in sub.pieces for name in p.defines if p.kind == "import"} | set(sub.dropped_bindings)
    if not (set(wanted) & (defined | set(sub.syntax_errors) | bound)):
        return [_row(path, lab, "", 0, total, "error", f"no answer cell defines any of {', '.join(wanted)}: "
                                                      f"a lab {lab} of another version of the course?")]
    lab_solved = tuple(dict.fromkeys(q for ex in exercises for q in ex.solved_by))
    flags = {ex.id: _flags(ex, sub, lab_solved) for ex in exercises}
    defs = {p.defines[0]: p for p in sub.pieces if p.kind == "def"}
    # Load only the functions an unflagged answer reaches; a flagged one is never run.
    load = {id(p) for ex in exercises if not flags[ex.id] for p in _closure(ex.function, defs)}
    lab_allowed = {q for ex in exercises for q in ex.allowed}
    pieces = []
    for p in sub.pieces:
        if p.kind == "def" and id(p) not in load:
            continue
        if p.kind == "import" and (p.problems or any(not any(a == q or a.startswith(q + ".") for a in lab_allowed)
                                                      for q in p.package.values())):
            continue
        pieces.append({"source": p.source, "where": f"{path.name}, {p.where}", "defines": list(p.defines)})
    tasks, cases_of = [], {}
    for ex in exercises:
        if flags[ex.id] or ex.function not in defined:
            continue
        rng = np.random.default_rng([seed, ex.lab, ex.number])
        cases = GRADERS[lab][ex.function](rng)
        cases_of[ex.id] = cases
        tasks.append({"exercise": ex.id, "function": ex.function, "allowed": list(ex.allowed),
                      "cases": [c.job() for c in cases]})
    run = run_submission(pieces, tasks, parts=LAB_NEEDS[lab]["parts"], imports=LAB_NEEDS[lab]["imports"],
                         tripwires=lab_solved, limits=limits) if tasks else None
    rows = []
    for ex in exercises:
        if not flags[ex.id] and ex.function not in defined:
            flags[ex.id] = _bound_not_written(ex.function, sub)
        if flags[ex.id]:
            status, reason = "flagged", "; ".join(flags[ex.id])
        elif ex.function not in defined:
            status = "error"
            reason = sub.syntax_errors.get(ex.function) or f"no answer cell defines `{ex.function}`"
        else:
            status, reason = _verdict(ex, cases_of[ex.id], run.results.get(ex.id), run.load_errors.get(ex.function))
        rows.append(_row(path, lab, ex.id, ex.points if status == "passed" else 0, ex.points, status, reason))
    return rows
