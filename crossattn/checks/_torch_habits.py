"""Two torch habits that crash a multi-head attention, watched while the student's function runs.

- ``.T`` on a tensor of more than two axes reverses ALL of them: (B, h, n, d_head) -> (d_head, n, h, B),
  so ``q @ k.T`` fails with a broadcasting error that names no transpose.
- ``.view`` of a transposed (non-contiguous) tensor raises, e.g. merging the heads with
  ``out.transpose(1, 2).view(B, m, d_model)``.

A checker runs the student's function inside :func:`watch`; when the function crashes, the habits
seen say which hint to give instead of the bare error. Both are recorded from the calls themselves
(a ``TorchFunctionMode``), not from torch's error messages or warnings (which torch prints once).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["Habits", "watch"]


class Habits(TorchFunctionMode):
    """Records ``.T`` on a tensor of more than 2 axes and a ``.view`` that failed on a non-contiguous tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.batched_transpose = False
        self.view_after_transpose = False

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        first = args[0] if args else None
        if getattr(func, "__self__", None) is torch.Tensor.T and isinstance(first, torch.Tensor) and first.ndim > 2:
            self.batched_transpose = True
        try:
            return func(*args, **(kwargs or {}))
        except RuntimeError:
            if func is torch.Tensor.view and isinstance(first, torch.Tensor) and not first.is_contiguous():
                self.view_after_transpose = True
            raise


@contextmanager
def watch() -> Iterator[Habits]:
    """``with watch() as habits:`` run the student's code; afterwards read ``habits``."""
    habits = Habits()
    with habits:
        yield habits
