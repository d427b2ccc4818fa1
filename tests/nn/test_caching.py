"""Chapter 5: the FLOP and byte formulas of key/value caching against what PyTorch counts and allocates,
and beam search sharing one copy of the cross-attention K, V."""
import re

import pytest
import torch

from crossattn.core.cost import loglog_slope
from crossattn.experiments.caching_cost import (
    PUBLISHED_CONFIGS,
    DecodingFlops,
    allocated_bytes,
    cache_bytes,
    cache_savings,
    caches_stored_bytes,
    decoding_flops,
    encoder_flops,
    flops_polynomial,
    measure_decoding_flops,
    measure_flops_per_step,
    self_cache_wins_from,
    step_flops,
    stored_bytes,
)
from crossattn.nn.beam import beam_search
from crossattn.nn.cache import KVCache
from crossattn.nn.data import ToyTranslation, to_batch
from crossattn.nn.decoding import CACHE_MODES, greedy_decode
from crossattn.nn.model import EncoderDecoder, ModelConfig
from crossattn.nn.tokens import EOS, PAD
from tests.helpers import ROOT

TASK = ToyTranslation()
CONFIGS = {
    "chapter4": {},
    "relative-tied-3-layers": {"positions": "relative", "tie_kv": True, "n_decoder_layers": 3, "d_ff": 48},
    "transparent-causal": {"cross_reads": "all", "n_encoder_layers": 3, "cross_causal": True, "h": 4},
}


def model(seed=0, **kw):
    torch.manual_seed(seed)
    return EncoderDecoder(ModelConfig(vocab_size=TASK.vocab_size, **kw)).double().eval()


def padded_sources(count=3, seed=0):
    src = to_batch(TASK.sample(count, seed=seed)).src  # (B, n)
    assert (src == PAD).any(), "the test batch must contain padding"
    return src


# --- FLOPs: the formula against FlopCounterMode --------------------------------------------------

@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("cache", CACHE_MODES)
def test_predicted_flops_equal_what_flop_counter_mode_measures(name, cache):
    net = model(**CONFIGS[name])
    src = padded_sources()
    B, n = src.shape
    for steps in (1, 4, 9):  # m ≠ n at the longer runs
        predicted = decoding_flops(net.cfg, n, steps, cache, batch=B).total
        measured = measure_decoding_flops(net, src, steps, cache)
        # Both count exactly the matrix products (2 per multiply-add): the tolerance is zero.
        assert measured == predicted, f"{name}, {cache}, T={steps}: measured {measured}, predicted {predicted}"


@pytest.mark.parametrize("cache", CACHE_MODES)
def test_one_run_read_after_every_step_measures_every_shorter_decode(cache):
    net = model()
    src = padded_sources()
    B, n = src.shape
    per_step = measure_flops_per_step(net, src, 8, cache)
    assert len(per_step) == 8 and "decode" not in vars(net)  # the model is left as it was
    for T in (1, 3, 8):
        assert per_step[T - 1] == measure_decoding_flops(net, src, T, cache)
    assert per_step == [decoding_flops(net.cfg, n, T, cache, batch=B).total for T in range(1, 9)]


@pytest.mark.parametrize("cache", CACHE_MODES)
def test_closed_form_equals_the_sum_of_steps_and_the_polynomial(cache):
    cfg = ModelConfig(vocab_size=TASK.vocab_size, n_decoder_layers=3, d_ff=40, cross_reads="all")
    n, B = 7, 2
    for steps in (1, 2, 5, 13):
        by_step = sum((step_flops(cfg, n, t, cache, B) for t in range(steps)), DecodingFlops(encoder=encoder_flops(cfg, n, B)))
        closed = decoding_flops(cfg, n, steps, cache, B)
        assert by_step == closed
        poly = flops_polynomial(cfg, n, cache, B)
        assert sum(c * steps ** k for k, c in enumerate(poly)) == closed.total


