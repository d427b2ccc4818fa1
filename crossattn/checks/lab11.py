"""Checkers for the exercises of lab 11, listening: DTW, word starts, timestamps from attention maps.

The inputs keep the sizes distinct (N words ≠ M frames), so a transposed path cannot pass, and the
costs are random, so the cheapest path is unique. Every named common mistake gets its own hint, by
key from crossattn/checks/exercises/lab11.py; tests/checks/test_lab11.py feeds each one in, written
the way a student would write it. These checkers use NumPy only.
"""
from __future__ import annotations

from collections.abc import Callable
from itertools import product

import numpy as np

from ..core.alignment import dtw as _dtw
from ..core.alignment import path_cost, word_starts
from ._core import as_array, call, diagnose, expect_shape, fail, passed
from .registry import exercise

__all__ = ["check_dtw", "check_word_starts", "check_attention_timestamps", "check_boundary_error"]

_MOVES = {(0, 1), (1, 0), (1, 1)}


def _valid(path: np.ndarray, N: int, M: int) -> bool:
    """True when ``path`` (L, 2) runs from (0, 0) to (N − 1, M − 1) by the three moves."""
    if path.ndim != 2 or path.shape[1] != 2 or len(path) == 0:
        return False
    if tuple(path[0]) != (0, 0) or tuple(path[-1]) != (N - 1, M - 1):
        return False
    return {tuple(s) for s in np.diff(path, axis=0).tolist()} <= _MOVES


def _cheapest(cost: np.ndarray, moves: tuple[tuple[int, int], ...]) -> float:
    """The cost of the cheapest (or, with negated cost, the dearest) path by ``moves`` only."""
    N, M = cost.shape
    total = np.full((N + 1, M + 1), np.inf)
    total[0, 0] = 0.0
    for i, j in product(range(N), range(M)):
        before = 0.0 if (i, j) == (0, 0) else min(total[i + 1 - a, j + 1 - b] for a, b in moves)
        total[i + 1, j + 1] = cost[i, j] + before
    return float(total[N, M])


def _greedy(cost: np.ndarray) -> np.ndarray:
    """The path that always steps to its cheapest neighbour (a named mistake)."""
    N, M = cost.shape
    i, j, path = 0, 0, [(0, 0)]
    while (i, j) != (N - 1, M - 1):
        options = [(i + a, j + b) for a, b in ((0, 1), (1, 0), (1, 1)) if i + a < N and j + b < M]
        i, j = min(options, key=lambda ij: cost[ij])
        path.append((i, j))
    return np.array(path)


# ---------------------------------------------------------------------------------- 11.1 DTW


def check_dtw(dtw: Callable) -> None:
    """Exercise 11.1: ``dtw(cost) -> path (L, 2)``, the cheapest monotone path through cost (N, M)."""
    ex = exercise("11.1")
    rng = np.random.default_rng(11)
    cases = [rng.uniform(0, 1, size=(4, 9)), rng.uniform(0, 1, size=(7, 3)), rng.normal(size=(5, 8)),
             rng.uniform(0, 1, size=(1, 4))]
    for cost in cases:
        N, M = cost.shape
        got = as_array(call(dtw, cost, exercise=ex, inputs=f"cost of shape {cost.shape}"), ex)
        if got.shape == cost.shape and got.shape[1] != 2:
            fail(ex, "total_matrix", shape=got.shape)
        if got.ndim != 2 or got.shape[1] != 2 or len(got) == 0:
            fail(ex, "not_pairs", shape=got.shape)
        if not np.array_equal(got, np.round(got)):
            fail(ex, "not_pairs", shape=f"{got.shape}, but not whole numbers")
        got = got.astype(int)
        want = _cheapest(cost, ((1, 1), (1, 0), (0, 1)))
        if _valid(got, N, M) and np.isclose(path_cost(cost, got), want, rtol=1e-9, atol=1e-9):
            continue
        fields = {"N": N, "M": M, "N1": N - 1, "M1": M - 1}
        if _valid(got[::-1], N, M):
            fail(ex, "reversed")
        if N != M and _valid(got[:, ::-1], N, M):
            fail(ex, "transposed", **fields)
        steps = [tuple(s) for s in np.diff(got, axis=0).tolist()]
        for step in steps:
            if min(step) < 0:
                fail(ex, "backwards", step=step)
        for step in steps:
            if step not in _MOVES:
                fail(ex, "skips", step=step)
        if tuple(got[0]) != (0, 0):
            fail(ex, "wrong_start", start=tuple(got[0].tolist()))
        if tuple(got[-1]) != (N - 1, M - 1):
            fail(ex, "wrong_end", end=tuple(got[-1].tolist()), **fields)
        got_cost = path_cost(cost, got)
        if (1, 1) not in steps and np.isclose(got_cost, _cheapest(cost, ((1, 0), (0, 1))), rtol=1e-9, atol=1e-9):
            fail(ex, "no_diagonal")
        if np.isclose(got_cost, -_cheapest(-cost, ((1, 1), (1, 0), (0, 1))), rtol=1e-9, atol=1e-9):
            fail(ex, "maximises")
        if np.array_equal(got, _greedy(cost)):
            fail(ex, "greedy")
        fail(ex, "not_cheapest", got=got_cost, want=want)
    passed(ex, "a monotone path from (0, 0) to (N − 1, M − 1), and the cheapest one.")


