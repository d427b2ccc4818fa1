"""Read by cross-attention or by concatenation? Three wirings on one task, one budget (chapter 10).

The wirings, all reading chapter 4's toy translation (:class:`~crossattn.nn.data.ToyTranslation`):

  "cross-attention"  chapter 4's encoder–decoder: every decoder layer cross-attends to the encoder's
                     last layer (:class:`~crossattn.nn.model.EncoderDecoder`);
  "prefix LM"        one decoder-only stack over [source; target] with a prefix-LM mask: the source
                     is read by every layer's self-attention (:class:`~crossattn.nn.decoder_only.PrefixLM`);
  "gated"            a text-only LM trained first on target sentences, then frozen; a trainable
                     encoder and tanh-gated cross-attention blocks (gates at 0) learn to feed it the
                     source (Flamingo style, :class:`~crossattn.nn.decoder_only.GatedCrossLM`).

This module trains them (:func:`train_wirings`), counts their parameters (:func:`parameters`), and
gives what generating T tokens from a source of n tokens costs each of them: FLOPs by formula
(:func:`generation_flops`, :func:`step_flops`) and by ``FlopCounterMode`` (:func:`measure_generation_flops`),
and the bytes of their key/value caches (:func:`cache_bytes`, :func:`measure_cache_bytes`). FLOPs count
the matrix products only, 2 per multiply-add, as chapter 5 does (:mod:`crossattn.experiments.caching_cost`).
:func:`source_bytes_per_token` and :data:`SOURCE_READERS` give the cache bytes each source token costs
in published models, with multi-query and grouped-query attention (``n_kv_heads``).

Shapes: B batch, n source length, T generated tokens, t the step (0-based), d = d_model, d_ff the
feed-forward width, N_voc the vocabulary, L the decoder's layers, L_enc the encoder's, G the gated blocks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..core.cost import attention_flops
from ..nn.cache import KVCache
from ..nn.data import ToyTranslation
from ..nn.decoder_only import GatedCrossLM, PrefixLM
from ..nn.decoding import greedy_decode
from ..nn.model import EncoderDecoder, ModelConfig
from ..nn.train import TrainConfig, seed_everything, token_accuracy, train
from .caching_cost import decoding_flops, encoder_flops

__all__ = [
    "WIRINGS", "WiringsConfig", "WiringResult", "build", "parameters", "train_wirings", "gate_values",
    "step_flops", "generation_flops", "measure_generation_flops", "WiringCache", "cache_bytes",
    "measure_cache_bytes", "SourceReader", "SOURCE_READERS", "source_bytes_per_token",
]

WIRINGS = ("cross-attention", "prefix LM", "gated")


def _check_wiring(wiring: str) -> None:
    if wiring not in WIRINGS:
        raise ValueError(f"wiring must be one of {WIRINGS}, got {wiring!r}")


@dataclass
class WiringsConfig:
    """One task and one budget for the three wirings (defaults: a few seconds each on a CPU)."""

    model: ModelConfig = field(default_factory=lambda: ModelConfig(vocab_size=ToyTranslation().vocab_size))
    steps: int = 150  # optimiser steps of every wiring (the gated one: after its LM's)
    lm_steps: int = 150  # steps of the text-only LM the gated wiring freezes
    every: int = 1  # a gated block before every ``every``-th LM layer
    n_train: int = 4000
    n_test: int = 300
    seed: int = 0


@dataclass
class WiringResult:
    """What :func:`train_wirings` measures of one wiring."""

    wiring: str
    accuracy: float  # teacher-forced token accuracy on held-out pairs (sources never trained on)
    trainable: int  # parameters the optimiser updates
    total: int  # all parameters, frozen ones included
    losses: list[float]


def build(wiring: str, cfg: ModelConfig, lm: PrefixLM | None = None, every: int = 1) -> nn.Module:
    """A fresh model of ``wiring``; "gated" needs the text-only ``lm`` it freezes."""
    _check_wiring(wiring)
    if wiring == "cross-attention":
        return EncoderDecoder(cfg)
    if wiring == "prefix LM":
        return PrefixLM(cfg)
    if lm is None:
        raise ValueError("the gated wiring extends a trained text-only LM: pass lm=PrefixLM(cfg, reads_source=False)")
    return GatedCrossLM(lm, cfg, every=every)


def parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters of ``model``, each shared tensor counted once."""
    params = list(model.parameters())  # nn.Module yields a shared Parameter once
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def gate_values(model: GatedCrossLM) -> dict[str, tuple[float, float]]:
    """{layer: (tanh(alpha_attn), tanh(alpha_ff))}: how far each gated block is open."""
    if not isinstance(model, GatedCrossLM):
        raise ValueError(f"gate_values reads a GatedCrossLM, got {type(model).__name__}")
    return {key: (torch.tanh(b.alpha_attn).item(), torch.tanh(b.alpha_ff).item()) for key, b in model.gated.items()}


