"""Figures of chapter 4: how the encoder–decoder is wired, and what its cross-attention reads.

:func:`plot_encoder_decoder` draws the three attentions of :class:`crossattn.nn.model.EncoderDecoder`
(bidirectional encoder self-attention, causal decoder self-attention, decoder cross-attention to
the encoder) and which encoder states each cross-attention reads. :func:`plot_alignment` draws
cross-attention weights with the true alignment outlined on them.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch, Rectangle
from numpy.typing import ArrayLike

from .plotting import plot_attention

__all__ = ["plot_encoder_decoder", "plot_alignment", "WIRING_COLOURS"]

#: One colour per kind of block, shared by the figures of chapter 4.
WIRING_COLOURS = {
    "encoder_self": "#cfe2f3",  # bidirectional self-attention over the source
    "decoder_self": "#d9d2e9",  # causal self-attention over the target
    "cross": "#f9cb9c",  # cross-attention: queries from the decoder, keys and values from the encoder
    "ff": "#eeeeee",  # feed-forward
    "io": "#ffffff",  # tokens, embeddings, outputs
    "memory": "#d9ead3",  # the encoder states the decoder reads
}
_CROSS_EDGE = "#e69138"
_RESIDUAL = "#6aa84f"  # residual connections: y = x + Block(LN(x))


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, colour: str,
         fontsize: float = 8.0, edge: str = "#444444", weight: str = "normal") -> tuple[float, float, float, float]:
    ax.add_patch(FancyBboxPatch((x - w / 2, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor=edge, lw=1.0))
    ax.text(x, y + h / 2, text, ha="center", va="center", fontsize=fontsize, weight=weight)
    return (x, y, w, h)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], colour: str = "#444444",
           lw: float = 1.2, style: str = "-|>", rad: float = 0.0) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle=style, color=colour, lw=lw, shrinkA=0, shrinkB=0,
                                connectionstyle=f"arc3,rad={rad}"))


def _skip(ax: Axes, cx: float, y0: float, y1: float, right: float) -> None:
    """A residual connection around a block: from the stream at y0, past the block's right edge, added at y1."""
    ax.plot([cx, right, right], [y0, y0, y1], color=_RESIDUAL, lw=0.9, zorder=3)
    _arrow(ax, (right, y1), (cx + 0.09, y1), colour=_RESIDUAL, lw=0.9)
    ax.plot([cx, cx], [y1 - 0.11, y1], color="#444444", lw=1.2, zorder=3)
    ax.plot([cx], [y1], marker="o", ms=7, mfc="white", mec=_RESIDUAL, zorder=6)
    ax.text(cx, y1, "+", ha="center", va="center", fontsize=7, color=_RESIDUAL, zorder=7)


