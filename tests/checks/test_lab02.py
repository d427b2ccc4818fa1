"""Lab 2's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import numpy as np
import pytest

import crossattn
from crossattn import softmax as package_softmax
from crossattn.checks import (
    CheckFailed,
    check_attention_flops,
    check_masked_attention,
    check_padding_mask,
    check_scores,
    check_split_heads,
)
from tests.checks.conventions import named_mistakes_test
from tests.helpers import solution_namespace


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("02")


# --- named mistakes, one small student-like function each --------------------------------------

def _softmax_rows(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# Exercise 2.1: scores(Q, K)
def scores_transposed(Q, K):
    return K @ Q.T / np.sqrt(Q.shape[-1])


def scores_unscaled(Q, K):
    return Q @ K.T


def scores_divided_by_d(Q, K):
    return Q @ K.T / Q.shape[-1]


def scores_divided_by_sqrt_n(Q, K):
    return Q @ K.T / np.sqrt(K.shape[0])


def scores_query_with_itself(Q, K):
    return Q @ Q.T / np.sqrt(Q.shape[-1])


def scores_without_transpose(Q, K):
    return Q @ K / np.sqrt(Q.shape[-1])  # (m, d) @ (n, d): does not line up


def scores_forgot_return(Q, K):
    Q @ K.T / np.sqrt(Q.shape[-1])


def scores_divided_by_2(Q, K):
    return Q @ K.T / 2  # right only when d = 4


def scores_int_sqrt(Q, K):
    return Q @ K.T / int(np.sqrt(Q.shape[-1]))  # √d rounded down


def scores_divided_by_half_d(Q, K):
    return Q @ K.T / (Q.shape[-1] / 2)


def scores_divided_by_sqrt_m(Q, K):
    return Q @ K.T / np.sqrt(Q.shape[0])


def scores_multiplied(Q, K):
    return Q @ K.T * np.sqrt(Q.shape[-1])


def scores_negative_distances(Q, K):
    diff = Q[:, None, :] - K[None, :, :]  # (m, n, d): closeness, as a distance
    return -np.sum(diff**2, axis=-1) / np.sqrt(Q.shape[-1])


# Exercise 2.2: attention(Q, K, V) -> (out, weights)
def attention_softmax_over_queries(Q, K, V):
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    e = np.exp(s - s.max(axis=0, keepdims=True))
    w = e / e.sum(axis=0, keepdims=True)  # columns sum to 1
    return w @ V, w


def attention_unscaled(Q, K, V):
    w = _softmax_rows(Q @ K.T)
    return w @ V, w


def attention_no_softmax(Q, K, V):
    w = Q @ K.T / np.sqrt(Q.shape[-1])
    return w @ V, w


def attention_blends_keys(Q, K, V):
    w = _softmax_rows(Q @ K.T / np.sqrt(Q.shape[-1]))
    return w @ K, w


def attention_pair_swapped(Q, K, V):
    w = _softmax_rows(Q @ K.T / np.sqrt(Q.shape[-1]))
    return w, w @ V


def attention_unstable_softmax(Q, K, V):
    e = np.exp(Q @ K.T / np.sqrt(Q.shape[-1]))  # no max subtraction: overflows for large scores
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ V, w


def attention_returns_out_only(Q, K, V):
    w = _softmax_rows(Q @ K.T / np.sqrt(Q.shape[-1]))
    return w @ V


def attention_normalised_over_matrix(Q, K, V):
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    e = np.exp(s - s.max())
    w = e / e.sum()  # the whole matrix sums to 1, not each row
    return w @ V, w


def attention_row_max_whole_sum(Q, K, V):
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    e = np.exp(s - s.max(axis=-1, keepdims=True))  # each row's max, as asked ...
    w = e / e.sum()  # ... but the sum without an axis: the whole matrix sums to 1
    return w @ V, w


def attention_no_keepdims(Q, K, V):
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    e = np.exp(s - s.max(axis=-1))  # (m, n) - (m,): does not broadcast
    w = e / e.sum(axis=-1)
    return w @ V, w


def attention_keys_times_queries(Q, K, V):
    w = _softmax_rows(K @ Q.T / np.sqrt(Q.shape[-1]))  # (n, m): one row per key
    return w @ V, w  # (n, m) @ (n, d_v) does not line up


def attention_row_sum_as_a_row(Q, K, V):
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1)[None]  # (m, n) / (1, m): the sums lie along a row, not a column
    return w @ V, w


def attention_global_max(Q, K, V):
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    e = np.exp(s - s.max())  # the max of the whole matrix: other rows underflow
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ V, w


def attention_divided_by_2(Q, K, V):
    w = _softmax_rows(Q @ K.T / 2)  # right only when d = 4
    return w @ V, w


def attention_package_softmax(Q, K, V):
    w = crossattn.softmax(Q @ K.T / np.sqrt(Q.shape[-1]), axis=-1)
    return w @ V, w


def attention_package_attention(Q, K, V):
    return crossattn.attention(Q, K, V)


def attention_weights_transposed(Q, K, V):
    w = _softmax_rows(Q @ K.T / np.sqrt(Q.shape[-1]))
    return w @ V, w.T  # (n, m)


def attention_by_sqrt_n(Q, K, V):
    w = _softmax_rows(Q @ K.T / np.sqrt(K.shape[0]))
    return w @ V, w


def attention_by_sqrt_m(Q, K, V):
    w = _softmax_rows(Q @ K.T / np.sqrt(Q.shape[0]))
    return w @ V, w


def attention_by_half_d(Q, K, V):
    w = _softmax_rows(Q @ K.T / (Q.shape[-1] / 2))
    return w @ V, w


def attention_values_reversed(Q, K, V):
    w = _softmax_rows(Q @ K.T / np.sqrt(Q.shape[-1]))
    return w @ V[::-1], w


def attention_negated_scores(Q, K, V):
    w = _softmax_rows(-Q @ K.T / np.sqrt(Q.shape[-1]))
    return w @ V, w


# Exercise 2.3: padding_mask(lengths, m, n) -> (B, m, n)
def padding_mask_inverted(lengths, m, n):
    is_pad = np.arange(n)[None, :] >= np.asarray(lengths)[:, None]  # True = blocked, as in nn.MultiheadAttention
    return np.repeat(is_pad[:, None, :], m, axis=1)


def padding_mask_batch_as_queries(lengths, m, n):
    real = np.arange(n)[None, :] < lengths[:, None]  # (B, n)
    return np.broadcast_to(real, (len(lengths), m, n)).copy()  # (B, n) lines up as (1, B, n): needs B = m


def padding_mask_n_by_m(lengths, m, n):
    real = np.arange(n)[None, :] < np.asarray(lengths)[:, None]  # (B, n)
    return np.repeat(real[:, :, None], m, axis=2)  # (B, n, m): one row per key


def padding_mask_not_repeated(lengths, m, n):
    return np.arange(n)[None, :] < np.asarray(lengths)[:, None]  # (B, n)


def padding_mask_masks_queries(lengths, m, n):
    real_query = np.arange(m)[None, :] < np.asarray(lengths)[:, None]  # (B, m)
    return np.repeat(real_query[:, :, None], n, axis=2)


def padding_mask_off_by_one(lengths, m, n):
    real = np.arange(n)[None, :] <= np.asarray(lengths)[:, None]
    return np.repeat(real[:, None, :], m, axis=1)


def padding_mask_of_ints(lengths, m, n):
    real = (np.arange(n)[None, :] < np.asarray(lengths)[:, None]).astype(int)
    return np.repeat(real[:, None, :], m, axis=1)


def padding_mask_broadcast(lengths, m, n):
    return (np.arange(n)[None, :] < np.asarray(lengths)[:, None])[:, None, :]  # (B, 1, n)


def padding_mask_all_false(lengths, m, n):
    return np.zeros((len(lengths), m, n), dtype=bool)  # passes "padding never moves the output"


def padding_mask_blocks_last_real(lengths, m, n):
    real = np.arange(n)[None, :] < np.asarray(lengths)[:, None] - 1  # one short: the last real key blocked
    return np.repeat(real[:, None, :], m, axis=1)


def padding_mask_longest_length(lengths, m, n):
    real = np.arange(n) < np.max(lengths)  # every sentence as long as the longest
    return np.broadcast_to(real, (len(lengths), m, n)).copy()


def padding_mask_shortest_length(lengths, m, n):
    real = np.arange(n) < np.min(lengths)  # every sentence as short as the shortest
    return np.broadcast_to(real, (len(lengths), m, n)).copy()


# Exercise 2.4: masked_attention(Q, K, V, mask) -> (out, weights)
def masked_attention_nan_rows(Q, K, V, mask):
    s = np.where(mask, Q @ K.T / np.sqrt(Q.shape[-1]), -np.inf)
    w = _softmax_rows(s)  # a row of -inf gives nan
    return w @ V, w


def masked_attention_fill_minus_1e9(Q, K, V, mask):
    s = np.where(mask, Q @ K.T / np.sqrt(Q.shape[-1]), -1e9)
    w = _softmax_rows(s)
    return w @ V, w


def masked_attention_add_minus_1e9(Q, K, V, mask):
    s = Q @ K.T / np.sqrt(Q.shape[-1]) + np.where(mask, 0.0, -1e9)
    w = _softmax_rows(s)
    return w @ V, w


def masked_attention_zero_after_softmax(Q, K, V, mask):
    w = _softmax_rows(Q @ K.T / np.sqrt(Q.shape[-1])) * mask
    return w @ V, w


def masked_attention_inverted(Q, K, V, mask):
    s = np.where(mask, -np.inf, Q @ K.T / np.sqrt(Q.shape[-1]))  # blocks the keys it may see
    top = s.max(axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    w = e / np.where(total > 0, total, 1.0)
    return w @ V, w


def masked_attention_fill_zero(Q, K, V, mask):
    s = np.where(mask, Q @ K.T / np.sqrt(Q.shape[-1]), 0.0)
    w = _softmax_rows(s)
    return w @ V, w


def _safe_rows(s):
    """A row-wise softmax that gives an all -inf row zeros, as in the lab's solution."""
    top = s.max(axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def masked_attention_unscaled(Q, K, V, mask):
    w = _safe_rows(np.where(mask, Q @ K.T, -np.inf))
    return w @ V, w


def masked_attention_divided_by_2(Q, K, V, mask):
    w = _safe_rows(np.where(mask, Q @ K.T / 2, -np.inf))
    return w @ V, w


def masked_attention_max_over_all_keys(Q, K, V, mask):
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    e = np.exp(s - s.max(axis=-1, keepdims=True)) * mask  # the max includes blocked keys
    total = e.sum(axis=-1, keepdims=True)
    w = e / np.where(total > 0, total, 1.0)
    return w @ V, w


def masked_attention_softmax_then_renormalise(Q, K, V, mask):
    w = _softmax_rows(Q @ K.T / np.sqrt(Q.shape[-1])) * mask  # softmax over all keys first
    total = w.sum(axis=-1, keepdims=True)
    w = w / np.where(total > 0, total, 1.0)
    return w @ V, w


def masked_attention_nan_to_num(Q, K, V, mask):
    s = np.where(mask, Q @ K.T / np.sqrt(Q.shape[-1]), -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))  # all-blocked row: -inf - (-inf)
    w = np.nan_to_num(e / e.sum(axis=-1, keepdims=True))  # 0/0, cleaned up after
    return w @ V, w


