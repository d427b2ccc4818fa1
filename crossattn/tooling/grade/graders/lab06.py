"""Lab 6, positions (NumPy answers): the permutation test, the sinusoidal table, the relative bias, the multiset bound.

The permutation test gets attention functions built in the child (:func:`crossattn.tooling.grade.child.order_attend`,
the same code computes the expected gap here): one blind to the order of the source rows, which must
give 0, and one that sees it, with and without its output negated. The other answers are compared
with the package's own (``sinusoidal_positions``, ``RelativePositionBias``, ``multiset_accuracy``).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..child import order_attend
from ..exercises import Case, _first, _ok, _randn, _sizes, _untouched, case, close
from .lab04 import _number

__all__ = ["GRADERS", "NEEDS"]


def _gap(attend, Q, K, V) -> float:
    base = attend(Q, K, V)
    return max(float(np.abs(attend(Q, K[list(p)], V[list(p)]) - base).max())
               for p in itertools.permutations(range(len(K))))


def lab6_permutation_gap(rng):
    m, n, d, d_v = _sizes(rng, 4, 2, 6)
    n = min(n, 5)
    if n in (m, d, d_v):
        n = next(k for k in (3, 4, 5) if k not in (m, d, d_v))
    Q, K, V = _randn(rng, m, d), _randn(rng, n, d), _randn(rng, n, d_v)
    table = _randn(rng, n, d)
    cases = []
    for kind in ("blind", "aware", "flipped"):
        expected = _gap(order_attend(kind, table), Q, K, V)
        label = f"permutation_gap({kind} attention, Q {Q.shape}, K {K.shape}, V {V.shape})"

        def judge(r, e=expected, label=label):
            err = _ok(r, label)
            if err:
                return err
            got, err = _number(r.value, label)
            if err:
                return err
            if not math.isclose(got, e, rel_tol=1e-7, abs_tol=1e-9):
                return f"{label}: wrong value" + (" (attention that cannot see the order must give 0)" if e < 1e-9
                                                  else "")
            return None
        cases.append(Case("perm_gap", (kind, table, Q, K, V), judge))
    return cases


def lab6_sinusoidal(rng):
    from crossattn.nn.positions import sinusoidal_positions

    cases = []
    for _ in range(3):
        d_model = 2 * int(rng.integers(2, 12))
        length = int(rng.integers(3, 60))
        if length == d_model:
            length += 1
        expected = sinusoidal_positions(length, d_model).double().numpy()
        label = f"sinusoidal(length={length}, d_model={d_model})"
        cases.append(case("call", (length, d_model), label, lambda v, r, e=expected, lab=label: close(
            v, e, lab, rtol=0, atol=1e-4)))
    return cases


def lab6_relative_bias(rng):
    import torch

    from crossattn.nn.layers import RelativePositionBias

    cases = []
    for _ in range(3):
        D = int(rng.integers(1, 5))
        m, n = _sizes(rng, 2, 2, 2 * D + 4)
        table = _randn(rng, 2 * D + 1)
        bias = RelativePositionBias(1, max_distance=D).double()
        with torch.no_grad():
            bias.table.copy_(torch.from_numpy(table)[None, :])
            expected = bias(m, n)[0].numpy()  # (m, n)
        label = f"relative_bias(table ({2 * D + 1},), m={m}, n={n})"
        cases.append(case("call", (table, m, n), label, lambda v, r, e=expected, lab=label: _first(
            close(v, e, lab, rtol=0, atol=1e-12), _untouched(r, lab))))
    return cases


def lab6_multiset_accuracy(rng):
    from crossattn.experiments.order import multiset_accuracy

    cases = []
    for _ in range(2):
        pairs = []
        for k in range(int(rng.integers(4, 7))):  # copy and reverse pairs, alternating
            length = int(rng.integers(3, 8))
            src = [int(t) for t in rng.integers(3, 3 + int(rng.integers(2, 6)), size=length)]  # repeats likely
            if k % 2:
                src[-1] = src[0] + 1 + int(rng.integers(0, 3))  # a reversal that starts with another token
            pairs.append((src, src[::-1] if k % 2 else list(src)))
        label = f"multiset_accuracy({len(pairs)} copy and reverse pairs of lengths {[len(s) for s, _ in pairs]})"

        def judge(v, r, e=multiset_accuracy(pairs), label=label):
            got, err = _number(v, label)
            if err:
                return err
            return None if math.isclose(got, e, rel_tol=1e-9) else f"{label}: wrong value"
        cases.append(case("call", (pairs,), label, judge))
    token = int(rng.integers(3, 9))
    pairs = [([token] * 4, [token] * 4)]
    label = "multiset_accuracy(one pair whose tokens are all the same)"
    cases.append(case("call", (pairs,), label, lambda v, r, lab=label: _number(v, lab)[1] or (
        None if math.isclose(_number(v, lab)[0], 1.0, rel_tol=1e-9) else f"{lab}: wrong value (every guess is right)")))
    return cases


GRADERS = {"permutation_gap": lab6_permutation_gap, "sinusoidal": lab6_sinusoidal,
           "relative_bias": lab6_relative_bias, "multiset_accuracy": lab6_multiset_accuracy}
NEEDS = {"imports": (), "parts": ("core",)}
