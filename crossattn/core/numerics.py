"""Softmax and entropy: the two functions every chapter leans on.

Introduced in chapter 1 (softmax turns scores into weights) and chapter 3 (entropy measures
how wide the attention 'spotlight' is).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["softmax", "entropy"]


def _positive_int(value: object, name: str) -> int:
    """``value`` as an int, or a ValueError naming ``name`` when it is not a whole number ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not np.isfinite(value) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _as_float_array(x: ArrayLike, name: str) -> NDArray[np.floating]:
    """Return ``x`` as a floating NumPy array, or raise a ValueError naming the argument."""
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _positive_number(value: float, name: str) -> float:
    """``value`` as a float, or a ValueError naming ``name`` when it is not a finite number > 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number > 0, got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def _check_axis(arr: NDArray, axis: int, name: str) -> None:
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of range for {name} of shape {arr.shape}")


def softmax(x: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """Numerically stable softmax along ``axis`` (chapter 1).

    Args:
        x: array of any shape (..., n); entries may be ``-inf`` (a blocked score), never NaN or ``+inf``.
        axis: the axis whose entries become a probability distribution.

    Returns:
        An array of the same shape as ``x`` whose slices along ``axis`` are non-negative and
        sum to 1. Subtracting the largest entry first means logits of ±1e4 do not overflow.
        A slice that is ``-inf`` everywhere (every key blocked) becomes all zeros, never NaN.
    """
    arr = _as_float_array(x, "x")
    _check_axis(arr, axis, "x")
    peak = np.max(arr, axis=axis, keepdims=True)
    if np.any(np.isnan(peak)) or np.any(peak == np.inf):  # NaN propagates into the max, +inf is the max
        raise ValueError("x must not contain NaN or +inf: a softmax over them is not a distribution "
                         "(use -inf for a blocked score)")
    # A slice of all -inf has peak -inf; shift it by 0 instead so exp gives 0, not NaN.
    peak = np.where(np.isfinite(peak), peak, 0.0)
    e = np.exp(arr - peak)
    total = np.sum(e, axis=axis, keepdims=True)
    # Where every entry was -inf the total is 0: return zeros for that slice.
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def entropy(p: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """Shannon entropy in nats, ``-sum p log p`` along ``axis``, with 0·log 0 = 0 (chapter 3).

    Args:
        p: array of shape (..., n) whose slices along ``axis`` are probability distributions
           (non-negative; they need not be renormalised here).
        axis: the axis to sum over.

    Returns:
        Array of shape ``p.shape`` without ``axis``: 0 for a one-hot slice, ``ln n`` for a
        uniform slice of length n.
    """
    arr = _as_float_array(p, "p")
    _check_axis(arr, axis, "p")
    if np.any(arr < 0):
        raise ValueError("p must be non-negative: entropy is defined for probability distributions")
    logs = np.log(arr, out=np.zeros_like(arr), where=arr > 0)
    return -np.sum(arr * logs, axis=axis)
