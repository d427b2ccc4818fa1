"""Checkers for the exercises of lab 8, beyond translation: images, retrieval, latent attention.

The inputs keep every size distinct (an image taller than wide, N ≠ L ≠ d, h ≠ d_head ≠ d_c), so
a swapped axis or a transposed result cannot pass. Every named common mistake gets its own hint;
tests/checks/test_lab08.py feeds each one in, written the way a student would write it.
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
from ._core import CheckFailed, as_array, call, close, diagnose, expect_shape, passed

__all__ = ["check_patchify", "check_retrieve", "check_latent_score_entries", "check_latent_mixing",
           "check_kv_cache_values"]


def _integer(value: Any, ex: str, what: str) -> int:
    """A count returned by the student: a Python/NumPy integer (or a float that is whole, with a hint)."""
    if value is None:
        raise CheckFailed(f"{ex}: {what} is None — did you forget the `return` statement?")
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    elif hasattr(value, "numel") and value.numel() == 1:  # a one-element torch tensor
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CheckFailed(f"{ex}: {what} should be a number, got {type(value).__name__}")
    return value  # type: ignore[return-value]


def _require_int(value: Any, ex: str, what: str) -> None:
    if not isinstance(value, (int, np.integer)):
        raise CheckFailed(f"{ex}: the right value, but as a float ({value!r}): a count of {what} is an exact integer, "
                          "so return an int. Use integer arithmetic: `//` instead of `/`, no float literals like 2.0.")


# ---------------------------------------------------------------------------------- 8.1 patchify


def _coded_images(B: int, H: int, W: int, C: int) -> np.ndarray:
    """Images whose every value tells where it came from: b·10⁴ + row·10² + col + channel/10."""
    b, r, c, ch = np.meshgrid(np.arange(B), np.arange(H), np.arange(W), np.arange(C), indexing="ij")
    return (b * 10_000 + r * 100 + c + ch / 10).astype(float)  # (B, H, W, C)


def check_patchify(patchify: Callable) -> None:
    """Exercise 8.1: ``patchify(images (B, H, W, C), p) -> (B, P, p·p·C)``, patches row by row."""
    ex = "Exercise 8.1 (patchify)"
    _check_patchify_case(patchify, ex, 2, 12, 8, 3, 4)  # a 3 × 2 grid of patches: rows ≠ columns, RGB
    try:  # right for RGB: now two channels and a 2 × 3 grid
        _check_patchify_case(patchify, ex, 3, 10, 15, 2, 5)
    except CheckFailed as err:
        raise CheckFailed(f"{err} Your function works for RGB images but not for these, of shape (3, 10, 15, 2): "
                          "C = 2 channels. Read B, H, W, C from images.shape; do not write 3.") from None
    passed(ex, "images cut into p × p × C patches, numbered row by row (RGB and two-channel images).")


def _check_patchify_case(patchify: Callable, ex: str, B: int, H: int, W: int, C: int, p: int) -> None:
    rows, cols = H // p, W // p
    images = _coded_images(B, H, W, C)
    got = as_array(call(patchify, images, p, exercise=ex), ex)
    P, patch_dim = rows * cols, p * p * C
    expect_shape(got, (B, P, patch_dim), ex, {
        (B, rows, cols, patch_dim): "you kept the grid as two axes (rows, cols): flatten it to one axis of "
                                    "P = rows·cols patches.",
        (B, P, p, p, C): "each patch must be flattened to one vector of p·p·C values.",
        (B, patch_dim, P): "your result is (B, patch_dim, P): one ROW per patch, (B, P, patch_dim).",
        (P, patch_dim): "keep the batch axis: the result is (B, P, patch_dim).",
    })
    want = _patchify(images, p)
    if not close(got, want, tol=1e-9):
        grid = images.reshape(B, rows, p, cols, p, C)  # (B, rows, p, cols, p, C)
        strided = images.reshape(B, p, rows, p, cols, C).transpose(0, 2, 4, 1, 3, 5)
        diagnose(got, [
            (images.reshape(B, P, patch_dim), "a plain reshape (B, H, W, C) -> (B, P, p·p·C) cuts the image into "
                                             "runs of consecutive pixels along the rows, not into p × p squares. "
                                             "Split H into (rows, p) and W into (cols, p), move the two grid axes "
                                             "next to each other with a transpose, then flatten."),
            (grid.transpose(0, 3, 1, 2, 4, 5).reshape(B, P, patch_dim),
             "your patches are numbered down the columns first. Number them row by row, like reading a page: "
             "patch k is at grid row k // cols and grid column k % cols."),
            (grid.transpose(0, 1, 3, 4, 2, 5).reshape(B, P, patch_dim),
             "inside each patch you flattened column by column. Keep the order (pixel row, pixel column, "
             "channel), so that patch.reshape(p, p, C) is the patch as a small image."),
            (grid.transpose(0, 1, 3, 5, 2, 4).reshape(B, P, patch_dim),
             "inside each patch you put the channel first (C, p, p). Keep the order (pixel row, pixel column, "
             "channel): channels last, as in the image."),
            (strided.reshape(B, P, patch_dim), "your 'patches' take every (H/p)-th pixel: strided samples spread "
                                               "over the whole image, not contiguous p × p blocks. Reshape H as "
                                               "(H/p, p), the grid row first, then the pixel row inside it."),
        ], ex, "patch k must hold the pixels of grid row k // cols and grid column k % cols, flattened in the "
               "order (pixel row, pixel column, channel).")


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


_RETRIEVE_MISTAKES = [
    ("no_df_guard", "a question word that NO passage contains has df = 0, and log(N / 0) = inf; tf = 0 times inf "
                    "is NaN, and NaN scores sort anywhere. Skip such words (they add nothing), e.g. "
                    "np.where(df > 0, np.log(N / np.maximum(df, 1)), 0)."),
    ("no_dedupe", "a word that occurs twice in the QUESTION counts once: the sum runs over the question's "
                  "distinct words (set(question))."),
    ("no_idf", "your ranking is what plain counts of matching words give, without weighting them. Multiply "
               "each word's count by its idf, log(N / df): a word found in many passages tells little."),
    ("binary_tf", "your ranking is what 'does the passage contain t' gives. tf(t, passage) is the NUMBER of "
                  "times t occurs in the passage: a passage that repeats an asked word counts it every time."),
    ("length_tf", "your ranking is what tf divided by the passage's length gives: use the raw count of t in "
                  "the passage, without dividing by its length."),
    ("no_log", "your ranking is what N / df without the logarithm gives: idf is log(N / df)."),
    ("occurrence_df", "your ranking is what df counted as occurrences gives: df(t) counts the PASSAGES that "
                      "contain t (each passage once), not how many times t occurs in the whole corpus."),
    ("smooth_idf", "your ranking is what the smoothed idf log((N + 1) / (df + 1)) gives. This exercise uses the "
                   "plain idf, log(N / df), over the words that occur (df > 0)."),
    ("sklearn_idf", "your ranking is what scikit-learn's default idf, log((N + 1) / (df + 1)) + 1, gives. This "
                    "exercise uses the plain idf, log(N / df), over the words that occur (df > 0)."),
    ("vocab_idf", "your ranking is what log(V / df), with V the vocabulary size, gives: N in idf is the number "
                  "of PASSAGES, len(passages)."),
    ("cosine", "your ranking is what cosine similarity of TF-IDF vectors gives: here the score is the plain "
               "sum Σ tf(t, passage) · idf(t), not divided by the passage vector's length."),
]


def check_retrieve(retrieve: Callable) -> None:
    """Exercise 8.2: ``retrieve(question, passages, k) -> k passage indices``, best TF-IDF first."""
    ex = "Exercise 8.2 (retrieve)"
    outputs = []
    for question, corpus, k in _CASES:
        got = call(retrieve, list(question), [list(p) for p in corpus], k, exercise=ex)
        arr = as_array(got, ex)
        if arr.ndim == 1 and len(arr) == len(corpus) and arr.dtype.kind == "f":
            raise CheckFailed(f"{ex}: you returned one score per passage. Return the INDICES of the k best "
                              "passages, best first (np.argsort of the negated scores, then [:k]).")
        if arr.ndim != 1 or len(arr) != k:
            raise CheckFailed(f"{ex}: with k={k} return a list of {k} passage indices, got "
                              f"{'shape ' + str(arr.shape) if arr.ndim != 1 else str(len(arr)) + ' of them'}.")
        if arr.dtype.kind not in "iu" and not np.all(arr == np.round(arr)):
            raise CheckFailed(f"{ex}: return passage indices (whole numbers), got {arr.tolist()}.")
        if arr.min() < 0 or arr.max() >= len(corpus):
            raise CheckFailed(f"{ex}: {arr.tolist()} are not passage indices 0..{len(corpus) - 1}.")
        if len(set(arr.tolist())) != k:
            raise CheckFailed(f"{ex}: {arr.tolist()} lists a passage more than once: return k DIFFERENT passages.")
        outputs.append(arr.astype(int))
    failing = [(case, arr) for case, arr in zip(_CASES, outputs)
               if not _is_top_k(arr, _variant_scores("right", case[0], case[1]))]
    if not failing:
        passed(ex, f"TF-IDF top-k, best first, on {len(_CASES)} questions and corpora (absent and repeated "
                   "words included).")
        return
    for kind, hint in _RETRIEVE_MISTAKES:  # a mistake must explain the answers on EVERY corpus
        if all(_variant_ranks(kind, q, c, a) for (q, c, _), a in zip(_CASES, outputs)):
            raise CheckFailed(f"{ex}: {hint}")
    (question, corpus, k), arr = failing[0]
    scores = _variant_scores("right", question, corpus)
    want = np.array(_retrieve(question, corpus, k, vocab_size=_VOCAB))
    picked = scores[arr]  # the TF-IDF scores of the passages returned, in the order returned

    def right_set(case: tuple, got: np.ndarray) -> bool:
        s = _variant_scores("right", case[0], case[1])
        return bool(np.allclose(np.sort(s[got]), np.sort(s)[-len(got):]))

    if all(right_set(case, a) for case, a in zip(_CASES, outputs)):
        if all(np.all(np.diff(_variant_scores("right", c[0], c[1])[a]) >= -1e-12) for c, a in failing):
            raise CheckFailed(f"{ex}: you found the right passages but listed them worst first: sort by score "
                              "from the highest down (np.argsort(-scores)), best first.")
        raise CheckFailed(f"{ex}: you found the right passages, but not best first: with k={k} their scores "
                          f"in your order are {np.round(picked, 3).tolist()}. Sort them by score, highest "
                          "first (np.argsort(-scores)[:k]); a set, sorted(...) of indices or np.argpartition do not keep that "
                          "order.")
    if np.allclose(picked, np.sort(scores)[:k]):
        raise CheckFailed(f"{ex}: you returned the k LOWEST scores: np.argsort sorts from small to large, so "
                          "sort the negated scores, np.argsort(-scores), or reverse.")
    raise CheckFailed(f"{ex}: with k={k} the best passages, best first, are {want.tolist()}; you returned "
                      f"{arr.tolist()}. score = Σ over the question's DISTINCT words t of tf(t, passage) · "
                      "log(N / df(t)), N passages, df(t) of which contain t; a word no passage contains adds "
                      "nothing.")


def _variant_ranks(kind: str, question: list[int], corpus: list[list[int]], order: np.ndarray) -> bool:
    """Would the wrong retriever ``kind`` (sorting its scores best first) return ``order``?"""
    scores = _variant_scores(kind, question, corpus)
    if np.isnan(scores).any():  # NaN scores: np.argsort(-scores) keeps the passages in index order
        return bool(np.array_equal(order, np.argsort(-scores, kind="stable")[: len(order)]))
    return _is_top_k(order, scores)


# ---------------------------------------------------------------------------------- 8.3 score entries


def check_latent_score_entries(latent_score_entries: Callable) -> None:
    """Exercise 8.3: ``latent_score_entries(N, L, latent_layers, h) -> int`` = h·(N·L + latent_layers·L²)."""
    ex = "Exercise 8.3 (latent_score_entries)"
    for N, L, layers, h in ((1000, 32, 3, 2), (777, 50, 6, 4), (64, 100, 1, 1)):
        raw = call(latent_score_entries, N, L, layers, h, exercise=ex)
        got = _integer(raw, ex, "the number of score entries")
        want = _latent_score_entries(N, L, layers, h)
        if got == want:
            _require_int(raw, ex, "score entries")
            continue
        args = f"(N={N}, L={L}, latent_layers={layers}, h={h})"
        diagnose(np.asarray(float(got)), [
            (h * N * L, "you counted the cross-attention (L × N) only: each of the latent_layers self-attentions "
                        "of the latents adds an L × L score matrix per head."),
            (h * (N * L + L * L), "the latent self-attention runs latent_layers times: latent_layers·L² per head, "
                                  "not L² once."),
            (h * layers * (N * N), "N² per layer is what self-attention over the N INPUTS would hold. Here the "
                                   "L latents read the N inputs once (L·N) and then attend among themselves (L²)."),
            (h * (N * L * layers + L * L), "only the first step reads the inputs (L × N, once); the following "
                                           "latent_layers steps are latents reading latents, L × L each."),
            (h * (N * L + layers * L * L) * (layers + 1), "count each score matrix once: one L × N read, then "
                                                          "latent_layers matrices of L × L."),
            (N * L + layers * L * L, "every head holds its own score matrix: multiply by h."),
            (h * N * L + layers * L * L, "you multiplied only the read by h: every head also has its own L × L "
                                         "latent self-attention scores, so multiply the WHOLE sum by h."),
            (h * ((N + L) ** 2), "(N + L)² is self-attention over the inputs and latents joined together. Here the "
                                 "latents are the queries and the inputs only keys and values: L·N + latent_layers·L²."),
            (h * (N * L + layers * N * L), "the latent self-attention is L × L: the latents attend to the latents, "
                                           "not to the N inputs."),
        ], ex, f"for {args} expected {want}: h·(N·L + latent_layers·L²).")
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
    ex = "Exercise 8.4 (latent_mixing)"
    rng = np.random.default_rng(84)
    N, L, d = 12, 3, 5
    S, Z = rng.normal(size=(N, d)), rng.normal(size=(L, d))
    got = as_array(call(latent_mixing, S, Z, exercise=ex), ex)
    v = _mixing_variants(S, Z)
    expect_shape(got, (N, N), ex, {
        (L, L): "an (L, L) result: you multiplied read @ write. The output tokens read the latents, which read "
                "the inputs: M = write @ read, (N, L) @ (L, N).",
        (N, L): "an (N, L) result is the write weights alone: multiply by the read weights, M = write @ read.",
        (L, N): "an (L, N) result is the read weights alone: the outputs then read the latents, M = write @ read.",
    })
    if close(got, v["right"], tol=1e-8):
        rank = int(np.linalg.matrix_rank(got))
        if rank > L:
            raise CheckFailed(f"{ex}: your matrix has rank {rank} > L = {L}; through {L} latents it cannot.")
        passed(ex, f"a {N}×{N} mixing of rank {rank} ≤ L = {L}; each row sums to 1.")
        return
    diagnose(got, [
        (v["old_latents"], "the outputs read the latents AFTER the latents have read the inputs: use Z1 = read @ S "
                           "(L, d) as the keys and values of the second attention, not the initial latents Z."),
        (v["residual"], "no residual here: the latents after reading are Z1 = read @ S alone, not Z + read @ S. "
                        "(A residual acts on each latent by itself; this exercise follows only what moves "
                        "between tokens.)"),
        (v["read_columns"], "the read weights must sum to 1 over the N inputs for each latent (softmax along the "
                            "last axis of the (L, N) scores), not over the latents."),
        (v["write_columns"], "the write weights must sum to 1 over the L latents for each token (softmax along "
                             "the last axis of the (N, L) scores), not over the tokens."),
        (v["unscaled"], "scale the scores by 1/√d before the softmax (crossattn.attention does it for you)."),
        (v["by_d"], "the scale is 1/√d, the square root of the width, not 1/d (crossattn.attention does it for "
                    "you)."),
        (v["full"], "that is full self-attention of the inputs, attention(S, S, S): no bottleneck, rank N. Route "
                    "through the latents: the latents read S, then S reads the latents."),
        (v["transposed"], "your matrix is transposed: row i must say how much OUTPUT token i takes from each input "
                          "token, so each row sums to 1. M = write @ read."),
    ], ex, "not the mixing through the latents. Check each step's shape and which axis each softmax normalises: "
           "the latents read the inputs (weights (L, N), rows sum to 1), the latents become weighted means of "
           "the inputs, the tokens read those latents (weights (N, L)), and M combines the two weight matrices.")


# ---------------------------------------------------------------------------------- 8.5 KV cache


def check_kv_cache_values(kv_cache_values: Callable) -> None:
    """Exercise 8.5: ``kv_cache_values(tokens, layers, h, d_head, d_c=None, d_rope=0) -> int`` (MHA or MLA)."""
    ex = "Exercise 8.5 (kv_cache_values)"
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
            _require_int(raw, ex, "cached values")
            continue
        args = f"(tokens={T}, layers={layers}, h={h}, d_head={d_head}, d_c={d_c}, d_rope={d_rope})"
        if d_c is None:
            mistakes = [
                (T * layers * h * d_head, "standard attention caches a key AND a value per head: 2·h·d_head per "
                                          "token and layer."),
                (T * layers * 2 * d_head, "every head has its own key and value: 2·h·d_head per token and layer, "
                                          "not 2·d_head."),
                (T * 2 * h * d_head, "every layer keeps its own cache: multiply by layers."),
                (layers * 2 * h * d_head, "the cache grows with the tokens: multiply by tokens."),
            ]
        else:
            mistakes = [
                (T * layers * (h * d_c + d_rope), "MLA caches ONE latent per token and layer, shared by all h "
                                                  "heads: d_c, not h·d_c. The heads' keys and values are rebuilt "
                                                  "from it."),
                (T * layers * (2 * d_c + d_rope), "the latent is shared by the keys AND the values (a joint "
                                                  "compression): d_c once, not 2·d_c."),
                (T * layers * d_c, "add the decoupled RoPE key: MLA caches d_c + d_rope values per token and layer."),
                (T * layers * (d_c + h * d_rope), "the RoPE key is shared by all heads: d_rope once, not h·d_rope."),
                (T * layers * 2 * h * d_head, "with d_c given this is MLA: it caches the latent (d_c + d_rope per "
                                              "token and layer), not the full keys and values (2·h·d_head)."),
                (T * (d_c + d_rope), "every layer keeps its own cache: multiply by layers."),
            ]
        diagnose(np.asarray(float(got)), mistakes, ex, f"for {args} expected {want}: "
                 + ("tokens·layers·2·h·d_head." if d_c is None else "tokens·layers·(d_c + d_rope)."))
    passed(ex, "MHA 2·h·d_head per token and layer, MLA d_c + d_rope.")
