"""The spotlight widget of chapter 3: a temperature slider and a query-scale slider.

One query reads n = 8 fixed keys. The sliders set the temperature T and the query scale α;
the weights are ``softmax(α · (k @ q) / (√d · T))``. The plot shows the weights as bars and
the entropy as a function of T (with the current T marked); the readout states the entropy,
how many keys the spotlight covers (e^H) and the largest weight. Multiplying the query by α
and dividing the temperature by α give the same weights: only α/T matters.

:func:`spotlight_figure` is the static version for the website (it cannot run widgets).
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator
from numpy.typing import NDArray

from ..core.dot_product import attention_scores
from ..core.numerics import entropy
from ..core.spotlight import effective_keys, softmax_with_temperature, temperature_sweep
from .widgets import CourseWidget

__all__ = ["demo_scores", "spotlight_weights", "draw_spotlight", "spotlight_figure", "SpotlightWidget"]

_TEMPERATURES = np.geomspace(0.01, 100.0, 121)  # the T axis of the entropy curve
_TOP, _OTHER = "#d62728", "#1f77b4"  # bar colours: the largest weight, the others


def _bar_legend_handles(n: int) -> list:
    """Legend entries for the bar charts: the red bar and the dashed line at 1/n."""
    return [Patch(color=_TOP, label="largest weight"),
            Line2D([], [], color="grey", ls="--", lw=1, label=f"uniform weight 1/{n}")]


def demo_scores(n: int = 8, d: int = 8, seed: int = 5) -> NDArray[np.floating]:
    """Scaled scores ``k @ q / √d`` of shape (n,) for a fixed query and n fixed keys.

    The query leans towards key 3 without pointing exactly at it, so the weights are uneven
    but not one-hot at T = 1.
    """
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(n, d))  # (n, d)
    q = k[3] + 0.5 * rng.normal(size=d)  # (d,)
    return attention_scores(q[None, :], k)[0]  # (1, d) @ (d, n) -> (1, n) -> (n,)


def spotlight_weights(scores: NDArray[np.floating], temperature: float, alpha: float) -> NDArray[np.floating]:
    """Weights (n,) of the query scaled by ``alpha`` at ``temperature``: softmax(α·scores / T)."""
    return softmax_with_temperature(alpha * np.asarray(scores, dtype=float), temperature)


def draw_spotlight(scores: NDArray[np.floating], temperature: float, alpha: float,
                   axes: Sequence[Axes] | None = None) -> tuple[Axes, Axes]:
    """Draw the weights (bars) and the entropy against T (curve, current T marked).

    scores: (n,). Returns the two axes.
    """
    s = np.asarray(scores, dtype=float)
    n = len(s)
    weights = spotlight_weights(s, temperature, alpha)  # (n,)
    h_now = float(entropy(weights))
    if axes is None:
        fig = plt.figure(figsize=(9, 2.9))
        axes = (fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2))
    bars, curve = axes
    top = int(np.argmax(weights)) if np.ptp(weights) > 1e-12 else -1  # -1: a tie, nothing to highlight
    colours = [_OTHER if j != top else _TOP for j in range(n)]
    bars.bar(range(n), weights, color=colours)
    bars.axhline(1.0 / n, color="grey", ls="--", lw=1)
    bars.set_xticks(range(n), [f"k{j}" for j in range(n)])
    bars.set_ylim(0, 1)
    bars.set_ylabel("weight")
    bars.set_title(f"T = {temperature:.2f}, α = {alpha:.2f}: H = {h_now:.2f} nats", fontsize=10)
    bars.legend(handles=_bar_legend_handles(n), loc="upper left", fontsize=8, frameon=False)
    curve_h = temperature_sweep(alpha * s, _TEMPERATURES)  # (t,)
    curve.semilogx(_TEMPERATURES, curve_h, color="#1f77b4", label=f"entropy, α = {alpha:.2f}")
    curve.axhline(np.log(n), color="grey", ls="--", lw=1, label=f"ln {n} = {np.log(n):.2f} (uniform)")
    curve.plot([temperature], [h_now], "o", color="#d62728", label="current T")
    curve.set_xticks([0.01, 0.1, 1.0, 10.0, 100.0], ["0.01", "0.1", "1", "10", "100"])
    curve.xaxis.set_minor_locator(NullLocator())  # no minor ticks: far fewer artists to draw
    curve.set_ylim(-0.05, np.log(n) * 1.12)
    curve.set_xlabel("temperature T (log scale)")
    curve.set_ylabel("entropy (nats)")
    curve.set_title("entropy rises from 0 to ln n as T grows", fontsize=10)
    curve.legend(loc="center right", fontsize=8, frameon=False)
    return bars, curve


def spotlight_figure(settings: Sequence[tuple[float, float]] | None = None,
                     scores: NDArray[np.floating] | None = None) -> Figure:
    """Static version of :class:`SpotlightWidget` for the website.

    Top row: the weights for each (temperature, alpha) setting, the largest in red, with a dashed
    line at the uniform weight 1/n (a legend above the row says so). Bottom: the entropy against
    the temperature for each alpha used, with every setting marked on its curve.
    """
    s = demo_scores() if scores is None else np.asarray(scores, dtype=float)
    settings = [(1.0, 1.0), (0.2, 1.0), (5.0, 1.0), (1.0, 0.0)] if settings is None else list(settings)
    if not settings:
        raise ValueError("settings must hold at least one (temperature, alpha) pair")
    n, cols = len(s), len(settings)
    with plt.rc_context({"font.size": 11}):  # the page shrinks this wide figure: keep the text legible
        fig = plt.figure(figsize=(max(9.0, 2.3 * cols), 6.2))
        grid = fig.add_gridspec(2, cols, height_ratios=[1.0, 1.1])
        curve = fig.add_subplot(grid[1, :])
        alphas = sorted({a for _, a in settings}, reverse=True)
        for i, alpha in enumerate(alphas):
            curve.semilogx(_TEMPERATURES, temperature_sweep(alpha * s, _TEMPERATURES), color=f"C{i}",
                           label=f"entropy, query scale α = {alpha:g}")
        curve.axhline(np.log(n), color="grey", ls="--", lw=1, label=f"ln {n} = {np.log(n):.2f} (uniform)")
        for col, (temperature, alpha) in enumerate(settings):
            bars = fig.add_subplot(grid[0, col])
            weights = spotlight_weights(s, temperature, alpha)  # (n,)
            h_now = float(entropy(weights))
            top = int(np.argmax(weights)) if np.ptp(weights) > 1e-12 else -1  # -1: a tie, nothing to highlight
            bars.bar(range(n), weights, color=[_TOP if j == top else _OTHER for j in range(n)])
            bars.axhline(1.0 / n, color="grey", ls="--", lw=1)
            bars.set_xticks(range(n), [f"k{j}" for j in range(n)], fontsize=8)
            bars.set_ylim(0, 1)
            bars.set_title(f"({col + 1}) T = {temperature:g}, α = {alpha:g}\nH = {h_now:.2f} nats")
            if col == 0:
                bars.set_ylabel("weight")
            curve.plot([temperature], [h_now], "o", color=f"C{alphas.index(alpha)}")
            curve.annotate(f"({col + 1})", (temperature, h_now), textcoords="offset points", xytext=(6, -14))
        curve.set_xticks([0.01, 0.1, 1.0, 10.0, 100.0], ["0.01", "0.1", "1", "10", "100"])
        curve.xaxis.set_minor_locator(NullLocator())
        curve.set_ylim(-0.05, np.log(n) * 1.15)
        curve.set_xlabel("temperature T (log scale)")
        curve.set_ylabel("entropy (nats)")
        curve.legend(loc="center right", fontsize=10, frameon=False)
        fig.legend(handles=_bar_legend_handles(n), loc="upper center", ncol=2, fontsize=10, frameon=False)
        fig.tight_layout(rect=(0, 0, 1, 0.95))  # leave the top strip to the bars' legend
    return fig


class SpotlightWidget(CourseWidget):
    """A live spotlight: sliders set the temperature T and the query scale α.

    ``readout`` states the entropy, e^H (how many keys are covered) and the largest weight.
    Uses only FloatSlider, HTML, Output and boxes, which behave the same in ipywidgets 7.7
    (Colab) and 8 (JupyterLab).
    """

    def __init__(self, scores: NDArray[np.floating] | None = None, temperature: float = 1.0, alpha: float = 1.0) -> None:
        import ipywidgets as widgets

        self.scores = demo_scores() if scores is None else np.asarray(scores, dtype=float)
        self.temperature = widgets.FloatSlider(value=temperature, min=0.05, max=5.0, step=0.05,
                                               description="temperature T")
        self.alpha = widgets.FloatSlider(value=alpha, min=0.0, max=5.0, step=0.1, description="query scale α")
        self._build([self.temperature, self.alpha])

    def _update(self, _change: object = None) -> None:
        t, a = self.temperature.value, self.alpha.value
        weights = spotlight_weights(self.scores, t, a)  # (n,)
        n = len(weights)
        h = float(entropy(weights))
        top = int(np.argmax(weights))
        peak = (f"largest weight {weights[top]:.3f} on k{top}" if np.ptp(weights) > 1e-12
                else f"every weight is 1/{n}: the output is the mean of the values")
        self.readout.value = (
            f"T = {t:.2f}, α = {a:.2f}: entropy <b>{h:.3f}</b> nats "
            f"of at most ln {n} = {np.log(n):.3f}; the spotlight covers e<sup>H</sup> = "
            f"<b>{float(effective_keys(weights)):.2f}</b> of {n} keys; {peak}."
        )
        bars, _ = draw_spotlight(self.scores, t, a)
        self._show_figure(bars.figure)
