"""Text that reads an image: synthetic scenes, patches, and a tiny question answerer (chapter 8).

A scene is a small RGB image (H = W = 32 pixels by default) on a black background, cut into a
4 × 4 grid of 8 × 8 cells. Three of the cells hold one coloured shape each (distinct shapes,
distinct colours). A question names one of them, either by its shape ("what colour is the
circle ?") or by its colour ("which shape is coloured red ?"), and the answer is its other
attribute. Nothing is downloaded: images are drawn with NumPy from a seed.

The model, :class:`PatchReader`, is the smallest thing that answers by cross-attention, in the
spirit of ViT patches (Dosovitskiy et al., 2021) read by text (as in Flamingo's cross-attention
layers): the image is cut into P patches, each flattened and mapped linearly to d_model (the
source S, n = P keys and values); the question's tokens (the target X, m = 6 queries) run one
decoder layer of the package (:class:`crossattn.layers.DecoderLayer`: self-attention over the
question, then cross-attention to the patches), and the answer is read from the mean of the
question's states.

Shapes: B batch, H × W × C image, p patch side, P = (H/p)·(W/p) patches, patch_dim = p·p·C,
m question length, d_model model width, h heads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from .layers import DecoderLayer
from .train import optimise, seed_everything

__all__ = [
    "SHAPES", "COLOURS", "WORDS", "ANSWERS", "QUESTION_LENGTH", "shape_masks", "patchify", "unpatchify",
    "Scenes", "make_scenes", "PatchReaderConfig", "PatchReader", "train_patch_reader", "answer_accuracy",
    "question_weights", "KEY_WORD", "asks_colour", "hiding_mask", "weight_on_target", "describe", "overlay_weights",
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


def make_scenes(n: int, seed: int, image_size: int = 32, p: int = 8, n_objects: int = 3) -> Scenes:
    """``n`` random scenes and questions, drawn from ``seed`` (the same seed gives the same scenes)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if image_size % p:
        raise ValueError(f"the patch side p={p} must divide image_size={image_size}")
    grid = image_size // p
    if not 1 <= n_objects <= min(len(SHAPES), len(COLOURS), grid * grid):
        raise ValueError(f"n_objects must lie in 1..{min(len(SHAPES), len(COLOURS), grid * grid)}, got {n_objects}")
    rng = np.random.default_rng(seed)
    shapes = np.argsort(rng.random((n, len(SHAPES))), axis=1)[:, :n_objects]  # (n, k) distinct shapes
    colours = np.argsort(rng.random((n, len(COLOURS))), axis=1)[:, :n_objects]  # (n, k) distinct colours
    cells = np.argsort(rng.random((n, grid * grid)), axis=1)[:, :n_objects]  # (n, k) distinct cells
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


# -- the model --------------------------------------------------------------------------------------

@dataclass
class PatchReaderConfig:
    """Settings of :class:`PatchReader` and :func:`train_patch_reader`; the defaults train in seconds."""

    image_size: int = 32  # H = W
    p: int = 8  # patch side: a 4 × 4 grid, P = 16 patches
    d_model: int = 32  # model width
    h: int = 2  # heads
    d_ff: int = 64  # feed-forward width
    steps: int = 300  # Adam steps
    batch_size: int = 64  # fresh scenes per step
    lr: float = 3e-3  # Adam learning rate
    clip: float = 1.0  # gradient-norm clipping
    seed: int = 0  # initialisation and training scenes

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.p) ** 2

    @property
    def patch_dim(self) -> int:
        return self.p * self.p * 3


class PatchReader(nn.Module):
    """Question tokens cross-attend to image patches; the answer is read from their mean state.

    forward(questions (B, m), patches (B, P, patch_dim)) -> logits (B, len(ANSWERS)). The weights
    of the last call of the cross-attention are in ``self.layer.cross_attn.last_weights``,
    shape (B, h, m, P).
    """

    def __init__(self, cfg: PatchReaderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = nn.Linear(cfg.patch_dim, cfg.d_model)  # a linear map of each flattened patch, as in ViT
        self.patch_pos = nn.Parameter(0.02 * torch.randn(cfg.n_patches, cfg.d_model))  # (P, d_model) learned
        self.word_embed = nn.Embedding(len(WORDS), cfg.d_model)
        self.word_pos = nn.Parameter(0.02 * torch.randn(QUESTION_LENGTH, cfg.d_model))  # (m, d_model)
        self.layer = DecoderLayer(cfg.d_model, cfg.h, cfg.d_ff)  # self-attention over the question, then cross-attention
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, len(ANSWERS))

    def forward(self, questions: Tensor, patches: Tensor) -> Tensor:
        if patches.dim() != 3 or patches.shape[1:] != (self.cfg.n_patches, self.cfg.patch_dim):
            raise ValueError(f"patches must have shape (B, P={self.cfg.n_patches}, patch_dim={self.cfg.patch_dim}), "
                             f"got {tuple(patches.shape)}")
        s = self.patch_embed(patches) + self.patch_pos  # (B, P, d_model): the source S
        x = self.word_embed(questions) + self.word_pos  # (B, m, d_model): the target X
        y = self.layer(x, s)  # no masks: the question is given whole, every patch is real
        return self.head(self.norm(y.mean(dim=1)))  # mean over the m words: (B, d_model) -> (B, len(ANSWERS))


