"""Weight tying: what sharing parameters saves, counted, and what it does, measured (chapter 7).

The chapter 4 model (:class:`~crossattn.model.EncoderDecoder`) has two tying switches:
``ModelConfig(tie_kv=True)`` makes the encoder self-, decoder self- and cross-attention at each
depth use one W_K and one W_V; ``tie_embeddings=True`` makes the output projection the embedding
matrix (Press & Wolf, 2017). This module

- counts parameters from a formula: :func:`parameter_breakdown`, :func:`predicted_parameters`,
  :func:`kv_tying_saving`, :func:`embedding_tying_saving`, checked against
  :func:`count_parameters` (what ``model.parameters()`` holds, each shared tensor once);
- makes the two tasks of the experiment, :func:`tying_task`: ``"copy"`` (the target is the
  source) and ``"dictionary"`` (each source word is replaced by its own target word);
- trains every variant on every task from several seeds and records learning curves:
  :class:`TyingExperiment`, :func:`run_variant`, :func:`tying_grid`; stores and loads the
  precomputed grid (:func:`save_results`, :func:`load_results`);
- summarises seeds honestly: :func:`summarise` (mean and range), :func:`curve_band`,
  :func:`permutation_p_value` (an exact permutation test), :func:`compare`, and
  :func:`detectable_shift` (the smallest shift of a mean that the test would detect, given the
  seeds' spread).

The pairing is by depth: the W_K that encoder layer l applies to its own input is also the W_K of
decoder layer l's self-attention and of its cross-attention, although that cross-attention reads
the encoder's final output, not encoder layer l's input. Depth-wise pairing keeps one pair per
depth and shares nothing across depths, so the tie differs from the untied model in this one
respect and is not also a sharing across depth (Universal Transformer, ALBERT).

The full grid takes a few minutes on one CPU thread, more than a page or a lab may spend, so it is
precomputed and shipped as ``tying_results.json`` next to this file::

    python -m crossattn.tying run --out crossattn/tying_results.json

Every run is deterministic (seeded initialisation and batch order, one thread), so the page and
the lab re-run one slice and check it against the stored numbers.

Shapes: B batch, n source length, m target length, d_model model width, N_voc vocabulary size.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .data import FIRST_SYMBOL, sequence_task, to_batch
from .model import EncoderDecoder, ModelConfig
from .train import TrainConfig, seed_everything, sequence_loss, token_accuracy, train

__all__ = [
    "attention_parameters", "feed_forward_parameters", "layer_norm_parameters", "kv_tying_saving",
    "embedding_tying_saving", "parameter_breakdown", "predicted_parameters", "count_parameters",
    "TASKS", "VARIANTS", "VARIANT_LABELS", "METRICS", "tying_task", "TyingExperiment", "TyingRun",
    "run_variant", "tying_grid", "select", "metric_values", "save_results", "load_results", "RESULTS_PATH",
    "SeedSummary", "summarise", "curve_band", "ranges_overlap", "permutation_p_value", "Comparison",
    "compare", "detectable_shift", "PLOT_LABELS", "plot_curves", "repeats_input", "repeat_rate",
]

Pairs = list[tuple[list[int], list[int]]]

#: Where the precomputed grid lives (shipped with the package, so labs on Colab find it too).
RESULTS_PATH = Path(__file__).with_name("tying_results.json")


# -- counting ---------------------------------------------------------------------------------------

def _positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def attention_parameters(d_model: int) -> int:
    """Weights of one multi-head attention of the package: W_Q, W_K, W_V, W_O, each d_model×d_model, no biases.

    The number of heads does not matter: h heads of width d_model/h together fill d_model columns.
    """
    _positive(d_model=d_model)
    return 4 * d_model * d_model


def feed_forward_parameters(d_model: int, d_ff: int) -> int:
    """d_model -> d_ff -> d_model with biases: 2·d_model·d_ff + d_ff + d_model."""
    _positive(d_model=d_model, d_ff=d_ff)
    return 2 * d_model * d_ff + d_ff + d_model


def layer_norm_parameters(d_model: int) -> int:
    """A LayerNorm's gain and bias: 2·d_model."""
    _positive(d_model=d_model)
    return 2 * d_model


