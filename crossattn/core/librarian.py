"""The toy librarian of chapter 1: a query vector reads a shelf of labelled books.

Each book has a 2-D *key* (the label on its spine, drawn as an arrow in the plane) and a
*value* (its contents, here a colour, so that a blend of contents can be seen). A reader's
query is a 2-D vector; the librarian scores every key by a dot product, turns the scores into
weights with a softmax and hands back the weighted blend of the values.

Nothing here is specific to two dimensions: the same three steps are :func:`crossattn.attention`
with m = 1 query. The drawing and the widget are in :mod:`crossattn.viz.librarian`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .numerics import softmax

__all__ = ["Shelf", "default_shelf", "query_at", "read_shelf", "weight_text"]


@dataclass
class Shelf:
    """A small library.

    titles: n book labels.
    keys:   (n, 2) spine labels as vectors in the plane.
    values: (n, 3) contents as RGB colours in [0, 1].
    colour_names: n words naming the colours, for text (e.g. "red"); optional.
    """

    titles: list[str]
    keys: NDArray[np.floating]
    values: NDArray[np.floating]
    value_names: list[str] = field(default_factory=lambda: ["red", "green", "blue"])
    colour_names: list[str] | None = None

    def __post_init__(self) -> None:
        self.keys = np.asarray(self.keys, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        n = len(self.titles)
        if self.keys.shape != (n, 2):
            raise ValueError(f"keys must have shape (n, 2) = ({n}, 2) for {n} titles, got {self.keys.shape}")
        if self.values.ndim != 2 or self.values.shape[0] != n:
            raise ValueError(f"values must have shape (n, d_v) with n={n}, got {self.values.shape}")
        if self.colour_names is not None and len(self.colour_names) != n:
            raise ValueError(f"{len(self.colour_names)} colour names for {n} titles")


def default_shelf() -> Shelf:
    """Four books: unit-length spines at 20°, 80°, 150° and 260°; contents red, yellow, green and blue."""
    angles = np.deg2rad([20.0, 80.0, 150.0, 260.0])
    keys = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (4, 2), unit length
    values = np.array([
        [0.85, 0.20, 0.15],  # cookery: red
        [0.95, 0.75, 0.10],  # gardening: yellow
        [0.20, 0.55, 0.25],  # botany: green
        [0.15, 0.30, 0.80],  # astronomy: blue
    ])
    return Shelf(["cookery", "gardening", "botany", "astronomy"], keys, values,
                 colour_names=["red", "yellow", "green", "blue"])


def query_at(angle_deg: float, length: float) -> NDArray[np.floating]:
    """The query vector of shape (2,) at ``angle_deg`` degrees with the given length."""
    a = np.deg2rad(angle_deg)
    return length * np.array([np.cos(a), np.sin(a)])


def read_shelf(query: NDArray[np.floating], shelf: Shelf) -> tuple[NDArray, NDArray, NDArray]:
    """The librarian's three steps for one query of shape (2,).

    Returns:
        scores (n,) = keys · query; weights (n,) = softmax(scores); retrieved (d_v,) = weights @ values.
    """
    q = np.asarray(query, dtype=float)
    if q.shape != (2,):
        raise ValueError(f"query must have shape (2,), got {q.shape}")
    scores = shelf.keys @ q  # (n, 2) @ (2,) -> (n,)
    weights = softmax(scores)  # (n,)
    return scores, weights, weights @ shelf.values  # (n,) @ (n, 3) -> (3,)


def weight_text(weight: float) -> str:
    """A weight for a label: two decimals, or "<0.01" for a weight that would round to 0.00.

    A softmax weight is never 0 for a finite score; printing "0.00" would suggest it is.
    """
    return f"{weight:.2f}" if weight >= 0.005 else "<0.01"
