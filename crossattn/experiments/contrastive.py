"""CLIP, corrected: a tiny dual encoder trained with a contrastive loss has no cross-attention (chapter 10).

CLIP (Radford et al., 2021, §2.3) encodes an image and a caption separately, each into one vector,
and trains the pair's dot product to be high and the dot products with the other captions (and
images) of the batch to be low. :class:`DualEncoder` is that recipe at the scale of a CPU, on
chapter 8's synthetic scenes (:func:`crossattn.core.images.make_scenes`, reused, never copied):

* **Captions.** A scene holds three objects of distinct shapes and colours; its caption names
  them as "colour shape" pairs in the fixed order of :data:`~crossattn.core.images.SHAPES`, e.g.
  "blue circle red triangle green cross" (:func:`captions`). There are 4 · 4 · 3 · 2 = 96 distinct
  captions (:func:`all_captions`); the caption says nothing about where the objects are.
* **Image encoder.** Patches (chapter 8's :func:`~crossattn.core.images.patchify`) -> linear map +
  learned positions -> one self-attention layer of the package
  (:class:`~crossattn.nn.layers.EncoderLayer`) -> LayerNorm -> mean over patches -> linear -> L2
  normalisation. **Text encoder.** Word embeddings + positions -> one ``EncoderLayer`` -> LayerNorm
  -> mean over words -> linear -> L2 normalisation. Nothing in either encoder reads the other
  modality: :meth:`DualEncoder.encode_image` does not even take the text.
* **Loss.** The symmetric InfoNCE loss of CLIP's pseudo-code: cross-entropy over the B × B matrix
  of scaled cosine similarities, image -> text along rows and text -> image along columns, with a
  learned temperature (:func:`contrastive_loss`). A training batch keeps each caption at most once,
  so every off-diagonal pair is a true negative.

The opposite configuration, one switch away (``image_reads_text=True``): the image encoder's layer
becomes the package's :class:`~crossattn.nn.layers.DecoderLayer`, whose patch queries cross-attend
to the caption's word states, as chapter 9's denoiser does. Its image states then change when the
caption changes (:func:`image_states_move`), which the dual encoder's cannot.

Shapes: B batch, P patches, patch_dim = p·p·3, m = 6 caption words, d = d_model, e = d_embed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from ..core.images import COLOURS, SHAPES, WORDS, Scenes, make_scenes, patchify, scene_in_test_split
from ..nn.layers import DecoderLayer, EncoderLayer
from ..nn.train import optimise, seed_everything

__all__ = [
    "CAPTION_LENGTH", "captions", "all_captions", "caption_ids", "caption_text", "ContrastiveConfig",
    "DualEncoder", "contrastive_loss", "train_dual_encoder", "held_out_gallery", "similarity", "retrieval",
    "image_states_move", "shared_objects",
]

CAPTION_LENGTH = 6  # m: three "colour shape" pairs
_COLOUR_NAMES = tuple(COLOURS)
_COLOUR_WORD = np.array([WORDS.index(c) for c in _COLOUR_NAMES])  # colour id -> word id
_SHAPE_WORD = np.array([WORDS.index(s) for s in SHAPES])  # shape id -> word id


# ---------------------------------------------------------------------------------------------------
# Captions (NumPy)
# ---------------------------------------------------------------------------------------------------

def captions(scenes: Scenes) -> NDArray[np.int64]:
    """Each scene's caption as word ids of chapter 8's vocabulary: array (B, 6).

    The three objects are named "colour shape" in the order of SHAPES (circle, square, triangle,
    cross), so the caption is a function of the image's set of (colour, shape) pairs only.
    """
    if scenes.shapes.ndim != 2 or scenes.shapes.shape[1] != 3:
        raise ValueError(f"captions need scenes of exactly 3 objects, got shapes of shape {scenes.shapes.shape}")
    order = np.argsort(scenes.shapes, axis=1)  # (B, 3): objects in the order of SHAPES
    shapes = np.take_along_axis(scenes.shapes, order, axis=1)  # (B, 3)
    colours = np.take_along_axis(scenes.colours, order, axis=1)  # (B, 3)
    words = np.empty((len(scenes), CAPTION_LENGTH), dtype=np.int64)
    words[:, 0::2] = _COLOUR_WORD[colours]  # "colour" at 0, 2, 4
    words[:, 1::2] = _SHAPE_WORD[shapes]  # "shape" at 1, 3, 5
    return words


def all_captions() -> NDArray[np.int64]:
    """The 96 distinct captions (4 choices of 3 shapes × 24 colourings), as word ids: array (96, 6)."""
    rows = []
    for left_out in range(len(SHAPES) - 1, -1, -1):  # which shape is absent
        shapes = [s for s in range(len(SHAPES)) if s != left_out]  # (3,) in the order of SHAPES
        for c0 in range(len(COLOURS)):
            for c1 in range(len(COLOURS)):
                for c2 in range(len(COLOURS)):
                    if len({c0, c1, c2}) == 3:
                        row = np.empty(CAPTION_LENGTH, dtype=np.int64)
                        row[0::2] = _COLOUR_WORD[[c0, c1, c2]]
                        row[1::2] = _SHAPE_WORD[shapes]
                        rows.append(row)
    return np.stack(rows)  # (96, 6)


def caption_ids(words: NDArray) -> NDArray[np.int64]:
    """The index in :func:`all_captions` of each caption (B, 6): array (B,)."""
    words = np.asarray(words)
    if words.ndim != 2 or words.shape[1] != CAPTION_LENGTH:
        raise ValueError(f"captions must be an array (B, {CAPTION_LENGTH}) of word ids, got shape {words.shape}")
    table = {tuple(row): i for i, row in enumerate(all_captions().tolist())}
    ids = [table.get(tuple(row)) for row in words.tolist()]
    if None in ids:
        bad = words[ids.index(None)]
        raise ValueError(f"not a caption of three distinct 'colour shape' pairs: {caption_text(bad[None])[0]!r}")
    return np.array(ids, dtype=np.int64)


def caption_text(words: NDArray) -> list[str]:
    """Captions (B, 6) as strings, e.g. 'blue circle red triangle green cross'."""
    words = np.asarray(words)
    if words.ndim != 2 or words.size and (words.min() < 0 or words.max() >= len(WORDS)):
        raise ValueError(f"captions must be a 2-d array of word ids in 0..{len(WORDS) - 1}, got shape {words.shape}")
    return [" ".join(WORDS[i] for i in row) for row in words]


def shared_objects(a: NDArray, b: NDArray) -> NDArray[np.int64]:
    """How many (colour, shape) objects caption a[i] and caption b[j] share: array (A, B) in 0..3.

    a: captions (A, 6), b: captions (B, 6), word ids.
    """
    a, b = np.asarray(a), np.asarray(b)
    for name, x in (("a", a), ("b", b)):
        if x.ndim != 2 or x.shape[1] != CAPTION_LENGTH:
            raise ValueError(f"{name} must be an array (N, {CAPTION_LENGTH}) of caption word ids, got {x.shape}")
    objects_a = a[:, 0::2] * len(WORDS) + a[:, 1::2]  # (A, 3): one code per "colour shape" pair
    objects_b = b[:, 0::2] * len(WORDS) + b[:, 1::2]  # (B, 3)
    return (objects_a[:, None, :, None] == objects_b[None, :, None, :]).sum(axis=(2, 3))  # (A, B)


# ---------------------------------------------------------------------------------------------------
# The dual encoder (torch)
# ---------------------------------------------------------------------------------------------------

@dataclass
class ContrastiveConfig:
    """Settings of :class:`DualEncoder` and :func:`train_dual_encoder`; the defaults train in seconds."""

    image_size: int = 32  # H = W, chapter 8's scenes
    p: int = 8  # patch side: a 4 × 4 grid, P = 16 patches
    d_model: int = 32  # width of both encoders
    h: int = 2  # heads
    d_ff: int = 64  # feed-forward width
    d_embed: int = 32  # e: width of the shared embedding space
    temperature: float = 0.07  # initial τ; the model learns log(1/τ), clipped at 1/τ = 100 as in CLIP
    learn_temperature: bool = True  # False: τ stays fixed
    steps: int = 200  # Adam steps
    batch_size: int = 64  # training scenes drawn per step (repeated captions are dropped)
    lr: float = 3e-3  # Adam learning rate
    clip: float = 1.0  # gradient-norm clipping
    shuffle_pairs: bool = False  # the control: captions shuffled against images at every step
    image_reads_text: bool = False  # the opposite wiring: the image layer cross-attends to the caption
    seed: int = 0  # initialisation and training scenes

    def __post_init__(self) -> None:
        if self.image_size % self.p:
            raise ValueError(f"the patch side p={self.p} must divide image_size={self.image_size}")
        if self.d_model % self.h:
            raise ValueError(f"d_model={self.d_model} is not divisible by h={self.h}")
        if not 0.0 < self.temperature <= 1.0:
            raise ValueError(f"temperature must lie in (0, 1], got {self.temperature}")
        if self.batch_size < 2:
            raise ValueError(f"a contrastive batch needs at least 2 pairs, got batch_size={self.batch_size}")

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.p) ** 2

    @property
    def patch_dim(self) -> int:
        return self.p * self.p * 3


class DualEncoder(nn.Module):
    """Two encoders that never read each other, one vector each, compared by a dot product.

    encode_image(patches (B, P, patch_dim)) -> (B, e), encode_text(words (B, m)) -> (B, e), both of
    unit length; forward returns both. With ``cfg.image_reads_text`` the image layer is a
    DecoderLayer that cross-attends to the caption, and encode_image needs the words too.
    """

    def __init__(self, cfg: ContrastiveConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.patch_embed = nn.Linear(cfg.patch_dim, d)  # each flattened patch, linearly, as in ViT
        self.patch_pos = nn.Parameter(0.02 * torch.randn(cfg.n_patches, d))  # (P, d) learned
        self.image_layer = DecoderLayer(d, cfg.h, cfg.d_ff) if cfg.image_reads_text else EncoderLayer(d, cfg.h, cfg.d_ff)
        self.image_norm = nn.LayerNorm(d)
        self.image_proj = nn.Linear(d, cfg.d_embed)
        self.word_embed = nn.Embedding(len(WORDS), d)
        self.word_pos = nn.Parameter(0.02 * torch.randn(CAPTION_LENGTH, d))  # (m, d) learned
        self.text_layer = EncoderLayer(d, cfg.h, cfg.d_ff)
        self.text_norm = nn.LayerNorm(d)
        self.text_proj = nn.Linear(d, cfg.d_embed)
        log_scale = torch.tensor(math.log(1.0 / cfg.temperature))  # CLIP: log(1/0.07)
        self.log_scale = nn.Parameter(log_scale, requires_grad=cfg.learn_temperature)

    def _check(self, patches: Tensor | None, words: Tensor | None) -> None:
        cfg = self.cfg
        if patches is not None and (patches.dim() != 3 or patches.shape[1:] != (cfg.n_patches, cfg.patch_dim)):
            raise ValueError(f"patches must have shape (B, P={cfg.n_patches}, patch_dim={cfg.patch_dim}), "
                             f"got {tuple(patches.shape)}")
        if words is not None and (words.dim() != 2 or words.shape[1] != CAPTION_LENGTH):
            raise ValueError(f"words must have shape (B, m={CAPTION_LENGTH}), got {tuple(words.shape)}")

    def _text_states(self, words: Tensor) -> Tensor:
        t = self.word_embed(words) + self.word_pos  # (B, m, d)
        return self.text_layer(t)  # (B, m, d): the caption reads itself

    def image_states(self, patches: Tensor, words: Tensor | None = None) -> Tensor:
        """The image's states after its layer: (B, P, d). ``words`` only with ``image_reads_text``."""
        self._check(patches, words)
        s = self.patch_embed(patches) + self.patch_pos  # (B, P, d)
        if not self.cfg.image_reads_text:
            if words is not None:
                raise ValueError("a dual encoder's image states take no words: pass words=None")
            return self.image_layer(s)  # (B, P, d): patches read patches, nothing else
        if words is None:
            raise ValueError("with image_reads_text=True the image states need the caption's words")
        if words.shape[0] != patches.shape[0]:
            raise ValueError(f"patches and words must hold the same B, got {patches.shape[0]} and {words.shape[0]}")
        # queries: the P patches (B, P, d); keys and values: the m caption states (B, m, d)
        return self.image_layer(s, self._text_states(words))

    def encode_image(self, patches: Tensor, words: Tensor | None = None) -> Tensor:
        """Patches (B, P, patch_dim) -> unit vectors (B, e). A dual encoder takes no words."""
        pooled = self.image_norm(self.image_states(patches, words)).mean(dim=1)  # (B, P, d) -> (B, d)
        return F.normalize(self.image_proj(pooled), dim=-1)  # (B, e), |row| = 1

    def encode_text(self, words: Tensor) -> Tensor:
        """Caption word ids (B, m) -> unit vectors (B, e)."""
        self._check(None, words)
        pooled = self.text_norm(self._text_states(words)).mean(dim=1)  # (B, m, d) -> (B, d)
        return F.normalize(self.text_proj(pooled), dim=-1)  # (B, e)

    @property
    def scale(self) -> Tensor:
        """1/τ, clipped at 100 as in CLIP."""
        return self.log_scale.exp().clamp(max=100.0)

    def forward(self, patches: Tensor, words: Tensor) -> tuple[Tensor, Tensor]:
        image = self.encode_image(patches, words if self.cfg.image_reads_text else None)  # (B, e)
        return image, self.encode_text(words)  # (B, e), (B, e)


