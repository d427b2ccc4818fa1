"""Chapter 9's tiny text-to-image model: an exact judge, image queries reading text keys, the static
text cache, guidance, the ablation switch and the shipped weights."""
import numpy as np
import pytest
import torch

from crossattn.experiments import text_to_image as t2i
from crossattn.experiments.text_to_image import (
    TextToImageConfig,
    TinyDenoiser,
    all_prompts,
    attention_share,
    draw_scenes,
    guide,
    judge,
    layout_iou,
    patch_masks,
    prompt_accuracy,
    sample,
    text_cache_flops,
    word_map,
)

SMALL = TextToImageConfig(d_model=16, h=2, d_ff=32, layers=2, steps=3, batch_size=8)


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    model = TinyDenoiser(SMALL).eval()
    torch.nn.init.normal_(model.out.weight, std=0.1)  # the zero-initialised output would hide every difference
    return model


def test_there_are_36_distinct_prompts_and_their_words_are_in_the_vocabulary():
    prompts = all_prompts()
    assert prompts.shape == (36, 3) and len(np.unique(prompts, axis=0)) == 36
    words = t2i.tokens(prompts)
    assert words.min() > t2i.NULL and words.max() < len(t2i.VOCAB)
    assert t2i.prompt_text(prompts[:1]) == ["red circle left"]
    assert np.array_equal(t2i.parse_prompt("blue cross right"), [[2, 3, 2]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_judge_is_exact_on_every_scene_the_generator_draws(seed):
    prompts = np.repeat(all_prompts(), 5, axis=0)  # every prompt, five layouts each
    scenes = draw_scenes(prompts, seed)
    verdict = judge(scenes.images)
    assert np.array_equal(verdict.attributes(), prompts)
    assert np.array_equal(verdict.masks, scenes.masks)  # the fitted drawing is the drawn one
    assert prompt_accuracy(prompts, scenes.images) == {"colour": 1.0, "shape": 1.0, "position": 1.0, "all": 1.0}


def test_the_judge_can_fail_on_wrong_prompts_and_on_an_empty_image():
    prompts = all_prompts()
    scenes = draw_scenes(prompts, 0)
    shifted = np.roll(prompts, 1, axis=0)  # every prompt paired with its neighbour's image
    acc = prompt_accuracy(shifted, scenes.images)
    assert acc["all"] == 0.0 and acc["position"] < 0.5
    empty = judge(np.zeros((1, 16, 16, 3)))
    assert empty.colour[0] == -1 and not empty.masks.any()


def test_the_denoiser_maps_patches_to_velocities_and_its_queries_are_the_image(small_model):
    B = 3
    x = torch.randn(B, SMALL.n_patches, SMALL.patch_dim)
    words = torch.from_numpy(t2i.tokens(all_prompts()[:B]))
    v = small_model(x, torch.rand(B), words)
    assert v.shape == (B, 64, 12)
    weights = small_model.blocks[0].cross_attn.last_weights
    assert weights.shape == (B, SMALL.h, 64, 3)  # (B, h, m = P image positions, n = T words)
    assert torch.allclose(weights.sum(-1), torch.ones(B, SMALL.h, 64))


def test_the_prompt_changes_the_velocity_only_through_cross_attention(small_model):
    x = torch.randn(2, SMALL.n_patches, SMALL.patch_dim)
    t = torch.rand(2)
    a = torch.from_numpy(t2i.tokens(all_prompts()[[0, 0]]))
    b = torch.from_numpy(t2i.tokens(all_prompts()[[35, 35]]))
    assert not torch.allclose(small_model(x, t, a), small_model(x, t, b))  # the control: words matter
    with t2i.cross_attention_ablated(small_model):
        assert torch.equal(small_model(x, t, a), small_model(x, t, b))  # ablated: they cannot
    assert not torch.allclose(small_model(x, t, a), small_model(x, t, b))  # the hooks are gone afterwards


def test_the_cached_sampler_computes_what_the_uncached_one_computes(small_model):
    prompts = all_prompts()[::5]
    cached = sample(small_model, prompts, guidance=2.0, steps=4, seed=3, cache=True).images
    uncached = sample(small_model, prompts, guidance=2.0, steps=4, seed=3, cache=False).images
    assert np.array_equal(cached, uncached)
    other = sample(small_model, prompts, guidance=2.0, steps=4, seed=4).images
    assert not np.array_equal(cached, other)  # the control: a different noise gives different images


def test_the_counted_flops_match_the_formula_and_the_cache_saves_the_repeated_text_projections(small_model):
    prompts = all_prompts()[:1]
    steps = 5
    counted = {c: t2i.measure_sampling_flops(small_model, prompts, steps, cache=c) for c in (True, False)}
    formula = text_cache_flops(SMALL, steps)
    assert counted[False] - counted[True] == formula["saved"] == (steps - 1) * formula["kv_per_step"]
    assert counted[True] == formula["cached"] and counted[False] == formula["uncached"]


def test_guidance_zero_is_the_null_branch_and_one_the_prompt_branch():
    v_prompt, v_null = torch.randn(2, 5, 12), torch.randn(2, 5, 12)
    assert torch.equal(guide(v_prompt, v_null, 0.0), v_null)
    assert torch.allclose(guide(v_prompt, v_null, 1.0), v_prompt)
    assert torch.allclose(guide(v_prompt, v_null, 3.0), 3 * v_prompt - 2 * v_null)


def test_the_recorded_maps_are_the_prompt_branch_weights_and_word_maps_sum_to_one(small_model):
    prompts = all_prompts()[:4]
    out = sample(small_model, prompts, steps=3, record=True)
    assert out.maps.shape == (3, 2, 4, 2, 64, 3)  # (S, L, B, h, P, T)
    assert np.allclose(out.maps.sum(-1), 1.0, atol=1e-5)
    grid = word_map(out.maps.mean(axis=3), word=0)  # mean over heads
    assert grid.shape == (3, 2, 4, 8, 8) and np.allclose(grid.sum(axis=(-2, -1)), 1.0)
    # row-major: the patch k = 8·row + col lands at [row, col]
    raw = np.zeros((64, 3))
    raw[8 * 2 + 5, 1] = 1.0
    assert word_map(raw, word=1)[2, 5] == 1.0


def test_layout_iou_is_one_for_the_same_layout_and_zero_for_disjoint_ones():
    masks = draw_scenes(all_prompts()[[0, 2]], 0).masks  # a left and a right object
    assert np.array_equal(layout_iou(masks, masks), [1.0, 1.0])
    assert np.array_equal(layout_iou(masks, masks[::-1]), [0.0, 0.0])


def test_attention_share_against_area():
    masks = np.zeros((2, 64), dtype=bool)
    masks[:, :16] = True
    uniform = np.ones((2, 64))
    share, area = attention_share(uniform, masks)
    assert np.allclose(share, area) and np.allclose(area, 0.25)
    peaked = np.zeros((2, 64))
    peaked[:, 3] = 1.0
    assert np.allclose(attention_share(peaked, masks)[0], 1.0)
    pm = patch_masks(draw_scenes(all_prompts()[:1], 0).masks)
    assert pm.shape == (1, 64) and 4 <= pm.sum() <= 25  # an 8 × 8 box covers 4 × 4 to 5 × 5 patches


def test_injecting_a_prompts_own_maps_changes_nothing_and_other_maps_change_the_image(small_model):
    prompts = all_prompts()[:3]
    own = sample(small_model, prompts, steps=3, seed=1, record=True)
    again = sample(small_model, prompts, steps=3, seed=1, inject=own.maps)
    assert np.allclose(again.images, own.images, atol=1e-5)
    flat = np.full_like(own.maps, 1 / 3)  # uniform maps: a real change of A
    assert not np.allclose(sample(small_model, prompts, steps=3, seed=1, inject=flat).images, own.images, atol=1e-3)


@pytest.mark.slow
def test_training_lowers_the_loss_and_stored_weights_round_trip(tmp_path):
    cfg = TextToImageConfig(d_model=16, h=2, d_ff=32, layers=1, steps=40, batch_size=16, lr=5e-3)
    model, losses = t2i.train_text_to_image(cfg)
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:5])
    path = t2i.save_weights(model, losses, tmp_path / "w.pt")
    loaded, stored = t2i.load_weights(path)
    assert stored == pytest.approx(losses[::10])
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-3, rtol=1e-3), name  # half precision on disk


