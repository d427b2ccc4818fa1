"""PyTorch building blocks of the encoder–decoder (chapter 4; switched on by chapters 5–8).

Shapes: B batch, m target (query) length, n source (key/value) length, d_model model width,
h heads, d_head = d_model / h. Masks are boolean with True = "may attend", as in
``torch.nn.functional.scaled_dot_product_attention``; ``torch.nn.MultiheadAttention`` uses the
opposite convention (True = blocked). A query row whose keys are all blocked gets zero weights
and a zero output, never NaN.

Only torch APIs available since torch 2.1 are used, so the labs run on Colab's torch.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .cache import KVCache

__all__ = ["MultiheadAttention", "RelativePositionBias", "FeedForward", "EncoderLayer", "DecoderLayer",
           "GatedCrossAttention", "fold_beams"]


class RelativePositionBias(nn.Module):
    """A learned scalar per head and clipped offset i − j, added to the attention scores (chapter 6).

    Offsets are clipped to [−max_distance, max_distance], as in Shaw et al. (2018); T5 buckets
    them instead. ``forward(m, n, offset)`` returns the bias of shape (h, m, n) for queries at
    positions offset..offset+m−1 and keys at positions 0..n−1.
    """

    def __init__(self, h: int, max_distance: int = 16) -> None:
        super().__init__()
        self.max_distance = max_distance
        self.table = nn.Parameter(torch.zeros(h, 2 * max_distance + 1))  # (h, 2·max_distance + 1)

    def forward(self, m: int, n: int, offset: int = 0) -> Tensor:
        i = torch.arange(offset, offset + m, device=self.table.device)[:, None]  # (m, 1)
        j = torch.arange(n, device=self.table.device)[None, :]  # (1, n)
        rel = (i - j).clamp(-self.max_distance, self.max_distance) + self.max_distance  # (m, n)
        return self.table[:, rel]  # (h, m, n)


class MultiheadAttention(nn.Module):
    """Multi-head attention: queries from ``x``, keys and values from ``s`` (chapter 4).

    ``s = None`` means self-attention (s = x). Pass ``shared_k`` / ``shared_v`` to reuse another
    module's W_K / W_V (weight tying, chapter 7): the very same ``nn.Linear`` objects, not copies.
    Pass a :class:`KVCache` to decode incrementally (chapter 5). The weights of the last call are
    kept in ``last_weights`` (B, h, m, n), detached, for plotting.

    ``n_kv_heads`` (chapter 10): how many distinct key/value heads W_K and W_V produce. The default,
    h, is multi-head attention; 1 is multi-query attention (Shazeer 2019); 1 < n_kv_heads < h is
    grouped-query attention (Ainslie et al. 2023): query head i reads key/value head
    i // (h / n_kv_heads). A cache then holds n_kv_heads heads per position, not h.
    """

    def __init__(
        self,
        d_model: int,
        h: int,
        relative_bias: RelativePositionBias | None = None,
        shared_k: nn.Linear | None = None,
        shared_v: nn.Linear | None = None,
        n_kv_heads: int | None = None,
    ) -> None:
        super().__init__()
        if d_model % h:
            raise ValueError(f"d_model={d_model} is not divisible by h={h}")
        n_kv_heads = h if n_kv_heads is None else n_kv_heads
        if int(n_kv_heads) != n_kv_heads or n_kv_heads < 1 or h % n_kv_heads:
            raise ValueError(f"n_kv_heads must be a positive divisor of h={h}, got {n_kv_heads!r}")
        if n_kv_heads != h and (shared_k is not None or shared_v is not None):
            raise ValueError("weight tying (shared_k, shared_v) needs n_kv_heads = h")
        self.d_model, self.h, self.d_head = d_model, h, d_model // h
        self.n_kv_heads = n_kv_heads
        kv_width = n_kv_heads * self.d_head  # d_model for multi-head attention
        self.w_q = nn.Linear(d_model, d_model, bias=False)
        self.w_k = shared_k if shared_k is not None else nn.Linear(d_model, kv_width, bias=False)
        self.w_v = shared_v if shared_v is not None else nn.Linear(d_model, kv_width, bias=False)
        self.w_o = nn.Linear(d_model, d_model, bias=False)
        self.relative_bias = relative_bias
        self.last_weights: Tensor | None = None

    def _split(self, t: Tensor) -> Tensor:
        B, L, width = t.shape
        heads = width // self.d_head  # h for queries, n_kv_heads for keys and values
        return t.view(B, L, heads, self.d_head).transpose(1, 2)  # (B, L, heads·d_head) -> (B, heads, L, d_head)

    def _kv_heads(self, t: Tensor) -> Tensor:
        """K or V with one head per query head: (B, n_kv_heads, n, d_head) -> (B, h, n, d_head) (chapter 10).

        Query head i reads key/value head i // (h / n_kv_heads). With n_kv_heads = h, t itself.
        """
        if self.n_kv_heads == self.h:
            return t
        return t.repeat_interleave(self.h // self.n_kv_heads, dim=1)  # (B, h, n, d_head)

    def project_kv(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of source states s (B, n, d_model): two tensors (B, n_kv_heads, n, d_head)."""
        return self._split(self.w_k(s)), self._split(self.w_v(s))

    def forward(
        self,
        x: Tensor,
        s: Tensor | None = None,
        mask: Tensor | None = None,
        cache: KVCache | None = None,
        offset: int = 0,
    ) -> Tensor:
        """Attend from x (B, m, d_model) to s (B, n, d_model); return (B, m, d_model).

        mask: bool, broadcastable to (B, h, m, n) — e.g. (m, n), (B, 1, n) or (B, 1, m, n) — True = may attend.
        cache: for a *static* cache (cross-attention) K, V of ``s`` are computed on the first call
        and reused after (``s`` may then be None); for a *growing* cache (self-attention) the
        K, V of the new tokens x are appended and the queries attend over everything cached
        (chapter 5). A static cache marked for k beams (:meth:`KVCache.fold_beams`) holds one copy
        per source while x holds k beams per source, (B·k, 1, d_model): the beams are folded into
        the query axis (:func:`fold_beams`), and ``last_weights`` is then (B, h, k, n).
        offset: position of the first query (used by the relative bias during incremental decoding).
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError("x must have shape (B, m, d_model="
                             f"{self.d_model}), got {tuple(x.shape)}")
        B, m, _ = x.shape
        q = self._split(self.w_q(x))  # (B, h, m, d_head)
        if cache is None:  # K, V of all of s (or x), at every call
            k, v = self.project_kv(x if s is None else s)
        elif cache.static:  # cross-attention: K, V of s once, kept
            if cache.k is None:
                if s is None:
                    raise ValueError("an empty cross-attention cache "
                                     "needs the source states s")
                cache.store(*self.project_kv(s))  # (B, h, n, d_head)
            k, v = cache.k, cache.v  # the same at every step
        else:  # self-attention: add the new rows, then read them all
            new_k, new_v = self.project_kv(x if s is None else s)
            k, v = cache.append(new_k, new_v)  # (B, h, t + m, d_head)
        if cache is not None and cache.beams > 1:  # beam search
            q = fold_beams(q, cache.beams)  # (B/k, h, k, d_head)
        k, v = self._kv_heads(k), self._kv_heads(v)  # MQA, GQA: ch. 10
        # (B, h, m, d_head) @ (B, h, d_head, n) -> (B, h, m, n)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        if self.relative_bias is not None:  # chapter 6: + (h, m, n)
            n = k.shape[-2]  # key positions
            scores = scores + self.relative_bias(m, n, offset)
        if mask is not None:
            if mask.dtype != torch.bool:
                raise ValueError("mask must be boolean (True = may "
                                 f"attend), got {mask.dtype}")
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, h, m, n)
        weights = torch.nan_to_num(weights, nan=0.0)  # blocked row: 0
        self.last_weights = weights.detach()
        out = weights @ v  # (B, h, m, d_head)
        out = out.transpose(1, 2)  # (B, m, h, d_head)
        out = out.reshape(B, m, self.d_model)  # (B, m, d_model)
        return self.w_o(out)


def fold_beams(q: Tensor, beams: int) -> Tensor:
    """Queries of k = ``beams`` beams per source as k query rows of that source (chapter 5).

    q: (B·k, h, 1, d_head), the beams of each source consecutive -> (B, h, k, d_head). All beams of a
    source read the same cross-attention K, V, (B, h, n, d_head), so their scores are one product per
    source, (B, h, k, d_head) @ (B, h, d_head, n), which reads one stored copy of K and V. Afterwards
    ``out.transpose(1, 2).reshape(B·k, 1, d_model)`` unfolds the (B, h, k, d_head) output as it is.
    Only the small queries (when B > 1) and outputs, (B·k, d_model) each, are copied, never K or V.
    Beams that share a source sit at the same position, so a relative
    bias or a mask computed for one query row, (h, 1, n) or (B, 1, 1, n), broadcasts over the k rows.
    """
    rows, h, m, d_head = q.shape
    if m != 1 or rows % beams:
        raise ValueError(f"folding {beams} beams needs one query per beam and a batch of B·{beams} rows, "
                         f"got q of shape {tuple(q.shape)}")
    q = q.reshape(rows // beams, beams, h, d_head)  # (B, k, h, d_head)
    return q.transpose(1, 2)  # (B, h, k, d_head)


class FeedForward(nn.Module):
    """Position-wise MLP: d_model -> d_ff -> d_model with a GELU."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (B, L, d_model) -> (B, L, d_model)


