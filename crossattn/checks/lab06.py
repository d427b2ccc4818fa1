"""Checkers for the exercises of lab 6, where are we? Positional choices for cross-attention.

Inputs use m ≠ n ≠ d ≠ d_v (and length ≠ d_model), so a transposed result shows up as a wrong
shape with its own hint. Every named common mistake gets its own hint, by key from
crossattn/checks/exercises/lab06.py; tests/checks/test_lab06.py feeds each one in, written the way a
student would write it.
"""
from __future__ import annotations

import copy
import dis
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
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, fail, passed
from .registry import Exercise, exercise

__all__ = ["check_permutation_gap", "check_sinusoidal", "check_relative_bias", "check_multiset_accuracy"]


def _scalar(value: Any, ex: Exercise, what: str) -> float:
    arr = as_array(value, ex)
    if arr.size != 1:
        fail(ex, "not_scalar", what=what, shape=arr.shape)
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


def _reads_global(fn: Callable, name: str) -> bool:
    """Whether ``fn`` (or a comprehension or function inside it) reads ``name`` as a global, e.g. a notebook's n."""
    codes = [getattr(fn, "__code__", None)]
    while codes:
        code = codes.pop()
        if code is None:
            continue
        if any(ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval == name for ins in dis.get_instructions(code)):
            return True
        codes += [c for c in code.co_consts if hasattr(c, "co_code")]
    return False


def _call_gap(permutation_gap: Callable, attend: Callable, Q: np.ndarray, K: np.ndarray, V: np.ndarray,
              ex: Exercise) -> float:
    """The student's gap for ``attend``; a crash from a notebook's n or a tuple index gets its own hint."""
    try:
        out = call(permutation_gap, attend, Q, K, V, exercise=ex,
                   inputs=f"on an attention function, Q {Q.shape}, K {K.shape}, V {V.shape}")
    except CheckFailed as err:
        if err.key == "crash" and _reads_global(permutation_gap, "n"):
            fail(ex, "global_n", lead=f"{err.text}\n  Hint: ", n=len(K))
        if err.key == "crash" and "too many indices" in err.text:
            fail(ex, "tuple_index", lead=f"{err.text}\n  Hint: ")
        if err.key == "crash" and "could not be broadcast" in err.text:  # K[p] shorter than the attention's table
            fail(ex, "rows_lost", lead=f"{err.text}\n  Hint: ", n=len(K))
        raise
    return _scalar(out, ex, "the largest change")