def kv_tying_saving(d_model: int, n_encoder_layers: int, n_decoder_layers: int) -> int:
    """Parameters removed by ``tie_kv``: one W_K and one W_V per depth serve every attention there.

    A depth with an encoder and a decoder layer has three attentions (encoder self, decoder self,
    cross) and keeps one W_K and one W_V of the three: it saves 2 × 2·d_model² = 4·d_model². A depth
    with only a decoder layer (a deeper decoder) has two attentions: it saves 2·d_model². A depth
    with only an encoder layer has one attention and nothing to share: it saves 0.
    """
    _positive(d_model=d_model, n_encoder_layers=n_encoder_layers, n_decoder_layers=n_decoder_layers)
    both = min(n_encoder_layers, n_decoder_layers)
    decoder_only = max(0, n_decoder_layers - n_encoder_layers)
    return 4 * d_model * d_model * both + 2 * d_model * d_model * decoder_only


def embedding_tying_saving(vocab_size: int, d_model: int) -> int:
    """Parameters removed by ``tie_embeddings``: the N_voc×d_model output projection."""
    _positive(vocab_size=vocab_size, d_model=d_model)
    return vocab_size * d_model


def parameter_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """The parameters of ``EncoderDecoder(cfg)``, part by part, from the formula; tying savings are negative.

    Covers every switch of :class:`ModelConfig`: tying, a relative bias in every cross-attention
    (h × (2·max_len + 1) each), and the transparent-attention mix (n_decoder × (n_encoder + 1)).
    Positions add nothing: the sinusoidal table is a buffer (``model.buffers()``), not a parameter.
    """
    d, V, Le, Ld = cfg.d_model, cfg.vocab_size, cfg.n_encoder_layers, cfg.n_decoder_layers
    ln, ff = layer_norm_parameters(d), feed_forward_parameters(d, cfg.d_ff)
    parts = {
        "embedding": V * d,
        "output projection": V * d,
        "encoder layers": Le * (attention_parameters(d) + ff + 2 * ln),
        "decoder layers": Ld * (2 * attention_parameters(d) + ff + 3 * ln),
        "final layer norms": 2 * ln,
    }
    if cfg.positions == "relative":
        parts["relative biases"] = Ld * cfg.h * (2 * cfg.max_len + 1)
    if cfg.cross_reads == "all":
        parts["transparent mix"] = Ld * (Le + 1)
    if cfg.tie_kv:
        parts["tied W_K, W_V"] = -kv_tying_saving(d, Le, Ld)
    if cfg.tie_embeddings:
        parts["tied embeddings"] = -embedding_tying_saving(V, d)
    return parts


def predicted_parameters(cfg: ModelConfig) -> int:
    """The number of parameters of ``EncoderDecoder(cfg)``, from the formula (:func:`parameter_breakdown`)."""
    return sum(parameter_breakdown(cfg).values())


def count_parameters(model: torch.nn.Module) -> int:
    """The parameters a model really holds: ``model.parameters()`` lists each shared Parameter once."""
    return sum(p.numel() for p in model.parameters())


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
    runs = []
    for task in tasks:
        data = exp.data(task)
        for variant in variants:
            for seed in seeds:
                runs.append(run_variant(task, variant, seed, exp, data))
    return runs


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
        "about": "Learning curves of the chapter 7 experiment. Recreate: python -m crossattn.tying run",
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
                         "recreate them with `python -m crossattn.tying run`") from None
    return TyingExperiment(**payload["settings"]), [TyingRun(**r) for r in payload["runs"]]


# -- summarising seeds ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeedSummary:
    """A number measured over seeds: its mean and its range (smallest, largest)."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def summarise(values: Sequence[float]) -> SeedSummary:
    """Mean and range of one number over seeds."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"summarise needs a non-empty 1-D sequence of numbers, got shape {v.shape}")
    return SeedSummary(float(v.mean()), float(v.min()), float(v.max()), int(v.size))


