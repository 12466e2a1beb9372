"""AlexNet ("ImageNet Classification with Deep Convolutional Neural Networks", 2012): the network
that made deep learning win.

What it introduced over LeNet: depth (five convolutions instead of two), ReLU instead of sigmoid,
overlapping 3×3 max pooling with stride 2, dropout in a wide dense head, and learning from a
large dataset with augmentation. The original reads 224×224 photos with an 11×11 stride-4 first
convolution; at 28×28 that would leave nothing to pool, so this one keeps the shape of the
network — a large-window first convolution, two overlapping pools, three 3×3 convolutions, a
third pool, two dropout-regularised dense layers — with a 5×5 first convolution at stride 1 and
channel counts a CPU trains in minutes: 28 → 13 → 6 → 2 spatially (32×32 inputs: 32 → 15 → 7 → 3).
"""

from __future__ import annotations

from torch import nn

from ..layers import Layers
from .base import CPU_RECIPE, Architecture, Textbook, dense_head, flat_size


def alexnet(num_classes: int, in_channels: int, input_size: tuple[int, int], L: Layers) -> nn.Sequential:
    """AlexNet sized for small images: (B, in_channels, H, W) images → (B, num_classes) logits."""
    features = nn.Sequential(
        L.Conv2d(in_channels, 48, kernel_size=5, padding=2), nn.ReLU(),  # (B, 48, 28, 28)
        L.MaxPool2d(kernel_size=3, stride=2),  # (B, 48, 13, 13): overlapping windows
        L.Conv2d(48, 128, kernel_size=5, padding=2), nn.ReLU(),  # (B, 128, 13, 13)
        L.MaxPool2d(kernel_size=3, stride=2),  # (B, 128, 6, 6)
        L.Conv2d(128, 192, kernel_size=3, padding=1), nn.ReLU(),
        L.Conv2d(192, 192, kernel_size=3, padding=1), nn.ReLU(),
        L.Conv2d(192, 128, kernel_size=3, padding=1), nn.ReLU(),  # (B, 128, 6, 6)
        L.MaxPool2d(kernel_size=3, stride=2),  # (B, 128, 2, 2)
        nn.Flatten(),  # (B, 512)
    )  # fmt: skip
    n = flat_size(features, in_channels, input_size)
    return nn.Sequential(*features, *dense_head(n, 1024, num_classes))  # (B, num_classes)


ARCHITECTURES = [
    Architecture(
        "alexnet",
        alexnet,
        "depth, ReLU, overlapping max pooling and dropout (AlexNet, 2012)",
        recipe={"epochs": 10, "lr": 2e-3, **CPU_RECIPE},
        textbook=Textbook(224, (0.88, 0.88)),
    )
]
