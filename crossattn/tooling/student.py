"""Make the student version of every lab: ``python -m crossattn.tooling.student notebooks --out DIR``.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .labs import SOLUTION_TAG, LabError, read_notebook, tags

__all__ = ["SolutionPiece", "solution_pieces", "join_pieces", "stub_source", "student_version", "notebook_paths",
           "main"]


@dataclass(frozen=True)
class SolutionPiece:
    """One statement of a solution cell that a student version keeps, in some form.

    ``kind`` is "import" (kept whole, in ``head``) or "def": then ``head`` is the function's
    decorators, signature and docstring, and ``body`` the code after the docstring, which is
    what the student writes; ``indent`` is that code's indentation.
    """

    kind: str
    head: str
    body: str = ""
    indent: str = ""
    name: str = ""


def solution_pieces(source: str, where: str = "solution cell") -> list[SolutionPiece]:
    """Split a solution cell into its imports and functions (see :class:`SolutionPiece`).

    Raises LabError when the cell does not parse, defines no function, or holds code outside
    its functions (which a student version could not keep without giving the answer away).
    Bare strings (notes to the author) and comments between statements are dropped.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise LabError(f"{where}: the solution does not parse (line {err.lineno}: {err.msg})") from None
    lines = source.splitlines()
    pieces: list[SolutionPiece] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            pieces.append(SolutionPiece("import", "\n".join(lines[node.lineno - 1:node.end_lineno])))
        elif isinstance(node, ast.FunctionDef):
            first = min([node.lineno] + [dec.lineno for dec in node.decorator_list])
            body = node.body
            has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                       and isinstance(body[0].value.value, str))
            keep_to = body[0].end_lineno if has_doc else body[0].lineno - 1
            if body[0].lineno == node.lineno:
                # A one-line function `def f(x): return x` puts its body on the def line.
                raise LabError(f"{where}: write the body of `{node.name}` on its own lines so it can be stubbed")
            pieces.append(SolutionPiece(
                "def", "\n".join(lines[first - 1:keep_to]), "\n".join(lines[keep_to:node.end_lineno]),
                " " * body[0].col_offset, node.name,
            ))
        elif isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant):
            continue  # a bare string: a note to the author
        else:
            raise LabError(
                f"{where}: line {node.lineno} is code outside a function ({type(node).__name__}); "
                "a solution cell may hold only imports and function definitions"
            )
    if not any(piece.kind == "def" for piece in pieces):
        raise LabError(f"{where}: defines no function, so there is no signature to keep in the student version")
    return pieces


def join_pieces(pieces: list[SolutionPiece], render_def: Callable[[SolutionPiece], str]) -> str:
    """The cell text of ``pieces``: imports as they are, each function as ``render_def`` writes it.

    Consecutive imports are on consecutive lines; two blank lines separate everything else.
    """
    text, text_kind = "", ""
    for piece in pieces:
        part = piece.head if piece.kind == "import" else render_def(piece)
        sep = "" if not text else ("\n" if piece.kind == "import" and text_kind == "import" else "\n\n\n")
        text, text_kind = text + sep + part, piece.kind
    return text


def stub_source(source: str, where: str = "solution cell") -> str:
    """The stub of a solution cell: imports kept, each function body replaced by a ``raise``.

    Raises LabError as :func:`solution_pieces` does.
    """
    def stub(piece: SolutionPiece) -> str:
        return (f"{piece.head}\n{piece.indent}# YOUR CODE HERE\n"
                f'{piece.indent}raise NotImplementedError("write `{piece.name}`, then run the check cell below")')

    return join_pieces(solution_pieces(source, where), stub)


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


def notebook_paths(inp: Path) -> list[Path]:
    """The notebooks to convert: ``inp`` itself if it is one, else the .ipynb files in the folder."""
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
        prog="python -m crossattn.tooling.student",
        description="Write the student version of every lab: solutions stubbed, outputs cleared.",
    )
    parser.add_argument("notebooks", type=Path, help="a folder of labs (or one .ipynb)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the student versions to")
    args = parser.parse_args(argv)
    try:
        paths = notebook_paths(args.notebooks)
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
