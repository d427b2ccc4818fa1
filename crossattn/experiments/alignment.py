"""Listening: cross-attention as alignment, word timestamps by dynamic time warping (chapter 11).

Synthetic "audio" made by code (:class:`SyntheticSpeech`): each word of a short utterance becomes a run
of frames of a random duration, so the true word boundaries are known. A frame is one acoustic code (a
quantised feature vector, as speech tokenisers produce): a word's frames draw from that word's own
codes, and with probability ``noise`` a frame is replaced by any code at all. Chapter 4's
:class:`~crossattn.nn.model.EncoderDecoder` transcribes frames → words (:func:`train_transcriber`).

Word timestamps as Whisper's released code computes them (``whisper/timing.py``; the paper, Radford et
al. 2023, describes the encoder–decoder and its segment-level timestamp tokens, §2.3, which long-form
transcription uses in §3.8, but not this word-level method): the decoder's cross-attention of chosen heads, read as a words × frames matrix, each frame's column
standardised across the words, averaged over the heads; dynamic time warping
(:func:`crossattn.core.alignment.dtw`) finds the cheapest monotone path through its negative; a word
starts where the path enters its row. :func:`evaluate` measures the error of the starts against the
true boundaries, in frames, and its controls: the same DTW over the maps with their word rows
permuted or their frames shuffled, and the starts of an equal split of the frames among the words.

Shapes: N words of an utterance, M frames, L_dec decoder layers, h heads.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from ..core.alignment import dtw, word_starts
from ..nn.data import to_batch
from ..nn.model import EncoderDecoder, ModelConfig
from ..nn.tokens import EOS, FIRST_SYMBOL
from ..nn.train import TrainConfig, seed_everything, token_accuracy, train
from .diagnostics import cross_attention_weights

__all__ = [
    "SpeechConfig", "Utterance", "SyntheticSpeech", "AlignmentConfig", "train_transcriber", "attention_maps",
    "timestamps", "CONTROLS", "boundary_error", "paired_gap", "choose_heads", "AlignmentResult", "evaluate", "run",
]


@dataclass
class SpeechConfig:
    """The synthetic speech: a few words, each spoken as a run of noisy acoustic codes."""

    n_words: int = 8  # words of the vocabulary
    codes_per_word: int = 2  # acoustic codes each word's frames draw from
    min_words: int = 3  # words per utterance, at least …
    max_words: int = 5  # … and at most
    min_frames: int = 2  # frames per word, at least …
    max_frames: int = 8  # … and at most
    noise: float = 0.25  # probability that a frame's code is replaced by a code drawn from all codes

    def __post_init__(self) -> None:
        if self.n_words < 2 or self.codes_per_word < 1:
            raise ValueError(f"need n_words ≥ 2 and codes_per_word ≥ 1, got {self.n_words}, {self.codes_per_word}")
        if not 1 <= self.min_words <= self.max_words:
            raise ValueError(f"need 1 ≤ min_words ≤ max_words, got {self.min_words}, {self.max_words}")
        if not 1 <= self.min_frames <= self.max_frames:
            raise ValueError(f"need 1 ≤ min_frames ≤ max_frames, got {self.min_frames}, {self.max_frames}")
        if not 0.0 <= self.noise < 1.0:
            raise ValueError(f"noise must be in [0, 1), got {self.noise}")


@dataclass
class Utterance:
    """One utterance: its frames (M codes), its words (N ids) and the first frame of each word (N)."""

    frames: list[int]
    words: list[int]
    starts: list[int]

    @property
    def pair(self) -> tuple[list[int], list[int]]:
        """(source, target) for training: the frames, and the words followed by EOS."""
        return self.frames, self.words + [EOS]


class SyntheticSpeech:
    """Utterances made by code with known word boundaries (one vocabulary for words and codes).

    Ids: PAD, BOS, EOS; then the words, FIRST_SYMBOL … FIRST_SYMBOL + n_words − 1; then the codes,
    ``codes_per_word`` per word. A word never follows itself, so every boundary shows in the words.
    """

    def __init__(self, cfg: SpeechConfig | None = None) -> None:
        self.cfg = cfg or SpeechConfig()
        self.first_code = FIRST_SYMBOL + self.cfg.n_words

    @property
    def vocab_size(self) -> int:
        return self.first_code + self.cfg.n_words * self.cfg.codes_per_word

    @property
    def max_frames(self) -> int:
        """The longest utterance, in frames."""
        return self.cfg.max_words * self.cfg.max_frames

    def codes_of(self, word: int) -> list[int]:
        """The acoustic codes of ``word`` (a word id)."""
        if not FIRST_SYMBOL <= word < self.first_code:
            raise ValueError(f"{word} is not a word id ({FIRST_SYMBOL}..{self.first_code - 1})")
        first = self.first_code + (word - FIRST_SYMBOL) * self.cfg.codes_per_word
        return list(range(first, first + self.cfg.codes_per_word))

    def utterance(self, rng: random.Random) -> Utterance:
        c = self.cfg
        words: list[int] = []
        for _ in range(rng.randint(c.min_words, c.max_words)):
            choices = [w for w in range(FIRST_SYMBOL, self.first_code) if not words or w != words[-1]]
            words.append(rng.choice(choices))
        frames, starts = [], []
        for w in words:
            starts.append(len(frames))
            for _ in range(rng.randint(c.min_frames, c.max_frames)):
                noisy = rng.random() < c.noise
                frames.append(rng.randrange(self.first_code, self.vocab_size) if noisy else rng.choice(self.codes_of(w)))
        return Utterance(frames, words, starts)

    def sample(self, count: int, seed: int) -> list[Utterance]:
        rng = random.Random(seed)
        return [self.utterance(rng) for _ in range(count)]

    def split(self, n_train: int, n_test: int, seed: int = 0) -> tuple[list[Utterance], list[Utterance]]:
        """(training, held-out) utterances; no held-out word sequence is ever spoken in training.

        Stricter than :func:`crossattn.nn.data.held_out`, which compares sources: noisy frames almost
        never repeat, so the held-out set excludes the training *transcripts* instead.
        """
        if n_train < 1 or n_test < 1:
            raise ValueError(f"n_train and n_test must be at least 1, got {n_train}, {n_test}")
        training = self.sample(n_train, seed)
        seen = {tuple(u.words) for u in training}
        held: list[Utterance] = []
        for round_ in range(1, 51):
            held += [u for u in self.sample(n_test, seed + round_) if tuple(u.words) not in seen]
            if len(held) >= n_test:
                return training, held[:n_test]
        raise ValueError(f"only {len(held)} of {n_test} held-out utterances have an unseen transcript")


@dataclass
class AlignmentConfig:
    """One run of chapter 11 (defaults: about 10–20 s of training on two CPU cores)."""

    speech: SpeechConfig = field(default_factory=SpeechConfig)
    d_model: int = 32
    h: int = 2
    positions: str = "absolute"  # one of crossattn.nn.positions.POSITION_SCHEMES (chapter 6)
    steps: int = 400
    n_train: int = 3000
    n_test: int = 200
    n_choose: int = 200  # training utterances on which the alignment heads are chosen
    n_heads: int = 2  # heads kept, the best on those utterances
    seed: int = 0


def train_transcriber(task: SyntheticSpeech, training: list[Utterance], cfg: AlignmentConfig) -> EncoderDecoder:
    """Chapter 4's encoder–decoder, trained to turn frames into words."""
    seed_everything(cfg.seed)
    model = EncoderDecoder(ModelConfig(vocab_size=task.vocab_size, d_model=cfg.d_model, h=cfg.h, positions=cfg.positions,
                                       d_ff=2 * cfg.d_model, max_len=max(64, task.max_frames + 1)))
    train(model, [u.pair for u in training], TrainConfig(steps=cfg.steps, seed=cfg.seed))
    return model


