"""What the key/value caches of chapter 5 save: the FLOPs of greedy decoding and the bytes of the caches.

Greedy decoding of ``T`` steps (:func:`crossattn.nn.decoding.greedy_decode`) in its three variants:

  "none"  — step t re-runs the decoder over the whole prefix of f = t + 1 tokens, and every decoder
            layer re-projects the n source states with W_K and W_V;
  "cross" — the cross-attention K, V are projected once per source and layer, at step 0;
  "both"  — the self-attention K, V are cached too, so step t feeds only its newest token (f = 1),
            which attends to the t + 1 cached rows.

FLOPs count the matrix products only, 2 per multiply-add (the convention of :mod:`crossattn.cost`),
exactly what ``torch.utils.flop_counter.FlopCounterMode`` counts (``mm``, ``addmm``, ``bmm``).
Left out, by both: softmax, layer norms, GELU, residual additions, masking, the sinusoidal positions,
embedding lookups, the biases of the linear layers (in this model only the feed-forward layers have
any) and the argmax — elementwise work of order f·n or f·d_model per layer and step, small next to
the products.

The uncached variants compute the logits at every position of the re-run prefix and keep only the
last, as :func:`crossattn.nn.decoding.greedy_decode` does; ``prefix_logits=False`` in
:func:`cache_savings` counts instead an implementation that computes the last position's only.

Bytes: decoding one token at a time is limited by memory traffic more than by arithmetic. The
products of a step read every weight they use once, whatever the batch, but each sequence's caches in
full: :func:`step_bytes` counts the bytes of the operands of every matrix product of a step (what the
products must at least read), split into weights, cross-attention K, V, self-attention K, V and
activations; :func:`measure_bytes_per_step` counts the same from the products PyTorch runs.

Time: :func:`time_steps` times single decoding steps of each variant in interleaved rounds, in CPU
time, so that the medians of their ratios can be compared on a shared, noisy machine.

Shapes: B batch, n source length (padded), f tokens fed to the decoder at a step, d = d_model
(chapter 2's d is the width of one head, here d_head), h heads of width d_head = d/h, L decoder
layers, N_voc vocabulary size. With h heads of width d_head the products cost what one head of
width h·d_head costs, so h drops out of every count.
"""
from __future__ import annotations

import ast
import difflib
import inspect
import os
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from fractions import Fraction

import torch
from torch import Tensor

from ..core.cost import attention_flops
from ..nn.cache import KVCache
from ..nn.decoding import CACHE_MODES, greedy_decode
from ..nn.model import EncoderDecoder, ModelConfig
from ..nn.positions import CROSS_BIAS

__all__ = [
    "DecodingFlops", "encoder_flops", "step_flops", "decoding_flops", "flops_polynomial",
    "measure_decoding_flops", "measure_flops_per_step", "cache_savings", "self_cache_wins_from",
    "CacheBytes", "cache_bytes", "PublishedConfig", "PUBLISHED_CONFIGS", "stored_bytes", "caches_stored_bytes",
    "allocated_bytes", "StepBytes", "step_bytes", "measure_bytes_per_step", "decoder_parameters",
    "weights_read_per_step", "time_steps", "forward_cache_diff",
]