def test_the_cross_cache_saves_exactly_the_repeated_source_projections():
    cfg = ModelConfig(vocab_size=TASK.vocab_size)
    n, B, d, L = 6, 4, cfg.d_model, cfg.n_decoder_layers
    for steps in (1, 3, 10):
        none, cross = decoding_flops(cfg, n, steps, "none", B), decoding_flops(cfg, n, steps, "cross", B)
        assert none.total - cross.total == (steps - 1) * L * B * 4 * n * d * d
        assert none.cross_kv == steps * L * B * 4 * n * d * d and cross.cross_kv == L * B * 4 * n * d * d
        assert cache_savings(cfg, n, steps, B)[0] == none.total - cross.total


def test_step_cost_grows_with_the_prefix_only_without_the_self_cache():
    cfg = ModelConfig(vocab_size=TASK.vocab_size)
    n = 6
    none = [step_flops(cfg, n, t, "none").total for t in range(1, 20)]
    both = [step_flops(cfg, n, t, "both").total for t in range(1, 20)]
    assert all(b - a > 0 for a, b in zip(none, none[1:]))
    growth_both = {b - a for a, b in zip(both, both[1:])}
    assert growth_both == {4 * cfg.d_model * cfg.n_decoder_layers}  # one more cached key per layer: 4·d FLOPs
    assert both[0] < none[0]


def test_total_work_is_quadratic_in_T_without_the_self_cache_and_near_linear_with_it():
    cfg = ModelConfig(vocab_size=TASK.vocab_size)
    n, steps = 6, [8, 16, 32, 64]
    slope = {c: loglog_slope(steps, [decoding_flops(cfg, n, T, c).total for T in steps]) for c in CACHE_MODES}
    assert 1.8 < slope["none"] < 2.3 and 1.8 < slope["cross"] < 2.3
    assert slope["both"] < 1.3
    c0, c1, c2, c3 = flops_polynomial(cfg, n, "both")
    assert c3 == 0 and c2 == 2 * cfg.d_model * cfg.n_decoder_layers  # the scores over the growing cache
    assert flops_polynomial(cfg, n, "none")[3] > 0  # the re-run prefix's self-attention scores: O(T³)


def test_the_self_cache_saves_more_from_some_T_on_and_later_for_longer_sources():
    cfg = ModelConfig(vocab_size=TASK.vocab_size)
    previous = 0
    for n in (6, 50, 400):
        t_star = self_cache_wins_from(cfg, n)
        cross, self_ = cache_savings(cfg, n, t_star)
        assert self_ > cross
        if t_star > 1:
            cross, self_ = cache_savings(cfg, n, t_star - 1)
            assert self_ <= cross
        assert t_star > previous
        previous = t_star


def test_flop_formulas_reject_bad_arguments():
    cfg = ModelConfig()
    with pytest.raises(ValueError, match="cache must be one of"):
        decoding_flops(cfg, 5, 3, "self")
    with pytest.raises(ValueError, match="steps must be"):
        decoding_flops(cfg, 5, 0, "both")
    with pytest.raises(ValueError, match="step t must be"):
        step_flops(cfg, 5, -1, "both")


# --- bytes: the formula against the tensors the caches hold --------------------------------------

