"""What every checker of every lab must do, run once over the registry and every lab's mistakes table.

The registry (crossattn/checks/exercises/labNN.py) lists each exercise, its checker and the keys of
its hints. Each tests/checks/test_labNN.py holds the lab's table, ``MISTAKES = {exercise id: {key:
student-like function, or a tuple of them}}``, runs it with the one test of tests/checks/conventions.py
(each named mistake fails with its own hint, by key, and the message names the exercise), and keeps
its special cases. Here, once for every exercise:

- the registry agrees with the lab: its heading, its check cell, the function the cell passes;
- the lab's own solution passes with one ✓ line; the student version's stub (made by the student
  tool from that very solution cell) fails with the "stub" hint, naming NotImplementedError; a
  value passed instead of a function gets the "not_function" hint;
- no dead hints: every key of the registry is raised by at least one entry of its lab's table, every
  key of a table exists in the registry, and every lab file runs its table; every key a checker
  passes to ``fail`` as a literal exists too.
"""
from __future__ import annotations

import functools
import importlib
import re

import pytest

from crossattn.checks import CheckFailed, registry
from crossattn.tooling.labs import CHECK_TAG, SOLUTION_TAG, read_notebook, tags
from crossattn.tooling.student import stub_source
from tests.checks.conventions import checker, entries
from tests.helpers import LABS, ROOT

EXERCISE_HEADING = re.compile(r"^## Exercise (\d+\.\d+):\s*(.+?)\s*$", flags=re.M)


def lab_path(number: int):
    matches = [p for p in LABS if p.name.startswith(f"{number:02d}_")]
    assert len(matches) == 1, f"lab {number}: expected one notebook {number:02d}_*.ipynb, found {matches}"
    return matches[0]


@functools.cache
def lab_notebook(number: int):
    return read_notebook(lab_path(number))


def lab_cells(number: int) -> list[tuple[str, str, str]]:
    """(exercise id, heading title, check cell source) of each check cell of lab ``number``, in order."""
    found, heading = [], None
    for cell in lab_notebook(number).cells:
        if cell.cell_type == "markdown":
            match = EXERCISE_HEADING.search(cell.source)
            if match:
                heading = match.groups()
        elif CHECK_TAG in tags(cell):
            assert heading is not None, f"lab {number}: a check cell before any exercise heading"
            found.append((*heading, cell.source.strip()))
    return found


@functools.cache
def namespace(number: int, stub: bool) -> dict:
    """The names the solution cells of lab ``number`` define: the reference, or the student's stubs."""
    names: dict = {}
    path = lab_path(number)
    for cell in lab_notebook(number).cells:
        if SOLUTION_TAG in tags(cell):
            exec(compile(stub_source(cell.source) if stub else cell.source, path.name, "exec"), names)  # noqa: S102
    return names


def lab_tests(number: int):
    return importlib.import_module(f"tests.checks.test_lab{number:02d}")


EXERCISES = [pytest.param(ex, id=f"{ex.id}-{ex.function}") for ex in registry.exercises()]


def raised(ex, fn, capsys=None) -> CheckFailed:
    """The CheckFailed ``ex``'s checker raises on ``fn``; fails the test if the checker passes it."""
    with pytest.raises(CheckFailed) as info:
        checker(ex)(fn)
    if capsys is not None:
        assert "✓" not in capsys.readouterr().out
    return info.value


# ---------------------------------------------------------------------------- the registry and the labs


def test_every_lab_has_exercises_in_the_registry_and_back():
    assert [int(p.name[:2]) for p in LABS] == list(registry.labs())


@pytest.mark.parametrize("number", registry.labs())
def test_the_registry_agrees_with_the_lab(number):
    cells = lab_cells(number)
    exercises = registry.lab(number)
    assert [c[0] for c in cells] == [ex.id for ex in exercises], "one check cell per exercise, in order"
    for (exercise_id, title, source), ex in zip(cells, exercises):
        assert title == ex.title, f"exercise {ex.id}: the lab's heading says {title!r}"
        assert source == f"{ex.checker}({ex.function})", f"exercise {ex.id}: the check cell is {source!r}"


