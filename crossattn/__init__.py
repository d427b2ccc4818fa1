"""crossattn: the companion package of the cross-attention course.

The package is built in layers; each imports only the layers above it in this list:

- :mod:`crossattn` and :mod:`crossattn.core` — NumPy only (chapters 1–3, the NumPy math of 8):
  ``import crossattn`` loads neither torch, nor matplotlib, nor ipywidgets;
- :mod:`crossattn.nn` — the PyTorch model (chapters 4–10);
- :mod:`crossattn.experiments` — one module per chapter idea, what the pages and labs measure;
- :mod:`crossattn.viz` — figures and widgets (matplotlib; never torch);
- :mod:`crossattn.checks` — the exercise checkers, one module per lab, loaded on first use;
- :mod:`crossattn.tooling` — course tooling (an optional extra), never imported by a lab.

The core's most used names are here: :func:`softmax`, :func:`entropy`, :func:`attention`,
masks, multi-head helpers, costs, and chapter 3's spotlight and kernel regression.
"""
from .core.cost import attention_flops, loglog_slope, median_time, score_entries
from .core.dot_product import attention, attention_scores
from .core.heads import Projections, merge_heads, multihead_attention, split_heads
from .core.kernel_regression import (
    bandwidth_sweep,
    gaussian_conditional_variance,
    gaussian_kernel_scores,
    joint_gaussian,
    kernel_as_attention,
    nadaraya_watson,
    variance_removed,
)
from .core.masks import causal_mask, padding_mask, prefix_lm_mask
from .core.numerics import entropy, softmax
from .core.spotlight import (
    effective_keys,
    focus_sweep,
    init_attention_stats,
    jacobian_norm,
    query_gradient_norm,
    random_attention_stats,
    score_gap,
    softmax_with_temperature,
    temperature_sweep,
    top_weight_bounds,
    train_retrieval,
    uniform_query,
)

__version__ = "0.2.0"

__all__ = [
    "softmax", "entropy", "attention", "attention_scores", "padding_mask", "causal_mask", "prefix_lm_mask",
    "split_heads", "merge_heads", "Projections", "multihead_attention",
    "attention_flops", "score_entries", "median_time", "loglog_slope",
    "softmax_with_temperature", "temperature_sweep", "effective_keys", "focus_sweep", "uniform_query",
    "jacobian_norm", "random_attention_stats", "query_gradient_norm", "init_attention_stats",
    "gaussian_kernel_scores", "nadaraya_watson", "kernel_as_attention", "joint_gaussian",
    "bandwidth_sweep", "gaussian_conditional_variance", "variance_removed",
    "score_gap", "top_weight_bounds", "train_retrieval",
]
