"""Chapter 5: the FLOP and byte formulas of key/value caching against what PyTorch counts and allocates,
the bytes each step's products read, the step timer, the diff of the attention layer's forward, and beam
search reading one copy of each source's cross-attention K, V."""
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
    decoder_parameters,
    decoding_flops,
    encoder_flops,
    flops_polynomial,
    forward_cache_diff,
    measure_bytes_per_step,
    measure_decoding_flops,
    measure_flops_per_step,
    self_cache_wins_from,
    step_bytes,
    step_flops,
    stored_bytes,
    time_steps,
    weights_read_per_step,
)
from crossattn.nn.beam import BEAM_CROSS_MODES, beam_search
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


# --- bytes moved per step: the formula against the operands of the products PyTorch runs --------

@pytest.mark.parametrize("name", sorted(CONFIGS) + ["tied-embeddings"])
@pytest.mark.parametrize("cache", CACHE_MODES)
def test_predicted_bytes_per_step_equal_the_operands_of_the_products_pytorch_runs(name, cache):
    net = model(**CONFIGS.get(name, {"tie_embeddings": True}))
    src = padded_sources()
    B, n = src.shape
    measured = measure_bytes_per_step(net, src, 7, cache)
    predicted = [step_bytes(net.cfg, n, t, cache, batch=B, dtype_bytes=8).total for t in range(7)]
    assert measured == predicted  # both count the same operands: the tolerance is zero
    # The control: the count tells the variants apart (the source projections, the re-run prefix).
    assert measure_bytes_per_step(net, src, 7, "none") != measure_bytes_per_step(net, src, 7, "both")


def test_weights_are_read_once_per_step_and_caches_once_per_sequence():
    cfg = ModelConfig(vocab_size=TASK.vocab_size)
    one, eight = step_bytes(cfg, 9, 5, "both", 1, 2), step_bytes(cfg, 9, 5, "both", 8, 2)
    assert eight.weights == one.weights  # shared by the batch
    assert eight.cross_kv == 8 * one.cross_kv and eight.self_kv == 8 * one.self_kv
    assert one.cross_kv == cache_bytes(cfg.n_decoder_layers, 9, 0, cfg.d_model, 2).cross  # the whole cross cache
    assert one.self_kv == cache_bytes(cfg.n_decoder_layers, 9, 6, cfg.d_model, 2).self_attn  # t + 1 rows
    # Without the cross cache the step also reads W_K, W_V and the source states; with it only K, V.
    none, cross = step_bytes(cfg, 9, 5, "none", 1, 2), step_bytes(cfg, 9, 5, "cross", 1, 2)
    assert none.weights - cross.weights == 2 * 2 * cfg.n_decoder_layers * cfg.d_model ** 2
    assert none.cross_kv == cross.cross_kv  # both read the cross K, V in full
    # Re-running the prefix reads the same weights, only more activations.
    assert cross.weights == step_bytes(cfg, 9, 5, "both", 1, 2).weights
    assert cross.activations > step_bytes(cfg, 9, 5, "both", 1, 2).activations
    with pytest.raises(ValueError, match="dtype_bytes"):
        step_bytes(cfg, 9, 5, "both", 1, 0)


@pytest.mark.parametrize("kw", [{}, {"tie_kv": True, "n_decoder_layers": 3, "positions": "relative"},
                                {"tie_embeddings": True, "d_ff": 40}, {"cross_reads": "all", "n_encoder_layers": 3}])
def test_decoder_parameters_count_what_the_decoder_uses(kw):
    net = model(**kw)
    used = {id(p): p for mod in (net.embed, net.decoder, net.decoder_norm, net.out) for p in mod.parameters()}
    assert decoder_parameters(net.cfg) == sum(p.numel() for p in used.values())
    # Read at every step with both caches: all but the cross-attention W_K, W_V, the norms, the embedding table
    # (one row per token, no product) and the relative-bias table.
    cfg, d = net.cfg, net.cfg.d_model
    not_read = cfg.n_decoder_layers * (6 * d + (2 * cfg.max_len + 1) * cfg.h * (cfg.positions == "relative"))
    not_read += 2 * d + (0 if cfg.tie_embeddings else cfg.vocab_size * d)
    if not cfg.tie_kv:  # tied, W_K and W_V serve the self-attention too and are read at every step
        not_read += cfg.n_decoder_layers * 2 * d * d
    assert weights_read_per_step(cfg, dtype_bytes=4) == 4 * (decoder_parameters(cfg) - not_read)


