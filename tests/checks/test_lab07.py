"""Lab 7's checkers: the table of named mistakes, and the special cases.

Each mistake is written the way a student would write it, as a whole function, in the table
``MISTAKES``; the test made by tests/checks/conventions.py feeds every entry to its checker and
expects the hint of its key. tests/checks/test_all_labs.py runs the lab's own solutions and stubs.
"""
from __future__ import annotations

import copy
import itertools
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from crossattn.checks import (
    CheckFailed,
    check_count_parameters,
    check_kv_saving,
    check_permutation_p,
    check_share_kv,
)
from tests.checks.conventions import named_mistakes_test
from tests.helpers import solution_namespace


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("07")


# --- named mistakes, one small student-like function each --------------------------------------

# Exercise 7.1: count_parameters(vocab_size, d_model, d_ff, n_encoder_layers, n_decoder_layers)
def _parts(V, d, d_ff, Le, Ld, attn=None, ff=None, norm=None, enc_norms=2, dec_norms=3, dec_attn=2,
           embeddings=1, output=True, final=2):
    attn = 4 * d * d if attn is None else attn
    ff = 2 * d * d_ff + d_ff + d if ff is None else ff
    norm = 2 * d if norm is None else norm
    return (embeddings * V * d + (V * d if output else 0) + Le * (attn + ff + enc_norms * norm)
            + Ld * (dec_attn * attn + ff + dec_norms * norm) + final * norm)


def count_with_biases(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, attn=4 * (d * d + d))  # nn.Linear's default bias=True


def count_without_cross_attention(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, dec_attn=1)


def count_without_norms(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, norm=0)


def count_without_final_norms(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, final=0)


def count_norm_gain_only(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, norm=d)


def count_two_decoder_norms(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, dec_norms=2)


def count_ff_without_biases(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, ff=2 * d * d_ff)


def count_two_embeddings(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, embeddings=2)


def count_without_output(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, output=False)


def count_depths_swapped(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Ld, Le)


def count_with_position_table(V, d, d_ff, Le, Ld):
    max_len = 64  # ModelConfig().max_len
    return _parts(V, d, d_ff, Le, Ld) + max_len * d  # the sinusoidal table


def count_with_position_table_per_side(V, d, d_ff, Le, Ld):
    max_len = 64
    return _parts(V, d, d_ff, Le, Ld) + 2 * max_len * d  # source and target


def count_as_float(V, d, d_ff, Le, Ld):
    attention = 4 * math.pow(d, 2)  # a float, though the value is whole
    return _parts(V, d, d_ff, Le, Ld, attn=attention)


def count_two_parts_missing(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld, ff=2 * d * d_ff, final=0)  # no feed-forward biases AND no final norms


def count_per_layer(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld) / (Le + Ld)  # "parameters per layer"


def count_checks_instead(V, d, d_ff, Le, Ld):
    return _parts(V, d, d_ff, Le, Ld) > 0  # a comparison, not the count


def count_breakdown(V, d, d_ff, Le, Ld):
    return np.array([2 * V * d, _parts(V, d, d_ff, Le, Ld) - 2 * V * d])  # embeddings and the rest, not summed


# Exercise 7.2: kv_saving(d_model, n_encoder_layers, n_decoder_layers)
def saving_per_decoder_layer(d, Le, Ld):
    return 4 * d * d * Ld


def saving_per_encoder_layer(d, Le, Ld):
    return 4 * d * d * Le


def saving_per_deepest_stack(d, Le, Ld):
    return 4 * d * d * max(Le, Ld)


def saving_only_full_depths(d, Le, Ld):
    return 4 * d * d * min(Le, Ld)


def saving_encoder_only_depths_counted(d, Le, Ld):
    both = min(Le, Ld)
    return 4 * d * d * both + 4 * d * d * max(0, Le - Ld) + 2 * d * d * max(0, Ld - Le)


def saving_all_three_removed(d, Le, Ld):
    both = min(Le, Ld)
    return 6 * d * d * both + 2 * d * d * max(0, Ld - Le)


