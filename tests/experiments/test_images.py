"""Chapter 8's images: patches in the right order, scenes that match their questions, and a reader
whose cross-attention obeys its mask."""
import numpy as np
import pytest
import torch

from crossattn.core import images
from crossattn.core.images import (
    ANSWERS,
    COLOURS,
    SHAPES,
    WORDS,
    make_scenes,
    patchify,
    shape_masks,
    unpatchify,
)
from crossattn.experiments import patch_reader
from crossattn.experiments.patch_reader import (
    PatchReader,
    PatchReaderConfig,
    answer_accuracy,
    question_weights,
)


def test_patchify_numbers_patches_row_by_row_and_keeps_each_patch_an_image():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 12, 8, 3))  # 3 × 2 grid of 4 × 4 patches
    patches = patchify(x, 4)
    assert patches.shape == (2, 6, 48)
    for k in range(6):
        r, c = divmod(k, 2)  # row-major: 2 patches per grid row
        assert np.array_equal(patches[:, k].reshape(2, 4, 4, 3), x[:, 4 * r:4 * r + 4, 4 * c:4 * c + 4])
    assert np.array_equal(unpatchify(patches, 4, 12, 8), x)


def test_patchify_agrees_with_torch_unfold():
    # An independent reference: torch's unfold cuts (B, C, H, W) into blocks in the same row-major order.
    x = np.random.default_rng(1).normal(size=(3, 16, 24, 2))
    t = torch.from_numpy(x).permute(0, 3, 1, 2)  # (B, C, H, W)
    blocks = t.unfold(2, 8, 8).unfold(3, 8, 8)  # (B, C, rows, cols, p, p)
    ref = blocks.permute(0, 2, 3, 4, 5, 1).reshape(3, -1, 8 * 8 * 2)  # (B, P, p·p·C), (row, col, channel)
    assert np.allclose(patchify(x, 8), ref.numpy())


@pytest.mark.parametrize("shape, p, match", [
    ((2, 12, 8), 4, r"\(B, H, W, C\)"),
    ((2, 12, 8, 3), 5, "must divide"),
    ((2, 12, 8, 3), 0, "must divide"),
])
def test_patchify_names_what_is_wrong(shape, p, match):
    with pytest.raises(ValueError, match=match):
        patchify(np.zeros(shape), p)


def test_unpatchify_refuses_patches_that_do_not_tile_the_image():
    with pytest.raises(ValueError, match="do not tile"):
        unpatchify(np.zeros((1, 5, 48)), 4, 12, 8)


def test_the_four_shapes_are_different_drawings():
    masks = shape_masks(8)
    assert masks.shape == (len(SHAPES), 8, 8)
    flat = masks.reshape(len(SHAPES), -1)
    assert len({tuple(row) for row in flat}) == len(SHAPES)
    assert np.all(flat.sum(axis=1) >= 12)  # each shape is a visible blob, not a speck
    with pytest.raises(ValueError, match="at least 6"):
        shape_masks(4)


def test_scenes_are_reproducible_and_their_questions_are_about_one_of_their_objects():
    a, b = make_scenes(200, seed=5), make_scenes(200, seed=5)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.questions, b.questions)
    assert not np.array_equal(make_scenes(200, seed=6).images, a.images)
    masks = shape_masks(8)
    rgb = np.array(list(COLOURS.values()))
    patches = patchify(a.images, 8).reshape(200, 16, 8, 8, 3)
    for i in range(200):
        assert len(set(a.shapes[i])) == len(set(a.colours[i])) == len(set(a.cells[i])) == 3
        empty = np.setdiff1d(np.arange(16), a.cells[i])
        assert np.all(patches[i, empty] == 0)  # only the object cells are drawn
        for s, c, cell in zip(a.shapes[i], a.colours[i], a.cells[i]):
            assert np.allclose(patches[i, cell], masks[s][..., None] * rgb[c])
        words = a.question_text(i).split()
        k = list(a.cells[i]).index(a.target_cell[i])  # the object the question is about
        shape, colour = SHAPES[a.shapes[i, k]], list(COLOURS)[a.colours[i, k]]
        if words[1] == "colour":  # what colour is the <shape> ?
            assert words[4] == shape and ANSWERS[a.answers[i]] == colour
        else:  # which shape is coloured <colour> ?
            assert words[4] == colour and ANSWERS[a.answers[i]] == shape
    kinds = {a.question_text(i).split()[1] for i in range(200)}
    assert kinds == {"colour", "shape"}


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0, "seed": 0}, "at least 1"),
    ({"n": 3, "seed": 0, "image_size": 30}, "must divide"),
    ({"n": 3, "seed": 0, "n_objects": 5}, "n_objects"),
])
def test_make_scenes_names_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_scenes(**kwargs)


