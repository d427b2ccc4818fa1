"""The checkers of lab 2 accept the lab's own solutions, reject stubs, and name each common mistake.

Each mistake below is written the way a student would write it, as a whole function, and must fail
with its own hint (matched by `pytest.raises(CheckFailed, match=...)`).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import crossattn
from crossattn import softmax as package_softmax
from crossattn.checks import (
    CheckFailed,
    check_attention,
    check_attention_flops,
    check_masked_attention,
    check_padding_mask,
    check_scores,
    check_split_heads,
)
from tests.helpers import solution_namespace

CHECKERS = {
    "scores": check_scores,
    "attention": check_attention,
    "padding_mask": check_padding_mask,
    "masked_attention": check_masked_attention,
    "split_heads": check_split_heads,
    "attention_flops": check_attention_flops,
}


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("02")


# Reference solutions and stubs of every lab: tests/checks/test_all_labs.py.

# --- (c) named mistakes, one small student-like function each ------------------------------------

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


def attention_no_keepdims(Q, K, V):
    s = Q @ K.T / np.sqrt(Q.shape[-1])
    e = np.exp(s - s.max(axis=-1))  # (m, n) - (m,): does not broadcast
    w = e / e.sum(axis=-1)
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


# Exercise 2.3: padding_mask(lengths, m, n) -> (B, m, n)
def padding_mask_inverted(lengths, m, n):
    is_pad = np.arange(n)[None, :] >= np.asarray(lengths)[:, None]  # True = blocked, as in nn.MultiheadAttention
    return np.repeat(is_pad[:, None, :], m, axis=1)


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


# Exercise 2.5: split_heads(X, h) -> (h, L, d_head)
def split_heads_bare_reshape(X, h):
    L, width = X.shape
    return X.reshape(h, L, width // h)


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


MISTAKES = [
    # (checker, student function, regular expression the hint must match)
    (check_scores, scores_transposed, r"\(n, m\).*K @ Q\.T"),
    (check_scores, scores_unscaled, r"forgot to divide by √d"),
    (check_scores, scores_divided_by_d, r"divide by √d, not by d"),
    (check_scores, scores_divided_by_sqrt_n, r"divided by √n"),
    (check_scores, scores_query_with_itself, r"\(m, m\).*multiply Q by itself"),
    (check_scores, scores_forgot_return, r"None.*return"),
    (check_scores, scores_divided_by_2, r"QKᵀ/2; divide by √d = √6 ≈ 2\.449.*hard-coded 2 or a rounded √d"),
    (check_scores, scores_int_sqrt, r"QKᵀ/2; divide by √d = √6 ≈ 2\.449.*hard-coded 2 or a rounded √d"),
    (check_scores, scores_divided_by_half_d, r"QKᵀ/3; divide by √d = √6 ≈ 2\.449, where d = Q\.shape\[-1\] is the width of a query\.$"),
    (check_scores, scores_divided_by_sqrt_m, r"√m = √3, the number of queries"),
    (check_attention, attention_softmax_over_queries, r"sum to 1 down each column"),
    (check_attention, attention_unscaled, r"forgot to scale the scores by 1/√d"),
    (check_attention, attention_no_softmax, r"raw scores.*softmax"),
    (check_attention, attention_blends_keys, r"width d: blend the values V"),
    (check_attention, attention_pair_swapped, r"order \(out, weights\)"),
    (check_attention, attention_unstable_softmax, r"overflows.*Subtract each row's maximum"),
    (check_attention, attention_returns_out_only, r"return a pair \(out, weights\)"),
    (check_attention, attention_normalised_over_matrix, r"sum to 1 over the whole matrix.*each row"),
    (check_attention, attention_no_keepdims, r"could not be broadcast.*keepdims=True"),
    (check_attention, attention_global_max, r"underflows to 0.*each ROW's own maximum"),
    (check_attention, attention_divided_by_2, r"QKᵀ/2; divide by √d = √6"),
    (check_attention, attention_package_softmax, r"calls crossattn\.softmax.*Write it yourself"),
    (check_attention, attention_package_attention, r"calls crossattn\.attention.*Write it yourself"),
    (check_padding_mask, padding_mask_inverted, r"inverted.*True means 'may attend'"),
    (check_padding_mask, padding_mask_n_by_m, r"\(B, n, m\).*one ROW per query"),
    (check_padding_mask, padding_mask_not_repeated, r"\(B, n\): repeat it"),
    (check_padding_mask, padding_mask_masks_queries, r"masked query rows.*SOURCE"),
    (check_padding_mask, padding_mask_off_by_one, r"off by one"),
    (check_padding_mask, padding_mask_of_ints, r"must be boolean"),
    (check_masked_attention, masked_attention_nan_rows, r"fully masked row gave NaN"),
    (check_masked_attention, masked_attention_fill_minus_1e9, r"-1e9.*UNIFORM"),
    (check_masked_attention, masked_attention_add_minus_1e9, r"adding -1e9"),
    (check_masked_attention, masked_attention_zero_after_softmax, r"zeroed the masked weights after the softmax"),
    (check_masked_attention, masked_attention_inverted, r"mask is inverted"),
    (check_masked_attention, masked_attention_fill_zero, r"filling blocked scores with 0"),
    (check_masked_attention, masked_attention_unscaled, r"forgot to scale the scores by 1/√d.*as in exercise 2\.2"),
    (check_masked_attention, masked_attention_divided_by_2, r"QKᵀ/2; divide by √d = √6"),
    (check_masked_attention, masked_attention_max_over_all_keys, r"BLOCKED key has a huge score.*MAY see"),
    (check_masked_attention, masked_attention_softmax_then_renormalise, r"BLOCKED key has a huge score.*MAY see"),
    (check_masked_attention, masked_attention_nan_to_num, r"NumPy reports 'invalid value'.*np\.nan_to_num"),
    (check_masked_attention, masked_attention_package_attention, r"calls crossattn\.attention.*Write it yourself"),
    (check_masked_attention, masked_attention_imported_softmax, r"calls crossattn\.softmax.*Write it yourself"),
    (check_split_heads, split_heads_bare_reshape, r"plain reshape.*mixes positions"),
    (check_split_heads, split_heads_no_transpose, r"reshaped to \(L, h, d_head\); now move the head axis"),
    (check_split_heads, split_heads_strided, r"CONTIGUOUS columns"),
    (check_split_heads, split_heads_wrong_transpose, r"\(h, d_head, L\)"),
    (check_split_heads, split_heads_list_of_heads, r"one NumPy array.*got a list of 2 items"),
    (check_split_heads, split_heads_hard_coded_d_head, r"passed for X of shape \(3, 8\).*\(5, 6\).*hard-coded"),
    (check_attention_flops, flops_scores_only, r"counted Q @ K\.T only"),
    (check_attention_flops, flops_no_factor_two, r"multiply-add is 2 FLOPs"),
    (check_attention_flops, flops_assumes_d_v_equals_d, r"4·m·n·d assumes d_v = d"),
    (check_attention_flops, flops_assumes_d_equals_d_v, r"4·m·n·d_v assumes d = d_v"),
    (check_attention_flops, flops_forgot_return, r"returned None"),
    (check_attention_flops, flops_float, r"count 294\.0 is right, but it is a float.*integer"),
    (check_attention_flops, flops_hard_coded, r"passed for \(m, n, d, d_v\) = \(3, 7, 5, 2\).*hard-coded"),
]

# Pairs of mistakes that compute exactly the same numbers on every input, so they cannot be told
# apart and share one hint (which names both ways of getting there).
SAME_ANSWER = {
    scores_int_sqrt: scores_divided_by_2,  # int(√6) = 2
    masked_attention_softmax_then_renormalise: masked_attention_max_over_all_keys,
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NaN and overflow mistakes warn, as they would for a student
@pytest.mark.parametrize(("checker", "mistake", "hint"), MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_mistake_fails_with_its_hint(checker, mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        checker(mistake)


def test_every_exercise_has_at_least_two_named_mistakes():
    counts = {checker.__name__: 0 for checker in CHECKERS.values()}
    for checker, _, _ in MISTAKES:
        counts[checker.__name__] += 1
    assert min(counts.values()) >= 2, counts


class _quiet:
    """Silence NumPy's warnings (overflow, 0/0) that the mistakes trigger on purpose."""

    def __enter__(self):
        self._state = np.seterr(all="ignore")

    def __exit__(self, *exc):
        np.seterr(**self._state)


