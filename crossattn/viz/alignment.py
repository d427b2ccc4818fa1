"""Chapter 11's figure: a words × frames cross-attention map, its DTW path, and the true word starts."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

__all__ = ["plot_alignment"]


def plot_alignment(matrix: ArrayLike, path: ArrayLike, true_starts: Sequence[int],
                   word_labels: Sequence[str] | None = None, ax: Axes | None = None,
                   title: str | None = None) -> Axes:
    """Draw ``matrix`` (N words, M frames) as a heatmap, the DTW ``path`` (L, 2) over it, and the true starts.

    Each word's true frames are outlined in its row (from its start to the next word's), so a reader
    sees where the path agrees with the truth and where it does not.
    """
    w = np.asarray(matrix, dtype=float)
    p = np.asarray(path)
    if w.ndim != 2:
        raise ValueError(f"matrix must have shape (N words, M frames), got {w.shape}")
    N, M = w.shape
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"path must have shape (L, 2), got {p.shape}")
    if len(true_starts) != N:
        raise ValueError(f"{len(true_starts)} true starts for {N} words")
    labels = [f"w{i}" for i in range(N)] if word_labels is None else list(word_labels)
    if len(labels) != N:
        raise ValueError(f"{len(labels)} word labels for {N} words")
    if ax is None:
        _, ax = plt.subplots(figsize=(min(0.3 * M + 2.0, 11.0), 0.5 * N + 1.6))
    ax.imshow(w, cmap="Blues", aspect="auto")
    ax.plot(p[:, 1], p[:, 0], color="tab:orange", lw=2, marker="o", ms=3, label="DTW path")
    ends = list(true_starts[1:]) + [M]
    for i, (a, b) in enumerate(zip(true_starts, ends)):
        ax.add_patch(plt.Rectangle((a - 0.5, i - 0.5), b - a, 1.0, fill=False, ec="tab:red", lw=1.5,
                                   label="true frames" if i == 0 else None))
    ax.set_yticks(range(N), labels)
    ax.set_xlabel("frames (source)")
    ax.set_ylabel("words (target)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    if title:
        ax.set_title(title)
    return ax
