"""Chapter 8's latent attention: Perceiver score counts and the rank of its bottleneck, and MLA's
cache against its N × N scores."""
import numpy as np
import pytest
import torch

from crossattn import attention
from crossattn.core.latent import (
    DEEPSEEK_V2,
    PerceiverWeights,
    best_rank_error,
    kv_cache_values,
    latent_score_entries,
    make_mla_params,
    mixing_matrix,
    mla_attention,
    perceiver_weights,
    self_attention_score_entries,
    self_attention_weights,
)


def test_score_entries_by_formula_and_by_the_shapes_of_the_weights():
    N, L, layers, h = 40, 6, 3, 2
    assert latent_score_entries(N, L, layers, h) == h * (N * L + layers * L * L)
    assert self_attention_score_entries(N, layers=2, h=h) == 2 * h * N * N
    rng = np.random.default_rng(0)
    w = perceiver_weights(rng.normal(size=(N, 8)), rng.normal(size=(L, 8)), latent_layers=layers)
    held = w.read.size + sum(a.size for a in w.latent)  # the score matrices actually built
    assert held == latent_score_entries(N, L, layers)


def test_latent_counts_grow_linearly_and_break_even_at_the_golden_ratio():
    L = 100
    assert latent_score_entries(20_000, L) / latent_score_entries(10_000, L) == pytest.approx(2, rel=0.01)
    assert self_attention_score_entries(20_000) / self_attention_score_entries(10_000) == 4
    phi = (1 + 5 ** 0.5) / 2  # N² = N·L + L²  at  N = φ·L
    assert latent_score_entries(161, L) > self_attention_score_entries(161)
    assert latent_score_entries(162, L) < self_attention_score_entries(162)
    assert 161 < phi * L < 162


