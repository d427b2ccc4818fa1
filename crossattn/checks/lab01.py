"""Checkers for the exercises of lab 1, the library analogy.

Each takes the student's function, runs it on small seeded inputs (m ≠ n ≠ d ≠ d_v, so a
transposed or swapped matrix cannot pass) and prints a ✓ line or raises CheckFailed.
Every named common mistake gets its own hint; tests/checks/test_lab01.py feeds each one in.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.dot_product import attention
from ..core.numerics import softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = ["check_relevance", "check_softmax", "check_read", "check_attend", "check_alignment"]

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


def _expect_shape(arr: np.ndarray, shape: tuple[int, ...], exercise: str, case: str,
                  hints: dict[tuple, str] | None = None) -> None:
    """:func:`expect_shape`, naming the sizes of the test case the shapes come from."""
    try:
        expect_shape(arr, shape, exercise, hints)
    except CheckFailed as err:
        message = str(err).replace(f"got {arr.shape}.", f"got {arr.shape} (test case: {case}).", 1)
        raise CheckFailed(message) from None


def _single(result: Any, exercise: str, hint: str) -> Any:
    """Fail with ``hint`` when the student returned a tuple where one array is asked for."""
    if isinstance(result, tuple):
        raise CheckFailed(f"{exercise}: you returned a tuple of {len(result)} items; {hint}")
    return result


def check_relevance(relevance: Callable) -> None:
    """Exercise 1.1: ``relevance(query (d,), keys (n, d)) -> scores (n,)``, the dot products."""
    ex = "Exercise 1.1 (relevance)"
    query, keys, _ = _shelf()
    (n, d) = keys.shape
    case = f"n={n}, d={d}"
    shapes_hint = "keys is (n, d) and query (d,): keys @ query (or np.dot(keys, query)) has shape (n,)."
    got = as_array(_call(relevance, query, keys, exercise=ex, crash_hints={
        "matmul": shapes_hint,
        "aligned": shapes_hint,  # np.dot(query, keys): "shapes (d,) and (n,d) not aligned"
    }), ex)
    _expect_shape(got, (n,), ex, case, {
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
            (want / np.sqrt(d), "no √d yet: in lab 1 the librarian uses plain dot products (scaling comes in chapter 2)."),
        ], ex, "score each key by its dot product with the query: scores[j] = keys[j] · query.")
    passed(ex, f"on a random test ({case}).")


def check_softmax(softmax_fn: Callable) -> None:
    """Exercise 1.2: ``softmax(scores (..., n)) -> weights (..., n)`` along the last axis, stable."""
    ex = "Exercise 1.2 (softmax)"
    crash_hints = {
        "broadcast": "keep the summed (or max) axis with keepdims=True, so that an (m, n) array can be divided by an (m, 1) one.",
        "out of bounds": "use axis=-1 (the last axis) rather than a fixed axis number, so the function works for any number of dimensions.",
    }
    x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0], [2.0, -2.0, 0.0, 0.1]])  # (3, 4)
    got = as_array(_call(softmax_fn, x, exercise=ex, crash_hints=crash_hints), ex)
    _expect_shape(got, x.shape, ex, f"scores of shape {x.shape}", {
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
    # Stability: a row of large scores, a row far below the largest score of the array, and a
    # row spanning -1000..1000 (subtracting the row's MIN instead of its max overflows there).
    big = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -999.0, -1001.0], [-1000.0, 0.0, 1000.0]])
    got_big = as_array(_call(softmax_fn, big, exercise=ex, crash_hints=crash_hints), ex)
    if not close(got_big, softmax(big)):
        row_ok = [close(got_big[i], softmax(big[i])) for i in range(len(big))]
        if row_ok[0] and not row_ok[1]:
            raise CheckFailed(
                f"{ex}: a row whose scores are all far below the array's largest score gives nan. "
                "Subtract each ROW's own max (axis=-1, keepdims=True), not the max of the whole array."
            )
        if row_ok[0] and row_ok[1]:
            raise CheckFailed(
                f"{ex}: the row [-1000, 0, 1000] gives {np.round(got_big[2], 3).tolist()}, not [0, 0, 1]. "
                "Did you subtract each row's MINIMUM? Then exp(2000) still overflows. Subtract each row's "
                "MAXIMUM (np.max(scores, axis=-1, keepdims=True)): the largest exponent becomes e^0 = 1."
            )
        raise CheckFailed(f"{ex}: scores like 1000 overflow exp() and give nan. Subtract each row's max before exp — the result is unchanged.")
    passed(ex, "rows sum to 1; no overflow at ±1000.")


def check_read(read: Callable) -> None:
    """Exercise 1.3: ``read(query (d,), keys (n, d), values (n, d_v)) -> retrieved (d_v,)``."""
    ex = "Exercise 1.3 (read)"
    query, keys, values = _shelf(seed=7)
    (n, d), d_v = keys.shape, values.shape[1]
    case = f"n={n}, d={d}, d_v={d_v}"
    result = _call(read, query, keys, values, exercise=ex, crash_hints={
        "matmul": "weights has shape (n,) and values (n, d_v): weights @ values has shape (d_v,).",
        "aligned": "weights has shape (n,) and values (n, d_v): weights @ values has shape (d_v,).",
    })
    got = as_array(_single(result, ex, "return only the blended value, shape (d_v,), not the weights as well."), ex)
    scores = keys @ query
    weights = softmax(scores)
    _expect_shape(got, (d_v,), ex, case, {
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
    passed(ex, f"on a random test ({case}).")


def check_attend(attend: Callable) -> None:
    """Exercise 1.4: ``attend(Q (m, d), K (n, d), V (n, d_v)) -> (out (m, d_v), weights (m, n))``, unscaled."""
    ex = "Exercise 1.4 (attend)"
    rng = np.random.default_rng(11)
    m, n, d, d_v = 3, 5, 4, 2
    case = f"m={m}, n={n}, d={d}, d_v={d_v}"
    q, k, v = rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))
    result = _call(attend, q, k, v, exercise=ex, crash_hints={
        "matmul": "check the shapes: scores = Q @ K.T is (m, n), one row per query; out = weights @ V is (m, d_v).",
    })
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed(f"{ex}: return a pair (out, weights), got {type(result).__name__}.")
    out, weights = as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")
    _expect_shape(weights, (m, n), ex, case, {
        (n, m): "Your weights are (n, m): compute Q @ K.T (one row per query), not K @ Q.T.",
        (m, d_v): "Your second result has the shape of out: return the pair in the order (out, weights).",
    })
    _expect_shape(out, (m, d_v), ex, case, {
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
    passed(ex, f"on a random test (m={m}, n={n}, d_v={d_v}).")


def check_alignment(alignment: Callable) -> None:
    """Exercise 1.5: ``alignment(X (m, d), S (n, d)) -> (m,)``: for each target token, the index of
    the source token it reads most (the largest weight of its row of A = softmax(X @ S.T))."""
    ex = "Exercise 1.5 (alignment)"
    rng = np.random.default_rng(17)  # every row has a clear winner; X reading itself picks [0, 1, 2]
    m, n, d = 3, 6, 4
    case = f"m={m}, n={n}, d={d}"
    x, s = rng.normal(size=(m, d)), rng.normal(size=(n, d))
    result = _call(alignment, x, s, exercise=ex, crash_hints={
        "matmul": "X is (m, d) and S is (n, d): the scores X @ S.T are (m, n).",
        "aligned": "X is (m, d) and S is (n, d): the scores X @ S.T are (m, n).",
    })
    got = as_array(_single(result, ex, "return only the indices, one per target token, shape (m,)."), ex)
    weights = softmax(x @ s.T)  # (m, n)
    want = weights.argmax(axis=-1)  # (m,)
    _expect_shape(got, (m,), ex, case, {
        (n,): "You found, for each SOURCE token, the target token that reads it most (the argmax down the "
              "columns, or S reading X). Each target token is a ROW of A = softmax(X @ S.T): "
              "take np.argmax(A, axis=-1), one index per row.",
        (m, n): "That is the weight matrix A, shape (m, n). Return where each row's largest weight is: "
                "np.argmax(A, axis=-1), shape (m,).",
        (m, d): "That is the blended output A @ S (the retrieved values), shape (m, d). Return the indices "
                "of each row's largest weight instead: np.argmax(A, axis=-1), shape (m,).",
        (m, m): "That is self-attention: X read itself. In cross-attention the keys come from S: A = softmax(X @ S.T).",
        (): "np.argmax without an axis flattens the matrix into one number. Use axis=-1: one index per target token.",
    })
    if not close(got, want):
        diagnose(got, [
            (softmax(x @ x.T).argmax(axis=-1), "those are positions in X itself: that is self-attention (X read X). "
                                               "The keys come from the source: A = softmax(X @ S.T)."),
            (weights.max(axis=-1), "those are the largest weights themselves. Return WHERE they are: np.argmax, not np.max."),
            ((x @ s.T).max(axis=-1), "those are the largest scores themselves. Return WHERE they are: np.argmax, not np.max."),
            (weights.argmin(axis=-1), "that is the source token each target token reads LEAST: use np.argmax."),
        ], ex, "for each target token (row i of A = softmax(X @ S.T)), return the column j of its largest weight.")
    passed(ex, f"on a random test ({case}).")