# -- FLOPs -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DecodingFlops:
    """Matmul FLOPs of greedy decoding, split by where they go (chapter 5)."""

    encoder: int = 0  # the encoder, run once per source (and the transparent-attention mix, if any)
    cross_kv: int = 0  # W_K and W_V of each decoder layer's cross-attention on the n source states
    self_attention: int = 0  # decoder self-attention: W_Q, W_K, W_V, W_O, Q Kᵀ and A V
    cross_attention: int = 0  # cross-attention besides its K, V: W_Q, W_O, Q Kᵀ and A V
    feed_forward: int = 0  # the two linear maps of each decoder layer's MLP
    logits: int = 0  # the output projection to the vocabulary, for every position fed in

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def __add__(self, other: DecodingFlops) -> DecodingFlops:
        return DecodingFlops(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def _check(cfg: ModelConfig, n: int, cache: str, batch: int) -> None:
    if cache not in CACHE_MODES:
        raise ValueError(f"cache must be one of {CACHE_MODES}, got {cache!r}")
    if n < 1 or batch < 1:
        raise ValueError(f"need n ≥ 1 and batch ≥ 1, got n={n}, batch={batch}")


def encoder_flops(cfg: ModelConfig, n: int, batch: int = 1) -> int:
    """Matmul FLOPs of ``model.encode`` on a (batch, n) source: the same in every decoding variant.

    Per encoder layer: W_Q, W_K, W_V, W_O on n tokens (4 · 2·n·d²), the scores and A V (4·n²·d),
    and the MLP (2 · 2·n·d·d_ff). With ``cross_reads="all"`` the learned mix of the encoder layers
    adds 2·L·(L_enc + 1)·n·d.
    """
    d = cfg.d_model
    per_layer = 8 * n * d * d + attention_flops(n, n, d) + 4 * n * d * cfg.d_ff
    mix = 2 * cfg.n_decoder_layers * (cfg.n_encoder_layers + 1) * n * d if cfg.cross_reads == "all" else 0
    return batch * (cfg.n_encoder_layers * per_layer + mix)


def step_flops(cfg: ModelConfig, n: int, t: int, cache: str, batch: int = 1) -> DecodingFlops:
    """Matmul FLOPs of decoding step t (t = 0, 1, ...) of ``greedy_decode``; the encoder is not included.

    The step feeds f tokens to the decoder — the whole prefix f = t + 1 without a self-attention
    cache, the newest token f = 1 with it — and their queries attend to t + 1 target positions and n
    source positions. Per decoder layer and sequence:

      self-attention   2·f·d² (W_Q) + 2·f·d² · 2 (W_K, W_V on the f tokens fed) + 2·f·d² (W_O)
                       + 4·f·(t + 1)·d (Q Kᵀ and A V)
      cross-attention  4·f·d² (W_Q, W_O) + 4·f·n·d (Q Kᵀ and A V)
                       + 4·n·d² (W_K, W_V on the source: every step for "none", at t = 0 otherwise)
      feed-forward     4·f·d·d_ff
    and once per step the logits, 2·f·d·N_voc (the decoder returns logits for all f positions).
    """
    _check(cfg, n, cache, batch)
    if t < 0:
        raise ValueError(f"step t must be ≥ 0, got {t}")
    d, L = cfg.d_model, cfg.n_decoder_layers
    f = 1 if cache == "both" else t + 1  # tokens fed to the decoder at this step
    keys = t + 1  # target positions the self-attention reads
    project_source = cache == "none" or t == 0
    return DecodingFlops(
        cross_kv=batch * L * (4 * n * d * d if project_source else 0),
        self_attention=batch * L * (8 * f * d * d + attention_flops(f, keys, d)),
        cross_attention=batch * L * (4 * f * d * d + attention_flops(f, n, d)),
        feed_forward=batch * L * 4 * f * d * cfg.d_ff,
        logits=batch * 2 * f * d * cfg.vocab_size,
    )


def decoding_flops(cfg: ModelConfig, n: int, steps: int, cache: str, batch: int = 1) -> DecodingFlops:
    """Matmul FLOPs of ``greedy_decode(model, src, steps, cache)`` for a (batch, n) source, in closed form.

    With S1 = Σ (t+1) = T(T+1)/2 and S2 = Σ (t+1)² = T(T+1)(2T+1)/6 over the T steps:
    the prefix variants ("none", "cross") feed S1 tokens in all and their self-attention scores
    cost 4·S2·d per layer (the O(T³) term); "both" feeds T tokens and its scores cost 4·S1·d.
    Equal to the sum of :func:`step_flops` over the steps plus :func:`encoder_flops` (tested).
    """
    _check(cfg, n, cache, batch)
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    d, L, T = cfg.d_model, cfg.n_decoder_layers, steps
    s1, s2 = T * (T + 1) // 2, T * (T + 1) * (2 * T + 1) // 6
    fed = T if cache == "both" else s1  # tokens fed to the decoder over all steps: Σ f
    scores = 4 * d * (s1 if cache == "both" else s2)  # Σ 4·f·(t+1)·d
    projections = T if cache == "none" else 1  # how often each layer projects the source
    return DecodingFlops(
        encoder=encoder_flops(cfg, n, batch),
        cross_kv=batch * L * 4 * n * d * d * projections,
        self_attention=batch * L * (8 * d * d * fed + scores),
        cross_attention=batch * L * (4 * d * d + 4 * n * d) * fed,
        feed_forward=batch * L * 4 * d * cfg.d_ff * fed,
        logits=batch * 2 * d * cfg.vocab_size * fed,
    )


def flops_polynomial(cfg: ModelConfig, n: int, cache: str, batch: int = 1) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    """Coefficients (c0, c1, c2, c3) with ``decoding_flops(cfg, n, T, cache).total = c0 + c1·T + c2·T² + c3·T³``.

    Without the self-attention cache c2 > 0 (the prefix is re-run: O(T²)) and c3 > 0 (its
    self-attention scores: O(T³), with a coefficient smaller by a factor of order d); with both
    caches c3 = 0 and c2 comes only from attending to the growing cache (4·d per layer and token).
    """
    _check(cfg, n, cache, batch)
    d, L, n_voc = cfg.d_model, cfg.n_decoder_layers, cfg.vocab_size
    per_token = L * (8 * d * d + 4 * d * d + 4 * n * d + 4 * d * cfg.d_ff) + 2 * d * n_voc  # every token fed
    kv = L * 4 * n * d * d  # one projection of the source, all layers
    s1 = (Fraction(0), Fraction(1, 2), Fraction(1, 2), Fraction(0))  # T(T+1)/2
    s2 = (Fraction(0), Fraction(1, 6), Fraction(1, 2), Fraction(1, 3))  # T(T+1)(2T+1)/6
    t1 = (Fraction(0), Fraction(1), Fraction(0), Fraction(0))  # T
    fed = t1 if cache == "both" else s1
    scores = s1 if cache == "both" else s2
    coeffs = [Fraction(0)] * 4
    for k in range(4):
        coeffs[k] += per_token * fed[k] + L * 4 * d * scores[k]
        coeffs[k] += kv * (t1[k] if cache == "none" else 0)
    coeffs[0] += encoder_flops(cfg, n) + (kv if cache != "none" else 0)
    return tuple(batch * c for c in coeffs)  # type: ignore[return-value]


def measure_decoding_flops(model: EncoderDecoder, src: Tensor, steps: int, cache: str) -> int:
    """Matmul FLOPs of ``greedy_decode(model, src, steps, cache)`` as counted by PyTorch.

    ``torch.utils.flop_counter.FlopCounterMode`` intercepts every matrix product the call runs
    (mm, addmm, bmm, ...) and adds up 2·a·b·c for each (a×b)·(b×c). src: (B, n).
    """
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        greedy_decode(model, src, steps, cache=cache)
    return int(counter.get_total_flops())


def measure_flops_per_step(model: EncoderDecoder, src: Tensor, steps: int, cache: str) -> list[int]:
    """FLOPs counted by ``FlopCounterMode`` in ONE run of ``greedy_decode(model, src, steps, cache)``, read
    after every step: entry T − 1 is the count of a T-step decode, encoder included.

    Greedy decoding of T steps runs exactly the first T steps of a longer decode, so one run measures
    every T ≤ ``steps`` (tested against :func:`measure_decoding_flops`). src: (B, n).
    """
    from torch.utils.flop_counter import FlopCounterMode

    totals: list[int] = []
    decode = model.decode

    def counted(*args: object, **kwargs: object) -> Tensor:
        out = decode(*args, **kwargs)  # one decoding step
        totals.append(int(counter.get_total_flops()))
        return out

    with FlopCounterMode(display=False) as counter:
        model.decode = counted  # type: ignore[method-assign]  # an instance attribute shadows the method
        try:
            greedy_decode(model, src, steps, cache=cache)
        finally:
            del model.decode
    return totals


def cache_savings(cfg: ModelConfig, n: int, steps: int, batch: int = 1,
                  prefix_logits: bool = True) -> tuple[int, int]:
    """(FLOPs the cross-attention cache saves, FLOPs the self-attention cache saves on top of it).

    The first is ("none" − "cross") = (T − 1)·L·4·n·d²: linear in T. The second is
    ("cross" − "both"): quadratic (and, through the prefix's scores, cubic) in T.
    ``prefix_logits=False``: the uncached variants compute the logits of the last position only,
    not of every position of the re-run prefix; that removes 2·d·N_voc·(T(T+1)/2 − T) from the
    second saving (the first is unchanged).
    """
    none, cross, both = (decoding_flops(cfg, n, steps, c, batch).total for c in CACHE_MODES)
    self_saving = cross - both
    if not prefix_logits:
        T = steps
        self_saving -= batch * 2 * cfg.d_model * cfg.vocab_size * (T * (T + 1) // 2 - T)
    return none - cross, self_saving


def self_cache_wins_from(cfg: ModelConfig, n: int, max_steps: int = 1_000_000, prefix_logits: bool = True) -> int:
    """The smallest T from which the self-attention cache saves more FLOPs than the cross-attention cache.

    The cross cache saves a fixed 4·n·d² per layer and step, the self cache a saving that grows with
    the step; so the self cache wins from some T on, later for long sources (large n).
    ``prefix_logits``: as in :func:`cache_savings`.
    """
    def self_wins(T: int) -> bool:
        cross, self_ = cache_savings(cfg, n, T, prefix_logits=prefix_logits)
        return self_ > cross

    lo, hi = 1, 1
    while not self_wins(hi):  # doubling, then bisection: the difference self − cross saving grows with T
        if hi >= max_steps:
            raise ValueError(f"the self-attention cache does not win before T = {max_steps}")
        lo, hi = hi, min(2 * hi, max_steps)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if self_wins(mid) else (mid + 1, hi)
    return lo


# -- bytes ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CacheBytes:
    """Bytes of the two caches of one decoder after T steps (chapter 5, design §8.10)."""

    cross: int  # 2·L·n·width values: fixed once the source is encoded
    self_attn: int  # 2·L·T·width values: grows by 2·L·width per step

    @property
    def total(self) -> int:
        return self.cross + self.self_attn


def cache_bytes(n_layers: int, n: int, steps: int, width: int, dtype_bytes: int = 2, batch: int = 1) -> CacheBytes:
    """Bytes of the cross- and self-attention caches of ``n_layers`` decoder layers after ``steps`` steps.

    Each layer keeps K and V — two tensors of ``width`` = h·d_head values per position (= d_model in
    most models): the cross cache for the n source positions, the self cache for the T positions
    fed so far (BOS and the first T − 1 generated tokens: the last token is not fed back yet).
    dtype_bytes: 2 for float16/bfloat16, 4 for float32.
    """
    for name, val in (("n_layers", n_layers), ("n", n), ("width", width), ("dtype_bytes", dtype_bytes), ("batch", batch)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be an integer ≥ 0, got {steps!r}")
    per_position = 2 * n_layers * width * dtype_bytes * batch  # K and V, every layer
    return CacheBytes(cross=per_position * n, self_attn=per_position * steps)


@dataclass(frozen=True)
class PublishedConfig:
    """The decoder dimensions of a published encoder–decoder that set its cache sizes."""

    name: str
    cite: str  # BibTeX key in references.bib of the paper that gives these numbers
    n_decoder_layers: int
    d_model: int
    h: int  # attention heads
    d_head: int  # width of one head's keys and values

    @property
    def width(self) -> int:
        """Values cached per position, layer and tensor (K or V): h·d_head."""
        return self.h * self.d_head

    def cache_bytes(self, n: int, steps: int, dtype_bytes: int = 2, batch: int = 1) -> CacheBytes:
        return cache_bytes(self.n_decoder_layers, n, steps, self.width, dtype_bytes, batch)


#: Published decoder sizes. T5-11B keeps d_model = 1024 but has 128 heads of width 128, so its caches
#: are 16 times wider than d_model: the cache width is h·d_head, not d_model.
PUBLISHED_CONFIGS: tuple[PublishedConfig, ...] = (
    PublishedConfig("Transformer (big)", "vaswani2017attention", 6, 1024, 16, 64),
    PublishedConfig("T5-Base", "raffel2020exploring", 12, 768, 12, 64),
    PublishedConfig("T5-Large", "raffel2020exploring", 24, 1024, 16, 64),
    PublishedConfig("T5-11B", "raffel2020exploring", 24, 1024, 128, 128),
    PublishedConfig("BART-large", "lewis2020bart", 12, 1024, 16, 64),
    PublishedConfig("NLLB-200 (3.3B dense)", "nllb2022no", 24, 2048, 16, 128),
    PublishedConfig("Whisper large", "radford2023robust", 32, 1280, 20, 64),
)


def stored_bytes(*tensors: Tensor | None) -> int:
    """Bytes of memory actually held by ``tensors``: each distinct storage counted once.

    A view (``expand``, slicing, ``transpose``) shares its base's storage, so k and
    ``k.expand(beams, ...)`` together hold the bytes of k alone; a ``repeat`` holds its own.
    """
    seen: dict[int, int] = {}
    for t in tensors:
        if t is not None:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def caches_stored_bytes(caches: list[tuple[KVCache | None, KVCache | None]]) -> tuple[int, int]:
    """(bytes held by the cross caches, bytes held by the self caches) of a model's cache list."""
    self_t = [t for s, _ in caches if s is not None for t in (s.k, s.v)]
    cross_t = [t for _, c in caches if c is not None for t in (c.k, c.v)]
    return stored_bytes(*cross_t), stored_bytes(*self_t)


def allocated_bytes(fn: Callable[[], object]) -> int:
    """Bytes of CPU memory allocated while ``fn()`` runs, temporaries included, as ``torch.profiler`` records them.

    Unlike :func:`stored_bytes` this sees short-lived buffers too, e.g. the contiguous copy that
    ``torch.matmul`` makes of a stride-0 (expanded) batch before multiplying.
    """
    from torch.profiler import ProfilerActivity, profile

    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)  # the profiler's C++ side logs start/stop lines to stderr: keep them off the page
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return int(sum(e.self_cpu_memory_usage for e in prof.events() if e.self_cpu_memory_usage > 0))


# -- bytes moved per step ----------------------------------------------------------------------------

@dataclass(frozen=True)
class StepBytes:
    """Bytes read by the matrix products of one decoding step, split by what they read (chapter 5).

    Each operand of each product is counted once: what the product must at least bring from memory.
    A weight is read once per step whatever the batch; caches and activations once per sequence.
    """

    weights: int = 0  # every weight (and bias) a product of the step uses
    cross_kv: int = 0  # the cross-attention K and V of the n source positions, every layer
    self_kv: int = 0  # the self-attention K and V of the t + 1 target positions, every layer
    activations: int = 0  # token states, queries, attention weights; the source states when projected

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


def step_bytes(cfg: ModelConfig, n: int, t: int, cache: str, batch: int = 1, dtype_bytes: int = 4) -> StepBytes:
    """Bytes the matrix products of decoding step t of ``greedy_decode`` read (the encoder not included).

    With f tokens fed (t + 1 without a self-attention cache, 1 with it) and P = t + 1 target
    positions, per decoder layer and sequence (values; × dtype_bytes):

      weights      W_Q, W_K, W_V, W_O of self-attention (4·d²), W_Q, W_O of cross-attention (2·d²),
                   its W_K, W_V (2·d²) only when the source is projected (every step for "none", at
                   t = 0 otherwise), the MLP (2·d·d_ff + d_ff + d with its biases); once per step and
                   batch the output projection, N_voc·d
      cross_kv     K and V of the n source positions: 2·n·d, read by Q Kᵀ and A V at every step
      self_kv      K and V of the P target positions: 2·P·d
      activations  9·f·d (inputs of the seven linear maps and the two queries) + h·f·P + h·f·n (the
                   attention weights) + f·d_ff (the MLP's hidden layer) + 2·n·d (the source states,
                   when projected); once per step the f·d inputs of the output projection

    Element-wise work (softmax, norms, masks, additions) and copies are not counted, as in the FLOPs.
    """
    _check(cfg, n, cache, batch)
    if t < 0:
        raise ValueError(f"step t must be ≥ 0, got {t}")
    if int(dtype_bytes) != dtype_bytes or dtype_bytes < 1:
        raise ValueError(f"dtype_bytes must be a positive integer, got {dtype_bytes!r}")
    d, L, h, d_ff = cfg.d_model, cfg.n_decoder_layers, cfg.h, cfg.d_ff
    f = 1 if cache == "both" else t + 1  # tokens fed to the decoder at this step
    P = t + 1  # target positions the self-attention reads
    project = cache == "none" or t == 0  # the cross-attention projects the source at this step
    per_layer_weights = 6 * d * d + 2 * d * d_ff + d_ff + d + (2 * d * d if project else 0)
    per_layer_acts = 9 * f * d + h * f * P + h * f * n + f * d_ff + (2 * n * d if project else 0)
    return StepBytes(
        weights=dtype_bytes * (L * per_layer_weights + cfg.vocab_size * d),
        cross_kv=dtype_bytes * batch * L * 2 * n * d,
        self_kv=dtype_bytes * batch * L * 2 * P * d,
        activations=dtype_bytes * batch * (L * per_layer_acts + f * d),
    )


_PRODUCTS = ("mm", "addmm", "bmm", "baddbmm", "mv", "addmv", "dot")


def measure_bytes_per_step(model: EncoderDecoder, src: Tensor, steps: int, cache: str) -> list[int]:
    """Bytes of the operands of every matrix product in each decoding step of ONE run of
    ``greedy_decode(model, src, steps, cache)``: entry t is step t (the encoder not included).

    A ``TorchDispatchMode`` sees every product PyTorch runs (mm, addmm, bmm, ...) and adds up
    numel × element size of each of its tensor operands. src: (B, n).
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class OperandBytes(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            if func.overloadpacket.__name__ in _PRODUCTS:
                self.total += sum(a.numel() * a.element_size() for a in args if isinstance(a, Tensor))
            return func(*args, **(kwargs or {}))

    per_step: list[int] = []
    decode = model.decode

    def counted(*args: object, **kwargs: object) -> Tensor:
        with OperandBytes() as counter:
            out = decode(*args, **kwargs)  # one decoding step
        per_step.append(counter.total)
        return out

    model.decode = counted  # type: ignore[method-assign]  # an instance attribute shadows the method
    try:
        greedy_decode(model, src, steps, cache=cache)
    finally:
        del model.decode
    return per_step


def decoder_parameters(cfg: ModelConfig) -> int:
    """Parameters the decoder of :class:`EncoderDecoder` uses: embedding, layers, final norm, output.

    Per layer: self- and cross-attention 8·d² (6·d² with ``tie_kv``, whose W_K, W_V serve both, and
    the encoder), three layer norms 6·d, the MLP 2·d·d_ff + d_ff + d, the relative bias table if any;
    then the final norm 2·d, the embedding N_voc·d and the output projection N_voc·d (once if tied).
    Tested against the parameters of real models.
    """
    d, L, d_ff = cfg.d_model, cfg.n_decoder_layers, cfg.d_ff
    attention = (6 if cfg.tie_kv else 8) * d * d
    relative = cfg.h * (2 * cfg.max_len + 1) if cfg.positions in CROSS_BIAS else 0
    per_layer = attention + 6 * d + 2 * d * d_ff + d_ff + d + relative
    embeddings = cfg.vocab_size * d * (1 if cfg.tie_embeddings else 2)
    return L * per_layer + 2 * d + embeddings


def weights_read_per_step(cfg: ModelConfig, dtype_bytes: int = 2) -> int:
    """Bytes of weights the products of one step with both caches read (t ≥ 1): every decoder weight but
    the cross-attention W_K, W_V, which the cache made unnecessary after step 0 (and the norms, the
    embedding table — one row per token — and the relative bias, which no product reads)."""
    return step_bytes(cfg, 1, 1, "both", 1, dtype_bytes).weights


# -- time ------------------------------------------------------------------------------------------------

def time_steps(model: EncoderDecoder, src: Tensor, ts: Sequence[int], variants: dict[str, str],
               rounds: int = 15) -> dict[tuple[str, int], list[float]]:
    """CPU seconds of single greedy decoding steps: {(label, t): one time per round}.

    ``variants`` maps a label to a cache mode ("none", "cross", "both"); two labels with the same
    mode time the same thing twice, a control for the noise. For each step t in ``ts`` the state
    before the step is prepared once (the prefix of t + 1 tokens; the caches filled up to step t),
    and the step is timed again and again: a self-attention cache is restored after each call. In
    each round every (label, t) runs once, in an order that alternates from round to round, so
    that a slow moment of the machine hits every variant. CPU time (``time.process_time``) leaves
    out the time other programs held the processor; with one thread it is the time this
    computation took. Compare the variants by the medians of their per-round ratios.
    """
    if rounds < 1 or not ts or not variants:
        raise ValueError(f"need rounds ≥ 1, some steps and some variants; got rounds={rounds}, ts={list(ts)}, "
                         f"variants={variants}")
    for mode in variants.values():
        if mode not in CACHE_MODES:
            raise ValueError(f"cache mode must be one of {CACHE_MODES}, got {mode!r}")
    B = src.shape[0]
    mask = model.source_mask(src)  # (B, n)
    calls: dict[tuple[str, int], Callable[[], object]] = {}
    with torch.no_grad():
        memory = model.encode(src)
        tokens, _ = greedy_decode(model, src, max(ts) + 1)  # (B, max(ts) + 1)
        prefix = torch.cat([torch.ones(B, 1, dtype=torch.long, device=src.device), tokens], dim=1)
        for t in ts:
            if not 0 <= t < prefix.shape[1] - 1:
                raise ValueError(f"step t must be ≥ 0, got {t}")
            cross = model.new_caches(self_attn=False)
            model.decode(prefix[:, :1], memory, mask, cross)  # fills the cross caches
            both = model.new_caches()
            for step in range(t):  # the self caches hold positions 0..t-1
                model.decode(prefix[:, step:step + 1], memory if step == 0 else None, mask, both, offset=step)
            for label, mode in variants.items():
                calls[label, t] = _one_step(model, prefix, memory, mask, mode, t, cross, both)
        for call in calls.values():
            call()  # warm-up
        times: dict[tuple[str, int], list[float]] = {key: [] for key in calls}
        keys = list(calls)
        for r in range(rounds):
            for key in keys if r % 2 == 0 else keys[::-1]:
                start = time.process_time()
                calls[key]()
                times[key].append(time.process_time() - start)
    return times


def _one_step(model: EncoderDecoder, prefix: Tensor, memory: list[Tensor], mask: Tensor, mode: str, t: int,
              cross: list, both: list) -> Callable[[], object]:
    """Step t of decoding in the given mode, as a function that leaves every cache as it found it."""
    if mode == "none":
        return lambda: model.decode(prefix[:, :t + 1], memory, mask)  # the whole prefix, the source again
    if mode == "cross":
        return lambda: model.decode(prefix[:, :t + 1], None, mask, cross)  # the whole prefix

    def step() -> Tensor:
        saved = [(s.k, s.v) for s, _ in both]
        out = model.decode(prefix[:, t:t + 1], memory if t == 0 else None, mask, both, offset=t)
        for (s, c), (k, v) in zip(both, saved):
            s.k, s.v = k, v  # undo the appended row
            if t == 0:
                c.k = c.v = None  # step 0 filled the cross cache: empty it again
        return out

    return step


# -- the code of the cache --------------------------------------------------------------------------

def forward_cache_diff(context: int | None = None) -> str:
    """``MultiheadAttention.forward`` as a diff against the same forward without a cache (chapter 5).

    ``context``: how many unchanged lines to keep around each change (``None``: the whole function);
    skipped stretches show as a ``# ...`` line.

    Read from the package's source, so that a page showing it cannot drift from the code. The
    docstring is left out. The forward without a cache is the same source with the ``cache``
    argument removed and the ``if cache is None: ... else: ...`` statement (and the beam folding that
    follows it) replaced by its first branch: K and V projected at every call, as in chapter 4.
    Lines the cache adds start with ``+``, the line it replaces with ``-``, the others with a space.
    """
    from ..nn.layers import MultiheadAttention

    after = textwrap.dedent(inspect.getsource(MultiheadAttention.forward)).splitlines()
    fn = ast.parse("\n".join(after)).body[0]
    assert isinstance(fn, ast.FunctionDef)
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        after = after[:first.lineno - 1] + after[first.end_lineno:]  # drop the docstring
        fn = ast.parse("\n".join(after)).body[0]
        assert isinstance(fn, ast.FunctionDef)
    branch = next((s for s in fn.body if isinstance(s, ast.If) and ast.unparse(s.test) == "cache is None"), None)
    if branch is None:
        raise ValueError("MultiheadAttention.forward has no `if cache is None:` statement to diff")
    end = branch.end_lineno
    following = fn.body[fn.body.index(branch) + 1]
    if isinstance(following, ast.If) and "cache.beams" in ast.unparse(following.test):
        end = following.end_lineno  # the beam folding belongs to the cache too
    indent = " " * branch.col_offset
    plain = [indent + line.strip() for line in after[branch.body[0].lineno - 1:branch.body[-1].end_lineno]]
    before = after[:branch.lineno - 1] + plain + after[end:]
    before = [line for line in before if not line.strip().startswith("cache: KVCache")]
    if context is not None and (int(context) != context or context < 0):
        raise ValueError(f"context must be None or an integer >= 0, got {context!r}")
    diff = list(difflib.unified_diff(before, after, lineterm="", n=len(after) if context is None else int(context)))
    lines, hunks = [" " + after[0]], 0  # the def line always opens the listing
    for line in diff:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            hunks += 1
            if hunks > 1 or not diff[diff.index(line) + 1][1:].lstrip().startswith("def "):
                lines.append(" " + indent + "# ...")
            continue
        if line[1:] != after[0]:
            lines.append(line)
    return "\n".join(lines)
