"""crossattn.attention against PyTorch and against its contract (design §6)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from crossattn import attention, attention_scores, causal_mask, padding_mask

M, N, D, DV = 3, 5, 4, 6  # m ≠ n ≠ d ≠ d_v, so a transposed matrix cannot pass


@pytest.fixture
def qkv():
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, M, D)), rng.normal(size=(2, N, D)), rng.normal(size=(2, N, DV))


def sdpa(q, k, v, mask=None):
    t = [torch.from_numpy(a) for a in (q, k, v)]
    m = None if mask is None else torch.from_numpy(np.asarray(mask))
    return F.scaled_dot_product_attention(*t, attn_mask=m).numpy()


def test_shapes(qkv):
    out, w = attention(*qkv)
    assert out.shape == (2, M, DV)
    assert w.shape == (2, M, N)
    assert np.allclose(w.sum(-1), 1.0)


def test_agrees_with_torch_sdpa_in_float64(qkv):
    out, _ = attention(*qkv)
    assert np.abs(out - sdpa(*qkv)).max() < 1e-6


def test_agrees_with_torch_sdpa_with_a_boolean_mask(qkv):
    mask = padding_mask(np.array([2, 4]), M, N)  # (2, m, n), True = may attend, as in sdpa
    out, w = attention(*qkv, mask=mask)
    assert np.abs(out - sdpa(*qkv, mask=mask)).max() < 1e-6
    assert np.all(w[~mask] == 0.0)


def test_agrees_with_torch_sdpa_with_a_custom_scale(qkv):
    out, _ = attention(*qkv, scale=0.3)
    q, k, v = (torch.from_numpy(a) for a in qkv)
    assert np.abs(out - F.scaled_dot_product_attention(q, k, v, scale=0.3).numpy()).max() < 1e-6


def test_default_scale_is_one_over_sqrt_d(qkv):
    q, k, _ = qkv
    assert np.allclose(attention_scores(q, k), q @ k.swapaxes(-1, -2) / np.sqrt(D))


def test_fully_masked_row_gives_zero_weights_and_zero_output_not_nan(qkv):
    mask = np.ones((M, N), dtype=bool)
    mask[1] = False
    out, w = attention(*qkv, mask=mask)
    assert np.isfinite(out).all() and np.isfinite(w).all()
    assert np.all(w[:, 1] == 0.0) and np.all(out[:, 1] == 0.0)
    assert np.allclose(np.delete(w, 1, axis=1).sum(-1), 1.0)


def test_perturbing_a_padded_source_token_leaves_the_output_unchanged(qkv):
    q, k, v = qkv
    mask = padding_mask(np.array([3, 5]), M, N)
    out, _ = attention(q, k, v, mask=mask)
    k2, v2 = k.copy(), v.copy()
    k2[0, 3:] += 100.0  # batch 0 has 3 real tokens; positions 3, 4 are padding
    v2[0, 3:] -= 50.0
    out2, _ = attention(q, k2, v2, mask=mask)
    assert np.array_equal(out, out2)


def test_causal_mask_stops_future_keys_from_moving_earlier_outputs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(M, D))
    out, _ = attention(x, x, x, mask=causal_mask(M))
    y = x.copy()
    y[-1] += 10.0  # perturb the last (future) token
    out2, _ = attention(y, y, y, mask=causal_mask(M))
    assert np.allclose(out[:-1], out2[:-1])
    assert not np.allclose(out[-1], out2[-1])


def test_mask_broadcasts_over_batch_and_heads():
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=(2, 3, M, D)), rng.normal(size=(2, 3, N, D)), rng.normal(size=(2, 3, N, DV))
    mask = np.ones((1, 1, M, N), dtype=bool)
    mask[..., -1] = False
    _, w = attention(q, k, v, mask=mask)
    assert w.shape == (2, 3, M, N) and np.all(w[..., -1] == 0)


@pytest.mark.parametrize(
    "shapes, match",
    [
        (((M, D), (N, D + 1), (N, DV)), r"same width d: q has shape \(3, 4\).*k has shape \(5, 5\)"),
        (((M, D), (N, D), (N + 1, DV)), r"same n source positions: k has shape \(5, 4\).*v has shape \(6, 6\)"),
        (((D,), (N, D), (N, DV)), r"q must have shape"),
        (((2, M, D), (3, N, D), (3, N, DV)), r"batch dimensions do not broadcast"),
    ],
)
def test_mismatched_shapes_raise_value_error_naming_the_shapes(shapes, match):
    arrays = [np.zeros(s) for s in shapes]
    with pytest.raises(ValueError, match=match):
        attention(*arrays)


def test_a_mask_built_n_by_m_is_rejected_naming_its_shape(qkv):
    q, k, v = (a[0] for a in qkv)
    with pytest.raises(ValueError, match=r"mask of shape \(5, 3\) does not broadcast .*m=3.*n=5"):
        attention(q, k, v, mask=np.ones((N, M), dtype=bool))


def test_a_mask_that_would_change_the_scores_shape_is_rejected():
    """A mask may stretch to the scores, never the scores to the mask (chapter 2, the m = 1 broadcast)."""
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(2, M, D)), rng.normal(size=(2, N, D)), rng.normal(size=(2, N, DV))
    heads_axis = padding_mask(np.array([5, 3]), M, N)[:, None]  # (B, 1, m, n) on unheaded scores (B, m, n)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 1, 3, 5\) does not broadcast"):
        attention(q, k, v, mask=heads_axis)
    step = padding_mask(np.array([5, 3]), 1, N)[:, None]  # (B, 1, 1, n), one decoding step
    q1 = rng.normal(size=(2, 4, 1, D))  # (B, h, 1, d)
    with pytest.raises(ValueError, match="does not broadcast"):
        attention(q1, k[:, None], v[:, None], mask=np.swapaxes(step, -1, -2))  # transposed: (B, 1, n, 1)
    out, _ = attention(q1, k[:, None], v[:, None], mask=step)  # control: the right mask is accepted
    assert out.shape == (2, 4, 1, DV)


@pytest.mark.parametrize("scale", [0, -1.0, np.inf, "a"])
def test_a_scale_that_is_not_a_positive_number_is_rejected(qkv, scale):
    with pytest.raises(ValueError, match="scale must be"):
        attention(*qkv, scale=scale)


def test_a_float_mask_is_rejected(qkv):
    with pytest.raises(ValueError, match="mask must be boolean"):
        attention(*qkv, mask=np.zeros((M, N)))
