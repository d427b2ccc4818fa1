"""Two other ways for a decoder to read a source (chapter 10), built from chapter 4's layers.

    PrefixLM        one stack over the sequence [source; target] with a prefix-LM mask: the source
                    reads itself bidirectionally, the target reads the whole source and its own past.
                    There is no cross-attention: every layer's self-attention reads the source, with
                    the same W_K, W_V as the target (the extreme of chapter 7's tying).
                    With ``reads_source=False`` it is a plain causal language model of the target.
    GatedCrossLM    a frozen language model (a PrefixLM with ``reads_source=False``) with a trainable
                    encoder and tanh-gated cross-attention blocks inserted before its layers
                    (Flamingo style, Alayrac et al. 2022).

Both take (src (B, n), tgt_in (B, m)) and return logits (B, m, V), like
:class:`~crossattn.nn.model.EncoderDecoder`, so :func:`crossattn.nn.train.train` and
:func:`~crossattn.nn.train.token_accuracy` work on all three; each has a cached greedy decoder,
:meth:`generate`, whose FLOPs chapter 10 counts. A block of the stack is chapter 4's
:class:`~crossattn.nn.layers.EncoderLayer` (self-attention and feed-forward) under another mask.
Token 0 is padding: padded positions are never attended to.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..core.masks import prefix_lm_mask
from .cache import KVCache
from .layers import EncoderLayer, GatedCrossAttention
from .model import ModelConfig
from .positions import sinusoidal_positions
from .tokens import BOS, PAD

__all__ = ["PrefixLM", "GatedCrossLM", "prefix_mask"]


def prefix_mask(src: Tensor, tgt_in: Tensor) -> Tensor:
    """The prefix-LM mask of a padded batch over [src; tgt_in]: bool (B, 1, n + m, n + m), True = may attend.

    :func:`crossattn.core.masks.prefix_lm_mask` (n, m), with padded keys of either part blocked.
    src: (B, n), tgt_in: (B, m), both padded with PAD = 0 at the end.
    """
    if src.dim() != 2 or tgt_in.dim() != 2 or src.shape[0] != tgt_in.shape[0]:
        raise ValueError(f"src and tgt_in must be (B, n) and (B, m) with the same B, got {tuple(src.shape)} "
                         f"and {tuple(tgt_in.shape)}")
    allowed = torch.from_numpy(prefix_lm_mask(src.shape[1], tgt_in.shape[1])).to(src.device)  # (n + m, n + m)
    real = torch.cat([src, tgt_in], dim=1) != PAD  # (B, n + m)
    return allowed[None, None] & real[:, None, None, :]  # (B, 1, n + m, n + m)


class PrefixLM(nn.Module):
    """A decoder-only Transformer over [source; target] with a prefix-LM mask (chapter 10).

    ``cfg.n_decoder_layers`` blocks of width ``cfg.d_model`` (``n_encoder_layers`` is not used).
    Positions count real tokens only, so with a padded source the target still starts right after
    the source's last real token. ``reads_source=False``: a causal LM of the target alone (the
    frozen model of :class:`GatedCrossLM`); the source is then ignored.
    """

    def __init__(self, cfg: ModelConfig, reads_source: bool = True) -> None:
        super().__init__()
        if cfg.positions != "absolute" or cfg.tie_kv or not cfg.residual:
            raise ValueError("PrefixLM supports positions='absolute', tie_kv=False and residual=True only "
                             f"(its one stack already shares W_K, W_V between source and target), got {cfg}")
        self.cfg, self.reads_source = cfg, reads_source
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.register_buffer("pe", sinusoidal_positions(cfg.max_len, cfg.d_model), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(cfg.d_model, cfg.h, cfg.d_ff) for _ in range(cfg.n_decoder_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.last_caches: list[KVCache] = []  # the caches of the last generate()

    def embed_at(self, tokens: Tensor, positions: Tensor) -> Tensor:
        """Embeddings plus sinusoidal positions: tokens, positions (B, L) -> (B, L, d_model)."""
        if int(positions.max()) >= self.cfg.max_len:
            raise ValueError(f"position {int(positions.max())} exceeds max_len={self.cfg.max_len}")
        return self.embed(tokens) + self.pe[positions]  # (B, L, d_model)

    def run(self, x: Tensor, mask: Tensor, caches: list[KVCache] | None = None,
            before: Callable[[int, Tensor], Tensor] | None = None) -> Tensor:
        """The stack: x (B, L, d_model) -> final normed states (B, L, d_model).

        mask: broadcastable to (B, h, L, L + cached). caches: one growing cache per layer.
        before(l, x): called before layer l, its result replaces x (how :class:`GatedCrossLM` inserts
        its blocks into this frozen stack without copying it).
        """
        for l, layer in enumerate(self.layers):
            if before is not None:
                x = before(l, x)
            x = layer(x, mask, None if caches is None else caches[l])  # (B, L, d_model)
        return self.norm(x)

    def _inputs(self, src: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(tokens (B, L), positions (B, L), mask (B, 1, L, L)) of the sequence the stack reads."""
        tokens = torch.cat([src, tgt_in], dim=1) if self.reads_source else tgt_in  # (B, L)
        mask = prefix_mask(src if self.reads_source else src[:, :0], tgt_in)  # (B, 1, L, L)
        positions = ((tokens != PAD).long().cumsum(1) - 1).clamp_min(0)  # (B, L): real tokens counted
        return tokens, positions, mask

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, m, V) for source (B, n) and target inputs (B, m)."""
        tokens, positions, mask = self._inputs(src, tgt_in)
        y = self.run(self.embed_at(tokens, positions), mask)  # (B, L, d_model)
        return self.out(y[:, -tgt_in.shape[1]:])  # the target positions: (B, m, V)

    @torch.no_grad()
    def generate(self, src: Tensor, steps: int, bos: int = BOS) -> tuple[Tensor, Tensor]:
        """Greedy decoding with a growing cache in every layer: (tokens (B, steps), logits (B, steps, V)).

        Step 0 feeds the n source tokens and BOS (the prefill: every layer caches the K, V of all
        n + 1 positions); each later step feeds the newest token alone, which reads the n + t + 1
        cached positions. The logits are computed for the last position only.
        """
        if steps < 1:
            raise ValueError(f"steps must be ≥ 1, got {steps}")
        B = src.shape[0]
        token = torch.full((B, 1), bos, dtype=torch.long, device=src.device)  # (B, 1)
        tokens, positions, mask = self._inputs(src, token)  # prefill: (B, n + 1)
        key_real = mask[:, :, -1:, :]  # (B, 1, 1, n + 1): what the newest token may read
        caches = [KVCache(static=False) for _ in self.layers]
        x = self.embed_at(tokens, positions)
        out, all_logits = [], []
        for t in range(steps):
            y = self.run(x, mask, caches)  # (B, f, d_model)
            logits = self.out(y[:, -1])  # (B, V)
            all_logits.append(logits)
            token = logits.argmax(-1, keepdim=True)  # (B, 1)
            out.append(token)
            positions = positions[:, -1:] + 1  # (B, 1)
            key_real = torch.cat([key_real, torch.ones_like(key_real[..., :1])], dim=-1)  # (B, 1, 1, n + t + 2)
            x, mask = self.embed_at(token, positions), key_real
        self.last_caches = caches  # kept for inspection: chapter 10 measures their bytes
        return torch.cat(out, dim=1), torch.stack(all_logits, dim=1)


class GatedCrossLM(nn.Module):
    """A frozen language model that learns to read a source through gated cross-attention (chapter 10).

    ``lm``: a trained :class:`PrefixLM` with ``reads_source=False``; its parameters are frozen here
    (``requires_grad = False``). New, trainable: an encoder of ``cfg.n_encoder_layers`` layers
    (own embedding) and a :class:`~crossattn.nn.layers.GatedCrossAttention` block before every
    ``every``-th layer of the LM (layers 0, every, 2·every, ...), each reading the encoder's last
    layer. With the gates at 0 the model's logits are the frozen LM's, exactly.
    """

    def __init__(self, lm: PrefixLM, cfg: ModelConfig, every: int = 1, n_kv_heads: int | None = None) -> None:
        super().__init__()
        if not isinstance(lm, PrefixLM) or lm.reads_source:
            raise ValueError("lm must be a PrefixLM with reads_source=False: the text-only model to extend")
        if lm.cfg.d_model != cfg.d_model or lm.cfg.vocab_size != cfg.vocab_size:
            raise ValueError(f"cfg must keep the LM's d_model={lm.cfg.d_model} and vocab_size={lm.cfg.vocab_size}, "
                             f"got {cfg.d_model} and {cfg.vocab_size}")
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.cfg, self.every, self.lm = cfg, every, lm
        lm.requires_grad_(False)  # frozen: only the encoder and the gated blocks learn
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.register_buffer("pe", sinusoidal_positions(cfg.max_len, cfg.d_model), persistent=False)
        self.encoder = nn.ModuleList(EncoderLayer(cfg.d_model, cfg.h, cfg.d_ff) for _ in range(cfg.n_encoder_layers))
        self.encoder_norm = nn.LayerNorm(cfg.d_model)
        self.gated = nn.ModuleDict({str(l): GatedCrossAttention(cfg.d_model, cfg.h, cfg.d_ff, n_kv_heads)
                                    for l in range(0, len(lm.layers), every)})
        self.last_caches: tuple[dict[str, KVCache], list[KVCache]] = ({}, [])  # of the last generate()

    def encode(self, src: Tensor) -> Tensor:
        """The encoder's last layer S: (B, n, d_model) for a source (B, n)."""
        if src.dim() != 2:
            raise ValueError(f"src must be a (B, n) tensor of token ids, got shape {tuple(src.shape)}")
        n = src.shape[1]
        if n > self.cfg.max_len:
            raise ValueError(f"source of length {n} exceeds max_len={self.cfg.max_len}")
        mask = (src != PAD)[:, None, None, :]  # (B, 1, 1, n)
        s = self.embed(src) + self.pe[:n]  # (B, n, d_model)
        for layer in self.encoder:
            s = layer(s, mask)
        return self.encoder_norm(s)

    def _reader(self, s: Tensor | None, src: Tensor, caches: dict[str, KVCache] | None) -> Callable[[int, Tensor], Tensor]:
        cross_mask = (src != PAD)[:, None, None, :]  # (B, 1, 1, n)

        def before(l: int, x: Tensor) -> Tensor:
            block = self.gated[str(l)] if str(l) in self.gated else None
            if block is None:
                return x
            return block(x, s, cross_mask, None if caches is None else caches[str(l)])

        return before

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, m, V): the frozen LM over tgt_in, reading src through the gated blocks."""
        tokens, positions, mask = self.lm._inputs(src, tgt_in)  # the target alone
        y = self.lm.run(self.lm.embed_at(tokens, positions), mask, before=self._reader(self.encode(src), src, None))
        return self.lm.out(y)  # (B, m, V)

    @torch.no_grad()
    def generate(self, src: Tensor, steps: int, bos: int = BOS) -> tuple[Tensor, Tensor]:
        """Greedy decoding: the source is encoded once and each gated block keeps a static cache of its
        K, V (n positions); each LM layer keeps a growing cache of the target. Returns
        (tokens (B, steps), logits (B, steps, V))."""
        if steps < 1:
            raise ValueError(f"steps must be ≥ 1, got {steps}")
        B = src.shape[0]
        s = self.encode(src)  # (B, n, d_model), read once by every gated block
        cross = {key: KVCache(static=True) for key in self.gated}
        caches = [KVCache(static=False) for _ in self.lm.layers]
        token = torch.full((B, 1), bos, dtype=torch.long, device=src.device)  # (B, 1)
        out, all_logits = [], []
        for t in range(steps):
            x = self.lm.embed_at(token, torch.full_like(token, t))  # (B, 1, d_model)
            y = self.lm.run(x, None, caches, before=self._reader(s if t == 0 else None, src, cross))
            logits = self.lm.out(y[:, -1])  # (B, V)
            all_logits.append(logits)
            token = logits.argmax(-1, keepdim=True)
            out.append(token)
        self.last_caches = (cross, caches)  # kept for inspection: chapter 10 measures their bytes
        return torch.cat(out, dim=1), torch.stack(all_logits, dim=1)