def attention_maps(model: EncoderDecoder, utterance: Utterance) -> np.ndarray:
    """The cross-attention of every head, words × frames: an array (L_dec, h, N, M).

    Under teacher forcing, query row i is the decoder reading words 0..i−1 while it predicts word i;
    the row that predicts EOS is left out.
    """
    src, tgt = utterance.pair
    batch = to_batch([(src, tgt)])
    weights = cross_attention_weights(model, batch.src, batch.tgt_in)  # (L_dec, 1, h, N + 1, M)
    return weights[:, 0, :, : len(utterance.words), :].numpy()  # (L_dec, h, N, M)


def _standardise(maps: np.ndarray) -> np.ndarray:
    """Each frame's column standardised across the words, as Whisper does: (..., N, M) → same shape."""
    mean, std = maps.mean(axis=-2, keepdims=True), maps.std(axis=-2, keepdims=True)
    return (maps - mean) / np.maximum(std, 1e-8)


#: How :func:`timestamps` may corrupt the maps before DTW, the controls of the claim.
CONTROLS = ("none", "rows", "frames")


def timestamps(maps: np.ndarray, heads: list[tuple[int, int]], control: str = "none",
               rng: np.random.Generator | None = None) -> np.ndarray:
    """The first frame of each word, by DTW over the chosen ``heads`` of ``maps`` (L_dec, h, N, M).

    heads: (layer, head) pairs. control "rows" permutes the word rows of the averaged matrix (no row
    left in place when N > 1), "frames" shuffles its frame columns; both need ``rng``.
    Returns an integer array (N,).
    """
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {CONTROLS}, got {control!r}")
    if maps.ndim != 4:
        raise ValueError(f"maps must have shape (L_dec, h, N, M), got {maps.shape}")
    if not heads:
        raise ValueError("heads must name at least one (layer, head)")
    matrix = np.mean([_standardise(maps[l, k]) for l, k in heads], axis=0)  # (N, M)
    N, M = matrix.shape
    if control != "none" and rng is None:
        raise ValueError(f"control {control!r} needs an rng")
    if control == "rows" and N > 1:
        order = rng.permutation(N)
        while np.any(order == np.arange(N)):
            order = rng.permutation(N)
        matrix = matrix[order]
    elif control == "frames":
        matrix = matrix[:, rng.permutation(M)]
    return word_starts(dtw(-matrix), N)


