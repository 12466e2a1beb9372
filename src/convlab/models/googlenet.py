"""GoogLeNet ("Going Deeper with Convolutions", 2014): Inception blocks, several window sizes side by side.

What it introduced: instead of choosing one kernel size, an Inception block runs four branches in
parallel — a 1×1 convolution; 1×1 then 3×3; 1×1 then 5×5; a 3×3 max pool then 1×1 — and
concatenates their channels. The 1×1 convolutions before the larger windows shrink the channels
first, so the block stays cheap. The network is a stem of plain convolutions, stages of Inception
blocks separated by stride-2 max pools, and global average pooling into one dense layer.

Sized for 28×28: the stem keeps full resolution (no 7×7 stride-2 convolution or early pool, which
suit 224×224 photos), three stages of blocks at 14×14, 7×7 and 4×4 with about half the textbook's
channels (32×32: 16, 8, 4). Batch norm follows every convolution, as in GoogLeNet's later versions.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import Layers
from .base import CPU_RECIPE, Architecture, Textbook


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, L: Layers) -> nn.Sequential:
    """Convolution (same padding, no bias), batch norm, ReLU: (B, in, H, W) → (B, out, H, W)."""
    return nn.Sequential(
        L.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        L.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class Inception(nn.Module):
    """Four branches on the same input, concatenated: c1 + c3 + c5 + pool_proj output channels."""

    def __init__(self, in_channels: int, c1: int, c3: tuple[int, int], c5: tuple[int, int], pool_proj: int, L: Layers):
        super().__init__()
        self.b1 = conv_bn(in_channels, c1, 1, L)  # 1×1
        self.b2 = nn.Sequential(conv_bn(in_channels, c3[0], 1, L), conv_bn(c3[0], c3[1], 3, L))  # 1×1 → 3×3
        self.b3 = nn.Sequential(conv_bn(in_channels, c5[0], 1, L), conv_bn(c5[0], c5[1], 5, L))  # 1×1 → 5×5
        self.b4 = nn.Sequential(L.MaxPool2d(3, stride=1, padding=1), conv_bn(in_channels, pool_proj, 1, L))
        self.out_channels = c1 + c3[1] + c5[1] + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)  # (B, out, H, W)


# Each stage's Inception blocks as (c1, (c3 reduce, c3), (c5 reduce, c5), pool_proj); a block's
# input is the one before it's `out_channels`.
STAGES = (
    ((32, (48, 64), (8, 16), 16), (64, (64, 96), (16, 48), 32)),  # at 14×14
    ((96, (48, 104), (8, 24), 32), (80, (56, 112), (12, 32), 32)),  # at 7×7
    ((128, (80, 160), (16, 64), 64),),  # at 4×4
)
STEM = 64  # channels out of the stem


def inception_stages(in_channels: int, L: Layers) -> tuple[list[nn.Sequential], int]:
    """One `nn.Sequential` of Inception blocks per stage of `STAGES`, and the last block's channels."""
    stages, c = [], in_channels
    for widths in STAGES:
        blocks = []
        for c1, c3, c5, pool_proj in widths:
            blocks.append(Inception(c, c1, c3, c5, pool_proj, L))
            c = blocks[-1].out_channels
        stages.append(nn.Sequential(*blocks))
    return stages, c


def googlenet(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """GoogLeNet: stem, three stages of Inception blocks, global average pool;
    (B, in_channels, H, W) images → (B, num_classes) logits."""
    (stage3, stage4, stage5), c = inception_stages(STEM, L)
    return nn.Sequential(
        nn.Sequential(conv_bn(in_channels, 32, 3, L), conv_bn(32, STEM, 3, L)),  # stem: (B, 64, 28, 28)
        L.MaxPool2d(3, stride=2, padding=1),  # (B, 64, 14, 14)
        stage3,  # (B, 240, 14, 14)
        L.MaxPool2d(3, stride=2, padding=1),  # (B, 240, 7, 7)
        stage4,  # (B, 256, 7, 7)
        L.MaxPool2d(3, stride=2, padding=1),  # (B, 256, 4, 4)
        stage5,  # (B, 416, 4, 4)
        L.GlobalAvgPool2d(), nn.Flatten(), nn.Dropout(0.2),
        nn.Linear(c, num_classes),
    )  # fmt: skip


ARCHITECTURES = [
    Architecture(
        "googlenet",
        googlenet,
        "Inception blocks: 1×1, 3×3, 5×5 and pooling branches side by side, concatenated (GoogLeNet, 2014)",
        recipe={"epochs": 6, "lr": 4e-3, **CPU_RECIPE},
        textbook=Textbook(96, (0.85, 0.89)),
    )
]
