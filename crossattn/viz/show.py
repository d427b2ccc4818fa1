"""Showing a figure in a notebook whatever matplotlib backend the environment sets."""
from __future__ import annotations

from typing import Any

__all__ = ["show"]


def show(fig: Any) -> None:
    """Display ``fig`` as the cell's output and close it.

    ``plt.show()`` shows nothing when the environment sets a non-interactive backend
    (``MPLBACKEND=Agg``); ``display(fig)`` always puts the picture in the notebook, and closing the
    figure keeps the inline backend from showing it a second time.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"show needs a matplotlib Figure (e.g. from plt.subplots()), got {type(fig).__name__}")
    display(fig)
    plt.close(fig)
