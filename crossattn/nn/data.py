"""Synthetic tasks, generated from a seed: nothing is downloaded (chapters 4–8).

All tasks share one vocabulary layout: 0 = PAD, 1 = BOS, 2 = EOS, then the task's symbols.
A task returns a list of (source, target) pairs of token-id lists (no BOS/EOS);
:func:`to_batch` pads them into tensors for training.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .tokens import BOS, EOS, FIRST_SYMBOL, PAD

__all__ = ["PAD", "BOS", "EOS", "FIRST_SYMBOL", "Batch", "to_batch", "ToyTranslation", "sequence_task", "SEQUENCE_TASKS",
           "held_out", "sequence_split"]



#: (source, target) pairs of token-id lists, no BOS/EOS.
Pairs = list[tuple[list[int], list[int]]]


@dataclass
class Batch:
    """A padded batch: src (B, n); tgt_in = BOS + target (B, m); tgt_out = target + EOS (B, m)."""

    src: Tensor
    tgt_in: Tensor
    tgt_out: Tensor

    @property
    def src_mask(self) -> Tensor:
        """(B, n) bool, True for real source tokens."""
        return self.src != PAD


def to_batch(pairs: list[tuple[list[int], list[int]]]) -> Batch:
    """Pad (source, target) pairs into a :class:`Batch`; padding is PAD = 0 at the end."""
    if not pairs:
        raise ValueError("to_batch needs at least one (source, target) pair")
    n = max(len(s) for s, _ in pairs)
    m = max(len(t) for _, t in pairs) + 1
    # Pad the Python lists first and build each tensor in one call: training calls this every step.
    src = torch.tensor([[*s] + [PAD] * (n - len(s)) for s, _ in pairs], dtype=torch.long)  # (B, n)
    tgt_in = torch.tensor([[BOS, *t] + [PAD] * (m - 1 - len(t)) for _, t in pairs], dtype=torch.long)  # (B, m)
    tgt_out = torch.tensor([[*t, EOS] + [PAD] * (m - 1 - len(t)) for _, t in pairs], dtype=torch.long)  # (B, m)
    return Batch(src, tgt_in, tgt_out)


@dataclass
class ToyTranslation:
    """A toy 'translation' with a word-for-word dictionary and local reordering (chapter 4).

    Source sentences are sequences of phrases, each a NOUN or an ADJECTIVE followed by a NOUN.
    The target language translates each word with a fixed dictionary and puts adjectives AFTER
    their noun (as French does), so the alignment is monotone except for swapped adjective–noun
    pairs. ``alignment(src)`` gives, for each target position, the source position it translates.
    """

    n_nouns: int = 8
    n_adjectives: int = 6
    min_phrases: int = 2
    max_phrases: int = 4
    adjective_prob: float = 0.5

    @property
    def n_words(self) -> int:
        return self.n_nouns + self.n_adjectives

    @property
    def vocab_size(self) -> int:
        """PAD, BOS, EOS, the source words, then the target words."""
        return FIRST_SYMBOL + 2 * self.n_words

    def is_adjective(self, token: int) -> bool:
        return FIRST_SYMBOL + self.n_nouns <= token < FIRST_SYMBOL + self.n_words

    def translate_word(self, token: int) -> int:
        return token + self.n_words  # source word w -> its target word

    def source_word(self, token: int) -> str:
        """A readable name: nouns N0.., adjectives A0.. (source) and n0.., a0.. (target)."""
        if token in (PAD, BOS, EOS):
            return ["<pad>", "<bos>", "<eos>"][token]
        i = token - FIRST_SYMBOL
        side, i = ("src", i) if i < self.n_words else ("tgt", i - self.n_words)
        name = f"N{i}" if i < self.n_nouns else f"A{i - self.n_nouns}"
        return name if side == "src" else name.lower()

    def translate(self, src: list[int]) -> list[int]:
        out, i = [], 0
        while i < len(src):
            if self.is_adjective(src[i]) and i + 1 < len(src):
                out += [self.translate_word(src[i + 1]), self.translate_word(src[i])]  # ADJ NOUN -> noun' adj'
                i += 2
            else:
                out.append(self.translate_word(src[i]))
                i += 1
        return out

    def alignment(self, src: list[int]) -> list[int]:
        """For each target position, the index of the source word it translates."""
        out, i = [], 0
        while i < len(src):
            if self.is_adjective(src[i]) and i + 1 < len(src):
                out += [i + 1, i]
                i += 2
            else:
                out.append(i)
                i += 1
        return out

    def sample(self, count: int, seed: int) -> list[tuple[list[int], list[int]]]:
        """``count`` (source, target) pairs from ``seed``."""
        rng = random.Random(seed)
        pairs = []
        for _ in range(count):
            src: list[int] = []
            for _ in range(rng.randint(self.min_phrases, self.max_phrases)):
                if rng.random() < self.adjective_prob:
                    src.append(FIRST_SYMBOL + self.n_nouns + rng.randrange(self.n_adjectives))
                src.append(FIRST_SYMBOL + rng.randrange(self.n_nouns))
            pairs.append((src, self.translate(src)))
        return pairs


    def split(self, n_train: int, n_test: int, seed: int = 0) -> tuple[Pairs, Pairs]:
        """(training pairs, held-out pairs): no held-out source occurs among the training sources.

        The training pairs are ``sample(n_train, seed)``; the held-out pairs are drawn from seed + 1,
        skipping every source the training set holds (see :func:`held_out`). Two samples from two
        seeds are not disjoint by themselves: short sources repeat.
        """
        train = self.sample(n_train, seed)
        return train, held_out(train, lambda count, s: self.sample(count, s), n_test, seed + 1)


def held_out(train: Pairs, sample: Callable[[int, int], Pairs], count: int, seed: int, max_rounds: int = 50) -> Pairs:
    """``count`` pairs from ``sample(·, seed)``, ``sample(·, seed + 1)``, … whose sources are not in ``train``.

    Test sets of the course are disjoint from their training sets by construction: a source seen in
    training never appears in a held-out set (a repeated source would let memorisation pass as
    generalisation). Duplicates within the held-out set are kept, as a fresh sample would keep them.
    Raises ValueError when ``max_rounds`` draws of ``count`` pairs cannot supply enough unseen sources
    (the task has too few distinct sources for the training set asked for).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    seen = {tuple(src) for src, _ in train}
    kept: Pairs = []
    for round_ in range(max_rounds):
        kept += [(src, tgt) for src, tgt in sample(count, seed + round_) if tuple(src) not in seen]
        if len(kept) >= count:
            return kept[:count]
    raise ValueError(f"only {len(kept)} of {count} held-out pairs have a source the training set does not hold "
                     f"after {max_rounds} draws: the task has too few distinct sources")


