"""Multi-head attention in NumPy (chapter 2): split the width into h heads, attend, merge.

    x: (..., L, h·d_head)  --split_heads-->  (..., h, L, d_head)  --merge_heads-->  (..., L, h·d_head)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .dot_product import attention
from .numerics import _as_float_array, _positive_int

__all__ = ["split_heads", "merge_heads", "Projections", "multihead_attention"]


def split_heads(x: ArrayLike, h: int) -> NDArray[np.floating]:
    """Split the last axis into h heads: (..., L, h·d_head) -> (..., h, L, d_head).

    Head j owns the columns ``j·d_head .. (j+1)·d_head - 1``. A plain reshape to (h, L, d_head)
    without the transpose mixes positions across heads: the classic bug.
    """
    arr = _as_float_array(x, "x")
    if arr.ndim < 2:
        raise ValueError(f"x must have shape (..., L, width), got shape {arr.shape}")
    h = _positive_int(h, "h")
    if arr.shape[-1] % h:
        raise ValueError(f"the width {arr.shape[-1]} of x (shape {arr.shape}) is not divisible by h={h}")
    *batch, length, width = arr.shape
    arr = arr.reshape(*batch, length, h, width // h)  # (..., L, h, d_head)
    return np.swapaxes(arr, -3, -2)  # (..., h, L, d_head)


def merge_heads(x: ArrayLike) -> NDArray[np.floating]:
    """Inverse of :func:`split_heads`: (..., h, L, d_head) -> (..., L, h·d_head)."""
    arr = _as_float_array(x, "x")
    if arr.ndim < 3:
        raise ValueError(f"x must have shape (..., h, L, d_head), got shape {arr.shape}")
    *batch, h, length, d_head = arr.shape
    arr = np.swapaxes(arr, -3, -2)  # (..., L, h, d_head)
    return arr.reshape(*batch, length, h * d_head)  # (..., L, h·d_head)


@dataclass
class Projections:
    """The four weight matrices of one attention layer (chapter 2).

    w_q: (d_model, h·d)   w_k: (d_model, h·d)   w_v: (d_model, h·d_v)   w_o: (h·d_v, d_model)
    """

    w_q: NDArray[np.floating]
    w_k: NDArray[np.floating]
    w_v: NDArray[np.floating]
    w_o: NDArray[np.floating]

    @classmethod
    def random(cls, d_model: int, h: int, d: int, d_v: int | None = None, seed: int = 0) -> "Projections":
        """Gaussian weights scaled by 1/√fan_in, from ``seed``."""
        d_model, h, d = _positive_int(d_model, "d_model"), _positive_int(h, "h"), _positive_int(d, "d")
        d_v = d if d_v is None else _positive_int(d_v, "d_v")
        rng = np.random.default_rng(seed)
        def w(fan_in: int, fan_out: int) -> NDArray[np.floating]:
            return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        return cls(w(d_model, h * d), w(d_model, h * d), w(d_model, h * d_v), w(h * d_v, d_model))


def multihead_attention(
    x: ArrayLike,
    s: ArrayLike,
    proj: Projections,
    h: int,
    mask: ArrayLike | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """Multi-head cross-attention of target states x over source states s.

    Args:
        x: target states, shape (..., m, d_model) — they make the queries.
        s: source states, shape (..., n, d_model) — they make the keys and values.
            Pass ``s = x`` for self-attention.
        proj: the projection matrices.
        h: number of heads.
        mask: boolean, broadcastable to (..., m, n) (the same mask for every head), True = may attend.

    Returns:
        ``(out, weights)``: out of shape (..., m, d_model), weights of shape (..., h, m, n).
    """
    x_arr, s_arr = _as_float_array(x, "x"), _as_float_array(s, "s")
    if x_arr.shape[-1] != proj.w_q.shape[0] or s_arr.shape[-1] != proj.w_k.shape[0]:
        raise ValueError(
            f"x {x_arr.shape} and s {s_arr.shape} must have width d_model={proj.w_q.shape[0]}"
        )
    q = split_heads(x_arr @ proj.w_q, h)  # (..., m, h·d) -> (..., h, m, d)
    k = split_heads(s_arr @ proj.w_k, h)  # (..., n, h·d) -> (..., h, n, d)
    v = split_heads(s_arr @ proj.w_v, h)  # (..., n, h·d_v) -> (..., h, n, d_v)
    if mask is not None:
        mask = np.expand_dims(np.asarray(mask), -3)  # (..., 1, m, n): same mask for each head
    out, weights = attention(q, k, v, mask=mask)  # (..., h, m, d_v), (..., h, m, n)
    return merge_heads(out) @ proj.w_o, weights  # (..., m, h·d_v) @ (h·d_v, d_model) -> (..., m, d_model)
