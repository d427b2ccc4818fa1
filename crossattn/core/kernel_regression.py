"""Attention as kernel regression (chapter 3): the Nadaraya–Watson estimator is softmax attention.

Given n observed pairs (x_j, y_j), the Nadaraya–Watson estimate of E[Y | X = x] with a Gaussian
kernel κ_λ(u) = exp(−‖u‖²/(2λ²)) of bandwidth λ is a weighted mean of the y_j, with weights

    a_j(x) = softmax_j( −‖x − x_j‖² / (2λ²) ),

that is attention with the query x, the keys x_j and the values y_j. Writing the score as
``−‖x − x_j‖²/2`` divided by a temperature T, the temperature is T = λ²: the bandwidth plays the
role of the temperature. (Statistics books write the bandwidth h and the kernel K; the course keeps
h for the number of heads and K for the key matrix, hence λ and κ.)

:func:`kernel_as_attention` gives queries and keys for which :func:`crossattn.attention`
computes exactly this estimate with dot products.

Shapes: queries x (m,) or (m, p); keys x_j (n,) or (n, p); values y (n,) or (n, d_v).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .numerics import _as_float_array, _positive_number, softmax

__all__ = [
    "gaussian_kernel_scores", "nadaraya_watson", "kernel_as_attention",
    "joint_gaussian", "gaussian_conditional_variance", "variance_removed", "bandwidth_sweep",
]


def _points(x: ArrayLike, name: str) -> NDArray[np.floating]:
    """Points as an (r, p) array: a 1-D array of r numbers becomes (r, 1)."""
    arr = _as_float_array(x, name)
    if arr.ndim == 1:
        return arr[:, None]  # (r,) -> (r, 1)
    if arr.ndim == 2:
        return arr
    raise ValueError(f"{name} must have shape (r,) or (r, p), got shape {arr.shape}")


def _bandwidth(bandwidth: float) -> float:
    """The bandwidth λ as a float, or a ValueError when it is not a finite number > 0."""
    return _positive_number(bandwidth, "bandwidth")


def gaussian_kernel_scores(x_query: ArrayLike, x_keys: ArrayLike, bandwidth: float) -> NDArray[np.floating]:
    """Scores ``−‖x_i − x_j‖² / (2λ²)`` of shape (m, n) (chapter 3).

    Args:
        x_query: m query points, shape (m,) or (m, p).
        x_keys: n observed points, shape (n,) or (n, p), with the same p.
        bandwidth: λ > 0, the distance over which the weight falls off.

    Returns:
        Array (m, n). ``softmax`` of a row gives the Gaussian-kernel weights of that query.
    """
    xq, xk = _points(x_query, "x_query"), _points(x_keys, "x_keys")
    if xq.shape[1] != xk.shape[1]:
        raise ValueError(
            f"x_query and x_keys must have the same number of coordinates p: "
            f"x_query has shape {np.shape(x_query)}, x_keys has shape {np.shape(x_keys)}"
        )
    lam = _bandwidth(bandwidth)
    sq_dist = np.zeros((len(xq), len(xk)))  # (m, n)
    for c in range(xq.shape[1]):  # one coordinate at a time: no (m, n, p) temporary
        sq_dist += (xq[:, c, None] - xk[None, :, c]) ** 2  # (m, 1) - (1, n) -> (m, n)
    return -sq_dist / (2.0 * lam**2)  # (m, n)


def nadaraya_watson(
    x_query: ArrayLike, x_keys: ArrayLike, y_keys: ArrayLike, bandwidth: float
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """The Nadaraya–Watson estimate with a Gaussian kernel, computed as softmax attention.

    Args:
        x_query: m query points, shape (m,) or (m, p).
        x_keys: n observed inputs, shape (n,) or (n, p).
        y_keys: n observed outputs (the values), shape (n,) or (n, d_v).
        bandwidth: λ > 0. As λ → 0 the estimate becomes the y of the nearest x_j (the stable
            softmax keeps this finite); as λ → ∞ it becomes the plain mean of y.

    Returns:
        ``(prediction, weights)``: prediction of shape (m,) or (m, d_v), weights (m, n) whose
        rows sum to 1.
    """
    y = _as_float_array(y_keys, "y_keys")
    n = _points(x_keys, "x_keys").shape[0]
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(
            f"y_keys must have shape (n,) or (n, d_v) with n={n} (one value per key), got shape {y.shape}"
        )
    weights = softmax(gaussian_kernel_scores(x_query, x_keys, bandwidth))  # (m, n)
    return weights @ y, weights  # (m, n) @ (n,) -> (m,)  or  (m, n) @ (n, d_v) -> (m, d_v)


def kernel_as_attention(
    x_query: ArrayLike, x_keys: ArrayLike, bandwidth: float
) -> tuple[NDArray[np.floating], NDArray[np.floating], float]:
    """Queries, keys and scale for which dot-product attention is the Gaussian-kernel estimate.

    Expanding ``−‖x − x_j‖²/(2λ²) = (x·x_j − ‖x_j‖²/2)/λ² − ‖x‖²/(2λ²)`` and dropping the last
    term, which is the same for every key of a query (softmax ignores it), gives

        q = [x, 1],   k_j = [x_j, −‖x_j‖²/2],   scale = 1/λ².

    Returns:
        ``(q, k, scale)`` with q of shape (m, p + 1) and k of shape (n, p + 1), so that
        ``crossattn.attention(q, k, y, scale=scale)`` equals :func:`nadaraya_watson`.
    """
    xq, xk = _points(x_query, "x_query"), _points(x_keys, "x_keys")
    if xq.shape[1] != xk.shape[1]:
        raise ValueError(f"x_query and x_keys must have the same number of coordinates: {xq.shape}, {xk.shape}")
    lam = _bandwidth(bandwidth)
    q = np.concatenate([xq, np.ones((len(xq), 1))], axis=1)  # (m, p) -> (m, p + 1)
    k = np.concatenate([xk, -0.5 * np.sum(xk**2, axis=1, keepdims=True)], axis=1)  # (n, p) -> (n, p + 1)
    return q, k, 1.0 / lam**2


def joint_gaussian(n: int, rho: float, seed: int = 0, var_y: float = 1.0) -> tuple[NDArray, NDArray]:
    """n draws of a jointly Gaussian pair (X, Y) with correlation rho (chapter 3).

    X ~ N(0, 1) and Y = σ_Y·(ρ X + √(1 − ρ²) Z) with Z ~ N(0, 1) independent, σ_Y² = var_y. Then
    E[Y | X] = σ_Y ρ X and Var(Y | X) = (1 − ρ²)·var_y for every X.

    Returns:
        ``(x, y)``, each of shape (n,). The same seed gives the same draws.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not -1.0 <= float(rho) <= 1.0:
        raise ValueError(f"rho must be a correlation in [-1, 1], got {rho!r}")
    if not float(var_y) > 0:
        raise ValueError(f"var_y must be > 0, got {var_y!r}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=int(n))  # (n,)
    z = rng.normal(size=int(n))  # (n,)
    y = np.sqrt(var_y) * (rho * x + np.sqrt(1.0 - rho**2) * z)  # (n,)
    return x, y


def gaussian_conditional_variance(rho: ArrayLike, var_y: float = 1.0) -> NDArray[np.floating]:
    """``(1 − ρ²)·Var(Y)``: Var(Y | X) when (X, Y) are jointly Gaussian with correlation ρ.

    For jointly Gaussian variables it does not depend on the value of X. For other
    distributions, ρ² is the share of Var(Y) that the best *linear* predictor removes, not the
    best predictor (chapter 3 shows Y = X² + noise, where ρ = 0).
    """
    r = _as_float_array(rho, "rho")
    if np.any(np.abs(r) > 1):
        raise ValueError("rho must lie in [-1, 1]")
    return (1.0 - r**2) * float(var_y)


def variance_removed(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of the variance of ``y_true`` that the predictions remove: ``1 − MSE / Var(y)``.

    y_true, y_pred: shape (r,). 1 means perfect predictions; 0 is what predicting the mean gives.
    Measure it on held-out data: on the training points themselves a tiny bandwidth scores 1.
    """
    yt, yp = _as_float_array(y_true, "y_true"), _as_float_array(y_pred, "y_pred")
    if yt.shape != yp.shape or yt.ndim != 1 or yt.size < 2:
        raise ValueError(f"y_true and y_pred must have the same shape (r,) with r ≥ 2, got {yt.shape} and {yp.shape}")
    var = float(yt.var())
    if var == 0:
        raise ValueError("y_true is constant: there is no variance to remove")
    return 1.0 - float(np.mean((yt - yp) ** 2)) / var


def bandwidth_sweep(
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_test: ArrayLike,
    y_test: ArrayLike,
    bandwidths: Sequence[float] | ArrayLike,
) -> NDArray[np.floating]:
    """Held-out mean squared error of :func:`nadaraya_watson` for each bandwidth (chapter 3).

    Args:
        x_train, y_train: n training pairs, shapes (n,) and (n,).
        x_test, y_test: m held-out pairs, shapes (m,) and (m,).
        bandwidths: b bandwidths λ, each > 0.

    Returns:
        Array (b,). Too small a bandwidth copies the noise of the nearest training point; too
        large a bandwidth averages everything into the mean: both raise the error.
    """
    yt = _as_float_array(y_test, "y_test")
    lams = np.atleast_1d(_as_float_array(bandwidths, "bandwidths"))
    if lams.ndim != 1:
        raise ValueError(f"bandwidths must be a 1-D sequence, got shape {lams.shape}")
    errors = []
    for lam in lams:
        pred, _ = nadaraya_watson(x_test, x_train, y_train, lam)  # (m,)
        if pred.shape != yt.shape:
            raise ValueError(f"y_test has shape {yt.shape} but the predictions have shape {pred.shape}")
        errors.append(float(np.mean((yt - pred) ** 2)))
    return np.array(errors)  # (b,)
