"""The labs' exercises as data: what each asks for, its points, and the hints its checker gives.

One :class:`Exercise` per exercise, declared in ``crossattn/checks/exercises/labNN.py`` (a tuple
``EXERCISES``; this module finds every such file, so a new lab adds a file and edits none). The
checkers (``crossattn/checks/labNN.py``) raise hints by key through :func:`crossattn.checks._core.fail`;
the instructor guide lists them, the nbgrader export reads the points, and a grader can read what
each exercise may call. Loading the registry imports no torch: the data modules import only this one.

A hint is a template with named fields, filled when it is raised::

    Exercise(id="2.1", function="scores", checker="check_scores", title="the score matrix",
             hints={"unscaled": "you forgot to divide by √d (d = the width of a query).",
                    "by_sqrt_m": "you divided by √m = √{m}, the number of queries; ..."},
             fallbacks={"wrong": "scores = Q @ K.T / sqrt(d)."})

- ``hints``: the named mistakes, one key each; the guide lists them as the exercise's pitfalls;
- ``fallbacks``: what the checker says when an answer matches no named mistake;
- ``plumbing``: the exercise's own words for a wrong return type or value (a pair instead of one
  array, a float instead of an int); :data:`GENERIC` holds the plumbing every checker shares.

Keys are unique within an exercise across the three, and never shadow a :data:`GENERIC` key.
"""
from __future__ import annotations

import importlib
import math
import pkgutil
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

__all__ = [
    "Exercise", "RegistryError", "GENERIC", "exercises", "exercise", "by_checker", "lab", "labs",
    "template_fields",
]


class RegistryError(ValueError):
    """The registry, or a checker's use of it, is wrong: a bug in the course, not in a student's answer."""


#: The plumbing hints every checker shares (:mod:`crossattn.checks._core` raises them).
GENERIC: Mapping[str, str] = MappingProxyType({
    "not_function": "pass your function itself (without calling it), got {type}",
    "stub": "`{name}` still raises NotImplementedError — replace the `raise` line with your code.",
    "crash": "calling `{name}` {inputs} raised {error}",
    "package_call": "your function calls {name}, the package's own answer to this exercise, so the grader would "
                    "give it no points. Write it yourself; the exercise's text says what to use.",
    "in_place": "`{name}` changed its argument {position} in place; leave inputs as they are (work on a copy, "
                "e.g. x = x / T instead of x /= T).",
    "none": "{what} is None — did you forget the `return` statement?",
    "returned_none": "your function returned None — did you forget the `return` statement?",
    "tuple": "{what} is a tuple of {n} items; return a single array here.",
    "not_array": "{what} should be a NumPy array of numbers, got {type}",
    "shape": "expected shape {expected}, got {got}{case}.",
})

_KEY = re.compile(r"[a-z][a-z0-9_]*")
_ID = re.compile(r"(\d+)\.(\d+)")
_QUALIFIED = re.compile(r"crossattn(\.\w+)+")