def saving_keys_only(d, Le, Ld):
    both = min(Le, Ld)
    return 2 * d * d * both + d * d * max(0, Ld - Le)


def saving_linear_in_d(d, Le, Ld):
    both = min(Le, Ld)
    return 4 * d * both + 2 * d * max(0, Ld - Le)


def saving_off_by_one(d, Le, Ld):
    saved = 0
    for l in range(1, max(Le, Ld) + 1):
        n = (l < Le) + 2 * (l < Ld)  # attentions at depth l (should be <=)
        saved += 2 * d * d * max(0, n - 1)
    return saved


def saving_as_float(d, Le, Ld):
    pairs = Le + 2 * Ld - max(Le, Ld)
    return 2 * pairs * math.pow(d, 2)


def saving_per_layer(d, Le, Ld):
    return 2 * d * d * (Le + Ld)  # "each layer saves one K and one V"


def saving_per_attention(d, Le, Ld):
    pairs = Le + 2 * Ld - max(Le, Ld)
    return 2 * pairs * d * d / 3  # "spread over the three attentions"


def saving_anything(d, Le, Ld):
    return Ld > 0  # whether tying saves anything, not how much


def saving_keys_and_values_apart(d, Le, Ld):
    pairs = Le + 2 * Ld - max(Le, Ld)
    return [pairs * d * d, pairs * d * d]  # what W_K saves, what W_V saves: not added up


# Exercise 7.3: share_kv(enc_self, dec_self, cross)
def share_by_deepcopy(enc_self, dec_self, cross):
    for attn in (dec_self, cross):
        attn.w_k = copy.deepcopy(enc_self.w_k)
        attn.w_v = copy.deepcopy(enc_self.w_v)


def share_by_load_state_dict(enc_self, dec_self, cross):
    for attn in (dec_self, cross):
        attn.w_k.load_state_dict(enc_self.w_k.state_dict())
        attn.w_v.load_state_dict(enc_self.w_v.state_dict())


def share_by_data_clone(enc_self, dec_self, cross):
    for attn in (dec_self, cross):
        attn.w_k.weight.data = enc_self.w_k.weight.data.clone()
        attn.w_v.weight.data = enc_self.w_v.weight.data.clone()


def share_by_data_alias(enc_self, dec_self, cross):
    for attn in (dec_self, cross):
        attn.w_k.weight.data = enc_self.w_k.weight.data
        attn.w_v.weight.data = enc_self.w_v.weight.data


def share_by_new_parameter(enc_self, dec_self, cross):
    for attn in (dec_self, cross):
        attn.w_k.weight = nn.Parameter(enc_self.w_k.weight)
        attn.w_v.weight = nn.Parameter(enc_self.w_v.weight)


def share_the_wrong_way_round(enc_self, dec_self, cross):
    enc_self.w_k = cross.w_k = dec_self.w_k
    enc_self.w_v = cross.w_v = dec_self.w_v


def share_keys_only(enc_self, dec_self, cross):
    dec_self.w_k = cross.w_k = enc_self.w_k


def share_values_only(enc_self, dec_self, cross):
    dec_self.w_v = cross.w_v = enc_self.w_v


def share_without_cross(enc_self, dec_self, cross):
    dec_self.w_k, dec_self.w_v = enc_self.w_k, enc_self.w_v


def share_without_decoder_self(enc_self, dec_self, cross):
    cross.w_k, cross.w_v = enc_self.w_k, enc_self.w_v


def share_keys_as_values(enc_self, dec_self, cross):
    for attn in (dec_self, cross):
        attn.w_k = enc_self.w_k
        attn.w_v = enc_self.w_k


def share_queries_too(enc_self, dec_self, cross):
    for attn in (dec_self, cross):
        attn.w_q, attn.w_k, attn.w_v = enc_self.w_q, enc_self.w_k, enc_self.w_v


def share_half_of_it(enc_self, dec_self, cross):
    dec_self.w_k = enc_self.w_k
    cross.w_v = enc_self.w_v


def share_nothing_returns_new(enc_self, dec_self, cross):
    return enc_self, enc_self, enc_self  # returns instead of changing the modules


