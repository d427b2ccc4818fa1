"""softmax and entropy (design §6 contract)."""
import numpy as np
import pytest

from crossattn import entropy, softmax


def test_softmax_rows_sum_to_one_along_the_given_axis():
    x = np.random.default_rng(0).normal(size=(3, 5))
    assert np.allclose(softmax(x).sum(axis=-1), 1.0)
    assert np.allclose(softmax(x, axis=0).sum(axis=0), 1.0)
    assert not np.allclose(softmax(x, axis=0).sum(axis=-1), 1.0)


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_softmax_does_not_overflow_for_logits_of_1e4(big):
    x = np.array([[big, big - 1.0, 0.0]])
    p = softmax(x)
    assert np.isfinite(p).all()
    assert np.allclose(p.sum(), 1.0)


def test_softmax_ignores_a_common_shift():
    x = np.array([0.3, -1.2, 2.0])
    assert np.allclose(softmax(x), softmax(x + 1234.5))


def test_softmax_of_an_all_blocked_row_is_zero_not_nan():
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    p = softmax(x)
    assert np.array_equal(p, [[0.0, 0.0], [1.0, 0.0]])


@pytest.mark.parametrize("bad, match", [(np.float64(1.0), "scalar"), (np.array(["a", "b"]), "numbers")])
def test_softmax_rejects_bad_input_with_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        softmax(bad)


@pytest.mark.parametrize("bad", [[np.inf, 0.0], [np.nan, 0.0], [[0.0, 1.0], [np.nan, -np.inf]]])
def test_softmax_rejects_nan_and_plus_inf_but_accepts_minus_inf(bad):
    with pytest.raises(ValueError, match=r"NaN or \+inf"):
        softmax(np.array(bad))
    assert np.array_equal(softmax(np.array([0.0, -np.inf])), [1.0, 0.0])  # control: -inf is a blocked score


def test_softmax_rejects_an_axis_out_of_range():
    with pytest.raises(ValueError, match=r"axis 2 .* shape \(2, 3\)"):
        softmax(np.zeros((2, 3)), axis=2)


def test_entropy_is_zero_for_one_hot_and_ln_n_for_uniform():
    assert entropy(np.array([0.0, 1.0, 0.0])) == 0.0
    n = 7
    assert np.isclose(entropy(np.full(n, 1 / n)), np.log(n))


def test_entropy_uses_nats_and_0_log_0_is_0():
    p = np.array([0.5, 0.5, 0.0])
    assert np.isclose(entropy(p), np.log(2))  # nats, not 1 bit
    assert np.isfinite(entropy(p))


def test_entropy_reduces_the_given_axis():
    p = np.array([[1.0, 0.0], [0.5, 0.5], [0.25, 0.75]])  # (3, 2)
    assert entropy(p).shape == (3,)
    assert entropy(p.T, axis=0).shape == (3,)
    assert np.allclose(entropy(p), entropy(p.T, axis=0))


def test_entropy_rejects_negative_probabilities():
    with pytest.raises(ValueError, match="non-negative"):
        entropy(np.array([1.5, -0.5]))
