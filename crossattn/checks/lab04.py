"""Checkers for the exercises of lab 4, cross-attention inside the encoder–decoder (PyTorch).

Inputs use m ≠ n (and B ≠ h) throughout, so a mask or a weight matrix with its axes swapped
shows up as a wrong shape, which gets its own hint. Every named common mistake gets its own
hint; tests/checks/test_lab04.py feeds each one in, written the way a student would write it.
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
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = ["check_causal_mask", "check_cross_mask", "check_cross_attention", "check_honest_loss",
           "check_source_influence"]


def _call(fn: Callable, *args: Any, exercise: str, crash_hint: str = "") -> Any:
    """Call the student's function on copies of tensor arguments; add ``crash_hint`` to a crash."""
    copies = [a.clone() if isinstance(a, Tensor) else a for a in args]
    try:
        return call(fn, *copies, exercise=exercise)
    except CheckFailed as err:
        if crash_hint and "NotImplementedError" not in str(err):
            raise CheckFailed(f"{err}\n  Hint: {crash_hint}") from None
        raise


def _bool_tensor(got: Any, ex: str, example: str) -> Tensor:
    """The student's mask as a torch bool tensor, or a hint about its type."""
    if got is None:
        raise CheckFailed(f"{ex}: your function returned None — did you forget the `return` statement?")
    if not isinstance(got, Tensor):
        raise CheckFailed(f"{ex}: return a torch tensor (the model's attention takes torch masks), "
                          f"got {type(got).__name__}. For example: {example}.")
    if got.dtype != torch.bool:
        if got.is_floating_point() and torch.isinf(got).any():
            raise CheckFailed(f"{ex}: that is an additive float mask (0 and -inf), the kind "
                              "nn.Transformer.generate_square_subsequent_mask returns. Return a BOOLEAN mask, "
                              "True = may attend.")
        raise CheckFailed(f"{ex}: the mask must be boolean (True = may attend), got dtype {got.dtype}. "
                          f"For example: {example}.")
    return got


# ---------------------------------------------------------------------------------- 4.1 causal mask


def check_causal_mask(causal_mask: Callable) -> None:
    """Exercise 4.1: ``causal_mask(m) -> (m, m)`` bool tensor, True where query i may read key j ≤ i."""
    ex = "Exercise 4.1 (causal_mask)"
    example = "torch.ones(m, m, dtype=torch.bool).tril()"
    for m in (5, 1, 3):
        got = _bool_tensor(_call(causal_mask, m, exercise=ex), ex, example)
        expect_shape(np.zeros(tuple(got.shape)), (m, m), ex, {
            (1, m, m): "Return the plain (m, m) mask; the model broadcasts it over the batch and heads itself.",
        })
        want = torch.ones(m, m, dtype=torch.bool).tril()
        if torch.equal(got, want):
            continue
        ones = torch.ones(m, m, dtype=torch.bool)
        diagnose(got.numpy(), [
            (ones.triu().numpy(), "that is the upper triangle: query i would read keys j ≥ i, the FUTURE. "
                                  "A decoder token may read itself and the past, j ≤ i: use tril."),
            ((~want).numpy(), "your mask is inverted: True here means 'may attend' (as in "
                              "scaled_dot_product_attention). nn.Transformer's boolean masks use True = blocked — "
                              "the opposite."),
            (ones.tril(-1).numpy(), "you blocked the diagonal: token i may read itself (j ≤ i, not j < i). "
                                    "With a strict triangle the first query, <bos>, can read nothing at all."),
            (ones.numpy(), "that mask lets every target token read the whole target — bidirectional, like the "
                           "encoder. The decoder must not read tokens it has not produced yet: keep j ≤ i."),
        ], ex, "mask[i, j] must be True exactly when j <= i.")
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
    ex = "Exercise 4.2 (cross_mask)"
    src, tgt_in = _padded_batch()
    (B, n), m = src.shape, tgt_in.shape[1]
    example = "(src != PAD)[:, None, None, :]"
    got = _bool_tensor(_call(cross_mask, src, tgt_in, exercise=ex), ex, example)
    src_real = src != PAD  # (B, n)
    want = src_real[:, None, None, :]  # (B, 1, 1, n)
    shape = tuple(got.shape)
    if shape == (B, 1, 1, m) or shape == (B, 1, m, 1):
        raise CheckFailed(f"{ex}: your mask has the target's length m = {m}: you masked the TARGET's padding. "
                          "Cross-attention's keys are the SOURCE tokens, so block the source padding "
                          "(src == PAD). Padded target positions are ignored by the loss instead.")
    expect_shape(np.zeros(shape), (B, 1, 1, n), ex, {
        (B, 1, n, 1): "Your mask has the source on the QUERY axis. The keys are the last axis: (B, 1, 1, n), "
                      "one column per source token.",
        (B, n): "Your mask is (B, n): add the head and query axes, mask[:, None, None, :], so it broadcasts "
                "to the scores (B, h, m, n).",
        (B, 1, n): "A (B, 1, n) mask lines the batch up with the HEADS axis of the scores (B, h, m, n). "
                   "Add one more axis: (B, 1, 1, n).",
        (B, 1, m, n): "The values may be right, but return (B, 1, 1, n): one row that every query and head "
                      "shares by broadcasting.",
        (B, n, 1, 1): "Your source axis comes second; the keys must be the LAST axis: (B, 1, 1, n).",
    })
    if not torch.equal(got, want):
        diagnose(got.numpy().astype(float), [
            ((~want).numpy().astype(float), "your mask is inverted: True must mean 'may attend', so real source "
                                            "tokens are True and padding False. (nn.MultiheadAttention's "
                                            "key_padding_mask uses the opposite, True = padding.)"),
            (torch.ones_like(want).numpy().astype(float), "every source position is True, padding included: "
                                                          "block the positions where src == PAD."),
        ], ex, "mask[b, 0, 0, j] must be True exactly when src[b, j] != PAD.")
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
        if mask is not None:
            out["no_mask"] = run(q, k, v, scale, None)
            out["inverted_mask"] = run(q, k, v, scale, mask, fill_where_true=True)
    return out


