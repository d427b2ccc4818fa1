"""Chapter 4's measuring tools: alignment agreement, rank profiles, the leakage evaluation, the wiring figures."""
import math

import matplotlib.pyplot as plt
import pytest
import torch

from crossattn.experiments.diagnostics import (
    alignment_agreement,
    alignment_matrix,
    cross_attention_weights,
    encoder_attention_entropy,
    encoder_gradient_norms,
    encoder_output_gradients,
    encoder_rank_profile,
    encoder_weight_gradient_norms,
    rank_collapse,
)
from crossattn.experiments.leakage import (
    LeakageRow,
    denoising_losses,
    denoising_task,
    leakage_table,
    measure_leakage,
    symbol_loss,
    symbol_losses,
)
from crossattn.nn.data import (
    ToyTranslation,
    sequence_split,
    sequence_task,
    to_batch,
)
from crossattn.nn.model import EncoderDecoder, ModelConfig
from crossattn.nn.tokens import FIRST_SYMBOL
from crossattn.viz.wiring import (
    plot_alignment,
    plot_encoder_decoder,
)


def model(seed=0, **kw):
    torch.manual_seed(seed)
    return EncoderDecoder(ModelConfig(**kw)).eval()


# ---------------------------------------------------------------------------- alignment


def test_alignment_matrix_has_one_1_per_row_at_the_aligned_word():
    truth = alignment_matrix([1, 0, 2], n=4)  # m = 3 ≠ n = 4
    assert truth.shape == (3, 4)
    assert torch.equal(truth.sum(1), torch.ones(3)) and truth[0, 1] == truth[1, 0] == truth[2, 2] == 1
    with pytest.raises(ValueError, match="outside a source of length n=2"):
        alignment_matrix([0, 2], n=2)


def test_alignment_agreement_counts_argmax_hits_and_skips_eos_rows():
    alignments = [[1, 0, 2], [0]]
    weights = torch.zeros(2, 4, 3)  # (B, m, n): m = 4 rows, the last one EOS or padding
    weights[0, :3] = alignment_matrix([1, 0, 2], 3)  # all three right
    weights[0, 3, 0] = 1.0  # an EOS row: not counted
    weights[1, 0, 2] = 1.0  # wrong
    assert alignment_agreement(weights, alignments) == pytest.approx(3 / 4)
    only_first = [[True, False, False], [True]]
    assert alignment_agreement(weights, alignments, only_first) == pytest.approx(1 / 2)
    assert math.isnan(alignment_agreement(weights, alignments, [[False] * 3, [False]]))
    with pytest.raises(ValueError, match=r"shape \(B=2, m, n\)"):
        alignment_agreement(weights[0], alignments)
    with pytest.raises(ValueError, match="one boolean per target token"):
        alignment_agreement(weights, alignments, [[True], [True]])


def test_cross_attention_weights_stack_every_decoder_layer():
    task = ToyTranslation()
    net = model(vocab_size=task.vocab_size, n_decoder_layers=3, h=4)
    batch = to_batch(task.sample(5, seed=3))
    W = cross_attention_weights(net, batch.src, batch.tgt_in)
    B, n = batch.src.shape
    m = batch.tgt_in.shape[1]
    assert W.shape == (3, B, 4, m, n)
    assert torch.allclose(W.sum(-1), torch.ones(3, B, 4, m))
    padded = ~batch.src_mask  # (B, n): padding gets no weight from any layer or head
    assert torch.all(W.permute(1, 4, 0, 2, 3)[padded] == 0)


def test_a_perfect_aligner_scores_1_and_the_monotone_guess_misses_every_pair():
    task = ToyTranslation()
    pairs = task.sample(50, seed=4)
    alignments = [task.alignment(s) for s, _ in pairs]
    m, n = max(map(len, alignments)), max(len(s) for s, _ in pairs)
    perfect = torch.zeros(len(pairs), m, n)
    diagonal = torch.zeros(len(pairs), m, n)
    for b, a in enumerate(alignments):
        perfect[b, :len(a)] = alignment_matrix(a, n)
        diagonal[b, :len(a)] = alignment_matrix(list(range(len(a))), n)
    assert alignment_agreement(perfect, alignments) == 1.0
    in_pair = [[j != i for i, j in enumerate(a)] for a in alignments]
    assert alignment_agreement(diagonal, alignments, in_pair) == 0.0