def test_whisper_large_reads_its_cross_cache_more_than_its_weights_from_a_small_batch():
    whisper = ModelConfig(vocab_size=51865, d_model=1280, h=20, d_ff=4 * 1280, n_encoder_layers=32,
                          n_decoder_layers=32, max_len=1500, tie_embeddings=True)
    stored = decoder_parameters(whisper) * 2  # float16
    assert 1.6 * 2**30 < stored < 1.8 * 2**30  # ≈ 1.7 GiB of decoder weights
    cross = step_bytes(whisper, 1500, 100, "both", 1, 2).cross_kv
    assert cross == 2 * 32 * 1500 * 1280 * 2  # 234 MiB per sequence
    weights = weights_read_per_step(whisper)
    b_star = next(b for b in range(1, 100) if step_bytes(whisper, 1500, 100, "both", b, 2).cross_kv > weights)
    assert 6 < b_star < 9


# --- time: single steps in interleaved rounds -----------------------------------------------------

def test_time_steps_times_every_variant_and_step_and_leaves_the_caches_as_they_were():
    net = model().float()
    src = padded_sources()
    times = time_steps(net, src, [0, 3], {"none": "none", "both": "both", "again": "none"}, rounds=3)
    assert set(times) == {(label, t) for label in ("none", "both", "again") for t in (0, 3)}
    assert all(len(v) == 3 and all(x >= 0 for x in v) for v in times.values())
    with pytest.raises(ValueError, match="cache mode"):
        time_steps(net, src, [1], {"x": "self"})
    with pytest.raises(ValueError, match="rounds"):
        time_steps(net, src, [1], {"none": "none"}, rounds=0)


@pytest.mark.parametrize("t", [0, 4])
def test_the_timed_step_computes_what_greedy_decoding_computes_at_that_step(t, monkeypatch):
    """What time_steps times is the real step t: its logits equal greedy decoding's, in every mode, every round."""
    net = model()
    src = padded_sources()
    _, want = greedy_decode(net, src, t + 1)  # (B, t + 1, N_voc)
    outputs = []
    decode = net.decode

    def spy(*args, **kwargs):
        out = decode(*args, **kwargs)
        outputs.append(out[:, -1])
        return out

    monkeypatch.setattr(net, "decode", spy)
    time_steps(net, src, [t], {"none": "none", "cross": "cross", "both": "both"}, rounds=2)
    timed = outputs[-9:]  # warm-up and two rounds of three variants, after the set-up calls
    assert all((o - want[:, t]).abs().max() < 1e-12 for o in timed)


# --- the code of the cache, shown as a diff -------------------------------------------------------

def test_the_diff_of_the_forward_is_the_package_source_and_its_before_side_runs_as_chapter_4s_forward():
    import ast
    import inspect
    import textwrap

    from crossattn.nn import layers

    diff = forward_cache_diff()
    lines = diff.splitlines()
    assert all(line[:1] in "+- " for line in lines)
    source = textwrap.dedent(inspect.getsource(layers.MultiheadAttention.forward)).splitlines()
    doc = ast.parse("\n".join(source)).body[0].body[0]  # the docstring, left out of the diff
    source = source[:doc.lineno - 1] + source[doc.end_lineno:]
    assert [line[1:] for line in lines if not line.startswith("-")] == source  # the package's lines, all of them
    added = [line for line in lines if line.startswith("+")]
    assert any("cache.store(" in line for line in added) and any("cache.append(" in line for line in added)
    assert [line.strip() for line in lines if line.startswith("-")] == ["-    k, v = self.project_kv(x if s is None else s)".strip()]
    assert all(len(line) <= 68 for line in lines), "the diff is shown on a page: 68 characters at most"
    # The before side is a working forward without a cache: the same outputs as forward(cache=None).
    before = "\n".join(line[1:] for line in lines if not line.startswith("+"))
    namespace = dict(vars(layers))
    exec(before, namespace)  # noqa: S102 - the package's own source
    torch.manual_seed(0)
    attn = layers.MultiheadAttention(16, 4).double()
    x, s = torch.randn(2, 3, 16, dtype=torch.float64), torch.randn(2, 5, 16, dtype=torch.float64)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])[:, None, None, :]
    assert torch.equal(namespace["forward"](attn, x, s, mask), attn(x, s, mask))
    # With a little context around each change: the same changes, fewer lines, skips marked.
    short = forward_cache_diff(context=2).splitlines()
    assert [line for line in short if line[:1] in "+-"] == [line for line in lines if line[:1] in "+-"]
    assert len(short) < len(lines) and short[0] == lines[0] and any(line.strip() == "# ..." for line in short)
    with pytest.raises(ValueError, match="context"):
        forward_cache_diff(context=-1)


