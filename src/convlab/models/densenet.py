"""DenseNet ("Densely Connected Convolutional Networks", 2016): every layer sees all the layers before it.

What it introduced: inside a dense block, each layer's output is concatenated to its input instead
of added, so layer k sees the original input and the outputs of all k − 1 layers before it; each
adds only `growth` new channels (here 12). Between blocks a transition layer — batch norm, ReLU, a
1×1 convolution that halves the channels, 2×2 average pooling — keeps the width in check. Layers
are "BN-ReLU-conv": a 1×1 bottleneck to 4 × growth channels, then a 3×3 (DenseNet-BC).

Sized for 28×28: a 3×3 stem and a 2×2 max pool, then three dense blocks of six layers at 14×14,
7×7 and 3×3 (32×32: 16, 8, 4), then batch norm, ReLU, global average pooling and a dense layer.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import Layers
from .base import CPU_RECIPE, Architecture, Textbook

GROWTH, LAYERS_PER_BLOCK, BLOCKS = 12, 6, 3


class DenseLayer(nn.Module):
    """BN-ReLU-conv1×1 (4·growth) BN-ReLU-conv3×3 (growth), concatenated to the input."""

    def __init__(self, in_channels: int, growth: int, L: Layers):
        super().__init__()
        self.bn1, self.conv1 = L.BatchNorm2d(in_channels), L.Conv2d(in_channels, 4 * growth, 1, bias=False)
        self.bn2, self.conv2 = L.BatchNorm2d(4 * growth), L.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))  # (B, growth, H, W)
        return torch.cat([x, y], dim=1)  # (B, C + growth, H, W): everything so far, passed on


def transition(in_channels: int, out_channels: int, L: Layers) -> nn.Sequential:
    """BN, ReLU, 1×1 convolution to `out_channels`, 2×2 average pooling: halves the map."""
    return nn.Sequential(
        L.BatchNorm2d(in_channels), nn.ReLU(),
        L.Conv2d(in_channels, out_channels, 1, bias=False), L.AvgPool2d(2, 2),
    )  # fmt: skip


def densenet(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """DenseNet: dense blocks joined by transition layers; (B, in_channels, H, W) images → (B, num_classes) logits."""
    c = 2 * GROWTH
    parts: list[nn.Module] = [L.Conv2d(in_channels, c, 3, padding=1, bias=False), L.MaxPool2d(2, 2)]  # (B, 24, 14, 14)
    for b in range(BLOCKS):
        block = []
        for _ in range(LAYERS_PER_BLOCK):
            block.append(DenseLayer(c, GROWTH, L))
            c += GROWTH
        parts.append(nn.Sequential(*block))  # (B, c, H, W)
        if b < BLOCKS - 1:
            parts.append(transition(c, c // 2, L))  # halve channels and map
            c //= 2
    return nn.Sequential(
        *parts,  # 14×14 → 7×7 → 3×3
        L.BatchNorm2d(c), nn.ReLU(), L.GlobalAvgPool2d(), nn.Flatten(),
        nn.Linear(c, num_classes),
    )  # fmt: skip


ARCHITECTURES = [
    Architecture(
        "densenet",
        densenet,
        "dense connections: each layer's output concatenated to all before it (DenseNet, 2016)",
        recipe={"epochs": 8, "lr": 4e-3, **CPU_RECIPE},
        textbook=Textbook(96),
    )
]
