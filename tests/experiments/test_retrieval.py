"""Chapter 8's retrieval: the TF-IDF retriever, the examples built from it, and a reader whose
cross-attention never reads padding."""
import math

import numpy as np
import pytest
import torch

from crossattn.core import retrieval
from crossattn.core.retrieval import (
    PAD,
    VOCAB,
    corpus,
    decode,
    encode,
    make_examples,
    make_world,
    retrieve,
    tfidf_scores,
)
from crossattn.experiments import passage_reader
from crossattn.experiments.passage_reader import (
    Reader,
    ReaderConfig,
    reader_accuracy,
    source_mask,
)


def test_encode_decode_round_trip_and_unknown_words():
    ids = encode("ann lives in ?")
    assert decode(ids) == "ann lives in ?" and decode(ids + [PAD, PAD]) == "ann lives in ?"
    with pytest.raises(ValueError, match="'zebra' is not in the vocabulary"):
        encode("ann keeps a zebra")
    assert len(set(VOCAB)) == len(VOCAB)


def test_relation_values_are_the_values_of_the_question_relation():
    values = retrieval.relation_values(retrieval.encode("ann lives in ?") + [retrieval.PAD])
    assert [retrieval.VOCAB[i] for i in values] == list(retrieval.RELATIONS["lives"][1])
    pets = retrieval.relation_values(retrieval.encode("ann keeps a ?"))
    assert not set(pets) & set(values)  # another relation, other values
    for bad in ("ann lives in paris", "lives ?", "ann in ?"):
        with pytest.raises(ValueError, match="not a question"):
            retrieval.relation_values(retrieval.encode(bad))


def test_tfidf_scores_by_hand():
    # 4 passages; the question asks for words 5 and 6 (and 9, which no passage contains).
    passages = [[5, 7], [5, 5, 6], [7, 8], [6, 8]]
    scores = tfidf_scores([5, 6, 9, 5], passages, vocab_size=10)  # a repeated question word counts once
    idf5 = idf6 = math.log(4 / 2)
    assert np.allclose(scores, [idf5, 2 * idf5 + idf6, 0.0, idf6])
    assert retrieve([5, 6], passages, 2, vocab_size=10) == [1, 0]  # tie of 0 and 3: lower index first


@pytest.mark.parametrize("k", [0, 5])
def test_retrieve_refuses_a_k_out_of_range(k):
    with pytest.raises(ValueError, match="k must lie in 1..4"):
        retrieve([5], [[5], [6], [7], [8]], k, vocab_size=10)


def test_tfidf_refuses_bad_input():
    with pytest.raises(ValueError, match="at least one passage"):
        tfidf_scores([1], [])
    with pytest.raises(ValueError, match="token ids must lie in"):
        tfidf_scores([1], [[1, 99]], vocab_size=10)


def test_world_corpus_questions_and_answers_line_up():
    world = make_world(np.random.default_rng(0), n_people=5)
    passages, questions, answers = corpus(world)
    assert len(passages) == len(questions) == len(answers) == 5 * len(retrieval.RELATIONS)
    for passage, question, answer in zip(passages, questions, answers):
        assert question[:-1] == passage[:-1] and question[-1] == retrieval.ASK and passage[-1] == answer
    with pytest.raises(ValueError, match="n_people"):
        make_world(np.random.default_rng(0), n_people=0)


def test_the_retriever_always_finds_the_right_passage_and_examples_match_it():
    ex = make_examples(20, seed=4)
    assert len(ex) == 20 * 6 * 4 and ex.has_right.all()
    world_rng = np.random.default_rng(np.random.SeedSequence(4).spawn(2)[0])  # the first world, rebuilt
    passages, questions, _ = corpus(make_world(world_rng))
    for q in range(len(questions)):
        got = {tuple(row) for row in ex.retrieved[q].tolist()}
        want = {tuple(passages[j] + [PAD] * (retrieval.PASSAGE_LENGTH - len(passages[j])))
                for j in retrieve(questions[q], passages, 4)}
        assert got == want
    for i in range(len(ex)):  # the answer is the last word of one retrieved passage
        assert any(ex.answers[i] in row for row in ex.retrieved[i])