def contrastive_loss(image: Tensor, text: Tensor, scale: Tensor | float) -> Tensor:
    """CLIP's symmetric InfoNCE loss (Radford et al., 2021, Figure 3).

    image, text: (B, e) unit vectors, row i of each a matching pair; scale = 1/τ. The logits
    are scale · image textᵀ (B, B); the loss is the mean of the cross-entropy of each image over
    the B captions and of each caption over the B images, the right answer on the diagonal.
    """
    if image.dim() != 2 or image.shape != text.shape:
        raise ValueError(f"image and text must be (B, e) arrays of one shape, got {tuple(image.shape)} and "
                         f"{tuple(text.shape)}")
    if image.shape[0] < 2:
        raise ValueError(f"a contrastive loss needs at least 2 pairs, got B={image.shape[0]}")
    logits = scale * image @ text.T  # (B, B): row i = image i against every caption
    right = torch.arange(image.shape[0])  # (B,): the matching caption is on the diagonal
    return (F.cross_entropy(logits, right) + F.cross_entropy(logits.T, right)) / 2


def _patches(scenes: Scenes, p: int) -> Tensor:
    return torch.from_numpy(patchify(scenes.images, p))  # (B, P, patch_dim)


def train_dual_encoder(cfg: ContrastiveConfig | None = None) -> tuple[DualEncoder, list[float]]:
    """Train a :class:`DualEncoder` on fresh training scenes (``make_scenes(split="train")``: no image
    of :func:`held_out_gallery` can appear); return it and the losses. With ``cfg.shuffle_pairs`` the
    captions are permuted against the images at every step: the same training with no pairing."""
    cfg = cfg or ContrastiveConfig()
    if cfg.image_reads_text:
        raise ValueError("train the dual encoder (image_reads_text=False); the cross-attention wiring is the "
                         "structural control of image_states_move, not a retrieval model")
    seed_everything(cfg.seed)
    model = DualEncoder(cfg)
    shuffler = np.random.default_rng(cfg.seed + 1)

    def loss_at(step: int) -> Tensor:
        scenes = make_scenes(cfg.batch_size, seed=20_000 * (cfg.seed + 1) + step, image_size=cfg.image_size,
                             p=cfg.p, split="train")
        words = captions(scenes)  # (B, m)
        _, first = np.unique(caption_ids(words), return_index=True)  # each caption once: no false negatives
        keep = np.sort(first)  # (B',)
        words = words[keep]
        if cfg.shuffle_pairs:
            words = words[shuffler.permutation(len(words))]  # captions no longer describe their images
        image, text = model(_patches(scenes, cfg.p)[keep], torch.from_numpy(words))
        return contrastive_loss(image, text, model.scale)

    return model, optimise(model, loss_at, cfg.steps, cfg.lr, cfg.clip)


