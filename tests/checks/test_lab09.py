"""Lab 9's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crossattn.checks import (
    CheckFailed,
    check_guided_velocity,
    check_image_reads_text,
    check_sample_cached,
    check_word_attention_map,
)
from crossattn.nn.cache import KVCache
from tests.checks.conventions import named_mistakes_test
from tests.helpers import solution_namespace


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("09")


# --- Exercise 9.1: image_reads_text(x, s, w_q, w_k, w_v) --------------------------------------------

def reads_reversed(x, s, w_q, w_k, w_v):
    q, k, v = s @ w_q, x @ w_k, x @ w_v  # the words ask, the image answers
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1]), dim=-1) @ v


def reads_softmax_over_queries(x, s, w_q, w_k, w_v):
    q, k, v = x @ w_q, s @ w_k, s @ w_v
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1]), dim=1) @ v


def reads_unscaled(x, s, w_q, w_k, w_v):
    q, k, v = x @ w_q, s @ w_k, s @ w_v
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v


def reads_by_d_model(x, s, w_q, w_k, w_v):
    q, k, v = x @ w_q, s @ w_k, s @ w_v
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1]), dim=-1) @ v


def reads_keys_as_values(x, s, w_q, w_k, w_v):
    q, k = x @ w_q, s @ w_k
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1]), dim=-1) @ k


def reads_no_softmax(x, s, w_q, w_k, w_v):
    q, k, v = x @ w_q, s @ w_k, s @ w_v
    return q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1]) @ v


def reads_with_dot_T(x, s, w_q, w_k, w_v):
    q, k, v = x @ w_q, s @ w_k, s @ w_v
    return torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1) @ v  # .T of (B, T, d_k) is (d_k, T, B)


def reads_mean_of_values(x, s, w_q, w_k, w_v):
    v = s @ w_v  # (B, T, d_v): every position gets the mean word
    return v.mean(dim=1, keepdim=True).expand(-1, x.shape[1], -1)


# --- Exercise 9.2: guided_velocity(v_prompt, v_null, w) ----------------------------------------------

def guide_swapped(v_prompt, v_null, w):
    return v_prompt + w * (v_null - v_prompt)


def guide_no_base(v_prompt, v_null, w):
    return w * (v_prompt - v_null)


def guide_scaled_prompt(v_prompt, v_null, w):
    return w * v_prompt


def guide_plus_one(v_prompt, v_null, w):
    return (1 + w) * v_prompt - w * v_null


def guide_average(v_prompt, v_null, w):
    return (v_prompt + v_null) / 2


def guide_squared(v_prompt, v_null, w):
    return v_null + w ** 2 * (v_prompt - v_null)


# --- Exercise 9.3: word_attention_map(weights, word, rows, cols) --------------------------------------

def map_no_normalise(weights, word, rows, cols):
    return weights[..., word].mean(axis=1).reshape(len(weights), rows, cols)


def map_by_max(weights, word, rows, cols):
    m = weights[..., word].mean(axis=1)
    return (m / m.max(axis=-1, keepdims=True)).reshape(len(weights), rows, cols)


def map_softmax(weights, word, rows, cols):
    m = weights[..., word].mean(axis=1)
    e = np.exp(m)
    return (e / e.sum(axis=-1, keepdims=True)).reshape(len(weights), rows, cols)


def map_one_head(weights, word, rows, cols):
    m = weights[:, 0, :, word]
    return (m / m.sum(axis=-1, keepdims=True)).reshape(len(weights), rows, cols)


def map_column_major(weights, word, rows, cols):
    m = weights[..., word].mean(axis=1)
    m = m / m.sum(axis=-1, keepdims=True)
    return m.reshape(len(weights), cols, rows).transpose(0, 2, 1)


def map_swapped_grid(weights, word, rows, cols):
    m = weights[..., word].mean(axis=1)
    return (m / m.sum(axis=-1, keepdims=True)).reshape(len(weights), cols, rows)


def map_wrong_word(weights, word, rows, cols):
    m = weights[..., word + 1].mean(axis=1)
    return (m / m.sum(axis=-1, keepdims=True)).reshape(len(weights), rows, cols)


# --- Exercise 9.4: sample_cached(model, words, x, steps) -----------------------------------------------

def sample_no_cache(model, words, x, steps):
    for i in range(steps):
        x = x + model(x, torch.full((len(x),), i / steps), words) / steps
    return x


def sample_cache_per_step(model, words, x, steps):
    for i in range(steps):
        caches = [KVCache(static=True) for _ in model.blocks]
        x = x + model(x, torch.full((len(x),), i / steps), words, caches) / steps
    return x


def sample_shared_cache(model, words, x, steps):
    cache = KVCache(static=True)
    caches = [cache] * len(model.blocks)
    for i in range(steps):
        x = x + model(x, torch.full((len(x),), i / steps), words, caches) / steps
    return x


def sample_growing_cache(model, words, x, steps):
    caches = [KVCache() for _ in model.blocks]
    for i in range(steps):
        x = x + model(x, torch.full((len(x),), i / steps), words, caches) / steps
    return x


def sample_wrong_time(model, words, x, steps):
    caches = [KVCache(static=True) for _ in model.blocks]
    for i in range(1, steps + 1):
        x = x + model(x, torch.full((len(x),), i / steps), words, caches) / steps
    return x


def sample_one_step(model, words, x, steps):
    caches = [KVCache(static=True) for _ in model.blocks]
    return x + model(x, torch.zeros(len(x)), words, caches)


MISTAKES = {
    "9.1": {
        "reversed": reads_reversed,
        "softmax_over_queries": reads_softmax_over_queries,
        "unscaled": reads_unscaled,
        "by_d_model": reads_by_d_model,
        "keys_as_values": reads_keys_as_values,
        "no_softmax": reads_no_softmax,
        "batched_transpose": reads_with_dot_T,
        "wrong": reads_mean_of_values,
    },
    "9.2": {
        "swapped": guide_swapped,
        "no_base": guide_no_base,
        "scaled_prompt": guide_scaled_prompt,
        "plus_one": guide_plus_one,
        "average": guide_average,
        "wrong": guide_squared,
    },
    "9.3": {
        "no_normalise": map_no_normalise,
        "by_max": map_by_max,
        "softmax": map_softmax,
        "one_head": map_one_head,
        "column_major": map_column_major,
        "swapped_grid": map_swapped_grid,
        "wrong": map_wrong_word,
    },
    "9.4": {
        "no_cache": sample_no_cache,
        "cache_per_step": sample_cache_per_step,
        "shared_cache": sample_shared_cache,
        "growing_cache": sample_growing_cache,
        "wrong_time": sample_wrong_time,
        "wrong": sample_one_step,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


# --- special cases ----------------------------------------------------------------------------------

def test_the_lab_solutions_pass_and_print_what_they_got(solutions, capsys):
    check_image_reads_text(solutions["image_reads_text"])
    check_guided_velocity(solutions["guided_velocity"])
    check_word_attention_map(solutions["word_attention_map"])
    check_sample_cached(solutions["sample_cached"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("✓") for line in lines), lines
    assert "projected 2 times" in lines[3]


def test_the_package_layer_passes_the_first_exercise(capsys):
    # The course's own MultiheadAttention with one head computes the same: queries from x, K and V from s.
    def with_package_layer(x, s, w_q, w_k, w_v):
        q, k, v = x @ w_q, s @ w_k, s @ w_v
        return torch.nn.functional.scaled_dot_product_attention(q, k, v)
    check_image_reads_text(with_package_layer)
    assert capsys.readouterr().out.startswith("✓")


def test_numpy_answers_are_accepted_for_the_map_and_the_guidance(capsys):
    def guided_numpy(v_prompt, v_null, w):
        return np.asarray(v_null) + w * (np.asarray(v_prompt) - np.asarray(v_null))
    check_guided_velocity(guided_numpy)
    assert capsys.readouterr().out.startswith("✓")


def test_a_crash_on_one_image_too_is_not_called_a_batching_mistake():
    # the control of "batched_transpose": a function that fails unbatched as well gets the plain crash hint
    def crashes_always(x, s, w_q, w_k, w_v):
        return x @ w_k @ s  # (B, P, d_k) @ (B, T, d_model): d_k ≠ T, with or without the batch axis

    with pytest.raises(CheckFailed) as err:
        check_image_reads_text(crashes_always)
    assert err.value.key == "crash"