# ---------------------------------------------------------------------------- rank profile


def test_rank_profile_collapses_without_residuals_and_not_with_them():
    task = ToyTranslation()
    src = to_batch(task.sample(16, seed=0)).src
    with_res = encoder_rank_profile(model(vocab_size=task.vocab_size, n_encoder_layers=3), src)
    without = encoder_rank_profile(model(vocab_size=task.vocab_size, n_encoder_layers=3, residual=False), src)
    assert len(with_res) == len(without) == 4  # embeddings + 3 layers
    assert with_res[0] == pytest.approx(without[0])  # the same embeddings
    assert min(with_res) > 0.4 and without[-1] < 0.05


def test_rank_collapse_is_the_distance_from_identical_rows_not_from_rank_one():
    same = torch.ones(1, 4, 3) * torch.tensor([1.0, -2.0, 0.5])  # (B, n, d): identical rows
    assert rank_collapse(same) == pytest.approx(0.0, abs=1e-7)
    scaled = torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])[None]  # rank one, rows NOT equal
    assert rank_collapse(scaled) > 0.3


def test_weight_gradients_of_queries_and_keys_vanish_above_a_collapsed_layer():
    task = ToyTranslation()
    batch = to_batch(task.sample(32, seed=1))
    for seed in (0, 1):
        plain = model(seed, vocab_size=task.vocab_size, n_encoder_layers=4, residual=False).train()
        with_res = model(seed, vocab_size=task.vocab_size, n_encoder_layers=4).train()
        g, r = encoder_weight_gradient_norms(plain, batch), encoder_weight_gradient_norms(with_res, batch)
        assert set(g) == {"w_q", "w_k", "w_v"} and all(len(v) == 4 for v in g.values())
        for name in ("w_q", "w_k"):
            assert max(g[name][2:]) < 1e-4 * g[name][0]  # layers 3, 4 get almost nothing
            assert max(r[name]) < 3 * min(r[name])  # with residuals: the same order everywhere
        assert min(g["w_v"]) > 1e-2 and min(r["w_v"]) > 1e-2  # values keep learning in both
        assert all(p.grad is None or not p.grad.any() for p in plain.parameters())  # grads cleared


def test_output_gradients_keep_their_norm_but_lose_their_rank_without_residuals():
    """Chapter 4, going further: the backward pass collapses like the forward pass (issue 17 item 1)."""
    task = ToyTranslation()
    batch = to_batch(task.sample(32, seed=1))
    for seed in (0, 1):
        plain = model(seed, vocab_size=task.vocab_size, n_encoder_layers=4, residual=False)
        with_res = model(seed, vocab_size=task.vocab_size, n_encoder_layers=4)
        G, R = encoder_output_gradients(plain, batch), encoder_output_gradients(with_res, batch)
        assert len(G) == 4 and G[0].shape == (*batch.src.shape, 32)
        assert torch.all(G[0][~batch.src_mask] == 0)  # padding gets no gradient
        norms = [g.norm().item() for g in G]
        assert norms == pytest.approx(encoder_gradient_norms(plain, batch))
        assert 0.3 < norms[0] / norms[-1] < 3  # the norm does not vanish ...
        assert max(rank_collapse(g, batch.src_mask) for g in G[1:]) < 0.01  # ... its rows become identical
        assert min(rank_collapse(g, batch.src_mask) for g in R) > 0.25  # with residuals they do not
        assert all(p.grad is None or not p.grad.any() for p in plain.parameters())  # grads cleared


