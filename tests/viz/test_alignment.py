"""Chapter 11's figure draws the map, the path and one outline per word, and refuses bad shapes."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from crossattn.core.alignment import dtw  # noqa: E402
from crossattn.viz.alignment import plot_alignment  # noqa: E402


def test_plot_alignment_draws_the_path_and_one_outline_per_word():
    matrix = np.random.default_rng(0).normal(size=(3, 10))
    path = dtw(-matrix)
    ax = plot_alignment(matrix, path, [0, 4, 7], ["a", "b", "c"], title="t")
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), path[:, 1])
    np.testing.assert_array_equal(line.get_ydata(), path[:, 0])
    assert [r.get_width() for r in ax.patches] == [4, 3, 3]
    plt.close(ax.figure)


def test_plot_alignment_refuses_bad_shapes():
    with pytest.raises(ValueError, match="true starts"):
        plot_alignment(np.zeros((3, 5)), np.array([(0, 0)]), [0, 2])
    with pytest.raises(ValueError, match="path"):
        plot_alignment(np.zeros((3, 5)), np.zeros(4), [0, 1, 2])
