"""Learning curves over seeds: a mean line and the band from the lowest to the highest seed (chapter 7)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_curves"]


def plot_curves(ax: Any, curves: dict[str, Sequence[Sequence[float]]], block: int,
                labels: dict[str, str] | None = None, colours: dict[str, str] | None = None) -> None:
    """One mean line and its band (lowest to highest seed) per entry of ``curves``.

    curves: {name: one learning curve per seed, each of the same length}; point k of a curve is the
    mean training loss of steps block·k + 1 … block·(k + 1). labels and colours are keyed by name.
    """
    for name, seed_curves in curves.items():
        c = np.asarray(seed_curves, dtype=float)  # (seeds, points)
        if c.ndim != 2 or c.shape[0] == 0:
            raise ValueError(f"curves[{name!r}] must have shape (seeds, points), got {c.shape}")
        mean, low, high = c.mean(axis=0), c.min(axis=0), c.max(axis=0)
        steps = block * np.arange(1, len(mean) + 1)
        colour = (colours or {}).get(name)
        label = (labels or {}).get(name, name)
        line, = ax.plot(steps, mean, color=colour, label=f"{label} ({c.shape[0]} seeds)")
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (nats/token)")
