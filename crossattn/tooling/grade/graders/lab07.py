"""Lab 7, weight tying: the counts, the share, the band over seeds and the exact permutation test.

Counts are compared with the package's formulas (``predicted_parameters``, ``kv_tying_saving``) on
configurations with n_encoder_layers ≠ n_decoder_layers both ways; the share is judged by what the
child reports of the three modules afterwards (the same Parameter objects, the encoder's kept, W_Q and
W_O still separate, the parameters held); the band by the package's ``curve_band`` and by its property
(every seed inside it); the p-value by ``permutation_p_value``.
"""
from __future__ import annotations

import math

import numpy as np

from ..exercises import Case, _attention_spec, _ok, _shape, _untouched, case, close, integer
from ..sandbox import Other, TensorValue
from .lab04 import _number

__all__ = ["GRADERS", "NEEDS"]


def _configs(rng, k: int) -> list[tuple[int, int]]:
    """(n_encoder_layers, n_decoder_layers): fewer, more and as many decoder layers as encoder layers."""
    out = []
    for relation in ("fewer", "more", "same")[:k]:
        a, b = sorted(int(x) for x in rng.choice(np.arange(1, 6), size=2, replace=False))
        out.append({"fewer": (b, a), "more": (a, b), "same": (a, a)}[relation])
    return out


def lab7_count_parameters(rng):
    from crossattn.experiments.parameters import predicted_parameters
    from crossattn.nn.model import ModelConfig

    cases = []
    for Le, Ld in _configs(rng, 3):
        d = 2 * int(rng.integers(2, 20))
        V, d_ff = (int(x) for x in rng.choice(np.arange(5, 90), size=2, replace=False))
        cfg = ModelConfig(vocab_size=V, d_model=d, h=2, d_ff=d_ff, n_encoder_layers=Le, n_decoder_layers=Ld)
        label = f"count_parameters(vocab_size={V}, d_model={d}, d_ff={d_ff}, n_encoder_layers={Le}, n_decoder_layers={Ld})"
        cases.append(case("call", (V, d, d_ff, Le, Ld), label, lambda v, r, e=int(predicted_parameters(cfg)), lab=label:
                          integer(v, e, lab)))
    return cases


def lab7_kv_saving(rng):
    from crossattn.experiments.parameters import kv_tying_saving

    cases = []
    for Le, Ld in _configs(rng, 3):
        d = int(rng.integers(2, 40))
        label = f"kv_saving(d_model={d}, n_encoder_layers={Le}, n_decoder_layers={Ld})"
        cases.append(case("call", (d, Le, Ld), label, lambda v, r, e=int(kv_tying_saving(d, Le, Ld)), lab=label:
                          integer(v, e, lab)))
    return cases


def lab7_share_kv(rng):
    cases = []
    for _ in range(2):
        h = int(rng.choice([1, 2, 3]))
        d_model = h * int(rng.integers(2, 6))
        specs = tuple(_attention_spec(rng, d_model, h) for _ in range(3))
        label = f"share_kv(enc_self, dec_self, cross) on three MultiheadAttention(d_model={d_model}, h={h})"

        def judge(r, d_model=d_model, label=label):
            err = _ok(r, label)
            if err:
                return err
            f = r.extra
            for w in "kv":
                if not f.get(f"enc_{w}_kept"):
                    return f"{label}: enc_self's w_{w} changed; the decoder's attentions must use enc_self's"
            for who in ("dec", "cross"):
                if f.get(f"{who}_swapped"):
                    return f"{label}: {who}'s W_K and W_V are mixed up"
                for w in "kv":
                    if not f.get(f"{who}_{w}_shared"):
                        return f"{label}: {who}.w_{w} is not enc_self.w_{w} (a copy, or not shared at all)"
                for w in "qo":
                    if f.get(f"{who}_{w}_shared"):
                        return f"{label}: {who}.w_{w} is shared too; only W_K and W_V are tied"
            held, want = f.get("held"), 8 * d_model * d_model
            if held != want:
                return f"{label}: the three modules hold {held} parameters, expected {want}"
            return None
        cases.append(Case("share_kv", (specs,), judge))
    return cases


def lab7_seed_band(rng):
    from crossattn.experiments.stats import curve_band

    cases = []
    for _ in range(2):
        seeds, points = (int(x) for x in rng.choice(np.arange(2, 10), size=2, replace=False))
        curves = np.exp(-np.linspace(0, 3, points))[None, :] + rng.uniform(0, 0.5, size=(seeds, points))
        expected = curve_band(curves)
        label = f"seed_band(curves {curves.shape})"

        def judge(v, r, expected=expected, curves=curves, label=label):
            if not isinstance(v, (tuple, list)) or len(v) != 3 or any(isinstance(x, Other) for x in v):
                return f"{label}: expected three arrays (mean, low, high), got {_shape(v)}"
            parts = [x.array if isinstance(x, TensorValue) else x for x in v]
            for got, want, which in zip(parts, expected, ("mean", "low", "high")):
                err = close(got, want, f"{label}, {which}", rtol=1e-9, atol=1e-12)
                if err:
                    return err
            if np.any(curves < np.asarray(parts[1]) - 1e-12) or np.any(curves > np.asarray(parts[2]) + 1e-12):
                return f"{label}: a seed's curve lies outside the band"
            return _untouched(r, label)
        cases.append(case("call", (curves,), label, judge))
    return cases


def lab7_permutation_p(rng):
    from crossattn.experiments.stats import permutation_p_value

    cases = []
    n_a, n_b = (int(x) for x in rng.choice(np.arange(3, 8), size=2, replace=False))
    # Continuous draws: no two different splits tie (up to rounding), so no tolerance decides a count.
    a = rng.uniform(0.0, 0.7, size=n_a)
    b = rng.uniform(0.25, 1.0, size=n_b)
    outlier = b.copy()
    outlier[0] = 3.0  # an outlier counts by its value
    for x, y, what in ((a, b, "a below b"), (b, a, "the other way round"), (outlier, a, "with an outlier"),
                       (a, a.copy(), "identical samples")):
        label = f"permutation_p(a ({len(x)},), b ({len(y)},), {what})"

        def judge(v, r, e=permutation_p_value(x, y), label=label):
            got, err = _number(v, label)
            if err:
                return err
            if not math.isclose(got, e, rel_tol=1e-9, abs_tol=1e-12):
                return f"{label}: wrong p-value"
            return _untouched(r, label)
        cases.append(case("call", (x, y), label, judge))
    return cases


GRADERS = {"count_parameters": lab7_count_parameters, "kv_saving": lab7_kv_saving, "share_kv": lab7_share_kv,
           "seed_band": lab7_seed_band, "permutation_p": lab7_permutation_p}
NEEDS = {"imports": ("torch", "crossattn.nn.layers", "crossattn.nn.model", "crossattn.experiments.parameters",
                     "crossattn.experiments.stats"), "parts": ("core", "nn", "experiments")}
