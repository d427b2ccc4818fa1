"""Chapter 7: parameter counts from a formula, the tying experiment, its stored results and the seed statistics."""
import itertools
import json
import math

import matplotlib
import numpy as np
import pytest
import torch

from crossattn.experiments import parameters, stats, tying
from crossattn.nn.model import EncoderDecoder, ModelConfig
from crossattn.nn.tokens import FIRST_SYMBOL
from crossattn.nn.train import seed_everything
from crossattn.viz.curves import plot_curves

matplotlib.use("Agg")


# -- counting -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("L_enc, L_dec", [(1, 1), (2, 2), (1, 3), (3, 1), (2, 4)])
@pytest.mark.parametrize("kv, emb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("positions, reads", [("absolute", "last"), ("relative", "all"), ("none", "last"),
                                             ("absolute+relative", "last"), ("encoder-relative", "all")])
def test_the_formula_counts_exactly_what_the_model_holds(L_enc, L_dec, kv, emb, positions, reads):
    cfg = ModelConfig(vocab_size=13, d_model=12, h=3, d_ff=20, n_encoder_layers=L_enc, n_decoder_layers=L_dec,
                      tie_kv=kv, tie_embeddings=emb, positions=positions, cross_reads=reads, max_len=10)
    model = EncoderDecoder(cfg)
    assert parameters.predicted_parameters(cfg) == parameters.count_parameters(model)
    assert parameters.count_parameters(model) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("L_enc, L_dec, pairs_removed", [(2, 2, 4), (1, 3, 1 * 2 + 2 * 1), (3, 1, 2), (4, 2, 4), (0, 2, 2)])
def test_kv_saving_is_4_d2_per_full_depth_2_d2_per_decoder_only_depth_0_per_encoder_only_depth(L_enc, L_dec,
                                                                                             pairs_removed):
    d = 8
    assert parameters.kv_tying_saving(d, L_enc, L_dec) == 2 * d * d * pairs_removed
    assert parameters.kv_tying_saving(d, L_enc, L_dec) == 2 * d * d * (L_enc + 2 * L_dec - max(L_enc, L_dec))
    if L_enc and L_dec:
        sizes = dict(vocab_size=11, d_model=d, h=2, d_ff=16, n_encoder_layers=L_enc, n_decoder_layers=L_dec)
        untied = parameters.count_parameters(EncoderDecoder(ModelConfig(**sizes)))
        tied = parameters.count_parameters(EncoderDecoder(ModelConfig(tie_kv=True, **sizes)))
        assert untied - tied == parameters.kv_tying_saving(d, L_enc, L_dec)


def test_a_decoder_only_depth_shares_between_its_two_attentions_only():
    net = EncoderDecoder(ModelConfig(n_encoder_layers=1, n_decoder_layers=3, tie_kv=True))
    assert net.encoder[0].self_attn.w_k is net.decoder[0].self_attn.w_k is net.decoder[0].cross_attn.w_k
    for dec in net.decoder[1:]:
        assert dec.self_attn.w_k is dec.cross_attn.w_k and dec.self_attn.w_v is dec.cross_attn.w_v
        assert dec.self_attn.w_k is not net.encoder[0].self_attn.w_k
    assert net.decoder[1].self_attn.w_k is not net.decoder[2].self_attn.w_k  # one pair per depth


def test_tied_embeddings_are_scaled_so_the_first_logits_are_not_huge():
    d = 64
    seed_everything(0)
    tied = EncoderDecoder(ModelConfig(d_model=d, tie_embeddings=True))
    seed_everything(0)
    untied = EncoderDecoder(ModelConfig(d_model=d))
    assert tied.out.weight is tied.embed.weight
    assert abs(tied.embed.weight.std().item() - d ** -0.5) < 0.2 * d ** -0.5
    assert tied.embed_scale == math.sqrt(d) and untied.embed_scale == 1.0
    tokens = torch.tensor([[3, 4, 5, 6]])
    scaled_input = tied._embed(tokens, with_positions=False)  # (1, 4, d): entries of std about 1
    assert 0.6 < scaled_input.std().item() < 1.4
    with torch.no_grad():
        logits = tied(tokens, torch.tensor([[1, 3, 4]]))  # (1, 3, V)
        naive = EncoderDecoder(ModelConfig(d_model=d))
        naive.out.weight = naive.embed.weight  # N(0, 1), unscaled
        naive_logits = naive(tokens, torch.tensor([[1, 3, 4]]))
    assert logits.std().item() < 3 < naive_logits.std().item()