def train_wirings(wc: WiringsConfig | None = None, wirings: tuple[str, ...] = WIRINGS,
                  ) -> tuple[dict[str, WiringResult], dict[str, nn.Module]]:
    """Train each of ``wirings`` on the toy translation with the same steps, batch and learning rate.

    Every model starts from ``seed_everything(wc.seed)``; the held-out pairs share no source with the
    training pairs (:meth:`ToyTranslation.split`). The gated wiring first trains its text-only LM
    for ``lm_steps`` steps on the training targets alone (the source is ignored), then freezes it.
    Returns ({wiring: result}, {wiring: trained model}; the frozen LM under "LM").
    """
    wc = wc or WiringsConfig()
    for w in wirings:
        _check_wiring(w)
    task = ToyTranslation()
    train_pairs, test_pairs = task.split(wc.n_train, wc.n_test, seed=wc.seed)
    budget = TrainConfig(steps=wc.steps, seed=wc.seed)
    results, models = {}, {}
    for wiring in wirings:
        lm = None
        if wiring == "gated":
            seed_everything(wc.seed)
            lm = PrefixLM(wc.model, reads_source=False)
            train(lm, train_pairs, TrainConfig(steps=wc.lm_steps, seed=wc.seed))  # type: ignore[arg-type]
            models["LM"] = lm
        seed_everything(wc.seed)
        model = build(wiring, wc.model, lm, wc.every)
        history = train(model, train_pairs, budget)  # type: ignore[arg-type]
        trainable, total = parameters(model)
        results[wiring] = WiringResult(wiring, token_accuracy(model, test_pairs), trainable, total,  # type: ignore[arg-type]
                                       history.losses)
        models[wiring] = model
    return results, models


# -- FLOPs ---------------------------------------------------------------------------------------------

def _sizes(n: int, t: int) -> None:
    if int(n) != n or n < 1 or int(t) != t or t < 0:
        raise ValueError(f"need an integer n ≥ 1 and t ≥ 0, got n={n!r}, t={t!r}")


def _gated_blocks(cfg: ModelConfig, every: int) -> int:
    if int(every) != every or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    return len(range(0, cfg.n_decoder_layers, every))


