"""Run a student's functions in a separate, limited process and bring back what they return (never a verdict).

:func:`run_submission` writes a job (the student's code pieces, the inputs of each case, the names to
put behind tripwires) into a fresh temporary folder, starts :mod:`crossattn.tooling.grade.child` there
and reads its frames: ``.npz`` archives loaded with ``allow_pickle=False``, so nothing the child sends
can run code in the grader. What the child holds:

- its working folder is an empty temporary folder; its environment is scrubbed (no PYTHONPATH, HOME
  in the temporary folder, one thread); it runs ``python -I -S``, so neither the user's site nor any
  ``.pth`` file (such as an editable install pointing at the course folder) is on its path: it sees
  the standard library, the site-packages of NumPy and torch, and a *copy* of the package parts the
  lab needs (``core``, and ``nn`` / ``experiments`` when the lab uses them) — never ``checks``,
  ``tooling``, the labs or an nbgrader ``source/`` folder;
- limits (``resource.setrlimit``): address space (its size after its imports plus ``memory_mb``), CPU
  seconds, file size 0 (it cannot write a byte to any regular file), no core dumps; a wall-clock time
  limit per exercise, after which its whole process group is killed and a new child grades the rest;
- run as root, the grader starts the child as ``nobody``: it then cannot open for writing, or even
  truncate, a file that ``nobody`` may not write, e.g. an nbgrader ``gradebook.db``.

What it does not hold: the child runs as the same user as the grader (unless root) and without
namespaces, so it can *read* any file that user can read, e.g. world-readable files anywhere on the
machine, if it finds a way the static check (:mod:`crossattn.tooling.grade.static`) misses; the
static check is what flags file, socket, process and introspection access. Keep instructor
solutions in a folder only the instructor can read (``chmod 700 source``) and grade as another user
(or as root, which drops to ``nobody``) for the read side to hold as well.
"""
from __future__ import annotations

import importlib.util
import io
import json
import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Limits", "CaseResult", "Run", "TensorValue", "Other", "run_submission", "package_copy"]

CHILD = Path(__file__).with_name("child.py")
#: Seconds a child may take to start (import NumPy, torch, the package copy) before the first exercise.
STARTUP_SECONDS = 90.0


@dataclass(frozen=True)
class Limits:
    """The limits of one child: wall seconds per exercise and memory beyond what its imports take."""

    seconds: float = 10.0
    memory_mb: int = 1024

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and self.memory_mb > 0):
            raise ValueError(f"time and memory limits must be positive, got {self.seconds} s and {self.memory_mb} MB")


@dataclass(frozen=True)
class TensorValue:
    """A torch tensor the student's function returned, as a NumPy array (the grader never needs torch for it)."""

    array: np.ndarray
    dtype: str


@dataclass(frozen=True)
class Other:
    """A returned value that is not a number, an array, a tensor or a tuple of them: only its type is kept."""

    type: str


@dataclass
class CaseResult:
    """What one call of the student's function gave: ``status`` is ``ok``, ``raised``, ``tripped``,
    ``memory``, ``missing``, ``timeout`` or ``crashed``."""

    status: str
    value: Any = None
    extra: dict = field(default_factory=dict)
    error: str = ""
    tripped: tuple[str, ...] = ()


@dataclass
class Run:
    """The results of one submission: load errors by function name, and each exercise's case results."""

    load_errors: dict[str, str] = field(default_factory=dict)
    results: dict[str, list[CaseResult]] = field(default_factory=dict)
    missing_tripwires: list[str] = field(default_factory=list)


def _decode(desc: dict, arrays: dict) -> Any:
    kind = desc.get("t")
    if kind == "none":
        return None
    if kind in ("bool", "int"):
        return int(desc["v"]) if desc.get("big") else desc["v"]
    if kind == "float":
        try:
            return float(desc["v"])
        except (TypeError, ValueError):
            return Other("float that could not be read")
    if kind == "npscalar":
        return arrays[desc["k"]][()]
    if kind == "array":
        return arrays[desc["k"]]
    if kind == "tensor":
        return TensorValue(arrays[desc["k"]], desc.get("dtype", ""))
    if kind in ("tuple", "list"):
        items = [_decode(d, arrays) for d in desc["items"]]
        if desc.get("n", len(items)) > len(items):
            items.append(Other("more items"))
        return tuple(items) if kind == "tuple" else items
    return Other(str(desc.get("type", "?")))


def _site_dirs(modules: list[str]) -> list[str]:
    dirs: list[str] = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            raise RuntimeError(f"the grader needs {name}, which is not installed")
        folder = str(Path(spec.origin).resolve().parent.parent)
        if folder not in dirs:
            dirs.append(folder)
    return dirs