def test_cache_bytes_formula():
    got = cache_bytes(n_layers=3, n=7, steps=5, width=16, dtype_bytes=2)
    assert got.cross == 2 * 3 * 7 * 16 * 2 and got.self_attn == 2 * 3 * 5 * 16 * 2
    assert got.total == got.cross + got.self_attn
    grow = cache_bytes(3, 7, 6, 16, 2).self_attn - got.self_attn
    assert grow == 2 * 3 * 16 * 2  # 2·L·width values per token
    assert cache_bytes(3, 7, 50, 16, 2).cross == got.cross  # fixed once the source is encoded
    assert cache_bytes(3, 7, 5, 16, 2, batch=4).total == 4 * got.total
    for bad in ({"n_layers": 0}, {"dtype_bytes": 1.5}, {"steps": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            cache_bytes(**{"n_layers": 3, "n": 7, "steps": 5, "width": 16, **bad})


@pytest.mark.parametrize("dtype, dtype_bytes", [(torch.float64, 8), (torch.float32, 4)])
def test_cache_bytes_equal_the_bytes_the_caches_hold_after_incremental_decoding(dtype, dtype_bytes):
    net = model().to(dtype)
    src = padded_sources(4)
    B, n = src.shape
    steps = n + 3  # m ≠ n
    caches = net.new_caches()
    memory, mask = net.encode(src), net.source_mask(src)
    prefix = torch.ones(B, 1, dtype=torch.long)
    with torch.no_grad():
        for t in range(steps):
            logits = net.decode(prefix[:, -1:], memory if t == 0 else None, mask, caches, offset=t)  # (B, 1, N_voc)
            prefix = torch.cat([prefix, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
            if t == 0:
                first_ptrs = [c.k.data_ptr() for _, c in caches]
    assert all(s.length == steps and c.length == n for s, c in caches)  # self: one row per step; cross: n rows
    assert [c.k.data_ptr() for _, c in caches] == first_ptrs  # the cross cache was never replaced
    cross, self_ = caches_stored_bytes(caches)
    want = cache_bytes(net.cfg.n_decoder_layers, n, steps, net.cfg.d_model, dtype_bytes, batch=B)
    assert (cross, self_) == (want.cross, want.self_attn)


def test_published_configurations_are_cited_and_their_cache_width_is_h_times_d_head():
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M))
    for cfg in PUBLISHED_CONFIGS:
        assert cfg.cite in keys, f"{cfg.name}: cite key {cfg.cite} is not in references.bib"
        assert cfg.width == cfg.h * cfg.d_head
    t5_11b = next(c for c in PUBLISHED_CONFIGS if c.name == "T5-11B")
    assert t5_11b.width == 16 * t5_11b.d_model  # 128 heads of width 128 on d_model = 1024
    whisper = next(c for c in PUBLISHED_CONFIGS if c.name.startswith("Whisper"))
    # 1500 audio frames (30 s) and 448 text positions, float16: 160 KiB per position.
    b = whisper.cache_bytes(1500, 448)
    assert b.cross == 2 * 32 * 1280 * 2 * 1500 and b.self_attn == 2 * 32 * 1280 * 2 * 448


def test_stored_bytes_counts_a_shared_storage_once():
    k = torch.zeros(1, 2, 5, 4)  # float32: 160 bytes
    assert stored_bytes(k) == 160
    assert stored_bytes(k, k.expand(3, -1, -1, -1), k[:, :1], None) == 160  # views share k's storage
    assert stored_bytes(k, k.repeat(3, 1, 1, 1)) == 160 + 3 * 160  # a repeat is a copy


# --- beam search sharing the cross cache ---------------------------------------------------------

def teacher_forced_logprob(net, src, tokens):
    """Sum of log-probabilities of tokens (k, T) up to and including the first EOS, given src (1, n),
    by one full forward pass."""
    k = tokens.shape[0]
    tgt_in = torch.cat([torch.ones(k, 1, dtype=torch.long), tokens[:, :-1]], dim=1)  # BOS + all but the last
    with torch.no_grad():
        logp = net(src.expand(k, -1), tgt_in).log_softmax(-1)  # (k, T, N_voc)
    per_token = logp.gather(-1, tokens[..., None]).squeeze(-1)  # (k, T)
    after_eos = (tokens == EOS).long().cumsum(1) - (tokens == EOS).long() > 0  # (k, T): strictly after the first EOS
    return per_token.masked_fill(after_eos, 0.0).sum(-1)  # (k,)


@pytest.mark.parametrize("seed", [0, 1])
def test_beam_search_of_width_one_is_greedy_decoding(seed):
    net = model(seed)
    src = torch.tensor([[5, 9, 12, 7, PAD, PAD]])  # n = 6 with padding, T = 7
    tokens, logits = greedy_decode(net, src, 7)
    result = beam_search(net, src, beams=1, steps=7, eos=None)  # greedy_decode does not stop at EOS either
    assert torch.equal(result.tokens, tokens)
    greedy_score = logits.log_softmax(-1).gather(-1, tokens[..., None]).sum()
    assert abs(result.scores.item() - greedy_score.item()) < 1e-10


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(CONFIGS) + ["relative", "cross-causal"])
def test_beam_scores_are_the_log_probabilities_of_their_tokens_and_sharing_changes_nothing(seed, name):
    kw = {"relative": {"positions": "relative"}, "cross-causal": {"cross_causal": True}}.get(name, CONFIGS.get(name))
    net = model(seed, **kw)
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD]])  # n = 7 with padding, T = 5
    folded = beam_search(net, src, beams=4, steps=5)  # the default: shared cache, beams folded into the queries
    viewed = beam_search(net, src, beams=4, steps=5, fold_beams=False)  # shared cache, the stride-0 view in matmul
    copied = beam_search(net, src, beams=4, steps=5, share_cross=False)
    # The view multiplies exactly what the copies multiply; folding changes the shapes of the products only.
    assert torch.equal(viewed.tokens, copied.tokens) and torch.equal(viewed.scores, copied.scores)
    assert torch.equal(folded.tokens, copied.tokens)
    assert (folded.scores - copied.scores).abs().max() < 1e-12
    assert torch.all(folded.scores[:-1] >= folded.scores[1:])  # best first
    assert len({tuple(t.tolist()) for t in folded.tokens}) == 4  # four different hypotheses
    assert (teacher_forced_logprob(net, src, folded.tokens) - folded.scores).abs().max() < 1e-10
    assert all("forward" not in vars(layer.cross_attn) for layer in net.decoder)  # the layers are left as they were


