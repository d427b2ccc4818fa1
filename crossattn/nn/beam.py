"""Beam search with key/value caches, sharing ONE copy of the cross-attention K, V across beams (chapter 5).

Beam search keeps the k most probable prefixes (the beams) of one source. A beam's score is the sum of
the log-probabilities of its tokens; at each step every beam is extended by every token of the
vocabulary and the k best of the k·N_voc extensions survive. A beam that has emitted EOS is finished:
it keeps its score and is extended only by padding. With k = 1 this is greedy decoding.

All beams of one source read the same source, so the cross-attention cache of each decoder layer
is stored once, (1, h, n, d_head), and every beam sees it through a stride-0 view
(:meth:`crossattn.nn.cache.KVCache.expand_beams`). The self-attention caches differ between beams:
each beam keeps its own rows, and when beams are re-ranked their rows follow them.

A stride-0 view saves the *stored* copies, but ``torch.matmul`` multiplies a batch by first making it
contiguous: the plain attention layer would copy the shared K (and V) into a temporary of k copies in
every layer and step. With ``fold_beams`` the cross-attention instead treats the k beams as k query
rows of ONE sequence, (1, h, k, d_head) against the one stored (1, h, n, d_head): the same numbers, no copy.

Shapes: k beams, n source length, h heads, d_head head width, N_voc vocabulary size.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from .cache import KVCache
from .layers import MultiheadAttention
from .model import EncoderDecoder
from .tokens import BOS, EOS, PAD

__all__ = ["BeamResult", "beam_search"]


@dataclass
class BeamResult:
    """What :func:`beam_search` returns, best beam first."""

    tokens: Tensor  # (k, steps) token ids, without BOS; PAD after a beam's EOS
    scores: Tensor  # (k,) sum of log-probabilities of the tokens up to and including EOS
    caches: list[tuple[KVCache, KVCache]]  # (self, cross) caches per decoder layer after the last step


def _folded_cross_attention(attn: MultiheadAttention, x: Tensor, s: Tensor | None = None,
                            mask: Tensor | None = None, cache: KVCache | None = None, offset: int = 0) -> Tensor:
    """``attn.forward`` for one new token per beam, x (k, 1, d_model), reading a shared stride-0 cross cache.

    The k beams become k query rows of one sequence, so the product reads the one stored
    (1, h, n, d_head) copy of K and V directly. Anything else goes to the layer's own forward.
    """
    shared = cache is not None and cache.static and cache.k is not None and cache.k.stride(0) == 0
    if not (shared and x.shape[1] == 1 and x.shape[0] == cache.k.shape[0]):
        return MultiheadAttention.forward(attn, x, s, mask, cache, offset)
    k_beams = x.shape[0]
    q = attn._split(attn.w_q(x)).transpose(0, 2)  # (k, h, 1, d_head) -> (1, h, k, d_head): beams as query rows
    k, v = cache.k[:1], cache.v[:1]  # (1, h, n, d_head): the one stored copy
    scores = q @ k.transpose(-2, -1) / math.sqrt(attn.d_head)  # (1, h, k, d_head) @ (1, h, d_head, n) -> (1, h, k, n)
    if attn.relative_bias is not None:
        scores = scores + attn.relative_bias(1, k.shape[-2], offset)  # + (h, 1, n): every beam is at position offset
    if mask is not None:
        if mask.dim() != 4 or mask.shape[0] != 1:
            raise ValueError(f"folded beams need a mask shared by all beams, (1, 1, 1, n); got {tuple(mask.shape)}")
        scores = scores.masked_fill(~mask, float("-inf"))  # (1, 1, 1 or k... , n) broadcasts over the rows
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)  # (1, h, k, n)
    attn.last_weights = weights.transpose(0, 2).detach()  # (k, h, 1, n), as the unfolded layer keeps it
    out = weights @ v  # (1, h, k, n) @ (1, h, n, d_head) -> (1, h, k, d_head)
    out = out.permute(2, 0, 1, 3).reshape(k_beams, 1, attn.d_model)  # (k, 1, h, d_head) -> (k, 1, d_model)
    return attn.w_o(out)


@contextmanager
def _beams_folded_into_queries(model: EncoderDecoder) -> Iterator[None]:
    """While active, every decoder layer's cross-attention reads a shared cache with the beams folded."""
    modules = [layer.cross_attn for layer in model.decoder]
    for attn in modules:
        attn.forward = partial(_folded_cross_attention, attn)  # an instance attribute shadows the method
    try:
        yield
    finally:
        for attn in modules:
            del attn.forward


