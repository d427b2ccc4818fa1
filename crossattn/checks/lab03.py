"""Checkers for the exercises of lab 3, the spotlight: entropy, temperature, uniform weights, kernels.

Each takes the student's function, runs it on small seeded inputs (m ≠ n ≠ d, so a sum over
the wrong axis shows up as a wrong shape) and prints a ✓ line or raises CheckFailed. Every
named common mistake gets its own hint; tests/checks/test_lab03.py feeds each one in.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.kernel_regression import gaussian_kernel_scores, nadaraya_watson
from ..core.numerics import entropy, softmax
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = ["check_entropy", "check_softmax_temperature", "check_uniform_query", "check_nadaraya_watson"]


def _call(fn: Callable, *args: Any, exercise: str, crash_hint: str | None = None) -> Any:
    """:func:`call` without floating-point warnings; a crash (not the stub) gets ``crash_hint``."""
    try:
        with np.errstate(all="ignore"):  # log(0) and overflow are diagnosed below, not warned about
            return call(fn, *args, exercise=exercise)
    except CheckFailed as err:
        if crash_hint and "NotImplementedError" not in str(err):
            raise CheckFailed(f"{err}\n  Hint: {crash_hint}") from None
        raise


def _nan_hint(got: np.ndarray, exercise: str, hint: str) -> None:
    if not np.isfinite(np.asarray(got, dtype=float)).all():
        raise CheckFailed(f"{exercise}: {hint}")


# --------------------------------------------------------------------------- 3.1 entropy


def check_entropy(entropy_fn: Callable) -> None:
    """Exercise 3.1: ``entropy(p (..., n)) -> (...)``: −Σ p ln p over the last axis, 0·ln 0 = 0."""
    ex = "Exercise 3.1 (entropy)"
    p = np.array([
        [0.5, 0.25, 0.25, 0.0, 0.0],  # two zeros: 0·ln 0 must count as 0
        [0.2, 0.2, 0.2, 0.2, 0.2],    # uniform over n = 5: ln 5
        [0.0, 0.0, 1.0, 0.0, 0.0],    # one-hot: 0
    ])  # (m, n) = (3, 5)
    m, n = p.shape
    nan_hint = ("you got nan: 0·log 0 gives 0·(−inf) = nan in NumPy. Entries with p = 0 must contribute 0, "
                "e.g. logs = np.log(p, out=np.zeros(np.shape(p)), where=p > 0).")
    got = as_array(_call(entropy_fn, p, exercise=ex), ex)
    expect_shape(got, (m,), ex, {
        (n,): "You summed down the columns (axis 0). Each ROW is a distribution over the n keys: sum over axis=-1.",
        (): "You summed every entry into one number. Return one entropy per row: sum over axis=-1 only.",
        (m, n): "You returned −p·log p entry by entry. Add them up over the last axis (axis=-1).",
        (m, 1): "Drop the kept axis: sum over axis=-1 without keepdims.",
    })
    _nan_hint(got, ex, nan_hint)
    want = entropy(p)
    if not close(got, want):
        diagnose(got, [
            (want / np.log(2), "that is in bits (log base 2). The course measures entropy in nats: use np.log."),
            (want / np.log(10), "that is log base 10. Use the natural logarithm np.log: entropy in nats."),
            (-want, "entropy is −Σ p log p: you lost the minus sign (an entropy is never negative)."),
            (want / n, "sum over the keys, don't average: the uniform row must give ln n, not ln(n)/n."),
            (want / np.log(n), "you divided by ln n (a normalised entropy). Return the entropy itself, in nats."),
        ], ex, "entropy = −Σ_j p_j ln p_j over the last axis; rows: one key half (0.5, 0.25, 0.25, 0, 0) → 1.04, "
               "uniform → ln 5 = 1.61, one-hot → 0.")
    # Any number of leading dimensions: one row (n,) and a batch (2, 3, 4).
    row = np.array([0.1, 0.0, 0.6, 0.3])
    batch = softmax(np.arange(24.0).reshape(2, 3, 4) % 5)
    for other in (row, batch):
        got_other = as_array(_call(entropy_fn, other, exercise=ex, crash_hint=(
            "use axis=-1 (the last axis) rather than a fixed axis number, so that any shape (..., n) works."
        )), ex)
        _nan_hint(got_other, ex, nan_hint)
        if not close(got_other, entropy(other)):
            raise CheckFailed(
                f"{ex}: right for an (m, n) array but wrong for an input of shape {other.shape} "
                f"(expected shape {entropy(other).shape}). Sum over axis=-1, whatever the number of dimensions."
            )
    passed(ex, f"nats over the last axis; one-hot → 0, uniform over {n} → ln {n} = {np.log(n):.3f}, 0·ln 0 = 0.")


# --------------------------------------------------------------------------- 3.2 temperature


def check_softmax_temperature(softmax_temperature: Callable) -> None:
    """Exercise 3.2: ``softmax_temperature(scores (..., n), T) -> (..., n)`` = softmax(scores / T)."""
    ex = "Exercise 3.2 (softmax_temperature)"
    s = np.array([
        [2.0, 1.0, 0.5, -1.0, 0.0],
        [0.3, 0.3, 2.5, -0.4, 1.1],
        [-1.0, 0.0, 1.0, 2.0, 3.0],
    ])  # (m, n) = (3, 5)
    for t in (0.5, 3.0):
        got = as_array(_call(softmax_temperature, s, t, exercise=ex), ex)
        expect_shape(got, s.shape, ex, {
            (s.shape[0],): "Return a weight for every score (shape (..., n)), not one number per row.",
        })
        want = softmax(s / t)
        rows = got.sum(axis=-1, keepdims=True)  # (m, 1)
        with np.errstate(all="ignore"):
            if (not close(rows, 1.0) and close(got.sum(), 1.0) and np.all(rows > 0)
                    and close(got / rows, want)):  # each row right up to one factor; the whole array sums to 1
                raise CheckFailed(
                    f"{ex}: your weights sum to 1 over the whole array, not row by row (your rows sum to "
                    f"{np.round(rows[:, 0], 3)}). Normalise each row: e / e.sum(axis=-1, keepdims=True)."
                )
        if not close(got, want):
            diagnose(got, [
                (softmax(s * t), f"you MULTIPLIED the scores by T = {t}. Divide them: softmax(scores / T), so that "
                                 "a small T sharpens the weights and a large T flattens them."),
                (softmax(s), "the temperature has no effect in your function: divide the scores by T before the softmax."),
                (softmax(s / t, axis=0), "your weights sum to 1 down each column; each row (axis=-1) must sum to 1."),
                (softmax(s) / t, "you divided the weights by T after the softmax, so rows no longer sum to 1. "
                                 "Divide the SCORES by T, then take the softmax."),
                (softmax(s / t**2), "divide by T, not by T²."),
                (softmax(s / np.sqrt(t)), "divide by T, not by √T."),
            ], ex, "weights = softmax(scores / T) along the last axis.")
    # A small temperature must not overflow: scores / T reach 1000 here.
    big = np.array([[10.0, 9.0, 0.0], [-5.0, 0.0, 2.0]])
    got_big = as_array(_call(softmax_temperature, big, 0.01, exercise=ex), ex)
    if not close(got_big, softmax(big / 0.01)):
        with np.errstate(all="ignore"):  # the global-max mistake divides 0 by 0 on the second row
            z = big / 0.01  # (2, 3): row maxima 1000 and 200
            e = np.exp(z - z.max())  # (2, 3): one max for the whole array
            global_max = e / e.sum(axis=-1, keepdims=True)  # row 2 is 0/0 = nan
        if got_big.shape == global_max.shape and np.allclose(got_big, global_max, equal_nan=True):
            raise CheckFailed(
                f"{ex}: at T = 0.01 your second row is nan. You subtracted the max of the WHOLE array (1000), "
                "and that row's scores / T (at most 200) lie 800 or more below it: exp() underflows to 0 in "
                "every entry, and 0/0 = nan. Subtract each row's own max: z.max(axis=-1, keepdims=True)."
            )
        _nan_hint(got_big, ex, "at T = 0.01 the scores / T reach 1000 and exp() overflows to inf (inf/inf = nan). "
                               "Subtract each row's max of scores / T before np.exp — the weights do not change.")
        raise CheckFailed(f"{ex}: wrong at T = 0.01; the weights must be softmax(scores / T).")
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
    ex = "Exercise 3.3 (uniform_query)"
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
        refused = _raised_value_error(uniform_query, k)
        if refused is not None:
            if rank == 0:
                why = (f"but these {n} keys are identical, so their differences have rank 0 < d = {d} and any "
                       "unit vector works. Test the rank of the differences, not n > d.")
            elif spans:
                why = (f"yet a uniform query exists: the {n - 1} differences k_j − k_0 have rank {rank} < d = {d}. "
                       f"The keys themselves span all {d} directions, so no nonzero query is orthogonal to every "
                       "key, but one IS orthogonal to every key DIFFERENCE, and that is all equal scores need.")
            else:
                why = (f"yet a uniform query exists: the {n - 1} differences k_j − k_0 have rank {rank} < d = {d}. "
                       "Raise ValueError only when the rank of the differences equals d.")
            raise CheckFailed(
                f"{ex}: for {label} your function raised {type(refused).__name__}: {refused} — {why}"
            )
        got = as_array(_call(uniform_query, k, exercise=ex), ex)
        expect_shape(got, (d,), ex, {
            (n,): "You returned one number per key (the scores?). Return the query itself: a vector of width d.",
            (n - 1,): "You returned one number per key difference. Return the query itself: a vector of width d.",
        })
        _nan_hint(got, ex, f"your query for {label} contains nan or inf.")
        norm = float(np.linalg.norm(got))
        if norm < 1e-8:
            raise CheckFailed(
                f"{ex}: for {label} you returned the zero query. q = 0 does give uniform weights, but the "
                "exercise asks for a NONZERO query: return a unit vector orthogonal to every key difference."
            )
        scores = k @ got  # (n, d) @ (d,) -> (n,)
        if np.ptp(scores) > 1e-8 * max(1.0, float(np.abs(scores).max())):
            if spans:
                v_min = np.linalg.svd(k)[2][-1]  # (d,): the direction least aligned with the keys
                if abs(abs(float(got @ v_min)) / norm - 1.0) < 1e-6:
                    raise CheckFailed(
                        f"{ex}: for {label} you returned the direction least aligned with the keys (the last "
                        f"right-singular vector of K). These keys span all {d} directions, so nothing nonzero "
                        "is orthogonal to every key. Equal scores need less: q orthogonal to every key "
                        "DIFFERENCE k_j − k_0."
                    )
            row_space = np.linalg.svd(diffs, full_matrices=False)[2][:rank]  # (rank, d), orthonormal rows
            if n - 1 < d and np.linalg.norm(row_space @ got) > (1 - 1e-6) * norm:
                raise CheckFailed(
                    f"{ex}: for {label} your query lies in the span of the {n - 1} key differences, not "
                    f"orthogonal to them. np.linalg.svd(D, full_matrices=False) returns only {n - 1} rows of Vt, "
                    f"all inside that span; use full_matrices=True (the default) to get all {d} rows, and take "
                    "a row beyond the rank of D."
                )
            raise CheckFailed(
                f"{ex}: for {label} your query gives unequal scores K @ q = {np.round(scores, 3) + 0.0}. Make q "
                "orthogonal to every key difference k_j − k_0 (j = 1..n−1): take a row of Vt from "
                "np.linalg.svd(D) beyond the rank of the (n−1, d) matrix D of differences."
            )
        if abs(norm - 1.0) > 1e-6:
            raise CheckFailed(f"{ex}: for {label} the scores are equal, but your query has length {norm:.3f}: "
                              "divide it by its norm to return a unit vector.")
    # More keys than dimensions, in general position: the differences span R^d and no such query exists.
    k = _keys(33, 6, 4)
    try:
        with np.errstate(all="ignore"):
            out = uniform_query(k.copy())
    except ValueError:
        pass
    except Exception as err:  # noqa: BLE001 - any other crash becomes a hint
        raise CheckFailed(
            f"{ex}: for 6 keys of width d = 4 no uniform query exists, and the function should raise ValueError; "
            f"it raised {type(err).__name__}: {err}"
        ) from None
    else:
        spread = np.ptp(k @ np.asarray(out, dtype=float)) if np.shape(out) == (4,) else float("nan")
        raise CheckFailed(
            f"{ex}: for 6 keys of width d = 4 the 5 differences span all 4 directions, so no nonzero query "
            f"gives equal scores (yours spread over {spread:.3g}). Check the rank of the differences and "
            "raise ValueError when it equals d."
        )
    passed(ex, "unit queries with equal scores for n < d, n = d and identical keys; "
               "ValueError when the differences have rank d.")


# --------------------------------------------------------------------------- 3.4 Nadaraya–Watson


def check_nadaraya_watson(nadaraya_watson_fn: Callable) -> None:
    """Exercise 3.4: ``nadaraya_watson(x_query (m,), x_train (n,), y_train (n,), bandwidth) -> (m,)``."""
    ex = "Exercise 3.4 (nadaraya_watson)"
    rng = np.random.default_rng(34)
    x_train = np.sort(rng.uniform(-2.0, 2.0, size=7))  # (n,) = (7,)
    y_train = np.sin(x_train) + 0.1 * rng.normal(size=7)  # (n,)
    x_query = np.array([-1.0, 0.2, 0.9, 2.5])  # (m,) = (4,)
    m, n = len(x_query), len(x_train)
    lam = 0.6  # the bandwidth λ
    got = as_array(_call(nadaraya_watson_fn, x_query, x_train, y_train, lam, exercise=ex, crash_hint=(
        "x_query[:, None] - x_train[None, :] has shape (m, n): one row per query, one column per training point."
    )), ex)
    expect_shape(got, (m,), ex, {
        (n,): "You returned one number per training point. Return one prediction per QUERY: softmax over the "
              "training points (axis=-1), then weights @ y_train.",
        (m, n): "You returned the weights. Return their blend of the values: weights @ y_train.",
        (n, m): "Your scores are (n, m): build them as x_query[:, None] - x_train[None, :], one row per query.",
    })
    _nan_hint(got, ex, "you got nan: did exp() overflow or underflow? Use a stable softmax (crossattn.softmax).")
    want, _ = nadaraya_watson(x_query, x_train, y_train, lam)
    if not close(got, want):
        diff = x_query[:, None] - x_train[None, :]  # (m, n)
        prod = x_query[:, None] * x_train[None, :]  # (m, n): the dot products x·x_j of 1-D points
        scores = gaussian_kernel_scores(x_query, x_train, lam)  # (m, n)
        divisors = (1.0, lam, lam**2, 2 * lam, 2 * lam**2)  # the ways a student might scale a score
        laplace = ("you used the distance |x − x_j| itself (a Laplace kernel). The Gaussian kernel scores by "
                   "minus the SQUARED distance: square the distance, −(x − x_j)² / (2λ²), "
                   "i.e. -diff**2 / (2 * bandwidth**2).")
        dot = ("you used the dot product x·x_j as the score, which favours large x_j, not NEAR ones. "
               "Nadaraya–Watson scores by closeness: minus the squared distance, −(x − x_j)² / (2λ²), "
               "i.e. -diff**2 / (2 * bandwidth**2).")
        diagnose(got, [
            (softmax(-diff**2 / (2 * lam**4)) @ y_train,
             "you squared the bandwidth twice: the score is −(x − x_j)² / (2λ²), with λ² = bandwidth**2, "
             "not bandwidth**4."),
            (softmax(-diff**2 / (2 * lam)) @ y_train,
             "divide by 2λ², not by 2λ: the bandwidth is squared once (2 * bandwidth**2)."),
            (softmax(-diff**2 / lam**2) @ y_train, "the Gaussian kernel has a 2 in it: −(x − x_j)² / (2λ²)."),
            (softmax(diff**2 / (2 * lam**2)) @ y_train,
             "the sign is flipped: your weights favour the FARTHEST points. The score is −(x − x_j)² / (2λ²)."),
            *[(softmax(-np.abs(diff) / c) @ y_train, laplace) for c in divisors],
            *[(softmax(prod / c) @ y_train, dot) for c in divisors],
            (softmax(scores, axis=0) @ y_train,
             "your weights sum to 1 over the queries (axis 0). Each query's weights over the n training points "
             "must sum to 1: softmax over axis=-1."),
            (np.exp(scores) @ y_train, "normalise the kernel weights: divide by their sum (softmax), so each row sums to 1."),
            (np.full(m, y_train.mean()), "you returned the plain mean of y_train: weight each y_j by its kernel score."),
            (y_train[np.argmin(np.abs(diff), axis=1)], "that is the nearest neighbour's y. Blend all y_j with Gaussian-kernel weights."),
        ], ex, "prediction = softmax(−(x_query[:, None] − x_train[None, :])² / (2λ²), axis=-1) @ y_train, "
               "with λ = bandwidth.")
    # A narrow bandwidth and a query far from the data: exp(score) underflows to 0 for every point.
    far = np.array([0.0, 4.0])  # (2,)
    got_far = as_array(_call(nadaraya_watson_fn, far, x_train, y_train, 0.02, exercise=ex), ex)
    want_far, _ = nadaraya_watson(far, x_train, y_train, 0.02)
    if not close(got_far, want_far):
        _nan_hint(got_far, ex, "with λ = 0.02 a query at x = 4 has scores below −2000 for every training point: "
                               "exp() underflows to 0 and 0/0 = nan. Subtract each row's max score first "
                               "(crossattn.softmax does): the weights then go to the nearest point.")
        raise CheckFailed(f"{ex}: right at λ = {lam} but wrong at λ = 0.02; use the same formula for every λ.")
    passed(ex, f"Gaussian-kernel attention: {m} predictions from {n} points; stable at λ = 0.02.")
