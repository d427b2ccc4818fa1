"""What every checker of every lab must do, derived from the labs themselves (design §5).

Each check cell `check_x(fn)` names a checker and the function its exercise asks for. For every
such pair: the lab's own solution passes with one ✓ line; the student version's stub (made by
the student tool from that very solution cell) fails with a hint naming NotImplementedError; and
a value passed instead of a function is refused. The named mistakes of each exercise are tested
in tests/checks/test_labNN.py.
"""
import re

import pytest

import crossattn.checks
from crossattn.checks import CheckFailed
from crossattn.tooling.labs import (
    CHECK_TAG,
    SOLUTION_TAG,
    read_notebook,
    tags,
)
from crossattn.tooling.student import stub_source
from tests.helpers import LABS


def exercises():
    for path in LABS:
        for cell in read_notebook(path).cells:
            if CHECK_TAG in tags(cell):
                checker, fn = re.fullmatch(r"(check_\w+)\((\w+)\)", cell.source.strip()).groups()
                yield pytest.param(path, checker, fn, id=f"{path.name[:2]}-{checker}")


def namespace(path, stub):
    ns = {}
    for cell in read_notebook(path).cells:
        if SOLUTION_TAG in tags(cell):
            exec(compile(stub_source(cell.source) if stub else cell.source, path.name, "exec"), ns)  # noqa: S102
    return ns


EXERCISES = list(exercises())


def test_every_check_cell_calls_a_checker_of_the_package():
    assert EXERCISES
    for param in EXERCISES:
        _, checker, _ = param.values
        assert checker in crossattn.checks.checker_names(), f"{checker} is not exported by crossattn.checks"


@pytest.mark.parametrize("path, checker, fn", EXERCISES)
def test_the_lab_solution_passes_with_one_success_line(path, checker, fn, capsys):
    getattr(crossattn.checks, checker)(namespace(path, stub=False)[fn])
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("✓"), printed


@pytest.mark.parametrize("path, checker, fn", EXERCISES)
def test_the_student_stub_fails_naming_notimplementederror(path, checker, fn, capsys):
    with pytest.raises(CheckFailed, match="NotImplementedError"):
        getattr(crossattn.checks, checker)(namespace(path, stub=True)[fn])
    assert "✓" not in capsys.readouterr().out


@pytest.mark.parametrize("path, checker, fn", EXERCISES)
def test_a_value_instead_of_a_function_is_refused(path, checker, fn):
    with pytest.raises(CheckFailed, match="pass your function itself"):
        getattr(crossattn.checks, checker)(42)
