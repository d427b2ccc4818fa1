"""The isolated grader (crossattn.tooling.grade): honest answers score, every cheat of issue 19 scores 0.

Submissions are the labs' own reference notebooks with some answer cells replaced, graded with a
fixed seed. One red-team notebook puts a different cheat in each exercise, so a few children cover
the whole list.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crossattn.tooling.grade import Limits, grade_submission, graded_labs
from crossattn.tooling.grade.sandbox import run_submission
from crossattn.tooling.grade.static import read_submission
from crossattn.tooling.student import student_version
from tests.helpers import ROOT

LABS = {1: "01_library_analogy.ipynb", 2: "02_qkv_math.ipynb", 5: "05_caching.ipynb"}
FAST = Limits(seconds=3, memory_mb=512)
SEED = 1234


def submission(tmp_path: Path, lab: int, answers: dict[str, str], name: str | None = None) -> Path:
    """Lab ``lab``'s reference notebook with the answer cell defining each key replaced by its value."""
    nb = json.loads((ROOT / "notebooks" / LABS[lab]).read_text())
    for function, source in answers.items():
        cells = [c for c in nb["cells"] if "solution" in c["metadata"].get("tags", [])
                 and f"def {function}(" in "".join(c["source"])]
        assert len(cells) == 1, function
        cells[0]["source"] = source
    path = tmp_path / (name or LABS[lab])
    path.write_text(json.dumps(nb))
    return path


def by_exercise(rows) -> dict[str, tuple[str, str]]:
    return {r["exercise"]: (r["status"], r["points"]) for r in rows}


LAB2_RED_TEAM_A = {
    # honest, with a debug print to stderr and a warning: full marks
    "scores": "import sys\nimport warnings\n\nimport numpy as np\n\n\ndef scores(Q, K):\n"
              "    print('debug', Q.shape, file=sys.stderr)\n    warnings.warn('just a warning')\n"
              "    return Q @ K.T / np.sqrt(Q.shape[-1])\n",
    # calling the package
    "attention": "from crossattn import attention as _a\n\n\ndef attention(Q, K, V):\n    return _a(Q, K, V)\n",
    # overwriting the checker's code
    "padding_mask": "def padding_mask(lengths, m, n):\n"
                    "    check_padding_mask.__code__ = (lambda f: None).__code__\n",
    # an infinite loop
    "masked_attention": "def masked_attention(Q, K, V, mask):\n    while True:\n        pass\n",
    # a huge allocation
    "split_heads": "import numpy as np\n\n\ndef split_heads(X, h):\n"
                   "    return np.ones((10**5, 10**5))  # 80 GB\n",
    # reading the instructor's solutions
    "attention_flops": "def attention_flops(m, n, d, d_v):\n"
                       "    text = open('../source/lab02/02_qkv_math.ipynb').read()\n    return len(text)\n",
}
LAB2_RED_TEAM_B = {
    # the checker shadowed in the answer cell, the stub left in place
    "scores": "def scores(Q, K):\n    raise NotImplementedError\n\n\ndef check_scores(f):\n    print('✓')\n",
    # a named mistake: the softmax over the queries (axis 0)
    "attention": "import numpy as np\n\n\ndef attention(Q, K, V):\n    s = Q @ K.T / np.sqrt(Q.shape[-1])\n"
                 "    e = np.exp(s - s.max(axis=0, keepdims=True))\n    w = e / e.sum(axis=0, keepdims=True)\n"
                 "    return w @ V, w\n",
    # patching the checker module
    "padding_mask": "import crossattn.checks._core as core\n\n\ndef padding_mask(lengths, m, n):\n"
                    "    core.close = lambda *a, **k: None\n",
    # a lookup table of the checker's fixed inputs: right there, wrong on the grader's
    "masked_attention": "import numpy as np\n\nTABLE = {(3, 4): 0.25}\n\n\ndef masked_attention(Q, K, V, mask):\n"
                        "    w = np.full((3, 4), TABLE[(3, 4)])\n    return w @ V[:4], w\n",
    # sys.exit
    "split_heads": "import sys\n\n\ndef split_heads(X, h):\n    sys.exit(0)\n",
    # raise SystemExit without sys: caught, an answer that raised
    "attention_flops": "def attention_flops(m, n, d, d_v):\n    raise SystemExit(0)\n",
}
LAB5_RED_TEAM = {
    # hard-coded numbers of the checker's case
    "cache_bytes": "def cache_bytes(n_layers, n, steps, d_model, dtype_bytes):\n    return 24576, 16384\n",
    # running the layer itself, which the tripwire on MultiheadAttention.forward stops
    "self_attention_step": "def self_attention_step(attn, x_new, cache):\n    return attn(x_new, cache=cache)\n",
    # a float count
    "self_attention_flops": "def self_attention_flops(steps, d_model, cached):\n    return 1.0 * steps\n",
    # the package's method
    "share_across_beams": "def share_across_beams(k, beams):\n    from crossattn.nn.cache import KVCache\n"
                          "    return KVCache(static=True, k=k, v=k).expand_beams(beams).k\n",
}


