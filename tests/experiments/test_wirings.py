"""Chapter 10's three wirings: their costs by formula against FlopCounterMode and the caches, and training."""
import pytest
import torch

from crossattn.experiments.caching_cost import PUBLISHED_CONFIGS
from crossattn.experiments.wirings import (
    SOURCE_READERS,
    WIRINGS,
    WiringsConfig,
    build,
    cache_bytes,
    gate_values,
    generation_flops,
    measure_cache_bytes,
    measure_generation_flops,
    parameters,
    source_bytes_per_token,
    step_flops,
    train_wirings,
)
from crossattn.nn.decoder_only import PrefixLM
from crossattn.nn.model import ModelConfig

CFG = ModelConfig(vocab_size=31, d_model=16, h=2, d_ff=24, n_encoder_layers=1, n_decoder_layers=3)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    lm = PrefixLM(CFG, reads_source=False)
    return {w: build(w, CFG, lm, every=2) for w in WIRINGS}


@pytest.mark.parametrize("wiring", WIRINGS)
@pytest.mark.parametrize("n, steps", [(1, 1), (7, 1), (5, 6)])
def test_generation_flops_formula_equals_flopcountermode(models, wiring, n, steps):
    src = torch.randint(3, 31, (1, n), generator=torch.Generator().manual_seed(n))
    assert generation_flops(wiring, CFG, n, steps, every=2) == measure_generation_flops(models[wiring], src, steps)


@pytest.mark.parametrize("wiring", WIRINGS)
def test_cache_bytes_formula_equals_what_the_caches_hold(models, wiring):
    src = torch.randint(3, 31, (1, 7), generator=torch.Generator().manual_seed(0))
    assert cache_bytes(wiring, CFG, 7, 4, every=2) == measure_cache_bytes(models[wiring], src, 4)


def test_where_each_wiring_pays_for_the_source():
    n, t = 40, 5
    # the prefix LM runs all L layers (and their MLPs) over the source; cross-attention runs the encoder only
    enc_only = ModelConfig(**{**CFG.__dict__, "n_encoder_layers": CFG.n_decoder_layers})
    assert step_flops("prefix LM", enc_only, n, 0) < step_flops("cross-attention", enc_only, n, 0)
    # each later step: the prefix LM reads n + t + 1 keys per layer; cross-attention adds W_Q, W_O of its
    # cross-attention, 4·d² per layer: at equal depth the prefix LM's step is cheaper by exactly that
    d, L = CFG.d_model, CFG.n_decoder_layers
    assert step_flops("cross-attention", CFG, n, t) - step_flops("prefix LM", CFG, n, t) == L * 4 * d * d
    # a gated block in one layer of three caches a third of the source bytes
    assert 3 * cache_bytes("gated", CFG, n, 1, every=3).source == cache_bytes("prefix LM", CFG, n, 1).source
    # control: a block in every layer caches as much as the others
    assert cache_bytes("gated", CFG, n, 1, every=1).source == cache_bytes("cross-attention", CFG, n, 1).source
    assert cache_bytes("gated", CFG, n, 1, n_kv_heads=1).source * CFG.h == cache_bytes("gated", CFG, n, 1).source


def test_source_bytes_per_token_of_published_models():
    whisper = next(c for c in PUBLISHED_CONFIGS if c.name == "Whisper large")
    mha = SOURCE_READERS[0]
    assert mha.bytes_per_token() == 2 * whisper.n_decoder_layers * whisper.width * 2  # chapter 5's cache, per token
    assert mha.bytes_per_token() == 20 * SOURCE_READERS[1].bytes_per_token()  # MQA: 20 heads -> 1
    assert source_bytes_per_token(8, 8, 128) == 32 * 1024  # Llama 3.2 Vision: 32 KiB per image token
    with pytest.raises(ValueError, match="n_kv_heads"):
        source_bytes_per_token(8, 0, 128)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="wiring"):
        step_flops("concatenation", CFG, 5, 0)
    with pytest.raises(ValueError, match="n ≥ 1"):
        cache_bytes("prefix LM", CFG, 0, 3)
    with pytest.raises(ValueError, match="steps"):
        generation_flops("gated", CFG, 5, 0)
    with pytest.raises(ValueError, match="lm="):
        build("gated", CFG)
    with pytest.raises(ValueError, match="n_kv_heads"):
        cache_bytes("gated", CFG, 5, 1, n_kv_heads=3)
    with pytest.raises(ValueError, match="GatedCrossLM"):
        gate_values(PrefixLM(CFG))


def test_train_wirings_learns_with_the_source_and_counts_frozen_parameters():
    small = WiringsConfig(model=ModelConfig(vocab_size=31, d_model=16, h=2, d_ff=32), steps=60, lm_steps=30,
                          n_train=500, n_test=100)
    results, models = train_wirings(small)
    assert set(results) == set(WIRINGS) and "LM" in models
    gated = results["gated"]
    assert gated.trainable < gated.total == gated.trainable + parameters(models["LM"])[1]
    for r in results.values():
        assert r.losses[-1] < r.losses[0]
    assert results["cross-attention"].trainable == results["cross-attention"].total
    assert all(abs(a) > 0 for pair in gate_values(models["gated"]).values() for a in pair)  # the gates opened
