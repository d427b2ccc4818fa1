"""The course runs anywhere: every lab passes nbval again on the second CPU configuration
(``tests/second_config.py`` says which and why)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import LABS, ROOT
from tests.second_config import SECOND, second_env

pytestmark = [pytest.mark.slow, pytest.mark.second_config]


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.stem)
def test_lab_passes_nbval_on_the_second_configuration(lab):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", "--nbval",
         "--nbval-current-env", "--nbval-cell-timeout=300", str(lab.relative_to(ROOT))],
        cwd=ROOT, env=second_env(), capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{lab.name} under {SECOND}:\n{result.stdout[-6000:]}"
