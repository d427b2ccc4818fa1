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
- compares a variant with the baseline over paired seeds (:func:`compare`: paired difference, its
  confidence interval, the exact sign-flip test; :func:`shift_detected`: the shift the design
  detects 80 % of the time), with the statistics of :mod:`crossattn.experiments.stats`.

The pairing is by depth: the W_K that encoder layer l applies to its own input is also the W_K of
decoder layer l's self-attention and of its cross-attention, although that cross-attention reads
the encoder's final output, not encoder layer l's input. Depth-wise pairing keeps one pair per
depth and shares nothing across depths, so the tie differs from the untied model in this one
respect and is not also a sharing across depth (Universal Transformer, ALBERT).

The full grid takes a few minutes on one CPU thread, more than a page or a lab may spend, so it is
precomputed and shipped as ``tying_results.json`` next to this file::

    python -m crossattn.tooling.reproduce tying

A run is deterministic on one machine with one thread count and one kernel path, but not across
them: float rounding differs in the last bits, and 100 Adam steps grow that into a different run.
So the stored file also holds a few runs repeated under other configurations (:data:`CONFIGURATIONS`,
:func:`run_in_configuration`), and a live re-run is checked *in distribution*
(:func:`agrees_with_stored`): its mean training loss must fall inside the stored seeds' range,
widened by a margin of :data:`MARGIN_FACTOR` times the largest deviation measured across those
configurations (:func:`portable_margin`).

Shapes: B batch, n source length, m target length, d_model model width, N_voc vocabulary size.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..nn.data import held_out, sequence_task, to_batch
from ..nn.model import EncoderDecoder, ModelConfig
from ..nn.tokens import FIRST_SYMBOL
from ..nn.train import TrainConfig, seed_everything, sequence_loss, token_accuracy, train
from .parameters import count_parameters, predicted_parameters
from .seeds import seed_grid
from .stats import (
    SeedSummary,
    inside_band,
    permutation_p_value,
    ranges_overlap,
    shift_for_power,
    sign_flip_interval,
    sign_flip_p_value,
    summarise,
)

