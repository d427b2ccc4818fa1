"""What every widget of the course shares, and the list of them all.

A course widget has sliders (``controls``), a text ``readout`` that states the result, and a
plot; it uses only widgets that exist with the same API in ipywidgets 7.7 (Colab) and 8
(JupyterLab). The website cannot run widgets, so each one has a static fallback figure that
the chapter page shows; :data:`WIDGETS` names it and the page, and the tests check both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class CourseWidget:
    """Base class: subclasses fill ``controls`` and implement ``_update`` (set ``readout.value``, draw)."""

    controls: list[Any]

    def _build(self, controls: list[Any]) -> None:
        import ipywidgets as widgets

        self.controls = controls
        self.readout = widgets.HTML()
        self.plot = widgets.Output()
        for control in controls:
            control.observe(self._update, names="value")
        self.box = widgets.VBox([widgets.HBox(controls), self.readout, self.plot])
        self._update()

    def _update(self, _change: object = None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _show_figure(self, fig: Any) -> None:
        """Replace the plot area's figure with ``fig``."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        with self.plot:
            self.plot.clear_output(wait=True)
            display(fig)
        plt.close(fig)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)


@dataclass(frozen=True)
class WidgetEntry:
    """A widget, the function drawing its static fallback, and the chapter page showing it."""

    name: str
    make: Callable[[], CourseWidget]
    fallback: Callable[[], Any]
    page: str


def all_widgets() -> list[WidgetEntry]:
    """Every widget the course ships."""
    from .librarian import LibrarianWidget, librarian_figure
    from .spotlight import SpotlightWidget, spotlight_figure

    return [
        WidgetEntry("librarian", LibrarianWidget, librarian_figure, "chapters/01_library_analogy.md"),
        WidgetEntry("spotlight", SpotlightWidget, spotlight_figure, "chapters/03_spotlight.md"),
    ]
