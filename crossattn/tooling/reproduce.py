"""Recreate the results the course ships as package data: ``python -m crossattn.tooling.reproduce NAME``.

Some experiments take longer than a page or a lab may spend, so their results are computed once by
this command and stored next to the module that reads them. The pages and labs load them and
compare a live run with them by distribution (inside the stored seeds' band), never digit by digit:
a different CPU, thread count or kernel path rounds differently, and training amplifies that.

NAME is one of the entries of :data:`ARTIFACTS`; ``--list`` shows them.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Artifact", "ARTIFACTS", "main"]


@dataclass(frozen=True)
class Artifact:
    """A stored result: what it is, where it lives by default, and the function that recreates it.

    ``make(out)`` writes the artifact to ``out`` and returns lines to print.
    """

    about: str
    default_path: Callable[[], Path]
    make: Callable[[Path], list[str]]


def _tying_path() -> Path:
    from ..experiments.tying import RESULTS_PATH

    return RESULTS_PATH


def _tying(out: Path) -> list[str]:
    import torch

    from ..experiments.tying import reproduce

    torch.set_num_threads(1)  # fastest for models this small
    return reproduce(out)


def _bottleneck_path() -> Path:
    from ..experiments.bottleneck import RESULTS_PATH

    return RESULTS_PATH


def _bottleneck(out: Path) -> list[str]:
    import torch

    from ..experiments.bottleneck import reproduce

    torch.set_num_threads(1)  # fastest for models this small
    return reproduce(out)


def _text_to_image_path() -> Path:
    from ..experiments.text_to_image import WEIGHTS_PATH

    return WEIGHTS_PATH


def _text_to_image(out: Path) -> list[str]:
    import torch

    from ..experiments.text_to_image import reproduce

    torch.set_num_threads(1)  # fastest for models this small
    return reproduce(out)


ARTIFACTS: dict[str, Artifact] = {
    "tying": Artifact("chapter 7: learning curves of every tying variant on copy and dictionary, over seeds "
                      "(a few minutes on one CPU thread)", _tying_path, _tying),
    "bottleneck": Artifact("chapter 4: one pooled vector vs cross-attention over source lengths, over seeds "
                           "(several minutes on one CPU thread)", _bottleneck_path, _bottleneck),
    "text_to_image": Artifact("chapter 9: the weights of the tiny text-to-image denoiser, trained by flow matching "
                              "(a few minutes on one CPU thread)", _text_to_image_path, _text_to_image),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossattn.tooling.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="what to recreate: " + ", ".join(ARTIFACTS))
    parser.add_argument("--out", type=Path, help="where to write it (default: where the package reads it)")
    parser.add_argument("--list", action="store_true", help="list what can be recreated, and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, artifact in ARTIFACTS.items():
            print(f"{name}: {artifact.about} -> {artifact.default_path()}")
        return 0
    if args.name is None:
        parser.error("name what to recreate (or --list): " + ", ".join(ARTIFACTS))
    if args.name not in ARTIFACTS:
        print(f"error: no stored result named {args.name!r}; choose one of: {', '.join(ARTIFACTS)}", file=sys.stderr)
        return 2
    artifact = ARTIFACTS[args.name]
    out = args.out or artifact.default_path()
    if out.is_dir():
        print(f"error: --out {out} is a folder; give a file path", file=sys.stderr)
        return 2
    if not out.parent.is_dir():
        print(f"error: --out {out}: the folder {out.parent} does not exist", file=sys.stderr)
        return 2
    for line in artifact.make(out):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
