"""The checkers of lab 6 accept the lab's own solutions, reject stubs, and name each common mistake.

Each mistake below is written the way a student would write it, as a whole function, and must fail
with its own hint (matched by `pytest.raises(CheckFailed, match=...)`).
"""
from __future__ import annotations

import itertools
import re
from collections import Counter

import numpy as np
import pytest

from crossattn.checks import (
    CheckFailed,
    check_multiset_accuracy,
    check_permutation_gap,
    check_relative_bias,
    check_sinusoidal,
)
from tests.helpers import solution_namespace

CHECKERS = {
    "permutation_gap": check_permutation_gap,
    "sinusoidal": check_sinusoidal,
    "relative_bias": check_relative_bias,
    "multiset_accuracy": check_multiset_accuracy,
}


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("06")


# Reference solutions and stubs of every lab: tests/checks/test_all_labs.py.

# --- (c) named mistakes, one small student-like function each ------------------------------------

# Exercise 6.1: permutation_gap(attend, Q, K, V)
def gap_keys_only(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K[list(p)], V) - base).max())
               for p in itertools.permutations(range(len(K))))


def gap_values_only(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K, V[list(p)]) - base).max())
               for p in itertools.permutations(range(len(K))))


def gap_permutes_queries(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q[list(p)], K, V) - base).max())
               for p in itertools.permutations(range(len(Q))))


def gap_without_abs(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float((attend(Q, K[list(p)], V[list(p)]) - base).max())
               for p in itertools.permutations(range(len(K))))


def gap_one_ordering(attend, Q, K, V):
    return float(np.abs(attend(Q, K[::-1], V[::-1]) - attend(Q, K, V)).max())


def gap_forgot_to_permute(attend, Q, K, V):
    gap = 0.0
    for p in itertools.permutations(range(len(K))):
        gap = max(gap, float(np.abs(attend(Q, K, V) - attend(Q, K, V)).max()))
    return gap


def gap_forgot_return(attend, Q, K, V):
    max(float(np.abs(attend(Q, K[list(p)], V[list(p)]) - attend(Q, K, V)).max())
        for p in itertools.permutations(range(len(K))))


# Exercise 6.2: sinusoidal(length, d_model)
def _pe(length, d_model, exponent, start=0, first=np.sin, second=np.cos, layout="interleave"):
    pos = np.arange(start, start + length)[:, None]
    k = np.arange(d_model // 2)
    angle = pos / 10000 ** exponent(k, d_model)
    if layout == "halves":
        return np.concatenate([first(angle), second(angle)], axis=1)
    table = np.zeros((length, d_model))
    table[:, 0::2], table[:, 1::2] = first(angle), second(angle)
    return table


def sinusoidal_swapped(length, d_model):
    return _pe(length, d_model, lambda k, d: 2 * k / d, first=np.cos, second=np.sin)


def sinusoidal_exponent_i_over_d(length, d_model):
    return _pe(length, d_model, lambda k, d: k / d)


def sinusoidal_exponent_per_column(length, d_model):
    pos = np.arange(length)[:, None]
    angle = pos / 10000 ** (np.arange(d_model) / d_model)  # every column its own exponent
    table = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, 1::2])
    return table


def sinusoidal_positions_from_one(length, d_model):
    return _pe(length, d_model, lambda k, d: 2 * k / d, start=1)


def sinusoidal_halves(length, d_model):
    return _pe(length, d_model, lambda k, d: 2 * k / d, layout="halves")


def sinusoidal_multiplied(length, d_model):
    pos = np.arange(length)[:, None]
    angle = pos * 10000 ** (np.arange(0, d_model, 2) / d_model)
    table = np.zeros((length, d_model))
    table[:, 0::2], table[:, 1::2] = np.sin(angle), np.cos(angle)
    return table


def sinusoidal_transposed(length, d_model):
    return _pe(length, d_model, lambda k, d: 2 * k / d).T


def sinusoidal_sines_only(length, d_model):
    pos = np.arange(length)[:, None]
    return np.sin(pos / 10000 ** (np.arange(0, d_model, 2) / d_model))


