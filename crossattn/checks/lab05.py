"""Checkers for the exercises of lab 5, caching: compute the library once (PyTorch).

The inputs use B ≠ h, m ≠ n and d_head ≠ n, so a cache grown along the wrong axis or a mask of the
wrong shape fails loudly. Every named common mistake gets its own hint; tests/checks/test_lab05.py
feeds each one in, written the way a student would write it.
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
from ._core import CheckFailed, call, close, diagnose, passed

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


def _call(fn: Callable, *args: Any, exercise: str, where: str = "") -> Any:
    """Call the student's torch function without gradients; a stub or a crash becomes a one-line hint."""
    if not callable(fn):
        raise CheckFailed(f"{exercise}: pass your function itself (without calling it), got {type(fn).__name__}")
    name = getattr(fn, "__name__", "your function")
    try:
        with torch.no_grad():
            return fn(*args)
    except NotImplementedError:
        raise CheckFailed(
            f"{exercise}: `{name}` still raises NotImplementedError — replace the `raise` line with your code."
        ) from None
    except Exception as err:  # noqa: BLE001 - any crash of student code becomes a hint
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise CheckFailed(
            f"{exercise}: calling `{name}` with ({_describe(args)}){where} raised {type(err).__name__}: {first}"
        ) from None


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
            scale: float | None = None, project_out: bool = True, softmax_dim: int = -1) -> Tensor:
    """Queries of x (B, m, d_model) attend to k, v (B, h, p, d_head), p positions: (B, m, d_model). For the mistakes."""
    B, m, _ = x.shape
    q = _split(attn, attn.w_q(x))  # (B, h, m, d_head)
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(attn.d_head) if scale is None else scale)  # (B, h, m, p)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=softmax_dim), nan=0.0)  # (B, h, m, p)
    out = (weights @ v).transpose(1, 2).reshape(B, m, attn.d_model)  # (B, m, d_model)
    return attn.w_o(out) if project_out else out


def _as_output(out: Any, shape: tuple[int, ...], ex: str) -> Tensor:
    if out is None:
        raise CheckFailed(f"{ex}: your function returned None — did you forget the `return` statement?")
    if isinstance(out, tuple):
        raise CheckFailed(f"{ex}: your function returned a tuple of {len(out)} items; return only the output tensor (B, 1, d_model).")
    if not isinstance(out, Tensor):
        raise CheckFailed(f"{ex}: return a torch tensor of shape {shape}, got {type(out).__name__}")
    if tuple(out.shape) == shape:
        return out
    B, m, d_model = shape
    if tuple(out.shape) == (B, H, m, D_HEAD):
        raise CheckFailed(f"{ex}: your output is still split into heads, {tuple(out.shape)}: merge them, "
                          "(B, h, 1, d_head) -> (B, 1, h·d_head), and apply attn.w_o.")
    raise CheckFailed(f"{ex}: expected an output of shape {shape} (B, 1, d_model), got {tuple(out.shape)}")


