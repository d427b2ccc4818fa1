"""Checkers for the exercises of lab 2, queries, keys and values: the math.

Inputs use m ≠ n ≠ d ≠ d_v throughout, so transposed or swapped matrices show up as wrong
shapes, which get their own hints. The query width is d = 6, not a perfect square, so a
hard-coded or rounded √d (2 = int(√6)) cannot pass. Exercises 2.5 and 2.6 are run on two
different sizes, so a hard-coded size cannot pass either.
"""
from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..core.cost import attention_flops
from ..core.dot_product import attention
from ..core.heads import split_heads
from ..core.masks import padding_mask
from ..core.numerics import softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = [
    "check_scores", "check_attention", "check_padding_mask", "check_masked_attention",
    "check_split_heads", "check_attention_flops",
]

M, N, D, D_V = 3, 5, 6, 2  # every size different; d = 6 is not a perfect square


def _qkv(seed: int, m: int = M, n: int = N, d: int = D, d_v: int = D_V) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))


def _pair(result: object, ex: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CheckFailed(f"{ex}: return a pair (out, weights), got {type(result).__name__}.")
    return as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")


def _call(fn: Callable, *args: Any, exercise: str) -> Any:
    """:func:`call`, adding a hint to NumPy's broadcast error (a row max or sum without keepdims)."""
    try:
        return call(fn, *args, exercise=exercise)
    except CheckFailed as err:
        message = str(err)
        if "could not be broadcast" in message:
            raise CheckFailed(
                f"{message.rstrip()}. A row's max or sum has shape (m,), which does not line up with the "
                "(m, n) scores: keep the reduced axis, e.g. s.max(axis=-1, keepdims=True)."
            ) from None
        raise


@contextmanager
def _watch_package(fn: Callable) -> Iterator[list[str]]:
    """Record calls of ``crossattn.attention`` and ``crossattn.softmax`` made inside the block.

    Both the package's attributes (``crossattn.softmax(...)``) and names the student's function
    reads from its globals (``from crossattn import softmax``) are watched; all are restored.
    """
    package = importlib.import_module(__name__.split(".")[0])
    originals = {"attention": attention, "softmax": softmax}
    called: list[str] = []

    def spy(name: str, original: Callable) -> Callable:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            called.append(f"crossattn.{name}")
            return original(*args, **kwargs)
        return wrapper

    namespace = getattr(fn, "__globals__", {})
    saved_attrs = {name: getattr(package, name) for name in originals}
    saved_names = {key: value for key, value in namespace.items()
                   if any(value is original for original in originals.values())}
    try:
        for name, original in originals.items():
            setattr(package, name, spy(name, original))
        for key, value in saved_names.items():
            name = next(n for n, original in originals.items() if value is original)
            namespace[key] = spy(name, value)
        yield called
    finally:
        for name, value in saved_attrs.items():
            setattr(package, name, value)
        namespace.update(saved_names)


def _refuse_package(called: list[str], ex: str, why: str) -> None:
    if called:
        raise CheckFailed(
            f"{ex}: your function calls {called[0]}, which already does what this exercise asks you to write "
            f"({why}). Write it yourself with NumPy (np.exp, .max, .sum); after the exercise the lab uses the package."
        )


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


def _scale_hint(c: float, m: int, n: int, d: int, what: str) -> str:
    """The hint for scores scaled by ``c`` instead of 1/√d."""
    divisor = 1.0 / c
    if np.isclose(divisor, 1.0):
        return f"you forgot to scale the scores by 1/√d{what}."
    if np.isclose(divisor, np.sqrt(n)):
        return "you scaled by 1/√n (n = number of keys); scale by 1/√d, the width of a query."
    if np.isclose(divisor, np.sqrt(m)):
        return f"you divided the scores by √m = √{m}, the number of queries; divide by √d, d = Q.shape[-1], the width of a query."
    rounded = (" A hard-coded 2 or a rounded √d only works when d is a perfect square; use np.sqrt(Q.shape[-1])."
               if any(np.isclose(divisor, r) for r in (np.floor(np.sqrt(d)), np.round(np.sqrt(d)))) else "")
    return (f"your scores are QKᵀ/{divisor:.4g}; divide by √d = √{d} ≈ {np.sqrt(d):.4g}, "
            f"where d = Q.shape[-1] is the width of a query.{rounded}")


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
    raw = q @ k.T
    if not close(got, raw / np.sqrt(d)):
        mistakes = [
            (raw, "you forgot to divide by √d (d = the width of a query)."),
            (raw / d, "divide by √d, not by d."),
            (raw * np.sqrt(d), "divide by √d; you multiplied."),
            (raw / np.sqrt(n), "you divided by √n, the number of keys; divide by √d, the width of a query (Q.shape[-1])."),
        ]
        c = float(np.sum(got * raw) / np.sum(raw * raw))
        if c > 0:
            mistakes.append((c * raw, _scale_hint(c, m, n, d, "")))
        diagnose(got, mistakes, ex, "scores = Q @ K.T / sqrt(d).")
    passed(ex, f"scores have shape (m, n) = ({m}, {n}) and equal QKᵀ/√d.")


def check_attention(attention_fn: Callable) -> None:
    """Exercise 2.2: ``attention(Q, K, V) -> (out (m, d_v), weights (m, n))``, scaled by 1/√d."""
    ex = "Exercise 2.2 (attention)"
    q, k, v = _qkv(22)
    (m, d), n, d_v = q.shape, len(k), v.shape[1]
    with _watch_package(attention_fn) as called:
        result = _call(attention_fn, q, k, v, exercise=ex)
    _refuse_package(called, ex, "with it, the large-score test below would test the package, not your softmax")
    out, weights = _pair(result, ex)
    if out.shape == (m, n) and weights.shape == (m, d_v):
        raise CheckFailed(f"{ex}: you returned (weights, out); return them in the order (out, weights).")
    expect_shape(weights, (m, n), ex, {(n, m): "Your weights are (n, m): compute Q @ K.T, one row per query."})
    want_out, want_w = attention(q, k, v)
    if not close(weights, want_w):
        s = q @ k.T / np.sqrt(d)
        e = np.exp(s - s.max())
        mistakes = [
            (softmax(s, axis=0), "your weights sum to 1 down each column; softmax over the last axis so each query's row sums to 1."),
            (e / e.sum(), "your weights sum to 1 over the whole matrix; normalise each row on its own: divide by e.sum(axis=-1, keepdims=True)."),
            (s, "these are the raw scores: turn them into weights with a softmax over each row."),
        ]
        c = _fit_scale(weights, q @ k.T)
        if c is not None:
            mistakes.append((softmax(c * (q @ k.T)), _scale_hint(c, m, n, d, " before the softmax")))
        diagnose(weights, mistakes, ex, "weights = softmax(Q @ K.T / sqrt(d)) row by row.")
    expect_shape(out, (m, d_v), ex, {(m, d): "Your out has width d: blend the values V, not the keys K."})
    if not close(out, want_out):
        raise CheckFailed(f"{ex}: weights are right but out is not: out = weights @ V.")
    # Scores in the thousands: exp overflows unless each ROW's max is subtracted first, and a row far
    # below the largest score of the whole matrix underflows to 0/0 when the global max is subtracted.
    big_q = q * 1000.0
    reports: list[str] = []
    with np.errstate(all="call", under="ignore", call=lambda kind, _flag: reports.append(kind)):
        big_out, big_w = _pair(_call(attention_fn, big_q, k, v, exercise=ex), ex)
    want_big_out, want_big_w = attention(big_q, k, v)
    if not (close(big_w, want_big_w) and close(big_out, want_big_out)):
        if "overflow" in reports:
            raise CheckFailed(
                f"{ex}: with large scores (Q multiplied by 1000) your weights are wrong or NaN: exp overflows. "
                "Subtract each row's maximum score before np.exp — the softmax is unchanged."
            )
        raise CheckFailed(
            f"{ex}: with large scores (Q multiplied by 1000) your weights are wrong or NaN: in a row whose scores "
            "are all far below the largest score of the whole matrix, exp underflows to 0 and the row becomes 0/0. "
            "Subtract each ROW's own maximum, s.max(axis=-1, keepdims=True), not the maximum of the whole matrix."
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
    """Exercise 2.4: ``masked_attention(Q, K, V, mask (m, n)) -> (out, weights)``; fully masked rows give zeros.

    Three cases: random scores; a blocked key with a huge score (a row max taken over ALL keys then
    wipes out the keys the query may see); and the first case again, watching for NumPy warnings.
    """
    ex = "Exercise 2.4 (masked_attention)"
    q, k, v = _qkv(24)
    (m, d), n = q.shape, len(k)
    mask = np.ones((m, n), dtype=bool)
    mask[0, 3:] = False  # query 0 may not see keys 3, 4
    mask[2, :] = False  # query 2 may see nothing
    with _watch_package(masked_attention) as called:
        result = _call(masked_attention, q, k, v, mask, exercise=ex)
    _refuse_package(called, ex, "zero weights for a fully masked row included")
    out, weights = _pair(result, ex)
    expect_shape(weights, (m, n), ex)
    want_out, want_w = attention(q, k, v, mask=mask)
    if not close(weights, want_w):
        s = q @ k.T / np.sqrt(d)
        filled = softmax(np.where(mask, s, -1e9))
        renorm_missing = softmax(s) * mask
        mistakes = [
            (None, "a fully masked row gave NaN: its max is -inf, and -inf - (-inf) and 0/0 are NaN. Give such a row zero weights: shift it by 0 instead of its max, and divide only where the row sum is > 0."),
            (filled, "filling with -1e9 gives a fully masked row UNIFORM weights over keys it must not see. Such a row must get zero weights."),
            (renorm_missing, "you zeroed the masked weights after the softmax, so rows no longer sum to 1. Mask the SCORES (with -inf) before the softmax."),
            (softmax(np.where(mask, -np.inf, s)), "your mask is inverted: True means 'may attend', so block the keys where mask is False."),
            (softmax(s + np.where(mask, 0.0, -1e9)), "adding -1e9 to blocked scores leaves a fully masked row with the softmax of its own scores: it still reads keys it must not see. Such a row must get zero weights."),
            (softmax(np.where(mask, s, 0.0)), "filling blocked scores with 0 does not block them (exp(0) = 1). Use -inf, so that their weight is exactly 0."),
        ]
        c = _fit_scale(weights, q @ k.T, mask)
        if c is not None:
            mistakes.append((attention(q, k, v, mask=mask, scale=c)[1],
                             _scale_hint(c, m, n, d, " before the softmax, as in exercise 2.2")))
        diagnose(weights, mistakes, ex,
                 "blocked keys must get weight exactly 0, other weights sum to 1 per row, and a fully masked row is all zeros.")
    if not close(out, want_out):
        raise CheckFailed(f"{ex}: weights are right but out is not: out = weights @ V (a fully masked row gives a zero output).")

    # A blocked key with a huge score: only a max over the keys a query MAY see keeps its row alive.
    k_big = k.copy()
    k_big[3] = q[0] * (2000.0 * np.sqrt(d) / (q[0] @ q[0]))  # query 0's score for (blocked) key 3 is 2000
    with np.errstate(all="ignore"):  # the mistake underflows, and may divide 0 by 0
        big_out, big_w = _pair(_call(masked_attention, q, k_big, v, mask, exercise=ex), ex)
    want_big_out, want_big_w = attention(q, k_big, v, mask=mask)
    if not (close(big_w, want_big_w) and close(big_out, want_big_out)):
        raise CheckFailed(
            f"{ex}: when a BLOCKED key has a huge score (2000 for query 0, key 3), your weights for query 0 are wrong: "
            "that score set the row's maximum (or won the softmax before you masked), so exp underflowed to 0 for every "
            "key the query may see. Mask first (-inf where mask is False), then subtract the largest score the query MAY see."
        )

    complaints = _numpy_complaints(masked_attention, q, k, v, mask)
    if complaints:
        raise CheckFailed(
            f"{ex}: your numbers are right, but NumPy reports '{complaints[0]}' on the fully masked row: the task asks "
            "for no warning. Cleaning up afterwards (np.nan_to_num) hides the NaN, not the 0/0 or -inf - (-inf) that "
            "made it. Shift an all-blocked row by 0, and divide only where the row sum is > 0: e / np.where(total > 0, total, 1)."
        )
    passed(ex, "blocked keys get weight 0, an all-blocked row gets zeros; no NaN, no warning.")


def check_split_heads(split_heads_fn: Callable) -> None:
    """Exercise 2.5: ``split_heads(X (L, h·d_head), h) -> (h, L, d_head)``; head j owns columns j·d_head…

    Run on two sizes, (L, h, d_head) = (3, 2, 4) and (5, 3, 2), so that no size can be hard-coded.
    """
    ex = "Exercise 2.5 (split_heads)"
    cases = [(3, 2, 4), (5, 3, 2)]
    for number, (length, h, d_head) in enumerate(cases):
        x = np.arange(length * h * d_head, dtype=float).reshape(length, h * d_head)
        try:
            _check_split_case(split_heads_fn, x, length, h, d_head, ex)
        except CheckFailed as err:
            if number == 0:
                raise
            first_l, first_h, first_d = cases[0]
            raise CheckFailed(
                f"{str(err).rstrip().rstrip('.')} — it passed for X of shape ({first_l}, {first_h * first_d}) with "
                f"h = {first_h}, but not for X of shape {x.shape} with h = {h}: is a size hard-coded? Take L and the "
                "width from X.shape, and d_head = width // h."
            ) from None
    passed(ex, "(3, 8) -> 2 heads (3, 4); (5, 6) -> 3 heads (5, 2).")


def _check_split_case(split_heads_fn: Callable, x: np.ndarray, length: int, h: int, d_head: int, ex: str) -> None:
    result = call(split_heads_fn, x, h, exercise=ex)
    if result is not None and not isinstance(result, (np.ndarray, tuple)) and not hasattr(result, "detach"):
        count = f" of {len(result)} items" if hasattr(result, "__len__") else ""
        raise CheckFailed(
            f"{ex}: return one NumPy array of shape (h, L, d_head), got a {type(result).__name__}{count}. "
            "Reshape to (L, h, d_head) and transpose, instead of collecting the heads one by one."
        )
    got = as_array(result, ex)
    expect_shape(got, (h, length, d_head), ex, {
        (length, h, d_head): "You reshaped to (L, h, d_head); now move the head axis first: (h, L, d_head).",
        (h, d_head, length): "Your heads are (h, d_head, L): positions and features are swapped. Transpose (L, h, d_head) with axes (1, 0, 2).",
    })
    if not close(got, split_heads(x, h)):
        diagnose(got, [
            (x.reshape(h, length, d_head), "a plain reshape to (h, L, d_head) mixes positions across heads. Reshape to (L, h, d_head), then transpose to (h, L, d_head)."),
            (x.reshape(length, d_head, h).transpose(2, 0, 1), "head j must own the CONTIGUOUS columns j·d_head … (j+1)·d_head − 1: reshape to (L, h, d_head)."),
        ], ex, "head j, position i must hold x[i, j*d_head:(j+1)*d_head].")


def check_attention_flops(attention_flops_fn: Callable) -> None:
    """Exercise 2.6: ``attention_flops(m, n, d, d_v) -> int``, FLOPs of QKᵀ and AV (multiply + add = 2).

    Run on two sets of sizes, so that a hard-coded answer cannot pass.
    """
    ex = "Exercise 2.6 (attention_flops)"
    cases = [(3, 7, 5, 2), (6, 11, 8, 3)]
    for number, (m, n, d, d_v) in enumerate(cases):
        try:
            want = _check_flops_case(attention_flops_fn, m, n, d, d_v, ex)
        except CheckFailed as err:
            if number == 0:
                raise
            raise CheckFailed(
                f"{str(err).rstrip().rstrip('.')} — it passed for (m, n, d, d_v) = {cases[0]} but not for {cases[1]}: "
                "is a number hard-coded? Compute the count from the arguments."
            ) from None
        if number == 0:
            first = (m, n, d, d_v, want)
    m, n, d, d_v, want = first
    passed(ex, f"{want} FLOPs for m={m}, n={n}, d={d}, d_v={d_v}; other sizes too.")


def _check_flops_case(attention_flops_fn: Callable, m: int, n: int, d: int, d_v: int, ex: str) -> int:
    got = call(attention_flops_fn, m, n, d, d_v, exercise=ex)
    if got is None:
        raise CheckFailed(f"{ex}: your function returned None — did you forget the `return` statement?")
    if isinstance(got, bool) or not isinstance(got, (int, float, np.integer, np.floating)):
        raise CheckFailed(f"{ex}: return the count as a single integer, got {type(got).__name__}.")
    want = attention_flops(m, n, d, d_v)
    if got != want:
        diagnose(np.asarray(float(got)), [
            (2 * m * n * d, "you counted Q @ K.T only; A @ V costs another 2·m·n·d_v."),
            (m * n * d + m * n * d_v, "a multiply-add is 2 FLOPs: each product of a (p×r) and an (r×c) matrix costs 2·p·r·c."),
            (4 * m * n * d, "4·m·n·d assumes d_v = d; here d_v differs, so count 2·m·n·d + 2·m·n·d_v."),
            (4 * m * n * d_v, "4·m·n·d_v assumes d = d_v; here they differ, so count 2·m·n·d + 2·m·n·d_v."),
        ], ex, "QKᵀ costs 2·m·n·d and AV costs 2·m·n·d_v.")
    if not isinstance(got, (int, np.integer)):
        raise CheckFailed(
            f"{ex}: the count {got} is right, but it is a {type(got).__name__}; return an integer, as the task asks "
            "(FLOPs are a count). Use integer arithmetic: no `/` and no float factors like 2.0."
        )
    return want
