"""Training and evaluating the tiny encoder–decoder on CPU (chapters 4–7)."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import Batch, to_batch
from .model import EncoderDecoder
from .tokens import EOS, PAD

__all__ = ["TrainConfig", "History", "sequence_loss", "optimise", "train", "token_accuracy", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (labs call this once at the top)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class TrainConfig:
    """Settings of :func:`train`."""

    steps: int = 300  # optimiser steps
    batch_size: int = 64  # pairs per step, drawn with replacement
    lr: float = 3e-3  # Adam learning rate
    seed: int = 0  # seeds the batch order only: call seed_everything before building a model to fix its init
    clip: float = 1.0  # gradient-norm clipping


@dataclass
class History:
    """What :func:`train` records: the training loss at every step."""

    losses: list[float] = field(default_factory=list)


def sequence_loss(model: EncoderDecoder, batch: Batch) -> Tensor:
    """Mean cross-entropy (nats per token) over the non-padding target tokens."""
    logits = model(batch.src, batch.tgt_in)  # (B, m, V)
    return F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD)


def optimise(model: nn.Module, loss_at: Callable[[int], Tensor], steps: int, lr: float, clip: float) -> list[float]:
    """The training loop every model of the course shares: Adam, gradient-norm clipping at ``clip``.

    ``loss_at(step)`` draws that step's batch and returns its loss (a scalar tensor). Returns the
    loss at every step and leaves the model in eval mode.
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for step in range(steps):
        loss = loss_at(step)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimiser.step()
        losses.append(loss.item())
    model.eval()
    return losses


def train(model: EncoderDecoder, pairs: list[tuple[list[int], list[int]]], cfg: TrainConfig | None = None) -> History:
    """Train ``model`` on ``pairs`` with Adam; return the loss curve."""
    cfg = cfg or TrainConfig()
    if not pairs:
        raise ValueError("train needs at least one (source, target) pair")
    rng = random.Random(cfg.seed)

    def loss_at(step: int) -> Tensor:
        batch = to_batch([pairs[rng.randrange(len(pairs))] for _ in range(cfg.batch_size)])
        return sequence_loss(model, batch)

    return History(optimise(model, loss_at, cfg.steps, cfg.lr, cfg.clip))


@torch.no_grad()
def token_accuracy(model: EncoderDecoder, pairs: list[tuple[list[int], list[int]]], count_eos: bool = False) -> float:
    """Teacher-forced accuracy: the fraction of target tokens predicted right.

    EOS is left out unless ``count_eos``: in tasks of a fixed length it is trivially predictable and
    would inflate the accuracy (with 6 tokens + EOS, a model that gets only EOS right scores 1/7).
    """
    model.eval()
    batch = to_batch(pairs)
    pred = model(batch.src, batch.tgt_in).argmax(-1)  # (B, m)
    real = batch.tgt_out != PAD  # (B, m)
    if not count_eos:
        real &= batch.tgt_out != EOS
    return (pred[real] == batch.tgt_out[real]).float().mean().item()
