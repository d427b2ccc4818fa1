"""The checkers of lab 5 accept the lab's own solutions, reject stubs, and name each common mistake.

Each mistake below is written the way a student would write it, as a whole function, and must fail
with its own hint (matched by `pytest.raises(CheckFailed, match=...)`).
"""
from __future__ import annotations

import math
import re

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
from tests.helpers import solution_namespace

CHECKERS = {
    "cache_bytes": check_cache_bytes,
    "self_attention_step": check_self_attention_step,
    "cross_attention_step": check_cross_attention_step,
    "self_attention_flops": check_self_attention_flops,
    "share_across_beams": check_share_across_beams,
}


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("05")


# Reference solutions and stubs of every lab: tests/checks/test_all_labs.py.

# --- (c) named mistakes, one small student-like function each ------------------------------------

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


# Exercise 5.3: cross_attention_step(attn, x_new, cache, s, mask) -> (B, 1, d_model)
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


# Exercise 5.5: share_across_beams(k, beams) -> (beams, h, n, d_head)
def share_by_repeat(k, beams):
    return k.repeat(beams, 1, 1, 1)  # right values, beams copies


def share_returns_k(k, beams):
    return k  # broadcasting would work in a product, but the beams need their own axis


def share_along_source_axis(k, beams):
    return torch.cat([k] * beams, dim=2)


def share_new_axis(k, beams):
    return k.unsqueeze(0).expand(beams, -1, -1, -1, -1)


MISTAKES = [
    # (checker, student function, regular expression the hint must match)
    (check_cache_bytes, bytes_only_keys, r"two tensors, K and V"),
    (check_cache_bytes, bytes_one_layer, r"every decoder layer has its own cache"),
    (check_cache_bytes, bytes_counts_values, r"counted values, not bytes"),
    (check_cache_bytes, bytes_swapped, r"swapped"),
    (check_cache_bytes, bytes_cross_appended_every_step, r"cross cache grows with the steps"),
    (check_cache_bytes, bytes_self_off_by_one, r"off by one.*T rows"),
    (check_cache_bytes, bytes_self_holds_source, r"self cache holds the target side"),
    (check_cache_bytes, bytes_total_only, r"return a pair \(cross_bytes, self_bytes\)"),
    (check_cache_bytes, bytes_as_float, r"the right value, but as a float \(.*\): a count of bytes is an exact integer"),
    (check_self_attention_step, self_step_attends_before_appending, r"off by one.*append its K, V first"),
    (check_self_attention_step, self_step_overwrites_cache, r"replaced the cache by the new row"),
    (check_self_attention_step, self_step_causal_mask_without_offset, r"causal mask inside a step is off by the offset"),
    (check_self_attention_step, self_step_unscaled, r"forgot to scale the scores by 1/√d_head"),
    (check_self_attention_step, self_step_scaled_by_d_model, r"not by 1/√d_model"),
    (check_self_attention_step, self_step_no_output_projection, r"forgot the output projection"),
    (check_self_attention_step, self_step_returns_heads, r"still split into heads"),
    (check_self_attention_step, self_step_forgets_to_store, r"cache holds 2 rows after the step instead of 3"),
    (check_self_attention_step, self_step_appends_along_width, r"concatenated along the width"),
    (check_self_attention_step, self_step_softmax_over_queries, r"do not sum to 1 over the keys.*dim=-1"),
    (check_self_attention_step, self_step_appends_twice, r"grew the cache from 1 to 3 rows, expected 2.*more than once"),
    (check_cross_attention_step, cross_step_never_caches, r"cross cache is still empty"),
    (check_cross_attention_step, cross_step_reprojects_anyway, r"W_K ran on the source at 3 of the 3 steps"),
    (check_cross_attention_step, cross_step_appends_to_cross_cache, r"grew to 10 rows.*never append"),
    (check_cross_attention_step, cross_step_uses_append, r"called append\(\) on the cross-attention cache.*filled with store\(\), never append\(\)"),
    (check_cross_attention_step, cross_step_ignores_mask, r"padded source positions got weight"),
    (check_cross_attention_step, cross_step_inverted_mask, r"NaN.*mask inverted"),
    (check_cross_attention_step, cross_step_unscaled, r"forgot to scale the scores"),
    (check_cross_attention_step, cross_step_reads_source_shape, r"with s=None after the cache was filled"),
    (check_self_attention_flops, flops_no_factor_two, r"you returned [\d,]+, expected [\d,]+: a multiply-add is 2 FLOPs"),
    (check_self_attention_flops, flops_prefix_off_by_one, r"you returned [\d,]+, .*off by one: at step t the decoder holds t \+ 1 tokens"),
    (check_self_attention_flops, flops_three_projections, r"you returned [\d,]+, .*all four projections"),
    (check_self_attention_flops, flops_counts_one_attention_product, r"you returned [\d,]+, .*TWO products, QKᵀ .* and AV"),
    (check_self_attention_flops, flops_uncached_scores_linear, r"\(uncached\) .*you returned [\d,]+, .*attends to all f keys"),
    (check_self_attention_flops, flops_cached_one_key, r"\(cached\) .*you returned [\d,]+, .*still attends to all t \+ 1"),
    (check_self_attention_flops, flops_cached_reprojects_prefix, r"you returned [\d,]+, .*re-projected the whole prefix"),
    (check_self_attention_flops, flops_ignores_cached_flag, r"\(cached\) .*you returned [\d,]+, .*you swapped the two cases"),
    (check_self_attention_flops, flops_last_step_only, r"\(uncached\) .*you returned [\d,]+, .*return the total over all T steps"),
    (check_self_attention_flops, flops_as_float, r"the right value, but as a float \(.*\): a count of FLOPs is an exact integer"),
    (check_share_across_beams, share_by_repeat, r"your result is a copy.*expand"),
    (check_share_across_beams, share_returns_k, r"returned k as it is"),
    (check_share_across_beams, share_along_source_axis, r"along the SOURCE axis"),
    (check_share_across_beams, share_new_axis, r"added a new axis"),
]


@pytest.mark.parametrize(("checker", "mistake", "hint"), MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_mistake_fails_with_its_hint(checker, mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        checker(mistake)


def test_every_exercise_has_at_least_three_named_mistakes():
    counts = {checker.__name__: 0 for checker in CHECKERS.values()}
    for checker, _, _ in MISTAKES:
        counts[checker.__name__] += 1
    assert min(counts.values()) >= 3, counts


def test_each_mistake_gets_its_own_hint():
    """Two different mistakes of one exercise must not share a hint: each hint names its own error."""
    hints: dict[str, list[str]] = {}
    for checker, mistake, _ in MISTAKES:
        try:
            checker(mistake)
        except CheckFailed as err:
            hints.setdefault(checker.__name__, []).append(str(err))
        else:
            pytest.fail(f"{mistake.__name__} passed {checker.__name__}")
    for name, messages in hints.items():
        assert len(set(messages)) == len(messages), f"{name} gives the same hint to different mistakes"


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


def test_hints_are_one_line_and_name_the_exercise():
    for checker, mistake, _ in MISTAKES:
        with pytest.raises(CheckFailed) as info:
            checker(mistake)
        message = str(info.value)
        assert "\n" not in message
        assert re.match(r"Exercise 5\.\d ", message), message


def test_checker_rejects_a_non_function():
    with pytest.raises(CheckFailed, match="pass your function itself"):
        check_self_attention_step(torch.zeros(3))
    with pytest.raises(CheckFailed, match="pass your function itself"):
        check_cache_bytes(42)


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
