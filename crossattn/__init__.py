"""crossattn: the companion package of the cross-attention course.

NumPy core (chapters 1–3): :func:`softmax`, :func:`attention`, :func:`entropy`, masks and
multi-head helpers. Figures: :func:`plot_attention`. Exercise checkers live in
:mod:`crossattn.checks`; course tooling in :mod:`crossattn.labs`, :mod:`crossattn.student`,
:mod:`crossattn.nbgrader_course` and :mod:`crossattn.lab_times`.
Chapter 3 (the spotlight): :mod:`crossattn.spotlight` and :mod:`crossattn.kernel_regression`.
"""
from .attention import attention, attention_scores
from .cost import attention_flops, loglog_slope, median_time, score_entries
from .heads import Projections, merge_heads, multihead_attention, split_heads
from .kernel_regression import (
    bandwidth_sweep,
    gaussian_conditional_variance,
    gaussian_kernel_scores,
    joint_gaussian,
    kernel_as_attention,
    nadaraya_watson,
    variance_removed,
)
from .masks import causal_mask, padding_mask
from .numerics import entropy, softmax
from .plotting import plot_attention
from .spotlight import (
    effective_keys,
    focus_sweep,
    jacobian_norm,
    random_attention_stats,
    score_gap,
    softmax_with_temperature,
    temperature_sweep,
    top_weight_bounds,
    train_retrieval,
    uniform_query,
)

__version__ = "0.1.0"

__all__ = [
    "softmax", "entropy", "attention", "attention_scores", "padding_mask", "causal_mask",
    "split_heads", "merge_heads", "Projections", "multihead_attention", "plot_attention",
    "attention_flops", "score_entries", "median_time", "loglog_slope",
    "softmax_with_temperature", "temperature_sweep", "effective_keys", "focus_sweep", "uniform_query",
    "jacobian_norm", "random_attention_stats",
    "gaussian_kernel_scores", "nadaraya_watson", "kernel_as_attention", "joint_gaussian",
    "bandwidth_sweep", "gaussian_conditional_variance", "variance_removed",
    "score_gap", "top_weight_bounds", "train_retrieval",
]
