"""Checkers for the exercises of lab 8, beyond translation: images, retrieval, latent attention.

The inputs keep every size distinct (an image taller than wide, N ≠ L ≠ d, h ≠ d_head ≠ d_c), so
a swapped axis or a transposed result cannot pass. Every named common mistake gets its own hint, by
key from crossattn/checks/exercises/lab08.py; tests/checks/test_lab08.py feeds each one in, written
the way a student would write it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.dot_product import attention
from ..core.images import patchify as _patchify
from ..core.latent import kv_cache_values as _kv_cache_values
from ..core.latent import latent_score_entries as _latent_score_entries
from ..core.retrieval import retrieve as _retrieve
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, fail, passed
from .registry import Exercise, exercise

__all__ = ["check_patchify", "check_retrieve", "check_latent_score_entries", "check_latent_mixing",
           "check_kv_cache_values"]


def _integer(value: Any, ex: Exercise, what: str) -> int:
    """A count returned by the student: a Python/NumPy integer (or a float that is whole, with a hint)."""
    if value is None:
        fail(ex, "none", what=what)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    elif hasattr(value, "numel") and value.numel() == 1:  # a one-element torch tensor
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        fail(ex, "not_number", what=what, type=type(value).__name__)
    return value  # type: ignore[return-value]


def _require_int(value: Any, ex: Exercise) -> None:
    if not isinstance(value, (int, np.integer)):
        fail(ex, "float", value=value)


# ---------------------------------------------------------------------------------- 8.1 patchify


def _coded_images(B: int, H: int, W: int, C: int) -> np.ndarray:
    """Images whose every value tells where it came from: b·10⁴ + row·10² + col + channel/10."""
    b, r, c, ch = np.meshgrid(np.arange(B), np.arange(H), np.arange(W), np.arange(C), indexing="ij")
    return (b * 10_000 + r * 100 + c + ch / 10).astype(float)  # (B, H, W, C)


def check_patchify(patchify: Callable) -> None:
    """Exercise 8.1: ``patchify(images (B, H, W, C), p) -> (B, P, p·p·C)``, patches row by row."""
    ex = exercise("8.1")
    _check_patchify_case(patchify, ex, 2, 12, 8, 3, 4)  # a 3 × 2 grid of patches: rows ≠ columns, RGB
    try:  # right for RGB: now two channels and a 2 × 3 grid
        _check_patchify_case(patchify, ex, 3, 10, 15, 2, 5)
    except CheckFailed as err:
        fail(ex, "rgb_only", lead=f"{err.text} ")
    passed(ex, "images cut into p × p × C patches, numbered row by row (RGB and two-channel images).")


def _check_patchify_case(patchify: Callable, ex: Exercise, B: int, H: int, W: int, C: int, p: int) -> None:
    rows, cols = H // p, W // p
    images = _coded_images(B, H, W, C)
    got = as_array(call(patchify, images, p, exercise=ex), ex)
    P, patch_dim = rows * cols, p * p * C
    expect_shape(got, (B, P, patch_dim), ex, {(B, rows, cols, patch_dim): "keeps_grid", (B, P, p, p, C): "unflattened",
                                              (B, patch_dim, P): "transposed", (P, patch_dim): "no_batch"})
    want = _patchify(images, p)
    if not close(got, want, tol=1e-9):
        grid = images.reshape(B, rows, p, cols, p, C)  # (B, rows, p, cols, p, C)
        strided = images.reshape(B, p, rows, p, cols, C).transpose(0, 2, 4, 1, 3, 5)
        diagnose(got, [
            (images.reshape(B, P, patch_dim), "plain_reshape"),
            (grid.transpose(0, 3, 1, 2, 4, 5).reshape(B, P, patch_dim), "column_order"),
            (grid.transpose(0, 1, 3, 4, 2, 5).reshape(B, P, patch_dim), "columns_inside"),
            (grid.transpose(0, 1, 3, 5, 2, 4).reshape(B, P, patch_dim), "channels_first"),
            (strided.reshape(B, P, patch_dim), "strided"),
        ], ex, "wrong")


# ---------------------------------------------------------------------------------- 8.2 retrieve

# Several corpora of token ids. Every question repeats a word (count it once) and asks for word 0,
# which no passage contains (df = 0: it must add nothing, not log(N/0) = inf times tf = 0 = NaN).
# The first corpus is small enough to follow by hand; the others are random, so that the rankings of
# the named mistakes differ from TF-IDF and from each other on at least one of them.
_VOCAB = 14
_CORPUS = [
    [3, 3, 3, 7, 12], [3, 3, 7, 8, 8], [2, 3, 6], [3, 3, 3, 3, 8, 13], [1, 4, 5, 8], [1, 2, 4, 7],
    [2, 9, 11, 13, 13, 13], [5, 9, 10, 10, 13], [1, 2, 2, 3, 3, 11], [3, 5, 5, 10], [2, 6, 10], [3, 5, 10, 12],
]
_QUESTION = [1, 2, 2, 3, 0]


def _random_case(seed: int) -> tuple[list[int], list[list[int]], int]:
    rng = np.random.default_rng(seed)
    n_passages = int(rng.integers(9, 15))
    passages = [rng.integers(1, _VOCAB, size=int(rng.integers(2, 8))).tolist() for _ in range(n_passages)]
    asked = rng.choice(np.arange(1, _VOCAB), size=3, replace=False).tolist()
    question = [asked[0], asked[1], asked[1], asked[2], 0]
    return question, passages, int(rng.integers(3, 6))


# One passage names the rare word 1 once, another repeats the common word 2: plain counts rank the
# second higher, TF-IDF the first (a case that tells scikit-learn's "+ 1" idf from no idf at all).
_RARE_VS_COMMON = [[1, 5], [2, 2, 6], [2, 7], [2, 8], [2, 9], [2, 4], [2, 10], [2, 11], [2, 3, 3], [3, 5]]
_CASES = ([(_QUESTION, _CORPUS, 3), (_QUESTION, _CORPUS, 5), (_QUESTION, _RARE_VS_COMMON, 3)]
          + [_random_case(s) for s in (1, 2, 3, 4, 5, 6)])


def _variant_scores(kind: str, question: list[int], passages: list[list[int]]) -> np.ndarray:
    """TF-IDF scores ("right") or those of a known wrong retriever (the names in _RETRIEVE_MISTAKES)."""
    counts = np.zeros((len(passages), _VOCAB))
    for row, tokens in enumerate(passages):
        np.add.at(counts[row], tokens, 1.0)
    N = len(passages)
    df = (counts > 0).sum(axis=0).astype(float)
    if kind == "occurrence_df":
        df = counts.sum(axis=0)
    safe = np.maximum(df, 1)
    idf = np.where(df > 0, np.log(N / safe), 0.0)
    if kind == "no_log":
        idf = np.where(df > 0, N / safe, 0.0)
    elif kind == "no_idf":
        idf = (df > 0).astype(float)
    elif kind == "smooth_idf":
        idf = np.log((N + 1) / (df + 1))
    elif kind == "sklearn_idf":
        idf = np.log((N + 1) / (df + 1)) + 1
    elif kind == "vocab_idf":
        idf = np.where(df > 0, np.log(_VOCAB / safe), 0.0)
    elif kind == "no_df_guard":
        with np.errstate(divide="ignore", invalid="ignore"):
            idf = np.log(N / df)  # inf where df = 0
    tf = counts
    if kind == "binary_tf":
        tf = (counts > 0).astype(float)
    elif kind == "length_tf":
        tf = counts / np.array([len(p) for p in passages], dtype=float)[:, None]
    asked = np.zeros(_VOCAB)
    if kind == "no_dedupe":
        np.add.at(asked, question, 1.0)
    else:
        asked[list(set(question))] = 1.0
    if kind == "cosine":
        vectors = counts * idf  # (passages, vocab) TF-IDF vectors
        norms = np.linalg.norm(vectors, axis=1)
        return (vectors @ (asked * idf)) / np.where(norms > 0, norms, 1.0)
    with np.errstate(invalid="ignore"):
        weighted = np.where(asked > 0, asked * idf, 0.0)  # (vocab,): inf only for no_df_guard
        return tf @ weighted  # (passages, vocab) @ (vocab,) -> (passages,)


def _is_top_k(order: np.ndarray, scores: np.ndarray) -> bool:
    """Is ``order`` a best-first top-k of ``scores``, with any order among tied passages?"""
    if np.isnan(scores).any():
        return False
    best = np.sort(scores)[::-1][: len(order)]
    return bool(np.allclose(scores[order], best, rtol=0, atol=1e-9))


#: The known wrong retrievers, in the order they are tried; each name is also the key of its hint.
_RETRIEVE_MISTAKES = ("no_df_guard", "no_dedupe", "no_idf", "binary_tf", "length_tf", "no_log", "occurrence_df",
                      "smooth_idf", "sklearn_idf", "vocab_idf", "cosine")


def check_retrieve(retrieve: Callable) -> None:
    """Exercise 8.2: ``retrieve(question, passages, k) -> k passage indices``, best TF-IDF first."""
    ex = exercise("8.2")
    outputs = []
    for question, corpus, k in _CASES:
        try:
            got = call(retrieve, list(question), [list(p) for p in corpus], k, exercise=ex)
        except CheckFailed as err:
            if err.key == "crash" and _runs_without_absent_word(retrieve, question, corpus, k):
                fail(ex, "absent_word_crash", lead=f"{err.text}\n  Hint: ")
            raise
        arr = as_array(got, ex)
        if arr.ndim == 1 and len(arr) == len(corpus) and arr.dtype.kind == "f":
            fail(ex, "scores")
        if arr.ndim != 1 or len(arr) != k:
            fail(ex, "wrong_count", k=k, what='shape ' + str(arr.shape) if arr.ndim != 1 else str(len(arr)) + ' of them')
        if arr.dtype.kind not in "iu" and not np.all(arr == np.round(arr)):
            fail(ex, "not_whole", values=arr.tolist())
        if arr.min() < 0 or arr.max() >= len(corpus):
            fail(ex, "not_indices", values=arr.tolist(), last=len(corpus) - 1)
        if len(set(arr.tolist())) != k:
            fail(ex, "duplicates", values=arr.tolist())
        outputs.append(arr.astype(int))
    failing = [(case, arr) for case, arr in zip(_CASES, outputs)
               if not _is_top_k(arr, _variant_scores("right", case[0], case[1]))]
    if not failing:
        passed(ex, f"TF-IDF top-k, best first, on {len(_CASES)} questions and corpora (absent and repeated "
                   "words included).")
        return
    for kind in _RETRIEVE_MISTAKES:  # a mistake must explain the answers on EVERY corpus
        if all(_variant_ranks(kind, q, c, a) for (q, c, _), a in zip(_CASES, outputs)):
            fail(ex, kind)
    (question, corpus, k), arr = failing[0]
    scores = _variant_scores("right", question, corpus)
    want = np.array(_retrieve(question, corpus, k, vocab_size=_VOCAB))
    picked = scores[arr]  # the TF-IDF scores of the passages returned, in the order returned

    def right_set(case: tuple, got: np.ndarray) -> bool:
        s = _variant_scores("right", case[0], case[1])
        return bool(np.allclose(np.sort(s[got]), np.sort(s)[-len(got):]))

    if all(right_set(case, a) for case, a in zip(_CASES, outputs)):
        if all(np.all(np.diff(_variant_scores("right", c[0], c[1])[a]) >= -1e-12) for c, a in failing):
            fail(ex, "worst_first")
        fail(ex, "not_best_first", k=k, picked=np.round(picked, 3).tolist())
    if np.allclose(picked, np.sort(scores)[:k]):
        fail(ex, "lowest")
    fail(ex, "other_ranking", k=k, want=want.tolist(), got=arr.tolist())


def _runs_without_absent_word(retrieve: Callable, question: list[int], corpus: list[list[int]], k: int) -> bool:
    """Does ``retrieve`` run when the question's word 0, which no passage contains, is left out?"""
    try:
        retrieve([t for t in question if t != 0], [list(p) for p in corpus], k)
    except Exception:  # noqa: BLE001 - any failure here only means "not this mistake"
        return False
    return True


