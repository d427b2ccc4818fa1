"""The package's layers hold: by import-linter's contracts (pyproject.toml) and by what really gets imported.

CONTRIBUTING.md draws the layers. import-linter reads every import statement, including those inside
functions, and checks the contracts listed in pyproject.toml. The tests below add what a static
reading cannot see: which modules a fresh interpreter really loads.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "crossattn"
LAYERS = ("core", "nn", "experiments", "viz", "checks", "tooling")
HEAVY = ("torch", "matplotlib", "ipywidgets")


def loaded_after(code: str) -> list[str]:
    """Which of the heavy libraries a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def modules_of(layer: str) -> list[str]:
    return sorted(f"crossattn.{layer}.{p.stem}" for p in (PACKAGE / layer).glob("*.py") if p.stem != "__init__")


def test_the_tree_shows_the_layers():
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert folders == sorted(LAYERS), "crossattn/ holds the layers and nothing else"
    # grade.py is the grader's stable entry point (`python -m crossattn.grade`), a thin wrapper of tooling.grade.
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "grade.py"))
    assert loose == [], f"every module belongs to a layer; loose at the top: {loose}"


def test_import_linter_contracts_are_kept():
    result = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                             "sys.exit(lint_imports_command())"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_broken_contract_would_be_reported(tmp_path):
    # The control: the same linter on a copy of the package where the core imports torch must fail.
    import shutil

    copy = tmp_path / "crossattn"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    (copy / "core" / "numerics.py").write_text("import torch\n" + (copy / "core" / "numerics.py").read_text())
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, '.'); "
                             "from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode != 0 and "crossattn.core.numerics -> torch" in result.stdout


def _imported_top_levels(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").glob("*.py")) + [PACKAGE / "__init__.py"],
                         ids=lambda p: p.name)
def test_the_core_imports_numpy_and_the_standard_library_only(path):
    outside = _imported_top_levels(path) - set(sys.stdlib_module_names) - {"numpy", "crossattn"}
    assert not outside, f"{path.name} imports {sorted(outside)}"


def test_importing_the_package_loads_neither_torch_nor_matplotlib_nor_ipywidgets():
    assert loaded_after("import crossattn") == []
    assert loaded_after("import crossattn; crossattn.attention; crossattn.softmax") == []
    assert "torch" in loaded_after("import crossattn.nn.model")  # the control: the probe does see torch


def test_every_core_module_imports_without_the_heavy_libraries():
    assert loaded_after("; ".join(f"import {m}" for m in modules_of("core"))) == []


def test_viz_never_imports_torch_or_ipywidgets_at_import_time():
    loaded = loaded_after("; ".join(f"import {m}" for m in modules_of("viz")))
    assert "torch" not in loaded and "ipywidgets" not in loaded
    assert "matplotlib" in loaded


def _check_cells(prefix: str) -> list[str]:
    from crossattn.tooling.labs import CHECK_TAG, read_notebook, tags
    from tests.helpers import lab

    return [c.source.strip().split("(")[0] for c in read_notebook(lab(prefix)).cells if CHECK_TAG in tags(c)]


@pytest.mark.parametrize("prefix", ["01", "02", "03"])
def test_the_checks_of_a_numpy_lab_never_import_torch(prefix):
    names = _check_cells(prefix)
    assert names
    assert loaded_after(f"from crossattn.checks import {', '.join(names)}") == []


def test_the_checks_of_a_torch_lab_do_import_torch():
    # The control for the test above: the same probe sees torch when a lab's checks need it.
    assert "torch" in loaded_after(f"from crossattn.checks import {_check_cells('04')[0]}")


def test_nothing_outside_the_tooling_imports_it():
    for layer in LAYERS[:-1]:
        for path in (PACKAGE / layer).glob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    target = ("." * node.level) + (node.module or "")
                    assert "tooling" not in target.split("."), f"{path.relative_to(ROOT)} imports {target}"