def test_a_beam_that_emits_eos_is_finished_and_padded():
    net = model(3)
    with torch.no_grad():  # make EOS likely so that some beams finish early
        net.out.weight[EOS] += 0.5 * net.out.weight.abs().max()
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD]])
    result = beam_search(net, src, beams=6, steps=6)
    has_eos = (result.tokens == EOS).any(1)
    assert has_eos.any(), "the test needs a beam that finishes"
    for toks in result.tokens[has_eos]:
        first = toks.tolist().index(EOS)
        assert torch.all(toks[first + 1:] == PAD)
    assert len({tuple(t.tolist()) for t in result.tokens}) == 6  # a finished beam is kept once, not copied
    assert (teacher_forced_logprob(net, src, result.tokens) - result.scores).abs().max() < 1e-10


def test_sharing_the_cross_cache_holds_one_copy_instead_of_one_per_beam():
    net = model()
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD]])
    beams, steps = 5, 4
    shared = beam_search(net, src, beams, steps, share_cross=True)
    copied = beam_search(net, src, beams, steps, share_cross=False)
    cross_shared, self_shared = caches_stored_bytes(shared.caches)
    cross_copied, self_copied = caches_stored_bytes(copied.caches)
    cfg, n = net.cfg, src.shape[1]
    one = cache_bytes(cfg.n_decoder_layers, n, steps, cfg.d_model, dtype_bytes=8)
    assert cross_shared == one.cross and cross_copied == beams * one.cross
    assert self_shared == self_copied == beams * one.self_attn  # each beam keeps its own self-attention rows
    for _, cross in shared.caches:
        assert cross.k.shape[0] == beams and cross.k.stride(0) == 0  # every beam reads the same memory
    for _, cross in copied.caches:
        assert cross.k.stride(0) != 0


def test_folding_the_beams_avoids_the_temporary_copies_of_the_stride_0_view():
    """Stored bytes are the same for the view and the folded search; what torch.profiler sees allocated differs by
    the temporaries torch.matmul makes of the view: k copies of K and of V, in every layer and step after the first."""
    net = model()
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD]])
    beams, steps = 5, 6
    cfg, n = net.cfg, src.shape[1]
    allocated = {}
    for name, kw in {"view": {"fold_beams": False}, "folded": {}, "copies": {"share_cross": False}}.items():
        allocated[name] = allocated_bytes(lambda: beam_search(net, src, beams, steps, **kw))
    temporaries = (steps - 1) * cfg.n_decoder_layers * 2 * beams * n * cfg.d_model * 8  # float64
    query_copies = (steps - 1) * cfg.n_decoder_layers * beams * cfg.d_model * 8  # folding copies the k queries
    gap = allocated["view"] - allocated["folded"]
    assert abs(gap - (temporaries - query_copies)) <= 0.05 * temporaries  # exact on torch 2.13 CPU
    assert allocated["view"] > allocated["copies"]  # the view, counting its temporaries, allocates more than copies
    assert allocated["folded"] < allocated["copies"]


