"""The spotlight of chapter 3: temperature, focus and the score gap, uniform cases, why √d, the widget."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from crossattn import attention, entropy, softmax  # noqa: E402
from crossattn.core.spotlight import (  # noqa: E402
    effective_keys,
    focus_sweep,
    init_attention_stats,
    jacobian_norm,
    key_differences,
    linear_init,
    orthogonal_query,
    query_gradient_norm,
    query_jacobian,
    random_attention_stats,
    score_gap,
    softmax_jacobian,
    softmax_with_temperature,
    temperature_sweep,
    top_weight_bounds,
    train_retrieval,
    uniform_query,
)
from crossattn.viz.spotlight import SpotlightWidget, demo_scores, spotlight_figure, spotlight_weights  # noqa: E402

RNG = np.random.default_rng(2024)
SCORES = RNG.normal(size=(3, 7)) * 2.0  # (m, n) = (3, 7)


# --------------------------------------------------------------------------- entropy closed forms


@pytest.mark.parametrize("n", [1, 2, 5, 7, 64])
def test_uniform_weights_have_entropy_ln_n_and_cover_n_keys(n):
    p = np.full(n, 1.0 / n)
    assert abs(float(entropy(p)) - np.log(n)) < 1e-12
    assert abs(float(effective_keys(p)) - n) < 1e-9


def test_effective_keys_counts_the_keys_of_a_uniform_spotlight_on_part_of_the_row():
    p = np.array([0.0, 0.25, 0.25, 0.0, 0.25, 0.25, 0.0])  # uniform over 4 of 7 keys
    assert abs(float(effective_keys(p)) - 4.0) < 1e-12
    assert float(effective_keys(np.eye(7)[2])) == 1.0  # one-hot: entropy 0, one key


# --------------------------------------------------------------------------- temperature


@pytest.mark.parametrize("t", [0.3, 1.0, 4.0])
def test_softmax_with_temperature_divides_the_scores_by_t(t):
    got = softmax_with_temperature(SCORES, t)
    assert np.allclose(got, softmax(SCORES / t))
    assert not np.allclose(got, softmax(SCORES * t)) or t == 1.0


def test_a_tiny_temperature_gives_one_hot_on_the_argmax_and_a_huge_one_uniform():
    cold = softmax_with_temperature(SCORES, 1e-6)
    assert np.isfinite(cold).all()
    assert np.array_equal(cold, np.eye(7)[SCORES.argmax(axis=-1)])
    hot = softmax_with_temperature(SCORES, 1e6)
    assert np.allclose(hot, 1 / 7, atol=1e-5)


@pytest.mark.parametrize("t", [0.0, -1.0, np.nan, np.inf, "warm"])
def test_temperature_must_be_a_positive_number(t):
    with pytest.raises(ValueError, match="temperature"):
        softmax_with_temperature(SCORES, t)


def test_entropy_grows_with_temperature_from_0_to_ln_n():
    temps = np.geomspace(1e-3, 1e3, 61)
    h = temperature_sweep(SCORES, temps)  # (t, m)
    assert h.shape == (61, 3)
    assert np.all(np.diff(h, axis=0) >= -1e-12)  # never decreases
    assert np.all(h[0] < 1e-6) and np.all(np.abs(h[-1] - np.log(7)) < 1e-4)
    assert np.all((h >= 0) & (h <= np.log(7) + 1e-12))


def test_entropy_derivative_in_temperature_is_the_score_variance_over_t_cubed():
    s, t, eps = SCORES[0], 0.8, 1e-5
    a = softmax(s / t)
    var = float(np.sum(a * s**2) - np.sum(a * s) ** 2)  # variance of the scores under the weights
    slope = (temperature_sweep(s, [t + eps]) - temperature_sweep(s, [t - eps]))[0] / (2 * eps)
    assert abs(slope - var / t**3) < 1e-6


def test_temperature_sweep_rejects_a_2d_list_of_temperatures():
    with pytest.raises(ValueError, match="temperatures must be a 1-D"):
        temperature_sweep(SCORES, [[1.0, 2.0]])


# --------------------------------------------------------------------------- focus and the score gap


def test_score_gap_is_top_minus_second_along_the_axis():
    s = np.array([[1.0, 3.0, 2.5], [0.0, 0.0, -1.0]])
    assert np.allclose(score_gap(s), [0.5, 0.0])
    assert np.allclose(score_gap(s, axis=0), [1.0, 3.0, 3.5])
    with pytest.raises(ValueError, match="at least 2 keys"):
        score_gap(np.array([[1.0], [2.0]]))


def test_the_top_weight_lies_within_the_gap_bounds_and_both_are_reached():
    s = RNG.normal(size=(500, 6)) * 3  # (trials, n)
    top = softmax(s).max(axis=-1)
    lower, upper = top_weight_bounds(score_gap(s), 6)
    assert np.all(lower - 1e-12 <= top) and np.all(top <= upper + 1e-12)
    g = 1.7
    ties = np.array([g, 0.0, 0.0, 0.0, 0.0, 0.0])  # the other five tie at s_top - g
    assert np.isclose(softmax(ties).max(), top_weight_bounds(g, 6)[0])
    two = np.array([g, 0.0, -np.inf, -np.inf, -np.inf, -np.inf])  # only the runner-up counts
    assert np.isclose(softmax(two).max(), top_weight_bounds(g, 6)[1])


@pytest.mark.parametrize("gap, n", [(-0.1, 4), (np.inf, 4), (1.0, 1), (1.0, 2.5)])
def test_top_weight_bounds_reject_bad_input(gap, n):
    with pytest.raises(ValueError, match="gap|n must"):
        top_weight_bounds(gap, n)


def unit_keys(n=6, d=5, seed=0):
    k = np.random.default_rng(seed).normal(size=(n, d))
    return k / np.linalg.norm(k, axis=1, keepdims=True) * np.sqrt(d)  # (n, d), all of norm √d


def test_q_equal_alpha_times_k3_moves_from_uniform_to_one_hot_on_k3():
    k = unit_keys()
    sweep = focus_sweep(k[3], k, np.linspace(0, 20, 41))
    assert sweep.weights.shape == (41, 6) and sweep.entropy.shape == sweep.gap.shape == (41,)
    assert abs(sweep.entropy[0] - np.log(6)) < 1e-12  # α = 0: uniform
    assert np.all(np.diff(sweep.entropy) < 0)  # focus grows with α
    assert sweep.entropy[-1] < 0.01 and sweep.weights[-1].argmax() == 3
    assert np.allclose(sweep.gap, sweep.alphas * sweep.gap[1] / sweep.alphas[1])  # gap linear in α


def test_scaling_the_query_by_alpha_equals_dividing_the_temperature_by_alpha():
    k = unit_keys()
    q = np.random.default_rng(1).normal(size=5)
    a = focus_sweep(q, k, [3.0], temperature=1.0).weights
    b = focus_sweep(q, k, [1.0], temperature=1 / 3.0).weights
    assert np.allclose(a, b)


def test_direction_alone_does_not_decide_a_longer_key_along_k3_wins():
    k = unit_keys()
    k[0] = 2.0 * k[3]  # a key pointing the same way as k3, twice as long
    sweep = focus_sweep(k[3], k, [50.0])
    assert sweep.weights[0].argmax() == 0  # not k3
    assert sweep.weights[0, 3] < 1e-6


def test_focus_sweep_names_mismatched_shapes():
    with pytest.raises(ValueError, match="same width d"):
        focus_sweep(np.ones(4), np.ones((6, 5)), [1.0])
    with pytest.raises(ValueError, match=r"q must be one query of shape \(d,\)"):
        focus_sweep(np.ones((2, 5)), np.ones((6, 5)), [1.0])


# --------------------------------------------------------------------------- uniform cases


def values(n, d_v=3, seed=5):
    return np.random.default_rng(seed).normal(size=(n, d_v))  # (n, d_v)


def test_a_zero_query_reads_the_mean_of_the_values():
    k, v = RNG.normal(size=(6, 4)), values(6)
    out, w = attention(np.zeros((1, 4)), k, v)
    assert np.allclose(w, 1 / 6) and np.allclose(out[0], v.mean(axis=0))
    assert abs(float(entropy(w[0])) - np.log(6)) < 1e-12


def test_identical_keys_give_uniform_weights_for_any_query():
    k, v = np.tile(RNG.normal(size=(1, 4)), (6, 1)), values(6)
    out, w = attention(RNG.normal(size=(3, 4)) * 5, k, v)
    assert np.allclose(w, 1 / 6) and np.allclose(out, v.mean(axis=0))


def test_key_differences_have_one_row_less():
    k = RNG.normal(size=(5, 3))
    assert np.allclose(key_differences(k), k[1:] - k[0])
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        key_differences(np.ones(3))


@pytest.mark.parametrize("n, d", [(4, 4), (3, 7), (2, 2)])
def test_a_query_orthogonal_to_the_key_differences_reads_the_mean_of_the_values(n, d):
    k, v = np.random.default_rng(n * d).normal(size=(n, d)), values(n)
    q = uniform_query(k)
    assert np.isclose(np.linalg.norm(q), 1.0)
    out, w = attention(3.0 * q[None, :], k, v)  # any multiple of q: still uniform
    assert np.allclose(w, 1 / n, atol=1e-12) and np.allclose(out[0], v.mean(axis=0))


def test_a_nonzero_query_orthogonal_to_every_key_needs_n_below_d():
    square = np.random.default_rng(3).normal(size=(4, 4))  # n = d: the keys span R^4
    with pytest.raises(ValueError, match="span all d=4 directions"):
        orthogonal_query(square)
    assert np.allclose(square @ uniform_query(square), (square @ uniform_query(square))[0])  # yet uniform exists
    few = square[:3]  # n = 3 < d = 4
    q = orthogonal_query(few)
    assert np.allclose(few @ q, 0.0, atol=1e-12) and np.isclose(np.linalg.norm(q), 1.0)


def test_no_uniform_query_when_the_differences_span_the_space():
    with pytest.raises(ValueError, match="no nonzero query gives uniform weights over these 6 keys"):
        uniform_query(np.random.default_rng(4).normal(size=(6, 4)))


def test_orthogonal_query_is_reproducible_and_handles_no_constraints():
    few = np.random.default_rng(5).normal(size=(2, 6))
    assert np.array_equal(orthogonal_query(few, seed=1), orthogonal_query(few, seed=1))
    free = orthogonal_query(np.zeros((0, 3)))
    assert free.shape == (3,) and np.isclose(np.linalg.norm(free), 1.0)
    with pytest.raises(ValueError, match=r"shape \(r, d\)"):
        orthogonal_query(np.ones(3))


# --------------------------------------------------------------------------- why √d


@pytest.mark.parametrize("d", [4, 64])
def test_the_dot_product_of_unit_variance_vectors_has_variance_d(d):
    rng = np.random.default_rng(d)
    q, k = rng.normal(size=(40_000, d)), rng.normal(size=(40_000, d))
    dots = np.sum(q * k, axis=-1)  # (40000,)
    assert abs(dots.var() / d - 1.0) < 0.05
    assert abs((dots / np.sqrt(d)).var() - 1.0) < 0.05


def test_softmax_jacobian_matches_finite_differences_and_its_norm_the_closed_form():
    s = RNG.normal(size=5)
    a = softmax(s)
    eps = 1e-6
    numeric = np.stack([(softmax(s + eps * e) - softmax(s - eps * e)) / (2 * eps) for e in np.eye(5)], axis=1)
    jac = softmax_jacobian(a)  # (5, 5)
    assert np.allclose(jac, numeric, atol=1e-8)
    batch = softmax(RNG.normal(size=(2, 3, 5)) * 3)  # (2, 3, 5)
    assert np.allclose(jacobian_norm(batch), np.linalg.norm(softmax_jacobian(batch), axis=(-2, -1)))


def test_the_jacobian_vanishes_for_one_hot_weights_and_is_sqrt_n_minus_1_over_n_for_uniform():
    assert np.allclose(softmax_jacobian(np.eye(4)[1]), 0.0)
    assert float(jacobian_norm(np.eye(4)[1])) == 0.0
    assert np.isclose(float(jacobian_norm(np.full(9, 1 / 9))), np.sqrt(8) / 9)


def test_unscaled_random_attention_collapses_as_d_grows_and_scaled_attention_does_not():
    n = 16
    scaled = [random_attention_stats(d, n=n, scaled=True, seed=d) for d in (4, 64, 1024)]
    unscaled = [random_attention_stats(d, n=n, scaled=False, seed=d) for d in (4, 64, 1024)]
    assert max(s.entropy for s in scaled) - min(s.entropy for s in scaled) < 0.1
    assert all(s.entropy > 0.8 * np.log(n) for s in scaled)
    assert all(abs(s.score_std - 1.0) < 0.1 for s in scaled)
    assert abs(unscaled[-1].score_std / np.sqrt(1024) - 1.0) < 0.1
    assert unscaled[0].entropy > unscaled[1].entropy > unscaled[2].entropy
    assert unscaled[-1].entropy < 0.1 * np.log(n)
    assert unscaled[-1].jacobian_norm < 0.25 * scaled[-1].jacobian_norm
    assert unscaled[2].jacobian_norm < unscaled[1].jacobian_norm


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_unscaled_gradient_to_the_query_is_heavy_tailed_and_scaled_is_even(offset):
    # Chapter 3's claim, on other seeds than the page's: unscaled, the median of ‖∂a/∂q‖ collapses with d
    # while its mean does not fall and its tail explodes; scaled (the control), all three stay together.
    # Margins from 20 seed offsets: median ratio ≤ 0.0044, mean ratio ≥ 4.9, tail ratio ≥ 1.2e4, scaled tail ≤ 3.1.
    s1, s1024 = (random_attention_stats(d, scaled=True, seed=d + 7919 * offset) for d in (1, 1024))
    u1, u1024 = (random_attention_stats(d, scaled=False, seed=d + 7919 * offset) for d in (1, 1024))
    assert s1024.query_gradient.shape == (16 * 32,)
    med = {name: float(np.median(r.query_gradient)) for name, r in (("s", s1024), ("u", u1024))}
    assert med["u"] < 0.02 * med["s"]
    assert u1024.query_gradient.mean() > 3 * s1024.query_gradient.mean()
    assert u1024.query_gradient.mean() > 4 * u1.query_gradient.mean()
    assert np.quantile(u1024.query_gradient, 0.99) > 1000 * med["u"]
    assert np.quantile(s1024.query_gradient, 0.99) < 4 * med["s"]
    assert np.allclose(s1.query_gradient, u1.query_gradient)  # d = 1: scaling by 1/√1 changes nothing


def test_query_jacobian_matches_finite_differences_and_its_norm_the_closed_form():
    rng = np.random.default_rng(11)
    q, k = rng.normal(size=5), rng.normal(size=(7, 5))  # (d,), (n, d)
    for scale in (1.0, 1 / np.sqrt(5)):
        a = softmax(scale * k @ q)  # (n,)
        eps = 1e-6
        numeric = np.stack([(softmax(scale * k @ (q + eps * e)) - softmax(scale * k @ (q - eps * e))) / (2 * eps)
                            for e in np.eye(5)], axis=1)  # (n, d)
        jac = query_jacobian(a, k, scale)
        assert jac.shape == (7, 5) and np.allclose(jac, numeric, atol=1e-8)
        assert np.isclose(float(query_gradient_norm(a, k, scale)), np.linalg.norm(numeric))
    batch_a = softmax(rng.normal(size=(3, 4, 7)))  # (trials, m, n)
    batch_k = rng.normal(size=(3, 1, 7, 5))  # (trials, 1, n, d)
    norms = query_gradient_norm(batch_a, batch_k, 0.5)
    assert norms.shape == (3, 4)
    assert np.allclose(norms, np.linalg.norm(query_jacobian(batch_a, batch_k, 0.5), axis=(-2, -1)))


def test_query_jacobian_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r"n=4 of the weights p"):
        query_jacobian(np.full(4, 0.25), np.ones((5, 3)), 1.0)
    with pytest.raises(ValueError, match=r"k must be keys of shape"):
        query_gradient_norm(np.full(4, 0.25), np.ones(4), 1.0)


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_the_large_unscaled_gradients_go_to_near_ties(offset):
    # Chapter 3's explanation of the heavy tail: the queries whose two best scores nearly tie get the large
    # gradients. At d = 1024 the 5 % largest unscaled gradients have a median gap below a tenth of the median
    # gap of all queries (20 seed offsets: at most 0.052); the control, 5 % of the queries picked at random,
    # has a median gap of the same order as all of them (20 offsets: at least 0.66).
    u = random_attention_stats(1024, scaled=False, seed=1024 + 7919 * offset)
    assert u.top_gap.shape == u.query_gradient.shape == (16 * 32,)
    assert np.all(u.top_gap >= 0)
    top = np.argsort(u.query_gradient)[-26:]  # the 5 % largest gradients
    picked = np.random.default_rng(offset).permutation(u.top_gap.size)[:26]  # control: 5 % at random
    everyone = np.median(u.top_gap)
    assert np.median(u.top_gap[top]) < 0.1 * everyone
    assert np.median(u.top_gap[picked]) > 0.4 * everyone


def test_unscaled_median_gradient_first_grows_then_collapses():
    # Not monotone: unscaled, the typical query's gradient grows with d while the keys lengthen faster than
    # the softmax saturates, is larger than the scaled one at d = 64 (20 seed offsets: 2.1-4.0 times), and
    # falls below it from d = 256 (at most 0.54 times). Scaled (the control) it stays within 30 %.
    ds = [1, 4, 16, 64, 256, 1024]
    med_u = np.array([np.median(random_attention_stats(d, scaled=False, seed=d).query_gradient) for d in ds])
    med_s = np.array([np.median(random_attention_stats(d, scaled=True, seed=d).query_gradient) for d in ds])
    assert med_u.max() > 4 * med_u[0] and ds[int(med_u.argmax())] in (16, 64)
    assert med_u[3] > 2 * med_s[3] and med_u[4] < med_s[4]
    assert med_s.max() < 1.3 * med_s.min()


@pytest.mark.parametrize("random_attention_stats_kwargs, match",
                         [({"d": 0}, "d must"), ({"d": 4, "n": 2.5}, "n must"), ({"d": 4, "n": 1}, "n must be at least 2")])
def test_random_attention_stats_rejects_bad_sizes(random_attention_stats_kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_attention_stats(**random_attention_stats_kwargs)


def test_linear_init_draws_uniformly_within_one_over_sqrt_fan_in():
    w = linear_init(64, 300, np.random.default_rng(0))
    assert w.shape == (64, 300)
    assert np.abs(w).max() <= 1 / 8
    assert abs(w.var() * 3 * 64 - 1) < 0.05  # variance 1/(3·fan_in)
    with pytest.raises(ValueError, match="fan_in"):
        linear_init(0, 3, np.random.default_rng(0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_default_init_gives_scores_of_std_one_third_and_nearly_uniform_weights(seed):
    # Margins from 20 seeds (n = 8): query variance 0.31–0.35, score std 0.31–0.35, entropy ratio ≥ 0.975;
    # the unit-variance control: score std 0.95–1.04, entropy ratio ≤ 0.85.
    default = init_attention_stats(32, h=2, n=8, init="linear", seed=seed)
    unit = init_attention_stats(32, h=2, n=8, init="unit", seed=seed)
    assert abs(default.query_var - 1 / 3) < 0.05 and abs(default.score_std - 1 / 3) < 0.05
    assert default.entropy_ratio > 0.95
    assert abs(unit.score_std - 1) < 0.1 and unit.entropy_ratio < 0.9


@pytest.mark.parametrize("kwargs, match", [
    ({"d_model": 30, "h": 4}, "not divisible"), ({"n": 1}, "n must be at least 2"), ({"init": "xavier"}, "init must"),
    ({"batch": 0}, "batch must"),
])
def test_init_attention_stats_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        init_attention_stats(**kwargs)


@pytest.mark.parametrize("seed", [0, 7, 23])
def test_training_sharpens_scaled_attention_the_sqrt_d_only_sets_the_start(seed):
    # Margins from seeds 0–29: one-hot targets end at score std 6.3–9.2 (still +0.75 or more over the last
    # 500 steps), entropy ≤ 0.16, loss ratio ≤ 0.018, ‖W_Q‖ ratio ≥ 4.9; the smoothed control ends at
    # std 2.5–3.9 (+0.22 at most over the last 500 steps), entropy ≥ 0.56 > the target's 0.47.
    trace = train_retrieval(steps=1000, seed=seed)
    smooth = train_retrieval(steps=1000, seed=seed, smoothing=0.1)
    assert trace.entropy.shape == trace.loss.shape == (1001,)
    for run in (trace, smooth):
        assert 0.5 < run.score_std[0] < 1.5  # at initialisation the scaled scores have variance ~1
        assert run.score_std[-1] > 2
        assert np.all(np.diff(run.loss) < 0)
    assert trace.loss[-1] < 0.05 * trace.loss[0]
    assert trace.entropy[-1] < 0.3  # entropy collapse
    assert trace.score_std[-1] > 5 and trace.score_std[-1] - trace.score_std[500] > 0.5
    assert trace.w_norm[-1] > 4 * trace.w_norm[0]
    assert trace.jacobian[-1] < 0.25 * trace.jacobian[0]  # seeds 0-29: ≤ 0.151; the control ≥ 0.418
    assert smooth.jacobian[-1] > 0.35 * smooth.jacobian[0]
    goal = np.r_[0.9 + 0.1 / 8, np.full(7, 0.1 / 8)]
    assert smooth.score_std[-1] < 4.5 and smooth.score_std[-1] - smooth.score_std[500] < 0.4
    assert smooth.entropy[-1] > float(entropy(goal))
    assert smooth.loss[-1] > float(entropy(goal))  # a cross-entropy never goes below the target's entropy


def test_train_retrieval_rejects_bad_settings():
    with pytest.raises(ValueError, match="lr"):
        train_retrieval(lr=0.0)
    with pytest.raises(ValueError, match="steps"):
        train_retrieval(steps=-1)
    with pytest.raises(ValueError, match="smoothing"):
        train_retrieval(smoothing=1.0)


def test_uniform_query_names_a_bad_shape_of_the_keys():
    with pytest.raises(ValueError, match=r"k must be keys of shape \(n, d\)"):
        uniform_query(np.ones(4))


# --------------------------------------------------------------------------- the widget and its fallback


def test_the_demo_scores_lean_towards_key_3_without_being_one_hot():
    s = demo_scores()
    assert s.shape == (8,) and s.argmax() == 3
    h = float(entropy(spotlight_weights(s, 1.0, 1.0)))
    assert 0.5 < h < np.log(8) - 0.2


def test_spotlight_weights_depend_only_on_alpha_over_t():
    s = demo_scores()
    assert np.allclose(spotlight_weights(s, 1.0, 2.0), spotlight_weights(s, 0.5, 1.0))
    assert np.allclose(spotlight_weights(s, 3.0, 0.0), 1 / 8)


def test_the_static_figure_has_one_bar_chart_per_setting_and_the_entropy_curve():
    fig = spotlight_figure([(1.0, 1.0), (0.2, 1.0), (1.0, 0.0)])
    bars, curve = fig.axes[1:], fig.axes[0]
    assert len(bars) == 3 and all(len(ax.patches) == 8 for ax in bars)
    assert len(curve.get_lines()) == 2 + 1 + 3  # one curve per alpha, ln n, one marker per setting
    assert "H = 0.00" not in bars[0].get_title() and "α = 0" in bars[2].get_title()
    legend = [text.get_text() for text in fig.legends[0].get_texts()]  # what the red bar and dashed line mean
    assert legend == ["largest weight", "uniform weight 1/8"]
    assert [p.get_facecolor() for p in bars[0].patches].count(bars[0].patches[3].get_facecolor()) == 1  # k3 alone
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        spotlight_figure([])


def test_the_widget_readout_follows_its_sliders():
    widget = SpotlightWidget()
    first = widget.readout.value
    assert "entropy" in first and "largest weight" in first
    assert "α/T" not in first and "matters" not in first  # the readout must not answer the lab's question 2
    widget.alpha.value = 0.0
    assert "every weight is 1/8" in widget.readout.value and "2.079" in widget.readout.value
    widget.alpha.value, widget.temperature.value = 2.0, 1.0
    doubled = widget.readout.value
    widget.alpha.value, widget.temperature.value = 1.0, 0.5
    assert widget.readout.value.split("entropy")[1] == doubled.split("entropy")[1]  # only α/T matters
    plt.close("all")
