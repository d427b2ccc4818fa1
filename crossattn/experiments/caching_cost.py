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

Shapes: B batch, n source length (padded), f tokens fed to the decoder at a step, d = d_model
(chapter 2's d is the width of one head, here d_head), h heads of width d_head = d/h, L decoder
layers, N_voc vocabulary size. With h heads of width d_head the products cost what one head of
width h·d_head costs, so h drops out of every count.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from fractions import Fraction

from torch import Tensor

from ..core.cost import attention_flops
from ..nn.cache import KVCache
from ..nn.decoding import CACHE_MODES, greedy_decode
from ..nn.model import EncoderDecoder, ModelConfig

__all__ = [
    "DecodingFlops", "encoder_flops", "step_flops", "decoding_flops", "flops_polynomial",
    "measure_decoding_flops", "measure_flops_per_step", "cache_savings", "self_cache_wins_from",
    "CacheBytes", "cache_bytes", "PublishedConfig", "PUBLISHED_CONFIGS", "stored_bytes", "caches_stored_bytes",
    "allocated_bytes",
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
