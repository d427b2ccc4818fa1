"""Attention as kernel regression (chapter 3): Nadaraya–Watson, the bandwidth λ as a temperature (T = λ²), ρ²."""
import numpy as np
import pytest

from crossattn import attention
from crossattn.core.kernel_regression import (
    bandwidth_sweep,
    gaussian_conditional_variance,
    gaussian_kernel_scores,
    joint_gaussian,
    kernel_as_attention,
    nadaraya_watson,
    variance_removed,
)
from crossattn.core.spotlight import softmax_with_temperature

RNG = np.random.default_rng(7)
X_TRAIN = np.sort(RNG.uniform(-2, 2, size=9))  # (n,) = (9,)
Y_TRAIN = np.sin(X_TRAIN) + 0.1 * RNG.normal(size=9)  # (n,)
X_QUERY = np.array([-1.5, 0.0, 0.4, 1.9])  # (m,) = (4,)


def test_gaussian_kernel_scores_are_minus_squared_distance_over_2_lambda_squared():
    got = gaussian_kernel_scores(X_QUERY, X_TRAIN, 0.7)
    assert got.shape == (4, 9)
    assert np.allclose(got, -(X_QUERY[:, None] - X_TRAIN[None, :]) ** 2 / (2 * 0.49))
    xq, xk = RNG.normal(size=(4, 2)), RNG.normal(size=(9, 2))  # p = 2 coordinates
    want = -np.sum((xq[:, None] - xk[None]) ** 2, axis=-1) / (2 * 0.49)
    assert np.allclose(gaussian_kernel_scores(xq, xk, 0.7), want)


@pytest.mark.parametrize("args, match", [
    ((np.ones((4, 2)), np.ones((9, 3)), 1.0), "same number of coordinates"),
    ((X_QUERY, X_TRAIN, 0.0), "bandwidth must be a finite number > 0"),
    ((X_QUERY, X_TRAIN, -1.0), "bandwidth"),
    ((np.ones((2, 2, 2)), X_TRAIN, 1.0), r"x_query must have shape \(r,\) or \(r, p\)"),
])
def test_kernel_scores_reject_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        gaussian_kernel_scores(*args)


def test_nadaraya_watson_is_the_kernel_weighted_mean_of_the_values():
    pred, w = nadaraya_watson(X_QUERY, X_TRAIN, Y_TRAIN, 0.5)
    kern = np.exp(-(X_QUERY[:, None] - X_TRAIN[None, :]) ** 2 / (2 * 0.25))  # (m, n) Gaussian kernel
    assert np.allclose(pred, kern @ Y_TRAIN / kern.sum(axis=1))
    assert w.shape == (4, 9) and np.allclose(w.sum(axis=1), 1.0)
    y2 = np.stack([Y_TRAIN, -Y_TRAIN], axis=1)  # (n, d_v) = (9, 2)
    pred2, _ = nadaraya_watson(X_QUERY, X_TRAIN, y2, 0.5)
    assert pred2.shape == (4, 2) and np.allclose(pred2[:, 0], pred)


def test_a_tiny_bandwidth_gives_the_nearest_neighbour_and_a_huge_one_the_mean():
    far = np.array([-9.0, 0.01, 9.0])  # queries far from the data: exp() would underflow
    pred, _ = nadaraya_watson(far, X_TRAIN, Y_TRAIN, 1e-3)
    nearest = Y_TRAIN[np.argmin(np.abs(far[:, None] - X_TRAIN[None, :]), axis=1)]
    assert np.isfinite(pred).all() and np.allclose(pred, nearest)
    wide, _ = nadaraya_watson(X_QUERY, X_TRAIN, Y_TRAIN, 1e4)
    assert np.allclose(wide, Y_TRAIN.mean(), atol=1e-6)


def test_nadaraya_watson_names_a_value_array_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"y_keys must have shape \(n,\) or \(n, d_v\) with n=9"):
        nadaraya_watson(X_QUERY, X_TRAIN, Y_TRAIN[:5], 1.0)


@pytest.mark.parametrize("p", [1, 3])
def test_dot_product_attention_with_augmented_queries_and_keys_is_the_kernel_estimate(p):
    rng = np.random.default_rng(p)
    xq, xk = rng.normal(size=(5, p)), rng.normal(size=(8, p))  # (m, p), (n, p)
    y = rng.normal(size=(8, 2))  # (n, d_v)
    q, k, scale = kernel_as_attention(xq, xk, 0.8)
    assert q.shape == (5, p + 1) and k.shape == (8, p + 1) and np.isclose(scale, 1 / 0.64)
    out, w = attention(q, k, y, scale=scale)
    pred, w_nw = nadaraya_watson(xq, xk, y, 0.8)
    assert np.allclose(out, pred) and np.allclose(w, w_nw)


