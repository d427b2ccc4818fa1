"""The checkers of lab 8 accept the lab's own solutions, reject stubs, and name each common mistake.

Each mistake below is written the way a student would write it, as a whole function, and must fail
with its own hint (matched by `pytest.raises(CheckFailed, match=...)`). Reference solutions and stubs
of every lab are tested in tests/checks/test_all_labs.py.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from crossattn import attention
from crossattn.checks import (
    CheckFailed,
    check_kv_cache_values,
    check_latent_mixing,
    check_latent_score_entries,
    check_patchify,
    check_retrieve,
)
from tests.helpers import solution_namespace


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("08")


# --- Exercise 8.1: patchify(images, p) ------------------------------------------------------------

def _grid(images, p):
    B, H, W, C = images.shape
    return images.reshape(B, H // p, p, W // p, p, C), (B, H // p, W // p, C)


def patchify_plain_reshape(images, p):
    B, H, W, C = images.shape
    return images.reshape(B, -1, p * p * C)


def patchify_column_order(images, p):
    grid, (B, rows, cols, C) = _grid(images, p)
    return grid.transpose(0, 3, 1, 2, 4, 5).reshape(B, rows * cols, p * p * C)


def patchify_columns_inside(images, p):
    grid, (B, rows, cols, C) = _grid(images, p)
    return grid.transpose(0, 1, 3, 4, 2, 5).reshape(B, rows * cols, p * p * C)


def patchify_channels_first(images, p):
    grid, (B, rows, cols, C) = _grid(images, p)
    return grid.transpose(0, 1, 3, 5, 2, 4).reshape(B, rows * cols, p * p * C)


def patchify_strided(images, p):
    B, H, W, C = images.shape
    x = images.reshape(B, p, H // p, p, W // p, C)  # p first: every (H/p)-th pixel
    return x.transpose(0, 2, 4, 1, 3, 5).reshape(B, -1, p * p * C)


def patchify_keeps_grid(images, p):
    grid, (B, rows, cols, C) = _grid(images, p)
    return grid.transpose(0, 1, 3, 2, 4, 5).reshape(B, rows, cols, p * p * C)


def patchify_unflattened(images, p):
    grid, (B, rows, cols, C) = _grid(images, p)
    return grid.transpose(0, 1, 3, 2, 4, 5).reshape(B, rows * cols, p, p, C)


def patchify_transposed(images, p):
    grid, (B, rows, cols, C) = _grid(images, p)
    return grid.transpose(0, 1, 3, 2, 4, 5).reshape(B, rows * cols, -1).transpose(0, 2, 1)


def patchify_hard_coded_rgb(images, p):
    B, H, W, _ = images.shape
    grid = images.reshape(B, H // p, p, W // p, p, 3).transpose(0, 1, 3, 2, 4, 5)
    return grid.reshape(B, -1, p * p * 3)


def patchify_forgot_return(images, p):
    grid, (B, rows, cols, C) = _grid(images, p)
    grid.transpose(0, 1, 3, 2, 4, 5).reshape(B, rows * cols, p * p * C)


# --- Exercise 8.2: retrieve(question, passages, k) -------------------------------------------------

def _tfidf(question, passages, idf_of, tf_of=lambda passage, t: passage.count(t)):
    scores = np.zeros(len(passages))
    for t in set(question):
        df = sum(t in p for p in passages)
        if df == 0:
            continue
        for j, p in enumerate(passages):
            scores[j] += tf_of(p, t) * idf_of(t, df, passages)
    return scores


def _log_idf(t, df, passages):
    return np.log(len(passages) / df)


def retrieve_ascending(question, passages, k):
    return list(np.argsort(_tfidf(question, passages, _log_idf))[:k])


def retrieve_worst_first(question, passages, k):
    return list(np.argsort(_tfidf(question, passages, _log_idf))[-k:])


def retrieve_no_idf(question, passages, k):
    return list(np.argsort(-_tfidf(question, passages, lambda t, df, ps: 1.0), kind="stable")[:k])


def retrieve_binary_tf(question, passages, k):
    scores = _tfidf(question, passages, _log_idf, tf_of=lambda p, t: float(t in p))
    return list(np.argsort(-scores, kind="stable")[:k])


def retrieve_no_log(question, passages, k):
    scores = _tfidf(question, passages, lambda t, df, ps: len(ps) / df)
    return list(np.argsort(-scores, kind="stable")[:k])


def retrieve_counts_occurrences(question, passages, k):
    def idf(t, df, ps):
        occurrences = sum(p.count(t) for p in ps)  # df counted per occurrence
        return np.log(len(ps) / occurrences)
    return list(np.argsort(-_tfidf(question, passages, idf), kind="stable")[:k])


def retrieve_returns_scores(question, passages, k):
    return _tfidf(question, passages, _log_idf)


def retrieve_one_too_many(question, passages, k):
    return list(np.argsort(-_tfidf(question, passages, _log_idf), kind="stable")[:k + 1])


def retrieve_forgot_return(question, passages, k):
    list(np.argsort(-_tfidf(question, passages, _log_idf))[:k])


def retrieve_no_df_guard(question, passages, k):
    scores = np.zeros(len(passages))
    for t in set(question):
        df = sum(t in p for p in passages)
        with np.errstate(divide="ignore", invalid="ignore"):
            idf = np.log(len(passages) / np.float64(df))  # inf when df = 0
            scores += np.array([p.count(t) for p in passages]) * idf  # 0 · inf = nan
    return list(np.argsort(-scores)[:k])


def retrieve_no_dedupe(question, passages, k):
    scores = np.zeros(len(passages))
    for t in question:  # a repeated question word counted twice
        df = sum(t in p for p in passages)
        if df:
            scores += np.array([p.count(t) for p in passages]) * np.log(len(passages) / df)
    return list(np.argsort(-scores, kind="stable")[:k])


def retrieve_unsorted(question, passages, k):
    s = _tfidf(question, passages, _log_idf)
    return sorted(np.argsort(-s)[:k].tolist())  # the right set, in index order


def retrieve_length_tf(question, passages, k):
    scores = _tfidf(question, passages, _log_idf, tf_of=lambda p, t: p.count(t) / len(p))
    return list(np.argsort(-scores, kind="stable")[:k])


def retrieve_smooth_idf(question, passages, k):
    scores = _tfidf(question, passages, lambda t, df, ps: np.log((len(ps) + 1) / (df + 1)))
    return list(np.argsort(-scores, kind="stable")[:k])


def retrieve_sklearn_idf(question, passages, k):
    scores = _tfidf(question, passages, lambda t, df, ps: np.log((len(ps) + 1) / (df + 1)) + 1)
    return list(np.argsort(-scores, kind="stable")[:k])


def retrieve_vocab_idf(question, passages, k):
    scores = _tfidf(question, passages, lambda t, df, ps: np.log(14 / df))  # 14 = vocabulary size
    return list(np.argsort(-scores, kind="stable")[:k])


def retrieve_cosine(question, passages, k):
    vocab = sorted({t for p in passages for t in p})
    N = len(passages)
    idf = {t: np.log(N / sum(t in p for p in passages)) for t in vocab}
    vecs = np.array([[p.count(t) * idf[t] for t in vocab] for p in passages])
    q = np.array([idf[t] if t in question else 0.0 for t in vocab])
    scores = vecs @ q / np.maximum(np.linalg.norm(vecs, axis=1), 1e-12)
    return list(np.argsort(-scores, kind="stable")[:k])


# --- Exercise 8.3: latent_score_entries(N, L, latent_layers, h) ------------------------------------

def entries_cross_only(N, L, latent_layers, h):
    return h * L * N


def entries_latent_once(N, L, latent_layers, h):
    return h * (L * N + L * L)


def entries_full(N, L, latent_layers, h):
    return h * latent_layers * N * N


def entries_reads_every_layer(N, L, latent_layers, h):
    return h * (latent_layers * L * N + L * L)


def entries_no_heads(N, L, latent_layers, h):
    return L * N + latent_layers * L * L


def entries_joined(N, L, latent_layers, h):
    return h * (N + L) ** 2


def entries_latents_read_inputs(N, L, latent_layers, h):
    return h * (L * N + latent_layers * L * N)


def entries_h_on_read_only(N, L, latent_layers, h):
    return h * N * L + latent_layers * L * L


def entries_float(N, L, latent_layers, h):
    return h * (L * N + latent_layers * L ** 2.0)


# --- Exercise 8.4: latent_mixing(X, Z) --------------------------------------------------------------

def _softmax(x, axis):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def mixing_wrong_order(X, Z):
    _, read = attention(Z, X, X)
    Z1 = read @ X
    _, write = attention(X, Z1, Z1)
    return read @ write


def mixing_old_latents(X, Z):
    _, read = attention(Z, X, X)
    _, write = attention(X, Z, Z)  # reads the latents before they have read anything
    return write @ read


def mixing_read_over_latents(X, Z):
    d = X.shape[1]
    read = _softmax(Z @ X.T / np.sqrt(d), axis=0)  # normalised over the latents
    Z1 = read @ X
    _, write = attention(X, Z1, Z1)
    return write @ read


def mixing_unscaled(X, Z):
    read = _softmax(Z @ X.T, axis=1)
    Z1 = read @ X
    write = _softmax(X @ Z1.T, axis=1)
    return write @ read


def mixing_residual(X, Z):
    _, read = attention(Z, X, X)
    Z1 = Z + read @ X  # a residual on the latents
    _, write = attention(X, Z1, Z1)
    return write @ read


def mixing_scaled_by_d(X, Z):
    d = X.shape[1]
    read = _softmax(Z @ X.T / d, axis=1)
    Z1 = read @ X
    write = _softmax(X @ Z1.T / d, axis=1)
    return write @ read


def mixing_write_over_tokens(X, Z):
    d = X.shape[1]
    _, read = attention(Z, X, X)
    Z1 = read @ X
    write = _softmax(X @ Z1.T / np.sqrt(d), axis=0)  # normalised over the N tokens
    return write @ read


def mixing_self_attention(X, Z):
    return attention(X, X, X)[1]


def mixing_transposed(X, Z):
    _, read = attention(Z, X, X)
    Z1 = read @ X
    _, write = attention(X, Z1, Z1)
    return (write @ read).T


def mixing_write_only(X, Z):
    _, read = attention(Z, X, X)
    Z1 = read @ X
    return attention(X, Z1, Z1)[1]


def mixing_read_only(X, Z):
    return attention(Z, X, X)[1]


# --- Exercise 8.5: kv_cache_values(tokens, layers, h, d_head, d_c=None, d_rope=0) -------------------

def cache_keys_only(tokens, layers, h, d_head, d_c=None, d_rope=0):
    per_token = h * d_head if d_c is None else d_c + d_rope
    return tokens * layers * per_token


def cache_one_head(tokens, layers, h, d_head, d_c=None, d_rope=0):
    per_token = 2 * d_head if d_c is None else d_c + d_rope
    return tokens * layers * per_token


def cache_latent_per_head(tokens, layers, h, d_head, d_c=None, d_rope=0):
    per_token = 2 * h * d_head if d_c is None else h * d_c + d_rope
    return tokens * layers * per_token


def cache_two_latents(tokens, layers, h, d_head, d_c=None, d_rope=0):
    per_token = 2 * h * d_head if d_c is None else 2 * d_c + d_rope
    return tokens * layers * per_token


def cache_forgot_rope(tokens, layers, h, d_head, d_c=None, d_rope=0):
    per_token = 2 * h * d_head if d_c is None else d_c
    return tokens * layers * per_token


def cache_rope_per_head(tokens, layers, h, d_head, d_c=None, d_rope=0):
    per_token = 2 * h * d_head if d_c is None else d_c + h * d_rope
    return tokens * layers * per_token


def cache_ignores_d_c(tokens, layers, h, d_head, d_c=None, d_rope=0):
    return tokens * layers * 2 * h * d_head


def cache_one_layer(tokens, layers, h, d_head, d_c=None, d_rope=0):
    return tokens * (2 * h * d_head if d_c is None else d_c + d_rope)


def cache_float(tokens, layers, h, d_head, d_c=None, d_rope=0):
    return tokens * layers * (2.0 * h * d_head if d_c is None else d_c + d_rope)


MISTAKES = [
    (check_patchify, patchify_plain_reshape, "a plain reshape"),
    (check_patchify, patchify_column_order, "down the columns first"),
    (check_patchify, patchify_columns_inside, "column by column"),
    (check_patchify, patchify_channels_first, "channel first"),
    (check_patchify, patchify_strided, "strided samples"),
    (check_patchify, patchify_keeps_grid, "two axes"),
    (check_patchify, patchify_unflattened, "flattened to one vector"),
    (check_patchify, patchify_transposed, r"one ROW per patch"),
    (check_patchify, patchify_forgot_return, "forget the `return`"),
    (check_patchify, patchify_hard_coded_rgb, "do not write 3"),
    (check_retrieve, retrieve_ascending, "LOWEST"),
    (check_retrieve, retrieve_worst_first, "worst first"),
    (check_retrieve, retrieve_no_idf, "without weighting"),
    (check_retrieve, retrieve_binary_tf, "NUMBER of times"),
    (check_retrieve, retrieve_no_log, "without the logarithm"),
    (check_retrieve, retrieve_counts_occurrences, "counts the PASSAGES"),
    (check_retrieve, retrieve_returns_scores, "one score per passage"),
    (check_retrieve, retrieve_one_too_many, r"return a list of 3 passage indices"),
    (check_retrieve, retrieve_forgot_return, "forget the `return`"),
    (check_retrieve, retrieve_no_df_guard, "NO passage contains has df = 0"),
    (check_retrieve, retrieve_no_dedupe, "occurs twice in the QUESTION"),
    (check_retrieve, retrieve_unsorted, "but not best first"),
    (check_retrieve, retrieve_length_tf, "passage's length"),
    (check_retrieve, retrieve_smooth_idf, "smoothed idf"),
    (check_retrieve, retrieve_sklearn_idf, "scikit-learn"),
    (check_retrieve, retrieve_vocab_idf, "vocabulary size"),
    (check_retrieve, retrieve_cosine, "cosine similarity"),
    (check_latent_score_entries, entries_cross_only, "cross-attention \\(L × N\\) only"),
    (check_latent_score_entries, entries_latent_once, "runs latent_layers times"),
    (check_latent_score_entries, entries_full, "over the N INPUTS"),
    (check_latent_score_entries, entries_reads_every_layer, "only the first step reads"),
    (check_latent_score_entries, entries_no_heads, "multiply by h"),
    (check_latent_score_entries, entries_joined, "joined together"),
    (check_latent_score_entries, entries_latents_read_inputs, "latents attend to the latents"),
    (check_latent_score_entries, entries_float, "as a float"),
    (check_latent_score_entries, entries_h_on_read_only, "WHOLE sum by h"),
    (check_latent_mixing, mixing_wrong_order, "read @ write"),
    (check_latent_mixing, mixing_old_latents, "AFTER the latents have read"),
    (check_latent_mixing, mixing_read_over_latents, "over the N inputs for each latent"),
    (check_latent_mixing, mixing_unscaled, "by 1/√d before the softmax"),
    (check_latent_mixing, mixing_self_attention, "full self-attention"),
    (check_latent_mixing, mixing_transposed, "transposed"),
    (check_latent_mixing, mixing_residual, "no residual here"),
    (check_latent_mixing, mixing_scaled_by_d, "not 1/d"),
    (check_latent_mixing, mixing_write_over_tokens, "not over the tokens"),
    (check_latent_mixing, mixing_write_only, "write weights alone"),
    (check_latent_mixing, mixing_read_only, "read weights alone"),
    (check_kv_cache_values, cache_keys_only, "key AND a value"),
    (check_kv_cache_values, cache_one_head, "every head has its own"),
    (check_kv_cache_values, cache_latent_per_head, "shared by all h heads"),
    (check_kv_cache_values, cache_two_latents, "keys AND the values"),
    (check_kv_cache_values, cache_forgot_rope, "decoupled RoPE key"),
    (check_kv_cache_values, cache_rope_per_head, "not h·d_rope"),
    (check_kv_cache_values, cache_ignores_d_c, "this is MLA"),
    (check_kv_cache_values, cache_one_layer, "multiply by layers"),
    (check_kv_cache_values, cache_float, "as a float"),
]


@pytest.mark.parametrize("checker, mistake, hint", MISTAKES, ids=[m.__name__ for _, m, _ in MISTAKES])
def test_named_mistake_fails_with_its_hint(checker, mistake, hint):
    with pytest.raises(CheckFailed, match=hint):
        checker(mistake)


@pytest.mark.parametrize("checker, mistake, hint", MISTAKES, ids=[m.__name__ for _, m, _ in MISTAKES])
def test_each_hint_is_specific_to_its_mistake(checker, mistake, hint):
    # The hint of a mistake must not also be what another mistake of the same exercise gets.
    others = [h for c, m, h in MISTAKES if c is checker and m is not mistake]
    with pytest.raises(CheckFailed) as err:
        checker(mistake)
    assert not any(re.search(h, str(err.value)) for h in others), str(err.value)


def test_the_lab_solutions_pass_and_print_what_they_got(solutions, capsys):
    check_patchify(solutions["patchify"])
    check_retrieve(solutions["retrieve"])
    check_latent_score_entries(solutions["latent_score_entries"])
    check_latent_mixing(solutions["latent_mixing"])
    check_kv_cache_values(solutions["kv_cache_values"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("✓") for line in lines), lines
    assert "rank 3 ≤ L = 3" in lines[3]


def test_a_retriever_that_breaks_ties_its_own_way_still_passes(capsys):
    # Any order among tied passages is accepted (the random corpora of the checker do have ties).
    def retrieve_quicksort(question, passages, k):
        return np.argsort(-_tfidf(question, passages, _log_idf))[:k]  # an array, not a list: accepted too
    check_retrieve(retrieve_quicksort)
    assert capsys.readouterr().out.startswith("✓")


def test_patchify_that_changes_its_input_in_place_is_caught():
    def patchify_in_place(images, p):
        images /= images.max()  # changes the caller's images
        B, H, W, C = images.shape
        grid = images.reshape(B, H // p, p, W // p, p, C).transpose(0, 1, 3, 2, 4, 5)
        return grid.reshape(B, -1, p * p * C)

    with pytest.raises(CheckFailed, match="in place"):
        check_patchify(patchify_in_place)


def test_a_mixing_of_the_right_values_but_too_high_rank_cannot_pass():
    # Only the reference's values pass; any other matrix gets a hint (the fallback names the recipe).
    with pytest.raises(CheckFailed, match="not the mixing through the latents") as err:
        check_latent_mixing(lambda S, Z: np.full((len(S), len(S)), 1 / len(S)))
    assert "write @ read" not in str(err.value)  # the fallback hints, it does not give the solution away
