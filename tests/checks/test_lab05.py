"""Lab 5's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import math

import pytest
import torch

from crossattn.checks import (
    CheckFailed,
    check_cache_bytes,
    check_cross_attention_step,
    check_self_attention_flops,
    check_self_attention_step,
    check_share_across_beams,
)
from tests.checks.conventions import named_mistakes_test
from tests.helpers import solution_namespace


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("05")


# --- named mistakes, one small student-like function each --------------------------------------

# Exercise 5.1: cache_bytes(n_layers, n, steps, d_model, dtype_bytes) -> (cross, self)
def bytes_only_keys(n_layers, n, steps, d_model, dtype_bytes):
    return n_layers * n * d_model * dtype_bytes, n_layers * steps * d_model * dtype_bytes


def bytes_one_layer(n_layers, n, steps, d_model, dtype_bytes):
    return 2 * n * d_model * dtype_bytes, 2 * steps * d_model * dtype_bytes


def bytes_counts_values(n_layers, n, steps, d_model, dtype_bytes):
    return 2 * n_layers * n * d_model, 2 * n_layers * steps * d_model


def bytes_swapped(n_layers, n, steps, d_model, dtype_bytes):
    per_row = 2 * n_layers * d_model * dtype_bytes
    return steps * per_row, n * per_row


def bytes_cross_appended_every_step(n_layers, n, steps, d_model, dtype_bytes):
    per_row = 2 * n_layers * d_model * dtype_bytes
    return steps * n * per_row, steps * per_row


def bytes_self_off_by_one(n_layers, n, steps, d_model, dtype_bytes):
    per_row = 2 * n_layers * d_model * dtype_bytes
    return n * per_row, (steps + 1) * per_row  # counts the last token, which was never fed back


def bytes_self_holds_source(n_layers, n, steps, d_model, dtype_bytes):
    per_row = 2 * n_layers * d_model * dtype_bytes
    return n * per_row, n * per_row


def bytes_total_only(n_layers, n, steps, d_model, dtype_bytes):
    return 2 * n_layers * (n + steps) * d_model * dtype_bytes


def bytes_as_float(n_layers, n, steps, d_model, dtype_bytes):
    per_row = 2.0 * n_layers * d_model * dtype_bytes  # the right numbers, as floats
    return n * per_row, steps * per_row


def bytes_in_bits(n_layers, n, steps, d_model, dtype_bytes):
    per_row = 2 * n_layers * d_model * dtype_bytes * 8  # bits, not bytes
    return n * per_row, steps * per_row


def bytes_as_text(n_layers, n, steps, d_model, dtype_bytes):
    per_row = 2 * n_layers * d_model * dtype_bytes
    return f"{n * per_row / 1024:.1f} KiB", f"{steps * per_row / 1024:.1f} KiB"  # human-readable


# Exercise 5.2: self_attention_step(attn, x_new, cache) -> (B, 1, d_model)
def _heads(attn, t):
    B, p, _ = t.shape
    return t.view(B, p, attn.h, attn.d_head).transpose(1, 2)  # (B, p, d_model) -> (B, h, p, d_head)


def _merge(attn, o):
    B, _, m, _ = o.shape
    return o.transpose(1, 2).reshape(B, m, attn.h * attn.d_head)


def self_step_attends_before_appending(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k_new, v_new = attn.project_kv(x_new)
    if cache.k is None:
        k, v = k_new, v_new
    else:
        k, v = cache.k, cache.v  # the rows BEFORE this token
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-1)
    cache.append(k_new, v_new)
    return attn.w_o(_merge(attn, w @ v))


def self_step_overwrites_cache(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    cache.k, cache.v = attn.project_kv(x_new)  # keeps only the newest row
    w = torch.softmax(q @ cache.k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-1)
    return attn.w_o(_merge(attn, w @ cache.v))


def self_step_causal_mask_without_offset(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k, v = cache.append(*attn.project_kv(x_new))
    L = k.shape[-2]
    causal = torch.ones(1, L, dtype=torch.bool).tril()  # row 0 of a causal mask: query at position 0
    s = (q @ k.transpose(-2, -1) / math.sqrt(attn.d_head)).masked_fill(~causal, float("-inf"))
    return attn.w_o(_merge(attn, torch.softmax(s, dim=-1) @ v))


def self_step_unscaled(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k, v = cache.append(*attn.project_kv(x_new))
    return attn.w_o(_merge(attn, torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v))


def self_step_scaled_by_d_model(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k, v = cache.append(*attn.project_kv(x_new))
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_model), dim=-1)
    return attn.w_o(_merge(attn, w @ v))


def self_step_no_output_projection(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k, v = cache.append(*attn.project_kv(x_new))
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-1)
    return _merge(attn, w @ v)


def self_step_returns_heads(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k, v = cache.append(*attn.project_kv(x_new))
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-1)
    return w @ v  # (B, h, 1, d_head)


def self_step_forgets_to_store(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k_new, v_new = attn.project_kv(x_new)
    k = k_new if cache.k is None else torch.cat([cache.k, k_new], dim=-2)  # grown, but never stored
    v = v_new if cache.v is None else torch.cat([cache.v, v_new], dim=-2)
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-1)
    return attn.w_o(_merge(attn, w @ v))


def self_step_softmax_over_queries(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k, v = cache.append(*attn.project_kv(x_new))
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-2)  # over the one query
    return attn.w_o(_merge(attn, w @ v))


def self_step_appends_twice(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k_new, v_new = attn.project_kv(x_new)
    cache.append(k_new, v_new)
    k, v = cache.append(k_new, v_new)  # appends the same row again
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-1)
    return attn.w_o(_merge(attn, w @ v))


def self_step_appends_along_width(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k_new, v_new = attn.project_kv(x_new)
    if cache.k is None:
        cache.k, cache.v = k_new, v_new
    else:
        cache.k = torch.cat([cache.k, k_new], dim=-1)
        cache.v = torch.cat([cache.v, v_new], dim=-1)
    w = torch.softmax(q @ cache.k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-1)
    return attn.w_o(_merge(attn, w @ cache.v))


def _self_step(attn, x_new, cache, scale=None):
    """The right step, returning (out (B, 1, d_model), weights); ``scale`` replaces √d_head."""
    q = _heads(attn, attn.w_q(x_new))
    k, v = cache.append(*attn.project_kv(x_new))
    w = torch.softmax(q @ k.transpose(-2, -1) / (scale or math.sqrt(attn.d_head)), dim=-1)
    return attn.w_o(_merge(attn, w @ v)), w


def self_step_stores_states(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k_new, v_new = attn.project_kv(x_new)
    k = k_new if cache.k is None else torch.cat([cache.k, k_new], dim=-2)
    v = v_new if cache.v is None else torch.cat([cache.v, v_new], dim=-2)
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_head), dim=-1)
    states = _heads(attn, x_new)  # the new token's states, not its K and V
    cache.append(states, states)
    return attn.w_o(_merge(attn, w @ v))


def self_step_nothing_to_read_at_first(attn, x_new, cache):
    if cache.k is None:  # "nothing cached yet, nothing to attend to"
        cache.append(*attn.project_kv(x_new))
        return x_new
    return _self_step(attn, x_new, cache)[0]


def self_step_divided_by_d_head(attn, x_new, cache):
    return _self_step(attn, x_new, cache, scale=attn.d_head)[0]


def self_step_returns_weights_too(attn, x_new, cache):
    return _self_step(attn, x_new, cache)


def self_step_returns_numpy(attn, x_new, cache):
    return _self_step(attn, x_new, cache)[0].numpy()


def self_step_squeezed(attn, x_new, cache):
    return _self_step(attn, x_new, cache)[0][:, 0]  # (B, d_model): the step axis dropped


# Exercise 5.3: cross_attention_step(attn, x_new, cache, s, mask) -> (B, 1, d_model)
def self_step_keys_dot_T(attn, x_new, cache):
    q = _heads(attn, attn.w_q(x_new))
    k, v = cache.append(*attn.project_kv(x_new))
    w = torch.softmax(q @ k.T / math.sqrt(attn.d_head), dim=-1)  # k.T of (B, h, t, d_head) is (d_head, t, h, B)
    return attn.w_o(_merge(attn, w @ v))


def cross_step_keys_dot_T(attn, x_new, cache, s, mask):
    if cache.k is None:
        cache.store(*attn.project_kv(s))
    q = _heads(attn, attn.w_q(x_new))
    scores = (q @ cache.k.T / math.sqrt(attn.d_head)).masked_fill(~mask, float("-inf"))  # k.T: all axes reversed
    return attn.w_o(_merge(attn, torch.nan_to_num(torch.softmax(scores, dim=-1)) @ cache.v))


def cross_step_mask_turned(attn, x_new, cache, s, mask):
    if cache.k is None:
        cache.store(*attn.project_kv(s))
    q = _heads(attn, attn.w_q(x_new))
    scores = q @ cache.k.transpose(-2, -1) / math.sqrt(attn.d_head)  # (B, h, 1, n)
    scores = scores.masked_fill(~mask.transpose(-2, -1), float("-inf"))  # mask (B, 1, n, 1): scores (B, h, n, n)
    return attn.w_o(_merge(attn, torch.nan_to_num(torch.softmax(scores, dim=-1)) @ cache.v))


def _cross(attn, x_new, k, v, mask, scale=None):
    q = _heads(attn, attn.w_q(x_new))
    s = q @ k.transpose(-2, -1) / math.sqrt(attn.d_head if scale is None else scale)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return attn.w_o(_merge(attn, torch.softmax(s, dim=-1) @ v))


def cross_step_never_caches(attn, x_new, cache, s, mask):
    k, v = attn.project_kv(s)  # every step, the cache stays empty
    return _cross(attn, x_new, k, v, mask)


def cross_step_reprojects_anyway(attn, x_new, cache, s, mask):
    k, v = attn.project_kv(s)  # projected at every step ...
    if cache.k is None:
        cache.store(k, v)  # ... though it is stored once
    return _cross(attn, x_new, k, v, mask)


def cross_step_appends_to_cross_cache(attn, x_new, cache, s, mask):
    k_new, v_new = attn.project_kv(s)
    if cache.k is None:
        cache.k, cache.v = k_new, v_new
    else:
        cache.k = torch.cat([cache.k, k_new], dim=-2)  # the source again, every step
        cache.v = torch.cat([cache.v, v_new], dim=-2)
    return _cross(attn, x_new, cache.k, cache.v, mask)


def cross_step_uses_append(attn, x_new, cache, s, mask):
    k, v = cache.append(*attn.project_kv(s))  # KVCache refuses: a static cache never grows
    return _cross(attn, x_new, k, v, mask)


def cross_step_ignores_mask(attn, x_new, cache, s, mask):
    if cache.k is None:
        cache.store(*attn.project_kv(s))
    return _cross(attn, x_new, cache.k, cache.v, None)


def cross_step_inverted_mask(attn, x_new, cache, s, mask):
    if cache.k is None:
        cache.store(*attn.project_kv(s))
    return _cross(attn, x_new, cache.k, cache.v, ~mask)


def cross_step_unscaled(attn, x_new, cache, s, mask):
    if cache.k is None:
        cache.store(*attn.project_kv(s))
    return _cross(attn, x_new, cache.k, cache.v, mask, scale=1.0)


def cross_step_reads_source_shape(attn, x_new, cache, s, mask):
    B, n, _ = s.shape  # fails once the source is no longer passed
    if cache.k is None:
        cache.store(*attn.project_kv(s))
    assert cache.k.shape[-2] == n
    return _cross(attn, x_new, cache.k, cache.v, mask)


def _cross_weights(attn, x_new, k, mask, scale=None, dim=-1, nan_to_zero=False):
    q = _heads(attn, attn.w_q(x_new))
    s = (q @ k.transpose(-2, -1) / (scale or math.sqrt(attn.d_head))).masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=dim)
    return torch.nan_to_num(w, nan=0.0) if nan_to_zero else w


def _cached(attn, cache, s):
    if cache.k is None:
        cache.store(*attn.project_kv(s))
    return cache.k, cache.v


def cross_step_returns_heads(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    return _cross_weights(attn, x_new, k, mask) @ v  # (B, h, 1, d_head)


def cross_step_softmax_over_query(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    w = _cross_weights(attn, x_new, k, mask, dim=-2)  # over the single query: 1, or NaN where blocked
    return attn.w_o(_merge(attn, w @ v))


def cross_step_softmax_over_heads(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    w = _cross_weights(attn, x_new, k, mask, dim=1)  # (B, h, 1, n) over the heads: NaN at every padded key
    return attn.w_o(_merge(attn, w @ v))


def cross_step_inverted_mask_no_nan(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    w = _cross_weights(attn, x_new, k, ~mask, nan_to_zero=True)  # lab 4's nan_to_num hides the NaN
    return attn.w_o(_merge(attn, w @ v))


def cross_step_scaled_by_d_model(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    w = _cross_weights(attn, x_new, k, mask, scale=math.sqrt(attn.d_model))
    return attn.w_o(_merge(attn, w @ v))


def cross_step_no_output_projection(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    return _merge(attn, _cross_weights(attn, x_new, k, mask) @ v)


def cross_step_divided_by_d_head(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    w = _cross_weights(attn, x_new, k, mask, scale=attn.d_head)
    return attn.w_o(_merge(attn, w @ v))


def cross_step_caches_the_target(attn, x_new, cache, s, mask):
    if cache.k is None:
        cache.store(*attn.project_kv(x_new))  # the new TARGET token's K, V
    k, v = attn.project_kv(s)
    return attn.w_o(_merge(attn, _cross_weights(attn, x_new, k, mask) @ v))


def cross_step_prescaled_keys(attn, x_new, cache, s, mask):
    if cache.k is None:
        k, v = attn.project_kv(s)
        cache.store(k / math.sqrt(attn.d_head), v)  # the scale folded into the cached keys
    q = _heads(attn, attn.w_q(x_new))
    scores = (q @ cache.k.transpose(-2, -1)).masked_fill(~mask, float("-inf"))
    return attn.w_o(_merge(attn, torch.softmax(scores, dim=-1) @ cache.v))


def cross_step_reads_itself_without_source(attn, x_new, cache, s, mask):
    if s is not None:
        k, v = _cached(attn, cache, s)
    else:  # "no source given: read the new token itself"
        k, v = attn.project_kv(x_new)
        mask = torch.ones(k.shape[0], 1, 1, 1, dtype=torch.bool)
    return attn.w_o(_merge(attn, _cross_weights(attn, x_new, k, mask) @ v))


def cross_step_returns_weights_too(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    w = _cross_weights(attn, x_new, k, mask)
    return attn.w_o(_merge(attn, w @ v)), w


def cross_step_returns_numpy(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    return attn.w_o(_merge(attn, _cross_weights(attn, x_new, k, mask) @ v)).numpy()


def cross_step_squeezed(attn, x_new, cache, s, mask):
    k, v = _cached(attn, cache, s)
    return attn.w_o(_merge(attn, _cross_weights(attn, x_new, k, mask) @ v))[:, 0]  # (B, d_model)


# Exercise 5.4: self_attention_flops(steps, d_model, cached) -> int
def flops_no_factor_two(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = 1 if cached else t + 1
        total += 4 * f * d_model ** 2 + 2 * f * (t + 1) * d_model
    return total


def flops_prefix_off_by_one(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = 1 if cached else t  # forgets BOS
        total += 8 * f * d_model ** 2 + 4 * f * t * d_model
    return total


def flops_three_projections(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = 1 if cached else t + 1
        total += 6 * f * d_model ** 2 + 4 * f * (t + 1) * d_model
    return total


def flops_uncached_scores_linear(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = 1 if cached else t + 1
        keys = t + 1 if cached else 1
        total += 8 * f * d_model ** 2 + 4 * f * keys * d_model
    return total


def flops_cached_one_key(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = 1 if cached else t + 1
        keys = 1 if cached else t + 1
        total += 8 * f * d_model ** 2 + 4 * f * keys * d_model
    return total


def flops_cached_reprojects_prefix(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = t + 1
        if cached:  # Q, O for the new token, but K, V of the whole prefix again
            total += 4 * d_model ** 2 + 4 * f * d_model ** 2 + 4 * f * d_model
        else:
            total += 8 * f * d_model ** 2 + 4 * f * f * d_model
    return total


def flops_counts_one_attention_product(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = 1 if cached else t + 1
        total += 8 * f * d_model ** 2 + 2 * f * (t + 1) * d_model  # QKᵀ only, AV forgotten
    return total


def flops_as_float(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = 1 if cached else t + 1
        total += 8 * f * d_model ** 2 + 4 * f * (t + 1) * d_model
    return total / 1  # a float, 1234.0


def flops_ignores_cached_flag(steps, d_model, cached):
    return sum(8 * (t + 1) * d_model ** 2 + 4 * (t + 1) ** 2 * d_model for t in range(steps))


def flops_last_step_only(steps, d_model, cached):
    f = 1 if cached else steps
    return 8 * f * d_model ** 2 + 4 * f * steps * d_model


def flops_with_softmax(steps, d_model, cached):
    total = 0
    for t in range(steps):
        f = 1 if cached else t + 1
        total += 8 * f * d_model ** 2 + 4 * f * (t + 1) * d_model + f * (t + 1)  # the softmax counted too
    return total


def flops_per_step(steps, d_model, cached):
    return [8 * (1 if cached else t + 1) * d_model ** 2 + 4 * (1 if cached else t + 1) * (t + 1) * d_model
            for t in range(steps)]  # the steps' counts, not their total


# Exercise 5.5: share_across_beams(k, beams) -> (beams, h, n, d_head)
def share_by_repeat(k, beams):
    return k.repeat(beams, 1, 1, 1)  # right values, beams copies


def share_returns_k(k, beams):
    return k  # broadcasting would work in a product, but the beams need their own axis


def share_along_source_axis(k, beams):
    return torch.cat([k] * beams, dim=2)


def share_new_axis(k, beams):
    return k.unsqueeze(0).expand(beams, -1, -1, -1, -1)


def share_forgot_return(k, beams):
    k.expand(beams, -1, -1, -1)


def share_after_squeezing_k(k, beams):
    k.squeeze_(0)  # in place: the caller's k loses its batch axis
    return k.expand(beams, -1, -1, -1)


def share_allocated_but_not_filled(k, beams):
    return k.new_zeros(beams, *k.shape[1:])


def share_as_a_list(k, beams):
    return [k[0]] * beams


MISTAKES = {
    "5.1": {
        "not_pair": bytes_total_only,
        "not_number": bytes_as_text,
        "swapped": bytes_swapped,
        "only_keys": bytes_only_keys,
        "one_layer": bytes_one_layer,
        "counts_values": bytes_counts_values,
        "cross_grows": bytes_cross_appended_every_step,
        "self_off_by_one": bytes_self_off_by_one,
        "self_holds_source": bytes_self_holds_source,
        "float": bytes_as_float,
        "wrong": bytes_in_bits,
    },
    "5.2": {
        "width_concat": self_step_appends_along_width,
        "batched_transpose": self_step_keys_dot_T,
        "appends_twice": self_step_appends_twice,
        "returns_tuple": self_step_returns_weights_too,
        "not_tensor": self_step_returns_numpy,
        "heads_not_merged": self_step_returns_heads,
        "wrong_shape": self_step_squeezed,
        "before_append": self_step_attends_before_appending,
        "overwrites": self_step_overwrites_cache,
        "mask_offset": self_step_causal_mask_without_offset,
        "unscaled": self_step_unscaled,
        "scale_d_model": self_step_scaled_by_d_model,
        "no_w_o": self_step_no_output_projection,
        "softmax_queries": self_step_softmax_over_queries,
        "not_stored": self_step_forgets_to_store,
        "wrong_rows": self_step_stores_states,
        "empty_cache": self_step_nothing_to_read_at_first,
        "wrong": self_step_divided_by_d_head,
    },
    "5.3": {
        "uses_append": cross_step_uses_append,
        "batched_transpose": cross_step_keys_dot_T,
        "mask_turned": cross_step_mask_turned,
        "appends_source": cross_step_appends_to_cross_cache,
        "returns_tuple": cross_step_returns_weights_too,
        "not_tensor": cross_step_returns_numpy,
        "heads_not_merged": cross_step_returns_heads,
        "wrong_shape": cross_step_squeezed,
        "softmax_queries": cross_step_softmax_over_query,
        "softmax_axis": cross_step_softmax_over_heads,
        "nan_inverted": cross_step_inverted_mask,
        "no_mask": cross_step_ignores_mask,
        "inverted": cross_step_inverted_mask_no_nan,
        "unscaled": cross_step_unscaled,
        "scale_d_model": cross_step_scaled_by_d_model,
        "no_w_o": cross_step_no_output_projection,
        "never_cached": cross_step_never_caches,
        "wrong_length": cross_step_caches_the_target,
        "reprojects": cross_step_reprojects_anyway,
        "wrong_cache": cross_step_prescaled_keys,
        "needs_source": cross_step_reads_source_shape,
        "ignores_cache": cross_step_reads_itself_without_source,
        "wrong": cross_step_divided_by_d_head,
    },
    "5.4": {
        "not_number": flops_per_step,
        "no_factor_two": flops_no_factor_two,
        "off_by_one": flops_prefix_off_by_one,
        "three_projections": flops_three_projections,
        "one_product": flops_counts_one_attention_product,
        "swapped_cases": flops_ignores_cached_flag,
        "one_key": flops_cached_one_key,
        "reprojects_prefix": flops_cached_reprojects_prefix,
        "queries_one_key": flops_uncached_scores_linear,
        "last_step": flops_last_step_only,
        "float": flops_as_float,
        "wrong": flops_with_softmax,
    },
    "5.5": {
        "returned_none": share_forgot_return,
        "not_tensor": share_as_a_list,
        "returns_k": share_returns_k,
        "source_axis": share_along_source_axis,
        "new_axis": share_new_axis,
        "changed_k": share_after_squeezing_k,
        "wrong_values": share_allocated_but_not_filled,
        "copy": share_by_repeat,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES, one_line=True)


# --- special cases ----------------------------------------------------------------------------------


def test_a_softmax_over_the_query_is_not_called_an_inverted_mask():
    """Issue 19: both give NaN; only the mask's hint may say "inverted"."""
    with pytest.raises(CheckFailed) as info:
        check_cross_attention_step(cross_step_softmax_over_query)
    assert info.value.key == "softmax_queries" and "inverted" not in str(info.value)
    with pytest.raises(CheckFailed) as info:  # the control: the inverted mask still gets its hint
        check_cross_attention_step(cross_step_inverted_mask)
    assert info.value.key == "nan_inverted"