@pytest.mark.slow
def test_the_shipped_weights_follow_prompts_and_the_controls_fall_to_chance():
    model, losses = t2i.load_weights()
    assert losses[-1] < 0.5 * losses[0]
    prompts = np.repeat(all_prompts(), 2, axis=0)  # 72 images
    guided = prompt_accuracy(prompts, sample(model, prompts, guidance=3.0, seed=11).images)
    assert guided["colour"] > 0.9 and guided["position"] > 0.9
    unconditional = prompt_accuracy(prompts, sample(model, prompts, guidance=0.0, seed=11).images)
    ablated = prompt_accuracy(prompts, sample(model, prompts, guidance=3.0, seed=11, ablate=True).images)
    for acc in (unconditional, ablated):
        assert acc["colour"] < 0.6 and acc["position"] < 0.6  # chance is 1/3; 72 images


@pytest.mark.parametrize("call, match", [
    (lambda: t2i.tokens(np.array([[3, 0, 0]])), "column 0"),
    (lambda: t2i.tokens(np.array([[0, 0]])), r"\(B, 3\)"),
    (lambda: t2i.parse_prompt("purple circle left"), "colour shape position"),
    (lambda: judge(np.zeros((2, 8, 8, 3))), r"\(B, 16, 16, 3\)"),
    (lambda: TextToImageConfig(p=3), "must divide"),
    (lambda: TextToImageConfig(p_null=1.0), "p_null"),
    (lambda: word_map(np.zeros((2, 63, 3)), 0), "P=64"),
    (lambda: attention_share(np.zeros((2, 64)), np.zeros((2, 63), bool)), r"\(B, P\)"),
    (lambda: patch_masks(np.zeros((2, 8, 8))), "masks must have shape"),
    (lambda: text_cache_flops(SMALL, steps=0), "at least 1"),
    (lambda: guide(torch.zeros(2, 3), torch.zeros(3, 2), 1.0), "same shape"),
    (lambda: layout_iou(np.zeros((1, 4, 4)), np.zeros((1, 4, 5))), r"\(B, H, W\)"),
    (lambda: prompt_accuracy(all_prompts()[:2], np.zeros((3, 16, 16, 3))), "one image per prompt"),
    (lambda: t2i.diversity(all_prompts()[:2], np.zeros((2, 16, 16, 3))), "at least two images"),
])
def test_bad_inputs_are_refused_with_a_clear_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_denoiser_refuses_bad_shapes_and_an_empty_cache(small_model):
    x = torch.zeros(2, 64, 12)
    words = torch.from_numpy(t2i.tokens(all_prompts()[:2]))
    with pytest.raises(ValueError, match="x must have shape"):
        small_model(torch.zeros(2, 63, 12), torch.zeros(2), words)
    with pytest.raises(ValueError, match="t must have shape"):
        small_model(x, torch.zeros(3), words)
    with pytest.raises(ValueError, match="text cache is filled"):
        small_model(x, torch.zeros(2), None, [t2i.KVCache(static=True) for _ in small_model.blocks])
    with pytest.raises(ValueError, match="steps must be"):
        sample(small_model, all_prompts()[:1], steps=0)
    with pytest.raises(ValueError, match="inject must have shape"):
        sample(small_model, all_prompts()[:1], steps=2, inject=np.zeros((2, 2, 1, 2, 64, 2)))
