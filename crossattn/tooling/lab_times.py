"""Measure how long each lab takes to run top to bottom, and check the times against the design.

    python -m crossattn.tooling.lab_times notebooks --out appendices/lab_times.json

runs every lab ``NN_name.ipynb`` of the folder in a fresh kernel, one after the other, with the
code :func:`crossattn.tooling.labs.run_lab` that authors use to store a lab's outputs (the notebooks
themselves are not written). It records the seconds per lab, the machine (cores, Python, PyTorch,
NumPy, load average before and after) and the date in a small JSON file that the instructor guide
shows, and compares the times with the design's limits (§5): labs 1–3 at most 20 s, labs 4–8 at
most 60 s, the whole course at most 300 s.

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
    "EARLY_LABS", "EARLY_LIMIT", "LATER_LIMIT", "COURSE_LIMIT", "limit_for", "lab_number", "find_labs",
    "machine", "measure", "violations", "load_report", "main",
]

#: Labs 1–3 are NumPy only and must run in EARLY_LIMIT seconds; later labs train tiny PyTorch models.
EARLY_LABS = range(1, 4)
EARLY_LIMIT = 20.0
LATER_LIMIT = 60.0
#: The whole course, every lab one after the other.
COURSE_LIMIT = 300.0

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


def measure(folder: str | Path, timeout: int = 300) -> dict[str, Any]:
    """Run every lab of ``folder`` top to bottom and return the report that is stored as JSON."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from .labs import LabError, run_lab

    labs = find_labs(folder)
    load_before = _load()
    rows = []
    for path in labs:
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
        number = lab_number(path.name)
        rows.append({"lab": path.name, "number": number, "seconds": round(seconds, 1), "limit": limit_for(number)})
        print(f"{path.name}: {seconds:.1f} s (limit {limit_for(number):.0f} s)", flush=True)
    now = _dt.datetime.now(_dt.timezone.utc)
    return {
        "date": now.date().isoformat(),
        "measured_at": now.isoformat(timespec="seconds"),
        "command": f"python -m crossattn.tooling.lab_times {Path(folder).as_posix()} --out <file>",
        "machine": machine(),
        "load_average": {"before": load_before, "after": _load(),
                         "note": "1, 5 and 15-minute load averages; above the core count, times are inflated"},
        "limits": {"labs_1_to_3": EARLY_LIMIT, "labs_4_on": LATER_LIMIT, "course": COURSE_LIMIT},
        "labs": rows,
        "total_seconds": round(sum(r["seconds"] for r in rows), 1),
    }


def violations(report: dict[str, Any]) -> list[str]:
    """One sentence per limit the report exceeds (an empty list when all is well)."""
    found = []
    for row in report["labs"]:
        limit = limit_for(row["number"])
        if row["seconds"] > limit:
            found.append(f"{row['lab']} took {row['seconds']:.1f} s; labs "
                         f"{'1–3' if row['number'] in EARLY_LABS else '4–8'} must run in at most {limit:.0f} s")
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
    args = parser.parse_args(argv)
    try:
        if args.check is not None:
            if args.folder is not None or args.out is not None:
                raise TimingError("--check reads a stored report; give no folder and no --out with it")
            report = load_report(args.check)
        else:
            if args.folder is None or args.out is None:
                raise TimingError("give the labs' folder and --out FILE, e.g. notebooks --out appendices/lab_times.json")
            if not args.out.parent.is_dir():
                raise TimingError(f"{args.out.parent}: no such folder for --out")
            report = measure(args.folder, timeout=args.timeout)
            report["command"] = f"python -m crossattn.tooling.lab_times {args.folder.as_posix()} --out {args.out.as_posix()}"
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
