"""The attention 'spotlight' (chapter 3): how wide a row of attention weights is, and what sets it.

A row of weights ``a = softmax(s)`` over n keys is a probability distribution. Its Shannon
entropy :func:`crossattn.entropy` measures how wide the spotlight is: 0 nats on one key,
``ln n`` spread evenly over all n. This module holds the experiments of chapter 3:

* temperature: :func:`softmax_with_temperature`, :func:`temperature_sweep`;
* focus and the score gap: :func:`score_gap`, :func:`top_weight_bounds`, :func:`focus_sweep`;
* the uniform cases: :func:`key_differences`, :func:`orthogonal_query`, :func:`uniform_query`;
* why √d: :func:`softmax_jacobian`, :func:`jacobian_norm`, :func:`query_jacobian`,
  :func:`query_gradient_norm`, :func:`random_attention_stats` (what reaches the query, with and
  without the √d), :func:`linear_init`, :func:`init_attention_stats` (the scores that PyTorch's
  default ``nn.Linear`` initialisation gives, sampled in NumPy), and :func:`train_retrieval`,
  which shows that training can still grow the scores after the √d.

Shapes follow the course notation: a query q is (d,), keys k are (n, d), scores are (..., n).
Nothing here re-implements the softmax or the entropy: both come from :mod:`crossattn.numerics`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .dot_product import attention_scores
from .numerics import _as_float_array, _check_axis, _positive_number, entropy, softmax

__all__ = [
    "softmax_with_temperature", "temperature_sweep", "effective_keys",
    "score_gap", "top_weight_bounds", "FocusSweep", "focus_sweep",
    "key_differences", "orthogonal_query", "uniform_query",
    "softmax_jacobian", "jacobian_norm", "query_jacobian", "query_gradient_norm",
    "SpotlightStats", "random_attention_stats", "linear_init", "InitStats", "init_attention_stats",
    "TrainingTrace", "train_retrieval",
]


def _query_and_keys(q: ArrayLike, k: ArrayLike) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """One query (d,) and keys (n, d) as float arrays, or a ValueError naming the shapes."""
    q_arr, k_arr = _as_float_array(q, "q"), _as_float_array(k, "k")
    if q_arr.ndim != 1:
        raise ValueError(f"q must be one query of shape (d,), got shape {q_arr.shape}")
    if k_arr.ndim != 2:
        raise ValueError(f"k must be keys of shape (n, d), got shape {k_arr.shape}")
    if k_arr.shape[1] != q_arr.shape[0]:
        raise ValueError(
            f"q and k must have the same width d: q has shape {q_arr.shape}, k has shape {k_arr.shape}"
        )
    return q_arr, k_arr


# --------------------------------------------------------------------------- temperature


def softmax_with_temperature(scores: ArrayLike, temperature: float = 1.0, axis: int = -1) -> NDArray[np.floating]:
    """``softmax(scores / temperature)`` along ``axis`` (chapter 3).

    Args:
        scores: array of shape (..., n).
        temperature: T > 0. Small T sharpens the weights towards the largest score (one-hot as
            T → 0 when that score is unique); large T flattens them (uniform as T → ∞).
        axis: the axis of the n keys.

    Returns:
        Weights of the same shape as ``scores`` that sum to 1 along ``axis``. The softmax is the
        stable :func:`crossattn.softmax`, so a tiny T does not overflow.
    """
    t = _positive_number(temperature, "temperature")
    return softmax(_as_float_array(scores, "scores") / t, axis=axis)


def temperature_sweep(scores: ArrayLike, temperatures: Sequence[float] | ArrayLike) -> NDArray[np.floating]:
    """Entropy in nats of ``softmax(scores / T)`` over the last axis, for each temperature T.

    Args:
        scores: array of shape (..., n).
        temperatures: t temperatures, each > 0.

    Returns:
        Array of shape (t, ...): row i is the entropy at ``temperatures[i]``. It never
        decreases as T grows (dH/dT = Var_a(s)/T³ ≥ 0) and lies between 0 and ln n.
    """
    temps = np.atleast_1d(_as_float_array(temperatures, "temperatures"))
    if temps.ndim != 1:
        raise ValueError(f"temperatures must be a 1-D sequence, got shape {temps.shape}")
    s = _as_float_array(scores, "scores")
    _check_axis(s, -1, "scores")
    return np.stack([entropy(softmax_with_temperature(s, t)) for t in temps])  # (t, ...)


def effective_keys(p: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """``exp(entropy)``: how many keys the spotlight covers (chapter 3).

    p: weights of shape (..., n). Returns shape (...). Exactly k when the weights are uniform
    over k of the n keys and 0 elsewhere; between 1 and n otherwise (the perplexity of p).
    """
    return np.exp(entropy(p, axis=axis))


# --------------------------------------------------------------------------- focus and the score gap


def score_gap(scores: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """Largest minus second-largest score along ``axis``.

    scores: (..., n) with n ≥ 2. Returns shape (...). The gap g bounds the top weight of the
    softmax (see :func:`top_weight_bounds`), whatever the other scores are.
    """
    s = _as_float_array(scores, "scores")
    _check_axis(s, axis, "scores")
    if s.shape[axis] < 2:
        raise ValueError(f"a score gap needs at least 2 keys along axis {axis}, got scores of shape {s.shape}")
    top_two = -np.sort(-s, axis=axis).take([0, 1], axis=axis)  # (..., 2, ...) largest first
    return top_two.take(0, axis=axis) - top_two.take(1, axis=axis)


def top_weight_bounds(gap: ArrayLike, n: int) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """Bounds on the largest softmax weight of n scores whose top two differ by ``gap``.

    With g = s_top − s_second ≥ 0, every other score is at most s_top − g, so

        1 / (1 + (n − 1)·e^(−g))  ≤  a_top  ≤  1 / (1 + e^(−g)).

    The lower bound is reached when the n − 1 others tie at s_top − g, the upper one when the
    n − 2 others are −∞. Both tend to 1 as g grows: focus is set by the gap alone.

    Args:
        gap: array of any shape, entries ≥ 0 (from :func:`score_gap`).
        n: number of keys, ≥ 2.

    Returns:
        ``(lower, upper)``, each of the shape of ``gap``.
    """
    g = _as_float_array(gap, "gap")
    if np.any(g < 0) or np.any(~np.isfinite(g)):
        raise ValueError("gap must be finite and ≥ 0 (largest minus second-largest score)")
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer ≥ 2 (the number of keys), got {n!r}")
    e = np.exp(-g)
    return 1.0 / (1.0 + (n - 1) * e), 1.0 / (1.0 + e)


@dataclass(frozen=True)
class FocusSweep:
    """What one query sees as its length grows (chapter 3, :func:`focus_sweep`).

    alphas:  (a,) multipliers of the query.
    weights: (a, n) attention weights of the query alpha·q.
    entropy: (a,) entropy of each row of ``weights``, in nats.
    gap:     (a,) largest minus second-largest score fed to the softmax.
    """

    alphas: NDArray[np.floating]
    weights: NDArray[np.floating]
    entropy: NDArray[np.floating]
    gap: NDArray[np.floating]


def focus_sweep(
    q: ArrayLike,
    k: ArrayLike,
    alphas: Sequence[float] | ArrayLike,
    temperature: float = 1.0,
    scale: float | None = None,
) -> FocusSweep:
    """Attention of the queries ``alpha·q`` to keys ``k``, for each alpha (chapter 3).

    The scores fed to the softmax are ``alpha · (k @ q) · scale / temperature``: multiplying
    the query by alpha is the same as dividing the temperature by alpha.

    Args:
        q: one query, shape (d,).
        k: keys, shape (n, d).
        alphas: a multipliers of the query (any real numbers).
        temperature: T > 0.
        scale: score multiplier, 1/√d by default (as in :func:`crossattn.attention`).

    Returns:
        A :class:`FocusSweep` with weights (a, n) and entropy and gap (a,).
    """
    q_arr, k_arr = _query_and_keys(q, k)
    a = np.atleast_1d(_as_float_array(alphas, "alphas"))
    if a.ndim != 1:
        raise ValueError(f"alphas must be a 1-D sequence, got shape {a.shape}")
    t = _positive_number(temperature, "temperature")
    base = attention_scores(q_arr[None, :], k_arr, scale)[0]  # (1, d) @ (d, n) -> (1, n) -> (n,)
    logits = a[:, None] * base[None, :] / t  # (a, 1) * (1, n) -> (a, n)
    weights = softmax(logits)  # (a, n)
    gap = score_gap(logits) if len(k_arr) >= 2 else np.zeros(len(a))  # (a,)
    return FocusSweep(alphas=a, weights=weights, entropy=entropy(weights), gap=gap)


# --------------------------------------------------------------------------- the uniform cases


def key_differences(k: ArrayLike) -> NDArray[np.floating]:
    """The differences ``k_j − k_0`` for j = 1..n−1: shape (n − 1, d) from keys of shape (n, d).

    All n scores q·k_j are equal exactly when q is orthogonal to every one of these rows, and
    equal scores are exactly what gives uniform weights (softmax ignores a common shift).
    """
    k_arr = _as_float_array(k, "k")
    if k_arr.ndim != 2 or k_arr.shape[0] < 1:
        raise ValueError(f"k must be keys of shape (n, d) with n ≥ 1, got shape {k_arr.shape}")
    return k_arr[1:] - k_arr[:1]  # (n - 1, d)


def orthogonal_query(vectors: ArrayLike, seed: int | None = 0, rtol: float = 1e-10) -> NDArray[np.floating]:
    """A unit vector orthogonal to every row of ``vectors`` (chapter 3).

    Args:
        vectors: array of shape (r, d); r may be 0.
        seed: picks one unit vector in the orthogonal complement when it has more than one
            dimension (the same seed gives the same vector).
        rtol: singular values below ``rtol`` times the largest count as zero.

    Returns:
        Array of shape (d,) with norm 1 and ``vectors @ result ≈ 0``.

    Raises:
        ValueError: when the rows span all d directions, so that only the zero vector is
            orthogonal to all of them (for r ≥ d rows in general position).
    """
    vecs = _as_float_array(vectors, "vectors")
    if vecs.ndim != 2 or vecs.shape[1] < 1:
        raise ValueError(f"vectors must have shape (r, d) with d ≥ 1, got shape {vecs.shape}")
    r, d = vecs.shape
    if r == 0:
        rank, basis = 0, np.eye(d)  # (d, d): every direction is free
    else:
        _, sing, vt = np.linalg.svd(vecs)  # vt: (d, d); rows beyond the rank span the null space
        top = sing.max() if sing.size else 0.0
        rank = int(np.sum(sing > rtol * top)) if top > 0 else 0
        basis = vt[rank:]  # (d - rank, d), orthonormal rows
    if rank == d:
        raise ValueError(
            f"the {r} vectors span all d={d} directions: no nonzero vector is orthogonal to all of them"
        )
    coef = np.random.default_rng(seed).normal(size=len(basis))  # (d - rank,)
    q = coef @ basis  # (d - rank,) @ (d - rank, d) -> (d,)
    return q / np.linalg.norm(q)


def uniform_query(k: ArrayLike, seed: int | None = 0) -> NDArray[np.floating]:
    """A nonzero (unit) query whose attention to keys ``k`` (n, d) is exactly uniform.

    It is orthogonal to every key *difference* (:func:`key_differences`), so all n scores are
    equal. Such a query exists when the n − 1 differences do not span all d directions:
    always when n ≤ d, and for any n when the keys are identical. Raises ValueError otherwise.
    """
    diffs = key_differences(k)  # (n - 1, d); a ValueError here names a bad shape of k
    try:
        return orthogonal_query(diffs, seed=seed)
    except ValueError as err:
        n, d = len(diffs) + 1, diffs.shape[1]
        raise ValueError(
            f"no nonzero query gives uniform weights over these {n} keys of width d={d}: "
            f"their differences span all {d} directions ({err})"
        ) from None


# --------------------------------------------------------------------------- why √d


def softmax_jacobian(p: ArrayLike) -> NDArray[np.floating]:
    """The Jacobian ``∂a/∂s = diag(a) − a aᵀ`` of ``a = softmax(s)``, from the weights a.

    p: weights of shape (..., n). Returns shape (..., n, n). It is 0 for a one-hot row (the
    softmax has saturated: small changes of the scores do not move the weights).
    """
    a = _as_float_array(p, "p")
    _check_axis(a, -1, "p")
    n = a.shape[-1]
    return a[..., :, None] * np.eye(n) - a[..., :, None] * a[..., None, :]  # (..., n, n)


def jacobian_norm(p: ArrayLike) -> NDArray[np.floating]:
    """Frobenius norm of :func:`softmax_jacobian`, without building the (n, n) matrices.

    p: weights of shape (..., n). Returns shape (...), from the closed form
    ``‖diag(a) − a aᵀ‖²_F = Σ a_i² − 2 Σ a_i³ + (Σ a_i²)²``.
    """
    a = _as_float_array(p, "p")
    _check_axis(a, -1, "p")
    s2, s3 = np.sum(a**2, axis=-1), np.sum(a**3, axis=-1)  # (...), (...)
    return np.sqrt(np.maximum(s2 - 2 * s3 + s2**2, 0.0))


def _weights_and_keys(p: ArrayLike, k: ArrayLike) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """Weights (..., n) and keys (..., n, d) whose n agree, or a ValueError naming both shapes."""
    a, keys = _as_float_array(p, "p"), _as_float_array(k, "k")
    _check_axis(a, -1, "p")
    if keys.ndim < 2 or keys.shape[-2] != a.shape[-1]:
        raise ValueError(
            f"k must be keys of shape (..., n, d) with the n={a.shape[-1]} of the weights p, "
            f"got p of shape {a.shape} and k of shape {keys.shape}"
        )
    return a, keys


def query_jacobian(p: ArrayLike, k: ArrayLike, scale: float) -> NDArray[np.floating]:
    """What reaches the query: ``∂a/∂q = (diag(a) − a aᵀ) · K · scale`` (chapter 3).

    With scores ``s = scale · K q`` and weights ``a = softmax(s)``, the chain rule multiplies
    the softmax Jacobian ∂a/∂s (:func:`softmax_jacobian`) by ∂s/∂q = scale · K. The softmax
    part shrinks when the weights saturate; the K part grows with the size of the keys. Which
    wins is what chapter 3 measures.

    Args:
        p: weights of shape (..., n), e.g. (m, n) for m queries.
        k: keys of shape (n, d), or (..., n, d) broadcastable against p's leading axes with an
            axis for the queries, e.g. (trials, 1, n, d) for p of shape (trials, m, n).
        scale: the factor of the scores (1/√d for scaled attention, 1 without it).

    Returns:
        Array of shape (..., n, d): row i holds ∂a_i/∂q.
    """
    a, keys = _weights_and_keys(p, k)
    return softmax_jacobian(a) @ keys * float(scale)  # (..., n, n) @ (..., n, d) -> (..., n, d)


def query_gradient_norm(p: ArrayLike, k: ArrayLike, scale: float) -> NDArray[np.floating]:
    """Frobenius norm of :func:`query_jacobian`, without building the (n, d) matrices.

    Uses ``‖J K‖²_F = Σ (J G) ⊙ J`` with J = diag(a) − a aᵀ (symmetric) and the Gram matrix
    G = K Kᵀ, so the cost does not grow with d.

    Args:
        p: weights of shape (..., n).
        k: keys (n, d) or (..., n, d), as for :func:`query_jacobian`.
        scale: the factor of the scores.

    Returns:
        Array of shape (...): one norm per row of weights.
    """
    a, keys = _weights_and_keys(p, k)
    jac = softmax_jacobian(a)  # (..., n, n)
    gram = keys @ np.swapaxes(keys, -1, -2)  # (..., n, d) @ (..., d, n) -> (..., n, n)
    sq = np.sum((jac @ gram) * jac, axis=(-2, -1))  # (...)
    return np.sqrt(np.maximum(sq, 0.0)) * abs(float(scale))


@dataclass(frozen=True)
class SpotlightStats:
    """Random queries reading random keys (chapter 3, :func:`random_attention_stats`).

    entropy:        mean entropy of a query's weights, in nats (at most ln n).
    jacobian_norm:  mean Frobenius norm of the softmax Jacobian ∂a/∂s at those weights.
    score_std:      standard deviation of the scores fed to the softmax.
    query_gradient: (trials · queries,) the Frobenius norm of ∂a/∂q for every query, what
                    reaches the query (:func:`query_gradient_norm`); its mean, median and tail
                    tell different stories when the scores are not scaled.
    top_gap:        (trials · queries,) the gap between each query's two largest scores, in
                    the same order as query_gradient: near-ties (small gaps) are the queries
                    whose gradient is large when the softmax has saturated.
    """

    entropy: float
    jacobian_norm: float
    score_std: float
    query_gradient: NDArray[np.floating]
    top_gap: NDArray[np.floating]


def random_attention_stats(
    d: int, n: int = 16, scaled: bool = True, queries: int = 32, trials: int = 16, seed: int = 0
) -> SpotlightStats:
    """Attention of random queries to random keys with independent N(0, 1) entries.

    Args:
        d: query/key width.
        n: number of keys.
        scaled: divide the scores by √d (True) or not (False).
        queries: queries per trial (m).
        trials: independent sets of n keys.
        seed: seed of the random numbers.

    Returns:
        :class:`SpotlightStats`. Unscaled, the scores have variance d, so as d grows the
        softmax saturates: the entropy and the softmax Jacobian fall towards 0 for most
        queries, while the few queries whose two best scores nearly tie get a gradient ∂a/∂q
        that grows like √d. Scaled, the scores have variance 1 for every d, and none of these
        depends on d.
    """
    for name, val in (("d", d), ("n", n), ("queries", queries), ("trials", trials)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if n < 2:
        raise ValueError(f"n must be at least 2 (a score gap needs two keys), got {n}")
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(trials, queries, d))  # (trials, m, d)
    k = rng.normal(size=(trials, n, d))  # (trials, n, d)
    scale = 1.0 / np.sqrt(d) if scaled else 1.0
    s = attention_scores(q, k, scale=scale)  # (trials, m, n)
    a = softmax(s)  # (trials, m, n)
    grad_q = query_gradient_norm(a, k[:, None], scale)  # (trials, m) with keys (trials, 1, n, d)
    return SpotlightStats(
        entropy=float(entropy(a).mean()),
        jacobian_norm=float(jacobian_norm(a).mean()),
        score_std=float(s.std()),
        query_gradient=grad_q.ravel(),  # (trials · m,)
        top_gap=score_gap(s).ravel(),  # (trials, m) -> (trials · m,)
    )


# --------------------------------------------------------------------------- the scores at initialisation


def linear_init(fan_in: int, fan_out: int, rng: np.random.Generator) -> NDArray[np.floating]:
    """A weight matrix drawn as PyTorch's ``nn.Linear`` draws it by default, in NumPy.

    ``nn.Linear(fan_in, fan_out)`` initialises its weight with ``kaiming_uniform_(a=√5)``,
    which is the uniform distribution on [−1/√fan_in, 1/√fan_in]: variance 1/(3·fan_in).
    (tests/nn checks that torch still does so.) A row x with unit-variance entries then gives
    ``x @ W`` entries of variance 1/3, not 1.

    Args:
        fan_in: input width.
        fan_out: output width.
        rng: a NumPy random generator.

    Returns:
        Array of shape (fan_in, fan_out), used as ``x @ W`` (torch stores the transpose).
    """
    for name, val in (("fan_in", fan_in), ("fan_out", fan_out)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=(int(fan_in), int(fan_out)))  # (fan_in, fan_out)


@dataclass(frozen=True)
class InitStats:
    """A freshly initialised self-attention layer (chapter 3, :func:`init_attention_stats`).

    query_var:     variance of the entries of the queries x W_Q.
    score_std:     standard deviation of the scaled scores q·k/√d (d = d_model/h per head).
    entropy_ratio: mean entropy of the weights divided by ln n (1 = uniform).
    """

    query_var: float
    score_std: float
    entropy_ratio: float


def init_attention_stats(
    d_model: int = 32, h: int = 2, n: int = 8, batch: int = 256, init: str = "linear", seed: int = 0
) -> InitStats:
    """Scores and weights of one self-attention layer right after initialisation, in NumPy.

    The inputs are what a pre-norm layer feeds its attention: rows normalised to mean 0 and
    variance 1 over their d_model entries (LayerNorm without its gain and bias, which start at
    1 and 0). W_Q and W_K (d_model, d_model) are drawn independently; each of the h heads has
    width d = d_model/h and scores q·k/√d.

    Args:
        d_model: model width (chapter 4's model uses 32).
        h: heads (chapter 4's model uses 2).
        n: tokens per sequence.
        batch: sequences.
        init: ``"linear"`` draws W as PyTorch's ``nn.Linear`` does by default (:func:`linear_init`,
            variance 1/(3·d_model)); ``"unit"`` draws N(0, 1/d_model) entries, which give the
            unit-variance queries and keys that the √d argument assumes.
        seed: seed of the random numbers.

    Returns:
        :class:`InitStats`. With ``"linear"``, queries have variance about 1/3 and the scaled
        scores a standard deviation about 1/3 (two factors of 1/3 under a square root), so the
        weights are close to uniform.
    """
    for name, val in (("d_model", d_model), ("h", h), ("n", n), ("batch", batch)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if d_model % h:
        raise ValueError(f"d_model={d_model} is not divisible by h={h}")
    if n < 2:
        raise ValueError(f"n must be at least 2 (the entropy ratio divides by ln n), got {n}")
    if init not in ("linear", "unit"):
        raise ValueError(f"init must be 'linear' or 'unit', got {init!r}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, n, d_model))  # (B, n, d_model)
    x = (x - x.mean(axis=-1, keepdims=True)) / x.std(axis=-1, keepdims=True)  # LayerNorm, (B, n, d_model)
    if init == "linear":
        w_q, w_k = linear_init(d_model, d_model, rng), linear_init(d_model, d_model, rng)
    else:
        w_q, w_k = rng.normal(scale=d_model**-0.5, size=(2, d_model, d_model))  # (d_model, d_model) each
    d = d_model // h
    q = (x @ w_q).reshape(batch, n, h, d).transpose(0, 2, 1, 3)  # (B, n, d_model) -> (B, h, n, d)
    k = (x @ w_k).reshape(batch, n, h, d).transpose(0, 2, 1, 3)  # (B, h, n, d)
    s = attention_scores(q, k)  # (B, h, n, d) @ (B, h, d, n) / √d -> (B, h, n, n)
    a = softmax(s)  # (B, h, n, n)
    return InitStats(
        query_var=float(q.var()),
        score_std=float(s.std()),
        entropy_ratio=float(entropy(a).mean() / np.log(n)),
    )


@dataclass(frozen=True)
class TrainingTrace:
    """What happens to scaled attention while it is trained (chapter 3, :func:`train_retrieval`).

    Each field has shape (steps + 1,): the value before step 0, 1, ..., steps.
    loss:      mean cross-entropy of the target keys' weights.
    entropy:   mean entropy of the queries' weights, in nats.
    score_std: standard deviation of the scaled scores X W_Q Kᵀ/√d.
    w_norm:    Frobenius norm of W_Q.
    jacobian:  mean Frobenius norm of the softmax Jacobian ∂a/∂s over the queries.
    """

    loss: NDArray[np.floating]
    entropy: NDArray[np.floating]
    score_std: NDArray[np.floating]
    w_norm: NDArray[np.floating]
    jacobian: NDArray[np.floating]


def train_retrieval(
    d: int = 16, n: int = 8, m: int = 32, steps: int = 1000, lr: float = 2.0, seed: int = 0,
    smoothing: float = 0.0,
) -> TrainingTrace:
    """Train W_Q by gradient descent so that each of m queries attends to its own target key.

    Queries ``X W_Q`` (X: (m, d), W_Q: (d, d), started with N(0, 1/d) entries so that the
    queries have unit-variance entries) read n fixed random keys K (n, d); the scores are
    scaled by 1/√d as usual. The loss is the mean cross-entropy between each query's weights
    and its target distribution: one-hot on the target key t_i when ``smoothing`` is 0 (the loss
    is then the mean of −ln A[i, t_i]), or ``(1 − ε)·one_hot + ε/n`` with ε = ``smoothing``.

    With one-hot targets that can all be met, the loss keeps falling only by making the scores
    larger: the √d keeps the *starting* scores at variance ~1, but nothing in it keeps the
    trained scores there, and the entropy falls towards 0 (for this task one-hot attention is
    the right answer). With ε > 0 the best weights are the target itself, reached at finite
    scores: the scores stop growing and the entropy stays above the target's. That run is the
    control of chapter 3's experiment.

    Args:
        d, n, m: width, keys, queries.
        steps: gradient steps (plain gradient descent, no momentum).
        lr: learning rate > 0.
        seed: seed of X, K, W_Q and the targets.
        smoothing: ε in [0, 1).

    Returns:
        A :class:`TrainingTrace` with arrays of shape (steps + 1,).
    """
    for name, val in (("d", d), ("n", n), ("m", m)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be an integer ≥ 0, got {steps!r}")
    lr = _positive_number(lr, "lr")
    if not 0.0 <= float(smoothing) < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, d))  # (m, d) target states
    k = rng.normal(size=(n, d))  # (n, d) keys, fixed
    w_q = rng.normal(size=(d, d)) / np.sqrt(d)  # (d, d)
    target = rng.integers(0, n, size=m)  # (m,) the key each query should read
    goal = (1.0 - smoothing) * np.eye(n)[target] + smoothing / n  # (m, n) target distributions
    loss, ent, std, norm, jac = (np.empty(steps + 1) for _ in range(5))
    for step in range(steps + 1):
        s = attention_scores(x @ w_q, k)  # (m, d) @ (d, n) / √d -> (m, n)
        a = softmax(s)  # (m, n)
        log_a = np.log(np.maximum(a, np.finfo(float).tiny))  # (m, n), finite where a underflows
        loss[step] = -np.mean(np.sum(goal * log_a, axis=-1))
        ent[step] = float(entropy(a).mean())
        std[step] = float(s.std())
        norm[step] = float(np.linalg.norm(w_q))
        jac[step] = float(jacobian_norm(a).mean())
        if step < steps:
            grad_s = (a - goal) / m  # (m, n): d loss / d scores
            w_q -= lr * x.T @ grad_s @ k / np.sqrt(d)  # (d, m) @ (m, n) @ (n, d) -> (d, d)
    return TrainingTrace(loss=loss, entropy=ent, score_std=std, w_norm=norm, jacobian=jac)
