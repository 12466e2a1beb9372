"""The network the tutorial argues against (§1): a multilayer perceptron on flattened pixels.

The multilayer perceptron introduced learned hidden layers (backpropagation, 1986) long before
convolution. The tutorial opens by saying that an image flattened into a vector for a fully connected network
needs too many parameters, costs too much computation and cannot pick out local features. `mlp` is
that network as d2l builds it ("Dive into Deep Learning", the concise MLP): flatten, one dense
layer of 256 hidden units, ReLU, one output per class. It has no convolution and no pooling, so
every pixel is wired to every hidden unit and the order of the pixels means nothing to it
(`convlab lab locality` proves that bit for bit). For a 28×28 digit that is 784·256 + 256 weights
in the first layer alone, 203,530 in all.
"""

from __future__ import annotations

from torch import nn

from ..layers import Layers
from .base import Architecture

HIDDEN = 256  # d2l's hidden width


def mlp(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """Flatten, dense 256, ReLU, dense to the classes: (B, C, H, W) → (B, classes)."""
    h, w = input_size
    return nn.Sequential(
        nn.Flatten(),  # (B, C·H·W)
        nn.Linear(in_channels * h * w, HIDDEN), nn.ReLU(),  # (B, 256)
        nn.Linear(HIDDEN, num_classes),  # (B, classes)
    )  # fmt: skip


ARCHITECTURES = [
    Architecture(
        "mlp",
        mlp,
        "a fully connected network on flattened pixels: what the tutorial's §1 argues against",
        recipe={"shift": 0},
    ),
]
