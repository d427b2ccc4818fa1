"""Checkers for the exercises of lab 4, cross-attention inside the encoder–decoder (PyTorch).

Inputs use m ≠ n (and B ≠ h) throughout, so a mask or a weight matrix with its axes swapped
shows up as a wrong shape, which gets its own hint. Every named common mistake gets its own
hint, by key from crossattn/checks/exercises/lab04.py; tests/checks/test_lab04.py feeds each one
in, written the way a student would write it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..nn.data import PAD
from ..nn.layers import MultiheadAttention
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, fail, passed
from ._torch_habits import watch
from .registry import Exercise, exercise

__all__ = ["check_causal_mask", "check_cross_mask", "check_cross_attention", "check_honest_loss",
           "check_source_influence"]


def _call(fn: Callable, *args: Any, exercise: Exercise, crash_hint: str = "") -> Any:
    """Call the student's function on copies of tensor arguments; a crash gets the hint ``crash_hint``."""
    copies = [a.clone() if isinstance(a, Tensor) else a for a in args]
    with watch() as habits:
        try:
            return call(fn, *copies, exercise=exercise)
        except CheckFailed as err:
            if err.key == "crash":
                for key, seen in (("view_after_transpose", habits.view_after_transpose),
                                  ("batched_transpose", habits.batched_transpose)):
                    if seen and key in exercise.hints:
                        fail(exercise, key, lead=f"{err.text}\n  Hint: ")
            if crash_hint and err.key == "crash":
                fail(exercise, crash_hint, lead=f"{err.text}\n  Hint: ")
            raise


def _bool_tensor(got: Any, ex: Exercise) -> Tensor:
    """The student's mask as a torch bool tensor, or a hint about its type."""
    if got is None:
        fail(ex, "returned_none")
    if not isinstance(got, Tensor):
        fail(ex, "not_tensor", type=type(got).__name__)
    if got.dtype != torch.bool:
        if got.is_floating_point() and torch.isinf(got).any():
            fail(ex, "additive")
        fail(ex, "not_bool", dtype=got.dtype)
    return got


# ---------------------------------------------------------------------------------- 4.1 causal mask


def check_causal_mask(causal_mask: Callable) -> None:
    """Exercise 4.1: ``causal_mask(m) -> (m, m)`` bool tensor, True where query i may read key j ≤ i."""
    ex = exercise("4.1")
    for m in (5, 1, 3):
        got = _bool_tensor(_call(causal_mask, m, exercise=ex), ex)
        expect_shape(tuple(got.shape), (m, m), ex, {(1, m, m): "batched"})
        want = torch.ones(m, m, dtype=torch.bool).tril()
        if torch.equal(got, want):
            continue
        ones = torch.ones(m, m, dtype=torch.bool)
        diagnose(got.numpy(), [
            (ones.triu().numpy(), "upper"),
            ((~want).numpy(), "inverted"),
            (ones.tril(-1).numpy(), "strict"),
            (ones.numpy(), "everything"),
        ], ex, "wrong")
    passed(ex, "token i reads tokens 0..i.")


# ---------------------------------------------------------------------------------- 4.2 cross mask


def _padded_batch() -> tuple[Tensor, Tensor]:
    """src (B, n) = (3, 6) and tgt_in (B, m) = (3, 4), padded (PAD = 0) at different places."""
    src = torch.tensor([[5, 7, 3, 9, 4, 8],
                        [6, 3, 4, 0, 0, 0],
                        [9, 9, 5, 7, 0, 0]])
    tgt_in = torch.tensor([[1, 12, 14, 0],
                           [1, 15, 13, 16],
                           [1, 11, 0, 0]])
    return src, tgt_in


def check_cross_mask(cross_mask: Callable) -> None:
    """Exercise 4.2: ``cross_mask(src (B, n), tgt_in (B, m)) -> (B, 1, 1, n)`` bool, True = real source token."""
    ex = exercise("4.2")
    src, tgt_in = _padded_batch()
    (B, n), m = src.shape, tgt_in.shape[1]
    got = _bool_tensor(_call(cross_mask, src, tgt_in, exercise=ex), ex)
    src_real = src != PAD  # (B, n)
    want = src_real[:, None, None, :]  # (B, 1, 1, n)
    shape = tuple(got.shape)
    if shape == (B, 1, 1, m) or shape == (B, 1, m, 1):
        fail(ex, "target_length", m=m)
    expect_shape(shape, (B, 1, 1, n), ex, {(B, 1, n, 1): "query_axis", (B, n): "flat", (B, 1, n): "three_axes",
                                           (B, 1, m, n): "full", (B, n, 1, 1): "source_second"})
    if not torch.equal(got, want):
        diagnose(got.numpy().astype(float), [
            ((~want).numpy().astype(float), "inverted"),
            (torch.ones_like(want).numpy().astype(float), "no_padding"),
        ], ex, "wrong")
    passed(ex, f"({B}, 1, 1, {n}), True for real tokens.")


