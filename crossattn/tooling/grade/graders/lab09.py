"""Lab 9, pictures from words: image queries read the prompt, guidance, a word's map, the static text cache.

Cross-attention is computed here in NumPy with B ≠ P ≠ T and d_model ≠ d_k ≠ d_v, and judged by a
property too: the words in another order (keys and values permuted together) change nothing. Guidance
is judged at w = 0 (the unconditional velocity), w = 1 (the prompt's) and two other scales; a word's
map against the mean over heads divided by its sum, on a grid with rows ≠ cols, and by its property
(each map sums to 1). The sampler runs in the child on a small TinyDenoiser drawn here (its output
layer not at zero, which would hide every mistake); its images are compared with the package model
run here with one static cache per block, and the child reports how often the blocks' W_K ran (once
per block) and which caches each call of the model got.
"""
from __future__ import annotations

import math

import numpy as np

from ..exercises import _array, _first, _randn, _sizes, _untouched, case, close

__all__ = ["GRADERS", "NEEDS"]


def _cross_attention(x, s, w_q, w_k, w_v):
    q, k, v = x @ w_q, s @ w_k, s @ w_v  # (B, P, d_k), (B, T, d_k), (B, T, d_v)
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])  # (B, P, T)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v  # (B, P, d_v)


def lab9_image_reads_text(rng):
    cases = []
    for _ in range(2):
        B, P, T, d_model, d_k, d_v = _sizes(rng, 6, 2, 9)
        x, s = _randn(rng, B, P, d_model), _randn(rng, B, T, d_model)
        w_q, w_k, w_v = _randn(rng, d_model, d_k), _randn(rng, d_model, d_k), _randn(rng, d_model, d_v)
        expected = _cross_attention(x, s, w_q, w_k, w_v)
        label = f"image_reads_text(x {x.shape}, s {s.shape}, w_q {w_q.shape}, w_k {w_k.shape}, w_v {w_v.shape})"
        cases.append(case("tcall", (x, s, w_q, w_k, w_v), label, lambda v, r, e=expected, lab=label: _first(
            close(v, e, lab, rtol=1e-9, atol=1e-12), _untouched(r, lab))))
        perm = rng.permutation(T)
        label_p = label + " with the words in another order"
        cases.append(case("tcall", (x, s[:, perm], w_q, w_k, w_v), label_p, lambda v, r, e=expected, lab=label_p:
                          close(v, e, lab + " (must not depend on the order of the words)", rtol=1e-9, atol=1e-12)))
    return cases


def lab9_guided_velocity(rng):
    cases = []
    B, P, D = _sizes(rng, 3, 2, 9)
    v_prompt, v_null = _randn(rng, B, P, D), _randn(rng, B, P, D)
    for w in (0.0, 1.0, float(rng.uniform(1.5, 6.0)), float(rng.uniform(0.1, 0.4))):
        label = f"guided_velocity(v_prompt {v_prompt.shape}, v_null {v_null.shape}, w={w:.3g})"
        what = {0.0: " (w = 0: the unconditional velocity v_null)", 1.0: " (w = 1: the prompt's velocity v_prompt)"}
        cases.append(case("tcall", (v_prompt, v_null, w), label, lambda v, r, e=v_null + w * (v_prompt - v_null),
                          lab=label, w=w: _first(close(v, e, lab + what.get(w, ""), rtol=1e-9, atol=1e-12),
                                                 _untouched(r, lab))))
    return cases


def lab9_word_attention_map(rng):
    cases = []
    for _ in range(3):
        B, h, rows, cols, T = _sizes(rng, 5, 2, 7)
        P = rows * cols
        scores = _randn(rng, B, h, P, T, scale=2.0)
        e = np.exp(scores - scores.max(-1, keepdims=True))
        weights = e / e.sum(-1, keepdims=True)  # (B, h, P, T): each position's weights sum to 1 over the words
        word = int(rng.integers(0, T))
        mean = weights[..., word].mean(axis=1)  # (B, P)
        expected = (mean / mean.sum(-1, keepdims=True)).reshape(B, rows, cols)
        label = f"word_attention_map(weights {weights.shape}, word={word}, rows={rows}, cols={cols})"

        def judge(v, r, e=expected, label=label):
            got, err = _array(v, label, e.shape)
            if err:
                return err
            if not np.allclose(got.reshape(len(got), -1).sum(-1), 1.0):
                return f"{label}: a map does not sum to 1 over the image"
            return _first(close(got, e, label, rtol=1e-9, atol=1e-12), _untouched(r, label))
        cases.append(case("call", (weights, word, rows, cols), label, judge))
    return cases


