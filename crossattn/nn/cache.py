"""Key/value caches for incremental decoding (chapter 5).

Cross-attention reads the same source at every decoding step, so its K and V are computed once
per source and layer and then reused: a *static* cache. Decoder self-attention gains one token
per step, so its K and V grow by one row per step: a *growing* cache.
K and V are stored as (B, h, t, d_head), one row per cached position: t = n source positions for a
cross-attention cache, t = the tokens fed so far for a self-attention cache. (L counts decoder
layers in chapter 5; each layer has its own pair of caches.)

Beam search (chapter 5, "Going further") reads one source with k beams. A static cache marked with
``beams = k`` (:meth:`KVCache.fold_beams`) keeps ONE copy per source, (B, h, n, d_head), and the
attention layer folds the k beams of each source into its query axis, (B, h, k, d_head), so no
product copies K or V (:func:`crossattn.nn.layers.fold_beams`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["KVCache"]


@dataclass
class KVCache:
    """Keys and values of one attention module; ``static`` for cross-attention."""

    static: bool = False
    k: Tensor | None = None  # (B, h, t, d_head): t cached positions
    v: Tensor | None = None  # (B, h, t, d_head)
    beams: int = 1  # static only: beams per source reading it, folded into the queries

    def __post_init__(self) -> None:
        if int(self.beams) != self.beams or self.beams < 1:
            raise ValueError(f"beams must be a positive integer, got {self.beams!r}")
        if self.beams > 1 and not self.static:
            raise ValueError("only a static (cross-attention) cache is shared by beams; "
                             "each beam keeps its own self-attention cache")

    @property
    def length(self) -> int:
        """How many positions are cached: t, the size of axis −2 of k and v (0 while empty)."""
        return 0 if self.k is None else self.k.shape[-2]

    def store(self, k: Tensor, v: Tensor) -> None:
        """Fill a static (cross-attention) cache once with K, V (B, h, n, d_head); a second call is refused.

        K and V are kept in the layouts the two products read them in: Kᵀ (B, h, d_head, n) and V
        (B, h, n, d_head) contiguous. That is one copy now, instead of one at every later step: the
        split into heads leaves a strided view of (B, n, d_model), which ``torch.matmul`` would copy
        before each product. The products then run on the very operands the uncached layer hands
        them, so a decoder with this cache computes bit for bit what it computes without one.
        """
        if not self.static:
            raise ValueError("store() is for the static cross-attention cache; a self-attention cache grows with append()")
        if self.k is not None:
            raise ValueError("this cross-attention cache is already filled: its K, V must not change during decoding")
        self.k = k.transpose(-2, -1).contiguous().transpose(-2, -1)  # (B, h, n, d_head), Kᵀ contiguous
        self.v = v.contiguous()  # (B, h, n, d_head)

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append new rows (B, h, r, d_head) to a growing cache, which holds t rows; return all of K and V, (B, h, t + r, d_head).

        An empty cache (``k is None``, at step 0) just takes the new rows. A static cache refuses
        (even while empty): a cross-attention cache is filled with :meth:`store`, never appended to.
        """
        if self.static:
            raise ValueError("a cross-attention cache is filled once with store() and never appended to")
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=-2)  # (B, h, t + r, d_head)
            self.v = torch.cat([self.v, v], dim=-2)
        return self.k, self.v

    def repeat_interleave(self, beams: int) -> "KVCache":
        """A cache for ``beams`` beams per batch element (B·beams, h, t, d_head).

        The copy is real memory; for a static cache prefer :meth:`expand_beams`, which shares it.
        """
        return KVCache(self.static, None if self.k is None else self.k.repeat_interleave(beams, 0),
                       None if self.v is None else self.v.repeat_interleave(beams, 0))

    def expand_beams(self, beams: int) -> "KVCache":
        """The static cache of ONE source, seen by ``beams`` beams without copying it.

        (1, h, n, d_head) -> (beams, h, n, d_head) as a stride-0 view that shares memory with the
        original: possible because cross-attention K, V never change during decoding. Only for one
        source: a (B, beams, ...) stride-0 view of B > 1 sources cannot be reshaped to
        (B·beams, ...) without copying it. :meth:`fold_beams` works for any B.
        """
        if not self.static or self.k is None or self.v is None:
            raise ValueError("only a filled cross-attention cache can be shared across beams")
        if self.k.shape[0] != 1:
            raise ValueError(f"a stride-0 view shares a cache across beams for one source only: batch is "
                             f"{self.k.shape[0]}, expected 1 (reshaping B > 1 sources to B·beams rows would "
                             "copy it); use fold_beams instead")
        return KVCache(True, self.k.expand(beams, -1, -1, -1), self.v.expand(beams, -1, -1, -1))

    def fold_beams(self, beams: int) -> "KVCache":
        """The static cache of B sources, read by ``beams`` beams of each source without copying it.

        K and V stay (B, h, n, d_head), one copy per source (the same tensors, not even a view); the
        attention layer reads the mark ``beams`` and treats the beams of a source as query rows of
        that source, (B·beams, h, 1, d_head) -> (B, h, beams, d_head) (chapter 5).
        """
        if not self.static or self.k is None or self.v is None:
            raise ValueError("only a filled cross-attention cache can be shared across beams")
        if self.beams != 1:
            raise ValueError(f"this cache is already folded for {self.beams} beams")
        return KVCache(True, self.k, self.v, beams=beams)