def _untrained():
    torch.manual_seed(0)
    return PatchReader(PatchReaderConfig()).eval()


def test_reader_shapes_and_weights():
    model, scenes = _untrained(), make_scenes(5, seed=2)
    q, p = torch.from_numpy(scenes.questions), torch.from_numpy(patchify(scenes.images, 8))
    with torch.no_grad():
        assert model(q, p).shape == (5, len(ANSWERS))
    w = question_weights(model, scenes)
    assert w.shape == (5, 6, 16) and np.allclose(w.sum(-1), 1)
    with pytest.raises(ValueError, match="patches must have shape"):
        model(q, p[:, :8])
    assert len(WORDS) == len(set(WORDS))


def test_a_hidden_patch_gets_zero_weight_and_all_true_changes_nothing():
    model, scenes = _untrained(), make_scenes(6, seed=3)
    keep = np.ones((6, 16), dtype=bool)
    assert answer_accuracy(model, scenes, keep) == answer_accuracy(model, scenes)
    q, p = torch.from_numpy(scenes.questions), torch.from_numpy(patchify(scenes.images, 8))
    keep[np.arange(6), scenes.target_cell] = False
    with torch.no_grad():
        masked = patch_reader._forward_with_patch_mask(model, q, p, torch.from_numpy(keep))
        w = model.layer.cross_attn.last_weights  # of the masked call: (B, h, m, P)
        plain = model(q, p)
    hidden = w[torch.arange(6), ..., torch.from_numpy(scenes.target_cell)]  # (B, h, m)
    assert hidden.shape == (6, 2, 6) and torch.all(hidden == 0)
    assert torch.allclose(w.sum(-1), torch.ones(6, 2, 6))
    assert not torch.allclose(masked, plain)
    with pytest.raises(ValueError, match="boolean"):
        patch_reader._forward_with_patch_mask(model, q, p, torch.ones(6, 16))


@pytest.mark.slow
def test_trained_reader_finds_the_object_and_fails_without_its_patch():
    model, losses = patch_reader.train_patch_reader()
    test = make_scenes(500, seed=321, split="test")  # images the reader cannot have seen
    assert np.mean(losses[-20:]) < 0.2 * losses[0]
    assert answer_accuracy(model, test) > 0.95
    w = question_weights(model, test)[:, images.KEY_WORD]  # (B, P)
    assert (w.argmax(-1) == test.target_cell).mean() > 0.7
    keep = np.ones((500, 16), dtype=bool)
    keep[np.arange(500), test.target_cell] = False
    assert answer_accuracy(model, test, keep) < 0.4


