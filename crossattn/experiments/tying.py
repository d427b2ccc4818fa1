"""Weight tying: what sharing parameters saves, counted, and what it does, measured (chapter 7).

The chapter 4 model (:class:`~crossattn.nn.model.EncoderDecoder`) has two tying switches:
``ModelConfig(tie_kv=True)`` makes the encoder self-, decoder self- and cross-attention at each
depth use one W_K and one W_V; ``tie_embeddings=True`` makes the output projection the embedding
matrix (Press & Wolf, 2017). Parameters are counted in :mod:`crossattn.experiments.parameters`; this module

- makes the two tasks of the experiment, :func:`tying_task`: ``"copy"`` (the target is the
  source) and ``"dictionary"`` (each source word is replaced by its own target word);
- trains every variant on every task from several seeds and records learning curves:
  :class:`TyingExperiment`, :func:`run_variant`, :func:`tying_grid`; stores and loads the
  precomputed grid (:func:`save_results`, :func:`load_results`);
- compares a variant with the baseline over seeds (:func:`compare`), with the statistics of
  :mod:`crossattn.experiments.stats`.

The pairing is by depth: the W_K that encoder layer l applies to its own input is also the W_K of
decoder layer l's self-attention and of its cross-attention, although that cross-attention reads
the encoder's final output, not encoder layer l's input. Depth-wise pairing keeps one pair per
depth and shares nothing across depths, so the tie differs from the untied model in this one
respect and is not also a sharing across depth (Universal Transformer, ALBERT).

The full grid takes a few minutes on one CPU thread, more than a page or a lab may spend, so it is
precomputed and shipped as ``tying_results.json`` next to this file::

    python -m crossattn.tooling.reproduce tying

Every run is deterministic (seeded initialisation and batch order, one thread), so the page and
the lab re-run one slice and check it against the stored numbers.

Shapes: B batch, n source length, m target length, d_model model width, N_voc vocabulary size.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..nn.data import sequence_task, to_batch
from ..nn.model import EncoderDecoder, ModelConfig
from ..nn.tokens import FIRST_SYMBOL
from ..nn.train import TrainConfig, seed_everything, sequence_loss, token_accuracy, train
from .parameters import count_parameters, predicted_parameters
from .seeds import seed_grid
from .stats import SeedSummary, permutation_p_value, ranges_overlap, summarise

__all__ = [
    "TASKS", "VARIANTS", "VARIANT_LABELS", "PLOT_LABELS", "METRICS", "tying_task", "TyingExperiment", "TyingRun",
    "run_variant", "tying_grid", "select", "metric_values", "save_results", "load_results", "RESULTS_PATH",
    "Comparison", "compare", "repeats_input", "repeat_rate", "reproduce",
]

Pairs = list[tuple[list[int], list[int]]]

#: Where the precomputed grid lives (shipped with the package, so labs on Colab find it too).
RESULTS_PATH = Path(__file__).with_name("tying_results.json")


# -- the tasks --------------------------------------------------------------------------------------

TASKS = ("copy", "dictionary")


def tying_task(kind: str, count: int, length: int, n_symbols: int, seed: int) -> Pairs:
    """Pairs for the chapter 7 experiment; both tasks use the vocabulary FIRST_SYMBOL + 2·n_symbols.

    Keyword arguments read best: ``tying_task("copy", count=1, length=6, n_symbols=8, seed=3)``.

    "copy": the target is the source, written with the same tokens (symbols
    FIRST_SYMBOL..FIRST_SYMBOL+n_symbols−1). "dictionary": the same alignment, but every source
    word s is written as its own target word s + n_symbols, a different token with its own
    embedding row. Only the target side's tokens differ between the two tasks.
    """
    if kind not in TASKS:
        raise ValueError(f"kind must be one of {TASKS}, got {kind!r}")
    pairs = sequence_task("copy", count, length, n_symbols, seed)
    if kind == "copy":
        return pairs
    return [(src, [token + n_symbols for token in tgt]) for src, tgt in pairs]


# -- the experiment ---------------------------------------------------------------------------------

#: ModelConfig switches of each variant; "same_size" is untied with d_ff shrunk to the count of "kv".
VARIANTS: dict[str, dict[str, bool]] = {
    "untied": {},
    "kv": {"tie_kv": True},
    "embeddings": {"tie_embeddings": True},
    "same_size": {},
}
VARIANT_LABELS = {
    "untied": "untied",
    "kv": "tied W_K, W_V",
    "embeddings": "tied embeddings",
    "same_size": "untied, smaller d_ff",
}
#: The same labels for figures, in matplotlib's mathtext (no raw underscores in legends).
PLOT_LABELS = {
    "untied": "untied",
    "kv": "tied $W_K$, $W_V$",
    "embeddings": "tied embeddings",
    "same_size": r"untied, smaller $d_\mathrm{ff}$",
}


@dataclass
class TyingExperiment:
    """Settings of the chapter 7 experiment: data, the chapter 4 model, training (CPU, a few seconds a run)."""

    length: int = 6  # n: source length; the target has n tokens + EOS
    n_symbols: int = 8  # source words; the dictionary task adds as many target words
    n_train: int = 5000  # training pairs (seed 0)
    n_test: int = 500  # held-out pairs (seed 1), the same for every run
    d_model: int = 32
    h: int = 2
    d_ff: int = 64
    layers: int = 2  # encoder layers and decoder layers, each
    steps: int = 100  # Adam steps
    batch_size: int = 64
    lr: float = 0.01
    block: int = 5  # one point of the learning curve = the mean training loss of `block` steps

    @property
    def vocab_size(self) -> int:
        """PAD, BOS, EOS, n_symbols source words, n_symbols target words (the same for both tasks)."""
        return FIRST_SYMBOL + 2 * self.n_symbols

    def data(self, task: str) -> tuple[Pairs, Pairs]:
        """(training pairs, held-out pairs) of ``task``."""
        return (tying_task(task, self.n_train, self.length, self.n_symbols, seed=0),
                tying_task(task, self.n_test, self.length, self.n_symbols, seed=1))

    def model_config(self, variant: str) -> ModelConfig:
        """The :class:`ModelConfig` of ``variant`` (a key of :data:`VARIANTS`)."""
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {tuple(VARIANTS)}, got {variant!r}")
        cfg = ModelConfig(vocab_size=self.vocab_size, d_model=self.d_model, h=self.h, d_ff=self.d_ff,
                          n_encoder_layers=self.layers, n_decoder_layers=self.layers, **VARIANTS[variant])
        if variant == "same_size":  # spend on the feed-forward layers what tying saves elsewhere
            target = predicted_parameters(self.model_config("kv"))
            cfg.d_ff = min(range(1, self.d_ff + 1),
                           key=lambda d_ff: abs(predicted_parameters(ModelConfig(**{**asdict(cfg), "d_ff": d_ff})) - target))
        return cfg


@dataclass
class TyingRun:
    """One trained model's record: its learning curve and its held-out loss and accuracy."""

    task: str
    variant: str
    seed: int
    curve: list[float]  # mean training loss (nats/token) of each block of `block` steps
    test_loss: float  # held-out cross-entropy, nats per target token (EOS included)
    test_accuracy: float  # held-out teacher-forced token accuracy
    parameters: int

    @property
    def mean_train_loss(self) -> float:
        """The mean of the whole learning curve: lower means the loss came down sooner."""
        return float(np.mean(self.curve))