def masked_attention_package_attention(Q, K, V, mask):
    return crossattn.attention(Q, K, V, mask=mask)


def masked_attention_imported_softmax(Q, K, V, mask):
    s = np.where(mask, Q @ K.T / np.sqrt(Q.shape[-1]), -np.inf)
    w = package_softmax(s, axis=-1)  # from crossattn import softmax
    return w @ V, w


def masked_attention_no_keepdims(Q, K, V, mask):
    s = np.where(mask, Q @ K.T / np.sqrt(Q.shape[-1]), -np.inf)
    top = s.max(axis=-1)  # (m,): does not line up with (m, n)
    e = np.exp(s - np.where(np.isfinite(top), top, 0.0))
    w = e / e.sum(axis=-1)
    return w @ V, w


def masked_attention_transposed_scores(Q, K, V, mask):
    s = np.where(mask, K @ Q.T / np.sqrt(Q.shape[-1]), -np.inf)  # (n, m) scores meet the (m, n) mask
    w = _safe_rows(s)
    return w @ V, w


def masked_attention_no_transpose(Q, K, V, mask):
    w = _safe_rows(np.where(mask, Q @ K / np.sqrt(Q.shape[-1]), -np.inf))  # (m, d) @ (n, d) does not line up
    return w @ V, w


