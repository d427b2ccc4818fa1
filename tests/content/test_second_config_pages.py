"""The course runs anywhere: every chapter page executes again on the second CPU configuration
(``tests/second_config.py`` says which and why)."""
from __future__ import annotations

import pytest
from nbclient.exceptions import CellExecutionError

from tests.helpers import ROOT
from tests.second_config import SECOND, execute_page, second_env

PAGES = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))

pytestmark = [pytest.mark.slow, pytest.mark.second_config]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_executes_on_the_second_configuration(page):
    try:
        execute_page(page, second_env())
    except CellExecutionError as error:
        pytest.fail(f"{page.name} under {SECOND}:\n{str(error)[-6000:]}")


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
