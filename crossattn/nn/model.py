"""The tiny encoder–decoder of chapters 4–7, with the switches the later chapters flip.

    src (B, n) --embed(+positions)--> encoder layers --> memory (B, n, d_model)
    tgt_in (B, m) --embed(+positions)--> decoder layers (causal self-attn, cross-attn to memory) --> logits (B, m, V)

One vocabulary serves source and target (so embeddings can be tied, chapter 7). Token 0 is
padding; source padding is masked out of every attention that reads the source.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .cache import KVCache
from .layers import DecoderLayer, EncoderLayer, RelativePositionBias
from .positions import CROSS_BIAS, ENCODER_BIAS, POSITION_SCHEMES, SOURCE_SINUSOIDAL, sinusoidal_positions
from .tokens import PAD

__all__ = ["ModelConfig", "EncoderDecoder", "CROSS_READS"]

#: What each decoder layer's cross-attention reads (chapter 4): "last", the encoder's last layer (n rows);
#: "all", a learned mix of every encoder depth (transparent attention); "pooled", one row, the mean of the
#: last layer over the real source tokens: a fixed-size summary of the source, whatever its length.
CROSS_READS = ("last", "all", "pooled")


@dataclass
class ModelConfig:
    """Settings of :class:`EncoderDecoder`. Defaults train on CPU in seconds."""

    vocab_size: int = 32  # shared by source and target; token 0 is padding
    d_model: int = 32  # model width
    h: int = 2  # heads
    d_ff: int = 64  # feed-forward width
    n_encoder_layers: int = 2
    n_decoder_layers: int = 2
    max_len: int = 64  # longest sequence the positional table covers
    positions: str = "absolute"  # one of POSITION_SCHEMES (chapter 6)
    tie_kv: bool = False  # share W_K and W_V across encoder self-, decoder self- and cross-attention at each depth (chapter 7)
    tie_embeddings: bool = False  # output projection = embedding matrix, Press & Wolf 2017; input scaled by √d_model (chapter 7)
    residual: bool = True  # residual connections; chapter 4 switches them off to measure the gradient path
    encoder_causal: bool = False  # source position j sees only source positions ≤ j (chapter 4, leakage)
    cross_causal: bool = False  # target position i reads only source positions j < i, those already emitted (chapter 4, leakage)
    cross_reads: str = "last"  # one of CROSS_READS: the last encoder layer, a mix of every depth, or one pooled vector

    def __post_init__(self) -> None:
        if self.positions not in POSITION_SCHEMES:
            raise ValueError(f"positions must be one of {POSITION_SCHEMES}, got {self.positions!r}")
        if self.cross_reads not in CROSS_READS:
            raise ValueError(f"cross_reads must be one of {CROSS_READS}, got {self.cross_reads!r}")
        if self.cross_reads == "pooled" and self.cross_causal:
            raise ValueError("cross_reads='pooled' reads one summary of the whole source: it cannot be cross_causal")
        if self.d_model % self.h:
            raise ValueError(f"d_model={self.d_model} is not divisible by h={self.h}")


class EncoderDecoder(nn.Module):
    """A small pre-norm Transformer encoder–decoder (chapter 4)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.register_buffer("pe", sinusoidal_positions(cfg.max_len, cfg.d_model), persistent=False)  # (max_len, d_model)
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for depth in range(max(cfg.n_encoder_layers, cfg.n_decoder_layers)):
            shared_k = shared_v = None
            if cfg.tie_kv:  # one W_K and one W_V per depth, used by all three attentions there
                shared_k = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
                shared_v = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
            if depth < cfg.n_encoder_layers:
                bias = RelativePositionBias(cfg.h, cfg.max_len) if cfg.positions in ENCODER_BIAS else None
                self.encoder.append(EncoderLayer(cfg.d_model, cfg.h, cfg.d_ff, cfg.residual, shared_k, shared_v, bias))
            if depth < cfg.n_decoder_layers:
                bias = RelativePositionBias(cfg.h, cfg.max_len) if cfg.positions in CROSS_BIAS else None
                self.decoder.append(DecoderLayer(cfg.d_model, cfg.h, cfg.d_ff, cfg.residual, bias, shared_k, shared_v))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        # Transparent attention: decoder layer l reads softmax(mix[l]) · [embeddings, layer 1, ..., layer L].
        self.mix = nn.Parameter(torch.zeros(cfg.n_decoder_layers, cfg.n_encoder_layers + 1)) if cfg.cross_reads == "all" else None
        self.out = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.embed_scale = 1.0
        if cfg.tie_embeddings:
            # One matrix reads tokens in and scores them out. Tied naively, the N(0, 1) embedding would give
            # the first logits a standard deviation of about √d_model instead of about 1; so it starts at
            # std d_model^-1/2, like an output layer, and is multiplied by √d_model on the way in, as in
            # Vaswani et al. (2017). Untied models are unchanged.
            nn.init.normal_(self.embed.weight, std=cfg.d_model ** -0.5)
            self.out.weight = self.embed.weight  # the same Parameter, not a copy
            self.embed_scale = math.sqrt(cfg.d_model)

    # -- masks ---------------------------------------------------------------------------------------
    @staticmethod
    def source_mask(src: Tensor) -> Tensor:
        """(B, n) bool, True for real source tokens (not padding)."""
        return src != PAD

    def _cross_mask(self, src_mask: Tensor, m: int, offset: int = 0) -> Tensor:
        if self.cfg.cross_reads == "pooled":  # one summary row, readable by every query
            return src_mask.any(dim=1)[:, None, None, None]  # (B, 1, 1, 1)
        mask = src_mask[:, None, None, :]  # (B, 1, 1, n): padding blocked for every query
        if self.cfg.cross_causal:
            n = src_mask.shape[1]
            i = torch.arange(offset, offset + m, device=src_mask.device)[:, None]  # (m, 1)
            mask = mask & (torch.arange(n, device=src_mask.device)[None, :] < i)  # (B, 1, m, n); row 0 reads nothing
        return mask

    # -- the two halves ------------------------------------------------------------------------------
    def _embed(self, tokens: Tensor, with_positions: bool, offset: int = 0) -> Tensor:
        x = self.embed(tokens)  # (B, L, d_model)
        if self.embed_scale != 1.0:  # tied embeddings (chapter 7)
            x = x * self.embed_scale
        if with_positions:
            L = tokens.shape[1]
            if offset + L > self.cfg.max_len:
                raise ValueError(f"sequence of length {offset + L} exceeds max_len={self.cfg.max_len}")
            x = x + self.pe[offset:offset + L]
        return x

    def encode(self, src: Tensor, return_all: bool = False) -> list[Tensor]:
        """The memory each decoder layer reads: a list of n_decoder_layers tensors (B, n, d_model).

        With ``return_all`` the list is instead [embeddings, layer 1 output, ..., final normed output].
        """
        if src.dim() != 2:
            raise ValueError(f"src must be a (B, n) tensor of token ids, got shape {tuple(src.shape)}")
        n = src.shape[1]
        mask = self.source_mask(src)[:, None, None, :]  # (B, 1, 1, n)
        if self.cfg.encoder_causal:
            mask = mask & torch.ones(n, n, dtype=torch.bool, device=src.device).tril()  # (B, 1, n, n)
        states = [self._embed(src, self.cfg.positions in SOURCE_SINUSOIDAL)]
        for layer in self.encoder:
            states.append(layer(states[-1], mask))
        states[-1] = self.encoder_norm(states[-1])
        return states if return_all else self.memory_from(states, src)

    def memory_from(self, states: list[Tensor], src: Tensor) -> list[Tensor]:
        """What each decoder layer reads, from the encoder's states [embeddings, layer 1, ..., normed top].

        ``cross_reads="last"``: the top states (B, n, d_model) for every decoder layer; ``"all"``: a learned
        softmax mix of every depth per decoder layer (transparent attention); ``"pooled"``: one row
        (B, 1, d_model), the mean of the top states over the real source tokens.
        """
        if self.cfg.cross_reads == "pooled":
            real = self.source_mask(src)[:, :, None].to(states[-1].dtype)  # (B, n, 1)
            pooled = (states[-1] * real).sum(1, keepdim=True) / real.sum(1, keepdim=True).clamp_min(1)  # (B, 1, d_model)
            return [pooled] * self.cfg.n_decoder_layers
        if self.mix is None:
            return [states[-1]] * self.cfg.n_decoder_layers
        stack = torch.stack(states)  # (L_enc + 1, B, n, d_model)
        weights = torch.softmax(self.mix, dim=-1)  # (L_dec, L_enc + 1)
        return list(torch.einsum("le,ebnd->lbnd", weights, stack))

    def decode(
        self,
        tgt_in: Tensor,
        memory: list[Tensor] | None,
        src_mask: Tensor,
        caches: list[tuple[KVCache, KVCache]] | None = None,
        offset: int = 0,
    ) -> Tensor:
        """Logits (B, m, V) for target inputs (B, m) at positions offset..offset+m−1.

        caches: one (self-attention cache, cross-attention cache) pair per decoder layer, or None.
        With a filled cross cache ``memory`` may be None. With a growing self cache, tgt_in holds
        only the new tokens.
        """
        m = tgt_in.shape[1]
        uses_self_cache = caches is not None and caches[0][0] is not None
        if offset and not uses_self_cache:
            raise ValueError("without a self-attention cache, decode the whole target prefix (offset 0)")
        y = self._embed(tgt_in, self.cfg.positions != "none", offset)  # (B, m, d_model)
        total = offset + m
        self_mask = torch.ones(total, total, dtype=torch.bool, device=tgt_in.device).tril()[offset:]  # (m, offset + m)
        cross_mask = self._cross_mask(src_mask, m, offset)  # (B, 1, 1 or m, n)
        for l, layer in enumerate(self.decoder):
            self_cache, cross_cache = caches[l] if caches is not None else (None, None)
            mem = None if memory is None else memory[l]
            y = layer(y, mem, self_mask, cross_mask, self_cache, cross_cache, offset)
        return self.out(self.decoder_norm(y))  # (B, m, d_model) -> (B, m, V)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, m, V) for source (B, n) and target inputs (B, m)."""
        return self.decode(tgt_in, self.encode(src), self.source_mask(src))

    def new_caches(self, cross: bool = True, self_attn: bool = True) -> list[tuple[KVCache | None, KVCache | None]]:
        """Empty caches, one (self, cross) pair per decoder layer (chapter 5)."""
        return [(KVCache(static=False) if self_attn else None, KVCache(static=True) if cross else None)
                for _ in self.decoder]