# ---------------------------------------------------------------------------------- 4.3 cross attention


def _attn_inputs() -> tuple[MultiheadAttention, Tensor, Tensor, Tensor]:
    """A seeded MultiheadAttention (d_model 12, h 2, float64), y (3, 4, 12), memory (3, 5, 12), mask (3, 1, 1, 5).

    B, h, m, n, d_head and d_model are all different, so no transposed tensor has the right shape.
    """
    gen = torch.Generator().manual_seed(404)
    with torch.random.fork_rng(devices=[]):  # leave the lab's own random stream as it was
        torch.manual_seed(404)
        attn = MultiheadAttention(12, 2).double().eval()
    y = torch.randn(3, 4, 12, generator=gen, dtype=torch.float64)  # (B, m, d_model) decoder states
    memory = torch.randn(3, 5, 12, generator=gen, dtype=torch.float64)  # (B, n, d_model) encoder output
    lengths = torch.tensor([5, 3, 4])  # real source tokens per sentence; the rest is padding
    mask = (torch.arange(5)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, n)
    return attn, y, memory, mask


def _variants(attn: MultiheadAttention, y: Tensor, memory: Tensor, mask: Tensor | None) -> dict[str, tuple[Tensor, Tensor]]:
    """What known wrong wirings return (out, weights), computed on the checker's inputs."""
    B, m, D = y.shape
    h, dh = attn.h, attn.d_head

    def split(t: Tensor) -> Tensor:
        return t.view(t.shape[0], t.shape[1], h, dh).transpose(1, 2)  # (B, L, D) -> (B, h, L, dh)

    def run(q: Tensor, k: Tensor, v: Tensor, scale: float, msk: Tensor | None, w_o: bool = True,
            dim: int = -1, fill_where_true: bool = False) -> tuple[Tensor, Tensor]:
        s = q @ k.transpose(-2, -1) * scale  # (B, h, m, n)
        if msk is not None:
            s = s.masked_fill(msk if fill_where_true else ~msk, float("-inf"))
        w = torch.nan_to_num(torch.softmax(s, dim=dim), nan=0.0)
        o = (w @ v).transpose(1, 2).reshape(B, q.shape[-2], D)
        return (attn.w_o(o) if w_o else o), w

    with torch.no_grad():
        q, k, v = split(attn.w_q(y)), split(attn.w_k(memory)), split(attn.w_v(memory))
        bad_split = attn.w_q(y).reshape(B, h, m, dh)
        bad_k = attn.w_k(memory).reshape(B, h, -1, dh)
        bad_v = attn.w_v(memory).reshape(B, h, -1, dh)
        scale = 1 / math.sqrt(dh)
        out = {
            "no_scale": run(q, k, v, 1.0, mask),
            "scale_d_model": run(q, k, v, 1 / math.sqrt(D), mask),
            "no_w_o": run(q, k, v, scale, mask, w_o=False),
            "v_from_w_k": run(q, k, k, scale, mask),
            "bad_split": run(bad_split, bad_k, bad_v, scale, mask),
            "softmax_queries": run(q, k, v, scale, mask, dim=-2),
        }
        _, w = run(q, k, v, scale, mask)  # the right weights (B, h, m, n)
        out["merge_no_transpose"] = (attn.w_o((w @ v).reshape(B, m, D)), w)  # (B, h, m, dh) read as (B, m, D)
        if mask is not None:
            out["no_mask"] = run(q, k, v, scale, None)
            out["inverted_mask"] = run(q, k, v, scale, mask, fill_where_true=True)
    return out