# Exercise 6.3: relative_bias(table, m, n)
def _D(table):
    return (len(table) - 1) // 2


def bias_j_minus_i(table, m, n):
    D = _D(table)
    return table[np.clip(np.arange(n)[None, :] - np.arange(m)[:, None], -D, D) + D]


def bias_absolute_offset(table, m, n):
    D = _D(table)
    return table[np.clip(np.abs(np.arange(m)[:, None] - np.arange(n)[None, :]), -D, D) + D]


def bias_plus_one(table, m, n):
    D = _D(table)
    return table[np.clip(np.arange(m)[:, None] - np.arange(n)[None, :], -D, D) + D + 1]


def bias_minus_one(table, m, n):
    D = _D(table)
    return table[np.clip(np.arange(m)[:, None] - np.arange(n)[None, :], -D, D) + D - 1]


def bias_no_shift(table, m, n):
    D = _D(table)
    return table[np.clip(np.arange(m)[:, None] - np.arange(n)[None, :], -D, D)]


def bias_no_clip(table, m, n):
    return table[np.arange(m)[:, None] - np.arange(n)[None, :] + _D(table)]


def bias_wraps(table, m, n):
    return np.take(table, np.arange(m)[:, None] - np.arange(n)[None, :] + _D(table), mode="wrap")


def bias_transposed(table, m, n):
    D = _D(table)
    return table[np.clip(np.arange(m)[None, :] - np.arange(n)[:, None], -D, D) + D]


# Exercise 6.4: multiset_accuracy(pairs)
def _guess_rate(pairs, rate, eos=True):
    right, tokens = 0.0, 0
    for source, target in pairs:
        remaining = Counter(source)
        for token in target:
            right += rate(source, {t: c for t, c in remaining.items() if c > 0})
            remaining[token] -= 1
        right += 1.0 if eos else 0.0
        tokens += len(target) + (1 if eos else 0)
    return right / tokens


def multiset_no_eos(pairs):
    return _guess_rate(pairs, lambda s, live: max(live.values()) / sum(live.values()), eos=False)


def multiset_whole_source(pairs):
    return _guess_rate(pairs, lambda s, live: max(Counter(s).values()) / len(s))


def multiset_uniform_guess(pairs):
    return _guess_rate(pairs, lambda s, live: 1 / sum(live.values()))


def multiset_distinct_guess(pairs):
    return _guess_rate(pairs, lambda s, live: 1 / len(live))


def multiset_per_pair(pairs):
    return [_guess_rate([pair], lambda s, live: max(live.values()) / sum(live.values())) for pair in pairs]


def multiset_scores_the_argmax(pairs):
    # scores the most frequent remaining token 0/1 against the token actually written
    right, tokens = 0, 0
    for source, target in pairs:
        remaining = Counter(source)
        for token in target:
            guess = max(remaining, key=remaining.get)
            right += guess == token
            remaining[token] -= 1
        right += 1
        tokens += len(target) + 1
    return right / tokens


def multiset_mean_over_pairs(pairs):
    rate = lambda s, live: max(live.values()) / sum(live.values())  # noqa: E731
    return float(np.mean([_guess_rate([pair], rate) for pair in pairs]))


def multiset_source_order(pairs):
    # removes the tokens in the order of the SOURCE, not of the target
    right, tokens = 0.0, 0
    for source, target in pairs:
        remaining = Counter(source)
        for token in source:
            counts = [c for c in remaining.values() if c > 0]
            right += max(counts) / sum(counts)
            remaining[token] -= 1
        right += 1.0
        tokens += len(target) + 1
    return right / tokens


def gap_keepdims(attend, Q, K, V):
    # a (1, 1) array instead of a float: the checker must accept it
    base = attend(Q, K, V)
    gap = np.zeros((1, 1))
    for p in itertools.permutations(range(len(K))):
        change = np.abs(attend(Q, K[list(p)], V[list(p)]) - base)
        gap = np.maximum(gap, change.max(keepdims=True))
    return gap