# --- beam search reading one copy of the cross-attention cache ------------------------------------

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
    src = torch.tensor([[5, 9, 12, 7, PAD, PAD], [6, 8, 10, 11, 13, 5]])  # two sources, n = 6, T = 7
    tokens, logits = greedy_decode(net, src, 7)
    result = beam_search(net, src, beams=1, steps=7, eos=None)  # greedy_decode does not stop at EOS either
    assert torch.equal(result.tokens[:, 0], tokens)
    greedy_score = logits.log_softmax(-1).gather(-1, tokens[..., None]).squeeze(-1).sum(-1)  # (B,)
    assert (result.scores[:, 0] - greedy_score).abs().max() < 1e-10


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(CONFIGS) + ["relative", "cross-causal"])
def test_beam_scores_are_the_log_probabilities_of_their_tokens_and_the_cross_mode_changes_nothing(seed, name):
    kw = {"relative": {"positions": "relative"}, "cross-causal": {"cross_causal": True}}.get(name, CONFIGS.get(name))
    net = model(seed, **kw)
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD]])  # n = 7 with padding, T = 5
    folded = beam_search(net, src, beams=4, steps=5)  # the default: one copy, beams folded into the queries
    viewed = beam_search(net, src, beams=4, steps=5, cross="view")  # one copy, a stride-0 view in matmul
    copied = beam_search(net, src, beams=4, steps=5, cross="copy")
    # The view multiplies exactly what the copies multiply; folding changes the shapes of the products only.
    assert torch.equal(viewed.tokens, copied.tokens) and torch.equal(viewed.scores, copied.scores)
    assert torch.equal(folded.tokens, copied.tokens)
    assert (folded.scores - copied.scores).abs().max() < 1e-12
    scores, tokens = folded.scores[0], folded.tokens[0]  # (k,), (k, T)
    assert torch.all(scores[:-1] >= scores[1:])  # best first
    assert len({tuple(t.tolist()) for t in tokens}) == 4  # four different hypotheses
    assert (teacher_forced_logprob(net, src, tokens) - scores).abs().max() < 1e-10
    assert all("forward" not in vars(layer.cross_attn) for layer in net.decoder)  # no method is swapped


@pytest.mark.parametrize("name", sorted(CONFIGS) + ["relative"])
def test_folded_beam_search_of_several_sources_is_each_sources_own_beam_search(name):
    net = model(4, **({"positions": "relative"} if name == "relative" else CONFIGS[name]))
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD], [6, 8, PAD, PAD, PAD, PAD, PAD], [13, 5, 9, 10, 7, 12, 8]])
    folded = beam_search(net, src, beams=3, steps=6)
    copied = beam_search(net, src, beams=3, steps=6, cross="copy")
    assert folded.tokens.shape == (3, 3, 6) and folded.scores.shape == (3, 3)
    assert torch.equal(folded.tokens, copied.tokens) and (folded.scores - copied.scores).abs().max() < 1e-12
    for b in range(3):  # the beams of each source are those of a search over that source alone
        alone = beam_search(net, src[b:b + 1], beams=3, steps=6, cross="view")
        assert torch.equal(alone.tokens[0], folded.tokens[b])
        assert (alone.scores[0] - folded.scores[b]).abs().max() < 1e-12
        assert (teacher_forced_logprob(net, src[b:b + 1], folded.tokens[b]) - folded.scores[b]).abs().max() < 1e-10
    # One stored copy per source, not per beam; the self caches are per beam either way.
    cross_f, self_f = caches_stored_bytes(folded.caches)
    cross_c, self_c = caches_stored_bytes(copied.caches)
    assert cross_c == 3 * cross_f and self_f == self_c


def test_a_beam_that_emits_eos_is_finished_and_padded():
    net = model(3)
    with torch.no_grad():  # make EOS likely so that some beams finish early
        net.out.weight[EOS] += 0.5 * net.out.weight.abs().max()
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD]])
    result = beam_search(net, src, beams=6, steps=6)
    tokens, scores = result.tokens[0], result.scores[0]
    has_eos = (tokens == EOS).any(1)
    assert has_eos.any(), "the test needs a beam that finishes"
    for toks in tokens[has_eos]:
        first = toks.tolist().index(EOS)
        assert torch.all(toks[first + 1:] == PAD)
    assert len({tuple(t.tolist()) for t in tokens}) == 6  # a finished beam is kept once, not copied
    assert (teacher_forced_logprob(net, src, tokens) - scores).abs().max() < 1e-10


