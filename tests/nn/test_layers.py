"""The PyTorch attention layer against PyTorch's own, and its masks, caches and tying (chapter 4)."""
import pytest
import torch
import torch.nn.functional as F

from crossattn.nn.cache import KVCache
from crossattn.nn.layers import (
    DecoderLayer,
    MultiheadAttention,
    RelativePositionBias,
)

B, M, N, D_MODEL, H = 2, 3, 5, 8, 2  # m ≠ n throughout


@pytest.fixture
def mha():
    torch.manual_seed(0)
    return MultiheadAttention(D_MODEL, H).double()


@pytest.fixture
def xs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(B, M, D_MODEL, generator=g, dtype=torch.float64), torch.randn(B, N, D_MODEL, generator=g, dtype=torch.float64)


def test_agrees_with_scaled_dot_product_attention(mha, xs):
    x, s = xs
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]  # (B, 1, 1, n), True = may attend
    out = mha(x, s, mask=mask)
    q, k, v = mha._split(mha.w_q(x)), *mha.project_kv(s)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # same convention: True = may attend
    ref = mha.w_o(ref.transpose(1, 2).reshape(B, M, D_MODEL))
    assert (out - ref).abs().max() < 1e-10


def test_agrees_with_torch_multiheadattention_given_the_same_weights(mha, xs):
    x, s = xs
    ref = torch.nn.MultiheadAttention(D_MODEL, H, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mha.w_q.weight, mha.w_k.weight, mha.w_v.weight]))
        ref.out_proj.weight.copy_(mha.w_o.weight)
    lengths = torch.tensor([5, 3])
    ours = mha(x, s, mask=(torch.arange(N) < lengths[:, None])[:, None, None, :])  # True = may attend
    # torch.nn.MultiheadAttention's key_padding_mask has the OPPOSITE convention: True = blocked.
    theirs, _ = ref(x, s, s, key_padding_mask=torch.arange(N) >= lengths[:, None])
    assert (ours - theirs).abs().max() < 1e-10


def test_perturbing_padded_source_keys_leaves_the_output_unchanged(mha, xs):
    x, s = xs
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]
    out = mha(x, s, mask=mask)
    s2 = s.clone()
    s2[1, 3:] += 100.0
    assert torch.equal(out, mha(x, s2, mask=mask))


def test_fully_masked_query_gets_zero_weights_and_output_not_nan(mha, xs):
    x, s = xs
    mask = torch.ones(M, N, dtype=torch.bool)
    mask[0] = False
    out = mha(x, s, mask=mask)
    assert torch.isfinite(out).all()
    assert torch.all(mha.last_weights[:, :, 0] == 0) and torch.all(out[:, 0] == 0)


def test_weights_have_one_row_per_query_and_one_column_per_key(mha, xs):
    x, s = xs
    mha(x, s)
    assert mha.last_weights.shape == (B, H, M, N)
    assert torch.allclose(mha.last_weights.sum(-1), torch.ones(B, H, M, dtype=torch.float64))


def test_future_target_token_does_not_move_earlier_decoder_outputs():
    torch.manual_seed(2)
    layer = DecoderLayer(D_MODEL, H, 16).double().eval()
    y, memory = torch.randn(B, M, D_MODEL, dtype=torch.float64), torch.randn(B, N, D_MODEL, dtype=torch.float64)
    causal = torch.ones(M, M, dtype=torch.bool).tril()
    out = layer(y, memory, self_mask=causal)
    y2 = y.clone()
    y2[:, -1] += 10.0
    out2 = layer(y2, memory, self_mask=causal)
    assert torch.allclose(out[:, :-1], out2[:, :-1]) and not torch.allclose(out[:, -1], out2[:, -1])


def test_static_cache_computes_kv_once_and_growing_cache_matches_full_attention(mha, xs):
    x, s = xs
    cross = KVCache(static=True)
    first = mha(x, s, cache=cross)
    k_ptr = cross.k.data_ptr()
    again = mha(x, None, cache=cross)  # the source is no longer needed
    assert torch.equal(first, again) and cross.k.data_ptr() == k_ptr
    causal = torch.ones(M, M, dtype=torch.bool).tril()
    full = mha(x, mask=causal)
    grow = KVCache()
    steps = [mha(x[:, t:t + 1], cache=grow) for t in range(M)]
    assert grow.length == M
    assert (torch.cat(steps, dim=1) - full).abs().max() < 1e-12


def test_cache_misuse_is_refused_with_a_reason(mha, xs):
    x, s = xs
    with pytest.raises(ValueError, match="needs the source states"):
        mha(x, None, cache=KVCache(static=True))
    cross = KVCache(static=True)
    mha(x, s, cache=cross)
    with pytest.raises(ValueError, match="never append"):
        cross.append(cross.k, cross.v)
    with pytest.raises(ValueError, match="already filled"):
        cross.store(cross.k, cross.v)


def test_expand_beams_shares_the_cross_cache_without_copying(mha, xs):
    _, s = xs
    cross = KVCache(static=True)
    mha(torch.zeros(1, 1, D_MODEL, dtype=torch.float64), s[:1], cache=cross)
    beams = cross.expand_beams(4)
    assert beams.k.shape == (4, H, N, D_MODEL // H)
    assert beams.k.data_ptr() == cross.k.data_ptr() and beams.k.stride(0) == 0


def test_shared_projections_are_the_same_object():
    shared_k, shared_v = torch.nn.Linear(D_MODEL, D_MODEL, bias=False), torch.nn.Linear(D_MODEL, D_MODEL, bias=False)
    a = MultiheadAttention(D_MODEL, H, shared_k=shared_k, shared_v=shared_v)
    b = MultiheadAttention(D_MODEL, H, shared_k=shared_k, shared_v=shared_v)
    assert a.w_k is b.w_k and a.w_v.weight is b.w_v.weight


def test_relative_bias_depends_only_on_the_offset():
    bias = RelativePositionBias(H, max_distance=3)
    with torch.no_grad():
        bias.table.copy_(torch.arange(H * 7, dtype=torch.float32).view(H, 7))
    b = bias(M, N)  # (h, m, n)
    assert b.shape == (H, M, N)
    assert b[0, 2, 1] == b[0, 1, 0]  # offset i − j = 1 both times
    assert torch.equal(bias(1, N, offset=2)[:, 0], b[:, 2])  # incremental decoding sees the same row


def test_bad_shapes_and_masks_get_clear_errors(mha):
    with pytest.raises(ValueError, match=r"x must have shape \(B, m, d_model=8\), got \(3, 8\)"):
        mha(torch.zeros(M, D_MODEL, dtype=torch.float64))
    with pytest.raises(ValueError, match="mask must be boolean"):
        mha(torch.zeros(1, M, D_MODEL, dtype=torch.float64), mask=torch.zeros(M, M, dtype=torch.float64))
    with pytest.raises(ValueError, match="not divisible"):
        MultiheadAttention(10, 3)
