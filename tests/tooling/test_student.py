"""The student-version tool: python -m crossattn.tooling.student notebooks --out DIR (design §5)."""
import ast
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from crossattn.tooling.labs import (
    CHECK_TAG,
    SOLUTION_TAG,
    read_notebook,
    tags,
)
from crossattn.tooling.student import main, stub_source
from tests.helpers import LABS, NOTEBOOKS, ROOT


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert main([str(NOTEBOOKS), "--out", str(out)]) == 0
    return out


def test_one_student_notebook_per_lab_with_the_same_name(student_dir):
    assert sorted(p.name for p in student_dir.glob("*.ipynb")) == [p.name for p in LABS]


@pytest.mark.parametrize("lab", LABS, ids=[p.name for p in LABS])
def test_solutions_are_stubbed_outputs_cleared_and_other_cells_unchanged(student_dir, lab):
    original, student = read_notebook(lab), read_notebook(student_dir / lab.name)
    assert len(original.cells) == len(student.cells)
    for before, after in zip(original.cells, student.cells):
        assert after.metadata == before.metadata
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None
        if SOLUTION_TAG in tags(before):
            assert_only_stubs(after.source)
        else:
            assert after.source == before.source


@pytest.mark.parametrize("lab", LABS, ids=[p.name for p in LABS])
def test_student_version_runs_and_fails_exactly_at_its_check_cells(student_dir, lab):
    nb = read_notebook(student_dir / lab.name)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if CHECK_TAG in tags(cell):
            assert errors, f"check cell {cell.source!r} passed on the stub"
            assert errors[0].ename == "CheckFailed" and "NotImplementedError" in errors[0].evalue
        else:
            assert not errors, f"cell {cell.source[:60]!r} fails in the student version: only check cells may"


def assert_only_stubs(source):
    """No solution code survives: each function body is its docstring and a raise NotImplementedError."""
    tree = ast.parse(source)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert functions, "the stub keeps the function signatures"
    for node in tree.body:
        assert isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef)), ast.dump(node)[:80]
    for fn in functions:
        body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant) else fn.body
        assert len(body) == 1 and isinstance(body[0], ast.Raise), f"`{fn.name}` keeps code besides its docstring"
        assert ast.unparse(body[0].exc).startswith("NotImplementedError(")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "crossattn.tooling.student", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_reports_a_missing_folder(tmp_path):
    result = run_cli(str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope'}: no such file or folder"
    assert not (tmp_path / "out").exists()


def test_cli_reports_a_notebook_that_is_not_json(tmp_path):
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "broken.ipynb").write_text("{not json")
    result = run_cli(str(tmp_path / "labs"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "broken.ipynb: not a notebook — invalid JSON at line 1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def lab_with_solution(source):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [SOLUTION_TAG]
    nb.cells = [cell]
    return nb


def test_cli_reports_a_solution_cell_without_a_function(tmp_path):
    (tmp_path / "labs").mkdir()
    nbformat.write(lab_with_solution("import numpy as np\n"), str(tmp_path / "labs" / "x.ipynb"))
    result = run_cli(str(tmp_path / "labs"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "x.ipynb, cell 0 (tagged 'solution'): defines no function" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_refuses_to_write_over_its_input(tmp_path):
    (tmp_path / "labs").mkdir()
    path = tmp_path / "labs" / "x.ipynb"
    nbformat.write(lab_with_solution("def f(x):\n    return x\n"), str(path))
    before = path.read_bytes()
    result = run_cli(str(tmp_path / "labs"), "--out", str(tmp_path / "labs"))
    assert result.returncode == 2 and "is the folder of the labs themselves" in result.stderr
    assert path.read_bytes() == before


def test_stub_keeps_imports_signature_and_docstring():
    stub = stub_source('import numpy as np\n\n\ndef f(x: np.ndarray) -> float:\n    """Doc (m, n)."""\n    y = x * 2\n    return y.sum()\n')
    assert stub.startswith("import numpy as np\n\n\ndef f(x: np.ndarray) -> float:\n    \"\"\"Doc (m, n).\"\"\"\n")
    assert "x * 2" not in stub and "raise NotImplementedError" in stub
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


@pytest.mark.parametrize("source, match", [
    ("x = 1\ndef f():\n    return x\n", r"line 1 is code outside a function \(Assign\)"),
    ("def f(:\n", "does not parse"),
    ("def f(x): return x\n", "on its own lines"),
])
def test_stub_rejects_solutions_it_cannot_stub_safely(source, match):
    with pytest.raises(ValueError, match=match):
        stub_source(source)