#: What can be compared across seeds, and how each is read.
METRICS = {
    "test_loss": "held-out loss (nats/token)",
    "test_accuracy": "held-out token accuracy",
    "mean_train_loss": "mean training loss over all steps",
}


def run_variant(task: str, variant: str, seed: int, exp: TyingExperiment | None = None,
                data: tuple[Pairs, Pairs] | None = None) -> TyingRun:
    """Train ``variant`` on ``task`` from ``seed`` (initialisation and batch order); evaluate on held-out pairs."""
    exp = exp or TyingExperiment()
    train_pairs, test_pairs = data if data is not None else exp.data(task)
    if exp.steps % exp.block:
        raise ValueError(f"steps={exp.steps} must be a multiple of block={exp.block}")
    seed_everything(seed)
    model = EncoderDecoder(exp.model_config(variant))
    history = train(model, train_pairs, TrainConfig(steps=exp.steps, batch_size=exp.batch_size, lr=exp.lr, seed=seed))
    curve = np.asarray(history.losses).reshape(-1, exp.block).mean(axis=1)  # (steps / block,)
    with torch.no_grad():
        test_loss = sequence_loss(model, to_batch(test_pairs)).item()
    return TyingRun(task, variant, seed, [float(c) for c in curve], test_loss, token_accuracy(model, test_pairs),
                    count_parameters(model))


def tying_grid(tasks: Sequence[str] = TASKS, variants: Sequence[str] = tuple(VARIANTS),
               seeds: Sequence[int] = range(5), exp: TyingExperiment | None = None) -> list[TyingRun]:
    """Train every variant on every task from every seed: len(tasks)·len(variants)·len(seeds) runs."""
    exp = exp or TyingExperiment()
    return seed_grid(lambda task, variant, seed, data: run_variant(task, variant, seed, exp, data),
                     tasks, variants, seeds, exp.data)


def select(runs: Sequence[TyingRun], task: str, variant: str) -> list[TyingRun]:
    """The runs of one (task, variant) cell, ordered by seed; a ValueError if there are none."""
    chosen = sorted((r for r in runs if r.task == task and r.variant == variant), key=lambda r: r.seed)
    if not chosen:
        raise ValueError(f"no runs of task {task!r} and variant {variant!r}")
    return chosen


