"""The console scripts of the course tooling (``crossattn-student``, ``crossattn-lab``, …).

Each script runs one tool's ``main``. If the ``tooling`` extra is not installed it says so in one
line (and exits with status 2) instead of showing an ImportError's traceback.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

__all__ = ["EXTRA_MODULES", "missing_extra", "labs", "student", "nbgrader_course", "lab_times", "reproduce"]

#: What the tooling extra installs, by the name each is imported under.
EXTRA_MODULES = ("nbformat", "nbclient", "yaml")


def missing_extra() -> list[str]:
    """The modules of the tooling extra that cannot be imported here."""
    missing = []
    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def _run(module: str) -> Callable[[], int]:
    def run() -> int:
        missing = missing_extra()
        if missing:
            print(f"error: the course tooling needs {', '.join(missing)}: "
                  "pip install \"crossattn[tooling]\"", file=sys.stderr)
            return 2
        return importlib.import_module(f"crossattn.tooling.{module}").main()
    run.__name__ = module
    return run


labs = _run("labs")
student = _run("student")
nbgrader_course = _run("nbgrader_course")
lab_times = _run("lab_times")
reproduce = _run("reproduce")
