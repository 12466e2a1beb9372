"""What every model file needs: the `Architecture` record and `flat_size` for dense heads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..layers import Layers

# What the larger networks train with on a CPU (measured, benchmarks/zoo.py and docs/zoo.md): random
# shifts of 2 pixels and flips (applied only where the labels allow: clothes, not digits), bf16
# autocast and channels-last memory (together 2.2–2.4× the float32 speed of VGG, ResNet, GoogLeNet
# on this AMX CPU; lenet-modern got slower with channels-last, so LeNet's recipes keep neither).
CPU_RECIPE = {"shift": 2, "flip": True, "amp": True, "channels_last": True}

Builder = Callable[[int, int, tuple[int, int], Layers], nn.Module]  # (classes, channels, (H, W), layers)


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Builder
    idea: str  # what it introduced, in one line
    recipe: dict = field(default_factory=dict)  # TrainConfig options it trains best with
    textbook: tuple[str, str] | None = None  # the textbook's (input size, Fashion-MNIST test accuracy), 10 epochs


def flat_size(features: nn.Module, in_channels: int, input_size: tuple[int, int]) -> int:
    """How many values `features` produce for one (in_channels, *input_size) image (sizes a dense head)."""
    p = next(features.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")  # meta while `smallest_input` probes
    was = features.training
    with torch.no_grad():
        out = features.eval()(torch.zeros(1, in_channels, *input_size, device=device))
    features.train(was)
    if out.numel() == 0:
        raise ValueError("no output: the input is too small")
    return out.numel()