def test_a_one_element_array_is_accepted_as_a_number(capsys):
    check_permutation_gap(gap_keepdims)
    assert capsys.readouterr().out.startswith("✓")


MISTAKES = [
    (check_permutation_gap, gap_keys_only, "keys but not the values"),
    (check_permutation_gap, gap_values_only, "values but not the keys"),
    (check_permutation_gap, gap_permutes_queries, "permuted the queries"),
    (check_permutation_gap, gap_without_abs, "ABSOLUTE value"),
    (check_permutation_gap, gap_one_ordering, "one ordering"),
    (check_permutation_gap, gap_forgot_to_permute, "compare an output with itself"),
    (check_permutation_gap, gap_forgot_return, "forget the `return`"),
    (check_sinusoidal, sinusoidal_swapped, "swapped"),
    (check_sinusoidal, sinusoidal_exponent_i_over_d, "you used k/d_model"),
    (check_sinusoidal, sinusoidal_exponent_per_column, "SAME angle"),
    (check_sinusoidal, sinusoidal_positions_from_one, "positions start at 0"),
    (check_sinusoidal, sinusoidal_halves, "all the sines first"),
    (check_sinusoidal, sinusoidal_multiplied, "you multiplied"),
    (check_sinusoidal, sinusoidal_transposed, "one ROW per position"),
    (check_sinusoidal, sinusoidal_sines_only, "TWO columns"),
    (check_relative_bias, bias_j_minus_i, "you looked up j − i"),
    (check_relative_bias, bias_absolute_offset, "SIGNED offset"),
    (check_relative_bias, bias_plus_one, r"not offset \+ D \+ 1"),
    (check_relative_bias, bias_minus_one, "not offset \\+ D − 1"),
    (check_relative_bias, bias_no_shift, "forgot to shift by D"),
    (check_relative_bias, bias_no_clip, "fell outside the table"),
    (check_relative_bias, bias_wraps, "wrapped around"),
    (check_relative_bias, bias_transposed, "one ROW per query"),
    (check_multiset_accuracy, multiset_no_eos, "count the EOS"),
    (check_multiset_accuracy, multiset_whole_source, "NOT yet written"),
    (check_multiset_accuracy, multiset_uniform_guess, "1/k is a uniform guess"),
    (check_multiset_accuracy, multiset_distinct_guess, "distinct remaining"),
    (check_multiset_accuracy, multiset_per_pair, "return one number"),
    (check_multiset_accuracy, multiset_scores_the_argmax, "EXPECTED"),
    (check_multiset_accuracy, multiset_mean_over_pairs, "per TOKEN"),
    (check_multiset_accuracy, multiset_source_order, "SOURCE order"),
]


@pytest.mark.parametrize("checker, mistake, hint", MISTAKES, ids=[m.__name__ for _, m, _ in MISTAKES])
def test_named_mistake_fails_with_its_hint(checker, mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        checker(mistake)


@pytest.mark.parametrize("checker, mistake, hint", MISTAKES, ids=[m.__name__ for _, m, _ in MISTAKES])
def test_each_hint_is_specific_to_its_mistake(checker, mistake, hint):
    # The hint of a mistake must not also be what the reference gets (it passes) or what the other
    # mistakes of the same exercise get: each names one thing to fix.
    others = [h for c, m, h in MISTAKES if c is checker and m is not mistake]
    with pytest.raises(CheckFailed) as err:
        checker(mistake)
    assert not any(re.search(h, str(err.value)) for h in others), str(err.value)


def test_checker_does_not_accept_a_gap_that_is_always_zero():
    with pytest.raises(CheckFailed, match="DOES see the order"):
        check_permutation_gap(lambda attend, Q, K, V: 0.0)


def test_student_function_that_changes_its_input_in_place_is_caught():
    def bias_in_place(table, m, n):
        table -= table.mean()  # changes the caller's table
        D = (len(table) - 1) // 2
        return table[np.clip(np.arange(m)[:, None] - np.arange(n)[None, :], -D, D) + D]

    with pytest.raises(CheckFailed, match="in place"):
        check_relative_bias(bias_in_place)