@pytest.mark.parametrize("number", registry.labs())
def test_each_lab_module_exports_exactly_its_registered_checkers(number):
    module = importlib.import_module(f"crossattn.checks.lab{number:02d}")
    assert list(module.__all__) == [ex.checker for ex in registry.lab(number)]
    assert f"lab {number}" in module.__doc__.lower(), "a checker module's docstring names its lab"


# ---------------------------------------------------------------------------- reference, stub, non-function


@pytest.mark.parametrize("ex", EXERCISES)
def test_the_lab_solution_passes_with_one_success_line(ex, capsys):
    checker(ex)(namespace(ex.lab, stub=False)[ex.function])
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith(f"✓ {ex.label} passed: "), printed


@pytest.mark.parametrize("ex", EXERCISES)
def test_the_student_stub_fails_naming_notimplementederror(ex, capsys):
    err = raised(ex, namespace(ex.lab, stub=True)[ex.function], capsys)
    assert (err.exercise, err.key) == (ex.id, "stub")
    assert "NotImplementedError" in str(err)


@pytest.mark.parametrize("ex", EXERCISES)
def test_a_value_instead_of_a_function_is_refused(ex):
    err = raised(ex, 42)
    assert (err.exercise, err.key) == (ex.id, "not_function")
    assert str(err) == f"{ex.label}: pass your function itself (without calling it), got int"


# ---------------------------------------------------------------------------- no dead hints


@pytest.mark.parametrize("number", registry.labs())
def test_no_dead_hints_every_key_is_raised_by_the_table(number):
    module = lab_tests(number)
    mistakes = module.MISTAKES
    runner = getattr(module, "test_each_named_mistake_gets_its_own_hint", None)
    assert runner is not None and runner.__module__ == "tests.checks.conventions", \
        f"{module.__name__} must run its table: test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)"
    params = next(m for m in runner.pytestmark if m.name == "parametrize").args[1]
    assert len(params) == len(list(entries(mistakes))), "the runner runs the lab's own table"
    assert set(mistakes) <= {ex.id for ex in registry.lab(number)}, "the table names exercises of its lab only"
    for ex in registry.lab(number):
        covered = set(mistakes.get(ex.id, {}))
        dead = [key for key in ex.keys if key not in covered]
        assert not dead, f"exercise {ex.id}: no entry of the table raises {dead}"
        unknown = sorted(covered - set(ex.keys) - set(registry.GENERIC))
        assert not unknown, f"exercise {ex.id}: the table names keys the registry lacks: {unknown}"
        assert len(ex.hints) >= 2, f"exercise {ex.id}: name at least two common mistakes"


def test_every_generic_hint_is_raised_somewhere():
    from crossattn.tooling import guide

    covered = {"stub", "not_function"}  # the tests above
    covered |= {key for number in registry.labs() for _, key, _ in entries(lab_tests(number).MISTAKES)}
    covered |= {hint.key for hint in guide.generic_hints()}
    assert set(registry.GENERIC) <= covered, sorted(set(registry.GENERIC) - covered)


FAIL_CALL = re.compile(r"\bfail\(\s*[\w.]+\s*,\s*")


def literal_keys(source: str) -> list[str]:
    """The string literals in the key argument of each ``fail(exercise, key, ...)`` call of ``source``.

    A scan of the text, not a parse: the key argument runs to the first comma or closing
    parenthesis outside brackets (``"a" if x else "b"`` and ``table.get(k, "c")`` give their literals).
    """
    keys = []
    for match in FAIL_CALL.finditer(source):
        depth, end = 0, match.end()
        while end < len(source):
            char = source[end]
            if char in "([{":
                depth += 1
            elif char in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            end += 1
        keys += re.findall(r'"([a-z][a-z0-9_]*)"', source[match.end():end])
    return keys


