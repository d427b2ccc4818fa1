"""Chapter 10's options: MQA/GQA heads, the gated cross-attention block, the prefix LM and the gated LM."""
import numpy as np
import pytest
import torch

from crossattn import causal_mask, prefix_lm_mask
from crossattn.nn.cache import KVCache
from crossattn.nn.data import ToyTranslation, to_batch
from crossattn.nn.decoder_only import GatedCrossLM, PrefixLM, prefix_mask
from crossattn.nn.layers import GatedCrossAttention, MultiheadAttention
from crossattn.nn.model import ModelConfig

B, M, N, D_MODEL, H = 2, 3, 5, 8, 4  # m ≠ n throughout
CFG = ModelConfig(vocab_size=ToyTranslation().vocab_size, d_model=16, h=2, d_ff=24,
                  n_encoder_layers=1, n_decoder_layers=3)


@pytest.fixture
def xs():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(B, M, D_MODEL, generator=g, dtype=torch.float64),
            torch.randn(B, N, D_MODEL, generator=g, dtype=torch.float64))


@pytest.fixture
def batch():
    return to_batch(ToyTranslation().sample(6, seed=3))  # sources and targets of different lengths: padded


@pytest.fixture
def lm():
    torch.manual_seed(0)
    return PrefixLM(CFG, reads_source=False).eval()


# --- the prefix-LM mask ---------------------------------------------------------------------------------

def test_prefix_lm_mask_source_reads_source_target_reads_source_and_its_past():
    n, m = 3, 4
    mask = prefix_lm_mask(n, m)
    assert mask.shape == (n + m, n + m)
    assert mask[:n, :n].all()  # the source reads itself both ways
    assert not mask[:n, n:].any()  # ... and never the target
    assert mask[n:, :n].all()  # every target position reads the whole source
    assert np.array_equal(mask[n:, n:], causal_mask(m))  # and its own past only
    assert np.array_equal(prefix_lm_mask(0, m), causal_mask(m))  # no source: a language model
    assert prefix_lm_mask(n, 0).all()  # no target: an encoder
    assert not np.array_equal(mask, causal_mask(n + m))  # control: it is not the causal mask


@pytest.mark.parametrize("n, m", [(-1, 2), (2, -1), (0, 0), (1.5, 2)])
def test_prefix_lm_mask_refuses_bad_sizes(n, m):
    with pytest.raises(ValueError, match="n and m"):
        prefix_lm_mask(n, m)


def test_prefix_mask_of_a_batch_blocks_padding_of_either_part(batch):
    mask = prefix_mask(batch.src, batch.tgt_in)  # (B, 1, n + m, n + m)
    n, m = batch.src.shape[1], batch.tgt_in.shape[1]
    assert mask.shape == (len(batch.src), 1, n + m, n + m)
    real = torch.cat([batch.src, batch.tgt_in], 1) != 0
    assert not mask[~real[:, None, None, :].expand_as(mask)].any()  # no query reads a padded key
    with pytest.raises(ValueError, match="same B"):
        prefix_mask(batch.src, batch.tgt_in[:2])


# --- MQA and GQA --------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_kv_heads", [1, 2])
def test_grouped_query_attention_equals_mha_with_each_kv_head_repeated(xs, n_kv_heads):
    x, s = xs
    torch.manual_seed(0)
    gqa = MultiheadAttention(D_MODEL, H, n_kv_heads=n_kv_heads).double()
    mha = MultiheadAttention(D_MODEL, H).double()
    d_head, group = D_MODEL // H, H // n_kv_heads
    with torch.no_grad():
        for name in ("w_q", "w_o"):
            getattr(mha, name).weight.copy_(getattr(gqa, name).weight)
        for name in ("w_k", "w_v"):  # (n_kv_heads·d_head, d) -> (h·d_head, d): head i uses kv head i // group
            w = getattr(gqa, name).weight.view(n_kv_heads, d_head, D_MODEL)
            getattr(mha, name).weight.copy_(w.repeat_interleave(group, 0).reshape(D_MODEL, D_MODEL))
    assert torch.allclose(gqa(x, s), mha(x, s), atol=1e-12)
    control = MultiheadAttention(D_MODEL, H).double()  # other K, V weights: another output
    control.load_state_dict(mha.state_dict())
    with torch.no_grad():
        control.w_k.weight.add_(0.5)
    assert not torch.allclose(control(x, s), mha(x, s), atol=1e-3)


