"""The toy librarian of chapter 1, drawn: the plane of keys and query, the weights, the blend.

The numbers come from :mod:`crossattn.core.librarian`; this module draws them
(:func:`draw_reading`, :func:`librarian_figure`) and makes them live (:class:`LibrarianWidget`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from ..core.librarian import Shelf, default_shelf, query_at, read_shelf, weight_text
from .widgets import CourseWidget

__all__ = ["draw_reading", "librarian_figure", "LibrarianWidget", "PLANE_LIM"]


PLANE_LIM = 1.5  # the plane shows [-1.5, 1.5]^2: room for the unit-length spines and their labels


def _label_box(centre: NDArray, text: str, fontsize: float, per_point: float) -> NDArray:
    """Approximate box (x0, y0, x1, y1) in data units of ``text`` centred at ``centre``."""
    lines = text.split("\n")
    half_w = 0.5 * max(len(line) for line in lines) * 0.62 * fontsize * per_point
    half_h = 0.5 * len(lines) * 1.25 * fontsize * per_point
    return np.array([centre[0] - half_w, centre[1] - half_h, centre[0] + half_w, centre[1] + half_h])


def _clearance(box: NDArray, boxes: list[NDArray], points: NDArray, lim: float) -> float:
    """Distance from ``box`` to the nearest other box or point; negative when it leaves the frame."""
    inside = min(box[0] + lim, box[1] + lim, lim - box[2], lim - box[3])
    if inside < 0.02:
        return inside - 1.0
    gaps = [np.hypot(max(b[0] - box[2], box[0] - b[2], 0.0), max(b[1] - box[3], box[1] - b[3], 0.0)) for b in boxes]
    dx = np.maximum(np.maximum(box[0] - points[:, 0], points[:, 0] - box[2]), 0.0)
    dy = np.maximum(np.maximum(box[1] - points[:, 1], points[:, 1] - box[3]), 0.0)
    return float(min(gaps + [np.hypot(dx, dy).min()]))


def _place_label(anchor: NDArray, direction: NDArray, text: str, fontsize: float, per_point: float,
                 boxes: list[NDArray], points: NDArray, lim: float, room: float = 0.1) -> NDArray:
    """The centre, near ``anchor``, where ``text`` keeps clear of the other labels and the arrows.

    Candidates lie round ``anchor`` at growing distances; at each distance they are tried first
    straight ahead along ``direction`` (past the arrow's tip), then turning away from it on either
    side. The first with ``room`` to spare wins; failing that, the one with the most room.
    """
    base = np.arctan2(direction[1], direction[0])
    best, best_clear = anchor, -np.inf
    for radius in (0.25, 0.35, 0.5, 0.65, 0.8):
        for turn in (0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180):
            phi = base + np.deg2rad(turn)
            centre = anchor + radius * np.array([np.cos(phi), np.sin(phi)])
            clear = _clearance(_label_box(centre, text, fontsize, per_point), boxes, points, lim)
            if clear >= room:
                return centre
            if clear > best_clear:
                best, best_clear = centre, clear
    return best


def draw_reading(query: NDArray[np.floating], shelf: Shelf, axes: tuple | None = None) -> tuple:
    """Draw one reading: keys and query in the plane, the weights as bars, the retrieved colour.

    The plane is drawn to scale: spines of length 1 and the query at its true length, so a query
    longer than the frame (about 1.5) runs off its edge. The query's label sits past the arrow's
    tip, where it keeps clear of the spines and their labels. Each bar is labelled with its
    weight ("<0.01" for a weight too small to show, never "0.00").

    Returns the three axes (plane, weights, retrieved value).
    """
    scores, weights, retrieved = read_shelf(query, shelf)
    if axes is None:
        fig, row = plt.subplots(1, 3, figsize=(9, 3), gridspec_kw={"width_ratios": [1.2, 1.5, 0.6]})
        axes = tuple(row)
    plane, bars, swatch = axes
    lim = PLANE_LIM
    # data units per typographic point, from the plane's size (an overestimate before tight_layout)
    pos = plane.get_position()
    size_pt = 72 * min(pos.width * plane.figure.get_figwidth(), pos.height * plane.figure.get_figheight())
    per_point = 2 * lim / size_pt
    label_boxes, arrow_points = [], [np.zeros(2)]
    t = np.linspace(0.0, 1.0, 25)[:, None]  # (25, 1): points along each arrow
    for key, title, colour in zip(shelf.keys, shelf.titles, shelf.values):
        # spines and their labels above the query, so a query along a spine hides neither
        plane.annotate("", xy=key, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=colour, lw=2), zorder=4)
        plane.text(*(1.2 * key), title, ha="center", va="center", fontsize=8, zorder=5,
                   bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.5))
        label_boxes.append(_label_box(1.2 * key, title, 8, per_point))
        arrow_points.append(t * key)  # (25, 2)
    q = np.asarray(query, dtype=float)
    length = float(np.linalg.norm(q))
    if length > 0:
        direction = q / length
        if np.abs(q).max() <= lim:  # the whole arrow fits in the frame
            plane.annotate("", xy=q, xytext=(0, 0), gid="query", zorder=3,
                           arrowprops=dict(arrowstyle="-|>", color="black", lw=3.5))
            anchor = q
        else:  # to scale: the shaft runs off the frame's edge (clipped there)
            plane.plot([0.0, q[0]], [0.0, q[1]], color="black", lw=3.5, solid_capstyle="butt", gid="query",
                       zorder=3)
            anchor = direction * (0.8 * lim / np.abs(direction).max())  # inside the frame, near the edge
        arrow_points.append(t * direction * min(length, 2 * lim))  # (25, 2), the part in view
        label = "query"
    else:
        plane.plot(0, 0, "ko", gid="query", zorder=3)
        direction = -shelf.keys.sum(axis=0)  # away from the spines on average
        direction = direction if np.linalg.norm(direction) > 1e-9 else np.array([1.0, 0.0])
        anchor, label = np.zeros(2), "query = 0"
    centre = _place_label(anchor, direction, label, 8, per_point, label_boxes, np.vstack(arrow_points), lim)
    plane.text(*centre, label, fontsize=8, weight="bold", ha="center", va="center", gid="query-label", zorder=5)
    plane.set_xlim(-lim, lim)
    plane.set_ylim(-lim, lim)
    plane.set_aspect("equal")
    plane.set_xticks([])
    plane.set_yticks([])
    angle = np.degrees(np.arctan2(q[1], q[0])) % 360 if length > 0 else 0.0
    plane.set_title(f"query: angle {angle:.4g}°, length {length:.4g}", fontsize=9)
    bars.bar(range(len(weights)), weights, color=shelf.values)
    for j, weight in enumerate(weights):
        bars.text(j, weight + 0.02, weight_text(weight), ha="center", va="bottom", fontsize=8)
    bars.set_xticks(range(len(weights)), shelf.titles, rotation=30, fontsize=8)
    bars.set_ylim(0, 1.12)
    bars.set_yticks(np.linspace(0, 1, 6))
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
        row[0].set_title(f"query: angle {angle:g}°, length {length:g}", fontsize=9)  # as the caller wrote it
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
        # "<0.01" rather than "0.00": no weight is ever exactly zero
        cells = "".join(f"<td>{t}: <b>{weight_text(w)}</b></td>" for t, w in zip(self.shelf.titles, weights))
        rgb = ", ".join(f"{c:.2f}" for c in retrieved)
        self.readout.value = f"<table><tr>{cells}</tr></table>retrieved value (RGB): [{rgb}]"
        plane, _, _ = draw_reading(query, self.shelf)
        self._show_figure(plane.figure)
