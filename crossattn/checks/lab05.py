"""Checkers for the exercises of lab 5, caching: compute the library once (PyTorch).

The inputs use B ≠ h, m ≠ n and d_head ≠ n, so a cache grown along the wrong axis or a mask of the
wrong shape fails loudly. Every named common mistake gets its own hint, by key from
crossattn/checks/exercises/lab05.py; tests/checks/test_lab05.py feeds each one in, written the way
a student would write it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..nn.cache import KVCache
from ..nn.layers import MultiheadAttention
from ._core import CheckFailed, call, close, diagnose, expect_shape, fail, passed, refuse_package_answer
from ._torch_habits import watch
from .registry import Exercise, exercise

__all__ = [
    "check_cache_bytes", "check_self_attention_step", "check_cross_attention_step",
    "check_self_attention_flops", "check_share_across_beams",
]

D_MODEL, H = 8, 2  # d_head = 4
D_HEAD = D_MODEL // H


# -- helpers --------------------------------------------------------------------------------------

def _describe(args: tuple[Any, ...]) -> str:
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"tensor {tuple(a.shape)}")
        elif isinstance(a, KVCache):
            parts.append(f"a {'cross' if a.static else 'self'}-attention cache of {a.length} rows")
        elif isinstance(a, torch.nn.Module):
            parts.append(type(a).__name__)
        else:
            parts.append(repr(a))
    return ", ".join(parts)


def _call(fn: Callable, *args: Any, exercise: Exercise, where: str = "") -> Any:
    """Call the student's torch function without gradients; a stub or a crash becomes a one-line hint."""
    if not callable(fn):
        fail(exercise, "not_function", type=type(fn).__name__)
    refuse_package_answer(fn, exercise)
    name = getattr(fn, "__name__", "your function")
    with watch() as habits:
        try:
            with torch.no_grad():
                out = fn(*args)
        except NotImplementedError:
            fail(exercise, "stub", name=name)
        except Exception as err:  # noqa: BLE001 - any crash of student code becomes a hint
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            fields = dict(name=name, inputs=f"with ({_describe(args)}){where}", error=f"{type(err).__name__}: {first}")
            lead = f"{exercise.hint('crash', **fields)}. "  # one line, as every hint of lab 5
            if habits.batched_transpose and "batched_transpose" in exercise.hints:
                fail(exercise, "batched_transpose", lead=lead)
            if habits.mask_grew and "mask_turned" in exercise.hints:
                fail(exercise, "mask_turned", lead=lead, before=habits.mask_grew[0], after=habits.mask_grew[1])
            fail(exercise, "crash", **fields)
    if habits.mask_grew and "mask_turned" in exercise.hints:  # no right answer grows the scores
        fail(exercise, "mask_turned", before=habits.mask_grew[0], after=habits.mask_grew[1])
    return out


def _attention(seed: int) -> MultiheadAttention:
    """A float64 attention layer (d_model = 8, h = 2) with weights drawn from ``seed``."""
    attn = MultiheadAttention(D_MODEL, H).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for lin in (attn.w_q, attn.w_k, attn.w_v, attn.w_o):
            lin.weight.copy_(torch.randn(D_MODEL, D_MODEL, generator=g, dtype=torch.float64) / math.sqrt(D_MODEL))
    return attn.eval()


def _randn(*shape: int, seed: int) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _split(attn: MultiheadAttention, t: Tensor) -> Tensor:
    B, p, _ = t.shape
    return t.view(B, p, attn.h, attn.d_head).transpose(1, 2)  # (B, p, d_model) -> (B, h, p, d_head)