@pytest.mark.parametrize("number", registry.labs())
def test_every_key_a_checker_fails_with_exists(number):
    source = (ROOT / "crossattn" / "checks" / f"lab{number:02d}.py").read_text(encoding="utf-8")
    known = {key for ex in registry.lab(number) for key in ex.keys} | set(registry.GENERIC)
    keys = literal_keys(source)
    assert keys, "the scan found no fail() call: has the helper been renamed?"
    assert not set(keys) - known, f"crossattn/checks/lab{number:02d}.py fails with unknown keys {set(keys) - known}"


def test_the_key_scan_finds_literal_keys_and_only_those():
    source = 'fail(ex, "a")\nfail(ex, "b" if x else "c", n=f(1, 2))\nfail(ex, table.get(k, "d"), e="no")\nfail(ex, key)'
    assert literal_keys(source) == ["a", "b", "c", "d"]


def test_a_debug_print_to_stderr_or_a_warning_costs_no_point(capfd):
    """Issue 19: nbgrader fails a test cell that writes to stderr; the check shows it on stdout instead."""
    import sys
    import warnings

    import numpy as np

    from crossattn.checks import check_softmax

    def softmax(x):
        print("debug", np.shape(x), file=sys.stderr)
        warnings.warn("just a warning")
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    check_softmax(softmax)
    out, err = capfd.readouterr()
    assert err == "" and "✓" in out and "debug" in out and "UserWarning: just a warning" in out

    def wrong(x):  # the control: a wrong answer still fails, and its stderr is still kept off stderr
        print("debug", file=sys.stderr)
        return x

    with pytest.raises(CheckFailed):
        check_softmax(wrong)
    out, err = capfd.readouterr()
    assert err == "" and "debug" in out


# ---------------------------------------------------------------------------- a crash


def _crashes(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.parametrize("ex", EXERCISES)
def test_a_crash_gets_a_short_hint_naming_the_error(ex):
    # found by a newcomer's `k.T` in lab 4: the hint printed every input tensor in full, a screen of numbers
    err = raised(ex, _crashes)
    assert err.exercise == ex.id and "RuntimeError: boom" in str(err)
    assert len(str(err).splitlines()) <= 3 and len(str(err)) <= 700, str(err)


# ---------------------------------------------------------------------------- the package's own answer


SOLVED = [pytest.param(ex, name, id=f"{ex.id}-{name}") for ex in registry.exercises() for name in ex.solved_by]


@pytest.mark.parametrize(("ex", "name"), SOLVED)
def test_an_answer_that_calls_the_package_fails_its_check_as_the_grader_flags_it(ex, name):
    # a newcomer's `crossattn.softmax(scores / T)` passed exercise 3.2's check and scored 0 with the grader
    from crossattn.checks._core import _resolve

    answer = _resolve(name)
    assert answer is not None, f"exercise {ex.id}: solved_by names {name}, which does not exist"
    scope = {"package_answer": answer}
    exec("def calls_the_package(*args, **kwargs):\n    return package_answer(*args, **kwargs)\n", scope)  # noqa: S102
    err = raised(ex, scope["calls_the_package"])
    aliases = [n for n in ex.solved_by if _resolve(n) is answer]  # one function may be listed under two names
    assert err.key in ("package", "package_call") and aliases[0] in str(err), str(err)


def test_the_package_through_attributes_and_helpers_is_seen_and_a_same_named_own_function_is_not():
    import crossattn
    from crossattn.checks import check_entropy

    def via_attribute(weights):
        return crossattn.core.spotlight.entropy(weights)  # crossattn.entropy, reached four names deep

    def helper(weights):
        return crossattn.entropy(weights)

    def via_helper(weights):
        return helper(weights)

    for answer in (via_attribute, via_helper):
        with pytest.raises(CheckFailed) as info:
            check_entropy(answer)
        assert info.value.key == "package_call"
    # the control: the student's own function that happens to be called entropy passes
    scope = {"np": __import__("numpy")}
    exec("def entropy(w):\n    w = np.asarray(w)\n"  # noqa: S102
         "    return -np.sum(np.where(w > 0, w * np.log(np.where(w > 0, w, 1)), 0), axis=-1)\n", scope)
    check_entropy(scope["entropy"])