def share_keeping_the_old_ones(enc_self, dec_self, cross):
    for attn in (dec_self, cross):
        attn.old_w_k, attn.old_w_v = attn.w_k, attn.w_v  # kept "just in case": still registered
        attn.w_k, attn.w_v = enc_self.w_k, enc_self.w_v


# Exercise 7.4: seed_band(curves)
def band_over_points(curves):
    return curves.mean(axis=1), curves.min(axis=1), curves.max(axis=1)


def band_mean_std(curves):
    m, s = curves.mean(0), curves.std(0)
    return m, m - s, m + s


def band_mean_sample_std(curves):
    m, s = curves.mean(0), curves.std(0, ddof=1)
    return m, m - s, m + s


def band_standard_error(curves):
    m, s = curves.mean(0), curves.std(0) / np.sqrt(len(curves))
    return m, m - s, m + s


def band_swapped(curves):
    return curves.mean(0), curves.max(0), curves.min(0)


def band_median(curves):
    return np.median(curves, axis=0), curves.min(0), curves.max(0)


def band_global_extremes(curves):
    m = curves.mean(0)
    return m, np.full_like(m, curves.min()), np.full_like(m, curves.max())


def band_as_one_array(curves):
    return np.stack([curves.mean(0), curves.min(0), curves.max(0)])


def band_forgot_return(curves):
    curves.mean(0), curves.min(0), curves.max(0)


def band_keepdims(curves):
    return curves.mean(0, keepdims=True), curves.min(0, keepdims=True), curves.max(0, keepdims=True)


def band_torch(curves):
    c = torch.as_tensor(curves)  # (seeds, points)
    return c.mean(dim=0), c.min(dim=0), c.max(dim=0)  # min and max with a dim give (values, indices)


def band_midrange(curves):
    return (curves.min(0) + curves.max(0)) / 2, curves.min(0), curves.max(0)  # the middle of the band


def band_percentiles(curves):
    return curves.mean(0), np.percentile(curves, 10, axis=0), np.percentile(curves, 90, axis=0)


# Exercise 7.5: permutation_p(a, b)
def _splits(a, b):
    pooled = np.concatenate([a, b])
    for group in itertools.combinations(range(len(pooled)), len(a)):
        mask = np.zeros(len(pooled), dtype=bool)
        mask[list(group)] = True
        yield pooled[mask], pooled[~mask]


def p_one_sided(a, b):
    observed = np.mean(a) - np.mean(b)
    splits = list(_splits(a, b))
    return sum(x.mean() - y.mean() >= observed for x, y in splits) / len(splits)


def p_strict(a, b):
    observed = abs(np.mean(a) - np.mean(b))
    splits = list(_splits(a, b))
    return sum(abs(x.mean() - y.mean()) > observed for x, y in splits) / len(splits)


def p_sums(a, b):
    observed = abs(np.sum(a) - np.sum(b))
    splits = list(_splits(a, b))
    return sum(abs(x.sum() - y.sum()) >= observed for x, y in splits) / len(splits)


def p_count(a, b):
    observed = abs(np.mean(a) - np.mean(b))
    return sum(abs(x.mean() - y.mean()) >= observed for x, y in _splits(a, b))


def p_random_shuffles(a, b):
    pooled = list(np.concatenate([a, b]))
    observed = abs(np.mean(a) - np.mean(b))
    hits = 0
    for _ in range(2000):
        random.shuffle(pooled)
        hits += abs(np.mean(pooled[:len(a)]) - np.mean(pooled[len(a):])) >= observed
    return hits / 2000


def p_seeded_shuffles(a, b):
    rng = np.random.default_rng(0)  # seeded: the same answer every call
    pooled = np.concatenate([a, b])
    observed = abs(np.mean(a) - np.mean(b))
    hits = 0
    for _ in range(20_000):
        x = rng.permutation(pooled)
        hits += abs(x[:len(a)].mean() - x[len(a):].mean()) >= observed
    return hits / 20_000


