"""Lab 11's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import numpy as np
import pytest

from crossattn.checks import check_attention_timestamps, check_boundary_error, check_dtw, check_word_starts
from crossattn.checks.lab11 import PLANTED, planted_maps
from crossattn.core.alignment import dtw, word_starts
from tests.checks.conventions import named_mistakes_test

# --- Exercise 11.1: dtw(cost) -> path (L, 2) ---------------------------------------------------------------


def _table(cost, moves=((1, 1), (1, 0), (0, 1)), pick=min):
    N, M = cost.shape
    worst = np.inf if pick is min else -np.inf
    total = np.full((N + 1, M + 1), worst)
    total[0, 0] = 0.0
    for i in range(N):
        for j in range(M):
            before = 0.0 if (i, j) == (0, 0) else pick(total[i + 1 - a, j + 1 - b] for a, b in moves)
            total[i + 1, j + 1] = cost[i, j] + before
    return total


def _walk_back(total, moves=((1, 1), (1, 0), (0, 1)), pick=min):
    i, j = total.shape[0] - 2, total.shape[1] - 2
    path = [(i, j)]
    while (i, j) != (0, 0):
        options = [(i - a, j - b) for a, b in moves if i - a >= 0 and j - b >= 0]
        i, j = pick(options, key=lambda ij: total[ij[0] + 1, ij[1] + 1])
        path.append((i, j))
    return path


def dtw_right(cost):
    return np.array(_walk_back(_table(cost))[::-1])


def dtw_total_matrix(cost):
    return _table(cost)[1:, 1:]


def dtw_reversed(cost):
    return np.array(_walk_back(_table(cost)))


def dtw_transposed(cost):
    return np.array(_walk_back(_table(cost))[::-1])[:, ::-1]


def dtw_skips(cost):  # steps two frames at a time where it can
    path = dtw_right(cost)
    keep = [0] + [k for k in range(1, len(path) - 1) if k % 3] + [len(path) - 1]
    thinned = path[keep]
    return thinned if len(thinned) < len(path) else np.array([(0, 0), (0, 2)])


def dtw_backwards(cost):
    path = dtw_right(cost).tolist()
    return np.array(path[:2] + [path[0]] + path[1:])


def dtw_wrong_start(cost):
    return dtw_right(cost)[1:]


def dtw_wrong_end(cost):  # walks back from the cheapest cell of the last row
    total = _table(cost)
    j = int(np.argmin(total[-1, 1:]))
    return np.array(_walk_back(total[:, : j + 2])[::-1])


def dtw_no_diagonal(cost):
    moves = ((1, 0), (0, 1))
    return np.array(_walk_back(_table(cost, moves), moves)[::-1])


def dtw_maximises(cost):
    return np.array(_walk_back(_table(cost, pick=max), pick=max)[::-1])


def dtw_greedy(cost):
    N, M = cost.shape
    i, j, path = 0, 0, [(0, 0)]
    while (i, j) != (N - 1, M - 1):
        options = [(i + a, j + b) for a, b in ((0, 1), (1, 0), (1, 1)) if i + a < N and j + b < M]
        i, j = min(options, key=lambda ij: cost[ij])
        path.append((i, j))
    return np.array(path)


def dtw_staircase(cost):  # a valid path, but a fixed one: no costs read
    N, M = cost.shape
    return np.array([(0, j) for j in range(M)] + [(i, M - 1) for i in range(1, N)])


def dtw_as_tuples_one_row(cost):
    return dtw_right(cost).reshape(-1)


# --- Exercise 11.2: word_starts(path, n_words) -> int (n_words,) ----------------------------------------------


def starts_right(path, n_words):
    rows = path[:, 0]
    first = np.concatenate([[True], np.diff(rows) != 0])
    return path[first, 1]


def starts_ends(path, n_words):
    found = {}
    for word, frame in path:
        found[word] = frame  # the last visit wins
    return np.array([found[w] for w in range(n_words)])


def starts_previous_end(path, n_words):  # Whisper's jumps without the pad
    jumps = np.diff(path[:, 0]) != 0
    return np.concatenate([[0], path[:-1][jumps, 1]])


def starts_path_index(path, n_words):
    return np.flatnonzero(np.concatenate([[True], np.diff(path[:, 0]) != 0]))


def starts_no_first(path, n_words):
    return path[1:][np.diff(path[:, 0]) != 0, 1]


def starts_float(path, n_words):
    return starts_right(path, n_words).astype(float)


def starts_plus_one(path, n_words):
    return starts_right(path, n_words) + 1


# --- Exercise 11.3: attention_timestamps(maps) -> int (N,) ---------------------------------------------------


def _std(maps, axis):
    return (maps - maps.mean(axis=axis, keepdims=True)) / maps.std(axis=axis, keepdims=True)


def _starts(matrix):
    return word_starts(dtw(-matrix), matrix.shape[0])


def ts_right(maps):
    return _starts(_std(maps, -2).mean(axis=0))


def ts_wrong_axis(maps):
    return _starts(_std(maps, -1).mean(axis=0))


def ts_no_negation(maps):
    matrix = _std(maps, -2).mean(axis=0)
    return word_starts(dtw(matrix), matrix.shape[0])


def ts_no_standardise(maps):
    return _starts(maps.mean(axis=0))


def ts_averaged_first(maps):
    return _starts(_std(maps.mean(axis=0), -2))


def ts_one_head(maps):
    return _starts(_std(maps[0], -2))


def ts_returned_path(maps):
    return dtw(-_std(maps, -2).mean(axis=0))


def ts_equal_split(maps):
    _, N, M = maps.shape
    return np.arange(N) * M // N


# --- Exercise 11.4: boundary_error(predicted, true_starts) -> float -------------------------------------------


def error_right(predicted, true_starts):
    return float(np.abs(predicted[1:] - true_starts[1:]).mean())


def error_with_first(predicted, true_starts):
    return float(np.abs(predicted - true_starts).mean())


def error_signed(predicted, true_starts):
    return float((predicted[1:] - true_starts[1:]).mean())


def error_squared(predicted, true_starts):
    return float(((predicted[1:] - true_starts[1:]) ** 2).mean())


def error_rmse(predicted, true_starts):
    return float(np.sqrt(((predicted[1:] - true_starts[1:]) ** 2).mean()))


def error_summed(predicted, true_starts):
    return int(np.abs(predicted[1:] - true_starts[1:]).sum())


def error_per_word(predicted, true_starts):
    return np.abs(predicted[1:] - true_starts[1:])


def error_as_text(predicted, true_starts):
    return f"{error_right(predicted, true_starts):.2f} frames"


def error_max(predicted, true_starts):
    return float(np.abs(predicted[1:] - true_starts[1:]).max())


MISTAKES = {
    "11.1": {
        "total_matrix": dtw_total_matrix, "reversed": dtw_reversed, "transposed": dtw_transposed,
        "skips": dtw_skips, "backwards": dtw_backwards, "wrong_start": dtw_wrong_start, "wrong_end": dtw_wrong_end,
        "no_diagonal": dtw_no_diagonal, "maximises": dtw_maximises, "greedy": dtw_greedy,
        "not_cheapest": dtw_staircase, "not_pairs": dtw_as_tuples_one_row,
    },
    "11.2": {
        "ends": starts_ends, "previous_end": starts_previous_end, "path_index": starts_path_index,
        "no_first": starts_no_first, "float": starts_float, "wrong": starts_plus_one,
    },
    "11.3": {
        "wrong_axis": ts_wrong_axis, "no_negation": ts_no_negation, "no_standardise": ts_no_standardise,
        "averaged_first": ts_averaged_first, "one_head": ts_one_head, "returned_path": ts_returned_path,
        "wrong": ts_equal_split,
    },
    "11.4": {
        "with_first": error_with_first, "signed": error_signed, "squared": error_squared, "rmse": error_rmse,
        "summed": error_summed, "per_word": error_per_word, "not_number": error_as_text, "wrong": error_max,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


def test_the_table_functions_that_are_right_pass(capsys):
    check_dtw(dtw_right)
    check_word_starts(starts_right)
    check_attention_timestamps(ts_right)
    check_boundary_error(error_right)
    assert capsys.readouterr().out.count("✓") == 4


def test_the_package_functions_pass(capsys):
    check_dtw(dtw)
    check_word_starts(word_starts)
    assert capsys.readouterr().out.count("✓") == 2


def test_the_planted_maps_are_attention_and_the_method_recovers_their_starts():
    for case in range(len(PLANTED)):
        maps, starts, _ = planted_maps(case)
        np.testing.assert_allclose(maps.sum(axis=-1), 1.0)  # rows are softmaxes over the frames
        np.testing.assert_array_equal(ts_right(maps), starts)
        # the mistakes give five different wrong answers, so each can be named
        wrong = {tuple(f(maps).tolist()) for f in (ts_wrong_axis, ts_no_negation, ts_no_standardise,
                                                   ts_averaged_first, ts_one_head)}
        assert len(wrong) == 5 and tuple(starts) not in wrong
    with pytest.raises(ValueError, match="case"):
        planted_maps(len(PLANTED))