def test_lab2_red_team_each_cheat_scores_zero(tmp_path):
    rows = grade_submission(submission(tmp_path, 2, LAB2_RED_TEAM_A, "a.ipynb"), SEED, FAST)
    got = by_exercise(rows)
    assert got == {"2.1": ("passed", "1"), "2.2": ("flagged", "0"), "2.3": ("flagged", "0"),
                   "2.4": ("error", "0"), "2.5": ("error", "0"), "2.6": ("flagged", "0")}, rows
    reasons = {r["exercise"]: r["reason"] for r in rows}
    assert "crossattn.attention" in reasons["2.2"] and "__code__" in reasons["2.3"]
    assert "time limit" in reasons["2.4"] and "memory" in reasons["2.5"] and "`open`" in reasons["2.6"]

    rows = grade_submission(submission(tmp_path, 2, LAB2_RED_TEAM_B, "b.ipynb"), SEED, FAST)
    assert by_exercise(rows) == {"2.1": ("flagged", "0"), "2.2": ("failed", "0"), "2.3": ("flagged", "0"),
                                 "2.4": ("failed", "0"), "2.5": ("flagged", "0"), "2.6": ("failed", "0")}, rows
    reasons = {r["exercise"]: r["reason"] for r in rows}
    assert "check_scores" in reasons["2.1"] and "crossattn.checks._core" in reasons["2.3"]
    assert "SystemExit" in reasons["2.6"] and "`sys`" in reasons["2.5"]


def test_lab5_red_team_tripwire_and_static_flags(tmp_path):
    rows = grade_submission(submission(tmp_path, 5, LAB5_RED_TEAM), SEED, FAST)
    assert by_exercise(rows) == {"5.1": ("failed", "0"), "5.2": ("flagged", "0"), "5.3": ("passed", "1"),
                                 "5.4": ("failed", "0"), "5.5": ("flagged", "0")}, rows
    reasons = {r["exercise"]: r["reason"] for r in rows}
    assert "MultiheadAttention.forward" in reasons["5.2"] and "while running" in reasons["5.2"]  # the tripwire
    assert "crossattn.nn.cache.KVCache" in reasons["5.5"]