class EncoderLayer(nn.Module):
    """Pre-norm encoder layer: self-attention then feed-forward, each with an optional residual."""

    def __init__(self, d_model: int, h: int, d_ff: int, residual: bool = True,
                 shared_k: nn.Linear | None = None, shared_v: nn.Linear | None = None,
                 relative_bias: RelativePositionBias | None = None) -> None:
        super().__init__()
        self.residual = residual
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        # relative_bias: a bias b_h[j − j'] on the self-attention scores (chapter 6, "encoder-relative")
        self.self_attn = MultiheadAttention(d_model, h, relative_bias=relative_bias,
                                            shared_k=shared_k, shared_v=shared_v)
        self.ff = FeedForward(d_model, d_ff)

    def forward(self, s: Tensor, mask: Tensor | None = None, cache: KVCache | None = None) -> Tensor:
        """s: (B, n, d_model); mask broadcastable to (B, h, n, n). Returns (B, n, d_model).

        The same layer is the block of a decoder-only model (chapter 10): with a causal or prefix-LM
        mask, and a growing ``cache`` to decode one token at a time, it is a GPT-style block.
        """
        a = self.self_attn(self.norm1(s), mask=mask, cache=cache)
        s = s + a if self.residual else a
        f = self.ff(self.norm2(s))
        return s + f if self.residual else f