def _np(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _number(value: Any, ex: str, what: str) -> float:
    if value is None:
        raise CheckFailed(f"{ex}: {what} is None — did you forget the `return` statement?")
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CheckFailed(f"{ex}: {what} should be a number, got {type(value).__name__}")
    return float(value)


def _is_integer(value: Any) -> bool:
    """True for a Python or NumPy integer, or a one-element integer tensor (not a bool, not a float)."""
    if isinstance(value, Tensor) and value.numel() == 1:
        return not value.dtype.is_floating_point and value.dtype != torch.bool
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _require_integers(values: tuple[Any, ...], ex: str, what: str) -> None:
    """The values are right; fail if any of them is a float (a count must be an exact integer)."""
    floats = [v for v in values if not _is_integer(v)]
    if floats:
        raise CheckFailed(f"{ex}: the right value, but as a float ({floats[0]!r}): a count of {what} is an exact integer, "
                          "so return an int. Use integer arithmetic: `//` instead of `/`, no float literals like 2.0, no math.pow.")


# -- Exercise 5.1 ---------------------------------------------------------------------------------

def check_cache_bytes(cache_bytes: Callable) -> None:
    """Exercise 5.1: ``cache_bytes(n_layers, n, steps, d_model, dtype_bytes) -> (cross_bytes, self_bytes)``."""
    ex = "Exercise 5.1 (cache_bytes)"
    for L, n, T, d, b in ((3, 7, 5, 16, 4), (5, 11, 4, 24, 2)):
        got = call(cache_bytes, L, n, T, d, b, exercise=ex)
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            raise CheckFailed(f"{ex}: return a pair (cross_bytes, self_bytes), got {type(got).__name__}")
        pair = np.array([_number(got[0], ex, "cross_bytes"), _number(got[1], ex, "self_bytes")])
        want = np.array([2 * L * n * d * b, 2 * L * T * d * b])
        if close(pair, want, tol=0):
            _require_integers(tuple(got), ex, "bytes")
            continue
        args = f"(n_layers={L}, n={n}, steps={T}, d_model={d}, dtype_bytes={b})"
        diagnose(pair, [
            (want[::-1], "your two numbers are swapped, or each cache holds the other's positions: the cross cache holds the n SOURCE positions, the self cache the T positions fed to the decoder."),
            (want / 2, "each layer caches two tensors, K and V: count both (a factor 2)."),
            (want / L, "every decoder layer has its own cache (its own W_K, W_V): multiply by n_layers."),
            (want / b, "you counted values, not bytes: multiply by dtype_bytes (2 for float16, 4 for float32)."),
            (np.array([2 * L * n * T * d * b, want[1]]), "your cross cache grows with the steps. The source does not change while decoding: its K, V are stored once, n rows per layer, whatever T is."),
            (np.array([want[0], 2 * L * (T + 1) * d * b]), "off by one: after T steps the self cache holds T rows, one per token fed in (BOS and the first T − 1 generated tokens; the last one is not fed back yet)."),
            (np.array([want[0], want[0]]), "the self cache holds the target side, the T tokens fed so far, not the n source positions."),
        ], ex, f"for {args} expected ({want[0]:.0f}, {want[1]:.0f}) bytes: 2·L·n·d_model·dtype_bytes and 2·L·T·d_model·dtype_bytes.")
    passed(ex, "cross 2·L·n·d values, fixed; self 2·L·d more per step.")


# -- Exercise 5.2 ---------------------------------------------------------------------------------

def check_self_attention_step(self_attention_step: Callable) -> None:
    """Exercise 5.2: ``self_attention_step(attn, x_new (B, 1, d_model), cache) -> (B, 1, d_model)``, cache grows by one row."""
    ex = "Exercise 5.2 (self_attention_step)"
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
                raise CheckFailed(f"{ex}: your cache's K is {tuple(cache.k.shape)}: you concatenated along the width. "
                                  "Cached rows are positions: concatenate along dim=-2 (cache.append does this).") from None
            raise
        if cache.length > before + 1:
            raise CheckFailed(f"{ex}: at step {t} your function grew the cache from {before} to {cache.length} rows, "
                              f"expected {before + 1}: you appended the new K, V more than once. cache.append(k_new, v_new) "
                              "stores them AND returns all of K and V: call it once per step and use what it returns.")
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
            (_np(_attend(attn, new, k_all[:, :, :t], v_all[:, :, :t])), "off by one: the new query attended only to the rows cached BEFORE it. A token may read itself: append its K, V first, then attend."),
            (_np(_attend(attn, new, k_all[:, :, t:t + 1], v_all[:, :, t:t + 1])), "the new query read only its own K, V: you replaced the cache by the new row. Append it (along the position axis, dim=-2) and attend over all cached rows."),
            (_np(_attend(attn, new, k_all[:, :, :1], v_all[:, :, :1])), "the new query read only the first cached row: a causal mask inside a step is off by the offset. With a cache no mask is needed: the future is not in the cache yet."),
            (_np(_attend(attn, new, k_all[:, :, rows], v_all[:, :, rows], scale=1.0)), "you forgot to scale the scores by 1/√d_head (d_head = attn.d_head, the width of one head)."),
            (_np(_attend(attn, new, k_all[:, :, rows], v_all[:, :, rows], scale=1 / math.sqrt(D_MODEL))), "scale the scores by 1/√d_head, the width of ONE head (attn.d_head), not by 1/√d_model."),
            (_np(_attend(attn, new, k_all[:, :, rows], v_all[:, :, rows], project_out=False)), "you forgot the output projection: apply attn.w_o to the merged heads."),
            (_np(_attend(attn, new, k_all[:, :, rows], v_all[:, :, rows], softmax_dim=-2)), "your attention weights do not sum to 1 over the keys: "
             "take the softmax over the last axis, the keys (dim=-1). Over dim=-2, the single query, every weight becomes 1."),
        ], ex, "the output must equal causal self-attention at this position: append the new K, V to the cache, then attend over all cached rows.")
    if cache.length != t + 1:
        raise CheckFailed(f"{ex}: your output is right, but the cache holds {cache.length} rows after the step instead of {t + 1}: "
                          "store the grown K, V in the cache (cache.append does both), or the next step will not see this token.")
    if not (close(_np(cache.k), _np(k_all[:, :, :t + 1])) and close(_np(cache.v), _np(v_all[:, :, :t + 1]))):
        raise CheckFailed(f"{ex}: the cache's rows are not the K, V of the tokens fed so far: append attn.project_kv(x_new), "
                          "nothing else, along dim=-2.")

    # 3. A whole decode from an empty cache.
    cache = KVCache()
    outs = [step(t, cache) for t in range(T)]
    if not close(_np(torch.cat(outs, dim=1)), _np(full)):
        raise CheckFailed(f"{ex}: one step at a time from an empty cache, your outputs differ from causal self-attention "
                          "over the whole prefix. Does your function work when the cache is empty (step 0)?")
    if cache.length != T:
        raise CheckFailed(f"{ex}: after {T} steps the cache should hold {T} rows, it holds {cache.length}.")
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
    ex = "Exercise 5.3 (cross_attention_step)"
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
                if "never append" in str(err):  # KVCache.append refuses a static cache, even an empty one
                    raise CheckFailed(f"{ex}: you called append() on the cross-attention cache, which refused. A static cache "
                                      "is filled with store(), never append(): at the first step (cache.k is None) call "
                                      "cache.store(k, v) once; append() is for the growing self-attention cache.") from None
                if cache.k is not None and cache.k.shape[-2] > n:
                    raise CheckFailed(f"{ex}: your cross cache grew to {cache.k.shape[-2]} rows at step {t} (n = {n}): you appended "
                                      "the source K, V again. The source does not change while decoding: store its K, V once, never append.") from None
                raise
            out = _as_output(out, (B, 1, D_MODEL), ex)
            if not close(_np(out), _np(full[:, t:t + 1])):
                new = x[:, t:t + 1]
                if torch.isnan(out).any():
                    raise CheckFailed(f"{ex}: your output holds NaN: some query had every key blocked. Is your mask inverted? "
                                      "True = may attend, so block where the mask is False: masked_fill(~mask, -inf).")
                diagnose(_np(out), [
                    (_np(_attend(attn, new, k_src, v_src)), "padded source positions got weight: apply the mask (True = may attend) to the scores, masked_fill(~mask, -inf), before the softmax."),
                    (_np(_attend(attn, new, k_src, v_src, ~mask)), "your mask is inverted: True means 'may attend', so block the keys where the mask is False."),
                    (_np(_attend(attn, new, k_src, v_src, mask, scale=1.0)), "you forgot to scale the scores by 1/√d_head (attn.d_head)."),
                    (_np(_attend(attn, new, k_src, v_src, mask, scale=1 / math.sqrt(D_MODEL))), "scale the scores by 1/√d_head, the width of ONE head (attn.d_head), not by 1/√d_model."),
                    (_np(_attend(attn, new, k_src, v_src, mask, project_out=False)), "you forgot the output projection: apply attn.w_o to the merged heads."),
                ], ex, f"at step {t} your output differs from cross-attention to the source: queries from x_new, K and V from s, padding masked.")
        calls = counters[0].calls
        if cache.k is None:
            raise CheckFailed(f"{ex}: your outputs are right, but the cross cache is still empty after {T} steps: you projected "
                              "the source at every step. Store its K, V in the cache at the first step (cache.store) and reuse them.")
        if cache.k.shape[-2] != n:
            raise CheckFailed(f"{ex}: your cross cache holds {cache.k.shape[-2]} rows; it should hold the n = {n} source positions, once.")
        if calls > 1 or counters[1].calls > 1:
            raise CheckFailed(f"{ex}: your outputs are right, but W_K ran on the source at {calls} of the {T} steps: you projected the "
                              "source again although its K, V were cached. Project only when the cache is empty; then reuse cache.k, cache.v.")
        if not (close(_np(cache.k), _np(k_src)) and close(_np(cache.v), _np(v_src))):
            raise CheckFailed(f"{ex}: the cross cache should hold attn.project_kv(s), the source's K and V.")
        try:
            later = _call(cross_attention_step, attn, x[:, :1], cache, None, mask, exercise=ex)
        except CheckFailed as err:
            detail = str(err).rsplit(" raised ", 1)[-1]
            raise CheckFailed(f"{ex}: with s=None after the cache was filled your function raised {detail}. Once the cache "
                              "is filled, read everything from it (K, V and their length n); the source is not needed.") from None
        if not close(_np(_as_output(later, (B, 1, D_MODEL), ex)), _np(full[:, :1])):
            raise CheckFailed(f"{ex}: with s=None and a filled cache your output is wrong: read K, V from the cache.")
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
    ex = "Exercise 5.4 (self_attention_flops)"
    for T, d in ((5, 8), (7, 12)):
        for cached in (False, True):
            mode = "cached" if cached else "uncached"
            raw = call(self_attention_flops, T, d, cached, exercise=ex)
            got = _number(raw, ex, f"the result for cached={cached}")
            want = _self_flops(T, d, cached)
            if got == want:
                _require_integers((raw,), ex, "FLOPs")
                continue
            shown = f"{got:,.0f}" if got == int(got) else f"{got:,}"
            case = f"for steps={T}, d_model={d}, cached={cached} you returned {shown}, expected {want:,}"
            mistakes = [
                (want / 2, f"({mode}) {case}: a multiply-add is 2 FLOPs: an (a×b)·(b×c) product costs 2·a·b·c."),
                (_self_flops(T, d, cached, offset=0), f"({mode}) {case}: off by one: at step t the decoder holds t + 1 tokens (BOS and t generated ones)."),
                (_self_flops(T, d, cached, proj=6), f"({mode}) {case}: count all four projections, W_Q, W_K, W_V and W_O, each a d_model × d_model map."),
                (_self_flops(T, d, cached, products=1), f"({mode}) {case}: the attention itself is TWO products, QKᵀ (the scores) and AV "
                 "(the weighted values): each costs 2·f·(t + 1)·d at step t; you counted one."),
                (_self_flops(T, d, not cached), f"({mode}) {case}: you swapped the two cases: with the cache each step feeds only the newest token; without it, the whole prefix."),
            ]
            if cached:
                mistakes += [
                    (sum(8 * d * d + 4 * d for _ in range(T)), f"(cached) {case}: the new query still attends to all t + 1 cached keys, not just its own."),
                    (sum(4 * d * d + 4 * (t + 1) * d * d + 4 * (t + 1) * d for t in range(T)), f"(cached) {case}: with the cache only the new token's K and V are projected; you re-projected the whole prefix's K, V at every step."),
                    (8 * d * d + 4 * T * d, f"(cached) {case}: return the total over all T steps, not the cost of the last step."),
                ]
            else:
                m_of = [t + 1 for t in range(T)]
                mistakes += [
                    (sum(8 * f * d * d + 4 * f * d for f in m_of), f"(uncached) {case}: each of the f prefix queries attends to all f keys of the prefix, not to one."),
                    (8 * T * d * d + 4 * T * T * d, f"(uncached) {case}: return the total over all T steps, not the cost of the last step."),
                ]
            diagnose(np.asarray(got), mistakes, ex,
                     f"({mode}) {case}. Count, at each step t, the four projections of the f tokens fed (f = 1 with the cache, "
                     "t + 1 without) and the two attention products of their f queries over the t + 1 positions so far; "
                     "2 FLOPs per multiply-add.")
    passed(ex, "per step 8·f·d² + 4·f·(t+1)·d, f = 1 cached, t + 1 not.")


