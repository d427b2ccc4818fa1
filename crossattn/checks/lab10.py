"""Checkers for the exercises of lab 10, cross-attention or concatenation: masks, gates, costs, caches.

The inputs keep every size distinct (n ≠ m, d ≠ d_model, h ≠ n_kv_heads ≠ d_head), so a swapped axis
or a transposed result cannot pass. Every named common mistake gets its own hint, by key from
crossattn/checks/exercises/lab10.py; tests/checks/test_lab10.py feeds each one in, written the way
a student would write it. These checkers use NumPy only.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.dot_product import attention
from ..core.masks import causal_mask
from ..core.masks import prefix_lm_mask as _prefix_lm_mask
from ._core import as_array, call, diagnose, expect_shape, fail, passed
from .registry import Exercise, exercise

__all__ = ["check_prefix_lm_mask", "check_gated_cross_attention", "check_step_flops", "check_source_cache_bytes"]


def _integer(value: Any, ex: Exercise, what: str) -> int:
    """A count returned by the student: a Python/NumPy integer (or a float that is whole, with a hint)."""
    if value is None:
        fail(ex, "none", what=what)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        fail(ex, "not_number", what=what, type=type(value).__name__)
    return value  # type: ignore[return-value]


def _require_int(value: Any, ex: Exercise, what: str) -> None:
    if not isinstance(value, (int, np.integer)):
        fail(ex, "float", value=value, what=what)


# ---------------------------------------------------------------------------------- 10.1 prefix-LM mask


def check_prefix_lm_mask(prefix_lm_mask: Callable) -> None:
    """Exercise 10.1: ``prefix_lm_mask(n, m) -> bool (n + m, n + m)`` over [source; target]."""
    ex = exercise("10.1")
    for n, m in ((3, 4), (5, 2), (0, 3)):
        got = as_array(call(prefix_lm_mask, n, m, exercise=ex, inputs=f"n={n}, m={m}"), ex)
        L = n + m
        want = _prefix_lm_mask(n, m)
        expect_shape(got, (L, L), ex, {(m, L): "target_rows_only"} if n else {}, case=f"n={n}, m={m}")
        if got.dtype != bool:
            fail(ex, "not_bool", dtype=got.dtype)
        if np.array_equal(got, want):
            continue
        if n == 0:
            fail(ex, "no_source", n=n)
        i, j = np.arange(L)[:, None], np.arange(L)[None, :]
        # [target; source]: the source (positions m..L−1) reads itself, the target reads the source and its past
        target_first = ((i >= m) & (j >= m)) | ((i < m) & ((j >= m) | (j <= i)))
        blocks = np.zeros((L, L), dtype=bool)
        blocks[:n, :n] = True
        blocks[n:, n:] = causal_mask(m)
        diagnose(got, [
            (causal_mask(L), "causal"),
            (np.ones((L, L), dtype=bool), "full"),
            (want | (i < n), "source_reads_target"),
            (blocks, "blocks"),
            ((j < n) | (j < i), "strict"),
            (target_first, "target_first"),
            (want.T, "transposed"),
            (~want, "inverted"),
        ], ex, "wrong", n=n, m=m)
    passed(ex, "the source reads itself both ways, the target reads the source and its own past (n = 0: causal).")


# ---------------------------------------------------------------------------------- 10.2 gated block


def _gated_inputs() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(10)
    m, n, d_model, d = 3, 5, 6, 4
    x, s = rng.normal(size=(m, d_model)), rng.normal(size=(n, d_model))
    W_q, W_k = rng.normal(size=(d_model, d)), rng.normal(size=(d_model, d))
    W_v, W_o = rng.normal(size=(d_model, d_model)), rng.normal(size=(d_model, d_model))
    return x, s, W_q, W_k, W_v, W_o


def check_gated_cross_attention(gated_cross_attention: Callable) -> None:
    """Exercise 10.2: ``gated_cross_attention(x, s, W_q, W_k, W_v, W_o, alpha) -> (m, d_model)``."""
    ex = exercise("10.2")
    x, s, W_q, W_k, W_v, W_o = _gated_inputs()
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)  # (m, d_model)
    for alpha in (0.0, 0.7, -1.3):
        got = as_array(call(gated_cross_attention, x, s, W_q, W_k, W_v, W_o, alpha, exercise=ex,
                            inputs=f"x {x.shape}, s {s.shape}, alpha={alpha}"), ex)
        expect_shape(got, x.shape, ex, {(len(s), x.shape[1]): "source_queries"}, case=f"alpha={alpha}")
        gate = np.tanh(alpha)
        want = x + gate * out @ W_o
        if alpha == 0.0 and np.array_equal(got, x):
            continue  # the closed gate hands x through exactly
        if np.allclose(got, want, atol=1e-9, rtol=1e-9) and alpha != 0.0:
            continue
        self_out, _ = attention(x @ W_q, x @ W_k, x @ W_v)
        unscaled, _ = attention(x @ W_q, s @ W_k, s @ W_v, scale=1.0)
        diagnose(got, [
            (gate * out @ W_o, "no_residual"),
            (x + out @ W_o / (1 + np.exp(-alpha)), "sigmoid"),
            (gate * x + out @ W_o, "gate_on_x"),
            (x + alpha * out @ W_o, "no_tanh"),
            (x + gate * self_out @ W_o, "self_attention"),
            (x + gate * out, "no_out_proj"),
            (x + gate * unscaled @ W_o, "unscaled"),
        ], ex, "wrong", tol=1e-9, alpha=alpha)
    passed(ex, "closed (alpha = 0) it returns x exactly; open, x + tanh(alpha)·cross-attention.")


# ---------------------------------------------------------------------------------- 10.3 step FLOPs


def reference_step_flops(wiring: str, n: int, t: int, L: int, d: int, d_ff: int) -> int:
    """Matmul FLOPs of decoding step t ≥ 1 with both caches, logits left out (what 10.3 asks)."""
    if wiring == "prefix LM":
        return L * (8 * d * d + 4 * (n + t + 1) * d + 4 * d * d_ff)
    if wiring == "cross-attention":
        return L * (8 * d * d + 4 * (t + 1) * d + 4 * d * d + 4 * n * d + 4 * d * d_ff)
    raise ValueError(f"wiring must be 'prefix LM' or 'cross-attention', got {wiring!r}")


def check_step_flops(step_flops: Callable) -> None:
    """Exercise 10.3: ``step_flops(wiring, n, t, L, d, d_ff) -> int`` for step t ≥ 1, logits left out."""
    ex = exercise("10.3")
    # L ≠ 2 so that forgetting the layers (÷ L) and counting multiply-adds (÷ 2) give different counts
    for wiring, n, t, L, d, d_ff in (("prefix LM", 12, 3, 3, 8, 20), ("cross-attention", 12, 3, 3, 8, 20),
                                     ("prefix LM", 7, 5, 4, 16, 24), ("cross-attention", 7, 5, 4, 16, 24)):
        args = f"(wiring={wiring!r}, n={n}, t={t}, L={L}, d={d}, d_ff={d_ff})"
        raw = call(step_flops, wiring, n, t, L, d, d_ff, exercise=ex, inputs=args)
        got = _integer(raw, ex, "the FLOP count")
        want = reference_step_flops(wiring, n, t, L, d, d_ff)
        if got == want:
            _require_int(raw, ex, "FLOPs")
            continue
        other = "cross-attention" if wiring == "prefix LM" else "prefix LM"
        mistakes = [
            (want // L, "per_layer"),
            (want // 2, "multiply_adds"),
            (want - L * 4 * d * d_ff, "no_mlp"),
            (want - L * 4 * d, "keys_off_by_one"),
        ]
        if wiring == "prefix LM":
            mistakes.append((want - L * 4 * n * d, "prefix_no_source"))
        else:
            mistakes += [(want - L * 4 * n * d, "cross_no_source"), (want + L * 4 * n * d * d, "cross_reprojects"),
                         (want - L * 4 * d * d, "cross_no_wq_wo")]
        # last: for 'cross-attention' the prefix LM's count is also cross_no_wq_wo's; a student who swapped
        # the two is caught by the prefix-LM case first
        mistakes.append((reference_step_flops(other, n, t, L, d, d_ff), "swapped"))
        diagnose(np.asarray(float(got)), mistakes, ex, "wrong", args=args, want=want)
    try:
        result = step_flops("concatenation", 12, 3, 2, 8, 20)
    except ValueError:
        pass
    except Exception as err:  # noqa: BLE001 - any other reaction is the hint
        fail(ex, "bad_wiring", name=getattr(step_flops, "__name__", "your function"), wiring="concatenation",
             got=f"{type(err).__name__}: {err}")
    else:
        fail(ex, "bad_wiring", name=getattr(step_flops, "__name__", "your function"), wiring="concatenation",
             got=f"the result {result!r}")
    passed(ex, "per layer 8·d² + 4·d per key + 4·d·d_ff; cross-attention adds 4·d² for W_Q, W_O.")


# ---------------------------------------------------------------------------------- 10.4 cache bytes


def check_source_cache_bytes(source_cache_bytes: Callable) -> None:
    """Exercise 10.4: ``source_cache_bytes(layers, h, n_kv_heads, d_head, dtype_bytes) -> int``."""
    ex = exercise("10.4")
    for layers, h, n_kv, d_head, dtype_bytes in ((32, 20, 20, 64, 4), (8, 32, 8, 128, 2), (5, 12, 1, 48, 4),
                                                 (6, 12, 3, 40, 2)):
        args = f"(layers={layers}, h={h}, n_kv_heads={n_kv}, d_head={d_head}, dtype_bytes={dtype_bytes})"
        raw = call(source_cache_bytes, layers, h, n_kv, d_head, dtype_bytes, exercise=ex, inputs=args)
        got = _integer(raw, ex, "the number of bytes")
        want = 2 * layers * n_kv * d_head * dtype_bytes
        if got == want:
            _require_int(raw, ex, "bytes")
            continue
        diagnose(np.asarray(float(got)), [
            (want // 2, "keys_only"),
            (2 * layers * h * d_head * dtype_bytes, "all_heads"),
            (2 * layers * (h // n_kv) * d_head * dtype_bytes, "group_size"),
            (want // layers, "no_layers"),
            (want * 8, "bits"),
            (want // dtype_bytes, "no_dtype"),
        ], ex, "wrong", args=args, want=want)
    passed(ex, "2 · layers · n_kv_heads · d_head · dtype_bytes per source token.")
