"""Figures shared by the chapters: the attention heatmap (chapters 1–8)."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

__all__ = ["plot_attention"]


def plot_attention(
    weights: ArrayLike,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    annotate: bool | None = None,
    cmap: str = "Blues",
) -> Axes:
    """Draw an m×n attention matrix: one row per query, one column per key.

    Args:
        weights: array of shape (m, n); row i is where query i looks.
        query_labels: m labels for the rows (the target tokens); default ``q0..q{m-1}``.
        key_labels: n labels for the columns (the source tokens); default ``k0..k{n-1}``.
        ax: axes to draw on; a new figure is made when omitted.
        title: optional title.
        annotate: write each weight in its cell; default: when m·n ≤ 100.
        cmap: a matplotlib colour map; weights are drawn on a fixed 0..1 scale so that two
            heatmaps can be compared by eye.

    Returns:
        The axes drawn on.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D array of shape (m, n), got shape {w.shape}")
    m, n = w.shape
    query_labels = [f"q{i}" for i in range(m)] if query_labels is None else list(query_labels)
    key_labels = [f"k{j}" for j in range(n)] if key_labels is None else list(key_labels)
    if len(query_labels) != m:
        raise ValueError(f"{len(query_labels)} query labels for {m} rows: weights have shape {w.shape} (m, n)")
    if len(key_labels) != n:
        raise ValueError(f"{len(key_labels)} key labels for {n} columns: weights have shape {w.shape} (m, n)")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * n + 1.8, 0.5 * m + 1.2))
    ax.imshow(w, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(n), key_labels, rotation=45 if max(map(len, key_labels), default=0) > 3 else 0)
    ax.set_yticks(range(m), query_labels)
    ax.set_xlabel("keys (source)")
    ax.set_ylabel("queries (target)")
    if title:
        ax.set_title(title)
    if annotate is None:
        annotate = m * n <= 100
    if annotate:
        for i in range(m):
            for j in range(n):
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if w[i, j] > 0.6 else "black")
    return ax
