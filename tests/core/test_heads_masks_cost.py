"""Multi-head helpers, masks and cost formulas."""
import numpy as np
import pytest
import torch

from crossattn import (
    Projections,
    attention_flops,
    causal_mask,
    loglog_slope,
    median_time,
    merge_heads,
    multihead_attention,
    padding_mask,
    score_entries,
    split_heads,
)


def test_split_heads_gives_each_head_its_contiguous_columns():
    x = np.arange(3 * 8, dtype=float).reshape(3, 8)  # (L=3, h·d_head = 2·4)
    heads = split_heads(x, 2)  # (2, 3, 4)
    assert heads.shape == (2, 3, 4)
    assert np.array_equal(heads[1, 2], x[2, 4:8])


def test_merge_heads_inverts_split_heads():
    x = np.random.default_rng(0).normal(size=(2, 5, 12))
    assert np.array_equal(merge_heads(split_heads(x, 3)), x)


def test_split_heads_rejects_a_width_not_divisible_by_h():
    with pytest.raises(ValueError, match=r"width 10 .* not divisible by h=3"):
        split_heads(np.zeros((4, 10)), 3)


def test_multihead_attention_agrees_with_torch_multiheadattention():
    rng = np.random.default_rng(3)
    d_model, h, m, n = 8, 2, 3, 5
    proj = Projections.random(d_model, h, d_model // h, seed=4)
    x, s = rng.normal(size=(1, m, d_model)), rng.normal(size=(1, n, d_model))
    lengths = np.array([3])
    mask = padding_mask(lengths, m, n)  # (1, m, n), True = may attend
    out, w = multihead_attention(x, s, proj, h, mask=mask)
    mha = torch.nn.MultiheadAttention(d_model, h, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        # torch stores y = x Wᵀ; ours is y = x W, so pass the transposes.
        mha.in_proj_weight.copy_(torch.from_numpy(np.concatenate([proj.w_q, proj.w_k, proj.w_v], axis=1).T))
        mha.out_proj.weight.copy_(torch.from_numpy(proj.w_o.T))
    # torch.nn.MultiheadAttention's key_padding_mask uses the OPPOSITE convention: True = blocked.
    key_padding_mask = torch.from_numpy(np.arange(n)[None, :] >= lengths[:, None])
    ref, ref_w = mha(torch.from_numpy(x), torch.from_numpy(s), torch.from_numpy(s),
                     key_padding_mask=key_padding_mask, average_attn_weights=False)
    assert np.abs(out - ref.detach().numpy()).max() < 1e-10
    assert np.abs(w - ref_w.detach().numpy()).max() < 1e-10


def test_multihead_self_attention_is_cross_attention_of_a_sequence_on_itself():
    rng = np.random.default_rng(5)
    proj = Projections.random(6, 3, 2, seed=1)
    x = rng.normal(size=(4, 6))
    out, w = multihead_attention(x, x, proj, 3)
    assert out.shape == (4, 6) and w.shape == (3, 4, 4)


def test_padding_mask_shape_and_orientation():
    mask = padding_mask(np.array([2, 4]), m=3, n=4)
    assert mask.shape == (2, 3, 4)
    assert mask[0].tolist() == [[True, True, False, False]] * 3


@pytest.mark.parametrize("lengths, match", [(np.array([5]), r"\[0, n=4\]"), (np.array([[1]]), "1-D integer"),
                                            (np.array([1.5]), "1-D integer")])
def test_padding_mask_rejects_bad_lengths(lengths, match):
    with pytest.raises(ValueError, match=match):
        padding_mask(lengths, 2, 4)


def test_causal_mask_is_lower_triangular():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(2, 4).shape == (2, 4)


def test_attention_flops_matches_the_formula_and_counts_torch_flops():
    assert attention_flops(3, 5, 4) == 4 * 3 * 5 * 4  # design: 4·m·n·d per head when d_v = d
    assert attention_flops(3, 5, 4, d_v=2, h=2) == 2 * (2 * 3 * 5 * 4 + 2 * 3 * 5 * 2)
    from torch.utils.flop_counter import FlopCounterMode
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    with FlopCounterMode(display=False) as counter:
        torch.softmax(q @ k.T, dim=-1) @ v
    assert counter.get_total_flops() == attention_flops(3, 5, 4, d_v=2)


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_attention_flops_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match="positive integer"):
        attention_flops(bad, 5, 4)


def test_score_entries():
    assert score_entries(3, 5, h=2) == 30


@pytest.mark.parametrize("call, match", [
    (lambda: score_entries(-1, 5), "m must be a positive integer"),
    (lambda: score_entries(3, 2.5), "n must be a positive integer"),
    (lambda: padding_mask(np.array([2, 4]), 4.5, 4), "m must be a positive integer"),
    (lambda: padding_mask(np.array([2, 4]), "3", 4), "m must be a positive integer"),
    (lambda: padding_mask(np.array([2, 4]), 3, 0), "n must be a positive integer"),
    (lambda: causal_mask(3.5), "m must be a positive integer"),
    (lambda: split_heads(np.ones((3, 4)), 2.0 + 0.5), "h must be a positive integer"),
    (lambda: split_heads(np.ones((3, 4)), True), "h must be a positive integer"),
    (lambda: Projections.random(8, 0, 4), "h must be a positive integer"),
])
def test_sizes_that_are_not_positive_integers_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()
    assert padding_mask(np.array([2, 4]), np.int64(3), 4.0).shape == (2, 3, 4)  # control: whole numbers pass


def test_loglog_slope_recovers_exponents():
    n = np.array([10, 20, 40, 80])
    assert abs(loglog_slope(n, 3 * n) - 1) < 1e-12
    assert abs(loglog_slope(n, n**2) - 2) < 1e-12
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1, 2], [0, 1])


def test_median_time_orders_a_slow_and_a_fast_function():
    small, large = np.ones(10), np.ones(200_000)
    assert median_time(lambda: large.sum(), repeats=3) > median_time(lambda: small.sum(), repeats=3)
