"""What installs the course: the pins the machine and the readers' runtimes depend on."""
import re

import tomllib

from tests.helpers import ROOT


def requirement_lines(path):
    return [ln.split("#")[0].strip() for ln in path.read_text().splitlines() if ln.split("#")[0].strip()]


def test_root_requirements_pin_the_cpu_torch_and_jupyter_book_1():
    lines = requirement_lines(ROOT / "requirements.txt")
    assert "torch==2.13.0" in lines, "a looser torch pulls several GB of CUDA packages"
    assert any(re.fullmatch(r"jupyter-book>=1\.0\.4,<2", ln) for ln in lines), "Jupyter Book 2 cannot build offline"
    for name in ("numpy", "matplotlib", "ipywidgets", "nbval", "pytest", "sphinx-mathjax-offline", "playwright",
                 "nbgrader", "pytest-xdist"):
        assert any(ln.startswith(name) for ln in lines), f"{name} missing from requirements.txt"
    assert "-e .[tooling]" in lines, "the course package itself, with its tooling"


def test_binder_uses_a_cpu_build_of_torch():
    lines = requirement_lines(ROOT / "binder" / "requirements.txt")
    assert any(re.fullmatch(r"torch==[\d.]+\+cpu", ln) for ln in lines)
    assert any("download.pytorch.org/whl/cpu" in ln for ln in lines)


def test_package_states_the_torch_and_python_it_supports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.10"
    assert "torch>=2.4" in project["dependencies"], "Colab lags: the package uses no torch API newer than 2.4"
    assert any(d.startswith("ipywidgets>=7.7") for d in project["dependencies"]), "Colab ships ipywidgets 7.7.1"
    assert not any(d.startswith("nbgrader") for d in project["dependencies"]), "only instructors grade: an extra"
    assert any(d.startswith("nbgrader") for d in project["optional-dependencies"]["grading"])
