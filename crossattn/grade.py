"""``python -m crossattn.grade SUBMISSION.ipynb… --out grades.csv``: the isolated, randomized grader.

A thin entry point that keeps working whatever the package's layout: the grader itself lives in
:mod:`crossattn.tooling.grade` (the ``tooling`` layer). Also installed as ``crossattn-grade``.
"""
import sys


def main(argv=None) -> int:
    from crossattn.tooling.grade.cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