def check_permutation_gap(permutation_gap: Callable) -> None:
    """Exercise 6.1: ``permutation_gap(attend, Q, K, V) -> float``, the largest output change over all source orders."""
    ex = exercise("6.1")
    rng = np.random.default_rng(62)
    m, n, d, d_v = 3, 4, 5, 2
    Q, K, V = rng.normal(size=(m, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d_v))
    order_aware = _make_order_aware(n, d)

    def flipped(Q: np.ndarray, K: np.ndarray, V: np.ndarray) -> np.ndarray:
        """The order-aware attention with its output negated: the same largest |change|."""
        return -order_aware(Q, K, V)

    blind = _call_gap(permutation_gap, _order_blind, Q, K, V, ex)
    if abs(blind) > 1e-9:
        # Over all orders, permuting only K or only V gives the same number for plain attention
        # (A·Pᵀ·V and A·P·V run over the same set); the order-aware attention tells them apart.
        aware = _call_gap(permutation_gap, order_aware, Q, K, V, ex)
        for value, key in [
            (_gap(order_aware, Q, K, V, "k"), "keys_only"),
            (_gap(order_aware, Q, K, V, "v"), "values_only"),
            (_gap(order_aware, Q, K, V, "q"), "queries"),
        ]:
            if close(aware, value, tol=1e-9):
                fail(ex, key)
        fail(ex, "blind_moves", blind=blind)
    want = _gap(order_aware, Q, K, V)
    for attend in (order_aware, flipped):
        got = _call_gap(permutation_gap, attend, Q, K, V, ex)
        if close(got, want, tol=1e-9):
            continue
        one_p = float(np.abs(attend(Q, K[::-1], V[::-1]) - attend(Q, K, V)).max())
        diagnose(np.asarray(got), [
            (_gap(attend, Q, K, V, signed=True), "signed"),
            (one_p, "one_ordering"),
            (0.0, "compared_itself"),
        ], ex, "wrong", n=n, want=want)
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
    ex = exercise("6.2")
    for length, d_model in ((9, 6), (50, 16)):
        got = as_array(call(sinusoidal, length, d_model, exercise=ex), ex)
        expect_shape(got, (length, d_model), ex, {(d_model, length): "transposed", (length, d_model // 2): "sines_only"})
        want = sinusoidal_positions(length, d_model).double().numpy()
        if close(got, want, tol=1e-4):
            continue
        d = d_model
        right = _angles(length, d, lambda k: 2 * k / d)
        diagnose(got, [
            (_interleave(np.cos(right), np.sin(right)), "swapped"),
            (_interleave(np.sin(_angles(length, d, lambda k: k / d)), np.cos(_angles(length, d, lambda k: k / d))),
             "k_over_d"),
            (_interleave(np.sin(right), np.cos(_angles(length, d, lambda k: (2 * k + 1) / d))), "per_column"),
            (_interleave(np.sin(_angles(length, d, lambda k: 2 * k / d, start=1)),
                         np.cos(_angles(length, d, lambda k: 2 * k / d, start=1))), "from_one"),
            (np.concatenate([np.sin(right), np.cos(right)], axis=1), "halves"),
            (_interleave(np.sin(_angles(length, d, lambda k: 4 * k / d)), np.cos(_angles(length, d, lambda k: 4 * k / d))),
             "twice_2k"),
            (_interleave(np.sin(_angles(length, d, lambda k: 2 * k // d)),
                         np.cos(_angles(length, d, lambda k: 2 * k // d))), "int_division"),
            (_interleave(np.sin(_angles(length, d, lambda k: -2 * k / d)),
                         np.cos(_angles(length, d, lambda k: -2 * k / d))), "multiplied"),
        ], ex, "wrong")
    passed(ex, "sin in even columns, cos in odd ones, one angle per pair.")


# ---------------------------------------------------------------------------------- 6.3 relative bias


def _lookup(table: np.ndarray, m: int, n: int) -> np.ndarray:
    bias = RelativePositionBias(1, max_distance=(len(table) - 1) // 2).double()
    with torch.no_grad():
        bias.table.copy_(torch.as_tensor(table)[None, :])
        return bias(m, n)[0].numpy()  # (h, m, n) -> (m, n)


def check_relative_bias(relative_bias: Callable) -> None:
    """Exercise 6.3: ``relative_bias(table, m, n) -> (m, n)`` with entry table[clip(i − j, −D, D) + D]."""
    ex = exercise("6.3")
    rng = np.random.default_rng(63)
    # First offsets that all lie inside ±D (no clipping needed), then a table too short for them.
    for D, m, n in ((5, 3, 4), (2, 4, 7)):
        table = rng.normal(size=2 * D + 1)  # (2D + 1,)
        try:
            got = as_array(call(relative_bias, table, m, n, exercise=ex), ex)
        except CheckFailed as err:
            if err.key == "crash" and "IndexError" in err.text:
                fail(ex, "no_clip", m=m, n=n, D=D, top=m - 1, bottom=-(n - 1))
            raise
        expect_shape(got, (m, n), ex, {(n, m): "transposed"})
        want = _lookup(table, m, n)
        if close(got, want, tol=1e-12):
            continue
        i, j = np.arange(m)[:, None], np.arange(n)[None, :]
        off = np.clip(i - j, -D, D)
        diagnose(got, [
            (table[np.clip(j - i, -D, D) + D], "j_minus_i"),
            (table[np.abs(off) + D], "absolute"),
            (table[(off + D + 1) % len(table)], "plus_one"),
            (table[off + D - 1], "minus_one"),
            (table[off], "no_shift"),
            (table[(i - j + D) % len(table)], "wraps"),
            (np.trunc(want), "int_output"),
        ], ex, "wrong")
    passed(ex, "entry (i, j) = table[clip(i − j, −D, D) + D].")


# ---------------------------------------------------------------------------------- 6.4 multiset bound


def _multiset_variant(pairs: list, kind: str, tie: str = "first") -> float:
    """The answer of a known wrong version of multiset_accuracy.

    kind: "no_eos", "eos_uncounted" (its 1 added, its token not counted), "full", "fixed_k", "uniform",
    "distinct" (wrong probability), "argmax" (the best guess scored 0/1 against the actual next token;
    ``tie`` picks among equally frequent tokens: "first" seen, "last" seen, "smallest", "largest"),
    "per_pair" (the mean of per-pair accuracies) or "source_order" (the written tokens removed in source
    order instead of target order).
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
                          "fixed_k": max(live) / len(src), "eos_uncounted": max(live) / k,
                          "uniform": 1 / k, "distinct": 1 / len(live), "per_pair": max(live) / k,
                          "source_order": max(live) / k}[kind]
            remaining[src[t] if kind == "source_order" else token] -= 1
        with_eos = kind != "no_eos"
        scores.append((right + (1.0 if with_eos else 0.0), len(tgt) + (with_eos and kind != "eos_uncounted")))
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
    ex = exercise("6.4")
    pairs = _pairs_for_6_4()
    try:
        out = call(multiset_accuracy_fn, copy.deepcopy(pairs), exercise=ex)
    except CheckFailed as err:
        # k = 0 remaining: the written token removed before its guess, or EOS guessed from an empty multiset
        if err.key == "crash" and ("ZeroDivisionError" in err.text or "empty" in err.text):
            fail(ex, "nothing_left", lead=f"{err.text}\n  Hint: ")
        raise
    got = _scalar(out, ex, "an accuracy between 0 and 1")
    want = multiset_accuracy(pairs)
    if not close(got, want, tol=1e-9):
        diagnose(np.asarray(got), [
            (_multiset_variant(pairs, "no_eos"), "no_eos"),
            (_multiset_variant(pairs, "full"), "whole_source"),
            (_multiset_variant(pairs, "fixed_k"), "fixed_k"),
            (_multiset_variant(pairs, "eos_uncounted"), "eos_uncounted"),
            (_multiset_variant(pairs, "uniform"), "uniform"),
            (_multiset_variant(pairs, "distinct"), "distinct"),
            *[(_multiset_variant(pairs, "argmax", tie), "argmax") for tie in ("first", "last", "smallest", "largest")],
            (_multiset_variant(pairs, "per_pair"), "per_pair"),
            (_multiset_variant(pairs, "source_order"), "source_order"),
        ], ex, "wrong")
    single = _scalar(call(multiset_accuracy_fn, [([4, 4, 4], [4, 4, 4])], exercise=ex), ex, "an accuracy")
    if not close(single, 1.0, tol=1e-9):
        fail(ex, "identical", single=single)
    passed(ex, f"{want:.4f}: the most frequent remaining token, EOS free.")