__all__ = [
    "TASKS", "VARIANTS", "VARIANT_LABELS", "PLOT_LABELS", "METRICS", "tying_task", "TyingExperiment", "TyingRun",
    "run_variant", "build_model", "tying_grid", "select", "metric_values", "save_results", "load_results", "RESULTS_PATH",
    "Comparison", "compare", "paired_differences", "shift_detected", "repeats_input", "repeat_rate", "reproduce",
    "permutation_p_value", "CONFIGURATIONS", "MARGIN_FACTOR", "SPREAD_SEEDS", "SPREAD_VARIANTS", "ConfigurationRuns",
    "run_in_configuration", "load_configurations", "configuration_deviation", "portable_margin",
    "agrees_with_stored", "DEFAULT_SEEDS",
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

#: ModelConfig switches of each variant; "same_size" is untied with d_ff shrunk to the count of "kv";
#: "tied_start" is untied but starts exactly as "embeddings" does (the initialisation control).
VARIANTS: dict[str, dict[str, bool]] = {
    "untied": {},
    "kv": {"tie_kv": True},
    "embeddings": {"tie_embeddings": True},
    "same_size": {},
    "tied_start": {},
}
VARIANT_LABELS = {
    "untied": "untied",
    "kv": "tied W_K, W_V",
    "embeddings": "tied embeddings",
    "same_size": "untied, smaller d_ff",
    "tied_start": "untied, tied start",
}
#: The same labels for figures, in matplotlib's mathtext (no raw underscores in legends).
PLOT_LABELS = {
    "untied": "untied",
    "kv": "tied $W_K$, $W_V$",
    "embeddings": "tied embeddings",
    "same_size": r"untied, smaller $d_\mathrm{ff}$",
    "tied_start": "untied, tied start",
}
#: Seeds of the stored grid: 12 pairs make the paired test's smallest p-value 2/2**12 (5 pairs: 0.0625).
DEFAULT_SEEDS = 12


@dataclass
class TyingExperiment:
    """Settings of the chapter 7 experiment: data, the chapter 4 model, training (CPU, a few seconds a run)."""

    length: int = 6  # n: source length; the target has n tokens + EOS
    n_symbols: int = 8  # source words; the dictionary task adds as many target words
    n_train: int = 5000  # training pairs (seed 0)
    n_test: int = 500  # held-out pairs (seed 1 on, sources unseen in training), the same for every run
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
        """(training pairs, held-out pairs) of ``task``: no held-out source is among the training sources."""
        train = tying_task(task, self.n_train, self.length, self.n_symbols, seed=0)
        test = held_out(train, lambda count, seed: tying_task(task, count, self.length, self.n_symbols, seed),
                        self.n_test, seed=1)
        return train, test

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

    @property
    def log_test_loss(self) -> float:
        """ln of the held-out loss: a difference of these is a ratio of losses, which spread over a factor of ten."""
        return math.log(self.test_loss)


#: What can be compared across seeds, and how each is read.
METRICS = {
    "test_loss": "held-out loss (nats/token)",
    "log_test_loss": "ln held-out loss",
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
    model = build_model(variant, seed, exp)
    history = train(model, train_pairs, TrainConfig(steps=exp.steps, batch_size=exp.batch_size, lr=exp.lr, seed=seed))
    curve = np.asarray(history.losses).reshape(-1, exp.block).mean(axis=1)  # (steps / block,)
    with torch.no_grad():
        test_loss = sequence_loss(model, to_batch(test_pairs)).item()
    return TyingRun(task, variant, seed, [float(c) for c in curve], test_loss, token_accuracy(model, test_pairs),
                    count_parameters(model))


def build_model(variant: str, seed: int, exp: TyingExperiment | None = None) -> EncoderDecoder:
    """The untrained model of ``variant``, initialised from ``seed`` (as :func:`run_variant` starts it)."""
    exp = exp or TyingExperiment()
    seed_everything(seed)
    model = EncoderDecoder(exp.model_config(variant))
    if variant == "tied_start":
        _start_as_tied(model)
    return model


def _start_as_tied(model: EncoderDecoder) -> None:
    """Give an untied model the tied-embedding model's start, but two matrices that train apart.

    Right after construction from the same seed this draws the same embedding the tied model draws
    (std d_model^-1/2, scaled by √d_model on the way in) and *copies* it into the output layer: the
    two models compute the same function at step 0 and differ only in the tie from then on.
    """
    d_model = model.cfg.d_model
    torch.nn.init.normal_(model.embed.weight, std=d_model ** -0.5)
    with torch.no_grad():
        model.out.weight.copy_(model.embed.weight)  # (N_voc, d_model): a copy, not a share
    model.embed_scale = math.sqrt(d_model)


def tying_grid(tasks: Sequence[str] = TASKS, variants: Sequence[str] = tuple(VARIANTS),
               seeds: Sequence[int] = range(DEFAULT_SEEDS), exp: TyingExperiment | None = None) -> list[TyingRun]:
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


def _rounded(run: TyingRun) -> dict:
    """A run as a JSON record, curves and losses rounded to 6 decimals."""
    record = asdict(run)
    record["curve"] = [round(c, 6) for c in run.curve]
    record["test_loss"], record["test_accuracy"] = round(run.test_loss, 6), round(run.test_accuracy, 6)
    return record


def save_results(runs: Sequence[TyingRun], exp: TyingExperiment, path: str | Path = RESULTS_PATH,
                 configurations: Sequence[ConfigurationRuns] = ()) -> Path:
    """Write the grid (and the runs repeated under other configurations) as JSON; return the path."""
    payload = {
        "about": "Learning curves of the chapter 7 experiment. Recreate: python -m crossattn.tooling.reproduce tying",
        "torch": torch.__version__,
        "settings": asdict(exp),
        "runs": [_rounded(r) for r in runs],
        "configurations": [{"name": c.name, "env": c.env, "threads": c.threads, "capability": c.capability,
                            "runs": [_rounded(r) for r in c.runs]} for c in configurations],
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


# -- the same runs under other configurations ---------------------------------------------------------

#: Environments that change how the CPU rounds: thread count and ATen's kernel path. "default" is
#: what a learner gets (every core, the best kernels the CPU has); the stored grid ran on one thread.
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "default": {},
    "one thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "one thread, portable kernels": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default"},
    "AVX2 kernels": {"ATEN_CPU_CAPABILITY": "avx2"},
}
#: Runs repeated under every configuration: these variants and seeds, on every task. They are the runs the
#: page and the lab re-run live, so the margin is measured on the kind of run it is applied to.
SPREAD_VARIANTS = ("untied", "kv")
SPREAD_SEEDS = (0, 1)
#: The margin of a live check is this many times the largest deviation measured across configurations.
MARGIN_FACTOR = 3.0


@dataclass
class ConfigurationRuns:
    """Runs repeated in a fresh process under one environment (``env`` added to the inherited one)."""

    name: str
    env: dict[str, str]
    threads: int  # torch.get_num_threads() in that process
    capability: str  # torch.backends.cpu.get_cpu_capability() in that process
    runs: list[TyingRun]


_CHILD = """
import json, sys
import torch
from crossattn.experiments import tying
keys, exp = json.loads(sys.argv[1]), tying.TyingExperiment(**json.loads(sys.argv[2]))
data = {task: exp.data(task) for task in {k[0] for k in keys}}
runs = [tying._rounded(tying.run_variant(t, v, s, exp, data[t])) for t, v, s in keys]
print(json.dumps({"threads": torch.get_num_threads(), "capability": torch.backends.cpu.get_cpu_capability(),
                  "runs": runs}))
"""


def run_in_configuration(name: str, keys: Sequence[tuple[str, str, int]],
                         exp: TyingExperiment | None = None) -> ConfigurationRuns:
    """Train the runs ``keys`` = [(task, variant, seed), ...] in a fresh Python under :data:`CONFIGURATIONS`[name].

    Thread counts and kernel paths are fixed when torch starts, so each configuration needs its own
    process; the variables of the other configurations are removed from the inherited environment.
    """
    if name not in CONFIGURATIONS:
        raise ValueError(f"name must be one of {tuple(CONFIGURATIONS)}, got {name!r}")
    for key in keys:
        if len(key) != 3 or key[0] not in TASKS or key[1] not in VARIANTS:
            raise ValueError(f"each key must be (task, variant, seed) with a task of {TASKS} and a variant of "
                             f"{tuple(VARIANTS)}, got {key!r}")
    exp = exp or TyingExperiment()
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATEN_CPU_CAPABILITY")}
    env.update(CONFIGURATIONS[name])
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([list(k) for k in keys]), json.dumps(asdict(exp))],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"configuration {name!r} failed:\n{done.stderr[-2000:]}")
    payload = json.loads(done.stdout)
    return ConfigurationRuns(name, CONFIGURATIONS[name], payload["threads"], payload["capability"],
                             [TyingRun(**r) for r in payload["runs"]])


