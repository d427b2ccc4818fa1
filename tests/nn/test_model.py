"""The tiny encoder–decoder and the switches later chapters flip: caching, positions, tying, leakage."""
import pytest
import torch

from crossattn.experiments.diagnostics import (
    encoder_gradient_norms,
    future_influence,
    rank_collapse,
)
from crossattn.nn.data import (
    ToyTranslation,
    sequence_task,
    to_batch,
)
from crossattn.nn.decoding import greedy_decode
from crossattn.nn.layers import RelativePositionBias
from crossattn.nn.model import EncoderDecoder, ModelConfig
from crossattn.nn.tokens import FIRST_SYMBOL, PAD
from crossattn.nn.train import TrainConfig, token_accuracy, train


def model(seed=0, **kw):
    torch.manual_seed(seed)
    return EncoderDecoder(ModelConfig(**kw)).double().eval()


def test_forward_gives_logits_per_target_position():
    batch = to_batch(sequence_task("copy", 3, 5, 6, seed=0))
    logits = model()(batch.src, batch.tgt_in)
    assert logits.shape == (3, 6, 32)  # m = 5 tokens + EOS ≠ n = 5


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("positions", ["absolute", "relative"])
def test_all_three_cache_variants_give_the_same_logits(seed, positions):
    net = model(seed, positions=positions)
    pairs = ToyTranslation().sample(4, seed=seed)
    src = to_batch(pairs).src  # (4, n) with padding
    results = {mode: greedy_decode(net, src, steps=7, cache=mode) for mode in ("none", "cross", "both")}
    tokens, logits = results["none"]
    for mode in ("cross", "both"):
        assert torch.equal(results[mode][0], tokens)
        assert (results[mode][1] - logits).abs().max() < 1e-10
    # and the cached step-by-step logits equal teacher forcing on the decoded prefix
    tgt_in = torch.cat([torch.ones(4, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
    assert (net(src, tgt_in) - logits).abs().max() < 1e-10


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("switches", [
    {"positions": "none"}, {"positions": "query"}, {"tie_kv": True, "tie_embeddings": True},
    {"cross_reads": "all", "n_encoder_layers": 3}, {"cross_causal": True, "encoder_causal": True},
    {"cross_reads": "pooled"},
], ids=["no-positions", "query-positions", "tied", "transparent", "causal", "pooled"])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)], ids=["float64", "float32"])
def test_cache_variants_agree_for_every_model_switch(seed, switches, dtype, tol):
    """Chapter 5: the same tokens and logits with no cache, the cross cache, and both, whatever chapters 4-7 switch on."""
    net = model(seed, **switches).to(dtype)
    src = to_batch(ToyTranslation().sample(5, seed=seed)).src  # (5, n)
    steps = src.shape[1] + 4
    assert (src == PAD).any() and steps != src.shape[1]  # padding, and m ≠ n
    runs = {mode: greedy_decode(net, src, steps=steps, cache=mode) for mode in ("none", "cross", "both")}
    tokens, logits = runs["none"]
    for mode in ("cross", "both"):
        assert torch.equal(runs[mode][0], tokens)
        assert (runs[mode][1] - logits).abs().max() < tol


def test_decode_refuses_an_offset_without_a_self_cache():
    net = model()
    src = torch.tensor([[3, 4, 5]])
    with pytest.raises(ValueError, match="offset 0"):
        net.decode(torch.tensor([[1]]), net.encode(src), net.source_mask(src), None, offset=2)


def test_tie_kv_shares_objects_and_saves_exactly_4_d_squared_per_layer():
    d, layers = 32, 2
    untied, tied = model(d_model=d), model(d_model=d, tie_kv=True)
    count = lambda m: sum(p.numel() for p in m.parameters())  # parameters() lists a shared tensor once
    assert count(untied) - count(tied) == 4 * d * d * layers
    for enc, dec in zip(tied.encoder, tied.decoder):
        assert enc.self_attn.w_k is dec.self_attn.w_k is dec.cross_attn.w_k
        assert enc.self_attn.w_v is dec.self_attn.w_v is dec.cross_attn.w_v
        assert enc.self_attn.w_q is not dec.self_attn.w_q