@pytest.mark.parametrize("fn, args, name", [
    (parameters.attention_parameters, (-1,), "d_model"),
    (parameters.feed_forward_parameters, (8, 2.5), "d_ff"),
    (parameters.kv_tying_saving, (8, True, 2), "n_encoder_layers"),
    (parameters.kv_tying_saving, (8, 2, -1), "n_decoder_layers"),
    (parameters.embedding_tying_saving, (None, 8), "vocab_size"),
])
def test_counting_functions_refuse_bad_sizes_naming_the_argument(fn, args, name):
    with pytest.raises(ValueError, match=name):
        fn(*args)


# -- the tasks and the runs ---------------------------------------------------------------------------

def test_the_dictionary_task_differs_from_copy_only_in_the_target_tokens():
    copy_pairs = tying.tying_task("copy", 50, 6, 8, seed=4)
    dict_pairs = tying.tying_task("dictionary", 50, 6, 8, seed=4)
    for (s, t), (s2, t2) in zip(copy_pairs, dict_pairs):
        assert s == t == s2
        assert t2 == [token + 8 for token in s]
        assert not set(s2) & set(t2)
        assert max(t2) < FIRST_SYMBOL + 16 == tying.TyingExperiment(n_symbols=8).vocab_size
    with pytest.raises(ValueError, match="kind"):
        tying.tying_task("reverse", 5, 6, 8, seed=0)


def test_the_same_size_variant_matches_the_tied_count_within_one_percent_and_variants_are_checked():
    exp = tying.TyingExperiment()
    kv = parameters.predicted_parameters(exp.model_config("kv"))
    same = parameters.predicted_parameters(exp.model_config("same_size"))
    untied = parameters.predicted_parameters(exp.model_config("untied"))
    assert abs(same - kv) < 0.01 * kv < untied - kv
    assert exp.model_config("same_size").d_ff < exp.d_ff
    with pytest.raises(ValueError, match="variant"):
        exp.model_config("tied")


TINY = tying.TyingExperiment(n_train=200, n_test=40, steps=10, block=5, d_model=16, layers=1)


def test_a_run_is_deterministic_and_records_its_curve():
    first = tying.run_variant("dictionary", "kv", seed=3, exp=TINY)
    again = tying.run_variant("dictionary", "kv", seed=3, exp=TINY)
    assert first == again
    assert len(first.curve) == TINY.steps // TINY.block
    assert first.parameters == parameters.predicted_parameters(TINY.model_config("kv"))
    other = tying.run_variant("dictionary", "kv", seed=4, exp=TINY)
    assert other.curve != first.curve
    with pytest.raises(ValueError, match="multiple of block"):
        tying.run_variant("copy", "untied", 0, tying.TyingExperiment(steps=12, block=5, n_train=20, n_test=5))


def test_results_survive_a_round_trip_through_json(tmp_path):
    runs = tying.tying_grid(tasks=["copy"], variants=["untied", "embeddings"], seeds=[0, 1], exp=TINY)
    path = tying.save_results(runs, TINY, tmp_path / "r.json")
    exp, loaded = tying.load_results(path)
    assert exp == TINY and len(loaded) == 4
    for a, b in zip(runs, loaded):
        assert (a.task, a.variant, a.seed, a.parameters) == (b.task, b.variant, b.seed, b.parameters)
        assert np.allclose(a.curve, b.curve, atol=1e-6) and abs(a.test_loss - b.test_loss) < 1e-6
    with pytest.raises(ValueError, match="python -m crossattn.tooling.reproduce tying"):
        tying.load_results(tmp_path / "missing.json")


def test_reproduce_writes_the_grid(tmp_path, monkeypatch):
    monkeypatch.setattr(tying, "TyingExperiment", lambda: TINY)
    out = tmp_path / "grid.json"
    lines = tying.reproduce(out, seeds=1)
    payload = json.loads(out.read_text())
    assert len(payload["runs"]) == len(tying.TASKS) * len(tying.VARIANTS)
    assert "wrote 8 runs" in lines[-1]
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        tying.reproduce(out, seeds=0)


# -- the stored results -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stored():
    return tying.load_results()


