"""Checkers for the exercises of lab 3, the spotlight: entropy, temperature, uniform weights, kernels.

Each takes the student's function, runs it on small seeded inputs (m ≠ n ≠ d, so a sum over
the wrong axis shows up as a wrong shape) and prints a ✓ line or raises CheckFailed. Every
named common mistake gets its own hint, by key from crossattn/checks/exercises/lab03.py;
tests/checks/test_lab03.py feeds each one in.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.kernel_regression import gaussian_kernel_scores, nadaraya_watson
from ..core.numerics import entropy, softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, fail, passed
from .registry import Exercise, exercise

__all__ = ["check_entropy", "check_softmax_temperature", "check_uniform_query", "check_nadaraya_watson"]


def _call(fn: Callable, *args: Any, exercise: Exercise, crash_hint: str | None = None) -> Any:
    """:func:`call` without floating-point warnings; a crash gets the hint whose key is ``crash_hint``."""
    try:
        with np.errstate(all="ignore"):  # log(0) and overflow are diagnosed below, not warned about
            return call(fn, *args, exercise=exercise)
    except CheckFailed as err:
        if crash_hint and err.key == "crash":
            fail(exercise, crash_hint, lead=f"{err.text}\n  Hint: ")
        raise


def _nan_hint(got: np.ndarray, exercise: Exercise, key: str, **fields: Any) -> None:
    """Fail with hint ``key`` when ``got`` holds nan or inf."""
    if not np.isfinite(np.asarray(got, dtype=float)).all():
        fail(exercise, key, **fields)


# --------------------------------------------------------------------------- 3.1 entropy


def check_entropy(entropy_fn: Callable) -> None:
    """Exercise 3.1: ``entropy(p (..., n)) -> (...)``: −Σ p ln p over the last axis, 0·ln 0 = 0."""
    ex = exercise("3.1")
    p = np.array([
        [0.5, 0.25, 0.25, 0.0, 0.0],  # two zeros: 0·ln 0 must count as 0
        [0.2, 0.2, 0.2, 0.2, 0.2],    # uniform over n = 5: ln 5
        [0.0, 0.0, 1.0, 0.0, 0.0],    # one-hot: 0
    ])  # (m, n) = (3, 5)
    m, n = p.shape
    got = as_array(_call(entropy_fn, p, exercise=ex), ex)
    expect_shape(got, (m,), ex, {(n,): "wrong_axis", (): "sum_everything", (m, n): "no_sum", (m, 1): "keepdims"})
    _nan_hint(got, ex, "nan_at_zero")
    want = entropy(p)
    if not close(got, want):
        diagnose(got, [
            (want / np.log(2), "bits"),
            (want / np.log(10), "log10"),
            (-want, "no_minus"),
            (want / n, "mean"),
            (want / np.log(n), "normalised"),
        ], ex, "wrong")
    # Any number of leading dimensions: one row (n,) and a batch (2, 3, 4).
    row = np.array([0.1, 0.0, 0.6, 0.3])
    batch = softmax(np.arange(24.0).reshape(2, 3, 4) % 5)
    for other in (row, batch):
        got_other = as_array(_call(entropy_fn, other, exercise=ex, crash_hint="fixed_axis"), ex)
        _nan_hint(got_other, ex, "nan_at_zero")
        if not close(got_other, entropy(other)):
            fail(ex, "two_dims_only", shape=other.shape, expected=entropy(other).shape)
    passed(ex, f"nats over the last axis; one-hot → 0, uniform over {n} → ln {n} = {np.log(n):.3f}, 0·ln 0 = 0.")


# --------------------------------------------------------------------------- 3.2 temperature

def check_softmax_temperature(softmax_temperature: Callable) -> None:
    """Exercise 3.2: ``softmax_temperature(scores (..., n), T) -> (..., n)`` = softmax(scores / T)."""
    ex = exercise("3.2")
    s = np.array([
        [2.0, 1.0, 0.5, -1.0, 0.0],
        [0.3, 0.3, 2.5, -0.4, 1.1],
        [-1.0, 0.0, 1.0, 2.0, 3.0],
    ])  # (m, n) = (3, 5)
    m, n = s.shape
    for t in (0.5, 3.0):
        try:
            result = _call(softmax_temperature, s, t, exercise=ex)  # refuses the package's softmax (call does)
        except CheckFailed as err:  # (m, n) scores meet an (m,) row max or sum: keepdims forgotten
            if err.key == "crash" and any(pair in err.text for pair in (f"({m},{n}) ({m},)", f"({m},) ({m},{n})")):
                fail(ex, "no_keepdims", lead=f"{err.text.rstrip()}. ", m=m, n=n)
            raise
        got = as_array(result, ex)
        expect_shape(got, s.shape, ex, {(s.shape[0],): "one_per_row"})
        want = softmax(s / t)
        rows = got.sum(axis=-1, keepdims=True)  # (m, 1)
        with np.errstate(all="ignore"):
            if (not close(rows, 1.0) and close(got.sum(), 1.0) and np.all(rows > 0)
                    and close(got / rows, want)):  # each row right up to one factor; the whole array sums to 1
                fail(ex, "whole_array", rows=np.round(rows[:, 0], 3))
        if not close(got, want):
            diagnose(got, [
                (softmax(s * t), "multiplied"),
                (softmax(s), "ignored"),
                (softmax(s / t, axis=0), "columns"),
                (softmax(s) / t, "after_softmax"),
                (softmax(s / t**2), "squared"),
                (softmax(s / np.sqrt(t)), "sqrt_t"),
            ], ex, "wrong", t=t)
    # A small temperature must not overflow: scores / T reach 1000 here.
    big = np.array([[10.0, 9.0, 0.0], [-5.0, 0.0, 2.0]])
    got_big = as_array(_call(softmax_temperature, big, 0.01, exercise=ex), ex)
    if not close(got_big, softmax(big / 0.01)):
        with np.errstate(all="ignore"):  # the global-max mistake divides 0 by 0 on the second row
            z = big / 0.01  # (2, 3): row maxima 1000 and 200
            e = np.exp(z - z.max())  # (2, 3): one max for the whole array
            global_max = e / e.sum(axis=-1, keepdims=True)  # row 2 is 0/0 = nan
        if got_big.shape == global_max.shape and np.allclose(got_big, global_max, equal_nan=True):
            fail(ex, "global_max")
        _nan_hint(got_big, ex, "overflow")
        fail(ex, "wrong_small_t")
    passed(ex, "softmax(scores / T); T = 0.01 does not overflow.")


# --------------------------------------------------------------------------- 3.3 uniform query


def _keys(seed: int, n: int, d: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def _rank(m: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(m)) if m.size else 0


def _raised_value_error(fn: Callable, k: np.ndarray) -> ValueError | None:
    """The ValueError ``fn(k)`` raises, or None (other crashes are left to :func:`call`)."""
    if not callable(fn):
        return None
    try:
        with np.errstate(all="ignore"):
            fn(k.copy())
    except ValueError as err:
        return err
    except Exception:  # noqa: BLE001 - the stub and other crashes get their hint from call()
        return None
    return None


def check_uniform_query(uniform_query: Callable) -> None:
    """Exercise 3.3: ``uniform_query(K (n, d)) -> q (d,)``, unit length, all scores K @ q equal.

    Cases: n < d, n = d (the keys span R^d, their differences do not), identical keys (n > d but
    the differences have rank 0), and n > d in general position (the differences span R^d: the
    function must raise ValueError).
    """
    ex = exercise("3.3")
    identical = np.tile(np.array([[0.5, -1.0, 2.0]]), (5, 1))  # (5, 3): five copies of one key
    cases = [
        ("3 keys of width d = 5", _keys(32, 3, 5)),
        ("4 keys of width d = 4", _keys(31, 4, 4)),
        ("5 identical keys of width d = 3", identical),
    ]
    for label, k in cases:
        n, d = k.shape
        diffs = k[1:] - k[0]  # (n - 1, d)
        rank = _rank(diffs)  # < d in every case here: a uniform query exists
        spans = np.linalg.matrix_rank(k) == d  # no nonzero q is orthogonal to every key
        facts = {"label": label, "n": n, "d": d, "n_diffs": n - 1, "rank": rank}
        refused = _raised_value_error(uniform_query, k)
        if refused is not None:
            key = "refuses_identical" if rank == 0 else "refuses_spanning" if spans else "refuses_low_rank"
            fail(ex, key, error=f"{type(refused).__name__}: {refused}", **facts)
        try:
            result = _call(uniform_query, k, exercise=ex)
        except CheckFailed as err:  # Vt[rank] of a reduced SVD, which has only n − 1 < d rows
            if err.key == "crash" and "IndexError" in err.text and n - 1 < d:
                fail(ex, "reduced_svd_index", lead=f"{err.text.rstrip()}. ", **facts)
            raise
        got = as_array(result, ex)
        expect_shape(got, (d,), ex, {(n,): "returns_scores", (n - 1,): "per_difference"})
        _nan_hint(got, ex, "not_finite", label=label)
        norm = float(np.linalg.norm(got))
        if norm < 1e-8:
            fail(ex, "zero_query", label=label)
        scores = k @ got  # (n, d) @ (d,) -> (n,)
        if np.ptp(scores) > 1e-8 * max(1.0, float(np.abs(scores).max())):
            if spans:
                v_min = np.linalg.svd(k)[2][-1]  # (d,): the direction least aligned with the keys
                if abs(abs(float(got @ v_min)) / norm - 1.0) < 1e-6:
                    fail(ex, "least_aligned", **facts)
            row_space = np.linalg.svd(diffs, full_matrices=False)[2][:rank]  # (rank, d), orthonormal rows
            if n - 1 < d and np.linalg.norm(row_space @ got) > (1 - 1e-6) * norm:
                fail(ex, "reduced_svd", **facts)
            fail(ex, "unequal", label=label, scores=np.round(scores, 3) + 0.0)
        if abs(norm - 1.0) > 1e-6:
            fail(ex, "not_unit", label=label, norm=norm)
    # More keys than dimensions, in general position: the differences span R^d and no such query exists.
    k = _keys(33, 6, 4)
    try:
        with np.errstate(all="ignore"):
            out = uniform_query(k.copy())
    except ValueError:
        pass
    except Exception as err:  # noqa: BLE001 - any other crash becomes a hint
        fail(ex, "other_error", error=f"{type(err).__name__}: {err}")
    else:
        spread = np.ptp(k @ np.asarray(out, dtype=float)) if np.shape(out) == (4,) else float("nan")
        fail(ex, "never_raises", spread=spread)
    passed(ex, "unit queries with equal scores for n < d, n = d and identical keys; "
               "ValueError when the differences have rank d.")


# --------------------------------------------------------------------------- 3.4 Nadaraya–Watson


def check_nadaraya_watson(nadaraya_watson_fn: Callable) -> None:
    """Exercise 3.4: ``nadaraya_watson(x_query (m,), x_train (n,), y_train (n,), bandwidth) -> (m,)``."""
    ex = exercise("3.4")
    rng = np.random.default_rng(34)
    x_train = np.sort(rng.uniform(-2.0, 2.0, size=7))  # (n,) = (7,)
    y_train = np.sin(x_train) + 0.1 * rng.normal(size=7)  # (n,)
    x_query = np.array([-1.0, 0.2, 0.9, 2.5])  # (m,) = (4,)
    m, n = len(x_query), len(x_train)
    lam = 0.6  # the bandwidth λ
    got = as_array(_call(nadaraya_watson_fn, x_query, x_train, y_train, lam, exercise=ex,
                         crash_hint="crash_shapes"), ex)
    expect_shape(got, (m,), ex, {(n,): "per_training_point", (m, n): "returns_weights", (n, m): "transposed_scores"})
    _nan_hint(got, ex, "nan")
    want, _ = nadaraya_watson(x_query, x_train, y_train, lam)
    if not close(got, want):
        diff = x_query[:, None] - x_train[None, :]  # (m, n)
        prod = x_query[:, None] * x_train[None, :]  # (m, n): the dot products x·x_j of 1-D points
        scores = gaussian_kernel_scores(x_query, x_train, lam)  # (m, n)
        divisors = (1.0, lam, lam**2, 2 * lam, 2 * lam**2)  # the ways a student might scale a score
        diagnose(got, [
            (softmax(-diff**2 / (2 * lam**4)) @ y_train, "squared_twice"),
            (softmax(-diff**2 / (2 * lam)) @ y_train, "not_squared"),
            (softmax(-diff**2 / lam**2) @ y_train, "no_factor_two"),
            (softmax(diff**2 / (2 * lam**2)) @ y_train, "sign_flipped"),
            *[(softmax(-np.abs(diff) / c) @ y_train, "laplace") for c in divisors],
            *[(softmax(prod / c) @ y_train, "dot_product") for c in divisors],
            (softmax(scores, axis=0) @ y_train, "wrong_axis"),
            (np.exp(scores) @ y_train, "unnormalised"),
            (np.full(m, y_train.mean()), "plain_mean"),
            (y_train[np.argmin(np.abs(diff), axis=1)], "nearest_neighbour"),
        ], ex, "wrong")
    # A narrow bandwidth and a query far from the data: exp(score) underflows to 0 for every point.
    far = np.array([0.0, 4.0])  # (2,)
    got_far = as_array(_call(nadaraya_watson_fn, far, x_train, y_train, 0.02, exercise=ex), ex)
    want_far, _ = nadaraya_watson(far, x_train, y_train, 0.02)
    if not close(got_far, want_far):
        _nan_hint(got_far, ex, "far_nan")
        fail(ex, "wrong_narrow", lam=lam)
    passed(ex, f"Gaussian-kernel attention: {m} predictions from {n} points; stable at λ = 0.02.")