@pytest.mark.parametrize("call, match", [
    (lambda: latent_score_entries(0, 4), "N must be a positive integer"),
    (lambda: latent_score_entries(10, 4, latent_layers=-1), "latent_layers"),
    (lambda: self_attention_score_entries(10, h=1.5), "h must be"),
    (lambda: kv_cache_values(10, 2, 4, 8, d_rope=16), "d_rope belongs to MLA"),
    (lambda: kv_cache_values(10, 2, 4, 8, d_c=0), "d_c must be"),
    (lambda: best_rank_error(np.eye(3), -1), "rank"),
])
def test_bad_counts_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_perceiver_weights_refuses_mismatched_widths():
    with pytest.raises(ValueError, match="same d"):
        perceiver_weights(np.zeros((5, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out_queries"):
        perceiver_weights(np.zeros((5, 4)), np.zeros((2, 4)), out_queries=np.zeros((3, 2)))


@pytest.mark.parametrize("L", [1, 3, 8, 20])
def test_mixing_through_L_latents_has_rank_L_and_rows_that_sum_to_one(L):
    rng = np.random.default_rng(L)
    N, d = 30, 40
    X = rng.normal(size=(N, d))
    Z = rng.normal(size=(L, d))
    M = mixing_matrix(perceiver_weights(X, Z))  # one latent self-attention
    assert M.shape == (N, N) and np.allclose(M.sum(axis=1), 1)
    assert np.linalg.matrix_rank(M) == L  # ≤ L always; here the bound is reached
    deeper = mixing_matrix(perceiver_weights(X, Z, latent_layers=3))
    assert np.linalg.matrix_rank(deeper) <= L  # more latent layers cannot raise it (pure attention may lower it)
    _, A = attention(X, X, X)
    assert np.linalg.matrix_rank(A) == N  # no bottleneck: full rank


def test_the_mixing_is_what_the_outputs_really_are():
    # With value projections set to the identity, outputs = M @ X: the mixing matrix tells the truth.
    rng = np.random.default_rng(3)
    X, Z = rng.normal(size=(12, 5)), rng.normal(size=(3, 5))
    _, read = attention(Z, X, X)
    Z1 = read @ X
    out, write = attention(X, Z1, Z1)
    assert np.allclose(out, mixing_matrix(PerceiverWeights(read, [], write)) @ X)


def test_best_rank_error_of_a_permutation_is_root_of_n_minus_L():
    P = np.eye(10)[np.random.default_rng(0).permutation(10)]
    for L in (0, 3, 10):
        assert best_rank_error(P, L) == pytest.approx(np.sqrt(10 - L))
    rng = np.random.default_rng(1)
    M = mixing_matrix(perceiver_weights(rng.normal(size=(10, 6)), rng.normal(size=(3, 6))))
    assert np.linalg.norm(M - P) >= best_rank_error(P, 3) - 1e-12  # no rank-3 mixing does better


def test_kv_cache_values_and_deepseek_v2():
    assert kv_cache_values(7, 3, 4, 16) == 7 * 3 * 2 * 4 * 16
    assert kv_cache_values(7, 3, 4, 16, d_c=24, d_rope=8) == 7 * 3 * 32
    per_token_mha = kv_cache_values(1, DEEPSEEK_V2["layers"], DEEPSEEK_V2["h"], DEEPSEEK_V2["d_head"])
    per_token_mla = kv_cache_values(1, **DEEPSEEK_V2)
    assert per_token_mla == 60 * (512 + 64)  # (d_c + d_rope)·layers = 4.5·d_head·layers, as the paper tabulates
    assert per_token_mla == 4.5 * DEEPSEEK_V2["d_head"] * DEEPSEEK_V2["layers"]
    assert 56 < per_token_mha / per_token_mla < 58


def test_mla_caches_d_c_per_token_and_still_scores_every_pair():
    N, d_model, h, d_head, d_c = 9, 16, 4, 5, 3
    params = make_mla_params(d_model, h, d_head, d_c, seed=1)
    X = np.random.default_rng(2).normal(size=(N, d_model))
    out, scores, cache = mla_attention(X, params)
    out_abs, scores_abs, _ = mla_attention(X, params, absorb=True)
    assert cache.shape == (N, d_c) and scores.shape == (h, N, N) and out.shape == (N, h * d_head)
    assert np.allclose(scores, scores_abs) and np.allclose(out, out_abs)
    # A reference: rebuild K and V from the cache and run torch's causal attention head by head.
    q = torch.from_numpy(X @ params.W_Q).view(N, h, d_head).transpose(0, 1)
    k = torch.from_numpy(cache @ params.W_UK).view(N, h, d_head).transpose(0, 1)
    v = torch.from_numpy(cache @ params.W_UV).view(N, h, d_head).transpose(0, 1)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)  # (h, N, d_head)
    assert np.allclose(out, ref.transpose(0, 1).reshape(N, h * d_head).numpy(), atol=1e-10)
    # Causality: changing the last token moves only the last output row.
    X2 = X.copy()
    X2[-1] += 1.0
    out2, _, _ = mla_attention(X2, params)
    assert np.allclose(out2[:-1], out[:-1]) and not np.allclose(out2[-1], out[-1])


def test_self_attention_weights_use_projections_and_have_full_rank():


    rng = np.random.default_rng(3)
    S = rng.normal(size=(20, 16))
    A = self_attention_weights(S, seed=1)
    assert A.shape == (20, 20) and np.allclose(A.sum(axis=1), 1)
    _, plain = attention(S, S, S)  # no projections: each token mostly reads itself
    assert np.diag(A).mean() < np.diag(plain).mean()
    assert np.linalg.matrix_rank(A) == 20
    assert np.array_equal(A, self_attention_weights(S, seed=1))
    with pytest.raises(ValueError, match="S must be"):
        self_attention_weights(np.zeros(5))


def test_mixing_rank_bound_shows_in_the_singular_values():
    rng = np.random.default_rng(8)
    S = rng.normal(size=(30, 12))
    for L in (2, 5):
        s = np.linalg.svd(mixing_matrix(perceiver_weights(S, rng.normal(size=(L, 12)))), compute_uv=False)
        assert s[L] < 1e-12 * s[0]


def _effective_rank(M, rel=1e-3):
    s = np.linalg.svd(M, compute_uv=False)
    return int((s > rel * s[0]).sum()), s


def test_peaked_weights_reach_the_bound_and_near_uniform_ones_do_not():
    # The rank bound binds only if the weights can use the L dimensions: latents placed on inputs,
    # without projections, read mostly their own input (peaked); random projections of random
    # vectors give near-uniform weights, whose spectra fall off long before L (the control).
    rng = np.random.default_rng(8)
    N, d = 48, 64
    S = rng.normal(size=(N, d))
    for L in (4, 16, 32):
        idx = rng.choice(N, size=L, replace=False)
        eff, s = _effective_rank(mixing_matrix(perceiver_weights(S, S[idx], projections=False)))
        assert eff == L and s[L - 1] > 0.1 * s[0] and s[L] < 1e-12 * s[0]
        eff_uniform, _ = _effective_rank(mixing_matrix(perceiver_weights(S, rng.normal(size=(L, d)))))
        assert eff_uniform <= 3 < L
    eff_self, s_self = _effective_rank(self_attention_weights(S, projections=False))
    assert eff_self == N and s_self[-1] > 0.5 * s_self[0]  # no bottleneck: nothing is cut


def test_projections_false_uses_each_vector_as_its_own_query_key_and_value():
    rng = np.random.default_rng(4)
    S, Z = rng.normal(size=(7, 5)), rng.normal(size=(3, 5))
    w = perceiver_weights(S, Z, latent_layers=0, projections=False)
    Z1, read = attention(Z, S, S)
    _, write = attention(S, Z1, Z1)
    assert np.allclose(w.read, read) and np.allclose(w.write, write) and w.latent == []
    assert np.allclose(self_attention_weights(S, projections=False), attention(S, S, S)[1])