@torch.no_grad()
def _attend(attn: MultiheadAttention, x: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
            scale: float | None = None, project_out: bool = True, softmax_dim: int = -1,
            keep_nan: bool = False) -> Tensor:
    """Queries of x (B, m, d_model) attend to k, v (B, h, p, d_head), p positions: (B, m, d_model). For the mistakes.

    A row whose keys are all blocked reads nothing (zero weights), unless ``keep_nan``.
    """
    B, m, _ = x.shape
    q = _split(attn, attn.w_q(x))  # (B, h, m, d_head)
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(attn.d_head) if scale is None else scale)  # (B, h, m, p)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=softmax_dim)  # (B, h, m, p)
    if not keep_nan:
        weights = torch.nan_to_num(weights, nan=0.0)
    out = (weights @ v).transpose(1, 2).reshape(B, m, attn.d_model)  # (B, m, d_model)
    return attn.w_o(out) if project_out else out


def _as_output(out: Any, shape: tuple[int, ...], ex: Exercise) -> Tensor:
    if out is None:
        fail(ex, "returned_none")
    if isinstance(out, tuple):
        fail(ex, "returns_tuple", n=len(out))
    if not isinstance(out, Tensor):
        fail(ex, "not_tensor", shape=shape, type=type(out).__name__)
    if tuple(out.shape) == shape:
        return out
    B, m, d_model = shape
    if tuple(out.shape) == (B, H, m, D_HEAD):
        fail(ex, "heads_not_merged", shape=tuple(out.shape))
    fail(ex, "wrong_shape", expected=shape, got=tuple(out.shape))