def _exact_p(a, b):
    observed = abs(np.mean(a) - np.mean(b))
    splits = list(_splits(a, b))
    return sum(abs(x.mean() - y.mean()) >= observed for x, y in splits) / len(splits)


def p_on_ranks(a, b):
    pooled = np.concatenate([a, b])
    r = np.argsort(np.argsort(pooled)) + 1.0  # ranks 1..n
    return _exact_p(r[:len(a)], r[len(a):])


def p_on_average_ranks(a, b):
    pooled = np.concatenate([a, b])
    r = np.argsort(np.argsort(pooled, kind="stable")) + 1.0
    for value in np.unique(pooled):  # ties share their mean rank, as scipy.stats.rankdata does
        r[pooled == value] = r[pooled == value].mean()
    return _exact_p(r[:len(a)], r[len(a):])


def p_z_test(a, b):
    se = math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
    z = (np.mean(a) - np.mean(b)) / se if se > 0 else 0.0
    return math.erfc(abs(z) / math.sqrt(2))  # a normal approximation, not the permutation test


def p_with_difference(a, b):
    observed = abs(np.mean(a) - np.mean(b))
    return [_exact_p(a, b), observed]  # the p-value and the difference, as a list


def p_tuple_index(a, b):
    pooled = np.concatenate([a, b])
    observed = abs(np.mean(a) - np.mean(b))
    groups = list(itertools.combinations(range(len(pooled)), len(a)))
    hits = sum(abs(pooled[g].mean() - np.delete(pooled, g).mean()) >= observed  # g a tuple: one index per axis
               for g in groups)
    return hits / len(groups)


def p_rest_by_setdiff(a, b):
    pooled = np.concatenate([a, b])
    observed = abs(np.mean(a) - np.mean(b))
    groups = list(itertools.combinations(range(len(pooled)), len(a)))
    hits = 0
    for g in groups:
        first = pooled[list(g)]
        rest = np.setdiff1d(pooled, first)  # by value: repeated numbers drop out
        hits += abs(first.mean() - rest.mean()) >= observed
    return hits / len(groups)


def p_rest_not_in(a, b):
    pooled = np.concatenate([a, b])
    observed = abs(np.mean(a) - np.mean(b))
    groups = list(itertools.combinations(pooled, len(a)))  # combinations of the numbers themselves
    hits = 0
    for g in groups:
        rest = [v for v in pooled if v not in g]  # by value: a number in both groups leaves the second
        hits += abs(np.mean(g) - np.mean(rest)) >= observed
    return hits / len(groups)


def p_other_crash(a, b):
    # crashes for another reason (a mean of an empty group): the plain crash hint, not a named one
    pooled = np.concatenate([a, b])
    groups = list(itertools.combinations(range(len(pooled)), len(a)))
    return sum(pooled[list(g)].mean() > {}.get("observed") for g in groups) / len(groups)


