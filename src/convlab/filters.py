"""What a filter looks for: the images that excite one channel most, and an image made to excite it.

For a channel of any layer (a row of the model's graph, `graph.LayerGraph`):
  * `top_images` runs the test images through the model up to that layer, takes each image's
    strongest response in the channel, and keeps the k images that excite it most, with the crop
    of each image that the strongest unit sees (its exact receptive field, `receptive.py`);
  * `maximize` starts from faint noise and climbs the gradient of the channel's centre unit with
    the usual regularisers — a random shift of a pixel or two each step (jitter), a light blur
    every few steps and a small decay of the image — so the picture shows a pattern rather than
    adversarial noise. Seeded: the same call gives the same image.

`describe_channel` does both for one channel (the work behind `convlab filter` and the
playground's "what this channel looks for" panel), and `write_figure` draws its result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpoint import Checkpoint
from .data.loader import normalize
from .errors import UserError
from .graph import layer_graph
from .receptive import exact_pixels

TOP = 9  # how many test images (`convlab filter --top`)
STEPS = 128  # steps of activation maximisation (`--steps`)
TestSet = tuple[torch.Tensor, torch.Tensor, list[str]]  # images (N, C, H, W) uint8, labels (N,), class names


@dataclass
class Exciting:
    index: int  # which test image
    activation: float  # the channel's strongest response to it
    unit: tuple[int, int]  # where that response is, in the layer's map
    box: tuple[int, int, int, int]  # (top, left, bottom, right) of the unit's exact receptive field, inclusive
    crop: torch.Tensor  # (C, h, w) uint8: that part of the image


def _channel_map(graph, layer: int, channel: int, x: torch.Tensor) -> torch.Tensor:
    y = graph.output_of(x, layer)  # (B, C, H, W)
    if y.dim() != 4:
        raise UserError(
            f"layer {layer} has no feature maps (its output is {tuple(y.shape[1:])}); "
            f"pick a convolution, a pooling or a block"
        )
    if not 0 <= channel < y.shape[1]:
        raise UserError(f"channel {channel} does not exist; layer {layer} has channels 0..{y.shape[1] - 1}")
    return y[:, channel]  # (B, H, W)


@torch.no_grad()
def top_images(
    ck: Checkpoint, layer: int, channel: int, images: torch.Tensor, k: int = 9, batch: int = 1000
) -> list[Exciting]:
    """The k images (uint8 (N, C, H, W)) whose strongest response in `channel` of `layer` is highest."""
    if not 1 <= k <= len(images):
        raise UserError(f"--top must be between 1 and the {len(images)} images, got {k}")
    ck.model.eval()
    g = layer_graph(ck.model)  # traced once for every batch
    peaks, where = [], []
    for i in range(0, len(images), batch):
        m = _channel_map(g, layer, channel, normalize(images[i : i + batch], ck.mean, ck.std))  # (b, H, W)
        flat = m.flatten(1)
        value, pos = flat.max(1)
        peaks.append(value)
        where.append(pos)
    value, pos = torch.cat(peaks), torch.cat(where)
    w = m.shape[-1]
    out = []
    for idx in value.topk(k).indices.tolist():
        unit = (int(pos[idx]) // w, int(pos[idx]) % w)
        seen = exact_pixels(g, layer, unit, ck.input_shape, channel)  # (H, W)
        ys, xs = torch.nonzero(seen, as_tuple=True)
        top, left, bottom, right = int(ys.min()), int(xs.min()), int(ys.max()), int(xs.max())
        crop = images[idx][:, top : bottom + 1, left : right + 1]
        out.append(Exciting(idx, float(value[idx]), unit, (top, left, bottom, right), crop))
    return out


def maximize(
    ck: Checkpoint,
    layer: int,
    channel: int,
    steps: int = 128,
    lr: float = 0.1,
    jitter: int = 2,
    blur_every: int = 4,
    decay: float = 1e-3,
    seed: int = 0,
) -> torch.Tensor:
    """An input (C, H, W), in the model's normalised units, that excites the centre unit of `channel`."""
    if not 1 <= steps <= 2000:
        raise UserError(f"steps must be between 1 and 2000, got {steps}")
    g = torch.Generator().manual_seed(seed)
    c, h, w = ck.input_shape
    model = ck.model.eval()
    x = (torch.randn(1, c, h, w, generator=g) * 0.1).requires_grad_()
    graph = layer_graph(model)
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        for step in range(steps):
            dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=g))
            shifted = torch.roll(x, (dy, dx), dims=(2, 3))  # jitter: the pattern must not hang on one pixel
            m = graph.output_of(shifted, layer)
            if m.dim() != 4 or not 0 <= channel < m.shape[1]:
                _channel_map(graph, layer, channel, shifted.detach())  # raises the clear error
            score = m[0, channel, m.shape[2] // 2, m.shape[3] // 2] - decay * (x**2).sum()
            (grad,) = torch.autograd.grad(score, x)
            with torch.no_grad():
                x += lr * grad / (grad.abs().mean() + 1e-8)
                if blur_every and step % blur_every == blur_every - 1:  # blur: suppress high-frequency noise
                    k = torch.tensor([1.0, 2.0, 1.0])
                    k = (k[:, None] * k[None, :] / 16).expand(c, 1, 3, 3)
                    x.copy_(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=c))
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    return x.detach()[0]


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """A normalised image (C, H, W) stretched to 0–255 for display."""
    lo, hi = float(x.min()), float(x.max())
    return ((x - lo) / (hi - lo or 1.0) * 255).round().clamp(0, 255).to(torch.uint8)