@torch.no_grad()
def beam_search(model: EncoderDecoder, src: Tensor, beams: int, steps: int, share_cross: bool = True,
                fold_beams: bool = True, bos: int = BOS, eos: int | None = EOS) -> BeamResult:
    """Keep the ``beams`` most probable prefixes of one source src (1, n) for ``steps`` steps.

    Decoding is incremental with both caches. With ``share_cross`` the cross-attention K, V are
    one (1, h, n, d_head) tensor per layer seen by all beams through a stride-0 view; without it each
    beam gets its own copy (k, h, n, d_head), as a batched implementation that repeats the source
    would hold. ``fold_beams`` (used only with ``share_cross``) computes the cross-attention with the
    beams as query rows of one sequence, so that no product copies the shared K, V into a temporary;
    ``fold_beams=False`` leaves the stride-0 view to ``torch.matmul``, which makes that copy in every
    layer and step. All give the same beams (the folded products may differ by round-off).
    A beam that has emitted ``eos`` is finished: it is extended only by PAD, at no cost, so it stays
    one hypothesis with its score (``eos=None``: no stopping). Scores are plain sums of
    log-probabilities, without length normalisation.
    """
    if src.dim() != 2 or src.shape[0] != 1:
        raise ValueError(f"beam search reads one source at a time: src must be (1, n), got {tuple(src.shape)}")
    vocab = model.cfg.vocab_size
    if not 1 <= beams <= vocab:
        raise ValueError(f"beams must be between 1 and the vocabulary size {vocab}, got {beams}")
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    src_mask = model.source_mask(src)  # (1, n): the same for every beam, broadcast in the products
    caches = model.new_caches()
    # Step 0 with a single hypothesis (BOS): fills every cross cache once, (1, h, n, d_head).
    first = torch.full((1, 1), bos, dtype=torch.long, device=src.device)
    logp = model.decode(first, model.encode(src), src_mask, caches, offset=0)[0, -1].log_softmax(-1)  # (N_voc,)
    scores, tokens = logp.topk(beams)  # (k,), (k,)
    tokens = tokens[:, None]  # (k, 1)
    finished = tokens[:, 0] == eos if eos is not None else torch.zeros(beams, dtype=torch.bool, device=src.device)
    pad_only = torch.full((vocab,), float("-inf"), dtype=logp.dtype, device=logp.device)  # (N_voc,)
    pad_only[PAD] = 0.0  # the one continuation of a finished beam
    for l, (self_cache, cross_cache) in enumerate(caches):
        shared = cross_cache.expand_beams(beams) if share_cross else cross_cache.repeat_interleave(beams)
        caches[l] = (self_cache.repeat_interleave(beams), shared)  # self rows: (k, h, 1, d_head), one copy per beam
    folded = _beams_folded_into_queries(model) if share_cross and fold_beams else _nothing()
    with folded:
        for t in range(1, steps):
            logits = model.decode(tokens[:, -1:], None, src_mask, caches, offset=t)[:, -1]  # (k, N_voc)
            logp = torch.where(finished[:, None], pad_only, logits.log_softmax(-1))  # (k, N_voc)
            total = scores[:, None] + logp  # (k, N_voc): score of every one-token extension
            scores, flat = total.flatten().topk(beams)  # the k best of the k·N_voc extensions
            origin, token = flat // vocab, flat % vocab  # (k,) beam each comes from, (k,) its new token
            tokens = torch.cat([tokens[origin], token[:, None]], dim=1)  # (k, t + 1)
            finished = finished[origin]  # (k,): a beam's state follows it
            if eos is not None:
                finished = finished | (token == eos)
            for self_cache, _ in caches:  # self-attention rows follow their beam; the cross cache is the same for all
                self_cache.k = self_cache.k.index_select(0, origin)  # (k, h, t + 1, d_head)
                self_cache.v = self_cache.v.index_select(0, origin)
    return BeamResult(tokens, scores, caches)


@contextmanager
def _nothing() -> Iterator[None]:
    yield
