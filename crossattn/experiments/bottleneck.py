"""One vector or cross-attention: why the decoder reads every source state (chapter 4).

Before attention, an encoder–decoder handed its decoder one fixed-size vector summarising the
whole source (Sutskever et al. 2014; Cho et al. 2014), and such models got worse as sentences
grew longer (Bahdanau et al. 2015). The chapter 4 model builds that design with one switch:
``ModelConfig(cross_reads="pooled")`` makes every decoder layer's cross-attention read a single
row, the mean of the encoder's output over the real source tokens. With one key its weight is 1,
so every target position receives the same summary; the model keeps every parameter of the
cross-attention model, and is trained with the same budget.

The experiment trains both on the toy translation of chapter 4 with a fixed number of phrases per
sentence (longer and longer sources), from several seeds, and measures held-out token accuracy
on sources that training never saw (:meth:`~crossattn.nn.data.ToyTranslation.split`). A pooled
run with four times the training steps at the longest length checks that the gap is not only
slower learning.

The grid takes several minutes on one CPU thread, more than a page may spend, so it is
precomputed and shipped as ``bottleneck_results.json`` next to this file::

    python -m crossattn.tooling.reproduce bottleneck

The page re-runs one configuration and compares it with the stored seeds by distribution.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..nn.data import ToyTranslation
from ..nn.model import EncoderDecoder, ModelConfig
from ..nn.train import TrainConfig, seed_everything, token_accuracy, train

__all__ = [
    "PHRASES", "READS", "RESULTS_PATH", "BottleneckExperiment", "BottleneckRun", "length_task", "run_reads",
    "bottleneck_grid", "select", "save_results", "load_results", "reproduce",
]

Pairs = list[tuple[list[int], list[int]]]

#: Phrases per source sentence (a noun, or an adjective and a noun): 1.5 words each on average.
PHRASES = (2, 3, 4, 6, 8)
#: What the decoder reads: every state of the encoder's last layer, or one pooled vector.
READS = ("last", "pooled")
#: Where the precomputed grid lives (shipped with the package, so labs on Colab find it too).
RESULTS_PATH = Path(__file__).with_name("bottleneck_results.json")


@dataclass(frozen=True)
class BottleneckExperiment:
    """Settings shared by every run of the grid: the chapter 4 model and training budget."""

    phrases: tuple[int, ...] = PHRASES  # phrases per sentence, one source length per entry
    seeds: int = 5  # seeds 0..seeds−1: initialisation and batch order
    steps: int = 150  # Adam steps, as for the chapter's model
    batch_size: int = 64
    n_train: int = 4000  # training pairs (the data seed is 0 for every run)
    n_test: int = 300  # held-out pairs, no source among the training sources
    long_factor: int = 4  # the extra pooled runs at the longest length train this many times longer

    def __post_init__(self) -> None:
        if not self.phrases or min(self.phrases) < 1:
            raise ValueError(f"phrases must be positive phrase counts, got {self.phrases}")
        for name in ("seeds", "steps", "batch_size", "n_train", "n_test", "long_factor"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class BottleneckRun:
    """One trained model: what it read, at which length, from which seed, and how well it translates."""

    phrases: int
    reads: str  # "last" or "pooled"
    seed: int
    steps: int
    source_length: float  # mean number of source words of the held-out sentences
    accuracy: float  # held-out teacher-forced token accuracy, EOS left out


def length_task(phrases: int) -> ToyTranslation:
    """Chapter 4's toy translation with exactly ``phrases`` phrases per source sentence."""
    if phrases < 1:
        raise ValueError(f"phrases must be at least 1, got {phrases}")
    return ToyTranslation(min_phrases=phrases, max_phrases=phrases)


