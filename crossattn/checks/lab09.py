"""Checkers for the exercises of lab 9, pictures from words: image queries read text keys and values.

The inputs keep every size distinct (B ≠ P ≠ T, d_model ≠ d_k ≠ d_v, a grid taller than wide), so
a swapped axis or a transposed result cannot pass. Every named common mistake gets its own hint, by
key from crossattn/checks/exercises/lab09.py; tests/checks/test_lab09.py feeds each one in, written
the way a student would write it.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..experiments.text_to_image import TextToImageConfig, TinyDenoiser, all_prompts, tokens
from ..nn.cache import KVCache
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, fail, passed
from ._torch_habits import watch
from .registry import exercise

__all__ = ["check_image_reads_text", "check_guided_velocity", "check_word_attention_map", "check_sample_cached"]


# ------------------------------------------------------------------------- 9.1 image reads text

def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, dim: int = -1) -> torch.Tensor:
    return torch.softmax(q @ k.transpose(-2, -1) / scale, dim=dim) @ v


def check_image_reads_text(image_reads_text: Callable) -> None:
    """Exercise 9.1: ``image_reads_text(x (B, P, d_model), s (B, T, d_model), w_q, w_k, w_v) -> (B, P, d_v)``."""
    ex = exercise("9.1")
    B, P, T, d_model, d_k, d_v = 2, 6, 4, 5, 3, 7
    g = torch.Generator().manual_seed(9)
    x, s = torch.randn(B, P, d_model, generator=g), torch.randn(B, T, d_model, generator=g)
    w_q, w_k, w_v = (torch.randn(d_model, w, generator=g) for w in (d_k, d_k, d_v))
    q, k, v = x @ w_q, s @ w_k, s @ w_v  # (B, P, d_k), (B, T, d_k), (B, T, d_v)
    want = _attend(q, k, v, math.sqrt(d_k))  # (B, P, d_v)
    with watch() as habits:
        try:
            out = call(image_reads_text, x, s, w_q, w_k, w_v, exercise=ex,
                       inputs=f"x {tuple(x.shape)}, s {tuple(s.shape)}")
        except CheckFailed as err:
            if err.key == "crash" and habits.batched_transpose:
                fail(ex, "batched_transpose", lead=f"{err.text}\n  Hint: ")
            raise
    got = as_array(out, ex)
    expect_shape(got, (B, P, d_v), ex, {(B, T, d_v): "reversed", (B, T, d_model): "reversed",
                                            (B, P, d_k): "keys_as_values"},
                 case=f"B={B}, P={P}, T={T}, d_model={d_model}, d_k={d_k}, d_v={d_v}")
    if not close(got, want.numpy(), tol=1e-5):
        diagnose(got, [
            (_attend(q, k, v, math.sqrt(d_k), dim=-2).numpy(), "softmax_over_queries"),
            (_attend(q, k, v, 1.0).numpy(), "unscaled"),
            (_attend(q, k, v, math.sqrt(d_model)).numpy(), "by_d_model"),
            ((q @ k.transpose(-2, -1) / math.sqrt(d_k) @ v).numpy(), "no_softmax"),
        ], ex, "wrong", d_k=d_k, d_model=d_model, tol=1e-5)
    passed(ex, f"queries from {P} image positions, keys and values from {T} words: output (B, P, d_v) "
               f"= {(B, P, d_v)}.")


# ------------------------------------------------------------------------- 9.2 guidance

def check_guided_velocity(guided_velocity: Callable) -> None:
    """Exercise 9.2: ``guided_velocity(v_prompt, v_null, w) -> v_null + w·(v_prompt − v_null)``."""
    ex = exercise("9.2")
    g = torch.Generator().manual_seed(92)
    v_prompt, v_null = torch.randn(3, 5, 12, generator=g), torch.randn(3, 5, 12, generator=g)
    for w in (2.5, 0.0, 1.0):
        got = as_array(call(guided_velocity, v_prompt, v_null, w, exercise=ex,
                            inputs=f"v_prompt, v_null {tuple(v_prompt.shape)}, w={w}"), ex)
        expect_shape(got, tuple(v_prompt.shape), ex, case=f"w={w}")
        want = v_null + w * (v_prompt - v_null)
        if not close(got, want.numpy(), tol=1e-5):
            diagnose(got, [
                ((v_prompt + w * (v_null - v_prompt)).numpy(), "swapped"),
                ((w * (v_prompt - v_null)).numpy(), "no_base"),
                ((w * v_prompt).numpy(), "scaled_prompt"),
                (((1 + w) * v_prompt - w * v_null).numpy(), "plus_one"),
                (((v_prompt + v_null) / 2).numpy(), "average"),
            ], ex, "wrong", w=w, tol=1e-5)
    passed(ex, "w = 0 gives the unconditional velocity, w = 1 the prompt's, w = 2.5 goes 2.5 times as far.")


# ------------------------------------------------------------------------- 9.3 a word's map

def check_word_attention_map(word_attention_map: Callable) -> None:
    """Exercise 9.3: ``word_attention_map(weights (B, h, P, T), word, rows, cols) -> (B, rows, cols)``."""
    ex = exercise("9.3")
    B, h, rows, cols, T, word = 2, 3, 4, 5, 3, 1
    P = rows * cols
    g = torch.Generator().manual_seed(93)
    weights = torch.softmax(2 * torch.randn(B, h, P, T, generator=g), dim=-1).numpy()  # rows sum to 1 over words
    got = as_array(call(word_attention_map, weights, word, rows, cols, exercise=ex,
                        inputs=f"weights {weights.shape}, word={word}, rows={rows}, cols={cols}"), ex)
    expect_shape(got, (B, rows, cols), ex, {(B, cols, rows): "swapped_grid"}, rows=rows, cols=cols,
                 case=f"B={B}, h={h}, P={P} = {rows}·{cols}, T={T}")
    mean = weights[..., word].mean(axis=1)  # (B, P)
    want = (mean / mean.sum(-1, keepdims=True)).reshape(B, rows, cols)
    if not close(got, want, tol=1e-6):
        head0 = weights[:, 0, :, word]
        soft = np.exp(mean) / np.exp(mean).sum(-1, keepdims=True)
        diagnose(got, [
            (mean.reshape(B, rows, cols), "no_normalise"),
            ((mean / mean.max(-1, keepdims=True)).reshape(B, rows, cols), "by_max"),
            (soft.reshape(B, rows, cols), "softmax"),
            ((head0 / head0.sum(-1, keepdims=True)).reshape(B, rows, cols), "one_head"),
            (want.reshape(B, P).reshape(B, cols, rows).transpose(0, 2, 1), "column_major"),
        ], ex, "wrong", rows=rows, cols=cols, tol=1e-6)
    passed(ex, f"word {word}'s weights, mean over {h} heads, a distribution over a {rows} × {cols} grid.")


# ------------------------------------------------------------------------- 9.4 the static text cache

def _small_model() -> TinyDenoiser:
    torch.manual_seed(94)
    model = TinyDenoiser(TextToImageConfig(d_model=16, h=2, d_ff=24, layers=2)).eval()
    torch.nn.init.normal_(model.out.weight, std=0.2)  # the zero-initialised output would hide every mistake
    return model


def _reference(model: TinyDenoiser, words: torch.Tensor, x: torch.Tensor, steps: int, time_shift: int = 0,
               caches: bool = True) -> torch.Tensor:
    cs = [KVCache(static=True) for _ in model.blocks] if caches else None
    for i in range(steps):
        t = torch.full((len(x),), (i + time_shift) / steps)
        x = x + model(x, t, words, cs) / steps
    return x


def check_sample_cached(sample_cached: Callable) -> None:
    """Exercise 9.4: ``sample_cached(model, words (B, T), x (B, P, patch_dim), steps) -> x`` after ``steps``
    Euler steps, the prompt's K, V projected once per block."""
    ex = exercise("9.4")
    model = _small_model()
    steps, layers = 4, len(model.blocks)
    words = torch.from_numpy(tokens(all_prompts()[[0, 17, 35]]))  # (B=3, T=3)
    x = torch.randn(3, model.cfg.n_patches, model.cfg.patch_dim, generator=torch.Generator().manual_seed(4))
    projected = []  # one entry per call of a W_K, on how many rows
    handles = [b.cross_attn.w_k.register_forward_hook(lambda m, a, o: projected.append(a[0].shape[-2]))
               for b in model.blocks]
    passed_caches: list[tuple[bool, ...]] = []  # per call: is each cache static?
    original = model.forward

    def spy(x_, t_, words_, caches=None):
        passed_caches.append(tuple(c.static for c in caches) if caches is not None else ())
        return original(x_, t_, words_, caches)

    model.forward = spy  # type: ignore[method-assign]
    try:
        with torch.no_grad():
            got = as_array(call(sample_cached, model, words, x.clone(), steps, exercise=ex,
                                inputs=f"model, words {tuple(words.shape)}, x {tuple(x.shape)}, steps={steps}"), ex)
    finally:
        for hnd in handles:
            hnd.remove()
        del model.forward
    expect_shape(got, tuple(x.shape), ex)
    with torch.no_grad():
        want = _reference(model, words, x, steps)
        if not close(got, want.numpy(), tol=1e-5):
            one = KVCache(static=True)
            shared = x
            for i in range(steps):
                shared = shared + model(shared, torch.full((3,), i / steps), words, [one] * layers) / steps
            diagnose(got, [
                (shared.numpy(), "shared_cache"),
                (_reference(model, words, x, steps, time_shift=1).numpy(), "wrong_time"),
            ], ex, "wrong", tol=1e-5)
    count = len(projected)
    if count > layers:
        flags = [f for call_flags in passed_caches for f in call_flags]
        if not flags:  # no cache passed: the prompt is projected at every step
            fail(ex, "no_cache", count=count, steps=steps, layers=layers)
        if all(flags):  # static caches, but new ones at every step
            fail(ex, "cache_per_step", count=count)
        fail(ex, "growing_cache", count=count)
    passed(ex, f"the same images as without a cache; the prompt projected {count} times ({layers} blocks), "
               f"not {steps * layers}.")
