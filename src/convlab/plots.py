"""Every figure convlab makes, in one place: sample grids, learning curves, confusion
matrices, feature-map grids, kernels.

Figures are built with matplotlib's object API on the Agg backend (no display needed).
Each function returns the Figure, so notebooks can show it inline; `save` writes a PNG
atomically and closes the figure.

Names from data (class names from folder names or checkpoints) go through `label`: shown
literally — never as mathtext, control characters escaped — and shortened with "…" so a long
name cannot collapse a layout; Chinese, Japanese and Korean names render with Noto CJK when
it is installed.
"""

from __future__ import annotations

import io
import math
import unicodedata
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import torch
from matplotlib import font_manager, rcParams
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from .fsutil import atomic_write_bytes

CMAP = "gray"
DIVERGING = "RdBu_r"
LABEL_CHARS = 24  # longest name shown whole in a figure
_CJK = ("Noto Sans CJK SC", "Noto Sans CJK JP")


def _use_cjk_fallback() -> None:
    """Let text fall back to an installed CJK font for glyphs DejaVu Sans lacks."""
    have = {f.name for f in font_manager.fontManager.ttflist}
    extra = [name for name in _CJK if name in have][:1]
    if extra:
        rcParams["font.family"] = ["DejaVu Sans", *extra]  # matplotlib falls back along this list per glyph


_use_cjk_fallback()


def label(name: str, limit: int = LABEL_CHARS) -> str:
    """A name as figure text: control characters escaped, '$' kept literal, at most `limit`
    characters (the rest as '…'). Use with parse_math=False."""
    text = "".join(repr(c)[1:-1] if unicodedata.category(c).startswith("C") else c for c in str(name))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def save(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write `fig` to PNG at `path` (atomically) and return the path; raises OSError when it cannot."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)  # exactly figsize × dpi pixels
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def _figure(width: float, height: float) -> Figure:
    """A figure of `width`×`height` inches whose layout keeps titles and colour bars inside."""
    return Figure(figsize=(width, height), layout="constrained")


def pixel_size(fig: Figure, dpi: int = 100) -> tuple[int, int]:
    """(width, height) in pixels of `fig` saved by `save` at `dpi`."""
    w, h = fig.get_size_inches()
    return round(w * dpi), round(h * dpi)


def _grid(n: int, max_cols: int = 10) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _show(ax, img: torch.Tensor, **kw):
    """Show a (C, H, W) or (H, W) image tensor on an axis, without ticks."""
    if img.dim() == 3:
        img = img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)
    ax.imshow(img.cpu().numpy(), **kw)
    ax.set_xticks([])
    ax.set_yticks([])


def sample_grid(images: torch.Tensor, labels: list[str], title: str = "", cols: int = 10) -> Figure:
    """A labelled grid of uint8 images (N, C, H, W)."""
    rows, cols = _grid(len(images), cols)
    fig = _figure(1.3 * cols, 1.5 * rows + 0.4)
    for i, (img, name) in enumerate(zip(images, labels)):
        label_text = label(name, 14)
        ax = fig.add_subplot(rows, cols, i + 1)
        _show(ax, img, cmap=CMAP, vmin=0, vmax=255)
        ax.set_title(label_text, fontsize=8, parse_math=False)
    if title:
        fig.suptitle(label(title, 80), parse_math=False)
    return fig


