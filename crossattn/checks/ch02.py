"""Checkers for the exercises of lab 2, queries, keys and values: the math.

Inputs use m ≠ n and d ≠ d_v throughout, so transposed or swapped matrices show up as
wrong shapes, which get their own hints.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..attention import attention
from ..cost import attention_flops
from ..heads import split_heads
from ..masks import padding_mask
from ..numerics import softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = [
    "check_scores", "check_attention", "check_padding_mask", "check_masked_attention",
    "check_split_heads", "check_attention_flops",
]


def _qkv(seed: int, m: int = 3, n: int = 5, d: int = 4, d_v: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))


def _pair(result: object, ex: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed(f"{ex}: return a pair (out, weights), got {type(result).__name__}.")
    return as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")


def check_scores(scores: Callable) -> None:
    """Exercise 2.1: ``scores(Q (m, d), K (n, d)) -> (m, n)`` equal to Q Kᵀ / √d."""
    ex = "Exercise 2.1 (scores)"
    q, k, _ = _qkv(21)
    (m, d), n = q.shape, len(k)
    got = as_array(call(scores, q, k, exercise=ex), ex)
    expect_shape(got, (m, n), ex, {
        (n, m): "Your scores are (n, m): that is K @ Q.T. Put the queries first: one row per query.",
        (m, m): "Your scores are (m, m): did you multiply Q by itself? Queries meet KEYS: Q @ K.T.",
    })
    if not close(got, q @ k.T / np.sqrt(d)):
        diagnose(got, [
            (q @ k.T, "you forgot to divide by √d (d = the width of a query)."),
            (q @ k.T / d, "divide by √d, not by d."),
            (q @ k.T * np.sqrt(d), "divide by √d; you multiplied."),
            (q @ k.T / np.sqrt(n), "you divided by √n, the number of keys; divide by √d, the width of a query (Q.shape[-1])."),
        ], ex, "scores = Q @ K.T / sqrt(d).")
    passed(ex, f"scores have shape (m, n) = ({m}, {n}) and equal QKᵀ/√d.")


def check_attention(attention_fn: Callable) -> None:
    """Exercise 2.2: ``attention(Q, K, V) -> (out (m, d_v), weights (m, n))``, scaled by 1/√d."""
    ex = "Exercise 2.2 (attention)"
    q, k, v = _qkv(22)
    (m, d), n, d_v = q.shape, len(k), v.shape[1]
    out, weights = _pair(call(attention_fn, q, k, v, exercise=ex), ex)
    if out.shape == (m, n) and weights.shape == (m, d_v):
        raise CheckFailed(f"{ex}: you returned (weights, out); return them in the order (out, weights).")
    expect_shape(weights, (m, n), ex, {(n, m): "Your weights are (n, m): compute Q @ K.T, one row per query."})
    want_out, want_w = attention(q, k, v)
    if not close(weights, want_w):
        s = q @ k.T / np.sqrt(d)
        diagnose(weights, [
            (softmax(s, axis=0), "your weights sum to 1 down each column; softmax over the last axis so each query's row sums to 1."),
            (softmax(q @ k.T), "you forgot to scale the scores by 1/√d before the softmax."),
            (softmax(q @ k.T / np.sqrt(n)), "you scaled by 1/√n (n = number of keys); scale by 1/√d, the width of a query."),
            (s, "these are the raw scores: turn them into weights with a softmax over each row."),
        ], ex, "weights = softmax(Q @ K.T / sqrt(d)) row by row.")
    expect_shape(out, (m, d_v), ex, {(m, d): "Your out has width d: blend the values V, not the keys K."})
    if not close(out, want_out):
        raise CheckFailed(f"{ex}: weights are right but out is not: out = weights @ V.")
    big_q = q * 1000.0  # scores in the thousands: exp overflows unless each row's max is subtracted first
    with np.errstate(over="ignore", invalid="ignore"):
        big_out, big_w = _pair(call(attention_fn, big_q, k, v, exercise=ex), ex)
    want_big_out, want_big_w = attention(big_q, k, v)
    if not (close(big_w, want_big_w) and close(big_out, want_big_out)):
        raise CheckFailed(
            f"{ex}: with large scores (Q multiplied by 1000) your weights are wrong or NaN: exp overflows. "
            "Subtract each row's maximum score before np.exp — the softmax is unchanged."
        )
    passed(ex, f"out ({m}, {d_v}) and weights ({m}, {n}) match softmax(QKᵀ/√d)V, also for large scores.")


def check_padding_mask(padding_mask_fn: Callable) -> None:
    """Exercise 2.3: ``padding_mask(lengths (B,), m, n) -> (B, m, n)`` bool, True = may attend."""
    ex = "Exercise 2.3 (padding_mask)"
    lengths, m, n = np.array([5, 2, 4]), 3, 5
    got = as_array(call(padding_mask_fn, lengths, m, n, exercise=ex), ex)
    expect_shape(got, (len(lengths), m, n), ex, {
        (len(lengths), n, m): "Your mask is (B, n, m): build it with one ROW per query and one COLUMN per key, (B, m, n).",
        (len(lengths), n): "Your mask is (B, n): repeat it for each of the m queries to get (B, m, n).",
        (len(lengths), 1, n): "Your mask is (B, 1, n): it broadcasts, but the exercise asks for the full (B, m, n) — repeat it for each of the m queries.",
    })
    if got.dtype != bool:
        raise CheckFailed(f"{ex}: the mask must be boolean (True = may attend), got dtype {got.dtype}.")
    want = padding_mask(lengths, m, n)
    if not np.array_equal(got, want):
        rows_by_query = np.arange(m)[None, :, None] < lengths[:, None, None]  # masks queries, not keys
        off_by_one = np.arange(n)[None, None, :] <= lengths[:, None, None]  # (B, 1, n): one key too many
        diagnose(got, [
            (np.broadcast_to(off_by_one, want.shape), "off by one: the real keys are j = 0 … length − 1, so use j < length, not j <= length."),
            (~want, "your mask is inverted: here True means 'may attend' (as in scaled_dot_product_attention), so real tokens are True and padding False."),
            (np.broadcast_to(rows_by_query, want.shape), "you masked query rows; padding is in the SOURCE, so mask key columns j >= length."),
        ], ex, "mask[b, i, j] must be True exactly when j < lengths[b].")
    passed(ex, "True for real source tokens, False for padding, one row per query.")


def check_masked_attention(masked_attention: Callable) -> None:
    """Exercise 2.4: ``masked_attention(Q, K, V, mask (m, n)) -> (out, weights)``; fully masked rows give zeros."""
    ex = "Exercise 2.4 (masked_attention)"
    q, k, v = _qkv(24)
    (m, d), n = q.shape, len(k)
    mask = np.ones((m, n), dtype=bool)
    mask[0, 3:] = False  # query 0 may not see keys 3, 4
    mask[2, :] = False  # query 2 may see nothing
    out, weights = _pair(call(masked_attention, q, k, v, mask, exercise=ex), ex)
    expect_shape(weights, (m, n), ex)
    want_out, want_w = attention(q, k, v, mask=mask)
    if not close(weights, want_w):
        s = q @ k.T / np.sqrt(d)
        filled = softmax(np.where(mask, s, -1e9))
        renorm_missing = softmax(s) * mask
        diagnose(weights, [
            (None, "a fully masked row gave NaN: its max is -inf, and -inf - (-inf) and 0/0 are NaN. Give such a row zero weights: shift it by 0 instead of its max, and divide only where the row sum is > 0."),
            (filled, "filling with -1e9 gives a fully masked row UNIFORM weights over keys it must not see. Such a row must get zero weights."),
            (renorm_missing, "you zeroed the masked weights after the softmax, so rows no longer sum to 1. Mask the SCORES (with -inf) before the softmax."),
            (softmax(np.where(mask, -np.inf, s)), "your mask is inverted: True means 'may attend', so block the keys where mask is False."),
            (softmax(s + np.where(mask, 0.0, -1e9)), "adding -1e9 to blocked scores leaves a fully masked row with the softmax of its own scores: it still reads keys it must not see. Such a row must get zero weights."),
            (softmax(np.where(mask, s, 0.0)), "filling blocked scores with 0 does not block them (exp(0) = 1). Use -inf, so that their weight is exactly 0."),
        ], ex, "blocked keys must get weight exactly 0, other weights sum to 1 per row, and a fully masked row is all zeros.")
    if not close(out, want_out):
        raise CheckFailed(f"{ex}: weights are right but out is not: out = weights @ V (a fully masked row gives a zero output).")
    passed(ex, "blocked keys get weight 0, and the fully masked query gets zeros, not NaN.")


def check_split_heads(split_heads_fn: Callable) -> None:
    """Exercise 2.5: ``split_heads(X (L, h·d_head), h) -> (h, L, d_head)``; head j owns columns j·d_head…"""
    ex = "Exercise 2.5 (split_heads)"
    length, h, d_head = 3, 2, 4
    x = np.arange(length * h * d_head, dtype=float).reshape(length, h * d_head)
    got = as_array(call(split_heads_fn, x, h, exercise=ex), ex)
    expect_shape(got, (h, length, d_head), ex, {
        (length, h, d_head): "You reshaped to (L, h, d_head); now move the head axis first: (h, L, d_head).",
        (h, d_head, length): "Your heads are (h, d_head, L): positions and features are swapped. Transpose (L, h, d_head) with axes (1, 0, 2).",
    })
    if not close(got, split_heads(x, h)):
        diagnose(got, [
            (x.reshape(h, length, d_head), "a plain reshape to (h, L, d_head) mixes positions across heads. Reshape to (L, h, d_head), then transpose to (h, L, d_head)."),
            (x.reshape(length, d_head, h).transpose(2, 0, 1), "head j must own the CONTIGUOUS columns j·d_head … (j+1)·d_head − 1: reshape to (L, h, d_head)."),
        ], ex, "head j, position i must hold x[i, j*d_head:(j+1)*d_head].")
    passed(ex, f"({length}, {h * d_head}) split into {h} heads of shape ({length}, {d_head}).")


def check_attention_flops(attention_flops_fn: Callable) -> None:
    """Exercise 2.6: ``attention_flops(m, n, d, d_v) -> int``, FLOPs of QKᵀ and AV (multiply + add = 2)."""
    ex = "Exercise 2.6 (attention_flops)"
    m, n, d, d_v = 3, 7, 5, 2
    got = call(attention_flops_fn, m, n, d, d_v, exercise=ex)
    if got is None:
        raise CheckFailed(f"{ex}: your function returned None — did you forget the `return` statement?")
    want = attention_flops(m, n, d, d_v)
    if got != want:
        diagnose(np.asarray(float(got)), [
            (2 * m * n * d, "you counted Q @ K.T only; A @ V costs another 2·m·n·d_v."),
            (m * n * d + m * n * d_v, "a multiply-add is 2 FLOPs: each product of an (a×b) and a (b×c) matrix costs 2·a·b·c."),
            (4 * m * n * d, "4·m·n·d assumes d_v = d; here d_v differs, so count 2·m·n·d + 2·m·n·d_v."),
            (4 * m * n * d_v, "4·m·n·d_v assumes d = d_v; here they differ, so count 2·m·n·d + 2·m·n·d_v."),
        ], ex, "QKᵀ costs 2·m·n·d and AV costs 2·m·n·d_v.")
    passed(ex, f"m={m}, n={n}, d={d}, d_v={d_v} gives {want} FLOPs, linear in n.")
