"""The course runs anywhere: every chapter page executes again on the second CPU configuration
(``tests/second_config.py`` says which and why)."""
from __future__ import annotations

import pytest
from nbclient.exceptions import CellExecutionError

from tests.helpers import ROOT
from tests.second_config import SECOND, execute_page, formatted_glue_errors, second_env

PAGES = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))

pytestmark = [pytest.mark.slow, pytest.mark.second_config]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_executes_on_the_second_configuration(page):
    try:
        nb = execute_page(page, second_env())
    except CellExecutionError as error:
        pytest.fail(f"{page.name} under {SECOND}:\n{str(error)[-6000:]}")
    assert not formatted_glue_errors(page, nb), formatted_glue_errors(page, nb)


def test_a_numpy_scalar_glued_with_a_format_is_caught(tmp_path):
    """Control for the glue check: a page that glues np.float64 and formats it is reported."""
    page = tmp_path / "probe.md"
    page.write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n  name: python3\n"
        "  display_name: Python 3\n---\n\n# Probe\n\n```{code-cell} python\nimport numpy as np\n"
        "from myst_nb import glue\nglue('a', np.float64(0.5), display=False)\n"
        "glue('b', float(np.float64(0.5)), display=False)\n```\n\n{glue:text}`a:.2f` and {glue:text}`b:.2f`\n",
        encoding="utf-8")
    errors = formatted_glue_errors(page, execute_page(page, second_env()))
    assert len(errors) == 1 and errors[0].startswith("a = ")


def test_a_page_that_asserts_a_bit_exact_float_fails_here(tmp_path):
    """Control: the harness really runs the second configuration, and a page cell that fails fails the test."""
    page = tmp_path / "probe.md"
    page.write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n  name: python3\n"
        "  display_name: Python 3\n---\n\n# Probe\n\n```{code-cell} python\nimport os, torch\n"
        "assert os.environ['ATEN_CPU_CAPABILITY'] == 'default'\nassert torch.get_num_threads() == 1\n"
        "assert torch.backends.cpu.get_cpu_capability() == 'DEFAULT'\n```\n", encoding="utf-8")
    execute_page(page, second_env())
    page.write_text(page.read_text(encoding="utf-8").replace("'DEFAULT'", "'AVX2'"), encoding="utf-8")
    with pytest.raises(CellExecutionError):
        execute_page(page, second_env())
