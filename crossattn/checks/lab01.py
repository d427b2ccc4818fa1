"""Checkers for the exercises of lab 1, the library analogy.

Each takes the student's function, runs it on small seeded inputs (m ≠ n ≠ d ≠ d_v, so a
transposed or swapped matrix cannot pass) and prints a ✓ line or raises CheckFailed. Every
named common mistake gets its own hint, by key from crossattn/checks/exercises/lab01.py;
tests/checks/test_lab01.py feeds each one in.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.dot_product import attention
from ..core.numerics import softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, fail, passed
from .registry import Exercise, exercise

__all__ = ["check_relevance", "check_softmax", "check_read", "check_attend", "check_alignment"]

_RNG_SEED = 101


def _shelf(seed: int = _RNG_SEED, n: int = 5, d: int = 3, d_v: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded query (d,), keys (n, d) of unequal lengths and values (n, d_v)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=(n, 1)), rng.normal(size=(n, d_v))


def _call(fn: Callable, *args: Any, exercise: Exercise, crash_hints: dict[str, str] | None = None) -> Any:
    """:func:`call`, quietly (no overflow warnings), adding a hint to crashes we recognise.

    ``crash_hints`` maps a piece of an error message (e.g. "matmul") to the key of a hint that
    tells the student what the shapes should be.
    """
    try:
        with np.errstate(all="ignore"):  # overflowing exp() is diagnosed below, not warned about
            return call(fn, *args, exercise=exercise)
    except CheckFailed as err:
        if err.key == "crash":
            for fragment, key in (crash_hints or {}).items():
                if fragment in err.text:
                    fail(exercise, key, lead=f"{err.text}\n  Hint: ")
        raise


def _single(result: Any, exercise: Exercise) -> Any:
    """Fail with the exercise's "returns_both" hint when the student returned a tuple, not one array."""
    if isinstance(result, tuple):
        fail(exercise, "returns_both", n=len(result))
    return result


def check_relevance(relevance: Callable) -> None:
    """Exercise 1.1: ``relevance(query (d,), keys (n, d)) -> scores (n,)``, the dot products."""
    ex = exercise("1.1")
    query, keys, _ = _shelf()
    (n, d) = keys.shape
    case = f"n={n}, d={d}"
    got = as_array(_call(relevance, query, keys, exercise=ex, crash_hints={
        "matmul": "crash_shapes",
        "aligned": "crash_shapes",  # np.dot(query, keys): "shapes (d,) and (n,d) not aligned"
    }), ex)
    expect_shape(got, (n,), ex, {keys.shape: "no_sum", (d,): "sum_over_keys", (): "sum_everything"}, case=case)
    want = keys @ query
    if not close(got, want):
        unit = keys / np.linalg.norm(keys, axis=1, keepdims=True)
        diagnose(got, [
            (np.linalg.norm(keys - query, axis=1), "distance"),
            (-np.linalg.norm(keys - query, axis=1), "minus_distance"),
            (unit @ (query / np.linalg.norm(query)), "cosine"),
            (softmax(want), "softmaxed"),
            (want / np.sqrt(d), "scaled"),
        ], ex, "wrong")
    passed(ex, f"on a random test ({case}).")


def check_softmax(softmax_fn: Callable) -> None:
    """Exercise 1.2: ``softmax(scores (..., n)) -> weights (..., n)`` along the last axis, stable."""
    ex = exercise("1.2")
    crash_hints = {"broadcast": "no_keepdims", "out of bounds": "fixed_axis"}
    x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0], [2.0, -2.0, 0.0, 0.1]])  # (3, 4)
    got = as_array(_call(softmax_fn, x, exercise=ex, crash_hints=crash_hints), ex)
    expect_shape(got, x.shape, ex, {(x.shape[0],): "one_per_row", (x.shape[0], 1): "row_sums"},
                 case=f"scores of shape {x.shape}")
    if not close(got, softmax(x)):
        e = np.exp(x)
        diagnose(got, [
            (softmax(x, axis=0), "columns"),
            (e / e.sum(), "whole_array"),
            (x / x.sum(axis=-1, keepdims=True), "no_exp"),
            (np.exp(x - x.max(axis=-1, keepdims=True)) / e.sum(axis=-1, keepdims=True), "shift_numerator_only"),
        ], ex, "wrong")
    # Any number of leading dimensions: a single row (n,) and a batch (2, 3, 4).
    for other in (np.array([0.5, -1.0, 2.0, 0.0, 1.0]), np.arange(24.0).reshape(2, 3, 4) / 7.0):
        got_other = as_array(_call(softmax_fn, other, exercise=ex, crash_hints=crash_hints), ex)
        if not close(got_other, softmax(other)):
            fail(ex, "two_dims_only", shape=other.shape)
    # Stability: a row of large scores, a row far below the largest score of the array, and a
    # row spanning -1000..1000 (subtracting the row's MIN instead of its max overflows there).
    big = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -999.0, -1001.0], [-1000.0, 0.0, 1000.0]])
    got_big = as_array(_call(softmax_fn, big, exercise=ex, crash_hints=crash_hints), ex)
    if not close(got_big, softmax(big)):
        row_ok = [close(got_big[i], softmax(big[i])) for i in range(len(big))]
        if row_ok[0] and not row_ok[1]:
            fail(ex, "global_max")
        if row_ok[0] and row_ok[1]:
            fail(ex, "subtract_min", row=np.round(got_big[2], 3).tolist())
        fail(ex, "overflow")
    passed(ex, "rows sum to 1; no overflow at ±1000.")


