"""Measuring what a trained encoder–decoder does (chapter 4): gradient paths, rank collapse, leakage, alignment."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..nn.data import PAD, Batch
from ..nn.model import EncoderDecoder

__all__ = [
    "encoder_output_gradients", "encoder_gradient_norms", "encoder_attention_entropy", "encoder_weight_gradient_norms",
    "rank_collapse", "encoder_rank_profile", "future_influence", "cross_attention_weights", "alignment_matrix",
    "alignment_agreement",
]


def encoder_output_gradients(model: EncoderDecoder, batch: Batch) -> list[Tensor]:
    """d(decoder loss)/d(state) at the output of each encoder layer, bottom to top (chapter 4).

    Returns L_enc tensors (B, n, d_model): entry l is the gradient reaching the output of encoder
    layer l+1 (before the final norm for the top layer); rows of padded source positions are 0.
    Its norm says how MUCH gradient arrives; :func:`rank_collapse` of it says whether different
    source tokens receive different gradients (0 = every token gets the same row: the part of the
    gradient that could make one token's state differ from another's has vanished).
    """
    states = model.encode(batch.src, return_all=True)  # [emb, layer 1, ..., normed top]
    # Recompute from the embeddings so every layer output is a tensor whose gradient we can read.
    mask = model.source_mask(batch.src)[:, None, None, :]  # (B, 1, 1, n)
    if model.cfg.encoder_causal:
        n = batch.src.shape[1]
        mask = mask & torch.ones(n, n, dtype=torch.bool).tril()  # (B, 1, n, n)
    outputs, x = [], states[0]
    for layer in model.encoder:
        x = layer(x, mask)  # (B, n, d_model)
        x.retain_grad()
        outputs.append(x)
    memory = model.memory_from([states[0], *outputs[:-1], model.encoder_norm(x)], batch.src)
    logits = model.decode(batch.tgt_in, memory, model.source_mask(batch.src))  # (B, m, V)
    loss = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)
    model.zero_grad()
    loss.backward()
    grads = [o.grad.detach() for o in outputs]
    model.zero_grad()
    return grads


def encoder_gradient_norms(model: EncoderDecoder, batch: Batch) -> list[float]:
    """Norm of d(decoder loss)/d(state) for each encoder layer's output, bottom to top.

    Entry l is the norm of :func:`encoder_output_gradients` at layer l+1. A norm alone hides
    whether the gradient still tells the tokens apart: measure :func:`rank_collapse` of the
    gradients too (chapter 4, "Going further: the gradient path").
    """
    return [g.norm().item() for g in encoder_output_gradients(model, batch)]


@torch.no_grad()
def encoder_attention_entropy(model: EncoderDecoder, src: Tensor) -> list[float]:
    """How uniform each encoder layer's self-attention is: mean entropy of a row divided by ln n (chapter 4).

    src: (B, n) token ids. For each encoder layer, the entropy (nats) of every head's weights at
    every real query position, divided by ln n_b, the entropy of uniform attention over the n_b
    real tokens of that source, averaged. 1 means every query reads all its keys equally (its
    output is the mean of the values); 0 means every query reads one key. Sources with a single
    real token (ln 1 = 0) are left out. Returns L_enc numbers, bottom to top.
    """
    model.eval()
    model.encode(src)
    real = model.source_mask(src)  # (B, n)
    n_real = real.sum(1)  # (B,)
    keep = real & (n_real > 1)[:, None]  # (B, n): real queries of sources with at least two tokens
    if not keep.any():
        raise ValueError("encoder_attention_entropy needs a source with at least two real tokens")
    ratios = []
    for layer in model.encoder:
        w = layer.self_attn.last_weights  # (B, h, n, n)
        entropy = -(w * torch.log(w.clamp_min(1e-30))).sum(-1)  # (B, h, n)
        ratio = entropy / torch.log(n_real.clamp_min(2).to(w.dtype))[:, None, None]  # (B, h, n)
        ratios.append(ratio[keep[:, None, :].expand_as(ratio)].mean().item())
    return ratios


def encoder_weight_gradient_norms(model: EncoderDecoder, batch: Batch,
                                  names: tuple[str, ...] = ("w_q", "w_k", "w_v")) -> dict[str, list[float]]:
    """Norm of d(decoder loss)/d(weight) for the self-attention projections of each encoder layer.

    Unlike :func:`encoder_gradient_norms`, which measures the gradient reaching each layer's
    OUTPUT (a state), this measures what the layer's own weights receive, i.e. what training
    changes. Returns {name: [layer 1, ..., layer L_enc]} for each projection in ``names``
    (each a (d_model, d_model) matrix), bottom to top. Once the states entering a layer have
    collapsed (every token the same, :func:`rank_collapse` near 0), its attention weights no
    longer depend on its queries and keys, so w_q and w_k get almost no gradient; w_v still does.
    """
    model.zero_grad()
    logits = model(batch.src, batch.tgt_in)  # (B, m, V)
    loss = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)
    loss.backward()
    norms = {name: [getattr(layer.self_attn, name).weight.grad.norm().item() for layer in model.encoder]
             for name in names}
    model.zero_grad()
    return norms


def rank_collapse(states: Tensor, mask: Tensor | None = None) -> float:
    """How far token states are from all being the same vector ("identical rows"), in [0, 1].

    For each sequence's states S (n, d): ‖S − 1·s̄ᵀ‖_F / ‖S‖_F with s̄ the mean row (Dong et al.
    2021's residual res(S)), averaged over the batch. 1·s̄ᵀ is a special rank-one matrix, every row
    equal, so this is the distance from identical rows, an upper bound on the distance from the
    nearest rank-one matrix, not that distance itself. 0 means every token state is identical
    (full collapse). Chapter 4 applies it to gradients too: a gradient (B, n, d) with distance 0
    gives every token the same update.
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
def encoder_rank_profile(model: EncoderDecoder, src: Tensor) -> list[float]:
    """:func:`rank_collapse` of the source states at every depth of the encoder (chapter 4).

    src: (B, n) token ids. Returns L_enc + 1 numbers: the embeddings (with positions), then the
    output of each encoder layer (the top one after the final norm). Padding is left out.
    A value near 0 means the encoder has made every source token's state the same vector.
    """
    states = model.encode(src, return_all=True)  # L_enc + 1 tensors (B, n, d_model)
    mask = model.source_mask(src)  # (B, n)
    return [rank_collapse(s, mask) for s in states]


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


