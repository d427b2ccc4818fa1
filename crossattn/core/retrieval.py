"""Passages to retrieve, and the retriever, for a reader that cross-attends to them (chapter 8).

The corpus is a small synthetic *world*: a few people, each with four facts, one short passage
per fact ("ann lives in paris", "ann works as a baker", "ann keeps a cat", "ann likes figs").
A question is a passage with its last word replaced by "?" ("ann lives in ?").

- The **retriever** scores every passage against the question with TF-IDF, in NumPy, and keeps
  the top k (:func:`tfidf_scores`, :func:`retrieve`).
- The **reader** (:class:`crossattn.experiments.passage_reader.Reader`) encodes each retrieved passage on its own and lets the
  question's tokens cross-attend to the tokens of all k passages at once, padding masked out
  (as Fusion-in-Decoder, Izacard & Grave 2021, reads many passages). It predicts the missing word.

The reader trains on a pool of random worlds whose facts contradict one another, so no answer can
be stored in its weights: the way to answer is to find the fact in the retrieved passages. Remove
the right passage from the corpus and the answer changes (:func:`make_examples` with
``drop_right=True``). Test examples that happen to equal a training example are dropped
(:meth:`Examples.keys`; :func:`crossattn.experiments.passage_reader.held_out_tests`).

Shapes: B questions, k retrieved passages, ℓ passage length (padded), m question length
(padded), n = k·ℓ source tokens the question reads, V vocabulary size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PAD", "ASK", "VOCAB", "RELATIONS", "NAMES", "PASSAGE_LENGTH", "QUESTION_LENGTH", "encode", "decode", "World",
    "relation_values", "make_world", "corpus", "tfidf_scores", "retrieve", "Examples", "make_examples",
]

NAMES = ("ann", "bob", "cai", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lea", "max", "ned", "oda", "pia")
#: relation -> (the words before the value, the values it can take)
RELATIONS = {
    "lives": (("lives", "in"), ("paris", "rome", "oslo", "lima", "cairo", "delhi", "quito", "seoul")),
    "works": (("works", "as", "a"), ("baker", "nurse", "pilot", "judge", "miner", "tailor", "chef", "clerk")),
    "keeps": (("keeps", "a"), ("cat", "dog", "owl", "fox", "hen", "eel", "yak", "bat")),
    "likes": (("likes",), ("figs", "rice", "soup", "kale", "plums", "bread", "eggs", "beans")),
}
PAD, ASK = 0, 1  # padding, and the "?" that stands for the missing word
_WORDS = ["<pad>", "?", *NAMES]
for _lead, _values in RELATIONS.values():
    _WORDS += [w for w in _lead if w not in _WORDS] + list(_values)
VOCAB = tuple(_WORDS)
_ID = {w: i for i, w in enumerate(VOCAB)}
PASSAGE_LENGTH = 1 + max(len(lead) for lead, _ in RELATIONS.values()) + 1  # name, lead words, value: ℓ = 5
QUESTION_LENGTH = PASSAGE_LENGTH  # the same words with "?" for the value


def encode(text: str) -> list[int]:
    """Token ids of a space-separated text, e.g. encode("ann lives in ?")."""
    try:
        return [_ID[w] for w in text.split()]
    except KeyError as err:
        raise ValueError(f"{err.args[0]!r} is not in the vocabulary of the retrieval world") from None


def decode(ids) -> str:
    """The text of token ids, padding dropped."""
    return " ".join(VOCAB[int(i)] for i in ids if int(i) != PAD)


def relation_values(question) -> list[int]:
    """Token ids of the values a question's relation can take: the eight cities of "ann lives in ?".

    A question is a passage with its value replaced by "?": name, relation words, "?" (padding allowed).
    A blind guess picks one of these; chapter 8 compares the reader's answers with such a guess.
    """
    words = [VOCAB[int(i)] for i in question if int(i) != PAD]
    if len(words) < 3 or words[-1] != "?" or words[1] not in RELATIONS:
        raise ValueError(f"not a question of the retrieval world: {' '.join(words)!r}")
    return [_ID[w] for w in RELATIONS[words[1]][1]]


@dataclass
class World:
    """People and their facts: ``facts[name][relation]`` is the value word."""

    facts: dict[str, dict[str, str]]


def make_world(rng: np.random.Generator, n_people: int = 6) -> World:
    """A random world of ``n_people`` distinct people, each with one value per relation."""
    if not 1 <= n_people <= len(NAMES):
        raise ValueError(f"n_people must lie in 1..{len(NAMES)}, got {n_people}")
    people = rng.choice(len(NAMES), size=n_people, replace=False)
    return World({NAMES[p]: {rel: values[rng.integers(len(values))] for rel, (_, values) in RELATIONS.items()}
                  for p in people})


def corpus(world: World) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """The world's passages, one per fact, with its questions and answers, all as token ids.

    Returns (passages, questions, answers): question q asks for the last word of passage q,
    whose token id is answers[q].
    """
    passages, questions, answers = [], [], []
    for name, facts in world.facts.items():
        for rel, value in facts.items():
            lead = RELATIONS[rel][0]
            passages.append(encode(" ".join((name, *lead, value))))
            questions.append(encode(" ".join((name, *lead, "?"))))
            answers.append(_ID[value])
    return passages, questions, answers


def _counts(token_lists: list[list[int]], vocab_size: int) -> NDArray[np.float64]:
    counts = np.zeros((len(token_lists), vocab_size))  # (number of lists, V)
    for row, tokens in enumerate(token_lists):
        np.add.at(counts[row], np.asarray(tokens, dtype=np.int64), 1.0)
    return counts


def _idf(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """idf(t) = log(N / df(t)) from term counts (N, V); 0 for a word no passage contains."""
    df = (counts > 0).sum(axis=0)  # (V,) passages containing each word
    return np.where(df > 0, np.log(len(counts) / np.maximum(df, 1)), 0.0)  # (V,)


def _scores_from_counts(question: list[int], counts: NDArray[np.float64]) -> NDArray[np.float64]:
    idf = _idf(counts)  # (V,)
    asked = np.zeros(counts.shape[1])
    asked[np.unique(np.asarray(question, dtype=np.int64))] = 1.0  # (V,) the question's distinct words
    return counts @ (asked * idf)  # (N, V) @ (V,) -> (N,)


def tfidf_scores(question: list[int], passages: list[list[int]], vocab_size: int = len(VOCAB)) -> NDArray[np.float64]:
    """TF-IDF score of every passage for the question: array (number of passages,).

    score(passage) = Σ over the question's distinct words t of tf(t, passage) · idf(t), where
    tf(t, passage) counts t in the passage and idf(t) = log(N / df(t)), N passages, df(t) of
    which contain t. A word that no passage contains adds nothing.
    """
    if not passages:
        raise ValueError("tfidf_scores needs at least one passage")
    if any(not 0 <= t < vocab_size for t in question) or any(not 0 <= t < vocab_size for p in passages for t in p):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1} (vocab_size={vocab_size})")
    return _scores_from_counts(question, _counts(passages, vocab_size))


def retrieve(question: list[int], passages: list[list[int]], k: int, vocab_size: int = len(VOCAB)) -> list[int]:
    """Indices of the k passages with the highest TF-IDF score, best first (ties: lower index first;
    the lab's checker accepts any order among tied passages)."""
    if not 1 <= k <= len(passages):
        raise ValueError(f"k must lie in 1..{len(passages)} (the number of passages), got {k}")
    scores = tfidf_scores(question, passages, vocab_size)
    return np.argsort(-scores, kind="stable")[:k].tolist()


# -- examples for the reader ------------------------------------------------------------------------

@dataclass
class Examples:
    """Questions with their retrieved passages, ready for the reader.

    questions (B, m) and retrieved (B, k, ℓ) token ids, PAD-padded at the end; answers (B,) token
    ids; has_right (B,) whether the passage that states the answer is among the retrieved ones.
    """

    questions: NDArray[np.int64]
    retrieved: NDArray[np.int64]
    answers: NDArray[np.int64]
    has_right: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.answers)

    def subset(self, rows: NDArray) -> Examples:
        """The examples at ``rows`` (indices or a boolean mask of length B)."""
        return Examples(self.questions[rows], self.retrieved[rows], self.answers[rows], self.has_right[rows])

    def keys(self) -> list[tuple]:
        """One hashable key per example: its question, its retrieved passages as a set (their order is
        shuffled and carries nothing) and its answer. Two examples with one key are the same example."""
        return [(tuple(q), tuple(sorted(map(tuple, docs))), int(a))
                for q, docs, a in zip(self.questions.tolist(), self.retrieved.tolist(), self.answers)]


