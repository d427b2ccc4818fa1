"""Per-exercise graders: inputs drawn at grading time, expected answers computed here, in the grader's process.

Each grader takes a NumPy ``Generator`` (seeded from ``--seed``) and returns cases: what the child
calls (a driver of :mod:`crossattn.tooling.grade.child` and its arguments) and a ``judge`` that
compares what came back with the answer of the package's reference functions, or with a property
(rows sum to 1, a shift of the scores changes nothing, padded keys cannot move the output while a
real key does). Shapes vary with m ≠ n ≠ d, batches appear, and masks include fully masked rows
where the exercise defines them. A judge returns None for a pass or the reason of a failure.

The labs with graders are the keys of :data:`GRADERS`; any other lab is refused with a clear error.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .sandbox import CaseResult, Other, TensorValue

__all__ = ["Case", "GRADERS", "LAB_NEEDS", "graded_labs"]

Judge = Callable[[CaseResult], "str | None"]


@dataclass
class Case:
    """One call of the student's function: the child's driver, its arguments, and the grader's judge."""

    driver: str
    args: tuple
    judge: Judge

    def job(self) -> dict:
        return {"driver": self.driver, "args": self.args}


# --- comparing ------------------------------------------------------------------------------

def _shape(a: Any) -> str:
    if isinstance(a, TensorValue):
        return f"a tensor of shape {a.array.shape}"
    if isinstance(a, np.ndarray):
        return f"an array of shape {a.shape}"
    if isinstance(a, Other):
        return f"a {a.type}"
    return f"a {type(a).__name__}"


def _array(value: Any, what: str, shape: tuple, *, tensor: bool = False) -> tuple[np.ndarray | None, str | None]:
    if tensor:
        if not isinstance(value, TensorValue):
            return None, f"{what}: expected a torch tensor of shape {shape}, got {_shape(value)}"
        value = value.array
    elif isinstance(value, TensorValue):
        value = value.array
    if isinstance(value, (int, float, np.generic)) and not isinstance(value, bool):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        return None, f"{what}: expected an array of shape {shape}, got {_shape(value)}"
    if value.shape != shape:
        return None, f"{what}: expected shape {shape}, got {value.shape}"
    return value, None


def close(value: Any, expected: np.ndarray, what: str, *, tensor: bool = False, rtol: float = 1e-6,
          atol: float = 1e-8) -> str | None:
    got, err = _array(value, what, expected.shape, tensor=tensor)
    if err:
        return err
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        return f"{what}: holds NaN or inf"
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got.astype(float) - expected)))
        return f"{what}: wrong values (largest error {worst:.3g})"
    return None


def exact(value: Any, expected: np.ndarray, what: str, *, dtype_kind: str | None = None) -> str | None:
    got, err = _array(value, what, expected.shape)
    if err:
        return err
    if dtype_kind and got.dtype.kind not in dtype_kind:
        return f"{what}: expected {'booleans' if dtype_kind == 'b' else 'integers'}, got dtype {got.dtype}"
    if not np.array_equal(got, expected):
        return f"{what}: wrong values ({int(np.sum(got != expected))} of {expected.size} entries differ)"
    return None


def integer(value: Any, expected: int, what: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value) == expected:
            return f"{what}: the right number as a float ({value!r}); return an int"
        return f"{what}: expected an integer, got {_shape(value)}"
    if int(value) != expected:
        return f"{what}: wrong count"
    return None


def pair(value: Any, what: str) -> tuple[Any, Any, str | None]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return None, None, f"{what}: expected a pair (out, weights), got {_shape(value)}"
    return value[0], value[1], None


def _first(*reasons: str | None) -> str | None:
    return next((r for r in reasons if r), None)


def _ok(result: CaseResult, label: str) -> str | None:
    """The reason a call gave no value to judge, or None."""
    if result.status == "ok":
        return None
    if result.status == "raised":
        return f"{label}: raised {result.error}"
    return f"{label}: {result.status} {result.error}".strip()


def case(driver: str, args: tuple, label: str, judge: Callable[[Any, CaseResult], str | None]) -> Case:
    def judged(result: CaseResult) -> str | None:
        return _ok(result, label) or judge(result.value, result)
    return Case(driver, args, judged)


