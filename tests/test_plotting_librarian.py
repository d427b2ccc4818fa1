"""The heatmap helper and the chapter 1 librarian (its figure and its widget)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from crossattn import plot_attention  # noqa: E402
from crossattn.librarian import LibrarianWidget, Shelf, default_shelf, librarian_figure, query_at, read_shelf  # noqa: E402


def test_heatmap_puts_queries_on_rows_and_keys_on_columns():
    w = np.full((2, 3), 1 / 3)
    ax = plot_attention(w, ["le", "chat"], ["the", "black", "cat"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["le", "chat"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["the", "black", "cat"]
    assert ax.images[0].get_array().shape == (2, 3)
    plt.close(ax.figure)


@pytest.mark.parametrize("q_labels, k_labels, match", [
    (["a"], ["x", "y", "z"], r"1 query labels for 2 rows"),
    (["a", "b"], ["x", "y"], r"2 key labels for 3 columns"),
])
def test_heatmap_rejects_labels_that_do_not_fit_the_shape(q_labels, k_labels, match):
    with pytest.raises(ValueError, match=match):
        plot_attention(np.zeros((2, 3)), q_labels, k_labels)


def test_heatmap_rejects_a_non_matrix():
    with pytest.raises(ValueError, match=r"2-D array of shape \(m, n\)"):
        plot_attention(np.zeros(3))


def test_reading_the_shelf_blends_values_by_softmax_weights():
    shelf = default_shelf()
    scores, weights, retrieved = read_shelf(query_at(20.0, 3.0), shelf)
    assert np.allclose(scores, shelf.keys @ query_at(20.0, 3.0))
    assert np.isclose(weights.sum(), 1.0) and weights.argmax() == 0  # the cookery spine points at 20°
    assert np.allclose(retrieved, weights @ shelf.values)


def test_a_zero_query_reads_every_book_equally():
    _, weights, retrieved = read_shelf(np.zeros(2), default_shelf())
    assert np.allclose(weights, 0.25)
    assert np.allclose(retrieved, default_shelf().values.mean(axis=0))


def test_shelf_rejects_keys_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"keys must have shape \(n, 2\) = \(2, 2\)"):
        Shelf(["a", "b"], np.zeros((2, 3)), np.zeros((2, 3)))


def test_static_figure_has_one_row_of_three_panels_per_setting():
    fig = librarian_figure([(0.0, 1.0), (90.0, 2.0)])
    assert len(fig.axes) == 6
    plt.close(fig)


def test_widget_readout_follows_its_sliders():
    widget = LibrarianWidget(angle=20.0, length=1.0)
    first = widget.readout.value
    widget.angle.value = 260.0
    assert widget.readout.value != first
    assert "astronomy" in widget.readout.value
    moved = widget.readout.value
    widget.length.value = 6.0
    assert widget.readout.value != moved
    plt.close("all")
