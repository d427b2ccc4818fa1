"""The built website, shared by the site tests: build it once per test session, list its pages."""
from __future__ import annotations

import fcntl
import functools
import subprocess
from pathlib import Path

import yaml

from tests.helpers import ROOT

HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"


def toc_pages() -> list[str]:
    """Every page in _toc.yml, as docnames (``intro``, ``chapters/01_library_analogy``, ...)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


@functools.lru_cache(maxsize=1)
def build() -> Path:
    """Build the book the way the README says (incremental after the first time); return _build/html.

    A file lock makes parallel test workers (pytest -n) build one at a time: the second build
    then finds nothing to do.
    """
    (ROOT / "_build").mkdir(exist_ok=True)
    with open(ROOT / "_build" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(["jupyter-book", "build", ".", "-W", "-n", "--keep-going"], cwd=ROOT,
                                capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, "the book does not build cleanly:\n" + (result.stdout + result.stderr)[-4000:]
    return HTML
