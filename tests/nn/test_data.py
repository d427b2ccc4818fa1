"""The synthetic data of chapters 4–8: held-out sets are disjoint from training sets by construction."""
import pytest

from crossattn.nn.data import ToyTranslation, held_out, sequence_split, sequence_task
from crossattn.nn.tokens import EOS
from crossattn.nn.train import token_accuracy


def sources(pairs):
    return {tuple(src) for src, _ in pairs}


def test_two_seeds_are_not_disjoint_by_themselves():
    # The control: why the split exists. Short sources repeat across seeds.
    task = ToyTranslation()
    assert sources(task.sample(4000, seed=0)) & sources(task.sample(300, seed=1))


def test_the_toy_translation_split_is_disjoint_and_keeps_the_training_set():
    task = ToyTranslation()
    train, test = task.split(4000, 300, seed=0)
    assert train == task.sample(4000, seed=0)
    assert len(test) == 300 and not sources(train) & sources(test)
    assert all(tgt == task.translate(src) for src, tgt in test)
    assert task.split(4000, 300, seed=0) == (train, test)  # deterministic


@pytest.mark.parametrize("kind", ["copy", "reverse", "sort", "random"])
def test_sequence_splits_are_disjoint(kind):
    train, test = sequence_split(kind, 2000, 200, length=4, n_symbols=6, seed=0)  # 6^4 = 1296 sources
    assert train == sequence_task(kind, 2000, 4, 6, seed=0)
    assert len(test) == 200 and not sources(train) & sources(test)


def test_a_task_too_small_to_hold_out_says_so():
    train = sequence_task("copy", 500, 2, 3, seed=0)  # 3^2 = 9 sources: all seen
    with pytest.raises(ValueError, match="too few distinct sources"):
        held_out(train, lambda count, s: sequence_task("copy", count, 2, 3, s), 10, seed=1, max_rounds=3)
    with pytest.raises(ValueError, match="count must be at least 1"):
        held_out(train, lambda count, s: sequence_task("copy", count, 2, 3, s), 0, seed=1)


def test_token_accuracy_leaves_eos_out_unless_asked():
    import torch

    from crossattn.nn.model import EncoderDecoder, ModelConfig

    class OnlyEOS(EncoderDecoder):
        def forward(self, src, tgt_in, **kw):  # always predicts EOS: right only at the end
            logits = torch.zeros(*tgt_in.shape, self.cfg.vocab_size)
            logits[..., EOS] = 1.0
            return logits

    pairs = sequence_task("copy", 10, 6, 8, seed=0)
    model = OnlyEOS(ModelConfig())
    assert token_accuracy(model, pairs) == 0.0
    assert token_accuracy(model, pairs, count_eos=True) == pytest.approx(1 / 7)