MISTAKES = {
    "7.1": {
        "bool": count_checks_instead,
        "not_scalar": count_breakdown,
        "attn_bias": count_with_biases,
        "no_cross": count_without_cross_attention,
        "no_norms": count_without_norms,
        "no_final_norms": count_without_final_norms,
        "gain_only": count_norm_gain_only,
        "two_decoder_norms": count_two_decoder_norms,
        "ff_no_bias": count_ff_without_biases,
        "two_embeddings": count_two_embeddings,
        "no_output": count_without_output,
        "position_table": (count_with_position_table, count_with_position_table_per_side),
        "swapped_depths": count_depths_swapped,
        "float": count_as_float,
        "wrong": count_two_parts_missing,
        "wrong_not_whole": count_per_layer,
    },
    "7.2": {
        "bool": saving_anything,
        "not_scalar": saving_keys_and_values_apart,
        "decoder_only_full": saving_per_decoder_layer,
        "encoder_only_full": saving_per_encoder_layer,
        "per_depth": saving_per_deepest_stack,
        "only_full": saving_only_full_depths,
        "encoder_depths_counted": saving_encoder_only_depths_counted,
        "all_three": saving_all_three_removed,
        "off_by_one": saving_off_by_one,
        "keys_only": saving_keys_only,
        "linear_in_d": saving_linear_in_d,
        "float": saving_as_float,
        "wrong": saving_per_layer,
        "wrong_not_whole": saving_per_attention,
    },
    "7.3": {
        "encoder_changed": share_the_wrong_way_round,
        "mixed_up": share_keys_as_values,
        "alias": (share_by_data_alias, share_by_new_parameter),
        "copy_new_module": share_by_deepcopy,
        "copy_values": (share_by_load_state_dict, share_by_data_clone),
        "keys_only": share_keys_only,
        "values_only": share_values_only,
        "no_cross": share_without_cross,
        "no_decoder_self": share_without_decoder_self,
        "queries_too": share_queries_too,
        "extra_parameters": share_keeping_the_old_ones,
        "not_all_three": (share_half_of_it, share_nothing_returns_new),
    },
    "7.4": {
        "returned_none": band_forgot_return,
        "not_three": band_as_one_array,
        "per_seed": band_over_points,
        "wrong_shape": band_keepdims,
        "median": band_median,
        "swapped": band_swapped,
        "mean_std": band_mean_std,
        "mean_sample_std": band_mean_sample_std,
        "standard_error": band_standard_error,
        "global_extremes": band_global_extremes,
        "torch_values": band_torch,
        "wrong_mean": band_midrange,
        "wrong_band": band_percentiles,
    },
    "7.5": {
        "not_scalar": p_with_difference,
        "not_deterministic": p_random_shuffles,
        "one_sided": p_one_sided,
        "strict": p_strict,
        "sums": p_sums,
        "count": p_count,
        "ranks": (p_on_ranks, p_on_average_ranks),
        "sampled": p_seeded_shuffles,
        "tuple_index": p_tuple_index,
        "by_value": (p_rest_by_setdiff, p_rest_not_in),
        "wrong": p_z_test,
    },
}

test_each_named_mistake_gets_its_own_hint = named_mistakes_test(MISTAKES)


# --- special cases ----------------------------------------------------------------------------------

def test_sharing_the_parameter_instead_of_the_module_is_accepted(capsys):
    def share_parameters(enc_self, dec_self, cross):
        for attn in (dec_self, cross):
            attn.w_k.weight = enc_self.w_k.weight  # one Parameter, two modules: a share
            attn.w_v.weight = enc_self.w_v.weight

    check_share_kv(share_parameters)
    assert capsys.readouterr().out.startswith("✓")


def _named(exercise_id):
    """The keys of an exercise's named counting mistakes: its hints, wrong types aside."""
    from crossattn.checks import registry

    return set(registry.exercise(exercise_id).hints) - {"float", "bool", "not_scalar"}


def test_the_checker_configurations_tell_every_counting_mistake_apart():
    # Each wrong formula must give a number different from the right one and from every other
    # wrong formula on the first configuration, or its hint could not be told apart.
    counting = [m for key, fns in MISTAKES["7.1"].items() if key in _named("7.1")
                for m in (fns if isinstance(fns, tuple) else (fns,))]
    from crossattn.checks.lab07 import _COUNT_CONFIGS
    from crossattn.experiments.parameters import predicted_parameters
    from crossattn.nn.model import ModelConfig
    V, d, d_ff, Le, Ld = _COUNT_CONFIGS[0]
    right = predicted_parameters(ModelConfig(vocab_size=V, d_model=d, h=2, d_ff=d_ff, n_encoder_layers=Le,
                                             n_decoder_layers=Ld))
    answers = [m(V, d, d_ff, Le, Ld) for m in counting]
    assert right not in answers and len(set(answers)) == len(answers)