def test_the_stored_grid_is_complete_and_matches_the_default_settings(stored):
    exp, runs = stored
    assert exp == tying.TyingExperiment()
    assert tying.RESULTS_PATH.exists()
    for task, variant in itertools.product(tying.TASKS, tying.VARIANTS):
        chosen = tying.select(runs, task, variant)
        assert [r.seed for r in chosen] == list(range(5))
        assert all(r.parameters == parameters.predicted_parameters(exp.model_config(variant)) for r in chosen)
        assert all(len(r.curve) == exp.steps // exp.block for r in chosen)


@pytest.mark.slow
def test_one_stored_run_is_reproduced_by_running_it_again(stored):
    exp, runs = stored
    torch.set_num_threads(1)
    live = tying.run_variant("copy", "kv", seed=1, exp=exp)
    old = tying.select(runs, "copy", "kv")[1]
    assert np.abs(np.array(live.curve) - np.array(old.curve)).max() < 1e-4
    assert abs(live.test_loss - old.test_loss) < 1e-4 and abs(live.test_accuracy - old.test_accuracy) < 1e-3


def test_the_stored_results_say_what_chapter_7_says(stored):
    _, runs = stored
    for task in tying.TASKS:
        for metric in tying.METRICS:
            for variant in ("kv", "same_size"):  # a null result: inside the seed spread
                c = tying.compare(runs, task, variant, metric=metric)
                assert c.overlap and c.p_value > 0.1
        slow = tying.compare(runs, task, "embeddings", metric="mean_train_loss")
        assert slow.difference > 0.3 and not slow.overlap
    assert all(r.test_accuracy > 0.97 for r in runs if r.variant in ("untied", "kv"))


# -- seed statistics ----------------------------------------------------------------------------------

def test_summarise_and_curve_band():
    s = stats.summarise([0.3, 0.1, 0.2])
    assert (s.mean, s.low, s.high, s.n) == (pytest.approx(0.2), 0.1, 0.3, 3)
    assert str(s) == "0.200 [0.100, 0.300]"
    curves = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 5.0]])  # (seeds, points)
    mean, low, high = stats.curve_band(curves)
    assert np.allclose(mean, [2, 2, 3]) and np.allclose(low, [1, 2, 1]) and np.allclose(high, [3, 2, 5])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        stats.summarise([])
    with pytest.raises(ValueError, match=r"\(seeds, points\)"):
        stats.curve_band([1.0, 2.0])


def test_ranges_overlap():
    assert stats.ranges_overlap([1, 2], [2, 3]) and stats.ranges_overlap([1, 5], [2, 3])
    assert not stats.ranges_overlap([1, 2], [2.5, 3])


def test_permutation_p_value_against_brute_force_over_orderings():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=4), rng.normal(size=3) + 0.5
    pooled = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    hits = total = 0
    for order in itertools.permutations(range(7)):  # every labelling, each split counted 4!·3! times
        x, y = pooled[list(order[:4])], pooled[list(order[4:])]
        hits += abs(x.mean() - y.mean()) >= observed - 1e-12
        total += 1
    assert stats.permutation_p_value(a, b) == pytest.approx(hits / total)


