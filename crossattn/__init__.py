"""crossattn: the companion package of the cross-attention course.

NumPy core (chapters 1–3): :func:`softmax`, :func:`attention`, :func:`entropy`, masks and
multi-head helpers. Figures: :func:`plot_attention`. Exercise checkers live in
:mod:`crossattn.checks`; course tooling in :mod:`crossattn.notebooks` and :mod:`crossattn.student`.
"""
from .attention import attention, attention_scores
from .cost import attention_flops, loglog_slope, median_time, score_entries
from .heads import Projections, merge_heads, multihead_attention, split_heads
from .masks import causal_mask, padding_mask
from .numerics import entropy, softmax
from .plotting import plot_attention

__version__ = "0.1.0"

__all__ = [
    "softmax", "entropy", "attention", "attention_scores", "padding_mask", "causal_mask",
    "split_heads", "merge_heads", "Projections", "multihead_attention", "plot_attention",
    "attention_flops", "score_entries", "median_time", "loglog_slope",
]
