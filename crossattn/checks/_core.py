"""What every exercise checker shares: calling the student's function safely, comparing its
answer with the reference, and failing with one short hint the student can act on.

A checker either prints one line that starts with ✓, or raises :class:`CheckFailed`. In a
notebook, :class:`CheckFailed` shows only its hint (no traceback into this package). Every hint
is raised by key from :mod:`crossattn.checks.registry` through :func:`fail`.
"""
from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np

from .registry import Exercise

__all__ = ["CheckFailed", "fail", "call", "refuse_package_answer", "as_array", "expect_shape", "close", "diagnose",
           "passed"]


class CheckFailed(AssertionError):
    """An exercise's answer is wrong; the message is the hint.

    ``exercise`` is the exercise's id ("2.3") and ``key`` the registry key of the hint, so tests and
    graders can tell which named mistake was found without reading the words; ``text`` is the
    message without the exercise's label.
    """

    def __init__(self, message: str, *, exercise: str | None = None, key: str | None = None,
                 text: str | None = None) -> None:
        super().__init__(message)
        self.exercise = exercise
        self.key = key
        self.text = message if text is None else text

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing the traceback: the hint is all a student needs.
        return [f"✗ {self}"]


def fail(exercise: Exercise, key: str, /, *, lead: str = "", **fields: Any) -> NoReturn:
    """Raise the hint ``key`` of ``exercise`` with its fields filled.

    The message is ``"{exercise.label}: {lead}{hint}"``; ``lead`` carries what comes before the hint
    (e.g. "expected shape (3,), got (5,). ").
    """
    text = f"{lead}{exercise.hint(key, **fields)}"
    raise CheckFailed(f"{exercise.label}: {text}", exercise=exercise.id, key=key, text=text) from None


def _short(a: Any) -> str:
    """One argument in a crash hint: an array or tensor by its shape, a model by its class, else its repr."""
    if isinstance(a, np.ndarray):
        return str(a.shape)
    if hasattr(a, "shape") and hasattr(a, "dtype"):  # a torch tensor, without importing torch
        return f"tensor {tuple(a.shape)}"
    text = repr(a)
    return text if len(text) <= 40 and "\n" not in text else type(a).__name__


def _describe(args: Sequence[Any]) -> str:
    shapes = [_short(a) for a in args]
    if len(args) == 1 and isinstance(args[0], np.ndarray):
        return f"on an input of shape {shapes[0]}"
    return f"on the input {shapes[0]}" if len(shapes) == 1 else f"on inputs {', '.join(shapes)}"


def _resolve(qualified: str) -> Any:
    """The object a package name ("crossattn.softmax", "crossattn.nn.cache.KVCache.append") names, or None."""
    parts = qualified.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part, None)
        return obj
    return None


def _from_package(obj: Any) -> bool:
    name = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
    return isinstance(name, str) and name.split(".")[0] == __name__.split(".")[0]


def _referenced(fn: Callable[..., Any]) -> list[Any]:
    """The objects ``fn`` can reach by name: its globals, attribute chains from the package's modules and classes
    (``crossattn.core.spotlight.entropy``), and the same for the functions of the student's it calls."""
    found: list[Any] = []
    todo, seen = [fn], set()
    while todo:
        f = todo.pop()
        code, scope = getattr(f, "__code__", None), getattr(f, "__globals__", None)
        if code is None or scope is None or id(f) in seen:
            continue
        seen.add(id(f))
        names: set[str] = set()
        codes = [code]
        while codes:
            c = codes.pop()
            names |= set(c.co_names)
            codes += [k for k in c.co_consts if isinstance(k, types.CodeType)]
        cells = [c.cell_contents for c in (getattr(f, "__closure__", None) or ()) if _filled(c)]
        frontier = [scope[n] for n in names if n in scope] + cells
        for _ in range(4):  # crossattn.nn.layers.MultiheadAttention.forward: four attributes deep
            found += frontier
            todo += [o for o in frontier if isinstance(o, types.FunctionType) and not _from_package(o)]
            frontier = [getattr(o, n) for o in frontier if isinstance(o, (types.ModuleType, type)) and _from_package(o)
                        for n in names if n in vars(o)]
    return found


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # an empty cell
        return False
    return True


def _unwrap(obj: Any) -> Any:
    """``obj`` without its wrappers (``functools.wraps``), e.g. a ``torch.no_grad()`` decorator."""
    try:
        return inspect.unwrap(obj) if callable(obj) else obj
    except ValueError:  # a cycle of __wrapped__
        return obj


def refuse_package_answer(fn: Callable[..., Any], exercise: Exercise) -> None:
    """Fail when ``fn`` reaches, by name, one of the package's own answers to ``exercise`` (its ``solved_by``).

    The grader flags such an answer before running it (0 points); the self-check says so first, with the
    exercise's own "package" hint when it has one.
    """
    if not exercise.solved_by:
        return
    answers: dict[int, str] = {}
    for name in exercise.solved_by:  # two names of one function: the first one listed
        obj = _resolve(name)
        if obj is not None:
            answers.setdefault(id(_unwrap(obj)), name)
    for obj in _referenced(fn):
        if id(_unwrap(obj)) in answers:
            fail(exercise, "package" if "package" in exercise.keys else "package_call", name=answers[id(_unwrap(obj))])