def test_output_gradients_follow_what_the_decoder_reads():
    task = ToyTranslation()
    batch = to_batch(task.sample(8, seed=2))
    for reads in ("all", "pooled"):
        net = model(vocab_size=task.vocab_size, n_encoder_layers=2, cross_reads=reads)
        G = encoder_output_gradients(net, batch)
        assert len(G) == 2 and all(g.norm() > 0 for g in G)


def test_attention_entropy_is_1_for_uniform_attention_and_lower_when_peaked():
    task = ToyTranslation()
    src = to_batch(task.sample(16, seed=0)).src
    net = model(vocab_size=task.vocab_size, n_encoder_layers=2)
    with torch.no_grad():
        net.encoder[0].self_attn.w_q.weight.zero_()  # every score 0: exactly uniform over the real tokens
    uniform, second = encoder_attention_entropy(net, src)
    assert uniform == pytest.approx(1.0, abs=1e-5) and 0.9 < second <= 1.0 + 1e-6
    fresh = encoder_attention_entropy(model(vocab_size=task.vocab_size), src)[0]
    sharp = model(vocab_size=task.vocab_size)
    with torch.no_grad():
        sharp.encoder[0].self_attn.w_q.weight.mul_(4)
        sharp.encoder[0].self_attn.w_k.weight.mul_(4)
    assert encoder_attention_entropy(sharp, src)[0] < 0.6 < 0.95 < fresh  # init: near uniform
    with pytest.raises(ValueError, match="at least two real tokens"):
        encoder_attention_entropy(net, torch.tensor([[5, 0, 0]]))


# ---------------------------------------------------------------------------- leakage


def test_symbol_losses_leave_out_eos_and_padding():
    net = model(vocab_size=FIRST_SYMBOL + 5)
    with torch.no_grad():
        net.out.weight.zero_()  # every logit 0: uniform over the whole vocabulary
    pairs = sequence_task("random", 6, 4, 5, seed=0)
    losses = symbol_losses(net, pairs)
    assert losses.shape == (4,)  # one per symbol position, EOS left out
    assert torch.allclose(losses, torch.full((4,), math.log(FIRST_SYMBOL + 5)))
    assert symbol_loss(net, pairs) == pytest.approx(math.log(FIRST_SYMBOL + 5))


def test_measure_leakage_sees_a_causal_model_as_honest_to_the_detector():
    V, L = 5, 4
    honest = model(vocab_size=FIRST_SYMBOL + V, cross_causal=True, encoder_causal=True)
    leaky = model(vocab_size=FIRST_SYMBOL + V, cross_causal=True)
    honest_row = measure_leakage(honest, "honest", V, L, count=20)
    leaky_row = measure_leakage(leaky, "leaky", V, L, count=20)
    assert honest_row.detector == 0.0 and leaky_row.detector > 1e-6
    assert honest_row.bound == pytest.approx(math.log(V)) and len(honest_row.per_position) == L
    assert honest_row.heldout == pytest.approx(sum(honest_row.per_position) / L)


def test_measure_leakage_evaluates_the_held_out_pairs_it_is_given():
    V, L = 5, 4
    train_pairs, test_pairs = sequence_split("copy", 50, 20, L, V)
    assert not {tuple(s) for s, _ in train_pairs} & {tuple(s) for s, _ in test_pairs}
    net = model(vocab_size=FIRST_SYMBOL + V)
    row = measure_leakage(net, "open", V, L, heldout=test_pairs)
    assert row.heldout == pytest.approx(symbol_loss(net, test_pairs))
    with pytest.raises(ValueError, match="source = target pairs of length 4"):
        measure_leakage(net, "open", V, L, heldout=sequence_task("reverse", 3, L, V, seed=0))


def test_denoising_pairs_mask_the_source_and_keep_the_target():
    V, L = 6, 8
    pairs = denoising_task(200, L, V, rate=0.3, seed=0)
    mask_id = FIRST_SYMBOL + V
    masked = sum(s.count(mask_id) for s, _ in pairs) / (200 * L)
    assert 0.25 < masked < 0.35
    for src, tgt in pairs:
        assert mask_id not in tgt and len(src) == len(tgt) == L
        assert all(s in (t, mask_id) for s, t in zip(src, tgt))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        denoising_task(3, L, V, rate=1.0, seed=0)