def _tensors(scenes: Scenes, p: int) -> tuple[Tensor, Tensor]:
    patches = torch.from_numpy(patchify(scenes.images, p))  # (B, P, patch_dim)
    return torch.from_numpy(scenes.questions), patches


def train_patch_reader(cfg: PatchReaderConfig | None = None) -> tuple[PatchReader, list[float]]:
    """Train a :class:`PatchReader` on fresh scenes (a new batch each step); return it and the losses."""
    cfg = cfg or PatchReaderConfig()
    seed_everything(cfg.seed)
    model = PatchReader(cfg)

    def loss_at(step: int) -> Tensor:  # fresh scenes every step
        scenes = make_scenes(cfg.batch_size, seed=10_000 * (cfg.seed + 1) + step, image_size=cfg.image_size, p=cfg.p)
        questions, patches = _tensors(scenes, cfg.p)
        return F.cross_entropy(model(questions, patches), torch.from_numpy(scenes.answers))

    return model, optimise(model, loss_at, cfg.steps, cfg.lr, cfg.clip)


@torch.no_grad()
def answer_accuracy(model: PatchReader, scenes: Scenes, keep: NDArray[np.bool_] | None = None) -> float:
    """Fraction of questions answered right. ``keep`` (B, P), True = the question may read that
    patch, blocks patches from the cross-attention (e.g. the one the question is about)."""
    questions, patches = _tensors(scenes, model.cfg.p)
    if keep is None:
        logits = model(questions, patches)
    else:
        logits = _forward_with_patch_mask(model, questions, patches, torch.as_tensor(keep))
    return (logits.argmax(-1).numpy() == scenes.answers).mean().item()


def _forward_with_patch_mask(model: PatchReader, questions: Tensor, patches: Tensor, keep: Tensor) -> Tensor:
    if keep.shape != patches.shape[:2] or keep.dtype != torch.bool:
        raise ValueError(f"keep must be a boolean (B, P) = {tuple(patches.shape[:2])} mask, got {keep.dtype} "
                         f"{tuple(keep.shape)}")
    s = model.patch_embed(patches) + model.patch_pos  # (B, P, d_model)
    x = model.word_embed(questions) + model.word_pos  # (B, m, d_model)
    y = model.layer(x, s, cross_mask=keep[:, None, None, :])  # (B, 1, 1, P) broadcasts to (B, h, m, P)
    return model.head(model.norm(y.mean(dim=1)))


@torch.no_grad()
def question_weights(model: PatchReader, scenes: Scenes) -> NDArray[np.float64]:
    """Cross-attention weights of every question word over the patches, averaged over the heads:
    array (B, m, P); entry [b, i, k] is how much word i of question b reads patch k."""
    questions, patches = _tensors(scenes, model.cfg.p)
    model(questions, patches)
    return model.layer.cross_attn.last_weights.mean(dim=1).double().numpy()  # (B, h, m, P) -> (B, m, P)


#: The position of the word that names the object in every question ("circle", "red", ...).
KEY_WORD = 4


def weight_on_target(model: PatchReader, scenes: Scenes, word: int = KEY_WORD) -> NDArray[np.float64]:
    """For each scene, the weight (mean over heads) that question word ``word`` puts on the patch of
    the object the question is about: array (B,)."""
    w = question_weights(model, scenes)[:, word, :]  # (B, P)
    return w[np.arange(len(scenes)), scenes.target_cell]


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


def overlay_weights(ax, image: NDArray, weights: NDArray | None, p: int, title: str | None = None,
                    alpha: float = 0.5, fontsize: float = 11) -> None:
    """Draw ``image`` (H, W, 3) with its patch grid and, if given, one patch-weight map (P,) on top.

    Each patch is tinted white in proportion to its weight (the largest weight most strongly), so
    a patch the query reads lights up while the shape in it stays visible; ``weights=None`` draws
    the image and the grid only.
    """
    image = np.asarray(image, dtype=float)
    H, W, _ = image.shape
    grid_h, grid_w = H // p, W // p
    ax.imshow(image, interpolation="nearest")
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != (grid_h * grid_w,):
            raise ValueError(f"weights must have one entry per patch, shape ({grid_h * grid_w},), got {w.shape}")
        heat = np.kron(w.reshape(grid_h, grid_w) / max(w.max(), 1e-12), np.ones((p, p)))  # (H, W), row-major patches
        white = np.ones((H, W, 4))
        white[..., 3] = alpha * heat  # transparency follows the weight
        ax.imshow(white, interpolation="nearest")
    for k in range(1, grid_w):
        ax.axvline(k * p - 0.5, color="0.55", lw=0.6)
    for k in range(1, grid_h):
        ax.axhline(k * p - 0.5, color="0.55", lw=0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)
