"""Lab 4, cross-attention inside the encoder–decoder (PyTorch): the masks, the wiring, the bound, the detector.

The child builds the attention module and the leaky 'models' from arrays drawn here (the leak probes
are :func:`crossattn.tooling.grade.child.leak_probes`, the same code on both sides); the expected
answers come from the package's ``MultiheadAttention`` and from the detector's definition, computed here.
"""
from __future__ import annotations

import math

import numpy as np

from ..child import leak_probes
from ..exercises import (
    Case,
    TensorValue,
    _attention_spec,
    _first,
    _ok,
    _reference_attention,
    _shape,
    _sizes,
    _untouched,
    case,
    close,
    pair,
)

__all__ = ["GRADERS", "NEEDS"]


def _bool_tensor(value, expected: np.ndarray, what: str) -> str | None:
    if not isinstance(value, TensorValue):
        return f"{what}: expected a torch tensor of booleans, got {_shape(value)}"
    if value.dtype != "bool":
        return f"{what}: expected dtype torch.bool (True = may attend), got torch.{value.dtype}"
    if value.array.shape != expected.shape:
        return f"{what}: expected shape {expected.shape}, got {value.array.shape}"
    if not np.array_equal(value.array, expected):
        return f"{what}: wrong values ({int(np.sum(value.array != expected))} of {expected.size} entries differ)"
    return None


def lab4_causal_mask(rng):
    cases = []
    for m in (1, *_sizes(rng, 2, 2, 9)):
        label = f"causal_mask(m={m})"
        cases.append(case("call", (m,), label, lambda v, r, e=np.tril(np.ones((m, m), bool)), lab=label:
                          _bool_tensor(v, e, lab)))
    return cases


def lab4_cross_mask(rng):
    from crossattn.nn.tokens import PAD

    cases = []
    for _ in range(2):
        B, m, n = _sizes(rng, 3, 2, 8)
        lengths = rng.integers(1, n + 1, size=B)
        lengths[-1] = n  # one source without padding
        src = rng.integers(3, 20, size=(B, n))
        src[np.arange(n)[None, :] >= lengths[:, None]] = PAD
        tgt_lengths = rng.integers(1, m + 1, size=B)
        tgt_in = rng.integers(3, 20, size=(B, m))
        tgt_in[:, 0] = 1
        tgt_in[np.arange(m)[None, :] >= tgt_lengths[:, None]] = PAD  # target padding elsewhere: must not matter
        expected = (src != PAD)[:, None, None, :]
        label = f"cross_mask(src {src.shape} with source lengths {lengths.tolist()}, tgt_in {tgt_in.shape})"
        cases.append(case("tcall", (src, tgt_in), label, lambda v, r, e=expected, lab=label: _first(
            _bool_tensor(v, e, lab), _untouched(r, lab))))
    return cases


def lab4_cross_attention(rng):
    import torch

    cases = []
    B, m, n = _sizes(rng, 3, 2, 7)
    h, d_head = (int(x) for x in rng.choice([2, 3, 4], size=2, replace=False))
    d_model = h * d_head
    spec = _attention_spec(rng, d_model, h)
    x, memory = rng.standard_normal((B, m, d_model)), rng.standard_normal((B, n, d_model))
    lengths = rng.integers(1, n + 1, size=B)
    lengths[0] = n
    padding = (np.arange(n)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, n)
    streaming = (np.arange(n)[None, :] < np.arange(m)[:, None])[None, None]  # (1, 1, m, n): query 0 reads nothing
    attn = _reference_attention(spec)
    for mask, what in ((None, "no mask"), (padding, f"source lengths {lengths.tolist()}"),
                       (streaming, "a mask whose first query row blocks every key")):
        with torch.no_grad():
            out = attn(torch.from_numpy(x), torch.from_numpy(memory),
                       mask=None if mask is None else torch.from_numpy(mask)).numpy()
            weights = attn.last_weights.numpy()
        label = f"cross_attention(x {x.shape}, memory {memory.shape}, h={h}, {what})"

        def judge(v, r, out=out, weights=weights, label=label):
            o, w, err = pair(v, label)
            return err or _first(close(w, weights, label + ", weights", tensor=True, atol=1e-9),
                                 close(o, out, label + ", out", tensor=True, atol=1e-9))
        cases.append(case("cross_attention", (spec, x, memory, mask), label, judge))
    return cases


def _number(value, what: str) -> tuple[float | None, str | None]:
    if isinstance(value, bool):
        return None, f"{what}: expected a number, got a bool"
    if isinstance(value, TensorValue):
        value = value.array
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value), None
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.reshape(-1)[0]), None
    return None, f"{what}: expected one number, got {_shape(value)}"


def lab4_honest_loss(rng):
    cases = []
    for V, L in zip(rng.choice(np.arange(2, 60), 3, replace=False), rng.choice(np.arange(1, 30), 3, replace=False)):
        V, L = int(V), int(L)
        label = f"honest_loss(n_symbols={V}, length={L})"

        def judge(v, r, e=L * math.log(V) / (L + 1), label=label):
            got, err = _number(v, label)
            if err:
                return err
            return None if math.isclose(got, e, rel_tol=1e-9) else f"{label}: wrong value"
        cases.append(case("call", (V, L), label, judge))
    return cases


def _influence(predict, src, tgt_in, i, fresh) -> float:
    import torch

    changed = src.clone()
    changed[:, i:] = fresh[:, i:]
    before = torch.log_softmax(predict(src, tgt_in), dim=-1)
    after = torch.log_softmax(predict(changed, tgt_in), dim=-1)
    return float((after[:, i] - before[:, i]).abs().max())


def lab4_source_influence(rng):
    import torch

    B, n = _sizes(rng, 2, 2, 8)
    m = int(rng.integers(3, n + 1)) if n > 3 else 3
    vocab, tokens = int(rng.integers(5, 10)), 16
    table = rng.standard_normal((tokens, vocab))
    mix = rng.random((m, n)) + 0.5
    src = rng.integers(3, tokens, size=(B, n))
    fresh = 3 + (src - 3 + rng.integers(1, tokens - 3, size=(B, n))) % (tokens - 3)  # every token different
    tgt_in = np.concatenate([np.ones((B, 1), dtype=np.int64), rng.integers(3, tokens, size=(B, m - 1))], axis=1)
    probes = leak_probes(table, mix)
    cases = []
    for name in ("peeks", "honest", "peeks_ahead", "shifts"):
        for i in sorted({0, int(rng.integers(1, m)), m - 1}):
            expected = _influence(probes[name], *(torch.from_numpy(a) for a in (src, tgt_in)), i, torch.from_numpy(fresh))
            label = f"source_influence({name} model, src {src.shape}, tgt_in {tgt_in.shape}, i={i})"

            def judge(v, r, e=expected, label=label):
                got, err = _number(v, label)
                if err:
                    return err
                if r.extra.get("changed_src"):
                    return f"{label}: changed src in place"
                return None if math.isclose(got, e, rel_tol=1e-7, abs_tol=1e-9) else f"{label}: wrong value"
            cases.append(Case("influence", (name, table, mix, src, tgt_in, i, fresh),
                              lambda r, j=judge, lab=label: _ok(r, lab) or j(r.value, r)))
    return cases


GRADERS = {"causal_mask": lab4_causal_mask, "cross_mask": lab4_cross_mask, "cross_attention": lab4_cross_attention,
           "honest_loss": lab4_honest_loss, "source_influence": lab4_source_influence}
NEEDS = {"imports": ("torch", "crossattn.nn.layers", "crossattn.nn.tokens"), "parts": ("core", "nn")}
