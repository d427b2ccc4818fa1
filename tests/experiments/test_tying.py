"""Chapter 7: parameter counts from a formula, the tying experiment, its stored results and the seed statistics."""
import itertools
import json
import math

import matplotlib
import numpy as np
import pytest
import torch

from crossattn.experiments import parameters, stats, tying
from crossattn.nn.data import to_batch
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


def test_the_held_out_sources_are_disjoint_from_the_training_sources_by_construction():
    exp = tying.TyingExperiment()
    for task in tying.TASKS:
        train, test = exp.data(task)
        assert len(train) == exp.n_train and len(test) == exp.n_test
        assert not {tuple(s) for s, _ in train} & {tuple(s) for s, _ in test}
    # The control: a fresh sample from seed 1, as the held-out set was drawn before, does share sources.
    fresh = tying.tying_task("copy", exp.n_test, exp.length, exp.n_symbols, seed=1)
    assert {tuple(s) for s, _ in train} & {tuple(s) for s, _ in fresh}


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
    # Two of the configurations (each is a fresh Python that imports torch): the mechanism, not the set.
    names = ("default", "one thread, portable kernels")
    monkeypatch.setattr(tying, "CONFIGURATIONS", {n: tying.CONFIGURATIONS[n] for n in names})
    out = tmp_path / "grid.json"
    lines = tying.reproduce(out, seeds=1)
    payload = json.loads(out.read_text())
    assert len(payload["runs"]) == len(tying.TASKS) * len(tying.VARIANTS)
    assert f"wrote {len(payload['runs'])} runs and {len(tying.CONFIGURATIONS)} configurations" in lines[-1]
    assert [c["name"] for c in payload["configurations"]] == list(tying.CONFIGURATIONS)
    assert all(len(c["runs"]) == len(tying.TASKS) * len(tying.SPREAD_VARIANTS) for c in payload["configurations"])
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
        assert [r.seed for r in chosen] == list(range(tying.DEFAULT_SEEDS))
        assert all(r.parameters == parameters.predicted_parameters(exp.model_config(variant)) for r in chosen)
        assert all(len(r.curve) == exp.steps // exp.block for r in chosen)


def test_the_stored_file_holds_the_same_runs_under_every_configuration(stored):
    _, runs = stored
    configurations = tying.load_configurations()
    assert [c.name for c in configurations] == list(tying.CONFIGURATIONS)
    keys = {(t, v, s) for t in tying.TASKS for v in tying.SPREAD_VARIANTS for s in tying.SPREAD_SEEDS}
    for c in configurations:
        assert {(r.task, r.variant, r.seed) for r in c.runs} == keys
        assert c.env == tying.CONFIGURATIONS[c.name]
    assert configurations[1].threads == 1 and configurations[2].capability == "DEFAULT"
    deviation = tying.configuration_deviation(configurations, runs)
    # Rounding differs across configurations and training grows it (not bit-exact), but the mean training loss
    # of one seed moves by a small fraction of the seeds' own spread.
    spread = min(np.ptp(tying.metric_values(runs, t, v, "mean_train_loss")) for t in tying.TASKS
                 for v in tying.VARIANTS)
    assert 0 < max(deviation.values()) < spread / 4
    assert tying.portable_margin(configurations, runs) == pytest.approx(tying.MARGIN_FACTOR * max(deviation.values()))
    with pytest.raises(ValueError, match="reproduce tying"):
        tying.portable_margin([], runs)
    with pytest.raises(ValueError, match="metric"):
        tying.configuration_deviation(configurations, runs, metric="loss")


@pytest.mark.slow
def test_a_live_run_agrees_with_the_stored_runs_in_distribution_and_a_wrong_run_does_not(stored):
    # Issue 15: no bit-exact reproduction. The live run (this machine, default threads and kernels) must fall in
    # the stored seeds' range, widened by the margin measured across configurations.
    exp, runs = stored
    margin = tying.portable_margin(tying.load_configurations(), runs)
    live = tying.run_variant("copy", "kv", seed=1, exp=exp)
    assert tying.agrees_with_stored(live, runs, margin)
    assert abs(live.test_accuracy - tying.select(runs, "copy", "kv")[1].test_accuracy) < 0.05
    # Controls: the check fails for another variant's band, and for a run with a wrong learning rate.
    assert not tying.agrees_with_stored(live, runs, margin, variant="embeddings")
    slow = tying.run_variant("copy", "kv", seed=1, exp=tying.TyingExperiment(lr=exp.lr / 10))
    assert not tying.agrees_with_stored(slow, runs, margin)


def test_run_in_configuration_trains_in_a_fresh_process_with_that_environment():
    got = tying.run_in_configuration("one thread, portable kernels", [("copy", "untied", 0)], TINY)
    assert (got.threads, got.capability) == (1, "DEFAULT")
    here = tying.run_variant("copy", "untied", 0, TINY)
    assert (got.runs[0].task, got.runs[0].variant, got.runs[0].seed) == ("copy", "untied", 0)
    assert abs(got.runs[0].mean_train_loss - here.mean_train_loss) < 0.05  # close, not necessarily equal
    with pytest.raises(ValueError, match="name must be one of"):
        tying.run_in_configuration("GPU", [("copy", "untied", 0)], TINY)
    with pytest.raises(ValueError, match="each key"):
        tying.run_in_configuration("default", [("copy", "tied", 0)], TINY)


def test_agrees_with_stored_uses_the_range_of_the_cell_widened_by_the_margin(stored):
    _, runs = stored
    values = tying.metric_values(runs, "copy", "untied", "mean_train_loss")
    template = tying.select(runs, "copy", "untied")[0]

    def run_with(mean):
        return tying.TyingRun("copy", "untied", 99, [mean] * 4, 0.1, 0.9, template.parameters)
    assert tying.agrees_with_stored(run_with(max(values)), runs, 0.0)
    assert not tying.agrees_with_stored(run_with(max(values) + 0.02), runs, 0.01)
    assert tying.agrees_with_stored(run_with(min(values) - 0.02), runs, 0.03)
    assert not tying.agrees_with_stored(run_with(float("nan")), runs, 1.0)


def test_the_tied_start_control_starts_as_the_tied_model_but_is_not_tied():
    exp = tying.TyingExperiment()
    _, test = exp.data("copy")
    batch = to_batch(test[:50])
    models = {v: tying.build_model(v, 0, exp) for v in ("embeddings", "tied_start", "untied")}
    with torch.no_grad():
        logits = {v: m(batch.src, batch.tgt_in) for v, m in models.items()}  # (B, m, N_voc) each
    assert torch.allclose(logits["embeddings"], logits["tied_start"])
    assert not torch.allclose(logits["untied"], logits["tied_start"], atol=1e-3)  # the control: the start differs
    start = models["tied_start"]
    assert start.out.weight is not start.embed.weight and torch.equal(start.out.weight, start.embed.weight)
    assert parameters.count_parameters(start) == parameters.predicted_parameters(exp.model_config("untied"))


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


def test_compare_reports_the_paired_difference_its_interval_overlap_and_p(stored):
    _, runs = stored
    c = tying.compare(runs, "copy", "embeddings", metric="mean_train_loss")
    a = tying.metric_values(runs, "copy", "embeddings", "mean_train_loss")
    b = tying.metric_values(runs, "copy", "untied", "mean_train_loss")
    d = tying.paired_differences(runs, "copy", "embeddings", metric="mean_train_loss")
    assert np.allclose(d, np.subtract(a, b)) and c.difference == pytest.approx(np.mean(a) - np.mean(b))
    assert c.p_value == pytest.approx(2 / 2 ** len(a)) and "ranges separate" in str(c)
    assert c.interval[0] < c.difference < c.interval[1] and c.interval[0] > 0
    with pytest.raises(ValueError, match="metric"):
        tying.metric_values(runs, "copy", "untied", "loss")
    with pytest.raises(ValueError, match="no runs"):
        tying.select(runs, "copy", "tied")
    with pytest.raises(ValueError, match="same seeds"):
        tying.paired_differences([r for r in runs if r.seed != 3 or r.variant != "kv"], "copy", "kv")


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


def test_sign_flip_p_value_against_brute_force_over_signs():
    rng = np.random.default_rng(1)
    d = rng.normal(0.3, 1.0, size=7)
    observed = abs(d.mean())
    patterns = list(itertools.product((1, -1), repeat=7))
    hits = sum(abs(np.mean(np.multiply(s, d))) >= observed - 1e-12 for s in patterns)
    assert stats.sign_flip_p_value(d) == pytest.approx(hits / len(patterns))
    assert stats.sign_flip_p_value([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)  # all one sign: the smallest p
    assert stats.sign_flip_p_value([1, -1, 2, -2]) == 1.0  # mean 0
    with pytest.raises(ValueError, match="at most 20 pairs"):
        stats.sign_flip_p_value(np.ones(21))
    with pytest.raises(ValueError, match="non-empty"):
        stats.sign_flip_p_value([])


def test_sign_flip_interval_is_where_the_test_does_not_reject():
    rng = np.random.default_rng(2)
    d = rng.normal(0.1, 0.5, size=12)
    low, high = stats.sign_flip_interval(d)
    assert low < d.mean() < high
    eps = 1e-3 * np.ptp(d)
    assert stats.sign_flip_p_value(d - low) >= 0.05 and stats.sign_flip_p_value(d - (low - eps)) < 0.05
    assert stats.sign_flip_p_value(d - high) >= 0.05 and stats.sign_flip_p_value(d - (high + eps)) < 0.05
    # Moves with the data and scales with the spread; a stricter level widens it.
    low3, high3 = stats.sign_flip_interval(d + 3.0)
    assert (low3, high3) == (pytest.approx(low + 3.0), pytest.approx(high + 3.0))
    low2, high2 = stats.sign_flip_interval(2 * d)
    assert (low2, high2) == (pytest.approx(2 * low, abs=1e-5), pytest.approx(2 * high, abs=1e-5))
    low01, high01 = stats.sign_flip_interval(d, alpha=0.01)
    assert low01 < low and high01 > high
    with pytest.raises(ValueError, match="smallest possible p-value"):
        stats.sign_flip_interval([0.1, 0.2, 0.3, 0.4, 0.5])  # 5 pairs: p >= 2/32 > 0.05


def test_paired_power_grows_with_the_shift_and_shift_for_power_finds_eighty_percent():
    rng = np.random.default_rng(3)
    d = rng.normal(0.0, 0.1, size=10)
    assert stats.paired_power(d, 0.0) <= 0.15  # no effect: rejections at about the level alpha
    assert stats.paired_power(d, 10.0) == 1.0
    powers = [stats.paired_power(d, s) for s in (0.0, 0.05, 0.1, 0.2)]
    assert powers == sorted(powers) and powers[-1] > 0.9
    shift = stats.shift_for_power(d)
    assert stats.paired_power(d, shift) >= 0.8 > stats.paired_power(d, 0.9 * shift)
    # The control: twice the spread needs about twice the shift.
    assert stats.shift_for_power(2 * d) == pytest.approx(2 * shift, rel=0.01)
    with pytest.raises(ValueError, match="power"):
        stats.shift_for_power(d, power=1.0)
    with pytest.raises(ValueError, match="constant"):
        stats.shift_for_power(np.ones(8))
    with pytest.raises(ValueError, match="draws"):
        stats.paired_power(d, 0.1, draws=0)


@pytest.mark.parametrize("metric", ["mean_train_loss", "log_test_loss"])
def test_the_eighty_percent_shift_of_the_stored_data_has_eighty_percent_power_in_an_independent_simulation(
        stored, metric):
    # shift_for_power bisects on a Monte-Carlo estimate: with too few draws (200, measured: 0.74-0.80)
    # the shift it returns is detected less often than 80 %. Re-measure with independent resamples.
    _, runs = stored
    for task in tying.TASKS:
        shift = tying.shift_detected(runs, task, "kv", metric=metric)
        d = tying.paired_differences(runs, task, "kv", metric=metric)
        power = stats.paired_power(d, shift, draws=8000, seed=99)
        assert 0.77 < power < 0.86, (task, metric, shift, power)
        # The control: a shift 20 % smaller is detected clearly less often.
        assert stats.paired_power(d, 0.8 * shift, draws=8000, seed=99) < power - 0.08


def test_inside_band_widens_the_range_by_the_margin():
    assert stats.inside_band(1.0, [1.0, 2.0], 0.0) and stats.inside_band(2.05, [1.0, 2.0], 0.1)
    assert not stats.inside_band(2.2, [1.0, 2.0], 0.1) and not stats.inside_band(0.8, [1.0, 2.0], 0.1)
    assert not stats.inside_band(float("nan"), [1.0, 2.0], 10.0)
    with pytest.raises(ValueError, match="margin"):
        stats.inside_band(1.0, [1.0], -0.1)
    with pytest.raises(ValueError, match="values"):
        stats.inside_band(1.0, [], 0.1)


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
