"""Dynamic time warping: a monotone path through a cost matrix (chapter 11).

Whisper's released code times its words this way (``whisper/timing.py``; Radford et al. 2023): the
cross-attention of chosen heads, read as a words × frames matrix, is turned into a cost (high
attention = low cost) and the cheapest monotone path from the first word and frame to the last word
and frame says which frames belong to which word. Shapes: N words (rows), M frames (columns).
"""
from __future__ import annotations

import numpy as np

__all__ = ["dtw", "path_cost", "word_starts"]

# The three moves of a path, as (Δrow, Δcolumn): the next frame in the same word, the next word on the
# same frame, or both.
_MOVES = ((0, 1), (1, 0), (1, 1))


def dtw(cost: np.ndarray) -> np.ndarray:
    """The cheapest monotone path through ``cost``, an array of shape (N, M).

    A path starts at (0, 0), ends at (N − 1, M − 1) and moves by one frame, one word, or both at each
    step; its cost is the sum of ``cost`` over the cells it visits. Returns the path as an integer
    array of shape (L, 2), rows (word, frame), max(N, M) ≤ L ≤ N + M − 1. Ties go to the diagonal
    move, then to the move along the frames.
    """
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2 or 0 in cost.shape:
        raise ValueError(f"cost must be a non-empty 2-D array (words, frames), got shape {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost must be finite everywhere")
    N, M = cost.shape
    total = np.full((N + 1, M + 1), np.inf)  # total[i + 1, j + 1]: cheapest path from (0, 0) to (i, j)
    total[0, 0] = 0.0
    for i in range(N):
        for j in range(M):
            total[i + 1, j + 1] = cost[i, j] + min(total[i, j], total[i, j + 1], total[i + 1, j])
    path = [(N - 1, M - 1)]
    i, j = N - 1, M - 1
    while (i, j) != (0, 0):
        # (diagonal, previous word, previous frame): which cell the path came from
        before = ((i - 1, j - 1), (i - 1, j), (i, j - 1))
        i, j = min(before, key=lambda ij: (total[ij[0] + 1, ij[1] + 1], before.index(ij)))
        path.append((i, j))
    return np.array(path[::-1], dtype=int)


def path_cost(cost: np.ndarray, path: np.ndarray) -> float:
    """The sum of ``cost`` (N, M) over the cells of ``path`` (L, 2); raises ValueError if it is no path."""
    cost, path = np.asarray(cost, dtype=float), np.asarray(path)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) == 0:
        raise ValueError(f"path must be an array of shape (L, 2), got shape {path.shape}")
    N, M = cost.shape
    if tuple(path[0]) != (0, 0) or tuple(path[-1]) != (N - 1, M - 1):
        raise ValueError(f"a path runs from (0, 0) to ({N - 1}, {M - 1}), this one from {tuple(path[0])} to {tuple(path[-1])}")
    steps = {tuple(s) for s in np.diff(path, axis=0)}
    if not steps <= set(_MOVES):
        raise ValueError(f"a path moves by (0, 1), (1, 0) or (1, 1); this one also by {sorted(steps - set(_MOVES))}")
    return float(cost[path[:, 0], path[:, 1]].sum())


def word_starts(path: np.ndarray, n_words: int) -> np.ndarray:
    """The first frame of each word on a DTW ``path`` (L, 2): an integer array of shape (n_words,).

    A word starts on the frame where the path first enters its row (Whisper's "jumps").
    """
    path = np.asarray(path)
    if path.ndim != 2 or path.shape[1] != 2:
        raise ValueError(f"path must be an array of shape (L, 2), got shape {path.shape}")
    if n_words < 1:
        raise ValueError(f"n_words must be at least 1, got {n_words}")
    rows = path[:, 0]
    if set(rows.tolist()) != set(range(n_words)):
        raise ValueError(f"the path's rows must be exactly 0..{n_words - 1}, got {sorted(set(rows.tolist()))}")
    first = np.concatenate([[True], np.diff(rows) != 0])  # (L,) True where the path enters a new word
    return path[first, 1].astype(int)