class DecoderLayer(nn.Module):
    """Pre-norm decoder layer: causal self-attention, cross-attention to the encoder, feed-forward."""

    def __init__(self, d_model: int, h: int, d_ff: int, residual: bool = True,
                 cross_relative_bias: RelativePositionBias | None = None,
                 shared_k: nn.Linear | None = None, shared_v: nn.Linear | None = None) -> None:
        super().__init__()
        self.residual = residual
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = MultiheadAttention(d_model, h, shared_k=shared_k, shared_v=shared_v)
        self.cross_attn = MultiheadAttention(d_model, h, relative_bias=cross_relative_bias,
                                             shared_k=shared_k, shared_v=shared_v)
        self.ff = FeedForward(d_model, d_ff)

    def forward(self, x: Tensor, s: Tensor | None,
                self_mask: Tensor | None = None,
                cross_mask: Tensor | None = None,
                self_cache: KVCache | None = None,
                cross_cache: KVCache | None = None,
                offset: int = 0) -> Tensor:
        """One decoder layer (chapter 4): returns (B, m, d_model).

        x: (B, m, d_model), the target states X.
        s: (B, n, d_model), the encoder output S (None once a
           filled cross cache holds its keys and values).
        self_mask: broadcastable to (B, h, m, m), causal.
        cross_mask: broadcastable to (B, h, m, n), padding.
        Caches and offset: incremental decoding (chapter 5).
        Chapter 4 shows this method on the page, so its lines
        stay within the 68-character code box.
        """
        # 1. causal self-attention: the target reads its own prefix
        a = self.self_attn(self.norm1(x), mask=self_mask,
                           cache=self_cache)
        x = x + a if self.residual else a
        # 2. cross-attention: queries from x, keys and values from s
        c = self.cross_attn(self.norm2(x), s, mask=cross_mask,
                            cache=cross_cache, offset=offset)
        x = x + c if self.residual else c
        # 3. feed-forward, at each position on its own
        f = self.ff(self.norm3(x))
        return x + f if self.residual else f


class GatedCrossAttention(nn.Module):
    """A tanh-gated cross-attention block to insert into a frozen decoder (chapter 10, Flamingo style).

        x <- x + tanh(alpha_attn) · CrossAttention(LayerNorm(x), s)
        x <- x + tanh(alpha_ff)   · FeedForward(LayerNorm(x))

    Both gates start at 0 (Alayrac et al. 2022), so at initialisation the block returns x itself:
    x + 0 · y is exactly x for every finite y, and the frozen model it is inserted into computes what
    it computed before, bit for bit. Training then opens the gates as far as the new reading helps.
    """

    def __init__(self, d_model: int, h: int, d_ff: int, n_kv_heads: int | None = None) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.cross_attn = MultiheadAttention(d_model, h, n_kv_heads=n_kv_heads)
        self.ff = FeedForward(d_model, d_ff)
        self.alpha_attn = nn.Parameter(torch.zeros(()))  # the gates: scalars, initialised at 0
        self.alpha_ff = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor, s: Tensor | None, mask: Tensor | None = None,
                cache: KVCache | None = None) -> Tensor:
        """x: (B, m, d_model) reads s: (B, n, d_model); mask broadcastable to (B, h, m, n). Returns (B, m, d_model)."""
        c = self.cross_attn(self.norm1(x), s, mask=mask, cache=cache)  # (B, m, d_model)
        x = x + torch.tanh(self.alpha_attn) * c
        f = self.ff(self.norm2(x))  # (B, m, d_model)
        return x + torch.tanh(self.alpha_ff) * f