def test_permutation_p_value_extremes():
    assert stats.permutation_p_value([1, 2, 3], [1, 2, 3]) == 1.0
    assert stats.permutation_p_value([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    with pytest.raises(ValueError, match="non-empty"):
        stats.permutation_p_value([], [1.0])
    with pytest.raises(ValueError, match="too many splits"):
        stats.permutation_p_value(range(15), range(15))


def test_compare_reports_difference_overlap_and_p(stored):
    _, runs = stored
    c = tying.compare(runs, "copy", "embeddings", metric="mean_train_loss")
    a = tying.metric_values(runs, "copy", "embeddings", "mean_train_loss")
    b = tying.metric_values(runs, "copy", "untied", "mean_train_loss")
    assert c.difference == pytest.approx(np.mean(a) - np.mean(b))
    assert c.p_value == pytest.approx(2 / 252) and "ranges separate" in str(c)
    with pytest.raises(ValueError, match="metric"):
        tying.metric_values(runs, "copy", "untied", "loss")
    with pytest.raises(ValueError, match="no runs"):
        tying.select(runs, "copy", "tied")


# -- diagnostics and figures --------------------------------------------------------------------------

def test_an_untrained_tied_model_predicts_its_input_back():
    exp = tying.TyingExperiment()
    _, test = exp.data("copy")
    seed_everything(0)
    tied = EncoderDecoder(exp.model_config("embeddings"))
    seed_everything(0)
    untied = EncoderDecoder(exp.model_config("untied"))
    assert tying.repeats_input(tied, test[:100]) > 0.9
    assert tying.repeats_input(untied, test[:100]) < 0.5


def test_plot_curves_draws_a_line_and_a_band_per_variant(stored):
    import matplotlib.pyplot as plt
    exp, runs = stored
    fig, ax = plt.subplots()
    curves = {v: [r.curve for r in tying.select(runs, "copy", v)] for v in ("untied", "kv")}
    plot_curves(ax, curves, exp.block, tying.PLOT_LABELS)
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    assert ax.lines[1].get_label().startswith(tying.PLOT_LABELS["kv"])
    assert ax.lines[0].get_xdata()[-1] == exp.steps
    plt.close(fig)


def test_detectable_shift_is_the_smallest_grid_shift_with_p_below_alpha():
    a, b = [0.41, 0.52, 0.47, 0.38, 0.60], [0.45, 0.50, 0.36, 0.58, 0.49]  # (5,), (5,)
    delta = stats.detectable_shift(a, b, alpha=0.05, steps=500)
    centre = np.mean(a + b)
    a0 = np.array(a) - np.mean(a) + centre
    b0 = np.array(b) - np.mean(b) + centre
    step = np.ptp(np.concatenate([a0, b0])) / 500
    assert all(stats.permutation_p_value(a0 + s * delta, b0) < 0.05 for s in (1, -1))
    assert any(stats.permutation_p_value(a0 + s * (delta - step), b0) >= 0.05 for s in (1, -1))
    # Only the spread matters, not where the samples sit or how far apart their means are.
    assert stats.detectable_shift(np.add(a, 3.0), b, steps=500) == pytest.approx(delta)
    assert stats.detectable_shift(np.multiply(a, 2), np.multiply(b, 2), steps=500) == pytest.approx(2 * delta)
    # A stricter alpha needs a larger shift.
    assert stats.detectable_shift(a, b, alpha=0.02, steps=500) > delta


@pytest.mark.parametrize("kwargs, message", [
    (dict(a=[1.0, 2.0], b=[1.5, 2.5]), "smallest possible p-value"),  # 2/C(4, 2) = 1/3: nothing detectable
    (dict(a=[1.0] * 5, b=[1.0] * 5), "constant"),
    (dict(a=[1.0, 2.0, 3.0, 4.0, 5.0], b=[1, 2, 3, 4, 6], alpha=1.5), "alpha"),
    (dict(a=[1.0, 2.0, 3.0, 4.0, 5.0], b=[1, 2, 3, 4, 6], steps=0), "steps"),
    (dict(a=[], b=[1.0]), "non-empty"),
])
def test_detectable_shift_refuses_what_it_cannot_answer(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stats.detectable_shift(**kwargs)


def test_the_stored_kv_comparisons_lie_below_the_shift_the_seeds_detect(stored):
    # The chapter's "no effect we could detect": each observed tied-minus-untied difference is smaller than
    # the shift these seeds would have detected.
    _, runs = stored
    for task in tying.TASKS:
        for metric in ("test_loss", "mean_train_loss"):
            c = tying.compare(runs, task, "kv", metric=metric)
            a = tying.metric_values(runs, task, "kv", metric)
            b = tying.metric_values(runs, task, "untied", metric)
            assert abs(c.difference) < stats.detectable_shift(a, b)


def test_repeat_rate_counts_equal_neighbours_in_the_target():
    pairs = [([5, 5, 6], [5, 5, 6]), ([7, 8], [9, 9])]
    assert tying.repeat_rate(pairs) == pytest.approx(2 / 3)  # (5,5) and (9,9) of 3 neighbour pairs
    exp = tying.TyingExperiment()
    _, test = exp.data("copy")
    assert abs(tying.repeat_rate(test) - 1 / exp.n_symbols) < 0.03
    with pytest.raises(ValueError, match="two or more tokens"):
        tying.repeat_rate([([3], [3])])


def test_figure_labels_are_mathtext_not_raw_underscores():
    assert set(tying.PLOT_LABELS) == set(tying.VARIANTS)
    for label in tying.PLOT_LABELS.values():
        assert "_" not in label.replace("$W_K$", "").replace("$W_V$", "").replace(r"$d_\mathrm{ff}$", "")
