"""Lab 10, cross-attention or concatenation (NumPy answers): the prefix-LM mask, the gated block, two counts.

The mask is compared with the package's ``prefix_lm_mask`` for sizes n ≠ m, one of them with no
source (n = 0: the causal mask); the gated block with ``x + tanh(alpha)·attention(x W_q, s W_k, s W_v) W_o``
computed here with d ≠ d_v ≠ d_model, and by its property: a closed gate (alpha = 0) hands x through
exactly. The step FLOPs come from the package's ``step_flops`` (logits taken off, as the lab asks) for
both wirings with L ≥ 3 layers, and a wiring of another name must raise ValueError; the cache bytes
from ``source_bytes_per_token`` for MHA, GQA and MQA.
"""
from __future__ import annotations

import numpy as np

from ..exercises import Case, _ok, _randn, _sizes, _untouched, case, close, exact, integer

__all__ = ["GRADERS", "NEEDS"]


def lab10_prefix_lm_mask(rng):
    from crossattn.core.masks import prefix_lm_mask

    cases = []
    n, m = _sizes(rng, 2, 1, 9)
    sizes = [(n, m), (m, n), (0, int(rng.integers(2, 7))), (int(rng.integers(2, 7)), 1)]
    for n, m in sizes:
        label = f"prefix_lm_mask(n={n}, m={m})" + (" (no source: the causal mask)" if n == 0 else "")
        cases.append(case("call", (n, m), label, lambda v, r, e=prefix_lm_mask(n, m), lab=label:
                          exact(v, e, lab, dtype_kind="b")))
    return cases


def lab10_gated_cross_attention(rng):
    from crossattn import attention

    cases = []
    m, n, d, d_v, d_model = _sizes(rng, 5, 2, 9)
    x, s = _randn(rng, m, d_model), _randn(rng, n, d_model)
    W_q, W_k = _randn(rng, d_model, d), _randn(rng, d_model, d)
    W_v, W_o = _randn(rng, d_model, d_v), _randn(rng, d_v, d_model)
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)  # (m, d_v)
    for alpha in (0.0, float(rng.uniform(0.2, 2.0)), -float(rng.uniform(0.2, 2.0))):
        label = (f"gated_cross_attention(x {x.shape}, s {s.shape}, W_q {W_q.shape}, W_k {W_k.shape}, "
                 f"W_v {W_v.shape}, W_o {W_o.shape}, alpha={alpha:.3g})")
        if alpha == 0.0:
            def judge(v, r, x=x, label=label):
                err = close(v, x, label + ": a closed gate (alpha = 0) must hand x through exactly", rtol=0, atol=0)
                return err or _untouched(r, label)
        else:
            def judge(v, r, e=x + np.tanh(alpha) * out @ W_o, label=label):
                return close(v, e, label, rtol=1e-9, atol=1e-12) or _untouched(r, label)
        cases.append(case("call", (x.copy(), s, W_q, W_k, W_v, W_o, alpha), label, judge))
    return cases


def _reference_step_flops(wiring: str, n: int, t: int, L: int, d: int, d_ff: int) -> int:
    """The package's count for step t of a model of L decoder layers, its logits (2·d·N_voc) taken off."""
    from crossattn.experiments.wirings import step_flops
    from crossattn.nn.model import ModelConfig

    vocab = 31
    cfg = ModelConfig(vocab_size=vocab, d_model=d, h=1, d_ff=d_ff, n_decoder_layers=L)
    return int(step_flops(wiring, cfg, n, t)) - 2 * d * vocab


def lab10_step_flops(rng):
    cases = []
    for wiring in ("prefix LM", "cross-attention", "prefix LM", "cross-attention"):
        n, t, d, d_ff = (int(x) for x in rng.choice(np.arange(1, 80), size=4, replace=False))
        L = int(rng.integers(3, 9))  # ≠ 1, 2: forgetting the layers or counting multiply-adds shows
        label = f"step_flops(wiring={wiring!r}, n={n}, t={t}, L={L}, d={d}, d_ff={d_ff})"
        cases.append(case("call", (wiring, n, t, L, d, d_ff), label,
                          lambda v, r, e=_reference_step_flops(wiring, n, t, L, d, d_ff), lab=label: integer(v, e, lab)))
    other = str(rng.choice(["concatenation", "decoder-only", "gated"]))
    label = f"step_flops(wiring={other!r}, n=12, t=3, L=3, d=8, d_ff=20)"

    def refuses(r, label=label):
        if r.status == "raised":
            return None if r.error.startswith("ValueError") else f"{label}: raised {r.error}, expected a ValueError"
        return _ok(r, label) or f"{label}: returned a count for a wiring that is neither, expected a ValueError"
    cases.append(Case("call", (other, 12, 3, 3, 8, 20), refuses))
    return cases


def lab10_source_cache_bytes(rng):
    from crossattn.experiments.wirings import source_bytes_per_token

    cases = []
    for kind in ("MHA", "GQA", "MQA", "GQA"):
        group = int(rng.choice([2, 4, 5, 8]))
        n_kv = {"MHA": int(rng.integers(4, 33)), "GQA": int(rng.integers(2, 9)), "MQA": 1}[kind]
        h = n_kv if kind == "MHA" else n_kv * group
        layers = int(rng.integers(2, 41))
        d_head = int(rng.choice([32, 40, 48, 64, 80, 96, 128]))
        dtype_bytes = int(rng.choice([1, 2, 4]))
        if dtype_bytes == 1 and kind == "MQA":
            dtype_bytes = 2  # ≠ 1 somewhere so a forgotten dtype shows
        label = f"source_cache_bytes(layers={layers}, h={h}, n_kv_heads={n_kv}, d_head={d_head}, dtype_bytes={dtype_bytes})"
        expected = source_bytes_per_token(layers, n_kv, d_head, dtype_bytes)
        cases.append(case("call", (layers, h, n_kv, d_head, dtype_bytes), label,
                          lambda v, r, e=expected, lab=label: integer(v, e, lab)))
    return cases


GRADERS = {"prefix_lm_mask": lab10_prefix_lm_mask, "gated_cross_attention": lab10_gated_cross_attention,
           "step_flops": lab10_step_flops, "source_cache_bytes": lab10_source_cache_bytes}
NEEDS = {"imports": (), "parts": ("core",)}