def test_the_bandwidth_is_a_temperature_t_equal_lambda_squared():
    half_sq = -0.5 * (X_QUERY[:, None] - X_TRAIN[None, :]) ** 2  # (m, n): −(x − x_j)²/2
    for lam in (0.2, 1.0, 3.0):  # the bandwidth λ
        _, w = nadaraya_watson(X_QUERY, X_TRAIN, Y_TRAIN, lam)
        assert np.allclose(w, softmax_with_temperature(half_sq, lam**2))


def test_joint_gaussian_has_the_requested_correlation_and_variance_and_is_seeded():
    x, y = joint_gaussian(200_000, 0.6, seed=1, var_y=4.0)
    assert abs(np.corrcoef(x, y)[0, 1] - 0.6) < 0.01
    assert abs(y.var() - 4.0) < 0.05 and abs(x.var() - 1.0) < 0.02
    assert np.array_equal(joint_gaussian(10, 0.6, seed=3)[1], joint_gaussian(10, 0.6, seed=3)[1])


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 10, "rho": 1.5}, "rho must be a correlation"),
    ({"n": 0, "rho": 0.5}, "n must be a positive integer"),
    ({"n": 10, "rho": 0.5, "var_y": 0.0}, "var_y must be > 0"),
])
def test_joint_gaussian_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        joint_gaussian(**kwargs)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_the_gaussian_conditional_variance_is_1_minus_rho_squared_times_var_y(rho):
    assert np.isclose(gaussian_conditional_variance(rho, 2.0), (1 - rho**2) * 2.0)
    x, y = joint_gaussian(200_000, rho, seed=2, var_y=2.0)
    residual = y - rho * np.sqrt(2.0) * x  # Y − E[Y | X]
    assert abs(residual.var() - (1 - rho**2) * 2.0) < 0.03
    with pytest.raises(ValueError, match="rho must lie in"):
        gaussian_conditional_variance(1.2)


@pytest.mark.parametrize("rho", [0.3, 0.8])
def test_attention_removes_rho_squared_of_the_variance_of_gaussian_data(rho):
    x, y = joint_gaussian(2000, rho, seed=11)
    xt, yt = joint_gaussian(2000, rho, seed=12)
    pred, _ = nadaraya_watson(xt, x, y, 0.25)
    assert abs(np.mean((yt - pred) ** 2) - gaussian_conditional_variance(rho)) < 0.05


def test_on_y_equal_x_squared_attention_removes_far_more_than_rho_squared():
    rng = np.random.default_rng(13)
    x, xt = rng.normal(size=2000), rng.normal(size=2000)
    y, yt = x**2 + 0.5 * rng.normal(size=2000), xt**2 + 0.5 * rng.normal(size=2000)
    rho = np.corrcoef(x, y)[0, 1]
    pred, _ = nadaraya_watson(xt, x, y, 0.15)
    assert rho**2 < 0.01
    assert variance_removed(yt, pred) > 0.8


def test_variance_removed_is_1_for_perfect_predictions_and_0_for_the_mean():
    y = RNG.normal(size=50)
    assert variance_removed(y, y) == 1.0
    assert abs(variance_removed(y, np.full(50, y.mean()))) < 1e-12
    with pytest.raises(ValueError, match="constant"):
        variance_removed(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="same shape"):
        variance_removed(y, y[:10])


def test_held_out_error_is_u_shaped_in_the_bandwidth():
    rng = np.random.default_rng(14)
    x, xt = rng.normal(size=800), rng.normal(size=800)
    y, yt = x**2 + 0.5 * rng.normal(size=800), xt**2 + 0.5 * rng.normal(size=800)
    hs = np.geomspace(1e-4, 30, 25)
    mse = bandwidth_sweep(x, y, xt, yt, hs)
    best = mse.min()
    assert 0 < mse.argmin() < len(hs) - 1
    assert mse[0] > 1.5 * best and mse[-1] > 5 * best
    assert abs(mse[-1] - np.mean((yt - y.mean()) ** 2)) < 1e-3  # too wide: the mean of y
    # on the training points themselves a tiny bandwidth looks far better than it is: evaluate held out
    assert bandwidth_sweep(x, y, x, y, [1e-6])[0] < 0.01 * best