def curve_band(curves: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, lowest and highest curve over seeds: curves (seeds, points) -> three arrays (points,)."""
    c = np.asarray(curves, dtype=float)
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValueError(f"curves must have shape (seeds, points), got {c.shape}")
    return c.mean(axis=0), c.min(axis=0), c.max(axis=0)


def ranges_overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when the ranges [min, max] of the two samples overlap."""
    return bool(min(a) <= max(b) and min(b) <= max(a))


def permutation_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided permutation test of a difference in means.

    If the label (which sample a seed's number came from) does not matter — the numbers are
    exchangeable under "no effect" — every way of splitting the pooled numbers into groups of
    len(a) and len(b) is equally likely. The p-value is the fraction of splits whose absolute
    difference of means is at least as large as the observed one. The test assumes no normal
    distribution, but it does assume that exchangeability. With 5 seeds against 5 there are
    C(10, 5) = 252 splits; the observed split and its mirror (the two groups swapped, the same
    absolute difference) always count, so the smallest possible p-value is 2/252 ≈ 0.008.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or a.size == 0 or b.size == 0:
        raise ValueError(f"need two non-empty 1-D samples, got shapes {a.shape} and {b.shape}")
    if math.comb(a.size + b.size, a.size) > 200_000:
        raise ValueError("too many splits for an exact test: use at most about 20 numbers in all")
    pooled = np.concatenate([a, b])  # (n_a + n_b,)
    groups = np.array(list(itertools.combinations(range(pooled.size), a.size)))  # (splits, n_a)
    sums = pooled[groups].sum(axis=1)  # (splits,): the first group's sum
    differences = sums / a.size - (pooled.sum() - sums) / b.size  # (splits,)
    observed = abs(a.mean() - b.mean())
    return float(np.mean(np.abs(differences) >= observed - 1e-12))


def detectable_shift(a: Sequence[float], b: Sequence[float], alpha: float = 0.05, steps: int = 1000) -> float:
    """The smallest shift of a mean that :func:`permutation_p_value` detects (p < alpha) with this spread.

    Both samples are first moved to their pooled mean, so that they differ by nothing but their
    seed-to-seed scatter (no effect). Then ``a`` is shifted by +δ and by −δ; the answer is the
    smallest δ, on a grid of ``steps`` points per pooled range, at which both shifted versions
    give p < alpha. A true effect smaller than this would not have been detected by an
    experiment with these seeds' spread; an observed difference below it is inside the noise.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if a.ndim != 1 or b.ndim != 1 or a.size == 0 or b.size == 0:
        raise ValueError(f"need two non-empty 1-D samples, got shapes {a.shape} and {b.shape}")
    if 2 / math.comb(a.size + b.size, a.size) >= alpha:
        raise ValueError(f"with {a.size} against {b.size} numbers the smallest possible p-value is "
                         f"2/C({a.size + b.size}, {a.size}), not below alpha={alpha}: no shift can be detected")
    centre = np.concatenate([a, b]).mean()
    a0, b0 = a - a.mean() + centre, b - b.mean() + centre  # the same scatter, no difference in means
    span = float(np.ptp(np.concatenate([a0, b0])))
    if span == 0:
        raise ValueError("both samples are constant: any shift is detected, there is no spread to measure")
    for k in range(1, steps + 2):  # beyond δ = span the groups no longer overlap: p = 2/C(n_a + n_b, n_a)
        delta = span * k / steps
        if all(permutation_p_value(a0 + sign * delta, b0) < alpha for sign in (1, -1)):
            return delta
    raise AssertionError("separated groups always give the smallest p-value")  # pragma: no cover


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


# -- figures and diagnostics ------------------------------------------------------------------------

def plot_curves(ax, runs: Sequence[TyingRun], task: str, variants: Sequence[str], block: int,
                colours: dict[str, str] | None = None) -> None:
    """Mean learning curve of each variant on ``task`` with its band from the lowest to the highest seed."""
    for variant in variants:
        chosen = select(runs, task, variant)
        mean, low, high = curve_band([r.curve for r in chosen])
        steps = block * np.arange(1, len(mean) + 1)
        colour = (colours or {}).get(variant)
        line, = ax.plot(steps, mean, color=colour, label=f"{PLOT_LABELS[variant]} ({len(chosen)} seeds)")
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (nats/token)")


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


# -- the command line -------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossattn.tying",
                                     description="Precompute the chapter 7 learning curves.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train every variant on every task from every seed; write JSON")
    run.add_argument("--out", type=Path, default=RESULTS_PATH, help=f"where to write (default: {RESULTS_PATH})")
    run.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    torch.set_num_threads(1)  # deterministic, and fastest for models this small
    exp = TyingExperiment()
    runs = tying_grid(seeds=range(args.seeds), exp=exp)
    path = save_results(runs, exp, args.out)
    for task in TASKS:
        for variant in VARIANTS:
            print(f"{task:>10} {VARIANT_LABELS[variant]:>22}: held-out loss "
                  f"{summarise(metric_values(runs, task, variant, 'test_loss'))}")
    print(f"wrote {len(runs)} runs to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
