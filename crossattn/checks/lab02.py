"""Checkers for the exercises of lab 2, queries, keys and values: the math.

Inputs use m ≠ n ≠ d ≠ d_v throughout, so transposed or swapped matrices show up as wrong
shapes, which get their own hints. The query width is d = 6, not a perfect square, so a
hard-coded or rounded √d (2 = int(√6)) cannot pass. Exercises 2.5 and 2.6 are run on two
different sizes, so a hard-coded size cannot pass either. Every hint is raised by key from
crossattn/checks/exercises/lab02.py; tests/checks/test_lab02.py feeds each named mistake in.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.cost import attention_flops
from ..core.dot_product import attention
from ..core.heads import split_heads
from ..core.masks import padding_mask
from ..core.numerics import softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, fail, passed
from .registry import Exercise, exercise

__all__ = [
    "check_scores", "check_attention", "check_padding_mask", "check_masked_attention",
    "check_split_heads", "check_attention_flops",
]

M, N, D, D_V = 3, 5, 6, 2  # every size different; d = 6 is not a perfect square


def _qkv(seed: int, m: int = M, n: int = N, d: int = D, d_v: int = D_V) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))


def _pair(result: object, ex: Exercise) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(ex, "not_pair", type=type(result).__name__)
    return as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")


def _broadcast_shapes(text: str) -> list[tuple[int, ...]]:
    """The shapes named in NumPy's "could not be broadcast together with shapes (3,5) (3,)" error."""
    found = re.search(r"could not be broadcast together with (?:remapped )?shapes((?: \([0-9, ]*\))+)", text)
    if found is None:
        return []
    return [tuple(int(size) for size in group.split(",") if size.strip())
            for group in re.findall(r"\(([0-9, ]*)\)", found.group(1))]


def _call(fn: Callable, *args: Any, exercise: Exercise) -> Any:
    """:func:`call`, adding a hint to NumPy's broadcast error that names its likely cause.

    A matrix product whose shapes do not line up gets the shapes of both products; an (a, b) array
    meeting an (a,) one is a row max or sum without keepdims; an (a, b) array meeting a (b, a) one is a
    transposed score matrix or mask (exercise 2.4, whose mask is an argument).
    """
    try:
        return call(fn, *args, exercise=exercise)
    except CheckFailed as err:
        if err.key == "crash" and "matmul" in err.text and "matmul_shapes" in exercise.hints:
            (m, d), (n, _), (_, d_v) = (np.shape(a) for a in args[:3])
            fail(exercise, "matmul_shapes", lead=f"{err.text.rstrip()}. ", m=m, n=n, d=d, d_v=d_v)
        if err.key == "crash" and "could not be broadcast" in err.text:
            shapes = _broadcast_shapes(err.text)
            flat = [s for s in shapes if len(s) == 2 and s[0] != s[1]]
            if any((b, a) in shapes for a, b in flat) and "transposed_operand" in exercise.hints:
                fail(exercise, "transposed_operand", lead=f"{err.text.rstrip()}. ")
            if any((a,) in shapes or (1, a) in shapes for a, _ in flat):  # a row's max or sum, kept flat
                fail(exercise, "no_keepdims", lead=f"{err.text.rstrip()}. ")
        raise