def equal_split(n_words: int, n_frames: int) -> np.ndarray:
    """The starts of an equal split of ``n_frames`` among ``n_words``: the guess without attention."""
    return np.floor(np.arange(n_words) * n_frames / n_words).astype(int)


def boundary_error(predicted: np.ndarray, utterance: Utterance) -> float:
    """Mean |predicted − true| start, in frames, over the words after the first (the first starts at 0)."""
    truth = np.asarray(utterance.starts)
    predicted = np.asarray(predicted)
    if predicted.shape != truth.shape:
        raise ValueError(f"{len(truth)} words, but {predicted.shape} predicted starts")
    if len(truth) < 2:
        raise ValueError("an utterance of one word has no boundary to time")
    return float(np.abs(predicted[1:] - truth[1:]).mean())


def paired_gap(errors: np.ndarray, baseline: np.ndarray, z: float = 1.96) -> tuple[float, float, float]:
    """Mean of ``errors − baseline`` over utterances, with its normal-approximation interval: (mean, low, high).

    ``errors`` and ``baseline``: one error per utterance (shape (U,)), measured on the same utterances, so
    the difference is paired. The interval (z = 1.96: 95 %) is mean ± z · sd / √U, which leans on the
    central limit theorem: fine for a few hundred utterances, not for a handful. It describes the
    utterances of one trained model; another training seed is another model, and its gap can differ
    by more than this interval's width.
    """
    e, b = np.asarray(errors, dtype=float), np.asarray(baseline, dtype=float)
    if e.ndim != 1 or e.shape != b.shape:
        raise ValueError(f"errors and baseline must be 1-D of the same length, got shapes {e.shape} and {b.shape}")
    if e.size < 2:
        raise ValueError(f"an interval needs at least 2 utterances, got {e.size}")
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(b))):
        raise ValueError("errors and baseline must be finite numbers")
    if not (np.isfinite(z) and z > 0):
        raise ValueError(f"z must be a positive number, got {z!r}")
    d = e - b  # (U,)
    half = z * float(d.std(ddof=1)) / np.sqrt(d.size)
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def choose_heads(model: EncoderDecoder, utterances: list[Utterance], n_heads: int) -> list[tuple[int, int]]:
    """The ``n_heads`` (layer, head) pairs whose timestamps err least on ``utterances`` (training ones).

    Whisper ships a fixed list of alignment heads per model (``_ALIGNMENT_HEADS`` in its code); without
    one it uses every head of the decoder's second half. Here they are chosen on training utterances.
    """
    all_maps = [attention_maps(model, u) for u in utterances]
    L, h = all_maps[0].shape[:2]
    errors = {(l, k): np.mean([boundary_error(timestamps(m, [(l, k)]), u) for m, u in zip(all_maps, utterances)])
              for l in range(L) for k in range(h)}
    return sorted(errors, key=errors.get)[:n_heads]


