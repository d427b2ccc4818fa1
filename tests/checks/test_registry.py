"""The registry of exercises (crossattn/checks/registry.py): lookups, what it refuses, what loading it costs.

The table tests (tests/checks/test_all_labs.py) prove that every key is raised and exists; here the
registry itself: its lookups, the errors it gives a course author, its templates, the package names
an answer may use, and that reading it loads no torch.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from crossattn.checks import CheckFailed, registry
from crossattn.checks._core import diagnose, expect_shape, fail
from crossattn.checks.registry import GENERIC, Exercise, RegistryError, template_fields
from tests.helpers import ROOT


def test_lookups_by_id_checker_and_lab():
    everything = registry.exercises()
    assert [ex.id for ex in everything] == sorted((ex.id for ex in everything),
                                                 key=lambda i: tuple(map(int, i.split("."))))
    ex = registry.exercise("2.3")
    assert (ex.lab, ex.number, ex.function, ex.checker) == (2, 3, "padding_mask", "check_padding_mask")
    assert registry.by_checker("check_padding_mask") is ex
    assert ex in registry.lab(2) and [e.number for e in registry.lab(2)] == list(range(1, len(registry.lab(2)) + 1))
    assert ex.label == "Exercise 2.3 (padding_mask)"
    assert registry.labs() == tuple(sorted({e.lab for e in everything}))


@pytest.mark.parametrize("lookup, message", [
    (lambda: registry.exercise("9.9"), "no exercise '9.9'; the registry has 1.1, "),
    (lambda: registry.by_checker("check_nothing"), "no exercise is checked by 'check_nothing'"),
    (lambda: registry.lab(99), "no exercises for lab 99"),
    (lambda: registry.exercise("2.3").template("typo"), "exercise 2.3 has no hint 'typo'; it has n_by_m, "),
    (lambda: registry.exercise("2.3").hint("reads_padding", b=0), "exercise 2.3, hint 'reads_padding': fill the "
                                                                  "fields j, length, i"),
])
def test_a_wrong_lookup_says_what_exists(lookup, message):
    with pytest.raises(RegistryError) as info:
        lookup()
    assert str(info.value).startswith(message), str(info.value)


GOOD = dict(id="9.1", function="f", checker="check_f", title="f", hints={"a": "the {x}"})


@pytest.mark.parametrize("change, message", [
    (dict(id="9"), "an id is 'lab.number'"),
    (dict(checker="f"), "start with 'check_'"),
    (dict(points=0), "points must be a positive number, got 0"),
    (dict(points=float("nan")), "points must be a positive number"),
    (dict(hints={"A": "x"}), "key 'A' must be lower_case_with_underscores"),
    (dict(hints={"a": "x"}, fallbacks={"a": "y"}), "key 'a' is used twice"),
    (dict(hints={"stub": "x"}), "key 'stub' is used twice (or is a GENERIC key)"),
    (dict(hints={"a": ""}), "hints['a'] must be a non-empty text"),
    (dict(hints={"a": "the {0}"}), "field {0} must be a plain name"),
    (dict(hints={"a": "the {x.shape}"}), "field {x.shape} must be a plain name"),
    (dict(hints={"a": "a { brace"}), "write a literal brace as {{ or }}"),
    (dict(allowed=("softmax",)), "write package names in full"),
    (dict(allowed=("crossattn.softmax",), solved_by=("crossattn.softmax",)), "already solve the exercise"),
])
def test_a_malformed_exercise_is_refused_with_the_reason(change, message):
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]").replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")):
        Exercise(**{**GOOD, **change})


def test_templates_name_their_fields_and_render_with_them():
    assert template_fields("got {got!r}, expected {expected:.3f} ({got})") == ("got", "expected")
    ex = Exercise(**GOOD)
    assert ex.hint("a", x=3, unused=4) == "the 3"  # fields a template does not name are ignored
    assert all(template_fields(t) is not None for e in registry.exercises()
               for t in (*e.hints.values(), *e.fallbacks.values(), *e.plumbing.values()))
    assert all(template_fields(t) is not None for t in GENERIC.values())


def test_fail_raises_the_hint_with_its_key_and_exercise():
    ex = registry.exercise("2.3")
    with pytest.raises(CheckFailed) as info:
        fail(ex, "not_bool", dtype="int64")
    err = info.value
    assert (err.exercise, err.key) == ("2.3", "not_bool")
    assert str(err) == "Exercise 2.3 (padding_mask): the mask must be boolean (True = may attend), got dtype int64."
    assert err.text == str(err)[len("Exercise 2.3 (padding_mask): "):]
    assert err.__suppress_context__


def test_a_key_the_registry_lacks_is_a_course_bug_not_a_hint():
    ex = registry.exercise("2.1")
    with pytest.raises(RegistryError):
        fail(ex, "typo")
    # diagnose and expect_shape look their keys up before comparing anything: a typo fails at once
    with pytest.raises(RegistryError):
        diagnose(0.0, [(1.0, "typo")], ex, "wrong")
    with pytest.raises(RegistryError):
        expect_shape((2, 3), (2, 3), ex, {(3, 2): "typo"})


def test_each_registry_module_declares_its_lab_in_order():
    for info in sorted(p.stem for p in (ROOT / "crossattn" / "checks" / "exercises").glob("lab*.py")):
        module = importlib.import_module(f"crossattn.checks.exercises.{info}")
        assert [ex.id for ex in module.EXERCISES] == [f"{int(info[3:])}.{k}" for k in range(1, len(module.EXERCISES) + 1)]
        assert f"lab {int(info[3:])}" in module.__doc__.lower()


def _resolve(name: str) -> object:
    """The object a full package name ("crossattn.nn.cache.KVCache.append") stands for."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return obj
    raise AssertionError(f"{name}: no such module")


@pytest.mark.parametrize("ex", registry.exercises(), ids=lambda ex: ex.id)
def test_the_names_an_answer_may_use_or_not_exist(ex):
    for name in (*ex.allowed, *ex.solved_by):
        assert _resolve(name) is not None, name


def test_the_lab_solutions_use_only_allowed_package_names():
    """A solution cell that imports from crossattn imports only names its exercise allows."""
    import re

    from crossattn.tooling.labs import SOLUTION_TAG, read_notebook, tags
    from tests.helpers import LABS

    for path in LABS:
        for cell in read_notebook(path).cells:
            if SOLUTION_TAG not in tags(cell):
                continue
            functions = re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
            allowed = {name for ex in registry.exercises() if ex.function in functions for name in ex.allowed}
            for module, names in re.findall(r"^from (crossattn[\w.]*) import (.+)$", cell.source, flags=re.M):
                for name in (n.split(" as ")[0].strip() for n in names.split(",")):
                    assert f"{module}.{name}" in allowed, f"{path.name}: {module}.{name} is not allowed"
            for _ in re.findall(r"^import crossattn$", cell.source, flags=re.M):
                used = set(re.findall(r"\bcrossattn\.(\w+)", cell.source))
                assert {f"crossattn.{n}" for n in used} <= allowed, f"{path.name}: crossattn.{used} not allowed"


def test_reading_the_registry_loads_no_torch_and_no_checker():
    probe = ("import json, sys\nfrom crossattn.checks import registry\nregistry.exercises()\n"
             "print(json.dumps([m for m in sys.modules if m == 'torch' or m.startswith('crossattn.checks.lab')]))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
