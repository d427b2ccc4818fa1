"""Boolean attention masks (chapter 2). Convention everywhere: True means 'may attend'.

This is the convention of ``torch.nn.functional.scaled_dot_product_attention``. It is the
OPPOSITE of ``torch.nn.MultiheadAttention``'s ``key_padding_mask`` and boolean ``attn_mask``,
where True means 'blocked'. A mask has shape (..., m, n): one row per query, one column per key.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .numerics import _positive_int

__all__ = ["padding_mask", "causal_mask", "prefix_lm_mask"]


def padding_mask(source_lengths: ArrayLike, m: int, n: int) -> NDArray[np.bool_]:
    """Mask that lets every query see the real source tokens and none of the padding.

    Args:
        source_lengths: int array of shape (B,): how many of the n source positions are real
            tokens in each batch element (the rest, at the end, are padding).
        m: target (query) length.
        n: padded source (key) length.

    Returns:
        Boolean array of shape (B, m, n); ``mask[b, i, j]`` is True when ``j < source_lengths[b]``.
    """
    lengths = np.asarray(source_lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"source_lengths must be a 1-D integer array of shape (B,), got {lengths.dtype} {lengths.shape}")
    m, n = _positive_int(m, "m"), _positive_int(n, "n")
    if np.any(lengths < 0) or np.any(lengths > n):
        raise ValueError(f"source_lengths must lie in [0, n={n}], got {lengths.tolist()}")
    key_is_real = np.arange(n)[None, :] < lengths[:, None]  # (B, n)
    return np.broadcast_to(key_is_real[:, None, :], (len(lengths), m, n)).copy()  # (B, m, n)


def causal_mask(m: int, n: int | None = None) -> NDArray[np.bool_]:
    """Lower-triangular mask of shape (m, n): query i may attend to keys 0..i (chapter 4).

    With ``n`` omitted the mask is square (self-attention of a sequence on itself).
    """
    m = _positive_int(m, "m")
    n = m if n is None else _positive_int(n, "n")
    return np.tril(np.ones((m, n), dtype=bool))


def prefix_lm_mask(n: int, m: int) -> NDArray[np.bool_]:
    """The mask of a prefix LM over the sequence [source; target]: shape (n + m, n + m) (chapter 10).

    Rows and columns 0..n−1 are the n source positions, n..n+m−1 the m target positions.
    Every position may attend to every source position (the source is read bidirectionally, as an
    encoder reads it); a target position i may also attend to target positions ≤ i (causal); a
    source position never attends to the target. With n = 0 this is :func:`causal_mask` (a plain
    language model); with m = 0 it is all True (an encoder).
    """
    if int(n) != n or int(m) != m or n < 0 or m < 0 or n + m < 1:
        raise ValueError(f"n and m must be integers ≥ 0 with n + m ≥ 1, got n={n!r}, m={m!r}")
    j = np.arange(n + m)[None, :]  # (1, n + m): keys
    i = np.arange(n + m)[:, None]  # (n + m, 1): queries
    return (j < n) | (j <= i)  # (n + m, n + m)
