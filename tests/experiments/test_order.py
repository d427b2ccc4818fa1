"""Chapter 6's measuring tools: the permutation gap of a model, the multiset bound, what a relative
bias alone can point at, and the experiment grid."""
import itertools
from fractions import Fraction

import pytest
import torch

from crossattn.experiments.order import (
    GridRun,
    OrderExperiment,
    accuracy_table,
    bias_pointable,
    grid_accuracy,
    multiset_accuracy,
    multiset_bound,
    multiset_steps,
    per_position_accuracy,
    pointer_hits,
    pointing_bias,
    position_grid,
    source_order_gap,
    train_scheme,
)
from crossattn.nn.data import sequence_task
from crossattn.nn.layers import RelativePositionBias
from crossattn.nn.model import EncoderDecoder, ModelConfig


def model(positions, seed=0):
    torch.manual_seed(seed)
    net = EncoderDecoder(ModelConfig(vocab_size=12, positions=positions)).double().eval()
    for module in net.modules():  # an untrained bias table is zero; give it values
        if isinstance(module, RelativePositionBias):
            torch.nn.init.normal_(module.table)
    return net


@pytest.mark.parametrize("positions, blind",
                         [("none", True), ("query", True), ("absolute", False), ("relative", False),
                          ("absolute+relative", False), ("encoder-relative", False)])
def test_source_order_gap_is_zero_exactly_without_source_positions(positions, blind):
    src = torch.tensor([[3, 4, 5, 6, 7], [8, 8, 9, 10, 11]])  # (B, n) = (2, 5)
    tgt_in = torch.tensor([[1, 3, 4], [1, 8, 8]])  # (B, m) = (2, 3)
    gaps = [source_order_gap(model(positions), src, tgt_in, p) for p in ([4, 3, 2, 1, 0], [1, 2, 3, 4, 0])]
    if blind:
        assert max(gaps) < 1e-12
    else:
        assert min(gaps) > 1e-3
    assert source_order_gap(model(positions), src, tgt_in, range(5)) == 0.0  # the identity moves nothing


def test_source_order_gap_rejects_a_non_permutation():
    src, tgt_in = torch.tensor([[3, 4, 5]]), torch.tensor([[1, 3]])
    with pytest.raises(ValueError, match="permutation of range"):
        source_order_gap(model("none"), src, tgt_in, [0, 0, 1])


def test_multiset_accuracy_by_hand():
    # remaining {3, 3, 4}: 2/3; then {3, 4}: 1/2; then {4}: 1; EOS: 1
    assert multiset_accuracy([([3, 3, 4], [3, 3, 4])]) == pytest.approx((2 / 3 + 1 / 2 + 1 + 1) / 4)
    assert multiset_accuracy([([5, 5, 5], [5, 5, 5])]) == 1.0  # nothing to guess
    with pytest.raises(ValueError, match="not a rearrangement"):
        multiset_accuracy([([3, 4], [3, 3])])
    with pytest.raises(ValueError, match="at least one"):
        multiset_accuracy([])


@pytest.mark.parametrize("length, n_symbols", [(1, 4), (3, 2), (3, 3), (4, 3)])
def test_multiset_bound_is_the_exact_average_over_all_sequences(length, n_symbols):
    symbols = range(3, 3 + n_symbols)
    every = [(list(s), list(s)) for s in itertools.product(symbols, repeat=length)]  # all copy pairs, equally likely
    assert multiset_bound(length, n_symbols) == pytest.approx(multiset_accuracy(every), abs=1e-12)


def test_multiset_bound_is_the_same_for_copy_and_reverse_and_matches_a_sample():
    bound = multiset_bound(6, 8)
    assert 0.59 < bound < 0.60  # (1 + Σ_k E[max count of k draws]/k) / 7
    for task in ("copy", "reverse"):
        assert abs(multiset_accuracy(sequence_task(task, 4000, 6, 8, seed=5)) - bound) < 0.01
    assert multiset_bound(2, 2) == pytest.approx(float((1 + 1 + Fraction(3, 4)) / 3))
    with pytest.raises(ValueError):
        multiset_bound(0, 8)