@pytest.mark.parametrize("dim, axis", [(1, "head"), (0, "sentence of the batch")])
def test_a_softmax_over_any_wrong_axis_is_not_called_an_inverted_mask(dim, axis):
    """Issue 19: a softmax over the heads (or the batch) also gives NaN at padded keys; it is the axis, not the mask."""
    def step(attn, x_new, cache, s, mask):
        k, v = _cached(attn, cache, s)
        return attn.w_o(_merge(attn, _cross_weights(attn, x_new, k, mask, dim=dim) @ v))

    with pytest.raises(CheckFailed) as info:
        check_cross_attention_step(step)
    assert info.value.key in ("softmax_axis", "wrong") and "inverted" not in str(info.value)
    if info.value.key == "softmax_axis":
        assert f"dim={dim}" in str(info.value) and axis in str(info.value)


@pytest.mark.parametrize("checker, mistake, shown", [
    (check_self_attention_step, self_step_appends_twice, "grew the cache from 1 to 3 rows, expected 2"),
    (check_self_attention_step, self_step_forgets_to_store, "the cache holds 2 rows after the step instead of 3"),
    (check_cross_attention_step, cross_step_reprojects_anyway, "W_K ran on the source at 3 of the 3 steps"),
    (check_cross_attention_step, cross_step_appends_to_cross_cache, "grew to 10 rows at step 1 (n = 5)"),
    (check_cache_bytes, bytes_as_float, "the right value, but as a float (2688.0): a count of bytes"),
    (check_self_attention_flops, flops_no_factor_two, "(uncached) for steps=5, d_model=8, cached=False you returned"),
    (check_self_attention_flops, flops_as_float, "a count of FLOPs is an exact integer"),
])
def test_hints_show_the_numbers_of_the_case(checker, mistake, shown):
    with pytest.raises(CheckFailed) as info:
        checker(mistake)
    assert shown in str(info.value)