def test_references_score_full_marks_and_stubs_zero_in_parallel(tmp_path):
    assert set(LABS) <= set(graded_labs())
    paths = []
    for lab, name in LABS.items():
        ref = tmp_path / "ref" / name
        ref.parent.mkdir(exist_ok=True)
        ref.write_text((ROOT / "notebooks" / name).read_text())
        stub = tmp_path / "stub" / name
        stub.parent.mkdir(exist_ok=True)
        stub.write_text(json.dumps(student_version(_nb(ref), name)))
        paths += [ref, stub]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    out = tmp_path / "grades.csv"
    done = subprocess.run([sys.executable, "-m", "crossattn.grade", *map(str, paths), "--out", str(out),
                           "--jobs", "2"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    seed_line = [line for line in done.stderr.splitlines() if line.startswith("grading seed:")]
    assert seed_line and seed_line[0].split()[2] not in out.read_text()  # the seed is for the instructor only
    rows = list(csv.DictReader(out.open()))
    for row in rows:
        wanted = "passed" if "/ref/" in row["submission"] else "failed"
        assert row["status"] == wanted, row
    assert len(rows) == 2 * (5 + 6 + 5)
    assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}  # never modified


def _nb(path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def test_bad_inputs_give_one_row_each(tmp_path):
    missing = tmp_path / "missing.ipynb"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    corrupt = tmp_path / "02_qkv_math.ipynb"
    corrupt.write_text("{not json")
    other_lab = tmp_path / "04_spotlight.ipynb"  # lab 3 under lab 4's number
    other_lab.write_text((ROOT / "notebooks" / "03_spotlight.ipynb").read_text())
    no_lab = tmp_path / "42_nothing.ipynb"
    no_lab.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}))
    version = submission(tmp_path, 2, {}, "lab02_v0.ipynb")
    nb = json.loads(version.read_text())
    for cell in nb["cells"]:
        if "solution" in cell["metadata"].get("tags", []):
            cell["source"] = "def old_name(x):\n    return x\n"
    version.write_text(json.dumps(nb))
    empty = submission(tmp_path, 1, {}, "01_empty.ipynb")
    nb = json.loads(empty.read_text())
    nb["cells"] = [c for c in nb["cells"] if "solution" not in c["metadata"].get("tags", [])]
    empty.write_text(json.dumps(nb))
    reasons = {}
    for path in (missing, text, corrupt, other_lab, no_lab, version, empty):
        rows = grade_submission(path, SEED, FAST)
        assert len(rows) == 1 and rows[0]["status"] == "error", rows
        reasons[path.name] = rows[0]["reason"]
    assert "no such file" in reasons["missing.ipynb"] and "not a notebook" in reasons["notes.txt"]
    assert "invalid JSON" in reasons["02_qkv_math.ipynb"] and "file name says lab 4, exercise headings say lab 3" in reasons["04_spotlight.ipynb"]
    assert "not a lab of this course" in reasons["42_nothing.ipynb"]
    assert "another version" in reasons["lab02_v0.ipynb"] and "no answer cells" in reasons["01_empty.ipynb"]


def test_a_syntax_error_is_an_error_row_for_its_exercise_only(tmp_path):
    path = submission(tmp_path, 1, {"relevance": "def relevance(query, keys):\n    return keys @@ query\n"})
    got = by_exercise(grade_submission(path, SEED, FAST))
    assert got["1.1"] == ("error", "0") and got["1.2"] == ("passed", "1")
    assert got["1.3"] == ("failed", "0")  # read calls the student's relevance, which is not there


def test_static_check_keeps_only_imports_constants_and_defs(tmp_path):
    path = submission(tmp_path, 1, {"relevance": "EPS = 1e-9\nprint('top level')\nx = open('f')\n\n\n"
                                                 "def relevance(query, keys):\n    return keys @ query + 0 * EPS\n"})
    sub = read_submission(path)
    kinds = [(p.kind, p.defines) for p in sub.pieces if p.where.startswith(f"cell {_cell_of(path, 'relevance')}")]
    assert kinds == [("const", ("EPS",)), ("def", ("relevance",))]
    assert len(sub.dropped) == 2  # the print and the open never run
    assert by_exercise(grade_submission(path, SEED, FAST))["1.1"] == ("passed", "1")


def _cell_of(path, function):
    nb = json.loads(path.read_text())
    return next(i for i, c in enumerate(nb["cells"]) if f"def {function}(" in "".join(c["source"]))


# --- the child's isolation, measured with code the static check would have stopped -------------

def _run(code: str, name: str, cases=1, **kw):
    task = {"exercise": "9.1", "function": name, "allowed": [], "cases": [{"driver": "call", "args": ()}] * cases}
    return run_submission([{"source": code, "where": "test", "defines": [name]}], [task], parts=("core",),
                          imports=(), tripwires=kw.get("tripwires", ()), limits=FAST)


def test_child_cannot_write_a_byte_to_any_file(tmp_path):
    target = tmp_path / "written.txt"
    tmp_path.chmod(0o777)
    run = _run(f"def f():\n    with open({str(target)!r}, 'w') as fh:\n        fh.write('x' * 100)\n    return 1\n", "f")
    result = run.results["9.1"][0]
    assert result.status == "raised", result
    assert not target.exists() or target.stat().st_size == 0


