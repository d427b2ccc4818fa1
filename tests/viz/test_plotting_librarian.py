"""The heatmap helper and the chapter 1 librarian (its figure and its widget)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from crossattn.core.librarian import Shelf, default_shelf, query_at, read_shelf, weight_text  # noqa: E402
from crossattn.viz import plot_attention  # noqa: E402
from crossattn.viz.librarian import LibrarianWidget, librarian_figure  # noqa: E402


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


SETTINGS = [(20.0, 1.0), (50.0, 1.0), (50.0, 6.0), (200.0, 0.0), (260.0, 8.0), (150.0, 3.0), (80.0, 0.5)]


def _by_gid(ax, gid):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist {gid!r}, found {len(found)}"
    return found[0]


def test_the_query_label_clears_the_spines_and_their_labels_and_stays_in_the_frame():
    fig = librarian_figure(SETTINGS)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    shelf = default_shelf()
    for plane in fig.axes[::3]:
        label = _by_gid(plane, "query-label").get_window_extent(renderer)
        frame = plane.get_window_extent(renderer)
        assert frame.x0 <= label.x0 and label.x1 <= frame.x1 and frame.y0 <= label.y0 and label.y1 <= frame.y1
        others = [t for t in plane.texts if t.get_text() and t.get_gid() != "query-label"]  # not the arrows
        assert len(others) == len(shelf.titles)
        for text in others:
            assert not label.overlaps(text.get_window_extent(renderer)), f"{plane.get_title()}: query label on {text.get_text()!r}"
        for key in shelf.keys:  # no spine arrow runs through the label
            points = plane.transData.transform(np.linspace(0.0, 1.0, 50)[:, None] * key)  # (50, 2) in pixels
            assert not any(label.contains(x, y) for x, y in points), f"{plane.get_title()}: query label on a spine"
    plt.close(fig)


def test_the_query_is_drawn_to_scale_and_a_long_one_runs_off_the_frame():
    fig = librarian_figure([(50.0, 1.0), (50.0, 6.0)])
    short, long_ = fig.axes[0], fig.axes[3]
    assert np.allclose(_by_gid(short, "query").xy, query_at(50.0, 1.0))  # the arrow's tip: length 1
    line = _by_gid(long_, "query")
    tip = np.array([line.get_xdata()[-1], line.get_ydata()[-1]])
    assert np.allclose(tip, query_at(50.0, 6.0))  # length 6, not shortened
    assert np.abs(tip).max() > long_.get_xlim()[1] == -long_.get_xlim()[0]  # beyond the frame: clipped there
    assert line.get_clip_on()
    plt.close(fig)


def test_no_weight_is_ever_shown_as_zero():
    assert weight_text(0.25) == "0.25" and weight_text(0.006) == "0.01" and weight_text(1e-3) == "<0.01"
    fig = librarian_figure([(50.0, 6.0)])
    bar_labels = [t.get_text() for t in fig.axes[1].texts]
    assert bar_labels == ["0.50", "0.50", "<0.01", "<0.01"]
    plt.close(fig)
    widget = LibrarianWidget(angle=50.0, length=6.0)
    assert "<0.01" in widget.readout.value and "0.00" not in widget.readout.value
    plt.close("all")


def test_default_shelf_names_its_colours():
    shelf = default_shelf()
    assert shelf.colour_names == ["red", "yellow", "green", "blue"]
    assert np.allclose(np.linalg.norm(shelf.keys, axis=1), 1.0)
    with pytest.raises(ValueError, match=r"3 colour names for 2 titles"):
        Shelf(["a", "b"], np.zeros((2, 2)), np.zeros((2, 3)), colour_names=["r", "g", "b"])


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
