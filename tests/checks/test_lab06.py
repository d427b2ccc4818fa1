"""Lab 6's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import itertools
import types
from collections import Counter

import numpy as np
import pytest

from crossattn.checks import CheckFailed, check_permutation_gap
from tests.checks.conventions import named_mistakes_test

# --- named mistakes, one small student-like function each --------------------------------------

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


def gap_mismatched_orders(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K[list(p)], V[list(p)[::-1]]) - base).max())  # V in another order
               for p in itertools.permutations(range(len(K))))


def gap_mean_change(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K[list(p)], V[list(p)]) - base).mean())  # the mean entry, not the largest
               for p in itertools.permutations(range(len(K))))


def gap_every_order(attend, Q, K, V):
    base = attend(Q, K, V)
    return [float(np.abs(attend(Q, K[list(p)], V[list(p)]) - base).max())  # one number per order
            for p in itertools.permutations(range(len(K)))]


def gap_tuple_index(attend, Q, K, V):
    base = attend(Q, K, V)
    n = len(K)
    return max(float(np.abs(attend(Q, K[p], V[p]) - base).max())  # p a tuple: one index per axis
               for p in itertools.permutations(range(n)))


def _gap_notebook_n(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K[list(p)], V[list(p)]) - base).max())
               for p in itertools.permutations(range(n)))  # noqa: F821 - the notebook's n, not len(K)


def _gap_notebook_n_and_tuple(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K[p], V[p]) - base).max())
               for p in itertools.permutations(range(n)))  # noqa: F821 - both mistakes at once


def _in_notebook(fn, n):
    """``fn`` defined in a notebook whose cells set the global n (lab 6 sets n = 5 before 6.1, n = 6 after it)."""
    return types.FunctionType(fn.__code__, {**globals(), "n": n}, fn.__name__.lstrip("_"))


# The checker's K has 4 rows. n = 6 for the first, so that the grader's cases (n ≤ 5) never fit it by chance;
# a real submission is graded without the notebook's globals, where the name n is undefined.
gap_notebook_n = _in_notebook(_gap_notebook_n, 6)
gap_notebook_n_and_tuple = _in_notebook(_gap_notebook_n_and_tuple, 5)


def gap_orders_of_the_queries(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K[list(p)], V[list(p)]) - base).max())
               for p in itertools.permutations(range(len(Q))))  # m orders of m rows: K[p] loses a source row


def gap_one_row_short(attend, Q, K, V):
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K[list(p)], V[list(p)]) - base).max())
               for p in itertools.permutations(range(len(K) - 1)))


def gap_transposed_queries(attend, Q, K, V):
    # crashes for another reason (Q.T inside the attention): the plain crash hint, not a named one
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q.T, K[list(p)], V[list(p)]) - base).max())
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


def sinusoidal_loop_over_even_columns(length, d_model):
    # the loop of many tutorials: i runs over the even columns and is already 2k, yet the exponent doubles it
    table = np.zeros((length, d_model))
    for pos in range(length):
        for i in range(0, d_model, 2):
            table[pos, i] = np.sin(pos / 10000 ** (2 * i / d_model))
            table[pos, i + 1] = np.cos(pos / 10000 ** (2 * i / d_model))
    return table


def sinusoidal_integer_division(length, d_model):
    return _pe(length, d_model, lambda k, d: 2 * k // d)  # 0 for every k < d/2


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


def sinusoidal_base_1000(length, d_model):
    return _pe(length, d_model, lambda k, d: 2 * k / d * np.log(1000) / np.log(10000))  # 1000^(2k/d)


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


def bias_clipped_one_short(table, m, n):
    D = _D(table)
    return table[np.clip(np.arange(m)[:, None] - np.arange(n)[None, :], -(D - 1), D - 1) + D]


def bias_into_integer_array(table, m, n):
    D = _D(table)
    offsets = np.arange(m)[:, None] - np.arange(n)[None, :]  # (m, n) integers
    bias = np.zeros_like(offsets)  # an integer array: the table's values are truncated on the way in
    for i in range(m):
        for j in range(n):
            bias[i, j] = table[min(max(offsets[i, j], -D), D) + D]
    return bias


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


def multiset_eos_added_not_counted(pairs):
    right, tokens = 0.0, 0
    for source, target in pairs:
        remaining = Counter(source)
        for token in target:
            right += max(remaining.values()) / sum(remaining.values())
            remaining[token] -= 1
            tokens += 1
        right += 1.0  # the EOS, always right ... but not counted among the tokens
    return right / tokens


def multiset_divides_by_n(pairs):
    return _guess_rate(pairs, lambda s, live: max(live.values()) / len(s))  # n, not the k that remain


def multiset_removes_before_guessing(pairs):
    right, tokens = 0.0, 0
    for source, target in pairs:
        remaining = Counter(source)
        for token in target:
            remaining[token] -= 1  # removed before its own guess: nothing left at the last token
            right += max(remaining.values()) / sum(remaining.values())
        right += 1.0
        tokens += len(target) + 1
    return right / tokens


def multiset_guesses_eos_too(pairs):
    right, tokens = 0.0, 0
    for source, target in pairs:
        remaining = [*source]
        for t in range(len(target) + 1):  # one guess too many: the EOS step has an empty multiset
            counts = Counter(remaining)
            right += max(counts.values()) / len(remaining)
            if t < len(target):
                remaining.remove(target[t])
        tokens += len(target) + 1
    return right / tokens


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


def multiset_eos_among_the_remaining(pairs):
    return _guess_rate(pairs, lambda s, live: max(live.values()) / (sum(live.values()) + 1))  # EOS one more choice


def multiset_hard_coded(pairs):
    return 0.6721014492753621  # the answer printed for the lab's pairs, returned for any pairs


def gap_keepdims(attend, Q, K, V):
    # a (1, 1) array instead of a float: the checker must accept it
    base = attend(Q, K, V)
    gap = np.zeros((1, 1))
    for p in itertools.permutations(range(len(K))):
        change = np.abs(attend(Q, K[list(p)], V[list(p)]) - base)
        gap = np.maximum(gap, change.max(keepdims=True))
    return gap


def bias_in_place(table, m, n):
    table -= table.mean()  # changes the caller's table
    D = (len(table) - 1) // 2
    return table[np.clip(np.arange(m)[:, None] - np.arange(n)[None, :], -D, D) + D]


MISTAKES = {
    "6.1": {
        "none": gap_forgot_return,
        "not_scalar": gap_every_order,
        "keys_only": gap_keys_only,
        "values_only": gap_values_only,
        "queries": gap_permutes_queries,
        "blind_moves": gap_mismatched_orders,
        "signed": gap_without_abs,
        "one_ordering": gap_one_ordering,
        "compared_itself": (gap_forgot_to_permute, lambda attend, Q, K, V: 0.0),
        "global_n": (gap_notebook_n, gap_notebook_n_and_tuple),
        "tuple_index": gap_tuple_index,
        "rows_lost": (gap_orders_of_the_queries, gap_one_row_short),
        "wrong": gap_mean_change,
    },
    "6.2": {
        "transposed": sinusoidal_transposed,
        "sines_only": sinusoidal_sines_only,
        "swapped": sinusoidal_swapped,
        "k_over_d": sinusoidal_exponent_i_over_d,
        "per_column": sinusoidal_exponent_per_column,
        "from_one": sinusoidal_positions_from_one,
        "halves": sinusoidal_halves,
        "multiplied": sinusoidal_multiplied,
        "twice_2k": sinusoidal_loop_over_even_columns,
        "int_division": sinusoidal_integer_division,
        "wrong": sinusoidal_base_1000,
    },
    "6.3": {
        "in_place": bias_in_place,
        "no_clip": bias_no_clip,
        "transposed": bias_transposed,
        "j_minus_i": bias_j_minus_i,
        "absolute": bias_absolute_offset,
        "plus_one": bias_plus_one,
        "minus_one": bias_minus_one,
        "no_shift": bias_no_shift,
        "wraps": bias_wraps,
        "int_output": bias_into_integer_array,
        "wrong": bias_clipped_one_short,
    },
    "6.4": {
        "not_scalar": multiset_per_pair,
        "no_eos": multiset_no_eos,
        "whole_source": multiset_whole_source,
        "fixed_k": multiset_divides_by_n,
        "eos_uncounted": multiset_eos_added_not_counted,
        "nothing_left": (multiset_removes_before_guessing, multiset_guesses_eos_too),
        "uniform": multiset_uniform_guess,
        "distinct": multiset_distinct_guess,
        "argmax": multiset_scores_the_argmax,
        "per_pair": multiset_mean_over_pairs,
        "source_order": multiset_source_order,
        "identical": multiset_hard_coded,
        "wrong": multiset_eos_among_the_remaining,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


# --- special cases ----------------------------------------------------------------------------------

def test_a_one_element_array_is_accepted_as_a_number(capsys):
    check_permutation_gap(gap_keepdims)
    assert capsys.readouterr().out.startswith("✓")


def test_the_hard_coded_answer_is_the_lab_s_own():
    from crossattn.checks.lab06 import _pairs_for_6_4
    from crossattn.experiments.order import multiset_accuracy

    assert multiset_hard_coded([]) == multiset_accuracy(_pairs_for_6_4())


def test_a_crash_of_another_kind_keeps_the_plain_crash_hint():
    # the control of global_n, tuple_index and rows_lost: a crash none of them explains, so no named hint
    with pytest.raises(CheckFailed) as info:
        check_permutation_gap(gap_transposed_queries)
    assert info.value.key == "crash"
