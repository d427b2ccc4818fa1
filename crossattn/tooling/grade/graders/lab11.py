"""Lab 11, listening (NumPy answers): DTW over a cost matrix, word starts from a path, timestamps from maps.

The DTW path is judged by its properties: an integer (L, 2) array from (0, 0) to (N − 1, M − 1) moving by
(0, 1), (1, 0) or (1, 1), whose cost equals the cheapest total computed here by the package's ``dtw`` (random
costs, N ≠ M, some negative, one N = 1 and one M = 1: a cheapest path is unique almost surely, and any
path of that cost is accepted). The word starts are compared with the package's ``word_starts`` on paths
of random costs with more words than frames, so that words share frames. The timestamps are compared with
the reference computed here (standardise per frame over the words, average the heads, dtw(−matrix),
starts) on random attention maps (H, N, M): softmax rows over a random alignment with a random sink frame.
The boundary error is compared with the mean |predicted − true| over the words after the first.
"""
from __future__ import annotations

import numpy as np

from ..exercises import _array, _randn, _sizes, _untouched, case, exact

__all__ = ["GRADERS", "NEEDS"]

_MOVES = {(0, 1), (1, 0), (1, 1)}


def _path_judge(cost: np.ndarray, label: str):
    from crossattn.core.alignment import dtw, path_cost

    N, M = cost.shape
    want = path_cost(cost, dtw(cost))

    def judge(value, result):
        if not isinstance(value, np.ndarray) or value.ndim != 2 or value.shape[1:] != (2,) or len(value) == 0:
            shape = getattr(value, "shape", type(value).__name__)
            return f"{label}: expected an integer array of shape (L, 2), got {shape}"
        if value.dtype.kind not in "iu":
            return f"{label}: expected integers (word, frame), got dtype {value.dtype}"
        if tuple(value[0]) != (0, 0) or tuple(value[-1]) != (N - 1, M - 1):
            return f"{label}: a path runs from (0, 0) to ({N - 1}, {M - 1}), got {tuple(value[0])} to {tuple(value[-1])}"
        if not {tuple(s) for s in np.diff(value, axis=0).tolist()} <= _MOVES:
            return f"{label}: the path moves by something other than (0, 1), (1, 0), (1, 1)"
        got = float(cost[value[:, 0], value[:, 1]].sum())
        if not np.isclose(got, want, rtol=1e-9, atol=1e-9):
            return f"{label}: a valid path, but not the cheapest (cost {got:.4g}, cheapest {want:.4g})"
        return _untouched(result, label)
    return judge


def lab11_dtw(rng):
    cases = []
    N, M = _sizes(rng, 2, 2, 12)
    shapes = [(N, M), (M, N), (1, int(rng.integers(2, 9))), (int(rng.integers(2, 9)), 1)]
    for k, (n, m) in enumerate(shapes):
        cost = rng.uniform(0, 1, size=(n, m)) if k % 2 == 0 else _randn(rng, n, m)
        label = f"dtw(cost of shape {cost.shape})"
        cases.append(case("call", (cost,), label, _path_judge(cost, label)))
    return cases


def lab11_word_starts(rng):
    from crossattn.core.alignment import dtw, word_starts

    cases = []
    for n, m in (_sizes(rng, 2, 3, 12), (int(rng.integers(6, 10)), int(rng.integers(2, 5))), (1, 5)):
        path = dtw(rng.uniform(0, 1, size=(n, m)))  # (L, 2)
        label = f"word_starts(path of shape {path.shape}, n_words={n})"
        cases.append(case("call", (path, n), label, lambda v, r, e=word_starts(path, n), lab=label:
                          exact(v, e, lab, dtype_kind="iu") or _untouched(r, lab)))
    return cases


def _random_maps(rng) -> np.ndarray:
    """Attention maps (H, N, M) over a random alignment that the heads disagree on, plus a sink frame.

    Head 0 is sharp and the others soft; heads 0 and 1 each misplace a different word's start by two
    frames, the others are right. Standardised per head and averaged, the majority wins; one head alone,
    or the heads averaged before standardising (head 0 dominates), time a word wrongly.
    """
    H, N = int(rng.integers(3, 5)), int(rng.integers(4, 7))
    M = int(rng.integers(4 * N, 5 * N))
    starts = np.sort(rng.choice(np.arange(4, M - 3, 4), size=N - 1, replace=False))  # ≥ 4 frames apart
    sink = int(rng.integers(0, M))
    wrong = rng.choice(N - 1, size=2, replace=False)  # the boundary heads 0 and 1 misplace
    maps = []
    for head in range(H):
        believed = starts.copy()
        if head < 2:
            believed[wrong[head]] += int(rng.choice([-2, 2]))
        owner = np.searchsorted(believed, np.arange(M), side="right")  # (M,) the word of each frame
        sharp = rng.uniform(4.0, 6.0) if head == 0 else rng.uniform(0.8, 1.5)
        logits = sharp * (owner[None, :] == np.arange(N)[:, None]) + _randn(rng, N, M, scale=0.2)
        logits[:, sink] += rng.uniform(1.0, 4.0)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        maps.append(e / e.sum(axis=1, keepdims=True))
    return np.array(maps)  # (H, N, M)


def _reference_timestamps(maps: np.ndarray) -> np.ndarray:
    from crossattn.core.alignment import dtw, word_starts

    matrix = ((maps - maps.mean(axis=-2, keepdims=True)) / maps.std(axis=-2, keepdims=True)).mean(axis=0)
    return word_starts(dtw(-matrix), matrix.shape[0])


def lab11_attention_timestamps(rng):
    cases = []
    for _ in range(4):
        maps = _random_maps(rng)
        label = f"attention_timestamps(maps of shape {maps.shape})"
        cases.append(case("call", (maps,), label, lambda v, r, e=_reference_timestamps(maps), lab=label:
                          exact(v, e, lab, dtype_kind="iu") or _untouched(r, lab)))
    return cases


def lab11_boundary_error(rng):
    cases = []
    for _ in range(3):
        N = int(rng.integers(3, 8))
        true = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 6 * N), size=N - 1, replace=False))])
        predicted = true + np.concatenate([[0], rng.integers(-3, 4, size=N - 1)])
        predicted[1] = true[1] + int(rng.choice([-2, 3]))  # a difference of 2 or more: |d| ≠ d²
        want = float(np.abs(predicted[1:] - true[1:]).mean())
        label = f"boundary_error(predicted={predicted.tolist()}, true_starts={true.tolist()})"

        def judge(v, r, want=want, label=label):
            got, err = _array(v, label, ())
            if err:
                return err
            if not np.isclose(float(got), want, rtol=1e-9, atol=1e-12):
                return f"{label}: expected {want:.4f}, got {float(got):.4f}"
            return _untouched(r, label)
        cases.append(case("call", (predicted, true), label, judge))
    return cases


GRADERS = {"dtw": lab11_dtw, "word_starts": lab11_word_starts, "attention_timestamps": lab11_attention_timestamps,
           "boundary_error": lab11_boundary_error}
NEEDS = {"imports": (), "parts": ("core",)}
