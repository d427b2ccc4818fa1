"""Checkers for the exercises of lab 7, weight tying: what sharing saves, and what a share is.

Configurations use n_encoder_layers ≠ n_decoder_layers and d_model ≠ d_ff ≠ vocab_size, so that a
formula with the two depths swapped, or one factor mixed up with another, gives a different number.
Every named common mistake gets its own hint, by key from crossattn/checks/exercises/lab07.py;
tests/checks/test_lab07.py feeds each one in, written the way a student would write it.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..experiments.parameters import count_parameters, kv_tying_saving, predicted_parameters
from ..experiments.stats import permutation_p_value
from ..nn.layers import MultiheadAttention
from ..nn.model import ModelConfig
from ._core import CheckFailed, as_array, call, close, diagnose, fail, passed
from .registry import Exercise, exercise

__all__ = ["check_count_parameters", "check_kv_saving", "check_share_kv", "check_seed_band", "check_permutation_p"]


def _number(value: Any, ex: Exercise, what: str) -> float:
    arr = as_array(value, ex)
    if arr.size != 1:
        fail(ex, "not_scalar", what=what, shape=arr.shape)
    return float(arr.reshape(-1)[0].item())


def _count_result(value: Any, ex: Exercise, what: str) -> tuple[float, str | None]:
    """(the number, None) for an integer answer; (the number, its type's name) for a float; a hint otherwise."""
    if isinstance(value, (bool, np.bool_)):
        fail(ex, "bool", what=what, value=value)
    if isinstance(value, (int, np.integer)):
        return float(value), None
    arr = as_array(value, ex)
    if arr.size != 1:
        fail(ex, "not_scalar", what=what, shape=arr.shape)
    x = float(arr.reshape(-1)[0].item())
    return x, (None if np.issubdtype(arr.dtype, np.integer) else type(value).__name__)


def _require_integers(types: list[str | None], ex: Exercise, what: str) -> None:
    """Fail when a right answer came back as a float: a count is a whole number, asked for as an int."""
    floats = [t for t in types if t is not None]
    if floats:
        fail(ex, "float", what=what, type=floats[0])


def _wrong(got: list[float]) -> tuple[str, dict[str, float]]:
    """The fallback key for a wrong count, and its field: "wrong_not_whole" when an answer is not even whole."""
    odd = next((g for g in got if not g.is_integer()), None)
    return ("wrong", {}) if odd is None else ("wrong_not_whole", {"odd": odd})


# ---------------------------------------------------------------------------------- 7.1 counting


def _count(V: int, d: int, d_ff: int, Le: int, Ld: int, *, attn_bias: bool = False, norms: bool = True,
           final_norms: bool = True, cross: bool = True, ff_bias: bool = True, embeddings: int = 1,
           output: bool = True, swap: bool = False, ln_gain_only: bool = False, decoder_norms: int = 3,
           position_tables: int = 0) -> int:
    """The count of the chapter 4 model, or of a known wrong version of it (each flag one mistake)."""
    if swap:
        Le, Ld = Ld, Le
    attn = 4 * d * d + (4 * d if attn_bias else 0)
    ff = 2 * d * d_ff + ((d_ff + d) if ff_bias else 0)
    ln = (d if ln_gain_only else 2 * d) if norms else 0
    encoder = attn + ff + 2 * ln
    decoder = (2 if cross else 1) * attn + ff + decoder_norms * ln
    return (embeddings * V * d + (V * d if output else 0) + Le * encoder + Ld * decoder
            + (2 * ln if final_norms else 0) + position_tables * ModelConfig().max_len * d)


_COUNT_CONFIGS = ((11, 6, 10, 2, 3), (19, 8, 12, 3, 1), (32, 32, 64, 2, 2))


def check_count_parameters(count_parameters_fn: Callable) -> None:
    """Exercise 7.1: ``count_parameters(vocab_size, d_model, d_ff, n_encoder_layers, n_decoder_layers) -> int``."""
    ex = exercise("7.1")
    got, want, types = [], [], []
    for V, d, d_ff, Le, Ld in _COUNT_CONFIGS:
        cfg = ModelConfig(vocab_size=V, d_model=d, h=2, d_ff=d_ff, n_encoder_layers=Le, n_decoder_layers=Ld)
        want.append(predicted_parameters(cfg))
        value, kind = _count_result(call(count_parameters_fn, V, d, d_ff, Le, Ld, exercise=ex), ex, "the count")
        got.append(value)
        types.append(kind)
    if not close(got, want, tol=0.0):
        def wrong(**mistake: Any) -> list[int]:  # the answers of one known mistake on every configuration
            return [_count(*config, **mistake) for config in _COUNT_CONFIGS]
        i = next(k for k in range(len(want)) if got[k] != want[k])
        V, d, d_ff, Le, Ld = _COUNT_CONFIGS[i]
        fallback, odd = _wrong(got)
        diagnose(np.asarray(got), [
            (wrong(attn_bias=True), "attn_bias"),
            (wrong(cross=False), "no_cross"),
            (wrong(norms=False, final_norms=False), "no_norms"),
            (wrong(final_norms=False), "no_final_norms"),
            (wrong(ln_gain_only=True), "gain_only"),
            (wrong(decoder_norms=2), "two_decoder_norms"),
            (wrong(ff_bias=False), "ff_no_bias"),
            (wrong(embeddings=2), "two_embeddings"),
            (wrong(output=False), "no_output"),
            *((wrong(position_tables=tables), "position_table") for tables in (1, 2)),
            (wrong(swap=True), "swapped_depths"),
        ], ex, fallback, V=V, d=d, d_ff=d_ff, Le=Le, Ld=Ld, want=want[i], got=got[i], **odd)
    _require_integers(types, ex, "the count")
    V, d, d_ff, Le, Ld = _COUNT_CONFIGS[-1]
    passed(ex, f"{want[-1]} parameters for vocab_size={V}, d_model={d}, d_ff={d_ff}, {Le} + {Ld} layers (the "
               "package's default model), as model.parameters() counts them.")


# ---------------------------------------------------------------------------------- 7.2 the saving


# Even d_model throughout, so that a solution which builds two models (ModelConfig needs an even d_model for
# the sinusoidal table) can be checked too; (12, 3, 3) has equal depths, where skipping one depth (an
# off-by-one) is not the same as counting only half of the matrices.
_SAVING_CONFIGS = ((6, 1, 3), (10, 4, 2), (8, 2, 2), (12, 3, 3))


def _off_by_one_saving(d: int, Le: int, Ld: int) -> int:
    """The depth loop that tests l < L instead of l <= L, so it skips each stack's last layer."""
    saved = 0
    for depth in range(1, max(Le, Ld) + 1):
        attentions = (depth < Le) + 2 * (depth < Ld)
        saved += 2 * d * d * max(0, attentions - 1)
    return saved


def check_kv_saving(kv_saving: Callable) -> None:
    """Exercise 7.2: ``kv_saving(d_model, n_encoder_layers, n_decoder_layers) -> int``, what tie_kv removes."""
    ex = exercise("7.2")
    want = [kv_tying_saving(*config) for config in _SAVING_CONFIGS]
    got, types = map(list, zip(*(_count_result(call(kv_saving, *config, exercise=ex), ex, "the saving")
                                 for config in _SAVING_CONFIGS)))
    if not close(got, want, tol=0.0):
        def wrong(rule: Callable[[int, int, int, int], int]) -> list[int]:
            """A wrong rule's answers; rule(d, both, decoder_only, encoder_only)."""
            return [rule(d, min(Le, Ld), max(0, Ld - Le), max(0, Le - Ld)) for d, Le, Ld in _SAVING_CONFIGS]
        i = next(k for k in range(len(want)) if got[k] != want[k])
        d, Le, Ld = _SAVING_CONFIGS[i]
        both, dec_only, enc_only = min(Le, Ld), max(0, Ld - Le), max(0, Le - Ld)
        fallback, odd = _wrong(got)
        diagnose(np.asarray(got), [
            (wrong(lambda d, b, do, eo: 4 * d * d * (b + do)), "decoder_only_full"),
            (wrong(lambda d, b, do, eo: 4 * d * d * (b + eo)), "encoder_only_full"),
            (wrong(lambda d, b, do, eo: 4 * d * d * (b + do + eo)), "per_depth"),
            (wrong(lambda d, b, do, eo: 4 * d * d * b), "only_full"),
            (wrong(lambda d, b, do, eo: 4 * d * d * (b + eo) + 2 * d * d * do), "encoder_depths_counted"),
            (wrong(lambda d, b, do, eo: 6 * d * d * b + 2 * d * d * do), "all_three"),
            ([_off_by_one_saving(*config) for config in _SAVING_CONFIGS], "off_by_one"),
            (wrong(lambda d, b, do, eo: 2 * d * d * b + d * d * do), "keys_only"),
            (wrong(lambda d, b, do, eo: 4 * d * b + 2 * d * do), "linear_in_d"),
        ], ex, fallback, d=d, Le=Le, Ld=Ld, want=want[i], both=both, dec_only=dec_only, enc_only=enc_only, **odd)
    _require_integers(types, ex, "the saving")
    passed(ex, "4·d_model² per full depth, 2·d_model² per decoder-only depth, 0 per encoder-only depth.")


# ---------------------------------------------------------------------------------- 7.3 a share, not a copy


def _three(d_model: int, h: int) -> tuple[MultiheadAttention, MultiheadAttention, MultiheadAttention]:
    g = torch.Generator().manual_seed(73)
    mods = tuple(MultiheadAttention(d_model, h) for _ in range(3))
    with torch.no_grad():
        for mod in mods:
            for lin in (mod.w_q, mod.w_k, mod.w_v, mod.w_o):
                lin.weight.copy_(torch.randn(d_model, d_model, generator=g) / math.sqrt(d_model))
    return mods  # type: ignore[return-value]


def _shared(a: torch.nn.Linear, b: torch.nn.Linear) -> bool:
    """One weight Parameter: the same module, or two modules holding the same Parameter."""
    return a.weight is b.weight


def check_share_kv(share_kv: Callable) -> None:
    """Exercise 7.3: ``share_kv(enc_self, dec_self, cross)``: all three use enc_self's W_K and W_V, in place."""
    ex = exercise("7.3")
    d_model, h = 12, 3
    enc, dec, cross = _three(d_model, h)
    originals = {f"{name}.{w}": getattr(mod, f"w_{w}")
                 for name, mod in (("enc", enc), ("dec", dec), ("cross", cross)) for w in "qkvo"}
    values = {key: lin.weight.detach().clone() for key, lin in originals.items()}
    call(share_kv, enc, dec, cross, exercise=ex, inputs="on three MultiheadAttention modules")

    for w, label in (("k", "W_K"), ("v", "W_V")):
        mine = getattr(enc, f"w_{w}")
        if mine.weight is not originals[f"enc.{w}"].weight or not torch.equal(mine.weight.detach(), values[f"enc.{w}"]):
            fail(ex, "encoder_changed", label=label, w=w)
    decoder_side = (("dec_self", "dec", dec), ("cross", "cross", cross))
    for who, _, mod in decoder_side:
        if _shared(mod.w_k, enc.w_v) or _shared(mod.w_v, enc.w_k):
            fail(ex, "mixed_up", who=who)
    unshared = set()
    for who, key, mod in decoder_side:
        for w in "kv":
            theirs, mine = getattr(mod, f"w_{w}"), getattr(enc, f"w_{w}")
            if _shared(theirs, mine):
                continue
            unshared.add((who, w))
            if theirs.weight.data_ptr() == mine.weight.data_ptr():
                fail(ex, "alias", who=who, w=w)
            if torch.equal(theirs.weight.detach(), mine.weight.detach()):
                fail(ex, "copy_new_module" if theirs is not originals[f"{key}.{w}"] else "copy_values", who=who, w=w)
    patterns = {
        frozenset({("dec_self", "v"), ("cross", "v")}): "keys_only",
        frozenset({("dec_self", "k"), ("cross", "k")}): "values_only",
        frozenset({("cross", "k"), ("cross", "v")}): "no_cross",
        frozenset({("dec_self", "k"), ("dec_self", "v")}): "no_decoder_self",
    }
    if unshared:
        fail(ex, patterns.get(frozenset(unshared), "not_all_three"), unshared=sorted(unshared))
    for who, _, mod in decoder_side:
        for w, label in (("q", "W_Q"), ("o", "W_O")):
            if any(_shared(getattr(mod, f"w_{w}"), getattr(other, f"w_{w}")) for other in (enc, dec, cross)
                   if other is not mod):
                fail(ex, "queries_too", label=label)
    all_three = torch.nn.ModuleList([enc, dec, cross])
    held = count_parameters(all_three)
    if held != 8 * d_model * d_model:
        fail(ex, "extra_parameters", want=8 * d_model * d_model, held=held)
    passed(ex, f"one W_K and one W_V serve three attentions: {held} parameters instead of {12 * d_model * d_model}.")


# ---------------------------------------------------------------------------------- 7.4 the band over seeds


def check_seed_band(seed_band: Callable) -> None:
    """Exercise 7.4: ``seed_band(curves (seeds, points)) -> (mean, low, high)``, each of shape (points,)."""
    ex = exercise("7.4")
    rng = np.random.default_rng(74)
    seeds, points = 5, 7
    curves = np.exp(-np.linspace(0, 3, points))[None, :] + rng.uniform(0, 0.4, size=(seeds, points))  # (5, 7)
    out = call(seed_band, curves, exercise=ex)
    if out is None:
        fail(ex, "returned_none")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail(ex, "not_three", type=type(out).__name__,
             count=f" of {len(out)} items" if isinstance(out, (tuple, list)) else "")
    for part, which in zip(out, ("mean", "low", "high")):
        if isinstance(part, tuple) and hasattr(part, "indices"):  # torch's min(dim=...): (values, indices)
            fail(ex, "torch_values", which=which)
    mean, low, high = (as_array(part, ex, f"the {which}") for part, which in zip(out, ("mean", "low", "high")))
    for arr, which in ((mean, "mean"), (low, "low"), (high, "high")):
        if arr.shape == (seeds,):
            fail(ex, "per_seed", which=which, seeds=seeds, points=points)
        if arr.shape != (points,):
            fail(ex, "wrong_shape", points=points, which=which, shape=arr.shape)
    want = (curves.mean(0), curves.min(0), curves.max(0))
    if not close(mean, want[0]):
        diagnose(mean, [(np.median(curves, axis=0), "median")], ex, "wrong_mean")
    if close(low, want[2]) and close(high, want[1]):
        fail(ex, "swapped")
    std, n = curves.std(0), seeds
    for got, which, right in ((low, "low", want[1]), (high, "high", want[2])):
        if close(got, right):
            continue
        sign = -1 if which == "low" else 1
        diagnose(got, [
            (want[0] + sign * std, "mean_std"),
            (want[0] + sign * curves.std(0, ddof=1), "mean_sample_std"),
            (want[0] + sign * std / math.sqrt(n), "standard_error"),
            (np.full(points, right.min() if which == "low" else right.max()), "global_extremes"),
        ], ex, "wrong_band", which=which, extreme="smallest" if which == "low" else "largest",
            reduce="min" if which == "low" else "max")
    passed(ex, f"mean and range over {seeds} seeds at each of {points} points; every seed inside the band.")


# ---------------------------------------------------------------------------------- 7.5 the permutation test


def _ranks(x: np.ndarray, average_ties: bool) -> np.ndarray:
    """Ranks 1..len(x): ties broken by position (argsort), or given their average rank (like scipy's rankdata)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(1, x.size + 1)
    if average_ties:
        for value in np.unique(x):
            ranks[x == value] = ranks[x == value].mean()
    return ranks


def _p_variant(a: np.ndarray, b: np.ndarray, *, signed: bool = False, strict: bool = False, sums: bool = False,
               count_only: bool = False, ranks: str | None = None, other: str = "position") -> float:
    """The p-value of a known wrong version; ``other`` builds the second group by "position" (right), or by value:
    "unique" (np.setdiff1d of the numbers) or "not_in" (every number not among the first group's numbers)."""
    pooled = np.concatenate([a, b])
    if ranks is not None:  # the test run on the ranks of the numbers instead of the numbers
        pooled = _ranks(pooled, average_ties=ranks == "average")
        a, b = pooled[:a.size], pooled[a.size:]

    def stat(x: np.ndarray, y: np.ndarray) -> float:
        diff = (x.sum() - y.sum()) if sums else (x.mean() - y.mean())
        return diff if signed else abs(diff)

    observed = stat(a, b)
    hits = total = 0
    for group in itertools.combinations(range(pooled.size), a.size):
        mask = np.zeros(pooled.size, dtype=bool)
        mask[list(group)] = True
        rest = {"position": lambda: pooled[~mask], "unique": lambda: np.setdiff1d(pooled, pooled[mask]),
                "not_in": lambda: np.array([v for v in pooled if v not in pooled[mask]])}[other]()
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # by value, the other group can be empty
            warnings.simplefilter("ignore")
            s = stat(pooled[mask], rest)
        hits += (s > observed) if strict else (s >= observed)
        total += 1
    return float(hits) if count_only else hits / total


def _looks_sampled(got: float, want: float, splits: int) -> bool:
    """An estimate from random shuffles: near the exact p, but not a whole number of splits out of all of them."""
    return abs(got - want) < 0.1 and abs(got * splits - round(got * splits)) > 1e-6


def _call_p(permutation_p: Callable, x: np.ndarray, y: np.ndarray, ex: Exercise) -> float:
    """The student's p-value; a crash from indexing with the combination's tuple gets its own hint."""
    try:
        out = call(permutation_p, x, y, exercise=ex)
    except CheckFailed as err:
        if err.key == "crash" and "too many indices" in err.text:
            fail(ex, "tuple_index", lead=f"{err.text}\n  Hint: ")
        raise
    return _number(out, ex, "a p-value")


def check_permutation_p(permutation_p: Callable) -> None:
    """Exercise 7.5: ``permutation_p(a, b) -> float``, the exact two-sided permutation p-value of mean(a) − mean(b)."""
    ex = exercise("7.5")
    # Multiples of 1/16 in groups of 4 and 8: every mean and difference is exact in binary floating point.
    a = np.array([3, 5, 4, 7]) / 16  # (4,)
    b = np.array([6, 9, 7, 10, 8, 5, 11, 9]) / 16  # (8,)
    # An outlier: the first sample's mean is above the second's only because of one large number, so the
    # numbers and their ranks give very different p-values (about 0.92 against 0.05); on the evenly spaced
    # samples above they agree. It comes first, so that a test on ranks is named as such.
    outlier = np.array([1, 2, 3, 4, 40, 5, 6, 0]) / 16, np.array([8, 9, 10, 11]) / 16  # (8,), (4,)
    cases = (outlier, (a, b), (b[:4], a), (a, a.copy()))  # outlier; a below b; one-sided the other way; identical
    for x, y in cases:
        want = permutation_p_value(x, y)
        got = _call_p(permutation_p, x, y, ex)
        again = _call_p(permutation_p, x, y, ex)
        if not close(got, again, tol=1e-12):
            fail(ex, "not_deterministic", got=got, again=again)
        if close(got, want, tol=1e-9):
            continue
        splits = math.comb(x.size + y.size, x.size)
        diagnose(np.asarray(got), [
            (_p_variant(x, y, signed=True), "one_sided"),
            (_p_variant(x, y, strict=True), "strict"),
            (_p_variant(x, y, sums=True), "sums"),
            *((_p_variant(x, y, other=other), "by_value") for other in ("unique", "not_in")),
            (_p_variant(x, y, count_only=True), "count", {"pooled": x.size + y.size, "size_a": x.size}),
            *((on_ranks, "ranks", {"on_ranks": on_ranks})
              for on_ranks in (_p_variant(x, y, ranks="average"), _p_variant(x, y, ranks="ordinal"))),
        ], ex, "sampled" if _looks_sampled(got, want, splits) else "wrong", want=want, splits=splits, got=got)
    passed(ex, f"exact over all {math.comb(a.size + b.size, a.size)} splits: p = {permutation_p_value(a, b):.4f} "
               "for evenly spaced samples, and the outlier counted by its value.")
