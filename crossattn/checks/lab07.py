"""Checkers for the exercises of lab 7, weight tying: what sharing saves, and what a share is.

Configurations use n_encoder_layers ≠ n_decoder_layers and d_model ≠ d_ff ≠ vocab_size, so that a
formula with the two depths swapped, or one factor mixed up with another, gives a different number.
Every named common mistake gets its own hint; tests/checks/test_lab07.py feeds each one in, written
the way a student would write it.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..experiments.parameters import count_parameters, kv_tying_saving, predicted_parameters
from ..experiments.stats import permutation_p_value
from ..nn.layers import MultiheadAttention
from ..nn.model import ModelConfig
from ._core import CheckFailed, as_array, call, close, diagnose, passed

__all__ = ["check_count_parameters", "check_kv_saving", "check_share_kv", "check_seed_band", "check_permutation_p"]


def _number(value: Any, ex: str, what: str) -> float:
    arr = as_array(value, ex)
    if arr.size != 1:
        raise CheckFailed(f"{ex}: return one number ({what}), got an array of shape {arr.shape}.")
    return float(arr.reshape(-1)[0].item())


def _count_result(value: Any, ex: str, what: str) -> tuple[float, str | None]:
    """(the number, None) for an integer answer; (the number, its type's name) for a float; a hint otherwise."""
    if isinstance(value, (bool, np.bool_)):
        raise CheckFailed(f"{ex}: return {what} as an integer, got the bool {value!r}.")
    if isinstance(value, (int, np.integer)):
        return float(value), None
    arr = as_array(value, ex)
    if arr.size != 1:
        raise CheckFailed(f"{ex}: return one number ({what}), got an array of shape {arr.shape}.")
    x = float(arr.reshape(-1)[0].item())
    return x, (None if np.issubdtype(arr.dtype, np.integer) else type(value).__name__)


def _require_integers(got: list[float], types: list[str | None], ex: str, what: str) -> None:
    """Fail when a right answer came back as a float: a count is a whole number, asked for as an int."""
    floats = [t for t in types if t is not None]
    if floats:
        raise CheckFailed(f"{ex}: the values are right, but return {what} as an integer (int), not {floats[0]}. "
                          "Keep the arithmetic in integers: d_model * d_model or d_model ** 2, and // rather than "
                          "/ (math.pow and / always give floats).")


def _not_whole(got: list[float]) -> str:
    """A sentence for a wrong answer that is not even a whole number, else nothing."""
    odd = next((g for g in got if not g.is_integer()), None)
    return "" if odd is None else (f" You returned {odd:g}, not even a whole number: a count of parameters is an "
                                   "integer, so look for a division.")


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
    ex = "Exercise 7.1 (count_parameters)"
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
        diagnose(np.asarray(got), [
            (wrong(attn_bias=True), "the package's W_Q, W_K, W_V and W_O have no bias (nn.Linear(..., bias=False)): "
                                    "an attention holds exactly 4·d_model² numbers."),
            (wrong(cross=False), "each decoder layer has TWO attentions: causal self-attention and cross-attention, "
                                 "4·d_model² each."),
            (wrong(norms=False, final_norms=False), "you left out the LayerNorms: each has a gain and a bias, "
                                                    "2·d_model numbers — two in each encoder layer, three in each "
                                                    "decoder layer, and one after each stack."),
            (wrong(final_norms=False), "almost: you forgot the two final LayerNorms, one after the encoder stack and "
                                       "one after the decoder stack (2·d_model each)."),
            (wrong(ln_gain_only=True), "a LayerNorm has a gain AND a bias: 2·d_model numbers, not d_model."),
            (wrong(decoder_norms=2), "a decoder layer has three sub-layers (self-attention, cross-attention, "
                                     "feed-forward), each with its own LayerNorm: three per decoder layer."),
            (wrong(ff_bias=False), "the feed-forward layers have biases: d_model→d_ff→d_model holds "
                                   "2·d_model·d_ff + d_ff + d_model numbers."),
            (wrong(embeddings=2), "source and target share ONE vocabulary, so one N_voc×d_model embedding serves "
                                  "both the encoder and the decoder."),
            (wrong(output=False), "you forgot the output projection: d_model → N_voc scores, an N_voc×d_model "
                                  "matrix without bias (untied here)."),
            *((wrong(position_tables=tables), "positions add no parameters: the sinusoidal table of chapter 6 "
                                              "(max_len×d_model) is computed, and the model keeps it as a buffer, "
                                              "not a parameter (model.buffers() lists it, model.parameters() does "
                                              "not).") for tables in (1, 2)),
            (wrong(swap=True), "you swapped the depths: n_encoder_layers encoder layers (one attention each) and "
                               "n_decoder_layers decoder layers (two attentions each)."),
        ], ex, f"for vocab_size={V}, d_model={d}, d_ff={d_ff}, {Le} encoder and {Ld} decoder layers the model holds "
               f"{want[i]} parameters (count them with sum(p.numel() for p in model.parameters())), you returned "
               f"{got[i]:g}. List the parts: embedding, output projection, per encoder layer (1 attention, "
               "feed-forward, 2 LayerNorms), per decoder layer (2 attentions, feed-forward, 3 LayerNorms), 2 final "
               "LayerNorms." + _not_whole(got))
    _require_integers(got, types, ex, "the count")
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
    ex = "Exercise 7.2 (kv_saving)"
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
        diagnose(np.asarray(got), [
            (wrong(lambda d, b, do, eo: 4 * d * d * (b + do)),
             "a depth with a decoder layer but no encoder layer has only two attentions (decoder self and cross): "
             "sharing keeps one W_K and one W_V of two, saving 2·d_model², not 4·d_model²."),
            (wrong(lambda d, b, do, eo: 4 * d * d * (b + eo)),
             "a depth with an encoder layer but no decoder layer has a single attention: there is nothing to share "
             "there, it saves 0."),
            (wrong(lambda d, b, do, eo: 4 * d * d * (b + do + eo)),
             "count depth by depth: 4·d_model² where both stacks have a layer, 2·d_model² where only the decoder "
             "does, 0 where only the encoder does."),
            (wrong(lambda d, b, do, eo: 4 * d * d * b),
             "you left out the depths where only the decoder has a layer: its self- and cross-attention still share "
             "one W_K and one W_V, saving 2·d_model² each."),
            (wrong(lambda d, b, do, eo: 4 * d * d * (b + eo) + 2 * d * d * do),
             "at a depth where only the ENCODER has a layer there is one attention and nothing to share (0); it is "
             "where only the DECODER has a layer that two attentions share (2·d_model²)."),
            (wrong(lambda d, b, do, eo: 6 * d * d * b + 2 * d * d * do),
             "after tying one W_K and one W_V remain at each depth: three attentions keep 2 of 6 matrices and save "
             "4·d_model², not 6·d_model²."),
            ([_off_by_one_saving(*config) for config in _SAVING_CONFIGS],
             "you skipped a depth: count every depth 1 … max(L_enc, L_dec), the last included — depth l has an "
             "encoder layer when l <= L_enc and a decoder layer when l <= L_dec (<=, not <)."),
            (wrong(lambda d, b, do, eo: 2 * d * d * b + d * d * do),
             "both W_K AND W_V are shared: count both matrices that each removed copy held (2·d_model² per copy)."),
            (wrong(lambda d, b, do, eo: 4 * d * b + 2 * d * do),
             "each of W_K and W_V is d_model × d_model: the saving grows with d_model², not d_model."),
        ], ex, f"with d_model={d}, {Le} encoder and {Ld} decoder layers tying saves {want[i]}: 4·d_model² at each of "
               f"the {both} depths with both layers, 2·d_model² at each of the {dec_only} decoder-only depths, 0 at "
               f"each of the {enc_only} encoder-only depths." + _not_whole(got))
    _require_integers(got, types, ex, "the saving")
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
    ex = "Exercise 7.3 (share_kv)"
    d_model, h = 12, 3
    enc, dec, cross = _three(d_model, h)
    originals = {f"{name}.{w}": getattr(mod, f"w_{w}")
                 for name, mod in (("enc", enc), ("dec", dec), ("cross", cross)) for w in "qkvo"}
    values = {key: lin.weight.detach().clone() for key, lin in originals.items()}
    if not callable(share_kv):
        raise CheckFailed(f"{ex}: pass your function itself (without calling it), got {type(share_kv).__name__}")
    name = getattr(share_kv, "__name__", "your function")
    try:
        share_kv(enc, dec, cross)
    except NotImplementedError:
        raise CheckFailed(f"{ex}: `{name}` still raises NotImplementedError — replace the `raise` line with your "
                          "code.") from None
    except Exception as err:  # noqa: BLE001 - any crash of student code becomes a hint
        raise CheckFailed(f"{ex}: calling `{name}` on three MultiheadAttention modules raised "
                          f"{type(err).__name__}: {err}") from None

    for w, label in (("k", "W_K"), ("v", "W_V")):
        mine = getattr(enc, f"w_{w}")
        if mine.weight is not originals[f"enc.{w}"].weight or not torch.equal(mine.weight.detach(), values[f"enc.{w}"]):
            raise CheckFailed(f"{ex}: the encoder's {label} changed. Keep enc_self's projections as they are (they may "
                              "be trained already) and make the decoder's two attentions use THEM: "
                              f"dec_self.w_{w} = enc_self.w_{w}, not the other way round.")
    decoder_side = (("dec_self", "dec", dec), ("cross", "cross", cross))
    for who, _, mod in decoder_side:
        if _shared(mod.w_k, enc.w_v) or _shared(mod.w_v, enc.w_k):
            raise CheckFailed(f"{ex}: {who} got W_K and W_V mixed up: its w_k must be enc_self.w_k and its w_v "
                              "enc_self.w_v.")
    unshared = set()
    for who, key, mod in decoder_side:
        for w in "kv":
            theirs, mine = getattr(mod, f"w_{w}"), getattr(enc, f"w_{w}")
            if _shared(theirs, mine):
                continue
            unshared.add((who, w))
            if theirs.weight.data_ptr() == mine.weight.data_ptr():
                raise CheckFailed(
                    f"{ex}: {who}.w_{w} reads the same memory as enc_self.w_{w} but is a different Parameter "
                    "(.data = …, or nn.Parameter(other.weight), makes an alias, not a share): model.parameters() lists it twice, its gradient "
                    "lands in its own .grad, and the optimiser keeps two states and updates one tensor twice. "
                    f"Share the module itself: {who}.w_{w} = enc_self.w_{w}.")
            if torch.equal(theirs.weight.detach(), mine.weight.detach()):
                how = ("copy.deepcopy (or any new module) makes a new tensor" if theirs is not originals[f"{key}.{w}"]
                       else "load_state_dict, copy_ and .data = w.clone() write the values into its own tensor")
                raise CheckFailed(
                    f"{ex}: {who}.w_{w} holds a COPY of enc_self.w_{w}: equal values today, but {how}, so the two "
                    "are trained apart and drift after the first step, and nothing is saved. A share is one object: "
                    f"{who}.w_{w} = enc_self.w_{w}.")
    patterns = {
        frozenset({("dec_self", "v"), ("cross", "v")}): "you shared W_K but not W_V: the values are tied too, "
                                                        "dec_self.w_v = cross.w_v = enc_self.w_v.",
        frozenset({("dec_self", "k"), ("cross", "k")}): "you shared W_V but not W_K: the keys are tied too, "
                                                        "dec_self.w_k = cross.w_k = enc_self.w_k.",
        frozenset({("cross", "k"), ("cross", "v")}): "the cross-attention still has its own W_K and W_V: it is one "
                                                     "of the three attentions that share them.",
        frozenset({("dec_self", "k"), ("dec_self", "v")}): "the decoder's self-attention still has its own W_K and "
                                                           "W_V: it is one of the three attentions that share them.",
    }
    if unshared:
        raise CheckFailed(f"{ex}: " + patterns.get(frozenset(unshared), (
            "all THREE attentions must use enc_self's W_K and W_V (the same objects): set w_k and w_v of both "
            f"dec_self and cross; these are not shared yet: {sorted(unshared)}.")))
    for who, _, mod in decoder_side:
        for w, label in (("q", "W_Q"), ("o", "W_O")):
            if any(_shared(getattr(mod, f"w_{w}"), getattr(other, f"w_{w}")) for other in (enc, dec, cross)
                   if other is not mod):
                raise CheckFailed(f"{ex}: you shared {label} too. Only W_K and W_V are tied; each attention keeps "
                                  "its own W_Q (what it asks) and W_O (how it writes its answer back).")
    all_three = torch.nn.ModuleList([enc, dec, cross])
    held = count_parameters(all_three)
    if held != 8 * d_model * d_model:
        raise CheckFailed(f"{ex}: the three attentions should hold 8·d_model² = {8 * d_model * d_model} parameters "
                          f"once tied, they hold {held}.")
    passed(ex, f"one W_K and one W_V serve three attentions: {held} parameters instead of {12 * d_model * d_model}.")


# ---------------------------------------------------------------------------------- 7.4 the band over seeds


def check_seed_band(seed_band: Callable) -> None:
    """Exercise 7.4: ``seed_band(curves (seeds, points)) -> (mean, low, high)``, each of shape (points,)."""
    ex = "Exercise 7.4 (seed_band)"
    rng = np.random.default_rng(74)
    seeds, points = 5, 7
    curves = np.exp(-np.linspace(0, 3, points))[None, :] + rng.uniform(0, 0.4, size=(seeds, points))  # (5, 7)
    out = call(seed_band, curves, exercise=ex)
    if out is None:
        raise CheckFailed(f"{ex}: your function returned None — did you forget the `return` statement?")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise CheckFailed(f"{ex}: return three arrays, (mean, low, high); got {type(out).__name__}"
                          + (f" of {len(out)} items" if isinstance(out, (tuple, list)) else ""))
    mean, low, high = (as_array(part, ex, f"the {which}") for part, which in zip(out, ("mean", "low", "high")))
    for arr, which in ((mean, "mean"), (low, "low"), (high, "high")):
        if arr.shape == (seeds,):
            raise CheckFailed(f"{ex}: your {which} has one number per SEED, shape ({seeds},): summarise over the seeds "
                              f"(axis 0), one number per point of the curve, shape ({points},).")
        if arr.shape != (points,):
            raise CheckFailed(f"{ex}: each of mean, low, high must have shape ({points},), one number per point; "
                              f"your {which} has shape {arr.shape}.")
    want = (curves.mean(0), curves.min(0), curves.max(0))
    if not close(mean, want[0]):
        diagnose(mean, [(np.median(curves, axis=0), "that is the median; the band's centre line is the mean over "
                                                   "seeds (np.mean(curves, axis=0)).")],
                 ex, "the first array must be the mean over seeds, curves.mean(axis=0).")
    if close(low, want[2]) and close(high, want[1]):
        raise CheckFailed(f"{ex}: low and high are swapped: low is the smallest seed's value (min), high the largest.")
    std, n = curves.std(0), seeds
    for got, which, right in ((low, "low", want[1]), (high, "high", want[2])):
        if close(got, right):
            continue
        sign = -1 if which == "low" else 1
        diagnose(got, [
            (want[0] + sign * std, "mean ± standard deviation is not the range. The band runs from the LOWEST seed "
                                   "to the HIGHEST at each point (min and max over axis 0): every seed lies inside it."),
            (want[0] + sign * curves.std(0, ddof=1), "mean ± standard deviation (ddof=1) is not the range: use the "
                                                     "min and max over the seeds, so every seed lies inside the band."),
            (want[0] + sign * std / math.sqrt(n), "mean ± standard error says how well the mean is known, not how "
                                                  "far seeds spread: use the min and max over the seeds."),
            (np.full(points, right.min() if which == "low" else right.max()),
             "take the min and max at EACH point (axis 0), not one number over the whole array."),
        ], ex, f"{which} must be the {'smallest' if which == 'low' else 'largest'} seed's value at each point: "
               f"curves.{'min' if which == 'low' else 'max'}(axis=0).")
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
               count_only: bool = False, ranks: str | None = None) -> float:
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
        s = stat(pooled[mask], pooled[~mask])
        hits += (s > observed) if strict else (s >= observed)
        total += 1
    return float(hits) if count_only else hits / total


