"""ResNet ("Deep Residual Learning for Image Recognition", 2015) and
ResNeXt ("Aggregated Residual Transformations for Deep Neural Networks", 2016): residual connections, then grouped ones.

What ResNet introduced: a block learns a correction F(x) to its input and outputs ReLU(F(x) + x);
the shortcut lets gradients and information skip the block, so very deep networks train (and a
block that is not needed can learn F = 0). When a block halves the map and changes the channels,
the shortcut is a 1×1 stride-2 convolution. This is ResNet-18's layout — a stem, then four stages
of two basic blocks (two 3×3 convolutions each), the map halving and the channels doubling at
each stage, global average pooling, one dense layer — with widths sized for 28×28 and a CPU: 16,
32, 64, 128 channels instead of 64…512, and a 3×3 stem without the 7×7 stride-2 convolution and
max pool meant for 224×224 photos: 28 → 28 → 14 → 7 → 4 (32×32: 32 → 32 → 16 → 8 → 4).

What ResNeXt added: inside a bottleneck block (1×1 down, 3×3, 1×1 up), the 3×3 convolution is
split into `groups` parallel convolutions, each seeing only its slice of the channels
("cardinality"); more, thinner paths for the same cost. Here: a stem, then three stages of two
bottleneck blocks at 14×14, 7×7 and 4×4 (the first halves the 28×28 map), 16 groups of 4, 8 and
16 channels.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import Layers
from .base import CPU_RECIPE, Architecture, Textbook


class BasicBlock(nn.Module):
    """ReLU(BN(conv3×3(ReLU(BN(conv3×3(x))))) + shortcut(x)): ResNet-18's block."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, L: Layers):
        super().__init__()
        self.conv1 = L.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = L.BatchNorm2d(out_channels)
        self.conv2 = L.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = L.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:  # match the map and channels to add
            self.shortcut = nn.Sequential(
                L.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), L.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))  # the residual connection


class Bottleneck(nn.Module):
    """ResNeXt's block: 1×1 to `width` channels, a grouped 3×3, 1×1 to `out_channels`, plus the shortcut."""

    def __init__(self, in_channels: int, width: int, out_channels: int, groups: int, stride: int, L: Layers):
        super().__init__()
        self.conv1 = L.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = L.BatchNorm2d(width)
        self.conv2 = L.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = L.BatchNorm2d(width)
        self.conv3 = L.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = L.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                L.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), L.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))  # `groups` separate convolutions side by side
        y = self.bn3(self.conv3(y))
        return torch.relu(y + self.shortcut(x))


def stem(in_channels: int, out_channels: int, L: Layers) -> nn.Sequential:
    """3×3 convolution, batch norm, ReLU at full resolution: (B, in, H, W) → (B, out, H, W)."""
    return nn.Sequential(
        L.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), L.BatchNorm2d(out_channels), nn.ReLU()
    )


def resnet(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """ResNet-18's layout (two basic blocks per stage) at small widths:
    (B, in_channels, H, W) images → (B, num_classes) logits."""
    widths, strides = (16, 32, 64, 128), (1, 2, 2, 2)
    stages, c = [], widths[0]
    for width, stride in zip(widths, strides):
        stages.append(nn.Sequential(BasicBlock(c, width, stride, L), BasicBlock(width, width, 1, L)))
        c = width
    return nn.Sequential(
        stem(in_channels, widths[0], L),  # (B, 16, 28, 28)
        *stages,  # (B, 16, 28, 28) → (B, 32, 14, 14) → (B, 64, 7, 7) → (B, 128, 4, 4)
        L.GlobalAvgPool2d(), nn.Flatten(),
        nn.Linear(c, num_classes),
    )  # fmt: skip


def resnext(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """ResNeXt: residual bottlenecks with grouped 3×3 convolutions;
    (B, in_channels, H, W) images → (B, num_classes) logits."""
    groups = 16
    plan = ((64, 64, 2), (128, 128, 2), (256, 256, 2))  # (width = 16 groups × group width, out channels, stride)
    stages, c = [], 32
    for width, out, stride in plan:
        stages.append(
            nn.Sequential(Bottleneck(c, width, out, groups, stride, L), Bottleneck(out, width, out, groups, 1, L))
        )
        c = out
    return nn.Sequential(
        stem(in_channels, 32, L),  # (B, 32, 28, 28)
        *stages,  # (B, 64, 14, 14) → (B, 128, 7, 7) → (B, 256, 4, 4)
        L.GlobalAvgPool2d(), nn.Flatten(),
        nn.Linear(c, num_classes),
    )  # fmt: skip


ARCHITECTURES = [
    Architecture(
        "resnet",
        resnet,
        "residual connections: each block learns a correction added to its input (ResNet-18 layout, 2015)",
        recipe={"epochs": 16, "lr": 4e-3, **CPU_RECIPE},
        textbook=Textbook(96, (0.90, 0.92)),
    ),
    Architecture(
        "resnext",
        resnext,
        "grouped convolutions: many thin parallel paths inside a residual bottleneck (ResNeXt, 2016)",
        recipe={"epochs": 8, "lr": 4e-3, **CPU_RECIPE},
        textbook=Textbook(96),
    ),
]