def test_denoising_losses_split_visible_from_masked_positions():
    V, L = 5, 4
    mask_id = FIRST_SYMBOL + V
    net = model(vocab_size=mask_id + 1)
    with torch.no_grad():
        net.out.weight.zero_()  # uniform over the vocabulary everywhere
    pairs = denoising_task(40, L, V, rate=0.5, seed=1)
    visible, masked = denoising_losses(net, pairs, mask_id)
    assert visible == pytest.approx(math.log(mask_id + 1)) and masked == pytest.approx(math.log(mask_id + 1))
    with pytest.raises(ValueError, match="both masked and visible"):
        denoising_losses(net, [(t, t) for _, t in pairs], mask_id)


def test_leakage_table_lists_every_row_with_a_verdict():
    rows = [LeakageRow("open", 0.05, 6.0, 9.9, [0.05] * 4, math.log(8)),
            LeakageRow("both causal", 2.08, 2.08, 0.0, [2.08] * 4, math.log(8))]
    text = leakage_table(rows)
    assert "ln V = 2.08" in text
    lines = text.splitlines()
    assert lines[-2].startswith("open") and lines[-2].endswith("leaks")
    assert lines[-1].startswith("both causal") and lines[-1].endswith("honest")
    with pytest.raises(ValueError, match="at least one row"):
        leakage_table([])


# ---------------------------------------------------------------------------- figures


@pytest.mark.parametrize("reads", ["last", "all"])
def test_wiring_figure_draws_one_cross_attention_per_decoder_layer(reads):
    ax = plot_encoder_decoder(2, 3, cross_reads=reads)
    texts = [t.get_text() for t in ax.texts]
    assert sum("cross-attention" in t for t in texts) == 3
    assert sum("bidirectional" in t for t in texts) == 2
    assert sum("causal" in t for t in texts) == 3
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="cross_reads"):
        plot_encoder_decoder(cross_reads="first")


@pytest.mark.parametrize("residual", [True, False])
def test_wiring_figure_draws_a_residual_around_every_block_unless_switched_off(residual):
    ax = plot_encoder_decoder(3, 2, residual=residual)
    pluses = sum(t.get_text() == "+" for t in ax.texts)
    assert pluses == (3 * 2 + 2 * 3 if residual else 0)  # 2 blocks per encoder layer, 3 per decoder layer
    plt.close(ax.figure)


def test_alignment_plot_outlines_the_true_cells():
    weights = torch.softmax(torch.randn(3, 4), dim=-1)  # (m, n)
    ax = plot_alignment(weights, [1, 0, 3], ["a", "b", "c"], ["w", "x", "y", "z"])
    outlined = [(p.get_x() + 0.5, p.get_y() + 0.5) for p in ax.patches]
    assert outlined == [(1.0, 0.0), (0.0, 1.0), (3.0, 2.0)]  # (column j, row i)
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="does not fit weights of shape"):
        plot_alignment(weights, [4, 0, 0], ["a", "b", "c"], ["w", "x", "y", "z"])


# ---------------------------------------------------------------------------- batching


def test_to_batch_pads_at_the_end_and_adds_bos_and_eos():
    batch = to_batch([([5, 6, 7], [8]), ([9], [10, 11, 12])])
    assert batch.src.tolist() == [[5, 6, 7], [9, 0, 0]]  # (B, n), PAD = 0 at the end
    assert batch.tgt_in.tolist() == [[1, 8, 0, 0], [1, 10, 11, 12]]  # BOS + target
    assert batch.tgt_out.tolist() == [[8, 2, 0, 0], [10, 11, 12, 2]]  # target + EOS
    assert batch.src.dtype == batch.tgt_in.dtype == torch.long
    assert batch.src_mask.tolist() == [[True] * 3, [True, False, False]]
    with pytest.raises(ValueError, match="at least one"):
        to_batch([])
