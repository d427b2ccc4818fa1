"""The landing page's roadmap: one box per chapter with its outcome and its reading and lab times."""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["roadmap_figure"]

# The arc of the course: the idea (1–3), the model and its engineering (4–7), where it is used (8 on).
_STAGES = ((1, 3, "#e8f0fb", "the idea"), (4, 7, "#eaf6ec", "the model and its engineering"),
           (8, 99, "#fbf0e6", "where it is used"))


def _stage(number: int) -> tuple[str, str]:
    for first, last, colour, name in _STAGES:
        if first <= number <= last:
            return colour, name
    return "#eeeeee", ""


def _lines(text: str, fontsize: float, width_in: float) -> list[str]:
    """``text`` wrapped to a box ``width_in`` inches wide (an average glyph is about 0.55 em)."""
    return textwrap.wrap(text, max(10, int(width_in * 72 / (0.55 * fontsize))))


def roadmap_figure(entries: Sequence[Any], columns: int = 2) -> Figure:
    """Draw the chapters as a path of boxes, ``columns`` per row, in reading order (a snake).

    entries: objects with ``number``, ``title``, ``outcome``, ``read_minutes``, ``lab_minutes``
    (e.g. :class:`crossattn.tooling.roadmap.MapEntry`). A title is shown up to its first colon
    ("Caching: compute the library once" -> "Caching"). Box colours mark the stages of the course.
    """
    entries = list(entries)
    if not entries:
        raise ValueError("the roadmap needs at least one chapter")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    rows = -(-len(entries) // columns)
    # Everything in inches: the figure is the width of the text column.
    fig_w, gap_x, gap_y, box_h, pad = 6.6, 0.35, 0.28, 1.2, 0.08
    box_w = (fig_w - 2 * pad - (columns - 1) * gap_x) / columns
    legend_h = 0.35
    fig_h = rows * box_h + (rows - 1) * gap_y + 2 * pad + legend_h
    fig = plt.figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, fig_w)
    ax.set_ylim(0, fig_h)
    ax.axis("off")
    title_size, text_size, time_size = 8.5, 7.8, 7.3
    corners = []
    for i, e in enumerate(entries):
        row, col = divmod(i, columns)
        if row % 2:  # snake: odd rows run right to left
            col = columns - 1 - col
        x = pad + col * (box_w + gap_x)
        y = fig_h - pad - (row + 1) * box_h - row * gap_y
        colour, _ = _stage(e.number)
        ax.add_patch(FancyBboxPatch((x, y), box_w, box_h, boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor=colour, edgecolor="#666666", linewidth=0.8))
        title = _lines(f"{e.number}. {e.title.split(':')[0]}", title_size, box_w - 0.2)
        outcome = _lines(e.outcome, text_size, box_w - 0.2)
        if len(title) > 2 or len(outcome) > 2:
            raise ValueError(f"chapter {e.number}: its title or outcome does not fit two lines of its box")
        ax.text(x + 0.1, y + box_h - 0.1, "\n".join(title), fontsize=title_size, fontweight="bold", va="top",
                ha="left", linespacing=1.2)
        ax.text(x + 0.1, y + box_h - 0.14 - 0.19 * len(title), "\n".join(outcome), fontsize=text_size, va="top",
                ha="left", color="#222222", linespacing=1.25)
        lab = f" · lab ≈ {e.lab_minutes} min" if e.lab_minutes else ""
        ax.text(x + 0.1, y + 0.08, f"read ≈ {e.read_minutes} min{lab}", fontsize=time_size, va="bottom",
                ha="left", color="#555555")
        corners.append((x, y))
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        if abs(y0 - y1) < 1e-9:  # same row: side to side
            start = (x0 + box_w, y0 + box_h / 2) if x1 > x0 else (x0, y0 + box_h / 2)
            end = (x1, y1 + box_h / 2) if x1 > x0 else (x1 + box_w, y1 + box_h / 2)
        else:  # next row: straight down
            start, end = (x0 + box_w / 2, y0), (x1 + box_w / 2, y1 + box_h)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, color="#666666", lw=0.9))
    handles = [FancyBboxPatch((0, 0), 1, 1, facecolor=c, edgecolor="#666666", label=name)
               for first, _, c, name in _STAGES if any(_stage(e.number)[1] == name for e in entries)]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles), frameon=False,
              fontsize=8)
    return fig