@dataclass
class ChannelReport:
    """What one channel looks for (`describe_channel`)."""

    layer: int  # the row of the model's graph (`convlab summary`)
    name: str  # that row's module path
    channel: int
    top: list[Exciting]  # the test images that excite it most, most first
    labels: list[str]  # the class of each of them
    images: list[torch.Tensor]  # (C, H, W) uint8: each of them whole
    made: torch.Tensor  # (C, H, W) uint8: an image made to excite it (`maximize`, stretched by `to_uint8`)
    steps: int  # of activation maximisation
    seed: int  # of the made image


def describe_channel(
    ck: Checkpoint,
    layer: int | str,
    channel: int,
    test_set: Callable[[], TestSet],
    top: int = TOP,
    steps: int = STEPS,
    seed: int = 0,
) -> ChannelReport:
    """The `top` test images that excite `channel` of `layer` (a row's index or name) most, and an
    image made to excite it in `steps` steps. `test_set` is called once the layer and the channel
    are known to exist, so a wrong one is refused before any data is read.

    Raises UserError for a layer or channel that does not exist, a layer without feature maps, a
    `top` or `steps` out of range (and whatever `test_set` raises)."""
    graph = layer_graph(ck.model.eval())
    index = graph.find(layer)
    with torch.no_grad():  # a blank input: the clear errors of a wrong channel, before the data is read
        _channel_map(graph, index, channel, torch.zeros(1, *ck.input_shape))
    images, labels, classes = test_set()
    best = top_images(ck, index, channel, images, top)
    made = to_uint8(maximize(ck, index, channel, steps=steps, seed=seed))
    return ChannelReport(
        layer=index,
        name=graph.rows[index].name,
        channel=channel,
        top=best,
        labels=[classes[int(labels[b.index])] for b in best],
        images=[images[b.index] for b in best],
        made=made,
        steps=steps,
        seed=seed,
    )


def write_figure(r: ChannelReport, out: str | Path, force: bool = False) -> Path:
    """The crops with their activations and the made image, as out/filter-layerL-channelC.png (the
    folder made if missing). Raises UserError for an existing PNG there without `force`."""
    from . import plots
    from .fsutil import output_dir, refuse_existing

    file = Path(out) / f"filter-layer{r.layer}-channel{r.channel}.png"
    refuse_existing([file], force)
    out = output_dir(out)
    title = f"layer {r.layer} ({r.name}), channel {r.channel}"
    fig = plots.filter_figure([b.crop for b in r.top], [b.activation for b in r.top], r.made, title)
    return plots.save(fig, file)