# ---------------------------------------------------------------------------------- 11.2 word starts


def _paths() -> list[np.ndarray]:
    rng = np.random.default_rng(12)
    # by hand: word 2 enters diagonally, word 3 shares frame 4 with word 2 (a move to the next word only)
    hand = np.array([(0, 0), (0, 1), (1, 1), (1, 2), (2, 3), (2, 4), (3, 4), (3, 5), (3, 6)])
    return [hand, _dtw(rng.uniform(0, 1, size=(5, 12))), _dtw(rng.uniform(0, 1, size=(3, 7)))]


def check_word_starts(word_starts_fn: Callable) -> None:
    """Exercise 11.2: ``word_starts(path, n_words) -> int (n_words,)``, the first frame of each word."""
    ex = exercise("11.2")
    for path in _paths():
        n = int(path[-1, 0]) + 1
        shown = [tuple(p) for p in path.tolist()]
        got = as_array(call(word_starts_fn, path, n, exercise=ex, inputs=f"path of shape {path.shape}, n_words={n}"), ex)
        expect_shape(got, (n,), ex, {(n - 1,): "no_first"}, case=f"n_words={n}")
        want = word_starts(path, n)
        rows = path[:, 0]
        first = np.concatenate([[True], np.diff(rows) != 0])
        last = np.concatenate([np.diff(rows) != 0, [True]])
        if np.array_equal(got, want):
            if not np.issubdtype(got.dtype, np.integer):
                fail(ex, "float", dtype=got.dtype)
            continue
        diagnose(got, [
            (path[last, 1], "ends"),
            (np.concatenate([[0], path[:-1][np.diff(rows) != 0, 1]]), "previous_end"),
            (np.flatnonzero(first), "path_index"),
        ], ex, "wrong", tol=0, path=shown, want=want.tolist(), got=got.tolist())
    passed(ex, "each word starts on the frame where the path first enters its row.")


# ---------------------------------------------------------------------------------- 11.3 timestamps


#: Two planted cases: (seed, sharpness of each head, pull of the sink frame in each head, noise, sink frame).
#: Chosen so that each named mistake of 11.3 gives its own wrong starts, and the right method the true ones.
PLANTED = ((63, (0.8, 4.4, 3.3), (3.7, 3.4, 2.0), 0.1, 5), (8, (1.1, 4.9, 2.5), (3.9, 1.5, 1.1), 0.2, 4))


def planted_maps(case: int = 0) -> tuple[np.ndarray, list[int], int]:
    """Attention maps (H, N, M) of three heads over a planted alignment, the true starts, and the sink frame.

    Each word's row attends most to the frames its head believes are the word's: head 0 misplaces the
    start of word 1, head 1 that of word 2, head 2 is right. Every word also attends to one "sink" frame
    (trained models often park attention on a frame that carries no word). Rows are softmaxes over the
    frames, as attention is. ``case`` picks one of :data:`PLANTED`.
    """
    if case not in range(len(PLANTED)):
        raise ValueError(f"case must be 0..{len(PLANTED) - 1}, got {case!r}")
    seed, sharp, pull, noise, sink = PLANTED[case]
    rng = np.random.default_rng(seed)
    starts, M = [0, 3, 8, 11], 16
    N = len(starts)
    beliefs = ([0, 2, 8, 11], [0, 3, 6, 11], starts)
    maps = []
    for believed, s, p in zip(beliefs, sharp, pull):
        owner = np.searchsorted(believed, np.arange(M), side="right") - 1  # (M,) the word of each frame
        logits = s * (owner[None, :] == np.arange(N)[:, None]) + rng.normal(0, noise, size=(N, M))  # (N, M)
        logits[:, sink] += p
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        maps.append(e / e.sum(axis=1, keepdims=True))
    return np.array(maps), starts, sink  # (H, N, M)


