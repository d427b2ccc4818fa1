"""A tiny question answerer that reads image patches by cross-attention (chapter 8).

:class:`PatchReader` is the smallest thing that answers by cross-attention, in the spirit of ViT
patches (Dosovitskiy et al., 2021) read by text (as in Flamingo's cross-attention layers): the
image is cut into P patches (:func:`crossattn.core.images.patchify`), each flattened and mapped
linearly to d_model (the source S, n = P keys and values); the question's tokens (the target X,
m = 6 queries) run one decoder layer of the package (:class:`crossattn.nn.layers.DecoderLayer`:
self-attention over the question, then cross-attention to the patches), and the answer is read
from the mean of the question's states.

Shapes: B batch, P patches, patch_dim = p·p·C, m question length, d_model model width, h heads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from ..core.images import ANSWERS, KEY_WORD, QUESTION_LENGTH, WORDS, Scenes, make_scenes, patchify
from ..nn.layers import DecoderLayer
from ..nn.train import optimise, seed_everything

__all__ = [
    "PatchReaderConfig", "PatchReader", "train_patch_reader", "answer_accuracy", "question_weights",
    "weight_on_target",
]


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
    """Train a :class:`PatchReader` on fresh scenes (a new batch each step) of the training part of
    the images (``make_scenes(split="train")``); return it and the losses. Test it on
    ``make_scenes(n, seed, split="test")``: images it cannot have seen."""
    cfg = cfg or PatchReaderConfig()
    seed_everything(cfg.seed)
    model = PatchReader(cfg)

    def loss_at(step: int) -> Tensor:  # fresh scenes every step
        scenes = make_scenes(cfg.batch_size, seed=10_000 * (cfg.seed + 1) + step, image_size=cfg.image_size, p=cfg.p,
                             split="train")  # test scenes come from split="test": images never seen in training
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


def weight_on_target(model: PatchReader, scenes: Scenes, word: int = KEY_WORD) -> NDArray[np.float64]:
    """For each scene, the weight (mean over heads) that question word ``word`` puts on the patch of
    the object the question is about: array (B,)."""
    w = question_weights(model, scenes)[:, word, :]  # (B, P)
    return w[np.arange(len(scenes)), scenes.target_cell]
