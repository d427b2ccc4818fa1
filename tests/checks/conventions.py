"""The one convention of the checker tests: a lab's table of named mistakes, and the test that runs it.

Each tests/checks/test_labNN.py defines ``MISTAKES = {exercise id: {key: student-like function, or a
tuple of functions that make the same mistake}}`` and ends with::

    test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)

so that ``pytest tests/checks/test_labNN.py`` runs the lab's table, and the labs' tables run in
parallel. tests/checks/test_all_labs.py checks the rest once for every lab: every key of the registry
has an entry (no dead hints), every entry's key exists, the reference passes, the stub fails.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crossattn.checks import CheckFailed, registry

Table = dict[str, dict[str, Any]]


def entries(table: Table) -> Iterator[tuple[str, str, Callable]]:
    """(exercise id, key, student function) for every function of a table."""
    for exercise_id, mistakes in table.items():
        for key, functions in mistakes.items():
            for fn in functions if isinstance(functions, tuple) else (functions,):
                yield exercise_id, key, fn


def checker(ex: registry.Exercise) -> Callable:
    import crossattn.checks

    return getattr(crossattn.checks, ex.checker)


def named_mistakes_test(table: Table, *, one_line: bool = False) -> Callable:
    """The test that feeds each entry of ``table`` to its checker and expects the hint of its key.

    The message must name the exercise, print no ✓ line and, with ``one_line``, fit on one line.
    """
    params = [pytest.param(e, k, fn, id=f"{e}-{k}-{fn.__name__}") for e, k, fn in entries(table)]

    @pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NaN and overflow mistakes warn, as for a student
    @pytest.mark.parametrize("exercise_id, key, fn", params)
    def test_each_named_mistake_gets_its_own_hint(exercise_id: str, key: str, fn: Callable, capsys) -> None:
        ex = registry.exercise(exercise_id)
        with pytest.raises(CheckFailed) as info:
            checker(ex)(fn)
        err = info.value
        assert "✓" not in capsys.readouterr().out
        assert (err.exercise, err.key) == (ex.id, key), f"{fn.__name__} got {err.key!r}: {err}"
        assert str(err) == f"{ex.label}: {err.text}"
        if one_line:
            assert "\n" not in str(err)

    return test_each_named_mistake_gets_its_own_hint