def _numpy_complaints(fn: Callable, *args: Any) -> list[str]:
    """What NumPy reports while ``fn`` runs: floating-point errors (underflow excepted) and RuntimeWarnings."""
    seen: list[str] = []
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        with np.errstate(all="call", under="ignore", call=lambda kind, _flag: seen.append(kind)):
            try:
                fn(*copies)
            except Exception:  # noqa: BLE001 - it ran cleanly once already; only the reports matter
                pass
    seen += [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return seen


def _fit_scale(weights: np.ndarray, raw: np.ndarray, allowed: np.ndarray | None = None) -> float | None:
    """The c with weights = softmax(c · raw) row by row (over the allowed keys), or None if none fits."""
    allowed = np.ones(raw.shape, dtype=bool) if allowed is None else allowed
    rows = allowed.sum(axis=-1) >= 2
    with np.errstate(all="ignore"):
        if not rows.any() or not np.all(np.isfinite(weights)) or np.any(weights[allowed] <= 0):
            return None
        log_w = np.where(allowed, np.log(np.where(allowed, weights, 1.0)), 0.0)
    count = np.maximum(allowed.sum(axis=-1, keepdims=True), 1)
    centred_w = np.where(allowed, log_w - log_w.sum(axis=-1, keepdims=True) / count, 0.0)[rows]
    centred_r = np.where(allowed, raw - np.where(allowed, raw, 0.0).sum(axis=-1, keepdims=True) / count, 0.0)[rows]
    denominator = float(np.sum(centred_r ** 2))
    if denominator == 0.0:
        return None
    c = float(np.sum(centred_w * centred_r)) / denominator
    return c if c > 0 else None


def _scale_mistake(answer: np.ndarray, c: float, m: int, n: int, d: int) -> tuple[np.ndarray, str, dict]:
    """The diagnose entry for scores scaled by ``c`` instead of 1/√d: (answer, key, fields)."""
    divisor = 1.0 / c
    if np.isclose(divisor, 1.0):
        key = "unscaled"
    elif np.isclose(divisor, np.sqrt(n)):
        key = "by_sqrt_n"
    elif np.isclose(divisor, np.sqrt(m)):
        key = "by_sqrt_m"
    elif any(np.isclose(divisor, r) for r in (np.floor(np.sqrt(d)), np.round(np.sqrt(d)))):
        key = "rounded_sqrt"
    else:
        key = "wrong_scale"
    return answer, key, {"divisor": divisor, "m": m, "d": d, "sqrt_d": np.sqrt(d)}


def check_scores(scores: Callable) -> None:
    """Exercise 2.1: ``scores(Q (m, d), K (n, d)) -> (m, n)`` equal to Q Kᵀ / √d."""
    ex = exercise("2.1")
    q, k, _ = _qkv(21)
    (m, d), n = q.shape, len(k)
    try:
        result = call(scores, q, k, exercise=ex)
    except CheckFailed as err:  # Q @ K or Q.T @ K: the matrices do not line up without K's transpose
        if err.key == "crash" and "matmul" in err.text:
            fail(ex, "no_transpose", lead=f"{err.text.rstrip()}. ", m=m, n=n, d=d)
        raise
    got = as_array(result, ex)
    expect_shape(got, (m, n), ex, {(n, m): "transposed", (m, m): "query_with_itself"})
    raw = q @ k.T
    if not close(got, raw / np.sqrt(d)):
        mistakes = [
            (raw, "unscaled"),
            (raw / d, "by_d"),
            (raw * np.sqrt(d), "multiplied"),
            (raw / np.sqrt(n), "by_sqrt_n"),
        ]
        c = float(np.sum(got * raw) / np.sum(raw * raw))
        if c > 0:
            mistakes.append(_scale_mistake(c * raw, c, m, n, d))
        diagnose(got, mistakes, ex, "wrong")
    passed(ex, f"scores have shape (m, n) = ({m}, {n}) and equal QKᵀ/√d.")


def check_attention(attention_fn: Callable) -> None:
    """Exercise 2.2: ``attention(Q, K, V) -> (out (m, d_v), weights (m, n))``, scaled by 1/√d."""
    ex = exercise("2.2")
    q, k, v = _qkv(22)
    (m, d), n, d_v = q.shape, len(k), v.shape[1]
    result = _call(attention_fn, q, k, v, exercise=ex)  # refuses crossattn.attention / softmax (call does)
    out, weights = _pair(result, ex)
    if out.shape == (m, n) and weights.shape == (m, d_v):
        fail(ex, "pair_swapped")
    expect_shape(weights, (m, n), ex, {(n, m): "keys_first"})
    want_out, want_w = attention(q, k, v)
    if not close(weights, want_w):
        s = q @ k.T / np.sqrt(d)
        e = np.exp(s - s.max())  # shifted by the max of the whole matrix
        e_rows = np.exp(s - s.max(axis=-1, keepdims=True))  # shifted row by row, as the task says
        mistakes = [
            (softmax(s, axis=0), "columns"),
            (e / e.sum(), "whole_matrix"),
            (e_rows / e_rows.sum(), "whole_matrix"),  # keepdims on the max, but .sum() without an axis
            (s, "raw_scores"),
        ]
        c = _fit_scale(weights, q @ k.T)
        if c is not None:
            mistakes.append(_scale_mistake(softmax(c * (q @ k.T)), c, m, n, d))
        diagnose(weights, mistakes, ex, "wrong")
    expect_shape(out, (m, d_v), ex, {(m, d): "blends_keys"})
    if not close(out, want_out):
        fail(ex, "wrong_out")
    # Scores in the thousands: exp overflows unless each ROW's max is subtracted first, and a row far
    # below the largest score of the whole matrix underflows to 0/0 when the global max is subtracted.
    big_q = q * 1000.0
    reports: list[str] = []
    with np.errstate(all="call", under="ignore", call=lambda kind, _flag: reports.append(kind)):
        big_out, big_w = _pair(_call(attention_fn, big_q, k, v, exercise=ex), ex)
    want_big_out, want_big_w = attention(big_q, k, v)
    if not (close(big_w, want_big_w) and close(big_out, want_big_out)):
        fail(ex, "overflow" if "overflow" in reports else "global_max")
    passed(ex, f"out ({m}, {d_v}) and weights ({m}, {n}) match softmax(QKᵀ/√d)V, also for large scores.")


def _padding_effects(mask: np.ndarray, lengths: np.ndarray, seed: int = 23) -> tuple[list, list]:
    """The perturbation test of a padding mask, both ways, query by query.

    Attention runs with ``mask`` (B, m, n) on seeded Q, K, V; then the key and value of one source
    position at a time are changed. Returns ``(padding_moves, real_ignored)``: the (b, i, j) where
    changing PADDED position j of sentence b moves query i's output, and those where changing a
    REAL position j leaves it unmoved.
    """
    B, m, n = mask.shape
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(B, m, 4)), rng.normal(size=(B, n, 4)), rng.normal(size=(B, n, 3))
    out, _ = attention(q, k, v, mask=mask)  # (B, m, d_v)
    padding_moves, real_ignored = [], []
    for b in range(B):
        for j in range(n):
            k2, v2 = k.copy(), v.copy()
            k2[b, j] += 3.0 * rng.normal(size=4)
            v2[b, j] += 3.0 * rng.normal(size=3)
            moved = ~np.isclose(attention(q, k2, v2, mask=mask)[0][b], out[b], rtol=0, atol=1e-9).all(axis=-1)  # (m,)
            for i in range(m):
                if j >= lengths[b] and moved[i]:
                    padding_moves.append((b, i, j))
                elif j < lengths[b] and not moved[i]:
                    real_ignored.append((b, i, j))
    return padding_moves, real_ignored