@torch.no_grad()
def cross_attention_weights(model: EncoderDecoder, src: Tensor, tgt_in: Tensor) -> Tensor:
    """The cross-attention weights of every decoder layer under teacher forcing (chapter 4).

    src: (B, n) source ids; tgt_in: (B, m) target inputs (BOS + target). Returns a tensor
    (L_dec, B, h, m, n): entry [l, b, k, i] is where head k of decoder layer l looks in source b
    when it predicts target token i. Rows of padded source columns are 0 there; rows sum to 1.
    """
    model.eval()
    model(src, tgt_in)
    return torch.stack([layer.cross_attn.last_weights for layer in model.decoder])  # (L_dec, B, h, m, n)


def alignment_matrix(alignment: list[int], n: int) -> Tensor:
    """The true alignment as an (m, n) 0/1 matrix: row i has a 1 at the source word target i translates.

    alignment: list of m source indices (e.g. :meth:`crossattn.nn.data.ToyTranslation.alignment`).
    """
    if any(not 0 <= j < n for j in alignment):
        raise ValueError(f"alignment {alignment} points outside a source of length n={n}")
    truth = torch.zeros(len(alignment), n)  # (m, n)
    truth[torch.arange(len(alignment)), torch.tensor(alignment, dtype=torch.long)] = 1.0
    return truth


def alignment_agreement(weights: Tensor, alignments: list[list[int]],
                        select: list[list[bool]] | None = None) -> float:
    """Fraction of target tokens whose largest attention weight is on the source word they translate.

    weights: (B, m, n), one attention map per sentence pair (one head, or an average of heads).
    alignments: B lists; alignments[b][i] is the source index of target token i. Target positions
    beyond ``len(alignments[b])`` (EOS, padding) are not counted.
    select: optional B lists of booleans like ``alignments``; only target tokens marked True are
    counted (e.g. only the adjectives). Returns NaN when no token is counted.
    """
    if weights.dim() != 3 or weights.shape[0] != len(alignments):
        raise ValueError(f"weights must have shape (B={len(alignments)}, m, n), got {tuple(weights.shape)}")
    if select is not None and [len(s) for s in select] != [len(a) for a in alignments]:
        raise ValueError("select must hold one boolean per target token of each alignment")
    best = weights.argmax(dim=-1)  # (B, m): the source position each target token reads most
    hits = total = 0
    for b, alignment in enumerate(alignments):
        if len(alignment) > weights.shape[1]:
            raise ValueError(f"alignment {b} has {len(alignment)} target tokens but weights only m={weights.shape[1]} rows")
        for i, j in enumerate(alignment):
            if select is None or select[b][i]:
                hits += int(best[b, i]) == j
                total += 1
    return hits / total if total else float("nan")
