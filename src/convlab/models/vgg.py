"""VGG ("Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014): networks built from blocks.

What it introduced: the block as the unit of design — a few 3×3 convolutions (two 3×3 see as far
as one 5×5 with fewer weights and one more non-linearity) followed by a 2×2 max pool that halves
the map — repeated, doubling the channels as the map shrinks, then a dense head. This is VGG-11's
arrangement of blocks (1, 1, 2, 2, 2 convolutions) with channels a quarter of the original's, as
the textbook also shrinks it, and four pools instead of five since a 28×28 map halves only four
times: 28 → 14 → 7 → 3 → 1 (32×32: 32 → 16 → 8 → 4 → 2). Like the original, it has no batch norm.
"""

from __future__ import annotations

from torch import nn

from ..layers import Layers
from .base import CPU_RECIPE, Architecture, Textbook, dense_head, flat_size

BLOCKS = ((1, 32), (1, 64), (2, 128), (2, 256))  # (convolutions, channels) per block


def vgg_block(convs: int, in_channels: int, out_channels: int, L: Layers) -> nn.Sequential:
    """`convs` 3×3 convolutions with ReLU, then a 2×2 max pool."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [L.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, L.MaxPool2d(2, 2))


def vgg(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """VGG-11's blocks at a quarter of the channels: (B, in_channels, H, W) images → (B, num_classes) logits."""
    blocks, c = [], in_channels
    for convs, out in BLOCKS:
        blocks.append(vgg_block(convs, c, out, L))
        c = out
    features = nn.Sequential(*blocks, nn.Flatten())  # (B, 256·1·1) for 28×28
    n = flat_size(features, in_channels, input_size)
    return nn.Sequential(*features, *dense_head(n, 512, num_classes))  # (B, num_classes)


ARCHITECTURES = [
    Architecture(
        "vgg",
        vgg,
        "blocks of 3×3 convolutions and a pool, repeated (VGG, 2014)",
        recipe={"epochs": 15, "lr": 1e-3, **CPU_RECIPE},
        textbook=Textbook(224, (0.90, 0.92)),
    )
]