def _looks_sampled(got: float, want: float, splits: int) -> bool:
    """An estimate from random shuffles: near the exact p, but not a whole number of splits out of all of them."""
    return abs(got - want) < 0.1 and abs(got * splits - round(got * splits)) > 1e-6


def check_permutation_p(permutation_p: Callable) -> None:
    """Exercise 7.5: ``permutation_p(a, b) -> float``, the exact two-sided permutation p-value of mean(a) − mean(b)."""
    ex = "Exercise 7.5 (permutation_p)"
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
        got = _number(call(permutation_p, x, y, exercise=ex), ex, "a p-value")
        again = _number(call(permutation_p, x, y, exercise=ex), ex, "a p-value")
        if not close(got, again, tol=1e-12):
            raise CheckFailed(f"{ex}: your answer changed between two calls ({got:.4f}, then {again:.4f}): random "
                              "shuffles give an estimate (and even seeded, a sample of shuffles only estimates p). "
                              "Enumerate every split exactly with "
                              "itertools.combinations(range(len(a) + len(b)), len(a)).")
        if close(got, want, tol=1e-9):
            continue
        splits = math.comb(x.size + y.size, x.size)
        diagnose(np.asarray(got), [
            (_p_variant(x, y, signed=True), "that is one-sided (it only counts differences in one direction). The "
                                            "question is whether the means differ at all: compare |difference|."),
            (_p_variant(x, y, strict=True), "count the splits whose |difference| is AT LEAST the observed one (>=): "
                                            "the observed split itself is one of them, so p is never 0."),
            (_p_variant(x, y, sums=True), "compare the difference of MEANS; with groups of different sizes a "
                                          "difference of sums ranks the splits differently."),
            (_p_variant(x, y, count_only=True), f"you returned a count: divide by the number of splits, "
                                                f"C({x.size + y.size}, {x.size}) = {splits}, to get a fraction."),
            *((on_ranks, "use the values themselves, not their ranks: the question is about the difference of "
                         "the MEANS of the numbers, and ranks hide how far an outlier lies (for these samples p = "
                         f"{want:.3f} on the numbers, {on_ranks:.3f} on their ranks).")
              for on_ranks in (_p_variant(x, y, ranks="average"), _p_variant(x, y, ranks="ordinal"))),
        ], ex, (f"a sample of shuffles, even seeded, only estimates p; enumerate the splits: all {splits} of them, "
                f"with itertools.combinations(range(len(a) + len(b)), len(a)). (You returned {got:.4f}, not a "
                f"whole number of splits out of {splits}.)")
               if _looks_sampled(got, want, splits) else
               (f"for these samples the exact p-value is {want:.4f}: the fraction of all {splits} ways of splitting "
                "the pooled numbers into groups of len(a) and len(b) whose |difference of means| is at least the "
                "observed one."))
    passed(ex, f"exact over all {math.comb(a.size + b.size, a.size)} splits: p = {permutation_p_value(a, b):.4f} "
               "for evenly spaced samples, and the outlier counted by its value.")
