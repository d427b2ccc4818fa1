"""Lab 10's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import numpy as np
import pytest

from crossattn import attention, causal_mask
from crossattn.checks import (
    check_gated_cross_attention,
    check_prefix_lm_mask,
    check_source_cache_bytes,
    check_step_flops,
)
from tests.checks.conventions import named_mistakes_test
from tests.helpers import solution_namespace


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("10")


# --- Exercise 10.1: prefix_lm_mask(n, m) ---------------------------------------------------------------

def _ij(n, m):
    L = n + m
    return np.arange(L)[:, None], np.arange(L)[None, :]


def mask_right(n, m):
    i, j = _ij(n, m)
    return (j < n) | (j <= i)


def mask_target_rows_only(n, m):
    return mask_right(n, m)[n:]


def mask_as_ints(n, m):
    return mask_right(n, m).astype(int)


def mask_causal(n, m):
    return np.tril(np.ones((n + m, n + m), dtype=bool))


def mask_full(n, m):
    return np.ones((n + m, n + m), dtype=bool)


def mask_source_reads_target(n, m):
    i, j = _ij(n, m)
    return (j < n) | (j <= i) | (i < n)


def mask_blocks(n, m):
    mask = np.zeros((n + m, n + m), dtype=bool)
    mask[:n, :n] = True
    mask[n:, n:] = np.tril(np.ones((m, m), dtype=bool))
    return mask


def mask_strict(n, m):
    i, j = _ij(n, m)
    return (j < n) | (j < i)


def mask_target_first(n, m):
    i, j = _ij(n, m)
    source_key = j >= m
    return (i >= m) & source_key | (i < m) & (source_key | (j <= i))


def mask_transposed(n, m):
    return mask_right(n, m).T


def mask_inverted(n, m):
    return ~mask_right(n, m)


def mask_no_source(n, m):
    mask = np.zeros((n + m, n + m), dtype=bool)
    mask[:, :n] = True
    mask[n:, n:] = np.tril(np.ones((m, m), dtype=bool))
    if n == 0:  # a special case gone wrong: "no source, nothing to read"
        mask[:] = False
    return mask


def mask_rows_reversed(n, m):
    return mask_right(n, m)[::-1]


def mask_forgot_return(n, m):
    mask_right(n, m)


# --- Exercise 10.2: gated_cross_attention(x, s, W_q, W_k, W_v, W_o, alpha) ---------------------------

def gated_right(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)
    return x + np.tanh(alpha) * out @ W_o


def gated_no_residual(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)
    return np.tanh(alpha) * out @ W_o


def gated_sigmoid(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)
    return x + 1 / (1 + np.exp(-alpha)) * out @ W_o


def gated_on_x(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)
    return np.tanh(alpha) * x + out @ W_o


def gated_no_tanh(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)
    return x + alpha * out @ W_o


def gated_self_attention(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, x @ W_k, x @ W_v)
    return x + np.tanh(alpha) * out @ W_o


def gated_no_out_proj(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)
    return x + np.tanh(alpha) * out


def gated_unscaled(x, s, W_q, W_k, W_v, W_o, alpha):
    scores = (x @ W_q) @ (s @ W_k).T
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return x + np.tanh(alpha) * weights @ (s @ W_v) @ W_o


def gated_source_queries(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(s @ W_q, x @ W_k, x @ W_v)
    return s + np.tanh(alpha) * out @ W_o


def gated_scaled_by_d_model(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v, scale=1 / np.sqrt(x.shape[1]))
    return x + np.tanh(alpha) * out @ W_o


def gated_in_place(x, s, W_q, W_k, W_v, W_o, alpha):
    out, _ = attention(x @ W_q, s @ W_k, s @ W_v)
    x += np.tanh(alpha) * out @ W_o
    return x


# --- Exercise 10.3: step_flops(wiring, n, t, L, d, d_ff) ---------------------------------------------

def _flops(wiring, n, t, L, d, d_ff, keys_extra=0, mlp=True, cross_extra=True, cross_source=True, reproject=False):
    mlp_flops = 4 * d * d_ff if mlp else 0
    if wiring == "prefix LM":
        return L * (8 * d * d + 4 * (n + t + 1 + keys_extra) * d + mlp_flops)
    if wiring == "cross-attention":
        per_layer = 8 * d * d + 4 * (t + 1 + keys_extra) * d + mlp_flops
        per_layer += (4 * d * d if cross_extra else 0) + (4 * n * d if cross_source else 0)
        per_layer += 4 * n * d * d if reproject else 0
        return L * per_layer
    raise ValueError(f"unknown wiring {wiring!r}")


def flops_right(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, L, d, d_ff)


def flops_prefix_no_source(wiring, n, t, L, d, d_ff):
    if wiring == "prefix LM":
        return L * (8 * d * d + 4 * (t + 1) * d + 4 * d * d_ff)
    return _flops(wiring, n, t, L, d, d_ff)


def flops_cross_no_source(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, L, d, d_ff, cross_source=False)


def flops_cross_reprojects(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, L, d, d_ff, reproject=True)


def flops_cross_no_wq_wo(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, L, d, d_ff, cross_extra=False)


def flops_no_mlp(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, L, d, d_ff, mlp=False)


def flops_keys_off_by_one(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, L, d, d_ff, keys_extra=-1)


def flops_one_layer(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, 1, d, d_ff)


def flops_multiply_adds(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, L, d, d_ff) // 2


def flops_swapped(wiring, n, t, L, d, d_ff):
    other = {"prefix LM": "cross-attention", "cross-attention": "prefix LM"}[wiring]
    return _flops(other, n, t, L, d, d_ff)


def flops_float(wiring, n, t, L, d, d_ff):
    return float(_flops(wiring, n, t, L, d, d_ff))


def flops_as_text(wiring, n, t, L, d, d_ff):
    return f"{_flops(wiring, n, t, L, d, d_ff)} FLOPs"


def flops_accepts_anything(wiring, n, t, L, d, d_ff):
    if wiring == "prefix LM":
        return _flops(wiring, n, t, L, d, d_ff)
    return _flops("cross-attention", n, t, L, d, d_ff)  # any other name: counted as cross-attention


def flops_logits_included(wiring, n, t, L, d, d_ff):
    return _flops(wiring, n, t, L, d, d_ff) + 2 * d * 31


# --- Exercise 10.4: source_cache_bytes(layers, h, n_kv_heads, d_head, dtype_bytes) ------------------

def bytes_right(layers, h, n_kv_heads, d_head, dtype_bytes):
    return 2 * layers * n_kv_heads * d_head * dtype_bytes


def bytes_keys_only(layers, h, n_kv_heads, d_head, dtype_bytes):
    return layers * n_kv_heads * d_head * dtype_bytes


def bytes_all_heads(layers, h, n_kv_heads, d_head, dtype_bytes):
    return 2 * layers * h * d_head * dtype_bytes


def bytes_group_size(layers, h, n_kv_heads, d_head, dtype_bytes):
    return 2 * layers * (h // n_kv_heads) * d_head * dtype_bytes


def bytes_no_layers(layers, h, n_kv_heads, d_head, dtype_bytes):
    return 2 * n_kv_heads * d_head * dtype_bytes


def bytes_bits(layers, h, n_kv_heads, d_head, dtype_bytes):
    return 2 * layers * n_kv_heads * d_head * dtype_bytes * 8


def bytes_no_dtype(layers, h, n_kv_heads, d_head, dtype_bytes):
    return 2 * layers * n_kv_heads * d_head


def bytes_float(layers, h, n_kv_heads, d_head, dtype_bytes):
    return 2.0 * layers * n_kv_heads * d_head * dtype_bytes


def bytes_as_text(layers, h, n_kv_heads, d_head, dtype_bytes):
    return f"{bytes_right(layers, h, n_kv_heads, d_head, dtype_bytes)} bytes"


def bytes_forgot_return(layers, h, n_kv_heads, d_head, dtype_bytes):
    bytes_right(layers, h, n_kv_heads, d_head, dtype_bytes)


def bytes_d_model(layers, h, n_kv_heads, d_head, dtype_bytes):
    return 2 * layers * h * n_kv_heads * d_head * dtype_bytes // 3


MISTAKES = {
    "10.1": {
        "none": mask_forgot_return,
        "target_rows_only": mask_target_rows_only,
        "not_bool": mask_as_ints,
        "causal": mask_causal,
        "full": mask_full,
        "source_reads_target": mask_source_reads_target,
        "blocks": mask_blocks,
        "strict": mask_strict,
        "target_first": mask_target_first,
        "transposed": mask_transposed,
        "inverted": mask_inverted,
        "no_source": mask_no_source,
        "wrong": mask_rows_reversed,
    },
    "10.2": {
        "in_place": gated_in_place,
        "no_residual": gated_no_residual,
        "sigmoid": gated_sigmoid,
        "gate_on_x": gated_on_x,
        "no_tanh": gated_no_tanh,
        "self_attention": gated_self_attention,
        "no_out_proj": gated_no_out_proj,
        "unscaled": gated_unscaled,
        "source_queries": gated_source_queries,
        "wrong": gated_scaled_by_d_model,
    },
    "10.3": {
        "not_number": flops_as_text,
        "prefix_no_source": flops_prefix_no_source,
        "cross_no_source": flops_cross_no_source,
        "cross_reprojects": flops_cross_reprojects,
        "cross_no_wq_wo": flops_cross_no_wq_wo,
        "no_mlp": flops_no_mlp,
        "keys_off_by_one": flops_keys_off_by_one,
        "per_layer": flops_one_layer,
        "multiply_adds": flops_multiply_adds,
        "swapped": flops_swapped,
        "float": flops_float,
        "bad_wiring": flops_accepts_anything,
        "wrong": flops_logits_included,
    },
    "10.4": {
        "none": bytes_forgot_return,
        "not_number": bytes_as_text,
        "keys_only": bytes_keys_only,
        "all_heads": bytes_all_heads,
        "group_size": bytes_group_size,
        "no_layers": bytes_no_layers,
        "bits": bytes_bits,
        "no_dtype": bytes_no_dtype,
        "float": bytes_float,
        "wrong": bytes_d_model,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


# --- special cases ----------------------------------------------------------------------------------

def test_the_lab_solutions_pass_and_print_what_they_got(solutions, capsys):
    check_prefix_lm_mask(solutions["prefix_lm_mask"])
    check_gated_cross_attention(solutions["gated_cross_attention"])
    check_step_flops(solutions["step_flops"])
    check_source_cache_bytes(solutions["source_cache_bytes"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("✓") for line in lines), lines


def test_the_table_functions_that_are_right_pass(capsys):
    check_prefix_lm_mask(mask_right)
    check_gated_cross_attention(gated_right)
    check_step_flops(flops_right)
    check_source_cache_bytes(bytes_right)
    assert capsys.readouterr().out.count("✓") == 4


def test_the_mask_reference_is_the_causal_mask_when_there_is_no_source():
    assert np.array_equal(mask_right(0, 4), causal_mask(4))


def test_the_checker_flops_agree_with_the_package_formula():
    # The checker's closed form is the package's step_flops (which FlopCounterMode confirms) minus the logits.
    from crossattn.checks.lab10 import reference_step_flops
    from crossattn.experiments.wirings import step_flops
    from crossattn.nn.model import ModelConfig

    cfg = ModelConfig(vocab_size=31, d_model=16, h=2, d_ff=24, n_decoder_layers=3)
    for wiring in ("prefix LM", "cross-attention"):
        for n, t in ((7, 1), (12, 5)):
            assert reference_step_flops(wiring, n, t, 3, 16, 24) == step_flops(wiring, cfg, n, t) - 2 * 16 * 31
