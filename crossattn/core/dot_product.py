"""Scaled dot-product attention in NumPy (chapter 2), the reference for the whole course.

Shapes follow the course notation: the target has m queries, the source n keys and values.

    q: (..., m, d)    k: (..., n, d)    v: (..., n, d_v)
    scores = q kᵀ/√d: (..., m, n)       weights A: (..., m, n)    out = A v: (..., m, d_v)
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .numerics import _as_float_array, _positive_number, softmax

__all__ = ["attention", "attention_scores", "check_attention_shapes"]


def check_attention_shapes(q: NDArray, k: NDArray, v: NDArray, mask: NDArray | None = None) -> None:
    """Raise a ValueError naming the shapes when q, k, v (and mask) cannot be attended together."""
    for name, arr in (("q", q), ("k", k), ("v", v)):
        if arr.ndim < 2:
            raise ValueError(f"{name} must have shape (..., length, width), got shape {arr.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"queries and keys must have the same width d: q has shape {q.shape} (d={q.shape[-1]}), "
            f"k has shape {k.shape} (d={k.shape[-1]})"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"keys and values must come from the same n source positions: k has shape {k.shape} "
            f"(n={k.shape[-2]}), v has shape {v.shape} (n={v.shape[-2]})"
        )
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"batch dimensions do not broadcast: q {q.shape}, k {k.shape}, v {v.shape}"
        ) from None
    if mask is not None:
        m, n = q.shape[-2], k.shape[-2]
        scores_shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (m, n)
        try:
            # Masking must leave the scores' shape unchanged: a mask may stretch to the scores, never
            # the scores to the mask (a transposed (.., 1, n, 1) mask with m = 1, or an extra head axis
            # on unheaded scores, would otherwise silently multiply the queries or the batch).
            if np.broadcast_shapes(mask.shape, scores_shape) != scores_shape:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"mask of shape {mask.shape} does not broadcast to the scores' shape (..., m, n) = "
                f"{scores_shape}: one row per query (m={m}), one column per key (n={n})"
            ) from None


def attention_scores(q: ArrayLike, k: ArrayLike, scale: float | None = None) -> NDArray[np.floating]:
    """Scores ``q kᵀ · scale`` of shape (..., m, n); scale defaults to 1/√d."""
    q_arr, k_arr = _as_float_array(q, "q"), _as_float_array(k, "k")
    check_attention_shapes(q_arr, k_arr, k_arr)
    d = q_arr.shape[-1]
    scale = 1.0 / np.sqrt(d) if scale is None else _positive_number(scale, "scale")
    return (q_arr @ np.swapaxes(k_arr, -1, -2)) * scale  # (..., m, d) @ (..., d, n) -> (..., m, n)


def attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    mask: ArrayLike | None = None,
    scale: float | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """Scaled dot-product attention: ``softmax(q kᵀ · scale) v`` (chapter 2).

    Args:
        q: queries, shape (..., m, d) — from the target sequence.
        k: keys, shape (..., n, d) — from the source sequence.
        v: values, shape (..., n, d_v) — from the source sequence.
        mask: optional boolean array broadcastable to (..., m, n); True means query i MAY
            attend to key j (the convention of ``scaled_dot_product_attention``).
        scale: multiplier of the scores, a finite number > 0; defaults to 1/√d.

    Returns:
        ``(out, weights)``: out of shape (..., m, d_v) and weights of shape (..., m, n) whose
        rows sum to 1. A query whose keys are all masked gets zero weights and a zero output,
        never NaN.

    Raises:
        ValueError: naming the shapes, when q, k, v or mask do not fit together.
    """
    q_arr, k_arr, v_arr = (_as_float_array(a, name) for a, name in ((q, "q"), (k, "k"), (v, "v")))
    mask_arr = None
    if mask is not None:
        mask_arr = np.asarray(mask)
        if mask_arr.dtype != bool:
            raise ValueError(
                f"mask must be boolean (True = may attend), got dtype {mask_arr.dtype}; "
                "an additive float mask is not accepted here"
            )
    check_attention_shapes(q_arr, k_arr, v_arr, mask_arr)
    scores = attention_scores(q_arr, k_arr, scale)  # (..., m, n)
    if mask_arr is not None:
        scores = np.where(mask_arr, scores, -np.inf)  # blocked keys get -inf, so weight 0
    weights = softmax(scores, axis=-1)  # (..., m, n); an all-blocked row is all zeros
    return weights @ v_arr, weights  # (..., m, n) @ (..., n, d_v) -> (..., m, d_v)
