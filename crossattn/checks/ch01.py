"""Checkers for the exercises of lab 1, the library analogy.

Each takes the student's function, runs it on small seeded inputs (m ≠ n ≠ d ≠ d_v, so a
transposed or swapped matrix cannot pass) and prints a ✓ line or raises CheckFailed.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..attention import attention
from ..numerics import softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = ["check_relevance", "check_softmax", "check_read", "check_attend", "check_cross_weights"]

_RNG_SEED = 101


def _shelf(seed: int = _RNG_SEED, n: int = 5, d: int = 3, d_v: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=(n, 1)), rng.normal(size=(n, d_v))


def check_relevance(relevance: Callable) -> None:
    """Exercise 1.1: ``relevance(query (d,), keys (n, d)) -> scores (n,)``, the dot products."""
    ex = "Exercise 1.1 (relevance)"
    query, keys, _ = _shelf()
    got = as_array(call(relevance, query, keys, exercise=ex), ex)
    expect_shape(got, (len(keys),), ex, {keys.shape: "You multiplied elementwise but did not sum over the d coordinates of each key."})
    want = keys @ query
    if not close(got, want):
        unit = keys / np.linalg.norm(keys, axis=1, keepdims=True)
        diagnose(got, [
            (np.linalg.norm(keys - query, axis=1), "that is the distance from the query to each key. The librarian scores by dot product: bigger means more relevant."),
            (-np.linalg.norm(keys - query, axis=1), "that is minus the distance. Use the dot product keys · query instead."),
            (unit @ (query / np.linalg.norm(query)), "that is cosine similarity, which drops the lengths. Use the plain dot product, lengths included."),
        ], ex, "score each key by its dot product with the query: scores[j] = keys[j] · query.")
    passed(ex, f"{len(keys)} scores, one per key, equal to keys · query.")


def check_softmax(softmax_fn: Callable) -> None:
    """Exercise 1.2: ``softmax(scores (..., n)) -> weights (..., n)`` along the last axis, stable."""
    ex = "Exercise 1.2 (softmax)"
    x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0], [2.0, -2.0, 0.0, 0.1]])  # (3, 4)
    got = as_array(call(softmax_fn, x, exercise=ex), ex)
    expect_shape(got, x.shape, ex)
    if not close(got, softmax(x)):
        diagnose(got, [
            (softmax(x, axis=0), "each ROW must sum to 1 — normalise along the last axis (axis=-1, keepdims=True)."),
            (np.exp(x) / np.exp(x).sum(), "you normalised over the whole array; each row (axis=-1) must sum to 1 on its own."),
            (x / x.sum(axis=-1, keepdims=True), "exponentiate first: weights are exp(score) / sum of exp(scores)."),
        ], ex, "weights[i, j] must be exp(x[i, j]) / sum over k of exp(x[i, k]).")
    big = np.array([[1000.0, 1001.0, 999.0]])
    got_big = as_array(call(softmax_fn, big, exercise=ex), ex)
    if not close(got_big, softmax(big)):
        raise CheckFailed(f"{ex}: scores like 1000 overflow exp() and give nan. Subtract each row's max before exp — the result is unchanged.")
    passed(ex, "rows sum to 1 and scores of 1000 do not overflow.")


def check_read(read: Callable) -> None:
    """Exercise 1.3: ``read(query (d,), keys (n, d), values (n, d_v)) -> retrieved (d_v,)``."""
    ex = "Exercise 1.3 (read)"
    query, keys, values = _shelf(seed=7)
    got = as_array(call(read, query, keys, values, exercise=ex), ex)
    scores = keys @ query
    expect_shape(got, (values.shape[1],), ex, {
        (keys.shape[1],): "Your result has the width of a key: blend the VALUES (the contents), not the keys.",
        (values.shape[0],): "You returned the weights; return their blend of the values: weights @ values.",
    })
    want = softmax(scores) @ values
    if not close(got, want):
        diagnose(got, [
            (values[np.argmax(scores)], "you returned the single best book. The librarian blends all values, weighted by softmax(scores)."),
            (scores @ values, "turn the scores into weights with softmax before blending the values."),
            (values.mean(axis=0), "that is the plain average; weight each value by softmax(keys · query)."),
        ], ex, "retrieved = softmax(keys @ query) @ values.")
    passed(ex, f"the retrieved value (width d_v = {values.shape[1]}) is the softmax-weighted blend of the values.")


def check_attend(attend: Callable) -> None:
    """Exercise 1.4: ``attend(Q (m, d), K (n, d), V (n, d_v)) -> (out (m, d_v), weights (m, n))``, unscaled."""
    ex = "Exercise 1.4 (attend)"
    rng = np.random.default_rng(11)
    m, n, d, d_v = 3, 5, 4, 2
    q, k, v = rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))
    result = call(attend, q, k, v, exercise=ex)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed(f"{ex}: return a pair (out, weights), got {type(result).__name__}.")
    out, weights = as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")
    expect_shape(weights, (m, n), ex, {(n, m): "Your weights are (n, m): compute Q @ K.T (one row per query), not K @ Q.T."})
    expect_shape(out, (m, d_v), ex)
    want_out, want_w = attention(q, k, v, scale=1.0)
    if not close(weights, want_w):
        s = q @ k.T
        diagnose(weights, [
            (softmax(s, axis=0), "your weights sum to 1 down each column; each query's ROW must sum to 1 (softmax over the last axis)."),
            (softmax(s / np.sqrt(d)), "no √d yet: in lab 1 the librarian uses plain dot products (scaling comes in chapter 2)."),
        ], ex, "weights = softmax(Q @ K.T) with each row summing to 1.")
    if not close(out, want_out):
        raise CheckFailed(f"{ex}: weights are right but out is not: out = weights @ V (blend the values, not the keys).")
    passed(ex, f"{m} readers each read {n} books: weights ({m}, {n}), out ({m}, {d_v}).")


def check_cross_weights(cross_weights: Callable) -> None:
    """Exercise 1.5: ``cross_weights(X (m, d), S (n, d)) -> A (m, n)``: X reads S (no projections)."""
    ex = "Exercise 1.5 (cross_weights)"
    rng = np.random.default_rng(12)
    m, n, d = 3, 6, 4
    x, s = rng.normal(size=(m, d)), rng.normal(size=(n, d))
    got = as_array(call(cross_weights, x, s, exercise=ex), ex)
    expect_shape(got, (m, n), ex, {
        (m, m): "That is self-attention: X read itself. In cross-attention the queries come from X and the keys from S.",
        (n, n): "That is S reading itself. Cross-attention: queries from X (the target), keys from S (the source).",
        (n, m): "The roles are swapped: S is reading X. The target X asks the questions: weights = softmax(X @ S.T).",
    })
    if not close(got, softmax(x @ s.T)):
        diagnose(got, [
            (softmax(x @ s.T, axis=0), "each query's row must sum to 1: softmax over the last axis."),
        ], ex, "weights = softmax(X @ S.T), one row per target token.")
    passed(ex, f"the target ({m} tokens) reads the source ({n} tokens): an {m}×{n} matrix.")