def load_configurations(path: str | Path = RESULTS_PATH) -> list[ConfigurationRuns]:
    """The runs stored under other configurations by :func:`reproduce` (empty if the file has none)."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    return [ConfigurationRuns(c["name"], c["env"], c["threads"], c["capability"], [TyingRun(**r) for r in c["runs"]])
            for c in payload.get("configurations", [])]


def configuration_deviation(configurations: Sequence[ConfigurationRuns], runs: Sequence[TyingRun],
                            metric: str = "mean_train_loss") -> dict[str, float]:
    """For each configuration, the largest |metric of a repeated run − metric of the same stored run|."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    stored = {(r.task, r.variant, r.seed): getattr(r, metric) for r in runs}
    out = {}
    for c in configurations:
        missing = [(r.task, r.variant, r.seed) for r in c.runs if (r.task, r.variant, r.seed) not in stored]
        if missing or not c.runs:
            raise ValueError(f"configuration {c.name!r}: no stored run to compare for {missing or 'any run'}")
        out[c.name] = max(abs(getattr(r, metric) - stored[r.task, r.variant, r.seed]) for r in c.runs)
    return out


def portable_margin(configurations: Sequence[ConfigurationRuns], runs: Sequence[TyingRun],
                    metric: str = "mean_train_loss") -> float:
    """:data:`MARGIN_FACTOR` times the largest deviation of ``metric`` measured across the configurations."""
    if not configurations:
        raise ValueError("no runs under other configurations: recreate them with "
                         "`python -m crossattn.tooling.reproduce tying`")
    return MARGIN_FACTOR * max(configuration_deviation(configurations, runs, metric).values())


def agrees_with_stored(live: TyingRun, runs: Sequence[TyingRun], margin: float, metric: str = "mean_train_loss",
                       variant: str | None = None) -> bool:
    """Does ``live`` fall inside the stored seeds' range of ``metric``, widened by ``margin``?

    The range is that of the stored runs of ``live``'s task and of ``variant`` (by default
    ``live``'s own variant; pass another one for a control that must fail).
    """
    values = metric_values(runs, live.task, variant or live.variant, metric)
    return inside_band(float(getattr(live, metric)), values, margin)