@dataclass
class AlignmentResult:
    """What :func:`run` measures on held-out utterances (errors in frames, per interior boundary)."""

    accuracy: float  # teacher-forced word accuracy
    heads: list[tuple[int, int]]  # the alignment heads, chosen on training utterances
    error: float  # mean boundary error of DTW over the heads' attention
    controls: dict[str, float]  # "rows", "frames": the same DTW over corrupted maps; "equal split"
    per_head: dict[tuple[int, int], float]  # the error of each head alone


def evaluate(model: EncoderDecoder, utterances: list[Utterance], heads: list[tuple[int, int]],
             seed: int = 0) -> tuple[float, dict[str, float], dict[tuple[int, int], float]]:
    """(error, control errors, error of each head alone) over ``utterances``."""
    rng = np.random.default_rng(seed)
    all_maps = [attention_maps(model, u) for u in utterances]
    L, h = all_maps[0].shape[:2]

    def mean_error(starts_of) -> float:
        return float(np.mean([boundary_error(starts_of(m, u), u) for m, u in zip(all_maps, utterances)]))

    error = mean_error(lambda m, u: timestamps(m, heads))
    controls = {c: mean_error(lambda m, u, c=c: timestamps(m, heads, c, rng)) for c in ("rows", "frames")}
    controls["equal split"] = mean_error(lambda m, u: equal_split(len(u.words), len(u.frames)))
    per_head = {(l, k): mean_error(lambda m, u, l=l, k=k: timestamps(m, [(l, k)])) for l in range(L) for k in range(h)}
    return error, controls, per_head


def run(cfg: AlignmentConfig | None = None) -> tuple[EncoderDecoder, list[Utterance], AlignmentResult]:
    """Train the transcriber, choose heads on training utterances, time the held-out ones."""
    cfg = cfg or AlignmentConfig()
    task = SyntheticSpeech(cfg.speech)
    training, test = task.split(cfg.n_train, cfg.n_test, cfg.seed)
    model = train_transcriber(task, training, cfg)
    heads = choose_heads(model, training[: cfg.n_choose], cfg.n_heads)
    error, controls, per_head = evaluate(model, test, heads, cfg.seed)
    accuracy = token_accuracy(model, [u.pair for u in test])
    return model, test, AlignmentResult(accuracy, heads, error, controls, per_head)