def test_a_bias_alone_points_every_copy_query_but_not_every_reversal_query():
    n = 6
    assert bias_pointable(list(range(n)), n) == tuple(range(n))
    assert len(bias_pointable([n - 1 - i for i in range(n)], n)) == 4
    assert bias_pointable([3, 2, 1, 0], 4) == (0, 1, 3)
    # n = 4: query 1 needs b[-1] > b[1], query 2 needs b[1] > b[-1]
    assert pointing_bias([3, 2, 1, 0], 4, [1, 2]) is None
    # a monotone alignment at another pace (each source token written twice) drifts too
    assert len(bias_pointable([i // 2 for i in range(6)], 3)) < 6


def test_two_bias_tables_can_split_the_reversal_queries_between_them():
    # one table serves at most 4 of the 6 queries, but each head has its own table b_h
    reverse = [5, 4, 3, 2, 1, 0]
    head_a, head_b = [0, 1, 3, 5], [0, 2, 4, 5]
    for queries in (head_a, head_b):
        table = pointing_bias(reverse, 6, queries)
        assert table is not None
        for i in queries:
            scores = [table[i - j] for j in range(6)]
            assert max(range(6), key=scores.__getitem__) == reverse[i]
    assert set(head_a) | set(head_b) == set(range(6))


@pytest.mark.parametrize("alignment, n, queries", [
    ([3, 2, 1, 0], 4, (0, 1, 3)), ([0, 1, 2, 3, 4], 5, range(5)), ([0, 0, 1, 1, 2, 2], 3, (0, 1, 2, 4, 5)),
])
def test_the_pointing_table_really_points(alignment, n, queries):
    table = pointing_bias(alignment, n, list(queries))
    assert table is not None
    for i in queries:
        scores = [table[i - j] for j in range(n)]  # the bias of query i on each key j
        assert max(range(n), key=scores.__getitem__) == alignment[i]
        assert sorted(scores)[-1] > sorted(scores)[-2]  # strictly the largest


def test_a_large_bias_at_offset_zero_makes_every_head_point_at_the_copy_alignment():
    net = model("relative")
    with torch.no_grad():
        for layer in net.decoder:
            bias = layer.cross_attn.relative_bias
            bias.table.zero_()
            bias.table[:, bias.max_distance] = 50.0  # offset i − j = 0
    pairs = sequence_task("copy", 20, 5, 6, seed=0)
    hits = pointer_hits(net, pairs, list(range(5)))  # (h, 5)
    assert hits.shape == (2, 5) and torch.all(hits == 1.0)
    acc = per_position_accuracy(net, pairs)
    assert acc.shape == (6,) and torch.all((0 <= acc) & (acc <= 1))


def test_grid_runs_one_model_per_combination_and_tabulates_them():
    exp = OrderExperiment(length=4, n_symbols=4, n_train=200, n_test=50, steps=3)
    runs = position_grid(tasks=["copy", "sort"], schemes=["none", "absolute"], seeds=[0, 1], exp=exp)
    assert [(r.task, r.scheme, r.seed) for r in runs] == [
        (t, s, seed) for t in ("copy", "sort") for s in ("none", "absolute") for seed in (0, 1)]
    assert len(grid_accuracy(runs, "sort", "absolute")) == 2
    table = accuracy_table(runs, {"copy": 0.5}).splitlines()
    assert table[0].split() == ["scheme", "copy", "sort"]
    assert table[1].split() == ["multiset", "0.50", "—"]
    assert len(table) == 4 and table[2].startswith("none")
    again = train_scheme("copy", "none", 1, exp)  # the same seed gives the same model
    assert again.accuracy == grid_accuracy(runs, "copy", "none")[1]


def test_without_source_positions_training_cannot_beat_the_multiset():
    exp = OrderExperiment(steps=40)
    run = train_scheme("reverse", "query", 0, exp)
    assert isinstance(run, GridRun) and run.model.cfg.positions == "query"
    assert run.accuracy < multiset_accuracy(exp.data("reverse")[1]) + 0.03


def test_multiset_steps_rise_to_one_and_average_to_the_bound():
    steps = multiset_steps(6, 8)
    assert len(steps) == 7 and steps[-2] == steps[-1] == 1.0  # one token left, then EOS
    assert all(a < b for a, b in zip(steps[:-2], steps[1:-1]))  # fewer tokens left: easier
    assert sum(steps) / 7 == pytest.approx(multiset_bound(6, 8), abs=1e-12)
    assert steps[-3] == pytest.approx(9 / 16)  # two tokens left: equal (1/8) -> 1, else 1/2


def test_the_held_out_sources_are_never_training_sources():
    exp = OrderExperiment(length=4, n_symbols=6, n_train=800, n_test=200)  # 6^4 = 1296 sources
    for task in ("copy", "reverse", "sort"):
        train_pairs, test_pairs = exp.data(task)
        assert len(test_pairs) == 200
        assert not {tuple(s) for s, _ in train_pairs} & {tuple(s) for s, _ in test_pairs}


def test_the_table_keeps_its_columns_for_long_scheme_names():
    runs = [GridRun("copy", scheme, 0, 0.5, None) for scheme in ("none", "absolute+relative", "encoder-relative")]
    lines = accuracy_table(runs, {"copy": 0.25}).splitlines()
    assert len({len(line) for line in lines}) == 1  # every row ends in the same column
    assert [line.split()[0] for line in lines] == ["scheme", "multiset", "none", "absolute+relative", "encoder-relative"]
