"""Two different things called "latent" attention, counted and measured (chapter 8).

**Latent cross-attention** (Perceiver, Jaegle et al. 2021; Perceiver IO for the read-out): a
small array of L learned latent vectors cross-attends to N inputs (the latents are the queries,
the inputs the keys and values: in the course's notation m = L, n = N), then the latents
self-attend (L × L). The score matrices hold N·L + L² entries per head instead of the N² of
self-attention over the inputs. The price is a bottleneck: whatever one input token passes to
another goes through the L latents, so the token-to-token mixing has rank ≤ L
(:func:`perceiver_weights`, :func:`mixing_matrix`).

**Multi-head latent attention** (MLA, DeepSeek-V2, DeepSeek-AI 2024) is something else: a
KV-cache compression. Each token's keys and values for all heads are rebuilt from one cached
vector of width d_c (plus, in DeepSeek-V2, a small shared RoPE key of width d_rope), instead of
caching 2·h·d_head numbers. Attention itself is still causal self-attention over all N tokens:
N × N scores per head (:func:`mla_attention`, :func:`kv_cache_values`).

Shapes: N inputs (tokens), L latents, d width, h heads, d_head width per head, d_c the
width of MLA's cached latent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .cost import score_entries
from .dot_product import attention
from .numerics import softmax

__all__ = [
    "latent_score_entries", "self_attention_score_entries", "PerceiverWeights", "perceiver_weights",
    "self_attention_weights", "mixing_matrix", "best_rank_error", "kv_cache_values", "MLAParams", "make_mla_params", "mla_attention",
    "DEEPSEEK_V2",
]


def _positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _count(name: str, value: int) -> None:
    if int(value) != value or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


# -- counting score entries -------------------------------------------------------------------------

def latent_score_entries(N: int, L: int, latent_layers: int = 1, h: int = 1) -> int:
    """Score entries of a Perceiver block: one cross-attention of L latents to N inputs (L × N),
    then ``latent_layers`` self-attentions of the latents (L × L each), for h heads:
    h·(N·L + latent_layers·L²)."""
    _positive(N=N, L=L, h=h)
    _count("latent_layers", latent_layers)
    return score_entries(L, N, h) + latent_layers * score_entries(L, L, h)


def self_attention_score_entries(N: int, layers: int = 1, h: int = 1) -> int:
    """Score entries of ``layers`` self-attentions over N tokens, h heads: h·layers·N²."""
    _positive(N=N, layers=layers, h=h)
    return layers * score_entries(N, N, h)


# -- the Perceiver's bottleneck ---------------------------------------------------------------------

@dataclass
class PerceiverWeights:
    """The attention weights of one pass through a Perceiver-style bottleneck.

    read: (L, N) — each latent's weights over the inputs (latents are the queries);
    latent: list of (L, L) — the latent self-attentions, in order;
    write: (N_out, L) — each output query's weights over the latents (Perceiver IO's decoder).
    """

    read: NDArray[np.float64]
    latent: list[NDArray[np.float64]]
    write: NDArray[np.float64]


def _random_projections(d: int, seed: int):
    """A function that draws the next random (d, d) projection from ``seed``, scaled by 1/√d."""
    rng = np.random.default_rng(seed)

    def proj() -> NDArray[np.float64]:
        return rng.normal(size=(d, d)) / np.sqrt(d)  # (d, d)

    return proj


def perceiver_weights(S: NDArray, Z: NDArray, out_queries: NDArray | None = None, latent_layers: int = 1,
                      seed: int = 0, projections: bool = True) -> PerceiverWeights:
    """Run N inputs S (N, d) through L latents Z (L, d) with random projections; return the weights.

    The inputs are the source (keys and values) of the first cross-attention, the latents its target.
    1. read:   the latents attend to the inputs   Q = Z W_Q, K = S W_K, V = S W_V   -> (L, N)
    2. latent: ``latent_layers`` self-attentions of the latents                     -> (L, L) each
    3. write:  output queries (default: the inputs themselves, one per token) attend to the
               latents                                                               -> (N_out, L)
    Residual connections and MLPs are left out: they act on each vector alone and do not move
    information between tokens. One head throughout. The projections are random, drawn from ``seed``;
    with ``projections=False`` there are none (W_Q = W_K = W_V = I): each vector is its own query, key
    and value. Random projections of random vectors give near-uniform weights; without projections,
    latents placed on inputs (Z = rows of S) give peaked ones, each latent reading mostly its own input.
    """
    S, Z = np.asarray(S, dtype=float), np.asarray(Z, dtype=float)
    if S.ndim != 2 or Z.ndim != 2 or S.shape[1] != Z.shape[1]:
        raise ValueError(f"S must be (N, d) and Z (L, d) with the same d, got {S.shape} and {Z.shape}")
    _count("latent_layers", latent_layers)
    out_queries = S if out_queries is None else np.asarray(out_queries, dtype=float)
    if out_queries.ndim != 2 or out_queries.shape[1] != S.shape[1]:
        raise ValueError(f"out_queries must be (N_out, d={S.shape[1]}), got {out_queries.shape}")
    if projections:
        proj = _random_projections(S.shape[1], seed)
    else:
        def proj() -> NDArray[np.float64]:
            return np.eye(S.shape[1])  # (d, d): no projection
    latents, read = attention(Z @ proj(), S @ proj(), S @ proj())  # (L, d), weights (L, N)
    latent = []
    for _ in range(latent_layers):
        latents, weights = attention(latents @ proj(), latents @ proj(), latents @ proj())  # (L, d), (L, L)
        latent.append(weights)
    _, write = attention(out_queries @ proj(), latents @ proj(), latents @ proj())  # (N_out, L)
    return PerceiverWeights(read, latent, write)


def self_attention_weights(S: NDArray, seed: int = 0, projections: bool = True) -> NDArray[np.float64]:
    """The (N, N) weights of one self-attention over S (N, d) with random projections W_Q, W_K drawn
    like those of :func:`perceiver_weights` (scaled by 1/√d), or none (``projections=False``): the
    like-for-like comparison without a bottleneck."""
    S = np.asarray(S, dtype=float)
    if S.ndim != 2:
        raise ValueError(f"S must be (N, d), got shape {S.shape}")
    if not projections:
        return attention(S, S, S)[1]  # (N, N)
    proj = _random_projections(S.shape[1], seed)
    _, weights = attention(S @ proj(), S @ proj(), S @ proj())  # (N, N)
    return weights


def mixing_matrix(weights: PerceiverWeights) -> NDArray[np.float64]:
    """How much each output takes from each input through the bottleneck: write · latent… · read,
    (N_out, L) @ (L, L) … @ (L, N) -> (N_out, N). Its rank is at most L; its rows sum to 1."""
    M = weights.write  # (N_out, L)
    for A in reversed(weights.latent):
        M = M @ A  # (N_out, L) @ (L, L)
    return M @ weights.read  # (N_out, L) @ (L, N) -> (N_out, N)


def best_rank_error(target: NDArray, rank: int) -> float:
    """The smallest Frobenius distance from ``target`` (N_out, N) to any matrix of rank ≤ ``rank``
    (Eckart–Young: the root of the sum of the squared singular values beyond the first ``rank``)."""
    _count("rank", rank)
    s = np.linalg.svd(np.asarray(target, dtype=float), compute_uv=False)
    return float(np.sqrt(np.sum(s[rank:] ** 2)))


# -- multi-head latent attention (MLA): a KV-cache compression --------------------------------------

def kv_cache_values(tokens: int, layers: int, h: int, d_head: int, d_c: int | None = None, d_rope: int = 0) -> int:
    """Numbers held in the KV cache after ``tokens`` tokens.

    Standard multi-head attention (d_c None) caches a key and a value per head, per token and
    layer: 2·h·d_head. MLA caches one latent of width d_c per token and layer, shared by the keys
    and values of every head, plus a RoPE key of width d_rope shared by the heads:
    d_c + d_rope. Either is multiplied by tokens·layers.
    """
    _positive(tokens=tokens, layers=layers, h=h, d_head=d_head)
    _count("d_rope", d_rope)
    if d_c is None:
        if d_rope:
            raise ValueError("d_rope belongs to MLA: give d_c too, or leave d_rope at 0")
        per_token = 2 * h * d_head
    else:
        _positive(d_c=d_c)
        per_token = d_c + d_rope
    return tokens * layers * per_token


#: DeepSeek-V2's attention as reported in its paper (DeepSeek-AI, 2024) and released configuration:
#: 60 layers, 128 heads of width 128, cached latent d_c = 512, decoupled RoPE key d_rope = 64.
DEEPSEEK_V2 = {"layers": 60, "h": 128, "d_head": 128, "d_c": 512, "d_rope": 64}


@dataclass
class MLAParams:
    """Weights of a small MLA layer (no RoPE part): W_Q (d_model, h·d_head); W_DKV (d_model, d_c)
    compresses a token into the cached latent; W_UK, W_UV (d_c, h·d_head) rebuild keys and values."""

    W_Q: NDArray[np.float64]
    W_DKV: NDArray[np.float64]
    W_UK: NDArray[np.float64]
    W_UV: NDArray[np.float64]
    h: int

    @property
    def d_head(self) -> int:
        return self.W_Q.shape[1] // self.h

    @property
    def d_c(self) -> int:
        return self.W_DKV.shape[1]


def make_mla_params(d_model: int, h: int, d_head: int, d_c: int, seed: int = 0) -> MLAParams:
    """Random MLA weights, scaled so that scores are of order 1."""
    _positive(d_model=d_model, h=h, d_head=d_head, d_c=d_c)
    rng = np.random.default_rng(seed)
    return MLAParams(
        W_Q=rng.normal(size=(d_model, h * d_head)) / np.sqrt(d_model),
        W_DKV=rng.normal(size=(d_model, d_c)) / np.sqrt(d_model),
        W_UK=rng.normal(size=(d_c, h * d_head)) / np.sqrt(d_c),
        W_UV=rng.normal(size=(d_c, h * d_head)) / np.sqrt(d_c),
        h=h,
    )


def mla_attention(X: NDArray, params: MLAParams, absorb: bool = False) -> tuple[NDArray, NDArray, NDArray]:
    """Causal multi-head latent attention over N tokens X (N, d_model).

    Returns (out (N, h·d_head), scores (h, N, N) before masking, cache (N, d_c)). The cache is
    all a decoder keeps per token. ``absorb=True`` scores the queries directly against the cached
    latents, folding W_UK into the queries (q · (c W_UK)ᵀ = (q W_UKᵀ) · cᵀ), as MLA does at
    inference: the same scores, still N × N per head.
    """
    X = np.asarray(X, dtype=float)
    N = X.shape[0]
    h, d_head = params.h, params.d_head
    c = X @ params.W_DKV  # (N, d_model) @ (d_model, d_c) -> (N, d_c): the cache
    q = (X @ params.W_Q).reshape(N, h, d_head).transpose(1, 0, 2)  # (h, N, d_head)
    v = (c @ params.W_UV).reshape(N, h, d_head).transpose(1, 0, 2)  # (h, N, d_head)
    if absorb:
        W_UK = params.W_UK.reshape(params.d_c, h, d_head).transpose(1, 0, 2)  # (h, d_c, d_head)
        q_latent = q @ W_UK.transpose(0, 2, 1)  # (h, N, d_head) @ (h, d_head, d_c) -> (h, N, d_c)
        scores = q_latent @ c.T / np.sqrt(d_head)  # (h, N, d_c) @ (d_c, N) -> (h, N, N)
    else:
        k = (c @ params.W_UK).reshape(N, h, d_head).transpose(1, 0, 2)  # (h, N, d_head)
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(d_head)  # (h, N, d_head) @ (h, d_head, N) -> (h, N, N)
    causal = np.tril(np.ones((N, N), dtype=bool))  # token i may attend to tokens 0..i
    weights = softmax(np.where(causal, scores, -np.inf), axis=-1)  # (h, N, N)
    out = weights @ v  # (h, N, N) @ (h, N, d_head) -> (h, N, d_head)
    return out.transpose(1, 0, 2).reshape(N, h * d_head), scores, c  # heads side by side: (N, h·d_head)