def _variant_ranks(kind: str, question: list[int], corpus: list[list[int]], order: np.ndarray) -> bool:
    """Would the wrong retriever ``kind`` (sorting its scores best first) return ``order``?"""
    scores = _variant_scores(kind, question, corpus)
    if np.isnan(scores).any():  # NaN scores: np.argsort(-scores) keeps the passages in index order
        return bool(np.array_equal(order, np.argsort(-scores, kind="stable")[: len(order)]))
    return _is_top_k(order, scores)


# ---------------------------------------------------------------------------------- 8.3 score entries


def check_latent_score_entries(latent_score_entries: Callable) -> None:
    """Exercise 8.3: ``latent_score_entries(N, L, latent_layers, h) -> int`` = h·(N·L + latent_layers·L²)."""
    ex = exercise("8.3")
    for N, L, layers, h in ((1000, 32, 3, 2), (777, 50, 6, 4), (64, 100, 1, 1)):
        raw = call(latent_score_entries, N, L, layers, h, exercise=ex)
        got = _integer(raw, ex, "the number of score entries")
        want = _latent_score_entries(N, L, layers, h)
        if got == want:
            _require_int(raw, ex)
            continue
        args = f"(N={N}, L={L}, latent_layers={layers}, h={h})"
        diagnose(np.asarray(float(got)), [
            (h * N * L, "cross_only"),
            (h * (N * L + L * L), "latent_once"),
            (h * layers * (N * N), "full"),
            (h * (N * L * layers + L * L), "reads_every_layer"),
            (h * (N * L + layers * L * L) * (layers + 1), "counted_twice"),
            (N * L + layers * L * L, "no_heads"),
            (h * N * L + layers * L * L, "h_on_read_only"),
            (h * ((N + L) ** 2), "joined"),
            (h * (N * L + layers * N * L), "latents_read_inputs"),
        ], ex, "wrong", args=args, want=want)
    passed(ex, "h·(N·L + latent_layers·L²): linear in N.")