def _untouched(result: CaseResult, label: str) -> str | None:
    changed = result.extra.get("changed")
    if changed:
        return f"{label}: changed its argument {changed[0] + 1} in place"
    return None


def _sizes(rng: np.random.Generator, k: int, low: int = 2, high: int = 9) -> list[int]:
    """k distinct sizes in [low, high], so a transposed or swapped axis cannot pass."""
    return [int(x) for x in rng.choice(np.arange(low, high + 1), size=k, replace=False)]


def _randn(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return rng.standard_normal(shape) * scale


# --- lab 1 ----------------------------------------------------------------------------------

def _softmax(x: np.ndarray) -> np.ndarray:
    from crossattn import softmax

    return softmax(x)


def lab1_relevance(rng):
    cases = []
    for _ in range(3):
        n, d = _sizes(rng, 2)
        q, keys = _randn(rng, d), _randn(rng, n, d)
        label = f"relevance(query {q.shape}, keys {keys.shape})"
        cases.append(case("call", (q, keys), label,
                          lambda v, r, e=keys @ q, lab=label: _first(close(v, e, lab), _untouched(r, lab))))
    return cases


def lab1_softmax(rng):
    cases = []
    m, n, B = _sizes(rng, 3)
    for x in (_randn(rng, n, scale=3), _randn(rng, m, n, scale=3), _randn(rng, B, m, n, scale=3) + 800.0):
        label = f"softmax(scores {x.shape})"

        def judge(v, r, x=x, label=label):
            return _first(close(v, _softmax(x), label), _untouched(r, label))
        cases.append(case("call", (x,), label, judge))
    x = _randn(rng, m, n)
    shift = _randn(rng, m, 1, scale=50)
    label = f"softmax(scores {x.shape} + a per-row shift)"
    cases.append(case("call", (x + shift,), label, lambda v, r, x=x, lab=label: _first(
        close(v, _softmax(x), lab + " (a shift of each row must change nothing)"), _untouched(r, lab))))
    return cases


def lab1_read(rng):
    cases = []
    for _ in range(3):
        n, d, d_v = _sizes(rng, 3)
        q, keys, values = _randn(rng, d), _randn(rng, n, d), _randn(rng, n, d_v)
        label = f"read(query {q.shape}, keys {keys.shape}, values {values.shape})"
        expected = _softmax(keys @ q) @ values
        cases.append(case("call", (q, keys, values), label,
                          lambda v, r, e=expected, lab=label: _first(close(v, e, lab), _untouched(r, lab))))
    return cases


def _attend_cases(rng, scaled: bool, name: str):
    cases = []
    for _ in range(3):
        m, n, d, d_v = _sizes(rng, 4)
        Q, K, V = _randn(rng, m, d), _randn(rng, n, d), _randn(rng, n, d_v)
        A = _softmax(Q @ K.T / (math.sqrt(d) if scaled else 1.0))
        label = f"{name}(Q {Q.shape}, K {K.shape}, V {V.shape})"

        def judge(v, r, A=A, V=V, label=label):
            out, weights, err = pair(v, label)
            if err:
                return err
            rows = _array(weights, label + ", weights", A.shape)[0]
            if rows is not None and not np.allclose(rows.sum(-1), 1.0):
                return f"{label}: the rows of the weights do not sum to 1"
            return _first(close(weights, A, label + ", weights"), close(out, A @ V, label + ", out"),
                          _untouched(r, label))
        cases.append(case("call", (Q, K, V), label, judge))
        # The same keys and values in another order: each output row must not change.
        perm = rng.permutation(n)
        label_p = label + " with the keys and values permuted together"
        cases.append(case("call", (Q, K[perm], V[perm]), label_p, lambda v, r, e=A @ V, lab=label_p: _first(
            pair(v, lab)[2], close(pair(v, lab)[0], e, lab + ", out (must not depend on the order of the keys)"))))
    return cases


def lab1_attend(rng):
    return _attend_cases(rng, scaled=False, name="attend")


def lab1_alignment(rng):
    cases = []
    for _ in range(3):
        m, n, d = _sizes(rng, 3)
        X, S = _randn(rng, m, d), _randn(rng, n, d)
        label = f"alignment(X {X.shape}, S {S.shape})"
        expected = np.argmax(X @ S.T, axis=-1)
        cases.append(case("call", (X, S), label,
                          lambda v, r, e=expected, lab=label: _first(exact(v, e, lab, dtype_kind="iu"),
                                                                     _untouched(r, lab))))
    return cases


# --- lab 2 ----------------------------------------------------------------------------------

def lab2_scores(rng):
    cases = []
    for _ in range(3):
        m, n, d = _sizes(rng, 3)
        Q, K = _randn(rng, m, d), _randn(rng, n, d)
        label = f"scores(Q {Q.shape}, K {K.shape})"
        cases.append(case("call", (Q, K), label, lambda v, r, e=Q @ K.T / math.sqrt(d), lab=label: _first(
            close(v, e, lab), _untouched(r, lab))))
    return cases


def lab2_attention(rng):
    return _attend_cases(rng, scaled=True, name="attention")


def lab2_padding_mask(rng):
    from crossattn import padding_mask

    cases = []
    for _ in range(3):
        B, m, n = _sizes(rng, 3)
        lengths = rng.integers(0, n + 1, size=B)
        lengths[0], lengths[-1] = 0, n  # a fully masked row, and a source with no padding
        label = f"padding_mask(lengths {lengths.tolist()}, m={m}, n={n})"
        cases.append(case("call", (lengths, m, n), label, lambda v, r, e=padding_mask(lengths, m, n), lab=label:
                          _first(exact(v, e, lab, dtype_kind="b"), _untouched(r, lab))))
    return cases


def lab2_masked_attention(rng):
    from crossattn import attention

    cases = []
    for _ in range(2):
        m, n, d, d_v = _sizes(rng, 4)
        Q, K, V = _randn(rng, m, d), _randn(rng, n, d), _randn(rng, n, d_v)
        mask = rng.random((m, n)) < 0.6
        mask[0, :] = False  # a query that may attend to nothing: zero weights, zero output
        mask[1, :] = True
        out, A = attention(Q, K, V, mask=mask)
        label = f"masked_attention(Q {Q.shape}, K {K.shape}, V {V.shape}, mask {mask.shape} with a fully masked row)"

        def judge(v, r, A=A, out=out, label=label):
            o, w, err = pair(v, label)
            return err or _first(close(w, A, label + ", weights"), close(o, out, label + ", out"),
                                 _untouched(r, label))
        cases.append(case("call", (Q, K, V, mask), label, judge))
        # Padding invariance both ways: padded keys and values changed -> nothing moves; a real one -> it moves.
        pad = np.ones((m, n), dtype=bool)
        pad[:, n - 1] = False
        K2, V2 = K.copy(), V.copy()
        K2[n - 1] += 5 * _randn(rng, d)
        V2[n - 1] += 5 * _randn(rng, d_v)
        base = attention(Q, K, V, mask=pad)[0]
        label2 = label.split(" with")[0] + ", the last key padded and changed"
        cases.append(case("call", (Q, K2, V2, pad), label2, lambda v, r, e=base, lab=label2: _first(
            pair(v, lab)[2], close(pair(v, lab)[0], e, lab + ": a padded key or value moved the output"))))
        K3 = K.copy()
        K3[0] += 5 * _randn(rng, d)
        moved = attention(Q, K3, V, mask=pad)[0]
        label3 = label.split(" with")[0] + ", a real key changed"
        cases.append(case("call", (Q, K3, V, pad), label3, lambda v, r, e=moved, lab=label3: _first(
            pair(v, lab)[2], close(pair(v, lab)[0], e, lab + ", out"))))
    return cases


def lab2_split_heads(rng):
    cases = []
    for _ in range(3):
        L, h, d_head = _sizes(rng, 3, 2, 7)
        X = _randn(rng, L, h * d_head)
        label = f"split_heads(X {X.shape}, h={h})"
        expected = X.reshape(L, h, d_head).transpose(1, 0, 2)
        cases.append(case("call", (X, h), label, lambda v, r, e=expected, lab=label: _first(
            close(v, e, lab, rtol=0, atol=0), _untouched(r, lab))))
    return cases


def lab2_attention_flops(rng):
    from crossattn import attention_flops

    cases = []
    for _ in range(3):
        m, n, d, d_v = (int(x) for x in rng.choice(np.arange(2, 200), size=4, replace=False))
        label = f"attention_flops(m={m}, n={n}, d={d}, d_v={d_v})"
        cases.append(case("call", (m, n, d, d_v), label, lambda v, r, e=int(attention_flops(m, n, d, d_v)), lab=label:
                          integer(v, e, lab)))
    return cases


# --- lab 5 ----------------------------------------------------------------------------------

def lab5_cache_bytes(rng):
    cases = []
    for _ in range(3):
        L, n, T, d_model = (int(x) for x in rng.choice(np.arange(1, 97), size=4, replace=False))
        dtype_bytes = int(rng.choice([2, 4, 8]))
        label = f"cache_bytes(n_layers={L}, n={n}, steps={T}, d_model={d_model}, dtype_bytes={dtype_bytes})"
        cross, self_ = 2 * L * n * d_model * dtype_bytes, 2 * L * T * d_model * dtype_bytes

        def judge(v, r, cross=cross, self_=self_, label=label):
            if not isinstance(v, (tuple, list)) or len(v) != 2:
                return f"{label}: expected a pair (cross_bytes, self_bytes), got {_shape(v)}"
            return _first(integer(v[0], cross, label + ", cross_bytes"), integer(v[1], self_, label + ", self_bytes"))
        cases.append(case("call", (L, n, T, d_model, dtype_bytes), label, judge))
    return cases


def _attention_spec(rng, d_model: int, h: int) -> dict:
    spec = {"d_model": d_model, "h": h}
    for name in ("w_q", "w_k", "w_v", "w_o"):
        spec[name] = _randn(rng, d_model, d_model) / math.sqrt(d_model)
    return spec


def _reference_attention(spec):
    import torch

    from crossattn.nn.layers import MultiheadAttention

    attn = MultiheadAttention(spec["d_model"], spec["h"]).double()
    with torch.no_grad():
        for name in ("w_q", "w_k", "w_v", "w_o"):
            getattr(attn, name).weight.copy_(torch.from_numpy(spec[name]))
    return attn.eval()


def _steps_judge(expected: np.ndarray, rows: list[int], k_expected: np.ndarray, label: str, cross: bool):
    B, T, d_model = expected.shape

    def judge(v, r):
        if not isinstance(v, tuple) or len(v) != T:
            return f"{label}: the driver got no output per step ({_shape(v)})"
        for t in range(T):
            err = close(v[t], expected[:, t:t + 1], f"{label}, step {t}", tensor=True)
            if err:
                return err
        got_rows = r.extra.get("rows")
        got_rows = list(got_rows) if isinstance(got_rows, (list, tuple)) else got_rows
        if got_rows != rows:
            return f"{label}: the cache held {got_rows} rows after each step, expected {rows}"
        err = close(r.extra.get("cache_k"), k_expected, f"{label}, the cached keys")
        if err:
            return err
        if cross and r.extra.get("w_k_calls") != 1:
            return f"{label}: W_K ran {r.extra.get('w_k_calls')} times over {T} steps; project the source once"
        return None
    return judge


def lab5_self_attention_step(rng):
    import torch

    from crossattn import causal_mask

    cases = []
    for _ in range(2):
        d_model, h = int(rng.choice([6, 8, 12])), 2
        B, T = _sizes(rng, 2, 1, 5)
        spec = _attention_spec(rng, d_model, h)
        x = _randn(rng, B, T, d_model)
        attn = _reference_attention(spec)
        with torch.no_grad():
            xt = torch.from_numpy(x)
            expected = attn(xt, mask=torch.from_numpy(causal_mask(T))).numpy()
            k_expected = attn.project_kv(xt)[0].numpy()
        label = f"self_attention_step over {T} steps (B={B}, d_model={d_model}, h={h})"
        cases.append(Case("self_steps", (spec, x), lambda r, j=_steps_judge(
            expected, list(range(1, T + 1)), k_expected, label, False), lab=label: _ok(r, lab) or j(r.value, r)))
    return cases


def lab5_cross_attention_step(rng):
    import torch

    cases = []
    for _ in range(2):
        d_model, h = int(rng.choice([6, 8, 12])), 2
        B, T, n = _sizes(rng, 3, 2, 7)
        spec = _attention_spec(rng, d_model, h)
        x, s = _randn(rng, B, T, d_model), _randn(rng, B, n, d_model)
        lengths = rng.integers(1, n + 1, size=B)
        lengths[-1] = n
        mask = (np.arange(n)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, n)
        attn = _reference_attention(spec)
        with torch.no_grad():
            expected = attn(torch.from_numpy(x), torch.from_numpy(s), mask=torch.from_numpy(mask)).numpy()
            k_expected = attn.project_kv(torch.from_numpy(s))[0].numpy()
        label = f"cross_attention_step over {T} steps (B={B}, n={n}, source lengths {lengths.tolist()})"
        cases.append(Case("cross_steps", (spec, x, s, mask), lambda r, j=_steps_judge(
            expected, [n] * T, k_expected, label, True), lab=label: _ok(r, lab) or j(r.value, r)))
    return cases


def lab5_self_attention_flops(rng):
    from crossattn.experiments.caching_cost import decoding_flops
    from crossattn.nn.model import ModelConfig

    cases = []
    for _ in range(2):
        T, d_model = int(rng.integers(2, 40)), int(rng.choice([8, 16, 24, 64]))
        cfg = ModelConfig(d_model=d_model, h=2, n_decoder_layers=1)
        for cached in (True, False):
            expected = decoding_flops(cfg, 3, T, "both" if cached else "none").self_attention
            label = f"self_attention_flops(steps={T}, d_model={d_model}, cached={cached})"
            cases.append(case("call", (T, d_model, cached), label, lambda v, r, e=int(expected), lab=label:
                              integer(v, e, lab)))
    return cases


def lab5_share_across_beams(rng):
    cases = []
    for _ in range(2):
        h, n, d_head = _sizes(rng, 3, 1, 6)
        beams = int(rng.integers(2, 6))
        k = _randn(rng, 1, h, n, d_head)
        label = f"share_across_beams(k {k.shape}, beams={beams})"

        def judge(v, r, k=k, beams=beams, label=label):
            err = close(v, np.broadcast_to(k, (beams, *k.shape[1:])), label, tensor=True, rtol=0, atol=0)
            if err:
                return err
            if r.extra.get("k_changed"):
                return f"{label}: changed k"
            if not r.extra.get("shares_memory"):
                return f"{label}: the result is a copy of k, not a view that shares its memory"
            return None
        cases.append(case("beams", (k, beams), label, judge))
    return cases


#: lab -> exercise function -> grader; a lab missing here has no grader yet.
GRADERS: dict[int, dict[str, Callable[[np.random.Generator], list[Case]]]] = {
    1: {"relevance": lab1_relevance, "softmax": lab1_softmax, "read": lab1_read, "attend": lab1_attend,
        "alignment": lab1_alignment},
    2: {"scores": lab2_scores, "attention": lab2_attention, "padding_mask": lab2_padding_mask,
        "masked_attention": lab2_masked_attention, "split_heads": lab2_split_heads,
        "attention_flops": lab2_attention_flops},
    5: {"cache_bytes": lab5_cache_bytes, "self_attention_step": lab5_self_attention_step,
        "cross_attention_step": lab5_cross_attention_step, "self_attention_flops": lab5_self_attention_flops,
        "share_across_beams": lab5_share_across_beams},
}
#: What the child of each lab imports and which package parts it gets (the rest of the package is not there).
LAB_NEEDS: dict[int, dict[str, tuple[str, ...]]] = {
    1: {"imports": (), "parts": ("core",)},
    2: {"imports": (), "parts": ("core",)},
    5: {"imports": ("torch", "crossattn.nn.layers", "crossattn.nn.cache"), "parts": ("core", "nn")},
}


def _register() -> None:
    """Add the graders of :mod:`crossattn.tooling.grade.graders` (one module per lab)."""
    import importlib

    for lab in (3, 4, 6, 7, 8, 9, 10, 11):
        module = importlib.import_module(f"{__package__}.graders.lab{lab:02d}")
        GRADERS[lab] = module.GRADERS
        LAB_NEEDS[lab] = module.NEEDS


_register()


def graded_labs() -> tuple[int, ...]:
    return tuple(sorted(GRADERS))