def test_dropped_and_edited_examples():
    plain, dropped = make_examples(10, seed=9), make_examples(10, seed=9, drop_right=True)
    edited = make_examples(10, seed=9, edit=True)
    assert not dropped.has_right.any()
    for i in range(len(dropped)):  # the answer's passage (name + relation + value) is gone
        right = list(plain.questions[i][plain.questions[i] != PAD][:-1]) + [plain.answers[i]]
        for row in dropped.retrieved[i]:
            assert list(row[row != PAD]) != right
    assert np.array_equal(edited.questions, plain.questions) and np.array_equal(dropped.questions, plain.questions)
    assert np.all(edited.answers != plain.answers) and edited.has_right.all()
    for i in range(len(edited)):  # the edited value is what a retrieved passage now says
        right = list(plain.questions[i][plain.questions[i] != PAD][:-1]) + [edited.answers[i]]
        assert any(list(row[row != PAD]) == right for row in edited.retrieved[i])
    with pytest.raises(ValueError, match="not both"):
        make_examples(1, seed=0, drop_right=True, edit=True)


def test_source_mask_is_true_on_real_tokens():
    retrieved = torch.tensor([[[4, 5, 6, 0, 0], [7, 8, 0, 0, 0]]])  # (B, k, l) = (1, 2, 5)
    mask = source_mask(retrieved)
    assert mask.shape == (1, 10)
    assert mask.tolist() == [[True, True, True, False, False, True, True, False, False, False]]


def _untrained():
    torch.manual_seed(0)
    return Reader(ReaderConfig()).eval()


def test_reader_never_reads_padding():
    model, ex = _untrained(), make_examples(2, seed=1)
    q, docs = torch.from_numpy(ex.questions), torch.from_numpy(ex.retrieved)
    with torch.no_grad():
        out = model(q, docs)
        w = model.decoder.cross_attn.last_weights  # (B, h, m, k·l)
        pad = ~source_mask(docs)  # (B, k·l)
        assert pad.any() and torch.all(w.masked_select(pad[:, None, None, :].expand_as(w)) == 0)
        model.embed.weight[PAD] += 5.0  # whatever the padding holds...
        assert torch.allclose(model(q, docs), out, atol=1e-5)  # ...the answer does not move
    assert out.shape == (len(ex), len(VOCAB))
    with pytest.raises(ValueError, match="expected questions"):
        model(q[:, :3], docs)


def test_reader_output_does_not_depend_on_the_order_of_the_passages():
    # No passage rank reaches the reader: shuffling the k passages leaves its answer unchanged.
    model, ex = _untrained().double(), make_examples(2, seed=2)
    q, docs = torch.from_numpy(ex.questions), torch.from_numpy(ex.retrieved)
    with torch.no_grad():
        a = model(q, docs)
        b = model(q, docs[:, [2, 0, 3, 1]])
    assert torch.allclose(a, b, atol=1e-10)


@pytest.mark.slow
def test_trained_reader_needs_the_right_passage():
    model, losses = passage_reader.train_reader()
    assert np.mean(losses[-20:]) < 0.2 * losses[0]
    tests = passage_reader.held_out_tests(30, seed=77)
    assert reader_accuracy(model, tests["as is"]) > 0.85
    assert reader_accuracy(model, tests["removed"]) < 0.3
    assert reader_accuracy(model, tests["edited"]) > 0.85


def test_training_examples_are_a_fixed_pool_of_contradicting_worlds():
    cfg = passage_reader.ReaderConfig(n_worlds=30)
    a, b = passage_reader.training_examples(cfg), passage_reader.training_examples(cfg)
    assert len(a) == 30 * 24 and np.array_equal(a.questions, b.questions)
    answers = {}
    for q, ans in zip(map(tuple, a.questions), a.answers):
        answers.setdefault(q, set()).add(int(ans))
    assert max(len(v) for v in answers.values()) > 1  # the same question, different answers


def test_held_out_tests_hold_no_training_example():
    cfg = passage_reader.ReaderConfig(n_worlds=200)
    seen = set(passage_reader.training_examples(cfg).keys())
    tests = passage_reader.held_out_tests(40, seed=7, cfg=cfg)
    assert len({len(ex) for ex in tests.values()}) == 1  # the same questions in all three
    assert np.array_equal(tests["as is"].questions, tests["edited"].questions)
    for ex in tests.values():
        assert not seen & set(ex.keys())
    # control: without the filter some test examples are training examples
    assert seen & set(make_examples(40, seed=7).keys())
    assert len(tests["as is"]) < 40 * 24
    with pytest.raises(ValueError, match="training worlds"):
        passage_reader.held_out_tests(5, seed=1000, cfg=ReaderConfig(seed=0))


def test_example_keys_ignore_the_order_of_the_retrieved_passages():
    ex = make_examples(2, seed=3)
    shuffled = retrieval.Examples(ex.questions, ex.retrieved[:, ::-1].copy(), ex.answers, ex.has_right)
    assert ex.keys() == shuffled.keys()
    other = retrieval.Examples(ex.questions, ex.retrieved, (ex.answers + 1), ex.has_right)
    assert not set(ex.keys()) & set(other.keys())
    assert len(ex.subset(np.arange(5))) == 5
