"""Make the student version of every lab: ``python -m crossattn.student notebooks --out DIR``.

In each notebook, every cell tagged ``solution`` becomes a stub that keeps the imports, each
function's signature and docstring, and raises NotImplementedError; all outputs are cleared;
every other cell is left exactly as it is. The student versions keep the lab's file name and
are written to DIR, which must not be the input folder. Nothing is written unless every
notebook can be converted.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import nbformat

from .labs import SOLUTION_TAG, LabError, read_notebook, tags

__all__ = ["stub_source", "student_version", "main"]


def stub_source(source: str, where: str = "solution cell") -> str:
    """The stub of a solution cell: imports kept, each function body replaced by a ``raise``.

    Raises LabError when the cell does not parse, defines no function, or holds code outside
    its functions (which the stub could not keep without giving the answer away).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise LabError(f"{where}: the solution does not parse (line {err.lineno}: {err.msg})") from None
    lines = source.splitlines()
    pieces: list[tuple[str, str]] = []  # (kind, text) with kind "import" or "def"
    functions = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            pieces.append(("import", "\n".join(lines[node.lineno - 1:node.end_lineno])))
        elif isinstance(node, ast.FunctionDef):
            functions += 1
            first = min([node.lineno] + [dec.lineno for dec in node.decorator_list])
            body = node.body
            has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                       and isinstance(body[0].value.value, str))
            keep_to = body[0].end_lineno if has_doc else body[0].lineno - 1
            head = lines[first - 1:keep_to]
            indent = " " * body[0].col_offset
            if body[0].lineno == node.lineno:
                # A one-line function `def f(x): return x` puts its body on the def line.
                raise LabError(f"{where}: write the body of `{node.name}` on its own lines so it can be stubbed")
            head.append(f"{indent}# YOUR CODE HERE")
            head.append(f'{indent}raise NotImplementedError("write `{node.name}`, then run the check cell below")')
            pieces.append(("def", "\n".join(head)))
        elif isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant):
            continue  # a bare string: a note to the author
        else:
            raise LabError(
                f"{where}: line {node.lineno} is code outside a function ({type(node).__name__}); "
                "a solution cell may hold only imports and function definitions"
            )
    if functions == 0:
        raise LabError(f"{where}: defines no function, so there is no signature to keep in the student version")
    text, text_kind = "", ""
    for kind, piece in pieces:
        sep = "" if not text else ("\n" if kind == "import" and text_kind == "import" else "\n\n\n")
        text, text_kind = text + sep + piece, kind
    return text


def student_version(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions stubbed and every output cleared."""
    out = nbformat.from_dict(nb)  # deep copy
    for index, cell in enumerate(out.cells):
        if cell.cell_type != "code":
            continue
        if SOLUTION_TAG in tags(cell):
            cell.source = stub_source(cell.source, where=f"{name}, cell {index} (tagged '{SOLUTION_TAG}')")
        cell.outputs = []
        cell.execution_count = None
    out.metadata.pop("widgets", None)
    return out


def _notebooks(inp: Path) -> list[Path]:
    if not inp.exists():
        raise LabError(f"{inp}: no such file or folder")
    if inp.is_file():
        if inp.suffix != ".ipynb":
            raise LabError(f"{inp}: not a notebook (expected a .ipynb file or a folder of them)")
        return [inp]
    found = sorted(p for p in inp.glob("*.ipynb") if not p.name.startswith("."))
    if not found:
        raise LabError(f"{inp}: the folder holds no .ipynb notebooks")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crossattn.student",
        description="Write the student version of every lab: solutions stubbed, outputs cleared.",
    )
    parser.add_argument("notebooks", type=Path, help="a folder of labs (or one .ipynb)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the student versions to")
    args = parser.parse_args(argv)
    try:
        paths = _notebooks(args.notebooks)
        out_dir = args.out.resolve()
        if any(p.resolve().parent == out_dir for p in paths):
            raise LabError(f"--out {args.out} is the folder of the labs themselves; choose another folder so the labs are not overwritten")
        if out_dir.exists() and not out_dir.is_dir():
            raise LabError(f"--out {args.out} exists and is not a folder")
        converted = [(p, student_version(read_notebook(p), name=p.name)) for p in paths]
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, nb in converted:
        nbformat.write(nb, str(out_dir / path.name))
    print(f"wrote {len(converted)} student notebook(s) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
