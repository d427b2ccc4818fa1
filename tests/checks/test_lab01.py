"""The checkers of lab 1 accept the lab's own solutions, reject its stubs, and name each common mistake.

The reference solutions are taken from the notebook's solution cells and the stubs are made from
those cells by the student tool, so these tests cover exactly what a student sees. Each mistake
is written the way a student would write it, and must fail with its own hint.
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


# ---------------------------------------------------------------------------- reference and stub


@pytest.mark.parametrize("name", CHECKERS)
def test_the_success_line_is_short_and_names_the_random_test_not_the_lab_data(name, solutions, capsys):
    CHECKERS[name](solutions[name])
    out = capsys.readouterr().out.rstrip("\n")
    assert len(out) <= 72, f"{out!r} is wider than the website's output box"
    assert "on a random test (" in out or name == "softmax"


def test_a_value_instead_of_a_function_is_refused():
    with pytest.raises(CheckFailed, match="pass your function itself"):
        check_relevance(np.zeros(3))


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


@pytest.mark.parametrize("mistake, hint", [
    (relevance_no_sum, r"did not sum over the d coordinates"),
    (relevance_sum_over_keys, r"got \(3,\) \(test case: n=5, d=3\)\. You summed over the keys \(axis 0\)"),
    (relevance_sum_everything, r"summed everything into one number"),
    (relevance_distance, r"that is the distance"),
    (relevance_minus_distance, r"that is minus the distance"),
    (relevance_cosine, r"cosine similarity"),
    (relevance_already_softmax, r"already weights \(you applied softmax\)"),
    (relevance_transposed, r"matmul.*\n  Hint: keys is \(n, d\) and query \(d,\): keys @ query"),
    (relevance_dot_query_first, r"not aligned.*\n  Hint: keys is \(n, d\) and query \(d,\): keys @ query"),
    (relevance_scaled, r"no √d yet"),
    (relevance_forgot_return, r"None — did you forget the `return`"),
])
def test_relevance_mistakes_get_their_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_relevance(mistake)


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


@pytest.mark.parametrize("mistake, hint", [
    (softmax_down_columns, r"each ROW must sum to 1"),
    (softmax_whole_array, r"normalised over the whole array"),
    (softmax_no_exp, r"exponentiate first"),
    (softmax_shift_numerator_only, r"max in the numerator only"),
    (softmax_no_keepdims, r"keepdims=True"),
    (softmax_axis_one, r"use axis=-1"),
    (softmax_unstable, r"overflow exp\(\) and give nan"),
    (softmax_global_max, r"each ROW's own max"),
    (softmax_returns_row_sums, r"You returned the row sums"),
    (softmax_subtract_min, r"\[-1000, 0, 1000\].*subtract each row's MINIMUM"),
    (softmax_in_place, r"changed its argument 1 in place"),
])
def test_softmax_mistakes_get_their_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_softmax(mistake)


def test_softmax_hardcoded_for_matrices_is_caught_on_a_batch():
    def softmax_rows_of_a_matrix(scores):  # right for (m, n) and (n,), wrong for (B, m, n)
        scores = np.atleast_2d(scores)
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return np.squeeze(e / e.sum(axis=1, keepdims=True))

    with pytest.raises(CheckFailed, match=r"wrong for an input of shape \(2, 3, 4\)"):
        check_softmax(softmax_rows_of_a_matrix)


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


@pytest.mark.parametrize("mistake, hint", [
    (read_returns_both, r"tuple of 2 items; return only the blended value, shape \(d_v,\)"),
    (read_hard_lookup, r"single best book"),
    (read_no_softmax, r"turn the scores into weights with softmax"),
    (read_plain_mean, r"plain average"),
    (read_blends_keys, r"blend the VALUES"),
    (read_returns_weights, r"got \(5,\) \(test case: n=5, d=3, d_v=4\)\. You returned the weights"),
    (read_forgets_to_sum, r"did not add them up"),
    (read_values_first, r"weights @ values has shape \(d_v,\)"),
])
def test_read_mistakes_get_their_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_read(mistake)


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


@pytest.mark.parametrize("mistake, hint", [
    (attend_columns, r"sum to 1 down each column"),
    (attend_scaled, r"no √d yet"),
    (attend_raw_scores, r"raw scores Q @ K\.T"),
    (attend_whole_matrix, r"normalised over the whole matrix"),
    (attend_keys_first, r"scores = Q @ K\.T is \(m, n\)"),
    (attend_pair_swapped, r"in the order \(out, weights\)"),
    (attend_blends_keys, r"out has the width of a key"),
    (attend_values_wrong, r"weights are right but out is not"),
    (attend_only_out, r"return a pair \(out, weights\)"),
])
def test_attend_mistakes_get_their_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_attend(mistake)


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


@pytest.mark.parametrize("mistake, hint", [
    (align_down_columns, r"got \(6,\) \(test case: m=3, n=6, d=4\)\. You found, for each SOURCE token"),
    (align_source_reads_target, r"for each SOURCE token, the target token that reads it most"),
    (align_returns_weights, r"That is the weight matrix A, shape \(m, n\)"),
    (align_returns_output, r"That is the blended output A @ S"),
    (align_self_weights, r"That is self-attention: X read itself"),
    (align_no_axis, r"np\.argmax without an axis flattens"),
    (align_self_attention, r"positions in X itself: that is self-attention"),
    (align_max_not_argmax, r"largest weights themselves.*np\.argmax, not np\.max"),
    (align_max_of_scores, r"largest scores themselves"),
    (align_argmin, r"reads LEAST"),
    (align_returns_both, r"tuple of 2 items; return only the indices"),
    (align_untransposed, r"the scores X @ S\.T are \(m, n\)"),
])
def test_alignment_mistakes_get_their_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_alignment(mistake)


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
