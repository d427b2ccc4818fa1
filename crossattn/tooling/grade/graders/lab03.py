"""Lab 3, the spotlight: entropy, softmax with a temperature, the uniform query, Nadaraya–Watson (NumPy only).

Expected answers come from the package's reference functions, computed here; the uniform query is
judged by its properties (unit length, equal scores, ValueError exactly when none exists).
"""
from __future__ import annotations

import numpy as np

from ..exercises import Case, _array, _first, _randn, _sizes, _untouched, case, close
from ..sandbox import CaseResult

__all__ = ["GRADERS", "NEEDS"]


def _distributions(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Rows that sum to 1 over the last axis, some with exact zeros and one one-hot row."""
    p = rng.random(shape) ** 3
    p[rng.random(shape) < 0.25] = 0.0
    flat = p.reshape(-1, shape[-1])
    flat[0] = 0.0
    flat[0, rng.integers(shape[-1])] = 1.0  # one-hot: entropy 0
    flat[flat.sum(-1) == 0, 0] = 1.0
    return (flat / flat.sum(-1, keepdims=True)).reshape(shape)


def lab3_entropy(rng):
    from crossattn import entropy

    m, n, B = _sizes(rng, 3)
    cases = []
    for p in (_distributions(rng, m, n), _distributions(rng, n), _distributions(rng, B, m, n)):
        label = f"entropy(p {p.shape}, with zeros and a one-hot row)"
        cases.append(case("call", (p,), label, lambda v, r, e=entropy(p), lab=label: _first(
            close(v, e, lab, rtol=1e-9, atol=1e-12), _untouched(r, lab))))
    p = np.full((m, n), 1.0 / n)
    label = f"entropy(p {p.shape}, uniform rows)"
    cases.append(case("call", (p,), label, lambda v, r, e=np.full(m, np.log(n)), lab=label: _first(
        close(v, e, lab + " (a uniform row has entropy ln n)", rtol=1e-9), _untouched(r, lab))))
    return cases


def lab3_softmax_temperature(rng):
    from crossattn import softmax

    m, n, B = _sizes(rng, 3)
    cases = []
    for scores, T in ((_randn(rng, m, n, scale=2), float(rng.uniform(0.2, 0.9))),
                      (_randn(rng, B, m, n, scale=2), float(rng.uniform(1.5, 6.0))),
                      (_randn(rng, m, n, scale=2) + 10 * np.arange(m)[:, None] + 1000, 0.01)):
        label = f"softmax_temperature(scores {scores.shape}, T={T:.3g})"

        def judge(v, r, e=softmax(scores / T), label=label):
            return _first(close(v, e, label, rtol=1e-6, atol=1e-9), _untouched(r, label))
        cases.append(case("call", (scores, T), label, judge))
    return cases


def _uniform_judge(K: np.ndarray, label: str):
    n, d = K.shape

    def judge(v, r):
        q, err = _array(v, label, (d,))
        if err:
            return err
        q = q.astype(float)
        if not np.all(np.isfinite(q)):
            return f"{label}: the query holds NaN or inf"
        norm = float(np.linalg.norm(q))
        if abs(norm - 1.0) > 1e-6:
            return f"{label}: the query has length {norm:.3g}, not 1"
        scores = K @ q  # (n,)
        if np.ptp(scores) > 1e-7 * max(1.0, float(np.abs(K).max())):
            return f"{label}: the scores K @ q are not all equal (they spread over {np.ptp(scores):.3g})"
        return _untouched(r, label)
    return judge


def lab3_uniform_query(rng):
    cases = []
    d = int(rng.integers(4, 7))
    n_small = int(rng.integers(2, d))
    rank = int(rng.integers(1, d - 1))
    k0 = _randn(rng, d)
    low_rank = k0 + _randn(rng, d + 3, rank) @ _randn(rng, rank, d)  # (n > d, d): differences of rank < d
    identical = np.tile(_randn(rng, 1, d), (d + 2, 1))
    for K, what in ((_randn(rng, n_small, d), "fewer keys than dimensions"), (_randn(rng, d, d), "n = d"),
                    (low_rank, f"more keys than dimensions, differences of rank {rank}"),
                    (identical, "identical keys")):
        label = f"uniform_query(K {K.shape}, {what})"
        cases.append(case("call", (K,), label, _uniform_judge(K, label)))
    K = _randn(rng, d + 2, d)
    label = f"uniform_query(K {K.shape}, in general position: no uniform query exists)"

    def must_raise(result: CaseResult, label=label) -> str | None:
        if result.status == "raised" and result.error.startswith("ValueError"):
            return None
        if result.status == "raised":
            return f"{label}: should raise ValueError, raised {result.error}"
        return f"{label}: should raise ValueError (the key differences span all {d} directions), returned a value"
    cases.append(Case("call", (K,), must_raise))
    return cases


def lab3_nadaraya_watson(rng):
    from crossattn import nadaraya_watson

    cases = []
    m, n = _sizes(rng, 2, 3, 12)
    for lam, far in ((float(rng.uniform(0.3, 1.0)), False), (0.02, True)):
        x_train = np.linspace(-2, 2, n) + rng.uniform(-0.3, 0.3, n) * 4 / n  # (n,), gaps of at least 0.4·4/n
        y_train = np.sin(x_train) + 0.3 * _randn(rng, n)
        x_query = rng.uniform(-2.5, 2.5, size=m)
        if far:  # between two training points (a bandwidth of 0.1 blends them, 0.02 picks one) and far away
            j = rng.integers(0, n - 1, size=m)
            x_query = x_train[j] + rng.uniform(0.3, 0.45, size=m) * (x_train[j + 1] - x_train[j])
            x_query[-1] = 4.0 + rng.random()  # every exp(score) underflows without a stable softmax
        label = f"nadaraya_watson(x_query ({m},), x_train ({n},), y_train ({n},), bandwidth={lam:.3g})"
        expected = nadaraya_watson(x_query, x_train, y_train, lam)[0]
        cases.append(case("call", (x_query, x_train, y_train, lam), label, lambda v, r, e=expected, lab=label: _first(
            close(v, e, lab, rtol=1e-6, atol=1e-9), _untouched(r, lab))))
    return cases


GRADERS = {"entropy": lab3_entropy, "softmax_temperature": lab3_softmax_temperature,
           "uniform_query": lab3_uniform_query, "nadaraya_watson": lab3_nadaraya_watson}
NEEDS = {"imports": (), "parts": ("core",)}