def run_reads(phrases: int, reads: str, seed: int, steps: int = 150, batch_size: int = 64,
              data: tuple[Pairs, Pairs] | None = None, n_train: int = 4000, n_test: int = 300) -> BottleneckRun:
    """Train the chapter 4 model reading ``reads`` on sentences of ``phrases`` phrases; evaluate it held out.

    data: (training pairs, held-out pairs) of :func:`length_task` to reuse; by default
    ``length_task(phrases).split(n_train, n_test, seed=0)``.
    """
    if reads not in READS:
        raise ValueError(f"reads must be one of {READS}, got {reads!r}")
    task = length_task(phrases)
    train_pairs, test_pairs = data if data is not None else task.split(n_train, n_test, seed=0)
    seed_everything(seed)
    model = EncoderDecoder(ModelConfig(vocab_size=task.vocab_size, cross_reads=reads))
    train(model, train_pairs, TrainConfig(steps=steps, batch_size=batch_size, seed=seed))
    length = sum(len(s) for s, _ in test_pairs) / len(test_pairs)
    return BottleneckRun(phrases, reads, seed, steps, length, token_accuracy(model, test_pairs))


def bottleneck_grid(exp: BottleneckExperiment | None = None) -> list[BottleneckRun]:
    """Every length × reads × seed at ``exp.steps``, then pooled at ``long_factor``·steps at the longest length."""
    exp = exp or BottleneckExperiment()
    runs = []
    for phrases in exp.phrases:
        data = length_task(phrases).split(exp.n_train, exp.n_test, seed=0)
        for reads in READS:
            for seed in range(exp.seeds):
                runs.append(run_reads(phrases, reads, seed, exp.steps, exp.batch_size, data))
        if phrases == max(exp.phrases):
            for seed in range(exp.seeds):
                runs.append(run_reads(phrases, "pooled", seed, exp.long_factor * exp.steps, exp.batch_size, data))
    return runs


def select(runs: Sequence[BottleneckRun], phrases: int, reads: str, steps: int) -> list[BottleneckRun]:
    """The runs of one cell, ordered by seed; a ValueError if there are none."""
    chosen = sorted((r for r in runs if (r.phrases, r.reads, r.steps) == (phrases, reads, steps)),
                    key=lambda r: r.seed)
    if not chosen:
        raise ValueError(f"no runs with phrases={phrases}, reads={reads!r}, steps={steps}")
    return chosen


def save_results(runs: Sequence[BottleneckRun], exp: BottleneckExperiment, path: str | Path = RESULTS_PATH) -> Path:
    """Write the grid as JSON (numbers rounded to 6 decimals); return the path."""
    payload = {
        "about": "Chapter 4: one pooled vector vs cross-attention over source lengths. "
                 "Recreate: python -m crossattn.tooling.reproduce bottleneck",
        "torch": torch.__version__,
        "settings": {**asdict(exp), "phrases": list(exp.phrases)},
        "runs": [{**asdict(r), "source_length": round(r.source_length, 6), "accuracy": round(r.accuracy, 6)}
                 for r in runs],
    }
    path = Path(path)
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def load_results(path: str | Path = RESULTS_PATH) -> tuple[BottleneckExperiment, list[BottleneckRun]]:
    """The settings and runs stored by :func:`save_results`."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"{path}: cannot read the stored results ({err.strerror}); "
                         "recreate them with `python -m crossattn.tooling.reproduce bottleneck`") from None
    settings = {**payload["settings"], "phrases": tuple(payload["settings"]["phrases"])}
    return BottleneckExperiment(**settings), [BottleneckRun(**r) for r in payload["runs"]]


def reproduce(out: str | Path = RESULTS_PATH, exp: BottleneckExperiment | None = None) -> list[str]:
    """Train the whole grid and write it to ``out``; return a summary, one line per cell.

    Run by ``python -m crossattn.tooling.reproduce bottleneck`` (several minutes on one CPU thread).
    """
    exp = exp or BottleneckExperiment()
    runs = bottleneck_grid(exp)
    path = save_results(runs, exp, out)
    cells = sorted({(r.phrases, r.reads, r.steps) for r in runs})
    lines = []
    for phrases, reads, steps in cells:
        accs = [r.accuracy for r in select(runs, phrases, reads, steps)]
        lines.append(f"{phrases} phrases, reads {reads:>6}, {steps:>4} steps: accuracy "
                     f"{min(accs):.3f}–{max(accs):.3f} over {len(accs)} seeds")
    return lines + [f"wrote {len(runs)} runs to {path}"]
