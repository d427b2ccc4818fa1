"""Figures and widgets: the only layer that imports matplotlib, and it never imports torch.

plotting (the attention heatmap, every chapter), librarian (chapter 1), spotlight (chapter 3),
wiring (chapter 4), curves (chapter 7), images (chapter 8); widgets is what every widget shares
and the list of them all. ipywidgets is imported only when a widget is built.
"""
from .plotting import plot_attention
from .show import show

__all__ = ["plot_attention", "show"]
