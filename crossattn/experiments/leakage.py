"""The leakage experiment of chapter 4 (design §8.7): measuring whether a model cheats.

The task: i.i.d. uniformly random target sequences of ``length`` symbols drawn from ``n_symbols``.
No honest model can predict such a symbol better than uniformly, so its loss is at least
ln(n_symbols) nats per symbol. Training pairs give the model the target as its source
(``sequence_task("copy")``). A model that reaches a loss far below ln(n_symbols) on held-out
pairs has read, during training, what it will not have at inference: it leaks. With the target
absent (an unrelated source, ``sequence_task("random")``) a leaky model is confidently wrong.

The streaming promise the causal switches make: target token i may depend on source tokens
j < i only (those already emitted). :func:`crossattn.experiments.diagnostics.future_influence` tests that
promise on any model by re-drawing source tokens j ≥ i.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..nn.data import EOS, FIRST_SYMBOL, PAD, Pairs, sequence_task, to_batch
from ..nn.model import EncoderDecoder
from .diagnostics import future_influence

__all__ = ["symbol_losses", "symbol_loss", "LeakageRow", "measure_leakage", "leakage_table", "denoising_task",
           "denoising_losses"]


@torch.no_grad()
def symbol_losses(model: EncoderDecoder, pairs: list[tuple[list[int], list[int]]]) -> Tensor:
    """Teacher-forced loss at each target position, in nats, over target symbols only: (m,).

    EOS and padding are left out (an honest model predicts EOS at a fixed length for free).
    Entry i averages −log p(target token i) over the pairs; pairs must share one target length.
    """
    model.eval()
    batch = to_batch(pairs)
    logits = model(batch.src, batch.tgt_in)  # (B, m + 1, V), the last position predicts EOS
    nll = F.cross_entropy(logits.transpose(1, 2), batch.tgt_out, reduction="none")  # (B, m + 1)
    keep = (batch.tgt_out != PAD) & (batch.tgt_out != EOS)  # (B, m + 1)
    per_position = (nll * keep).sum(0) / keep.sum(0).clamp_min(1)  # (m + 1,)
    return per_position[keep.any(0)]  # (m,)


def symbol_loss(model: EncoderDecoder, pairs: list[tuple[list[int], list[int]]]) -> float:
    """Mean teacher-forced loss per target symbol, in nats (EOS and padding left out)."""
    return float(symbol_losses(model, pairs).mean())


@dataclass
class LeakageRow:
    """What :func:`measure_leakage` measures for one trained model (one row of the table)."""

    name: str  # a label for the configuration
    heldout: float  # nats per symbol on held-out pairs with source = target (what training saw)
    absent: float  # nats per symbol when the source is unrelated to the target (the target absent)
    detector: float  # largest change of a log-probability when future source tokens are re-drawn
    per_position: list[float]  # held-out nats at each target position (source = target)
    bound: float  # ln(n_symbols): the least an honest model can reach per symbol

    @property
    def leaks(self) -> bool:
        """True when the held-out loss is clearly below the honest bound."""
        return self.heldout < 0.9 * self.bound


def measure_leakage(model: EncoderDecoder, name: str, n_symbols: int, length: int,
                    count: int = 400, seed: int = 1, heldout: Pairs | None = None) -> LeakageRow:
    """Evaluate a model trained on source = target random sequences (chapter 4).

    heldout: the source = target pairs to evaluate on, e.g. the second half of
    ``sequence_split("copy", ...)``, which holds no training source by construction. Without it,
    ``count`` pairs are drawn from ``seed`` (another seed than training: nearly, not provably,
    disjoint from it). The detector runs :func:`crossattn.experiments.diagnostics.future_influence`
    on the first 16 held-out pairs. The target-absent pairs (an unrelated source) come from seed + 1.
    """
    if heldout is not None and any(src != tgt or len(src) != length for src, tgt in heldout):
        raise ValueError(f"heldout must hold source = target pairs of length {length}")
    same = heldout if heldout is not None else sequence_task("copy", count, length, n_symbols, seed=seed)
    absent = sequence_task("random", len(same), length, n_symbols, seed=seed + 1)  # source unrelated
    per_position = symbol_losses(model, same)  # (length,)
    probe = to_batch(same[:16])
    influence = future_influence(model, probe.src, probe.tgt_in, (FIRST_SYMBOL, FIRST_SYMBOL + n_symbols))  # (m,)
    return LeakageRow(name=name, heldout=float(per_position.mean()), absent=symbol_loss(model, absent),
                      detector=float(influence.max()), per_position=per_position.tolist(),
                      bound=math.log(n_symbols))


def leakage_table(rows: list[LeakageRow], digits: int = 2) -> str:
    """A plain-text table of the rows: losses in nats per symbol beside the honest bound."""
    if not rows:
        raise ValueError("leakage_table needs at least one row")
    width = max(len("configuration"), *(len(r.name) for r in rows))
    head = f"{'configuration':<{width}}  held-out  target absent  detector  verdict"
    lines = [f"honest bound ln V = {rows[0].bound:.{digits}f} nats per symbol", head, "-" * len(head)]
    for r in rows:
        verdict = "leaks" if r.leaks else "honest"
        lines.append(f"{r.name:<{width}}  {r.heldout:8.{digits}f}  {r.absent:13.{digits}f}  {r.detector:8.{digits}f}  {verdict}")
    return "\n".join(lines)


def denoising_task(count: int, length: int, n_symbols: int, rate: float, seed: int) -> Pairs:
    """Denoising pairs (chapter 4): the target is an i.i.d. random sequence, the source is the target with
    each position replaced by a MASK token (id FIRST_SYMBOL + n_symbols) with probability ``rate``.

    The overlap between source and target is legitimate here: the corrupted source is what inference
    gives the model too. The visible tokens can be copied; a masked random symbol cannot be recovered
    (honest loss ln n_symbols). A model needs a vocabulary of FIRST_SYMBOL + n_symbols + 1 ids.
    """
    if not 0 < rate < 1:
        raise ValueError(f"rate must lie strictly between 0 and 1, got {rate}")
    rng = random.Random(seed)
    mask_id = FIRST_SYMBOL + n_symbols
    pairs = []
    for tgt, _ in sequence_task("copy", count, length, n_symbols, seed):
        src = [mask_id if rng.random() < rate else token for token in tgt]
        pairs.append((src, tgt))
    return pairs


@torch.no_grad()
def denoising_losses(model: EncoderDecoder, pairs: Pairs, mask_id: int) -> tuple[float, float]:
    """Teacher-forced loss per target symbol, in nats, at the (visible, masked) source positions (chapter 4).

    pairs: from :func:`denoising_task`, one target length; target position i is "masked" when source
    position i holds ``mask_id``. Returns the mean loss over visible positions and over masked ones.
    """
    model.eval()
    batch = to_batch(pairs)
    logits = model(batch.src, batch.tgt_in)  # (B, m + 1, V): the last position predicts EOS
    n = batch.src.shape[1]
    nll = F.cross_entropy(logits.transpose(1, 2), batch.tgt_out, reduction="none")[:, :n]  # (B, n)
    masked = batch.src == mask_id  # (B, n)
    if not masked.any() or masked.all():
        raise ValueError("need both masked and visible source positions to compare them")
    return float(nll[~masked].mean()), float(nll[masked].mean())
