"""Beam search with key/value caches, reading ONE copy of each source's cross-attention K, V (chapter 5).

Beam search keeps the k most probable prefixes (the beams) of each source. A beam's score is the sum of
the log-probabilities of its tokens; at each step every beam is extended by every token of the
vocabulary and the k best of the k·N_voc extensions of the same source survive. A beam that has
emitted EOS is finished: it keeps its score and is extended only by padding. With k = 1 this is greedy
decoding.

The beams of a source write different prefixes, so each keeps its own self-attention cache, whose rows
follow it when the beams are re-ranked. But they all read the same source, so their cross-attention
K, V are the same. Three ways to give them those K, V (``cross=``):

  "fold" — the cache keeps one copy per source, (B, h, n, d_head), and the attention layer treats the
           k beams of a source as k query rows of that source, (B, h, k, d_head)
           (:meth:`crossattn.nn.cache.KVCache.fold_beams`, :func:`crossattn.nn.layers.fold_beams`).
           Nothing is copied but the small queries and outputs of the cross-attention, (B·k, d_model) each;
           works for any number of sources B.
  "view" — one source only: the (1, h, n, d_head) cache seen by the k beams through a stride-0 view,
           (k, h, n, d_head) (:meth:`crossattn.nn.cache.KVCache.expand_beams`). Nothing is stored twice,
           but ``torch.matmul`` copies a stride-0 batch into a temporary before multiplying, in every
           layer and step; and for B > 1 sources the (B, k, ...) view cannot become (B·k, ...) without a
           copy, so the view is refused there.
  "copy" — every beam gets its own copy, (B·k, h, n, d_head), as a batched implementation that repeats
           each source k times holds.

All three give the same beams; the folded products add in another order, so scores may differ by
round-off. Shapes: B sources, k beams, n source length, h heads, d_head head width, N_voc vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .cache import KVCache
from .model import EncoderDecoder
from .tokens import BOS, EOS, PAD

__all__ = ["BEAM_CROSS_MODES", "BeamResult", "beam_search"]

BEAM_CROSS_MODES = ("fold", "view", "copy")


@dataclass
class BeamResult:
    """What :func:`beam_search` returns, best beam first for every source."""

    tokens: Tensor  # (B, k, steps) token ids, without BOS; PAD after a beam's EOS
    scores: Tensor  # (B, k) sum of log-probabilities of the tokens up to and including EOS
    caches: list[tuple[KVCache, KVCache]]  # (self, cross) caches per decoder layer after the last step


def _cross_for_beams(cache: KVCache, beams: int, cross: str) -> KVCache:
    """One layer's filled cross cache (B, h, n, d_head), made readable by k beams per source."""
    if cross == "fold":
        return cache.fold_beams(beams)  # the same tensors, marked: the layer folds the queries
    if cross == "view":
        return cache.expand_beams(beams)  # (k, h, n, d_head), stride 0 along the beams (B = 1 only)
    return cache.repeat_interleave(beams)  # (B·k, h, n, d_head): k real copies per source


@torch.no_grad()
def beam_search(model: EncoderDecoder, src: Tensor, beams: int, steps: int, cross: str = "fold",
                bos: int = BOS, eos: int | None = EOS) -> BeamResult:
    """Keep the ``beams`` most probable prefixes of every source in src (B, n) for ``steps`` steps.

    Decoding is incremental with both caches; ``cross`` chooses how the beams read the cross-attention
    cache ("fold", "view" or "copy", see the module's docstring; "view" needs B = 1). A beam that has
    emitted ``eos`` is finished: it is extended only by PAD, at no cost, so it stays one hypothesis with
    its score (``eos=None``: no stopping). Scores are plain sums of log-probabilities, without length
    normalisation. Returns tokens (B, k, steps) and scores (B, k), best first.
    """
    if src.dim() != 2:
        raise ValueError(f"src must be a (B, n) tensor of token ids, got shape {tuple(src.shape)}")
    if cross not in BEAM_CROSS_MODES:
        raise ValueError(f"cross must be one of {BEAM_CROSS_MODES}, got {cross!r}")
    if cross == "view" and src.shape[0] != 1:
        raise ValueError(f"cross='view' shares the cache of one source, got {src.shape[0]} sources: a stride-0 "
                         "view of B > 1 sources cannot be reshaped to B·beams rows without a copy; use 'fold'")
    vocab = model.cfg.vocab_size
    if not 1 <= beams <= vocab:
        raise ValueError(f"beams must be between 1 and the vocabulary size {vocab}, got {beams}")
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    B = src.shape[0]
    src_mask = model.source_mask(src)  # (B, n)
    caches = model.new_caches()
    # Step 0 with one hypothesis per source (BOS): fills every cross cache once, (B, h, n, d_head).
    first = torch.full((B, 1), bos, dtype=torch.long, device=src.device)
    logits = model.decode(first, model.encode(src), src_mask, caches, offset=0)[:, -1]  # (B, N_voc)
    scores, tokens = logits.log_softmax(-1).topk(beams)  # (B, k), (B, k)
    tokens = tokens[..., None]  # (B, k, 1)
    finished = tokens[..., 0] == eos if eos is not None else torch.zeros_like(scores, dtype=torch.bool)
    pad_only = torch.full((vocab,), float("-inf"), dtype=scores.dtype, device=src.device)  # (N_voc,)
    pad_only[PAD] = 0.0  # the one continuation of a finished beam
    for l, (self_cache, cross_cache) in enumerate(caches):
        # self rows: (B·k, h, 1, d_head), one copy per beam; cross: as `cross` says
        caches[l] = (self_cache.repeat_interleave(beams), _cross_for_beams(cross_cache, beams, cross))
    # Folded, the cross-attention reads the (B, n) mask of the sources; otherwise one row per beam.
    mask = src_mask if cross == "fold" else src_mask.repeat_interleave(beams, 0)  # (B, n) or (B·k, n)
    first_row = torch.arange(B, device=src.device)[:, None] * beams  # (B, 1): row of each source's beam 0
    for t in range(1, steps):
        fed = tokens[..., -1].reshape(B * beams, 1)  # (B·k, 1): the newest token of every beam
        logits = model.decode(fed, None, mask, caches, offset=t)[:, -1]  # (B·k, N_voc)
        logp = logits.log_softmax(-1).view(B, beams, vocab)  # (B, k, N_voc)
        logp = torch.where(finished[..., None], pad_only, logp)
        total = scores[..., None] + logp  # (B, k, N_voc): score of every one-token extension
        scores, flat = total.flatten(1).topk(beams)  # (B, k): the k best of each source's k·N_voc
        origin, token = flat // vocab, flat % vocab  # (B, k) beam each comes from, (B, k) its new token
        history = tokens.gather(1, origin[..., None].expand(-1, -1, t))  # (B, k, t)
        tokens = torch.cat([history, token[..., None]], dim=-1)  # (B, k, t + 1)
        finished = finished.gather(1, origin)  # (B, k): a beam's state follows it
        if eos is not None:
            finished = finished | (token == eos)
        rows = (first_row + origin).flatten()  # (B·k,): the cache row each surviving beam comes from
        for self_cache, _ in caches:  # self rows follow their beam; the cross cache is the same for all
            self_cache.k = self_cache.k.index_select(0, rows)  # (B·k, h, t + 1, d_head)
            self_cache.v = self_cache.v.index_select(0, rows)
    return BeamResult(tokens, scores, caches)
