"""Chapter 11: synthetic speech with known boundaries, Whisper-style timestamps and their controls."""

import numpy as np
import pytest

from crossattn.experiments.alignment import (
    SpeechConfig,
    SyntheticSpeech,
    Utterance,
    boundary_error,
    equal_split,
    paired_gap,
    timestamps,
)
from crossattn.nn.tokens import EOS, FIRST_SYMBOL


def test_utterances_have_known_boundaries_and_the_right_codes():
    task = SyntheticSpeech(SpeechConfig(noise=0.0))
    for u in task.sample(50, seed=3):
        assert u.starts[0] == 0 and len(u.starts) == len(u.words)
        ends = u.starts[1:] + [len(u.frames)]
        for w, a, b in zip(u.words, u.starts, ends):
            assert 2 <= b - a <= 8
            assert set(u.frames[a:b]) <= set(task.codes_of(w))  # no noise: only the word's own codes
        assert all(a != b for a, b in zip(u.words, u.words[1:]))
        assert u.pair == (u.frames, u.words + [EOS])


def test_noise_replaces_frames_at_about_its_rate():
    task = SyntheticSpeech(SpeechConfig(noise=0.5))
    foreign = total = 0
    for u in task.sample(300, seed=0):
        ends = u.starts[1:] + [len(u.frames)]
        for w, a, b in zip(u.words, u.starts, ends):
            foreign += sum(f not in task.codes_of(w) for f in u.frames[a:b])
            total += b - a
    # a replaced frame lands on the word's own codes with probability 2/16: foreign ≈ 0.5 · 14/16
    assert foreign / total == pytest.approx(0.5 * 14 / 16, abs=0.03)


def test_split_keeps_test_transcripts_out_of_training():
    training, test = SyntheticSpeech().split(500, 100, seed=1)
    assert len(test) == 100
    assert not {tuple(u.words) for u in training} & {tuple(u.words) for u in test}


def test_timestamps_read_a_planted_alignment_and_the_controls_break_it():
    u = Utterance(frames=[0] * 12, words=[3, 4, 5], starts=[0, 3, 9])
    maps = np.zeros((1, 1, 3, 12))  # (L_dec, h, N, M): word i attends to its own frames
    for i, (a, b) in enumerate(zip(u.starts, u.starts[1:] + [12])):
        maps[0, 0, i, a:b] = 1.0 / (b - a)
    np.testing.assert_array_equal(timestamps(maps, [(0, 0)]), [0, 3, 9])
    assert boundary_error(timestamps(maps, [(0, 0)]), u) == 0.0
    rng = np.random.default_rng(0)
    assert np.mean([boundary_error(timestamps(maps, [(0, 0)], "rows", rng), u) for _ in range(20)]) > 1.0
    assert np.mean([boundary_error(timestamps(maps, [(0, 0)], "frames", rng), u) for _ in range(20)]) > 1.0
    assert boundary_error(equal_split(3, 12), u) == pytest.approx(1.0)  # starts 0, 4, 8


def test_paired_gap_is_the_mean_difference_with_a_normal_interval():
    errors, baseline = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 1.5, 2.5, 2.5])
    mean, low, high = paired_gap(errors, baseline)  # differences -0.5, 0.5, 0.5, 1.5: sd 0.8165
    assert mean == pytest.approx(0.5)
    assert high - mean == pytest.approx(mean - low) == pytest.approx(1.96 * np.sqrt(2 / 3) / 2)
    # paired: a shared per-utterance offset leaves the gap and its interval unchanged
    offset = np.array([10.0, -3.0, 7.0, 0.0])
    assert paired_gap(errors + offset, baseline + offset) == pytest.approx((mean, low, high))
    # the opposite comparison flips the sign
    assert paired_gap(baseline, errors) == pytest.approx((-mean, -high, -low))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="noise"):
        SpeechConfig(noise=1.0)
    with pytest.raises(ValueError, match="word id"):
        SyntheticSpeech().codes_of(FIRST_SYMBOL - 1)
    with pytest.raises(ValueError, match="control"):
        timestamps(np.zeros((1, 1, 2, 3)), [(0, 0)], "columns")
    with pytest.raises(ValueError, match="rng"):
        timestamps(np.zeros((1, 1, 2, 3)), [(0, 0)], "rows")
    with pytest.raises(ValueError, match="same length"):
        paired_gap(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least 2"):
        paired_gap(np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="finite"):
        paired_gap(np.array([0.0, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match="predicted"):
        boundary_error(np.array([0]), Utterance([0, 0], [3, 4], [0, 1]))
