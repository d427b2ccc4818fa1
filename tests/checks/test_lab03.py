"""Lab 3's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import crossattn
from crossattn.checks import CheckFailed, check_entropy, check_uniform_query
from tests.checks.conventions import named_mistakes_test
from tests.helpers import solution_namespace


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("03")


# ---------------------------------------------------------------------------- 3.1 entropy


def entropy_log2(p):
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logs, axis=-1)


def entropy_nan_at_zero(p):
    return -np.sum(p * np.log(p), axis=-1)


def entropy_wrong_axis(p):
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logs, axis=0)


def entropy_sum_of_everything(p):
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logs)


def entropy_no_minus(p):
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return np.sum(p * logs, axis=-1)


def entropy_mean(p):
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -np.mean(p * logs, axis=-1)


def entropy_no_sum(p):
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -p * logs


def entropy_axis_1(p):
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logs, axis=1)


def entropy_log10(p):
    logs = np.log10(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logs, axis=-1)


def entropy_overwrites_its_input(p):
    p[p == 0] = 1  # 1·ln 1 = 0, but the caller's array is changed
    return -np.sum(p * np.log(p), axis=-1)


def entropy_keepdims(p):
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logs, axis=-1, keepdims=True)


def entropy_normalised(p):
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -np.sum(p * logs, axis=-1) / np.log(p.shape[-1])


def entropy_flattens_the_batch(p):
    rows = p.reshape(-1, p.shape[-1])  # (..., n) -> (rows, n), never reshaped back
    logs = np.log(rows, out=np.zeros_like(rows), where=rows > 0)
    out = -np.sum(rows * logs, axis=-1)
    return out if p.ndim == 2 else out.reshape(-1)[0] if p.ndim == 1 else out


def entropy_log1p(p):
    return -np.sum(p * np.log1p(p), axis=-1)  # "+1 inside the log avoids log 0"


def test_the_nan_hint_suggests_code_that_also_works_on_integer_weights():
    with pytest.raises(CheckFailed) as failure:
        check_entropy(entropy_nan_at_zero)
    snippet = re.search(r"e\.g\. (logs = .*)\.$", str(failure.value)).group(1)
    namespace = {"np": np, "p": np.array([[0, 1, 0], [1, 0, 0]])}  # one-hot rows as integers
    exec(snippet, namespace)  # noqa: S102 - the checker's own hint
    assert np.array_equal(namespace["logs"], np.zeros((2, 3)))


def test_the_lab_entropy_accepts_integer_one_hot_rows(solutions):
    assert np.array_equal(solutions["entropy"](np.array([[0, 1, 0], [0, 0, 1]])), [0.0, 0.0])


# ---------------------------------------------------------------------------- 3.2 softmax with temperature


def _stable(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def temperature_multiplied(scores, T):
    return _stable(scores * T)


def temperature_ignored(scores, T):
    return _stable(scores)


def temperature_wrong_axis(scores, T):
    z = scores / T
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def temperature_after_softmax(scores, T):
    return _stable(scores) / T


def temperature_squared(scores, T):
    return _stable(scores / T**2)


def temperature_unstable(scores, T):
    e = np.exp(scores / T)
    return e / e.sum(axis=-1, keepdims=True)


def temperature_global_max(scores, T):
    z = scores / T
    e = np.exp(z - z.max())  # one max for the whole array
    return e / e.sum(axis=-1, keepdims=True)


def temperature_whole_array(scores, T):
    z = scores / T
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum()  # normalised over every entry at once


def temperature_no_keepdims(scores, T):
    z = scores / T
    e = np.exp(z - z.max(axis=-1))  # (m, n) - (m,): does not broadcast
    return e / e.sum(axis=-1)


def temperature_package_softmax(scores, T):
    return crossattn.softmax(scores / T)  # right, but the exercise is to write it


def temperature_package_temperature(scores, T):
    return crossattn.softmax_with_temperature(scores, T)


def temperature_in_place(scores, T):
    scores /= T  # changes the caller's array
    return _stable(scores)


def temperature_returns_normaliser(scores, T):
    z = scores / T
    return np.exp(z - z.max(axis=-1, keepdims=True)).sum(axis=-1)


def temperature_square_root(scores, T):
    return _stable(scores / np.sqrt(T))


def temperature_plus_one(scores, T):
    return _stable(scores / (T + 1))  # "+ 1 so that T = 0 cannot divide by zero"


def temperature_clipped(scores, T):
    return _stable(scores / max(T, 0.5))  # "a tiny T would overflow": clipped instead


# ---------------------------------------------------------------------------- 3.3 uniform query


def _null_vector(M):
    _, _, vt = np.linalg.svd(M)
    return vt[-1]


def uniform_query_orthogonal_to_the_keys(K):
    # "orthogonal to every key", with an honest check that such a query exists
    if np.linalg.matrix_rank(K) == K.shape[1]:
        raise ValueError("the keys span the space")
    return _null_vector(K)


def uniform_query_least_aligned_with_the_keys(K):
    return _null_vector(K)  # the smallest singular direction of K, used whatever the rank


def uniform_query_zero(K):
    return np.zeros(K.shape[1])


def uniform_query_not_normalised(K):
    D = K[1:] - K[0]
    if np.linalg.matrix_rank(D) == K.shape[1]:
        raise ValueError("no uniform query")
    return 3.0 * _null_vector(D)


def uniform_query_never_raises(K):
    return _null_vector(K[1:] - K[0])


def uniform_query_first_key_only(K):
    return _null_vector(K[:1])  # orthogonal to k_0 alone


def uniform_query_returns_scores(K):
    D = K[1:] - K[0]
    if np.linalg.matrix_rank(D) == K.shape[1]:
        raise ValueError("no uniform query")
    return K @ _null_vector(D)


def uniform_query_refuses_more_keys_than_dimensions(K):
    n, d = K.shape
    if n > d:  # the wrong rule: identical keys have a uniform query for any n
        raise ValueError("n > d")
    return _null_vector(K[1:] - K[0])


def uniform_query_refuses_n_at_least_d(K):
    n, d = K.shape
    if n >= d:
        raise ValueError("too many keys")
    return _null_vector(K[1:] - K[0])


def uniform_query_refuses_full_row_rank(K):
    D = K[1:] - K[0]
    if np.linalg.matrix_rank(D) == D.shape[0]:  # compares the rank with n − 1, not with d
        raise ValueError("the differences are independent")
    return _null_vector(D)


def uniform_query_reduced_svd(K):
    D = K[1:] - K[0]
    if np.linalg.matrix_rank(D) == K.shape[1]:
        raise ValueError("no uniform query")
    _, _, Vt = np.linalg.svd(D, full_matrices=False)  # only n − 1 rows when n − 1 < d
    return Vt[-1]


def uniform_query_reduced_svd_by_rank(K):
    D = K[1:] - K[0]
    rank = np.linalg.matrix_rank(D)
    if rank == K.shape[1]:
        raise ValueError("no uniform query")
    _, _, Vt = np.linalg.svd(D, full_matrices=False)  # (n − 1, d) when n − 1 < d: no row beyond the rank
    return Vt[rank]


def uniform_query_first_singular_vector(K):
    D = K[1:] - K[0]
    if np.linalg.matrix_rank(D) == K.shape[1]:
        raise ValueError("no uniform query")
    _, _, Vt = np.linalg.svd(D)
    return Vt[0]  # the first row: inside the span of the differences


def uniform_query_difference_scores(K):
    D = K[1:] - K[0]
    if np.linalg.matrix_rank(D) == K.shape[1]:
        raise ValueError("no uniform query")
    return D @ _null_vector(D)  # (n - 1,): the scores of the differences


def uniform_query_gram_schmidt(K):
    D = K[1:] - K[0]
    if np.linalg.matrix_rank(D) == K.shape[1]:
        raise ValueError("no uniform query")
    basis = []
    for row in D:  # orthonormalise the differences, one by one
        for b in basis:
            row = row - (row @ b) * b
        basis.append(row / np.linalg.norm(row))  # 0/0 for a zero difference
    q = np.ones(K.shape[1])
    for b in basis:
        q = q - (q @ b) * b
    return q / np.linalg.norm(q)


def uniform_query_asserts(K):
    D = K[1:] - K[0]
    assert np.linalg.matrix_rank(D) < K.shape[1], "no uniform query"  # AssertionError, not ValueError
    return _null_vector(D)


def uniform_query_centred_keys(K):
    # differences to the mean key span the same space as k_j − k_0: a correct answer
    C = K - K.mean(axis=0)
    if np.linalg.matrix_rank(C) == K.shape[1]:
        raise ValueError("no uniform query")
    return _null_vector(C)


def test_any_basis_of_the_key_differences_is_accepted(capsys):
    check_uniform_query(uniform_query_centred_keys)
    out = capsys.readouterr().out
    assert out.startswith("✓ Exercise 3.3")
    assert "ValueError when the differences have rank d" in out and "n > d" not in out  # the rule, not a proxy


# ---------------------------------------------------------------------------- 3.4 Nadaraya–Watson


def _diff(x_query, x_train):
    return x_query[:, None] - x_train[None, :]


def nw_bandwidth_squared_twice(x_query, x_train, y_train, bandwidth):
    lam2 = bandwidth**2
    scores = -_diff(x_query, x_train) ** 2 / (2 * lam2**2)
    return crossattn.softmax(scores) @ y_train


def nw_bandwidth_not_squared(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(-_diff(x_query, x_train) ** 2 / (2 * bandwidth)) @ y_train


def nw_no_factor_two(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(-_diff(x_query, x_train) ** 2 / bandwidth**2) @ y_train


def nw_sign_flipped(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(_diff(x_query, x_train) ** 2 / (2 * bandwidth**2)) @ y_train


def nw_absolute_distance(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(-np.abs(_diff(x_query, x_train)) / (2 * bandwidth**2)) @ y_train


def nw_wrong_axis(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(-_diff(x_query, x_train) ** 2 / (2 * bandwidth**2), axis=0) @ y_train


def nw_unnormalised(x_query, x_train, y_train, bandwidth):
    return np.exp(-_diff(x_query, x_train) ** 2 / (2 * bandwidth**2)) @ y_train


def nw_unstable(x_query, x_train, y_train, bandwidth):
    kernel = np.exp(-_diff(x_query, x_train) ** 2 / (2 * bandwidth**2))
    return kernel @ y_train / kernel.sum(axis=1)


def nw_returns_weights(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(-_diff(x_query, x_train) ** 2 / (2 * bandwidth**2))


def nw_mean(x_query, x_train, y_train, bandwidth):
    return np.full(len(x_query), y_train.mean())


def nw_nearest_neighbour(x_query, x_train, y_train, bandwidth):
    return y_train[np.argmin(np.abs(_diff(x_query, x_train)), axis=1)]


def nw_laplace_kernel(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(-np.abs(_diff(x_query, x_train)) / bandwidth) @ y_train


def nw_dot_product_score(x_query, x_train, y_train, bandwidth):
    scores = x_query[:, None] * x_train[None, :] / bandwidth**2  # x·x_j, as in attention
    return crossattn.softmax(scores) @ y_train


def nw_transposed(x_query, x_train, y_train, bandwidth):
    weights = crossattn.softmax(-(x_train[:, None] - x_query[None, :]) ** 2 / (2 * bandwidth**2))  # (n, m)
    return weights.sum(axis=1) * y_train  # one number per training point


def nw_crashes(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(-(x_query - x_train) ** 2 / (2 * bandwidth**2)) @ y_train  # (m,) - (n,): no broadcast


def nw_weights_by_training_point(x_query, x_train, y_train, bandwidth):
    scores = -(x_train[:, None] - x_query[None, :]) ** 2 / (2 * bandwidth**2)  # (n, m)
    return crossattn.softmax(scores, axis=0) * y_train[:, None]  # (n, m): weighted, never summed


def nw_in_log_space(x_query, x_train, y_train, bandwidth):
    scores = -_diff(x_query, x_train) ** 2 / (2 * bandwidth**2)
    log_w = np.log(crossattn.softmax(scores))  # "log space is stabler"
    return np.exp(log_w + np.log(y_train)).sum(axis=-1)  # log of a negative y is nan


def nw_blends_inputs(x_query, x_train, y_train, bandwidth):
    return crossattn.softmax(-_diff(x_query, x_train) ** 2 / (2 * bandwidth**2)) @ x_train  # the keys, not y


def nw_clipped_bandwidth(x_query, x_train, y_train, bandwidth):
    bandwidth = max(bandwidth, 0.1)  # "a tiny bandwidth underflows": clipped instead
    return crossattn.softmax(-_diff(x_query, x_train) ** 2 / (2 * bandwidth**2)) @ y_train


MISTAKES = {
    "3.1": {
        "nan_at_zero": entropy_nan_at_zero,
        "wrong_axis": entropy_wrong_axis,
        "sum_everything": entropy_sum_of_everything,
        "no_sum": entropy_no_sum,
        "keepdims": entropy_keepdims,
        "bits": entropy_log2,
        "log10": entropy_log10,
        "no_minus": entropy_no_minus,
        "mean": entropy_mean,
        "normalised": entropy_normalised,
        "fixed_axis": entropy_axis_1,
        "two_dims_only": entropy_flattens_the_batch,
        "in_place": entropy_overwrites_its_input,
        "wrong": entropy_log1p,
    },
    "3.2": {
        "one_per_row": temperature_returns_normaliser,
        "no_keepdims": temperature_no_keepdims,
        "package": (temperature_package_softmax, temperature_package_temperature),
        "whole_array": temperature_whole_array,
        "multiplied": temperature_multiplied,
        "ignored": temperature_ignored,
        "columns": temperature_wrong_axis,
        "after_softmax": temperature_after_softmax,
        "squared": temperature_squared,
        "sqrt_t": temperature_square_root,
        "global_max": temperature_global_max,
        "overflow": temperature_unstable,
        "in_place": temperature_in_place,
        "wrong": temperature_plus_one,
        "wrong_small_t": temperature_clipped,
    },
    "3.3": {
        "refuses_identical": uniform_query_refuses_more_keys_than_dimensions,
        "refuses_spanning": (uniform_query_orthogonal_to_the_keys, uniform_query_refuses_n_at_least_d),
        "refuses_low_rank": uniform_query_refuses_full_row_rank,
        "returns_scores": uniform_query_returns_scores,
        "per_difference": uniform_query_difference_scores,
        "not_finite": uniform_query_gram_schmidt,
        "zero_query": uniform_query_zero,
        "least_aligned": uniform_query_least_aligned_with_the_keys,
        "reduced_svd": (uniform_query_reduced_svd, uniform_query_first_singular_vector),
        "reduced_svd_index": uniform_query_reduced_svd_by_rank,
        "unequal": uniform_query_first_key_only,
        "not_unit": uniform_query_not_normalised,
        "other_error": uniform_query_asserts,
        "never_raises": uniform_query_never_raises,
    },
    "3.4": {
        "crash_shapes": nw_crashes,
        "per_training_point": nw_transposed,
        "returns_weights": nw_returns_weights,
        "transposed_scores": nw_weights_by_training_point,
        "nan": nw_in_log_space,
        "squared_twice": nw_bandwidth_squared_twice,
        "not_squared": nw_bandwidth_not_squared,
        "no_factor_two": nw_no_factor_two,
        "sign_flipped": nw_sign_flipped,
        "laplace": (nw_absolute_distance, nw_laplace_kernel),
        "dot_product": nw_dot_product_score,
        "wrong_axis": nw_wrong_axis,
        "unnormalised": nw_unnormalised,
        "plain_mean": nw_mean,
        "nearest_neighbour": nw_nearest_neighbour,
        "far_nan": nw_unstable,
        "wrong": nw_blends_inputs,
        "wrong_narrow": nw_clipped_bandwidth,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


# ---------------------------------------------------------------------------- special cases


@pytest.mark.parametrize("mistake, message", [
    (uniform_query_refuses_more_keys_than_dimensions,
     "for 5 identical keys of width d = 3 your function raised ValueError: n > d — but these 5 keys are identical, so "
     "their differences have rank 0 < d = 3 and any unit vector works. Test the rank of the differences, not n > d."),
    (uniform_query_refuses_full_row_rank,
     "for 3 keys of width d = 5 your function raised ValueError: the differences are independent — yet a uniform "
     "query exists: the 2 differences k_j − k_0 have rank 2 < d = 5. Raise ValueError only when the rank of the "
     "differences equals d."),
])
def test_a_refusal_names_the_case_and_the_rank(mistake, message):
    with pytest.raises(CheckFailed) as info:
        check_uniform_query(mistake)
    assert info.value.text == message
