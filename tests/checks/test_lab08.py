"""Lab 8's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

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
from tests.checks.conventions import named_mistakes_test
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


def patchify_first_image_only(images, p):
    B, H, W, C = images.shape
    image = images[0]  # written for one image
    grid = image.reshape(H // p, p, W // p, p, C).transpose(0, 2, 1, 3, 4)
    return grid.reshape(-1, p * p * C)  # (P, patch_dim)


def patchify_rows_reversed(images, p):
    grid, (B, rows, cols, C) = _grid(images, p)
    patches = grid.transpose(0, 1, 3, 2, 4, 5)[:, ::-1]  # grid rows from the bottom up
    return patches.reshape(B, rows * cols, p * p * C)


def patchify_in_place(images, p):
    images /= images.max()  # changes the caller's images
    B, H, W, C = images.shape
    grid = images.reshape(B, H // p, p, W // p, p, C).transpose(0, 1, 3, 2, 4, 5)
    return grid.reshape(B, -1, p * p * C)


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


def retrieve_divides_by_zero_df(question, passages, k):
    df = {}
    for p in passages:
        for t in set(p):
            df[t] = df.get(t, 0) + 1
    scores = [sum(p.count(t) * np.log(len(passages) / df[t]) for t in set(question))  # KeyError: word 0
              for p in passages]
    return list(np.argsort(scores)[::-1][:k])


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


def retrieve_best_scores(question, passages, k):
    return np.sort(_tfidf(question, passages, _log_idf))[::-1][:k]  # the k best scores, not their passages


def retrieve_one_based(question, passages, k):
    return [int(j) + 1 for j in np.argsort(-_tfidf(question, passages, _log_idf), kind="stable")[:k]]


def retrieve_best_k_times(question, passages, k):
    return [int(np.argmax(_tfidf(question, passages, _log_idf)))] * k


def retrieve_question_length_idf(question, passages, k):
    scores = _tfidf(question, passages, lambda t, df, ps: np.log(len(question) / df))  # N = question length
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


def entries_counted_every_step(N, L, latent_layers, h):
    per_step = h * (L * N + latent_layers * L * L)
    return per_step * (latent_layers + 1)  # the whole count again at every step


def entries_cross_both_ways(N, L, latent_layers, h):
    return h * (2 * L * N + latent_layers * L * L)  # the inputs also read the latents back


def entries_as_text(N, L, latent_layers, h):
    return f"{h * (L * N + latent_layers * L * L):,}"  # formatted for printing


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


def mixing_plus_epsilon(X, Z):
    _, read = attention(Z, X, X)
    Z1 = read @ X
    _, write = attention(X, Z1, Z1)
    return write @ read + 1e-10 * np.eye(len(X))  # "each token keeps a trace of itself": full rank


def mixing_latents_read_latents(X, Z):
    _, read = attention(Z, X, X)
    Z1 = read @ X
    _, latent = attention(Z1, Z1, Z1)  # a latent self-attention in between
    _, write = attention(X, Z1, Z1)
    return write @ latent @ read


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


def cache_forgot_tokens(tokens, layers, h, d_head, d_c=None, d_rope=0):
    return layers * (2 * h * d_head if d_c is None else d_c + d_rope)  # per token, not for all tokens


def cache_with_queries(tokens, layers, h, d_head, d_c=None, d_rope=0):
    return tokens * layers * 3 * h * d_head  # queries cached too (and no MLA)


def cache_mla_with_queries(tokens, layers, h, d_head, d_c=None, d_rope=0):
    per_token = 2 * h * d_head if d_c is None else 2 * d_c + h * d_rope  # two latents and a RoPE key per head
    return tokens * layers * per_token


def cache_as_text(tokens, layers, h, d_head, d_c=None, d_rope=0):
    return f"{tokens * layers * 2 * h * d_head} values"


MISTAKES = {
    "8.1": {
        "none": patchify_forgot_return,
        "in_place": patchify_in_place,
        "keeps_grid": patchify_keeps_grid,
        "unflattened": patchify_unflattened,
        "transposed": patchify_transposed,
        "no_batch": patchify_first_image_only,
        "plain_reshape": patchify_plain_reshape,
        "column_order": patchify_column_order,
        "columns_inside": patchify_columns_inside,
        "channels_first": patchify_channels_first,
        "strided": patchify_strided,
        "rgb_only": patchify_hard_coded_rgb,
        "wrong": patchify_rows_reversed,
    },
    "8.2": {
        "none": retrieve_forgot_return,
        "scores": retrieve_returns_scores,
        "wrong_count": retrieve_one_too_many,
        "not_whole": retrieve_best_scores,
        "not_indices": retrieve_one_based,
        "duplicates": retrieve_best_k_times,
        "no_df_guard": retrieve_no_df_guard,
        "absent_word_crash": retrieve_divides_by_zero_df,
        "no_dedupe": retrieve_no_dedupe,
        "no_idf": retrieve_no_idf,
        "binary_tf": retrieve_binary_tf,
        "length_tf": retrieve_length_tf,
        "no_log": retrieve_no_log,
        "occurrence_df": retrieve_counts_occurrences,
        "smooth_idf": retrieve_smooth_idf,
        "sklearn_idf": retrieve_sklearn_idf,
        "vocab_idf": retrieve_vocab_idf,
        "cosine": retrieve_cosine,
        "worst_first": retrieve_worst_first,
        "not_best_first": retrieve_unsorted,
        "lowest": retrieve_ascending,
        "other_ranking": retrieve_question_length_idf,
    },
    "8.3": {
        "not_number": entries_as_text,
        "cross_only": entries_cross_only,
        "latent_once": entries_latent_once,
        "full": entries_full,
        "reads_every_layer": entries_reads_every_layer,
        "counted_twice": entries_counted_every_step,
        "no_heads": entries_no_heads,
        "h_on_read_only": entries_h_on_read_only,
        "joined": entries_joined,
        "latents_read_inputs": entries_latents_read_inputs,
        "float": entries_float,
        "wrong": entries_cross_both_ways,
    },
    "8.4": {
        "wrong_order": mixing_wrong_order,
        "write_only": mixing_write_only,
        "read_only": mixing_read_only,
        "rank": mixing_plus_epsilon,
        "old_latents": mixing_old_latents,
        "residual": mixing_residual,
        "read_columns": mixing_read_over_latents,
        "write_columns": mixing_write_over_tokens,
        "unscaled": mixing_unscaled,
        "by_d": mixing_scaled_by_d,
        "full": mixing_self_attention,
        "transposed": mixing_transposed,
        "wrong": mixing_latents_read_latents,
    },
    "8.5": {
        "not_number": cache_as_text,
        "keys_only": cache_keys_only,
        "one_head": cache_one_head,
        "no_layers": cache_one_layer,
        "no_tokens": cache_forgot_tokens,
        "latent_per_head": cache_latent_per_head,
        "two_latents": cache_two_latents,
        "no_rope": cache_forgot_rope,
        "rope_per_head": cache_rope_per_head,
        "full_kv": cache_ignores_d_c,
        "float": cache_float,
        "wrong_mha": cache_with_queries,
        "wrong_mla": cache_mla_with_queries,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


# --- special cases ----------------------------------------------------------------------------------

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


def test_the_mixing_fallback_hints_without_giving_the_solution_away():
    with pytest.raises(CheckFailed) as err:
        check_latent_mixing(lambda S, Z: np.full((len(S), len(S)), 1 / len(S)))
    assert err.value.key == "wrong" and "write @ read" not in str(err.value)


def test_a_mixing_within_tolerance_of_the_right_values_must_still_have_rank_at_most_l():
    with pytest.raises(CheckFailed, match=r"your matrix has rank 12 > L = 3"):
        check_latent_mixing(mixing_plus_epsilon)


def test_a_crash_that_leaving_out_the_absent_word_does_not_cure_keeps_the_plain_crash_hint():
    """The control of "absent_word_crash": a retriever that crashes on every question is not called that mistake."""
    def crashes_always(question, passages, k):
        return sorted(passages)[k][0] / 0

    with pytest.raises(CheckFailed) as info:
        check_retrieve(crashes_always)
    assert info.value.key == "crash"