def check_padding_mask(padding_mask_fn: Callable) -> None:
    """Exercise 2.3: ``padding_mask(lengths (B,), m, n) -> (B, m, n)`` bool, True = may attend.

    A mask that is not exactly right gets the hint of its named mistake, else the result of the
    perturbation test both ways: padding must never move the output, and every real token must.
    """
    ex = exercise("2.3")
    lengths, m, n = np.array([5, 2, 4]), 3, 5
    got = as_array(call(padding_mask_fn, lengths, m, n, exercise=ex), ex)
    B = len(lengths)
    expect_shape(got, (B, m, n), ex, {(B, n, m): "n_by_m", (B, n): "not_repeated", (B, 1, n): "broadcast_shape"})
    if got.dtype != bool:
        fail(ex, "not_bool", dtype=got.dtype)
    want = padding_mask(lengths, m, n)
    if not np.array_equal(got, want):
        rows_by_query = np.arange(m)[None, :, None] < lengths[:, None, None]  # masks queries, not keys
        keys = np.arange(n)[None, None, :]  # (1, 1, n)
        off_by_one = keys <= lengths[:, None, None]  # (B, 1, n): one key too many
        one_short = keys < lengths[:, None, None] - 1  # (B, 1, n): the last real key blocked
        diagnose_mask = [
            (np.broadcast_to(off_by_one, want.shape), "off_by_one"),
            (~want, "inverted"),
            (np.broadcast_to(rows_by_query, want.shape), "masks_queries"),
            (np.zeros_like(want), "all_false"),
            (np.broadcast_to(one_short, want.shape), "blocks_last_real"),
        ]
        if B == m:  # the (B, n) row of real keys broadcast to (B, m, n) without a query axis: B becomes m
            diagnose_mask.append((np.broadcast_to(want[:, 0, :], want.shape), "batch_as_queries"))
        for answer, key in diagnose_mask:
            if np.array_equal(got, answer):
                fail(ex, key)
        padding_moves, real_ignored = _padding_effects(got, lengths)
        if padding_moves:
            b, i, j = padding_moves[0]
            fail(ex, "reads_padding", b=b, i=i, j=j, length=lengths[b])
        # Every other wrong mask blocks a real key of some query, which the perturbation shows.
        b, i, j = real_ignored[0] if real_ignored else tuple(np.argwhere(got != want)[0])
        fail(ex, "ignores_real", b=b, i=i, j=j, length=lengths[b])
    passed(ex, "True for real source tokens, False for padding, one row per query.")


