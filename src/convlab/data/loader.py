"""Batches from a dataset held whole on the device: no per-sample Python in the hot path.

The uint8 images are moved to the device once. Each epoch draws a seeded permutation
(seed, epoch) — so a resumed run sees exactly the batches it would have seen — gathers a
batch by index, converts and normalises it, and applies batched augmentation: random
shifts (pad, then crop every image at its own offset in one gather), or, with rotation or
scaling asked for, one random affine transform per image (rotation, scale and a sub-pixel
shift, in one `affine_grid` + `grid_sample` call); and, where the labels allow it,
horizontal flips.

Training batches follow two rules (`batch_bounds`), so that every model works with every
data size and batch size: a last batch too small to train on (fewer than
MIN_BATCH_PER_PROCESS images per process: batch normalisation needs two) is folded into the
previous batch, and under torchrun every process gets the same number of images each step
(the last batch is trimmed to a multiple of the process count, leaving out at most N−1
images of that epoch, a different few each epoch since the order is shuffled). Evaluation
batches cover every image exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MIN_BATCH_PER_PROCESS = 2  # batch norm in training mode needs more than one value per channel


@dataclass
class Augment:
    shift: int = 0  # max pixels of random translation (zero padding), 0 = off
    flip: bool = False  # random horizontal flips
    rotate: float = 0.0  # max degrees of random rotation, either way
    scale: float = 0.0  # max relative change of size, either way (0.1: 90 %–110 %)
    thickness: float = 0.0  # probability that an image's strokes are made thicker or thinner

    @property
    def active(self) -> bool:
        return self.shift > 0 or self.flip or self.affine or self.thickness > 0

    @property
    def affine(self) -> bool:
        return self.rotate > 0 or self.scale > 0


def normalize(x: torch.Tensor, mean: float, std: float, dtype=torch.float32) -> torch.Tensor:
    """uint8 (B, C, H, W) → float, (x/255 − mean)/std."""
    return (x.to(dtype) / 255 - mean) / std


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small tensor drawn on the CPU (by the loader's seeded generator) on `device`. To a GPU it is
    copied from pinned memory without waiting: a plain copy from pageable memory waits for the GPU
    to finish its queued work, so each batch's random offsets would stop the host from running ahead
    of the GPU. The values are the same either way."""
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def random_shift(x: torch.Tensor, shift: int, g: torch.Generator) -> torch.Tensor:
    """Translate every image of x (B, C, H, W) by its own offset in [−shift, shift]²."""
    b, c, h, w = x.shape
    xp = torch.nn.functional.pad(x, (shift, shift, shift, shift))  # (B, C, H+2s, W+2s)
    dy = to_device(torch.randint(0, 2 * shift + 1, (b,), generator=g, device=g.device), x.device)
    dx = to_device(torch.randint(0, 2 * shift + 1, (b,), generator=g, device=g.device), x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return xp[bi, ci, rows, cols]  # (B, C, H, W)


def random_affine(x: torch.Tensor, degrees: float, scale: float, shift: float, g: torch.Generator) -> torch.Tensor:
    """Rotate, scale and translate every image of x (B, C, H, W) by its own random amounts; float result.

    Angles are uniform in ±degrees, sizes in 1 ± scale, offsets in ±shift pixels; pixels from
    outside the image are 0 (the background of dark-background data).
    """
    b, _, h, w = x.shape
    u = to_device(torch.rand(b, 4, generator=g, device=g.device), x.device) * 2 - 1  # (B, 4) in [−1, 1)
    angle = u[:, 0] * degrees * torch.pi / 180
    size = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / size, torch.sin(angle) / size  # output → input: rotate back, shrink back
    tx, ty = u[:, 2] * shift * 2 / w, u[:, 3] * shift * 2 / h  # in the grid's [−1, 1] units
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return torch.nn.functional.grid_sample(x.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_thickness(x: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
    """Thicken or thin the strokes of a random fraction p of x (B, C, H, W): half of them get a soft
    3×3 dilation, half a soft 3×3 erosion (each mixed half and half with the original), so a model
    sees pens of several widths, as drawn digits have. Float result."""
    x = x.float()
    b = x.shape[0]
    u = to_device(torch.rand(b, generator=g, device=g.device), x.device)  # (B,)
    grow = torch.nn.functional.max_pool2d(x, 3, 1, 1)  # dilation: light strokes on dark grow
    shrink = -torch.nn.functional.max_pool2d(-x, 3, 1, 1)  # erosion
    thick = (u < p / 2)[:, None, None, None]
    thin = ((u >= p / 2) & (u < p))[:, None, None, None]
    return torch.where(thick, (x + grow) / 2, torch.where(thin, (x + shrink) / 2, x))


def random_flip(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    mask = to_device(torch.rand(x.shape[0], generator=g, device=g.device) < 0.5, x.device)
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def batch_bounds(n: int, batch_size: int, world: int = 1, min_per_process: int = 0) -> list[tuple[int, int]]:
    """[start, stop) of each batch of an epoch of n images.

    min_per_process = 0: plain batches covering all n (evaluation). Otherwise (training): the
    last batch is trimmed to a multiple of `world` and, if that leaves fewer than
    `min_per_process` images per process, folded into the batch before it.
    """
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if not min_per_process or not bounds:
        return bounds
    start, stop = bounds[-1]
    size = (stop - start) - (stop - start) % world
    if size // world >= min_per_process:
        bounds[-1] = (start, start + size)
    elif len(bounds) > 1:
        bounds.pop()
        bounds[-1] = (bounds[-1][0], bounds[-1][1] + size)
    else:
        bounds[-1] = (start, start + size)  # too few images in all: the caller refuses this
    return bounds


class Loader:
    """Iterate (images, labels) batches for one epoch at a time.

    `shard=(rank, world)` gives each distributed rank its slice of every batch of the
    shared epoch order (the batch size is global). `min_batch_per_process > 0` selects the
    training rules of `batch_bounds`; 0 keeps every image (evaluation), and a process whose
    share of a batch is empty skips it.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        mean: float,
        std: float,
        device: torch.device | str = "cpu",
        shuffle: bool = False,
        seed: int = 0,
        augment: Augment | None = None,
        shard: tuple[int, int] = (0, 1),
        channels_last: bool = False,
        dtype=torch.float32,
        min_batch_per_process: int = 0,
    ):
        self.device = torch.device(device)
        self.x = x.to(self.device)  # (N, C, H, W) uint8, resident
        self.y = y.to(self.device)  # (N,) int64
        self.batch_size, self.mean, self.std = batch_size, mean, std
        self.shuffle, self.seed, self.augment, self.shard = shuffle, seed, augment or Augment(), shard
        self.channels_last, self.dtype = channels_last, dtype
        self.epoch = 0
        self.bounds = batch_bounds(len(self.y), batch_size, shard[1], min_batch_per_process)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.bounds)

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)

    def __iter__(self):
        n = len(self.y)
        g = self._generator()
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        order = to_device(order, self.device)
        rank, world = self.shard
        for start, stop in self.bounds:
            idx = order[start:stop][rank::world]
            if len(idx) == 0:
                continue
            xb = self.x[idx]
            if self.augment.active:
                if self.augment.affine:
                    a = self.augment
                    xb = random_affine(xb, a.rotate, a.scale, a.shift, g)  # float, 0–255
                elif self.augment.shift:
                    xb = random_shift(xb, self.augment.shift, g)
                if self.augment.thickness:
                    xb = random_thickness(xb, self.augment.thickness, g)
                if self.augment.flip:
                    xb = random_flip(xb, g)
            xb = normalize(xb, self.mean, self.std, self.dtype)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, self.y[idx]