# ---------------------------------------------------------------------------------------------------
# Measuring on held-out images
# ---------------------------------------------------------------------------------------------------

def held_out_gallery(seed: int = 0, image_size: int = 32, p: int = 8) -> Scenes:
    """One held-out scene (``split="test"``: an image no training batch can hold) per caption, in the
    order of :func:`all_captions`: scenes of length 96, scene i captioned by caption i."""
    scenes = make_scenes(4000, seed=seed, image_size=image_size, p=p, split="test")
    ids = caption_ids(captions(scenes))  # (4000,)
    found, first = np.unique(ids, return_index=True)
    if len(found) != len(all_captions()):
        raise ValueError(f"seed {seed} drew only {len(found)} of the {len(all_captions())} captions; try another")
    pick = first[np.argsort(found)]  # (96,): the first scene of caption 0, 1, ...
    picked = Scenes(*(getattr(scenes, f)[pick] for f in ("images", "shapes", "colours", "cells", "questions",
                                                           "answers", "target_cell")), scenes.grid)
    assert scene_in_test_split(picked.cells, picked.shapes, picked.colours).all()
    return picked


@torch.no_grad()
def similarity(model: DualEncoder, scenes: Scenes, words: NDArray | None = None) -> NDArray[np.float64]:
    """Cosine similarities of every image with every caption: array (B_images, B_captions).

    words: captions (C, m); default the 96 of :func:`all_captions`. Each image and each caption is
    encoded once: B + C encoder passes, not B · C, which a dual encoder allows and a model whose
    image reads the caption does not.
    """
    if model.cfg.image_reads_text:
        raise ValueError("similarity needs a dual encoder: with image_reads_text=True every image-caption pair "
                         "needs its own forward pass")
    words = all_captions() if words is None else np.asarray(words)
    image = model.encode_image(_patches(scenes, model.cfg.p))  # (B, e)
    text = model.encode_text(torch.from_numpy(words))  # (C, e)
    return (image @ text.T).double().numpy()  # (B, C)


