"""Order, positions and what a model can know without them (chapter 6).

Without positions on the source side, cross-attention reads the source as a *bag* of tokens:
permuting the source rows permutes the keys and values together, and the output does not
change. This module measures the consequences:

- :func:`source_order_gap` — how much a model's logits move when its source is permuted;
- :func:`multiset_accuracy`, :func:`multiset_steps`, :func:`multiset_bound` — the best accuracy
  on copy or reverse that any model can reach when it knows the source only as a multiset;
- :func:`pointing_bias`, :func:`bias_pointable` — which target positions a relative bias
  b[i − j] *alone* can point at their aligned source position (all for copy, not for reverse);
- :func:`position_grid`, :func:`accuracy_table` — train every positional scheme on every task;
- :func:`per_position_accuracy`, :func:`pointer_hits` — where a trained model goes wrong, and
  whether its cross-attention points at the aligned source token.

Shapes: B batch, n source length, m target length (n target tokens + EOS for these tasks),
h heads, V vocabulary size.
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import factorial

import torch
from torch import Tensor

from ..nn.data import FIRST_SYMBOL, PAD, sequence_split, to_batch
from ..nn.model import EncoderDecoder, ModelConfig
from ..nn.positions import POSITION_SCHEMES
from ..nn.train import TrainConfig, seed_everything, token_accuracy, train
from .seeds import seed_grid

__all__ = [
    "source_order_gap", "multiset_accuracy", "multiset_steps", "multiset_bound", "pointing_bias", "bias_pointable",
    "OrderExperiment", "GridRun", "train_scheme", "position_grid", "accuracy_table", "grid_accuracy",
    "per_position_accuracy", "pointer_hits",
]

Pairs = list[tuple[list[int], list[int]]]


# -- invariance -------------------------------------------------------------------------------------

@torch.no_grad()
def source_order_gap(model: EncoderDecoder, src: Tensor, tgt_in: Tensor, perm: Sequence[int]) -> float:
    """Largest |change| of the logits when the source positions are reordered by ``perm``.

    src: (B, n) token ids; tgt_in: (B, m); perm: a permutation of range(n), applied to every
    sequence of the batch (src[:, perm]). Without source positions the answer is 0 up to
    round-off (chapter 6): the keys and values of the cross-attention move together.
    """
    perm_t = torch.as_tensor(list(perm), dtype=torch.long)
    n = src.shape[1]
    if sorted(perm_t.tolist()) != list(range(n)):
        raise ValueError(f"perm must be a permutation of range({n}), got {perm_t.tolist()}")
    model.eval()
    before = model(src, tgt_in)  # (B, m, V)
    after = model(src[:, perm_t], tgt_in)  # (B, m, V)
    return (after - before).abs().max().item()


# -- what the multiset allows -----------------------------------------------------------------------

def multiset_accuracy(pairs: Pairs) -> float:
    """Best expected teacher-forced accuracy, EOS included, from the source multiset alone.

    For copy and reverse of i.i.d. symbols, a model that sees the source only as a multiset (and
    the correct target prefix, as in teacher forcing) knows which tokens remain to be written but
    not in which order: every order of the remaining tokens is equally likely. Its best guess is
    the most frequent remaining token, right with probability (its count) / (number remaining).
    EOS is always right. Returns the mean over all target tokens (n + 1 per pair) of the pairs.
    Each target must be a rearrangement of its source. Meant for copy and reverse: a sorted
    target is a rearrangement too, but the multiset determines it, so sort allows 1.0.
    """
    if not pairs:
        raise ValueError("multiset_accuracy needs at least one (source, target) pair")
    total, count = 0.0, 0
    for src, tgt in pairs:
        if Counter(src) != Counter(tgt):
            raise ValueError(f"the target {tgt} is not a rearrangement of its source {src}")
        remaining = Counter(src)
        for token in tgt:
            total += max(remaining.values()) / sum(remaining.values())
            remaining[token] -= 1
        total += 1.0  # EOS: the length is known
        count += len(tgt) + 1
    return total / count


def _expected_max_count(k: int, n_symbols: int) -> Fraction:
    """E[largest count] among k i.i.d. uniform draws from n_symbols symbols, exactly."""
    # P(every count ≤ c) = k! [x^k] (Σ_{i ≤ c} x^i / i!)^n_symbols / n_symbols^k
    def all_at_most(c: int) -> Fraction:
        poly = [Fraction(1)]
        factor = [Fraction(1, factorial(i)) for i in range(c + 1)]
        for _ in range(n_symbols):
            out = [Fraction(0)] * min(len(poly) + c, k + 1)
            for a, pa in enumerate(poly):
                for b, fb in enumerate(factor):
                    if a + b <= k:
                        out[a + b] += pa * fb
            poly = out
        coeff = poly[k] if k < len(poly) else Fraction(0)
        return coeff * factorial(k) / Fraction(n_symbols) ** k
    return sum((1 - all_at_most(c - 1) for c in range(1, k + 1)), Fraction(0))


def multiset_steps(length: int, n_symbols: int) -> list[float]:
    """The best expected accuracy from the multiset at each target position: length + 1 numbers, EOS last.

    At target position t, k = length − t tokens remain, k i.i.d. uniform draws; the best guess is
    right with probability E[largest count of k draws] / k. EOS is always right (1.0).
    """
    if length < 1 or n_symbols < 1:
        raise ValueError(f"need length ≥ 1 and n_symbols ≥ 1, got {length}, {n_symbols}")
    return [float(_expected_max_count(k, n_symbols) / k) for k in range(length, 0, -1)] + [1.0]


def multiset_bound(length: int, n_symbols: int) -> float:
    """The expectation of :func:`multiset_accuracy` for copy or reverse, computed exactly.

    With i.i.d. uniform symbols, the k tokens still to be written at any step are k i.i.d. draws,
    so the bound is (1 + Σ_{k=1}^{length} E[largest count of k draws] / k) / (length + 1): the
    mean of :func:`multiset_steps`.
    """
    if length < 1 or n_symbols < 1:
        raise ValueError(f"need length ≥ 1 and n_symbols ≥ 1, got {length}, {n_symbols}")
    per_step = sum(_expected_max_count(k, n_symbols) / k for k in range(1, length + 1))
    return float((1 + per_step) / (length + 1))


# -- what a relative bias alone can point at --------------------------------------------------------

def pointing_bias(alignment: Sequence[int], n: int, queries: Sequence[int]) -> dict[int, float] | None:
    """A bias table b (offset -> value) that points every query in ``queries`` at its aligned key, or None.

    alignment[i] is the source position target position i should read (0 ≤ alignment[i] < n).
    A table points query i at alignment[i] when b[i − alignment[i]] > b[i − j] for every other
    key j: strict inequalities between offsets. They can all hold at once exactly when they
    contain no cycle (b[u] > b[v] > ... > b[u]); then any order of the offsets consistent with
    them gives a table (Kahn's algorithm). The offsets are i − j for i in ``queries``, j in 0..n−1.
    """
    if any(not 0 <= j < n for j in alignment):
        raise ValueError(f"alignment entries must lie in 0..{n - 1}, got {list(alignment)}")
    above: dict[int, set[int]] = {}  # u -> {v}: b[u] must exceed b[v]
    for i in queries:
        best = i - alignment[i]  # the offset that must win for query i
        above.setdefault(best, set()).update(i - j for j in range(n) if j != alignment[i])
    nodes = set(above) | {v for below in above.values() for v in below}
    indegree = dict.fromkeys(nodes, 0)
    for below in above.values():
        for v in below:
            indegree[v] += 1
    ready = sorted(u for u in nodes if indegree[u] == 0)
    table: dict[int, float] = {}
    while ready:
        u = ready.pop()
        table[u] = float(len(nodes) - len(table))  # earlier in the order = larger bias
        for v in above.get(u, ()):
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    return table if len(table) == len(nodes) else None  # leftovers sit on a cycle


def bias_pointable(alignment: Sequence[int], n: int) -> tuple[int, ...]:
    """The largest set of target positions whose aligned key a bias b[i − j] alone can single out.

    Exhaustive over subsets of target positions (see :func:`pointing_bias`), largest first:
    keep len(alignment) ≤ 16. Returns the first largest servable set, in increasing order.
    For copy (alignment i -> i, offset 0 throughout) that is every position; for reversal it is not.
    """
    m = len(alignment)
    if m > 16:
        raise ValueError(f"exhaustive search: use at most 16 target positions, got {m}")
    for size in range(m, 0, -1):
        for subset in itertools.combinations(range(m), size):
            if pointing_bias(alignment, n, subset) is not None:
                return subset
    return ()


# -- the experiment: every scheme on every task -----------------------------------------------------

@dataclass
class OrderExperiment:
    """Settings of the chapter 6 experiment: data, model and training (CPU, about a second per run)."""

    length: int = 6  # n: source length; the target has n tokens + EOS
    n_symbols: int = 8  # distinct symbols in a sequence
    n_train: int = 5000  # training pairs (seed 0)
    n_test: int = 500  # held-out pairs (seed 1), the same for every run
    d_model: int = 32
    layers: int = 1  # encoder layers and decoder layers, each
    steps: int = 80  # Adam steps
    batch_size: int = 64
    lr: float = 0.02
    # The accuracies count the final EOS, as :func:`multiset_accuracy` and :func:`multiset_bound` do,
    # so that a model and the bound are compared like with like.
    count_eos: bool = True

    def data(self, task: str) -> tuple[Pairs, Pairs]:
        """(training pairs, held-out pairs) of ``task`` ("copy", "reverse" or "sort").

        The held-out sources are disjoint from the training sources by construction (seed 0 trains,
        :func:`~crossattn.nn.data.sequence_split`).
        """
        return sequence_split(task, self.n_train, self.n_test, self.length, self.n_symbols, seed=0)

    def model_config(self, scheme: str) -> ModelConfig:
        """The :class:`ModelConfig` of a model with positional scheme ``scheme``."""
        return ModelConfig(vocab_size=FIRST_SYMBOL + self.n_symbols, d_model=self.d_model,
                           n_encoder_layers=self.layers, n_decoder_layers=self.layers, positions=scheme)


@dataclass
class GridRun:
    """One trained model of the grid and its held-out teacher-forced token accuracy (EOS counted
    when the experiment's ``count_eos`` says so)."""

    task: str
    scheme: str
    seed: int
    accuracy: float
    model: EncoderDecoder


def train_scheme(task: str, scheme: str, seed: int, exp: OrderExperiment | None = None,
                 data: tuple[Pairs, Pairs] | None = None) -> GridRun:
    """Train one model with positional scheme ``scheme`` on ``task`` from ``seed``; evaluate it."""
    exp = exp or OrderExperiment()
    train_pairs, test_pairs = data if data is not None else exp.data(task)
    seed_everything(seed)  # the model's initialisation
    model = EncoderDecoder(exp.model_config(scheme))
    train(model, train_pairs, TrainConfig(steps=exp.steps, batch_size=exp.batch_size, lr=exp.lr, seed=seed))
    return GridRun(task, scheme, seed, token_accuracy(model, test_pairs, count_eos=exp.count_eos), model)


def position_grid(tasks: Sequence[str] = ("copy", "reverse", "sort"),
                  schemes: Sequence[str] = POSITION_SCHEMES,
                  seeds: Sequence[int] = (0, 1),
                  exp: OrderExperiment | None = None) -> list[GridRun]:
    """Train every scheme on every task from every seed (len(tasks)·len(schemes)·len(seeds) runs)."""
    exp = exp or OrderExperiment()
    return seed_grid(lambda task, scheme, seed, data: train_scheme(task, scheme, seed, exp, data),
                     tasks, schemes, seeds, exp.data)


def grid_accuracy(runs: Sequence[GridRun], task: str, scheme: str) -> list[float]:
    """The accuracies of the runs of one (task, scheme) cell, one per seed."""
    return [r.accuracy for r in runs if r.task == task and r.scheme == scheme]


def accuracy_table(runs: Sequence[GridRun], bounds: dict[str, float] | None = None) -> str:
    """A plain-text table: one row per scheme, one column per task, the accuracy of each seed.

    A (scheme, task) pair that was not trained shows "—". bounds: an optional first row, e.g.
    the multiset bound of each task.
    """
    tasks = list(dict.fromkeys(r.task for r in runs))
    schemes = list(dict.fromkeys(r.scheme for r in runs))
    cells = {(s, t): " ".join(f"{a:.2f}" for a in grid_accuracy(runs, t, s)) or "—" for s in schemes for t in tasks}
    width = max(len(text) for text in [*cells.values(), *tasks]) + 3
    label = max(len(name) for name in [*schemes, "multiset", "scheme"]) + 2  # the first column
    lines = ["scheme".ljust(label) + "".join(t.rjust(width) for t in tasks)]
    if bounds:
        lines.append("multiset".ljust(label) + "".join(
            (f"{bounds[t]:.2f}" if t in bounds else "—").rjust(width) for t in tasks))
    lines += [s.ljust(label) + "".join(cells[s, t].rjust(width) for t in tasks) for s in schemes]
    return "\n".join(lines)


# -- where the errors are ---------------------------------------------------------------------------

@torch.no_grad()
def per_position_accuracy(model: EncoderDecoder, pairs: Pairs) -> Tensor:
    """Teacher-forced accuracy at each target position: (m,), the last entry is EOS.

    All targets must have the same length (true of the sequence tasks).
    """
    if len({len(t) for _, t in pairs}) != 1:
        raise ValueError("per_position_accuracy needs targets of one length")
    model.eval()
    batch = to_batch(pairs)
    pred = model(batch.src, batch.tgt_in).argmax(-1)  # (B, m)
    return (pred == batch.tgt_out).double().mean(dim=0)  # (m,)


@torch.no_grad()
def pointer_hits(model: EncoderDecoder, pairs: Pairs, alignment: Sequence[int], layer: int = 0) -> Tensor:
    """How often each head's cross-attention points at the aligned source token: (h, len(alignment)).

    Entry [k, i] is the fraction of pairs in which head k of decoder layer ``layer``, at target
    position i, gives its largest weight to source position alignment[i]. All sources must have
    the same length and no padding.
    """
    batch = to_batch(pairs)
    if (batch.src == PAD).any():
        raise ValueError("pointer_hits needs sources of one length (no padding)")
    model.eval()
    model(batch.src, batch.tgt_in)
    weights = model.decoder[layer].cross_attn.last_weights  # (B, h, m, n)
    steps = len(alignment)
    target = torch.as_tensor(list(alignment), dtype=torch.long)  # (steps,)
    hits = weights[:, :, :steps, :].argmax(dim=-1) == target  # (B, h, steps)
    return hits.double().mean(dim=0)  # (h, steps)