def check_masked_attention(masked_attention: Callable) -> None:
    """Exercise 2.4: ``masked_attention(Q, K, V, mask (m, n)) -> (out, weights)``; fully masked rows give zeros.

    Three cases: random scores; a blocked key with a huge score (a row max taken over ALL keys then
    wipes out the keys the query may see); and the first case again, watching for NumPy warnings.
    """
    ex = exercise("2.4")
    q, k, v = _qkv(24)
    (m, d), n = q.shape, len(k)
    mask = np.ones((m, n), dtype=bool)
    mask[0, 3:] = False  # query 0 may not see keys 3, 4
    mask[2, :] = False  # query 2 may see nothing
    result = _call(masked_attention, q, k, v, mask, exercise=ex)  # refuses the package's answer (call does)
    out, weights = _pair(result, ex)
    expect_shape(weights, (m, n), ex)
    want_out, want_w = attention(q, k, v, mask=mask)
    if not close(weights, want_w):
        s = q @ k.T / np.sqrt(d)
        mistakes = [
            (None, "nan_rows"),
            (softmax(np.where(mask, s, -1e9)), "fill_minus_1e9"),
            (softmax(s) * mask, "zero_after_softmax"),
            (softmax(np.where(mask, -np.inf, s)), "inverted"),
            (softmax(s + np.where(mask, 0.0, -1e9)), "add_minus_1e9"),
            (softmax(np.where(mask, s, 0.0)), "fill_zero"),
        ]
        c = _fit_scale(weights, q @ k.T, mask)
        if c is not None:
            mistakes.append(_scale_mistake(attention(q, k, v, mask=mask, scale=c)[1], c, m, n, d))
        diagnose(weights, mistakes, ex, "wrong")
    if not close(out, want_out):
        fail(ex, "wrong_out")

    # A blocked key with a huge score: only a max over the keys a query MAY see keeps its row alive.
    k_big = k.copy()
    k_big[3] = q[0] * (2000.0 * np.sqrt(d) / (q[0] @ q[0]))  # query 0's score for (blocked) key 3 is 2000
    with np.errstate(all="ignore"):  # the mistake underflows, and may divide 0 by 0
        big_out, big_w = _pair(_call(masked_attention, q, k_big, v, mask, exercise=ex), ex)
    want_big_out, want_big_w = attention(q, k_big, v, mask=mask)
    if not (close(big_w, want_big_w) and close(big_out, want_big_out)):
        fail(ex, "blocked_max")

    complaints = _numpy_complaints(masked_attention, q, k, v, mask)
    if complaints:
        fail(ex, "warns", complaint=complaints[0])
    passed(ex, "blocked keys get weight 0, an all-blocked row gets zeros; no NaN, no warning.")


