"""Lab 4's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crossattn.checks import (
    CheckFailed,
    check_causal_mask,
    check_cross_attention,
    check_cross_mask,
    check_honest_loss,
    check_source_influence,
)
from tests.checks.conventions import named_mistakes_test
from tests.helpers import solution_namespace

PAD = 0

CHECKERS = {
    "causal_mask": check_causal_mask,
    "cross_mask": check_cross_mask,
    "cross_attention": check_cross_attention,
    "honest_loss": check_honest_loss,
    "source_influence": check_source_influence,
}


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("04")


def test_checkers_leave_the_global_random_stream_alone(solutions):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    for name, checker in CHECKERS.items():
        checker(solutions[name])
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------------- 4.1 causal mask


def causal_upper(m):
    return torch.ones(m, m, dtype=torch.bool).triu()


def causal_inverted(m):
    return ~torch.ones(m, m, dtype=torch.bool).tril()


def causal_strict(m):
    return torch.ones(m, m, dtype=torch.bool).tril(diagonal=-1)


def causal_everything(m):
    return torch.ones(m, m, dtype=torch.bool)


def causal_future_true(m):
    return torch.ones(m, m, dtype=torch.bool).triu(diagonal=1)


def causal_additive_float(m):
    return torch.nn.Transformer.generate_square_subsequent_mask(m)


def causal_integer(m):
    return torch.ones(m, m, dtype=torch.long).tril()


def causal_numpy(m):
    return np.tril(np.ones((m, m), dtype=bool))


def causal_batched(m):
    return torch.ones(m, m, dtype=torch.bool).tril()[None]


def causal_forgot_return(m):
    torch.ones(m, m, dtype=torch.bool).tril()


def causal_one_ahead(m):
    return torch.ones(m, m, dtype=torch.bool).tril(diagonal=1)  # lets each token read the next one too


# ---------------------------------------------------------------------------- 4.2 cross mask


def cross_mask_inverted(src, tgt_in):
    return (src == PAD)[:, None, None, :]  # the key_padding_mask convention


def cross_mask_target(src, tgt_in):
    return (tgt_in != PAD)[:, None, None, :]


def cross_mask_target_rows(src, tgt_in):
    return (tgt_in != PAD)[:, None, :, None]


def cross_mask_query_axis(src, tgt_in):
    return (src != PAD)[:, None, :, None]


def cross_mask_flat(src, tgt_in):
    return src != PAD


def cross_mask_three_axes(src, tgt_in):
    return (src != PAD)[:, None, :]


def cross_mask_full(src, tgt_in):
    m = tgt_in.shape[1]
    return (src != PAD)[:, None, None, :].expand(-1, 1, m, -1)


def cross_mask_source_second(src, tgt_in):
    return (src != PAD)[:, :, None, None]


def cross_mask_float(src, tgt_in):
    return (src != PAD).float()[:, None, None, :]


def cross_mask_no_padding(src, tgt_in):
    return torch.ones_like(src, dtype=torch.bool)[:, None, None, :]


def cross_mask_additive(src, tgt_in):
    blocked = (src == PAD)[:, None, None, :]
    return torch.zeros(blocked.shape).masked_fill(blocked, float("-inf"))  # 0 / -inf, to add to the scores


def cross_mask_numpy(src, tgt_in):
    return (src != PAD).numpy()[:, None, None, :]


def cross_mask_from_lengths_off_by_one(src, tgt_in):
    lengths = (src != PAD).sum(dim=1)  # (B,)
    return (torch.arange(src.shape[1]) < lengths[:, None] - 1)[:, None, None, :]


# ---------------------------------------------------------------------------- 4.3 cross attention


def _heads(t, h):
    B, L, d_model = t.shape
    return t.view(B, L, h, d_model // h).transpose(1, 2)  # (B, h, L, d_head)


def _finish(attn, weights, v, B, m):
    out = (weights @ v).transpose(1, 2).reshape(B, m, attn.d_model)
    return attn.w_o(out)


def _attend(attn, q_from, kv_from, mask, scale=None, dim=-1):
    q, k, v = _heads(attn.w_q(q_from), attn.h), _heads(attn.w_k(kv_from), attn.h), _heads(attn.w_v(kv_from), attn.h)
    scores = q @ k.transpose(-2, -1) / (scale or math.sqrt(q.shape[-1]))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=dim), nan=0.0)
    return _finish(attn, weights, v, q_from.shape[0], q_from.shape[1]), weights


def cross_swapped(attn, y, memory, mask):
    return _attend(attn, memory, y, mask)  # the encoder asks the questions


def cross_is_self_attention(attn, y, memory, mask):
    return _attend(attn, y, y, mask)


def cross_encoder_reads_itself(attn, y, memory, mask):
    return _attend(attn, memory, memory, mask)


def cross_values_from_decoder(attn, y, memory, mask):
    q, k, v = _heads(attn.w_q(y), attn.h), _heads(attn.w_k(memory), attn.h), _heads(attn.w_v(y), attn.h)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return _finish(attn, weights, v, *y.shape[:2]), weights


def cross_unscaled(attn, y, memory, mask):
    return _attend(attn, y, memory, mask, scale=1.0)


def cross_scaled_by_d_model(attn, y, memory, mask):
    return _attend(attn, y, memory, mask, scale=math.sqrt(attn.d_model))


def cross_no_output_projection(attn, y, memory, mask):
    q, k, v = _heads(attn.w_q(y), attn.h), _heads(attn.w_k(memory), attn.h), _heads(attn.w_v(memory), attn.h)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
    return (weights @ v).transpose(1, 2).reshape(*y.shape), weights


def cross_values_with_w_k(attn, y, memory, mask):
    q, k = _heads(attn.w_q(y), attn.h), _heads(attn.w_k(memory), attn.h)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
    return _finish(attn, weights, k, *y.shape[:2]), weights


def cross_heads_viewed_directly(attn, y, memory, mask):
    B, m, d_model = y.shape
    n, h = memory.shape[1], attn.h
    q = attn.w_q(y).view(B, h, m, d_model // h)
    k = attn.w_k(memory).view(B, h, n, d_model // h)
    v = attn.w_v(memory).view(B, h, n, d_model // h)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_model // h)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
    return _finish(attn, weights, v, B, m), weights


def cross_single_head(attn, y, memory, mask):
    q, k, v = attn.w_q(y), attn.w_k(memory), attn.w_v(memory)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_model), dim=-1)  # (B, m, n)
    return attn.w_o(weights @ v), weights


def cross_softmax_over_queries(attn, y, memory, mask):
    return _attend(attn, y, memory, mask, dim=-2)


def cross_ignores_mask(attn, y, memory, mask):
    return _attend(attn, y, memory, None)


def cross_inverted_mask(attn, y, memory, mask):
    return _attend(attn, y, memory, None if mask is None else ~mask)


def cross_nan_rows(attn, y, memory, mask):
    q, k, v = _heads(attn.w_q(y), attn.h), _heads(attn.w_k(memory), attn.h), _heads(attn.w_v(memory), attn.h)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # NaN where a row is fully blocked
    return _finish(attn, weights, v, *y.shape[:2]), weights


def cross_fill_minus_1e9(attn, y, memory, mask):
    q, k, v = _heads(attn.w_q(y), attn.h), _heads(attn.w_k(memory), attn.h), _heads(attn.w_v(memory), attn.h)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)  # chapter 2's fill
    weights = torch.softmax(scores, dim=-1)  # a fully blocked row: 1/n on every key
    return _finish(attn, weights, v, *y.shape[:2]), weights


def cross_fill_minus_1e9_then_zero(attn, y, memory, mask):
    """A correct alternative: fill with -1e9, then zero the blocked weights."""
    q, k, v = _heads(attn.w_q(y), attn.h), _heads(attn.w_k(memory), attn.h), _heads(attn.w_v(memory), attn.h)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)
    weights = torch.softmax(scores, dim=-1)  # (B, h, m, n)
    if mask is not None:
        weights = weights * mask  # blocked keys, and fully blocked rows, get 0
    return _finish(attn, weights, v, *y.shape[:2]), weights


def test_cross_attention_accepts_minus_1e9_when_blocked_weights_are_zeroed(capsys):
    check_cross_attention(cross_fill_minus_1e9_then_zero)
    assert capsys.readouterr().out.startswith("✓")


def cross_pair_swapped(attn, y, memory, mask):
    out, weights = _attend(attn, y, memory, mask)
    return weights, out


def cross_returns_out_only(attn, y, memory, mask):
    return _attend(attn, y, memory, mask)[0]


def _heads_weights(attn, y, memory, mask, scale):
    q, k, v = _heads(attn.w_q(y), attn.h), _heads(attn.w_k(memory), attn.h), _heads(attn.w_v(memory), attn.h)
    scores = q @ k.transpose(-2, -1) / scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0), v  # (B, h, m, n), (B, h, n, d_head)


def cross_one_wide_head(attn, y, memory, mask):
    B, m, d_model = y.shape
    q = attn.w_q(y)[:, None]  # (B, 1, m, d_model): one head as wide as the model
    k, v = attn.w_k(memory)[:, None], attn.w_v(memory)[:, None]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_model)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
    return attn.w_o((weights @ v)[:, 0]), weights


def cross_heads_left_split(attn, y, memory, mask):
    weights, v = _heads_weights(attn, y, memory, mask, math.sqrt(attn.d_head))
    return weights @ v, weights  # (B, h, m, d_head): never merged


def cross_heads_averaged(attn, y, memory, mask):
    weights, v = _heads_weights(attn, y, memory, mask, math.sqrt(attn.d_head))
    return (weights @ v).mean(dim=1), weights  # (B, m, d_head): the heads averaged, not merged


def cross_divided_by_d_head(attn, y, memory, mask):
    weights, v = _heads_weights(attn, y, memory, mask, attn.d_head)  # d_head, not √d_head
    return _finish(attn, weights, v, *y.shape[:2]), weights


def cross_merged_without_transpose(attn, y, memory, mask):
    weights, v = _heads_weights(attn, y, memory, mask, math.sqrt(attn.d_head))
    B, m, d_model = y.shape
    return attn.w_o((weights @ v).reshape(B, m, d_model)), weights  # (B, h, m, d_head) read as (B, m, ...)


def cross_keys_dot_T(attn, y, memory, mask):
    q, k, v = _heads(attn.w_q(y), attn.h), _heads(attn.w_k(memory), attn.h), _heads(attn.w_v(memory), attn.h)
    scores = q @ k.T / math.sqrt(attn.d_head)  # k.T of (B, h, n, d_head) is (d_head, n, h, B)
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
    return _finish(attn, weights, v, *y.shape[:2]), weights


def cross_heads_merged_with_view(attn, y, memory, mask):
    weights, v = _heads_weights(attn, y, memory, mask, math.sqrt(attn.d_head))
    B, m, d_model = y.shape
    return attn.w_o((weights @ v).transpose(1, 2).view(B, m, d_model)), weights  # transposed: not viewable


def cross_adds_residual(attn, y, memory, mask):
    weights, v = _heads_weights(attn, y, memory, mask, math.sqrt(attn.d_head))
    return _finish(attn, weights, v, *y.shape[:2]) + y, weights  # the layer adds the residual, not the attention


# ---------------------------------------------------------------------------- 4.4 honest loss


def honest_per_symbol(n_symbols, length):
    return math.log(n_symbols)


def honest_in_bits(n_symbols, length):
    return length * math.log2(n_symbols) / (length + 1)


def honest_bits_per_symbol(n_symbols, length):
    return math.log2(n_symbols)


def honest_whole_vocabulary(n_symbols, length):
    return length * math.log(n_symbols + 3) / (length + 1)


def honest_probability(n_symbols, length):
    return 1 / n_symbols


def honest_zero(n_symbols, length):
    return 0.0


def honest_eos_upside_down(n_symbols, length):
    return (length + 1) * math.log(n_symbols) / length


def honest_array(n_symbols, length):
    return np.full(length, math.log(n_symbols))


def honest_counts_bos(n_symbols, length):
    return length * math.log(n_symbols) / (length + 2)  # BOS averaged in as well


# ---------------------------------------------------------------------------- 4.5 leakage detector


def influence_after_only(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, i + 1:] = fresh[:, i + 1:]
    diff = torch.log_softmax(predict(changed, tgt_in), -1) - torch.log_softmax(predict(src, tgt_in), -1)
    return diff[:, i].abs().max().item()


def influence_past(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, :i] = fresh[:, :i]
    diff = torch.log_softmax(predict(changed, tgt_in), -1) - torch.log_softmax(predict(src, tgt_in), -1)
    return diff[:, i].abs().max().item()


def influence_on_target(predict, src, tgt_in, i, fresh):
    changed = tgt_in.clone()
    changed[:, i:] = fresh[:, i:tgt_in.shape[1]]
    diff = torch.log_softmax(predict(src, changed), -1) - torch.log_softmax(predict(src, tgt_in), -1)
    return diff[:, i].abs().max().item()


def influence_on_logits(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, i:] = fresh[:, i:]
    return (predict(changed, tgt_in) - predict(src, tgt_in))[:, i].abs().max().item()


def influence_on_probabilities(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, i:] = fresh[:, i:]
    diff = torch.softmax(predict(changed, tgt_in), -1) - torch.softmax(predict(src, tgt_in), -1)
    return diff[:, i].abs().max().item()


def influence_every_position(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, i:] = fresh[:, i:]
    diff = torch.log_softmax(predict(changed, tgt_in), -1) - torch.log_softmax(predict(src, tgt_in), -1)
    return diff.abs().max().item()


def influence_mean(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, i:] = fresh[:, i:]
    diff = torch.log_softmax(predict(changed, tgt_in), -1) - torch.log_softmax(predict(src, tgt_in), -1)
    return diff[:, i].abs().mean().item()


def influence_signed(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, i:] = fresh[:, i:]
    diff = torch.log_softmax(predict(changed, tgt_in), -1) - torch.log_softmax(predict(src, tgt_in), -1)
    return diff[:, i].max().item()


def influence_in_place(predict, src, tgt_in, i, fresh):
    src[:, i:] = fresh[:, i:]  # the baseline below already sees the new tokens
    before = torch.log_softmax(predict(src, tgt_in), -1)
    after = torch.log_softmax(predict(src, tgt_in), -1)
    return (after - before)[:, i].abs().max().item()


def influence_per_pair(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, i:] = fresh[:, i:]
    diff = torch.log_softmax(predict(changed, tgt_in), -1) - torch.log_softmax(predict(src, tgt_in), -1)
    return diff[:, i].abs().amax(dim=-1)  # one number per pair: (B,)


def influence_always_zero(predict, src, tgt_in, i, fresh):
    return 0.0


def influence_total(predict, src, tgt_in, i, fresh):
    changed = src.clone()
    changed[:, i:] = fresh[:, i:]
    diff = torch.log_softmax(predict(changed, tgt_in), -1) - torch.log_softmax(predict(src, tgt_in), -1)
    return diff[:, i].abs().sum().item()  # the total change, not the largest


MISTAKES = {
    "4.1": {
        "returned_none": causal_forgot_return,
        "not_tensor": causal_numpy,
        "additive": causal_additive_float,
        "not_bool": causal_integer,
        "batched": causal_batched,
        "upper": causal_upper,
        "inverted": (causal_inverted, causal_future_true),  # triu(1) is the inverse of tril()
        "strict": causal_strict,
        "everything": causal_everything,
        "wrong": causal_one_ahead,
    },
    "4.2": {
        "not_tensor": cross_mask_numpy,
        "additive": cross_mask_additive,
        "not_bool": cross_mask_float,
        "target_length": (cross_mask_target, cross_mask_target_rows),
        "query_axis": cross_mask_query_axis,
        "flat": cross_mask_flat,
        "three_axes": cross_mask_three_axes,
        "full": cross_mask_full,
        "source_second": cross_mask_source_second,
        "inverted": cross_mask_inverted,
        "no_padding": cross_mask_no_padding,
        "wrong": cross_mask_from_lengths_off_by_one,
    },
    "4.3": {
        "crash_shapes": cross_values_from_decoder,
        "nan_rows": cross_nan_rows,
        "uniform_rows": cross_fill_minus_1e9,
        "not_pair": cross_returns_out_only,
        "pair_swapped": cross_pair_swapped,
        "swapped": cross_swapped,
        "self_attention": cross_is_self_attention,
        "encoder_self": cross_encoder_reads_itself,
        "no_heads": cross_single_head,
        "single_head": cross_one_wide_head,
        "heads_not_merged": cross_heads_left_split,
        "merge_heads": cross_heads_averaged,
        "no_scale": cross_unscaled,
        "scale_d_model": cross_scaled_by_d_model,
        "no_w_o": cross_no_output_projection,
        "v_from_w_k": cross_values_with_w_k,
        "bad_split": cross_heads_viewed_directly,
        "softmax_queries": cross_softmax_over_queries,
        "no_mask": cross_ignores_mask,
        "inverted_mask": cross_inverted_mask,
        "wrong_weights": cross_divided_by_d_head,
        "batched_transpose": cross_keys_dot_T,
        "view_after_transpose": cross_heads_merged_with_view,
        "merge_no_transpose": cross_merged_without_transpose,
        "wrong_out": cross_adds_residual,
    },
    "4.4": {
        "not_scalar": honest_array,
        "per_symbol": honest_per_symbol,
        "bits": honest_in_bits,
        "bits_per_symbol": honest_bits_per_symbol,
        "whole_vocabulary": honest_whole_vocabulary,
        "probability": honest_probability,
        "zero": honest_zero,
        "eos_upside_down": honest_eos_upside_down,
        "wrong": honest_counts_bos,
    },
    "4.5": {
        "not_scalar": influence_per_pair,
        "changes_src": influence_in_place,
        "after": influence_after_only,
        "past": influence_past,
        "target": influence_on_target,
        "logits": influence_on_logits,
        "softmax": influence_on_probabilities,
        "all_positions": influence_every_position,
        "mean": influence_mean,
        "signed": influence_signed,
        "never_changes": influence_always_zero,
        "wrong": influence_total,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


# ---------------------------------------------------------------------------- special cases


def test_source_influence_mistakes_give_answers_distinct_from_the_reference():
    """Each named detector mistake must differ from the reference on the checker's probes, or it could pass."""
    from crossattn.checks.lab04 import _DETECTOR_MISTAKES, _influence, _probes

    probes = _probes()
    gen = torch.Generator().manual_seed(7)
    src = torch.randint(3, 16, (3, 6), generator=gen)
    fresh = 3 + (src - 3 + 1) % 13
    tgt_in = torch.randint(3, 16, (3, 5), generator=gen)
    cases = [(name, i) for name in probes for i in (2, 0, 4)]
    want = dict(zip(cases, (_influence(probes[p], src, tgt_in, i, fresh) for p, i in cases)))
    assert want["peeks", 2] > 0.1 and want["peeks_ahead", 2] > 0.1  # flagged
    assert max(want["honest", i] for i in (2, 0, 4)) == 0.0  # not flagged
    assert max(want["shifts", i] for i in (2, 0, 4)) < 1e-9  # probabilities do not move
    want = list(want.values())
    for key, kw in _DETECTOR_MISTAKES.items():
        got = [_influence(probes[p], src, tgt_in, i, fresh, **kw) for p, i in cases]
        assert not np.allclose(got, want, atol=1e-6), key


# ---------------------------------------------------------------------------- the inputs themselves


def test_cross_attention_inputs_use_distinct_sizes_so_a_transpose_cannot_pass():
    seen = {}

    def spy(attn, y, memory, mask):
        seen["shapes"] = (y.shape, memory.shape, attn.h)
        raise NotImplementedError

    with pytest.raises(CheckFailed):
        check_cross_attention(spy)
    (B, m, d_model), (_, n, _), h = seen["shapes"]
    assert len({B, h, m, n, d_model // h, d_model}) == 6