def learning_curves(history: list[dict]) -> Figure:
    """Loss and accuracies by epoch from metrics rows (epoch, train_loss, train_acc, test_acc, ...)."""
    epochs = [r["epoch"] for r in history]
    fig = _figure(10, 4)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ax1.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train loss")
    if all("test_loss" in r for r in history):
        ax1.plot(epochs, [r["test_loss"] for r in history], marker="o", label="test loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.legend()
    ax1.grid(alpha=0.3)
    ax2.plot(epochs, [r["train_acc"] for r in history], marker="o", label="train accuracy")
    ax2.plot(epochs, [r["test_acc"] for r in history], marker="o", label="test accuracy")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend()
    ax2.grid(alpha=0.3)
    return fig


def confusion_matrix(matrix: torch.Tensor, classes: list[str], title: str = "") -> Figure:
    """Counts (true × predicted) with row-normalised colours and the count in each cell."""
    k = len(classes)
    names = [label(c) for c in classes]
    room = 0.09 * max(len(n) for n in names)  # inches for the longest tick label
    fig = _figure(1.0 + 0.6 * k + room, 0.8 + 0.6 * k + room)
    ax = fig.add_subplot(1, 1, 1)
    m = matrix.float()
    norm = m / m.sum(1, keepdim=True).clamp(min=1)
    ax.imshow(norm.numpy(), cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                str(int(matrix[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8, parse_math=False)
    ax.set_yticks(range(k), names, fontsize=8, parse_math=False)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(label(title, 80), parse_math=False)
    return fig


def _mosaic(ax: Axes, tiles: torch.Tensor, names: list[str], **imshow: Any) -> AxesImage:
    """Draw tiles (N, h, w) or RGB (N, h, w, 3) on one axis as a grid with a name above each.

    One image instead of a subplot per tile: a layer of 256 channels draws in well under a second
    (a subplot each took about 20 ms, minutes for a whole GoogLeNet)."""
    n, h, w = tiles.shape[:3]
    rows, cols = math.ceil(n / _cols(n)), _cols(n)
    gap_y, gap_x = max(1, math.ceil(h * 0.3)), max(1, math.ceil(w * 0.12))  # room for the names
    shape = (rows * (h + gap_y), cols * (w + gap_x) - gap_x, *tiles.shape[3:])
    canvas = torch.full(shape, float("nan") if tiles.dim() == 3 else 1.0)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = r * (h + gap_y) + gap_y, c * (w + gap_x)
        canvas[y : y + h, x : x + w] = t
        ax.text(x + (w - 1) / 2, y - 0.5 - gap_y / 2, names[i], fontsize=7, ha="center", va="center")
    im = ax.imshow(canvas.numpy(), interpolation="nearest", **imshow)
    ax.set_axis_off()
    return im


def _cols(n: int, cols: int = 8) -> int:
    """Columns of a tile grid: `cols` (fewer if there are fewer tiles), more for many, about square."""
    return max(min(n, cols), math.ceil(math.sqrt(n)))


def _tile_figure(n: int, title: str) -> tuple[Figure, Axes]:
    cols = _cols(n)
    fig = _figure(1.4 * cols + 0.8, 1.4 * math.ceil(n / cols) + 0.5)
    if title:
        fig.suptitle(label(title, 80), parse_math=False)
    return fig, fig.add_subplot(1, 1, 1)


def channel_grid(maps: torch.Tensor, title: str = "", diverging: bool = False) -> Figure:
    """One layer's channels (C, H, W) as a labelled grid with one colour scale for the layer."""
    maps = maps.detach().float().cpu()
    lo, hi = maps.min().item(), maps.max().item()
    if diverging:
        m = max(abs(lo), abs(hi)) or 1.0
        lo, hi, cmap = -m, m, DIVERGING
    else:
        cmap = "viridis"
    fig, ax = _tile_figure(len(maps), title)
    im = _mosaic(ax, maps, [f"ch {i}" for i in range(len(maps))], cmap=cmap, vmin=lo, vmax=hi)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def vector_strip(v: torch.Tensor, title: str = "") -> Figure:
    """A 1-D activation vector (flatten/dense output) as a colour strip with its index axis."""
    v = v.detach().float().cpu().reshape(1, -1)
    fig = _figure(min(12, 2 + v.shape[1] * 0.05), 1.4)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(v.numpy(), aspect="auto", cmap="viridis")
    ax.set_yticks([])
    ax.set_xlabel("unit")
    fig.colorbar(im, ax=ax)
    if title:
        ax.set_title(label(title, 80), fontsize=9, parse_math=False)
    return fig


def kernels(weight: torch.Tensor, title: str = "first-layer kernels") -> Figure:
    """Conv kernels (O, C, kh, kw): one tile per output channel (first input channel, or RGB)."""
    w = weight.detach().float().cpu()
    m = w.abs().max().item() or 1.0
    fig, ax = _tile_figure(len(w), title)
    names = [f"out {i}" for i in range(len(w))]
    if w.shape[1] == 3:  # RGB: contrast-stretched colour
        _mosaic(ax, ((w.permute(0, 2, 3, 1) / m + 1) / 2).clamp(0, 1), names)
    else:
        im = _mosaic(ax, w[:, 0], names, cmap=DIVERGING, vmin=-m, vmax=m)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def image_figure(x: torch.Tensor, title: str = "") -> Figure:
    """One uint8 image (C, H, W) drawn as the tutorial does: gray from 0 (black) to 255 (white)."""
    fig = _figure(4, 4)
    ax = fig.add_subplot(1, 1, 1)
    _show(ax, x, cmap=CMAP, vmin=0, vmax=255)
    if title:
        ax.set_title(label(title, 80), fontsize=9, parse_math=False)
    return fig


def attribution_figure(image: torch.Tensor, maps: list[tuple[str, torch.Tensor]], title: str = "") -> Figure:
    """One image (C, H, W) uint8, then each attribution map (H, W) laid over it, titled: one PNG per image."""
    n = 1 + len(maps)
    fig = _figure(2.2 * n, 2.6)
    ax = fig.add_subplot(1, n, 1)
    _show(ax, image, cmap=CMAP, vmin=0, vmax=255)
    ax.set_title("input", fontsize=8)
    gray = image.float().mean(0) if image.shape[0] > 1 else image[0].float()  # (H, W)
    for i, (name, m) in enumerate(maps):
        ax = fig.add_subplot(1, n, i + 2)
        ax.imshow(gray.numpy(), cmap=CMAP, vmin=0, vmax=255)
        m = m.detach().float().cpu()
        hi = float(m.abs().max()) or 1.0
        ax.imshow(m.numpy(), cmap="inferno", alpha=0.6, vmin=0, vmax=hi)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label(name, 40), fontsize=8, parse_math=False)
    if title:
        fig.suptitle(label(title, 100), fontsize=9, parse_math=False)
    return fig


def examples_grid(images: torch.Tensor, maps: torch.Tensor | None, titles: list[str], title: str = "") -> Figure:
    """A row of images (N, C, H, W) uint8 with their titles, and under each its map (N, H, W) laid over it."""
    n = len(images)
    rows = 2 if maps is not None else 1
    fig = _figure(1.5 * n + 0.4, 1.7 * rows + 0.5)
    for i in range(n):
        ax = fig.add_subplot(rows, n, i + 1)
        _show(ax, images[i], cmap=CMAP, vmin=0, vmax=255)
        ax.set_title(label(titles[i], 22), fontsize=7, parse_math=False)
        if maps is not None:
            ax = fig.add_subplot(rows, n, n + i + 1)
            gray = images[i].float().mean(0)
            ax.imshow(gray.numpy(), cmap=CMAP, vmin=0, vmax=255)
            m = maps[i].float().cpu()
            ax.imshow(m.numpy(), cmap="inferno", alpha=0.6, vmin=0, vmax=float(m.max()) or 1.0)
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(label(title, 100), fontsize=9, parse_math=False)
    return fig


def filter_figure(crops: list[torch.Tensor], values: list[float], made: torch.Tensor, title: str = "") -> Figure:
    """What a channel looks for: the crops (C, h, w) of the images that excite it most, with their
    activations, and the image made to excite it (C, H, W) uint8."""
    n = len(crops) + 1
    fig = _figure(1.4 * n + 0.4, 2.0)
    for i, (crop, v) in enumerate(zip(crops, values)):
        ax = fig.add_subplot(1, n, i + 1)
        _show(ax, crop, cmap=CMAP, vmin=0, vmax=255)
        ax.set_title(f"{v:.2f}", fontsize=7)
    ax = fig.add_subplot(1, n, n)
    _show(ax, made, cmap=CMAP, vmin=0, vmax=255)
    ax.set_title("made to excite it", fontsize=7)
    if title:
        fig.suptitle(label(title, 100), fontsize=9, parse_math=False)
    return fig