def test_child_death_costs_only_its_exercise():
    code = "import os\n\ndef f():\n    os._exit(7)\n\n\ndef g():\n    return 2\n"
    tasks = [{"exercise": "9.1", "function": "f", "allowed": [], "cases": [{"driver": "call", "args": ()}]},
             {"exercise": "9.2", "function": "g", "allowed": [], "cases": [{"driver": "call", "args": ()}]}]
    pieces = [{"source": code, "where": "test", "defines": ["f", "g"]}]
    run = run_submission(pieces, tasks, parts=("core",), imports=(), tripwires=(), limits=FAST)
    assert run.results["9.1"][0].status == "crashed" and "status 7" in run.results["9.1"][0].error
    assert run.results["9.2"][0].status == "ok" and run.results["9.2"][0].value == 2


def test_tripwire_catches_a_package_call_the_static_check_missed():
    code = "def f():\n    import crossattn\n    return crossattn.core.numerics.softmax([1.0, 2.0])\n"
    run = _run(code, "f", tripwires=("crossattn.softmax",))
    assert run.results["9.1"][0].status == "tripped" and run.results["9.1"][0].tripped == ("crossattn.softmax",)
    # The control: without the tripwire the same call runs.
    assert _run(code, "f").results["9.1"][0].status == "ok"


def test_child_sees_no_checks_and_no_course_folder():
    code = ("def f():\n    import sys\n    import crossattn\n"
            f"    return sum(p.startswith({str(ROOT)!r}) for p in [crossattn.__file__, *sys.path])\n")
    value = _run(code, "f").results["9.1"][0]
    assert value.status == "ok" and value.value == 0, value
    blocked = _run("def f():\n    import crossattn.checks\n    return 1\n", "f").results["9.1"][0]
    assert blocked.status == "raised" and "ModuleNotFoundError" in blocked.error


def _demoted() -> bool:
    from crossattn.tooling.grade.sandbox import _demote, _site_dirs

    return _demote(_site_dirs(["numpy"])) is not None


@pytest.mark.skipif(not _demoted(), reason="the child runs as the grader's user (not root, or nobody cannot reach "
                    "this Python): it reads what the grader reads, as the sandbox's docstring says")
def test_as_root_the_child_cannot_read_a_private_folder(tmp_path):
    secret = tmp_path / "source"
    secret.mkdir(mode=0o700)
    (secret / "solution.txt").write_text("42")
    tmp_path.chmod(0o755)
    run = _run(f"def f():\n    return open({str(secret / 'solution.txt')!r}).read()\n", "f")
    assert run.results["9.1"][0].status == "raised" and "PermissionError" in run.results["9.1"][0].error


def test_an_answer_imported_or_assigned_from_the_package_is_flagged_not_missing(tmp_path):
    # found by following the README as an instructor: these scored 0 as `error`, "no answer cell defines …",
    # which reads as a broken file, not as a package call to look at
    imported = {"cache_bytes": "from crossattn.experiments.caching_cost import cache_bytes\n"}
    rows = grade_submission(submission(tmp_path, 5, imported), SEED, FAST)
    got = {r["exercise"]: r for r in rows}
    assert (got["5.1"]["status"], got["5.1"]["points"]) == ("flagged", "0"), rows
    assert "crossattn.experiments.caching_cost.cache_bytes" in got["5.1"]["reason"]
    assert all(got[e]["status"] == "passed" for e in ("5.2", "5.3", "5.4", "5.5")), rows

    assigned = {"scores": "import crossattn\n\nscores = crossattn.attention_scores\n",
                "attention": "from crossattn import attention as attention\n"}
    rows = grade_submission(submission(tmp_path, 2, assigned, "assigned.ipynb"), SEED, FAST)
    got = {r["exercise"]: r for r in rows}
    assert by_exercise(rows)["2.1"] == ("flagged", "0") and "assigned (cell" in got["2.1"]["reason"], rows
    assert by_exercise(rows)["2.2"] == ("flagged", "0") and "crossattn.attention" in got["2.2"]["reason"], rows
    # the control: an answer that is really missing is still an error, not a flag
    missing = {"scores": "import numpy as np\n"}
    rows = grade_submission(submission(tmp_path, 2, missing, "missing.ipynb"), SEED, FAST)
    assert by_exercise(rows)["2.1"] == ("error", "0") and "no answer cell defines `scores`" in rows[0]["reason"]