def step_flops(wiring: str, cfg: ModelConfig, n: int, t: int, every: int = 1) -> int:
    """Matmul FLOPs of step t of cached greedy decoding from a source of n tokens (batch 1).

    Per layer and token fed, every wiring spends 8·d² on W_Q, W_K, W_V, W_O of its self-attention and
    4·d·d_ff on its MLP; the scores and A V cost 4·d per key read. The logits cost 2·d·N_voc. Then:

      cross-attention  step 0 runs the encoder and projects the n source states with W_K, W_V in
                       every decoder layer (4·n·d² each); each step's token reads t + 1 target keys
                       and, through cross-attention, n source keys for another 4·d² (W_Q, W_O);
      prefix LM        step 0 feeds n + 1 tokens (the source and BOS) through all L layers, n + 1
                       keys each; step t ≥ 1 feeds one token that reads n + t + 1 cached keys;
      gated            step 0 runs the encoder and projects the source in each of the G gated blocks;
                       each step's token runs the L frozen layers (t + 1 keys) and the G blocks
                       (W_Q, W_O, n keys, an MLP).
    """
    _check_wiring(wiring)
    _sizes(n, t)
    d, L, F, V = cfg.d_model, cfg.n_decoder_layers, cfg.d_ff, cfg.vocab_size
    logits = 2 * d * V
    if wiring == "cross-attention":
        flops = decoding_flops(cfg, n, t + 1, "both").total - (decoding_flops(cfg, n, t, "both").total if t else 0)
        return flops
    if wiring == "prefix LM":
        f, keys = (n + 1, n + 1) if t == 0 else (1, n + t + 1)  # tokens fed, keys read
        return L * (8 * f * d * d + attention_flops(f, keys, d) + 4 * f * d * F) + logits
    G = _gated_blocks(cfg, every)
    start = encoder_flops(cfg, n) + G * 4 * n * d * d if t == 0 else 0
    lm = L * (8 * d * d + attention_flops(1, t + 1, d) + 4 * d * F)
    blocks = G * (4 * d * d + attention_flops(1, n, d) + 4 * d * F)
    return start + lm + blocks + logits


def generation_flops(wiring: str, cfg: ModelConfig, n: int, steps: int, every: int = 1) -> int:
    """Matmul FLOPs of generating ``steps`` tokens greedily with caches: the sum of :func:`step_flops`."""
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer ≥ 1, got {steps!r}")
    return sum(step_flops(wiring, cfg, n, t, every) for t in range(steps))


def _generate(model: nn.Module, src: Tensor, steps: int) -> None:
    if isinstance(model, EncoderDecoder):
        greedy_decode(model, src, steps, cache="both")
    elif isinstance(model, (PrefixLM, GatedCrossLM)):
        model.generate(src, steps)
    else:
        raise ValueError(f"model must be an EncoderDecoder, a PrefixLM or a GatedCrossLM, got {type(model).__name__}")


def measure_generation_flops(model: nn.Module, src: Tensor, steps: int) -> int:
    """Matmul FLOPs of cached greedy generation of ``steps`` tokens, counted by ``FlopCounterMode``. src: (B, n)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        _generate(model, src, steps)
    return int(counter.get_total_flops())


# -- cache bytes -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WiringCache:
    """Bytes of a wiring's key/value caches after T steps, split by what they hold."""

    source: int  # K, V of the n source positions, in every layer that reads them
    target: int  # K, V of the T target positions fed (BOS and the first T − 1 generated tokens)

    @property
    def total(self) -> int:
        return self.source + self.target