def paired_differences(runs: Sequence[TyingRun], task: str, variant: str, baseline: str = "untied",
                       metric: str = "mean_train_loss") -> np.ndarray:
    """variant − baseline for each seed both were trained from (the same batch order): shape (seeds,)."""
    a = {r.seed: float(getattr(r, metric)) for r in select(runs, task, variant)}
    b = {r.seed: float(getattr(r, metric)) for r in select(runs, task, baseline)}
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    if set(a) != set(b):
        raise ValueError(f"{variant!r} and {baseline!r} on {task!r} were not trained from the same seeds")
    return np.array([a[seed] - b[seed] for seed in sorted(a)])


@dataclass(frozen=True)
class Comparison:
    """A variant against a baseline on one task and one metric, over paired seeds."""

    task: str
    metric: str
    variant: SeedSummary
    baseline: SeedSummary
    difference: float  # mean over seeds of (variant − baseline), the same as the difference of the means
    interval: tuple[float, float]  # 95 % confidence interval of that difference (inverted sign-flip test)
    p_value: float  # exact paired sign-flip test
    overlap: bool  # do the two seed ranges overlap?

    def __str__(self) -> str:
        verdict = "ranges overlap" if self.overlap else "ranges separate"

        def signed(x: float) -> str:
            return f"{x if abs(x) >= 5e-4 else 0.0:+.3f}"  # no "-0.000"
        low, high = self.interval
        p = f"p = {self.p_value:.3f}" if self.p_value >= 0.001 else "p < 0.001"
        return f"{signed(self.difference)}, 95% CI [{signed(low)}, {signed(high)}] ({verdict}, {p})"


def compare(runs: Sequence[TyingRun], task: str, variant: str, baseline: str = "untied",
            metric: str = "test_loss") -> Comparison:
    """``variant`` against ``baseline`` on ``task``: mean paired difference, its 95 % CI, paired p-value, ranges."""
    a, b = metric_values(runs, task, variant, metric), metric_values(runs, task, baseline, metric)
    d = paired_differences(runs, task, variant, baseline, metric)
    return Comparison(task, metric, summarise(a), summarise(b), float(d.mean()), sign_flip_interval(d),
                      sign_flip_p_value(d), ranges_overlap(a, b))


def shift_detected(runs: Sequence[TyingRun], task: str, variant: str, baseline: str = "untied",
                   metric: str = "mean_train_loss", power: float = 0.8) -> float:
    """The mean shift that this many paired seeds, with this spread, detect (p < 0.05) ``power`` of the time."""
    return shift_for_power(paired_differences(runs, task, variant, baseline, metric), power=power)


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


def reproduce(out: str | Path = RESULTS_PATH, seeds: int = DEFAULT_SEEDS) -> list[str]:
    """Train the whole grid from seeds 0..seeds−1, repeat a slice under every configuration, write both to ``out``.

    Run by ``python -m crossattn.tooling.reproduce tying`` (a few minutes on one CPU thread).
    Returns a summary, a line per cell and per configuration.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    exp = TyingExperiment()
    runs = tying_grid(seeds=range(seeds), exp=exp)
    path = save_results(runs, exp, out)  # the grid first: the configurations below are slow on a busy machine
    keys = [(task, variant, seed) for task in TASKS for variant in SPREAD_VARIANTS for seed in SPREAD_SEEDS
            if seed < seeds]
    configurations = []
    for name in CONFIGURATIONS:
        configurations.append(run_in_configuration(name, keys, exp))
        save_results(runs, exp, out, configurations)
    lines = [f"{task:>10} {VARIANT_LABELS[variant]:>22}: held-out loss "
             f"{summarise(metric_values(runs, task, variant, 'test_loss'))}"
             for task in TASKS for variant in VARIANTS]
    for c, (name, deviation) in zip(configurations, configuration_deviation(configurations, runs).items()):
        lines.append(f"{name:>30} ({c.threads} threads, {c.capability}): mean training loss within "
                     f"{deviation:.4f} of the stored runs")
    return lines + [f"wrote {len(runs)} runs and {len(configurations)} configurations to {path}"]