def call(fn: Callable[..., Any], *args: Any, exercise: Exercise, inputs: str | None = None) -> Any:
    """Call the student's ``fn`` on copies of ``args``; turn a stub, a crash or an in-place change into a hint.

    ``inputs`` describes the arguments in a crash hint (default: their shapes).
    """
    if not callable(fn):
        fail(exercise, "not_function", type=type(fn).__name__)
    refuse_package_answer(fn, exercise)
    name = getattr(fn, "__name__", "your function")
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        result = fn(*copies)
    except NotImplementedError:
        fail(exercise, "stub", name=name)
    except Exception as err:  # noqa: BLE001 - any crash of student code becomes a hint
        fail(exercise, "crash", name=name, inputs=inputs or _describe(args), error=f"{type(err).__name__}: {err}")
    for position, (original, given) in enumerate(zip(args, copies)):
        if isinstance(original, np.ndarray) and not np.array_equal(original, given, equal_nan=original.dtype.kind == "f"):
            fail(exercise, "in_place", name=name, position=position + 1)
    return result


def as_array(out: Any, exercise: Exercise, what: str = "your function's result") -> np.ndarray:
    """``out`` as a NumPy array, or a hint when it is None or not numeric."""
    if out is None:
        fail(exercise, "none", what=what)
    if isinstance(out, tuple):
        fail(exercise, "tuple", what=what, n=len(out))
    if hasattr(out, "detach"):  # a torch tensor
        out = out.detach().cpu().numpy()
    try:
        arr = np.asarray(out)
    except ValueError:  # ragged nesting: NumPy refuses to make an array of it
        arr = np.asarray(None, dtype=object)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        fail(exercise, "not_array", what=what, type=type(out).__name__)
    return arr


def expect_shape(arr: Any, shape: tuple[int, ...], exercise: Exercise,
                 hints: Mapping[tuple, str] | None = None, /, *, case: str = "", **fields: Any) -> None:
    """Fail when ``arr`` (an array or a shape) has another shape than ``shape``.

    ``hints`` maps a known wrong shape to the key of its hint, which follows "expected shape …, got …."
    ``case`` names the test case in the message ("n=5, d=3"); ``fields`` fill the hints' templates.
    Every key is looked up first, so a key the registry lacks fails even when the shape is right.
    """
    for key in (hints or {}).values():
        exercise.template(key)
    got = tuple(arr) if isinstance(arr, tuple) else tuple(np.shape(arr))
    if got == tuple(shape):
        return
    where = f" (test case: {case})" if case else ""
    key = (hints or {}).get(got)
    if key is None:
        fail(exercise, "shape", expected=tuple(shape), got=got, case=where)
    fail(exercise, key, lead=f"expected shape {tuple(shape)}, got {got}{where}. ", **fields)


def close(a: Any, b: Any, tol: float = 1e-6) -> bool:
    """True when a and b have the same shape and agree within ``tol`` (NaN never agrees)."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a_arr.shape == b_arr.shape and bool(np.allclose(a_arr, b_arr, atol=tol, rtol=tol))


def diagnose(got: Any, mistakes: Sequence[tuple], exercise: Exercise, fallback: str, /, *, lead: str = "",
             fallback_lead: str | None = None, tol: float = 1e-6, **fields: Any) -> NoReturn:
    """Raise the hint of the first known mistake whose answer equals ``got``, else the ``fallback`` hint.

    ``mistakes`` pairs the answer a known wrong solution gives on the same input with the key of its
    hint — ``(answer, key)``, or ``(answer, key, {field: value})`` for fields of that hint alone. An
    answer of None stands for a mistake recognised by NaN alone. ``fields`` fill every hint; ``lead``
    comes before each (``fallback_lead``, if given, before the fallback).
    Every key is looked up before any comparison, so a key the registry lacks fails at once.
    """
    for mistake in mistakes:
        exercise.template(mistake[1])
    exercise.template(fallback)

    def raise_(mistake: tuple) -> NoReturn:
        own = mistake[2] if len(mistake) > 2 else {}
        fail(exercise, mistake[1], lead=lead, **{**fields, **own})

    if np.isnan(np.asarray(got, dtype=float)).any():
        for mistake in mistakes:
            if mistake[0] is None:
                raise_(mistake)
    for mistake in mistakes:
        if mistake[0] is not None and close(got, mistake[0], tol):
            raise_(mistake)
    fail(exercise, fallback, lead=lead if fallback_lead is None else fallback_lead, **fields)


def passed(exercise: Exercise, detail: str) -> None:
    """Print the one success line of a checker."""
    print(f"✓ {exercise.label} passed: {detail}")