def cache_bytes(wiring: str, cfg: ModelConfig, n: int, steps: int, every: int = 1, n_kv_heads: int | None = None,
                dtype_bytes: int = 4) -> WiringCache:
    """Cache bytes after ``steps`` steps from a source of n tokens (batch 1).

    Each layer that reads a position keeps its key and value: 2·width values, width = h·d_head = d
    (n_kv_heads·d_head for the cross-attention of a gated block with ``n_kv_heads``):
    "cross-attention" 2·L·n·d (source, one per decoder layer) + 2·L·T·d; "prefix LM" the same:
    every one of its L layers caches the n source positions; "gated" 2·G·n·width + 2·L·T·d.
    """
    _check_wiring(wiring)
    _sizes(n, steps)
    d, L = cfg.d_model, cfg.n_decoder_layers
    target = 2 * L * steps * d * dtype_bytes
    if wiring != "gated":
        return WiringCache(2 * L * n * d * dtype_bytes, target)
    kv = cfg.h if n_kv_heads is None else n_kv_heads
    if cfg.h % kv:
        raise ValueError(f"n_kv_heads must divide h={cfg.h}, got {n_kv_heads!r}")
    width = kv * (d // cfg.h)
    return WiringCache(2 * _gated_blocks(cfg, every) * n * width * dtype_bytes, target)


def _bytes(cache: KVCache | None) -> int:
    if cache is None or cache.k is None or cache.v is None:
        return 0
    return cache.k.numel() * cache.k.element_size() + cache.v.numel() * cache.v.element_size()


def measure_cache_bytes(model: nn.Module, src: Tensor, steps: int) -> WiringCache:
    """The bytes the caches of cached greedy generation really hold after ``steps`` steps. src: (1, n).

    Runs the wiring's decoding loop step by step with caches it can read afterwards.
    """
    if src.dim() != 2 or src.shape[0] != 1:
        raise ValueError(f"src must be one source of shape (1, n), got {tuple(src.shape)}")
    from ..nn.tokens import BOS

    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer ≥ 1, got {steps!r}")
    with torch.no_grad():
        if isinstance(model, EncoderDecoder):
            caches = model.new_caches()
            memory, mask = model.encode(src), model.source_mask(src)
            token = torch.full((1, 1), BOS, dtype=torch.long)
            for t in range(steps):
                logits = model.decode(token, memory if t == 0 else None, mask, caches, offset=t)
                token = logits[:, -1:].argmax(-1)
            return WiringCache(sum(_bytes(c) for _, c in caches), sum(_bytes(s) for s, _ in caches))
        if isinstance(model, PrefixLM):
            n = src.shape[1]
            model.generate(src, steps)
            caches = model.last_caches
            # every layer caches n + steps positions: the source's n belong to the source
            per_position = sum(_bytes(c) for c in caches) // (n + steps)
            return WiringCache(per_position * n, per_position * steps)
        if isinstance(model, GatedCrossLM):
            model.generate(src, steps)
            cross, caches = model.last_caches
            return WiringCache(sum(_bytes(c) for c in cross.values()), sum(_bytes(c) for c in caches))
    raise ValueError(f"model must be an EncoderDecoder, a PrefixLM or a GatedCrossLM, got {type(model).__name__}")


# -- published models ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceReader:
    """How a published model caches its source: the layers that read it and their key/value heads."""

    name: str
    cite: str  # BibTeX key of the paper behind the numbers
    wiring: str  # "cross-attention", "gated" or "concatenation"
    source_layers: int  # layers whose caches hold the source tokens
    n_kv_heads: int  # key/value heads of those layers (h for MHA, 1 for MQA, between for GQA)
    d_head: int

    def bytes_per_token(self, dtype_bytes: int = 2) -> int:
        return source_bytes_per_token(self.source_layers, self.n_kv_heads, self.d_head, dtype_bytes)


def source_bytes_per_token(source_layers: int, n_kv_heads: int, d_head: int, dtype_bytes: int = 2) -> int:
    """Cache bytes one source token costs: 2 (K and V) · layers · n_kv_heads · d_head · dtype_bytes."""
    for name, val in (("source_layers", source_layers), ("n_kv_heads", n_kv_heads), ("d_head", d_head),
                      ("dtype_bytes", dtype_bytes)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    return 2 * source_layers * n_kv_heads * d_head * dtype_bytes


#: Whisper large: 32 decoder layers cross-attend with 20 heads of 64 (MHA); the released Llama 3.2 11B Vision
#: adds 8 cross-attention layers with 8 of 32 key/value heads of 128 (GQA) to a 32-layer Llama 3 8B text
#: model; a LLaVA-style model on Llama 3 8B concatenates image tokens, cached in all 32 layers (8 KV heads
#: of 128); on the 7B Llama 2 of LLaVA-1.5 (32 layers, MHA with 32 heads of 128) the same costs four times more.
SOURCE_READERS: tuple[SourceReader, ...] = (
    SourceReader("Whisper large (audio frame)", "radford2023robust", "cross-attention", 32, 20, 64),
    SourceReader("Whisper large with MQA (hypothetical)", "shazeer2019fast", "cross-attention", 32, 1, 64),
    SourceReader("Llama 3.2 11B Vision (image token)", "dubey2024llama", "gated", 8, 8, 128),
    SourceReader("LLaVA-style on Llama 3 8B (image token)", "liu2023visual", "concatenation", 32, 8, 128),
    SourceReader("LLaVA-1.5 on Llama 2 7B (image token)", "liu2023visual", "concatenation", 32, 32, 128),
)
