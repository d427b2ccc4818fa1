"""Exercise checkers, one module per lab (``lab01`` … ), each loaded the first time one of its
checkers is used: ``from crossattn.checks import check_softmax`` loads lab 1's checkers only, so a
NumPy lab's checks never import torch.

A checker prints one ✓ line or raises :class:`CheckFailed` with a hint. What the student's code writes
to stderr and the warnings it raises while a checker runs are shown on stdout after the check
(:func:`quiet`): a debug print costs no point where a test cell that writes to stderr fails (nbgrader).
The exercises, their
points and the hints of their named mistakes are data (``crossattn/checks/exercises/labNN.py``),
read through :mod:`crossattn.checks.registry`, which loads no checker and no torch.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import io
import pkgutil
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ._core import CheckFailed

__all__ = ["CheckFailed", "lab_modules", "checker_names", "quiet"]


def quiet(checker: Callable[..., Any]) -> Callable[..., Any]:
    """``checker`` with stderr and warnings captured while it runs, then shown on stdout.

    nbgrader scores a test cell 0 when it writes to stderr, so a student's debug
    ``print(..., file=sys.stderr)`` or ``warnings.warn`` would cost the exercise's points; here it is
    printed after the check, on stdout, and the check's verdict alone decides.
    """
    @functools.wraps(checker)
    def run(*args: Any, **kwargs: Any) -> Any:
        buffer = io.StringIO()
        with warnings.catch_warnings(record=True) as caught:  # the filters in force decide what is shown
            try:
                with contextlib.redirect_stderr(buffer):
                    return checker(*args, **kwargs)
            finally:
                said = [buffer.getvalue().rstrip()] if buffer.getvalue().strip() else []
                said += list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
                if said:
                    print("(written to stderr or warned while checking; it costs nothing)\n" + "\n".join(said))
    return run


def lab_modules() -> list[str]:
    """The names of the lab modules (``lab01``, ``lab02``, …), in lab order; none is imported."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("lab") and m.name[3:].isdigit())


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def checker_names() -> dict[str, str]:
    """Every checker's name -> the lab module that defines it (imports every lab module)."""
    return {checker: lab for lab in lab_modules() for checker in getattr(_load(lab), "__all__", ())}


def __getattr__(name: str) -> Any:
    # Look through the labs in order and stop at the first that has it: a lab's checks load only
    # the modules of that lab and the labs before it.
    if name.startswith("check_"):
        for lab in lab_modules():
            module = _load(lab)
            if name in getattr(module, "__all__", ()):
                value = quiet(getattr(module, name))
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
