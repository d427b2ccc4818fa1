"""The nbgrader course tool: python -m crossattn.tooling.nbgrader_course notebooks --out DIR (issue 11).

First the conversion itself, on every lab: nbgrader metadata, solution delimiters around exactly
the code a student writes, locked graded check cells, unique grade ids, points. Then the real
thing with nbgrader in a temporary course folder: `nbgrader generate_assignment` releases every lab
without its solutions, and `nbgrader autograde` scores three submissions of lab 2 — the reference
solutions (full marks), the empty release (zero on every graded cell, even with one test cell
rewritten to pass: nbgrader restores it) and a submission with one named common mistake (it loses
exactly that exercise's points). Scores are read from nbgrader's
gradebook. Without nbgrader those tests are skipped, except in CI (CI set), where that is a failure.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from crossattn.checks import registry
from crossattn.tooling.labs import (
    CHECK_TAG,
    SETUP_TAG,
    SOLUTION_TAG,
    read_notebook,
    tags,
)
from crossattn.tooling.nbgrader_course import (
    BEGIN,
    CELL_TIMEOUT,
    COURSE_ID,
    DEFAULT_POINTS,
    END,
    main,
    marked_solution,
)
from tests.checks.test_lab02 import padding_mask_inverted
from tests.helpers import LABS, NOTEBOOKS, ROOT
from tests.tooling.test_student import assert_only_stubs, lab_with_solution

GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")  # nbgrader's schema (v3) allows these characters


def course_path(course, lab):
    return course / "source" / f"lab{lab.name[:2]}" / lab.name


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    assert main([str(NOTEBOOKS), "--out", str(out)]) == 0
    return out


# ---------------------------------------------------------------------------- the conversion


def test_one_assignment_per_lab_named_by_its_number_and_a_config(course):
    written = sorted(p.relative_to(course).as_posix() for p in (course / "source").glob("*/*.ipynb"))
    assert written == [f"source/lab{p.name[:2]}/{p.name}" for p in LABS]
    from traitlets.config.loader import (
        PyFileConfigLoader,  # traitlets comes with Jupyter
    )
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    assert config.CourseDirectory.course_id == COURSE_ID
    assert config.Execute.timeout == CELL_TIMEOUT >= 120
    assert "raise NotImplementedError(" in config.ClearSolutions.code_stub["python"]


def function_lines(source):
    """Line numbers of (the signatures and docstrings, the code after the docstrings) of each function."""
    head, body_lines = set(), set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            body, head_end = node.body, node.lineno  # a signature on one line, as in every lab
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body, head_end = body[1:], body[0].end_lineno
            head |= set(range(min([node.lineno] + [d.lineno for d in node.decorator_list]), head_end + 1))
            for stmt in body:
                body_lines |= set(range(stmt.lineno, stmt.end_lineno + 1))
    return head, body_lines


def docstrings(source):
    return [(n.name, ast.get_docstring(n)) for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]


def delimited_lines(source):
    """Line numbers strictly between a BEGIN and its END; fails on nesting or a missing END."""
    inside, opened = set(), None
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == BEGIN:
            assert opened is None, f"line {number}: nested {BEGIN}"
            opened = number
        elif line.strip() == END:
            assert opened is not None, f"line {number}: {END} without {BEGIN}"
            inside |= set(range(opened + 1, number))
            opened = None
    assert opened is None, f"{BEGIN} at line {opened} is never closed"
    return inside


@pytest.mark.parametrize("lab", LABS, ids=[p.name for p in LABS])
def test_solutions_are_delimited_checks_graded_everything_else_read_only(course, lab):
    original, converted = read_notebook(lab), read_notebook(course_path(course, lab))
    assert len(converted.cells) == len(original.cells)
    assert "widgets" not in converted.metadata
    number = int(lab.name[:2])
    exercises = []
    for index, (before, after) in enumerate(zip(original.cells, converted.cells)):
        meta = after.metadata["nbgrader"]
        assert meta["schema_version"] == 3 and GRADE_ID.match(meta["grade_id"])
        assert {k: v for k, v in after.metadata.items() if k != "nbgrader"} == before.metadata
        assert after.cell_type == before.cell_type
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None
        if SOLUTION_TAG in tags(before):
            assert (meta["solution"], meta["grade"], meta["locked"]) == (True, False, False)
            head, body = function_lines(after.source)
            inside = delimited_lines(after.source)
            assert body and body <= inside, f"cell {index}: solution code outside the delimiters"
            assert not head & inside, f"cell {index}: a signature or docstring inside the delimiters"
            assert after.source.count(BEGIN) == len(
                [n for n in ast.parse(after.source).body if isinstance(n, ast.FunctionDef)])
            # the delimiters are comments: the code is the lab's own solution, statement for statement
            assert ast.dump(ast.parse(after.source)) == ast.dump(ast.parse(before.source))
            exercises.append(meta["grade_id"].removesuffix("_solution"))
        elif CHECK_TAG in tags(before):
            checker = re.match(r"(check_\w+)\(", before.source).group(1)
            assert (meta["grade"], meta["solution"], meta["locked"]) == (True, False, True)
            assert meta["points"] == registry.by_checker(checker).points, "points come from the registry"
            assert meta["grade_id"] == f"{exercises[-1]}_check", "a check is named after the solution above it"
            assert after.source == before.source
        else:
            assert (meta["grade"], meta["solution"], meta["locked"]) == (False, False, True)
            assert after.source == before.source
            assert (meta["grade_id"] == "setup") == (SETUP_TAG in tags(before))
    assert exercises == [f"ex_{number}_{k}" for k in range(1, len(exercises) + 1)], \
        "grade ids follow the lab's exercise numbers"
    ids = [c.metadata["nbgrader"]["grade_id"] for c in converted.cells]
    assert len(ids) == len(set(ids)), "grade ids are unique in a notebook"


@pytest.mark.parametrize("lab", LABS, ids=[p.name for p in LABS])
def test_every_check_passes_the_way_nbgrader_scores_full_marks(lab):
    """nbgrader gives a test cell full marks only when it shows no error, nothing on stderr and no value."""
    for cell in read_notebook(lab).cells:
        if CHECK_TAG in tags(cell):
            kinds = [(o.output_type, o.get("name")) for o in cell.outputs]
            assert kinds == [("stream", "stdout")], f"{cell.source!r} stored {kinds}"
            assert cell.outputs[0].text.startswith("✓")


def check_cell_points(course, lab):
    nb = read_notebook(course_path(course, lab))
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in nb.cells
            if c.metadata["nbgrader"]["grade"]}


def test_each_check_is_worth_its_exercises_points_in_the_registry(tmp_path, monkeypatch):
    lab = next(p for p in LABS if p.name.startswith("02_"))
    original = registry.by_checker

    def heavier_scores(checker):  # the registry, with exercise 2.1 worth 2.5 points
        entry = original(checker)
        return dataclasses.replace(entry, points=2.5) if entry.id == "2.1" else entry

    monkeypatch.setattr(registry, "by_checker", heavier_scores)
    assert main([str(lab), "--out", str(tmp_path / "course")]) == 0
    points = check_cell_points(tmp_path / "course", lab)
    assert points.pop("ex_2_1_check") == 2.5 and set(points.values()) == {1.0}


def test_points_option_sets_every_check(tmp_path):
    assert main([str(LABS[0]), "--out", str(tmp_path / "course"), "--points", "2.5"]) == 0
    assert set(check_cell_points(tmp_path / "course", LABS[0]).values()) == {2.5}


def test_a_checker_the_registry_does_not_know_is_worth_the_default(tmp_path):
    labs = lab_folder(tmp_path)  # its check cell calls check_f
    assert main([str(labs), "--out", str(tmp_path / "c")]) == 0
    nb = read_notebook(tmp_path / "c" / "source" / "lab01" / "01_x.ipynb")
    assert [c.metadata["nbgrader"]["points"] for c in nb.cells if c.metadata["nbgrader"]["grade"]] == [DEFAULT_POINTS]


def test_marked_solution_keeps_imports_signature_and_docstring_outside():
    marked = marked_solution(
        'import numpy as np\n\n\ndef f(x):\n    """Doc (m, n)."""\n    y = x * 2\n    return y.sum()\n')
    assert marked == ('import numpy as np\n\n\ndef f(x):\n    """Doc (m, n)."""\n'
                      f"    {BEGIN}\n    y = x * 2\n    return y.sum()\n    {END}")


# ---------------------------------------------------------------------------- bad input


def lab_folder(tmp_path, name="01_x.ipynb", source="def f(x):\n    return x\n", headed=True):
    labs = tmp_path / "labs"
    labs.mkdir()
    nb = lab_with_solution(source)
    check = nbformat.v4.new_code_cell("check_f(f)")
    check.metadata["tags"] = [CHECK_TAG]
    nb.cells = ([nbformat.v4.new_markdown_cell("## Exercise 1.1: f")] if headed else []) + nb.cells + [check]
    nbformat.write(nb, str(labs / name))
    return labs


def fails_with_one_line(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("error: ") and expected in err, err


def test_a_valid_little_lab_converts(tmp_path, capsys):
    labs = lab_folder(tmp_path)
    assert main([str(labs), "--out", str(tmp_path / "c")]) == 0
    assert "nbgrader generate_assignment lab01" in capsys.readouterr().out


@pytest.mark.parametrize("setup, argv, expected", [
    (lambda t: None, lambda t: [str(t / "nope"), "--out", str(t / "c")], "nope: no such file or folder"),
    (lambda t: (t / "a.txt").write_text("x"), lambda t: [str(t / "a.txt"), "--out", str(t / "c")], "not a notebook"),
    (lambda t: (t / "labs").mkdir() or (t / "labs" / "01_b.ipynb").write_text("{not json"),
     lambda t: [str(t / "labs"), "--out", str(t / "c")], "01_b.ipynb: not a notebook — invalid JSON at line 1"),
    (lambda t: lab_folder(t, source="import numpy as np\n"), lambda t: [str(t / "labs"), "--out", str(t / "c")],
     "01_x.ipynb, cell 1 (tagged 'solution'): defines no function"),
    (lambda t: lab_folder(t, name="x.ipynb"), lambda t: [str(t / "labs"), "--out", str(t / "c")],
     "cannot name its assignment"),
    (lambda t: lab_folder(t, headed=False), lambda t: [str(t / "labs"), "--out", str(t / "c")],
     "no '## Exercise N.k: ...' heading above it"),
    (lambda t: lab_folder(t), lambda t: [str(t / "labs"), "--out", str(t / "labs")], "inside the folder of the labs"),
    (lambda t: lab_folder(t), lambda t: [str(t / "labs"), "--out", str(t / "labs" / "course")],
     "inside the folder of the labs"),
    (lambda t: lab_folder(t), lambda t: [str(t / "labs" / "01_x.ipynb"), "--out", str(t / "labs")],
     "inside the folder of the labs"),
    (lambda t: lab_folder(t), lambda t: [str(t / "labs"), "--out", str(t / "c"), "--points", "0"],
     "--points must be a positive number"),
    (lambda t: lab_folder(t), lambda t: [str(t / "labs"), "--out", str(t / "c"), "--points", "nan"],
     "--points must be a positive number"),
], ids=["missing", "not-ipynb", "not-json", "no-function", "unnumbered", "no-heading", "out-is-labs",
        "out-inside-labs", "out-is-labs-of-one-file", "zero-points", "nan-points"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, setup, argv, expected):
    setup(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    fails_with_one_line(capsys, argv(tmp_path), expected)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "c").exists() and not (tmp_path / "labs" / "course").exists()


def test_existing_course_notebooks_are_replaced_only_with_force(tmp_path, capsys):
    labs, out = lab_folder(tmp_path), tmp_path / "c"
    assert main([str(labs), "--out", str(out)]) == 0
    (out / "nbgrader_config.py").write_text("c = get_config()  # the instructor's own\n")
    fails_with_one_line(capsys, [str(labs), "--out", str(out)], "exists; pass --force")
    assert main([str(labs), "--out", str(out), "--force"]) == 0
    assert (out / "nbgrader_config.py").read_text() == "c = get_config()  # the instructor's own\n"


def test_a_cell_that_nbgrader_would_read_as_a_delimiter_is_refused(tmp_path, capsys):
    labs = lab_folder(tmp_path)
    nb = read_notebook(labs / "01_x.ipynb")
    nb.cells.append(nbformat.v4.new_markdown_cell("Do not write BEGIN SOLUTION here."))
    nbformat.write(nb, str(labs / "01_x.ipynb"))
    fails_with_one_line(capsys, [str(labs), "--out", str(tmp_path / "c")], "cell 3: holds the text 'BEGIN SOLUTION'")


def test_the_course_package_does_not_import_nbgrader():
    """Colab and Binder install the package without nbgrader: only the instructor's nbgrader needs it."""
    tree = ast.parse((ROOT / "crossattn" / "tooling" / "nbgrader_course.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported and not any(name.split(".")[0] == "nbgrader" for name in imported), imported


def test_the_module_runs_as_a_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "crossattn.tooling.nbgrader_course", str(tmp_path / "nope"),
                             "--out", str(tmp_path / "c")], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 2 and result.stderr == f"error: {tmp_path / 'nope'}: no such file or folder\n"


# ---------------------------------------------------------------------------- the round trip with nbgrader


def nbgrader(course, *args):
    """Run an nbgrader command in the course folder, as an instructor would; fail with its log."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def released(course):
    if importlib.util.find_spec("nbgrader") is None:
        reason = "nbgrader is not installed (pip install nbgrader)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the nbgrader round trip: {reason}")
        pytest.skip(reason)
    nbgrader(course, "generate_assignment", "lab*")  # every lab: nbgrader globs assignment names
    return course


@pytest.mark.parametrize("lab", LABS, ids=[p.name for p in LABS])
def test_generate_assignment_releases_each_lab_without_its_solutions(released, lab):
    source = read_notebook(course_path(released, lab))
    release = read_notebook(released / "release" / f"lab{lab.name[:2]}" / lab.name)
    assert len(release.cells) == len(source.cells)
    for before, after in zip(source.cells, release.cells):
        meta = after.metadata["nbgrader"]
        assert meta["grade_id"] == before.metadata["nbgrader"]["grade_id"] and len(meta["checksum"]) == 32
        if after.cell_type == "code":
            assert after.outputs == []
        if meta["solution"]:
            assert_only_stubs(after.source)
            assert docstrings(after.source) == docstrings(before.source)
            assert BEGIN not in after.source and after.metadata["deletable"] is False
        else:
            assert after.source == before.source
            assert after.metadata["editable"] is False and after.metadata["deletable"] is False


def test_autograde_scores_reference_empty_and_one_named_mistake(released):
    lab = next(p for p in LABS if p.name.startswith("02_"))
    assignment, notebook = f"lab{lab.name[:2]}", lab.stem
    source = course_path(released, lab)
    release = released / "release" / assignment / lab.name
    # the mistake, as tests/checks/test_lab02.py writes it: the mask of nn.MultiheadAttention (True = blocked)
    mistake = "import numpy as np\n\n\n" + inspect.getsource(padding_mask_inverted).replace(
        "def padding_mask_inverted(", "def padding_mask(")
    student = read_notebook(release)
    for cell, answer in zip(student.cells, read_notebook(lab).cells):
        if cell.metadata["nbgrader"]["solution"]:
            cell.source = mistake if cell.metadata["nbgrader"]["grade_id"] == "ex_2_3_solution" else answer.source
    for who in ("reference", "empty", "mistake"):
        (released / "submitted" / who / assignment).mkdir(parents=True)
    shutil.copy(source, released / "submitted" / "reference" / assignment / lab.name)
    # the empty release, with one test cell rewritten to pass: autograde restores the locked original
    empty = read_notebook(release)
    tampered = next(c for c in empty.cells if c.metadata["nbgrader"]["grade_id"] == "ex_2_1_check")
    tampered.source = 'print("✓ trust me")'
    nbformat.write(empty, str(released / "submitted" / "empty" / assignment / lab.name))
    nbformat.write(student, str(released / "submitted" / "mistake" / assignment / lab.name))

    nbgrader(released, "autograde", assignment)

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{released / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        scores = {who: {g.name: (g.score, g.max_score) for g in
                        gradebook.find_submission_notebook(notebook, assignment, who).grades}
                  for who in ("reference", "empty", "mistake")}
        totals = {who: (gradebook.find_submission(assignment, who).score,
                        gradebook.find_submission(assignment, who).max_score) for who in scores}
    checks = [f"ex_2_{k}_check" for k in range(1, 7)]
    assert sorted(scores["reference"]) == checks
    assert all(got == full == 1.0 for got, full in scores["reference"].values()), scores["reference"]
    assert all(got == 0.0 and full == 1.0 for got, full in scores["empty"].values()), scores["empty"]
    assert scores["mistake"]["ex_2_3_check"] == (0.0, 1.0)
    assert all(scores["mistake"][c] == (1.0, 1.0) for c in checks if c != "ex_2_3_check"), scores["mistake"]
    assert totals == {"reference": (6.0, 6.0), "empty": (0.0, 6.0), "mistake": (5.0, 6.0)}
    restored = read_notebook(released / "autograded" / "empty" / assignment / lab.name)
    assert [c.source for c in restored.cells if c.metadata["nbgrader"]["grade_id"] == "ex_2_1_check"] == [
        "check_scores(scores)"], "autograde ran the lab's own test, not the student's rewrite"
    # the student sees the checker's hint for the mistake in the graded notebook
    graded = read_notebook(released / "autograded" / "mistake" / assignment / lab.name)
    hint = next(o.evalue for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex_2_3_check"
                for o in c.outputs if o.output_type == "error")
    assert "inverted" in hint