def package_copy(dest: Path, parts: tuple[str, ...]) -> Path:
    """Copy ``crossattn/__init__.py`` and the subpackages ``parts`` into ``dest/crossattn``; return ``dest``."""
    import crossattn

    src = Path(crossattn.__file__).resolve().parent
    target = dest / "crossattn"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "__init__.py", target / "__init__.py")
    for part in parts:
        if part in ("checks", "tooling"):
            raise ValueError(f"the child never gets crossattn.{part}")
        if not (target / part).exists():
            shutil.copytree(src / part, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def _world_reachable(path: Path) -> bool:
    """Whether any user can reach ``path`` (every folder above it searchable, itself readable)."""
    import stat

    path = Path(path).resolve()
    for folder in path.parents:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def _demote(needed: list[str]):
    """As root: run the child as nobody (no supplementary groups), if nobody can reach Python and ``needed``."""
    if os.geteuid() != 0:
        return None
    if not all(_world_reachable(Path(p)) for p in [sys.executable, *needed]):
        return None
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return None

    def demote() -> None:
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    return demote


class _Reader:
    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, b""

    def frame(self, deadline: float) -> dict | None:
        """The next frame, or None at the deadline or when the child closed the pipe."""
        while True:
            if len(self.buf) >= 8:
                size = struct.unpack(">Q", self.buf[:8])[0]
                if size > 512 * 2**20:
                    return None
                if len(self.buf) >= 8 + size:
                    data, self.buf = self.buf[8:8 + size], self.buf[8 + size:]
                    try:
                        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                            arrays = {k: npz[k] for k in npz.files}
                        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
                    except Exception:  # noqa: BLE001 - a corrupt frame ends the child's turn
                        return None
                    meta["_arrays"] = arrays
                    return meta
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _case(meta: dict) -> CaseResult:
    arrays = meta["_arrays"]
    status = meta.get("status", "crashed")
    value = _decode(meta["value"], arrays) if "value" in meta else None
    extra = {k: _decode(v, arrays) for k, v in meta.get("extra", {}).items()}
    return CaseResult(status, value, extra, meta.get("error", ""), tuple(meta.get("tripped", ())))


def run_submission(pieces: list[dict], tasks: list[dict], *, parts: tuple[str, ...], imports: tuple[str, ...],
                   tripwires: tuple[str, ...], limits: Limits, package_dir: Path | None = None) -> Run:
    """Run the student's ``pieces`` on the ``tasks`` (one per exercise) in limited children; see the module doc.

    pieces: ``{"source", "where", "defines"}`` each, executed in order in one namespace.
    tasks: ``{"exercise", "function", "allowed", "cases": [{"driver", "args"}]}`` each.
    """
    run = Run()
    site_dirs = _site_dirs(["numpy"] + (["torch"] if "torch" in imports else []))
    with tempfile.TemporaryDirectory(prefix="crossattn-grade-") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        pkg = package_dir if package_dir is not None else package_copy(tmp / "pkg", parts)
        work = tmp / "work"
        work.mkdir(mode=0o755)
        shutil.copy(CHILD, tmp / "child.py")
        (tmp / "child.py").chmod(0o644)
        remaining = list(tasks)
        first_start = True
        while remaining:
            job = {"package_dir": str(pkg), "site_dirs": site_dirs, "imports": list(imports),
                   "tripwires": list(tripwires), "memory_bytes": limits.memory_mb * 2**20,
                   "cpu_seconds": int(limits.seconds * len(remaining) + STARTUP_SECONDS),
                   "pieces": pieces, "tasks": remaining}
            job_path = tmp / "job.pkl"
            job_path.write_bytes(pickle.dumps(job))
            job_path.chmod(0o644)
            done = _one_child(tmp, job_path, work, remaining, limits, run, record_load=first_start, site_dirs=site_dirs,
                              package_dir=pkg)
            first_start = False
            remaining = remaining[done:]
    return run


def _one_child(tmp: Path, job_path: Path, work: Path, tasks: list[dict], limits: Limits, run: Run,
               record_load: bool, site_dirs: list[str], package_dir: Path) -> int:
    """Start one child for ``tasks``; record results; return how many tasks are settled (≥ 1)."""
    read_fd, write_fd = os.pipe()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    for key in ("ATEN_CPU_CAPABILITY",):
        if key in os.environ:
            env[key] = os.environ[key]
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", str(tmp / "child.py"), str(job_path), str(write_fd), str(package_dir),
         os.pathsep.join(site_dirs)],
        cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        pass_fds=(write_fd,), start_new_session=True, preexec_fn=_demote([str(tmp), *site_dirs]),
    )
    os.close(write_fd)
    reader = _Reader(read_fd)
    settled = 0
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        ready = reader.frame(deadline)
        loaded = reader.frame(deadline) if ready and ready.get("kind") == "ready" else None
        if not loaded or loaded.get("kind") != "loaded":
            _kill(proc)
            why = _stderr_tail(proc)
            for task in tasks:
                run.results[task["exercise"]] = [CaseResult("crashed", error=f"the grader's child failed to start{why}")]
            return len(tasks)
        if record_load:
            run.load_errors.update(loaded.get("errors", {}))
            run.missing_tripwires = list(ready.get("missing_tripwires", []))
        for task in tasks:
            results: list[CaseResult] = []
            deadline = time.monotonic() + limits.seconds
            for _ in task["cases"]:
                meta = reader.frame(deadline)
                if meta is None or meta.get("kind") != "case":
                    timed_out = time.monotonic() >= deadline
                    _kill(proc)
                    if timed_out:
                        results.append(CaseResult("timeout", error=f"time limit: still running after "
                                                  f"{limits.seconds:g} s"))
                    else:
                        results.append(CaseResult("crashed", error=_exit_reason(proc)))
                    run.results[task["exercise"]] = results
                    return settled + 1
                results.append(_case(meta))
            run.results[task["exercise"]] = results
            settled += 1
        return settled
    finally:
        os.close(read_fd)
        if proc.poll() is None:
            _kill(proc)
        if proc.stderr:
            proc.stderr.close()


def _stderr_tail(proc: subprocess.Popen) -> str:
    try:
        text = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
    except (OSError, ValueError):
        text = ""
    return f": {text.splitlines()[-1][:300]}" if text else ""


def _exit_reason(proc: subprocess.Popen) -> str:
    code = proc.returncode
    if code is None:
        return "the process stopped answering"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        if name == "SIGXCPU":
            return "CPU time limit: the process was stopped"
        return f"the process was killed by {name} (a memory or time limit, or a crash)"
    return f"the process exited with status {code} in the middle of the exercise (sys.exit or os._exit?)"
