"""Dynamic time warping (chapter 11) against brute force over every monotone path."""

import numpy as np
import pytest

from crossattn.core.alignment import dtw, path_cost, word_starts


def all_paths(N, M):
    """Every monotone path from (0, 0) to (N - 1, M - 1) with moves (0, 1), (1, 0), (1, 1)."""
    def extend(path):
        i, j = path[-1]
        if (i, j) == (N - 1, M - 1):
            yield path
            return
        for di, dj in ((0, 1), (1, 0), (1, 1)):
            if i + di < N and j + dj < M:
                yield from extend(path + [(i + di, j + dj)])
    yield from extend([(0, 0)])


@pytest.mark.parametrize("N,M", [(1, 1), (1, 4), (3, 1), (2, 3), (3, 5), (4, 4), (4, 6)])
def test_dtw_is_the_cheapest_path(N, M):
    rng = np.random.default_rng(N * 10 + M)
    for _ in range(5):
        cost = rng.normal(size=(N, M))  # continuous costs: the cheapest path is unique
        paths = [np.array(p) for p in all_paths(N, M)]
        best = min(paths, key=lambda p: path_cost(cost, p))
        found = dtw(cost)
        assert path_cost(cost, found) == pytest.approx(path_cost(cost, best))
        np.testing.assert_array_equal(found, best)


def test_dtw_follows_a_planted_diagonal_and_word_starts_read_it():
    # words 0, 1, 2 own frames 0-1, 2-4, 5-6: cost -1 there, 0 elsewhere
    cost = np.zeros((3, 7))
    for word, (a, b) in enumerate([(0, 2), (2, 5), (5, 7)]):
        cost[word, a:b] = -1.0
    path = dtw(cost)
    np.testing.assert_array_equal(word_starts(path, 3), [0, 2, 5])
    # transposing the matrix gives the transposed problem, not the same answer
    assert dtw(cost.T).shape[1] == 2 and tuple(dtw(cost.T)[-1]) == (6, 2)


def test_word_starts_are_first_frames_of_each_row():
    path = np.array([(0, 0), (0, 1), (1, 2), (1, 3), (2, 3), (2, 4)])
    np.testing.assert_array_equal(word_starts(path, 3), [0, 2, 3])


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((0, 2)), np.array([[0.0, np.nan]])])
def test_dtw_rejects_bad_cost(bad):
    with pytest.raises(ValueError, match="cost"):
        dtw(bad)


def test_path_cost_and_word_starts_reject_non_paths():
    cost = np.zeros((2, 3))
    with pytest.raises(ValueError, match="moves"):
        path_cost(cost, np.array([(0, 0), (0, 2), (1, 2)]))
    with pytest.raises(ValueError, match="runs from"):
        path_cost(cost, np.array([(0, 0), (1, 1)]))
    with pytest.raises(ValueError, match="rows"):
        word_starts(np.array([(0, 0), (1, 1)]), 3)
    with pytest.raises(ValueError, match="n_words"):
        word_starts(np.array([(0, 0)]), 0)