_CROSS_HINTS = {
    "no_scale": "scale the scores by 1/√d_head (d_head = d_model / h, the width of one head's query) before the softmax.",
    "scale_d_model": "you scaled by 1/√d_model; each head's queries have width d_head = d_model / h, so scale by 1/√d_head.",
    "no_w_o": "you forgot the output projection: merge the heads back to (B, m, d_model), then apply attn.w_o.",
    "v_from_w_k": "weights are right but the values are not: V = memory W_V (attn.w_v), not attn.w_k.",
    "bad_split": "viewing (B, L, d_model) directly as (B, h, L, d_head) mixes positions and features. "
                 "Reshape to (B, L, h, d_head) first, then .transpose(1, 2).",
    "softmax_queries": "your weights sum to 1 over the QUERIES (dim=-2); each query's row over the keys must sum to 1: softmax(dim=-1).",
    "no_mask": "padded source keys got weight: fill the scores where mask is False with -inf before the softmax.",
    "inverted_mask": "your mask is used inverted: True means 'may attend', so fill the scores where the mask is "
                     "FALSE (~mask) with -inf.",
}


def check_cross_attention(cross_attention: Callable) -> None:
    """Exercise 4.3: ``cross_attention(attn, x (B, m, d_model), memory (B, n, d_model), mask) -> (out, weights)``."""
    ex = "Exercise 4.3 (cross_attention)"
    attn, y, memory, mask = _attn_inputs()
    (B, m, D), n, h = y.shape, memory.shape[1], attn.h
    crash = ("Q = x W_Q comes from the decoder: (B, h, m, d_head); K = memory W_K and V = memory W_V both come "
             "from the encoder: (B, h, n, d_head). The scores Q Kᵀ are then (B, h, m, n) and the mask "
             "(B, 1, 1, n) lines up with the key axis.")
    # Streaming cross mask: target i reads source j < i, so query row 0 has every key blocked.
    streaming = (torch.arange(n)[None, :] < torch.arange(m)[:, None])[None, None]  # (1, 1, m, n)
    for trial_mask in (None, mask, streaming):
        result = _call(cross_attention, attn, y, memory, trial_mask, exercise=ex, crash_hint=crash)
        if trial_mask is streaming and isinstance(result, tuple) and len(result) == 2:
            w = as_array(result[1], ex, "weights")
            if w.shape == (B, h, m, n) and np.isnan(w[:, :, 0]).any():
                raise CheckFailed(f"{ex}: with a mask that blocks EVERY key of a query (row 0 of a streaming mask "
                                  "(1, 1, m, n)), your weights are NaN: the softmax of a row of -inf is 0/0. Such a "
                                  "row must read nothing: weights = torch.nan_to_num(weights, nan=0.0) gives zero "
                                  "weights and a zero output.")
            if w.shape == (B, h, m, n) and np.allclose(w[:, :, 0], 1.0 / n, atol=1e-6):
                raise CheckFailed(f"{ex}: with a mask that blocks EVERY key of a query (row 0 of a streaming mask "
                                  "(1, 1, m, n)), your weights give 1/n to every key: the row reads the blocked "
                                  "keys uniformly. That is what filling with -1e9 (chapter 2's trick) does to a row "
                                  "whose keys are all blocked: every score is -1e9, so the softmax is uniform. Fill "
                                  "with float('-inf') and then torch.nan_to_num(weights, nan=0.0), or keep -1e9 and "
                                  "zero the blocked weights after the softmax (weights * mask).")
        if not (isinstance(result, tuple) and len(result) == 2):
            raise CheckFailed(f"{ex}: return a pair (out, weights), got {type(result).__name__}.")
        out, weights = as_array(result[0], ex, "out"), as_array(result[1], ex, "weights")
        if out.shape == (B, h, m, n) and weights.shape == (B, m, D):
            raise CheckFailed(f"{ex}: you returned (weights, out); return them in the order (out, weights).")
        expect_shape(weights, (B, h, m, n), ex, {
            (B, h, n, m): "Your weights are (B, h, n, m): the roles are SWAPPED — the encoder is asking the "
                          "questions. Queries come from the decoder states x, keys and values from memory.",
            (B, h, m, m): "Your weights are (B, h, m, m): that is the decoder's SELF-attention. In "
                          "cross-attention the keys and values come from the encoder output (memory).",
            (B, h, n, n): "Your weights are (B, h, n, n): that is the encoder reading itself. Queries come from "
                          "the decoder states x; keys and values from memory.",
            (B, m, n): "Your weights have no head axis: split the projections into h heads of width d_head = "
                       "d_model / h, shape (B, h, L, d_head).",
            (B, 1, m, n): "You used one head of width d_model: split into attn.h heads of width d_head.",
        })
        expect_shape(out, (B, m, D), ex, {
            (B, h, m, D // h): "merge the heads back: (B, h, m, d_head) -> (B, m, h·d_head) = (B, m, d_model), then apply attn.w_o.",
            (B, m, D // h): "merge all h heads back into (B, m, d_model), then apply attn.w_o.",
        })
        with torch.no_grad():
            want_out = attn(y, memory, mask=trial_mask)
            want_w = attn.last_weights
        if close(weights, want_w) and close(out, want_out):
            continue
        variants = _variants(attn, y, memory, trial_mask)
        got = weights if not close(weights, want_w) else out
        index = 1 if not close(weights, want_w) else 0
        diagnose(got, [(v[index].numpy(), _CROSS_HINTS[k]) for k, v in variants.items()], ex,
                 "weights must equal softmax(Q Kᵀ/√d_head) with Q from x and K, V from memory, and out the merged "
                 "heads of weights @ V passed through attn.w_o." if index else
                 "weights are right but out is not: out = weights @ V, heads merged to (B, m, d_model), then attn.w_o.")
    passed(ex, "Q from x; K, V from memory.")


# ---------------------------------------------------------------------------------- 4.4 honest loss


def check_honest_loss(honest_loss: Callable) -> None:
    """Exercise 4.4: ``honest_loss(n_symbols, length) -> float``: the best mean training loss without leaking."""
    ex = "Exercise 4.4 (honest_loss)"
    cases = [(8, 8), (5, 3), (20, 1)]
    got = []
    for V, L in cases:
        value = as_array(_call(honest_loss, V, L, exercise=ex), ex)
        if value.size != 1:
            raise CheckFailed(f"{ex}: return one number (nats per token), got an array of shape {value.shape}.")
        got.append(float(value))
    want = [L * math.log(V) / (L + 1) for V, L in cases]
    if not close(got, want, tol=1e-9):
        diagnose(np.array(got), [
            ([math.log(V) for V, L in cases], "ln V is the bound per random SYMBOL. The training loss also "
                                              "averages in the EOS token, which an honest model predicts for "
                                              "free (loss 0) because the length is fixed."),
            ([L * math.log2(V) / (L + 1) for V, L in cases], "that is in bits (log base 2); the training loss is in "
                                                             "nats: use the natural log, math.log."),
            ([math.log2(V) for V, L in cases], "that is bits per symbol; use nats (math.log) and count the EOS "
                                               "token in the mean."),
            ([L * math.log(V + 3) / (L + 1) for V, L in cases], "the honest model spreads its guess over the "
                                                                "n_symbols symbols only, never over PAD, BOS and "
                                                                "EOS: use ln(n_symbols)."),
            ([1 / V for V, L in cases], "1/V is the probability an honest guess gives the right symbol; the loss is "
                                        "minus its log."),
            ([0.0 for _ in cases], "0 is what a LEAKY model reaches. An honest model cannot predict a uniformly "
                                   "random symbol better than chance."),
            ([(L + 1) * math.log(V) / L for V, L in cases], "the EOS token LOWERS the mean: L symbols cost ln V "
                                                            "each and EOS costs 0, averaged over L + 1 tokens."),
        ], ex, "L symbols cost ln(n_symbols) nats each, EOS costs 0: average over the L + 1 tokens.")
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


_DETECTOR_MISTAKES = {
    "after": (dict(where="after"), "you re-drew only positions j > i. The source token AT position i is also "
                                   "unseen when target token i is predicted (target i may read j < i only): "
                                   "re-draw j ≥ i, src[:, i:]."),
    "past": (dict(where="past"), "you re-drew the PAST, positions j < i — those the model may read. Re-draw the "
                                 "future, j ≥ i: src[:, i:] = fresh[:, i:]."),
    "target": (dict(where="target"), "you changed the target inputs tgt_in. The leak to detect is through the "
                                     "SOURCE: re-draw src[:, i:], keep tgt_in as it is."),
    "logits": (dict(compare="logits"), "you compared raw logits. Adding the same number to every logit changes no "
                                       "prediction: compare log-probabilities, torch.log_softmax(logits, dim=-1)."),
    "softmax": (dict(compare="softmax"), "you compared probabilities; compare log-probabilities "
                                         "(torch.log_softmax), which also show a change of a tiny probability."),
    "all_positions": (dict(positions="all"), "you measured the change at every target position. Later positions "
                                             "k > i may legitimately read source token i: measure position i "
                                             "only, [:, i]."),
    "mean": (dict(reduce="mean"), "you averaged the change; a leak in one entry is a leak. Return the LARGEST "
                                  "absolute change, .abs().max()."),
    "signed": (dict(absolute=False), "take the absolute value of the change before the max: a log-probability "
                                     "that falls is as much a leak as one that rises."),
}


def check_source_influence(source_influence: Callable) -> None:
    """Exercise 4.5: ``source_influence(predict, src, tgt_in, i, fresh) -> float``, the leakage detector."""
    ex = "Exercise 4.5 (source_influence)"
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
            raise CheckFailed(f"{ex}: your function returned None — did you forget the `return` statement?")
        arr = as_array(value, ex)
        if arr.size != 1:
            raise CheckFailed(f"{ex}: return one number (the largest change), got an array of shape {arr.shape}.")
        got.append(float(arr))
        if not torch.equal(src_arg, src):
            raise CheckFailed(f"{ex}: your function changed the caller's src in place. Work on a copy, "
                              "changed = src.clone(), so the baseline prediction uses the original source.")
    want = [_influence(probes[name], src, tgt_in, i, fresh) for name, i in cases]
    if not close(got, want, tol=1e-9):
        zero = [0.0] * len(cases)
        diagnose(np.array(got), [
            ([_influence(probes[name], src, tgt_in, i, fresh, **kw) for name, i in cases], hint)
            for kw, hint in _DETECTOR_MISTAKES.values()
        ] + [(zero, "your detector never sees a change. Predict twice — once with src, once with a copy whose "
                    "positions j ≥ i hold fresh[:, j] — and compare (if you changed src in place before the first "
                    "prediction, both calls see the same source).")],
            ex, "re-draw src[:, i:] from fresh, predict again, and return the largest |Δ log_softmax| at target "
                "position i.")
    passed(ex, "honest 0, leaky > 0.")