def _hint(checker, mistake):
    with _quiet():
        try:
            checker(mistake)
        except CheckFailed as err:
            return str(err)
    pytest.fail(f"{mistake.__name__} passed {checker.__name__}")


def test_each_mistake_gets_its_own_hint():
    """Two different mistakes of one exercise must not share a hint: each hint names its own error.

    The exception: mistakes in SAME_ANSWER compute the same numbers as their twin, and get its hint.
    """
    hints: dict[str, list[str]] = {}
    for checker, mistake, _ in MISTAKES:
        message = _hint(checker, mistake)
        if mistake in SAME_ANSWER:
            assert message == _hint(checker, SAME_ANSWER[mistake])
        else:
            hints.setdefault(checker.__name__, []).append(message)
    for name, messages in hints.items():
        assert len(set(messages)) == len(messages), f"{name} gives the same hint to different mistakes"


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


def test_package_watch_restores_the_package_and_the_callers_names():
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


def test_hints_are_one_line_and_name_the_exercise():
    for checker, mistake, _ in MISTAKES:
        with _quiet():
            with pytest.raises(CheckFailed) as info:
                checker(mistake)
        message = str(info.value)
        assert "\n" not in message
        assert re.match(r"Exercise 2\.\d ", message), message


def test_checker_rejects_a_non_function():
    with pytest.raises(CheckFailed, match="pass your function itself"):
        check_scores(np.zeros((3, 5)))