def plot_encoder_decoder(n_encoder_layers: int = 2, n_decoder_layers: int = 2, cross_reads: str = "last",
                         ax: Axes | None = None, residual: bool = True) -> Axes:
    """Draw the wiring of the tiny encoder–decoder of chapter 4.

    Args:
        n_encoder_layers: encoder layers, each self-attention (bidirectional) then feed-forward.
        n_decoder_layers: decoder layers, each causal self-attention, cross-attention, feed-forward.
        cross_reads: "last" — every cross-attention reads the encoder's final output S (the
            standard Transformer); "all" — each reads its own learned mix of every encoder depth
            (transparent attention, Bapna et al. 2018).
        ax: axes to draw on; a new figure is made when omitted.
        residual: draw the residual connection around every block (a green bypass ending in a "+"):
            each pre-norm block computes y = x + Block(LN(x)); ``ModelConfig(residual=False)`` has
            y = Block(LN(x)) instead.

    Returns:
        The axes drawn on.
    """
    if cross_reads not in ("last", "all"):
        raise ValueError(f"cross_reads must be 'last' or 'all', got {cross_reads!r}")
    if n_encoder_layers < 1 or n_decoder_layers < 1:
        raise ValueError(f"need at least one layer on each side, got {n_encoder_layers} and {n_decoder_layers}")
    c = WIRING_COLOURS
    sub_h, gap, pad = 0.62, 0.3, 0.14  # height of a block, space between blocks, padding in a layer
    enc_x, dec_x, col_w = 2.4, 8.2, 4.0
    enc_layer_h = 2 * sub_h + gap + 2 * pad
    dec_layer_h = 3 * sub_h + 2 * gap + 2 * pad
    between = 0.42
    if ax is None:
        height = 2.6 + max(n_encoder_layers * (enc_layer_h + between), n_decoder_layers * (dec_layer_h + between))
        _, ax = plt.subplots(figsize=(9.0, 0.6 * height + 0.6))

    # -- the encoder, bottom to top -----------------------------------------------------------------
    y = 0.0
    _box(ax, enc_x, y, col_w, 0.5, "source tokens  $s_1 \\ldots s_n$", c["io"])
    _arrow(ax, (enc_x, y + 0.5), (enc_x, y + 0.5 + between))
    y += 0.5 + between
    _box(ax, enc_x, y, col_w, 0.5, "embedding + positions", c["io"])
    levels = [(enc_x, y + 0.5)]  # the top edge of every encoder depth: embeddings, layer 1, ...
    y += 0.5 + between
    for layer in range(n_encoder_layers):
        ax.add_patch(Rectangle((enc_x - col_w / 2 - 0.1, y), col_w + 0.2, enc_layer_h, fill=False,
                               ls="--", lw=0.8, edgecolor="#888888"))
        ax.text(enc_x - col_w / 2 - 0.2, y + enc_layer_h / 2, f"encoder\nlayer {layer + 1}", ha="right",
                va="center", fontsize=7.5, color="#555555")
        _arrow(ax, (enc_x, y - between), (enc_x, y + pad))
        _box(ax, enc_x, y + pad, col_w - 0.3, sub_h, "self-attention, bidirectional ($n \\times n$)", c["encoder_self"])
        _arrow(ax, (enc_x, y + pad + sub_h), (enc_x, y + pad + sub_h + gap))
        _box(ax, enc_x, y + pad + sub_h + gap, col_w - 0.3, sub_h, "feed-forward", c["ff"])
        if residual:
            for yb in (y + pad, y + pad + sub_h + gap):
                _skip(ax, enc_x, yb - 0.07, yb + sub_h + 0.11, enc_x + (col_w - 0.3) / 2 + 0.1)
        y += enc_layer_h
        levels.append((enc_x, y))
        y += between
    memory = _box(ax, enc_x, y, col_w, 0.6, "final norm:  $S$  ($n \\times d_{model}$)", c["memory"], weight="bold")
    _arrow(ax, (enc_x, y - between), (enc_x, y))
    enc_top = y + 0.6

    # -- the decoder, bottom to top -----------------------------------------------------------------
    y = 0.0
    _box(ax, dec_x, y, col_w, 0.5, "target tokens so far  <bos> $t_1 \\ldots t_{m-1}$", c["io"])
    _arrow(ax, (dec_x, y + 0.5), (dec_x, y + 0.5 + between))
    y += 0.5 + between
    _box(ax, dec_x, y, col_w, 0.5, "embedding + positions", c["io"])
    y += 0.5 + between
    cross_boxes = []
    for layer in range(n_decoder_layers):
        ax.add_patch(Rectangle((dec_x - col_w / 2 - 0.1, y), col_w + 0.2, dec_layer_h, fill=False,
                               ls="--", lw=0.8, edgecolor="#888888"))
        ax.text(dec_x + col_w / 2 + 0.2, y + dec_layer_h / 2, f"decoder\nlayer {layer + 1}", ha="left",
                va="center", fontsize=7.5, color="#555555")
        _arrow(ax, (dec_x, y - between), (dec_x, y + pad))
        yy = y + pad
        _box(ax, dec_x, yy, col_w - 0.3, sub_h, "self-attention, causal ($m \\times m$)", c["decoder_self"])
        _arrow(ax, (dec_x, yy + sub_h), (dec_x, yy + sub_h + gap))
        yy += sub_h + gap
        cross_boxes.append(_box(ax, dec_x, yy, col_w - 0.3, sub_h,
                                "cross-attention ($m \\times n$)\nQ from here; K, V from the encoder",
                                c["cross"], edge=_CROSS_EDGE))
        _arrow(ax, (dec_x, yy + sub_h), (dec_x, yy + sub_h + gap))
        yy += sub_h + gap
        _box(ax, dec_x, yy, col_w - 0.3, sub_h, "feed-forward", c["ff"])
        if residual:
            for yb in (y + pad, y + pad + sub_h + gap, yy):
                _skip(ax, dec_x, yb - 0.07, yb + sub_h + 0.11, dec_x + (col_w - 0.3) / 2 + 0.1)
        y += dec_layer_h + between
    _arrow(ax, (dec_x, y - between), (dec_x, y))
    _box(ax, dec_x, y, col_w, 0.5, "norm, linear: next-token logits ($m \\times V$)", c["io"])
    top = max(y + 0.5, enc_top)

    # -- what each cross-attention reads --------------------------------------------------------------
    left_edge = dec_x - (col_w - 0.3) / 2
    if cross_reads == "last":
        mx, my, mw, mh = memory
        for bx, by, bw, bh in cross_boxes:
            _arrow(ax, (mx + mw / 2, my + mh / 2), (left_edge, by + bh / 2), colour=_CROSS_EDGE, lw=1.8)
        first, last = cross_boxes[0], cross_boxes[-1]
        ax.text((mx + mw / 2 + left_edge) / 2 + 0.3, (first[1] + last[1]) / 2 + 0.2,
                "K, V from $S$,\nthe same for\nevery decoder layer", ha="center", va="center", fontsize=7.5,
                color=_CROSS_EDGE, bbox=dict(facecolor="white", edgecolor="none", pad=1.0))
    else:
        mix_x = (enc_x + col_w / 2 + left_edge) / 2
        for bx, by, bw, bh in cross_boxes:
            ax.plot([mix_x], [by + bh / 2], marker="o", ms=9, color=_CROSS_EDGE, zorder=5)
            _arrow(ax, (mix_x, by + bh / 2), (left_edge, by + bh / 2), colour=_CROSS_EDGE, lw=1.8)
            for lx, ly in levels[:-1] + [(memory[0], memory[1] + memory[3] / 2)]:
                _arrow(ax, (lx + col_w / 2, ly), (mix_x, by + bh / 2), colour=_CROSS_EDGE, lw=0.7, style="-")
        first, last = cross_boxes[0], cross_boxes[-1]
        ax.text(mix_x, (first[1] + last[1]) / 2 + first[3] / 2, "transparent\nattention: each\ndecoder layer\nreads a learned\nmix of every depth",
                ha="center", va="center", fontsize=7.5, color=_CROSS_EDGE,
                bbox=dict(facecolor="white", edgecolor="none", pad=1.0), zorder=6)

    if residual:
        ax.text((enc_x + dec_x) / 2, 0.5, "green +: residual\n$y = x + \\mathrm{Block}(\\mathrm{LN}(x))$",
                ha="center", va="center", fontsize=7, color=_RESIDUAL)
    ax.text(enc_x, top + 0.25, "encoder: reads the source", ha="center", va="bottom", fontsize=9, weight="bold")
    ax.text(dec_x, top + 0.25, "decoder: writes the target", ha="center", va="bottom", fontsize=9, weight="bold")
    ax.set_xlim(-0.8, 11.2)
    ax.set_ylim(-0.2, top + 0.7)
    ax.set_aspect("auto")
    ax.axis("off")
    return ax


def plot_alignment(
    weights: ArrayLike,
    alignment: Sequence[int],
    target_labels: Sequence[str],
    source_labels: Sequence[str],
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Cross-attention weights (m, n) with the true alignment outlined in red.

    Args:
        weights: array of shape (m, n): row i is where target token i looks in the source.
        alignment: m source indices; ``alignment[i]`` is the word target token i translates.
            Rows beyond ``len(alignment)`` (e.g. EOS) get no outline.
        target_labels: m row labels (the target tokens); source_labels: n column labels.
        ax: axes to draw on; title: optional title.

    Returns:
        The axes drawn on.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D array of shape (m, n), got shape {w.shape}")
    if len(alignment) > w.shape[0] or any(not 0 <= j < w.shape[1] for j in alignment):
        raise ValueError(f"alignment {list(alignment)} does not fit weights of shape {w.shape} (m, n)")
    ax = plot_attention(w, target_labels, source_labels, ax=ax, title=title, annotate=False)
    for i, j in enumerate(alignment):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#cc0000", lw=1.8))
    return ax