SEQUENCE_TASKS = ("copy", "reverse", "sort", "random")


def sequence_task(kind: str, count: int, length: int, n_symbols: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Pairs for the order tasks of chapters 4, 6 and 7, with symbols FIRST_SYMBOL..FIRST_SYMBOL+n_symbols−1.

    "copy": target = source; "reverse": source reversed; "sort": source sorted (order-free:
    depends only on the multiset of tokens); "random": an i.i.d. random target unrelated to the
    source (the leakage experiment of chapter 4: no honest model beats ln(n_symbols) nats per token).
    """
    if kind not in SEQUENCE_TASKS:
        raise ValueError(f"kind must be one of {SEQUENCE_TASKS}, got {kind!r}")
    if length < 1 or n_symbols < 2 or count < 1:
        raise ValueError(f"need count ≥ 1, length ≥ 1 and n_symbols ≥ 2, got {count}, {length}, {n_symbols}")
    rng = random.Random(seed)
    def seq() -> list[int]:
        return [FIRST_SYMBOL + rng.randrange(n_symbols) for _ in range(length)]
    pairs = []
    for _ in range(count):
        s = seq()
        t = {"copy": list(s), "reverse": s[::-1], "sort": sorted(s), "random": None}[kind]
        pairs.append((s, seq() if t is None else t))
    return pairs


def sequence_split(kind: str, n_train: int, n_test: int, length: int, n_symbols: int,
                   seed: int = 0) -> tuple[Pairs, Pairs]:
    """(training pairs, held-out pairs) of a sequence task, no held-out source among the training sources.

    The training pairs are ``sequence_task(kind, n_train, length, n_symbols, seed)``; the held-out ones
    come from seed + 1 onwards (:func:`held_out`).
    """
    train = sequence_task(kind, n_train, length, n_symbols, seed)
    return train, held_out(train, lambda count, s: sequence_task(kind, count, length, n_symbols, s), n_test, seed + 1)