@pytest.mark.parametrize("mistake", [share_by_repeat, share_returns_k, share_along_source_axis, share_new_axis])
def test_beam_hints_give_the_idea_not_the_line(mistake):
    """Exercise 5.5's hints point to a stride-0 view (and Tensor.expand) without handing over the solution's line."""
    with pytest.raises(CheckFailed) as info:
        check_share_across_beams(mistake)
    assert "expand(beams" not in str(info.value)


def test_flops_fallback_hint_shows_the_value_without_the_formula():
    """A wrong count that matches no named mistake gets the student's value and how to count, not the formula."""
    def off_somewhere(steps, d_model, cached):
        return 12345

    with pytest.raises(CheckFailed, match=r"you returned 12,345, expected [\d,]+\. Count, at each step t") as info:
        check_self_attention_flops(off_somewhere)
    assert "8·f·d²" not in str(info.value)


def test_the_cross_checker_leaves_no_hooks_behind(solutions):
    """The projection counters are removed even when the student's function fails."""
    import crossattn.checks.lab05 as ch05

    made = []
    original = ch05._attention

    def spy(seed):
        attn = original(seed)
        made.append(attn)
        return attn

    ch05._attention = spy
    try:
        with pytest.raises(CheckFailed):
            check_cross_attention_step(cross_step_ignores_mask)
        check_cross_attention_step(solutions["cross_attention_step"])
    finally:
        ch05._attention = original
    assert made and all(not a.w_k._forward_hooks and not a.w_v._forward_hooks for a in made)


def test_a_crash_without_dot_T_keeps_the_plain_crash_hint():
    """The control of "batched_transpose": a step that crashes for another reason is not called a `.T` mistake."""
    def step_crashes(attn, x_new, cache):
        q = _heads(attn, attn.w_q(x_new))
        k, v = cache.append(*attn.project_kv(x_new))
        return attn.w_o(_merge(attn, torch.softmax(q @ k, dim=-1) @ v))  # no transpose at all: d_head ≠ t

    with pytest.raises(CheckFailed) as info:
        check_self_attention_step(step_crashes)
    assert info.value.key == "crash"