def _denoiser(rng):
    """A small TinyDenoiser drawn from ``rng``: its config (a dict) and its weights (name -> float32 array)."""
    import torch

    from crossattn.experiments.text_to_image import TextToImageConfig, TinyDenoiser

    h = int(rng.choice([1, 2]))
    cfg = {"p": int(rng.choice([2, 4])), "d_model": 2 * h * int(rng.integers(2, 5)), "h": h,  # even: the time features
           "d_ff": int(rng.integers(8, 25)), "layers": int(rng.integers(2, 4))}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**31)))
        model = TinyDenoiser(TextToImageConfig(**cfg))
        torch.nn.init.normal_(model.out.weight, std=0.3)  # at zero, as trained from, the velocity hides every mistake
    return cfg, {name: t.detach().numpy().copy() for name, t in model.state_dict().items()}


def _reference_sample(cfg, weights, words, x, steps):
    import torch

    from crossattn.experiments.text_to_image import TextToImageConfig, TinyDenoiser
    from crossattn.nn.cache import KVCache

    model = TinyDenoiser(TextToImageConfig(**cfg)).eval()
    model.load_state_dict({name: torch.from_numpy(w.copy()) for name, w in weights.items()})
    x, words = torch.from_numpy(x.copy()), torch.from_numpy(words.copy())
    caches = [KVCache(static=True) for _ in model.blocks]
    with torch.no_grad():
        for i in range(steps):
            x = x + model(x, torch.full((len(x),), i / steps), words, caches) / steps
    return x.numpy()


def lab9_sample_cached(rng):
    from crossattn.experiments.text_to_image import TextToImageConfig, all_prompts, tokens

    cases = []
    for _ in range(2):
        cfg, weights = _denoiser(rng)
        shape = TextToImageConfig(**cfg)
        B, steps = int(rng.integers(1, 5)), int(rng.integers(3, 7))
        words = tokens(all_prompts()[rng.choice(36, size=B, replace=False)])  # (B, T)
        x = rng.standard_normal((B, shape.n_patches, shape.patch_dim)).astype(np.float32)  # (B, P, patch_dim)
        expected = _reference_sample(cfg, weights, words, x, steps)
        layers = cfg["layers"]
        label = (f"sample_cached(TinyDenoiser(d_model={cfg['d_model']}, h={cfg['h']}, layers={layers}, p={cfg['p']}), "
                 f"words {words.shape}, x {x.shape}, steps={steps})")

        def judge(v, r, e=expected, layers=layers, steps=steps, label=label):
            err = close(v, e, label, rtol=1e-4, atol=1e-5)
            if err:
                return err
            f, count = r.extra, r.extra.get("projected")
            if count == layers:
                return None
            if count is None or count < layers:
                return f"{label}: the blocks' W_K ran {count} times, expected once per block ({layers})"
            if f.get("uncached_calls"):
                why = "no caches were passed to the model"
            elif not f.get("all_static"):
                why = "the caches are growing ones (KVCache() without static=True)"
            elif not f.get("same_caches"):
                why = "new caches were made at some step"
            else:
                why = "the caches were not reused"
            return (f"{label}: the prompt's keys and values were projected {count} times ({steps} steps, {layers} "
                    f"blocks), expected {layers}: {why}")
        cases.append(case("sample", (cfg, weights, words, x, steps), label, judge))
    return cases


GRADERS = {"image_reads_text": lab9_image_reads_text, "guided_velocity": lab9_guided_velocity,
           "word_attention_map": lab9_word_attention_map, "sample_cached": lab9_sample_cached}
NEEDS = {"imports": ("torch", "crossattn.nn.cache", "crossattn.nn.layers", "crossattn.experiments.text_to_image"),
         "parts": ("core", "nn", "experiments")}
