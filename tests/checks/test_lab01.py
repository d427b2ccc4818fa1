"""Lab 1's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import numpy as np
import pytest

from crossattn.checks import (
    CheckFailed,
    check_alignment,
    check_attend,
    check_read,
    check_relevance,
    check_softmax,
)
from tests.checks.conventions import named_mistakes_test
from tests.helpers import solution_namespace

CHECKERS = {
    "relevance": check_relevance,
    "softmax": check_softmax,
    "read": check_read,
    "attend": check_attend,
    "alignment": check_alignment,
}


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("01")


# ---------------------------------------------------------------------------- 1.1 relevance


def relevance_no_sum(query, keys):
    return keys * query


def relevance_sum_over_keys(query, keys):
    return (keys * query).sum(axis=0)


def relevance_sum_everything(query, keys):
    return np.sum(keys * query)


def relevance_distance(query, keys):
    return np.linalg.norm(keys - query, axis=1)


def relevance_minus_distance(query, keys):
    return -np.linalg.norm(keys - query, axis=1)


def relevance_cosine(query, keys):
    return keys @ query / (np.linalg.norm(keys, axis=1) * np.linalg.norm(query))


def relevance_already_softmax(query, keys):
    s = keys @ query
    return np.exp(s) / np.exp(s).sum()


def relevance_transposed(query, keys):
    return keys.T @ query


def relevance_dot_query_first(query, keys):
    return np.dot(query, keys)


def relevance_scaled(query, keys):
    return keys @ query / np.sqrt(len(query))


def relevance_forgot_return(query, keys):
    keys @ query  # noqa: B018 - the mistake is the missing return


def relevance_absolute(query, keys):
    return np.abs(keys @ query)  # "how aligned", whatever the sign


# ---------------------------------------------------------------------------- 1.2 softmax


def softmax_down_columns(scores):
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_whole_array(scores):
    e = np.exp(scores)
    return e / e.sum()


def softmax_no_exp(scores):
    return scores / scores.sum(axis=-1, keepdims=True)


def softmax_shift_numerator_only(scores):
    return np.exp(scores - scores.max(axis=-1, keepdims=True)) / np.exp(scores).sum(axis=-1, keepdims=True)


def softmax_no_keepdims(scores):
    e = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    return e / e.sum(axis=-1)


def softmax_axis_one(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_unstable(scores):
    e = np.exp(scores)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_global_max(scores):
    e = np.exp(scores - scores.max())
    return e / e.sum(axis=-1, keepdims=True)


def softmax_subtract_min(scores):
    e = np.exp(scores - scores.min(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_in_place(scores):
    scores -= scores.max(axis=-1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_returns_row_sums(scores):
    return np.exp(scores).sum(axis=-1, keepdims=True)


def softmax_returns_flat_row_sums(scores):
    return np.exp(scores).sum(axis=-1)


def softmax_rows_of_a_matrix(scores):  # right for (m, n) and (n,), wrong for (B, m, n)
    scores = np.atleast_2d(scores)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.squeeze(e / e.sum(axis=1, keepdims=True))


def softmax_base_two(scores):
    e = np.exp2(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_checker_does_not_print_overflow_warnings(recwarn):
    with pytest.raises(CheckFailed):
        check_softmax(softmax_unstable)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# ---------------------------------------------------------------------------- 1.3 read


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def read_hard_lookup(query, keys, values):
    return values[np.argmax(keys @ query)]


def read_no_softmax(query, keys, values):
    return (keys @ query) @ values


def read_plain_mean(query, keys, values):
    return values.mean(axis=0)


def read_blends_keys(query, keys, values):
    return _softmax(keys @ query) @ keys


def read_returns_weights(query, keys, values):
    return _softmax(keys @ query)


def read_forgets_to_sum(query, keys, values):
    return _softmax(keys @ query)[:, None] * values


def read_values_first(query, keys, values):
    return values @ _softmax(keys @ query)


def read_returns_both(query, keys, values):
    weights = _softmax(keys @ query)
    return weights @ values, weights


def read_scaled(query, keys, values):
    return _softmax(keys @ query / np.sqrt(len(query))) @ values


def read_divides_by_key_lengths(query, keys, values):
    return _softmax(keys @ query / np.linalg.norm(keys, axis=1)) @ values


# ---------------------------------------------------------------------------- 1.4 attend


def attend_columns(Q, K, V):
    w = _softmax((Q @ K.T).T).T
    return w @ V, w


def attend_scaled(Q, K, V):
    w = _softmax(Q @ K.T / np.sqrt(Q.shape[-1]))
    return w @ V, w


def attend_raw_scores(Q, K, V):
    s = Q @ K.T
    return s @ V, s


def attend_whole_matrix(Q, K, V):
    e = np.exp(Q @ K.T)
    w = e / e.sum()
    return w @ V, w


def attend_keys_first(Q, K, V):
    w = _softmax(K @ Q.T)
    return w @ V, w


def attend_pair_swapped(Q, K, V):
    w = _softmax(Q @ K.T)
    return w, w @ V


def attend_blends_keys(Q, K, V):
    w = _softmax(Q @ K.T)
    return w @ K, w


def attend_values_wrong(Q, K, V):
    w = _softmax(Q @ K.T)
    return w @ V[::-1], w


def attend_only_out(Q, K, V):
    return _softmax(Q @ K.T) @ V


def attend_weights_transposed(Q, K, V):
    w = _softmax(Q @ K.T)
    return w @ V, w.T


def attend_negated_scores(Q, K, V):
    w = _softmax(-Q @ K.T)  # "the closest keys": the opposite of the largest dot products
    return w @ V, w


# ---------------------------------------------------------------------------- 1.5 alignment


def align_down_columns(X, S):
    return np.argmax(_softmax(X @ S.T), axis=0)


def align_source_reads_target(X, S):
    return np.argmax(_softmax(S @ X.T), axis=-1)


def align_returns_weights(X, S):
    return _softmax(X @ S.T)


def align_returns_output(X, S):
    return _softmax(X @ S.T) @ S


def align_self_weights(X, S):
    return _softmax(X @ X.T)


def align_no_axis(X, S):
    return np.argmax(_softmax(X @ S.T))


def align_self_attention(X, S):
    return np.argmax(_softmax(X @ X.T), axis=-1)


def align_max_not_argmax(X, S):
    return np.max(_softmax(X @ S.T), axis=-1)


def align_max_of_scores(X, S):
    return (X @ S.T).max(axis=-1)


def align_argmin(X, S):
    return np.argmin(_softmax(X @ S.T), axis=-1)


def align_returns_both(X, S):
    A = _softmax(X @ S.T)
    return A, np.argmax(A, axis=-1)


def align_untransposed(X, S):
    return np.argmax(_softmax(X @ S), axis=-1)


def align_nearest(X, S):
    distances = np.linalg.norm(X[:, None, :] - S[None, :, :], axis=-1)  # (m, n)
    return np.argmin(distances, axis=-1)  # the nearest source token, not the most read


MISTAKES = {
    "1.1": {
        "no_sum": relevance_no_sum,
        "sum_over_keys": relevance_sum_over_keys,
        "sum_everything": relevance_sum_everything,
        "distance": relevance_distance,
        "minus_distance": relevance_minus_distance,
        "cosine": relevance_cosine,
        "softmaxed": relevance_already_softmax,
        "crash_shapes": (relevance_transposed, relevance_dot_query_first),
        "scaled": relevance_scaled,
        "none": relevance_forgot_return,
        "wrong": relevance_absolute,
    },
    "1.2": {
        "columns": softmax_down_columns,
        "whole_array": softmax_whole_array,
        "no_exp": softmax_no_exp,
        "shift_numerator_only": softmax_shift_numerator_only,
        "no_keepdims": softmax_no_keepdims,
        "fixed_axis": softmax_axis_one,
        "overflow": softmax_unstable,
        "global_max": softmax_global_max,
        "row_sums": softmax_returns_row_sums,
        "one_per_row": softmax_returns_flat_row_sums,
        "subtract_min": softmax_subtract_min,
        "in_place": softmax_in_place,
        "two_dims_only": softmax_rows_of_a_matrix,
        "wrong": softmax_base_two,
    },
    "1.3": {
        "returns_both": read_returns_both,
        "hard_lookup": read_hard_lookup,
        "no_softmax": read_no_softmax,
        "plain_mean": read_plain_mean,
        "blends_keys": read_blends_keys,
        "returns_weights": read_returns_weights,
        "no_sum": read_forgets_to_sum,
        "crash_shapes": read_values_first,
        "scaled": read_scaled,
        "wrong": read_divides_by_key_lengths,
    },
    "1.4": {
        "columns": attend_columns,
        "scaled": attend_scaled,
        "raw_scores": attend_raw_scores,
        "whole_matrix": attend_whole_matrix,
        "crash_shapes": attend_keys_first,
        "keys_first": attend_weights_transposed,
        "pair_swapped": attend_pair_swapped,
        "blends_keys": attend_blends_keys,
        "wrong_out": attend_values_wrong,
        "not_pair": attend_only_out,
        "wrong": attend_negated_scores,
    },
    "1.5": {
        "down_columns": (align_down_columns, align_source_reads_target),
        "returns_weights": align_returns_weights,
        "returns_output": align_returns_output,
        "self_weights": align_self_weights,
        "no_axis": align_no_axis,
        "self_attention": align_self_attention,
        "max_not_argmax": align_max_not_argmax,
        "max_of_scores": align_max_of_scores,
        "argmin": align_argmin,
        "returns_both": align_returns_both,
        "crash_shapes": align_untransposed,
        "wrong": align_nearest,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


# ---------------------------------------------------------------------------- special cases


@pytest.mark.parametrize("name", CHECKERS)
def test_the_success_line_is_short_and_names_the_random_test_not_the_lab_data(name, solutions, capsys):
    CHECKERS[name](solutions[name])
    out = capsys.readouterr().out.rstrip("\n")
    assert len(out) <= 72, f"{out!r} is wider than the website's output box"
    assert "on a random test (" in out or name == "softmax"


def test_a_crash_hint_keeps_numpys_message_and_adds_the_shapes():
    with pytest.raises(CheckFailed) as info:
        check_relevance(relevance_transposed)
    crash, hint = str(info.value).split("\n  Hint: ")
    assert crash.startswith("Exercise 1.1 (relevance): calling `relevance_transposed` on inputs (3,), (5, 3) raised ")
    assert "matmul" in crash and hint.startswith("keys is (n, d) and query (d,)")


def test_shape_hints_name_the_test_case():
    with pytest.raises(CheckFailed, match=r"got \(3,\) \(test case: n=5, d=3\)\. You summed over the keys"):
        check_relevance(relevance_sum_over_keys)


def test_the_row_the_subtract_min_mistake_gets_is_shown():
    with pytest.raises(CheckFailed, match=r"the row \[-1000, 0, 1000\] gives \[0\.0, nan, nan\], not \[0, 0, 1\]"):
        check_softmax(softmax_subtract_min)


def test_alignment_accepts_the_argmax_of_the_raw_scores():
    """Softmax keeps the order of the scores, so skipping it gives the same alignment."""
    check_alignment(lambda X, S: np.argmax(X @ S.T, axis=-1))


# ---------------------------------------------------------------------------- the inputs themselves


def test_inputs_use_distinct_sizes_so_a_transpose_cannot_pass():
    """A checker whose inputs had m == n or d == d_v could accept a transposed answer."""
    seen = {}

    def spy_attend(Q, K, V):
        seen["attend"] = (Q.shape, K.shape, V.shape)
        w = _softmax(Q @ K.T)
        return w @ V, w

    def spy_read(query, keys, values):
        seen["read"] = (query.shape, keys.shape, values.shape)
        return _softmax(keys @ query) @ values

    def spy_alignment(X, S):
        seen["alignment"] = (X.shape, S.shape)
        return np.argmax(X @ S.T, axis=-1)

    check_attend(spy_attend)
    check_read(spy_read)
    check_alignment(spy_alignment)
    (m_a, d_a), (n_a, _) = seen["alignment"]
    assert len({m_a, n_a, d_a}) == 3
    (m, d), (n, _), (_, d_v) = seen["attend"]
    assert len({m, n, d, d_v}) == 4
    (d_r,), (n_r, _), (_, dv_r) = seen["read"]
    assert len({d_r, n_r, dv_r}) == 3
