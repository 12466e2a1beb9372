"""RegNet ("Designing Network Design Spaces", 2020): networks designed by a rule, not by hand.

What it introduced: instead of hand-picking each stage, search a design space ("AnyNet": a stem,
stages of ResNeXt-style blocks, a head) for simple rules that good networks follow. RegNetX's rule
sets the width of block j on a line, w0 + wa·j, snapped to a geometric grid of ratio wm and to a
multiple of the group width; blocks of equal width form a stage, and each stage halves the map.
`regnet_widths` computes this; the numbers below (w0 = 24, wa = 24, wm = 2, 7 blocks, group width
8) give four stages of 24, 48, 96 and 192 channels (1, 1, 3 and 2 blocks), each first block halving
the map: 28 → 14 → 7 → 4 → 2 (32×32: 16, 8, 4, 2).
"""

from __future__ import annotations

import math

from torch import nn

from ..layers import Layers
from .base import CPU_RECIPE, Architecture, Textbook
from .resnet import Bottleneck, stem

W0, WA, WM, DEPTH, GROUP_WIDTH = 24, 24.0, 2.0, 7, 8


def regnet_widths(w0: int, wa: float, wm: float, depth: int, group_width: int) -> list[tuple[int, int]]:
    """[(width, blocks)] per stage from RegNetX's quantised linear rule."""
    widths = []
    for j in range(depth):
        u = w0 + wa * j  # the line
        s = round(math.log(u / w0) / math.log(wm))  # its nearest step on the geometric grid
        w = w0 * wm**s
        widths.append(int(round(w / group_width) * group_width))  # a whole number of groups
    stages: list[tuple[int, int]] = []
    for w in widths:
        if stages and stages[-1][0] == w:
            stages[-1] = (w, stages[-1][1] + 1)
        else:
            stages.append((w, 1))
    return stages


def regnet(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """RegNet: stages whose widths follow the quantised linear rule;
    (B, in_channels, H, W) images → (B, num_classes) logits."""
    stages, c = [], W0
    for width, blocks in regnet_widths(W0, WA, WM, DEPTH, GROUP_WIDTH):
        layers = [
            Bottleneck(c if i == 0 else width, width, width, width // GROUP_WIDTH, 2 if i == 0 else 1, L)
            for i in range(blocks)
        ]  # an X block: bottleneck ratio 1, groups of GROUP_WIDTH channels; the first halves the map
        stages.append(nn.Sequential(*layers))
        c = width
    return nn.Sequential(
        stem(in_channels, W0, L),  # (B, 24, 28, 28)
        *stages,  # (B, 24, 14, 14) → (B, 48, 7, 7) → (B, 96, 4, 4) → (B, 192, 2, 2)
        L.GlobalAvgPool2d(), nn.Flatten(),
        nn.Linear(c, num_classes),
    )  # fmt: skip


ARCHITECTURES = [
    Architecture(
        "regnet",
        regnet,
        "a design space searched for rules: stage widths from a quantised line (RegNetX, 2020)",
        recipe={"epochs": 10, "lr": 4e-3, **CPU_RECIPE},
        textbook=Textbook(96),
    )
]
