"""The README's grading section, run as written: its commands, in order, in ONE shell (issue 19).

An instructor copies the ```bash blocks of "Grade with nbgrader" and "Grade with the isolated grader"
into one terminal, so a `cd` in one block holds for the next. Followed that way, the README once
pointed the isolated grader at `course/submitted/…` from inside `course/` (it matched nothing) and had
it write over nbgrader's `grades.csv`. This test runs the blocks verbatim on a temporary course with
lab 2 handed in by three students — the reference solutions, one named mistake (softmax down the
columns) and a correct answer on the notebook of `crossattn.tooling.student` instead of the release —
and checks what the README says each command gives: nbgrader's scores and its "needs manual grade"
flag for the student-version notebook, the feedback files, and the isolated grader's rows.
"""
from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

from crossattn.tooling.labs import read_notebook, tags
from crossattn.tooling.student import student_version
from tests.helpers import NOTEBOOKS, ROOT

pytestmark = pytest.mark.slow

LAB = "02_qkv_math.ipynb"
NBGRADER, ISOLATED = "### Grade with nbgrader", "### Grade with the isolated grader"


def grading_blocks() -> list[str]:
    """The ```bash blocks of the README's two grading sections, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(NBGRADER)
    end = text.index("\n## ", text.index(ISOLATED))
    return re.findall(r"```bash\n(.*?)```", text[start:end], flags=re.DOTALL)


def test_the_readme_shows_every_step_of_both_paths():
    script = "\n".join(grading_blocks())
    for step in ("nbgrader_course notebooks --out course", "cd course", "nbgrader generate_assignment lab02",
                 "nbgrader autograde lab02", "nbgrader export", "needs_manual_grade",
                 "nbgrader generate_feedback lab02", "python -m crossattn.grade submitted/*/lab02/*.ipynb"):
        assert step in script, f"the README's grading commands lack {step!r}"
    isolated = next(b for b in grading_blocks() if "crossattn.grade" in b)
    assert "--out grades.csv" not in isolated, "the isolated grader would overwrite nbgrader's grades.csv"


def hand_in(course, student: str, notebook) -> None:
    folder = course / "submitted" / student / "lab02"
    folder.mkdir(parents=True)
    import nbformat

    nbformat.write(notebook, str(folder / LAB))


def test_the_readme_grading_commands_run_as_written(tmp_path):
    if importlib.util.find_spec("nbgrader") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the README's nbgrader path: nbgrader is not installed")
        pytest.skip("nbgrader is not installed (pip install nbgrader)")
    blocks = grading_blocks()
    assert blocks[0].startswith("python -m crossattn.tooling.nbgrader_course") and "cd course" in blocks[0]
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS / LAB, tmp_path / "notebooks" / LAB)  # a course of one lab keeps the test short
    # `python` and `nbgrader` are this interpreter's, as in the instructor's activated environment
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore",
           "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"}

    def shell(script: str) -> str:
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=900, check=False)
        return result.stdout + result.stderr

    # the instructor's first block (from the root), then the class hands in, then the rest in that same shell
    log = shell(blocks[0] + f"\npwd > {tmp_path / 'where.txt'}\n")
    course = tmp_path / "course"
    assert (tmp_path / "where.txt").read_text().strip() == str(course), log
    release = read_notebook(course / "release" / "lab02" / LAB)
    reference = read_notebook(NOTEBOOKS / LAB)
    honest, mistake = read_notebook(course / "release" / "lab02" / LAB), release
    answers = [c.source for c in reference.cells if "solution" in tags(c)]
    for nb in (honest, mistake):
        cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        for cell, answer in zip(cells, answers, strict=True):
            cell.source = answer
    wrong = next(c for c in mistake.cells if c.metadata["nbgrader"]["grade_id"] == "ex_2_2_solution")
    wrong.source = wrong.source.replace("axis=-1", "axis=0")
    plain = student_version(reference)
    for cell, answer in zip([c for c in plain.cells if "solution" in tags(c)], answers, strict=True):
        cell.source = answer
    hand_in(course, "honest", honest)
    hand_in(course, "mistake", mistake)
    hand_in(course, "plain", plain)

    log = shell(f"cd {course}\n" + "\n".join(blocks[1:]))  # the shell of the first block is in course/ now

    with (course / "grades.csv").open() as f:
        nbgrader_scores = {r["student_id"]: (float(r["score"]), float(r["max_score"])) for r in csv.DictReader(f)}
    assert nbgrader_scores == {"honest": (6, 6), "mistake": (5, 6), "plain": (0, 6)}, log
    assert (course / "autograde_lab02.log").stat().st_size > 0
    flags = {line.split()[0]: line for line in log.splitlines() if line.split()[:1] in (["honest"], ["mistake"],
                                                                                        ["plain"])}
    assert "needs manual grade" in flags["plain"] and "needs manual grade" not in flags["honest"], log
    assert "failed tests" in flags["mistake"] and "failed tests" not in flags["honest"], log
    for student in ("honest", "mistake", "plain"):
        assert (course / "feedback" / student / "lab02" / "02_qkv_math.html").exists(), log
    hint = (course / "feedback" / "mistake" / "lab02" / "02_qkv_math.html").read_text()
    assert "down each column" in hint

    out = next(re.search(r"--out (\S+)", b).group(1) for b in blocks if "crossattn.grade" in b)
    with (course / out).open() as f:
        rows = list(csv.DictReader(f))
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["student"]] = totals.get(row["student"], 0) + float(row["points"])
    assert totals == {"honest": 6, "mistake": 5, "plain": 6}, rows  # the isolated grader grades either notebook
    assert [r["exercise"] for r in rows if r["status"] != "passed"] == ["2.2"], rows
