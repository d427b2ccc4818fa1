"""The lab-timing tool (crossattn.tooling.lab_times) and the timings it stored in appendices/lab_times.json.

The tool's logic is tested on tiny inputs; only one two-cell lab is run, in a temporary folder.
The stored file must list exactly the labs in notebooks/: after adding or renaming a lab, measure
again with `python -m crossattn.tooling.lab_times notebooks --out appendices/lab_times.json`.
"""
import datetime
import json

import nbformat
import pytest

from crossattn.tooling.lab_times import (
    COURSE_LIMIT,
    TimingError,
    lab_number,
    limit_for,
    load_report,
    main,
    measure,
    violations,
)
from crossattn.tooling.labs import setup_cell_source
from tests.helpers import LABS, ROOT

STORED = ROOT / "appendices" / "lab_times.json"


@pytest.mark.parametrize("number, limit", [(1, 20), (2, 20), (3, 20), (4, 60), (5, 60), (8, 60)])
def test_limits_are_the_designs(number, limit):
    assert limit_for(number) == limit


@pytest.mark.parametrize("bad", [0, -1, "3", 2.0, True, None])
def test_limit_of_a_non_lab_number_is_refused(bad):
    with pytest.raises(TimingError, match="positive integer"):
        limit_for(bad)


@pytest.mark.parametrize("name, number", [("01_library_analogy.ipynb", 1), ("notebooks/08_beyond_translation.ipynb", 8)])
def test_lab_number_from_file_name(name, number):
    assert lab_number(name) == number


@pytest.mark.parametrize("name", ["library.ipynb", "1_x.ipynb", "00_x.ipynb", "01_x.md"])
def test_lab_number_refuses_other_names(name):
    with pytest.raises(TimingError, match="NN_name.ipynb"):
        lab_number(name)


def report(*seconds_by_lab, date="2026-01-01"):
    labs = [{"lab": f"{n:02d}_x.ipynb", "number": n, "seconds": s} for n, s in seconds_by_lab]
    return {"date": date, "machine": {"cores": 2, "cpu": "test", "python": "3", "torch": "2", "numpy": "2"},
            "labs": labs, "total_seconds": sum(s for _, s in seconds_by_lab),
            "load_average": {"before": [0.1, 0.1, 0.1], "after": [0.1, 0.1, 0.1]}}


def test_within_limits_no_violation():
    assert violations(report((1, 20.0), (2, 5.0), (4, 60.0), (8, 59.9))) == []


def test_each_exceeded_limit_is_named():
    found = violations(report((2, 20.1), (5, 61.0)))
    assert len(found) == 2
    assert "02_x.ipynb took 20.1 s" in found[0] and "at most 20 s" in found[0]
    assert "05_x.ipynb took 61.0 s" in found[1] and "at most 60 s" in found[1]


def test_whole_course_limit():
    labs = [(n, 59.0) for n in range(4, 10)]  # each within 60 s, together 354 s
    found = violations(report(*labs))
    assert found == [f"the whole course took 354.0 s; it must run in at most {COURSE_LIMIT:.0f} s"]