def test_sharing_the_cross_cache_holds_one_copy_instead_of_one_per_beam():
    net = model()
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD]])
    beams, steps = 5, 4
    results = {c: beam_search(net, src, beams, steps, cross=c) for c in BEAM_CROSS_MODES}
    cfg, n = net.cfg, src.shape[1]
    one = cache_bytes(cfg.n_decoder_layers, n, steps, cfg.d_model, dtype_bytes=8)
    for c, result in results.items():
        cross, self_ = caches_stored_bytes(result.caches)
        assert cross == (beams if c == "copy" else 1) * one.cross
        assert self_ == beams * one.self_attn  # each beam keeps its own self-attention rows
    for _, cross in results["view"].caches:
        assert cross.k.shape[0] == beams and cross.k.stride(0) == 0  # every beam reads the same memory
    for _, cross in results["fold"].caches:
        assert cross.k.shape[0] == 1 and cross.beams == beams  # one copy, marked for the beams
    for _, cross in results["copy"].caches:
        assert cross.k.stride(0) != 0


def test_a_stride_0_view_of_several_sources_becomes_a_copy_when_reshaped_to_one_row_per_beam():
    """Why the view is for one source only: (B, k, ...) with stride 0 along k cannot be viewed as (B·k, ...)."""
    beams, h, n, d_head = 4, 2, 5, 8
    for B in (1, 3):
        k = torch.randn(B, h, n, d_head)
        rows = k[:, None].expand(B, beams, h, n, d_head).reshape(B * beams, h, n, d_head)
        if B == 1:
            assert stored_bytes(k, rows) == stored_bytes(k)  # still a view: no copy
        else:
            assert stored_bytes(k, rows) == (1 + beams) * stored_bytes(k)  # a copy per beam
    two = KVCache(static=True, k=torch.zeros(2, 1, 3, 4), v=torch.zeros(2, 1, 3, 4))
    with pytest.raises(ValueError, match="one source only"):
        two.expand_beams(3)
    assert two.fold_beams(3).k is two.k  # folding keeps the very same tensors
    with pytest.raises(ValueError, match="cross='view' shares the cache of one source"):
        beam_search(model(), torch.tensor([[5, 6], [7, 8]]), beams=2, steps=3, cross="view")


def test_folding_the_beams_avoids_the_temporary_copies_of_the_stride_0_view():
    """Stored bytes are the same for the view and the folded search; what torch.profiler sees allocated differs by
    the temporaries torch.matmul makes of the view: k copies of K and of V, in every layer and step after the first."""
    net = model()
    src = torch.tensor([[5, 9, 12, 7, 11, PAD, PAD]])
    beams, steps = 5, 6
    cfg, n = net.cfg, src.shape[1]
    allocated = {c: allocated_bytes(lambda c=c: beam_search(net, src, beams, steps, cross=c)) for c in BEAM_CROSS_MODES}
    temporaries = (steps - 1) * cfg.n_decoder_layers * 2 * beams * n * cfg.d_model * 8  # float64
    query_copies = (steps - 1) * cfg.n_decoder_layers * beams * cfg.d_model * 8  # folding copies the k outputs back
    gap = allocated["view"] - allocated["fold"]
    assert abs(gap - (temporaries - query_copies)) <= 0.05 * temporaries  # exact on torch 2.13 CPU
    assert allocated["view"] > allocated["copy"]  # the view, counting its temporaries, allocates more than copies
    assert allocated["fold"] < allocated["copy"]


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


def test_beam_search_refuses_bad_arguments():
    net = model()
    with pytest.raises(ValueError, match=r"must be a \(B, n\) tensor"):
        beam_search(net, torch.tensor([5, 6]), beams=2, steps=3)
    with pytest.raises(ValueError, match="beams must be between 1"):
        beam_search(net, torch.tensor([[5, 6]]), beams=net.cfg.vocab_size + 1, steps=3)
    with pytest.raises(ValueError, match="cross must be one of"):
        beam_search(net, torch.tensor([[5, 6]]), beams=2, steps=3, cross="share")


