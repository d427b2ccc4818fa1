"""Every widget works on both ipywidgets lines the labs meet: 7.7.1 (Colab) and 8 (JupyterLab).

The same driver script builds each widget, moves each control and reports the readouts; it
runs in this environment (ipywidgets 8) and in the Colab-like environment of tests/colab_env.py
(ipywidgets 7.7.1, the oldest numpy and matplotlib the package supports, the package installed
--no-deps), made on first use and kept for later runs.
"""
import json
import subprocess
import sys

import pytest

from crossattn.viz.widgets import all_widgets
from tests.colab_env import colab_env, colab_python
from tests.helpers import ROOT

DRIVER = ROOT / "tests" / "viz" / "widget_driver.py"
OLD_IPYWIDGETS = "7.7.1"


def drive(python, env=None):
    result = subprocess.run([str(python), str(DRIVER)], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def old_python():
    return colab_python()


def check_report(report, version_prefix):
    assert report["ipywidgets"].startswith(version_prefix)
    assert set(report["widgets"]) == {entry.name for entry in all_widgets()}
    for name, readouts in report["widgets"].items():
        assert all(readouts), f"{name}: empty readout"
        changed = [a != b for a, b in zip(readouts, readouts[1:])]
        assert all(changed), f"{name}: moving a control left the readout unchanged: {readouts}"


def test_widgets_react_to_their_controls_on_ipywidgets_8():
    check_report(drive(sys.executable), "8.")


@pytest.mark.slow
def test_widgets_react_to_their_controls_on_ipywidgets_7_7_1(old_python):
    check_report(drive(old_python, colab_env()), OLD_IPYWIDGETS)


@pytest.mark.parametrize("entry", all_widgets(), ids=lambda e: e.name)
def test_every_widget_has_its_static_fallback_on_its_chapter_page(entry):
    page = (ROOT / entry.page).read_text(encoding="utf-8")
    assert f"{entry.fallback.__name__}(" in page, f"{entry.page} must draw {entry.fallback.__name__}() for readers of the website"
