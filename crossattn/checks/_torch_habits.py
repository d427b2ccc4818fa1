"""Two torch habits that crash a multi-head attention, watched while the student's function runs.

- ``.T`` on a tensor of more than two axes reverses ALL of them: (B, h, n, d_head) -> (d_head, n, h, B),
  so ``q @ k.T`` fails with a broadcasting error that names no transpose.
- ``.view`` of a transposed (non-contiguous) tensor raises, e.g. merging the heads with
  ``out.transpose(1, 2).view(B, m, d_model)``.
- ``scores.masked_fill(mask, ...)`` whose result is LARGER than the scores: a mask turned the wrong way,
  (B, 1, n, 1) instead of (B, 1, 1, n), broadcasts one query's scores (B, h, 1, n) to (B, h, n, n), and the
  function crashes later, where the heads are merged.

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
    """Records ``.T`` on a tensor of more than 2 axes, a ``.view`` that failed on a non-contiguous tensor, and
    the shapes (before, after) of a ``masked_fill`` that grew the tensor it filled."""

    def __init__(self) -> None:
        super().__init__()
        self.batched_transpose = False
        self.view_after_transpose = False
        self.mask_grew: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        first = args[0] if args else None
        if getattr(func, "__self__", None) is torch.Tensor.T and isinstance(first, torch.Tensor) and first.ndim > 2:
            self.batched_transpose = True
        try:
            result = func(*args, **(kwargs or {}))
        except RuntimeError:
            if func is torch.Tensor.view and isinstance(first, torch.Tensor) and not first.is_contiguous():
                self.view_after_transpose = True
            raise
        if (func is torch.Tensor.masked_fill and isinstance(first, torch.Tensor) and isinstance(result, torch.Tensor)
                and result.shape != first.shape and self.mask_grew is None):
            self.mask_grew = (tuple(first.shape), tuple(result.shape))
        return result


@contextmanager
def watch() -> Iterator[Habits]:
    """``with watch() as habits:`` run the student's code; afterwards read ``habits``."""
    habits = Habits()
    with habits:
        yield habits