def test_tie_embeddings_shares_the_embedding_matrix():
    tied = model(tie_embeddings=True)
    assert tied.out.weight is tied.embed.weight
    assert sum(p.numel() for p in model().parameters()) - sum(p.numel() for p in tied.parameters()) == 32 * 32


@pytest.mark.parametrize("positions, invariant", [("none", True), ("query", True), ("absolute", False), ("relative", False),
                                                 ("absolute+relative", False), ("encoder-relative", False)])
def test_without_source_positions_the_output_ignores_the_source_order(positions, invariant):
    """Chapter 6: reordering the source reorders K and V together. Without source positions the
    logits do not move (exactly, up to round-off), and every query's weights move with their keys."""
    net = model(positions=positions)
    for module in net.modules():  # a trained bias is not zero; give the untrained ones values
        if isinstance(module, RelativePositionBias):
            torch.nn.init.normal_(module.table)
    src = torch.tensor([[3, 4, 5, 6, 7], [8, 3, 3, 9, PAD]])  # (B, n) = (2, 5): a repeated token, a padded row
    tgt_in = torch.tensor([[1, 8, 9], [1, 4, 4]])  # (B, m) = (2, 3)
    logits = net(src, tgt_in)  # (B, m, V)
    weights = [layer.cross_attn.last_weights for layer in net.decoder]  # (B, h, m, n) each
    for perm in ([4, 2, 0, 3, 1], [1, 0, 2, 3, 4], [0, 1, 2, 4, 3]):
        moved = net(src[:, perm], tgt_in)
        same = torch.allclose(logits, moved, atol=1e-12)
        assert same is invariant
        if invariant:  # column j of the new weights is column perm[j] of the old ones
            for layer, w in zip(net.decoder, weights):
                assert torch.allclose(layer.cross_attn.last_weights, w[..., perm], atol=1e-12)


@pytest.mark.parametrize("positions, source_table, encoder_bias, cross_bias", [
    ("none", False, False, False), ("query", False, False, False), ("absolute", True, False, False),
    ("relative", False, False, True), ("absolute+relative", True, False, True), ("encoder-relative", False, True, False),
])
def test_each_position_scheme_puts_positions_where_chapter_6_says(positions, source_table, encoder_bias, cross_bias):
    net = model(positions=positions, n_encoder_layers=2, n_decoder_layers=3)
    src = torch.tensor([[5, 5, 5, 5]])  # (B, n) = (1, 4): one token repeated
    embedded = net.encode(src, return_all=True)[0]  # (B, n, d_model): embeddings (+ the table)
    assert torch.allclose(embedded[0, 0], embedded[0, 3]) is not source_table
    assert [layer.self_attn.relative_bias is not None for layer in net.encoder] == [encoder_bias] * 2
    assert [layer.cross_attn.relative_bias is not None for layer in net.decoder] == [cross_bias] * 3
    assert all(layer.self_attn.relative_bias is None for layer in net.decoder)  # the target has its table


def test_leakage_detector_flags_a_bidirectional_encoder_even_with_a_causal_cross_mask():
    src = torch.tensor([[3, 4, 5, 6], [6, 5, 4, 3]])
    tgt_in = torch.tensor([[1, 3, 4, 5], [1, 6, 5, 4]])
    symbols = (FIRST_SYMBOL, FIRST_SYMBOL + 4)
    leaky = model(cross_causal=True)  # the encoder still mixes future source tokens into every position
    honest = model(cross_causal=True, encoder_causal=True)
    open_ = model()
    assert future_influence(leaky, src, tgt_in, symbols)[1:].min() > 1e-6
    assert future_influence(honest, src, tgt_in, symbols).max() == 0.0
    assert future_influence(open_, src, tgt_in, symbols).min() > 1e-6


def test_rank_collapse_is_zero_for_identical_tokens_and_positive_otherwise():
    same = torch.ones(2, 4, 3)
    assert rank_collapse(same) == 0.0
    assert rank_collapse(torch.randn(2, 4, 3)) > 0.3
    with pytest.raises(ValueError, match=r"\(B, n, d\)"):
        rank_collapse(torch.zeros(4, 3))


