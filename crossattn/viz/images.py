"""Drawing attention over an image (chapter 8): a patch grid with one weight map on top."""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["overlay_weights"]


def overlay_weights(ax, image: NDArray, weights: NDArray | None, p: int, title: str | None = None,
                    alpha: float = 0.5, fontsize: float = 11) -> None:
    """Draw ``image`` (H, W, 3) with its patch grid and, if given, one patch-weight map (P,) on top.

    Each patch is tinted white in proportion to its weight (the largest weight most strongly), so
    a patch the query reads lights up while the shape in it stays visible; ``weights=None`` draws
    the image and the grid only.
    """
    image = np.asarray(image, dtype=float)
    H, W, _ = image.shape
    grid_h, grid_w = H // p, W // p
    ax.imshow(image, interpolation="nearest")
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != (grid_h * grid_w,):
            raise ValueError(f"weights must have one entry per patch, shape ({grid_h * grid_w},), got {w.shape}")
        heat = np.kron(w.reshape(grid_h, grid_w) / max(w.max(), 1e-12), np.ones((p, p)))  # (H, W), row-major patches
        white = np.ones((H, W, 4))
        white[..., 3] = alpha * heat  # transparency follows the weight
        ax.imshow(white, interpolation="nearest")
    for k in range(1, grid_w):
        ax.axvline(k * p - 0.5, color="0.55", lw=0.6)
    for k in range(1, grid_h):
        ax.axhline(k * p - 0.5, color="0.55", lw=0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)
