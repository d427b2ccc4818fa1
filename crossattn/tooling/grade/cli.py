"""The command line of the grader: ``python -m crossattn.grade SUBMISSION… --out grades.csv [--seed N] [--jobs J]``."""
from __future__ import annotations

import argparse
import csv
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import FIELDS, Limits, Row, grade_submission

__all__ = ["main", "submission_paths"]


def submission_paths(args: list[Path]) -> list[Path]:
    """The notebooks to grade: each file as given, each folder's ``.ipynb`` files (checkpoints skipped)."""
    found: list[Path] = []
    for arg in args:
        if arg.is_dir():
            found += sorted(p for p in arg.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(arg)  # a missing or wrong file becomes an error row of its own
    return list(dict.fromkeys(found))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crossattn.grade",
        description="Grade submitted labs in isolated child processes, on inputs drawn from a seed the "
                    "students never see; one CSV row per submission and exercise.",
    )
    parser.add_argument("submissions", type=Path, nargs="+", help="submitted notebooks, or folders of them")
    parser.add_argument("--out", type=Path, required=True, help="the CSV file to write (grades.csv)")
    parser.add_argument("--seed", type=int, help="seed of the grading inputs (default: drawn at random and "
                        "printed here, for the instructor only)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=Limits.seconds,
                        help=f"seconds one exercise may run (default {Limits.seconds:g})")
    parser.add_argument("--memory", type=int, default=Limits.memory_mb,
                        help=f"megabytes a child may allocate beyond its imports (default {Limits.memory_mb})")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    try:
        limits = Limits(args.timeout, args.memory)
    except ValueError as err:
        parser.error(str(err))
    if args.out.suffix.lower() == ".ipynb":
        parser.error(f"--out {args.out} looks like a notebook; the grader never writes over a submission")
    if args.out.exists() and args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; name the CSV file to write")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    print(f"grading seed: {seed} (keep it to grade the same way again; never give it to students)", file=sys.stderr)
    paths = submission_paths(args.submissions)

    def grade(path: Path) -> list[Row]:
        try:
            return grade_submission(path, seed, limits)
        except Exception as err:  # noqa: BLE001 - one row, never a traceback, whatever went wrong
            return [Row(submission=str(path), student=path.stem, lab="", exercise="", points="0", max_points="0",
                        status="error", reason=f"the grader failed on this file: {type(err).__name__}: {err}")]

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        graded = list(pool.map(grade, paths))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for rows in graded:
            writer.writerows(rows)
    for path, rows in zip(paths, graded):
        got = sum(float(r["points"]) for r in rows)
        out_of = sum(float(r["max_points"]) for r in rows)
        notes = [f"{r['exercise'] or 'file'} {r['status']}" for r in rows if r["status"] in ("flagged", "error")]
        print(f"{path}: {got:g}/{out_of:g}" + (f"  ({'; '.join(notes)})" if notes else ""))
    print(f"wrote {sum(map(len, graded))} rows for {len(paths)} submission(s) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
