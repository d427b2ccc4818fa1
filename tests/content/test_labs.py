"""Every lab follows the conventions of design §5: committed executed, the setup cell, exercises.

The labs' outputs themselves are compared by nbval (``pytest`` collects notebooks/ with --nbval).
"""
import re

import pytest
import yaml

from crossattn.tooling.labs import (
    ALLOWED_TAGS,
    CHECK_TAG,
    SETUP_TAG,
    SOLUTION_TAG,
    read_notebook,
    setup_cell_source,
    tags,
)
from tests.helpers import LABS, ROOT, repo_url

pytestmark = pytest.mark.parametrize("path", LABS, ids=[p.name for p in LABS])


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_lab_is_committed_executed_in_order_without_errors(path):
    cells = [c for c in code_cells(read_notebook(path)) if c.source.strip()]
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: run it top to bottom in a fresh kernel and save it"
    errors = [c for c in cells for o in c.outputs if o.output_type == "error" and "raises-exception" not in tags(c)]
    assert not errors, f"{path.name}: stored outputs hold errors"


def test_first_code_cell_is_the_setup_cell(path):
    first = code_cells(read_notebook(path))[0]
    assert SETUP_TAG in tags(first)
    assert first.source == setup_cell_source(repo_url())


def test_lab_has_at_least_four_exercises_each_solution_then_check(path):
    cells = read_notebook(path).cells
    solutions = [i for i, c in enumerate(cells) if SOLUTION_TAG in tags(c)]
    assert len(solutions) >= 4
    for i in solutions:
        assert cells[i - 1].cell_type == "markdown", f"cell {i}: a solution follows the markdown cell stating the task"
        assert "hide-input" in tags(cells[i]), f"cell {i}: solutions are folded on the website (tag hide-input)"
        check = cells[i + 1]
        assert CHECK_TAG in tags(check), f"cell {i + 1}: a check cell follows each solution"
        assert re.fullmatch(r"check_\w+\(\w+\)", check.source.strip()), f"cell {i + 1}: a check cell only calls its checker"


def test_check_cells_pass_in_the_committed_run(path):
    for cell in read_notebook(path).cells:
        if CHECK_TAG in tags(cell):
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert text.startswith("✓"), f"check cell {cell.source!r} printed {text!r}"


def test_only_known_cell_tags(path):
    used = {t for c in read_notebook(path).cells for t in tags(c)}
    assert used <= ALLOWED_TAGS, f"unknown tags (a typo the build would ignore?): {used - ALLOWED_TAGS}"


def test_no_svg_and_no_heavy_image_outputs(path):
    for cell in code_cells(read_notebook(path)):
        for out in cell.outputs:
            data = out.get("data", {})
            assert "image/svg+xml" not in data, "nbval compares SVG text: emit PNG"
            assert len(data.get("image/png", "")) < 300_000, "an output embeds more than 300 KB of image"


def test_lab_has_a_chapter_and_follows_it_in_the_toc(path):
    chapter = ROOT / "chapters" / path.with_suffix(".md").name
    assert chapter.exists(), f"{path.name} has no chapter page {chapter.name}"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    i = files.index(f"chapters/{path.stem}")
    assert files[i + 1] == f"notebooks/{path.stem}", "chapter N is followed by its lab in _toc.yml"


def test_every_figure_cell_gives_its_alt_text(path):
    for cell in code_cells(read_notebook(path)):
        if any("image/png" in o.get("data", {}) for o in cell.outputs):
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            assert alt.strip(), f"cell {cell.source[:50]!r} draws a figure: give it metadata mystnb.image.alt"


def test_code_shown_on_the_website_fits_the_code_box(path):
    # The website's code box is 68 characters wide; a longer line scrolls sideways. Solutions
    # count: one click shows them.
    for cell in code_cells(read_notebook(path)):
        if {"remove-input", "remove-cell"} & set(tags(cell)):
            continue
        for line in cell.source.splitlines():
            assert len(line) <= 68, f"{len(line)} characters, wider than the code box: {line!r}"