def test_encoder_gradient_norms_has_one_positive_entry_per_layer():
    net = model(n_encoder_layers=3).float()
    norms = encoder_gradient_norms(net, to_batch(ToyTranslation().sample(8, seed=0)))
    assert len(norms) == 3 and all(g > 0 for g in norms)


def test_training_learns_the_toy_translation():
    task = ToyTranslation()
    torch.manual_seed(0)
    net = EncoderDecoder(ModelConfig(vocab_size=task.vocab_size))
    train_pairs, test_pairs = task.split(2000, 200, seed=0)  # no test source among the training sources
    history = train(net, train_pairs, TrainConfig(steps=120, batch_size=32, seed=0))
    assert history.losses[-1] < 0.5 * history.losses[0]
    assert token_accuracy(net, test_pairs) > 0.5


def test_toy_translation_swaps_adjective_noun_pairs():
    task = ToyTranslation()
    adj, noun, noun2 = FIRST_SYMBOL + task.n_nouns, FIRST_SYMBOL, FIRST_SYMBOL + 1
    src = [adj, noun, noun2]
    assert task.translate(src) == [noun + task.n_words, adj + task.n_words, noun2 + task.n_words]
    assert task.alignment(src) == [1, 0, 2]
    assert [task.source_word(t) for t in src] == ["A0", "N0", "N1"]


@pytest.mark.parametrize("kw, match", [({"positions": "rotary"}, "positions must be one of"),
                                       ({"cross_reads": "first"}, "cross_reads"), ({"d_model": 30, "h": 4}, "divisible"),
                                       ({"cross_reads": "pooled", "cross_causal": True}, "cannot be cross_causal")])
def test_config_rejects_unknown_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kw)


def test_sequence_tasks():
    pairs = sequence_task("reverse", 2, 4, 5, seed=0)
    assert pairs[0][1] == pairs[0][0][::-1]
    assert sequence_task("sort", 1, 6, 5, seed=1)[0][1] == sorted(sequence_task("sort", 1, 6, 5, seed=1)[0][0])
    with pytest.raises(ValueError, match="kind must be one of"):
        sequence_task("shuffle", 1, 4, 5, seed=0)
    assert PAD not in sum((s + t for s, t in sequence_task("random", 5, 3, 4, seed=2)), [])


# ---------------------------------------------------------------------------- one pooled vector (chapter 4)


def test_pooled_reads_one_row_the_mean_of_the_real_source_states():
    task = ToyTranslation()
    net = model(vocab_size=task.vocab_size, cross_reads="pooled")
    batch = to_batch(task.sample(4, seed=2))  # padded: sources of different lengths
    assert (batch.src == PAD).any()
    states = net.encode(batch.src, return_all=True)[-1]  # (B, n, d_model), the normed top layer
    memory = net.encode(batch.src)
    assert len(memory) == 2 and memory[0].shape == (4, 1, 32)
    for b in range(4):
        real = batch.src_mask[b]
        assert torch.allclose(memory[0][b, 0], states[b][real].mean(0), atol=1e-12)
    with torch.no_grad():
        net(batch.src, batch.tgt_in)
    weights = net.decoder[0].cross_attn.last_weights  # (B, h, m, 1)
    assert weights.shape[-1] == 1 and torch.all(weights == 1)  # one key: every query reads it whole


def test_pooled_output_ignores_padding_and_still_depends_on_the_source():
    net = model(vocab_size=20, cross_reads="pooled")
    src = torch.tensor([[5, 6, 7]])
    tgt_in = torch.tensor([[1, 8, 9]])
    padded = torch.tensor([[5, 6, 7, PAD, PAD]])
    with torch.no_grad():
        assert (net(src, tgt_in) - net(padded, tgt_in)).abs().max() < 1e-12
        assert (net(torch.tensor([[5, 6, 8]]), tgt_in) - net(src, tgt_in)).abs().max() > 1e-6  # the control


def test_memory_from_the_default_reads_the_last_layer_for_every_decoder_layer():
    net = model(n_decoder_layers=3)
    src = torch.tensor([[4, 5, 6, PAD]])
    states = net.encode(src, return_all=True)
    memory = net.memory_from(states, src)
    assert len(memory) == 3 and all(m is states[-1] for m in memory)