def test_a_gqa_cross_cache_holds_n_kv_heads_heads(xs):
    x, s = xs
    gqa = MultiheadAttention(D_MODEL, H, n_kv_heads=1).double()
    cache = KVCache(static=True)
    gqa(x, s, cache=cache)
    assert cache.k.shape == cache.v.shape == (B, 1, N, D_MODEL // H)  # one head, not h
    assert gqa.w_k.weight.shape == (D_MODEL // H, D_MODEL)


@pytest.mark.parametrize("n_kv_heads", [0, 3, 8, 1.5])
def test_n_kv_heads_must_divide_h(n_kv_heads):
    with pytest.raises(ValueError, match="n_kv_heads"):
        MultiheadAttention(D_MODEL, H, n_kv_heads=n_kv_heads)


# --- the gated cross-attention block -------------------------------------------------------------------

def test_gated_block_at_zero_returns_its_input_exactly_and_opened_it_does_not(xs):
    x, s = xs
    torch.manual_seed(0)
    block = GatedCrossAttention(D_MODEL, H, 16).double()
    assert block.alpha_attn.item() == block.alpha_ff.item() == 0.0
    assert torch.equal(block(x, s), x)  # x + 0·y is x, bit for bit
    with torch.no_grad():
        block.alpha_attn.fill_(0.1)  # control: an open gate lets the source in
    assert not torch.allclose(block(x, s), x, atol=1e-3)
    s_other = s.flip(1) + 1.0
    assert not torch.allclose(block(x, s), block(x, s_other), atol=1e-3)


def test_gated_lm_at_step_zero_equals_the_frozen_lm_exactly(lm, batch):
    torch.manual_seed(1)
    gated = GatedCrossLM(lm, CFG).eval()
    with torch.no_grad():
        assert torch.equal(gated(batch.src, batch.tgt_in), lm(batch.src, batch.tgt_in))
        for block in gated.gated.values():  # control: nonzero gates change the logits
            block.alpha_attn.fill_(0.5)
        assert not torch.allclose(gated(batch.src, batch.tgt_in), lm(batch.src, batch.tgt_in), atol=1e-4)


def test_gated_lm_trains_only_its_new_parts(lm, batch):
    gated = GatedCrossLM(lm, CFG, every=2)
    assert sorted(gated.gated) == ["0", "2"]  # layers 0 and 2 of 3
    assert not any(p.requires_grad for p in lm.parameters())
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    logits = gated(batch.src, batch.tgt_in)
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=0).backward()
    grads = {name for name, p in gated.named_parameters() if p.grad is not None}
    assert grads and all(not name.startswith("lm.") for name in grads)
    assert any(name.endswith("alpha_attn") for name in grads)  # the gate learns from step 0
    assert all(torch.equal(before[k], v) for k, v in lm.state_dict().items())


def test_gated_lm_refuses_a_model_that_reads_a_source():
    with pytest.raises(ValueError, match="reads_source=False"):
        GatedCrossLM(PrefixLM(CFG), CFG)
    with pytest.raises(ValueError, match="every"):
        GatedCrossLM(PrefixLM(CFG, reads_source=False), CFG, every=0)


# --- the prefix LM ---------------------------------------------------------------------------------------

def test_prefix_lm_target_never_reads_its_future_and_source_never_reads_the_target(batch):
    torch.manual_seed(0)
    model = PrefixLM(CFG).eval()
    with torch.no_grad():
        base = model(batch.src, batch.tgt_in)
        later = batch.tgt_in.clone()
        later[:, 2:] = 5  # change the target from position 2 on
        moved = model(batch.src, later)
        assert torch.allclose(base[:, :2], moved[:, :2], atol=1e-6)  # earlier outputs do not move
        assert not torch.allclose(base[:, 2:], moved[:, 2:], atol=1e-3)  # control: later ones do
        other_src = batch.src.clone()
        other_src[:, 0] = torch.where(other_src[:, 0] == 3, 4, 3)  # a different first source word
        assert not torch.allclose(model(other_src, batch.tgt_in)[:, 0], base[:, 0], atol=1e-4)


def test_prefix_lm_ignores_source_padding(batch):
    torch.manual_seed(0)
    model = PrefixLM(CFG).eval()
    padded = torch.cat([batch.src, torch.zeros(len(batch.src), 3, dtype=torch.long)], 1)  # three more PADs
    with torch.no_grad():
        assert torch.allclose(model(batch.src, batch.tgt_in), model(padded, batch.tgt_in), atol=1e-5)


@pytest.mark.parametrize("kind", ["prefix", "gated"])
def test_cached_generation_matches_teacher_forcing_on_its_own_tokens(lm, batch, kind):
    torch.manual_seed(2)
    model = PrefixLM(CFG).eval() if kind == "prefix" else GatedCrossLM(lm, CFG).eval()
    if kind == "gated":
        with torch.no_grad():
            for block in model.gated.values():
                block.alpha_attn.fill_(0.7)
                block.alpha_ff.fill_(-0.3)
    tokens, logits = model.generate(batch.src, 5)
    tgt_in = torch.cat([torch.ones(len(tokens), 1, dtype=torch.long), tokens[:, :-1]], 1)  # BOS + the tokens
    with torch.no_grad():
        assert (model(batch.src, tgt_in) - logits).abs().max() < 1e-5
    with pytest.raises(ValueError, match="steps"):
        model.generate(batch.src, 0)


def test_prefix_lm_refuses_options_it_does_not_have():
    with pytest.raises(ValueError, match="PrefixLM supports"):
        PrefixLM(ModelConfig(tie_kv=True))
