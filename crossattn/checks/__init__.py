"""Exercise checkers, one module per lab. Each prints one ✓ line or raises CheckFailed with a hint."""
from ._core import CheckFailed
from .ch01 import check_alignment, check_attend, check_read, check_relevance, check_softmax
from .ch02 import (
    check_attention,
    check_attention_flops,
    check_masked_attention,
    check_padding_mask,
    check_scores,
    check_split_heads,
)
from .ch03 import check_entropy, check_nadaraya_watson, check_softmax_temperature, check_uniform_query
from .ch04 import check_causal_mask, check_cross_attention, check_cross_mask, check_honest_loss, check_source_influence
from .ch05 import (
    check_cache_bytes,
    check_cross_attention_step,
    check_self_attention_flops,
    check_self_attention_step,
    check_share_across_beams,
)
from .ch06 import check_multiset_accuracy, check_permutation_gap, check_relative_bias, check_sinusoidal
from .ch07 import check_count_parameters, check_kv_saving, check_permutation_p, check_seed_band, check_share_kv
from .ch08 import (
    check_kv_cache_values,
    check_latent_mixing,
    check_latent_score_entries,
    check_patchify,
    check_retrieve,
)

__all__ = [
    "CheckFailed",
    "check_relevance", "check_softmax", "check_read", "check_attend", "check_alignment",
    "check_scores", "check_attention", "check_padding_mask", "check_masked_attention",
    "check_split_heads", "check_attention_flops",
    "check_entropy", "check_softmax_temperature", "check_uniform_query", "check_nadaraya_watson",
    "check_causal_mask", "check_cross_mask", "check_cross_attention", "check_honest_loss", "check_source_influence",
    "check_cache_bytes", "check_self_attention_step", "check_cross_attention_step",
    "check_share_across_beams", "check_self_attention_flops",
    "check_sinusoidal", "check_permutation_gap", "check_relative_bias", "check_multiset_accuracy",
    "check_count_parameters", "check_kv_saving", "check_share_kv", "check_seed_band", "check_permutation_p",
    "check_patchify", "check_retrieve", "check_latent_score_entries", "check_latent_mixing", "check_kv_cache_values",
]