def metric_values(runs: Sequence[TyingRun], task: str, variant: str, metric: str) -> list[float]:
    """One number per seed: ``metric`` (a key of :data:`METRICS`) of each run of the cell."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    return [float(getattr(r, metric)) for r in select(runs, task, variant)]


def save_results(runs: Sequence[TyingRun], exp: TyingExperiment, path: str | Path = RESULTS_PATH) -> Path:
    """Write the grid as JSON (curves rounded to 6 decimals); return the path."""
    def rounded(run: TyingRun) -> dict:
        record = asdict(run)
        record["curve"] = [round(c, 6) for c in run.curve]
        record["test_loss"], record["test_accuracy"] = round(run.test_loss, 6), round(run.test_accuracy, 6)
        return record
    payload = {
        "about": "Learning curves of the chapter 7 experiment. Recreate: python -m crossattn.tooling.reproduce tying",
        "torch": torch.__version__,
        "settings": asdict(exp),
        "runs": [rounded(r) for r in runs],
    }
    path = Path(path)
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def load_results(path: str | Path = RESULTS_PATH) -> tuple[TyingExperiment, list[TyingRun]]:
    """The settings and runs stored by :func:`save_results`."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"{path}: cannot read the stored results ({err.strerror}); "
                         "recreate them with `python -m crossattn.tooling.reproduce tying`") from None
    return TyingExperiment(**payload["settings"]), [TyingRun(**r) for r in payload["runs"]]


@dataclass(frozen=True)
class Comparison:
    """A variant against a baseline on one task and one metric, over seeds."""

    task: str
    metric: str
    variant: SeedSummary
    baseline: SeedSummary
    difference: float  # mean of the variant − mean of the baseline
    p_value: float  # exact permutation test
    overlap: bool  # do the two seed ranges overlap?

    def __str__(self) -> str:
        verdict = "ranges overlap" if self.overlap else "ranges separate"
        difference = self.difference if abs(self.difference) >= 5e-4 else 0.0  # no "-0.000"
        return f"{difference:+.3f} ({verdict}, p = {self.p_value:.3f})"


def compare(runs: Sequence[TyingRun], task: str, variant: str, baseline: str = "untied",
            metric: str = "test_loss") -> Comparison:
    """``variant`` against ``baseline`` on ``task``: difference of means, seed ranges, permutation p-value."""
    a, b = metric_values(runs, task, variant, metric), metric_values(runs, task, baseline, metric)
    return Comparison(task, metric, summarise(a), summarise(b), float(np.mean(a) - np.mean(b)),
                      permutation_p_value(a, b), ranges_overlap(a, b))


@torch.no_grad()
def repeats_input(model: EncoderDecoder, pairs: Pairs) -> float:
    """How often the model's prediction at a target position is the token it was just given as input.

    Ignores the first position (its input is BOS). A tied output layer scores every token by its
    similarity to the final state, and that state starts out close to the input token's own
    embedding: at initialisation a tied model mostly predicts its input back.
    """
    model.eval()
    batch = to_batch(pairs)
    pred = model(batch.src, batch.tgt_in).argmax(-1)  # (B, m)
    given = batch.tgt_in[:, 1:]  # (B, m − 1): the input tokens after BOS
    real = batch.tgt_out[:, 1:] != 0  # (B, m − 1): real target positions
    return (pred[:, 1:] == given)[real].double().mean().item()


def repeat_rate(pairs: Pairs) -> float:
    """How often a target token equals the target token just before it (the first token excluded).

    This is how often "predict the token you were just given" is right under teacher forcing; for
    sources of i.i.d. uniform symbols it is about 1/n_symbols.
    """
    same = total = 0
    for _, tgt in pairs:
        same += sum(x == y for x, y in zip(tgt, tgt[1:]))
        total += max(0, len(tgt) - 1)
    if total == 0:
        raise ValueError("need at least one target of two or more tokens")
    return same / total


def reproduce(out: str | Path = RESULTS_PATH, seeds: int = 5) -> list[str]:
    """Train the whole grid from seeds 0..seeds−1 and write it to ``out``; return a summary, a line per cell.

    Run by ``python -m crossattn.tooling.reproduce tying`` (a few minutes on one CPU thread).
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    exp = TyingExperiment()
    runs = tying_grid(seeds=range(seeds), exp=exp)
    path = save_results(runs, exp, out)
    lines = [f"{task:>10} {VARIANT_LABELS[variant]:>22}: held-out loss "
             f"{summarise(metric_values(runs, task, variant, 'test_loss'))}"
             for task in TASKS for variant in VARIANTS]
    return lines + [f"wrote {len(runs)} runs to {path}"]
