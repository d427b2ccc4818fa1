"""Counting and measuring what attention costs (chapter 2; reused by chapters 5 and 8).

FLOPs count one multiply and one add as 2 operations, the usual convention.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["attention_flops", "score_entries", "median_time", "loglog_slope"]


def attention_flops(m: int, n: int, d: int, d_v: int | None = None, h: int = 1) -> int:
    """FLOPs of ``Q Kᵀ`` and ``A V`` for h heads: ``2·h·m·n·d + 2·h·m·n·d_v``.

    Projections and softmax are not included (softmax is O(m·n), the rest O((m+n)·d²)).
    With d_v = d this is the design's 4·m·n·d per head.
    """
    d_v = d if d_v is None else d_v
    for name, val in (("m", m), ("n", n), ("d", d), ("d_v", d_v), ("h", h)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    return 2 * h * m * n * d + 2 * h * m * n * d_v


def score_entries(m: int, n: int, h: int = 1) -> int:
    """How many scores naive attention holds at once: h·m·n (the O(m·n) memory)."""
    for name, val in (("m", m), ("n", n), ("h", h)):
        if isinstance(val, bool) or int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    return int(h) * int(m) * int(n)


def median_time(fn: Callable[[], object], repeats: int = 7, min_seconds: float = 0.02) -> float:
    """Median wall-clock seconds of one call of ``fn``.

    Each of ``repeats`` samples loops ``fn`` enough times to last at least ``min_seconds``, which
    keeps timer noise small for fast functions. Timings vary between runs: compare them as ratios.
    """
    fn()  # warm-up: caches, lazy allocation
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        if time.perf_counter() - start >= min_seconds or loops >= 1 << 20:
            break
        loops *= 2
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return float(np.median(samples))


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x: the exponent p in y ∝ x^p.

    A slope near 1 means linear growth, near 2 quadratic.
    """
    x_arr, y_arr = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x_arr.shape != y_arr.shape or x_arr.ndim != 1 or len(x_arr) < 2:
        raise ValueError(f"x and y must be 1-D of the same length ≥ 2, got shapes {x_arr.shape} and {y_arr.shape}")
    if np.any(x_arr <= 0) or np.any(y_arr <= 0):
        raise ValueError("x and y must be positive to take logarithms")
    return float(np.polyfit(np.log(x_arr), np.log(y_arr), 1)[0])
