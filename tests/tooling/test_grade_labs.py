"""The graders of labs 3, 4, 6, 7, 8, 9, 10 and 11: references score full marks, stubs zero, named mistakes lose points.

- End to end (a child process per submission): each lab's own reference notebook scores full marks
  over grading seeds 1–3, and its student version (every answer a stub) scores 0.
- In this process: every named mistake of the lab's checker table (``MISTAKES`` of
  tests/checks/test_labNN.py, written the way a student would write them) is run through the very
  drivers the child uses, its values sent through the same encoding, and judged by the lab's
  grader: each must fail its exercise on every seed. (A mistake that calls the package would be
  flagged before it ran in a real submission; here it is judged on what it returns, so the "package"
  mistakes, whose values are right, are left out.)
"""
from __future__ import annotations

import importlib
import json
import warnings

import numpy as np
import pytest

from crossattn.checks import registry
from crossattn.tooling.grade import child, grade_submission
from crossattn.tooling.grade.exercises import GRADERS
from crossattn.tooling.grade.sandbox import CaseResult, _decode
from crossattn.tooling.student import student_version
from tests.checks.conventions import entries
from tests.helpers import ROOT

LABS = {3: "03_spotlight.ipynb", 4: "04_encoder_decoder.ipynb", 6: "06_positions.ipynb", 7: "07_weight_tying.ipynb", 8: "08_beyond_translation.ipynb",
        9: "09_pictures_from_words.ipynb", 10: "10_cross_or_concat.ipynb", 11: "11_listening.ipynb"}
SEEDS = (1, 2, 3)


def judge_in_process(fn, ex: registry.Exercise, seed: int) -> tuple[str, str]:
    """(status, reason) of ``fn`` as the answer to ``ex``, graded as the child would run it, but in this process."""
    cases = GRADERS[ex.lab][ex.function](np.random.default_rng([seed, ex.lab, ex.number]))
    for case in cases:
        job = case.job()
        state = {"allowed": set(ex.allowed), "tripped": []}
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                value, extra = child.DRIVERS[job["driver"]](fn, job["args"], state)
            arrays: dict = {}
            desc = child.encode(value, arrays)
            extra_desc = {k: child.encode(v, arrays) for k, v in extra.items()}
            result = CaseResult("ok", _decode(desc, arrays), {k: _decode(v, arrays) for k, v in extra_desc.items()})
        except Exception as err:  # noqa: BLE001 - an answer that raises, as the child reports it
            result = CaseResult("raised", error=child._describe_error(err))
        reason = case.judge(result)
        if reason:
            return "failed", reason
    return "passed", ""


def _mistakes(lab: int):
    table = importlib.import_module(f"tests.checks.test_lab{lab:02d}").MISTAKES
    return [pytest.param(e, k, fn, id=f"{e}-{k}-{fn.__name__}") for e, k, fn in entries(table)
            if k not in ("not_function", "package")]  # a package call: flagged before it runs, right values


@pytest.mark.parametrize("lab", sorted(LABS))
def test_reference_full_marks_over_seeds_and_stubs_zero(lab, tmp_path):
    ref = tmp_path / "ref" / LABS[lab]
    ref.parent.mkdir()
    ref.write_text((ROOT / "notebooks" / LABS[lab]).read_text())
    points = {ex.id: f"{ex.points:g}" for ex in registry.lab(lab)}
    for seed in SEEDS:
        rows = grade_submission(ref, seed)
        assert {r["exercise"]: (r["status"], r["points"]) for r in rows} == \
            {e: ("passed", p) for e, p in points.items()}, (seed, rows)
    import nbformat

    stub = tmp_path / "stub" / LABS[lab]
    stub.parent.mkdir()
    stub.write_text(json.dumps(student_version(nbformat.read(str(ref), as_version=4), LABS[lab])))
    rows = grade_submission(stub, SEEDS[0])
    assert {r["exercise"]: (r["status"], r["points"]) for r in rows} == {e: ("failed", "0") for e in points}, rows
    assert all("NotImplementedError" in r["reason"] for r in rows), rows


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("exercise_id, key, fn", [p for lab in sorted(LABS) for p in _mistakes(lab)])
def test_each_named_mistake_loses_its_points(exercise_id, key, fn):
    ex = registry.exercise(exercise_id)
    for seed in SEEDS:
        status, reason = judge_in_process(fn, ex, seed)
        assert status == "failed", f"{fn.__name__} ({key}) passed with seed {seed}"
        assert reason.split("(")[0].strip(), reason