def retrieval(model: DualEncoder, scenes: Scenes) -> dict[str, float]:
    """Top-1 retrieval accuracy on held-out scenes: ``image->caption`` (is the most similar of the 96
    captions the scene's own?) and ``caption->image`` (for each caption present, is the most similar
    image one it describes?). Chance: 1/96 and about 1/(distinct captions) respectively."""
    sims = similarity(model, scenes)  # (B, 96)
    truth = caption_ids(captions(scenes))  # (B,)
    i2t = float((sims.argmax(axis=1) == truth).mean())
    present = np.unique(truth)  # the captions some scene shows
    t2i = float((truth[sims[:, present].argmax(axis=0)] == present).mean())
    return {"image->caption": i2t, "caption->image": t2i}


@torch.no_grad()
def image_states_move(model: DualEncoder, scenes: Scenes, seed: int = 0) -> tuple[bool, float]:
    """Change every caption of the batch and compare the image side of the forward before and after.

    Returns (equal, largest change): ``equal`` is ``torch.equal`` of the image vectors (B, e) that
    ``model(patches, words)`` returns alongside the scenes' captions and alongside other captions
    (each replaced by a different one, drawn from ``seed``). A dual encoder computes them without
    the words, so they are equal by construction; with ``image_reads_text`` they are not.
    """
    words = captions(scenes)  # (B, m)
    ids = caption_ids(words)  # (B,)
    shift = np.random.default_rng(seed).integers(1, len(all_captions()), size=len(ids))  # (B,) in 1..95
    changed = all_captions()[(ids + shift) % len(all_captions())]  # (B, m): every caption another one
    patches = _patches(scenes, model.cfg.p)  # (B, P, patch_dim)
    before, _ = model(patches, torch.from_numpy(words))  # (B, e)
    after, _ = model(patches, torch.from_numpy(changed))  # (B, e)
    return torch.equal(before, after), float((before - after).abs().max())