def _np(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _number(value: Any, ex: Exercise, what: str) -> float:
    if value is None:
        fail(ex, "none", what=what)
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        fail(ex, "not_number", what=what, type=type(value).__name__)
    return float(value)


def _is_integer(value: Any) -> bool:
    """True for a Python or NumPy integer, or a one-element integer tensor (not a bool, not a float)."""
    if isinstance(value, Tensor) and value.numel() == 1:
        return not value.dtype.is_floating_point and value.dtype != torch.bool
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _require_integers(values: tuple[Any, ...], ex: Exercise) -> None:
    """The values are right; fail if any of them is a float (a count must be an exact integer)."""
    floats = [v for v in values if not _is_integer(v)]
    if floats:
        fail(ex, "float", value=floats[0])


# -- Exercise 5.1 ---------------------------------------------------------------------------------

def check_cache_bytes(cache_bytes: Callable) -> None:
    """Exercise 5.1: ``cache_bytes(n_layers, n, steps, d_model, dtype_bytes) -> (cross_bytes, self_bytes)``."""
    ex = exercise("5.1")
    for L, n, T, d, b in ((3, 7, 5, 16, 4), (5, 11, 4, 24, 2)):
        got = call(cache_bytes, L, n, T, d, b, exercise=ex)
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            fail(ex, "not_pair", type=type(got).__name__)
        pair = np.array([_number(got[0], ex, "cross_bytes"), _number(got[1], ex, "self_bytes")])
        want = np.array([2 * L * n * d * b, 2 * L * T * d * b])
        if close(pair, want, tol=0):
            _require_integers(tuple(got), ex)
            continue
        args = f"(n_layers={L}, n={n}, steps={T}, d_model={d}, dtype_bytes={b})"
        diagnose(pair, [
            (want[::-1], "swapped"),
            (want / 2, "only_keys"),
            (want / L, "one_layer"),
            (want / b, "counts_values"),
            (np.array([2 * L * n * T * d * b, want[1]]), "cross_grows"),
            (np.array([want[0], 2 * L * (T + 1) * d * b]), "self_off_by_one"),
            (np.array([want[0], want[0]]), "self_holds_source"),
        ], ex, "wrong", args=args, cross=want[0], self_=want[1])
    passed(ex, "cross 2·L·n·d values, fixed; self 2·L·d more per step.")


# -- Exercise 5.2 ---------------------------------------------------------------------------------

def check_self_attention_step(self_attention_step: Callable) -> None:
    """Exercise 5.2: ``self_attention_step(attn, x_new (B, 1, d_model), cache) -> (B, 1, d_model)``, cache grows by one row."""
    ex = exercise("5.2")
    B, T = 3, 4
    attn = _attention(52)
    x = _randn(B, T, D_MODEL, seed=520)  # (B, T, d_model): the states fed at steps 0..T-1
    with torch.no_grad():
        full = attn(x, mask=torch.ones(T, T, dtype=torch.bool).tril())  # (B, T, d_model): causal, no cache
        k_all, v_all = attn.project_kv(x)  # (B, h, T, d_head)

    def step(t: int, cache: KVCache) -> Tensor:
        before = cache.length
        try:
            out = _call(self_attention_step, attn, x[:, t:t + 1], cache, exercise=ex, where=f" at step {t}")
        except CheckFailed:
            if cache.k is not None and cache.k.shape[-1] != D_HEAD:
                fail(ex, "width_concat", shape=tuple(cache.k.shape))
            raise
        if cache.length > before + 1:
            fail(ex, "appends_twice", t=t, before=before, after=cache.length, expected=before + 1)
        return _as_output(out, (B, 1, D_MODEL), ex)

    def prefilled(t: int) -> KVCache:
        cache = KVCache()
        cache.append(k_all[:, :, :t], v_all[:, :, :t])  # rows 0..t-1, as earlier steps left them
        return cache

    # 1. One step with one row cached: only to see that the cache grows along the position axis.
    step(1, prefilled(1))

    # 2. One step with two rows cached: query 2 must read rows 0, 1 and itself.
    t = 2
    cache = prefilled(t)
    out = step(t, cache)
    if not close(_np(out), _np(full[:, t:t + 1])):
        new = x[:, t:t + 1]
        rows = slice(0, t + 1)
        diagnose(_np(out), [
            (_np(_attend(attn, new, k_all[:, :, :t], v_all[:, :, :t])), "before_append"),
            (_np(_attend(attn, new, k_all[:, :, t:t + 1], v_all[:, :, t:t + 1])), "overwrites"),
            (_np(_attend(attn, new, k_all[:, :, :1], v_all[:, :, :1])), "mask_offset"),
            (_np(_attend(attn, new, k_all[:, :, rows], v_all[:, :, rows], scale=1.0)), "unscaled"),
            (_np(_attend(attn, new, k_all[:, :, rows], v_all[:, :, rows], scale=1 / math.sqrt(D_MODEL))),
             "scale_d_model"),
            (_np(_attend(attn, new, k_all[:, :, rows], v_all[:, :, rows], project_out=False)), "no_w_o"),
            (_np(_attend(attn, new, k_all[:, :, rows], v_all[:, :, rows], softmax_dim=-2)), "softmax_queries"),
        ], ex, "wrong")
    if cache.length != t + 1:
        fail(ex, "not_stored", rows=cache.length, expected=t + 1)
    if not (close(_np(cache.k), _np(k_all[:, :, :t + 1])) and close(_np(cache.v), _np(v_all[:, :, :t + 1]))):
        fail(ex, "wrong_rows")

    # 3. A whole decode from an empty cache.
    cache = KVCache()
    outs = [step(t, cache) for t in range(T)]
    if not close(_np(torch.cat(outs, dim=1)), _np(full)):
        fail(ex, "empty_cache")
    if cache.length != T:
        fail(ex, "not_stored", rows=cache.length, expected=T)
    passed(ex, f"{T} one-token steps = causal self-attention; +1 row per step.")


# -- Exercise 5.3 ---------------------------------------------------------------------------------

class _Counter:
    """Counts the calls of a linear map and the rows it projects (a forward hook)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls, self.rows = 0, 0
        self.handle = module.register_forward_hook(self)

    def __call__(self, module: torch.nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        self.calls += 1
        self.rows += inputs[0].shape[:-1].numel()


def check_cross_attention_step(cross_attention_step: Callable) -> None:
    """Exercise 5.3: ``cross_attention_step(attn, x_new (B, 1, d_model), cache, s (B, n, d_model) or None, mask (B, 1, 1, n))``."""
    ex = exercise("5.3")
    B, n, T = 3, 5, 3
    attn = _attention(53)
    x = _randn(B, T, D_MODEL, seed=530)  # (B, T, d_model): one target token per step
    s = _randn(B, n, D_MODEL, seed=531)  # (B, n, d_model): the source, the same at every step
    lengths = torch.tensor([5, 3, 4])
    mask = (torch.arange(n) < lengths[:, None])[:, None, None, :]  # (B, 1, 1, n), True = may attend
    with torch.no_grad():
        full = attn(x, s, mask=mask)  # (B, T, d_model): all steps at once, no cache
        k_src, v_src = attn.project_kv(s)  # (B, h, n, d_head)
    counters = [_Counter(attn.w_k), _Counter(attn.w_v)]
    cache = KVCache(static=True)
    try:
        for t in range(T):
            try:
                out = _call(cross_attention_step, attn, x[:, t:t + 1], cache, s, mask, exercise=ex, where=f" at step {t}")
            except CheckFailed as err:
                if "never append" in err.text:  # KVCache.append refuses a static cache, even an empty one
                    fail(ex, "uses_append")
                if cache.k is not None and cache.k.shape[-2] > n:
                    fail(ex, "appends_source", rows=cache.k.shape[-2], t=t, n=n)
                raise
            out = _as_output(out, (B, 1, D_MODEL), ex)
            if not close(_np(out), _np(full[:, t:t + 1])):
                new = x[:, t:t + 1]
                if torch.isnan(out).any():
                    over_query = _attend(attn, new, k_src, v_src, mask, softmax_dim=-2, keep_nan=True)
                    same = torch.isnan(out) == torch.isnan(over_query)
                    if same.all() and close(_np(torch.nan_to_num(out)), _np(torch.nan_to_num(over_query))):
                        fail(ex, "softmax_queries")
                    for dim, axis in ((1, "head"), (0, "sentence of the batch")):  # (B, h, 1, n): other wrong axes
                        over = _attend(attn, new, k_src, v_src, mask, softmax_dim=dim, keep_nan=True)
                        if torch.equal(torch.isnan(out), torch.isnan(over)) and close(
                                _np(torch.nan_to_num(out)), _np(torch.nan_to_num(over))):
                            fail(ex, "softmax_axis", dim=dim, axis=axis)
                    fail(ex, "nan_inverted")
                diagnose(_np(out), [
                    (_np(_attend(attn, new, k_src, v_src)), "no_mask"),
                    (_np(_attend(attn, new, k_src, v_src, ~mask)), "inverted"),
                    (_np(_attend(attn, new, k_src, v_src, mask, scale=1.0)), "unscaled"),
                    (_np(_attend(attn, new, k_src, v_src, mask, scale=1 / math.sqrt(D_MODEL))), "scale_d_model"),
                    (_np(_attend(attn, new, k_src, v_src, mask, project_out=False)), "no_w_o"),
                ], ex, "wrong", t=t)
        calls = counters[0].calls
        if cache.k is None:
            fail(ex, "never_cached", T=T)
        if cache.k.shape[-2] != n:
            fail(ex, "wrong_length", rows=cache.k.shape[-2], n=n)
        if calls > 1 or counters[1].calls > 1:
            fail(ex, "reprojects", calls=calls, T=T)
        if not (close(_np(cache.k), _np(k_src)) and close(_np(cache.v), _np(v_src))):
            fail(ex, "wrong_cache")
        try:
            later = _call(cross_attention_step, attn, x[:, :1], cache, None, mask, exercise=ex)
        except CheckFailed as err:
            fail(ex, "needs_source", detail=err.text.rsplit(" raised ", 1)[-1])
        if not close(_np(_as_output(later, (B, 1, D_MODEL), ex)), _np(full[:, :1])):
            fail(ex, "ignores_cache")
    finally:
        for c in counters:
            c.handle.remove()
    passed(ex, f"{T} steps = cross-attention; W_K, W_V ran once, on {n} rows.")


# -- Exercise 5.4 ---------------------------------------------------------------------------------

def _self_flops(T: int, d: int, cached: bool, proj: int = 8, offset: int = 1, products: int = 2) -> int:
    """Σ over steps t of proj·f·d² (projections) + products·2·f·keys·d (QKᵀ and AV), keys = t + offset."""
    total = 0
    for t in range(T):
        f = 1 if cached else t + offset  # tokens fed at step t
        total += proj * f * d * d + products * 2 * f * (t + offset) * d
    return total


def check_self_attention_flops(self_attention_flops: Callable) -> None:
    """Exercise 5.4: ``self_attention_flops(steps, d_model, cached) -> int``: one decoder self-attention layer, T steps."""
    ex = exercise("5.4")
    for T, d in ((5, 8), (7, 12)):
        for cached in (False, True):
            mode = "cached" if cached else "uncached"
            raw = call(self_attention_flops, T, d, cached, exercise=ex)
            got = _number(raw, ex, f"the result for cached={cached}")
            want = _self_flops(T, d, cached)
            if got == want:
                _require_integers((raw,), ex)
                continue
            shown = f"{got:,.0f}" if got == int(got) else f"{got:,}"
            case = f"for steps={T}, d_model={d}, cached={cached} you returned {shown}, expected {want:,}"
            mistakes = [
                (want / 2, "no_factor_two"),
                (_self_flops(T, d, cached, offset=0), "off_by_one"),
                (_self_flops(T, d, cached, proj=6), "three_projections"),
                (_self_flops(T, d, cached, products=1), "one_product"),
                (_self_flops(T, d, not cached), "swapped_cases"),
            ]
            if cached:
                mistakes += [
                    (sum(8 * d * d + 4 * d for _ in range(T)), "one_key"),
                    (sum(4 * d * d + 4 * (t + 1) * d * d + 4 * (t + 1) * d for t in range(T)), "reprojects_prefix"),
                    (8 * d * d + 4 * T * d, "last_step"),
                ]
            else:
                m_of = [t + 1 for t in range(T)]
                mistakes += [
                    (sum(8 * f * d * d + 4 * f * d for f in m_of), "queries_one_key"),
                    (8 * T * d * d + 4 * T * T * d, "last_step"),
                ]
            diagnose(np.asarray(got), mistakes, ex, "wrong", lead=f"({mode}) {case}: ",
                     fallback_lead=f"({mode}) {case}. ")
    passed(ex, "per step 8·f·d² + 4·f·(t+1)·d, f = 1 cached, t + 1 not.")


# -- Exercise 5.5 ---------------------------------------------------------------------------------

def check_share_across_beams(share_across_beams: Callable) -> None:
    """Exercise 5.5: ``share_across_beams(k (1, h, n, d_head), beams) -> (beams, h, n, d_head)``, a view of k."""
    ex = exercise("5.5")
    h, n, beams = 2, 5, 3
    k = _randn(1, h, n, D_HEAD, seed=54)  # (1, h, n, d_head): one source's cached keys
    before = k.clone()
    out = _call(share_across_beams, k, beams, exercise=ex)
    if out is None:
        fail(ex, "returned_none")
    if not isinstance(out, Tensor):
        fail(ex, "not_tensor", type=type(out).__name__)
    shape = (beams, h, n, D_HEAD)
    expect_shape(tuple(out.shape), shape, ex, {(1, h, n, D_HEAD): "returns_k", (1, h, beams * n, D_HEAD): "source_axis",
                                               (beams, 1, h, n, D_HEAD): "new_axis"})
    if not torch.equal(k, before):
        fail(ex, "changed_k")
    if not torch.equal(out, k.expand(shape)):
        fail(ex, "wrong_values")
    same_memory = out.untyped_storage().data_ptr() == k.untyped_storage().data_ptr()
    if not (same_memory and out.stride(0) == 0):
        fail(ex, "copy", size=out.untyped_storage().nbytes(), beams=beams, k_bytes=k.untyped_storage().nbytes())
    passed(ex, f"{beams} beams read one copy of K (stride 0, k's memory).")