def test_every_exercise_of_every_lab_has_a_grader():
    for lab in registry.labs():
        assert set(GRADERS[lab]) == {ex.function for ex in registry.lab(lab)}, lab


def _submission(tmp_path, lab: int, answers: dict[str, str]):
    """Lab ``lab``'s reference notebook with the answer cell defining each key replaced by its value."""
    nb = json.loads((ROOT / "notebooks" / LABS[lab]).read_text())
    for function, source in answers.items():
        cells = [c for c in nb["cells"] if "solution" in c["metadata"].get("tags", [])
                 and f"def {function}(" in "".join(c["source"])]
        assert len(cells) == 1, function
        cells[0]["source"] = source
    path = tmp_path / LABS[lab]
    path.write_text(json.dumps(nb))
    return path


def test_package_answers_are_flagged_and_an_allowed_attribute_is_not(tmp_path):
    """Lab 3: the package's own softmax-with-temperature is flagged, the lab's own `crossattn.softmax` in 3.4 is
    allowed (the control), and `crossattn.nadaraya_watson` reached as an attribute of the package is flagged."""
    path = _submission(tmp_path, 3, {
        "softmax_temperature": "import crossattn\n\n\ndef softmax_temperature(scores, T):\n"
                               "    return crossattn.softmax_with_temperature(scores, T)\n",
        "nadaraya_watson": "import crossattn\n\n\ndef nadaraya_watson(x_query, x_train, y_train, bandwidth):\n"
                           "    return crossattn.nadaraya_watson(x_query, x_train, y_train, bandwidth)[0]\n",
    })
    rows = {r["exercise"]: r for r in grade_submission(path, SEEDS[0])}
    assert rows["3.2"]["status"] == "flagged" and "crossattn.softmax_with_temperature" in rows["3.2"]["reason"]
    assert rows["3.4"]["status"] == "flagged" and "crossattn.nadaraya_watson" in rows["3.4"]["reason"]
    assert rows["3.1"]["status"] == rows["3.3"]["status"] == "passed"


def test_running_the_package_layer_trips_and_a_debug_print_costs_nothing(tmp_path):
    """Lab 4: calling the module itself (MultiheadAttention.forward) is stopped while running; an honest answer
    that prints to stderr and warns scores (the control)."""
    path = _submission(tmp_path, 4, {
        "cross_attention": "def cross_attention(attn, x, memory, mask):\n"
                           "    return attn(x, memory, mask=mask), attn.last_weights\n",
        "honest_loss": "import math\nimport sys\nimport warnings\n\n\ndef honest_loss(n_symbols, length):\n"
                       "    print('debug', n_symbols, file=sys.stderr)\n    warnings.warn('a warning')\n"
                       "    return length * math.log(n_symbols) / (length + 1)\n",
    })
    rows = {r["exercise"]: r for r in grade_submission(path, SEEDS[0])}
    assert rows["4.3"]["status"] == "flagged" and "MultiheadAttention.forward" in rows["4.3"]["reason"], rows
    assert rows["4.4"]["status"] == "passed", rows


def test_patching_a_module_from_an_answer_is_flagged(tmp_path):
    """Lab 7: share_kv that patches torch.equal (which could fake what the child reports) is flagged, never run;
    the lab's own share_kv, which assigns to attributes of its arguments, passes (the control)."""
    path = _submission(tmp_path, 7, {
        "share_kv": "import torch\n\n\ndef share_kv(enc_self, dec_self, cross):\n"
                    "    torch.equal = lambda a, b: True\n    for attn in (dec_self, cross):\n"
                    "        attn.w_k = enc_self.w_k\n        attn.w_v = enc_self.w_v\n",
    })
    rows = {r["exercise"]: r for r in grade_submission(path, SEEDS[0])}
    assert rows["7.3"]["status"] == "flagged" and "`torch.equal`" in rows["7.3"]["reason"], rows
    assert rows["7.1"]["status"] == "passed", rows
