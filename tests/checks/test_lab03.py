"""The checkers of lab 3 accept the lab's own solutions, reject its stubs, and name each common mistake.

The reference solutions are taken from the notebook's solution cells and the stubs are made from
those cells by the student tool, so these tests cover exactly what a student sees. Each mistake
is written the way a student would write it, and must fail with its own hint.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import crossattn
from crossattn.checks import (
    CheckFailed,
    check_entropy,
    check_nadaraya_watson,
    check_softmax_temperature,
    check_uniform_query,
)
from tests.helpers import solution_namespace

CHECKERS = {
    "entropy": check_entropy,
    "softmax_temperature": check_softmax_temperature,
    "uniform_query": check_uniform_query,
    "nadaraya_watson": check_nadaraya_watson,
}


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("03")


# ---------------------------------------------------------------------------- reference and stub


def test_the_lab_has_one_solution_per_checker(solutions):
    assert set(CHECKERS) <= set(solutions)


@pytest.mark.parametrize("name", CHECKERS)
def test_a_value_instead_of_a_function_is_refused(name):
    with pytest.raises(CheckFailed, match="pass your function itself"):
        CHECKERS[name](np.zeros(3))


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


@pytest.mark.parametrize("mistake, hint", [
    (entropy_log2, r"in bits \(log base 2\).*nats: use np\.log"),
    (entropy_log10, r"log base 10"),
    (entropy_nan_at_zero, r"0·log 0 gives 0·\(−inf\) = nan"),
    (entropy_wrong_axis, r"summed down the columns \(axis 0\)"),
    (entropy_sum_of_everything, r"summed every entry into one number"),
    (entropy_no_minus, r"lost the minus sign"),
    (entropy_mean, r"sum over the keys, don't average"),
    (entropy_no_sum, r"entry by entry"),
    (entropy_axis_1, r"wrong for an input of shape \(4,\).*axis=-1|use axis=-1 \(the last axis\)"),
    (entropy_overwrites_its_input, r"`entropy_overwrites_its_input` changed its argument 1 in place"),
], ids=lambda x: getattr(x, "__name__", ""))
def test_entropy_mistakes_get_their_own_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_entropy(mistake)


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


def temperature_in_place(scores, T):
    scores /= T  # changes the caller's array
    return _stable(scores)


@pytest.mark.parametrize("mistake, hint", [
    (temperature_multiplied, r"MULTIPLIED the scores by T"),
    (temperature_ignored, r"temperature has no effect"),
    (temperature_wrong_axis, r"sum to 1 down each column"),
    (temperature_after_softmax, r"divided the weights by T after the softmax"),
    (temperature_squared, r"divide by T, not by T²"),
    (temperature_unstable, r"T = 0\.01.*overflows.*Subtract each row's max"),
    (temperature_global_max, r"max of the WHOLE array.*underflows to 0.*0/0 = nan.*each row's own max"),
    (temperature_whole_array, r"sum to 1 over the whole array, not row by row"),
    (temperature_in_place, r"`temperature_in_place` changed its argument 1 in place"),
], ids=lambda x: getattr(x, "__name__", ""))
def test_temperature_mistakes_get_their_own_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_softmax_temperature(mistake)


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


def uniform_query_centred_keys(K):
    # differences to the mean key span the same space as k_j − k_0: a correct answer
    C = K - K.mean(axis=0)
    if np.linalg.matrix_rank(C) == K.shape[1]:
        raise ValueError("no uniform query")
    return _null_vector(C)


@pytest.mark.parametrize("mistake, hint", [
    (uniform_query_orthogonal_to_the_keys, r"no nonzero query is orthogonal to every key.*DIFFERENCE"),
    (uniform_query_least_aligned_with_the_keys, r"direction least aligned with the keys.*DIFFERENCE"),
    (uniform_query_zero, r"returned the zero query.*NONZERO"),
    (uniform_query_not_normalised, r"has length 3\.000: divide it by its norm"),
    (uniform_query_never_raises, r"6 keys of width d = 4.*raise ValueError"),
    (uniform_query_first_key_only, r"unequal scores.*orthogonal to every key difference"),
    (uniform_query_returns_scores, r"one number per key"),
    (uniform_query_refuses_more_keys_than_dimensions,
     r"5 identical keys.*raised ValueError: n > d — but these 5 keys are identical, so their differences have "
     r"rank 0 < d = 3 and any unit vector works\. Test the rank of the differences, not n > d\."),
    (uniform_query_refuses_n_at_least_d,
     r"4 keys of width d = 4 your function raised ValueError: too many keys — yet a uniform query exists: "
     r"the 3 differences k_j − k_0 have rank 3 < d = 4.*DIFFERENCE"),
    (uniform_query_refuses_full_row_rank,
     r"3 keys of width d = 5 your function raised ValueError: the differences are independent — yet a uniform "
     r"query exists: the 2 differences k_j − k_0 have rank 2 < d = 5\. Raise ValueError only when the rank of "
     r"the differences equals d\."),
    (uniform_query_reduced_svd, r"lies in the span of the 2 key differences.*full_matrices=True"),
], ids=lambda x: getattr(x, "__name__", ""))
def test_uniform_query_mistakes_get_their_own_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_uniform_query(mistake)


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


@pytest.mark.parametrize("mistake, hint", [
    (nw_bandwidth_squared_twice, r"squared the bandwidth twice"),
    (nw_bandwidth_not_squared, r"divide by 2λ², not by 2λ"),
    (nw_no_factor_two, r"the Gaussian kernel has a 2 in it"),
    (nw_sign_flipped, r"sign is flipped.*FARTHEST"),
    (nw_absolute_distance, r"square the distance"),
    (nw_wrong_axis, r"sum to 1 over the queries \(axis 0\)"),
    (nw_unnormalised, r"normalise the kernel weights"),
    (nw_unstable, r"λ = 0\.02.*underflows to 0 and 0/0 = nan"),
    (nw_returns_weights, r"You returned the weights"),
    (nw_mean, r"plain mean of y_train"),
    (nw_nearest_neighbour, r"nearest neighbour's y"),
    (nw_transposed, r"one number per training point"),
    (nw_laplace_kernel, r"distance \|x − x_j\| itself \(a Laplace kernel\).*SQUARED distance"),
    (nw_dot_product_score, r"dot product x·x_j as the score.*minus the squared distance"),
], ids=lambda x: getattr(x, "__name__", ""))
def test_nadaraya_watson_mistakes_get_their_own_hint(mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_nadaraya_watson(mistake)


def test_a_crash_in_student_code_becomes_a_hint_with_the_shapes():
    def nw_crashes(x_query, x_train, y_train, bandwidth):
        return crossattn.softmax(-(x_query - x_train) ** 2 / (2 * bandwidth**2)) @ y_train  # (m,) - (n,) cannot broadcast

    with pytest.raises(CheckFailed, match=r"(?s)raised ValueError.*Hint: x_query\[:, None\] - x_train\[None, :\]"):
        check_nadaraya_watson(nw_crashes)