def test_numpy_integers_are_accepted_and_floats_refused(capsys, solutions):
    check_count_parameters(lambda *args: np.int64(solutions["count_parameters"](*args)))
    check_kv_saving(lambda *args: np.int32(solutions["kv_saving"](*args)))
    check_kv_saving(lambda *args: torch.tensor(solutions["kv_saving"](*args)))  # an int64 tensor
    assert capsys.readouterr().out.count("✓") == 3
    with pytest.raises(CheckFailed, match=r"as an integer \(int\), not float\b"):
        check_count_parameters(lambda *args: float(solutions["count_parameters"](*args)))
    with pytest.raises(CheckFailed, match=r"as an integer \(int\), not float64"):
        check_kv_saving(lambda *args: np.float64(solutions["kv_saving"](*args)))
    with pytest.raises(CheckFailed, match=r"as an integer \(int\), not Tensor"):
        check_kv_saving(lambda *args: torch.tensor(float(solutions["kv_saving"](*args))))
    with pytest.raises(CheckFailed, match="bool"):
        check_kv_saving(lambda *args: True)


def test_a_wrong_answer_that_is_not_whole_says_so(solutions):
    with pytest.raises(CheckFailed, match=r"You returned 8\.5, not even a whole number.*division"):
        check_kv_saving(lambda d, Le, Ld: 8.5)
    with pytest.raises(CheckFailed, match="not even a whole number"):
        check_count_parameters(lambda *args: solutions["count_parameters"](*args) / 3)


def test_a_saving_computed_from_two_built_models_is_accepted(capsys):
    # What the lab does after the exercise, written as the solution: every checker configuration must
    # give a buildable model.
    from crossattn.experiments.parameters import count_parameters
    from crossattn.nn.model import EncoderDecoder, ModelConfig

    def kv_saving(d_model, n_encoder_layers, n_decoder_layers):
        sizes = dict(d_model=d_model, n_encoder_layers=n_encoder_layers, n_decoder_layers=n_decoder_layers)
        untied = count_parameters(EncoderDecoder(ModelConfig(**sizes)))
        tied = count_parameters(EncoderDecoder(ModelConfig(tie_kv=True, **sizes)))
        return untied - tied

    check_kv_saving(kv_saving)
    assert capsys.readouterr().out.startswith("✓")


def test_the_saving_configurations_tell_every_saving_mistake_apart():
    # Over all configurations, each wrong rule's answers differ from the right ones and from every other
    # wrong rule's (the float mistake aside: its values are right), or two hints could not be told apart.
    from crossattn.checks.lab07 import _SAVING_CONFIGS
    from crossattn.experiments.parameters import kv_tying_saving
    rules = [m for key, m in MISTAKES["7.2"].items() if key in _named("7.2")]
    right = tuple(kv_tying_saving(*config) for config in _SAVING_CONFIGS)
    answers = [tuple(m(*config) for config in _SAVING_CONFIGS) for m in rules]
    assert right not in answers and len(set(answers)) == len(answers)
    assert all(d % 2 == 0 for d, _, _ in _SAVING_CONFIGS)
    # The off-by-one is not "half of it" on at least one configuration (equal depths).
    assert any(saving_off_by_one(*c) != saving_keys_only(*c) for c in _SAVING_CONFIGS)


def test_the_rank_mistake_passes_the_evenly_spaced_samples_but_not_the_outlier():
    # The reason for the outlier case: on samples that are evenly spaced, ranks and values agree.
    from crossattn.experiments.stats import permutation_p_value
    a, b = np.array([3, 5, 4, 7]) / 16, np.array([6, 9, 7, 10, 8, 5, 11, 9]) / 16
    assert p_on_average_ranks(a, b) == pytest.approx(permutation_p_value(a, b))
    x, y = np.array([1, 2, 3, 4, 40, 5, 6, 0]) / 16, np.array([8, 9, 10, 11]) / 16
    assert abs(p_on_ranks(x, y) - permutation_p_value(x, y)) > 0.5


def test_the_share_checker_leaves_nothing_shared_between_calls(solutions, capsys):
    # Each call builds fresh modules: a second run of the solution passes too.
    check_share_kv(solutions["share_kv"])
    check_share_kv(solutions["share_kv"])
    assert capsys.readouterr().out.count("✓") == 2


def test_a_p_value_crash_of_another_kind_keeps_the_plain_crash_hint():
    # the control of tuple_index: a crash that is not NumPy reading a tuple as one index per axis
    with pytest.raises(CheckFailed) as info:
        check_permutation_p(p_other_crash)
    assert info.value.key == "crash"
