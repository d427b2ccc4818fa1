"""Course tooling for the labs: the setup cell, cell tags, and running a lab top to bottom.

Authors run ``python -m crossattn.tooling.labs execute notebooks/NN_name.ipynb`` after editing a lab:
it runs the lab in a fresh kernel, stores the outputs (the website shows them and nbval
compares them) and drops the widget state, which would make the website load scripts from a CDN.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import nbformat

__all__ = [
    "SETUP_TAG", "SOLUTION_TAG", "CHECK_TAG", "ALLOWED_TAGS", "setup_cell_source", "tags",
    "read_notebook", "run_lab", "execute_lab", "sync_setup_cell", "repo_url_from_config", "LabError",
]

SETUP_TAG, SOLUTION_TAG, CHECK_TAG = "setup", "solution", "check"

#: Every cell tag the course uses. Anything else is most likely a typo the build would ignore.
ALLOWED_TAGS = frozenset({
    SETUP_TAG, SOLUTION_TAG, CHECK_TAG,
    "hide-input", "hide-output", "hide-cell", "remove-input", "remove-output", "remove-cell",
    "raises-exception", "skip-execution",
})

_SETUP_TEMPLATE = '''\
# Setup, the same in every lab. On Colab: install the course
# package `crossattn` and nothing else (Colab keeps its own torch,
# numpy and ipywidgets). Anywhere else: do nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    repo = ("{repo_head}"
            "{repo_tail}")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet",
         "--no-deps", "git+" + repo],
        check=True,
    )'''


class LabError(ValueError):
    """A notebook that the tooling cannot use; the message names the file and the problem."""


def setup_cell_source(repo_url: str) -> str:
    """The source of the setup cell for a course whose repository lives at ``repo_url``."""
    if not repo_url.startswith("https://"):
        raise ValueError(f"repo_url must be an https:// URL, got {repo_url!r}")
    head, _, tail = repo_url.rstrip("/").rpartition("/")  # two string pieces keep the lines short
    return _SETUP_TEMPLATE.format(repo_head=head, repo_tail="/" + tail)


def tags(cell: Any) -> list[str]:
    """The tags of a notebook cell (an empty list when it has none)."""
    return list(cell.get("metadata", {}).get("tags", []))


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook, or raise LabError with a one-line reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise LabError(f"{path}: cannot be read ({err.strerror})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise LabError(f"{path}: not a notebook — invalid JSON at line {err.lineno}, column {err.colno}") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # noqa: BLE001 - nbformat raises several kinds
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LabError(f"{path}: not a valid Jupyter notebook ({first_line})") from None
    return nb


def repo_url_from_config(start: str | Path) -> str:
    """The repository URL in the ``_config.yml`` of the book that holds ``start``."""
    import yaml

    for folder in [Path(start).resolve(), *Path(start).resolve().parents]:
        config = folder / "_config.yml"
        if config.is_file():
            url = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("repository", {}).get("url")
            if not url:
                raise LabError(f"{config}: no repository.url")
            return url
    raise LabError(f"{start}: no _config.yml in this folder or above it")


def sync_setup_cell(nb: nbformat.NotebookNode, repo_url: str) -> bool:
    """Make the lab's setup cell (tagged ``setup``) the canonical one; return whether it changed."""
    cells = [c for c in nb.cells if SETUP_TAG in tags(c)]
    if len(cells) != 1:
        raise LabError(f"a lab has exactly one cell tagged '{SETUP_TAG}', found {len(cells)}")
    changed = cells[0].source != setup_cell_source(repo_url)
    cells[0].source = setup_cell_source(repo_url)
    return changed


def run_lab(path: str | Path, timeout: int = 300) -> tuple[nbformat.NotebookNode, float]:
    """Run the lab at ``path`` top to bottom in a fresh kernel, in memory; the file is not touched.

    The setup cell is first made the canonical one for the book's repository URL. Returns the
    executed notebook and the seconds the run took (kernel start included). A cell that raises
    makes nbclient raise ``CellExecutionError``.
    """
    import time

    from nbclient import NotebookClient

    path = Path(path)
    nb = read_notebook(path)
    sync_setup_cell(nb, repo_url_from_config(path.parent))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def coalesce_streams(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Merge consecutive outputs of one stream (stdout or stderr) of each cell into one, in place.

    A kernel may send one ``print`` in several messages when it flushes in between (a busy machine);
    what the cell printed is the same, and nbgrader and the tests read it as one output.
    """
    for cell in nb.cells:
        merged: list[Any] = []
        for out in cell.get("outputs", []):
            if (merged and out.output_type == "stream" and merged[-1].output_type == "stream"
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
            else:
                merged.append(out)
        if cell.cell_type == "code":
            cell.outputs = merged
    return nb


def execute_lab(path: str | Path, timeout: int = 300) -> float:
    """Run the lab at ``path`` top to bottom in a fresh kernel and save it with its outputs.

    Returns the seconds the run took (see :func:`run_lab`). Consecutive outputs of one stream are
    merged (:func:`coalesce_streams`) and the widget state is dropped from the saved notebook.
    """
    nb, seconds = run_lab(path, timeout)
    coalesce_streams(nb)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, str(path))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossattn.tooling.labs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="run labs top to bottom in a fresh kernel and save their outputs")
    run.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.paths:
        try:
            seconds = execute_lab(path)
        except LabError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"{path}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
