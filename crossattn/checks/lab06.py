"""Checkers for the exercises of lab 6, where are we? Positional choices for cross-attention.

Inputs use m ≠ n ≠ d ≠ d_v (and length ≠ d_model), so a transposed result shows up as a wrong
shape with its own hint. Every named common mistake gets its own hint; tests/checks/test_lab06.py
feeds each one in, written the way a student would write it.
"""
from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..core.dot_product import attention
from ..experiments.order import multiset_accuracy
from ..nn.layers import RelativePositionBias
from ..nn.positions import sinusoidal_positions
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = ["check_permutation_gap", "check_sinusoidal", "check_relative_bias", "check_multiset_accuracy"]


def _scalar(value: Any, ex: str, what: str) -> float:
    arr = as_array(value, ex)
    if arr.size != 1:
        raise CheckFailed(f"{ex}: return one number ({what}), got an array of shape {arr.shape}.")
    return float(arr.reshape(-1)[0].item())  # a 1-element array of any shape counts as its number


# ---------------------------------------------------------------------------------- 6.1 permutation test


def _order_blind(Q: np.ndarray, K: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Plain cross-attention: O (m, d_v). It cannot see the order of the source rows."""
    return attention(Q, K, V)[0]


def _make_order_aware(n: int, d: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    table = np.random.default_rng(6).normal(size=(n, d))  # (n, d): a fixed code for each ROW index

    def order_aware(Q: np.ndarray, K: np.ndarray, V: np.ndarray) -> np.ndarray:
        """Cross-attention whose keys get a position code by row: O (m, d_v). It sees the order."""
        return attention(Q, K + table, V)[0]
    return order_aware


def _gap(attend: Callable, Q: np.ndarray, K: np.ndarray, V: np.ndarray,
         which: str = "kv", signed: bool = False) -> float:
    """max over all orders p of |attend(after reordering) − attend(Q, K, V)|; ``which`` says what is reordered."""
    base = attend(Q, K, V)
    rows = len(Q) if which == "q" else len(K)
    worst = -np.inf if signed else 0.0
    for p in itertools.permutations(range(rows)):
        p = list(p)
        if which == "kv":
            out = attend(Q, K[p], V[p])
        elif which == "k":
            out = attend(Q, K[p], V)
        elif which == "v":
            out = attend(Q, K, V[p])
        else:  # "q"
            out = attend(Q[p], K, V)
        diff = out - base
        worst = max(worst, float(diff.max() if signed else np.abs(diff).max()))
    return worst


def check_permutation_gap(permutation_gap: Callable) -> None:
    """Exercise 6.1: ``permutation_gap(attend, Q, K, V) -> float``, the largest output change over all source orders."""
    ex = "Exercise 6.1 (permutation_gap)"
    rng = np.random.default_rng(62)
    m, n, d, d_v = 3, 4, 5, 2
    Q, K, V = rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))
    order_aware = _make_order_aware(n, d)

    def flipped(Q: np.ndarray, K: np.ndarray, V: np.ndarray) -> np.ndarray:
        """The order-aware attention with its output negated: the same largest |change|."""
        return -order_aware(Q, K, V)

    blind = _scalar(call(permutation_gap, _order_blind, Q, K, V, exercise=ex), ex, "the largest change")
    if abs(blind) > 1e-9:
        # Over all orders, permuting only K or only V gives the same number for plain attention
        # (A·Pᵀ·V and A·P·V run over the same set); the order-aware attention tells them apart.
        aware = _scalar(call(permutation_gap, order_aware, Q, K, V, exercise=ex), ex, "the largest change")
        one_sided = ("A source token's key and value are rows of the SAME index: permute K and V together, "
                     "K[p] with V[p].")
        for value, hint in [
            (_gap(order_aware, Q, K, V, "k"), f"you reordered the keys but not the values. {one_sided}"),
            (_gap(order_aware, Q, K, V, "v"), f"you reordered the values but not the keys. {one_sided}"),
            (_gap(order_aware, Q, K, V, "q"), "you permuted the queries. That only reorders the rows of the "
                                              "output, which of course changes O. The question is about the "
                                              "SOURCE: reorder the rows of K and V, keep Q as it is."),
        ]:
            if close(aware, value, tol=1e-9):
                raise CheckFailed(f"{ex}: {hint}")
        raise CheckFailed(f"{ex}: for plain cross-attention the output must not change at all (up to ~1e-15) "
                          "when the source rows K and V are reordered together; you found a change of "
                          f"{blind:.3g}. Compare attend(Q, K[p], V[p]) with attend(Q, K, V).")
    want = _gap(order_aware, Q, K, V)
    for attend in (order_aware, flipped):
        got = _scalar(call(permutation_gap, attend, Q, K, V, exercise=ex), ex, "the largest change")
        if close(got, want, tol=1e-9):
            continue
        one_p = float(np.abs(attend(Q, K[::-1], V[::-1]) - attend(Q, K, V)).max())
        diagnose(np.asarray(got), [
            (_gap(attend, Q, K, V, signed=True), "take the ABSOLUTE value of the change before the maximum: a "
                                                 "large negative change counts too."),
            (one_p, "you tried one ordering (the reversal). Check them all: itertools.permutations(range(n))."),
            (0.0, "an attention that adds position codes to its keys DOES see the order, yet you report 0. Did you "
                  "compare an output with itself?"),
        ], ex, f"with order-aware attention the largest change over all {n}! orders is {want:.4f}: return "
               "max over p of |attend(Q, K[p], V[p]) − attend(Q, K, V)|.")
    passed(ex, f"0 over all {n}! source orders; {want:.3f} once keys carry positions.")


# ---------------------------------------------------------------------------------- 6.2 sinusoidal


def _angles(length: int, d_model: int, exponent: Callable[[np.ndarray], np.ndarray], start: int = 0) -> np.ndarray:
    pos = np.arange(start, start + length, dtype=float)[:, None]  # (length, 1)
    return pos / 10000.0 ** exponent(np.arange(d_model // 2, dtype=float))  # (length, d_model/2)


def _interleave(even: np.ndarray, odd: np.ndarray) -> np.ndarray:
    out = np.empty((even.shape[0], 2 * even.shape[1]))
    out[:, 0::2], out[:, 1::2] = even, odd
    return out


def check_sinusoidal(sinusoidal: Callable) -> None:
    """Exercise 6.2: ``sinusoidal(length, d_model) -> (length, d_model)``, the encoding of Vaswani et al."""
    ex = "Exercise 6.2 (sinusoidal)"
    for length, d_model in ((9, 6), (50, 16)):
        got = as_array(call(sinusoidal, length, d_model, exercise=ex), ex)
        expect_shape(got, (length, d_model), ex, {
            (d_model, length): "Your table is (d_model, length): one ROW per position, one column per feature.",
            (length, d_model // 2): "Your table has d_model/2 columns: each frequency gives TWO columns, a sine "
                                    "(even column) and a cosine (odd column).",
        })
        want = sinusoidal_positions(length, d_model).double().numpy()
        if close(got, want, tol=1e-4):
            continue
        d = d_model
        right = _angles(length, d, lambda k: 2 * k / d)
        diagnose(got, [
            (_interleave(np.cos(right), np.sin(right)), "sines and cosines are swapped: EVEN columns (0, 2, ...) hold "
                                                       "the sine, ODD columns the cosine."),
            (_interleave(np.sin(_angles(length, d, lambda k: k / d)), np.cos(_angles(length, d, lambda k: k / d))),
             "the exponent is 2k/d_model, where k counts the sine–cosine PAIRS (column 2k and 2k+1 share it); "
             "you used k/d_model, so your wavelengths grow too slowly."),
            (_interleave(np.sin(right), np.cos(_angles(length, d, lambda k: (2 * k + 1) / d))),
             "the cosine in column 2k+1 must use the SAME angle as the sine in column 2k: pos / 10000^(2k/d_model). "
             "You gave each column its own exponent (column index / d_model)."),
            (_interleave(np.sin(_angles(length, d, lambda k: 2 * k / d, start=1)),
                         np.cos(_angles(length, d, lambda k: 2 * k / d, start=1))),
             "positions start at 0, not 1: the first row must be sin 0 = 0 and cos 0 = 1 alternating."),
            (np.concatenate([np.sin(right), np.cos(right)], axis=1),
             "you put all the sines first and then all the cosines (some libraries do, e.g. tensor2tensor). "
             "Here, as in Vaswani et al., they are interleaved: sine in column 2k, cosine in column 2k+1."),
            (_interleave(np.sin(_angles(length, d, lambda k: -2 * k / d)),
                         np.cos(_angles(length, d, lambda k: -2 * k / d))),
             "divide the position by 10000^(2k/d_model); you multiplied, so the high columns spin fastest."),
        ], ex, "column 2k holds sin(pos / 10000^(2k/d_model)) and column 2k+1 the cosine of the same angle, "
               "pos = 0, 1, ..., length − 1.")
    passed(ex, "sin in even columns, cos in odd ones, one angle per pair.")


# ---------------------------------------------------------------------------------- 6.3 relative bias


def _lookup(table: np.ndarray, m: int, n: int) -> np.ndarray:
    bias = RelativePositionBias(1, max_distance=(len(table) - 1) // 2).double()
    with torch.no_grad():
        bias.table.copy_(torch.as_tensor(table)[None, :])
        return bias(m, n)[0].numpy()  # (h, m, n) -> (m, n)


def check_relative_bias(relative_bias: Callable) -> None:
    """Exercise 6.3: ``relative_bias(table, m, n) -> (m, n)`` with entry table[clip(i − j, −D, D) + D]."""
    ex = "Exercise 6.3 (relative_bias)"
    rng = np.random.default_rng(63)
    # First offsets that all lie inside ±D (no clipping needed), then a table too short for them.
    for D, m, n in ((5, 3, 4), (2, 4, 7)):
        table = rng.normal(size=2 * D + 1)  # (2D + 1,)
        try:
            got = as_array(call(relative_bias, table, m, n, exercise=ex), ex)
        except CheckFailed as err:
            if "IndexError" in str(err):
                raise CheckFailed(
                    f"{ex}: with m={m}, n={n} and a table for offsets −{D}..{D}, an index fell outside the table. "
                    f"Offsets i − j run from {m - 1} down to {-(n - 1)}: clip them to [−D, D] first "
                    "(np.clip), then add D."
                ) from None
            raise
        expect_shape(got, (m, n), ex, {(n, m): "Your bias is (n, m): one ROW per query i, one column per key j."})
        want = _lookup(table, m, n)
        if close(got, want, tol=1e-12):
            continue
        i, j = np.arange(m)[:, None], np.arange(n)[None, :]
        off = np.clip(i - j, -D, D)
        diagnose(got, [
            (table[np.clip(j - i, -D, D) + D], "you looked up j − i; the offset is i − j (query position minus key "
                                                "position), so table[D + 1] is for a key one step BEFORE the query."),
            (table[np.abs(off) + D], "the bias depends on the SIGNED offset i − j: a key one step before the query "
                                     "and one step after it get different entries. Do not take abs()."),
            (table[(off + D + 1) % len(table)], "off by one: offset −D is table[0] and offset 0 is table[D], so "
                                               "the index is offset + D, not offset + D + 1."),
            (table[off + D - 1], "off by one: offset −D is table[0] and offset 0 is table[D], so the index is "
                                 "offset + D, not offset + D − 1."),
            (table[off], "you forgot to shift by D: offset −D is table[0], offset 0 is table[D]. A negative index "
                         "silently wraps around in NumPy."),
            (table[(i - j + D) % len(table)], "offsets beyond ±D wrapped around the table: clip them to [−D, D] "
                                              "(np.clip) before adding D."),
        ], ex, "entry (i, j) must be table[clip(i − j, −D, D) + D] with D = (len(table) − 1) // 2.")
    passed(ex, "entry (i, j) = table[clip(i − j, −D, D) + D].")


# ---------------------------------------------------------------------------------- 6.4 multiset bound


def _multiset_variant(pairs: list, kind: str, tie: str = "first") -> float:
    """The answer of a known wrong version of multiset_accuracy.

    kind: "no_eos", "full", "uniform", "distinct" (wrong probability), "argmax" (the best guess scored
    0/1 against the actual next token; ``tie`` picks among equally frequent tokens: "first" seen,
    "last" seen, "smallest", "largest"), "per_pair" (the mean of per-pair accuracies) or
    "source_order" (the written tokens removed in source order instead of target order).
    """
    scores = []  # (right, tokens) per pair
    for src, tgt in pairs:
        remaining = Counter(src)
        right = 0.0
        for t, token in enumerate(tgt):
            live = [c for c in remaining.values() if c > 0]  # counts of the tokens still to write
            k = sum(live)
            if kind == "argmax":
                top = max(live)
                ties = [tok for tok, c in remaining.items() if c == top]
                guess = {"first": ties[0], "last": ties[-1], "smallest": min(ties), "largest": max(ties)}[tie]
                right += float(guess == token)
            else:
                right += {"no_eos": max(live) / k, "full": max(Counter(src).values()) / len(src),
                          "uniform": 1 / k, "distinct": 1 / len(live), "per_pair": max(live) / k,
                          "source_order": max(live) / k}[kind]
            remaining[src[t] if kind == "source_order" else token] -= 1
        with_eos = kind != "no_eos"
        scores.append((right + (1.0 if with_eos else 0.0), len(tgt) + with_eos))
    if kind == "per_pair":
        return float(np.mean([r / c for r, c in scores]))
    return sum(r for r, _ in scores) / sum(c for _, c in scores)


def _pairs_for_6_4() -> list[tuple[list[int], list[int]]]:
    rng = np.random.default_rng(64)
    pairs = [([3, 3, 4], [3, 3, 4]), ([5, 6, 5, 7, 5], [5, 7, 5, 6, 5])]  # copy with repeats, reverse
    for length in (4, 6):
        for _ in range(3):
            src = [int(t) for t in rng.integers(3, 8, size=length)]
            pairs.append((src, src[::-1] if length == 6 else list(src)))
    return pairs


def check_multiset_accuracy(multiset_accuracy_fn: Callable) -> None:
    """Exercise 6.4: ``multiset_accuracy(pairs) -> float``, the best accuracy from the token multiset alone."""
    ex = "Exercise 6.4 (multiset_accuracy)"
    pairs = _pairs_for_6_4()
    argmax_hint = ("you scored the guess 0 or 1 against the actual next token. The question asks for the EXPECTED "
                   "accuracy: over the equally likely orders, the best guess is right with probability "
                   "(its count)/k — add that probability, not whether this sample happened to match.")
    got = _scalar(call(multiset_accuracy_fn, copy.deepcopy(pairs), exercise=ex), ex, "an accuracy between 0 and 1")
    want = multiset_accuracy(pairs)
    if not close(got, want, tol=1e-9):
        diagnose(np.asarray(got), [
            (_multiset_variant(pairs, "no_eos"), "count the EOS token too: the length is fixed, so it is always "
                                                 "right, and token accuracy averages over n + 1 tokens per pair."),
            (_multiset_variant(pairs, "full"), "at each step only the tokens NOT yet written remain: remove the "
                                               "target prefix target[:t] from the source multiset before guessing."),
            (_multiset_variant(pairs, "uniform"), "1/k is a uniform guess over the k remaining tokens. The best "
                                                  "guess is the MOST FREQUENT remaining token, right with "
                                                  "probability (its count)/k."),
            (_multiset_variant(pairs, "distinct"), "1/(number of distinct remaining tokens) is a uniform guess over "
                                                   "the kinds of token. The best guess is the most frequent one, "
                                                   "right with probability (its count)/k."),
            *[(_multiset_variant(pairs, "argmax", tie), argmax_hint) for tie in ("first", "last", "smallest", "largest")],
            (_multiset_variant(pairs, "per_pair"), "you averaged per pair (the mean of each pair's accuracy). Average "
                                                   "per TOKEN: add up the expected hits of all pairs and divide by the "
                                                   "total number of target tokens, n + 1 per pair, as token_accuracy "
                                                   "does."),
            (_multiset_variant(pairs, "source_order"), "you removed the written tokens in SOURCE order. The decoder "
                                                       "writes the TARGET: at step t remove target[t] from the "
                                                       "multiset (for reverse that is not source[t])."),
        ], ex, "at step t the remaining tokens are source − target[:t] (as a multiset); the best guess is right with "
               "probability max count / k; EOS adds 1; average over all n + 1 tokens of every pair.")
    single = _scalar(call(multiset_accuracy_fn, [([4, 4, 4], [4, 4, 4])], exercise=ex), ex, "an accuracy")
    if not close(single, 1.0, tol=1e-9):
        raise CheckFailed(f"{ex}: a source of three identical tokens leaves nothing to guess — the answer must be 1, "
                          f"got {single:.4f}.")
    passed(ex, f"{want:.4f}: the most frequent remaining token, EOS free.")
