"""The README's promises: two quick-start commands that CI runs, and a chapter table that is complete."""
import re

from tests.helpers import LABS, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_quick_start_is_two_commands_one_builds_one_tests():
    build, test = quick_start_commands()
    assert "\n" not in build and "\n" not in test
    assert build.startswith("pip install -r requirements.txt") and "jupyter-book build . -W -n --keep-going" in build
    assert test.startswith("pip install -r requirements.txt") and test.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command_and_the_build():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    build, test = quick_start_commands()
    assert "pip install" in ci and "-r requirements.txt" in ci
    assert re.search(r"^python -m pytest$", ci, flags=re.M), "CI calls the README's test command"
    assert re.search(r"^jupyter-book build \. -W -n --keep-going$", ci, flags=re.M)
    assert ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci


def test_readme_lists_every_lab_in_the_book():
    for path in LABS:
        assert f"`notebooks/{path.name}`" in README, f"README's chapter table misses {path.name}"