def check_read(read: Callable) -> None:
    """Exercise 1.3: ``read(query (d,), keys (n, d), values (n, d_v)) -> retrieved (d_v,)``."""
    ex = exercise("1.3")
    query, keys, values = _shelf(seed=7)
    (n, d), d_v = keys.shape, values.shape[1]
    case = f"n={n}, d={d}, d_v={d_v}"
    result = _call(read, query, keys, values, exercise=ex, crash_hints={
        "matmul": "crash_shapes",
        "aligned": "crash_shapes",
    })
    got = as_array(_single(result, ex), ex)
    scores = keys @ query
    weights = softmax(scores)
    expect_shape(got, (d_v,), ex, {(d,): "blends_keys", (n,): "returns_weights", (n, d_v): "no_sum"}, case=case)
    want = weights @ values
    if not close(got, want):
        diagnose(got, [
            (values[np.argmax(scores)], "hard_lookup"),
            (scores @ values, "no_softmax"),
            (values.mean(axis=0), "plain_mean"),
            (softmax(scores / np.sqrt(d)) @ values, "scaled"),
        ], ex, "wrong")
    passed(ex, f"on a random test ({case}).")


def check_attend(attend: Callable) -> None:
    """Exercise 1.4: ``attend(Q (m, d), K (n, d), V (n, d_v)) -> (out (m, d_v), weights (m, n))``, unscaled."""
    ex = exercise("1.4")
    rng = np.random.default_rng(11)
    m, n, d, d_v = 3, 5, 4, 2
    case = f"m={m}, n={n}, d={d}, d_v={d_v}"
    q, k, v = rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))
    result = _call(attend, q, k, v, exercise=ex, crash_hints={"matmul": "crash_shapes"})
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(ex, "not_pair", type=type(result).__name__)
    out, weights = as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")
    expect_shape(weights, (m, n), ex, {(n, m): "keys_first", (m, d_v): "pair_swapped"}, case=case)
    expect_shape(out, (m, d_v), ex, {(m, d): "blends_keys"}, case=case)
    want_out, want_w = attention(q, k, v, scale=1.0)
    if not close(weights, want_w):
        s = q @ k.T
        es = np.exp(s)
        diagnose(weights, [
            (softmax(s, axis=0), "columns"),
            (softmax(s / np.sqrt(d)), "scaled"),
            (s, "raw_scores"),
            (es / es.sum(), "whole_matrix"),
        ], ex, "wrong")
    if not close(out, want_out):
        fail(ex, "wrong_out")
    passed(ex, f"on a random test (m={m}, n={n}, d_v={d_v}).")


def check_alignment(alignment: Callable) -> None:
    """Exercise 1.5: ``alignment(X (m, d), S (n, d)) -> (m,)``: for each target token, the index of
    the source token it reads most (the largest weight of its row of A = softmax(X @ S.T))."""
    ex = exercise("1.5")
    rng = np.random.default_rng(17)  # every row has a clear winner; X reading itself picks [0, 1, 2]
    m, n, d = 3, 6, 4
    case = f"m={m}, n={n}, d={d}"
    x, s = rng.normal(size=(m, d)), rng.normal(size=(n, d))
    result = _call(alignment, x, s, exercise=ex, crash_hints={"matmul": "crash_shapes", "aligned": "crash_shapes"})
    got = as_array(_single(result, ex), ex)
    weights = softmax(x @ s.T)  # (m, n)
    want = weights.argmax(axis=-1)  # (m,)
    expect_shape(got, (m,), ex, {(n,): "down_columns", (m, n): "returns_weights", (m, d): "returns_output",
                                 (m, m): "self_weights", (): "no_axis"}, case=case)
    if not close(got, want):
        diagnose(got, [
            (softmax(x @ x.T).argmax(axis=-1), "self_attention"),
            (weights.max(axis=-1), "max_not_argmax"),
            ((x @ s.T).max(axis=-1), "max_of_scores"),
            (weights.argmin(axis=-1), "argmin"),
        ], ex, "wrong")
    passed(ex, f"on a random test ({case}).")
