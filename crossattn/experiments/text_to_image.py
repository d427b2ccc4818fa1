"""Pictures from words: a tiny text-to-image model whose image reads the prompt (chapter 9).

In a text-to-image denoiser the direction of cross-attention is the opposite of chapter 8's: the
*image positions* are the queries (m = P patches) and the *prompt's tokens* are the keys and values
(n = T words). This module holds everything chapter 9 measures:

* **Scenes and prompts.** A 16 × 16 RGB image on black holds one shape (chapter 8's drawings,
  :func:`crossattn.core.images.shape_masks`) in one colour, at the left, in the centre or at the
  right, at a random height; the prompt is three words, "colour shape position" (3 · 4 · 3 = 36
  prompts). :func:`judge` reads colour, shape and position back from pixels by the generator's own
  geometry (fit each drawing at each offset), so it is exact on every scene the generator draws.
* **The denoiser.** :class:`TinyDenoiser` cuts the image into 2 × 2 patches (P = 64 tokens) and runs
  the package's :class:`crossattn.nn.layers.DecoderLayer` unchanged: self-attention over the patches
  (no mask: every patch sees every patch), cross-attention from the patches to the prompt's word
  embeddings, a feed-forward layer. The time of the noise level is added to every patch.
* **Flow matching** (Lipman et al., 2023): x_t = (1 − t)·x_0 + t·x_1 between noise x_0 and an image
  x_1, and the model regresses the constant velocity x_1 − x_0 with a squared error. The paths are
  straight, so a few Euler steps (20) sample well; the loss is one line; no noise schedule to tune.
  10 % of the prompts are replaced by the null prompt during training, so one model predicts both
  the conditional and the unconditional velocity: classifier-free guidance (Ho & Salimans, 2022)
  combines them, v = v_null + w·(v_prompt − v_null).
* **The static text cache** (chapter 5): :func:`sample` projects the prompt's K, V once per layer
  and image, for both guidance branches, and reuses them at every step; :func:`text_cache_flops`
  counts what that saves, :func:`measure_sampling_flops` counts the same from the products PyTorch runs.
* **Per-word attention maps** (:func:`sample` with ``record=True``; :func:`word_map`,
  :func:`attention_share`), the **ablation** (:func:`cross_attention_ablated` zeroes the
  cross-attention output) and a **prompt-to-prompt edit** (Hertz et al., 2022; :func:`edit`).

Shapes: B batch, H = W = 16 image side, p = 2 patch side, P = (H/p)² = 64 patches (the queries, m),
patch_dim = p·p·3, T = 3 prompt words (the keys and values, n), d = d_model, h heads, L layers,
S sampling steps.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from ..core.images import COLOURS as _ALL_COLOURS
from ..core.images import SHAPES, patchify, shape_masks, unpatchify
from ..nn.cache import KVCache
from ..nn.layers import DecoderLayer
from ..nn.train import optimise, seed_everything

__all__ = [
    "COLOURS", "SHAPES", "POSITIONS", "VOCAB", "NULL", "PROMPT_LENGTH", "IMAGE_SIZE", "OBJECT_SIZE",
    "all_prompts", "tokens", "prompt_text", "parse_prompt", "draw_scenes", "Scenes", "judge", "Judgement",
    "TextToImageConfig", "TinyDenoiser", "flow_matching_loss", "train_text_to_image", "guide",
    "sample", "Samples", "cross_attention_ablated", "prompt_accuracy", "diversity", "word_map",
    "patch_masks", "attention_share", "text_cache_flops", "measure_sampling_flops", "edit",
    "layout_iou", "foreground", "CHANCE", "Edit", "WEIGHTS_PATH", "save_weights", "load_weights", "reproduce",
]

#: Three of chapter 8's colours, its four shapes, three positions: 36 prompts.
COLOURS = ("red", "green", "blue")
POSITIONS = ("left", "centre", "right")
_RGB = np.array([_ALL_COLOURS[c] for c in COLOURS], dtype=np.float32)  # (3 colours, 3 channels)
#: The prompt vocabulary; "<null>" three times is the empty prompt of classifier-free guidance.
VOCAB = ("<null>", *COLOURS, *SHAPES, *POSITIONS)
NULL = 0
PROMPT_LENGTH = 3  # T: colour, shape, position
IMAGE_SIZE = 16  # H = W
OBJECT_SIZE = 8  # every shape is drawn in an 8 × 8 box
#: Left edges of the box per position (x offsets); the top edge is free in 0..8.
_X_OFFSETS = ((0, 1), (3, 4, 5), (7, 8))
_MAX_OFFSET = IMAGE_SIZE - OBJECT_SIZE  # 8
_FOREGROUND = 0.35  # a pixel whose brightest channel exceeds this is part of the object

WEIGHTS_PATH = Path(__file__).with_name("text_to_image_weights.pt")


# ---------------------------------------------------------------------------------------------
# Prompts, scenes and the judge (NumPy)
# ---------------------------------------------------------------------------------------------

def all_prompts() -> NDArray[np.int64]:
    """The 36 prompts as (colour, shape, position) attribute ids: array (36, 3), colour slowest."""
    grid = np.stack(np.meshgrid(np.arange(len(COLOURS)), np.arange(len(SHAPES)), np.arange(len(POSITIONS)),
                                indexing="ij"), axis=-1)  # (3, 4, 3, 3)
    return grid.reshape(-1, 3).astype(np.int64)


def _check_attributes(attributes: NDArray) -> NDArray[np.int64]:
    a = np.asarray(attributes)
    if a.ndim != 2 or a.shape[1] != PROMPT_LENGTH or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"prompts must be an integer array (B, 3) of (colour, shape, position) ids, got "
                         f"{a.dtype} {a.shape}")
    for col, names in enumerate((COLOURS, SHAPES, POSITIONS)):
        if a.size and (a[:, col].min() < 0 or a[:, col].max() >= len(names)):
            raise ValueError(f"prompt column {col} holds ids of {names}, so 0..{len(names) - 1}; got "
                             f"{a[:, col].min()}..{a[:, col].max()}")
    return a.astype(np.int64)


def tokens(attributes: NDArray) -> NDArray[np.int64]:
    """Attribute ids (B, 3) -> word ids into VOCAB (B, T = 3): colour, shape, position."""
    a = _check_attributes(attributes)
    offsets = np.array([1, 1 + len(COLOURS), 1 + len(COLOURS) + len(SHAPES)])
    return a + offsets  # (B, 3)


def prompt_text(attributes: NDArray) -> list[str]:
    """Each prompt as words, e.g. 'red circle left'."""
    a = _check_attributes(attributes)
    return [f"{COLOURS[c]} {SHAPES[s]} {POSITIONS[p]}" for c, s, p in a]


def parse_prompt(text: str) -> NDArray[np.int64]:
    """'red circle left' -> attribute ids (1, 3)."""
    words = text.split()
    if len(words) != 3 or words[0] not in COLOURS or words[1] not in SHAPES or words[2] not in POSITIONS:
        raise ValueError(f"a prompt is 'colour shape position' with colour in {COLOURS}, shape in {SHAPES}, "
                         f"position in {POSITIONS}; got {text!r}")
    return np.array([[COLOURS.index(words[0]), SHAPES.index(words[1]), POSITIONS.index(words[2])]])


@dataclass
class Scenes:
    """Scenes drawn for prompts: images (B, H, W, 3) in [0, 1], masks (B, H, W) bool (the object's
    pixels), prompts (B, 3) attribute ids, x0, y0 (B,) the top-left corner of the 8 × 8 box."""

    images: NDArray[np.float32]
    masks: NDArray[np.bool_]
    prompts: NDArray[np.int64]
    x0: NDArray[np.int64]
    y0: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.prompts)


def draw_scenes(prompts: NDArray, seed: int) -> Scenes:
    """Draw one scene per prompt (B, 3): the shape in its colour, its box's left edge drawn among the
    position's offsets and its top edge in 0..8, both from ``seed``."""
    a = _check_attributes(prompts)
    B = len(a)
    rng = np.random.default_rng(seed)
    x0 = np.array([rng.choice(_X_OFFSETS[pos]) for pos in a[:, 2]], dtype=np.int64)  # (B,)
    y0 = rng.integers(0, _MAX_OFFSET + 1, size=B)  # (B,)
    drawings = shape_masks(OBJECT_SIZE).astype(bool)  # (4, 8, 8)
    masks = np.zeros((B, IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    for b in range(B):
        masks[b, y0[b]:y0[b] + OBJECT_SIZE, x0[b]:x0[b] + OBJECT_SIZE] = drawings[a[b, 1]]
    images = masks[..., None] * _RGB[a[:, 0]][:, None, None, :]  # (B, H, W, 3)
    return Scenes(images.astype(np.float32), masks, a, x0, y0)


def _templates() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Every drawing at every offset: (4·9·9, H·W) 0/1 and (4·9·9, 3) rows of (shape, x0, y0)."""
    drawings = shape_masks(OBJECT_SIZE)  # (4, 8, 8)
    n_off = _MAX_OFFSET + 1
    out = np.zeros((len(SHAPES), n_off, n_off, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    for x in range(n_off):
        for y in range(n_off):
            out[:, x, y, y:y + OBJECT_SIZE, x:x + OBJECT_SIZE] = drawings
    index = np.stack(np.meshgrid(np.arange(len(SHAPES)), np.arange(n_off), np.arange(n_off), indexing="ij"), -1)
    return out.reshape(-1, IMAGE_SIZE * IMAGE_SIZE), index.reshape(-1, 3)


_TEMPLATES: tuple[NDArray[np.float32], NDArray[np.int64]] | None = None


@dataclass
class Judgement:
    """What :func:`judge` reads from images: colour, shape, position (B,) attribute ids (−1 where
    there is no object), fit (B,) the intersection-over-union of the best-fitting drawing, masks
    (B, H, W) the pixels of that drawing at its offset (the object's layout)."""

    colour: NDArray[np.int64]
    shape: NDArray[np.int64]
    position: NDArray[np.int64]
    fit: NDArray[np.float64]
    masks: NDArray[np.bool_]

    def attributes(self) -> NDArray[np.int64]:
        return np.stack([self.colour, self.shape, self.position], axis=1)  # (B, 3)


def judge(images: NDArray) -> Judgement:
    """Read colour, shape and position from images (B, H, W, 3) by the generator's geometry.

    Foreground = pixels whose brightest channel exceeds 0.35. Colour: the palette colour nearest to
    the foreground's mean RGB. Shape and position: the drawing and offset whose 8 × 8 box best
    overlaps the foreground (intersection over union); position from the box's centre x + 4:
    left below 6, right above 10, centre between. Exact on every scene :func:`draw_scenes` draws.
    """
    global _TEMPLATES
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ValueError(f"images must have shape (B, {IMAGE_SIZE}, {IMAGE_SIZE}, 3), got {images.shape}")
    if _TEMPLATES is None:
        _TEMPLATES = _templates()
    templates, index = _TEMPLATES
    B = len(images)
    fg = images.max(axis=-1) > _FOREGROUND  # (B, H, W)
    flat = fg.reshape(B, -1).astype(np.float32)  # (B, H·W)
    inter = flat @ templates.T  # (B, K)
    union = flat.sum(1, keepdims=True) + templates.sum(1)[None, :] - inter  # (B, K)
    iou = inter / np.maximum(union, 1.0)
    best = iou.argmax(axis=1)  # (B,)
    shape, x0, _ = index[best].T
    centre = x0 + OBJECT_SIZE / 2
    position = np.where(centre < 6, 0, np.where(centre > 10, 2, 1))
    n_fg = fg.reshape(B, -1).sum(1)  # (B,)
    mean_rgb = (images * fg[..., None]).reshape(B, -1, 3).sum(1) / np.maximum(n_fg, 1)[:, None]  # (B, 3)
    colour = ((mean_rgb[:, None, :] - _RGB[None]) ** 2).sum(-1).argmin(1)  # (B,)
    empty = n_fg == 0
    colour, shape, position = (np.where(empty, -1, v).astype(np.int64) for v in (colour, shape, position))
    masks = templates[best].reshape(B, IMAGE_SIZE, IMAGE_SIZE) > 0
    masks[empty] = False
    return Judgement(colour, shape, position, iou[np.arange(B), best].astype(np.float64), masks)


# ---------------------------------------------------------------------------------------------
# The denoiser
# ---------------------------------------------------------------------------------------------

@dataclass
class TextToImageConfig:
    """Settings of :class:`TinyDenoiser` and :func:`train_text_to_image` (the shipped weights: defaults)."""

    p: int = 2  # patch side: an 8 × 8 grid, P = 64 patches
    d_model: int = 64  # model width
    h: int = 4  # heads
    d_ff: int = 128  # feed-forward width
    layers: int = 3  # L blocks: self-attention, cross-attention to the prompt, feed-forward
    steps: int = 1200  # Adam steps
    batch_size: int = 64  # fresh scenes per step
    lr: float = 2e-3  # Adam learning rate
    clip: float = 1.0  # gradient-norm clipping
    p_null: float = 0.1  # prompt dropout: the share of training prompts replaced by the null prompt
    seed: int = 0  # initialisation, noise and training scenes

    def __post_init__(self) -> None:
        if IMAGE_SIZE % self.p:
            raise ValueError(f"the patch side p={self.p} must divide the image side {IMAGE_SIZE}")
        if self.d_model % self.h:
            raise ValueError(f"d_model={self.d_model} is not divisible by h={self.h}")
        if not 0.0 <= self.p_null < 1.0:
            raise ValueError(f"p_null is a probability below 1, got {self.p_null}")

    @property
    def n_patches(self) -> int:
        return (IMAGE_SIZE // self.p) ** 2

    @property
    def patch_dim(self) -> int:
        return self.p * self.p * 3


def _time_features(t: Tensor, d: int) -> Tensor:
    """Sinusoidal features of noise levels t (B,) in [0, 1]: (B, d)."""
    half = d // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)  # (d/2,)
    angles = 1000.0 * t[:, None] * freqs[None, :]  # (B, d/2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)  # (B, d)


class TinyDenoiser(nn.Module):
    """Image patches read the prompt by cross-attention and predict the flow-matching velocity.

    forward(x (B, P, patch_dim), t (B,), prompt_tokens (B, T) or None, caches) -> velocity
    (B, P, patch_dim). Each of the L blocks is the package's DecoderLayer: X = the P patch states
    (queries), S = the T word embeddings (keys and values). ``caches``: one static
    :class:`KVCache` per block; once filled, ``prompt_tokens`` may be None (the words are not even
    embedded again). The weights of the last call of block l's cross-attention are in
    ``self.blocks[l].cross_attn.last_weights``, (B, h, P, T).
    """

    def __init__(self, cfg: TextToImageConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.patch_embed = nn.Linear(cfg.patch_dim, d)
        self.patch_pos = nn.Parameter(0.02 * torch.randn(cfg.n_patches, d))  # (P, d) learned
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.word_embed = nn.Embedding(len(VOCAB), d)
        self.word_pos = nn.Parameter(0.02 * torch.randn(PROMPT_LENGTH, d))  # (T, d)
        self.blocks = nn.ModuleList(DecoderLayer(d, cfg.h, cfg.d_ff) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, cfg.patch_dim)
        nn.init.zeros_(self.out.weight)  # start by predicting velocity 0
        nn.init.zeros_(self.out.bias)

    def encode_prompt(self, prompt_tokens: Tensor) -> Tensor:
        """Word ids (B, T) -> the source S (B, T, d): word embeddings plus learned positions."""
        if prompt_tokens.dim() != 2 or prompt_tokens.shape[1] != PROMPT_LENGTH:
            raise ValueError(f"prompt tokens must have shape (B, T={PROMPT_LENGTH}), got {tuple(prompt_tokens.shape)}")
        return self.word_embed(prompt_tokens) + self.word_pos  # (B, T, d)

    def forward(self, x: Tensor, t: Tensor, prompt_tokens: Tensor | None,
                caches: Sequence[KVCache] | None = None) -> Tensor:
        cfg = self.cfg
        if x.dim() != 3 or x.shape[1:] != (cfg.n_patches, cfg.patch_dim):
            raise ValueError(f"x must have shape (B, P={cfg.n_patches}, patch_dim={cfg.patch_dim}), "
                             f"got {tuple(x.shape)}")
        if t.shape != x.shape[:1]:
            raise ValueError(f"t must have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}")
        if caches is not None and len(caches) != len(self.blocks):
            raise ValueError(f"pass one cache per block: {len(self.blocks)}, got {len(caches)}")
        filled = caches is not None and all(c.k is not None for c in caches)
        if prompt_tokens is None and not filled:
            raise ValueError("prompt_tokens may be None only when every block's text cache is filled")
        s = None if prompt_tokens is None else self.encode_prompt(prompt_tokens)  # (B, T, d)
        h = self.patch_embed(x) + self.patch_pos  # (B, P, d): the queries' states X
        h = h + self.time_mlp(_time_features(t, cfg.d_model))[:, None, :]  # + (B, 1, d)
        for i, block in enumerate(self.blocks):
            # patches read patches, then the prompt: queries (B, P, d), keys/values (B, T, d)
            h = block(h, s, cross_cache=None if caches is None else caches[i])
        return self.out(self.norm(h))  # (B, P, patch_dim)


def _to_patches(images: NDArray, p: int) -> Tensor:
    """Images (B, H, W, 3) in [0, 1] -> patches (B, P, patch_dim) in [−1, 1]."""
    return torch.from_numpy(patchify(images, p) * 2.0 - 1.0).float()


def _to_images(x: Tensor, p: int) -> NDArray[np.float32]:
    """Patches (B, P, patch_dim) in [−1, 1] -> images (B, H, W, 3) in [0, 1], clipped."""
    arr = ((x.detach().numpy() + 1.0) / 2.0).clip(0.0, 1.0)
    return unpatchify(arr, p, IMAGE_SIZE, IMAGE_SIZE).astype(np.float32)


def flow_matching_loss(model: TinyDenoiser, x1: Tensor, prompt_tokens: Tensor, generator: torch.Generator) -> Tensor:
    """Mean squared error between the predicted and the true velocity x_1 − x_0 at a random time.

    x1: images as patches (B, P, patch_dim); x_0 ~ N(0, I); t ~ U(0, 1); x_t = (1 − t)·x_0 + t·x_1.
    """
    x0 = torch.randn(x1.shape, generator=generator)  # (B, P, patch_dim) noise
    t = torch.rand(x1.shape[0], generator=generator)  # (B,)
    xt = (1 - t)[:, None, None] * x0 + t[:, None, None] * x1  # a point on the straight path
    return F.mse_loss(model(xt, t, prompt_tokens), x1 - x0)


def train_text_to_image(cfg: TextToImageConfig | None = None) -> tuple[TinyDenoiser, list[float]]:
    """Train a :class:`TinyDenoiser` by flow matching on fresh scenes each step; return it and its losses."""
    cfg = cfg or TextToImageConfig()
    seed_everything(cfg.seed)
    model = TinyDenoiser(cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)

    def loss_at(step: int) -> Tensor:
        prompts = all_prompts()[rng.integers(0, 36, size=cfg.batch_size)]  # (B, 3)
        scenes = draw_scenes(prompts, seed=1_000_003 * (cfg.seed + 1) + step)
        words = torch.from_numpy(tokens(prompts))  # (B, T)
        drop = torch.rand(cfg.batch_size, generator=gen) < cfg.p_null  # prompt dropout
        words = words.masked_fill(drop[:, None], NULL)  # dropped prompts become <null> <null> <null>
        return flow_matching_loss(model, _to_patches(scenes.images, cfg.p), words, gen)

    return model, optimise(model, loss_at, cfg.steps, cfg.lr, cfg.clip)


# ---------------------------------------------------------------------------------------------
# Sampling: guidance, the text cache, attention maps, the ablation
# ---------------------------------------------------------------------------------------------

def guide(v_prompt: Tensor, v_null: Tensor, w: float) -> Tensor:
    """Classifier-free guidance: v_null + w·(v_prompt − v_null). w = 0: unconditional; w = 1: the
    prompt's own velocity; w > 1: pushed further from the unconditional one."""
    if v_prompt.shape != v_null.shape:
        raise ValueError(f"the two branches must have the same shape, got {tuple(v_prompt.shape)} and "
                         f"{tuple(v_null.shape)}")
    return v_null + w * (v_prompt - v_null)


@dataclass
class Samples:
    """What :func:`sample` returns: images (B, H, W, 3) in [0, 1]; maps (S, L, B, h, P, T), the
    cross-attention weights of the prompt branch at each step, block and head (None unless ``record``)."""

    images: NDArray[np.float32]
    maps: NDArray[np.float32] | None


@contextlib.contextmanager
def cross_attention_ablated(model: TinyDenoiser) -> Iterator[None]:
    """Inside this block every cross-attention of ``model`` outputs zeros: the image cannot read the prompt."""
    handles = [b.cross_attn.register_forward_hook(lambda mod, args, out: torch.zeros_like(out))
               for b in model.blocks]
    try:
        yield
    finally:
        for hnd in handles:
            hnd.remove()


@torch.no_grad()
def sample(model: TinyDenoiser, prompts: NDArray, guidance: float = 3.0, steps: int = 20, seed: int = 0,
           cache: bool = True, record: bool = False, ablate: bool = False,
           inject: NDArray | None = None) -> Samples:
    """Generate one image per prompt (B, 3) with ``steps`` Euler steps of the learned flow.

    Both guidance branches run as one batch of 2B rows: the prompt (rows :B) and the null prompt
    (rows B:). With ``cache`` the prompt is embedded and projected to K, V once per block at step 0
    (static caches, chapter 5) and never again; without it, at every step. The noise comes from
    ``seed`` (the same seed and prompts give the same starting noise). ``ablate`` zeroes the
    cross-attention outputs. ``inject`` (S, L, B, h, P, T): cross-attention weights to use in the prompt
    branch instead of the model's own (prompt-to-prompt, :func:`edit`).
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not math.isfinite(guidance):
        raise ValueError(f"guidance must be a finite number, got {guidance}")
    cfg = model.cfg
    words = torch.from_numpy(tokens(prompts))  # (B, T)
    B = len(words)
    both = torch.cat([words, torch.full_like(words, NULL)])  # (2B, T): prompt rows, then null rows
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((B, cfg.n_patches, cfg.patch_dim), generator=gen)  # (B, P, patch_dim) at t = 0
    maps_shape = (steps, len(model.blocks), B, cfg.h, cfg.n_patches, PROMPT_LENGTH)  # (S, L, B, h, P, T)
    if inject is not None and np.shape(inject) != maps_shape:
        raise ValueError(f"inject must have shape (S, L, B, h, P, T) = {maps_shape}, got {np.shape(inject)}")
    caches = [KVCache(static=True) for _ in model.blocks] if cache else None
    maps = np.zeros(maps_shape, dtype=np.float32) if record else None
    ctx = cross_attention_ablated(model) if ablate else contextlib.nullcontext()
    with ctx:
        for i in range(steps):
            t = torch.full((2 * B,), i / steps)
            words_now = None if (cache and i > 0) else both  # cached: the words are read at step 0 only
            hooks = [] if inject is None else _inject_hooks(model, torch.from_numpy(np.asarray(inject[i])), B)
            try:
                v = model(torch.cat([x, x]), t, words_now, caches)  # (2B, P, patch_dim)
            finally:
                for hnd in hooks:
                    hnd.remove()
            x = x + guide(v[:B], v[B:], guidance) / steps  # Euler step of size 1/S
            if record:
                for l_, block in enumerate(model.blocks):
                    maps[i, l_] = block.cross_attn.last_weights[:B].numpy()  # (B, h, P, T)
    return Samples(_to_images(x, cfg.p), maps)


def _inject_hooks(model: TinyDenoiser, weights: Tensor, B: int) -> list:
    """Hooks that replace the prompt branch's cross-attention weights (rows :B) by ``weights`` (L, B, h, P, T).

    The output of cross-attention is A·V projected by W_O: the hook recomputes it for rows :B with
    the injected A and the layer's own V of the new prompt.
    """
    handles = []
    for l_, block in enumerate(model.blocks):
        attn = block.cross_attn

        def hook(mod, args, kwargs, out, l_=l_):
            s = args[1] if len(args) > 1 else kwargs.get("s")
            cache = kwargs.get("cache")
            v = mod.project_kv(s)[1] if s is not None else cache.v  # (2B, h, T, d_head)
            a = weights[l_]  # (B, h, P, T)
            o = (a @ v[:B]).transpose(1, 2).reshape(B, -1, mod.d_model)  # (B, h, P, d_head) -> (B, P, d)
            out = out.clone()
            out[:B] = mod.w_o(o)
            return out

        handles.append(attn.register_forward_hook(hook, with_kwargs=True))
    return handles


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------

def prompt_accuracy(prompts: NDArray, images: NDArray) -> dict[str, float]:
    """The share of images whose judged colour, shape, position (and all three) match their prompt (B, 3)."""
    a = _check_attributes(prompts)
    if len(images) != len(a):
        raise ValueError(f"one image per prompt: {len(a)} prompts, {len(images)} images")
    got = judge(images).attributes()  # (B, 3)
    hit = got == a
    return {"colour": float(hit[:, 0].mean()), "shape": float(hit[:, 1].mean()),
            "position": float(hit[:, 2].mean()), "all": float(hit.all(1).mean())}


#: What a generator that ignores the prompt scores, on prompts spread evenly over the 36.
CHANCE = {"colour": 1 / len(COLOURS), "shape": 1 / len(SHAPES), "position": 1 / len(POSITIONS),
          "all": 1 / (len(COLOURS) * len(SHAPES) * len(POSITIONS))}


def diversity(prompts: NDArray, images: NDArray) -> float:
    """Mean root-mean-square pixel distance between two images of the same prompt (0: all identical)."""
    a = _check_attributes(prompts)
    imgs = np.asarray(images, dtype=np.float64).reshape(len(a), -1)  # (B, H·W·3)
    dists = []
    for key in np.unique(a, axis=0):
        group = imgs[(a == key).all(1)]  # (k, H·W·3)
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                dists.append(np.sqrt(((group[i] - group[j]) ** 2).mean()))
    if not dists:
        raise ValueError("diversity needs at least two images of some prompt")
    return float(np.mean(dists))


def word_map(maps: NDArray, word: int, grid: int = IMAGE_SIZE // 2) -> NDArray[np.float64]:
    """One word's attention over the image grid: maps (..., P, T) -> (..., grid, grid), each map
    divided by its sum over the P positions so that it sums to 1 (a distribution over the image)."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim < 2 or maps.shape[-2] != grid * grid or not 0 <= word < maps.shape[-1]:
        raise ValueError(f"maps must be (..., P={grid * grid}, T) and word in 0..T−1; got {maps.shape}, word={word}")
    w = maps[..., word]  # (..., P)
    w = w / np.maximum(w.sum(axis=-1, keepdims=True), 1e-12)  # each map sums to 1 over the positions
    return w.reshape(*w.shape[:-1], grid, grid)  # (..., grid, grid), row-major like the patches


def patch_masks(masks: NDArray, p: int = 2) -> NDArray[np.bool_]:
    """Pixel masks (B, H, W) -> patch masks (B, P): a patch is inside when it holds an object pixel."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3 or masks.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"masks must have shape (B, {IMAGE_SIZE}, {IMAGE_SIZE}), got {masks.shape}")
    B = len(masks)
    g = IMAGE_SIZE // p
    return masks.reshape(B, g, p, g, p).any(axis=(2, 4)).reshape(B, g * g)  # (B, P)


def attention_share(maps: NDArray, masks: NDArray) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """For each image, the share of one word's attention that falls inside the object, and the
    object's area (the share a uniform map would put there).

    maps: (B, P), one word's attention per image (any non-negative weights); masks: (B, P) bool.
    Returns (share, area), arrays (B,).
    """
    maps, masks = np.asarray(maps, dtype=np.float64), np.asarray(masks, dtype=bool)
    if maps.shape != masks.shape or maps.ndim != 2:
        raise ValueError(f"maps and masks must both be (B, P), got {maps.shape} and {masks.shape}")
    share = (maps * masks).sum(1) / np.maximum(maps.sum(1), 1e-12)
    return share, masks.mean(1)


def text_cache_flops(cfg: TextToImageConfig, steps: int = 20, branches: int = 2) -> dict[str, int]:
    """FLOPs (2 per multiply-add, matrix products only) of sampling ONE image, with and without the text cache.

    Per block and branch, projecting the prompt costs 2 · 2·T·d² (K and V). Without the cache that
    is paid at every one of the S steps; with it, once. ``total_uncached`` counts every product of
    the denoiser (patch embedding, time MLP, self- and cross-attention, feed-forward, output).
    """
    if steps < 1 or branches < 1:
        raise ValueError(f"steps and branches must be at least 1, got {steps} and {branches}")
    d, P, T, L, f, pd = cfg.d_model, cfg.n_patches, PROMPT_LENGTH, cfg.layers, cfg.d_ff, cfg.patch_dim
    kv = L * 2 * (2 * T * d * d)  # K and V of the prompt, every block
    per_block = (4 * 2 * P * d * d + 2 * 2 * P * P * d  # self-attention: Q, K, V, O; scores, A·V
                 + 2 * 2 * P * d * d + 2 * 2 * P * T * d  # cross-attention: Q, O; scores, A·V
                 + 2 * 2 * P * d * f)  # feed-forward
    per_step = 2 * P * pd * d + 2 * 2 * d * d + L * per_block + 2 * P * d * pd  # embed, time MLP, blocks, out
    uncached = steps * branches * (per_step + kv)
    cached = steps * branches * per_step + branches * kv
    return {"kv_per_step": branches * kv, "uncached": uncached, "cached": cached, "saved": uncached - cached}


def measure_sampling_flops(model: TinyDenoiser, prompts: NDArray, steps: int = 20, cache: bool = True) -> int:
    """FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode`` while :func:`sample` runs."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        sample(model, prompts, steps=steps, cache=cache)
    return int(counter.get_total_flops())


def foreground(images: NDArray) -> NDArray[np.bool_]:
    """The object's pixels as the judge sees them, (B, H, W, 3) -> (B, H, W): brightest channel above 0.35."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must have shape (B, H, W, 3), got {images.shape}")
    return images.max(axis=-1) > _FOREGROUND


def layout_iou(a: NDArray, b: NDArray) -> NDArray[np.float64]:
    """Intersection over union of two sets of object masks (B, H, W): 1 = the same layout."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"masks must both be (B, H, W), got {a.shape} and {b.shape}")
    inter = (a & b).reshape(len(a), -1).sum(1)
    union = (a | b).reshape(len(a), -1).sum(1)
    return inter / np.maximum(union, 1)


@dataclass
class Edit:
    """A prompt-to-prompt edit: the source images, the edited images (new prompt, source maps injected)
    and the images regenerated from scratch (new prompt, same noise, no injection)."""

    source: NDArray[np.float32]
    edited: NDArray[np.float32]
    regenerated: NDArray[np.float32]


def edit(model: TinyDenoiser, prompts: NDArray, new_prompts: NDArray, guidance: float = 3.0, steps: int = 20,
         seed: int = 0) -> Edit:
    """Prompt-to-prompt (Hertz et al., 2022): generate ``prompts`` recording every cross-attention map,
    then generate ``new_prompts`` from the same noise with those maps injected in place of its own."""
    src = sample(model, prompts, guidance, steps, seed, record=True)
    edited = sample(model, new_prompts, guidance, steps, seed, inject=src.maps)
    regen = sample(model, new_prompts, guidance, steps, seed)
    return Edit(src.images, edited.images, regen.images)


# ---------------------------------------------------------------------------------------------
# Shipped weights
# ---------------------------------------------------------------------------------------------

def save_weights(model: TinyDenoiser, losses: Sequence[float], path: str | Path = WEIGHTS_PATH) -> Path:
    """Store the model's weights (in half precision, to keep the file small), its config and its loss
    curve (every 10th loss) in one torch file."""
    path = Path(path)
    cfg = model.cfg
    state = {k: v.half() for k, v in model.state_dict().items()}
    torch.save({"config": dict(cfg.__dict__), "state": state,
                "losses": [float(x) for x in losses[::10]]}, path)
    return path


def load_weights(path: str | Path = WEIGHTS_PATH) -> tuple[TinyDenoiser, list[float]]:
    """The shipped model (in eval mode) and its stored loss curve (every 10th step)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no stored weights at {path}: run `python -m crossattn.tooling.reproduce text_to_image`")
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = TinyDenoiser(TextToImageConfig(**payload["config"]))
    model.load_state_dict({k: v.float() for k, v in payload["state"].items()})
    return model.eval(), payload["losses"]


def reproduce(out: str | Path = WEIGHTS_PATH, cfg: TextToImageConfig | None = None) -> list[str]:
    """Train the shipped model and store it; return lines to print (its final loss and accuracy)."""
    import time

    cfg = cfg or TextToImageConfig()
    start = time.perf_counter()
    model, losses = train_text_to_image(cfg)
    seconds = time.perf_counter() - start
    path = save_weights(model, losses, out)
    model, _ = load_weights(path)  # measure what ships: the half-precision weights
    prompts = np.repeat(all_prompts(), 4, axis=0)  # (144, 3)
    acc = prompt_accuracy(prompts, sample(model, prompts, guidance=3.0, seed=1).images)
    return [f"trained {cfg.steps} steps in {seconds:.0f} s; last 50 losses mean {np.mean(losses[-50:]):.4f}",
            "accuracy at guidance 3: " + ", ".join(f"{k} {v:.2f}" for k, v in acc.items()),
            f"wrote {path} ({path.stat().st_size // 1024} KB)"]
