"""LeNet variants by name.

`lenet` is the tutorial's LeNet-5 layer for layer (§6): 5×5 convolutions with 6 and 16
channels (padding 2 on the first), sigmoid, 2×2 average pooling, dense 120/84/classes.
`lenet-modern` keeps the skeleton and swaps in batch normalisation, ReLU and max pooling.
Both are plain `nn.Sequential`s, so a learner can walk them layer by layer, and both run
on PyTorch's ops or convlab's own (`ops="torch"|"convlab"`) with the same weights.
"""

from __future__ import annotations

from torch import nn

from .errors import UserError, unknown_name
from .layers import layer_set
from .ops import conv_output_size


def _features_size(input_size: tuple[int, int]) -> tuple[int, int]:
    """Spatial size after conv(5, pad 2) → pool 2 → conv(5) → pool 2."""
    out = []
    for n in input_size:
        n = conv_output_size(n, 5, 2)
        n = conv_output_size(n, 2, 0, 2)
        n = conv_output_size(n, 5, 0) if n >= 5 else 0
        n = conv_output_size(n, 2, 0, 2) if n >= 2 else 0
        out.append(n)
    if min(out) <= 0:
        raise UserError(f"input size {input_size[0]}×{input_size[1]} is too small for LeNet; use at least 12×12")
    return out[0], out[1]


def lenet(
    num_classes: int = 10, in_channels: int = 1, input_size: tuple[int, int] = (28, 28), ops: str = "torch"
) -> nn.Sequential:
    """The tutorial's LeNet-5: sigmoid activations and average pooling."""
    Conv, _, AvgPool, _ = layer_set(ops)
    h, w = _features_size(input_size)
    return nn.Sequential(
        Conv(in_channels, 6, kernel_size=5, padding=2),
        nn.Sigmoid(),  # (B, 6, 28, 28)
        AvgPool(kernel_size=2, stride=2),  # (B, 6, 14, 14)
        Conv(6, 16, kernel_size=5),
        nn.Sigmoid(),  # (B, 16, 10, 10)
        AvgPool(kernel_size=2, stride=2),  # (B, 16, 5, 5)
        nn.Flatten(),  # (B, 400)
        nn.Linear(16 * h * w, 120),
        nn.Sigmoid(),
        nn.Linear(120, 84),
        nn.Sigmoid(),
        nn.Linear(84, num_classes),
    )  # (B, classes)


def lenet_modern(
    num_classes: int = 10, in_channels: int = 1, input_size: tuple[int, int] = (28, 28), ops: str = "torch"
) -> nn.Sequential:
    """LeNet's skeleton with batch normalisation, ReLU and max pooling."""
    Conv, MaxPool, _, BatchNorm = layer_set(ops)
    h, w = _features_size(input_size)
    return nn.Sequential(
        Conv(in_channels, 6, kernel_size=5, padding=2, bias=False),
        BatchNorm(6),
        nn.ReLU(),
        MaxPool(kernel_size=2, stride=2),  # (B, 6, 14, 14)
        Conv(6, 16, kernel_size=5, bias=False),
        BatchNorm(16),
        nn.ReLU(),
        MaxPool(kernel_size=2, stride=2),  # (B, 16, 5, 5)
        nn.Flatten(),
        nn.Linear(16 * h * w, 120, bias=False),
        nn.BatchNorm1d(120),
        nn.ReLU(),
        nn.Linear(120, 84, bias=False),
        nn.BatchNorm1d(84),
        nn.ReLU(),
        nn.Linear(84, num_classes),
    )


MODELS = {"lenet": lenet, "lenet-modern": lenet_modern}


def build_model(
    name: str, num_classes: int = 10, in_channels: int = 1, input_size: tuple[int, int] = (28, 28), ops: str = "torch"
) -> nn.Sequential:
    """Construct a registered model by name."""
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    if ops not in ("torch", "convlab"):
        raise unknown_name("ops backend", ops, ("torch", "convlab"))
    if num_classes < 2:
        raise UserError(f"a classifier needs at least 2 classes, got {num_classes}")
    return MODELS[name](num_classes, in_channels, tuple(input_size), ops)
