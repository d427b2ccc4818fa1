"""The landing page's roadmap, read from the chapters (crossattn.tooling.roadmap) and drawn (crossattn.viz.roadmap)."""
import matplotlib.pyplot as plt
import pytest

from crossattn.tooling.roadmap import MAX_OUTCOME, MapEntry, RoadmapError, course_map, outcome
from crossattn.viz.roadmap import roadmap_figure
from tests.helpers import ROOT


def test_every_chapter_in_the_toc_is_on_the_map_with_its_times():
    entries = course_map(ROOT)
    numbers = [e.number for e in entries]
    assert numbers == list(range(1, len(entries) + 1)), "chapters in order, none missing"
    for e in entries:
        assert 0 < e.read_minutes and (e.lab is None) == (e.lab_minutes == 0)
        assert len(e.outcome) <= MAX_OUTCOME
        assert (ROOT / f"{e.docname}.md").exists()


def test_outcome_is_one_short_line_of_the_front_matter():
    assert outcome('---\noutcome: "Do a thing"\n---\n# 1. T\n') == "Do a thing"
    with pytest.raises(RoadmapError, match="no 'outcome:' line"):
        outcome("---\ntitle: x\n---\n# 1. T\n", "chapters/01_x.md")
    with pytest.raises(RoadmapError, match="at most"):
        outcome(f'---\noutcome: "{"x" * (MAX_OUTCOME + 1)}"\n---\n', "chapters/01_x.md")
    with pytest.raises(RoadmapError, match="no front matter"):
        outcome("# 1. T\n", "chapters/01_x.md")


def test_the_roadmap_draws_one_box_per_chapter_and_refuses_what_does_not_fit():
    entries = course_map(ROOT)
    fig = roadmap_figure(entries)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum(t.startswith("read ≈") for t in texts) == len(entries)
    plt.close(fig)
    too_long = MapEntry(1, "chapters/01_x", "A title", "word " * 30, 5, 0, None, 0, 0)
    with pytest.raises(ValueError, match="does not fit two lines"):
        roadmap_figure([too_long])
    with pytest.raises(ValueError, match="at least one chapter"):
        roadmap_figure([])
