"""Checkers for the exercises of lab 1, the library analogy.

Each takes the student's function, runs it on small seeded inputs (m ≠ n ≠ d ≠ d_v, so a
transposed or swapped matrix cannot pass) and prints a ✓ line or raises CheckFailed.
Every named common mistake gets its own hint; tests/test_checks_ch01.py feeds each one in.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..attention import attention
from ..numerics import softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = ["check_relevance", "check_softmax", "check_read", "check_attend", "check_cross_weights"]

_RNG_SEED = 101


def _shelf(seed: int = _RNG_SEED, n: int = 5, d: int = 3, d_v: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded query (d,), keys (n, d) of unequal lengths and values (n, d_v)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=(n, 1)), rng.normal(size=(n, d_v))


def _call(fn: Callable, *args: Any, exercise: str, crash_hints: dict[str, str] | None = None) -> Any:
    """:func:`call`, quietly (no overflow warnings), adding a hint to crashes we recognise.

    ``crash_hints`` maps a piece of an error message (e.g. "matmul") to a sentence that
    tells the student what the shapes should be.
    """
    try:
        with np.errstate(all="ignore"):  # overflowing exp() is diagnosed below, not warned about
            return call(fn, *args, exercise=exercise)
    except CheckFailed as err:
        message = str(err)
        for fragment, hint in (crash_hints or {}).items():
            if fragment in message and "NotImplementedError" not in message:
                raise CheckFailed(f"{message}\n  Hint: {hint}") from None
        raise


def check_relevance(relevance: Callable) -> None:
    """Exercise 1.1: ``relevance(query (d,), keys (n, d)) -> scores (n,)``, the dot products."""
    ex = "Exercise 1.1 (relevance)"
    query, keys, _ = _shelf()
    (n, d) = keys.shape
    got = as_array(_call(relevance, query, keys, exercise=ex, crash_hints={
        "matmul": "keys has shape (n, d) and query (d,): keys @ query has shape (n,).",
    }), ex)
    expect_shape(got, (n,), ex, {
        keys.shape: "You multiplied elementwise but did not sum over the d coordinates of each key.",
        (d,): "You summed over the keys (axis 0). Sum over the d coordinates of each key instead (axis=-1): one score per key.",
        (): "You summed everything into one number. Return one score per key: keys @ query has shape (n,).",
    })
    want = keys @ query
    if not close(got, want):
        unit = keys / np.linalg.norm(keys, axis=1, keepdims=True)
        diagnose(got, [
            (np.linalg.norm(keys - query, axis=1), "that is the distance from the query to each key. The librarian scores by dot product: bigger means more relevant."),
            (-np.linalg.norm(keys - query, axis=1), "that is minus the distance. Use the dot product keys · query instead."),
            (unit @ (query / np.linalg.norm(query)), "that is cosine similarity, which drops the lengths. Use the plain dot product, lengths included."),
            (softmax(want), "those are already weights (you applied softmax). relevance returns the raw scores; softmax is exercise 1.2."),
        ], ex, "score each key by its dot product with the query: scores[j] = keys[j] · query.")
    passed(ex, "one score per key, keys · query.")


def check_softmax(softmax_fn: Callable) -> None:
    """Exercise 1.2: ``softmax(scores (..., n)) -> weights (..., n)`` along the last axis, stable."""
    ex = "Exercise 1.2 (softmax)"
    crash_hints = {
        "broadcast": "keep the summed (or max) axis with keepdims=True, so that an (m, n) array can be divided by an (m, 1) one.",
        "out of bounds": "use axis=-1 (the last axis) rather than a fixed axis number, so the function works for any number of dimensions.",
    }
    x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0], [2.0, -2.0, 0.0, 0.1]])  # (3, 4)
    got = as_array(_call(softmax_fn, x, exercise=ex, crash_hints=crash_hints), ex)
    expect_shape(got, x.shape, ex, {
        (x.shape[0],): "You returned one number per row. Return a weight for every entry: exp(x) divided by its row's sum.",
        (x.shape[0], 1): "You returned the row sums. Divide exp(x) by them: weights = e / e.sum(axis=-1, keepdims=True).",
    })
    if not close(got, softmax(x)):
        e = np.exp(x)
        diagnose(got, [
            (softmax(x, axis=0), "each ROW must sum to 1 — normalise along the last axis (axis=-1, keepdims=True)."),
            (e / e.sum(), "you normalised over the whole array; each row (axis=-1) must sum to 1 on its own."),
            (x / x.sum(axis=-1, keepdims=True), "exponentiate first: weights are exp(score) / sum of exp(scores)."),
            (np.exp(x - x.max(axis=-1, keepdims=True)) / e.sum(axis=-1, keepdims=True),
             "you subtracted the max in the numerator only. Subtract it once, then divide the shifted exps by THEIR sum."),
        ], ex, "weights[i, j] must be exp(x[i, j]) / sum over k of exp(x[i, k]).")
    # Any number of leading dimensions: a single row (n,) and a batch (2, 3, 4).
    for other in (np.array([0.5, -1.0, 2.0, 0.0, 1.0]), np.arange(24.0).reshape(2, 3, 4) / 7.0):
        got_other = as_array(_call(softmax_fn, other, exercise=ex, crash_hints=crash_hints), ex)
        if not close(got_other, softmax(other)):
            raise CheckFailed(
                f"{ex}: right for a 2-D array but wrong for an input of shape {other.shape}. "
                "Normalise along axis=-1 (the last axis), whatever the number of dimensions."
            )
    # Stability: one row of large scores, one row far below the largest score of the array.
    big = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -999.0, -1001.0]])
    got_big = as_array(_call(softmax_fn, big, exercise=ex, crash_hints=crash_hints), ex)
    if not close(got_big, softmax(big)):
        if close(got_big[0], softmax(big[0])) and not np.isfinite(got_big[1]).all():
            raise CheckFailed(
                f"{ex}: a row whose scores are all far below the array's largest score gives nan. "
                "Subtract each ROW's own max (axis=-1, keepdims=True), not the max of the whole array."
            )
        raise CheckFailed(f"{ex}: scores like 1000 overflow exp() and give nan. Subtract each row's max before exp — the result is unchanged.")
    passed(ex, "rows sum to 1; ±1000 does not overflow.")


def check_read(read: Callable) -> None:
    """Exercise 1.3: ``read(query (d,), keys (n, d), values (n, d_v)) -> retrieved (d_v,)``."""
    ex = "Exercise 1.3 (read)"
    query, keys, values = _shelf(seed=7)
    (n, d), d_v = keys.shape, values.shape[1]
    got = as_array(_call(read, query, keys, values, exercise=ex, crash_hints={
        "matmul": "weights has shape (n,) and values (n, d_v): weights @ values has shape (d_v,).",
    }), ex)
    scores = keys @ query
    weights = softmax(scores)
    expect_shape(got, (d_v,), ex, {
        (d,): "Your result has the width of a key: blend the VALUES (the contents), not the keys.",
        (n,): "You returned the weights; return their blend of the values: weights @ values.",
        (n, d_v): "You weighted each value but did not add them up: sum over the n books, i.e. weights @ values.",
    })
    want = weights @ values
    if not close(got, want):
        diagnose(got, [
            (values[np.argmax(scores)], "you returned the single best book. The librarian blends all values, weighted by softmax(scores)."),
            (scores @ values, "turn the scores into weights with softmax before blending the values."),
            (values.mean(axis=0), "that is the plain average; weight each value by softmax(keys · query)."),
        ], ex, "retrieved = softmax(keys @ query) @ values.")
    passed(ex, f"a softmax-weighted blend of width {d_v}.")


def check_attend(attend: Callable) -> None:
    """Exercise 1.4: ``attend(Q (m, d), K (n, d), V (n, d_v)) -> (out (m, d_v), weights (m, n))``, unscaled."""
    ex = "Exercise 1.4 (attend)"
    rng = np.random.default_rng(11)
    m, n, d, d_v = 3, 5, 4, 2
    q, k, v = rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))
    result = _call(attend, q, k, v, exercise=ex, crash_hints={
        "matmul": "check the shapes: scores = Q @ K.T is (m, n), one row per query; out = weights @ V is (m, d_v).",
    })
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed(f"{ex}: return a pair (out, weights), got {type(result).__name__}.")
    out, weights = as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")
    expect_shape(weights, (m, n), ex, {
        (n, m): "Your weights are (n, m): compute Q @ K.T (one row per query), not K @ Q.T.",
        (m, d_v): "Your second result has the shape of out: return the pair in the order (out, weights).",
    })
    expect_shape(out, (m, d_v), ex, {
        (m, d): "out has the width of a key: blend the VALUES, out = weights @ V, not the keys.",
    })
    want_out, want_w = attention(q, k, v, scale=1.0)
    if not close(weights, want_w):
        s = q @ k.T
        es = np.exp(s)
        diagnose(weights, [
            (softmax(s, axis=0), "your weights sum to 1 down each column; each query's ROW must sum to 1 (softmax over the last axis)."),
            (softmax(s / np.sqrt(d)), "no √d yet: in lab 1 the librarian uses plain dot products (scaling comes in chapter 2)."),
            (s, "those are the raw scores Q @ K.T: turn them into weights with softmax over the last axis."),
            (es / es.sum(), "you normalised over the whole matrix; each query's row must sum to 1 on its own."),
        ], ex, "weights = softmax(Q @ K.T) with each row summing to 1.")
    if not close(out, want_out):
        raise CheckFailed(f"{ex}: weights are right but out is not: out = weights @ V (blend the values, not the keys).")
    passed(ex, f"weights ({m}, {n}), out ({m}, {d_v}).")


def check_cross_weights(cross_weights: Callable) -> None:
    """Exercise 1.5: ``cross_weights(X (m, d), S (n, d)) -> A (m, n)``: X reads S (no projections)."""
    ex = "Exercise 1.5 (cross_weights)"
    rng = np.random.default_rng(12)
    m, n, d = 3, 6, 4
    x, s = rng.normal(size=(m, d)), rng.normal(size=(n, d))
    got = as_array(_call(cross_weights, x, s, exercise=ex, crash_hints={
        "matmul": "X is (m, d) and S is (n, d): the scores X @ S.T are (m, n).",
    }), ex)
    expect_shape(got, (m, n), ex, {
        (m, m): "That is self-attention: X read itself. In cross-attention the queries come from X and the keys from S.",
        (n, n): "That is S reading itself. Cross-attention: queries from X (the target), keys from S (the source).",
        (n, m): "The roles are swapped: S is reading X. The target X asks the questions: weights = softmax(X @ S.T).",
    })
    if not close(got, softmax(x @ s.T)):
        diagnose(got, [
            (softmax(x @ s.T, axis=0), "each query's row must sum to 1: softmax over the last axis."),
            (x @ s.T, "those are the raw scores X @ S.T: turn them into weights with softmax over the last axis."),
            (softmax(x @ s.T / np.sqrt(d)), "no √d yet: in lab 1 the scores are plain dot products (scaling comes in chapter 2)."),
        ], ex, "weights = softmax(X @ S.T), one row per target token.")
    passed(ex, f"X reads S: weights ({m}, {n}).")