# ---------------------------------------------------------------------------------- 8.4 mixing


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def _mixing_variants(S: np.ndarray, Z: np.ndarray) -> dict[str, np.ndarray]:
    """The mixing matrix (N, N) of the reference and of known wrong versions; S inputs (N, d), Z latents (L, d)."""
    d = S.shape[1]
    _, read = attention(Z, S, S)  # (L, N)
    Z1 = read @ S  # (L, d)
    _, write = attention(S, Z1, Z1)  # (N, L)
    _, write_old = attention(S, Z, Z)  # (N, L): read back from the latents before they read anything
    Z1_res = Z + read @ S  # (L, d): a residual connection added to the latents
    _, write_res = attention(S, Z1_res, Z1_res)  # (N, L)
    read_cols = _softmax(Z @ S.T / np.sqrt(d), axis=0)  # (L, N), normalised over the latents
    Z1_cols = read_cols @ S
    _, write_cols = attention(S, Z1_cols, Z1_cols)
    write_cols2 = _softmax(S @ Z1.T / np.sqrt(d), axis=0)  # (N, L), normalised over the tokens
    read_unscaled = _softmax(Z @ S.T, axis=1)
    Z1_unscaled = read_unscaled @ S
    write_unscaled = _softmax(S @ Z1_unscaled.T, axis=1)
    read_by_d = _softmax(Z @ S.T / d, axis=1)
    Z1_by_d = read_by_d @ S
    write_by_d = _softmax(S @ Z1_by_d.T / d, axis=1)
    _, full = attention(S, S, S)  # (N, N)
    return {
        "right": write @ read,
        "old_latents": write_old @ read,
        "residual": write_res @ read,
        "read_columns": write_cols @ read_cols,
        "write_columns": write_cols2 @ read,
        "unscaled": write_unscaled @ read_unscaled,
        "by_d": write_by_d @ read_by_d,
        "full": full,
        "transposed": (write @ read).T,
    }