def _standardised(maps: np.ndarray, axis: int) -> np.ndarray:
    return (maps - maps.mean(axis=axis, keepdims=True)) / maps.std(axis=axis, keepdims=True)


def reference_timestamps(maps: np.ndarray) -> np.ndarray:
    """Exercise 11.3's answer: standardise per frame over the words, average heads, dtw(−matrix), starts."""
    matrix = _standardised(maps, -2).mean(axis=0)  # (N, M)
    return word_starts(_dtw(-matrix), matrix.shape[0])


def check_attention_timestamps(attention_timestamps: Callable) -> None:
    """Exercise 11.3: ``attention_timestamps(maps) -> int (N,)`` from maps (H, N, M) of the chosen heads."""
    ex = exercise("11.3")
    for case in range(len(PLANTED)):
        maps, _, sink = planted_maps(case)
        H, N, M = maps.shape
        got = as_array(call(attention_timestamps, maps, exercise=ex, inputs=f"maps of shape {maps.shape}"), ex)
        if got.ndim == 2 and got.shape[1] == 2:
            fail(ex, "returned_path", shape=got.shape, N=N)
        expect_shape(got, (N,), ex, case=f"maps of shape {maps.shape}")
        want = reference_timestamps(maps)
        if np.array_equal(got, want):
            continue

        def starts(matrix: np.ndarray) -> np.ndarray:
            return word_starts(_dtw(-matrix), N)

        diagnose(got, [
            (starts(_standardised(maps, -1).mean(axis=0)), "wrong_axis"),
            (word_starts(_dtw(_standardised(maps, -2).mean(axis=0)), N), "no_negation"),
            (starts(maps.mean(axis=0)), "no_standardise"),
            (starts(_standardised(maps.mean(axis=0), -2)), "averaged_first"),
            (starts(_standardised(maps[0], -2)), "one_head"),
        ], ex, "wrong", tol=0, sink=sink, H=H, want=want.tolist(), got=got.tolist())
    passed(ex, "standardised per frame, averaged over heads, the cheapest path through −matrix, its word starts.")


# ---------------------------------------------------------------------------------- 11.4 boundary error


def check_boundary_error(boundary_error: Callable) -> None:
    """Exercise 11.4: ``boundary_error(predicted, true_starts) -> float``, mean |difference| after word 0."""
    ex = exercise("11.4")
    # differences of 2 and more, of both signs, so that |d|, d, d² and √mean(d²) all differ
    for predicted, true in (([0, 3, 9, 10], [0, 4, 6, 11]), ([0, 5, 7, 12, 14], [0, 3, 8, 10, 15])):
        p, t = np.array(predicted), np.array(true)
        shown = {"predicted": predicted, "true": true}
        raw = call(boundary_error, p, t, exercise=ex, inputs=f"predicted={predicted}, true_starts={true}")
        if raw is None:
            fail(ex, "none", what="the error")
        if isinstance(raw, (list, tuple, np.ndarray)) and np.size(raw) > 1:
            fail(ex, "per_word", n=np.size(raw))
        if isinstance(raw, bool) or not isinstance(raw, (int, float, np.integer, np.floating, np.ndarray)):
            fail(ex, "not_number", type=type(raw).__name__)
        got = float(np.asarray(raw).reshape(-1)[0])
        d = (p - t)[1:]
        want = float(np.abs(d).mean())
        if np.isclose(got, want, rtol=1e-9, atol=1e-12):
            continue
        diagnose(np.asarray(got), [
            (np.abs(p - t).mean(), "with_first"),
            (d.mean(), "signed"),
            ((d ** 2).mean(), "squared"),
            (np.sqrt((d ** 2).mean()), "rmse"),
            (np.abs(d).sum(), "summed"),
        ], ex, "wrong", tol=1e-9, want=want, got=got, **shown)
    passed(ex, "the mean of |predicted − true| over the words after the first, in frames.")