def masked_attention_by_sqrt_n(Q, K, V, mask):
    w = _safe_rows(np.where(mask, Q @ K.T / np.sqrt(K.shape[0]), -np.inf))
    return w @ V, w


def masked_attention_by_sqrt_m(Q, K, V, mask):
    w = _safe_rows(np.where(mask, Q @ K.T / np.sqrt(Q.shape[0]), -np.inf))
    return w @ V, w


def masked_attention_by_half_d(Q, K, V, mask):
    w = _safe_rows(np.where(mask, Q @ K.T / (Q.shape[-1] / 2), -np.inf))
    return w @ V, w


def masked_attention_values_reversed(Q, K, V, mask):
    w = _safe_rows(np.where(mask, Q @ K.T / np.sqrt(Q.shape[-1]), -np.inf))
    return w @ V[::-1], w


def masked_attention_negated_scores(Q, K, V, mask):
    w = _safe_rows(np.where(mask, -Q @ K.T / np.sqrt(Q.shape[-1]), -np.inf))
    return w @ V, w


def masked_attention_returns_out_only(Q, K, V, mask):
    w = _safe_rows(np.where(mask, Q @ K.T / np.sqrt(Q.shape[-1]), -np.inf))
    return w @ V


# Exercise 2.5: split_heads(X, h) -> (h, L, d_head)
def split_heads_bare_reshape(X, h):
    L, width = X.shape
    return X.reshape(h, L, width // h)


def split_heads_full_transpose(X, h):
    L, width = X.shape
    return X.reshape(L, h, width // h).T  # .T reverses all three axes: (d_head, h, L)


def split_heads_no_transpose(X, h):
    L, width = X.shape
    return X.reshape(L, h, width // h)


def split_heads_strided(X, h):
    L, width = X.shape
    return X.reshape(L, width // h, h).transpose(2, 0, 1)  # head j gets every h-th column


def split_heads_wrong_transpose(X, h):
    L, width = X.shape
    return X.reshape(L, h, width // h).transpose(1, 2, 0)  # (h, d_head, L)


def split_heads_list_of_heads(X, h):
    d_head = X.shape[1] // h
    return [X[:, j * d_head:(j + 1) * d_head] for j in range(h)]  # a list


def split_heads_hard_coded_d_head(X, h):
    L = X.shape[0]
    return X.reshape(L, h, 4).transpose(1, 0, 2)  # d_head = 4 fixed


def split_heads_reversed(X, h):
    L, width = X.shape
    return X.reshape(L, h, width // h).transpose(1, 0, 2)[::-1]  # heads numbered from the last columns


# Exercise 2.6: attention_flops(m, n, d, d_v)
def flops_scores_only(m, n, d, d_v):
    return 2 * m * n * d


def flops_no_factor_two(m, n, d, d_v):
    return m * n * d + m * n * d_v


def flops_assumes_d_v_equals_d(m, n, d, d_v):
    return 4 * m * n * d


def flops_assumes_d_equals_d_v(m, n, d, d_v):
    return 4 * m * n * d_v


def flops_forgot_return(m, n, d, d_v):
    2 * m * n * d + 2 * m * n * d_v


def flops_float(m, n, d, d_v):
    return 2.0 * m * n * (d + d_v)  # the right count, as a float


def flops_hard_coded(m, n, d, d_v):
    return 294  # the answer for the first sizes only


def flops_with_softmax(m, n, d, d_v):
    return 2 * m * n * d + 2 * m * n * d_v + m * n  # the softmax counted too


def flops_per_product(m, n, d, d_v):
    return 2 * m * n * d, 2 * m * n * d_v  # two counts, not their total


MISTAKES = {
    "2.1": {
        "transposed": scores_transposed,
        "no_transpose": scores_without_transpose,
        "query_with_itself": scores_query_with_itself,
        "unscaled": scores_unscaled,
        "by_d": scores_divided_by_d,
        "multiplied": scores_multiplied,
        "by_sqrt_n": scores_divided_by_sqrt_n,
        "by_sqrt_m": scores_divided_by_sqrt_m,
        "rounded_sqrt": (scores_divided_by_2, scores_int_sqrt),  # int(√6) = 2: the same numbers
        "wrong_scale": scores_divided_by_half_d,
        "none": scores_forgot_return,
        "wrong": scores_negative_distances,
    },
    "2.2": {
        "no_keepdims": (attention_no_keepdims, attention_row_sum_as_a_row),
        "package": (attention_package_softmax, attention_package_attention),
        "not_pair": attention_returns_out_only,
        "pair_swapped": attention_pair_swapped,
        "matmul_shapes": attention_keys_times_queries,
        "keys_first": attention_weights_transposed,
        "columns": attention_softmax_over_queries,
        "whole_matrix": (attention_normalised_over_matrix, attention_row_max_whole_sum),
        "raw_scores": attention_no_softmax,
        "unscaled": attention_unscaled,
        "by_sqrt_n": attention_by_sqrt_n,
        "by_sqrt_m": attention_by_sqrt_m,
        "wrong_scale": attention_by_half_d,
        "rounded_sqrt": attention_divided_by_2,
        "blends_keys": attention_blends_keys,
        "wrong_out": attention_values_reversed,
        "overflow": attention_unstable_softmax,
        "global_max": attention_global_max,
        "wrong": attention_negated_scores,
    },
    "2.3": {
        "n_by_m": padding_mask_n_by_m,
        "not_repeated": padding_mask_not_repeated,
        "broadcast_shape": padding_mask_broadcast,
        "batch_as_queries": padding_mask_batch_as_queries,
        "not_bool": padding_mask_of_ints,
        "off_by_one": padding_mask_off_by_one,
        "inverted": padding_mask_inverted,
        "masks_queries": padding_mask_masks_queries,
        "all_false": padding_mask_all_false,
        "blocks_last_real": padding_mask_blocks_last_real,
        "reads_padding": padding_mask_longest_length,
        "ignores_real": padding_mask_shortest_length,
    },
    "2.4": {
        "no_keepdims": masked_attention_no_keepdims,
        "package": (masked_attention_package_attention, masked_attention_imported_softmax),
        "not_pair": masked_attention_returns_out_only,
        "nan_rows": masked_attention_nan_rows,
        "fill_minus_1e9": masked_attention_fill_minus_1e9,
        "zero_after_softmax": masked_attention_zero_after_softmax,
        "inverted": masked_attention_inverted,
        "transposed_operand": masked_attention_transposed_scores,
        "matmul_shapes": masked_attention_no_transpose,
        "add_minus_1e9": masked_attention_add_minus_1e9,
        "fill_zero": masked_attention_fill_zero,
        "unscaled": masked_attention_unscaled,
        "by_sqrt_n": masked_attention_by_sqrt_n,
        "by_sqrt_m": masked_attention_by_sqrt_m,
        "wrong_scale": masked_attention_by_half_d,
        "rounded_sqrt": masked_attention_divided_by_2,
        "wrong_out": masked_attention_values_reversed,
        # the same numbers on every input (a test below): one hint names both ways of getting there
        "blocked_max": (masked_attention_max_over_all_keys, masked_attention_softmax_then_renormalise),
        "warns": masked_attention_nan_to_num,
        "wrong": masked_attention_negated_scores,
    },
    "2.5": {
        "not_one_array": split_heads_list_of_heads,
        "no_transpose": split_heads_no_transpose,
        "full_transpose": split_heads_full_transpose,
        "wrong_transpose": split_heads_wrong_transpose,
        "bare_reshape": split_heads_bare_reshape,
        "strided": split_heads_strided,
        "hard_coded": split_heads_hard_coded_d_head,
        "wrong": split_heads_reversed,
    },
    "2.6": {
        "returned_none": flops_forgot_return,
        "not_int_type": flops_per_product,
        "scores_only": flops_scores_only,
        "no_factor_two": flops_no_factor_two,
        "assumes_d_v_is_d": flops_assumes_d_v_equals_d,
        "assumes_d_is_d_v": flops_assumes_d_equals_d_v,
        "float": flops_float,
        "hard_coded": flops_hard_coded,
        "wrong": flops_with_softmax,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES, one_line=True)


# --- special cases ----------------------------------------------------------------------------------

class _quiet:
    """Silence NumPy's warnings (overflow, 0/0) that the mistakes trigger on purpose."""

    def __enter__(self):
        self._state = np.seterr(all="ignore")

    def __exit__(self, *exc):
        np.seterr(**self._state)


def _message(checker, mistake):
    with _quiet(), pytest.raises(CheckFailed) as info:
        checker(mistake)
    return str(info.value)


@pytest.mark.parametrize("checker, mistake, shown", [
    (check_scores, scores_divided_by_2, "QKᵀ/2; divide by √d = √6 ≈ 2.449, where d = Q.shape[-1] is the width of a "
                                        "query. A hard-coded 2"),
    (check_scores, scores_divided_by_half_d, "QKᵀ/3; divide by √d = √6 ≈ 2.449, where d = Q.shape[-1] is the width "
                                             "of a query."),
    (check_scores, scores_divided_by_sqrt_m, "you divided the scores by √m = √3, the number of queries"),
    (check_masked_attention, masked_attention_nan_to_num, "NumPy reports 'invalid value'"),
    (check_split_heads, split_heads_hard_coded_d_head, "— it passed for X of shape (3, 8) with h = 2, but not for X "
                                                       "of shape (5, 6) with h = 3: is a size hard-coded?"),
    (check_attention_flops, flops_float, "the count 294.0 is right, but it is a float;"),
    (check_attention_flops, flops_hard_coded, "— it passed for (m, n, d, d_v) = (3, 7, 5, 2) but not for "
                                              "(6, 11, 8, 3): is a number hard-coded?"),
    (check_padding_mask, padding_mask_shortest_length, "changing the REAL source token at position 2 of sentence 0 "
                                                       "(length 5) does not move the output of query 0"),
    (check_padding_mask, padding_mask_longest_length, "changing the PADDED source token at position 2 of sentence 1 "
                                                      "(length 2) moves the output of query 0"),
])
def test_hints_show_the_numbers_of_the_case(checker, mistake, shown):
    assert shown in _message(checker, mistake)


def test_the_perturbation_test_goes_both_ways_and_passes_the_right_mask():
    from crossattn.checks.lab02 import _padding_effects

    lengths, m, n = np.array([5, 2, 4]), 3, 5
    right = crossattn.padding_mask(lengths, m, n)
    assert _padding_effects(right, lengths) == ([], [])
    # The controls: with all keys blocked no real token moves anything; with none blocked, padding moves.
    moves, ignored = _padding_effects(np.zeros_like(right), lengths)
    assert moves == [] and len(ignored) == m * int(lengths.sum())
    moves, ignored = _padding_effects(np.ones_like(right), lengths)
    assert ignored == [] and len(moves) == m * int((n - lengths).sum())


def test_same_answer_twins_really_give_the_same_numbers():
    rng = np.random.default_rng(7)
    Q, K = rng.normal(size=(3, 6)), rng.normal(size=(5, 6))
    assert np.array_equal(scores_int_sqrt(Q, K), scores_divided_by_2(Q, K))
    V, mask = rng.normal(size=(5, 2)), rng.random((3, 5)) < 0.7
    K[1] = Q[0] * 3000 / (Q[0] @ Q[0])  # a huge score, blocked or not
    with _quiet():
        for a, b in zip(masked_attention_softmax_then_renormalise(Q, K, V, mask),
                        masked_attention_max_over_all_keys(Q, K, V, mask)):
            assert np.allclose(a, b)


def test_refusing_the_package_leaves_the_package_and_the_callers_names_alone():
    with pytest.raises(CheckFailed, match="calls crossattn"):
        check_masked_attention(masked_attention_imported_softmax)
    from crossattn.core.dot_product import attention as original_attention
    from crossattn.core.numerics import softmax as original_softmax
    assert crossattn.softmax is original_softmax and crossattn.attention is original_attention
    assert package_softmax is original_softmax


def test_a_correct_solution_does_not_warn(solutions):
    """The 'no warning' rule of exercise 2.4 holds for the lab's own solution, with warnings as errors."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            check_masked_attention(solutions["masked_attention"])


