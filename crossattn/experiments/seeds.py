"""One seed-grid runner for the experiments that train a model per (task, arm, seed) (chapters 6 and 7).

An *arm* is one configuration under test: a positional scheme in chapter 6, a tying variant in
chapter 7. The task's data are made once and shared by every arm and seed, so arms differ only in
what they are meant to differ in; the seed fixes the initialisation and the batch order.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["seed_grid"]

Run = TypeVar("Run")


def seed_grid(run: Callable[[str, str, int, Any], Run], tasks: Sequence[str], arms: Sequence[str],
              seeds: Sequence[int], data: Callable[[str], Any]) -> list[Run]:
    """``run(task, arm, seed, data(task))`` for every task, arm and seed, in that nesting order.

    Returns len(tasks)·len(arms)·len(seeds) runs; ``data(task)`` is called once per task.
    """
    tasks, arms, seeds = list(tasks), list(arms), list(seeds)
    for name, values in (("tasks", tasks), ("arms", arms), ("seeds", seeds)):
        if not values:
            raise ValueError(f"{name} must not be empty")
    runs = []
    for task in tasks:
        task_data = data(task)
        for arm in arms:
            for seed in seeds:
                runs.append(run(task, arm, seed, task_data))
    return runs