def test_cache_savings_without_the_prefix_logits():
    """An uncached decoder that computes only the last position's logits saves the self cache a little less."""
    cfg = ModelConfig(vocab_size=TASK.vocab_size)
    n, d, n_voc = 9, cfg.d_model, cfg.vocab_size
    for T in (1, 5, 20):
        cross, self_ = cache_savings(cfg, n, T, batch=2)
        cross_last, self_last = cache_savings(cfg, n, T, batch=2, prefix_logits=False)
        assert cross_last == cross
        assert self_ - self_last == 2 * 2 * d * n_voc * (T * (T + 1) // 2 - T)
    whisper = ModelConfig(vocab_size=51865, d_model=1280, h=20, d_ff=4 * 1280, n_encoder_layers=32,
                          n_decoder_layers=32, max_len=1500)
    t_all, t_last = self_cache_wins_from(whisper, 1500), self_cache_wins_from(whisper, 1500, prefix_logits=False)
    assert t_all < t_last < 1.2 * t_all  # a small shift
    for T, wins in ((t_last - 1, False), (t_last, True)):
        cross, self_ = cache_savings(whisper, 1500, T, prefix_logits=False)
        assert (self_ > cross) == wins


def test_beam_search_refuses_a_batch_and_too_many_beams():
    net = model()
    with pytest.raises(ValueError, match=r"must be \(1, n\)"):
        beam_search(net, torch.tensor([[5, 6], [7, 8]]), beams=2, steps=3)
    with pytest.raises(ValueError, match="beams must be between 1"):
        beam_search(net, torch.tensor([[5, 6]]), beams=net.cfg.vocab_size + 1, steps=3)


def test_expand_beams_needs_a_filled_cache_of_one_source():
    with pytest.raises(ValueError, match="filled cross-attention cache"):
        KVCache(static=True).expand_beams(3)
    two = KVCache(static=True, k=torch.zeros(2, 1, 3, 4), v=torch.zeros(2, 1, 3, 4))
    with pytest.raises(ValueError, match="one source at a time"):
        two.expand_beams(3)


def test_a_product_with_an_expanded_cache_copies_it_for_a_moment_and_folding_the_beams_does_not():
    """Sharing saves the STORED copies; torch.matmul still copies a stride-0 batch into a temporary.
    Folding the beams into the query axis reads the one stored copy directly (chapter 5)."""
    beams, h, n, d_head = 6, 2, 200, 16
    k = torch.randn(1, h, n, d_head)  # one source's keys, float32
    shared = k.expand(beams, -1, -1, -1)  # (beams, h, n, d_head), stride 0
    q = torch.randn(beams, h, 1, d_head)  # one query per beam
    out_bytes = beams * h * n * 4  # the (beams, h, 1, n) scores
    batched = allocated_bytes(lambda: q @ shared.transpose(-2, -1))
    assert batched >= out_bytes + beams * k.numel() * 4  # a full temporary copy of every beam's keys
    folded_q = q.transpose(0, 2)  # (1, h, beams, d_head): the beams as extra query rows
    folded = allocated_bytes(lambda: folded_q @ k.transpose(-2, -1))  # (1, h, beams, n)
    assert folded < out_bytes + k.numel() * 4  # no copy of K
    gap = ((folded_q @ k.transpose(-2, -1)).transpose(0, 2) - q @ shared.transpose(-2, -1)).abs().max()
    assert gap < 1e-5  # the same scores, to float32 round-off
