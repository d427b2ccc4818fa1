"""Positional encodings (chapters 4 and 6): dot products are blind to order without them."""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["sinusoidal_positions", "POSITION_SCHEMES", "SOURCE_SINUSOIDAL", "CROSS_BIAS", "ENCODER_BIAS"]

#: Where the encoder–decoder of :mod:`crossattn.model` puts positions (chapter 6):
#: "none"     — nowhere: the source is a bag of tokens to the cross-attention;
#: "query"    — on the target (decoder) side only: queries know where they are, keys do not;
#: "absolute" — sinusoidal positions added on both sides (Vaswani et al. 2017);
#: "relative" — target positions plus a learned bias b[i − j] on the cross-attention scores;
#: "absolute+relative" — "absolute" plus the cross-attention bias of "relative": the source has positions
#:     *and* the scores have an offset bias, so the bias's own effect can be separated from the encoder's;
#: "encoder-relative" — target positions plus a learned bias b[j − j'] in the encoder's self-attention, none in
#:     the cross-attention: the source learns its positions relatively inside itself, as in T5.
POSITION_SCHEMES = ("none", "query", "absolute", "relative", "absolute+relative", "encoder-relative")
#: The schemes that add the sinusoidal table to the source (encoder input).
SOURCE_SINUSOIDAL = ("absolute", "absolute+relative")
#: The schemes with a learned bias b_h[i − j] on every decoder cross-attention's scores.
CROSS_BIAS = ("relative", "absolute+relative")
#: The schemes with a learned bias b_h[j − j'] on every encoder self-attention's scores.
ENCODER_BIAS = ("encoder-relative",)


def sinusoidal_positions(length: int, d_model: int) -> Tensor:
    """The sinusoidal encoding of Vaswani et al. (2017): (length, d_model).

    Even columns hold sin(pos / 10000^(2i/d_model)), odd columns the cosine of the same angle.
    """
    if length < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need length ≥ 1 and an even d_model ≥ 2, got length={length}, d_model={d_model}")
    pos = torch.arange(length, dtype=torch.float32)[:, None]  # (length, 1)
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (d_model/2,)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(pos * freq)  # (length, d_model/2)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe
