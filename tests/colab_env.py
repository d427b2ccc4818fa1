"""A Colab-like Python environment for the tests, made once and kept in ~/.cache/crossattn-course.

Colab keeps its own libraries and the labs' setup cell installs the course package with
``pip install --no-deps``. This environment does the same on the oldest libraries the package says it
supports: each ``name>=X`` floor of ``pyproject.toml``'s dependencies is installed as ``name==X.*``, and
ipywidgets as 7.7.1, Colab's. It holds no torch, so it also proves that labs 1-3 never need it.
It is a fresh virtual environment with no access to the environment running the tests (a venv made
with ``system_site_packages`` would see the *base* interpreter's packages, not the test venv's).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import venv
from pathlib import Path

import tomllib

from tests.helpers import ROOT

COLAB_IPYWIDGETS = "7.7.1"
# What nbval needs to run a lab in this environment; their versions do not matter to the course.
RUNNER = ["ipykernel", "nbval", "pytest"]
CACHE = Path.home() / ".cache" / "crossattn-course"


def floors() -> dict[str, str]:
    """{name: lowest version} of every runtime dependency with a ``>=`` floor, ipywidgets at Colab's."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    out = {}
    for dep in deps:
        match = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)", dep)
        if match is None:
            raise ValueError(f"pyproject dependency {dep!r} has no >= floor to test")
        out[match[1].lower()] = match[2]
    out["ipywidgets"] = COLAB_IPYWIDGETS
    return out


def pins() -> list[str]:
    """The pip requirements of the environment: the floors (torch left out: labs 1-3 must not need it)."""
    return [f"{name}=={version}" if name == "ipywidgets" else f"{name}=={version}.*"
            for name, version in floors().items() if name != "torch"]


def colab_python() -> Path:
    """The Python of the Colab-like environment, with this checkout's package installed --no-deps."""
    key = hashlib.sha256(" ".join(pins() + RUNNER).encode()).hexdigest()[:12]
    env_dir = CACHE / f"colab-{key}"
    python = env_dir / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".colab.lock", "w") as lock:  # one maker at a time under pytest -n
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (env_dir / ".ready").exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
            pip(python, *pins(), *RUNNER)
            (env_dir / ".ready").touch()
        # The package as the setup cell installs it: a copy of this checkout, --no-deps, not editable.
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "crossattn-course"
            shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns("_build", ".git", "*.egg-info", "__pycache__"))
            pip(python, "--no-deps", "--force-reinstall", str(source))
    return python


def colab_env() -> dict[str, str]:
    """The environment of a process in the Colab-like venv: this one without PYTHONPATH, which would
    put a checkout ahead of the --no-deps install the test means to exercise."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def pip(python: Path, *args: str) -> None:
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                            capture_output=True, text=True, timeout=900, env=colab_env())
    if result.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed in {python}:\n{result.stderr[-3000:]}")
