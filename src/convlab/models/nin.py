"""Network in Network ("Network In Network", 2013): 1×1 convolutions, and no dense layers at all.

What it introduced: a "micro network" at every pixel — each block is a convolution followed by two
1×1 convolutions (a small fully connected layer applied at each position, §4's 1×1 convolution) —
and a classifier without dense layers: the last block has one channel per class, and global
average pooling turns each channel into its class score. Far fewer parameters than AlexNet's head.
Sized for 28×28 like the textbook's version but with a 5×5 stride-1 first block instead of 11×11
at stride 4: 28 → 13 → 6 → 2 → (average) → 1 (32×32: 32 → 15 → 7 → 3 → 1). Batch norm after
each convolution, which the 2013 original predates, lets it train from scratch in a few epochs.
"""

from __future__ import annotations

from torch import nn

from ..layers import Layers
from .base import CPU_RECIPE, Architecture, Textbook


def nin_block(in_channels: int, out_channels: int, kernel_size: int, padding: int, L: Layers) -> nn.Sequential:
    """A convolution, then two 1×1 convolutions: a small dense network at every pixel."""
    return nn.Sequential(
        L.Conv2d(in_channels, out_channels, kernel_size, padding=padding), L.BatchNorm2d(out_channels), nn.ReLU(),
        L.Conv2d(out_channels, out_channels, 1), L.BatchNorm2d(out_channels), nn.ReLU(),
        L.Conv2d(out_channels, out_channels, 1), L.BatchNorm2d(out_channels), nn.ReLU(),
    )  # fmt: skip


def nin(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """Network in Network:
    (B, in_channels, H, W) images → (B, num_classes) logits (averaged class maps, no dense layer)."""
    return nn.Sequential(
        nin_block(in_channels, 64, 5, 2, L), L.MaxPool2d(3, 2),  # (B, 64, 13, 13)
        nin_block(64, 128, 3, 1, L), L.MaxPool2d(3, 2),  # (B, 128, 6, 6)
        nin_block(128, 192, 3, 1, L), L.MaxPool2d(3, 2),  # (B, 192, 2, 2)
        nn.Dropout(0.5),
        nin_block(192, num_classes, 3, 1, L),  # (B, classes, 2, 2): one map per class
        L.GlobalAvgPool2d(), nn.Flatten(),  # (B, classes)
    )  # fmt: skip


ARCHITECTURES = [
    Architecture(
        "nin",
        nin,
        "1×1 convolutions as a network at every pixel; global average pooling instead of dense layers (NiN, 2013)",
        recipe={"epochs": 10, "lr": 4e-3, **CPU_RECIPE},
        textbook=Textbook(224, (0.84, 0.86)),
    )
]
