"""Measure how long each lab takes to run top to bottom, and check the times against the design.

    python -m crossattn.tooling.lab_times notebooks --out appendices/lab_times.json

runs every lab ``NN_name.ipynb`` of the folder in a fresh kernel, one after the other, with the
code :func:`crossattn.tooling.labs.run_lab` that authors use to store a lab's outputs (the notebooks
themselves are not written). It records the seconds per lab, the machine (cores, Python, PyTorch,
NumPy, load average before and after) and the date in a small JSON file that the instructor guide
shows, and compares the times with the design's limits (§5): labs 1–3 at most 20 s, later labs at
most 60 s, the whole course at most 300 s.

Seconds depend on the machine, so each lab is also put against a *floor* measured in the same run:
a fresh kernel that only imports NumPy and pyplot (and torch, for a lab that uses torch). The NumPy
labs 1–3 must run within :data:`FLOOR_RATIO` times their floor (issue 16): a lab that loads what it
never uses, or does slow work, shows up there on any machine.

    python -m crossattn.tooling.lab_times notebooks --out appendices/lab_times.json --only 9

re-times lab 9 alone (with its floor) and updates its row of an existing report, so adding a lab
does not mean re-timing every other.

    python -m crossattn.tooling.lab_times --check appendices/lab_times.json

re-checks a stored file without running anything. Exit status: 0 within the limits, 1 when a
limit is exceeded (the file is still written: it is a measurement), 2 on bad input (a missing
folder, a folder without labs, a lab that is not a notebook or whose cell raises, a malformed
file), with one line saying what was wrong.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "EARLY_LABS", "EARLY_LIMIT", "LATER_LIMIT", "COURSE_LIMIT", "FLOOR_RATIO", "FLOOR_SOURCE", "limit_for",
    "lab_number", "find_labs", "uses_torch", "machine", "measure", "violations", "load_report", "merge", "main",
]

#: Labs 1–3 are NumPy only and must run in EARLY_LIMIT seconds; later labs train tiny PyTorch models.
EARLY_LABS = range(1, 4)
EARLY_LIMIT = 20.0
LATER_LIMIT = 60.0
#: The whole course, every lab one after the other.
COURSE_LIMIT = 300.0
#: Labs 1–3 run within this many times their floor (a fresh kernel importing what the lab needs).
FLOOR_RATIO = 4.0
#: The floor: a fresh kernel that imports NumPy and pyplot; a lab that uses torch also imports torch.
FLOOR_SOURCE = "import numpy as np\nimport matplotlib.pyplot as plt"

_LAB_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")


class TimingError(ValueError):
    """Bad input to the timing tool; the message says what was wrong, in one line."""


def lab_number(name: str) -> int:
    """The lab number of a file name such as ``04_encoder_decoder.ipynb`` (here 4)."""
    match = _LAB_NAME.match(Path(name).name)
    if not match or int(match.group(1)) < 1:
        raise TimingError(f"{name!r} is not a lab file name: expected NN_name.ipynb with NN = 01, 02, ...")
    return int(match.group(1))


def limit_for(number: int) -> float:
    """The design's limit in seconds for lab ``number``: 20 s for labs 1–3, 60 s from lab 4 on."""
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise TimingError(f"a lab number is a positive integer, got {number!r}")
    return EARLY_LIMIT if number in EARLY_LABS else LATER_LIMIT


def find_labs(folder: str | Path) -> list[Path]:
    """Every lab ``NN_name.ipynb`` in ``folder``, in course order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TimingError(f"{folder}: no such folder (give the folder that holds the labs, e.g. notebooks)")
    labs = sorted(p for p in folder.glob("*.ipynb") if _LAB_NAME.match(p.name))
    if not labs:
        raise TimingError(f"{folder}: no lab in this folder (labs are named NN_name.ipynb)")
    numbers = [lab_number(p.name) for p in labs]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise TimingError(f"{folder}: more than one lab numbered {duplicates[0]:02d}")
    return labs


def uses_torch(path: str | Path) -> bool:
    """Whether any code cell of the lab imports torch (then its floor includes torch's import)."""
    from .labs import LabError, read_notebook

    try:
        nb = read_notebook(path)
    except LabError as err:
        raise TimingError(str(err)) from None
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return re.search(r"^\s*(import torch|from torch)\b", code, flags=re.M) is not None


def _floor_seconds(with_torch: bool, timeout: int) -> float:
    """Seconds for a fresh kernel to start and import NumPy and pyplot (and torch): the floor of a lab."""
    import time

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_SOURCE + ("\nimport torch" if with_torch else ""))])
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3")
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        return None