def _pad(tokens: list[int], length: int) -> list[int]:
    return tokens + [PAD] * (length - len(tokens))


def make_examples(n_worlds: int, seed: int, k: int = 4, n_people: int = 6, drop_right: bool = False,
                  edit: bool = False) -> Examples:
    """Every question of ``n_worlds`` random worlds, with its top-k retrieved passages.

    drop_right: remove the passage that states the answer from the corpus before retrieving.
    edit: before retrieving, change the value in that passage to another value of the same
    relation; the answer becomes the new value (what the corpus now says).
    The retrieved passages are shuffled, so their rank tells the reader nothing. The same seed gives
    the same worlds and questions whatever drop_right and edit say.
    """
    if drop_right and edit:
        raise ValueError("choose drop_right or edit, not both")
    # One generator for the worlds, one for edits and shuffles: the same seed gives the same worlds and
    # questions with and without drop_right or edit.
    world_rng, rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    questions, retrieved, answers, has_right = [], [], [], []
    for _ in range(n_worlds):
        passages, world_questions, world_answers = corpus(make_world(world_rng, n_people))
        counts = _counts(passages, len(VOCAB))  # (N, V), shared by the world's questions
        asked = np.minimum(_counts(world_questions, len(VOCAB)), 1.0)  # (N, V): each question's distinct words
        world_scores = asked * _idf(counts) @ counts.T  # (N questions, V) @ (V, N passages)
        for q, (question, answer) in enumerate(zip(world_questions, world_answers)):
            docs, rows = list(passages), counts
            if edit:
                values = RELATIONS[_relation(question)][1]
                others = [v for v in values if _ID[v] != answer]
                old, answer = answer, _ID[others[rng.integers(len(others))]]
                docs[q] = docs[q][:-1] + [answer]
                rows = counts.copy()
                rows[q, old] -= 1
                rows[q, answer] += 1
            if drop_right:
                docs.pop(q)
                rows = np.delete(counts, q, axis=0)
            scores = world_scores[q] if rows is counts else _scores_from_counts(question, rows)  # (N,) or (N − 1,)
            top = np.argsort(-scores, kind="stable")[:k].tolist()
            right = (not drop_right) and q in top
            rng.shuffle(top)
            questions.append(_pad(question, QUESTION_LENGTH))
            retrieved.append([_pad(docs[j], PASSAGE_LENGTH) for j in top])
            answers.append(answer)
            has_right.append(right)
    return Examples(np.array(questions), np.array(retrieved), np.array(answers), np.array(has_right))


def _relation(question: list[int]) -> str:
    return VOCAB[question[1]]  # the word after the name names the relation
