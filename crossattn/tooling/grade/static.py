"""Read a submission: which lab it is, and what of its answer cells may run (a static check of their names).

Only the cells of the student's answers are read: those tagged ``solution`` (the course's labs and
student versions) or marked ``nbgrader.solution`` (an nbgrader release). From them the grader keeps
three kinds of top-level statement — imports, assignments of a literal constant (``EPS = 1e-9``)
and function definitions — and drops every other one, unrun. It then flags, without running
anything, every function whose code (body, defaults and decorators, and the student's helper
functions it calls) does one of:

- reaches the package: a name imported from ``crossattn`` that the exercise's ``allowed`` list does
  not name, or a method that solves an exercise of the lab (``cache.expand_beams(…)``) — the same
  names the child also puts behind tripwires;
- reaches the checks, the notebook or the interpreter: ``check_*``, ``get_ipython``, ``__code__`` or
  any other dunder, ``eval``/``exec``/``compile``/``__import__``/``getattr``/``globals``…;
- touches files, sockets or processes: ``open``, ``os``, ``sys``, ``io``, ``pathlib``, ``subprocess``,
  ``socket``, ``importlib``, ``builtins``…, and the file methods of NumPy and torch (``np.load``,
  ``np.save``, ``tofile``, ``torch.load``…);
- imports a module outside the course's list (NumPy, torch, math and a few others of the standard library);
- assigns to an attribute of a name it does not bind itself (``torch.equal = …``): it would change a
  module for the code that runs after it.

A flagged function is not loaded into the child at all; its exercise scores 0 with status
``flagged`` and the reason, for a human to look at.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SubmissionError", "Piece", "Submission", "read_submission", "lab_of", "SAFE_MODULES"]

#: Modules an answer may import (and their submodules).
SAFE_MODULES = frozenset({
    "numpy", "math", "cmath", "torch", "itertools", "functools", "collections", "typing", "dataclasses",
    "__future__", "numbers", "operator", "fractions", "decimal", "statistics", "heapq", "bisect", "string",
    "random", "copy", "enum", "abc", "warnings",
})
#: ``sys`` may appear only as these attributes (a debug print to stderr costs nothing).
SYS_STREAMS = frozenset({"stdout", "stderr"})
#: Names whose use is flagged wherever they appear, with what they give access to.
FORBIDDEN_NAMES = {
    **dict.fromkeys(("eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "globals",
                     "locals", "vars", "breakpoint", "input", "exit", "quit", "help", "memoryview"),
                    "the interpreter's internals"),
    **dict.fromkeys(("open", "os", "sys", "io", "pathlib", "Path", "shutil", "glob", "tempfile"), "files or the interpreter"),
    **dict.fromkeys(("subprocess", "socket", "signal", "multiprocessing", "threading", "ctypes", "resource"),
                    "processes or sockets"),
    **dict.fromkeys(("importlib", "builtins", "inspect", "gc", "pickle", "marshal", "types", "runpy"),
                    "modules or the interpreter's internals"),
    "get_ipython": "the notebook's kernel",
    "crossattn": "the course package",
}
#: Attribute names that read or write files (NumPy, torch, pathlib) or reach the interpreter.
FORBIDDEN_ATTRIBUTES = frozenset({
    "load", "loads", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt", "fromfile", "tofile",
    "memmap", "open_memmap", "fromregex", "DataSource", "from_file", "read_text", "write_text", "read_bytes",
    "write_bytes", "dump", "dumps", "system", "popen", "modules", "f_globals", "f_locals", "f_back", "gi_frame",
    "cr_frame", "tb_frame",
})
ALLOWED_DUNDERS = frozenset({"__name__", "__doc__", "__future__"})


class SubmissionError(ValueError):
    """A file the grader cannot grade: the message names the file and what is wrong, in one line."""


@dataclass
class Piece:
    """A top-level statement of the answer cells that may run: an import, a literal constant or a def."""

    kind: str  # "import", "const" or "def"
    source: str
    where: str  # "cell 7, line 3"
    defines: tuple[str, ...]  # the names it binds
    uses: frozenset[str] = frozenset()  # for a def: every name it reads
    problems: list[str] = field(default_factory=list)  # for a def: why it is flagged
    chains: frozenset[str] = frozenset()  # for a def: every maximal dotted name it reads ("crossattn.softmax")
    package: dict[str, str] = field(default_factory=dict)  # for an import: local name -> crossattn.qualified.name


@dataclass
class Submission:
    """A notebook read for grading: its lab, the pieces of its answer cells, and what went wrong in them."""

    path: Path
    lab: int
    pieces: list[Piece]
    syntax_errors: dict[str, str]  # function name (or "") -> the error of the cell that should define it
    dropped: list[str]  # where a top-level statement was dropped
    answer_cells: int
    # name -> where a dropped top-level statement binds it (``scores = attention_scores``, a lambda)
    dropped_bindings: dict[str, list[str]] = field(default_factory=dict)


_NUMBER = re.compile(r"(?:^|/)(?:lab)?(\d+)(?:_[^/]*)?\.ipynb$")
_LAB_DIR = re.compile(r"^lab(\d+)$")
_HEADING = re.compile(r"^#+\s*Exercise\s+(\d+)\.(\d+)\b", flags=re.MULTILINE)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _is_answer(cell: dict) -> bool:
    meta = cell.get("metadata", {}) or {}
    tags = meta.get("tags", []) or []
    nbg = meta.get("nbgrader", {}) or {}
    return cell.get("cell_type") == "code" and ("solution" in tags or bool(nbg.get("solution")))


def lab_of(path: Path, nb: dict) -> int:
    """The lab a notebook is: its metadata ``crossattn.lab``, its file name (``02_…``), its folder (``lab02``),
    or its exercise headings; SubmissionError when they disagree or none says."""
    votes: dict[str, int] = {}
    meta = (nb.get("metadata") or {}).get("crossattn") or {}
    if isinstance(meta, dict) and isinstance(meta.get("lab"), int):
        votes["metadata"] = meta["lab"]
    match = _NUMBER.search(path.name)
    if match:
        votes["file name"] = int(match.group(1))
    folder = _LAB_DIR.match(path.parent.name)
    if folder:
        votes["folder"] = int(folder.group(1))
    headings = {int(a) for cell in nb.get("cells", []) if cell.get("cell_type") == "markdown"
                for a, _ in _HEADING.findall(_source(cell))}
    if len(headings) == 1:
        votes["exercise headings"] = headings.pop()
    elif len(headings) > 1:
        raise SubmissionError(f"{path}: its exercise headings name several labs ({sorted(headings)})")
    if not votes:
        raise SubmissionError(f"{path}: not a lab of the course (no lab number in its file name, folder, "
                              "metadata or '## Exercise N.k' headings)")
    if len(set(votes.values())) > 1:
        said = ", ".join(f"{k} {'say' if k.endswith('s') else 'says'} lab {v}" for k, v in votes.items())
        raise SubmissionError(f"{path}: which lab is it? {said}")
    return next(iter(votes.values()))


def _names(node: ast.AST) -> tuple[set[str], set[str]]:
    """Every Name read and every attribute name used under ``node``."""
    names, attributes = set(), set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            attributes.add(sub.attr)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            for alias in sub.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(sub, ast.arg):
            names.add(sub.arg)
    return names, attributes


def _chains(node: ast.AST) -> frozenset[str]:
    """Every maximal dotted name under ``node`` rooted at a Name: ``crossattn.softmax`` for
    ``crossattn.softmax(x)``, ``np`` for a bare ``np``."""
    inner = {id(sub.value) for sub in ast.walk(node) if isinstance(sub, ast.Attribute)}
    found = set()
    for sub in ast.walk(node):
        if not isinstance(sub, (ast.Attribute, ast.Name)) or id(sub) in inner:
            continue
        parts, cur = [], sub
        while isinstance(cur, ast.Attribute):
            parts.append(cur.attr)
            cur = cur.value
        if isinstance(cur, ast.Name):
            found.add(".".join([cur.id, *reversed(parts)]))
    return frozenset(found)


def _outside_stores(node: ast.AST) -> list[str]:
    """Attribute assignments (``torch.equal = …``, ``np.linalg.norm = …``) to a name the function does not bind
    itself: they would change a module or the notebook for the code that runs after the answer."""
    bound = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
    bound |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    problems = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            root, chain = sub, []
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                chain.append(root.attr if isinstance(root, ast.Attribute) else "[…]")
                root = root.value
            if isinstance(root, ast.Name) and root.id not in bound:
                name = ".".join([root.id, *reversed(chain)]).replace(".[…]", "[…]")
                problems.append(f"assigns to `{name}`, which belongs to a module or the notebook, not to its arguments")
    return list(dict.fromkeys(problems))


def _module_ok(module: str) -> bool:
    return module.split(".")[0] in SAFE_MODULES


def _import_problems(node: ast.AST) -> list[str]:
    problems = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            bad = [a.name for a in sub.names if not (_module_ok(a.name) or (a.name == "sys" and not a.asname))]
        elif isinstance(sub, ast.ImportFrom):
            bad = [] if (sub.level == 0 and _module_ok(sub.module or "")) else [("." * sub.level) + (sub.module or "")]
            if not bad:
                bad = [f"{sub.module}.{a.name}" for a in sub.names if a.name in FORBIDDEN_ATTRIBUTES or a.name == "*"]
        else:
            continue
        for name in bad:
            problems.append(f"imports {name}")
    return problems


def _sys_misused(node: ast.AST) -> bool:
    """Whether ``sys`` appears other than as ``sys.stdout`` / ``sys.stderr``."""
    streams = {id(sub.value) for sub in ast.walk(node) if isinstance(sub, ast.Attribute)
               and isinstance(sub.value, ast.Name) and sub.value.id == "sys" and sub.attr in SYS_STREAMS}
    return any(isinstance(sub, ast.Name) and sub.id == "sys" and id(sub) not in streams for sub in ast.walk(node))


def _def_problems(node: ast.AST) -> list[str]:
    names, attributes = _names(node)
    if not _sys_misused(node):
        names.discard("sys")
    problems = []
    for name in sorted(names):
        if name.startswith("check_"):
            problems.append(f"uses `{name}`: the lab's self-checks are not part of an answer")
        elif name in FORBIDDEN_NAMES and name != "crossattn":  # the package: judged per exercise by its `allowed`
            problems.append(f"uses `{name}` ({FORBIDDEN_NAMES[name]})")
        elif name.startswith("__") and name not in ALLOWED_DUNDERS:
            problems.append(f"uses `{name}` (the interpreter's internals)")
    for attr in sorted(attributes):
        if attr.startswith("__") and attr not in ALLOWED_DUNDERS:
            problems.append(f"uses `.{attr}` (the interpreter's internals)")
        elif attr in FORBIDDEN_ATTRIBUTES:
            problems.append(f"uses `.{attr}` (files or the interpreter)")
        elif attr.startswith("check_"):
            problems.append(f"uses `.{attr}`: the lab's self-checks are not part of an answer")
    problems += _outside_stores(node)
    for sub in ast.walk(node):  # nested imports of a function
        if isinstance(sub, (ast.Import, ast.ImportFrom)) and sub is not node:
            problems += [f"{p} inside the function" for p in _import_problems(sub)]
        if isinstance(sub, ast.Global) or isinstance(sub, ast.Nonlocal):
            problems.append("declares `global` names")
    return problems


def _package_names(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """Local name -> qualified package name, for an import from crossattn (empty for other imports)."""
    bound = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == "crossattn":
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "crossattn"
    elif node.level == 0 and (node.module or "").split(".")[0] == "crossattn":
        for alias in node.names:
            bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _cell_pieces(source: str, cell_index: int, pieces: list[Piece], dropped: list[str],
                 bindings: dict[str, list[str]] | None = None) -> None:
    tree = ast.parse(source)
    lines = source.splitlines()
    shadow: list[str] = []
    start = len(pieces)
    for node in tree.body:
        where = f"cell {cell_index}, line {node.lineno}"
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "\n".join(lines[first - 1:node.end_lineno])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            package = _package_names(node)
            defines = tuple((a.asname or a.name).split(".")[0] for a in node.names)
            piece = Piece("import", text, where, defines, package=package)
            if not package:
                piece.problems = _import_problems(node)
            pieces.append(piece)
        elif isinstance(node, ast.FunctionDef):
            names, attributes = _names(node)
            if node.name.startswith("check_"):
                shadow.append(node.name)
            pieces.append(Piece("def", text, where, (node.name,), frozenset(names | {f".{a}" for a in attributes}),
                                problems=_def_problems(node), chains=_chains(node)))
        elif (isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)
              and _literal(node.value)):
            pieces.append(Piece("const", text, where, tuple(t.id for t in node.targets)))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a bare string
        else:
            dropped.append(f"{where} ({type(node).__name__})")
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                for sub in ast.walk(target) if target is not None else ():
                    if isinstance(sub, ast.Name) and bindings is not None:
                        bindings.setdefault(sub.id, []).append(where)
            if any(isinstance(t, ast.Name) and t.id.startswith("check_") for sub in ast.walk(node)
                   for t in getattr(sub, "targets", [])):
                shadow.append("an assignment to check_*")
    if shadow:  # redefining the lab's self-checks flags every function of the cell
        for piece in pieces[start:]:
            if piece.kind == "def":
                piece.problems.append(f"shares its cell with a redefinition of the self-check ({', '.join(shadow)})")


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def read_submission(path: Path) -> Submission:
    """Read the notebook at ``path`` (never writing to it); SubmissionError for a file that is not a lab."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such file")
    if path.is_dir():
        raise SubmissionError(f"{path}: is a folder, not a notebook")
    if path.suffix != ".ipynb":
        raise SubmissionError(f"{path}: not a notebook (expected a .ipynb file)")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise SubmissionError(f"{path}: cannot be read ({err})") from None
    except json.JSONDecodeError as err:
        raise SubmissionError(f"{path}: not a notebook — invalid JSON at line {err.lineno}, column {err.colno}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError(f"{path}: not a notebook (no list of cells)")
    if nb.get("nbformat") != 4:
        raise SubmissionError(f"{path}: notebook format {nb.get('nbformat')!r}; the grader reads format 4")
    lab = lab_of(path, nb)
    pieces: list[Piece] = []
    syntax_errors: dict[str, str] = {}
    dropped: list[str] = []
    bindings: dict[str, list[str]] = {}
    answers = 0
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or not _is_answer(cell):
            continue
        answers += 1
        source = _source(cell)
        try:
            _cell_pieces(source, index, pieces, dropped, bindings)
        except SyntaxError as err:
            message = f"cell {index} does not parse (line {err.lineno}: {err.msg})"
            names = re.findall(r"^def\s+(\w+)", source, flags=re.MULTILINE) or [""]
            for name in names:
                syntax_errors[name] = message
    return Submission(path, lab, pieces, syntax_errors, dropped, answers, bindings)
