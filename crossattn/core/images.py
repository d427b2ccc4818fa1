"""Synthetic scenes for text that reads an image (chapter 8): coloured shapes on a grid, and patches.

A scene is a small RGB image (H = W = 32 pixels by default) on a black background, cut into a
4 × 4 grid of 8 × 8 cells. Three of the cells hold one coloured shape each (distinct shapes,
distinct colours). A question names one of them, either by its shape ("what colour is the
circle ?") or by its colour ("which shape is coloured red ?"), and the answer is its other
attribute. Nothing is downloaded: images are drawn with NumPy from a seed.

The model that answers the questions by cross-attention is in
:mod:`crossattn.experiments.patch_reader`; the drawing of weights over an image in
:mod:`crossattn.viz.images`.

Shapes: B batch, H × W × C image, p patch side, P = (H/p)·(W/p) patches, patch_dim = p·p·C,
m question length.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SHAPES", "COLOURS", "WORDS", "ANSWERS", "QUESTION_LENGTH", "KEY_WORD", "shape_masks", "patchify", "unpatchify",
    "Scenes", "SPLITS", "scene_in_test_split", "make_scenes", "describe", "asks_colour", "hiding_mask",
]

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {  # name -> RGB in [0, 1]
    "red": (0.90, 0.12, 0.12),
    "green": (0.10, 0.70, 0.20),
    "blue": (0.20, 0.40, 1.00),
    "yellow": (0.95, 0.85, 0.10),
}
_COLOUR_NAMES = tuple(COLOURS)
_RGB = np.array([COLOURS[c] for c in _COLOUR_NAMES], dtype=np.float32)  # (4 colours, 3)

#: The question vocabulary: every question is 6 of these words, the last one "?".
WORDS = ("what", "colour", "is", "the", "which", "shape", "coloured", "?", *SHAPES, *_COLOUR_NAMES)
#: The answers the model chooses from: a colour (for a shape question) or a shape (for a colour question).
ANSWERS = (*_COLOUR_NAMES, *SHAPES)
QUESTION_LENGTH = 6
_WORD = {w: i for i, w in enumerate(WORDS)}


def shape_masks(p: int = 8) -> NDArray[np.float32]:
    """One p × p drawing per shape, 1 inside the shape and 0 outside: array (len(SHAPES), p, p)."""
    if p < 6:
        raise ValueError(f"the patch side p must be at least 6 pixels to draw the shapes, got {p}")
    y, x = np.mgrid[0:p, 0:p] + 0.5  # pixel centres, (p, p) each
    c, r = p / 2, p / 2 - 1  # centre and half-size, one pixel of margin
    circle = (y - c) ** 2 + (x - c) ** 2 <= (1.1 * r) ** 2
    square = (np.abs(y - c) <= r * 0.8) & (np.abs(x - c) <= r * 0.8)
    triangle = (y >= c - r) & (y <= c + r) & (np.abs(x - c) <= (y - (c - r)) / 2)  # apex at the top
    cross = ((np.abs(y - c) <= r) & (np.abs(x - c) <= 1)) | ((np.abs(x - c) <= r) & (np.abs(y - c) <= 1))
    return np.stack([circle, square, triangle, cross]).astype(np.float32)  # (4, p, p)


def patchify(images: NDArray, p: int) -> NDArray:
    """Cut images into non-overlapping p × p patches, each flattened (chapter 8).

    Args:
        images: array (B, H, W, C); H and W must be multiples of p.
        p: the patch side in pixels.

    Returns:
        Array (B, P, p·p·C) with P = (H/p)·(W/p). Patches are numbered row by row (left to
        right, then top to bottom, like reading a page); inside a patch the values are in the
        order (pixel row, pixel column, channel), so ``patches[b, k].reshape(p, p, C)`` is the
        k-th patch as a small image.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, H, W, C), got shape {images.shape}")
    B, H, W, C = images.shape
    if p < 1 or H % p or W % p:
        raise ValueError(f"the patch side p={p} must divide the height H={H} and the width W={W}")
    grid = images.reshape(B, H // p, p, W // p, p, C)  # (B, rows, p, cols, p, C)
    grid = grid.transpose(0, 1, 3, 2, 4, 5)  # (B, rows, cols, p, p, C): one patch per (row, col)
    return grid.reshape(B, (H // p) * (W // p), p * p * C)  # (B, P, patch_dim)


def unpatchify(patches: NDArray, p: int, H: int, W: int) -> NDArray:
    """The inverse of :func:`patchify`: patches (B, P, p·p·C) back to images (B, H, W, C)."""
    patches = np.asarray(patches)
    if patches.ndim != 3 or H % p or W % p or patches.shape[1] != (H // p) * (W // p) or patches.shape[2] % (p * p):
        raise ValueError(f"patches of shape {patches.shape} do not tile an {H} × {W} image with p={p}")
    B, _, patch_dim = patches.shape
    C = patch_dim // (p * p)
    grid = patches.reshape(B, H // p, W // p, p, p, C)  # (B, rows, cols, p, p, C)
    return grid.transpose(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)  # (B, rows, p, cols, p, C) -> (B, H, W, C)


@dataclass
class Scenes:
    """A batch of scenes with one question each.

    images: (B, H, W, 3) float32 in [0, 1]; shapes, colours, cells: (B, 3) ints — object k of
    scene b is SHAPES[shapes[b, k]] in colour colours[b, k] at grid cell cells[b, k] (row-major);
    questions: (B, 6) word ids; answers: (B,) ids into ANSWERS; target_cell: (B,) the grid cell
    of the object the question is about; grid: cells per side.
    """

    images: NDArray[np.float32]
    shapes: NDArray[np.int64]
    colours: NDArray[np.int64]
    cells: NDArray[np.int64]
    questions: NDArray[np.int64]
    answers: NDArray[np.int64]
    target_cell: NDArray[np.int64]
    grid: int

    def __len__(self) -> int:
        return len(self.answers)

    def question_text(self, b: int) -> str:
        """Scene b's question as words."""
        return " ".join(WORDS[i] for i in self.questions[b])


#: What ``make_scenes(split=...)`` accepts: any scene, or only the training or the held-out part.
SPLITS = (None, "train", "test")
_TEST_EIGHTHS = 1  # 1/8 of all images are held out for testing


def scene_in_test_split(cells: NDArray, shapes: NDArray, colours: NDArray) -> NDArray[np.bool_]:
    """For each scene, is its IMAGE in the held-out part? cells, shapes, colours: (B, k) ints.

    The image is fixed by its set of objects (cell, shape, colour), whatever their order. Each object
    is coded as one byte (cell·16 + shape·4 + colour, for up to 16 cells), the bytes sorted and joined
    into one integer, and a multiplicative hash of that integer (Knuth's, mod 2³²) sends 1/8 of all
    images to the test part. A training scene and a test scene therefore never show the same image,
    even with another question: the split is disjoint by construction, not by luck.
    """
    cells, shapes, colours = (np.asarray(a, dtype=np.int64) for a in (cells, shapes, colours))
    if not cells.shape == shapes.shape == colours.shape or cells.ndim != 2:
        raise ValueError(f"cells, shapes and colours must be (B, k) arrays of one shape, got {cells.shape}, "
                         f"{shapes.shape} and {colours.shape}")
    if cells.size and (cells.min() < 0 or cells.max() > 15 or shapes.min() < 0 or shapes.max() >= len(SHAPES)
                       or colours.min() < 0 or colours.max() >= len(COLOURS)):
        raise ValueError("cells must lie in 0..15, shapes and colours in 0..3")
    codes = np.sort(cells * 16 + shapes * 4 + colours, axis=1).astype(np.uint64)  # (B, k) one byte per object
    key = np.zeros(len(codes), dtype=np.uint64)
    for column in codes.T:
        key = key * np.uint64(256) + column  # (B,) < 2^(8k): the set of objects as one integer
    hashed = (key * np.uint64(2654435761)) % np.uint64(2 ** 32)  # Knuth's multiplicative hash
    return hashed >> np.uint64(29) < np.uint64(_TEST_EIGHTHS)  # the top 3 bits: 1/8 of images


def make_scenes(n: int, seed: int, image_size: int = 32, p: int = 8, n_objects: int = 3,
                split: str | None = None) -> Scenes:
    """``n`` random scenes and questions, drawn from ``seed`` (the same seed gives the same scenes).

    split: None draws any scene; ``"train"`` only scenes whose image is in the training part,
    ``"test"`` only those in the held-out part (:func:`scene_in_test_split`, 1/8 of all images), so
    that a model trained on ``"train"`` scenes is tested on images it cannot have seen.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if image_size % p:
        raise ValueError(f"the patch side p={p} must divide image_size={image_size}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    grid = image_size // p
    if not 1 <= n_objects <= min(len(SHAPES), len(COLOURS), grid * grid):
        raise ValueError(f"n_objects must lie in 1..{min(len(SHAPES), len(COLOURS), grid * grid)}, got {n_objects}")
    if split is not None and grid * grid > 16:
        raise ValueError(f"split needs at most 16 grid cells, got {grid * grid}")
    rng = np.random.default_rng(seed)

    def draw(count: int) -> tuple[NDArray, NDArray, NDArray]:
        shapes = np.argsort(rng.random((count, len(SHAPES))), axis=1)[:, :n_objects]  # (count, k) distinct shapes
        colours = np.argsort(rng.random((count, len(COLOURS))), axis=1)[:, :n_objects]  # (count, k) distinct colours
        cells = np.argsort(rng.random((count, grid * grid)), axis=1)[:, :n_objects]  # (count, k) distinct cells
        return shapes, colours, cells

    shapes, colours, cells = draw(n)
    if split is not None:  # keep the scenes of the split, drawing more until there are n
        kept, total, rounds = ([], [], []), 0, 0
        while total < n:
            if rounds:  # the test part holds 1/8 of images: draw about enough at once
                shapes, colours, cells = draw((10 if split == "test" else 2) * n)
            rounds += 1
            ok = scene_in_test_split(cells, shapes, colours) == (split == "test")  # (count,)
            for store, array in zip(kept, (shapes, colours, cells)):
                store.append(array[ok])
            total += int(ok.sum())
        shapes, colours, cells = (np.concatenate(store)[:n] for store in kept)
    masks = shape_masks(p)  # (4, p, p)
    patches = np.zeros((n, grid * grid, p, p, 3), dtype=np.float32)  # drawn patch by patch
    rows = np.arange(n)
    for k in range(n_objects):
        patches[rows, cells[:, k]] = masks[shapes[:, k], :, :, None] * _RGB[colours[:, k], None, None, :]
    images = unpatchify(patches.reshape(n, grid * grid, -1), p, image_size, image_size)  # (n, H, W, 3)

    about = rng.integers(n_objects, size=n)  # which object each question is about
    by_colour = rng.random(n) < 0.5  # half the questions name the colour, half the shape
    shape_of, colour_of = shapes[rows, about], colours[rows, about]
    questions = np.empty((n, QUESTION_LENGTH), dtype=np.int64)
    questions[:] = [_WORD[w] for w in ("what", "colour", "is", "the", "circle", "?")]
    questions[:, 4] = _WORD[SHAPES[0]] + shape_of  # "what colour is the <shape> ?"
    colour_q = [_WORD[w] for w in ("which", "shape", "is", "coloured")]
    questions[by_colour, :4] = colour_q  # "which shape is coloured <colour> ?"
    questions[by_colour, 4] = _WORD[_COLOUR_NAMES[0]] + colour_of[by_colour]
    answers = np.where(by_colour, len(_COLOUR_NAMES) + shape_of, colour_of)
    return Scenes(images, shapes, colours, cells, questions, answers, cells[rows, about], grid)


def describe(scenes: Scenes, b: int) -> str:
    """What scene b holds, e.g. 'red circle at cell 5, blue square at cell 9, ...'."""
    return ", ".join(f"{_COLOUR_NAMES[c]} {SHAPES[s]} at cell {cell}"
                     for s, c, cell in zip(scenes.shapes[b], scenes.colours[b], scenes.cells[b]))


#: The position of the word that names the object in every question ("circle", "red", ...).
KEY_WORD = 4


def asks_colour(scenes: Scenes) -> NDArray[np.bool_]:
    """(B,) True where the question asks for a colour ("what colour is the circle ?"), False where it
    asks for a shape ("which shape is coloured red ?")."""
    return scenes.answers < len(_COLOUR_NAMES)


def hiding_mask(scenes: Scenes, hide: str, seed: int = 0) -> NDArray[np.bool_]:
    """A (B, P) cross-attention mask, True = may attend, that hides ONE patch per question:
    ``hide="target"`` the patch of the object asked about, ``"other_object"`` the patch of another,
    randomly chosen object of the scene, ``"empty"`` a randomly chosen patch with no object (drawn
    from ``seed``). The last two are the controls for the first."""
    if hide not in ("target", "other_object", "empty"):
        raise ValueError(f"hide must be 'target', 'other_object' or 'empty', got {hide!r}")
    rng = np.random.default_rng(seed)
    P = scenes.grid * scenes.grid
    keep = np.ones((len(scenes), P), dtype=bool)  # (B, P)
    for b in range(len(scenes)):
        if hide == "target":
            cell = scenes.target_cell[b]
        elif hide == "other_object":
            cell = rng.choice([c for c in scenes.cells[b] if c != scenes.target_cell[b]])
        else:
            cell = rng.choice([c for c in range(P) if c not in scenes.cells[b]])
        keep[b, cell] = False
    return keep