def check_latent_mixing(latent_mixing: Callable) -> None:
    """Exercise 8.4: ``latent_mixing(S (N, d), Z (L, d)) -> (N, N)``, token-to-token mixing through L latents."""
    ex = exercise("8.4")
    rng = np.random.default_rng(84)
    N, L, d = 12, 3, 5
    S, Z = rng.normal(size=(N, d)), rng.normal(size=(L, d))
    got = as_array(call(latent_mixing, S, Z, exercise=ex), ex)
    v = _mixing_variants(S, Z)
    expect_shape(got, (N, N), ex, {(L, L): "wrong_order", (N, L): "write_only", (L, N): "read_only"})
    if close(got, v["right"], tol=1e-8):
        rank = int(np.linalg.matrix_rank(got))
        if rank > L:
            fail(ex, "rank", rank=rank, L=L)
        passed(ex, f"a {N}×{N} mixing of rank {rank} ≤ L = {L}; each row sums to 1.")
        return
    diagnose(got, [(v[key], key) for key in ("old_latents", "residual", "read_columns", "write_columns", "unscaled",
                                             "by_d", "full", "transposed")], ex, "wrong")


# ---------------------------------------------------------------------------------- 8.5 KV cache


def check_kv_cache_values(kv_cache_values: Callable) -> None:
    """Exercise 8.5: ``kv_cache_values(tokens, layers, h, d_head, d_c=None, d_rope=0) -> int`` (MHA or MLA)."""
    ex = exercise("8.5")
    cases = [  # (tokens, layers, h, d_head, d_c, d_rope)
        (100, 3, 4, 16, None, 0),
        (100, 3, 4, 16, 40, 6),
        (37, 5, 8, 12, 40, 0),
        (37, 5, 8, 12, None, 0),
    ]
    for T, layers, h, d_head, d_c, d_rope in cases:
        raw = call(kv_cache_values, T, layers, h, d_head, d_c, d_rope, exercise=ex)
        got = _integer(raw, ex, "the number of cached values")
        want = _kv_cache_values(T, layers, h, d_head, d_c, d_rope)
        if got == want:
            _require_int(raw, ex)
            continue
        args = f"(tokens={T}, layers={layers}, h={h}, d_head={d_head}, d_c={d_c}, d_rope={d_rope})"
        if d_c is None:
            mistakes = [
                (T * layers * h * d_head, "keys_only"),
                (T * layers * 2 * d_head, "one_head"),
                (T * 2 * h * d_head, "no_layers"),
                (layers * 2 * h * d_head, "no_tokens"),
            ]
        else:
            mistakes = [
                (T * layers * (h * d_c + d_rope), "latent_per_head"),
                (T * layers * (2 * d_c + d_rope), "two_latents"),
                (T * layers * d_c, "no_rope"),
                (T * layers * (d_c + h * d_rope), "rope_per_head"),
                (T * layers * 2 * h * d_head, "full_kv"),
                (T * (d_c + d_rope), "no_layers"),
            ]
        diagnose(np.asarray(float(got)), mistakes, ex, "wrong_mha" if d_c is None else "wrong_mla",
                 args=args, want=want)
    passed(ex, "MHA 2·h·d_head per token and layer, MLA d_c + d_rope.")
