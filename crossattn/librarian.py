"""The toy librarian of chapter 1: a query vector reads a shelf of labelled books.

Each book has a 2-D *key* (the label on its spine, drawn as an arrow in the plane) and a
*value* (its contents, here a colour, so that a blend of contents can be seen). A reader's
query is a 2-D vector; the librarian scores every key by a dot product, turns the scores into
weights with a softmax and hands back the weighted blend of the values.

Nothing here is specific to two dimensions except the drawing: the same three steps are
:func:`crossattn.attention` with m = 1 query.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from .numerics import softmax
from .widgets import CourseWidget

__all__ = ["Shelf", "default_shelf", "query_at", "read_shelf", "draw_reading", "librarian_figure", "LibrarianWidget"]


@dataclass
class Shelf:
    """A small library.

    titles: n book labels.
    keys:   (n, 2) spine labels as vectors in the plane.
    values: (n, 3) contents as RGB colours in [0, 1].
    """

    titles: list[str]
    keys: NDArray[np.floating]
    values: NDArray[np.floating]
    value_names: list[str] = field(default_factory=lambda: ["red", "green", "blue"])

    def __post_init__(self) -> None:
        self.keys = np.asarray(self.keys, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        n = len(self.titles)
        if self.keys.shape != (n, 2):
            raise ValueError(f"keys must have shape (n, 2) = ({n}, 2) for {n} titles, got {self.keys.shape}")
        if self.values.ndim != 2 or self.values.shape[0] != n:
            raise ValueError(f"values must have shape (n, d_v) with n={n}, got {self.values.shape}")


def default_shelf() -> Shelf:
    """Four books whose spines point in four directions, each with a colour for contents."""
    angles = np.deg2rad([20.0, 80.0, 150.0, 260.0])
    keys = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (4, 2), unit length
    values = np.array([
        [0.85, 0.20, 0.15],  # cookery: red
        [0.95, 0.75, 0.10],  # gardening: yellow
        [0.20, 0.55, 0.25],  # botany: green
        [0.15, 0.30, 0.80],  # astronomy: blue
    ])
    return Shelf(["cookery", "gardening", "botany", "astronomy"], keys, values)


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


def draw_reading(query: NDArray[np.floating], shelf: Shelf, axes: tuple | None = None) -> tuple:
    """Draw one reading: keys and query in the plane, the weights as bars, the retrieved colour.

    Returns the three axes (plane, weights, retrieved value).
    """
    scores, weights, retrieved = read_shelf(query, shelf)
    if axes is None:
        fig, row = plt.subplots(1, 3, figsize=(9, 3), gridspec_kw={"width_ratios": [1.2, 1.5, 0.6]})
        axes = tuple(row)
    plane, bars, swatch = axes
    lim = 1.5  # the plane's scale is set by the unit-length spines, whatever the query's length
    for key, title, colour in zip(shelf.keys, shelf.titles, shelf.values):
        plane.annotate("", xy=key, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=colour, lw=2))
        plane.text(*(1.2 * key), title, ha="center", va="center", fontsize=8)
    q = np.asarray(query, dtype=float)
    length = float(np.linalg.norm(q))
    if length > 0:
        # A long query is drawn shortened to fit; its label states the true length.
        tip = q if length <= 1.0 else q / length
        plane.annotate("", xy=tip, xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color="black", lw=2.5))
        side = np.array([-tip[1], tip[0]]) / max(np.linalg.norm(tip), 1e-9)  # perpendicular: keeps clear of the spine labels
        plane.text(*(0.5 * tip + 0.32 * side), f"query\n(length {length:g})", fontsize=7, weight="bold",
                   ha="center", va="center")
    else:
        plane.plot(0, 0, "ko")
        plane.text(0.08, -0.25, "query = 0", fontsize=7, weight="bold")
    plane.set_xlim(-lim, lim)
    plane.set_ylim(-lim, lim)
    plane.set_aspect("equal")
    plane.set_xticks([])
    plane.set_yticks([])
    plane.set_title("keys (spines) and the query", fontsize=9)
    bars.bar(range(len(weights)), weights, color=shelf.values)
    bars.set_xticks(range(len(weights)), shelf.titles, rotation=30, fontsize=8)
    bars.set_ylim(0, 1)
    bars.set_title("weights = softmax(keys · query)", fontsize=9)
    swatch.imshow(retrieved.reshape(1, 1, -1).clip(0, 1))
    swatch.set_xticks([])
    swatch.set_yticks([])
    swatch.set_title("retrieved value (blend)", fontsize=9)
    return plane, bars, swatch


def librarian_figure(settings: list[tuple[float, float]] | None = None, shelf: Shelf | None = None) -> Figure:
    """Static version of :class:`LibrarianWidget`: one row per (angle in degrees, length) setting."""
    shelf = default_shelf() if shelf is None else shelf
    settings = [(20.0, 1.0), (50.0, 1.0), (50.0, 6.0), (200.0, 0.0)] if settings is None else settings
    fig, grid = plt.subplots(len(settings), 3, figsize=(9, 2.8 * len(settings)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.2, 1.5, 0.6]})
    for row, (angle, length) in zip(grid, settings):
        draw_reading(query_at(angle, length), shelf, axes=tuple(row))
        row[0].set_title(f"query: angle {angle:g}°, length {length:g}", fontsize=9)
    fig.tight_layout()
    return fig


class LibrarianWidget(CourseWidget):
    """A live librarian: sliders move the query; the weights and retrieved colour follow.

    Sliders ``angle`` (degrees) and ``length``; ``readout`` states the weights and the
    retrieved value. Works with ipywidgets 7.7 (Colab) and 8 (see :mod:`crossattn.widgets`).
    """

    def __init__(self, shelf: Shelf | None = None, angle: float = 50.0, length: float = 1.0) -> None:
        import ipywidgets as widgets

        self.shelf = default_shelf() if shelf is None else shelf
        self.angle = widgets.FloatSlider(value=angle, min=0.0, max=360.0, step=5.0, description="angle (°)")
        self.length = widgets.FloatSlider(value=length, min=0.0, max=8.0, step=0.25, description="length")
        self._build([self.angle, self.length])

    def _update(self, _change: object = None) -> None:
        query = query_at(self.angle.value, self.length.value)
        _, weights, retrieved = read_shelf(query, self.shelf)
        cells = "".join(f"<td>{t}: <b>{w:.2f}</b></td>" for t, w in zip(self.shelf.titles, weights))
        rgb = ", ".join(f"{c:.2f}" for c in retrieved)
        self.readout.value = f"<table><tr>{cells}</tr></table>retrieved value (RGB): [{rgb}]"
        plane, _, _ = draw_reading(query, self.shelf)
        self._show_figure(plane.figure)