def check_split_heads(split_heads_fn: Callable) -> None:
    """Exercise 2.5: ``split_heads(X (L, h·d_head), h) -> (h, L, d_head)``; head j owns columns j·d_head…

    Run on two sizes, (L, h, d_head) = (3, 2, 4) and (5, 3, 2), so that no size can be hard-coded.
    """
    ex = exercise("2.5")
    cases = [(3, 2, 4), (5, 3, 2)]
    for number, (length, h, d_head) in enumerate(cases):
        x = np.arange(length * h * d_head, dtype=float).reshape(length, h * d_head)
        try:
            _check_split_case(split_heads_fn, x, length, h, d_head, ex)
        except CheckFailed as err:
            if number == 0:
                raise
            first_l, first_h, first_d = cases[0]
            fail(ex, "hard_coded", lead=f"{err.text.rstrip().rstrip('.')} — ", first_shape=(first_l, first_h * first_d),
                 first_h=first_h, shape=x.shape, h=h)
    passed(ex, "(3, 8) -> 2 heads (3, 4); (5, 6) -> 3 heads (5, 2).")


def _check_split_case(split_heads_fn: Callable, x: np.ndarray, length: int, h: int, d_head: int, ex: Exercise) -> None:
    result = call(split_heads_fn, x, h, exercise=ex)
    if result is not None and not isinstance(result, (np.ndarray, tuple)) and not hasattr(result, "detach"):
        count = f" of {len(result)} items" if hasattr(result, "__len__") else ""
        fail(ex, "not_one_array", type=type(result).__name__, count=count)
    got = as_array(result, ex)
    expect_shape(got, (h, length, d_head), ex, {(length, h, d_head): "no_transpose", (h, d_head, length): "wrong_transpose",
                                                (d_head, h, length): "full_transpose"})
    if not close(got, split_heads(x, h)):
        diagnose(got, [
            (x.reshape(h, length, d_head), "bare_reshape"),
            (x.reshape(length, d_head, h).transpose(2, 0, 1), "strided"),
        ], ex, "wrong")


def check_attention_flops(attention_flops_fn: Callable) -> None:
    """Exercise 2.6: ``attention_flops(m, n, d, d_v) -> int``, FLOPs of QKᵀ and AV (multiply + add = 2).

    Run on two sets of sizes, so that a hard-coded answer cannot pass.
    """
    ex = exercise("2.6")
    cases = [(3, 7, 5, 2), (6, 11, 8, 3)]
    for number, (m, n, d, d_v) in enumerate(cases):
        try:
            want = _check_flops_case(attention_flops_fn, m, n, d, d_v, ex)
        except CheckFailed as err:
            if number == 0:
                raise
            fail(ex, "hard_coded", lead=f"{err.text.rstrip().rstrip('.')} — ", first=cases[0], second=cases[1])
        if number == 0:
            first = (m, n, d, d_v, want)
    m, n, d, d_v, want = first
    passed(ex, f"{want} FLOPs for m={m}, n={n}, d={d}, d_v={d_v}; other sizes too.")


def _check_flops_case(attention_flops_fn: Callable, m: int, n: int, d: int, d_v: int, ex: Exercise) -> int:
    got = call(attention_flops_fn, m, n, d, d_v, exercise=ex)
    if got is None:
        fail(ex, "returned_none")
    if isinstance(got, bool) or not isinstance(got, (int, float, np.integer, np.floating)):
        fail(ex, "not_int_type", type=type(got).__name__)
    want = attention_flops(m, n, d, d_v)
    if got != want:
        diagnose(np.asarray(float(got)), [
            (2 * m * n * d, "scores_only"),
            (m * n * d + m * n * d_v, "no_factor_two"),
            (4 * m * n * d, "assumes_d_v_is_d"),
            (4 * m * n * d_v, "assumes_d_is_d_v"),
        ], ex, "wrong")
    if not isinstance(got, (int, np.integer)):
        fail(ex, "float", count=got, type=type(got).__name__)
    return want
