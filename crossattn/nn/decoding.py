"""Greedy decoding with and without key/value caches (chapter 5).

Three ways to produce the same tokens:
  "none"  — every step re-runs the decoder over the whole prefix and re-projects the source's K, V;
  "cross" — the cross-attention K, V of each layer are computed once per source and reused;
  "both"  — also the self-attention K, V are kept, growing by one row per step, so each step
            feeds only the newest token.
All three give the same logits up to round-off; they differ in the work done.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .model import EncoderDecoder
from .tokens import BOS

__all__ = ["CACHE_MODES", "greedy_decode"]

CACHE_MODES = ("none", "cross", "both")


@torch.no_grad()
def greedy_decode(model: EncoderDecoder, src: Tensor, steps: int, cache: str = "both", bos: int = BOS) -> tuple[Tensor, Tensor]:
    """Decode ``steps`` tokens greedily for a batch of sources src (B, n).

    Returns (tokens (B, steps), logits (B, steps, V)): logits[:, t] is what the model predicted at step t.
    """
    if cache not in CACHE_MODES:
        raise ValueError(f"cache must be one of {CACHE_MODES}, got {cache!r}")
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    B = src.shape[0]
    src_mask = model.source_mask(src)  # (B, n)
    memory = model.encode(src)  # one (B, n, d_model) per decoder layer
    prefix = torch.full((B, 1), bos, dtype=torch.long, device=src.device)  # (B, 1)
    caches = None if cache == "none" else model.new_caches(cross=True, self_attn=(cache == "both"))
    all_logits = []
    for t in range(steps):
        if cache == "both":
            step_logits = model.decode(prefix[:, -1:], memory if t == 0 else None, src_mask, caches, offset=t)[:, -1]
        else:
            # No self cache: the whole prefix again. With cross caches, memory is read only at t = 0.
            mem = memory if (cache == "none" or t == 0) else None
            step_logits = model.decode(prefix, mem, src_mask, caches)[:, -1]  # (B, V)
        all_logits.append(step_logits)
        prefix = torch.cat([prefix, step_logits.argmax(-1, keepdim=True)], dim=1)  # (B, t + 2)
    return prefix[:, 1:], torch.stack(all_logits, dim=1)
