"""The labs' setup cell: nothing outside Colab; on Colab, exactly the course package, nothing else."""
import subprocess
import sys
import types

import pytest

from crossattn.tooling.labs import setup_cell_source
from tests.helpers import repo_url


def run_setup_cell(monkeypatch, on_colab, source=None):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append((list(args), kw)))
    if on_colab:
        google = types.ModuleType("google")
        colab = types.ModuleType("google.colab")
        google.colab = colab
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source or setup_cell_source(repo_url()), "setup cell", "exec"), {})
    return calls


def test_setup_cell_does_nothing_outside_colab(monkeypatch):
    assert run_setup_cell(monkeypatch, on_colab=False) == []


def test_setup_cell_on_colab_installs_only_the_course_package_from_the_configured_repository(monkeypatch):
    calls = run_setup_cell(monkeypatch, on_colab=True)
    assert len(calls) == 1
    args, kwargs = calls[0]
    assert args[:4] == [sys.executable, "-m", "pip", "install"]
    assert "--no-deps" in args, "never let pip replace Colab's torch, numpy or ipywidgets"
    targets = [a for a in args[4:] if not a.startswith("-")]
    assert targets == [f"git+{repo_url()}"]
    for pinned_by_colab in ("torch", "numpy", "ipywidgets", "matplotlib"):
        assert not any(pinned_by_colab in a for a in args)
    assert kwargs.get("check") is True


def test_setup_cell_rejects_a_non_https_url():
    with pytest.raises(ValueError, match="https://"):
        setup_cell_source("git@github.com:x/y")
