"""A reader that cross-attends to retrieved passages, Fusion-in-Decoder style (chapter 8).

The worlds, passages and the TF-IDF retriever are in :mod:`crossattn.core.retrieval`. The reader
(:class:`Reader`) encodes each retrieved passage on its own and lets the question's tokens
cross-attend to the tokens of all k passages at once, padding masked out (as Fusion-in-Decoder,
Izacard & Grave 2021, reads many passages). It predicts the missing word.

Shapes: B questions, k retrieved passages, ℓ passage length (padded), m question length
(padded), n = k·ℓ source tokens the question reads, V vocabulary size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from ..core.retrieval import PAD, PASSAGE_LENGTH, QUESTION_LENGTH, VOCAB, Examples, make_examples
from ..nn.layers import DecoderLayer, EncoderLayer
from ..nn.train import optimise, seed_everything

__all__ = ["source_mask", "ReaderConfig", "Reader", "training_examples", "held_out_tests", "train_reader",
           "reader_predictions", "reader_accuracy"]


def source_mask(retrieved: Tensor) -> Tensor:
    """Which source tokens a question may read: retrieved (B, k, ℓ) -> bool (B, k·ℓ), True = a real
    token (may attend), False = padding. (torch.nn.MultiheadAttention's key_padding_mask is the
    opposite: True = blocked.)"""
    return retrieved.flatten(1) != PAD  # (B, k, ℓ) -> (B, k·ℓ)


@dataclass
class ReaderConfig:
    """Settings of :class:`Reader` and :func:`train_reader`; the defaults train in seconds."""

    d_model: int = 32  # model width
    h: int = 2  # heads
    d_ff: int = 64  # feed-forward width
    k: int = 4  # passages retrieved per question
    n_worlds: int = 400  # training worlds, 24 questions each
    steps: int = 300  # Adam steps
    batch_size: int = 64  # questions per step
    lr: float = 1e-2  # Adam learning rate
    clip: float = 1.0  # gradient-norm clipping (without it some seeds stall on a plateau)
    seed: int = 0  # initialisation, worlds and batch order


class Reader(nn.Module):
    """Encode each retrieved passage on its own, then let the question cross-attend to them all.

    forward(questions (B, m), retrieved (B, k, ℓ)) -> logits (B, V) for the missing word. The
    weights of the last cross-attention call are in ``self.decoder.cross_attn.last_weights``,
    shape (B, h, m, k·ℓ).
    """

    def __init__(self, cfg: ReaderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        V, d = len(VOCAB), cfg.d_model
        self.embed = nn.Embedding(V, d)
        self.passage_pos = nn.Parameter(0.02 * torch.randn(PASSAGE_LENGTH, d))  # (ℓ, d): position in its passage
        self.question_pos = nn.Parameter(0.02 * torch.randn(QUESTION_LENGTH, d))  # (m, d)
        self.encoder = EncoderLayer(d, cfg.h, cfg.d_ff)
        self.encoder_norm = nn.LayerNorm(d)  # pre-norm layers leave the last norm to the caller
        self.decoder = DecoderLayer(d, cfg.h, cfg.d_ff)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, V)

    def forward(self, questions: Tensor, retrieved: Tensor) -> Tensor:
        if retrieved.dim() != 3 or retrieved.shape[-1] != PASSAGE_LENGTH or questions.shape != (len(retrieved), QUESTION_LENGTH):
            raise ValueError(f"expected questions (B, {QUESTION_LENGTH}) and retrieved (B, k, {PASSAGE_LENGTH}), got "
                             f"{tuple(questions.shape)} and {tuple(retrieved.shape)}")
        B, k, ell = retrieved.shape
        flat = retrieved.reshape(B * k, ell)  # (B·k, ℓ): each passage encoded on its own
        real = flat != PAD  # (B·k, ℓ)
        s = self.encoder(self.embed(flat) + self.passage_pos, mask=real[:, None, None, :])  # (B·k, ℓ, d)
        s = self.encoder_norm(s).reshape(B, k * ell, -1)  # (B, n = k·ℓ, d): all passages side by side
        q_real = questions != PAD  # (B, m)
        x = self.embed(questions) + self.question_pos  # (B, m, d)
        y = self.decoder(x, s, self_mask=q_real[:, None, None, :],
                         cross_mask=source_mask(retrieved)[:, None, None, :])  # (B, 1, 1, n) -> (B, h, m, n)
        w = q_real.unsqueeze(-1).float()  # (B, m, 1)
        pooled = (y * w).sum(dim=1) / w.sum(dim=1)  # mean over the real question words: (B, d)
        return self.head(self.norm(pooled))  # (B, V)


def _tensors(ex: Examples, rows: NDArray | slice = slice(None)) -> tuple[Tensor, Tensor, Tensor]:
    return (torch.from_numpy(ex.questions[rows]), torch.from_numpy(ex.retrieved[rows]),
            torch.from_numpy(ex.answers[rows]))


def training_examples(cfg: ReaderConfig | None = None) -> Examples:
    """The training set of :func:`train_reader`: every question of ``cfg.n_worlds`` random worlds
    (a fixed pool, drawn from ``1000 + cfg.seed``; test sets use other seeds, hence other worlds)."""
    cfg = cfg or ReaderConfig()
    return make_examples(cfg.n_worlds, seed=1000 + cfg.seed, k=cfg.k)


def held_out_tests(n_worlds: int, seed: int, cfg: ReaderConfig | None = None) -> dict[str, Examples]:
    """The three tests of the reader on ``n_worlds`` new worlds, disjoint from its training pool.

    Returns {"as is", "removed", "edited"}: the same worlds and questions with the right passage in
    the corpus, removed from it before retrieval, or edited to state another value
    (:func:`crossattn.core.retrieval.make_examples`). A question is dropped from all three when any
    of its three versions equals an example of :func:`training_examples` (same question, same
    retrieved passages, same answer: :meth:`Examples.keys`); so no test example was seen in training.
    """
    cfg = cfg or ReaderConfig()
    if seed == 1000 + cfg.seed:
        raise ValueError(f"seed {seed} draws the training worlds themselves: choose another")
    seen = set(training_examples(cfg).keys())
    tests = {"as is": make_examples(n_worlds, seed, k=cfg.k),
             "removed": make_examples(n_worlds, seed, k=cfg.k, drop_right=True),
             "edited": make_examples(n_worlds, seed, k=cfg.k, edit=True)}
    new = np.ones(len(tests["as is"]), dtype=bool)  # (B,) no version of the question was seen
    for ex in tests.values():
        new &= np.array([key not in seen for key in ex.keys()])
    return {name: ex.subset(new) for name, ex in tests.items()}


def train_reader(cfg: ReaderConfig | None = None) -> tuple[Reader, list[float]]:
    """Train a :class:`Reader` on batches drawn with replacement from the questions of a fixed pool
    of ``cfg.n_worlds`` random worlds (:func:`training_examples`); return it and the losses. The
    worlds contradict one another, so the same question has different answers in different worlds."""
    cfg = cfg or ReaderConfig()
    seed_everything(cfg.seed)
    model = Reader(cfg)
    data = training_examples(cfg)
    rng = np.random.default_rng(cfg.seed)

    def loss_at(step: int) -> Tensor:  # a batch drawn with replacement from the pool
        questions, retrieved, answers = _tensors(data, rng.integers(len(data), size=cfg.batch_size))
        return F.cross_entropy(model(questions, retrieved), answers)

    return model, optimise(model, loss_at, cfg.steps, cfg.lr, cfg.clip)


@torch.no_grad()
def reader_predictions(model: Reader, ex: Examples) -> NDArray[np.int64]:
    """The reader's answer (a token id) to every question: array (B,)."""
    model.eval()
    questions, retrieved, _ = _tensors(ex)
    return model(questions, retrieved).argmax(-1).numpy()


def reader_accuracy(model: Reader, ex: Examples) -> float:
    """Fraction of questions whose answer the reader gets right."""
    return float((reader_predictions(model, ex) == ex.answers).mean())