def machine() -> dict[str, Any]:
    """What the times depend on: cores, CPU, Python, PyTorch, NumPy and the OS."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": usable,
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "os": platform.platform(terse=True),
    }


def measure(folder: str | Path, timeout: int = 300, only: list[int] | None = None) -> dict[str, Any]:
    """Run every lab of ``folder`` (or only the labs numbered ``only``) top to bottom; return the report.

    Each lab's floor is measured in the same run, right before and right after the lab, and the mean
    of the two is stored with the lab, with the ratio of the lab's seconds to it.
    """
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from .labs import LabError, run_lab

    labs = find_labs(folder)
    if only:
        unknown = sorted(set(only) - {lab_number(p.name) for p in labs})
        if unknown:
            raise TimingError(f"{folder}: no lab numbered {unknown[0]:02d}")
        labs = [p for p in labs if lab_number(p.name) in only]
    load_before = _load()
    rows = []
    for path in labs:
        torch_lab = uses_torch(path)
        before = _floor_seconds(torch_lab, timeout)
        try:
            _, seconds = run_lab(path, timeout=timeout)
        except LabError as err:
            raise TimingError(str(err)) from None
        except CellExecutionError as err:
            what = f"{err.ename}: {err.evalue}".strip() if getattr(err, "ename", None) else str(err).splitlines()[0]
            raise TimingError(f"{path}: a cell raised {what} — fix the lab before timing it") from None
        except CellTimeoutError:
            raise TimingError(f"{path}: a cell ran longer than {timeout} s") from None
        except DeadKernelError as err:
            raise TimingError(f"{path}: the kernel died ({err})") from None
        floor = (before + _floor_seconds(torch_lab, timeout)) / 2
        number = lab_number(path.name)
        rows.append({"lab": path.name, "number": number, "seconds": round(seconds, 1), "limit": limit_for(number),
                     "floor_seconds": round(floor, 2), "floor": "numpy, pyplot" + (", torch" if torch_lab else ""),
                     "ratio_to_floor": round(seconds / floor, 2)})
        print(f"{path.name}: {seconds:.1f} s (limit {limit_for(number):.0f} s), {seconds / floor:.1f}× its floor "
              f"of {floor:.1f} s", flush=True)
    now = _dt.datetime.now(_dt.timezone.utc)
    return {
        "date": now.date().isoformat(),
        "measured_at": now.isoformat(timespec="seconds"),
        "command": f"python -m crossattn.tooling.lab_times {Path(folder).as_posix()} --out <file>",
        "machine": machine(),
        "load_average": {"before": load_before, "after": _load(),
                         "note": "1, 5 and 15-minute load averages; above the core count, times are inflated"},
        "limits": {"labs_1_to_3": EARLY_LIMIT, "labs_4_on": LATER_LIMIT, "course": COURSE_LIMIT,
                   "labs_1_to_3_ratio_to_floor": FLOOR_RATIO},
        "labs": rows,
        "total_seconds": round(sum(r["seconds"] for r in rows), 1),
    }


def merge(stored: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """``stored`` with the rows of ``fresh`` put in place of the same labs' (a partial re-timing, --only).

    The result keeps the date, machine and load of the fresh run and says which labs it re-timed.
    """
    rows = {row["lab"]: row for row in stored["labs"]}
    rows.update({row["lab"]: row for row in fresh["labs"]})
    merged = dict(fresh)
    merged["labs"] = sorted(rows.values(), key=lambda r: r["number"])
    merged["total_seconds"] = round(sum(r["seconds"] for r in merged["labs"]), 1)
    merged["partial"] = {"retimed": [r["lab"] for r in fresh["labs"]], "earlier_run": stored.get("date")}
    return merged


def violations(report: dict[str, Any]) -> list[str]:
    """One sentence per limit the report exceeds (an empty list when all is well)."""
    found = []
    for row in report["labs"]:
        limit = limit_for(row["number"])
        if row["seconds"] > limit:
            found.append(f"{row['lab']} took {row['seconds']:.1f} s; labs "
                         f"{'1–3' if row['number'] in EARLY_LABS else '4 on'} must run in at most {limit:.0f} s")
        ratio = row.get("ratio_to_floor")
        if row["number"] in EARLY_LABS and ratio is not None and ratio > FLOOR_RATIO:
            found.append(f"{row['lab']} took {ratio:.1f}× its floor ({row['floor']}); labs 1–3 must stay within "
                         f"{FLOOR_RATIO:.0f}×")
    total = sum(row["seconds"] for row in report["labs"])
    if total > COURSE_LIMIT:
        found.append(f"the whole course took {total:.1f} s; it must run in at most {COURSE_LIMIT:.0f} s")
    return found


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a stored report, checking that it has what the guide and the tests use."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise TimingError(f"{path}: cannot be read ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise TimingError(f"{path}: not JSON (line {err.lineno}, column {err.colno})") from None
    if not isinstance(report, dict):
        raise TimingError(f"{path}: expected a JSON object, got {type(report).__name__}")
    missing = [k for k in ("date", "machine", "labs", "total_seconds", "load_average") if k not in report]
    if missing:
        raise TimingError(f"{path}: missing {', '.join(missing)} (write it with python -m crossattn.tooling.lab_times)")
    if not isinstance(report["labs"], list) or not report["labs"]:
        raise TimingError(f"{path}: 'labs' must be a non-empty list")
    for row in report["labs"]:
        if not isinstance(row, dict) or not {"lab", "number", "seconds"} <= set(row):
            raise TimingError(f"{path}: each lab needs 'lab', 'number' and 'seconds', got {row!r}")
        if lab_number(row["lab"]) != row["number"]:
            raise TimingError(f"{path}: {row['lab']} is recorded as lab {row['number']}")
        if not isinstance(row["seconds"], (int, float)) or row["seconds"] < 0:
            raise TimingError(f"{path}: {row['lab']} has seconds = {row['seconds']!r}, not a time")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossattn.tooling.lab_times", description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, help="the folder that holds the labs (notebooks)")
    parser.add_argument("--out", type=Path, help="where to write the JSON report")
    parser.add_argument("--check", type=Path, metavar="JSON", help="check a stored report instead of measuring")
    parser.add_argument("--timeout", type=int, default=300, help="seconds a single cell may take (default 300)")
    parser.add_argument("--only", type=int, action="append", metavar="N",
                        help="re-time lab N only (repeatable) and update its row of the existing --out report")
    args = parser.parse_args(argv)
    try:
        if args.check is not None:
            if args.folder is not None or args.out is not None or args.only:
                raise TimingError("--check reads a stored report; give no folder, --out or --only with it")
            report = load_report(args.check)
        else:
            if args.folder is None or args.out is None:
                raise TimingError("give the labs' folder and --out FILE, e.g. notebooks --out appendices/lab_times.json")
            if not args.out.parent.is_dir():
                raise TimingError(f"{args.out.parent}: no such folder for --out")
            if args.only and not args.out.exists():
                raise TimingError(f"--only updates an existing report, and {args.out} does not exist: time every lab first")
            stored = load_report(args.out) if args.only else None
            report = measure(args.folder, timeout=args.timeout, only=args.only)
            report["command"] = f"python -m crossattn.tooling.lab_times {args.folder.as_posix()} --out {args.out.as_posix()}"
            if stored is not None:
                report = merge(stored, report)
            args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"wrote {args.out}")
    except TimingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    load = report["load_average"]["before"]
    print(f"course total: {report['total_seconds']:.1f} s on {report['machine']['cores']} cores, "
          f"load average {load} at the start (measured {report['date']})")
    problems = violations(report)
    for problem in problems:
        print(f"LIMIT EXCEEDED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