def template_fields(template: str, where: str = "template") -> tuple[str, ...]:
    """The named fields of a hint template, in order; RegistryError for ``{}``, ``{0}`` or ``{x.y}``."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise RegistryError(f"{where}: not a valid template ({err}); write a literal brace as {{{{ or }}}}") from None
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise RegistryError(f"{where}: field {{{name}}} must be a plain name, like {{shape}}")
        if name not in names:
            names.append(name)
    return tuple(names)


def _render(template: str, fields: Mapping[str, object], where: str) -> str:
    names = template_fields(template, where)
    missing = [n for n in names if n not in fields]
    if missing:
        raise RegistryError(f"{where}: fill the field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return template.format(**{n: fields[n] for n in names})


@dataclass(frozen=True)
class Exercise:
    """One checked exercise of a lab, its points, and the hints of its checker."""

    id: str  # "2.3": lab 2, exercise 3 — the lab's heading "## Exercise 2.3: ..."
    function: str  # "padding_mask": the function the student writes
    checker: str  # "check_padding_mask": in crossattn/checks/lab02.py
    title: str  # "the padding mask": as the lab's heading says
    hints: Mapping[str, str] = field(default_factory=dict)  # key -> template: the named mistakes
    fallbacks: Mapping[str, str] = field(default_factory=dict)  # key -> template: no named mistake fits
    plumbing: Mapping[str, str] = field(default_factory=dict)  # key -> template: wrong return type or value
    points: float = 1.0  # what the check cell is worth when graded
    # Package names ("crossattn.softmax", "crossattn.nn.cache.KVCache.append") the answer may use ...
    allowed: tuple[str, ...] = ()
    # ... and those that already do what the exercise asks: never allowed in an answer.
    solved_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"exercise {self.id!r}"
        if not _ID.fullmatch(self.id):
            raise RegistryError(f"{where}: an id is 'lab.number', e.g. '2.3'")
        if not self.function.isidentifier() or not self.checker.startswith("check_"):
            raise RegistryError(f"{where}: function {self.function!r} must be a name and checker "
                                f"{self.checker!r} start with 'check_'")
        if not (isinstance(self.points, (int, float)) and math.isfinite(self.points) and self.points > 0):
            raise RegistryError(f"{where}: points must be a positive number, got {self.points!r}")
        seen: set[str] = set()
        for kind in ("hints", "fallbacks", "plumbing"):
            table = getattr(self, kind)
            for key, template in table.items():
                if not _KEY.fullmatch(key):
                    raise RegistryError(f"{where}: {kind} key {key!r} must be lower_case_with_underscores")
                if key in seen or key in GENERIC:
                    raise RegistryError(f"{where}: key {key!r} is used twice (or is a GENERIC key)")
                if not isinstance(template, str) or not template.strip():
                    raise RegistryError(f"{where}: {kind}[{key!r}] must be a non-empty text")
                template_fields(template, f"{where}, {kind}[{key!r}]")
                seen.add(key)
            object.__setattr__(self, kind, MappingProxyType(dict(table)))
        for kind in ("allowed", "solved_by"):
            names = tuple(getattr(self, kind))
            bad = [n for n in names if not _QUALIFIED.fullmatch(n)]
            if bad:
                raise RegistryError(f"{where}: {kind} holds {bad}; write package names in full, "
                                    "e.g. 'crossattn.softmax'")
            object.__setattr__(self, kind, names)
        both = set(self.allowed) & set(self.solved_by)
        if both:
            raise RegistryError(f"{where}: {sorted(both)} already solve the exercise and cannot be allowed")

    def __hash__(self) -> int:  # the mappings are not hashable; an exercise is known by its id and checker
        return hash((self.id, self.checker))

    @property
    def lab(self) -> int:
        """The lab's number: 2 for exercise "2.3"."""
        return int(self.id.split(".")[0])

    @property
    def number(self) -> int:
        """The exercise's number within its lab: 3 for "2.3"."""
        return int(self.id.split(".")[1])

    @property
    def label(self) -> str:
        """How a checker names the exercise: ``Exercise 2.3 (padding_mask)``."""
        return f"Exercise {self.id} ({self.function})"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key of the exercise's own hints, fallbacks and plumbing."""
        return (*self.hints, *self.fallbacks, *self.plumbing)

    def template(self, key: str) -> str:
        """The template of ``key``: the exercise's own, else the generic one; RegistryError if unknown."""
        for table in (self.hints, self.fallbacks, self.plumbing, GENERIC):
            if key in table:
                return table[key]
        raise RegistryError(f"exercise {self.id} has no hint {key!r}; it has {', '.join(self.keys)} "
                            f"and the generic {', '.join(GENERIC)}")

    def hint(self, key: str, /, **fields: object) -> str:
        """The text of hint ``key`` with its fields filled (fields it does not name are ignored)."""
        return _render(self.template(key), fields, f"exercise {self.id}, hint {key!r}")


def _lab_of_module(name: str) -> int:
    match = re.fullmatch(r"lab(\d+)", name)
    if not match:
        raise RegistryError(f"crossattn/checks/exercises/{name}.py: name it labNN.py, NN the lab's number")
    return int(match.group(1))


@cache
def _load() -> tuple[Exercise, ...]:
    from . import exercises as package

    found: list[Exercise] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        number = _lab_of_module(info.name)
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        declared = getattr(module, "EXERCISES", None)
        where = f"crossattn/checks/exercises/{info.name}.py"
        if not isinstance(declared, tuple) or not declared or not all(isinstance(e, Exercise) for e in declared):
            raise RegistryError(f"{where}: define EXERCISES, a non-empty tuple of Exercise")
        for position, ex in enumerate(declared, start=1):
            if ex.lab != number or ex.number != position:
                raise RegistryError(f"{where}: exercise {ex.id} is listed as exercise {number}.{position}; "
                                    "list a lab's exercises in order, numbered from 1")
        found += declared
    _unique(found, "checker")
    _unique(found, "id")
    return tuple(sorted(found, key=lambda e: (e.lab, e.number)))


def _unique(found: Iterable[Exercise], attribute: str) -> None:
    seen: dict[str, str] = {}
    for ex in found:
        value = getattr(ex, attribute)
        if value in seen:
            raise RegistryError(f"exercises {seen[value]} and {ex.id} have the same {attribute} {value!r}")
        seen[value] = ex.id


def exercises() -> tuple[Exercise, ...]:
    """Every exercise of every lab, in lab order."""
    return _load()


def exercise(exercise_id: str) -> Exercise:
    """The exercise with id ``exercise_id`` ("2.3"); RegistryError if there is none."""
    for ex in _load():
        if ex.id == exercise_id:
            return ex
    raise RegistryError(f"no exercise {exercise_id!r}; the registry has {', '.join(e.id for e in _load())}")


def by_checker(checker: str) -> Exercise:
    """The exercise whose checker is named ``checker`` ("check_padding_mask"); RegistryError if none."""
    for ex in _load():
        if ex.checker == checker:
            return ex
    raise RegistryError(f"no exercise is checked by {checker!r}")


def lab(number: int) -> tuple[Exercise, ...]:
    """The exercises of lab ``number``, in order; RegistryError for a lab with none."""
    found = tuple(ex for ex in _load() if ex.lab == number)
    if not found:
        raise RegistryError(f"no exercises for lab {number!r}; labs {', '.join(map(str, labs()))} have some")
    return found


def labs() -> tuple[int, ...]:
    """The numbers of the labs that have exercises, in order."""
    return tuple(sorted({ex.lab for ex in _load()}))
