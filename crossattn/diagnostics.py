"""Measuring what a trained encoder–decoder does (chapter 4): gradient paths, rank collapse, leakage."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .data import PAD, Batch
from .model import EncoderDecoder

__all__ = ["encoder_gradient_norms", "rank_collapse", "future_influence"]


def encoder_gradient_norms(model: EncoderDecoder, batch: Batch) -> list[float]:
    """Norm of d(decoder loss)/d(state) for each encoder layer's output, bottom to top.

    Entry l is the gradient reaching the output of encoder layer l+1 (before the final norm for
    the top layer). With residuals the lower layers get gradients of similar size; without them
    the measurable failure in small models is usually rank collapse (see :func:`rank_collapse`).
    """
    states = model.encode(batch.src, return_all=True)  # [emb, layer 1, ..., normed top]
    # Recompute from the embeddings so every layer output is a leaf-like tensor we can read grads of.
    mask = model.source_mask(batch.src)[:, None, None, :]
    if model.cfg.encoder_causal:
        n = batch.src.shape[1]
        mask = mask & torch.ones(n, n, dtype=torch.bool).tril()
    outputs, x = [], states[0]
    for layer in model.encoder:
        x = layer(x, mask)
        x.retain_grad()
        outputs.append(x)
    top = model.encoder_norm(x)
    memory = [top] * len(model.decoder) if model.mix is None else _mix(model, [states[0], *outputs[:-1], top])
    logits = model.decode(batch.tgt_in, memory, model.source_mask(batch.src))
    loss = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)
    model.zero_grad()
    loss.backward()
    return [o.grad.norm().item() for o in outputs]


def _mix(model: EncoderDecoder, states: list[Tensor]) -> list[Tensor]:
    weights = torch.softmax(model.mix, dim=-1)  # (L_dec, L_enc + 1)
    return list(torch.einsum("le,ebnd->lbnd", weights, torch.stack(states)))


def rank_collapse(states: Tensor, mask: Tensor | None = None) -> float:
    """How far token states are from all being the same vector, in [0, 1].

    For each sequence X (n, d): ‖X − 1·x̄ᵀ‖_F / ‖X‖_F with x̄ the mean token (Dong et al. 2021's
    residual from rank one). 0 means every token state is identical (full collapse).
    states: (B, n, d); mask: (B, n) bool, True for real tokens (padding is left out).
    """
    if states.dim() != 3:
        raise ValueError(f"states must have shape (B, n, d), got {tuple(states.shape)}")
    values = []
    for b in range(states.shape[0]):
        x = states[b] if mask is None else states[b][mask[b]]  # (n_b, d)
        residual = x - x.mean(dim=0, keepdim=True)
        values.append((residual.norm() / x.norm().clamp_min(1e-12)).item())
    return float(sum(values) / len(values))


@torch.no_grad()
def future_influence(
    predict: Callable[[Tensor, Tensor], Tensor],
    src: Tensor,
    tgt_in: Tensor,
    symbols: tuple[int, int],
    trials: int = 4,
    seed: int = 0,
) -> Tensor:
    """A leakage detector that treats the model as a black box (chapter 4).

    For each target position i, re-draw the source tokens at positions ≥ i (what a streaming
    model has not yet seen when it predicts target token i) and measure how much the predicted
    log-probabilities at position i move. An honest model gives exactly 0 at every i.

    predict: function (src (B, n), tgt_in (B, m)) -> logits (B, m, V), e.g. a model itself.
    symbols: (low, high) range of token ids to re-draw from.
    Returns (m,): the largest absolute change of any log-probability at each target position.
    """
    base = F.log_softmax(predict(src, tgt_in), dim=-1)  # (B, m, V)
    m, n = tgt_in.shape[1], src.shape[1]
    gen = torch.Generator().manual_seed(seed)
    influence = torch.zeros(m)
    for i in range(min(m, n)):
        for _ in range(trials):
            changed = src.clone()
            real = changed[:, i:] != PAD
            fresh = torch.randint(symbols[0], symbols[1], changed[:, i:].shape, generator=gen)
            changed[:, i:] = torch.where(real, fresh, changed[:, i:])
            moved = (F.log_softmax(predict(changed, tgt_in), dim=-1)[:, i] - base[:, i]).abs().max()
            influence[i] = torch.maximum(influence[i], moved)
    return influence