def run_main(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_folder(capsys, tmp_path):
    code, _, err = run_main(capsys, tmp_path / "nope", "--out", tmp_path / "t.json")
    assert_one_line_error(code, err, "no such folder")
    assert not (tmp_path / "t.json").exists()


def test_folder_without_labs(capsys, tmp_path):
    (tmp_path / "notes.ipynb").write_text("{}")
    code, _, err = run_main(capsys, tmp_path, "--out", tmp_path / "t.json")
    assert_one_line_error(code, err, "no lab in this folder")


def test_lab_that_is_not_a_notebook(capsys, tmp_path):
    (tmp_path / "01_broken.ipynb").write_text("not json")
    code, _, err = run_main(capsys, tmp_path, "--out", tmp_path / "t.json")
    assert_one_line_error(code, err, "01_broken.ipynb", "not a notebook")


def test_missing_out(capsys, tmp_path):
    code, _, err = run_main(capsys, tmp_path)
    assert_one_line_error(code, err, "--out")


def test_out_in_a_missing_folder(capsys, tmp_path):
    code, _, err = run_main(capsys, tmp_path, "--out", tmp_path / "no" / "t.json")
    assert_one_line_error(code, err, "no such folder for --out")


@pytest.mark.parametrize("content, fragment", [
    ("{", "not JSON"),
    ("[]", "expected a JSON object"),
    ('{"date": "x"}', "missing machine, labs, total_seconds, load_average"),
    (json.dumps({**report((1, 3.0)), "labs": [{"lab": "01_x.ipynb", "number": 2, "seconds": 3.0}]}), "recorded as lab 2"),
    (json.dumps({**report((1, 3.0)), "labs": [{"lab": "01_x.ipynb", "number": 1, "seconds": "fast"}]}), "not a time"),
])
def test_check_refuses_a_malformed_report(capsys, tmp_path, content, fragment):
    path = tmp_path / "t.json"
    path.write_text(content)
    code, _, err = run_main(capsys, "--check", path)
    assert_one_line_error(code, err, fragment)


def test_check_reports_violations_with_status_1(capsys, tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(report((3, 25.0))))
    code, out, err = run_main(capsys, "--check", path)
    assert code == 1
    assert "LIMIT EXCEEDED: 03_x.ipynb took 25.0 s" in err
    path.write_text(json.dumps(report((3, 15.0))))
    assert run_main(capsys, "--check", path)[0] == 0


def tiny_course(tmp_path, body):
    """A book folder with _config.yml and a lab 01 of a setup cell and one code cell."""
    url = "https://github.com/example/course"
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {url}\n")
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    setup = nbformat.v4.new_code_cell(setup_cell_source(url))
    setup.metadata["tags"] = ["setup"]
    nb.cells = [setup, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, str(folder / "01_tiny.ipynb"))
    return folder


def test_measure_runs_each_lab_without_writing_it(capsys, tmp_path):
    folder = tiny_course(tmp_path, "x = sum(range(10))\nprint(x)")
    before = (folder / "01_tiny.ipynb").read_bytes()
    out_file = tmp_path / "times.json"
    code, out, _ = run_main(capsys, folder, "--out", out_file)
    assert code == 0, out
    assert (folder / "01_tiny.ipynb").read_bytes() == before, "the timing run wrote into the lab"
    stored = load_report(out_file)
    assert [row["lab"] for row in stored["labs"]] == ["01_tiny.ipynb"]
    assert 0 < stored["labs"][0]["seconds"] < 20
    assert stored["machine"]["cores"] >= 1 and stored["machine"]["python"].count(".") == 2
    assert datetime.date.fromisoformat(stored["date"])
    assert "course total" in out
    row = stored["labs"][0]
    assert row["floor"] == "numpy, pyplot" and row["floor_seconds"] > 0
    # Stored rounded: seconds to 0.05 either way, the floor to 0.005 and the ratio to 0.005. For a tiny lab
    # that moves seconds / floor by up to (0.05 + 0.005 · ratio) / floor, so compare within that.
    ratio = row["seconds"] / row["floor_seconds"]
    bound = (0.05 + 0.005 * ratio) / row["floor_seconds"] + 0.005
    assert row["ratio_to_floor"] == pytest.approx(ratio, abs=bound)


def test_only_retimes_one_lab_and_keeps_the_others(capsys, tmp_path):
    folder = tiny_course(tmp_path, "import torch\nx = 1")
    out_file = tmp_path / "times.json"
    stored = {"date": "2026-01-01", "machine": {}, "load_average": {"before": None}, "total_seconds": 12.0,
              "labs": [{"lab": "01_tiny.ipynb", "number": 1, "seconds": 9.0},
                       {"lab": "02_other.ipynb", "number": 2, "seconds": 3.0}]}
    out_file.write_text(json.dumps(stored))
    code, out, _ = run_main(capsys, folder, "--out", out_file, "--only", "1")
    assert code == 0, out
    merged = load_report(out_file)
    assert [r["lab"] for r in merged["labs"]] == ["01_tiny.ipynb", "02_other.ipynb"]
    assert merged["labs"][1] == stored["labs"][1]  # untouched
    assert merged["labs"][0]["seconds"] != 9.0 and merged["labs"][0]["floor"] == "numpy, pyplot, torch"
    assert merged["partial"] == {"retimed": ["01_tiny.ipynb"], "earlier_run": "2026-01-01"}
    assert merged["total_seconds"] == pytest.approx(merged["labs"][0]["seconds"] + 3.0, abs=0.1)


def test_only_needs_a_report_to_update_and_a_lab_that_exists(capsys, tmp_path):
    folder = tiny_course(tmp_path, "x = 1")
    code, _, err = run_main(capsys, folder, "--out", tmp_path / "none.json", "--only", "1")
    assert code == 2 and "does not exist: time every lab first" in err
    (tmp_path / "t.json").write_text(json.dumps({"date": "d", "machine": {}, "load_average": {"before": None},
                                                 "total_seconds": 1, "labs": [{"lab": "01_tiny.ipynb", "number": 1,
                                                                              "seconds": 1}]}))
    code, _, err = run_main(capsys, folder, "--out", tmp_path / "t.json", "--only", "7")
    assert code == 2 and "no lab numbered 07" in err


def test_a_slow_numpy_lab_is_named_by_its_ratio_to_the_floor():
    row = {"lab": "01_x.ipynb", "number": 1, "seconds": 9.0, "floor": "numpy, pyplot", "floor_seconds": 2.0,
           "ratio_to_floor": 4.5}
    report = {"labs": [row]}
    assert violations(report) == ["01_x.ipynb took 4.5× its floor (numpy, pyplot); labs 1–3 must stay within 4×"]
    assert violations({"labs": [dict(row, ratio_to_floor=3.9)]}) == []
    assert violations({"labs": [dict(row, number=4, lab="04_x.ipynb")]}) == []  # the ratio binds labs 1–3


def test_a_lab_whose_cell_raises_is_bad_input(tmp_path):
    folder = tiny_course(tmp_path, "raise ValueError('broken on purpose')")
    with pytest.raises(TimingError, match="01_tiny.ipynb: a cell raised ValueError: broken on purpose"):
        measure(folder)


# ------------------------------------------------------------------------------ the stored timings


def test_stored_timings_list_exactly_the_labs():
    stored = load_report(STORED)
    assert [row["lab"] for row in stored["labs"]] == [p.name for p in LABS], (
        "appendices/lab_times.json is out of date: run python -m crossattn.tooling.lab_times notebooks "
        "--out appendices/lab_times.json on a quiet machine")


def test_stored_timings_respect_the_limits():
    stored = load_report(STORED)
    assert violations(stored) == []
    assert stored["total_seconds"] == pytest.approx(sum(row["seconds"] for row in stored["labs"]), abs=0.2)


def test_stored_timings_say_where_and_when():
    stored = load_report(STORED)
    assert datetime.date.fromisoformat(stored["date"])
    assert {"cores", "cpu", "python", "torch", "numpy"} <= set(stored["machine"])
    assert len(stored["load_average"]["before"]) == 3