def test_hiding_mask_hides_exactly_the_patch_asked_for():
    scenes = images.make_scenes(50, seed=5)
    rows = np.arange(len(scenes))
    for hide in ("target", "other_object", "empty"):
        keep = images.hiding_mask(scenes, hide, seed=1)
        assert keep.shape == (50, 16) and keep.dtype == bool
        assert (keep.sum(axis=1) == 15).all()  # one patch per question
        hidden = np.argmin(keep, axis=1)  # (B,) the blocked patch
        on_target = hidden == scenes.target_cell
        on_object = np.array([h in c for h, c in zip(hidden, scenes.cells)])
        if hide == "target":
            assert on_target.all()
        elif hide == "other_object":
            assert on_object.all() and not on_target.any()
        else:
            assert not on_object.any()
    assert not images.hiding_mask(scenes, "target")[rows, scenes.target_cell].any()
    with pytest.raises(ValueError, match="hide must be"):
        images.hiding_mask(scenes, "background")


def test_asks_colour_follows_the_question_words():
    scenes = images.make_scenes(40, seed=6)
    colour = images.asks_colour(scenes)
    assert colour.any() and not colour.all()
    for b in range(len(scenes)):
        assert colour[b] == scenes.question_text(b).startswith("what colour")


def _image_keys(scenes):
    return {tuple(sorted(zip(c, s, k))) for c, s, k in zip(scenes.cells.tolist(), scenes.shapes.tolist(),
                                                           scenes.colours.tolist())}


def test_train_and_test_scenes_never_share_an_image():
    train = make_scenes(8000, seed=5, split="train")
    test = make_scenes(1000, seed=6, split="test")
    assert not _image_keys(train) & _image_keys(test)  # disjoint by construction
    assert images.scene_in_test_split(test.cells, test.shapes, test.colours).all()
    assert not images.scene_in_test_split(train.cells, train.shapes, train.colours).any()
    # control: an unsplit sample of the same size does meet the training images
    assert _image_keys(train) & _image_keys(make_scenes(1000, seed=6))
    # the split follows the image, not the order in which its objects were drawn
    flipped = [a[:, ::-1] for a in (test.cells, test.shapes, test.colours)]
    assert images.scene_in_test_split(*flipped).all()
    any_ = make_scenes(4000, seed=7)
    share = images.scene_in_test_split(any_.cells, any_.shapes, any_.colours).mean()
    assert 0.09 < share < 0.16  # about 1/8 of images are held out
    assert len(make_scenes(3, seed=0, split="test")) == 3  # a small draw still terminates


def test_split_scenes_are_reproducible_and_match_their_questions():
    a, b = make_scenes(50, seed=2, split="test"), make_scenes(50, seed=2, split="test")
    assert np.array_equal(a.images, b.images) and np.array_equal(a.questions, b.questions)
    rows = np.arange(50)
    for b_ in rows[:10]:
        assert a.target_cell[b_] in a.cells[b_]
    with pytest.raises(ValueError, match="split must be"):
        make_scenes(5, seed=0, split="validation")
    with pytest.raises(ValueError, match="one shape"):
        images.scene_in_test_split(np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="0..15"):
        images.scene_in_test_split(np.full((1, 1), 16), np.zeros((1, 1)), np.zeros((1, 1)))


def _other_words_on_objects(model, test):
    """Mean weight the five non-naming words of colour questions put on the three object patches (3/16 if even)."""
    w = question_weights(model, test)  # (B, m, P)
    rows = np.arange(len(test))[:, None]
    on_objects = w[:, [0, 1, 2, 3, 5]][rows, :, test.cells].sum(axis=1)  # (B, 5 words)
    return on_objects[images.asks_colour(test)].mean()


@pytest.mark.slow
def test_what_the_other_words_read_depends_on_the_seed():
    # Chapter 8 makes no claim about the five words that do not name the object, because what they read
    # changes with the training seed: seed 0 keeps them off the objects, seed 1 sends them there
    # (0.056 and 0.277 measured, default and portable kernels alike; 3/16 if spread evenly).
    test = make_scenes(1000, seed=123, split="test")
    seen = [_other_words_on_objects(patch_reader.train_patch_reader(PatchReaderConfig(seed=s))[0], test)
            for s in (0, 1)]
    assert seen[0] < 3 / 16 < seen[1]
