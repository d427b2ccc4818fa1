"""Counting parameters of the encoder–decoder from a formula, tying switches included (chapter 7).

:func:`parameter_breakdown` lists the parameters of ``EncoderDecoder(cfg)`` part by part;
:func:`predicted_parameters` adds them up, and :func:`count_parameters` reads what a built model
really holds (each shared tensor once), so the two can be checked against each other. The savings
of the two tying switches of :class:`~crossattn.nn.model.ModelConfig` have formulas of their own:
:func:`kv_tying_saving` and :func:`embedding_tying_saving`.
"""
from __future__ import annotations

import numpy as np
import torch

from ..nn.model import ModelConfig
from ..nn.positions import CROSS_BIAS, ENCODER_BIAS

__all__ = [
    "attention_parameters", "feed_forward_parameters", "layer_norm_parameters", "kv_tying_saving",
    "embedding_tying_saving", "parameter_breakdown", "predicted_parameters", "count_parameters",
]


def _positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def attention_parameters(d_model: int) -> int:
    """Weights of one multi-head attention of the package: W_Q, W_K, W_V, W_O, each d_model×d_model, no biases.

    The number of heads does not matter: h heads of width d_model/h together fill d_model columns.
    """
    _positive(d_model=d_model)
    return 4 * d_model * d_model


def feed_forward_parameters(d_model: int, d_ff: int) -> int:
    """d_model -> d_ff -> d_model with biases: 2·d_model·d_ff + d_ff + d_model."""
    _positive(d_model=d_model, d_ff=d_ff)
    return 2 * d_model * d_ff + d_ff + d_model


def layer_norm_parameters(d_model: int) -> int:
    """A LayerNorm's gain and bias: 2·d_model."""
    _positive(d_model=d_model)
    return 2 * d_model


def kv_tying_saving(d_model: int, n_encoder_layers: int, n_decoder_layers: int) -> int:
    """Parameters removed by ``tie_kv``: one W_K and one W_V per depth serve every attention there.

    A depth with an encoder and a decoder layer has three attentions (encoder self, decoder self,
    cross) and keeps one W_K and one W_V of the three: it saves 2 × 2·d_model² = 4·d_model². A depth
    with only a decoder layer (a deeper decoder) has two attentions: it saves 2·d_model². A depth
    with only an encoder layer has one attention and nothing to share: it saves 0.
    """
    _positive(d_model=d_model, n_encoder_layers=n_encoder_layers, n_decoder_layers=n_decoder_layers)
    both = min(n_encoder_layers, n_decoder_layers)
    decoder_only = max(0, n_decoder_layers - n_encoder_layers)
    return 4 * d_model * d_model * both + 2 * d_model * d_model * decoder_only


def embedding_tying_saving(vocab_size: int, d_model: int) -> int:
    """Parameters removed by ``tie_embeddings``: the N_voc×d_model output projection."""
    _positive(vocab_size=vocab_size, d_model=d_model)
    return vocab_size * d_model


def parameter_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """The parameters of ``EncoderDecoder(cfg)``, part by part, from the formula; tying savings are negative.

    Covers every switch of :class:`ModelConfig`: tying, a relative bias in every cross-attention or every encoder self-attention
    (h × (2·max_len + 1) each), and the transparent-attention mix (n_decoder × (n_encoder + 1)).
    Positions add nothing: the sinusoidal table is a buffer (``model.buffers()``), not a parameter.
    """
    d, V, Le, Ld = cfg.d_model, cfg.vocab_size, cfg.n_encoder_layers, cfg.n_decoder_layers
    ln, ff = layer_norm_parameters(d), feed_forward_parameters(d, cfg.d_ff)
    parts = {
        "embedding": V * d,
        "output projection": V * d,
        "encoder layers": Le * (attention_parameters(d) + ff + 2 * ln),
        "decoder layers": Ld * (2 * attention_parameters(d) + ff + 3 * ln),
        "final layer norms": 2 * ln,
    }
    if cfg.positions in CROSS_BIAS:
        parts["relative biases"] = Ld * cfg.h * (2 * cfg.max_len + 1)
    if cfg.positions in ENCODER_BIAS:
        parts["encoder relative biases"] = Le * cfg.h * (2 * cfg.max_len + 1)
    if cfg.cross_reads == "all":
        parts["transparent mix"] = Ld * (Le + 1)
    if cfg.tie_kv:
        parts["tied W_K, W_V"] = -kv_tying_saving(d, Le, Ld)
    if cfg.tie_embeddings:
        parts["tied embeddings"] = -embedding_tying_saving(V, d)
    return parts


def predicted_parameters(cfg: ModelConfig) -> int:
    """The number of parameters of ``EncoderDecoder(cfg)``, from the formula (:func:`parameter_breakdown`)."""
    return sum(parameter_breakdown(cfg).values())


def count_parameters(model: torch.nn.Module) -> int:
    """The parameters a model really holds: ``model.parameters()`` lists each shared Parameter once."""
    return sum(p.numel() for p in model.parameters())