def test_caches_refuse_what_would_break_the_sharing():
    with pytest.raises(ValueError, match="filled cross-attention cache"):
        KVCache(static=True).expand_beams(3)
    with pytest.raises(ValueError, match="filled cross-attention cache"):
        KVCache(static=True).fold_beams(3)
    with pytest.raises(ValueError, match="only a static"):
        KVCache(static=False, beams=2)
    with pytest.raises(ValueError, match="beams must be a positive integer"):
        KVCache(static=True, beams=0)
    folded = KVCache(static=True, k=torch.zeros(2, 1, 3, 4), v=torch.zeros(2, 1, 3, 4)).fold_beams(3)
    with pytest.raises(ValueError, match="already folded"):
        folded.fold_beams(2)


def test_a_product_with_an_expanded_cache_copies_it_for_a_moment_and_folding_the_beams_does_not():
    """Sharing saves the STORED copies; torch.matmul still copies a stride-0 batch into a temporary.
    Folding the beams into the query axis reads the one stored copy directly (chapter 5). Measured on
    the path our attention layer takes: an explicit ``q @ k.transpose(-2, -1)`` (torch.matmul, CPU)."""
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


def test_a_stored_cross_cache_is_read_in_place_by_the_products_of_every_later_step():
    """store() keeps Kᵀ and V contiguous, so no step after the first copies them before multiplying. The control:
    the same step with K, V left in the layout of the heads' split, a strided view, allocates a copy of both."""
    import copy

    net = model()
    src = padded_sources()
    memory, mask = net.encode(src), net.source_mask(src)
    caches = net.new_caches()
    bos = torch.ones(len(src), 1, dtype=torch.long)
    with torch.no_grad():
        net.decode(bos, memory, mask, caches, offset=0)
    assert all(cross.k.transpose(-2, -1).is_contiguous() and cross.v.is_contiguous() for _, cross in caches)
    strided = copy.deepcopy(caches)
    for _, cross in strided:  # (B, h, n, d_head) as a view of (B, n, h, d_head): how the heads' split leaves it
        cross.k, cross.v = (t.transpose(1, 2).contiguous().transpose(1, 2) for t in (cross.k, cross.v))
        assert not cross.k.transpose(-2, -1).is_contiguous() and not cross.v.is_contiguous()

    def step(c):
        return allocated_bytes(lambda: net.decode(bos, None, mask, copy.deepcopy(c), offset=1))

    with torch.no_grad():
        extra = step(strided) - step(caches)
    one_cross_cache = cache_bytes(net.cfg.n_decoder_layers, src.shape[1], 0, net.cfg.d_model, 8, len(src)).cross
    assert extra == one_cross_cache  # the strided layout copies K and V of every layer at every step


@pytest.mark.parametrize("cross", ["fold", "view"])
def test_after_step_0_folded_beams_copy_only_queries_and_a_view_copies_the_cache(cross, monkeypatch):
    """What each step after the first copies (clone, contiguous): folded, only the small queries and outputs of the
    cross-attention, (B·k, d_model) each, for B = 3 sources;
    the stride-0 view (one source) copies its k beams' K and V in every layer."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Copies(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.sizes = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func.overloadpacket.__name__ in ("clone", "_to_copy", "copy_"):
                self.sizes.append(out.numel())
            return out

    net = model()
    src = torch.randint(3, TASK.vocab_size, (3 if cross == "fold" else 1, 40),
                        generator=torch.Generator().manual_seed(0))  # n = 40 ≫ k: K outweighs the queries
    B, n = src.shape
    beams, d = 4, net.cfg.d_model
    seen = []
    decode = net.decode

    def spy(*args, **kwargs):
        if kwargs.get("offset", 0) == 0:
            return decode(*args, **kwargs)
        with Copies() as copies:
            out = decode(*args, **kwargs)
        seen.append(copies.sizes)
        return out

    monkeypatch.setattr(net, "decode", spy)
    beam_search(net, src, beams, steps=4, cross=cross)
    one_source_kv = n * d  # K (or V) of one source, all heads, one layer
    big = [[s for s in sizes if s >= one_source_kv] for sizes in seen]
    if cross == "fold":
        assert all(not b for b in big), "a folded step copied a cross-attention K or V"
        assert all(sizes and set(sizes) == {B * beams * d} for sizes in seen)  # only queries and outputs, folded
    else:
        assert all(len(b) == 2 * net.cfg.n_decoder_layers for b in big)  # K and V, every layer, every step
        assert all(s == beams * one_source_kv for b in big for s in b)