def check_cross_attention(cross_attention: Callable) -> None:
    """Exercise 4.3: ``cross_attention(attn, x (B, m, d_model), memory (B, n, d_model), mask) -> (out, weights)``."""
    ex = exercise("4.3")
    attn, y, memory, mask = _attn_inputs()
    (B, m, D), n, h = y.shape, memory.shape[1], attn.h
    # Streaming cross mask: target i reads source j < i, so query row 0 has every key blocked.
    streaming = (torch.arange(n)[None, :] < torch.arange(m)[:, None])[None, None]  # (1, 1, m, n)
    for trial_mask in (None, mask, streaming):
        result = _call(cross_attention, attn, y, memory, trial_mask, exercise=ex, crash_hint="crash_shapes")
        if trial_mask is streaming and isinstance(result, tuple) and len(result) == 2:
            w = as_array(result[1], ex, "weights")
            if w.shape == (B, h, m, n) and np.isnan(w[:, :, 0]).any():
                fail(ex, "nan_rows")
            if w.shape == (B, h, m, n) and np.allclose(w[:, :, 0], 1.0 / n, atol=1e-6):
                fail(ex, "uniform_rows")
        if not (isinstance(result, tuple) and len(result) == 2):
            fail(ex, "not_pair", type=type(result).__name__)
        out, weights = as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")
        if out.shape == (B, h, m, n) and weights.shape == (B, m, D):
            fail(ex, "pair_swapped")
        expect_shape(weights, (B, h, m, n), ex, {(B, h, n, m): "swapped", (B, h, m, m): "self_attention",
                                                 (B, h, n, n): "encoder_self", (B, m, n): "no_heads",
                                                 (B, 1, m, n): "single_head"})
        expect_shape(out, (B, m, D), ex, {(B, h, m, D // h): "heads_not_merged", (B, m, D // h): "merge_heads"})
        with torch.no_grad():
            want_out = attn(y, memory, mask=trial_mask)
            want_w = attn.last_weights
        if close(weights, want_w) and close(out, want_out):
            continue
        variants = _variants(attn, y, memory, trial_mask)
        index = 1 if not close(weights, want_w) else 0
        got = weights if index else out
        diagnose(got, [(v[index].numpy(), key) for key, v in variants.items()], ex,
                 "wrong_weights" if index else "wrong_out")
    passed(ex, "Q from x; K, V from memory.")


# ---------------------------------------------------------------------------------- 4.4 honest loss


def check_honest_loss(honest_loss: Callable) -> None:
    """Exercise 4.4: ``honest_loss(n_symbols, length) -> float``: the best mean training loss without leaking."""
    ex = exercise("4.4")
    cases = [(8, 8), (5, 3), (20, 1)]
    got = []
    for V, L in cases:
        value = as_array(_call(honest_loss, V, L, exercise=ex), ex)
        if value.size != 1:
            fail(ex, "not_scalar", shape=value.shape)
        got.append(float(value))
    want = [L * math.log(V) / (L + 1) for V, L in cases]
    if not close(got, want, tol=1e-9):
        diagnose(np.array(got), [
            ([math.log(V) for V, L in cases], "per_symbol"),
            ([L * math.log2(V) / (L + 1) for V, L in cases], "bits"),
            ([math.log2(V) for V, L in cases], "bits_per_symbol"),
            ([L * math.log(V + 3) / (L + 1) for V, L in cases], "whole_vocabulary"),
            ([1 / V for V, L in cases], "probability"),
            ([0.0 for _ in cases], "zero"),
            ([(L + 1) * math.log(V) / L for V, L in cases], "eos_upside_down"),
        ], ex, "wrong")
    passed(ex, f"8 ln 8 / 9 = {want[0]:.3f}.")


# ---------------------------------------------------------------------------------- 4.5 leakage detector


_VOCAB, _M = 7, 5


def _probes() -> dict[str, Callable[[Tensor, Tensor], Tensor]]:
    """Four tiny 'models' (src (B, n), tgt_in (B, m)) -> logits (B, m, V) with known leaks.

    "peeks": target position k reads source positions j ≤ k — it sees source token k, a leak.
    "peeks_ahead": position k reads source positions j ≤ k + 1 — two future tokens.
    "honest": position k reads source j < k and its own input token — never the future.
    "shifts": source tokens j ≥ k add the same amount to every logit at k: probabilities unchanged.
    """
    gen = torch.Generator().manual_seed(45)
    table = torch.randn(16, _VOCAB, generator=gen, dtype=torch.float64)  # one logit vector per token id
    mix = torch.rand(_M, 8, generator=gen, dtype=torch.float64) + 0.5  # (m, n_max) positive weights

    def reads(src: Tensor, lo_hi: Callable[[int], tuple[int, int]]) -> Tensor:
        rows = []
        for k in range(_M):
            lo, hi = lo_hi(k)
            hi = min(hi, src.shape[1])
            part = table[src[:, lo:hi]] * mix[k, lo:hi, None] if hi > lo else torch.zeros(src.shape[0], 1, _VOCAB, dtype=torch.float64)
            rows.append(part.sum(1))  # (B, V)
        return torch.stack(rows, dim=1)  # (B, m, V)

    def peeks(src: Tensor, tgt_in: Tensor) -> Tensor:
        return reads(src, lambda k: (0, k + 1))

    def peeks_ahead(src: Tensor, tgt_in: Tensor) -> Tensor:
        return reads(src, lambda k: (0, k + 2))

    def honest(src: Tensor, tgt_in: Tensor) -> Tensor:
        return reads(src, lambda k: (0, k)) + table[tgt_in]

    def shifts(src: Tensor, tgt_in: Tensor) -> Tensor:
        future = torch.stack([src[:, k:].double().sum(1) for k in range(_M)], dim=1)  # (B, m)
        return table[tgt_in] + future[:, :, None]  # the same shift for every vocabulary entry

    return {"peeks": peeks, "peeks_ahead": peeks_ahead, "honest": honest, "shifts": shifts}


def _influence(predict: Callable, src: Tensor, tgt_in: Tensor, i: int, fresh: Tensor, *, where: str = "future",
               compare: str = "log_softmax", positions: str = "i", reduce: str = "max", absolute: bool = True) -> float:
    """The reference detector and its known wrong variants (selected by the keyword arguments)."""
    changed = src.clone()
    cols = {"future": slice(i, None), "after": slice(i + 1, None), "past": slice(0, i)}.get(where)
    if where == "target":
        changed_tgt = tgt_in.clone()
        changed_tgt[:, i:] = fresh[:, i:tgt_in.shape[1]]
        a, b = predict(src, tgt_in), predict(src, changed_tgt)
    else:
        changed[:, cols] = fresh[:, cols]
        a, b = predict(src, tgt_in), predict(changed, tgt_in)
    f = {"log_softmax": lambda t: F.log_softmax(t, -1), "logits": lambda t: t,
         "softmax": lambda t: F.softmax(t, -1)}[compare]
    diff = f(b) - f(a)  # (B, m, V)
    diff = diff[:, i] if positions == "i" else diff
    diff = diff.abs() if absolute else diff
    return float(diff.max() if reduce == "max" else diff.mean())


#: The known wrong detectors: hint key -> the keyword arguments of :func:`_influence` that compute them.
_DETECTOR_MISTAKES = {
    "after": dict(where="after"),
    "past": dict(where="past"),
    "target": dict(where="target"),
    "logits": dict(compare="logits"),
    "softmax": dict(compare="softmax"),
    "all_positions": dict(positions="all"),
    "mean": dict(reduce="mean"),
    "signed": dict(absolute=False),
}


def check_source_influence(source_influence: Callable) -> None:
    """Exercise 4.5: ``source_influence(predict, src, tgt_in, i, fresh) -> float``, the leakage detector."""
    ex = exercise("4.5")
    gen = torch.Generator().manual_seed(46)
    B, n = 3, 6
    src = torch.randint(3, 16, (B, n), generator=gen)  # (B, n), no padding
    fresh = 3 + (src - 3 + torch.randint(1, 12, (B, n), generator=gen)) % 13  # (B, n), every token different
    tgt_in = torch.cat([torch.ones(B, 1, dtype=torch.long), torch.randint(3, 16, (B, _M - 1), generator=gen)], 1)
    probes = _probes()
    cases = [(name, i) for name in probes for i in (2, 0, 4)]
    got = []
    for name, i in cases:
        src_arg = src.clone()  # the student's function gets its own copy; we watch it for changes
        value = call(source_influence, probes[name], src_arg, tgt_in.clone(), i, fresh.clone(), exercise=ex)
        if value is None:
            fail(ex, "returned_none")
        arr = as_array(value, ex)
        if arr.size != 1:
            fail(ex, "not_scalar", shape=arr.shape)
        got.append(float(arr))
        if not torch.equal(src_arg, src):
            fail(ex, "changes_src")
    want = [_influence(probes[name], src, tgt_in, i, fresh) for name, i in cases]
    if not close(got, want, tol=1e-9):
        zero = [0.0] * len(cases)
        diagnose(np.array(got), [
            ([_influence(probes[name], src, tgt_in, i, fresh, **kw) for name, i in cases], key)
            for key, kw in _DETECTOR_MISTAKES.items()
        ] + [(zero, "never_changes")], ex, "wrong")
    passed(ex, "honest 0, leaky > 0.")
