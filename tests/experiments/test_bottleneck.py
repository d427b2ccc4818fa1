"""Chapter 4's 'one vector is not enough': the pooled-summary experiment and its stored grid."""
import pytest
import torch

from crossattn.experiments import bottleneck
from crossattn.experiments.bottleneck import (
    PHRASES,
    READS,
    BottleneckExperiment,
    BottleneckRun,
    length_task,
    load_results,
    run_reads,
    save_results,
    select,
)


@pytest.fixture(scope="module")
def stored():
    return load_results()


def test_length_task_has_exactly_the_phrases_asked_for():
    task = length_task(3)
    for src, tgt in task.sample(50, seed=0):
        nouns = sum(not task.is_adjective(t) for t in src)
        assert nouns == 3 and len(tgt) == len(src)  # one noun per phrase, word for word
    with pytest.raises(ValueError, match="phrases must be at least 1"):
        length_task(0)


def test_settings_and_arguments_are_checked():
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        BottleneckExperiment(seeds=0)
    with pytest.raises(ValueError, match="phrases must be positive"):
        BottleneckExperiment(phrases=())
    with pytest.raises(ValueError, match="reads must be one of"):
        run_reads(2, "all", seed=0, steps=1)


def test_a_run_trains_and_evaluates_on_held_out_sentences():
    task = length_task(2)
    train_pairs, test_pairs = task.split(200, 40, seed=0)
    assert not {tuple(s) for s, _ in train_pairs} & {tuple(s) for s, _ in test_pairs}
    run = run_reads(2, "pooled", seed=0, steps=3, batch_size=8, data=(train_pairs, test_pairs))
    assert (run.phrases, run.reads, run.seed, run.steps) == (2, "pooled", 0, 3)
    assert 2 <= run.source_length <= 4 and 0 <= run.accuracy <= 1


def test_results_survive_a_round_trip_through_json(tmp_path):
    exp = BottleneckExperiment(phrases=(2, 3), seeds=1)
    runs = [BottleneckRun(2, "last", 0, 150, 3.5, 0.9876543), BottleneckRun(3, "pooled", 0, 150, 4.5, 0.5)]
    path = save_results(runs, exp, tmp_path / "grid.json")
    exp2, runs2 = load_results(path)
    assert exp2 == exp and runs2[1] == runs[1] and runs2[0].accuracy == pytest.approx(0.987654)
    with pytest.raises(ValueError, match="reproduce bottleneck"):
        load_results(tmp_path / "missing.json")


def test_reproduce_writes_a_grid(tmp_path):
    torch.set_num_threads(1)
    exp = BottleneckExperiment(phrases=(2,), seeds=1, steps=2, batch_size=4, n_train=100, n_test=20, long_factor=2)
    lines = bottleneck.reproduce(tmp_path / "grid.json", exp)
    _, runs = load_results(tmp_path / "grid.json")
    assert len(runs) == 3  # last and pooled at 2 steps, pooled at 4 steps
    assert {(r.reads, r.steps) for r in runs} == {("last", 2), ("pooled", 2), ("pooled", 4)}
    assert lines[-1].startswith("wrote 3 runs")


def test_the_stored_grid_is_complete_and_matches_the_default_settings(stored):
    exp, runs = stored
    assert exp == BottleneckExperiment() and exp.phrases == PHRASES
    for phrases in exp.phrases:
        for reads in READS:
            assert [r.seed for r in select(runs, phrases, reads, exp.steps)] == list(range(exp.seeds))
    long_runs = select(runs, max(exp.phrases), "pooled", exp.long_factor * exp.steps)
    assert len(long_runs) == exp.seeds
    assert len(runs) == len(exp.phrases) * len(READS) * exp.seeds + exp.seeds
    with pytest.raises(ValueError, match="no runs with"):
        select(runs, 5, "last", exp.steps)


def test_the_stored_results_say_what_chapter_4_says(stored):
    exp, runs = stored
    means = {}
    for reads in READS:
        means[reads] = [sum(r.accuracy for r in select(runs, p, reads, exp.steps)) / exp.seeds for p in exp.phrases]
    for phrases in exp.phrases:  # every length, every seed: cross-attention above the pooled summary
        last = [r.accuracy for r in select(runs, phrases, "last", exp.steps)]
        pooled = [r.accuracy for r in select(runs, phrases, "pooled", exp.steps)]
        assert min(last) > max(pooled)
    assert all(a > b for a, b in zip(means["pooled"], means["pooled"][1:]))  # falls with length
    assert min(means["last"]) > 0.9


def test_one_stored_run_falls_inside_the_stored_band_when_run_again(stored):
    """A live run lands among the stored seeds (another CPU rounds differently: compare by distribution)."""
    exp, runs = stored
    torch.set_num_threads(1)
    live = run_reads(2, "pooled", seed=0, steps=exp.steps)
    band = [r.accuracy for r in select(runs, 2, "pooled", exp.steps)]
    spread = max(band) - min(band)
    assert min(band) - spread <= live.accuracy <= max(band) + spread
    assert live.source_length == pytest.approx(select(runs, 2, "pooled", exp.steps)[0].source_length)
