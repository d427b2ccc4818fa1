"""Summarising a number measured over seeds, honestly (chapters 6 and 7).

:func:`summarise` (mean and range), :func:`curve_band` (a learning curve's mean and range),
:func:`ranges_overlap`, :func:`permutation_p_value` (an exact permutation test) and
:func:`detectable_shift` (the smallest shift of a mean that the test would flag, given the seeds'
spread). NumPy only; nothing here trains.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SeedSummary", "summarise", "curve_band", "ranges_overlap", "permutation_p_value", "detectable_shift"]


@dataclass(frozen=True)
class SeedSummary:
    """A number measured over seeds: its mean and its range (smallest, largest)."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def summarise(values: Sequence[float]) -> SeedSummary:
    """Mean and range of one number over seeds."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"summarise needs a non-empty 1-D sequence of numbers, got shape {v.shape}")
    return SeedSummary(float(v.mean()), float(v.min()), float(v.max()), int(v.size))


def curve_band(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, lowest and highest curve over seeds: curves (seeds, points) -> three arrays (points,)."""
    c = np.asarray(curves, dtype=float)
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValueError(f"curves must have shape (seeds, points), got {c.shape}")
    return c.mean(axis=0), c.min(axis=0), c.max(axis=0)


def ranges_overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when the ranges [min, max] of the two samples overlap."""
    return bool(min(a) <= max(b) and min(b) <= max(a))


def permutation_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided permutation test of a difference in means.

    If the label (which sample a seed's number came from) does not matter — the numbers are
    exchangeable under "no effect" — every way of splitting the pooled numbers into groups of
    len(a) and len(b) is equally likely. The p-value is the fraction of splits whose absolute
    difference of means is at least as large as the observed one. The test assumes no normal
    distribution, but it does assume that exchangeability. With 5 seeds against 5 there are
    C(10, 5) = 252 splits; the observed split and its mirror (the two groups swapped, the same
    absolute difference) always count, so the smallest possible p-value is 2/252 ≈ 0.008.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or a.size == 0 or b.size == 0:
        raise ValueError(f"need two non-empty 1-D samples, got shapes {a.shape} and {b.shape}")
    if math.comb(a.size + b.size, a.size) > 200_000:
        raise ValueError("too many splits for an exact test: use at most about 20 numbers in all")
    pooled = np.concatenate([a, b])  # (n_a + n_b,)
    groups = np.array(list(itertools.combinations(range(pooled.size), a.size)))  # (splits, n_a)
    sums = pooled[groups].sum(axis=1)  # (splits,): the first group's sum
    differences = sums / a.size - (pooled.sum() - sums) / b.size  # (splits,)
    observed = abs(a.mean() - b.mean())
    return float(np.mean(np.abs(differences) >= observed - 1e-12))


def detectable_shift(a: Sequence[float], b: Sequence[float], alpha: float = 0.05, steps: int = 1000) -> float:
    """The smallest shift of a mean that :func:`permutation_p_value` detects (p < alpha) with this spread.

    Both samples are first moved to their pooled mean, so that they differ by nothing but their
    seed-to-seed scatter (no effect). Then ``a`` is shifted by +δ and by −δ; the answer is the
    smallest δ, on a grid of ``steps`` points per pooled range, at which both shifted versions
    give p < alpha. A true effect smaller than this would not have been detected by an
    experiment with these seeds' spread; an observed difference below it is inside the noise.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if a.ndim != 1 or b.ndim != 1 or a.size == 0 or b.size == 0:
        raise ValueError(f"need two non-empty 1-D samples, got shapes {a.shape} and {b.shape}")
    if 2 / math.comb(a.size + b.size, a.size) >= alpha:
        raise ValueError(f"with {a.size} against {b.size} numbers the smallest possible p-value is "
                         f"2/C({a.size + b.size}, {a.size}), not below alpha={alpha}: no shift can be detected")
    centre = np.concatenate([a, b]).mean()
    a0, b0 = a - a.mean() + centre, b - b.mean() + centre  # the same scatter, no difference in means
    span = float(np.ptp(np.concatenate([a0, b0])))
    if span == 0:
        raise ValueError("both samples are constant: any shift is detected, there is no spread to measure")
    for k in range(1, steps + 2):  # beyond δ = span the groups no longer overlap: p = 2/C(n_a + n_b, n_a)
        delta = span * k / steps
        if all(permutation_p_value(a0 + sign * delta, b0) < alpha for sign in (1, -1)):
            return delta
    raise AssertionError("separated groups always give the smallest p-value")  # pragma: no cover
