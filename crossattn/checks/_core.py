"""What every exercise checker shares: calling the student's function safely, comparing its
answer with the reference, and failing with one short hint the student can act on.

A checker either prints one line that starts with ✓, or raises :class:`CheckFailed`. In a
notebook, :class:`CheckFailed` shows only its hint (no traceback into this package).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["CheckFailed", "call", "as_array", "expect_shape", "close", "diagnose", "passed"]


class CheckFailed(AssertionError):
    """An exercise's answer is wrong; the message is the hint."""

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing the traceback: the hint is all a student needs.
        return [f"✗ {self}"]


def call(fn: Callable[..., Any], *args: Any, exercise: str) -> Any:
    """Call the student's ``fn``; turn a stub or a crash into a CheckFailed with a hint."""
    if not callable(fn):
        raise CheckFailed(f"{exercise}: pass your function itself (without calling it), got {type(fn).__name__}")
    name = getattr(fn, "__name__", "your function")
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        result = fn(*copies)
    except NotImplementedError:
        raise CheckFailed(
            f"{exercise}: `{name}` still raises NotImplementedError — replace the `raise` line with your code."
        ) from None
    except Exception as err:  # noqa: BLE001 - any crash of student code becomes a hint
        shapes = [str(np.shape(a)) if isinstance(a, np.ndarray) else repr(a) for a in args]
        what = f"an input of shape {shapes[0]}" if len(shapes) == 1 else f"inputs {', '.join(shapes)}"
        raise CheckFailed(
            f"{exercise}: calling `{name}` on {what} raised {type(err).__name__}: {err}"
        ) from None
    for position, (original, given) in enumerate(zip(args, copies)):
        if isinstance(original, np.ndarray) and not np.array_equal(original, given, equal_nan=original.dtype.kind == "f"):
            raise CheckFailed(
                f"{exercise}: `{name}` changed its argument {position + 1} in place; "
                "leave inputs as they are (work on a copy, e.g. x = x / T instead of x /= T)."
            )
    return result


def as_array(out: Any, exercise: str, what: str = "your function's result") -> np.ndarray:
    """``out`` as a NumPy array, or a hint when it is None or not numeric."""
    if out is None:
        raise CheckFailed(f"{exercise}: {what} is None — did you forget the `return` statement?")
    if isinstance(out, tuple):
        raise CheckFailed(f"{exercise}: {what} is a tuple of {len(out)} items; return a single array here.")
    if hasattr(out, "detach"):  # a torch tensor
        out = out.detach().cpu().numpy()
    try:
        arr = np.asarray(out)
    except ValueError:  # ragged nesting: NumPy refuses to make an array of it
        arr = np.asarray(None, dtype=object)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise CheckFailed(f"{exercise}: {what} should be a NumPy array of numbers, got {type(out).__name__}")
    return arr


def expect_shape(arr: np.ndarray, shape: tuple[int, ...], exercise: str, hints: dict[tuple, str] | None = None) -> None:
    """Fail when ``arr`` has another shape; ``hints`` maps a known wrong shape to its hint."""
    if arr.shape == tuple(shape):
        return
    hint = (hints or {}).get(arr.shape, "")
    raise CheckFailed(f"{exercise}: expected shape {tuple(shape)}, got {arr.shape}. {hint}".rstrip())


def close(a: Any, b: Any, tol: float = 1e-6) -> bool:
    """True when a and b have the same shape and agree within ``tol`` (NaN never agrees)."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a_arr.shape == b_arr.shape and bool(np.allclose(a_arr, b_arr, atol=tol, rtol=tol))


def diagnose(got: np.ndarray, mistakes: Sequence[tuple[Any, str]], exercise: str, fallback: str) -> None:
    """Raise the hint of the first known mistake whose answer equals ``got``, else ``fallback``.

    ``mistakes`` pairs the answer a known wrong solution gives on the same input with its hint.
    """
    if np.isnan(np.asarray(got, dtype=float)).any():
        for answer, hint in mistakes:
            if answer is None:  # a mistake that is recognised by NaN alone
                raise CheckFailed(f"{exercise}: {hint}")
    for answer, hint in mistakes:
        if answer is not None and close(got, answer):
            raise CheckFailed(f"{exercise}: {hint}")
    raise CheckFailed(f"{exercise}: {fallback}")


def passed(exercise: str, detail: str) -> None:
    """Print the one success line of a checker."""
    print(f"✓ {exercise} passed: {detail}")