# -- Exercise 5.5 ---------------------------------------------------------------------------------

def check_share_across_beams(share_across_beams: Callable) -> None:
    """Exercise 5.5: ``share_across_beams(k (1, h, n, d_head), beams) -> (beams, h, n, d_head)``, a view of k."""
    ex = "Exercise 5.5 (share_across_beams)"
    h, n, beams = 2, 5, 3
    k = _randn(1, h, n, D_HEAD, seed=54)  # (1, h, n, d_head): one source's cached keys
    before = k.clone()
    out = _call(share_across_beams, k, beams, exercise=ex)
    if out is None:
        raise CheckFailed(f"{ex}: your function returned None — did you forget the `return` statement?")
    if not isinstance(out, Tensor):
        raise CheckFailed(f"{ex}: return a torch tensor, got {type(out).__name__}")
    shape = (beams, h, n, D_HEAD)
    got = tuple(out.shape)
    if got != shape:
        hints = {
            (1, h, n, D_HEAD): "You returned k as it is, (1, h, n, d_head): give it a beam axis of size beams, (beams, h, n, d_head).",
            (1, h, beams * n, D_HEAD): "You stacked the beams along the SOURCE axis, so each query would read the source several times: the beams go on axis 0.",
            (beams, 1, h, n, D_HEAD): "You added a new axis: k already has a batch axis of size 1 — give that axis size beams instead of adding one.",
        }
        raise CheckFailed(f"{ex}: expected shape {shape}, got {got}. {hints.get(got, '')}".rstrip())
    if not torch.equal(k, before):
        raise CheckFailed(f"{ex}: your function changed k; it must leave the cached keys as they are.")
    if not torch.equal(out, k.expand(shape)):
        raise CheckFailed(f"{ex}: every beam must see exactly the source's keys: out[b] == k[0] for each beam b.")
    same_memory = out.untyped_storage().data_ptr() == k.untyped_storage().data_ptr()
    if not (same_memory and out.stride(0) == 0):
        size = out.untyped_storage().nbytes()
        raise CheckFailed(f"{ex}: the values are right, but your result is a copy: it holds {size} bytes of its own, "
                          f"{beams} times k's {k.untyped_storage().nbytes()}. You need a view of k with stride 0 along the "
                          "beam axis, so that every beam reads the same memory: look up Tensor.expand (repeat, cat and "
                          "contiguous all copy).")
    passed(ex, f"{beams} beams read one copy of K (stride 0, k's memory).")
