"""Lab 8, beyond translation (NumPy): patches, a TF-IDF retriever, latent score entries, mixing, the KV cache.

Patches are judged on images whose every value says where it came from; the retriever by the TF-IDF
scores of what it returns (any order among tied passages, as the lab says); the mixing matrix against
the lab's construction and by its properties (rows sum to 1, rank ≤ L); the counts against the package.
"""
from __future__ import annotations

import numpy as np

from ..exercises import _array, _first, _randn, _shape, _sizes, _untouched, case, close, integer

__all__ = ["GRADERS", "NEEDS"]


def lab8_patchify(rng):
    from crossattn.core.images import patchify

    cases = []
    for _ in range(2):
        B, C = (int(x) for x in rng.choice([1, 2, 3, 4], size=2, replace=False))
        p = int(rng.integers(2, 5))
        rows, cols = _sizes(rng, 2, 1, 4)
        H, W = rows * p, cols * p
        b, r, c, ch = np.meshgrid(np.arange(B), np.arange(H), np.arange(W), np.arange(C), indexing="ij")
        images = (b * 10_000 + r * 100 + c + ch / 10).astype(float)  # (B, H, W, C): each value says where
        label = f"patchify(images {images.shape}, p={p})"
        cases.append(case("call", (images, p), label, lambda v, r, e=patchify(images, p), lab=label: _first(
            close(v, e, lab, rtol=0, atol=1e-9), _untouched(r, lab))))
    return cases


def lab8_retrieve(rng):
    from crossattn.checks.lab08 import _CASES, _VOCAB
    from crossattn.core.retrieval import tfidf_scores

    cases = []
    # The self-check's corpora (built so that each known wrong idf or tf ranks differently), with their
    # words renamed and their passages shuffled at random; then corpora drawn here.
    corpora = [(q, c, k, _VOCAB) for q, c, k in _CASES]
    for _ in range(2):
        vocab = int(rng.integers(10, 20))
        n_passages = int(rng.integers(6, 14))
        passages = [rng.integers(1, vocab, size=int(rng.integers(2, 8))).tolist() for _ in range(n_passages)]
        asked = rng.choice(np.arange(1, vocab), size=3, replace=False).tolist()
        question = [asked[0], asked[1], asked[1], asked[2], 0]  # a repeated word, and one no passage holds
        corpora.append((question, passages, int(rng.integers(2, min(6, n_passages))), vocab))
    for question, passages, k, vocab in corpora:
        rename = np.concatenate([[0], 1 + rng.permutation(vocab - 1)])  # word 0 stays the word no passage holds
        order = rng.permutation(len(passages))
        passages = [[int(rename[t]) for t in passages[j]] for j in order]
        question = [int(rename[t]) for t in question]
        n_passages = len(passages)
        scores = tfidf_scores(question, passages, vocab_size=vocab)
        label = f"retrieve(question of {len(question)} tokens, {n_passages} passages, k={k})"

        def judge(v, r, scores=scores, k=k, label=label):
            if isinstance(v, list):
                v = np.asarray(v) if all(isinstance(x, (int, np.integer)) for x in v) else v
            got, err = _array(v, label, (k,))
            if err:
                return f"{label}: expected {k} passage indices, got {_shape(v)}"
            if got.dtype.kind not in "iu" and not np.all(got == np.round(got)):
                return f"{label}: the result holds numbers that are not indices"
            got = got.astype(int)
            if got.min() < 0 or got.max() >= len(scores) or len(set(got.tolist())) != k:
                return f"{label}: expected {k} different passage indices in 0..{len(scores) - 1}, got {got.tolist()}"
            if not np.allclose(scores[got], np.sort(scores)[::-1][:k], rtol=0, atol=1e-9):
                return f"{label}: not the {k} best TF-IDF scores, best first"
            return None
        cases.append(case("call", (question, passages, k), label, judge))
    return cases


def lab8_latent_score_entries(rng):
    from crossattn.core.latent import latent_score_entries

    cases = []
    for _ in range(3):
        N, L = (int(x) for x in rng.choice(np.arange(2, 2000), size=2, replace=False))
        layers, h = (int(x) for x in rng.choice(np.arange(1, 9), size=2, replace=False))
        label = f"latent_score_entries(N={N}, L={L}, latent_layers={layers}, h={h})"
        cases.append(case("call", (N, L, layers, h), label, lambda v, r, e=latent_score_entries(N, L, layers, h),
                          lab=label: integer(v, e, lab)))
    return cases


def lab8_latent_mixing(rng):
    from crossattn import attention

    cases = []
    for _ in range(2):
        N, L, d = _sizes(rng, 3, 2, 12)
        if L >= N:
            N, L = L, N
        S, Z = _randn(rng, N, d), _randn(rng, L, d)
        _, read = attention(Z, S, S)  # (L, N)
        Z1 = read @ S  # (L, d)
        _, write = attention(S, Z1, Z1)  # (N, L)
        expected = write @ read  # (N, N)
        label = f"latent_mixing(S {S.shape}, Z {Z.shape})"

        def judge(v, r, e=expected, L=L, label=label):
            err = close(v, e, label, rtol=1e-9, atol=1e-12)
            if err:
                return err
            if not np.allclose(np.asarray(v).sum(-1), 1.0):
                return f"{label}: the rows of the mixing do not sum to 1"
            if np.linalg.matrix_rank(np.asarray(v)) > L:
                return f"{label}: the mixing has rank above L = {L}"
            return _untouched(r, label)
        cases.append(case("call", (S, Z), label, judge))
    return cases


def lab8_kv_cache_values(rng):
    from crossattn.core.latent import kv_cache_values

    cases = []
    for mla in (False, True, False, True):
        T, layers, h, d_head = (int(x) for x in rng.choice(np.arange(2, 200), size=4, replace=False))
        h = 1 + h % 16
        d_c = int(rng.integers(8, 128)) if mla else None
        d_rope = int(rng.integers(0, 16)) if mla else 0
        label = f"kv_cache_values(tokens={T}, layers={layers}, h={h}, d_head={d_head}, d_c={d_c}, d_rope={d_rope})"
        expected = kv_cache_values(T, layers, h, d_head, d_c, d_rope)
        cases.append(case("call", (T, layers, h, d_head, d_c, d_rope), label, lambda v, r, e=expected, lab=label:
                          integer(v, e, lab)))
    return cases


GRADERS = {"patchify": lab8_patchify, "retrieve": lab8_retrieve, "latent_score_entries": lab8_latent_score_entries,
           "latent_mixing": lab8_latent_mixing, "kv_cache_values": lab8_kv_cache_values}
NEEDS = {"imports": (), "parts": ("core",)}
